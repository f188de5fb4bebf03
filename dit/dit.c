// DiT model: weights, layouts and the forward pass (see dit.h).
// Reference: facebookresearch/DiT models.py (DiT, DiTBlock, FinalLayer) and
// diffusers dit_transformer_2d.py + attention.py::BasicTransformerBlock
// (norm_type "ada_norm_zero"); layer details in archs.md section 1.
#include "dit/dit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/ops.h"
#include "core/rng.h"
#include "core/weights.h"
#include "cuda/cuda.h"
#include "dit/dit_ops.h"
#include "dit/embed.h"

#define DIT_FREQ_DIM 256       // timestep sinusoid width (both references)
#define DIT_MAX_PERIOD 10000.0f
#define DIT_LN_EPS 1e-6f       // every adaLN LayerNorm of the original; diffusers norm1 / norm_out

typedef struct dit_embedder {
    silt_tensor *t1_w, *t1_b, *t2_w, *t2_b;  // t_embedder.mlp.{0,2}: (D, 256), (D, D)
    silt_tensor *y_table;                    // (num_classes + 1, D)
} dit_embedder;

typedef struct dit_block {
    silt_tensor *ada_w, *ada_b;    // (6D, D): shift, scale, gate (attn), shift, scale, gate (mlp)
    silt_tensor *qkv_w, *qkv_b;    // (3D, D) rows [q; k; v]
    silt_tensor *proj_w, *proj_b;  // (D, D)
    silt_tensor *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    int emb;                       // which embedder conditions this block
} dit_block;

struct dit_model {
    dit_config cfg;
    float mlp_ln_eps;  // pre-MLP LayerNorm: 1e-6 original, norm_eps (1e-5) diffusers
    float t_shift;     // downscale_freq_shift of the sinusoid: 0 original, 1 diffusers
    silt_tensor *x_w, *x_b;       // patch embedding conv (D, C, p, p)
    silt_tensor *pos;             // (1, T, D) over the input_size grid (a parameter, or pos_buf)
    silt_tensor *pos_buf;         // diffusers: the recomputed table (not a parameter)
    dit_embedder *emb;
    int n_emb;
    dit_block *blocks;
    silt_tensor *fin_ada_w, *fin_ada_b, *fin_w, *fin_b;  // (2D, D): shift, scale; (p*p*Cout, D)
    // Every owned tensor with its reference name (state-dict order of loading).
    int n_params, cap_params;
    silt_tensor **params;
    char **names;
};

const char *dit_layout_name(dit_layout l) {
    switch (l) {
    case DIT_LAYOUT_ORIGINAL: return "original";
    case DIT_LAYOUT_DIFFUSERS: return "diffusers";
    default: return "?";
    }
}

silt_status dit_layout_from_name(const char *name, dit_layout *out) {
    for (int l = 0; l < DIT_LAYOUT_COUNT; l++)
        if (name && strcmp(name, dit_layout_name((dit_layout)l)) == 0) { *out = (dit_layout)l; return SILT_OK; }
    return SILT_FAIL(SILT_ERR_ARG, "unknown DiT layout '%s' (original, diffusers)", name ? name : "(null)");
}

void dit_free(dit_model *m) {
    if (!m) return;
    // silt_tensor_free_cuda frees CPU and device tensors alike (dit_to_device).
    for (int i = 0; i < m->n_params; i++) {
        silt_tensor_free_cuda(m->params[i]);
        free(m->names[i]);
    }
    free(m->params);
    free(m->names);
    silt_tensor_free_cuda(m->pos_buf);
    free(m->emb);
    free(m->blocks);
    free(m);
}

const dit_config *dit_get_config(const dit_model *m) { return m ? &m->cfg : NULL; }

silt_device dit_device(const dit_model *m) { return m && m->n_params > 0 ? m->params[0]->device : SILT_CPU; }

silt_status dit_to_device(dit_model *m, silt_device device) {
    if (!m) return SILT_FAIL(SILT_ERR_ARG, "dit_to_device: NULL model");
    bool move;
    SILT_TRY(silt_model_move_check("dit_to_device", dit_device(m), device, &move));
    if (!move) return SILT_OK;
    // In place (the block structs point at these headers). A failure half way
    // leaves a mixed model: every forward then fails naming the op, and
    // dit_free still frees both kinds.
    for (int i = 0; i < m->n_params; i++) {
        silt_status s = silt_tensor_move_to_cuda(m->params[i]);
        if (s != SILT_OK) return SILT_FAIL(s, "dit_to_device: tensor '%s': %s", m->names[i], silt_last_error_message());
    }
    if (m->pos_buf) SILT_TRY(silt_tensor_move_to_cuda(m->pos_buf));
    return SILT_OK;
}
silt_status dit_weights_to_bf16(dit_model *m) {
    if (!m) return SILT_FAIL(SILT_ERR_ARG, "dit_weights_to_bf16: NULL model");
    if (dit_device(m) != SILT_CUDA)
        return SILT_FAIL(SILT_ERR_ARG, "dit_weights_to_bf16: the model is on %s; move it to cuda first",
                         silt_device_name(dit_device(m)));
    for (int l = 0; l < m->cfg.depth; l++) {
        dit_block *b = &m->blocks[l];
        silt_tensor *w[5] = {b->ada_w, b->qkv_w, b->proj_w, b->fc1_w, b->fc2_w};
        for (int i = 0; i < 5; i++) SILT_TRY(silt_tensor_cuda_to_bf16(w[i]));
    }
    for (int e = 0; e < m->n_emb; e++) {
        SILT_TRY(silt_tensor_cuda_to_bf16(m->emb[e].t1_w));
        SILT_TRY(silt_tensor_cuda_to_bf16(m->emb[e].t2_w));
    }
    SILT_TRY(silt_tensor_cuda_to_bf16(m->fin_ada_w));
    return silt_tensor_cuda_to_bf16(m->fin_w);
}

