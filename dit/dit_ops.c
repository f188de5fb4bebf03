#include "dit/dit_ops.h"

#include <math.h>
#include <string.h>

#include "cuda/cuda.h"

static silt_tensor *fail_shape(silt_graph *g, const char *op, const silt_tensor *a, const char *why) {
    char buf[64];
    silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "%s: %s %s", op, a ? silt_shape_str(a, buf, sizeof buf) : "", why));
    return NULL;
}

// --- q/k/v split ------------------------------------------------------------------

void dit_split_qkv_fwd_cpu(float *q, float *k, float *v, const float *qkv, int64_t B, int64_t T, int64_t H,
                           int64_t Dh) {
    int64_t D = H * Dh;
    float *dst[3] = {q, k, v};
#pragma omp parallel for collapse(2) if (B * T * D > 32768)
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            const float *row = qkv + (b * T + t) * 3 * D;
            for (int s = 0; s < 3; s++)
                for (int64_t h = 0; h < H; h++)
                    memcpy(dst[s] + ((b * H + h) * T + t) * Dh, row + s * D + h * Dh, (size_t)Dh * sizeof(float));
        }
}

void dit_split_qkv_bwd_cpu(float *dqkv, const float *dq, const float *dk, const float *dv, int64_t B, int64_t T,
                           int64_t H, int64_t Dh) {
    int64_t D = H * Dh;
    const float *src[3] = {dq, dk, dv};
#pragma omp parallel for collapse(2) if (B * T * D > 32768)
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            float *row = dqkv + (b * T + t) * 3 * D;
            for (int s = 0; s < 3; s++) {
                if (!src[s]) continue;
                for (int64_t h = 0; h < H; h++) {
                    const float *p = src[s] + ((b * H + h) * T + t) * Dh;
                    float *o = row + s * D + h * Dh;
                    for (int64_t d = 0; d < Dh; d++) o[d] += p[d];
                }
            }
        }
}

typedef struct { silt_tensor *qkv, *q, *k, *v; int64_t H; } split_node;

static silt_status split_qkv_bwd(silt_graph *g, void *node) {
    split_node *n = node;
    if (!n->q->grad && !n->k->grad && !n->v->grad) return SILT_OK;
    float *dx = silt_graph_grad(g, n->qkv);
    if (!dx) return silt_graph_status(g);
    // A part whose output got no gradient contributes nothing.
    dit_split_qkv_bwd_cpu(dx, n->q->grad, n->k->grad, n->v->grad, n->qkv->shape[0], n->qkv->shape[1], n->H,
                          n->q->shape[3]);
    return SILT_OK;
}

silt_status dit_split_qkv(silt_graph *g, silt_tensor *qkv, int heads, silt_tensor **outs) {
    outs[0] = outs[1] = outs[2] = NULL;
    if (!qkv) return silt_graph_status(g) ? silt_graph_status(g) : silt_graph_fail(g, SILT_ERR_ARG);
    if (silt_graph_check_dev(g, "split_qkv", qkv)) return silt_graph_status(g);
    if (qkv->ndim != 3 || heads < 1 || qkv->shape[2] % (3 * (int64_t)heads)) {
        fail_shape(g, "split_qkv", qkv, "is not (B, T, 3*heads*Dh)");
        return silt_graph_status(g);
    }
    int64_t B = qkv->shape[0], T = qkv->shape[1], H = heads, Dh = qkv->shape[2] / (3 * H);
    silt_tensor *o[3];
    for (int s = 0; s < 3; s++)
        if (!(o[s] = silt_graph_new(g, B, H, T, Dh))) return silt_graph_status(g);
    if (qkv->device == SILT_CUDA) {
        silt_graph_needs_grad(g, qkv, NULL, NULL);  // fails the graph when a grad is asked for
        silt_status s = dit_split_qkv_fwd_cuda(silt_f32(o[0]), silt_f32(o[1]), silt_f32(o[2]), silt_f32(qkv), B, T, H, Dh);
        if (!silt_graph_done(g, s, o[0])) return silt_graph_status(g);
        for (int i = 0; i < 3; i++) outs[i] = o[i];
        return SILT_OK;
    }
    dit_split_qkv_fwd_cpu(silt_f32(o[0]), silt_f32(o[1]), silt_f32(o[2]), silt_f32(qkv), B, T, H, Dh);
    if (silt_graph_needs_grad(g, qkv, NULL, NULL)) {
        for (int s = 0; s < 3; s++) o[s]->requires_grad = true;
        split_node *n = silt_graph_record(g, split_qkv_bwd, sizeof *n);
        if (!n) return silt_graph_status(g);
        *n = (split_node){qkv, o[0], o[1], o[2], H};
    }
    for (int s = 0; s < 3; s++) outs[s] = o[s];
    return SILT_OK;
}

