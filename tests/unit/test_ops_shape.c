// Shape ops: concat, split, slice, permute, transpose. Forwards must match a
// multi-index reference exactly (pure data movement); backwards against finite
// differences; bad dims / slices / shapes fail with the documented codes.
#include <string.h>

#include "check.h"
#include "core/ops_shape.h"
#include "gradcheck.h"

static void unravel(int64_t e, const int64_t *shape, int nd, int64_t *idx) {
    for (int d = nd - 1; d >= 0; d--) { idx[d] = e % shape[d]; e /= shape[d]; }
}
static int64_t ravel(const int64_t *idx, const int64_t *shape, int nd) {
    int64_t o = 0;
    for (int d = 0; d < nd; d++) o = o * shape[d] + idx[d];
    return o;
}

static silt_tensor *rand_tensor(int nd, const int64_t *shape, bool rg) {
    silt_tensor *t = silt_tensor_create_f32(nd, shape, rg);
    test_fill(silt_f32(t), silt_numel(t), -1, 1);
    return t;
}

static int same_exact(const float *a, const float *b, int64_t n) { return memcmp(a, b, (size_t)n * sizeof(float)) == 0; }

// --- concat / split / slice ---------------------------------------------------------

static void test_concat_split_slice(void) {
    silt_graph *g = silt_graph_create(0);
    const int64_t base[][4] = {{3, 5, 7, 0}, {2, 3, 4, 5}, {9, 0, 0, 0}, {4, 7, 0, 0}};
    const int64_t pieces[3] = {2, 1, 3};
    for (size_t bi = 0; bi < sizeof base / sizeof base[0]; bi++) {
        int nd = 0;
        while (nd < 4 && base[bi][nd]) nd++;
        for (int dim = -nd; dim < nd; dim++) {
            int d = dim < 0 ? dim + nd : dim;
            silt_tensor *xs[3];
            for (int i = 0; i < 3; i++) {
                int64_t s[4];
                memcpy(s, base[bi], sizeof s);
                s[d] = pieces[i];
                xs[i] = rand_tensor(nd, s, false);
            }
            silt_tensor *y = silt_concat(g, xs, 3, dim);
            CHECK(y && y->ndim == nd && y->shape[d] == 6);
            if (!y) continue;
            // Reference: each out element comes from the piece its index on d falls in.
            int ok = 1;
            for (int64_t e = 0; e < silt_numel(y); e++) {
                int64_t idx[4] = {0};
                unravel(e, y->shape, nd, idx);
                int i = 0;
                while (idx[d] >= xs[i]->shape[d]) idx[d] -= xs[i++]->shape[d];
                ok &= silt_f32(y)[e] == silt_f32(xs[i])[ravel(idx, xs[i]->shape, nd)];
            }
            CHECK_MSG(ok, "concat base %zu dim %d", bi, dim);
            // split undoes concat exactly.
            silt_tensor *outs[3];
            CHECK_OK(silt_split(g, y, dim, pieces, 3, outs));
            for (int i = 0; i < 3; i++)
                CHECK(outs[i] && silt_same_shape(outs[i], xs[i]) && same_exact(silt_f32(outs[i]), silt_f32(xs[i]), silt_numel(xs[i])));
            // slice [start, start+len) against the reference, with a negative start.
            int64_t start = -4, len = 3;
            silt_tensor *sl = silt_slice(g, y, dim, start, len);
            CHECK(sl && sl->shape[d] == len);
            ok = sl != NULL;
            for (int64_t e = 0; sl && e < silt_numel(sl); e++) {
                int64_t idx[4] = {0};
                unravel(e, sl->shape, nd, idx);
                idx[d] += 6 + start;
                ok &= silt_f32(sl)[e] == silt_f32(y)[ravel(idx, y->shape, nd)];
            }
            CHECK_MSG(ok, "slice base %zu dim %d", bi, dim);
            for (int i = 0; i < 3; i++) silt_tensor_free(xs[i]);
            silt_graph_reset(g);
        }
    }
    silt_graph_free(g);
}

typedef struct {
    int dim, mode;  // mode 0: concat; 1: split then concat reversed; 2: split, keep piece 1; 3: slice
} cs_user;

