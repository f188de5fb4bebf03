// DiT: the model against a plainly written double-precision reference of the
// whole forward (both layouts, square and non-square grids) with every
// attention perturbation (SoftPAG/PAG identity, uniform, SEG finite and
// infinite blur, SLG skip); the perturbation invariants (u = 0 is the plain
// model, unperturbed rows are untouched); the DiT-private ops against naive
// versions; and gradients (finite differences) through ops and the model.
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/graph.h"
#include "core/ops.h"
#include "dit/dit.h"
#include "dit/dit_ops.h"
#include "gradcheck.h"

// --- the reference model (double) ---------------------------------------------------

static const float *param(const dit_model *m, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    for (int i = 0; i < dit_param_count(m); i++) {
        const char *n;
        silt_tensor *t = dit_param(m, i, &n);
        if (strcmp(n, name) == 0) return silt_f32(t);
    }
    CHECK_MSG(0, "no parameter %s", name);
    static float zeros[1 << 16];
    return zeros;
}

// y (n, out) = x (n, in) W^T + b
static void lin(double *y, const double *x, const float *w, const float *b, int n, int in, int out) {
    for (int r = 0; r < n; r++)
        for (int o = 0; o < out; o++) {
            double s = b ? b[o] : 0;
            for (int i = 0; i < in; i++) s += x[r * in + i] * w[o * in + i];
            y[r * out + o] = s;
        }
}

static double silu(double v) { return v / (1 + exp(-v)); }

// LayerNorm (no affine) then x (1 + scale) + shift over rows of D.
static void ln_mod(double *y, const double *x, const double *shift, const double *scale, int n, int D, double eps) {
    for (int r = 0; r < n; r++) {
        double mu = 0, var = 0;
        for (int d = 0; d < D; d++) mu += x[r * D + d];
        mu /= D;
        for (int d = 0; d < D; d++) var += (x[r * D + d] - mu) * (x[r * D + d] - mu);
        var /= D;
        for (int d = 0; d < D; d++) y[r * D + d] = (x[r * D + d] - mu) / sqrt(var + eps) * (1 + scale[d]) + shift[d];
    }
}

// torch reflect padding index
static int refl(int p, int n) {
    if (n == 1) return 0;
    while (p < 0 || p >= n) p = p < 0 ? -p : 2 * (n - 1) - p;
    return p;
}

// SEG kernel (pipeline_seg.py), written out again: odd size, clipped per side.
static int seg_taps(double *w, double sigma, int n) {
    int c = (int)ceil(6 * sigma), k = c + 1 - c % 2, lim = n % 2 ? n : n + 1;
    if (k > lim) k = lim;
    double s = 0;
    for (int i = 0; i < k; i++) s += w[i] = exp(-0.5 * pow((i - (k - 1) / 2.0) / sigma, 2));
    for (int i = 0; i < k; i++) w[i] /= s;
    return k;
}

// softmax(q K^T / sqrt(Dh)) V for one query; K, V: (T, Dh) with row stride ld.
static void attend(double *o, const double *q, const double *K, const double *V, int T, int Dh, int ld) {
    double sc[256], mx = -1e300, z = 0;
    for (int j = 0; j < T; j++) {
        double s = 0;
        for (int d = 0; d < Dh; d++) s += q[d] * K[j * ld + d];
        sc[j] = s / sqrt((double)Dh);
        if (sc[j] > mx) mx = sc[j];
    }
    for (int j = 0; j < T; j++) z += sc[j] = exp(sc[j] - mx);
    for (int d = 0; d < Dh; d++) {
        double s = 0;
        for (int j = 0; j < T; j++) s += sc[j] / z * V[j * ld + d];
        o[d] = s;
    }
}

