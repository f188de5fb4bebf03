// Reductions (sum, mean; over everything or one dim) and the MSE loss.
// Sums accumulate in double, in a fixed order that does not depend on the
// thread count, so results are reproducible run to run.
//
// Raw kernels: outputs first, sizes last; a dim reduction views x as
// (outer, dim, inner) and writes (outer, inner). Backward kernels ACCUMULATE.
#ifndef SILT_OPS_REDUCE_H
#define SILT_OPS_REDUCE_H

#include <stdint.h>

#include "core/graph.h"

// out[0] = sum(x) or mean(x).  x: (n), out: (1)
void sum_fwd_cpu(float *out, const float *x, int64_t n);
void mean_fwd_cpu(float *out, const float *x, int64_t n);
// dx[i] += dout[0] * scale (scale 1 for sum, 1/n for mean).  dx: (n), dout: (1)
void sum_bwd_cpu(float *dx, const float *dout, int64_t n, float scale);
// out[o, i] = sum_d x[o, d, i] (or the mean).  x: (outer, dim, inner), out: (outer, inner)
void sum_dim_fwd_cpu(float *out, const float *x, int64_t outer, int64_t dim, int64_t inner);
void mean_dim_fwd_cpu(float *out, const float *x, int64_t outer, int64_t dim, int64_t inner);
// dx[o, d, i] += dout[o, i] * scale (scale 1 for sum, 1/dim for mean).
void sum_dim_bwd_cpu(float *dx, const float *dout, int64_t outer, int64_t dim, int64_t inner, float scale);
// out[0] = mean((a - b)^2).  a, b: (n), out: (1)
void mse_loss_fwd_cpu(float *out, const float *a, const float *b, int64_t n);
// da += 2 (a - b) dout[0] / n, db -= the same; either may be NULL.
void mse_loss_bwd_cpu(float *da, float *db, const float *dout, const float *a, const float *b, int64_t n);

// Sum / mean of all elements: shape (1).
silt_tensor *silt_sum(silt_graph *g, silt_tensor *x);
silt_tensor *silt_mean(silt_graph *g, silt_tensor *x);
// Over one dim (negative counts from the end). keepdim keeps it as size 1;
// otherwise it is removed, and a 1-D input gives shape (1) (no 0-dim tensors).
silt_tensor *silt_sum_dim(silt_graph *g, silt_tensor *x, int dim, bool keepdim);
silt_tensor *silt_mean_dim(silt_graph *g, silt_tensor *x, int dim, bool keepdim);
// mean((a - b)^2) over all elements, shape (1); a and b must have the same
// shape (SILT_ERR_SHAPE; no broadcasting). Grads flow to both.
silt_tensor *silt_mse_loss(silt_graph *g, silt_tensor *a, silt_tensor *b);

#endif
