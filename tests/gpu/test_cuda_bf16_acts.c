// The bf16-activation kernels of the inference path (bf16 weights, DiT and
// SD3 blocks) against their CPU composition, then the graph ops against the
// fp32 graph ops they replace. Exit 77 (SKIP) when no GPU is usable.
//
// - ln_modulate_bf16_fwd_cuda vs layernorm_fwd_cpu -> modulate_fwd_cpu ->
//   silt_f32_to_bf16, and gelu_bf16_fwd_cuda vs gelu_fwd_cpu -> rounding
//   (both forms; the 4-wide path, an odd n and a misaligned x for the scalar
//   one). The fp32 values on the two sides differ by a few fp32 ulp (another
//   summation order, CUDA's expf and erff vs the CPU's), so a rounding to bf16
//   may land on the other side of a tie: every element must be within one
//   bf16 ulp of the reference (|got - ref| <= 2^-7 |value| when rounding
//   flips), and at most 0.1% of them may differ at all (expected: ~1e-4).
//   The erf GELU's values under 0.05 get 1e-6 more and no flip count: its
//   1 + erf(x) cancels on both sides for x < -2. Outputs are poisoned
//   (0xFFFF, a NaN) so an unwritten element fails.
// - linear_fwd_cuda_bf16 (x already bf16) gives the same bits as
//   linear_fwd_cuda_bf16w (x rounded inside), with and without a bias, and
//   both match the CPU product of the rounded operands within 1e-4 of
//   rms(ref) (both sides accumulate exactly representable products in fp32).
// - linear_gelu_fwd_cuda_bf16 (cuBLASLt's GELU-bias epilogue with a bf16
//   output when it has a plan, else the product into scratch and
//   gelu_bf16_fwd_cuda) vs gelu_fwd_cpu(linear_fwd_cpu(rounded operands))
//   rounded: every element within one bf16 ulp plus 1e-3 rms(ref) (the
//   epilogue's GELU may be another formula of the tanh form, or the erf one:
//   they differ by < 5e-4, inside that); which path ran is printed.
// - dit_merge_heads_bf16_fwd_cuda: the heads' transposition, rounded: bit for
//   bit the host's (a copy and one rounding), odd sizes.
// - Graph ops on a CUDA graph with bf16 weights: an adaLN + MLP through
//   silt_ln_modulate_bf16 / silt_linear_gelu_bf16 vs the fp32 ops (relative
//   L2 < 1e-2, bf16 rounding of the two linears' inputs); a gradient asked
//   for fails the graph (no backward).
#include "core/graph.h"
#include "core/ops.h"
#include "gpu/twin.h"

#define FLIP_SHARE 1e-3

static uint16_t *dev16(int64_t n) {
    void *d = NULL;
    size_t bytes = (size_t)(n > 0 ? n : 1) * 2;
    if (silt_cuda_malloc(&d, bytes + 16) != SILT_OK || silt_cuda_memset(d, 0xFF, bytes + 16) != SILT_OK) {
        CHECK_MSG(0, "device alloc of %zu bytes: %s", bytes, silt_last_error());
        silt_cuda_free(d);
        return NULL;
    }
    return (uint16_t *)d;
}

static int get16(uint16_t *host, const uint16_t *dev, int64_t n) {
    silt_status s = silt_cuda_sync();
    if (s == SILT_OK && n > 0) s = silt_cuda_memcpy_d2h(host, dev, (size_t)n * 2);
    CHECK_MSG(s == SILT_OK, "download: %s", silt_last_error());
    return s == SILT_OK;
}

