// CUDA elementwise twins of cuda/ops_elementwise.h (activation backwards,
// tanh, sigmoid, scalar ops, clamp, broadcasting binary ops) vs their CPU twins in
// core/ops_elementwise.h (unit-tested against plain formulas and finite
// differences). The forward activations gelu/silu/add are in test_cuda_twins.c.
// Exit 77 (SKIP) when no GPU is usable.
//
// Unary ops: sizes 1 .. 9,000,001 (past one pass of the capped grid, so the
// grid-stride loop repeats), x in [-8, 8] plus 0, +-30 and -1e-20.
// Binary ops: broadcast patterns in 1..4 dims (bias rows, columns, NCHW
// channels, scalars, both sides broadcast), each with add, sub, mul, div (b
// kept away from 0 for div), which reach all four backward kernels.
// Tolerance rtol 1e-4 against |ref| + scale: 1e-2 for unary forwards (an
// absolute floor of 1e-6, as test_cuda_twins.c), rms(ref) for binary
// forwards, rms of the increment for backwards (d-buffers start random).
// Outputs are poisoned (NaN) before each run; the broadcast reductions are
// also checked bit for bit across two runs.
#include "core/ops_elementwise.h"
#include "gpu/twin.h"

#define RTOL 1e-4

enum { U_GELU_ERF_BWD, U_GELU_TANH_BWD, U_SILU_BWD, U_TANH_FWD, U_TANH_BWD, U_SIGMOID_FWD, U_SIGMOID_BWD,
       U_SCALE_FWD, U_SCALE_BWD, U_ADD_SCALAR, U_CLAMP_FWD, U_CLAMP_BWD, U_COUNT };
static const char *unary_names[U_COUNT] = {"gelu_bwd erf", "gelu_bwd tanh", "silu_bwd",  "tanh_fwd",
                                           "tanh_bwd",     "sigmoid_fwd",   "sigmoid_bwd", "scale_fwd",
                                           "scale_bwd",    "add_scalar_fwd", "clamp_fwd",  "clamp_bwd"};
// clamp's bounds; the inputs also hit them exactly (the gradient passes at
// lo <= x <= hi inclusive).
static const float CLAMP_LO = -1.5f, CLAMP_HI = 2.25f;

static int unary_is_bwd(int op) {
    return op == U_GELU_ERF_BWD || op == U_GELU_TANH_BWD || op == U_SILU_BWD || op == U_TANH_BWD ||
           op == U_SIGMOID_BWD || op == U_SCALE_BWD || op == U_CLAMP_BWD;
}

