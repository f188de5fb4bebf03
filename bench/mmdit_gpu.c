// bench/mmdit_gpu: the SD3-medium MMDiT on the GPU (random weights; diffusers
// SD3Transformer2DModel config of stabilityai/stable-diffusion-3-medium:
// depth 24, hidden 1536 = 24 heads of 64, patch 2, 16 latent channels,
// joint_attention_dim 4096, pooled 2048, pos_embed_max_size 192, no QK-norm
// (that is SD3.5), no dual attention) at 1024x1024: latent 16x128x128 = 4096
// image tokens, and 333 text tokens (diffusers' StableDiffusion3Pipeline
// default: 77 CLIP-L/G + 256 T5, max_sequence_length = 256; SD3's own
// reference code used 77 T5 tokens, 154 in all: --text 154).
//
// Timed, batch 1 and 2, in fp32 (TF32 off), tf32 (TF32 GEMMs, attention on
// the bf16 tensor-core kernel), bf16w (mmdit_weights_to_bf16: bf16 GEMM
// operands with fp32 accumulation, bf16 attention; activations fp32, rounded
// at each linear: silt_set_bf16_activations(false)) and bf16 (the same, with the adaLN and
// GELU outputs written as bf16 by fused kernels), as
// bench/dit_gpu.c: median ms of CUDA events around the forward (inputs
// already on the device) after warm-ups, of
//  - one JointTransformerBlock (block 0: both streams, adaLN-Zero on each,
//    joint attention, both MLPs) via mmdit_block_forward;
//  - the full forward (mmdit_forward: patch embedding, timestep + pooled
//    embedders, context_embedder, 23 joint blocks + the context_pre_only
//    block, norm_out, proj_out), unless --no-full.
// FLOPs: see block_gflop / full_gflop and bench/mmdit_gpu.md.
//
// Before the model moves to the device, block 0 runs once at batch 1 on the
// CPU; the GPU's fp32 block output (both streams) must match it
// (||gpu - cpu|| / ||cpu|| < 1e-4, else exit 1). --tiny also checks the full
// forward that way.
//
// Prints a table, then one machine-readable line per timing,
//   silt_ms <block|full> <mode> <batch> <ms>
// that bench/mmdit_torch_gpu.py --silt FILE reads to print torch/silt ratios.
//
//   bench_mmdit_gpu [--reps N (10)] [--full-reps N (3)] [--no-full] [--no-check] [--tiny] [--text T (333)]
//                   [--attn-mma 1|2]  (the tensor-core attention kernel of the tf32/bf16 modes; default 2)
//   bench_mmdit_gpu --dump DIR [--qk]
// --tiny: depth 2, hidden 128 (2 heads of 64), 256 image tokens (a smoke test
// of the bench itself). --dump: no GPU needed; a tiny random model (depth 3,
// hidden 64 = 4 heads of 16, 32 image and 10 text tokens, batch 2; --qk adds
// the SD3.5 QK RMS-norm) saved with mmdit_save as DIR/model.safetensors, and
// its inputs and silt's CPU outputs (block 0, the last block, the full
// forward) as DIR/io.safetensors, for bench/mmdit_parity.py.
// Without a GPU (and no --dump) it prints "no GPU (...)" and exits 0.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "core/log.h"
#include "core/ops_linear.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "cuda/cuda.h"
#include "dit/mmdit.h"

#define MAX_REPS 100
#define MAX_B 2

typedef struct shape {
    int B, N, T, H, W;  // batch, image tokens (H/p x W/p), text tokens, latent height and width
} shape;

// Host inputs for batch up to MAX_B (a smaller batch uses the leading rows).
typedef struct inputs {
    float *x, *ctx, *temb;              // block: (B, N, D), (B, T, D), (B, D)
    float *lat, *t, *enc, *pooled;      // full: (B, C, H, W), (B), (B, T, J), (B, P)
} inputs;

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

