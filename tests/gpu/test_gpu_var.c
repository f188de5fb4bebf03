// VAR and its multi-scale VQ tokenizer on a CUDA graph (var_to_device /
// var_vq_to_device) against the same models on the CPU, on tiny random
// models (var_create / var_vq_create: a class VAR with l2 attention, a text
// VAR without, both with odd sizes: V 37, Cvae 5, 3 heads of 16, scales
// 1,2,3,5; a tokenizer with attention blocks and 3 partially shared phis) and
// the golden official-layout files when present (var_a: released layout,
// var_b: shared AdaLN, with var_vq):
//  - teacher-forced logits (var_forward / var_forward_text) and the
//    teacher-forcing input (var_vq_idx_to_var_input);
//  - KV-cached generation (var_generate / var_generate_text) with injected
//    tokens: every scale's CFG-combined logits, the tokens and the image;
//    then free-running with the same seed: the same tokens (the sampler is
//    the CPU's on both; see var.h for why a flip is possible in principle);
//  - the stepwise run of test-time search with var_run_select in between;
//  - VQ: encoder features, encode indices (equal), the per-scale f_hat of the
//    quantiser, decode images;
//  - vq_nearest_cuda against vq_nearest_cpu on odd shapes with exact ties
//    across warp lanes, C = 0, a constant codebook and NaN rows (same bits);
//  - the error paths of mixed devices.
// Tolerances (fp32, TF32 off): ||cuda - cpu|| / ||cpu|| < 1e-4 and every
// element within 1e-3 * (|ref| + rms(ref)); indices and tokens exactly.
// Exit 77 (SKIP) without a GPU or without cuDNN (the tokenizer's convs).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/graph.h"
#include "core/ops.h"
#include "core/ops_vq.h"
#include "cuda/cuda.h"
#include "gpu_test.h"
#include "twin_util.h"
#include "var/var.h"
#include "var/var_internal.h"
#include "var/vqvae.h"

#define REL_L2 1e-4
#define ELEM_TOL 1e-3
#define GOLDEN "tests/golden/"

static void compare(const char *what, const float *got, const float *ref, int64_t n) {
    twin_compare_rel_l2(what, got, ref, n, REL_L2, ELEM_TOL);
}

static void same_ints(const char *what, const int32_t *got, const int32_t *ref, int64_t n) {
    int64_t diff = 0, first = -1;
    for (int64_t i = 0; i < n; i++)
        if (got[i] != ref[i]) {
            if (first < 0) first = i;
            diff++;
        }
    if (!diff) printf("ok   %-58s %lld equal\n", what, (long long)n);
    CHECK_MSG(diff == 0, "%s: %lld of %lld differ, first at %lld (cuda %d, cpu %d)", what, (long long)diff,
              (long long)n, (long long)first, first >= 0 ? got[first] : 0, first >= 0 ? ref[first] : 0);
}

static float *fetch(const silt_tensor *t) { return twin_fetch(t); }

static silt_graph *graph_on(silt_device dev) {
    silt_graph *g = silt_graph_create_on(dev, (size_t)64 << 20);
    CHECK_MSG(g != NULL, "graph on %s: %s", silt_device_name(dev), silt_last_error());
    if (g) silt_graph_set_grad(g, false);
    return g;
}

// --- models --------------------------------------------------------------------------

// [0] on the cpu, [1] moved to cuda: two copies of the same weights.
typedef struct {
    const char *name;
    var_model *m[2];
    var_vqvae *vq[2];
} pair;

static var_vq_config tiny_vq_config(void) {
    var_vq_config c = {.vocab_size = 37, .z_channels = 5, .in_channels = 3, .ch = 8, .n_levels = 2, .ch_mult = {1, 2},
                       .num_res_blocks = 1, .groups = 4, .using_sa = true, .using_mid_sa = true, .quant_conv_ks = 3,
                       .quant_resi = 0.5f, .phi_share = VAR_PHI_PARTIAL, .n_phi = 3, .downsample = 2, .n_scales = 4,
                       .patch_nums = {1, 2, 3, 5}, .L = 39};
    return c;
}

