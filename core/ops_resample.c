#include "core/ops_resample.h"

#include <math.h>

#include "cuda/cuda.h"

// Planes are independent, so every kernel (backward too: windows and taps
// overlap only within a plane) runs its planes in parallel.
#define RESAMPLE_PAR_MIN 16384

// --- index math (PyTorch aten/src/ATen/native/UpSample.h) ----------------------

int64_t resample_nearest_index(int64_t dst, int64_t in, int64_t out) {
    if (out == in) return dst;
    if (out == 2 * in) return dst >> 1;
    float scale = (float)in / (float)out;  // compute_scales_value<float>
    int64_t src = (int64_t)floorf((float)dst * scale);
    return src < in - 1 ? src : in - 1;
}

// Keys (1981) cubic convolution with A = -0.75 as in PyTorch/OpenCV:
// cubic_convolution1 for |t| <= 1, cubic_convolution2 for 1 < |t| < 2.
static inline float cubic1(float x, float a) { return ((a + 2) * x - (a + 3)) * x * x + 1; }
static inline float cubic2(float x, float a) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; }

void resample_cubic_taps(int64_t dst, int64_t in, int64_t out, int64_t *i0, float w[4]) {
    const float a = -0.75f;
    // align_corners=False: src = scale (dst + 0.5) - 0.5, left unclamped for
    // cubic (area_pixel_compute_source_index with cubic=true), in float.
    float scale = (float)in / (float)out;
    float real = scale * ((float)dst + 0.5f) - 0.5f;
    // guard_index_and_lambda: index clamped to in-1, fraction to [0, 1].
    int64_t idx = (int64_t)floorf(real);
    if (idx > in - 1) idx = in - 1;
    float t = real - (float)idx;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    float t2 = 1.0f - t;  // get_cubic_upsample_coefficients, same float steps
    w[0] = cubic2(t + 1.0f, a);
    w[1] = cubic1(t, a);
    w[2] = cubic1(t2, a);
    w[3] = cubic2(t2 + 1.0f, a);
    *i0 = idx;
}

static inline int64_t clampi(int64_t v, int64_t hi) { return v < 0 ? 0 : v > hi ? hi : v; }

// --- nearest ----------------------------------------------------------------------

void upsample_nearest_fwd_cpu(float *out, const float *x, int64_t nc, int64_t h, int64_t w, int64_t ho, int64_t wo) {
#pragma omp parallel for if (nc * ho * wo > RESAMPLE_PAR_MIN)
    for (int64_t p = 0; p < nc; p++) {
        const float *xp = x + p * h * w;
        float *op = out + p * ho * wo;
        for (int64_t i = 0; i < ho; i++) {
            const float *row = xp + resample_nearest_index(i, h, ho) * w;
            for (int64_t j = 0; j < wo; j++) op[i * wo + j] = row[resample_nearest_index(j, w, wo)];
        }
    }
}

void upsample_nearest_bwd_cpu(float *dx, const float *dout, int64_t nc, int64_t h, int64_t w, int64_t ho, int64_t wo) {
#pragma omp parallel for if (nc * ho * wo > RESAMPLE_PAR_MIN)
    for (int64_t p = 0; p < nc; p++) {
        float *dp = dx + p * h * w;
        const float *gp = dout + p * ho * wo;
        for (int64_t i = 0; i < ho; i++) {
            float *row = dp + resample_nearest_index(i, h, ho) * w;
            for (int64_t j = 0; j < wo; j++) row[resample_nearest_index(j, w, wo)] += gp[i * wo + j];
        }
    }
}

// --- bicubic ----------------------------------------------------------------------

void upsample_bicubic_fwd_cpu(float *out, const float *x, int64_t nc, int64_t h, int64_t w, int64_t ho, int64_t wo) {
#pragma omp parallel for if (nc * ho * wo > RESAMPLE_PAR_MIN / 16)
    for (int64_t p = 0; p < nc; p++) {
        const float *xp = x + p * h * w;
        float *op = out + p * ho * wo;
        for (int64_t i = 0; i < ho; i++) {
            int64_t y0, rows[4];
            float wy[4];
            resample_cubic_taps(i, h, ho, &y0, wy);
            for (int k = 0; k < 4; k++) rows[k] = clampi(y0 - 1 + k, h - 1) * w;
            for (int64_t j = 0; j < wo; j++) {
                int64_t x0, cols[4];
                float wx[4];
                resample_cubic_taps(j, w, wo, &x0, wx);
                for (int k = 0; k < 4; k++) cols[k] = clampi(x0 - 1 + k, w - 1);
                // Along W first, then H: the order PyTorch's separable CPU kernel uses.
                float acc = 0;
                for (int r = 0; r < 4; r++) {
                    const float *src = xp + rows[r];
                    float t = src[cols[0]] * wx[0];
                    for (int c = 1; c < 4; c++) t += src[cols[c]] * wx[c];
                    acc = r == 0 ? t * wy[0] : acc + t * wy[r];
                }
                op[i * wo + j] = acc;
            }
        }
    }
}

