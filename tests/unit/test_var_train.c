// Training pieces of var/: VQ-VAE and VAR creation, save/load round trips
// (plain files and trainer checkpoints, EMA preferred), the VQ training loss
// (forward value and straight-through gradients against finite differences
// of a surrogate whose stop-gradients are constants), a reconstruction that
// falls on a fixed batch, the text-conditioned VAR's loss gradients against
// finite differences, its cross-entropy against a naive double reference,
// and KV-cached text sampling (with and without CFG) against teacher-forced
// passes on the sampled tokens.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/ops.h"
#include "core/optim.h"
#include "core/safetensors.h"
#include "gradcheck.h"
#include "var/var.h"
#include "var/vqvae.h"
#include "var/vqvae_internal.h"
#include "world/render.h"
#include "world/suites.h"

static char tmpdir[64];

static var_vq_config tiny_vq_config(void) {
    var_vq_config c = {.vocab_size = 16, .z_channels = 4, .in_channels = 3, .ch = 8, .n_levels = 2, .ch_mult = {1, 2},
                       .num_res_blocks = 1, .groups = 4, .using_sa = false, .using_mid_sa = true, .quant_conv_ks = 3,
                       .quant_resi = 0.5f, .phi_share = VAR_PHI_PARTIAL, .n_phi = 2, .downsample = 2, .n_scales = 3,
                       .patch_nums = {1, 2, 4}, .L = 21};
    return c;
}

// World renders (32 px, box-averaged down to `size`) in [-1, 1]: (B, 3, size, size).
static void world_batch(float *img, int B, int size, uint64_t seed) {
    float full[3 * 32 * 32];
    int f = 32 / size;
    for (int b = 0; b < B; b++) {
        world_item it;
        CHECK_OK(world_suite_item(WORLD_SUITE_TRAIN, seed, b, &it));
        CHECK_OK(world_render(&it.scene, 32, full, NULL, NULL));
        float *x = img + (size_t)b * 3 * size * size;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < size; y++)
                for (int xx = 0; xx < size; xx++) {
                    double s = 0;
                    for (int dy = 0; dy < f; dy++)
                        for (int dx = 0; dx < f; dx++) s += full[(c * 32 + y * f + dy) * 32 + xx * f + dx];
                    x[(c * size + y) * size + xx] = (float)(2 * s / (f * f) - 1);
                }
    }
}

static int same_params_vq(const var_vqvae *a, const var_vqvae *b) {
    if (var_vq_param_count(a) != var_vq_param_count(b)) return 0;
    for (int i = 0; i < var_vq_param_count(a); i++) {
        const char *na, *nb;
        silt_tensor *ta = var_vq_param(a, i, &na), *tb = var_vq_param(b, i, &nb);
        if (strcmp(na, nb) || silt_numel(ta) != silt_numel(tb) || memcmp(ta->data, tb->data, silt_nbytes(ta))) return 0;
    }
    return 1;
}

// A trainer-style checkpoint of params (name -> t): raw values, "ema."
// copies (values + 1 when ema), adam moments, the trainer's metadata.
typedef silt_tensor *(*param_fn)(const void *m, int i, const char **name);
static void write_train_ckpt(const char *path, const void *m, int n, param_fn pf, int ema) {
    silt_st_writer *w = silt_st_writer_create();
    CHECK_OK(silt_st_writer_set_metadata(w, "format", "silt-train-checkpoint"));
    float **bufs = calloc((size_t)n, sizeof *bufs);
    char name[300];
    for (int i = 0; i < n; i++) {
        const char *nm;
        silt_tensor *t = pf(m, i, &nm);
        CHECK_OK(silt_st_writer_add(w, nm, SILT_ST_F32, t->ndim, t->shape, t->data));
        bufs[i] = malloc(silt_nbytes(t));
        for (int64_t j = 0; j < silt_numel(t); j++) bufs[i][j] = silt_f32(t)[j] + 1.0f;
        if (ema) {
            snprintf(name, sizeof name, "ema.%s", nm);
            CHECK_OK(silt_st_writer_add(w, name, SILT_ST_F32, t->ndim, t->shape, bufs[i]));
        }
        snprintf(name, sizeof name, "adam_m.%s", nm);
        CHECK_OK(silt_st_writer_add(w, name, SILT_ST_F32, t->ndim, t->shape, t->data));
        snprintf(name, sizeof name, "adam_v.%s", nm);
        CHECK_OK(silt_st_writer_add(w, name, SILT_ST_F32, t->ndim, t->shape, t->data));
    }
    CHECK_OK(silt_st_writer_write(w, path));
    silt_st_writer_free(w);
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
}

