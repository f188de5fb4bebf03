// CUDA twins of VAR's raw kernels (cuda/ops_var.h). Grid-stride loops over
// int64 indices, one thread per output element; the cross-entropy sums rows
// with the fixed-order block reductions of cuda/reduce.cuh.
#include "cuda/common.cuh"
#include "cuda/reduce.cuh"
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

static __global__ void clamp_exp_bwd_kernel(float *dx, const float *dout, const float *x, const float *out, float max,
                                            int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        if (x[i] <= max) dx[i] += dout[i] * out[i];
}

extern "C" silt_status var_clamp_exp_bwd_cuda(float *dx, const float *dout, const float *x, const float *out,
                                              float max, int64_t n) {
    SILT_CUDA_READY();
    if (n < 0) return SILT_FAIL(SILT_ERR_ARG, "var_clamp_exp_bwd_cuda: negative size %lld", (long long)n);
    if (n == 0 || !dx) return SILT_OK;
    if (!dout || !x || !out) return SILT_FAIL(SILT_ERR_ARG, "var_clamp_exp_bwd_cuda: NULL buffer");
    clamp_exp_bwd_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(dx, dout, x, out, max, n);
    SILT_CUDA_LAUNCHED("clamp_exp_bwd_kernel");
    return SILT_OK;
}

// --- cross-entropy ---------------------------------------------------------------------

enum { CE_THREADS = 256, CE_SUM_THREADS = 1024 };

// (value, index) max with the CPU loop's rule: the first index of the largest
// value; NaN never wins (the CPU's `x > mx` is false for NaN), and a row with
// no value above -inf keeps index 0. Combining is associative and
// commutative, so the butterfly gives every lane the same pair.
static __device__ __forceinline__ void ce_argmax_combine(float &v, int64_t &i, float ov, int64_t oi) {
    if (ov > v || (ov == v && oi < i)) {
        v = ov;
        i = oi;
    }
}

// One block per row (grid-stride over rows). Thread t scans elements t,
// t + 256, ... in order, then warp butterflies and a pass over the 8 warps'
// results in warp order: the order depends only on V.
static __global__ void __launch_bounds__(CE_THREADS)
    ce_rows_kernel(float *prob, double *rows, const float *logits, const int32_t *targets, int64_t N, int64_t V) {
    __shared__ float s_v[CE_THREADS / 32];
    __shared__ int64_t s_i[CE_THREADS / 32];
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int64_t r = blockIdx.x; r < N; r += gridDim.x) {
        const float *x = logits + r * V;
        float mv = -INFINITY;
        int64_t mi = V;  // "none yet": any real index beats it on a tie of -inf
        for (int64_t c = threadIdx.x; c < V; c += blockDim.x) ce_argmax_combine(mv, mi, x[c], c);
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            float ov = __shfl_xor_sync(0xffffffffu, mv, o);
            int64_t oi = __shfl_xor_sync(0xffffffffu, mi, o);
            ce_argmax_combine(mv, mi, ov, oi);
        }
        __syncthreads();  // the previous row's readers of s_v / s_i are done
        if (lane == 0) s_v[w] = mv, s_i[w] = mi;
        __syncthreads();
        mv = s_v[0], mi = s_i[0];
        for (int k = 1; k < nw; k++) ce_argmax_combine(mv, mi, s_v[k], s_i[k]);
        // The CPU keeps arg = 0 when nothing beats -inf (an all -inf or NaN row).
        const int64_t arg = mv > -INFINITY ? mi : 0;
        const double mx = (double)mv;
        double s = 0.0;
        for (int64_t c = threadIdx.x; c < V; c += blockDim.x) s += exp((double)x[c] - mx);
        s = silt_team_sum_<TEAM_BLOCK, double>(s);
        for (int64_t c = threadIdx.x; c < V; c += blockDim.x) prob[r * V + c] = (float)(exp((double)x[c] - mx) / s);
        if (threadIdx.x == 0) {
            int64_t t = targets[r];
            t = t < 0 ? 0 : (t >= V ? V - 1 : t);  // never out of bounds (checked on the host)
            rows[r] = mx + log(s) - (double)x[t];
            rows[N + r] = arg == t ? 1.0 : 0.0;
        }
    }
}

// One block: the row terms summed (thread t takes t, t + 1024, ... in order,
// then the block tree), out[0] = loss / N, acc[0] = hits / N.
static __global__ void __launch_bounds__(CE_SUM_THREADS)
    ce_sum_kernel(float *out, double *acc, const double *rows, int64_t N) {
    double l = 0.0, h = 0.0;
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
        l += rows[i];
        h += rows[N + i];
    }
    l = silt_team_sum_<TEAM_BLOCK, double>(l);
    h = silt_team_sum_<TEAM_BLOCK, double>(h);
    if (threadIdx.x == 0) {
        out[0] = (float)(l / (double)N);
        if (acc) acc[0] = h / (double)N;
    }
}

extern "C" silt_status var_ce_fwd_cuda(float *out, double *acc, float *prob, double *rows, const float *logits,
                                       const int32_t *targets, int64_t N, int64_t V) {
    SILT_CUDA_READY();
    if (N < 1 || V < 1)
        return SILT_FAIL(SILT_ERR_ARG, "var_ce_fwd_cuda: N %lld and V %lld must be >= 1", (long long)N, (long long)V);
    if (!out || !prob || !rows || !logits || !targets) return SILT_FAIL(SILT_ERR_ARG, "var_ce_fwd_cuda: NULL buffer");
    unsigned grid = (unsigned)(N < 65535 ? N : 65535);
    ce_rows_kernel<<<grid, CE_THREADS>>>(prob, rows, logits, targets, N, V);
    SILT_CUDA_LAUNCHED("ce_rows_kernel");
    ce_sum_kernel<<<1, CE_SUM_THREADS>>>(out, acc, rows, N);
    SILT_CUDA_LAUNCHED("ce_sum_kernel");
    return SILT_OK;
}

// One thread per element of dlogits (N, V).
static __global__ void ce_bwd_kernel(float *dlogits, const float *dout, const float *prob, const int32_t *targets,
                                     int64_t N, int64_t V) {
    const double s = (double)dout[0] / (double)N;
    const float sf = (float)s;
    const int64_t n = N * V;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = e / V, c = e - r * V;
        // The CPU adds s * p first, then subtracts s at the target: the same
        // two float roundings here, in that order.
        float d = dlogits[e] + (float)(s * (double)prob[e]);
        if (c == (int64_t)targets[r]) d -= sf;
        dlogits[e] = d;
    }
}

extern "C" silt_status var_ce_bwd_cuda(float *dlogits, const float *dout, const float *prob, const int32_t *targets,
                                       int64_t N, int64_t V) {
    SILT_CUDA_READY();
    if (N < 0 || V < 0)
        return SILT_FAIL(SILT_ERR_ARG, "var_ce_bwd_cuda: negative size (N %lld, V %lld)", (long long)N, (long long)V);
    if (N == 0 || V == 0 || !dlogits) return SILT_OK;
    if (!dout || !prob || !targets) return SILT_FAIL(SILT_ERR_ARG, "var_ce_bwd_cuda: NULL buffer");
    ce_bwd_kernel<<<silt_cuda_grid_(N * V), SILT_CUDA_BLOCK>>>(dlogits, dout, prob, targets, N, V);
    SILT_CUDA_LAUNCHED("ce_bwd_kernel");
    return SILT_OK;
}
