// CUDA twins of the adaLN modulation kernels (cuda/ops_modulate.h; formulas
// in core/ops_modulate.c: Peebles & Xie 2023, sec. 3.2).
//
// Elementwise parts run over (B*T rows, C columns) with the row index from the
// launch shape (silt_rows_launch), so no per-element division; the (B, C)
// parameter grads are column sums over each batch's T rows (silt_colsum_).
#include "cuda/ops_modulate.h"
#include "cuda/reduce.cuh"

#define ROWS_LOOP(rows)                                                                             \
    for (int64_t r = (int64_t)blockIdx.x * blockDim.y + threadIdx.y; r < (rows);                   \
         r += (int64_t)gridDim.x * blockDim.y)
#define COLS_LOOP(cols) for (int64_t c = threadIdx.x; c < (cols); c += blockDim.x)

static __global__ void modulate_fwd_kernel(float *out, const float *x, const float *shift, const float *scale,
                                           int64_t T, int64_t rows, int64_t C) {
    ROWS_LOOP(rows) {
        const int64_t b = r / T;
        const float *xr = x + r * C, *sh = shift + b * C, *sc = scale + b * C;
        float *yr = out + r * C;
        COLS_LOOP(C) yr[c] = xr[c] * (1.0f + sc[c]) + sh[c];
    }
}

static __global__ void modulate_bwd_dx_kernel(float *dx, const float *dout, const float *scale, int64_t T,
                                              int64_t rows, int64_t C) {
    ROWS_LOOP(rows) {
        const float *gr = dout + r * C, *sc = scale + (r / T) * C;
        float *dr = dx + r * C;
        COLS_LOOP(C) dr[c] += gr[c] * (1.0f + sc[c]);
    }
}

// dshift[b, c] += sum_t dout, dscale[b, c] += sum_t dout * x.
struct modulate_param_term {
    const float *dout, *x;
    int64_t T, C;
    __device__ __forceinline__ void operator()(int64_t b, int64_t t, int64_t c, float (&acc)[2]) const {
        const int64_t i = (b * T + t) * C + c;
        const float g = dout[i];
        acc[0] += g;
        acc[1] += g * x[i];
    }
};

static __global__ void gated_add_fwd_kernel(float *out, const float *x, const float *gate, const float *y, int64_t T,
                                            int64_t rows, int64_t C) {
    ROWS_LOOP(rows) {
        const float *xr = x + r * C, *yr = y + r * C, *gt = gate + (r / T) * C;
        float *o = out + r * C;
        COLS_LOOP(C) o[c] = xr[c] + gt[c] * yr[c];
    }
}

static __global__ void gated_add_bwd_kernel(float *dx, float *dy, const float *dout, const float *gate, int64_t T,
                                            int64_t rows, int64_t C) {
    ROWS_LOOP(rows) {
        const float *gr = dout + r * C, *gt = gate + (r / T) * C;
        COLS_LOOP(C) {
            const float g = gr[c];
            if (dx) dx[r * C + c] += g;
            if (dy) dy[r * C + c] += g * gt[c];
        }
    }
}

// dgate[b, c] += sum_t dout * y.
struct gate_param_term {
    const float *dout, *y;
    int64_t T, C;
    __device__ __forceinline__ void operator()(int64_t b, int64_t t, int64_t c, float (&acc)[1]) const {
        const int64_t i = (b * T + t) * C + c;
        acc[0] += dout[i] * y[i];
    }
};

// Layer norm without affine parameters, then modulate, written as bf16: the
// input of the bf16-weight linears after an adaLN (DiT, SD3). One pass instead
// of three (layernorm, modulate, the linear's rounding), and the result is
// half the bytes. One team per row as layernorm_fwd_kernel (cuda/ops_norm.cu),
// with the same arithmetic: the mean summed in double, y = (x - m) * rstd in
// fp32, then y * (1 + scale) + shift, then rounded.
template <int TEAM>
static __global__ void __launch_bounds__(SILT_ROW_BLOCK)
    ln_modulate_bf16_kernel(uint16_t *out, const float *x, const float *shift, const float *scale, int64_t T,
                            int64_t N, int64_t C, float eps) {
    const silt_team_pos_<TEAM> p;
    for (int64_t n = p.row0; n < N; n += p.rstep) {
        const float *xr = x + n * C, *sh = shift + (n / T) * C, *sc = scale + (n / T) * C;
        float m, r;
        silt_row_mean_rstd_<TEAM>(p, xr, C, eps, &m, &r);
        uint16_t *yr = out + n * C;
        for (int64_t c = p.tid; c < C; c += p.tn) {
            const float y = (xr[c] - m) * r;
            yr[c] = silt_bf16_rn_(y * (1.0f + sc[c]) + sh[c]);
        }
    }
}

static silt_status check_btc(const char *op, int64_t B, int64_t T, int64_t C, bool *skip) {
    SILT_CUDA_READY();
    if (B < 0 || T < 0 || C < 0)
        return SILT_FAIL(SILT_ERR_ARG, "%s: negative size (B %lld, T %lld, C %lld)", op, (long long)B, (long long)T,
                         (long long)C);
    *skip = B == 0 || T == 0 || C == 0;
    return SILT_OK;
}

