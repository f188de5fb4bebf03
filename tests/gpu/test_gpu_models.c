// DiT and MMDiT forward on a CUDA graph (weights moved with dit_to_device /
// mmdit_to_device) against the same model on the CPU: a tiny random DiT in
// both layouts (also on a grid other than its native one, so the position
// table is recomputed and uploaded) and the tiny golden MMDiTs (plain and
// qk-norm with a dual block), with no perturbation and with every attention
// perturbation (SoftPAG with mixed u, uniform, SEG, SEG with the mean query,
// SLG, and MMDiT's identity_image). fp32, TF32 off: ||cuda - cpu|| / ||cpu||
// must be < 1e-4 and every element within 1e-3 * (|ref| + rms(ref)). The DiT
// once more with bf16 linear weights (dit_weights_to_bf16) against the fp32
// CPU model: < 2e-2 and 5e-2 (bf16 keeps 8 bits of mantissa: ~4e-3 per
// rounding, a few roundings deep), and with the bf16 attention switch on as
// well (silt_cuda_set_attention_bf16: the blocks then take
// dit_attention_qkv_bf16, q/k/v read in place, for the plain and SoftPAG
// cases, and the split path for the others). MMDiT: mmdit_block_forward of every block
// and the full forward, fp32 and with bf16 weights (mmdit_weights_to_bf16).
// The tiny golden SD and SD3 VAEs: encode and decode (vae_case).
//
// Also: the device arena is poisoned with NaN before each forward (an output
// element no kernel writes fails), two runs on the reused arena must give the
// same bits (a moving result is a race), and the error paths: a CPU input to
// a CUDA model/graph, a grad asked for on a CUDA graph, silt_backward on one.
// Exit 77 (SKIP) without a GPU.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/graph.h"
#include "core/ops.h"
#include "core/safetensors.h"
#include "cuda/cuda.h"
#include "dit/dit.h"
#include "dit/dit_ops.h"
#include "dit/mmdit.h"
#include "gpu_test.h"
#include "unet/vae.h"
#include "var/var.h"
#include "twin_util.h"

#define REL_L2 1e-4
#define ELEM_TOL 1e-3
#define REL_L2_BF16 2e-2
#define ELEM_TOL_BF16 5e-2
#define POISON_BYTES ((size_t)48 << 20)  // below the 64 MiB block the test graphs use

static void compare_tol(const char *what, const float *got, const float *ref, int64_t n, double limit, double elem) {
    twin_compare_rel_l2(what, got, ref, n, limit, elem);
}

static void compare(const char *what, const float *got, const float *ref, int64_t n) {
    compare_tol(what, got, ref, n, REL_L2, ELEM_TOL);
}

// A CUDA graph with its first 64 MiB arena block filled with NaN, then reset:
// the forward's tensors land on poisoned memory.
static silt_graph *cuda_graph(void) {
    silt_graph *g = silt_graph_create_on(SILT_CUDA, (size_t)64 << 20);
    CHECK_MSG(g != NULL, "silt_graph_create_on(cuda): %s", silt_last_error());
    if (!g) return NULL;
    silt_graph_set_grad(g, false);
    silt_tensor *p = silt_graph_tensor(g, SILT_F32, 1, (const int64_t[]){(int64_t)(POISON_BYTES / 4)});
    CHECK(p != NULL);
    if (p) twin_poison(p->data, POISON_BYTES);
    silt_graph_reset(g);
    return g;
}

static void poison_again(silt_graph *g) {
    silt_graph_reset(g);
    silt_tensor *p = silt_graph_tensor(g, SILT_F32, 1, (const int64_t[]){(int64_t)(POISON_BYTES / 4)});
    if (p) twin_poison(p->data, POISON_BYTES);
    silt_graph_reset(g);
}

static float *fetch(const silt_tensor *out) { return twin_fetch(out); }

// --- DiT ------------------------------------------------------------------------------

typedef struct {
    silt_perturb_kind kind;
    int rb, re;
    float sigma;
    const char *name;
} pcase;

