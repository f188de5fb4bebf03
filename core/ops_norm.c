// Normalisation ops (see ops_norm.h). Formulas:
//  layer norm: Ba, Kiros, Hinton 2016, eq. 4; backward as in llm.c's
//    layernorm_backward: dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),
//    g = dout * w.
//  RMS norm: Zhang & Sennrich 2019, eq. 4; dx = rstd * (g - x * rstd^2 * mean(g * x)).
//  group norm: Wu & He 2018, eq. 1-3 (layer norm over each group).
//  L2 normalise: d(x/|x|) = (I - y y^T) / |x|.
#include "core/ops_norm.h"

#include <math.h>

#include "cuda/cuda.h"

// Elementwise work below this many floats stays on one thread: the OpenMP
// fork costs more than it saves.
#define NORM_PAR_MIN 32768
// Parameter-gradient reductions run over column blocks of this width, so each
// thread owns a block and walks the rows contiguously.
#define NORM_COL_BLOCK 64

// --- layer norm -------------------------------------------------------------------

void layernorm_fwd_cpu(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b, int64_t N,
                       int64_t C, float eps) {
#pragma omp parallel for if (N * C >= NORM_PAR_MIN)
    for (int64_t n = 0; n < N; n++) {
        const float *xr = x + n * C;
        float *yr = out + n * C;
        double s = 0;
        for (int64_t c = 0; c < C; c++) s += xr[c];
        double m = s / (double)C, v = 0;
        // Two-pass variance: no cancellation when |mean| >> std.
        for (int64_t c = 0; c < C; c++) { double d = xr[c] - m; v += d * d; }
        float r = (float)(1.0 / sqrt(v / (double)C + (double)eps)), mf = (float)m;
        for (int64_t c = 0; c < C; c++) {
            float y = (xr[c] - mf) * r;
            if (w) y *= w[c];
            if (b) y += b[c];
            yr[c] = y;
        }
        if (mean) mean[n] = mf;
        if (rstd) rstd[n] = r;
    }
}

void layernorm_bwd_cpu(float *dx, float *dw, float *db, const float *dout, const float *x, const float *mean,
                       const float *rstd, const float *w, int64_t N, int64_t C) {
    if (dx) {
#pragma omp parallel for if (N * C >= NORM_PAR_MIN)
        for (int64_t n = 0; n < N; n++) {
            const float *xr = x + n * C, *gr = dout + n * C;
            float m = mean[n], r = rstd[n];
            double sg = 0, sgx = 0;
            for (int64_t c = 0; c < C; c++) {
                double gv = (double)gr[c] * (w ? w[c] : 1.0f);
                sg += gv;
                sgx += gv * ((xr[c] - m) * r);
            }
            float mg = (float)(sg / (double)C), mgx = (float)(sgx / (double)C);
            float *dr = dx + n * C;
            for (int64_t c = 0; c < C; c++) {
                float gv = gr[c] * (w ? w[c] : 1.0f), xh = (xr[c] - m) * r;
                dr[c] += r * (gv - mg - xh * mgx);
            }
        }
    }
    if (dw || db) {
        int64_t nblk = (C + NORM_COL_BLOCK - 1) / NORM_COL_BLOCK;
#pragma omp parallel for if (N * C >= NORM_PAR_MIN)
        for (int64_t cb = 0; cb < nblk; cb++) {
            int64_t c0 = cb * NORM_COL_BLOCK, c1 = c0 + NORM_COL_BLOCK < C ? c0 + NORM_COL_BLOCK : C;
            for (int64_t n = 0; n < N; n++) {
                const float *xr = x + n * C, *gr = dout + n * C;
                float m = mean[n], r = rstd[n];
                for (int64_t c = c0; c < c1; c++) {
                    if (dw) dw[c] += gr[c] * ((xr[c] - m) * r);
                    if (db) db[c] += gr[c];
                }
            }
        }
    }
}

// --- RMS norm ---------------------------------------------------------------------

