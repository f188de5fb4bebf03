// MMDiT checkpoint loading: layout/prefix detection, config inference, and the
// one name map between the diffusers and the original SD3 layout
// (diffusers loaders/single_file_utils.py,
// convert_sd3_transformer_checkpoint_to_diffusers; archs.md section 4.3).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/weights.h"
#include "cuda/cuda.h"
#include "dit/mmdit_internal.h"

#define SD_PREFIX "model.diffusion_model."
#define TRAIN_CKPT_FORMAT "silt-train-checkpoint"  // gen/lib/train_private.h
#define MMDIT_MAX_DEPTH 1024

const char *mmdit_layout_name(mmdit_layout l) {
    switch (l) {
    case MMDIT_LAYOUT_ORIGINAL: return "original";
    case MMDIT_LAYOUT_DIFFUSERS: return "diffusers";
    default: return "?";
    }
}

silt_status mmdit_layout_from_name(const char *name, mmdit_layout *out) {
    for (int l = 0; name && l < MMDIT_LAYOUT_COUNT; l++)
        if (strcmp(name, mmdit_layout_name((mmdit_layout)l)) == 0) {
            if (out) *out = (mmdit_layout)l;
            return SILT_OK;
        }
    return SILT_FAIL(SILT_ERR_ARG, "unknown MMDiT layout '%s' (expected original or diffusers)", name ? name : "(null)");
}

const mmdit_config *mmdit_get_config(const mmdit_model *m) { return m ? &m->cfg : NULL; }

// Calls fn on every weight slot of an attention module / the model (NULL
// slots too): one list for mmdit_free and mmdit_to_device.
typedef void (*slot_fn)(silt_tensor **slot, void *ctx);

static void attn_slots(mmdit_attn *a, slot_fn fn, void *ctx) {
    silt_tensor **f[] = {&a->to_q_w,   &a->to_q_b,   &a->to_k_w,       &a->to_k_b,       &a->to_v_w,
                         &a->to_v_b,   &a->to_out_w, &a->to_out_b,     &a->norm_q,       &a->norm_k,
                         &a->add_q_w,  &a->add_q_b,  &a->add_k_w,      &a->add_k_b,      &a->add_v_w,
                         &a->add_v_b,  &a->to_add_out_w, &a->to_add_out_b, &a->norm_added_q, &a->norm_added_k};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) fn(f[i], ctx);
}

static void model_slots(mmdit_model *m, slot_fn fn, void *ctx) {
    silt_tensor **top[] = {&m->patch_w, &m->patch_b, &m->pos,   &m->t1_w,  &m->t1_b,       &m->t2_w,
                           &m->t2_b,    &m->y1_w,    &m->y1_b,  &m->y2_w,  &m->y2_b,       &m->ctx_w,
                           &m->ctx_b,   &m->norm_out_w, &m->norm_out_b, &m->proj_w, &m->proj_b};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++) fn(top[i], ctx);
    for (int i = 0; m->blocks && i < m->cfg.depth; i++) {
        mmdit_block *b = &m->blocks[i];
        silt_tensor **t[] = {&b->norm1_w, &b->norm1_b, &b->norm1_context_w, &b->norm1_context_b, &b->ff0_w, &b->ff0_b,
                             &b->ff2_w,   &b->ff2_b,   &b->ffc0_w,          &b->ffc0_b,          &b->ffc2_w, &b->ffc2_b};
        for (size_t j = 0; j < sizeof t / sizeof t[0]; j++) fn(t[j], ctx);
        attn_slots(&b->attn, fn, ctx);
        attn_slots(&b->attn2, fn, ctx);
    }
}

// silt_tensor_free_cuda frees CPU and device tensors alike.
static void slot_free(silt_tensor **slot, void *ctx) {
    (void)ctx;
    silt_tensor_free_cuda(*slot);
}

void mmdit_free(mmdit_model *m) {
    if (!m) return;
    model_slots(m, slot_free, NULL);
    free(m->blocks);
    free(m->params);
    free(m);
}

static void slot_to_cuda(silt_tensor **slot, void *ctx) {
    silt_status *s = ctx;
    if (*slot && *s == SILT_OK) *s = silt_tensor_move_to_cuda(*slot);
}

