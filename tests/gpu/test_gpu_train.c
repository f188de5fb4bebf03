// Training on the GPU vs the CPU (issue 6), for a tiny MMDiT (mmdit_create):
//  1. one batch: the flow-matching MSE loss and EVERY parameter gradient on a
//     CUDA graph vs a CPU graph (fp32, TF32 off);
//  2. the optimiser pieces on identical inputs: the global grad norm and
//     clipping, one AdamW update (silt_adamw_step's one multi-tensor launch,
//     adamw_multi_cuda, repeats the CPU arithmetic, so the weights and moments
//     should agree to the last bit), the EMA update, and the multi-tensor EMA
//     and zeroing against the per-tensor kernels;
//  3. five full steps (forward, backward, clip, AdamW) on each device from
//     the same weights: the weights after them;
//  4. the CLI: `gen train --arch mmdit --size tiny --device cuda` runs 5 steps
//     and writes a checkpoint `gen train --export` reads, a CPU run of the same
//     command gives nearly the same losses, and a CPU checkpoint resumes on
//     the GPU (the checkpoint format is the same); the latent and REPA runs
//     likewise; the world autoencoder (`--arch ae`) likewise, and its
//     decoder-only run on cuda keeps the encoder byte-identical.
// Exit 77 (SKIP) without a GPU.
//
// Tolerances (scale-aware, as tests/gpu/test_cuda_twins.c): an element passes
// when |got - ref| <= rtol * (|ref| + scale) with rtol 1e-4 and scale the
// largest |ref| of its tensor (so elements that cancel to ~0 are judged
// against the tensor's size, not their own). The GPU sums in other orders
// (cuBLAS, tree reductions), so fp32 results differ at ~1e-6 relative.
//
// Step 3 caveat: AdamW's first update is ~lr * sign(g) per element, so an
// element whose gradient is ~1e-7 of its tensor's scale (within rounding of 0)
// can take opposite steps on the two devices. Such elements are counted and
// allowed when rare (<= 1 in 10^4 per tensor, and each off by at most 2 lr per
// step); a wrong kernel moves far more than that.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/ops.h"
#include "core/ops_linear.h"
#include "core/optim.h"
#include "core/rng.h"
#include "core/log.h"
#include "core/safetensors.h"
#include "cuda/cuda.h"
#include "dit/mmdit.h"
#include "gpu_test.h"
#include "var/vqvae.h"
#include "gen/lib/train.h"

enum { B = 2, S = 16, T = 5, JOINT = 24, POOLED = 20 };
static const double RTOL = 1e-4;

static mmdit_config tiny_config(void) {
    // The gen train tiny preset's shape (patch 4, hidden 32, 2 heads, depth 2,
    // QK-norm) on a 16 px image.
    mmdit_config c = {.layout = MMDIT_LAYOUT_DIFFUSERS, .depth = 2, .heads = 2, .head_dim = 16, .hidden = 32,
                      .patch = 4, .in_channels = 3, .out_channels = 3, .joint_dim = JOINT, .pooled_dim = POOLED,
                      .pos_max = S / 4, .qk_norm = true, .n_dual = 0};
    return c;
}

// Scale-aware comparison of n floats; returns the number of elements off.
static int64_t compare(const char *what, const float *got, const float *ref, int64_t n, double rtol, bool print_ok) {
    double scale = 0, max_rel = 0, max_abs = 0;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)ref[i]));
    if (scale == 0) scale = 1e-30;
    int64_t bad = 0, worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)ref[i]), rel = d / (fabs((double)ref[i]) + scale);
        if (isnan(rel)) rel = INFINITY;
        if (!(rel <= rtol)) bad++;
        if (rel > max_rel || i == 0) { max_rel = rel; worst = i; }
        max_abs = fmax(max_abs, d);
    }
    if (print_ok || bad)
        printf("%s %-44s n %6lld max_abs %.2e max_rel %.2e tol_used %5.1f%%%s\n", bad ? "BAD" : "ok ", what,
               (long long)n, max_abs, max_rel, 100 * max_rel / rtol, bad ? "" : "");
    if (bad)
        printf("    %lld off; worst [%lld] got %.9g want %.9g\n", (long long)bad, (long long)worst, got[worst], ref[worst]);
    return bad;
}

static float *download(const silt_tensor *t) {
    float *h = malloc(silt_nbytes(t) ? silt_nbytes(t) : 4);
    silt_status s = silt_cuda_sync();
    if (h && s == SILT_OK) s = silt_cuda_memcpy_d2h(h, t->data, silt_nbytes(t));
    CHECK_MSG(h && s == SILT_OK, "download: %s", silt_last_error());
    return h;
}

static float *download_grad(const silt_tensor *t) {
    float *h = malloc(silt_nbytes(t) ? silt_nbytes(t) : 4);
    silt_status s = silt_cuda_sync();
    if (h && s == SILT_OK) s = silt_cuda_memcpy_d2h(h, t->grad, silt_nbytes(t));
    CHECK_MSG(h && s == SILT_OK, "download grad: %s", silt_last_error());
    return h;
}

