// DiT-specific graph ops (private to dit/): the fused q/k/v split into heads,
// and the pieces of the attention perturbations that the attention op itself
// does not cover (uniform and SEG targets mixed per head, the SEG query blur).
// Raw kernels over float buffers, outputs first, shapes in the comments;
// backward kernels accumulate (+=). Graph ops record a backward node when an
// input needs a gradient.
#ifndef SILT_DIT_OPS_H
#define SILT_DIT_OPS_H

#include <stdint.h>

#include "core/graph.h"

// --- q/k/v split ---------------------------------------------------------------
// qkv: (B, T, 3*H*Dh), channels [q | k | v], each head-major (h*Dh + d), as
// timm Attention's reshape(B, T, 3, H, Dh). q, k, v: (B, H, T, Dh).
void dit_split_qkv_fwd_cpu(float *q, float *k, float *v, const float *qkv, int64_t B, int64_t T, int64_t H,
                           int64_t Dh);
void dit_split_qkv_bwd_cpu(float *dqkv, const float *dq, const float *dk, const float *dv, int64_t B, int64_t T,
                           int64_t H, int64_t Dh);
// Graph op: outs[0..2] = q, k, v. Returns the graph status (outs NULL on failure).
silt_status dit_split_qkv(silt_graph *g, silt_tensor *qkv, int heads, silt_tensor **outs);

// Inference on a CUDA graph with bf16 weights: a (B, H, T, Dh) -> (B, T, H*Dh)
// as bf16, the proj linear's input (dit_merge_heads_bf16_fwd_cuda). No
// gradient; a CPU graph fails (SILT_ERR_UNSUPPORTED).
silt_tensor *dit_merge_heads_bf16(silt_graph *g, silt_tensor *a);

// Inference on a CUDA graph: qkv (B, T, 3*heads*Dh), the qkv linear's output
// -> (B, T, heads*Dh) as bf16, the proj linear's input: dit_split_qkv, the
// bf16 tensor-core attention (scale 1/sqrt(Dh), no mask) and
// dit_merge_heads_bf16 in one kernel that reads q, k and v in place
// (attention_qkv_fwd_cuda_bf16: the same bits as those three). head_u: the
// (B*heads) SoftPAG strengths in host memory, or NULL. No gradient; a CPU
// graph fails (SILT_ERR_UNSUPPORTED).
silt_tensor *dit_attention_qkv_bf16(silt_graph *g, silt_tensor *qkv, int heads, const float *head_u);
// Whether a block should take dit_attention_qkv_bf16 for head dim Dh: a CUDA
// graph with the bf16 attention switch on (silt_cuda_set_attention_bf16) and
// a GPU and head dim the kernel runs (attention_qkv_bf16_eligible_cuda).
bool dit_attention_qkv_bf16_takes(const silt_graph *g, int64_t Dh);

// --- per-head mix with a perturbation target -----------------------------------
// out = a, except rows r in [rb, rb+R): out[r,h] = (1-u[h]) a[r,h] + u[h] tgt[r-rb,h]
// (tgt broadcast over tokens when Tt == 1).
// a, out: (B, H, T, Dv); tgt: (R, H, Tt, Dv), Tt = T or 1; u: (H).
void dit_head_mix_fwd_cpu(float *out, const float *a, const float *tgt, const float *u, int64_t B, int64_t H,
                          int64_t T, int64_t Dv, int64_t rb, int64_t R, int64_t Tt);
void dit_head_mix_bwd_cpu(float *da, float *dtgt, const float *dout, const float *u, int64_t B, int64_t H, int64_t T,
                          int64_t Dv, int64_t rb, int64_t R, int64_t Tt);
// u (H) is copied into the arena. No gradient flows to u.
silt_tensor *dit_head_mix(silt_graph *g, silt_tensor *a, silt_tensor *tgt, int64_t row_begin, const float *u);

// --- SEG query blur (Hong 2024; SEG-SDXL pipeline_seg.py gaussian_blur_2d) ----------
// The 1-D kernel for a grid side n: k = ceil(6 sigma) + 1 - (ceil(6 sigma) mod 2),
// clipped to n + 1 (n even) or n (n odd); w over x = -(k-1)/2 .. (k-1)/2,
// w ~ exp(-x^2 / (2 sigma^2)), normalised. Returns k (<= cap) and writes w.
int dit_seg_kernel(float *w, int cap, double sigma, int n);
// True when sigma means "infinite blur" (the mean query), as SEG's
// inf_blur_threshold: sigma > 9999.
int dit_seg_is_infinite(double sigma);
// For each (r, h) with sel[h] != 0, out[r,h] = blur of x[r,h] over the
// (gh x gw) token grid (token n = i*gw + j), reflect padding, separable:
// first along j with wj (kj taps), then along i with wi (ki taps); or the mean
// over tokens when wj == NULL. Heads with sel[h] == 0 are copied.
// x, out, tmp (scratch): (R, H, gh*gw, D); sel: (H).
void dit_seg_blur_fwd_cpu(float *out, float *tmp, const float *x, const float *sel, int64_t R, int64_t H, int gh,
                          int gw, int64_t D, const float *wi, int ki, const float *wj, int kj);
// The adjoint: dx += B^T dout.
void dit_seg_blur_bwd_cpu(float *dx, float *tmp, const float *dout, const float *sel, int64_t R, int64_t H, int gh,
                          int gw, int64_t D, const float *wi, int ki, const float *wj, int kj);
// x: (R, H, gh*gw, D); sel (H): heads to blur (copied into the arena). sigma > 0.
silt_tensor *dit_seg_blur(silt_graph *g, silt_tensor *x, int gh, int gw, double sigma, const float *sel);

#endif
