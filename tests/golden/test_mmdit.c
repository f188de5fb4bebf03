// Golden tests for dit/mmdit (SD3 MMDiT): the diffusers, qk-norm/dual and
// original-layout checkpoints against diffusers' outputs (tests/golden/README.md
// cases 3, 4, 5, 8, 9), the perturbations without golden data against the
// naive double reference in mmdit_ref.h (itself checked against the golden
// data first), a directional gradient check, and loader/forward errors.
// Criterion per output tensor: max|silt - ref| <= 1e-4 * max|ref|.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/graph.h"
#include "core/safetensors.h"
#include "dit/mmdit.h"
#include "mmdit_ref.h"

#define GOLDEN "tests/golden/"
#define TOL 1e-4

static silt_safetensors *open_st(const char *name) {
    char path[512];
    const char *src = getenv("SILT_SOURCE_DIR");
    snprintf(path, sizeof path, "%s%s" GOLDEN "%s", src ? src : "", src ? "/" : "", name);
    silt_safetensors *st = NULL;
    CHECK_OK(silt_safetensors_open(path, &st));
    return st;
}

static mmdit_model *load(const silt_safetensors *st) {
    mmdit_model *m = NULL;
    if (st) CHECK_OK(mmdit_load(st, &m));
    return m;
}

// io tensor as a malloc'ed float array; *n its element count.
static float *io_f32(const silt_safetensors *st, const char *name, int64_t *n) {
    const silt_st_tensor *t = st ? silt_safetensors_find(st, name) : NULL;
    CHECK_MSG(t != NULL, "io tensor '%s' missing", name);
    if (!t) return NULL;
    int64_t k = 1;
    for (int i = 0; i < t->ndim; i++) k *= t->shape[i];
    float *d = malloc((size_t)k * sizeof(float));
    CHECK_OK(silt_safetensors_read_f32(t, d, k));
    if (n) *n = k;
    return d;
}

// io tensor copied into the graph's arena.
static silt_tensor *io_tensor(silt_graph *g, const silt_safetensors *st, const char *name) {
    const silt_st_tensor *t = st ? silt_safetensors_find(st, name) : NULL;
    CHECK_MSG(t != NULL, "io tensor '%s' missing", name);
    if (!t) return NULL;
    silt_tensor *x = silt_graph_tensor_f32(g, t->ndim, t->shape);
    if (x) CHECK_OK(silt_safetensors_read_f32(t, silt_f32(x), silt_numel(x)));
    return x;
}

// The golden criterion; prints the measured error for the report.
static void cmp(const char *what, const float *got, const float *ref, int64_t n) {
    if (!got || !ref) {
        CHECK_MSG(0, "%s: no output", what);
        return;
    }
    double mref = 0, merr = 0;
    for (int64_t i = 0; i < n; i++) {
        if (fabs(ref[i]) > mref) mref = fabs(ref[i]);
        double e = fabs((double)got[i] - ref[i]);
        if (!(e <= merr)) merr = e;  // NaN sticks
    }
    printf("  %-34s max|err| %.3g  max|ref| %.3g  ratio %.2e\n", what, merr, mref, mref > 0 ? merr / mref : merr);
    check_close_(what, got, ref, n, 0.0, TOL * mref, __FILE__, __LINE__);
}

static void cmp_d(const char *what, const float *got, const double *ref, int64_t n) {
    float *rf = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) rf[i] = (float)ref[i];
    cmp(what, got, rf, n);
    free(rf);
}

// silt forward on io inputs (names given); returns a malloc'ed copy of the output.
static float *run(const mmdit_model *m, const silt_safetensors *io, const char *xname, const silt_perturb *p,
                  int64_t *n) {
    silt_graph *g = silt_graph_create(0);
    silt_graph_set_grad(g, false);
    silt_tensor *x = io_tensor(g, io, xname);
    silt_tensor *ctx = io_tensor(g, io, "encoder_hidden_states");
    silt_tensor *pooled = io_tensor(g, io, "pooled_projections");
    float *t = io_f32(io, "timestep", NULL);
    silt_tensor *out = mmdit_forward(g, m, x, t, ctx, pooled, p);
    CHECK_MSG(out != NULL, "mmdit_forward(%s) failed: %s", xname, silt_last_error());
    float *copy = NULL;
    if (out) {
        *n = silt_numel(out);
        copy = malloc((size_t)*n * sizeof(float));
        memcpy(copy, silt_f32(out), (size_t)*n * sizeof(float));
    }
    free(t);
    silt_graph_free(g);
    return copy;
}

// The naive reference on the same io inputs.
static double *run_ref(const silt_safetensors *model_st, int heads, const silt_safetensors *io, const char *xname,
                       const silt_perturb *p) {
    const silt_st_tensor *xt = silt_safetensors_find(io, xname);
    const silt_st_tensor *ct = silt_safetensors_find(io, "encoder_hidden_states");
    if (!xt || !ct) return NULL;
    int64_t nx;
    float *xf = io_f32(io, xname, &nx), *t = io_f32(io, "timestep", NULL);
    float *ctx = io_f32(io, "encoder_hidden_states", NULL), *pooled = io_f32(io, "pooled_projections", NULL);
    double *xd = malloc((size_t)nx * sizeof(double)), *out = malloc((size_t)nx * 2 * sizeof(double));
    for (int64_t i = 0; i < nx; i++) xd[i] = xf[i];
    refm R;
    ref_init(&R, model_st, heads);
    ref_forward(&R, out, xd, t, ctx, pooled, (int)xt->shape[0], (int)xt->shape[2], (int)xt->shape[3],
                (int)ct->shape[1], p);
    free(xf), free(t), free(ctx), free(pooled), free(xd);
    return out;
}

