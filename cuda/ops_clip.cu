// CUDA twins of world-CLIP's InfoNCE (cuda/ops_clip.h; the CPU versions and
// the formulas are in text/world_clip_ops.{h,c}). Sums in double with the
// fixed-order block reductions of cuda/reduce.cuh.
#include "cuda/ops_clip.h"
#include "cuda/reduce.cuh"

extern "C" {
#include "text/world_clip_ops.h"
}

enum { NCE_THREADS = 256, NCE_SUM_THREADS = 1024 };

// e^min(logit_scale, ln 100) as the CPU computes it (expf of a float).
static __device__ __forceinline__ float nce_scale(const float *logit_scale, bool *clamped) {
    const float lsv = logit_scale[0];
    *clamped = lsv > WCLIP_LOGIT_SCALE_MAX;
    return expf(*clamped ? WCLIP_LOGIT_SCALE_MAX : lsv);
}

// Block k < B: row k (elements (k, j), j < M, stride 1; it also zeroes pcol's
// hard-negative columns j >= B of that row); block k >= B: own-caption column
// j = k - B (elements (i, j), i < B, stride M). max of z = scale * (double)sim
// is scale * (double)max(sim): scale > 0 (or 0, where both are 0), and a
// float * float product is exact in double, so this equals the CPU's max over
// the double products. NaN is ignored by fmaxf as by the CPU's fmax.
static __global__ void __launch_bounds__(NCE_THREADS) nce_fwd_kernel(float *prow, float *pcol, double *terms,
                                                                     const float *sim, const float *logit_scale,
                                                                     int64_t B, int64_t M) {
    bool clamped;
    const float scale = nce_scale(logit_scale, &clamped);
    for (int64_t k = blockIdx.x; k < 2 * B; k += gridDim.x) {
        const bool is_row = k < B;
        const int64_t line = is_row ? k : k - B;
        const int64_t base = is_row ? line * M : line, step = is_row ? 1 : M, len = is_row ? M : B;
        float *p = is_row ? prow : pcol;
        float m = -INFINITY;
        for (int64_t t = threadIdx.x; t < len; t += blockDim.x) m = fmaxf(m, sim[base + t * step]);
        m = silt_team_max_<TEAM_BLOCK>(m);
        const double mx = (double)scale * (double)m;
        double s = 0.0;
        for (int64_t t = threadIdx.x; t < len; t += blockDim.x) s += exp((double)scale * (double)sim[base + t * step] - mx);
        s = silt_team_sum_<TEAM_BLOCK, double>(s);
        for (int64_t t = threadIdx.x; t < len; t += blockDim.x) {
            const int64_t e = base + t * step;
            p[e] = (float)(exp((double)scale * (double)sim[e] - mx) / s);
        }
        if (is_row)
            for (int64_t t = B + threadIdx.x; t < M; t += blockDim.x) pcol[line * M + t] = 0.0f;
        if (threadIdx.x == 0) terms[k] = mx + log(s) - (double)scale * (double)sim[line * M + line];
    }
}

// One block: terms summed (thread t takes t, t + 1024, ... in order, then the
// block tree); out = sum / (2B).
static __global__ void __launch_bounds__(NCE_SUM_THREADS) nce_sum_kernel(float *out, const double *terms, int64_t B) {
    double l = 0.0;
    for (int64_t k = threadIdx.x; k < 2 * B; k += blockDim.x) l += terms[k];
    l = silt_team_sum_<TEAM_BLOCK, double>(l);
    if (threadIdx.x == 0) out[0] = (float)(l / (2.0 * (double)B));
}

