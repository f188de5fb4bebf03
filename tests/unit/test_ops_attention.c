// Softmax and scaled-dot-product attention with masks, causal masking and
// SoftPAG head perturbation. Forwards (out, lse, probs_out) against a naive
// double reference (rtol 1e-5, atol 1e-6 for values of order 1); backwards
// against finite differences: gradcheck.h through the graph op on small
// shapes, and a double-precision directional check (dircheck.h) on shapes that
// cross the 64-row query blocks.
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/blas.h"
#include "core/ops_attention.h"
#include "dircheck.h"
#include "gradcheck.h"

// --- softmax ---------------------------------------------------------------------------

typedef struct { int64_t N, C; } sm_shape;

static void ref_softmax(double *out, double *const *in, void *user) {
    sm_shape *s = user;
    for (int64_t n = 0; n < s->N; n++) {
        const double *x = in[0] + n * s->C;
        double m = -INFINITY, sum = 0;
        for (int64_t c = 0; c < s->C; c++) m = x[c] > m ? x[c] : m;
        for (int64_t c = 0; c < s->C; c++) sum += m == -INFINITY ? 0 : exp(x[c] - m);
        for (int64_t c = 0; c < s->C; c++) out[n * s->C + c] = m == -INFINITY ? 0 : exp(x[c] - m) / sum;
    }
}

static silt_tensor *gc_softmax(silt_graph *g, silt_tensor **in, void *u) { return silt_softmax(g, in[0]); }

static void test_softmax(void) {
    const int64_t shapes[][2] = {{1, 1}, {5, 7}, {3, 130}, {270, 129}};
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        sm_shape s = {shapes[si][0], shapes[si][1]};
        int64_t n = s.N * s.C;
        float *x = new_f(n, -6, 6), *out = malloc(sizeof(float) * n);
        if (s.N > 1) {  // a large offset (stability), a -inf entry, and a fully -inf row
            for (int64_t c = 0; c < s.C; c++) x[c] += 1000.0f;
            x[s.C + 1 % s.C] = -INFINITY;
            for (int64_t c = 0; c < s.C; c++) x[(s.N - 1) * s.C + c] = -INFINITY;
        }
        softmax_fwd_cpu(out, x, s.N, s.C);
        double *in[1] = {to_d(x, n)}, *refd = malloc(sizeof(double) * n);
        ref_softmax(refd, in, &s);
        float *ref = to_f(refd, n);
        CHECK_CLOSE("softmax fwd", out, ref, n, 1e-5, 1e-7);
        if (s.N > 1) CHECK(out[(s.N - 1) * s.C] == 0.0f);
        // Backward: finite differences on the rows without infinities.
        float *R = new_f(n, -1, 1), *dx = calloc((size_t)n, sizeof(float));
        softmax_bwd_cpu(dx, R, out, s.N, s.C);
        if (s.N > 1) {
            for (int64_t i = s.C; i < n; i++) R[i] = 0;  // keep the perturbation off -inf rows
            memset(dx, 0, sizeof(float) * n);
            softmax_bwd_cpu(dx, R, out, s.N, s.C);
            sm_shape s1 = {1, s.C};
            dircheck("softmax", ref_softmax, in, 0, s.C, s.C, R, dx, &s1, 1e-4);
        }
        free(in[0]); free(refd); free(ref); free(x); free(out); free(R); free(dx);
    }
    int64_t shape[2] = {4, 11};
    silt_tensor *x = silt_tensor_create_f32(2, shape, true);
    test_fill(silt_f32(x), 44, -3, 3);
    silt_tensor *in[1] = {x};
    gradcheck_run("softmax", gc_softmax, in, 1, NULL, gradcheck_default());
    silt_tensor_free(x);
}

// --- attention reference ------------------------------------------------------------------

typedef struct {
    int64_t B, H, Tq, Tk, D, Dv;
    silt_attn_opts o;
    double *probs, *lse;  // optional outputs of the reference
} att_case;