static silt_tensor *vq_pf(const void *m, int i, const char **name) { return var_vq_param(m, i, name); }
static silt_tensor *var_pf(const void *m, int i, const char **name) { return var_param(m, i, name); }

static void test_vq_create_save_load(void) {
    var_vq_config c = var_vq_world_config();
    CHECK_OK(var_vq_config_check(&c));
    var_vqvae *vq = NULL, *back = NULL;
    CHECK_OK(var_vq_create(&c, 7, &vq));
    if (!vq) return;
    for (int i = 0; i < var_vq_param_count(vq); i++) CHECK(var_vq_param(vq, i, NULL)->requires_grad);
    char path[128];
    snprintf(path, sizeof path, "%s/vq.safetensors", tmpdir);
    CHECK_OK(var_vq_save(vq, path));
    CHECK_OK(var_vq_load_file(path, &back));
    if (back) {
        const var_vq_config *b = var_vq_get_config(back);
        CHECK(b->groups == c.groups && b->n_scales == 6 && b->patch_nums[5] == 8 && b->L == 130 && b->n_phi == 4 &&
              b->vocab_size == 512 && b->downsample == 4 && !b->using_mid_sa);
        CHECK(same_params_vq(vq, back));
    }
    var_vq_free(back);
    back = NULL;
    // Trainer checkpoints: EMA preferred, raw weights without it; the world settings apply.
    snprintf(path, sizeof path, "%s/vq_ckpt.safetensors", tmpdir);
    write_train_ckpt(path, vq, var_vq_param_count(vq), vq_pf, 1);
    CHECK_OK(var_vq_load_file(path, &back));
    if (back) {
        silt_tensor *e = var_vq_find_param(back, "quantize.embedding.weight"), *r = var_vq_find_param(vq, "quantize.embedding.weight");
        CHECK(silt_f32(e)[3] == silt_f32(r)[3] + 1.0f);
        CHECK(var_vq_get_config(back)->groups == 8 && var_vq_get_config(back)->L == 130);
    }
    var_vq_free(back);
    back = NULL;
    write_train_ckpt(path, vq, var_vq_param_count(vq), vq_pf, 0);
    CHECK_OK(var_vq_load_file(path, &back));
    if (back) CHECK(same_params_vq(vq, back));
    var_vq_free(back);
    // Init statistics: the codebook is N(0, 1); a conv weight U(+-1/sqrt(fan_in)).
    silt_tensor *e = var_vq_find_param(vq, "quantize.embedding.weight"), *w = var_vq_find_param(vq, "encoder.conv_in.weight");
    double s2 = 0, mx = 0;
    for (int64_t i = 0; i < silt_numel(e); i++) s2 += (double)silt_f32(e)[i] * silt_f32(e)[i];
    for (int64_t i = 0; i < silt_numel(w); i++) mx = fmax(mx, fabs(silt_f32(w)[i]));
    CHECK_MSG(fabs(s2 / silt_numel(e) - 1) < 0.05, "codebook variance %g", s2 / silt_numel(e));
    CHECK_MSG(mx <= 1 / sqrt(27.0) && mx > 0.9 / sqrt(27.0), "conv_in bound %g", mx);
    var_vq_free(vq);
    var_vq_config bad = c;
    bad.groups = 5;
    CHECK(var_vq_config_check(&bad) == SILT_ERR_ARG);
}

// --- VQ loss: value and straight-through gradients -------------------------------------

typedef struct vq_ref {
    var_vqvae *vq;
    silt_tensor *img;
    float beta;
    int32_t *idx0;   // (B, L) indices at theta_0
    float *fhat0;    // (K, B, C, h, w) running f_hat at theta_0
    float *f0;       // (B, C, h, w)
} vq_ref;

