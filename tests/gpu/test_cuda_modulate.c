// CUDA adaLN twins (cuda/ops_modulate.h) vs modulate_*_cpu / gated_add_*_cpu
// (core/ops_modulate.h; unit-tested against plain formulas and finite
// differences). Exit 77 (SKIP) when no GPU is usable.
//
// Shapes (B, T, C) with odd sizes, narrow rows (C < 32, several rows per
// block) and a DiT-like (8, 256, 1152). Tolerance rtol 1e-4 against |ref| +
// rms(ref) (forward) or + rms of the increment (backward: d-buffers start
// random, see twin_scale_init; dshift/dscale/dgate are sums over T). Outputs are poisoned (NaN)
// before the run; the T sums are also checked bit for bit across two runs.
#include "core/ops_modulate.h"
#include "gpu/twin.h"

#define RTOL 1e-4

static void modulate_case(int64_t B, int64_t T, int64_t C) {
    twin_pool P = {0};
    int64_t n = B * T * C, p = B * C;
    char what[96];
    float *x = twin_h(&P, n), *sh = twin_h(&P, p), *sc = twin_h(&P, p), *ref = twin_h(&P, n), *got = twin_h(&P, n);
    if (P.failed) goto done;
    test_fill(x, n, -3, 3);
    test_fill(sh, p, -1, 1);
    test_fill(sc, p, -1, 1);
    modulate_fwd_cpu(ref, x, sh, sc, B, T, C);
    float *d_x = twin_d(&P, x, n), *d_sh = twin_d(&P, sh, p), *d_sc = twin_d(&P, sc, p), *d_y = twin_d(&P, NULL, n);
    if (P.failed) goto done;
    CHECK_OK(modulate_fwd_cuda(d_y, d_x, d_sh, d_sc, B, T, C));
    if (!twin_download(got, d_y, n)) goto done;
    snprintf(what, sizeof what, "modulate_fwd B%lld T%lld C%lld", (long long)B, (long long)T, (long long)C);
    twin_compare(what, got, ref, n, RTOL, twin_rms(ref, n));

    float *g = twin_h(&P, n), *dx0 = twin_h(&P, n), *dsh0 = twin_h(&P, p), *dsc0 = twin_h(&P, p);
    if (P.failed) goto done;
    test_fill(g, n, -1, 1);
    test_fill(dx0, n, -1, 1);
    test_fill(dsh0, p, -1, 1);
    test_fill(dsc0, p, -1, 1);
    float *dxr = twin_h(&P, n), *dshr = twin_h(&P, p), *dscr = twin_h(&P, p);
    float *dshg = twin_h(&P, p), *dscg = twin_h(&P, p), *dsc2 = twin_h(&P, p);
    if (P.failed) goto done;
    modulate_bwd_cpu(dxr, dshr, dscr, g, x, sc, B, T, C);  // increments from zeros
    twin_scale_init(dx0, n, dxr);
    twin_scale_init(dsh0, p, dshr);
    twin_scale_init(dsc0, p, dscr);
    twin_copy(dxr, dx0, n);
    twin_copy(dshr, dsh0, p);
    twin_copy(dscr, dsc0, p);
    modulate_bwd_cpu(dxr, dshr, dscr, g, x, sc, B, T, C);
    float *d_g = twin_d(&P, g, n), *d_dx = twin_d(&P, dx0, n), *d_dsh = twin_d(&P, dsh0, p), *d_dsc = twin_d(&P, dsc0, p);
    if (P.failed) goto done;
    CHECK_OK(modulate_bwd_cuda(d_dx, d_dsh, d_dsc, d_g, d_x, d_sc, B, T, C));
    if (!twin_download(got, d_dx, n) || !twin_download(dshg, d_dsh, p) || !twin_download(dscg, d_dsc, p)) goto done;
    snprintf(what, sizeof what, "modulate_bwd dx B%lld T%lld C%lld", (long long)B, (long long)T, (long long)C);
    twin_compare(what, got, dxr, n, RTOL, twin_inc_scale(dxr, dx0, n));
    twin_compare("modulate_bwd dshift", dshg, dshr, p, RTOL, twin_inc_scale(dshr, dsh0, p));
    twin_compare("modulate_bwd dscale", dscg, dscr, p, RTOL, twin_inc_scale(dscr, dsc0, p));
    // dscale alone, again: the same bits; dshift alone without x.
    if (!twin_reset(d_dsc, dsc0, p) || !twin_reset(d_dsh, dsh0, p)) goto done;
    CHECK_OK(modulate_bwd_cuda(NULL, NULL, d_dsc, d_g, d_x, NULL, B, T, C));
    CHECK_OK(modulate_bwd_cuda(NULL, d_dsh, NULL, d_g, NULL, NULL, B, T, C));
    if (!twin_download(dsc2, d_dsc, p) || !twin_download(dshg, d_dsh, p)) goto done;
    twin_same_bits("modulate_bwd dscale rerun", dsc2, dscg, p);
    twin_compare("modulate_bwd dshift alone", dshg, dshr, p, RTOL, twin_inc_scale(dshr, dsh0, p));
done:
    twin_pool_free(&P);
}

