// CUDA norm twins (cuda/ops_norm.h) vs their CPU twins (core/ops_norm.h, which
// the unit tests check against plain formulas and finite differences), on
// random inputs over shape lists with odd sizes that reach both the warp- and
// the block-per-row kernels and the split (scratch) and one-pass column sums.
// Exit 77 (SKIP) when no GPU is usable.
//
// Inputs: rows with offsets (10, -3) and scales (0.01, 5) so |mean| >> std is
// covered; backward d-buffers start random (the kernels accumulate; see
// twin_scale_init) and the backward runs on the CPU's saved statistics, so it
// is tested on its own.
// Tolerance (tests/gpu/twin.h): rtol 1e-4 against |ref| + scale, scale =
// rms(ref) for forward outputs, rms(x) for the mean, 0 for rstd / norm
// (positive), rms of the increment for gradients. Every output is poisoned
// (NaN) before the run, so an unwritten element fails. dw/db (the reductions)
// are also checked bit for bit across two runs.
#include "core/ops_norm.h"
#include "gpu/twin.h"

#define RTOL 1e-4

// Row n gets offset 0 / 10 / -3 and scale 1 / 0.01 / 5 (varied patterns).
static void fill_rows(float *x, int64_t N, int64_t C) {
    for (int64_t n = 0; n < N; n++) {
        float off = n % 3 == 1 ? 10.0f : (n % 3 == 2 ? -3.0f : 0.0f);
        float sc = n % 4 == 3 ? 0.01f : (n % 5 == 4 ? 5.0f : 1.0f);
        for (int64_t c = 0; c < C; c++) x[n * C + c] = off + sc * (float)(4 * test_uniform() - 2);
    }
}

typedef struct {
    int64_t N, C;
} nc_shape;

// Odd sizes; (7,1500) (257,1152) (5,5000) take the block-per-row kernels,
// the rest a warp per row; (2050,64) and (4096,1152) split the dw/db sums
// into chunks when given scratch.
static const nc_shape shapes[] = {{1, 1},    {3, 17},     {33, 127},  {7, 1500},    {1030, 1100},
                                  {5, 5000}, {2050, 64},  {257, 1152}, {4096, 1152}, {1, 4097}};
#define NSHAPES ((int)(sizeof shapes / sizeof *shapes))

// --- layer norm -------------------------------------------------------------------