// The surrogate: every stop-gradient of the loss replaced by its value at
// theta_0, so its true gradient is the loss's intended (straight-through) one:
//   mse(dec(f(theta) + (fhat0_K - f0)), img)
//   + (1/K) sum_k [beta mse(fhat0_k, f(theta)) + mse(F_k(theta; idx0), f0)]
// with F_k the running sum of phi_j(bicubic(e[idx0_j])) over j <= k.
static double surrogate(vq_ref *r) {
    silt_graph *g = silt_graph_create(0);
    silt_graph_set_grad(g, false);
    const var_vq_config *c = var_vq_get_config(r->vq);
    int K = c->n_scales, H = c->patch_nums[K - 1];
    silt_tensor *f = var_vq_encode_features(g, r->vq, r->img);
    int64_t B = f->shape[0], n = silt_numel(f);
    silt_tensor *d = silt_graph_new(g, B, c->z_channels, H, H), *f0 = silt_graph_new(g, B, c->z_channels, H, H);
    for (int64_t i = 0; i < n; i++) {
        silt_f32(d)[i] = r->fhat0[(K - 1) * n + i] - r->f0[i];
        silt_f32(f0)[i] = r->f0[i];
    }
    double loss = silt_f32(silt_mse_loss(g, var_vq_fhat_to_img(g, r->vq, silt_add(g, f, d), false), r->img))[0];
    silt_tensor *F = NULL;
    int64_t begin = 0;
    double vq = 0;
    for (int k = 0; k < K; k++) {
        int pn = c->patch_nums[k];
        int32_t *ik = malloc((size_t)(B * pn * pn) * sizeof *ik);
        for (int64_t b = 0; b < B; b++) memcpy(ik + b * pn * pn, r->idx0 + b * c->L + begin, (size_t)(pn * pn) * sizeof *ik);
        silt_tensor *h = var_vq_embed(g, r->vq, ik, B, pn);
        free(ik);
        if (k != K - 1) h = silt_upsample_bicubic(g, h, H, H);
        h = var_vq_phi(g, r->vq, k, h);
        F = F ? silt_add(g, F, h) : h;
        silt_tensor *fk = silt_graph_new(g, B, c->z_channels, H, H);
        memcpy(fk->data, r->fhat0 + k * n, (size_t)n * sizeof(float));
        vq += r->beta * (double)silt_f32(silt_mse_loss(g, fk, f))[0] + (double)silt_f32(silt_mse_loss(g, F, f0))[0];
        begin += pn * pn;
    }
    loss += vq / K;
    CHECK_OK(silt_graph_status(g));
    silt_graph_free(g);
    return loss;
}