// Two identical models (same seed); every all-zero parameter (adaLN-Zero
// modulation, proj_out, biases) gets small random values in both, so every
// gradient is non-trivial. Then `dev` moves to the GPU with device grads.
static int make_models(mmdit_model **cpu, mmdit_model **dev) {
    mmdit_config c = tiny_config();
    if (mmdit_create(&c, 7, cpu) != SILT_OK || mmdit_create(&c, 7, dev) != SILT_OK) {
        CHECK_MSG(0, "mmdit_create: %s", silt_last_error());
        return 0;
    }
    for (int i = 0; i < mmdit_param_count(*cpu); i++) {
        silt_tensor *a = mmdit_param(*cpu, i, NULL, NULL), *b = mmdit_param(*dev, i, NULL, NULL);
        float *pa = silt_f32(a), *pb = silt_f32(b);
        int64_t n = silt_numel(a);
        bool zero = true;
        for (int64_t j = 0; j < n && zero; j++) zero = pa[j] == 0;
        if (zero) {
            silt_rng_normal(pa, n, 1234, (uint64_t)i, 0);
            for (int64_t j = 0; j < n; j++) pa[j] *= 0.05f;
        }
        memcpy(pb, pa, (size_t)n * sizeof(float));
    }
    if (mmdit_to_device(*dev, SILT_CUDA) != SILT_OK) {
        CHECK_MSG(0, "mmdit_to_device: %s", silt_last_error());
        return 0;
    }
    for (int i = 0; i < mmdit_param_count(*dev); i++) {
        silt_tensor *t = mmdit_param(*dev, i, NULL, NULL);
        void *gbuf = NULL;
        if (silt_cuda_malloc(&gbuf, silt_nbytes(t)) != SILT_OK || silt_cuda_memset(gbuf, 0, silt_nbytes(t)) != SILT_OK) {
            CHECK_MSG(0, "device grad: %s", silt_last_error());
            return 0;
        }
        t->grad = gbuf;  // freed with the model (silt_tensor_free_cuda)
        t->requires_grad = true;
    }
    return 1;
}

typedef struct batch {
    float x[B * 3 * S * S], target[B * 3 * S * S], ctx[B * T * JOINT], pooled[B * POOLED], t[B];
} batch;

static void make_batch(batch *b, uint64_t seed) {
    silt_rng_normal(b->x, B * 3 * S * S, seed, 0, 0);
    silt_rng_normal(b->target, B * 3 * S * S, seed, 1, 0);
    silt_rng_normal(b->ctx, B * T * JOINT, seed, 2, 0);
    silt_rng_normal(b->pooled, B * POOLED, seed, 3, 0);
    b->t[0] = 250.0f + (float)(seed % 7);
    b->t[1] = 870.0f;
}

// loss = mse(mmdit(x, t, ctx, pooled), target) on g, then backward. The
// loss value comes back in *loss (host).
static int loss_backward(silt_graph *g, mmdit_model *m, const batch *b, float *loss) {
    silt_graph_reset(g);
    silt_tensor *x = silt_graph_upload(g, SILT_F32, 4, (const int64_t[]){B, 3, S, S}, b->x);
    silt_tensor *y = silt_graph_upload(g, SILT_F32, 4, (const int64_t[]){B, 3, S, S}, b->target);
    silt_tensor *c = silt_graph_upload(g, SILT_F32, 3, (const int64_t[]){B, T, JOINT}, b->ctx);
    silt_tensor *p = silt_graph_upload(g, SILT_F32, 2, (const int64_t[]){B, POOLED}, b->pooled);
    silt_tensor *l = silt_mse_loss(g, mmdit_forward(g, m, x, b->t, c, p, NULL), y);
    if (!l) {
        CHECK_MSG(0, "forward on %s: %s", silt_device_name(silt_graph_device(g)), silt_last_error());
        return 0;
    }
    silt_status s = silt_backward(g, l, NULL);
    if (s == SILT_OK && l->device == SILT_CUDA) s = silt_cuda_sync();
    if (s == SILT_OK)
        s = l->device == SILT_CUDA ? silt_cuda_memcpy_d2h(loss, l->data, sizeof *loss) : (*loss = silt_f32(l)[0], SILT_OK);
    CHECK_MSG(s == SILT_OK, "backward on %s: %s", silt_device_name(silt_graph_device(g)), silt_last_error());
    return s == SILT_OK;
}

static void zero_grads(mmdit_model *m) {
    for (int i = 0; i < mmdit_param_count(m); i++) {
        silt_tensor *t = mmdit_param(m, i, NULL, NULL);
        if (t->device == SILT_CUDA) CHECK(silt_cuda_memset(t->grad, 0, silt_nbytes(t)) == SILT_OK);
        else silt_tensor_zero_grad(t);
    }
}

static silt_tensor **param_list(mmdit_model *m, bool **no_decay) {
    int n = mmdit_param_count(m);
    silt_tensor **ps = calloc((size_t)n, sizeof *ps);
    *no_decay = calloc((size_t)n, sizeof **no_decay);
    for (int i = 0; i < n; i++) ps[i] = mmdit_param(m, i, NULL, &(*no_decay)[i]);
    return ps;
}

// Device buffer holding n floats copied from host.
static float *up(const float *host, int64_t n) {
    void *d = NULL;
    size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(float);
    if (silt_cuda_malloc(&d, bytes) != SILT_OK || silt_cuda_memcpy_h2d(d, host, (size_t)n * sizeof(float)) != SILT_OK) {
        CHECK_MSG(0, "upload: %s", silt_last_error());
        silt_cuda_free(d);
        return NULL;
    }
    return d;
}

static void fill(float *x, int64_t n, uint64_t seed) { silt_rng_normal(x, n, seed, 0, 0); }

