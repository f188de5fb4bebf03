// Normalisation ops: layer norm, RMS norm, group norm, L2 normalise.
//
// Semantics follow PyTorch (torch.nn.functional.layer_norm, rms_norm,
// group_norm, normalize): biased variance, eps inside the square root, affine
// parameters optional. Statistics are accumulated in double so that wide rows
// (C in the thousands) keep fp32 accuracy.
//
// Two levels, as every op family (see DESIGN.md):
//  - raw kernels over float buffers, outputs first, dims last; backward
//    kernels ACCUMULATE (+=) into their d-buffers, and any d-buffer may be NULL
//    when that gradient is not wanted;
//  - tensor-level graph ops that record a backward node on the tape.
#ifndef SILT_OPS_NORM_H
#define SILT_OPS_NORM_H

#include <stdint.h>

#include "core/graph.h"

// --- layer norm over the last dim --------------------------------------------
// y = (x - mean) * rstd * w + b, rstd = 1/sqrt(var + eps), var biased.
// x, out: (N, C); w, b: (C) or NULL (no scale / no shift); mean, rstd: (N),
// written for the backward pass (may be NULL when not needed).
void layernorm_fwd_cpu(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b, int64_t N,
                       int64_t C, float eps);
// dx: (N, C); dw, db: (C); any may be NULL. mean, rstd from the forward.
void layernorm_bwd_cpu(float *dx, float *dw, float *db, const float *dout, const float *x, const float *mean,
                       const float *rstd, const float *w, int64_t N, int64_t C);

// --- RMS norm over the last dim ------------------------------------------------
// y = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps) (torch.nn.RMSNorm).
// x, out: (N, C); w: (C) or NULL; rstd: (N) or NULL.
void rmsnorm_fwd_cpu(float *out, float *rstd, const float *x, const float *w, int64_t N, int64_t C, float eps);
void rmsnorm_bwd_cpu(float *dx, float *dw, const float *dout, const float *x, const float *rstd, const float *w,
                     int64_t N, int64_t C);

// --- group norm, NCHW ----------------------------------------------------------
// G groups of C/G channels; statistics over (C/G * HW) elements per (n, g).
// x, out: (N, C, HW); w, b: (C) or NULL; mean, rstd: (N, G) or NULL.
// The caller guarantees C % G == 0 (the graph op checks it).
void groupnorm_fwd_cpu(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b, int64_t N,
                       int64_t C, int64_t HW, int64_t G, float eps);
void groupnorm_bwd_cpu(float *dx, float *dw, float *db, const float *dout, const float *x, const float *mean,
                       const float *rstd, const float *w, int64_t N, int64_t C, int64_t HW, int64_t G);

// --- L2 normalise over the last dim (F.normalize(x, dim=-1)) --------------------
// y = x / max(||x||_2, eps). x, out: (N, C); norm: (N) the unclamped norm, or NULL.
void l2norm_fwd_cpu(float *out, float *norm, const float *x, int64_t N, int64_t C, float eps);
// Gradient as PyTorch's clamp_min: where ||x|| >= eps the norm's derivative
// flows, where it was clamped dx = dout / eps.
void l2norm_bwd_cpu(float *dx, const float *dout, const float *x, const float *norm, int64_t N, int64_t C, float eps);

// --- graph ops ------------------------------------------------------------------
// All normalise over the last dim of x (any ndim 1..4) except group norm.
// Optional parameters (w, b) are plain NULL; since a NULL can also come from a
// failed earlier op, these ops return NULL whenever the graph already failed.
// w, b must hold C elements (any shape with numel C).
silt_tensor *silt_layernorm(silt_graph *g, silt_tensor *x, silt_tensor *w, silt_tensor *b, float eps);
silt_tensor *silt_rmsnorm(silt_graph *g, silt_tensor *x, silt_tensor *w, float eps);
// x: (N, C, H, W), (N, C, L) or (N, C). groups must divide C (SILT_ERR_SHAPE).
silt_tensor *silt_groupnorm(silt_graph *g, silt_tensor *x, silt_tensor *w, silt_tensor *b, int64_t groups, float eps);
// PyTorch's default eps is 1e-12.
silt_tensor *silt_l2norm(silt_graph *g, silt_tensor *x, float eps);

#endif
