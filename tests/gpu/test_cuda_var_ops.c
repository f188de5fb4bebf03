// The forward twins added for VAR / VQ inference on the device against their
// CPU twins: var_kv_append_fwd_cuda (cache append + contiguous read-back),
// var_clamp_exp_fwd_cuda, clamp_fwd_cuda, pad2d_fwd_cuda. Odd sizes, empty
// caches, appends that fill the cache exactly, pads of 0 on some sides.
// Copies must be bit-identical (kv append, pad, clamp); clamp_exp is fp32 rtol
// 1e-4 (CUDA's expf is within 2 ulp of glibc's). Outputs start poisoned with
// NaN so an unwritten element fails; the cache positions the append must
// not touch are checked to be untouched. Also the argument errors.
// Exit 77 (SKIP) without a GPU.
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "core/ops_elementwise.h"
#include "core/ops_shape.h"
#include "twin_util.h"
#include "var/var_ops.h"

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
    EXPECT(SILT_ERR_ARG, clamp_fwd_cuda(d, NULL, 4, -1, 1));
    EXPECT(SILT_ERR_ARG, pad2d_fwd_cuda(d, d, 1, 2, 2, -1, 0, 0, 0));
    EXPECT(SILT_ERR_ARG, pad2d_fwd_cuda(NULL, d, 1, 2, 2, 1, 0, 0, 0));
    EXPECT(SILT_OK, pad2d_fwd_cuda(NULL, NULL, 0, 2, 2, 1, 1, 1, 1));
    silt_cuda_free(d);
}

int main(void) {
    if (!silt_cuda_available()) {
        printf("SKIP: no GPU\n");
        return 77;
    }
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
