// Elementwise ops: activations, scalar ops and broadcasting binary arithmetic.
// Forwards against plainly written double references (rtol 1e-5), backwards
// against finite differences (gradcheck.h defaults), plus error cases; the
// vectorizable exp (core/fastmath.h) against double exp.
#include <string.h>

#include "check.h"
#include "core/fastmath.h"
#include "core/ops_elementwise.h"
#include "gradcheck.h"

// --- references (double) ---------------------------------------------------------

static double ref_gelu(double x, int approximate) {
    if (approximate) return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    return 0.5 * x * (1 + erf(x / sqrt(2.0)));
}
static double ref_sigmoid(double x) { return 1 / (1 + exp(-x)); }

enum { R_GELU, R_GELU_TANH, R_SILU, R_TANH, R_SIGMOID, R_SCALE, R_ADD_SCALAR, R_COUNT };
static const char *r_names[R_COUNT] = {"gelu", "gelu_tanh", "silu", "tanh", "sigmoid", "scale", "add_scalar"};
static const float k_scalar = -1.75f;

static double ref_unary(int kind, double x) {
    switch (kind) {
    case R_GELU: return ref_gelu(x, 0);
    case R_GELU_TANH: return ref_gelu(x, 1);
    case R_SILU: return x * ref_sigmoid(x);
    case R_TANH: return tanh(x);
    case R_SIGMOID: return ref_sigmoid(x);
    case R_SCALE: return x * k_scalar;
    default: return x + k_scalar;
    }
}

static silt_tensor *run_unary(silt_graph *g, silt_tensor *x, int kind) {
    switch (kind) {
    case R_GELU: return silt_gelu(g, x, 0);
    case R_GELU_TANH: return silt_gelu(g, x, 1);
    case R_SILU: return silt_silu(g, x);
    case R_TANH: return silt_tanh(g, x);
    case R_SIGMOID: return silt_sigmoid(g, x);
    case R_SCALE: return silt_scale(g, x, k_scalar);
    default: return silt_add_scalar(g, x, k_scalar);
    }
}

static const int64_t shapes[][4] = {{7, 0, 0, 0}, {3, 5, 0, 0}, {2, 3, 7, 0}, {2, 3, 5, 7}, {1, 1, 1, 1}};

static int ndim_of(const int64_t *s) {
    int n = 0;
    while (n < 4 && s[n]) n++;
    return n;
}

static void test_unary_forward(void) {
    silt_graph *g = silt_graph_create(0);
    silt_graph_set_grad(g, false);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        silt_tensor *x = silt_tensor_create_f32(ndim_of(shapes[si]), shapes[si], false);
        int64_t n = silt_numel(x);
        test_fill(silt_f32(x), n, -6, 6);
        float *want = malloc((size_t)n * sizeof(float));
        for (int k = 0; k < R_COUNT; k++) {
            silt_tensor *y = run_unary(g, x, k);
            CHECK(y && silt_same_shape(x, y));
            if (!y) continue;
            for (int64_t i = 0; i < n; i++) want[i] = (float)ref_unary(k, silt_f32(x)[i]);
            CHECK_CLOSE(r_names[k], silt_f32(y), want, n, 1e-5, 1e-6);
        }
        free(want);
        silt_tensor_free(x);
        silt_graph_reset(g);
    }
    // Known values: gelu(1) = Phi(1) = 0.841344746..., tanh form 0.841191990...
    int64_t one = 1;
    silt_tensor *x = silt_tensor_create_f32(1, &one, false);
    silt_f32(x)[0] = 1.0f;
    silt_tensor *a = silt_gelu(g, x, 0), *b = silt_gelu(g, x, 1);
    CHECK(a && fabsf(silt_f32(a)[0] - 0.8413447461f) < 1e-6f);
    CHECK(b && fabsf(silt_f32(b)[0] - 0.8411919906f) < 1e-6f);
    // Saturated inputs stay finite (stable sigmoid / silu).
    silt_f32(x)[0] = -200.0f;
    silt_tensor *s = silt_sigmoid(g, x), *u = silt_silu(g, x);
    CHECK(s && silt_f32(s)[0] == 0.0f && u && isfinite(silt_f32(u)[0]) && fabsf(silt_f32(u)[0]) < 1e-30f);
    silt_tensor_free(x);
    silt_graph_free(g);
}

