#include "core/ops_linear.h"

#include <stdlib.h>
#include <string.h>

#include "core/blas.h"
#include "cuda/cuda.h"

// Below this many floats of work an OpenMP region costs more than it saves.
#define PAR_MIN_WORK 32768

// --- raw kernels -------------------------------------------------------------------

void linear_fwd_cpu(float *out, const float *x, const float *w, const float *bias, int64_t N, int64_t in_f,
                    int64_t out_f) {
    // Seed each output row with the bias and let sgemm add x @ w^T on top (beta = 1),
    // so the bias costs one pass over out instead of two.
    if (bias) {
#pragma omp parallel for if (N * out_f > PAR_MIN_WORK)
        for (int64_t i = 0; i < N; i++) memcpy(out + i * out_f, bias, (size_t)out_f * sizeof(float));
    }
    silt_sgemm(false, true, N, out_f, in_f, 1.0f, x, in_f, w, in_f, bias ? 1.0f : 0.0f, out, out_f);
}

// dbias (C) += sum over rows of d (R, C). Columns are split into blocks so the
// threads never share an output, and rows are walked in memory order inside a
// block; sums are kept in double so long batches do not lose the small terms.
static void sum_rows_acc(float *dbias, const float *d, int64_t R, int64_t C) {
    enum { BLK = 64 };
    int64_t nblk = (C + BLK - 1) / BLK;
#pragma omp parallel for if (R * C > PAR_MIN_WORK)
    for (int64_t b = 0; b < nblk; b++) {
        int64_t c0 = b * BLK, c1 = c0 + BLK < C ? c0 + BLK : C;
        double acc[BLK] = {0};
        for (int64_t r = 0; r < R; r++) {
            const float *row = d + r * C;
            for (int64_t c = c0; c < c1; c++) acc[c - c0] += row[c];
        }
        for (int64_t c = c0; c < c1; c++) dbias[c] += (float)acc[c - c0];
    }
}

void linear_bwd_cpu(float *dx, float *dw, float *dbias, const float *dout, const float *x, const float *w, int64_t N,
                    int64_t in_f, int64_t out_f) {
    // out = x w^T + b  =>  dx = dout w, dw = dout^T x, db = 1^T dout
    if (dx) silt_sgemm(false, false, N, in_f, out_f, 1.0f, dout, out_f, w, in_f, 1.0f, dx, in_f);
    if (dw) silt_sgemm(true, false, out_f, in_f, N, 1.0f, dout, out_f, x, in_f, 1.0f, dw, in_f);
    if (dbias) sum_rows_acc(dbias, dout, N, out_f);
}

void matmul_fwd_cpu(float *out, const float *a, const float *b, int64_t batch, int64_t M, int64_t N, int64_t K,
                    bool trans_a, bool trans_b) {
    int64_t lda = trans_a ? M : K, ldb = trans_b ? K : N;
    // One sgemm per batch entry: OpenBLAS threads each product itself, and
    // calling it from an OpenMP loop would oversubscribe the cores.
    for (int64_t i = 0; i < batch; i++)
        silt_sgemm(trans_a, trans_b, M, N, K, 1.0f, a + i * M * K, lda, b + i * K * N, ldb, 0.0f, out + i * M * N, N);
}

void matmul_bwd_cpu(float *da, float *db, const float *dout, const float *a, const float *b, int64_t batch, int64_t M,
                    int64_t N, int64_t K, bool trans_a, bool trans_b) {
    // C = A' B' with A' = op(a) (M,K), B' = op(b) (K,N):  dA' = dC B'^T, dB' = A'^T dC.
    // When an operand is stored transposed its gradient is the transpose:
    //   trans_a: da (K,M) = dA'^T = B' dC^T;   trans_b: db (N,K) = dB'^T = dC^T A'.
    int64_t lda = trans_a ? M : K, ldb = trans_b ? K : N;
    for (int64_t i = 0; i < batch; i++) {
        const float *ai = a + i * M * K, *bi = b + i * K * N, *dci = dout + i * M * N;
        if (da) {
            float *dai = da + i * M * K;
            if (!trans_a)  // (M,N) @ B'^T (N,K); B'^T is b itself when trans_b
                silt_sgemm(false, !trans_b, M, K, N, 1.0f, dci, N, bi, ldb, 1.0f, dai, K);
            else  // B' (K,N) @ dC^T (N,M)
                silt_sgemm(trans_b, true, K, M, N, 1.0f, bi, ldb, dci, N, 1.0f, dai, M);
        }
        if (db) {
            float *dbi = db + i * K * N;
            if (!trans_b)  // A'^T (K,M) @ dC (M,N); A'^T is a itself when trans_a
                silt_sgemm(!trans_a, false, K, N, M, 1.0f, ai, lda, dci, N, 1.0f, dbi, N);
            else  // dC^T (N,M) @ A' (M,K)
                silt_sgemm(true, trans_a, N, K, M, 1.0f, dci, N, ai, lda, 1.0f, dbi, K);
        }
    }
}

