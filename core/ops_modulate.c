// adaLN modulation and gated residuals (see ops_modulate.h).
#include "core/ops_modulate.h"

#include "cuda/cuda.h"

#define MOD_PAR_MIN 32768
#define MOD_COL_BLOCK 64

void modulate_fwd_cpu(float *out, const float *x, const float *shift, const float *scale, int64_t B, int64_t T,
                      int64_t C) {
#pragma omp parallel for if (B * T * C >= MOD_PAR_MIN)
    for (int64_t bt = 0; bt < B * T; bt++) {
        int64_t b = bt / T;
        const float *xr = x + bt * C, *sh = shift + b * C, *sc = scale + b * C;
        float *yr = out + bt * C;
        for (int64_t c = 0; c < C; c++) yr[c] = xr[c] * (1.0f + sc[c]) + sh[c];
    }
}

void modulate_bwd_cpu(float *dx, float *dshift, float *dscale, const float *dout, const float *x, const float *scale,
                      int64_t B, int64_t T, int64_t C) {
    if (dx) {
#pragma omp parallel for if (B * T * C >= MOD_PAR_MIN)
        for (int64_t bt = 0; bt < B * T; bt++) {
            const float *gr = dout + bt * C, *sc = scale + (bt / T) * C;
            float *dr = dx + bt * C;
            for (int64_t c = 0; c < C; c++) dr[c] += gr[c] * (1.0f + sc[c]);
        }
    }
    if (dshift || dscale) {
        // Sum over T per (b, c): each item owns a block of one batch row's
        // parameter grads and walks the T rows contiguously.
        int64_t ncb = (C + MOD_COL_BLOCK - 1) / MOD_COL_BLOCK;
#pragma omp parallel for if (B * T * C >= MOD_PAR_MIN)
        for (int64_t it = 0; it < B * ncb; it++) {
            int64_t b = it / ncb, c0 = (it % ncb) * MOD_COL_BLOCK, c1 = c0 + MOD_COL_BLOCK < C ? c0 + MOD_COL_BLOCK : C;
            for (int64_t t = 0; t < T; t++) {
                const float *gr = dout + (b * T + t) * C, *xr = x + (b * T + t) * C;
                if (dshift)
                    for (int64_t c = c0; c < c1; c++) dshift[b * C + c] += gr[c];
                if (dscale)
                    for (int64_t c = c0; c < c1; c++) dscale[b * C + c] += gr[c] * xr[c];
            }
        }
    }
}

void gated_add_fwd_cpu(float *out, const float *x, const float *gate, const float *y, int64_t B, int64_t T, int64_t C) {
#pragma omp parallel for if (B * T * C >= MOD_PAR_MIN)
    for (int64_t bt = 0; bt < B * T; bt++) {
        const float *xr = x + bt * C, *yr = y + bt * C, *gt = gate + (bt / T) * C;
        float *o = out + bt * C;
        for (int64_t c = 0; c < C; c++) o[c] = xr[c] + gt[c] * yr[c];
    }
}

void gated_add_bwd_cpu(float *dx, float *dgate, float *dy, const float *dout, const float *gate, const float *y,
                       int64_t B, int64_t T, int64_t C) {
    if (dx || dy) {
#pragma omp parallel for if (B * T * C >= MOD_PAR_MIN)
        for (int64_t bt = 0; bt < B * T; bt++) {
            const float *gr = dout + bt * C, *gt = gate + (bt / T) * C;
            if (dx)
                for (int64_t c = 0; c < C; c++) dx[bt * C + c] += gr[c];
            if (dy)
                for (int64_t c = 0; c < C; c++) dy[bt * C + c] += gr[c] * gt[c];
        }
    }
    if (dgate) {
        int64_t ncb = (C + MOD_COL_BLOCK - 1) / MOD_COL_BLOCK;
#pragma omp parallel for if (B * T * C >= MOD_PAR_MIN)
        for (int64_t it = 0; it < B * ncb; it++) {
            int64_t b = it / ncb, c0 = (it % ncb) * MOD_COL_BLOCK, c1 = c0 + MOD_COL_BLOCK < C ? c0 + MOD_COL_BLOCK : C;
            for (int64_t t = 0; t < T; t++) {
                const float *gr = dout + (b * T + t) * C, *yr = y + (b * T + t) * C;
                for (int64_t c = c0; c < c1; c++) dgate[b * C + c] += gr[c] * yr[c];
            }
        }
    }
}