// in: q (B,H,Tq,D), k (B,H,Tk,D), v (B,H,Tk,Dv); out (B,H,Tq,Dv)
static void ref_attention(double *out, double *const *in, void *user) {
    att_case *c = user;
    double scale = c->o.scale != 0 ? c->o.scale : 1.0 / sqrt((double)c->D);
    double *s = malloc(sizeof(double) * c->Tk);
    for (int64_t bh = 0; bh < c->B * c->H; bh++)
        for (int64_t i = 0; i < c->Tq; i++) {
            const double *q = in[0] + (bh * c->Tq + i) * c->D;
            double m = -INFINITY;
            for (int64_t j = 0; j < c->Tk; j++) {
                const double *k = in[1] + (bh * c->Tk + j) * c->D;
                double d = 0;
                for (int64_t x = 0; x < c->D; x++) d += q[x] * k[x];
                s[j] = scale * d + (c->o.mask ? c->o.mask[i * c->Tk + j] : 0.0);
                if (c->o.causal && j > i + (c->Tk - c->Tq)) s[j] = -INFINITY;
                if (s[j] > m) m = s[j];
            }
            double sum = 0;
            for (int64_t j = 0; j < c->Tk; j++) sum += m == -INFINITY ? 0 : exp(s[j] - m);
            if (c->lse) c->lse[bh * c->Tq + i] = m == -INFINITY ? -INFINITY : m + log(sum);
            double u = c->o.head_u ? c->o.head_u[bh] : 0;
            for (int64_t x = 0; x < c->Dv; x++) {
                double a = 0;
                for (int64_t j = 0; j < c->Tk; j++)
                    if (m != -INFINITY) a += exp(s[j] - m) / sum * in[2][(bh * c->Tk + j) * c->Dv + x];
                double o = (1 - u) * a;
                if (u != 0) o += u * in[2][(bh * c->Tk + i) * c->Dv + x];
                out[(bh * c->Tq + i) * c->Dv + x] = o;
            }
            if (c->probs)
                for (int64_t j = 0; j < c->Tk; j++)
                    c->probs[(bh * c->Tq + i) * c->Tk + j] = m == -INFINITY ? 0 : exp(s[j] - m) / sum;
        }
    free(s);
}

// -inf compares as a sentinel; both sides must agree on where it is.
static void check_lse(const char *what, const float *lse, const double *ref, int64_t n) {
    float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
    int64_t mismatch = 0;
    for (int64_t i = 0; i < n; i++) {
        mismatch += (lse[i] == -INFINITY) != (ref[i] == -INFINITY);
        a[i] = lse[i] == -INFINITY ? -1e30f : lse[i];
        b[i] = ref[i] == -INFINITY ? -1e30f : (float)ref[i];
    }
    CHECK_MSG(mismatch == 0, "%s: %lld rows disagree on being fully masked", what, (long long)mismatch);
    CHECK_CLOSE(what, a, b, n, 1e-5, 1e-6);
    free(a);
    free(b);
}

typedef struct {
    const char *name;
    int64_t B, H, Tq, Tk, D, Dv;
    float scale;
    int mask;    // 0 none, 1 random with some -inf and a fully masked row
    bool causal;
    int head_u;  // 0 none, 1 random in (0,1), 2 all ones, 3 all zeros
} att_spec;

static const att_spec specs[] = {
    {"plain odd", 2, 3, 7, 5, 9, 9, 0, 0, false, 0},
    {"Dv != D, scale", 2, 3, 7, 5, 9, 4, 0.3f, 0, false, 0},
    {"T=65 (blocks)", 1, 2, 65, 65, 8, 8, 0, 0, false, 0},
    {"mask", 2, 3, 7, 5, 9, 6, 0, 1, false, 0},
    {"mask T=65", 1, 2, 65, 65, 8, 5, 0, 1, false, 0},
    {"causal Tq<Tk", 2, 3, 5, 9, 7, 7, 0, 0, true, 0},
    {"causal Tq>Tk", 2, 1, 7, 4, 5, 3, 0, 0, true, 0},
    {"causal T=70", 1, 2, 70, 70, 6, 6, 0, 0, true, 0},
    {"causal+mask Tq=66 Tk=131", 1, 2, 66, 131, 5, 4, 0, 1, true, 0},
    {"softpag", 2, 3, 9, 9, 9, 7, 0, 0, false, 1},
    {"softpag mask causal T=65", 2, 2, 65, 65, 6, 5, 0, 1, true, 1},
    {"pag u=1", 2, 3, 9, 9, 9, 7, 0, 1, false, 2},
    {"u=0", 2, 3, 9, 9, 9, 7, 0, 1, true, 3},
};

