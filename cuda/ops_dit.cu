// CUDA twins of the DiT-specific kernels (cuda/ops_dit.h): q/k/v head split,
// the per-head perturbation mix, the SEG query blur, and the patch gather /
// unpatchify token layouts. All are index maps or short weighted sums: one
// thread per output element in a grid-stride loop over int64 indices, fp32
// arithmetic in the CPU's order (so the results equal the CPU's, or differ
// by the rounding of fused multiply-adds).
#include "cuda/common.cuh"
#include "cuda/ops_dit.h"

static silt_status dit_check(const char *op, int64_t n, const void *out, const void *in) {
    SILT_CUDA_READY();
    if (n < 0) return SILT_FAIL(SILT_ERR_ARG, "%s: negative size", op);
    if (n > 0 && (!out || !in)) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL buffer", op);
    return SILT_OK;
}

// --- q/k/v split ------------------------------------------------------------------------

// Output element e of the stacked (3, B, H, T, Dh) view.
static __global__ void split_qkv_kernel(float *__restrict__ q, float *__restrict__ k, float *__restrict__ v,
                                        const float *__restrict__ qkv, int64_t B, int64_t T, int64_t H, int64_t Dh) {
    int64_t per = B * H * T * Dh, n = 3 * per, D = H * Dh;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t s = e / per, r = e - s * per;
        int64_t d = r % Dh, t = (r / Dh) % T, h = (r / (Dh * T)) % H, b = r / (Dh * T * H);
        float val = qkv[(b * T + t) * 3 * D + s * D + h * Dh + d];
        float *dst = s == 0 ? q : (s == 1 ? k : v);
        dst[r] = val;
    }
}

extern "C" silt_status dit_split_qkv_fwd_cuda(float *q, float *k, float *v, const float *qkv, int64_t B, int64_t T,
                                              int64_t H, int64_t Dh) {
    if (B < 0 || T < 0 || H < 0 || Dh < 0) return SILT_FAIL(SILT_ERR_ARG, "dit_split_qkv_fwd_cuda: negative size");
    int64_t n = 3 * B * T * H * Dh;
    SILT_TRY(dit_check("dit_split_qkv_fwd_cuda", n, q, qkv));
    if (n == 0) return SILT_OK;
    if (!k || !v) return SILT_FAIL(SILT_ERR_ARG, "dit_split_qkv_fwd_cuda: NULL buffer");
    split_qkv_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(q, k, v, qkv, B, T, H, Dh);
    SILT_CUDA_LAUNCHED("split_qkv_kernel");
    return SILT_OK;
}

// --- heads merged, as bf16 ---------------------------------------------------------------

// One thread per output element (coalesced writes; each head's Dh values are
// contiguous on both sides).
static __global__ void merge_heads_bf16_kernel(uint16_t *__restrict__ out, const float *__restrict__ a, int64_t B,
                                               int64_t H, int64_t T, int64_t Dh) {
    const int64_t n = B * T * H * Dh;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t d = e % Dh, h = (e / Dh) % H, t = (e / (Dh * H)) % T, b = e / (Dh * H * T);
        out[e] = silt_bf16_rn_(a[((b * H + h) * T + t) * Dh + d]);
    }
}

extern "C" silt_status dit_merge_heads_bf16_fwd_cuda(uint16_t *out, const float *a, int64_t B, int64_t H, int64_t T,
                                                     int64_t Dh) {
    SILT_CUDA_READY();
    if (B < 0 || H < 0 || T < 0 || Dh < 0) return SILT_FAIL(SILT_ERR_ARG, "dit_merge_heads_bf16_fwd_cuda: negative size");
    const int64_t n = B * H * T * Dh;
    if (n == 0) return SILT_OK;
    if (!out || !a) return SILT_FAIL(SILT_ERR_ARG, "dit_merge_heads_bf16_fwd_cuda: NULL buffer");
    merge_heads_bf16_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(out, a, B, H, T, Dh);
    SILT_CUDA_LAUNCHED("merge_heads_bf16_kernel");
    return SILT_OK;
}

// --- head mix ---------------------------------------------------------------------------

static __global__ void head_mix_kernel(float *__restrict__ out, const float *__restrict__ a,
                                       const float *__restrict__ tgt, const float *__restrict__ u, int64_t B,
                                       int64_t H, int64_t T, int64_t Dv, int64_t rb, int64_t R, int64_t Tt) {
    int64_t n = B * H * T * Dv;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t d = e % Dv, t = (e / Dv) % T, h = (e / (Dv * T)) % H, b = e / (Dv * T * H);
        float w = (b >= rb && b < rb + R) ? u[h] : 0.0f;
        if (w == 0.0f) {
            out[e] = a[e];
            continue;
        }
        float y = tgt[(((b - rb) * H + h) * Tt + (Tt == 1 ? 0 : t)) * Dv + d];
        out[e] = (1.0f - w) * a[e] + w * y;
    }
}

