// world-CLIP (see world_clip.h). Graph-op forward code; the only op of its
// own is the fused symmetric InfoNCE with the clamped logit scale
// (text/world_clip_ops.h, with a CUDA twin).
#include "text/world_clip.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/ops.h"
#include "core/rng.h"
#include "core/weights.h"
#include "cuda/cuda.h"
#include "text/world_clip_ops.h"
#include "text/world_tokenizer.h"

#define WCLIP_MAX_PARAMS 256
#define WCLIP_NAME 64
#define LN_EPS 1e-5f

typedef struct wclip_param_entry {
    char name[WCLIP_NAME];
    silt_tensor *t;
    bool no_decay;
} wclip_param_entry;

// One transformer block's parameters (indices into the model's param table).
typedef struct blk {
    silt_tensor *ln1w, *ln1b, *in_w, *in_b, *out_w, *out_b, *ln2w, *ln2b, *fc_w, *fc_b, *proj_w, *proj_b;
} blk;

struct wclip_model {
    wclip_config c;
    int n;
    wclip_param_entry p[WCLIP_MAX_PARAMS];
    silt_tensor *tok_emb, *tpos, *lnf_w, *lnf_b, *tproj;
    silt_tensor *conv_w, *conv_b, *vcls, *vpos, *lnpre_w, *lnpre_b, *lnpost_w, *lnpost_b, *vproj, *logit_scale;
    blk *tblk, *vblk;
    // The judge head (itm_layers > 0; NULL otherwise).
    silt_tensor *itm_tin_w, *itm_tin_b, *itm_iin_w, *itm_iin_b, *itm_lnf_w, *itm_lnf_b, *itm_head_w, *itm_head_b,
        *itm_loc_w, *itm_loc_b, *itm_rel_w;
    blk *iblk;
};

wclip_config wclip_default_config(void) {
    wclip_config c = {.vocab = txt_world_vocab_size(), .max_len = TXT_WORLD_MAX_LEN, .width = 64, .layers = 2,
                      .heads = 4, .embed_dim = 64, .img_size = 32, .patch = 4, .img_width = 64, .img_layers = 2,
                      .img_heads = 4};
    return c;
}

silt_status wclip_config_check(const wclip_config *c) {
    if (!c) return SILT_FAIL(SILT_ERR_ARG, "wclip: NULL config");
#define RANGE(f, lo, hi) \
    if (c->f < (lo) || c->f > (hi)) return SILT_FAIL(SILT_ERR_ARG, "wclip: config " #f " = %d (%d..%d)", c->f, lo, hi)
    RANGE(vocab, 4, 1 << 20);
    RANGE(max_len, 2, 512);
    RANGE(width, 1, 4096);
    RANGE(layers, 0, 64);
    RANGE(heads, 1, 64);
    RANGE(embed_dim, 1, 4096);
    RANGE(img_size, 1, 1024);
    RANGE(patch, 1, 1024);
    RANGE(img_width, 1, 4096);
    RANGE(img_layers, 0, 64);
    RANGE(img_heads, 1, 64);
    RANGE(img_cls, 0, 1);
    RANGE(itm_layers, 0, 16);
#undef RANGE
    if (c->width % c->heads) return SILT_FAIL(SILT_ERR_ARG, "wclip: width %d not divisible by heads %d", c->width, c->heads);
    if (c->img_width % c->img_heads)
        return SILT_FAIL(SILT_ERR_ARG, "wclip: img_width %d not divisible by img_heads %d", c->img_width, c->img_heads);
    if (c->img_size % c->patch)
        return SILT_FAIL(SILT_ERR_ARG, "wclip: img_size %d not divisible by patch %d", c->img_size, c->patch);
    return SILT_OK;
}

void wclip_free(wclip_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n; i++) silt_tensor_free_cuda(m->p[i].t);  // frees CPU and device tensors alike
    free(m->tblk);
    free(m->vblk);
    free(m->iblk);
    free(m);
}

const wclip_config *wclip_get_config(const wclip_model *m) { return m ? &m->c : NULL; }
int wclip_param_count(const wclip_model *m) { return m ? m->n : 0; }

silt_tensor *wclip_param(const wclip_model *m, int i, const char **name, bool *no_decay) {
    if (!m || i < 0 || i >= m->n) return NULL;
    if (name) *name = m->p[i].name;
    if (no_decay) *no_decay = m->p[i].no_decay;
    return m->p[i].t;
}

silt_tensor *wclip_param_find(const wclip_model *m, const char *name) {
    for (int i = 0; m && name && i < m->n; i++)
        if (!strcmp(m->p[i].name, name)) return m->p[i].t;
    return NULL;
}

silt_device wclip_device(const wclip_model *m) { return m && m->logit_scale ? m->logit_scale->device : SILT_CPU; }

silt_status wclip_to_device(wclip_model *m, silt_device device) {
    if (!m) return SILT_FAIL(SILT_ERR_ARG, "wclip_to_device: NULL model");
    bool move;
    SILT_TRY(silt_model_move_check("wclip_to_device", wclip_device(m), device, &move));
    if (!move) return SILT_OK;
    // In place, tensor by tensor (headers kept, so the block pointers stay
    // valid). logit_scale goes last: it decides wclip_device, so a failure half
    // way leaves a model that still reports cpu and whose forward fails naming
    // the first device weight (as var_to_device).
    silt_status s = SILT_OK;
    for (int i = 0; i < m->n && s == SILT_OK; i++)
        if (m->p[i].t != m->logit_scale) s = silt_tensor_move_to_cuda(m->p[i].t);
    if (s == SILT_OK) s = silt_tensor_move_to_cuda(m->logit_scale);
    return s;
}

// Adds a parameter with init N(0, std) (std > 0), or constant `fill` (std == 0).
static silt_tensor *add_param(wclip_model *m, const char *name, int ndim, const int64_t *shape, double std, float fill,
                              bool no_decay, uint64_t seed) {
    if (m->n >= WCLIP_MAX_PARAMS) return NULL;
    silt_tensor *t = silt_tensor_create_f32(ndim, shape, true);
    if (!t) return NULL;
    wclip_param_entry *e = &m->p[m->n];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->t = t;
    e->no_decay = no_decay;
    int64_t n = silt_numel(t);
    float *d = silt_f32(t);
    if (std > 0) {
        silt_rng_normal(d, n, seed, (uint64_t)m->n, 0);  // stream = parameter index
        for (int64_t i = 0; i < n; i++) d[i] = (float)(d[i] * std);
    } else {
        for (int64_t i = 0; i < n; i++) d[i] = fill;
    }
    m->n++;
    return t;
}

#define V1(a) ((int64_t[]){a})
#define V2(a, b) ((int64_t[]){a, b})