void upsample_bicubic_bwd_cpu(float *dx, const float *dout, int64_t nc, int64_t h, int64_t w, int64_t ho, int64_t wo) {
#pragma omp parallel for if (nc * ho * wo > RESAMPLE_PAR_MIN / 16)
    for (int64_t p = 0; p < nc; p++) {
        float *dp = dx + p * h * w;
        const float *gp = dout + p * ho * wo;
        for (int64_t i = 0; i < ho; i++) {
            int64_t y0, rows[4];
            float wy[4];
            resample_cubic_taps(i, h, ho, &y0, wy);
            for (int k = 0; k < 4; k++) rows[k] = clampi(y0 - 1 + k, h - 1) * w;
            for (int64_t j = 0; j < wo; j++) {
                int64_t x0, cols[4];
                float wx[4];
                resample_cubic_taps(j, w, wo, &x0, wx);
                for (int k = 0; k < 4; k++) cols[k] = clampi(x0 - 1 + k, w - 1);
                float gv = gp[i * wo + j];
                // Clamped taps may repeat an index: each tap adds its own share.
                for (int r = 0; r < 4; r++)
                    for (int c = 0; c < 4; c++) dp[rows[r] + cols[c]] += gv * wy[r] * wx[c];
            }
        }
    }
}

// --- area (adaptive average pooling) ---------------------------------------------

// Window of output index i over an input of size n split into m outputs:
// [floor(i n / m), ceil((i+1) n / m)), in integers (PyTorch AdaptivePooling.h).
static inline void area_window(int64_t i, int64_t n, int64_t m, int64_t *lo, int64_t *hi) {
    *lo = (i * n) / m;
    *hi = ((i + 1) * n + m - 1) / m;
}

void area_downsample_fwd_cpu(float *out, const float *x, int64_t nc, int64_t h, int64_t w, int64_t ho, int64_t wo) {
#pragma omp parallel for if (nc * h * w > RESAMPLE_PAR_MIN)
    for (int64_t p = 0; p < nc; p++) {
        const float *xp = x + p * h * w;
        float *op = out + p * ho * wo;
        for (int64_t i = 0; i < ho; i++) {
            int64_t r0, r1;
            area_window(i, h, ho, &r0, &r1);
            for (int64_t j = 0; j < wo; j++) {
                int64_t c0, c1;
                area_window(j, w, wo, &c0, &c1);
                double s = 0;
                for (int64_t r = r0; r < r1; r++)
                    for (int64_t c = c0; c < c1; c++) s += xp[r * w + c];
                op[i * wo + j] = (float)(s / (double)((r1 - r0) * (c1 - c0)));
            }
        }
    }
}

void area_downsample_bwd_cpu(float *dx, const float *dout, int64_t nc, int64_t h, int64_t w, int64_t ho, int64_t wo) {
#pragma omp parallel for if (nc * h * w > RESAMPLE_PAR_MIN)
    for (int64_t p = 0; p < nc; p++) {
        float *dp = dx + p * h * w;
        const float *gp = dout + p * ho * wo;
        for (int64_t i = 0; i < ho; i++) {
            int64_t r0, r1;
            area_window(i, h, ho, &r0, &r1);
            for (int64_t j = 0; j < wo; j++) {
                int64_t c0, c1;
                area_window(j, w, wo, &c0, &c1);
                float gv = gp[i * wo + j] / (float)((r1 - r0) * (c1 - c0));
                for (int64_t r = r0; r < r1; r++)
                    for (int64_t c = c0; c < c1; c++) dp[r * w + c] += gv;
            }
        }
    }
}

// --- graph ops ------------------------------------------------------------------

typedef enum { RS_NEAREST, RS_BICUBIC, RS_AREA } resample_kind;
static const char *rs_names[] = {"upsample_nearest", "upsample_bicubic", "area_downsample"};