static var_config tiny_var_config(bool text) {
    var_config c = {.depth = 2, .embed_dim = 48, .num_heads = 3, .mlp_hidden = 96, .num_classes = text ? 0 : 7,
                    .text_dim = text ? 12 : 0, .ctx_dim = text ? 20 : 0, .vocab_size = 37, .Cvae = 5,
                    .attn_l2_norm = !text, .norm_eps = 1e-6f, .n_scales = 4, .patch_nums = {1, 2, 3, 5}};
    return c;
}

static void pair_free(pair *p) {
    for (int d = 0; d < 2; d++) {
        var_free(p->m[d]);
        var_vq_free(p->vq[d]);
    }
}

static bool pair_move(pair *p) {
    silt_status a = var_to_device(p->m[1], SILT_CUDA), b = var_vq_to_device(p->vq[1], SILT_CUDA);
    CHECK_MSG(a == SILT_OK && b == SILT_OK, "%s: to cuda: %s", p->name, silt_last_error());
    CHECK(var_device(p->m[1]) == SILT_CUDA && var_vq_device(p->vq[1]) == SILT_CUDA);
    CHECK(var_device(p->m[0]) == SILT_CPU && var_vq_device(p->vq[0]) == SILT_CPU);
    return a == SILT_OK && b == SILT_OK;
}

// A random pair; gamma 1 (not the README's 1e-3) so the blocks' gates are
// not near zero and every block shapes the logits; block 0 head 0's
// attention scale above ln 100 when l2 attention is on, so the clamp matters.
static bool pair_random(pair *p, bool text) {
    p->name = text ? "random text VAR" : "random class VAR";
    var_config c = tiny_var_config(text);
    var_vq_config q = tiny_vq_config();
    for (int d = 0; d < 2; d++) {
        CHECK_OK(var_create(&c, 1.0f, 7, &p->m[d]));
        CHECK_OK(var_vq_create(&q, 9, &p->vq[d]));
        if (!p->m[d] || !p->vq[d]) return false;
        silt_tensor *sm = var_find_param(p->m[d], "blocks.0.attn.scale_mul_1H11");
        if (sm) silt_f32(sm)[0] = 5.0f;
    }
    return pair_move(p);
}

static bool pair_golden(pair *p, const char *name, const char *file) {
    p->name = name;
    if (access(GOLDEN "var_vq.model.safetensors", R_OK) != 0 || access(file, R_OK) != 0) {
        printf("note: %s missing: golden case skipped\n", file);
        return false;
    }
    for (int d = 0; d < 2; d++) {
        CHECK_OK(var_load_file(file, &p->m[d]));
        CHECK_OK(var_vq_load_file(GOLDEN "var_vq.model.safetensors", &p->vq[d]));
        if (!p->m[d] || !p->vq[d]) return false;
        const var_config *c = var_get_config(p->m[d]);
        CHECK_OK(var_vq_set_patch_nums(p->vq[d], c->patch_nums, c->n_scales));
    }
    return pair_move(p);
}

// Deterministic pseudo-random ints in [0, n).
static int32_t pick(uint64_t *s, int32_t n) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (int32_t)((*s >> 33) % (uint64_t)n);
}

typedef struct {
    float *pooled, *tokens, *null_pooled, *null_tokens;
    int64_t T;
} text_in;

static void text_make(text_in *t, const var_config *c, int64_t B) {
    t->T = 5;
    t->pooled = twin_host(B * c->text_dim);
    t->tokens = twin_host(B * t->T * c->ctx_dim);
    t->null_pooled = twin_host(c->text_dim);
    t->null_tokens = twin_host(t->T * c->ctx_dim);
    test_fill(t->pooled, B * c->text_dim, -1, 1);
    test_fill(t->tokens, B * t->T * c->ctx_dim, -1, 1);
    test_fill(t->null_pooled, c->text_dim, -1, 1);
    test_fill(t->null_tokens, t->T * c->ctx_dim, -1, 1);
}

static void text_free(text_in *t) {
    free(t->pooled);
    free(t->tokens);
    free(t->null_pooled);
    free(t->null_tokens);
}

// --- teacher forcing -------------------------------------------------------------------

