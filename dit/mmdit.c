// MMDiT forward (diffusers SD3Transformer2DModel.forward, JointTransformerBlock,
// JointAttnProcessor2_0) with the attention perturbations of core/perturb.h.
// Plain graph-op code: differentiable, activations from the graph's arena.
#include <math.h>
#include <string.h>

#include "core/ops.h"
#include "dit/embed.h"
#include "dit/mmdit_internal.h"

#define MMDIT_LN_EPS 1e-6f   // every block norm and norm_out (archs.md 0.2)
#define MMDIT_QK_EPS 1e-6f   // SD3.5 per-head RMSNorm
#define SEG_SIGMA_INF 9999.9f  // SEG-SDXL / diffusers: sigma above this means "infinite blur"

typedef struct fwd {
    silt_graph *g;
    const mmdit_model *m;
    const silt_perturb *p;
    int B, N, T, h, w;     // batch, image tokens (h x w patches), text tokens
    int rb, re;            // perturbed rows [rb, re); rb == re: none
    const float *img_mask;  // IDENTITY_IMAGE additive mask (L, L), built once per forward, in the graph's memory
    silt_tensor *seg_kh, *seg_kw;  // SEG blur matrices (h, h), (w, w), built once per forward
} fwd;

static silt_tensor *fail(silt_graph *g, silt_status s) {
    silt_graph_fail(g, s);
    return NULL;
}

// (B, S, H*hd) -> (B, H, S, hd)
static silt_tensor *to_heads(silt_graph *g, silt_tensor *x, int H) {
    if (!x) return NULL;
    int64_t s[4] = {x->shape[0], x->shape[1], H, x->shape[2] / H};
    return silt_permute(g, silt_reshape(g, x, 4, s), (const int[]){0, 2, 1, 3});
}

// (B, H, S, hd) -> (B, S, H*hd)
static silt_tensor *from_heads(silt_graph *g, silt_tensor *x) {
    if (!x) return NULL;
    int64_t s[3] = {x->shape[0], x->shape[2], x->shape[1] * x->shape[3]};
    return silt_reshape(g, silt_permute(g, x, (const int[]){0, 2, 1, 3}), 3, s);
}

// Projected tokens (B, S, D) -> heads, with the per-head RMSNorm when present
// (JointAttnProcessor2_0 normalises after the head split).
static silt_tensor *heads_norm(fwd *f, silt_tensor *x, silt_tensor *norm) {
    silt_tensor *y = to_heads(f->g, x, f->m->cfg.heads);
    return norm ? silt_rmsnorm(f->g, y, norm, MMDIT_QK_EPS) : y;
}

// a with its batch rows [rb, re) replaced by b (re - rb rows).
static silt_tensor *rows_merge(silt_graph *g, silt_tensor *a, silt_tensor *b, int rb, int re) {
    if (!a || !b) return NULL;
    int64_t B = a->shape[0];
    silt_tensor *parts[3];
    int n = 0;
    if (rb > 0) parts[n++] = silt_slice(g, a, 0, 0, rb);
    parts[n++] = b;
    if (re < B) parts[n++] = silt_slice(g, a, 0, re, B - re);
    return n == 1 ? b : silt_concat(g, parts, n, 0);
}

static silt_tensor *rows(silt_graph *g, silt_tensor *x, int r0, int n) { return silt_slice(g, x, 0, r0, n); }

// (B, H, 1, 1) arena tensor: u(layer, h) on the perturbed rows, else 0; with
// complement, 1 - that. No gradient.
static silt_tensor *head_weights(fwd *f, int layer, bool complement) {
    int H = f->m->cfg.heads;
    float *d = silt_arena_alloc(silt_graph_arena(f->g), (size_t)f->B * H * sizeof(float));  // host, then to the graph's device
    if (!d) return fail(f->g, SILT_ERR_OOM);
    for (int b = 0; b < f->B; b++)
        for (int h = 0; h < H; h++) {
            float v = b >= f->rb && b < f->re ? silt_perturb_u(f->p, layer, h) : 0.0f;
            d[b * H + h] = complement ? 1.0f - v : v;
        }
    return silt_graph_upload(f->g, SILT_F32, 4, (const int64_t[]){f->B, H, 1, 1}, d);
}

