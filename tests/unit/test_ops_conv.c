// conv2d: forward vs a naive double-accumulating direct convolution over a grid
// of odd shapes, kernels (1..5, non-square), strides and paddings; the raw
// backward vs a naive double reference (dx, dw, dbias accumulated into
// non-zero buffers, NULL d-pointers); the graph backward vs finite
// differences; error paths. Tolerance vs the double reference: rel 1e-4, plus
// an absolute slack that grows with the number of summed terms (atol_for).
#include <string.h>

#include "check.h"
#include "core/ops_conv.h"
#include "gradcheck.h"

#define RTOL 1e-4
// Absolute slack for outputs near 0: fp32 rounding grows with the number of
// summed terms (about eps * terms * |x w| in the worst case).
static double atol_for(int64_t terms) { return 1e-5 + 1e-7 * (double)terms; }

typedef struct { int64_t N, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw; } conv_case;

static float *rand_buf(int64_t n) {
    float *p = malloc((size_t)n * sizeof(float));
    test_fill(p, n, -1, 1);
    return p;
}
static float *copy_buf(const float *src, int64_t n) {
    float *p = malloc((size_t)n * sizeof(float));
    memcpy(p, src, (size_t)n * sizeof(float));
    return p;
}

static int64_t out_h(const conv_case *c) { return (c->H + 2 * c->ph - c->kh) / c->sh + 1; }
static int64_t out_w(const conv_case *c) { return (c->W + 2 * c->pw - c->kw) / c->sw + 1; }

// x[n, ci, ih, iw] with zero padding.
static inline double xat(const float *x, const conv_case *c, int64_t n, int64_t ci, int64_t ih, int64_t iw) {
    if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) return 0.0;
    return x[((n * c->Cin + ci) * c->H + ih) * c->W + iw];
}

// out[n,co,oh,ow] = b[co] + sum_{ci,i,j} w[co,ci,i,j] x[n,ci,oh*sh-ph+i,ow*sw-pw+j]  (PyTorch Conv2d)
static void ref_fwd(float *out, const float *x, const float *w, const float *b, const conv_case *c) {
    int64_t Ho = out_h(c), Wo = out_w(c);
    for (int64_t n = 0; n < c->N; n++)
        for (int64_t co = 0; co < c->Cout; co++)
            for (int64_t oh = 0; oh < Ho; oh++)
                for (int64_t ow = 0; ow < Wo; ow++) {
                    double s = b ? b[co] : 0.0;
                    for (int64_t ci = 0; ci < c->Cin; ci++)
                        for (int64_t i = 0; i < c->kh; i++)
                            for (int64_t j = 0; j < c->kw; j++)
                                s += w[((co * c->Cin + ci) * c->kh + i) * c->kw + j] *
                                     xat(x, c, n, ci, oh * c->sh - c->ph + i, ow * c->sw - c->pw + j);
                    out[((n * c->Cout + co) * Ho + oh) * Wo + ow] = (float)s;
                }
}