static silt_tensor *gc_unary(silt_graph *g, silt_tensor **in, void *user) { return run_unary(g, in[0], *(int *)user); }

// u(x) * u(x): both factors' backward accumulate into one x grad.
static silt_tensor *gc_unary_twice(silt_graph *g, silt_tensor **in, void *user) {
    int k = *(int *)user;
    return silt_mul(g, run_unary(g, in[0], k), run_unary(g, in[0], k));
}

static void test_unary_backward(void) {
    int64_t shape[3] = {3, 4, 5};
    silt_tensor *x = silt_tensor_create_f32(3, shape, true);
    test_fill(silt_f32(x), silt_numel(x), -4, 4);
    for (int k = 0; k < R_COUNT; k++) {
        gradcheck_run(r_names[k], gc_unary, &x, 1, &k, gradcheck_default());
        char what[48];
        snprintf(what, sizeof what, "%s(x) * %s(x)", r_names[k], r_names[k]);
        gradcheck_run(what, gc_unary_twice, &x, 1, &k, gradcheck_default());
    }
    silt_tensor_free(x);
}

// --- broadcasting -----------------------------------------------------------------

typedef struct {
    int na, nb;
    int64_t sa[4], sb[4];
} bcase;

static const bcase bcases[] = {
    {3, 1, {2, 3, 4}, {4}},
    {3, 3, {2, 1, 4}, {1, 3, 1}},
    {1, 1, {5}, {1}},
    {1, 2, {1}, {2, 3}},
    {3, 3, {3, 5, 7}, {3, 5, 7}},
    {4, 3, {3, 1, 5, 1}, {4, 1, 6}},
    {2, 4, {5, 1}, {2, 1, 1, 3}},
    {4, 4, {2, 3, 4, 5}, {2, 1, 4, 1}},
};

static double ref_binop(double a, double b, silt_binop op) {
    switch (op) {
    case SILT_BINOP_ADD: return a + b;
    case SILT_BINOP_SUB: return a - b;
    case SILT_BINOP_MUL: return a * b;
    default: return a / b;
    }
}

// Reference broadcast: pad both shapes with leading 1s, an input's index on a
// dim is 0 where it has size 1, else the output's index.
static void ref_broadcast(float *out, const float *a, const int64_t *sa0, int na, const float *b, const int64_t *sb0,
                          int nb, silt_binop op, int64_t so[4]) {
    int64_t sa[4], sb[4];
    for (int d = 0; d < 4; d++) {
        sa[d] = d < 4 - na ? 1 : sa0[d - (4 - na)];
        sb[d] = d < 4 - nb ? 1 : sb0[d - (4 - nb)];
        so[d] = sa[d] > sb[d] ? sa[d] : sb[d];
    }
    int64_t o = 0;
    for (int64_t i0 = 0; i0 < so[0]; i0++)
        for (int64_t i1 = 0; i1 < so[1]; i1++)
            for (int64_t i2 = 0; i2 < so[2]; i2++)
                for (int64_t i3 = 0; i3 < so[3]; i3++) {
                    int64_t ia = (((sa[0] == 1 ? 0 : i0) * sa[1] + (sa[1] == 1 ? 0 : i1)) * sa[2] + (sa[2] == 1 ? 0 : i2)) * sa[3] +
                                 (sa[3] == 1 ? 0 : i3);
                    int64_t ib = (((sb[0] == 1 ? 0 : i0) * sb[1] + (sb[1] == 1 ? 0 : i1)) * sb[2] + (sb[2] == 1 ? 0 : i2)) * sb[3] +
                                 (sb[3] == 1 ? 0 : i3);
                    out[o++] = (float)ref_binop(a[ia], b[ib], op);
                }
}