void embedding_fwd_cpu(float *out, const int32_t *ids, const float *table, int64_t N, int64_t V, int64_t D) {
    (void)V;
#pragma omp parallel for if (N * D > PAR_MIN_WORK)
    for (int64_t i = 0; i < N; i++) memcpy(out + i * D, table + (int64_t)ids[i] * D, (size_t)D * sizeof(float));
}

void embedding_bwd_cpu(float *dtable, const float *dout, const int32_t *ids, int64_t N, int64_t V, int64_t D) {
    (void)V;
    // Repeated ids write the same table row, so threads split the columns,
    // never the rows: each thread owns a column block of every row.
    enum { BLK = 256 };
    int64_t nblk = (D + BLK - 1) / BLK;
#pragma omp parallel for if (N * D > PAR_MIN_WORK && nblk > 1)
    for (int64_t b = 0; b < nblk; b++) {
        int64_t c0 = b * BLK, c1 = c0 + BLK < D ? c0 + BLK : D;
        for (int64_t i = 0; i < N; i++) {
            float *dst = dtable + (int64_t)ids[i] * D;
            const float *src = dout + i * D;
            for (int64_t c = c0; c < c1; c++) dst[c] += src[c];
        }
    }
}

// --- graph ops ---------------------------------------------------------------------

// Fails the graph unless t is an f32 (or `want`) tensor on the graph's device.
static bool check_tensor(silt_graph *g, const char *op, const char *what, const silt_tensor *t, silt_dtype want) {
    if (t->dtype != want) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "%s: %s must be %s, got %s", op, what, silt_dtype_name(want),
                                     silt_dtype_name(t->dtype)));
        return false;
    }
    if (t->device != silt_graph_device(g)) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: %s is on %s but the graph is on %s (no mixing of devices)",
                                     op, what, silt_device_name(t->device), silt_device_name(silt_graph_device(g))));
        return false;
    }
    return true;
}

typedef struct {
    silt_tensor *x, *w, *bias, *out;
    int64_t N, in_f, out_f;
} linear_node;

static silt_status linear_bwd(silt_graph *g, void *p) {
    linear_node *n = p;
    if (!n->out->grad) return SILT_OK;
    float *dx = silt_graph_grad(g, n->x), *dw = silt_graph_grad(g, n->w), *db = silt_graph_grad(g, n->bias);
    if (silt_graph_status(g) != SILT_OK) return silt_graph_status(g);
    return SILT_GRAPH_BWD(g, linear_bwd, dx, dw, db, n->out->grad, silt_f32(n->x), silt_f32(n->w), n->N, n->in_f,
                          n->out_f);
}

static bool cuda_bf16_weight(const silt_graph *g, const silt_tensor *w) {
    return g && w && w->dtype == SILT_BF16 && w->device == SILT_CUDA && silt_graph_device(g) == SILT_CUDA;
}

// The bf16-activation switch: -1 until first read (then SILT_BF16_ACTS, once;
// model code asks per linear, so not getenv each time), then 0 or 1. Read
// and written with __atomic builtins.
static int g_bf16_acts = -1;

static bool bf16_acts(void) {
    int v = __atomic_load_n(&g_bf16_acts, __ATOMIC_RELAXED);
    if (v < 0) {
        const char *e = getenv("SILT_BF16_ACTS");
        v = !(e && strcmp(e, "0") == 0);
        __atomic_store_n(&g_bf16_acts, v, __ATOMIC_RELAXED);
    }
    return v;
}

