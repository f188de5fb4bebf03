// attention_fwd_cuda / attention_bwd_cuda against their CPU twins
// (attention_fwd_cpu / attention_bwd_cpu, which tests/unit/test_ops_attention.c
// checks against a naive reference and finite differences), on shapes with
// odd sizes, Tq != Tk both ways, head dims below, at and above the 128 of
// the one-pass path (up to D = 1000, which streams Q from global memory), and
// every option: causal, an additive mask with -inf entries and a fully
// masked row, SoftPAG head_u (0, partial and 1), a custom scale (0.7/sqrt(D)), probs_out.
// Backward buffers start from random values (the twins accumulate), the
// backward runs with and without the forward's out and lse, with subsets of
// dq/dk/dv, and twice, to check the result is bit-identical run to run.
// Exit 77 (SKIP) without a GPU.
//
// Tolerance: fp32, rtol 1e-4, scale-aware (tests/gpu/twin_util.h): out
// against rms(v) (the output is a convex mix of v rows), lse against 1,
// probabilities against 1/Tk, each gradient against the rms of its
// increment.
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "check.h"
#include "core/ops_attention.h"
#include "gpu_test.h"
#include "twin_util.h"

typedef struct {
    int64_t B, H, Tq, Tk, D, Dv;
} ashape;

enum { OPT_PLAIN, OPT_CAUSAL, OPT_MASK, OPT_ALL, OPT_COUNT };  // ALL: causal + mask + head_u + scale
static const char *opt_names[] = {"plain", "causal", "mask", "causal+mask+pag+scale"};

static void fill_mask(float *m, int64_t Tq, int64_t Tk) {
    test_fill(m, Tq * Tk, -1, 1);
    for (int64_t i = 0; i < Tq * Tk; i += 7) m[i] = -INFINITY;  // scattered masked keys
    if (Tq >= 3)
        for (int64_t j = 0; j < Tk; j++) m[1 * Tk + j] = -INFINITY;  // row 1 fully masked: zero output
}

// Gradient comparison: scale = rms of the increment over the initial values.
static void compare_grad(const char *what, const float *got, const float *ref, const float *init, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += ((double)ref[i] - init[i]) * ((double)ref[i] - init[i]);
    double scale = n ? sqrt(s / (double)n) : 0;
    twin_compare(what, got, ref, n, 1e-4, scale > 1e-6 ? scale : 1e-6);
}