void rmsnorm_fwd_cpu(float *out, float *rstd, const float *x, const float *w, int64_t N, int64_t C, float eps) {
#pragma omp parallel for if (N * C >= NORM_PAR_MIN)
    for (int64_t n = 0; n < N; n++) {
        const float *xr = x + n * C;
        double s = 0;
        for (int64_t c = 0; c < C; c++) s += (double)xr[c] * xr[c];
        float r = (float)(1.0 / sqrt(s / (double)C + (double)eps));
        float *yr = out + n * C;
        for (int64_t c = 0; c < C; c++) yr[c] = xr[c] * r * (w ? w[c] : 1.0f);
        if (rstd) rstd[n] = r;
    }
}

void rmsnorm_bwd_cpu(float *dx, float *dw, const float *dout, const float *x, const float *rstd, const float *w,
                     int64_t N, int64_t C) {
    if (dx) {
#pragma omp parallel for if (N * C >= NORM_PAR_MIN)
        for (int64_t n = 0; n < N; n++) {
            const float *xr = x + n * C, *gr = dout + n * C;
            float r = rstd[n];
            double sgx = 0;
            for (int64_t c = 0; c < C; c++) sgx += (double)gr[c] * (w ? w[c] : 1.0f) * xr[c];
            float k = (float)(sgx / (double)C) * r * r;
            float *dr = dx + n * C;
            for (int64_t c = 0; c < C; c++) dr[c] += r * (gr[c] * (w ? w[c] : 1.0f) - xr[c] * k);
        }
    }
    if (dw) {
        int64_t nblk = (C + NORM_COL_BLOCK - 1) / NORM_COL_BLOCK;
#pragma omp parallel for if (N * C >= NORM_PAR_MIN)
        for (int64_t cb = 0; cb < nblk; cb++) {
            int64_t c0 = cb * NORM_COL_BLOCK, c1 = c0 + NORM_COL_BLOCK < C ? c0 + NORM_COL_BLOCK : C;
            for (int64_t n = 0; n < N; n++) {
                const float *xr = x + n * C, *gr = dout + n * C;
                for (int64_t c = c0; c < c1; c++) dw[c] += gr[c] * xr[c] * rstd[n];
            }
        }
    }
}

// --- group norm -------------------------------------------------------------------

void groupnorm_fwd_cpu(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b, int64_t N,
                       int64_t C, int64_t HW, int64_t G, float eps) {
    int64_t Cg = C / G, len = Cg * HW;
#pragma omp parallel for if (N * C * HW >= NORM_PAR_MIN)
    for (int64_t ng = 0; ng < N * G; ng++) {
        int64_t n = ng / G, grp = ng % G;
        const float *xg = x + n * C * HW + grp * len;
        float *yg = out + n * C * HW + grp * len;
        double s = 0;
        for (int64_t i = 0; i < len; i++) s += xg[i];
        double m = s / (double)len, v = 0;
        for (int64_t i = 0; i < len; i++) { double d = xg[i] - m; v += d * d; }
        float r = (float)(1.0 / sqrt(v / (double)len + (double)eps)), mf = (float)m;
        for (int64_t ci = 0; ci < Cg; ci++) {
            int64_t c = grp * Cg + ci;
            float wc = w ? w[c] : 1.0f, bc = b ? b[c] : 0.0f;
            const float *xc = xg + ci * HW;
            float *yc = yg + ci * HW;
            for (int64_t i = 0; i < HW; i++) yc[i] = (xc[i] - mf) * r * wc + bc;
        }
        if (mean) mean[ng] = mf;
        if (rstd) rstd[ng] = r;
    }
}

