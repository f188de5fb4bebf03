// CUDA twins of the reductions (cuda/ops_reduce.h; CPU versions in
// core/ops_reduce.c). Double accumulation throughout; fixed orders (see
// cuda/reduce.cuh).
#include "cuda/ops_reduce.h"
#include "cuda/reduce.cuh"

enum { SUM_ALL_THREADS = 1024 };

// One block: thread t sums elements t, t+1024, ... in order, then the block
// tree. SQDIFF: sum of (a - b)^2 instead of sum of a. divide: out = s / n.
template <bool SQDIFF>
static __global__ void __launch_bounds__(SUM_ALL_THREADS)
    sum_all_kernel(float *out, const float *a, const float *b, int64_t n, bool divide) {
    double s = 0.0;
#pragma unroll 4
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        if (SQDIFF) {
            const double d = (double)a[i] - b[i];
            s += d * d;
        } else {
            s += a[i];
        }
    }
    s = silt_team_sum_<TEAM_BLOCK, double>(s);
    if (threadIdx.x == 0) out[0] = divide ? (float)(s / (double)n) : (float)s;
}

static __global__ void sum_bwd_kernel(float *dx, const float *dout, int64_t n, float scale) {
    const float g = dout[0] * scale;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        dx[i] += g;
}

// inner == 1: one team per row of dim elements.
template <int TEAM>
static __global__ void __launch_bounds__(SILT_ROW_BLOCK)
    sum_rows_kernel(float *out, const float *x, int64_t rows, int64_t dim, double scale) {
    const silt_team_pos_<TEAM> p;
    for (int64_t r = p.row0; r < rows; r += p.rstep) {
        const float *xr = x + r * dim;
        double s = 0.0;
        for (int64_t d = p.tid; d < dim; d += p.tn) s += xr[d];
        s = silt_team_sum_<TEAM, double>(s);
        if (p.tid == 0) out[r] = (float)(s * scale);
    }
}

// inner > 1: column sums of each (dim, inner) slab.
struct sum_dim_term {
    const float *x;
    int64_t dim, inner;
    __device__ __forceinline__ void operator()(int64_t o, int64_t d, int64_t i, double (&acc)[1]) const {
        acc[0] += x[(o * dim + d) * inner + i];
    }
};

static __global__ void sum_dim_bwd_kernel(float *dx, const float *dout, int64_t dim, int64_t rows, int64_t inner,
                                          float scale) {
    for (int64_t r = (int64_t)blockIdx.x * blockDim.y + threadIdx.y; r < rows; r += (int64_t)gridDim.x * blockDim.y) {
        const float *g = dout + (r / dim) * inner;
        float *d = dx + r * inner;
        for (int64_t i = threadIdx.x; i < inner; i += blockDim.x) d[i] += g[i] * scale;
    }
}

static __global__ void mse_loss_bwd_kernel(float *da, float *db, const float *dout, const float *a, const float *b,
                                           int64_t n) {
    const float g = 2.0f * dout[0] / (float)n;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const float v = g * (a[i] - b[i]);
        if (da) da[i] += v;
        if (db) db[i] -= v;
    }
}

static silt_status sum_all(const char *op, float *out, const float *a, const float *b, int64_t n, bool sqdiff,
                           bool divide) {
    SILT_CUDA_READY();
    if (n < 0) return SILT_FAIL(SILT_ERR_ARG, "%s: negative size %lld", op, (long long)n);
    if (!out || (n > 0 && (!a || (sqdiff && !b)))) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL buffer", op);
    if (sqdiff)
        sum_all_kernel<true><<<1, SUM_ALL_THREADS>>>(out, a, b, n, divide);
    else
        sum_all_kernel<false><<<1, SUM_ALL_THREADS>>>(out, a, b, n, divide);
    SILT_CUDA_LAUNCHED("sum_all_kernel");
    return SILT_OK;
}

extern "C" silt_status sum_fwd_cuda(float *out, const float *x, int64_t n) {
    return sum_all("sum_fwd_cuda", out, x, NULL, n, false, false);
}

extern "C" silt_status mean_fwd_cuda(float *out, const float *x, int64_t n) {
    return sum_all("mean_fwd_cuda", out, x, NULL, n, false, true);
}

extern "C" silt_status mse_loss_fwd_cuda(float *out, const float *a, const float *b, int64_t n) {
    return sum_all("mse_loss_fwd_cuda", out, a, b, n, true, true);
}