// (1-U) a + U b with U from head_weights: exact a where u = 0, exact b where u = 1.
static silt_tensor *head_lerp(fwd *f, int layer, silt_tensor *a, silt_tensor *b) {
    silt_graph *g = f->g;
    return silt_add(g, silt_mul(g, a, head_weights(f, layer, true)), silt_mul(g, b, head_weights(f, layer, false)));
}

// diffusers PAGJointAttnProcessor2_0: over [image N, text T], the image-image
// block is -inf off its diagonal, everything else 0.
static const float *identity_image_mask(fwd *f) {
    if (f->img_mask) return f->img_mask;
    int64_t L = (int64_t)f->N + f->T;
    float *mk = silt_arena_alloc(silt_graph_arena(f->g), (size_t)(L * L) * sizeof(float));
    if (!mk) {
        silt_graph_fail(f->g, SILT_ERR_OOM);
        return NULL;
    }
    for (int64_t i = 0; i < L; i++)
        for (int64_t j = 0; j < L; j++) mk[i * L + j] = (i < f->N && j < f->N && i != j) ? -INFINITY : 0.0f;
    f->img_mask = silt_graph_device_copy(f->g, mk, (size_t)(L * L) * sizeof(float));  // once for all layers
    return f->img_mask;
}

// SEG blur along one axis of length n as an (n, n) matrix M (out = M x):
// SEG-SDXL's kernel (pipeline_seg.py gaussian_blur_2d, also diffusers'
// _gaussian_blur_2d): size k = ceil(6 sigma) + 1 - ceil(6 sigma) % 2, clipped
// to n - (n % 2 - 1), taps exp(-0.5 (x/sigma)^2) over linspace(-(k-1)/2,
// (k-1)/2, k), normalised, reflect padding (k/2 each side, folded into M).
// sigma > SEG_SIGMA_INF: the mean over the axis. We clip per axis; SEG-SDXL
// assumes a square grid and clips by its side.
static silt_tensor *seg_matrix(silt_graph *g, int n, float sigma) {
    // Built on the host, then put on the graph's device.
    const int64_t shape[2] = {n, n};
    float *d = silt_arena_alloc(silt_graph_arena(g), (size_t)n * n * sizeof(float));
    if (!d) return fail(g, SILT_ERR_OOM);
    if (sigma > SEG_SIGMA_INF) {
        for (int64_t i = 0; i < (int64_t)n * n; i++) d[i] = 1.0f / (float)n;
        return silt_graph_upload(g, SILT_F32, 2, shape, d);
    }
    memset(d, 0, (size_t)n * n * sizeof(float));
    double c6 = ceil(6.0 * sigma);
    int k = (int)c6 + 1 - ((int)c6 % 2);
    int kmax = n - (n % 2 - 1);
    if (k > kmax) k = kmax;
    int pad = k / 2;
    double *taps = silt_arena_alloc(silt_graph_arena(g), (size_t)k * sizeof(double)), sum = 0;
    if (!taps) return fail(g, SILT_ERR_OOM);
    for (int t = 0; t < k; t++) {
        double x = k > 1 ? -(k - 1) / 2.0 + t : 0.0;
        taps[t] = exp(-0.5 * (x / sigma) * (x / sigma));
        sum += taps[t];
    }
    for (int i = 0; i < n; i++)
        for (int t = 0; t < k; t++) {
            int j = i + t - pad;
            if (j < 0) j = -j;                  // torch 'reflect': -1 -> 1
            if (j >= n) j = 2 * (n - 1) - j;    // n -> n-2
            d[(int64_t)i * n + j] += (float)(taps[t] / sum);
        }
    return silt_graph_upload(g, SILT_F32, 2, shape, d);
}

