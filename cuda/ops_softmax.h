// CUDA twins of the softmax kernels in core/ops_attention.h (softmax over the
// last dim). Included from cuda/cuda.h.
//
// Same arguments and semantics as softmax_fwd_cpu / softmax_bwd_cpu (device
// pointers): numerically stable (row max subtracted), a row that is entirely
// -INFINITY gives zeros, the backward ACCUMULATES. One warp per row (a block
// for long rows); sums in fp32 over positive terms (the CPU sums in double: a
// row of C carries at most ~C/32 * 6e-8 relative error more). Deterministic.
// SILT_ERR_ARG for negative sizes or a NULL buffer the work needs;
// SILT_ERR_UNSUPPORTED without a usable GPU; N == 0 or C == 0 is a no-op.
#ifndef SILT_CUDA_OPS_SOFTMAX_H
#define SILT_CUDA_OPS_SOFTMAX_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"

// x, out: (N, C). out may alias x.
silt_status softmax_fwd_cuda(float *out, const float *x, int64_t N, int64_t C);
// dx += out * (dout - sum(dout * out)). dx, dout, out: (N, C).
silt_status softmax_bwd_cuda(float *dx, const float *dout, const float *out, int64_t N, int64_t C);

#ifdef __cplusplus
}
#endif

#endif
