// GPU throughput of the memory-bound twins (norms, softmax, adaLN modulation,
// elementwise, reductions): times each kernel at a realistic shape with CUDA
// events after warm-up (median of `iters` runs) and prints the time and the
// achieved bandwidth over the fewest bytes the op must move (each input read
// once, each output written once; a backward's accumulation reads and writes
// its d-buffer), with the share of the card's HBM peak where it is known.
//
//   bench_gpu_ops_pointwise [iters=20]
//
// Builds in every configuration: without CUDA or without a GPU it prints
// "no GPU (...)" and exits 0. Correctness is the gpu tests' job
// (tests/gpu/test_cuda_*.c); this only checks that every call succeeds.
// Inputs are uniform random (never zeros) and every buffer is 128 MB or
// more in total per op, past the 50 MB L2, so no run is served from cache.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda.h"

// HBM peaks in GB/s from NVIDIA's data sheets, matched as substrings of the
// device description, first match wins.
typedef struct {
    const char *match;
    double gbs;
} peak_row;
static const peak_row peaks[] = {{"H100 PCIe", 2000}, {"H100 NVL", 3900}, {"H100", 3350},
                                 {"H200", 4800},      {"A100", 2039},     {"L40S", 864}};

enum { NBUF = 6 };
// Shapes: a DiT-XL/2 training step at batch 32 (256 tokens x 1152), an SD-VAE
// decoder group norm (2 x 256 x 128^2, 32 groups), 8192 attention-map rows of
// 1024 keys.
#define BIG ((int64_t)32 * 256 * 1152)  // 9.4M floats, 38 MB
static float *buf[NBUF];                // device, BIG floats each
static float *small[4];                 // device, 1M floats each
static float *scratch;                  // device, 4M floats

typedef struct {
    const char *name, *shape;
    double bytes;
} op_row;

enum { OP_LN_FWD, OP_LN_BWD, OP_RMS_FWD, OP_RMS_BWD, OP_GN_FWD, OP_GN_BWD, OP_L2_FWD, OP_SM_FWD, OP_SM_BWD,
       OP_MOD_FWD, OP_MOD_BWD, OP_GATE_FWD, OP_GATE_BWD, OP_GELU_BWD, OP_SILU_BWD, OP_SCALE, OP_BIN_BIAS,
       OP_BIN_BIAS_BWD, OP_SUM, OP_MEAN_LAST, OP_MSE, OP_COUNT };

static const int64_t N_TOK = 32 * 256, C_DIT = 1152;                                 // DiT
static const int64_t GN_N = 2, GN_C = 256, GN_HW = 128 * 128, GN_G = 32;             // VAE
static const int64_t SM_N = 8192, SM_C = 1024;                                       // attention rows

static op_row rows[OP_COUNT] = {
    {"layernorm_fwd", "(8192, 1152)", 2.0 * BIG * 4},
    {"layernorm_bwd dx,dw,db", "(8192, 1152)", 4.0 * BIG * 4},
    {"rmsnorm_fwd", "(8192, 1152)", 2.0 * BIG * 4},
    {"rmsnorm_bwd dx,dw", "(8192, 1152)", 4.0 * BIG * 4},
    {"groupnorm_fwd", "(2, 256, 128x128) G32", 2.0 * GN_N * GN_C * GN_HW * 4},
    {"groupnorm_bwd dx,dw,db", "(2, 256, 128x128) G32", 4.0 * GN_N * GN_C * GN_HW * 4},
    {"l2norm_fwd", "(8192, 1152)", 2.0 * BIG * 4},
    {"softmax_fwd", "(8192, 1024)", 2.0 * SM_N * SM_C * 4},
    {"softmax_bwd", "(8192, 1024)", 4.0 * SM_N * SM_C * 4},
    {"modulate_fwd", "(32, 256, 1152)", 2.0 * BIG * 4},
    {"modulate_bwd dx,dshift,dscale", "(32, 256, 1152)", 4.0 * BIG * 4},
    {"gated_add_fwd", "(32, 256, 1152)", 3.0 * BIG * 4},
    {"gated_add_bwd dx,dgate,dy", "(32, 256, 1152)", 6.0 * BIG * 4},
    {"gelu_bwd tanh", "9.4M", 4.0 * BIG * 4},
    {"silu_bwd", "9.4M", 4.0 * BIG * 4},
    {"scale_fwd", "9.4M", 2.0 * BIG * 4},
    {"binary_fwd add bias", "(8192, 1152) + (1152)", 2.0 * BIG * 4},
    {"binary_bwd add bias da,db", "(8192, 1152) + (1152)", 3.0 * BIG * 4},
    {"sum_fwd (one block)", "9.4M", 1.0 * BIG * 4},
    {"mean_dim_fwd last dim", "(8192, 1152)", 1.0 * BIG * 4},
    {"mse_loss_fwd (one block)", "9.4M", 2.0 * BIG * 4},
};

