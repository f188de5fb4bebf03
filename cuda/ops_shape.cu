// CUDA twins of the shape ops (core/ops_shape.c): concat, slice, permute,
// pad2d.
//
// Concat and slice are all one operation, a copy of `outer` rows of `len`
// contiguous floats between two row-strided buffers, with = (forward) or +=
// (backward); concat runs one copy per input. Permute maps each output
// element to its source through the same 4-D plan as the CPU (leading size-1
// dims padded in), one thread per output element: a permutation is a
// bijection, so the backward's scattered += never collides.
#include "cuda/common.cuh"
#include "cuda/ops_shape.h"

#include <limits.h>

// dst[o * dpitch + doff + t] (= or +=) src[o * spitch + soff + t], o < outer, t < len.
template <bool ACC>
static __global__ void block_copy_kernel(float *__restrict__ dst, const float *__restrict__ src, int64_t outer,
                                         int64_t len, int64_t dpitch, int64_t doff, int64_t spitch, int64_t soff) {
    int64_t n = outer * len;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t o = e / len, t = e - o * len;
        float v = src[o * spitch + soff + t];
        float *d = dst + o * dpitch + doff + t;
        if (ACC) *d += v;
        else *d = v;
    }
}

static silt_status block_copy(bool acc, float *dst, const float *src, int64_t outer, int64_t len, int64_t dpitch,
                              int64_t doff, int64_t spitch, int64_t soff) {
    int64_t n = outer * len;
    if (n == 0) return SILT_OK;
    if (acc) block_copy_kernel<true><<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(dst, src, outer, len, dpitch, doff, spitch, soff);
    else block_copy_kernel<false><<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(dst, src, outer, len, dpitch, doff, spitch, soff);
    SILT_CUDA_LAUNCHED("block_copy_kernel");
    return SILT_OK;
}

// Checks concat's arguments; *total is the concatenated size.
static silt_status concat_check(const char *op, const void *big, const void *list, const int64_t *sizes, int n,
                                int64_t outer, int64_t inner, int64_t *total) {
    SILT_CUDA_READY();
    if (n < 0 || outer < 0 || inner < 0)
        return SILT_FAIL(SILT_ERR_ARG, "%s: negative size (n %d, outer %lld, inner %lld)", op, n, (long long)outer,
                         (long long)inner);
    if (n > 0 && (!list || !sizes)) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL input list or sizes", op);
    int64_t t = 0;
    for (int i = 0; i < n; i++) {
        if (sizes[i] < 0) return SILT_FAIL(SILT_ERR_ARG, "%s: sizes[%d] = %lld is negative", op, i, (long long)sizes[i]);
        t += sizes[i];
    }
    if (outer * t * inner > 0 && !big) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL buffer", op);
    *total = t;
    return SILT_OK;
}

extern "C" silt_status concat_fwd_cuda(float *out, const float *const *xs, const int64_t *sizes, int n,
                                       int64_t outer, int64_t inner) {
    int64_t total = 0;
    SILT_TRY(concat_check("concat_fwd_cuda", out, xs, sizes, n, outer, inner, &total));
    for (int i = 0; i < n; i++)
        if (outer * sizes[i] * inner > 0 && !xs[i])
            return SILT_FAIL(SILT_ERR_ARG, "concat_fwd_cuda: xs[%d] is NULL", i);
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        SILT_TRY(block_copy(false, out, xs[i], outer, sizes[i] * inner, total * inner, off * inner, sizes[i] * inner, 0));
        off += sizes[i];
    }
    return SILT_OK;
}

extern "C" silt_status concat_bwd_cuda(float *const *dxs, const float *dout, const int64_t *sizes, int n,
                                       int64_t outer, int64_t inner) {
    int64_t total = 0;
    SILT_TRY(concat_check("concat_bwd_cuda", dout, dxs, sizes, n, outer, inner, &total));
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        if (dxs[i]) SILT_TRY(block_copy(true, dxs[i], dout, outer, sizes[i] * inner, sizes[i] * inner, 0, total * inner, off * inner));
        off += sizes[i];
    }
    return SILT_OK;
}

static silt_status slice_check(const char *op, const void *a, const void *b, int64_t outer, int64_t dim,
                               int64_t inner, int64_t start, int64_t len) {
    SILT_CUDA_READY();
    if (outer < 0 || dim < 0 || inner < 0 || len < 0 || start < 0 || start > dim || len > dim - start)
        return SILT_FAIL(SILT_ERR_ARG, "%s: bad range (outer %lld, dim %lld, inner %lld, start %lld, len %lld)", op,
                         (long long)outer, (long long)dim, (long long)inner, (long long)start, (long long)len);
    if (outer * len * inner > 0 && (!a || !b)) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL buffer", op);
    return SILT_OK;
}

