// Reductions and the MSE loss: forwards against double references (rtol
// 1e-6: the op sums in double too, only the final rounding differs), output
// shapes for every dim / keepdim, double accumulation, backwards against
// finite differences, and error cases.
#include <string.h>

#include "check.h"
#include "core/ops_reduce.h"
#include "gradcheck.h"

static silt_tensor *rand_tensor(int nd, const int64_t *shape, bool rg) {
    silt_tensor *t = silt_tensor_create_f32(nd, shape, rg);
    test_fill(silt_f32(t), silt_numel(t), -1, 1);
    return t;
}

static const int64_t shapes[][4] = {{7, 0, 0, 0}, {3, 5, 0, 0}, {2, 3, 7, 0}, {2, 3, 5, 7}, {1, 4, 1, 3}};

static int ndim_of(const int64_t *s) {
    int n = 0;
    while (n < 4 && s[n]) n++;
    return n;
}

static void test_full(void) {
    silt_graph *g = silt_graph_create(0);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        silt_tensor *x = rand_tensor(ndim_of(shapes[si]), shapes[si], false);
        int64_t n = silt_numel(x);
        double s = 0;
        for (int64_t i = 0; i < n; i++) s += silt_f32(x)[i];
        float want_s = (float)s, want_m = (float)(s / n);
        silt_tensor *ys = silt_sum(g, x), *ym = silt_mean(g, x);
        CHECK(ys && ym && ys->ndim == 1 && ys->shape[0] == 1 && ym->ndim == 1 && ym->shape[0] == 1);
        if (ys && ym) {
            CHECK_CLOSE("sum", silt_f32(ys), &want_s, 1, 1e-6, 1e-7);
            CHECK_CLOSE("mean", silt_f32(ym), &want_m, 1, 1e-6, 1e-7);
        }
        silt_tensor_free(x);
        silt_graph_reset(g);
    }
    // Double accumulation: 1e8 followed by 1000 ones. A float running sum
    // stays at 1e8 (float spacing there is 8); the exact 100001000 is a float.
    int64_t n = 1001;
    silt_tensor *x = silt_tensor_create_f32(1, &n, false);
    silt_f32(x)[0] = 1e8f;
    for (int i = 1; i < 1001; i++) silt_f32(x)[i] = 1.0f;
    silt_tensor *ys = silt_sum(g, x), *ym = silt_mean(g, x);
    CHECK(ys && silt_f32(ys)[0] == 100001000.0f);
    CHECK(ym && silt_f32(ym)[0] == (float)(100001000.0 / 1001));
    silt_tensor_free(x);
    // Large (parallel chunks) against a serial double sum; twice the same bits.
    int64_t big = 300001;
    x = rand_tensor(1, &big, false);
    double s = 0;
    for (int64_t i = 0; i < big; i++) s += silt_f32(x)[i];
    float want = (float)s;
    silt_tensor *a = silt_sum(g, x), *b = silt_sum(g, x);
    CHECK(a && b && silt_f32(a)[0] == silt_f32(b)[0]);
    if (a) CHECK_CLOSE("large sum", silt_f32(a), &want, 1, 1e-6, 1e-6);
    silt_tensor_free(x);
    silt_graph_free(g);
}

