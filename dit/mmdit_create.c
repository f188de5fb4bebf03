// MMDiT from scratch: the config check, random initialisation, the parameter
// table (diffusers names) the trainer walks, and saving in the diffusers
// layout. One walk over the model (walk_model) names every tensor once; it
// allocates and initialises them for mmdit_create and only indexes them for
// a loaded model, so the names, shapes and order cannot drift apart.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "dit/embed.h"
#include "dit/mmdit_internal.h"

#define TEMB_DIM 256  // sinusoidal timestep features (diffusers Timesteps(256))

typedef enum init_kind { INIT_XAVIER, INIT_ZERO, INIT_ONE, INIT_NORMAL_002 } init_kind;

typedef struct walk {
    mmdit_model *m;
    bool create;    // allocate + initialise; else the tensors must exist
    uint64_t seed;
    int cap;
    silt_status s;  // first failure; later visits do nothing
} walk;

// Xavier (Glorot & Bengio 2010) uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)),
// fan_out = shape[0], fan_in = the rest (torch's xavier_uniform_ on a 2-D view,
// as DiT does for the patch conv: w.view(w.shape[0], -1)).
static void init_tensor(silt_tensor *t, init_kind k, uint64_t seed, uint64_t stream) {
    int64_t n = silt_numel(t);
    float *d = silt_f32(t);
    switch (k) {
    case INIT_XAVIER: {
        double fan_out = (double)t->shape[0], fan_in = (double)n / fan_out;
        float a = (float)sqrt(6.0 / (fan_in + fan_out));
        silt_rng_uniform(d, n, seed, stream, 0);
        for (int64_t i = 0; i < n; i++) d[i] = (2.0f * d[i] - 1.0f) * a;
        break;
    }
    case INIT_NORMAL_002:
        silt_rng_normal(d, n, seed, stream, 0);
        for (int64_t i = 0; i < n; i++) d[i] *= 0.02f;
        break;
    case INIT_ONE:
        for (int64_t i = 0; i < n; i++) d[i] = 1.0f;
        break;
    case INIT_ZERO: break;  // silt_tensor_create zero-fills
    }
}

