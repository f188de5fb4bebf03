// adaLN modulate and gated residual add (DiT). Forwards against naive double
// references (rtol 1e-6: one multiply-add per element); backwards against
// finite differences (gradcheck.h through the graph ops, and a double-precision
// directional check on a shape large enough for the OpenMP paths).
#include <string.h>

#include "check.h"
#include "core/ops.h"
#include "dircheck.h"
#include "gradcheck.h"

typedef struct { int64_t B, T, C; } mshape;

// in: x (B,T,C), shift (B,C), scale (B,C)
static void ref_modulate(double *out, double *const *in, void *user) {
    mshape *s = user;
    for (int64_t b = 0; b < s->B; b++)
        for (int64_t t = 0; t < s->T; t++)
            for (int64_t c = 0; c < s->C; c++) {
                int64_t i = (b * s->T + t) * s->C + c;
                out[i] = in[0][i] * (1 + in[2][b * s->C + c]) + in[1][b * s->C + c];
            }
}

// in: x (B,T,C), gate (B,C), y (B,T,C)
static void ref_gated_add(double *out, double *const *in, void *user) {
    mshape *s = user;
    for (int64_t b = 0; b < s->B; b++)
        for (int64_t t = 0; t < s->T; t++)
            for (int64_t c = 0; c < s->C; c++) {
                int64_t i = (b * s->T + t) * s->C + c;
                out[i] = in[0][i] + in[1][b * s->C + c] * in[2][i];
            }
}

static void test_raw(void) {
    const int64_t shapes[][3] = {{1, 1, 1}, {2, 7, 13}, {3, 1, 5}, {2, 300, 131}};
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        mshape s = {shapes[si][0], shapes[si][1], shapes[si][2]};
        int64_t n = s.B * s.T * s.C, nbc = s.B * s.C;
        float *x = new_f(n, -2, 2), *y = new_f(n, -2, 2), *shift = new_f(nbc, -1, 1), *scale = new_f(nbc, -1, 1);
        float *out = malloc(sizeof(float) * n), *R = new_f(n, -1, 1);
        double *refd = malloc(sizeof(double) * n);
        char what[96];

        modulate_fwd_cpu(out, x, shift, scale, s.B, s.T, s.C);
        double *in[3] = {to_d(x, n), to_d(shift, nbc), to_d(scale, nbc)};
        ref_modulate(refd, in, &s);
        float *ref = to_f(refd, n);
        snprintf(what, sizeof what, "modulate fwd (%lld,%lld,%lld)", (long long)s.B, (long long)s.T, (long long)s.C);
        CHECK_CLOSE(what, out, ref, n, 1e-6, 1e-6);
        free(ref);
        float *dx = calloc((size_t)n, sizeof(float)), *dshift = calloc((size_t)nbc, sizeof(float));
        float *dscale = calloc((size_t)nbc, sizeof(float));
        modulate_bwd_cpu(dx, dshift, dscale, R, x, scale, s.B, s.T, s.C);
        snprintf(what, sizeof what, "modulate (%lld,%lld,%lld)", (long long)s.B, (long long)s.T, (long long)s.C);
        dircheck(what, ref_modulate, in, 0, n, n, R, dx, &s, 1e-5);
        dircheck(what, ref_modulate, in, 1, nbc, n, R, dshift, &s, 1e-5);
        dircheck(what, ref_modulate, in, 2, nbc, n, R, dscale, &s, 1e-5);
        // Accumulates: a second call doubles the parameter grads.
        float *dshift2 = malloc(sizeof(float) * nbc);
        memcpy(dshift2, dshift, sizeof(float) * nbc);
        modulate_bwd_cpu(NULL, dshift2, NULL, R, x, scale, s.B, s.T, s.C);
        for (int64_t i = 0; i < nbc; i++) dshift2[i] *= 0.5f;
        CHECK_CLOSE("modulate bwd accumulates", dshift2, dshift, nbc, 1e-4, 1e-6);  // float sums over T, added twice
        for (int i = 0; i < 3; i++) free(in[i]);

        gated_add_fwd_cpu(out, x, shift, y, s.B, s.T, s.C);  // gate := shift
        double *gin[3] = {to_d(x, n), to_d(shift, nbc), to_d(y, n)};
        ref_gated_add(refd, gin, &s);
        ref = to_f(refd, n);
        snprintf(what, sizeof what, "gated_add fwd (%lld,%lld,%lld)", (long long)s.B, (long long)s.T, (long long)s.C);
        CHECK_CLOSE(what, out, ref, n, 1e-6, 1e-6);
        free(ref);
        float *dgate = calloc((size_t)nbc, sizeof(float)), *dy = calloc((size_t)n, sizeof(float));
        memset(dx, 0, sizeof(float) * n);
        gated_add_bwd_cpu(dx, dgate, dy, R, shift, y, s.B, s.T, s.C);
        snprintf(what, sizeof what, "gated_add (%lld,%lld,%lld)", (long long)s.B, (long long)s.T, (long long)s.C);
        dircheck(what, ref_gated_add, gin, 0, n, n, R, dx, &s, 1e-5);
        dircheck(what, ref_gated_add, gin, 1, nbc, n, R, dgate, &s, 1e-5);
        dircheck(what, ref_gated_add, gin, 2, n, n, R, dy, &s, 1e-5);
        for (int i = 0; i < 3; i++) free(gin[i]);

        free(x); free(y); free(shift); free(scale); free(out); free(R); free(refd); free(dx); free(dshift);
        free(dscale); free(dshift2); free(dgate); free(dy);
    }
}

