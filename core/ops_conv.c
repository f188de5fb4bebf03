#include "core/ops_conv.h"

#include <string.h>

#include "core/blas.h"

// Below this many floats of work an OpenMP region costs more than it saves.
#define PAR_MIN_WORK 32768

int64_t conv2d_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad) {
    int64_t span = in + 2 * pad - k;  // PyTorch: floor((in + 2p - d(k-1) - 1) / s) + 1 with d = 1
    return span < 0 ? 0 : span / stride + 1;
}

static bool conv_is_direct(int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
    return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0;
}

int64_t conv2d_scratch_floats(int64_t Cin, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                              int64_t ph, int64_t pw) {
    if (conv_is_direct(kh, kw, sh, sw, ph, pw)) return 0;
    return Cin * kh * kw * conv2d_out_size(H, kh, sh, ph) * conv2d_out_size(W, kw, sw, pw);
}

// Output columns ow in [*lo, *hi) whose input column ow*sw - pw + j lies in [0, W).
static inline void valid_cols(int64_t j, int64_t W, int64_t Wo, int64_t sw, int64_t pw, int64_t *lo, int64_t *hi) {
    int64_t first = pw - j;             // smallest ow*sw that lands on iw >= 0
    int64_t last = W - 1 + pw - j;      // largest ow*sw that lands on iw <= W-1
    int64_t l = first > 0 ? (first + sw - 1) / sw : 0;
    int64_t h = last < 0 ? 0 : last / sw + 1;
    if (h > Wo) h = Wo;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

// col: (Cin*kh*kw, Ho*Wo), row (c, i, j) holds x[c, oh*sh - ph + i, ow*sw - pw + j] (0 outside).
// Rows are independent, so they are split across threads.
static void im2col(float *col, const float *x, int64_t Cin, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t sh,
                   int64_t sw, int64_t ph, int64_t pw, int64_t Ho, int64_t Wo) {
    int64_t rows = Cin * kh * kw, P = Ho * Wo;
#pragma omp parallel for if (rows * P > PAR_MIN_WORK)
    for (int64_t r = 0; r < rows; r++) {
        int64_t c = r / (kh * kw), i = (r / kw) % kh, j = r % kw;
        int64_t lo, hi;
        valid_cols(j, W, Wo, sw, pw, &lo, &hi);
        const float *xc = x + c * H * W;
        for (int64_t oh = 0; oh < Ho; oh++) {
            float *dst = col + r * P + oh * Wo;
            int64_t ih = oh * sh - ph + i;
            if (ih < 0 || ih >= H) { memset(dst, 0, (size_t)Wo * sizeof(float)); continue; }
            const float *src = xc + ih * W;  // input column of ow is ow*sw + off
            int64_t off = j - pw;
            for (int64_t ow = 0; ow < lo; ow++) dst[ow] = 0.0f;
            if (sw == 1) {
                if (hi > lo) memcpy(dst + lo, src + (lo + off), (size_t)(hi - lo) * sizeof(float));
            } else {
                for (int64_t ow = lo; ow < hi; ow++) dst[ow] = src[ow * sw + off];
            }
            for (int64_t ow = hi; ow < Wo; ow++) dst[ow] = 0.0f;
        }
    }
}

// dx: (Cin, H, W) += the adjoint of im2col applied to col. Written as a gather
// per input row (c, ih) so that no two threads ever add into the same element.
static void col2im_acc(float *dx, const float *col, int64_t Cin, int64_t H, int64_t W, int64_t kh, int64_t kw,
                       int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t Ho, int64_t Wo) {
    int64_t P = Ho * Wo;
#pragma omp parallel for if (Cin * kh * kw * P > PAR_MIN_WORK)
    for (int64_t ch = 0; ch < Cin * H; ch++) {
        int64_t c = ch / H, ih = ch % H;
        float *dst = dx + ch * W;
        for (int64_t i = 0; i < kh; i++) {
            int64_t t = ih + ph - i;  // = oh * sh for the output row that read this input row
            if (t < 0) break;         // t only shrinks as i grows
            if (t % sh) continue;
            int64_t oh = t / sh;
            if (oh >= Ho) continue;
            for (int64_t j = 0; j < kw; j++) {
                int64_t lo, hi;
                valid_cols(j, W, Wo, sw, pw, &lo, &hi);
                const float *src = col + ((c * kh + i) * kw + j) * P + oh * Wo;
                int64_t off = j - pw;  // input column of ow is ow*sw + off
                if (sw == 1)
                    for (int64_t ow = lo; ow < hi; ow++) dst[ow + off] += src[ow];
                else
                    for (int64_t ow = lo; ow < hi; ow++) dst[ow * sw + off] += src[ow];
            }
        }
    }
}

void conv2d_fwd_cpu(float *out, float *scratch, const float *x, const float *w, const float *bias, int64_t N,
                    int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                    int64_t ph, int64_t pw) {
    int64_t Ho = conv2d_out_size(H, kh, sh, ph), Wo = conv2d_out_size(W, kw, sw, pw), P = Ho * Wo, CKK = Cin * kh * kw;
    bool direct = conv_is_direct(kh, kw, sh, sw, ph, pw);
    for (int64_t n = 0; n < N; n++) {
        const float *xn = x + n * Cin * H * W;
        float *on = out + n * Cout * P;
        if (bias) {  // seed with the bias, sgemm adds on top (beta = 1)
#pragma omp parallel for if (Cout * P > PAR_MIN_WORK)
            for (int64_t co = 0; co < Cout; co++)
                for (int64_t p = 0; p < P; p++) on[co * P + p] = bias[co];
        }
        const float *cols = xn;  // direct: x_n viewed as (Cin, H*W) is already the column matrix
        if (!direct) {
            im2col(scratch, xn, Cin, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo);
            cols = scratch;
        }
        // out_n (Cout, P) = w (Cout, CKK) @ cols (CKK, P)
        silt_sgemm(false, false, Cout, P, CKK, 1.0f, w, CKK, cols, P, bias ? 1.0f : 0.0f, on, P);
    }
}

void conv2d_bwd_cpu(float *dx, float *dw, float *dbias, float *scratch, const float *dout, const float *x,
                    const float *w, int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw,
                    int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
    int64_t Ho = conv2d_out_size(H, kh, sh, ph), Wo = conv2d_out_size(W, kw, sw, pw), P = Ho * Wo, CKK = Cin * kh * kw;
    bool direct = conv_is_direct(kh, kw, sh, sw, ph, pw);
    if (dbias) {
        // Double sums: one bias sees N*Ho*Wo terms.
#pragma omp parallel for if (N * Cout * P > PAR_MIN_WORK)
        for (int64_t co = 0; co < Cout; co++) {
            double s = 0;
            for (int64_t n = 0; n < N; n++) {
                const float *d = dout + (n * Cout + co) * P;
                for (int64_t p = 0; p < P; p++) s += d[p];
            }
            dbias[co] += (float)s;
        }
    }
    if (!dx && !dw) return;
    // out_n = w @ cols_n  =>  dw += dout_n @ cols_n^T,  dcols_n = w^T @ dout_n, dx_n += col2im(dcols_n)
    for (int64_t n = 0; n < N; n++) {
        const float *xn = x + n * Cin * H * W, *dn = dout + n * Cout * P;
        float *dxn = dx ? dx + n * Cin * H * W : NULL;
        if (direct) {
            if (dw) silt_sgemm(false, true, Cout, Cin, P, 1.0f, dn, P, xn, P, 1.0f, dw, Cin);
            if (dxn) silt_sgemm(true, false, Cin, P, Cout, 1.0f, w, Cin, dn, P, 1.0f, dxn, P);
            continue;
        }
        if (dw) {
            im2col(scratch, xn, Cin, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo);
            silt_sgemm(false, true, Cout, CKK, P, 1.0f, dn, P, scratch, P, 1.0f, dw, CKK);
        }
        if (dxn) {  // the same scratch now holds dcols_n
            silt_sgemm(true, false, CKK, P, Cout, 1.0f, w, CKK, dn, P, 0.0f, scratch, P);
            col2im_acc(dxn, scratch, Cin, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo);
        }
    }
}

// --- graph op ----------------------------------------------------------------------

static bool check_f32_cpu(silt_graph *g, const char *what, const silt_tensor *t) {
    if (t->dtype != SILT_F32) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "conv2d: %s must be f32, got %s", what, silt_dtype_name(t->dtype)));
        return false;
    }
    if (t->device != SILT_CPU) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_UNSUPPORTED, "conv2d: %s is on %s; this op runs on cpu", what,
                                     silt_device_name(t->device)));
        return false;
    }
    return true;
}

