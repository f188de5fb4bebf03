// The world VAR's training task and export (see train_arch.h): teacher-
// forced next-scale cross-entropy on the frozen tokenizer's indices of 32 px
// world renders, conditioned on the frozen world-CLIP.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/ops.h"
#include "gen/lib/train_arch.h"
#include "text/world_clip.h"
#include "text/world_tokenizer.h"
#include "world/render.h"
#include "world/suites.h"

enum { PURPOSE_DROP = 1 };  // silt_train_batch_rng purposes

typedef struct var_task {
    var_model *m;
    var_vqvae *vq;
    wclip_model *clip;  // frozen; on the model's device
    char config[1024];
} var_task;

silt_status silt_train_var_preset(const char *size, var_config *c) {
    if (!c) return SILT_FAIL(SILT_ERR_ARG, "var preset: NULL config");
    if (!size) size = "default";
    if (!strcmp(size, "tiny")) {  // CLI tests
        c->depth = 1, c->embed_dim = 32, c->num_heads = 2, c->mlp_hidden = 64;
    } else if (!strcmp(size, "small")) {
        c->depth = 4, c->embed_dim = 128, c->num_heads = 2, c->mlp_hidden = 512;
    } else if (!strcmp(size, "default")) {
        var_config d = var_world_default_config();
        c->depth = d.depth, c->embed_dim = d.embed_dim, c->num_heads = d.num_heads, c->mlp_hidden = d.mlp_hidden;
    } else {
        return SILT_FAIL(SILT_ERR_ARG, "var: unknown size '%s' (known: tiny|small|default)", size);
    }
    c->attn_l2_norm = true;
    c->shared_aln = false;
    c->norm_eps = 1e-6f;
    return SILT_OK;
}

static void task_destroy(void *self) {
    var_task *t = self;
    if (!t) return;
    var_free(t->m);
    var_vq_free(t->vq);
    wclip_free(t->clip);
    free(t);
}

static int task_n_params(void *self) { return var_param_count(((var_task *)self)->m); }

static silt_tensor *task_param(void *self, int i, const char **name, bool *no_decay) {
    silt_tensor *t = var_param(((var_task *)self)->m, i, name);
    if (t) *no_decay = var_param_no_decay(*name, t);
    return t;
}

static silt_tensor *fail(silt_graph *g, silt_status s) {
    silt_graph_fail(g, s);
    return NULL;
}

// Device runs: the transformer, the frozen tokenizer and the frozen
// world-CLIP move to the device (the text encode runs on the step's graph
// without grad, as on the cpu).
static silt_status task_to_device(void *self, silt_device device) {
    var_task *t = self;
    SILT_TRY(var_vq_to_device(t->vq, device));
    SILT_TRY(wclip_to_device(t->clip, device));
    return var_to_device(t->m, device);
}

static silt_tensor *task_loss(void *self, silt_graph *g, uint64_t data_seed, int64_t batch_index, int B) {
    var_task *t = self;
    const var_config *c = var_get_config(t->m);
    const int S = SILT_TRAIN_VAR_IMAGE, T = wclip_get_config(t->clip)->max_len;
    const int64_t npix = 3 * (int64_t)S * S;
    if (batch_index < 0 || B < 1)
        return fail(g, SILT_FAIL(SILT_ERR_ARG, "var: batch %lld of size %d", (long long)batch_index, B));
    // The batch is built in host memory (the graph's host arena), then the
    // images go to the graph's device (a copy on a CPU graph).
    silt_arena *ha = silt_graph_arena(g);
    float *hx = silt_arena_alloc(ha, (size_t)(B * npix) * sizeof *hx);
    int32_t *ids = silt_arena_alloc(ha, (size_t)B * T * sizeof *ids);
    int32_t *idx = silt_arena_alloc(ha, (size_t)(B * c->L) * sizeof *idx);
    if (!hx || !ids || !idx) return fail(g, SILT_FAIL(SILT_ERR_OOM, "var: out of memory for a batch"));
    world_item *items = silt_arena_alloc(ha, (size_t)B * sizeof *items);
    if (!items) return fail(g, SILT_FAIL(SILT_ERR_OOM, "var: out of memory for a batch"));
    silt_status rs = silt_train_render_batch(data_seed, batch_index * B, B, S, hx, items);
    if (rs) return fail(g, rs);
    silt_rng drop = silt_train_batch_rng(data_seed, batch_index, PURPOSE_DROP);
    for (int i = 0; i < B; i++) {
        // Caption dropout (classifier-free guidance): the null caption is "".
        bool dropped = silt_rng_next_double(&drop) < SILT_TRAIN_VAR_CAPTION_DROP;
        silt_status s = wclip_tokenize(t->clip, dropped ? "" : items[i].caption, ids + (size_t)i * T);
        if (s) return fail(g, s);
    }
    silt_tensor *img = silt_graph_upload(g, SILT_F32, 4, (const int64_t[]){B, 3, S, S}, hx);
    if (!img) return NULL;
    // The tokenizer and the text encoder are frozen: no nodes, no gradients.
    bool grad = silt_graph_grad_enabled(g);  // the caller's mode, restored below
    silt_graph_set_grad(g, false);
    silt_tensor *tokens = NULL, *pooled = NULL, *x = NULL;
    silt_status s = var_vq_encode(g, t->vq, img, idx);
    if (!s) x = var_vq_idx_to_var_input(g, t->vq, idx, B);
    if (!s && !x) s = silt_graph_status(g);
    if (!s) s = wclip_encode_text(g, t->clip, ids, B, &tokens, &pooled);
    silt_graph_set_grad(g, grad);
    if (s) return fail(g, s);
    return var_ce_loss(g, var_forward_text(g, t->m, pooled, tokens, x), idx, NULL);
}