static void unary_case(int op, int64_t n) {
    twin_pool P = {0};
    char what[96];
    float *x = twin_h(&P, n), *g = twin_h(&P, n), *ref = twin_h(&P, n), *got = twin_h(&P, n), *init = twin_h(&P, n);
    if (P.failed) goto done;
    test_fill(x, n, -8, 8);
    if (n > 4) { x[0] = 0; x[1] = -30; x[2] = 30; x[3] = -1e-20f; }
    if (n > 6) { x[4] = CLAMP_LO; x[5] = CLAMP_HI; }
    test_fill(g, n, -1, 1);
    test_fill(init, n, -1, 1);
    const float s = 0.37f;
    // tanh/sigmoid backwards take the forward output y, computed on the CPU.
    if (op == U_TANH_BWD) tanh_fwd_cpu(x, x, n);
    if (op == U_SIGMOID_BWD) sigmoid_fwd_cpu(x, x, n);
    int bwd = unary_is_bwd(op);
    if (bwd) memcpy(ref, init, (size_t)n * sizeof(float));
    switch (op) {
    case U_GELU_ERF_BWD: gelu_bwd_cpu(ref, g, x, n, 0); break;
    case U_GELU_TANH_BWD: gelu_bwd_cpu(ref, g, x, n, 1); break;
    case U_SILU_BWD: silu_bwd_cpu(ref, g, x, n); break;
    case U_TANH_FWD: tanh_fwd_cpu(ref, x, n); break;
    case U_TANH_BWD: tanh_bwd_cpu(ref, g, x, n); break;
    case U_SIGMOID_FWD: sigmoid_fwd_cpu(ref, x, n); break;
    case U_SIGMOID_BWD: sigmoid_bwd_cpu(ref, g, x, n); break;
    case U_SCALE_FWD: scale_fwd_cpu(ref, x, s, n); break;
    case U_SCALE_BWD: scale_bwd_cpu(ref, g, s, n); break;
    case U_CLAMP_FWD: clamp_fwd_cpu(ref, x, n, CLAMP_LO, CLAMP_HI); break;
    case U_CLAMP_BWD: clamp_bwd_cpu(ref, g, x, n, CLAMP_LO, CLAMP_HI); break;
    default: add_scalar_fwd_cpu(ref, x, s, n); break;
    }
    float *d_x = twin_d(&P, x, n), *d_g = twin_d(&P, g, n), *d_o = twin_d(&P, bwd ? init : NULL, n);
    if (P.failed) goto done;
    silt_status st;
    switch (op) {
    case U_GELU_ERF_BWD: st = gelu_bwd_cuda(d_o, d_g, d_x, n, 0); break;
    case U_GELU_TANH_BWD: st = gelu_bwd_cuda(d_o, d_g, d_x, n, 1); break;
    case U_SILU_BWD: st = silu_bwd_cuda(d_o, d_g, d_x, n); break;
    case U_TANH_FWD: st = tanh_fwd_cuda(d_o, d_x, n); break;
    case U_TANH_BWD: st = tanh_bwd_cuda(d_o, d_g, d_x, n); break;
    case U_SIGMOID_FWD: st = sigmoid_fwd_cuda(d_o, d_x, n); break;
    case U_SIGMOID_BWD: st = sigmoid_bwd_cuda(d_o, d_g, d_x, n); break;
    case U_SCALE_FWD: st = scale_fwd_cuda(d_o, d_x, s, n); break;
    case U_SCALE_BWD: st = scale_bwd_cuda(d_o, d_g, s, n); break;
    case U_CLAMP_FWD: st = clamp_fwd_cuda(d_o, d_x, n, CLAMP_LO, CLAMP_HI); break;
    case U_CLAMP_BWD: st = clamp_bwd_cuda(d_o, d_g, d_x, n, CLAMP_LO, CLAMP_HI); break;
    default: st = add_scalar_fwd_cuda(d_o, d_x, s, n); break;
    }
    snprintf(what, sizeof what, "%s n=%lld", unary_names[op], (long long)n);
    CHECK_MSG(st == SILT_OK, "%s: %s", what, silt_last_error());
    if (st == SILT_OK && twin_download(got, d_o, n))
        twin_compare(what, got, ref, n, RTOL, bwd ? twin_inc_scale(ref, init, n) : 1e-2);
done:
    twin_pool_free(&P);
}

// --- broadcasting binary ops ------------------------------------------------------

typedef struct {
    int nda, ndb;
    int64_t a[4], b[4];
} bin_shapes;

// Shapes padded to 4 dims and strides as silt_binary computes them; 0 when
// the shapes do not broadcast (a test-table error).
static int broadcast4(const bin_shapes *s, int64_t sa[4], int64_t sb[4], int64_t so[4], int64_t as[4], int64_t bs[4]) {
    for (int d = 0; d < 4; d++) {
        sa[d] = d < 4 - s->nda ? 1 : s->a[d - (4 - s->nda)];
        sb[d] = d < 4 - s->ndb ? 1 : s->b[d - (4 - s->ndb)];
        if (sa[d] != sb[d] && sa[d] != 1 && sb[d] != 1) return 0;
        so[d] = sa[d] > sb[d] ? sa[d] : sb[d];
    }
    int64_t ra = 1, rb = 1;
    for (int d = 3; d >= 0; d--) {
        as[d] = sa[d] == 1 ? 0 : ra;
        bs[d] = sb[d] == 1 ? 0 : rb;
        ra *= sa[d];
        rb *= sb[d];
    }
    return 1;
}