int dit_param_count(const dit_model *m) { return m ? m->n_params : 0; }

silt_tensor *dit_param(const dit_model *m, int i, const char **name) {
    if (!m || i < 0 || i >= m->n_params) return NULL;
    if (name) *name = m->names[i];
    return m->params[i];
}

// Takes ownership of t (freed here on failure).
static silt_status own(dit_model *m, silt_tensor *t, const char *name) {
    if (m->n_params == m->cap_params) {
        int cap = m->cap_params ? 2 * m->cap_params : 64;
        silt_tensor **p = realloc(m->params, sizeof *p * (size_t)cap);
        if (p) m->params = p;
        char **n = realloc(m->names, sizeof *n * (size_t)cap);
        if (n) m->names = n;
        if (!p || !n) { silt_tensor_free(t); return SILT_FAIL(SILT_ERR_OOM, "out of memory"); }
        m->cap_params = cap;
    }
    char *copy = malloc(strlen(name) + 1);
    if (!copy) { silt_tensor_free(t); return SILT_FAIL(SILT_ERR_OOM, "out of memory"); }
    strcpy(copy, name);
    m->params[m->n_params] = t;
    m->names[m->n_params++] = copy;
    return SILT_OK;
}

// Drops the most recently owned tensor (a duplicate embedder copy).
static void disown_last(dit_model *m) {
    m->n_params--;
    silt_tensor_free(m->params[m->n_params]);
    free(m->names[m->n_params]);
}

// --- parameter source: a checkpoint or random numbers ---------------------------------

typedef struct dit_source {
    bool random;       // draw instead of loading
    silt_weights *wl;  // the checkpoint (until the first failure ends it)
    uint64_t seed, stream;
    silt_status status;
} dit_source;

// Loads or draws one tensor and hands it to the model. std: random only.
static silt_tensor *take(dit_model *m, dit_source *s, const char *name, int ndim, const int64_t *shape, float std) {
    if (s->status != SILT_OK) return NULL;
    silt_tensor *t;
    if (!s->random) {
        t = silt_weights_get(s->wl, name, ndim, shape);
        if (!t) { s->status = silt_weights_end(s->wl); s->wl = NULL; return NULL; }
    } else {
        t = silt_tensor_create_f32(ndim, shape, false);
        if (!t) { s->status = SILT_FAIL(SILT_ERR_OOM, "out of memory for '%s'", name); return NULL; }
        silt_rng_normal(silt_f32(t), silt_numel(t), s->seed, s->stream++, 0);
        float *d = silt_f32(t);
        for (int64_t i = 0; i < silt_numel(t); i++) d[i] *= std;
    }
    s->status = own(m, t, name);
    return s->status == SILT_OK ? t : NULL;
}

static float mat_std(int64_t fan_in) {
    float s = 1.0f / sqrtf((float)fan_in);
    return s < 0.02f ? 0.02f : s > 0.2f ? 0.2f : s;
}

#define SHAPE(...) (const int64_t[]){__VA_ARGS__}

static void take_linear(dit_model *m, dit_source *s, const char *base, int64_t out_f, int64_t in_f, silt_tensor **w,
                        silt_tensor **b) {
    char key[320];
    snprintf(key, sizeof key, "%s.weight", base);
    *w = take(m, s, key, 2, SHAPE(out_f, in_f), mat_std(in_f));
    snprintf(key, sizeof key, "%s.bias", base);
    *b = take(m, s, key, 1, SHAPE(out_f), 0.02f);
}

// diffusers keeps q, k, v apart; the forward runs one fused (3D, D) product.
static void take_qkv_split(dit_model *m, dit_source *s, const char *base, int64_t D, dit_block *bk) {
    silt_tensor *w[3] = {NULL, NULL, NULL}, *b[3] = {NULL, NULL, NULL};
    const char *nm[3] = {"to_q", "to_k", "to_v"};
    char key[256];
    int first = m->n_params;
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof key, "%s.%s", base, nm[i]);
        take_linear(m, s, key, D, D, &w[i], &b[i]);
    }
    if (s->status != SILT_OK) return;
    silt_tensor *fw = silt_tensor_create_f32(2, SHAPE(3 * D, D), false);
    silt_tensor *fb = silt_tensor_create_f32(1, SHAPE(3 * D), false);
    if (!fw || !fb) {
        silt_tensor_free(fw);
        silt_tensor_free(fb);
        s->status = SILT_FAIL(SILT_ERR_OOM, "out of memory");
        return;
    }
    for (int i = 0; i < 3; i++) {
        memcpy(silt_f32(fw) + i * D * D, silt_f32(w[i]), sizeof(float) * (size_t)(D * D));
        memcpy(silt_f32(fb) + i * D, silt_f32(b[i]), sizeof(float) * (size_t)D);
    }
    while (m->n_params > first) disown_last(m);
    snprintf(key, sizeof key, "%s.to_qkv.weight", base);
    if ((s->status = own(m, fw, key)) != SILT_OK) { silt_tensor_free(fb); return; }
    snprintf(key, sizeof key, "%s.to_qkv.bias", base);
    if ((s->status = own(m, fb, key)) != SILT_OK) return;
    bk->qkv_w = fw;
    bk->qkv_b = fb;
}

static bool same_data(const silt_tensor *a, const silt_tensor *b) {
    return a && b && silt_same_shape(a, b) && memcmp(a->data, b->data, silt_nbytes(a)) == 0;
}

