// CUDA reduction twins (cuda/ops_reduce.h) vs their CPU twins in
// core/ops_reduce.h (unit-tested against plain sums and finite differences).
// Exit 77 (SKIP) when no GPU is usable.
//
// Both sides sum in double, in different fixed orders, so forward results
// agree to the final fp32 rounding: rtol 1e-6 against |ref| + sqrt(len) *
// rms(x) (the typical size of a sum of len such terms; a pure relative test
// fails on sums that cancel). Backward kernels are elementwise in fp32:
// rtol 1e-6 against |ref| + rms of the increment (d-buffers start random at
// the increment's size, see twin_scale_init). Outputs are poisoned (NaN)
// before each run; sums are checked bit for bit across two runs.
// Dim reductions cover inner == 1 (a warp or a block per row) and inner > 1
// (column sums), with outer past the 65535 grid limit.
#include "core/ops_reduce.h"
#include "gpu/twin.h"

#define RTOL 1e-6

static void full_case(int64_t n) {
    twin_pool P = {0};
    char what[96];
    float *x = twin_h(&P, n), *y = twin_h(&P, n), ref[3], got[3], again[3];
    if (P.failed) goto done;
    test_fill(x, n, -0.7f, 1.3f);
    test_fill(y, n, -1, 1);
    sum_fwd_cpu(&ref[0], x, n);
    mean_fwd_cpu(&ref[1], x, n);
    mse_loss_fwd_cpu(&ref[2], x, y, n);
    float *d_x = twin_d(&P, x, n), *d_y = twin_d(&P, y, n), *d_o = twin_d(&P, NULL, 3);
    if (P.failed) goto done;
    CHECK_OK(sum_fwd_cuda(d_o, d_x, n));
    CHECK_OK(mean_fwd_cuda(d_o + 1, d_x, n));
    CHECK_OK(mse_loss_fwd_cuda(d_o + 2, d_x, d_y, n));
    if (!twin_download(got, d_o, 3)) goto done;
    double sx = sqrt((double)n) * twin_rms(x, n), sd = 0;
    for (int64_t i = 0; i < n; i++) sd += ((double)x[i] - y[i]) * ((double)x[i] - y[i]) * ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
    sd = sqrt(sd);  // the size of the sum of squared differences' terms
    snprintf(what, sizeof what, "sum_fwd n=%lld", (long long)n);
    twin_compare(what, &got[0], &ref[0], 1, RTOL, sx);
    snprintf(what, sizeof what, "mean_fwd n=%lld", (long long)n);
    twin_compare(what, &got[1], &ref[1], 1, RTOL, sx / (double)n);
    snprintf(what, sizeof what, "mse_loss_fwd n=%lld", (long long)n);
    twin_compare(what, &got[2], &ref[2], 1, RTOL, sd / (double)n);
    CHECK_OK(sum_fwd_cuda(d_o, d_x, n));
    CHECK_OK(mse_loss_fwd_cuda(d_o + 2, d_x, d_y, n));
    if (twin_download(again, d_o, 3)) {
        twin_same_bits("sum_fwd rerun", &again[0], &got[0], 1);
        twin_same_bits("mse_loss_fwd rerun", &again[2], &got[2], 1);
    }

    // Backwards: mean (sum_bwd with scale 1/n), mse into both, then into db
    // only. d-buffers start random at the increment's size (twin_scale_init).
    float *dx0 = twin_h(&P, n), *dy0 = twin_h(&P, n), *gx = twin_h(&P, n), *gy = twin_h(&P, n), dout = 0.83f;
    float *dxr = twin_h(&P, n), *dyr = twin_h(&P, n);
    float *d_dout = twin_d(&P, &dout, 1), *d_dx = twin_d(&P, NULL, n), *d_dy = twin_d(&P, NULL, n);
    if (P.failed) goto done;
    test_fill(dx0, n, -1, 1);
    sum_bwd_cpu(dxr, &dout, n, 1.0f / (float)n);  // increments from zeros
    twin_scale_init(dx0, n, dxr);
    twin_copy(dxr, dx0, n);
    sum_bwd_cpu(dxr, &dout, n, 1.0f / (float)n);
    if (!twin_reset(d_dx, dx0, n)) goto done;
    CHECK_OK(sum_bwd_cuda(d_dx, d_dout, n, 1.0f / (float)n));
    if (twin_download(gx, d_dx, n)) {
        snprintf(what, sizeof what, "mean_bwd n=%lld", (long long)n);
        twin_compare(what, gx, dxr, n, RTOL, twin_inc_scale(dxr, dx0, n));
    }

    test_fill(dx0, n, -1, 1);
    test_fill(dy0, n, -1, 1);
    memset(dxr, 0, (size_t)n * sizeof(float));
    memset(dyr, 0, (size_t)n * sizeof(float));
    mse_loss_bwd_cpu(dxr, dyr, &dout, x, y, n);  // increments from zeros
    twin_scale_init(dx0, n, dxr);
    twin_scale_init(dy0, n, dyr);
    twin_copy(dxr, dx0, n);
    twin_copy(dyr, dy0, n);
    mse_loss_bwd_cpu(dxr, dyr, &dout, x, y, n);
    if (!twin_reset(d_dx, dx0, n) || !twin_reset(d_dy, dy0, n)) goto done;
    CHECK_OK(mse_loss_bwd_cuda(d_dx, d_dy, d_dout, d_x, d_y, n));
    if (twin_download(gx, d_dx, n) && twin_download(gy, d_dy, n)) {
        snprintf(what, sizeof what, "mse_loss_bwd da n=%lld", (long long)n);
        twin_compare(what, gx, dxr, n, RTOL, twin_inc_scale(dxr, dx0, n));
        snprintf(what, sizeof what, "mse_loss_bwd db n=%lld", (long long)n);
        twin_compare(what, gy, dyr, n, RTOL, twin_inc_scale(dyr, dy0, n));
    }
    twin_copy(dyr, dy0, n);
    if (!twin_reset(d_dy, dy0, n)) goto done;
    mse_loss_bwd_cpu(NULL, dyr, &dout, x, y, n);
    CHECK_OK(mse_loss_bwd_cuda(NULL, d_dy, d_dout, d_x, d_y, n));
    if (twin_download(gy, d_dy, n)) twin_compare("mse_loss_bwd db only", gy, dyr, n, RTOL, twin_inc_scale(dyr, dy0, n));
done:
    twin_pool_free(&P);
}

