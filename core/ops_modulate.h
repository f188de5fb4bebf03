// adaLN modulation and gated residuals, as DiT blocks use them (Peebles & Xie
// 2023, sec. 3.2 "adaLN-Zero"; reference: facebookresearch/DiT models.py,
// `modulate` and `x + gate.unsqueeze(1) * attn(...)`).
//
// Raw kernels (outputs first, dims last; backward kernels accumulate (+=) and
// take NULL for gradients that are not wanted) and tensor-level graph ops.
#ifndef SILT_OPS_MODULATE_H
#define SILT_OPS_MODULATE_H

#include <stdint.h>

#include "core/graph.h"

// out = x * (1 + scale[:, None, :]) + shift[:, None, :]
// x, out: (B, T, C); shift, scale: (B, C)
void modulate_fwd_cpu(float *out, const float *x, const float *shift, const float *scale, int64_t B, int64_t T,
                      int64_t C);
// dx: (B, T, C); dshift, dscale: (B, C)
void modulate_bwd_cpu(float *dx, float *dshift, float *dscale, const float *dout, const float *x, const float *scale,
                      int64_t B, int64_t T, int64_t C);

// out = x + gate[:, None, :] * y
// x, y, out: (B, T, C); gate: (B, C)
void gated_add_fwd_cpu(float *out, const float *x, const float *gate, const float *y, int64_t B, int64_t T, int64_t C);
// dx, dy: (B, T, C); dgate: (B, C)
void gated_add_bwd_cpu(float *dx, float *dgate, float *dy, const float *dout, const float *gate, const float *y,
                       int64_t B, int64_t T, int64_t C);

// x: (B, T, C); shift, scale, gate: (B, C) or (B, 1, C).
silt_tensor *silt_modulate(silt_graph *g, silt_tensor *x, silt_tensor *shift, silt_tensor *scale);
silt_tensor *silt_gated_add(silt_graph *g, silt_tensor *x, silt_tensor *gate, silt_tensor *y);
// Inference on a CUDA graph, for a bf16-weight linear that follows (see
// silt_linear_takes_bf16): silt_modulate(silt_layernorm(x, NULL, NULL, eps),
// shift, scale) as one kernel that writes a bf16 tensor (B, T, C), which
// silt_linear then takes without a rounding pass. Fails the graph on a CPU
// graph or when a gradient is wanted (SILT_ERR_UNSUPPORTED).
silt_tensor *silt_ln_modulate_bf16(silt_graph *g, silt_tensor *x, silt_tensor *shift, silt_tensor *scale, float eps);

#endif
