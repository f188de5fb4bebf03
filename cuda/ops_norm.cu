// CUDA twins of the normalisation kernels (cuda/ops_norm.h). Formulas as in
// core/ops_norm.c: layer norm (Ba et al. 2016, eq. 4; backward as llm.c's
// layernorm_backward), RMS norm (Zhang & Sennrich 2019, eq. 4), group norm (Wu
// & He 2018, eq. 1-3), L2 normalise (d(x/|x|) = (I - y y^T) / |x|).
//
// Row statistics: one team (a warp, or a block for long rows; see
// silt_team_is_block_) per row, three passes over the row (sum, centred sum
// of squares, write); the second and third passes re-read the row, which is
// then in L1/L2.
//
// MEAN_IN_DOUBLE: the row sum for the mean accumulates in double, as on the
// CPU. In fp32 a row with |mean| >> std (offset 10, std 0.01) gets a mean off
// by ~eps * |mean| * C/32, which shifts every normalised value by that over
// std (1e-3 there). One double add per element costs nothing in a
// memory-bound kernel (even at consumer cards' 1/64 fp64 rate). The centred
// sum of squares has only positive terms and stays in fp32. Parameter gradients (dw, db) are column sums over rows
// (silt_colsum_), never atomics.
#include "cuda/ops_norm.h"
#include "cuda/reduce.cuh"

