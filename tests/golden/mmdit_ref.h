// A plainly written MMDiT reference for tests: one sample at a time, double
// accumulation, weights read straight from a diffusers-layout safetensors file
// by their diffusers names (independent of dit/mmdit_load.c). It follows
// diffusers transformer_sd3.py / JointTransformerBlock / JointAttnProcessor2_0
// line by line and applies the core/perturb.h perturbations as dit/mmdit.h
// documents them. Checked against the golden files in test_mmdit.c, then
// used for the perturbations that have no golden data (UNIFORM, SEG, SKIP).
#ifndef SILT_TEST_MMDIT_REF_H
#define SILT_TEST_MMDIT_REF_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/perturb.h"
#include "core/safetensors.h"

typedef struct refm {
    const silt_safetensors *st;
    int depth, H, hd, D, P, Cin, Cout, M, jd, pd, ndual;
    bool qk;
    float *loaded[512];
    int nloaded;
} refm;

// Weight by diffusers name as a malloc'ed f32 copy (freed by ref_free); NULL if absent.
static float *refw(refm *R, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static float *refw(refm *R, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const silt_st_tensor *t = silt_safetensors_find(R->st, name);
    if (!t || R->nloaded >= 512) return NULL;
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    float *d = malloc((size_t)n * sizeof(float));
    if (silt_safetensors_read_f32(t, d, n) != SILT_OK) {
        free(d);
        return NULL;
    }
    R->loaded[R->nloaded++] = d;
    return d;
}

static void ref_free(refm *R) {
    for (int i = 0; i < R->nloaded; i++) free(R->loaded[i]);
    R->nloaded = 0;
}

static void ref_init(refm *R, const silt_safetensors *st, int heads) {
    memset(R, 0, sizeof *R);
    R->st = st;
    const silt_st_tensor *pw = silt_safetensors_find(st, "pos_embed.proj.weight");
    R->D = (int)pw->shape[0];
    R->Cin = (int)pw->shape[1];
    R->P = (int)pw->shape[2];
    R->M = (int)llround(sqrt((double)silt_safetensors_find(st, "pos_embed.pos_embed")->shape[1]));
    R->jd = (int)silt_safetensors_find(st, "context_embedder.weight")->shape[1];
    R->pd = (int)silt_safetensors_find(st, "time_text_embed.text_embedder.linear_1.weight")->shape[1];
    R->Cout = (int)(silt_safetensors_find(st, "proj_out.weight")->shape[0] / (R->P * R->P));
    char key[128];
    for (R->depth = 0;; R->depth++) {
        snprintf(key, sizeof key, "transformer_blocks.%d.attn.to_q.weight", R->depth);
        if (!silt_safetensors_find(st, key)) break;
    }
    for (R->ndual = 0;; R->ndual++) {
        snprintf(key, sizeof key, "transformer_blocks.%d.attn2.to_q.weight", R->ndual);
        if (!silt_safetensors_find(st, key)) break;
    }
    R->qk = silt_safetensors_find(st, "transformer_blocks.0.attn.norm_q.weight") != NULL;
    R->H = heads;
    R->hd = R->D / heads;
}

// out (N, fout) = in (N, fin) w^T + b
static void rlin(double *out, const double *in, int N, int fin, int fout, const float *w, const float *b) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < fout; o++) {
            double s = b ? b[o] : 0.0;
            for (int i = 0; i < fin; i++) s += (double)w[(size_t)o * fin + i] * in[(size_t)n * fin + i];
            out[(size_t)n * fout + o] = s;
        }
}

// LayerNorm without affine, eps 1e-6, then x (1 + scale) + shift.
static void rln_mod(double *out, const double *in, int N, int C, const double *shift, const double *scale) {
    for (int n = 0; n < N; n++) {
        const double *x = in + (size_t)n * C;
        double mu = 0, var = 0;
        for (int c = 0; c < C; c++) mu += x[c];
        mu /= C;
        for (int c = 0; c < C; c++) var += (x[c] - mu) * (x[c] - mu);
        var /= C;
        double r = 1.0 / sqrt(var + 1e-6);
        for (int c = 0; c < C; c++) {
            double y = (x[c] - mu) * r;
            out[(size_t)n * C + c] = shift ? y * (1 + scale[c]) + shift[c] : y;
        }
    }
}

