// Normalisation ops: layer norm, RMS norm, group norm, L2 normalise.
// Forwards against naive double references (rtol 1e-5); backwards against
// finite differences (gradcheck.h on small shapes, a double-precision
// directional check on shapes large enough for the OpenMP paths).
#include <string.h>

#include "check.h"
#include "core/ops_norm.h"
#include "dircheck.h"
#include "gradcheck.h"

typedef struct { int64_t N, C, HW, G; double eps; } nshape;

// --- references (double) -------------------------------------------------------------

// in: x (N,C), w (C) or NULL, b (C) or NULL
static void ref_layernorm(double *out, double *const *in, void *user) {
    nshape *s = user;
    for (int64_t n = 0; n < s->N; n++) {
        const double *x = in[0] + n * s->C;
        double m = 0, v = 0;
        for (int64_t c = 0; c < s->C; c++) m += x[c];
        m /= (double)s->C;
        for (int64_t c = 0; c < s->C; c++) v += (x[c] - m) * (x[c] - m);
        v /= (double)s->C;
        for (int64_t c = 0; c < s->C; c++)
            out[n * s->C + c] = (x[c] - m) / sqrt(v + s->eps) * (in[1] ? in[1][c] : 1) + (in[2] ? in[2][c] : 0);
    }
}

static void ref_rmsnorm(double *out, double *const *in, void *user) {
    nshape *s = user;
    for (int64_t n = 0; n < s->N; n++) {
        const double *x = in[0] + n * s->C;
        double ms = 0;
        for (int64_t c = 0; c < s->C; c++) ms += x[c] * x[c];
        ms /= (double)s->C;
        for (int64_t c = 0; c < s->C; c++) out[n * s->C + c] = x[c] / sqrt(ms + s->eps) * (in[1] ? in[1][c] : 1);
    }
}

// x (N, C, HW)
static void ref_groupnorm(double *out, double *const *in, void *user) {
    nshape *s = user;
    int64_t Cg = s->C / s->G;
    for (int64_t n = 0; n < s->N; n++)
        for (int64_t g = 0; g < s->G; g++) {
            double m = 0, v = 0;
            int64_t cnt = Cg * s->HW;
            for (int64_t c = g * Cg; c < (g + 1) * Cg; c++)
                for (int64_t i = 0; i < s->HW; i++) m += in[0][(n * s->C + c) * s->HW + i];
            m /= (double)cnt;
            for (int64_t c = g * Cg; c < (g + 1) * Cg; c++)
                for (int64_t i = 0; i < s->HW; i++) {
                    double d = in[0][(n * s->C + c) * s->HW + i] - m;
                    v += d * d;
                }
            v /= (double)cnt;
            for (int64_t c = g * Cg; c < (g + 1) * Cg; c++)
                for (int64_t i = 0; i < s->HW; i++) {
                    int64_t j = (n * s->C + c) * s->HW + i;
                    out[j] = (in[0][j] - m) / sqrt(v + s->eps) * (in[1] ? in[1][c] : 1) + (in[2] ? in[2][c] : 0);
                }
        }
}

// F.normalize: x / max(|x|, eps)
static void ref_l2norm(double *out, double *const *in, void *user) {
    nshape *s = user;
    for (int64_t n = 0; n < s->N; n++) {
        const double *x = in[0] + n * s->C;
        double ss = 0;
        for (int64_t c = 0; c < s->C; c++) ss += x[c] * x[c];
        double d = sqrt(ss) > s->eps ? sqrt(ss) : s->eps;
        for (int64_t c = 0; c < s->C; c++) out[n * s->C + c] = x[c] / d;
    }
}

// Runs a reference on float inputs; returns a float copy of the result.
static float *run_ref(dref_fn f, const float *x, int64_t nx, const float *w, const float *b, int64_t C, int64_t n_out,
                      nshape *s) {
    double *in[3] = {to_d(x, nx), w ? to_d(w, C) : NULL, b ? to_d(b, C) : NULL};
    double *out = malloc((size_t)n_out * sizeof(double));
    f(out, in, s);
    float *r = to_f(out, n_out);
    for (int i = 0; i < 3; i++) free(in[i]);
    free(out);
    return r;
}

// --- layer norm / RMS norm -----------------------------------------------------------