void groupnorm_bwd_cpu(float *dx, float *dw, float *db, const float *dout, const float *x, const float *mean,
                       const float *rstd, const float *w, int64_t N, int64_t C, int64_t HW, int64_t G) {
    int64_t Cg = C / G, len = Cg * HW;
    if (dx) {
#pragma omp parallel for if (N * C * HW >= NORM_PAR_MIN)
        for (int64_t ng = 0; ng < N * G; ng++) {
            int64_t n = ng / G, grp = ng % G;
            int64_t off = n * C * HW + grp * len;
            float m = mean[ng], r = rstd[ng];
            double sg = 0, sgx = 0;
            for (int64_t ci = 0; ci < Cg; ci++) {
                float wc = w ? w[grp * Cg + ci] : 1.0f;
                const float *xc = x + off + ci * HW, *gc = dout + off + ci * HW;
                for (int64_t i = 0; i < HW; i++) {
                    double gv = (double)gc[i] * wc;
                    sg += gv;
                    sgx += gv * ((xc[i] - m) * r);
                }
            }
            float mg = (float)(sg / (double)len), mgx = (float)(sgx / (double)len);
            for (int64_t ci = 0; ci < Cg; ci++) {
                float wc = w ? w[grp * Cg + ci] : 1.0f;
                const float *xc = x + off + ci * HW, *gc = dout + off + ci * HW;
                float *dc = dx + off + ci * HW;
                for (int64_t i = 0; i < HW; i++) dc[i] += r * (gc[i] * wc - mg - (xc[i] - m) * r * mgx);
            }
        }
    }
    if (dw || db) {
#pragma omp parallel for if (N * C * HW >= NORM_PAR_MIN)
        for (int64_t c = 0; c < C; c++) {
            int64_t grp = c / Cg;
            double sw = 0, sb = 0;
            for (int64_t n = 0; n < N; n++) {
                const float *xc = x + (n * C + c) * HW, *gc = dout + (n * C + c) * HW;
                float m = mean[n * G + grp], r = rstd[n * G + grp];
                for (int64_t i = 0; i < HW; i++) {
                    sw += (double)gc[i] * ((xc[i] - m) * r);
                    sb += gc[i];
                }
            }
            if (dw) dw[c] += (float)sw;
            if (db) db[c] += (float)sb;
        }
    }
}

// --- L2 normalise -----------------------------------------------------------------

void l2norm_fwd_cpu(float *out, float *norm, const float *x, int64_t N, int64_t C, float eps) {
#pragma omp parallel for if (N * C >= NORM_PAR_MIN)
    for (int64_t n = 0; n < N; n++) {
        const float *xr = x + n * C;
        double s = 0;
        for (int64_t c = 0; c < C; c++) s += (double)xr[c] * xr[c];
        double nr = sqrt(s);
        float inv = (float)(1.0 / (nr > eps ? nr : (double)eps));
        float *yr = out + n * C;
        for (int64_t c = 0; c < C; c++) yr[c] = xr[c] * inv;
        if (norm) norm[n] = (float)nr;
    }
}

void l2norm_bwd_cpu(float *dx, const float *dout, const float *x, const float *norm, int64_t N, int64_t C, float eps) {
    if (!dx) return;
#pragma omp parallel for if (N * C >= NORM_PAR_MIN)
    for (int64_t n = 0; n < N; n++) {
        const float *xr = x + n * C, *gr = dout + n * C;
        float *dr = dx + n * C;
        float nr = norm[n];
        if (nr < eps) {  // clamped: y = x / eps, a linear map
            float inv = 1.0f / eps;
            for (int64_t c = 0; c < C; c++) dr[c] += gr[c] * inv;
            continue;
        }
        // dx = (g - y (y.g)) / |x| with y = x / |x|
        float inv = 1.0f / nr;
        double yg = 0;
        for (int64_t c = 0; c < C; c++) yg += (double)gr[c] * xr[c] * inv;
        float ygf = (float)yg;
        for (int64_t c = 0; c < C; c++) dr[c] += (gr[c] - xr[c] * inv * ygf) * inv;
    }
}

// --- graph ops --------------------------------------------------------------------

static silt_tensor *norm_fail(silt_graph *g, silt_status s) {
    silt_graph_fail(g, s);
    return NULL;
}

// f32 on the graph's device, or a failure naming the op; NULL-safe for optional tensors.
static bool norm_check_tensor(silt_graph *g, const char *op, const char *what, const silt_tensor *t) {
    if (!t) return true;
    if (t->dtype != SILT_F32 || t->device != silt_graph_device(g)) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: %s must be f32 on the graph's device %s (got %s on %s)",
                                     op, what, silt_device_name(silt_graph_device(g)), silt_dtype_name(t->dtype),
                                     silt_device_name(t->device)));
        return false;
    }
    return true;
}

static bool norm_check_param(silt_graph *g, const char *op, const char *what, const silt_tensor *p, int64_t C,
                             const silt_tensor *x) {
    if (!norm_check_tensor(g, op, what, p)) return false;
    if (p && silt_numel(p) != C) {
        char bp[64], bx[64];
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "%s: %s %s needs %lld elements for x %s", op, what,
                                     silt_shape_str(p, bp, sizeof bp), (long long)C, silt_shape_str(x, bx, sizeof bx)));
        return false;
    }
    return true;
}