typedef struct {
    silt_tensor *x, *w, *bias, *out;
    float *scratch;  // the forward's im2col buffer, reused: nothing else touches it before the arena resets
    int64_t N, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw;
} conv2d_node;

static silt_status conv2d_bwd(silt_graph *g, void *p) {
    conv2d_node *n = p;
    if (!n->out->grad) return SILT_OK;
    float *dx = silt_graph_grad(g, n->x), *dw = silt_graph_grad(g, n->w), *db = silt_graph_grad(g, n->bias);
    if (silt_graph_status(g) != SILT_OK) return silt_graph_status(g);
    conv2d_bwd_cpu(dx, dw, db, n->scratch, n->out->grad, silt_f32(n->x), silt_f32(n->w), n->N, n->Cin, n->H, n->W,
                   n->Cout, n->kh, n->kw, n->sh, n->sw, n->ph, n->pw);
    return SILT_OK;
}

silt_tensor *silt_conv2d_ex(silt_graph *g, silt_tensor *x, silt_tensor *w, silt_tensor *bias, int stride_h,
                            int stride_w, int pad_h, int pad_w) {
    if (!x || !w) return NULL;
    if (!check_f32_cpu(g, "x", x) || !check_f32_cpu(g, "w", w) || (bias && !check_f32_cpu(g, "bias", bias)))
        return NULL;
    if (stride_h < 1 || stride_w < 1 || pad_h < 0 || pad_w < 0) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "conv2d: stride (%d, %d) must be >= 1 and padding (%d, %d) >= 0",
                                     stride_h, stride_w, pad_h, pad_w));
        return NULL;
    }
    char sx[64], sw_[64], sb[64];
    if (x->ndim != 4 || w->ndim != 4 || w->shape[1] != x->shape[1]) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "conv2d: needs x (N, Cin, H, W) and w (Cout, Cin, kh, kw), got x %s, w %s",
                                     silt_shape_str(x, sx, sizeof sx), silt_shape_str(w, sw_, sizeof sw_)));
        return NULL;
    }
    int64_t N = x->shape[0], Cin = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t Cout = w->shape[0], kh = w->shape[2], kw = w->shape[3];
    if (bias && (bias->ndim != 1 || bias->shape[0] != Cout)) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "conv2d: w %s needs bias (%lld), got bias %s",
                                     silt_shape_str(w, sw_, sizeof sw_), (long long)Cout,
                                     silt_shape_str(bias, sb, sizeof sb)));
        return NULL;
    }
    int64_t Ho = conv2d_out_size(H, kh, stride_h, pad_h), Wo = conv2d_out_size(W, kw, stride_w, pad_w);
    if (Ho < 1 || Wo < 1) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "conv2d: kernel %lldx%lld larger than input %s padded by (%d, %d)",
                                     (long long)kh, (long long)kw, silt_shape_str(x, sx, sizeof sx), pad_h, pad_w));
        return NULL;
    }
    int64_t oshape[4] = {N, Cout, Ho, Wo};
    silt_tensor *out = silt_graph_tensor_f32(g, 4, oshape);
    if (!out) return NULL;
    int64_t nscratch = conv2d_scratch_floats(Cin, H, W, kh, kw, stride_h, stride_w, pad_h, pad_w);
    float *scratch = NULL;
    if (nscratch > 0) {
        scratch = silt_arena_alloc(silt_graph_arena(g), (size_t)nscratch * sizeof(float));
        if (!scratch) { silt_graph_fail(g, SILT_ERR_OOM); return NULL; }
    }
    conv2d_fwd_cpu(silt_f32(out), scratch, silt_f32(x), silt_f32(w), bias ? silt_f32(bias) : NULL, N, Cin, H, W, Cout,
                   kh, kw, stride_h, stride_w, pad_h, pad_w);
    if (silt_graph_needs_grad(g, x, w, bias)) {
        out->requires_grad = true;
        conv2d_node *n = silt_graph_record(g, conv2d_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (conv2d_node){x, w, bias, out, scratch, N, Cin, H, W, Cout, kh, kw, stride_h, stride_w, pad_h, pad_w};
    }
    return out;
}

silt_tensor *silt_conv2d(silt_graph *g, silt_tensor *x, silt_tensor *w, silt_tensor *bias, int stride, int padding) {
    return silt_conv2d_ex(g, x, w, bias, stride, stride, padding, padding);
}
