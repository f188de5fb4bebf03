#include "gen/lib/train_arch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "text/world_clip.h"
#include "world/render.h"

silt_status silt_train_category_weights_aux(const char *arch, const int weights[WORLD_CAT_COUNT], bool *is_default,
                                            char *aux, size_t n) {
    world_item probe;
    SILT_TRY(world_train_item(0, 0, weights, &probe));  // the range checks
    int def[WORLD_CAT_COUNT];
    world_train_weights(def);
    *is_default = !memcmp(def, weights, sizeof def);
    if (*is_default) return SILT_OK;
    snprintf(aux, n, "\"aux_category_weights\": [");
    for (int c = 0; c < WORLD_CAT_COUNT; c++) snprintf(aux + strlen(aux), n - strlen(aux), "%s%d", c ? ", " : "", weights[c]);
    snprintf(aux + strlen(aux), n - strlen(aux), "]");
    int total = 0;
    for (int c = 0; c < WORLD_CAT_COUNT; c++) total += weights[c];
    char desc[512] = "";
    for (int c = 0; c < WORLD_CAT_COUNT; c++)
        snprintf(desc + strlen(desc), sizeof desc - strlen(desc), "%s%s %.0f%%", c ? ", " : "",
                 world_category_name((world_category)c), 100.0 * weights[c] / total);
    silt_info("%s: train captions by category: %s", arch, desc);
    return SILT_OK;
}

// toy and clip have one size and no text encoder.
static silt_status no_opts(const char *arch, const silt_train_arch_opts *o) {
    if (o && o->ae_path) return SILT_FAIL(SILT_ERR_ARG, "%s: --ae is for --arch mmdit", arch);
    if (o && o->clip_path)
        return SILT_FAIL(SILT_ERR_ARG, "%s: --clip-model is for text-conditioned archs (mmdit, var)", arch);
    if (o && o->vq_path) return SILT_FAIL(SILT_ERR_ARG, "%s: --vq is for --arch var", arch);
    if (o && o->size && strcmp(o->size, "default"))
        return SILT_FAIL(SILT_ERR_ARG, "%s: --size %s: this arch has one size", arch, o->size);
    return SILT_OK;
}

static silt_status toy_create(uint64_t init_seed, const silt_train_arch_opts *o, silt_train_task *out) {
    SILT_TRY(no_opts("toy", o));
    silt_train_toy_config c = silt_train_toy_default_config();
    return silt_train_toy_create(&c, init_seed, out);
}

static silt_status clip_create(uint64_t init_seed, const silt_train_arch_opts *o, silt_train_task *out) {
    SILT_TRY(no_opts("clip", o));
    wclip_config c = wclip_default_config();
    c.img_cls = o && o->class_token;
    c.itm_layers = o ? o->itm_layers : 0;
    if (c.itm_layers && o->hard_negatives < 1)
        return SILT_FAIL(SILT_ERR_ARG, "clip: the judge head learns to rank a caption above its hard negatives: "
                                       "give --hard-negatives K >= 1 with --itm-layers");
    SILT_TRY(silt_train_clip_create(&c, init_seed, out));
    silt_status s = o ? silt_train_clip_set_hard_negatives(out, o->hard_negatives) : SILT_OK;
    if (!s && o && o->category_weights) s = silt_train_clip_set_category_weights(out, o->category_weights);
    if (!s && o && o->samples) s = silt_train_clip_set_samples(out, o->samples, o->sample_pairs > 0 ? o->sample_pairs : 16,
                                                         o->sample_mirrors);
    if (s) silt_train_task_free(out);
    return s;
}

