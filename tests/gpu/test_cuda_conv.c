// conv2d_fwd_cuda / conv2d_bwd_cuda (cuDNN) against conv2d_fwd_cpu /
// conv2d_bwd_cpu (im2col + sgemm, checked by tests/unit/test_ops_conv.c
// against a naive reference and finite differences), on shapes with odd
// sizes, strides 1 and 2, asymmetric kernels, strides and padding, 1x1
// kernels, with and without bias, with the library's workspace and with a
// caller's scratch. Backward buffers start from random values (the twins
// accumulate); the backward runs twice and must give the same bits
// (deterministic algorithms). Exit 77 (SKIP) without a GPU or without cuDNN
// (after checking that the twins then refuse with SILT_ERR_UNSUPPORTED).
//
// Tolerance: fp32 rtol 1e-4, scale-aware: each output against the typical
// size of the dot products it sums (sqrt(terms) * rms * rms); TF32 (one
// case) 1e-2.
#include <stdlib.h>

#include "check.h"
#include "core/ops_conv.h"
#include "gpu_test.h"
#include "twin_util.h"

typedef struct {
    int64_t N, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw;
} cshape;

static void conv_case(cshape s, bool bias_on, bool own_scratch, double rtol, const char *tag) {
    const int64_t Ho = conv2d_out_size(s.H, s.kh, s.sh, s.ph), Wo = conv2d_out_size(s.W, s.kw, s.sw, s.pw);
    const int64_t nx = s.N * s.Cin * s.H * s.W, nw = s.Cout * s.Cin * s.kh * s.kw, no = s.N * s.Cout * Ho * Wo;
    const int64_t ncs = conv2d_scratch_floats(s.Cin, s.H, s.W, s.kh, s.kw, s.sh, s.sw, s.ph, s.pw);
    float *x = twin_host(nx), *w = twin_host(nw), *b = twin_host(s.Cout), *g = twin_host(no);
    float *ref = twin_host(no), *got = twin_host(no), *cpu_scr = twin_host(ncs);
    float *dx0 = twin_host(nx), *dw0 = twin_host(nw), *db0 = twin_host(s.Cout);
    float *dx_ref = twin_host(nx), *dw_ref = twin_host(nw), *db_ref = twin_host(s.Cout);
    float *dx = twin_host(nx), *dw = twin_host(nw), *db = twin_host(s.Cout), *first = twin_host(nx + nw + s.Cout);
    float *d_x = NULL, *d_w = NULL, *d_b = NULL, *d_g = NULL, *d_out = NULL, *d_dx = NULL, *d_dw = NULL, *d_db = NULL,
          *d_scr = NULL;
    char name[160], what[200];
    snprintf(name, sizeof name, "%s N%lld Cin%lld %lldx%lld Cout%lld k%lldx%lld s%lldx%lld p%lldx%lld%s%s", tag,
             (long long)s.N, (long long)s.Cin, (long long)s.H, (long long)s.W, (long long)s.Cout, (long long)s.kh,
             (long long)s.kw, (long long)s.sh, (long long)s.sw, (long long)s.ph, (long long)s.pw,
             bias_on ? " bias" : "", own_scratch ? " scratch" : "");
    if (!x || !w || !b || !g || !ref || !got || !cpu_scr || !dx0 || !dw0 || !db0 || !dx_ref || !dw_ref || !db_ref ||
        !dx || !dw || !db || !first) {
        CHECK_MSG(0, "host alloc");
        goto done;
    }
    test_fill(x, nx, -1, 1);
    test_fill(w, nw, -0.5f, 0.5f);
    test_fill(b, s.Cout, -1, 1);
    test_fill(g, no, -1, 1);
    test_fill(dx0, nx, -1, 1);
    test_fill(dw0, nw, -1, 1);
    test_fill(db0, s.Cout, -1, 1);
    conv2d_fwd_cpu(ref, cpu_scr, x, w, bias_on ? b : NULL, s.N, s.Cin, s.H, s.W, s.Cout, s.kh, s.kw, s.sh, s.sw, s.ph,
                   s.pw);
    d_x = twin_upload(x, (size_t)nx * 4);
    d_w = twin_upload(w, (size_t)nw * 4);
    d_b = twin_upload(b, (size_t)s.Cout * 4);
    d_g = twin_upload(g, (size_t)no * 4);
    d_out = twin_upload(NULL, (size_t)no * 4);
    if (!d_x || !d_w || !d_b || !d_g || !d_out) goto done;
    if (own_scratch) {
        int64_t floats = -1;
        CHECK_OK(conv2d_scratch_floats_cuda(&floats, s.N, s.Cin, s.H, s.W, s.Cout, s.kh, s.kw, s.sh, s.sw, s.ph, s.pw));
        CHECK(floats >= 0);
        d_scr = twin_upload(NULL, (size_t)(floats > 0 ? floats : 1) * 4);
        if (!d_scr) goto done;
    }
    twin_poison(d_out, (size_t)no * 4);
    silt_status st = conv2d_fwd_cuda(d_out, d_scr, d_x, d_w, bias_on ? d_b : NULL, s.N, s.Cin, s.H, s.W, s.Cout, s.kh,
                                     s.kw, s.sh, s.sw, s.ph, s.pw);
    CHECK_MSG(st == SILT_OK, "%s: fwd: %s", name, silt_last_error());
    if (st != SILT_OK) goto done;
    snprintf(what, sizeof what, "%s fwd", name);
    if (twin_download(got, d_out, (size_t)no * 4))
        twin_compare(what, got, ref, no, rtol, sqrt((double)(s.Cin * s.kh * s.kw)) * twin_rms(x, nx) * twin_rms(w, nw));

    memcpy(dx_ref, dx0, (size_t)nx * 4);
    memcpy(dw_ref, dw0, (size_t)nw * 4);
    memcpy(db_ref, db0, (size_t)s.Cout * 4);
    conv2d_bwd_cpu(dx_ref, dw_ref, db_ref, cpu_scr, g, x, w, s.N, s.Cin, s.H, s.W, s.Cout, s.kh, s.kw, s.sh, s.sw,
                   s.ph, s.pw);
    for (int run = 0; run < 2; run++) {
        silt_cuda_free(d_dx);
        silt_cuda_free(d_dw);
        silt_cuda_free(d_db);
        d_dx = twin_upload(dx0, (size_t)nx * 4);
        d_dw = twin_upload(dw0, (size_t)nw * 4);
        d_db = twin_upload(db0, (size_t)s.Cout * 4);
        if (!d_dx || !d_dw || !d_db) goto done;
        st = conv2d_bwd_cuda(d_dx, d_dw, d_db, d_scr, d_g, d_x, d_w, s.N, s.Cin, s.H, s.W, s.Cout, s.kh, s.kw, s.sh,
                             s.sw, s.ph, s.pw);
        CHECK_MSG(st == SILT_OK, "%s: bwd: %s", name, silt_last_error());
        if (st != SILT_OK) goto done;
        if (!twin_download(dx, d_dx, (size_t)nx * 4) || !twin_download(dw, d_dw, (size_t)nw * 4) ||
            !twin_download(db, d_db, (size_t)s.Cout * 4))
            goto done;
        if (run == 0) {
            double rg = twin_rms(g, no);
            snprintf(what, sizeof what, "%s dx", name);
            twin_compare(what, dx, dx_ref, nx, rtol, sqrt((double)(s.Cout * s.kh * s.kw)) * rg * twin_rms(w, nw) + 1e-6);
            snprintf(what, sizeof what, "%s dw", name);
            twin_compare(what, dw, dw_ref, nw, rtol, sqrt((double)(s.N * Ho * Wo)) * rg * twin_rms(x, nx) + 1e-6);
            snprintf(what, sizeof what, "%s dbias", name);
            twin_compare(what, db, db_ref, s.Cout, rtol, sqrt((double)(s.N * Ho * Wo)) * rg + 1e-6);
            memcpy(first, dx, (size_t)nx * 4);
            memcpy(first + nx, dw, (size_t)nw * 4);
            memcpy(first + nx + nw, db, (size_t)s.Cout * 4);
        } else {
            int same = memcmp(first, dx, (size_t)nx * 4) == 0 && memcmp(first + nx, dw, (size_t)nw * 4) == 0 &&
                       memcmp(first + nx + nw, db, (size_t)s.Cout * 4) == 0;
            CHECK_MSG(same, "%s: backward differs between two runs (non-deterministic algorithm)", name);
        }
    }
done:
    silt_cuda_free(d_x); silt_cuda_free(d_w); silt_cuda_free(d_b); silt_cuda_free(d_g); silt_cuda_free(d_out);
    silt_cuda_free(d_dx); silt_cuda_free(d_dw); silt_cuda_free(d_db); silt_cuda_free(d_scr);
    free(x); free(w); free(b); free(g); free(ref); free(got); free(cpu_scr); free(dx0); free(dw0); free(db0);
    free(dx_ref); free(dw_ref); free(db_ref); free(dx); free(dw); free(db); free(first);
}