extern "C" silt_status dit_head_mix_fwd_cuda(float *out, const float *a, const float *tgt, const float *u, int64_t B,
                                             int64_t H, int64_t T, int64_t Dv, int64_t rb, int64_t R, int64_t Tt) {
    if (B < 0 || H < 0 || T < 0 || Dv < 0 || R < 0 || rb < 0 || rb + R > B || (Tt != 1 && Tt != T))
        return SILT_FAIL(SILT_ERR_ARG, "dit_head_mix_fwd_cuda: bad sizes (B %lld, H %lld, T %lld, rows [%lld, +%lld), Tt %lld)",
                         (long long)B, (long long)H, (long long)T, (long long)rb, (long long)R, (long long)Tt);
    int64_t n = B * H * T * Dv;
    SILT_TRY(dit_check("dit_head_mix_fwd_cuda", n, out, a));
    if (n == 0) return SILT_OK;
    if (R > 0 && (!tgt || !u)) return SILT_FAIL(SILT_ERR_ARG, "dit_head_mix_fwd_cuda: NULL target or u");
    head_mix_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(out, a, tgt, u, B, H, T, Dv, rb, R, Tt);
    SILT_CUDA_LAUNCHED("head_mix_kernel");
    return SILT_OK;
}

// --- SEG blur ---------------------------------------------------------------------------

// torch F.pad(mode="reflect"), as dit_ops.c's reflect().
static __device__ __forceinline__ int reflect_i(int p, int n) {
    if (n == 1) return 0;
    if (p < 0) p = -p;
    if (p >= n) p = 2 * (n - 1) - p;
    return p;
}

// One axis of the blur over every selected (r, h) slab (gh, gw, D); heads with
// sel == 0 are copied (axis 0 pass only writes them, from x0 = the original).
// axis 1 (j): out[i,j] = sum_b w[b] x[i, refl(j+b-r)]; axis 0 (i) likewise.
static __global__ void blur_axis_kernel(float *__restrict__ out, const float *__restrict__ x,
                                        const float *__restrict__ x0, const float *__restrict__ sel, int64_t R,
                                        int64_t H, int gh, int gw, int64_t D, const float *__restrict__ w, int k,
                                        int axis) {
    int64_t slab = (int64_t)gh * gw * D, n = R * H * slab;
    int r = k / 2;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t rh = e / slab, within = e - rh * slab, h = rh % H;
        if (sel[h] == 0.0f) {
            if (axis == 0) out[e] = x0[e];
            continue;
        }
        int64_t d = within % D, tok = within / D;
        int i = (int)(tok / gw), j = (int)(tok % gw);
        const float *s = x + rh * slab;
        float acc = 0.0f;
        for (int b = 0; b < k; b++) {
            int si = axis == 0 ? reflect_i(i + b - r, gh) : i, sj = axis == 1 ? reflect_i(j + b - r, gw) : j;
            acc += w[b] * s[((int64_t)si * gw + sj) * D + d];
        }
        out[e] = acc;
    }
}

// Infinite blur: every token of a selected head gets the mean query (double
// sum over tokens, as the CPU). One thread per (r, h, d).
static __global__ void blur_mean_kernel(float *__restrict__ out, const float *__restrict__ x,
                                        const float *__restrict__ sel, int64_t R, int64_t H, int64_t T, int64_t D) {
    int64_t n = R * H * D;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t d = e % D, rh = e / D, h = rh % H;
        const float *s = x + rh * T * D + d;
        float *o = out + rh * T * D + d;
        if (sel[h] == 0.0f) {
            for (int64_t t = 0; t < T; t++) o[t * D] = s[t * D];
            continue;
        }
        double acc = 0;
        for (int64_t t = 0; t < T; t++) acc += s[t * D];
        float m = (float)(acc / (double)T);
        for (int64_t t = 0; t < T; t++) o[t * D] = m;
    }
}