// Per-head RMSNorm (eps 1e-6) of rows (N, H*hd), in place.
static void rrms_heads(double *x, int N, int H, int hd, const float *w) {
    if (!w) return;
    for (int n = 0; n < N; n++)
        for (int h = 0; h < H; h++) {
            double *v = x + (size_t)n * H * hd + (size_t)h * hd, ms = 0;
            for (int d = 0; d < hd; d++) ms += v[d] * v[d];
            double r = 1.0 / sqrt(ms / hd + 1e-6);
            for (int d = 0; d < hd; d++) v[d] = v[d] * r * w[d];
        }
}

static double rsilu(double x) { return x / (1 + exp(-x)); }
static double rgelu(double x) { return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }

// Head h of softmax(q k^T / sqrt(hd) + mask) v; rows of q/k/v are (., D), head
// columns [h hd, (h+1) hd). mask_img > 0: the IDENTITY_IMAGE mask over the
// first mask_img tokens. out: (Lq, hd).
static void rattn_head(double *out, const double *q, const double *k, const double *v, int Lq, int Lk, int D, int h,
                       int hd, int mask_img) {
    double *s = malloc((size_t)Lk * sizeof(double));
    for (int i = 0; i < Lq; i++) {
        double mx = -INFINITY;
        for (int j = 0; j < Lk; j++) {
            double d = 0;
            for (int c = 0; c < hd; c++) d += q[(size_t)i * D + h * hd + c] * k[(size_t)j * D + h * hd + c];
            s[j] = d / sqrt((double)hd);
            if (i < mask_img && j < mask_img && i != j) s[j] = -INFINITY;
            if (s[j] > mx) mx = s[j];
        }
        double z = 0;
        for (int j = 0; j < Lk; j++) z += (s[j] = exp(s[j] - mx));
        for (int c = 0; c < hd; c++) {
            double a = 0;
            for (int j = 0; j < Lk; j++) a += s[j] / z * v[(size_t)j * D + h * hd + c];
            out[(size_t)i * hd + c] = a;
        }
    }
    free(s);
}

// SEG blur of image queries (N = gh x gw tokens, D channels), written directly
// as a 2D convolution with reflect padding (SEG-SDXL gaussian_blur_2d),
// kernel size clipped per axis.
static void rseg_blur(double *out, const double *q, int gh, int gw, int D, double sigma) {
    int N = gh * gw;
    if (sigma > 9999.9) {
        for (int d = 0; d < D; d++) {
            double m = 0;
            for (int n = 0; n < N; n++) m += q[(size_t)n * D + d];
            for (int n = 0; n < N; n++) out[(size_t)n * D + d] = m / N;
        }
        return;
    }
    int k0 = (int)ceil(6 * sigma) + 1 - (int)ceil(6 * sigma) % 2;
    int kh = k0 < gh - (gh % 2 - 1) ? k0 : gh - (gh % 2 - 1);
    int kw = k0 < gw - (gw % 2 - 1) ? k0 : gw - (gw % 2 - 1);
    double th[256], tw[256], sh = 0, sw = 0;
    for (int a = 0; a < kh; a++) sh += th[a] = exp(-0.5 * pow((a - (kh - 1) / 2.0) / sigma, 2));
    for (int a = 0; a < kw; a++) sw += tw[a] = exp(-0.5 * pow((a - (kw - 1) / 2.0) / sigma, 2));
    for (int i = 0; i < gh; i++)
        for (int j = 0; j < gw; j++)
            for (int d = 0; d < D; d++) {
                double acc = 0;
                for (int a = 0; a < kh; a++)
                    for (int b = 0; b < kw; b++) {
                        int ii = i + a - kh / 2, jj = j + b - kw / 2;
                        ii = ii < 0 ? -ii : ii >= gh ? 2 * (gh - 1) - ii : ii;
                        jj = jj < 0 ? -jj : jj >= gw ? 2 * (gw - 1) - jj : jj;
                        acc += th[a] / sh * tw[b] / sw * q[((size_t)ii * gw + jj) * D + d];
                    }
                out[((size_t)i * gw + j) * D + d] = acc;
            }
}

static bool rlayer_on(const silt_perturb *p, int l) {
    for (int h = 0; h < p->n_heads; h++)
        if (silt_perturb_u(p, l, h) != 0) return true;
    return false;
}

