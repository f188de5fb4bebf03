// linear, matmul, embedding: forward vs naive double-accumulating references,
// raw backward kernels vs references (accumulation into non-zero buffers,
// NULL d-pointers), graph backward vs finite differences, and error paths.
// Forward tolerance: fp32 vs double, rel 1e-4 (+ abs 1e-5 for values near 0).
#include <string.h>

#include "check.h"
#include "core/ops_linear.h"
#include "gradcheck.h"

#define RTOL 1e-4
#define ATOL 1e-5

static silt_tensor *rand_tensor(int ndim, const int64_t *shape, bool grad) {
    silt_tensor *t = silt_tensor_create_f32(ndim, shape, grad);
    test_fill(silt_f32(t), silt_numel(t), -1, 1);
    return t;
}
static float *rand_buf(int64_t n) {
    float *p = malloc((size_t)n * sizeof(float));
    test_fill(p, n, -1, 1);
    return p;
}
static float *copy_buf(const float *src, int64_t n) {
    float *p = malloc((size_t)n * sizeof(float));
    memcpy(p, src, (size_t)n * sizeof(float));
    return p;
}

// --- linear ----------------------------------------------------------------------

static void ref_linear(float *out, const float *x, const float *w, const float *b, int64_t N, int64_t I, int64_t O) {
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < O; o++) {
            double s = b ? b[o] : 0.0;
            for (int64_t i = 0; i < I; i++) s += (double)x[n * I + i] * w[o * I + i];
            out[n * O + o] = (float)s;
        }
}

typedef struct { int ndim; int64_t shape[4]; int64_t out_f; } linear_case;
static const linear_case linear_cases[] = {
    {1, {7}, 5},           {2, {3, 7}, 5},      {2, {1, 1}, 1},     {3, {2, 3, 11}, 9},
    {4, {2, 1, 3, 13}, 6}, {2, {33, 65}, 17},   {3, {5, 9, 129}, 31},
};
#define N_LINEAR_CASES (int)(sizeof linear_cases / sizeof *linear_cases)

static silt_tensor *gc_linear(silt_graph *g, silt_tensor **in, void *user) {
    return silt_linear(g, in[0], in[1], *(int *)user ? in[2] : NULL);
}

static void test_linear(void) {
    silt_graph *g = silt_graph_create(0);
    for (int c = 0; c < N_LINEAR_CASES; c++) {
        const linear_case *lc = &linear_cases[c];
        int64_t in_f = lc->shape[lc->ndim - 1], O = lc->out_f, wshape[2] = {O, in_f};
        for (int has_bias = 0; has_bias < 2; has_bias++) {
            silt_tensor *x = rand_tensor(lc->ndim, lc->shape, true), *w = rand_tensor(2, wshape, true);
            silt_tensor *b = rand_tensor(1, &O, true);
            int64_t N = silt_numel(x) / in_f;
            silt_graph_reset(g);
            silt_tensor *out = silt_linear(g, x, w, has_bias ? b : NULL);
            CHECK(out != NULL);
            if (!out) continue;
            CHECK(out->ndim == lc->ndim && out->shape[lc->ndim - 1] == O && out->requires_grad);
            for (int i = 0; i < lc->ndim - 1; i++) CHECK(out->shape[i] == lc->shape[i]);
            float *ref = malloc((size_t)(N * O) * sizeof(float));
            ref_linear(ref, silt_f32(x), silt_f32(w), has_bias ? silt_f32(b) : NULL, N, in_f, O);
            char name[64];
            snprintf(name, sizeof name, "linear fwd case %d bias %d", c, has_bias);
            CHECK_CLOSE(name, silt_f32(out), ref, N * O, RTOL, ATOL);
            free(ref);
            // Finite differences on every input (skip the largest cases: slow and covered below).
            if (N * in_f * O < 20000) {
                silt_tensor *in[3] = {x, w, b};
                snprintf(name, sizeof name, "linear case %d bias %d", c, has_bias);
                gradcheck_run(name, gc_linear, in, has_bias ? 3 : 2, &has_bias, gradcheck_default());
            }
            silt_tensor_free(x);
            silt_tensor_free(w);
            silt_tensor_free(b);
        }
    }
    // No node is recorded when no input requires grad.
    int64_t xs[2] = {3, 4}, ws[2] = {2, 4};
    silt_tensor *x = rand_tensor(2, xs, false), *w = rand_tensor(2, ws, false);
    silt_graph_reset(g);
    silt_tensor *out = silt_linear(g, x, w, NULL);
    CHECK(out && !out->requires_grad && silt_graph_tape_length(g) == 0);
    silt_tensor_free(x);
    silt_tensor_free(w);
    silt_graph_free(g);
}

