// CUDA twins of the diffusion samplers' per-step update (sample/samplers.c,
// sampler_update_cpu) and of guidance's combination of the model's output
// rows (guidance/guidance.c, guide_combine), so that a sampling loop keeps its
// latents on the device and only the decoded image comes back.
//
// The update is elementwise: the host computes one sampler_update of scalar
// coefficients per step (in double, as the CPU path always has) and both
// twins apply it with the same fp32 operations in the same order. The device
// compiler may fuse a multiply and an add (FMA), so the twins agree to a few
// ulp, not bit for bit. Device pointers everywhere; the struct is host memory.
// SILT_ERR_ARG for a negative size or a NULL buffer the update needs;
// SILT_ERR_UNSUPPORTED without a usable GPU.
#ifndef SILT_CUDA_OPS_SAMPLE_H
#define SILT_CUDA_OPS_SAMPLE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"

// The denoised estimate x0 from the sample x and the model's output m:
// EPS_VP (x - c1 m) / c2; V_VP c2 x - c1 m; EPS_K x - c1 m; V_K m c2 + x / c3;
// FLOW x - c1 m.
enum { SAMPLER_X0_EPS_VP, SAMPLER_X0_V_VP, SAMPLER_X0_EPS_K, SAMPLER_X0_V_K, SAMPLER_X0_FLOW };

// Which update, with x0 as above (clamped to +-clip_range when clip is set)
// and z the step noise (NULL: none):
//   DDPM   x' = c0 x0 + cx x, + sd z; under learned the std is per element,
//          exp(0.5 (f max_log + (1 - f) min_log)), f = (variance channel + 1) / 2,
//          in double
//   DDIM   x' = c0 x0 + cdir eps, + sd z; eps = v_pred ? sa m + sb x : m
//   EULER  d = (x - x0) / sigma, x' = x + d dt, + z up (Euler ancestral)
//   DPM    x' = cx x - cd x0 (first order), or cx x - cd x0 - 0.5 cd (c1 (x0 - prev))
//          (second order); prev = x0 afterwards (prev: n values)
//   FLOW   x' = x + dt m
enum { SAMPLER_UPDATE_DDPM, SAMPLER_UPDATE_DDIM, SAMPLER_UPDATE_EULER, SAMPLER_UPDATE_DPM, SAMPLER_UPDATE_FLOW };

typedef struct sampler_update {
    int kind, x0_form;
    float x0_c1, x0_c2, x0_c3;
    int clip;
    float clip_range;
    int64_t n;    // values in the sample batch
    int64_t per;  // values in one sample
    // The model output is (B, 2C, H, W) (DiT's learned_range): element j's
    // m is at (j / per) * 2 per + j % per and its variance channel per after.
    int learned;
    float c0, cx, cdir, sa, sb, sd, sigma, dt, up, cd, c1;
    double min_log, max_log;
    int v_pred, first;
} sampler_update;

// x (n) in place; mo: the model output (n, or 2n under learned); z (n) or
// NULL; prev (n) for DPM, else unused.
silt_status sampler_update_cuda(const sampler_update *u, float *x, const float *mo, const float *z, float *prev);

// Guidance's combination (guide_combine): pred holds n_blocks blocks of batch
// rows of row values each; for image b, out (batch rows of out_row values) is
// e = eu + cfg (ec - eu) (ec alone when blk_uncond < 0), + scale (ec - ep) when
// blk_perturbed >= 0, over the first guided values of the row, and ec copied
// for the rest of out_row (out_row <= row; guided <= out_row).
// flow_pair_cpu's twin (sample/sample.h): xt, target (B * per), z (B * per)
// and sig (B) device pointers.
silt_status flow_pair_cuda(float *xt, float *target, const float *z, const float *sig, int64_t B, int64_t per,
                           double shift, double scale, uint64_t seed, uint64_t stream0);

silt_status guide_combine_fwd_cuda(float *out, const float *pred, int64_t batch, int64_t row, int64_t out_row,
                                   int64_t guided, int blk_cond, int blk_uncond, int blk_perturbed, float cfg,
                                   float scale);

#ifdef __cplusplus
}
#endif

#endif