static void check_config(const mmdit_model *m, mmdit_layout layout, bool qk, int n_dual) {
    const mmdit_config *c = mmdit_get_config(m);
    CHECK(c != NULL);
    if (!c) return;
    CHECK(c->layout == layout);
    CHECK(c->depth == 3 && c->heads == 3 && c->head_dim == 8 && c->hidden == 24);
    CHECK(c->patch == 2 && c->in_channels == 16 && c->out_channels == 16);
    CHECK(c->joint_dim == 24 && c->pooled_dim == 16 && c->pos_max == 12);
    CHECK(c->qk_norm == qk && c->n_dual == n_dual);
}

// Cases 3-5: plain forward, square and non-square latents.
static void test_plain(void) {
    silt_safetensors *io = open_st("mmdit_diffusers.io.safetensors");
    silt_safetensors *io_qk = open_st("mmdit_qknorm_diffusers.io.safetensors");
    silt_safetensors *st_d = open_st("mmdit_diffusers.model.safetensors");
    silt_safetensors *st_q = open_st("mmdit_qknorm_diffusers.model.safetensors");
    silt_safetensors *st_o = open_st("mmdit_original.model.safetensors");
    mmdit_model *md = load(st_d), *mq = load(st_q), *mo = load(st_o);
    if (md) check_config(md, MMDIT_LAYOUT_DIFFUSERS, false, 0);
    if (mq) check_config(mq, MMDIT_LAYOUT_DIFFUSERS, true, 1);
    if (mo) check_config(mo, MMDIT_LAYOUT_ORIGINAL, false, 0);
    const char *xs[2] = {"hidden_states", "hidden_states_rect"}, *ys[2] = {"output", "output_rect"};
    for (int r = 0; r < 2 && io && io_qk && md && mq && mo; r++) {
        char what[96];
        int64_t n = 0, nq = 0, no = 0;
        float *ref = io_f32(io, ys[r], NULL), *ref_q = io_f32(io_qk, ys[r], NULL);
        float *got = run(md, io, xs[r], NULL, &n), *got_q = run(mq, io_qk, xs[r], NULL, &nq);
        float *got_o = run(mo, io, xs[r], NULL, &no);
        snprintf(what, sizeof what, "mmdit_diffusers %s", ys[r]);
        cmp(what, got, ref, n);
        snprintf(what, sizeof what, "mmdit_qknorm_diffusers %s", ys[r]);
        cmp(what, got_q, ref_q, nq);
        snprintf(what, sizeof what, "mmdit_original %s", ys[r]);
        cmp(what, got_o, ref, no);
        // Same weights, same arithmetic: the original layout must agree bit for bit.
        CHECK_MSG(got && got_o && n == no && memcmp(got, got_o, (size_t)n * sizeof(float)) == 0,
                  "original layout output differs from diffusers layout (%s)", ys[r]);
        // The naive reference against diffusers (validates it for the tests below).
        double *rd = run_ref(st_d, 3, io, xs[r], NULL), *rq = run_ref(st_q, 3, io_qk, xs[r], NULL);
        snprintf(what, sizeof what, "reference vs diffusers %s", ys[r]);
        cmp_d(what, ref, rd, n);
        snprintf(what, sizeof what, "reference vs diffusers qknorm %s", ys[r]);
        cmp_d(what, ref_q, rq, nq);
        free(ref), free(ref_q), free(got), free(got_q), free(got_o), free(rd), free(rq);
    }
    mmdit_free(md), mmdit_free(mq), mmdit_free(mo);
    silt_safetensors_close(io), silt_safetensors_close(io_qk);
    silt_safetensors_close(st_d), silt_safetensors_close(st_q), silt_safetensors_close(st_o);
}

// e_u + g (e_c - e_u) + s (e_c - e_p) over rows [u, c, p] of out (3, n1).
static float *guided(const float *out, int64_t n1, float g, float s) {
    float *r = malloc((size_t)n1 * sizeof(float));
    for (int64_t i = 0; i < n1; i++) {
        float eu = out[i], ec = out[n1 + i], ep = out[2 * n1 + i];
        r[i] = eu + g * (ec - eu) + s * (ec - ep);
    }
    return r;
}