extern "C" silt_status slice_fwd_cuda(float *out, const float *x, int64_t outer, int64_t dim, int64_t inner,
                                      int64_t start, int64_t len) {
    SILT_TRY(slice_check("slice_fwd_cuda", out, x, outer, dim, inner, start, len));
    return block_copy(false, out, x, outer, len * inner, len * inner, 0, dim * inner, start * inner);
}

extern "C" silt_status slice_bwd_cuda(float *dx, const float *dout, int64_t outer, int64_t dim, int64_t inner,
                                      int64_t start, int64_t len) {
    SILT_TRY(slice_check("slice_bwd_cuda", dx, dout, outer, dim, inner, start, len));
    return block_copy(true, dx, dout, outer, len * inner, dim * inner, start * inner, len * inner, 0);
}

// --- permute ----------------------------------------------------------------------

// Output shape and, per output dim, the x stride it walks (core/ops_shape.c's
// permute_plan): output (o0..o3) reads x at sum_k o_k * step[k].
struct permute_plan {
    int64_t os[4], step[4];
};

static silt_status permute_make(const char *op, int ndim, const int64_t *xshape, const int *perm, permute_plan *p,
                                int64_t *total) {
    SILT_CUDA_READY();
    if (ndim < 1 || ndim > 4 || !xshape || !perm)
        return SILT_FAIL(SILT_ERR_ARG, "%s: ndim %d (need 1..4) or NULL shape/perm", op, ndim);
    int seen = 0;
    for (int k = 0; k < ndim; k++) {
        if (perm[k] < 0 || perm[k] >= ndim || (seen >> perm[k] & 1))
            return SILT_FAIL(SILT_ERR_ARG, "%s: perm is not a permutation of 0..%d (perm[%d] = %d)", op, ndim - 1, k,
                             perm[k]);
        seen |= 1 << perm[k];
        if (xshape[k] < 0) return SILT_FAIL(SILT_ERR_ARG, "%s: xshape[%d] = %lld", op, k, (long long)xshape[k]);
    }
    int off = 4 - ndim;
    int64_t xs[4], xstr[4], r = 1;
    for (int d = 0; d < 4; d++) xs[d] = d < off ? 1 : xshape[d - off];
    for (int d = 3; d >= 0; d--) {
        xstr[d] = r;
        r *= xs[d];
    }
    for (int k = 0; k < 4; k++) {
        int src = k < off ? k : perm[k - off] + off;
        p->os[k] = xs[src];
        p->step[k] = xstr[src];
    }
    *total = r;
    return SILT_OK;
}

// One thread per output element e (row-major over os); I is the index type
// (32-bit when everything fits, which makes the divisions cheap).
template <typename I, bool BWD>
static __global__ void permute_kernel(float *__restrict__ a, const float *__restrict__ b, permute_plan p, I n) {
    const I o1 = (I)p.os[1], o2 = (I)p.os[2], o3 = (I)p.os[3];
    const I s0 = (I)p.step[0], s1 = (I)p.step[1], s2 = (I)p.step[2], s3 = (I)p.step[3];
    for (I e = (I)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (I)gridDim.x * blockDim.x) {
        I r = e, i3 = r % o3;
        r /= o3;
        I i2 = r % o2;
        r /= o2;
        I i1 = r % o1, i0 = r / o1;
        I src = i0 * s0 + i1 * s1 + i2 * s2 + i3 * s3;
        if (BWD) a[src] += b[e];  // a = dx (x's layout), b = dout
        else a[e] = b[src];       // a = out, b = x
    }
}

template <bool BWD>
static silt_status permute_launch(float *a, const float *b, const permute_plan &p, int64_t n) {
    if (n <= INT_MAX) permute_kernel<uint32_t, BWD><<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(a, b, p, (uint32_t)n);
    else permute_kernel<int64_t, BWD><<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(a, b, p, n);
    SILT_CUDA_LAUNCHED("permute_kernel");
    return SILT_OK;
}

