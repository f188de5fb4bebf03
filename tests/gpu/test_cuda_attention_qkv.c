// attention_qkv_fwd_cuda_bf16 (cuda/ops_attention_mma.cu) and the graph op
// dit_attention_qkv_bf16 (dit/dit_ops.c): DiT's attention read in place from
// the qkv linear's output (B, T, 3*H*Dh), the heads written back together as
// bf16 (B, T, H*Dh). Exit 77 (SKIP) without a GPU.
//
// Each case (odd T around the 64- and 128-row tiles, B*H odd, head dims 4 to
// 128 incl. DiT-XL/2's 72, with and without SoftPAG head_u) checks, on both
// kernels (silt_cuda_set_attention_mma_variant 1 and 2):
// - against the CPU: dit_split_qkv_fwd_cpu, attention_fwd_cpu (fp32) and the
//   heads' transposition; bf16 operands and a bf16 output, so rtol 1e-2
//   against rms(v) per element (tests/gpu/twin_util.h) and the norm-wise
//   ||out - cpu|| / ||cpu|| < 1e-2;
// - against the unfused device path it replaces (dit_split_qkv_fwd_cuda,
//   attention_fwd_cuda_bf16, dit_merge_heads_bf16_fwd_cuda): the same bits,
//   as the same kernel computes the same fp32 values and both round them to
//   nearest even; a slip in a stride or an offset shows here even where the
//   CPU comparison's tolerance could hide it;
// - a second run gives the same bits.
// The output starts poisoned (0xffff, a bf16 NaN), so an unwritten element
// fails. Then the refusals, and the graph op against the raw kernel.
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/graph.h"
#include "core/ops_attention.h"
#include "dit/dit_ops.h"
#include "gpu_test.h"
#include "twin_util.h"

typedef struct {
    int64_t B, T, H, Dh;
    bool pag;
} qshape;

static const float hu_cycle[4] = {0.0f, 0.3f, 1.0f, 0.7f};

static void qkv_case(qshape s, int variant, int case_id) {
    const int64_t B = s.B, T = s.T, H = s.H, Dh = s.Dh, D = H * Dh;
    const int64_t nqkv = B * T * 3 * D, nh = B * H * T * Dh, no = B * T * D;
    char tag[128], what[192];
    snprintf(tag, sizeof tag, "v%d B%lld T%lld H%lld Dh%lld%s", variant, (long long)B, (long long)T, (long long)H,
             (long long)Dh, s.pag ? " pag" : "");
    float *qkv = twin_host(nqkv), *q = twin_host(nh), *k = twin_host(nh), *v = twin_host(nh), *hu = twin_host(B * H);
    float *ob = twin_host(nh), *ref = twin_host(no), *got = twin_host(no);
    float *scr = twin_host(attention_scratch_floats(B, H, T, T, Dh, Dh));
    uint16_t *o16 = calloc((size_t)no, 2), *u16 = calloc((size_t)no, 2), *a16 = calloc((size_t)no, 2);
    float *d_qkv = NULL, *d_q = NULL, *d_k = NULL, *d_v = NULL, *d_a = NULL, *d_hu = NULL;
    uint16_t *d_o = NULL, *d_u = NULL;
    if (!qkv || !q || !k || !v || !hu || !ob || !ref || !got || !scr || !o16 || !u16 || !a16) {
        CHECK_MSG(0, "host alloc");
        goto done;
    }
    test_seed(20261128u + (uint64_t)case_id);  // both variants see the same inputs
    test_fill(qkv, nqkv, -1, 1);
    for (int64_t i = 0; i < B * H; i++) hu[i] = hu_cycle[i % 4];

    // The CPU: split, fp32 attention, heads back together.
    dit_split_qkv_fwd_cpu(q, k, v, qkv, B, T, H, Dh);
    silt_attn_opts oc = {0};
    oc.head_u = s.pag ? hu : NULL;
    attention_fwd_cpu(ob, NULL, scr, q, k, v, B, H, T, T, Dh, Dh, &oc);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t t = 0; t < T; t++)
                memcpy(ref + (b * T + t) * D + h * Dh, ob + ((b * H + h) * T + t) * Dh, sizeof(float) * (size_t)Dh);

    d_qkv = twin_upload(qkv, sizeof(float) * (size_t)nqkv);
    d_hu = twin_upload(hu, sizeof(float) * (size_t)(B * H));
    d_q = twin_upload(NULL, sizeof(float) * (size_t)nh);
    d_k = twin_upload(NULL, sizeof(float) * (size_t)nh);
    d_v = twin_upload(NULL, sizeof(float) * (size_t)nh);
    d_a = twin_upload(NULL, sizeof(float) * (size_t)nh);
    d_o = twin_upload(NULL, 2 * (size_t)no);
    d_u = twin_upload(NULL, 2 * (size_t)no);
    if (!d_qkv || !d_hu || !d_q || !d_k || !d_v || !d_a || !d_o || !d_u) goto done;
    const float *hdev = s.pag ? d_hu : NULL;

    twin_poison(d_o, 2 * (size_t)no);
    silt_status st = attention_qkv_fwd_cuda_bf16(d_o, d_qkv, B, T, H, Dh, hdev);
    CHECK_MSG(st == SILT_OK, "%s: %s", tag, silt_last_error());
    if (st != SILT_OK || !twin_download(o16, d_o, 2 * (size_t)no)) goto done;
    for (int64_t i = 0; i < no; i++) got[i] = silt_bf16_to_f32(o16[i]);
    snprintf(what, sizeof what, "%s vs cpu", tag);
    twin_compare(what, got, ref, no, 1e-2, twin_rms(v, nh));
    double nr = twin_norm_rel(got, ref, no);
    CHECK_MSG(nr < 1e-2, "%s: ||out - cpu|| / ||cpu|| = %.3g (limit 1e-2)", tag, nr);

    // The unfused device path: split, attention_fwd_cuda_bf16, merge + round.
    CHECK_OK(dit_split_qkv_fwd_cuda(d_q, d_k, d_v, d_qkv, B, T, H, Dh));
    silt_attn_opts og = {0};
    og.head_u = hdev;
    CHECK_OK(attention_fwd_cuda_bf16(d_a, NULL, NULL, d_q, d_k, d_v, B, H, T, T, Dh, Dh, &og));
    twin_poison(d_u, 2 * (size_t)no);
    CHECK_OK(dit_merge_heads_bf16_fwd_cuda(d_u, d_a, B, H, T, Dh));
    if (twin_download(u16, d_u, 2 * (size_t)no)) {
        snprintf(what, sizeof what, "%s vs split + attention + merge", tag);
        twin_same_bits(what, o16, u16, 2 * (size_t)no);
    }
    // Same bits on a second run.
    twin_poison(d_o, 2 * (size_t)no);
    CHECK_OK(attention_qkv_fwd_cuda_bf16(d_o, d_qkv, B, T, H, Dh, hdev));
    if (twin_download(a16, d_o, 2 * (size_t)no)) {
        snprintf(what, sizeof what, "%s rerun", tag);
        twin_same_bits(what, a16, o16, 2 * (size_t)no);
    }
    printf("     %-44s ||out - cpu|| / ||cpu|| = %.2e\n", tag, nr);
