// Backward through the conv / norm / resample / embedding / pad / clamp graph
// ops on a CUDA graph against the same graph on the CPU (issue 6): these ops
// record nodes that run the CUDA backward twins (conv2d through cuDNN,
// group norm, L2 norm, the three resample kinds, embedding, pad2d, clamp).
//
// Chain A, once per resample kind (nearest up to a non-integer ratio,
// bicubic up, area down):
//   x (2,3,9,7) -> conv2d 3x3 pad 1 (w, bias) -> group norm (4 groups, affine)
//   -> SiLU -> resample -> L2 norm over W
// Chain B: ids (2,15) with repeats -> embedding (11,6) -> reshape (2,5,3,6)
//   -> pad2d (1,2,1,2) -> conv2d 3x2 stride (2,1) pad (0,1), no bias
//   -> clamp [-0.3, 0.3] -> group norm (2 groups, no affine) -> L2 norm
// Each backward starts from the same random seed gradient. Compared: the
// output and the gradient of every leaf (input, weights, biases, norm
// parameters, embedding table), fp32 with TF32 off, scale-aware: element i
// passes when |cuda - cpu| <= 1e-4 * (|cpu| + rms(cpu)) (both sides sum in
// other orders, so they differ at ~1e-6 relative). The CUDA chain then runs
// again from zeroed grads: every op here is deterministic (cuDNN's
// deterministic algorithms, fixed-order reductions, gathers), so the grads
// must repeat bit for bit. Exit 77 (SKIP) without a GPU or without cuDNN.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/graph.h"
#include "core/ops.h"
#include "cuda/cuda.h"
#include "gpu_test.h"
#include "twin_util.h"

#define RTOL 1e-4

// A leaf tensor on both devices with the same values; with grad, each has a
// zeroed grad buffer (the device one from silt_cuda_malloc, freed with the
// tensor by silt_tensor_free_cuda).
typedef struct {
    const char *name;
    silt_tensor *cpu, *dev;
} leaf;

static int leaf_make(leaf *p, const char *name, int ndim, const int64_t *shape, float lo, float hi) {
    p->name = name;
    p->cpu = silt_tensor_create_f32(ndim, shape, true);
    p->dev = NULL;
    if (!p->cpu) {
        CHECK_MSG(0, "%s: %s", name, silt_last_error());
        return 0;
    }
    test_fill(silt_f32(p->cpu), silt_numel(p->cpu), lo, hi);
    void *g = NULL;
    if (silt_tensor_to_cuda(p->cpu, &p->dev) != SILT_OK || silt_cuda_malloc(&g, silt_nbytes(p->cpu)) != SILT_OK ||
        silt_cuda_memset(g, 0, silt_nbytes(p->cpu)) != SILT_OK) {
        CHECK_MSG(0, "%s to cuda: %s", name, silt_last_error());
        silt_cuda_free(g);
        return 0;
    }
    p->dev->grad = g;
    p->dev->requires_grad = true;
    return 1;
}

static void leaf_zero_grad(leaf *p) {
    silt_tensor_zero_grad(p->cpu);
    CHECK_OK(silt_cuda_memset(p->dev->grad, 0, silt_nbytes(p->dev)));
}

static void leaf_free(leaf *p) {
    silt_tensor_free(p->cpu);
    silt_tensor_free_cuda(p->dev);
}

enum { L_X, L_W1, L_B1, L_GW, L_GB, L_TABLE, L_W2, L_COUNT };
static leaf leaves[L_COUNT];

static silt_tensor *T(int i, bool dev) { return dev ? leaves[i].dev : leaves[i].cpu; }

enum { K_NEAREST, K_BICUBIC, K_AREA, K_CHAIN_B };
static const char *kind_names[] = {"A nearest", "A bicubic", "A area", "B"};
static const int32_t ids_host[30] = {3, 0, 10, 3, 7, 7, 1, 3, 5, 9, 2, 0, 10, 4, 6,
                                     8, 3, 3, 1, 0, 5, 7, 2, 9, 10, 4, 4, 6, 8, 1};

