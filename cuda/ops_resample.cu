// CUDA twins of the resampling kernels (core/ops_resample.c). One thread per
// output element in the forwards and per input-gradient element in the
// backwards (gathers over the outputs that read it, see
// cuda/resample_index.h), grid-stride loops over int64 indices.
//
// Every float step that the CPU does as a separate multiply and add is
// written with RS_MUL / RS_ADD (the _rn intrinsics, never fused into an fma),
// and sums run in the CPU's order, so the twins reproduce the CPU's
// roundings; the tests still compare with a tolerance.
#include "cuda/common.cuh"
#include "cuda/ops_resample.h"
#include "cuda/resample_index.h"

// Splits a flat index over (nc, rows, cols) planes.
struct rs_pos {
    int64_t p, i, j;
};
static __device__ inline rs_pos rs_split(int64_t e, int64_t rows, int64_t cols) {
    rs_pos q;
    q.j = e % cols;
    int64_t r = e / cols;
    q.i = r % rows;
    q.p = r / rows;
    return q;
}

#define RS_LOOP(e, n) \
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < (n); e += (int64_t)gridDim.x * blockDim.x)

// --- nearest ----------------------------------------------------------------------

static __global__ void nearest_fwd_kernel(float *__restrict__ out, const float *__restrict__ x, int64_t nc, int64_t h,
                                          int64_t w, int64_t ho, int64_t wo) {
    RS_LOOP(e, nc * ho * wo) {
        rs_pos q = rs_split(e, ho, wo);
        out[e] = x[(q.p * h + rs_nearest_index(q.i, h, ho)) * w + rs_nearest_index(q.j, w, wo)];
    }
}

static __global__ void nearest_bwd_kernel(float *__restrict__ dx, const float *__restrict__ dout, int64_t nc,
                                          int64_t h, int64_t w, int64_t ho, int64_t wo) {
    RS_LOOP(e, nc * h * w) {
        rs_pos q = rs_split(e, h, w);
        int64_t i0, i1, j0, j1;
        rs_nearest_sources(q.i, h, ho, &i0, &i1);
        rs_nearest_sources(q.j, w, wo, &j0, &j1);
        const float *g = dout + q.p * ho * wo;
        float acc = dx[e];
        for (int64_t i = i0; i < i1; i++)
            for (int64_t j = j0; j < j1; j++) acc = RS_ADD(acc, g[i * wo + j]);
        dx[e] = acc;
    }
}

// --- bicubic ----------------------------------------------------------------------

static __global__ void bicubic_fwd_kernel(float *__restrict__ out, const float *__restrict__ x, int64_t nc, int64_t h,
                                          int64_t w, int64_t ho, int64_t wo) {
    RS_LOOP(e, nc * ho * wo) {
        rs_pos q = rs_split(e, ho, wo);
        int64_t y0, x0, rows[4], cols[4];
        float wy[4], wx[4];
        rs_cubic_taps(q.i, h, ho, &y0, wy);
        rs_cubic_taps(q.j, w, wo, &x0, wx);
#pragma unroll
        for (int k = 0; k < 4; k++) {
            rows[k] = rs_clamp(y0 - 1 + k, h - 1) * w;
            cols[k] = rs_clamp(x0 - 1 + k, w - 1);
        }
        const float *xp = x + q.p * h * w;
        // Along W first, then H, as the CPU (and PyTorch's separable kernel).
        float acc = 0.0f;
#pragma unroll
        for (int r = 0; r < 4; r++) {
            const float *src = xp + rows[r];
            float t = RS_MUL(src[cols[0]], wx[0]);
#pragma unroll
            for (int c = 1; c < 4; c++) t = RS_ADD(t, RS_MUL(src[cols[c]], wx[c]));
            acc = r == 0 ? RS_MUL(t, wy[0]) : RS_ADD(acc, RS_MUL(t, wy[r]));
        }
        out[e] = acc;
    }
}

// dx (y, x) += sum over outputs (i, j) and taps (r, c) landing on (y, x) of
// dout(i, j) * wy[r] * wx[c]; clamped taps can land on one pixel twice, and
// each adds its own share, as on the CPU.
static __global__ void bicubic_bwd_kernel(float *__restrict__ dx, const float *__restrict__ dout, int64_t nc,
                                          int64_t h, int64_t w, int64_t ho, int64_t wo) {
    RS_LOOP(e, nc * h * w) {
        rs_pos q = rs_split(e, h, w);
        int64_t i0, i1, j0, j1;
        rs_cubic_sources(q.i, h, ho, &i0, &i1);
        rs_cubic_sources(q.j, w, wo, &j0, &j1);
        const float *g = dout + q.p * ho * wo;
        float acc = dx[e];
        for (int64_t i = i0; i < i1; i++) {
            int64_t y0;
            float wy[4];
            rs_cubic_taps(i, h, ho, &y0, wy);
            for (int64_t j = j0; j < j1; j++) {
                int64_t x0;
                float wx[4];
                rs_cubic_taps(j, w, wo, &x0, wx);
                float gv = g[i * wo + j];
#pragma unroll
                for (int r = 0; r < 4; r++) {
                    if (rs_clamp(y0 - 1 + r, h - 1) != q.i) continue;
                    float gr = RS_MUL(gv, wy[r]);
#pragma unroll
                    for (int c = 0; c < 4; c++)
                        if (rs_clamp(x0 - 1 + c, w - 1) == q.j) acc = RS_ADD(acc, RS_MUL(gr, wx[c]));
                }
            }
        }
        dx[e] = acc;
    }
}