// Blur projected image queries (Bp, N, D) over the h x w token grid.
static silt_tensor *seg_blur(fwd *f, silt_tensor *q) {
    silt_graph *g = f->g;
    if (!f->seg_kh) {
        f->seg_kh = seg_matrix(g, f->h, f->p->seg_sigma);
        f->seg_kw = seg_matrix(g, f->w, f->p->seg_sigma);
    }
    if (!q || !f->seg_kh || !f->seg_kw) return NULL;
    int64_t Bp = q->shape[0], D = q->shape[2];
    silt_tensor *x = silt_reshape(g, q, 4, (int64_t[]){Bp, f->h, f->w, D});
    x = silt_linear(g, silt_permute(g, x, (const int[]){0, 1, 3, 2}), f->seg_kw, NULL);  // (Bp, h, D, w)
    x = silt_linear(g, silt_permute(g, x, (const int[]){0, 3, 2, 1}), f->seg_kh, NULL);  // (Bp, w, D, h)
    x = silt_permute(g, x, (const int[]){0, 3, 1, 2});                                    // (Bp, h, w, D)
    return silt_reshape(g, x, 3, (int64_t[]){Bp, f->N, D});
}

// Which perturbation the joint attention of `layer` runs (NONE if it is untouched).
static silt_perturb_kind layer_kind(const fwd *f, int layer) {
    if (!f->p || f->rb >= f->re || !silt_perturb_layer(f->p, layer)) return SILT_PERTURB_NONE;
    return f->p->kind;
}

