// CUDA twins of scaled-dot-product attention (core/ops_attention.h), with the
// CPU's silt_attn_opts semantics: scale (0: 1/sqrt(D)), an additive (Tq, Tk)
// mask shared by every (batch, head), causal masking aligned bottom-right
// (key j visible to query i iff j <= i + Tk - Tq), the SoftPAG mix
// out_h = (1 - u) Attn_h + u V_h (needs Tq == Tk), a fully masked row giving
// a zero attention output, and the log-sum-exp saved for the backward.
//
// Pointers: every buffer, including opts->mask, opts->head_u and
// opts->probs_out, is device memory; the opts struct itself is host memory.
//
// Method (FlashAttention-2, Dao 2023): keys are visited in tiles of 32 with
// an online softmax in fp32, so no (Tq x Tk) matrix is ever stored (except
// probs_out, when asked for). The backward recomputes the probabilities from
// q, k and lse tile by tile; dk/dv are owned by one block per key tile and dq
// by one block per query tile, so there are no atomics and every run gives
// the same bits. Head dims up to 128 run in one pass; larger ones split the
// output columns over blocks that each recompute the scores (slower, same
// result). Shared memory bounds the head dims (on Hopper's 227 KiB: D up to
// about 1,680 and D + Dv up to about 1,800); beyond that the twins return
// SILT_ERR_UNSUPPORTED.
#ifndef SILT_CUDA_OPS_ATTENTION_H
#define SILT_CUDA_OPS_ATTENTION_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/ops_attention.h"
#include "core/status.h"

// Floats of device scratch attention_bwd_cuda needs (the forward needs none
// and takes scratch = NULL): B*H*Tq for D_i = rowsum(dout * attention
// output), plus B*H*Tq*(Dv + 1) to recompute the output and lse when the
// caller passes out == NULL or lse == NULL. This is the larger figure; with
// both passed only the first B*H*Tq floats are touched.
static inline int64_t attention_scratch_floats_cuda(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D,
                                                    int64_t Dv) {
    (void)Tk;
    (void)D;
    return B * H * Tq * (Dv + 2);
}

// q: (B,H,Tq,D), k: (B,H,Tk,D), v: (B,H,Tk,Dv), out: (B,H,Tq,Dv), lse:
// (B,H,Tq) or NULL. scratch is unused (may be NULL). o may be NULL.
// Errors: SILT_ERR_ARG (negative sizes, D < 1, NULL buffers, a non-finite
// scale), SILT_ERR_SHAPE (head_u with Tq != Tk), SILT_ERR_UNSUPPORTED (no GPU,
// head dims too large).
silt_status attention_fwd_cuda(float *out, float *lse, float *scratch, const float *q, const float *k, const float *v,
                               int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D, int64_t Dv,
                               const silt_attn_opts *o);

// --- bf16 tensor-core forward (cuda/ops_attention_mma.cu) ---------------------
// The same forward with bf16 operands on the tensor cores (mma.sync m16n8k16,
// fp32 accumulation, fp32 online softmax; inputs and outputs stay fp32 in
// memory and are rounded to bf16 as tiles are loaded): ~1e-3 relative error
// (tests allow 1e-2), against the fp32 kernel's ~1e-6. Handles causal and
// SoftPAG head_u exactly as above, and writes lse when it is non-NULL.
// Needs (attention_bf16_eligible_cuda): D == Dv, D a multiple of 4 up to 128
// (the head dim is zero-padded to the next multiple of 16 in shared memory,
// e.g. DiT-XL/2's 72 runs as 80), no mask, no probs_out, q/k/v 16-byte and out
// 8-byte aligned; else SILT_ERR_UNSUPPORTED. Other errors as attention_fwd_cuda.
silt_status attention_fwd_cuda_bf16(float *out, float *lse, float *scratch, const float *q, const float *k,
                                    const float *v, int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D,
                                    int64_t Dv, const silt_attn_opts *o);