// The chain on g (cpu leaves on a CPU graph, device leaves on a CUDA graph).
static silt_tensor *chain(silt_graph *g, int kind, bool dev) {
    if (kind == K_CHAIN_B) {
        silt_tensor *id = silt_graph_upload(g, SILT_I32, 2, (const int64_t[]){2, 15}, ids_host);
        silt_tensor *h = silt_embedding(g, id, T(L_TABLE, dev));                    // (2, 15, 6)
        h = silt_reshape(g, h, 4, (const int64_t[]){2, 5, 3, 6});
        h = silt_pad2d(g, h, 1, 2, 1, 2);                                          // (2, 5, 6, 9)
        h = silt_conv2d_ex(g, h, T(L_W2, dev), NULL, 2, 1, 0, 1);                  // (2, 4, 2, 10)
        h = silt_clamp(g, h, -0.3f, 0.3f);
        h = silt_groupnorm(g, h, NULL, NULL, 2, 1e-5f);
        return silt_l2norm(g, h, 1e-6f);
    }
    silt_tensor *h = silt_conv2d(g, T(L_X, dev), T(L_W1, dev), T(L_B1, dev), 1, 1);  // (2, 8, 9, 7)
    h = silt_groupnorm(g, h, T(L_GW, dev), T(L_GB, dev), 4, 1e-5f);
    h = silt_silu(g, h);
    switch (kind) {
    case K_NEAREST: h = silt_upsample_nearest(g, h, 17, 15); break;
    case K_BICUBIC: h = silt_upsample_bicubic(g, h, 14, 12); break;
    default: h = silt_area_downsample(g, h, 4, 5); break;
    }
    return silt_l2norm(g, h, 1e-6f);
}

static const int chain_a_leaves[] = {L_X, L_W1, L_B1, L_GW, L_GB}, chain_b_leaves[] = {L_TABLE, L_W2};

// Forward, then backward from `seed` (*n_out floats; NULL: only report the
// size in *n_out). The output is copied to out_host (host) when given.
static int run(silt_graph *g, int kind, bool dev, const float *seed, float *out_host, int64_t *n_out) {
    silt_graph_reset(g);
    silt_tensor *y = chain(g, kind, dev);
    if (!y) {
        CHECK_MSG(0, "%s forward on %s: %s", kind_names[kind], dev ? "cuda" : "cpu", silt_last_error());
        return 0;
    }
    if (!seed) {
        *n_out = silt_numel(y);
        return 1;
    }
    CHECK_MSG(silt_numel(y) == *n_out, "%s: output size differs between the devices", kind_names[kind]);
    if (silt_numel(y) != *n_out) return 0;
    silt_status s = silt_backward(g, y, seed);
    if (s == SILT_OK && dev) s = silt_cuda_sync();
    if (s == SILT_OK && out_host)
        s = dev ? silt_cuda_memcpy_d2h(out_host, y->data, silt_nbytes(y))
                : (memcpy(out_host, y->data, silt_nbytes(y)), SILT_OK);
    CHECK_MSG(s == SILT_OK, "%s backward on %s: %s", kind_names[kind], dev ? "cuda" : "cpu", silt_last_error());
    return s == SILT_OK;
}

static float *download_grad(const leaf *p) {
    int64_t n = silt_numel(p->dev);
    float *h = twin_host(n);
    if (h && twin_download(h, p->dev->grad, (size_t)n * sizeof(float))) return h;
    free(h);
    return NULL;
}