// got (bf16 bits) against the fp32 reference values `val` rounded on the host.
// Values under `tiny` in magnitude get `tiny_abs` more room than one bf16 ulp
// and are not counted as flips: the erf GELU's 1 + erf(x) cancels for x < -2 on
// both sides (glibc's erff and CUDA's differ by an ulp of 1 there).
static void compare16_tiny(const char *what, const uint16_t *got, const float *val, int64_t n, double tiny,
                           double tiny_abs) {
    int64_t flips = 0, bad = 0, worst = -1;
    for (int64_t i = 0; i < n; i++) {
        uint16_t want = silt_f32_to_bf16(val[i]);
        if (got[i] == want) continue;
        double d = fabs((double)silt_bf16_to_f32(got[i]) - (double)silt_bf16_to_f32(want));
        if (fabs((double)val[i]) < tiny) {
            if (!(d <= ldexp(fabs((double)val[i]), -7) + tiny_abs)) {
                bad++;
                if (worst < 0) worst = i;
            }
            continue;
        }
        flips++;
        if (!(d <= ldexp(fabs((double)val[i]), -7) + 1e-30)) {
            bad++;
            if (worst < 0) worst = i;
        }
    }
    double share = n ? (double)flips / (double)n : 0;
    CHECK_MSG(bad == 0, "%s: %lld/%lld elements more than one bf16 ulp off; [%lld] got %.6g want %.6g (fp32 %.8g)", what,
              (long long)bad, (long long)n, (long long)worst, worst >= 0 ? silt_bf16_to_f32(got[worst]) : 0.0,
              worst >= 0 ? silt_bf16_to_f32(silt_f32_to_bf16(val[worst])) : 0.0, worst >= 0 ? val[worst] : 0.0);
    CHECK_MSG(share <= FLIP_SHARE, "%s: %lld/%lld roundings differ (%.2g > %.0e)", what, (long long)flips, (long long)n,
              share, FLIP_SHARE);
    if (!bad && share <= FLIP_SHARE) printf("ok   %-56s %lld/%lld roundings differ\n", what, (long long)flips, (long long)n);
}

static void compare16(const char *what, const uint16_t *got, const float *val, int64_t n) {
    compare16_tiny(what, got, val, n, 0, 0);
}

static void ln_modulate_case(int64_t B, int64_t T, int64_t C, float eps, int offset_rows) {
    twin_pool P = {0};
    int64_t n = B * T * C, p = B * C;
    char what[96];
    float *x = twin_h(&P, n), *sh = twin_h(&P, p), *sc = twin_h(&P, p), *ln = twin_h(&P, n), *ref = twin_h(&P, n);
    uint16_t *got = calloc((size_t)n + 1, 2), *d_o = NULL;
    if (P.failed || !got) goto done;
    test_fill(x, n, -3, 3);
    // Rows with |mean| >> std: the double mean (as layernorm_fwd_cpu) matters there.
    for (int64_t r = 0; r < offset_rows && r < B * T; r++)
        for (int64_t c = 0; c < C; c++) x[r * C + c] = 10.0f + 0.01f * x[r * C + c];
    test_fill(sh, p, -1, 1);
    test_fill(sc, p, -1, 1);
    layernorm_fwd_cpu(ln, NULL, NULL, x, NULL, NULL, B * T, C, eps);
    modulate_fwd_cpu(ref, ln, sh, sc, B, T, C);
    float *d_x = twin_d(&P, x, n), *d_sh = twin_d(&P, sh, p), *d_sc = twin_d(&P, sc, p);
    d_o = dev16(n);
    if (P.failed || !d_o) goto done;
    CHECK_OK(ln_modulate_bf16_fwd_cuda(d_o, d_x, d_sh, d_sc, B, T, C, eps));
    if (!get16(got, d_o, n + 1)) goto done;
    snprintf(what, sizeof what, "ln_modulate_bf16 B%lld T%lld C%lld eps %.0e", (long long)B, (long long)T, (long long)C,
             eps);
    compare16(what, got, ref, n);
    CHECK_MSG(got[n] == 0xFFFF, "%s: wrote past the end", what);
done:
    free(got);
    silt_cuda_free(d_o);
    twin_pool_free(&P);
}

