// The twins added for VAR / VQ on the device against their CPU twins:
// var_kv_append_fwd_cuda (cache append + contiguous read-back),
// var_clamp_exp_fwd_cuda and its backward, clamp_fwd_cuda, pad2d_fwd_cuda, and
// the training cross-entropy var_ce_fwd_cuda / var_ce_bwd_cuda. Odd sizes,
// empty caches, appends that fill the cache exactly, pads of 0 on some sides,
// logits rows with ties and a row of equal values (the argmax rule).
// Copies must be bit-identical (kv append, pad, clamp); clamp_exp and the
// cross-entropy are fp32 rtol 1e-4 (CUDA's expf is within 2 ulp of glibc's;
// the CE sums in double), its accuracy exactly equal. Outputs start poisoned
// with NaN so an unwritten element fails; backward d-buffers start at random
// values (the kernels accumulate); the cache positions the append must not
// touch are checked to be untouched. Also the argument errors.
// Exit 77 (SKIP) without a GPU.
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "core/ops_elementwise.h"
#include "core/ops_shape.h"
#include "gpu_test.h"
#include "twin_util.h"
#include "var/var_ops.h"

static double rms(const float *x, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return n ? sqrt(s / (double)n) : 0;
}

static void kv_case(int64_t RH, int64_t cap, int64_t len, int64_t T, int64_t D) {
    int64_t nc = RH * cap * D, nx = RH * T * D, na = RH * (len + T) * D;
    float *cache = twin_host(nc), *x = twin_host(nx), *all_ref = twin_host(na), *all_got = twin_host(na);
    float *cache_ref = twin_host(nc), *cache_got = twin_host(nc);
    test_fill(cache, nc, -3, 3);  // positions >= len + T must stay as they are
    test_fill(x, nx, -3, 3);
    memcpy(cache_ref, cache, sizeof(float) * (size_t)nc);
    var_kv_append_fwd_cpu(all_ref, cache_ref, x, RH, cap, len, T, D);
    float *d_cache = twin_upload(cache, sizeof(float) * (size_t)nc), *d_x = twin_upload(x, sizeof(float) * (size_t)nx);
    float *d_all = twin_upload(NULL, sizeof(float) * (size_t)na);
    if (d_cache && d_x && d_all) {
        twin_poison(d_all, sizeof(float) * (size_t)na);
        char what[128];
        snprintf(what, sizeof what, "var_kv_append RH %lld cap %lld len %lld T %lld D %lld", (long long)RH,
                 (long long)cap, (long long)len, (long long)T, (long long)D);
        CHECK_OK(var_kv_append_fwd_cuda(d_all, d_cache, d_x, RH, cap, len, T, D));
        if (twin_download(all_got, d_all, sizeof(float) * (size_t)na))
            twin_same_bits(what, all_got, all_ref, sizeof(float) * (size_t)na);
        snprintf(what, sizeof what, "var_kv_append cache RH %lld cap %lld len %lld T %lld", (long long)RH,
                 (long long)cap, (long long)len, (long long)T);
        if (twin_download(cache_got, d_cache, sizeof(float) * (size_t)nc))
            twin_same_bits(what, cache_got, cache_ref, sizeof(float) * (size_t)nc);
    }
    silt_cuda_free(d_cache);
    silt_cuda_free(d_x);
    silt_cuda_free(d_all);
    free(cache), free(x), free(all_ref), free(all_got), free(cache_ref), free(cache_got);
}

static void clamp_exp_case(int64_t n, float max) {
    float *x = twin_host(n), *ref = twin_host(n), *got = twin_host(n);
    test_fill(x, n, -8, 8);
    if (n > 2) x[0] = max, x[1] = INFINITY, x[2] = -INFINITY;  // at the clamp, above it, exp(-inf) = 0
    var_clamp_exp_fwd_cpu(ref, x, max, n);
    float *d_x = twin_upload(x, sizeof(float) * (size_t)n), *d_out = twin_upload(NULL, sizeof(float) * (size_t)n);
    if (d_x && d_out) {
        twin_poison(d_out, sizeof(float) * (size_t)n);
        CHECK_OK(var_clamp_exp_fwd_cuda(d_out, d_x, max, n));
        char what[64];
        snprintf(what, sizeof what, "var_clamp_exp n %lld max %g", (long long)n, (double)max);
        // scale 1e-30: exp(-inf) = 0 on both sides must pass
        if (twin_download(got, d_out, sizeof(float) * (size_t)n)) twin_compare(what, got, ref, n, 1e-4, 1e-30);
    }
    silt_cuda_free(d_x);
    silt_cuda_free(d_out);
    free(x), free(ref), free(got);
}