// One shape and option set: forward (out, lse, probs) and backward (the
// gradients in `grads`, a subset of "qkv"), on the GPU and the CPU.
static void attn_case(ashape s, int opt, bool pass_out_lse, const char *grads) {
    const int64_t B = s.B, H = s.H, Tq = s.Tq, Tk = s.Tk, D = s.D, Dv = s.Dv;
    const int64_t nq = B * H * Tq * D, nk = B * H * Tk * D, nv = B * H * Tk * Dv, no = B * H * Tq * Dv,
                  nl = B * H * Tq, np = B * H * Tq * Tk;
    const bool pag = opt == OPT_ALL && Tq == Tk, mask_on = opt == OPT_MASK || opt == OPT_ALL;
    const bool want_dq = strchr(grads, 'q') != NULL, want_dk = strchr(grads, 'k') != NULL,
               want_dv = strchr(grads, 'v') != NULL;
    char tag[160];
    snprintf(tag, sizeof tag, "B%lld H%lld Tq%lld Tk%lld D%lld Dv%lld %s", (long long)B, (long long)H, (long long)Tq,
             (long long)Tk, (long long)D, (long long)Dv, opt_names[opt]);

    float *q = twin_host(nq), *k = twin_host(nk), *v = twin_host(nv), *dout = twin_host(no);
    float *mask = twin_host(Tq * Tk), *hu = twin_host(B * H);
    float *out_ref = twin_host(no), *lse_ref = twin_host(nl), *probs_ref = twin_host(np);
    float *out = twin_host(no), *lse = twin_host(nl), *probs = twin_host(np);
    float *dq0 = twin_host(nq), *dk0 = twin_host(nk), *dv0 = twin_host(nv);
    float *dq_ref = twin_host(nq), *dk_ref = twin_host(nk), *dv_ref = twin_host(nv);
    float *dq = twin_host(nq), *dk = twin_host(nk), *dv = twin_host(nv), *again = twin_host(nq + nk + nv);
    int64_t ncs = attention_scratch_floats(B, H, Tq, Tk, D, Dv);
    float *cpu_scratch = twin_host(ncs);
    float *d_q = NULL, *d_k = NULL, *d_v = NULL, *d_mask = NULL, *d_hu = NULL, *d_out = NULL, *d_lse = NULL,
          *d_probs = NULL, *d_dout = NULL, *d_dq = NULL, *d_dk = NULL, *d_dv = NULL, *d_scr = NULL;
    if (!q || !k || !v || !dout || !mask || !hu || !out_ref || !lse_ref || !probs_ref || !out || !lse || !probs ||
        !dq0 || !dk0 || !dv0 || !dq_ref || !dk_ref || !dv_ref || !dq || !dk || !dv || !again || !cpu_scratch) {
        CHECK_MSG(0, "host alloc");
        goto done;
    }
    test_fill(q, nq, -2, 2);
    test_fill(k, nk, -2, 2);
    test_fill(v, nv, -1, 1);
    test_fill(dout, no, -1, 1);
    fill_mask(mask, Tq, Tk);
    for (int64_t i = 0; i < B * H; i++) hu[i] = (float[]){0.0f, 0.3f, 1.0f, 0.7f}[i % 4];
    test_fill(dq0, nq, -1, 1);
    test_fill(dk0, nk, -1, 1);
    test_fill(dv0, nv, -1, 1);

    silt_attn_opts oc = {0};
    oc.causal = opt == OPT_CAUSAL || opt == OPT_ALL;
    oc.scale = opt == OPT_ALL ? (float)(0.7 / sqrt((double)D)) : 0.0f;  // not the default, same size
    oc.mask = mask_on ? mask : NULL;
    oc.head_u = pag ? hu : NULL;
    oc.probs_out = probs_ref;
    attention_fwd_cpu(out_ref, lse_ref, cpu_scratch, q, k, v, B, H, Tq, Tk, D, Dv, &oc);

    d_q = twin_upload(q, (size_t)nq * 4);
    d_k = twin_upload(k, (size_t)nk * 4);
    d_v = twin_upload(v, (size_t)nv * 4);
    d_mask = twin_upload(mask, (size_t)(Tq * Tk) * 4);
    d_hu = twin_upload(hu, (size_t)(B * H) * 4);
    d_out = twin_upload(NULL, (size_t)no * 4);
    d_lse = twin_upload(NULL, (size_t)nl * 4);
    d_probs = twin_upload(NULL, (size_t)np * 4);
    d_dout = twin_upload(dout, (size_t)no * 4);
    if (!d_q || !d_k || !d_v || !d_mask || !d_hu || !d_out || !d_lse || !d_probs || !d_dout) goto done;
    twin_poison(d_out, (size_t)no * 4);
    twin_poison(d_lse, (size_t)nl * 4);
    twin_poison(d_probs, (size_t)np * 4);
    silt_attn_opts og = oc;
    og.mask = mask_on ? d_mask : NULL;
    og.head_u = pag ? d_hu : NULL;
    og.probs_out = d_probs;
    silt_status st = attention_fwd_cuda(d_out, d_lse, NULL, d_q, d_k, d_v, B, H, Tq, Tk, D, Dv, &og);
    CHECK_MSG(st == SILT_OK, "%s: fwd: %s", tag, silt_last_error());
    if (st != SILT_OK) goto done;
    char what[224];
    if (twin_download(out, d_out, (size_t)no * 4)) {
        snprintf(what, sizeof what, "%s out", tag);
        twin_compare(what, out, out_ref, no, 1e-4, twin_rms(v, nv));
    }
    if (twin_download(lse, d_lse, (size_t)nl * 4)) {
        snprintf(what, sizeof what, "%s lse", tag);
        twin_compare(what, lse, lse_ref, nl, 1e-4, 1.0);
    }
    if (twin_download(probs, d_probs, (size_t)np * 4)) {
        snprintf(what, sizeof what, "%s probs", tag);
        twin_compare(what, probs, probs_ref, np, 1e-4, 1.0 / (double)(Tk ? Tk : 1));
    }

    // Backward from random initial gradients, accumulating.
    memcpy(dq_ref, dq0, (size_t)nq * 4);
    memcpy(dk_ref, dk0, (size_t)nk * 4);
    memcpy(dv_ref, dv0, (size_t)nv * 4);
    oc.probs_out = NULL;
    attention_bwd_cpu(want_dq ? dq_ref : NULL, want_dk ? dk_ref : NULL, want_dv ? dv_ref : NULL, cpu_scratch, dout, q,
                      k, v, out_ref, lse_ref, B, H, Tq, Tk, D, Dv, &oc);
    og.probs_out = NULL;
    d_scr = twin_upload(NULL, (size_t)attention_scratch_floats_cuda(B, H, Tq, Tk, D, Dv) * 4);
    for (int run = 0; run < 2 && d_scr; run++) {
        silt_cuda_free(d_dq);
        silt_cuda_free(d_dk);
        silt_cuda_free(d_dv);
        d_dq = twin_upload(dq0, (size_t)nq * 4);
        d_dk = twin_upload(dk0, (size_t)nk * 4);
        d_dv = twin_upload(dv0, (size_t)nv * 4);
        if (!d_dq || !d_dk || !d_dv) goto done;
        st = attention_bwd_cuda(want_dq ? d_dq : NULL, want_dk ? d_dk : NULL, want_dv ? d_dv : NULL, d_scr, d_dout, d_q,
                                d_k, d_v, pass_out_lse ? d_out : NULL, pass_out_lse ? d_lse : NULL, B, H, Tq, Tk, D,
                                Dv, &og);
        CHECK_MSG(st == SILT_OK, "%s: bwd: %s", tag, silt_last_error());
        if (st != SILT_OK) goto done;
        if (!twin_download(dq, d_dq, (size_t)nq * 4) || !twin_download(dk, d_dk, (size_t)nk * 4) ||
            !twin_download(dv, d_dv, (size_t)nv * 4))
            goto done;
        if (run == 0) {
            const char *src = pass_out_lse ? "given out/lse" : "recomputed out/lse";
            snprintf(what, sizeof what, "%s dq (%s)", tag, src);
            compare_grad(what, dq, dq_ref, dq0, nq);
            snprintf(what, sizeof what, "%s dk (%s)", tag, src);
            compare_grad(what, dk, dk_ref, dk0, nk);
            snprintf(what, sizeof what, "%s dv (%s)", tag, src);
            compare_grad(what, dv, dv_ref, dv0, nv);
            memcpy(again, dq, (size_t)nq * 4);
            memcpy(again + nq, dk, (size_t)nk * 4);
            memcpy(again + nq + nk, dv, (size_t)nv * 4);
        } else {
            snprintf(what, sizeof what, "%s bwd run to run", tag);
            int same = memcmp(again, dq, (size_t)nq * 4) == 0 && memcmp(again + nq, dk, (size_t)nk * 4) == 0 &&
                       memcmp(again + nq + nk, dv, (size_t)nv * 4) == 0;
            CHECK_MSG(same, "%s: backward differs between two runs (a race or atomics)", what);
        }
    }
done:
    silt_cuda_free(d_q); silt_cuda_free(d_k); silt_cuda_free(d_v); silt_cuda_free(d_mask); silt_cuda_free(d_hu);
    silt_cuda_free(d_out); silt_cuda_free(d_lse); silt_cuda_free(d_probs); silt_cuda_free(d_dout);
    silt_cuda_free(d_dq); silt_cuda_free(d_dk); silt_cuda_free(d_dv); silt_cuda_free(d_scr);
    free(q); free(k); free(v); free(dout); free(mask); free(hu); free(out_ref); free(lse_ref); free(probs_ref);
    free(out); free(lse); free(probs); free(dq0); free(dk0); free(dv0); free(dq_ref); free(dk_ref); free(dv_ref);
    free(dq); free(dk); free(dv); free(again); free(cpu_scratch);
}