// Case 8: diffusers SD3 PAG (IDENTITY_IMAGE) on the layer the io names.
static void test_pag(void) {
    silt_safetensors *io = open_st("pag_sd3.io.safetensors"), *st = open_st("mmdit_diffusers.model.safetensors");
    mmdit_model *m = load(st);
    if (!io || !m) goto done;
    const char *lay = silt_safetensors_metadata(io, "pag_layers");
    CHECK(lay != NULL);
    int layer = lay ? atoi(lay) : 1;
    float u[3 * 3] = {0};
    for (int h = 0; h < 3; h++) u[layer * 3 + h] = 1.0f;
    silt_perturb p = {.kind = SILT_PERTURB_IDENTITY_IMAGE, .row_begin = 2, .row_end = 3, .n_layers = 3, .n_heads = 3,
                      .u = u};
    int64_t n = 0;
    float *got = run(m, io, "hidden_states", &p, &n), *ref = io_f32(io, "output", NULL);
    cmp("pag_sd3 output", got, ref, n);
    double *rr = run_ref(st, 3, io, "hidden_states", &p);
    cmp_d("reference vs diffusers pag_sd3", ref, rr, n);
    float *gs = io_f32(io, "guidance_scale", NULL), *ps = io_f32(io, "pag_scale", NULL);
    float *gref = io_f32(io, "guided", NULL);
    if (got && gs && ps) {
        float *gg = guided(got, n / 3, gs[0], ps[0]);
        cmp("pag_sd3 guided", gg, gref, n / 3);
        free(gg);
    }
    free(got), free(ref), free(rr), free(gs), free(ps), free(gref);
done:
    mmdit_free(m);
    silt_safetensors_close(io), silt_safetensors_close(st);
}

// Case 9: HeadHunter / SoftPAG head identity (IDENTITY) with u = 1 and 0.5.
static void test_headid(void) {
    silt_safetensors *io = open_st("headid_sd3.io.safetensors"), *st = open_st("mmdit_qknorm_diffusers.model.safetensors");
    mmdit_model *m = load(st);
    if (!io || !m) goto done;
    const silt_st_tensor *ht = silt_safetensors_find(io, "heads");
    CHECK(ht && ht->ndim == 2 && ht->shape[1] == 2);
    float *heads = io_f32(io, "heads", NULL), *us = io_f32(io, "u", NULL);
    float *gs = io_f32(io, "guidance_scale", NULL), *ps = io_f32(io, "pag_scale", NULL);
    const char *outs[2] = {"output_u1", "output_u05"}, *gd[2] = {"guided_u1", "guided_u05"};
    for (int k = 0; k < 2 && ht && heads && us; k++) {
        float u[3 * 3] = {0};
        for (int i = 0; i < ht->shape[0]; i++) u[(int)heads[2 * i] * 3 + (int)heads[2 * i + 1]] = us[k];
        silt_perturb p = {.kind = SILT_PERTURB_IDENTITY, .row_begin = 2, .row_end = 3, .n_layers = 3, .n_heads = 3,
                          .u = u};
        int64_t n = 0;
        char what[64];
        float *got = run(m, io, "hidden_states", &p, &n), *ref = io_f32(io, outs[k], NULL);
        snprintf(what, sizeof what, "headid_sd3 %s", outs[k]);
        cmp(what, got, ref, n);
        double *rr = run_ref(st, 3, io, "hidden_states", &p);
        snprintf(what, sizeof what, "reference vs headid %s", outs[k]);
        cmp_d(what, ref, rr, n);
        float *gref = io_f32(io, gd[k], NULL);
        if (got) {
            float *gg = guided(got, n / 3, gs[0], ps[0]);
            snprintf(what, sizeof what, "headid_sd3 %s", gd[k]);
            cmp(what, gg, gref, n / 3);
            free(gg);
        }
        free(got), free(ref), free(rr), free(gref);
    }
    free(heads), free(us), free(gs), free(ps);
done:
    mmdit_free(m);
    silt_safetensors_close(io), silt_safetensors_close(st);
}

// Random inputs (B = 3, non-square 6 x 10 latent = 3 x 5 patches, 7 text tokens).
typedef struct rin {
    float x[3 * 16 * 6 * 10], t[3], ctx[3 * 7 * 24], pooled[3 * 16];
    double xd[3 * 16 * 6 * 10];
} rin;
enum { RB = 3, RH = 6, RW = 10, RT = 7, RN = RB * 16 * RH * RW };

static silt_tensor *run_rin(silt_graph *g, const mmdit_model *m, const rin *in, const silt_perturb *p,
                           silt_tensor **xout) {
    silt_tensor *x = silt_graph_new(g, RB, 16, RH, RW), *ctx = silt_graph_new(g, RB, RT, 24, 0);
    silt_tensor *pooled = silt_graph_new(g, RB, 16, 0, 0);
    if (!x || !ctx || !pooled) return NULL;
    memcpy(silt_f32(x), in->x, sizeof in->x);
    memcpy(silt_f32(ctx), in->ctx, sizeof in->ctx);
    memcpy(silt_f32(pooled), in->pooled, sizeof in->pooled);
    if (xout) {
        x->requires_grad = true;
        *xout = x;
    }
    silt_tensor *out = mmdit_forward(g, m, x, in->t, ctx, pooled, p);
    CHECK_MSG(out != NULL, "mmdit_forward failed: %s", silt_last_error());
    return out;
}