// --- graph ops ----------------------------------------------------------------------

static bool mod_check_f32(silt_graph *g, const char *op, const char *what, const silt_tensor *t) {
    if (t->dtype == SILT_F32 && t->device == silt_graph_device(g)) return true;
    silt_graph_fail(g, SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: %s must be f32 on the graph's device %s (got %s on %s)", op,
                                 what, silt_device_name(silt_graph_device(g)), silt_dtype_name(t->dtype),
                                 silt_device_name(t->device)));
    return false;
}

// A per-(batch row, channel) vector for x (B, T, C): shape (B, C) or (B, 1, C).
static bool mod_is_bc(const silt_tensor *p, const silt_tensor *x) {
    int64_t B = x->shape[0], C = x->shape[2];
    if (p->ndim == 2) return p->shape[0] == B && p->shape[1] == C;
    if (p->ndim == 3) return p->shape[0] == B && p->shape[1] == 1 && p->shape[2] == C;
    return false;
}

typedef struct {
    silt_tensor *x, *shift, *scale, *out;
} modulate_node;

static silt_status modulate_bwd(silt_graph *g, void *p) {
    modulate_node *n = p;
    if (!n->out->grad) return SILT_OK;
    float *dx = silt_graph_grad(g, n->x), *dshift = silt_graph_grad(g, n->shift), *dscale = silt_graph_grad(g, n->scale);
    if (silt_graph_status(g) != SILT_OK) return silt_graph_status(g);
    return SILT_GRAPH_BWD(g, modulate_bwd, dx, dshift, dscale, n->out->grad, silt_f32(n->x), silt_f32(n->scale),
                          n->x->shape[0], n->x->shape[1], n->x->shape[2]);
}

silt_tensor *silt_modulate(silt_graph *g, silt_tensor *x, silt_tensor *shift, silt_tensor *scale) {
    if (!x || !shift || !scale) return NULL;
    if (!mod_check_f32(g, "modulate", "x", x) || !mod_check_f32(g, "modulate", "shift", shift) ||
        !mod_check_f32(g, "modulate", "scale", scale))
        return NULL;
    if (x->ndim != 3 || !mod_is_bc(shift, x) || !mod_is_bc(scale, x)) {
        char bx[64], bs[64], bc[64];
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "modulate: x %s, shift %s, scale %s: want (B,T,C), (B,C), (B,C)",
                                     silt_shape_str(x, bx, sizeof bx), silt_shape_str(shift, bs, sizeof bs),
                                     silt_shape_str(scale, bc, sizeof bc)));
        return NULL;
    }
    silt_tensor *out = silt_graph_tensor_f32(g, 3, x->shape);
    if (!out) return NULL;
    if (out->device == SILT_CUDA) {
        if (!silt_graph_done(g, modulate_fwd_cuda(silt_f32(out), silt_f32(x), silt_f32(shift), silt_f32(scale),
                                                  x->shape[0], x->shape[1], x->shape[2]),
                             out))
            return NULL;
    } else {
        modulate_fwd_cpu(silt_f32(out), silt_f32(x), silt_f32(shift), silt_f32(scale), x->shape[0], x->shape[1],
                         x->shape[2]);
    }
    if (silt_graph_wants_grad(g, x, shift, scale)) {
        out->requires_grad = true;
        modulate_node *n = silt_graph_record(g, modulate_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (modulate_node){x, shift, scale, out};
    }
    return out;
}