// Embedder `e` from the keys under base ("" original, "transformer_blocks.i.norm1.emb." diffusers).
static void take_embedder(dit_model *m, dit_source *s, const char *base, int e) {
    const dit_config *c = &m->cfg;
    int64_t D = c->hidden;
    dit_embedder *em = &m->emb[e];
    char key[256];
    bool orig = c->layout == DIT_LAYOUT_ORIGINAL;
    snprintf(key, sizeof key, orig ? "%st_embedder.mlp.0" : "%stimestep_embedder.linear_1", base);
    take_linear(m, s, key, D, DIT_FREQ_DIM, &em->t1_w, &em->t1_b);
    snprintf(key, sizeof key, orig ? "%st_embedder.mlp.2" : "%stimestep_embedder.linear_2", base);
    take_linear(m, s, key, D, D, &em->t2_w, &em->t2_b);
    snprintf(key, sizeof key, orig ? "%sy_embedder.embedding_table.weight" : "%sclass_embedder.embedding_table.weight",
             base);
    em->y_table = take(m, s, key, 2, SHAPE(c->num_classes + 1, D), 0.02f);
}

// Builds every parameter of m->cfg from s. The config must be validated.
static silt_status build(dit_model *m, dit_source *s) {
    const dit_config *c = &m->cfg;
    int64_t D = c->hidden, p = c->patch, gs = c->input_size / c->patch;
    bool orig = c->layout == DIT_LAYOUT_ORIGINAL;
    char key[128];
    m->blocks = calloc((size_t)c->depth, sizeof *m->blocks);
    m->emb = calloc((size_t)(orig ? 1 : c->depth), sizeof *m->emb);
    if (!m->blocks || !m->emb) return SILT_FAIL(SILT_ERR_OOM, "out of memory");

    m->x_w = take(m, s, orig ? "x_embedder.proj.weight" : "pos_embed.proj.weight", 4, SHAPE(D, c->in_channels, p, p),
                  mat_std(c->in_channels * p * p));
    m->x_b = take(m, s, orig ? "x_embedder.proj.bias" : "pos_embed.proj.bias", 1, SHAPE(D), 0.02f);
    if (orig) {
        // pos_embed is a frozen parameter of the original (the fixed sin-cos
        // table, models.py initialize_weights): read as stored; drawn models get the table.
        if (!s->random) {
            m->pos = take(m, s, "pos_embed", 3, SHAPE(1, gs * gs, D), 0);
        } else if (s->status == SILT_OK) {
            silt_tensor *pe = silt_tensor_create_f32(3, SHAPE(1, gs * gs, D), false);
            if (!pe) return SILT_FAIL(SILT_ERR_OOM, "out of memory");
            dit_sincos_2d(silt_f32(pe), (int)D, (int)gs, (int)gs, (double)gs, 1.0);
            if ((s->status = own(m, pe, "pos_embed")) != SILT_OK) return s->status;
            m->pos = pe;
        }
        take_embedder(m, s, "", 0);
        m->n_emb = 1;
    }
    for (int i = 0; i < c->depth && s->status == SILT_OK; i++) {
        dit_block *b = &m->blocks[i];
        if (orig) {
            snprintf(key, sizeof key, "blocks.%d.adaLN_modulation.1", i);
            take_linear(m, s, key, 6 * D, D, &b->ada_w, &b->ada_b);
            snprintf(key, sizeof key, "blocks.%d.attn.qkv", i);
            take_linear(m, s, key, 3 * D, D, &b->qkv_w, &b->qkv_b);
            snprintf(key, sizeof key, "blocks.%d.attn.proj", i);
            take_linear(m, s, key, D, D, &b->proj_w, &b->proj_b);
            snprintf(key, sizeof key, "blocks.%d.mlp.fc1", i);
            take_linear(m, s, key, c->mlp_hidden, D, &b->fc1_w, &b->fc1_b);
            snprintf(key, sizeof key, "blocks.%d.mlp.fc2", i);
            take_linear(m, s, key, D, c->mlp_hidden, &b->fc2_w, &b->fc2_b);
            b->emb = 0;
            continue;
        }
        // diffusers: each block's norm1.emb; copies identical to an earlier one are shared.
        if (!s->random || i == 0) {
            int first = m->n_params;
            snprintf(key, sizeof key, "transformer_blocks.%d.norm1.emb.", i);
            take_embedder(m, s, key, m->n_emb);
            if (s->status) break;
            b->emb = m->n_emb;
            const dit_embedder *e = &m->emb[m->n_emb];
            for (int j = 0; j < m->n_emb; j++) {
                const dit_embedder *o = &m->emb[j];
                if (same_data(e->t1_w, o->t1_w) && same_data(e->t1_b, o->t1_b) && same_data(e->t2_w, o->t2_w) &&
                    same_data(e->t2_b, o->t2_b) && same_data(e->y_table, o->y_table)) {
                    while (m->n_params > first) disown_last(m);
                    b->emb = j;
                    break;
                }
            }
            if (b->emb == m->n_emb) m->n_emb++;
            else memset(&m->emb[m->n_emb], 0, sizeof m->emb[0]);  // its tensors were dropped
        } else {
            b->emb = 0;
        }
        snprintf(key, sizeof key, "transformer_blocks.%d.norm1.linear", i);
        take_linear(m, s, key, 6 * D, D, &b->ada_w, &b->ada_b);
        snprintf(key, sizeof key, "transformer_blocks.%d.attn1", i);
        if (!s->random) {
            take_qkv_split(m, s, key, D, b);
        } else {
            char k2[192];
            snprintf(k2, sizeof k2, "%s.to_qkv", key);
            take_linear(m, s, k2, 3 * D, D, &b->qkv_w, &b->qkv_b);
        }
        snprintf(key, sizeof key, "transformer_blocks.%d.attn1.to_out.0", i);
        take_linear(m, s, key, D, D, &b->proj_w, &b->proj_b);
        snprintf(key, sizeof key, "transformer_blocks.%d.ff.net.0.proj", i);
        take_linear(m, s, key, c->mlp_hidden, D, &b->fc1_w, &b->fc1_b);
        snprintf(key, sizeof key, "transformer_blocks.%d.ff.net.2", i);
        take_linear(m, s, key, D, c->mlp_hidden, &b->fc2_w, &b->fc2_b);
    }
    int64_t out_f = p * p * c->out_channels;
    take_linear(m, s, orig ? "final_layer.adaLN_modulation.1" : "proj_out_1", 2 * D, D, &m->fin_ada_w, &m->fin_ada_b);
    take_linear(m, s, orig ? "final_layer.linear" : "proj_out_2", out_f, D, &m->fin_w, &m->fin_b);
    if (s->status) return s->status;
    if (!orig) {
        // diffusers' PatchEmbed buffer: not persistent (not a parameter), recomputed
        // at integer positions over the sample_size grid.
        m->pos_buf = silt_tensor_create_f32(3, SHAPE(1, gs * gs, D), false);
        if (!m->pos_buf) return SILT_FAIL(SILT_ERR_OOM, "out of memory");
        dit_sincos_2d(silt_f32(m->pos_buf), (int)D, (int)gs, (int)gs, (double)gs, 1.0);
        m->pos = m->pos_buf;
    }
    return SILT_OK;
}

