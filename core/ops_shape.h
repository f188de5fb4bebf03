// Shape ops: concat, split, slice, permute/transpose. Every output is a new
// contiguous tensor (no strided views), so later ops can assume contiguity.
//
// Raw kernels view a tensor around one dim as (outer, dim, inner): outer is the
// product of the dims before it, inner of those after. Backward kernels
// ACCUMULATE (+=) into their d-buffers. Dims may be negative (-1 = last).
#ifndef SILT_OPS_SHAPE_H
#define SILT_OPS_SHAPE_H

#include <stdint.h>

#include "core/graph.h"

// --- raw kernels --------------------------------------------------------------

// out: (outer, sum(sizes), inner); xs[i]: (outer, sizes[i], inner).
void concat_fwd_cpu(float *out, const float *const *xs, const int64_t *sizes, int n, int64_t outer, int64_t inner);
// dxs[i] += the matching block of dout; a NULL dxs[i] is skipped.
void concat_bwd_cpu(float *const *dxs, const float *dout, const int64_t *sizes, int n, int64_t outer, int64_t inner);
// out: (outer, len, inner) = x[:, start:start+len, :] with x: (outer, dim, inner).
void slice_fwd_cpu(float *out, const float *x, int64_t outer, int64_t dim, int64_t inner, int64_t start, int64_t len);
// dx[:, start:start+len, :] += dout.
void slice_bwd_cpu(float *dx, const float *dout, int64_t outer, int64_t dim, int64_t inner, int64_t start, int64_t len);
// out[i_perm[0], ..., i_perm[ndim-1]] = x[i_0, ..., i_ndim-1]: out's dim k is
// x's dim perm[k] (torch.permute). x: xshape (ndim 1..4); perm: 0..ndim-1.
void permute_fwd_cpu(float *out, const float *x, int ndim, const int64_t *xshape, const int *perm);
// dx += dout permuted back. dx: xshape; dout: the permuted shape.
void permute_bwd_cpu(float *dx, const float *dout, int ndim, const int64_t *xshape, const int *perm);
// Zero padding of nc planes: out (nc, h+top+bottom, w+left+right) holds
// x (nc, h, w) at row offset top, column offset left, zeros elsewhere. The
// pads are >= 0 (F.pad with non-negative pads).
void pad2d_fwd_cpu(float *out, const float *x, int64_t nc, int64_t h, int64_t w, int64_t left, int64_t right,
                   int64_t top, int64_t bottom);
// dx (nc, h, w) += the matching window of dout (nc, h+top+bottom, w+left+right).
void pad2d_bwd_cpu(float *dx, const float *dout, int64_t nc, int64_t h, int64_t w, int64_t left, int64_t right,
                   int64_t top, int64_t bottom);

// --- graph ops ------------------------------------------------------------------

// Joins n >= 1 tensors along dim; all other dims must agree (SILT_ERR_SHAPE).
silt_tensor *silt_concat(silt_graph *g, silt_tensor **xs, int n, int dim);
// Splits x along dim into n pieces of sizes[0..n-1] (each >= 1, summing to
// x's size on dim), written to outs[0..n-1]. Returns SILT_OK, or the failure
// status (also set on the graph) with every outs[i] set to NULL. A NULL x
// returns the graph's status (or SILT_ERR_ARG when it is OK).
silt_status silt_split(silt_graph *g, silt_tensor *x, int dim, const int64_t *sizes, int n, silt_tensor **outs);
// x narrowed to [start, start+len) on dim (torch.narrow). start may be
// negative (counts from the end); len >= 1; the range must fit (SILT_ERR_ARG).
silt_tensor *silt_slice(silt_graph *g, silt_tensor *x, int dim, int64_t start, int64_t len);
// torch.permute, materialised contiguous. perm has x->ndim entries, each dim
// once; negative entries count from the end.
silt_tensor *silt_permute(silt_graph *g, silt_tensor *x, const int *perm);
// Swaps dims d0 and d1 (torch.transpose), materialised contiguous.
silt_tensor *silt_transpose(silt_graph *g, silt_tensor *x, int d0, int d1);
// Zero padding of the last two dims (F.pad(x, (left, right, top, bottom))),
// all >= 0. x: (N, C, H, W) -> (N, C, H+top+bottom, W+left+right).
silt_tensor *silt_pad2d(silt_graph *g, silt_tensor *x, int left, int right, int top, int bottom);

#endif