// One JointTransformerBlock on one sample; x (N, D), c (T, D) updated in place.
// p: the perturbation when this sample is a perturbed row, else NULL.
static void rblock(refm *R, int l, const double *silu_temb, double *x, double *c, int gh, int gw, int T,
                   const silt_perturb *p) {
    int D = R->D, N = gh * gw, L = N + T, H = R->H, hd = R->hd;
    bool pre = l == R->depth - 1, dual = l < R->ndual;
    if (p && p->kind == SILT_PERTURB_SKIP && rlayer_on(p, l)) return;
    const char *bp = "transformer_blocks";
    double e[9 * 1024], ec[6 * 1024];
    rlin(e, silu_temb, 1, D, (dual ? 9 : 6) * D, refw(R, "%s.%d.norm1.linear.weight", bp, l),
         refw(R, "%s.%d.norm1.linear.bias", bp, l));
    rlin(ec, silu_temb, 1, D, (pre ? 2 : 6) * D, refw(R, "%s.%d.norm1_context.linear.weight", bp, l),
         refw(R, "%s.%d.norm1_context.linear.bias", bp, l));
    double *nx = malloc(sizeof(double) * N * D), *nx2 = malloc(sizeof(double) * N * D);
    double *nc = malloc(sizeof(double) * T * D);
    rln_mod(nx, x, N, D, e, e + D);
    if (dual) rln_mod(nx2, x, N, D, e + 6 * D, e + 7 * D);
    if (pre) rln_mod(nc, c, T, D, ec + D, ec);  // AdaLayerNormContinuous: (scale, shift)
    else rln_mod(nc, c, T, D, ec, ec + D);
    double *Q = malloc(sizeof(double) * L * D), *K = malloc(sizeof(double) * L * D), *V = malloc(sizeof(double) * L * D);
    double *Qs = malloc(sizeof(double) * L * D), *qraw = malloc(sizeof(double) * N * D);
#define LIN(dst, src, n, name) rlin(dst, src, n, D, D, refw(R, "%s.%d.attn." name ".weight", bp, l), \
                                    refw(R, "%s.%d.attn." name ".bias", bp, l))
    LIN(Q, nx, N, "to_q");
    LIN(K, nx, N, "to_k");
    LIN(V, nx, N, "to_v");
    LIN(Q + (size_t)N * D, nc, T, "add_q_proj");
    LIN(K + (size_t)N * D, nc, T, "add_k_proj");
    LIN(V + (size_t)N * D, nc, T, "add_v_proj");
    memcpy(qraw, Q, sizeof(double) * N * D);
    rrms_heads(Q, N, H, hd, refw(R, "%s.%d.attn.norm_q.weight", bp, l));
    rrms_heads(K, N, H, hd, refw(R, "%s.%d.attn.norm_k.weight", bp, l));
    rrms_heads(Q + (size_t)N * D, T, H, hd, refw(R, "%s.%d.attn.norm_added_q.weight", bp, l));
    rrms_heads(K + (size_t)N * D, T, H, hd, refw(R, "%s.%d.attn.norm_added_k.weight", bp, l));
    bool on = p && rlayer_on(p, l);
    if (on && p->kind == SILT_PERTURB_SEG) {
        memcpy(Qs, Q, sizeof(double) * L * D);
        rseg_blur(Qs, qraw, gh, gw, D, p->seg_sigma);  // blur before the QK-norm, then norm
        rrms_heads(Qs, N, H, hd, refw(R, "%s.%d.attn.norm_q.weight", bp, l));
    }
    double *O = malloc(sizeof(double) * L * D), *oh = malloc(sizeof(double) * L * hd);
    double *os = malloc(sizeof(double) * L * hd);
    for (int h = 0; h < H; h++) {
        double u = on ? silt_perturb_u(p, l, h) : 0.0;
        rattn_head(oh, Q, K, V, L, L, D, h, hd, on && p->kind == SILT_PERTURB_IDENTITY_IMAGE ? N : 0);
        for (int i = 0; i < L; i++)
            for (int d = 0; d < hd; d++) {
                double a = oh[(size_t)i * hd + d], alt = a;
                if (on && p->kind == SILT_PERTURB_IDENTITY) alt = V[(size_t)i * D + h * hd + d];
                if (on && p->kind == SILT_PERTURB_UNIFORM) {
                    alt = 0;
                    for (int j = 0; j < L; j++) alt += V[(size_t)j * D + h * hd + d] / L;
                }
                if (on && p->kind == SILT_PERTURB_SEG) {
                    if (i == 0 && d == 0) rattn_head(os, Qs, K, V, L, L, D, h, hd, 0);
                    alt = os[(size_t)i * hd + d];
                }
                bool soft = on && (p->kind == SILT_PERTURB_IDENTITY || p->kind == SILT_PERTURB_UNIFORM ||
                                   p->kind == SILT_PERTURB_SEG);
                O[(size_t)i * D + h * hd + d] = soft ? (1 - u) * a + u * alt : a;
            }
    }
    double *ax = malloc(sizeof(double) * N * D), *ac = malloc(sizeof(double) * T * D);
    LIN(ax, O, N, "to_out.0");
    if (!pre) LIN(ac, O + (size_t)N * D, T, "to_add_out");