// x at element offset `off` of its buffer (off 1: not 16-byte aligned).
static void gelu_case(int64_t n, int approximate, int off) {
    twin_pool P = {0};
    char what[96];
    float *x = twin_h(&P, n + off), *ref = twin_h(&P, n);
    uint16_t *got = calloc((size_t)n + 1, 2), *d_o = NULL;
    if (P.failed || !got) goto done;
    test_fill(x, n + off, -6, 6);
    if (n > 2) x[off] = 0, x[off + 1] = -20;  // exact zero, and far in the tail
    gelu_fwd_cpu(ref, x + off, n, approximate);
    float *d_x = twin_d(&P, x, n + off);
    d_o = dev16(n);
    if (P.failed || !d_o) goto done;
    CHECK_OK(gelu_bf16_fwd_cuda(d_o, d_x + off, n, approximate));
    if (!get16(got, d_o, n + 1)) goto done;
    snprintf(what, sizeof what, "gelu_bf16 %s n %lld offset %d", approximate ? "tanh" : "erf", (long long)n, off);
    if (approximate) compare16(what, got, ref, n);
    else compare16_tiny(what, got, ref, n, 0.05, 1e-6);
    CHECK_MSG(got[n] == 0xFFFF, "%s: wrote past the end", what);
done:
    free(got);
    silt_cuda_free(d_o);
    twin_pool_free(&P);
}

static void linear_case(int64_t N, int64_t in_f, int64_t out_f, bool with_bias) {
    twin_pool P = {0};
    int64_t nx = N * in_f, nw = out_f * in_f, no = N * out_f;
    char what[96];
    float *x = twin_h(&P, nx), *w = twin_h(&P, nw), *bias = twin_h(&P, out_f), *ref = twin_h(&P, no);
    float *got1 = twin_h(&P, no), *got2 = twin_h(&P, no);
    uint16_t *x16 = calloc((size_t)nx, 2), *w16 = calloc((size_t)nw, 2), *d_x16 = NULL, *d_w16 = NULL, *d_xb = NULL;
    if (P.failed || !x16 || !w16) goto done;
    test_fill(x, nx, -2, 2);
    test_fill(w, nw, -1, 1);
    test_fill(bias, out_f, -1, 1);
    for (int64_t i = 0; i < nx; i++) x16[i] = silt_f32_to_bf16(x[i]);
    for (int64_t i = 0; i < nw; i++) w16[i] = silt_f32_to_bf16(w[i]);
    float *xr = twin_h(&P, nx), *wr = twin_h(&P, nw);  // the rounded operands, in fp32
    if (P.failed) goto done;
    for (int64_t i = 0; i < nx; i++) xr[i] = silt_bf16_to_f32(x16[i]);
    for (int64_t i = 0; i < nw; i++) wr[i] = silt_bf16_to_f32(w16[i]);
    linear_fwd_cpu(ref, xr, wr, with_bias ? bias : NULL, N, in_f, out_f);
    float *d_x = twin_d(&P, x, nx), *d_b = twin_d(&P, bias, out_f), *d_o1 = twin_d(&P, NULL, no),
          *d_o2 = twin_d(&P, NULL, no);
    d_x16 = dev16(nx), d_w16 = dev16(nw), d_xb = dev16(nx);
    if (P.failed || !d_x16 || !d_w16 || !d_xb) goto done;
    CHECK_OK(silt_cuda_memcpy_h2d(d_x16, x16, (size_t)nx * 2));
    CHECK_OK(silt_cuda_memcpy_h2d(d_w16, w16, (size_t)nw * 2));
    CHECK_OK(linear_fwd_cuda_bf16w(d_o1, d_xb, d_x, d_w16, with_bias ? d_b : NULL, N, in_f, out_f));
    CHECK_OK(linear_fwd_cuda_bf16(d_o2, d_x16, d_w16, with_bias ? d_b : NULL, N, in_f, out_f));
    if (!twin_download(got1, d_o1, no) || !twin_download(got2, d_o2, no)) goto done;
    snprintf(what, sizeof what, "linear bf16 x N%lld in %lld out %lld%s", (long long)N, (long long)in_f,
             (long long)out_f, with_bias ? " +bias" : "");
    twin_compare(what, got2, ref, no, 1e-4, twin_rms(ref, no));
    twin_same_bits("linear bf16 x vs x rounded inside", got2, got1, no);
done:
    free(x16);
    free(w16);
    silt_cuda_free(d_x16);
    silt_cuda_free(d_w16);
    silt_cuda_free(d_xb);
    twin_pool_free(&P);
}

