// world-eval: foreground segmentation, object classification and the API
// (see eval.h for the method; the background fit is in eval_bg.c).
#include "world/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "world/eval_private.h"

#define T_FG 30.0         // smoothed residual that marks foreground (RGB units)
#define SPLIT_FRAC 0.45   // re-threshold strong components at this share of their p90 residual
#define RING 2            // pixels around a component that may hold its anti-aliased edge
#define E_MAX 0.3         // template mismatch above which a component is no shape
#define E_SPLIT 0.15      // mismatch above which a component is re-thresholded (joined objects?)
#define MAX_PARTS 32
#define MIN_AREA 10.0     // world units^2: below, a component is noise (a small triangle is 24.5)

typedef struct eval_work {
    int n, np;
    float *img;     // (n, n, 3)
    float *alpha;   // background model c2 fraction
    float *res;     // (n, n, 3) relaxed residual
    float *ds;      // smoothed residual norm
    int *comp;      // component, then part, labels (-1 none)
    int *owner;     // part owning the pixel (-1 none, -2 contested)
    int *stack;     // flood fill / BFS queue
    float *tmpl;    // template scratch
} eval_work;

static void work_free(eval_work *w) {
    free(w->img);
    free(w->alpha);
    free(w->res);
    free(w->ds);
    free(w->comp);
    free(w->owner);
    free(w->stack);
    free(w->tmpl);
}

static silt_status work_alloc(eval_work *w, int n) {
    memset(w, 0, sizeof *w);
    w->n = n;
    w->np = n * n;
    size_t np = (size_t)w->np;
    w->img = malloc(sizeof(float) * np * 3);
    w->alpha = malloc(sizeof(float) * np);
    w->res = malloc(sizeof(float) * np * 3);
    w->ds = malloc(sizeof(float) * np);
    w->comp = malloc(sizeof(int) * np);
    w->owner = malloc(sizeof(int) * np);
    w->stack = malloc(sizeof(int) * np);
    w->tmpl = malloc(sizeof(float) * np * 2);
    if (!w->img || !w->alpha || !w->res || !w->ds || !w->comp || !w->owner || !w->stack || !w->tmpl) {
        work_free(w);
        return SILT_FAIL(SILT_ERR_OOM, "world eval: out of memory");
    }
    return SILT_OK;
}

static silt_status load_image(const uint8_t *rgb, int w, int h, eval_work *wk) {
    if (!rgb) return SILT_FAIL(SILT_ERR_ARG, "world eval: NULL image");
    if (w != h || w < WORLD_UNITS || w > WORLD_EVAL_MAX_SIZE || w % WORLD_UNITS)
        return SILT_FAIL(SILT_ERR_UNSUPPORTED,
                         "world eval: image is %dx%d; the world evaluator takes square images of 32, 64 or a multiple of 32 "
                         "pixels (up to %d)",
                         w, h, WORLD_EVAL_MAX_SIZE);
    int n = w == 64 ? 64 : 32, f = w / n;
    SILT_TRY(work_alloc(wk, n));
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++)
            for (int c = 0; c < 3; c++) {
                double s = 0;
                for (int j = 0; j < f; j++)
                    for (int i = 0; i < f; i++) s += rgb[((size_t)(y * f + j) * w + (x * f + i)) * 3 + c];
                wk->img[((size_t)y * n + x) * 3 + c] = (float)(s / (f * f));
            }
    return SILT_OK;
}

static void model_colour(const eval_bg *bg, float a, double m[3]) {
    for (int c = 0; c < 3; c++) m[c] = bg->c1[c] + a * (bg->c2[c] - bg->c1[c]);
}

