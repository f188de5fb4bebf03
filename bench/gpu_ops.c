// GPU op throughput: one timing line per kernel family at a realistic shape
// (attention as in a DiT-XL/2 at 512px and a VAE mid-block, fp32 and, for
// head dims up to 128, the bf16 tensor-core forward; the VAE's 3x3
// convolutions, resampling, permute, VQ lookup). Each line is the median of
// `iters` runs after two warm-ups, timed with CUDA events, as achieved
// TFLOP/s (arithmetic-bound kernels) or GB/s of compulsory traffic (each
// input read once, each output written once; memory-bound kernels).
//
//   bench_gpu_ops [iters=10]
//
// Builds in every configuration: without CUDA or a GPU it prints "no GPU
// (...)" and exits 0; a kernel that refuses (e.g. conv without cuDNN) prints
// its reason on its line. Inputs are uniform random, never zeros.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops_attention.h"
#include "cuda/cuda.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float uniform(void) {  // xorshift in [-1, 1)
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

// A device buffer of n random floats (NULL on failure, with a message).
static float *dev_random(int64_t n) {
    float *h = malloc((size_t)n * sizeof(float)), *d = NULL;
    if (!h) return NULL;
    for (int64_t i = 0; i < n; i++) h[i] = uniform();
    if (silt_cuda_malloc((void **)&d, (size_t)n * sizeof(float)) != SILT_OK ||
        silt_cuda_memcpy_h2d(d, h, (size_t)n * sizeof(float)) != SILT_OK) {
        fprintf(stderr, "bench_gpu_ops: device buffer of %lld floats: %s\n", (long long)n, silt_last_error());
        silt_cuda_free(d);
        d = NULL;
    }
    free(h);
    return d;
}

typedef silt_status (*run_fn)(void *ctx);

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

// Median milliseconds of fn over iters runs (after two warm-ups); < 0 on failure.
static float time_ms(run_fn fn, void *ctx, int iters, char *why, size_t nwhy) {
    silt_cuda_event *e0 = NULL, *e1 = NULL;
    float *t = calloc((size_t)iters, sizeof(float)), med = -1;
    if (!t || silt_cuda_event_create(&e0) != SILT_OK || silt_cuda_event_create(&e1) != SILT_OK) goto out;
    for (int i = 0; i < 2 + iters; i++) {
        if (silt_cuda_event_record(e0) != SILT_OK || fn(ctx) != SILT_OK || silt_cuda_event_record(e1) != SILT_OK)
            goto out;
        float ms = 0;
        if (silt_cuda_event_elapsed_ms(e0, e1, &ms) != SILT_OK) goto out;
        if (i >= 2) t[i - 2] = ms;
    }
    qsort(t, (size_t)iters, sizeof(float), cmp_float);
    med = t[iters / 2];
out:
    if (med < 0) snprintf(why, nwhy, "%s", silt_last_error_message());
    silt_cuda_event_free(e0);
    silt_cuda_event_free(e1);
    free(t);
    return med;
}

static void report(const char *name, const char *shape, float ms, double work, const char *unit, const char *why) {
    if (ms < 0) printf("%-22s %-34s failed: %s\n", name, shape, why);
    else printf("%-22s %-34s %9.3f ms %9.1f %s\n", name, shape, ms, work / (ms * 1e-3) / 1e12 * (unit[0] == 'G' ? 1e3 : 1), unit);
}

// --- cases ----------------------------------------------------------------------------

typedef struct {
    int64_t B, H, T, D;
    float *q, *k, *v, *out, *lse, *dout, *dq, *dk, *dv, *scratch;
} attn_ctx;

static silt_status attn_fwd(void *p) {
    attn_ctx *a = p;
    return attention_fwd_cuda(a->out, a->lse, NULL, a->q, a->k, a->v, a->B, a->H, a->T, a->T, a->D, a->D, NULL);
}
// The bf16 tensor-core forward (attention_fwd_cuda_bf16; head dims <= 128).
static silt_status attn_fwd_bf16(void *p) {
    attn_ctx *a = p;
    return attention_fwd_cuda_bf16(a->out, a->lse, NULL, a->q, a->k, a->v, a->B, a->H, a->T, a->T, a->D, a->D, NULL);
}
static silt_status attn_bwd(void *p) {
    attn_ctx *a = p;
    return attention_bwd_cuda(a->dq, a->dk, a->dv, a->scratch, a->dout, a->q, a->k, a->v, a->out, a->lse, a->B, a->H,
                              a->T, a->T, a->D, a->D, NULL);
}