typedef struct {
    silt_tensor *x, *out;
    resample_kind kind;
} resample_node;

// The raw kernels of one kind, CPU and CUDA twins (same arguments).
typedef void (*rs_cpu_fn)(float *, const float *, int64_t, int64_t, int64_t, int64_t, int64_t);
typedef silt_status (*rs_cuda_fn)(float *, const float *, int64_t, int64_t, int64_t, int64_t, int64_t);
static const struct {
    rs_cpu_fn fwd_cpu, bwd_cpu;
    rs_cuda_fn fwd_cuda, bwd_cuda;
} rs_kernels[] = {
    {upsample_nearest_fwd_cpu, upsample_nearest_bwd_cpu, upsample_nearest_fwd_cuda, upsample_nearest_bwd_cuda},
    {upsample_bicubic_fwd_cpu, upsample_bicubic_bwd_cpu, upsample_bicubic_fwd_cuda, upsample_bicubic_bwd_cuda},
    {area_downsample_fwd_cpu, area_downsample_bwd_cpu, area_downsample_fwd_cuda, area_downsample_bwd_cuda},
};

static silt_status resample_bwd(silt_graph *g, void *p) {
    resample_node *n = p;
    if (!n->out->grad) return SILT_OK;
    float *dx = silt_graph_grad(g, n->x);
    if (!dx) return silt_graph_status(g);
    const int64_t *s = n->x->shape, *o = n->out->shape;
    int64_t nc = s[0] * s[1];
    if (silt_graph_device(g) == SILT_CUDA)  // gathers in the CPU's order (cuda/ops_resample.h)
        return rs_kernels[n->kind].bwd_cuda(dx, n->out->grad, nc, s[2], s[3], o[2], o[3]);
    rs_kernels[n->kind].bwd_cpu(dx, n->out->grad, nc, s[2], s[3], o[2], o[3]);
    return SILT_OK;
}

static silt_tensor *resample(silt_graph *g, silt_tensor *x, int64_t ho, int64_t wo, resample_kind kind) {
    if (!x) return NULL;
    const char *name = rs_names[kind];
    char buf[64];
    if (x->dtype != SILT_F32 || x->device != silt_graph_device(g)) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: input %s is %s on %s, the graph is on %s (need f32 on %s)",
                                     name, silt_shape_str(x, buf, sizeof buf), silt_dtype_name(x->dtype),
                                     silt_device_name(x->device), silt_device_name(silt_graph_device(g)),
                                     silt_device_name(silt_graph_device(g))));
        return NULL;
    }
    if (x->ndim != 4) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "%s: input %s is not NCHW (4-D)", name, silt_shape_str(x, buf, sizeof buf)));
        return NULL;
    }
    if (ho < 1 || wo < 1) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "%s: output size (%lld, %lld) must be >= 1", name, (long long)ho, (long long)wo));
        return NULL;
    }
    int64_t shape[4] = {x->shape[0], x->shape[1], ho, wo};
    silt_tensor *out = silt_graph_tensor_f32(g, 4, shape);
    if (!out) return NULL;
    int64_t nc = shape[0] * shape[1], h = x->shape[2], w = x->shape[3];
    if (out->device == SILT_CUDA) {
        if (!silt_graph_done(g, rs_kernels[kind].fwd_cuda(silt_f32(out), silt_f32(x), nc, h, w, ho, wo), out))
            return NULL;
    } else {
        rs_kernels[kind].fwd_cpu(silt_f32(out), silt_f32(x), nc, h, w, ho, wo);
    }
    if (silt_graph_wants_grad(g, x, NULL, NULL)) {
        out->requires_grad = true;
        resample_node *n = silt_graph_record(g, resample_bwd, sizeof *n);
        if (!n) return NULL;
        n->x = x;
        n->out = out;
        n->kind = kind;
    }
    return out;
}

silt_tensor *silt_upsample_nearest(silt_graph *g, silt_tensor *x, int64_t ho, int64_t wo) {
    return resample(g, x, ho, wo, RS_NEAREST);
}
silt_tensor *silt_upsample_bicubic(silt_graph *g, silt_tensor *x, int64_t ho, int64_t wo) {
    return resample(g, x, ho, wo, RS_BICUBIC);
}
silt_tensor *silt_area_downsample(silt_graph *g, silt_tensor *x, int64_t ho, int64_t wo) {
    return resample(g, x, ho, wo, RS_AREA);
}