static void test_forward(pair *p) {
    const var_config *c = var_get_config(p->m[0]);
    const int64_t B = 3, L = c->L, V = c->vocab_size;
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)(B * L)), labels[3] = {0, 0, 0};
    uint64_t s = 11;
    for (int64_t i = 0; i < B * L; i++) idx[i] = pick(&s, (int32_t)V);
    if (!c->text_dim) labels[0] = 1, labels[1] = c->num_classes - 1, labels[2] = c->num_classes;  // the null class too
    text_in ti = {0};
    if (c->text_dim) text_make(&ti, c, B);
    silt_graph *g[2] = {graph_on(SILT_CPU), graph_on(SILT_CUDA)};
    float *x[2] = {0}, *lg[2] = {0};
    for (int d = 0; d < 2 && g[0] && g[1]; d++) {
        silt_tensor *xin = var_vq_idx_to_var_input(g[d], p->vq[d], idx, B), *out;
        x[d] = fetch(xin);
        if (c->text_dim) {
            silt_tensor *pooled = silt_graph_upload(g[d], SILT_F32, 2, (int64_t[]){B, c->text_dim}, ti.pooled);
            silt_tensor *tok = silt_graph_upload(g[d], SILT_F32, 3, (int64_t[]){B, ti.T, c->ctx_dim}, ti.tokens);
            out = var_forward_text(g[d], p->m[d], pooled, tok, xin);
        } else {
            out = var_forward(g[d], p->m[d], labels, B, xin);
        }
        CHECK_MSG(out != NULL, "%s: forward on %s: %s", p->name, d ? "cuda" : "cpu", silt_last_error());
        lg[d] = fetch(out);
    }
    char what[128];
    snprintf(what, sizeof what, "%s: teacher-forcing input", p->name);
    compare(what, x[1], x[0], B * (L - c->first_l) * c->Cvae);
    snprintf(what, sizeof what, "%s: teacher-forced logits", p->name);
    compare(what, lg[1], lg[0], B * L * V);
    for (int d = 0; d < 2; d++) {
        free(x[d]);
        free(lg[d]);
        silt_graph_free(g[d]);
    }
    text_free(&ti);
    free(idx);
}

// --- KV-cached generation ----------------------------------------------------------------

// Records every scale's combined logits and, when inject is set, replaces the
// sampler's draw by fixed tokens (the same on both devices).
typedef struct {
    float *logits;   // sum over scales of B l V
    int64_t filled;
    bool inject;
    uint64_t state;
} recorder;

static silt_status record_fn(void *user, int si, int64_t B, int64_t l, int64_t V, const float *logits, int32_t *idx) {
    (void)si;
    recorder *r = user;
    memcpy(r->logits + r->filled, logits, sizeof(float) * (size_t)(B * l * V));
    r->filled += B * l * V;
    if (r->inject)
        for (int64_t j = 0; j < B * l; j++) idx[j] = pick(&r->state, (int32_t)V);
    return SILT_OK;
}

static void test_generate(pair *p, bool inject, float cfg) {
    const var_config *c = var_get_config(p->m[0]);
    const var_vq_config *q = var_vq_get_config(p->vq[0]);
    const int64_t B = 2, L = c->L, V = c->vocab_size, side = (int64_t)c->patch_nums[c->n_scales - 1] * q->downsample;
    const int64_t npix = B * 3 * side * side;
    int32_t labels[2] = {2, c->num_classes};  // a class and the unconditional one
    text_in ti = {0};
    if (c->text_dim) text_make(&ti, c, B);
    var_text_cond tc = {ti.pooled, ti.tokens, ti.null_pooled, ti.null_tokens, ti.T};
    float *img[2], *rec[2];
    int32_t *tok[2];
    silt_status st[2];
    for (int d = 0; d < 2; d++) {
        img[d] = twin_host(npix);
        rec[d] = twin_host(B * L * V);
        tok[d] = calloc((size_t)(B * L), sizeof(int32_t));
        recorder r = {rec[d], 0, inject, 5};
        var_sample_params sp = var_sample_default_params();
        sp.cfg = cfg;
        sp.top_k = 9;
        sp.top_p = 0.9f;
        sp.seed = 3;
        sp.token_fn = record_fn;
        sp.token_user = &r;
        st[d] = c->text_dim ? var_generate_text(p->m[d], p->vq[d], &tc, B, &sp, img[d], tok[d])
                            : var_generate(p->m[d], p->vq[d], labels, B, &sp, img[d], tok[d]);
        CHECK_MSG(st[d] == SILT_OK, "%s: generate on %s: %s", p->name, d ? "cuda" : "cpu", silt_last_error());
    }
    if (st[0] == SILT_OK && st[1] == SILT_OK) {
        char what[160];
        const char *mode = inject ? "injected tokens" : "sampled";
        snprintf(what, sizeof what, "%s: %s, cfg %g: tokens", p->name, mode, (double)cfg);
        same_ints(what, tok[1], tok[0], B * L);
        snprintf(what, sizeof what, "%s: %s, cfg %g: logits of every scale", p->name, mode, (double)cfg);
        compare(what, rec[1], rec[0], B * L * V);
        snprintf(what, sizeof what, "%s: %s, cfg %g: image", p->name, mode, (double)cfg);
        compare(what, img[1], img[0], npix);
    }
    for (int d = 0; d < 2; d++) {
        free(img[d]);
        free(rec[d]);
        free(tok[d]);
    }
    text_free(&ti);
}