static void test_vq_loss_grad(void) {
    var_vq_config c = tiny_vq_config();
    var_vqvae *vq = NULL;
    CHECK_OK(var_vq_create(&c, 3, &vq));
    if (!vq) return;
    // Spread the codebook over the feature range so several codes get used.
    silt_tensor *E = var_vq_find_param(vq, "quantize.embedding.weight");
    for (int64_t i = 0; i < silt_numel(E); i++) silt_f32(E)[i] *= 0.3f;
    int B = 2, S = 8;
    silt_tensor *img = silt_tensor_create_f32(4, (int64_t[]){B, 3, S, S}, false);
    world_batch(silt_f32(img), B, S, 11);
    vq_ref r = {.vq = vq, .img = img, .beta = 0.25f};
    int64_t n = (int64_t)B * c.z_channels * 4 * 4;
    r.idx0 = malloc((size_t)(B * c.L) * sizeof *r.idx0);
    r.fhat0 = malloc((size_t)(c.n_scales * n) * sizeof *r.fhat0);
    r.f0 = malloc((size_t)n * sizeof *r.f0);
    silt_graph *g = silt_graph_create(0);
    silt_graph_set_grad(g, false);
    silt_tensor *f = var_vq_encode_features(g, vq, img);
    memcpy(r.f0, f->data, (size_t)n * sizeof(float));
    CHECK_OK(var_vq_quantize(g, vq, f, r.idx0, r.fhat0));
    // The library's loss and gradients at theta_0.
    silt_graph_reset(g);
    silt_graph_set_grad(g, true);
    for (int i = 0; i < var_vq_param_count(vq); i++) silt_tensor_zero_grad(var_vq_param(vq, i, NULL));
    var_vq_loss_stats st;
    silt_tensor *loss = var_vq_train_loss(g, vq, img, r.beta, &st);
    CHECK_OK(silt_graph_status(g));
    if (!loss) return;
    CHECK_OK(silt_backward(g, loss, NULL));
    double l0 = silt_f32(loss)[0], ls = surrogate(&r);
    CHECK_MSG(fabs(l0 - ls) <= 1e-5 * fabs(ls), "vq loss %.8g vs surrogate %.8g", l0, ls);
    CHECK_MSG(fabs(st.rec + st.vq - l0) < 1e-5 * l0 && st.codes_used >= 2, "stats rec %g vq %g used %d", st.rec, st.vq,
              st.codes_used);
    const char *names[] = {"encoder.conv_in.weight", "encoder.down.1.block.0.conv2.weight", "encoder.mid.attn_1.qkv.weight",
                           "quant_conv.bias", "quantize.embedding.weight", "quantize.quant_resi.qresi_ls.0.weight",
                           "quantize.quant_resi.qresi_ls.1.bias", "post_quant_conv.weight", "decoder.up.1.block.1.conv1.weight",
                           "decoder.conv_out.weight", "decoder.norm_out.weight"};
    // h = 1e-2: the surrogate is an f32 graph (loss ~0.5, rounding ~5e-8), so
    // the difference quotient's noise is ~5e-6; the nets are smooth enough
    // that the O(h^2) truncation stays below that.
    double h = 1e-2;
    for (size_t pi = 0; pi < sizeof names / sizeof *names; pi++) {
        silt_tensor *p = var_vq_find_param(vq, names[pi]);
        CHECK_MSG(p != NULL, "no parameter %s", names[pi]);
        if (!p) continue;
        int64_t np = silt_numel(p), step = np > 12 ? np / 12 : 1;
        double worst = 0, maxn = 0, wa = 0, wn = 0;
        for (int64_t j = 0; j < np; j += step) {
            float *x = silt_f32(p) + j, saved = *x;
            *x = saved + (float)h;
            double lp = surrogate(&r);
            *x = saved - (float)h;
            double lm = surrogate(&r);
            *x = saved;
            double num = (lp - lm) / (2 * h), a = p->grad[j];
            maxn = fmax(maxn, fabs(num));
            if (fabs(a - num) >= worst) { worst = fabs(a - num); wa = a; wn = num; }
        }
        CHECK_MSG(maxn > 1e-4, "%s: gradient vanishes (max |fd| %g)", names[pi], maxn);
        CHECK_MSG(worst <= 2e-2 * maxn + 5e-6, "%s: straight-through grad off: analytic %.6g vs fd %.6g (max |fd| %.3g)",
                  names[pi], wa, wn, maxn);
    }
    silt_graph_free(g);
    free(r.idx0);
    free(r.fhat0);
    free(r.f0);
    silt_tensor_free(img);
    var_vq_free(vq);
}

// Adam on one fixed batch: the reconstruction error falls.
static void test_vq_recon_falls(void) {
    var_vq_config c = tiny_vq_config();
    var_vqvae *vq = NULL;
    CHECK_OK(var_vq_create(&c, 5, &vq));
    if (!vq) return;
    int B = 4, S = 8, n = var_vq_param_count(vq);
    silt_tensor *img = silt_tensor_create_f32(4, (int64_t[]){B, 3, S, S}, false);
    world_batch(silt_f32(img), B, S, 21);
    silt_tensor **ps = malloc((size_t)n * sizeof *ps);
    bool *nd = malloc((size_t)n * sizeof *nd);
    for (int i = 0; i < n; i++) {
        const char *nm;
        ps[i] = var_vq_param(vq, i, &nm);
        nd[i] = var_vq_param_no_decay(nm, ps[i]);
    }
    silt_adamw_params ap = silt_adamw_default_params();
    ap.weight_decay = 0;
    silt_adamw *opt = silt_adamw_create(ps, nd, n, ap);
    silt_graph *g = silt_graph_create(0);
    double first = 0, last = 0;
    for (int it = 0; it < 60; it++) {
        silt_graph_reset(g);
        for (int i = 0; i < n; i++) silt_tensor_zero_grad(ps[i]);
        var_vq_loss_stats st;
        silt_tensor *loss = var_vq_train_loss(g, vq, img, 0.25f, &st);
        if (!loss || silt_backward(g, loss, NULL) != SILT_OK) { CHECK_OK(silt_graph_status(g)); break; }
        CHECK_OK(silt_adamw_step(opt, 3e-3f));
        if (it == 0) first = st.rec;
        last = st.rec;
    }
    CHECK_MSG(last < 0.5 * first, "reconstruction mse %g -> %g did not halve in 60 steps", first, last);
    silt_graph_free(g);
    silt_adamw_free(opt);
    free(ps);
    free(nd);
    silt_tensor_free(img);
    var_vq_free(vq);
}

