// CUDA twins vs CPU references on random inputs, over shape lists with odd
// sizes, every transpose combination and batch 1 and 3. Exit 77 (SKIP) when
// no GPU is usable.
//
// References: matrix products through silt_sgemm (core/blas.h, fp32 BLAS);
// nn.Linear written out in double; the elementwise ops and the Philox
// normals through their CPU twins (gelu_fwd_cpu, silu_fwd_cpu, add_fwd_cpu,
// silt_rng_normal), which the unit tests check against plain formulas.
//
// Tolerances (scale-aware): an element passes when
//     |got - ref| <= rtol * (|ref| + scale)
// - products: rtol 1e-4 (fp32) or 1e-2 (bf16), scale = sqrt(K) * rms(a) * rms(b),
//   the typical size of a length-K dot product of such inputs. A pure relative
//   test is meaningless for outputs that cancel to near zero; both sides sum in
//   a different order, with error ~ eps * sqrt(K) * rms(a) * rms(b).
// - elementwise: rtol 1e-4, scale 1e-2 (an absolute floor of 1e-6, which
//   covers the cancellation in 1 + erf(x) for x << 0 in fp32).
// Each case prints max abs error, max scale-aware relative error
// |got-ref| / (|ref| + scale), and the share of the tolerance used.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/blas.h"
#include "core/ops_elementwise.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "cuda/cuda.h"
#include "gpu_test.h"

static int quiet_ok;  // print passing cases? (failures always print)

// Compares and reports one case; returns 1 on pass.
static int compare(const char *what, const float *got, const float *ref, int64_t n, double rtol, double scale) {
    double max_abs = 0, max_rel = 0;
    int64_t bad = 0, worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)ref[i]);
        double rel = d / (fabs((double)ref[i]) + scale);
        if (isnan(d)) rel = INFINITY;
        if (!(rel <= rtol)) bad++;
        if (rel > max_rel || i == 0) { max_rel = rel; worst = i; }
        if (d > max_abs) max_abs = d;
    }
    double share = max_rel / rtol;
    if (!bad && !quiet_ok)
        printf("ok   %-48s max_abs %.2e max_rel %.2e tol_used %5.1f%%\n", what, max_abs, max_rel, 100 * share);
    CHECK_MSG(bad == 0, "%s: %lld/%lld off, max_abs %.3g max_rel %.3g (tol %.0e, %.0f%% used); [%lld] got %.8g want %.8g",
              what, (long long)bad, (long long)n, max_abs, max_rel, rtol, 100 * share, (long long)worst,
              n ? got[worst] : 0.0, n ? ref[worst] : 0.0);
    return bad == 0;
}

static double rms(const float *x, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return n ? sqrt(s / (double)n) : 0;
}

// Device buffer with `bytes` copied from host (or zeroed when host is NULL).
static void *upload(const void *host, size_t bytes) {
    void *d = NULL;
    if (silt_cuda_malloc(&d, bytes) != SILT_OK) {
        CHECK_MSG(0, "device alloc of %zu bytes: %s", bytes, silt_last_error());
        return NULL;
    }
    silt_status s = host ? silt_cuda_memcpy_h2d(d, host, bytes) : silt_cuda_memset(d, 0, bytes);
    if (s != SILT_OK) {
        CHECK_MSG(0, "upload: %s", silt_last_error());
        silt_cuda_free(d);
        return NULL;
    }
    return d;
}

static int download(void *host, const void *dev, size_t bytes) {
    silt_status s = silt_cuda_sync();
    if (s == SILT_OK) s = silt_cuda_memcpy_d2h(host, dev, bytes);
    CHECK_MSG(s == SILT_OK, "download: %s", silt_last_error());
    return s == SILT_OK;
}