// Launches kernel<TEAM_BLOCK> or kernel<TEAM_WARP> over N rows of C.
#define LAUNCH_ROWS(kernel, N, C, ...)                                                     \
    do {                                                                                   \
        bool blk_ = silt_team_is_block_((N), (C));                                         \
        if (blk_)                                                                          \
            kernel<TEAM_BLOCK><<<silt_team_grid_((N), true), SILT_ROW_BLOCK>>>(__VA_ARGS__); \
        else                                                                               \
            kernel<TEAM_WARP><<<silt_team_grid_((N), false), SILT_ROW_BLOCK>>>(__VA_ARGS__); \
        SILT_CUDA_LAUNCHED(#kernel);                                                       \
    } while (0)

static silt_status check_nc(const char *op, int64_t N, int64_t C) {
    SILT_CUDA_READY();
    if (N < 0 || C < 0) return SILT_FAIL(SILT_ERR_ARG, "%s: negative size (N %lld, C %lld)", op, (long long)N, (long long)C);
    return SILT_OK;
}

// --- layer norm -------------------------------------------------------------------

template <int TEAM>
static __global__ void __launch_bounds__(SILT_ROW_BLOCK)
    layernorm_fwd_kernel(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b,
                         int64_t N, int64_t C, float eps) {
    const silt_team_pos_<TEAM> p;
    for (int64_t n = p.row0; n < N; n += p.rstep) {
        const float *xr = x + n * C;
        float m, r;
        silt_row_mean_rstd_<TEAM>(p, xr, C, eps, &m, &r);  // see MEAN_IN_DOUBLE
        float *yr = out + n * C;
        for (int64_t c = p.tid; c < C; c += p.tn) {
            float y = (xr[c] - m) * r;
            if (w) y *= w[c];
            if (b) y += b[c];
            yr[c] = y;
        }
        if (p.tid == 0) {
            if (mean) mean[n] = m;
            if (rstd) rstd[n] = r;
        }
    }
}

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dout * w.
template <int TEAM>
static __global__ void __launch_bounds__(SILT_ROW_BLOCK)
    layernorm_bwd_dx_kernel(float *dx, const float *dout, const float *x, const float *mean, const float *rstd,
                            const float *w, int64_t N, int64_t C) {
    const silt_team_pos_<TEAM> p;
    for (int64_t n = p.row0; n < N; n += p.rstep) {
        const float *xr = x + n * C, *gr = dout + n * C;
        const float m = mean[n], r = rstd[n];
        float sg = 0.0f, sgx = 0.0f;
        for (int64_t c = p.tid; c < C; c += p.tn) {
            const float gv = gr[c] * (w ? w[c] : 1.0f);
            sg += gv;
            sgx += gv * ((xr[c] - m) * r);
        }
        const float mg = silt_team_sum_<TEAM>(sg) / (float)C;
        const float mgx = silt_team_sum_<TEAM>(sgx) / (float)C;
        float *dr = dx + n * C;
        for (int64_t c = p.tid; c < C; c += p.tn) {
            const float gv = gr[c] * (w ? w[c] : 1.0f), xh = (xr[c] - m) * r;
            dr[c] += r * (gv - mg - xh * mgx);
        }
    }
}

// Column-sum terms for the parameter grads: dw += dout * xhat, db += dout.
struct ln_param_term {
    const float *dout, *x, *mean, *rstd;
    int64_t C;
    __device__ __forceinline__ void operator()(int64_t, int64_t t, int64_t c, float (&acc)[2]) const {
        const int64_t i = t * C + c;
        const float g = dout[i];
        acc[0] += g * ((x[i] - mean[t]) * rstd[t]);
        acc[1] += g;
    }
};

extern "C" silt_status layernorm_fwd_cuda(float *out, float *mean, float *rstd, const float *x, const float *w,
                                          const float *b, int64_t N, int64_t C, float eps) {
    SILT_TRY(check_nc("layernorm_fwd_cuda", N, C));
    if (N == 0) return SILT_OK;
    if (C > 0 && (!out || !x)) return SILT_FAIL(SILT_ERR_ARG, "layernorm_fwd_cuda: NULL out or x");
    LAUNCH_ROWS(layernorm_fwd_kernel, N, C, out, mean, rstd, x, w, b, N, C, eps);
    return SILT_OK;
}

// Row chunks for a (N, C) column sum with scratch, or 1.
static int64_t rows_plan(int64_t N, int64_t C, int64_t *chunk) {
    int64_t R = 1;
    *chunk = N;
    if (N > 0 && C > 0) silt_colsum_plan_(1, N, C, &R, chunk);
    return R;
}

extern "C" int64_t layernorm_bwd_cuda_scratch_floats(int64_t N, int64_t C) {
    int64_t chunk, R = rows_plan(N, C, &chunk);
    return R > 1 ? 2 * R * C : 0;
}

extern "C" silt_status layernorm_bwd_cuda(float *dx, float *dw, float *db, float *scratch, const float *dout,
                                          const float *x, const float *mean, const float *rstd, const float *w,
                                          int64_t N, int64_t C) {
    SILT_TRY(check_nc("layernorm_bwd_cuda", N, C));
    if (N == 0 || C == 0 || (!dx && !dw && !db)) return SILT_OK;
    if (!dout || !x || !mean || !rstd)
        return SILT_FAIL(SILT_ERR_ARG, "layernorm_bwd_cuda: NULL dout, x, mean or rstd");
    if (dx) LAUNCH_ROWS(layernorm_bwd_dx_kernel, N, C, dx, dout, x, mean, rstd, w, N, C);
    if (dw || db) {
        int64_t chunk = N, R = scratch ? rows_plan(N, C, &chunk) : 1;
        SILT_TRY((silt_colsum_<float, 2>("layernorm_bwd_cuda: colsum", ln_param_term{dout, x, mean, rstd, C}, dw, db,
                                        scratch, 1, N, C, R, chunk, true, 1.0f)));
    }
    return SILT_OK;
}

// --- RMS norm ---------------------------------------------------------------------

template <int TEAM>
static __global__ void __launch_bounds__(SILT_ROW_BLOCK)
    rmsnorm_fwd_kernel(float *out, float *rstd, const float *x, const float *w, int64_t N, int64_t C, float eps) {
    const silt_team_pos_<TEAM> p;
    for (int64_t n = p.row0; n < N; n += p.rstep) {
        const float *xr = x + n * C;
        float s = 0.0f;
        for (int64_t c = p.tid; c < C; c += p.tn) s += xr[c] * xr[c];
        const float r = 1.0f / sqrtf(silt_team_sum_<TEAM>(s) / (float)C + eps);
        float *yr = out + n * C;
        for (int64_t c = p.tid; c < C; c += p.tn) yr[c] = xr[c] * r * (w ? w[c] : 1.0f);
        if (p.tid == 0 && rstd) rstd[n] = r;
    }
}

// dx = rstd * (g - x * rstd^2 * mean(g * x)), g = dout * w.
template <int TEAM>
static __global__ void __launch_bounds__(SILT_ROW_BLOCK)
    rmsnorm_bwd_dx_kernel(float *dx, const float *dout, const float *x, const float *rstd, const float *w, int64_t N,
                          int64_t C) {
    const silt_team_pos_<TEAM> p;
    for (int64_t n = p.row0; n < N; n += p.rstep) {
        const float *xr = x + n * C, *gr = dout + n * C;
        const float r = rstd[n];
        float sgx = 0.0f;
        for (int64_t c = p.tid; c < C; c += p.tn) sgx += gr[c] * (w ? w[c] : 1.0f) * xr[c];
        const float k = (silt_team_sum_<TEAM>(sgx) / (float)C) * r * r;
        float *dr = dx + n * C;
        for (int64_t c = p.tid; c < C; c += p.tn) dr[c] += r * (gr[c] * (w ? w[c] : 1.0f) - xr[c] * k);
    }
}

struct rms_param_term {
    const float *dout, *x, *rstd;
    int64_t C;
    __device__ __forceinline__ void operator()(int64_t, int64_t t, int64_t c, float (&acc)[1]) const {
        const int64_t i = t * C + c;
        acc[0] += dout[i] * x[i] * rstd[t];
    }
};

extern "C" silt_status rmsnorm_fwd_cuda(float *out, float *rstd, const float *x, const float *w, int64_t N, int64_t C,
                                        float eps) {
    SILT_TRY(check_nc("rmsnorm_fwd_cuda", N, C));
    if (N == 0) return SILT_OK;
    if (C > 0 && (!out || !x)) return SILT_FAIL(SILT_ERR_ARG, "rmsnorm_fwd_cuda: NULL out or x");
    LAUNCH_ROWS(rmsnorm_fwd_kernel, N, C, out, rstd, x, w, N, C, eps);
    return SILT_OK;
}

extern "C" int64_t rmsnorm_bwd_cuda_scratch_floats(int64_t N, int64_t C) {
    int64_t chunk, R = rows_plan(N, C, &chunk);
    return R > 1 ? R * C : 0;
}

extern "C" silt_status rmsnorm_bwd_cuda(float *dx, float *dw, float *scratch, const float *dout, const float *x,
                                        const float *rstd, const float *w, int64_t N, int64_t C) {
    SILT_TRY(check_nc("rmsnorm_bwd_cuda", N, C));
    if (N == 0 || C == 0 || (!dx && !dw)) return SILT_OK;
    if (!dout || !x || !rstd) return SILT_FAIL(SILT_ERR_ARG, "rmsnorm_bwd_cuda: NULL dout, x or rstd");
    if (dx) LAUNCH_ROWS(rmsnorm_bwd_dx_kernel, N, C, dx, dout, x, rstd, w, N, C);
    if (dw) {
        int64_t chunk = N, R = scratch ? rows_plan(N, C, &chunk) : 1;
        SILT_TRY((silt_colsum_<float, 1>("rmsnorm_bwd_cuda: colsum", rms_param_term{dout, x, rstd, C}, dw, NULL,
                                        scratch, 1, N, C, R, chunk, true, 1.0f)));
    }
    return SILT_OK;
}

// --- group norm -------------------------------------------------------------------
// A group (n, g) is contiguous: Cg = C/G channels of HW values starting at
// x + (n*G + g) * Cg*HW. Element j of the group is channel g*Cg + j/HW.

static __global__ void __launch_bounds__(SILT_ROW_BLOCK)
    groupnorm_fwd_kernel(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b,
                         int64_t NG, int64_t G, int64_t Cg, int64_t HW, float eps) {
    const int64_t len = Cg * HW;
    const silt_team_pos_<TEAM_BLOCK> p;  // the block is the group's team
    for (int64_t ng = blockIdx.x; ng < NG; ng += gridDim.x) {
        const int64_t grp = ng % G;
        const float *xg = x + ng * len;
        float m, r;
        silt_row_mean_rstd_<TEAM_BLOCK>(p, xg, len, eps, &m, &r);  // see MEAN_IN_DOUBLE
        float *yg = out + ng * len;
        for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
            int64_t ci, i;
            silt_divmod_(j, HW, &ci, &i);
            const int64_t c = grp * Cg + ci;
            yg[j] = (xg[j] - m) * r * (w ? w[c] : 1.0f) + (b ? b[c] : 0.0f);
        }
        if (threadIdx.x == 0) {
            if (mean) mean[ng] = m;
            if (rstd) rstd[ng] = r;
        }
    }
}