// Dead-code restarts: codes no lookup used are moved onto the batch's lookup
// vectors, so more codes are used afterwards; a repeat with the same seed
// gives the same codebook.
static void test_vq_restart(void) {
    var_vq_config c = tiny_vq_config();
    c.vocab_size = 64;
    var_vqvae *a = NULL, *b = NULL;
    CHECK_OK(var_vq_create(&c, 8, &a));
    CHECK_OK(var_vq_create(&c, 8, &b));
    if (!a || !b) return;
    int B = 4, S = 8;
    silt_tensor *img = silt_tensor_create_f32(4, (int64_t[]){B, 3, S, S}, false);
    world_batch(silt_f32(img), B, S, 31);
    silt_graph *g = silt_graph_create(0);
    var_vq_loss_stats before, after;
    silt_graph_set_grad(g, false);
    CHECK(var_vq_train_loss(g, a, img, 0.25f, &before) != NULL);
    int n = 0, n2 = 0;
    CHECK_OK(var_vq_restart_dead_codes(a, img, 99, &n));
    CHECK_OK(var_vq_restart_dead_codes(b, img, 99, &n2));
    silt_graph_reset(g);
    CHECK(var_vq_train_loss(g, a, img, 0.25f, &after) != NULL);
    CHECK_MSG(n == 64 - before.codes_used && n > 0, "restarted %d, %d of 64 were used", n, before.codes_used);
    CHECK_MSG(after.codes_used > before.codes_used, "codes used %d -> %d after restarts", before.codes_used,
              after.codes_used);
    CHECK(n == n2 && same_params_vq(a, b));
    silt_graph_free(g);
    silt_tensor_free(img);
    var_vq_free(a);
    var_vq_free(b);
}

// --- text-conditioned VAR ---------------------------------------------------------------

static var_config tiny_var_config(void) {
    var_config c = {.depth = 2, .embed_dim = 16, .num_heads = 2, .mlp_hidden = 24, .text_dim = 6, .ctx_dim = 5,
                    .vocab_size = 16, .Cvae = 4, .attn_l2_norm = true, .norm_eps = 1e-6f, .n_scales = 3,
                    .patch_nums = {1, 2, 4}};
    return c;
}

// All parameters ~ U(-a, a) (so gates, heads and attention matter at O(1)).
static void shake(var_model *m, float a) {
    for (int i = 0; i < var_param_count(m); i++) {
        silt_tensor *t = var_param(m, i, NULL);
        for (int64_t j = 0; j < silt_numel(t); j++) silt_f32(t)[j] += (float)((2 * test_uniform() - 1) * a);
    }
}

typedef struct var_case {
    var_model *m;
    silt_tensor *pooled, *tokens, *x;
    int32_t *targets;
} var_case;

static silt_tensor *var_loss_fn(silt_graph *g, silt_tensor **in, void *user) {
    (void)in;
    var_case *vc = user;
    silt_tensor *logits = var_forward_text(g, vc->m, vc->pooled, vc->tokens, vc->x);
    silt_tensor *l = var_ce_loss(g, logits, vc->targets, NULL);
    return l ? silt_scale(g, l, (float)silt_numel(logits) / (float)logits->shape[2]) : NULL;  // sum over tokens
}