// 0. The new backward twins on their own (localises a failure of part 1):
// matmul_bwd_cuda in all four transpose cases, batch 1 and 3, and
// linear_bwd_cuda, vs the CPU twins, accumulating into non-zero d-buffers.
static void test_bwd_twins(void) {
    const int64_t shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {64, 48, 96}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int nbat = 1; nbat <= 3; nbat += 2)
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++) {
                    int64_t M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
                    int64_t na = nbat * M * K, nb = nbat * K * N, nc = nbat * M * N;
                    float *a = malloc((size_t)na * 4), *b = malloc((size_t)nb * 4), *dc = malloc((size_t)nc * 4);
                    float *da = malloc((size_t)na * 4), *db = malloc((size_t)nb * 4);
                    float *ga = malloc((size_t)na * 4), *gb = malloc((size_t)nb * 4);
                    fill(a, na, 1), fill(b, nb, 2), fill(dc, nc, 3), fill(da, na, 4), fill(db, nb, 5);
                    float *a_d = up(a, na), *b_d = up(b, nb), *dc_d = up(dc, nc), *da_d = up(da, na), *db_d = up(db, nb);
                    silt_status st = matmul_bwd_cuda(da_d, db_d, dc_d, a_d, b_d, nbat, M, N, K, ta, tb);
                    CHECK_MSG(st == SILT_OK, "matmul_bwd_cuda: %s", silt_last_error());
                    matmul_bwd_cpu(da, db, dc, a, b, nbat, M, N, K, ta, tb);
                    if (st == SILT_OK && silt_cuda_sync() == SILT_OK && silt_cuda_memcpy_d2h(ga, da_d, (size_t)na * 4) == SILT_OK &&
                        silt_cuda_memcpy_d2h(gb, db_d, (size_t)nb * 4) == SILT_OK) {
                        char what[128];
                        snprintf(what, sizeof what, "matmul_bwd da b%d %lldx%lldx%lld t%d%d", nbat, (long long)M,
                                 (long long)N, (long long)K, ta, tb);
                        CHECK(compare(what, ga, da, na, RTOL, false) == 0);
                        snprintf(what, sizeof what, "matmul_bwd db b%d %lldx%lldx%lld t%d%d", nbat, (long long)M,
                                 (long long)N, (long long)K, ta, tb);
                        CHECK(compare(what, gb, db, nb, RTOL, false) == 0);
                    }
                    silt_cuda_free(a_d), silt_cuda_free(b_d), silt_cuda_free(dc_d), silt_cuda_free(da_d),
                        silt_cuda_free(db_d);
                    free(a), free(b), free(dc), free(da), free(db), free(ga), free(gb);
                }
    printf("ok  matmul_bwd_cuda: 4 shapes x batch 1, 3 x 4 transpose cases\n");
    // N, in_f, out_f; the bias grad runs in row chunks from 128 rows (its scratch grows at 4096 x 257)
    const int64_t lin[][3] = {{1, 1, 1}, {5, 7, 3}, {130, 33, 65}, {2048, 32, 96}, {4096, 16, 257}};
    for (size_t si = 0; si < sizeof lin / sizeof lin[0]; si++) {
        int64_t N = lin[si][0], I = lin[si][1], O = lin[si][2];
        float *x = malloc((size_t)(N * I) * 4), *w = malloc((size_t)(O * I) * 4), *dout = malloc((size_t)(N * O) * 4);
        float *dx = malloc((size_t)(N * I) * 4), *dw = malloc((size_t)(O * I) * 4), *dbias = malloc((size_t)O * 4);
        float *gx = malloc((size_t)(N * I) * 4), *gw = malloc((size_t)(O * I) * 4), *gbias = malloc((size_t)O * 4);
        fill(x, N * I, 6), fill(w, O * I, 7), fill(dout, N * O, 8), fill(dx, N * I, 9), fill(dw, O * I, 10),
            fill(dbias, O, 11);
        float *x_d = up(x, N * I), *w_d = up(w, O * I), *dout_d = up(dout, N * O), *dx_d = up(dx, N * I),
              *dw_d = up(dw, O * I), *db_d = up(dbias, O);
        silt_status st = linear_bwd_cuda(dx_d, dw_d, db_d, dout_d, x_d, w_d, N, I, O);
        CHECK_MSG(st == SILT_OK, "linear_bwd_cuda: %s", silt_last_error());
        linear_bwd_cpu(dx, dw, dbias, dout, x, w, N, I, O);
        if (st == SILT_OK && silt_cuda_sync() == SILT_OK && silt_cuda_memcpy_d2h(gx, dx_d, (size_t)(N * I) * 4) == SILT_OK &&
            silt_cuda_memcpy_d2h(gw, dw_d, (size_t)(O * I) * 4) == SILT_OK &&
            silt_cuda_memcpy_d2h(gbias, db_d, (size_t)O * 4) == SILT_OK) {
            char what[128];
            snprintf(what, sizeof what, "linear_bwd dx %lldx%lld->%lld", (long long)N, (long long)I, (long long)O);
            CHECK(compare(what, gx, dx, N * I, RTOL, true) == 0);
            snprintf(what, sizeof what, "linear_bwd dw %lldx%lld->%lld", (long long)N, (long long)I, (long long)O);
            CHECK(compare(what, gw, dw, O * I, RTOL, true) == 0);
            snprintf(what, sizeof what, "linear_bwd dbias %lldx%lld->%lld", (long long)N, (long long)I, (long long)O);
            CHECK(compare(what, gbias, dbias, O, RTOL, true) == 0);
        }
        silt_cuda_free(x_d), silt_cuda_free(w_d), silt_cuda_free(dout_d), silt_cuda_free(dx_d), silt_cuda_free(dw_d),
            silt_cuda_free(db_d);
        free(x), free(w), free(dout), free(dx), free(dw), free(dbias), free(gx), free(gw), free(gbias);
    }
    // The sum of squares over sizes around the block and grid shapes.
    const int64_t ns[] = {1, 255, 256, 257, 65536 + 3, 1000003};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        float *x = malloc((size_t)ns[i] * 4);
        fill(x, ns[i], 12 + i);
        double ref = 0, got = NAN;
        for (int64_t j = 0; j < ns[i]; j++) ref += (double)x[j] * x[j];
        float *x_d = up(x, ns[i]);
        double *acc = NULL, *part = NULL, one = 1.0;
        CHECK(silt_cuda_malloc((void **)&acc, sizeof(double)) == SILT_OK);
        CHECK(silt_cuda_malloc((void **)&part, SILT_SUMSQ_PARTIALS * sizeof(double)) == SILT_OK);
        CHECK(silt_cuda_memcpy_h2d(acc, &one, sizeof one) == SILT_OK);  // it accumulates: start at 1
        CHECK(sumsq_acc_cuda(acc, part, x_d, ns[i]) == SILT_OK);
        CHECK(silt_cuda_memcpy_d2h(&got, acc, sizeof got) == SILT_OK);
        CHECK_MSG(fabs(got - (ref + 1.0)) <= 1e-10 * (ref + 1.0), "sumsq n %lld: %.17g vs %.17g", (long long)ns[i], got,
                  ref + 1.0);
        silt_cuda_free(x_d), silt_cuda_free(acc), silt_cuda_free(part);
        free(x);
    }
    printf("ok  sumsq_acc_cuda: 6 sizes\n");
}

