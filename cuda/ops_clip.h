// CUDA twins of world-CLIP's raw kernels (text/world_clip_ops.h): the
// symmetric InfoNCE with the clamped logit scale, forward and backward.
// Device pointers (logit_scale and dout too), same arguments and semantics as
// the _cpu versions; the backward ACCUMULATES. Fixed summation orders that
// depend only on B and M (no atomics), so results repeat bit for bit; the double
// sums differ from the CPU's sequential ones only in the last bits of a
// double, and CUDA's expf (the scale) is within 2 ulp of glibc's.
// SILT_ERR_ARG for B < 1, M < B or a NULL buffer the work needs;
// SILT_ERR_UNSUPPORTED without a usable GPU.
#ifndef SILT_CUDA_OPS_CLIP_H
#define SILT_CUDA_OPS_CLIP_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"

// sim (B, M) (M >= B: the last M - B columns are hard negatives), logit_scale
// (1) -> out (1), prow, pcol (B, M); terms: 2B device doubles of scratch. One
// block per row and one per own-caption column, then one block sums the 2B
// terms. SILT_ERR_ARG also for M < B.
silt_status wclip_infonce_fwd_cuda(float *out, float *prow, float *pcol, double *terms, const float *sim,
                                   const float *logit_scale, int64_t B, int64_t M);
// dsim (B, M) += ..., dls (1) += ... (either may be NULL): one thread per
// element of dsim, and one block for the logit scale's double sum.
silt_status wclip_infonce_bwd_cuda(float *dsim, float *dls, const float *dout, const float *sim, const float *prow,
                                   const float *pcol, const float *logit_scale, int64_t B, int64_t M);

#ifdef __cplusplus
}
#endif

#endif
