// Helpers for the CUDA twin tests (tests/gpu/test_cuda_*.c): device buffers,
// scale-aware comparison with a printed error report, and a bitwise check
// for determinism. Header-only; include after check.h.
//
// Tolerance (as tests/gpu/test_cuda_twins.c): element i passes when
//     |got - ref| <= rtol * (|ref| + scale)
// where scale is the typical size of the quantity (rms of the reference, or of
// the increment a backward kernel adds), because a pure relative test is
// meaningless for outputs that cancel to near zero and both sides sum in a
// different order. NaN never passes. Each case prints max abs error, max
// scale-aware relative error and the share of the tolerance used.
#ifndef SILT_TEST_GPU_TWIN_H
#define SILT_TEST_GPU_TWIN_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cuda/cuda.h"

static int twin_quiet_;  // 1: print failures only

static inline int twin_compare(const char *what, const float *got, const float *ref, int64_t n, double rtol,
                               double scale) {
    double max_abs = 0, max_rel = 0;
    int64_t bad = 0, worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)ref[i]);
        double rel = d == 0 ? 0 : d / (fabs((double)ref[i]) + scale);  // equal infinities give d NaN: a failure
        if (isnan(d) || isnan(rel)) rel = INFINITY;
        if (!(rel <= rtol)) bad++;
        if (rel > max_rel || i == 0) {
            max_rel = rel;
            worst = i;
        }
        if (d > max_abs) max_abs = d;
    }
    double share = max_rel / rtol;
    if (!bad && !twin_quiet_)
        printf("ok   %-56s max_abs %.2e max_rel %.2e tol_used %5.1f%%\n", what, max_abs, max_rel, 100 * share);
    CHECK_MSG(bad == 0, "%s: %lld/%lld off, max_abs %.3g max_rel %.3g (tol %.0e, %.0f%% used); [%lld] got %.8g want %.8g",
              what, (long long)bad, (long long)n, max_abs, max_rel, rtol, 100 * share, (long long)worst,
              n ? got[worst] : 0.0, n ? ref[worst] : 0.0);
    return bad == 0;
}

static inline double twin_rms(const float *x, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return n ? sqrt(s / (double)n) : 0;
}

// rms(a - b): the size of what a backward kernel added to its initial d-buffer.
static inline double twin_rms_diff(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return n ? sqrt(s / (double)n) : 0;
}

// Scale for a backward result: the rms of the increment, with a floor so an
// all-zero increment still gets an absolute tolerance.
static inline double twin_inc_scale(const float *ref, const float *init, int64_t n) {
    double s = twin_rms_diff(ref, init, n);
    return s > 1e-6 ? s : 1e-6;
}

// Backward tests start their d-buffers at random values of the size of the
// increment the kernel adds (a missing or wrong accumulation then shows, and
// the rounding of init + increment stays small next to the increment's
// tolerance). init holds uniform [-1, 1] values; inc is the CPU twin's
// increment from zeros; init is scaled by rms(inc).
static inline void twin_scale_init(float *init, int64_t n, const float *inc) {
    double r = twin_rms(inc, n);
    for (int64_t i = 0; i < n; i++) init[i] = (float)(init[i] * r);
}

static inline void twin_copy(float *dst, const float *src, int64_t n) {
    if (n > 0) memcpy(dst, src, (size_t)n * sizeof(float));
}