static void test_binary_forward(void) {
    silt_graph *g = silt_graph_create(0);
    for (size_t c = 0; c < sizeof bcases / sizeof bcases[0]; c++) {
        const bcase *bc = &bcases[c];
        silt_tensor *a = silt_tensor_create_f32(bc->na, bc->sa, false), *b = silt_tensor_create_f32(bc->nb, bc->sb, false);
        test_fill(silt_f32(a), silt_numel(a), -2, 2);
        test_fill(silt_f32(b), silt_numel(b), 0.5f, 2);  // away from 0 for div
        for (int op = 0; op < SILT_BINOP_COUNT; op++) {
            silt_tensor *y = silt_binary(g, a, b, (silt_binop)op);
            CHECK_MSG(y != NULL, "case %zu %s failed: %s", c, silt_binop_name((silt_binop)op), silt_last_error());
            if (!y) continue;
            int64_t so[4];
            float *want = malloc((size_t)silt_numel(y) * sizeof(float));
            ref_broadcast(want, silt_f32(a), bc->sa, bc->na, silt_f32(b), bc->sb, bc->nb, (silt_binop)op, so);
            int nd = bc->na > bc->nb ? bc->na : bc->nb;
            CHECK(y->ndim == nd);
            for (int d = 0; d < nd; d++) CHECK(y->shape[d] == so[4 - nd + d]);
            char what[64];
            snprintf(what, sizeof what, "broadcast case %zu %s", c, silt_binop_name((silt_binop)op));
            CHECK_CLOSE(what, silt_f32(y), want, silt_numel(y), 1e-6, 0);
            free(want);
        }
        silt_graph_reset(g);
        silt_tensor_free(a);
        silt_tensor_free(b);
    }
    silt_graph_free(g);
}

typedef struct {
    silt_binop op;
    int same;  // use inputs[0] for both sides
} bin_user;

static silt_tensor *gc_binary(silt_graph *g, silt_tensor **in, void *user) {
    bin_user *u = user;
    return silt_binary(g, in[0], u->same ? in[0] : in[1], u->op);
}

static void test_binary_backward(void) {
    for (size_t c = 0; c < sizeof bcases / sizeof bcases[0]; c++) {
        const bcase *bc = &bcases[c];
        silt_tensor *in[2] = {silt_tensor_create_f32(bc->na, bc->sa, true), silt_tensor_create_f32(bc->nb, bc->sb, true)};
        test_fill(silt_f32(in[0]), silt_numel(in[0]), -2, 2);
        test_fill(silt_f32(in[1]), silt_numel(in[1]), 0.5f, 2);
        for (int op = 0; op < SILT_BINOP_COUNT; op++) {
            bin_user u = {(silt_binop)op, 0};
            char what[64];
            snprintf(what, sizeof what, "broadcast case %zu %s", c, silt_binop_name((silt_binop)op));
            gradcheck_run(what, gc_binary, in, 2, &u, gradcheck_default());
        }
        silt_tensor_free(in[0]);
        silt_tensor_free(in[1]);
    }
    // One side without grad, and x op x (both sides share one grad buffer).
    int64_t s[2] = {3, 4}, s1[1] = {4};
    silt_tensor *in[2] = {silt_tensor_create_f32(2, s, true), silt_tensor_create_f32(1, s1, false)};
    test_fill(silt_f32(in[0]), 12, 0.5f, 2);
    test_fill(silt_f32(in[1]), 4, 0.5f, 2);
    for (int op = 0; op < SILT_BINOP_COUNT; op++) {
        bin_user u = {(silt_binop)op, 0};
        gradcheck_run("b without grad", gc_binary, in, 2, &u, gradcheck_default());
        u.same = 1;
        gradcheck_run("x op x", gc_binary, in, 1, &u, gradcheck_default());
    }
    silt_tensor_free(in[0]);
    silt_tensor_free(in[1]);
}

// Exact accumulation: x * x gives d/dx = 2x (the shared-buffer case), and a
// (1) + (5) broadcast gives the scalar's grad as the sum of the seed.
static void test_binary_grad_values(void) {
    int64_t s5 = 5, s1 = 1;
    silt_tensor *x = silt_tensor_create_f32(1, &s5, true), *c = silt_tensor_create_f32(1, &s1, true);
    for (int i = 0; i < 5; i++) silt_f32(x)[i] = (float)i - 1.5f;
    silt_f32(c)[0] = 3;
    silt_graph *g = silt_graph_create(0);
    silt_tensor *y = silt_add(g, silt_mul(g, x, x), c);
    float seed[5] = {1, 2, 3, 4, 5};
    CHECK_OK(silt_backward(g, y, seed));
    for (int i = 0; i < 5; i++) CHECK(x->grad[i] == seed[i] * 2 * silt_f32(x)[i]);
    CHECK(c->grad[0] == 15);
    silt_graph_free(g);
    silt_tensor_free(x);
    silt_tensor_free(c);
}

