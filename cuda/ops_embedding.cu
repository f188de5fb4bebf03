// CUDA twins of embedding (core/ops_linear.c) and the VQ nearest-codebook
// search (core/ops_vq.c).
#include "cuda/common.cuh"
#include "cuda/ops_embedding.h"

#include <limits.h>
#include <math.h>

// --- embedding ----------------------------------------------------------------------

// out[i, d] = table[ids[i], d], one thread per output element.
static __global__ void embedding_fwd_kernel(float *__restrict__ out, const int32_t *__restrict__ ids,
                                            const float *__restrict__ table, int64_t N, int64_t V, int64_t D) {
    int64_t n = N * D;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = e / D, d = e - i * D;
        int64_t v = ids[i];
        out[e] = v >= 0 && v < V ? table[v * D + d] : 0.0f;
    }
}

enum { EMB_WARPS = 8 };

// One warp per table row v (grid-stride over rows, so v is uniform within a
// warp and the ballot is over a full warp). The warp reads 32 ids at a time,
// finds the positions holding v with a ballot, and adds those dout rows in
// increasing i: the CPU's order of additions for every element.
static __global__ void embedding_bwd_kernel(float *__restrict__ dtable, const float *__restrict__ dout,
                                            const int32_t *__restrict__ ids, int64_t N, int64_t V, int64_t D) {
    const int lane = threadIdx.x & 31;
    const int64_t warps = (int64_t)gridDim.x * EMB_WARPS;
    for (int64_t v = (int64_t)blockIdx.x * EMB_WARPS + (threadIdx.x >> 5); v < V; v += warps) {
        float *row = dtable + v * D;
        for (int64_t i0 = 0; i0 < N; i0 += 32) {
            int64_t i = i0 + lane;
            unsigned hit = __ballot_sync(0xffffffffu, i < N && (int64_t)ids[i] == v);
            while (hit) {
                int b = __ffs(hit) - 1;
                hit &= hit - 1;
                const float *src = dout + (i0 + b) * D;
                for (int64_t d = lane; d < D; d += 32) row[d] += src[d];
            }
        }
    }
}

static silt_status emb_check(const char *op, bool null_buf, int64_t N, int64_t V, int64_t D) {
    SILT_CUDA_READY();
    if (N < 0 || V < 0 || D < 0)
        return SILT_FAIL(SILT_ERR_ARG, "%s: negative size (N %lld, V %lld, D %lld)", op, (long long)N, (long long)V,
                         (long long)D);
    if (N > 0 && D > 0 && null_buf) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL buffer", op);
    return SILT_OK;
}

extern "C" silt_status embedding_fwd_cuda(float *out, const int32_t *ids, const float *table, int64_t N, int64_t V,
                                          int64_t D) {
    SILT_TRY(emb_check("embedding_fwd_cuda", !out || !ids || (V > 0 && !table), N, V, D));
    if (N == 0 || D == 0) return SILT_OK;
    embedding_fwd_kernel<<<silt_cuda_grid_(N * D), SILT_CUDA_BLOCK>>>(out, ids, table, N, V, D);
    SILT_CUDA_LAUNCHED("embedding_fwd_kernel");
    return SILT_OK;
}

extern "C" silt_status embedding_bwd_cuda(float *dtable, const float *dout, const int32_t *ids, int64_t N, int64_t V,
                                          int64_t D) {
    SILT_TRY(emb_check("embedding_bwd_cuda", !dtable || !dout || !ids, N, V, D));
    if (N == 0 || D == 0 || V == 0) return SILT_OK;
    int64_t blocks = (V + EMB_WARPS - 1) / EMB_WARPS;
    if (blocks > 32768) blocks = 32768;
    embedding_bwd_kernel<<<(unsigned)blocks, EMB_WARPS * 32>>>(dtable, dout, ids, N, V, D);
    SILT_CUDA_LAUNCHED("embedding_bwd_kernel");
    return SILT_OK;
}

// --- VQ nearest ---------------------------------------------------------------------

enum { VQ_WARPS = 8 };

// One warp per row i; lane l tries entries l, l+32, ... and keeps its first
// minimum, then the warp keeps the smallest distance, ties to the lower
// index. Distances use the CPU's double operations in the CPU's order, with
// the _rn intrinsics so nvcc cannot fuse d + t*t into an fma (one rounding
// fewer than the CPU): equal distances on both sides, hence equal indices.
static __global__ void vq_nearest_kernel(int32_t *__restrict__ idx, const float *__restrict__ z,
                                         const float *__restrict__ cb, int64_t N, int64_t V, int64_t C) {
    const int lane = threadIdx.x & 31;
    const int64_t warps = (int64_t)gridDim.x * VQ_WARPS;
    for (int64_t i = (int64_t)blockIdx.x * VQ_WARPS + (threadIdx.x >> 5); i < N; i += warps) {
        const float *zi = z + i * C;
        double best = INFINITY;
        int64_t arg = -1;  // none yet: every distance so far was NaN or inf
        for (int64_t j = lane; j < V; j += 32) {
            const float *e = cb + j * C;
            double d = 0;
            for (int64_t c = 0; c < C; c++) {
                double t = __dsub_rn((double)zi[c], (double)e[c]);
                d = __dadd_rn(d, __dmul_rn(t, t));
            }
            if (d < best) {
                best = d;
                arg = j;
            }
        }
        for (int off = 16; off > 0; off >>= 1) {
            double ob = __shfl_down_sync(0xffffffffu, best, off);
            long long oa = __shfl_down_sync(0xffffffffu, (long long)arg, off);
            if (oa >= 0 && (arg < 0 || ob < best || (ob == best && oa < arg))) {
                best = ob;
                arg = oa;
            }
        }
        if (lane == 0) idx[i] = arg < 0 ? 0 : (int32_t)arg;
    }
}

extern "C" silt_status vq_nearest_cuda(int32_t *idx, const float *z, const float *codebook, int64_t N, int64_t V,
                                       int64_t C) {
    SILT_CUDA_READY();
    if (N < 0 || V < 0 || C < 0)
        return SILT_FAIL(SILT_ERR_ARG, "vq_nearest_cuda: negative size (N %lld, V %lld, C %lld)", (long long)N,
                         (long long)V, (long long)C);
    if (N == 0) return SILT_OK;
    if (V < 1) return SILT_FAIL(SILT_ERR_ARG, "vq_nearest_cuda: empty codebook (V = 0) for %lld rows", (long long)N);
    if (V > INT32_MAX) return SILT_FAIL(SILT_ERR_ARG, "vq_nearest_cuda: V = %lld does not fit int32 indices", (long long)V);
    if (!idx || (C > 0 && (!z || !codebook))) return SILT_FAIL(SILT_ERR_ARG, "vq_nearest_cuda: NULL buffer");
    int64_t blocks = (N + VQ_WARPS - 1) / VQ_WARPS;
    if (blocks > 32768) blocks = 32768;
    vq_nearest_kernel<<<(unsigned)blocks, VQ_WARPS * 32>>>(idx, z, codebook, N, V, C);
    SILT_CUDA_LAUNCHED("vq_nearest_kernel");
    return SILT_OK;
}