// Whether attention_fwd_cuda_bf16 accepts these buffers and options (no
// error recorded; false in a build without CUDA).
bool attention_bf16_eligible_cuda(const float *out, const float *q, const float *k, const float *v, int64_t D,
                                  int64_t Dv, const silt_attn_opts *o);
// Process-wide switch, off by default: when on, attention_fwd_cuda (and so
// silt_attention on a cuda graph) runs every eligible call on
// attention_fwd_cuda_bf16; everything else (masks, probs_out, D != Dv, large
// or odd head dims, the backward and its recomputed forward) keeps the fp32
// kernel. Separate from silt_cuda_set_allow_tf32 (bf16 is ~10x coarser than
// TF32), so fp32 twin tests keep 1e-4 unless they turn it on. Returns the
// previous setting.
bool silt_cuda_set_attention_bf16(bool allow);
bool silt_cuda_attention_bf16(void);  // the current setting
// Which kernel attention_fwd_cuda_bf16 runs (same contract, same results to
// rounding): 1, the one above (64 query rows per block of 4 warps, K/V tiles
// converted from fp32 as they are loaded, no load/compute overlap); 2, a
// pipelined one (a pre-pass converts K and V once to bf16, V transposed, into
// a device workspace that grows as needed and is kept for the process; 128
// query rows per block of 8 warps; K/V tiles copied by cp.async into two
// shared-memory stages, the next tile in flight while one is used). Default
// 2: on an H200 (2026-11-28) it matched the CPU twin in every case of
// test_cuda_attention_mma and ran 1.3-2.5x faster than 1 (bench_gpu_ops).
// Returns the previous setting; values other than 1 and 2 change nothing.
int silt_cuda_set_attention_mma_variant(int variant);

// DiT's attention straight from its qkv linear's output, inference only:
// qkv (B, T, 3*H*Dh) in timm's channel order ([q | k | v], each head-major,
// as dit_split_qkv), out (B, T, H*Dh) as bf16 (round to nearest even), the
// heads put back together, which is the proj linear's input. The same kernel
// and the same arithmetic as attention_fwd_cuda_bf16 (scale 1/sqrt(Dh), no
// mask, not causal; head_u: SoftPAG's per-(b, h) strength in device memory,
// or NULL), reading q, k and v in place: no split pass before it and no merge
// pass after it. It gives the bits of split + attention_fwd_cuda_bf16 +
// dit_merge_heads_bf16_fwd_cuda. Errors: SILT_ERR_ARG (negative sizes, H or
// Dh < 1, NULL buffers), SILT_ERR_UNSUPPORTED (no GPU of compute capability
// 8.0+, Dh not a multiple of 4 up to 128, qkv not 16-byte or out not 4-byte
// aligned).
silt_status attention_qkv_fwd_cuda_bf16(uint16_t *out, const float *qkv, int64_t B, int64_t T, int64_t H,
                                        int64_t Dh, const float *head_u);
// Whether attention_qkv_fwd_cuda_bf16 runs for head dim Dh on this machine
// (false in a build without CUDA).
bool attention_qkv_bf16_eligible_cuda(int64_t Dh);

// Accumulates (+=) into dq (B,H,Tq,D), dk (B,H,Tk,D), dv (B,H,Tk,Dv); any may
// be NULL. out and lse from the forward may be NULL (then they are recomputed
// into scratch). scratch: attention_scratch_floats_cuda(...) floats of device
// memory. o: the forward's options (probs_out is ignored).
silt_status attention_bwd_cuda(float *dq, float *dk, float *dv, float *scratch, const float *dout, const float *q,
                               const float *k, const float *v, const float *out, const float *lse, int64_t B,
                               int64_t H, int64_t Tq, int64_t Tk, int64_t D, int64_t Dv, const silt_attn_opts *o);

#ifdef __cplusplus
}
#endif

#endif
