// Matrix-product ops: linear (nn.Linear), batched matmul, embedding lookup.
//
// Raw kernels work on contiguous row-major f32 buffers; every product goes
// through silt_sgemm (core/blas.h). Backward kernels accumulate (+=) into
// their d-buffers and skip any d-pointer that is NULL. The tensor-level ops
// (silt_linear, ...) follow core/graph.h: NULL in -> NULL out, errors are
// sticky on the graph, and a backward node is recorded when an input needs
// a gradient.
#ifndef SILT_OPS_LINEAR_H
#define SILT_OPS_LINEAR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/graph.h"

// --- raw kernels -------------------------------------------------------------------

// out: (N, out_f) = x (N, in_f) @ w^T + bias
// w: (out_f, in_f) (PyTorch nn.Linear layout); bias: (out_f) or NULL
void linear_fwd_cpu(float *out, const float *x, const float *w, const float *bias, int64_t N, int64_t in_f,
                    int64_t out_f);
// dx: (N, in_f) += dout @ w;  dw: (out_f, in_f) += dout^T @ x;  dbias: (out_f) += sum_N dout
// dout: (N, out_f). Any of dx, dw, dbias may be NULL.
void linear_bwd_cpu(float *dx, float *dw, float *dbias, const float *dout, const float *x, const float *w, int64_t N,
                    int64_t in_f, int64_t out_f);

// out: (batch, M, N) = op(a) @ op(b)
// a: (batch, M, K), or (batch, K, M) when trans_a; b: (batch, K, N), or (batch, N, K) when trans_b
void matmul_fwd_cpu(float *out, const float *a, const float *b, int64_t batch, int64_t M, int64_t N, int64_t K,
                    bool trans_a, bool trans_b);
// da, db: shaped like a, b (as stored); += the gradient of sum(out * dout). Either may be NULL.
void matmul_bwd_cpu(float *da, float *db, const float *dout, const float *a, const float *b, int64_t batch, int64_t M,
                    int64_t N, int64_t K, bool trans_a, bool trans_b);

// out: (N, D) = table[ids[i]];  ids: (N), each 0 <= id < V (checked by silt_embedding); table: (V, D)
void embedding_fwd_cpu(float *out, const int32_t *ids, const float *table, int64_t N, int64_t V, int64_t D);
// dtable: (V, D) += scatter of dout (N, D) by ids (repeated ids add up)
void embedding_bwd_cpu(float *dtable, const float *dout, const int32_t *ids, int64_t N, int64_t V, int64_t D);

// --- graph ops ---------------------------------------------------------------------

// x: (..., in_f), rank 1..4; w: (out_f, in_f); bias: (out_f) or NULL -> (..., out_f)
// On a CUDA graph w may be bf16 (silt_tensor_cuda_to_bf16; inference only):
// then x is f32 (rounded to bf16 on the way in) or already bf16 (written by
// silt_ln_modulate_bf16 / silt_linear_gelu_bf16); fp32 accumulation, f32 output.
silt_tensor *silt_linear(silt_graph *g, silt_tensor *x, silt_tensor *w, silt_tensor *bias);
// Whether silt_linear(g, x, w, ...) takes a bf16 x: w is a bf16 weight on
// the CUDA graph g. Model code asks this to pick the bf16-writing fused op
// for w's input. False when the bf16 activations are switched off (fp32
// activations, rounded inside silt_linear): silt_set_bf16_activations, or
// SILT_BF16_ACTS=0 in the environment (read once).
bool silt_linear_takes_bf16(const silt_graph *g, const silt_tensor *w);
// Process-wide, default on: a bench times both paths in one run. Returns the
// previous setting.
bool silt_set_bf16_activations(bool on);
// Inference on a CUDA graph: silt_gelu(silt_linear(g, x, w, bias), 1) written
// as bf16 (the input of the MLP's second linear), in one cuBLASLt call when it
// can (linear_gelu_fwd_cuda_bf16). x: bf16 (silt_ln_modulate_bf16's output),
// w: a bf16 weight (silt_linear_takes_bf16). No gradient; a CPU graph fails
// (SILT_ERR_UNSUPPORTED).
silt_tensor *silt_linear_gelu_bf16(silt_graph *g, silt_tensor *x, silt_tensor *w, silt_tensor *bias);
// a, b: both 2-D, or both 3-D/4-D with equal leading (batch) dims.
// a: (..., M, K) or (..., K, M) when trans_a; b: (..., K, N) or (..., N, K) when trans_b -> (..., M, N)
silt_tensor *silt_matmul(silt_graph *g, silt_tensor *a, silt_tensor *b, bool trans_a, bool trans_b);
// ids: SILT_I32, any shape of rank 1..3; table: (V, D) -> ids.shape + (D).
// An id outside [0, V) fails with SILT_ERR_ARG naming the id and V.
silt_tensor *silt_embedding(silt_graph *g, silt_tensor *ids, silt_tensor *table);

#endif