silt_device mmdit_device(const mmdit_model *m) { return m && m->patch_w ? m->patch_w->device : SILT_CPU; }

silt_status mmdit_to_device(mmdit_model *m, silt_device device) {
    if (!m) return SILT_FAIL(SILT_ERR_ARG, "mmdit_to_device: NULL model");
    bool move;
    SILT_TRY(silt_model_move_check("mmdit_to_device", mmdit_device(m), device, &move));
    if (!move) return SILT_OK;
    // In place; a failure half way leaves a mixed model whose forward fails
    // naming the op, and mmdit_free frees both kinds.
    silt_status s = SILT_OK;
    model_slots(m, slot_to_cuda, &s);
    return s;
}

silt_status mmdit_weights_to_bf16(mmdit_model *m) {
    if (!m) return SILT_FAIL(SILT_ERR_ARG, "mmdit_weights_to_bf16: NULL model");
    if (mmdit_device(m) != SILT_CUDA)
        return SILT_FAIL(SILT_ERR_ARG, "mmdit_weights_to_bf16: the model is on %s; move it to cuda first",
                         silt_device_name(mmdit_device(m)));
    silt_tensor *top[] = {m->t1_w, m->t2_w, m->y1_w, m->y2_w, m->ctx_w, m->norm_out_w, m->proj_w};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++) SILT_TRY(silt_tensor_cuda_to_bf16(top[i]));
    for (int l = 0; l < m->cfg.depth; l++) {
        mmdit_block *b = &m->blocks[l];
        const mmdit_attn *a[2] = {&b->attn, &b->attn2};
        silt_tensor *w[] = {b->norm1_w, b->norm1_context_w, b->ff0_w, b->ff2_w, b->ffc0_w, b->ffc2_w};
        for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
            if (w[i]) SILT_TRY(silt_tensor_cuda_to_bf16(w[i]));
        for (int k = 0; k < 2; k++) {
            silt_tensor *aw[] = {a[k]->to_q_w,  a[k]->to_k_w,  a[k]->to_v_w,  a[k]->to_out_w,
                                 a[k]->add_q_w, a[k]->add_k_w, a[k]->add_v_w, a[k]->to_add_out_w};
            for (size_t i = 0; i < sizeof aw / sizeof aw[0]; i++)
                if (aw[i]) SILT_TRY(silt_tensor_cuda_to_bf16(aw[i]));
        }
    }
    return SILT_OK;
}

// --- detection ----------------------------------------------------------------------

typedef struct scan {
    bool train;  // a silt training checkpoint
    const char *prefix;
    mmdit_layout layout;
    int depth;
    bool qk_norm;
    bool dual[MMDIT_MAX_DEPTH];
} scan;

static bool starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

// Block index after "joint_blocks." / "transformer_blocks.", or -1.
static int block_index(const char *s, const char **rest) {
    if (*s < '0' || *s > '9') return -1;
    long v = 0;
    while (*s >= '0' && *s <= '9' && v < MMDIT_MAX_DEPTH) v = v * 10 + (*s++ - '0');
    if (*s != '.' || v >= MMDIT_MAX_DEPTH) return -1;
    *rest = s;
    return (int)v;
}

// A silt training checkpoint (gen/lib/train.h): its tensors sit under "ema."
// (the EMA weights) or under no prefix, beside "adam_m."/"adam_v." moments.
static bool is_train_ckpt(const silt_safetensors *st) {
    const char *f = silt_safetensors_metadata(st, "format");
    return f && !strcmp(f, TRAIN_CKPT_FORMAT);
}