static float *host_f32(int64_t n) { return (float *)calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

// Row-major reference: out (batch,M,N) = op(a) @ op(b), per batch via BLAS.
static void matmul_ref(float *out, const float *a, const float *b, int64_t batch, int64_t M, int64_t N, int64_t K,
                       bool ta, bool tb) {
    for (int64_t p = 0; p < batch; p++)
        silt_sgemm(ta, tb, M, N, K, 1.0f, a + p * M * K, ta ? M : K, b + p * K * N, tb ? K : N, 0.0f, out + p * M * N,
                   N);
}

// One matmul case in fp32 (bf16 = false) or bf16.
static void matmul_case(int64_t batch, int64_t M, int64_t N, int64_t K, bool ta, bool tb, bool bf16, double rtol,
                        const char *tag) {
    int64_t na = batch * M * K, nb = batch * K * N, nc = batch * M * N;
    float *a = host_f32(na), *b = host_f32(nb), *ref = host_f32(nc), *got = host_f32(nc);
    uint16_t *a16 = calloc((size_t)na + 1, 2), *b16 = calloc((size_t)nb + 1, 2), *c16 = calloc((size_t)nc + 1, 2);
    void *da = NULL, *db = NULL, *dc = NULL;
    if (!a || !b || !ref || !got || !a16 || !b16 || !c16) { CHECK_MSG(0, "host alloc"); goto done; }
    test_fill(a, na, -1, 1);
    test_fill(b, nb, -1, 1);
    if (bf16) {  // the reference sees exactly the rounded inputs
        for (int64_t i = 0; i < na; i++) { a16[i] = silt_f32_to_bf16(a[i]); a[i] = silt_bf16_to_f32(a16[i]); }
        for (int64_t i = 0; i < nb; i++) { b16[i] = silt_f32_to_bf16(b[i]); b[i] = silt_bf16_to_f32(b16[i]); }
    }
    matmul_ref(ref, a, b, batch, M, N, K, ta, tb);
    size_t es = bf16 ? 2 : 4;
    da = upload(bf16 ? (void *)a16 : (void *)a, (size_t)na * es);
    db = upload(bf16 ? (void *)b16 : (void *)b, (size_t)nb * es);
    dc = upload(NULL, (size_t)nc * es);
    if (!da || !db || !dc) goto done;
    char what[128];
    snprintf(what, sizeof what, "%s b%lld M%lld N%lld K%lld %c%c", tag, (long long)batch, (long long)M, (long long)N,
             (long long)K, ta ? 'T' : 'N', tb ? 'T' : 'N');
    silt_status s = bf16 ? matmul_fwd_cuda_bf16(dc, da, db, batch, M, N, K, ta, tb)
                         : matmul_fwd_cuda(dc, da, db, batch, M, N, K, ta, tb);
    CHECK_MSG(s == SILT_OK, "%s: %s", what, silt_last_error());
    if (s != SILT_OK) goto done;
    if (bf16) {
        if (!download(c16, dc, (size_t)nc * 2)) goto done;
        for (int64_t i = 0; i < nc; i++) got[i] = silt_bf16_to_f32(c16[i]);
    } else if (!download(got, dc, (size_t)nc * 4)) goto done;
    compare(what, got, ref, nc, rtol, sqrt((double)K) * rms(a, na) * rms(b, nb));
done:
    silt_cuda_free(da);
    silt_cuda_free(db);
    silt_cuda_free(dc);
    free(a); free(b); free(ref); free(got); free(a16); free(b16); free(c16);
}

static void test_matmul(bool bf16) {
    const char *tag = bf16 ? "matmul_bf16" : "matmul_f32";
    double rtol = bf16 ? 1e-2 : 1e-4;
    // Every combination of small odd sizes, all transposes; batch alternates.
    const int64_t small[] = {1, 7, 33, 127};
    int c = 0;
    quiet_ok = 1;  // 256 cases: print failures only, then one line
    int before = check_failed_;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 4; k++)
                for (int t = 0; t < 4; t++, c++)
                    matmul_case(c % 2 ? 3 : 1, small[i], small[j], small[k], t & 1, t & 2, bf16, rtol, tag);
    quiet_ok = 0;
    printf("%s: %d small cases (M,N,K in 1,7,33,127, all transposes, batch 1/3): %s\n", tag, c,
           check_failed_ == before ? "all ok" : "FAILURES above");
    // Larger shapes, each printed.
    const int64_t big[][3] = {{256, 256, 256}, {1000, 1000, 1000}, {1000, 7, 1000}, {7, 1000, 1000},
                              {33, 1000, 256}, {1000, 256, 127},  {256, 1000, 1}};
    for (size_t s = 0; s < sizeof big / sizeof *big; s++)
        for (int t = 0; t < 4; t++)
            for (int64_t batch = 1; batch <= 3; batch += 2) {
                if (bf16 && batch == 3) continue;
                matmul_case(batch, big[s][0], big[s][1], big[s][2], t & 1, t & 2, bf16, rtol, tag);
            }
}

// TF32 trades precision for speed: on, it still lands within 1e-2.
static void test_tf32(void) {
    CHECK(!silt_cuda_set_allow_tf32(true));
    matmul_case(1, 256, 1000, 1000, false, true, false, 1e-2, "matmul_tf32");
    CHECK(silt_cuda_set_allow_tf32(false));
}

