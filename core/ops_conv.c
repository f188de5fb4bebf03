#include "core/ops_conv.h"

#include <string.h>

#include "core/blas.h"
#include "cuda/cuda.h"

// Below this many floats of work an OpenMP region costs more than it saves.
#define PAR_MIN_WORK 32768

int64_t conv2d_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad) {
    int64_t span = in + 2 * pad - k;  // PyTorch: floor((in + 2p - d(k-1) - 1) / s) + 1 with d = 1
    return span < 0 ? 0 : span / stride + 1;
}

static bool conv_is_direct(int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
    return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0;
}

// Output rows per im2col pass. A whole image's column matrix is Cin*kh*kw
// times the output (for a VAE decoder at 512x512 that is over 1 GB), so the
// image is done in bands of output rows whose columns fit CONV_SCRATCH_CAP
// floats; a band still gives sgemm a wide enough N (>= a few hundred columns
// for the usual channel counts) to run near peak.
#define CONV_SCRATCH_CAP ((int64_t)1 << 21)
static int64_t conv_band_rows(int64_t CKK, int64_t Ho, int64_t Wo) {
    if (CKK < 1 || Wo < 1) return Ho > 0 ? Ho : 1;  // empty products: no scratch row limit
    int64_t rows = CONV_SCRATCH_CAP / (CKK * Wo);
    if (rows < 1) rows = 1;
    return rows < Ho ? rows : Ho;
}

int64_t conv2d_scratch_floats(int64_t Cin, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                              int64_t ph, int64_t pw) {
    if (conv_is_direct(kh, kw, sh, sw, ph, pw)) return 0;
    int64_t Ho = conv2d_out_size(H, kh, sh, ph), Wo = conv2d_out_size(W, kw, sw, pw);
    if (Ho < 1 || Wo < 1) return 0;
    return Cin * kh * kw * conv_band_rows(Cin * kh * kw, Ho, Wo) * Wo;
}

typedef struct { int64_t Cin, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo; } conv_geom;