// Raw backward vs double reference; d-buffers start non-zero to check +=.
static void test_linear_bwd_raw(void) {
    const int64_t dims[][3] = {{3, 7, 5}, {1, 1, 1}, {17, 33, 9}, {64, 129, 65}};
    for (size_t c = 0; c < sizeof dims / sizeof *dims; c++) {
        int64_t N = dims[c][0], I = dims[c][1], O = dims[c][2];
        float *x = rand_buf(N * I), *w = rand_buf(O * I), *dout = rand_buf(N * O);
        float *dx = rand_buf(N * I), *dw = rand_buf(O * I), *db = rand_buf(O);
        float *rdx = copy_buf(dx, N * I), *rdw = copy_buf(dw, O * I), *rdb = copy_buf(db, O);
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < I; i++) {
                double s = 0;
                for (int64_t o = 0; o < O; o++) s += (double)dout[n * O + o] * w[o * I + i];
                rdx[n * I + i] += (float)s;
            }
        for (int64_t o = 0; o < O; o++) {
            for (int64_t i = 0; i < I; i++) {
                double s = 0;
                for (int64_t n = 0; n < N; n++) s += (double)dout[n * O + o] * x[n * I + i];
                rdw[o * I + i] += (float)s;
            }
            double s = 0;
            for (int64_t n = 0; n < N; n++) s += dout[n * O + o];
            rdb[o] += (float)s;
        }
        float *dx0 = copy_buf(dx, N * I), *dw0 = copy_buf(dw, O * I);
        // Only dbias: dx and dw must be left alone.
        float *db_only = copy_buf(db, O);
        linear_bwd_cpu(NULL, NULL, db_only, dout, x, w, N, I, O);
        CHECK_CLOSE("linear bwd dbias only", db_only, rdb, O, RTOL, ATOL);
        linear_bwd_cpu(dx, dw, db, dout, x, w, N, I, O);
        CHECK_CLOSE("linear bwd dx", dx, rdx, N * I, RTOL, ATOL);
        CHECK_CLOSE("linear bwd dw", dw, rdw, O * I, RTOL, ATOL);
        CHECK_CLOSE("linear bwd dbias", db, rdb, O, RTOL, ATOL);
        // dx only.
        linear_bwd_cpu(dx0, NULL, NULL, dout, x, w, N, I, O);
        CHECK_CLOSE("linear bwd dx only", dx0, rdx, N * I, RTOL, ATOL);
        linear_bwd_cpu(NULL, dw0, NULL, dout, x, w, N, I, O);
        CHECK_CLOSE("linear bwd dw only", dw0, rdw, O * I, RTOL, ATOL);
        free(x); free(w); free(dout); free(dx); free(dw); free(db); free(rdx); free(rdw); free(rdb);
        free(dx0); free(dw0); free(db_only);
    }
}

// --- matmul ----------------------------------------------------------------------

// Element (i, k) of op(a) for one batch entry, a stored (M,K) or (K,M).
static inline float opa(const float *a, int64_t i, int64_t k, int64_t M, int64_t K, bool t) {
    return t ? a[k * M + i] : a[i * K + k];
}
static inline float opb(const float *b, int64_t k, int64_t j, int64_t K, int64_t N, bool t) {
    return t ? b[j * K + k] : b[k * N + j];
}

