// Softmax and blocked scaled-dot-product attention (see ops_attention.h).
//
// Forward, per (b, h) and block of query rows [i0, i0 + rows):
//   S = scale * q_blk k^T + mask      (rows x kend, sgemm)
//   P = softmax_rows(S), lse = max + log(sum exp(S - max))
//   out_blk = (1 - u) P v + u v_blk   (sgemm; v_blk: the identity map's rows)
// Backward (FlashAttention, Dao et al. 2022, alg. 4), per block:
//   P = exp(S - lse)                  (recomputed, S as above)
//   dv += (1 - u) P^T dout_blk
//   dP = (1 - u) dout_blk v^T,  dS = P * (dP - rowsum(P * dP))
//   dq_blk += scale dS k,  dk += scale dS^T q_blk
//   dv_blk += u dout_blk              (identity part of the SoftPAG mix)
// With causal masking a block's rows see at most `kend` keys, so S is only
// computed over that prefix.
#include "core/ops_attention.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/blas.h"
#include "core/fastmath.h"
#include "cuda/cuda.h"

#define SM_PAR_MIN 32768

// --- softmax ------------------------------------------------------------------------

// In place over one row; returns the log-sum-exp (-INFINITY for an all -inf row,
// which is left as zeros).
static float softmax_row(float *y, const float *x, int64_t C) {
    float m = -INFINITY;
    for (int64_t c = 0; c < C; c++) m = x[c] > m ? x[c] : m;
    if (m == -INFINITY) {
        for (int64_t c = 0; c < C; c++) y[c] = 0.0f;
        return -INFINITY;
    }
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t c = 0; c < C; c++) {
        float e = silt_expf(x[c] - m);
        y[c] = e;
        s += e;
    }
    float inv = (float)(1.0 / s);
    for (int64_t c = 0; c < C; c++) y[c] *= inv;
    return m + (float)log(s);
}

void softmax_fwd_cpu(float *out, const float *x, int64_t N, int64_t C) {
#pragma omp parallel for if (N * C >= SM_PAR_MIN)
    for (int64_t n = 0; n < N; n++) softmax_row(out + n * C, x + n * C, C);
}

void softmax_bwd_cpu(float *dx, const float *dout, const float *out, int64_t N, int64_t C) {
#pragma omp parallel for if (N * C >= SM_PAR_MIN)
    for (int64_t n = 0; n < N; n++) {
        const float *y = out + n * C, *gy = dout + n * C;
        double s = 0;
        for (int64_t c = 0; c < C; c++) s += (double)gy[c] * y[c];
        float sf = (float)s;
        float *d = dx + n * C;
        for (int64_t c = 0; c < C; c++) d[c] += y[c] * (gy[c] - sf);
    }
}

// --- attention tiles ------------------------------------------------------------------
//
// Scheduling. Tiles are independent in the forward (and per head in the
// backward), so they run in parallel over OpenMP threads, each calling a
// single-threaded sgemm. That holds when the BLAS is serial, when it is the
// builtin one (its own parallel loop nests and runs serially), and for
// OpenBLAS's OpenMP build (which runs serially inside a parallel region).
// OpenBLAS's pthreads build with several threads (Debian's default) must not
// be mixed with OpenMP at this grain: called from several OpenMP threads, or
// alternating with OpenMP regions tile by tile, its spinning pool and
// libgomp's fight for the cores; measured 10-40x slower on a loaded 2-core VM.
// With that BLAS the tiles run one after another on the calling thread and
// only the sgemm calls are parallel (the row loops are then serial).

static int64_t attn_block(int64_t Tq) { return Tq < SILT_ATTN_BLOCK ? Tq : SILT_ATTN_BLOCK; }

// Keys visible to query row i (a prefix length in [0, Tk]).
static int64_t attn_row_keys(int64_t i, int64_t Tq, int64_t Tk, bool causal) {
    if (!causal) return Tk;
    int64_t e = i + 1 + (Tk - Tq);
    return e < 0 ? 0 : (e > Tk ? Tk : e);
}

