// Background estimation for the world evaluator (see eval_private.h).
//
// The renderer's backgrounds form a small discrete family (render.h), so the
// evaluator fits them by enumeration rather than by guessing from the border:
//  1. colours are clustered (mode seeking on an 8x8x8 histogram, radius 48:
//     palette colours are >= 113 apart, so each becomes its own cluster);
//  2. every binary pattern (stripes on either axis, checkers, dots; each width
//     and every integer pixel offset, so shifted images are covered) is
//     scored by how well its two pixel classes agree with two clusters: a
//     cluster counts for its class and against the other, so a background
//     colour (which follows the pattern) wins over an object colour (which
//     falls on both classes), even one covering half the canvas. The counts
//     come from label histograms over pixel residues mod the period;
//  3. the near-best candidates of each style (after a blur only cell
//     interiors stay pure, so phases one pixel apart tie) whose colours keep
//     to their classes get a least-squares fit of the two colours for the
//     pattern sharp and 3x3-blurred; those, a plain model (the cluster that
//     holds the border ring) and two gradients (trimmed least squares from
//     the border ring) are scored by the truncated residual over all pixels
//     and the least wins; a non-plain model must beat plain by 1% of the
//     image's maximal penalty;
//  4. the winner's colours are refitted on the pixels it explains to within
//     the image's own noise level, so object fringes do not bias them.
// Objects are outliers to every step (they cover at most about a third of the
// canvas and keep off the border ring), which is why the scores are counts or
// truncated residuals.
#include "world/eval_private.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CLUSTERS 8
#define CLUSTER_R 48.0
#define MIN_TWO_COLOUR_DIST 40.0  // two-colour models with closer colours are plain
#define MIN_PURITY 0.6

static double dist2(const float *p, const double *c) {
    double d0 = p[0] - c[0], d1 = p[1] - c[1], d2 = p[2] - c[2];
    return d0 * d0 + d1 * d1 + d2 * d2;
}

// Mode-seeking clustering: returns the number of clusters; label[p] is the
// cluster of pixel p or -1.
static int cluster_colours(const float *img, int np, double means[MAX_CLUSTERS][3], int8_t *label) {
    for (int p = 0; p < np; p++) label[p] = -1;
    int min_count = np / 256 > 3 ? np / 256 : 3, k = 0;  // one dot centre per period is a cluster too
    static const int bins = 512;
    int counts[512];
    while (k < MAX_CLUSTERS) {
        memset(counts, 0, sizeof counts);
        for (int p = 0; p < np; p++) {
            if (label[p] >= 0) continue;
            const float *v = img + 3 * (size_t)p;
            int b = ((int)(v[0] / 32) & 7) << 6 | ((int)(v[1] / 32) & 7) << 3 | ((int)(v[2] / 32) & 7);
            counts[b]++;
        }
        int best = 0;
        for (int b = 1; b < bins; b++)
            if (counts[b] > counts[best]) best = b;
        if (counts[best] < min_count) break;
        double m[3] = {0, 0, 0};
        for (int p = 0; p < np; p++) {
            if (label[p] >= 0) continue;
            const float *v = img + 3 * (size_t)p;
            int b = ((int)(v[0] / 32) & 7) << 6 | ((int)(v[1] / 32) & 7) << 3 | ((int)(v[2] / 32) & 7);
            if (b != best) continue;
            for (int c = 0; c < 3; c++) m[c] += v[c];
        }
        for (int c = 0; c < 3; c++) m[c] /= counts[best];
        for (int it = 0; it < 2; it++) {  // mean shift, two steps
            double s[3] = {0, 0, 0};
            int n = 0;
            for (int p = 0; p < np; p++) {
                if (label[p] >= 0 || dist2(img + 3 * (size_t)p, m) > CLUSTER_R * CLUSTER_R) continue;
                for (int c = 0; c < 3; c++) s[c] += img[3 * (size_t)p + c];
                n++;
            }
            if (n)
                for (int c = 0; c < 3; c++) m[c] = s[c] / n;
        }
        int n = 0;
        for (int p = 0; p < np; p++)
            if (label[p] < 0 && dist2(img + 3 * (size_t)p, m) <= CLUSTER_R * CLUSTER_R) { label[p] = (int8_t)k; n++; }
        if (n == 0) break;
        memcpy(means[k], m, sizeof m);
        k++;
    }
    return k;
}

