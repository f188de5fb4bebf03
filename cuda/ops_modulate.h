// CUDA twins of the adaLN modulation kernels in core/ops_modulate.h (DiT's
// `modulate` and gated residual). Included from cuda/cuda.h.
//
// Same arguments and semantics as the _cpu kernels (device pointers);
// backward kernels ACCUMULATE (+=) and skip NULL d-buffers. dshift, dscale and
// dgate sum over T per (b, c) with one block per (b, 32 columns) walking the T
// rows in a fixed order: deterministic, no atomics, no scratch. fp32
// throughout, as on the CPU (whose T sums are sequential fp32). SILT_ERR_ARG
// for a negative size or a NULL buffer the work needs; empty sizes are a
// no-op; SILT_ERR_UNSUPPORTED without a usable GPU.
#ifndef SILT_CUDA_OPS_MODULATE_H
#define SILT_CUDA_OPS_MODULATE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"

// out = x * (1 + scale[:, None, :]) + shift[:, None, :]
// x, out: (B, T, C); shift, scale: (B, C). out may alias x.
silt_status modulate_fwd_cuda(float *out, const float *x, const float *shift, const float *scale, int64_t B, int64_t T,
                              int64_t C);
// Inference only, for a bf16-weight linear that follows (DiT, SD3):
// out = bf16(modulate(layernorm(x, no affine, eps), shift, scale)), the same
// fp32 arithmetic as layernorm_fwd_cuda then modulate_fwd_cuda, rounded to
// nearest even. out: (B, T, C) bf16 bit patterns; x: (B, T, C); shift, scale: (B, C).
silt_status ln_modulate_bf16_fwd_cuda(uint16_t *out, const float *x, const float *shift, const float *scale, int64_t B,
                                      int64_t T, int64_t C, float eps);
// dx: (B, T, C); dshift, dscale: (B, C)
silt_status modulate_bwd_cuda(float *dx, float *dshift, float *dscale, const float *dout, const float *x,
                              const float *scale, int64_t B, int64_t T, int64_t C);

// out = x + gate[:, None, :] * y.  x, y, out: (B, T, C); gate: (B, C). out may alias x or y.
silt_status gated_add_fwd_cuda(float *out, const float *x, const float *gate, const float *y, int64_t B, int64_t T,
                               int64_t C);
// dx, dy: (B, T, C); dgate: (B, C)
silt_status gated_add_bwd_cuda(float *dx, float *dgate, float *dy, const float *dout, const float *gate, const float *y,
                               int64_t B, int64_t T, int64_t C);

#ifdef __cplusplus
}
#endif

#endif