done:
    silt_cuda_free(d_qkv);
    silt_cuda_free(d_hu);
    silt_cuda_free(d_q);
    silt_cuda_free(d_k);
    silt_cuda_free(d_v);
    silt_cuda_free(d_a);
    silt_cuda_free(d_o);
    silt_cuda_free(d_u);
    free(qkv), free(q), free(k), free(v), free(hu), free(ob), free(ref), free(got), free(scr);
    free(o16), free(u16), free(a16);
}

static void test_refusals(void) {
    float *d = NULL;
    if (silt_cuda_malloc((void **)&d, 4096 * sizeof(float)) != SILT_OK) {
        CHECK_MSG(0, "device alloc: %s", silt_last_error());
        return;
    }
    uint16_t *o = (uint16_t *)(d + 2048);
    CHECK(attention_qkv_bf16_eligible_cuda(72));
    CHECK(attention_qkv_bf16_eligible_cuda(4) && attention_qkv_bf16_eligible_cuda(128));
    CHECK(!attention_qkv_bf16_eligible_cuda(6) && !attention_qkv_bf16_eligible_cuda(132));
    CHECK(!attention_qkv_bf16_eligible_cuda(0));
    TWIN_EXPECT(SILT_ERR_UNSUPPORTED, attention_qkv_fwd_cuda_bf16(o, d, 1, 4, 2, 6, NULL));    // Dh % 4
    TWIN_EXPECT(SILT_ERR_UNSUPPORTED, attention_qkv_fwd_cuda_bf16(o, d, 1, 2, 1, 132, NULL));  // Dh > 128
    TWIN_EXPECT(SILT_ERR_UNSUPPORTED, attention_qkv_fwd_cuda_bf16(o, d + 1, 1, 4, 2, 8, NULL)); // qkv alignment
    TWIN_EXPECT(SILT_ERR_UNSUPPORTED, attention_qkv_fwd_cuda_bf16(o + 1, d, 1, 4, 2, 8, NULL)); // out alignment
    TWIN_EXPECT(SILT_ERR_ARG, attention_qkv_fwd_cuda_bf16(o, d, -1, 4, 2, 8, NULL));
    TWIN_EXPECT(SILT_ERR_ARG, attention_qkv_fwd_cuda_bf16(o, d, 1, 4, 0, 8, NULL));
    TWIN_EXPECT(SILT_ERR_ARG, attention_qkv_fwd_cuda_bf16(o, NULL, 1, 4, 2, 8, NULL));
    TWIN_EXPECT(SILT_ERR_ARG, attention_qkv_fwd_cuda_bf16(NULL, d, 1, 4, 2, 8, NULL));
    TWIN_EXPECT(SILT_OK, attention_qkv_fwd_cuda_bf16(NULL, NULL, 0, 4, 2, 8, NULL));  // nothing to do
    CHECK_OK(silt_cuda_sync());
    silt_cuda_free(d);
}

