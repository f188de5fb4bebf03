// Test-time search for the text VAR (search.h): TTS-VAR, best-of-N,
// importance sampling, over the stepwise sampler of var/var_sample.c.
#include "var/search.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/linalg.h"
#include "core/rng.h"
#include "var/var_internal.h"

static const char *const kind_names[VAR_SEARCH_KIND_COUNT] = {"none", "tts", "best-of-n", "importance"};
static const char *const potential_names[VAR_POTENTIAL_COUNT] = {"value", "diff", "sum", "max"};

const char *var_search_kind_name(var_search_kind k) { return (unsigned)k < VAR_SEARCH_KIND_COUNT ? kind_names[k] : "?"; }

silt_status var_search_kind_from_name(const char *name, var_search_kind *out) {
    for (int i = 0; name && i < VAR_SEARCH_KIND_COUNT; i++)
        if (!strcmp(name, kind_names[i])) { *out = (var_search_kind)i; return SILT_OK; }
    return SILT_FAIL(SILT_ERR_ARG, "unknown search '%s' (none, tts, best-of-n or importance)", name ? name : "(null)");
}

const char *var_potential_name(var_potential p) { return (unsigned)p < VAR_POTENTIAL_COUNT ? potential_names[p] : "?"; }

silt_status var_potential_from_name(const char *name, var_potential *out) {
    for (int i = 0; name && i < VAR_POTENTIAL_COUNT; i++)
        if (!strcmp(name, potential_names[i])) { *out = (var_potential)i; return SILT_OK; }
    return SILT_FAIL(SILT_ERR_ARG, "unknown potential '%s' (value, diff, sum or max)", name ? name : "(null)");
}

// RNG streams of the search's own draws (k-means, multinomial), apart from
// each other; the scale index is added.
enum { STREAM_KMEANS = 1000, STREAM_RESAMPLE = 2000, STREAM_IMPORTANCE = 3000 };

void var_search_map_paper(int K, var_search_params *p) {
    // Paper (13 scales, 0..12): cluster at 2, 5; resample at 6, 9; kept
    // 8 until the first selection, then 6, 4, 2, 1.
    static const int paper_at[4] = {2, 5, 6, 9};
    static const int mult[5] = {8, 6, 4, 2, 1};
    int at[4], n_at = 0, prev = -1;
    for (int i = 0; i < 4; i++) {
        int s = (2 * paper_at[i] * (K - 1) + 12) / 24;  // round(s (K-1) / 12), halves up
        if (s <= prev) s = prev + 1;
        if (s >= K - 1) break;
        at[n_at++] = s;
        prev = s;
    }
    p->n_cluster = p->n_resample = 0;
    for (int i = 0; i < n_at; i++) {
        if (i < 2) p->cluster_at[p->n_cluster++] = at[i];
        else p->resample_at[p->n_resample++] = at[i];
    }
    for (int k = 0, j = 0; k < K && k < VAR_MAX_SCALES; k++) {
        while (j < n_at && at[j] <= k) j++;
        p->schedule[k] = mult[j];
    }
    if (K < 2)
        for (int k = 0; k < VAR_MAX_SCALES; k++) p->schedule[k] = 1;
}

var_search_params var_search_default_params(int n_scales) {
    var_search_params p;
    memset(&p, 0, sizeof p);
    p.kind = VAR_SEARCH_TTS;
    p.n = 1;
    p.potential = VAR_POTENTIAL_VALUE;
    p.lambda = 10.0;
    var_search_map_paper(n_scales, &p);
    return p;
}

static bool in_list(const int *a, int n, int k) {
    for (int i = 0; i < n; i++)
        if (a[i] == k) return true;
    return false;
}

void var_compute_add(var_compute *sum, const var_compute *x) {
    sum->token_forwards += x->token_forwards;
    sum->plain_token_forwards += x->plain_token_forwards;
    sum->flops += x->flops;
    sum->plain_flops += x->plain_flops;
    sum->decodes += x->decodes;
    sum->reward_calls += x->reward_calls;
    sum->feature_calls += x->feature_calls;
}

