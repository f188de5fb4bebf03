// The world autoencoder's training task and export (see train_arch.h): the
// world tokenizer's conv encoder and decoder without the quantiser, a
// continuous 8 x 8 x Cvae latent for a latent world MMDiT.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/ops.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "gen/lib/train_arch.h"
#include "gen/lib/world_latent.h"
#include "world/render.h"
#include "world/suites.h"

enum { PURPOSE_LATENT_NOISE = 4 };

typedef struct ae_task {
    var_vqvae *vq;
    bool decoder_only;  // silt_train_ae_freeze_encoder: the encoder side stays as it started
    float object_weight;  // silt_train_ae_set_object_weight: extra weight of object pixels; 0: plain MSE
    char config[1024];
} ae_task;

// The codebook and the phi convs are only the quantiser's: no loss term
// reaches them, so they get zero gradients, and they are exempt from weight
// decay so that they stay as initialised (the file stays a loadable tokenizer).
static bool quantiser_only(const char *name) { return !strncmp(name, "quantize.", 9); }

// The encoder side, render -> latent: what a latent MMDiT was trained on.
static bool encoder_side(const char *name) { return !strncmp(name, "encoder.", 8) || !strncmp(name, "quant_conv.", 11); }

static void task_destroy(void *self) {
    ae_task *t = self;
    if (!t) return;
    var_vq_free(t->vq);
    free(t);
}

static int task_n_params(void *self) { return var_vq_param_count(((ae_task *)self)->vq); }

static silt_tensor *task_param(void *self, int i, const char **name, bool *no_decay) {
    ae_task *t = self;
    silt_tensor *p = var_vq_param(t->vq, i, name);
    // A frozen encoder gets zero gradients (no graph nodes reach it), so
    // AdamW leaves it bit-identical, provided it is not decayed either.
    if (p) *no_decay = var_vq_param_no_decay(*name, p) || quantiser_only(*name) || (t->decoder_only && encoder_side(*name));
    return p;
}

static silt_status task_to_device(void *self, silt_device device) {
    return var_vq_to_device(((ae_task *)self)->vq, device);
}

