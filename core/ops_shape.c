#include "core/ops_shape.h"

#include <stdio.h>
#include <string.h>

#include "cuda/cuda.h"

#define SHAPE_PAR_MIN 65536

// --- raw kernels --------------------------------------------------------------

void concat_fwd_cpu(float *out, const float *const *xs, const int64_t *sizes, int n, int64_t outer, int64_t inner) {
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += sizes[i];
#pragma omp parallel for if (outer * total * inner > SHAPE_PAR_MIN)
    for (int64_t o = 0; o < outer; o++) {
        int64_t off = 0;
        for (int i = 0; i < n; i++) {
            memcpy(out + (o * total + off) * inner, xs[i] + o * sizes[i] * inner, (size_t)(sizes[i] * inner) * sizeof(float));
            off += sizes[i];
        }
    }
}

void concat_bwd_cpu(float *const *dxs, const float *dout, const int64_t *sizes, int n, int64_t outer, int64_t inner) {
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += sizes[i];
#pragma omp parallel for if (outer * total * inner > SHAPE_PAR_MIN)
    for (int64_t o = 0; o < outer; o++) {
        int64_t off = 0;
        for (int i = 0; i < n; i++) {
            if (dxs[i]) {
                float *d = dxs[i] + o * sizes[i] * inner;
                const float *s = dout + (o * total + off) * inner;
                for (int64_t j = 0; j < sizes[i] * inner; j++) d[j] += s[j];
            }
            off += sizes[i];
        }
    }
}

void slice_fwd_cpu(float *out, const float *x, int64_t outer, int64_t dim, int64_t inner, int64_t start, int64_t len) {
#pragma omp parallel for if (outer * len * inner > SHAPE_PAR_MIN)
    for (int64_t o = 0; o < outer; o++)
        memcpy(out + o * len * inner, x + (o * dim + start) * inner, (size_t)(len * inner) * sizeof(float));
}

void slice_bwd_cpu(float *dx, const float *dout, int64_t outer, int64_t dim, int64_t inner, int64_t start, int64_t len) {
#pragma omp parallel for if (outer * len * inner > SHAPE_PAR_MIN)
    for (int64_t o = 0; o < outer; o++) {
        float *d = dx + (o * dim + start) * inner;
        const float *s = dout + o * len * inner;
        for (int64_t j = 0; j < len * inner; j++) d[j] += s[j];
    }
}

// Pads a permutation to 4-D (leading size-1 dims stay in place) and gives, for
// each out dim, the element stride of the x dim it reads: out index
// (o0..o3) reads x at sum_k o_k * xstep[k].
static void permute_plan(int ndim, const int64_t *xshape, const int *perm, int64_t oshape[4], int64_t xstep[4]) {
    int off = 4 - ndim;
    int64_t xs[4], xstr[4], r = 1;
    for (int d = 0; d < 4; d++) xs[d] = d < off ? 1 : xshape[d - off];
    for (int d = 3; d >= 0; d--) { xstr[d] = r; r *= xs[d]; }
    for (int k = 0; k < 4; k++) {
        int src = k < off ? k : perm[k - off] + off;
        oshape[k] = xs[src];
        xstep[k] = xstr[src];
    }
}

void permute_fwd_cpu(float *out, const float *x, int ndim, const int64_t *xshape, const int *perm) {
    int64_t os[4], st[4];
    permute_plan(ndim, xshape, perm, os, st);
    int64_t rows = os[0] * os[1] * os[2];
#pragma omp parallel for if (rows * os[3] > SHAPE_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t i2 = r % os[2], i1 = (r / os[2]) % os[1], i0 = r / (os[2] * os[1]);
        const float *src = x + i0 * st[0] + i1 * st[1] + i2 * st[2];
        float *dst = out + r * os[3];
        for (int64_t j = 0; j < os[3]; j++) dst[j] = src[j * st[3]];
    }
}