// Residual to the background, relaxed to any mix of the background colours
// seen in the 3x3 neighbourhood, then its 3x3 mean's norm.
static void residuals(eval_work *w, const eval_bg *bg) {
    int n = w->n;
    double d[3], dd = 0;
    for (int c = 0; c < 3; c++) {
        d[c] = bg->c2[c] - bg->c1[c];
        dd += d[c] * d[c];
    }
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) {
            float lo = 1, hi = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int xx = x + dx, yy = y + dy;
                    if (xx < 0 || yy < 0 || xx >= n || yy >= n) continue;
                    float a = w->alpha[yy * n + xx];
                    lo = a < lo ? a : lo;
                    hi = a > hi ? a : hi;
                }
            const float *v = w->img + ((size_t)y * n + x) * 3;
            double a = 0;
            if (dd > 1) {
                for (int c = 0; c < 3; c++) a += (v[c] - bg->c1[c]) * d[c];
                a /= dd;
                a = a < lo ? lo : a > hi ? hi : a;
            }
            for (int c = 0; c < 3; c++) w->res[((size_t)y * n + x) * 3 + c] = (float)(v[c] - (bg->c1[c] + a * d[c]));
        }
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) {
            double s[3] = {0, 0, 0};
            int cnt = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int xx = x + dx, yy = y + dy;
                    if (xx < 0 || yy < 0 || xx >= n || yy >= n) continue;
                    for (int c = 0; c < 3; c++) s[c] += w->res[((size_t)yy * n + xx) * 3 + c];
                    cnt++;
                }
            w->ds[y * n + x] = (float)(sqrt(s[0] * s[0] + s[1] * s[1] + s[2] * s[2]) / cnt);
        }
}

// 8-connected labelling of pixels where keep[p] (thresholds per previous
// label); returns the number of labels written to out.
static int label_components(eval_work *w, const int *prev, const float *thr, int *out) {
    int n = w->n, nl = 0;
    for (int p = 0; p < w->np; p++) out[p] = -1;
    for (int p0 = 0; p0 < w->np; p0++) {
        if (out[p0] >= 0) continue;
        if (prev ? (prev[p0] < 0 || w->ds[p0] <= thr[prev[p0]]) : w->ds[p0] <= T_FG) continue;
        int top = 0;
        w->stack[top++] = p0;
        out[p0] = nl;
        while (top) {
            int p = w->stack[--top], x = p % n, y = p / n;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int xx = x + dx, yy = y + dy;
                    if (xx < 0 || yy < 0 || xx >= n || yy >= n) continue;
                    int q = yy * n + xx;
                    if (out[q] >= 0) continue;
                    if (prev ? (prev[q] != prev[p0] || w->ds[q] <= thr[prev[q]]) : w->ds[q] <= T_FG) continue;
                    out[q] = nl;
                    w->stack[top++] = q;
                }
        }
        nl++;
    }
    return nl;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

// Distance from p to the segment [a, b] (RGB).
static double seg_dist2(const float *p, const double *a, const double *b) {
    double ab[3], ap[3], l2 = 0, t = 0;
    for (int c = 0; c < 3; c++) {
        ab[c] = b[c] - a[c];
        ap[c] = p[c] - a[c];
        l2 += ab[c] * ab[c];
        t += ab[c] * ap[c];
    }
    t = l2 > 0 ? t / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double d2 = 0;
    for (int c = 0; c < 3; c++) {
        double e = ap[c] - t * ab[c];
        d2 += e * e;
    }
    return d2;
}