static void visit(walk *w, const char *name, silt_tensor **slot, int ndim, const int64_t *shape, init_kind init,
                  bool no_decay) {
    if (w->s != SILT_OK) return;
    mmdit_model *m = w->m;
    if (m->n_params == w->cap) {
        int cap = w->cap ? 2 * w->cap : 64;
        mmdit_param_entry *p = realloc(m->params, (size_t)cap * sizeof *p);
        if (!p) { w->s = SILT_FAIL(SILT_ERR_OOM, "mmdit: out of memory"); return; }
        m->params = p;
        w->cap = cap;
    }
    if (w->create) {
        *slot = silt_tensor_create_f32(ndim, shape, true);
        if (!*slot) { w->s = SILT_FAIL(SILT_ERR_OOM, "mmdit: out of memory for %s", name); return; }
        init_tensor(*slot, init, w->seed, (uint64_t)m->n_params);
    } else {
        bool ok = *slot && (*slot)->ndim == ndim;
        for (int d = 0; ok && d < ndim; d++) ok = (*slot)->shape[d] == shape[d];
        if (!ok) { w->s = SILT_FAIL(SILT_ERR_ARG, "mmdit: tensor %s is missing or misshaped", name); return; }
    }
    mmdit_param_entry *e = &m->params[m->n_params++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->t = *slot;
    e->no_decay = no_decay;
}

// prefix.weight (out, in) and prefix.bias (out).
static void lin(walk *w, const char *prefix, int64_t out, int64_t in, silt_tensor **wt, silt_tensor **b,
                init_kind init) {
    char nm[MMDIT_NAME_MAX];
    snprintf(nm, sizeof nm, "%s.weight", prefix);
    visit(w, nm, wt, 2, (int64_t[]){out, in}, init, false);
    snprintf(nm, sizeof nm, "%s.bias", prefix);
    visit(w, nm, b, 1, (int64_t[]){out}, INIT_ZERO, true);
}

static void norm_w(walk *w, const char *name, silt_tensor **slot, int64_t n) {
    visit(w, name, slot, 1, (int64_t[]){n}, INIT_ONE, true);
}

static void walk_attn(walk *w, const char *pre, mmdit_attn *a, bool joint, bool ctx_out) {
    const mmdit_config *c = &w->m->cfg;
    int64_t D = c->hidden;
    char nm[MMDIT_NAME_MAX];
#define N(suffix) (snprintf(nm, sizeof nm, "%s%s", pre, suffix), nm)
    lin(w, N("to_q"), D, D, &a->to_q_w, &a->to_q_b, INIT_XAVIER);
    lin(w, N("to_k"), D, D, &a->to_k_w, &a->to_k_b, INIT_XAVIER);
    lin(w, N("to_v"), D, D, &a->to_v_w, &a->to_v_b, INIT_XAVIER);
    if (c->qk_norm) {
        norm_w(w, N("norm_q.weight"), &a->norm_q, c->head_dim);
        norm_w(w, N("norm_k.weight"), &a->norm_k, c->head_dim);
    }
    lin(w, N("to_out.0"), D, D, &a->to_out_w, &a->to_out_b, INIT_XAVIER);
    if (joint) {
        lin(w, N("add_q_proj"), D, D, &a->add_q_w, &a->add_q_b, INIT_XAVIER);
        lin(w, N("add_k_proj"), D, D, &a->add_k_w, &a->add_k_b, INIT_XAVIER);
        lin(w, N("add_v_proj"), D, D, &a->add_v_w, &a->add_v_b, INIT_XAVIER);
        if (c->qk_norm) {
            norm_w(w, N("norm_added_q.weight"), &a->norm_added_q, c->head_dim);
            norm_w(w, N("norm_added_k.weight"), &a->norm_added_k, c->head_dim);
        }
        if (ctx_out) lin(w, N("to_add_out"), D, D, &a->to_add_out_w, &a->to_add_out_b, INIT_XAVIER);
    }
#undef N
}

static void walk_block(walk *w, int i, mmdit_block *b) {
    const mmdit_config *c = &w->m->cfg;
    int64_t D = c->hidden;
    b->pre_only = i == c->depth - 1;
    b->dual = i < c->n_dual;
    char pre[48], nm[MMDIT_NAME_MAX];
    snprintf(pre, sizeof pre, "transformer_blocks.%d.", i);
#define N(suffix) (snprintf(nm, sizeof nm, "%s%s", pre, suffix), nm)
    lin(w, N("norm1.linear"), (b->dual ? 9 : 6) * D, D, &b->norm1_w, &b->norm1_b, INIT_ZERO);
    lin(w, N("norm1_context.linear"), (b->pre_only ? 2 : 6) * D, D, &b->norm1_context_w, &b->norm1_context_b,
        INIT_ZERO);
    walk_attn(w, N("attn."), &b->attn, true, !b->pre_only);
    if (b->dual) walk_attn(w, N("attn2."), &b->attn2, false, false);
    lin(w, N("ff.net.0.proj"), 4 * D, D, &b->ff0_w, &b->ff0_b, INIT_XAVIER);
    lin(w, N("ff.net.2"), D, 4 * D, &b->ff2_w, &b->ff2_b, INIT_XAVIER);
    if (!b->pre_only) {
        lin(w, N("ff_context.net.0.proj"), 4 * D, D, &b->ffc0_w, &b->ffc0_b, INIT_XAVIER);
        lin(w, N("ff_context.net.2"), D, 4 * D, &b->ffc2_w, &b->ffc2_b, INIT_XAVIER);
    }
#undef N
}

static silt_status walk_model(mmdit_model *m, bool create, uint64_t seed) {
    free(m->params);
    m->params = NULL;
    m->n_params = 0;
    walk w = {.m = m, .create = create, .seed = seed};
    const mmdit_config *c = &m->cfg;
    int64_t D = c->hidden, P = c->patch;
    visit(&w, "pos_embed.proj.weight", &m->patch_w, 4, (int64_t[]){D, c->in_channels, P, P}, INIT_XAVIER, false);
    visit(&w, "pos_embed.proj.bias", &m->patch_b, 1, (int64_t[]){D}, INIT_ZERO, true);
    lin(&w, "time_text_embed.timestep_embedder.linear_1", D, TEMB_DIM, &m->t1_w, &m->t1_b, INIT_NORMAL_002);
    lin(&w, "time_text_embed.timestep_embedder.linear_2", D, D, &m->t2_w, &m->t2_b, INIT_NORMAL_002);
    lin(&w, "time_text_embed.text_embedder.linear_1", D, c->pooled_dim, &m->y1_w, &m->y1_b, INIT_NORMAL_002);
    lin(&w, "time_text_embed.text_embedder.linear_2", D, D, &m->y2_w, &m->y2_b, INIT_NORMAL_002);
    lin(&w, "context_embedder", D, c->joint_dim, &m->ctx_w, &m->ctx_b, INIT_XAVIER);
    for (int i = 0; i < c->depth; i++) walk_block(&w, i, &m->blocks[i]);
    lin(&w, "norm_out.linear", 2 * D, D, &m->norm_out_w, &m->norm_out_b, INIT_ZERO);
    lin(&w, "proj_out", P * P * c->out_channels, D, &m->proj_w, &m->proj_b, INIT_ZERO);
    return w.s;
}

silt_status mmdit_index_params(mmdit_model *m) { return walk_model(m, false, 0); }

void mmdit_fill_pos(const mmdit_config *c, float *out) {
    // diffusers PatchEmbed: base_size = sample_size // patch = pos_max here,
    // grid_size = pos_embed_max_size = pos_max, interpolation_scale 1.
    dit_sincos_2d(out, c->hidden, c->pos_max, c->pos_max, (double)c->pos_max, 1.0);
}

silt_status mmdit_config_check(const mmdit_config *c) {
    if (!c) return SILT_FAIL(SILT_ERR_ARG, "mmdit: NULL config");
#define RANGE(f, lo, hi) \
    if (c->f < (lo) || c->f > (hi)) return SILT_FAIL(SILT_ERR_ARG, "mmdit: config " #f " = %d (%d..%d)", c->f, lo, hi)
    RANGE(depth, 1, 1024);
    RANGE(heads, 1, 4096);
    RANGE(head_dim, 1, 4096);
    RANGE(hidden, 4, 1 << 16);
    RANGE(patch, 1, 64);
    RANGE(in_channels, 1, 4096);
    RANGE(out_channels, 1, 4096);
    RANGE(joint_dim, 1, 1 << 16);
    RANGE(pooled_dim, 1, 1 << 16);
    RANGE(pos_max, 1, 4096);
    RANGE(n_dual, 0, c->depth);
#undef RANGE
    if (c->hidden != c->heads * c->head_dim)
        return SILT_FAIL(SILT_ERR_ARG, "mmdit: config hidden %d != heads %d x head_dim %d", c->hidden, c->heads,
                         c->head_dim);
    if (c->hidden % 4)
        return SILT_FAIL(SILT_ERR_ARG, "mmdit: config hidden %d is not a multiple of 4 (2D sin-cos table)", c->hidden);
    return SILT_OK;
}

silt_status mmdit_create(const mmdit_config *cfg, uint64_t seed, mmdit_model **out) {
    if (!out) return SILT_FAIL(SILT_ERR_ARG, "mmdit_create: NULL out");
    SILT_TRY(mmdit_config_check(cfg));
    mmdit_model *m = calloc(1, sizeof *m);
    if (!m) return SILT_FAIL(SILT_ERR_OOM, "mmdit: out of memory");
    m->cfg = *cfg;
    m->cfg.layout = MMDIT_LAYOUT_DIFFUSERS;
    m->blocks = calloc((size_t)cfg->depth, sizeof *m->blocks);
    int64_t M = cfg->pos_max;
    m->pos = silt_tensor_create_f32(3, (int64_t[]){1, M * M, cfg->hidden}, false);
    silt_status s = m->blocks && m->pos ? walk_model(m, true, seed) : SILT_FAIL(SILT_ERR_OOM, "mmdit: out of memory");
    if (s != SILT_OK) {
        mmdit_free(m);
        return s;
    }
    mmdit_fill_pos(&m->cfg, silt_f32(m->pos));
    *out = m;
    return SILT_OK;
}

int mmdit_param_count(const mmdit_model *m) { return m ? m->n_params : 0; }

silt_tensor *mmdit_param(mmdit_model *m, int i, const char **name, bool *no_decay) {
    if (!m || i < 0 || i >= m->n_params) return NULL;
    if (name) *name = m->params[i].name;
    if (no_decay) *no_decay = m->params[i].no_decay;
    return m->params[i].t;
}

int mmdit_config_json(const mmdit_config *c, char *buf, size_t n) {
    int len = snprintf(buf, n,
                       "{\"_class_name\": \"SD3Transformer2DModel\", \"sample_size\": %d, \"patch_size\": %d, "
                       "\"in_channels\": %d, \"out_channels\": %d, \"num_layers\": %d, \"attention_head_dim\": %d, "
                       "\"num_attention_heads\": %d, \"joint_attention_dim\": %d, \"caption_projection_dim\": %d, "
                       "\"pooled_projection_dim\": %d, \"pos_embed_max_size\": %d, \"qk_norm\": %s, "
                       "\"dual_attention_layers\": [",
                       c->pos_max * c->patch, c->patch, c->in_channels, c->out_channels, c->depth, c->head_dim,
                       c->heads, c->joint_dim, c->hidden, c->pooled_dim, c->pos_max,
                       c->qk_norm ? "\"rms_norm\"" : "null");
    for (int i = 0; i <= c->n_dual && len >= 0; i++) {
        size_t off = (size_t)len < n ? (size_t)len : n;
        char *at = buf ? buf + off : NULL;  // a size query passes (NULL, 0)
        int k = i < c->n_dual ? snprintf(at, n - off, "%s%d", i ? ", " : "", i) : snprintf(at, n - off, "]}");
        len = k < 0 ? k : len + k;
    }
    return len;
}

silt_status mmdit_save(const mmdit_model *m, const char *path, const char *const *meta_kv) {
    return mmdit_save_as(m, path, meta_kv, SILT_ST_F32);
}

// t's values as dtype in a new buffer (freed by the caller), or t's own data for F32.
static void *tensor_as(const silt_tensor *t, silt_st_dtype dtype, silt_status *s) {
    if (dtype == SILT_ST_F32) return t->data;
    int64_t n = silt_numel(t);
    uint16_t *h = malloc(sizeof(uint16_t) * (size_t)(n ? n : 1));
    if (!h) { *s = SILT_FAIL(SILT_ERR_OOM, "mmdit_save: out of memory"); return NULL; }
    const float *f = t->data;
    for (int64_t i = 0; i < n; i++) h[i] = dtype == SILT_ST_F16 ? silt_f32_to_f16(f[i]) : silt_f32_to_bf16(f[i]);
    return h;
}

silt_status mmdit_save_as(const mmdit_model *m, const char *path, const char *const *meta_kv, silt_st_dtype dtype) {
    if (!m || !path) return SILT_FAIL(SILT_ERR_ARG, "mmdit_save: NULL argument");
    if (dtype != SILT_ST_F32 && dtype != SILT_ST_F16 && dtype != SILT_ST_BF16)
        return SILT_FAIL(SILT_ERR_ARG, "mmdit_save: weights can be stored as F32, F16 or BF16");
    char *cfg = NULL;
    int len = mmdit_config_json(&m->cfg, NULL, 0);
    silt_st_writer *w = silt_st_writer_create();
    if (len > 0) cfg = malloc((size_t)len + 1);
    if (!w || !cfg) {
        silt_st_writer_free(w);
        free(cfg);
        return SILT_FAIL(SILT_ERR_OOM, "mmdit_save: out of memory");
    }
    mmdit_config_json(&m->cfg, cfg, (size_t)len + 1);
    silt_status s = silt_st_writer_set_metadata(w, "config", cfg);
    for (int i = 0; meta_kv && meta_kv[i] && s == SILT_OK; i += 2) {
        if (!meta_kv[i + 1]) {
            s = SILT_FAIL(SILT_ERR_ARG, "mmdit_save: metadata key '%s' has no value", meta_kv[i]);
            break;
        }
        s = silt_st_writer_set_metadata(w, meta_kv[i], meta_kv[i + 1]);
    }
    // The writer keeps pointers until it writes: converted copies live until then.
    void **conv = calloc((size_t)m->n_params + 1, sizeof *conv);
    if (!conv && s == SILT_OK) s = SILT_FAIL(SILT_ERR_OOM, "mmdit_save: out of memory");
    for (int i = 0; i <= m->n_params && s == SILT_OK; i++) {
        const silt_tensor *t = i < m->n_params ? m->params[i].t : m->pos;
        void *d = tensor_as(t, dtype, &s);
        if (!d) break;
        if (d != t->data) conv[i] = d;
        s = silt_st_writer_add(w, i < m->n_params ? m->params[i].name : "pos_embed.pos_embed", dtype, t->ndim,
                               t->shape, d);
    }
    if (s == SILT_OK) s = silt_st_writer_write(w, path);
    silt_st_writer_free(w);
    for (int i = 0; conv && i <= m->n_params; i++) free(conv[i]);
    free(conv);
    free(cfg);
    return s;
}
