// Elementwise ops: activations, scalar ops and broadcasting binary arithmetic.
//
// Raw kernels work on contiguous f32 buffers (outputs first, sizes last);
// backward kernels ACCUMULATE (+=) into their d-buffers. The tensor-level ops
// allocate from the graph's arena and record a backward node when needed (see
// core/graph.h for the error and NULL-chaining conventions).
#ifndef SILT_OPS_ELEMENTWISE_H
#define SILT_OPS_ELEMENTWISE_H

#include <stdint.h>

#include "core/graph.h"

// --- raw kernels --------------------------------------------------------------

// GELU. approximate 0: x * Phi(x) with the erf (exact) form; 1: the tanh
// approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as PyTorch's
// F.gelu(approximate='tanh').     out, x, dx, dout: (n)
void gelu_fwd_cpu(float *out, const float *x, int64_t n, int approximate);
void gelu_bwd_cpu(float *dx, const float *dout, const float *x, int64_t n, int approximate);
// SiLU (swish): x * sigmoid(x).  out, x, dx, dout: (n)
void silu_fwd_cpu(float *out, const float *x, int64_t n);
void silu_bwd_cpu(float *dx, const float *dout, const float *x, int64_t n);
// tanh and sigmoid; their backward kernels take the forward OUTPUT y. (n)
void tanh_fwd_cpu(float *out, const float *x, int64_t n);
void tanh_bwd_cpu(float *dx, const float *dout, const float *y, int64_t n);
void sigmoid_fwd_cpu(float *out, const float *x, int64_t n);
void sigmoid_bwd_cpu(float *dx, const float *dout, const float *y, int64_t n);
// out = x * s; out = x + s.  (n). Backward of scale: dx += s * dout.
void scale_fwd_cpu(float *out, const float *x, float s, int64_t n);
void scale_bwd_cpu(float *dx, const float *dout, float s, int64_t n);
void add_scalar_fwd_cpu(float *out, const float *x, float s, int64_t n);
// out = a + b, all (n): the same-shape fast path of silt_add.
void add_fwd_cpu(float *out, const float *a, const float *b, int64_t n);
// torch.clamp: out = min(max(x, lo), hi) with NaN passed through; the
// backward adds dout where lo <= x <= hi (PyTorch's clamp_backward; NaN gets
// none).  out, x, dx, dout: (n); lo <= hi.
void clamp_fwd_cpu(float *out, const float *x, int64_t n, float lo, float hi);
void clamp_bwd_cpu(float *dx, const float *dout, const float *x, int64_t n, float lo, float hi);

typedef enum silt_binop { SILT_BINOP_ADD = 0, SILT_BINOP_SUB, SILT_BINOP_MUL, SILT_BINOP_DIV, SILT_BINOP_COUNT } silt_binop;
const char *silt_binop_name(silt_binop op);  // "add", "sub", "mul", "div"
silt_status silt_binop_from_name(const char *name, silt_binop *out);

// Broadcasting binary op over 4-D index space. out: (shape[0..3]), contiguous.
// a and b are read at sum_d idx[d] * astride[d] (resp. bstride): a stride is
// the input's contiguous element stride, and 0 exactly on the dims where that
// input has size 1 (broadcast). Lower-rank tensors are padded with leading 1s.
void binary_fwd_cpu(float *out, const float *a, const float *b, const int64_t shape[4], const int64_t astride[4],
                    const int64_t bstride[4], silt_binop op);
// Accumulates d(out)/d(a) and d(out)/d(b) into da and db (either may be NULL),
// summing over each input's broadcast dims. da: a's numel, db: b's numel.
void binary_bwd_cpu(float *da, float *db, const float *dout, const float *a, const float *b, const int64_t shape[4],
                    const int64_t astride[4], const int64_t bstride[4], silt_binop op);

// --- graph ops ------------------------------------------------------------------

silt_tensor *silt_gelu(silt_graph *g, silt_tensor *x, int approximate);
silt_tensor *silt_silu(silt_graph *g, silt_tensor *x);
silt_tensor *silt_tanh(silt_graph *g, silt_tensor *x);
silt_tensor *silt_sigmoid(silt_graph *g, silt_tensor *x);
silt_tensor *silt_scale(silt_graph *g, silt_tensor *x, float s);       // x * s
silt_tensor *silt_add_scalar(silt_graph *g, silt_tensor *x, float s);  // x + s

// numpy/PyTorch broadcasting: trailing dims are aligned, a dim of 1 broadcasts
// against any size, the result has max(ndim) dims (at most 4). Incompatible
// shapes fail with SILT_ERR_SHAPE. Backward sums the grad over broadcast dims.
silt_tensor *silt_add(silt_graph *g, silt_tensor *a, silt_tensor *b);
silt_tensor *silt_sub(silt_graph *g, silt_tensor *a, silt_tensor *b);
silt_tensor *silt_mul(silt_graph *g, silt_tensor *a, silt_tensor *b);
silt_tensor *silt_div(silt_graph *g, silt_tensor *a, silt_tensor *b);
silt_tensor *silt_binary(silt_graph *g, silt_tensor *a, silt_tensor *b, silt_binop op);

// torch.clamp(x, lo, hi); the gradient passes where lo <= x <= hi (as
// PyTorch's clamp_backward).
silt_tensor *silt_clamp(silt_graph *g, silt_tensor *x, float lo, float hi);

// In-place variants for inference. h is overwritten only when no backward
// node can read it (nothing on the tape needs its grad) and it is a CPU
// activation; otherwise they fall back to silt_silu / silt_add. They halve the
// arena high water of conv nets (VAE and VQ-VAE decoders).
silt_tensor *silt_silu_inplace(silt_graph *g, silt_tensor *h);
// residual + h, written into h when allowed (h must be a fresh activation only
// the caller holds).
silt_tensor *silt_add_inplace(silt_graph *g, silt_tensor *residual, silt_tensor *h);

#endif
