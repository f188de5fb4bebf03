// Test helpers shared by the op tests of this family: float <-> double copies
// and a directional derivative check against a double-precision reference.
//
// Why a directional check next to gradcheck.h: gradcheck perturbs f32 inputs,
// so its noise grows with |L| and large shapes (the ones that take the OpenMP
// paths) need loose tolerances. Here the reference forward runs in double, so
// the central difference along a random direction v is exact to ~1e-9 and
// <grad, v> from the float backward can be held to ~1e-4 relative.
#ifndef SILT_TEST_UNIT_DIRCHECK_H
#define SILT_TEST_UNIT_DIRCHECK_H

#include <stdlib.h>

#include "check.h"

static inline double *to_d(const float *x, int64_t n) {
    double *d = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
    for (int64_t i = 0; i < n; i++) d[i] = x ? x[i] : 0.0;
    return d;
}

static inline float *new_f(int64_t n, float lo, float hi) {
    float *f = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    test_fill(f, n, lo, hi);
    return f;
}

static inline float *to_f(const double *x, int64_t n) {
    float *f = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) f[i] = (float)x[i];
    return f;
}

// Reference forward in double: out (n_out) from inputs in[0..n_in).
typedef void (*dref_fn)(double *out, double *const *in, void *user);

// For input `which` (n elements, values x): compares sum(grad * v) with
// (L(x + h v) - L(x - h v)) / 2h, L = sum(R * ref(x)), for a random v.
static inline void dircheck(const char *name, dref_fn f, double *const *in, int which, int64_t n, int64_t n_out,
                            const float *R, const float *grad, void *user, double tol) {
    double *v = malloc((size_t)n * sizeof(double)), *saved = malloc((size_t)n * sizeof(double));
    double *out = malloc((size_t)n_out * sizeof(double));
    for (int64_t i = 0; i < n; i++) { v[i] = 2 * test_uniform() - 1; saved[i] = in[which][i]; }
    const double h = 1e-5;
    double L[2];
    for (int s = 0; s < 2; s++) {
        for (int64_t i = 0; i < n; i++) in[which][i] = saved[i] + (s ? -h : h) * v[i];
        f(out, in, user);
        L[s] = 0;
        for (int64_t i = 0; i < n_out; i++) L[s] += out[i] * R[i];
    }
    for (int64_t i = 0; i < n; i++) in[which][i] = saved[i];
    double numeric = (L[0] - L[1]) / (2 * h), analytic = 0, mag = 0;
    for (int64_t i = 0; i < n; i++) { analytic += grad[i] * v[i]; mag += fabs(grad[i] * v[i]); }
    // Scale by the sum of magnitudes: cancellation in <grad, v> must not make
    // the check stricter than float accumulation allows.
    double err = fabs(analytic - numeric) / (1e-6 + mag);
    CHECK_MSG(err <= tol, "%s: directional grad of input %d: analytic %.9g numeric %.9g (err %.3g > %.3g)", name, which,
              analytic, numeric, err, tol);
    if (err <= tol && getenv("CHECK_VERBOSE"))
        fprintf(stderr, "ok   dir %-35s input %d err %.3g (tol %.3g)\n", name, which, err, tol);
    free(v);
    free(saved);
    free(out);
}

#endif