static const pcase dit_cases[] = {
    {SILT_PERTURB_NONE, 0, 0, 0, "plain"},
    {SILT_PERTURB_IDENTITY, 2, 3, 0, "softpag rows [2,3)"},
    {SILT_PERTURB_IDENTITY, 0, 3, 0, "softpag all rows"},
    {SILT_PERTURB_UNIFORM, 1, 2, 0, "uniform rows [1,2)"},
    {SILT_PERTURB_SEG, 1, 3, 1.0f, "seg sigma 1 rows [1,3)"},
    {SILT_PERTURB_SEG, 0, 1, INFINITY, "seg mean query rows [0,1)"},
    {SILT_PERTURB_SKIP, 1, 2, 0, "slg rows [1,2)"},
};

// u (depth 2 x heads 4): mixed SoftPAG strengths, layer 1 untouched but one head.
static const float dit_u[8] = {0.25f, 0, 1, 0.5f, 0, 0, 0.75f, 0};

static void dit_case(dit_layout layout, int H, int W, const char *tag, bool bf16, bool attn_bf16) {
    dit_config c = {.layout = layout, .depth = 2, .hidden = 64, .heads = 4, .patch = 2, .in_channels = 4,
                    .out_channels = 8, .input_size = 8, .num_classes = 10, .mlp_hidden = 160};
    dit_model *mc = NULL, *md = NULL;
    CHECK_OK(dit_create_random(&c, 11, &mc));
    CHECK_OK(dit_create_random(&c, 11, &md));
    if (!mc || !md) goto out;
    CHECK_OK(dit_to_device(md, SILT_CUDA));
    CHECK(dit_device(md) == SILT_CUDA && dit_device(mc) == SILT_CPU);
    if (bf16) CHECK_OK(dit_weights_to_bf16(md));
    if (attn_bf16) silt_cuda_set_attention_bf16(true);
    const int B = 3;
    const int64_t n = (int64_t)B * 4 * H * W;
    float *x = malloc(sizeof(float) * (size_t)n);
    test_seed(3);
    test_fill(x, n, -2, 2);
    float t[3] = {999, 500.5f, 3};
    int32_t y[3] = {1, 10, 7};  // 10 = the null class
    silt_graph *gc = silt_graph_create(0), *gd = cuda_graph();
    silt_graph_set_grad(gc, false);
    // With the switch on the blocks read q, k, v in place (dit_attention_qkv_bf16), not the split path.
    if (attn_bf16 && gd) CHECK(dit_attention_qkv_bf16_takes(gd, c.hidden / c.heads));
    for (size_t k = 0; gd && k < sizeof dit_cases / sizeof dit_cases[0]; k++) {
        const pcase *pc = &dit_cases[k];
        silt_perturb p = {.kind = pc->kind, .row_begin = pc->rb, .row_end = pc->re, .n_layers = 2, .n_heads = 4,
                          .u = dit_u, .seg_sigma = pc->sigma};
        silt_graph_reset(gc);
        poison_again(gd);
        silt_tensor *xc = silt_graph_upload(gc, SILT_F32, 4, (const int64_t[]){B, 4, H, W}, x);
        silt_tensor *xd = silt_graph_upload(gd, SILT_F32, 4, (const int64_t[]){B, 4, H, W}, x);
        silt_tensor *oc = dit_forward(gc, mc, xc, t, y, &p);
        silt_tensor *od = dit_forward(gd, md, xd, t, y, &p);
        char what[128];
        snprintf(what, sizeof what, "dit %s %s%s%s: %s", tag, dit_layout_name(layout), bf16 ? " bf16" : "",
                 attn_bf16 ? " + bf16 attention" : "", pc->name);
        CHECK_MSG(oc && od, "%s: forward failed: %s", what, silt_last_error());
        float *hc = fetch(oc), *hd = fetch(od);
        if (hc && hd) {
            CHECK(silt_same_shape(oc, od));
            if (bf16) compare_tol(what, hd, hc, silt_numel(oc), REL_L2_BF16, ELEM_TOL_BF16);
            else compare(what, hd, hc, silt_numel(oc));
        }
        // The same forward again on the reused (re-poisoned) arena: same bits.
        if (k == 1 && hd) {
            poison_again(gd);
            xd = silt_graph_upload(gd, SILT_F32, 4, (const int64_t[]){B, 4, H, W}, x);
            float *again = fetch(dit_forward(gd, md, xd, t, y, &p));
            if (again) twin_same_bits("dit rerun on the reused arena", again, hd, sizeof(float) * (size_t)silt_numel(od));
            free(again);
        }
        free(hc);
        free(hd);
    }
    silt_graph_free(gc);
    silt_graph_free(gd);
    free(x);
    silt_cuda_set_attention_bf16(false);
out:
    dit_free(mc);
    dit_free(md);
}