static void linear_gelu_case(int64_t N, int64_t in_f, int64_t out_f) {
    twin_pool P = {0};
    int64_t nx = N * in_f, nw = out_f * in_f, no = N * out_f;
    char what[96];
    float *xr = twin_h(&P, nx), *wr = twin_h(&P, nw), *bias = twin_h(&P, out_f), *lin = twin_h(&P, no);
    float *ref = twin_h(&P, no), *got = twin_h(&P, no);
    uint16_t *x16 = calloc((size_t)nx, 2), *w16 = calloc((size_t)nw, 2), *o16 = calloc((size_t)no + 1, 2);
    uint16_t *d_x16 = NULL, *d_w16 = NULL, *d_o = NULL;
    if (P.failed || !x16 || !w16 || !o16) goto done;
    test_fill(xr, nx, -2, 2);
    test_fill(wr, nw, -1.5f / sqrtf((float)in_f), 1.5f / sqrtf((float)in_f));  // pre-activations of size ~1-3
    test_fill(bias, out_f, -1, 1);
    for (int64_t i = 0; i < nx; i++) x16[i] = silt_f32_to_bf16(xr[i]), xr[i] = silt_bf16_to_f32(x16[i]);
    for (int64_t i = 0; i < nw; i++) w16[i] = silt_f32_to_bf16(wr[i]), wr[i] = silt_bf16_to_f32(w16[i]);
    linear_fwd_cpu(lin, xr, wr, bias, N, in_f, out_f);
    gelu_fwd_cpu(ref, lin, no, 1);
    float *d_b = twin_d(&P, bias, out_f), *d_s = twin_d(&P, NULL, no);
    d_x16 = dev16(nx), d_w16 = dev16(nw), d_o = dev16(no);
    if (P.failed || !d_x16 || !d_w16 || !d_o) goto done;
    CHECK_OK(silt_cuda_memcpy_h2d(d_x16, x16, (size_t)nx * 2));
    CHECK_OK(silt_cuda_memcpy_h2d(d_w16, w16, (size_t)nw * 2));
    uint64_t lt0 = 0, lt1 = 0;
    silt_cuda_linear_paths(&lt0, NULL);
    CHECK_OK(linear_gelu_fwd_cuda_bf16(d_o, d_s, d_x16, d_w16, d_b, N, in_f, out_f));
    silt_cuda_linear_paths(&lt1, NULL);
    if (!get16(o16, d_o, no + 1)) goto done;
    for (int64_t i = 0; i < no; i++) got[i] = silt_bf16_to_f32(o16[i]);
    double rms = twin_rms(ref, no);
    int64_t bad = 0, worst = 0;
    double wd = 0;
    for (int64_t i = 0; i < no; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (!(d <= ldexp(fabs((double)ref[i]), -7) + 1e-3 * rms)) bad++;
        if (d > wd || isnan(d)) wd = d, worst = i;
    }
    snprintf(what, sizeof what, "linear_gelu_bf16 N%lld in %lld out %lld (%s)", (long long)N, (long long)in_f,
             (long long)out_f, lt1 > lt0 ? "cuBLASLt GELU epilogue" : "GEMM + gelu_bf16");
    CHECK_MSG(bad == 0, "%s: %lld/%lld off; [%lld] got %.6g want %.6g", what, (long long)bad, (long long)no,
              (long long)worst, got[worst], ref[worst]);
    CHECK_MSG(o16[no] == 0xFFFF, "%s: wrote past the end", what);
    if (!bad) printf("ok   %-56s max_abs %.2e\n", what, wd);
done:
    free(x16), free(w16), free(o16);
    silt_cuda_free(d_x16), silt_cuda_free(d_w16), silt_cuda_free(d_o);
    twin_pool_free(&P);
}