void permute_bwd_cpu(float *dx, const float *dout, int ndim, const int64_t *xshape, const int *perm) {
    int64_t os[4], st[4];
    permute_plan(ndim, xshape, perm, os, st);
    int64_t rows = os[0] * os[1] * os[2];
    // A permutation is a bijection, so rows write disjoint dx elements.
#pragma omp parallel for if (rows * os[3] > SHAPE_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t i2 = r % os[2], i1 = (r / os[2]) % os[1], i0 = r / (os[2] * os[1]);
        float *d = dx + i0 * st[0] + i1 * st[1] + i2 * st[2];
        const float *s = dout + r * os[3];
        for (int64_t j = 0; j < os[3]; j++) d[j * st[3]] += s[j];
    }
}

// --- graph ops ------------------------------------------------------------------


// Maps a possibly negative dim into 0..ndim-1; -1 (and the graph fails) when out of range.
static int norm_dim(silt_graph *g, const char *op, const silt_tensor *t, int dim) {
    int d = dim < 0 ? dim + t->ndim : dim;
    if (d < 0 || d >= t->ndim) {
        char buf[64];
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "%s: dim %d out of range for %s (ndim %d)", op, dim,
                                     silt_shape_str(t, buf, sizeof buf), t->ndim));
        return -1;
    }
    return d;
}

static void outer_inner(const silt_tensor *t, int dim, int64_t *outer, int64_t *inner) {
    *outer = *inner = 1;
    for (int i = 0; i < dim; i++) *outer *= t->shape[i];
    for (int i = dim + 1; i < t->ndim; i++) *inner *= t->shape[i];
}

// --- concat

typedef struct {
    silt_tensor *out;
    int n;
    int64_t outer, inner;
    silt_tensor **xs;  // n entries, stored right after the node
    int64_t *sizes;    // n entries
} concat_node;

static silt_status concat_bwd(silt_graph *g, void *p) {
    concat_node *n = p;
    if (!n->out->grad) return SILT_OK;
    // The d-pointer list lives in the node's own bytes (kernels never allocate).
    float **dxs = (float **)(n->sizes + n->n);
    for (int i = 0; i < n->n; i++) dxs[i] = silt_graph_grad(g, n->xs[i]);
    if (silt_graph_status(g) != SILT_OK) return silt_graph_status(g);
    return SILT_GRAPH_BWD(g, concat_bwd, dxs, n->out->grad, n->sizes, n->n, n->outer, n->inner);
}

silt_tensor *silt_concat(silt_graph *g, silt_tensor **xs, int n, int dim) {
    if (!xs || n < 1) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "concat: need at least one tensor (got n=%d)", n));
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!xs[i]) return NULL;
    for (int i = 0; i < n; i++)
        if (silt_graph_check_dev(g, "concat", xs[i]) != SILT_OK) return NULL;
    int d = norm_dim(g, "concat", xs[0], dim);
    if (d < 0) return NULL;
    int64_t shape[SILT_MAX_DIMS];
    memcpy(shape, xs[0]->shape, sizeof shape);
    shape[d] = 0;
    for (int i = 0; i < n; i++) {
        int ok = xs[i]->ndim == xs[0]->ndim;
        for (int k = 0; ok && k < xs[0]->ndim; k++) ok = k == d || xs[i]->shape[k] == xs[0]->shape[k];
        if (!ok) {
            char b0[64], bi[64];
            silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "concat on dim %d: input %d is %s, input 0 is %s", dim, i,
                                         silt_shape_str(xs[i], bi, sizeof bi), silt_shape_str(xs[0], b0, sizeof b0)));
            return NULL;
        }
        shape[d] += xs[i]->shape[d];
    }
    silt_tensor *out = silt_graph_tensor_f32(g, xs[0]->ndim, shape);
    if (!out) return NULL;
    int64_t outer, inner;
    outer_inner(out, d, &outer, &inner);
    bool need = false;
    for (int i = 0; i < n; i++) need = need || silt_graph_wants_grad(g, xs[i], NULL, NULL);
    // The node carries the input list, sizes and room for the d-pointers; the
    // forward borrows the same room for its source pointers.
    size_t bytes = sizeof(concat_node) + (size_t)n * (sizeof(silt_tensor *) + sizeof(int64_t) + sizeof(float *));
    concat_node *node = NULL;
    if (need) {
        node = silt_graph_record(g, concat_bwd, bytes);
        if (!node) return NULL;
    } else {
        node = silt_arena_alloc(silt_graph_arena(g), bytes);
        if (!node) { silt_graph_fail(g, SILT_ERR_OOM); return NULL; }
    }
    node->out = out;
    node->n = n;
    node->outer = outer;
    node->inner = inner;
    node->xs = (silt_tensor **)(node + 1);
    node->sizes = (int64_t *)(node->xs + n);
    const float **src = (const float **)(node->sizes + n);
    for (int i = 0; i < n; i++) {
        node->xs[i] = xs[i];
        node->sizes[i] = xs[i]->shape[d];
        src[i] = silt_f32(xs[i]);
    }
    if (out->device == SILT_CUDA) {
        if (!silt_graph_done(g, concat_fwd_cuda(silt_f32(out), src, node->sizes, n, outer, inner), out)) return NULL;
    } else {
        concat_fwd_cpu(silt_f32(out), src, node->sizes, n, outer, inner);
    }
    if (need) out->requires_grad = true;
    return out;
}