static void test_layernorm_rmsnorm_fwd_bwd(void) {
    // (N, C), the last one large enough for the OpenMP paths.
    const int64_t shapes[][2] = {{1, 1}, {7, 13}, {5, 64}, {3, 1}, {300, 129}};
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++)
        for (int affine = 0; affine < 3; affine++) {  // 0: none, 1: w only, 2: w and b
            int64_t N = shapes[si][0], C = shapes[si][1];
            nshape s = {N, C, 1, 1, 1e-5};
            float *x = new_f(N * C, -2, 3), *w = new_f(C, 0.5f, 1.5f), *b = new_f(C, -1, 1);
            const float *wa = affine >= 1 ? w : NULL, *ba = affine == 2 ? b : NULL;
            float *out = malloc(sizeof(float) * N * C), *mean = malloc(sizeof(float) * N), *rstd = malloc(sizeof(float) * N);
            char what[96];

            layernorm_fwd_cpu(out, mean, rstd, x, wa, ba, N, C, (float)s.eps);
            float *ref = run_ref(ref_layernorm, x, N * C, wa, ba, C, N * C, &s);
            snprintf(what, sizeof what, "layernorm fwd N=%lld C=%lld affine=%d", (long long)N, (long long)C, affine);
            CHECK_CLOSE(what, out, ref, N * C, 1e-5, 1e-5);
            free(ref);
            double mref = 0;
            for (int64_t c = 0; c < C; c++) mref += x[(N - 1) * C + c];
            CHECK(fabs(mean[N - 1] - mref / (double)C) <= 1e-5);

            // Backward: directional check against the double reference, and
            // accumulation (+=) into prefilled buffers.
            float *R = new_f(N * C, -1, 1), *dx = calloc((size_t)(N * C), sizeof(float));
            float *dw = calloc((size_t)C, sizeof(float)), *db = calloc((size_t)C, sizeof(float));
            layernorm_bwd_cpu(dx, affine >= 1 ? dw : NULL, affine == 2 ? db : NULL, R, x, mean, rstd, wa, N, C);
            double *in[3] = {to_d(x, N * C), affine >= 1 ? to_d(w, C) : NULL, affine == 2 ? to_d(b, C) : NULL};
            snprintf(what, sizeof what, "layernorm N=%lld C=%lld affine=%d", (long long)N, (long long)C, affine);
            if (C > 1) dircheck(what, ref_layernorm, in, 0, N * C, N * C, R, dx, &s, 1e-4);
            if (affine >= 1) dircheck(what, ref_layernorm, in, 1, C, N * C, R, dw, &s, 1e-4);
            if (affine == 2) dircheck(what, ref_layernorm, in, 2, C, N * C, R, db, &s, 1e-4);
            float *dx2 = malloc(sizeof(float) * N * C);
            for (int64_t i = 0; i < N * C; i++) dx2[i] = 1.0f;
            layernorm_bwd_cpu(dx2, NULL, NULL, R, x, mean, rstd, wa, N, C);
            for (int64_t i = 0; i < N * C; i++) dx2[i] -= 1.0f;
            CHECK_CLOSE("layernorm bwd accumulates", dx2, dx, N * C, 1e-4, 1e-5);

            // RMS norm: the same shapes, w optional.
            float *rr = malloc(sizeof(float) * N);
            rmsnorm_fwd_cpu(out, rr, x, wa, N, C, (float)s.eps);
            ref = run_ref(ref_rmsnorm, x, N * C, wa, NULL, C, N * C, &s);
            snprintf(what, sizeof what, "rmsnorm fwd N=%lld C=%lld affine=%d", (long long)N, (long long)C, affine);
            CHECK_CLOSE(what, out, ref, N * C, 1e-5, 1e-5);
            free(ref);
            memset(dx, 0, sizeof(float) * N * C);
            memset(dw, 0, sizeof(float) * C);
            rmsnorm_bwd_cpu(dx, affine >= 1 ? dw : NULL, R, x, rr, wa, N, C);
            free(in[2]);
            in[2] = NULL;
            snprintf(what, sizeof what, "rmsnorm N=%lld C=%lld affine=%d", (long long)N, (long long)C, affine);
            // C == 1: y = x / sqrt(x^2 + eps) is flat (dy/dx ~ eps/|x|^3), so the
            // float result is all cancellation noise; only C > 1 is checked.
            if (C > 1) dircheck(what, ref_rmsnorm, in, 0, N * C, N * C, R, dx, &s, 1e-4);
            if (affine >= 1) dircheck(what, ref_rmsnorm, in, 1, C, N * C, R, dw, &s, 1e-4);

            for (int i = 0; i < 3; i++) free(in[i]);
            free(x); free(w); free(b); free(out); free(mean); free(rstd); free(R); free(dx); free(dw); free(db);
            free(dx2); free(rr);
        }
}

