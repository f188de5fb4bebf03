// Private to cuda/*.cu: error mapping, the availability gate, the shared
// cuBLAS handle and launch helpers. Not part of the C API (see cuda/cuda.h).
#ifndef SILT_CUDA_COMMON_CUH
#define SILT_CUDA_COMMON_CUH

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "cuda/cuda.h"

extern "C" {
#include "core/log.h"
}

// Records "file:line: <what>: <CUDA error name>: <string>" and returns
// SILT_ERR_OOM for allocation failures, SILT_ERR_CUDA otherwise. Also clears
// the runtime's (non-sticky) last error so the next call starts clean.
silt_status silt_cuda_fail_(cudaError_t e, const char *what, const char *file, int line);
silt_status silt_cublas_fail_(cublasStatus_t s, const char *what, const char *file, int line);
// SILT_OK when a usable GPU is present, else SILT_ERR_UNSUPPORTED naming why.
silt_status silt_cuda_ready_(const char *file, int line);
// The process-wide cuBLAS handle on device 0, created on first use.
silt_status silt_cublas_handle_(cublasHandle_t *h, const char *file, int line);
// The process-wide cuBLASLt handle, created on first use, kept the same way.
silt_status silt_cublaslt_handle_(cublasLtHandle_t *h, const char *file, int line);
bool silt_cuda_tf32_(void);

#define SILT_CUDA_TRY(expr)                                                                       \
    do {                                                                                          \
        cudaError_t e_ = (expr);                                                                  \
        if (e_ != cudaSuccess) return silt_cuda_fail_(e_, #expr, __FILE__, __LINE__);             \
    } while (0)
#define SILT_CUBLAS_TRY(expr)                                                                     \
    do {                                                                                          \
        cublasStatus_t s_ = (expr);                                                               \
        if (s_ != CUBLAS_STATUS_SUCCESS) return silt_cublas_fail_(s_, #expr, __FILE__, __LINE__); \
    } while (0)
// Launch errors (bad configuration, no kernel image for this GPU) show up in
// cudaGetLastError right after the launch; faults inside a kernel only at the
// next synchronising call.
#define SILT_CUDA_LAUNCHED(name)                                                                  \
    do {                                                                                          \
        cudaError_t e_ = cudaGetLastError();                                                      \
        if (e_ != cudaSuccess) return silt_cuda_fail_(e_, "launch " name, __FILE__, __LINE__);    \
    } while (0)
#define SILT_CUDA_READY() SILT_TRY(silt_cuda_ready_(__FILE__, __LINE__))

// Elementwise kernels use grid-stride loops over int64 indices, so any n works
// with a bounded grid; 256 threads x 32768 blocks covers 8M elements per pass,
// enough to fill any current GPU.
enum { SILT_CUDA_BLOCK = 256 };
static inline unsigned silt_cuda_grid_(int64_t n) {
    int64_t g = (n + SILT_CUDA_BLOCK - 1) / SILT_CUDA_BLOCK;
    if (g > 32768) g = 32768;
    if (g < 1) g = 1;
    return (unsigned)g;
}

// fp32 -> bf16 bits, round to nearest even, a NaN kept a (quiet) NaN: the
// same bits as silt_f32_to_bf16 on the CPU (core/tensor.c).
static __device__ __forceinline__ uint16_t silt_bf16_rn_(float f) {
    uint32_t u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

#endif
