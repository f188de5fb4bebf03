// CUDA twins of the reductions in core/ops_reduce.h: sum / mean over all
// elements or one dim, and the MSE loss. Included from cuda/cuda.h.
//
// Same arguments and semantics as the _cpu kernels (device pointers, dout a
// device pointer too); backward kernels ACCUMULATE. Sums accumulate in double,
// as on the CPU, in a fixed order that depends only on the sizes (no atomics),
// so results are reproducible and agree with the CPU to the final fp32
// rounding (the tests allow 1e-6 relative to sqrt(n) * rms(x)).
// SILT_ERR_ARG for a negative size or a NULL buffer the work needs;
// SILT_ERR_UNSUPPORTED without a usable GPU.
//
// Full reductions (sum, mean, mse_loss) run in one block of 1024 threads: no
// scratch and no second kernel, at the price of one SM's bandwidth (fine for
// losses and statistics; a tensor of 10^8 elements takes milliseconds). Like
// the CPU, n == 0 writes 0 (sum) or NaN (mean, mse_loss).
#ifndef SILT_CUDA_OPS_REDUCE_H
#define SILT_CUDA_OPS_REDUCE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"

// out[0] = sum(x) or mean(x).  x: (n), out: (1)
silt_status sum_fwd_cuda(float *out, const float *x, int64_t n);
silt_status mean_fwd_cuda(float *out, const float *x, int64_t n);
// dx[i] += dout[0] * scale.  dx: (n), dout: (1)
silt_status sum_bwd_cuda(float *dx, const float *dout, int64_t n, float scale);
// out[o, i] = sum_d x[o, d, i] (or the mean).  x: (outer, dim, inner), out: (outer, inner)
silt_status sum_dim_fwd_cuda(float *out, const float *x, int64_t outer, int64_t dim, int64_t inner);
silt_status mean_dim_fwd_cuda(float *out, const float *x, int64_t outer, int64_t dim, int64_t inner);
// dx[o, d, i] += dout[o, i] * scale.
silt_status sum_dim_bwd_cuda(float *dx, const float *dout, int64_t outer, int64_t dim, int64_t inner, float scale);
// out[0] = mean((a - b)^2).  a, b: (n), out: (1)
silt_status mse_loss_fwd_cuda(float *out, const float *a, const float *b, int64_t n);
// da += 2 (a - b) dout[0] / n, db -= the same; either may be NULL.
silt_status mse_loss_bwd_cuda(float *da, float *db, const float *dout, const float *a, const float *b, int64_t n);

#ifdef __cplusplus
}
#endif

#endif