// The perturbations without golden data, against the naive reference, on both
// models (the qk-norm one has a dual block), with perturbed rows at the start,
// middle and end of the batch.
static void test_perturb_vs_ref(void) {
    silt_safetensors *sts[2] = {open_st("mmdit_diffusers.model.safetensors"),
                                open_st("mmdit_qknorm_diffusers.model.safetensors")};
    rin *in = malloc(sizeof *in);
    test_seed(7);
    test_fill(in->x, RN, -1.5f, 1.5f);
    test_fill(in->ctx, RB * RT * 24, -1, 1);
    test_fill(in->pooled, RB * 16, -1, 1);
    in->t[0] = 999.0f, in->t[1] = 431.25f, in->t[2] = 12.5f;
    for (int i = 0; i < RN; i++) in->xd[i] = in->x[i];
    float uu[9];
    // (kind, rows, u table by layer x head, sigma)
    struct {
        silt_perturb_kind kind;
        int rb, re;
        float u[9];
        float sigma;
        const char *name;
    } cases[] = {
        {SILT_PERTURB_UNIFORM, 1, 2, {0, 1, 0, 0.6f, 0, 0, 0, 0, 1}, 0, "uniform u mixed rows [1,2)"},
        {SILT_PERTURB_UNIFORM, 0, 3, {1, 1, 1, 1, 1, 1, 1, 1, 1}, 0, "uniform u=1 all rows"},
        {SILT_PERTURB_SEG, 1, 3, {1, 1, 1, 1, 1, 1, 0, 0, 0}, 1.0f, "seg sigma 1 rows [1,3)"},
        {SILT_PERTURB_SEG, 0, 1, {0, 0.5f, 0, 0, 0, 0, 0.5f, 0.5f, 0.5f}, 0.4f, "seg sigma 0.4 u 0.5 rows [0,1)"},
        {SILT_PERTURB_SEG, 2, 3, {1, 0, 1, 0, 1, 0, 1, 0, 1}, INFINITY, "seg sigma inf rows [2,3)"},
        {SILT_PERTURB_SEG, 1, 2, {0, 0, 0, 1, 1, 1, 0, 0, 0}, 12345.0f, "seg sigma 12345 (inf) rows [1,2)"},
        {SILT_PERTURB_SKIP, 1, 2, {0, 0, 0, 0, 0.3f, 0, 0, 0, 0}, 0, "skip layer 1 rows [1,2)"},
        {SILT_PERTURB_SKIP, 0, 2, {1, 0, 0, 0, 0, 0, 0, 0, 1}, 0, "skip layers 0,2 rows [0,2)"},
        {SILT_PERTURB_IDENTITY_IMAGE, 1, 2, {0, 0, 0, 0, 0, 0, 1, 0, 0}, 0, "identity_image layer 2 rows [1,2)"},
        {SILT_PERTURB_IDENTITY_IMAGE, 0, 1, {0, 1, 0, 0, 0, 0, 0, 0, 0}, 0, "identity_image layer 0 rows [0,1)"},
        {SILT_PERTURB_IDENTITY, 0, 3, {0.25f, 0, 1, 0, 0.75f, 0, 1, 1, 1}, 0, "identity mixed all rows"},
        {SILT_PERTURB_IDENTITY, 1, 1, {1, 1, 1, 1, 1, 1, 1, 1, 1}, 0, "identity empty rows"},
        {SILT_PERTURB_NONE, 0, 0, {0}, 0, "plain"},
    };
    double *ref = malloc(RN * sizeof(double));
    for (int mi = 0; mi < 2; mi++) {
        mmdit_model *m = load(sts[mi]);
        if (!m) continue;
        refm R;
        ref_init(&R, sts[mi], 3);
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            memcpy(uu, cases[k].u, sizeof uu);
            silt_perturb p = {.kind = cases[k].kind, .row_begin = cases[k].rb, .row_end = cases[k].re,
                              .n_layers = 3, .n_heads = 3, .u = uu, .seg_sigma = cases[k].sigma};
            silt_graph *g = silt_graph_create(0);
            silt_graph_set_grad(g, false);
            silt_tensor *got = run_rin(g, m, in, &p, NULL);
            ref_forward(&R, ref, in->xd, in->t, in->ctx, in->pooled, RB, RH, RW, RT, &p);
            char what[96];
            snprintf(what, sizeof what, "%s: %s", mi ? "qknorm" : "plain", cases[k].name);
            if (got) cmp_d(what, silt_f32(got), ref, RN);
            silt_graph_free(g);
        }
        mmdit_free(m);
    }
    free(ref);
    free(in);
    silt_safetensors_close(sts[0]), silt_safetensors_close(sts[1]);
}

