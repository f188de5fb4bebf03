// Creating, initialising and saving a VAR transformer for training, and its
// loss (var.h "creation and saving"). Init follows VAR.init_weights
// (FoundationVision/VAR models/var.py @ 78b9539); the loss is trainer.py's
// teacher-forced cross-entropy (label smoothing 0).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda.h"
#include "var/var_ckpt.h"
#include "var/var_internal.h"
#include "var/var_ops.h"

var_config var_world_default_config(void) {
    var_config c = {.depth = 6, .embed_dim = 192, .num_heads = 3, .mlp_hidden = 768, .num_classes = 0,
                    .text_dim = 64, .ctx_dim = 64, .vocab_size = 512, .Cvae = 16, .shared_aln = false,
                    .attn_l2_norm = true, .norm_eps = 1e-6f, .n_scales = 6, .patch_nums = {1, 2, 3, 4, 6, 8}};
    var_config_finish(&c);
    return c;
}

silt_status var_config_finish(var_config *c) {
    if (!c) return SILT_FAIL(SILT_ERR_ARG, "var: NULL config");
    if (c->depth < 1 || c->depth > 1024 || c->embed_dim < 1 || c->num_heads < 1 || c->embed_dim % c->num_heads ||
        c->mlp_hidden < 1)
        return SILT_FAIL(SILT_ERR_ARG, "var: depth %d, width %d, %d heads (must divide the width), mlp %d", c->depth,
                         c->embed_dim, c->num_heads, c->mlp_hidden);
    if (c->vocab_size < 2 || c->Cvae < 1)
        return SILT_FAIL(SILT_ERR_ARG, "var: vocab_size %d >= 2 and Cvae %d >= 1", c->vocab_size, c->Cvae);
    if ((c->num_classes > 0) == (c->text_dim > 0) || c->num_classes < 0 || (c->text_dim > 0) != (c->ctx_dim > 0))
        return SILT_FAIL(SILT_ERR_ARG, "var: a model is either class-conditional (num_classes %d > 0) or text-"
                                       "conditioned (text_dim %d, ctx_dim %d > 0)", c->num_classes, c->text_dim,
                         c->ctx_dim);
    if (c->shared_aln) return SILT_FAIL(SILT_ERR_UNSUPPORTED, "var_create: shared AdaLN (d36-s) is load-only");
    if (c->n_scales < 2 || c->n_scales > VAR_MAX_SCALES)
        return SILT_FAIL(SILT_ERR_ARG, "var: %d scales (2..%d)", c->n_scales, VAR_MAX_SCALES);
    if (!(c->norm_eps > 0)) c->norm_eps = 1e-6f;
    int64_t sum = 0;
    for (int k = 0; k < c->n_scales; k++) {
        if (c->patch_nums[k] < 1 || c->patch_nums[k] > 1024)
            return SILT_FAIL(SILT_ERR_ARG, "var: patch_nums[%d] = %d outside 1..1024", k, c->patch_nums[k]);
        c->begin[k] = sum;
        sum += (int64_t)c->patch_nums[k] * c->patch_nums[k];
    }
    c->begin[c->n_scales] = sum;
    c->L = sum;
    c->first_l = (int64_t)c->patch_nums[0] * c->patch_nums[0];
    c->head_dim = c->embed_dim / c->num_heads;
    return SILT_OK;
}

#define VAR_INIT_KEY 0x7661725F696E6974ull  // "var_init"

static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static void mul(silt_tensor *t, int64_t from, int64_t to, double f) {
    for (int64_t i = from; i < to; i++) silt_f32(t)[i] = (float)(silt_f32(t)[i] * f);
}