static silt_tensor *gc_modulate(silt_graph *g, silt_tensor **in, void *u) { return silt_modulate(g, in[0], in[1], in[2]); }
static silt_tensor *gc_gated_add(silt_graph *g, silt_tensor **in, void *u) { return silt_gated_add(g, in[0], in[1], in[2]); }

static silt_tensor *param(int ndim, const int64_t *shape, bool rg) {
    silt_tensor *t = silt_tensor_create_f32(ndim, shape, rg);
    test_fill(silt_f32(t), silt_numel(t), -1, 1);
    return t;
}

static void test_graph_ops(void) {
    int64_t xs[3] = {2, 5, 7}, ps[2] = {2, 7}, p3[3] = {2, 1, 7};
    silt_tensor *x = param(3, xs, true), *y = param(3, xs, true), *shift = param(2, ps, true), *scale = param(2, ps, true);
    silt_tensor *gate3 = param(3, p3, true);
    silt_tensor *min[3] = {x, shift, scale}, *gin[3] = {x, gate3, y};
    gradcheck_run("modulate", gc_modulate, min, 3, NULL, gradcheck_default());
    gradcheck_run("gated_add (gate (B,1,C))", gc_gated_add, gin, 3, NULL, gradcheck_default());
    gin[1] = shift;
    shift->requires_grad = false;  // a frozen gate: no grad buffer touched
    gradcheck_run("gated_add frozen gate", gc_gated_add, gin, 3, NULL, gradcheck_default());
    CHECK(shift->grad == NULL || shift->grad[0] == 0.0f);
    shift->requires_grad = true;

    silt_graph *g = silt_graph_create(0);
    silt_tensor *o = silt_modulate(g, x, shift, scale);
    float ref[70];
    modulate_fwd_cpu(ref, silt_f32(x), silt_f32(shift), silt_f32(scale), 2, 5, 7);
    CHECK(o && o->requires_grad && memcmp(o->data, ref, sizeof ref) == 0);

    // Errors: wrong ranks and sizes give NULL + SILT_ERR_SHAPE naming the op.
    int64_t bad_bc[2] = {2, 6}, bad_b[2] = {3, 7}, x2[2] = {2, 7}, ybad[3] = {2, 4, 7};
    silt_tensor *pb = param(2, bad_bc, false), *pbb = param(2, bad_b, false), *x2d = param(2, x2, false);
    silt_tensor *yb = param(3, ybad, false);
    silt_graph_reset(g);
    CHECK(silt_modulate(g, x, pb, scale) == NULL && silt_graph_status(g) == SILT_ERR_SHAPE);
    CHECK(strstr(silt_last_error_message(), "modulate") != NULL);
    silt_graph_reset(g);
    CHECK(silt_modulate(g, x, shift, pbb) == NULL && silt_graph_status(g) == SILT_ERR_SHAPE);
    silt_graph_reset(g);
    CHECK(silt_modulate(g, x2d, shift, scale) == NULL && silt_graph_status(g) == SILT_ERR_SHAPE);
    silt_graph_reset(g);
    CHECK(silt_gated_add(g, x, shift, yb) == NULL && silt_graph_status(g) == SILT_ERR_SHAPE);
    CHECK(strstr(silt_last_error_message(), "gated_add") != NULL);
    silt_graph_reset(g);
    CHECK(silt_gated_add(g, x, pbb, y) == NULL && silt_graph_status(g) == SILT_ERR_SHAPE);
    silt_graph_reset(g);
    CHECK(silt_modulate(g, x, NULL, scale) == NULL && silt_graph_status(g) == SILT_OK);

    silt_graph_free(g);
    silt_tensor *all[] = {x, y, shift, scale, gate3, pb, pbb, x2d, yb};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) silt_tensor_free(all[i]);
}

// The bf16-writing fused ops (silt_ln_modulate_bf16, silt_linear_gelu_bf16)
// are CUDA-graph only (tests/gpu/test_cuda_bf16_acts.c covers them there): a
// CPU graph refuses them with one clear error, and silt_linear never takes a
// bf16 x there.
static void test_bf16_ops_refused_on_cpu(void) {
    silt_graph *g = silt_graph_create(0);
    float xv[2 * 3 * 4] = {0}, pv[2 * 4] = {0};
    silt_tensor *x = silt_graph_upload(g, SILT_F32, 3, (const int64_t[]){2, 3, 4}, xv);
    silt_tensor *p = silt_graph_upload(g, SILT_F32, 2, (const int64_t[]){2, 4}, pv);
    CHECK(silt_ln_modulate_bf16(g, x, p, p, 1e-6f) == NULL);
    CHECK(silt_graph_status(g) == SILT_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(silt_last_error(), "ln_modulate_bf16: a CUDA graph only") != NULL, "message: %s", silt_last_error());
    silt_graph_reset(g);
    x = silt_graph_upload(g, SILT_F32, 3, (const int64_t[]){2, 3, 4}, xv);
    silt_tensor *w = silt_graph_upload(g, SILT_F32, 2, (const int64_t[]){2, 4}, pv);
    CHECK(silt_linear_gelu_bf16(g, x, w, NULL) == NULL);
    CHECK(silt_graph_status(g) == SILT_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(silt_last_error(), "linear_gelu_bf16: a bf16 weight on a CUDA graph only") != NULL, "message: %s",
              silt_last_error());
    CHECK(!silt_linear_takes_bf16(g, w));
    silt_graph_free(g);
}

int main(void) {
    test_seed(5);
    test_raw();
    test_graph_ops();
    test_bf16_ops_refused_on_cpu();
    return check_summary();
}