extern "C" silt_status dit_seg_blur_fwd_cuda(float *out, float *tmp, const float *x, const float *sel, int64_t R,
                                             int64_t H, int gh, int gw, int64_t D, const float *wi, int ki,
                                             const float *wj, int kj) {
    if (R < 0 || H < 0 || gh < 1 || gw < 1 || D < 0)
        return SILT_FAIL(SILT_ERR_ARG, "dit_seg_blur_fwd_cuda: bad sizes (R %lld, H %lld, grid %dx%d, D %lld)",
                         (long long)R, (long long)H, gh, gw, (long long)D);
    int64_t T = (int64_t)gh * gw, n = R * H * T * D;
    SILT_TRY(dit_check("dit_seg_blur_fwd_cuda", n, out, x));
    if (n == 0) return SILT_OK;
    if (!sel) return SILT_FAIL(SILT_ERR_ARG, "dit_seg_blur_fwd_cuda: NULL sel");
    if (!wj) {
        int64_t m = R * H * D;
        blur_mean_kernel<<<silt_cuda_grid_(m), SILT_CUDA_BLOCK>>>(out, x, sel, R, H, T, D);
        SILT_CUDA_LAUNCHED("blur_mean_kernel");
        return SILT_OK;
    }
    if (!tmp || !wi || ki < 1 || kj < 1)
        return SILT_FAIL(SILT_ERR_ARG, "dit_seg_blur_fwd_cuda: NULL scratch or taps, or no taps (%d, %d)", ki, kj);
    // Along j into tmp (selected heads only), then along i into out (the
    // unselected heads copied from x in the same pass).
    blur_axis_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(tmp, x, x, sel, R, H, gh, gw, D, wj, kj, 1);
    SILT_CUDA_LAUNCHED("blur_axis_kernel");
    blur_axis_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(out, tmp, x, sel, R, H, gh, gw, D, wi, ki, 0);
    SILT_CUDA_LAUNCHED("blur_axis_kernel");
    return SILT_OK;
}

// --- patch gather / unpatchify ------------------------------------------------------------

// patches[b, i*w + j, (c*p + pi)*p + pj] = x[b, c, i*p + pi, j*p + pj]
static __global__ void patch_gather_kernel(float *__restrict__ patches, const float *__restrict__ x, int64_t B,
                                           int64_t C, int64_t h, int64_t w, int64_t p) {
    int64_t K = C * p * p, n = B * h * w * K, Hx = h * p, Wx = w * p;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t col = e % K, tok = (e / K) % (h * w), b = e / (K * h * w);
        int64_t pj = col % p, pi = (col / p) % p, c = col / (p * p);
        int64_t i = tok / w, j = tok % w;
        patches[e] = x[((b * C + c) * Hx + i * p + pi) * Wx + j * p + pj];
    }
}

extern "C" silt_status dit_patch_gather_fwd_cuda(float *patches, const float *x, int64_t B, int64_t C, int64_t h,
                                                 int64_t w, int64_t p) {
    if (B < 0 || C < 0 || h < 0 || w < 0 || p < 1)
        return SILT_FAIL(SILT_ERR_ARG, "dit_patch_gather_fwd_cuda: bad sizes");
    int64_t n = B * h * w * C * p * p;
    SILT_TRY(dit_check("dit_patch_gather_fwd_cuda", n, patches, x));
    if (n == 0) return SILT_OK;
    patch_gather_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(patches, x, B, C, h, w, p);
    SILT_CUDA_LAUNCHED("patch_gather_kernel");
    return SILT_OK;
}

// out[b, c, yy, xx] = x[b, (yy/p)*w + xx/p, ((yy%p)*p + xx%p)*C + c]  (embed.c unpatch_src)
static __global__ void unpatchify_kernel(float *__restrict__ out, const float *__restrict__ x, int64_t B, int64_t h,
                                         int64_t w, int64_t p, int64_t C) {
    int64_t Ho = h * p, Wo = w * p, n = B * C * Ho * Wo, bs = h * w * p * p * C;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t xx = e % Wo, yy = (e / Wo) % Ho, c = (e / (Wo * Ho)) % C, b = e / (Wo * Ho * C);
        int64_t i = yy / p, pi = yy % p, j = xx / p, pj = xx % p;
        out[e] = x[b * bs + (i * w + j) * (p * p * C) + (pi * p + pj) * C + c];
    }
}

extern "C" silt_status dit_unpatchify_fwd_cuda(float *out, const float *x, int64_t B, int64_t h, int64_t w, int64_t p,
                                               int64_t C) {
    if (B < 0 || C < 0 || h < 0 || w < 0 || p < 1) return SILT_FAIL(SILT_ERR_ARG, "dit_unpatchify_fwd_cuda: bad sizes");
    int64_t n = B * C * h * p * w * p;
    SILT_TRY(dit_check("dit_unpatchify_fwd_cuda", n, out, x));
    if (n == 0) return SILT_OK;
    unpatchify_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(out, x, B, h, w, p, C);
    SILT_CUDA_LAUNCHED("unpatchify_kernel");
    return SILT_OK;
}