static void binary_case(const bin_shapes *s, silt_binop op) {
    twin_pool P = {0};
    int64_t sa[4], sb[4], so[4], as[4], bs[4];
    if (!broadcast4(s, sa, sb, so, as, bs)) {
        CHECK_MSG(0, "test table: shapes do not broadcast");
        return;
    }
    int64_t na = sa[0] * sa[1] * sa[2] * sa[3], nb = sb[0] * sb[1] * sb[2] * sb[3], no = so[0] * so[1] * so[2] * so[3];
    char what[160], tag[128];
    snprintf(tag, sizeof tag, "%s (%lld,%lld,%lld,%lld) (%lld,%lld,%lld,%lld)", silt_binop_name(op), (long long)sa[0],
             (long long)sa[1], (long long)sa[2], (long long)sa[3], (long long)sb[0], (long long)sb[1], (long long)sb[2],
             (long long)sb[3]);
    float *a = twin_h(&P, na), *b = twin_h(&P, nb), *ref = twin_h(&P, no), *got = twin_h(&P, no);
    if (P.failed) goto done;
    test_fill(a, na, -2, 2);
    test_fill(b, nb, -2, 2);
    if (op == SILT_BINOP_DIV)  // |b| in [0.5, 2]
        for (int64_t i = 0; i < nb; i++) b[i] = (b[i] < 0 ? -1.0f : 1.0f) * (0.5f + 0.75f * fabsf(b[i]));
    binary_fwd_cpu(ref, a, b, so, as, bs, op);
    float *d_a = twin_d(&P, a, na), *d_b = twin_d(&P, b, nb), *d_o = twin_d(&P, NULL, no);
    if (P.failed) goto done;
    CHECK_OK(binary_fwd_cuda(d_o, d_a, d_b, so, as, bs, op));
    if (!twin_download(got, d_o, no)) goto done;
    snprintf(what, sizeof what, "binary_fwd %s", tag);
    twin_compare(what, got, ref, no, RTOL, twin_rms(ref, no));

    float *g = twin_h(&P, no), *da0 = twin_h(&P, na), *db0 = twin_h(&P, nb), *dag = twin_h(&P, na), *dbg = twin_h(&P, nb);
    float *db2 = twin_h(&P, nb);
    if (P.failed) goto done;
    test_fill(g, no, -1, 1);
    test_fill(da0, na, -1, 1);
    test_fill(db0, nb, -1, 1);
    float *dar = twin_h(&P, na), *dbr = twin_h(&P, nb);
    if (P.failed) goto done;
    binary_bwd_cpu(dar, dbr, g, a, b, so, as, bs, op);  // increments from zeros
    twin_scale_init(da0, na, dar);
    twin_scale_init(db0, nb, dbr);
    twin_copy(dar, da0, na);
    twin_copy(dbr, db0, nb);
    binary_bwd_cpu(dar, dbr, g, a, b, so, as, bs, op);
    float *d_g = twin_d(&P, g, no), *d_da = twin_d(&P, da0, na), *d_db = twin_d(&P, db0, nb);
    if (P.failed) goto done;
    // add and sub never read a and b: pass NULL to prove it.
    int reads = op == SILT_BINOP_MUL || op == SILT_BINOP_DIV;
    CHECK_OK(binary_bwd_cuda(d_da, d_db, d_g, reads ? d_a : NULL, reads ? d_b : NULL, so, as, bs, op));
    if (!twin_download(dag, d_da, na) || !twin_download(dbg, d_db, nb)) goto done;
    snprintf(what, sizeof what, "binary_bwd da %s", tag);
    twin_compare(what, dag, dar, na, RTOL, twin_inc_scale(dar, da0, na));
    snprintf(what, sizeof what, "binary_bwd db %s", tag);
    twin_compare(what, dbg, dbr, nb, RTOL, twin_inc_scale(dbr, db0, nb));
    if (!twin_reset(d_db, db0, nb)) goto done;
    CHECK_OK(binary_bwd_cuda(NULL, d_db, d_g, d_a, d_b, so, as, bs, op));
    if (twin_download(db2, d_db, nb)) {
        snprintf(what, sizeof what, "binary_bwd db rerun %s", tag);
        twin_same_bits(what, db2, dbg, nb);
    }
done:
    twin_pool_free(&P);
}

// NaN passes clamp's forward and gets no gradient (the CPU's comparisons,
// not fminf/fmaxf, which would return a bound).
static void clamp_nan(void) {
    const float x[3] = {NAN, -5.0f, 5.0f}, ones[3] = {1, 1, 1};
    float y[3], dx[3];
    float *d_x = twin_upload(x, 3), *d_g = twin_upload(ones, 3), *d_y = twin_upload(NULL, 3), *d_dx = twin_upload(ones, 3);
    if (d_x && d_g && d_y && d_dx) {
        CHECK_OK(clamp_fwd_cuda(d_y, d_x, 3, CLAMP_LO, CLAMP_HI));
        CHECK_OK(clamp_bwd_cuda(d_dx, d_g, d_x, 3, CLAMP_LO, CLAMP_HI));
        if (twin_download(y, d_y, 3) && twin_download(dx, d_dx, 3)) {
            CHECK_MSG(isnan(y[0]) && y[1] == CLAMP_LO && y[2] == CLAMP_HI, "clamp NaN fwd: %g %g %g", y[0], y[1], y[2]);
            CHECK_MSG(dx[0] == 1 && dx[1] == 1 && dx[2] == 1, "clamp NaN bwd: %g %g %g", dx[0], dx[1], dx[2]);
        }
    }
    silt_cuda_free(d_x);
    silt_cuda_free(d_g);
    silt_cuda_free(d_y);
    silt_cuda_free(d_dx);
}