// Layer norm's dx over each group, with w per channel.
static __global__ void __launch_bounds__(SILT_ROW_BLOCK)
    groupnorm_bwd_dx_kernel(float *dx, const float *dout, const float *x, const float *mean, const float *rstd,
                            const float *w, int64_t NG, int64_t G, int64_t Cg, int64_t HW) {
    const int64_t len = Cg * HW;
    for (int64_t ng = blockIdx.x; ng < NG; ng += gridDim.x) {
        const int64_t grp = ng % G, off = ng * len;
        const float m = mean[ng], r = rstd[ng];
        const float *xg = x + off, *gg = dout + off;
        float sg = 0.0f, sgx = 0.0f;
        for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
            float wc = 1.0f;
            if (w) {
                int64_t ci, i;
                silt_divmod_(j, HW, &ci, &i);
                wc = w[grp * Cg + ci];
            }
            const float gv = gg[j] * wc;
            sg += gv;
            sgx += gv * ((xg[j] - m) * r);
        }
        const float mg = silt_team_sum_<TEAM_BLOCK>(sg) / (float)len;
        const float mgx = silt_team_sum_<TEAM_BLOCK>(sgx) / (float)len;
        float *dg = dx + off;
        for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
            float wc = 1.0f;
            if (w) {
                int64_t ci, i;
                silt_divmod_(j, HW, &ci, &i);
                wc = w[grp * Cg + ci];
            }
            dg[j] += r * (gg[j] * wc - mg - (xg[j] - m) * r * mgx);
        }
    }
}