static silt_status mmdit_create_task(uint64_t init_seed, const silt_train_arch_opts *o, silt_train_task *out) {
    if (o && o->vq_path) return SILT_FAIL(SILT_ERR_ARG, "mmdit: --vq is for --arch var (a latent MMDiT takes --ae)");
    silt_status s = silt_train_mmdit_create_ex(o ? o->clip_path : NULL, o ? o->ae_path : NULL, o ? o->size : NULL,
                                               o && o->relation_channel ? WCLIP_CTX_RELATION
                                               : o && o->clip_only      ? WCLIP_CTX_CLIP
                                                                        : WCLIP_CTX_WORDS,
                                               init_seed, out);
    if (!s && o && o->repa_weight > 0) {
        s = silt_train_mmdit_set_repa(out, o->repa_weight, o->repa_layer, init_seed);
        if (s) silt_train_task_free(out);
    }
    if (!s && o && o->time_shift > 0 && o->time_shift != 1.0) {
        s = silt_train_mmdit_set_time_shift(out, o->time_shift);
        if (s) silt_train_task_free(out);
    }
    if (!s && o && o->pure_noise > 0) {
        s = silt_train_mmdit_set_pure_noise(out, o->pure_noise);
        if (s) silt_train_task_free(out);
    }
    if (!s && o && o->category_weights) {
        s = silt_train_mmdit_set_category_weights(out, o->category_weights);
        if (s) silt_train_task_free(out);
    }
    if (!s && o && o->samples) {
        s = silt_train_mmdit_set_samples(out, o->samples, o->samples_fraction > 0 ? o->samples_fraction : 0.5);
        if (s) silt_train_task_free(out);
    }
    if (!s && o && o->dpo) {
        s = silt_train_mmdit_set_dpo(out, o->dpo, o->dpo_ref, o->dpo_beta, o->dpo_cfg);
        if (s) silt_train_task_free(out);
    }
    return s;
}

static silt_status vq_create_task(uint64_t init_seed, const silt_train_arch_opts *o, silt_train_task *out) {
    if (o && o->clip_path) return SILT_FAIL(SILT_ERR_ARG, "vq: --clip-model is for text-conditioned archs (mmdit, var)");
    if (o && o->vq_path) return SILT_FAIL(SILT_ERR_ARG, "vq: --vq is for --arch var");
    if (o && o->ae_path) return SILT_FAIL(SILT_ERR_ARG, "vq: --ae is for --arch mmdit");
    return silt_train_vq_create(o ? o->size : NULL, init_seed, out);
}

static silt_status ae_create_task(uint64_t init_seed, const silt_train_arch_opts *o, silt_train_task *out) {
    if (o && o->clip_path) return SILT_FAIL(SILT_ERR_ARG, "ae: --clip-model is for text-conditioned archs (mmdit, var)");
    if (o && o->ae_path) return SILT_FAIL(SILT_ERR_ARG, "ae: --ae is for --arch mmdit (ae starts from --vq)");
    silt_status s = silt_train_ae_create(o ? o->vq_path : NULL, o ? o->size : NULL, init_seed, out);
    if (!s && o && o->decoder_only) {
        s = silt_train_ae_freeze_encoder(out);
        if (s) silt_train_task_free(out);
    }
    if (!s && o && o->object_weight > 0) {
        s = silt_train_ae_set_object_weight(out, o->object_weight);
        if (s) silt_train_task_free(out);
    }
    return s;
}

static silt_status var_create_task(uint64_t init_seed, const silt_train_arch_opts *o, silt_train_task *out) {
    if (o && o->ae_path) return SILT_FAIL(SILT_ERR_ARG, "var: --ae is for --arch mmdit");
    return silt_train_var_create(o ? o->vq_path : NULL, o ? o->clip_path : NULL, o ? o->size : NULL, init_seed, out);
}