static void ref_matmul(float *out, const float *a, const float *b, int64_t batch, int64_t M, int64_t N, int64_t K,
                       bool ta, bool tb) {
    for (int64_t p = 0; p < batch; p++)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += (double)opa(a + p * M * K, i, k, M, K, ta) * opb(b + p * K * N, k, j, K, N, tb);
                out[(p * M + i) * N + j] = (float)s;
            }
}

// Reference gradients, written elementwise in the stored layout.
static void ref_matmul_bwd(float *da, float *db, const float *dout, const float *a, const float *b, int64_t batch,
                           int64_t M, int64_t N, int64_t K, bool ta, bool tb) {
    for (int64_t p = 0; p < batch; p++) {
        const float *ap = a + p * M * K, *bp = b + p * K * N, *dp = dout + p * M * N;
        for (int64_t i = 0; i < M; i++)
            for (int64_t k = 0; k < K; k++) {
                double s = 0;
                for (int64_t j = 0; j < N; j++) s += (double)dp[i * N + j] * opb(bp, k, j, K, N, tb);
                da[p * M * K + (ta ? k * M + i : i * K + k)] += (float)s;
            }
        for (int64_t k = 0; k < K; k++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t i = 0; i < M; i++) s += (double)opa(ap, i, k, M, K, ta) * dp[i * N + j];
                db[p * K * N + (tb ? j * K + k : k * N + j)] += (float)s;
            }
    }
}

typedef struct { bool ta, tb; } mm_flags;
static silt_tensor *gc_matmul(silt_graph *g, silt_tensor **in, void *user) {
    mm_flags *f = user;
    return silt_matmul(g, in[0], in[1], f->ta, f->tb);
}

static void test_matmul(void) {
    // lead dims (0 = unused), M, N, K
    const int64_t cases[][5] = {
        {0, 0, 5, 7, 3}, {0, 0, 1, 1, 1}, {0, 0, 13, 1, 9}, {0, 3, 5, 7, 3}, {2, 3, 4, 6, 5}, {0, 0, 65, 33, 129},
        {0, 2, 31, 17, 64},
    };
    silt_graph *g = silt_graph_create(0);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        for (int t = 0; t < 4; t++) {
            bool ta = t & 1, tb = t & 2;
            int64_t M = cases[c][2], N = cases[c][3], K = cases[c][4];
            int nlead = cases[c][0] ? 2 : (cases[c][1] ? 1 : 0), nd = nlead + 2;
            int64_t ash[4], bsh[4], batch = 1;
            for (int i = 0; i < nlead; i++) {
                ash[i] = bsh[i] = cases[c][2 - nlead + i];
                batch *= ash[i];
            }
            ash[nlead] = ta ? K : M;
            ash[nlead + 1] = ta ? M : K;
            bsh[nlead] = tb ? N : K;
            bsh[nlead + 1] = tb ? K : N;
            silt_tensor *a = rand_tensor(nd, ash, true), *b = rand_tensor(nd, bsh, true);
            silt_graph_reset(g);
            silt_tensor *out = silt_matmul(g, a, b, ta, tb);
            CHECK(out && out->ndim == nd && out->shape[nd - 2] == M && out->shape[nd - 1] == N);
            char name[80];
            snprintf(name, sizeof name, "matmul case %zu ta %d tb %d", c, ta, tb);
            if (out) {
                float *ref = malloc((size_t)(batch * M * N) * sizeof(float));
                ref_matmul(ref, silt_f32(a), silt_f32(b), batch, M, N, K, ta, tb);
                CHECK_CLOSE(name, silt_f32(out), ref, batch * M * N, RTOL, ATOL);
                free(ref);
            }
            // Raw backward vs reference, accumulating into non-zero buffers.
            float *dout = rand_buf(batch * M * N), *da = rand_buf(batch * M * K), *db = rand_buf(batch * K * N);
            float *rda = copy_buf(da, batch * M * K), *rdb = copy_buf(db, batch * K * N);
            float *db2 = copy_buf(db, batch * K * N);
            ref_matmul_bwd(rda, rdb, dout, silt_f32(a), silt_f32(b), batch, M, N, K, ta, tb);
            matmul_bwd_cpu(da, db, dout, silt_f32(a), silt_f32(b), batch, M, N, K, ta, tb);
            CHECK_CLOSE("matmul bwd da", da, rda, batch * M * K, RTOL, ATOL);
            CHECK_CLOSE("matmul bwd db", db, rdb, batch * K * N, RTOL, ATOL);
            matmul_bwd_cpu(NULL, db2, dout, silt_f32(a), silt_f32(b), batch, M, N, K, ta, tb);  // da skipped
            CHECK_CLOSE("matmul bwd db only", db2, rdb, batch * K * N, RTOL, ATOL);
            free(dout); free(da); free(db); free(rda); free(rdb); free(db2);
            if (batch * M * N * K < 20000) {
                mm_flags f = {ta, tb};
                silt_tensor *in[2] = {a, b};
                gradcheck_run(name, gc_matmul, in, 2, &f, gradcheck_default());
            }
            silt_tensor_free(a);
            silt_tensor_free(b);
        }
    silt_graph_free(g);
}

