// Resampling: nearest, bicubic and area against
//  1. PyTorch golden values (tests/unit/resample_golden.h, made by
//     tests/golden/make_resample_golden.py): outputs and input grads;
//  2. values derived by hand (bicubic 2x2 -> 4x4, below);
//  3. double-precision references written from the documented formulas, on
//     random odd shapes;
// and every backward against finite differences.
#include <string.h>

#include "check.h"
#include "core/ops_resample.h"
#include "gradcheck.h"
#include "resample_golden.h"

typedef enum { NEAREST, BICUBIC, AREA } mode;
static const char *mode_names[] = {"nearest", "bicubic", "area"};

static silt_tensor *run(silt_graph *g, silt_tensor *x, int64_t ho, int64_t wo, mode m) {
    switch (m) {
    case NEAREST: return silt_upsample_nearest(g, x, ho, wo);
    case BICUBIC: return silt_upsample_bicubic(g, x, ho, wo);
    default: return silt_area_downsample(g, x, ho, wo);
    }
}

static void test_golden(void) {
    silt_graph *g = silt_graph_create(0);
    for (size_t k = 0; k < sizeof resample_goldens / sizeof resample_goldens[0]; k++) {
        const resample_golden *c = &resample_goldens[k];
        mode m = strcmp(c->mode, "nearest") == 0 ? NEAREST : strcmp(c->mode, "bicubic") == 0 ? BICUBIC : AREA;
        int64_t shape[4] = {c->n, c->c, c->h, c->w};
        silt_tensor *x = silt_tensor_create_f32(4, shape, true);
        memcpy(silt_f32(x), c->x, sizeof(float) * (size_t)silt_numel(x));
        // Backward must accumulate: start x's grad at 0.5 and expect dx + 0.5.
        float *want_dx = malloc(sizeof(float) * (size_t)silt_numel(x));
        for (int64_t i = 0; i < silt_numel(x); i++) x->grad[i] = 0.5f, want_dx[i] = c->dx[i] + 0.5f;
        silt_tensor *y = run(g, x, c->ho, c->wo, m);
        CHECK(y && y->shape[2] == c->ho && y->shape[3] == c->wo);
        if (!y) { silt_tensor_free(x); free(want_dx); continue; }
        char what[96];
        snprintf(what, sizeof what, "golden #%zu %s (%d,%d)->(%d,%d) fwd", k, c->mode, c->h, c->w, c->ho, c->wo);
        // nearest copies values: exact. bicubic follows PyTorch's float steps,
        // but PyTorch's CPU build fuses a*b+c into FMAs (we do not), which moves
        // the source position and sums by an ulp or so: up to ~1e-6 on values ~1.
        CHECK_CLOSE(what, silt_f32(y), c->y, silt_numel(y), m == NEAREST ? 0 : 1e-5, m == NEAREST ? 0 : 2e-6);
        CHECK_OK(silt_backward(g, y, c->dout));
        snprintf(what, sizeof what, "golden #%zu %s (%d,%d)->(%d,%d) bwd", k, c->mode, c->h, c->w, c->ho, c->wo);
        CHECK_CLOSE(what, x->grad, want_dx, silt_numel(x), 1e-5, 1e-5);
        silt_graph_reset(g);
        silt_tensor_free(x);
        free(want_dx);
    }
    silt_graph_free(g);
}

// Bicubic [[1,2],[3,4]] -> 4x4 by hand. scale = 2/4 = 0.5; output 0 samples
// src = 0.5 * 0.5 - 0.5 = -0.25: floor -1, t = 0.75, Keys weights (A = -0.75)
// W(1.75) = -0.03515625, W(0.75) = 0.26171875, W(0.25) = 0.87890625,
// W(1.25) = -0.10546875 on taps -2,-1,0,1 -> clamped 0,0,0,1, so
// out0 = 1.10546875 v0 - 0.10546875 v1. Output 1: src 0.25, t = 0.25, taps
// -1..2 -> 0,0,1,1: out1 = 0.7734375 v0 + 0.2265625 v1; outputs 2, 3 mirror.
// Rows [1,2] -> [0.89453125, 1.2265625, 1.7734375, 2.10546875]; row [3,4] is
// that + 2, so out[y][x] = row0[x] + 2 * (-0.10546875, 0.2265625, 0.7734375,
// 1.10546875)[y]. (PyTorch 2.15 prints the same: 0.6836, 1.0156, 1.5625, ...)
static void test_bicubic_by_hand(void) {
    static const float want[16] = {
        0.68359375f, 1.015625f,  1.5625f,    1.89453125f, 1.34765625f, 1.6796875f, 2.2265625f, 2.55859375f,
        2.44140625f, 2.7734375f, 3.3203125f, 3.65234375f, 3.10546875f, 3.4375f,    3.984375f,  4.31640625f,
    };
    int64_t shape[4] = {1, 1, 2, 2};
    silt_tensor *x = silt_tensor_create_f32(4, shape, false);
    for (int i = 0; i < 4; i++) silt_f32(x)[i] = (float)(i + 1);
    silt_graph *g = silt_graph_create(0);
    silt_tensor *y = silt_upsample_bicubic(g, x, 4, 4);
    CHECK(y != NULL);
    if (y) CHECK_CLOSE("bicubic 2x2->4x4 by hand", silt_f32(y), want, 16, 1e-6, 1e-6);
    silt_graph_free(g);
    silt_tensor_free(x);
}

