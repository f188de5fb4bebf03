// CUDA twins of the normalisation kernels in core/ops_norm.h: layer norm, RMS
// norm, group norm, L2 normalise. Included from cuda/cuda.h.
//
// Same names with _cuda, same arguments as the _cpu kernels (device
// pointers), same semantics: backward kernels ACCUMULATE (+=) into their
// d-buffers and any d-buffer may be NULL; optional inputs (w, b) and outputs
// (mean, rstd, norm) may be NULL. They return silt_status: SILT_ERR_ARG for a
// negative size, a NULL buffer the work needs, or (group norm) groups < 1 or
// not dividing C; SILT_ERR_UNSUPPORTED without a usable GPU. An empty problem
// (N == 0, ...) is a no-op. The row statistics are written for C == 0 too
// (NaN, as on the CPU).
//
// Differences from the CPU kernels, all inside fp32 rounding:
//  - two-pass statistics: the row sum for the mean in double (as the CPU, so
//    |mean| >> std loses nothing), the centred sum of squares and the
//    backward's row sums in fp32 (the CPU uses double): a row of C elements
//    carries a relative error of about C/32 * 6e-8 at worst;
//  - sums of squares (RMS norm, L2 norm) overflow fp32 for |x| above ~1e19;
//  - dw/db sum over rows in fp32 in a fixed tree-like order (the CPU sums
//    sequentially in fp32 for layer/RMS norm, in double for group norm).
// Every result is deterministic: fixed reduction orders that depend only on
// the sizes (see cuda/reduce.cuh); no atomics.
//
// Scratch: layer norm and RMS norm sum dw/db over the N rows. With scratch
// (at least <op>_bwd_cuda_scratch_floats(N, C) floats of device memory, not
// initialised) the rows are split into chunks summed by ~1024 blocks and the
// chunk sums added in order by a second kernel; with scratch == NULL one block
// per 32 columns walks all rows (same determinism, but for C ~ 1000 only ~32
// blocks run, so it is several times slower on large N). The helpers return 0
// when the split would not pay; scratch is then ignored.
#ifndef SILT_CUDA_OPS_NORM_H
#define SILT_CUDA_OPS_NORM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"

// x, out: (N, C); w, b: (C) or NULL; mean, rstd: (N) or NULL.
silt_status layernorm_fwd_cuda(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b,
                               int64_t N, int64_t C, float eps);
// Floats of scratch layernorm_bwd_cuda can use for dw/db (0: none needed).
int64_t layernorm_bwd_cuda_scratch_floats(int64_t N, int64_t C);
// dx: (N, C); dw, db: (C); any may be NULL. scratch: see above, or NULL.
// mean, rstd from the forward; w: (C) or NULL.
silt_status layernorm_bwd_cuda(float *dx, float *dw, float *db, float *scratch, const float *dout, const float *x,
                               const float *mean, const float *rstd, const float *w, int64_t N, int64_t C);

// x, out: (N, C); w: (C) or NULL; rstd: (N) or NULL.
silt_status rmsnorm_fwd_cuda(float *out, float *rstd, const float *x, const float *w, int64_t N, int64_t C, float eps);
int64_t rmsnorm_bwd_cuda_scratch_floats(int64_t N, int64_t C);
// dx: (N, C), dw: (C), either may be NULL; scratch as layer norm's.
silt_status rmsnorm_bwd_cuda(float *dx, float *dw, float *scratch, const float *dout, const float *x, const float *rstd,
                             const float *w, int64_t N, int64_t C);

// x, out: (N, C, HW); w, b: (C) or NULL; mean, rstd: (N, G) or NULL.
// One block per (n, group): fine for N * G in the hundreds; a single image
// with 32 groups keeps only 32 SMs busy.
silt_status groupnorm_fwd_cuda(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b,
                               int64_t N, int64_t C, int64_t HW, int64_t G, float eps);
// dx: (N, C, HW); dw, db: (C); any may be NULL. dw/db: one block per channel.
silt_status groupnorm_bwd_cuda(float *dx, float *dw, float *db, const float *dout, const float *x, const float *mean,
                               const float *rstd, const float *w, int64_t N, int64_t C, int64_t HW, int64_t G);

// y = x / max(||x||, eps) per row. x, out: (N, C); norm: (N) or NULL.
silt_status l2norm_fwd_cuda(float *out, float *norm, const float *x, int64_t N, int64_t C, float eps);
// dx: (N, C) (NULL: nothing to do); norm from the forward.
silt_status l2norm_bwd_cuda(float *dx, const float *dout, const float *x, const float *norm, int64_t N, int64_t C,
                            float eps);

#ifdef __cplusplus
}
#endif

#endif