// One line per trainable architecture.
static const silt_train_arch archs[] = {
    {"toy", "small MLP regressing a fixed random teacher network (tests, smoke runs)", toy_create, false},
    {"clip", "world-CLIP: small text transformer + ViT, contrastive on world train captions and renders", clip_create, true},
    {"mmdit", "world MMDiT (SD3-style, 32 px pixel space, or with --ae the 16 x 8 x 8 latent of a world "
              "autoencoder): rectified flow on world train renders, conditioned on a frozen world-CLIP (--clip-model), "
              "10% caption dropout", mmdit_create_task, true},
    {"vq", "world VAR tokenizer: multi-scale residual VQ-VAE (32 px -> 1,2,3,4,6,8 token maps), L2 + codebook + "
           "commitment loss, straight-through", vq_create_task, true},
    {"ae", "world autoencoder: the tokenizer's conv encoder/decoder without the quantiser (32 px -> 16 x 8 x 8), "
           "L2 on a noised latent; --vq warm-starts from a tokenizer", ae_create_task, true},
    {"var", "world VAR: next-scale transformer on a frozen tokenizer (--vq) and world-CLIP (--clip-model), "
            "cross-attention to the text, 10% caption dropout", var_create_task, true},
};
static const int n_archs = (int)(sizeof archs / sizeof *archs);

int silt_train_arch_count(void) { return n_archs; }

const silt_train_arch *silt_train_arch_at(int i) { return i >= 0 && i < n_archs ? &archs[i] : NULL; }

const silt_train_arch *silt_train_arch_find(const char *name) {
    for (int i = 0; name && i < n_archs; i++)
        if (!strcmp(archs[i].name, name)) return &archs[i];
    return NULL;
}

char *silt_train_arch_list(char *buf, size_t n) {
    if (!n) return buf;
    buf[0] = 0;
    for (int i = 0; i < n_archs; i++) {
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, "%s%s", i ? ", " : "", archs[i].name);
    }
    return buf;
}

silt_status silt_train_render_batch(uint64_t data_seed, int64_t j0, int B, int S, float *x, world_item *items) {
    return silt_train_render_batch_weighted(data_seed, j0, B, S, NULL, x, items, NULL);
}

silt_status silt_train_render_batch_weighted(uint64_t data_seed, int64_t j0, int B, int S, const int *weights, float *x,
                                             world_item *items, float *object_mask) {
    if (!x || B < 0 || S < 1 || j0 < 0) return SILT_FAIL(SILT_ERR_ARG, "render batch: bad arguments");
    const int64_t npix = 3 * (int64_t)S * S, plane = (int64_t)S * S;
    silt_status first = SILT_OK;
    int first_i = B;
    char msg[512] = "";
#pragma omp parallel if (B > 1)
    {
        // The objects' coverage comes from the same render: one buffer per thread and batch.
        float *cover = object_mask ? malloc(sizeof(float) * (size_t)(WORLD_MAX_OBJECTS * plane)) : NULL;
#pragma omp for schedule(dynamic, 1)
    for (int i = 0; i < B; i++) {
        world_item it;
        float *xi = x + i * npix;
        silt_status s = object_mask && !cover ? SILT_FAIL(SILT_ERR_OOM, "render batch: out of memory for the masks")
                                              : world_train_item(data_seed, j0 + i, weights, &it);
        if (!s) s = world_render(&it.scene, S, xi, NULL, cover);
        if (s) {  // the message is thread-local: keep the first item's
#pragma omp critical(silt_train_render_batch)
            if (i < first_i) {
                first_i = i;
                first = s;
                snprintf(msg, sizeof msg, "%s", silt_last_error_message());
            }
            continue;
        }
        if (object_mask) {
            float *mi = object_mask + i * plane;
            for (int64_t k = 0; k < plane; k++) {
                float v = 0;
                for (int o = 0; o < it.scene.n_objects; o++) v = fmaxf(v, cover[o * plane + k]);
                mi[k] = v;
            }
        }
        for (int64_t k = 0; k < npix; k++) xi[k] = 2.0f * xi[k] - 1.0f;  // render in [0, 1] -> [-1, 1]
        if (items) items[i] = it;
    }
        free(cover);
    }
    if (first != SILT_OK) return SILT_FAIL(first, "train item %lld: %s", (long long)(j0 + first_i), msg);
    return SILT_OK;
}