static void chain_case(silt_graph *gc, silt_graph *gd, int kind) {
    const int *ls = kind == K_CHAIN_B ? chain_b_leaves : chain_a_leaves;
    int nl = kind == K_CHAIN_B ? 2 : 5;
    for (int i = 0; i < L_COUNT; i++) leaf_zero_grad(&leaves[i]);
    int64_t n = 0;
    if (!run(gc, kind, false, NULL, NULL, &n)) return;
    float *seed = twin_host(n), *yc = twin_host(n), *yd = twin_host(n), *first[L_COUNT] = {0};
    char what[96];
    if (!seed || !yc || !yd) goto done;
    test_fill(seed, n, -1, 1);
    if (!run(gc, kind, false, seed, yc, &n) || !run(gd, kind, true, seed, yd, &n)) goto done;
    snprintf(what, sizeof what, "chain %s: output", kind_names[kind]);
    twin_compare(what, yd, yc, n, RTOL, twin_rms(yc, n));
    for (int k = 0; k < nl; k++) {
        leaf *p = &leaves[ls[k]];
        int64_t m = silt_numel(p->cpu);
        first[ls[k]] = download_grad(p);
        if (!first[ls[k]]) goto done;
        double scale = twin_rms(p->cpu->grad, m);
        CHECK_MSG(scale > 0, "chain %s: the cpu grad of %s is all zero (the test is blind there)", kind_names[kind],
                  p->name);
        snprintf(what, sizeof what, "chain %s: grad %s", kind_names[kind], p->name);
        twin_compare(what, first[ls[k]], p->cpu->grad, m, RTOL, scale);
    }
    // Again on the device from zeroed grads: the same bits.
    for (int k = 0; k < nl; k++) leaf_zero_grad(&leaves[ls[k]]);
    if (!run(gd, kind, true, seed, yd, &n)) goto done;
    for (int k = 0; k < nl; k++) {
        leaf *p = &leaves[ls[k]];
        float *again = download_grad(p);
        if (!again) goto done;
        snprintf(what, sizeof what, "chain %s: grad %s rerun", kind_names[kind], p->name);
        twin_same_bits(what, again, first[ls[k]], (size_t)silt_numel(p->cpu) * sizeof(float));
        free(again);
    }
done:
    for (int i = 0; i < L_COUNT; i++) free(first[i]);
    free(seed);
    free(yc);
    free(yd);
}

int main(void) {
    GPU_TEST_START();
    if (!silt_cuda_have_cudnn()) {
        printf("SKIP: no cuDNN (conv2d on cuda needs it)\n");
        return 77;
    }
    silt_cuda_set_allow_tf32(false);
    test_seed(20261128);
    int ok = leaf_make(&leaves[L_X], "x", 4, (const int64_t[]){2, 3, 9, 7}, -1, 1) &&
             leaf_make(&leaves[L_W1], "conv w", 4, (const int64_t[]){8, 3, 3, 3}, -0.3f, 0.3f) &&
             leaf_make(&leaves[L_B1], "conv bias", 1, (const int64_t[]){8}, -0.5f, 0.5f) &&
             leaf_make(&leaves[L_GW], "groupnorm w", 1, (const int64_t[]){8}, 0.5f, 1.5f) &&
             leaf_make(&leaves[L_GB], "groupnorm b", 1, (const int64_t[]){8}, -0.5f, 0.5f) &&
             leaf_make(&leaves[L_TABLE], "embedding table", 2, (const int64_t[]){11, 6}, -1, 1) &&
             leaf_make(&leaves[L_W2], "conv w (chain B)", 4, (const int64_t[]){4, 5, 3, 2}, -0.3f, 0.3f);
    silt_graph *gc = silt_graph_create(0), *gd = silt_graph_create_on(SILT_CUDA, (size_t)64 << 20);
    CHECK_MSG(gc && gd, "graphs: %s", silt_last_error());
    if (ok && gc && gd)
        for (int kind = K_NEAREST; kind <= K_CHAIN_B; kind++) chain_case(gc, gd, kind);
    silt_graph_free(gc);
    silt_graph_free(gd);
    for (int i = 0; i < L_COUNT; i++) leaf_free(&leaves[i]);
    return check_summary();
}