silt_status var_create(const var_config *cfg, float aln_gamma, uint64_t seed, var_model **out) {
    if (!cfg || !out) return SILT_FAIL(SILT_ERR_ARG, "var_create: NULL argument");
    var_config c = *cfg;
    SILT_TRY(var_config_finish(&c));
    var_model *m = NULL;
    SILT_TRY(var_create_empty(&c, &m));
    uint64_t key = seed ^ VAR_INIT_KEY;
    int64_t C = c.embed_dim;
    double std = sqrt(1.0 / (double)C / 3.0);  // init_std = (1 / C / 3) ** 0.5
    // Every weight matrix, embedding and position table ~ trunc_normal(std);
    // biases (1-D "bias" / "_bias" tensors) 0; then the rescalings below.
    for (int i = 0; i < m->n_owned; i++) {
        silt_tensor *t = m->owned[i];
        const char *name = m->owned_names[i];
        float *w = silt_f32(t);
        int64_t n = silt_numel(t);
        if (strstr(name, "scale_mul_1H11")) {
            for (int64_t j = 0; j < n; j++) w[j] = (float)log(4.0);  // torch.full(..., 4.0).log()
        } else if (strstr(name, "ca_norm")) {
            for (int64_t j = 0; j < n; j++) w[j] = ends_with(name, "weight") ? 1.0f : 0.0f;
        } else if (t->ndim >= 2) {
            var_init_normal(w, n, std, key, (uint64_t)i);
        } else {
            memset(w, 0, (size_t)n * sizeof *w);
        }
    }
    mul(m->head_w, 0, silt_numel(m->head_w), 0.02);        // init_head
    mul(m->head_nm_w, 0, silt_numel(m->head_nm_w), 0.5);   // init_adaln
    double down = 1.0 / sqrt(2.0 * c.depth);
    for (int i = 0; i < c.depth; i++) {
        var_block *b = &m->blocks[i];
        mul(b->proj_w, 0, silt_numel(b->proj_w), down);
        mul(b->fc2_w, 0, silt_numel(b->fc2_w), down);
        if (b->ca_proj_w) mul(b->ca_proj_w, 0, silt_numel(b->ca_proj_w), down);
        mul(b->ada_w, 2 * C * C, silt_numel(b->ada_w), 0.5);  // ada_lin.w[2C:] *= init_adaln
        mul(b->ada_w, 0, 2 * C * C, aln_gamma);                // ada_lin.w[:2C] *= init_adaln_gamma
    }
    *out = m;
    return SILT_OK;
}

bool var_param_no_decay(const char *name, const silt_tensor *t) {
    if (t && t->ndim <= 1) return true;
    if (!name) return false;
    return ends_with(name, "bias") || !strncmp(name, "pos_", 4) || strstr(name, "lvl_embed") ||
           strstr(name, "scale_mul") || strstr(name, "ada_gss") || strstr(name, "norm");
}

static int fmt_list(char *buf, size_t n, const int *v, int k) {
    int off = 0;
    for (int i = 0; i < k && off >= 0 && (size_t)off < n; i++) off += snprintf(buf + off, n - (size_t)off, i ? ", %d" : "%d", v[i]);
    return off;
}

int var_config_json(const var_config *c, char *buf, size_t n) {
    char pn[256];
    fmt_list(pn, sizeof pn, c->patch_nums, c->n_scales);
    return snprintf(buf, n,
                    "{\"depth\": %d, \"embed_dim\": %d, \"num_heads\": %d, \"mlp_hidden\": %d, \"norm_eps\": %.9g, "
                    "\"num_classes\": %d, \"text_dim\": %d, \"ctx_dim\": %d, \"vocab_size\": %d, \"Cvae\": %d, "
                    "\"attn_l2_norm\": %s, \"patch_nums\": [%s]}",
                    c->depth, c->embed_dim, c->num_heads, c->mlp_hidden, (double)c->norm_eps, c->num_classes,
                    c->text_dim, c->ctx_dim, c->vocab_size, c->Cvae, c->attn_l2_norm ? "true" : "false", pn);
}