static void merge_heads_case(int64_t B, int64_t H, int64_t T, int64_t Dh) {
    twin_pool P = {0};
    const int64_t n = B * H * T * Dh;
    float *a = twin_h(&P, n);
    uint16_t *want = calloc((size_t)n + 1, 2), *got = calloc((size_t)n + 1, 2), *d_o = NULL;
    if (P.failed || !want || !got) goto done;
    test_fill(a, n, -3, 3);
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t d = 0; d < Dh; d++)
                    want[((b * T + t) * H + h) * Dh + d] = silt_f32_to_bf16(a[((b * H + h) * T + t) * Dh + d]);
    float *d_a = twin_d(&P, a, n);
    d_o = dev16(n);
    if (P.failed || !d_o) goto done;
    CHECK_OK(dit_merge_heads_bf16_fwd_cuda(d_o, d_a, B, H, T, Dh));
    if (!get16(got, d_o, n + 1)) goto done;
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) bad += got[i] != want[i];
    CHECK_MSG(bad == 0 && got[n] == 0xFFFF, "merge_heads_bf16 B%lld H%lld T%lld Dh%lld: %lld elements differ%s",
              (long long)B, (long long)H, (long long)T, (long long)Dh, (long long)bad,
              got[n] == 0xFFFF ? "" : ", wrote past the end");
    if (!bad) printf("ok   merge_heads_bf16 B%lld H%lld T%lld Dh%lld: bit for bit\n", (long long)B, (long long)H,
                     (long long)T, (long long)Dh);
done:
    free(want), free(got);
    silt_cuda_free(d_o);
    twin_pool_free(&P);
}

