// VAR test-time search (var/search.h): the PCA feature against a power-
// iteration reference with its sign fixed, k-means++ determinism and a known
// clustering, the paper -> K scale mapping, resampling (lambda 0 uniform,
// large lambda the argmax) and the potentials, the stepwise sampler's row
// selection (KV caches gathered), TTS with N = 1 and no selection equal to
// plain generation bit for bit, best-of-n against an independent recompute,
// importance at a huge lambda, and the compute counts against a hand count.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "var/search.h"
#include "var/var.h"
#include "var/var_internal.h"
#include "var/vqvae.h"

// --- PCA ----------------------------------------------------------------------------------

static void test_pca(void) {
    test_seed(3);
    enum { P = 13, D = 7 };
    float F[P * D], Fn[P * D];
    // A dominant direction plus noise, so the top component is well separated.
    double dir[D];
    for (int j = 0; j < D; j++) dir[j] = test_uniform() - 0.5;
    for (int i = 0; i < P; i++) {
        double a = 3 * (test_uniform() - 0.5);
        for (int j = 0; j < D; j++) F[i * D + j] = (float)(a * dir[j] + 0.1 * (test_uniform() - 0.5) + 0.7);
    }
    for (int i = 0; i < P * D; i++) Fn[i] = -F[i];
    double phi[P], phin[P];
    CHECK_OK(var_pca_feature(F, P, D, phi));
    CHECK_OK(var_pca_feature(Fn, P, D, phin));
    // Reference: power iteration on the centred covariance, in double.
    double mean[D] = {0}, x[P * D], cov[D * D] = {0}, v[D], ref[P];
    for (int i = 0; i < P; i++)
        for (int j = 0; j < D; j++) mean[j] += F[i * D + j] / (double)P;
    for (int i = 0; i < P; i++)
        for (int j = 0; j < D; j++) x[i * D + j] = F[i * D + j] - mean[j];
    for (int i = 0; i < P; i++)
        for (int a = 0; a < D; a++)
            for (int b = 0; b < D; b++) cov[a * D + b] += x[i * D + a] * x[i * D + b];
    for (int j = 0; j < D; j++) v[j] = 1.0 / (j + 1);
    for (int it = 0; it < 2000; it++) {
        double w[D] = {0}, nrm = 0;
        for (int a = 0; a < D; a++)
            for (int b = 0; b < D; b++) w[a] += cov[a * D + b] * v[b];
        for (int a = 0; a < D; a++) nrm += w[a] * w[a];
        for (int a = 0; a < D; a++) v[a] = w[a] / sqrt(nrm);
    }
    int big = 0;
    for (int i = 0; i < P; i++) {
        ref[i] = 0;
        for (int j = 0; j < D; j++) ref[i] += x[i * D + j] * v[j];
        if (fabs(ref[i]) > fabs(ref[big])) big = i;
    }
    if (ref[big] < 0)
        for (int i = 0; i < P; i++) ref[i] = -ref[i];
    double err = 0, errn = 0;
    for (int i = 0; i < P; i++) {
        err = fmax(err, fabs(phi[i] - ref[i]));
        errn = fmax(errn, fabs(phin[i] - phi[i]));
    }
    CHECK_MSG(err < 1e-4, "pca vs power iteration: max err %g", err);
    // -F has the same component up to sign; the fixed sign makes them equal.
    CHECK_MSG(errn < 1e-9, "pca sign: F and -F differ by %g", errn);
    int bi = 0;
    for (int i = 0; i < P; i++)
        if (fabs(phi[i]) > fabs(phi[bi])) bi = i;
    CHECK(phi[bi] > 0);
}

// --- k-means -------------------------------------------------------------------------------