// Joint attention (JointAttnProcessor2_0) over [image, text]; returns the
// image output after to_out (B, N, D) in *ox and the text output after
// to_add_out (B, T, D) in *oc (NULL in the context_pre_only block).
static void joint_attention(fwd *f, int layer, const mmdit_attn *a, silt_tensor *nx, silt_tensor *nc,
                            silt_tensor **ox, silt_tensor **oc) {
    silt_graph *g = f->g;
    *ox = *oc = NULL;
    silt_tensor *qx_lin = silt_linear(g, nx, a->to_q_w, a->to_q_b);
    silt_tensor *qc = heads_norm(f, silt_linear(g, nc, a->add_q_w, a->add_q_b), a->norm_added_q);
    silt_tensor *q = silt_concat(g, (silt_tensor *[]){heads_norm(f, qx_lin, a->norm_q), qc}, 2, 2);
    silt_tensor *k = silt_concat(g,
                                 (silt_tensor *[]){heads_norm(f, silt_linear(g, nx, a->to_k_w, a->to_k_b), a->norm_k),
                                                   heads_norm(f, silt_linear(g, nc, a->add_k_w, a->add_k_b),
                                                              a->norm_added_k)},
                                 2, 2);
    silt_tensor *v = silt_concat(g,
                                 (silt_tensor *[]){heads_norm(f, silt_linear(g, nx, a->to_v_w, a->to_v_b), NULL),
                                                   heads_norm(f, silt_linear(g, nc, a->add_v_w, a->add_v_b), NULL)},
                                 2, 2);
    if (!q || !k || !v) return;
    silt_tensor *o = NULL;
    int rb = f->rb, re = f->re, np = re - rb;
    switch (layer_kind(f, layer)) {
    case SILT_PERTURB_IDENTITY: {
        // SoftPAG / HeadHunter: (1-u) Attn + u V in the attention epilogue.
        int H = f->m->cfg.heads;
        float *hu = silt_arena_alloc(silt_graph_arena(g), (size_t)f->B * H * sizeof(float));
        if (!hu) {
            silt_graph_fail(g, SILT_ERR_OOM);
            return;
        }
        for (int b = 0; b < f->B; b++)
            for (int h = 0; h < H; h++) hu[b * H + h] = b >= rb && b < re ? silt_perturb_u(f->p, layer, h) : 0.0f;
        o = silt_attention(g, q, k, v, &(silt_attn_opts){.head_u = hu});
        break;
    }
    case SILT_PERTURB_IDENTITY_IMAGE: {
        // The perturbed rows run separately with the mask; the others plainly.
        const float *mk = identity_image_mask(f);
        if (!mk) return;
        silt_tensor *op = silt_attention(g, rows(g, q, rb, np), rows(g, k, rb, np), rows(g, v, rb, np),
                                         &(silt_attn_opts){.mask = mk, .mask_in_graph = true});
        silt_tensor *parts[3];
        int n = 0;
        if (rb > 0) parts[n++] = silt_attention(g, rows(g, q, 0, rb), rows(g, k, 0, rb), rows(g, v, 0, rb), NULL);
        parts[n++] = op;
        if (re < f->B)
            parts[n++] = silt_attention(g, rows(g, q, re, f->B - re), rows(g, k, re, f->B - re),
                                        rows(g, v, re, f->B - re), NULL);
        o = n == 1 ? op : silt_concat(g, parts, n, 0);
        break;
    }
    case SILT_PERTURB_UNIFORM:
        // Uniform map 1/L over the joint sequence: every query gets mean_keys(V).
        o = head_lerp(f, layer, silt_attention(g, q, k, v, NULL), silt_mean_dim(g, v, 2, true));
        break;
    case SILT_PERTURB_SEG: {
        silt_tensor *plain = silt_attention(g, q, k, v, NULL);
        silt_tensor *qb = heads_norm(f, seg_blur(f, rows(g, qx_lin, rb, np)), a->norm_q);
        silt_tensor *qs = silt_concat(g, (silt_tensor *[]){qb, rows(g, qc, rb, np)}, 2, 2);
        silt_tensor *os = silt_attention(g, qs, rows(g, k, rb, np), rows(g, v, rb, np), NULL);
        o = head_lerp(f, layer, plain, rows_merge(g, plain, os, rb, re));
        break;
    }
    default: o = silt_attention(g, q, k, v, NULL); break;
    }
    silt_tensor *outs[2] = {NULL, NULL};
    if (silt_split(g, from_heads(g, o), 1, (const int64_t[]){f->N, f->T}, 2, outs) != SILT_OK) return;
    *ox = silt_linear(g, outs[0], a->to_out_w, a->to_out_b);
    if (a->to_add_out_w) *oc = silt_linear(g, outs[1], a->to_add_out_w, a->to_add_out_b);
}

// SD3.5 attn2: plain self-attention over the image tokens (never perturbed).
static silt_tensor *self_attention(fwd *f, const mmdit_attn *a, silt_tensor *nx) {
    silt_graph *g = f->g;
    silt_tensor *q = heads_norm(f, silt_linear(g, nx, a->to_q_w, a->to_q_b), a->norm_q);
    silt_tensor *k = heads_norm(f, silt_linear(g, nx, a->to_k_w, a->to_k_b), a->norm_k);
    silt_tensor *v = heads_norm(f, silt_linear(g, nx, a->to_v_w, a->to_v_b), NULL);
    return silt_linear(g, from_heads(g, silt_attention(g, q, k, v, NULL)), a->to_out_w, a->to_out_b);
}

// FeedForward(gelu-approximate): Linear(D, 4D) -> GELU(tanh) -> Linear(4D, D).
// With bf16 weights (inference; x then bf16, see adaln) the first linear and
// the GELU are one call that writes bf16.
static silt_tensor *ff(silt_graph *g, silt_tensor *x, silt_tensor *w0, silt_tensor *b0, silt_tensor *w2,
                       silt_tensor *b2) {
    silt_tensor *h = x && x->dtype == SILT_BF16 && silt_linear_takes_bf16(g, w2)
                         ? silt_linear_gelu_bf16(g, x, w0, b0)
                         : silt_gelu(g, silt_linear(g, x, w0, b0), 1);
    return silt_linear(g, h, w2, b2);
}