// Every parameter random, N(0, s^2): s = clamp(fan_in^-1/2, 0.02, 0.2) for
// matrices (and the patch conv), 1 + N(0, 0.1^2) for norm weights, 0.05 for
// biases. mmdit_create starts the adaLN linears and proj_out at zero
// (adaLN-Zero) and biases at zero: a parity check or a timing on those would
// see zero gates.
static void randomize(mmdit_model *m, uint64_t seed) {
    for (int i = 0; i < mmdit_param_count(m); i++) {
        const char *name = NULL;
        bool no_decay = false;
        silt_tensor *t = mmdit_param(m, i, &name, &no_decay);
        int64_t n = silt_numel(t);
        float *d = silt_f32(t);
        silt_rng_normal(d, n, seed, (uint64_t)i, 0);
        bool norm = t->ndim == 1 && strstr(name, "norm") != NULL;
        double s = 0.05;
        if (t->ndim >= 2) s = fmin(0.2, fmax(0.02, 1.0 / sqrt((double)n / (double)t->shape[0])));
        if (norm) s = 0.1;
        const float fs = (float)s, f0 = norm ? 1.0f : 0.0f;
#pragma omp parallel for schedule(static) if (n > (1 << 20))  // 2.0 B parameters at SD3-medium size
        for (int64_t k = 0; k < n; k++) d[k] = fs * d[k] + f0;
    }
}

// Deterministic, not zeros (zeros can run faster than real data); `salt`
// makes each input different.
static void fill(float *x, int64_t n, int salt) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)(((i * 7919 + salt * 104729) % 1000) / 500.0 - 1.0);
}

static silt_status inputs_make(inputs *in, const mmdit_config *c, const shape *s, int B) {
    int64_t D = c->hidden;
    in->x = malloc(sizeof(float) * (size_t)(B * s->N * D));
    in->ctx = malloc(sizeof(float) * (size_t)(B * s->T * D));
    in->temb = malloc(sizeof(float) * (size_t)(B * D));
    in->lat = malloc(sizeof(float) * (size_t)((int64_t)B * c->in_channels * s->H * s->W));
    in->t = malloc(sizeof(float) * (size_t)B);
    in->enc = malloc(sizeof(float) * (size_t)((int64_t)B * s->T * c->joint_dim));
    in->pooled = malloc(sizeof(float) * (size_t)((int64_t)B * c->pooled_dim));
    if (!in->x || !in->ctx || !in->temb || !in->lat || !in->t || !in->enc || !in->pooled)
        return SILT_FAIL(SILT_ERR_OOM, "bench_mmdit_gpu: out of host memory for the inputs");
    fill(in->x, B * s->N * D, 1);
    fill(in->ctx, B * s->T * D, 2);
    fill(in->temb, B * D, 3);
    fill(in->lat, (int64_t)B * c->in_channels * s->H * s->W, 4);
    fill(in->enc, (int64_t)B * s->T * c->joint_dim, 5);
    fill(in->pooled, (int64_t)B * c->pooled_dim, 6);
    for (int b = 0; b < B; b++) in->t[b] = b ? 431.25f : 999.0f;
    return SILT_OK;
}

static void inputs_free(inputs *in) {
    free(in->x), free(in->ctx), free(in->temb), free(in->lat), free(in->t), free(in->enc), free(in->pooled);
}

// Uploads batch B's inputs to g, waits for the copies, records e0 (if given),
// then runs block 0 (full = false) or the full forward. Returns the image
// output; *ctx_out (block only, optional) the text output.
static silt_tensor *forward(silt_graph *g, const mmdit_model *m, const inputs *in, const shape *s, int B, bool full,
                            silt_cuda_event *e0, silt_tensor **ctx_out) {
    const mmdit_config *c = mmdit_get_config(m);
    silt_tensor *co = NULL;
    if (ctx_out) *ctx_out = NULL;
    if (full) {
        silt_tensor *x = silt_graph_upload(g, SILT_F32, 4, (const int64_t[]){B, c->in_channels, s->H, s->W}, in->lat);
        silt_tensor *e = silt_graph_upload(g, SILT_F32, 3, (const int64_t[]){B, s->T, c->joint_dim}, in->enc);
        silt_tensor *p = silt_graph_upload(g, SILT_F32, 2, (const int64_t[]){B, c->pooled_dim}, in->pooled);
        if (!x || !e || !p || (e0 && (silt_cuda_sync() || silt_cuda_event_record(e0)))) return NULL;
        return mmdit_forward(g, m, x, in->t, e, p, NULL);
    }
    silt_tensor *x = silt_graph_upload(g, SILT_F32, 3, (const int64_t[]){B, s->N, c->hidden}, in->x);
    silt_tensor *ct = silt_graph_upload(g, SILT_F32, 3, (const int64_t[]){B, s->T, c->hidden}, in->ctx);
    silt_tensor *tt = silt_graph_upload(g, SILT_F32, 2, (const int64_t[]){B, c->hidden}, in->temb);
    if (!x || !ct || !tt || (e0 && (silt_cuda_sync() || silt_cuda_event_record(e0)))) return NULL;
    silt_tensor *xo = mmdit_block_forward(g, m, 0, x, ct, tt, &co);
    if (ctx_out) *ctx_out = co;
    return xo;
}