typedef struct {
    att_case c;
    float *q, *k, *v, *mask, *u;
} att_data;

static att_data make_case(const att_spec *sp) {
    att_data d = {.c = {sp->B, sp->H, sp->Tq, sp->Tk, sp->D, sp->Dv, {0}, NULL, NULL}};
    d.c.o.scale = sp->scale;
    d.c.o.causal = sp->causal;
    d.q = new_f(sp->B * sp->H * sp->Tq * sp->D, -1, 1);
    d.k = new_f(sp->B * sp->H * sp->Tk * sp->D, -1, 1);
    d.v = new_f(sp->B * sp->H * sp->Tk * sp->Dv, -1, 1);
    if (sp->mask) {
        d.mask = new_f(sp->Tq * sp->Tk, -1, 1);
        for (int64_t i = 0; i < sp->Tq * sp->Tk; i += 3) d.mask[i] = -INFINITY;
        int64_t full = sp->Tq / 2;  // one fully masked row in the middle
        for (int64_t j = 0; j < sp->Tk; j++) d.mask[full * sp->Tk + j] = -INFINITY;
        d.c.o.mask = d.mask;
    }
    if (sp->head_u) {
        d.u = new_f(sp->B * sp->H, 0.1f, 0.9f);
        for (int64_t i = 0; i < sp->B * sp->H; i++) d.u[i] = sp->head_u == 2 ? 1.0f : sp->head_u == 3 ? 0.0f : d.u[i];
        d.c.o.head_u = d.u;
    }
    return d;
}

static void free_case(att_data *d) { free(d->q); free(d->k); free(d->v); free(d->mask); free(d->u); }

static int64_t nq(const att_case *c) { return c->B * c->H * c->Tq * c->D; }
static int64_t nk(const att_case *c) { return c->B * c->H * c->Tk * c->D; }
static int64_t nv(const att_case *c) { return c->B * c->H * c->Tk * c->Dv; }
static int64_t nout(const att_case *c) { return c->B * c->H * c->Tq * c->Dv; }

// Forward through the raw kernel; out, lse (B,H,Tq), probs (B,H,Tq,Tk) caller-owned.
static void run_fwd(const att_data *d, float *out, float *lse, float *probs, const float *head_u) {
    const att_case *c = &d->c;
    silt_attn_opts o = c->o;
    o.probs_out = probs;
    o.head_u = head_u;
    float *scratch = malloc(sizeof(float) * attention_scratch_floats(c->B, c->H, c->Tq, c->Tk, c->D, c->Dv));
    attention_fwd_cpu(out, lse, scratch, d->q, d->k, d->v, c->B, c->H, c->Tq, c->Tk, c->D, c->Dv, &o);
    free(scratch);
}