// dw[c] += sum over (n, i) of dout * xhat, db[c] += sum of dout: one block
// per channel, k = n*HW + i walked in order by the block's threads.
static __global__ void __launch_bounds__(SILT_ROW_BLOCK)
    groupnorm_param_kernel(float *dw, float *db, const float *dout, const float *x, const float *mean,
                           const float *rstd, int64_t N, int64_t C, int64_t HW, int64_t G) {
    const int64_t Cg = C / G, K = N * HW;
    for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
        const int64_t grp = c / Cg;
        float sw = 0.0f, sb = 0.0f;
        for (int64_t k = threadIdx.x; k < K; k += blockDim.x) {
            int64_t n, i;
            silt_divmod_(k, HW, &n, &i);
            const int64_t idx = (n * C + c) * HW + i, ms = n * G + grp;
            const float g = dout[idx];
            sw += g * ((x[idx] - mean[ms]) * rstd[ms]);
            sb += g;
        }
        sw = silt_team_sum_<TEAM_BLOCK>(sw);
        sb = silt_team_sum_<TEAM_BLOCK>(sb);
        if (threadIdx.x == 0) {
            if (dw) dw[c] += sw;
            if (db) db[c] += sb;
        }
    }
}

static silt_status check_groups(const char *op, int64_t N, int64_t C, int64_t HW, int64_t G) {
    SILT_CUDA_READY();
    if (N < 0 || C < 0 || HW < 0)
        return SILT_FAIL(SILT_ERR_ARG, "%s: negative size (N %lld, C %lld, HW %lld)", op, (long long)N, (long long)C,
                         (long long)HW);
    if (G < 1 || C % G != 0)
        return SILT_FAIL(SILT_ERR_ARG, "%s: %lld groups do not split %lld channels", op, (long long)G, (long long)C);
    return SILT_OK;
}

static unsigned blocks_for(int64_t n) { return (unsigned)(n < 1 ? 1 : (n > 65535 ? 65535 : n)); }

extern "C" silt_status groupnorm_fwd_cuda(float *out, float *mean, float *rstd, const float *x, const float *w,
                                          const float *b, int64_t N, int64_t C, int64_t HW, int64_t G, float eps) {
    SILT_TRY(check_groups("groupnorm_fwd_cuda", N, C, HW, G));
    if (N == 0) return SILT_OK;
    if (C * HW > 0 && (!out || !x)) return SILT_FAIL(SILT_ERR_ARG, "groupnorm_fwd_cuda: NULL out or x");
    groupnorm_fwd_kernel<<<blocks_for(N * G), SILT_ROW_BLOCK>>>(out, mean, rstd, x, w, b, N * G, G, C / G, HW, eps);
    SILT_CUDA_LAUNCHED("groupnorm_fwd_kernel");
    return SILT_OK;
}