silt_tensor *dit_merge_heads_bf16(silt_graph *g, silt_tensor *a) {
    if (!a) return NULL;
    if (silt_graph_require_cuda(g, "merge_heads_bf16")) return NULL;
    if (silt_graph_check_dev(g, "merge_heads_bf16", a)) return NULL;
    if (a->ndim != 4) {
        fail_shape(g, "merge_heads_bf16", a, "is not (B, H, T, Dh)");
        return NULL;
    }
    int64_t B = a->shape[0], H = a->shape[1], T = a->shape[2], Dh = a->shape[3];
    silt_tensor *out = silt_graph_tensor(g, SILT_BF16, 3, (const int64_t[]){B, T, H * Dh});
    if (!out) return NULL;
    silt_graph_needs_grad(g, a, NULL, NULL);  // no backward: fails the graph when one is wanted
    return silt_graph_done(g, dit_merge_heads_bf16_fwd_cuda((uint16_t *)out->data, silt_f32(a), B, H, T, Dh), out);
}

bool dit_attention_qkv_bf16_takes(const silt_graph *g, int64_t Dh) {
    return silt_graph_device(g) == SILT_CUDA && silt_cuda_attention_bf16() && attention_qkv_bf16_eligible_cuda(Dh);
}

silt_tensor *dit_attention_qkv_bf16(silt_graph *g, silt_tensor *qkv, int heads, const float *head_u) {
    if (!qkv) return NULL;
    if (silt_graph_require_cuda(g, "attention_qkv_bf16")) return NULL;
    if (silt_graph_check_dev(g, "attention_qkv_bf16", qkv)) return NULL;
    if (qkv->ndim != 3 || heads < 1 || qkv->shape[2] % (3 * (int64_t)heads))
        return fail_shape(g, "attention_qkv_bf16", qkv, "is not (B, T, 3*heads*Dh)");
    int64_t B = qkv->shape[0], T = qkv->shape[1], H = heads, Dh = qkv->shape[2] / (3 * H);
    silt_tensor *out = silt_graph_tensor(g, SILT_BF16, 3, (const int64_t[]){B, T, H * Dh});
    if (!out) return NULL;
    const float *hu = head_u ? silt_graph_device_copy(g, head_u, sizeof(float) * (size_t)(B * H)) : NULL;
    if (head_u && !hu) return NULL;
    silt_graph_needs_grad(g, qkv, NULL, NULL);  // no backward: fails the graph when one is wanted
    return silt_graph_done(g, attention_qkv_fwd_cuda_bf16((uint16_t *)out->data, silt_f32(qkv), B, T, H, Dh, hu), out);
}

// --- head mix -------------------------------------------------------------------------

void dit_head_mix_fwd_cpu(float *out, const float *a, const float *tgt, const float *u, int64_t B, int64_t H,
                          int64_t T, int64_t Dv, int64_t rb, int64_t R, int64_t Tt) {
    int64_t slab = T * Dv;
#pragma omp parallel for collapse(2) if (B * H * slab > 32768)
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++) {
            const float *x = a + (b * H + h) * slab;
            float *o = out + (b * H + h) * slab;
            float w = (b >= rb && b < rb + R) ? u[h] : 0.0f;
            if (w == 0.0f) { memcpy(o, x, (size_t)slab * sizeof(float)); continue; }
            const float *y = tgt + ((b - rb) * H + h) * Tt * Dv;
            for (int64_t t = 0; t < T; t++) {
                const float *yt = y + (Tt == 1 ? 0 : t * Dv);
                for (int64_t d = 0; d < Dv; d++) o[t * Dv + d] = (1.0f - w) * x[t * Dv + d] + w * yt[d];
            }
        }
}