#undef LIN
    for (int i = 0; i < N * D; i++) x[i] += e[2 * D + i % D] * ax[i];
    if (dual) {
#define LIN2(dst, src, name) rlin(dst, src, N, D, D, refw(R, "%s.%d.attn2." name ".weight", bp, l), \
                                  refw(R, "%s.%d.attn2." name ".bias", bp, l))
        LIN2(Q, nx2, "to_q");
        LIN2(K, nx2, "to_k");
        LIN2(V, nx2, "to_v");
        rrms_heads(Q, N, H, hd, refw(R, "%s.%d.attn2.norm_q.weight", bp, l));
        rrms_heads(K, N, H, hd, refw(R, "%s.%d.attn2.norm_k.weight", bp, l));
        for (int h = 0; h < H; h++) {
            rattn_head(oh, Q, K, V, N, N, D, h, hd, 0);
            for (int i = 0; i < N; i++)
                for (int d = 0; d < hd; d++) O[(size_t)i * D + h * hd + d] = oh[(size_t)i * hd + d];
        }
        LIN2(ax, O, "to_out.0");
#undef LIN2
        for (int i = 0; i < N * D; i++) x[i] += e[8 * D + i % D] * ax[i];
    }
    // Feed-forwards of both streams.
    for (int s = 0; s < (pre ? 1 : 2); s++) {
        double *z = s ? c : x, *ee = s ? ec : e;
        int n = s ? T : N;
        const char *ffn = s ? "ff_context" : "ff";
        if (s) for (int i = 0; i < T * D; i++) c[i] += ec[2 * D + i % D] * ac[i];
        double *m = malloc(sizeof(double) * n * D), *hbuf = malloc(sizeof(double) * n * 4 * D);
        double *y = malloc(sizeof(double) * n * D);
        rln_mod(m, z, n, D, ee + 3 * D, ee + 4 * D);
        rlin(hbuf, m, n, D, 4 * D, refw(R, "%s.%d.%s.net.0.proj.weight", bp, l, ffn),
             refw(R, "%s.%d.%s.net.0.proj.bias", bp, l, ffn));
        for (int i = 0; i < n * 4 * D; i++) hbuf[i] = rgelu(hbuf[i]);
        rlin(y, hbuf, n, 4 * D, D, refw(R, "%s.%d.%s.net.2.weight", bp, l, ffn), refw(R, "%s.%d.%s.net.2.bias", bp, l, ffn));
        for (int i = 0; i < n * D; i++) z[i] += ee[5 * D + i % D] * y[i];
        free(m);
        free(hbuf);
        free(y);
    }
    free(nx); free(nx2); free(nc); free(Q); free(K); free(V); free(Qs); free(qraw);
    free(O); free(oh); free(os); free(ax); free(ac);
}