// --- formula references (double) ---------------------------------------------------

static double keys(double d) {  // Keys cubic kernel, A = -0.75
    const double A = -0.75;
    d = fabs(d);
    if (d <= 1) return ((A + 2) * d - (A + 3)) * d * d + 1;
    if (d < 2) return ((A * d - 5 * A) * d + 8 * A) * d - 4 * A;
    return 0;
}

static int64_t clampi(int64_t v, int64_t n) { return v < 0 ? 0 : v >= n ? n - 1 : v; }

static void ref_resample(float *out, const float *x, int64_t nc, int64_t h, int64_t w, int64_t ho, int64_t wo, mode m) {
    for (int64_t p = 0; p < nc; p++)
        for (int64_t i = 0; i < ho; i++)
            for (int64_t j = 0; j < wo; j++) {
                const float *xp = x + p * h * w;
                double v = 0;
                if (m == NEAREST) {
                    int64_t si = clampi(i * h / ho, h), sj = clampi(j * w / wo, w);  // floor(dst * in / out)
                    v = xp[si * w + sj];
                } else if (m == BICUBIC) {
                    double sy = (i + 0.5) * h / ho - 0.5, sx = (j + 0.5) * w / wo - 0.5;
                    int64_t fy = (int64_t)floor(sy), fx = (int64_t)floor(sx);
                    for (int64_t a = fy - 1; a <= fy + 2; a++)
                        for (int64_t b = fx - 1; b <= fx + 2; b++)
                            v += keys(sy - a) * keys(sx - b) * xp[clampi(a, h) * w + clampi(b, w)];
                } else {
                    int64_t r0 = (int64_t)floor((double)i * h / ho), r1 = (int64_t)ceil((double)(i + 1) * h / ho);
                    int64_t c0 = (int64_t)floor((double)j * w / wo), c1 = (int64_t)ceil((double)(j + 1) * w / wo);
                    for (int64_t r = r0; r < r1; r++)
                        for (int64_t c = c0; c < c1; c++) v += xp[r * w + c];
                    v /= (double)((r1 - r0) * (c1 - c0));
                }
                out[(p * ho + i) * wo + j] = (float)v;
            }
}

static void test_formula_reference(void) {
    silt_graph *g = silt_graph_create(0);
    silt_graph_set_grad(g, false);
    // Sizes up to 20: below the first (in, out) pair (26, 22) where PyTorch's
    // float scale and exact floor(dst*in/out) pick different nearest rows.
    for (int trial = 0; trial < 24; trial++) {
        int64_t shape[4] = {1 + trial % 2, 1 + trial % 3, 1 + (int64_t)(test_uniform() * 17),
                            1 + (int64_t)(test_uniform() * 19)};
        int64_t ho = 1 + (int64_t)(test_uniform() * 20), wo = 1 + (int64_t)(test_uniform() * 20);
        silt_tensor *x = silt_tensor_create_f32(4, shape, false);
        test_fill(silt_f32(x), silt_numel(x), -1, 1);
        float *want = malloc(sizeof(float) * (size_t)(shape[0] * shape[1] * ho * wo));
        for (int m = 0; m < 3; m++) {
            silt_tensor *y = run(g, x, ho, wo, (mode)m);
            CHECK(y != NULL);
            if (!y) continue;
            ref_resample(want, silt_f32(x), shape[0] * shape[1], shape[2], shape[3], ho, wo, (mode)m);
            char what[96];
            snprintf(what, sizeof what, "%s (%lld,%lld)->(%lld,%lld) vs formula", mode_names[m], (long long)shape[2],
                     (long long)shape[3], (long long)ho, (long long)wo);
            CHECK_CLOSE(what, silt_f32(y), want, silt_numel(y), m == NEAREST ? 0 : 1e-5, m == NEAREST ? 0 : 1e-5);
        }
        free(want);
        silt_tensor_free(x);
        silt_graph_reset(g);
    }
    // Index helpers: PyTorch's float pick at 26 -> 22, row 11 (exact math: 13).
    CHECK(resample_nearest_index(11, 26, 22) == 12);
    CHECK(resample_nearest_index(5, 4, 8) == 2 && resample_nearest_index(6, 7, 7) == 6);
    int64_t i0;
    float w[4];
    resample_cubic_taps(0, 5, 5, &i0, w);  // same size: identity weights
    CHECK(i0 == 0 && w[0] == 0 && w[1] == 1 && w[2] == 0 && w[3] == 0);
    silt_graph_free(g);
}