static bool make_blocks(wclip_model *m, blk *bs, const char *tower, int L, int W, uint64_t seed) {
    // CLIP init (openai/CLIP model.py initialize_parameters).
    double attn_std = pow(W, -0.5), proj_std = pow(W, -0.5) * pow(2.0 * (L > 0 ? L : 1), -0.5),
           fc_std = pow(2.0 * W, -0.5);
    char nm[WCLIP_NAME];
    for (int l = 0; l < L; l++) {
        blk *b = &bs[l];
#define P(field, suffix, nd, shape, std, fill, nodecay)                      \
    snprintf(nm, sizeof nm, "%s.layers.%d.%s", tower, l, suffix);           \
    if (!(b->field = add_param(m, nm, nd, shape, std, fill, nodecay, seed))) \
        return false;
        P(ln1w, "ln_1.weight", 1, V1(W), 0, 1, true)
        P(ln1b, "ln_1.bias", 1, V1(W), 0, 0, true)
        P(in_w, "attn.in_proj_weight", 2, V2(3 * W, W), attn_std, 0, false)
        P(in_b, "attn.in_proj_bias", 1, V1(3 * W), 0, 0, true)
        P(out_w, "attn.out_proj.weight", 2, V2(W, W), proj_std, 0, false)
        P(out_b, "attn.out_proj.bias", 1, V1(W), 0, 0, true)
        P(ln2w, "ln_2.weight", 1, V1(W), 0, 1, true)
        P(ln2b, "ln_2.bias", 1, V1(W), 0, 0, true)
        P(fc_w, "mlp.c_fc.weight", 2, V2(4 * W, W), fc_std, 0, false)
        P(fc_b, "mlp.c_fc.bias", 1, V1(4 * W), 0, 0, true)
        P(proj_w, "mlp.c_proj.weight", 2, V2(W, 4 * W), proj_std, 0, false)
        P(proj_b, "mlp.c_proj.bias", 1, V1(W), 0, 0, true)
#undef P
    }
    return true;
}

silt_status wclip_create(const wclip_config *cfg, uint64_t seed, wclip_model **out) {
    if (!out) return SILT_FAIL(SILT_ERR_ARG, "wclip_create: NULL out");
    *out = NULL;
    silt_status s = wclip_config_check(cfg);
    if (s) return s;
    wclip_config c = *cfg;
    wclip_model *m = calloc(1, sizeof *m);
    if (!m) return SILT_FAIL(SILT_ERR_OOM, "wclip: out of memory");
    m->c = c;
    m->tblk = calloc((size_t)(c.layers ? c.layers : 1), sizeof *m->tblk);
    m->vblk = calloc((size_t)(c.img_layers ? c.img_layers : 1), sizeof *m->vblk);
    m->iblk = calloc((size_t)(c.itm_layers ? c.itm_layers : 1), sizeof *m->iblk);
    int64_t W = c.width, IW = c.img_width, G = c.img_size / c.patch;
    bool ok = m->tblk && m->vblk && m->iblk &&
              5 + 12 * (c.layers + c.img_layers + c.itm_layers) + 13 + (c.itm_layers ? 11 : 0) <= WCLIP_MAX_PARAMS;
    ok = ok && (m->tok_emb = add_param(m, "text.token_embedding.weight", 2, V2(c.vocab, W), 0.02, 0, true, seed));
    ok = ok && (m->tpos = add_param(m, "text.positional_embedding", 2, V2(c.max_len, W), 0.01, 0, true, seed));
    ok = ok && make_blocks(m, m->tblk, "text", c.layers, (int)W, seed);
    ok = ok && (m->lnf_w = add_param(m, "text.ln_final.weight", 1, V1(W), 0, 1, true, seed));
    ok = ok && (m->lnf_b = add_param(m, "text.ln_final.bias", 1, V1(W), 0, 0, true, seed));
    ok = ok && (m->tproj = add_param(m, "text_projection", 2, V2(c.embed_dim, W), pow((double)W, -0.5), 0, false, seed));
    ok = ok && (m->conv_w = add_param(m, "visual.conv1.weight", 4, ((int64_t[]){IW, 3, c.patch, c.patch}),
                                      pow(3.0 * c.patch * c.patch, -0.5), 0, false, seed));
    ok = ok && (m->conv_b = add_param(m, "visual.conv1.bias", 1, V1(IW), 0, 0, true, seed));
    // CLIP's class token: N(0, width^-0.5), like the positions.
    if (c.img_cls) ok = ok && (m->vcls = add_param(m, "visual.class_embedding", 1, V1(IW), pow((double)IW, -0.5), 0, true, seed));
    ok = ok && (m->vpos = add_param(m, "visual.positional_embedding", 2, V2(G * G + c.img_cls, IW), pow((double)IW, -0.5), 0,
                                    true, seed));
    ok = ok && (m->lnpre_w = add_param(m, "visual.ln_pre.weight", 1, V1(IW), 0, 1, true, seed));
    ok = ok && (m->lnpre_b = add_param(m, "visual.ln_pre.bias", 1, V1(IW), 0, 0, true, seed));
    ok = ok && make_blocks(m, m->vblk, "visual", c.img_layers, (int)IW, seed);
    ok = ok && (m->lnpost_w = add_param(m, "visual.ln_post.weight", 1, V1(IW), 0, 1, true, seed));
    ok = ok && (m->lnpost_b = add_param(m, "visual.ln_post.bias", 1, V1(IW), 0, 0, true, seed));
    ok = ok && (m->vproj = add_param(m, "visual_projection", 2, V2(c.embed_dim, IW), pow((double)IW, -0.5), 0, false,
                                     seed));
    ok = ok && (m->logit_scale = add_param(m, "logit_scale", 1, V1(1), 0, (float)log(1 / 0.07), true, seed));
    if (c.itm_layers) {  // the judge head last, so a model without it keeps every index (and init stream)
        const int64_t CW = W + c.vocab + c.max_len + WCLIP_RELATION_WIDTH;
        ok = ok && (m->itm_tin_w = add_param(m, "itm.text_in.weight", 2, V2(W, CW), pow((double)W, -0.5), 0, false, seed));
        ok = ok && (m->itm_tin_b = add_param(m, "itm.text_in.bias", 1, V1(W), 0, 0, true, seed));
        ok = ok && (m->itm_iin_w = add_param(m, "itm.img_in.weight", 2, V2(W, IW + WCLIP_ITM_COORDS),
                                             pow((double)(IW + WCLIP_ITM_COORDS), -0.5), 0, false, seed));
        ok = ok && (m->itm_iin_b = add_param(m, "itm.img_in.bias", 1, V1(W), 0, 0, true, seed));
        ok = ok && make_blocks(m, m->iblk, "itm", c.itm_layers, (int)W, seed);
        ok = ok && (m->itm_lnf_w = add_param(m, "itm.ln_final.weight", 1, V1(W), 0, 1, true, seed));
        ok = ok && (m->itm_lnf_b = add_param(m, "itm.ln_final.bias", 1, V1(W), 0, 0, true, seed));
        ok = ok && (m->itm_head_w = add_param(m, "itm.head.weight", 2, V2(1, W), pow((double)W, -0.5), 0, false, seed));
        ok = ok && (m->itm_head_b = add_param(m, "itm.head.bias", 1, V1(1), 0, 0, true, seed));
        ok = ok && (m->itm_loc_w = add_param(m, "itm.loc.weight", 2, V2(2, W), pow((double)W, -0.5), 0, false, seed));
        ok = ok && (m->itm_loc_b = add_param(m, "itm.loc.bias", 1, V1(2), 0, 0, true, seed));
        ok = ok && (m->itm_rel_w = add_param(m, "itm.rel_in.weight", 2, V2(W, 2), 1.0, 0, false, seed));
    }
    if (!ok) {
        wclip_free(m);
        return SILT_FAIL(SILT_ERR_OOM, "wclip: out of memory");
    }
    *out = m;
    return SILT_OK;
}

