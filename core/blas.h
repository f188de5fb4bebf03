// Matrix products through BLAS, loaded at run time.
//
// Why dlopen: Debian's OpenBLAS picks its kernel from CPUID when the library
// is loaded. On some VMs it misdetects the core (e.g. "Prescott", no AVX) and
// sgemm runs ~3x slower. OPENBLAS_CORETYPE must be set before the library's
// constructor runs, which a normal link cannot guarantee; so silt sets it from
// its own CPUID check (unless the user set it) and then loads the library.
// Without any BLAS library silt falls back to a blocked C sgemm.
#ifndef SILT_BLAS_H
#define SILT_BLAS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"

typedef struct silt_blas_info {
    const char *library;   // path/soname loaded, or "builtin"
    const char *config;    // openblas_get_config() or ""
    const char *corename;  // openblas_get_corename(): the kernel in use
    const char *coretype_set;  // value silt put in OPENBLAS_CORETYPE, "" if none
    bool user_coretype;    // OPENBLAS_CORETYPE came from the environment
    int threads;
} silt_blas_info;

// Loads the library on first use (thread-safe). Never fails: the builtin
// sgemm is the last resort.
const silt_blas_info *silt_blas_info_get(void);

// C = alpha * op(A) op(B) + beta * C, row-major. op(A) is M x K, op(B) K x N.
// lda/ldb/ldc are row strides.
void silt_sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

// The kernel OpenBLAS should use on this CPU, from CPUID ("SkylakeX",
// "Haswell", ...), or NULL when the CPU has no AVX2/FMA.
const char *silt_blas_best_coretype(void);

// CPU feature string ("avx2 fma avx512f ...") for `gen info --system`.
const char *silt_cpu_features(void);

#endif