static silt_status check_config(const dit_config *c) {
    if (c->layout < 0 || c->layout >= DIT_LAYOUT_COUNT) return SILT_FAIL(SILT_ERR_ARG, "DiT: bad layout %d", (int)c->layout);
    if (c->depth < 1 || c->depth > 4096 || c->hidden < 4 || c->hidden > 65536 || c->hidden % 4 || c->heads < 1 ||
        c->hidden % c->heads || c->patch < 1 || c->patch > 64 || c->in_channels < 1 || c->in_channels > 4096 ||
        c->out_channels < 1 || c->out_channels > 4096 || c->num_classes < 1 || c->num_classes > 10000000 ||
        c->mlp_hidden < 1 || c->mlp_hidden > 1 << 20 || c->input_size < c->patch || c->input_size > 65536 ||
        c->input_size % c->patch)
        return SILT_FAIL(SILT_ERR_ARG,
                         "DiT config out of range: depth %d, hidden %d (a multiple of 4), heads %d (dividing hidden), "
                         "patch %d, channels %d -> %d, input_size %d (a multiple of patch), classes %d, mlp %d",
                         c->depth, c->hidden, c->heads, c->patch, c->in_channels, c->out_channels, c->input_size,
                         c->num_classes, c->mlp_hidden);
    if (c->guided_channels < 0 || c->guided_channels > c->in_channels)
        return SILT_FAIL(SILT_ERR_ARG, "DiT: guided_channels %d outside 0..%d", c->guided_channels, c->in_channels);
    return SILT_OK;
}

static dit_model *model_new(const dit_config *c) {
    dit_model *m = calloc(1, sizeof *m);
    if (!m) { SILT_FAIL(SILT_ERR_OOM, "out of memory"); return NULL; }
    m->cfg = *c;
    m->cfg.learn_sigma = c->out_channels == 2 * c->in_channels;
    if (m->cfg.guided_channels == 0)
        m->cfg.guided_channels = c->layout == DIT_LAYOUT_ORIGINAL ? (c->in_channels < 3 ? c->in_channels : 3) : c->in_channels;
    m->mlp_ln_eps = c->layout == DIT_LAYOUT_ORIGINAL ? DIT_LN_EPS : 1e-5f;
    m->t_shift = c->layout == DIT_LAYOUT_ORIGINAL ? 0.0f : 1.0f;
    return m;
}

silt_status dit_create_random(const dit_config *cfg, uint64_t seed, dit_model **out) {
    if (!cfg || !out) return SILT_FAIL(SILT_ERR_ARG, "dit_create_random: NULL argument");
    SILT_TRY(check_config(cfg));
    dit_model *m = model_new(cfg);
    if (!m) return SILT_ERR_OOM;
    dit_source src = {.random = true, .seed = seed};
    silt_status s = build(m, &src);
    if (s != SILT_OK) { dit_free(m); return s; }
    *out = m;
    return SILT_OK;
}

// --- loading a checkpoint --------------------------------------------------------------

static const silt_st_tensor *find(const silt_safetensors *st, const char *prefix, const char *name) {
    char key[320];
    snprintf(key, sizeof key, "%s%s", prefix, name);
    return silt_safetensors_find(st, key);
}

// 1 + the highest i among names prefix + stem + "<i>.".
static int count_blocks(const silt_safetensors *st, const char *prefix, const char *stem) {
    size_t pl = strlen(prefix), sl = strlen(stem);
    int depth = 0;
    for (int i = 0; i < silt_safetensors_count(st); i++) {
        const char *n = silt_safetensors_get(st, i)->name;
        if (strncmp(n, prefix, pl) || strncmp(n + pl, stem, sl)) continue;
        const char *d = n + pl + sl;
        char *end;
        long v = strtol(d, &end, 10);
        if (end != d && *d >= '0' && *d <= '9' && *end == '.' && v < 100000 && v + 1 > depth) depth = (int)v + 1;
    }
    return depth;
}

// The config metadata (JSON text) as read-only lookups.
typedef struct { silt_json *doc; const silt_json_value *root; } json_cfg;