static void test_dim(void) {
    silt_graph *g = silt_graph_create(0);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int nd = ndim_of(shapes[si]);
        silt_tensor *x = rand_tensor(nd, shapes[si], false);
        for (int dim = -nd; dim < nd; dim++)
            for (int keep = 0; keep < 2; keep++)
                for (int mean = 0; mean < 2; mean++) {
                    int d = dim < 0 ? dim + nd : dim;
                    silt_tensor *y = mean ? silt_mean_dim(g, x, dim, keep) : silt_sum_dim(g, x, dim, keep);
                    CHECK(y != NULL);
                    if (!y) continue;
                    // Shape: dim removed (kept as 1 with keepdim); (1) when nothing is left.
                    int64_t want_shape[4];
                    int wn = 0;
                    for (int k = 0; k < nd; k++)
                        if (k != d) want_shape[wn++] = x->shape[k];
                        else if (keep) want_shape[wn++] = 1;
                    if (wn == 0) want_shape[wn++] = 1;
                    int ok = y->ndim == wn;
                    for (int k = 0; ok && k < wn; k++) ok = y->shape[k] == want_shape[k];
                    CHECK_MSG(ok, "sum_dim shape: shape %zu dim %d keep %d", si, dim, keep);
                    // Values: the reference walks x by multi-index.
                    int64_t outer = 1, len = x->shape[d], inner = 1;
                    for (int k = 0; k < d; k++) outer *= x->shape[k];
                    for (int k = d + 1; k < nd; k++) inner *= x->shape[k];
                    float *want = malloc(sizeof(float) * (size_t)(outer * inner));
                    for (int64_t o = 0; o < outer; o++)
                        for (int64_t i = 0; i < inner; i++) {
                            double s = 0;
                            for (int64_t j = 0; j < len; j++) s += silt_f32(x)[(o * len + j) * inner + i];
                            want[o * inner + i] = (float)(mean ? s / len : s);
                        }
                    char what[64];
                    snprintf(what, sizeof what, "%s shape %zu dim %d keep %d", mean ? "mean_dim" : "sum_dim", si, dim, keep);
                    CHECK_CLOSE(what, silt_f32(y), want, outer * inner, 1e-6, 1e-7);
                    free(want);
                }
        silt_tensor_free(x);
        silt_graph_reset(g);
    }
    // Double accumulation along a dim: 1e8 then 1000 ones in every column.
    int64_t sa[3] = {2, 1001, 3};
    silt_tensor *xa = silt_tensor_create_f32(3, sa, false);
    for (int64_t i = 0; i < silt_numel(xa); i++) silt_f32(xa)[i] = (i / 3) % 1001 == 0 ? 1e8f : 1.0f;
    silt_tensor *ya = silt_sum_dim(g, xa, 1, false);
    int ok = ya != NULL;
    for (int i = 0; ya && i < 6; i++) ok &= silt_f32(ya)[i] == 100001000.0f;
    CHECK_MSG(ok, "sum_dim accumulates in double");
    silt_tensor_free(xa);
    // Large: the parallel path and an inner size that is not a multiple of the block.
    int64_t s[3] = {3, 300, 257};
    silt_tensor *x = rand_tensor(3, s, false);
    for (int d = 0; d < 3; d++) {
        silt_tensor *y = silt_mean_dim(g, x, d, false);
        int64_t outer = 1, inner = 1;
        for (int k = 0; k < d; k++) outer *= s[k];
        for (int k = d + 1; k < 3; k++) inner *= s[k];
        float *want = malloc(sizeof(float) * (size_t)(outer * inner));
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++) {
                double acc = 0;
                for (int64_t j = 0; j < s[d]; j++) acc += silt_f32(x)[(o * s[d] + j) * inner + i];
                want[o * inner + i] = (float)(acc / s[d]);
            }
        CHECK(y != NULL);
        if (y) CHECK_CLOSE("large mean_dim", silt_f32(y), want, outer * inner, 1e-6, 1e-7);
        free(want);
    }
    silt_tensor_free(x);
    silt_graph_free(g);
}

static void test_mse(void) {
    silt_graph *g = silt_graph_create(0);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int nd = ndim_of(shapes[si]);
        silt_tensor *a = rand_tensor(nd, shapes[si], false), *b = rand_tensor(nd, shapes[si], false);
        double s = 0;
        int64_t n = silt_numel(a);
        for (int64_t i = 0; i < n; i++) {
            double d = (double)silt_f32(a)[i] - silt_f32(b)[i];
            s += d * d;
        }
        float want = (float)(s / n);
        silt_tensor *y = silt_mse_loss(g, a, b);
        CHECK(y && y->ndim == 1 && y->shape[0] == 1);
        if (y) CHECK_CLOSE("mse", silt_f32(y), &want, 1, 1e-6, 1e-7);
        silt_tensor_free(a);
        silt_tensor_free(b);
        silt_graph_reset(g);
    }
    silt_graph_free(g);
}

typedef struct {
    int kind;  // 0 sum, 1 mean, 2 sum_dim, 3 mean_dim, 4 mse
    int dim, keep;
} red_user;

static silt_tensor *gc_reduce(silt_graph *g, silt_tensor **in, void *user) {
    red_user *u = user;
    switch (u->kind) {
    case 0: return silt_sum(g, in[0]);
    case 1: return silt_mean(g, in[0]);
    case 2: return silt_sum_dim(g, in[0], u->dim, u->keep);
    case 3: return silt_mean_dim(g, in[0], u->dim, u->keep);
    default: return silt_mse_loss(g, in[0], in[1]);
    }
}