static void layernorm_case(int64_t N, int64_t C, int affine) {
    twin_pool P = {0};
    int64_t n = N * C;
    char what[96];
    float *x = twin_h(&P, n), *w = twin_h(&P, C), *b = twin_h(&P, C), *ref = twin_h(&P, n), *got = twin_h(&P, n);
    float *mref = twin_h(&P, N), *rref = twin_h(&P, N), *mgot = twin_h(&P, N), *rgot = twin_h(&P, N);
    if (P.failed) goto done;
    fill_rows(x, N, C);
    test_fill(w, C, 0.5f, 1.5f);
    test_fill(b, C, -1, 1);
    const float *wp = affine >= 1 ? w : NULL, *bp = affine >= 2 ? b : NULL;
    const float eps = 1e-5f;
    layernorm_fwd_cpu(ref, mref, rref, x, wp, bp, N, C, eps);

    float *d_x = twin_d(&P, x, n), *d_w = twin_d(&P, w, C), *d_b = twin_d(&P, b, C);
    float *d_out = twin_d(&P, NULL, n), *d_m = twin_d(&P, NULL, N), *d_r = twin_d(&P, NULL, N);
    if (P.failed) goto done;
    CHECK_OK(layernorm_fwd_cuda(d_out, d_m, d_r, d_x, wp ? d_w : NULL, bp ? d_b : NULL, N, C, eps));
    if (!twin_download(got, d_out, n) || !twin_download(mgot, d_m, N) || !twin_download(rgot, d_r, N)) goto done;
    snprintf(what, sizeof what, "layernorm_fwd N%lld C%lld affine%d", (long long)N, (long long)C, affine);
    twin_compare(what, got, ref, n, RTOL, twin_rms(ref, n));
    snprintf(what, sizeof what, "layernorm_fwd mean N%lld C%lld", (long long)N, (long long)C);
    twin_compare(what, mgot, mref, N, RTOL, twin_rms(x, n));
    snprintf(what, sizeof what, "layernorm_fwd rstd N%lld C%lld", (long long)N, (long long)C);
    twin_compare(what, rgot, rref, N, RTOL, 0);

    // Backward on the CPU's statistics; d-buffers start random.
    float *g = twin_h(&P, n), *dx0 = twin_h(&P, n), *dw0 = twin_h(&P, C), *db0 = twin_h(&P, C);
    if (P.failed) goto done;
    test_fill(g, n, -1, 1);
    test_fill(dx0, n, -1, 1);
    test_fill(dw0, C, -1, 1);
    test_fill(db0, C, -1, 1);
    float *dxr = twin_h(&P, n), *dwr = twin_h(&P, C), *dbr = twin_h(&P, C);
    float *dwg = twin_h(&P, C), *dbg = twin_h(&P, C), *dw2 = twin_h(&P, C);
    if (P.failed) goto done;
    layernorm_bwd_cpu(dxr, dwr, dbr, g, x, mref, rref, wp, N, C);  // increments from zeros
    twin_scale_init(dx0, n, dxr);
    twin_scale_init(dw0, C, dwr);
    twin_scale_init(db0, C, dbr);
    twin_copy(dxr, dx0, n);
    twin_copy(dwr, dw0, C);
    twin_copy(dbr, db0, C);
    layernorm_bwd_cpu(dxr, dwr, dbr, g, x, mref, rref, wp, N, C);
    int64_t ns = layernorm_bwd_cuda_scratch_floats(N, C);
    CHECK(ns >= 0);
    float *d_g = twin_d(&P, g, n), *d_mr = twin_d(&P, mref, N), *d_rr = twin_d(&P, rref, N);
    float *d_dx = twin_d(&P, dx0, n), *d_dw = twin_d(&P, dw0, C), *d_db = twin_d(&P, db0, C);
    float *d_s = ns > 0 ? twin_d(&P, NULL, ns) : NULL;
    if (P.failed) goto done;
    const float *d_wp = wp ? d_w : NULL;
    CHECK_OK(layernorm_bwd_cuda(d_dx, d_dw, d_db, d_s, d_g, d_x, d_mr, d_rr, d_wp, N, C));
    if (!twin_download(got, d_dx, n) || !twin_download(dwg, d_dw, C) || !twin_download(dbg, d_db, C)) goto done;
    snprintf(what, sizeof what, "layernorm_bwd dx N%lld C%lld affine%d", (long long)N, (long long)C, affine);
    twin_compare(what, got, dxr, n, RTOL, twin_inc_scale(dxr, dx0, n));
    snprintf(what, sizeof what, "layernorm_bwd dw N%lld C%lld scratch %lld", (long long)N, (long long)C, (long long)ns);
    twin_compare(what, dwg, dwr, C, RTOL, twin_inc_scale(dwr, dw0, C));
    snprintf(what, sizeof what, "layernorm_bwd db N%lld C%lld", (long long)N, (long long)C);
    twin_compare(what, dbg, dbr, C, RTOL, twin_inc_scale(dbr, db0, C));

    // Again with the same scratch, dw only: the same bits.
    if (!twin_reset(d_dw, dw0, C)) goto done;
    CHECK_OK(layernorm_bwd_cuda(NULL, d_dw, NULL, d_s, d_g, d_x, d_mr, d_rr, d_wp, N, C));
    if (!twin_download(dw2, d_dw, C)) goto done;
    snprintf(what, sizeof what, "layernorm_bwd dw rerun N%lld C%lld", (long long)N, (long long)C);
    twin_same_bits(what, dw2, dwg, C);

    // Without scratch (one pass per column block), db only.
    if (!twin_reset(d_db, db0, C)) goto done;
    CHECK_OK(layernorm_bwd_cuda(NULL, NULL, d_db, NULL, d_g, d_x, d_mr, d_rr, d_wp, N, C));
    if (!twin_download(dbg, d_db, C)) goto done;
    snprintf(what, sizeof what, "layernorm_bwd db no-scratch N%lld C%lld", (long long)N, (long long)C);
    twin_compare(what, dbg, dbr, C, RTOL, twin_inc_scale(dbr, db0, C));
done:
    twin_pool_free(&P);
}