// The search's stepwise run: two scales, a selection with a repeat, the
// rest, then the decode; tokens and image must agree.
static void test_run_select(pair *p) {
    const var_config *c = var_get_config(p->m[0]);
    const var_vq_config *q = var_vq_get_config(p->vq[0]);
    const int64_t B = 3, side = (int64_t)c->patch_nums[c->n_scales - 1] * q->downsample;
    text_in ti = {0};
    text_make(&ti, c, B);
    var_text_cond tc = {ti.pooled, ti.tokens, ti.null_pooled, ti.null_tokens, ti.T};
    var_sample_params sp = var_sample_default_params();
    sp.top_k = 7;
    sp.seed = 21;
    const uint64_t streams[3] = {4, 9, 2};
    const int64_t from[3] = {2, 0, 2};
    float *img[2];
    int32_t *tok[2];
    for (int d = 0; d < 2; d++) {
        img[d] = twin_host(B * 3 * side * side);
        tok[d] = calloc((size_t)(B * c->L), sizeof(int32_t));
        var_run *r = NULL;
        silt_status s = var_run_create_text(p->m[d], p->vq[d], &tc, B, sp.cfg, &r);
        for (int k = 0; s == SILT_OK && k < 2; k++) s = var_run_step(r, &sp, streams);
        if (s == SILT_OK) s = var_run_select(r, from, 3);
        while (s == SILT_OK && var_run_next_scale(r) < c->n_scales) s = var_run_step(r, &sp, streams);
        if (s == SILT_OK) s = var_run_decode(r, img[d]);
        if (s == SILT_OK) memcpy(tok[d], var_run_tokens(r), sizeof(int32_t) * (size_t)(B * c->L));
        CHECK_MSG(s == SILT_OK, "%s: stepwise run on %s: %s", p->name, d ? "cuda" : "cpu", silt_last_error());
        var_run_free(r);
    }
    char what[128];
    snprintf(what, sizeof what, "%s: run + select: tokens", p->name);
    same_ints(what, tok[1], tok[0], B * c->L);
    snprintf(what, sizeof what, "%s: run + select: image", p->name);
    compare(what, img[1], img[0], B * 3 * side * side);
    for (int d = 0; d < 2; d++) {
        free(img[d]);
        free(tok[d]);
    }
    text_free(&ti);
}

// --- the tokenizer ------------------------------------------------------------------------