static void test_backward(void) {
    int64_t s[3] = {3, 4, 5};
    silt_tensor *in[2] = {rand_tensor(3, s, true), rand_tensor(3, s, true)};
    red_user u = {0, 0, 0};
    gradcheck_run("sum", gc_reduce, in, 1, &u, gradcheck_default());
    u.kind = 1;
    gradcheck_run("mean", gc_reduce, in, 1, &u, gradcheck_default());
    for (int kind = 2; kind <= 3; kind++)
        for (int dim = -3; dim < 3; dim++) {
            u = (red_user){kind, dim, dim & 1};
            char what[48];
            snprintf(what, sizeof what, "%s dim %d keep %d", kind == 2 ? "sum_dim" : "mean_dim", dim, dim & 1);
            gradcheck_run(what, gc_reduce, in, 1, &u, gradcheck_default());
        }
    u = (red_user){4, 0, 0};
    gradcheck_run("mse both", gc_reduce, in, 2, &u, gradcheck_default());
    in[1]->requires_grad = false;
    gradcheck_run("mse a only", gc_reduce, in, 2, &u, gradcheck_default());
    in[1]->requires_grad = true;
    // Exact: d mse / da = 2 (a - b) / n, d/db the negative, added to grads
    // that start at 1 (backward accumulates).
    silt_graph *g = silt_graph_create(0);
    for (int i = 0; i < 60; i++) in[0]->grad[i] = in[1]->grad[i] = 1.0f;
    silt_tensor *y = silt_mse_loss(g, in[0], in[1]);
    CHECK_OK(silt_backward(g, y, NULL));
    int ok = 1;
    for (int64_t i = 0; i < 60; i++) {
        double want = 2.0 * ((double)silt_f32(in[0])[i] - silt_f32(in[1])[i]) / 60;
        ok &= fabs(in[0]->grad[i] - 1 - want) <= 1e-6 && fabs(in[1]->grad[i] - 1 + want) <= 1e-6;
    }
    CHECK_MSG(ok, "mse exact grads");
    // mean_dim and sum: exact grads added to a grad that starts at 1.
    silt_graph_reset(g);
    for (int i = 0; i < 60; i++) in[0]->grad[i] = 1.0f;
    float seed[15];
    test_fill(seed, 15, -1, 1);
    CHECK_OK(silt_backward(g, silt_mean_dim(g, in[0], 1, false), seed));
    ok = 1;
    for (int i = 0; i < 60; i++) ok &= fabsf(in[0]->grad[i] - (1.0f + seed[(i / 20) * 5 + i % 5] / 4)) <= 1e-6f;
    CHECK_MSG(ok, "mean_dim exact grads");
    silt_graph_reset(g);
    for (int i = 0; i < 60; i++) in[0]->grad[i] = 1.0f;
    CHECK_OK(silt_backward(g, silt_sum(g, in[0]), seed));
    ok = 1;
    for (int i = 0; i < 60; i++) ok &= in[0]->grad[i] == 1.0f + seed[0];
    CHECK_MSG(ok, "sum exact grads");
    silt_graph_free(g);
    silt_tensor_free(in[0]);
    silt_tensor_free(in[1]);
}

static void test_errors(void) {
    silt_graph *g = silt_graph_create(0);
    int64_t s[2] = {3, 4}, t[2] = {4, 3};
    silt_tensor *a = rand_tensor(2, s, false), *b = rand_tensor(2, t, false);
    CHECK(silt_sum_dim(g, a, 2, false) == NULL && silt_graph_status(g) == SILT_ERR_ARG);
    silt_graph_reset(g);
    CHECK(silt_mean_dim(g, a, -3, true) == NULL && silt_graph_status(g) == SILT_ERR_ARG);
    silt_graph_reset(g);
    CHECK(silt_mse_loss(g, a, b) == NULL && silt_graph_status(g) == SILT_ERR_SHAPE);
    CHECK(strstr(silt_last_error(), "(3, 4)") && strstr(silt_last_error(), "(4, 3)"));
    silt_graph_reset(g);
    CHECK(silt_sum(g, NULL) == NULL && silt_mse_loss(g, a, NULL) == NULL && silt_graph_status(g) == SILT_OK);
    silt_tensor *y = silt_mean(g, a);
    CHECK(y && !y->requires_grad && silt_graph_tape_length(g) == 0);
    silt_tensor_free(a);
    silt_tensor_free(b);
    silt_graph_free(g);
}

int main(void) {
    test_seed(4);
    test_full();
    test_dim();
    test_mse();
    test_backward();
    test_errors();
    return check_summary();
}
