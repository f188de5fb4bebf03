// CUDA twins of conv2d (core/ops_conv.h): NCHW fp32 through cuDNN's
// convolution API (forward, backward data, backward filter) with
// deterministic algorithms only, plus small kernels for the bias (forward
// broadcast add, backward deterministic double reduction).
//
// cuDNN is optional twice over. At build time CMake looks for cudnn.h
// (SILT_CUDNN=OFF skips it); without it these twins are compiled as stubs.
// At run time libcudnn.so.9 is loaded with dlopen on first use, so a binary
// built with cuDNN still starts on a machine without it (as with the CUDA
// driver, cuda/runtime.cu). In both cases the twins return
// SILT_ERR_UNSUPPORTED naming the reason, and silt_cuda_have_cudnn() says so
// up front.
//
// Precision: fp32 without TF32 (cuDNN's FMA math mode), so the twins match
// the CPU to ~1e-6; silt_cuda_set_allow_tf32(true) lets cuDNN use TF32 too.
//
// Workspace: cuDNN wants device scratch whose size depends on the shape and
// the algorithm. Pass scratch = NULL to use a workspace the library keeps
// (grown with silt_cuda_malloc as needed, kept for the process), or a
// buffer of at least conv2d_scratch_floats_cuda(...) floats, 256-byte
// aligned as silt_cuda_malloc returns. Algorithm choices are cached per
// shape. Calls are serialised by a lock (cuDNN handles are not re-entrant).
#ifndef SILT_CUDA_OPS_CONV_H
#define SILT_CUDA_OPS_CONV_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"

// True when conv2d_*_cuda can run: a usable GPU, cuDNN compiled in and
// loadable. The first call loads cuDNN.
bool silt_cuda_have_cudnn(void);

// *floats = device scratch (in floats) that covers conv2d_fwd_cuda and
// conv2d_bwd_cuda for this shape (0 possible). Needs the GPU and cuDNN.
silt_status conv2d_scratch_floats_cuda(int64_t *floats, int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout,
                                       int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw);

// out: (N, Cout, Ho, Wo) = conv(x, w) + bias; x: (N, Cin, H, W), w: (Cout, Cin, kh, kw), bias: (Cout) or NULL.
// Errors: SILT_ERR_ARG (stride < 1, padding < 0, negative sizes, NULL buffers),
// SILT_ERR_SHAPE (kernel larger than the padded input), SILT_ERR_UNSUPPORTED
// (no GPU or cuDNN, a tensor over 2^31 elements).
silt_status conv2d_fwd_cuda(float *out, float *scratch, const float *x, const float *w, const float *bias, int64_t N,
                            int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw, int64_t sh,
                            int64_t sw, int64_t ph, int64_t pw);
// dx (N,Cin,H,W), dw (Cout,Cin,kh,kw), dbias (Cout) += gradients of sum(out * dout);
// dout: (N, Cout, Ho, Wo). Any d-pointer may be NULL.
silt_status conv2d_bwd_cuda(float *dx, float *dw, float *dbias, float *scratch, const float *dout, const float *x,
                            const float *w, int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh,
                            int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw);

#ifdef __cplusplus
}
#endif

#endif