static bool attn_blas_own_threads(void) {
    const silt_blas_info *b = silt_blas_info_get();
    return b->threads > 1 && !strstr(b->config, "USE_OPENMP");
}

// Below this many multiply-adds (B*H*Tq*Tk*(D+Dv)) a parallel region costs
// more than it saves.
#define ATTN_PAR_MIN_MACS (1 << 17)

// OpenMP threads running tiles; attention_scratch_floats sizes for the same
// number. 1 when the BLAS runs its own thread pool (see above) or the problem
// is small.
static int attn_threads(int64_t items, int64_t macs) {
    if (macs < ATTN_PAR_MIN_MACS || attn_blas_own_threads()) return 1;
    int64_t nt = omp_get_max_threads();
    return (int)(items < nt ? (items < 1 ? 1 : items) : nt);
}

int64_t attention_scratch_floats(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D, int64_t Dv) {
    int64_t blk = attn_block(Tq), nblk = (Tq + blk - 1) / blk;
    // The forward runs over B*H*nblk items and the backward over B*H, so the
    // forward's thread count bounds both.
    return (int64_t)attn_threads(B * H * nblk, B * H * Tq * Tk * (D + Dv)) * 2 * blk * Tk;
}

static float attn_scale(const silt_attn_opts *o, int64_t D) {
    return o && o->scale != 0.0f ? o->scale : (float)(1.0 / sqrt((double)D));
}

// Everything a tile needs, fixed for one kernel call.
typedef struct {
    const float *q, *k, *v;
    int64_t Tq, Tk, D, Dv, blk;
    float scale;
    const float *mask, *head_u;
    bool causal;
} attn_args;

static attn_args attn_args_make(const float *q, const float *k, const float *v, int64_t Tq, int64_t Tk, int64_t D,
                                int64_t Dv, const silt_attn_opts *o) {
    return (attn_args){q, k, v, Tq, Tk, D, Dv, attn_block(Tq), attn_scale(o, D), o ? o->mask : NULL,
                       o ? o->head_u : NULL, o && o->causal};
}

// Adds the mask to row i of the scores (kend keys) and cuts it at its causal limit.
static void attn_row_mask(float *s, int64_t i, int64_t kend, const attn_args *a) {
    if (a->mask)
        for (int64_t j = 0; j < kend; j++) s[j] += a->mask[i * a->Tk + j];
    for (int64_t j = attn_row_keys(i, a->Tq, a->Tk, a->causal); j < kend; j++) s[j] = -INFINITY;
}

// Forward of rows [i0, i0 + rows) of head bh. S: rows x Tk scratch.
static void attn_fwd_tile(float *S, float *out, float *lse, float *probs, const attn_args *a, int64_t bh, int64_t i0,
                          int64_t rows) {
    int64_t Tq = a->Tq, Tk = a->Tk, Dv = a->Dv;
    int64_t kend = attn_row_keys(i0 + rows - 1, Tq, Tk, a->causal);
    const float *qb = a->q + (bh * Tq + i0) * a->D, *kh = a->k + bh * Tk * a->D, *vh = a->v + bh * Tk * Dv;
    float *ob = out + (bh * Tq + i0) * Dv;
    float u = a->head_u ? a->head_u[bh] : 0.0f;
    if (kend > 0) {
        silt_sgemm(false, true, rows, kend, a->D, a->scale, qb, a->D, kh, a->D, 0.0f, S, kend);
        for (int64_t r = 0; r < rows; r++) {
            float *s = S + r * kend;
            attn_row_mask(s, i0 + r, kend, a);
            float l = softmax_row(s, s, kend);
            if (lse) lse[bh * Tq + i0 + r] = l;
        }
        silt_sgemm(false, false, rows, Dv, kend, 1.0f - u, S, kend, vh, Dv, 0.0f, ob, Dv);
    } else {
        memset(ob, 0, (size_t)(rows * Dv) * sizeof(float));
        if (lse)
            for (int64_t r = 0; r < rows; r++) lse[bh * Tq + i0 + r] = -INFINITY;
    }
    for (int64_t r = 0; r < rows; r++) {
        if (u != 0.0f) {  // identity map: query i reads value row i (Tq == Tk)
            const float *vr = vh + (i0 + r) * Dv;
            for (int64_t x = 0; x < Dv; x++) ob[r * Dv + x] += u * vr[x];
        }
        if (probs) {
            float *pr = probs + (bh * Tq + i0 + r) * Tk;
            if (kend > 0) memcpy(pr, S + r * kend, (size_t)kend * sizeof(float));
            memset(pr + kend, 0, (size_t)(Tk - kend) * sizeof(float));
        }
    }
}