static void test_errors(void) {
    float *d = NULL;
    if (silt_cuda_malloc((void **)&d, 64 * sizeof(float)) != SILT_OK) {
        CHECK_MSG(0, "alloc: %s", silt_last_error());
        return;
    }
    int64_t sh[4] = {1, 1, 2, 3}, st[4] = {0, 0, 3, 1}, neg[4] = {1, 1, -2, 3}, z[4] = {1, 0, 2, 3};
    TWIN_EXPECT(SILT_ERR_ARG, gelu_bwd_cuda(d, d, d, 4, 3));
    TWIN_EXPECT(SILT_ERR_ARG, silu_bwd_cuda(d, NULL, d, 4));
    TWIN_EXPECT(SILT_ERR_ARG, tanh_fwd_cuda(d, d, -1));
    TWIN_EXPECT(SILT_OK, sigmoid_bwd_cuda(NULL, NULL, NULL, 0));
    TWIN_EXPECT(SILT_ERR_ARG, clamp_fwd_cuda(d, NULL, 4, -1.0f, 1.0f));
    TWIN_EXPECT(SILT_ERR_ARG, clamp_bwd_cuda(d, d, NULL, 4, -1.0f, 1.0f));
    TWIN_EXPECT(SILT_OK, clamp_bwd_cuda(NULL, NULL, NULL, 0, -1.0f, 1.0f));
    TWIN_EXPECT(SILT_ERR_ARG, binary_fwd_cuda(d, d, d, sh, st, st, SILT_BINOP_COUNT));
    TWIN_EXPECT(SILT_ERR_ARG, binary_fwd_cuda(d, d, d, neg, st, st, SILT_BINOP_ADD));
    TWIN_EXPECT(SILT_ERR_ARG, binary_fwd_cuda(d, d, d, NULL, st, st, SILT_BINOP_ADD));
    TWIN_EXPECT(SILT_ERR_ARG, binary_fwd_cuda(d, NULL, d, sh, st, st, SILT_BINOP_ADD));
    TWIN_EXPECT(SILT_OK, binary_fwd_cuda(NULL, NULL, NULL, z, st, st, SILT_BINOP_ADD));  // empty
    TWIN_EXPECT(SILT_ERR_ARG, binary_bwd_cuda(d, d, d, NULL, d, sh, st, st, SILT_BINOP_MUL));
    TWIN_EXPECT(SILT_OK, binary_bwd_cuda(d, d, d, NULL, NULL, sh, st, st, SILT_BINOP_SUB));
    CHECK_OK(silt_cuda_sync());
    silt_cuda_free(d);
}

int main(void) {
    if (!twin_start()) return 77;
    test_seed(20240614);
    test_errors();
    clamp_nan();
    const int64_t sizes[] = {1, 7, 33, 1000, 65537, 9000001};
    for (int op = 0; op < U_COUNT; op++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) unary_case(op, sizes[s]);

    const bin_shapes shapes[] = {
        {4, 4, {3, 5, 7, 9}, {3, 5, 7, 9}},        // same shape
        {3, 1, {2, 33, 127}, {127}},               // bias over rows
        {3, 3, {2, 33, 127}, {2, 33, 1}},          // per-row column
        {4, 4, {2, 16, 9, 11}, {1, 16, 1, 1}},     // NCHW channel
        {3, 1, {5, 7, 1000}, {1}},                 // scalar
        {3, 3, {4, 1, 7}, {1, 5, 1}},              // both broadcast
        {4, 4, {1, 3, 1, 5}, {2, 1, 4, 1}},        // interleaved
        {1, 3, {7}, {3, 33, 7}},                   // a broadcast, b full
        {3, 3, {8, 256, 1152}, {1, 256, 1152}},    // DiT pos-embed add
        {4, 4, {6, 1, 1, 1}, {6, 2, 3, 1}},        // trailing size-1 dim
        {3, 3, {3, 1, 2049}, {3, 700, 1}},         // long rows both ways
        {2, 2, {1, 1}, {1, 1}},                    // one element
    };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int op = 0; op < SILT_BINOP_COUNT; op++) binary_case(&shapes[s], (silt_binop)op);
    return check_summary();
}