silt_status var_save_ex(const var_model *m, const char *path, const char *const *kv) {
    if (!m || !path) return SILT_FAIL(SILT_ERR_ARG, "var_save: NULL argument");
    if (var_device(m) != SILT_CPU)
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "var_save: the model is on %s; save it before var_to_device",
                         silt_device_name(var_device(m)));
    const var_config *c = &m->cfg;
    char cfg[1024];
    if (var_config_json(c, cfg, sizeof cfg) >= (int)sizeof cfg)
        return SILT_FAIL(SILT_ERR_ARG, "var_save: config JSON too long");
    silt_st_writer *w = silt_st_writer_create();
    if (!w) return SILT_FAIL(SILT_ERR_OOM, "var_save: out of memory");
    silt_status s = silt_st_writer_set_metadata(w, "config", cfg);
    if (!s) s = silt_st_writer_set_metadata(w, "silt.kind", c->text_dim ? "world-var" : "var");
    if (!s && c->text_dim) s = silt_st_writer_set_metadata(w, "silt.text_encoder", "world-clip");
    for (int i = 0; !s && kv && kv[i] && kv[i + 1]; i += 2) s = silt_st_writer_set_metadata(w, kv[i], kv[i + 1]);
    for (int i = 0; !s && i < m->n_owned; i++) {
        const silt_tensor *t = m->owned[i];
        s = silt_st_writer_add(w, m->owned_names[i], SILT_ST_F32, t->ndim, t->shape, t->data);
    }
    if (!s) s = silt_st_writer_write(w, path);
    silt_st_writer_free(w);
    return s;
}

silt_status var_save(const var_model *m, const char *path) { return var_save_ex(m, path, NULL); }

// --- cross-entropy ------------------------------------------------------------------------

typedef struct ce_node {
    silt_tensor *logits, *out, *prob;  // prob: softmax (N, V) saved for the backward
    silt_tensor *targets;              // (N) int32 on the graph's device
    int64_t N, V;
} ce_node;

// d logits = (softmax - onehot) / N * dout
static silt_status ce_bwd(silt_graph *g, void *node) {
    ce_node *n = node;
    if (!n->out->grad) return SILT_OK;
    float *dx = silt_graph_grad(g, n->logits);
    if (!dx) return silt_graph_status(g);
    return SILT_GRAPH_BWD(g, var_ce_bwd, dx, n->out->grad, silt_f32(n->prob), silt_i32(n->targets), n->N, n->V);
}

silt_tensor *var_ce_loss(silt_graph *g, silt_tensor *logits, const int32_t *targets, double *acc) {
    if (!logits) return NULL;
    if (silt_graph_check_dev(g, "var_ce_loss", logits) != SILT_OK) return NULL;
    if (!targets || logits->ndim < 2) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "var_ce_loss: NULL targets or logits with < 2 dims"));
        return NULL;
    }
    int64_t V = logits->shape[logits->ndim - 1], N = silt_numel(logits) / V;
    for (int64_t i = 0; i < N; i++)
        if (targets[i] < 0 || targets[i] >= V) {
            silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "var_ce_loss: target %d at %lld outside [0, %lld)", (int)targets[i],
                                         (long long)i, (long long)V));
            return NULL;
        }
    // The targets go to the graph's device (a copy on the cpu: the caller's
    // array may change before the backward runs).
    silt_tensor *tg = silt_graph_upload(g, SILT_I32, 1, (int64_t[]){N}, targets);
    silt_tensor *out = silt_graph_new(g, 1, 0, 0, 0), *prob = silt_graph_new(g, N, V, 0, 0);
    if (!tg || !out || !prob) return NULL;
    // Scratch: 2N doubles of per-row terms (+ one double for acc on the device).
    size_t bytes = (size_t)(2 * N + 1) * sizeof(double);
    if (logits->device == SILT_CUDA) {
        double *rows = silt_graph_device_scratch(g, bytes);
        if (!rows) return NULL;
        silt_status s = var_ce_fwd_cuda(silt_f32(out), acc ? rows + 2 * N : NULL, silt_f32(prob), rows,
                                        silt_f32(logits), silt_i32(tg), N, V);
        if (s == SILT_OK && acc) s = silt_cuda_memcpy_d2h(acc, rows + 2 * N, sizeof *acc);
        if (!silt_graph_done(g, s, out)) return NULL;
    } else {
        double *rows = silt_graph_scratch(g, bytes);
        if (!rows) return NULL;
        var_ce_fwd_cpu(silt_f32(out), acc, silt_f32(prob), rows, silt_f32(logits), silt_i32(tg), N, V);
    }
    if (silt_graph_wants_grad(g, logits, NULL, NULL)) {
        out->requires_grad = true;
        ce_node *n = silt_graph_record(g, ce_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (ce_node){logits, out, prob, tg, N, V};
    }
    return out;
}
