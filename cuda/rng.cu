// CUDA twin of silt_rng_normal / silt_rng_uniform: the same Philox4x32-10
// code (core/philox.h, compiled for the device), one element per thread, so
// the noise of (seed, stream, index) is the same on CPU and GPU (the integer
// words bit for bit; normals to the last ulp of logf/cosf, see philox.h).
#include "cuda/common.cuh"
#include "core/philox.h"

static __global__ void normal_kernel(float *out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = silt_philox_normal_at(seed, stream, offset + (uint64_t)i);
}

static __global__ void uniform_kernel(float *out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = silt_philox_uniform_at(seed, stream, offset + (uint64_t)i);
}

extern "C" silt_status silt_rng_normal_cuda(float *out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset) {
    SILT_CUDA_READY();
    if (n < 0 || (n > 0 && !out)) return SILT_FAIL(SILT_ERR_ARG, "silt_rng_normal_cuda: bad buffer or size %lld", (long long)n);
    if (n == 0) return SILT_OK;
    normal_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(out, n, seed, stream, offset);
    SILT_CUDA_LAUNCHED("normal_kernel");
    return SILT_OK;
}

extern "C" silt_status silt_rng_uniform_cuda(float *out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset) {
    SILT_CUDA_READY();
    if (n < 0 || (n > 0 && !out)) return SILT_FAIL(SILT_ERR_ARG, "silt_rng_uniform_cuda: bad buffer or size %lld", (long long)n);
    if (n == 0) return SILT_OK;
    uniform_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(out, n, seed, stream, offset);
    SILT_CUDA_LAUNCHED("uniform_kernel");
    return SILT_OK;
}