void attention_fwd_cpu(float *out, float *lse, float *scratch, const float *q, const float *k, const float *v,
                       int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D, int64_t Dv, const silt_attn_opts *o) {
    attn_args a = attn_args_make(q, k, v, Tq, Tk, D, Dv, o);
    int64_t blk = a.blk, nblk = (Tq + blk - 1) / blk, items = B * H * nblk;
    float *probs = o ? o->probs_out : NULL;
    int nt = attn_threads(items, B * H * Tq * Tk * (D + Dv));
    if (nt == 1) {
        for (int64_t it = 0; it < items; it++) {
            int64_t i0 = (it % nblk) * blk;
            attn_fwd_tile(scratch, out, lse, probs, &a, it / nblk, i0, Tq - i0 < blk ? Tq - i0 : blk);
        }
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        float *S = scratch + (int64_t)omp_get_thread_num() * 2 * blk * Tk;
#pragma omp for schedule(dynamic)
        for (int64_t it = 0; it < items; it++) {
            int64_t i0 = (it % nblk) * blk;
            attn_fwd_tile(S, out, lse, probs, &a, it / nblk, i0, Tq - i0 < blk ? Tq - i0 : blk);
        }
    }
}

// Backward of rows [i0, i0 + rows) of head bh through the attention map
// (the identity part is added per head by the caller). P, dP: rows x Tk.
static void attn_bwd_tile(float *P, float *dP, float *dq, float *dk, float *dv, const float *dout, const float *lse,
                          const attn_args *a, int64_t bh, int64_t i0, int64_t rows) {
    int64_t Tq = a->Tq, Tk = a->Tk, D = a->D, Dv = a->Dv;
    float u = a->head_u ? a->head_u[bh] : 0.0f, am = 1.0f - u;
    int64_t kend = attn_row_keys(i0 + rows - 1, Tq, Tk, a->causal);
    if (kend <= 0 || am == 0.0f) return;  // every row fully masked, or pure PAG: nothing flows through the map
    const float *qb = a->q + (bh * Tq + i0) * D, *kh = a->k + bh * Tk * D, *vh = a->v + bh * Tk * Dv;
    const float *gb = dout + (bh * Tq + i0) * Dv;
    float *dkh = dk ? dk + bh * Tk * D : NULL, *dvh = dv ? dv + bh * Tk * Dv : NULL;
    silt_sgemm(false, true, rows, kend, D, a->scale, qb, D, kh, D, 0.0f, P, kend);
    for (int64_t r = 0; r < rows; r++) {
        float *p = P + r * kend;
        attn_row_mask(p, i0 + r, kend, a);
        if (!lse) {
            softmax_row(p, p, kend);
            continue;
        }
        float l = lse[bh * Tq + i0 + r];
        if (l == -INFINITY) memset(p, 0, (size_t)kend * sizeof(float));
        else
#pragma omp simd
            for (int64_t j = 0; j < kend; j++) p[j] = silt_expf(p[j] - l);
    }
    if (dvh) silt_sgemm(true, false, kend, Dv, rows, am, P, kend, gb, Dv, 1.0f, dvh, Dv);
    if (!dq && !dkh) return;
    silt_sgemm(false, true, rows, kend, Dv, am, gb, Dv, vh, Dv, 0.0f, dP, kend);
    for (int64_t r = 0; r < rows; r++) {
        float *p = P + r * kend, *dp = dP + r * kend;
        double di = 0;
        for (int64_t j = 0; j < kend; j++) di += (double)p[j] * dp[j];
        float dif = (float)di;
        for (int64_t j = 0; j < kend; j++) dp[j] = p[j] * (dp[j] - dif);
    }
    if (dq) silt_sgemm(false, false, rows, D, kend, a->scale, dP, kend, kh, D, 1.0f, dq + (bh * Tq + i0) * D, D);
    if (dkh) silt_sgemm(true, false, kend, D, rows, a->scale, dP, kend, qb, D, 1.0f, dkh, D);
}

