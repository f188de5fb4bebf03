// Optimiser-side CUDA kernels (cuda/ops_train.h). The backward of the matrix
// products lives with the forward in cuda/ops_matmul.cu.
#include "cuda/common.cuh"

static __global__ void adamw_kernel(float *p, float *m, float *v, const float *g, int64_t n, float step_size,
                                    float bc2_sqrt, float decay, bool decay_on, float w1, float b2, float w2,
                                    float eps) {
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (int64_t)gridDim.x * blockDim.x) {
        // Same order of operations as silt_adamw_step; __f*_rn keep nvcc from
        // fusing into FMAs, which would round differently from the CPU.
        float gj = g[j];
        float pj = decay_on ? __fmul_rn(p[j], decay) : p[j];
        float mj = __fadd_rn(m[j], __fmul_rn(w1, __fsub_rn(gj, m[j])));
        float vj = __fadd_rn(__fmul_rn(v[j], b2), __fmul_rn(__fmul_rn(w2, gj), gj));
        float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vj), bc2_sqrt), eps);
        p[j] = __fsub_rn(pj, __fmul_rn(step_size, __fdiv_rn(mj, denom)));
        m[j] = mj;
        v[j] = vj;
    }
}

extern "C" silt_status adamw_step_cuda(float *p, float *m, float *v, const float *g, int64_t n, float step_size,
                                       float bc2_sqrt, float decay, bool decay_on, float w1, float b2, float w2,
                                       float eps) {
    SILT_CUDA_READY();
    if (n < 0) return SILT_FAIL(SILT_ERR_ARG, "adamw_step_cuda: negative size %lld", (long long)n);
    if (n == 0) return SILT_OK;
    if (!p || !m || !v || !g) return SILT_FAIL(SILT_ERR_ARG, "adamw_step_cuda: NULL buffer");
    adamw_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(p, m, v, g, n, step_size, bc2_sqrt, decay, decay_on, w1, b2,
                                                          w2, eps);
    SILT_CUDA_LAUNCHED("adamw_kernel");
    return SILT_OK;
}

// Block tree sum of one double per thread (blockDim.x == SILT_CUDA_BLOCK, a
// power of two); the result is in s[0] for thread 0.
static __device__ void block_sum(double *s) {
    for (int w = SILT_CUDA_BLOCK / 2; w > 0; w >>= 1) {
        __syncthreads();
        if ((int)threadIdx.x < w) s[threadIdx.x] += s[threadIdx.x + w];
    }
    __syncthreads();
}

// Pass 1: block b sums x[i]^2 over its grid-stride share into partials[b].
static __global__ void sumsq_pass1(double *partials, const float *x, int64_t n) {
    __shared__ double s[SILT_CUDA_BLOCK];
    double acc = 0;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        acc += (double)x[i] * (double)x[i];
    s[threadIdx.x] = acc;
    block_sum(s);
    if (threadIdx.x == 0) partials[blockIdx.x] = s[0];
}

// Pass 2: one block adds the partials to *acc.
static __global__ void sumsq_pass2(double *acc, const double *partials, int np) {
    __shared__ double s[SILT_CUDA_BLOCK];
    double a = 0;
    for (int i = threadIdx.x; i < np; i += blockDim.x) a += partials[i];
    s[threadIdx.x] = a;
    block_sum(s);
    if (threadIdx.x == 0) acc[0] += s[0];
}

extern "C" silt_status sumsq_acc_cuda(double *acc, double *partials, const float *x, int64_t n) {
    SILT_CUDA_READY();
    if (n < 0) return SILT_FAIL(SILT_ERR_ARG, "sumsq_acc_cuda: negative size %lld", (long long)n);
    if (n == 0) return SILT_OK;
    if (!acc || !partials || !x) return SILT_FAIL(SILT_ERR_ARG, "sumsq_acc_cuda: NULL buffer");
    sumsq_pass1<<<SILT_SUMSQ_PARTIALS, SILT_CUDA_BLOCK>>>(partials, x, n);
    SILT_CUDA_LAUNCHED("sumsq_pass1");
    sumsq_pass2<<<1, SILT_CUDA_BLOCK>>>(acc, partials, SILT_SUMSQ_PARTIALS);
    SILT_CUDA_LAUNCHED("sumsq_pass2");
    return SILT_OK;
}

static __global__ void ema_kernel(float *ema, const float *p, int64_t n, float w) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        ema[i] = __fadd_rn(ema[i], __fmul_rn(w, __fsub_rn(p[i], ema[i])));
}

extern "C" silt_status ema_update_cuda(float *ema, const float *p, int64_t n, float w) {
    SILT_CUDA_READY();
    if (n < 0) return SILT_FAIL(SILT_ERR_ARG, "ema_update_cuda: negative size %lld", (long long)n);
    if (n == 0) return SILT_OK;
    if (!ema || !p) return SILT_FAIL(SILT_ERR_ARG, "ema_update_cuda: NULL buffer");
    ema_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(ema, p, n, w);
    SILT_CUDA_LAUNCHED("ema_kernel");
    return SILT_OK;
}