static bool cfg_num(const json_cfg *j, const char *key, double *out) {
    const silt_json_value *v = j->doc ? silt_json_member(j->doc, j->root, key) : NULL;
    if (!v || v->type != SILT_JSON_NUMBER) return false;
    *out = v->num;
    return true;
}

static bool cfg_int(const json_cfg *j, const char *key, int *out) {
    double d;
    if (!cfg_num(j, key, &d) || d != floor(d) || fabs(d) > 1e9) return false;
    *out = (int)d;
    return true;
}

static const char *cfg_str(const json_cfg *j, const char *key) {
    const silt_json_value *v = j->doc ? silt_json_member(j->doc, j->root, key) : NULL;
    return v && v->type == SILT_JSON_STRING ? v->str : NULL;
}

// Standard DiT configs (models.py DiT_{XL,L,B,S}_*): hidden -> heads.
static int standard_heads(int hidden) {
    switch (hidden) {
    case 1152: return 16;
    case 1024: return 16;
    case 768: return 12;
    case 384: return 6;
    default: return 0;
    }
}

// Config from shapes and metadata. A tensor needed here that is missing or
// odd leaves a placeholder: the loader then names it with the expected shape.
static silt_status infer_config(const silt_safetensors *st, const char *pre, dit_layout layout, const json_cfg *j,
                                dit_config *c, float *mlp_eps) {
    bool orig = layout == DIT_LAYOUT_ORIGINAL;
    memset(c, 0, sizeof *c);
    c->layout = layout;
    const char *pk = orig ? "x_embedder.proj.weight" : "pos_embed.proj.weight";
    const silt_st_tensor *pw = find(st, pre, pk);
    if (pw->ndim != 4 || pw->shape[2] != pw->shape[3] || pw->shape[0] < 1 || pw->shape[0] > 65536 ||
        pw->shape[1] < 1 || pw->shape[1] > 4096 || pw->shape[2] < 1 || pw->shape[2] > 64)
        return SILT_FAIL(SILT_ERR_SHAPE, "tensor '%s%s' is not a patch-embedding conv (hidden, channels, p, p)", pre, pk);
    c->hidden = (int)pw->shape[0];
    c->in_channels = (int)pw->shape[1];
    c->patch = (int)pw->shape[2];
    int64_t pp = (int64_t)c->patch * c->patch;
    c->depth = count_blocks(st, pre, orig ? "blocks." : "transformer_blocks.");
    if (c->depth == 0)
        return SILT_FAIL(SILT_ERR_FORMAT, "not a DiT checkpoint: no '%s%s0.*' tensors%s", pre,
                         orig ? "blocks." : "transformer_blocks.",
                         find(st, pre, "joint_blocks.0.x_block.attn.qkv.weight") ? " (this is an MMDiT/SD3 file)" : "");
    const silt_st_tensor *fl = find(st, pre, orig ? "final_layer.linear.weight" : "proj_out_2.weight");
    c->out_channels = fl && fl->ndim == 2 && fl->shape[0] % pp == 0 && fl->shape[0] / pp <= 4096
                          ? (int)(fl->shape[0] / pp)
                          : 2 * c->in_channels;
    const silt_st_tensor *f1 = find(st, pre, orig ? "blocks.0.mlp.fc1.weight" : "transformer_blocks.0.ff.net.0.proj.weight");
    c->mlp_hidden = f1 && f1->ndim == 2 && f1->shape[0] <= 1 << 20 ? (int)f1->shape[0] : 4 * c->hidden;
    const silt_st_tensor *yt = find(st, pre, orig ? "y_embedder.embedding_table.weight"
                                                  : "transformer_blocks.0.norm1.emb.class_embedder.embedding_table.weight");
    c->num_classes = yt && yt->ndim == 2 && yt->shape[0] >= 2 && yt->shape[0] <= 10000001 ? (int)yt->shape[0] - 1 : 1000;
    int v;
    if (orig) {
        const silt_st_tensor *pe = find(st, pre, "pos_embed");
        c->input_size = 32;
        if (cfg_int(j, "input_size", &v)) c->input_size = v;
        if (pe && pe->ndim == 3 && pe->shape[1] >= 1) {
            int64_t g = (int64_t)llround(sqrt((double)pe->shape[1]));
            if (g * g != pe->shape[1])
                return SILT_FAIL(SILT_ERR_SHAPE, "tensor '%spos_embed' holds %lld tokens, not a square grid", pre,
                                 (long long)pe->shape[1]);
            if (g * c->patch != c->input_size && cfg_int(j, "input_size", &v))
                return SILT_FAIL(SILT_ERR_FORMAT, "config input_size %d disagrees with '%spos_embed' (%lldx%lld patches of %d)",
                                 v, pre, (long long)g, (long long)g, c->patch);
            c->input_size = (int)(g * c->patch);
        }
        if (cfg_int(j, "num_heads", &v)) c->heads = v;
        if (cfg_int(j, "num_classes", &v) && v != c->num_classes)
            return SILT_FAIL(SILT_ERR_FORMAT, "config num_classes %d disagrees with the class table (%d classes + null)", v,
                             c->num_classes);
        *mlp_eps = DIT_LN_EPS;
    } else {
        c->input_size = 32;  // DiT-XL/2-256's sample_size, when the file has no config
        if (cfg_int(j, "sample_size", &v)) c->input_size = v;
        int hd;
        if (cfg_int(j, "num_attention_heads", &v)) {
            c->heads = v;
            if (cfg_int(j, "attention_head_dim", &hd) && (int64_t)hd * v != c->hidden)
                return SILT_FAIL(SILT_ERR_FORMAT, "config heads %d x head_dim %d != hidden %d", v, hd, c->hidden);
        }
        if (cfg_int(j, "num_embeds_ada_norm", &v) && v != c->num_classes)
            return SILT_FAIL(SILT_ERR_FORMAT, "config num_embeds_ada_norm %d disagrees with the class table (%d + null)", v,
                             c->num_classes);
        const char *nt = cfg_str(j, "norm_type"), *act = cfg_str(j, "activation_fn");
        if (nt && strcmp(nt, "ada_norm_zero"))
            return SILT_FAIL(SILT_ERR_UNSUPPORTED, "DiT: norm_type '%s' (only ada_norm_zero)", nt);
        if (act && strcmp(act, "gelu-approximate"))
            return SILT_FAIL(SILT_ERR_UNSUPPORTED, "DiT: activation_fn '%s' (only gelu-approximate)", act);
        double eps;
        *mlp_eps = cfg_num(j, "norm_eps", &eps) ? (float)eps : 1e-5f;
    }
    if (c->heads == 0) c->heads = standard_heads(c->hidden);
    if (c->heads == 0)
        return SILT_FAIL(SILT_ERR_FORMAT,
                         "DiT hidden size %d is not a standard config: add the head count as 'config' metadata "
                         "({\"%s\": N})", c->hidden, orig ? "num_heads" : "num_attention_heads");
    c->guided_channels = 0;  // model_new picks the layout's default
    return check_config(c);
}

