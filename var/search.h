// Test-time search for the text-conditioned VAR (METHODS.md sec. 5): TTS-VAR
// (Chen et al. 2025, arXiv 2507.18537; official code ali-vilab/TTS-VAR @ b0332bb
// tts-var/utils_model.py cus_autoregressive_infer_cfg_dino) and two baselines,
// best-of-N and importance sampling, behind one call.
//
// TTS-VAR over K scales with N (reference: ../shared/reference/var_ttsvar.md C2):
//   live samples follow a descending schedule: schedule[k] x N samples are
//   KEPT after scale k (the paper's bs_sis, 8,8,6,6,6,4,2,2,2,1,1,1,1 over 13
//   scales); scale 0 starts with schedule[0] x N. After generating scale k:
//   - k in cluster_at (clustering-based diversity search): decode the current
//     f_hat of every live sample, take patch features (features callback:
//     world-CLIP image patch tokens here, DINOv2 in the paper), reduce each
//     image's (P, D) tokens to their first PCA component (P values,
//     var_pca_feature: sign fixed), run k-means++ (fixed seed) into
//     schedule[k] x N clusters and keep the member nearest each centroid;
//   - k in resample_at (resampling-based potential selection): decode, score
//     with the reward, G = exp(lambda * potential) over the sample's reward
//     history (VALUE s_t, DIFF s_t - s_prev, SUM s_t + sum of the history,
//     MAX max(s_t, history); the history is the rewards of the earlier
//     resampling scales, empty at the first, where all four are VALUE), and
//     draw schedule[k] x N samples by multinomial WITH replacement (duplicates
//     copy the KV caches);
//   - at the last scale: decode, score and return the best (ties: the first);
//     a single survivor is returned without a reward call (as the reference).
// The schedule may only shrink at a clustering or resampling scale.
//
// Mapping to our scale count (our choice, documented in var_search_default_params):
// the paper's schedule changes exactly at its four selection scales
// (cluster 2, 5; resample 6, 9 of 0..12), so a schedule is its selection
// scales plus the multipliers 8 -> 6 -> 4 -> 2 -> 1. We map each selection
// scale s by its relative depth: round(s (K-1) / 12) (halves up), then push
// collisions to the next scale and keep every selection below the last scale.
// The world's K = 6 (pn 1,2,3,4,6,8) gives cluster at 1, 2 (2x2, 3x3 tokens),
// resample at 3, 4 (4x4, 6x6) and the final choice at 5: kept 8,6,4,2,1,1 x N.
//
// Randomness: every live sample draws its tokens from its own Philox stream
// of the sampling seed (var_run_step): sample b of the first batch uses
// stream b, so the first N streams are what a plain batch of N draws; the
// first copy of a selected sample keeps its stream, further copies get fresh
// streams (N x schedule[0], then counting up), so duplicates diverge. k-means
// and the multinomial draws use var_search_params.seed on their own streams.
//
// Baselines:
//   best-of-n:  N independent samples (streams 0..N-1: var_generate_text's
//               batch of N), return the one with the highest reward.
//   importance: the same N samples and rewards r_i, then ONE sample drawn
//               from the self-normalised weights w_i = exp(lambda r_i) /
//               sum_j exp(lambda r_j) (sampling-importance-resampling with
//               one draw: it targets p(x) exp(lambda r(x)), the tilt TTS-VAR's
//               potentials approximate). With lambda -> inf it is best-of-n.
//   none:       one plain sample (stream 0), no reward.
//
// Compute (var_search_stats): token-forwards = sum over scales of the rows
// the transformer runs (2 per sample with CFG) x the tokens of the scale; an
// estimate of the transformer's matmul FLOPs (2 per multiply-add: AdaLN,
// qkv, attention scores and values over the cached context, cross-attention
// incl. its per-scale key/value projection of the text tokens, MLP, head;
// norms, softmax, sampling and the tokenizer excluded); decodes (images
// decoded by the tokenizer); reward calls and feature calls (images scored /
// featurised).
// The schedule's saving depends on the scale sizes: with the paper's 13
// scales (10,521 tokens, 4,096 in the last) the samples generated per scale
// (8,8,8,6,6,6,4,2,2,2,1,1,1 x N) cost 1.39 N plain samples' token-forwards;
// with the world's 6 scales (130 tokens, 64 in the last; generated
// 8,8,6,4,2,1 x N) the same rule costs 2.26 N, so TTS-VAR at N = 2 spends
// 4.5 plain samples (best-of-4's budget, not best-of-2's).
#ifndef SILT_VAR_SEARCH_H
#define SILT_VAR_SEARCH_H

#include <stdint.h>

#include "var/var.h"

typedef enum var_search_kind {
    VAR_SEARCH_NONE = 0,
    VAR_SEARCH_TTS,
    VAR_SEARCH_BEST_OF_N,
    VAR_SEARCH_IMPORTANCE,
    VAR_SEARCH_KIND_COUNT
} var_search_kind;
const char *var_search_kind_name(var_search_kind k);  // "none", "tts", "best-of-n", "importance"
silt_status var_search_kind_from_name(const char *name, var_search_kind *out);

typedef enum var_potential {
    VAR_POTENTIAL_VALUE = 0,
    VAR_POTENTIAL_DIFF,
    VAR_POTENTIAL_SUM,
    VAR_POTENTIAL_MAX,
    VAR_POTENTIAL_COUNT
} var_potential;
const char *var_potential_name(var_potential p);  // "value", "diff", "sum", "max"
silt_status var_potential_from_name(const char *name, var_potential *out);