silt_status var_search_check(const var_search_params *p, int K) {
    if (!p) return SILT_FAIL(SILT_ERR_ARG, "search: NULL parameters");
    if ((unsigned)p->kind >= VAR_SEARCH_KIND_COUNT) return SILT_FAIL(SILT_ERR_ARG, "search: bad kind");
    if (p->n < 1 || p->n > 4096) return SILT_FAIL(SILT_ERR_ARG, "search: n %d must be 1..4096", p->n);
    if (K < 2 || K > VAR_MAX_SCALES) return SILT_FAIL(SILT_ERR_ARG, "search: %d scales", K);
    if (!isfinite(p->lambda)) return SILT_FAIL(SILT_ERR_ARG, "search: lambda must be finite");
    if ((unsigned)p->potential >= VAR_POTENTIAL_COUNT) return SILT_FAIL(SILT_ERR_ARG, "search: bad potential");
    if (p->trace && p->kind != VAR_SEARCH_BEST_OF_N && p->kind != VAR_SEARCH_IMPORTANCE)
        return SILT_FAIL(SILT_ERR_ARG, "search: a reward trace needs best-of-n or importance (no selection in between)");
    if ((p->kind == VAR_SEARCH_BEST_OF_N || p->kind == VAR_SEARCH_IMPORTANCE) && p->n > 1 && !p->reward)
        return SILT_FAIL(SILT_ERR_ARG, "search %s: no reward function", var_search_kind_name(p->kind));
    if (p->trace && !p->reward) return SILT_FAIL(SILT_ERR_ARG, "search: a reward trace needs a reward function");
    if (p->kind != VAR_SEARCH_TTS) return SILT_OK;
    if (p->n_cluster < 0 || p->n_cluster > VAR_SEARCH_MAX_AT || p->n_resample < 0 || p->n_resample > VAR_SEARCH_MAX_AT)
        return SILT_FAIL(SILT_ERR_ARG, "search: at most %d clustering and %d resampling scales", VAR_SEARCH_MAX_AT,
                         VAR_SEARCH_MAX_AT);
    for (int w = 0; w < 2; w++) {
        const int *at = w ? p->resample_at : p->cluster_at;
        int n = w ? p->n_resample : p->n_cluster;
        for (int i = 0; i < n; i++) {
            if (at[i] < 0 || at[i] >= K - 1)
                return SILT_FAIL(SILT_ERR_ARG, "search: %s scale %d is outside 0..%d (the last scale %d makes the final "
                                               "choice)", w ? "resampling" : "clustering", at[i], K - 2, K - 1);
            if (i && at[i] <= at[i - 1])
                return SILT_FAIL(SILT_ERR_ARG, "search: %s scales must ascend", w ? "resampling" : "clustering");
        }
    }
    for (int i = 0; i < p->n_cluster; i++)
        if (in_list(p->resample_at, p->n_resample, p->cluster_at[i]))
            return SILT_FAIL(SILT_ERR_ARG, "search: scale %d cannot both cluster and resample", p->cluster_at[i]);
    for (int k = 0; k < K; k++) {
        int s = p->schedule[k];
        if (s < 1 || (int64_t)s * p->n > 65536)
            return SILT_FAIL(SILT_ERR_ARG, "search: schedule entry %d at scale %d must be >= 1 (and x n at most 65536)", s, k);
        if (k && s > p->schedule[k - 1])
            return SILT_FAIL(SILT_ERR_ARG, "search: the schedule must not grow (scale %d: %d after %d)", k, s,
                             p->schedule[k - 1]);
        bool sel = in_list(p->cluster_at, p->n_cluster, k) || in_list(p->resample_at, p->n_resample, k);
        if (k && s < p->schedule[k - 1] && !sel)
            return SILT_FAIL(SILT_ERR_ARG, "search: the schedule shrinks at scale %d, which neither clusters nor "
                                           "resamples", k);
    }
    bool shrinks_by_cluster = false, scores = p->n_resample > 0 || p->schedule[K - 1] * p->n > 1;
    for (int i = 0; i < p->n_cluster; i++) {
        int k = p->cluster_at[i];
        if (p->schedule[k] < (k ? p->schedule[k - 1] : p->schedule[0]) || k == 0) shrinks_by_cluster = true;
    }
    if (scores && !p->reward) return SILT_FAIL(SILT_ERR_ARG, "search tts: no reward function");
    if (shrinks_by_cluster && p->n_cluster && (!p->features || p->feat_tokens < 1 || p->feat_dim < 1))
        return SILT_FAIL(SILT_ERR_ARG, "search tts: clustering needs a feature function and its sizes");
    return SILT_OK;
}