static void ref_forward(const dit_model *m, const float *x, int B, int Hh, int Ww, const float *t, const int32_t *y,
                        const silt_perturb *p, double *out) {
    const dit_config *c = dit_get_config(m);
    bool orig = c->layout == DIT_LAYOUT_ORIGINAL;
    int D = c->hidden, C = c->in_channels, ps = c->patch, gh = Hh / ps, gw = Ww / ps, T = gh * gw, H = c->heads;
    int Dh = D / H, M = c->mlp_hidden, Co = c->out_channels;
    double *h = calloc((size_t)B * T * D, sizeof(double)), *a = calloc((size_t)T * D, sizeof(double));
    double *qkv = calloc((size_t)T * 3 * D, sizeof(double)), *att = calloc((size_t)T * D, sizeof(double));
    double *f = calloc((size_t)T * M, sizeof(double)), *f2 = calloc((size_t)T * D, sizeof(double));
    double *qb = calloc((size_t)T * Dh, sizeof(double)), tmp[4096], sc[512], mod[6 * 512];
    // patch embedding + positions
    const float *pw = param(m, orig ? "x_embedder.proj.weight" : "pos_embed.proj.weight");
    const float *pb = param(m, orig ? "x_embedder.proj.bias" : "pos_embed.proj.bias");
    const float *pos = orig ? param(m, "pos_embed") : NULL;
    double base = (double)c->input_size / ps;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < gh; i++)
            for (int j = 0; j < gw; j++)
                for (int d = 0; d < D; d++) {
                    double s = pb[d];
                    for (int ch = 0; ch < C; ch++)
                        for (int u = 0; u < ps; u++)
                            for (int v = 0; v < ps; v++)
                                s += pw[((d * C + ch) * ps + u) * ps + v] *
                                     x[((b * C + ch) * Hh + i * ps + u) * Ww + j * ps + v];
                    if (pos) s += pos[(i * gw + j) * D + d];
                    else {  // diffusers: sin-cos at positions scaled to the base grid; columns first
                        int q4 = D / 4, half = d / (D / 2), k = d % (D / 2) % q4, is_cos = d % (D / 2) >= q4;
                        double pp = half == 0 ? j / (gw / base) : i / (gh / base);
                        double w = pow(10000.0, -(double)k / q4);
                        s += is_cos ? cos(pp * w) : sin(pp * w);
                    }
                    h[((size_t)b * T + i * gw + j) * D + d] = s;
                }
    for (int b = 0; b < B; b++) {
        bool prow = p && b >= p->row_begin && b < p->row_end;
        // conditioning (timestep sinusoid in fp32, as the references compute it)
        double tf[256];
        for (int i = 0; i < 128; i++) {
            float e = -logf(10000.0f) * (float)i;
            e = e / (128.0f - (orig ? 0.0f : 1.0f));
            float arg = t[b] * expf(e);
            tf[i] = cosf(arg);
            tf[128 + i] = sinf(arg);
        }
        const char *eb = orig ? "t_embedder.mlp" : "transformer_blocks.0.norm1.emb.timestep_embedder.linear_";
        double t1[512];
        lin(t1, tf, param(m, orig ? "%s.0.weight" : "%s1.weight", eb), param(m, orig ? "%s.0.bias" : "%s1.bias", eb), 1,
            256, D);
        for (int d = 0; d < D; d++) t1[d] = silu(t1[d]);
        lin(sc, t1, param(m, orig ? "%s.2.weight" : "%s2.weight", eb), param(m, orig ? "%s.2.bias" : "%s2.bias", eb), 1, D,
            D);
        const float *tab = param(m, orig ? "y_embedder.embedding_table.weight"
                                         : "transformer_blocks.0.norm1.emb.class_embedder.embedding_table.weight");
        for (int d = 0; d < D; d++) sc[d] = silu(sc[d] + tab[y[b] * D + d]);
        double *xb = h + (size_t)b * T * D;
        for (int l = 0; l < c->depth; l++) {
            bool on = prow && silt_perturb_layer(p, l);
            if (on && p->kind == SILT_PERTURB_SKIP) continue;
            if (orig) lin(mod, sc, param(m, "blocks.%d.adaLN_modulation.1.weight", l),
                          param(m, "blocks.%d.adaLN_modulation.1.bias", l), 1, D, 6 * D);
            else lin(mod, sc, param(m, "transformer_blocks.%d.norm1.linear.weight", l),
                     param(m, "transformer_blocks.%d.norm1.linear.bias", l), 1, D, 6 * D);
            ln_mod(a, xb, mod, mod + D, T, D, 1e-6);
            if (orig) lin(qkv, a, param(m, "blocks.%d.attn.qkv.weight", l), param(m, "blocks.%d.attn.qkv.bias", l), T, D, 3 * D);
            else lin(qkv, a, param(m, "transformer_blocks.%d.attn1.to_qkv.weight", l),
                     param(m, "transformer_blocks.%d.attn1.to_qkv.bias", l), T, D, 3 * D);
            for (int hd = 0; hd < H; hd++) {
                const double *Q = qkv + hd * Dh, *K = qkv + D + hd * Dh, *V = qkv + 2 * D + hd * Dh;
                double u = on ? silt_perturb_u(p, l, hd) : 0;
                for (int i = 0; i < T; i++) attend(att + i * D + hd * Dh, Q + i * 3 * D, K, V, T, Dh, 3 * D);
                if (u == 0) continue;
                for (int i = 0; i < T; i++)
                    for (int d = 0; d < Dh; d++) {
                        double tg;
                        if (p->kind == SILT_PERTURB_IDENTITY || p->kind == SILT_PERTURB_IDENTITY_IMAGE) {
                            tg = V[i * 3 * D + d];  // identity map: each token keeps its own value
                        } else if (p->kind == SILT_PERTURB_UNIFORM) {
                            tg = 0;
                            for (int j = 0; j < T; j++) tg += V[j * 3 * D + d] / T;
                        } else {
                            continue;  // SEG below
                        }
                        att[i * D + hd * Dh + d] = (1 - u) * att[i * D + hd * Dh + d] + u * tg;
                    }
                if (p->kind != SILT_PERTURB_SEG) continue;
                // SEG: blurred queries (direct 2-D sum, reflect padding), then attention.
                double wi[64], wj[64];
                bool inf = !(p->seg_sigma <= 9999.0);
                int ki = inf ? 0 : seg_taps(wi, p->seg_sigma, gh), kj = inf ? 0 : seg_taps(wj, p->seg_sigma, gw);
                for (int i = 0; i < gh; i++)
                    for (int j = 0; j < gw; j++)
                        for (int d = 0; d < Dh; d++) {
                            double s = 0;
                            if (inf) {
                                for (int n = 0; n < T; n++) s += Q[n * 3 * D + d] / T;
                            } else {
                                for (int di = 0; di < ki; di++)
                                    for (int dj = 0; dj < kj; dj++)
                                        s += wi[di] * wj[dj] *
                                             Q[(refl(i + di - ki / 2, gh) * gw + refl(j + dj - kj / 2, gw)) * 3 * D + d];
                            }
                            qb[(i * gw + j) * Dh + d] = s;
                        }
                for (int i = 0; i < T; i++) {
                    attend(tmp, qb + i * Dh, K, V, T, Dh, 3 * D);
                    for (int d = 0; d < Dh; d++) att[i * D + hd * Dh + d] = (1 - u) * att[i * D + hd * Dh + d] + u * tmp[d];
                }
            }
            if (orig) lin(f2, att, param(m, "blocks.%d.attn.proj.weight", l), param(m, "blocks.%d.attn.proj.bias", l), T, D, D);
            else lin(f2, att, param(m, "transformer_blocks.%d.attn1.to_out.0.weight", l),
                     param(m, "transformer_blocks.%d.attn1.to_out.0.bias", l), T, D, D);
            for (int i = 0; i < T * D; i++) xb[i] += mod[2 * D + i % D] * f2[i];
            ln_mod(a, xb, mod + 3 * D, mod + 4 * D, T, D, orig ? 1e-6 : 1e-5);
            if (orig) lin(f, a, param(m, "blocks.%d.mlp.fc1.weight", l), param(m, "blocks.%d.mlp.fc1.bias", l), T, D, M);
            else lin(f, a, param(m, "transformer_blocks.%d.ff.net.0.proj.weight", l),
                     param(m, "transformer_blocks.%d.ff.net.0.proj.bias", l), T, D, M);
            for (int i = 0; i < T * M; i++) {
                double v = f[i];
                f[i] = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
            }
            if (orig) lin(f2, f, param(m, "blocks.%d.mlp.fc2.weight", l), param(m, "blocks.%d.mlp.fc2.bias", l), T, M, D);
            else lin(f2, f, param(m, "transformer_blocks.%d.ff.net.2.weight", l),
                     param(m, "transformer_blocks.%d.ff.net.2.bias", l), T, M, D);
            for (int i = 0; i < T * D; i++) xb[i] += mod[5 * D + i % D] * f2[i];
        }
        lin(mod, sc, param(m, orig ? "final_layer.adaLN_modulation.1.weight" : "proj_out_1.weight"),
            param(m, orig ? "final_layer.adaLN_modulation.1.bias" : "proj_out_1.bias"), 1, D, 2 * D);
        ln_mod(a, xb, mod, mod + D, T, D, 1e-6);
        int pp = ps * ps * Co;
        double *o = calloc((size_t)T * pp, sizeof(double));
        lin(o, a, param(m, orig ? "final_layer.linear.weight" : "proj_out_2.weight"),
            param(m, orig ? "final_layer.linear.bias" : "proj_out_2.bias"), T, D, pp);
        for (int i = 0; i < gh; i++)
            for (int j = 0; j < gw; j++)
                for (int u = 0; u < ps; u++)
                    for (int v = 0; v < ps; v++)
                        for (int ch = 0; ch < Co; ch++)
                            out[((b * Co + ch) * Hh + i * ps + u) * Ww + j * ps + v] = o[(i * gw + j) * pp + (u * ps + v) * Co + ch];
        free(o);
    }
    free(h); free(a); free(qkv); free(att); free(f); free(f2); free(qb);
}