static silt_status detect(const silt_safetensors *st, scan *sc) {
    int n = silt_safetensors_count(st);
    sc->prefix = "";
    if (sc->train) sc->prefix = silt_safetensors_find(st, "ema.proj_out.weight") ? "ema." : "";
    for (int i = 0; i < n && !sc->train; i++)
        if (starts(silt_safetensors_get(st, i)->name, SD_PREFIX)) sc->prefix = SD_PREFIX;
    size_t plen = strlen(sc->prefix);
    bool orig = false, diff = false;
    sc->depth = 0;
    for (int i = 0; i < n; i++) {
        const char *name = silt_safetensors_get(st, i)->name;
        if (!starts(name, sc->prefix)) continue;
        name += plen;
        const char *rest = NULL;
        int idx = -1;
        bool o = starts(name, "joint_blocks."), d = starts(name, "transformer_blocks.");
        if (o) idx = block_index(name + strlen("joint_blocks."), &rest);
        if (d) idx = block_index(name + strlen("transformer_blocks."), &rest);
        if (idx < 0) continue;
        orig |= o;
        diff |= d;
        if (idx + 1 > sc->depth) sc->depth = idx + 1;
        if (starts(rest, ".x_block.attn2.") || starts(rest, ".attn2.")) sc->dual[idx] = true;
        if (strstr(rest, ".attn.ln_q.") || strstr(rest, ".attn.norm_q.")) sc->qk_norm = true;
    }
    if (orig && diff)
        return SILT_FAIL(SILT_ERR_FORMAT, "MMDiT checkpoint mixes 'joint_blocks.*' (original) and "
                                          "'transformer_blocks.*' (diffusers) tensors");
    if (!orig && !diff)
        return SILT_FAIL(SILT_ERR_FORMAT, "not an SD3 MMDiT checkpoint: no '%sjoint_blocks.N.*' or "
                                          "'%stransformer_blocks.N.*' tensors",
                         sc->prefix, sc->prefix);
    sc->layout = orig ? MMDIT_LAYOUT_ORIGINAL : MMDIT_LAYOUT_DIFFUSERS;
    return SILT_OK;
}

static const silt_st_tensor *peek_req(const silt_weights *wl, const char *prefix, const char *name, int ndim,
                                      silt_status *s) {
    const silt_st_tensor *t = silt_weights_peek(wl, name);
    if (!t) {
        *s = SILT_FAIL(SILT_ERR_FORMAT, "missing tensor '%s%s' (the MMDiT config is read from its shape)", prefix, name);
        return NULL;
    }
    if (t->ndim != ndim) {
        *s = SILT_FAIL(SILT_ERR_SHAPE, "tensor '%s' has %d dims, expected %d", t->name, t->ndim, ndim);
        return NULL;
    }
    return t;
}

// What the diffusers "config" JSON metadata says (when a file has one); it
// overrides what the tensor names suggest, so that a tensor the config
// implies but the file lacks is reported as missing.
typedef struct cfgmeta {
    int heads, head_dim, layers;  // 0: absent
    int pos_max;                  // pos_embed_max_size; 0: absent
    int qk;                       // -1 absent, 0 null, 1 "rms_norm"
    int n_dual;                   // -1 absent, else the leading count of dual_attention_layers
} cfgmeta;

// A positive integer member (0 when absent or null).
static silt_status cfg_int(const silt_json *doc, const char *key, int max, int *out) {
    const silt_json_value *v = silt_json_member(doc, silt_json_root(doc), key);
    *out = 0;
    if (!v || v->type == SILT_JSON_NULL) return SILT_OK;
    if (v->type != SILT_JSON_NUMBER || !v->is_int || v->negative || v->big || v->u < 1 || v->u > (uint64_t)max)
        return SILT_FAIL(SILT_ERR_FORMAT, "MMDiT: config %s is %s, expected an integer in [1, %d]", key,
                         v->type == SILT_JSON_NUMBER ? v->str : silt_json_type_name(v->type), max);
    *out = (int)v->u;
    return SILT_OK;
}