// ---- building blocks ------------------------------------------------------------------

double var_scale_flops(const var_config *c, int64_t Tc, int si, int64_t rows) {
    double C = c->embed_dim, l = (double)c->patch_nums[si] * c->patch_nums[si];
    double ctx = (double)c->begin[si + 1], M = c->mlp_hidden, V = c->vocab_size, T = (double)Tc;
    double block = 2 * C * 6 * C                 // AdaLN of the row
                   + 2 * l * C * 3 * C           // qkv
                   + 2 * 2 * l * ctx * C         // scores and values over the cache
                   + 2 * l * C * C               // proj
                   + 2 * l * C * M * 2;          // fc1, fc2
    if (c->text_dim)
        block += 2 * l * C * C                   // ca.mat_q
                 + 2 * T * C * 2 * C             // ca.mat_kv of the text tokens (recomputed per scale)
                 + 2 * 2 * l * T * C             // scores and values
                 + 2 * l * C * C;                // ca.proj
    double head = 2 * C * 2 * C + 2 * l * C * V;
    return (double)rows * (c->depth * block + head);
}

silt_status var_pca_feature(const float *F, int P, int D, double *phi) {
    if (!F || !phi || P < 1 || D < 1) return SILT_FAIL(SILT_ERR_ARG, "var_pca_feature: bad arguments");
    double *mean = calloc((size_t)D, sizeof *mean), *cov = calloc((size_t)D * D, sizeof *cov);
    double *w = malloc((size_t)D * sizeof *w), *v = malloc((size_t)D * D * sizeof *v);
    double *x = malloc((size_t)P * D * sizeof *x);
    silt_status s = SILT_OK;
    if (!mean || !cov || !w || !v || !x) { s = SILT_FAIL(SILT_ERR_OOM, "var_pca_feature: out of memory"); goto done; }
    for (int i = 0; i < P; i++)
        for (int j = 0; j < D; j++) mean[j] += F[(int64_t)i * D + j];
    for (int j = 0; j < D; j++) mean[j] /= P;
    for (int i = 0; i < P; i++)
        for (int j = 0; j < D; j++) x[(int64_t)i * D + j] = F[(int64_t)i * D + j] - mean[j];
    for (int i = 0; i < P; i++)
        for (int a = 0; a < D; a++)
            for (int b = a; b < D; b++) cov[a * D + b] += x[(int64_t)i * D + a] * x[(int64_t)i * D + b];
    for (int a = 0; a < D; a++)
        for (int b = 0; b < a; b++) cov[a * D + b] = cov[b * D + a];
    s = silt_sym_eig(cov, D, w, v);
    if (s != SILT_OK) goto done;
    // Eigenvalues ascend: column D-1 is the top component.
    int big = 0;
    for (int i = 0; i < P; i++) {
        double d = 0;
        for (int j = 0; j < D; j++) d += x[(int64_t)i * D + j] * v[(int64_t)j * D + (D - 1)];
        phi[i] = d;
        if (fabs(d) > fabs(phi[big])) big = i;
    }
    if (phi[big] < 0)
        for (int i = 0; i < P; i++) phi[i] = -phi[i];
done:
    free(mean), free(cov), free(w), free(v), free(x);
    return s;
}

