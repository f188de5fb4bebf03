// Building blocks shared by DiT and MMDiT: timestep sinusoids, 2D sin-cos
// position tables, patch embedding and unpatchify (archs.md section 0.1, 1.2,
// 1.3, 4.2).
#ifndef SILT_DIT_EMBED_H
#define SILT_DIT_EMBED_H

#include <stdbool.h>

#include "core/graph.h"

// Sinusoidal timestep embedding, diffusers get_timestep_embedding semantics,
// computed in fp32 as the references do: half = dim/2,
// freq_i = exp(-ln(max_period) * i / (half - shift)), a = t * freq,
// out = [sin a, cos a] or [cos a, sin a] when flip_sin_to_cos.
// DiT original = flip, shift 0; diffusers DiT = flip, shift 1; SD3 = flip, shift 0.
// t: (n) -> out (n, dim). No gradient flows to t.
silt_tensor *dit_timestep_embedding(silt_graph *g, const float *t, int64_t n, int dim, bool flip_sin_to_cos,
                                    float downscale_freq_shift, float max_period);

// MAE-style 2D sin-cos table, (gh*gw, dim), token n = i*gw + j: the first half
// encodes the column j, the second half the row i; each half is
// [sin(p w_k) for k < dim/4] ++ [cos(p w_k)], w_k = 10000^(-k/(dim/4)).
// Positions are p / (g / base_size) / interpolation_scale as in diffusers
// (base_size = g, scale 1 gives p itself). Computed in double, stored f32.
void dit_sincos_2d(float *out, int dim, int gh, int gw, double base_size, double interpolation_scale);

// Patch embedding: conv (D, C, p, p) stride p, then tokens in row-major order.
// x (B, C, H, W) -> (B, (H/p)*(W/p), D).
silt_tensor *dit_patchify(silt_graph *g, silt_tensor *x, silt_tensor *w, silt_tensor *b, int p);

// Inverse of the token layout: x (B, h*w, p*p*C) with channels ordered
// (pi, pj, c) -> (B, C, h*p, w*p)  (einsum nhwpqc->nchpwq). With backward.
silt_tensor *dit_unpatchify(silt_graph *g, silt_tensor *x, int h, int w, int p, int C);

#endif