// d/dx of sum(R * out) through a perturbed forward (SEG on the qk-norm / dual
// model) vs a central difference of the double reference along random
// directions: the forward is differentiable end to end.
static void test_gradient(void) {
    silt_safetensors *st = open_st("mmdit_qknorm_diffusers.model.safetensors");
    mmdit_model *m = load(st);
    rin *in = malloc(sizeof *in);
    if (!m) goto done;
    test_seed(11);
    test_fill(in->x, RN, -1, 1);
    test_fill(in->ctx, RB * RT * 24, -1, 1);
    test_fill(in->pooled, RB * 16, -1, 1);
    in->t[0] = 800, in->t[1] = 300, in->t[2] = 50;
    float u[9] = {1, 0, 0.5f, 0, 1, 0, 0, 0, 1};
    silt_perturb kinds[2] = {
        {.kind = SILT_PERTURB_SEG, .row_begin = 1, .row_end = 3, .n_layers = 3, .n_heads = 3, .u = u, .seg_sigma = 0.8f},
        {.kind = SILT_PERTURB_IDENTITY_IMAGE, .row_begin = 1, .row_end = 2, .n_layers = 3, .n_heads = 3, .u = u},
    };
    float *Rw = malloc(RN * sizeof(float));
    double *v = malloc(RN * sizeof(double)), *outd = malloc(RN * sizeof(double));
    test_fill(Rw, RN, -1, 1);
    refm R;
    ref_init(&R, st, 3);
    for (int k = 0; k < 2; k++) {
        silt_graph *g = silt_graph_create(0);
        silt_tensor *x = NULL;
        silt_tensor *o = run_rin(g, m, in, &kinds[k], &x);
        CHECK(o != NULL);
        if (o) CHECK_OK(silt_backward(g, o, Rw));
        float *gx = o ? silt_graph_grad(g, x) : NULL;
        CHECK(gx != NULL);
        for (int dir = 0; dir < 2 && gx; dir++) {
            for (int i = 0; i < RN; i++) v[i] = 2 * test_uniform() - 1;
            const double hstep = 1e-4;
            double L[2];
            for (int s = 0; s < 2; s++) {
                for (int i = 0; i < RN; i++) in->xd[i] = in->x[i] + (s ? -hstep : hstep) * v[i];
                ref_forward(&R, outd, in->xd, in->t, in->ctx, in->pooled, RB, RH, RW, RT, &kinds[k]);
                L[s] = 0;
                for (int i = 0; i < RN; i++) L[s] += outd[i] * Rw[i];
            }
            double num = (L[0] - L[1]) / (2 * hstep), ana = 0, mag = 0;
            for (int i = 0; i < RN; i++) ana += gx[i] * v[i], mag += fabs(gx[i] * v[i]);
            double err = fabs(ana - num) / (1e-6 + mag);
            printf("  gradient %-25s dir %d: analytic %.6g numeric %.6g rel %.2e\n",
                   kinds[k].kind == SILT_PERTURB_SEG ? "seg" : "identity_image", dir, ana, num, err);
            CHECK_MSG(err < 1e-4, "directional gradient: analytic %.9g numeric %.9g (err %.3g)", ana, num, err);
        }
        silt_graph_free(g);
    }
    free(Rw), free(v), free(outd);
done:
    free(in);
    mmdit_free(m);
    silt_safetensors_close(st);
}

// --- loader errors ------------------------------------------------------------------

typedef enum { EDIT_DROP, EDIT_DROP_PREFIX, EDIT_EXTRA, EDIT_RESHAPE, EDIT_CONFIG } edit_kind;

static void tmp_file(char *path, size_t n, const char *tag) {
    snprintf(path, n, "/tmp/silt_test_mmdit_%s_%d.safetensors", tag, (int)getpid());
}

// Writes a copy of src with one edit, loads it, and checks for one error
// containing `expect` (the offending tensor's name) and that *out is untouched.
// EDIT_CONFIG replaces the config metadata with `arg`; EDIT_DROP_PREFIX drops
// every tensor whose name starts with `arg`; the others edit tensor `arg`.
static void broken_copy(const silt_safetensors *src, edit_kind kind, const char *arg, const char *expect,
                        silt_status want) {
    char path[256];
    tmp_file(path, sizeof path, "broken");
    silt_st_writer *w = silt_st_writer_create();
    static float extra[7];
    static float reshaped[65536];
    for (int i = 0; i < silt_safetensors_count(src); i++) {
        const silt_st_tensor *t = silt_safetensors_get(src, i);
        if (kind == EDIT_DROP_PREFIX && strncmp(t->name, arg, strlen(arg)) == 0) continue;
        if (kind != EDIT_CONFIG && strcmp(t->name, arg) == 0) {
            if (kind == EDIT_DROP) continue;
            if (kind == EDIT_RESHAPE) {
                int64_t sh[2] = {t->shape[0], t->shape[1] - 1};
                CHECK_OK(silt_st_writer_add(w, t->name, SILT_ST_F32, 2, sh, reshaped));
                continue;
            }
        }
        CHECK_OK(silt_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data));
    }
    if (kind == EDIT_EXTRA) CHECK_OK(silt_st_writer_add(w, arg, SILT_ST_F32, 1, (int64_t[]){7}, extra));
    const char *cfg = kind == EDIT_CONFIG ? arg : silt_safetensors_metadata(src, "config");
    if (cfg) CHECK_OK(silt_st_writer_set_metadata(w, "config", cfg));
    CHECK_OK(silt_st_writer_write(w, path));
    silt_st_writer_free(w);
    silt_safetensors *st = NULL;
    CHECK_OK(silt_safetensors_open(path, &st));
    mmdit_model *m = (mmdit_model *)(uintptr_t)1;
    silt_status s = st ? mmdit_load(st, &m) : SILT_ERR_IO;
    const char *msg = silt_last_error();
    CHECK_MSG(s == want, "broken copy (%s): status %d, want %d (%s)", expect, (int)s, (int)want, msg);
    CHECK_MSG(strstr(msg, expect) != NULL, "error does not name '%s': %s", expect, msg);
    CHECK(m == (mmdit_model *)(uintptr_t)1);
    if (getenv("CHECK_VERBOSE")) fprintf(stderr, "  loader error: %s\n", msg);
    silt_safetensors_close(st);
    unlink(path);
}

