// CUDA twins of softmax_fwd_cpu / softmax_bwd_cpu (cuda/ops_softmax.h; the
// CPU versions are in core/ops_attention.c). One team per row, three passes:
// max, sum of exp(x - max), write exp(x - max) / sum. exp is recomputed in
// the last pass (expf is deterministic, so the same value as in the sum) and
// the row is re-read from L1/L2. Writing each element only after the row's
// reads are done keeps out == x (in place) safe.
#include "cuda/ops_softmax.h"
#include "cuda/reduce.cuh"

template <int TEAM>
static __global__ void __launch_bounds__(SILT_ROW_BLOCK)
    softmax_fwd_kernel(float *out, const float *x, int64_t N, int64_t C) {
    const silt_team_pos_<TEAM> p;
    for (int64_t n = p.row0; n < N; n += p.rstep) {
        const float *xr = x + n * C;
        float *yr = out + n * C;
        float m = -INFINITY;
        for (int64_t c = p.tid; c < C; c += p.tn) m = fmaxf(m, xr[c]);
        m = silt_team_max_<TEAM>(m);
        if (m == -INFINITY) {  // fully masked row (the same m for the whole team)
            for (int64_t c = p.tid; c < C; c += p.tn) yr[c] = 0.0f;
            continue;
        }
        float s = 0.0f;
        for (int64_t c = p.tid; c < C; c += p.tn) s += expf(xr[c] - m);
        const float inv = 1.0f / silt_team_sum_<TEAM>(s);
        for (int64_t c = p.tid; c < C; c += p.tn) yr[c] = expf(xr[c] - m) * inv;
    }
}

template <int TEAM>
static __global__ void __launch_bounds__(SILT_ROW_BLOCK)
    softmax_bwd_kernel(float *dx, const float *dout, const float *out, int64_t N, int64_t C) {
    const silt_team_pos_<TEAM> p;
    for (int64_t n = p.row0; n < N; n += p.rstep) {
        const float *y = out + n * C, *gy = dout + n * C;
        float s = 0.0f;
        for (int64_t c = p.tid; c < C; c += p.tn) s += gy[c] * y[c];
        const float sf = silt_team_sum_<TEAM>(s);
        float *d = dx + n * C;
        for (int64_t c = p.tid; c < C; c += p.tn) d[c] += y[c] * (gy[c] - sf);
    }
}

static silt_status check_nc(const char *op, int64_t N, int64_t C, bool any_null, bool *skip) {
    SILT_CUDA_READY();
    if (N < 0 || C < 0) return SILT_FAIL(SILT_ERR_ARG, "%s: negative size (N %lld, C %lld)", op, (long long)N, (long long)C);
    *skip = N == 0 || C == 0;
    if (!*skip && any_null) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL buffer", op);
    return SILT_OK;
}

extern "C" silt_status softmax_fwd_cuda(float *out, const float *x, int64_t N, int64_t C) {
    bool skip = false;
    SILT_TRY(check_nc("softmax_fwd_cuda", N, C, !out || !x, &skip));
    if (skip) return SILT_OK;
    bool blk = silt_team_is_block_(N, C);
    if (blk)
        softmax_fwd_kernel<TEAM_BLOCK><<<silt_team_grid_(N, true), SILT_ROW_BLOCK>>>(out, x, N, C);
    else
        softmax_fwd_kernel<TEAM_WARP><<<silt_team_grid_(N, false), SILT_ROW_BLOCK>>>(out, x, N, C);
    SILT_CUDA_LAUNCHED("softmax_fwd_kernel");
    return SILT_OK;
}

extern "C" silt_status softmax_bwd_cuda(float *dx, const float *dout, const float *out, int64_t N, int64_t C) {
    bool skip = false;
    SILT_TRY(check_nc("softmax_bwd_cuda", N, C, !dout || !out, &skip));
    if (skip || !dx) return SILT_OK;
    bool blk = silt_team_is_block_(N, C);
    if (blk)
        softmax_bwd_kernel<TEAM_BLOCK><<<silt_team_grid_(N, true), SILT_ROW_BLOCK>>>(dx, dout, out, N, C);
    else
        softmax_bwd_kernel<TEAM_WARP><<<silt_team_grid_(N, false), SILT_ROW_BLOCK>>>(dx, dout, out, N, C);
    SILT_CUDA_LAUNCHED("softmax_bwd_kernel");
    return SILT_OK;
}