// --- RMS norm -----------------------------------------------------------------------

static void rmsnorm_case(int64_t N, int64_t C, int affine) {
    twin_pool P = {0};
    int64_t n = N * C;
    char what[96];
    float *x = twin_h(&P, n), *w = twin_h(&P, C), *ref = twin_h(&P, n), *got = twin_h(&P, n);
    float *rref = twin_h(&P, N), *rgot = twin_h(&P, N);
    if (P.failed) goto done;
    fill_rows(x, N, C);
    test_fill(w, C, 0.5f, 1.5f);
    const float *wp = affine ? w : NULL;
    const float eps = 1e-6f;
    rmsnorm_fwd_cpu(ref, rref, x, wp, N, C, eps);
    float *d_x = twin_d(&P, x, n), *d_w = twin_d(&P, w, C), *d_out = twin_d(&P, NULL, n), *d_r = twin_d(&P, NULL, N);
    if (P.failed) goto done;
    const float *d_wp = wp ? d_w : NULL;
    CHECK_OK(rmsnorm_fwd_cuda(d_out, d_r, d_x, d_wp, N, C, eps));
    if (!twin_download(got, d_out, n) || !twin_download(rgot, d_r, N)) goto done;
    snprintf(what, sizeof what, "rmsnorm_fwd N%lld C%lld affine%d", (long long)N, (long long)C, affine);
    twin_compare(what, got, ref, n, RTOL, twin_rms(ref, n));
    snprintf(what, sizeof what, "rmsnorm_fwd rstd N%lld C%lld", (long long)N, (long long)C);
    twin_compare(what, rgot, rref, N, RTOL, 0);

    float *g = twin_h(&P, n), *dx0 = twin_h(&P, n), *dw0 = twin_h(&P, C);
    if (P.failed) goto done;
    test_fill(g, n, -1, 1);
    test_fill(dx0, n, -1, 1);
    test_fill(dw0, C, -1, 1);
    float *dxr = twin_h(&P, n), *dwr = twin_h(&P, C), *dwg = twin_h(&P, C), *dw2 = twin_h(&P, C);
    if (P.failed) goto done;
    rmsnorm_bwd_cpu(dxr, dwr, g, x, rref, wp, N, C);  // increments from zeros
    twin_scale_init(dx0, n, dxr);
    twin_scale_init(dw0, C, dwr);
    twin_copy(dxr, dx0, n);
    twin_copy(dwr, dw0, C);
    rmsnorm_bwd_cpu(dxr, dwr, g, x, rref, wp, N, C);
    int64_t ns = rmsnorm_bwd_cuda_scratch_floats(N, C);
    CHECK(ns >= 0);
    float *d_g = twin_d(&P, g, n), *d_rr = twin_d(&P, rref, N), *d_dx = twin_d(&P, dx0, n), *d_dw = twin_d(&P, dw0, C);
    float *d_s = ns > 0 ? twin_d(&P, NULL, ns) : NULL;
    if (P.failed) goto done;
    CHECK_OK(rmsnorm_bwd_cuda(d_dx, d_dw, d_s, d_g, d_x, d_rr, d_wp, N, C));
    if (!twin_download(got, d_dx, n) || !twin_download(dwg, d_dw, C)) goto done;
    snprintf(what, sizeof what, "rmsnorm_bwd dx N%lld C%lld affine%d", (long long)N, (long long)C, affine);
    // dx = rstd * w * (g - x_hat * mean(g * w * x_hat) / w) cancels to ~0 when
    // C = 1 (y = x / |x| has zero slope): judge it against the size of the
    // cancelling terms, rms(g) * rms(rstd) * rms(w), not against the result.
    double dx_terms = twin_rms(g, n) * twin_rms(rref, N) * (wp ? twin_rms(w, C) : 1.0);
    double dx_scale = twin_inc_scale(dxr, dx0, n);
    twin_compare(what, got, dxr, n, RTOL, dx_scale > dx_terms ? dx_scale : dx_terms);
    snprintf(what, sizeof what, "rmsnorm_bwd dw N%lld C%lld scratch %lld", (long long)N, (long long)C, (long long)ns);
    twin_compare(what, dwg, dwr, C, RTOL, twin_inc_scale(dwr, dw0, C));
    if (!twin_reset(d_dw, dw0, C)) goto done;
    CHECK_OK(rmsnorm_bwd_cuda(NULL, d_dw, d_s, d_g, d_x, d_rr, d_wp, N, C));
    if (!twin_download(dw2, d_dw, C)) goto done;
    snprintf(what, sizeof what, "rmsnorm_bwd dw rerun N%lld C%lld", (long long)N, (long long)C);
    twin_same_bits(what, dw2, dwg, C);
    if (!twin_reset(d_dw, dw0, C)) goto done;
    CHECK_OK(rmsnorm_bwd_cuda(NULL, d_dw, NULL, d_g, d_x, d_rr, d_wp, N, C));
    if (!twin_download(dwg, d_dw, C)) goto done;
    snprintf(what, sizeof what, "rmsnorm_bwd dw no-scratch N%lld C%lld", (long long)N, (long long)C);
    twin_compare(what, dwg, dwr, C, RTOL, twin_inc_scale(dwr, dw0, C));
done:
    twin_pool_free(&P);
}