// --- MMDiT ----------------------------------------------------------------------------

static silt_safetensors *open_golden(const char *name) {
    char path[512];
    const char *src = getenv("SILT_SOURCE_DIR");
    snprintf(path, sizeof path, "%s%stests/golden/%s", src ? src : "", src ? "/" : "", name);
    silt_safetensors *st = NULL;
    CHECK_OK(silt_safetensors_open(path, &st));
    return st;
}

static const pcase mm_cases[] = {
    {SILT_PERTURB_NONE, 0, 0, 0, "plain"},
    {SILT_PERTURB_IDENTITY, 2, 3, 0, "softpag rows [2,3)"},
    {SILT_PERTURB_IDENTITY_IMAGE, 1, 2, 0, "identity_image rows [1,2)"},
    {SILT_PERTURB_UNIFORM, 0, 3, 0, "uniform all rows"},
    {SILT_PERTURB_SEG, 1, 3, 1.0f, "seg sigma 1 rows [1,3)"},
    {SILT_PERTURB_SEG, 2, 3, INFINITY, "seg mean query rows [2,3)"},
    {SILT_PERTURB_SKIP, 0, 2, 0, "slg rows [0,2)"},
};

// (3 layers x 3 heads), as tests/golden/test_mmdit.c's cases.
static const float mm_u[9] = {0.25f, 0, 1, 0, 0.75f, 0, 1, 1, 1};

static void mmdit_case(const char *file) {
    silt_safetensors *st = open_golden(file);
    mmdit_model *mc = NULL, *md = NULL;
    if (st) {
        CHECK_OK(mmdit_load(st, &mc));
        CHECK_OK(mmdit_load(st, &md));
    }
    if (!mc || !md) goto out;
    CHECK_OK(mmdit_to_device(md, SILT_CUDA));
    const mmdit_config *c = mmdit_get_config(mc);
    CHECK(c->depth == 3 && c->heads == 3);
    const int B = 3, Hh = 6, Ww = 10, T = 7, C = c->in_channels, J = c->joint_dim, P = c->pooled_dim;
    const int64_t nx = (int64_t)B * C * Hh * Ww, nc = (int64_t)B * T * J, np = (int64_t)B * P;
    float *x = malloc(sizeof(float) * (size_t)nx), *ctx = malloc(sizeof(float) * (size_t)nc),
          *pooled = malloc(sizeof(float) * (size_t)np);
    test_seed(7);
    test_fill(x, nx, -1.5f, 1.5f);
    test_fill(ctx, nc, -1, 1);
    test_fill(pooled, np, -1, 1);
    float t[3] = {999.0f, 431.25f, 12.5f};
    silt_graph *gc = silt_graph_create(0), *gd = cuda_graph();
    silt_graph_set_grad(gc, false);
    for (size_t k = 0; gd && k < sizeof mm_cases / sizeof mm_cases[0]; k++) {
        const pcase *pc = &mm_cases[k];
        silt_perturb p = {.kind = pc->kind, .row_begin = pc->rb, .row_end = pc->re, .n_layers = 3, .n_heads = 3,
                          .u = mm_u, .seg_sigma = pc->sigma};
        silt_graph *gs[2] = {gc, gd};
        mmdit_model *ms[2] = {mc, md};
        float *h[2] = {NULL, NULL};
        silt_tensor *o[2] = {NULL, NULL};
        silt_graph_reset(gc);
        poison_again(gd);
        for (int d = 0; d < 2; d++) {
            silt_tensor *xt = silt_graph_upload(gs[d], SILT_F32, 4, (const int64_t[]){B, C, Hh, Ww}, x);
            silt_tensor *ct = silt_graph_upload(gs[d], SILT_F32, 3, (const int64_t[]){B, T, J}, ctx);
            silt_tensor *pt = silt_graph_upload(gs[d], SILT_F32, 2, (const int64_t[]){B, P}, pooled);
            o[d] = mmdit_forward(gs[d], ms[d], xt, t, ct, pt, &p);
            h[d] = fetch(o[d]);
        }
        char what[128];
        snprintf(what, sizeof what, "mmdit %s: %s", file, pc->name);
        CHECK_MSG(h[0] && h[1], "%s: forward failed: %s", what, silt_last_error());
        if (h[0] && h[1]) compare(what, h[1], h[0], silt_numel(o[0]));
        free(h[0]);
        free(h[1]);
    }
    silt_graph_free(gc);
    silt_graph_free(gd);
    free(x);
    free(ctx);
    free(pooled);
out:
    mmdit_free(mc);
    mmdit_free(md);
    silt_safetensors_close(st);
}