#define CFG_QK(heads, qk, dual)                                                                                    \
    "{\"_class_name\": \"SD3Transformer2DModel\", \"attention_head_dim\": 8, \"num_attention_heads\": " heads     \
    ", \"num_layers\": 3, \"qk_norm\": " qk ", \"dual_attention_layers\": " dual "}"

static void test_loader_errors(void) {
    silt_safetensors *d = open_st("mmdit_qknorm_diffusers.model.safetensors");
    silt_safetensors *o = open_st("mmdit_original.model.safetensors");
    if (d) {
        const char *n;
        n = "transformer_blocks.1.ff.net.2.bias";
        broken_copy(d, EDIT_DROP, n, n, SILT_ERR_FORMAT);
        n = "transformer_blocks.2.attn.norm_added_k.weight";
        broken_copy(d, EDIT_DROP, n, n, SILT_ERR_FORMAT);
        n = "transformer_blocks.0.attn2.to_out.0.weight";
        broken_copy(d, EDIT_DROP, n, n, SILT_ERR_FORMAT);
        n = "transformer_blocks.1.attn.bogus.weight";
        broken_copy(d, EDIT_EXTRA, n, n, SILT_ERR_FORMAT);
        n = "transformer_blocks.2.attn.to_add_out.bias";  // the context_pre_only block has none
        broken_copy(d, EDIT_EXTRA, n, n, SILT_ERR_FORMAT);
        n = "transformer_blocks.0.attn.to_k.weight";
        broken_copy(d, EDIT_RESHAPE, n, n, SILT_ERR_SHAPE);
        n = "time_text_embed.timestep_embedder.linear_1.weight";
        broken_copy(d, EDIT_RESHAPE, n, n, SILT_ERR_SHAPE);
        // The config names what the tensors must hold: a whole missing block,
        // missing attn2 or qk-norm tensors are reported by name.
        broken_copy(d, EDIT_DROP_PREFIX, "transformer_blocks.2.", "transformer_blocks.2.attn.to_q.weight",
                    SILT_ERR_FORMAT);
        broken_copy(d, EDIT_DROP_PREFIX, "transformer_blocks.0.attn2.", "transformer_blocks.0.attn2.to_q.weight",
                    SILT_ERR_FORMAT);
        broken_copy(d, EDIT_CONFIG, CFG_QK("3", "\"rms_norm\"", "[0, 1]"), "transformer_blocks.1.attn2.to_q.weight",
                    SILT_ERR_FORMAT);
        broken_copy(d, EDIT_CONFIG, CFG_QK("3", "null", "[0]"), "unexpected tensor 'transformer_blocks.0.attn.norm_",
                    SILT_ERR_FORMAT);  // the qk-norm weights are now extra
        broken_copy(d, EDIT_CONFIG, CFG_QK("5", "\"rms_norm\"", "[0]"), "5 heads", SILT_ERR_FORMAT);
        broken_copy(d, EDIT_CONFIG, CFG_QK("4", "\"rms_norm\"", "[0]"), "attention_head_dim", SILT_ERR_FORMAT);
        broken_copy(d, EDIT_CONFIG, CFG_QK("3", "\"layer_norm\"", "[0]"), "layer_norm", SILT_ERR_UNSUPPORTED);
        broken_copy(d, EDIT_CONFIG, CFG_QK("3", "\"rms_norm\"", "[1]"), "dual_attention_layers", SILT_ERR_UNSUPPORTED);
        broken_copy(d, EDIT_CONFIG, "{\"num_attention_heads\": 3", "not valid JSON", SILT_ERR_FORMAT);
    }
    if (o) {
        const char *n;
        n = "model.diffusion_model.final_layer.linear.bias";
        broken_copy(o, EDIT_DROP, n, n, SILT_ERR_FORMAT);
        n = "model.diffusion_model.joint_blocks.1.x_block.attn.qkv.weight";
        broken_copy(o, EDIT_RESHAPE, n, n, SILT_ERR_SHAPE);
        n = "model.diffusion_model.joint_blocks.2.context_block.mlp.fc1.weight";
        broken_copy(o, EDIT_EXTRA, n, n, SILT_ERR_FORMAT);
        n = "model.diffusion_model.pos_embed";
        broken_copy(o, EDIT_DROP, n, n, SILT_ERR_FORMAT);
    }
    // Not an MMDiT at all.
    silt_safetensors *vae = open_st("vae_sd.model.safetensors");
    mmdit_model *m = NULL;
    if (vae) {
        CHECK(mmdit_load(vae, &m) == SILT_ERR_FORMAT && m == NULL);
        CHECK(strstr(silt_last_error(), "transformer_blocks") != NULL);
    }
    silt_safetensors_close(vae), silt_safetensors_close(d), silt_safetensors_close(o);
}