// Same sums, differentiated: scatter dout back into double accumulators.
static void ref_bwd(float *dx, float *dw, float *db, const float *dout, const float *x, const float *w,
                    const conv_case *c) {
    int64_t Ho = out_h(c), Wo = out_w(c), nx = c->N * c->Cin * c->H * c->W, nw = c->Cout * c->Cin * c->kh * c->kw;
    double *ax = calloc((size_t)nx, sizeof(double)), *aw = calloc((size_t)nw, sizeof(double));
    double *ab = calloc((size_t)c->Cout, sizeof(double));
    for (int64_t n = 0; n < c->N; n++)
        for (int64_t co = 0; co < c->Cout; co++)
            for (int64_t oh = 0; oh < Ho; oh++)
                for (int64_t ow = 0; ow < Wo; ow++) {
                    double d = dout[((n * c->Cout + co) * Ho + oh) * Wo + ow];
                    ab[co] += d;
                    for (int64_t ci = 0; ci < c->Cin; ci++)
                        for (int64_t i = 0; i < c->kh; i++)
                            for (int64_t j = 0; j < c->kw; j++) {
                                int64_t ih = oh * c->sh - c->ph + i, iw = ow * c->sw - c->pw + j;
                                int64_t wi = ((co * c->Cin + ci) * c->kh + i) * c->kw + j;
                                aw[wi] += d * xat(x, c, n, ci, ih, iw);
                                if (ih >= 0 && ih < c->H && iw >= 0 && iw < c->W)
                                    ax[((n * c->Cin + ci) * c->H + ih) * c->W + iw] += d * w[wi];
                            }
                }
    for (int64_t i = 0; i < nx; i++) dx[i] = (float)(dx[i] + ax[i]);
    for (int64_t i = 0; i < nw; i++) dw[i] = (float)(dw[i] + aw[i]);
    for (int64_t i = 0; i < c->Cout; i++) db[i] = (float)(db[i] + ab[i]);
    free(ax); free(aw); free(ab);
}

static void case_name(char *buf, size_t n, const char *what, const conv_case *c) {
    snprintf(buf, n, "%s N%lld C%lld %lldx%lld->%lld k%lldx%lld s%lld,%lld p%lld,%lld", what, (long long)c->N,
             (long long)c->Cin, (long long)c->H, (long long)c->W, (long long)c->Cout, (long long)c->kh,
             (long long)c->kw, (long long)c->sh, (long long)c->sw, (long long)c->ph, (long long)c->pw);
}

// Raw kernels on one case: forward with and without bias, backward full and partial.
static void run_raw_case(const conv_case *c) {
    int64_t Ho = out_h(c), Wo = out_w(c);
    int64_t nx = c->N * c->Cin * c->H * c->W, nw = c->Cout * c->Cin * c->kh * c->kw, no = c->N * c->Cout * Ho * Wo;
    int64_t ns = conv2d_scratch_floats(c->Cin, c->H, c->W, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw);
    bool direct = c->kh == 1 && c->kw == 1 && c->sh == 1 && c->sw == 1 && c->ph == 0 && c->pw == 0;
    CHECK(conv2d_out_size(c->H, c->kh, c->sh, c->ph) == Ho && conv2d_out_size(c->W, c->kw, c->sw, c->pw) == Wo);
    // Whole-image columns when they fit 2^21 floats, else whole bands of output rows.
    int64_t ckk = c->Cin * c->kh * c->kw, cap = (int64_t)1 << 21;
    if (direct) CHECK(ns == 0);
    else if (ckk * Ho * Wo <= cap) CHECK(ns == ckk * Ho * Wo);
    else CHECK(ns % (ckk * Wo) == 0 && ns < ckk * Ho * Wo && (ns <= cap || ns == ckk * Wo));
    // Exact-size malloc so ASan catches any write past the scratch.
    float *scratch = ns ? malloc((size_t)ns * sizeof(float)) : NULL;
    float *x = rand_buf(nx), *w = rand_buf(nw), *b = rand_buf(c->Cout);
    float *out = rand_buf(no), *ref = malloc((size_t)no * sizeof(float));
    char name[128];
    double atol_x = atol_for(c->Cout * c->kh * c->kw), atol_w = atol_for(c->N * Ho * Wo);
    for (int has_bias = 0; has_bias < 2; has_bias++) {
        if (scratch) test_fill(scratch, ns, 100, 200);  // stale scratch must not leak into the result
        conv2d_fwd_cpu(out, scratch, x, w, has_bias ? b : NULL, c->N, c->Cin, c->H, c->W, c->Cout, c->kh, c->kw, c->sh,
                       c->sw, c->ph, c->pw);
        ref_fwd(ref, x, w, has_bias ? b : NULL, c);
        case_name(name, sizeof name, has_bias ? "conv fwd+bias" : "conv fwd", c);
        CHECK_CLOSE(name, out, ref, no, RTOL, atol_for(c->Cin * c->kh * c->kw));
    }
    float *dout = rand_buf(no), *dx = rand_buf(nx), *dw = rand_buf(nw), *db = rand_buf(c->Cout);
    float *rdx = copy_buf(dx, nx), *rdw = copy_buf(dw, nw), *rdb = copy_buf(db, c->Cout);
    float *dx2 = copy_buf(dx, nx), *dw2 = copy_buf(dw, nw);
    ref_bwd(rdx, rdw, rdb, dout, x, w, c);
    conv2d_bwd_cpu(dx, dw, db, scratch, dout, x, w, c->N, c->Cin, c->H, c->W, c->Cout, c->kh, c->kw, c->sh, c->sw,
                   c->ph, c->pw);
    case_name(name, sizeof name, "conv bwd dx", c);
    CHECK_CLOSE(name, dx, rdx, nx, RTOL, atol_x);
    case_name(name, sizeof name, "conv bwd dw", c);
    CHECK_CLOSE(name, dw, rdw, nw, RTOL, atol_w);
    case_name(name, sizeof name, "conv bwd db", c);
    CHECK_CLOSE(name, db, rdb, c->Cout, RTOL, atol_w);
    // dx alone and dw alone (the other pointers NULL) give the same.
    conv2d_bwd_cpu(dx2, NULL, NULL, scratch, dout, x, w, c->N, c->Cin, c->H, c->W, c->Cout, c->kh, c->kw, c->sh, c->sw,
                   c->ph, c->pw);
    conv2d_bwd_cpu(NULL, dw2, NULL, scratch, dout, x, w, c->N, c->Cin, c->H, c->W, c->Cout, c->kh, c->kw, c->sh, c->sw,
                   c->ph, c->pw);
    case_name(name, sizeof name, "conv bwd dx only", c);
    CHECK_CLOSE(name, dx2, rdx, nx, RTOL, atol_x);
    case_name(name, sizeof name, "conv bwd dw only", c);
    CHECK_CLOSE(name, dw2, rdw, nw, RTOL, atol_w);
    free(scratch); free(x); free(w); free(b); free(out); free(ref);
    free(dout); free(dx); free(dw); free(db); free(rdx); free(rdw); free(rdb); free(dx2); free(dw2);
}

