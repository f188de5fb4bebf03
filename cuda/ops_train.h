// CUDA twins for training: the backward of the matrix products and the
// optimiser-side kernels (AdamW update, gradient sum of squares, EMA).
// Included from cuda/cuda.h; device pointers; backward kernels ACCUMULATE.
#ifndef SILT_CUDA_OPS_TRAIN_H
#define SILT_CUDA_OPS_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"

// As matmul_bwd_cpu (core/ops_linear.h): da (batch,M,K or K,M), db (batch,K,N
// or N,K) += the grads of out = op(a) @ op(b); either may be NULL. cuBLAS with
// beta = 1, full fp32 unless TF32 is allowed (silt_cuda_set_allow_tf32).
silt_status matmul_bwd_cuda(float *da, float *db, const float *dout, const float *a, const float *b, int64_t batch,
                            int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b);
// As linear_bwd_cpu: dx (N,in_f), dw (out_f,in_f), dbias (out_f) += the grads
// of out = x @ w^T + bias; any may be NULL. dbias: a double sum per column in
// row order (deterministic).
silt_status linear_bwd_cuda(float *dx, float *dw, float *dbias, const float *dout, const float *x, const float *w,
                            int64_t N, int64_t in_f, int64_t out_f);

// One AdamW update of n elements, the arithmetic of silt_adamw_step
// (core/optim.c) operation for operation in fp32 with round-to-nearest
// intrinsics (no FMA contraction), so given the same inputs the result is the
// CPU's bit for bit:
//   p' = decay_on ? p * decay : p;  m = m + w1 (g - m);  v = v b2 + (w2 g) g
//   p  = p' - step_size * (m / (sqrt(v) / bc2_sqrt + eps))
silt_status adamw_step_cuda(float *p, float *m, float *v, const float *g, int64_t n, float step_size, float bc2_sqrt,
                            float decay, bool decay_on, float w1, float b2, float w2, float eps);

// Blocks of the first pass of sumsq_acc_cuda: `partials` holds this many doubles.
enum { SILT_SUMSQ_PARTIALS = 256 };
// *acc (one device double) += sum of x[i]^2 over n, in double. Two passes
// with a fixed shape (SILT_SUMSQ_PARTIALS blocks, then one block), so the sum
// is the same on every run. partials: SILT_SUMSQ_PARTIALS device doubles.
silt_status sumsq_acc_cuda(double *acc, double *partials, const float *x, int64_t n);

// ema += w * (p - ema) over n (silt_train_ema_update with w = 1 - decay, as a float).
silt_status ema_update_cuda(float *ema, const float *p, int64_t n, float w);

// Multi-tensor launches: one kernel over all the tensors of a step (a model's
// ~200 parameters) instead of one launch each (~1000 launches per training
// step before). The per-element arithmetic is the single-tensor kernels',
// so the results are theirs bit for bit. The list lives in device memory
// and is uploaded again only when its entries change.
typedef struct silt_multi_entry {
    float *a, *b, *c;  // meaning per op below
    const float *d;
    int64_t n;
    int flag;
} silt_multi_entry;
typedef struct silt_multi_list silt_multi_list;
// Makes *l (created on the first call) hold these count entries.
silt_status silt_multi_list_set(silt_multi_list **l, const silt_multi_entry *e, int count);
void silt_multi_list_free(silt_multi_list *l);  // NULL-safe
// adamw_step_cuda on every entry: a = p, b = m, c = v, d = g, flag = decay_on.
silt_status adamw_multi_cuda(const silt_multi_list *l, float step_size, float bc2_sqrt, float decay, float w1,
                             float b2, float w2, float eps);
// ema_update_cuda on every entry: a = ema, d = p.
silt_status ema_multi_cuda(const silt_multi_list *l, float w);
// a[0..n) = 0 on every entry.
silt_status zero_multi_cuda(const silt_multi_list *l);

#ifdef __cplusplus
}
#endif

#endif