// --- slice (and split, which is n slices)

typedef struct {
    silt_tensor *x, *out;
    int64_t outer, dim, inner, start, len;
} slice_node;

static silt_status slice_bwd(silt_graph *g, void *p) {
    slice_node *n = p;
    if (!n->out->grad) return SILT_OK;
    float *dx = silt_graph_grad(g, n->x);
    if (!dx) return silt_graph_status(g);
    return SILT_GRAPH_BWD(g, slice_bwd, dx, n->out->grad, n->outer, n->dim, n->inner, n->start, n->len);
}

// x and d already validated; start in range and len >= 1.
static silt_tensor *slice_checked(silt_graph *g, silt_tensor *x, int d, int64_t start, int64_t len) {
    int64_t shape[SILT_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[d] = len;
    silt_tensor *out = silt_graph_tensor_f32(g, x->ndim, shape);
    if (!out) return NULL;
    int64_t outer, inner;
    outer_inner(x, d, &outer, &inner);
    if (out->device == SILT_CUDA) {
        if (!silt_graph_done(g, slice_fwd_cuda(silt_f32(out), silt_f32(x), outer, x->shape[d], inner, start, len), out))
            return NULL;
    } else {
        slice_fwd_cpu(silt_f32(out), silt_f32(x), outer, x->shape[d], inner, start, len);
    }
    if (silt_graph_wants_grad(g, x, NULL, NULL)) {
        out->requires_grad = true;
        slice_node *n = silt_graph_record(g, slice_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (slice_node){x, out, outer, x->shape[d], inner, start, len};
    }
    return out;
}

silt_tensor *silt_slice(silt_graph *g, silt_tensor *x, int dim, int64_t start, int64_t len) {
    if (!x) return NULL;
    if (silt_graph_check_dev(g, "slice", x) != SILT_OK) return NULL;
    int d = norm_dim(g, "slice", x, dim);
    if (d < 0) return NULL;
    int64_t size = x->shape[d], s = start < 0 ? start + size : start;
    if (s < 0 || len < 1 || s > size - len) {
        char buf[64];
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "slice: start %lld len %lld outside dim %d of %s", (long long)start,
                                     (long long)len, dim, silt_shape_str(x, buf, sizeof buf)));
        return NULL;
    }
    return slice_checked(g, x, d, s, len);
}