// --- area -------------------------------------------------------------------------

static __global__ void area_fwd_kernel(float *__restrict__ out, const float *__restrict__ x, int64_t nc, int64_t h,
                                       int64_t w, int64_t ho, int64_t wo) {
    RS_LOOP(e, nc * ho * wo) {
        rs_pos q = rs_split(e, ho, wo);
        int64_t r0, r1, c0, c1;
        rs_area_window(q.i, h, ho, &r0, &r1);
        rs_area_window(q.j, w, wo, &c0, &c1);
        const float *xp = x + q.p * h * w;
        double s = 0;  // double sums, as on the CPU
        for (int64_t r = r0; r < r1; r++)
            for (int64_t c = c0; c < c1; c++) s += (double)xp[r * w + c];
        out[e] = (float)(s / (double)((r1 - r0) * (c1 - c0)));
    }
}

static __global__ void area_bwd_kernel(float *__restrict__ dx, const float *__restrict__ dout, int64_t nc, int64_t h,
                                       int64_t w, int64_t ho, int64_t wo) {
    RS_LOOP(e, nc * h * w) {
        rs_pos q = rs_split(e, h, w);
        int64_t i0, i1, j0, j1;
        rs_area_sources(q.i, h, ho, &i0, &i1);
        rs_area_sources(q.j, w, wo, &j0, &j1);
        const float *g = dout + q.p * ho * wo;
        float acc = dx[e];
        for (int64_t i = i0; i < i1; i++) {
            int64_t r0, r1;
            rs_area_window(i, h, ho, &r0, &r1);
            for (int64_t j = j0; j < j1; j++) {
                int64_t c0, c1;
                rs_area_window(j, w, wo, &c0, &c1);
                acc = RS_ADD(acc, RS_DIV(g[i * wo + j], (float)((r1 - r0) * (c1 - c0))));
            }
        }
        dx[e] = acc;
    }
}

// --- entry points -------------------------------------------------------------------

typedef void (*rs_kernel)(float *, const float *, int64_t, int64_t, int64_t, int64_t, int64_t);

// Checks sizes and launches over `threads` elements (output or input side).
static silt_status rs_launch(const char *op, rs_kernel k, float *a, const float *b, int64_t nc, int64_t h, int64_t w,
                             int64_t ho, int64_t wo, bool over_inputs) {
    SILT_CUDA_READY();
    if (nc < 0 || h < 1 || w < 1 || ho < 1 || wo < 1)
        return SILT_FAIL(SILT_ERR_ARG, "%s: bad sizes (nc %lld, %lldx%lld -> %lldx%lld); all but nc must be >= 1", op,
                         (long long)nc, (long long)h, (long long)w, (long long)ho, (long long)wo);
    if (nc == 0) return SILT_OK;
    if (!a || !b) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL buffer", op);
    int64_t n = over_inputs ? nc * h * w : nc * ho * wo;
    k<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(a, b, nc, h, w, ho, wo);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return silt_cuda_fail_(e, op, __FILE__, __LINE__);
    return SILT_OK;
}

extern "C" silt_status upsample_nearest_fwd_cuda(float *out, const float *x, int64_t nc, int64_t h, int64_t w,
                                                 int64_t ho, int64_t wo) {
    return rs_launch("upsample_nearest_fwd_cuda", nearest_fwd_kernel, out, x, nc, h, w, ho, wo, false);
}
extern "C" silt_status upsample_nearest_bwd_cuda(float *dx, const float *dout, int64_t nc, int64_t h, int64_t w,
                                                 int64_t ho, int64_t wo) {
    return rs_launch("upsample_nearest_bwd_cuda", nearest_bwd_kernel, dx, dout, nc, h, w, ho, wo, true);
}
extern "C" silt_status upsample_bicubic_fwd_cuda(float *out, const float *x, int64_t nc, int64_t h, int64_t w,
                                                 int64_t ho, int64_t wo) {
    return rs_launch("upsample_bicubic_fwd_cuda", bicubic_fwd_kernel, out, x, nc, h, w, ho, wo, false);
}
extern "C" silt_status upsample_bicubic_bwd_cuda(float *dx, const float *dout, int64_t nc, int64_t h, int64_t w,
                                                 int64_t ho, int64_t wo) {
    return rs_launch("upsample_bicubic_bwd_cuda", bicubic_bwd_kernel, dx, dout, nc, h, w, ho, wo, true);
}
extern "C" silt_status area_downsample_fwd_cuda(float *out, const float *x, int64_t nc, int64_t h, int64_t w,
                                                int64_t ho, int64_t wo) {
    return rs_launch("area_downsample_fwd_cuda", area_fwd_kernel, out, x, nc, h, w, ho, wo, false);
}
extern "C" silt_status area_downsample_bwd_cuda(float *dx, const float *dout, int64_t nc, int64_t h, int64_t w,
                                                int64_t ho, int64_t wo) {
    return rs_launch("area_downsample_bwd_cuda", area_bwd_kernel, dx, dout, nc, h, w, ho, wo, true);
}