// --- group norm -----------------------------------------------------------------------

static void groupnorm_case(int64_t N, int64_t C, int64_t HW, int64_t G, int affine) {
    twin_pool P = {0};
    int64_t n = N * C * HW, ng = N * G;
    char what[128];
    float *x = twin_h(&P, n), *w = twin_h(&P, C), *b = twin_h(&P, C), *ref = twin_h(&P, n), *got = twin_h(&P, n);
    float *mref = twin_h(&P, ng), *rref = twin_h(&P, ng), *mgot = twin_h(&P, ng), *rgot = twin_h(&P, ng);
    if (P.failed) goto done;
    fill_rows(x, N * G, C / G * HW);  // one offset/scale pattern per group
    test_fill(w, C, 0.5f, 1.5f);
    test_fill(b, C, -1, 1);
    const float *wp = affine >= 1 ? w : NULL, *bp = affine >= 2 ? b : NULL;
    const float eps = 1e-5f;
    groupnorm_fwd_cpu(ref, mref, rref, x, wp, bp, N, C, HW, G, eps);
    float *d_x = twin_d(&P, x, n), *d_w = twin_d(&P, w, C), *d_b = twin_d(&P, b, C);
    float *d_out = twin_d(&P, NULL, n), *d_m = twin_d(&P, NULL, ng), *d_r = twin_d(&P, NULL, ng);
    if (P.failed) goto done;
    const float *d_wp = wp ? d_w : NULL;
    CHECK_OK(groupnorm_fwd_cuda(d_out, d_m, d_r, d_x, d_wp, bp ? d_b : NULL, N, C, HW, G, eps));
    if (!twin_download(got, d_out, n) || !twin_download(mgot, d_m, ng) || !twin_download(rgot, d_r, ng)) goto done;
    snprintf(what, sizeof what, "groupnorm_fwd N%lld C%lld HW%lld G%lld affine%d", (long long)N, (long long)C,
             (long long)HW, (long long)G, affine);
    twin_compare(what, got, ref, n, RTOL, twin_rms(ref, n));
    twin_compare("groupnorm_fwd mean", mgot, mref, ng, RTOL, twin_rms(x, n));
    twin_compare("groupnorm_fwd rstd", rgot, rref, ng, RTOL, 0);

    float *g = twin_h(&P, n), *dx0 = twin_h(&P, n), *dw0 = twin_h(&P, C), *db0 = twin_h(&P, C);
    if (P.failed) goto done;
    test_fill(g, n, -1, 1);
    test_fill(dx0, n, -1, 1);
    test_fill(dw0, C, -1, 1);
    test_fill(db0, C, -1, 1);
    float *dxr = twin_h(&P, n), *dwr = twin_h(&P, C), *dbr = twin_h(&P, C);
    float *dwg = twin_h(&P, C), *dbg = twin_h(&P, C), *dw2 = twin_h(&P, C);
    if (P.failed) goto done;
    groupnorm_bwd_cpu(dxr, dwr, dbr, g, x, mref, rref, wp, N, C, HW, G);  // increments from zeros
    twin_scale_init(dx0, n, dxr);
    twin_scale_init(dw0, C, dwr);
    twin_scale_init(db0, C, dbr);
    twin_copy(dxr, dx0, n);
    twin_copy(dwr, dw0, C);
    twin_copy(dbr, db0, C);
    groupnorm_bwd_cpu(dxr, dwr, dbr, g, x, mref, rref, wp, N, C, HW, G);
    float *d_g = twin_d(&P, g, n), *d_mr = twin_d(&P, mref, ng), *d_rr = twin_d(&P, rref, ng);
    float *d_dx = twin_d(&P, dx0, n), *d_dw = twin_d(&P, dw0, C), *d_db = twin_d(&P, db0, C);
    if (P.failed) goto done;
    CHECK_OK(groupnorm_bwd_cuda(d_dx, d_dw, d_db, d_g, d_x, d_mr, d_rr, d_wp, N, C, HW, G));
    if (!twin_download(got, d_dx, n) || !twin_download(dwg, d_dw, C) || !twin_download(dbg, d_db, C)) goto done;
    snprintf(what, sizeof what, "groupnorm_bwd dx N%lld C%lld HW%lld G%lld affine%d", (long long)N, (long long)C,
             (long long)HW, (long long)G, affine);
    twin_compare(what, got, dxr, n, RTOL, twin_inc_scale(dxr, dx0, n));
    twin_compare("groupnorm_bwd dw", dwg, dwr, C, RTOL, twin_inc_scale(dwr, dw0, C));
    twin_compare("groupnorm_bwd db", dbg, dbr, C, RTOL, twin_inc_scale(dbr, db0, C));
    if (!twin_reset(d_dw, dw0, C)) goto done;
    CHECK_OK(groupnorm_bwd_cuda(NULL, d_dw, NULL, d_g, d_x, d_mr, d_rr, d_wp, N, C, HW, G));
    if (twin_download(dw2, d_dw, C)) twin_same_bits("groupnorm_bwd dw rerun", dw2, dwg, C);
done:
    twin_pool_free(&P);
}