static silt_tensor *gc_concat_split(silt_graph *g, silt_tensor **in, void *user) {
    cs_user *u = user;
    const int64_t sizes[3] = {1, 3, 2};
    silt_tensor *outs[3];
    switch (u->mode) {
    case 0: return silt_concat(g, in, 3, u->dim);
    case 1:
        if (silt_split(g, in[0], u->dim, sizes, 3, outs) != SILT_OK) return NULL;
        silt_tensor *rev[3] = {outs[2], outs[0], outs[1]};
        return silt_concat(g, rev, 3, u->dim);
    case 2:
        if (silt_split(g, in[0], u->dim, sizes, 3, outs) != SILT_OK) return NULL;
        return outs[1];
    default: return silt_slice(g, in[0], u->dim, 1, 4);
    }
}

static void test_concat_split_slice_backward(void) {
    int64_t s0[3] = {2, 3, 5}, s1[3] = {2, 4, 5}, s2[3] = {2, 1, 5}, s6[4] = {2, 6, 3, 1};
    silt_tensor *in[3] = {rand_tensor(3, s0, true), rand_tensor(3, s1, false), rand_tensor(3, s2, true)};
    cs_user u = {-2, 0};
    gradcheck_run("concat dim -2 (middle input without grad)", gc_concat_split, in, 3, &u, gradcheck_default());
    for (int i = 0; i < 3; i++) silt_tensor_free(in[i]);
    silt_tensor *x = rand_tensor(4, s6, true);
    for (int mode = 1; mode <= 3; mode++) {
        u = (cs_user){1, mode};
        gradcheck_run(mode == 1 ? "split+concat" : mode == 2 ? "split piece" : "slice", gc_concat_split, &x, 1, &u,
                      gradcheck_default());
    }
    silt_tensor_free(x);
}

// --- permute / transpose -----------------------------------------------------------

// All permutations of 0..n-1 in lexicographic order (n <= 4).
static int all_perms(int n, int perms[][4]) {
    int count = 0, p[4] = {0, 1, 2, 3};
    int total = n == 1 ? 1 : n == 2 ? 2 : n == 3 ? 6 : 24;
    for (int c = 0; c < total; c++) {
        memcpy(perms[count++], p, sizeof p);
        int i = n - 2;  // next permutation
        while (i >= 0 && p[i] > p[i + 1]) i--;
        if (i < 0) break;
        int j = n - 1;
        while (p[j] < p[i]) j--;
        int t = p[i]; p[i] = p[j]; p[j] = t;
        for (int a = i + 1, b = n - 1; a < b; a++, b--) { t = p[a]; p[a] = p[b]; p[b] = t; }
    }
    return count;
}

static void test_permute(void) {
    silt_graph *g = silt_graph_create(0);
    const int64_t shapes[][4] = {{5, 0, 0, 0}, {3, 7, 0, 0}, {2, 3, 5, 0}, {2, 3, 4, 5}, {3, 1, 5, 2}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int nd = 0;
        while (nd < 4 && shapes[si][nd]) nd++;
        silt_tensor *x = rand_tensor(nd, shapes[si], false);
        int perms[24][4];
        int np = all_perms(nd, perms);
        CHECK(np == (nd == 1 ? 1 : nd == 2 ? 2 : nd == 3 ? 6 : 24));
        for (int pi = 0; pi < np; pi++) {
            int perm[4];
            for (int k = 0; k < nd; k++) perm[k] = (pi & 1) ? perms[pi][k] - nd : perms[pi][k];  // negative form too
            silt_tensor *y = silt_permute(g, x, perm);
            CHECK(y != NULL);
            if (!y) continue;
            int ok = y->ndim == nd;
            for (int k = 0; k < nd; k++) ok &= y->shape[k] == x->shape[perms[pi][k]];
            for (int64_t e = 0; ok && e < silt_numel(y); e++) {
                int64_t oi[4], xi[4];
                unravel(e, y->shape, nd, oi);
                for (int k = 0; k < nd; k++) xi[perms[pi][k]] = oi[k];  // out dim k is x dim perm[k]
                ok &= silt_f32(y)[e] == silt_f32(x)[ravel(xi, x->shape, nd)];
            }
            CHECK_MSG(ok, "permute shape %zu perm #%d", si, pi);
        }
        if (nd >= 2) {  // transpose(-1, 0) equals the permutation swapping them
            silt_tensor *t = silt_transpose(g, x, -1, 0);
            int p[4] = {0, 1, 2, 3};
            p[0] = nd - 1;
            p[nd - 1] = 0;
            silt_tensor *r = silt_permute(g, x, p);
            CHECK(t && r && silt_same_shape(t, r) && same_exact(silt_f32(t), silt_f32(r), silt_numel(r)));
        }
        silt_tensor_free(x);
        silt_graph_reset(g);
    }
    silt_graph_free(g);
}