// --- forward --------------------------------------------------------------------

// Pre-LN residual block (CLIP ResidualAttentionBlock): x + attn(ln_1 x), then
// + mlp(ln_2 x). With a prefix (B, N, W) (the judge head's image tokens) the
// queries are x's rows only and the keys and values the prefix's then x's,
// normalised by the same ln_1; the prefix itself is not updated. mask: an
// additive (Q, N + Q) mask on the graph's device, or NULL.
static silt_tensor *block_ex(silt_graph *g, const blk *b, silt_tensor *prefix, silt_tensor *x, int heads, bool causal,
                             const float *mask) {
    if (!x) return NULL;
    int64_t B = x->shape[0], Q = x->shape[1], W = x->shape[2], N = prefix ? prefix->shape[1] : 0, K = N + Q, D = W / heads;
    silt_tensor *both[2] = {prefix, x};
    silt_tensor *h = silt_layernorm(g, prefix ? silt_concat(g, both, 2, 1) : x, b->ln1w, b->ln1b, LN_EPS);
    silt_tensor *qkv = silt_linear(g, h, b->in_w, b->in_b);
    silt_tensor *parts[3];
    if (!qkv || silt_split(g, qkv, 2, (int64_t[]){W, W, W}, 3, parts)) return NULL;
    if (N) parts[0] = silt_slice(g, parts[0], 1, N, Q);  // queries: x's rows only
    const int perm[4] = {0, 2, 1, 3};
    for (int i = 0; i < 3; i++)
        parts[i] = silt_permute(g, silt_reshape(g, parts[i], 4, (int64_t[]){B, i ? K : Q, heads, D}), perm);
    silt_attn_opts o = {.causal = causal, .mask = mask, .mask_in_graph = mask != NULL};
    silt_tensor *a = silt_attention(g, parts[0], parts[1], parts[2], &o);
    a = silt_reshape(g, silt_permute(g, a, perm), 3, (int64_t[]){B, Q, W});
    x = silt_add(g, x, silt_linear(g, a, b->out_w, b->out_b));
    h = silt_layernorm(g, x, b->ln2w, b->ln2b, LN_EPS);
    // CLIP's text/ViT MLP uses QuickGELU; plain (erf) GELU here, as the brief asks.
    h = silt_linear(g, silt_gelu(g, silt_linear(g, h, b->fc_w, b->fc_b), 0), b->proj_w, b->proj_b);
    return silt_add(g, x, h);
}

static silt_tensor *block(silt_graph *g, const blk *b, silt_tensor *x, int heads, bool causal) {
    return block_ex(g, b, NULL, x, heads, causal, NULL);
}

silt_status wclip_encode_text(silt_graph *g, const wclip_model *m, const int32_t *ids, int64_t B, silt_tensor **tokens,
                              silt_tensor **pooled) {
    if (tokens) *tokens = NULL;
    if (pooled) *pooled = NULL;
    if (!g) return SILT_FAIL(SILT_ERR_ARG, "wclip_encode_text: NULL graph");
    if (!m || !ids || B < 1) return silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "wclip_encode_text: bad arguments"));
    const wclip_config *c = &m->c;
    int64_t T = c->max_len;
    // The one-hot of the pooled position per row is built in host memory (the
    // graph's host arena) and put on the graph's device with the ids.
    float *hsel = silt_arena_alloc(silt_graph_arena(g), (size_t)(B * T) * sizeof *hsel);
    if (!hsel) return silt_graph_fail(g, SILT_FAIL(SILT_ERR_OOM, "wclip_encode_text: out of memory"));
    memset(hsel, 0, (size_t)(B * T) * sizeof *hsel);
    for (int64_t b = 0; b < B; b++) {
        int64_t at = T - 1;
        for (int64_t t = 0; t < T; t++)
            if (ids[b * T + t] == TXT_WORLD_EOS) { at = t; break; }
        hsel[b * T + at] = 1;
    }
    silt_tensor *idt = silt_graph_upload(g, SILT_I32, 2, (int64_t[]){B, T}, ids);
    silt_tensor *sel = silt_graph_upload(g, SILT_F32, 3, (int64_t[]){B, 1, T}, hsel);
    if (!idt || !sel) return silt_graph_status(g);
    silt_tensor *x = silt_add(g, silt_embedding(g, idt, m->tok_emb), m->tpos);
    for (int l = 0; l < c->layers; l++) x = block(g, &m->tblk[l], x, c->heads, true);
    x = silt_layernorm(g, x, m->lnf_w, m->lnf_b, LN_EPS);
    silt_tensor *p = silt_reshape(g, silt_matmul(g, sel, x, false, false), 2, (int64_t[]){B, c->width});
    p = silt_linear(g, p, m->tproj, NULL);
    if (!p) return silt_graph_status(g) ? silt_graph_status(g) : SILT_FAIL(SILT_ERR_ARG, "wclip_encode_text: failed");
    if (tokens) *tokens = x;
    if (pooled) *pooled = p;
    return SILT_OK;
}

int wclip_words_width(const wclip_model *m) { return m ? m->c.vocab + m->c.max_len : 0; }

int wclip_context_width(const wclip_model *m, int channels) {
    if (!m) return 0;
    return m->c.width + (channels >= WCLIP_CTX_WORDS ? wclip_words_width(m) : 0) +
           (channels >= WCLIP_CTX_RELATION ? WCLIP_RELATION_WIDTH : 0);
}

