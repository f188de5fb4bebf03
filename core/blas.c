#include "core/blas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };
typedef void (*sgemm_fn)(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                         const float *b, int ldb, float beta, float *c, int ldc);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static silt_blas_info info;
static sgemm_fn cblas_sgemm_ptr;
static char config_buf[256], core_buf[64], coretype_buf[32], lib_buf[128];

typedef struct cpu_features { bool avx, avx2, fma, avx512f, avx512bw, avx512vl, avx512dq, avx512bf16; } cpu_features;

static cpu_features detect(void) {
    cpu_features f = {0};
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    bool osxsave = c & (1u << 27);
    f.avx = (c & (1u << 28)) && osxsave;
    f.fma = c & (1u << 12);
    // The OS must save the wide registers (XCR0) or AVX code faults.
    unsigned long long xcr0 = 0;
    if (osxsave) {
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        xcr0 = ((unsigned long long)hi << 32) | lo;
    }
    bool ymm = (xcr0 & 6) == 6, zmm = (xcr0 & 0xe6) == 0xe6;
    f.avx = f.avx && ymm;
    f.fma = f.fma && ymm;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        f.avx2 = (b & (1u << 5)) && ymm;
        f.avx512f = (b & (1u << 16)) && zmm;
        f.avx512dq = (b & (1u << 17)) && zmm;
        f.avx512bw = (b & (1u << 30)) && zmm;
        f.avx512vl = (b & (1u << 31)) && zmm;
    }
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) f.avx512bf16 = (a & (1u << 5)) && zmm;
#endif
    return f;
}

const char *silt_cpu_features(void) {
    static char buf[128];
    cpu_features f = detect();
    buf[0] = 0;
    const char *names[] = {"avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512bf16"};
    bool on[] = {f.avx, f.avx2, f.fma, f.avx512f, f.avx512bw, f.avx512vl, f.avx512dq, f.avx512bf16};
    for (int i = 0; i < 8; i++)
        if (on[i]) { strcat(buf, buf[0] ? " " : ""); strcat(buf, names[i]); }
    if (!buf[0]) strcpy(buf, "(no AVX)");
    return buf;
}

const char *silt_blas_best_coretype(void) {
    cpu_features f = detect();
    // SkylakeX's sgemm kernel needs AVX-512 F/BW/VL/DQ (Cooperlake adds BF16);
    // Haswell's needs AVX2+FMA.
    if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512bf16) return "Cooperlake";
    if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq) return "SkylakeX";
    if (f.avx2 && f.fma) return "Haswell";
    return NULL;
}

static void load(void) {
    const char *user = getenv("OPENBLAS_CORETYPE");
    info.user_coretype = user && user[0];
    info.coretype_set = "";
    if (!info.user_coretype && !getenv("SILT_BLAS_NO_CORETYPE")) {
        const char *best = silt_blas_best_coretype();
        if (best) {
            snprintf(coretype_buf, sizeof coretype_buf, "%s", best);
            setenv("OPENBLAS_CORETYPE", coretype_buf, 1);
            info.coretype_set = coretype_buf;
        }
    }
    const char *env_lib = getenv("SILT_BLAS_LIB");
    // The OpenMP build of OpenBLAS first: it shares libgomp's thread pool with
    // silt's own loops. The pthread build's threads and OpenMP's spinning
    // workers fight over the cores (measured: conv2d 4 ms -> up to 86 ms).
    const char *candidates[] = {env_lib,
                                "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0",
                                "/usr/lib/aarch64-linux-gnu/openblas-openmp/libopenblas.so.0",
                                "libopenblas.so.0", "libopenblas.so", "libblis.so.4", "libcblas.so.3", "libblas.so.3"};
    void *h = NULL;
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates && !h; i++) {
        if (!candidates[i]) continue;
        h = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
        if (h) {
            cblas_sgemm_ptr = (sgemm_fn)dlsym(h, "cblas_sgemm");
            if (!cblas_sgemm_ptr) { dlclose(h); h = NULL; continue; }
            snprintf(lib_buf, sizeof lib_buf, "%s", candidates[i]);
        }
    }
    if (!h) {
        info.library = "builtin";
        info.config = "blocked C sgemm (no BLAS library found)";
        info.corename = "builtin";
        info.threads = 1;
        return;
    }
    info.library = lib_buf;
    char *(*get_config)(void) = (char *(*)(void))dlsym(h, "openblas_get_config");
    char *(*get_core)(void) = (char *(*)(void))dlsym(h, "openblas_get_corename");
    int (*get_threads)(void) = (int (*)(void))dlsym(h, "openblas_get_num_threads");
    snprintf(config_buf, sizeof config_buf, "%s", get_config ? get_config() : "");
    snprintf(core_buf, sizeof core_buf, "%s", get_core ? get_core() : "unknown");
    info.config = config_buf;
    info.corename = core_buf;
    info.threads = get_threads ? get_threads() : 1;
}

const silt_blas_info *silt_blas_info_get(void) {
    pthread_once(&once, load);
    return &info;
}

// Fallback: a simple cache-blocked sgemm, used only when no library loads.
static void sgemm_builtin(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                          const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
#pragma omp parallel for
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        for (int64_t j = 0; j < N; j++) c[j] = beta == 0.0f ? 0.0f : beta * c[j];
        for (int64_t k = 0; k < K; k++) {
            float a = alpha * (ta ? A[k * lda + i] : A[i * lda + k]);
            if (a == 0.0f) continue;
            if (!tb) {
                const float *b = B + k * ldb;
                for (int64_t j = 0; j < N; j++) c[j] += a * b[j];
            } else {
                for (int64_t j = 0; j < N; j++) c[j] += a * B[j * ldb + k];
            }
        }
    }
}

void silt_sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    pthread_once(&once, load);
    if (K <= 0) {  // C = beta*C; BLAS libraries disagree on K == 0
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
        return;
    }
    if (!cblas_sgemm_ptr || M > INT32_MAX || N > INT32_MAX || K > INT32_MAX) {
        sgemm_builtin(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    cblas_sgemm_ptr(ROW_MAJOR, trans_a ? TRANS : NO_TRANS, trans_b ? TRANS : NO_TRANS, (int)M, (int)N, (int)K, alpha, A,
                    (int)lda, B, (int)ldb, beta, C, (int)ldc);
}