// --- group norm ----------------------------------------------------------------------

static void test_groupnorm_fwd_bwd(void) {
    // N, C, HW, G
    const int64_t shapes[][4] = {{2, 6, 15, 3}, {3, 8, 1, 4}, {1, 5, 7, 1}, {2, 6, 9, 6}, {2, 32, 1100, 8}};
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++)
        for (int affine = 0; affine < 2; affine++) {
            int64_t N = shapes[si][0], C = shapes[si][1], HW = shapes[si][2], G = shapes[si][3], n = N * C * HW;
            nshape s = {N, C, HW, G, 1e-5};
            float *x = new_f(n, -1, 2), *w = new_f(C, 0.5f, 1.5f), *b = new_f(C, -1, 1);
            const float *wa = affine ? w : NULL, *ba = affine ? b : NULL;
            float *out = malloc(sizeof(float) * n), *mean = malloc(sizeof(float) * N * G), *rstd = malloc(sizeof(float) * N * G);
            groupnorm_fwd_cpu(out, mean, rstd, x, wa, ba, N, C, HW, G, (float)s.eps);
            float *ref = run_ref(ref_groupnorm, x, n, wa, ba, C, n, &s);
            char what[96];
            snprintf(what, sizeof what, "groupnorm fwd (%lld,%lld,%lld) G=%lld affine=%d", (long long)N, (long long)C,
                     (long long)HW, (long long)G, affine);
            CHECK_CLOSE(what, out, ref, n, 1e-5, 1e-5);
            free(ref);

            float *R = new_f(n, -1, 1), *dx = calloc((size_t)n, sizeof(float));
            float *dw = calloc((size_t)C, sizeof(float)), *db = calloc((size_t)C, sizeof(float));
            groupnorm_bwd_cpu(dx, affine ? dw : NULL, affine ? db : NULL, R, x, mean, rstd, wa, N, C, HW, G);
            double *in[3] = {to_d(x, n), affine ? to_d(w, C) : NULL, affine ? to_d(b, C) : NULL};
            snprintf(what, sizeof what, "groupnorm (%lld,%lld,%lld) G=%lld affine=%d", (long long)N, (long long)C,
                     (long long)HW, (long long)G, affine);
            if (C / G * HW > 1) dircheck(what, ref_groupnorm, in, 0, n, n, R, dx, &s, 1e-4);
            if (affine) {
                dircheck(what, ref_groupnorm, in, 1, C, n, R, dw, &s, 1e-4);
                dircheck(what, ref_groupnorm, in, 2, C, n, R, db, &s, 1e-4);
            }
            for (int i = 0; i < 3; i++) free(in[i]);
            free(x); free(w); free(b); free(out); free(mean); free(rstd); free(R); free(dx); free(dw); free(db);
        }
}

// --- L2 normalise ----------------------------------------------------------------------

