// attention_fwd_cuda_bf16 (the tensor-core forward, cuda/ops_attention_mma.cu)
// against the CPU twin attention_fwd_cpu (fp32, itself checked against a
// naive reference in tests/unit/test_ops_attention.c), and the switch
// silt_cuda_set_attention_bf16 that routes attention_fwd_cuda and
// silt_attention on a cuda graph to it. Exit 77 (SKIP) without a GPU.
//
// Shapes: T not a multiple of the 64-row tiles (1, 17, 65, 100, 129, 257),
// Tq != Tk both ways, B*H odd, head dims 16, 32, 48, 64, 72 (DiT-XL/2: padded
// to 80 inside the kernel), 96, 128 and the small 4 and 8 (padded to 16).
// Options: plain, causal (bottom-right aligned, incl. fully masked rows when
// Tq > Tk), SoftPAG head_u (0, 0.3, 1, 0.7 over the heads), and causal +
// SoftPAG + a sharper scale (2/sqrt(D)).
//
// Tolerance: bf16 operands (8 significant bits) with fp32 accumulation, so
// rtol 1e-2, scale-aware as tests/gpu/twin_util.h: out against rms(v) (the
// output is a convex mix of v rows), lse against 1; and the norm-wise
// ||out - cpu|| / ||cpu|| < 1e-2. Inputs: q, k uniform in [-1, 1], v in
// [-1, 1]. Outputs start as NaN (poisoned), so an unwritten element fails.
// Every case runs on both kernels (silt_cuda_set_attention_mma_variant 1 and
// 2). Each case also checks that a second run gives the same bits, that
// attention_fwd_cuda gives those same bits with the switch on (dispatch) and
// stays within the fp32 twins' 1e-4 with it off.
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/graph.h"
#include "core/ops_attention.h"
#include "gpu_test.h"
#include "twin_util.h"

enum { OPT_PLAIN, OPT_CAUSAL, OPT_PAG, OPT_ALL, OPT_COUNT };  // ALL: causal + head_u + scale 2/sqrt(D)
static const char *opt_names[] = {"plain", "causal", "pag", "causal+pag+scale"};

typedef struct {
    int64_t B, H, Tq, Tk, D;
} mshape;

// Variant 1's output of each case, kept for variant 2's: both round to bf16
// alike and add their tiles in the same order (variant 2's extra fully masked
// tiles add exact zeros), so they must agree far below bf16's 1e-2; this
// catches an indexing slip the CPU comparison's tolerance could hide.
enum { MAX_CASES = 64 * OPT_COUNT };
static float *v1_out[MAX_CASES];