static float *node_grad(silt_graph *g, silt_tensor *t) { return t ? silt_graph_grad(g, t) : NULL; }

// layer norm

typedef struct {
    silt_tensor *x, *w, *b, *out, *mean, *rstd;
} layernorm_node;

static silt_status layernorm_bwd(silt_graph *g, void *p) {
    layernorm_node *n = p;
    if (!n->out->grad) return SILT_OK;
    float *dx = node_grad(g, n->x), *dw = node_grad(g, n->w), *db = node_grad(g, n->b);
    if (silt_graph_status(g) != SILT_OK) return silt_graph_status(g);
    int64_t C = n->x->shape[n->x->ndim - 1], N = silt_numel(n->x) / C;
    if (silt_graph_device(g) == SILT_CUDA) {
        int64_t sf = (dw || db) ? layernorm_bwd_cuda_scratch_floats(N, C) : 0;
        float *scratch = sf > 0 ? silt_graph_device_scratch(g, (size_t)sf * sizeof(float)) : NULL;
        if (sf > 0 && !scratch) return silt_graph_status(g);
        return layernorm_bwd_cuda(dx, dw, db, scratch, n->out->grad, silt_f32(n->x), silt_f32(n->mean),
                                  silt_f32(n->rstd), n->w ? silt_f32(n->w) : NULL, N, C);
    }
    layernorm_bwd_cpu(dx, dw, db, n->out->grad, silt_f32(n->x), silt_f32(n->mean), silt_f32(n->rstd),
                      n->w ? silt_f32(n->w) : NULL, N, C);
    return SILT_OK;
}