// --- L2 normalise ----------------------------------------------------------------------

static void l2norm_case(int64_t N, int64_t C) {
    twin_pool P = {0};
    int64_t n = N * C;
    char what[96];
    float *x = twin_h(&P, n), *ref = twin_h(&P, n), *got = twin_h(&P, n), *nref = twin_h(&P, N), *ngot = twin_h(&P, N);
    if (P.failed) goto done;
    fill_rows(x, N, C);
    // Every 7th row tiny (clamped: norm < eps), row 0 of 3+ rows all zero.
    const float eps = 1e-3f;
    for (int64_t r = 0; r < N; r += 7)
        for (int64_t c = 0; c < C; c++) x[r * C + c] *= 1e-6f;
    if (N >= 3)
        for (int64_t c = 0; c < C; c++) x[c] = 0.0f;
    l2norm_fwd_cpu(ref, nref, x, N, C, eps);
    float *d_x = twin_d(&P, x, n), *d_out = twin_d(&P, NULL, n), *d_n = twin_d(&P, NULL, N);
    if (P.failed) goto done;
    CHECK_OK(l2norm_fwd_cuda(d_out, d_n, d_x, N, C, eps));
    if (!twin_download(got, d_out, n) || !twin_download(ngot, d_n, N)) goto done;
    snprintf(what, sizeof what, "l2norm_fwd N%lld C%lld", (long long)N, (long long)C);
    twin_compare(what, got, ref, n, RTOL, twin_rms(ref, n));
    // The norm: relative, with a floor for the all-zero row.
    snprintf(what, sizeof what, "l2norm_fwd norm N%lld C%lld", (long long)N, (long long)C);
    twin_compare(what, ngot, nref, N, RTOL, 1e-30);

    float *g = twin_h(&P, n), *dx0 = twin_h(&P, n);
    if (P.failed) goto done;
    test_fill(g, n, -1, 1);
    test_fill(dx0, n, -1, 1);
    float *dxr = twin_h(&P, n);
    if (P.failed) goto done;
    l2norm_bwd_cpu(dxr, g, x, nref, N, C, eps);  // increments from zeros
    for (int64_t r = 0; r < N; r++) twin_scale_init(dx0 + r * C, C, dxr + r * C);  // per row: clamped rows are ~1000x
    twin_copy(dxr, dx0, n);
    l2norm_bwd_cpu(dxr, g, x, nref, N, C, eps);
    float *d_g = twin_d(&P, g, n), *d_nr = twin_d(&P, nref, N), *d_dx = twin_d(&P, dx0, n);
    if (P.failed) goto done;
    CHECK_OK(l2norm_bwd_cuda(d_dx, d_g, d_x, d_nr, N, C, eps));
    if (!twin_download(got, d_dx, n)) goto done;
    snprintf(what, sizeof what, "l2norm_bwd dx N%lld C%lld", (long long)N, (long long)C);
    // Clamped rows add g / eps (1000x the others): scale per element would
    // be fairer, but the increment rms is dominated by them; compare the
    // unclamped rows separately so their errors are not hidden.
    twin_compare(what, got, dxr, n, RTOL, twin_inc_scale(dxr, dx0, n));
    for (int64_t r = 1; r < N; r++) {
        if (r % 7 == 0) continue;
        snprintf(what, sizeof what, "l2norm_bwd dx unclamped row %lld", (long long)r);
        twin_quiet_ = 1;
        twin_compare(what, got + r * C, dxr + r * C, C, RTOL, twin_inc_scale(dxr + r * C, dx0 + r * C, C));
        twin_quiet_ = 0;
        if (r > 64) break;  // a sample of rows is enough
    }
done:
    twin_pool_free(&P);
}