static void mma_case(mshape s, int opt, int variant, int case_id) {
    const int64_t B = s.B, H = s.H, Tq = s.Tq, Tk = s.Tk, D = s.D;
    const int64_t nq = B * H * Tq * D, nk = B * H * Tk * D, nl = B * H * Tq;
    const bool pag = (opt == OPT_PAG || opt == OPT_ALL) && Tq == Tk;
    char tag[160], what[224];
    snprintf(tag, sizeof tag, "B%lld H%lld Tq%lld Tk%lld D%lld %s", (long long)B, (long long)H, (long long)Tq,
             (long long)Tk, (long long)D, opt == OPT_PAG && !pag ? "plain (pag needs Tq == Tk)" : opt_names[opt]);
    float *q = twin_host(nq), *k = twin_host(nk), *v = twin_host(nk), *hu = twin_host(B * H);
    float *out_ref = twin_host(nq), *lse_ref = twin_host(nl), *out = twin_host(nq), *lse = twin_host(nl);
    float *again = twin_host(nq), *disp = twin_host(nq);
    float *scr = twin_host(attention_scratch_floats(B, H, Tq, Tk, D, D));
    float *d_q = NULL, *d_k = NULL, *d_v = NULL, *d_hu = NULL, *d_out = NULL, *d_lse = NULL, *d_out2 = NULL;
    if (!q || !k || !v || !hu || !out_ref || !lse_ref || !out || !lse || !again || !disp || !scr) {
        CHECK_MSG(0, "host alloc");
        goto done;
    }
    // Seeded by the case alone: variant 2 must see variant 1's inputs (the
    // first GPU run drew fresh ones from the running stream, and "variant 2
    // vs 1" failed everywhere while both matched the CPU).
    test_seed(20261127u + (uint64_t)case_id);
    test_fill(q, nq, -1, 1);
    test_fill(k, nk, -1, 1);
    test_fill(v, nk, -1, 1);
    for (int64_t i = 0; i < B * H; i++) hu[i] = (float[]){0.0f, 0.3f, 1.0f, 0.7f}[i % 4];
    silt_attn_opts oc = {0};
    oc.causal = opt == OPT_CAUSAL || opt == OPT_ALL;
    oc.scale = opt == OPT_ALL ? (float)(2.0 / sqrt((double)D)) : 0.0f;
    oc.head_u = pag ? hu : NULL;
    attention_fwd_cpu(out_ref, lse_ref, scr, q, k, v, B, H, Tq, Tk, D, D, &oc);

    d_q = twin_upload(q, (size_t)nq * 4);
    d_k = twin_upload(k, (size_t)nk * 4);
    d_v = twin_upload(v, (size_t)nk * 4);
    d_hu = twin_upload(hu, (size_t)(B * H) * 4);
    d_out = twin_upload(NULL, (size_t)nq * 4);
    d_lse = twin_upload(NULL, (size_t)nl * 4);
    d_out2 = twin_upload(NULL, (size_t)nq * 4);
    if (!d_q || !d_k || !d_v || !d_hu || !d_out || !d_lse || !d_out2) goto done;
    silt_attn_opts og = oc;
    og.head_u = pag ? d_hu : NULL;
    CHECK_MSG(attention_bf16_eligible_cuda(d_out, d_q, d_k, d_v, D, D, &og), "%s: not eligible", tag);

    // The kernel, against the CPU twin.
    twin_poison(d_out, (size_t)nq * 4);
    twin_poison(d_lse, (size_t)nl * 4);
    silt_status st = attention_fwd_cuda_bf16(d_out, d_lse, NULL, d_q, d_k, d_v, B, H, Tq, Tk, D, D, &og);
    CHECK_MSG(st == SILT_OK, "%s: %s", tag, silt_last_error());
    if (st != SILT_OK) goto done;
    if (!twin_download(out, d_out, (size_t)nq * 4) || !twin_download(lse, d_lse, (size_t)nl * 4)) goto done;
    snprintf(what, sizeof what, "%s out", tag);
    twin_compare(what, out, out_ref, nq, 1e-2, twin_rms(v, nk));
    double nr = twin_norm_rel(out, out_ref, nq);
    CHECK_MSG(nr < 1e-2, "%s: ||out - cpu|| / ||cpu|| = %.3g (limit 1e-2)", tag, nr);
    snprintf(what, sizeof what, "%s lse", tag);
    twin_compare(what, lse, lse_ref, nl, 1e-2, 1.0);
    if (case_id < MAX_CASES && variant == 1) {
        free(v1_out[case_id]);
        v1_out[case_id] = twin_host(nq);
        if (v1_out[case_id]) memcpy(v1_out[case_id], out, (size_t)nq * 4);
    } else if (case_id < MAX_CASES && variant == 2 && v1_out[case_id]) {
        snprintf(what, sizeof what, "%s variant 2 vs 1", tag);
        twin_compare(what, out, v1_out[case_id], nq, 1e-6, twin_rms(v, nk));
    }

    // Same bits on a second run (no lse: the output must not depend on it).
    twin_poison(d_out2, (size_t)nq * 4);
    CHECK_OK(attention_fwd_cuda_bf16(d_out2, NULL, NULL, d_q, d_k, d_v, B, H, Tq, Tk, D, D, &og));
    if (twin_download(again, d_out2, (size_t)nq * 4)) {
        snprintf(what, sizeof what, "%s rerun", tag);
        twin_same_bits(what, again, out, (size_t)nq * 4);
    }
    // The switch: on, attention_fwd_cuda runs this kernel (same bits); off, the fp32 one (1e-4).
    bool was = silt_cuda_set_attention_bf16(true);
    CHECK(!was);
    twin_poison(d_out2, (size_t)nq * 4);
    CHECK_OK(attention_fwd_cuda(d_out2, NULL, NULL, d_q, d_k, d_v, B, H, Tq, Tk, D, D, &og));
    if (twin_download(disp, d_out2, (size_t)nq * 4)) {
        snprintf(what, sizeof what, "%s dispatch on", tag);
        twin_same_bits(what, disp, out, (size_t)nq * 4);
    }
    CHECK(silt_cuda_set_attention_bf16(false));
    twin_poison(d_out2, (size_t)nq * 4);
    CHECK_OK(attention_fwd_cuda(d_out2, NULL, NULL, d_q, d_k, d_v, B, H, Tq, Tk, D, D, &og));
    if (twin_download(disp, d_out2, (size_t)nq * 4)) {
        snprintf(what, sizeof what, "%s dispatch off (fp32)", tag);
        twin_compare(what, disp, out_ref, nq, 1e-4, twin_rms(v, nk));
    }
    printf("     %-58s ||out - cpu|| / ||cpu|| = %.2e\n", tag, nr);
done:
    silt_cuda_free(d_q);
    silt_cuda_free(d_k);
    silt_cuda_free(d_v);
    silt_cuda_free(d_hu);
    silt_cuda_free(d_out);
    silt_cuda_free(d_lse);
    silt_cuda_free(d_out2);
    free(q);
    free(k);
    free(v);
    free(hu);
    free(out_ref);
    free(lse_ref);
    free(out);
    free(lse);
    free(again);
    free(disp);
    free(scr);
}

