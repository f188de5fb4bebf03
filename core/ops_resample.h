// Resampling of NCHW images, with PyTorch's semantics so that ported models
// (VAE, U-Net, VAR's multi-scale pyramids) resize exactly as their references:
//   nearest  F.interpolate(x, size, mode='nearest')   (the legacy mode, not 'nearest-exact')
//   bicubic  F.interpolate(x, size, mode='bicubic', align_corners=False), no antialias
//   area     F.adaptive_avg_pool2d(x, size)  (= F.interpolate(mode='area'))
// Each maps any (H, W) to any (Ho, Wo) >= 1, up or down.
//
// Raw kernels treat x as nc = N*C independent planes: x: (nc, h, w),
// out: (nc, ho, wo). Backward kernels ACCUMULATE (+=) into dx.
#ifndef SILT_OPS_RESAMPLE_H
#define SILT_OPS_RESAMPLE_H

#include <stdint.h>

#include "core/graph.h"

// Source index of output index dst for nearest: floor(dst * (float)in/out),
// clamped to in-1, with PyTorch's exact shortcuts for out == in and out == 2 in
// (aten/src/ATen/native/UpSample.h: nearest_idx). Float arithmetic on purpose:
// it decides which pixel is picked when dst*in/out lands on an integer.
int64_t resample_nearest_index(int64_t dst, int64_t in, int64_t out);
// Bicubic source position for dst: the lower tap index i0 (taps i0-1..i0+2,
// clamped to 0..in-1 when read) and the four weights (Keys kernel, A = -0.75).
void resample_cubic_taps(int64_t dst, int64_t in, int64_t out, int64_t *i0, float w[4]);

void upsample_nearest_fwd_cpu(float *out, const float *x, int64_t nc, int64_t h, int64_t w, int64_t ho, int64_t wo);
void upsample_nearest_bwd_cpu(float *dx, const float *dout, int64_t nc, int64_t h, int64_t w, int64_t ho, int64_t wo);
void upsample_bicubic_fwd_cpu(float *out, const float *x, int64_t nc, int64_t h, int64_t w, int64_t ho, int64_t wo);
void upsample_bicubic_bwd_cpu(float *dx, const float *dout, int64_t nc, int64_t h, int64_t w, int64_t ho, int64_t wo);
// Output (i, j) is the mean of x over rows floor(i*h/ho) .. ceil((i+1)*h/ho)-1
// and the matching columns (sums in double).
void area_downsample_fwd_cpu(float *out, const float *x, int64_t nc, int64_t h, int64_t w, int64_t ho, int64_t wo);
void area_downsample_bwd_cpu(float *dx, const float *dout, int64_t nc, int64_t h, int64_t w, int64_t ho, int64_t wo);

// x: (N, C, H, W) f32 -> (N, C, Ho, Wo). Ho, Wo >= 1 (else SILT_ERR_ARG); x
// must be 4-D (else SILT_ERR_SHAPE). On a CUDA graph (x on cuda) forward and
// backward run the CUDA twins (cuda/ops_resample.h).
silt_tensor *silt_upsample_nearest(silt_graph *g, silt_tensor *x, int64_t ho, int64_t wo);
silt_tensor *silt_upsample_bicubic(silt_graph *g, silt_tensor *x, int64_t ho, int64_t wo);
silt_tensor *silt_area_downsample(silt_graph *g, silt_tensor *x, int64_t ho, int64_t wo);

#endif