void wclip_relation_channel(const int32_t *ids, int max_len, float *rel) {
    memset(rel, 0, sizeof(float) * (size_t)max_len * WCLIP_RELATION_WIDTH);
    // The caption grammar's relations (world/caption.c): "left of", "right
    // of", "above", "below".
    static const char *const words[4] = {"left", "right", "above", "below"};
    static const float dir[4][2] = {{-1, 0}, {1, 0}, {0, -1}, {0, 1}};
    // Looked up once per row (not per token and word: a training step encodes a batch of rows).
    const int32_t of = txt_world_token_id("of"), on = txt_world_token_id("on");
    int32_t rel_id[4];
    for (int w = 0; w < 4; w++) rel_id[w] = txt_world_token_id(words[w]);
    int k = -1, r = -1, after = 0;  // the relation word, its kind, and where phrase 1 starts
    for (int i = 0; i < max_len && k < 0; i++)
        for (int w = 0; w < 4 && k < 0; w++) {
            if (ids[i] != rel_id[w]) continue;
            if (w >= 2) k = i, r = w, after = i + 1;
            else if (i + 1 < max_len && ids[i + 1] == of) k = i, r = w, after = i + 2;
        }
    if (k < 0) return;
    // Phrase 0: after <bos>, up to the relation word; phrase 1: after it (and
    // "of"), up to "on" (the background), <eos> or the end.
    for (int i = 0; i < k; i++)
        if (ids[i] != TXT_WORLD_BOS && ids[i] != TXT_WORLD_PAD)
            rel[i * 2] = dir[r][0], rel[i * 2 + 1] = dir[r][1];
    for (int i = after; i < max_len; i++) {
        if (ids[i] == on || ids[i] == TXT_WORLD_EOS || ids[i] == TXT_WORLD_PAD) break;
        rel[i * 2] = -dir[r][0], rel[i * 2 + 1] = -dir[r][1];
    }
}

void wclip_token_phrases(const int32_t *ids, int max_len, int8_t *phrase) {
    // Link words end a phrase; "of" after left/right and "the" after "to"
    // belong to the link; "on" starts the background.
    static const char *const link_words[] = {"and", "to", "left", "right", "above", "below"};
    int32_t link[6];
    for (int w = 0; w < 6; w++) link[w] = txt_world_token_id(link_words[w]);
    const int32_t photo = txt_world_token_id("photo"), of = txt_world_token_id("of"), the = txt_world_token_id("the"),
                  on = txt_world_token_id("on");
    int p = 0, i = 0;
    bool in_link = false;
    for (; i < max_len; i++) phrase[i] = -1;
    i = ids[0] == TXT_WORLD_BOS ? 1 : 0;
    if (i + 2 < max_len && ids[i + 1] == photo && ids[i + 2] == of) i += 3;  // "a photo of"
    for (; i < max_len; i++) {
        const int32_t id = ids[i];
        if (id == on || id == TXT_WORLD_EOS || id == TXT_WORLD_PAD) break;
        bool is_link = false;
        for (int w = 0; w < 6; w++) is_link |= id == link[w];
        if (is_link || (in_link && (id == of || id == the))) {
            if (!in_link) p++;
            in_link = true;
            continue;
        }
        in_link = false;
        if (p > 1) break;
        phrase[i] = (int8_t)p;
    }
}

// The grounding targets of one caption (ids, T): for each token of phrase p,
// the mean centre of the scene objects that phrase describes, in [-1, 1] (x
// right, y down, as the judge head's patch coordinates), weight 1 on both
// coordinates; weight 0 for tokens of no phrase or a phrase nothing matches.
void wclip_grounding_targets(const world_reqs *r, const world_scene *sc, const int32_t *ids, int T, float *tgt, float *w) {
    int8_t ph[512];
    wclip_token_phrases(ids, T, ph);
    double cx[WORLD_MAX_PHRASES] = {0}, cy[WORLD_MAX_PHRASES] = {0};
    int n[WORLD_MAX_PHRASES] = {0};
    for (int p = 0; p < r->n_phrases && p < WORLD_MAX_PHRASES; p++) {
        const world_phrase *f = &r->phrases[p];
        for (int o = 0; o < sc->n_objects; o++) {
            const world_object *ob = &sc->objects[o];
            if (ob->shape != f->shape || (f->colour >= 0 && (int)ob->colour != f->colour) ||
                (f->size >= 0 && (int)ob->size != f->size))
                continue;
            cx[p] += ob->cx, cy[p] += ob->cy, n[p]++;
        }
    }
    for (int i = 0; i < T; i++) {
        const int p = ph[i];
        const bool ok = p >= 0 && p < r->n_phrases && n[p] > 0;
        tgt[2 * i] = ok ? (float)(2.0 * cx[p] / n[p] / WORLD_UNITS - 1.0) : 0.0f;
        tgt[2 * i + 1] = ok ? (float)(2.0 * cy[p] / n[p] / WORLD_UNITS - 1.0) : 0.0f;
        w[2 * i] = w[2 * i + 1] = ok ? 1.0f : 0.0f;
    }
}

silt_status wclip_encode_context(silt_graph *g, const wclip_model *m, const int32_t *ids, int64_t B, int channels,
                                 silt_tensor **ctx, silt_tensor **pooled) {
    silt_tensor *tok = NULL;
    if (ctx) *ctx = NULL;
    if (channels < WCLIP_CTX_CLIP || channels > WCLIP_CTX_RELATION)
        return SILT_FAIL(SILT_ERR_ARG, "wclip_encode_context: channels %d (0 CLIP, 1 + words, 2 + relation)", channels);
    SILT_TRY(wclip_encode_text(g, m, ids, B, &tok, pooled));
    if (channels == WCLIP_CTX_CLIP) {
        if (ctx) *ctx = tok;
        return SILT_OK;
    }
    const int64_t T = m->c.max_len, V = m->c.vocab, R = channels >= WCLIP_CTX_RELATION ? WCLIP_RELATION_WIDTH : 0;
    const int64_t W = V + T + R;
    float *hot = silt_arena_alloc(silt_graph_arena(g), (size_t)(B * T * W) * sizeof *hot);
    float *rel = R ? silt_arena_alloc(silt_graph_arena(g), (size_t)(T * R) * sizeof *rel) : NULL;
    if (!hot || (R && !rel)) return silt_graph_fail(g, SILT_FAIL(SILT_ERR_OOM, "wclip_encode_context: out of memory"));
    memset(hot, 0, (size_t)(B * T * W) * sizeof *hot);
    for (int64_t r = 0; r < B * T; r++) {
        int32_t id = ids[r];
        if (id < 0 || id >= V)
            return silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "wclip_encode_context: token id %d outside [0, %lld)", id,
                                                (long long)V));
        hot[r * W + id] = 1;
        hot[r * W + V + r % T] = 1;
    }
    for (int64_t b = 0; R && b < B; b++) {
        wclip_relation_channel(ids + b * T, (int)T, rel);
        for (int64_t i = 0; i < T; i++) memcpy(hot + (b * T + i) * W + V + T, rel + i * R, sizeof(float) * (size_t)R);
    }
    silt_tensor *h = silt_graph_upload(g, SILT_F32, 3, (int64_t[]){B, T, W}, hot);
    silt_tensor *parts[2] = {tok, h};
    silt_tensor *c = h ? silt_concat(g, parts, 2, 2) : NULL;
    if (!c) return silt_graph_status(g) ? silt_graph_status(g) : SILT_FAIL(SILT_ERR_ARG, "wclip_encode_context: failed");
    if (ctx) *ctx = c;
    return SILT_OK;
}