typedef struct {
    int perm[4];
    int transpose;
} perm_user;

static silt_tensor *gc_permute(silt_graph *g, silt_tensor **in, void *user) {
    perm_user *u = user;
    return u->transpose ? silt_transpose(g, in[0], u->perm[0], u->perm[1]) : silt_permute(g, in[0], u->perm);
}

// Backward kernels accumulate: the same x feeds two ops whose outputs are
// concatenated, so each grad element receives two contributions.
static silt_tensor *gc_twice(silt_graph *g, silt_tensor **in, void *user) {
    int kind = *(int *)user;
    int perm[3] = {2, 0, 1};
    int64_t sizes[2] = {2, 3};
    silt_tensor *outs[2], *parts[2];
    switch (kind) {
    case 0: parts[0] = silt_permute(g, in[0], perm), parts[1] = silt_transpose(g, in[0], 0, 2); break;
    case 1: parts[0] = silt_slice(g, in[0], 2, 0, 3), parts[1] = silt_slice(g, in[0], 2, 1, 3); break;
    case 2:
        if (silt_split(g, in[0], 2, sizes, 2, outs) != SILT_OK) return NULL;
        parts[0] = outs[1], parts[1] = silt_slice(g, in[0], 2, 2, 3);
        break;
    default: parts[0] = silt_concat(g, in, 1, 1), parts[1] = in[0]; break;
    }
    return silt_concat(g, parts, 2, 1);
}

static void test_accumulate(void) {
    int64_t s[3] = {3, 3, 5};
    silt_tensor *x = rand_tensor(3, s, true);
    const char *names[] = {"permute+transpose of one x", "two slices of one x", "split piece + slice of one x",
                           "concat of x with x"};
    for (int kind = 0; kind < 4; kind++) gradcheck_run(names[kind], gc_twice, &x, 1, &kind, gradcheck_default());
    silt_tensor_free(x);
}

static void test_permute_backward(void) {
    int64_t s3[3] = {2, 3, 5}, s4[4] = {2, 3, 4, 3};
    silt_tensor *x3 = rand_tensor(3, s3, true), *x4 = rand_tensor(4, s4, true);
    perm_user u3 = {{2, 0, 1, 0}, 0}, u4 = {{1, 3, 0, 2}, 0}, ut = {{-1, 1, 0, 0}, 1};
    gradcheck_run("permute 3-D (2,0,1)", gc_permute, &x3, 1, &u3, gradcheck_default());
    gradcheck_run("permute 4-D (1,3,0,2)", gc_permute, &x4, 1, &u4, gradcheck_default());
    gradcheck_run("transpose(-1, 1)", gc_permute, &x4, 1, &ut, gradcheck_default());
    silt_tensor_free(x3);
    silt_tensor_free(x4);
}

// Large enough for the OpenMP paths; checked exactly against the reference.
static void test_large(void) {
    int64_t s[4] = {3, 65, 33, 17};
    silt_tensor *x = rand_tensor(4, s, true);
    silt_graph *g = silt_graph_create(0);
    int perm[4] = {3, 1, 0, 2};
    silt_tensor *y = silt_permute(g, x, perm);
    int64_t n = silt_numel(x);
    float *seed = malloc((size_t)n * sizeof(float));
    for (int64_t e = 0; e < n; e++) seed[e] = (float)e;
    CHECK_OK(silt_backward(g, y, seed));
    int ok = 1;
    for (int64_t e = 0; e < n; e++) {  // x->grad at x index = the out index it went to
        int64_t xi[4], oi[4];
        unravel(e, x->shape, 4, xi);
        for (int k = 0; k < 4; k++) oi[k] = xi[perm[k]];
        int64_t o = ravel(oi, y->shape, 4);
        ok &= x->grad[e] == (float)o && silt_f32(y)[o] == silt_f32(x)[e];
    }
    CHECK_MSG(ok, "large permute forward/backward");
    free(seed);
    silt_graph_free(g);
    silt_tensor_free(x);
}