static void test_errors(void) {
    float *d = NULL;
    CHECK_OK(silt_cuda_malloc((void **)&d, 1024 * sizeof(float)));
    CHECK(conv2d_fwd_cuda(d, NULL, d, d, NULL, 1, 1, 4, 4, 1, 3, 3, 0, 1, 1, 1) == SILT_ERR_ARG);    // stride 0
    CHECK(conv2d_fwd_cuda(d, NULL, d, d, NULL, 1, 1, 4, 4, 1, 3, 3, 1, 1, -1, 1) == SILT_ERR_ARG);   // padding < 0
    CHECK(conv2d_fwd_cuda(d, NULL, d, d, NULL, 1, 1, 2, 2, 1, 5, 5, 1, 1, 0, 0) == SILT_ERR_SHAPE);  // kernel too big
    CHECK(conv2d_fwd_cuda(NULL, NULL, d, d, NULL, 1, 1, 4, 4, 1, 3, 3, 1, 1, 1, 1) == SILT_ERR_ARG);
    CHECK(conv2d_fwd_cuda(d, d + 1, d, d, NULL, 1, 1, 4, 4, 1, 3, 3, 1, 1, 1, 1) == SILT_ERR_ARG);  // misaligned scratch
    CHECK(conv2d_fwd_cuda(d, NULL, d, d, NULL, 1, 1, (int64_t)1 << 32, 4, 1, 3, 3, 1, 1, 1, 1) == SILT_ERR_UNSUPPORTED);
    CHECK_OK(silt_cuda_sync());
    silt_cuda_free(d);
}