// Pixel classes of a binary pattern: 0 (all c1), 1 (all c2), 2 (mixed).
typedef struct candidate {
    world_pattern pat;
    long mismatch;  // labelled class pixels not explained by the best cluster pair
    int a, b;       // clusters of class 0 and class 1
    double purity;  // share of the pair's pixels that fall in their own class
} candidate;

// Dot tiles: class and alpha of one period at offset 0, per dot spacing.
typedef struct dot_tile {
    int g;
    uint8_t *cls;
    float *alpha;
} dot_tile;

static int pixel_class(const world_pattern *p, const dot_tile *tile, int x, int y) {
    switch (p->style) {
    case WORLD_BG_STRIPED: return (((p->axis == 0 ? x : y) + p->ox) / p->period) & 1;
    case WORLD_BG_CHECKERED: return ((x + p->ox) / p->period + (y + p->oy) / p->period) & 1;
    case WORLD_BG_DOTTED: {
        int g = tile->g, tx = ((x - p->ox) % g + g) % g, ty = ((y - p->oy) % g + g) % g;
        return tile->cls[ty * g + tx];
    }
    default: return 0;
    }
}

static float pixel_alpha(const world_pattern *p, const dot_tile *tile, int x, int y) {
    if (p->style == WORLD_BG_DOTTED) {
        int g = tile->g, tx = ((x - p->ox) % g + g) % g, ty = ((y - p->oy) % g + g) % g;
        return tile->alpha[ty * g + tx];
    }
    return (float)pixel_class(p, tile, x, y);
}

// The TOP_K best candidates of a style by cluster agreement, best first.
// Several are kept because after a blur only cell interiors stay pure, so
// phases one pixel apart tie on agreement; the full fit decides among them.
#define TOP_K 12
typedef struct top_list {
    int n;
    candidate c[TOP_K];
} top_list;

static void top_insert(top_list *t, const candidate *c) {
    int i;
    if (t->n < TOP_K) {
        i = t->n++;
    } else {
        i = TOP_K - 1;
        if (c->mismatch >= t->c[i].mismatch) return;
    }
    while (i > 0 && t->c[i - 1].mismatch > c->mismatch) {
        t->c[i] = t->c[i - 1];
        i--;
    }
    t->c[i] = *c;
}

// Label counts per residue (x mod P, y mod P): every candidate pattern of
// period P is scored from these in O(P^2) (stripes O(P), dots O(dot area))
// instead of a pass over the image.
#define MAX_P (20 * 2)  // 2 * widest checker cell (5 units) at 64 px is 20; room for 128 px
typedef struct residue_hist {
    int P;
    int h[MAX_CLUSTERS][MAX_P][MAX_P];
    int hx[MAX_CLUSTERS][MAX_P], hy[MAX_CLUSTERS][MAX_P];
    long tot[MAX_CLUSTERS];
} residue_hist;

static void residue_build(const int8_t *label, int n, int P, residue_hist *rh) {
    memset(rh, 0, sizeof *rh);
    rh->P = P;
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) {
            int l = label[y * n + x];
            if (l < 0) continue;
            rh->h[l][y % P][x % P]++;
            rh->hx[l][x % P]++;
            rh->hy[l][y % P]++;
            rh->tot[l]++;
        }
}

// Dot tile positions that are all dot (class 1) or mixed.
typedef struct dot_list {
    int n1, n2;
    int t1[MAX_P * MAX_P][2], t2[MAX_P * MAX_P][2];
} dot_list;