// The original layout with SD3.5 parts (ln_q/ln_k, attn2.qkv, attn2.ln_q/k)
// has no golden file: convert the qk-norm diffusers checkpoint into it here,
// inverting diffusers' convert_sd3_transformer_checkpoint_to_diffusers (fused
// [q; k; v] rows; final layer and last context adaLN as (shift, scale)), with
// no config metadata as in real files, and require the same output bit for bit.
// Adds oname with the rows of the diffusers tensors dnames[0..nd) stacked
// (halves swapped when asked); returns the buffer the writer borrows, or NULL
// when dnames[0] is absent.
static float *conv_add(silt_st_writer *w, const silt_safetensors *d, const char *oname, const char *const *dnames,
                       int nd, bool swap, int *used) {
    const silt_st_tensor *t0 = silt_safetensors_find(d, dnames[0]);
    if (!t0) return NULL;
    int64_t per = 1, sh[4] = {0};
    for (int k = 0; k < t0->ndim; k++) per *= t0->shape[k], sh[k] = t0->shape[k];
    sh[0] *= nd;
    float *buf = malloc((size_t)(per * nd) * sizeof(float));
    for (int k = 0; k < nd; k++, (*used)++)
        CHECK_OK(silt_safetensors_read_f32(silt_safetensors_find(d, dnames[k]), buf + k * per, per));
    for (int64_t k = 0, half = per / 2; swap && k < half; k++) {
        float tmp = buf[k];
        buf[k] = buf[half + k];
        buf[half + k] = tmp;
    }
    CHECK_OK(silt_st_writer_add(w, oname, SILT_ST_F32, t0->ndim, sh, buf));
    return buf;
}

static void test_original_sd35(void) {
    silt_safetensors *d = open_st("mmdit_qknorm_diffusers.model.safetensors");
    silt_safetensors *io = open_st("mmdit_qknorm_diffusers.io.safetensors");
    if (!d || !io) goto done;
    static const struct {
        const char *orig, *diff[3];
        bool swap_last;
    } blk[] = {
        {"x_block.attn.qkv", {"attn.to_q", "attn.to_k", "attn.to_v"}, false},
        {"context_block.attn.qkv", {"attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"}, false},
        {"x_block.attn.ln_q", {"attn.norm_q"}, false},
        {"x_block.attn.ln_k", {"attn.norm_k"}, false},
        {"context_block.attn.ln_q", {"attn.norm_added_q"}, false},
        {"context_block.attn.ln_k", {"attn.norm_added_k"}, false},
        {"x_block.attn.proj", {"attn.to_out.0"}, false},
        {"context_block.attn.proj", {"attn.to_add_out"}, false},
        {"x_block.attn2.qkv", {"attn2.to_q", "attn2.to_k", "attn2.to_v"}, false},
        {"x_block.attn2.ln_q", {"attn2.norm_q"}, false},
        {"x_block.attn2.ln_k", {"attn2.norm_k"}, false},
        {"x_block.attn2.proj", {"attn2.to_out.0"}, false},
        {"x_block.adaLN_modulation.1", {"norm1.linear"}, false},
        {"context_block.adaLN_modulation.1", {"norm1_context.linear"}, true},
        {"x_block.mlp.fc1", {"ff.net.0.proj"}, false},
        {"x_block.mlp.fc2", {"ff.net.2"}, false},
        {"context_block.mlp.fc1", {"ff_context.net.0.proj"}, false},
        {"context_block.mlp.fc2", {"ff_context.net.2"}, false},
    };
    static const struct {
        const char *orig, *diff;
        bool swap;
    } top[] = {
        {"x_embedder.proj", "pos_embed.proj", false},
        {"t_embedder.mlp.0", "time_text_embed.timestep_embedder.linear_1", false},
        {"t_embedder.mlp.2", "time_text_embed.timestep_embedder.linear_2", false},
        {"y_embedder.mlp.0", "time_text_embed.text_embedder.linear_1", false},
        {"y_embedder.mlp.2", "time_text_embed.text_embedder.linear_2", false},
        {"context_embedder", "context_embedder", false},
        {"final_layer.adaLN_modulation.1", "norm_out.linear", true},
        {"final_layer.linear", "proj_out", false},
    };
    float *bufs[512];
    int nb = 0, used = 0;
    silt_st_writer *w = silt_st_writer_create();
    char on[256], dn[3][256];
    const char *dp[3] = {dn[0], dn[1], dn[2]};
    for (size_t k = 0; k < sizeof top / sizeof top[0]; k++)
        for (int wb = 0; wb < 2; wb++) {
            snprintf(on, sizeof on, "model.diffusion_model.%s.%s", top[k].orig, wb ? "bias" : "weight");
            snprintf(dn[0], sizeof dn[0], "%s.%s", top[k].diff, wb ? "bias" : "weight");
            if ((bufs[nb] = conv_add(w, d, on, dp, 1, top[k].swap, &used))) nb++;
        }
    snprintf(dn[0], sizeof dn[0], "pos_embed.pos_embed");
    if ((bufs[nb] = conv_add(w, d, "model.diffusion_model.pos_embed", dp, 1, false, &used))) nb++;
    for (int i = 0; i < 3; i++)
        for (size_t k = 0; k < sizeof blk / sizeof blk[0]; k++)
            for (int wb = 0; wb < 2; wb++) {
                int nd = blk[k].diff[1] ? 3 : 1;
                snprintf(on, sizeof on, "model.diffusion_model.joint_blocks.%d.%s.%s", i, blk[k].orig,
                         wb ? "bias" : "weight");
                for (int j = 0; j < nd; j++)
                    snprintf(dn[j], sizeof dn[j], "transformer_blocks.%d.%s.%s", i, blk[k].diff[j],
                             wb ? "bias" : "weight");
                if ((bufs[nb] = conv_add(w, d, on, dp, nd, blk[k].swap_last && i == 2, &used))) nb++;
            }
    CHECK_MSG(used == silt_safetensors_count(d), "conversion used %d of %d tensors", used, silt_safetensors_count(d));
    char path[256];
    tmp_file(path, sizeof path, "sd35orig");
    CHECK_OK(silt_st_writer_write(w, path));
    silt_st_writer_free(w);
    for (int k = 0; k < nb; k++) free(bufs[k]);
    silt_safetensors *so = NULL;
    CHECK_OK(silt_safetensors_open(path, &so));
    mmdit_model *mo = load(so), *md = load(d);
    if (mo) check_config(mo, MMDIT_LAYOUT_ORIGINAL, true, 1);
    if (mo && md) {
        int64_t n = 0, n2 = 0;
        float *a = run(md, io, "hidden_states_rect", NULL, &n), *b = run(mo, io, "hidden_states_rect", NULL, &n2);
        float *ref = io_f32(io, "output_rect", NULL);
        cmp("original layout (SD3.5 parts) rect", b, ref, n2);
        CHECK_MSG(a && b && n == n2 && memcmp(a, b, (size_t)n * sizeof(float)) == 0,
                  "converted SD3.5 original layout differs from the diffusers layout");
        free(a), free(b), free(ref);
    }
    mmdit_free(mo), mmdit_free(md);
    silt_safetensors_close(so);
    unlink(path);
done:
    silt_safetensors_close(d), silt_safetensors_close(io);
}