// modulate(layernorm(x)) for the linear(s) with weight w that read it: one
// fused pass written as bf16 when w is a bf16 weight (inference), else the
// fp32 ops. ln: layernorm(x) already computed (fp32 path), or NULL.
static silt_tensor *adaln(silt_graph *g, silt_tensor *x, silt_tensor *ln, silt_tensor *shift, silt_tensor *scale,
                          const silt_tensor *w) {
    if (silt_linear_takes_bf16(g, w)) return silt_ln_modulate_bf16(g, x, shift, scale, MMDIT_LN_EPS);
    return silt_modulate(g, ln ? ln : silt_layernorm(g, x, NULL, NULL, MMDIT_LN_EPS), shift, scale);
}

// Chunks of an adaLN embedding: linear(silu(temb)) split into n pieces of D.
static silt_status ada_chunks(silt_graph *g, silt_tensor *silu_temb, silt_tensor *w, silt_tensor *b, int n, int D,
                              silt_tensor **out) {
    int64_t sizes[9];
    for (int i = 0; i < n; i++) sizes[i] = D;
    silt_tensor *e = silt_linear(g, silu_temb, w, b);
    if (!e) return silt_graph_status(g);
    return silt_split(g, e, 1, sizes, n, out);
}

// JointTransformerBlock.forward; updates *px (B, N, D) and *pc (B, T, D; NULL
// after the context_pre_only block).
static void block_forward(fwd *f, int i, silt_tensor *silu_temb, silt_tensor **px, silt_tensor **pc) {
    silt_graph *g = f->g;
    const mmdit_block *b = &f->m->blocks[i];
    int D = f->m->cfg.hidden;
    silt_tensor *x = *px, *c = *pc;
    // norm1: AdaLayerNormZero (shift, scale, gate, shift_mlp, scale_mlp, gate_mlp)
    // or SD35AdaLayerNormZeroX (+ shift2, scale2, gate2).
    silt_tensor *e[9] = {0}, *ec[6] = {0};
    silt_status s = ada_chunks(g, silu_temb, b->norm1_w, b->norm1_b, b->dual ? 9 : 6, D, e);
    if (s == SILT_OK) s = ada_chunks(g, silu_temb, b->norm1_context_w, b->norm1_context_b, b->pre_only ? 2 : 6, D, ec);
    if (s != SILT_OK) {
        *px = *pc = NULL;
        return;
    }
    // The dual block's second modulation reuses layernorm(x) on the fp32 path.
    silt_tensor *lnx = b->dual && !silt_linear_takes_bf16(g, b->attn2.to_q_w)
                           ? silt_layernorm(g, x, NULL, NULL, MMDIT_LN_EPS)
                           : NULL;
    silt_tensor *nx = adaln(g, x, lnx, e[0], e[1], b->attn.to_q_w);
    // The context_pre_only block's AdaLayerNormContinuous gives (scale, shift)
    // in diffusers' order; AdaLayerNormZero starts with (shift, scale).
    silt_tensor *nc = b->pre_only ? adaln(g, c, NULL, ec[1], ec[0], b->attn.add_q_w)
                                  : adaln(g, c, NULL, ec[0], ec[1], b->attn.add_q_w);
    silt_tensor *ax, *ac;
    joint_attention(f, i, &b->attn, nx, nc, &ax, &ac);
    silt_tensor *xo = silt_gated_add(g, x, e[2], ax);
    if (b->dual)
        xo = silt_gated_add(g, xo, e[8], self_attention(f, &b->attn2, adaln(g, x, lnx, e[6], e[7], b->attn2.to_q_w)));
    silt_tensor *mx = adaln(g, xo, NULL, e[3], e[4], b->ff0_w);
    xo = silt_gated_add(g, xo, e[5], ff(g, mx, b->ff0_w, b->ff0_b, b->ff2_w, b->ff2_b));
    silt_tensor *co = NULL;
    if (!b->pre_only) {
        co = silt_gated_add(g, c, ec[2], ac);
        silt_tensor *mc = adaln(g, co, NULL, ec[3], ec[4], b->ffc0_w);
        co = silt_gated_add(g, co, ec[5], ff(g, mc, b->ffc0_w, b->ffc0_b, b->ffc2_w, b->ffc2_b));
    }
    if (f->p && f->p->kind == SILT_PERTURB_SKIP && layer_kind(f, i) == SILT_PERTURB_SKIP) {
        // SLG: the perturbed rows leave this block unchanged (both streams).
        int np = f->re - f->rb;
        xo = rows_merge(g, xo, rows(g, x, f->rb, np), f->rb, f->re);
        if (co) co = rows_merge(g, co, rows(g, c, f->rb, np), f->rb, f->re);
    }
    *px = xo;
    *pc = co;
}