// --- argument checks ------------------------------------------------------------------

static void test_errors(void) {
    float *d = NULL;
    if (silt_cuda_malloc((void **)&d, 64 * sizeof(float)) != SILT_OK) {
        CHECK_MSG(0, "alloc: %s", silt_last_error());
        return;
    }
    TWIN_EXPECT(SILT_ERR_ARG, layernorm_fwd_cuda(d, NULL, NULL, d, NULL, NULL, -1, 4, 1e-5f));
    TWIN_EXPECT(SILT_ERR_ARG, layernorm_fwd_cuda(NULL, NULL, NULL, d, NULL, NULL, 2, 4, 1e-5f));
    TWIN_EXPECT(SILT_OK, layernorm_fwd_cuda(NULL, NULL, NULL, NULL, NULL, NULL, 0, 4, 1e-5f));
    TWIN_EXPECT(SILT_ERR_ARG, layernorm_bwd_cuda(d, NULL, NULL, NULL, d, d, NULL, d, NULL, 2, 4));
    TWIN_EXPECT(SILT_OK, layernorm_bwd_cuda(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 2, 4));
    TWIN_EXPECT(SILT_ERR_ARG, rmsnorm_fwd_cuda(d, NULL, NULL, NULL, 2, 4, 1e-5f));
    TWIN_EXPECT(SILT_ERR_ARG, rmsnorm_bwd_cuda(d, NULL, NULL, d, d, d, NULL, 2, -4));
    TWIN_EXPECT(SILT_ERR_ARG, groupnorm_fwd_cuda(d, NULL, NULL, d, NULL, NULL, 1, 6, 4, 4, 1e-5f));  // 4 !| 6
    TWIN_EXPECT(SILT_ERR_ARG, groupnorm_fwd_cuda(d, NULL, NULL, d, NULL, NULL, 1, 6, 4, 0, 1e-5f));
    TWIN_EXPECT(SILT_ERR_ARG, groupnorm_bwd_cuda(d, NULL, NULL, d, d, d, d, NULL, 1, 6, 4, 5));
    TWIN_EXPECT(SILT_ERR_ARG, l2norm_fwd_cuda(d, NULL, NULL, 2, 4, 1e-12f));
    TWIN_EXPECT(SILT_ERR_ARG, l2norm_bwd_cuda(d, d, d, NULL, 2, 4, 1e-12f));
    TWIN_EXPECT(SILT_OK, l2norm_bwd_cuda(NULL, NULL, NULL, NULL, 2, 4, 1e-12f));
    CHECK(layernorm_bwd_cuda_scratch_floats(0, 4) == 0 && layernorm_bwd_cuda_scratch_floats(-3, 4) == 0);
    CHECK(rmsnorm_bwd_cuda_scratch_floats(4096, 1152) > 0);
    // C == 0: nothing to normalise; the statistics are NaN as on the CPU.
    float st[4] = {1, 1, 1, 1};
    CHECK_OK(layernorm_fwd_cuda(NULL, d, d + 2, NULL, NULL, NULL, 2, 0, 1e-5f));
    if (twin_download(st, d, 4)) CHECK(isnan(st[0]) && isnan(st[1]) && isnan(st[2]) && isnan(st[3]));
    CHECK_OK(silt_cuda_sync());
    silt_cuda_free(d);
}

int main(void) {
    if (!twin_start()) return 77;
    test_seed(20240611);
    test_errors();
    for (int s = 0; s < NSHAPES; s++) {
        layernorm_case(shapes[s].N, shapes[s].C, s % 3);
        rmsnorm_case(shapes[s].N, shapes[s].C, s % 2);
        l2norm_case(shapes[s].N, shapes[s].C);
    }
    layernorm_case(33, 127, 2);  // every affine mode on one shape
    layernorm_case(33, 127, 0);
    // (N, C, HW, G): groups of one channel, one group, HW 1, odd HW, a VAE-like
    // (1, 128, 64x64, 32) with 16384-element groups.
    const int64_t gshapes[][4] = {{1, 4, 1, 1},   {2, 6, 5, 3},    {3, 32, 49, 8},     {2, 12, 7, 1},
                                  {4, 9, 3, 9},   {2, 64, 1, 32},  {1, 128, 4096, 32}, {5, 40, 17, 10}};
    for (size_t s = 0; s < sizeof gshapes / sizeof *gshapes; s++)
        groupnorm_case(gshapes[s][0], gshapes[s][1], gshapes[s][2], gshapes[s][3], (int)(s % 3));
    return check_summary();
}