// Classifies part `id` (its footprint: comp[p] == id; its region: owner[p] == id).
static bool analyse_part(eval_work *w, const eval_bg *bg, int id, world_detection *det) {
    int n = w->n, k = n / WORLD_UNITS;
    double tau2 = EVAL_TAU * EVAL_TAU;
    // Colour: the palette entry whose mixing line with the background fits the footprint.
    double best_cost = INFINITY;
    int colour = 0;
    for (int c = 0; c < WORLD_COLOUR_COUNT; c++) {
        double pal[3] = {world_palette[c][0], world_palette[c][1], world_palette[c][2]}, cost = 0;
        for (int p = 0; p < w->np; p++) {
            if (w->comp[p] != id) continue;
            double m[3];
            model_colour(bg, w->alpha[p], m);
            double d2 = seg_dist2(w->img + (size_t)p * 3, m, pal);
            cost += d2 < tau2 ? d2 : tau2;
        }
        if (cost < best_cost) { best_cost = cost; colour = c; }
    }
    // Coverage: projection on the line from the local background to the colour.
    double A = 0, mx = 0, my = 0;
    int x0 = n, y0 = n, x1 = -1, y1 = -1;
    float *cov = w->tmpl;  // first half: coverage, second half: template
    for (int p = 0; p < w->np; p++) {
        cov[p] = 0;
        if (w->owner[p] != id) continue;
        double m[3], e[3], ee = 0, a = 0;
        model_colour(bg, w->alpha[p], m);
        for (int c = 0; c < 3; c++) {
            e[c] = world_palette[colour][c] - m[c];
            ee += e[c] * e[c];
            a += (w->img[(size_t)p * 3 + c] - m[c]) * e[c];
        }
        a = ee > 1 ? a / ee : 0;
        cov[p] = (float)a;
        int x = p % n, y = p / n;
        A += a;
        mx += a * (x + 0.5);
        my += a * (y + 0.5);
        x0 = x < x0 ? x : x0;
        x1 = x > x1 ? x : x1;
        y0 = y < y0 ? y : y0;
        y1 = y > y1 ? y : y1;
    }
    if (A < MIN_AREA * k * k) return false;
    mx /= A;
    my /= A;
    float *T = w->tmpl + w->np;
    double best_e = INFINITY, best_s = 0, best_cy = my;
    int shape = -1;
    for (int s = 0; s < WORLD_SHAPE_COUNT; s++) {
        double ext = sqrt(A / world_shape_area_fraction((world_shape)s));
        double cx = mx, cy = my - world_shape_centroid_offset((world_shape)s) * ext;
        // The sampled shape's area differs from the analytic one (a cross's
        // arms snap to the 1/4-pixel sample grid): rescale until the
        // template's own area matches the measured one.
        for (int it = 0; it < 2; it++) {
            double at = 0;
            for (int y = (int)floor(cy - ext / 2); y <= (int)ceil(cy + ext / 2); y++)
                for (int x = (int)floor(cx - ext / 2); x <= (int)ceil(cx + ext / 2); x++)
                    at += world_shape_coverage((world_shape)s, cx, cy, ext, x, y);
            if (at <= 0) break;
            ext *= sqrt(A / at);
            cy = my - world_shape_centroid_offset((world_shape)s) * ext;
        }
        // Window: the region and the template's box, with room for a blur.
        int wx0 = (int)floor(fmin(x0, cx - ext / 2)) - 2, wx1 = (int)ceil(fmax(x1, cx + ext / 2)) + 2;
        int wy0 = (int)floor(fmin(y0, cy - ext / 2)) - 2, wy1 = (int)ceil(fmax(y1, cy + ext / 2)) + 2;
        wx0 = wx0 < 0 ? 0 : wx0;
        wy0 = wy0 < 0 ? 0 : wy0;
        wx1 = wx1 >= n ? n - 1 : wx1;
        wy1 = wy1 >= n ? n - 1 : wy1;
        for (int y = wy0; y <= wy1; y++)
            for (int x = wx0; x <= wx1; x++) T[y * n + x] = world_shape_coverage((world_shape)s, cx, cy, ext, x, y);
        double e_sharp = 0, e_blur = 0;
        for (int y = wy0; y <= wy1; y++)
            for (int x = wx0; x <= wx1; x++) {
                int p = y * n + x;
                if (w->owner[p] != id && w->owner[p] != -1) continue;  // another object's pixels say nothing
                double t = T[p], tb = 0;
                int cnt = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int xx = x + dx, yy = y + dy;
                        if (xx < 0 || yy < 0 || xx >= n || yy >= n) continue;
                        cnt++;
                        if (xx >= wx0 && xx <= wx1 && yy >= wy0 && yy <= wy1) tb += T[yy * n + xx];
                    }
                tb /= cnt;
                double a = cov[p];
                e_sharp += (a - t) * (a - t);
                e_blur += (a - tb) * (a - tb);
            }
        double e = fmin(e_sharp, e_blur) / A;
        if (e < best_e) {
            best_e = e;
            shape = s;
            best_s = ext;
            best_cy = cy;
        }
    }
    det->shape = best_e <= E_MAX ? shape : -1;
    det->colour = (world_colour)colour;
    det->size = best_s / k >= sqrt(world_size_extent(WORLD_SMALL) * world_size_extent(WORLD_LARGE)) ? WORLD_LARGE : WORLD_SMALL;
    det->cx = mx / k;
    det->cy = best_cy / k;
    det->extent = best_s / k;
    det->fit_error = best_e;
    det->area = A / (k * k);
    return true;
}