static silt_status check_inputs(silt_graph *g, const mmdit_model *m, silt_tensor *x, const float *t, silt_tensor *ctx,
                                silt_tensor *pooled, const silt_perturb *p) {
    const mmdit_config *c = &m->cfg;
    char b1[64], b2[64], b3[64];
    if (!t) return SILT_FAIL(SILT_ERR_ARG, "mmdit_forward: NULL timesteps");
    const silt_tensor *in[3] = {x, ctx, pooled};
    silt_device dev = silt_graph_device(g);
    for (int i = 0; i < 3; i++)
        if (in[i]->dtype != SILT_F32 || in[i]->device != dev || mmdit_device(m) != dev)
            return SILT_FAIL(SILT_ERR_UNSUPPORTED,
                             "mmdit_forward: x, ctx and pooled must be f32 on the graph's device %s, as the model "
                             "(input %d is %s on %s, model on %s)",
                             silt_device_name(dev), i, silt_dtype_name(in[i]->dtype), silt_device_name(in[i]->device),
                             silt_device_name(mmdit_device(m)));
    int64_t B = x->shape[0];
    bool ok = x->ndim == 4 && x->shape[1] == c->in_channels && x->shape[2] % c->patch == 0 &&
              x->shape[3] % c->patch == 0 && ctx->ndim == 3 && ctx->shape[0] == B && ctx->shape[2] == c->joint_dim &&
              pooled->ndim == 2 && pooled->shape[0] == B && pooled->shape[1] == c->pooled_dim;
    if (!ok)
        return SILT_FAIL(SILT_ERR_SHAPE,
                         "mmdit_forward: x %s, ctx %s, pooled %s; expected (B, %d, H, W) with H, W multiples of %d, "
                         "(B, T, %d), (B, %d)",
                         silt_shape_str(x, b1, sizeof b1), silt_shape_str(ctx, b2, sizeof b2),
                         silt_shape_str(pooled, b3, sizeof b3), c->in_channels, c->patch, c->joint_dim, c->pooled_dim);
    int64_t h = x->shape[2] / c->patch, w = x->shape[3] / c->patch;
    if (h > c->pos_max || w > c->pos_max)
        return SILT_FAIL(SILT_ERR_SHAPE, "mmdit_forward: %lldx%lld patches exceed the %dx%d position table",
                         (long long)h, (long long)w, c->pos_max, c->pos_max);
    if (p && p->kind != SILT_PERTURB_NONE) {
        if ((int)p->kind < 0 || p->kind >= SILT_PERTURB_COUNT || !p->u || p->n_layers < 0 || p->n_heads < 0)
            return SILT_FAIL(SILT_ERR_ARG, "mmdit_forward: bad perturbation (kind %d, u %s, %d x %d)", (int)p->kind,
                             p->u ? "set" : "NULL", p->n_layers, p->n_heads);
        if (p->row_begin < 0 || p->row_end > B || p->row_begin > p->row_end)
            return SILT_FAIL(SILT_ERR_ARG, "mmdit_forward: perturbed rows [%d, %d) outside the batch of %lld",
                             p->row_begin, p->row_end, (long long)B);
        if (p->kind == SILT_PERTURB_SEG && !(p->seg_sigma > 0))
            return SILT_FAIL(SILT_ERR_ARG, "mmdit_forward: SEG needs seg_sigma > 0 (got %g)", (double)p->seg_sigma);
    }
    return SILT_OK;
}

