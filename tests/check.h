// Minimal test harness: CHECK macros that count failures, a close-compare for
// float buffers that reports max abs/rel error and the share of the tolerance
// used, and a summary line "N passed, N failed" with a non-zero exit on any
// failure. Header-only; include once per test executable.
#ifndef SILT_TEST_CHECK_H
#define SILT_TEST_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int check_passed_, check_failed_;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (cond) check_passed_++;                                                    \
        else { check_failed_++; fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } \
    } while (0)

#define CHECK_MSG(cond, ...)                                                          \
    do {                                                                              \
        if (cond) check_passed_++;                                                    \
        else { check_failed_++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);  \
               fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); }                   \
    } while (0)

// Status-returning call must succeed.
#define CHECK_OK(expr)                                                                \
    do {                                                                              \
        int s_ = (int)(expr);                                                         \
        if (s_ == 0) check_passed_++;                                                 \
        else { check_failed_++; fprintf(stderr, "FAIL %s:%d: %s -> %d (%s)\n", __FILE__, __LINE__, #expr, s_, \
                                        silt_last_error()); } \
    } while (0)

// Pass when |a-b| <= atol + rtol*|b| elementwise (b is the reference).
// Prints max errors and the share of the tolerance used.
static inline int check_close_(const char *what, const float *a, const float *b, int64_t n, double rtol, double atol,
                               const char *file, int line) {
    double max_abs = 0, max_rel = 0, worst_share = 0;
    int64_t worst = -1, bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double lim = atol + rtol * fabs((double)b[i]);
        if (!(d <= lim)) bad++;  // NaN counts as bad
        double share = lim > 0 ? d / lim : (d > 0 ? INFINITY : 0);
        if (isnan(d)) share = INFINITY;
        if (share > worst_share || worst < 0) { worst_share = share; worst = i; }
        if (d > max_abs) max_abs = d;
        double rel = d / (fabs((double)b[i]) + 1e-30);
        if (b[i] != 0 && rel > max_rel) max_rel = rel;
    }
    if (bad == 0) {
        check_passed_++;
        if (getenv("CHECK_VERBOSE"))
            fprintf(stderr, "ok   %-40s n=%lld max_abs=%.3g max_rel=%.3g tol_used=%.0f%%\n", what, (long long)n, max_abs,
                    max_rel, 100 * worst_share);
        return 1;
    }
    check_failed_++;
    fprintf(stderr, "FAIL %s:%d: %s: %lld/%lld elements off, max_abs=%.3g max_rel=%.3g; worst [%lld] got %.8g want %.8g\n",
            file, line, what, (long long)bad, (long long)n, max_abs, max_rel, (long long)worst, worst >= 0 ? a[worst] : 0.0,
            worst >= 0 ? b[worst] : 0.0);
    return 0;
}
#define CHECK_CLOSE(what, a, b, n, rtol, atol) check_close_((what), (a), (b), (n), (rtol), (atol), __FILE__, __LINE__)

// Ends main(): prints the summary line ctest-independent tooling reads.
static inline int check_summary(void) {
    printf("%d passed, %d failed\n", check_passed_, check_failed_);
    return check_failed_ ? 1 : 0;
}

// Deterministic test data (xorshift), independent of the engine's RNG.
static uint64_t test_rng_state_ = 0x9e3779b97f4a7c15ull;
static inline void test_seed(uint64_t s) { test_rng_state_ = s * 0x9e3779b97f4a7c15ull + 1; }
static inline double test_uniform(void) {
    test_rng_state_ ^= test_rng_state_ << 13;
    test_rng_state_ ^= test_rng_state_ >> 7;
    test_rng_state_ ^= test_rng_state_ << 17;
    return (double)(test_rng_state_ >> 11) * (1.0 / 9007199254740992.0);
}
static inline void test_fill(float *x, int64_t n, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)test_uniform();
}

#endif