// Full forward. x (B, Cin, Hh, Ww), t (B), ctx (B, T, jd), pooled (B, pd) ->
// out (B, Cout, Hh, Ww). p may be NULL. x and out are double so that a finite
// difference through the reference is exact to ~1e-10.
static void ref_forward(refm *R, double *out, const double *x, const float *t, const float *ctx, const float *pooled,
                        int B, int Hh, int Ww, int T, const silt_perturb *p) {
    int D = R->D, P = R->P, gh = Hh / P, gw = Ww / P, N = gh * gw, top = (R->M - gh) / 2, left = (R->M - gw) / 2;
    double *hx = malloc(sizeof(double) * N * D), *hc = malloc(sizeof(double) * T * D);
    double *tmp = malloc(sizeof(double) * (N + T) * 4 * D + 4096);
    for (int b = 0; b < B; b++) {
        const float *pw = refw(R, "pos_embed.proj.weight"), *pb = refw(R, "pos_embed.proj.bias");
        const float *pos = refw(R, "pos_embed.pos_embed");
        for (int i = 0; i < gh; i++)
            for (int j = 0; j < gw; j++)
                for (int d = 0; d < D; d++) {
                    double s = pb[d] + pos[((size_t)(top + i) * R->M + left + j) * D + d];
                    for (int ci = 0; ci < R->Cin; ci++)
                        for (int a = 0; a < P; a++)
                            for (int bb = 0; bb < P; bb++)
                                s += (double)pw[((d * R->Cin + ci) * P + a) * P + bb] *
                                     x[(((size_t)b * R->Cin + ci) * Hh + i * P + a) * Ww + j * P + bb];
                    hx[((size_t)i * gw + j) * D + d] = s;
                }
        // Sinusoid in fp32 exactly as torch / dit_timestep_embedding compute it.
        double tp[256], t1[4096], temb[4096], y1[4096], y2[4096], pin[4096];
        for (int i = 0; i < 128; i++) {
            float ex = -logf(10000.0f) * (float)i;
            ex = ex / 128.0f;
            float a = t[b] * expf(ex);
            tp[i] = cosf(a);
            tp[128 + i] = sinf(a);
        }
        rlin(t1, tp, 1, 256, D, refw(R, "time_text_embed.timestep_embedder.linear_1.weight"),
             refw(R, "time_text_embed.timestep_embedder.linear_1.bias"));
        for (int i = 0; i < D; i++) t1[i] = rsilu(t1[i]);
        rlin(temb, t1, 1, D, D, refw(R, "time_text_embed.timestep_embedder.linear_2.weight"),
             refw(R, "time_text_embed.timestep_embedder.linear_2.bias"));
        for (int i = 0; i < R->pd; i++) pin[i] = pooled[(size_t)b * R->pd + i];
        rlin(y1, pin, 1, R->pd, D, refw(R, "time_text_embed.text_embedder.linear_1.weight"),
             refw(R, "time_text_embed.text_embedder.linear_1.bias"));
        for (int i = 0; i < D; i++) y1[i] = rsilu(y1[i]);
        rlin(y2, y1, 1, D, D, refw(R, "time_text_embed.text_embedder.linear_2.weight"),
             refw(R, "time_text_embed.text_embedder.linear_2.bias"));
        for (int i = 0; i < D; i++) temb[i] = rsilu(temb[i] + y2[i]);  // silu(temb), all users take it
        for (int i = 0; i < T * R->jd; i++) tmp[i] = ctx[(size_t)b * T * R->jd + i];
        rlin(hc, tmp, T, R->jd, D, refw(R, "context_embedder.weight"), refw(R, "context_embedder.bias"));
        bool pert = p && p->kind != SILT_PERTURB_NONE && b >= p->row_begin && b < p->row_end;
        for (int l = 0; l < R->depth; l++) rblock(R, l, temb, hx, hc, gh, gw, T, pert ? p : NULL);
        double e[2048];
        rlin(e, temb, 1, D, 2 * D, refw(R, "norm_out.linear.weight"), refw(R, "norm_out.linear.bias"));
        rln_mod(tmp, hx, N, D, e + D, e);
        int PO = P * P * R->Cout;
        double *y = tmp + (size_t)N * D;
        rlin(y, tmp, N, D, PO, refw(R, "proj_out.weight"), refw(R, "proj_out.bias"));
        for (int i = 0; i < gh; i++)
            for (int j = 0; j < gw; j++)
                for (int a = 0; a < P; a++)
                    for (int bb = 0; bb < P; bb++)
                        for (int co = 0; co < R->Cout; co++)
                            out[(((size_t)b * R->Cout + co) * Hh + i * P + a) * Ww + j * P + bb] =
                                y[((size_t)i * gw + j) * PO + (a * P + bb) * R->Cout + co];
        ref_free(R);  // weights are re-read per sample; keeps the cache bounded
    }
    free(hx);
    free(hc);
    free(tmp);
}

#endif