silt_status dit_load(const silt_safetensors *st, dit_model **out) {
    if (!st || !out) return SILT_FAIL(SILT_ERR_ARG, "dit_load: NULL argument");
    static const char *const prefixes[] = {"", "model.diffusion_model."};
    const char *pre = NULL;
    dit_layout layout = DIT_LAYOUT_ORIGINAL;
    for (int i = 0; i < 2 && !pre; i++) {
        if (find(st, prefixes[i], "x_embedder.proj.weight")) { pre = prefixes[i]; layout = DIT_LAYOUT_ORIGINAL; }
        else if (find(st, prefixes[i], "pos_embed.proj.weight")) { pre = prefixes[i]; layout = DIT_LAYOUT_DIFFUSERS; }
    }
    if (!pre)
        return SILT_FAIL(SILT_ERR_FORMAT, "not a DiT checkpoint: no 'x_embedder.proj.weight' (original layout) or "
                                         "'pos_embed.proj.weight' (diffusers layout), with or without the prefix "
                                         "'model.diffusion_model.'");
    json_cfg j = {NULL, NULL};
    const char *meta = silt_safetensors_metadata(st, "config");
    if (meta) {
        silt_status s = silt_json_parse(meta, strlen(meta), 64, &j.doc);
        if (s != SILT_OK) return SILT_FAIL(s, "DiT: the 'config' metadata is not valid JSON: %s", silt_last_error_message());
        j.root = silt_json_root(j.doc);
        if (j.root->type != SILT_JSON_OBJECT) {
            silt_json_free(j.doc);
            return SILT_FAIL(SILT_ERR_FORMAT, "DiT: the 'config' metadata is not a JSON object");
        }
    }
    dit_config c;
    float mlp_eps = 0;
    silt_status s = infer_config(st, pre, layout, &j, &c, &mlp_eps);
    silt_json_free(j.doc);
    if (s != SILT_OK) return s;
    dit_model *m = model_new(&c);
    if (!m) return SILT_ERR_OOM;
    m->mlp_ln_eps = mlp_eps;
    dit_source src = {.random = false, .wl = silt_weights_begin(st, pre)};
    if (!src.wl) { dit_free(m); return SILT_ERR_OOM; }
    // Some conversions persist diffusers' recomputed position buffer; it is ignored.
    if (layout == DIT_LAYOUT_DIFFUSERS) silt_weights_skip(src.wl, "pos_embed.pos_embed");
    s = build(m, &src);
    if (src.wl) {
        if (s == SILT_OK) s = silt_weights_end(src.wl);
        else silt_weights_abort(src.wl);
    }
    if (s != SILT_OK) { dit_free(m); return s; }
    *out = m;
    return SILT_OK;
}

// --- forward --------------------------------------------------------------------------

static bool perturb_active(const silt_perturb *p, int layer) {
    return p && p->kind != SILT_PERTURB_NONE && p->row_begin < p->row_end && silt_perturb_layer(p, layer);
}

// Self-attention of block `layer` with the perturbation of rows [rb, re).
// q, k, v: (B, H, T, Dh) -> (B, H, T, Dh).
// Whether layer's attention is plain, or SoftPAG (the identity map mixed in
// by the attention kernel's epilogue), for which head_u below suffices.
static bool plain_attention(const silt_perturb *p, int layer) {
    return !perturb_active(p, layer) || p->kind == SILT_PERTURB_SKIP;
}
static bool epilogue_attention(const silt_perturb *p, int layer) {
    return plain_attention(p, layer) || p->kind == SILT_PERTURB_IDENTITY || p->kind == SILT_PERTURB_IDENTITY_IMAGE;
}

// SoftPAG's (B, H) strengths for the attention epilogue, (1-u) Attn + u V:
// the layer's u on the perturbed rows, 0 elsewhere (host memory, arena).
static float *softpag_u(silt_graph *g, const silt_perturb *p, int layer, int64_t B, int64_t H) {
    float *hu = silt_arena_calloc(silt_graph_arena(g), sizeof(float) * (size_t)(B * H));
    if (!hu) { silt_graph_fail(g, SILT_ERR_OOM); return NULL; }
    for (int64_t r = p->row_begin; r < p->row_end; r++)
        for (int h = 0; h < H; h++) hu[r * H + h] = silt_perturb_u(p, layer, h);
    return hu;
}