bool silt_set_bf16_activations(bool on) {
    bool was = bf16_acts();
    __atomic_store_n(&g_bf16_acts, on ? 1 : 0, __ATOMIC_RELAXED);
    return was;
}

bool silt_linear_takes_bf16(const silt_graph *g, const silt_tensor *w) { return cuda_bf16_weight(g, w) && bf16_acts(); }

silt_tensor *silt_linear(silt_graph *g, silt_tensor *x, silt_tensor *w, silt_tensor *bias) {
    if (!x || !w) return NULL;
    // A CUDA graph also takes bf16 weights (silt_tensor_cuda_to_bf16): bf16 GEMM, fp32 accumulation.
    bool wbf16 = cuda_bf16_weight(g, w), xbf16 = wbf16 && x->dtype == SILT_BF16;
    if (!check_tensor(g, "linear", "x", x, xbf16 ? SILT_BF16 : SILT_F32) ||
        !check_tensor(g, "linear", "w", w, wbf16 ? SILT_BF16 : SILT_F32) ||
        (bias && !check_tensor(g, "linear", "bias", bias, SILT_F32)))
        return NULL;
    char sx[64], sw[64], sb[64];
    int64_t in_f = x->shape[x->ndim - 1];
    if (w->ndim != 2 || w->shape[1] != in_f) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "linear: x %s needs w (out_f, %lld), got w %s",
                                     silt_shape_str(x, sx, sizeof sx), (long long)in_f, silt_shape_str(w, sw, sizeof sw)));
        return NULL;
    }
    int64_t out_f = w->shape[0];
    if (bias && (bias->ndim != 1 || bias->shape[0] != out_f)) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "linear: w %s needs bias (%lld), got bias %s",
                                     silt_shape_str(w, sw, sizeof sw), (long long)out_f,
                                     silt_shape_str(bias, sb, sizeof sb)));
        return NULL;
    }
    int64_t shape[SILT_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
    shape[x->ndim - 1] = out_f;
    silt_tensor *out = silt_graph_tensor_f32(g, x->ndim, shape);
    if (!out) return NULL;
    int64_t N = silt_numel(x) / in_f;
    if (out->device == SILT_CUDA && xbf16) {
        silt_graph_needs_grad(g, x, w, bias);
        return silt_graph_done(g, linear_fwd_cuda_bf16(silt_f32(out), (const uint16_t *)x->data,
                                                       (const uint16_t *)w->data, bias ? silt_f32(bias) : NULL, N,
                                                       in_f, out_f),
                               out);
    }
    if (out->device == SILT_CUDA && wbf16) {
        silt_graph_needs_grad(g, x, w, bias);
        uint16_t *xb = silt_graph_device_scratch(g, (size_t)(N * in_f) * sizeof(uint16_t));
        if (!xb) return NULL;
        return silt_graph_done(g, linear_fwd_cuda_bf16w(silt_f32(out), xb, silt_f32(x), (const uint16_t *)w->data,
                                                        bias ? silt_f32(bias) : NULL, N, in_f, out_f),
                               out);
    }
    if (out->device == SILT_CUDA) {
        if (!silt_graph_done(g, linear_fwd_cuda(silt_f32(out), silt_f32(x), silt_f32(w), bias ? silt_f32(bias) : NULL, N,
                                                in_f, out_f),
                             out))
            return NULL;
    } else {
        linear_fwd_cpu(silt_f32(out), silt_f32(x), silt_f32(w), bias ? silt_f32(bias) : NULL, N, in_f, out_f);
    }
    if (silt_graph_wants_grad(g, x, w, bias)) {
        out->requires_grad = true;
        linear_node *n = silt_graph_record(g, linear_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (linear_node){x, w, bias, out, N, in_f, out_f};
    }
    return out;
}

silt_tensor *silt_linear_gelu_bf16(silt_graph *g, silt_tensor *x, silt_tensor *w, silt_tensor *bias) {
    if (!x || !w) return NULL;
    if (!cuda_bf16_weight(g, w)) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_UNSUPPORTED,
                                     "linear_gelu_bf16: a bf16 weight on a CUDA graph only (w is %s on %s, the graph on %s)",
                                     silt_dtype_name(w->dtype), silt_device_name(w->device),
                                     silt_device_name(silt_graph_device(g))));
        return NULL;
    }
    if (!check_tensor(g, "linear_gelu_bf16", "x", x, SILT_BF16) ||
        (bias && !check_tensor(g, "linear_gelu_bf16", "bias", bias, SILT_F32)))
        return NULL;
    char sx[64], sw[64], sb[64];
    int64_t in_f = x->shape[x->ndim - 1];
    if (w->ndim != 2 || w->shape[1] != in_f || (bias && (bias->ndim != 1 || bias->shape[0] != w->shape[0]))) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "linear_gelu_bf16: x %s, w %s, bias %s: want (..., in), (out, in), (out)",
                                     silt_shape_str(x, sx, sizeof sx), silt_shape_str(w, sw, sizeof sw),
                                     bias ? silt_shape_str(bias, sb, sizeof sb) : "none"));
        return NULL;
    }
    int64_t out_f = w->shape[0], shape[SILT_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
    shape[x->ndim - 1] = out_f;
    silt_tensor *out = silt_graph_tensor(g, SILT_BF16, x->ndim, shape);
    if (!out) return NULL;
    silt_graph_needs_grad(g, x, w, bias);  // no backward: fails the graph when one is wanted
    int64_t N = silt_numel(x) / (in_f > 0 ? in_f : 1);
    float *scratch = silt_graph_device_scratch(g, (size_t)(N * out_f) * sizeof(float));  // the fallback's fp32 product
    if (!scratch) return NULL;
    return silt_graph_done(g, linear_gelu_fwd_cuda_bf16((uint16_t *)out->data, scratch, (const uint16_t *)x->data,
                                                        (const uint16_t *)w->data, bias ? silt_f32(bias) : NULL, N,
                                                        in_f, out_f),
                           out);
}