static void test_l2norm_fwd_bwd(void) {
    const int64_t shapes[][2] = {{6, 9}, {4, 1}, {260, 131}};
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        int64_t N = shapes[si][0], C = shapes[si][1];
        nshape s = {N, C, 1, 1, 1e-12};
        float *x = new_f(N * C, -1, 1), *out = malloc(sizeof(float) * N * C), *nr = malloc(sizeof(float) * N);
        l2norm_fwd_cpu(out, nr, x, N, C, 1e-12f);
        float *ref = run_ref(ref_l2norm, x, N * C, NULL, NULL, C, N * C, &s);
        CHECK_CLOSE("l2norm fwd", out, ref, N * C, 1e-5, 1e-6);
        free(ref);
        float *R = new_f(N * C, -1, 1), *dx = calloc((size_t)(N * C), sizeof(float));
        l2norm_bwd_cpu(dx, R, x, nr, N, C, 1e-12f);
        double *in[1] = {to_d(x, N * C)};
        if (C > 1) dircheck("l2norm", ref_l2norm, in, 0, N * C, N * C, R, dx, &s, 1e-4);  // C == 1: dy/dx = 0, as rmsnorm
        free(in[0]); free(x); free(out); free(nr); free(R); free(dx);
    }
    // A zero row and a tiny row hit the eps clamp: y = x / eps, dx = dout / eps.
    float x[6] = {0, 0, 0, 1e-13f, -2e-13f, 0}, out[6], nr[2], dx[6] = {0}, R[6] = {1, -2, 3, 0.5f, 0.25f, -1};
    l2norm_fwd_cpu(out, nr, x, 2, 3, 1e-12f);
    CHECK(out[0] == 0 && out[1] == 0 && fabsf(out[3] - 0.1f) < 1e-6f && fabsf(out[4] + 0.2f) < 1e-6f);
    l2norm_bwd_cpu(dx, R, x, nr, 2, 3, 1e-12f);
    CHECK(fabsf(dx[0] - 1e12f) < 1e6f && fabsf(dx[1] + 2e12f) < 1e6f && fabsf(dx[3] - 0.5e12f) < 1e6f);
}

// --- graph ops: values, gradcheck, errors -----------------------------------------------

static silt_tensor *gc_ln_affine(silt_graph *g, silt_tensor **in, void *u) {
    return silt_layernorm(g, in[0], in[1], in[2], 1e-5f);
}
static silt_tensor *gc_ln_plain(silt_graph *g, silt_tensor **in, void *u) { return silt_layernorm(g, in[0], NULL, NULL, 1e-6f); }
static silt_tensor *gc_rms(silt_graph *g, silt_tensor **in, void *u) { return silt_rmsnorm(g, in[0], in[1], 1e-5f); }
static silt_tensor *gc_rms_plain(silt_graph *g, silt_tensor **in, void *u) { return silt_rmsnorm(g, in[0], NULL, 1e-5f); }
static silt_tensor *gc_gn(silt_graph *g, silt_tensor **in, void *u) {
    return silt_groupnorm(g, in[0], in[1], in[2], *(int64_t *)u, 1e-5f);
}
static silt_tensor *gc_gn_plain(silt_graph *g, silt_tensor **in, void *u) {
    return silt_groupnorm(g, in[0], NULL, NULL, *(int64_t *)u, 1e-5f);
}
static silt_tensor *gc_l2(silt_graph *g, silt_tensor **in, void *u) { return silt_l2norm(g, in[0], 1e-12f); }

static silt_tensor *param(int ndim, const int64_t *shape, float lo, float hi) {
    silt_tensor *t = silt_tensor_create_f32(ndim, shape, true);
    test_fill(silt_f32(t), silt_numel(t), lo, hi);
    return t;
}

