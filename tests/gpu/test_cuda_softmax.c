// CUDA softmax twins (cuda/ops_softmax.h) vs softmax_fwd_cpu / softmax_bwd_cpu
// (core/ops_attention.h; unit-tested against plain formulas and finite
// differences). Exit 77 (SKIP) when no GPU is usable.
//
// Rows: plain random, large logits (x * 30: the max subtraction matters),
// partially masked (-inf entries) and fully masked (all -inf: zeros, not NaN).
// Shapes reach the warp- and block-per-row kernels. Tolerance rtol 1e-4
// against |ref| + rms(ref) (forward; probabilities are positive and sum to 1)
// or + rms of the increment (backward, whose d-buffer starts random, see
// twin_scale_init). Outputs
// are poisoned (NaN) before the run.
#include "core/ops_attention.h"
#include "gpu/twin.h"

#define RTOL 1e-4

static void fill_logits(float *x, int64_t N, int64_t C) {
    test_fill(x, N * C, -4, 4);
    for (int64_t n = 0; n < N; n++) {
        float *r = x + n * C;
        switch (n % 5) {
        case 1:  // large logits
            for (int64_t c = 0; c < C; c++) r[c] *= 30.0f;
            break;
        case 2:  // every third entry masked
            for (int64_t c = 0; c < C; c += 3) r[c] = -INFINITY;
            break;
        case 3:  // fully masked
            for (int64_t c = 0; c < C; c++) r[c] = -INFINITY;
            break;
        default: break;
        }
    }
}

static void softmax_case(int64_t N, int64_t C) {
    twin_pool P = {0};
    int64_t n = N * C;
    char what[96];
    float *x = twin_h(&P, n), *ref = twin_h(&P, n), *got = twin_h(&P, n);
    if (P.failed) goto done;
    fill_logits(x, N, C);
    softmax_fwd_cpu(ref, x, N, C);
    float *d_x = twin_d(&P, x, n), *d_y = twin_d(&P, NULL, n);
    if (P.failed) goto done;
    CHECK_OK(softmax_fwd_cuda(d_y, d_x, N, C));
    if (!twin_download(got, d_y, n)) goto done;
    snprintf(what, sizeof what, "softmax_fwd N%lld C%lld", (long long)N, (long long)C);
    twin_compare(what, got, ref, n, RTOL, twin_rms(ref, n));
    // Fully masked rows must be exact zeros.
    int zeros = 1;
    for (int64_t r = 3; r < N; r += 5)
        for (int64_t c = 0; c < C; c++) zeros &= got[r * C + c] == 0.0f;
    CHECK_MSG(zeros, "softmax_fwd N%lld C%lld: a fully masked row is not all zeros", (long long)N, (long long)C);

    // In place (out == x).
    CHECK_OK(softmax_fwd_cuda(d_x, d_x, N, C));
    if (!twin_download(got, d_x, n)) goto done;
    snprintf(what, sizeof what, "softmax_fwd in-place N%lld C%lld", (long long)N, (long long)C);
    twin_compare(what, got, ref, n, RTOL, twin_rms(ref, n));

    float *g = twin_h(&P, n), *dx0 = twin_h(&P, n);
    if (P.failed) goto done;
    test_fill(g, n, -1, 1);
    test_fill(dx0, n, -1, 1);
    float *dxr = twin_h(&P, n);
    if (P.failed) goto done;
    softmax_bwd_cpu(dxr, g, ref, N, C);  // increments from zeros
    twin_scale_init(dx0, n, dxr);
    twin_copy(dxr, dx0, n);
    softmax_bwd_cpu(dxr, g, ref, N, C);
    float *d_g = twin_d(&P, g, n), *d_out = twin_d(&P, ref, n), *d_dx = twin_d(&P, dx0, n);
    if (P.failed) goto done;
    CHECK_OK(softmax_bwd_cuda(d_dx, d_g, d_out, N, C));
    if (!twin_download(got, d_dx, n)) goto done;
    snprintf(what, sizeof what, "softmax_bwd N%lld C%lld", (long long)N, (long long)C);
    twin_compare(what, got, dxr, n, RTOL, twin_inc_scale(dxr, dx0, n));
done:
    twin_pool_free(&P);
}

int main(void) {
    if (!twin_start()) return 77;
    test_seed(20240612);
    float *d = NULL;
    if (silt_cuda_malloc((void **)&d, 16 * sizeof(float)) == SILT_OK) {
        TWIN_EXPECT(SILT_ERR_ARG, softmax_fwd_cuda(d, d, -1, 4));
        TWIN_EXPECT(SILT_ERR_ARG, softmax_fwd_cuda(NULL, d, 2, 4));
        TWIN_EXPECT(SILT_ERR_ARG, softmax_bwd_cuda(d, NULL, d, 2, 4));
        TWIN_EXPECT(SILT_OK, softmax_fwd_cuda(NULL, NULL, 0, 4));
        TWIN_EXPECT(SILT_OK, softmax_fwd_cuda(NULL, NULL, 3, 0));
        silt_cuda_free(d);
    } else {
        CHECK_MSG(0, "alloc: %s", silt_last_error());
    }
    // Warp per row: C <= 1024, or N >= 1024; block per row: C > 4096, or
    // C > 1024 with N < 1024. (2048, 256) is an attention-map-like shape.
    const int64_t shapes[][2] = {{1, 1},    {5, 7},    {33, 127}, {7, 1025},  {1030, 1500},
                                 {3, 5001}, {2048, 256}, {17, 4096}, {1, 20000}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) softmax_case(shapes[s][0], shapes[s][1]);
    return check_summary();
}