// --- gradients ------------------------------------------------------------------------

typedef struct {
    mode m;
    int64_t ho, wo;
} rs_user;

static silt_tensor *gc_resample(silt_graph *g, silt_tensor **in, void *user) {
    rs_user *u = user;
    return run(g, in[0], u->ho, u->wo, u->m);
}

static void test_backward(void) {
    int64_t shape[4] = {2, 2, 5, 6};
    silt_tensor *x = silt_tensor_create_f32(4, shape, true);
    test_fill(silt_f32(x), silt_numel(x), -1, 1);
    const int64_t sizes[][2] = {{9, 13}, {3, 4}, {1, 1}, {5, 6}, {7, 3}};
    gradcheck_opts o = gradcheck_default();
    o.max_probe = 120;  // every element: border taps are the interesting ones
    for (int m = 0; m < 3; m++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            rs_user u = {(mode)m, sizes[s][0], sizes[s][1]};
            char what[64];
            snprintf(what, sizeof what, "%s (5,6)->(%lld,%lld)", mode_names[m], (long long)u.ho, (long long)u.wo);
            gradcheck_run(what, gc_resample, &x, 1, &u, o);
        }
    silt_tensor_free(x);
}

// Large enough for the parallel paths: forward vs the formula, and backward
// as the adjoint: <f(x), r> == <x, f^T(r)> (in double).
static void test_large_adjoint(void) {
    int64_t shape[4] = {2, 8, 33, 47};
    silt_tensor *x = silt_tensor_create_f32(4, shape, true);
    test_fill(silt_f32(x), silt_numel(x), -1, 1);
    silt_graph *g = silt_graph_create(0);
    for (int m = 0; m < 3; m++) {
        int64_t ho = m == AREA ? 15 : 70, wo = m == AREA ? 20 : 95;
        silt_tensor_zero_grad(x);
        silt_graph_reset(g);
        silt_tensor *y = run(g, x, ho, wo, (mode)m);
        CHECK(y != NULL);
        if (!y) continue;
        int64_t ny = silt_numel(y), nx = silt_numel(x);
        float *want = malloc(sizeof(float) * (size_t)ny), *r = malloc(sizeof(float) * (size_t)ny);
        ref_resample(want, silt_f32(x), 16, 33, 47, ho, wo, (mode)m);
        CHECK_CLOSE(mode_names[m], silt_f32(y), want, ny, m == NEAREST ? 0 : 1e-5, m == NEAREST ? 0 : 1e-5);
        test_fill(r, ny, -1, 1);
        CHECK_OK(silt_backward(g, y, r));
        double lhs = 0, rhs = 0, mag = 0;
        for (int64_t i = 0; i < ny; i++) lhs += (double)silt_f32(y)[i] * r[i], mag += fabs((double)silt_f32(y)[i] * r[i]);
        for (int64_t i = 0; i < nx; i++) rhs += (double)silt_f32(x)[i] * x->grad[i];
        CHECK_MSG(fabs(lhs - rhs) <= 1e-5 * mag, "%s adjoint: <f(x),r> %.9g vs <x,f'(r)> %.9g", mode_names[m], lhs, rhs);
        free(want);
        free(r);
    }
    silt_graph_free(g);
    silt_tensor_free(x);
}

static void test_errors(void) {
    silt_graph *g = silt_graph_create(0);
    int64_t s3[3] = {2, 5, 5}, s4[4] = {1, 1, 4, 4};
    silt_tensor *x3 = silt_tensor_create_f32(3, s3, false), *x4 = silt_tensor_create_f32(4, s4, false);
    CHECK(silt_upsample_bicubic(g, x3, 8, 8) == NULL && silt_graph_status(g) == SILT_ERR_SHAPE);
    silt_graph_reset(g);
    CHECK(silt_upsample_nearest(g, x4, 0, 8) == NULL && silt_graph_status(g) == SILT_ERR_ARG);
    silt_graph_reset(g);
    CHECK(silt_area_downsample(g, x4, 2, -1) == NULL && silt_graph_status(g) == SILT_ERR_ARG);
    silt_graph_reset(g);
    CHECK(silt_area_downsample(g, NULL, 2, 2) == NULL && silt_graph_status(g) == SILT_OK);
    silt_tensor *y = silt_area_downsample(g, x4, 2, 2);
    CHECK(y && !y->requires_grad && silt_graph_tape_length(g) == 0);
    silt_tensor_free(x3);
    silt_tensor_free(x4);
    silt_graph_free(g);
}

int main(void) {
    test_seed(3);
    test_golden();
    test_bicubic_by_hand();
    test_formula_reference();
    test_backward();
    test_large_adjoint();
    test_errors();
    return check_summary();
}
