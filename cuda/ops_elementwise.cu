// CUDA twins of the elementwise kernels: gelu, silu, add. Grid-stride loops
// over int64 indices; full-precision erff/tanhf/expf (no fast-math) so the
// twins agree with the CPU versions to a few ulp.
#include "cuda/common.cuh"

// GELU as torch.nn.GELU (Hendrycks & Gimpel 2016, eq. 1 and the tanh fit):
//   erf:  0.5 x (1 + erf(x / sqrt 2))
//   tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
static __global__ void gelu_erf_kernel(float *out, const float *x, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float v = x[i];
        out[i] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    }
}

static __global__ void gelu_tanh_kernel(float *out, const float *x, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float v = x[i];
        out[i] = 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
    }
}

// SiLU (Elfwing et al. 2018): x * sigmoid(x). For x -> -inf expf overflows to
// inf and the quotient is -0, the right limit.
static __global__ void silu_kernel(float *out, const float *x, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float v = x[i];
        out[i] = v / (1.0f + expf(-v));
    }
}

static __global__ void add_kernel(float *out, const float *a, const float *b, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = a[i] + b[i];
}

// Common argument checks; *skip is set when there is nothing to do.
static silt_status check_n(const char *op, int64_t n, bool any_null, bool *skip) {
    SILT_CUDA_READY();
    if (n < 0) return SILT_FAIL(SILT_ERR_ARG, "%s: negative size %lld", op, (long long)n);
    *skip = n == 0;
    if (n > 0 && any_null) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL buffer", op);
    return SILT_OK;
}

extern "C" silt_status gelu_fwd_cuda(float *out, const float *x, int64_t n, int approximate) {
    bool skip = false;
    SILT_TRY(check_n("gelu_fwd_cuda", n, !out || !x, &skip));
    if (approximate != 0 && approximate != 1)
        return SILT_FAIL(SILT_ERR_ARG, "gelu_fwd_cuda: approximate is %d (0 erf, 1 tanh)", approximate);
    if (skip) return SILT_OK;
    if (approximate) {
        gelu_tanh_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(out, x, n);
        SILT_CUDA_LAUNCHED("gelu_tanh_kernel");
    } else {
        gelu_erf_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(out, x, n);
        SILT_CUDA_LAUNCHED("gelu_erf_kernel");
    }
    return SILT_OK;
}

extern "C" silt_status silu_fwd_cuda(float *out, const float *x, int64_t n) {
    bool skip = false;
    SILT_TRY(check_n("silu_fwd_cuda", n, !out || !x, &skip));
    if (skip) return SILT_OK;
    silu_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(out, x, n);
    SILT_CUDA_LAUNCHED("silu_kernel");
    return SILT_OK;
}

extern "C" silt_status add_fwd_cuda(float *out, const float *a, const float *b, int64_t n) {
    bool skip = false;
    SILT_TRY(check_n("add_fwd_cuda", n, !out || !a || !b, &skip));
    if (skip) return SILT_OK;
    add_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(out, a, b, n);
    SILT_CUDA_LAUNCHED("add_kernel");
    return SILT_OK;
}