static const int64_t bias_shape[4] = {1, 1, 32 * 256, 1152}, bias_as[4] = {0, 0, 1152, 1}, bias_bs[4] = {0, 0, 0, 1};

static silt_status run_op(int op) {
    float *x = buf[0], *y = buf[1], *out = buf[2], *g = buf[3], *dx = buf[4], *dy = buf[5];
    float *w = small[0], *b = small[1], *mean = small[2], *rstd = small[3];
    switch (op) {
    case OP_LN_FWD: return layernorm_fwd_cuda(out, mean, rstd, x, w, b, N_TOK, C_DIT, 1e-6f);
    case OP_LN_BWD: return layernorm_bwd_cuda(dx, w + 4096, b + 4096, scratch, g, x, mean, rstd, w, N_TOK, C_DIT);
    case OP_RMS_FWD: return rmsnorm_fwd_cuda(out, rstd, x, w, N_TOK, C_DIT, 1e-6f);
    case OP_RMS_BWD: return rmsnorm_bwd_cuda(dx, w + 4096, scratch, g, x, rstd, w, N_TOK, C_DIT);
    case OP_GN_FWD: return groupnorm_fwd_cuda(out, mean, rstd, x, w, b, GN_N, GN_C, GN_HW, GN_G, 1e-6f);
    case OP_GN_BWD:
        return groupnorm_bwd_cuda(dx, w + 4096, b + 4096, g, x, mean, rstd, w, GN_N, GN_C, GN_HW, GN_G);
    case OP_L2_FWD: return l2norm_fwd_cuda(out, rstd, x, N_TOK, C_DIT, 1e-12f);
    case OP_SM_FWD: return softmax_fwd_cuda(out, x, SM_N, SM_C);
    case OP_SM_BWD: return softmax_bwd_cuda(dx, g, out, SM_N, SM_C);
    case OP_MOD_FWD: return modulate_fwd_cuda(out, x, w, b, 32, 256, C_DIT);
    case OP_MOD_BWD: return modulate_bwd_cuda(dx, w + 65536, b + 65536, g, x, b, 32, 256, C_DIT);
    case OP_GATE_FWD: return gated_add_fwd_cuda(out, x, w, y, 32, 256, C_DIT);
    case OP_GATE_BWD: return gated_add_bwd_cuda(dx, w + 65536, dy, g, w, y, 32, 256, C_DIT);
    case OP_GELU_BWD: return gelu_bwd_cuda(dx, g, x, BIG, 1);
    case OP_SILU_BWD: return silu_bwd_cuda(dx, g, x, BIG);
    case OP_SCALE: return scale_fwd_cuda(out, x, 0.5f, BIG);
    case OP_BIN_BIAS: return binary_fwd_cuda(out, x, w, bias_shape, bias_as, bias_bs, SILT_BINOP_ADD);
    case OP_BIN_BIAS_BWD:
        return binary_bwd_cuda(dx, w + 4096, g, NULL, NULL, bias_shape, bias_as, bias_bs, SILT_BINOP_ADD);
    case OP_SUM: return sum_fwd_cuda(mean, x, BIG);
    case OP_MEAN_LAST: return mean_dim_fwd_cuda(out, x, N_TOK, C_DIT, 1);
    default: return mse_loss_fwd_cuda(mean, x, y, BIG);
    }
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float uniform(void) {  // xorshift in [-1, 1)
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

static silt_status fill(float *dev, int64_t n, float lo, float hi) {
    float *h = malloc((size_t)n * sizeof(float));
    if (!h) return SILT_FAIL(SILT_ERR_OOM, "bench_gpu_ops_pointwise: host buffer");
    for (int64_t i = 0; i < n; i++) h[i] = lo + (hi - lo) * 0.5f * (uniform() + 1.0f);
    silt_status s = silt_cuda_memcpy_h2d(dev, h, (size_t)n * sizeof(float));
    free(h);
    return s;
}

int main(int argc, char **argv) {
    int iters = argc > 1 ? atoi(argv[1]) : 20;
    if (iters < 1 || iters > 10000) {
        fprintf(stderr, "usage: bench_gpu_ops_pointwise [iters=20]\n");
        return 2;
    }
    char desc[512];
    if (!silt_cuda_available()) {
        silt_cuda_describe(desc, sizeof desc);
        printf("ops: %s\n", desc);
        return 0;
    }
    silt_cuda_describe(desc, sizeof desc);
    double peak = 0;
    for (size_t i = 0; i < sizeof peaks / sizeof *peaks; i++)
        if (strstr(desc, peaks[i].match)) {
            peak = peaks[i].gbs;
            break;
        }
    int rc = 1;
    silt_cuda_event *e0 = NULL, *e1 = NULL;
    float *ms = calloc((size_t)iters, sizeof(float));
    if (!ms) return 1;
    for (int i = 0; i < NBUF; i++)
        if (silt_cuda_malloc((void **)&buf[i], (size_t)BIG * sizeof(float)) != SILT_OK ||
            fill(buf[i], BIG, -1, 1) != SILT_OK)
            goto fail;
    for (int i = 0; i < 4; i++)
        if (silt_cuda_malloc((void **)&small[i], (size_t)(1 << 20) * sizeof(float)) != SILT_OK ||
            fill(small[i], 1 << 20, 0.5f, 1.5f) != SILT_OK)  // also rstd > 0
            goto fail;
    if (silt_cuda_malloc((void **)&scratch, (size_t)(4 << 20) * sizeof(float)) != SILT_OK) goto fail;
    if (layernorm_bwd_cuda_scratch_floats(N_TOK, C_DIT) > (4 << 20) ||
        rmsnorm_bwd_cuda_scratch_floats(N_TOK, C_DIT) > (4 << 20)) {
        fprintf(stderr, "bench_gpu_ops_pointwise: scratch too small\n");
        goto fail;
    }
    if (silt_cuda_event_create(&e0) != SILT_OK || silt_cuda_event_create(&e1) != SILT_OK) goto fail;

    printf("ops on %s (median of %d; GB/s over the fewest bytes moved%s)\n", desc, iters,
           peak > 0 ? ", % of HBM peak" : "");
    printf("%-32s %-24s %9s %9s %s\n", "kernel", "shape", "ms", "GB/s", peak > 0 ? "  peak" : "");
    for (int op = 0; op < OP_COUNT; op++) {
        for (int w = 0; w < 3; w++)
            if (run_op(op) != SILT_OK) goto fail_op;
        if (silt_cuda_sync() != SILT_OK) goto fail_op;
        for (int it = 0; it < iters; it++) {
            if (silt_cuda_event_record(e0) != SILT_OK || run_op(op) != SILT_OK || silt_cuda_event_record(e1) != SILT_OK ||
                silt_cuda_event_elapsed_ms(e0, e1, &ms[it]) != SILT_OK)
                goto fail_op;
        }
        qsort(ms, (size_t)iters, sizeof *ms, cmp_float);
        double med = ms[iters / 2], gbs = rows[op].bytes / (med * 1e-3) / 1e9;
        printf("%-32s %-24s %9.4f %9.1f", rows[op].name, rows[op].shape, med, gbs);
        if (peak > 0) printf(" %5.1f%%", 100.0 * gbs / peak);
        printf("\n");
        continue;
    fail_op:
        fprintf(stderr, "bench_gpu_ops_pointwise: %s failed: %s\n", rows[op].name, silt_last_error());
        goto fail;
    }
    rc = silt_cuda_sync() == SILT_OK ? 0 : 1;
fail:
    if (rc) fprintf(stderr, "bench_gpu_ops_pointwise: %s\n", silt_last_error());
    silt_cuda_event_free(e0);
    silt_cuda_event_free(e1);
    for (int i = 0; i < NBUF; i++) silt_cuda_free(buf[i]);
    for (int i = 0; i < 4; i++) silt_cuda_free(small[i]);
    silt_cuda_free(scratch);
    free(ms);
    return rc;
}