static double dist2(const double *a, const double *b, int d) {
    double s = 0;
    for (int j = 0; j < d; j++) s += (a[j] - b[j]) * (a[j] - b[j]);
    return s;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

silt_status var_kmeans_select(const double *X, int n, int d, int k, uint64_t seed, int *assign, int64_t *keep) {
    if (!X || !keep || n < 1 || d < 1 || k < 1) return SILT_FAIL(SILT_ERR_ARG, "var_kmeans_select: bad arguments");
    if (k >= n) {
        for (int i = 0; i < n; i++) {
            keep[i] = i;
            if (assign) assign[i] = i;
        }
        return SILT_OK;
    }
    double *cen = malloc((size_t)k * d * sizeof *cen), *dmin = malloc((size_t)n * sizeof *dmin);
    int *as = malloc((size_t)n * sizeof *as), *cnt = malloc((size_t)k * sizeof *cnt);
    if (!cen || !dmin || !as || !cnt) {
        free(cen), free(dmin), free(as), free(cnt);
        return SILT_FAIL(SILT_ERR_OOM, "var_kmeans_select: out of memory");
    }
    silt_rng rng = silt_rng_init(seed, STREAM_KMEANS);
    // k-means++: first centre uniform, then each with probability D^2 / sum D^2.
    int first = (int)silt_rng_uniform_int(&rng, (uint64_t)n);
    memcpy(cen, X + (int64_t)first * d, (size_t)d * sizeof *cen);
    for (int i = 0; i < n; i++) dmin[i] = dist2(X + (int64_t)i * d, cen, d);
    for (int c = 1; c < k; c++) {
        double tot = 0;
        for (int i = 0; i < n; i++) tot += dmin[i];
        int pick = 0;
        if (tot > 0) {
            double u = silt_rng_next_double(&rng) * tot, cum = 0;
            pick = -1;
            for (int i = 0; i < n; i++) {
                cum += dmin[i];
                if (dmin[i] > 0 && cum > u) { pick = i; break; }
            }
            if (pick < 0)  // u rounded up to the total: the last point with mass
                for (int i = n - 1; i >= 0; i--)
                    if (dmin[i] > 0) { pick = i; break; }
        } else {
            pick = (int)silt_rng_uniform_int(&rng, (uint64_t)n);  // all points coincide with centres
        }
        memcpy(cen + (int64_t)c * d, X + (int64_t)pick * d, (size_t)d * sizeof *cen);
        for (int i = 0; i < n; i++) {
            double e = dist2(X + (int64_t)i * d, cen + (int64_t)c * d, d);
            if (e < dmin[i]) dmin[i] = e;
        }
    }
    for (int i = 0; i < n; i++) as[i] = -1;
    for (int it = 0; it < 300; it++) {
        bool changed = false;
        for (int i = 0; i < n; i++) {
            int best = 0;
            double bd = dist2(X + (int64_t)i * d, cen, d);
            for (int c = 1; c < k; c++) {
                double e = dist2(X + (int64_t)i * d, cen + (int64_t)c * d, d);
                if (e < bd) bd = e, best = c;
            }
            dmin[i] = bd;
            if (as[i] != best) as[i] = best, changed = true;
        }
        // An emptied cluster takes the point farthest from its centre.
        memset(cnt, 0, (size_t)k * sizeof *cnt);
        for (int i = 0; i < n; i++) cnt[as[i]]++;
        for (int c = 0; c < k; c++) {
            if (cnt[c]) continue;
            int far = -1;
            for (int i = 0; i < n; i++)
                if (cnt[as[i]] > 1 && (far < 0 || dmin[i] > dmin[far])) far = i;
            if (far < 0) break;
            cnt[as[far]]--;
            as[far] = c;
            cnt[c] = 1;
            dmin[far] = 0;
            changed = true;
        }
        for (int c = 0; c < k; c++) memset(cen + (int64_t)c * d, 0, (size_t)d * sizeof *cen);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) cen[(int64_t)as[i] * d + j] += X[(int64_t)i * d + j];
        for (int c = 0; c < k; c++)
            for (int j = 0; j < d; j++) cen[(int64_t)c * d + j] /= cnt[c] ? cnt[c] : 1;
        if (!changed) break;
    }
    for (int c = 0; c < k; c++) {
        int best = -1;
        double bd = 0;
        for (int i = 0; i < n; i++) {
            if (as[i] != c) continue;
            double e = dist2(X + (int64_t)i * d, cen + (int64_t)c * d, d);
            if (best < 0 || e < bd) best = i, bd = e;
        }
        keep[c] = best;
    }
    qsort(keep, (size_t)k, sizeof *keep, cmp_i64);
    if (assign) memcpy(assign, as, (size_t)n * sizeof *as);
    free(cen), free(dmin), free(as), free(cnt);
    return SILT_OK;
}

