// Optimiser-side CUDA kernels (cuda/ops_train.h). The backward of the matrix
// products lives with the forward in cuda/ops_matmul.cu.
#include "cuda/common.cuh"

#include <stdlib.h>
#include <string.h>

// One element of an AdamW update. Same order of operations as
// silt_adamw_step; __f*_rn keep nvcc from fusing into FMAs, which would round
// differently from the CPU.
static __device__ __forceinline__ void adamw_elem(float *p, float *m, float *v, const float *g, int64_t j,
                                                  float step_size, float bc2_sqrt, float decay, bool decay_on,
                                                  float w1, float b2, float w2, float eps) {
    float gj = g[j];
    float pj = decay_on ? __fmul_rn(p[j], decay) : p[j];
    float mj = __fadd_rn(m[j], __fmul_rn(w1, __fsub_rn(gj, m[j])));
    float vj = __fadd_rn(__fmul_rn(v[j], b2), __fmul_rn(__fmul_rn(w2, gj), gj));
    float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vj), bc2_sqrt), eps);
    p[j] = __fsub_rn(pj, __fmul_rn(step_size, __fdiv_rn(mj, denom)));
    m[j] = mj;
    v[j] = vj;
}

static __device__ __forceinline__ void ema_elem(float *ema, const float *p, int64_t i, float w) {
    ema[i] = __fadd_rn(ema[i], __fmul_rn(w, __fsub_rn(p[i], ema[i])));
}

static __global__ void adamw_kernel(float *p, float *m, float *v, const float *g, int64_t n, float step_size,
                                    float bc2_sqrt, float decay, bool decay_on, float w1, float b2, float w2,
                                    float eps) {
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (int64_t)gridDim.x * blockDim.x)
        adamw_elem(p, m, v, g, j, step_size, bc2_sqrt, decay, decay_on, w1, b2, w2, eps);
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
        ema_elem(ema, p, i, w);
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

// --- multi-tensor launches ---------------------------------------------------------

struct silt_multi_list {
    silt_multi_entry *host;  // the entries last uploaded
    int count, cap;
    silt_multi_entry *dev;   // count entries
    int64_t *dev_off;        // count + 1 prefix sums of n
    int64_t total;
};

extern "C" void silt_multi_list_free(silt_multi_list *l) {
    if (!l) return;
    cudaFree(l->dev);
    cudaFree(l->dev_off);
    free(l->host);
    free(l);
}

extern "C" silt_status silt_multi_list_set(silt_multi_list **lp, const silt_multi_entry *e, int count) {
    SILT_CUDA_READY();
    if (!lp || count < 0 || (count > 0 && !e)) return SILT_FAIL(SILT_ERR_ARG, "silt_multi_list_set: bad arguments");
    silt_multi_list *l = *lp;
    if (!l) {
        l = (silt_multi_list *)calloc(1, sizeof *l);
        if (!l) return SILT_FAIL(SILT_ERR_OOM, "silt_multi_list_set: out of memory");
        *lp = l;
    }
    if (count == 0) {
        l->count = 0, l->total = 0;
        return SILT_OK;
    }
    bool same = l->host && count == l->count;
    for (int i = 0; same && i < count; i++)  // field by field: the struct's padding is not ours to compare
        same = e[i].a == l->host[i].a && e[i].b == l->host[i].b && e[i].c == l->host[i].c &&
               e[i].d == l->host[i].d && e[i].n == l->host[i].n && e[i].flag == l->host[i].flag;
    if (same) return SILT_OK;  // the same tensors as last time: nothing to upload
    if (count > l->cap) {
        free(l->host);
        cudaFree(l->dev);
        cudaFree(l->dev_off);
        l->host = nullptr, l->dev = nullptr, l->dev_off = nullptr, l->cap = 0, l->count = 0;
        l->host = (silt_multi_entry *)malloc(sizeof *e * (size_t)count);
        if (!l->host) return SILT_FAIL(SILT_ERR_OOM, "silt_multi_list_set: out of memory");
        SILT_CUDA_TRY(cudaMalloc((void **)&l->dev, sizeof *e * (size_t)count));
        SILT_CUDA_TRY(cudaMalloc((void **)&l->dev_off, sizeof(int64_t) * ((size_t)count + 1)));
        l->cap = count;
    }
    int64_t *off = (int64_t *)malloc(sizeof(int64_t) * ((size_t)count + 1));
    if (!off) return SILT_FAIL(SILT_ERR_OOM, "silt_multi_list_set: out of memory");
    off[0] = 0;
    for (int i = 0; i < count; i++) {
        if (e[i].n < 0) {
            free(off);
            return SILT_FAIL(SILT_ERR_ARG, "silt_multi_list_set: entry %d has %lld elements", i, (long long)e[i].n);
        }
        off[i + 1] = off[i] + e[i].n;
    }
    l->count = 0;  // until both uploads are done
    cudaError_t ce = cudaMemcpy(l->dev_off, off, sizeof(int64_t) * ((size_t)count + 1), cudaMemcpyHostToDevice);
    if (ce == cudaSuccess && count > 0) ce = cudaMemcpy(l->dev, e, sizeof *e * (size_t)count, cudaMemcpyHostToDevice);
    l->total = off[count];
    free(off);
    if (ce != cudaSuccess) return silt_cuda_fail_(ce, "silt_multi_list_set", __FILE__, __LINE__);
    if (count > 0) memcpy(l->host, e, sizeof *e * (size_t)count);
    l->count = count;
    return SILT_OK;
}