// --- model tests --------------------------------------------------------------------

typedef struct {
    const dit_model *m;
    int B, Hh, Ww;
    const float *t;
    const int32_t *y;
    const silt_perturb *p;
} fwd_ctx;

static silt_tensor *fwd_fn(silt_graph *g, silt_tensor **in, void *user) {
    fwd_ctx *c = user;
    return dit_forward(g, c->m, in[0], c->t, c->y, c->p);
}

// Runs the model; returns a malloc'ed copy of the output.
static float *run(fwd_ctx *c, silt_tensor *x) {
    silt_graph *g = silt_graph_create(0);
    silt_graph_set_grad(g, false);
    silt_tensor *o = fwd_fn(g, &x, c);
    float *r = NULL;
    CHECK_MSG(o != NULL, "forward failed: %s", silt_last_error());
    if (o) {
        r = malloc(silt_nbytes(o));
        memcpy(r, o->data, silt_nbytes(o));
    }
    silt_graph_free(g);
    return r;
}

static void compare_ref(const char *what, const float *got, const double *ref, int64_t n) {
    double dmax = 0, rmax = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(got[i] - ref[i]);
        if (!(d <= dmax)) dmax = d;
        if (fabs(ref[i]) > rmax) rmax = fabs(ref[i]);
    }
    CHECK_MSG(dmax <= 1e-4 * rmax, "%s: max|diff| %.3g vs max|ref| %.3g", what, dmax, rmax);
    if (getenv("CHECK_VERBOSE")) fprintf(stderr, "ok   %-44s rel %.3g\n", what, dmax / rmax);
}