static silt_status cfg_parse(const silt_json *doc, cfgmeta *cm) {
    SILT_TRY(cfg_int(doc, "num_attention_heads", 65536, &cm->heads));
    SILT_TRY(cfg_int(doc, "attention_head_dim", 65536, &cm->head_dim));
    SILT_TRY(cfg_int(doc, "num_layers", MMDIT_MAX_DEPTH, &cm->layers));
    SILT_TRY(cfg_int(doc, "pos_embed_max_size", 4096, &cm->pos_max));
    const silt_json_value *v = silt_json_member(doc, silt_json_root(doc), "qk_norm");
    if (v && v->type == SILT_JSON_NULL) cm->qk = 0;
    else if (v && v->type == SILT_JSON_STRING && strcmp(v->str, "rms_norm") == 0) cm->qk = 1;
    else if (v)
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "MMDiT: config qk_norm %s is not supported (only null or \"rms_norm\")",
                         v->type == SILT_JSON_STRING ? v->str : silt_json_type_name(v->type));
    v = silt_json_member(doc, silt_json_root(doc), "dual_attention_layers");
    if (v && v->type == SILT_JSON_ARRAY) {
        // The model runs dual attention in leading blocks only: the list must be 0..n-1.
        cm->n_dual = 0;
        for (const silt_json_value *e = silt_json_child(doc, v); e; e = silt_json_next(doc, e), cm->n_dual++)
            if (e->type != SILT_JSON_NUMBER || !e->is_int || e->negative || e->big || e->u != (uint64_t)cm->n_dual)
                return SILT_FAIL(SILT_ERR_UNSUPPORTED, "MMDiT: config dual_attention_layers must be 0, 1, ..., n-1 "
                                                       "(element %d is %s)",
                                 cm->n_dual, e->str ? e->str : silt_json_type_name(e->type));
    } else if (v && v->type != SILT_JSON_NULL) {
        return SILT_FAIL(SILT_ERR_FORMAT, "MMDiT: config dual_attention_layers is a %s, expected an array",
                         silt_json_type_name(v->type));
    }
    return SILT_OK;
}

static silt_status config_meta(const silt_safetensors *st, cfgmeta *cm) {
    *cm = (cfgmeta){.qk = -1, .n_dual = -1};
    const char *cfg = silt_safetensors_metadata(st, "config");
    if (!cfg) return SILT_OK;
    silt_json *doc = NULL;
    if (silt_json_parse(cfg, strlen(cfg), 64, &doc) != SILT_OK) {
        char why[256];  // copied: SILT_FAIL rewrites the buffer the message lives in
        snprintf(why, sizeof why, "%s", silt_last_error_message());
        return SILT_FAIL(SILT_ERR_FORMAT, "MMDiT: the 'config' metadata is not valid JSON: %s", why);
    }
    silt_status s = cfg_parse(doc, cm);
    silt_json_free(doc);
    return s;
}