// Pixels within RING (chessboard) of a part go to the nearest part; ties are contested.
static void grow_regions(eval_work *w, int n_parts) {
    int n = w->n, head = 0, tail = 0;
    // stack is the BFS queue, tmpl holds the distances.
    float *d = w->tmpl;
    for (int p = 0; p < w->np; p++) {
        w->owner[p] = w->comp[p] >= 0 && w->comp[p] < n_parts ? w->comp[p] : -1;
        d[p] = w->owner[p] >= 0 ? 0 : INFINITY;
        if (w->owner[p] >= 0) w->stack[tail++] = p;
    }
    while (head < tail) {
        int p = w->stack[head++], x = p % n, y = p / n;
        if (d[p] >= RING || w->owner[p] < 0) continue;
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                int xx = x + dx, yy = y + dy;
                if (xx < 0 || yy < 0 || xx >= n || yy >= n) continue;
                int q = yy * n + xx;
                if (d[q] > d[p] + 1) {
                    d[q] = d[p] + 1;
                    w->owner[q] = w->owner[p];
                    w->stack[tail++] = q;
                } else if (d[q] == d[p] + 1 && w->owner[q] != w->owner[p]) {
                    w->owner[q] = -2;  // equidistant from two parts
                }
            }
    }
}

// Caps the labels at MAX_PARTS, keeping the largest (by pixel count; ties
// by label) and renumbering them by size; returns the new count.
static int keep_largest(eval_work *w, int n, int *n_ignored) {
    if (n <= MAX_PARTS) return n;
    int *size = w->owner;  // free here: regions are grown afterwards
    int rank[MAX_PARTS * 8];
    memset(size, 0, sizeof(int) * (size_t)n);
    for (int p = 0; p < w->np; p++)
        if (w->comp[p] >= 0) size[w->comp[p]]++;
    // Labels beyond the rank table are dropped outright (noise specks).
    int m = n < MAX_PARTS * 8 ? n : MAX_PARTS * 8;
    for (int i = 0; i < m; i++) {
        rank[i] = 0;
        for (int j = 0; j < m; j++) rank[i] += size[j] > size[i] || (size[j] == size[i] && j < i);
    }
    for (int p = 0; p < w->np; p++) {
        int c = w->comp[p];
        if (c >= 0) w->comp[p] = c < m && rank[c] < MAX_PARTS ? rank[c] : -1;
    }
    *n_ignored += n - MAX_PARTS;
    return MAX_PARTS;
}