static void test_model(dit_layout layout, int Hh, int Ww) {
    dit_config cfg = {.layout = layout, .depth = 3, .hidden = 24, .heads = 3, .patch = 2, .in_channels = 4,
                      .out_channels = 8, .input_size = 8, .num_classes = 5, .mlp_hidden = 40};
    dit_model *m = NULL;
    CHECK_OK(dit_create_random(&cfg, 7 + (uint64_t)layout, &m));
    if (!m) return;
    const int B = 3;
    int64_t xs[4] = {B, 4, Hh, Ww}, n = (int64_t)B * 8 * Hh * Ww;
    silt_tensor *x = silt_tensor_create_f32(4, xs, false);
    test_fill(silt_f32(x), silt_numel(x), -1.5f, 1.5f);
    float t[3] = {10.0f, 500.0f, 999.0f};
    int32_t y[3] = {5, 2, 2};  // [null, cond, cond]
    fwd_ctx ctx = {m, B, Hh, Ww, t, y, NULL};
    double *ref = malloc(sizeof(double) * (size_t)n);
    char what[128];
    const char *ln = dit_layout_name(layout);

    float *plain = run(&ctx, x);
    ref_forward(m, silt_f32(x), B, Hh, Ww, t, y, NULL, ref);
    snprintf(what, sizeof what, "%s %dx%d plain", ln, Hh, Ww);
    if (plain) compare_ref(what, plain, ref, n);

    // u per (layer, head): a mix of full, partial and untouched heads.
    float u[9] = {0, 1, 0, 0.5f, 0, 0.25f, 0, 0, 0};
    float zero[9] = {0};
    const silt_perturb_kind kinds[] = {SILT_PERTURB_IDENTITY, SILT_PERTURB_IDENTITY_IMAGE, SILT_PERTURB_UNIFORM,
                                       SILT_PERTURB_SEG, SILT_PERTURB_SEG, SILT_PERTURB_SEG, SILT_PERTURB_SKIP};
    const float sig[] = {0, 0, 0, 1.0f, 0.4f, INFINITY, 0};
    const int rows[][2] = {{2, 3}, {1, 3}, {0, 1}};
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
        for (int r = 0; r < 3; r++) {
            silt_perturb pz = {kinds[k], rows[r][0], rows[r][1], 3, 3, zero, sig[k]};
            silt_perturb pu = pz;
            pu.u = u;
            // u = 0 everywhere: exactly the plain forward.
            ctx.p = &pz;
            float *oz = run(&ctx, x);
            if (oz && plain) CHECK_MSG(memcmp(oz, plain, sizeof(float) * (size_t)n) == 0, "%s kind %d: u=0 differs", ln, kinds[k]);
            free(oz);
            ctx.p = &pu;
            float *op = run(&ctx, x);
            ref_forward(m, silt_f32(x), B, Hh, Ww, t, y, &pu, ref);
            snprintf(what, sizeof what, "%s %dx%d kind %d sigma %g rows [%d,%d)", ln, Hh, Ww, kinds[k], sig[k], rows[r][0],
                     rows[r][1]);
            if (op) compare_ref(what, op, ref, n);
            // Rows outside the perturbed range are those of the plain forward.
            int64_t per = n / B;
            for (int b = 0; op && plain && b < B; b++) {
                bool in = b >= rows[r][0] && b < rows[r][1];
                double dmax = 0, rmax = 0;
                for (int64_t i = b * per; i < (b + 1) * per; i++) {
                    dmax = fmax(dmax, fabs(op[i] - plain[i]));
                    rmax = fmax(rmax, fabs(plain[i]));
                }
                // Same batch, same products: bit-exact. SLG runs the kept rows as a
                // smaller batch, where BLAS may block differently: 1e-6 relative.
                double lim = kinds[k] == SILT_PERTURB_SKIP ? 1e-6 * rmax : 0;
                if (!in) CHECK_MSG(dmax <= lim, "%s: unperturbed row %d changed by %.3g", what, b, dmax);
                else CHECK_MSG(dmax > 1e-3 * rmax, "%s: perturbed row %d unchanged", what, b);
            }
            free(op);
        }
    // u = 1 on every head of every layer with IDENTITY is PAG on all layers.
    float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    silt_perturb pag = {SILT_PERTURB_IDENTITY, 2, 3, 3, 3, ones, 0};
    ctx.p = &pag;
    float *op = run(&ctx, x);
    ref_forward(m, silt_f32(x), B, Hh, Ww, t, y, &pag, ref);
    snprintf(what, sizeof what, "%s %dx%d PAG all heads", ln, Hh, Ww);
    if (op) compare_ref(what, op, ref, n);
    free(op);
    // Gradients through the whole model (x and one weight), with SEG and SLG.
    if (Hh == Ww || layout == DIT_LAYOUT_DIFFUSERS) {
        silt_perturb ps = {SILT_PERTURB_SEG, 1, 3, 3, 3, u, 1.0f}, pk = {SILT_PERTURB_SKIP, 2, 3, 3, 3, u, 0};
        silt_perturb pi = {SILT_PERTURB_UNIFORM, 2, 3, 3, 3, u, 0}, pd = {SILT_PERTURB_IDENTITY, 0, 2, 3, 3, u, 0};
        const silt_perturb *gp[4] = {&ps, &pk, &pi, &pd};
        silt_tensor *xg = silt_tensor_create_f32(4, xs, true);
        memcpy(xg->data, x->data, silt_nbytes(x));
        const char *wname;
        silt_tensor *w = NULL;
        for (int i = 0; i < dit_param_count(m) && !w; i++) {
            silt_tensor *pt = dit_param(m, i, &wname);
            if (strstr(wname, "1.attn") && strstr(wname, "qkv") && pt->ndim == 2) w = pt;
        }
        CHECK(w != NULL);
        if (w) {
            w->requires_grad = true;
            w->grad = silt_alloc(silt_nbytes(w));
            memset(w->grad, 0, silt_nbytes(w));
        }
        for (int k = 0; k < 4 && w; k++) {
            ctx.p = gp[k];
            silt_tensor *in[2] = {xg, w};
            gradcheck_opts o = gradcheck_default();
            o.max_probe = 12;
            snprintf(what, sizeof what, "%s %dx%d grad kind %d", ln, Hh, Ww, gp[k]->kind);
            gradcheck_run(what, fwd_fn, in, 2, &ctx, o);
        }
        if (w) w->requires_grad = false;
        silt_tensor_free(xg);
    }
    free(plain);
    free(ref);
    silt_tensor_free(x);
    dit_free(m);
}

