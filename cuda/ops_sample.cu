// CUDA twins of the samplers' step update and guidance's row combination
// (see cuda/ops_sample.h). Each thread owns whole elements; the arithmetic
// is sampler_update_cpu's (sample/samplers.c), line for line.
#include <math.h>

#include "cuda/common.cuh"
#include "cuda/ops_sample.h"
#include "core/philox.h"

__device__ static inline float x0_of(const sampler_update &u, float x, float m) {
    switch (u.x0_form) {
    case SAMPLER_X0_EPS_VP: return (x - u.x0_c1 * m) / u.x0_c2;
    case SAMPLER_X0_V_VP: return u.x0_c2 * x - u.x0_c1 * m;
    case SAMPLER_X0_EPS_K: return x - u.x0_c1 * m;
    case SAMPLER_X0_V_K: return m * u.x0_c2 + x / u.x0_c3;
    default: return x - u.x0_c1 * m;
    }
}

__device__ static inline float clip_x0(const sampler_update &u, float x0) {
    if (!u.clip) return x0;
    return x0 < -u.clip_range ? -u.clip_range : (x0 > u.clip_range ? u.clip_range : x0);
}

__global__ void sampler_update_k(sampler_update u, float *x, const float *mo, const float *z, float *prev) {
    for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < u.n; j += (int64_t)gridDim.x * blockDim.x) {
        const int64_t o = u.learned ? (j / u.per) * 2 * u.per + j % u.per : j;
        const float xj = x[j], m = mo[o];
        float r;
        switch (u.kind) {
        case SAMPLER_UPDATE_DDPM: {
            float x0 = clip_x0(u, x0_of(u, xj, m));
            r = u.c0 * x0 + u.cx * xj;
            if (z) {
                float sd = u.sd;
                if (u.learned) {
                    double frac = ((double)mo[o + u.per] + 1) / 2;
                    sd = (float)exp(0.5 * (frac * u.max_log + (1 - frac) * u.min_log));
                }
                r = r + sd * z[j];
            }
            break;
        }
        case SAMPLER_UPDATE_DDIM: {
            float x0 = clip_x0(u, x0_of(u, xj, m));
            float eps = u.v_pred ? u.sa * m + u.sb * xj : m;
            r = u.c0 * x0 + u.cdir * eps;
            if (z) r = r + u.sd * z[j];
            break;
        }
        case SAMPLER_UPDATE_EULER: {
            float x0 = x0_of(u, xj, m);
            float d = (xj - x0) / u.sigma;
            r = xj + d * u.dt;
            if (z) r = r + z[j] * u.up;
            break;
        }
        case SAMPLER_UPDATE_DPM: {
            float m0 = x0_of(u, xj, m);
            if (u.first) {
                r = u.cx * xj - u.cd * m0;
            } else {
                float d1 = u.c1 * (m0 - prev[j]);
                r = u.cx * xj - u.cd * m0 - 0.5f * u.cd * d1;
            }
            prev[j] = m0;
            break;
        }
        default: r = xj + u.dt * m; break;
        }
        x[j] = r;
    }
}

extern "C" silt_status sampler_update_cuda(const sampler_update *u, float *x, const float *mo, const float *z,
                                           float *prev) {
    if (!u || u->n < 0 || u->per < 1 || u->n % u->per)
        return SILT_FAIL(SILT_ERR_ARG, "sampler_update_cuda: bad sizes");
    if (u->n == 0) return SILT_OK;
    if (!x || !mo || (u->kind == SAMPLER_UPDATE_DPM && !prev))
        return SILT_FAIL(SILT_ERR_ARG, "sampler_update_cuda: NULL buffer");
    SILT_CUDA_READY();
    sampler_update_k<<<silt_cuda_grid_(u->n), SILT_CUDA_BLOCK>>>(*u, x, mo, z, prev);
    SILT_CUDA_LAUNCHED("sampler_update_k");
    return SILT_OK;
}

__global__ void guide_combine_k(float *out, const float *pred, int64_t batch, int64_t row, int64_t out_row,
                                int64_t guided, int bc, int bu, int bp, float g, float s) {
    const int64_t blk = row * batch, total = batch * out_row;
    for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < total; k += (int64_t)gridDim.x * blockDim.x) {
        const int64_t b = k / out_row, i = k % out_row;
        const float ec = pred[bc * blk + b * row + i];
        float e = ec;
        if (i < guided) {
            if (bu >= 0) {
                const float eu = pred[bu * blk + b * row + i];
                e = eu + g * (ec - eu);
            }
            if (bp >= 0) e += s * (ec - pred[bp * blk + b * row + i]);
        }
        out[k] = e;
    }
}

extern "C" silt_status guide_combine_fwd_cuda(float *out, const float *pred, int64_t batch, int64_t row,
                                              int64_t out_row, int64_t guided, int blk_cond, int blk_uncond,
                                              int blk_perturbed, float cfg, float scale) {
    if (batch < 0 || row < 0 || out_row < 0 || out_row > row || guided < 0 || guided > out_row || blk_cond < 0)
        return SILT_FAIL(SILT_ERR_ARG, "guide_combine_fwd_cuda: bad sizes");
    if (batch == 0 || out_row == 0) return SILT_OK;
    if (!out || !pred) return SILT_FAIL(SILT_ERR_ARG, "guide_combine_fwd_cuda: NULL buffer");
    SILT_CUDA_READY();
    guide_combine_k<<<silt_cuda_grid_(batch * out_row), SILT_CUDA_BLOCK>>>(out, pred, batch, row, out_row, guided,
                                                                           blk_cond, blk_uncond, blk_perturbed, cfg,
                                                                           scale);
    SILT_CUDA_LAUNCHED("guide_combine_k");
    return SILT_OK;
}

// --- rectified-flow training pairs (flow_pair_cpu's twin) ----------------------------

static __global__ void flow_pair_kernel(float *xt, float *target, const float *z, const float *sig, int64_t n,
                                        int64_t per, double shift, double scale, uint64_t seed, uint64_t stream0) {
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (int64_t)gridDim.x * blockDim.x) {
        const int64_t i = j / per, k = j - i * per;
        const float s = sig[i], x0 = (float)(((double)z[j] - shift) * scale);
        const float nz = silt_philox_normal_at(seed, stream0 + (uint64_t)i, (uint64_t)k);
        xt[j] = __fadd_rn(__fmul_rn(__fsub_rn(1.0f, s), x0), __fmul_rn(s, nz));  // the CPU's order, no FMA
        target[j] = __fsub_rn(nz, x0);
    }
}

extern "C" silt_status flow_pair_cuda(float *xt, float *target, const float *z, const float *sig, int64_t B,
                                      int64_t per, double shift, double scale, uint64_t seed, uint64_t stream0) {
    SILT_CUDA_READY();
    if (B < 0 || per < 0) return SILT_FAIL(SILT_ERR_ARG, "flow_pair_cuda: negative size (B %lld, per %lld)",
                                           (long long)B, (long long)per);
    if (B == 0 || per == 0) return SILT_OK;
    if (!xt || !target || !z || !sig) return SILT_FAIL(SILT_ERR_ARG, "flow_pair_cuda: NULL buffer");
    const int64_t n = B * per;
    flow_pair_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(xt, target, z, sig, n, per, shift, scale, seed, stream0);
    SILT_CUDA_LAUNCHED("flow_pair_kernel");
    return SILT_OK;
}