// 1 and 2.
static void test_grads_and_optimiser(void) {
    mmdit_model *mc = NULL, *md = NULL;
    if (!make_models(&mc, &md)) goto out;
    silt_graph *gc = silt_graph_create(0), *gd = silt_graph_create_on(SILT_CUDA, 0);
    CHECK(gc && gd);
    batch *b = calloc(1, sizeof *b);
    make_batch(b, 11);
    float lc = 0, ld = 0;
    if (!loss_backward(gc, mc, b, &lc) || !loss_backward(gd, md, b, &ld)) goto free_graphs;
    printf("loss cpu %.9g cuda %.9g\n", lc, ld);
    CHECK_MSG(fabs((double)ld - lc) <= RTOL * fabs((double)lc), "loss: cuda %.9g vs cpu %.9g", ld, lc);
    int n = mmdit_param_count(mc), nbad = 0, nzero = 0;
    for (int i = 0; i < n; i++) {
        const char *name = NULL;
        silt_tensor *tc = mmdit_param(mc, i, &name, NULL), *td = mmdit_param(md, i, NULL, NULL);
        float *gdh = download_grad(td);
        char what[160];
        snprintf(what, sizeof what, "grad %s", name);
        double gmax = 0;
        for (int64_t j = 0; j < silt_numel(tc); j++) gmax = fmax(gmax, fabs(tc->grad[j]));
        // The last block's text queries are dropped (context_pre_only), so its
        // add_q / norm_added_q get exactly zero: the GPU must give zero too.
        if (gmax == 0) printf("note: grad %s is all zero on the cpu\n", name);
        nzero += gmax == 0;
        int64_t bad = gdh ? compare(what, gdh, tc->grad, silt_numel(tc), RTOL, true) : 1;
        nbad += bad > 0;
        free(gdh);
    }
    CHECK_MSG(nbad == 0, "%d of %d parameter gradients off", nbad, n);
    CHECK_MSG(nzero <= 4, "%d of %d parameter gradients are all zero", nzero, n);

    // 2a. grad norm and clipping on the same gradients: upload the CPU ones.
    bool *ndc = NULL, *ndd = NULL;
    silt_tensor **pc = param_list(mc, &ndc), **pd = param_list(md, &ndd);
    for (int i = 0; i < n; i++)
        CHECK(silt_cuda_memcpy_h2d(pd[i]->grad, pc[i]->grad, silt_nbytes(pc[i])) == SILT_OK);
    // Clip to half the norm, so the scaling path runs.
    const float half = 0.5f * silt_grad_clip_norm(pc, n, 0.0f);
    float nc = silt_grad_clip_norm(pc, n, half), nd = silt_grad_clip_norm(pd, n, half);
    printf("grad norm cpu %.9g cuda %.9g (clipped to %.9g)\n", nc, nd, half);
    CHECK_MSG(fabs((double)nd - nc) <= 1e-6 * nc, "grad norm: cuda %.9g vs cpu %.9g", nd, nc);
    CHECK(half > 0);
    for (int i = 0; i < n; i++) {
        float *h = download_grad(pd[i]);
        char what[64];
        snprintf(what, sizeof what, "clipped grad %d", i);
        if (h) CHECK(compare(what, h, pc[i]->grad, silt_numel(pc[i]), 1e-6, false) == 0);
        free(h);
    }
    // The clipped grads may differ in the last bit (the coefficient is the
    // same float, the norms may round apart): start the AdamW check from the
    // CPU's exactly.
    for (int i = 0; i < n; i++)
        CHECK(silt_cuda_memcpy_h2d(pd[i]->grad, pc[i]->grad, silt_nbytes(pc[i])) == SILT_OK);

    // 2b. one AdamW update from identical weights and grads: two steps, so the
    // moments and the bias corrections of t = 2 are exercised too.
    silt_adamw_params ap = silt_adamw_default_params();
    ap.weight_decay = 0.05;
    silt_adamw *oc = silt_adamw_create(pc, ndc, n, ap), *od = silt_adamw_create(pd, ndd, n, ap);
    CHECK_MSG(oc && od, "adamw_create: %s", silt_last_error());
    CHECK(od && silt_adamw_device(od) == SILT_CUDA);
    for (int k = 0; oc && od && k < 2; k++) {
        CHECK(silt_adamw_step(oc, 3e-3f) == SILT_OK);
        CHECK(silt_adamw_step(od, 3e-3f) == SILT_OK);
    }
    int64_t bits_off = 0;
    for (int i = 0; oc && od && i < n; i++) {
        float *w = download(pd[i]), *m = NULL, *v = NULL, *dm = NULL, *dv = NULL;
        silt_adamw_state(oc, i, &m, &v);
        silt_adamw_state(od, i, &dm, &dv);
        silt_tensor mt = *pd[i];
        mt.data = dm;
        float *mh = download(&mt);
        mt.data = dv;
        float *vh = download(&mt);
        char what[64];
        snprintf(what, sizeof what, "adamw weights %d", i);
        if (w) CHECK(compare(what, w, silt_f32(pc[i]), silt_numel(pc[i]), 1e-6, false) == 0);
        snprintf(what, sizeof what, "adamw m %d", i);
        if (mh) CHECK(compare(what, mh, m, silt_numel(pc[i]), 1e-6, false) == 0);
        snprintf(what, sizeof what, "adamw v %d", i);
        if (vh) CHECK(compare(what, vh, v, silt_numel(pc[i]), 1e-6, false) == 0);
        for (int64_t j = 0; w && j < silt_numel(pc[i]); j++) bits_off += memcmp(&w[j], &silt_f32(pc[i])[j], 4) != 0;
        free(w);
        free(mh);
        free(vh);
    }
    printf("adamw (2 updates, same grads): %lld weights differ from the cpu in any bit (expected 0 unless the cpu "
           "build contracts to FMA)\n", (long long)bits_off);

    // 2c. EMA update on the same data.
    {
        int64_t len = silt_numel(pc[0]);
        float *e = malloc((size_t)len * sizeof(float));
        for (int64_t j = 0; j < len; j++) e[j] = 0.5f * silt_f32(pc[0])[j] + 0.01f;
        silt_tensor et = *pd[0];
        void *de = NULL;
        CHECK(silt_cuda_malloc(&de, (size_t)len * sizeof(float)) == SILT_OK);
        CHECK(silt_cuda_memcpy_h2d(de, e, (size_t)len * sizeof(float)) == SILT_OK);
        CHECK(ema_update_cuda(de, silt_f32(pd[0]), len, (float)(1.0 - 0.999)) == SILT_OK);
        silt_train_ema_update(e, silt_f32(pc[0]), len, 0.999);
        et.data = de;
        float *eh = download(&et);
        if (eh) CHECK(compare("ema update", eh, e, len, 1e-6, true) == 0);
        free(eh);
        free(e);
        silt_cuda_free(de);
    }
    // 2d. the multi-tensor launches the trainer uses (one kernel over every
    // tensor): EMA on every parameter equals ema_update_cuda's per tensor bit
    // for bit, a second list of other sizes replaces the first, and zeroing
    // clears every grad. The second pass: the same through the per-tensor
    // escape hatch (SILT_CUDA_MULTI=0).
    for (int pass = 0; pass < 2; pass++) {
        if (pass) setenv("SILT_CUDA_MULTI", "0", 1);
        silt_multi_entry *me = calloc((size_t)n, sizeof *me);
        float **e1 = calloc((size_t)n, sizeof *e1), **e2 = calloc((size_t)n, sizeof *e2);
        silt_multi_list *ml = NULL;
        int bad = 0;
        for (int i = 0; me && e1 && e2 && i < n; i++) {
            int64_t len = silt_numel(pd[i]);
            float *h = malloc((size_t)len * sizeof(float));
            for (int64_t j = 0; h && j < len; j++) h[j] = 0.25f * (float)(j % 13) - 1.0f;
            CHECK(silt_cuda_malloc((void **)&e1[i], (size_t)len * 4) == SILT_OK);
            CHECK(silt_cuda_malloc((void **)&e2[i], (size_t)len * 4) == SILT_OK);
            if (h && e1[i] && e2[i]) {
                CHECK(silt_cuda_memcpy_h2d(e1[i], h, (size_t)len * 4) == SILT_OK);
                CHECK(silt_cuda_memcpy_h2d(e2[i], h, (size_t)len * 4) == SILT_OK);
                CHECK(ema_update_cuda(e2[i], silt_f32(pd[i]), len, 0.01f) == SILT_OK);
            }
            free(h);
            me[i] = (silt_multi_entry){.a = e1[i], .d = silt_f32(pd[i]), .n = len};
        }
        CHECK(me && silt_multi_list_set(&ml, me, 1) == SILT_OK);  // a first, shorter list, replaced below
        CHECK(me && silt_multi_list_set(&ml, me, n) == SILT_OK);
        CHECK(ema_multi_cuda(ml, 0.01f) == SILT_OK);
        for (int i = 0; me && e1 && e2 && i < n; i++) {
            int64_t len = silt_numel(pd[i]);
            float *got = malloc((size_t)len * 4), *want = malloc((size_t)len * 4);
            if (got && want && silt_cuda_memcpy_d2h(got, e1[i], (size_t)len * 4) == SILT_OK &&
                silt_cuda_memcpy_d2h(want, e2[i], (size_t)len * 4) == SILT_OK)
                bad += memcmp(got, want, (size_t)len * 4) != 0;
            free(got), free(want);
            me[i] = (silt_multi_entry){.a = e1[i], .n = len};
        }
        CHECK_MSG(bad == 0, "ema_multi_cuda: %d of %d tensors differ from ema_update_cuda's", bad, n);
        CHECK(me && silt_multi_list_set(&ml, me, n) == SILT_OK);
        CHECK(zero_multi_cuda(ml) == SILT_OK);
        int nonzero = 0;
        for (int i = 0; me && e1 && i < n; i++) {
            int64_t len = silt_numel(pd[i]);
            float *got = malloc((size_t)len * 4);
            if (got && silt_cuda_memcpy_d2h(got, e1[i], (size_t)len * 4) == SILT_OK)
                for (int64_t j = 0; j < len; j++) nonzero += got[j] != 0.0f;
            free(got);
        }
        CHECK_MSG(nonzero == 0, "zero_multi_cuda left %d values", nonzero);
        printf("ok  multi-tensor EMA and zero over %d tensors%s\n", n, pass ? " (SILT_CUDA_MULTI=0)" : "");
        for (int i = 0; e1 && e2 && i < n; i++) silt_cuda_free(e1[i]), silt_cuda_free(e2[i]);
        silt_multi_list_free(ml);
        free(me), free(e1), free(e2);
        if (pass) unsetenv("SILT_CUDA_MULTI");
    }
    silt_adamw_free(oc);
    silt_adamw_free(od);
    free(pc);
    free(pd);
    free(ndc);
    free(ndd);
free_graphs:
    free(b);
    silt_graph_free(gc);
    silt_graph_free(gd);
out:
    mmdit_free(mc);
    mmdit_free(md);
}

