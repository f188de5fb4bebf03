// Helpers shared by the CUDA twin tests (tests/gpu/test_cuda_*.c): device
// buffers from host data, a synchronising download, and the scale-aware
// comparison of test_cuda_twins.c. An element passes when
//     |got - ref| <= rtol * (|ref| + scale)
// where `scale` is the typical size of the quantity (a pure relative test is
// meaningless for outputs that cancel to near zero). Each case prints max
// abs error, max |got-ref| / (|ref| + scale) and the share of the tolerance
// used; infinities must match exactly (same sign), NaN never passes.
// Header-only; include once per test executable, after check.h.
#ifndef SILT_TEST_TWIN_UTIL_H
#define SILT_TEST_TWIN_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/status.h"
#include "core/tensor.h"
#include "cuda/cuda.h"

static int twin_quiet;  // print passing cases? (failures always print)

static inline int twin_compare(const char *what, const float *got, const float *ref, int64_t n, double rtol, double scale) {
    double max_abs = 0, max_rel = 0;
    int64_t bad = 0, worst = 0, exact = 0;
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], r = ref[i], d, rel;
        if (isinf(r) || isinf(g)) {
            d = g == r ? 0 : INFINITY;
            rel = d;
        } else {
            d = fabs(g - r);
            rel = d == 0 ? 0 : d / (fabs(r) + scale);  // 0 vs 0 with scale 0 (a zero loss) is exact, not 0/0
        }
        if (isnan(d) || isnan(rel)) rel = INFINITY;
        if (!(rel <= rtol)) bad++;
        if (memcmp(&got[i], &ref[i], sizeof(float)) == 0) exact++;
        if (rel > max_rel || i == 0) {
            max_rel = rel;
            worst = i;
        }
        if (d > max_abs) max_abs = d;
    }
    double share = max_rel / rtol;
    if (!bad && !twin_quiet)
        printf("ok   %-58s max_abs %.2e max_rel %.2e tol_used %5.1f%% bit-exact %5.1f%%\n", what, max_abs, max_rel,
               100 * share, n ? 100.0 * (double)exact / (double)n : 100.0);
    CHECK_MSG(bad == 0, "%s: %lld/%lld off, max_abs %.3g max_rel %.3g (tol %.0e, %.0f%% used); [%lld] got %.8g want %.8g",
              what, (long long)bad, (long long)n, max_abs, max_rel, rtol, 100 * share, (long long)worst,
              n ? got[worst] : 0.0, n ? ref[worst] : 0.0);
    return bad == 0;
}

// Bitwise equality (copies, index math that must be exact, determinism).
static inline int twin_same_bits(const char *what, const void *got, const void *ref, size_t bytes) {
    int same = bytes == 0 || memcmp(got, ref, bytes) == 0;
    if (same && !twin_quiet) printf("ok   %-58s bit-identical (%zu bytes)\n", what, bytes);
    CHECK_MSG(same, "%s: not bit-identical", what);
    return same;
}

static inline double twin_rms(const float *x, int64_t n) {
    double s = 0;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i])) {
            s += (double)x[i] * x[i];
            k++;
        }
    return k ? sqrt(s / (double)k) : 0;
}

// Device buffer holding `bytes` from host (zeroed when host is NULL); NULL
// (and a failed check) on error. bytes == 0 still gives a valid 4-byte buffer.
static inline void *twin_upload(const void *host, size_t bytes) {
    void *d = NULL;
    size_t alloc = bytes ? bytes : 4;
    if (silt_cuda_malloc(&d, alloc) != SILT_OK) {
        CHECK_MSG(0, "device alloc of %zu bytes: %s", alloc, silt_last_error());
        return NULL;
    }
    silt_status s = host && bytes ? silt_cuda_memcpy_h2d(d, host, bytes) : silt_cuda_memset(d, 0, alloc);
    if (s != SILT_OK) {
        CHECK_MSG(0, "upload: %s", silt_last_error());
        silt_cuda_free(d);
        return NULL;
    }
    return d;
}

// Synchronises (surfacing kernel faults), then copies back.
static inline int twin_download(void *host, const void *dev, size_t bytes) {
    silt_status s = silt_cuda_sync();
    if (s == SILT_OK) s = silt_cuda_memcpy_d2h(host, dev, bytes);
    CHECK_MSG(s == SILT_OK, "download: %s", silt_last_error());
    return s == SILT_OK;
}

static inline float *twin_host(int64_t n) { return (float *)calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

// Fills a device output with NaN first, so an element the kernel never
// writes cannot pass by accident.
static inline void twin_poison(void *dev, size_t bytes) {
    if (dev && bytes) CHECK_OK(silt_cuda_memset(dev, 0xff, bytes));  // 0xffffffff is a NaN
}

// ||got - ref|| / ||ref|| (the norm-wise error of a whole output).
static inline double twin_norm_rel(const float *got, const float *ref, int64_t n) {
    double d2 = 0, r2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)got[i] - ref[i];
        d2 += d * d;
        r2 += (double)ref[i] * ref[i];
    }
    return sqrt(d2 / (r2 > 0 ? r2 : 1));
}

// The status must be `want` (an error-path check; as tests/gpu/twin.h).
#ifndef TWIN_EXPECT
#define TWIN_EXPECT(want, expr)                                                                          \
    do {                                                                                                 \
        silt_status s_ = (expr);                                                                         \
        CHECK_MSG(s_ == (want), "%s -> %d (%s), want %d", #expr, (int)s_, silt_last_error(), (int)(want)); \
    } while (0)
#endif

// Model-level check of a cuda output against the cpu one: the relative L2
// error ||got - ref|| / ||ref|| below `limit` (one "ok" line with the share
// of the limit used), all values finite, then twin_compare per element with
// rtol `elem` and the output's rms as the scale.
static inline void twin_compare_rel_l2(const char *what, const float *got, const float *ref, int64_t n, double limit,
                                       double elem) {
    CHECK_MSG(got && ref, "%s: missing output (%s)", what, silt_last_error());
    if (!got || !ref) return;
    double d2 = 0, r2 = 0;
    int finite = 1;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(got[i])) finite = 0;
        double d = (double)got[i] - ref[i];
        d2 += d * d;
        r2 += (double)ref[i] * ref[i];
    }
    double rel = r2 > 0 ? sqrt(d2 / r2) : sqrt(d2);
    CHECK_MSG(finite, "%s: non-finite values in the cuda output", what);
    CHECK_MSG(rel < limit, "%s: ||cuda - cpu|| / ||cpu|| = %.3g (limit %.0e)", what, rel, limit);
    if (finite && rel < limit) printf("ok   %-58s rel_l2 %.2e (%4.1f%% of the limit)\n", what, rel, 100 * rel / limit);
    twin_compare(what, got, ref, n, elem, twin_rms(ref, n));
}

// Host copy of a graph tensor's data (device or host); NULL on failure.
static inline float *twin_fetch(const silt_tensor *t) {
    if (!t) return NULL;
    int64_t n = silt_numel(t);
    float *h = twin_host(n);
    if (t->device == SILT_CPU) memcpy(h, t->data, sizeof(float) * (size_t)n);
    else if (!twin_download(h, t->data, sizeof(float) * (size_t)n)) {
        free(h);
        return NULL;
    }
    return h;
}

#endif