// Median ms of `reps` runs after `warm` warm-ups; -1 on failure.
static double time_it(silt_graph *g, const mmdit_model *m, const inputs *in, const shape *s, int B, bool full,
                      int warm, int reps) {
    float times[MAX_REPS];
    silt_cuda_event *e0 = NULL, *e1 = NULL;
    double med = -1;
    if (silt_cuda_event_create(&e0) || silt_cuda_event_create(&e1)) goto done;
    for (int r = 0; r < warm + reps; r++) {
        silt_graph_reset(g);
        silt_tensor *out = forward(g, m, in, s, B, full, e0, NULL);
        float ms = 0;
        if (!out || silt_cuda_event_record(e1) || silt_cuda_event_elapsed_ms(e0, e1, &ms)) {
            fprintf(stderr, "bench_mmdit_gpu: %s batch %d failed: %s\n", full ? "full forward" : "block", B,
                    silt_last_error());
            goto done;
        }
        if (r >= warm) times[r - warm] = ms;
    }
    qsort(times, (size_t)reps, sizeof *times, cmp_float);
    med = times[reps / 2];
done:
    silt_cuda_event_free(e0);
    silt_cuda_event_free(e1);
    silt_graph_reset(g);
    return med;
}

// Matrix-product and attention FLOPs (multiply-adds x 2) of one block for one
// batch row; L = N + T tokens. Joint block: q, k, v, out (4 D^2) and the MLP
// (8 D^2) on every token, both adaLN linears (2 x 6D x D), QK^T and PV over
// the joint sequence (2 L^2 D). The context_pre_only block: the text tokens
// only get q, k, v (3 D^2) and its text adaLN is 2D x D.
static double block_gflop(const mmdit_config *c, int N, int T, bool pre_only) {
    double D = c->hidden, L = (double)N + T;
    double lin = pre_only ? 2 * ((double)N * 12 * D * D + (double)T * 3 * D * D) : 2 * L * 12 * D * D;
    double ada = 2 * D * D * (6 + (pre_only ? 2 : 6));
    return (lin + ada + 4 * L * L * D) / 1e9;
}

// The whole forward for one batch row: every block, the patch embedding
// (C p^2 -> D per image token), context_embedder (J -> D per text token), the
// timestep (256 -> D -> D) and pooled (P -> D -> D) MLPs, norm_out (D -> 2D)
// and proj_out (D -> p^2 Cout per image token).
static double full_gflop(const mmdit_config *c, int N, int T) {
    double D = c->hidden, pp = (double)c->patch * c->patch;
    double g = (c->depth - 1) * block_gflop(c, N, T, false) + block_gflop(c, N, T, true);
    double rest = 2 * ((double)N * D * c->in_channels * pp + (double)T * c->joint_dim * D + 256 * D + D * D +
                       (double)c->pooled_dim * D + D * D + 2 * D * D + (double)N * D * pp * c->out_channels);
    return g + rest / 1e9;
}

static double rel_l2(const float *got, const float *ref, int64_t n) {
    double d2 = 0, r2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)got[i] - ref[i];
        d2 += d * d;
        r2 += (double)ref[i] * ref[i];
    }
    return isfinite(d2) ? sqrt(d2 / (r2 > 0 ? r2 : 1)) : INFINITY;
}

