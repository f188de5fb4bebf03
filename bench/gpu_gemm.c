// GPU matrix-product throughput: times matmul_fwd_cuda (fp32, fp32 with TF32
// allowed, bf16) on size^3 products with CUDA events after warm-up, and prints
// achieved TFLOP/s, the share of the card's dense peak where the card is known,
// and a spot check of 16 output entries against a double-precision dot product.
//
//   bench_gpu_gemm [size=4096] [iters=20]
//
// Builds in every configuration: without CUDA or without a GPU it prints
// "no GPU (...)" and exits 0. Uses only the cuda/cuda.h C API.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/tensor.h"
#include "cuda/cuda.h"

// Dense (non-sparse) peaks in TFLOP/s from NVIDIA's data sheets: fp32 (non
// tensor), tf32 and bf16 tensor cores. Matched as substrings of the device
// description, first match wins, so the more specific names come first.
typedef struct { const char *match; double fp32, tf32, bf16; } peak_row;
static const peak_row peaks[] = {
    {"H100 PCIe", 51.2, 378.0, 756.0},  {"H100 NVL", 60.0, 417.5, 835.5}, {"H100", 66.9, 494.7, 989.4},
    {"H200", 66.9, 494.7, 989.4},       {"A100", 19.5, 156.0, 312.0},     {"L40S", 91.6, 183.0, 362.1},
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float uniform(void) {  // xorshift in [-1, 1)
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

#define TRY(expr)                                                                    \
    do {                                                                             \
        if ((expr) != SILT_OK) {                                                     \
            fprintf(stderr, "bench_gpu_gemm: %s failed: %s\n", #expr, silt_last_error()); \
            goto fail;                                                               \
        }                                                                            \
    } while (0)

enum { MODE_FP32, MODE_TF32, MODE_BF16, MODE_COUNT };
static const char *mode_names[MODE_COUNT] = {"fp32", "tf32", "bf16"};

typedef struct {
    int64_t n;
    float *a, *b;          // host inputs (bf16-rounded copies for the bf16 check)
    float *a16f, *b16f;
    void *da, *db, *dc;    // device fp32 buffers
    void *da16, *db16, *dc16;
} bench;

static silt_status run_once(bench *B, int mode) {
    int64_t n = B->n;
    if (mode == MODE_BF16) return matmul_fwd_cuda_bf16(B->dc16, B->da16, B->db16, 1, n, n, n, false, false);
    return matmul_fwd_cuda(B->dc, B->da, B->db, 1, n, n, n, false, false);
}

// Max relative error of 16 entries vs a double dot product, relative to
// sqrt(n) * rms(a) * rms(b) (inputs uniform in [-1,1): rms 1/sqrt(3)).
static double spot_check(bench *B, int mode, const float *c) {
    int64_t n = B->n;
    const float *a = mode == MODE_BF16 ? B->a16f : B->a, *b = mode == MODE_BF16 ? B->b16f : B->b;
    double scale = sqrt((double)n) / 3.0, worst = 0;
    for (int s = 0; s < 16; s++) {
        int64_t i = (int64_t)((uniform() + 1) * 0.5 * (double)n) % n, j = (int64_t)((uniform() + 1) * 0.5 * (double)n) % n;
        double ref = 0;
        for (int64_t k = 0; k < n; k++) ref += (double)a[i * n + k] * b[k * n + j];
        double err = fabs(c[i * n + j] - ref) / (fabs(ref) + scale);
        if (err > worst) worst = err;
    }
    return worst;
}

int main(int argc, char **argv) {
    int64_t n = argc > 1 ? atoll(argv[1]) : 4096;
    int iters = argc > 2 ? atoi(argv[2]) : 20;
    if (n < 1 || n > 32768 || iters < 1) {
        fprintf(stderr, "usage: bench_gpu_gemm [size 1..32768, default 4096] [iters >= 1, default 20]\n");
        return 2;
    }
    char desc[1024];
    if (silt_cuda_describe(desc, sizeof desc) != SILT_OK) snprintf(desc, sizeof desc, "?");
    if (!silt_cuda_available()) {
        if (strncmp(desc, "no GPU", 6) == 0) printf("%s\n", desc);  // the reason is included
        else printf("no GPU (%s)\n", desc);
        return 0;
    }
    const peak_row *peak = NULL;
    for (size_t i = 0; i < sizeof peaks / sizeof *peaks && !peak; i++)
        if (strstr(desc, peaks[i].match)) peak = &peaks[i];

    bench B = {.n = n};
    silt_cuda_event *ev0 = NULL, *ev1 = NULL;
    float *c = NULL;
    uint16_t *tmp16 = NULL;
    int rc = 1, wrong = 0;
    size_t nn = (size_t)n * (size_t)n;
    B.a = malloc(nn * 4), B.b = malloc(nn * 4), B.a16f = malloc(nn * 4), B.b16f = malloc(nn * 4);
    c = malloc(nn * 4);
    tmp16 = malloc(nn * 2);
    if (!B.a || !B.b || !B.a16f || !B.b16f || !c || !tmp16) {
        fprintf(stderr, "bench_gpu_gemm: out of host memory\n");
        goto fail;
    }
    for (size_t i = 0; i < nn; i++) B.a[i] = uniform(), B.b[i] = uniform();
    TRY(silt_cuda_malloc(&B.da, nn * 4));
    TRY(silt_cuda_malloc(&B.db, nn * 4));
    TRY(silt_cuda_malloc(&B.dc, nn * 4));
    TRY(silt_cuda_malloc(&B.da16, nn * 2));
    TRY(silt_cuda_malloc(&B.db16, nn * 2));
    TRY(silt_cuda_malloc(&B.dc16, nn * 2));
    TRY(silt_cuda_memcpy_h2d(B.da, B.a, nn * 4));
    TRY(silt_cuda_memcpy_h2d(B.db, B.b, nn * 4));
    TRY(silt_convert(tmp16, SILT_BF16, B.a, SILT_F32, (int64_t)nn));
    TRY(silt_convert(B.a16f, SILT_F32, tmp16, SILT_BF16, (int64_t)nn));
    TRY(silt_cuda_memcpy_h2d(B.da16, tmp16, nn * 2));
    TRY(silt_convert(tmp16, SILT_BF16, B.b, SILT_F32, (int64_t)nn));
    TRY(silt_convert(B.b16f, SILT_F32, tmp16, SILT_BF16, (int64_t)nn));
    TRY(silt_cuda_memcpy_h2d(B.db16, tmp16, nn * 2));
    TRY(silt_cuda_event_create(&ev0));
    TRY(silt_cuda_event_create(&ev1));

    printf("GPU      %s\n", desc);
    printf("matmul   %lld x %lld x %lld, %d timed iterations after 3 warm-up\n", (long long)n, (long long)n,
           (long long)n, iters);
    printf("%-6s %10s %10s %12s %12s\n", "dtype", "ms/iter", "TFLOP/s", "% of peak", "spot err");
    double flops = 2.0 * (double)n * (double)n * (double)n;
    for (int mode = 0; mode < MODE_COUNT; mode++) {
        silt_cuda_set_allow_tf32(mode == MODE_TF32);
        for (int w = 0; w < 3; w++) TRY(run_once(&B, mode));
        TRY(silt_cuda_sync());
        TRY(silt_cuda_event_record(ev0));
        for (int it = 0; it < iters; it++) TRY(run_once(&B, mode));
        TRY(silt_cuda_event_record(ev1));
        float ms = 0;
        TRY(silt_cuda_event_elapsed_ms(ev0, ev1, &ms));
        TRY(silt_cuda_sync());
        if (mode == MODE_BF16) {
            TRY(silt_cuda_memcpy_d2h(tmp16, B.dc16, nn * 2));
            TRY(silt_convert(c, SILT_F32, tmp16, SILT_BF16, (int64_t)nn));
        } else TRY(silt_cuda_memcpy_d2h(c, B.dc, nn * 4));
        double per = ms / iters, tflops = flops / (per * 1e-3) / 1e12;
        double pk = !peak ? 0 : mode == MODE_FP32 ? peak->fp32 : mode == MODE_TF32 ? peak->tf32 : peak->bf16;
        double err = spot_check(&B, mode, c);
        // Expected: fp32 ~1e-7, tf32 ~1e-4, bf16 ~1e-3 (output rounding).
        double limit = mode == MODE_FP32 ? 1e-4 : 1e-2;
        char pct[32];
        if (pk > 0) snprintf(pct, sizeof pct, "%.0f%% of %.0f", 100 * tflops / pk, pk);
        else snprintf(pct, sizeof pct, "unknown");
        if (!(err <= limit)) wrong = 1;
        printf("%-6s %10.3f %10.1f %12s %9.1e %s\n", mode_names[mode], per, tflops, pct, err,
               err <= limit ? "ok" : "WRONG");
    }
    silt_cuda_set_allow_tf32(false);
    rc = wrong;  // a wrong product makes the timing meaningless
fail:
    silt_cuda_event_free(ev0);
    silt_cuda_event_free(ev1);
    silt_cuda_free(B.da);
    silt_cuda_free(B.db);
    silt_cuda_free(B.dc);
    silt_cuda_free(B.da16);
    silt_cuda_free(B.db16);
    silt_cuda_free(B.dc16);
    free(B.a);
    free(B.b);
    free(B.a16f);
    free(B.b16f);
    free(c);
    free(tmp16);
    return rc;
}