static void test_vq(pair *p) {
    const var_vq_config *q = var_vq_get_config(p->vq[0]);
    const int64_t B = 2, H = q->patch_nums[q->n_scales - 1], side = H * q->downsample, L = q->L, C = q->z_channels;
    const int64_t npix = B * 3 * side * side, nf = B * C * H * H;
    float *img = twin_host(npix);
    test_seed(17);
    test_fill(img, npix, -1, 1);
    silt_graph *g[2] = {graph_on(SILT_CPU), graph_on(SILT_CUDA)};
    float *feat[2] = {0}, *fh[2] = {0}, *dec[2] = {0};
    int32_t *idx[2], *qidx[2];
    for (int d = 0; d < 2; d++) {
        idx[d] = calloc((size_t)(B * L), sizeof(int32_t));
        qidx[d] = calloc((size_t)(B * L), sizeof(int32_t));
        fh[d] = twin_host(q->n_scales * nf);
    }
    for (int d = 0; d < 2 && g[0] && g[1]; d++) {
        silt_tensor *x = silt_graph_upload(g[d], SILT_F32, 4, (int64_t[]){B, 3, side, side}, img);
        silt_tensor *f = var_vq_encode_features(g[d], p->vq[d], x);
        feat[d] = fetch(f);
        CHECK_OK(var_vq_encode(g[d], p->vq[d], x, idx[d]));
        // The quantiser alone on the same features (the CPU's, uploaded), so
        // the indices cannot differ through the encoder's rounding.
        silt_tensor *f0 = feat[0] ? silt_graph_upload(g[d], SILT_F32, 4, (int64_t[]){B, C, H, H}, feat[0]) : NULL;
        CHECK_OK(var_vq_quantize(g[d], p->vq[d], f0, qidx[d], fh[d]));
        dec[d] = fetch(var_vq_decode(g[d], p->vq[d], idx[0], B));  // the CPU's indices on both
    }
    char what[128];
    snprintf(what, sizeof what, "%s tokenizer: encoder features", p->name);
    compare(what, feat[1], feat[0], nf);
    snprintf(what, sizeof what, "%s tokenizer: encode indices", p->name);
    same_ints(what, idx[1], idx[0], B * L);
    snprintf(what, sizeof what, "%s tokenizer: quantize indices", p->name);
    same_ints(what, qidx[1], qidx[0], B * L);
    snprintf(what, sizeof what, "%s tokenizer: f_hat after every scale", p->name);
    compare(what, fh[1], fh[0], q->n_scales * nf);
    snprintf(what, sizeof what, "%s tokenizer: decode", p->name);
    compare(what, dec[1], dec[0], npix);
    for (int d = 0; d < 2; d++) {
        free(feat[d]);
        free(fh[d]);
        free(dec[d]);
        free(idx[d]);
        free(qidx[d]);
        silt_graph_free(g[d]);
    }
    free(img);
}

// --- the codebook search kernel -----------------------------------------------------------

// vq_nearest_cuda vs vq_nearest_cpu, same bits. dup: entries 1, 2 and 33 copy
// entry 0 (ties inside a lane's stride and across lanes: the lowest wins);
// exact: every 3rd row is a codebook entry (a zero distance, tied when dup);
// nan_row: row 1 is NaN (every distance NaN: index 0 on both).
static void nearest_case(int64_t N, int64_t V, int64_t C, bool dup, bool constant, bool nan_row) {
    float *z = twin_host(N * C), *cb = twin_host(V * C);
    int32_t *ref = calloc((size_t)N + 1, sizeof(int32_t)), *got = calloc((size_t)N + 1, sizeof(int32_t));
    test_fill(cb, V * C, -1, 1);
    test_fill(z, N * C, -1, 1);
    if (constant)
        for (int64_t i = 0; i < V * C; i++) cb[i] = 0.25f;
    if (dup)
        for (int64_t j = 1; j < V; j++)
            if (j == 1 || j == 2 || j == 33)
                for (int64_t c = 0; c < C; c++) cb[j * C + c] = cb[c];
    for (int64_t i = 0; i < N; i += 3)
        for (int64_t c = 0; c < C; c++) z[i * C + c] = cb[((i / 3) % V) * C + c];
    if (nan_row && N > 1)
        for (int64_t c = 0; c < C; c++) z[C + c] = NAN;
    vq_nearest_cpu(ref, z, cb, N, V, C);
    void *dz = twin_upload(z, sizeof(float) * (size_t)(N * C)), *dcb = twin_upload(cb, sizeof(float) * (size_t)(V * C));
    void *didx = twin_upload(NULL, sizeof(int32_t) * (size_t)N);
    if (dz && dcb && didx) {
        CHECK_OK(silt_cuda_memset(didx, 0xff, sizeof(int32_t) * (size_t)(N > 0 ? N : 1)));  // -1: unwritten shows
        CHECK_OK(vq_nearest_cuda(didx, dz, dcb, N, V, C));
        char what[128];
        snprintf(what, sizeof what, "vq_nearest N %lld V %lld C %lld%s%s%s", (long long)N, (long long)V, (long long)C,
                 dup ? " dup" : "", constant ? " constant" : "", nan_row ? " nan" : "");
        if (twin_download(got, didx, sizeof(int32_t) * (size_t)N)) same_ints(what, got, ref, N);
    }
    silt_cuda_free(dz);
    silt_cuda_free(dcb);
    silt_cuda_free(didx);
    free(z);
    free(cb);
    free(ref);
    free(got);
}