typedef struct {
    silt_tensor *a, *b, *out;
    int64_t batch, M, N, K;
    bool trans_a, trans_b;
} matmul_node;

static silt_status matmul_bwd(silt_graph *g, void *p) {
    matmul_node *n = p;
    if (!n->out->grad) return SILT_OK;
    float *da = silt_graph_grad(g, n->a), *db = silt_graph_grad(g, n->b);
    if (silt_graph_status(g) != SILT_OK) return silt_graph_status(g);
    return SILT_GRAPH_BWD(g, matmul_bwd, da, db, n->out->grad, silt_f32(n->a), silt_f32(n->b), n->batch, n->M, n->N,
                          n->K, n->trans_a, n->trans_b);
}

silt_tensor *silt_matmul(silt_graph *g, silt_tensor *a, silt_tensor *b, bool trans_a, bool trans_b) {
    if (!a || !b) return NULL;
    if (!check_tensor(g, "matmul", "a", a, SILT_F32) || !check_tensor(g, "matmul", "b", b, SILT_F32)) return NULL;
    char sa[64], sb[64];
    int nd = a->ndim;
    bool ok = nd >= 2 && b->ndim == nd;
    for (int i = 0; ok && i < nd - 2; i++) ok = a->shape[i] == b->shape[i];
    int64_t M = 0, K = 0, Kb = 0, N = 0;
    if (ok) {
        M = trans_a ? a->shape[nd - 1] : a->shape[nd - 2];
        K = trans_a ? a->shape[nd - 2] : a->shape[nd - 1];
        Kb = trans_b ? b->shape[nd - 1] : b->shape[nd - 2];
        N = trans_b ? b->shape[nd - 2] : b->shape[nd - 1];
        ok = K == Kb;
    }
    if (!ok) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE,
                                     "matmul: a %s%s and b %s%s do not multiply (need equal rank 2..4, equal batch dims "
                                     "and matching inner dims)",
                                     silt_shape_str(a, sa, sizeof sa), trans_a ? "^T" : "",
                                     silt_shape_str(b, sb, sizeof sb), trans_b ? "^T" : ""));
        return NULL;
    }
    int64_t shape[SILT_MAX_DIMS], batch = 1;
    for (int i = 0; i < nd - 2; i++) { shape[i] = a->shape[i]; batch *= a->shape[i]; }
    shape[nd - 2] = M;
    shape[nd - 1] = N;
    silt_tensor *out = silt_graph_tensor_f32(g, nd, shape);
    if (!out) return NULL;
    if (out->device == SILT_CUDA) {
        if (!silt_graph_done(g, matmul_fwd_cuda(silt_f32(out), silt_f32(a), silt_f32(b), batch, M, N, K, trans_a, trans_b),
                             out))
            return NULL;
    } else {
        matmul_fwd_cpu(silt_f32(out), silt_f32(a), silt_f32(b), batch, M, N, K, trans_a, trans_b);
    }
    if (silt_graph_wants_grad(g, a, b, NULL)) {
        out->requires_grad = true;
        matmul_node *n = silt_graph_record(g, matmul_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (matmul_node){a, b, out, batch, M, N, K, trans_a, trans_b};
    }
    return out;
}