static void test_raw_grid(void) {
    // The grid the brief names: N in {1,3}, Cin 5, 7x9 input, k in {1,3}, stride {1,2}, padding {0,1,2};
    // plus even kernels 2 and 4 and a 5x5.
    const int64_t ks[] = {1, 2, 3, 4, 5};
    for (int64_t N = 1; N <= 3; N += 2)
        for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
            for (int64_t s = 1; s <= 2; s++)
                for (int64_t p = 0; p <= 2; p++) {
                    if (ks[ki] >= 4 && N == 1) continue;  // keep the run short; N = 3 covers these
                    conv_case c = {N, 5, 7, 9, 4, ks[ki], ks[ki], s, s, p, p};
                    run_raw_case(&c);
                }
    // Separate h/w strides and paddings, non-square kernels, tiny and larger inputs.
    const conv_case extra[] = {
        {2, 3, 7, 9, 6, 3, 2, 1, 2, 2, 0},   {2, 3, 8, 5, 2, 1, 3, 2, 1, 0, 1},  {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
        {1, 2, 1, 1, 3, 3, 3, 1, 1, 1, 1},   {3, 2, 2, 3, 2, 5, 5, 2, 2, 2, 2},  {2, 4, 6, 6, 3, 1, 1, 2, 2, 0, 0},
        {2, 7, 5, 5, 3, 1, 1, 1, 1, 1, 1},   {1, 2, 4, 4, 2, 4, 4, 3, 3, 0, 0},  {1, 3, 5, 7, 2, 2, 2, 2, 2, 1, 1},
        {2, 16, 23, 19, 24, 3, 3, 1, 1, 1, 1}, {1, 32, 33, 31, 8, 3, 3, 2, 2, 1, 1}, {2, 24, 17, 15, 16, 1, 1, 1, 1, 0, 0},
        // Column matrices over the 2^21-float cap: done in bands of output rows (2 and 3 bands,
        // the last one short), so col2im must add across band edges.
        {1, 32, 150, 61, 3, 3, 3, 1, 1, 1, 1}, {2, 64, 255, 127, 2, 3, 4, 2, 2, 1, 1},
    };
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) run_raw_case(&extra[i]);
}