// Output columns ow in [*lo, *hi) whose input column ow*sw - pw + j lies in [0, W).
static inline void valid_cols(const conv_geom *q, int64_t j, int64_t *lo, int64_t *hi) {
    int64_t first = q->pw - j;             // smallest ow*sw that lands on iw >= 0
    int64_t last = q->W - 1 + q->pw - j;   // largest ow*sw that lands on iw <= W-1
    int64_t l = first > 0 ? (first + q->sw - 1) / q->sw : 0;
    int64_t h = last < 0 ? 0 : last / q->sw + 1;
    if (h > q->Wo) h = q->Wo;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

// col: (Cin*kh*kw, nr*Wo) for output rows [oh0, oh0+nr) of one image x (Cin, H, W):
// row (c, i, j), column (oh-oh0)*Wo + ow holds x[c, oh*sh - ph + i, ow*sw - pw + j] (0 outside).
// Rows are independent, so they are split across threads.
static void im2col(float *col, const float *x, const conv_geom *q, int64_t oh0, int64_t nr) {
    int64_t rows = q->Cin * q->kh * q->kw, Wo = q->Wo, cols = nr * Wo;
#pragma omp parallel for if (rows * cols > PAR_MIN_WORK)
    for (int64_t r = 0; r < rows; r++) {
        int64_t c = r / (q->kh * q->kw), i = (r / q->kw) % q->kh, j = r % q->kw;
        int64_t lo, hi, off = j - q->pw;  // input column of ow is ow*sw + off
        valid_cols(q, j, &lo, &hi);
        const float *xc = x + c * q->H * q->W;
        for (int64_t oh = oh0; oh < oh0 + nr; oh++) {
            float *dst = col + r * cols + (oh - oh0) * Wo;
            int64_t ih = oh * q->sh - q->ph + i;
            if (ih < 0 || ih >= q->H) { memset(dst, 0, (size_t)Wo * sizeof(float)); continue; }
            const float *src = xc + ih * q->W;
            for (int64_t ow = 0; ow < lo; ow++) dst[ow] = 0.0f;
            if (q->sw == 1) {
                if (hi > lo) memcpy(dst + lo, src + (lo + off), (size_t)(hi - lo) * sizeof(float));
            } else {
                for (int64_t ow = lo; ow < hi; ow++) dst[ow] = src[ow * q->sw + off];
            }
            for (int64_t ow = hi; ow < Wo; ow++) dst[ow] = 0.0f;
        }
    }
}

// dx: (Cin, H, W) += the adjoint of im2col(.., oh0, nr) applied to col. Written
// as a gather per input row (c, ih) so that no two threads add into the same
// element; only the input rows the band reads are visited.
static void col2im_acc(float *dx, const float *col, const conv_geom *q, int64_t oh0, int64_t nr) {
    int64_t Wo = q->Wo, cols = nr * Wo, kh = q->kh, kw = q->kw, sh = q->sh;
    int64_t ih0 = oh0 * sh - q->ph, ih1 = (oh0 + nr - 1) * sh - q->ph + kh;  // rows [ih0, ih1) are read
    if (ih0 < 0) ih0 = 0;
    if (ih1 > q->H) ih1 = q->H;
    int64_t nh = ih1 - ih0;
    if (nh <= 0) return;
#pragma omp parallel for if (q->Cin * kh * kw * cols > PAR_MIN_WORK)
    for (int64_t ch = 0; ch < q->Cin * nh; ch++) {
        int64_t c = ch / nh, ih = ih0 + ch % nh;
        float *dst = dx + (c * q->H + ih) * q->W;
        for (int64_t i = 0; i < kh; i++) {
            int64_t t = ih + q->ph - i;  // = oh * sh for the output row that read this input row
            if (t < 0) break;            // t only shrinks as i grows
            if (t % sh) continue;
            int64_t oh = t / sh;
            if (oh < oh0 || oh >= oh0 + nr) continue;
            for (int64_t j = 0; j < kw; j++) {
                int64_t lo, hi, off = j - q->pw;  // input column of ow is ow*sw + off
                valid_cols(q, j, &lo, &hi);
                const float *src = col + ((c * kh + i) * kw + j) * cols + (oh - oh0) * Wo;
                if (q->sw == 1)
                    for (int64_t ow = lo; ow < hi; ow++) dst[ow + off] += src[ow];
                else
                    for (int64_t ow = lo; ow < hi; ow++) dst[ow * q->sw + off] += src[ow];
            }
        }
    }
}

void conv2d_fwd_cpu(float *out, float *scratch, const float *x, const float *w, const float *bias, int64_t N,
                    int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                    int64_t ph, int64_t pw) {
    int64_t Ho = conv2d_out_size(H, kh, sh, ph), Wo = conv2d_out_size(W, kw, sw, pw), P = Ho * Wo, CKK = Cin * kh * kw;
    conv_geom q = {Cin, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo};
    bool direct = conv_is_direct(kh, kw, sh, sw, ph, pw);
    int64_t band = conv_band_rows(CKK, Ho, Wo);
    for (int64_t n = 0; n < N; n++) {
        const float *xn = x + n * Cin * H * W;
        float *on = out + n * Cout * P;
        if (bias) {  // seed with the bias, sgemm adds on top (beta = 1)
#pragma omp parallel for if (Cout * P > PAR_MIN_WORK)
            for (int64_t co = 0; co < Cout; co++)
                for (int64_t p = 0; p < P; p++) on[co * P + p] = bias[co];
        }
        float beta = bias ? 1.0f : 0.0f;
        if (direct) {  // x_n viewed as (Cin, H*W) is already the column matrix
            silt_sgemm(false, false, Cout, P, CKK, 1.0f, w, CKK, xn, P, beta, on, P);
            continue;
        }
        for (int64_t oh0 = 0; oh0 < Ho; oh0 += band) {
            int64_t nr = oh0 + band <= Ho ? band : Ho - oh0, cols = nr * Wo;
            im2col(scratch, xn, &q, oh0, nr);
            // out_n[:, band] (Cout, cols; row stride P) = w (Cout, CKK) @ col (CKK, cols)
            silt_sgemm(false, false, Cout, cols, CKK, 1.0f, w, CKK, scratch, cols, beta, on + oh0 * Wo, P);
        }
    }
}

void conv2d_bwd_cpu(float *dx, float *dw, float *dbias, float *scratch, const float *dout, const float *x,
                    const float *w, int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw,
                    int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
    int64_t Ho = conv2d_out_size(H, kh, sh, ph), Wo = conv2d_out_size(W, kw, sw, pw), P = Ho * Wo, CKK = Cin * kh * kw;
    conv_geom q = {Cin, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo};
    bool direct = conv_is_direct(kh, kw, sh, sw, ph, pw);
    int64_t band = conv_band_rows(CKK, Ho, Wo);
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
    // out_n = w @ col_n  =>  dw += dout_n @ col_n^T,  dcol_n = w^T @ dout_n,  dx_n += col2im(dcol_n);
    // done band by band, as in the forward.
    for (int64_t n = 0; n < N; n++) {
        const float *xn = x + n * Cin * H * W, *dn = dout + n * Cout * P;
        float *dxn = dx ? dx + n * Cin * H * W : NULL;
        if (direct) {
            if (dw) silt_sgemm(false, true, Cout, Cin, P, 1.0f, dn, P, xn, P, 1.0f, dw, Cin);
            if (dxn) silt_sgemm(true, false, Cin, P, Cout, 1.0f, w, Cin, dn, P, 1.0f, dxn, P);
            continue;
        }
        for (int64_t oh0 = 0; oh0 < Ho; oh0 += band) {
            int64_t nr = oh0 + band <= Ho ? band : Ho - oh0, cols = nr * Wo;
            const float *dband = dn + oh0 * Wo;  // (Cout, cols) with row stride P
            if (dw) {
                im2col(scratch, xn, &q, oh0, nr);
                silt_sgemm(false, true, Cout, CKK, cols, 1.0f, dband, P, scratch, cols, 1.0f, dw, CKK);
            }
            if (dxn) {  // the same scratch now holds dcol for the band
                silt_sgemm(true, false, CKK, cols, Cout, 1.0f, w, CKK, dband, P, 0.0f, scratch, cols);
                col2im_acc(dxn, scratch, &q, oh0, nr);
            }
        }
    }
}

// --- graph op ----------------------------------------------------------------------

static bool check_f32_dev(silt_graph *g, const char *what, const silt_tensor *t) {
    if (t->dtype != SILT_F32) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "conv2d: %s must be f32, got %s", what, silt_dtype_name(t->dtype)));
        return false;
    }
    if (t->device != silt_graph_device(g)) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_UNSUPPORTED, "conv2d: %s is on %s but the graph is on %s (no mixing of devices)",
                                     what, silt_device_name(t->device), silt_device_name(silt_graph_device(g))));
        return false;
    }
    return true;
}