// Scores n images (n, 3, H, W) in [0, 1] against the prompt: scores (n).
typedef silt_status (*var_reward_fn)(void *user, const float *img, int64_t n, int H, int W, double *scores);
// Patch features of n images (n, 3, H, W) in [0, 1]: feat (n, P, D), P and D
// as var_search_params.feat_tokens / feat_dim.
typedef silt_status (*var_feature_fn)(void *user, const float *img, int64_t n, int H, int W, float *feat);

#define VAR_SEARCH_MAX_AT 8

typedef struct var_search_params {
    var_search_kind kind;
    int n;                          // N >= 1
    int schedule[VAR_MAX_SCALES];   // TTS: samples kept after scale k, in units of N
    int n_cluster, cluster_at[VAR_SEARCH_MAX_AT];    // TTS clustering scales (ascending)
    int n_resample, resample_at[VAR_SEARCH_MAX_AT];  // TTS resampling scales (ascending)
    var_potential potential;        // TTS resampling
    double lambda;                  // TTS resampling and importance: G = exp(lambda * potential)
    uint64_t seed;                  // k-means++ and the multinomial draws
    var_reward_fn reward;           // required unless the search never scores
    void *reward_user;
    var_feature_fn features;        // required for clustering
    void *feature_user;
    int feat_tokens, feat_dim;      // P, D of the features
    // Optional (K, N), best-of-n and importance only: trace[k N + b] = reward
    // of sample b decoded after scale k (K decodes and reward calls per
    // sample, counted), for the intermediate/final reward correlation.
    double *trace;
} var_search_params;

// kind tts, n 1, lambda 10, VALUE, seed 0, no callbacks; cluster / resample
// scales and schedule mapped from the paper to K scales (see above).
// K < 2 leaves no selection scales and a schedule of ones.
var_search_params var_search_default_params(int n_scales);
// Only the scale mapping: fills n_cluster, cluster_at, n_resample,
// resample_at and schedule of p for K scales (schedule 8,6,4,2,1 changing at
// the selection scales, fewer steps when K is too small to hold four).
void var_search_map_paper(int n_scales, var_search_params *p);
// SILT_ERR_ARG naming the first problem: n, schedule (>= 1, non-increasing,
// shrinking only at selection scales), selection scales (distinct, in
// [0, K-1), not both), missing callbacks.
silt_status var_search_check(const var_search_params *p, int n_scales);

// What sampling or a search cost, in the units methods are compared by;
// txt2img's report and the suite evaluation sum these per image.
typedef struct var_compute {
    int64_t token_forwards;         // transformer rows x tokens over the run (CFG rows counted)
    double flops;                   // estimate, see above
    int64_t decodes, reward_calls, feature_calls;  // images
    int64_t plain_token_forwards;   // the same images sampled plainly with the same cfg, for ratios
    double plain_flops;
} var_compute;
void var_compute_add(var_compute *sum, const var_compute *x);  // field by field

typedef struct var_search_stats {
    var_compute compute;
    int64_t live[VAR_MAX_SCALES];   // samples generated at scale k
    double reward;                  // reward of the returned image (NAN when it was never scored)
    int64_t candidates;             // samples the final choice was made among
    int64_t chosen;                 // its index among them
} var_search_stats;

// Runs the search for ONE prompt: tc row 0 (pooled, tokens) and the null
// condition; sp the sampler (cfg, top_k, top_p, seed; token_fn is called for
// every live row as var_generate_text does). img (3, H, W) in [0, 1]; *st may
// be NULL. Outputs are written only on success.
silt_status var_search_text(const var_model *m, const var_vqvae *vq, const var_text_cond *tc,
                            const var_sample_params *sp, const var_search_params *p, float *img, var_search_stats *st);

// --- building blocks (exposed for tests) --------------------------------------------

// Transformer FLOPs (estimate above) and token-forwards of one scale si run
// for `rows` rows (2 per sample with CFG), text models with Tc text tokens.
double var_scale_flops(const var_config *c, int64_t Tc, int si, int64_t rows);
// The first principal component of one image's patch tokens F (P, D):
// phi = (F - mean over patches) v1, v1 the top eigenvector of the centred
// F^T F (the first right-singular vector of the centred F). The sign is
// fixed so that the entry of largest magnitude is positive (the first such
// entry on ties): SVD's sign is arbitrary and a flip moves the k-means
// distances. phi (P).
silt_status var_pca_feature(const float *F, int P, int D, double *phi);
// k-means over X (n, d) into k clusters: k-means++ seeding (Arthur &
// Vassilvitskii 2007; first centre uniform, then D^2 sampling) with a
// silt_rng on (seed, stream), then Lloyd iterations until no assignment
// changes (at most 300, sklearn's max_iter); an emptied cluster takes the
// point farthest from its centre. keep (k): for each cluster, the member
// nearest its centroid (the first on ties), sorted ascending. k >= n keeps
// every point. assign (n) may be NULL.
silt_status var_kmeans_select(const double *X, int n, int d, int k, uint64_t seed, int *assign, int64_t *keep);
// m draws with replacement from the categorical distribution with weights
// exp(logw[i] - max logw) (the same normalised weights as exp(logw)), by
// inverse CDF on silt_rng (seed, stream) uniforms: out (m). Non-finite
// weights: a +inf logw gets all the mass (shared among the +inf ones), NaN
// or -inf get none; all -inf or NaN is uniform (the reference's fallbacks).
silt_status var_resample(const double *logw, int n, int m, uint64_t seed, uint64_t stream, int64_t *out);
// lambda x the potential of reward s given the sample's history h[0..nh)
// (older first): VALUE s, DIFF s - h[nh-1], SUM s + sum h, MAX max(s, h);
// with nh = 0 all are VALUE.
double var_potential_log_weight(var_potential p, double lambda, const double *h, int nh, double s);

#endif