silt_status var_resample(const double *logw, int n, int m, uint64_t seed, uint64_t stream, int64_t *out) {
    if (!logw || !out || n < 1 || m < 0) return SILT_FAIL(SILT_ERR_ARG, "var_resample: bad arguments");
    double *w = malloc((size_t)n * sizeof *w);
    if (!w) return SILT_FAIL(SILT_ERR_OOM, "var_resample: out of memory");
    double mx = -INFINITY;
    bool inf = false;
    for (int i = 0; i < n; i++) {
        if (logw[i] == INFINITY) inf = true;
        if (isfinite(logw[i]) && logw[i] > mx) mx = logw[i];
    }
    double tot = 0;
    for (int i = 0; i < n; i++) {
        if (inf) w[i] = logw[i] == INFINITY ? 1.0 : 0.0;
        else w[i] = isfinite(logw[i]) ? exp(logw[i] - mx) : 0.0;
        tot += w[i];
    }
    if (!(tot > 0)) {
        for (int i = 0; i < n; i++) w[i] = 1.0;
        tot = n;
    }
    silt_rng rng = silt_rng_init(seed, stream);
    for (int j = 0; j < m; j++) {
        double u = silt_rng_next_double(&rng) * tot, cum = 0;
        int pick = -1;
        for (int i = 0; i < n; i++) {
            cum += w[i];
            if (w[i] > 0 && cum > u) { pick = i; break; }
        }
        if (pick < 0)
            for (int i = n - 1; i >= 0; i--)
                if (w[i] > 0) { pick = i; break; }
        out[j] = pick;
    }
    free(w);
    return SILT_OK;
}

double var_potential_log_weight(var_potential p, double lambda, const double *h, int nh, double s) {
    double v = s;
    if (nh > 0) {
        switch (p) {
        case VAR_POTENTIAL_DIFF: v = s - h[nh - 1]; break;
        case VAR_POTENTIAL_SUM:
            for (int i = 0; i < nh; i++) v += h[i];
            break;
        case VAR_POTENTIAL_MAX:
            for (int i = 0; i < nh; i++)
                if (h[i] > v) v = h[i];
            break;
        default: break;
        }
    }
    return lambda * v;
}

// ---- the search -----------------------------------------------------------------------

typedef struct search {
    const var_model *m;
    const var_search_params *p;
    var_sample_params sp;
    var_run *run;
    int64_t B, Bmax, H, W, Tc;
    uint64_t *streams, next_stream;
    double *hist;      // (Bmax, K) reward history of each live sample
    int *nhist;        // (Bmax)
    float *img;        // (Bmax, 3, H, W)
    double *scores;    // (Bmax)
    var_search_stats st;
} search;

static silt_status step(search *s) {
    const var_config *c = var_get_config(s->m);
    int si = var_run_next_scale(s->run);
    int64_t rows = s->sp.cfg != 0 ? 2 * s->B : s->B;
    SILT_TRY(var_run_step(s->run, &s->sp, s->streams));
    s->st.compute.token_forwards += rows * (int64_t)c->patch_nums[si] * c->patch_nums[si];
    s->st.compute.flops += var_scale_flops(c, s->Tc, si, rows);
    s->st.live[si] = s->B;
    return SILT_OK;
}

static silt_status decode(search *s) {
    SILT_TRY(var_run_decode(s->run, s->img));
    s->st.compute.decodes += s->B;
    return SILT_OK;
}

static silt_status score(search *s) {
    SILT_TRY(s->p->reward(s->p->reward_user, s->img, s->B, (int)s->H, (int)s->W, s->scores));
    s->st.compute.reward_calls += s->B;
    for (int64_t b = 0; b < s->B; b++)
        if (isnan(s->scores[b])) return SILT_FAIL(SILT_ERR_NUMERIC, "search: the reward of sample %lld is NaN", (long long)b);
    return SILT_OK;
}

// Keeps from[0..n): run state, streams (first copy keeps its stream) and history.
static silt_status select_rows(search *s, const int64_t *from, int64_t n) {
    int K = var_get_config(s->m)->n_scales;
    SILT_TRY(var_run_select(s->run, from, n));
    uint64_t *ns = malloc((size_t)n * sizeof *ns);
    double *nh = malloc((size_t)(n * K) * sizeof *nh);
    int *nn = malloc((size_t)n * sizeof *nn);
    bool *used = calloc((size_t)s->B, sizeof *used);
    if (!ns || !nh || !nn || !used) {
        free(ns), free(nh), free(nn), free(used);
        return SILT_FAIL(SILT_ERR_OOM, "search: out of memory");
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t f = from[i];
        ns[i] = used[f] ? s->next_stream++ : s->streams[f];
        used[f] = true;
        memcpy(nh + i * K, s->hist + f * K, (size_t)K * sizeof *nh);
        nn[i] = s->nhist[f];
    }
    memcpy(s->streams, ns, (size_t)n * sizeof *ns);
    memcpy(s->hist, nh, (size_t)(n * K) * sizeof *nh);
    memcpy(s->nhist, nn, (size_t)n * sizeof *nn);
    s->B = n;
    free(ns), free(nh), free(nn), free(used);
    return SILT_OK;
}