// SoftPAG identity part of head bh: dv_i += u * dout_i.
static void attn_bwd_identity(float *dv, const float *dout, const attn_args *a, int64_t bh) {
    float u = a->head_u ? a->head_u[bh] : 0.0f;
    if (!dv || u == 0.0f) return;
    int64_t n = a->Tq * a->Dv;
    float *dvh = dv + bh * n;
    const float *gh = dout + bh * n;
    for (int64_t x = 0; x < n; x++) dvh[x] += u * gh[x];
}

void attention_bwd_cpu(float *dq, float *dk, float *dv, float *scratch, const float *dout, const float *q,
                       const float *k, const float *v, const float *out, const float *lse, int64_t B, int64_t H,
                       int64_t Tq, int64_t Tk, int64_t D, int64_t Dv, const silt_attn_opts *o) {
    if (!dq && !dk && !dv) return;
    attn_args a = attn_args_make(q, k, v, Tq, Tk, D, Dv, o);
    int64_t blk = a.blk;
    // Parallel over heads only: the blocks of one head all add into its dk, dv.
    int nt = attn_threads(B * H, B * H * Tq * Tk * (D + Dv));
    if (nt == 1) {
        for (int64_t bh = 0; bh < B * H; bh++) {
            for (int64_t i0 = 0; i0 < Tq; i0 += blk)
                attn_bwd_tile(scratch, scratch + blk * Tk, dq, dk, dv, dout, lse, &a, bh, i0, Tq - i0 < blk ? Tq - i0 : blk);
            attn_bwd_identity(dv, dout, &a, bh);
        }
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        float *P = scratch + (int64_t)omp_get_thread_num() * 2 * blk * Tk;
#pragma omp for schedule(dynamic)
        for (int64_t bh = 0; bh < B * H; bh++) {
            for (int64_t i0 = 0; i0 < Tq; i0 += blk)
                attn_bwd_tile(P, P + blk * Tk, dq, dk, dv, dout, lse, &a, bh, i0, Tq - i0 < blk ? Tq - i0 : blk);
            attn_bwd_identity(dv, dout, &a, bh);
        }
    }
}

// --- graph ops --------------------------------------------------------------------------

static silt_tensor *attn_fail(silt_graph *g, silt_status s) {
    silt_graph_fail(g, s);
    return NULL;
}

static bool attn_check_f32(silt_graph *g, const char *op, const char *what, const silt_tensor *t) {
    if (t->dtype == SILT_F32 && t->device == silt_graph_device(g)) return true;
    silt_graph_fail(g, SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: %s must be f32 on the graph's device %s (got %s on %s)", op,
                                 what, silt_device_name(silt_graph_device(g)), silt_dtype_name(t->dtype),
                                 silt_device_name(t->device)));
    return false;
}

// softmax

typedef struct {
    silt_tensor *x, *out;
} softmax_node;