// shift: every device buffer starts `shift` floats past its allocation, so
// the cuBLASLt path (a bias) meets 4- and 8-byte aligned operands too.
static void linear_case(int64_t N, int64_t in_f, int64_t out_f, bool with_bias, int shift) {
    float *x = host_f32(N * in_f), *w = host_f32(out_f * in_f), *bias = host_f32(out_f), *ref = host_f32(N * out_f),
          *got = host_f32(N * out_f);
    void *dx = NULL, *dw = NULL, *db = NULL, *dout = NULL;
    if (!x || !w || !bias || !ref || !got) { CHECK_MSG(0, "host alloc"); goto done; }
    test_fill(x, N * in_f, -2, 2);
    test_fill(w, out_f * in_f, -0.5f, 0.5f);
    test_fill(bias, out_f, -1, 1);
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < out_f; o++) {
            double acc = with_bias ? bias[o] : 0;
            for (int64_t i = 0; i < in_f; i++) acc += (double)x[n * in_f + i] * w[o * in_f + i];
            ref[n * out_f + o] = (float)acc;
        }
    dx = upload(NULL, (size_t)(N * in_f + shift) * 4);
    dw = upload(NULL, (size_t)(out_f * in_f + shift) * 4);
    db = upload(NULL, (size_t)(out_f + shift) * 4);
    dout = upload(NULL, (size_t)(N * out_f + shift) * 4);
    if (!dx || !dw || !db || !dout) goto done;
    float *sx = (float *)dx + shift, *sw = (float *)dw + shift, *sb = (float *)db + shift, *so = (float *)dout + shift;
    CHECK_OK(silt_cuda_memcpy_h2d(sx, x, (size_t)(N * in_f) * 4));
    CHECK_OK(silt_cuda_memcpy_h2d(sw, w, (size_t)(out_f * in_f) * 4));
    CHECK_OK(silt_cuda_memcpy_h2d(sb, bias, (size_t)out_f * 4));
    char what[128];
    snprintf(what, sizeof what, "linear N%lld in%lld out%lld %s shift %d", (long long)N, (long long)in_f,
             (long long)out_f, with_bias ? "bias" : "no-bias", shift);
    silt_status s = linear_fwd_cuda(so, sx, sw, with_bias ? sb : NULL, N, in_f, out_f);
    CHECK_MSG(s == SILT_OK, "%s: %s", what, silt_last_error());
    if (s == SILT_OK && download(got, so, (size_t)(N * out_f) * 4))
        compare(what, got, ref, N * out_f, 1e-4, sqrt((double)in_f) * rms(x, N * in_f) * rms(w, out_f * in_f));
done:
    silt_cuda_free(dx);
    silt_cuda_free(dw);
    silt_cuda_free(db);
    silt_cuda_free(dout);
    free(x); free(w); free(bias); free(ref); free(got);
}

static void test_linear(void) {
    const int64_t shapes[][3] = {{1, 1, 1}, {7, 33, 127}, {33, 127, 7}, {127, 256, 1000}, {1000, 256, 33}, {3, 1000, 1}};
    uint64_t lt0 = 0, plain0 = 0, lt1 = 0, plain1 = 0, lt2 = 0, plain2 = 0;
    silt_cuda_linear_paths(&lt0, &plain0);
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int b = 0; b < 2; b++) linear_case(shapes[s][0], shapes[s][1], shapes[s][2], b, 0);
    // Aligned biases take cuBLASLt (unless SILT_CUBLASLT=0): say how many did, so
    // a run shows the fused path ran rather than its fallback everywhere.
    silt_cuda_linear_paths(&lt1, &plain1);
    const char *off = getenv("SILT_CUBLASLT");
    printf("linear: %llu calls through the cuBLASLt bias epilogue, %llu plain (SILT_CUBLASLT=%s)\n",
           (unsigned long long)(lt1 - lt0), (unsigned long long)(plain1 - plain0), off ? off : "unset");
    CHECK_MSG((off && !strcmp(off, "0")) ? lt1 == lt0 : lt1 - lt0 >= 3, "cuBLASLt took %llu of the 6 biased cases",
              (unsigned long long)(lt1 - lt0));
    // Misaligned operands, and the same shapes again (the cached cuBLASLt plans
    // are keyed by alignment); a bias off 16 bytes takes the plain path.
    linear_case(127, 256, 1000, true, 0);
    linear_case(127, 256, 1000, true, 4);  // 16-byte aligned, the others' alignment differs
    silt_cuda_linear_paths(&lt1, &plain1);
    linear_case(127, 256, 1000, true, 1);
    linear_case(33, 127, 7, true, 2);
    linear_case(127, 256, 1000, true, 1);
    silt_cuda_linear_paths(&lt2, &plain2);
    CHECK_MSG(lt2 == lt1 && plain2 - plain1 == 3, "misaligned biases: %llu cuBLASLt, %llu plain (want 0 and 3)",
              (unsigned long long)(lt2 - lt1), (unsigned long long)(plain2 - plain1));
}