silt_status silt_train_var_create(const char *vq_path, const char *clip_path, const char *size, uint64_t init_seed,
                                  silt_train_task *out) {
    if (!out) return SILT_FAIL(SILT_ERR_ARG, "var: NULL out");
    char vpath[4096], cpath[4096];
    const char *vp = vq_path ? vq_path : SILT_TRAIN_VAR_DEFAULT_VQ, *cp = clip_path ? clip_path : SILT_TRAIN_MMDIT_DEFAULT_CLIP;
    silt_status s = silt_train_resolve_path(vp, vpath, sizeof vpath, "tokenizer");
    if (s) return SILT_FAIL(s, "%s; pass --vq PATH (a `gen train --arch vq` model, checkpoint or run directory)",
                            silt_last_error_message());
    s = silt_train_resolve_path(cp, cpath, sizeof cpath, "world-CLIP");
    if (s) return SILT_FAIL(s, "%s; pass --clip-model PATH (a world-CLIP model file, a `gen train --arch clip` "
                               "checkpoint or its run directory)", silt_last_error_message());
    var_task *t = calloc(1, sizeof *t);
    if (!t) return SILT_FAIL(SILT_ERR_OOM, "var: out of memory");
    s = var_vq_load_file(vpath, &t->vq);
    if (!s) s = wclip_load_file(cpath, &t->clip);
    var_config c = {0};
    if (!s) {
        const var_vq_config *q = var_vq_get_config(t->vq);
        const wclip_config *cc = wclip_get_config(t->clip);
        if ((int64_t)q->patch_nums[q->n_scales - 1] * q->downsample != SILT_TRAIN_VAR_IMAGE)
            s = SILT_FAIL(SILT_ERR_FORMAT, "var: tokenizer %s maps %d px images (last scale %d x downsample %d), the "
                                           "world VAR needs %d", vpath, q->patch_nums[q->n_scales - 1] * q->downsample,
                          q->patch_nums[q->n_scales - 1], q->downsample, SILT_TRAIN_VAR_IMAGE);
        else if (cc->max_len != TXT_WORLD_MAX_LEN)
            s = SILT_FAIL(SILT_ERR_FORMAT, "var: %s is a CLIP for %d tokens, the world VAR needs %d", cpath, cc->max_len,
                          TXT_WORLD_MAX_LEN);
        c.vocab_size = q->vocab_size, c.Cvae = q->z_channels, c.n_scales = q->n_scales;
        memcpy(c.patch_nums, q->patch_nums, (size_t)q->n_scales * sizeof *q->patch_nums);
        c.text_dim = cc->embed_dim, c.ctx_dim = cc->width;
    }
    if (!s) s = silt_train_var_preset(size, &c);
    if (!s) s = var_create(&c, 1e-3f, init_seed, &t->m);  // init_adaln_gamma 1e-3 (README d16/d20)
    if (!s && var_config_json(var_get_config(t->m), t->config, sizeof t->config) >= (int)sizeof t->config)
        s = SILT_FAIL(SILT_ERR_ARG, "var: config JSON too long");
    if (s) { task_destroy(t); return s; }
    silt_info("var: %s model (depth %d, width %d), %d parameter tensors; tokenizer %s, text encoder %s",
              size ? size : "default", c.depth, c.embed_dim, var_param_count(t->m), vpath, cpath);
    *out = (silt_train_task){.self = t, .n_params = task_n_params, .param = task_param, .loss = task_loss,
                             .images_per_batch = NULL, .name = "var", .config = t->config, .destroy = task_destroy,
                             .to_device = task_to_device};
    return SILT_OK;
}

silt_status silt_train_var_export(const char *ckpt_or_dir, const char *out_path, const double *cfg) {
    if (!ckpt_or_dir || !out_path) return SILT_FAIL(SILT_ERR_ARG, "var export: NULL argument");
    char path[4096];
    silt_safetensors *st = NULL;
    SILT_TRY(silt_train_open_checkpoint(ckpt_or_dir, "var", path, sizeof path, &st));
    var_model *m = NULL;
    char *train = NULL;
    silt_status s = var_load(st, &m);
    if (!s) s = silt_train_export_summary(st, "head.weight", &train);
    // silt.cfg is the sampling default gen reads (load_world_var in txt2img.c).
    char cfg_text[32];
    if (cfg) snprintf(cfg_text, sizeof cfg_text, "%.17g", *cfg);
    const char *kv[] = {"silt.train", train, cfg ? "silt.cfg" : NULL, cfg ? cfg_text : NULL, NULL};
    if (!s) s = var_save_ex(m, out_path, kv);
    free(train);
    var_free(m);
    silt_safetensors_close(st);
    return s;
}