static void test_nearest(void) {
    test_seed(29);
    nearest_case(1, 1, 1, false, false, false);
    nearest_case(7, 3, 5, false, false, true);
    nearest_case(37, 65, 3, true, false, false);
    nearest_case(33, 40, 7, true, false, true);
    nearest_case(5, 40, 0, false, false, false);  // C = 0: every distance 0, index 0
    nearest_case(9, 70, 4, false, true, false);   // a constant codebook: every entry ties
    nearest_case(1001, 512, 16, true, false, false);
    nearest_case(257, 4096, 32, false, false, false);  // the released codebook's size
}

// --- errors ----------------------------------------------------------------------------

static void test_errors(pair *p) {
    silt_graph *gc = graph_on(SILT_CPU);
    if (!gc) return;
    const var_config *c = var_get_config(p->m[1]);
    int32_t label = 0;
    silt_tensor *x = silt_graph_new(gc, 1, c->L - c->first_l, c->Cvae, 0);
    memset(x->data, 0, silt_nbytes(x));
    CHECK(var_forward(gc, p->m[1], &label, 1, x) == NULL);
    CHECK(silt_graph_status(gc) == SILT_ERR_UNSUPPORTED);
    silt_graph_reset(gc);
    int32_t idx[64] = {0};
    CHECK(var_vq_decode(gc, p->vq[1], idx, 1) == NULL && silt_graph_status(gc) == SILT_ERR_UNSUPPORTED);
    silt_graph_free(gc);
    float img[3 * 10 * 10];
    var_sample_params sp = var_sample_default_params();
    CHECK(var_generate(p->m[1], p->vq[0], &label, 1, &sp, img, NULL) == SILT_ERR_ARG);  // mixed devices
    CHECK(var_save(p->m[1], "/tmp/silt_test_gpu_var_never.safetensors") == SILT_ERR_UNSUPPORTED);
    CHECK(var_vq_save(p->vq[1], "/tmp/silt_test_gpu_var_never.safetensors") == SILT_ERR_UNSUPPORTED);
    CHECK(access("/tmp/silt_test_gpu_var_never.safetensors", F_OK) != 0);
    CHECK(var_to_device(p->m[1], SILT_CPU) == SILT_ERR_UNSUPPORTED);
    CHECK(var_vq_to_device(p->vq[1], SILT_CPU) == SILT_ERR_UNSUPPORTED);
    CHECK_OK(var_to_device(p->m[1], SILT_CUDA));  // already there: a no-op
    CHECK(var_device(p->m[1]) == SILT_CUDA);
}

int main(void) {
    GPU_TEST_START();
    if (!silt_cuda_have_cudnn()) {
        printf("SKIP: no cuDNN (%s): the tokenizer's convs need it\n", silt_last_error());
        return 77;
    }
    silt_cuda_set_allow_tf32(false);
    test_nearest();

    pair cls = {0}, txt = {0};
    if (pair_random(&cls, false)) {
        test_forward(&cls);
        test_generate(&cls, true, 1.5f);
        test_generate(&cls, true, 0.0f);
        test_generate(&cls, false, 1.5f);
        test_vq(&cls);
        test_errors(&cls);
    }
    pair_free(&cls);
    if (pair_random(&txt, true)) {
        test_forward(&txt);
        test_generate(&txt, true, 2.0f);
        test_generate(&txt, false, 2.0f);
        test_run_select(&txt);
    }
    pair_free(&txt);

    const char *gold[2][2] = {{"golden var_a", GOLDEN "var_a.model.safetensors"},
                              {"golden var_b", GOLDEN "var_b.model.safetensors"}};
    for (int i = 0; i < 2; i++) {
        pair p = {0};
        if (pair_golden(&p, gold[i][0], gold[i][1])) {
            test_forward(&p);
            test_generate(&p, true, 1.5f);
            test_generate(&p, false, 4.0f);
            if (i == 0) test_vq(&p);
        }
        pair_free(&p);
    }
    return check_summary();
}