silt_tensor *silt_layernorm(silt_graph *g, silt_tensor *x, silt_tensor *w, silt_tensor *b, float eps) {
    if (!x || silt_graph_status(g) != SILT_OK) return NULL;
    if (!(eps >= 0)) return norm_fail(g, SILT_FAIL(SILT_ERR_ARG, "layernorm: eps %g must be >= 0", (double)eps));
    int64_t C = x->shape[x->ndim - 1], N = silt_numel(x) / C;
    if (!norm_check_tensor(g, "layernorm", "x", x) || !norm_check_param(g, "layernorm", "weight", w, C, x) ||
        !norm_check_param(g, "layernorm", "bias", b, C, x))
        return NULL;
    silt_tensor *out = silt_graph_tensor_f32(g, x->ndim, x->shape);
    if (!out) return NULL;
    bool grad = silt_graph_wants_grad(g, x, w, b);
    silt_tensor *mean = NULL, *rstd = NULL;
    if (grad) {
        mean = silt_graph_new(g, N, 0, 0, 0);
        rstd = silt_graph_new(g, N, 0, 0, 0);
        if (!mean || !rstd) return NULL;
    }
    if (out->device == SILT_CUDA) {
        if (!silt_graph_done(g, layernorm_fwd_cuda(silt_f32(out), mean ? silt_f32(mean) : NULL,
                                                   rstd ? silt_f32(rstd) : NULL, silt_f32(x), w ? silt_f32(w) : NULL,
                                                   b ? silt_f32(b) : NULL, N, C, eps),
                             out))
            return NULL;
    } else {
        layernorm_fwd_cpu(silt_f32(out), mean ? silt_f32(mean) : NULL, rstd ? silt_f32(rstd) : NULL, silt_f32(x),
                          w ? silt_f32(w) : NULL, b ? silt_f32(b) : NULL, N, C, eps);
    }
    if (grad) {
        out->requires_grad = true;
        layernorm_node *n = silt_graph_record(g, layernorm_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (layernorm_node){x, w, b, out, mean, rstd};
    }
    return out;
}

// RMS norm

typedef struct {
    silt_tensor *x, *w, *out, *rstd;
} rmsnorm_node;

static silt_status rmsnorm_bwd(silt_graph *g, void *p) {
    rmsnorm_node *n = p;
    if (!n->out->grad) return SILT_OK;
    float *dx = node_grad(g, n->x), *dw = node_grad(g, n->w);
    if (silt_graph_status(g) != SILT_OK) return silt_graph_status(g);
    int64_t C = n->x->shape[n->x->ndim - 1], N = silt_numel(n->x) / C;
    if (silt_graph_device(g) == SILT_CUDA) {
        int64_t sf = dw ? rmsnorm_bwd_cuda_scratch_floats(N, C) : 0;
        float *scratch = sf > 0 ? silt_graph_device_scratch(g, (size_t)sf * sizeof(float)) : NULL;
        if (sf > 0 && !scratch) return silt_graph_status(g);
        return rmsnorm_bwd_cuda(dx, dw, scratch, n->out->grad, silt_f32(n->x), silt_f32(n->rstd),
                                n->w ? silt_f32(n->w) : NULL, N, C);
    }
    rmsnorm_bwd_cpu(dx, dw, n->out->grad, silt_f32(n->x), silt_f32(n->rstd), n->w ? silt_f32(n->w) : NULL, N, C);
    return SILT_OK;
}

silt_tensor *silt_rmsnorm(silt_graph *g, silt_tensor *x, silt_tensor *w, float eps) {
    if (!x || silt_graph_status(g) != SILT_OK) return NULL;
    if (!(eps >= 0)) return norm_fail(g, SILT_FAIL(SILT_ERR_ARG, "rmsnorm: eps %g must be >= 0", (double)eps));
    int64_t C = x->shape[x->ndim - 1], N = silt_numel(x) / C;
    if (!norm_check_tensor(g, "rmsnorm", "x", x) || !norm_check_param(g, "rmsnorm", "weight", w, C, x)) return NULL;
    silt_tensor *out = silt_graph_tensor_f32(g, x->ndim, x->shape);
    if (!out) return NULL;
    bool grad = silt_graph_wants_grad(g, x, w, NULL);
    silt_tensor *rstd = grad ? silt_graph_new(g, N, 0, 0, 0) : NULL;
    if (grad && !rstd) return NULL;
    if (out->device == SILT_CUDA) {
        if (!silt_graph_done(g, rmsnorm_fwd_cuda(silt_f32(out), rstd ? silt_f32(rstd) : NULL, silt_f32(x),
                                                 w ? silt_f32(w) : NULL, N, C, eps),
                             out))
            return NULL;
    } else {
        rmsnorm_fwd_cpu(silt_f32(out), rstd ? silt_f32(rstd) : NULL, silt_f32(x), w ? silt_f32(w) : NULL, N, C, eps);
    }
    if (grad) {
        out->requires_grad = true;
        rmsnorm_node *n = silt_graph_record(g, rmsnorm_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (rmsnorm_node){x, w, out, rstd};
    }
    return out;
}

// group norm

typedef struct {
    silt_tensor *x, *w, *b, *out, *mean, *rstd;
    int64_t G;
} groupnorm_node;

static silt_status groupnorm_bwd(silt_graph *g, void *p) {
    groupnorm_node *n = p;
    if (!n->out->grad) return SILT_OK;
    float *dx = node_grad(g, n->x), *dw = node_grad(g, n->w), *db = node_grad(g, n->b);
    if (silt_graph_status(g) != SILT_OK) return silt_graph_status(g);
    int64_t N = n->x->shape[0], C = n->x->shape[1], HW = silt_numel(n->x) / (N * C);
    return SILT_GRAPH_BWD(g, groupnorm_bwd, dx, dw, db, n->out->grad, silt_f32(n->x), silt_f32(n->mean),
                          silt_f32(n->rstd), n->w ? silt_f32(n->w) : NULL, N, C, HW, n->G);
}

silt_tensor *silt_groupnorm(silt_graph *g, silt_tensor *x, silt_tensor *w, silt_tensor *b, int64_t groups, float eps) {
    if (!x || silt_graph_status(g) != SILT_OK) return NULL;
    if (!norm_check_tensor(g, "groupnorm", "x", x)) return NULL;
    char bx[64];
    if (x->ndim < 2)
        return norm_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "groupnorm: x %s needs (N, C, ...)", silt_shape_str(x, bx, sizeof bx)));
    if (groups <= 0) return norm_fail(g, SILT_FAIL(SILT_ERR_ARG, "groupnorm: groups %lld must be >= 1", (long long)groups));
    if (!(eps >= 0)) return norm_fail(g, SILT_FAIL(SILT_ERR_ARG, "groupnorm: eps %g must be >= 0", (double)eps));
    int64_t N = x->shape[0], C = x->shape[1], HW = silt_numel(x) / (N * C);
    if (C % groups != 0)
        return norm_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "groupnorm: %lld channels of x %s do not split into %lld groups",
                                      (long long)C, silt_shape_str(x, bx, sizeof bx), (long long)groups));
    if (!norm_check_param(g, "groupnorm", "weight", w, C, x) || !norm_check_param(g, "groupnorm", "bias", b, C, x))
        return NULL;
    silt_tensor *out = silt_graph_tensor_f32(g, x->ndim, x->shape);
    if (!out) return NULL;
    bool grad = silt_graph_wants_grad(g, x, w, b);
    silt_tensor *mean = NULL, *rstd = NULL;
    if (grad) {
        mean = silt_graph_new(g, N, groups, 0, 0);
        rstd = silt_graph_new(g, N, groups, 0, 0);
        if (!mean || !rstd) return NULL;
    }
    if (out->device == SILT_CUDA) {
        if (!silt_graph_done(g, groupnorm_fwd_cuda(silt_f32(out), mean ? silt_f32(mean) : NULL,
                                                   rstd ? silt_f32(rstd) : NULL, silt_f32(x), w ? silt_f32(w) : NULL,
                                                   b ? silt_f32(b) : NULL, N, C, HW, groups, eps),
                             out))
            return NULL;
    } else {
        groupnorm_fwd_cpu(silt_f32(out), mean ? silt_f32(mean) : NULL, rstd ? silt_f32(rstd) : NULL, silt_f32(x),
                          w ? silt_f32(w) : NULL, b ? silt_f32(b) : NULL, N, C, HW, groups, eps);
    }
    if (grad) {
        out->requires_grad = true;
        groupnorm_node *n = silt_graph_record(g, groupnorm_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (groupnorm_node){x, w, b, out, mean, rstd, groups};
    }
    return out;
}