static void dim_case(int64_t outer, int64_t dim, int64_t inner) {
    twin_pool P = {0};
    char what[128];
    int64_t n = outer * dim * inner, no = outer * inner;
    float *x = twin_h(&P, n), *ref = twin_h(&P, no), *refm = twin_h(&P, no), *got = twin_h(&P, no), *got2 = twin_h(&P, no);
    if (P.failed) goto done;
    test_fill(x, n, -0.7f, 1.3f);
    sum_dim_fwd_cpu(ref, x, outer, dim, inner);
    mean_dim_fwd_cpu(refm, x, outer, dim, inner);
    float *d_x = twin_d(&P, x, n), *d_o = twin_d(&P, NULL, no), *d_m = twin_d(&P, NULL, no);
    if (P.failed) goto done;
    CHECK_OK(sum_dim_fwd_cuda(d_o, d_x, outer, dim, inner));
    CHECK_OK(mean_dim_fwd_cuda(d_m, d_x, outer, dim, inner));
    double sx = sqrt((double)dim) * twin_rms(x, n);
    if (twin_download(got, d_o, no)) {
        snprintf(what, sizeof what, "sum_dim_fwd (%lld,%lld,%lld)", (long long)outer, (long long)dim, (long long)inner);
        twin_compare(what, got, ref, no, RTOL, sx);
    }
    if (twin_download(got2, d_m, no)) {
        snprintf(what, sizeof what, "mean_dim_fwd (%lld,%lld,%lld)", (long long)outer, (long long)dim, (long long)inner);
        twin_compare(what, got2, refm, no, RTOL, sx / (double)dim);
    }
    CHECK_OK(sum_dim_fwd_cuda(d_o, d_x, outer, dim, inner));
    if (twin_download(got2, d_o, no)) twin_same_bits("sum_dim_fwd rerun", got2, got, no);

    float *g = twin_h(&P, no), *dx0 = twin_h(&P, n), *gx = twin_h(&P, n);
    if (P.failed) goto done;
    test_fill(g, no, -1, 1);
    test_fill(dx0, n, -1, 1);
    float *dxr = twin_h(&P, n);
    if (P.failed) goto done;
    float sc = 1.0f / (float)dim;
    sum_dim_bwd_cpu(dxr, g, outer, dim, inner, sc);  // increments from zeros
    twin_scale_init(dx0, n, dxr);
    twin_copy(dxr, dx0, n);
    sum_dim_bwd_cpu(dxr, g, outer, dim, inner, sc);
    float *d_g = twin_d(&P, g, no), *d_dx = twin_d(&P, dx0, n);
    if (P.failed) goto done;
    CHECK_OK(sum_dim_bwd_cuda(d_dx, d_g, outer, dim, inner, sc));
    if (twin_download(gx, d_dx, n)) {
        snprintf(what, sizeof what, "sum_dim_bwd (%lld,%lld,%lld)", (long long)outer, (long long)dim, (long long)inner);
        twin_compare(what, gx, dxr, n, RTOL, twin_inc_scale(dxr, dx0, n));
    }
done:
    twin_pool_free(&P);
}

