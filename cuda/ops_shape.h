// CUDA twins of core/ops_shape.h's raw kernels: concat, slice, permute,
// pad2d, forward and backward. Same arguments as the _cpu versions; the data
// buffers are device pointers, while the small argument arrays (concat's xs,
// dxs and sizes; permute's xshape and perm) are host arrays. Backward twins
// accumulate (+=), like the CPU. Every output element is written by exactly
// one thread, so the results do not depend on scheduling.
// Errors: SILT_ERR_ARG for negative sizes, NULL buffers with work to do, a
// bad permutation or slice range; SILT_ERR_UNSUPPORTED without a GPU.
#ifndef SILT_CUDA_OPS_SHAPE_H
#define SILT_CUDA_OPS_SHAPE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"

// out: (outer, sum(sizes), inner); xs[i]: (outer, sizes[i], inner).
silt_status concat_fwd_cuda(float *out, const float *const *xs, const int64_t *sizes, int n, int64_t outer,
                            int64_t inner);
// dxs[i] += the matching block of dout; a NULL dxs[i] is skipped.
silt_status concat_bwd_cuda(float *const *dxs, const float *dout, const int64_t *sizes, int n, int64_t outer,
                            int64_t inner);
// out: (outer, len, inner) = x[:, start:start+len, :] with x: (outer, dim, inner).
silt_status slice_fwd_cuda(float *out, const float *x, int64_t outer, int64_t dim, int64_t inner, int64_t start,
                           int64_t len);
// dx[:, start:start+len, :] += dout.
silt_status slice_bwd_cuda(float *dx, const float *dout, int64_t outer, int64_t dim, int64_t inner, int64_t start,
                           int64_t len);
// out's dim k is x's dim perm[k] (torch.permute). x: xshape (ndim 1..4).
silt_status permute_fwd_cuda(float *out, const float *x, int ndim, const int64_t *xshape, const int *perm);
// dx (xshape) += dout permuted back.
silt_status permute_bwd_cuda(float *dx, const float *dout, int ndim, const int64_t *xshape, const int *perm);
// Zero padding of nc planes: x (nc, h, w) -> out (nc, h+top+bottom, w+left+right),
// pads >= 0. One thread per output element (zeros written too).
silt_status pad2d_fwd_cuda(float *out, const float *x, int64_t nc, int64_t h, int64_t w, int64_t left, int64_t right,
                           int64_t top, int64_t bottom);
// dx (nc, h, w) += the window of dout at (top, left). One thread per dx element.
silt_status pad2d_bwd_cuda(float *dx, const float *dout, int64_t nc, int64_t h, int64_t w, int64_t left, int64_t right,
                           int64_t top, int64_t bottom);

#ifdef __cplusplus
}
#endif

#endif
