// CUDA twins of the elementwise kernels in core/ops_elementwise.h beyond the
// forward activations declared in cuda/cuda.h (gelu_fwd_cuda, silu_fwd_cuda,
// add_fwd_cuda): activation backwards, tanh, sigmoid, scalar ops and the
// broadcasting binary ops. Included from cuda/cuda.h.
//
// Same arguments and semantics as the _cpu kernels; buffers are device
// pointers, except the binary ops' shape and stride arrays, which are HOST
// arrays of 4 (read before the launch). Backward kernels ACCUMULATE (+=).
// Full-precision expf/erff/tanhf (no fast-math): within a few ulp of the CPU.
// SILT_ERR_ARG for a negative size, a NULL buffer the work needs or a bad op
// code; n == 0 is a no-op; SILT_ERR_UNSUPPORTED without a usable GPU.
#ifndef SILT_CUDA_OPS_ELEMENTWISE_H
#define SILT_CUDA_OPS_ELEMENTWISE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/ops_elementwise.h"
#include "core/status.h"

// dx += dout * gelu'(x); approximate 0: erf form, 1: tanh form.  (n)
silt_status gelu_bwd_cuda(float *dx, const float *dout, const float *x, int64_t n, int approximate);
// dx += dout * silu'(x).  (n)
silt_status silu_bwd_cuda(float *dx, const float *dout, const float *x, int64_t n);
// tanh and sigmoid; the backwards take the forward OUTPUT y.  (n)
silt_status tanh_fwd_cuda(float *out, const float *x, int64_t n);
silt_status tanh_bwd_cuda(float *dx, const float *dout, const float *y, int64_t n);
silt_status sigmoid_fwd_cuda(float *out, const float *x, int64_t n);
silt_status sigmoid_bwd_cuda(float *dx, const float *dout, const float *y, int64_t n);
// out = x * s; dx += dout * s; out = x + s.  (n). out may alias x.
silt_status scale_fwd_cuda(float *out, const float *x, float s, int64_t n);
silt_status scale_bwd_cuda(float *dx, const float *dout, float s, int64_t n);
silt_status add_scalar_fwd_cuda(float *out, const float *x, float s, int64_t n);
// torch.clamp: out = x clamped to [lo, hi], NaN passed through; dx += dout
// where lo <= x <= hi.  (n)
silt_status clamp_fwd_cuda(float *out, const float *x, int64_t n, float lo, float hi);
silt_status clamp_bwd_cuda(float *dx, const float *dout, const float *x, int64_t n, float lo, float hi);

// Broadcasting binary op over a 4-D index space, as binary_fwd_cpu: out
// (shape[0..3]) contiguous; a and b read at sum_d idx[d] * stride[d], a
// stride 0 exactly on that input's broadcast dims. shape, astride, bstride:
// host arrays.
silt_status binary_fwd_cuda(float *out, const float *a, const float *b, const int64_t shape[4],
                            const int64_t astride[4], const int64_t bstride[4], silt_binop op);
// da, db (either NULL): a's / b's numel, += the grads summed over each input's
// broadcast dims. a and b are read only for mul and div (may be NULL for add
// and sub). The sums are deterministic (fixed order, fp32, no atomics, no
// scratch): a warp of lanes over consecutive elements of the input walks the
// reduced positions when the innermost non-trivial dim is kept, a block per
// element otherwise. Reducing to very few elements (a scalar operand) keeps
// few SMs busy: where such a pattern is hot, give it its own kernel (as
// modulate_bwd_cuda does for adaLN's shift/scale).
silt_status binary_bwd_cuda(float *da, float *db, const float *dout, const float *a, const float *b,
                            const int64_t shape[4], const int64_t astride[4], const int64_t bstride[4], silt_binop op);

#ifdef __cplusplus
}
#endif

#endif