silt_tensor *mmdit_forward(silt_graph *g, const mmdit_model *m, silt_tensor *x, const float *t, silt_tensor *ctx,
                           silt_tensor *pooled, const silt_perturb *p) {
    return mmdit_forward_tap(g, m, x, t, ctx, pooled, p, -1, NULL);
}

silt_tensor *mmdit_forward_tap(silt_graph *g, const mmdit_model *m, silt_tensor *x, const float *t, silt_tensor *ctx,
                               silt_tensor *pooled, const silt_perturb *p, int tap_layer, silt_tensor **tap) {
    if (tap) *tap = NULL;
    if (!x || !ctx || !pooled) return NULL;
    if (tap && m && (tap_layer < 0 || tap_layer >= m->cfg.depth))
        return fail(g, SILT_FAIL(SILT_ERR_ARG, "mmdit_forward: tap layer %d outside [0, %d)", tap_layer, m->cfg.depth));
    if (!m) return fail(g, SILT_FAIL(SILT_ERR_ARG, "mmdit_forward: NULL model"));
    silt_status s = check_inputs(g, m, x, t, ctx, pooled, p);
    if (s != SILT_OK) return fail(g, s);
    const mmdit_config *c = &m->cfg;
    int P = c->patch, D = c->hidden;
    fwd f = {.g = g, .m = m, .p = p, .B = (int)x->shape[0], .T = (int)ctx->shape[1]};
    f.h = (int)(x->shape[2] / P);
    f.w = (int)(x->shape[3] / P);
    f.N = f.h * f.w;
    if (p && p->kind != SILT_PERTURB_NONE) {
        f.rb = p->row_begin;
        f.re = p->row_end;
    }

    // PatchEmbed with the SD3 centre crop of the stored pos_max^2 table
    // (embeddings.py cropped_pos_embed): top = (M - h) // 2, left = (M - w) // 2.
    // The crop as two slices of the (M, M, D) view (on whichever device).
    silt_tensor *tok = dit_patchify(g, x, m->patch_w, m->patch_b, P);
    int M = c->pos_max, top = (M - f.h) / 2, left = (M - f.w) / 2;
    silt_tensor *pos = silt_reshape(g, m->pos, 3, (const int64_t[]){M, M, D});
    pos = silt_slice(g, silt_slice(g, pos, 0, top, f.h), 1, left, f.w);
    pos = silt_reshape(g, pos, 3, (const int64_t[]){1, f.N, D});
    if (!tok || !pos) return NULL;
    silt_tensor *hx = silt_add(g, tok, pos);

    // CombinedTimestepTextProjEmbeddings: TimestepEmbedding(sinusoid_256(t),
    // [cos | sin], shift 0) + PixArtAlphaTextProjection(pooled, silu).
    silt_tensor *tp = dit_timestep_embedding(g, t, f.B, 256, true, 0.0f, 10000.0f);
    silt_tensor *te = silt_linear(g, silt_silu(g, silt_linear(g, tp, m->t1_w, m->t1_b)), m->t2_w, m->t2_b);
    silt_tensor *ye = silt_linear(g, silt_silu(g, silt_linear(g, pooled, m->y1_w, m->y1_b)), m->y2_w, m->y2_b);
    silt_tensor *silu_temb = silt_silu(g, silt_add(g, te, ye));
    silt_tensor *hc = silt_linear(g, ctx, m->ctx_w, m->ctx_b);

    for (int i = 0; i < c->depth && hx; i++) {
        block_forward(&f, i, silu_temb, &hx, &hc);
        if (tap && i == tap_layer) *tap = hx;
    }
    if (!hx || silt_graph_status(g) != SILT_OK) return NULL;

    // norm_out: AdaLayerNormContinuous (scale, shift), then proj_out and unpatchify.
    silt_tensor *e[2] = {0};
    if (ada_chunks(g, silu_temb, m->norm_out_w, m->norm_out_b, 2, D, e) != SILT_OK) return NULL;
    silt_tensor *y = silt_modulate(g, silt_layernorm(g, hx, NULL, NULL, MMDIT_LN_EPS), e[1], e[0]);
    y = silt_linear(g, y, m->proj_w, m->proj_b);
    return dit_unpatchify(g, y, f.h, f.w, P, c->out_channels);
}

