// Finite-difference gradient check for tensor-level ops (core/graph.h).
//
// The checked function builds an output from its inputs on a graph. The
// harness seeds backward with a fixed random R, so the implied loss is
// L = sum(out * R), and compares each input's analytic grad with the central
// difference (L(x+h) - L(x-h)) / 2h, accumulated in double. Inputs are f32, so
// the difference carries rounding noise of about eps_f32 * |L| / h: the
// default h = 1e-3 and tolerance |a - n| <= tol * (1 + |n|) with tol = 1e-2
// are chosen for that (stated per test where changed). At most `max_probe`
// elements per input are probed (spread evenly) to keep tests fast.
#ifndef SILT_TEST_GRADCHECK_H
#define SILT_TEST_GRADCHECK_H

#include <string.h>

#include "check.h"
#include "core/graph.h"

typedef silt_tensor *(*gradcheck_fn)(silt_graph *g, silt_tensor **inputs, void *user);

typedef struct gradcheck_opts {
    double h, tol;
    int max_probe;
} gradcheck_opts;

static inline gradcheck_opts gradcheck_default(void) { return (gradcheck_opts){1e-3, 1e-2, 48}; }

static inline double gc_loss_(silt_graph *g, gradcheck_fn f, silt_tensor **in, void *user, const float *R, int64_t *n_out) {
    silt_graph_reset(g);
    silt_graph_set_grad(g, false);
    silt_tensor *out = f(g, in, user);
    silt_graph_set_grad(g, true);
    if (!out) return NAN;
    int64_t n = silt_numel(out);
    if (n_out) *n_out = n;
    double L = 0;
    if (R)
        for (int64_t i = 0; i < n; i++) L += (double)silt_f32(out)[i] * R[i];
    return L;
}

// inputs[i] must be owned tensors (silt_tensor_create); those with
// requires_grad are checked. Returns 1 on pass.
static inline int gradcheck_run(const char *name, gradcheck_fn f, silt_tensor **inputs, int n_in, void *user,
                                gradcheck_opts o) {
    silt_graph *g = silt_graph_create(0);
    int64_t n_out = 0;
    gc_loss_(g, f, inputs, user, NULL, &n_out);
    if (n_out <= 0) { CHECK_MSG(0, "%s: forward failed: %s", name, silt_last_error()); silt_graph_free(g); return 0; }
    float *R = malloc((size_t)n_out * sizeof(float));
    for (int64_t i = 0; i < n_out; i++) R[i] = (float)(2 * test_uniform() - 1);

    for (int i = 0; i < n_in; i++) silt_tensor_zero_grad(inputs[i]);
    silt_graph_reset(g);
    silt_tensor *out = f(g, inputs, user);
    int ok = 1;
    if (!out || silt_backward(g, out, R) != SILT_OK) {
        CHECK_MSG(0, "%s: backward failed: %s", name, silt_last_error());
        ok = 0;
    }
    for (int i = 0; ok && i < n_in; i++) {
        silt_tensor *x = inputs[i];
        if (!x->requires_grad) continue;
        int64_t n = silt_numel(x);
        float *analytic = malloc((size_t)n * sizeof(float));
        memcpy(analytic, x->grad, (size_t)n * sizeof(float));
        int64_t step = n > o.max_probe ? n / o.max_probe : 1;
        double worst = 0;
        int64_t worst_j = -1;
        double worst_a = 0, worst_n = 0;
        for (int64_t j = 0; j < n; j += step) {
            float *xj = silt_f32(x) + j, saved = *xj;
            *xj = saved + (float)o.h;
            double lp = gc_loss_(g, f, inputs, user, R, NULL);
            *xj = saved - (float)o.h;
            double lm = gc_loss_(g, f, inputs, user, R, NULL);
            *xj = saved;
            double numeric = (lp - lm) / (2 * o.h), a = analytic[j];
            double err = fabs(a - numeric) / (1 + fabs(numeric));
            if (!(err <= worst) || worst_j < 0) { worst = err; worst_j = j; worst_a = a; worst_n = numeric; }
        }
        CHECK_MSG(worst <= o.tol, "%s: grad of input %d off at [%lld]: analytic %.6g numeric %.6g (err %.3g > tol %.3g)",
                  name, i, (long long)worst_j, worst_a, worst_n, worst, o.tol);
        if (worst > o.tol) ok = 0;
        else if (getenv("CHECK_VERBOSE"))
            fprintf(stderr, "ok   grad %-34s input %d worst err %.3g (tol %.3g)\n", name, i, worst, o.tol);
        free(analytic);
    }
    free(R);
    silt_graph_free(g);
    return ok;
}

#endif
