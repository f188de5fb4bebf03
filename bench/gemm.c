// bench/gemm: achieved sgemm GFLOP/s next to the machine's measured FMA peak,
// with silt's OpenBLAS kernel choice and (in a child process, since the kernel
// is fixed when the library loads) with OpenBLAS's own default detection.
//
//   bench_gemm [--sizes 256,512,1024,2048] [--reps N]
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/blas.h"
#include "core/log.h"
#include "core/tensor.h"

// --- FMA peak: many independent FMA chains, no memory traffic -----------------
#define CHAINS 12
// Twelve named accumulators (not an array) so they stay in registers: enough
// independent chains to cover FMA latency x ports on current cores.
#define FMA12(F) a0 = F(a0, m, b); a1 = F(a1, m, b); a2 = F(a2, m, b); a3 = F(a3, m, b); \
    a4 = F(a4, m, b); a5 = F(a5, m, b); a6 = F(a6, m, b); a7 = F(a7, m, b); \
    a8 = F(a8, m, b); a9 = F(a9, m, b); a10 = F(a10, m, b); a11 = F(a11, m, b);
#define FMA_LOOP(T, SET1, FMADD, ADD)                                                        \
    T m = SET1(0.999999f), b = SET1(1e-7f);                                                  \
    T a0 = SET1(0), a1 = SET1(1), a2 = SET1(2), a3 = SET1(3), a4 = SET1(4), a5 = SET1(5);  \
    T a6 = SET1(6), a7 = SET1(7), a8 = SET1(8), a9 = SET1(9), a10 = SET1(10), a11 = SET1(11); \
    for (long i = 0; i < iters; i++) { FMA12(FMADD) }                                       \
    T s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));                \
    s = ADD(s, ADD(ADD(a8, a9), ADD(a10, a11)));

__attribute__((target("avx512f"))) static float fma_loop_512(long iters) {
    FMA_LOOP(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps)
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float fma_loop_256(long iters) {
    FMA_LOOP(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps)
    float out[8], r = 0;
    _mm256_storeu_ps(out, s);
    for (int j = 0; j < 8; j++) r += out[j];
    return r;
}

// GFLOP/s over all threads, best of 3.
static double fma_peak(int width, int threads) {
    long iters = 20000000 / (width / 8);
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        volatile float sink = 0;
        double t0 = silt_time_now();
#pragma omp parallel num_threads(threads)
        {
            float s = width == 16 ? fma_loop_512(iters) : fma_loop_256(iters);
#pragma omp atomic
            sink += s;
        }
        double dt = silt_time_now() - t0;
        double flops = 2.0 * width * CHAINS * (double)iters * threads;
        if (flops / dt / 1e9 > best) best = flops / dt / 1e9;
    }
    return best;
}

static double time_gemm(int n, int reps) {
    float *A = silt_alloc(sizeof(float) * n * n), *B = silt_alloc(sizeof(float) * n * n), *C = silt_alloc(sizeof(float) * n * n);
    for (long i = 0; i < (long)n * n; i++) { A[i] = (float)(i % 17) * 0.01f; B[i] = (float)(i % 13) * 0.01f; }
    silt_sgemm(false, false, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);  // warm-up (and library load)
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = silt_time_now();
        silt_sgemm(false, false, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
        double dt = silt_time_now() - t0;
        if (dt < best) best = dt;
    }
    silt_free(A); silt_free(B); silt_free(C);
    return 2.0 * n * n * (double)n / best / 1e9;
}

int main(int argc, char **argv) {
    int sizes[8] = {256, 512, 1024, 2048}, n_sizes = 4, reps = 5, child = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--child") == 0) child = 1;
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
            n_sizes = 0;
            for (char *tok = strtok(argv[++i], ","); tok && n_sizes < 8; tok = strtok(NULL, ",")) sizes[n_sizes++] = atoi(tok);
        } else { fprintf(stderr, "usage: bench_gemm [--sizes 256,1024] [--reps N]\n"); return 2; }
    }
    const silt_blas_info *bi = silt_blas_info_get();
    if (child) {  // print "corename gflops..." for the parent
        printf("%s", bi->corename);
        for (int i = 0; i < n_sizes; i++) printf(" %.1f", time_gemm(sizes[i], reps));
        printf("\n");
        return 0;
    }
    int threads = bi->threads > 0 ? bi->threads : omp_get_max_threads();
    const char *best = silt_blas_best_coretype();
    int width = best && strcmp(best, "Haswell") != 0 ? 16 : 8;  // AVX-512 kernels use 16 lanes
    // Other processes can hold a core while we measure, so take the larger of
    // the all-thread figure and threads x the single-thread figure.
    double peak1 = fma_peak(width, 1), peakn = fma_peak(width, threads);
    double peak = peak1 * threads > peakn ? peak1 * threads : peakn;
    printf("machine: %s\nFMA peak (%d-wide): %.1f GFLOP/s per core, %.1f GFLOP/s for %d threads (measured)\n",
           silt_cpu_features(), width, peak1, peak, threads);

    // OpenBLAS's own detection, in a child process that asks silt not to set the core type.
    char cmd[512], line[512] = "";
    char self[256];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    self[len > 0 ? len : 0] = 0;
    snprintf(cmd, sizeof cmd, "env -u OPENBLAS_CORETYPE SILT_BLAS_NO_CORETYPE=1 '%s' --child --reps %d --sizes ", self, reps);
    for (int i = 0; i < n_sizes; i++) snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), i ? ",%d" : "%d", sizes[i]);
    FILE *p = popen(cmd, "r");
    if (p) { if (!fgets(line, sizeof line, p)) line[0] = 0; pclose(p); }

    printf("%-28s", "kernel");
    for (int i = 0; i < n_sizes; i++) printf(" %7d^3", sizes[i]);
    printf("   (GFLOP/s, %% of peak)\n");
    char *save = NULL, *tok = strtok_r(line, " \n", &save);
    if (tok) {
        char label[64];
        snprintf(label, sizeof label, "default (%s)", tok);
        printf("%-28s", label);
        for (int i = 0; i < n_sizes && (tok = strtok_r(NULL, " \n", &save)); i++) {
            double g = atof(tok);
            printf(" %5.1f %3.0f%%", g, 100 * g / peak);
        }
        printf("\n");
    }
    char label[64];
    snprintf(label, sizeof label, "silt (%s%s)", bi->corename, bi->user_coretype ? ", user-set" : "");
    printf("%-28s", label);
    for (int i = 0; i < n_sizes; i++) {
        double g = time_gemm(sizes[i], reps);
        printf(" %5.1f %3.0f%%", g, 100 * g / peak);
    }
    printf("\nlibrary: %s [%s]\n", bi->library, bi->config);
    return 0;
}