silt_tensor *mmdit_block_forward(silt_graph *g, const mmdit_model *m, int layer, silt_tensor *x, silt_tensor *ctx,
                                 silt_tensor *temb, silt_tensor **ctx_out) {
    if (ctx_out) *ctx_out = NULL;
    if (!x || !ctx || !temb) return NULL;
    if (!m || !ctx_out) return fail(g, SILT_FAIL(SILT_ERR_ARG, "mmdit_block_forward: NULL model or ctx_out"));
    const mmdit_config *c = &m->cfg;
    if (layer < 0 || layer >= c->depth)
        return fail(g, SILT_FAIL(SILT_ERR_ARG, "mmdit_block_forward: layer %d outside [0, %d)", layer, c->depth));
    const silt_tensor *in[3] = {x, ctx, temb};
    silt_device dev = silt_graph_device(g);
    for (int i = 0; i < 3; i++)
        if (in[i]->dtype != SILT_F32 || in[i]->device != dev || mmdit_device(m) != dev)
            return fail(g, SILT_FAIL(SILT_ERR_UNSUPPORTED,
                                     "mmdit_block_forward: x, ctx and temb must be f32 on the graph's device %s, as "
                                     "the model (input %d is %s on %s, model on %s)",
                                     silt_device_name(dev), i, silt_dtype_name(in[i]->dtype),
                                     silt_device_name(in[i]->device), silt_device_name(mmdit_device(m))));
    int64_t B = x->shape[0], D = c->hidden;
    if (x->ndim != 3 || x->shape[2] != D || ctx->ndim != 3 || ctx->shape[0] != B || ctx->shape[2] != D ||
        temb->ndim != 2 || temb->shape[0] != B || temb->shape[1] != D) {
        char b1[64], b2[64], b3[64];
        return fail(g, SILT_FAIL(SILT_ERR_SHAPE,
                                 "mmdit_block_forward: x %s, ctx %s, temb %s; expected (B, N, %lld), (B, T, %lld), "
                                 "(B, %lld)",
                                 silt_shape_str(x, b1, sizeof b1), silt_shape_str(ctx, b2, sizeof b2),
                                 silt_shape_str(temb, b3, sizeof b3), (long long)D, (long long)D, (long long)D));
    }
    // No perturbation, so the token grid (used by SEG only) is any N x 1.
    fwd f = {.g = g, .m = m, .B = (int)B, .N = (int)x->shape[1], .T = (int)ctx->shape[1], .w = 1};
    f.h = f.N;
    silt_tensor *xo = x, *co = ctx;
    block_forward(&f, layer, silt_silu(g, temb), &xo, &co);
    if (!xo || silt_graph_status(g) != SILT_OK) return NULL;
    *ctx_out = co;
    return xo;
}