silt_tensor *wclip_encode_image(silt_graph *g, const wclip_model *m, silt_tensor *img, silt_tensor **patch_tokens) {
    if (patch_tokens) *patch_tokens = NULL;
    if (!g || !m || !img) return NULL;
    const wclip_config *c = &m->c;
    if (img->ndim != 4 || img->shape[1] != 3 || img->shape[2] != c->img_size || img->shape[3] != c->img_size) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "wclip_encode_image: image of ndim %d (%lld, %lld, %lld), want (B, 3, %d, %d)",
                                     img->ndim, (long long)img->shape[1], (long long)img->shape[2],
                                     (long long)img->shape[3], c->img_size, c->img_size));
        return NULL;
    }
    int64_t B = img->shape[0], G = c->img_size / c->patch, N = G * G;
    silt_tensor *x = silt_conv2d(g, img, m->conv_w, m->conv_b, c->patch, 0);  // (B, IW, G, G)
    x = silt_permute(g, silt_reshape(g, x, 3, (int64_t[]){B, c->img_width, N}), (const int[]){0, 2, 1});
    if (c->img_cls) {  // the class token leads every row: (B, 1 + N, IW)
        silt_tensor **rows = silt_arena_alloc(silt_graph_arena(g), sizeof(silt_tensor *) * (size_t)(B + 1));
        if (!rows) {
            silt_graph_fail(g, SILT_FAIL(SILT_ERR_OOM, "wclip_encode_image: out of memory"));
            return NULL;
        }
        silt_tensor *cls = silt_reshape(g, m->vcls, 3, (int64_t[]){1, 1, c->img_width});
        for (int64_t b = 0; b < B; b++) rows[b] = cls;
        silt_tensor *clsB = silt_concat(g, rows, (int)B, 0);
        rows[0] = clsB, rows[1] = x;
        x = silt_concat(g, rows, 2, 1);
    }
    x = silt_layernorm(g, silt_add(g, x, m->vpos), m->lnpre_w, m->lnpre_b, LN_EPS);
    for (int l = 0; l < c->img_layers; l++) x = block(g, &m->vblk[l], x, c->img_heads, false);
    x = silt_layernorm(g, x, m->lnpost_w, m->lnpost_b, LN_EPS);
    silt_tensor *pooled = c->img_cls ? silt_reshape(g, silt_slice(g, x, 1, 0, 1), 2, (int64_t[]){B, c->img_width})
                                     : silt_mean_dim(g, x, 1, false);
    silt_tensor *p = silt_linear(g, pooled, m->vproj, NULL);
    if (p && patch_tokens) *patch_tokens = c->img_cls ? silt_slice(g, x, 1, 1, N) : x;
    return p;
}

// --- the judge head ---------------------------------------------------------------

silt_tensor *wclip_itm_logits(silt_graph *g, const wclip_model *m, silt_tensor *patch_tokens, silt_tensor *ctx,
                              int64_t C, silt_tensor **loc) {
    if (loc) *loc = NULL;
    if (!g || !m || !patch_tokens || !ctx) return NULL;
    const wclip_config *c = &m->c;
    if (!c->itm_layers) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "wclip_itm_logits: the model has no judge head (itm_layers 0)"));
        return NULL;
    }
    const int64_t T = c->max_len, W = c->width, CW = wclip_context_width(m, WCLIP_CTX_RELATION);
    if (patch_tokens->ndim != 3 || patch_tokens->shape[2] != c->img_width || C < 1 || ctx->ndim != 3 ||
        ctx->shape[0] != patch_tokens->shape[0] * C || ctx->shape[1] != T || ctx->shape[2] != CW) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "wclip_itm_logits: patch tokens (B, N, %d) and context (B x %lld, %lld, "
                                                     "%lld) do not match",
                                     c->img_width, (long long)C, (long long)T, (long long)CW));
        return NULL;
    }
    const int64_t B = patch_tokens->shape[0], N = patch_tokens->shape[1], Q = C * T, K = N + Q;
    // Caption c's queries see the image and its own T tokens, never another caption's.
    float *mask = silt_arena_alloc(silt_graph_arena(g), sizeof(float) * (size_t)(Q * K));
    if (!mask) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_OOM, "wclip_itm_logits: out of memory"));
        return NULL;
    }
    for (int64_t q = 0; q < Q; q++)
        for (int64_t k = 0; k < K; k++) mask[q * K + k] = k < N || (k - N) / T == q / T ? 0.0f : -INFINITY;
    const float *dmask = silt_graph_device_copy(g, mask, sizeof(float) * (size_t)(Q * K));
    if (!dmask) return NULL;
    // Each patch token gets its centre (x, y) in [-1, 1] (x right, y down): the
    // relation channel's directions can then be compared with positions by the
    // MLPs, rather than read out of the ViT's learned position embeddings.
    const int64_t G = (int64_t)lround(sqrt((double)N));
    float *xy = silt_arena_alloc(silt_graph_arena(g), sizeof(float) * (size_t)(B * N * WCLIP_ITM_COORDS));
    if (!xy || G * G != N) {
        silt_graph_fail(g, G * G != N ? SILT_FAIL(SILT_ERR_SHAPE, "wclip_itm_logits: %lld patch tokens are not a square grid",
                                                  (long long)N)
                                      : SILT_FAIL(SILT_ERR_OOM, "wclip_itm_logits: out of memory"));
        return NULL;
    }
    for (int64_t b = 0; b < B; b++)
        for (int64_t n = 0; n < N; n++) {
            xy[(b * N + n) * 2] = (float)((2.0 * (double)(n % G) + 1.0) / (double)G - 1.0);
            xy[(b * N + n) * 2 + 1] = (float)((2.0 * (double)(n / G) + 1.0) / (double)G - 1.0);
        }
    silt_tensor *pos = silt_graph_upload(g, SILT_F32, 3, (int64_t[]){B, N, WCLIP_ITM_COORDS}, xy);
    silt_tensor *with_pos[2] = {patch_tokens, pos};
    silt_tensor *img = pos ? silt_linear(g, silt_concat(g, with_pos, 2, 2), m->itm_iin_w, m->itm_iin_b) : NULL;
    silt_tensor *x = silt_reshape(g, silt_linear(g, ctx, m->itm_tin_w, m->itm_tin_b), 3, (int64_t[]){B, Q, W});
    // The relation channel (the context's last 2 columns), per token.
    silt_tensor *rel = silt_reshape(g, silt_slice(g, ctx, 2, CW - WCLIP_RELATION_WIDTH, WCLIP_RELATION_WIDTH), 3,
                                    (int64_t[]){B, Q, WCLIP_RELATION_WIDTH});
    for (int l = 0; l < c->itm_layers; l++) {
        x = block_ex(g, &m->iblk[l], img, x, c->heads, false, dmask);  // the image tokens: keys and values only
        if (l) continue;
        // After the first layer each token guesses where its phrase's object
        // is (loc); the product of that guess with the token's relation
        // direction (dx x, dy y) joins its state (itm.rel_in), so that a later
        // token can read "the object said to be left is left" as a sum over
        // the caption's tokens, which attention computes, rather than as a
        // product of two features, which it cannot.
        silt_tensor *lc = silt_reshape(g, silt_linear(g, x, m->itm_loc_w, m->itm_loc_b), 3, (int64_t[]){B, Q, 2});
        if (loc) *loc = silt_reshape(g, lc, 3, (int64_t[]){B * C, T, 2});
        x = silt_add(g, x, silt_linear(g, silt_mul(g, lc, rel), m->itm_rel_w, NULL));
    }
    x = silt_layernorm(g, silt_reshape(g, x, 3, (int64_t[]){B * C, T, W}), m->itm_lnf_w, m->itm_lnf_b, LN_EPS);
    silt_tensor *first = silt_reshape(g, silt_slice(g, x, 1, 0, 1), 2, (int64_t[]){B * C, W});  // each caption's <bos>
    return silt_reshape(g, silt_linear(g, first, m->itm_head_w, m->itm_head_b), 2, (int64_t[]){B, C});
}