static void clamp_exp_bwd_case(int64_t n, float max) {
    float *x = twin_host(n), *y = twin_host(n), *dout = twin_host(n), *dx0 = twin_host(n), *ref = twin_host(n),
          *got = twin_host(n), *inc = twin_host(n);
    test_fill(x, n, -8, 8);
    if (n > 1) x[0] = max, x[1] = max + 1;  // at the clamp (passes), above it (blocked)
    test_fill(dout, n, -1, 1);
    test_fill(dx0, n, -1, 1);
    var_clamp_exp_fwd_cpu(y, x, max, n);
    var_clamp_exp_bwd_cpu(inc, dout, x, y, max, n);  // the increment from zeros, for the scale
    memcpy(ref, dx0, sizeof(float) * (size_t)n);
    var_clamp_exp_bwd_cpu(ref, dout, x, y, max, n);
    float *d_x = twin_upload(x, sizeof(float) * (size_t)n), *d_y = twin_upload(y, sizeof(float) * (size_t)n);
    float *d_dout = twin_upload(dout, sizeof(float) * (size_t)n), *d_dx = twin_upload(dx0, sizeof(float) * (size_t)n);
    if (d_x && d_y && d_dout && d_dx) {
        CHECK_OK(var_clamp_exp_bwd_cuda(d_dx, d_dout, d_x, d_y, max, n));
        char what[64];
        snprintf(what, sizeof what, "var_clamp_exp_bwd n %lld max %g", (long long)n, (double)max);
        double sc = rms(inc, n) > 1e-6 ? rms(inc, n) : 1e-6;
        if (twin_download(got, d_dx, sizeof(float) * (size_t)n)) twin_compare(what, got, ref, n, 1e-4, sc);
        if (n > 1) CHECK_MSG(got[1] == dx0[1], "var_clamp_exp_bwd: a clamped element got a gradient");
    }
    silt_cuda_free(d_x), silt_cuda_free(d_y), silt_cuda_free(d_dout), silt_cuda_free(d_dx);
    free(x), free(y), free(dout), free(dx0), free(ref), free(got), free(inc);
}

// Cross-entropy of N rows of V logits, forward (loss, accuracy, softmax) and
// backward (accumulating into random d-buffers) against the CPU twin.
static void ce_case(int64_t N, int64_t V, float dout_v) {
    int64_t n = N * V;
    float *x = twin_host(n), *pref = twin_host(n), *pgot = twin_host(n), *dx0 = twin_host(n), *dref = twin_host(n),
          *dgot = twin_host(n), *inc = twin_host(n);
    int32_t *t = malloc(sizeof(int32_t) * (size_t)N);
    double *rows = malloc(sizeof(double) * (size_t)(2 * N));
    test_fill(x, n, -4, 4);
    for (int64_t i = 0; i < N; i++) t[i] = (int32_t)(test_uniform() * (double)V) % (int32_t)V;
    if (N > 2 && V > 3) {
        x[V + 1] = x[V + 3] = 9.0f;  // row 1: a tie for the max: the first index wins
        t[1] = 1;
        for (int64_t v = 0; v < V; v++) x[2 * V + v] = 0.5f;  // row 2: all equal: index 0
        t[2] = 0;
    }
    float lref = 0, lgot = NAN;
    double aref = -1, agot = -2;
    var_ce_fwd_cpu(&lref, &aref, pref, rows, x, t, N, V);
    memset(inc, 0, sizeof(float) * (size_t)n);
    var_ce_bwd_cpu(inc, &dout_v, pref, t, N, V);
    test_fill(dx0, n, -1, 1);
    double sc = rms(inc, n) > 1e-9 ? rms(inc, n) : 1e-9;
    for (int64_t i = 0; i < n; i++) dx0[i] = (float)(dx0[i] * sc);
    memcpy(dref, dx0, sizeof(float) * (size_t)n);
    var_ce_bwd_cpu(dref, &dout_v, pref, t, N, V);
    float *d_x = twin_upload(x, sizeof(float) * (size_t)n), *d_p = twin_upload(NULL, sizeof(float) * (size_t)n);
    float *d_out = twin_upload(NULL, sizeof(float)), *d_dout = twin_upload(&dout_v, sizeof(float));
    float *d_dx = twin_upload(dx0, sizeof(float) * (size_t)n);
    int32_t *d_t = twin_upload(t, sizeof(int32_t) * (size_t)N);
    double *d_rows = twin_upload(NULL, sizeof(double) * (size_t)(2 * N + 1));
    if (d_x && d_p && d_out && d_dout && d_dx && d_t && d_rows) {
        twin_poison(d_p, sizeof(float) * (size_t)n);
        CHECK_OK(var_ce_fwd_cuda(d_out, d_rows + 2 * N, d_p, d_rows, d_x, d_t, N, V));
        char what[96];
        snprintf(what, sizeof what, "var_ce_fwd loss N %lld V %lld", (long long)N, (long long)V);
        if (twin_download(&lgot, d_out, sizeof(float))) twin_compare(what, &lgot, &lref, 1, 1e-5, 0);
        CHECK(silt_cuda_memcpy_d2h(&agot, d_rows + 2 * N, sizeof agot) == SILT_OK);
        CHECK_MSG(agot == aref, "var_ce_fwd accuracy N %lld V %lld: %.17g vs %.17g", (long long)N, (long long)V, agot,
                  aref);
        snprintf(what, sizeof what, "var_ce_fwd prob N %lld V %lld", (long long)N, (long long)V);
        if (twin_download(pgot, d_p, sizeof(float) * (size_t)n)) twin_compare(what, pgot, pref, n, 1e-4, 1e-30);
        CHECK_OK(var_ce_fwd_cuda(d_out, NULL, d_p, d_rows, d_x, d_t, N, V));  // acc optional
        // The backward from the CPU's probabilities (isolates the kernel).
        CHECK(silt_cuda_memcpy_h2d(d_p, pref, sizeof(float) * (size_t)n) == SILT_OK);
        CHECK_OK(var_ce_bwd_cuda(d_dx, d_dout, d_p, d_t, N, V));
        snprintf(what, sizeof what, "var_ce_bwd N %lld V %lld dout %g", (long long)N, (long long)V, (double)dout_v);
        if (twin_download(dgot, d_dx, sizeof(float) * (size_t)n)) twin_compare(what, dgot, dref, n, 1e-4, sc);
    }
    silt_cuda_free(d_x), silt_cuda_free(d_p), silt_cuda_free(d_out), silt_cuda_free(d_dout), silt_cuda_free(d_dx);
    silt_cuda_free(d_t), silt_cuda_free(d_rows);
    free(x), free(pref), free(pgot), free(dx0), free(dref), free(dgot), free(inc), free(t), free(rows);
}

