// The CUDA backend's C API: device detection, device memory, copies, device
// tensors, timing events and the CUDA twins of core kernels.
//
// Usable from C in every build. With SILT_HAVE_CUDA the calls go to
// cuda/runtime.cu and the ops_*.cu files; without it to cuda/cuda_none.c,
// where silt_cuda_available() is false and every fallible call returns
// SILT_ERR_UNSUPPORTED ("silt was built without CUDA"). In a CUDA build on a
// machine without a usable GPU (no driver, no device, too old a driver) the
// fallible calls return SILT_ERR_UNSUPPORTED too, naming the reason, so code
// can always test silt_cuda_available() once and take the CPU path.
//
// Conventions: all work goes to the legacy default stream, so calls are
// ordered with each other; kernels and cuBLAS calls are asynchronous and a
// failure inside a kernel surfaces at the next synchronising call
// (silt_cuda_sync, a copy to the host). Kernel twins take device pointers,
// never allocate, and check their arguments before launching anything.
#ifndef SILT_CUDA_H
#define SILT_CUDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"
#include "core/tensor.h"

// --- device ------------------------------------------------------------------
bool silt_cuda_built(void);  // compiled with CUDA
// First call probes once (thread-safe): a driver, at least one device, and a
// test kernel that runs on device 0. When built with CUDA but the probe fails
// it logs once "CUDA build, but no usable GPU (<reason>): running on the CPU"
// and returns false. Never crashes without a driver.
bool silt_cuda_available(void);
int silt_cuda_device_count(void);  // 0 when not available
// One line per machine for `gen info --system`: per device "NVIDIA H100 80GB
// HBM3, sm_90, 79.1 GiB, driver 13.0, runtime 13.0, cuBLAS 13.1.0" (devices
// prefixed "cuda:N " and joined by "; " when there are several), or
// "no GPU (<reason>)", or "not built with CUDA". Truncates to n bytes.
silt_status silt_cuda_describe(char *buf, size_t n);
// Matrix products in fp32 use full fp32 by default (so twins match the CPU to
// 1e-4); allowing TF32 trades ~1e-3 relative error for tensor-core speed.
// Process-wide; returns the previous setting.
bool silt_cuda_set_allow_tf32(bool allow);

// --- memory (device 0) ----------------------------------------------------------
// *p is set only on success; bytes == 0 gives *p = NULL. Copies of 0 bytes
// are no-ops. Copies synchronise with the default stream.
silt_status silt_cuda_malloc(void **p, size_t bytes);
void silt_cuda_free(void *p);  // NULL-safe
// A device buffer that only grows (a process-wide workspace or scratch):
// when *bytes < need, frees *buf (cudaFree waits for the device, so no queued
// kernel still reads it) and allocates need bytes. The caller holds the lock
// guarding the buffer until its last use is queued. On failure *buf is NULL
// and *bytes 0.
silt_status silt_cuda_grow(void **buf, size_t *bytes, size_t need);
silt_status silt_cuda_memcpy_h2d(void *dst, const void *src, size_t bytes);
silt_status silt_cuda_memcpy_d2h(void *dst, const void *src, size_t bytes);
silt_status silt_cuda_memcpy_d2d(void *dst, const void *src, size_t bytes);
silt_status silt_cuda_memset(void *p, int v, size_t bytes);
silt_status silt_cuda_sync(void);  // waits for the device; reports kernel faults

// --- device tensors --------------------------------------------------------------
// Owned tensor whose data is zero-filled device memory (device = SILT_CUDA,
// grad NULL). NULL on failure (silt_last_error() says why).
silt_tensor *silt_tensor_create_cuda(silt_dtype dtype, int ndim, const int64_t *shape);
// Copies a CPU tensor to a new device tensor and back. *out is set only on
// success; grads are not copied.
silt_status silt_tensor_to_cuda(const silt_tensor *host, silt_tensor **out);
silt_status silt_tensor_to_cpu(const silt_tensor *dev, silt_tensor **out);
// Moves an owned CPU tensor's data to the device in place: the header is
// kept (so pointers to it stay valid), data becomes device memory, the host
// data and grad are freed, grad = NULL and requires_grad = false. To train
// it, set requires_grad and give it a device grad buffer (silt_cuda_malloc,
// zeroed; silt_tensor_free_cuda frees it), as gen/lib/train.c does. A tensor already on cuda is left as
// it is. On failure the tensor is unchanged. Free it with
// silt_tensor_free_cuda.
silt_status silt_tensor_move_to_cuda(silt_tensor *t);
// Converts a CUDA f32 tensor's data to bf16 in place (a new device buffer,
// rounded to nearest even; the old one is freed). For weights that feed
// silt_linear's bf16 path. A bf16 tensor is left as it is.
silt_status silt_tensor_cuda_to_bf16(silt_tensor *t);
// Frees a tensor from silt_tensor_create_cuda (NULL-safe). CPU tensors are
// passed on to silt_tensor_free, so one call frees either kind.
void silt_tensor_free_cuda(silt_tensor *t);

// --- timing -----------------------------------------------------------------------
// Events recorded on the default stream, for benchmarks.
typedef struct silt_cuda_event silt_cuda_event;
silt_status silt_cuda_event_create(silt_cuda_event **e);
void silt_cuda_event_free(silt_cuda_event *e);  // NULL-safe
silt_status silt_cuda_event_record(silt_cuda_event *e);
// Waits for `end`, then gives the time between the two records in ms.
silt_status silt_cuda_event_elapsed_ms(silt_cuda_event *start, silt_cuda_event *end, float *ms);