static silt_tensor *task_loss(void *self, silt_graph *g, uint64_t data_seed, int64_t batch_index, int B) {
    ae_task *t = self;
    const int S = SILT_TRAIN_AE_IMAGE;
    const int64_t npix = 3 * (int64_t)S * S;
    if (batch_index < 0 || B < 1) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "ae: batch %lld of size %d", (long long)batch_index, B));
        return NULL;
    }
    silt_arena *ha = silt_graph_arena(g);
    float *hx = silt_arena_alloc(ha, (size_t)(B * npix) * sizeof *hx);
    if (!hx) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_OOM, "ae: out of memory for a batch"));
        return NULL;
    }
    float *mask = NULL;
    if (t->object_weight > 0) {
        mask = silt_arena_alloc(ha, (size_t)B * S * S * sizeof *mask);
        if (!mask) {
            silt_graph_fail(g, SILT_FAIL(SILT_ERR_OOM, "ae: out of memory for a batch"));
            return NULL;
        }
    }
    silt_status s = silt_train_render_batch_weighted(data_seed, batch_index * B, B, S, NULL, hx, NULL, mask);
    if (s) { silt_graph_fail(g, s); return NULL; }
    silt_tensor *img = silt_graph_upload(g, SILT_F32, 4, (const int64_t[]){B, 3, S, S}, hx);
    // Decoder-only: the encoder runs without a tape (torch.no_grad), so no
    // gradient reaches it.
    const bool grad = silt_graph_grad_enabled(g);
    if (t->decoder_only) silt_graph_set_grad(g, false);
    silt_tensor *f = var_vq_encode_features(g, t->vq, img);
    silt_graph_set_grad(g, grad);
    if (!f) return NULL;
    // The decoder sees f + sigma * noise: it learns to draw clean shapes from
    // a latent that is only close (as a sampler's output is), and the penalty
    // below keeps the encoder from outscaling the noise.
    int64_t nf = silt_numel(f);
    float *hn = silt_arena_alloc(ha, (size_t)nf * sizeof *hn);
    if (!hn) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_OOM, "ae: out of memory for the latent noise"));
        return NULL;
    }
    const int64_t per = nf / B;
    const uint64_t seed_n = data_seed ^ (0x9E3779B97F4A7C15ull * (PURPOSE_LATENT_NOISE + 1));
    for (int i = 0; i < B; i++) {
        silt_rng_normal(hn + i * per, per, seed_n, (uint64_t)(batch_index * B + i), 0);
        for (int64_t k = 0; k < per; k++) hn[i * per + k] *= SILT_TRAIN_AE_LATENT_NOISE;
    }
    silt_tensor *noise = silt_graph_upload(g, SILT_F32, f->ndim, f->shape, hn);
    silt_tensor *rec = var_vq_fhat_to_img(g, t->vq, silt_add(g, f, noise), false);
    silt_tensor *rec_loss = NULL;
    if (t->object_weight > 0) {
        float *hw = silt_arena_alloc(ha, (size_t)(B * npix) * sizeof *hw);
        if (!hw) {
            silt_graph_fail(g, SILT_FAIL(SILT_ERR_OOM, "ae: out of memory for the loss weights"));
            return NULL;
        }
        double wsum = 0;
        s = silt_ae_object_weights(mask, B, t->object_weight, hw, &wsum);
        if (s) { silt_graph_fail(g, s); return NULL; }
        // sum(w d^2) / sum(w): a weighted mean, on the plain MSE's scale.
        silt_tensor *wt = silt_graph_upload(g, SILT_F32, 4, (const int64_t[]){B, 3, S, S}, hw);
        silt_tensor *d = silt_sub(g, rec, img);
        rec_loss = silt_scale(g, silt_mean(g, silt_mul(g, silt_mul(g, d, d), wt)), (float)((double)(B * npix) / wsum));
    } else {
        rec_loss = silt_mse_loss(g, rec, img);
    }
    silt_tensor *pen = silt_scale(g, silt_mean(g, silt_mul(g, f, f)), SILT_TRAIN_AE_LATENT_PENALTY);
    // The penalty only moves the encoder: a decoder-only loss is the reconstruction.
    silt_tensor *loss = t->decoder_only ? rec_loss : silt_add(g, rec_loss, pen);
    if (loss && batch_index % 250 == 0 && rec_loss->device == SILT_CPU)
        silt_info("ae: batch %lld: reconstruction %.5f, latent mean square %.4f", (long long)batch_index,
                  (double)silt_f32(rec_loss)[0], (double)silt_f32(pen)[0] / SILT_TRAIN_AE_LATENT_PENALTY);
    return loss;
}

// The object mask of each render (the union of its objects' coverage), grown
// by one pixel so that the edges and the background right around an object
// count too: small crosses and squares come back as blobs under the plain
// MSE, where their few pixels weigh nothing against busy backgrounds.
silt_status silt_ae_object_weights(const float *object_mask, int B, float object_weight, float *w, double *wsum) {
    if (!object_mask || B < 1 || !(object_weight >= 0) || !w || !wsum)
        return SILT_FAIL(SILT_ERR_ARG, "ae object weights: bad arguments");
    enum { S = SILT_TRAIN_AE_IMAGE };
    double total = 0;
    for (int i = 0; i < B; i++) {
        const float *m = object_mask + (size_t)i * S * S;
        float *wi = w + (size_t)i * 3 * S * S;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                float v = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int yy = y + dy, xx = x + dx;
                        if (yy >= 0 && yy < S && xx >= 0 && xx < S) v = fmaxf(v, m[yy * S + xx]);
                    }
                float wv = 1.0f + object_weight * v;
                for (int c = 0; c < 3; c++) wi[(size_t)c * S * S + y * S + x] = wv;
                total += 3.0 * wv;
            }
    }
    *wsum = total;
    return SILT_OK;
}