// Argument checks: bad shapes and perturbation rows fail with a message, no crash.
static void test_errors(void) {
    dit_config cfg = {.layout = DIT_LAYOUT_ORIGINAL, .depth = 1, .hidden = 8, .heads = 2, .patch = 2, .in_channels = 4,
                      .out_channels = 4, .input_size = 4, .num_classes = 3, .mlp_hidden = 16};
    dit_model *m = NULL;
    CHECK_OK(dit_create_random(&cfg, 1, &m));
    dit_config bad = cfg;
    bad.heads = 3;
    dit_model *m2 = NULL;
    CHECK(dit_create_random(&bad, 1, &m2) == SILT_ERR_ARG && m2 == NULL);
    if (!m) return;
    CHECK(!dit_get_config(m)->learn_sigma && dit_get_config(m)->guided_channels == 3);
    silt_graph *g = silt_graph_create(0);
    float t[2] = {1, 2};
    int32_t y[2] = {0, 3}, ybad[2] = {0, 4};
    silt_tensor *x = silt_graph_new(g, 2, 4, 6, 6);  // original layout: must be input_size
    CHECK(dit_forward(g, m, x, t, y, NULL) == NULL && silt_graph_status(g) == SILT_ERR_SHAPE);
    silt_graph_reset(g);
    x = silt_graph_new(g, 2, 4, 4, 4);
    memset(x->data, 0, silt_nbytes(x));
    CHECK(dit_forward(g, m, x, t, ybad, NULL) == NULL && silt_graph_status(g) == SILT_ERR_ARG);
    silt_graph_reset(g);
    x = silt_graph_new(g, 2, 4, 4, 4);
    memset(x->data, 0, silt_nbytes(x));
    float u[2] = {1, 1};
    silt_perturb p = {SILT_PERTURB_IDENTITY, 1, 3, 1, 2, u, 0};
    CHECK(dit_forward(g, m, x, t, y, &p) == NULL && silt_graph_status(g) == SILT_ERR_ARG);
    silt_graph_reset(g);
    x = silt_graph_new(g, 2, 4, 4, 4);
    memset(x->data, 0, silt_nbytes(x));
    silt_perturb ps = {SILT_PERTURB_SEG, 1, 2, 1, 2, u, 0};
    CHECK(dit_forward(g, m, x, t, y, &ps) == NULL && silt_graph_status(g) == SILT_ERR_ARG);
    silt_graph_reset(g);
    x = silt_graph_new(g, 2, 4, 4, 4);
    memset(x->data, 0, silt_nbytes(x));
    CHECK(dit_forward(g, m, x, t, y, NULL) != NULL);
    silt_graph_free(g);
    dit_free(m);
    dit_layout l;
    CHECK(dit_layout_from_name("diffusers", &l) == SILT_OK && l == DIT_LAYOUT_DIFFUSERS);
    CHECK(dit_layout_from_name("sd3", &l) == SILT_ERR_ARG);
}

