// CUDA twins of VAR's raw kernels (cuda/ops_var.h). Grid-stride loops over
// int64 indices, one thread per output element.
#include "cuda/common.cuh"
#include "cuda/ops_var.h"

// One thread per element of all (RH, len + T, D): a position below len is a
// cached token (read from the cache); one at or above len is new (read from x,
// written to the cache at the same position and to all). Each cache element
// written here is read by no other thread (positions < len are only read,
// positions >= len only written), so the single pass needs no ordering.
static __global__ void kv_append_kernel(float *__restrict__ all, float *__restrict__ cache, const float *__restrict__ x,
                                        int64_t RH, int64_t cap, int64_t len, int64_t T, int64_t D) {
    int64_t Tk = len + T, n = RH * Tk * D;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t d = e % D, t = (e / D) % Tk, rh = e / (D * Tk);
        float *c = cache + (rh * cap + t) * D + d;
        float v;
        if (t < len) {
            v = *c;
        } else {
            v = x[(rh * T + (t - len)) * D + d];
            *c = v;
        }
        all[e] = v;
    }
}

extern "C" silt_status var_kv_append_fwd_cuda(float *all, float *cache, const float *x, int64_t RH, int64_t cap,
                                              int64_t len, int64_t T, int64_t D) {
    SILT_CUDA_READY();
    if (RH < 0 || cap < 0 || len < 0 || T < 0 || D < 0 || len + T > cap)
        return SILT_FAIL(SILT_ERR_ARG, "var_kv_append_fwd_cuda: bad sizes (RH %lld, cap %lld, len %lld, T %lld, D %lld)",
                         (long long)RH, (long long)cap, (long long)len, (long long)T, (long long)D);
    int64_t n = RH * (len + T) * D;
    if (n == 0) return SILT_OK;
    if (!all || !cache || (T > 0 && !x)) return SILT_FAIL(SILT_ERR_ARG, "var_kv_append_fwd_cuda: NULL buffer");
    kv_append_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(all, cache, x, RH, cap, len, T, D);
    SILT_CUDA_LAUNCHED("kv_append_kernel");
    return SILT_OK;
}

static __global__ void clamp_exp_kernel(float *out, const float *x, float max, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = expf(fminf(x[i], max));
}

extern "C" silt_status var_clamp_exp_fwd_cuda(float *out, const float *x, float max, int64_t n) {
    SILT_CUDA_READY();
    if (n < 0) return SILT_FAIL(SILT_ERR_ARG, "var_clamp_exp_fwd_cuda: negative size %lld", (long long)n);
    if (n == 0) return SILT_OK;
    if (!out || !x) return SILT_FAIL(SILT_ERR_ARG, "var_clamp_exp_fwd_cuda: NULL buffer");
    clamp_exp_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(out, x, max, n);
    SILT_CUDA_LAUNCHED("clamp_exp_kernel");
    return SILT_OK;
}