static void test_edges(void) {
    float *d = NULL, h[4];
    if (silt_cuda_malloc((void **)&d, 64 * sizeof(float)) != SILT_OK) {
        CHECK_MSG(0, "alloc: %s", silt_last_error());
        return;
    }
    TWIN_EXPECT(SILT_ERR_ARG, sum_fwd_cuda(d, d, -1));
    TWIN_EXPECT(SILT_ERR_ARG, sum_fwd_cuda(NULL, d, 4));
    TWIN_EXPECT(SILT_ERR_ARG, mse_loss_fwd_cuda(d, d, NULL, 4));
    TWIN_EXPECT(SILT_ERR_ARG, sum_dim_fwd_cuda(d, d, 2, -1, 2));
    TWIN_EXPECT(SILT_ERR_ARG, sum_dim_bwd_cuda(d, NULL, 2, 2, 2, 1.0f));
    TWIN_EXPECT(SILT_ERR_ARG, mse_loss_bwd_cuda(d, NULL, d, d, NULL, 4));
    TWIN_EXPECT(SILT_OK, mse_loss_bwd_cuda(NULL, NULL, NULL, NULL, NULL, 4));
    // Empty sums, as on the CPU: sum 0, mean and mse NaN; a dim of 0 gives
    // zeros (sum) or NaN (mean).
    CHECK_OK(silt_cuda_memset(d, 0xFF, 64 * sizeof(float)));
    CHECK_OK(sum_fwd_cuda(d, NULL, 0));
    CHECK_OK(mean_fwd_cuda(d + 1, NULL, 0));
    CHECK_OK(mse_loss_fwd_cuda(d + 2, NULL, NULL, 0));
    if (twin_download(h, d, 3)) CHECK(h[0] == 0.0f && isnan(h[1]) && isnan(h[2]));
    CHECK_OK(silt_cuda_memset(d, 0xFF, 64 * sizeof(float)));
    CHECK_OK(sum_dim_fwd_cuda(d, NULL, 2, 0, 1));
    CHECK_OK(sum_dim_fwd_cuda(d + 2, NULL, 1, 0, 2));
    if (twin_download(h, d, 4)) CHECK(h[0] == 0.0f && h[1] == 0.0f && h[2] == 0.0f && h[3] == 0.0f);
    CHECK_OK(mean_dim_fwd_cuda(d, NULL, 1, 0, 3));
    if (twin_download(h, d, 3)) CHECK(isnan(h[0]) && isnan(h[2]));
    CHECK_OK(silt_cuda_sync());
    silt_cuda_free(d);
}

int main(void) {
    if (!twin_start()) return 77;
    test_seed(20240615);
    test_edges();
    const int64_t sizes[] = {1, 7, 1000, 65537, 3000001};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) full_case(sizes[s]);
    // (outer, dim, inner): rows by a warp ((3,7,1), (5,1000,1), (1030,2000,1)) or
    // a block ((2,5000,1)); column sums otherwise, (70000,3,2) past the grid's
    // 65535 batches, (1,7,70000) with thousands of column blocks.
    const int64_t shapes[][3] = {{1, 1, 1},   {3, 7, 1},   {5, 1000, 1}, {2, 5000, 1},   {1030, 2000, 1},
                                 {4, 33, 5},  {3, 1000, 127}, {1, 7, 70000}, {70000, 3, 2}, {2, 1, 9}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) dim_case(shapes[s][0], shapes[s][1], shapes[s][2]);
    return check_summary();
}
