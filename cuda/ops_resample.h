// CUDA twins of core/ops_resample.h: nearest, bicubic (align_corners=False,
// A = -0.75, border clamp) and area (adaptive average pooling) resizing of
// nc = N*C planes, forward and backward. Device pointers, same arguments as
// the _cpu versions; backward twins accumulate (+=) into dx.
//
// The backward twins are gathers: one thread owns one dx element and adds
// every output gradient that read it, in the CPU's order of additions, so
// they need no atomics, give the same result on every run, and match the
// CPU (the index math is cuda/resample_index.h, checked against core by
// tests/unit/test_cuda_resample_index.c).
// Errors: SILT_ERR_ARG for sizes < 1 (nc may be 0) or NULL buffers.
#ifndef SILT_CUDA_OPS_RESAMPLE_H
#define SILT_CUDA_OPS_RESAMPLE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"

// x: (nc, h, w), out: (nc, ho, wo)
silt_status upsample_nearest_fwd_cuda(float *out, const float *x, int64_t nc, int64_t h, int64_t w, int64_t ho,
                                      int64_t wo);
silt_status upsample_nearest_bwd_cuda(float *dx, const float *dout, int64_t nc, int64_t h, int64_t w, int64_t ho,
                                      int64_t wo);
silt_status upsample_bicubic_fwd_cuda(float *out, const float *x, int64_t nc, int64_t h, int64_t w, int64_t ho,
                                      int64_t wo);
silt_status upsample_bicubic_bwd_cuda(float *dx, const float *dout, int64_t nc, int64_t h, int64_t w, int64_t ho,
                                      int64_t wo);
silt_status area_downsample_fwd_cuda(float *out, const float *x, int64_t nc, int64_t h, int64_t w, int64_t ho,
                                     int64_t wo);
silt_status area_downsample_bwd_cuda(float *dx, const float *dout, int64_t nc, int64_t h, int64_t w, int64_t ho,
                                     int64_t wo);

#ifdef __cplusplus
}
#endif

#endif
