// Softmax and scaled-dot-product attention, with SoftPAG head perturbation.
//
// Attention follows torch.nn.functional.scaled_dot_product_attention:
//   out = softmax(scale * q k^T + mask) v,  scale = 1/sqrt(D) by default,
// with two differences: a query row whose keys are all masked (-INFINITY)
// gives a zero output row instead of NaN, and an optional per-head mix with
// the identity attention map (SoftPAG; PAG, Ahn et al. 2024, sec. 3.2, is
// u = 1):
//   out_h = (1 - u_bh) * softmax(...)_h v_h + u_bh * v_h.
//
// Memory: the CPU kernels process queries in blocks of SILT_ATTN_BLOCK rows
// and hold only a (block x Tk) score tile per thread, never the (Tq x Tk) map
// (unless probs_out asks for it). The backward recomputes the tile from q, k
// and the saved log-sum-exp (FlashAttention, Dao et al. 2022, alg. 4).
// Threads: tiles run in parallel over OpenMP threads with a serial BLAS (or
// OpenBLAS's OpenMP build); with a multi-threaded pthreads OpenBLAS they run
// in sequence and only the sgemm calls are parallel (ops_attention.c says why).
#ifndef SILT_OPS_ATTENTION_H
#define SILT_OPS_ATTENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "core/graph.h"

// Query rows per tile.
#define SILT_ATTN_BLOCK 64

typedef struct silt_attn_opts {
    float scale;            // 0: 1/sqrt(D)
    const float *mask;      // additive (Tq, Tk) or NULL; -INFINITY allowed (a fully masked row gives 0, not NaN)
    bool causal;            // key j allowed for query i iff j <= i + (Tk - Tq) (bottom-right aligned)
    const float *head_u;    // SoftPAG strength per (batch row, head): (B, H), or NULL. Needs Tq == Tk.
    float *probs_out;       // if non-NULL: the attention probabilities (B, H, Tq, Tk), before the u-mix
    // silt_attention only: mask is already in the graph's memory (from
    // silt_graph_device_copy), so a cuda graph does not upload it per call.
    // A model whose layers share a mask copies it once per forward.
    bool mask_in_graph;
} silt_attn_opts;

// --- softmax over the last dim ----------------------------------------------------
// Numerically stable (max subtracted). A row that is entirely -INFINITY gives
// zeros (PyTorch gives NaN), matching the attention rule.
// x, out: (N, C)
void softmax_fwd_cpu(float *out, const float *x, int64_t N, int64_t C);
// dx += out * (dout - sum(dout * out)). dx, dout, out: (N, C)
void softmax_bwd_cpu(float *dx, const float *dout, const float *out, int64_t N, int64_t C);

// --- attention -------------------------------------------------------------------
// Floats of scratch the CPU kernels (forward and backward) need: one
// 2 x (block x Tk) tile per thread that runs tiles. Depends on
// omp_get_max_threads() and on the BLAS in use, so compute it on the thread
// that calls the kernel, with the same thread setting.
int64_t attention_scratch_floats(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D, int64_t Dv);

// q: (B, H, Tq, D), k: (B, H, Tk, D), v: (B, H, Tk, Dv), out: (B, H, Tq, Dv).
// lse: (B, H, Tq) log-sum-exp of each row's masked, scaled scores (-INFINITY
// for a fully masked row), saved for the backward; may be NULL.
// o may be NULL (all defaults). The caller checks head_u => Tq == Tk.
void attention_fwd_cpu(float *out, float *lse, float *scratch, const float *q, const float *k, const float *v,
                       int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D, int64_t Dv, const silt_attn_opts *o);

// Accumulates (+=) into dq (B,H,Tq,D), dk (B,H,Tk,D), dv (B,H,Tk,Dv); any may
// be NULL. dout: (B,H,Tq,Dv). lse from the forward (NULL: recomputed). out is
// not read by the CPU kernel (it recomputes what it needs; may be NULL); it is
// in the signature for twins that use the FlashAttention D_i = dout . out
// shortcut. o must be the options the forward ran with (probs_out is ignored).
void attention_bwd_cpu(float *dq, float *dk, float *dv, float *scratch, const float *dout, const float *q,
                       const float *k, const float *v, const float *out, const float *lse, int64_t B, int64_t H,
                       int64_t Tq, int64_t Tk, int64_t D, int64_t Dv, const silt_attn_opts *o);

// --- graph ops ---------------------------------------------------------------------
// Softmax over the last dim of x.
silt_tensor *silt_softmax(silt_graph *g, silt_tensor *x);

// q (B,H,Tq,D), k (B,H,Tk,D), v (B,H,Tk,Dv) -> (B,H,Tq,Dv). o may be NULL.
// The options are copied, but not the arrays they point at: mask and head_u
// must stay alive and unchanged until backward has run (or the graph is
// reset). No gradient flows to mask or head_u. probs_out is written in the
// forward only. Errors (SILT_ERR_SHAPE): ndim != 4, B/H/Tk/D disagreeing,
// head_u with Tq != Tk; (SILT_ERR_ARG): a non-finite scale.
silt_tensor *silt_attention(silt_graph *g, silt_tensor *q, silt_tensor *k, silt_tensor *v, const silt_attn_opts *o);

#endif