// SILT_CUDA_MULTI=0 runs the single-tensor kernels entry by entry instead
// (the same bits): an escape hatch while the multi kernels are new on a GPU.
static bool multi_off() {
    const char *v = getenv("SILT_CUDA_MULTI");  // read per call (3 a step): a test switches it
    return v && strcmp(v, "0") == 0;
}

// The entry holding flat element j: the last k with off[k] <= j.
static __device__ __forceinline__ int multi_find(const int64_t *off, int count, int64_t j) {
    int lo = 0, hi = count - 1;
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (off[mid] <= j) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

static __global__ void adamw_multi_kernel(const silt_multi_entry *list, const int64_t *off, int count, int64_t total,
                                          float step_size, float bc2_sqrt, float decay, float w1, float b2, float w2,
                                          float eps) {
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < total; j += (int64_t)gridDim.x * blockDim.x) {
        const int k = multi_find(off, count, j);
        const silt_multi_entry e = list[k];
        adamw_elem(e.a, e.b, e.c, e.d, j - off[k], step_size, bc2_sqrt, decay, e.flag != 0, w1, b2, w2, eps);
    }
}

static __global__ void ema_multi_kernel(const silt_multi_entry *list, const int64_t *off, int count, int64_t total,
                                        float w) {
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < total; j += (int64_t)gridDim.x * blockDim.x) {
        const int k = multi_find(off, count, j);
        ema_elem(list[k].a, list[k].d, j - off[k], w);
    }
}

static __global__ void zero_multi_kernel(const silt_multi_entry *list, const int64_t *off, int count, int64_t total) {
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < total; j += (int64_t)gridDim.x * blockDim.x) {
        const int k = multi_find(off, count, j);
        list[k].a[j - off[k]] = 0.0f;
    }
}

extern "C" silt_status adamw_multi_cuda(const silt_multi_list *l, float step_size, float bc2_sqrt, float decay,
                                        float w1, float b2, float w2, float eps) {
    SILT_CUDA_READY();
    if (!l) return SILT_FAIL(SILT_ERR_ARG, "adamw_multi_cuda: NULL list");
    if (l->count == 0 || l->total == 0) return SILT_OK;
    if (multi_off()) {
        for (int i = 0; i < l->count; i++) {
            const silt_multi_entry &e = l->host[i];
            SILT_TRY(adamw_step_cuda(e.a, e.b, e.c, e.d, e.n, step_size, bc2_sqrt, decay, e.flag != 0, w1, b2, w2,
                                     eps));
        }
        return SILT_OK;
    }
    adamw_multi_kernel<<<silt_cuda_grid_(l->total), SILT_CUDA_BLOCK>>>(l->dev, l->dev_off, l->count, l->total,
                                                                        step_size, bc2_sqrt, decay, w1, b2, w2, eps);
    SILT_CUDA_LAUNCHED("adamw_multi_kernel");
    return SILT_OK;
}

extern "C" silt_status ema_multi_cuda(const silt_multi_list *l, float w) {
    SILT_CUDA_READY();
    if (!l) return SILT_FAIL(SILT_ERR_ARG, "ema_multi_cuda: NULL list");
    if (l->count == 0 || l->total == 0) return SILT_OK;
    if (multi_off()) {
        for (int i = 0; i < l->count; i++) SILT_TRY(ema_update_cuda(l->host[i].a, l->host[i].d, l->host[i].n, w));
        return SILT_OK;
    }
    ema_multi_kernel<<<silt_cuda_grid_(l->total), SILT_CUDA_BLOCK>>>(l->dev, l->dev_off, l->count, l->total, w);
    SILT_CUDA_LAUNCHED("ema_multi_kernel");
    return SILT_OK;
}

extern "C" silt_status zero_multi_cuda(const silt_multi_list *l) {
    SILT_CUDA_READY();
    if (!l) return SILT_FAIL(SILT_ERR_ARG, "zero_multi_cuda: NULL list");
    if (l->count == 0 || l->total == 0) return SILT_OK;
    if (multi_off()) {
        for (int i = 0; i < l->count; i++)
            SILT_CUDA_TRY(cudaMemsetAsync(l->host[i].a, 0, sizeof(float) * (size_t)l->host[i].n));
        return SILT_OK;
    }
    zero_multi_kernel<<<silt_cuda_grid_(l->total), SILT_CUDA_BLOCK>>>(l->dev, l->dev_off, l->count, l->total);
    SILT_CUDA_LAUNCHED("zero_multi_kernel");
    return SILT_OK;
}