// mmdit_block_forward on the device against the CPU (every block: plain, dual,
// context_pre_only), then the same blocks and the full forward with bf16
// linear weights (mmdit_weights_to_bf16) against the fp32 CPU model.
static void mmdit_block_bf16_case(const char *file) {
    silt_safetensors *st = open_golden(file);
    mmdit_model *mc = NULL, *md = NULL;
    if (st) {
        CHECK_OK(mmdit_load(st, &mc));
        CHECK_OK(mmdit_load(st, &md));
    }
    if (!mc || !md) goto out;
    CHECK(mmdit_weights_to_bf16(md) == SILT_ERR_ARG);  // still on the CPU
    CHECK_OK(mmdit_to_device(md, SILT_CUDA));
    const mmdit_config *c = mmdit_get_config(mc);
    const int B = 2, N = 13, T = 6, D = c->hidden, Hh = 4, Ww = 6, C = c->in_channels;
    const int64_t nx = (int64_t)B * N * D, nc = (int64_t)B * T * D, nl = (int64_t)B * C * Hh * Ww;
    const int64_t ne = (int64_t)B * T * c->joint_dim, np = (int64_t)B * c->pooled_dim;
    float *x = malloc(sizeof(float) * (size_t)nx), *ctx = malloc(sizeof(float) * (size_t)nc);
    float *temb = malloc(sizeof(float) * (size_t)B * D), *lat = malloc(sizeof(float) * (size_t)nl);
    float *enc = malloc(sizeof(float) * (size_t)ne), *pooled = malloc(sizeof(float) * (size_t)np);
    float t[2] = {871.5f, 40.0f};
    test_seed(19);
    test_fill(x, nx, -1.5f, 1.5f);
    test_fill(ctx, nc, -1, 1);
    test_fill(temb, (int64_t)B * D, -2, 2);
    test_fill(lat, nl, -1.5f, 1.5f);
    test_fill(enc, ne, -1, 1);
    test_fill(pooled, np, -1, 1);
    silt_graph *gc = silt_graph_create(0), *gd = cuda_graph();
    silt_graph_set_grad(gc, false);
    for (int bf16 = 0; bf16 < 2 && gd; bf16++) {
        if (bf16) CHECK_OK(mmdit_weights_to_bf16(md));
        for (int l = 0; l <= c->depth; l++) {  // l == depth: the full forward
            silt_graph *gs[2] = {gc, gd};
            mmdit_model *ms[2] = {mc, md};
            silt_tensor *ox[2] = {NULL, NULL}, *oc[2] = {NULL, NULL};
            silt_graph_reset(gc);
            poison_again(gd);
            for (int d = 0; d < 2; d++) {
                if (l < c->depth) {
                    silt_tensor *xt = silt_graph_upload(gs[d], SILT_F32, 3, (const int64_t[]){B, N, D}, x);
                    silt_tensor *ct = silt_graph_upload(gs[d], SILT_F32, 3, (const int64_t[]){B, T, D}, ctx);
                    silt_tensor *tt = silt_graph_upload(gs[d], SILT_F32, 2, (const int64_t[]){B, D}, temb);
                    ox[d] = mmdit_block_forward(gs[d], ms[d], l, xt, ct, tt, &oc[d]);
                } else {
                    silt_tensor *xt = silt_graph_upload(gs[d], SILT_F32, 4, (const int64_t[]){B, C, Hh, Ww}, lat);
                    silt_tensor *et = silt_graph_upload(gs[d], SILT_F32, 3, (const int64_t[]){B, T, c->joint_dim}, enc);
                    silt_tensor *pt = silt_graph_upload(gs[d], SILT_F32, 2, (const int64_t[]){B, c->pooled_dim}, pooled);
                    ox[d] = mmdit_forward(gs[d], ms[d], xt, t, et, pt, NULL);
                }
            }
            char what[128];
            snprintf(what, sizeof what, "mmdit %s%s: %s %d", file, bf16 ? " bf16" : "",
                     l < c->depth ? "block" : "full forward, depth", l);
            CHECK_MSG(ox[0] && ox[1], "%s: forward failed: %s", what, silt_last_error());
            CHECK_MSG(!oc[0] == !oc[1], "%s: text output on one device only", what);
            for (int s = 0; s < 2; s++) {
                silt_tensor **o = s ? oc : ox;
                if (!o[0] || !o[1]) continue;
                float *hc = fetch(o[0]), *hd = fetch(o[1]);
                char w2[160];
                snprintf(w2, sizeof w2, "%s%s", what, s ? " text" : "");
                if (hc && hd) {
                    if (bf16) compare_tol(w2, hd, hc, silt_numel(o[0]), REL_L2_BF16, ELEM_TOL_BF16);
                    else compare(w2, hd, hc, silt_numel(o[0]));
                }
                free(hc);
                free(hd);
            }
        }
    }
    silt_graph_free(gc);
    silt_graph_free(gd);
    free(x), free(ctx), free(temb), free(lat), free(enc), free(pooled);
out:
    mmdit_free(mc);
    mmdit_free(md);
    silt_safetensors_close(st);
}

