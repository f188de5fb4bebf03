// MMDiT from scratch (dit/mmdit.h training API): config checks, the
// initialisation (adaLN-Zero output, xavier bounds, the sin-cos position
// table against a plain double transcription of diffusers'
// get_2d_sincos_pos_embed), the parameter table, save -> load bit-exact round
// trips (plain and .zst), loading a silt training checkpoint (EMA preferred,
// optimiser moments ignored), and gradients of a loss through the whole
// forward against finite differences.
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tmpdir.h"
#include "core/ops.h"
#include "core/safetensors.h"
#include "dit/mmdit.h"
#include "gradcheck.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static char tmpdir[256];


// Odd sizes where they are free: joint 7, pooled 5, 3 heads.
static mmdit_config tiny(bool qk, int n_dual) {
    return (mmdit_config){.depth = 3, .heads = 3, .head_dim = 4, .hidden = 12, .patch = 2, .in_channels = 3,
                          .out_channels = 3, .joint_dim = 7, .pooled_dim = 5, .pos_max = 4, .qk_norm = qk,
                          .n_dual = n_dual};
}

static bool ends(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

// Every parameter set to random values (norm weights around 1), so that the
// forward is not the adaLN-Zero constant.
static void randomise(mmdit_model *m, uint64_t seed) {
    test_seed(seed);
    for (int i = 0; i < mmdit_param_count(m); i++) {
        const char *name;
        silt_tensor *t = mmdit_param(m, i, &name, NULL);
        bool norm = strstr(name, "norm_") && ends(name, ".weight") && !strstr(name, "linear");
        test_fill(silt_f32(t), silt_numel(t), norm ? 0.5f : -0.4f, norm ? 1.5f : 0.4f);
    }
}

typedef struct io {
    int B, H, W, T;
    float *x, *t, *ctx, *pooled;
} io;

static io make_io(const mmdit_config *c, int B, int H, int W, int T, uint64_t seed) {
    io a = {B, H, W, T, malloc(sizeof(float) * B * c->in_channels * H * W), malloc(sizeof(float) * B),
            malloc(sizeof(float) * B * T * c->joint_dim), malloc(sizeof(float) * B * c->pooled_dim)};
    test_seed(seed);
    test_fill(a.x, (int64_t)B * c->in_channels * H * W, -1, 1);
    test_fill(a.t, B, 0, 1000);
    test_fill(a.ctx, (int64_t)B * T * c->joint_dim, -1, 1);
    test_fill(a.pooled, (int64_t)B * c->pooled_dim, -1, 1);
    return a;
}

static void free_io(io *a) {
    free(a->x);
    free(a->t);
    free(a->ctx);
    free(a->pooled);
}

static silt_tensor *forward(silt_graph *g, const mmdit_model *m, const io *a) {
    const mmdit_config *c = mmdit_get_config(m);
    silt_tensor *x = silt_graph_new(g, a->B, c->in_channels, a->H, a->W);
    silt_tensor *ctx = silt_graph_new(g, a->B, a->T, c->joint_dim, 0);
    silt_tensor *pooled = silt_graph_new(g, a->B, c->pooled_dim, 0, 0);
    if (!x || !ctx || !pooled) return NULL;
    memcpy(x->data, a->x, silt_nbytes(x));
    memcpy(ctx->data, a->ctx, silt_nbytes(ctx));
    memcpy(pooled->data, a->pooled, silt_nbytes(pooled));
    return mmdit_forward(g, m, x, a->t, ctx, pooled, NULL);
}

// Copy of the output of forward (n floats), or NULL.
static float *run(const mmdit_model *m, const io *a, int64_t *n) {
    silt_graph *g = silt_graph_create(0);
    silt_graph_set_grad(g, false);
    silt_tensor *v = forward(g, m, a);
    float *out = NULL;
    if (v) {
        *n = silt_numel(v);
        out = malloc(silt_nbytes(v));
        memcpy(out, v->data, silt_nbytes(v));
    }
    silt_graph_free(g);
    return out;
}

static void test_config_check(void) {
    mmdit_config c = tiny(true, 0);
    CHECK_OK(mmdit_config_check(&c));
    mmdit_model *m = NULL;
    c.hidden = 13;
    CHECK(mmdit_create(&c, 1, &m) == SILT_ERR_ARG && !m);
    CHECK(strstr(silt_last_error(), "hidden") != NULL);
    c = tiny(true, 0);
    c.n_dual = 4;
    CHECK(mmdit_create(&c, 1, &m) == SILT_ERR_ARG && !m);
    c = tiny(true, 0);
    c.depth = 0;
    CHECK(mmdit_create(&c, 1, &m) == SILT_ERR_ARG && !m);
    c = (mmdit_config){.depth = 1, .heads = 1, .head_dim = 6, .hidden = 6, .patch = 1, .in_channels = 1,
                       .out_channels = 1, .joint_dim = 1, .pooled_dim = 1, .pos_max = 2};
    CHECK(mmdit_create(&c, 1, &m) == SILT_ERR_ARG && !m);  // 6 is not a multiple of 4
}

// diffusers embeddings.py get_2d_sincos_pos_embed(embed_dim, grid_size,
// base_size, interpolation_scale=1), transcribed in double: grid_h/w =
// arange(G) / (G / base_size); grid = meshgrid(grid_w, grid_h) (w first);
// emb = [1d(D/2, grid[0]) | 1d(D/2, grid[1])]; 1d(d, pos) = [sin(pos w_k) |
// cos(pos w_k)], w_k = 1 / 10000^(k / (d/2)).
static double ref_pos(int D, int G, double base, int n, int e) {
    int i = n / G, j = n % G, half = D / 2, quarter = D / 4;
    double p = e < half ? j / (G / base) : i / (G / base);
    int k = e % half;
    double w = 1.0 / pow(10000.0, (double)(k % quarter) / quarter);
    return k < quarter ? sin(p * w) : cos(p * w);
}

static void test_init(void) {
    mmdit_config c = tiny(true, 1);
    c.hidden = 32, c.heads = 4, c.head_dim = 8, c.pos_max = 5;
    mmdit_model *m = NULL, *m2 = NULL;
    CHECK_OK(mmdit_create(&c, 7, &m));
    CHECK_OK(mmdit_create(&c, 7, &m2));
    if (!m || !m2) return;
    const mmdit_config *mc = mmdit_get_config(m);
    CHECK(mc->layout == MMDIT_LAYOUT_DIFFUSERS && mc->depth == 3 && mc->n_dual == 1 && mc->pos_max == 5);
    // Parameter table: block params for the dual first block (9-chunk norm1 + attn2),
    // the middle one, and the pre-only last one (no context output, no ff_context).
    int per_attn_joint = 4 * 2 + 4 * 2 + 4;  // to_q/k/v/out + add_q/k/v/to_add_out (w, b) + 4 QK norms
    int expect = 2 + 4 * 2 + 2                                       // patch, t/y MLPs, context_embedder
                 + (4 + per_attn_joint + (4 * 2 + 2) + 8)           // block 0: norms, attn, attn2, ff + ff_context
                 + (4 + per_attn_joint + 8)                          // block 1
                 + (4 + per_attn_joint - 2 + 4)                      // block 2: no to_add_out, no ff_context
                 + 2 + 2;                                            // norm_out, proj_out
    CHECK_MSG(mmdit_param_count(m) == expect, "param count %d, expected %d", mmdit_param_count(m), expect);
    int n_decay = 0;
    for (int i = 0; i < mmdit_param_count(m); i++) {
        const char *name, *name2;
        bool nd;
        silt_tensor *t = mmdit_param(m, i, &name, &nd), *t2 = mmdit_param(m2, i, &name2, NULL);
        CHECK(t && t->dtype == SILT_F32 && t->requires_grad && t->grad && t->owns_data);
        CHECK(!strcmp(name, name2) && !memcmp(t->data, t2->data, silt_nbytes(t)));  // seed-determined
        for (int j = 0; j < i; j++) {
            const char *o;
            mmdit_param(m, j, &o, NULL);
            CHECK_MSG(strcmp(o, name), "duplicate name %s", name);
        }
        bool bias = ends(name, ".bias"), norm = strstr(name, ".norm_") != NULL;
        CHECK_MSG(nd == (bias || norm), "%s no_decay %d", name, nd);
        n_decay += !nd;
        const float *d = silt_f32(t);
        int64_t n = silt_numel(t);
        double mx = 0, ss = 0;
        for (int64_t k = 0; k < n; k++) mx = fmax(mx, fabs(d[k])), ss += (double)d[k] * d[k];
        bool zero = bias || strstr(name, "norm1") || strstr(name, "norm_out") || strstr(name, "proj_out");
        if (zero) CHECK_MSG(mx == 0, "%s should start at 0 (max %g)", name, mx);
        else if (norm) CHECK_MSG(mx == 1 && ss == (double)n, "%s should start at 1", name);
        else if (strstr(name, "time_text_embed")) {
            CHECK_MSG(fabs(sqrt(ss / n) - 0.02) < 0.004, "%s std %g, want 0.02", name, sqrt(ss / n));
        } else {  // xavier-uniform: |w| <= a, std a / sqrt(3)
            double fo = (double)t->shape[0], fi = (double)n / fo, a = sqrt(6.0 / (fi + fo));
            CHECK_MSG(mx <= a && mx > 0.8 * a, "%s max %g, bound %g", name, mx, a);
            CHECK_MSG(n < 200 || fabs(sqrt(ss / n) / (a / sqrt(3.0)) - 1) < 0.1, "%s std %g, want %g", name,
                      sqrt(ss / n), a / sqrt(3.0));
        }
    }
    CHECK(n_decay > 0 && mmdit_param(m, mmdit_param_count(m), NULL, NULL) == NULL && !mmdit_param(m, -1, NULL, NULL));
    // adaLN-Zero: the freshly made model predicts exactly 0.
    io a = make_io(mc, 2, 8, 6, 3, 1);
    int64_t n = 0;
    float *v = run(m, &a, &n);
    double mx = 0;
    for (int64_t k = 0; v && k < n; k++) mx = fmax(mx, fabs(v[k]));
    CHECK_MSG(v && n == 2 * 3 * 8 * 6 && mx == 0, "fresh output max %g", mx);
    free(v);
    free_io(&a);
    // The position table: the file holds it; compare with the reference.
    char path[512];
    snprintf(path, sizeof path, "%s/init.safetensors", tmpdir);
    CHECK_OK(mmdit_save(m, path, NULL));
    silt_safetensors *st = NULL;
    CHECK_OK(silt_safetensors_open(path, &st));
    const silt_st_tensor *pt = st ? silt_safetensors_find(st, "pos_embed.pos_embed") : NULL;
    CHECK(pt && pt->ndim == 3 && pt->shape[1] == 25 && pt->shape[2] == 32);
    if (pt) {
        float *pos = malloc(sizeof(float) * 25 * 32);
        CHECK_OK(silt_safetensors_read_f32(pt, pos, 25 * 32));
        double worst = 0;
        for (int k = 0; k < 25; k++)
            for (int e = 0; e < 32; e++) worst = fmax(worst, fabs(pos[k * 32 + e] - ref_pos(32, 5, 5.0, k, e)));
        CHECK_MSG(worst < 1e-6, "position table off by %g", worst);
        free(pos);
    }
    const char *cfg = st ? silt_safetensors_metadata(st, "config") : NULL;
    CHECK(cfg && strstr(cfg, "\"num_attention_heads\": 4") && strstr(cfg, "\"pos_embed_max_size\": 5") &&
          strstr(cfg, "\"sample_size\": 10") && strstr(cfg, "\"dual_attention_layers\": [0]") &&
          strstr(cfg, "\"qk_norm\": \"rms_norm\""));
    silt_safetensors_close(st);
    mmdit_free(m);
    mmdit_free(m2);
}

static bool models_equal(mmdit_model *a, mmdit_model *b) {
    const mmdit_config *ca = mmdit_get_config(a), *cb = mmdit_get_config(b);
    bool same = ca->depth == cb->depth && ca->heads == cb->heads && ca->head_dim == cb->head_dim &&
                ca->hidden == cb->hidden && ca->patch == cb->patch && ca->in_channels == cb->in_channels &&
                ca->out_channels == cb->out_channels && ca->joint_dim == cb->joint_dim &&
                ca->pooled_dim == cb->pooled_dim && ca->pos_max == cb->pos_max && ca->qk_norm == cb->qk_norm &&
                ca->n_dual == cb->n_dual && mmdit_param_count(a) == mmdit_param_count(b);
    for (int i = 0; same && i < mmdit_param_count(a); i++) {
        const char *na, *nb;
        bool da, db;
        silt_tensor *ta = mmdit_param(a, i, &na, &da), *tb = mmdit_param(b, i, &nb, &db);
        same = !strcmp(na, nb) && da == db && silt_same_shape(ta, tb) && !memcmp(ta->data, tb->data, silt_nbytes(ta));
        if (!same) fprintf(stderr, "differs at %s / %s\n", na, nb);
    }
    return same;
}

static bool files_equal(const char *p, const char *q) {
    FILE *a = fopen(p, "rb"), *b = fopen(q, "rb");
    bool eq = a && b;
    while (eq) {
        int x = fgetc(a), y = fgetc(b);
        eq = x == y;
        if (x == EOF) break;
    }
    if (a) fclose(a);
    if (b) fclose(b);
    return eq;
}

static void test_save_load(void) {
    for (int variant = 0; variant < 2; variant++) {
        mmdit_config c = variant ? tiny(false, 0) : tiny(true, 2);
        mmdit_model *m = NULL, *m2 = NULL;
        CHECK_OK(mmdit_create(&c, 3, &m));
        if (!m) return;
        randomise(m, 10 + variant);
        io a = make_io(&c, 2, 6, 8, 5, 2);
        int64_t n1 = 0, n2 = 0;
        float *v1 = run(m, &a, &n1);
        double mx = 0;
        for (int64_t k = 0; v1 && k < n1; k++) mx = fmax(mx, fabs(v1[k]));
        CHECK_MSG(v1 && mx > 1e-3, "randomised forward max %g", mx);
        const char *names[2] = {"m.safetensors", "m.safetensors.zst"};
        const char *kv[] = {"silt.kind", "world-mmdit", "silt.steps", "20", NULL};
        char first[512];
        for (int k = 0; k < 2; k++) {
            char path[512], again[512];
            snprintf(path, sizeof path, "%s/v%d_%s", tmpdir, variant, names[k]);
            if (!k) snprintf(first, sizeof first, "%s", path);
            CHECK_OK(mmdit_save(m, path, kv));
            CHECK_OK(mmdit_load_file(path, &m2));
            if (!m2) continue;
            CHECK(models_equal(m, m2));
            float *v2 = run(m2, &a, &n2);
            CHECK(v1 && v2 && n1 == n2 && !memcmp(v1, v2, (size_t)n1 * sizeof(float)));
            free(v2);
            // Saving the loaded model writes the same bytes.
            snprintf(again, sizeof again, "%s/v%d_again_%s", tmpdir, variant, names[k]);
            CHECK_OK(mmdit_save(m2, again, kv));
            if (!k) CHECK(files_equal(path, again));
            silt_safetensors *st = NULL;
            CHECK_OK(silt_safetensors_open(path, &st));
            CHECK(st && !strcmp(silt_safetensors_metadata(st, "silt.kind"), "world-mmdit"));
            silt_safetensors_close(st);
            mmdit_free(m2);
            m2 = NULL;
        }
        // F16 / BF16 storage: every loaded weight is the f32 weight rounded to the
        // stored type (so the loaded model is exactly the rounded one).
        for (int d = 0; d < 2; d++) {
            silt_st_dtype dt = d ? SILT_ST_BF16 : SILT_ST_F16;
            char path16[512];
            snprintf(path16, sizeof path16, "%s/v%d_half%d.safetensors", tmpdir, variant, d);
            CHECK_OK(mmdit_save_as(m, path16, kv, dt));
            CHECK_OK(mmdit_load_file(path16, &m2));
            if (!m2) continue;
            int64_t bad = 0, total = 0;
            for (int i = 0; i < mmdit_param_count(m); i++) {
                const silt_tensor *t1 = mmdit_param(m, i, NULL, NULL), *t2 = mmdit_param(m2, i, NULL, NULL);
                const float *f1 = t1->data, *f2 = t2->data;
                for (int64_t k = 0; k < silt_numel(t1); k++, total++) {
                    float want = d ? silt_bf16_to_f32(silt_f32_to_bf16(f1[k])) : silt_f16_to_f32(silt_f32_to_f16(f1[k]));
                    bad += memcmp(&want, &f2[k], sizeof want) != 0;
                }
            }
            CHECK_MSG(total > 0 && bad == 0, "%s storage: %lld of %lld weights not the rounded value", d ? "bf16" : "f16",
                      (long long)bad, (long long)total);
            mmdit_free(m2);
            m2 = NULL;
        }
        CHECK(mmdit_save_as(m, "x.safetensors", kv, SILT_ST_I32) == SILT_ERR_ARG);
        // A missing value in meta_kv is an argument error and writes nothing.
        char path[512];
        snprintf(path, sizeof path, "%s/bad.safetensors", tmpdir);
        CHECK(mmdit_save(m, path, (const char *const[]){"k", "v", "silt.kind", NULL, NULL}) == SILT_ERR_ARG);
        CHECK(access(path, F_OK) != 0);
        free(v1);
        free_io(&a);
        mmdit_free(m);
    }
}

// A silt training checkpoint as gen/lib/train.c writes one: <name>,
// ema.<name>, adam_m.<name>, adam_v.<name>, format metadata and the model's
// config. ema: write the EMA copies (set to params + 1).
static void write_train_ckpt(mmdit_model *m, const char *path, bool ema, bool config) {
    silt_st_writer *w = silt_st_writer_create();
    int n = mmdit_param_count(m);
    float **bufs = calloc((size_t)n, sizeof *bufs);
    for (int i = 0; i < n; i++) {
        const char *name;
        silt_tensor *t = mmdit_param(m, i, &name, NULL);
        char key[160];
        CHECK_OK(silt_st_writer_add(w, name, SILT_ST_F32, t->ndim, t->shape, t->data));
        bufs[i] = malloc(silt_nbytes(t));
        for (int64_t k = 0; k < silt_numel(t); k++) bufs[i][k] = silt_f32(t)[k] + 1.0f;
        if (ema) {
            snprintf(key, sizeof key, "ema.%s", name);
            CHECK_OK(silt_st_writer_add(w, key, SILT_ST_F32, t->ndim, t->shape, bufs[i]));
        }
        snprintf(key, sizeof key, "adam_m.%s", name);
        CHECK_OK(silt_st_writer_add(w, key, SILT_ST_F32, t->ndim, t->shape, bufs[i]));
        snprintf(key, sizeof key, "adam_v.%s", name);
        CHECK_OK(silt_st_writer_add(w, key, SILT_ST_F32, t->ndim, t->shape, bufs[i]));
    }
    char cfg[1024];
    mmdit_config_json(mmdit_get_config(m), cfg, sizeof cfg);
    silt_st_writer_set_metadata(w, "format", "silt-train-checkpoint");
    silt_st_writer_set_metadata(w, "format_version", "1");
    silt_st_writer_set_metadata(w, "step", "5");
    silt_st_writer_set_metadata(w, "arch", "mmdit");
    if (config) silt_st_writer_set_metadata(w, "config", cfg);
    CHECK_OK(silt_st_writer_write(w, path));
    silt_st_writer_free(w);
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
}

static void test_train_checkpoint(void) {
    mmdit_config c = tiny(true, 1);
    c.heads = 2, c.head_dim = 6;  // heads != depth: only the config says so
    mmdit_model *m = NULL, *m2 = NULL;
    CHECK_OK(mmdit_create(&c, 5, &m));
    if (!m) return;
    randomise(m, 4);
    char path[512];
    for (int ema = 0; ema < 2; ema++) {
        snprintf(path, sizeof path, "%s/ckpt%d.safetensors", tmpdir, ema);
        write_train_ckpt(m, path, ema, true);
        CHECK_OK(mmdit_load_file(path, &m2));
        if (!m2) continue;
        const mmdit_config *c2 = mmdit_get_config(m2);
        CHECK(c2->heads == 2 && c2->head_dim == 6 && c2->pos_max == 4 && c2->n_dual == 1 && c2->qk_norm);
        bool ok = mmdit_param_count(m2) == mmdit_param_count(m);
        for (int i = 0; ok && i < mmdit_param_count(m); i++) {
            silt_tensor *a = mmdit_param(m, i, NULL, NULL), *b = mmdit_param(m2, i, NULL, NULL);
            for (int64_t k = 0; ok && k < silt_numel(a); k++)
                ok = silt_f32(b)[k] == silt_f32(a)[k] + (ema ? 1.0f : 0.0f);
        }
        CHECK_MSG(ok, "training checkpoint (ema %d): wrong weights loaded", ema);
        // The position table is rebuilt: a save of the loaded model equals a fresh model's table.
        char p2[512];
        snprintf(p2, sizeof p2, "%s/from_ckpt%d.safetensors", tmpdir, ema);
        CHECK_OK(mmdit_save(m2, p2, NULL));
        silt_safetensors *s1 = NULL, *s2 = NULL;
        char p1[512];
        snprintf(p1, sizeof p1, "%s/direct.safetensors", tmpdir);
        CHECK_OK(mmdit_save(m, p1, NULL));
        CHECK_OK(silt_safetensors_open(p1, &s1));
        CHECK_OK(silt_safetensors_open(p2, &s2));
        const silt_st_tensor *t1 = s1 ? silt_safetensors_find(s1, "pos_embed.pos_embed") : NULL,
                             *t2 = s2 ? silt_safetensors_find(s2, "pos_embed.pos_embed") : NULL;
        CHECK(t1 && t2 && t1->nbytes == t2->nbytes && !memcmp(t1->data, t2->data, t1->nbytes));
        silt_safetensors_close(s1);
        silt_safetensors_close(s2);
        mmdit_free(m2);
        m2 = NULL;
    }
    // Without its config the heads and the table size are unknown: a clear error.
    snprintf(path, sizeof path, "%s/ckpt_nocfg.safetensors", tmpdir);
    write_train_ckpt(m, path, true, false);
    CHECK(mmdit_load_file(path, &m2) == SILT_ERR_FORMAT && !m2);
    CHECK(strstr(silt_last_error(), "num_attention_heads") != NULL);
    mmdit_free(m);
}

typedef struct gc_user {
    mmdit_model *m;
    io a;
    float *target;
} gc_user;

// loss = sum((v - target)^2) (the flow-matching MSE times its element count,
// so that the gradients are O(1) against the absolute part of the tolerance).
static silt_tensor *loss_fn(silt_graph *g, silt_tensor **in, void *vu) {
    (void)in;  // the inputs are the model's own parameters
    gc_user *u = vu;
    silt_tensor *v = forward(g, u->m, &u->a);
    if (!v) return NULL;
    silt_tensor *tg = silt_graph_new(g, v->shape[0], v->shape[1], v->shape[2], v->shape[3]);
    if (!tg) return NULL;
    memcpy(tg->data, u->target, silt_nbytes(tg));
    return silt_scale(g, silt_mse_loss(g, v, tg), (float)silt_numel(v));
}

static void test_gradcheck(void) {
    mmdit_config c = tiny(true, 1);
    c.depth = 2;
    gc_user u = {0};
    CHECK_OK(mmdit_create(&c, 9, &u.m));
    if (!u.m) return;
    randomise(u.m, 21);
    // Smaller weights keep the loss smooth at the finite-difference step.
    for (int i = 0; i < mmdit_param_count(u.m); i++) {
        const char *name;
        silt_tensor *t = mmdit_param(u.m, i, &name, NULL);
        if (!strstr(name, "norm_q") && !strstr(name, "norm_k") && !strstr(name, "norm_added"))
            for (int64_t k = 0; k < silt_numel(t); k++) silt_f32(t)[k] *= 0.5f;
    }
    u.a = make_io(&c, 2, 4, 6, 3, 8);
    u.target = malloc(sizeof(float) * 2 * 3 * 4 * 6);
    test_fill(u.target, 2 * 3 * 4 * 6, -1, 1);
    const char *names[] = {"pos_embed.proj.weight",
                           "time_text_embed.timestep_embedder.linear_1.weight",
                           "time_text_embed.text_embedder.linear_2.bias",
                           "context_embedder.weight",
                           "transformer_blocks.0.norm1.linear.weight",
                           "transformer_blocks.0.attn.to_q.weight",
                           "transformer_blocks.0.attn.norm_added_k.weight",
                           "transformer_blocks.0.attn2.to_v.weight",
                           "transformer_blocks.0.ff_context.net.2.weight",
                           "transformer_blocks.1.norm1_context.linear.weight",
                           "transformer_blocks.1.attn.add_v_proj.weight",
                           "transformer_blocks.1.ff.net.0.proj.bias",
                           "norm_out.linear.weight",
                           "proj_out.weight"};
    enum { NP = sizeof names / sizeof *names };
    silt_tensor *in[NP];
    int found = 0;
    for (int i = 0; i < NP; i++) {
        in[i] = NULL;
        for (int j = 0; j < mmdit_param_count(u.m); j++) {
            const char *nm;
            silt_tensor *t = mmdit_param(u.m, j, &nm, NULL);
            if (!strcmp(nm, names[i])) in[i] = t;
        }
        CHECK_MSG(in[i], "no parameter %s", names[i]);
        found += in[i] != NULL;
    }
    if (found == NP) {
        gradcheck_opts o = gradcheck_default();
        o.max_probe = 6;
        o.h = 1e-2;  // the loss is ~1; f32 rounding noise ~1e-7 / h
        CHECK(gradcheck_run("mmdit flow loss", loss_fn, in, NP, &u, o));
        // The check means something only where the gradients are not ~0.
        for (int i = 0; i < NP; i++) {
            double mx = 0;
            for (int64_t k = 0; k < silt_numel(in[i]); k++) mx = fmax(mx, fabs(in[i]->grad[k]));
            CHECK_MSG(mx > 0.01, "grad of %s is ~0 (max %g)", names[i], mx);
        }
    }
    free(u.target);
    free_io(&u.a);
    mmdit_free(u.m);
}

int main(void) {
#ifdef _OPENMP
    omp_set_num_threads(1);  // bit-reproducible sums; a shared 2-core machine
#endif
    snprintf(tmpdir, sizeof tmpdir, "/tmp/silt_test_mmdit_create_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    test_config_check();
    test_init();
    test_save_load();
    test_train_checkpoint();
    test_gradcheck();
    test_rm_tree(tmpdir);
    return check_summary();
}