extern "C" silt_status wclip_infonce_fwd_cuda(float *out, float *prow, float *pcol, double *terms, const float *sim,
                                              const float *logit_scale, int64_t B, int64_t M) {
    SILT_CUDA_READY();
    if (B < 1 || M < B)
        return SILT_FAIL(SILT_ERR_ARG, "wclip_infonce_fwd_cuda: batch %lld, captions %lld (need 1 <= batch <= captions)",
                         (long long)B, (long long)M);
    if (!out || !prow || !pcol || !terms || !sim || !logit_scale)
        return SILT_FAIL(SILT_ERR_ARG, "wclip_infonce_fwd_cuda: NULL buffer");
    unsigned grid = (unsigned)(2 * B < 65535 ? 2 * B : 65535);
    nce_fwd_kernel<<<grid, NCE_THREADS>>>(prow, pcol, terms, sim, logit_scale, B, M);
    SILT_CUDA_LAUNCHED("nce_fwd_kernel");
    nce_sum_kernel<<<1, NCE_SUM_THREADS>>>(out, terms, B);
    SILT_CUDA_LAUNCHED("nce_sum_kernel");
    return SILT_OK;
}

// dz of element (i, j) in double, as the CPU: prow + pcol added in float.
static __device__ __forceinline__ double nce_dz(const float *prow, const float *pcol, int64_t i, int64_t j, int64_t B,
                                                int64_t M, float go) {
    const float pp = prow[i * M + j] + pcol[i * M + j];
    return ((double)pp - (i == j ? 2.0 : 0.0)) / (2.0 * (double)B) * (double)go;
}

static __global__ void nce_bwd_sim_kernel(float *dsim, const float *dout, const float *prow, const float *pcol,
                                          const float *logit_scale, int64_t B, int64_t M) {
    bool clamped;
    const float scale = nce_scale(logit_scale, &clamped);
    const float go = dout[0];
    const int64_t n = B * M;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t i = e / M, j = e - i * M;
        dsim[e] += (float)(nce_dz(prow, pcol, i, j, B, M, go) * (double)scale);
    }
}

// One block: dls += (float)(sum over (i, j) of dz * scale * sim), unless clamped.
static __global__ void __launch_bounds__(NCE_SUM_THREADS)
    nce_bwd_scale_kernel(float *dls, const float *dout, const float *sim, const float *prow, const float *pcol,
                         const float *logit_scale, int64_t B, int64_t M) {
    bool clamped;
    const float scale = nce_scale(logit_scale, &clamped);
    if (clamped) return;  // the same for every thread: no barrier is skipped by some only
    const float go = dout[0];
    const int64_t n = B * M;
    double acc = 0.0;
    for (int64_t e = threadIdx.x; e < n; e += blockDim.x) {
        const int64_t i = e / M, j = e - i * M;
        acc += nce_dz(prow, pcol, i, j, B, M, go) * (double)scale * (double)sim[e];
    }
    acc = silt_team_sum_<TEAM_BLOCK, double>(acc);
    if (threadIdx.x == 0) dls[0] += (float)acc;
}

extern "C" silt_status wclip_infonce_bwd_cuda(float *dsim, float *dls, const float *dout, const float *sim,
                                              const float *prow, const float *pcol, const float *logit_scale,
                                              int64_t B, int64_t M) {
    SILT_CUDA_READY();
    if (B < 1 || M < B)
        return SILT_FAIL(SILT_ERR_ARG, "wclip_infonce_bwd_cuda: batch %lld, captions %lld (need 1 <= batch <= captions)",
                         (long long)B, (long long)M);
    if (!dsim && !dls) return SILT_OK;
    if (!dout || !sim || !prow || !pcol || !logit_scale)
        return SILT_FAIL(SILT_ERR_ARG, "wclip_infonce_bwd_cuda: NULL buffer");
    if (dsim) {
        nce_bwd_sim_kernel<<<silt_cuda_grid_(B * M), SILT_CUDA_BLOCK>>>(dsim, dout, prow, pcol, logit_scale, B, M);
        SILT_CUDA_LAUNCHED("nce_bwd_sim_kernel");
    }
    if (dls) {
        nce_bwd_scale_kernel<<<1, NCE_SUM_THREADS>>>(dls, dout, sim, prow, pcol, logit_scale, B, M);
        SILT_CUDA_LAUNCHED("nce_bwd_scale_kernel");
    }
    return SILT_OK;
}