// Cosine of rows a (E) and b (E), in double (as wclip_score).
static double cosine(const float *a, const float *b, int E) {
    double dot = 0, na = 0, nb = 0;
    for (int i = 0; i < E; i++) dot += (double)a[i] * b[i], na += (double)a[i] * a[i], nb += (double)b[i] * b[i];
    return dot / (sqrt(na) * sqrt(nb) + 1e-12);
}

silt_status wclip_itm_scores(const wclip_model *m, const float *img, const char *const *captions, int n,
                             double *scores, double *cos) {
    if (!m || !img || !captions || !scores || n < 1) return SILT_FAIL(SILT_ERR_ARG, "wclip_itm_scores: bad arguments");
    if (!m->c.itm_layers) return SILT_FAIL(SILT_ERR_ARG, "wclip_itm_scores: the model has no judge head");
    if (wclip_device(m) != SILT_CPU)
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "wclip_itm_scores: the model is on %s (scoring runs on the cpu)",
                         silt_device_name(wclip_device(m)));
    const int T = m->c.max_len, S = m->c.img_size;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n * (size_t)T);
    silt_graph *g = ids ? silt_graph_create(0) : NULL;
    silt_status s = g ? SILT_OK : SILT_FAIL(SILT_ERR_OOM, "wclip_itm_scores: out of memory");
    for (int i = 0; i < n && !s; i++) s = wclip_tokenize(m, captions[i], ids + (size_t)i * T);
    if (!s) {
        silt_graph_set_grad(g, false);
        silt_tensor *x = silt_graph_new(g, 1, 3, S, S), *patch = NULL, *ctx = NULL, *te = NULL, *ie = NULL;
        if (x) memcpy(x->data, img, (size_t)3 * S * S * sizeof(float));
        if (x && (ie = wclip_encode_image(g, m, x, &patch)) &&
            !(s = wclip_encode_context(g, m, ids, n, WCLIP_CTX_RELATION, &ctx, &te))) {
            silt_tensor *lg = wclip_itm_logits(g, m, patch, ctx, n, NULL);
            const int E = m->c.embed_dim;
            for (int i = 0; lg && i < n; i++) {
                scores[i] = silt_f32(lg)[i];
                if (cos) cos[i] = cosine(silt_f32(ie), silt_f32(te) + (size_t)i * E, E);
            }
        }
        if (!s) s = silt_graph_status(g);
    }
    silt_graph_free(g);
    free(ids);
    return s;
}

// --- symmetric InfoNCE with the clamped logit scale ------------------------------
// The formulas are in text/world_clip_ops.h; the kernels run on the graph's
// device and read logit_scale where it lives.
typedef struct nce_node {
    silt_tensor *sim, *ls, *out, *prow, *pcol;
} nce_node;

static silt_status nce_bwd(silt_graph *g, void *vn) {
    nce_node *n = vn;
    if (!n->out->grad) return SILT_OK;
    float *ds = silt_graph_grad(g, n->sim), *dls = silt_graph_grad(g, n->ls);
    if (silt_graph_status(g) != SILT_OK) return silt_graph_status(g);
    return SILT_GRAPH_BWD(g, wclip_infonce_bwd, ds, dls, n->out->grad, silt_f32(n->sim), silt_f32(n->prow),
                          silt_f32(n->pcol), silt_f32(n->ls), n->sim->shape[0], n->sim->shape[1]);
}

static silt_tensor *infonce(silt_graph *g, silt_tensor *sim, silt_tensor *ls) {
    if (!sim || !ls) return NULL;
    if (silt_graph_check_dev(g, "wclip_loss", sim) != SILT_OK || silt_graph_check_dev(g, "wclip_loss", ls) != SILT_OK)
        return NULL;
    if (sim->ndim != 2 || sim->shape[0] < 1 || sim->shape[1] < sim->shape[0] || silt_numel(ls) != 1) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "wclip_loss: similarity must be (B, M) with 1 <= B <= M"));
        return NULL;
    }
    int64_t B = sim->shape[0], M = sim->shape[1];
    silt_tensor *out = silt_graph_new(g, 1, 0, 0, 0), *pr = silt_graph_new(g, B, M, 0, 0),
                *pc = silt_graph_new(g, B, M, 0, 0);
    if (!out || !pr || !pc) return NULL;
    size_t bytes = (size_t)(2 * B) * sizeof(double);
    if (out->device == SILT_CUDA) {
        double *terms = silt_graph_device_scratch(g, bytes);
        if (!terms) return NULL;
        silt_status s = wclip_infonce_fwd_cuda(silt_f32(out), silt_f32(pr), silt_f32(pc), terms, silt_f32(sim),
                                               silt_f32(ls), B, M);
        if (!silt_graph_done(g, s, out)) return NULL;
    } else {
        double *terms = silt_graph_scratch(g, bytes);
        if (!terms) return NULL;
        wclip_infonce_fwd_cpu(silt_f32(out), silt_f32(pr), silt_f32(pc), terms, silt_f32(sim), silt_f32(ls), B, M);
    }
    if (silt_graph_wants_grad(g, sim, ls, NULL)) {
        out->requires_grad = true;
        nce_node *n = silt_graph_record(g, nce_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (nce_node){.sim = sim, .ls = ls, .out = out, .prow = pr, .pcol = pc};
    }
    return out;
}