static void test_errors(void) {
    silt_graph *g = silt_graph_create(0);
    int64_t s23[2] = {2, 3}, s4[1] = {4}, s3[1] = {3};
    silt_tensor *a = silt_tensor_create_f32(2, s23, false), *b = silt_tensor_create_f32(1, s4, false);
    CHECK(silt_add(g, a, b) == NULL);
    CHECK(silt_graph_status(g) == SILT_ERR_SHAPE);
    CHECK(strstr(silt_last_error(), "(2, 3)") && strstr(silt_last_error(), "(4)"));
    // NULL in, NULL out; the first failure is kept.
    CHECK(silt_gelu(g, NULL, 0) == NULL && silt_mul(g, NULL, a) == NULL && silt_tanh(g, silt_add(g, a, b)) == NULL);
    CHECK(silt_graph_status(g) == SILT_ERR_SHAPE);
    silt_graph_reset(g);
    CHECK(silt_gelu(g, a, 2) == NULL && silt_graph_status(g) == SILT_ERR_ARG);
    silt_graph_reset(g);
    silt_tensor *i32 = silt_tensor_create(SILT_I32, 1, s3, false);
    CHECK(silt_silu(g, i32) == NULL && silt_graph_status(g) == SILT_ERR_UNSUPPORTED);
    silt_graph_reset(g);
    // (2,3) * (3) broadcasts fine; no input requires grad so nothing is taped.
    silt_tensor *c = silt_tensor_create_f32(1, s3, false);
    silt_tensor *y = silt_mul(g, a, c);
    CHECK(y && !y->requires_grad && silt_graph_tape_length(g) == 0);
    silt_binop op;
    CHECK(silt_binop_from_name("div", &op) == SILT_OK && op == SILT_BINOP_DIV);
    CHECK(silt_binop_from_name("pow", &op) == SILT_ERR_ARG);
    CHECK(strcmp(silt_binop_name(SILT_BINOP_SUB), "sub") == 0);
    silt_tensor_free(a);
    silt_tensor_free(b);
    silt_tensor_free(c);
    silt_tensor_free(i32);
    silt_graph_free(g);
}

// Large enough to take the OpenMP paths; compared with the small-path answer.
static void test_parallel_paths(void) {
    int64_t sa[2] = {300, 257}, sb[1] = {257};
    silt_tensor *a = silt_tensor_create_f32(2, sa, true), *b = silt_tensor_create_f32(1, sb, true);
    test_fill(silt_f32(a), silt_numel(a), -3, 3);
    test_fill(silt_f32(b), 257, 0.5f, 2);
    silt_graph *g = silt_graph_create(0);
    silt_tensor *y = silt_mul(g, silt_gelu(g, a, 0), b);
    int64_t n = silt_numel(y);
    float *seed = malloc((size_t)n * sizeof(float)), *want_a = calloc((size_t)n, sizeof(float));
    double *want_b = calloc(257, sizeof(double));
    test_fill(seed, n, -1, 1);
    CHECK_OK(silt_backward(g, y, seed));
    for (int64_t i = 0; i < n; i++) {
        double x = silt_f32(a)[i], bv = silt_f32(b)[i % 257];
        double dg = 0.5 * (1 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2 * M_PI);
        want_a[i] = (float)(seed[i] * bv * dg);
        want_b[i % 257] += seed[i] * ref_gelu(x, 0);
    }
    float wb[257];
    for (int j = 0; j < 257; j++) wb[j] = (float)want_b[j];
    CHECK_CLOSE("large gelu*b grad a", a->grad, want_a, n, 1e-5, 1e-6);
    CHECK_CLOSE("large gelu*b grad b", b->grad, wb, 257, 1e-4, 1e-5);
    free(seed);
    free(want_a);
    free(want_b);
    silt_graph_free(g);
    silt_tensor_free(a);
    silt_tensor_free(b);
}