extern "C" silt_status groupnorm_bwd_cuda(float *dx, float *dw, float *db, const float *dout, const float *x,
                                          const float *mean, const float *rstd, const float *w, int64_t N, int64_t C,
                                          int64_t HW, int64_t G) {
    SILT_TRY(check_groups("groupnorm_bwd_cuda", N, C, HW, G));
    if (N == 0 || C == 0 || HW == 0 || (!dx && !dw && !db)) return SILT_OK;
    if (!dout || !x || !mean || !rstd)
        return SILT_FAIL(SILT_ERR_ARG, "groupnorm_bwd_cuda: NULL dout, x, mean or rstd");
    if (dx) {
        groupnorm_bwd_dx_kernel<<<blocks_for(N * G), SILT_ROW_BLOCK>>>(dx, dout, x, mean, rstd, w, N * G, G, C / G, HW);
        SILT_CUDA_LAUNCHED("groupnorm_bwd_dx_kernel");
    }
    if (dw || db) {
        groupnorm_param_kernel<<<blocks_for(C), SILT_ROW_BLOCK>>>(dw, db, dout, x, mean, rstd, N, C, HW, G);
        SILT_CUDA_LAUNCHED("groupnorm_param_kernel");
    }
    return SILT_OK;
}

// --- L2 normalise -----------------------------------------------------------------

template <int TEAM>
static __global__ void __launch_bounds__(SILT_ROW_BLOCK)
    l2norm_fwd_kernel(float *out, float *norm, const float *x, int64_t N, int64_t C, float eps) {
    const silt_team_pos_<TEAM> p;
    for (int64_t n = p.row0; n < N; n += p.rstep) {
        const float *xr = x + n * C;
        float s = 0.0f;
        for (int64_t c = p.tid; c < C; c += p.tn) s += xr[c] * xr[c];
        const float nr = sqrtf(silt_team_sum_<TEAM>(s));
        const float inv = 1.0f / (nr > eps ? nr : eps);
        float *yr = out + n * C;
        for (int64_t c = p.tid; c < C; c += p.tn) yr[c] = xr[c] * inv;
        if (p.tid == 0 && norm) norm[n] = nr;
    }
}

// Unclamped rows: dx = (g - y (y.g)) / |x|, y = x / |x|. Clamped rows
// (|x| < eps; y = x / eps is linear): dx = g / eps.
template <int TEAM>
static __global__ void __launch_bounds__(SILT_ROW_BLOCK)
    l2norm_bwd_kernel(float *dx, const float *dout, const float *x, const float *norm, int64_t N, int64_t C, float eps) {
    const silt_team_pos_<TEAM> p;
    for (int64_t n = p.row0; n < N; n += p.rstep) {
        const float *xr = x + n * C, *gr = dout + n * C;
        float *dr = dx + n * C;
        const float nr = norm[n];  // the same for the whole team: the branch is uniform
        if (nr < eps) {
            const float inv = 1.0f / eps;
            for (int64_t c = p.tid; c < C; c += p.tn) dr[c] += gr[c] * inv;
            continue;
        }
        const float inv = 1.0f / nr;
        float yg = 0.0f;
        for (int64_t c = p.tid; c < C; c += p.tn) yg += gr[c] * xr[c] * inv;
        const float ygf = silt_team_sum_<TEAM>(yg);
        for (int64_t c = p.tid; c < C; c += p.tn) dr[c] += (gr[c] - xr[c] * inv * ygf) * inv;
    }
}

extern "C" silt_status l2norm_fwd_cuda(float *out, float *norm, const float *x, int64_t N, int64_t C, float eps) {
    SILT_TRY(check_nc("l2norm_fwd_cuda", N, C));
    if (N == 0) return SILT_OK;
    if (C > 0 && (!out || !x)) return SILT_FAIL(SILT_ERR_ARG, "l2norm_fwd_cuda: NULL out or x");
    LAUNCH_ROWS(l2norm_fwd_kernel, N, C, out, norm, x, N, C, eps);
    return SILT_OK;
}

extern "C" silt_status l2norm_bwd_cuda(float *dx, const float *dout, const float *x, const float *norm, int64_t N,
                                       int64_t C, float eps) {
    SILT_TRY(check_nc("l2norm_bwd_cuda", N, C));
    if (!dx || N == 0 || C == 0) return SILT_OK;
    if (!dout || !x || !norm) return SILT_FAIL(SILT_ERR_ARG, "l2norm_bwd_cuda: NULL dout, x or norm");
    LAUNCH_ROWS(l2norm_bwd_kernel, N, C, dx, dout, x, norm, N, C, eps);
    return SILT_OK;
}