static double rel_l2(const float *a, const float *b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static float *fetch(const silt_tensor *t) {
    if (!t) return NULL;
    float *h = malloc(sizeof(float) * (size_t)silt_numel(t));
    if (h && silt_cuda_memcpy_d2h(h, t->data, sizeof(float) * (size_t)silt_numel(t)) != SILT_OK) {
        free(h);
        return NULL;
    }
    return h;
}

static silt_tensor *param(const float *host, int ndim, const int64_t *shape, bool bf16) {
    silt_tensor *t = silt_tensor_create_f32(ndim, shape, false);
    if (!t) return NULL;
    memcpy(t->data, host, sizeof(float) * (size_t)silt_numel(t));
    if (silt_tensor_move_to_cuda(t) != SILT_OK || (bf16 && silt_tensor_cuda_to_bf16(t) != SILT_OK)) {
        CHECK_MSG(0, "param to cuda: %s", silt_last_error());
        silt_tensor_free_cuda(t);
        return NULL;
    }
    return t;
}

// One adaLN + MLP as the DiT block runs it, both ways, on a CUDA graph.
static void graph_case(void) {
    const int64_t B = 3, T = 37, D = 96, F = 4 * D;
    float *x = malloc(sizeof(float) * B * T * D), *ss = malloc(sizeof(float) * 2 * B * D);
    float *w1 = malloc(sizeof(float) * F * D), *b1 = malloc(sizeof(float) * F), *w2 = malloc(sizeof(float) * D * F);
    silt_tensor *W1 = NULL, *B1 = NULL, *W2 = NULL;
    silt_graph *g = silt_graph_create_on(SILT_CUDA, 0);
    float *ha = NULL, *hb = NULL;
    if (!x || !ss || !w1 || !b1 || !w2 || !g) {
        CHECK_MSG(0, "graph case setup: %s", silt_last_error());
        goto done;
    }
    test_fill(x, B * T * D, -3, 3);
    test_fill(ss, 2 * B * D, -1, 1);
    test_fill(w1, F * D, -0.2f, 0.2f);
    test_fill(b1, F, -1, 1);
    test_fill(w2, D * F, -0.1f, 0.1f);
    W1 = param(w1, 2, (const int64_t[]){F, D}, true);
    B1 = param(b1, 1, (const int64_t[]){F}, false);
    W2 = param(w2, 2, (const int64_t[]){D, F}, true);
    if (!W1 || !B1 || !W2) goto done;
    CHECK(silt_linear_takes_bf16(g, W1) && !silt_linear_takes_bf16(g, B1) && !silt_linear_takes_bf16(NULL, W1));
    silt_graph_set_grad(g, false);
    for (int fused = 0; fused < 2; fused++) {
        silt_tensor *xt = silt_graph_upload(g, SILT_F32, 3, (const int64_t[]){B, T, D}, x);
        silt_tensor *sh = silt_graph_upload(g, SILT_F32, 2, (const int64_t[]){B, D}, ss);
        silt_tensor *sc = silt_graph_upload(g, SILT_F32, 2, (const int64_t[]){B, D}, ss + B * D);
        silt_tensor *h = fused ? silt_ln_modulate_bf16(g, xt, sh, sc, 1e-6f)
                               : silt_modulate(g, silt_layernorm(g, xt, NULL, NULL, 1e-6f), sh, sc);
        if (fused) CHECK(h && h->dtype == SILT_BF16);
        h = fused ? silt_linear_gelu_bf16(g, h, W1, B1) : silt_gelu(g, silt_linear(g, h, W1, B1), 1);
        if (fused) CHECK(h && h->dtype == SILT_BF16);
        h = silt_linear(g, h, W2, NULL);
        CHECK_MSG(h != NULL, "graph (%s) failed: %s", fused ? "fused" : "fp32 ops", silt_last_error());
        *(fused ? &hb : &ha) = fetch(h);
    }
    if (ha && hb) {
        double e = rel_l2(hb, ha, B * T * D);
        CHECK_MSG(e < 1e-2, "graph: bf16-activation MLP vs the fp32 ops: rel L2 %.3g", e);
        printf("ok   graph adaLN + MLP, bf16 activations vs fp32 ops: rel L2 %.2e (bits %s)\n", e,
               memcmp(ha, hb, sizeof(float) * B * T * D) ? "differ" : "equal");
    }
    // No backward: a gradient asked for fails the graph.
    silt_graph_reset(g);
    silt_graph_set_grad(g, true);
    silt_tensor *xt = silt_graph_upload(g, SILT_F32, 3, (const int64_t[]){B, T, D}, x);
    silt_tensor *sh = silt_graph_upload(g, SILT_F32, 2, (const int64_t[]){B, D}, ss);
    if (xt) xt->requires_grad = true;
    CHECK(silt_ln_modulate_bf16(g, xt, sh, sh, 1e-6f) == NULL);
    CHECK(silt_graph_status(g) == SILT_ERR_UNSUPPORTED);
    silt_graph_reset(g);
    silt_graph_set_grad(g, false);
    xt = silt_graph_upload(g, SILT_F32, 3, (const int64_t[]){B, T, D}, x);
    sh = silt_graph_upload(g, SILT_F32, 2, (const int64_t[]){B, D}, ss);
    silt_tensor *hb16 = silt_ln_modulate_bf16(g, xt, sh, sh, 1e-6f);
    silt_graph_set_grad(g, true);
    if (hb16) hb16->requires_grad = true;
    CHECK(silt_linear_gelu_bf16(g, hb16, W1, B1) == NULL);
    CHECK(silt_graph_status(g) == SILT_ERR_UNSUPPORTED);
    silt_graph_reset(g);  // an f32 x is refused (the op takes silt_ln_modulate_bf16's output)
    xt = silt_graph_upload(g, SILT_F32, 3, (const int64_t[]){B, T, D}, x);
    CHECK(silt_linear_gelu_bf16(g, xt, W1, B1) == NULL);
    CHECK(silt_graph_status(g) == SILT_ERR_ARG);
done:
    free(ha);
    free(hb);
    silt_graph_free(g);
    silt_tensor_free_cuda(W1);
    silt_tensor_free_cuda(B1);
    silt_tensor_free_cuda(W2);
    free(x);
    free(ss);
    free(w1);
    free(b1);
    free(w2);
}

static void test_errors(void) {
    float *d = NULL;
    if (silt_cuda_malloc((void **)&d, 64 * sizeof(float)) != SILT_OK) {
        CHECK_MSG(0, "alloc: %s", silt_last_error());
        return;
    }
    uint16_t *o = (uint16_t *)d;
    TWIN_EXPECT(SILT_ERR_ARG, ln_modulate_bf16_fwd_cuda(o, d, d, d, -1, 2, 2, 1e-6f));
    TWIN_EXPECT(SILT_ERR_ARG, ln_modulate_bf16_fwd_cuda(o, d, NULL, d, 1, 2, 2, 1e-6f));
    TWIN_EXPECT(SILT_OK, ln_modulate_bf16_fwd_cuda(NULL, NULL, NULL, NULL, 3, 0, 2, 1e-6f));
    TWIN_EXPECT(SILT_ERR_ARG, gelu_bf16_fwd_cuda(o, d, 8, 2));
    TWIN_EXPECT(SILT_ERR_ARG, gelu_bf16_fwd_cuda(NULL, d, 8, 1));
    TWIN_EXPECT(SILT_OK, gelu_bf16_fwd_cuda(NULL, NULL, 0, 1));
    TWIN_EXPECT(SILT_ERR_ARG, linear_fwd_cuda_bf16(d, NULL, o, NULL, 2, 4, 2));
    TWIN_EXPECT(SILT_ERR_ARG, linear_gelu_fwd_cuda_bf16(o, d, NULL, o, NULL, 2, 4, 2));
    TWIN_EXPECT(SILT_ERR_ARG, dit_merge_heads_bf16_fwd_cuda(o, NULL, 1, 2, 2, 2));
    TWIN_EXPECT(SILT_ERR_ARG, dit_merge_heads_bf16_fwd_cuda(o, d, -1, 2, 2, 2));
    TWIN_EXPECT(SILT_ERR_ARG, linear_gelu_fwd_cuda_bf16(o, NULL, o, o, NULL, 2, 4, 2));  // no plan, no scratch
    CHECK_OK(silt_cuda_sync());
    silt_cuda_free(d);
}

int main(void) {
    if (!twin_start()) return 77;
    test_seed(20261128);
    test_errors();
    // (B, T, C): odd sizes, narrow rows (warp teams), DiT-XL (C 1152) and
    // SD3-medium (C 1536, block teams for few rows) widths, a 4608-wide row.
    const int64_t shapes[][3] = {{1, 1, 1},     {2, 3, 5},     {3, 7, 33},    {1, 1000, 17}, {5, 33, 127},
                                 {8, 256, 1152}, {1, 333, 1536}, {2, 64, 4608}, {1, 3, 5000}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        ln_modulate_case(shapes[s][0], shapes[s][1], shapes[s][2], s % 2 ? 1e-6f : 1e-5f, 2);
    const int64_t ns[] = {1, 3, 4, 1001, 4096, 65536 + 3, 2 * 256 * 4608};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
        for (int a = 0; a < 2; a++) {
            gelu_case(ns[i], a, 0);
            if (ns[i] % 4 == 0) gelu_case(ns[i], a, 1);
        }
    const int64_t lin[][3] = {{1, 1, 1}, {3, 5, 7}, {37, 96, 384}, {256, 1152, 3456}, {333, 1536, 1536}};
    for (size_t i = 0; i < sizeof lin / sizeof *lin; i++) {
        linear_case(lin[i][0], lin[i][1], lin[i][2], true);
        linear_case(lin[i][0], lin[i][1], lin[i][2], false);
    }
    const int64_t lg[][3] = {{1, 8, 8}, {3, 5, 7}, {37, 96, 384}, {2048, 1152, 4608}};
    for (size_t i = 0; i < sizeof lg / sizeof *lg; i++) linear_gelu_case(lg[i][0], lg[i][1], lg[i][2]);
    const int64_t mh[][4] = {{1, 1, 1, 1}, {2, 3, 5, 7}, {3, 16, 37, 72}, {8, 16, 256, 72}};
    for (size_t i = 0; i < sizeof mh / sizeof *mh; i++) merge_heads_case(mh[i][0], mh[i][1], mh[i][2], mh[i][3]);
    graph_case();
    return check_summary();
}
