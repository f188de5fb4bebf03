// CUDA twins of the DiT-specific raw kernels (dit/dit_ops.h) and the token
// layout kernels behind dit_patchify / dit_unpatchify (dit/embed.h), for the
// device path of those graph ops. Device pointers everywhere (u, sel and the
// blur taps too); same shapes and semantics as the _cpu kernels. Forward
// only. Every output element is written by exactly one thread (no atomics).
// SILT_ERR_ARG for negative sizes or NULL buffers with work to do;
// SILT_ERR_UNSUPPORTED without a usable GPU.
#ifndef SILT_CUDA_OPS_DIT_H
#define SILT_CUDA_OPS_DIT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"

// qkv: (B, T, 3*H*Dh), channels [q | k | v] head-major -> q, k, v: (B, H, T, Dh).
silt_status dit_split_qkv_fwd_cuda(float *q, float *k, float *v, const float *qkv, int64_t B, int64_t T, int64_t H,
                                   int64_t Dh);
// Inference with bf16 weights: the attention output a (B, H, T, Dh) with its
// heads put back together and rounded to bf16, out (B, T, H*Dh) bits: the
// proj linear's input in one pass (instead of a transpose, then a rounding).
silt_status dit_merge_heads_bf16_fwd_cuda(uint16_t *out, const float *a, int64_t B, int64_t H, int64_t T, int64_t Dh);
// out = a, except rows r in [rb, rb+R): out[r,h] = (1-u[h]) a[r,h] + u[h] tgt[r-rb,h]
// (tgt broadcast over tokens when Tt == 1). a, out: (B, H, T, Dv); tgt: (R, H, Tt, Dv); u: (H).
silt_status dit_head_mix_fwd_cuda(float *out, const float *a, const float *tgt, const float *u, int64_t B, int64_t H,
                                  int64_t T, int64_t Dv, int64_t rb, int64_t R, int64_t Tt);
// SEG query blur, as dit_seg_blur_fwd_cpu: x, out, tmp: (R, H, gh*gw, D);
// sel: (H); wi (ki taps), wj (kj taps), or wj == NULL for the mean query.
silt_status dit_seg_blur_fwd_cuda(float *out, float *tmp, const float *x, const float *sel, int64_t R, int64_t H,
                                  int gh, int gw, int64_t D, const float *wi, int ki, const float *wj, int kj);
// Patch extraction for a stride-p, p x p conv written as a matrix product:
// patches (B, h*w, C*p*p), token n = i*w + j, column (c*p + pi)*p + pj (the
// flattened (D, C, p, p) conv weight's order); x: (B, C, h*p, w*p).
silt_status dit_patch_gather_fwd_cuda(float *patches, const float *x, int64_t B, int64_t C, int64_t h, int64_t w,
                                      int64_t p);
// dit_unpatchify: x (B, h*w, p*p*C), channels (pi, pj, c) -> out (B, C, h*p, w*p).
silt_status dit_unpatchify_fwd_cuda(float *out, const float *x, int64_t B, int64_t h, int64_t w, int64_t p,
                                    int64_t C);

#ifdef __cplusplus
}
#endif

#endif