silt_tensor *silt_ln_modulate_bf16(silt_graph *g, silt_tensor *x, silt_tensor *shift, silt_tensor *scale, float eps) {
    if (!x || !shift || !scale) return NULL;
    if (silt_graph_require_cuda(g, "ln_modulate_bf16")) return NULL;
    if (!mod_check_f32(g, "ln_modulate_bf16", "x", x) || !mod_check_f32(g, "ln_modulate_bf16", "shift", shift) ||
        !mod_check_f32(g, "ln_modulate_bf16", "scale", scale))
        return NULL;
    if (x->ndim != 3 || !mod_is_bc(shift, x) || !mod_is_bc(scale, x)) {
        char bx[64], bs[64], bc[64];
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE,
                                     "ln_modulate_bf16: x %s, shift %s, scale %s: want (B,T,C), (B,C), (B,C)",
                                     silt_shape_str(x, bx, sizeof bx), silt_shape_str(shift, bs, sizeof bs),
                                     silt_shape_str(scale, bc, sizeof bc)));
        return NULL;
    }
    silt_tensor *out = silt_graph_tensor(g, SILT_BF16, 3, x->shape);
    if (!out) return NULL;
    silt_graph_needs_grad(g, x, shift, scale);  // no backward: fails the graph when one is wanted
    return silt_graph_done(g, ln_modulate_bf16_fwd_cuda((uint16_t *)out->data, silt_f32(x), silt_f32(shift),
                                                        silt_f32(scale), x->shape[0], x->shape[1], x->shape[2], eps),
                           out);
}

typedef struct {
    silt_tensor *x, *gate, *y, *out;
} gated_add_node;

static silt_status gated_add_bwd(silt_graph *g, void *p) {
    gated_add_node *n = p;
    if (!n->out->grad) return SILT_OK;
    float *dx = silt_graph_grad(g, n->x), *dgate = silt_graph_grad(g, n->gate), *dy = silt_graph_grad(g, n->y);
    if (silt_graph_status(g) != SILT_OK) return silt_graph_status(g);
    return SILT_GRAPH_BWD(g, gated_add_bwd, dx, dgate, dy, n->out->grad, silt_f32(n->gate), silt_f32(n->y),
                          n->x->shape[0], n->x->shape[1], n->x->shape[2]);
}

silt_tensor *silt_gated_add(silt_graph *g, silt_tensor *x, silt_tensor *gate, silt_tensor *y) {
    if (!x || !gate || !y) return NULL;
    if (!mod_check_f32(g, "gated_add", "x", x) || !mod_check_f32(g, "gated_add", "gate", gate) ||
        !mod_check_f32(g, "gated_add", "y", y))
        return NULL;
    if (x->ndim != 3 || !silt_same_shape(x, y) || !mod_is_bc(gate, x)) {
        char bx[64], bg[64], by[64];
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "gated_add: x %s, gate %s, y %s: want (B,T,C), (B,C), (B,T,C)",
                                     silt_shape_str(x, bx, sizeof bx), silt_shape_str(gate, bg, sizeof bg),
                                     silt_shape_str(y, by, sizeof by)));
        return NULL;
    }
    silt_tensor *out = silt_graph_tensor_f32(g, 3, x->shape);
    if (!out) return NULL;
    if (out->device == SILT_CUDA) {
        if (!silt_graph_done(g, gated_add_fwd_cuda(silt_f32(out), silt_f32(x), silt_f32(gate), silt_f32(y), x->shape[0],
                                                   x->shape[1], x->shape[2]),
                             out))
            return NULL;
    } else {
        gated_add_fwd_cpu(silt_f32(out), silt_f32(x), silt_f32(gate), silt_f32(y), x->shape[0], x->shape[1], x->shape[2]);
    }
    if (silt_graph_wants_grad(g, x, gate, y)) {
        out->requires_grad = true;
        gated_add_node *n = silt_graph_record(g, gated_add_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (gated_add_node){x, gate, y, out};
    }
    return out;
}