static void gated_add_case(int64_t B, int64_t T, int64_t C) {
    twin_pool P = {0};
    int64_t n = B * T * C, p = B * C;
    char what[96];
    float *x = twin_h(&P, n), *y = twin_h(&P, n), *gate = twin_h(&P, p), *ref = twin_h(&P, n), *got = twin_h(&P, n);
    if (P.failed) goto done;
    test_fill(x, n, -3, 3);
    test_fill(y, n, -3, 3);
    test_fill(gate, p, -1, 1);
    gated_add_fwd_cpu(ref, x, gate, y, B, T, C);
    float *d_x = twin_d(&P, x, n), *d_y = twin_d(&P, y, n), *d_gt = twin_d(&P, gate, p), *d_o = twin_d(&P, NULL, n);
    if (P.failed) goto done;
    CHECK_OK(gated_add_fwd_cuda(d_o, d_x, d_gt, d_y, B, T, C));
    if (!twin_download(got, d_o, n)) goto done;
    snprintf(what, sizeof what, "gated_add_fwd B%lld T%lld C%lld", (long long)B, (long long)T, (long long)C);
    twin_compare(what, got, ref, n, RTOL, twin_rms(ref, n));
    // In place into x (the residual stream).
    CHECK_OK(gated_add_fwd_cuda(d_x, d_x, d_gt, d_y, B, T, C));
    if (!twin_download(got, d_x, n)) goto done;
    twin_compare("gated_add_fwd in-place", got, ref, n, RTOL, twin_rms(ref, n));

    float *g = twin_h(&P, n), *dx0 = twin_h(&P, n), *dy0 = twin_h(&P, n), *dg0 = twin_h(&P, p);
    if (P.failed) goto done;
    test_fill(g, n, -1, 1);
    test_fill(dx0, n, -1, 1);
    test_fill(dy0, n, -1, 1);
    test_fill(dg0, p, -1, 1);
    float *dxr = twin_h(&P, n), *dyr = twin_h(&P, n), *dgr = twin_h(&P, p);
    float *dgg = twin_h(&P, p), *dg2 = twin_h(&P, p), *goty = twin_h(&P, n);
    if (P.failed) goto done;
    gated_add_bwd_cpu(dxr, dgr, dyr, g, gate, y, B, T, C);  // increments from zeros
    twin_scale_init(dx0, n, dxr);
    twin_scale_init(dy0, n, dyr);
    twin_scale_init(dg0, p, dgr);
    twin_copy(dxr, dx0, n);
    twin_copy(dyr, dy0, n);
    twin_copy(dgr, dg0, p);
    gated_add_bwd_cpu(dxr, dgr, dyr, g, gate, y, B, T, C);
    float *d_g = twin_d(&P, g, n), *d_dx = twin_d(&P, dx0, n), *d_dy = twin_d(&P, dy0, n), *d_dg = twin_d(&P, dg0, p);
    if (P.failed) goto done;
    CHECK_OK(gated_add_bwd_cuda(d_dx, d_dg, d_dy, d_g, d_gt, d_y, B, T, C));
    if (!twin_download(got, d_dx, n) || !twin_download(goty, d_dy, n) || !twin_download(dgg, d_dg, p)) goto done;
    snprintf(what, sizeof what, "gated_add_bwd dx B%lld T%lld C%lld", (long long)B, (long long)T, (long long)C);
    twin_compare(what, got, dxr, n, RTOL, twin_inc_scale(dxr, dx0, n));
    twin_compare("gated_add_bwd dy", goty, dyr, n, RTOL, twin_inc_scale(dyr, dy0, n));
    twin_compare("gated_add_bwd dgate", dgg, dgr, p, RTOL, twin_inc_scale(dgr, dg0, p));
    if (!twin_reset(d_dg, dg0, p)) goto done;
    CHECK_OK(gated_add_bwd_cuda(NULL, d_dg, NULL, d_g, NULL, d_y, B, T, C));
    if (twin_download(dg2, d_dg, p)) twin_same_bits("gated_add_bwd dgate rerun", dg2, dgg, p);
done:
    twin_pool_free(&P);
}