static void test_var_text_grad(void) {
    var_config c = tiny_var_config();
    var_model *m = NULL;
    CHECK_OK(var_create(&c, 1e-3f, 9, &m));
    if (!m) return;
    shake(m, 0.3f);
    const var_config *mc = var_get_config(m);
    int B = 2, T = 3;
    var_case vc = {.m = m};
    vc.pooled = silt_tensor_create_f32(2, (int64_t[]){B, c.text_dim}, false);
    vc.tokens = silt_tensor_create_f32(3, (int64_t[]){B, T, c.ctx_dim}, false);
    vc.x = silt_tensor_create_f32(3, (int64_t[]){B, mc->L - 1, c.Cvae}, false);
    vc.targets = malloc((size_t)(B * mc->L) * sizeof *vc.targets);
    test_fill(silt_f32(vc.pooled), silt_numel(vc.pooled), -1, 1);
    test_fill(silt_f32(vc.tokens), silt_numel(vc.tokens), -1, 1);
    test_fill(silt_f32(vc.x), silt_numel(vc.x), -1, 1);
    for (int64_t i = 0; i < B * mc->L; i++) vc.targets[i] = (int32_t)(test_uniform() * c.vocab_size);
    // CE value against a naive double reference.
    silt_graph *g = silt_graph_create(0);
    silt_graph_set_grad(g, false);
    silt_tensor *logits = var_forward_text(g, m, vc.pooled, vc.tokens, vc.x);
    double acc = -1;
    silt_tensor *l = var_ce_loss(g, logits, vc.targets, &acc);
    CHECK_OK(silt_graph_status(g));
    if (l) {
        double ref = 0;
        int64_t N = B * mc->L, V = c.vocab_size, hits = 0;
        for (int64_t i = 0; i < N; i++) {
            const float *x = silt_f32(logits) + i * V;
            double mx = -INFINITY, s = 0;
            int64_t am = 0;
            for (int64_t v = 0; v < V; v++) if (x[v] > mx) { mx = x[v]; am = v; }
            for (int64_t v = 0; v < V; v++) s += exp((double)x[v] - mx);
            ref += log(s) + mx - x[vc.targets[i]];
            hits += am == vc.targets[i];
        }
        CHECK_MSG(fabs(silt_f32(l)[0] - ref / N) < 1e-5 * (ref / N), "ce %g vs %g", (double)silt_f32(l)[0], ref / N);
        CHECK(fabs(acc - (double)hits / N) < 1e-12);
    }
    silt_graph_free(g);
    const char *names[] = {"text_pool_proj.weight", "text_ctx_proj.bias", "blocks.0.ca.mat_kv.weight",
                           "blocks.1.ca.mat_q.weight", "blocks.0.ca.v_bias", "blocks.1.ca_norm.weight",
                           "blocks.0.ca.proj.weight", "blocks.0.ada_lin.1.weight", "blocks.1.attn.scale_mul_1H11",
                           "blocks.0.attn.mat_qkv.weight", "blocks.1.ffn.fc2.weight", "head_nm.ada_lin.1.weight",
                           "head.weight", "word_embed.weight", "pos_start", "pos_1LC", "lvl_embed.weight"};
    int n = (int)(sizeof names / sizeof *names);
    silt_tensor *in[32];
    for (int i = 0; i < n; i++) {
        in[i] = var_find_param(m, names[i]);
        CHECK_MSG(in[i] != NULL, "no parameter %s", names[i]);
        if (!in[i]) return;
    }
    gradcheck_opts o = gradcheck_default();
    o.max_probe = 16;
    gradcheck_run("var_text_loss", var_loss_fn, in, n, &vc, o);
    silt_tensor_free(vc.pooled);
    silt_tensor_free(vc.tokens);
    silt_tensor_free(vc.x);
    free(vc.targets);
    var_free(m);
}

typedef struct capture {
    float *logits;  // (B, L, V) the combined logits of every scale
    const var_config *c;
} capture;

static silt_status capture_fn(void *user, int si, int64_t B, int64_t l, int64_t V, const float *logits, int32_t *idx) {
    (void)idx;
    capture *cp = user;
    for (int64_t b = 0; b < B; b++)
        memcpy(cp->logits + (b * cp->c->L + cp->c->begin[si]) * V, logits + b * l * V, (size_t)(l * V) * sizeof(float));
    return SILT_OK;
}