static silt_status infer_config(const silt_safetensors *st, const silt_weights *wl, const scan *sc, mmdit_config *c) {
    bool o = sc->layout == MMDIT_LAYOUT_ORIGINAL;
    silt_status s = SILT_OK;
    const silt_st_tensor *pw = peek_req(wl, sc->prefix, o ? "x_embedder.proj.weight" : "pos_embed.proj.weight", 4, &s);
    // A training checkpoint has no position table (rebuilt from the config).
    const silt_st_tensor *pos =
        pw && !sc->train ? peek_req(wl, sc->prefix, o ? "pos_embed" : "pos_embed.pos_embed", 3, &s) : NULL;
    const silt_st_tensor *ce = pw && (pos || sc->train) ? peek_req(wl, sc->prefix, "context_embedder.weight", 2, &s) : NULL;
    const silt_st_tensor *ye =
        ce ? peek_req(wl, sc->prefix, o ? "y_embedder.mlp.0.weight" : "time_text_embed.text_embedder.linear_1.weight",
                      2, &s)
           : NULL;
    const silt_st_tensor *po =
        ye ? peek_req(wl, sc->prefix, o ? "final_layer.linear.weight" : "proj_out.weight", 2, &s) : NULL;
    if (!po) return s;
    *c = (mmdit_config){.layout = sc->layout, .depth = sc->depth, .qk_norm = sc->qk_norm};
    c->hidden = (int)pw->shape[0];
    c->in_channels = (int)pw->shape[1];
    c->patch = (int)pw->shape[2];
    if (pw->shape[2] != pw->shape[3] || c->patch < 1 || c->hidden < 1 || pw->shape[0] > (1 << 20))
        return SILT_FAIL(SILT_ERR_SHAPE, "tensor '%s' [%lld, %lld, %lld, %lld] is not a square patch embedding",
                         pw->name, (long long)pw->shape[0], (long long)pw->shape[1], (long long)pw->shape[2],
                         (long long)pw->shape[3]);
    if (pos) {
        int64_t np = pos->shape[1];
        int64_t M = (int64_t)llround(sqrt((double)np));
        if (pos->shape[0] != 1 || pos->shape[2] != c->hidden || M < 1 || M * M != np)
            return SILT_FAIL(SILT_ERR_SHAPE,
                             "tensor '%s' [%lld, %lld, %lld] is not a square (1, M*M, %d) position table", pos->name,
                             (long long)pos->shape[0], (long long)np, (long long)pos->shape[2], c->hidden);
        c->pos_max = (int)M;
    }
    c->joint_dim = (int)ce->shape[1];
    c->pooled_dim = (int)ye->shape[1];
    int64_t pp = (int64_t)c->patch * c->patch;
    if (po->shape[1] != c->hidden || po->shape[0] % pp != 0)
        return SILT_FAIL(SILT_ERR_SHAPE, "tensor '%s' [%lld, %lld], expected [%lld*out_channels, %d]", po->name,
                         (long long)po->shape[0], (long long)po->shape[1], (long long)pp, c->hidden);
    c->out_channels = (int)(po->shape[0] / pp);
    cfgmeta cm;
    SILT_TRY(config_meta(st, &cm));
    if (sc->train) {
        if (!cm.pos_max || !cm.heads)
            return SILT_FAIL(SILT_ERR_FORMAT, "MMDiT training checkpoint without pos_embed_max_size and "
                                              "num_attention_heads in its 'config' metadata (not written by "
                                              "`gen train --arch mmdit`?)");
        if (c->hidden % 4)
            return SILT_FAIL(SILT_ERR_FORMAT, "MMDiT: hidden size %d is not a multiple of 4", c->hidden);
        c->pos_max = cm.pos_max;
    }
    if (cm.layers) c->depth = cm.layers;
    if (cm.qk >= 0) c->qk_norm = cm.qk == 1;
    c->heads = cm.heads ? cm.heads : c->depth;  // SD3 / SD3.5: num_attention_heads = num_layers
    if (c->hidden % c->heads)
        return SILT_FAIL(SILT_ERR_FORMAT, "MMDiT: hidden size %d is not a multiple of %d heads%s", c->hidden, c->heads,
                         cm.heads ? " (config num_attention_heads)" : " (heads = depth)");
    c->head_dim = c->hidden / c->heads;
    if (cm.head_dim && cm.head_dim != c->head_dim)
        return SILT_FAIL(SILT_ERR_FORMAT, "MMDiT: config attention_head_dim %d x %d heads != hidden size %d",
                         cm.head_dim, c->heads, c->hidden);
    int n_dual = 0;
    while (n_dual < c->depth && sc->dual[n_dual]) n_dual++;
    for (int i = n_dual; i < c->depth; i++)
        if (sc->dual[i])
            return SILT_FAIL(SILT_ERR_UNSUPPORTED, "MMDiT: block %d has attn2 but block %d has none; dual attention "
                                                   "is supported in leading blocks only",
                             i, n_dual);
    if (cm.n_dual >= 0) n_dual = cm.n_dual;
    if (n_dual > c->depth)
        return SILT_FAIL(SILT_ERR_FORMAT, "MMDiT: config dual_attention_layers names %d blocks of %d", n_dual,
                         c->depth);
    c->n_dual = n_dual;
    return SILT_OK;
}

// --- loading, one name map per layout --------------------------------------------------

typedef struct loader {
    silt_weights *wl;
    bool orig;
    bool train;  // a training checkpoint: the position table is rebuilt
    int D;
    silt_status s;  // failures outside silt_weights (splitting a fused qkv)
} loader;

static silt_tensor *get1(loader *L, const char *name, int64_t n0) {
    return silt_weights_get(L->wl, name, 1, (int64_t[]){n0});
}
static silt_tensor *get2(loader *L, const char *name, int64_t n0, int64_t n1) {
    return silt_weights_get(L->wl, name, 2, (int64_t[]){n0, n1});
}

// name.weight (out, in) and name.bias (out); dname in the diffusers layout,
// oname in the original one.
static void lin(loader *L, const char *dname, const char *oname, int64_t out, int64_t in, silt_tensor **w,
                silt_tensor **b) {
    char key[256];
    const char *n = L->orig ? oname : dname;
    snprintf(key, sizeof key, "%s.weight", n);
    *w = get2(L, key, out, in);
    snprintf(key, sizeof key, "%s.bias", n);
    *b = get1(L, key, out);
}