silt_status world_eval_detect(const uint8_t *rgb, int w, int h, world_eval_result *out) {
    if (!out) return SILT_FAIL(SILT_ERR_ARG, "world eval: NULL result");
    eval_work wk;
    SILT_TRY(load_image(rgb, w, h, &wk));
    world_eval_result r;
    memset(&r, 0, sizeof r);
    eval_bg bg;
    silt_status st = eval_fit_background(wk.img, wk.n, wk.alpha, &bg);
    if (st != SILT_OK) {
        work_free(&wk);
        return st;
    }
    r.bg_style = bg.style;
    for (int c = 0; c < 3; c++) {
        r.bg_c1[c] = (float)bg.c1[c];
        r.bg_c2[c] = (float)bg.c2[c];
    }
    r.analysed_size = wk.n;
    residuals(&wk, &bg);

    // Components, each analysed as one object.
    silt_status st2 = SILT_OK;
    int n_parts = label_components(&wk, NULL, NULL, wk.comp);
    n_parts = keep_largest(&wk, n_parts, &r.n_ignored);
    world_detection dets[MAX_PARTS];
    bool found[MAX_PARTS];
    grow_regions(&wk, n_parts);
    for (int id = 0; id < n_parts; id++) found[id] = analyse_part(&wk, &bg, id, &dets[id]);
    // Objects a blur joined: re-threshold each strong component at a share of
    // its strongest residuals; where that yields two or more pieces that
    // shapes explain well (or the whole was explained badly), the pieces
    // replace the component.
    float thr[MAX_PARTS];
    bool split = false;
    float *vals = malloc(sizeof(float) * (size_t)wk.np);
    if (!vals) st2 = SILT_FAIL(SILT_ERR_OOM, "world eval: out of memory");
    for (int id = 0; id < n_parts && st2 == SILT_OK; id++) {
        int m = 0;
        for (int p = 0; p < wk.np; p++)
            if (wk.comp[p] == id) vals[m++] = wk.ds[p];
        qsort(vals, (size_t)m, sizeof *vals, cmp_float);
        thr[id] = (float)fmax(T_FG, SPLIT_FRAC * vals[(int)(0.9 * (m - 1))]);
        split = split || thr[id] > T_FG;
    }
    free(vals);
    if (st2 != SILT_OK) {
        work_free(&wk);
        return st2;
    }
    bool use_pieces[MAX_PARTS] = {false};
    world_detection pieces[MAX_PARTS];
    bool piece_found[MAX_PARTS];
    int piece_parent[MAX_PARTS], n_pieces = 0;
    if (split) {
        memcpy(wk.owner, wk.comp, sizeof(int) * (size_t)wk.np);  // owner: the whole components
        int *whole = malloc(sizeof(int) * (size_t)wk.np);
        if (!whole) {
            work_free(&wk);
            return SILT_FAIL(SILT_ERR_OOM, "world eval: out of memory");
        }
        memcpy(whole, wk.comp, sizeof(int) * (size_t)wk.np);
        n_pieces = label_components(&wk, wk.owner, thr, wk.comp);
        int dropped = 0;
        n_pieces = keep_largest(&wk, n_pieces, &dropped);
        for (int q = 0; q < n_pieces; q++) piece_parent[q] = -1;
        for (int p = 0; p < wk.np; p++)
            if (wk.comp[p] >= 0) piece_parent[wk.comp[p]] = whole[p];
        free(whole);
        grow_regions(&wk, n_pieces);
        int good[MAX_PARTS] = {0};
        for (int q = 0; q < n_pieces; q++) {
            piece_found[q] = analyse_part(&wk, &bg, q, &pieces[q]);
            if (piece_found[q] && pieces[q].fit_error <= E_SPLIT && piece_parent[q] >= 0) good[piece_parent[q]]++;
        }
        for (int id = 0; id < n_parts; id++)
            use_pieces[id] = thr[id] > T_FG && (good[id] >= 2 || (good[id] >= 1 && (!found[id] || dets[id].fit_error > E_SPLIT)));
    }
    for (int id = 0; id < n_parts; id++) {
        if (use_pieces[id]) {
            for (int q = 0; q < n_pieces; q++) {
                if (piece_parent[q] != id) continue;
                if (!piece_found[q] || r.n_detections >= WORLD_EVAL_MAX_DETECTIONS) r.n_ignored++;
                else r.det[r.n_detections++] = pieces[q];
            }
            continue;
        }
        if (!found[id] || r.n_detections >= WORLD_EVAL_MAX_DETECTIONS) {
            r.n_ignored++;
            continue;
        }
        r.det[r.n_detections++] = dets[id];
    }
    work_free(&wk);
    *out = r;
    return SILT_OK;
}

silt_status world_eval_image_reqs(const uint8_t *rgb, int w, int h, const world_reqs *reqs, world_eval_result *out) {
    if (!out) return SILT_FAIL(SILT_ERR_ARG, "world eval: NULL result");
    SILT_TRY(world_reqs_validate(reqs));
    world_eval_result r;
    SILT_TRY(world_eval_detect(rgb, w, h, &r));
    world_observed obs[WORLD_EVAL_MAX_DETECTIONS];
    for (int i = 0; i < r.n_detections; i++) {
        const world_detection *d = &r.det[i];
        obs[i] = (world_observed){d->shape, (int)d->colour, (int)d->size, d->cx, d->cy, d->extent, d->extent};
    }
    world_reqs_check(reqs, obs, r.n_detections, (int)r.bg_style, &r.check);
    r.pass = r.check.pass;
    r.score = r.check.score;
    *out = r;
    return SILT_OK;
}

silt_status world_eval_image(const uint8_t *rgb, int w, int h, const char *caption, world_eval_result *out) {
    world_reqs reqs;
    SILT_TRY(world_caption_parse(caption, &reqs));
    return world_eval_image_reqs(rgb, w, h, &reqs, out);
}