// --- graph op --------------------------------------------------------------------

typedef struct { int sh, sw, ph, pw, has_bias; } conv_args;

static silt_tensor *gc_conv(silt_graph *g, silt_tensor **in, void *user) {
    conv_args *a = user;
    return silt_conv2d_ex(g, in[0], in[1], a->has_bias ? in[2] : NULL, a->sh, a->sw, a->ph, a->pw);
}

static silt_tensor *rand_tensor(int ndim, const int64_t *shape, bool grad) {
    silt_tensor *t = silt_tensor_create_f32(ndim, shape, grad);
    test_fill(silt_f32(t), silt_numel(t), -1, 1);
    return t;
}

static void test_graph_op(void) {
    const conv_case cases[] = {
        {2, 3, 5, 7, 4, 3, 3, 1, 1, 1, 1}, {3, 2, 7, 6, 3, 3, 3, 2, 2, 1, 1}, {2, 3, 5, 4, 2, 1, 1, 1, 1, 0, 0},
        {1, 2, 6, 5, 3, 2, 4, 2, 1, 0, 2}, {2, 2, 4, 5, 3, 1, 1, 2, 2, 1, 0},
    };
    silt_graph *g = silt_graph_create(0);
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const conv_case *c = &cases[k];
        int64_t xs[4] = {c->N, c->Cin, c->H, c->W}, ws[4] = {c->Cout, c->Cin, c->kh, c->kw};
        for (int has_bias = 0; has_bias < 2; has_bias++) {
            silt_tensor *x = rand_tensor(4, xs, true), *w = rand_tensor(4, ws, true), *b = rand_tensor(1, &c->Cout, true);
            conv_args a = {(int)c->sh, (int)c->sw, (int)c->ph, (int)c->pw, has_bias};
            silt_graph_reset(g);
            silt_tensor *in[3] = {x, w, b};
            silt_tensor *out = gc_conv(g, in, &a);
            CHECK(out && out->ndim == 4 && out->shape[0] == c->N && out->shape[1] == c->Cout &&
                  out->shape[2] == out_h(c) && out->shape[3] == out_w(c) && out->requires_grad);
            if (out) {
                int64_t no = silt_numel(out);
                float *ref = malloc((size_t)no * sizeof(float));
                ref_fwd(ref, silt_f32(x), silt_f32(w), has_bias ? silt_f32(b) : NULL, c);
                char name[128];
                case_name(name, sizeof name, "silt_conv2d_ex", c);
                CHECK_CLOSE(name, silt_f32(out), ref, no, RTOL, atol_for(c->Cin * c->kh * c->kw));
                free(ref);
                case_name(name, sizeof name, has_bias ? "conv grad+bias" : "conv grad", c);
                gradcheck_run(name, gc_conv, in, has_bias ? 3 : 2, &a, gradcheck_default());
            }
            silt_tensor_free(x);
            silt_tensor_free(w);
            silt_tensor_free(b);
        }
    }
    // silt_conv2d is silt_conv2d_ex with equal h/w settings.
    int64_t xs[4] = {1, 2, 6, 7}, ws[4] = {3, 2, 3, 3}, three = 3;
    silt_tensor *x = rand_tensor(4, xs, false), *w = rand_tensor(4, ws, false), *b = rand_tensor(1, &three, false);
    silt_graph_reset(g);
    silt_tensor *o1 = silt_conv2d(g, x, w, b, 2, 1), *o2 = silt_conv2d_ex(g, x, w, b, 2, 2, 1, 1);
    CHECK(o1 && o2 && silt_same_shape(o1, o2) && !o1->requires_grad && silt_graph_tape_length(g) == 0);
    if (o1 && o2) CHECK(memcmp(silt_f32(o1), silt_f32(o2), silt_nbytes(o1)) == 0);

    // Errors: bad shapes -> SILT_ERR_SHAPE, bad stride/padding -> SILT_ERR_ARG; NULL and graph status set.
    int64_t x3s[3] = {2, 6, 7}, wbad[4] = {3, 4, 3, 3}, wbig[4] = {3, 2, 9, 3}, four = 4;
    silt_tensor *x3 = rand_tensor(3, x3s, false), *wc = rand_tensor(4, wbad, false), *wk = rand_tensor(4, wbig, false);
    silt_tensor *b4 = rand_tensor(1, &four, false), *xi = silt_tensor_create(SILT_I32, 4, xs, false);