static silt_tensor *attention(silt_graph *g, int layer, silt_tensor *q, silt_tensor *k, silt_tensor *v,
                              const silt_perturb *p, int gh, int gw) {
    if (!q || !k || !v) return NULL;
    if (plain_attention(p, layer)) return silt_attention(g, q, k, v, NULL);
    int64_t B = q->shape[0], H = q->shape[1], rb = p->row_begin, R = p->row_end - p->row_begin;
    if (epilogue_attention(p, layer)) {
        float *hu = softpag_u(g, p, layer, B, H);
        if (!hu) return NULL;
        silt_attn_opts o = {.head_u = hu};
        return silt_attention(g, q, k, v, &o);
    }
    float u[1024];  // heads per layer; checked in dit_forward
    for (int h = 0; h < H; h++) u[h] = silt_perturb_u(p, layer, h);
    silt_tensor *a = silt_attention(g, q, k, v, NULL), *tgt;
    silt_tensor *vs = silt_slice(g, v, 0, rb, R);
    if (p->kind == SILT_PERTURB_UNIFORM) {
        tgt = silt_mean_dim(g, vs, 2, true);  // (R, H, 1, Dh): uniform attention gives the mean value
    } else {
        silt_tensor *qb = dit_seg_blur(g, silt_slice(g, q, 0, rb, R), gh, gw, p->seg_sigma, u);
        tgt = silt_attention(g, qb, silt_slice(g, k, 0, rb, R), vs, NULL);
    }
    return dit_head_mix(g, a, tgt, rb, u);
}

// One DiT block (models.py DiTBlock; diffusers BasicTransformerBlock with ada_norm_zero).
// x: (B, T, D); sc = SiLU(c): (B, D).
static silt_tensor *block_core(silt_graph *g, const dit_model *m, int layer, silt_tensor *x, silt_tensor *sc,
                               const silt_perturb *p, int gh, int gw) {
    const dit_block *b = &m->blocks[layer];
    int64_t D = m->cfg.hidden, B = x ? x->shape[0] : 0, T = x ? x->shape[1] : 0;
    silt_tensor *mod[6];
    if (silt_split(g, silt_linear(g, sc, b->ada_w, b->ada_b), 1, (const int64_t[]){D, D, D, D, D, D}, 6, mod))
        return NULL;
    // With bf16 weights (inference) the adaLN and GELU outputs are written
    // straight as bf16, the linears' input type: fewer and smaller passes.
    silt_tensor *h = silt_linear_takes_bf16(g, b->qkv_w)
                         ? silt_ln_modulate_bf16(g, x, mod[0], mod[1], DIT_LN_EPS)
                         : silt_modulate(g, silt_layernorm(g, x, NULL, NULL, DIT_LN_EPS), mod[0], mod[1]);
    silt_tensor *a, *qkv_out = silt_linear(g, h, b->qkv_w, b->qkv_b);
    int64_t H = m->cfg.heads;
    if (silt_linear_takes_bf16(g, b->proj_w) && epilogue_attention(p, layer) &&
        dit_attention_qkv_bf16_takes(g, D / H)) {
        // q, k, v read in place from the qkv output and the heads written
        // back together as bf16 for proj: no split pass, no merge pass.
        float *hu = NULL;
        if (!plain_attention(p, layer) && !(hu = softpag_u(g, p, layer, B, H))) return NULL;
        a = dit_attention_qkv_bf16(g, qkv_out, (int)H, hu);
    } else {
        silt_tensor *qkv[3];
        if (dit_split_qkv(g, qkv_out, (int)H, qkv)) return NULL;
        a = attention(g, layer, qkv[0], qkv[1], qkv[2], p, gh, gw);
        // Heads back together (as bf16 when proj takes it).
        a = silt_linear_takes_bf16(g, b->proj_w)
                ? dit_merge_heads_bf16(g, a)
                : silt_reshape(g, silt_transpose(g, a, 1, 2), 3, (const int64_t[]){B, T, D});
    }
    x = silt_gated_add(g, x, mod[2], silt_linear(g, a, b->proj_w, b->proj_b));
    if (silt_linear_takes_bf16(g, b->fc1_w) && silt_linear_takes_bf16(g, b->fc2_w)) {
        h = silt_ln_modulate_bf16(g, x, mod[3], mod[4], m->mlp_ln_eps);
        h = silt_linear_gelu_bf16(g, h, b->fc1_w, b->fc1_b);
    } else {
        h = silt_modulate(g, silt_layernorm(g, x, NULL, NULL, m->mlp_ln_eps), mod[3], mod[4]);
        h = silt_gelu(g, silt_linear(g, h, b->fc1_w, b->fc1_b), 1);
    }
    h = silt_linear(g, h, b->fc2_w, b->fc2_b);
    return silt_gated_add(g, x, mod[5], h);
}

// SLG: rows [rb, re) skip the block; the others run it (only they are computed).
static silt_tensor *block(silt_graph *g, const dit_model *m, int layer, silt_tensor *x, silt_tensor *sc,
                          const silt_perturb *p, int gh, int gw) {
    if (!x || !sc) return NULL;
    if (!perturb_active(p, layer) || p->kind != SILT_PERTURB_SKIP) return block_core(g, m, layer, x, sc, p, gh, gw);
    int64_t B = x->shape[0], rb = p->row_begin, re = p->row_end;
    if (rb == 0 && re == B) return x;
    silt_tensor *xs[2], *ss[2];
    int n = 0;
    if (rb > 0) { xs[n] = silt_slice(g, x, 0, 0, rb); ss[n++] = silt_slice(g, sc, 0, 0, rb); }
    if (re < B) { xs[n] = silt_slice(g, x, 0, re, B - re); ss[n++] = silt_slice(g, sc, 0, re, B - re); }
    silt_tensor *xk = n == 1 ? xs[0] : silt_concat(g, xs, 2, 0), *sk = n == 1 ? ss[0] : silt_concat(g, ss, 2, 0);
    silt_tensor *y = block_core(g, m, layer, xk, sk, NULL, gh, gw);
    if (!y) return NULL;
    silt_tensor *parts[3];
    int np = 0;
    if (rb > 0) parts[np++] = n == 1 && re == B ? y : silt_slice(g, y, 0, 0, rb);
    parts[np++] = silt_slice(g, x, 0, rb, re - rb);
    if (re < B) parts[np++] = rb == 0 ? y : silt_slice(g, y, 0, rb, B - re);
    return silt_concat(g, parts, np, 0);
}