int main(void) {
    GPU_TEST_START();
    if (!silt_cuda_have_cudnn()) {
        float *d = NULL;
        CHECK_OK(silt_cuda_malloc((void **)&d, 64 * sizeof(float)));
        silt_status s = conv2d_fwd_cuda(d, NULL, d, d, NULL, 1, 1, 4, 4, 1, 3, 3, 1, 1, 1, 1);
        CHECK(s == SILT_ERR_UNSUPPORTED);
        printf("SKIP: no cuDNN (%s)\n", silt_last_error());
        silt_cuda_free(d);
        return check_failed_ ? 1 : 77;
    }
    test_seed(20240614);
    test_errors();
    const cshape shapes[] = {
        {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},     {2, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1},    {1, 4, 16, 16, 8, 3, 3, 2, 2, 1, 1},
        {2, 8, 13, 11, 6, 1, 1, 1, 1, 0, 0},   {1, 5, 9, 9, 7, 4, 4, 2, 2, 1, 1},    {1, 3, 8, 8, 4, 3, 3, 1, 1, 0, 0},
        {3, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1}, {1, 2, 7, 7, 3, 3, 1, 2, 1, 1, 0},    {1, 64, 64, 64, 64, 3, 3, 1, 1, 1, 1},
        {2, 7, 15, 17, 9, 5, 3, 2, 3, 2, 1},   {1, 1, 5, 5, 3, 3, 3, 1, 1, 2, 2},    {1, 128, 33, 33, 4, 1, 1, 1, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        for (int v = 0; v < 2; v++) conv_case(shapes[i], v == 0, v == 1, 1e-4, "conv");
    // TF32 allowed: cuDNN may use the tensor cores; still within 1e-2.
    CHECK(!silt_cuda_set_allow_tf32(true));
    conv_case(shapes[8], true, false, 1e-2, "conv_tf32");
    CHECK(silt_cuda_set_allow_tf32(false));
    return check_summary();
}