enum { OP_GELU_ERF, OP_GELU_TANH, OP_SILU, OP_ADD, OP_ADD_ALIAS };

static double ref_op(int op, double x, double y) {
    switch (op) {
    case OP_GELU_ERF: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case OP_GELU_TANH: return 0.5 * x * (1 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case OP_SILU: return x / (1 + exp(-x));
    default: return x + y;
    }
}

static void elementwise_case(int op, int64_t n) {
    static const char *names[] = {"gelu_erf", "gelu_tanh", "silu", "add", "add (out aliases a)"};
    float *x = host_f32(n), *y = host_f32(n), *ref = host_f32(n), *got = host_f32(n);
    void *dx = NULL, *dy = NULL, *dout = NULL;
    if (!x || !y || !ref || !got) { CHECK_MSG(0, "host alloc"); goto done; }
    test_fill(x, n, -8, 8);
    test_fill(y, n, -8, 8);
    if (n > 4) { x[0] = 0; x[1] = -30; x[2] = 30; x[3] = -1e-20f; }  // zero, saturation, tiny
    switch (op) {  // the CPU twin is the reference
    case OP_GELU_ERF: gelu_fwd_cpu(ref, x, n, 0); break;
    case OP_GELU_TANH: gelu_fwd_cpu(ref, x, n, 1); break;
    case OP_SILU: silu_fwd_cpu(ref, x, n); break;
    default: add_fwd_cpu(ref, x, y, n); break;
    }
    // ...and the twin must also agree with the formula in double.
    for (int64_t i = 0; i < n && i < 4096; i++)
        CHECK_MSG(fabs(ref[i] - ref_op(op, x[i], y[i])) <= 1e-4 * (fabs(ref_op(op, x[i], y[i])) + 1e-2), "cpu twin %d", op);
    dx = upload(x, (size_t)n * 4);
    dy = upload(y, (size_t)n * 4);
    dout = op == OP_ADD_ALIAS ? dx : upload(NULL, (size_t)n * 4);
    if (!dx || !dy || !dout) goto done;
    silt_status s;
    switch (op) {
    case OP_GELU_ERF: s = gelu_fwd_cuda(dout, dx, n, 0); break;
    case OP_GELU_TANH: s = gelu_fwd_cuda(dout, dx, n, 1); break;
    case OP_SILU: s = silu_fwd_cuda(dout, dx, n); break;
    default: s = add_fwd_cuda(dout, dx, dy, n); break;
    }
    char what[96];
    snprintf(what, sizeof what, "%s n=%lld", names[op], (long long)n);
    CHECK_MSG(s == SILT_OK, "%s: %s", what, silt_last_error());
    if (s == SILT_OK && download(got, dout, (size_t)n * 4)) compare(what, got, ref, n, 1e-4, 1e-2);
done:
    if (dout != dx) silt_cuda_free(dout);
    silt_cuda_free(dx);
    silt_cuda_free(dy);
    free(x); free(y); free(ref); free(got);
}

static void test_elementwise(void) {
    // 9,000,001 exceeds one pass of the capped grid (32768 x 256), so the
    // grid-stride loop runs more than once.
    const int64_t sizes[] = {1, 7, 33, 1000, 65537, 9000001};
    for (int op = OP_GELU_ERF; op <= OP_ADD_ALIAS; op++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) elementwise_case(op, sizes[s]);
}

// Philox normals: the same (seed, stream, offset) gives the same numbers on
// both devices (integer words exact; normals within a few ulp of logf/cosf).
static void test_rng(void) {
    const int64_t sizes[] = {1, 7, 1000, 1000003};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int64_t n = sizes[s];
        float *ref = host_f32(n), *got = host_f32(n);
        void *d = upload(NULL, (size_t)n * 4);
        if (!ref || !got || !d) { CHECK_MSG(0, "alloc"); free(ref); free(got); silt_cuda_free(d); continue; }
        uint64_t seed = 1234 + (uint64_t)s, stream = 5, offset = 3 * (uint64_t)s + 1;  // odd offsets too
        silt_rng_normal(ref, n, seed, stream, offset);
        silt_status st = silt_rng_normal_cuda(d, n, seed, stream, offset);
        CHECK_MSG(st == SILT_OK, "rng: %s", silt_last_error());
        char what[64];
        snprintf(what, sizeof what, "philox normal n=%lld", (long long)n);
        if (st == SILT_OK && download(got, d, (size_t)n * 4)) compare(what, got, ref, n, 1e-5, 1e-5);
        free(ref); free(got); silt_cuda_free(d);
    }
}