// 3. five full steps on each device.
static void test_five_steps(void) {
    mmdit_model *mc = NULL, *md = NULL;
    if (!make_models(&mc, &md)) goto out;
    int n = mmdit_param_count(mc);
    bool *ndc = NULL, *ndd = NULL;
    silt_tensor **pc = param_list(mc, &ndc), **pd = param_list(md, &ndd);
    silt_adamw_params ap = silt_adamw_default_params();
    silt_adamw *oc = silt_adamw_create(pc, ndc, n, ap), *od = silt_adamw_create(pd, ndd, n, ap);
    silt_graph *gc = silt_graph_create(0), *gd = silt_graph_create_on(SILT_CUDA, 0);
    batch *b = calloc(1, sizeof *b);
    const float lr = 1e-3f;
    CHECK(oc && od && gc && gd && b);
    for (int step = 0; oc && od && gc && gd && b && step < 5; step++) {
        make_batch(b, 100 + (uint64_t)step);
        zero_grads(mc);
        zero_grads(md);
        float lc = 0, ld = 0;
        if (!loss_backward(gc, mc, b, &lc) || !loss_backward(gd, md, b, &ld)) break;
        float nc = silt_grad_clip_norm(pc, n, 1.0f), nd = silt_grad_clip_norm(pd, n, 1.0f);
        printf("step %d: loss cpu %.7g cuda %.7g, grad norm cpu %.7g cuda %.7g\n", step + 1, lc, ld, nc, nd);
        CHECK_MSG(fabs((double)ld - lc) <= RTOL * fabs((double)lc), "step %d loss: cuda %.9g vs cpu %.9g", step + 1,
                  ld, lc);
        CHECK_MSG(fabs((double)nd - nc) <= RTOL * nc, "step %d grad norm: cuda %.9g vs cpu %.9g", step + 1, nd, nc);
        CHECK(silt_adamw_step(oc, lr) == SILT_OK);
        CHECK(silt_adamw_step(od, lr) == SILT_OK);
    }
    int nbad = 0;
    for (int i = 0; oc && od && i < n; i++) {
        const char *name = NULL;
        mmdit_param(mc, i, &name, NULL);
        float *w = download(pd[i]);
        if (!w) continue;
        const float *ref = silt_f32(pc[i]);
        int64_t len = silt_numel(pc[i]), flips = 0, worse = 0;
        double scale = 0;
        for (int64_t j = 0; j < len; j++) scale = fmax(scale, fabs(ref[j]));
        for (int64_t j = 0; j < len; j++) {
            double d = fabs((double)w[j] - ref[j]);
            if (d <= RTOL * (fabs(ref[j]) + scale)) continue;
            if (d <= 2.0 * lr * 5 + 1e-7) flips++;  // an opposite step from a gradient within rounding of 0
            else worse++;
        }
        char what[160];
        snprintf(what, sizeof what, "5 steps: %s", name);
        compare(what, w, ref, len, RTOL, true);
        bool ok = worse == 0 && flips * 10000 <= (len > 10000 ? len : 10000);
        if (flips) printf("    %lld element(s) off by an opposite AdamW step (allowed: rare)\n", (long long)flips);
        nbad += !ok;
        free(w);
    }
    CHECK_MSG(nbad == 0, "%d of %d parameters off after 5 steps", nbad, n);
    free(b);
    silt_graph_free(gc);
    silt_graph_free(gd);
    silt_adamw_free(oc);
    silt_adamw_free(od);
    free(pc);
    free(pd);
    free(ndc);
    free(ndd);
out:
    mmdit_free(mc);
    mmdit_free(md);
}