// --- embedding -------------------------------------------------------------------

static silt_tensor *gc_embedding(silt_graph *g, silt_tensor **in, void *user) {
    (void)user;
    return silt_embedding(g, in[0], in[1]);
}

static void test_embedding(void) {
    const int64_t V = 11, D = 7;
    int64_t tshape[2] = {V, D};
    const struct { int ndim; int64_t shape[3]; } cases[] = {{1, {5}}, {2, {3, 4}}, {3, {2, 3, 5}}, {1, {1}}};
    silt_graph *g = silt_graph_create(0);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        silt_tensor *table = rand_tensor(2, tshape, true);
        silt_tensor *ids = silt_tensor_create(SILT_I32, cases[c].ndim, cases[c].shape, false);
        int64_t N = silt_numel(ids);
        // Repeated ids (i % 4) exercise the scatter-add; the ends of the range are hit too.
        for (int64_t i = 0; i < N; i++) silt_i32(ids)[i] = (int32_t)(i % 3 == 2 ? V - 1 : (i * 7) % 4);
        silt_graph_reset(g);
        silt_tensor *out = silt_embedding(g, ids, table);
        CHECK(out && out->ndim == cases[c].ndim + 1 && out->shape[cases[c].ndim] == D && out->requires_grad);
        if (out) {
            for (int i = 0; i < cases[c].ndim; i++) CHECK(out->shape[i] == cases[c].shape[i]);
            int bad = 0;
            for (int64_t i = 0; i < N; i++)
                bad += memcmp(silt_f32(out) + i * D, silt_f32(table) + silt_i32(ids)[i] * D, (size_t)D * sizeof(float)) != 0;
            CHECK_MSG(bad == 0, "embedding fwd case %zu: %d rows differ", c, bad);
        }
        // Raw backward vs reference scatter in double.
        float *dout = rand_buf(N * D), *dt = rand_buf(V * D);
        double *ref = malloc((size_t)(V * D) * sizeof(double));
        for (int64_t i = 0; i < V * D; i++) ref[i] = dt[i];
        for (int64_t i = 0; i < N; i++)
            for (int64_t d = 0; d < D; d++) ref[silt_i32(ids)[i] * D + d] += dout[i * D + d];
        float *reff = malloc((size_t)(V * D) * sizeof(float));
        for (int64_t i = 0; i < V * D; i++) reff[i] = (float)ref[i];
        embedding_bwd_cpu(dt, dout, silt_i32(ids), N, V, D);
        CHECK_CLOSE("embedding bwd", dt, reff, V * D, 1e-5, 1e-6);
        free(dout); free(dt); free(ref); free(reff);
        silt_tensor *in[2] = {ids, table};
        char name[48];
        snprintf(name, sizeof name, "embedding case %zu", c);
        gradcheck_run(name, gc_embedding, in, 2, NULL, gradcheck_default());
        silt_tensor_free(table);
        silt_tensor_free(ids);
    }
    // A wide table exercises the column-split parallel scatter (several blocks, repeated ids).
    {
        int64_t N = 300, Vw = 5, Dw = 700;
        float *dout = rand_buf(N * Dw), *dt = calloc((size_t)(Vw * Dw), sizeof(float));
        int32_t *id = malloc((size_t)N * sizeof(int32_t));
        for (int64_t i = 0; i < N; i++) id[i] = (int32_t)((i * 3) % Vw);
        double *ref = calloc((size_t)(Vw * Dw), sizeof(double));
        for (int64_t i = 0; i < N; i++)
            for (int64_t d = 0; d < Dw; d++) ref[id[i] * Dw + d] += dout[i * Dw + d];
        float *reff = malloc((size_t)(Vw * Dw) * sizeof(float));
        for (int64_t i = 0; i < Vw * Dw; i++) reff[i] = (float)ref[i];
        embedding_bwd_cpu(dt, dout, id, N, Vw, Dw);
        CHECK_CLOSE("embedding bwd wide", dt, reff, Vw * Dw, 1e-5, 1e-5);
        free(dout); free(dt); free(id); free(ref); free(reff);
    }
    // Out-of-range ids: SILT_ERR_ARG, the message names the id and V, graph status set.
    silt_tensor *table = rand_tensor(2, tshape, true);
    int64_t n4 = 4;
    silt_tensor *ids = silt_tensor_create(SILT_I32, 1, &n4, false);
    const int32_t bad_ids[] = {(int32_t)V, -1, 1000000};
    for (size_t k = 0; k < sizeof bad_ids / sizeof *bad_ids; k++) {
        silt_graph_reset(g);
        silt_i32(ids)[2] = bad_ids[k];
        CHECK(silt_embedding(g, ids, table) == NULL);
        CHECK(silt_graph_status(g) == SILT_ERR_ARG);
        char want_id[32];
        snprintf(want_id, sizeof want_id, "id %d", (int)bad_ids[k]);
        CHECK_MSG(strstr(silt_last_error(), want_id) && strstr(silt_last_error(), "V = 11"),
                  "embedding error message lacks the id or V: %s", silt_last_error());
    }
    silt_i32(ids)[2] = 0;
    // Wrong dtypes and shapes.
    silt_graph_reset(g);
    CHECK(silt_embedding(g, table, table) == NULL && silt_graph_status(g) == SILT_ERR_ARG);  // f32 ids
    silt_graph_reset(g);
    CHECK(silt_embedding(g, ids, ids) == NULL && silt_graph_status(g) == SILT_ERR_ARG);  // i32 table
    int64_t s4[4] = {1, 1, 1, 2}, t1[1] = {V};
    silt_tensor *ids4 = silt_tensor_create(SILT_I32, 4, s4, false), *table1 = rand_tensor(1, t1, false);
    silt_graph_reset(g);
    CHECK(silt_embedding(g, ids4, table) == NULL && silt_graph_status(g) == SILT_ERR_SHAPE);
    silt_graph_reset(g);
    CHECK(silt_embedding(g, ids, table1) == NULL && silt_graph_status(g) == SILT_ERR_SHAPE);
    silt_graph_reset(g);
    CHECK(silt_embedding(g, NULL, table) == NULL && silt_graph_status(g) == SILT_OK);
    silt_tensor_free(ids4);
    silt_tensor_free(table1);
    silt_tensor_free(table);
    silt_tensor_free(ids);
    silt_graph_free(g);
}