typedef struct {
    silt_tensor *ids, *table, *out;
    int64_t N, V, D;
} embedding_node;

static silt_status embedding_bwd(silt_graph *g, void *p) {
    embedding_node *n = p;
    if (!n->out->grad) return SILT_OK;
    float *dt = silt_graph_grad(g, n->table);
    if (silt_graph_status(g) != SILT_OK) return silt_graph_status(g);
    if (!dt) return SILT_OK;
    // On a CUDA graph the ids are the device tensor the forward read (its
    // range was checked there); the twin gathers per table row, in the CPU's
    // order of additions (cuda/ops_embedding.h).
    return SILT_GRAPH_BWD(g, embedding_bwd, dt, n->out->grad, silt_i32(n->ids), n->N, n->V, n->D);
}

silt_tensor *silt_embedding(silt_graph *g, silt_tensor *ids, silt_tensor *table) {
    if (!ids || !table) return NULL;
    if (!check_tensor(g, "embedding", "ids", ids, SILT_I32) || !check_tensor(g, "embedding", "table", table, SILT_F32))
        return NULL;
    char si[64], st[64];
    if (table->ndim != 2 || ids->ndim >= SILT_MAX_DIMS) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "embedding: needs ids of rank 1..%d and a (V, D) table, got ids %s, table %s",
                                     SILT_MAX_DIMS - 1, silt_shape_str(ids, si, sizeof si),
                                     silt_shape_str(table, st, sizeof st)));
        return NULL;
    }
    int64_t N = silt_numel(ids), V = table->shape[0], D = table->shape[1];
    const int32_t *id = silt_i32(ids);
    if (ids->device == SILT_CUDA) {  // the ids come back to the host for the range check (N is small: labels, tokens)
        int32_t *h = silt_arena_alloc(silt_graph_arena(g), (size_t)N * sizeof(int32_t));
        if (!h) { silt_graph_fail(g, SILT_ERR_OOM); return NULL; }
        silt_status s = silt_cuda_memcpy_d2h(h, id, (size_t)N * sizeof(int32_t));
        if (s != SILT_OK) { silt_graph_fail(g, s); return NULL; }
        id = h;
    }
    for (int64_t i = 0; i < N; i++) {
        if (id[i] < 0 || id[i] >= V) {
            silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "embedding: id %d at position %lld is outside [0, %lld) (V = %lld)",
                                         (int)id[i], (long long)i, (long long)V, (long long)V));
            return NULL;
        }
    }
    int64_t shape[SILT_MAX_DIMS];
    for (int i = 0; i < ids->ndim; i++) shape[i] = ids->shape[i];
    shape[ids->ndim] = D;
    silt_tensor *out = silt_graph_tensor_f32(g, ids->ndim + 1, shape);
    if (!out) return NULL;
    if (out->device == SILT_CUDA) {
        if (!silt_graph_done(g, embedding_fwd_cuda(silt_f32(out), silt_i32(ids), silt_f32(table), N, V, D), out))
            return NULL;
    } else {
        embedding_fwd_cpu(silt_f32(out), id, silt_f32(table), N, V, D);
    }
    if (silt_graph_wants_grad(g, table, NULL, NULL)) {
        out->requires_grad = true;
        embedding_node *n = silt_graph_record(g, embedding_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (embedding_node){ids, table, out, N, V, D};
    }
    return out;
}