// Teacher-forced logits (B, L, V) of the sampled tokens under the given rows.
static float *teacher_logits(const var_model *m, const var_vqvae *vq, const int32_t *idx, int B, const float *pooled,
                             const float *tokens, int T, int null_rows) {
    const var_config *c = var_get_config(m);
    silt_graph *g = silt_graph_create(0);
    silt_graph_set_grad(g, false);
    silt_tensor *p = silt_graph_new(g, B, c->text_dim, 0, 0), *t = silt_graph_new(g, B, T, c->ctx_dim, 0);
    for (int b = 0; b < B; b++) {
        memcpy(silt_f32(p) + b * c->text_dim, pooled + (null_rows ? 0 : b * c->text_dim), (size_t)c->text_dim * sizeof(float));
        memcpy(silt_f32(t) + b * T * c->ctx_dim, tokens + (null_rows ? 0 : b * T * c->ctx_dim),
               (size_t)(T * c->ctx_dim) * sizeof(float));
    }
    silt_tensor *x = var_vq_idx_to_var_input(g, vq, idx, B);
    silt_tensor *lg = var_forward_text(g, m, p, t, x);
    float *out = NULL;
    if (lg) {
        out = malloc(silt_nbytes(lg));
        memcpy(out, lg->data, silt_nbytes(lg));
    }
    CHECK_OK(silt_graph_status(g));
    silt_graph_free(g);
    return out;
}