static void bench_attention(int64_t B, int64_t H, int64_t T, int64_t D, int iters) {
    int64_t n = B * H * T * D;
    attn_ctx a = {B, H, T, D, dev_random(n), dev_random(n), dev_random(n), dev_random(n), dev_random(B * H * T),
                  dev_random(n), dev_random(n), dev_random(n), dev_random(n),
                  dev_random(attention_scratch_floats_cuda(B, H, T, T, D, D))};
    char shape[64], why[256] = "";
    snprintf(shape, sizeof shape, "B%lld H%lld T%lld D%lld", (long long)B, (long long)H, (long long)T, (long long)D);
    double flops = 4.0 * (double)(B * H) * (double)T * (double)T * (double)D;  // QK^T and PV
    if (a.q && a.k && a.v && a.out && a.lse && a.dout && a.dq && a.dk && a.dv && a.scratch) {
        report("attention fwd", shape, time_ms(attn_fwd, &a, iters, why, sizeof why), flops, "TFLOP/s", why);
        if (attention_bf16_eligible_cuda(a.out, a.q, a.k, a.v, D, D, NULL)) {
            // Both kernels (silt_cuda_set_attention_mma_variant); v2's time includes its K/V pre-pass.
            int was = silt_cuda_set_attention_mma_variant(1);
            report("attention fwd bf16 mma v1", shape, time_ms(attn_fwd_bf16, &a, iters, why, sizeof why), flops,
                   "TFLOP/s", why);
            silt_cuda_set_attention_mma_variant(2);
            report("attention fwd bf16 mma v2", shape, time_ms(attn_fwd_bf16, &a, iters, why, sizeof why), flops,
                   "TFLOP/s", why);
            silt_cuda_set_attention_mma_variant(was);
        }
        // Backward: S and dP recomputed twice (dk/dv and dq kernels) plus dV, dK, dQ: 7 products of the same size.
        report("attention bwd", shape, time_ms(attn_bwd, &a, iters, why, sizeof why), 3.5 * flops, "TFLOP/s", why);
    }
    float *bufs[] = {a.q, a.k, a.v, a.out, a.lse, a.dout, a.dq, a.dk, a.dv, a.scratch};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) silt_cuda_free(bufs[i]);
}

typedef struct {
    int64_t N, C, H, W;
    float *x, *w, *b, *out, *dx, *dw, *db;
} conv_ctx;

static silt_status conv_fwd(void *p) {
    conv_ctx *c = p;
    return conv2d_fwd_cuda(c->out, NULL, c->x, c->w, c->b, c->N, c->C, c->H, c->W, c->C, 3, 3, 1, 1, 1, 1);
}
static silt_status conv_bwd(void *p) {
    conv_ctx *c = p;
    return conv2d_bwd_cuda(c->dx, c->dw, c->db, NULL, c->out, c->x, c->w, c->N, c->C, c->H, c->W, c->C, 3, 3, 1, 1, 1, 1);
}

static void bench_conv(int64_t N, int64_t C, int64_t H, int64_t W, int iters) {
    int64_t n = N * C * H * W;
    conv_ctx c = {N, C, H, W, dev_random(n), dev_random(C * C * 9), dev_random(C), dev_random(n), dev_random(n),
                  dev_random(C * C * 9), dev_random(C)};
    char shape[64], why[256] = "";
    snprintf(shape, sizeof shape, "N%lld C%lld %lldx%lld k3", (long long)N, (long long)C, (long long)H, (long long)W);
    double flops = 2.0 * (double)n * (double)C * 9.0;
    if (c.x && c.w && c.b && c.out && c.dx && c.dw && c.db) {
        report("conv2d fwd (cuDNN)", shape, time_ms(conv_fwd, &c, iters, why, sizeof why), flops, "TFLOP/s", why);
        report("conv2d bwd (cuDNN)", shape, time_ms(conv_bwd, &c, iters, why, sizeof why), 2 * flops, "TFLOP/s", why);
    }
    float *bufs[] = {c.x, c.w, c.b, c.out, c.dx, c.dw, c.db};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) silt_cuda_free(bufs[i]);
}

typedef struct {
    int64_t nc, h, w, ho, wo;
    float *x, *y;
    int kind;  // 0 bicubic fwd, 1 bicubic bwd, 2 area fwd, 3 permute
} mem_ctx;