void dit_head_mix_bwd_cpu(float *da, float *dtgt, const float *dout, const float *u, int64_t B, int64_t H, int64_t T,
                          int64_t Dv, int64_t rb, int64_t R, int64_t Tt) {
    int64_t slab = T * Dv;
#pragma omp parallel for collapse(2) if (B * H * slab > 32768)
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++) {
            const float *g = dout + (b * H + h) * slab;
            float w = (b >= rb && b < rb + R) ? u[h] : 0.0f;
            if (da) {
                float *d = da + (b * H + h) * slab;
                for (int64_t i = 0; i < slab; i++) d[i] += (1.0f - w) * g[i];
            }
            if (dtgt && b >= rb && b < rb + R && w != 0.0f) {
                float *dy = dtgt + ((b - rb) * H + h) * Tt * Dv;
                for (int64_t t = 0; t < T; t++) {
                    float *dyt = dy + (Tt == 1 ? 0 : t * Dv);
                    for (int64_t d = 0; d < Dv; d++) dyt[d] += w * g[t * Dv + d];
                }
            }
        }
}

typedef struct { silt_tensor *a, *tgt, *out; const float *u; int64_t rb; } mix_node;

static silt_status head_mix_bwd(silt_graph *g, void *node) {
    mix_node *n = node;
    if (!n->out->grad) return SILT_OK;
    float *da = silt_graph_grad(g, n->a), *dt = silt_graph_grad(g, n->tgt);
    if (silt_graph_status(g)) return silt_graph_status(g);
    const int64_t *s = n->a->shape;
    dit_head_mix_bwd_cpu(da, dt, n->out->grad, n->u, s[0], s[1], s[2], s[3], n->rb, n->tgt->shape[0],
                         n->tgt->shape[2]);
    return SILT_OK;
}