// --- op tests ------------------------------------------------------------------------

static void test_seg_kernel(void) {
    float w[64];
    // ceil(6 sigma) + 1 rounded down to odd, then clipped to the side
    CHECK(dit_seg_kernel(w, 64, 1.0, 64) == 7);
    CHECK(dit_seg_kernel(w, 64, 0.5, 64) == 3);
    CHECK(dit_seg_kernel(w, 64, 0.1, 64) == 1 && w[0] == 1.0f);
    CHECK(dit_seg_kernel(w, 64, 2.2, 64) == 15);
    CHECK(dit_seg_kernel(w, 64, 2.2, 8) == 9);  // even side n: n + 1
    CHECK(dit_seg_kernel(w, 64, 2.2, 7) == 7);  // odd side n: n
    CHECK(dit_seg_kernel(w, 64, 10.0, 16) == 17);
    int k = dit_seg_kernel(w, 64, 1.3, 64);
    double s = 0;
    for (int i = 0; i < k; i++) s += w[i];
    CHECK(fabs(s - 1) < 1e-6 && w[0] == w[k - 1] && w[k / 2] > w[0]);
    CHECK(!dit_seg_is_infinite(9999.0) && dit_seg_is_infinite(10000.0) && dit_seg_is_infinite(INFINITY));
}