static void test_var_text_generate(void) {
    var_config c = tiny_var_config();
    var_vq_config qc = tiny_vq_config();
    var_model *m = NULL;
    var_vqvae *vq = NULL;
    CHECK_OK(var_create(&c, 1e-3f, 4, &m));
    CHECK_OK(var_vq_create(&qc, 4, &vq));
    if (!m || !vq) return;
    shake(m, 0.3f);
    const var_config *mc = var_get_config(m);
    int B = 2, T = 3, V = c.vocab_size;
    float pooled[2 * 6], tokens[2 * 3 * 5], npooled[6], ntokens[3 * 5];
    test_fill(pooled, 12, -1, 1);
    test_fill(tokens, 30, -1, 1);
    test_fill(npooled, 6, -1, 1);
    test_fill(ntokens, 15, -1, 1);
    var_text_cond tc = {pooled, tokens, npooled, ntokens, T};
    float *img = malloc((size_t)B * 3 * 8 * 8 * sizeof(float));
    int32_t *idx = malloc((size_t)(B * mc->L) * sizeof *idx);
    capture cp = {malloc((size_t)(B * mc->L * V) * sizeof(float)), mc};
    for (int with_cfg = 0; with_cfg < 2; with_cfg++) {
        var_sample_params p = var_sample_default_params();
        p.cfg = with_cfg ? 2.5f : 0.0f;
        p.top_k = 0;
        p.top_p = 0;
        p.seed = 17;
        p.token_fn = capture_fn;
        p.token_user = &cp;
        CHECK_OK(var_generate_text(m, vq, &tc, B, &p, img, idx));
        float *lc = teacher_logits(m, vq, idx, B, pooled, tokens, T, 0);
        float *lu = with_cfg ? teacher_logits(m, vq, idx, B, npooled, ntokens, T, 1) : NULL;
        if (!lc || (with_cfg && !lu)) continue;
        if (with_cfg)  // (1 + t) cond - t uncond, t = cfg * si / (K - 1)
            for (int si = 0; si < mc->n_scales; si++) {
                float t = (float)(p.cfg * si / (double)(mc->n_scales - 1));
                for (int b = 0; b < B; b++)
                    for (int64_t j = mc->begin[si] * V; j < mc->begin[si + 1] * V; j++) {
                        int64_t k = b * mc->L * V + j;
                        lc[k] = (1 + t) * lc[k] - t * lu[k];
                    }
            }
        CHECK_CLOSE(with_cfg ? "kv-cached CFG logits vs teacher forcing" : "kv-cached logits vs teacher forcing",
                    cp.logits, lc, B * mc->L * V, 1e-4, 1e-4);
        int ok = 1;
        for (int64_t i = 0; i < (int64_t)B * 3 * 8 * 8; i++) ok &= img[i] >= 0 && img[i] <= 1;
        CHECK(ok);
        free(lc);
        free(lu);
    }
    // Errors: class ids for a text model, text for a class model, no null condition with CFG.
    int32_t labels[2] = {0, 1};
    var_sample_params p = var_sample_default_params();
    CHECK(var_generate(m, vq, labels, B, &p, img, NULL) == SILT_ERR_ARG);
    var_text_cond nonull = {pooled, tokens, NULL, NULL, T};
    CHECK(var_generate_text(m, vq, &nonull, B, &p, img, NULL) == SILT_ERR_ARG);
    // Save / load round trip and a trainer checkpoint (EMA preferred).
    char path[128];
    snprintf(path, sizeof path, "%s/var.safetensors", tmpdir);
    CHECK_OK(var_save(m, path));
    var_model *back = NULL;
    CHECK_OK(var_load_file(path, &back));
    if (back) {
        const var_config *b = var_get_config(back);
        CHECK(b->text_dim == 6 && b->ctx_dim == 5 && b->num_classes == 0 && b->num_heads == 2 && b->L == 21 &&
              b->n_scales == 3 && var_param_count(back) == var_param_count(m));
        int same = 1;
        for (int i = 0; i < var_param_count(m); i++) {
            const char *na, *nb;
            silt_tensor *ta = var_param(m, i, &na), *tb = var_param(back, i, &nb);
            same &= !strcmp(na, nb) && !memcmp(ta->data, tb->data, silt_nbytes(ta));
        }
        CHECK(same);
    }
    var_free(back);
    back = NULL;
    var_config wc = var_world_default_config();
    var_model *w = NULL;
    CHECK_OK(var_create(&wc, 1e-3f, 1, &w));
    if (w) {
        snprintf(path, sizeof path, "%s/var_ckpt.safetensors", tmpdir);
        write_train_ckpt(path, w, var_param_count(w), var_pf, 1);
        CHECK_OK(var_load_file(path, &back));
        if (back) {
            CHECK(var_get_config(back)->L == 130 && var_get_config(back)->patch_nums[4] == 6);
            CHECK(silt_f32(var_find_param(back, "head.weight"))[5] == silt_f32(var_find_param(w, "head.weight"))[5] + 1.0f);
        }
        // init: gamma rows of ada_lin scaled by 1e-3, proj by 1/sqrt(2 depth)
        silt_tensor *ada = var_find_param(w, "blocks.0.ada_lin.1.weight");
        double g2 = 0, s2 = 0;
        int64_t C = wc.embed_dim;
        for (int64_t i = 0; i < 2 * C * C; i++) g2 += (double)silt_f32(ada)[i] * silt_f32(ada)[i];
        for (int64_t i = 2 * C * C; i < 6 * C * C; i++) s2 += (double)silt_f32(ada)[i] * silt_f32(ada)[i];
        double sd = sqrt(1.0 / (3.0 * C));
        CHECK_MSG(fabs(sqrt(g2 / (2 * C * C)) / (1e-3 * sd) - 1) < 0.05 && fabs(sqrt(s2 / (4 * C * C)) / (0.5 * sd) - 1) < 0.05,
                  "ada_lin init std %g / %g", sqrt(g2 / (2 * C * C)), sqrt(s2 / (4 * C * C)));
        CHECK(fabs(silt_f32(var_find_param(w, "blocks.2.attn.scale_mul_1H11"))[1] - log(4.0)) < 1e-6);
        CHECK(var_param_no_decay("pos_1LC", var_find_param(w, "pos_1LC")) &&
              !var_param_no_decay("blocks.0.attn.mat_qkv.weight", var_find_param(w, "blocks.0.attn.mat_qkv.weight")));
    }
    var_free(back);
    var_free(w);
    free(cp.logits);
    free(img);
    free(idx);
    var_free(m);
    var_vq_free(vq);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/silt_var_train_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    test_seed(5);
    test_vq_create_save_load();
    test_vq_loss_grad();
    test_vq_recon_falls();
    test_vq_restart();
    test_var_text_grad();
    test_var_text_generate();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary();
}