static void test_tensors(void) {
    int64_t shape[3] = {3, 5, 7};
    silt_tensor *z = silt_tensor_create_cuda(SILT_F32, 3, shape);
    CHECK(z && z->device == SILT_CUDA && z->owns_data && !z->grad);
    silt_tensor *zh = NULL;
    if (z) CHECK_OK(silt_tensor_to_cpu(z, &zh));
    if (zh) {
        int zero = 1;
        for (int64_t i = 0; i < silt_numel(zh); i++) zero &= silt_f32(zh)[i] == 0;
        CHECK_MSG(zero, "silt_tensor_create_cuda must zero-fill");
    }
    silt_tensor_free(zh);
    silt_tensor_free_cuda(z);
    for (int dt = SILT_F32; dt < SILT_DTYPE_COUNT; dt++) {
        silt_tensor *h = silt_tensor_create((silt_dtype)dt, 3, shape, false), *d = NULL, *back = NULL;
        if (!h) { CHECK_MSG(0, "host tensor"); continue; }
        unsigned char *bytes = h->data;
        for (size_t i = 0; i < silt_nbytes(h); i++) bytes[i] = (unsigned char)(i * 131 + 7);
        CHECK_OK(silt_tensor_to_cuda(h, &d));
        if (d) CHECK_OK(silt_tensor_to_cpu(d, &back));
        CHECK_MSG(back && back->dtype == h->dtype && silt_same_shape(back, h) &&
                      memcmp(back->data, h->data, silt_nbytes(h)) == 0,
                  "%s tensor round trip", silt_dtype_name((silt_dtype)dt));
        // Direction checks: the wrong source device is refused, *out untouched.
        silt_tensor *keep = h;
        CHECK(silt_tensor_to_cpu(h, &keep) == SILT_ERR_ARG && keep == h);
        if (d) CHECK(silt_tensor_to_cuda(d, &keep) == SILT_ERR_ARG && keep == h);
        silt_tensor_free_cuda(d);
        silt_tensor_free(back);
        silt_tensor_free(h);
    }
}

static void test_errors(void) {
    float *d = NULL;
    CHECK_OK(silt_cuda_malloc((void **)&d, 64 * sizeof(float)));
    CHECK(matmul_fwd_cuda(d, d, d, 1, -1, 2, 2, false, false) == SILT_ERR_ARG);
    CHECK(matmul_fwd_cuda(d, d, d, 1, (int64_t)1 << 32, 1, 1, false, false) == SILT_ERR_UNSUPPORTED);
    CHECK(matmul_fwd_cuda(NULL, d, d, 1, 2, 2, 2, false, false) == SILT_ERR_ARG);
    CHECK(gelu_fwd_cuda(d, d, 4, 2) == SILT_ERR_ARG);
    CHECK(silu_fwd_cuda(d, d, -1) == SILT_ERR_ARG);
    CHECK(add_fwd_cuda(d, NULL, d, 4) == SILT_ERR_ARG);
    CHECK_OK(add_fwd_cuda(NULL, NULL, NULL, 0));  // empty: nothing to do
    CHECK(silt_cuda_memcpy_h2d(NULL, d, 4) == SILT_ERR_ARG);
    // K == 0: an empty sum is zero, whatever was in out.
    float ones[6] = {1, 1, 1, 1, 1, 1}, got[6];
    CHECK_OK(silt_cuda_memcpy_h2d(d, ones, sizeof ones));
    CHECK_OK(matmul_fwd_cuda(d, d + 16, d + 32, 1, 2, 3, 0, false, false));
    if (download(got, d, sizeof got)) CHECK(got[0] == 0 && got[5] == 0);
    // A huge allocation fails as SILT_ERR_OOM, with the pointer untouched.
    void *p = &ones;
    CHECK(silt_cuda_malloc(&p, (size_t)1 << 50) == SILT_ERR_OOM && p == &ones);
    CHECK_OK(silt_cuda_sync());
    silt_cuda_free(d);
}

int main(void) {
    GPU_TEST_START();
    test_seed(20240607);
    test_tensors();
    test_errors();
    test_matmul(false);
    test_matmul(true);
    test_tf32();
    test_linear();
    test_elementwise();
    test_rng();
    return check_summary();
}