// L2 normalise

typedef struct {
    silt_tensor *x, *out, *norm;
    float eps;
} l2norm_node;

static silt_status l2norm_bwd(silt_graph *g, void *p) {
    l2norm_node *n = p;
    if (!n->out->grad) return SILT_OK;
    float *dx = silt_graph_grad(g, n->x);
    if (!dx) return silt_graph_status(g);
    int64_t C = n->x->shape[n->x->ndim - 1], N = silt_numel(n->x) / C;
    return SILT_GRAPH_BWD(g, l2norm_bwd, dx, n->out->grad, silt_f32(n->x), silt_f32(n->norm), N, C, n->eps);
}

silt_tensor *silt_l2norm(silt_graph *g, silt_tensor *x, float eps) {
    if (!x) return NULL;
    if (!norm_check_tensor(g, "l2norm", "x", x)) return NULL;
    if (!(eps > 0)) return norm_fail(g, SILT_FAIL(SILT_ERR_ARG, "l2norm: eps %g must be > 0", (double)eps));
    int64_t C = x->shape[x->ndim - 1], N = silt_numel(x) / C;
    silt_tensor *out = silt_graph_tensor_f32(g, x->ndim, x->shape);
    if (!out) return NULL;
    bool grad = silt_graph_wants_grad(g, x, NULL, NULL);
    silt_tensor *norm = grad ? silt_graph_new(g, N, 0, 0, 0) : NULL;
    if (grad && !norm) return NULL;
    if (out->device == SILT_CUDA) {
        if (!silt_graph_done(g, l2norm_fwd_cuda(silt_f32(out), norm ? silt_f32(norm) : NULL, silt_f32(x), N, C, eps),
                             out))
            return NULL;
    } else {
        l2norm_fwd_cpu(silt_f32(out), norm ? silt_f32(norm) : NULL, silt_f32(x), N, C, eps);
    }
    if (grad) {
        out->requires_grad = true;
        l2norm_node *n = silt_graph_record(g, l2norm_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (l2norm_node){x, out, norm, eps};
    }
    return out;
}