// The graph op: the raw kernel's bits on a CUDA graph (SoftPAG strengths
// given in host memory), refusals on a CPU graph and when a grad is wanted,
// and when a block takes it (dit_attention_qkv_bf16_takes).
static void graph_case(void) {
    const int64_t B = 2, T = 70, H = 3, Dh = 72, n = B * T * 3 * H * Dh, no = B * T * H * Dh;
    float hu[6] = {0.0f, 0.5f, 1.0f, 0.0f, 0.25f, 0.0f};
    float *qkv = twin_host(n);
    uint16_t *want = calloc((size_t)no, 2), *got = calloc((size_t)no, 2);
    float *d_qkv = NULL, *d_hu = NULL;
    uint16_t *d_o = NULL;
    silt_graph *g = silt_graph_create_on(SILT_CUDA, 0), *gc = silt_graph_create(0);
    if (!qkv || !want || !got || !g || !gc) {
        CHECK_MSG(0, "graph case setup: %s", silt_last_error());
        goto done;
    }
    test_fill(qkv, n, -1, 1);
    d_qkv = twin_upload(qkv, sizeof(float) * (size_t)n);
    d_hu = twin_upload(hu, sizeof hu);
    d_o = twin_upload(NULL, 2 * (size_t)no);
    if (!d_qkv || !d_hu || !d_o) goto done;
    CHECK_OK(attention_qkv_fwd_cuda_bf16(d_o, d_qkv, B, T, H, Dh, d_hu));
    if (!twin_download(want, d_o, 2 * (size_t)no)) goto done;

    silt_graph_set_grad(g, false);
    const int64_t shape[3] = {B, T, 3 * H * Dh};
    silt_tensor *x = silt_graph_upload(g, SILT_F32, 3, shape, qkv);
    silt_tensor *a = dit_attention_qkv_bf16(g, x, (int)H, hu);
    CHECK_MSG(a && a->dtype == SILT_BF16 && a->ndim == 3 && a->shape[0] == B && a->shape[1] == T &&
                  a->shape[2] == H * Dh,
              "graph op: %s", silt_last_error());
    if (a && twin_download(got, a->data, 2 * (size_t)no)) twin_same_bits("graph op vs kernel (pag)", got, want, 2 * (size_t)no);
    // A shape that does not split into 3 x heads: one error naming the op.
    silt_graph_reset(g);
    x = silt_graph_upload(g, SILT_F32, 3, (const int64_t[]){1, 4, 10}, qkv);
    CHECK(dit_attention_qkv_bf16(g, x, 3, NULL) == NULL && silt_graph_status(g) == SILT_ERR_SHAPE);
    CHECK_MSG(strstr(silt_last_error(), "attention_qkv_bf16") != NULL, "got: %s", silt_last_error());
    // A grad through it: refused (inference only).
    silt_graph_reset(g);
    silt_graph_set_grad(g, true);
    x = silt_graph_upload(g, SILT_F32, 3, shape, qkv);
    x->requires_grad = true;
    CHECK(dit_attention_qkv_bf16(g, x, (int)H, NULL) == NULL && silt_graph_status(g) == SILT_ERR_UNSUPPORTED);
    // A CPU graph: refused.
    silt_graph_set_grad(gc, false);
    x = silt_graph_upload(gc, SILT_F32, 3, shape, qkv);
    CHECK(dit_attention_qkv_bf16(gc, x, (int)H, NULL) == NULL && silt_graph_status(gc) == SILT_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(silt_last_error(), "a CUDA graph only") != NULL, "got: %s", silt_last_error());
    // Taken only on a CUDA graph with the bf16 attention switch on.
    CHECK(!dit_attention_qkv_bf16_takes(g, 72));  // switch off (the default)
    bool was = silt_cuda_set_attention_bf16(true);
    CHECK(!was);
    CHECK(dit_attention_qkv_bf16_takes(g, 72) && !dit_attention_qkv_bf16_takes(g, 6));
    CHECK(!dit_attention_qkv_bf16_takes(gc, 72));
    silt_cuda_set_attention_bf16(false);
done:
    silt_graph_free(g);
    silt_graph_free(gc);
    silt_cuda_free(d_qkv);
    silt_cuda_free(d_hu);
    silt_cuda_free(d_o);
    free(qkv), free(want), free(got);
}

int main(void) {
    GPU_TEST_START();
    test_refusals();
    const qshape shapes[] = {
        {1, 1, 1, 4, false},    {2, 17, 3, 8, true},    {2, 65, 2, 72, true},   {1, 129, 4, 64, false},
        {3, 100, 1, 128, true}, {2, 257, 1, 16, false}, {1, 70, 3, 96, true},   {1, 50, 5, 20, true},
        {2, 256, 16, 72, true},  // DiT-XL/2's layer at batch 2
    };
    twin_quiet = 1;
    for (int variant = 1; variant <= 2; variant++) {
        silt_cuda_set_attention_mma_variant(variant);
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) qkv_case(shapes[i], variant, (int)i);
    }
    silt_cuda_set_attention_mma_variant(2);  // the default
    graph_case();
    return check_summary();
}