// --- the SD VAE ---------------------------------------------------------------------------

// The tiny golden AutoencoderKLs (SD: quant convs, 4 latent channels; SD3:
// 16, none) moved with vae_to_device: encode (mean and logvar) and decode of
// the golden inputs, square and rectangular, on a poisoned CUDA arena, against
// the same model on the CPU (fp32 bounds above) and against the diffusers
// outputs in the io file (the golden test's 1e-4 of max |ref|). Twice on the
// reused arena: the same bits. A CPU latent into the device VAE: one error
// naming both devices.
static int64_t st_numel(const silt_st_tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

static void vae_case(const char *name) {
    char file[128];
    snprintf(file, sizeof file, "%s.model.safetensors", name);
    silt_safetensors *st = open_golden(file);
    snprintf(file, sizeof file, "%s.io.safetensors", name);
    silt_safetensors *io = open_golden(file);
    vae_model *mc = NULL, *md = NULL;
    if (st) CHECK_OK(vae_load(st, &mc));
    if (st) CHECK_OK(vae_load(st, &md));
    if (!mc || !md || !io) goto out;
    CHECK(vae_device(md) == SILT_CPU);
    CHECK_OK(vae_to_device(md, SILT_CUDA));
    CHECK(vae_device(md) == SILT_CUDA && vae_device(mc) == SILT_CPU);
    CHECK_OK(vae_to_device(md, SILT_CUDA));  // already there: nothing moves
    silt_graph *gc = silt_graph_create(0), *gd = cuda_graph();
    silt_graph_set_grad(gc, false);
    static const char *sfx[2] = {"", "_rect"};
    for (int r = 0; gd && r < 2; r++) {
        char in[32], lat[32], what[96];
        snprintf(in, sizeof in, "image%s", sfx[r]);
        snprintf(lat, sizeof lat, "latent%s", sfx[r]);
        const silt_st_tensor *ti = silt_safetensors_find(io, in), *tl = silt_safetensors_find(io, lat);
        CHECK_MSG(ti && tl, "%s: io tensors %s / %s missing", name, in, lat);
        if (!ti || !tl) continue;
        float *img = malloc(sizeof(float) * (size_t)st_numel(ti)), *z = malloc(sizeof(float) * (size_t)st_numel(tl));
        CHECK_OK(silt_safetensors_read_f32(ti, img, st_numel(ti)));
        CHECK_OK(silt_safetensors_read_f32(tl, z, st_numel(tl)));
        float *first = NULL;
        for (int rep = 0; rep < 2; rep++) {
            silt_graph_reset(gc);
            poison_again(gd);
            silt_tensor *lvc = NULL, *lvd = NULL;
            silt_tensor *muc = vae_encode(gc, mc, silt_graph_upload(gc, SILT_F32, 4, ti->shape, img), &lvc);
            silt_tensor *mud = vae_encode(gd, md, silt_graph_upload(gd, SILT_F32, 4, ti->shape, img), &lvd);
            silt_tensor *xc = vae_decode(gc, mc, silt_graph_upload(gc, SILT_F32, 4, tl->shape, z));
            silt_tensor *xd = vae_decode(gd, md, silt_graph_upload(gd, SILT_F32, 4, tl->shape, z));
            CHECK_MSG(muc && mud && lvc && lvd && xc && xd, "%s%s: a forward failed: %s", name, sfx[r], silt_last_error());
            if (!muc || !mud || !lvc || !lvd || !xc || !xd) break;
            CHECK(mud->device == SILT_CUDA && xd->device == SILT_CUDA);
            float *hm = fetch(mud), *hl = fetch(lvd), *hx = fetch(xd);
            if (rep == 0) {
                snprintf(what, sizeof what, "vae %s%s mean", name, sfx[r]);
                compare(what, hm, silt_f32(muc), silt_numel(muc));
                snprintf(what, sizeof what, "vae %s%s logvar", name, sfx[r]);
                compare(what, hl, silt_f32(lvc), silt_numel(lvc));
                snprintf(what, sizeof what, "vae %s%s decoded", name, sfx[r]);
                compare(what, hx, silt_f32(xc), silt_numel(xc));
                // Against diffusers itself (the golden file's own reference).
                char dec[32];
                snprintf(dec, sizeof dec, "decoded%s", sfx[r]);
                const silt_st_tensor *tr = silt_safetensors_find(io, dec);
                float *ref = tr ? malloc(sizeof(float) * (size_t)st_numel(tr)) : NULL;
                if (ref && st_numel(tr) == silt_numel(xd) &&
                    silt_safetensors_read_f32(tr, ref, st_numel(tr)) == SILT_OK) {
                    double max_err = 0, max_ref = 0;
                    for (int64_t i = 0; i < silt_numel(xd); i++) {
                        max_err = fmax(max_err, fabs((double)hx[i] - ref[i]));
                        max_ref = fmax(max_ref, fabs((double)ref[i]));
                    }
                    printf("vae %s%s decoded vs diffusers: max_err %.3g, max|ref| %.3g\n", name, sfx[r], max_err, max_ref);
                    CHECK_MSG(max_err <= 1e-4 * max_ref, "vae %s%s decoded vs diffusers: %.3g > 1e-4 * %.3g", name, sfx[r],
                              max_err, max_ref);
                } else {
                    CHECK_MSG(0, "vae %s: io tensor %s missing or misshaped", name, dec);
                }
                free(ref);
                first = malloc(silt_nbytes(xd));
                if (first && hx) memcpy(first, hx, silt_nbytes(xd));
            } else if (first && hx) {
                CHECK_MSG(!memcmp(first, hx, silt_nbytes(xd)), "vae %s%s: two decodes on the reused arena differ", name,
                          sfx[r]);
            }
            free(hm), free(hl), free(hx);
        }
        free(first), free(img), free(z);
    }
    // A latent on the cpu into the device VAE: one error naming both devices.
    silt_graph_reset(gc);
    silt_tensor *zc = silt_graph_new(gc, 1, vae_get_config(md)->latent_channels, 4, 4);
    CHECK(zc && vae_decode(gc, md, zc) == NULL && silt_graph_status(gc) == SILT_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(silt_last_error(), "cuda") && strstr(silt_last_error(), "cpu"), "got: %s", silt_last_error());
    silt_graph_free(gc);
    silt_graph_free(gd);
out:
    vae_free(mc);
    vae_free(md);
    silt_safetensors_close(io);
    silt_safetensors_close(st);
}

// --- error paths ------------------------------------------------------------------------

static void test_errors(void) {
    dit_config c = {.layout = DIT_LAYOUT_DIFFUSERS, .depth = 1, .hidden = 32, .heads = 2, .patch = 2,
                    .in_channels = 4, .out_channels = 4, .input_size = 4, .num_classes = 3, .mlp_hidden = 64};
    dit_model *md = NULL;
    CHECK_OK(dit_create_random(&c, 1, &md));
    if (!md) return;
    CHECK(dit_weights_to_bf16(md) == SILT_ERR_ARG);  // still on the CPU
    CHECK_OK(dit_to_device(md, SILT_CUDA));
    float t[1] = {10};
    int32_t y[1] = {0};
    float xh[64] = {0};
    // A CPU graph (and CPU input) with a CUDA model: a clear error naming the devices.
    silt_graph *g = silt_graph_create(0);
    silt_tensor *x = silt_graph_upload(g, SILT_F32, 4, (const int64_t[]){1, 4, 4, 4}, xh);
    CHECK(dit_forward(g, md, x, t, y, NULL) == NULL);
    CHECK(silt_graph_status(g) == SILT_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(silt_last_error(), "dit_forward") && strstr(silt_last_error(), "cuda"), "got: %s", silt_last_error());
    silt_graph_free(g);
    // A CPU tensor into an op on a CUDA graph: names the op and both devices.
    g = silt_graph_create_on(SILT_CUDA, 0);
    silt_tensor *xc = silt_tensor_create_f32(2, (const int64_t[]){2, 3}, false);
    CHECK(silt_gelu(g, xc, 1) == NULL);
    CHECK(silt_graph_status(g) == SILT_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(silt_last_error(), "gelu") && strstr(silt_last_error(), "cpu") && strstr(silt_last_error(), "cuda"),
              "got: %s", silt_last_error());
    silt_graph_free(g);
    // A CPU-only op on a CUDA graph fails instead of touching device memory
    // (the gate such ops call first; var_ce_loss, the last user, has a device
    // path now).
    g = silt_graph_create_on(SILT_CUDA, 0);
    silt_tensor *xd = silt_graph_upload(g, SILT_F32, 2, (const int64_t[]){2, 4}, xh);
    CHECK(silt_graph_check_f32(g, "cpu_only_op", xd) == SILT_ERR_UNSUPPORTED);
    CHECK(silt_graph_status(g) == SILT_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(silt_last_error(), "cpu_only_op") != NULL, "got: %s", silt_last_error());
    silt_graph_free(g);
    // Grads on a CUDA graph: an op without a device backward (DiT's fused
    // q/k/v split) fails with "backward on cuda not yet", and the chain ends
    // in NULL.
    g = silt_graph_create_on(SILT_CUDA, 0);
    xd = silt_graph_upload(g, SILT_F32, 3, (const int64_t[]){1, 2, 6}, xh);
    xd->requires_grad = true;
    silt_tensor *qkv[3] = {NULL, NULL, NULL};
    CHECK(dit_split_qkv(g, silt_gelu(g, xd, 1), 1, qkv) == SILT_ERR_UNSUPPORTED);
    silt_tensor *h = silt_silu(g, qkv[0]);
    CHECK(h == NULL && qkv[0] == NULL);
    CHECK(silt_graph_status(g) == SILT_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(silt_last_error(), "backward on cuda not yet") != NULL, "got: %s", silt_last_error());
    silt_graph_reset(g);
    // Ops with a device backward record nodes; silt_backward seeds on the device.
    xd = silt_graph_upload(g, SILT_F32, 1, (const int64_t[]){1}, xh);
    xd->requires_grad = true;
    CHECK(silt_backward(g, xd, NULL) == SILT_OK);
    float gh = 0;
    CHECK(xd->grad && silt_cuda_memcpy_d2h(&gh, xd->grad, sizeof gh) == SILT_OK && gh == 1.0f);
    silt_graph_free(g);
    silt_tensor_free(xc);
    dit_free(md);
}

int main(void) {
    GPU_TEST_START();
    silt_cuda_set_allow_tf32(false);
    twin_quiet = 1;  // compare() prints its own line per case
    dit_case(DIT_LAYOUT_ORIGINAL, 8, 8, "8x8", false, false);
    dit_case(DIT_LAYOUT_DIFFUSERS, 8, 8, "8x8", false, false);
    dit_case(DIT_LAYOUT_DIFFUSERS, 6, 10, "6x10", false, false);
    dit_case(DIT_LAYOUT_DIFFUSERS, 8, 8, "8x8", true, false);
    dit_case(DIT_LAYOUT_DIFFUSERS, 8, 8, "8x8", true, true);
    mmdit_case("mmdit_diffusers.model.safetensors");
    mmdit_case("mmdit_qknorm_diffusers.model.safetensors");
    mmdit_block_bf16_case("mmdit_diffusers.model.safetensors");
    mmdit_block_bf16_case("mmdit_qknorm_diffusers.model.safetensors");
    vae_case("vae_sd");
    vae_case("vae_sd3");
    test_errors();
    return check_summary();
}
