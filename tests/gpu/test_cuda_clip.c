// world-CLIP's InfoNCE twins (cuda/ops_clip.h) against the CPU twins
// (text/world_clip_ops.h): the loss, both softmaxes and, accumulating into
// random d-buffers, the similarity and logit-scale gradients, for batches of
// odd sizes (1 included: the loss is 0), square and with hard-negative
// columns (M > B: pcol must be zero there), and logit scales on both sides of the
// ln 100 clamp (above it the scale's gradient must stay exactly as it was).
// fp32 rtol 1e-4, scale-aware (twin_util.h); a second run must repeat bit for
// bit. Also the argument errors. Exit 77 (SKIP) without a GPU.
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "gpu_test.h"
#include "text/world_clip_ops.h"
#include "twin_util.h"

static double rms(const float *x, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return n ? sqrt(s / (double)n) : 0;
}

static void nce_case(int64_t B, int64_t M, float ls, float go) {
    int64_t n = B * M;
    float *sim = twin_host(n), *pr = twin_host(n), *pc = twin_host(n), *gpr = twin_host(n), *gpc = twin_host(n);
    float *ds0 = twin_host(n), *dsref = twin_host(n), *dsgot = twin_host(n), *inc = twin_host(n), *again = twin_host(n);
    double *terms = malloc(sizeof(double) * (size_t)(2 * B));
    test_fill(sim, n, -1, 1);
    for (int64_t i = 0; i < B; i++) sim[i * M + i] = 0.5f + 0.5f * sim[i * M + i] * sim[i * M + i];  // matches score higher
    float lref = 0, lgot = NAN, dls_inc = 0, dls0 = 0.3f, dls_ref = dls0, dls_got = NAN;
    wclip_infonce_fwd_cpu(&lref, pr, pc, terms, sim, &ls, B, M);
    wclip_infonce_bwd_cpu(inc, &dls_inc, &go, sim, pr, pc, &ls, B, M);
    double sc = rms(inc, n) > 1e-9 ? rms(inc, n) : 1e-9;
    test_fill(ds0, n, -1, 1);
    for (int64_t i = 0; i < n; i++) ds0[i] = (float)(ds0[i] * sc);
    memcpy(dsref, ds0, sizeof(float) * (size_t)n);
    wclip_infonce_bwd_cpu(dsref, &dls_ref, &go, sim, pr, pc, &ls, B, M);
    float *d_sim = twin_upload(sim, sizeof(float) * (size_t)n), *d_ls = twin_upload(&ls, sizeof(float));
    float *d_out = twin_upload(NULL, sizeof(float)), *d_pr = twin_upload(NULL, sizeof(float) * (size_t)n);
    float *d_pc = twin_upload(NULL, sizeof(float) * (size_t)n), *d_go = twin_upload(&go, sizeof(float));
    float *d_ds = twin_upload(ds0, sizeof(float) * (size_t)n), *d_dls = twin_upload(&dls0, sizeof(float));
    double *d_terms = twin_upload(NULL, sizeof(double) * (size_t)(2 * B));
    char what[96];
    if (d_sim && d_ls && d_out && d_pr && d_pc && d_go && d_ds && d_dls && d_terms) {
        twin_poison(d_pr, sizeof(float) * (size_t)n);
        twin_poison(d_pc, sizeof(float) * (size_t)n);  // the hard-negative columns must be written (zeros) too
        CHECK_OK(wclip_infonce_fwd_cuda(d_out, d_pr, d_pc, d_terms, d_sim, d_ls, B, M));
        snprintf(what, sizeof what, "wclip_infonce_fwd loss B %lld M %lld ls %g", (long long)B, (long long)M, (double)ls);
        // B = 1: the loss is exactly 0 on both sides; judge it on the scale of ln 2.
        if (twin_download(&lgot, d_out, sizeof(float))) twin_compare(what, &lgot, &lref, 1, 1e-5, B == 1 ? 1.0 : 0.0);
        snprintf(what, sizeof what, "wclip_infonce_fwd prow B %lld M %lld ls %g", (long long)B, (long long)M, (double)ls);
        if (twin_download(gpr, d_pr, sizeof(float) * (size_t)n)) twin_compare(what, gpr, pr, n, 1e-4, 1e-30);
        snprintf(what, sizeof what, "wclip_infonce_fwd pcol B %lld M %lld ls %g", (long long)B, (long long)M, (double)ls);
        if (twin_download(gpc, d_pc, sizeof(float) * (size_t)n)) twin_compare(what, gpc, pc, n, 1e-4, 1e-30);
        // The backward from the CPU's probabilities (isolates the kernel).
        CHECK(silt_cuda_memcpy_h2d(d_pr, pr, sizeof(float) * (size_t)n) == SILT_OK);
        CHECK(silt_cuda_memcpy_h2d(d_pc, pc, sizeof(float) * (size_t)n) == SILT_OK);
        CHECK_OK(wclip_infonce_bwd_cuda(d_ds, d_dls, d_go, d_sim, d_pr, d_pc, d_ls, B, M));
        snprintf(what, sizeof what, "wclip_infonce_bwd dsim B %lld M %lld ls %g", (long long)B, (long long)M, (double)ls);
        if (twin_download(dsgot, d_ds, sizeof(float) * (size_t)n)) twin_compare(what, dsgot, dsref, n, 1e-4, sc);
        snprintf(what, sizeof what, "wclip_infonce_bwd dls B %lld M %lld ls %g", (long long)B, (long long)M, (double)ls);
        if (twin_download(&dls_got, d_dls, sizeof(float))) {
            if (ls > WCLIP_LOGIT_SCALE_MAX)
                CHECK_MSG(dls_got == dls0, "%s: clamped, but the scale's grad moved: %.9g", what, (double)dls_got);
            else
                twin_compare(what, &dls_got, &dls_ref, 1, 1e-4, fabs(dls_inc) > 1e-9 ? fabs(dls_inc) : 1e-9);
        }
        // Determinism: the same forward again, bit for bit.
        CHECK_OK(wclip_infonce_fwd_cuda(d_out, d_pr, d_pc, d_terms, d_sim, d_ls, B, M));
        float l2 = NAN;
        if (twin_download(again, d_pr, sizeof(float) * (size_t)n) && twin_download(&l2, d_out, sizeof(float))) {
            snprintf(what, sizeof what, "wclip_infonce_fwd rerun B %lld", (long long)B);
            twin_same_bits(what, again, gpr, sizeof(float) * (size_t)n);
            CHECK(memcmp(&l2, &lgot, sizeof l2) == 0);
        }
        // Only one of the two gradients wanted.
        CHECK_OK(wclip_infonce_bwd_cuda(NULL, d_dls, d_go, d_sim, d_pr, d_pc, d_ls, B, M));
        CHECK_OK(wclip_infonce_bwd_cuda(d_ds, NULL, d_go, d_sim, d_pr, d_pc, d_ls, B, M));
        CHECK_OK(silt_cuda_sync());
    }
    silt_cuda_free(d_sim), silt_cuda_free(d_ls), silt_cuda_free(d_out), silt_cuda_free(d_pr), silt_cuda_free(d_pc);
    silt_cuda_free(d_go), silt_cuda_free(d_ds), silt_cuda_free(d_dls), silt_cuda_free(d_terms);
    free(sim), free(pr), free(pc), free(gpr), free(gpc), free(ds0), free(dsref), free(dsgot), free(inc), free(again);
    free(terms);
}