// silt_attention on a cuda graph with the switch on: the bf16 kernel's bits
// for an eligible call (DiT-like: D 72, SoftPAG), the fp32 kernel (1e-4 of
// the CPU) for a masked one.
static void graph_case(void) {
    const int64_t B = 2, H = 3, T = 70, D = 72, n = B * H * T * D, shape[4] = {B, H, T, D};
    float *q = twin_host(n), *k = twin_host(n), *v = twin_host(n), *ref = twin_host(n), *got = twin_host(n);
    float *mask = twin_host(T * T), *scr = twin_host(attention_scratch_floats(B, H, T, T, D, D));
    float hu[6] = {0.0f, 0.5f, 1.0f, 0.0f, 0.25f, 0.0f};
    float *d_q = NULL, *d_k = NULL, *d_v = NULL, *d_hu = NULL, *d_out = NULL;
    silt_graph *g = silt_graph_create_on(SILT_CUDA, 0);
    if (!q || !k || !v || !ref || !got || !mask || !scr || !g) {
        CHECK_MSG(0, "graph case setup: %s", silt_last_error());
        goto done;
    }
    silt_graph_set_grad(g, false);
    test_fill(q, n, -1, 1);
    test_fill(k, n, -1, 1);
    test_fill(v, n, -1, 1);
    test_fill(mask, T * T, -1, 1);
    d_q = twin_upload(q, (size_t)n * 4);
    d_k = twin_upload(k, (size_t)n * 4);
    d_v = twin_upload(v, (size_t)n * 4);
    d_hu = twin_upload(hu, sizeof hu);
    d_out = twin_upload(NULL, (size_t)n * 4);
    if (!d_q || !d_k || !d_v || !d_hu || !d_out) goto done;
    silt_attn_opts od = {0};
    od.head_u = d_hu;
    twin_poison(d_out, (size_t)n * 4);
    CHECK_OK(attention_fwd_cuda_bf16(d_out, NULL, NULL, d_q, d_k, d_v, B, H, T, T, D, D, &od));
    if (!twin_download(ref, d_out, (size_t)n * 4)) goto done;

    silt_cuda_set_attention_bf16(true);
    for (int masked = 0; masked < 2; masked++) {
        silt_graph_reset(g);
        silt_tensor *tq = silt_graph_upload(g, SILT_F32, 4, shape, q), *tk = silt_graph_upload(g, SILT_F32, 4, shape, k);
        silt_tensor *tv = silt_graph_upload(g, SILT_F32, 4, shape, v);
        silt_attn_opts o = {0};
        o.head_u = hu;  // host memory, as silt_attention takes it
        o.mask = masked ? mask : NULL;
        silt_tensor *out = silt_attention(g, tq, tk, tv, &o);
        CHECK_MSG(out != NULL, "silt_attention on cuda (mask %d): %s", masked, silt_last_error());
        if (!out || !twin_download(got, out->data, (size_t)n * 4)) break;
        if (!masked) {
            twin_same_bits("graph B2 H3 T70 D72 pag: silt_attention = bf16 kernel", got, ref, (size_t)n * 4);
        } else {
            float *cpu = twin_host(n);
            if (!cpu) break;
            attention_fwd_cpu(cpu, NULL, scr, q, k, v, B, H, T, T, D, D, &o);
            twin_compare("graph B2 H3 T70 D72 pag+mask: fp32 fallback", got, cpu, n, 1e-4, twin_rms(v, n));
            free(cpu);
        }
    }
    silt_cuda_set_attention_bf16(false);
done:
    silt_graph_free(g);
    silt_cuda_free(d_q);
    silt_cuda_free(d_k);
    silt_cuda_free(d_v);
    silt_cuda_free(d_hu);
    silt_cuda_free(d_out);
    free(q);
    free(k);
    free(v);
    free(ref);
    free(got);
    free(mask);
    free(scr);
}