static void test_attention_fwd(void) {
    for (size_t si = 0; si < sizeof specs / sizeof *specs; si++) {
        const att_spec *sp = &specs[si];
        att_data d = make_case(sp);
        att_case *c = &d.c;
        int64_t no = nout(c), nl = c->B * c->H * c->Tq, np = nl * c->Tk;
        float *out = malloc(sizeof(float) * no), *lse = malloc(sizeof(float) * nl), *probs = malloc(sizeof(float) * np);
        for (int64_t i = 0; i < np; i++) probs[i] = NAN;  // every entry must be written
        run_fwd(&d, out, lse, probs, d.u);

        double *in[3] = {to_d(d.q, nq(c)), to_d(d.k, nk(c)), to_d(d.v, nv(c))};
        double *refo = malloc(sizeof(double) * no);
        c->lse = malloc(sizeof(double) * nl);
        c->probs = malloc(sizeof(double) * np);
        ref_attention(refo, in, c);
        float *rf = to_f(refo, no), *rp = to_f(c->probs, np);
        char what[128];
        snprintf(what, sizeof what, "attention fwd %s", sp->name);
        CHECK_CLOSE(what, out, rf, no, 1e-5, 1e-6);
        snprintf(what, sizeof what, "attention lse %s", sp->name);
        check_lse(what, lse, c->lse, nl);
        snprintf(what, sizeof what, "attention probs_out %s", sp->name);
        CHECK_CLOSE(what, probs, rp, np, 1e-5, 1e-7);

        // SoftPAG identities, bit for bit: u = 1 is V itself; u = 0 is plain attention;
        // and (0,1) is the convex mix of plain attention and V.
        if (sp->head_u) {
            float *plain = malloc(sizeof(float) * no);
            run_fwd(&d, plain, NULL, NULL, NULL);
            if (sp->head_u == 2) CHECK_MSG(memcmp(out, d.v, sizeof(float) * no) == 0, "%s: u=1 output is not V", sp->name);
            if (sp->head_u == 3) CHECK_MSG(memcmp(out, plain, sizeof(float) * no) == 0, "%s: u=0 differs from plain", sp->name);
            if (sp->head_u == 1) {
                float *mix = malloc(sizeof(float) * no);
                for (int64_t bh = 0; bh < c->B * c->H; bh++)
                    for (int64_t x = 0; x < c->Tq * c->Dv; x++) {
                        int64_t j = bh * c->Tq * c->Dv + x;
                        mix[j] = (1 - d.u[bh]) * plain[j] + d.u[bh] * d.v[j];
                    }
                snprintf(what, sizeof what, "softpag = (1-u) attn + u V %s", sp->name);
                CHECK_CLOSE(what, out, mix, no, 1e-5, 1e-6);
                free(mix);
            }
            free(plain);
        }
        // The masked-out row gives zeros (times (1-u)), never NaN.
        if (sp->mask && !sp->head_u) {
            int64_t full = c->Tq / 2, bad = 0;
            for (int64_t x = 0; x < c->Dv; x++) bad += out[full * c->Dv + x] != 0.0f;
            CHECK_MSG(bad == 0, "%s: fully masked row is not zero", sp->name);
        }
        for (int i = 0; i < 3; i++) free(in[i]);
        free(refo); free(c->lse); free(c->probs); free(rf); free(rp);
        free(out); free(lse); free(probs);
        free_case(&d);
    }
    // Scratch is per-thread tiles, not a (Tq x Tk) map per head.
    int64_t sf = attention_scratch_floats(4, 16, 4096, 4096, 64, 64);
    CHECK(sf > 0 && sf <= 64 * 2 * SILT_ATTN_BLOCK * 4096);
}

// --- attention backward -------------------------------------------------------------------

static silt_tensor *gc_attention(silt_graph *g, silt_tensor **in, void *u) {
    return silt_attention(g, in[0], in[1], in[2], u);
}

static silt_tensor *tensor_from(const float *x, int64_t d0, int64_t d1, int64_t d2, int64_t d3, bool rg) {
    int64_t shape[4] = {d0, d1, d2, d3};
    silt_tensor *t = silt_tensor_create_f32(4, shape, rg);
    memcpy(t->data, x, sizeof(float) * d0 * d1 * d2 * d3);
    return t;
}

static void test_attention_gradcheck(void) {
    for (size_t si = 0; si < sizeof specs / sizeof *specs; si++) {
        const att_spec *sp = &specs[si];
        // The graph-op gradcheck probes f32 inputs; keep its shapes small
        // (T=65 cases stay: they cross the query block boundary).
        if (sp->B * sp->H * sp->Tq * sp->Tk > 20000) continue;
        att_data d = make_case(sp);
        att_case *c = &d.c;
        // One case checks that inputs without grad are left alone (k frozen).
        bool k_grad = si != 3;
        silt_tensor *in[3] = {tensor_from(d.q, c->B, c->H, c->Tq, c->D, true),
                              tensor_from(d.k, c->B, c->H, c->Tk, c->D, k_grad),
                              tensor_from(d.v, c->B, c->H, c->Tk, c->Dv, true)};
        char what[128];
        snprintf(what, sizeof what, "attention %s", sp->name);
        gradcheck_run(what, gc_attention, in, 3, &c->o, gradcheck_default());
        CHECK(k_grad || in[1]->grad == NULL);
        for (int i = 0; i < 3; i++) silt_tensor_free(in[i]);
        free_case(&d);
    }
}

