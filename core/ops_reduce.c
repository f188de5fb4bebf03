#include "core/ops_reduce.h"

#include <string.h>

#include "cuda/cuda.h"

#define REDUCE_PAR_MIN 65536
// Full reductions split x into this many fixed chunks, summed in parallel and
// then in order: the result is the same for any thread count.
#define REDUCE_CHUNKS 64
// Dim reductions sum this many inner columns at once in a double register
// block, so a row of x is read contiguously.
#define REDUCE_BLOCK 64

// sum(x) (b NULL) or sum((x - b)^2) over n elements in double, in fixed
// chunks summed in parallel and then in order.
static double chunked_sum(const float *x, const float *b, int64_t n) {
    double part[REDUCE_CHUNKS] = {0};
    int64_t step = (n + REDUCE_CHUNKS - 1) / REDUCE_CHUNKS;
#pragma omp parallel for if (n > REDUCE_PAR_MIN)
    for (int c = 0; c < REDUCE_CHUNKS; c++) {
        int64_t lo = c * step, hi = lo + step < n ? lo + step : n;
        double s = 0;
        if (b)
            for (int64_t i = lo; i < hi; i++) s += ((double)x[i] - b[i]) * ((double)x[i] - b[i]);
        else
            for (int64_t i = lo; i < hi; i++) s += x[i];
        part[c] = s;
    }
    double t = 0;
    for (int c = 0; c < REDUCE_CHUNKS; c++) t += part[c];
    return t;
}

void sum_fwd_cpu(float *out, const float *x, int64_t n) {
    out[0] = (float)chunked_sum(x, NULL, n);
}

void mean_fwd_cpu(float *out, const float *x, int64_t n) {
    out[0] = (float)(chunked_sum(x, NULL, n) / (double)n);
}

void sum_bwd_cpu(float *dx, const float *dout, int64_t n, float scale) {
    float g = dout[0] * scale;
#pragma omp parallel for if (n > REDUCE_PAR_MIN)
    for (int64_t i = 0; i < n; i++) dx[i] += g;
}

static void dim_reduce(float *out, const float *x, int64_t outer, int64_t dim, int64_t inner, double scale) {
    int64_t nblk = (inner + REDUCE_BLOCK - 1) / REDUCE_BLOCK;
#pragma omp parallel for if (outer * dim * inner > REDUCE_PAR_MIN)
    for (int64_t t = 0; t < outer * nblk; t++) {
        int64_t o = t / nblk, i0 = (t % nblk) * REDUCE_BLOCK;
        int64_t bs = inner - i0 < REDUCE_BLOCK ? inner - i0 : REDUCE_BLOCK;
        double acc[REDUCE_BLOCK] = {0};
        const float *xo = x + o * dim * inner + i0;
        for (int64_t d = 0; d < dim; d++)
            for (int64_t i = 0; i < bs; i++) acc[i] += xo[d * inner + i];
        for (int64_t i = 0; i < bs; i++) out[o * inner + i0 + i] = (float)(acc[i] * scale);
    }
}

void sum_dim_fwd_cpu(float *out, const float *x, int64_t outer, int64_t dim, int64_t inner) {
    dim_reduce(out, x, outer, dim, inner, 1.0);
}

void mean_dim_fwd_cpu(float *out, const float *x, int64_t outer, int64_t dim, int64_t inner) {
    dim_reduce(out, x, outer, dim, inner, 1.0 / (double)dim);
}

void sum_dim_bwd_cpu(float *dx, const float *dout, int64_t outer, int64_t dim, int64_t inner, float scale) {
#pragma omp parallel for if (outer * dim * inner > REDUCE_PAR_MIN)
    for (int64_t r = 0; r < outer * dim; r++) {
        const float *g = dout + (r / dim) * inner;
        float *d = dx + r * inner;
        for (int64_t i = 0; i < inner; i++) d[i] += g[i] * scale;
    }
}

void mse_loss_fwd_cpu(float *out, const float *a, const float *b, int64_t n) {
    out[0] = (float)(chunked_sum(a, b, n) / (double)n);
}

void mse_loss_bwd_cpu(float *da, float *db, const float *dout, const float *a, const float *b, int64_t n) {
    float g = 2.0f * dout[0] / (float)n;
#pragma omp parallel for if (n > REDUCE_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float v = g * (a[i] - b[i]);
        if (da) da[i] += v;
        if (db) db[i] -= v;
    }
}

// --- graph ops ------------------------------------------------------------------


typedef struct {
    silt_tensor *x, *out;
    int64_t outer, dim, inner;  // outer = inner = 1, dim = numel for a full reduction
    float scale;
} reduce_node;

static silt_status reduce_bwd(silt_graph *g, void *p) {
    reduce_node *n = p;
    if (!n->out->grad) return SILT_OK;
    float *dx = silt_graph_grad(g, n->x);
    if (!dx) return silt_graph_status(g);
    if (n->outer == 1 && n->inner == 1) return SILT_GRAPH_BWD(g, sum_bwd, dx, n->out->grad, n->dim, n->scale);
    return SILT_GRAPH_BWD(g, sum_dim_bwd, dx, n->out->grad, n->outer, n->dim, n->inner, n->scale);
}