// A malloc'ed host copy of a (CPU or CUDA) tensor; NULL on failure.
static float *fetch(const silt_tensor *t) {
    if (!t) return NULL;
    float *h = malloc(silt_nbytes(t));
    if (!h) return NULL;
    if (t->device == SILT_CPU) memcpy(h, t->data, silt_nbytes(t));
    else if (silt_cuda_memcpy_d2h(h, t->data, silt_nbytes(t)) != SILT_OK) {
        free(h);
        return NULL;
    }
    return h;
}

// --- dump (parity data for bench/mmdit_parity.py) ----------------------------------

static int dump(const char *dir, bool qk) {
    mmdit_config c = {.layout = MMDIT_LAYOUT_DIFFUSERS, .depth = 3, .heads = 4, .head_dim = 16, .hidden = 64,
                      .patch = 2, .in_channels = 16, .out_channels = 16, .joint_dim = 48, .pooled_dim = 40,
                      .pos_max = 12, .qk_norm = qk};
    const shape s = {.B = 2, .N = 32, .T = 10, .H = 8, .W = 16};
    mmdit_model *m = NULL;
    silt_graph *g = NULL;
    silt_st_writer *w = NULL;
    float *outs[4] = {NULL, NULL, NULL, NULL};
    inputs in = {0};
    char path[1024];
    int rc = 1;
    silt_status st = mmdit_create(&c, 7, &m);
    if (st != SILT_OK) goto done;
    randomize(m, 11);
    // Normal inputs (the fixed pattern of `fill` is periodic at this size).
    if ((st = inputs_make(&in, &c, &s, s.B)) != SILT_OK) goto done;
    silt_rng_normal(in.x, (int64_t)s.B * s.N * c.hidden, 3, 0, 0);
    silt_rng_normal(in.ctx, (int64_t)s.B * s.T * c.hidden, 3, 1, 0);
    silt_rng_normal(in.temb, (int64_t)s.B * c.hidden, 3, 2, 0);
    silt_rng_normal(in.lat, (int64_t)s.B * c.in_channels * s.H * s.W, 3, 3, 0);
    silt_rng_normal(in.enc, (int64_t)s.B * s.T * c.joint_dim, 3, 4, 0);
    silt_rng_normal(in.pooled, (int64_t)s.B * c.pooled_dim, 3, 5, 0);
    g = silt_graph_create(0);
    if (!g) goto done;
    silt_graph_set_grad(g, false);
    silt_tensor *co = NULL;
    silt_tensor *x0 = forward(g, m, &in, &s, s.B, false, NULL, &co);
    outs[0] = fetch(x0);
    outs[1] = fetch(co);
    silt_tensor *xt = silt_graph_upload(g, SILT_F32, 3, (const int64_t[]){s.B, s.N, c.hidden}, in.x);
    silt_tensor *ct = silt_graph_upload(g, SILT_F32, 3, (const int64_t[]){s.B, s.T, c.hidden}, in.ctx);
    silt_tensor *tt = silt_graph_upload(g, SILT_F32, 2, (const int64_t[]){s.B, c.hidden}, in.temb);
    silt_tensor *cl = (silt_tensor *)1;
    outs[2] = fetch(mmdit_block_forward(g, m, c.depth - 1, xt, ct, tt, &cl));
    silt_tensor *full = forward(g, m, &in, &s, s.B, true, NULL, NULL);
    outs[3] = fetch(full);
    if (!outs[0] || !outs[1] || !outs[2] || !outs[3] || cl != NULL) {
        fprintf(stderr, "bench_mmdit_gpu --dump: forward failed: %s\n", silt_last_error());
        goto done;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if ((st = mmdit_save(m, path, NULL)) != SILT_OK) goto done;
    w = silt_st_writer_create();
    if (!w) goto done;
    const int64_t D = c.hidden, B = s.B;
    const int64_t sx[3] = {B, s.N, D}, sc[3] = {B, s.T, D}, stb[2] = {B, D},
                  sl[4] = {B, c.in_channels, s.H, s.W}, sb[1] = {B}, se[3] = {B, s.T, c.joint_dim},
                  sp[2] = {B, c.pooled_dim}, so[4] = {B, c.out_channels, s.H, s.W};
    st = silt_st_writer_add(w, "block.x", SILT_ST_F32, 3, sx, in.x);
    if (st == SILT_OK) st = silt_st_writer_add(w, "block.ctx", SILT_ST_F32, 3, sc, in.ctx);
    if (st == SILT_OK) st = silt_st_writer_add(w, "block.temb", SILT_ST_F32, 2, stb, in.temb);
    if (st == SILT_OK) st = silt_st_writer_add(w, "block0.out_x", SILT_ST_F32, 3, sx, outs[0]);
    if (st == SILT_OK) st = silt_st_writer_add(w, "block0.out_ctx", SILT_ST_F32, 3, sc, outs[1]);
    if (st == SILT_OK) st = silt_st_writer_add(w, "block_last.out_x", SILT_ST_F32, 3, sx, outs[2]);
    if (st == SILT_OK) st = silt_st_writer_add(w, "full.x", SILT_ST_F32, 4, sl, in.lat);
    if (st == SILT_OK) st = silt_st_writer_add(w, "full.t", SILT_ST_F32, 1, sb, in.t);
    if (st == SILT_OK) st = silt_st_writer_add(w, "full.enc", SILT_ST_F32, 3, se, in.enc);
    if (st == SILT_OK) st = silt_st_writer_add(w, "full.pooled", SILT_ST_F32, 2, sp, in.pooled);
    if (st == SILT_OK) st = silt_st_writer_add(w, "full.out", SILT_ST_F32, 4, so, outs[3]);
    snprintf(path, sizeof path, "%s/io.safetensors", dir);
    if (st == SILT_OK) st = silt_st_writer_write(w, path);
    if (st != SILT_OK) goto done;
    printf("mmdit dump: %s/{model,io}.safetensors (depth %d, hidden %d = %d heads of %d, qk_norm %d, "
           "%d image + %d text tokens, batch %d)\n",
           dir, c.depth, c.hidden, c.heads, c.head_dim, (int)c.qk_norm, s.N, s.T, s.B);
    rc = 0;
done:
    if (rc) fprintf(stderr, "bench_mmdit_gpu --dump: %s\n", silt_last_error());
    silt_st_writer_free(w);
    for (int i = 0; i < 4; i++) free(outs[i]);
    inputs_free(&in);
    silt_graph_free(g);
    mmdit_free(m);
    return rc;
}

int main(int argc, char **argv) {
    int reps = 10, full_reps = 3, check = 1, tiny = 0, do_full = 1, text = 333, qk = 0;
    const char *dump_dir = NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--full-reps") && i + 1 < argc) full_reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--text") && i + 1 < argc) text = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dump") && i + 1 < argc) dump_dir = argv[++i];
        else if (!strcmp(argv[i], "--qk")) qk = 1;
        else if (!strcmp(argv[i], "--no-full")) do_full = 0;
        else if (!strcmp(argv[i], "--no-check")) check = 0;
        else if (!strcmp(argv[i], "--tiny")) tiny = 1;
        else if (!strcmp(argv[i], "--attn-mma") && i + 1 < argc && (!strcmp(argv[i + 1], "1") || !strcmp(argv[i + 1], "2")))
            silt_cuda_set_attention_mma_variant(atoi(argv[++i]));  // any other value: the usage line below
        else {
            fprintf(stderr, "usage: bench_mmdit_gpu [--reps N (10)] [--full-reps N (3)] [--no-full] [--no-check] "
                            "[--tiny] [--text T (333)] [--attn-mma 1|2]\n       bench_mmdit_gpu --dump DIR [--qk]\n");
            return 2;
        }
    }
    if (dump_dir) return dump(dump_dir, qk);
    reps = reps < 1 ? 1 : reps > MAX_REPS ? MAX_REPS : reps;
    full_reps = full_reps < 1 ? 1 : full_reps > MAX_REPS ? MAX_REPS : full_reps;
    if (text < 1) text = 1;
    char dev[512];
    silt_cuda_describe(dev, sizeof dev);
    if (!silt_cuda_available()) {
        printf("mmdit_gpu: %s\n", dev);
        return 0;
    }
    mmdit_config cfg = {.layout = MMDIT_LAYOUT_DIFFUSERS, .depth = 24, .heads = 24, .head_dim = 64, .hidden = 1536,
                        .patch = 2, .in_channels = 16, .out_channels = 16, .joint_dim = 4096, .pooled_dim = 2048,
                        .pos_max = 192, .qk_norm = false, .n_dual = 0};
    shape s = {.H = 128, .W = 128, .T = text};
    if (tiny) {
        cfg.depth = 2;
        cfg.heads = 2;
        cfg.hidden = 128;
        cfg.joint_dim = 64;
        cfg.pooled_dim = 32;
        cfg.pos_max = 16;
        s.H = s.W = 32;
        if (text == 333) s.T = 20;
    }
    s.N = (s.H / cfg.patch) * (s.W / cfg.patch);
    mmdit_model *m = NULL;
    inputs in = {0};
    silt_graph *g = NULL;
    float *ref_x = NULL, *ref_c = NULL, *ref_full = NULL;
    int rc = 1;
    double t0 = silt_time_now();
    if (mmdit_create(&cfg, 42, &m) != SILT_OK || inputs_make(&in, &cfg, &s, MAX_B) != SILT_OK) goto fail;
    randomize(m, 43);
    double build_s = silt_time_now() - t0, cpu_s = 0;
    const int64_t nbx = (int64_t)s.N * cfg.hidden, nbc = (int64_t)s.T * cfg.hidden;
    const int64_t nfo = (int64_t)cfg.out_channels * s.H * s.W;
    if (check) {  // batch 1 on the CPU, the same inputs as the GPU's batch 1
        silt_graph *gc = silt_graph_create(0);
        if (!gc) goto fail;
        silt_graph_set_grad(gc, false);
        double c0 = silt_time_now();
        silt_tensor *co = NULL, *xo = forward(gc, m, &in, &s, 1, false, NULL, &co);
        cpu_s = silt_time_now() - c0;
        ref_x = fetch(xo);
        ref_c = fetch(co);
        if (tiny) ref_full = fetch(forward(gc, m, &in, &s, 1, true, NULL, NULL));
        if (!ref_x || !ref_c || (tiny && !ref_full))
            fprintf(stderr, "bench_mmdit_gpu: CPU forward failed: %s\n", silt_last_error());
        silt_graph_free(gc);
    }
    if (mmdit_to_device(m, SILT_CUDA) != SILT_OK) goto fail;
    g = silt_graph_create_on(SILT_CUDA, 0);
    if (!g) goto fail;
    silt_graph_set_grad(g, false);
    rc = 0;

    double check_rel[3] = {-1, -1, -1};  // block image, block text, full (--tiny)
    if (check && ref_x && ref_c) {
        silt_cuda_set_allow_tf32(false);
        silt_cuda_set_attention_bf16(false);
        silt_tensor *co = NULL, *xo = forward(g, m, &in, &s, 1, false, NULL, &co);
        float *gx = fetch(xo), *gcx = fetch(co);
        check_rel[0] = gx ? rel_l2(gx, ref_x, nbx) : INFINITY;
        check_rel[1] = gcx ? rel_l2(gcx, ref_c, nbc) : INFINITY;
        free(gx), free(gcx);
        silt_graph_reset(g);
        if (ref_full) {
            float *gf = fetch(forward(g, m, &in, &s, 1, true, NULL, NULL));
            check_rel[2] = gf ? rel_l2(gf, ref_full, nfo) : INFINITY;
            free(gf);
            silt_graph_reset(g);
        }
    }
    bool check_ok = true;
    for (int i = 0; i < 3; i++)
        if (check_rel[i] >= 0 && !(check_rel[i] < 1e-4)) check_ok = false;
    if (check && (!ref_x || !ref_c || check_rel[0] < 0)) check_ok = false;
    if (!check_ok) rc = 1;

    enum { NMODES = 4 };
    const char *modes[NMODES] = {"fp32", "tf32", "bf16w", "bf16"};
    double ms[2][NMODES][MAX_B];  // [block, full][mode][batch - 1]
    for (int a = 0; a < 2; a++)
        for (int mi = 0; mi < NMODES; mi++)
            for (int b = 0; b < MAX_B; b++) ms[a][mi][b] = -1;
    char bf16_err[256] = "";
    for (int mi = 0; mi < NMODES; mi++) {
        silt_cuda_set_allow_tf32(mi == 1);
        silt_cuda_set_attention_bf16(mi >= 1);  // tf32 and bf16: attention on the bf16 tensor-core kernel
        silt_set_bf16_activations(mi != 2);  // bf16w: fp32 activations
        if (mi == 2 && mmdit_weights_to_bf16(m) != SILT_OK) {  // the conversion is one way: bf16 modes last
            snprintf(bf16_err, sizeof bf16_err, "%s", silt_last_error());
            rc = 1;
            break;
        }
        for (int B = 1; B <= MAX_B; B++) {
            ms[0][mi][B - 1] = time_it(g, m, &in, &s, B, false, 3, reps);
            if (do_full) ms[1][mi][B - 1] = time_it(g, m, &in, &s, B, true, 1, full_reps);
            if (ms[0][mi][B - 1] < 0 || (do_full && ms[1][mi][B - 1] < 0)) rc = 1;
        }
    }
    silt_cuda_set_allow_tf32(false);
    silt_cuda_set_attention_bf16(false);

    double gf[2] = {block_gflop(&cfg, s.N, s.T, false), full_gflop(&cfg, s.N, s.T)};
    printf("MMDiT %s on %s\n", tiny ? "(tiny: depth 2, hidden 128 = 2 heads of 64)" :
                                      "SD3-medium (depth 24, hidden 1536 = 24 heads of 64, no QK-norm)", dev);
    printf("%dx%d latent (%d image tokens) + %d text tokens; random weights (built in %.1f s);\n"
           "median of %d (block) / %d (full) runs after 3 / 1 warm-ups (CUDA events, inputs on the device);\n"
           "GFLOP per batch row: block %.1f, full forward %.1f\n",
           s.H, s.W, s.N, s.T, build_s, reps, full_reps, gf[0], gf[1]);
    if (check_rel[0] >= 0) {
        printf("check: fp32 block 0 at batch 1 vs the CPU (%.2f s there): ||gpu - cpu|| / ||cpu|| = %.2e image, "
               "%.2e text",
               cpu_s, check_rel[0], check_rel[1]);
        if (check_rel[2] >= 0) printf(", full forward %.2e", check_rel[2]);
        printf("  %s\n", check_ok ? "ok" : "FAILED (limit 1e-4)");
    }
    if (check && check_rel[0] < 0) printf("check: FAILED (no CPU or GPU output to compare)\n");
    printf("%-6s %-6s %6s %10s %10s\n", "part", "mode", "batch", "ms", "TFLOP/s");
    for (int a = 0; a < 2; a++)
        for (int mi = 0; mi < NMODES; mi++)
            for (int b = 0; b < MAX_B; b++)
                if (a == 0 || do_full)
                    printf("%-6s %-6s %6d %10.3f %10.1f\n", a ? "full" : "block", modes[mi], b + 1, ms[a][mi][b],
                           ms[a][mi][b] > 0 ? gf[a] * (b + 1) / ms[a][mi][b] : 0.0);
    if (bf16_err[0]) printf("bf16: weights not converted: %s\n", bf16_err);
    for (int a = 0; a < 2; a++)
        for (int mi = 0; mi < NMODES; mi++)
            for (int b = 0; b < MAX_B; b++)
                if (ms[a][mi][b] > 0) printf("silt_ms %s %s %d %.4f\n", a ? "full" : "block", modes[mi], b + 1,
                                             ms[a][mi][b]);
    goto out;
fail:
    fprintf(stderr, "bench_mmdit_gpu: %s\n", silt_last_error());
    rc = 1;
out:
    free(ref_x), free(ref_c), free(ref_full);
    inputs_free(&in);
    silt_graph_free(g);
    mmdit_free(m);
    return rc;
}