// Larger shapes through the raw kernels, against the double reference.
static void test_attention_dircheck(void) {
    static const att_spec big[] = {
        {"dir mask causal softpag T=130", 2, 2, 130, 130, 16, 12, 0, 1, true, 1},
        {"dir causal Tq=70 Tk=150", 1, 3, 70, 150, 8, 8, 0.2f, 0, true, 0},
        {"dir pag u=1", 1, 2, 66, 66, 8, 8, 0, 0, false, 2},
    };
    for (size_t si = 0; si < sizeof big / sizeof *big; si++) {
        const att_spec *sp = &big[si];
        att_data d = make_case(sp);
        att_case *c = &d.c;
        int64_t no = nout(c);
        float *out = malloc(sizeof(float) * no), *lse = malloc(sizeof(float) * c->B * c->H * c->Tq);
        run_fwd(&d, out, lse, NULL, d.u);
        float *R = new_f(no, -1, 1);
        float *dq = calloc((size_t)nq(c), sizeof(float)), *dk = calloc((size_t)nk(c), sizeof(float));
        float *dv = calloc((size_t)nv(c), sizeof(float));
        float *scratch = malloc(sizeof(float) * attention_scratch_floats(c->B, c->H, c->Tq, c->Tk, c->D, c->Dv));
        attention_bwd_cpu(dq, dk, dv, scratch, R, d.q, d.k, d.v, out, lse, c->B, c->H, c->Tq, c->Tk, c->D, c->Dv, &c->o);
        double *in[3] = {to_d(d.q, nq(c)), to_d(d.k, nk(c)), to_d(d.v, nv(c))};
        dircheck(sp->name, ref_attention, in, 0, nq(c), no, R, dq, c, 1e-4);
        dircheck(sp->name, ref_attention, in, 1, nk(c), no, R, dk, c, 1e-4);
        dircheck(sp->name, ref_attention, in, 2, nv(c), no, R, dv, c, 1e-4);
        if (sp->head_u == 2) {  // PAG: no gradient reaches q and k; dv is dout itself
            int64_t nz = 0;
            for (int64_t i = 0; i < nq(c); i++) nz += dq[i] != 0;
            CHECK(nz == 0 && memcmp(dv, R, sizeof(float) * no) == 0);
        }
        // Without a saved lse the kernel recomputes it; with NULL d-buffers it
        // skips them; either way the other gradients are unchanged; and it
        // accumulates into what is there.
        float *dq2 = calloc((size_t)nq(c), sizeof(float)), *dv2 = malloc(sizeof(float) * nv(c));
        for (int64_t i = 0; i < nv(c); i++) dv2[i] = 1.0f;
        attention_bwd_cpu(dq2, NULL, dv2, scratch, R, d.q, d.k, d.v, NULL, NULL, c->B, c->H, c->Tq, c->Tk, c->D, c->Dv,
                          &c->o);
        for (int64_t i = 0; i < nv(c); i++) dv2[i] -= 1.0f;
        CHECK_CLOSE("attention bwd without lse: dq", dq2, dq, nq(c), 1e-4, 1e-6);
        CHECK_CLOSE("attention bwd accumulates: dv", dv2, dv, nv(c), 1e-4, 1e-6);
        for (int i = 0; i < 3; i++) free(in[i]);
        free(out); free(lse); free(R); free(dq); free(dk); free(dv); free(scratch); free(dq2); free(dv2);
        free_case(&d);
    }
}

// --- graph op: values and errors ------------------------------------------------------------