extern "C" silt_status sum_bwd_cuda(float *dx, const float *dout, int64_t n, float scale) {
    SILT_CUDA_READY();
    if (n < 0) return SILT_FAIL(SILT_ERR_ARG, "sum_bwd_cuda: negative size %lld", (long long)n);
    if (n == 0 || !dx) return SILT_OK;
    if (!dout) return SILT_FAIL(SILT_ERR_ARG, "sum_bwd_cuda: NULL dout");
    sum_bwd_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(dx, dout, n, scale);
    SILT_CUDA_LAUNCHED("sum_bwd_kernel");
    return SILT_OK;
}

static silt_status check_dims(const char *op, int64_t outer, int64_t dim, int64_t inner) {
    SILT_CUDA_READY();
    if (outer < 0 || dim < 0 || inner < 0)
        return SILT_FAIL(SILT_ERR_ARG, "%s: negative size (outer %lld, dim %lld, inner %lld)", op, (long long)outer,
                         (long long)dim, (long long)inner);
    return SILT_OK;
}

static silt_status dim_reduce(const char *op, float *out, const float *x, int64_t outer, int64_t dim, int64_t inner,
                              double scale) {
    SILT_TRY(check_dims(op, outer, dim, inner));
    if (outer == 0 || inner == 0) return SILT_OK;  // no outputs
    if (!out || (dim > 0 && !x)) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL buffer", op);
    if (inner == 1) {
        if (silt_team_is_block_(outer, dim))
            sum_rows_kernel<TEAM_BLOCK><<<silt_team_grid_(outer, true), SILT_ROW_BLOCK>>>(out, x, outer, dim, scale);
        else
            sum_rows_kernel<TEAM_WARP><<<silt_team_grid_(outer, false), SILT_ROW_BLOCK>>>(out, x, outer, dim, scale);
        SILT_CUDA_LAUNCHED("sum_rows_kernel");
        return SILT_OK;
    }
    return silt_colsum_<double, 1>(op, sum_dim_term{x, dim, inner}, out, NULL, (double *)NULL, outer, dim, inner, 1,
                                   dim, false, scale);
}

extern "C" silt_status sum_dim_fwd_cuda(float *out, const float *x, int64_t outer, int64_t dim, int64_t inner) {
    return dim_reduce("sum_dim_fwd_cuda", out, x, outer, dim, inner, 1.0);
}

extern "C" silt_status mean_dim_fwd_cuda(float *out, const float *x, int64_t outer, int64_t dim, int64_t inner) {
    // dim == 0: 0 * (1/0) = NaN, as on the CPU.
    return dim_reduce("mean_dim_fwd_cuda", out, x, outer, dim, inner, 1.0 / (double)dim);
}

extern "C" silt_status sum_dim_bwd_cuda(float *dx, const float *dout, int64_t outer, int64_t dim, int64_t inner,
                                        float scale) {
    SILT_TRY(check_dims("sum_dim_bwd_cuda", outer, dim, inner));
    if (outer == 0 || dim == 0 || inner == 0 || !dx) return SILT_OK;
    if (!dout) return SILT_FAIL(SILT_ERR_ARG, "sum_dim_bwd_cuda: NULL dout");
    silt_rows_launch_ l = silt_rows_launch(outer * dim, inner);
    sum_dim_bwd_kernel<<<l.grid, l.block>>>(dx, dout, dim, outer * dim, inner, scale);
    SILT_CUDA_LAUNCHED("sum_dim_bwd_kernel");
    return SILT_OK;
}

extern "C" silt_status mse_loss_bwd_cuda(float *da, float *db, const float *dout, const float *a, const float *b,
                                         int64_t n) {
    SILT_CUDA_READY();
    if (n < 0) return SILT_FAIL(SILT_ERR_ARG, "mse_loss_bwd_cuda: negative size %lld", (long long)n);
    if (n == 0 || (!da && !db)) return SILT_OK;
    if (!dout || !a || !b) return SILT_FAIL(SILT_ERR_ARG, "mse_loss_bwd_cuda: NULL buffer");
    mse_loss_bwd_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(da, db, dout, a, b, n);
    SILT_CUDA_LAUNCHED("mse_loss_bwd_kernel");
    return SILT_OK;
}