static inline float *twin_host(int64_t n) { return (float *)calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

// Device copy of host (n floats); host NULL: poisoned with 0xFF bytes (NaN),
// so an element the kernel fails to write shows up as a failure.
static inline float *twin_upload(const float *host, int64_t n) {
    void *d = NULL;
    size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(float);
    if (silt_cuda_malloc(&d, bytes) != SILT_OK) {
        CHECK_MSG(0, "device alloc of %zu bytes: %s", bytes, silt_last_error());
        return NULL;
    }
    silt_status s = host && n > 0 ? silt_cuda_memcpy_h2d(d, host, (size_t)n * sizeof(float)) : silt_cuda_memset(d, 0xFF, bytes);
    if (s != SILT_OK) {
        CHECK_MSG(0, "upload: %s", silt_last_error());
        silt_cuda_free(d);
        return NULL;
    }
    return (float *)d;
}

// Waits for the device (so kernel faults surface here) and copies n floats back.
static inline int twin_download(float *host, const float *dev, int64_t n) {
    silt_status s = silt_cuda_sync();
    if (s == SILT_OK && n > 0) s = silt_cuda_memcpy_d2h(host, dev, (size_t)n * sizeof(float));
    CHECK_MSG(s == SILT_OK, "download: %s", silt_last_error());
    return s == SILT_OK;
}

// Overwrites a device buffer with host data (to reset a d-buffer).
static inline int twin_reset(float *dev, const float *host, int64_t n) {
    silt_status s = n > 0 ? silt_cuda_memcpy_h2d(dev, host, (size_t)n * sizeof(float)) : SILT_OK;
    CHECK_MSG(s == SILT_OK, "reset: %s", silt_last_error());
    return s == SILT_OK;
}

// Two runs of a deterministic kernel must agree bit for bit.
static inline int twin_same_bits(const char *what, const float *a, const float *b, int64_t n) {
    int64_t i = 0;
    while (i < n && memcmp(&a[i], &b[i], sizeof(float)) == 0) i++;
    CHECK_MSG(i == n, "%s: not deterministic: [%lld] %.9g vs %.9g", what, (long long)i, i < n ? a[i] : 0.0,
              i < n ? b[i] : 0.0);
    return i == n;
}

// The status must be `want` (an error-path check).
#undef TWIN_EXPECT
#define TWIN_EXPECT(want, expr)                                                                      \
    do {                                                                                             \
        silt_status s_ = (expr);                                                                     \
        CHECK_MSG(s_ == (want), "%s -> %d (%s), want %d", #expr, (int)s_, silt_last_error(), (int)(want)); \
    } while (0)

// A case's buffers, freed together: host (calloc) and device ones. `failed`
// is set when an allocation or upload failed (the case then stops).
enum { TWIN_POOL_MAX = 48 };
typedef struct {
    float *host[TWIN_POOL_MAX], *dev[TWIN_POOL_MAX];
    int nhost, ndev, failed;
} twin_pool;

static inline float *twin_h(twin_pool *P, int64_t n) {
    float *p = P->nhost < TWIN_POOL_MAX ? twin_host(n) : NULL;
    if (!p) {
        P->failed = 1;
        CHECK_MSG(0, "host alloc of %lld floats", (long long)n);
        return NULL;
    }
    P->host[P->nhost++] = p;
    return p;
}

// Host copy of src (n floats).
static inline float *twin_hcopy(twin_pool *P, const float *src, int64_t n) {
    float *p = twin_h(P, n);
    if (p && n > 0) memcpy(p, src, (size_t)n * sizeof(float));
    return p;
}

// Device copy of host (NULL: poisoned), see twin_upload.
static inline float *twin_d(twin_pool *P, const float *host, int64_t n) {
    float *d = P->ndev < TWIN_POOL_MAX ? twin_upload(host, n) : NULL;
    if (!d) {
        P->failed = 1;
        return NULL;
    }
    P->dev[P->ndev++] = d;
    return d;
}

static inline void twin_pool_free(twin_pool *P) {
    for (int i = 0; i < P->nhost; i++) free(P->host[i]);
    for (int i = 0; i < P->ndev; i++) silt_cuda_free(P->dev[i]);
    P->nhost = P->ndev = 0;
}

// Exits 77 (ctest SKIP) when no GPU is usable, else prints the device.
static inline int twin_start(void) {
    if (!silt_cuda_available()) {
        printf("SKIP: no GPU\n");
        return 0;
    }
    char desc[512];
    if (silt_cuda_describe(desc, sizeof desc) == SILT_OK) printf("device: %s\n", desc);
    return 1;
}

#endif