silt_tensor *dit_head_mix(silt_graph *g, silt_tensor *a, silt_tensor *tgt, int64_t row_begin, const float *u) {
    if (!a || !tgt || !u) return NULL;
    if (silt_graph_check_dev(g, "head_mix", a) || silt_graph_check_dev(g, "head_mix", tgt)) return NULL;
    if (a->ndim != 4 || tgt->ndim != 4 || tgt->shape[1] != a->shape[1] ||
        tgt->shape[3] != a->shape[3] || (tgt->shape[2] != a->shape[2] && tgt->shape[2] != 1) || row_begin < 0 ||
        row_begin + tgt->shape[0] > a->shape[0])
        return fail_shape(g, "head_mix", tgt, "does not fit the rows/heads of the attention output");
    int64_t H = a->shape[1];
    float *uc = silt_arena_alloc(silt_graph_arena(g), (size_t)H * sizeof(float));
    silt_tensor *out = silt_graph_tensor_f32(g, 4, a->shape);
    if (!uc || !out) { silt_graph_fail(g, SILT_ERR_OOM); return NULL; }
    memcpy(uc, u, (size_t)H * sizeof(float));
    if (out->device == SILT_CUDA) {
        silt_graph_needs_grad(g, a, tgt, NULL);
        const float *ud = silt_graph_device_copy(g, uc, (size_t)H * sizeof(float));
        if (!ud) return NULL;
        return silt_graph_done(g, dit_head_mix_fwd_cuda(silt_f32(out), silt_f32(a), silt_f32(tgt), ud, a->shape[0], H,
                                                        a->shape[2], a->shape[3], row_begin, tgt->shape[0],
                                                        tgt->shape[2]),
                               out);
    }
    dit_head_mix_fwd_cpu(silt_f32(out), silt_f32(a), silt_f32(tgt), uc, a->shape[0], H, a->shape[2], a->shape[3],
                         row_begin, tgt->shape[0], tgt->shape[2]);
    if (silt_graph_needs_grad(g, a, tgt, NULL)) {
        out->requires_grad = true;
        mix_node *n = silt_graph_record(g, head_mix_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (mix_node){a, tgt, out, uc, row_begin};
    }
    return out;
}

// --- SEG blur ---------------------------------------------------------------------------

int dit_seg_is_infinite(double sigma) { return !(sigma <= 9999.0); }

int dit_seg_kernel(float *w, int cap, double sigma, int n) {
    // pipeline_seg.py: kernel_size = ceil(6 s) + 1 - ceil(6 s) % 2, then
    // gaussian_blur_2d clips it to height - (height % 2 - 1).
    int c = (int)ceil(6.0 * sigma);
    int k = c + 1 - c % 2;
    int lim = n - (n % 2 - 1);
    if (k > lim) k = lim;
    if (k > cap) k = cap;
    if (k < 1) k = 1;
    double half = (k - 1) * 0.5, sum = 0;
    for (int i = 0; i < k; i++) sum += exp(-0.5 * ((i - half) / sigma) * ((i - half) / sigma));
    for (int i = 0; i < k; i++) w[i] = (float)(exp(-0.5 * ((i - half) / sigma) * ((i - half) / sigma)) / sum);
    return k;
}

// torch F.pad(mode="reflect"): -1 -> 1, n -> n-2 (the edge is not repeated).
static inline int reflect(int p, int n) {
    if (n == 1) return 0;
    if (p < 0) p = -p;
    if (p >= n) p = 2 * (n - 1) - p;
    return p;
}

// One axis of the blur over a (gh, gw, D) slab. axis 1 (j): out[i,j] = sum_b w[b] x[i, refl(j+b-r)].
static void blur_axis(float *out, const float *x, int gh, int gw, int64_t D, const float *w, int k, int axis) {
    int r = k / 2;
    memset(out, 0, sizeof(float) * (size_t)gh * (size_t)gw * (size_t)D);
    for (int i = 0; i < gh; i++)
        for (int j = 0; j < gw; j++) {
            float *o = out + ((int64_t)i * gw + j) * D;
            for (int b = 0; b < k; b++) {
                int si = axis == 0 ? reflect(i + b - r, gh) : i, sj = axis == 1 ? reflect(j + b - r, gw) : j;
                const float *s = x + ((int64_t)si * gw + sj) * D;
                for (int64_t d = 0; d < D; d++) o[d] += w[b] * s[d];
            }
        }
}

// The adjoint of blur_axis: dx[i, refl(j+b-r)] += w[b] dout[i,j].
static void blur_axis_adj(float *dx, const float *dout, int gh, int gw, int64_t D, const float *w, int k, int axis) {
    int r = k / 2;
    for (int i = 0; i < gh; i++)
        for (int j = 0; j < gw; j++) {
            const float *gsrc = dout + ((int64_t)i * gw + j) * D;
            for (int b = 0; b < k; b++) {
                int si = axis == 0 ? reflect(i + b - r, gh) : i, sj = axis == 1 ? reflect(j + b - r, gw) : j;
                float *o = dx + ((int64_t)si * gw + sj) * D;
                for (int64_t d = 0; d < D; d++) o[d] += w[b] * gsrc[d];
            }
        }
}

void dit_seg_blur_fwd_cpu(float *out, float *tmp, const float *x, const float *sel, int64_t R, int64_t H, int gh,
                          int gw, int64_t D, const float *wi, int ki, const float *wj, int kj) {
    int64_t T = (int64_t)gh * gw, slab = T * D;
#pragma omp parallel for collapse(2) if (R * H * slab > 16384)
    for (int64_t r = 0; r < R; r++)
        for (int64_t h = 0; h < H; h++) {
            int64_t off = (r * H + h) * slab;
            if (sel[h] == 0.0f) { memcpy(out + off, x + off, (size_t)slab * sizeof(float)); continue; }
            if (!wj) {  // infinite blur: every token gets the mean query
                for (int64_t d = 0; d < D; d++) {
                    double s = 0;
                    for (int64_t t = 0; t < T; t++) s += x[off + t * D + d];
                    float m = (float)(s / (double)T);
                    for (int64_t t = 0; t < T; t++) out[off + t * D + d] = m;
                }
                continue;
            }
            blur_axis(tmp + off, x + off, gh, gw, D, wj, kj, 1);
            blur_axis(out + off, tmp + off, gh, gw, D, wi, ki, 0);
        }
}

void dit_seg_blur_bwd_cpu(float *dx, float *tmp, const float *dout, const float *sel, int64_t R, int64_t H, int gh,
                          int gw, int64_t D, const float *wi, int ki, const float *wj, int kj) {
    int64_t T = (int64_t)gh * gw, slab = T * D;
#pragma omp parallel for collapse(2) if (R * H * slab > 16384)
    for (int64_t r = 0; r < R; r++)
        for (int64_t h = 0; h < H; h++) {
            int64_t off = (r * H + h) * slab;
            if (sel[h] == 0.0f) {
                for (int64_t i = 0; i < slab; i++) dx[off + i] += dout[off + i];
                continue;
            }
            if (!wj) {
                for (int64_t d = 0; d < D; d++) {
                    double s = 0;
                    for (int64_t t = 0; t < T; t++) s += dout[off + t * D + d];
                    float m = (float)(s / (double)T);
                    for (int64_t t = 0; t < T; t++) dx[off + t * D + d] += m;
                }
                continue;
            }
            // out = Bi Bj x, so dx += Bj^T Bi^T dout.
            memset(tmp + off, 0, (size_t)slab * sizeof(float));
            blur_axis_adj(tmp + off, dout + off, gh, gw, D, wi, ki, 0);
            blur_axis_adj(dx + off, tmp + off, gh, gw, D, wj, kj, 1);
        }
}

#define SEG_MAX_TAPS 1025

typedef struct {
    silt_tensor *x, *out;
    const float *sel, *wi, *wj;
    int gh, gw, ki, kj;
} blur_node;

static silt_status seg_blur_bwd(silt_graph *g, void *node) {
    blur_node *n = node;
    if (!n->out->grad) return SILT_OK;
    float *dx = silt_graph_grad(g, n->x);
    if (!dx) return silt_graph_status(g);
    float *tmp = silt_arena_alloc(silt_graph_arena(g), silt_nbytes(n->x));
    if (!tmp) return silt_graph_fail(g, SILT_ERR_OOM);
    dit_seg_blur_bwd_cpu(dx, tmp, n->out->grad, n->sel, n->x->shape[0], n->x->shape[1], n->gh, n->gw, n->x->shape[3],
                         n->wi, n->ki, n->wj, n->kj);
    return SILT_OK;
}

silt_tensor *dit_seg_blur(silt_graph *g, silt_tensor *x, int gh, int gw, double sigma, const float *sel) {
    if (!x || !sel) return NULL;
    if (silt_graph_check_dev(g, "seg_blur", x)) return NULL;
    if (x->ndim != 4 || gh < 1 || gw < 1 || x->shape[2] != (int64_t)gh * gw)
        return fail_shape(g, "seg_blur", x, "is not (R, H, gh*gw, D) over the token grid");
    if (!(sigma > 0)) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "seg_blur: sigma %g must be > 0 (INFINITY = mean query)", sigma));
        return NULL;
    }
    int64_t H = x->shape[1];
    silt_arena *ar = silt_graph_arena(g);
    bool inf = dit_seg_is_infinite(sigma);
    float *selc = silt_arena_alloc(ar, (size_t)H * sizeof(float));
    float *wi = inf ? NULL : silt_arena_alloc(ar, SEG_MAX_TAPS * sizeof(float));
    float *wj = inf ? NULL : silt_arena_alloc(ar, SEG_MAX_TAPS * sizeof(float));
    silt_tensor *out = silt_graph_tensor_f32(g, 4, x->shape);
    bool dev = x->device == SILT_CUDA;
    // The blur's intermediate lives where the data does.
    silt_tensor *tmpt = inf || !dev ? NULL : silt_graph_tensor_f32(g, 4, x->shape);
    float *tmp = inf ? NULL : dev ? (tmpt ? silt_f32(tmpt) : NULL) : silt_arena_alloc(ar, silt_nbytes(x));
    if (!selc || !out || (!inf && (!wi || !wj || !tmp))) { silt_graph_fail(g, SILT_ERR_OOM); return NULL; }
    memcpy(selc, sel, (size_t)H * sizeof(float));
    int ki = 0, kj = 0;
    if (!inf) {
        ki = dit_seg_kernel(wi, SEG_MAX_TAPS, sigma, gh);
        kj = dit_seg_kernel(wj, SEG_MAX_TAPS, sigma, gw);
    }
    if (dev) {
        silt_graph_needs_grad(g, x, NULL, NULL);
        const float *seld = silt_graph_device_copy(g, selc, (size_t)H * sizeof(float));
        const float *wid = inf ? NULL : silt_graph_device_copy(g, wi, (size_t)ki * sizeof(float));
        const float *wjd = inf ? NULL : silt_graph_device_copy(g, wj, (size_t)kj * sizeof(float));
        if (!seld || (!inf && (!wid || !wjd))) return NULL;
        return silt_graph_done(g, dit_seg_blur_fwd_cuda(silt_f32(out), tmp, silt_f32(x), seld, x->shape[0], H, gh, gw,
                                                        x->shape[3], wid, ki, wjd, kj),
                               out);
    }
    dit_seg_blur_fwd_cpu(silt_f32(out), tmp, silt_f32(x), selc, x->shape[0], H, gh, gw, x->shape[3], wi, ki, wj, kj);
    if (silt_graph_needs_grad(g, x, NULL, NULL)) {
        out->requires_grad = true;
        blur_node *n = silt_graph_record(g, seg_blur_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (blur_node){x, out, selc, wi, wj, gh, gw, ki, kj};
    }
    return out;
}