// silt_expf (core/fastmath.h) against double exp: relative error under 2e-7
// wherever exp(x) is a normal float, on a grid of 2M points over [-87.3, 88.72]
// plus its edges (subnormals, inf above 88.7228, 0 below -104, NaN through); and the
// vectorized loops (GELU tanh, SiLU, sigmoid) at the extremes: no NaN, right
// limits.
static void test_fast_exp(void) {
    double worst = 0, worst_x = 0;
    const int n = 2000000;
    for (int i = 0; i <= n; i++) {
        float x = (float)(-87.3 + (88.72 + 87.3) * i / n);
        double want = exp((double)x), got = silt_expf(x);
        double rel = fabs(got - want) / want;
        if (rel > worst) worst = rel, worst_x = x;
    }
    CHECK_MSG(worst < 2e-7, "silt_expf: worst relative error %.3g at x = %.9g", worst, worst_x);
    // around 0 (the reduction's r = x there) and at the n boundaries
    for (float x = -1.0f; x <= 1.0f; x += 1.0f / 4096) {
        double want = exp((double)x);
        if (fabs(silt_expf(x) - want) / want >= 2e-7) CHECK_MSG(0, "silt_expf(%.9g) off", x);
    }
    CHECK(silt_expf(0.0f) == 1.0f);
    CHECK(isinf(silt_expf(88.8f)) && isinf(silt_expf(1e30f)) && isinf(silt_expf(INFINITY)));
    CHECK(silt_expf(-105.0f) == 0.0f && silt_expf(-1e30f) == 0.0f && silt_expf(-INFINITY) == 0.0f);
    for (float x = -103.0f; x < -87.4f; x += 0.37f) {  // subnormal results: within one unit of the last place
        double want = exp((double)x), got = silt_expf(x);
        if (fabs(got - want) > 1.5e-45) CHECK_MSG(0, "silt_expf(%.9g) = %g, exp = %g", x, got, want);
    }
    CHECK(isnan(silt_expf(NAN)));
    CHECK(fabs(silt_expf(88.72f) / exp((double)88.72f) - 1) < 2e-7);  // the largest finite results
    CHECK(fabs(silt_sigmoidf(-100.0f)) < 1e-38f && silt_sigmoidf(100.0f) == 1.0f && silt_sigmoidf(0.0f) == 0.5f);

    enum { N = 9 };
    float x[N] = {-1e30f, -200.0f, -90.0f, -20.0f, 0.0f, 20.0f, 90.0f, 200.0f, 1e30f}, y[N], d[N], one[N];
    for (int i = 0; i < N; i++) one[i] = 1.0f;
    gelu_fwd_cpu(y, x, N, 1);
    for (int i = 0; i < N; i++) {
        CHECK_MSG(!isnan(y[i]), "gelu_tanh(%g) is NaN", x[i]);
        float want = x[i] > 0 ? x[i] : 0.0f;  // the limits: x for x >> 0, 0 for x << 0
        if (fabsf(x[i]) >= 20) CHECK_MSG(y[i] == want, "gelu_tanh(%g) = %g", x[i], y[i]);
    }
    memset(d, 0, sizeof d);
    gelu_bwd_cpu(d, one, x, N, 1);
    for (int i = 0; i < N; i++)
        if (fabsf(x[i]) >= 20 && fabsf(x[i]) < 1e10f) CHECK_MSG(d[i] == (x[i] > 0 ? 1.0f : 0.0f), "gelu_tanh'(%g) = %g", x[i], d[i]);
    silu_fwd_cpu(y, x, N);
    for (int i = 0; i < N; i++) {
        CHECK_MSG(!isnan(y[i]), "silu(%g) is NaN", x[i]);
        if (fabsf(x[i]) >= 90) CHECK_MSG(x[i] > 0 ? y[i] == x[i] : fabsf(y[i]) < 1e-36f, "silu(%g) = %g", x[i], y[i]);
    }
    float nan_in = NAN, nan_out = 0;
    gelu_fwd_cpu(&nan_out, &nan_in, 1, 1);
    CHECK(isnan(nan_out));
    silu_fwd_cpu(&nan_out, &nan_in, 1);
    CHECK(isnan(nan_out));
}

int main(void) {
    test_seed(1);
    test_unary_forward();
    test_unary_backward();
    test_binary_forward();
    test_binary_backward();
    test_binary_grad_values();
    test_errors();
    test_parallel_paths();
    test_fast_exp();
    return check_summary();
}