static void test_refusals(void) {
    float *d = NULL;
    if (silt_cuda_malloc((void **)&d, 4096 * sizeof(float)) != SILT_OK) {
        CHECK_MSG(0, "alloc: %s", silt_last_error());
        return;
    }
    silt_attn_opts o = {0};
    CHECK(!silt_cuda_attention_bf16());  // off by default
    CHECK(attention_bf16_eligible_cuda(d, d, d, d, 72, 72, NULL));
    CHECK(attention_bf16_eligible_cuda(d, d, d, d, 128, 128, &o));
    CHECK(!attention_bf16_eligible_cuda(d, d, d, d, 72, 64, NULL));   // D != Dv
    CHECK(!attention_bf16_eligible_cuda(d, d, d, d, 130, 130, NULL)); // D > 128
    CHECK(!attention_bf16_eligible_cuda(d, d, d, d, 6, 6, NULL));     // D % 4
    CHECK(!attention_bf16_eligible_cuda(d, d + 1, d, d, 64, 64, NULL)); // q not 16-byte aligned
    o.mask = d;
    CHECK(!attention_bf16_eligible_cuda(d, d, d, d, 64, 64, &o));
    TWIN_EXPECT(SILT_ERR_UNSUPPORTED, attention_fwd_cuda_bf16(d, NULL, NULL, d, d, d, 1, 1, 8, 8, 64, 64, &o));
    o.mask = NULL;
    o.probs_out = d;
    TWIN_EXPECT(SILT_ERR_UNSUPPORTED, attention_fwd_cuda_bf16(d, NULL, NULL, d, d, d, 1, 1, 8, 8, 64, 64, &o));
    o.probs_out = NULL;
    TWIN_EXPECT(SILT_ERR_UNSUPPORTED, attention_fwd_cuda_bf16(d, NULL, NULL, d, d, d, 1, 1, 8, 8, 130, 130, NULL));
    TWIN_EXPECT(SILT_ERR_UNSUPPORTED, attention_fwd_cuda_bf16(d, NULL, NULL, d, d, d, 1, 1, 8, 8, 64, 32, NULL));
    o.head_u = d;
    TWIN_EXPECT(SILT_ERR_SHAPE, attention_fwd_cuda_bf16(d, NULL, NULL, d, d, d, 1, 1, 8, 9, 16, 16, &o));
    o.head_u = NULL;
    o.scale = INFINITY;
    TWIN_EXPECT(SILT_ERR_ARG, attention_fwd_cuda_bf16(d, NULL, NULL, d, d, d, 1, 1, 8, 8, 16, 16, &o));
    TWIN_EXPECT(SILT_ERR_ARG, attention_fwd_cuda_bf16(NULL, NULL, NULL, d, d, d, 1, 1, 8, 8, 16, 16, NULL));
    TWIN_EXPECT(SILT_OK, attention_fwd_cuda_bf16(NULL, NULL, NULL, NULL, NULL, NULL, 0, 4, 8, 8, 16, 16, NULL));
    CHECK_OK(silt_cuda_sync());
    silt_cuda_free(d);
}

int main(void) {
    GPU_TEST_START();
    test_seed(20261127);
    test_refusals();
    const mshape shapes[] = {
        {1, 1, 1, 1, 16},    {2, 3, 17, 17, 16},   {1, 3, 100, 100, 32}, {3, 1, 65, 130, 64},  {1, 3, 130, 65, 64},
        {1, 5, 129, 129, 72}, {2, 1, 257, 257, 72}, {1, 1, 70, 70, 128},  {1, 3, 200, 131, 128}, {1, 3, 64, 64, 48},
        {1, 1, 99, 99, 96},  {1, 1, 40, 40, 8},    {1, 1, 33, 90, 4},    {2, 16, 256, 256, 72},
        // head dims 20 and 100 (a partial last 8-wide output tile), 112 (its own
        // padded width), and 300 queries on 40 keys (whole 128-row blocks past
        // the keys when causal)
        {1, 2, 300, 40, 20}, {1, 1, 50, 50, 100}, {1, 1, 70, 70, 112},
    };
    twin_quiet = 0;
    // Both kernels behind attention_fwd_cuda_bf16 (variant 2: the pipelined
    // one, with its workspace growing over the shapes and reused after).
    CHECK(silt_cuda_set_attention_mma_variant(0) == 2);  // default 2; 0 changes nothing
    for (int variant = 1; variant <= 2; variant++) {
        CHECK(silt_cuda_set_attention_mma_variant(variant) == 3 - variant);  // the previous: 2 (default), then 1
        printf("-- kernel variant %d\n", variant);
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
            for (int opt = 0; opt < OPT_COUNT; opt++) mma_case(shapes[i], opt, variant, (int)i * OPT_COUNT + opt);
        graph_case();
    }
    CHECK(silt_cuda_set_attention_mma_variant(2) == 2);  // left at the default
    CHECK(!silt_cuda_set_attention_bf16(false));  // every case put it back
    for (int i = 0; i < MAX_CASES; i++) free(v1_out[i]);
    return check_summary();
}