extern "C" silt_status modulate_fwd_cuda(float *out, const float *x, const float *shift, const float *scale, int64_t B,
                                         int64_t T, int64_t C) {
    bool skip = false;
    SILT_TRY(check_btc("modulate_fwd_cuda", B, T, C, &skip));
    if (skip) return SILT_OK;
    if (!out || !x || !shift || !scale) return SILT_FAIL(SILT_ERR_ARG, "modulate_fwd_cuda: NULL buffer");
    silt_rows_launch_ l = silt_rows_launch(B * T, C);
    modulate_fwd_kernel<<<l.grid, l.block>>>(out, x, shift, scale, T, B * T, C);
    SILT_CUDA_LAUNCHED("modulate_fwd_kernel");
    return SILT_OK;
}

extern "C" silt_status ln_modulate_bf16_fwd_cuda(uint16_t *out, const float *x, const float *shift, const float *scale,
                                                 int64_t B, int64_t T, int64_t C, float eps) {
    bool skip = false;
    SILT_TRY(check_btc("ln_modulate_bf16_fwd_cuda", B, T, C, &skip));
    if (skip) return SILT_OK;
    if (!out || !x || !shift || !scale) return SILT_FAIL(SILT_ERR_ARG, "ln_modulate_bf16_fwd_cuda: NULL buffer");
    const int64_t N = B * T;
    if (silt_team_is_block_(N, C))
        ln_modulate_bf16_kernel<TEAM_BLOCK><<<silt_team_grid_(N, true), SILT_ROW_BLOCK>>>(out, x, shift, scale, T, N, C,
                                                                                         eps);
    else
        ln_modulate_bf16_kernel<TEAM_WARP><<<silt_team_grid_(N, false), SILT_ROW_BLOCK>>>(out, x, shift, scale, T, N,
                                                                                         C, eps);
    SILT_CUDA_LAUNCHED("ln_modulate_bf16_kernel");
    return SILT_OK;
}

extern "C" silt_status modulate_bwd_cuda(float *dx, float *dshift, float *dscale, const float *dout, const float *x,
                                         const float *scale, int64_t B, int64_t T, int64_t C) {
    bool skip = false;
    SILT_TRY(check_btc("modulate_bwd_cuda", B, T, C, &skip));
    if (skip || (!dx && !dshift && !dscale)) return SILT_OK;
    if (!dout || (dx && !scale) || (dscale && !x)) return SILT_FAIL(SILT_ERR_ARG, "modulate_bwd_cuda: NULL buffer");
    if (dx) {
        silt_rows_launch_ l = silt_rows_launch(B * T, C);
        modulate_bwd_dx_kernel<<<l.grid, l.block>>>(dx, dout, scale, T, B * T, C);
        SILT_CUDA_LAUNCHED("modulate_bwd_dx_kernel");
    }
    if (dshift || dscale) {
        // dscale needs x; when only dshift is wanted x may be NULL, so read
        // dout in its place (the unused product is discarded).
        modulate_param_term f{dout, x ? x : dout, T, C};
        SILT_TRY((silt_colsum_<float, 2>("modulate_bwd_cuda: colsum", f, dshift, dscale, (float *)NULL, B, T, C, 1, T,
                                        true, 1.0f)));
    }
    return SILT_OK;
}

extern "C" silt_status gated_add_fwd_cuda(float *out, const float *x, const float *gate, const float *y, int64_t B,
                                          int64_t T, int64_t C) {
    bool skip = false;
    SILT_TRY(check_btc("gated_add_fwd_cuda", B, T, C, &skip));
    if (skip) return SILT_OK;
    if (!out || !x || !gate || !y) return SILT_FAIL(SILT_ERR_ARG, "gated_add_fwd_cuda: NULL buffer");
    silt_rows_launch_ l = silt_rows_launch(B * T, C);
    gated_add_fwd_kernel<<<l.grid, l.block>>>(out, x, gate, y, T, B * T, C);
    SILT_CUDA_LAUNCHED("gated_add_fwd_kernel");
    return SILT_OK;
}

extern "C" silt_status gated_add_bwd_cuda(float *dx, float *dgate, float *dy, const float *dout, const float *gate,
                                          const float *y, int64_t B, int64_t T, int64_t C) {
    bool skip = false;
    SILT_TRY(check_btc("gated_add_bwd_cuda", B, T, C, &skip));
    if (skip || (!dx && !dgate && !dy)) return SILT_OK;
    if (!dout || (dy && !gate) || (dgate && !y)) return SILT_FAIL(SILT_ERR_ARG, "gated_add_bwd_cuda: NULL buffer");
    if (dx || dy) {
        silt_rows_launch_ l = silt_rows_launch(B * T, C);
        gated_add_bwd_kernel<<<l.grid, l.block>>>(dx, dy, dout, gate, T, B * T, C);
        SILT_CUDA_LAUNCHED("gated_add_bwd_kernel");
    }
    if (dgate)
        SILT_TRY((silt_colsum_<float, 1>("gated_add_bwd_cuda: colsum", gate_param_term{dout, y, T, C}, dgate, NULL,
                                        (float *)NULL, B, T, C, 1, T, true, 1.0f)));
    return SILT_OK;
}