silt_tensor *wclip_loss(silt_graph *g, const wclip_model *m, silt_tensor *img_emb, silt_tensor *txt_emb) {
    if (!g || !m || !img_emb || !txt_emb) return NULL;
    silt_tensor *a = silt_l2norm(g, img_emb, 1e-12f), *b = silt_l2norm(g, txt_emb, 1e-12f);
    return infonce(g, silt_matmul(g, a, b, false, true), m->logit_scale);
}

// --- data helpers, score, retrieval ------------------------------------------------

silt_status wclip_tokenize(const wclip_model *m, const char *caption, int32_t *ids) {
    if (!m || !caption || !ids) return SILT_FAIL(SILT_ERR_ARG, "wclip_tokenize: NULL argument");
    int r = txt_world_tokenize(caption, ids, m->c.max_len, NULL, 0);
    if (r < 0) return SILT_FAIL(SILT_ERR_ARG, "wclip_tokenize: cannot tokenize '%s'", caption);
    for (int t = 0; t < m->c.max_len; t++)
        if (ids[t] < 0 || ids[t] >= m->c.vocab)
            return SILT_FAIL(SILT_ERR_ARG, "wclip_tokenize: token id %d outside the vocabulary (%d)", ids[t], m->c.vocab);
    return SILT_OK;
}

silt_status wclip_render(const wclip_model *m, const world_scene *s, float *img) {
    if (!m || !s || !img) return SILT_FAIL(SILT_ERR_ARG, "wclip_render: NULL argument");
    silt_status st = world_render(s, m->c.img_size, img, NULL, NULL);
    if (st) return st;
    int64_t n = 3 * (int64_t)m->c.img_size * m->c.img_size;
    for (int64_t i = 0; i < n; i++) img[i] = 2 * img[i] - 1;
    return SILT_OK;
}

double wclip_score(const wclip_model *m, const float *img, const char *caption, silt_status *status) {
    silt_status s = SILT_OK;
    double r = NAN;
    silt_graph *g = NULL;
    int32_t ids[512];
    if (!m || !img || !caption) { s = SILT_FAIL(SILT_ERR_ARG, "wclip_score: NULL argument"); goto done; }
    if (wclip_device(m) != SILT_CPU) {
        s = SILT_FAIL(SILT_ERR_UNSUPPORTED, "wclip_score: the model is on %s (scoring runs on the cpu)",
                      silt_device_name(wclip_device(m)));
        goto done;
    }
    if ((s = wclip_tokenize(m, caption, ids))) goto done;
    g = silt_graph_create(0);
    if (!g) { s = SILT_FAIL(SILT_ERR_OOM, "wclip_score: out of memory"); goto done; }
    silt_graph_set_grad(g, false);
    int S = m->c.img_size;
    silt_tensor *x = silt_graph_new(g, 1, 3, S, S), *te = NULL;
    if (x) memcpy(x->data, img, (size_t)3 * S * S * sizeof(float));
    silt_tensor *ie = wclip_encode_image(g, m, x, NULL);
    if (ie && !(s = wclip_encode_text(g, m, ids, 1, NULL, &te))) r = cosine(silt_f32(ie), silt_f32(te), m->c.embed_dim);
    if (!s) s = silt_graph_status(g);
done:
    silt_graph_free(g);
    if (status) *status = s;
    return s ? NAN : r;
}

silt_status wclip_retrieval_accuracy(const wclip_model *m, world_suite suite, uint64_t seed, int64_t n_total, int group,
                                     double *top1_txt2img, double *top1_img2txt) {
    if (!m || group < 1 || n_total < group) return SILT_FAIL(SILT_ERR_ARG, "wclip_retrieval_accuracy: bad arguments");
    if (wclip_device(m) != SILT_CPU)
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "wclip_retrieval_accuracy: the model is on %s (evaluation runs on the cpu)",
                         silt_device_name(wclip_device(m)));
    int64_t size = world_suite_size(suite);
    if (size >= 0 && n_total > size) n_total = size;
    int64_t groups = n_total / group, hits_t = 0, hits_i = 0;
    if (groups < 1) return SILT_FAIL(SILT_ERR_ARG, "wclip_retrieval_accuracy: fewer items than one group");
    int S = m->c.img_size, T = m->c.max_len, E = m->c.embed_dim;
    silt_graph *g = silt_graph_create(0);
    int32_t *ids = malloc((size_t)group * T * sizeof *ids);
    double *sim = malloc((size_t)group * group * sizeof *sim);
    silt_status s = g && ids && sim ? SILT_OK : SILT_FAIL(SILT_ERR_OOM, "wclip_retrieval_accuracy: out of memory");
    for (int64_t gi = 0; !s && gi < groups; gi++) {
        silt_graph_reset(g);
        silt_graph_set_grad(g, false);
        silt_tensor *img = silt_graph_new(g, group, 3, S, S), *te = NULL;
        if (!img) { s = silt_graph_status(g); break; }
        for (int i = 0; !s && i < group; i++) {
            world_item it;
            s = world_suite_item(suite, seed, gi * group + i, &it);
            if (!s) s = wclip_tokenize(m, it.caption, ids + (size_t)i * T);
            if (!s) s = wclip_render(m, &it.scene, silt_f32(img) + (size_t)i * 3 * S * S);
        }
        if (s) break;
        silt_tensor *ie = silt_l2norm(g, wclip_encode_image(g, m, img, NULL), 1e-12f);
        if ((s = wclip_encode_text(g, m, ids, group, NULL, &te))) break;
        te = silt_l2norm(g, te, 1e-12f);
        if (!ie || !te) { s = silt_graph_status(g); break; }
        for (int i = 0; i < group; i++)
            for (int j = 0; j < group; j++) {
                double d = 0;
                for (int e = 0; e < E; e++) d += (double)silt_f32(ie)[i * E + e] * silt_f32(te)[j * E + e];
                sim[i * group + j] = d;  // image i, caption j
            }
        for (int k = 0; k < group; k++) {
            int bi = 0, bt = 0;  // best image for caption k, best caption for image k
            for (int o = 1; o < group; o++) {
                if (sim[o * group + k] > sim[bi * group + k]) bi = o;
                if (sim[k * group + o] > sim[k * group + bt]) bt = o;
            }
            hits_t += bi == k;
            hits_i += bt == k;
        }
    }
    silt_graph_free(g);
    free(ids);
    free(sim);
    if (s) return s;
    if (top1_txt2img) *top1_txt2img = (double)hits_t / (double)(groups * group);
    if (top1_img2txt) *top1_img2txt = (double)hits_i / (double)(groups * group);
    return SILT_OK;
}

// --- save / load -------------------------------------------------------------------