static void score_candidate(const world_pattern *pat, const dot_list *dl, const residue_hist *rh, int k, top_list *best) {
    long cnt[2][MAX_CLUSTERS];
    memset(cnt, 0, sizeof cnt);
    long total = 0;
    int P = rh->P, w = pat->period;
    if (pat->style == WORLD_BG_STRIPED) {
        for (int r = 0; r < P; r++) {
            int c = ((r + pat->ox) / w) & 1;
            for (int l = 0; l < k; l++) cnt[c][l] += pat->axis == 0 ? rh->hx[l][r] : rh->hy[l][r];
        }
        for (int l = 0; l < k; l++) total += rh->tot[l];
    } else if (pat->style == WORLD_BG_CHECKERED) {
        for (int ry = 0; ry < P; ry++)
            for (int rx = 0; rx < P; rx++) {
                int c = ((rx + pat->ox) / w + (ry + pat->oy) / w) & 1;
                for (int l = 0; l < k; l++) cnt[c][l] += rh->h[l][ry][rx];
            }
        for (int l = 0; l < k; l++) total += rh->tot[l];
    } else {  // dots: tile position t sits at residue (t + offset) mod P
        long part[MAX_CLUSTERS] = {0};
        for (int q = 0; q < dl->n1; q++) {
            int rx = (dl->t1[q][0] + pat->ox) % P, ry = (dl->t1[q][1] + pat->oy) % P;
            for (int l = 0; l < k; l++) cnt[1][l] += rh->h[l][ry][rx];
        }
        for (int q = 0; q < dl->n2; q++) {
            int rx = (dl->t2[q][0] + pat->ox) % P, ry = (dl->t2[q][1] + pat->oy) % P;
            for (int l = 0; l < k; l++) part[l] += rh->h[l][ry][rx];
        }
        for (int l = 0; l < k; l++) {
            cnt[0][l] = rh->tot[l] - cnt[1][l] - part[l];
            total += cnt[0][l] + cnt[1][l];
        }
    }
    // Agreement counts a cluster for its class and against the other class:
    // a background colour follows the pattern, an object colour (even one
    // covering half the canvas) falls on both classes alike.
    long agree = 0;
    int ba = -1, bb = -1;
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++) {
            long g = cnt[0][a] - cnt[1][a] + cnt[1][b] - cnt[0][b];
            if (a != b && (ba < 0 || g > agree)) {
                agree = g;
                ba = a;
                bb = b;
            }
        }
    if (ba < 0) return;
    // A real pattern's colours keep to their classes; for dots only the dot
    // colour says so (the ground fills almost every class-0 pixel anyway).
    double pa = (double)cnt[0][ba] / (double)(cnt[0][ba] + cnt[1][ba] + 1);
    double pb = (double)cnt[1][bb] / (double)(cnt[0][bb] + cnt[1][bb] + 1);
    candidate c = {*pat, total - agree, ba, bb, pat->style == WORLD_BG_DOTTED ? pb : fmin(pa, pb)};
    top_insert(best, &c);
}

static double model_score(const float *img, int np, const float *alpha, const double *c1, const double *c2) {
    double s = 0, tau2 = EVAL_TAU * EVAL_TAU;
    for (int p = 0; p < np; p++) {
        double a = alpha ? alpha[p] : 0, m[3];
        for (int c = 0; c < 3; c++) m[c] = c1[c] + a * (c2[c] - c1[c]);
        double d = dist2(img + 3 * (size_t)p, m);
        s += d < tau2 ? d : tau2;
    }
    return s;
}

// 3x3 box blur over the in-image neighbours (the evaluator's notion of blur).
static void box3(const float *src, float *dst, int n) {
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) {
            double s = 0;
            int c = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int xx = x + dx, yy = y + dy;
                    if (xx < 0 || yy < 0 || xx >= n || yy >= n) continue;
                    s += src[yy * n + xx];
                    c++;
                }
            dst[y * n + x] = (float)(s / c);
        }
}

static double two_colour_dist(const double *a, const double *b) {
    double d = 0;
    for (int c = 0; c < 3; c++) d += (a[c] - b[c]) * (a[c] - b[c]);
    return sqrt(d);
}

static bool on_border(int n, int p) {
    int x = p % n, y = p / n;
    return x == 0 || y == 0 || x == n - 1 || y == n - 1;
}

// Trimmed least squares of pixel = c1 + t (c2 - c1) with t the pixel centre's
// position along the axis (the renderer's gradient averaged over the pixel),
// first on the border ring (objects keep WORLD_MARGIN off the edges, so it is
// background), then refined on every pixel within EVAL_TAU of the line.
static void fit_gradient(const float *img, int n, int axis, float *t, double *c1, double *c2) {
    int np = n * n;
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) t[y * n + x] = (float)(((axis == 0 ? x : y) + 0.5) / n);
    double tau2 = EVAL_TAU * EVAL_TAU;
    for (int it = 0; it < 5; it++) {
        double sw = 0, st = 0, stt = 0, sv[3] = {0, 0, 0}, stv[3] = {0, 0, 0};
        for (int p = 0; p < np; p++) {
            const float *v = img + 3 * (size_t)p;
            if (it < 2 && !on_border(n, p)) continue;
            if (it > 0) {
                double m[3];
                for (int c = 0; c < 3; c++) m[c] = c1[c] + t[p] * (c2[c] - c1[c]);
                if (dist2(v, m) > tau2) continue;
            }
            sw += 1;
            st += t[p];
            stt += (double)t[p] * t[p];
            for (int c = 0; c < 3; c++) {
                sv[c] += v[c];
                stv[c] += t[p] * v[c];
            }
        }
        double det = sw * stt - st * st;
        if (sw < 2 || fabs(det) < 1e-12) break;
        for (int c = 0; c < 3; c++) {
            double slope = (sw * stv[c] - st * sv[c]) / det, icpt = (sv[c] - slope * st) / sw;
            c1[c] = icpt;
            c2[c] = icpt + slope;
        }
    }
}