#define EXPECT(want, expr)                                                                                   \
    do {                                                                                                     \
        silt_status s_ = (expr);                                                                             \
        CHECK_MSG(s_ == (want), "%s -> %d (%s), want %d", #expr, (int)s_, silt_last_error(), (int)(want)); \
    } while (0)

static void errors(void) {
    float *d = twin_upload(NULL, 64 * sizeof(float));
    if (!d) return;
    double *t = (double *)(d + 32);
    EXPECT(SILT_ERR_ARG, wclip_infonce_fwd_cuda(d, d, d, t, d, d, 0, 0));
    EXPECT(SILT_ERR_ARG, wclip_infonce_fwd_cuda(d, d, d, t, d, d, 3, 2));  // fewer captions than images
    EXPECT(SILT_ERR_ARG, wclip_infonce_fwd_cuda(d, NULL, d, t, d, d, 2, 2));
    EXPECT(SILT_ERR_ARG, wclip_infonce_fwd_cuda(d, d, d, t, d, NULL, 2, 2));
    EXPECT(SILT_ERR_ARG, wclip_infonce_bwd_cuda(d, d, d, d, d, d, d, -1, 2));
    EXPECT(SILT_ERR_ARG, wclip_infonce_bwd_cuda(d, d, d, d, d, d, d, 3, 2));
    EXPECT(SILT_ERR_ARG, wclip_infonce_bwd_cuda(d, d, NULL, d, d, d, d, 2, 2));
    EXPECT(SILT_OK, wclip_infonce_bwd_cuda(NULL, NULL, NULL, NULL, NULL, NULL, NULL, 2, 2));  // nothing wanted
    silt_cuda_free(d);
}

int main(void) {
    GPU_TEST_START();
    test_seed(53);
    const float ls_init = 2.6592600f;  // ln(1/0.07), world-CLIP's initial logit scale
    const int64_t Bs[] = {1, 2, 5, 32, 33, 300};
    for (size_t i = 0; i < sizeof Bs / sizeof *Bs; i++) {
        nce_case(Bs[i], Bs[i], ls_init, 1.0f);
        nce_case(Bs[i], Bs[i], 5.0f, 0.5f);  // above ln 100: clamped
        nce_case(Bs[i], 4 * Bs[i], ls_init, 1.0f);  // three hard negatives per image (world-judge)
    }
    nce_case(7, 7, -3.0f, 0.25f);  // a small scale (flat softmax)
    nce_case(5, 6, 5.0f, 0.5f);    // one extra column, clamped
    errors();
    return check_summary();
}