silt_status silt_train_ae_set_object_weight(silt_train_task *task, double weight) {
    if (!task || !task->self || !task->name || strcmp(task->name, "ae"))
        return SILT_FAIL(SILT_ERR_ARG, "ae: object weight: not an ae task");
    if (!(weight >= 0 && weight <= 1000)) return SILT_FAIL(SILT_ERR_ARG, "ae: object weight %g (0..1000)", weight);
    ae_task *t = task->self;
    if (t->object_weight > 0) return SILT_FAIL(SILT_ERR_ARG, "ae: object weight: already set");
    if (weight == 0) return SILT_OK;
    char aux[64];
    snprintf(aux, sizeof aux, "\"aux_object_weight\": %.9g", weight);
    SILT_TRY(silt_train_config_add_aux(t->config, sizeof t->config, aux, "ae: object weight"));
    t->object_weight = (float)weight;
    silt_info("ae: object pixels (and a 1 px border) weigh %g times the background in the reconstruction loss",
              1.0 + weight);
    return SILT_OK;
}

silt_status silt_train_ae_create(const char *init_path, const char *size, uint64_t init_seed, silt_train_task *out) {
    if (!out) return SILT_FAIL(SILT_ERR_ARG, "ae: NULL out");
    var_vq_config c;
    SILT_TRY(silt_train_vq_preset(size, &c));
    ae_task *t = calloc(1, sizeof *t);
    if (!t) return SILT_FAIL(SILT_ERR_OOM, "ae: out of memory");
    silt_status s = var_vq_create(&c, init_seed, &t->vq);
    if (!s && var_vq_config_json(&c, t->config, sizeof t->config) >= (int)sizeof t->config)
        s = SILT_FAIL(SILT_ERR_ARG, "ae: config JSON too long");
    // Optional warm start from a tokenizer of the same shape (its conv nets):
    // the world tokenizer's encoder and decoder already draw the world.
    var_vqvae *init = NULL;
    if (!s && init_path) {
        char path[4096];
        s = silt_train_resolve_path(init_path, path, sizeof path, "initial tokenizer");
        if (!s) s = var_vq_load_file(path, &init);
        // GroupNorm's group count is not in the shapes: a file with other
        // groups would normalise differently under the same weights.
        if (!s && var_vq_get_config(init)->groups != c.groups)
            s = SILT_FAIL(SILT_ERR_FORMAT, "ae: %s normalises with %d groups, the %s preset with %d", path,
                          var_vq_get_config(init)->groups, size ? size : "default", c.groups);
        for (int i = 0; !s && i < var_vq_param_count(t->vq); i++) {
            const char *name = NULL;
            silt_tensor *dst = var_vq_param(t->vq, i, &name);
            silt_tensor *src = var_vq_find_param(init, name);
            bool same = src && src->ndim == dst->ndim;
            for (int d = 0; same && d < dst->ndim; d++) same = src->shape[d] == dst->shape[d];
            if (!same)
                s = SILT_FAIL(SILT_ERR_FORMAT, "ae: %s has no tensor %s of the %s tokenizer's shape", path, name,
                              size ? size : "default");
            else
                memcpy(dst->data, src->data, silt_nbytes(dst));
        }
        var_vq_free(init);
    }
    if (s) { task_destroy(t); return s; }
    silt_info("ae: %s autoencoder, latent %d x %d x %d, %d parameter tensors%s%s", size ? size : "default",
              c.z_channels, c.patch_nums[c.n_scales - 1], c.patch_nums[c.n_scales - 1], var_vq_param_count(t->vq),
              init_path ? ", initialised from " : "", init_path ? init_path : "");
    *out = (silt_train_task){.self = t, .n_params = task_n_params, .param = task_param, .loss = task_loss,
                             .images_per_batch = NULL, .name = "ae", .config = t->config, .destroy = task_destroy,
                             .to_device = task_to_device};
    return SILT_OK;
}

