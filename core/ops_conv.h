// 2-D convolution (NCHW, PyTorch nn.Conv2d semantics with dilation 1, groups 1).
//
// CPU path: im2col into a caller-provided scratch buffer, then sgemm
// (core/blas.h), per image and per band of output rows so the scratch stays
// bounded; a 1x1 kernel with stride 1 and no padding is already a GEMM over
// the input and needs no scratch. Output size follows PyTorch:
//   Ho = (H + 2 ph - kh) / sh + 1,  Wo = (W + 2 pw - kw) / sw + 1  (floor).
#ifndef SILT_OPS_CONV_H
#define SILT_OPS_CONV_H

#include <stdint.h>

#include "core/graph.h"

// Output height/width (PyTorch formula above); <= 0 when the kernel does not fit.
int64_t conv2d_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad);

// Floats of scratch conv2d_fwd_cpu / conv2d_bwd_cpu need: the im2col columns
// of one band of output rows, (Cin*kh*kw, rows*Wo), where the band is the
// whole image when that fits 2^21 floats (8 MiB) and otherwise as many rows
// as fit (at least one). 0 for 1x1 stride-1 pad-0 (direct GEMM).
int64_t conv2d_scratch_floats(int64_t Cin, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                              int64_t ph, int64_t pw);

// out: (N, Cout, Ho, Wo) = conv(x, w) + bias
// x: (N, Cin, H, W); w: (Cout, Cin, kh, kw); bias: (Cout) or NULL; stride sh/sw >= 1; zero padding ph/pw >= 0
// scratch: conv2d_scratch_floats(...) floats (may be NULL when that is 0)
void conv2d_fwd_cpu(float *out, float *scratch, const float *x, const float *w, const float *bias, int64_t N,
                    int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                    int64_t ph, int64_t pw);
// dx: (N, Cin, H, W), dw: (Cout, Cin, kh, kw), dbias: (Cout) += gradients of sum(out * dout);
// dout: (N, Cout, Ho, Wo). Any d-pointer may be NULL. Same scratch as the forward.
void conv2d_bwd_cpu(float *dx, float *dw, float *dbias, float *scratch, const float *dout, const float *x,
                    const float *w, int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw,
                    int64_t sh, int64_t sw, int64_t ph, int64_t pw);

// x: (N, Cin, H, W); w: (Cout, Cin, kh, kw); bias: (Cout) or NULL -> (N, Cout, Ho, Wo).
// The im2col scratch comes from the graph's arena. stride >= 1 and padding >= 0
// (else SILT_ERR_ARG); mismatched shapes or a kernel larger than the padded
// input give SILT_ERR_SHAPE.
silt_tensor *silt_conv2d(silt_graph *g, silt_tensor *x, silt_tensor *w, silt_tensor *bias, int stride, int padding);
silt_tensor *silt_conv2d_ex(silt_graph *g, silt_tensor *x, silt_tensor *w, silt_tensor *bias, int stride_h,
                            int stride_w, int pad_h, int pad_w);

#endif