extern "C" silt_status permute_fwd_cuda(float *out, const float *x, int ndim, const int64_t *xshape, const int *perm) {
    permute_plan p;
    int64_t n = 0;
    SILT_TRY(permute_make("permute_fwd_cuda", ndim, xshape, perm, &p, &n));
    if (n == 0) return SILT_OK;
    if (!out || !x) return SILT_FAIL(SILT_ERR_ARG, "permute_fwd_cuda: NULL buffer");
    return permute_launch<false>(out, x, p, n);
}

extern "C" silt_status permute_bwd_cuda(float *dx, const float *dout, int ndim, const int64_t *xshape, const int *perm) {
    permute_plan p;
    int64_t n = 0;
    SILT_TRY(permute_make("permute_bwd_cuda", ndim, xshape, perm, &p, &n));
    if (n == 0) return SILT_OK;
    if (!dx || !dout) return SILT_FAIL(SILT_ERR_ARG, "permute_bwd_cuda: NULL buffer");
    return permute_launch<true>(dx, dout, p, n);
}

// --- pad2d --------------------------------------------------------------------------

// out (nc, Ho, Wo): x (nc, h, w) at (top, left), zeros around it.
static __global__ void pad2d_fwd_kernel(float *__restrict__ out, const float *__restrict__ x, int64_t nc, int64_t h,
                                        int64_t w, int64_t Ho, int64_t Wo, int64_t left, int64_t top) {
    int64_t n = nc * Ho * Wo;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t j = e % Wo, r = e / Wo, i = r % Ho, p = r / Ho;
        int64_t y = i - top, xx = j - left;
        out[e] = (y >= 0 && y < h && xx >= 0 && xx < w) ? x[(p * h + y) * w + xx] : 0.0f;
    }
}

// dx (nc, h, w) += dout (nc, Ho, Wo) at (top, left): a bijection, no collisions.
static __global__ void pad2d_bwd_kernel(float *__restrict__ dx, const float *__restrict__ dout, int64_t nc, int64_t h,
                                        int64_t w, int64_t Ho, int64_t Wo, int64_t left, int64_t top) {
    int64_t n = nc * h * w;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t xx = e % w, r = e / w, y = r % h, p = r / h;
        dx[e] += dout[(p * Ho + y + top) * Wo + xx + left];
    }
}

static silt_status pad2d_check(const char *op, int64_t nc, int64_t h, int64_t w, int64_t left, int64_t right,
                               int64_t top, int64_t bottom) {
    SILT_CUDA_READY();
    if (nc < 0 || h < 0 || w < 0 || left < 0 || right < 0 || top < 0 || bottom < 0)
        return SILT_FAIL(SILT_ERR_ARG, "%s: negative size or pad (nc %lld, %lldx%lld, pads %lld %lld %lld %lld)", op,
                         (long long)nc, (long long)h, (long long)w, (long long)left, (long long)right, (long long)top,
                         (long long)bottom);
    return SILT_OK;
}

extern "C" silt_status pad2d_fwd_cuda(float *out, const float *x, int64_t nc, int64_t h, int64_t w, int64_t left,
                                      int64_t right, int64_t top, int64_t bottom) {
    SILT_TRY(pad2d_check("pad2d_fwd_cuda", nc, h, w, left, right, top, bottom));
    int64_t Ho = h + top + bottom, Wo = w + left + right, n = nc * Ho * Wo;
    if (n == 0) return SILT_OK;
    if (!out || (nc * h * w > 0 && !x)) return SILT_FAIL(SILT_ERR_ARG, "pad2d_fwd_cuda: NULL buffer");
    pad2d_fwd_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(out, x, nc, h, w, Ho, Wo, left, top);
    SILT_CUDA_LAUNCHED("pad2d_fwd_kernel");
    return SILT_OK;
}

extern "C" silt_status pad2d_bwd_cuda(float *dx, const float *dout, int64_t nc, int64_t h, int64_t w, int64_t left,
                                      int64_t right, int64_t top, int64_t bottom) {
    SILT_TRY(pad2d_check("pad2d_bwd_cuda", nc, h, w, left, right, top, bottom));
    int64_t Ho = h + top + bottom, Wo = w + left + right, n = nc * h * w;
    if (n == 0) return SILT_OK;
    if (!dx || !dout) return SILT_FAIL(SILT_ERR_ARG, "pad2d_bwd_cuda: NULL buffer");
    pad2d_bwd_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(dx, dout, nc, h, w, Ho, Wo, left, top);
    SILT_CUDA_LAUNCHED("pad2d_bwd_kernel");
    return SILT_OK;
}