static void clamp_case(int64_t n, float lo, float hi) {
    float *x = twin_host(n), *ref = twin_host(n), *got = twin_host(n);
    test_fill(x, n, -2, 2);
    if (n > 3) x[0] = NAN, x[1] = lo, x[2] = hi, x[3] = -INFINITY;  // NaN passes through on both
    clamp_fwd_cpu(ref, x, n, lo, hi);
    float *d_x = twin_upload(x, sizeof(float) * (size_t)n), *d_out = twin_upload(NULL, sizeof(float) * (size_t)n);
    if (d_x && d_out) {
        twin_poison(d_out, sizeof(float) * (size_t)n);
        CHECK_OK(clamp_fwd_cuda(d_out, d_x, n, lo, hi));
        char what[64];
        snprintf(what, sizeof what, "clamp n %lld [%g, %g]", (long long)n, (double)lo, (double)hi);
        if (twin_download(got, d_out, sizeof(float) * (size_t)n))
            twin_same_bits(what, got, ref, sizeof(float) * (size_t)n);
        CHECK_OK(clamp_fwd_cuda(d_x, d_x, n, lo, hi));  // in place
        if (twin_download(got, d_x, sizeof(float) * (size_t)n))
            twin_same_bits("clamp in place", got, ref, sizeof(float) * (size_t)n);
    }
    silt_cuda_free(d_x);
    silt_cuda_free(d_out);
    free(x), free(ref), free(got);
}

static void pad_case(int64_t nc, int64_t H, int64_t W, int l, int r, int t, int b) {
    int64_t nx = nc * H * W, no = nc * (H + t + b) * (W + l + r);
    float *x = twin_host(nx), *ref = twin_host(no), *got = twin_host(no);
    test_fill(x, nx, -1, 1);
    pad2d_fwd_cpu(ref, x, nc, H, W, l, r, t, b);
    float *d_x = twin_upload(x, sizeof(float) * (size_t)nx), *d_out = twin_upload(NULL, sizeof(float) * (size_t)no);
    if (d_x && d_out) {
        twin_poison(d_out, sizeof(float) * (size_t)no);
        CHECK_OK(pad2d_fwd_cuda(d_out, d_x, nc, H, W, l, r, t, b));
        char what[96];
        snprintf(what, sizeof what, "pad2d nc %lld %lldx%lld pads %d %d %d %d", (long long)nc, (long long)H,
                 (long long)W, l, r, t, b);
        if (twin_download(got, d_out, sizeof(float) * (size_t)no))
            twin_same_bits(what, got, ref, sizeof(float) * (size_t)no);
    }
    silt_cuda_free(d_x);
    silt_cuda_free(d_out);
    free(x), free(ref), free(got);
}