typedef struct {
    silt_tensor *x, *w, *bias, *out;
    int64_t N, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw;
} conv2d_node;

static silt_status conv2d_bwd(silt_graph *g, void *p) {
    conv2d_node *n = p;
    if (!n->out->grad) return SILT_OK;
    float *dx = silt_graph_grad(g, n->x), *dw = silt_graph_grad(g, n->w), *db = silt_graph_grad(g, n->bias);
    if (silt_graph_status(g) != SILT_OK) return silt_graph_status(g);
    if (silt_graph_device(g) == SILT_CUDA)  // cuDNN backward data/filter (beta = 1: +=), workspace as the forward's
        return conv2d_bwd_cuda(dx, dw, db, NULL, n->out->grad, silt_f32(n->x), silt_f32(n->w), n->N, n->Cin, n->H,
                               n->W, n->Cout, n->kh, n->kw, n->sh, n->sw, n->ph, n->pw);
    int64_t nscratch = conv2d_scratch_floats(n->Cin, n->H, n->W, n->kh, n->kw, n->sh, n->sw, n->ph, n->pw);
    float *scratch = nscratch > 0 ? silt_graph_scratch(g, (size_t)nscratch * sizeof(float)) : NULL;
    if (nscratch > 0 && !scratch) return silt_graph_status(g);
    conv2d_bwd_cpu(dx, dw, db, scratch, n->out->grad, silt_f32(n->x), silt_f32(n->w), n->N, n->Cin, n->H, n->W,
                   n->Cout, n->kh, n->kw, n->sh, n->sw, n->ph, n->pw);
    return SILT_OK;
}

silt_tensor *silt_conv2d_ex(silt_graph *g, silt_tensor *x, silt_tensor *w, silt_tensor *bias, int stride_h,
                            int stride_w, int pad_h, int pad_w) {
    if (!x || !w) return NULL;
    if (!check_f32_dev(g, "x", x) || !check_f32_dev(g, "w", w) || (bias && !check_f32_dev(g, "bias", bias)))
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
    if (out->device == SILT_CUDA) {
        // cuDNN (cuda/ops_conv.h) with the workspace the library keeps: one
        // buffer shared by every conv's forward and backward, where graph
        // scratch would hold a second copy of the largest one.
        if (!silt_graph_done(g, conv2d_fwd_cuda(silt_f32(out), NULL, silt_f32(x), silt_f32(w),
                                                bias ? silt_f32(bias) : NULL, N, Cin, H, W, Cout, kh, kw, stride_h,
                                                stride_w, pad_h, pad_w),
                             out))
            return NULL;
    } else {
        int64_t nscratch = conv2d_scratch_floats(Cin, H, W, kh, kw, stride_h, stride_w, pad_h, pad_w);
        float *scratch = NULL;
        if (nscratch > 0) {
            scratch = silt_graph_scratch(g, (size_t)nscratch * sizeof(float));
            if (!scratch) return NULL;
        }
        conv2d_fwd_cpu(silt_f32(out), scratch, silt_f32(x), silt_f32(w), bias ? silt_f32(bias) : NULL, N, Cin, H, W,
                       Cout, kh, kw, stride_h, stride_w, pad_h, pad_w);
    }
    if (silt_graph_wants_grad(g, x, w, bias)) {
        out->requires_grad = true;
        conv2d_node *n = silt_graph_record(g, conv2d_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (conv2d_node){x, w, bias, out, N, Cin, H, W, Cout, kh, kw, stride_h, stride_w, pad_h, pad_w};
    }
    return out;
}

silt_tensor *silt_conv2d(silt_graph *g, silt_tensor *x, silt_tensor *w, silt_tensor *bias, int stride, int padding) {
    return silt_conv2d_ex(g, x, w, bias, stride, stride, padding, padding);
}