static void config_json(const wclip_config *c, char *buf, size_t n) {
    snprintf(buf, n,
             "{\"vocab\": %d, \"max_len\": %d, \"width\": %d, \"layers\": %d, \"heads\": %d, \"embed_dim\": %d, "
             "\"img_size\": %d, \"patch\": %d, \"img_width\": %d, \"img_layers\": %d, \"img_heads\": %d, "
             "\"img_cls\": %d, \"itm_layers\": %d}",
             c->vocab, c->max_len, c->width, c->layers, c->heads, c->embed_dim, c->img_size, c->patch, c->img_width,
             c->img_layers, c->img_heads, c->img_cls, c->itm_layers);
}

silt_status wclip_save(const wclip_model *m, const char *path) {
    if (!m || !path) return SILT_FAIL(SILT_ERR_ARG, "wclip_save: NULL argument");
    if (wclip_device(m) != SILT_CPU)
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "wclip_save: the model is on %s; save it before wclip_to_device",
                         silt_device_name(wclip_device(m)));
    silt_st_writer *w = silt_st_writer_create();
    if (!w) return SILT_FAIL(SILT_ERR_OOM, "wclip_save: out of memory");
    char cfg[512];
    config_json(&m->c, cfg, sizeof cfg);
    silt_status s = silt_st_writer_set_metadata(w, "config", cfg);
    if (!s) s = silt_st_writer_set_metadata(w, "format", "world-clip");
    for (int i = 0; !s && i < m->n; i++) {
        const silt_tensor *t = m->p[i].t;
        s = silt_st_writer_add(w, m->p[i].name, SILT_ST_F32, t->ndim, t->shape, t->data);
    }
    if (!s) s = silt_st_writer_write(w, path);
    silt_st_writer_free(w);
    return s;
}

static int count_layers(const silt_safetensors *st, const char *prefix, const char *tower) {
    char nm[128];
    int l = 0;
    for (;; l++) {
        snprintf(nm, sizeof nm, "%s%s.layers.%d.ln_1.weight", prefix, tower, l);
        if (!silt_safetensors_find(st, nm) || l > 64) return l;
    }
}

static silt_status shape_of(const silt_safetensors *st, const char *prefix, const char *name, int ndim,
                            const silt_st_tensor **out) {
    char nm[128];
    snprintf(nm, sizeof nm, "%s%s", prefix, name);
    *out = silt_safetensors_find(st, nm);
    if (!*out) return SILT_FAIL(SILT_ERR_FORMAT, "wclip_load: missing tensor '%s'", nm);
    if ((*out)->ndim != ndim)
        return SILT_FAIL(SILT_ERR_FORMAT, "wclip_load: tensor '%s' has %d dims, want %d", nm, (*out)->ndim, ndim);
    return SILT_OK;
}

silt_status wclip_load(const silt_safetensors *st, wclip_model **out) {
    if (!st || !out) return SILT_FAIL(SILT_ERR_ARG, "wclip_load: NULL argument");
    *out = NULL;
    // A trainer checkpoint with EMA: the EMA weights are the model.
    const char *prefix = silt_safetensors_find(st, "ema.logit_scale") ? "ema." : "";
    wclip_config c = wclip_default_config();
    const silt_st_tensor *t;
    silt_status s;
    if ((s = shape_of(st, prefix, "text.token_embedding.weight", 2, &t))) return s;
    c.vocab = (int)t->shape[0], c.width = (int)t->shape[1];
    if ((s = shape_of(st, prefix, "text.positional_embedding", 2, &t))) return s;
    c.max_len = (int)t->shape[0];
    if ((s = shape_of(st, prefix, "text_projection", 2, &t))) return s;
    c.embed_dim = (int)t->shape[0];
    if ((s = shape_of(st, prefix, "visual.conv1.weight", 4, &t))) return s;
    c.img_width = (int)t->shape[0], c.patch = (int)t->shape[2];
    char cls_name[128];
    snprintf(cls_name, sizeof cls_name, "%svisual.class_embedding", prefix);
    c.img_cls = silt_safetensors_find(st, cls_name) != NULL;  // CLIP's class token (the shapes say so)
    if ((s = shape_of(st, prefix, "visual.positional_embedding", 2, &t))) return s;
    if (t->shape[0] < 1 + c.img_cls)
        return SILT_FAIL(SILT_ERR_FORMAT, "wclip_load: visual.positional_embedding has %lld rows (need %d or more)",
                         (long long)t->shape[0], 1 + c.img_cls);
    int g = (int)lround(sqrt((double)(t->shape[0] - c.img_cls)));
    c.img_size = g * c.patch;
    c.layers = count_layers(st, prefix, "text");
    c.img_layers = count_layers(st, prefix, "visual");
    c.itm_layers = count_layers(st, prefix, "itm");  // the judge head, when the file has one
    const char *meta = silt_safetensors_metadata(st, "config");
    if (meta) {  // head counts are not in the shapes
        silt_json *doc = NULL;
        if (silt_json_parse(meta, strlen(meta), 8, &doc) == SILT_OK) {
            const silt_json_value *root = silt_json_root(doc), *v;
            if ((v = silt_json_member(doc, root, "heads")) && v->type == SILT_JSON_NUMBER) c.heads = (int)v->num;
            if ((v = silt_json_member(doc, root, "img_heads")) && v->type == SILT_JSON_NUMBER) c.img_heads = (int)v->num;
        }
        silt_json_free(doc);
    }
    wclip_model *m = NULL;
    if ((s = wclip_create(&c, 0, &m))) return s;
    silt_weights *wl = silt_weights_begin(st, prefix);
    if (!wl) { wclip_free(m); return SILT_FAIL(SILT_ERR_OOM, "wclip_load: out of memory"); }
    for (int i = 0; i < m->n; i++) {
        silt_tensor *dst = m->p[i].t;
        silt_tensor *src = silt_weights_get(wl, m->p[i].name, dst->ndim, dst->shape);
        if (!src) break;
        memcpy(dst->data, src->data, silt_nbytes(dst));
        silt_tensor_free(src);
        if (!*prefix) {  // plain trainer checkpoint: its optimiser moments are not part of the model
            char nm[WCLIP_NAME + 16];
            snprintf(nm, sizeof nm, "adam_m.%s", m->p[i].name);
            silt_weights_skip(wl, nm);
            snprintf(nm, sizeof nm, "adam_v.%s", m->p[i].name);
            silt_weights_skip(wl, nm);
        }
    }
    s = silt_weights_end(wl);
    if (s) { wclip_free(m); return s; }
    *out = m;
    return SILT_OK;
}

silt_status wclip_load_file(const char *path, wclip_model **out) {
    if (!path || !out) return SILT_FAIL(SILT_ERR_ARG, "wclip_load_file: NULL argument");
    silt_safetensors *st = NULL;
    silt_status s = silt_safetensors_open(path, &st);
    if (s) return s;
    s = wclip_load(st, out);
    silt_safetensors_close(st);
    return s;
}