typedef struct { int gh, gw; double sigma; const float *sel; int64_t rb; const float *u; int heads; } op_ctx;

static silt_tensor *blur_fn(silt_graph *g, silt_tensor **in, void *user) {
    op_ctx *c = user;
    return dit_seg_blur(g, in[0], c->gh, c->gw, c->sigma, c->sel);
}
static silt_tensor *mix_fn(silt_graph *g, silt_tensor **in, void *user) {
    op_ctx *c = user;
    return dit_head_mix(g, in[0], in[1], c->rb, c->u);
}
static silt_tensor *split_fn(silt_graph *g, silt_tensor **in, void *user) {
    op_ctx *c = user;
    silt_tensor *o[3];
    if (dit_split_qkv(g, in[0], c->heads, o)) return NULL;
    // one output depending on all three parts
    return silt_add(g, silt_mul(g, o[0], o[1]), o[2]);
}

static void test_ops(void) {
    // split_qkv against index arithmetic
    {
        int64_t B = 2, T = 5, H = 3, Dh = 4, D = H * Dh;
        silt_tensor *qkv = silt_tensor_create_f32(3, (int64_t[]){B, T, 3 * D}, true);
        test_fill(silt_f32(qkv), silt_numel(qkv), -1, 1);
        silt_graph *g = silt_graph_create(0);
        silt_tensor *o[3];
        CHECK_OK(dit_split_qkv(g, qkv, (int)H, o));
        int bad = 0;
        for (int s = 0; s < 3; s++)
            for (int64_t b = 0; b < B; b++)
                for (int64_t h = 0; h < H; h++)
                    for (int64_t t = 0; t < T; t++)
                        for (int64_t d = 0; d < Dh; d++)
                            bad += silt_f32(o[s])[((b * H + h) * T + t) * Dh + d] != silt_f32(qkv)[(b * T + t) * 3 * D + s * D + h * Dh + d];
        CHECK(bad == 0);
        silt_graph_free(g);
        op_ctx c = {.heads = (int)H};
        gradcheck_run("split_qkv", split_fn, &qkv, 1, &c, gradcheck_default());
        silt_tensor_free(qkv);
    }
    // head_mix against the formula, T and broadcast (Tt = 1) targets
    for (int tt = 0; tt < 2; tt++) {
        int64_t B = 4, H = 3, T = 5, Dv = 3, rb = 1, R = 2, Tt = tt ? 1 : T;
        float u[3] = {0.3f, 0, 1};
        silt_tensor *a = silt_tensor_create_f32(4, (int64_t[]){B, H, T, Dv}, true);
        silt_tensor *tg = silt_tensor_create_f32(4, (int64_t[]){R, H, Tt, Dv}, true);
        test_fill(silt_f32(a), silt_numel(a), -1, 1);
        test_fill(silt_f32(tg), silt_numel(tg), -1, 1);
        silt_graph *g = silt_graph_create(0);
        silt_tensor *o = dit_head_mix(g, a, tg, rb, u);
        double maxd = 0;
        for (int64_t b = 0; o && b < B; b++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t t = 0; t < T; t++)
                    for (int64_t d = 0; d < Dv; d++) {
                        double av = silt_f32(a)[((b * H + h) * T + t) * Dv + d], w = b >= rb && b < rb + R ? u[h] : 0;
                        double tv = w ? silt_f32(tg)[(((b - rb) * H + h) * Tt + (Tt == 1 ? 0 : t)) * Dv + d] : 0;
                        maxd = fmax(maxd, fabs(silt_f32(o)[((b * H + h) * T + t) * Dv + d] - ((1 - w) * av + w * tv)));
                    }
        CHECK(o && maxd < 1e-6);
        silt_graph_free(g);
        op_ctx c = {.rb = rb, .u = u};
        silt_tensor *in[2] = {a, tg};
        gradcheck_run("head_mix", mix_fn, in, 2, &c, gradcheck_default());
        silt_tensor_free(a);
        silt_tensor_free(tg);
    }
    // seg_blur against a direct 2-D sum, several grids and sigmas
    const int grids[][2] = {{4, 4}, {3, 5}, {6, 2}, {1, 7}, {5, 5}};
    const double sigmas[] = {0.4, 1.0, 3.0, INFINITY};
    for (size_t gi = 0; gi < sizeof grids / sizeof *grids; gi++)
        for (size_t si = 0; si < 4; si++) {
            int gh = grids[gi][0], gw = grids[gi][1];
            int64_t R = 2, H = 3, T = gh * gw, D = 3;
            float sel[3] = {1, 0, 0.5f};
            silt_tensor *x = silt_tensor_create_f32(4, (int64_t[]){R, H, T, D}, true);
            test_fill(silt_f32(x), silt_numel(x), -1, 1);
            silt_graph *g = silt_graph_create(0);
            silt_tensor *o = dit_seg_blur(g, x, gh, gw, sigmas[si], sel);
            double wi[64], wj[64], maxd = 0;
            bool inf = isinf(sigmas[si]);
            int ki = inf ? 0 : seg_taps(wi, sigmas[si], gh), kj = inf ? 0 : seg_taps(wj, sigmas[si], gw);
            for (int64_t r = 0; o && r < R; r++)
                for (int64_t h = 0; h < H; h++)
                    for (int i = 0; i < gh; i++)
                        for (int j = 0; j < gw; j++)
                            for (int64_t d = 0; d < D; d++) {
                                const float *xs = silt_f32(x) + (r * H + h) * T * D;
                                double s = 0;
                                if (sel[h] == 0) s = xs[(i * gw + j) * D + d];
                                else if (inf)
                                    for (int n = 0; n < T; n++) s += xs[n * D + d] / T;
                                else
                                    for (int a = 0; a < ki; a++)
                                        for (int b = 0; b < kj; b++)
                                            s += wi[a] * wj[b] * xs[(refl(i + a - ki / 2, gh) * gw + refl(j + b - kj / 2, gw)) * D + d];
                                maxd = fmax(maxd, fabs(silt_f32(o)[((r * H + h) * T + i * gw + j) * D + d] - s));
                            }
            CHECK_MSG(o && maxd < 1e-5, "seg_blur %dx%d sigma %g: max diff %.3g", gh, gw, sigmas[si], maxd);
            silt_graph_free(g);
            op_ctx c = {.gh = gh, .gw = gw, .sigma = sigmas[si], .sel = sel};
            char name[64];
            snprintf(name, sizeof name, "seg_blur %dx%d sigma %g", gh, gw, sigmas[si]);
            gradcheck_run(name, blur_fn, &x, 1, &c, gradcheck_default());
            silt_tensor_free(x);
        }
}

// dit_merge_heads_bf16 is for CUDA graphs with bf16 weights (tests/gpu/
// test_cuda_bf16_acts.c): a CPU graph refuses it with one clear error.
static void test_merge_heads_bf16_refused(void) {
    silt_graph *g = silt_graph_create(0);
    float av[2 * 2 * 3 * 4] = {0};
    silt_tensor *a = silt_graph_upload(g, SILT_F32, 4, (const int64_t[]){2, 2, 3, 4}, av);
    CHECK(dit_merge_heads_bf16(g, a) == NULL);
    CHECK(silt_graph_status(g) == SILT_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(silt_last_error(), "merge_heads_bf16: a CUDA graph only") != NULL, "message: %s", silt_last_error());
    silt_graph_free(g);
}

int main(void) {
    test_seed(3);
    test_seg_kernel();
    test_ops();
    test_errors();
    test_merge_heads_bf16_refused();
    test_model(DIT_LAYOUT_ORIGINAL, 8, 8);
    test_model(DIT_LAYOUT_DIFFUSERS, 8, 8);
    test_model(DIT_LAYOUT_DIFFUSERS, 6, 10);  // non-square grid 3x5, positions rescaled to the 4x4 base
    return check_summary();
}