// Rows [r0, r0+n) of a (R, C) tensor (or of a 1-D one) as a new owned tensor.
static silt_tensor *rows_copy(const silt_tensor *t, int64_t r0, int64_t n) {
    int64_t C = t->ndim == 2 ? t->shape[1] : 1;
    int64_t shape[2] = {n, C};
    silt_tensor *o = silt_tensor_create_f32(t->ndim, shape, false);
    if (o) memcpy(silt_f32(o), silt_f32(t) + r0 * C, (size_t)(n * C) * sizeof(float));
    return o;
}

// q, k, v projections: three diffusers tensors, or the original fused qkv
// whose rows are [q; k; v] (torch.chunk(qkv, 3, dim=0) in the converter).
static void qkv(loader *L, const char *dpre, const char *const dnames[3], const char *oname, silt_tensor **w[3],
                silt_tensor **b[3]) {
    char key[256];
    int64_t D = L->D;
    if (!L->orig) {
        for (int i = 0; i < 3; i++) {
            snprintf(key, sizeof key, "%s%s", dpre, dnames[i]);
            lin(L, key, NULL, D, D, w[i], b[i]);
        }
        return;
    }
    silt_tensor *fw = NULL, *fb = NULL;
    lin(L, NULL, oname, 3 * D, D, &fw, &fb);
    if (fw && fb)
        for (int i = 0; i < 3; i++) {
            *w[i] = rows_copy(fw, i * D, D);
            *b[i] = rows_copy(fb, i * D, D);
            if ((!*w[i] || !*b[i]) && L->s == SILT_OK) L->s = SILT_FAIL(SILT_ERR_OOM, "out of memory splitting '%s'", oname);
        }
    silt_tensor_free(fw);
    silt_tensor_free(fb);
}

// Original (shift, scale) rows -> diffusers (scale, shift): swap the halves
// (convert_sd3_to_diffusers.py swap_scale_shift).
static void swap_halves(silt_tensor *t) {
    if (!t) return;
    int64_t half = t->shape[0] / 2, C = t->ndim == 2 ? t->shape[1] : 1;
    float *d = silt_f32(t);
    for (int64_t i = 0; i < half * C; i++) {
        float tmp = d[i];
        d[i] = d[half * C + i];
        d[half * C + i] = tmp;
    }
}

// Per-head RMSNorm weight (head_dim), present only with qk_norm.
static silt_tensor *qk_weight(loader *L, const mmdit_config *c, const char *dname, const char *oname) {
    return c->qk_norm ? get1(L, L->orig ? oname : dname, c->head_dim) : NULL;
}