// Least squares of pixel = (1 - alpha) c1 + alpha c2 for a known alpha map:
// first over the pixels of the two clusters the pattern matched (under a blur
// those are edge mixes, which the alpha map explains), then over every pixel
// within a shrinking distance of the model, so that objects drop out.
static bool fit_two_colours(const float *img, int np, const float *alpha, const int8_t *label, int la, int lb, double *c1,
                            double *c2) {
    const double radius[4] = {0, 2 * EVAL_TAU, 1.5 * EVAL_TAU, EVAL_TAU};
    bool have = false;
    for (int it = 0; it < 4; it++) {
        double s00 = 0, s01 = 0, s11 = 0, b0[3] = {0, 0, 0}, b1[3] = {0, 0, 0};
        for (int p = 0; p < np; p++) {
            double a = alpha[p];
            const float *v = img + 3 * (size_t)p;
            if (it == 0) {
                if (label[p] != la && label[p] != lb) continue;
            } else {
                double m[3];
                for (int c = 0; c < 3; c++) m[c] = c1[c] + a * (c2[c] - c1[c]);
                if (dist2(v, m) > radius[it] * radius[it]) continue;
            }
            s00 += (1 - a) * (1 - a);
            s01 += (1 - a) * a;
            s11 += a * a;
            for (int c = 0; c < 3; c++) {
                b0[c] += (1 - a) * v[c];
                b1[c] += a * v[c];
            }
        }
        double det = s00 * s11 - s01 * s01;
        if (det < 1e-6 * (s00 + s11 + 1) * (s00 + s11 + 1)) return have;
        for (int c = 0; c < 3; c++) {
            c1[c] = (s11 * b0[c] - s01 * b1[c]) / det;
            c2[c] = (s00 * b1[c] - s01 * b0[c]) / det;
        }
        have = true;
    }
    return have;
}

// Final colours of the chosen model: least squares over the pixels the model
// explains to within a radius set by the image's own noise (2.5 median
// residuals, at least 4), so the anti-aliased fringes of objects, which the
// coarse fits admit, no longer pull the colours towards the objects.
static void refine_colours(const float *img, int np, const float *alpha, double *c1, double *c2) {
    float *r = malloc(sizeof(float) * (size_t)np);
    if (!r) return;  // keep the coarse colours
    for (int it = 0; it < 2; it++) {
        int m = 0;
        for (int p = 0; p < np; p++) {
            double a = alpha ? alpha[p] : 0, mc[3];
            for (int c = 0; c < 3; c++) mc[c] = c1[c] + a * (c2[c] - c1[c]);
            double d = sqrt(dist2(img + 3 * (size_t)p, mc));
            if (d < EVAL_TAU) r[m++] = (float)d;
        }
        if (m < 8) break;
        // The median residual from a 64-bin histogram of [0, TAU) (exact enough for a radius).
        int hist[64] = {0};
        for (int q = 0; q < m; q++) hist[(int)(r[q] / EVAL_TAU * 64)]++;
        int acc = 0, bin = 0;
        while (bin < 63 && acc + hist[bin] < m / 2) acc += hist[bin++];
        double rad = fmax(4.0, 2.5 * (bin + 0.5) * EVAL_TAU / 64);
        double s00 = 0, s01 = 0, s11 = 0, b0[3] = {0, 0, 0}, b1[3] = {0, 0, 0};
        for (int p = 0; p < np; p++) {
            double a = alpha ? alpha[p] : 0, mc[3];
            for (int c = 0; c < 3; c++) mc[c] = c1[c] + a * (c2[c] - c1[c]);
            if (dist2(img + 3 * (size_t)p, mc) > rad * rad) continue;
            s00 += (1 - a) * (1 - a);
            s01 += (1 - a) * a;
            s11 += a * a;
            for (int c = 0; c < 3; c++) {
                b0[c] += (1 - a) * img[3 * (size_t)p + c];
                b1[c] += a * img[3 * (size_t)p + c];
            }
        }
        if (!alpha) {  // plain: the inliers' mean
            if (s00 < 1) break;
            for (int c = 0; c < 3; c++) c1[c] = c2[c] = b0[c] / s00;
            continue;
        }
        double det = s00 * s11 - s01 * s01;
        if (det < 1e-6 * (s00 + s11 + 1) * (s00 + s11 + 1)) break;
        for (int c = 0; c < 3; c++) {
            c1[c] = (s11 * b0[c] - s01 * b1[c]) / det;
            c2[c] = (s00 * b1[c] - s01 * b0[c]) / det;
        }
    }
    free(r);
}

