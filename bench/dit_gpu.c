// bench/dit_gpu: a DiT-XL/2-size forward on the GPU (random weights, depth 28,
// hidden 1152, 16 heads, patch 2, 32x32x4 latent = 256 tokens, diffusers
// layout) on a CUDA graph: batch 1 and 8 in fp32 (TF32 off), with TF32
// allowed (cuBLAS), and with bf16 linear weights (dit_weights_to_bf16: bf16
// GEMMs with fp32 accumulation) twice: "bf16w" with fp32 activations rounded
// at each linear (silt_set_bf16_activations(false)), "bf16" with the adaLN and GELU outputs
// written as bf16 by fused kernels (the residual stream, attention and the
// other ops stay fp32 in both);
// the tf32 and bf16 modes also run attention on the bf16 tensor-core kernel
// (silt_cuda_set_attention_bf16; head dim 72, zero-padded to 80 inside it),
// median ms over N runs (CUDA events around dit_forward, the latent already
// on the device) after 3 warm-ups; then the SoftPAG cost:
// batch 3 (uncond, cond, cond + SoftPAG on 4 heads) against batch 2 (CFG).
//
// Before the model moves to the device it runs one batch-1 forward on the CPU;
// the GPU's fp32 output must match it (||gpu - cpu|| / ||cpu|| < 1e-4, else
// exit 1), so the timings are of a forward that computes the right thing.
//
// Prints a table, then one machine-readable line per timing,
//   silt_ms <mode> <batch> <ms>
// that bench/dit_torch_gpu.py --silt FILE reads to print torch/silt ratios.
//
//   bench_dit_gpu [--reps N (20)] [--no-check] [--tiny] [--attn-mma 1|2]
// --tiny: depth 2, hidden 128, 4 heads (a smoke test of the bench itself).
// --attn-mma: the tensor-core attention kernel of the tf32/bf16 modes
// (silt_cuda_set_attention_mma_variant; default 2).
// Without a GPU it prints "no GPU (...)" and exits 0.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "core/log.h"
#include "core/ops_linear.h"
#include "cuda/cuda.h"
#include "dit/dit.h"

#define MAX_REPS 200

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

// Deterministic latent (not zeros: zeros can run faster than real data).
static void fill_latent(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)((i * 7919 % 1000) / 500.0 - 1.0);
}

static void labels(int B, int num_classes, float *t, int32_t *y) {
    for (int b = 0; b < B; b++) {
        t[b] = 500.0f;
        y[b] = (b % 3 == 0 && B > 1) ? num_classes : 207;  // some null-class rows, as with CFG
    }
}

// Median ms of `reps` forwards (after 3 warm-ups) of batch B on graph g;
// *out_host (optional) receives the last output. -1 on failure.
static double time_forward(silt_graph *g, const dit_model *m, int B, const silt_perturb *p, int reps, float **out_host) {
    const dit_config *c = dit_get_config(m);
    const int64_t shape[4] = {B, c->in_channels, c->input_size, c->input_size};
    const int64_t n = (int64_t)B * c->in_channels * c->input_size * c->input_size;
    float *x = malloc(sizeof(float) * (size_t)n), *t = malloc(sizeof(float) * (size_t)B);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)B);
    float times[MAX_REPS];
    silt_cuda_event *e0 = NULL, *e1 = NULL;
    double med = -1;
    if (!x || !t || !y || silt_cuda_event_create(&e0) || silt_cuda_event_create(&e1)) goto done;
    fill_latent(x, n);
    labels(B, c->num_classes, t, y);
    for (int r = 0; r < reps + 3; r++) {
        silt_graph_reset(g);
        silt_tensor *xd = silt_graph_upload(g, SILT_F32, 4, shape, x);
        if (!xd || silt_cuda_sync()) goto fail;
        if (silt_cuda_event_record(e0)) goto fail;
        silt_tensor *out = dit_forward(g, m, xd, t, y, p);
        if (!out || silt_cuda_event_record(e1)) goto fail;
        float ms = 0;
        if (silt_cuda_event_elapsed_ms(e0, e1, &ms)) goto fail;
        if (r >= 3) times[r - 3] = ms;
        if (r == reps + 2 && out_host) {
            *out_host = malloc(silt_nbytes(out));
            if (!*out_host || silt_cuda_memcpy_d2h(*out_host, out->data, silt_nbytes(out))) goto fail;
        }
    }
    qsort(times, (size_t)reps, sizeof *times, cmp_float);
    med = times[reps / 2];
    goto done;