static void load_block(loader *L, const mmdit_config *c, int i, mmdit_block *b) {
    int64_t D = c->hidden;
    char d[64], o[64], dn[160], on[160];
    snprintf(d, sizeof d, "transformer_blocks.%d.", i);
    snprintf(o, sizeof o, "joint_blocks.%d.", i);
    b->pre_only = i == c->depth - 1;
    b->dual = i < c->n_dual;
    static const char *const to_qkv[3] = {"attn.to_q", "attn.to_k", "attn.to_v"};
    static const char *const add_qkv[3] = {"attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"};
    static const char *const to_qkv2[3] = {"attn2.to_q", "attn2.to_k", "attn2.to_v"};
    mmdit_attn *a = &b->attn;
    snprintf(on, sizeof on, "%sx_block.attn.qkv", o);
    qkv(L, d, to_qkv, on, (silt_tensor **[]){&a->to_q_w, &a->to_k_w, &a->to_v_w},
        (silt_tensor **[]){&a->to_q_b, &a->to_k_b, &a->to_v_b});
    snprintf(on, sizeof on, "%scontext_block.attn.qkv", o);
    qkv(L, d, add_qkv, on, (silt_tensor **[]){&a->add_q_w, &a->add_k_w, &a->add_v_w},
        (silt_tensor **[]){&a->add_q_b, &a->add_k_b, &a->add_v_b});
#define NAMES(dsuf, osuf) (snprintf(dn, sizeof dn, "%s%s", d, dsuf), snprintf(on, sizeof on, "%s%s", o, osuf))
    NAMES("attn.norm_q.weight", "x_block.attn.ln_q.weight");
    a->norm_q = qk_weight(L, c, dn, on);
    NAMES("attn.norm_k.weight", "x_block.attn.ln_k.weight");
    a->norm_k = qk_weight(L, c, dn, on);
    NAMES("attn.norm_added_q.weight", "context_block.attn.ln_q.weight");
    a->norm_added_q = qk_weight(L, c, dn, on);
    NAMES("attn.norm_added_k.weight", "context_block.attn.ln_k.weight");
    a->norm_added_k = qk_weight(L, c, dn, on);
    NAMES("attn.to_out.0", "x_block.attn.proj");
    lin(L, dn, on, D, D, &a->to_out_w, &a->to_out_b);
    if (!b->pre_only) {
        NAMES("attn.to_add_out", "context_block.attn.proj");
        lin(L, dn, on, D, D, &a->to_add_out_w, &a->to_add_out_b);
    }
    if (b->dual) {
        mmdit_attn *a2 = &b->attn2;
        snprintf(on, sizeof on, "%sx_block.attn2.qkv", o);
        qkv(L, d, to_qkv2, on, (silt_tensor **[]){&a2->to_q_w, &a2->to_k_w, &a2->to_v_w},
            (silt_tensor **[]){&a2->to_q_b, &a2->to_k_b, &a2->to_v_b});
        NAMES("attn2.norm_q.weight", "x_block.attn2.ln_q.weight");
        a2->norm_q = qk_weight(L, c, dn, on);
        NAMES("attn2.norm_k.weight", "x_block.attn2.ln_k.weight");
        a2->norm_k = qk_weight(L, c, dn, on);
        NAMES("attn2.to_out.0", "x_block.attn2.proj");
        lin(L, dn, on, D, D, &a2->to_out_w, &a2->to_out_b);
    }
    NAMES("norm1.linear", "x_block.adaLN_modulation.1");
    lin(L, dn, on, (b->dual ? 9 : 6) * D, D, &b->norm1_w, &b->norm1_b);
    NAMES("norm1_context.linear", "context_block.adaLN_modulation.1");
    lin(L, dn, on, (b->pre_only ? 2 : 6) * D, D, &b->norm1_context_w, &b->norm1_context_b);
    if (b->pre_only && L->orig) {
        swap_halves(b->norm1_context_w);
        swap_halves(b->norm1_context_b);
    }
    NAMES("ff.net.0.proj", "x_block.mlp.fc1");
    lin(L, dn, on, 4 * D, D, &b->ff0_w, &b->ff0_b);
    NAMES("ff.net.2", "x_block.mlp.fc2");
    lin(L, dn, on, D, 4 * D, &b->ff2_w, &b->ff2_b);
    if (!b->pre_only) {
        NAMES("ff_context.net.0.proj", "context_block.mlp.fc1");
        lin(L, dn, on, 4 * D, D, &b->ffc0_w, &b->ffc0_b);
        NAMES("ff_context.net.2", "context_block.mlp.fc2");
        lin(L, dn, on, D, 4 * D, &b->ffc2_w, &b->ffc2_b);
    }
#undef NAMES
}