static void test_kmeans(void) {
    // Three blobs of 4, 3 and 5 points in 2-D, interleaved in the input order.
    const double c[3][2] = {{0, 0}, {10, 0}, {0, 10}};
    const int blob[12] = {0, 1, 2, 0, 2, 1, 2, 0, 2, 1, 0, 2};
    double X[24];
    test_seed(5);
    for (int i = 0; i < 12; i++)
        for (int j = 0; j < 2; j++) X[i * 2 + j] = c[blob[i]][j] + (test_uniform() - 0.5);
    for (uint64_t seed = 0; seed < 6; seed++) {
        int64_t keep[3], keep2[3];
        int assign[12];
        CHECK_OK(var_kmeans_select(X, 12, 2, 3, seed, assign, keep));
        CHECK_OK(var_kmeans_select(X, 12, 2, 3, seed, NULL, keep2));
        CHECK(!memcmp(keep, keep2, sizeof keep));  // deterministic for a seed
        // One survivor per blob, each the member nearest its blob's mean.
        int seen[3] = {0};
        for (int k = 0; k < 3; k++) {
            CHECK(keep[k] >= 0 && keep[k] < 12);
            if (keep[k] < 0 || keep[k] >= 12) continue;
            int bl = blob[keep[k]];
            seen[bl]++;
            double m[2] = {0, 0};
            int cnt = 0;
            for (int i = 0; i < 12; i++)
                if (blob[i] == bl) m[0] += X[i * 2], m[1] += X[i * 2 + 1], cnt++;
            m[0] /= cnt, m[1] /= cnt;
            int best = -1;
            double bd = 0;
            for (int i = 0; i < 12; i++) {
                if (blob[i] != bl) continue;
                double d = (X[i * 2] - m[0]) * (X[i * 2] - m[0]) + (X[i * 2 + 1] - m[1]) * (X[i * 2 + 1] - m[1]);
                if (best < 0 || d < bd) best = i, bd = d;
            }
            CHECK_MSG(keep[k] == best, "seed %d: kept %d, nearest to the blob mean is %d", (int)seed, (int)keep[k], best);
            if (k) CHECK(keep[k] > keep[k - 1]);
        }
        CHECK(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
        for (int i = 0; i < 12; i++)
            for (int j = 0; j < 12; j++) CHECK((assign[i] == assign[j]) == (blob[i] == blob[j]));
    }
    int64_t all[5];
    CHECK_OK(var_kmeans_select(X, 5, 2, 7, 1, NULL, all));
    for (int i = 0; i < 5; i++) CHECK(all[i] == i);
    // Identical points: still k distinct survivors.
    double same[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    int64_t k2[2];
    CHECK_OK(var_kmeans_select(same, 4, 2, 2, 0, NULL, k2));
    CHECK(k2[0] != k2[1]);
}

// --- schedule mapping ----------------------------------------------------------------------

static silt_status dummy_reward(void *u, const float *img, int64_t n, int H, int W, double *s) {
    (void)u, (void)img, (void)n, (void)H, (void)W, (void)s;
    return SILT_OK;
}
static silt_status dummy_features(void *u, const float *img, int64_t n, int H, int W, float *f) {
    (void)u, (void)img, (void)n, (void)H, (void)W, (void)f;
    return SILT_OK;
}

static void test_mapping(void) {
    var_search_params p = var_search_default_params(13);  // the paper's own count maps to itself
    CHECK(p.n_cluster == 2 && p.cluster_at[0] == 2 && p.cluster_at[1] == 5);
    CHECK(p.n_resample == 2 && p.resample_at[0] == 6 && p.resample_at[1] == 9);
    const int paper[13] = {8, 8, 6, 6, 6, 4, 2, 2, 2, 1, 1, 1, 1};
    CHECK(!memcmp(p.schedule, paper, sizeof paper));
    CHECK(p.lambda == 10.0 && p.potential == VAR_POTENTIAL_VALUE && p.kind == VAR_SEARCH_TTS && p.n == 1);
    CHECK_OK(var_search_check(&(var_search_params){.kind = VAR_SEARCH_NONE, .n = 1}, 13));
    p = var_search_default_params(6);  // the world: pn 1,2,3,4,6,8
    CHECK(p.n_cluster == 2 && p.cluster_at[0] == 1 && p.cluster_at[1] == 2);
    CHECK(p.n_resample == 2 && p.resample_at[0] == 3 && p.resample_at[1] == 4);
    const int world[6] = {8, 6, 4, 2, 1, 1};
    CHECK(!memcmp(p.schedule, world, sizeof world));
    p = var_search_default_params(10);  // 256 px VAR: round(s 9/12) = 1.5->2, 3.75->4, 4.5->5, 6.75->7
    CHECK(p.cluster_at[0] == 2 && p.cluster_at[1] == 4 && p.resample_at[0] == 5 && p.resample_at[1] == 7);
    p = var_search_default_params(3);  // too few scales: 0, 1 hold the two clusterings
    CHECK(p.n_cluster == 2 && p.cluster_at[0] == 0 && p.cluster_at[1] == 1 && p.n_resample == 0);
    CHECK(p.schedule[0] == 6 && p.schedule[1] == 4 && p.schedule[2] == 4);
    // Checks: a schedule shrinking where nothing selects; a selection at the last scale.
    var_search_params q = var_search_default_params(6);
    q.reward = dummy_reward, q.features = dummy_features, q.feat_tokens = q.feat_dim = 1;
    CHECK_OK(var_search_check(&q, 6));
    q.n_resample = 1;  // scale 4 no longer selects, but the schedule shrinks there
    CHECK(var_search_check(&q, 6) == SILT_ERR_ARG);
    q = var_search_default_params(6);
    q.reward = dummy_reward;
    CHECK(var_search_check(&q, 6) == SILT_ERR_ARG);  // clustering without features
    q.features = dummy_features, q.feat_tokens = q.feat_dim = 1;
    q.resample_at[1] = 5;
    CHECK(var_search_check(&q, 6) == SILT_ERR_ARG);
}

// --- resampling and potentials -----------------------------------------------------------

static void test_resample(void) {
    enum { N = 5, M = 50000 };
    const double s[N] = {0.2, 0.9, 0.5, 0.1, 0.7};
    double logw[N];
    int64_t *out = malloc(M * sizeof *out);
    for (int i = 0; i < N; i++) logw[i] = var_potential_log_weight(VAR_POTENTIAL_VALUE, 0.0, NULL, 0, s[i]);
    CHECK_OK(var_resample(logw, N, M, 7, 1, out));
    int cnt[N] = {0};
    for (int j = 0; j < M; j++) cnt[out[j]]++;
    double e = (double)M / N, sd = sqrt(M * (1.0 / N) * (1 - 1.0 / N));
    for (int i = 0; i < N; i++) CHECK_MSG(fabs(cnt[i] - e) < 5 * sd, "lambda 0: count %d vs %g", cnt[i], e);
    // Weights exp(lambda s): frequencies follow them.
    for (int i = 0; i < N; i++) logw[i] = var_potential_log_weight(VAR_POTENTIAL_VALUE, 2.0, NULL, 0, s[i]);
    CHECK_OK(var_resample(logw, N, M, 7, 2, out));
    memset(cnt, 0, sizeof cnt);
    for (int j = 0; j < M; j++) cnt[out[j]]++;
    double z = 0;
    for (int i = 0; i < N; i++) z += exp(2.0 * s[i]);
    for (int i = 0; i < N; i++) {
        double pi = exp(2.0 * s[i]) / z;
        CHECK_MSG(fabs(cnt[i] - M * pi) < 5 * sqrt(M * pi * (1 - pi)), "lambda 2: count %d vs %g", cnt[i], M * pi);
    }
    // Large lambda: always the max.
    for (int i = 0; i < N; i++) logw[i] = var_potential_log_weight(VAR_POTENTIAL_VALUE, 1e4, NULL, 0, s[i]);
    CHECK_OK(var_resample(logw, N, 1000, 3, 0, out));
    int all_max = 1;
    for (int j = 0; j < 1000; j++) all_max &= out[j] == 1;
    CHECK(all_max);
    // Determinism, and fallbacks: all -inf is uniform, +inf takes all.
    int64_t a[20], b[20];
    CHECK_OK(var_resample(logw, N, 20, 9, 4, a));
    CHECK_OK(var_resample(logw, N, 20, 9, 4, b));
    CHECK(!memcmp(a, b, sizeof a));
    double bad[3] = {-INFINITY, -INFINITY, NAN};
    CHECK_OK(var_resample(bad, 3, 20, 1, 1, a));
    for (int j = 0; j < 20; j++) CHECK(a[j] >= 0 && a[j] < 3);
    double inf[3] = {0, INFINITY, 5};
    CHECK_OK(var_resample(inf, 3, 20, 1, 1, a));
    for (int j = 0; j < 20; j++) CHECK(a[j] == 1);
    // Potentials over a history (older first).
    const double h[2] = {0.3, 0.6};
    CHECK(fabs(var_potential_log_weight(VAR_POTENTIAL_VALUE, 10, h, 2, 0.5) - 5.0) < 1e-12);
    CHECK(fabs(var_potential_log_weight(VAR_POTENTIAL_DIFF, 10, h, 2, 0.5) - (-1.0)) < 1e-12);
    CHECK(fabs(var_potential_log_weight(VAR_POTENTIAL_SUM, 10, h, 2, 0.5) - 14.0) < 1e-12);
    CHECK(fabs(var_potential_log_weight(VAR_POTENTIAL_MAX, 10, h, 2, 0.5) - 6.0) < 1e-12);
    for (int k = 0; k < VAR_POTENTIAL_COUNT; k++)
        CHECK(var_potential_log_weight((var_potential)k, 10, NULL, 0, 0.25) == 2.5);
    var_potential pp;
    CHECK(var_potential_from_name("max", &pp) == SILT_OK && pp == VAR_POTENTIAL_MAX);
    CHECK(var_potential_from_name("mean", &pp) == SILT_ERR_ARG);
    var_search_kind kk;
    CHECK(var_search_kind_from_name("best-of-n", &kk) == SILT_OK && kk == VAR_SEARCH_BEST_OF_N);
    free(out);
}

// --- the search on a tiny random text VAR ------------------------------------------------

typedef struct tiny {
    var_model *m;
    var_vqvae *vq;
    float pooled[6], tokens[3 * 5], npooled[6], ntokens[3 * 5];
    var_text_cond tc;
    var_sample_params sp;
    int64_t per;  // 3 H W
} tiny;

static int tiny_make(tiny *t, int K) {
    static const int pn3[3] = {1, 2, 4}, pn4[4] = {1, 2, 3, 4};
    const int *pn = K == 3 ? pn3 : pn4;
    var_config c = {.depth = 2, .embed_dim = 16, .num_heads = 2, .mlp_hidden = 24, .text_dim = 6, .ctx_dim = 5,
                    .vocab_size = 16, .Cvae = 4, .attn_l2_norm = true, .norm_eps = 1e-6f, .n_scales = K};
    var_vq_config q = {.vocab_size = 16, .z_channels = 4, .in_channels = 3, .ch = 8, .n_levels = 2, .ch_mult = {1, 2},
                       .num_res_blocks = 1, .groups = 4, .using_sa = false, .using_mid_sa = false, .quant_conv_ks = 3,
                       .quant_resi = 0.5f, .phi_share = VAR_PHI_PARTIAL, .n_phi = 2, .downsample = 2, .n_scales = K};
    memcpy(c.patch_nums, pn, (size_t)K * sizeof *pn);
    memcpy(q.patch_nums, pn, (size_t)K * sizeof *pn);
    q.L = 0;
    for (int k = 0; k < K; k++) q.L += pn[k] * pn[k];
    memset(t, 0, sizeof *t);
    CHECK_OK(var_create(&c, 1e-3f, 4, &t->m));
    CHECK_OK(var_vq_create(&q, 4, &t->vq));
    if (!t->m || !t->vq) return 0;
    test_seed(11);
    for (int i = 0; i < var_param_count(t->m); i++) {  // O(1) weights so the tokens depend on everything
        silt_tensor *x = var_param(t->m, i, NULL);
        for (int64_t j = 0; j < silt_numel(x); j++) silt_f32(x)[j] += (float)((2 * test_uniform() - 1) * 0.3);
    }
    test_fill(t->pooled, 6, -1, 1);
    test_fill(t->tokens, 15, -1, 1);
    test_fill(t->npooled, 6, -1, 1);
    test_fill(t->ntokens, 15, -1, 1);
    t->tc = (var_text_cond){t->pooled, t->tokens, t->npooled, t->ntokens, 3};
    t->sp = var_sample_default_params();
    t->sp.cfg = 2.5f;
    t->sp.top_k = 0;
    t->sp.top_p = 0;
    t->sp.seed = 21;
    t->per = 3 * (int64_t)pn[K - 1] * 2 * pn[K - 1] * 2;
    return 1;
}

static void tiny_free(tiny *t) {
    var_free(t->m);
    var_vq_free(t->vq);
}

// B plain samples of the one prompt (var_generate_text, streams 0..B-1).
static float *plain(tiny *t, int B) {
    float *pooled = malloc((size_t)B * 6 * sizeof(float)), *tokens = malloc((size_t)B * 15 * sizeof(float));
    float *img = malloc((size_t)(B * t->per) * sizeof(float));
    for (int b = 0; b < B; b++) {
        memcpy(pooled + b * 6, t->pooled, sizeof t->pooled);
        memcpy(tokens + b * 15, t->tokens, sizeof t->tokens);
    }
    var_text_cond tc = {pooled, tokens, t->npooled, t->ntokens, 3};
    CHECK_OK(var_generate_text(t->m, t->vq, &tc, B, &t->sp, img, NULL));
    free(pooled);
    free(tokens);
    return img;
}

// A reward that depends on the whole image: mean red minus mean blue, plus a
// small position-dependent term so that ties are unlikely.
static double toy_reward(const float *img, int H, int W) {
    double r = 0;
    for (int i = 0; i < H * W; i++) r += img[i] - img[2 * H * W + i] + 1e-3 * i * img[H * W + i];
    return r / (H * W);
}

typedef struct reward_log {
    int calls;
    int64_t images;
} reward_log;

static silt_status toy_reward_fn(void *user, const float *img, int64_t n, int H, int W, double *scores) {
    reward_log *lg = user;
    lg->calls++;
    lg->images += n;
    for (int64_t b = 0; b < n; b++) scores[b] = toy_reward(img + b * 3 * H * W, H, W);
    return SILT_OK;
}

// Features: the image split into 4 x 4 pixel patches, 48 values each.
static silt_status toy_features_fn(void *user, const float *img, int64_t n, int H, int W, float *feat) {
    int64_t *count = user;
    *count += n;
    int P = (H / 4) * (W / 4);
    for (int64_t b = 0; b < n; b++)
        for (int py = 0; py < H / 4; py++)
            for (int px = 0; px < W / 4; px++)
                for (int ch = 0; ch < 3; ch++)
                    for (int y = 0; y < 4; y++)
                        for (int x = 0; x < 4; x++)
                            feat[((b * P) + py * (W / 4) + px) * 48 + ch * 16 + y * 4 + x] =
                                img[b * 3 * H * W + ch * H * W + (py * 4 + y) * W + px * 4 + x];
    return SILT_OK;
}

static void test_run_select(void) {
    tiny t;
    if (!tiny_make(&t, 3)) return;
    float *ref = plain(&t, 2);
    float *img = malloc((size_t)(2 * t.per) * sizeof(float));
    // Two samples; after scale 1 keep only sample 1 (its KV caches, f_hat and
    // next input), which goes on drawing from stream 1: equals plain sample 1.
    float pooled[12], tokens[30];
    memcpy(pooled, t.pooled, sizeof t.pooled), memcpy(pooled + 6, t.pooled, sizeof t.pooled);
    memcpy(tokens, t.tokens, sizeof t.tokens), memcpy(tokens + 15, t.tokens, sizeof t.tokens);
    var_text_cond tc = {pooled, tokens, t.npooled, t.ntokens, 3};
    var_run *r = NULL;
    CHECK_OK(var_run_create_text(t.m, t.vq, &tc, 2, t.sp.cfg, &r));
    if (r) {
        CHECK_OK(var_run_step(r, &t.sp, NULL));
        CHECK_OK(var_run_step(r, &t.sp, NULL));
        const int64_t from[1] = {1};
        const uint64_t stream[1] = {1};
        CHECK_OK(var_run_select(r, from, 1));
        CHECK(var_run_batch(r) == 1);
        CHECK_OK(var_run_step(r, &t.sp, stream));
        CHECK_OK(var_run_decode(r, img));
        CHECK_MSG(!memcmp(img, ref + t.per, (size_t)t.per * sizeof(float)), "select {1} after scale 1 != plain sample 1");
        CHECK(var_run_step(r, &t.sp, stream) == SILT_ERR_ARG);  // all scales done
        const int64_t bad[1] = {3};
        CHECK(var_run_select(r, bad, 1) == SILT_ERR_ARG);
    }
    var_run_free(r);
    // Duplicating a row: [1, 1, 0] after scale 0 with streams 1, 1, 0 reproduces 1, 1, 0.
    r = NULL;
    CHECK_OK(var_run_create_text(t.m, t.vq, &tc, 2, t.sp.cfg, &r));
    float *img3 = malloc((size_t)(3 * t.per) * sizeof(float));
    if (r) {
        CHECK_OK(var_run_step(r, &t.sp, NULL));
        const int64_t from[2] = {1, 0};
        CHECK_OK(var_run_select(r, from, 2));
        const uint64_t st[2] = {1, 0};
        CHECK_OK(var_run_step(r, &t.sp, st));
        CHECK_OK(var_run_step(r, &t.sp, st));
        CHECK_OK(var_run_decode(r, img3));
        CHECK(!memcmp(img3, ref + t.per, (size_t)t.per * sizeof(float)));
        CHECK(!memcmp(img3 + t.per, ref, (size_t)t.per * sizeof(float)));
    }
    var_run_free(r);
    free(img3);
    free(ref);
    free(img);
    tiny_free(&t);
}

static void test_plain_equivalence(void) {
    tiny t;
    if (!tiny_make(&t, 3)) return;
    float *ref = plain(&t, 1);
    float *img = malloc((size_t)t.per * sizeof(float));
    var_search_params p = var_search_default_params(3);
    p.n_cluster = p.n_resample = 0;
    for (int k = 0; k < 3; k++) p.schedule[k] = 1;
    var_search_stats st;
    CHECK_OK(var_search_text(t.m, t.vq, &t.tc, &t.sp, &p, img, &st));
    CHECK_MSG(!memcmp(img, ref, (size_t)t.per * sizeof(float)), "TTS N=1 without selection != plain generation");
    CHECK(st.compute.decodes == 1 && st.compute.reward_calls == 0 && isnan(st.reward) && st.compute.token_forwards == st.compute.plain_token_forwards);
    p.kind = VAR_SEARCH_NONE;
    memset(img, 0, (size_t)t.per * sizeof(float));
    CHECK_OK(var_search_text(t.m, t.vq, &t.tc, &t.sp, &p, img, &st));
    CHECK(!memcmp(img, ref, (size_t)t.per * sizeof(float)));
    // Without CFG too (the unconditional rows are skipped).
    t.sp.cfg = 0;
    free(ref);
    ref = plain(&t, 1);
    CHECK_OK(var_search_text(t.m, t.vq, &t.tc, &t.sp, &p, img, &st));
    CHECK(!memcmp(img, ref, (size_t)t.per * sizeof(float)));
    CHECK(st.compute.token_forwards == 1 + 4 + 16);
    free(ref);
    free(img);
    tiny_free(&t);
}

static void test_best_of_n(void) {
    tiny t;
    if (!tiny_make(&t, 3)) return;
    enum { N = 5 };
    float *ref = plain(&t, N);
    int H = 8, W = 8;
    double r[N];
    int best = 0;
    for (int b = 0; b < N; b++) {
        r[b] = toy_reward(ref + b * t.per, H, W);
        if (r[b] > r[best]) best = b;
    }
    float *img = malloc((size_t)t.per * sizeof(float));
    reward_log lg = {0};
    var_search_params p = var_search_default_params(3);
    p.kind = VAR_SEARCH_BEST_OF_N;
    p.n = N;
    p.reward = toy_reward_fn;
    p.reward_user = &lg;
    var_search_stats st;
    CHECK_OK(var_search_text(t.m, t.vq, &t.tc, &t.sp, &p, img, &st));
    CHECK_MSG(!memcmp(img, ref + best * t.per, (size_t)t.per * sizeof(float)), "best-of-n returned not sample %d", best);
    CHECK(st.chosen == best && st.candidates == N && fabs(st.reward - r[best]) < 1e-12);
    CHECK(lg.images == N && st.compute.reward_calls == N && st.compute.decodes == N);
    // Hand count, CFG rows counted: 2 N (1 + 4 + 16).
    CHECK(st.compute.token_forwards == 2 * N * 21 && st.compute.plain_token_forwards == 2 * 21);
    CHECK(st.live[0] == N && st.live[2] == N);
    // Importance with a huge lambda is the argmax; with lambda 0 any of them.
    p.kind = VAR_SEARCH_IMPORTANCE;
    p.lambda = 1e6;
    CHECK_OK(var_search_text(t.m, t.vq, &t.tc, &t.sp, &p, img, &st));
    CHECK(st.chosen == best && !memcmp(img, ref + best * t.per, (size_t)t.per * sizeof(float)));
    p.lambda = 0;
    int seen[N] = {0};
    for (uint64_t s = 0; s < 24; s++) {
        p.seed = s;
        CHECK_OK(var_search_text(t.m, t.vq, &t.tc, &t.sp, &p, img, &st));
        if (st.chosen >= 0 && st.chosen < N) seen[st.chosen] = 1;
        CHECK(!memcmp(img, ref + st.chosen * t.per, (size_t)t.per * sizeof(float)));
    }
    int distinct = 0;
    for (int b = 0; b < N; b++) distinct += seen[b];
    CHECK(distinct >= 3);
    // The reward trace: K decodes and scores per sample, the last row the final rewards.
    double trace[3 * N];
    p.kind = VAR_SEARCH_BEST_OF_N;
    p.trace = trace;
    CHECK_OK(var_search_text(t.m, t.vq, &t.tc, &t.sp, &p, img, &st));
    CHECK(st.compute.decodes == 3 * N && st.compute.reward_calls == 3 * N);
    for (int b = 0; b < N; b++) CHECK(fabs(trace[2 * N + b] - r[b]) < 1e-12);
    // No reward: one-line error.
    p.trace = NULL;
    p.reward = NULL;
    CHECK(var_search_text(t.m, t.vq, &t.tc, &t.sp, &p, img, &st) == SILT_ERR_ARG);
    free(ref);
    free(img);
    tiny_free(&t);
}

static void test_tts_counts(void) {
    tiny t;
    if (!tiny_make(&t, 4)) return;  // pn 1,2,3,4: 8 px images
    const var_config *c = var_get_config(t.m);
    // By hand: one row of scale 1 (l = 4, context 5) of this config (C 16,
    // depth 2, MLP 24, V 16, 3 text tokens):
    //   block: AdaLN 2*16*96 = 3072, qkv 2*4*16*48 = 6144, attention 4*4*5*16 =
    //   1280, proj 2*4*16*16 = 2048, MLP 2*4*16*24*2 = 6144; cross: q 2048, kv
    //   2*3*16*32 = 3072, attention 4*4*3*16 = 768, proj 2048 -> 26624 per block;
    //   head: 2*16*32 + 2*4*16*16 = 3072. Total 2*26624 + 3072 = 56320.
    CHECK_MSG(var_scale_flops(c, 3, 1, 1) == 56320.0, "flops %g", var_scale_flops(c, 3, 1, 1));
    CHECK(var_scale_flops(c, 3, 1, 6) == 6 * 56320.0);
    reward_log lg = {0};
    int64_t nfeat = 0;
    var_search_params p = var_search_default_params(4);
    p.n = 2;
    p.n_cluster = 1, p.cluster_at[0] = 1;
    p.n_resample = 1, p.resample_at[0] = 2;
    const int sched[4] = {4, 2, 1, 1};
    memcpy(p.schedule, sched, sizeof sched);
    p.reward = toy_reward_fn, p.reward_user = &lg;
    p.features = toy_features_fn, p.feature_user = &nfeat, p.feat_tokens = 4, p.feat_dim = 48;
    float *img = malloc((size_t)t.per * sizeof(float)), *img2 = malloc((size_t)t.per * sizeof(float));
    var_search_stats st;
    CHECK_OK(var_search_text(t.m, t.vq, &t.tc, &t.sp, &p, img, &st));
    // Live samples 8, 8 (-> 4 by clustering), 4 (-> 2 by resampling), 2.
    CHECK(st.live[0] == 8 && st.live[1] == 8 && st.live[2] == 4 && st.live[3] == 2);
    CHECK_MSG(st.compute.token_forwards == 2 * (8 * 1 + 8 * 4 + 4 * 9 + 2 * 16), "token-forwards %lld", (long long)st.compute.token_forwards);
    CHECK(st.compute.plain_token_forwards == 2 * 30);
    CHECK(st.compute.decodes == 8 + 4 + 2 && st.compute.feature_calls == 8 && nfeat == 8 && st.compute.reward_calls == 4 + 2 && lg.images == 6);
    double fl = 0, fl1 = 0;
    const int live[4] = {8, 8, 4, 2};
    for (int si = 0; si < 4; si++) fl += var_scale_flops(c, 3, si, 2 * live[si]), fl1 += var_scale_flops(c, 3, si, 2);
    CHECK(st.compute.flops == fl && st.compute.plain_flops == fl1);
    CHECK(st.candidates == 2 && (st.chosen == 0 || st.chosen == 1));
    CHECK(fabs(st.reward - toy_reward(img, 8, 8)) < 1e-12);
    // Deterministic, and every potential runs.
    CHECK_OK(var_search_text(t.m, t.vq, &t.tc, &t.sp, &p, img2, NULL));
    CHECK(!memcmp(img, img2, (size_t)t.per * sizeof(float)));
    for (int k = 0; k < VAR_POTENTIAL_COUNT; k++) {
        p.potential = (var_potential)k;
        p.n_resample = 2, p.resample_at[0] = 1, p.resample_at[1] = 2, p.n_cluster = 0;
        CHECK_OK(var_search_text(t.m, t.vq, &t.tc, &t.sp, &p, img2, &st));
        CHECK(st.compute.reward_calls == 8 + 4 + 2 && st.compute.feature_calls == 0);
    }
    free(img);
    free(img2);
    tiny_free(&t);
}

int main(void) {
    test_pca();
    test_kmeans();
    test_mapping();
    test_resample();
    test_run_select();
    test_plain_equivalence();
    test_best_of_n();
    test_tts_counts();
    return check_summary();
}