static silt_status mem_run(void *p) {
    mem_ctx *m = p;
    static const int perm[4] = {0, 2, 3, 1};
    int64_t shape[4] = {m->nc / 64, 64, m->h, m->w};
    switch (m->kind) {
    case 0: return upsample_bicubic_fwd_cuda(m->y, m->x, m->nc, m->h, m->w, m->ho, m->wo);
    case 1: return upsample_bicubic_bwd_cuda(m->x, m->y, m->nc, m->h, m->w, m->ho, m->wo);
    case 2: return area_downsample_fwd_cuda(m->y, m->x, m->nc, m->h, m->w, m->ho, m->wo);
    default: return permute_fwd_cuda(m->y, m->x, 4, shape, perm);
    }
}

static void bench_memory(int iters) {
    const struct {
        const char *name;
        int kind;
        int64_t nc, h, w, ho, wo;
    } cases[] = {
        {"upsample_bicubic fwd", 0, 256, 128, 128, 512, 512}, {"upsample_bicubic bwd", 1, 256, 128, 128, 512, 512},
        {"area_downsample fwd", 2, 256, 512, 512, 128, 128},  {"permute NCHW->NHWC", 3, 256, 256, 256, 256, 256},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mem_ctx m = {cases[i].nc, cases[i].h, cases[i].w, cases[i].ho, cases[i].wo, NULL, NULL, cases[i].kind};
        int64_t ni = m.nc * m.h * m.w, no = m.nc * m.ho * m.wo;
        m.x = dev_random(ni);
        m.y = dev_random(no);
        char shape[64], why[256] = "";
        snprintf(shape, sizeof shape, "nc%lld %lldx%lld -> %lldx%lld", (long long)m.nc, (long long)m.h, (long long)m.w,
                 (long long)m.ho, (long long)m.wo);
        // bwd reads dout and read-modify-writes dx; the others read x once and write y once.
        double bytes = 4.0 * (double)(ni + no) + (m.kind == 1 ? 4.0 * (double)ni : 0.0);
        if (m.x && m.y) report(cases[i].name, shape, time_ms(mem_run, &m, iters, why, sizeof why), bytes, "GB/s", why);
        silt_cuda_free(m.x);
        silt_cuda_free(m.y);
    }
}

typedef struct {
    int64_t N, V, C;
    float *z, *cb;
    int32_t *idx;
} vq_ctx;

static silt_status vq_run(void *p) {
    vq_ctx *v = p;
    return vq_nearest_cuda(v->idx, v->z, v->cb, v->N, v->V, v->C);
}

static void bench_vq(int iters) {
    // VAR's quantiser at 256px: 680 tokens per image, batch 16, 4096 x 32 codebook.
    vq_ctx v = {680 * 16, 4096, 32, dev_random(680 * 16 * 32), dev_random(4096 * 32), NULL};
    v.idx = (int32_t *)dev_random(680 * 16);
    char why[256] = "";
    // Counted as 3 fp64 operations per (row, entry, channel).
    if (v.z && v.cb && v.idx)
        report("vq_nearest (fp64)", "N10880 V4096 C32", time_ms(vq_run, &v, iters, why, sizeof why),
               3.0 * (double)(v.N * v.V * v.C), "TFLOP/s", why);
    silt_cuda_free(v.z);
    silt_cuda_free(v.cb);
    silt_cuda_free(v.idx);
}

int main(int argc, char **argv) {
    int iters = argc > 1 ? atoi(argv[1]) : 10;
    if (iters < 1) iters = 1;
    char desc[512];
    silt_cuda_describe(desc, sizeof desc);
    if (!silt_cuda_available()) {
        printf("ops: no GPU (%s)\n", desc);
        return 0;
    }
    printf("ops on %s (median of %d)\n", desc, iters);
    bench_attention(2, 16, 1024, 72, iters);  // DiT-XL/2 at 512px: 1024 tokens, 16 heads of 72
    bench_attention(1, 8, 4096, 128, iters);
    bench_attention(8, 16, 256, 72, iters);   // DiT-XL/2 at 256px, batch 8 (bench_dit_gpu's shape)
    bench_attention(1, 1, 4096, 512, iters);  // VAE mid-block at 512px: one head over 64x64
    bench_conv(1, 512, 64, 64, iters);        // VAE decoder block at 512px
    bench_conv(4, 128, 256, 256, iters);
    bench_memory(iters);
    bench_vq(iters);
    return 0;
}