static void load_all(loader *L, mmdit_model *m) {
    const mmdit_config *c = &m->cfg;
    int64_t D = c->hidden, P = c->patch;
    bool o = L->orig;
    m->patch_w = silt_weights_get(L->wl, o ? "x_embedder.proj.weight" : "pos_embed.proj.weight", 4,
                                  (int64_t[]){D, c->in_channels, P, P});
    m->patch_b = get1(L, o ? "x_embedder.proj.bias" : "pos_embed.proj.bias", D);
    int64_t pos_shape[3] = {1, (int64_t)c->pos_max * c->pos_max, D};
    if (L->train) {
        m->pos = silt_tensor_create_f32(3, pos_shape, false);
        if (m->pos) mmdit_fill_pos(c, silt_f32(m->pos));
        else if (L->s == SILT_OK) L->s = SILT_FAIL(SILT_ERR_OOM, "out of memory for the position table");
    } else {
        m->pos = silt_weights_get(L->wl, o ? "pos_embed" : "pos_embed.pos_embed", 3, pos_shape);
    }
    lin(L, "time_text_embed.timestep_embedder.linear_1", "t_embedder.mlp.0", D, 256, &m->t1_w, &m->t1_b);
    lin(L, "time_text_embed.timestep_embedder.linear_2", "t_embedder.mlp.2", D, D, &m->t2_w, &m->t2_b);
    lin(L, "time_text_embed.text_embedder.linear_1", "y_embedder.mlp.0", D, c->pooled_dim, &m->y1_w, &m->y1_b);
    lin(L, "time_text_embed.text_embedder.linear_2", "y_embedder.mlp.2", D, D, &m->y2_w, &m->y2_b);
    lin(L, "context_embedder", "context_embedder", D, c->joint_dim, &m->ctx_w, &m->ctx_b);
    for (int i = 0; i < c->depth; i++) load_block(L, c, i, &m->blocks[i]);
    lin(L, "norm_out.linear", "final_layer.adaLN_modulation.1", 2 * D, D, &m->norm_out_w, &m->norm_out_b);
    if (o) {
        swap_halves(m->norm_out_w);
        swap_halves(m->norm_out_b);
    }
    lin(L, "proj_out", "final_layer.linear", P * P * c->out_channels, D, &m->proj_w, &m->proj_b);
}

silt_status mmdit_load(const silt_safetensors *st, mmdit_model **out) {
    if (!st || !out) return SILT_FAIL(SILT_ERR_ARG, "mmdit_load: NULL argument");
    scan *sc = calloc(1, sizeof *sc);
    mmdit_model *m = calloc(1, sizeof *m);
    if (!sc || !m) {
        free(sc);
        free(m);
        return SILT_FAIL(SILT_ERR_OOM, "out of memory");
    }
    sc->train = is_train_ckpt(st);
    silt_status s = detect(st, sc);
    silt_weights *wl = NULL;
    if (s == SILT_OK) {
        wl = silt_weights_begin(st, sc->prefix);
        if (!wl) s = SILT_ERR_OOM;
    }
    if (s == SILT_OK) s = infer_config(st, wl, sc, &m->cfg);
    if (s == SILT_OK) {
        m->blocks = calloc((size_t)m->cfg.depth, sizeof *m->blocks);
        if (!m->blocks) s = SILT_FAIL(SILT_ERR_OOM, "out of memory");
    }
    if (s == SILT_OK) {
        loader L = {.wl = wl, .orig = sc->layout == MMDIT_LAYOUT_ORIGINAL, .train = sc->train, .D = m->cfg.hidden};
        load_all(&L, m);
        // Not part of the model: the optimiser moments, and "aux." parameters
        // (training-only heads such as REPA's projector, gen/lib/train.h).
        size_t plen = strlen(sc->prefix);
        for (int i = 0; sc->train && i < silt_safetensors_count(st); i++) {
            const char *nm = silt_safetensors_get(st, i)->name;
            if (!*sc->prefix && (starts(nm, "adam_m.") || starts(nm, "adam_v."))) silt_weights_skip(wl, nm);
            else if (starts(nm, sc->prefix) && starts(nm + plen, "aux.")) silt_weights_skip(wl, nm + plen);
        }
        s = silt_weights_end(wl);  // the first load failure, else any unexpected tensor
        wl = NULL;
        if (L.s != SILT_OK) s = L.s;
    }
    silt_weights_abort(wl);
    free(sc);
    if (s == SILT_OK) s = mmdit_index_params(m);
    if (s != SILT_OK) {
        mmdit_free(m);
        return s;
    }
    *out = m;
    return SILT_OK;
}

silt_status mmdit_load_file(const char *path, mmdit_model **out) {
    if (!path || !out) return SILT_FAIL(SILT_ERR_ARG, "mmdit_load_file: NULL argument");
    silt_safetensors *st = NULL;
    SILT_TRY(silt_safetensors_open(path, &st));
    silt_status s = mmdit_load(st, out);
    silt_safetensors_close(st);
    return s;
}