// --- shape errors ----------------------------------------------------------------

static void test_errors(void) {
    silt_graph *g = silt_graph_create(0);
    int64_t s37[2] = {3, 7}, s57[2] = {5, 7}, s56[2] = {5, 6}, s5[1] = {5}, s4[1] = {4}, s7[1] = {7};
    int64_t s257[3] = {2, 5, 7}, s357[3] = {3, 5, 7}, s275[3] = {2, 7, 5}, s2375[4] = {2, 3, 7, 5};
    silt_tensor *x = rand_tensor(2, s37, true), *w = rand_tensor(2, s57, true), *w_bad = rand_tensor(2, s56, true);
    silt_tensor *b = rand_tensor(1, s5, true), *b_bad = rand_tensor(1, s4, true), *v7 = rand_tensor(1, s7, true);
    silt_tensor *a3 = rand_tensor(3, s257, true), *a3b = rand_tensor(3, s357, true), *b3 = rand_tensor(3, s275, true);
    silt_tensor *b4 = rand_tensor(4, s2375, true);
    silt_tensor *xi = silt_tensor_create(SILT_I32, 2, s37, false);

#define EXPECT_FAIL(expr, code)                                                                       \
    do {                                                                                              \
        silt_graph_reset(g);                                                                          \
        silt_tensor *r_ = (expr);                                                                     \
        CHECK_MSG(r_ == NULL && silt_graph_status(g) == (code), "%s: want %s, got %s (%s)", #expr,     \
                  silt_status_name(code), silt_status_name(silt_graph_status(g)), silt_last_error()); \
    } while (0)

    EXPECT_FAIL(silt_linear(g, x, w_bad, NULL), SILT_ERR_SHAPE);  // in_f mismatch
    EXPECT_FAIL(silt_linear(g, x, w, b_bad), SILT_ERR_SHAPE);     // bias size
    EXPECT_FAIL(silt_linear(g, x, w, w), SILT_ERR_SHAPE);         // bias not 1-D
    EXPECT_FAIL(silt_linear(g, x, v7, NULL), SILT_ERR_SHAPE);     // w not 2-D
    EXPECT_FAIL(silt_linear(g, x, a3, NULL), SILT_ERR_SHAPE);     // w not 2-D
    EXPECT_FAIL(silt_linear(g, xi, w, NULL), SILT_ERR_ARG);       // i32 x
    EXPECT_FAIL(silt_matmul(g, x, w, false, false), SILT_ERR_SHAPE);   // (3,7) @ (5,7)
    EXPECT_FAIL(silt_matmul(g, x, w, true, true), SILT_ERR_SHAPE);     // (7,3) @ (7,5)
    EXPECT_FAIL(silt_matmul(g, v7, v7, false, false), SILT_ERR_SHAPE); // 1-D
    EXPECT_FAIL(silt_matmul(g, a3, w, false, true), SILT_ERR_SHAPE);   // rank mismatch
    EXPECT_FAIL(silt_matmul(g, a3b, b3, false, false), SILT_ERR_SHAPE); // batch 3 vs 2
    EXPECT_FAIL(silt_matmul(g, a3, b4, false, false), SILT_ERR_SHAPE);  // rank 3 vs 4
    EXPECT_FAIL(silt_matmul(g, a3, b3, true, false), SILT_ERR_SHAPE);   // K 5 vs 7
    EXPECT_FAIL(silt_matmul(g, xi, w, false, true), SILT_ERR_ARG);      // i32 a
#undef EXPECT_FAIL
    // The message names the op and the shapes.
    silt_graph_reset(g);
    silt_linear(g, x, w_bad, NULL);
    CHECK_MSG(strstr(silt_last_error(), "linear") && strstr(silt_last_error(), "(3, 7)") &&
                  strstr(silt_last_error(), "(5, 6)"),
              "linear error lacks op or shapes: %s", silt_last_error());
    // Sticky: after a failure, valid ops still run but the status stays; NULL in -> NULL out.
    silt_graph_reset(g);
    CHECK(silt_matmul(g, x, w, false, false) == NULL);
    CHECK(silt_linear(g, NULL, w, b) == NULL && silt_matmul(g, NULL, x, false, false) == NULL);
    CHECK(silt_graph_status(g) == SILT_ERR_SHAPE);
    // Good calls for contrast.
    silt_graph_reset(g);
    CHECK(silt_linear(g, x, w, b) != NULL && silt_matmul(g, x, w, false, true) != NULL &&
          silt_matmul(g, a3, b3, false, false) != NULL && silt_graph_status(g) == SILT_OK);
    silt_tensor *all[] = {x, w, w_bad, b, b_bad, v7, a3, a3b, b3, b4, xi};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) silt_tensor_free(all[i]);
    silt_graph_free(g);
}

int main(void) {
    test_seed(42);
    test_linear();
    test_linear_bwd_raw();
    test_matmul();
    test_embedding();
    test_errors();
    return check_summary();
}