#define EXPECT_FAIL(expr, code)                                                                       \
    do {                                                                                              \
        silt_graph_reset(g);                                                                          \
        silt_tensor *r_ = (expr);                                                                     \
        CHECK_MSG(r_ == NULL && silt_graph_status(g) == (code), "%s: want %s, got %s (%s)", #expr,     \
                  silt_status_name(code), silt_status_name(silt_graph_status(g)), silt_last_error()); \
    } while (0)
    EXPECT_FAIL(silt_conv2d(g, x3, w, b, 1, 1), SILT_ERR_SHAPE);   // x not 4-D
    EXPECT_FAIL(silt_conv2d(g, x, x3, b, 1, 1), SILT_ERR_SHAPE);   // w not 4-D
    EXPECT_FAIL(silt_conv2d(g, x, wc, b, 1, 1), SILT_ERR_SHAPE);   // Cin 2 vs 4
    EXPECT_FAIL(silt_conv2d(g, x, w, b4, 1, 1), SILT_ERR_SHAPE);   // bias 4 vs Cout 3
    EXPECT_FAIL(silt_conv2d(g, x, wk, NULL, 1, 1), SILT_ERR_SHAPE);  // kh 9 > 6 + 2
    EXPECT_FAIL(silt_conv2d(g, x, w, b, 0, 1), SILT_ERR_ARG);
    EXPECT_FAIL(silt_conv2d(g, x, w, b, 1, -1), SILT_ERR_ARG);
    EXPECT_FAIL(silt_conv2d_ex(g, x, w, b, 1, 0, 1, 1), SILT_ERR_ARG);
    EXPECT_FAIL(silt_conv2d(g, xi, w, b, 1, 1), SILT_ERR_ARG);     // i32 x
#undef EXPECT_FAIL
    silt_graph_reset(g);
    silt_conv2d(g, x, wc, b, 1, 1);
    CHECK_MSG(strstr(silt_last_error(), "conv2d") && strstr(silt_last_error(), "(1, 2, 6, 7)") &&
                  strstr(silt_last_error(), "(3, 4, 3, 3)"),
              "conv2d error lacks op or shapes: %s", silt_last_error());
    CHECK(silt_conv2d(g, NULL, w, b, 1, 1) == NULL && silt_graph_status(g) == SILT_ERR_SHAPE);
    // The kernel fits exactly when padding makes room: 9 <= 6 + 2*2 + ... (Ho = 2).
    silt_graph_reset(g);
    silt_tensor *o3 = silt_conv2d(g, x, wk, NULL, 1, 2);
    CHECK(o3 && o3->shape[2] == 2 && o3->shape[3] == 9);
    silt_tensor *all[] = {x, w, b, x3, wc, wk, b4, xi};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) silt_tensor_free(all[i]);
    silt_graph_free(g);
}

int main(void) {
    test_seed(7);
    test_raw_grid();
    test_graph_op();
    return check_summary();
}