// dim < 0 here means "all elements" (callers normalise user dims first).
static silt_tensor *reduce(silt_graph *g, silt_tensor *x, int dim, bool keepdim, bool mean) {
    int64_t shape[SILT_MAX_DIMS] = {1, 1, 1, 1}, outer = 1, len = silt_numel(x), inner = 1;
    int nd = 1;
    if (dim >= 0) {
        nd = 0;
        for (int k = 0; k < x->ndim; k++) {
            if (k < dim) outer *= x->shape[k];
            if (k > dim) inner *= x->shape[k];
            if (k != dim) shape[nd++] = x->shape[k];
            else if (keepdim) shape[nd++] = 1;
        }
        len = x->shape[dim];
        if (nd == 0) nd = 1;  // a 1-D input reduces to shape (1)
    }
    silt_tensor *out = silt_graph_tensor_f32(g, nd, shape);
    if (!out) return NULL;
    if (out->device == SILT_CUDA) {
        silt_status s = dim < 0 ? (mean ? mean_fwd_cuda : sum_fwd_cuda)(silt_f32(out), silt_f32(x), len)
                                : (mean ? mean_dim_fwd_cuda : sum_dim_fwd_cuda)(silt_f32(out), silt_f32(x), outer, len, inner);
        if (!silt_graph_done(g, s, out)) return NULL;
    } else if (dim < 0) {
        (mean ? mean_fwd_cpu : sum_fwd_cpu)(silt_f32(out), silt_f32(x), len);
    } else {
        (mean ? mean_dim_fwd_cpu : sum_dim_fwd_cpu)(silt_f32(out), silt_f32(x), outer, len, inner);
    }
    if (silt_graph_wants_grad(g, x, NULL, NULL)) {
        out->requires_grad = true;
        reduce_node *n = silt_graph_record(g, reduce_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (reduce_node){x, out, outer, len, inner, mean ? (float)(1.0 / (double)len) : 1.0f};
    }
    return out;
}

static silt_tensor *reduce_all(silt_graph *g, silt_tensor *x, bool mean) {
    const char *name = mean ? "mean" : "sum";
    if (!x) return NULL;
    if (silt_graph_check_dev(g, name, x) != SILT_OK) return NULL;
    return reduce(g, x, -1, false, mean);
}

static silt_tensor *reduce_dim(silt_graph *g, silt_tensor *x, int dim, bool keepdim, bool mean) {
    const char *name = mean ? "mean_dim" : "sum_dim";
    if (!x) return NULL;
    if (silt_graph_check_dev(g, name, x) != SILT_OK) return NULL;
    int d = dim < 0 ? dim + x->ndim : dim;
    if (d < 0 || d >= x->ndim) {
        char buf[64];
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "%s: dim %d out of range for %s (ndim %d)", name, dim,
                                     silt_shape_str(x, buf, sizeof buf), x->ndim));
        return NULL;
    }
    return reduce(g, x, d, keepdim, mean);
}

silt_tensor *silt_sum(silt_graph *g, silt_tensor *x) { return reduce_all(g, x, false); }
silt_tensor *silt_mean(silt_graph *g, silt_tensor *x) { return reduce_all(g, x, true); }
silt_tensor *silt_sum_dim(silt_graph *g, silt_tensor *x, int dim, bool keepdim) { return reduce_dim(g, x, dim, keepdim, false); }
silt_tensor *silt_mean_dim(silt_graph *g, silt_tensor *x, int dim, bool keepdim) { return reduce_dim(g, x, dim, keepdim, true); }

typedef struct {
    silt_tensor *a, *b, *out;
} mse_node;

static silt_status mse_bwd(silt_graph *g, void *p) {
    mse_node *n = p;
    if (!n->out->grad) return SILT_OK;
    // a == b is allowed: the two accumulations then cancel, as they should.
    float *da = silt_graph_grad(g, n->a), *db = silt_graph_grad(g, n->b);
    if (silt_graph_status(g) != SILT_OK) return silt_graph_status(g);
    return SILT_GRAPH_BWD(g, mse_loss_bwd, da, db, n->out->grad, silt_f32(n->a), silt_f32(n->b), silt_numel(n->a));
}

silt_tensor *silt_mse_loss(silt_graph *g, silt_tensor *a, silt_tensor *b) {
    if (!a || !b) return NULL;
    if (silt_graph_check_dev(g, "mse_loss", a) != SILT_OK || silt_graph_check_dev(g, "mse_loss", b) != SILT_OK) return NULL;
    if (!silt_same_shape(a, b)) {
        char ba[64], bb[64];
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "mse_loss: shapes %s and %s differ", silt_shape_str(a, ba, sizeof ba),
                                     silt_shape_str(b, bb, sizeof bb)));
        return NULL;
    }
    int64_t one = 1;
    silt_tensor *out = silt_graph_tensor_f32(g, 1, &one);
    if (!out) return NULL;
    if (out->device == SILT_CUDA) {
        if (!silt_graph_done(g, mse_loss_fwd_cuda(silt_f32(out), silt_f32(a), silt_f32(b), silt_numel(a)), out))
            return NULL;
    } else {
        mse_loss_fwd_cpu(silt_f32(out), silt_f32(a), silt_f32(b), silt_numel(a));
    }
    if (silt_graph_wants_grad(g, a, b, NULL)) {
        out->requires_grad = true;
        mse_node *n = silt_graph_record(g, mse_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (mse_node){a, b, out};
    }
    return out;
}