// --- kernel twins (device pointers; same arguments as the _cpu versions) ----------
// out: (batch,M,N) = op(a) @ op(b), row-major. a: (batch,M,K), or (batch,K,M)
// with trans_a; b: (batch,K,N), or (batch,N,K) with trans_b. fp32 compute.
// Each of M, N, K and batch must fit in an int (cuBLAS); K == 0 gives zeros.
silt_status matmul_fwd_cuda(float *out, const float *a, const float *b, int64_t batch, int64_t M, int64_t N,
                            int64_t K, bool trans_a, bool trans_b);
// The same product on bf16 buffers (uint16_t bit patterns): fp32
// accumulation, output rounded to bf16.
silt_status matmul_fwd_cuda_bf16(uint16_t *out, const uint16_t *a, const uint16_t *b, int64_t batch, int64_t M,
                                 int64_t N, int64_t K, bool trans_a, bool trans_b);
// nn.Linear: out (N,out_f) = x (N,in_f) @ w^T + bias; w: (out_f,in_f),
// bias: (out_f) or NULL.
silt_status linear_fwd_cuda(float *out, const float *x, const float *w, const float *bias, int64_t N, int64_t in_f,
                            int64_t out_f);
// Calls of linear_fwd_cuda so far by path: the cuBLASLt bias epilogue (a
// bias, 16-byte aligned, a plan found; SILT_CUBLASLT=0 turns it off) and the
// plain cuBLAS GEMM (+ bias kernel). Either pointer may be NULL.
void silt_cuda_linear_paths(uint64_t *lt, uint64_t *plain);
// The same with bf16 weights (uint16_t bit patterns, converted once by the
// caller): x is rounded to bf16 into xb (N*in_f scratch), then cuBLAS
// multiplies bf16 operands with fp32 accumulation into the fp32 out (as
// torch's bf16 autocast for a linear, but with an fp32 output). ~3 significant
// digits: for inference speed, not for the fp32 twin tests.
silt_status linear_fwd_cuda_bf16w(float *out, uint16_t *xb, const float *x, const uint16_t *w, const float *bias,
                                  int64_t N, int64_t in_f, int64_t out_f);
// The same product with x already in bf16 (xb: (N,in_f), written by a fused
// kernel such as ln_modulate_bf16_fwd_cuda or gelu_bf16_fwd_cuda): no
// rounding pass over x.
silt_status linear_fwd_cuda_bf16(float *out, const uint16_t *xb, const uint16_t *w, const float *bias, int64_t N,
                                 int64_t in_f, int64_t out_f);
// MLP first half for inference: out (N,out_f) = bf16(GELU_tanh(xb @ w^T + bias)).
// One cuBLASLt call with the GELU-bias epilogue and a bf16 output when it
// has a plan (its GELU is the tanh form, torch's approximate="tanh"; either
// form is the same within a bf16 rounding); else linear_fwd_cuda_bf16 into
// scratch (N*out_f floats, fp32) and gelu_bf16_fwd_cuda. xb, w: bf16 bits.
silt_status linear_gelu_fwd_cuda_bf16(uint16_t *out, float *scratch, const uint16_t *xb, const uint16_t *w,
                                      const float *bias, int64_t N, int64_t in_f, int64_t out_f);
// out, x: (n). approximate 0: erf form, 1: tanh form (torch.nn.GELU).
silt_status gelu_fwd_cuda(float *out, const float *x, int64_t n, int approximate);
// The same GELU with the output rounded to bf16 (out: n uint16_t bit
// patterns, round to nearest even), the input of a bf16-weight linear.
silt_status gelu_bf16_fwd_cuda(uint16_t *out, const float *x, int64_t n, int approximate);
// out, x: (n). x * sigmoid(x) (torch.nn.SiLU).
silt_status silu_fwd_cuda(float *out, const float *x, int64_t n);
// out, a, b: (n). out may alias a or b.
silt_status add_fwd_cuda(float *out, const float *a, const float *b, int64_t n);
// Twins of silt_rng_normal / silt_rng_uniform (core/rng.h): out (n) device
// buffer, element i = element offset + i of Philox stream (seed, stream).
silt_status silt_rng_normal_cuda(float *out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset);
silt_status silt_rng_uniform_cuda(float *out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset);

#ifdef __cplusplus
}
#endif

// Twins of further op families, one header each (device pointers, same
// arguments as the _cpu kernels).
#include "cuda/ops_attention.h"
#include "cuda/ops_clip.h"
#include "cuda/ops_conv.h"
#include "cuda/ops_dit.h"
#include "cuda/ops_embedding.h"
#include "cuda/ops_resample.h"
#include "cuda/ops_shape.h"
// Twins by op family (each header has its own extern "C").
#include "cuda/ops_elementwise.h"
#include "cuda/ops_modulate.h"
#include "cuda/ops_norm.h"
#include "cuda/ops_reduce.h"
#include "cuda/ops_sample.h"
#include "cuda/ops_softmax.h"
#include "cuda/ops_train.h"
#include "cuda/ops_var.h"

#endif