static silt_status cluster(search *s, int si, int64_t keep_n) {
    const var_search_params *p = s->p;
    int P = p->feat_tokens, D = p->feat_dim;
    SILT_TRY(decode(s));
    float *feat = malloc((size_t)(s->B * P * D) * sizeof *feat);
    double *phi = malloc((size_t)(s->B * P) * sizeof *phi);
    int64_t *keep = malloc((size_t)keep_n * sizeof *keep);
    silt_status st = feat && phi && keep ? SILT_OK : SILT_FAIL(SILT_ERR_OOM, "search: out of memory");
    if (st == SILT_OK) st = p->features(p->feature_user, s->img, s->B, (int)s->H, (int)s->W, feat);
    if (st == SILT_OK) s->st.compute.feature_calls += s->B;
    for (int64_t b = 0; b < s->B && st == SILT_OK; b++) st = var_pca_feature(feat + b * P * D, P, D, phi + b * P);
    if (st == SILT_OK) st = var_kmeans_select(phi, (int)s->B, P, (int)keep_n, p->seed + (uint64_t)si, NULL, keep);
    if (st == SILT_OK) st = select_rows(s, keep, keep_n);
    free(feat), free(phi), free(keep);
    return st;
}

static silt_status resample(search *s, int si, int64_t keep_n) {
    const var_search_params *p = s->p;
    int K = var_get_config(s->m)->n_scales;
    SILT_TRY(decode(s));
    SILT_TRY(score(s));
    double *logw = malloc((size_t)s->B * sizeof *logw);
    int64_t *from = malloc((size_t)keep_n * sizeof *from);
    silt_status st = logw && from ? SILT_OK : SILT_FAIL(SILT_ERR_OOM, "search: out of memory");
    for (int64_t b = 0; b < s->B && st == SILT_OK; b++) {
        logw[b] = var_potential_log_weight(p->potential, p->lambda, s->hist + b * K, s->nhist[b], s->scores[b]);
        s->hist[b * K + s->nhist[b]++] = s->scores[b];
    }
    if (st == SILT_OK) st = var_resample(logw, (int)s->B, (int)keep_n, p->seed, STREAM_RESAMPLE + (uint64_t)si, from);
    if (st == SILT_OK) st = select_rows(s, from, keep_n);
    free(logw), free(from);
    return st;
}