silt_status silt_split(silt_graph *g, silt_tensor *x, int dim, const int64_t *sizes, int n, silt_tensor **outs) {
    if (outs)
        for (int i = 0; i < n; i++) outs[i] = NULL;
    if (!x) {
        silt_status s = silt_graph_status(g);
        return s != SILT_OK ? s : silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "split: NULL input"));
    }
    if (!outs || !sizes || n < 1) return silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "split: need n >= 1 sizes and outputs (n=%d)", n));
    silt_status s = silt_graph_check_dev(g, "split", x);
    if (s != SILT_OK) return s;
    int d = norm_dim(g, "split", x, dim);
    if (d < 0) return silt_graph_status(g);
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        if (sizes[i] < 1 || sizes[i] > x->shape[d] - total) {
            char buf[64];
            return silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "split: sizes do not fit dim %d of %s (size %d is %lld)", dim,
                                                silt_shape_str(x, buf, sizeof buf), i, (long long)sizes[i]));
        }
        total += sizes[i];
    }
    if (total != x->shape[d]) {
        char buf[64];
        return silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "split: sizes sum to %lld, dim %d of %s is %lld", (long long)total,
                                            dim, silt_shape_str(x, buf, sizeof buf), (long long)x->shape[d]));
    }
    int64_t start = 0;
    for (int i = 0; i < n; i++) {
        outs[i] = slice_checked(g, x, d, start, sizes[i]);
        if (!outs[i]) {
            for (int k = 0; k < i; k++) outs[k] = NULL;
            s = silt_graph_status(g);
            return s != SILT_OK ? s : SILT_ERR_OOM;
        }
        start += sizes[i];
    }
    return SILT_OK;
}

// --- permute / transpose

typedef struct {
    silt_tensor *x, *out;
    int perm[SILT_MAX_DIMS];
} permute_node;

static silt_status permute_bwd(silt_graph *g, void *p) {
    permute_node *n = p;
    if (!n->out->grad) return SILT_OK;
    float *dx = silt_graph_grad(g, n->x);
    if (!dx) return silt_graph_status(g);
    return SILT_GRAPH_BWD(g, permute_bwd, dx, n->out->grad, n->x->ndim, n->x->shape, n->perm);
}

silt_tensor *silt_permute(silt_graph *g, silt_tensor *x, const int *perm) {
    if (!x) return NULL;
    if (silt_graph_check_dev(g, "permute", x) != SILT_OK) return NULL;
    if (!perm) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "permute: NULL perm"));
        return NULL;
    }
    int p[SILT_MAX_DIMS] = {0}, seen[SILT_MAX_DIMS] = {0};
    int64_t shape[SILT_MAX_DIMS];
    for (int k = 0; k < x->ndim; k++) {
        int d = perm[k] < 0 ? perm[k] + x->ndim : perm[k];
        if (d < 0 || d >= x->ndim || seen[d]) {
            char buf[64], pb[64] = "";  // 4 ints of <= 11 chars + separators fit
            for (int i = 0, off = 0; i < x->ndim; i++) off += snprintf(pb + off, sizeof pb - (size_t)off, i ? ", %d" : "%d", perm[i]);
            silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "permute: (%s) is not a permutation of the dims of %s", pb,
                                         silt_shape_str(x, buf, sizeof buf)));
            return NULL;
        }
        seen[d] = 1;
        p[k] = d;
        shape[k] = x->shape[d];
    }
    silt_tensor *out = silt_graph_tensor_f32(g, x->ndim, shape);
    if (!out) return NULL;
    if (out->device == SILT_CUDA) {
        if (!silt_graph_done(g, permute_fwd_cuda(silt_f32(out), silt_f32(x), x->ndim, x->shape, p), out)) return NULL;
    } else {
        permute_fwd_cpu(silt_f32(out), silt_f32(x), x->ndim, x->shape, p);
    }
    if (silt_graph_wants_grad(g, x, NULL, NULL)) {
        out->requires_grad = true;
        permute_node *n = silt_graph_record(g, permute_bwd, sizeof *n);
        if (!n) return NULL;
        n->x = x;
        n->out = out;
        memcpy(n->perm, p, sizeof p);
    }
    return out;
}