static void test_forward_errors(void) {
    silt_safetensors *st = open_st("mmdit_diffusers.model.safetensors");
    mmdit_model *m = load(st);
    if (!m) goto done;
    float t[3] = {1, 2, 3}, u[9] = {1, 1, 1, 0, 0, 0, 0, 0, 0};
    struct {
        int C, H, W, T, J, P;
        silt_perturb p;
        silt_status want;
        const char *why;
    } cases[] = {
        {15, 8, 8, 5, 24, 16, {0}, SILT_ERR_SHAPE, "in_channels"},
        {16, 7, 8, 5, 24, 16, {0}, SILT_ERR_SHAPE, "H not a multiple of patch"},
        {16, 8, 26, 5, 24, 16, {0}, SILT_ERR_SHAPE, "13 patches > pos_max 12"},
        {16, 8, 8, 5, 23, 16, {0}, SILT_ERR_SHAPE, "joint_dim"},
        {16, 8, 8, 5, 24, 15, {0}, SILT_ERR_SHAPE, "pooled_dim"},
        {16, 8, 8, 5, 24, 16, {.kind = SILT_PERTURB_IDENTITY, .row_begin = 1, .row_end = 4, .n_layers = 3, .n_heads = 3, .u = u},
         SILT_ERR_ARG, "rows beyond the batch"},
        {16, 8, 8, 5, 24, 16, {.kind = SILT_PERTURB_SEG, .row_begin = 0, .row_end = 1, .n_layers = 3, .n_heads = 3, .u = u},
         SILT_ERR_ARG, "SEG sigma 0"},
        {16, 8, 8, 5, 24, 16, {.kind = SILT_PERTURB_UNIFORM, .row_begin = 0, .row_end = 1, .n_layers = 3, .n_heads = 3},
         SILT_ERR_ARG, "u NULL"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        silt_graph *g = silt_graph_create(0);
        silt_tensor *x = silt_graph_new(g, 3, cases[k].C, cases[k].H, cases[k].W);
        silt_tensor *c = silt_graph_new(g, 3, cases[k].T, cases[k].J, 0), *p = silt_graph_new(g, 3, cases[k].P, 0, 0);
        memset(silt_f32(x), 0, (size_t)silt_numel(x) * sizeof(float));
        memset(silt_f32(c), 0, (size_t)silt_numel(c) * sizeof(float));
        memset(silt_f32(p), 0, (size_t)silt_numel(p) * sizeof(float));
        silt_tensor *out = mmdit_forward(g, m, x, t, c, p, &cases[k].p);
        CHECK_MSG(out == NULL && silt_graph_status(g) == cases[k].want, "forward error case '%s': status %d",
                  cases[k].why, (int)silt_graph_status(g));
        silt_graph_free(g);
    }
done:
    mmdit_free(m);
    silt_safetensors_close(st);
}

int main(void) {
    printf("mmdit golden (criterion max|err| <= %.0e * max|ref|)\n", TOL);
    test_plain();
    test_pag();
    test_headid();
    test_perturb_vs_ref();
    test_gradient();
    test_loader_errors();
    test_original_sd35();
    test_forward_errors();
    CHECK(mmdit_load(NULL, NULL) == SILT_ERR_ARG);
    mmdit_free(NULL);
    CHECK(strcmp(mmdit_layout_name(MMDIT_LAYOUT_ORIGINAL), "original") == 0);
    mmdit_layout l = MMDIT_LAYOUT_ORIGINAL;
    CHECK_OK(mmdit_layout_from_name("diffusers", &l));
    CHECK(l == MMDIT_LAYOUT_DIFFUSERS);
    CHECK(mmdit_layout_from_name("sd3", &l) == SILT_ERR_ARG);
    return check_summary();
}