static int64_t argmax(const double *x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static silt_status run_search(search *s, const var_model *m, const var_vqvae *vq, const var_text_cond *tc) {
    const var_search_params *p = s->p;
    const var_config *c = var_get_config(m);
    int K = c->n_scales;
    var_search_kind kind = p->kind;
    int64_t B0 = kind == VAR_SEARCH_NONE ? 1 : kind == VAR_SEARCH_TTS ? (int64_t)p->schedule[0] * p->n : p->n;
    s->B = s->Bmax = B0;
    s->next_stream = (uint64_t)B0;
    int64_t E = c->text_dim, T = tc->T, Dc = c->ctx_dim, per = 3 * s->H * s->W;
    // The one prompt repeated over the batch.
    float *pooled = malloc((size_t)(B0 * E) * sizeof *pooled), *tokens = malloc((size_t)(B0 * T * Dc) * sizeof *tokens);
    s->streams = malloc((size_t)B0 * sizeof *s->streams);
    s->hist = calloc((size_t)(B0 * K), sizeof *s->hist);
    s->nhist = calloc((size_t)B0, sizeof *s->nhist);
    s->img = malloc((size_t)(B0 * per) * sizeof *s->img);
    s->scores = malloc((size_t)B0 * sizeof *s->scores);
    silt_status st = SILT_OK;
    if (!pooled || !tokens || !s->streams || !s->hist || !s->nhist || !s->img || !s->scores)
        st = SILT_FAIL(SILT_ERR_OOM, "search: out of memory for %lld samples", (long long)B0);
    for (int64_t b = 0; b < B0 && st == SILT_OK; b++) {
        memcpy(pooled + b * E, tc->pooled, (size_t)E * sizeof *pooled);
        memcpy(tokens + b * T * Dc, tc->tokens, (size_t)(T * Dc) * sizeof *tokens);
        s->streams[b] = (uint64_t)b;
    }
    var_text_cond rep = {pooled, tokens, tc->null_pooled, tc->null_tokens, T};
    if (st == SILT_OK) st = var_run_create_text(m, vq, &rep, B0, s->sp.cfg, &s->run);
    free(pooled), free(tokens);
    SILT_TRY(st);
    bool trace = p->trace != NULL;
    for (int si = 0; si < K; si++) {
        SILT_TRY(step(s));
        if (kind == VAR_SEARCH_TTS && si < K - 1) {
            int64_t keep_n = (int64_t)p->schedule[si] * p->n;
            if (in_list(p->cluster_at, p->n_cluster, si) && keep_n < s->B) SILT_TRY(cluster(s, si, keep_n));
            else if (in_list(p->resample_at, p->n_resample, si)) SILT_TRY(resample(s, si, keep_n));
        }
        if (trace && si < K - 1) {
            SILT_TRY(decode(s));
            SILT_TRY(score(s));
            memcpy(p->trace + (int64_t)si * p->n, s->scores, (size_t)s->B * sizeof(double));
        }
    }
    // The final choice among the survivors.
    SILT_TRY(decode(s));
    s->st.candidates = s->B;
    s->st.reward = NAN;
    int64_t pick = 0;
    if (s->B > 1 || trace) {
        SILT_TRY(score(s));
        if (trace) memcpy(p->trace + (int64_t)(K - 1) * p->n, s->scores, (size_t)s->B * sizeof(double));
        if (kind == VAR_SEARCH_IMPORTANCE) {
            double *logw = malloc((size_t)s->B * sizeof *logw);
            if (!logw) return SILT_FAIL(SILT_ERR_OOM, "search: out of memory");
            for (int64_t b = 0; b < s->B; b++) logw[b] = p->lambda * s->scores[b];
            st = var_resample(logw, (int)s->B, 1, p->seed, STREAM_IMPORTANCE, &pick);
            free(logw);
            SILT_TRY(st);
        } else {
            pick = argmax(s->scores, s->B);
        }
        s->st.reward = s->scores[pick];
    }
    s->st.chosen = pick;
    // One plain sample of the same sampler, for the compute ratios.
    int64_t rows1 = s->sp.cfg != 0 ? 2 : 1;
    for (int si = 0; si < K; si++) {
        s->st.compute.plain_token_forwards += rows1 * (int64_t)c->patch_nums[si] * c->patch_nums[si];
        s->st.compute.plain_flops += var_scale_flops(c, s->Tc, si, rows1);
    }
    return SILT_OK;
}

silt_status var_search_text(const var_model *m, const var_vqvae *vq, const var_text_cond *tc,
                            const var_sample_params *sp, const var_search_params *p, float *img, var_search_stats *st) {
    if (!m || !vq || !tc || !sp || !p || !img) return SILT_FAIL(SILT_ERR_ARG, "var_search_text: NULL argument");
    const var_config *c = var_get_config(m);
    if (!c->text_dim) return SILT_FAIL(SILT_ERR_ARG, "var_search_text: this VAR is class-conditional");
    if (!tc->pooled || !tc->tokens || tc->T < 1) return SILT_FAIL(SILT_ERR_ARG, "var_search_text: no text condition");
    SILT_TRY(var_search_check(p, c->n_scales));
    const var_vq_config *q = var_vq_get_config(vq);
    search s;
    memset(&s, 0, sizeof s);
    s.m = m;
    s.p = p;
    s.sp = *sp;
    s.Tc = tc->T;
    s.H = s.W = (int64_t)c->patch_nums[c->n_scales - 1] * q->downsample;
    silt_status r = run_search(&s, m, vq, tc);
    if (r == SILT_OK) {
        memcpy(img, s.img + s.st.chosen * 3 * s.H * s.W, (size_t)(3 * s.H * s.W) * sizeof *img);
        if (st) *st = s.st;
    }
    var_run_free(s.run);
    free(s.streams), free(s.hist), free(s.nhist), free(s.img), free(s.scores);
    return r;
}