silt_tensor *silt_transpose(silt_graph *g, silt_tensor *x, int d0, int d1) {
    if (!x) return NULL;
    int a = norm_dim(g, "transpose", x, d0);
    if (a < 0) return NULL;
    int b = norm_dim(g, "transpose", x, d1);
    if (b < 0) return NULL;
    int p[SILT_MAX_DIMS] = {0, 1, 2, 3};
    p[a] = b;
    p[b] = a;
    return silt_permute(g, x, p);
}

// --- pad2d ---------------------------------------------------------------------------

void pad2d_fwd_cpu(float *out, const float *x, int64_t nc, int64_t h, int64_t w, int64_t left, int64_t right,
                   int64_t top, int64_t bottom) {
    int64_t Ho = h + top + bottom, Wo = w + left + right;
#pragma omp parallel for if (nc * h * w > 65536)
    for (int64_t p = 0; p < nc; p++) {
        float *o = out + p * Ho * Wo;
        memset(o, 0, (size_t)(Ho * Wo) * sizeof(float));
        for (int64_t y = 0; y < h; y++) memcpy(o + (y + top) * Wo + left, x + (p * h + y) * w, (size_t)w * sizeof(float));
    }
}

void pad2d_bwd_cpu(float *dx, const float *dout, int64_t nc, int64_t h, int64_t w, int64_t left, int64_t right,
                   int64_t top, int64_t bottom) {
    int64_t Ho = h + top + bottom, Wo = w + left + right;
#pragma omp parallel for if (nc * h * w > 65536)
    for (int64_t p = 0; p < nc; p++)
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++) dx[(p * h + y) * w + x] += dout[(p * Ho + y + top) * Wo + x + left];
}

typedef struct {
    silt_tensor *x, *out;
    int64_t left, right, top, bottom;
} pad2d_node;

static silt_status pad2d_bwd(silt_graph *g, void *node) {
    pad2d_node *n = node;
    if (!n->out->grad) return SILT_OK;
    float *dx = silt_graph_grad(g, n->x);
    if (!dx) return silt_graph_status(g);
    int64_t nc = n->x->shape[0] * n->x->shape[1], H = n->x->shape[2], W = n->x->shape[3];
    return SILT_GRAPH_BWD(g, pad2d_bwd, dx, n->out->grad, nc, H, W, n->left, n->right, n->top, n->bottom);
}

silt_tensor *silt_pad2d(silt_graph *g, silt_tensor *x, int left, int right, int top, int bottom) {
    if (!x) return NULL;
    if (silt_graph_check_dev(g, "pad2d", x) != SILT_OK) return NULL;
    if (x->ndim != 4 || left < 0 || right < 0 || top < 0 || bottom < 0) {
        char buf[64];
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "pad2d: x %s with pads (%d, %d, %d, %d): need 4-D NCHW and pads >= 0",
                                     silt_shape_str(x, buf, sizeof buf), left, right, top, bottom));
        return NULL;
    }
    int64_t nc = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
    silt_tensor *out = silt_graph_new(g, x->shape[0], x->shape[1], H + top + bottom, W + left + right);
    if (!out) return NULL;
    if (out->device == SILT_CUDA) {
        if (!silt_graph_done(g, pad2d_fwd_cuda(silt_f32(out), silt_f32(x), nc, H, W, left, right, top, bottom), out))
            return NULL;
    } else {
        pad2d_fwd_cpu(silt_f32(out), silt_f32(x), nc, H, W, left, right, top, bottom);
    }
    if (silt_graph_wants_grad(g, x, NULL, NULL)) {
        out->requires_grad = true;
        pad2d_node *n = silt_graph_record(g, pad2d_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (pad2d_node){x, out, left, right, top, bottom};
    }
    return out;
}