silt_status silt_train_ae_freeze_encoder(silt_train_task *task) {
    if (!task || !task->self || !task->name || strcmp(task->name, "ae"))
        return SILT_FAIL(SILT_ERR_ARG, "ae: freeze encoder: not an ae task");
    ae_task *t = task->self;
    if (t->decoder_only) return SILT_OK;
    SILT_TRY(silt_train_config_add_aux(t->config, sizeof t->config, "\"aux_decoder_only\": true", "ae: decoder only"));
    t->decoder_only = true;
    silt_info("ae: decoder only: the encoder and quant_conv stay as they start, so the latent space does not move");
    return SILT_OK;
}

silt_status silt_ae_latent_stats(const var_vqvae *ae, int n, double *mean, double *std) {
    if (!ae || n < 1 || !mean || !std) return SILT_FAIL(SILT_ERR_ARG, "ae latent stats: bad argument");
    const int S = SILT_TRAIN_AE_IMAGE, B = 32;
    const int64_t npix = 3 * (int64_t)S * S;
    float *x = malloc(sizeof(float) * (size_t)(B * npix));
    silt_graph *g = silt_graph_create(0);
    if (!x || !g) {
        free(x);
        silt_graph_free(g);
        return SILT_FAIL(SILT_ERR_OOM, "ae latent stats: out of memory");
    }
    silt_graph_set_grad(g, false);
    double sum = 0, sq = 0;
    int64_t cnt = 0;
    silt_status s = SILT_OK;
    for (int j0 = 0; j0 < n && !s; j0 += B) {
        int b = n - j0 < B ? n - j0 : B;
        s = silt_train_render_batch(SILT_AE_STATS_SEED, j0, b, SILT_TRAIN_AE_IMAGE, x, NULL);
        if (s) break;
        silt_graph_reset(g);
        silt_tensor *img = silt_graph_upload(g, SILT_F32, 4, (const int64_t[]){b, 3, S, S}, x);
        silt_tensor *f = var_vq_encode_features(g, ae, img);
        if (!f) { s = silt_graph_status(g); break; }
        const float *v = silt_f32(f);
        for (int64_t k = 0; k < silt_numel(f); k++) sum += v[k], sq += (double)v[k] * v[k];
        cnt += silt_numel(f);
    }
    free(x);
    silt_graph_free(g);
    if (s) return s;
    *mean = sum / (double)cnt;
    *std = sqrt(fmax(sq / (double)cnt - *mean * *mean, 1e-12));
    return SILT_OK;
}

silt_status silt_train_ae_export(const char *ckpt_or_dir, const char *out_path) {
    if (!ckpt_or_dir || !out_path) return SILT_FAIL(SILT_ERR_ARG, "ae export: NULL argument");
    char path[4096];
    silt_safetensors *st = NULL;
    SILT_TRY(silt_train_open_checkpoint(ckpt_or_dir, "ae", path, sizeof path, &st));
    var_vqvae *ae = NULL;
    silt_status s = var_vq_load(st, &ae);
    double mean = 0, std = 1;
    if (!s) s = silt_ae_latent_stats(ae, SILT_AE_STATS_IMAGES, &mean, &std);
    if (!s) {
        char sh[32], sc[32];
        snprintf(sh, sizeof sh, "%.9g", mean);
        snprintf(sc, sizeof sc, "%.9g", 1.0 / std);
        const char *kv[] = {"silt.kind", SILT_WORLD_LATENT_NAME, "silt.latent_shift", sh, "silt.latent_scale", sc, NULL};
        s = var_vq_save_as(ae, out_path, kv);
        if (!s) silt_info("ae export: latent mean %.4f, std %.4f over %d train renders", mean, std, SILT_AE_STATS_IMAGES);
    }
    var_vq_free(ae);
    silt_safetensors_close(st);
    return s;
}