silt_tensor *dit_forward(silt_graph *g, const dit_model *m, silt_tensor *x, const float *t, const int32_t *y,
                         const silt_perturb *p) {
    if (!x) return NULL;
    const dit_config *c = m ? &m->cfg : NULL;
    if (!m || !t || !y) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "dit_forward: NULL model, timesteps or labels"));
        return NULL;
    }
    char buf[64];
    if (x->device != silt_graph_device(g) || dit_device(m) != x->device) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_UNSUPPORTED, "dit_forward: x on %s, model on %s, graph on %s (all must agree)",
                                     silt_device_name(x->device), silt_device_name(dit_device(m)),
                                     silt_device_name(silt_graph_device(g))));
        return NULL;
    }
    if (x->dtype != SILT_F32 || x->ndim != 4 || x->shape[1] != c->in_channels ||
        x->shape[2] % c->patch || x->shape[3] % c->patch ||
        (c->layout == DIT_LAYOUT_ORIGINAL && (x->shape[2] != c->input_size || x->shape[3] != c->input_size))) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "dit_forward: x %s must be f32 (B, %d, H, W) with H, W multiples of %d%s",
                                     silt_shape_str(x, buf, sizeof buf), c->in_channels, c->patch,
                                     c->layout == DIT_LAYOUT_ORIGINAL ? " and H = W = input_size (original layout)" : ""));
        return NULL;
    }
    int64_t B = x->shape[0], D = c->hidden;
    int gh = (int)(x->shape[2] / c->patch), gw = (int)(x->shape[3] / c->patch);
    if (p && p->kind != SILT_PERTURB_NONE) {
        if (p->kind < 0 || p->kind >= SILT_PERTURB_COUNT || p->row_begin < 0 || p->row_begin > p->row_end ||
            p->row_end > B || c->heads > 1024 || (p->kind == SILT_PERTURB_SEG && !(p->seg_sigma > 0))) {
            silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "dit_forward: perturbation kind %d rows [%d, %d) of batch %lld%s",
                                         (int)p->kind, p->row_begin, p->row_end, (long long)B,
                                         p->kind == SILT_PERTURB_SEG ? " (SEG needs seg_sigma > 0)" : ""));
            return NULL;
        }
    }
    // Tokens + position table (recomputed for a grid other than input_size, as
    // diffusers' PatchEmbed does: positions scaled to the base grid).
    silt_tensor *h = dit_patchify(g, x, m->x_w, m->x_b, c->patch);
    silt_tensor *pos = m->pos;
    int base = c->input_size / c->patch;
    if (gh != base || gw != base) {
        float *tab = silt_arena_alloc(silt_graph_arena(g), sizeof(float) * (size_t)gh * (size_t)gw * (size_t)D);
        if (!tab) { silt_graph_fail(g, SILT_ERR_OOM); return NULL; }
        dit_sincos_2d(tab, (int)D, gh, gw, (double)base, 1.0);
        pos = silt_graph_upload(g, SILT_F32, 3, (const int64_t[]){1, (int64_t)gh * gw, D}, tab);
        if (!pos) return NULL;
    }
    h = silt_add(g, h, pos);
    // Conditioning c = t_embedder(t) + y_embedder(y), once per distinct embedder.
    silt_tensor *tf = dit_timestep_embedding(g, t, B, DIT_FREQ_DIM, true, m->t_shift, DIT_MAX_PERIOD);
    silt_tensor *ids = silt_graph_upload(g, SILT_I32, 1, &B, y);
    if (!ids) return NULL;
    silt_tensor **sc = silt_arena_alloc(silt_graph_arena(g), sizeof *sc * (size_t)m->n_emb);
    if (!sc) { silt_graph_fail(g, SILT_ERR_OOM); return NULL; }
    for (int e = 0; e < m->n_emb; e++) {
        const dit_embedder *em = &m->emb[e];
        silt_tensor *te = silt_linear(g, silt_silu(g, silt_linear(g, tf, em->t1_w, em->t1_b)), em->t2_w, em->t2_b);
        sc[e] = silt_silu(g, silt_add(g, te, silt_embedding(g, ids, em->y_table)));
    }
    for (int l = 0; l < c->depth; l++) h = block(g, m, l, h, sc[m->blocks[l].emb], p, gh, gw);
    // Final layer: conditioned by the (first) embedder.
    silt_tensor *mod[2];
    if (silt_split(g, silt_linear(g, sc[0], m->fin_ada_w, m->fin_ada_b), 1, (const int64_t[]){D, D}, 2, mod))
        return NULL;
    h = silt_modulate(g, silt_layernorm(g, h, NULL, NULL, DIT_LN_EPS), mod[0], mod[1]);
    h = silt_linear(g, h, m->fin_w, m->fin_b);
    return dit_unpatchify(g, h, gh, gw, c->patch, c->out_channels);
}