static void test_attention_graph(void) {
    const att_spec *sp = &specs[10];  // softpag mask causal T=65
    att_data d = make_case(sp);
    att_case *c = &d.c;
    silt_tensor *q = tensor_from(d.q, c->B, c->H, c->Tq, c->D, true), *k = tensor_from(d.k, c->B, c->H, c->Tk, c->D, false);
    silt_tensor *v = tensor_from(d.v, c->B, c->H, c->Tk, c->Dv, false);
    float *ref = malloc(sizeof(float) * nout(c));
    run_fwd(&d, ref, NULL, NULL, d.u);
    silt_graph *g = silt_graph_create(0);
    silt_tensor *o = silt_attention(g, q, k, v, &c->o);
    CHECK(o && o->ndim == 4 && o->shape[2] == c->Tq && o->shape[3] == c->Dv && o->requires_grad);
    CHECK(o && memcmp(o->data, ref, sizeof(float) * nout(c)) == 0);
    // Defaults when o is NULL: plain attention with scale 1/sqrt(D).
    silt_graph_set_grad(g, false);
    silt_tensor *o2 = silt_attention(g, q, k, v, NULL);
    run_fwd(&(att_data){.c = {c->B, c->H, c->Tq, c->Tk, c->D, c->Dv, {0}, NULL, NULL}, .q = d.q, .k = d.k, .v = d.v}, ref,
            NULL, NULL, NULL);
    CHECK(o2 && !o2->requires_grad && memcmp(o2->data, ref, sizeof(float) * nout(c)) == 0);
    silt_graph_set_grad(g, true);

    // Errors: NULL and a status naming the op.
    int64_t s3[3] = {2, 65, 6}, sk[4] = {2, 2, 65, 7}, sv[4] = {2, 2, 64, 5}, sq[4] = {2, 2, 30, 6}, sb[4] = {1, 2, 65, 6};
    silt_tensor *bad3 = silt_tensor_create_f32(3, s3, false), *badk = silt_tensor_create_f32(4, sk, false);
    silt_tensor *badv = silt_tensor_create_f32(4, sv, false), *shortq = silt_tensor_create_f32(4, sq, false);
    silt_tensor *badb = silt_tensor_create_f32(4, sb, false);
    struct { silt_tensor *q, *k, *v; } bad[] = {{bad3, k, v}, {q, badk, v}, {q, k, badv}, {badb, k, v}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        silt_graph_reset(g);
        CHECK(silt_attention(g, bad[i].q, bad[i].k, bad[i].v, NULL) == NULL && silt_graph_status(g) == SILT_ERR_SHAPE);
        CHECK(strstr(silt_last_error_message(), "attention") != NULL);
    }
    silt_graph_reset(g);
    CHECK(silt_attention(g, shortq, k, v, &c->o) == NULL && silt_graph_status(g) == SILT_ERR_SHAPE);  // head_u, Tq != Tk
    CHECK(strstr(silt_last_error_message(), "Tq == Tk") != NULL);
    silt_graph_reset(g);
    silt_attn_opts nanscale = {.scale = NAN};
    CHECK(silt_attention(g, q, k, v, &nanscale) == NULL && silt_graph_status(g) == SILT_ERR_ARG);
    silt_graph_reset(g);
    CHECK(silt_attention(g, NULL, k, v, NULL) == NULL && silt_graph_status(g) == SILT_OK);
    // Cross attention without head_u is fine with Tq != Tk.
    CHECK(silt_attention(g, shortq, k, v, NULL) != NULL && silt_graph_status(g) == SILT_OK);

    silt_graph_free(g);
    silt_tensor_free(q); silt_tensor_free(k); silt_tensor_free(v); silt_tensor_free(bad3); silt_tensor_free(badk);
    silt_tensor_free(badv); silt_tensor_free(shortq); silt_tensor_free(badb);
    free(ref);
    free_case(&d);
}

// The attention kernels schedule tiles by the BLAS in use: in parallel over
// OpenMP threads with a serial BLAS, one after another with a threaded
// OpenBLAS (see ops_attention.c). OpenBLAS reads its thread count when loaded,
// so the other schedule needs a second process: the test re-runs itself with
// OPENBLAS_NUM_THREADS=1 and checks that run's exit status too.
static void run_serial_blas_pass(const char *self) {
    pid_t pid = fork();
    if (pid == 0) {
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        setenv("SILT_TEST_SECOND_PASS", "1", 1);
        execl(self, self, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    CHECK_MSG(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "second pass with OPENBLAS_NUM_THREADS=1 failed (status %d)", st);
}

int main(int argc, char **argv) {
    (void)argc;
    test_seed(11);
    bool second = getenv("SILT_TEST_SECOND_PASS") != NULL;
    // The second pass repeats what depends on the schedule; the graph-op
    // gradchecks (thousands of tiny calls, run serially anyway) stay in pass 1.
    if (!second) test_softmax();
    test_attention_fwd();
    if (!second) test_attention_gradcheck();
    test_attention_dircheck();
    test_attention_graph();
    int64_t tile = 2 * SILT_ATTN_BLOCK * 4096;
    printf("%s: attention tiles %s (BLAS %s, %d threads)\n", second ? "pass 2" : "pass 1",
           attention_scratch_floats(64, 1, 4096, 4096, 64, 64) > tile ? "in parallel" : "in sequence",
           silt_blas_info_get()->library, silt_blas_info_get()->threads);
    fflush(stdout);
    if (!second) run_serial_blas_pass(argv[0]);
    return check_summary();
}