#define EXPECT(want, expr)                                                                                   \
    do {                                                                                                     \
        silt_status s_ = (expr);                                                                             \
        CHECK_MSG(s_ == (want), "%s -> %d (%s), want %d", #expr, (int)s_, silt_last_error(), (int)(want)); \
    } while (0)

static void errors(void) {
    float *d = twin_upload(NULL, 64 * sizeof(float));
    if (!d) return;
    EXPECT(SILT_ERR_ARG, var_kv_append_fwd_cuda(d, d + 32, d, 1, 3, 2, 2, 1));  // len + T > cap
    EXPECT(SILT_ERR_ARG, var_kv_append_fwd_cuda(d, d + 32, d, -1, 3, 0, 1, 1));
    EXPECT(SILT_ERR_ARG, var_kv_append_fwd_cuda(NULL, d + 32, d, 1, 3, 0, 1, 1));
    EXPECT(SILT_OK, var_kv_append_fwd_cuda(NULL, NULL, NULL, 0, 3, 0, 1, 1));  // nothing to do
    EXPECT(SILT_ERR_ARG, var_clamp_exp_fwd_cuda(d, d, 1, -1));
    EXPECT(SILT_ERR_ARG, var_clamp_exp_fwd_cuda(NULL, d, 1, 4));
    EXPECT(SILT_ERR_ARG, var_clamp_exp_bwd_cuda(d, d, d, d, 1, -1));
    EXPECT(SILT_ERR_ARG, var_clamp_exp_bwd_cuda(d, NULL, d, d, 1, 4));
    EXPECT(SILT_OK, var_clamp_exp_bwd_cuda(NULL, d, d, d, 1, 4));  // no grad wanted
    EXPECT(SILT_ERR_ARG, var_ce_fwd_cuda(d, NULL, d, (double *)(d + 16), d, (const int32_t *)d, 0, 4));
    EXPECT(SILT_ERR_ARG, var_ce_fwd_cuda(d, NULL, NULL, (double *)(d + 16), d, (const int32_t *)d, 2, 4));
    EXPECT(SILT_ERR_ARG, var_ce_bwd_cuda(d, d, d, (const int32_t *)d, -1, 4));
    EXPECT(SILT_ERR_ARG, var_ce_bwd_cuda(d, NULL, d, (const int32_t *)d, 2, 4));
    EXPECT(SILT_ERR_ARG, clamp_fwd_cuda(d, NULL, 4, -1, 1));
    EXPECT(SILT_ERR_ARG, pad2d_fwd_cuda(d, d, 1, 2, 2, -1, 0, 0, 0));
    EXPECT(SILT_ERR_ARG, pad2d_fwd_cuda(NULL, d, 1, 2, 2, 1, 0, 0, 0));
    EXPECT(SILT_OK, pad2d_fwd_cuda(NULL, NULL, 0, 2, 2, 1, 1, 1, 1));
    silt_cuda_free(d);
}

int main(void) {
    GPU_TEST_START();
    test_seed(41);
    kv_case(1, 1, 0, 1, 1);
    kv_case(6, 130, 0, 1, 64);     // the world VAR's first scale: 2 rows x 3 heads
    kv_case(6, 130, 30, 36, 64);   // a later one
    kv_case(6, 130, 66, 64, 64);   // the last: fills the cache exactly
    kv_case(7, 39, 14, 25, 13);    // odd everything
    kv_case(3, 10, 10, 0, 5);      // nothing new
    clamp_exp_case(1, 4.6051702f);
    clamp_exp_case(16, 4.6051702f);  // ln 100 in fp32, the attention scale's clamp
    clamp_exp_case(1001, 0.5f);
    clamp_exp_bwd_case(1, 4.6051702f);
    clamp_exp_bwd_case(3, 4.6051702f);   // one block's scale_mul_1H11 of 3 heads
    clamp_exp_bwd_case(1001, 0.5f);
    ce_case(1, 1, 1.0f);
    ce_case(5, 7, 1.0f);
    ce_case(2 * 130, 64, 0.5f);     // the tiny world VAR: batch 2, 130 tokens, codebook 64
    ce_case(33, 4097, 1.0f);        // long odd rows
    ce_case(8 * 130, 512, 0.25f);   // the world VAR's codebook, accumulation 1/4
    clamp_case(1, -1, 1);
    clamp_case(4097, -1, 1);
    clamp_case(333, 0.25f, 0.25f);
    pad_case(1, 1, 1, 0, 1, 0, 1);   // Downsample2x's pad on a 1-pixel map
    pad_case(35, 9, 7, 0, 1, 0, 1);
    pad_case(3, 5, 11, 2, 0, 3, 1);
    pad_case(2, 4, 4, 0, 0, 0, 0);
    errors();
    return check_summary();
}