static void test_errors(void) {
    silt_graph *g = silt_graph_create(0);
    int64_t s[3] = {2, 3, 4}, s2[3] = {2, 5, 5};
    silt_tensor *x = rand_tensor(3, s, false), *y = rand_tensor(3, s2, false);
#define EXPECT_FAIL(expr, code)                                                                     \
    do {                                                                                            \
        silt_graph_reset(g);                                                                        \
        CHECK_MSG((expr) == NULL && silt_graph_status(g) == (code), "%s: status %d", #expr, silt_graph_status(g)); \
    } while (0)
    EXPECT_FAIL(silt_slice(g, x, 3, 0, 1), SILT_ERR_ARG);   // bad dim
    EXPECT_FAIL(silt_slice(g, x, -4, 0, 1), SILT_ERR_ARG);
    EXPECT_FAIL(silt_slice(g, x, 1, 2, 2), SILT_ERR_ARG);   // runs past the end
    EXPECT_FAIL(silt_slice(g, x, 1, 0, 0), SILT_ERR_ARG);   // empty
    EXPECT_FAIL(silt_slice(g, x, 1, -4, 1), SILT_ERR_ARG);  // before the start
    EXPECT_FAIL(silt_transpose(g, x, 0, 3), SILT_ERR_ARG);
    int dup[3] = {0, 1, 1}, oob[3] = {0, 1, 3};
    EXPECT_FAIL(silt_permute(g, x, dup), SILT_ERR_ARG);
    EXPECT_FAIL(silt_permute(g, x, oob), SILT_ERR_ARG);
    silt_tensor *pair[2] = {x, y};
    EXPECT_FAIL(silt_concat(g, pair, 2, 1), SILT_ERR_SHAPE);  // dim 2 differs (4 vs 5)
    EXPECT_FAIL(silt_concat(g, pair, 2, 5), SILT_ERR_ARG);
    EXPECT_FAIL(silt_concat(g, pair, 0, 0), SILT_ERR_ARG);
    silt_tensor *withnull[2] = {x, NULL};
    silt_graph_reset(g);
    CHECK(silt_concat(g, withnull, 2, 0) == NULL && silt_slice(g, NULL, 0, 0, 1) == NULL && silt_permute(g, NULL, dup) == NULL);
    silt_tensor *outs[2] = {x, x};
    int64_t bad_sizes[2] = {1, 1}, neg_sizes[2] = {4, -1}, ok_sizes[2] = {1, 3};
    silt_graph_reset(g);
    CHECK(silt_split(g, x, 1, bad_sizes, 2, outs) == SILT_ERR_ARG && !outs[0] && !outs[1]);
    silt_graph_reset(g);
    CHECK(silt_split(g, x, 1, neg_sizes, 2, outs) == SILT_ERR_ARG);
    silt_graph_reset(g);
    CHECK(silt_split(g, x, 4, ok_sizes, 2, outs) == SILT_ERR_ARG && silt_graph_status(g) == SILT_ERR_ARG);
    silt_graph_reset(g);
    CHECK(silt_split(g, NULL, 1, ok_sizes, 2, outs) == SILT_ERR_ARG);
    silt_graph_reset(g);
    CHECK(silt_split(g, x, -1, ok_sizes, 2, outs) == SILT_OK && outs[0]->shape[2] == 1 && outs[1]->shape[2] == 3);
    CHECK(silt_graph_tape_length(g) == 0);  // x needs no grad
#undef EXPECT_FAIL
    silt_tensor_free(x);
    silt_tensor_free(y);
    silt_graph_free(g);
}

int main(void) {
    test_seed(2);
    test_concat_split_slice();
    test_concat_split_slice_backward();
    test_permute();
    test_permute_backward();
    test_accumulate();
    test_large();
    test_errors();
    return check_summary();
}