static void test_errors(void) {
    float *d = NULL;
    if (silt_cuda_malloc((void **)&d, 64 * sizeof(float)) != SILT_OK) {
        CHECK_MSG(0, "alloc: %s", silt_last_error());
        return;
    }
    TWIN_EXPECT(SILT_ERR_ARG, modulate_fwd_cuda(d, d, d, d, -1, 2, 2));
    TWIN_EXPECT(SILT_ERR_ARG, modulate_fwd_cuda(d, d, NULL, d, 1, 2, 2));
    TWIN_EXPECT(SILT_ERR_ARG, modulate_bwd_cuda(d, NULL, NULL, d, d, NULL, 1, 2, 2));  // dx needs scale
    TWIN_EXPECT(SILT_ERR_ARG, modulate_bwd_cuda(NULL, NULL, d, d, NULL, d, 1, 2, 2));  // dscale needs x
    TWIN_EXPECT(SILT_OK, modulate_bwd_cuda(NULL, NULL, NULL, NULL, NULL, NULL, 1, 2, 2));
    TWIN_EXPECT(SILT_OK, modulate_fwd_cuda(NULL, NULL, NULL, NULL, 3, 0, 2));
    TWIN_EXPECT(SILT_ERR_ARG, gated_add_fwd_cuda(d, d, d, NULL, 1, 2, 2));
    TWIN_EXPECT(SILT_ERR_ARG, gated_add_bwd_cuda(NULL, d, NULL, d, d, NULL, 1, 2, 2));  // dgate needs y
    TWIN_EXPECT(SILT_ERR_ARG, gated_add_bwd_cuda(NULL, NULL, d, d, NULL, d, 1, 2, 2));  // dy needs gate
    CHECK_OK(silt_cuda_sync());
    silt_cuda_free(d);
}

int main(void) {
    if (!twin_start()) return 77;
    test_seed(20240613);
    test_errors();
    const int64_t shapes[][3] = {{1, 1, 1},   {2, 3, 5},    {3, 7, 33},    {1, 1000, 17},
                                 {5, 33, 127}, {2, 257, 300}, {8, 256, 1152}, {1, 4096, 64}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        modulate_case(shapes[s][0], shapes[s][1], shapes[s][2]);
        gated_add_case(shapes[s][0], shapes[s][1], shapes[s][2]);
    }
    return check_summary();
}