static void test_errors(void) {
    float *d = NULL;
    CHECK_OK(silt_cuda_malloc((void **)&d, 1024 * sizeof(float)));
    silt_attn_opts o = {0};
    o.head_u = d;
    CHECK(attention_fwd_cuda(d, d, NULL, d, d, d, 1, 1, 3, 4, 2, 2, &o) == SILT_ERR_SHAPE);  // head_u needs Tq == Tk
    CHECK(attention_fwd_cuda(d, d, NULL, d, d, d, 1, 1, 3, 3, 0, 2, NULL) == SILT_ERR_ARG);  // D = 0
    CHECK(attention_fwd_cuda(d, d, NULL, d, d, d, 1, -1, 3, 3, 2, 2, NULL) == SILT_ERR_ARG);
    CHECK(attention_fwd_cuda(NULL, d, NULL, d, d, d, 1, 1, 3, 3, 2, 2, NULL) == SILT_ERR_ARG);
    o.head_u = NULL;
    o.scale = INFINITY;
    CHECK(attention_fwd_cuda(d, d, NULL, d, d, d, 1, 1, 3, 3, 2, 2, &o) == SILT_ERR_ARG);
    CHECK(attention_bwd_cuda(d, d, d, NULL, d, d, d, d, d, d, 1, 1, 3, 3, 2, 2, NULL) == SILT_ERR_ARG);  // no scratch
    // Head dims past what shared memory holds are refused before any launch.
    CHECK(attention_fwd_cuda(d, d, NULL, d, d, d, 1, 1, 3, 3, 4000, 2, NULL) == SILT_ERR_UNSUPPORTED);
    CHECK_OK(attention_fwd_cuda(NULL, NULL, NULL, NULL, NULL, NULL, 0, 1, 3, 3, 2, 2, NULL));         // empty
    CHECK_OK(attention_bwd_cuda(NULL, NULL, NULL, NULL, d, d, d, d, d, d, 1, 1, 3, 3, 2, 2, NULL));   // no grads wanted
    CHECK_OK(silt_cuda_sync());
    silt_cuda_free(d);
}

int main(void) {
    GPU_TEST_START();
    test_seed(20240611);
    test_errors();
    const ashape shapes[] = {
        {1, 1, 1, 1, 1, 1},       {2, 3, 17, 17, 8, 8},      {1, 2, 33, 47, 16, 24},  {2, 1, 65, 65, 64, 64},
        {1, 2, 100, 37, 40, 72},  {1, 1, 31, 129, 128, 128}, {2, 2, 50, 50, 33, 33},  {1, 1, 40, 40, 160, 96},
        {1, 1, 33, 33, 72, 200},  {1, 1, 64, 64, 512, 512},  {1, 2, 45, 45, 1000, 16}, {1, 1, 5, 300, 24, 8},
    };
    const char *grad_sets[] = {"qkv", "q", "kv", "qv", "k"};
    int c = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        for (int opt = 0; opt < OPT_COUNT; opt++, c++)
            attn_case(shapes[i], opt, c % 3 != 2, grad_sets[c % 5]);
    return check_summary();
}