static void test_graph_ops(void) {
    gradcheck_opts go = gradcheck_default();
    int64_t xs[3] = {3, 5, 7}, cs[1] = {7};
    silt_tensor *x = param(3, xs, -1, 2), *w = param(1, cs, 0.5f, 1.5f), *b = param(1, cs, -1, 1);
    silt_tensor *in[3] = {x, w, b};
    gradcheck_run("layernorm affine", gc_ln_affine, in, 3, NULL, go);
    gradcheck_run("layernorm plain (DiT: no affine, eps 1e-6)", gc_ln_plain, in, 1, NULL, go);
    gradcheck_run("rmsnorm", gc_rms, in, 2, NULL, go);
    gradcheck_run("rmsnorm plain", gc_rms_plain, in, 1, NULL, go);
    gradcheck_run("l2norm", gc_l2, in, 1, NULL, go);

    // The graph op agrees with the raw kernel (x viewed as (15, 7)).
    silt_graph *g = silt_graph_create(0);
    silt_tensor *y = silt_layernorm(g, x, w, b, 1e-5f);
    float ref[105], mean[15], rstd[15];
    layernorm_fwd_cpu(ref, mean, rstd, silt_f32(x), silt_f32(w), silt_f32(b), 15, 7, 1e-5f);
    CHECK(y && y->ndim == 3 && y->shape[2] == 7 && y->requires_grad && memcmp(silt_f32(y), ref, sizeof ref) == 0);

    int64_t gs[4] = {2, 6, 3, 5}, gc[1] = {6};
    silt_tensor *gx = param(4, gs, -1, 1), *gw = param(1, gc, 0.5f, 1.5f), *gb = param(1, gc, -1, 1);
    silt_tensor *gin[3] = {gx, gw, gb};
    int64_t groups = 3;
    gradcheck_run("groupnorm G=3", gc_gn, gin, 3, &groups, go);
    groups = 2;
    gradcheck_run("groupnorm G=2 plain", gc_gn_plain, gin, 1, &groups, go);

    // (N, C, L) and (N, C) inputs: HW is the product of the dims after C.
    int64_t s3[3] = {2, 6, 15}, s2[2] = {3, 6};
    silt_tensor *x3 = param(3, s3, -1, 1), *x2 = param(2, s2, -1, 1);
    silt_graph_reset(g);
    silt_tensor *y3 = silt_groupnorm(g, x3, gw, gb, 3, 1e-5f), *y2 = silt_groupnorm(g, x2, gw, gb, 2, 1e-5f);
    float r3[180], r2[18];
    groupnorm_fwd_cpu(r3, NULL, NULL, silt_f32(x3), silt_f32(gw), silt_f32(gb), 2, 6, 15, 3, 1e-5f);
    groupnorm_fwd_cpu(r2, NULL, NULL, silt_f32(x2), silt_f32(gw), silt_f32(gb), 3, 6, 1, 2, 1e-5f);
    CHECK(y3 && memcmp(silt_f32(y3), r3, sizeof r3) == 0 && y2 && memcmp(silt_f32(y2), r2, sizeof r2) == 0);
    silt_tensor_free(x3);
    silt_tensor_free(x2);

    // Errors: NULL + status, naming the op.
    silt_graph_reset(g);
    CHECK(silt_groupnorm(g, gx, gw, gb, 4, 1e-5f) == NULL && silt_graph_status(g) == SILT_ERR_SHAPE);
    CHECK(strstr(silt_last_error_message(), "groupnorm") != NULL);
    silt_graph_reset(g);
    CHECK(silt_groupnorm(g, gx, NULL, NULL, 0, 1e-5f) == NULL && silt_graph_status(g) == SILT_ERR_ARG);
    silt_graph_reset(g);
    CHECK(silt_groupnorm(g, gx, w, NULL, 3, 1e-5f) == NULL && silt_graph_status(g) == SILT_ERR_SHAPE);  // w has 7 != 6
    silt_graph_reset(g);
    CHECK(silt_layernorm(g, x, gw, NULL, 1e-5f) == NULL && silt_graph_status(g) == SILT_ERR_SHAPE);
    silt_graph_reset(g);
    CHECK(silt_rmsnorm(g, x, NULL, -1.0f) == NULL && silt_graph_status(g) == SILT_ERR_ARG);
    silt_graph_reset(g);
    CHECK(silt_l2norm(g, x, 0.0f) == NULL && silt_graph_status(g) == SILT_ERR_ARG);
    silt_graph_reset(g);
    CHECK(silt_layernorm(g, NULL, w, b, 1e-5f) == NULL && silt_graph_status(g) == SILT_OK);
    // After a failure, optional-argument ops refuse to run (a NULL w may be a lost tensor).
    CHECK(silt_groupnorm(g, gx, NULL, NULL, 4, 1e-5f) == NULL);
    CHECK(silt_layernorm(g, x, NULL, NULL, 1e-5f) == NULL && silt_graph_status(g) == SILT_ERR_SHAPE);

    silt_graph_free(g);
    silt_tensor_free(x); silt_tensor_free(w); silt_tensor_free(b);
    silt_tensor_free(gx); silt_tensor_free(gw); silt_tensor_free(gb);
}

int main(void) {
    test_seed(7);
    test_layernorm_rmsnorm_fwd_bwd();
    test_groupnorm_fwd_bwd();
    test_l2norm_fwd_bwd();
    test_graph_ops();
    return check_summary();
}