fail:
    fprintf(stderr, "bench_dit_gpu: batch %d forward failed: %s\n", B, silt_last_error());
done:
    silt_cuda_event_free(e0);
    silt_cuda_event_free(e1);
    free(x);
    free(t);
    free(y);
    return med;
}

// Matrix-product and attention FLOPs of one forward row (multiply-adds x 2).
static double gflop_per_row(const dit_config *c) {
    double T = (double)(c->input_size / c->patch) * (c->input_size / c->patch), D = c->hidden, Mh = c->mlp_hidden;
    return 2 * c->depth * (T * D * (3 * D + D + 2 * Mh) + 2 * T * T * D + D * 6 * D) / 1e9;
}

int main(int argc, char **argv) {
    int reps = 20, check = 1, tiny = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-check")) check = 0;
        else if (!strcmp(argv[i], "--tiny")) tiny = 1;
        else if (!strcmp(argv[i], "--attn-mma") && i + 1 < argc && (!strcmp(argv[i + 1], "1") || !strcmp(argv[i + 1], "2")))
            silt_cuda_set_attention_mma_variant(atoi(argv[++i]));  // any other value: the usage line below
        else {
            fprintf(stderr, "usage: bench_dit_gpu [--reps N (20)] [--no-check] [--tiny] [--attn-mma 1|2]\n");
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    if (reps > MAX_REPS) reps = MAX_REPS;
    char dev[512];
    silt_cuda_describe(dev, sizeof dev);
    if (!silt_cuda_available()) {
        printf("dit_gpu: %s\n", dev);
        return 0;
    }
    dit_config cfg = {.layout = DIT_LAYOUT_DIFFUSERS, .depth = 28, .hidden = 1152, .heads = 16, .patch = 2,
                      .in_channels = 4, .out_channels = 8, .input_size = 32, .num_classes = 1000, .mlp_hidden = 4608};
    if (tiny) {
        cfg.depth = 2;
        cfg.hidden = 128;
        cfg.heads = 4;
        cfg.mlp_hidden = 512;
    }
    dit_model *m = NULL;
    double t0 = silt_time_now();
    if (dit_create_random(&cfg, 42, &m) != SILT_OK) {
        fprintf(stderr, "bench_dit_gpu: %s\n", silt_last_error());
        return 1;
    }
    double build_s = silt_time_now() - t0;
    int rc = 0;
    float *ref = NULL, *got = NULL;
    double check_rel = -1, cpu_s = 0;
    if (check) {  // one batch-1 forward on the CPU, same inputs as the GPU's batch 1
        silt_graph *gc = silt_graph_create(0);
        silt_graph_set_grad(gc, false);
        float t[1], x[4 * 32 * 32];
        int32_t y[1];
        fill_latent(x, 4 * 32 * 32);
        labels(1, cfg.num_classes, t, y);
        double c0 = silt_time_now();
        silt_tensor *xc = silt_graph_upload(gc, SILT_F32, 4, (const int64_t[]){1, 4, 32, 32}, x);
        silt_tensor *o = dit_forward(gc, m, xc, t, y, NULL);
        cpu_s = silt_time_now() - c0;
        if (o) {
            ref = malloc(silt_nbytes(o));
            if (ref) memcpy(ref, o->data, silt_nbytes(o));
        } else {
            fprintf(stderr, "bench_dit_gpu: CPU forward failed: %s\n", silt_last_error());
        }
        silt_graph_free(gc);
    }
    if (dit_to_device(m, SILT_CUDA) != SILT_OK) {
        fprintf(stderr, "bench_dit_gpu: %s\n", silt_last_error());
        dit_free(m);
        return 1;
    }
    silt_graph *g = silt_graph_create_on(SILT_CUDA, 0);
    if (!g) {
        fprintf(stderr, "bench_dit_gpu: %s\n", silt_last_error());
        dit_free(m);
        return 1;
    }
    silt_graph_set_grad(g, false);

    enum { NMODES = 4 };
    const char *modes[NMODES] = {"fp32", "tf32", "bf16w", "bf16"};
    const int batches[2] = {1, 8};
    double ms[NMODES][2], cfg_ms[NMODES], pag_ms[NMODES];
    for (int mi = 0; mi < NMODES; mi++) ms[mi][0] = ms[mi][1] = cfg_ms[mi] = pag_ms[mi] = -1;
    char bf16_err[256] = "";
    // SoftPAG on 4 (layer, head) pairs of the perturbed row 2, u = 0.5 (as bench_dit).
    float *u = calloc((size_t)cfg.depth * cfg.heads, sizeof(float));
    const int heads[4][2] = {{2, 3}, {7, 11}, {13, 0}, {20, 6}};
    for (int i = 0; i < 4; i++)
        if (heads[i][0] < cfg.depth && heads[i][1] < cfg.heads) u[heads[i][0] * cfg.heads + heads[i][1]] = 0.5f;
    if (tiny) u[1 * cfg.heads + 2] = 0.5f;
    silt_perturb p = {SILT_PERTURB_IDENTITY, 2, 3, cfg.depth, cfg.heads, u, 0};
    for (int mi = 0; mi < NMODES; mi++) {
        silt_cuda_set_allow_tf32(mi == 1);
        silt_cuda_set_attention_bf16(mi >= 1);  // tf32 and bf16 modes: attention on the bf16 tensor-core kernel
        silt_set_bf16_activations(mi != 2);  // bf16w: fp32 activations
        if (mi == 2 && dit_weights_to_bf16(m) != SILT_OK) {  // the conversion is one way: bf16 modes last
            snprintf(bf16_err, sizeof bf16_err, "%s", silt_last_error());
            rc = 1;
            break;
        }
        for (int bi = 0; bi < 2; bi++) {
            ms[mi][bi] = time_forward(g, m, batches[bi], NULL, reps, mi == 0 && bi == 0 && ref ? &got : NULL);
            if (ms[mi][bi] < 0) rc = 1;
        }
        cfg_ms[mi] = time_forward(g, m, 2, NULL, reps, NULL);
        pag_ms[mi] = time_forward(g, m, 3, &p, reps, NULL);
        if (cfg_ms[mi] < 0 || pag_ms[mi] < 0) rc = 1;
    }
    silt_cuda_set_allow_tf32(false);
    silt_cuda_set_attention_bf16(false);
    if (ref && got) {
        double d2 = 0, r2 = 0;
        for (int64_t i = 0; i < 8 * 32 * 32; i++) {
            double d = (double)got[i] - ref[i];
            d2 += d * d;
            r2 += (double)ref[i] * ref[i];
        }
        check_rel = sqrt(d2 / (r2 > 0 ? r2 : 1));
        if (!(check_rel < 1e-4)) rc = 1;
    }

    double gf = gflop_per_row(&cfg);
    printf("DiT%s forward on %s\n", tiny ? " (tiny: depth 2, hidden 128)" : "-XL/2", dev);
    printf("random weights (diffusers layout, built in %.1f s), 32x32x4 latent (256 tokens); median of %d runs\n"
           "(CUDA events around dit_forward, latent already on the device) after 3 warm-ups\n",
           build_s, reps);
    if (check_rel >= 0)
        printf("check: fp32 batch 1 vs the CPU forward (%.2f s there): ||gpu - cpu|| / ||cpu|| = %.2e  %s\n", cpu_s,
               check_rel, check_rel < 1e-4 ? "ok" : "FAILED (limit 1e-4)");
    else if (check)
        printf("check: FAILED (no CPU or GPU output to compare)\n");
    printf("%-6s %6s %10s %10s %10s\n", "mode", "batch", "ms", "img/s", "TFLOP/s");
    for (int mi = 0; mi < NMODES; mi++)
        for (int bi = 0; bi < 2; bi++)
            printf("%-6s %6d %10.3f %10.1f %10.1f\n", modes[mi], batches[bi], ms[mi][bi],
                   ms[mi][bi] > 0 ? 1000.0 * batches[bi] / ms[mi][bi] : 0.0,
                   ms[mi][bi] > 0 ? gf * batches[bi] / ms[mi][bi] : 0.0);
    if (bf16_err[0]) printf("bf16: weights not converted: %s\n", bf16_err);
    for (int mi = 0; mi < NMODES; mi++)
        printf("SoftPAG %s: CFG batch 2 %.3f ms, CFG + SoftPAG batch 3 %.3f ms: x%.2f (one more row: <= 1.5)\n",
               modes[mi], cfg_ms[mi], pag_ms[mi], cfg_ms[mi] > 0 ? pag_ms[mi] / cfg_ms[mi] : 0.0);
    for (int mi = 0; mi < NMODES; mi++)
        for (int bi = 0; bi < 2; bi++)
            if (ms[mi][bi] > 0) printf("silt_ms %s %d %.4f\n", modes[mi], batches[bi], ms[mi][bi]);
    free(u);
    free(ref);
    free(got);
    silt_graph_free(g);
    dit_free(m);
    return rc;
}