silt_status eval_fit_background(const float *img, int n, float *alpha, eval_bg *out) {
    int np = n * n, k = n / WORLD_UNITS;
    int8_t *label = malloc((size_t)np);
    float *work = malloc(sizeof(float) * (size_t)np * 2);
    dot_tile tiles[2] = {{6 * k, NULL, NULL}, {8 * k, NULL, NULL}};
    for (int i = 0; i < 2; i++) {
        tiles[i].cls = malloc((size_t)tiles[i].g * tiles[i].g);
        tiles[i].alpha = malloc(sizeof(float) * (size_t)tiles[i].g * tiles[i].g);
    }
    silt_status st = SILT_OK;
    if (!label || !work || !tiles[0].cls || !tiles[0].alpha || !tiles[1].cls || !tiles[1].alpha) {
        st = SILT_FAIL(SILT_ERR_OOM, "world eval: out of memory");
        goto done;
    }
    double means[MAX_CLUSTERS][3];
    int nk = cluster_colours(img, np, means, label);

    for (int i = 0; i < 2; i++) {
        world_pattern p = {WORLD_BG_DOTTED, n, 0, tiles[i].g, 0, 0, world_dot_radius(tiles[i].g / k) * k, 0.5 * k};
        for (int y = 0; y < tiles[i].g; y++)
            for (int x = 0; x < tiles[i].g; x++) {
                float a = world_pattern_alpha(&p, x, y);
                tiles[i].alpha[y * tiles[i].g + x] = a;
                tiles[i].cls[y * tiles[i].g + x] = a == 0 ? 0 : a >= 0.999f ? 1 : 2;
            }
    }

    // Best binary candidate per style, by cluster agreement.
    top_list best[3];
    const world_bg_style styles[3] = {WORLD_BG_STRIPED, WORLD_BG_CHECKERED, WORLD_BG_DOTTED};
    for (int s = 0; s < 3; s++) best[s].n = 0;
    if (nk >= 2) {
        residue_hist *rh = malloc(sizeof *rh);
        dot_list *dl = malloc(sizeof *dl);
        if (!rh || !dl) {
            free(rh);
            free(dl);
            st = SILT_FAIL(SILT_ERR_OOM, "world eval: out of memory");
            goto done;
        }
        for (int w = 3; w <= 4; w++) {
            residue_build(label, n, 2 * w * k, rh);
            for (int axis = 0; axis < 2; axis++)
                for (int o = 0; o < w * k; o++) {  // o and o + w are the same stripes with the colours swapped
                    world_pattern p = {WORLD_BG_STRIPED, n, axis, w * k, o, 0, 0, 0};
                    score_candidate(&p, NULL, rh, nk, &best[0]);
                }
        }
        for (int w = 4; w <= 5; w++) {
            residue_build(label, n, 2 * w * k, rh);
            for (int oy = 0; oy < w * k; oy++)
                for (int ox = 0; ox < w * k; ox++) {
                    world_pattern p = {WORLD_BG_CHECKERED, n, 0, w * k, ox, oy, 0, 0};
                    score_candidate(&p, NULL, rh, nk, &best[1]);
                }
        }
        for (int i = 0; i < 2; i++) {
            int g = tiles[i].g;
            residue_build(label, n, g, rh);
            dl->n1 = dl->n2 = 0;
            for (int ty = 0; ty < g; ty++)
                for (int tx = 0; tx < g; tx++) {
                    int c = tiles[i].cls[ty * g + tx];
                    if (c == 1) { dl->t1[dl->n1][0] = tx; dl->t1[dl->n1][1] = ty; dl->n1++; }
                    if (c == 2) { dl->t2[dl->n2][0] = tx; dl->t2[dl->n2][1] = ty; dl->n2++; }
                }
            for (int oy = 0; oy < g; oy++)
                for (int ox = 0; ox < g; ox++) {
                    world_pattern p = {WORLD_BG_DOTTED, n, 0, g, ox, oy, world_dot_radius(g / k) * k, 0.5 * k};
                    score_candidate(&p, dl, rh, nk, &best[2]);
                }
        }
        free(rh);
        free(dl);
    }

    // Plain: the cluster holding most of the border ring (objects keep off
    // the edges), or the border's mean colour when nothing clusters.
    eval_bg win;
    memset(&win, 0, sizeof win);
    win.style = WORLD_BG_PLAIN;
    {
        int on[MAX_CLUSTERS] = {0}, nb = 0, top = -1;
        for (int p = 0; p < np; p++) {
            if (!on_border(n, p)) continue;
            nb++;
            if (label[p] >= 0) on[label[p]]++;
            for (int c = 0; c < 3; c++) win.c1[c] += img[3 * (size_t)p + c];
        }
        for (int c = 0; c < 3; c++) win.c1[c] /= nb;
        for (int q = 0; q < nk; q++)
            if (on[q] > 0 && (top < 0 || on[q] > on[top])) top = q;
        if (top >= 0) memcpy(win.c1, means[top], sizeof win.c1);
    }
    memcpy(win.c2, win.c1, sizeof win.c2);
    win.pattern.style = WORLD_BG_PLAIN;
    win.pattern.size = n;
    win.score = model_score(img, np, NULL, win.c1, win.c1);
    for (int p = 0; p < np; p++) alpha[p] = 0;
    const double margin = 0.01 * np * EVAL_TAU * EVAL_TAU;
    double plain_score = win.score;
    bool have_other = false;

    float *a0 = work, *a1 = work + np;
    // Gradients.
    for (int axis = 0; axis < 2; axis++) {
        double c1[3], c2[3];
        memcpy(c1, win.c1, sizeof c1);
        memcpy(c2, win.c1, sizeof c2);
        fit_gradient(img, n, axis, a0, c1, c2);
        if (two_colour_dist(c1, c2) < MIN_TWO_COLOUR_DIST) continue;
        double s = model_score(img, np, a0, c1, c2);
        if (s < plain_score - margin && (!have_other || s < win.score)) {
            have_other = true;
            win.style = WORLD_BG_GRADIENT;
            memcpy(win.c1, c1, sizeof c1);
            memcpy(win.c2, c2, sizeof c2);
            win.pattern = (world_pattern){WORLD_BG_GRADIENT, n, axis, 0, 0, 0, 0, 0};
            win.blurred = false;
            win.score = s;
            memcpy(alpha, a0, sizeof(float) * (size_t)np);
        }
    }
    // Patterns, sharp and blurred.
    for (int s = 0; s < 3; s++)
        for (int ci = 0; ci < best[s].n; ci++) {
            const candidate *cand = &best[s].c[ci];
            // Only near-ties of the best agreement get the full fit, and only
            // when their colours follow the pattern (a cheap way to skip
            // patterns that are not there: the full score would reject them).
            if (cand->mismatch > best[s].c[0].mismatch + np / 200) break;
            if (cand->purity < MIN_PURITY) continue;
            const world_pattern *pat = &cand->pat;
            const dot_tile *tile = styles[s] == WORLD_BG_DOTTED ? &tiles[pat->period == tiles[0].g ? 0 : 1] : NULL;
            for (int y = 0; y < n; y++)
                for (int x = 0; x < n; x++) a0[y * n + x] = pixel_alpha(pat, tile, x, y);
            box3(a0, a1, n);
            for (int blur = 0; blur < 2; blur++) {
                const float *a = blur ? a1 : a0;
                double c1[3], c2[3];
                if (!fit_two_colours(img, np, a, label, cand->a, cand->b, c1, c2)) continue;
                if (two_colour_dist(c1, c2) < MIN_TWO_COLOUR_DIST) continue;
                double sc = model_score(img, np, a, c1, c2);
                if (sc < plain_score - margin && (!have_other || sc < win.score)) {
                    have_other = true;
                    win.style = styles[s];
                    memcpy(win.c1, c1, sizeof c1);
                    memcpy(win.c2, c2, sizeof c2);
                    win.pattern = *pat;
                    win.blurred = blur;
                    win.score = sc;
                    memcpy(alpha, a, sizeof(float) * (size_t)np);
                }
            }
        }
    refine_colours(img, np, win.style == WORLD_BG_PLAIN ? NULL : alpha, win.c1, win.c2);
    *out = win;
done:
    free(label);
    free(work);
    for (int i = 0; i < 2; i++) {
        free(tiles[i].cls);
        free(tiles[i].alpha);
    }
    return st;
}