static silt_status softmax_bwd(silt_graph *g, void *p) {
    softmax_node *n = p;
    if (!n->out->grad) return SILT_OK;
    float *dx = silt_graph_grad(g, n->x);
    if (!dx) return silt_graph_status(g);
    int64_t C = n->x->shape[n->x->ndim - 1];
    return SILT_GRAPH_BWD(g, softmax_bwd, dx, n->out->grad, silt_f32(n->out), silt_numel(n->x) / C, C);
}

silt_tensor *silt_softmax(silt_graph *g, silt_tensor *x) {
    if (!x) return NULL;
    if (!attn_check_f32(g, "softmax", "x", x)) return NULL;
    silt_tensor *out = silt_graph_tensor_f32(g, x->ndim, x->shape);
    if (!out) return NULL;
    int64_t C = x->shape[x->ndim - 1];
    if (out->device == SILT_CUDA) {
        if (!silt_graph_done(g, softmax_fwd_cuda(silt_f32(out), silt_f32(x), silt_numel(x) / C, C), out)) return NULL;
    } else {
        softmax_fwd_cpu(silt_f32(out), silt_f32(x), silt_numel(x) / C, C);
    }
    if (silt_graph_wants_grad(g, x, NULL, NULL)) {
        out->requires_grad = true;
        softmax_node *n = silt_graph_record(g, softmax_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (softmax_node){x, out};
    }
    return out;
}

// attention

typedef struct {
    silt_tensor *q, *k, *v, *out, *lse;
    silt_attn_opts opts;  // probs_out cleared; mask/head_u borrowed from the caller
} attention_node;

// The scratch tile lives only for one kernel call: it comes from the graph's
// reusable scratch buffer, not the arena (a tile per attention call per layer
// would add up to gigabytes at large Tk) and not malloc (no allocation per call).
static float *attn_scratch_alloc(silt_graph *g, int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D, int64_t Dv) {
    int64_t n = attention_scratch_floats(B, H, Tq, Tk, D, Dv);
    return silt_graph_scratch(g, (size_t)n * sizeof(float));
}

static silt_status attention_bwd(silt_graph *g, void *p) {
    attention_node *n = p;
    if (!n->out->grad) return SILT_OK;
    float *dq = silt_graph_grad(g, n->q), *dk = silt_graph_grad(g, n->k), *dv = silt_graph_grad(g, n->v);
    if (silt_graph_status(g) != SILT_OK) return silt_graph_status(g);
    int64_t B = n->q->shape[0], H = n->q->shape[1], Tq = n->q->shape[2], D = n->q->shape[3];
    int64_t Tk = n->k->shape[2], Dv = n->v->shape[3];
    if (silt_graph_device(g) == SILT_CUDA) {
        // Device scratch (kept by the graph across calls); out and lse are the
        // forward's, so only the first B*H*Tq floats are touched.
        int64_t sf = attention_scratch_floats_cuda(B, H, Tq, Tk, D, Dv);
        float *ds = silt_graph_device_scratch(g, (size_t)sf * sizeof(float));
        if (!ds) return silt_graph_status(g);
        return attention_bwd_cuda(dq, dk, dv, ds, n->out->grad, silt_f32(n->q), silt_f32(n->k), silt_f32(n->v),
                                  silt_f32(n->out), silt_f32(n->lse), B, H, Tq, Tk, D, Dv, &n->opts);
    }
    float *scratch = attn_scratch_alloc(g, B, H, Tq, Tk, D, Dv);
    if (!scratch) return silt_graph_status(g);
    attention_bwd_cpu(dq, dk, dv, scratch, n->out->grad, silt_f32(n->q), silt_f32(n->k), silt_f32(n->v),
                      silt_f32(n->out), silt_f32(n->lse), B, H, Tq, Tk, D, Dv, &n->opts);
    return SILT_OK;
}

silt_tensor *silt_attention(silt_graph *g, silt_tensor *q, silt_tensor *k, silt_tensor *v, const silt_attn_opts *o) {
    if (!q || !k || !v) return NULL;
    if (!attn_check_f32(g, "attention", "q", q) || !attn_check_f32(g, "attention", "k", k) ||
        !attn_check_f32(g, "attention", "v", v))
        return NULL;
    char bq[64], bk[64], bv[64];
    if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4 || k->shape[0] != q->shape[0] || v->shape[0] != q->shape[0] ||
        k->shape[1] != q->shape[1] || v->shape[1] != q->shape[1] || k->shape[3] != q->shape[3] ||
        v->shape[2] != k->shape[2])
        return attn_fail(g, SILT_FAIL(SILT_ERR_SHAPE,
                                      "attention: q %s, k %s, v %s do not fit (B,H,Tq,D), (B,H,Tk,D), (B,H,Tk,Dv)",
                                      silt_shape_str(q, bq, sizeof bq), silt_shape_str(k, bk, sizeof bk),
                                      silt_shape_str(v, bv, sizeof bv)));
    int64_t B = q->shape[0], H = q->shape[1], Tq = q->shape[2], D = q->shape[3], Tk = k->shape[2], Dv = v->shape[3];
    silt_attn_opts opts = o ? *o : (silt_attn_opts){0};
    if (opts.head_u && Tq != Tk)
        return attn_fail(g, SILT_FAIL(SILT_ERR_SHAPE,
                                      "attention: head_u (SoftPAG) mixes in the identity map, which needs Tq == Tk "
                                      "(q %s, k %s)",
                                      silt_shape_str(q, bq, sizeof bq), silt_shape_str(k, bk, sizeof bk)));
    if (!isfinite(opts.scale))
        return attn_fail(g, SILT_FAIL(SILT_ERR_ARG, "attention: scale %g is not finite", (double)opts.scale));
    silt_tensor *out = silt_graph_new(g, B, H, Tq, Dv);
    if (!out) return NULL;
    if (out->device == SILT_CUDA) {
        // The option arrays are host memory (as on the CPU); the twin reads
        // device copies. A mask is Tq*Tk floats per call, unless the caller
        // copied it once (mask_in_graph: VAR's block-causal mask, MMDiT's
        // identity-image mask, shared by all layers).
        if (opts.probs_out)
            return attn_fail(g, SILT_FAIL(SILT_ERR_UNSUPPORTED, "attention: probs_out is not supported on a cuda graph"));
        if (opts.mask && !opts.mask_in_graph &&
            !(opts.mask = silt_graph_device_copy(g, opts.mask, (size_t)(Tq * Tk) * sizeof(float))))
            return NULL;
        if (opts.head_u && !(opts.head_u = silt_graph_device_copy(g, opts.head_u, (size_t)(B * H) * sizeof(float))))
            return NULL;
    }
    bool grad = silt_graph_wants_grad(g, q, k, v);
    silt_tensor *lse = grad ? silt_graph_new(g, B, H, Tq, 0) : NULL;
    if (grad && !lse) return NULL;
    if (out->device == SILT_CUDA) {
        // lse is saved for the backward twin (NULL when no grad is asked for).
        if (!silt_graph_done(g, attention_fwd_cuda(silt_f32(out), lse ? silt_f32(lse) : NULL, NULL, silt_f32(q),
                                                   silt_f32(k), silt_f32(v), B, H, Tq, Tk, D, Dv, &opts),
                             out))
            return NULL;
    } else {
        float *scratch = attn_scratch_alloc(g, B, H, Tq, Tk, D, Dv);
        if (!scratch) return NULL;
        attention_fwd_cpu(silt_f32(out), lse ? silt_f32(lse) : NULL, scratch, silt_f32(q), silt_f32(k), silt_f32(v), B,
                          H, Tq, Tk, D, Dv, &opts);
    }
    if (grad) {
        out->requires_grad = true;
        attention_node *n = silt_graph_record(g, attention_bwd, sizeof *n);
        if (!n) return NULL;
        opts.probs_out = NULL;
        *n = (attention_node){q, k, v, out, lse, opts};
    }
    return out;
}