// 4. the CLI.
static int sh(const char *cmd) {
    printf("$ %s\n", cmd);
    fflush(stdout);
    int rc = system(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

// The loss column of the row for `step` of a train_log.csv (NaN if none).
static double csv_loss(const char *path, int step) {
    FILE *f = fopen(path, "r");
    if (!f) return NAN;
    char line[512];
    double v = NAN;
    while (fgets(line, sizeof line, f)) {
        long long st;
        double l;
        if (sscanf(line, "%lld,%lf", &st, &l) == 2 && st == step) v = l;
    }
    fclose(f);
    return v;
}

// The CSV losses of two 5-step runs (tmp/a vs tmp/b), cuda vs cpu: the same
// data and init, so nearly the same losses (fp32 sums in other orders; AdamW
// steps amplify a little).
static void same_losses(const char *label, const char *tmp, const char *a_dir, const char *b_dir) {
    char pa[512], pb[512];
    snprintf(pa, sizeof pa, "%s/%s/train_log.csv", tmp, a_dir);
    snprintf(pb, sizeof pb, "%s/%s/train_log.csv", tmp, b_dir);
    for (int r = 1; r <= 5; r++) {
        double a = csv_loss(pa, r), c = csv_loss(pb, r);
        printf("%s step %d loss: cuda %.7g cpu %.7g\n", label, r, a, c);
        CHECK_MSG(isfinite(a) && fabs(a - c) <= (r == 1 ? 1e-4 : 1e-3) * fabs(c), "%s step %d loss cuda %.9g cpu %.9g",
                  label, r, a, c);
    }
}

// The world autoencoder on the device: 5 steps of `gen train --arch ae` on
// each device give nearly the same losses; 3 decoder-only steps on cuda keep
// every encoder / quant_conv tensor byte-identical (no tape through them, no
// decay, and the EMA update e + w (p - e) leaves a frozen weight's EMA exact)
// while the decoder moves.
static void test_cli_ae(const char *gen, const char *tmp) {
    char cmd[4096];
    for (int dev = 0; dev < 2; dev++) {
        snprintf(cmd, sizeof cmd,
                 "OMP_NUM_THREADS=2 '%s' train --arch ae --size tiny --steps 5 --batch 4 --warmup 1 --log-every 1 "
                 "--seed 3 --device %s --out '%s/aefull_%s'",
                 gen, dev ? "cuda" : "cpu", tmp, dev ? "cuda" : "cpu");
        CHECK_MSG(sh(cmd) == 0, "gen train --arch ae --device %s failed", dev ? "cuda" : "cpu");
    }
    same_losses("ae", tmp, "aefull_cuda", "aefull_cpu");
    char start[512], out[512];
    snprintf(start, sizeof start, "%s/ae.safetensors", tmp);
    snprintf(out, sizeof out, "%s/aedec.safetensors", tmp);
    snprintf(cmd, sizeof cmd,
             "OMP_NUM_THREADS=2 '%s' train --arch ae --size tiny --decoder-only --init '%s' --steps 3 --batch 4 "
             "--warmup 1 --lr 1e-3 --device cuda --out '%s/aedec' && '%s' train --arch ae --export '%s/aedec' --out '%s'",
             gen, start, tmp, gen, tmp, out);
    CHECK_MSG(sh(cmd) == 0, "decoder-only gen train --arch ae --device cuda failed");
    silt_safetensors *sa = NULL, *sb = NULL;
    var_vqvae *a = NULL, *b = NULL;
    if (silt_safetensors_open(start, &sa) != SILT_OK || silt_safetensors_open(out, &sb) != SILT_OK ||
        var_vq_load(sa, &a) != SILT_OK || var_vq_load(sb, &b) != SILT_OK) {
        CHECK_MSG(0, "decoder-only: cannot load %s or %s: %s", start, out, silt_last_error());
    } else {
        int enc_n = 0, enc_same = 0, dec_moved = 0;
        for (int i = 0; i < var_vq_param_count(b); i++) {
            const char *name = NULL;
            silt_tensor *x = var_vq_param(b, i, &name), *y = var_vq_find_param(a, name);
            bool same = y && silt_nbytes(x) == silt_nbytes(y) && !memcmp(x->data, y->data, silt_nbytes(x));
            if (!strncmp(name, "encoder.", 8) || !strncmp(name, "quant_conv.", 11)) enc_n++, enc_same += same;
            else if (!strncmp(name, "decoder.", 8) || !strncmp(name, "post_quant_conv.", 16)) dec_moved += !same;
        }
        printf("decoder-only on cuda: %d of %d encoder tensors byte-identical, %d decoder tensors moved\n", enc_same,
               enc_n, dec_moved);
        CHECK_MSG(enc_n > 4 && enc_same == enc_n, "decoder-only on cuda: %d of %d encoder tensors kept", enc_same,
                  enc_n);
        CHECK_MSG(dec_moved > 4, "decoder-only on cuda: only %d decoder tensors moved", dec_moved);
    }
    var_vq_free(a);
    var_vq_free(b);
    silt_safetensors_close(sa);
    silt_safetensors_close(sb);
}

static void test_cli(void) {
    const char *gen = getenv("SILT_GEN"), *src = getenv("SILT_SOURCE_DIR");
    if (!gen) {
        printf("note: SILT_GEN not set (run through ctest): CLI part skipped\n");
        return;
    }
    char tmp[256], clip[512], cmd[4096], common[2048];
    snprintf(tmp, sizeof tmp, "/tmp/silt_test_gpu_train_%d", (int)getpid());
    snprintf(clip, sizeof clip, "%s/models/world-clip.safetensors.zst", src ? src : ".");
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", tmp, tmp);
    if (sh(cmd) != 0) { CHECK_MSG(0, "mkdir %s", tmp); return; }
    snprintf(common, sizeof common,
             "OMP_NUM_THREADS=2 '%s' train --arch mmdit --size tiny --clip-model '%s' --steps 5 --batch 4 --warmup 1 "
             "--lr 1e-3 --ema 0.9 --log-every 1 --seed 3",
             gen, clip);
    snprintf(cmd, sizeof cmd, "%s --device cuda --out '%s/gpu'", common, tmp);
    CHECK_MSG(sh(cmd) == 0, "gen train --device cuda failed");
    snprintf(cmd, sizeof cmd, "test -f '%s/gpu/checkpoint_5.safetensors'", tmp);
    CHECK_MSG(sh(cmd) == 0, "no checkpoint_5 from the cuda run");
    snprintf(cmd, sizeof cmd,
             "'%s' train --arch mmdit --export '%s/gpu' --out '%s/gpu.safetensors' && '%s' info '%s/gpu.safetensors'",
             gen, tmp, tmp, gen, tmp);
    CHECK_MSG(sh(cmd) == 0, "export / info of the cuda run's checkpoint failed");
    // The same run on the CPU (checkpoints at 3 and 5).
    snprintf(cmd, sizeof cmd, "%s --device cpu --ckpt-every 3 --keep 0 --out '%s/cpu'", common, tmp);
    CHECK_MSG(sh(cmd) == 0, "gen train --device cpu failed");
    same_losses("pixel", tmp, "gpu", "cpu");
    char pg[512], pcu[512];
    snprintf(pcu, sizeof pcu, "%s/cpu/train_log.csv", tmp);
    // Cross-device resume: the CPU run's step-3 checkpoint, steps 4 and 5 on the GPU.
    snprintf(cmd, sizeof cmd, "%s --device cuda --out '%s/mix' --resume '%s/cpu/checkpoint_3.safetensors'", common,
             tmp, tmp);
    CHECK_MSG(sh(cmd) == 0, "cuda resume of a cpu checkpoint failed");
    snprintf(pg, sizeof pg, "%s/mix/train_log.csv", tmp);
    for (int r = 4; r <= 5; r++) {
        double a = csv_loss(pg, r), c = csv_loss(pcu, r);
        printf("resumed step %d loss: cpu->cuda %.7g cpu %.7g\n", r, a, c);
        CHECK_MSG(isfinite(a) && fabs(a - c) <= 1e-3 * fabs(c), "resumed step %d loss %.9g vs cpu %.9g", r, a, c);
    }
    // The latent MMDiT (--ae): a tiny world autoencoder made on the cpu,
    // then 5 steps on each device; on cuda the autoencoder's encoder and the
    // world-CLIP text encoder run on the device too (REPA's image encode below).
    snprintf(cmd, sizeof cmd,
             "OMP_NUM_THREADS=2 '%s' train --arch ae --size tiny --steps 2 --batch 4 --warmup 1 --out '%s/ae' && "
             "'%s' train --arch ae --export '%s/ae' --out '%s/ae.safetensors'",
             gen, tmp, gen, tmp, tmp);
    CHECK_MSG(sh(cmd) == 0, "tiny world autoencoder failed");
    for (int dev = 0; dev < 2; dev++) {
        snprintf(cmd, sizeof cmd, "%s --ae '%s/ae.safetensors' --device %s --out '%s/lat_%s'", common, tmp,
                 dev ? "cuda" : "cpu", tmp, dev ? "cuda" : "cpu");
        CHECK_MSG(sh(cmd) == 0, "latent gen train --device %s failed", dev ? "cuda" : "cpu");
    }
    same_losses("latent", tmp, "lat_cuda", "lat_cpu");
    // --tf32: the same run with tensor-core products stays near the CPU's
    // losses (TF32's ~1e-3 per product, so 2e-2 over 5 steps) and is not
    // the fp32 run bit for bit (the switch took effect).
    snprintf(cmd, sizeof cmd, "%s --ae '%s/ae.safetensors' --device cuda --tf32 --out '%s/lat_tf32'", common, tmp, tmp);
    CHECK_MSG(sh(cmd) == 0, "latent gen train --device cuda --tf32 failed");
    {
        char pt[512], pc[512], pf[512];
        snprintf(pt, sizeof pt, "%s/lat_tf32/train_log.csv", tmp);
        snprintf(pc, sizeof pc, "%s/lat_cpu/train_log.csv", tmp);
        snprintf(pf, sizeof pf, "%s/lat_cuda/train_log.csv", tmp);
        int differ = 0;
        for (int r = 1; r <= 5; r++) {
            double t = csv_loss(pt, r), c = csv_loss(pc, r), f = csv_loss(pf, r);
            printf("latent tf32 step %d loss: %.7g (cpu %.7g, cuda fp32 %.7g)\n", r, t, c, f);
            CHECK_MSG(isfinite(t) && fabs(t - c) <= 2e-2 * fabs(c), "tf32 step %d loss %.9g vs cpu %.9g", r, t, c);
            differ += t != f;
        }
        CHECK_MSG(differ > 0, "--tf32 gave the fp32 run's losses to the bit: the switch did nothing");
    }
    test_cli_ae(gen, tmp);
    // REPA (--repa): the projector on the device, world-CLIP's patch tokens
    // from the cpu graph uploaded.
    for (int dev = 0; dev < 2; dev++) {
        snprintf(cmd, sizeof cmd, "%s --repa 0.5 --device %s --out '%s/repa_%s'", common, dev ? "cuda" : "cpu", tmp,
                 dev ? "cuda" : "cpu");
        CHECK_MSG(sh(cmd) == 0, "REPA gen train --device %s failed", dev ? "cuda" : "cpu");
    }
    same_losses("repa", tmp, "repa_cuda", "repa_cpu");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (sh(cmd) != 0) printf("note: could not remove %s\n", tmp);
}

int main(void) {
    GPU_TEST_START();
    silt_cuda_set_allow_tf32(false);
    test_bwd_twins();
    test_grads_and_optimiser();
    test_five_steps();
    test_cli();
    return check_summary();
}
