// The world-CLIP training task (see train_arch.h and text/world_clip.h): a
// micro-batch is B train-suite items world_suite_item(TRAIN, data_seed,
// batch_index * B + i) (world_train_item with other category weights when
// set), rendered at the model's image size in [-1, 1], with their captions;
// the loss is the symmetric InfoNCE over the batch, with K
// hard-negative captions per image in its softmax when set
// (silt_train_clip_set_hard_negatives). A model with the judge head
// (wclip_config.itm_layers) adds the head's loss: for each image, the
// cross-entropy of its own caption among its 1 + K candidates (its caption
// and its K hard negatives) under the head's logits, with weight 1, and
// the grounding loss (weight 1): the mean squared error of the head's
// location guess (wclip_itm_logits' loc) for each token of every
// candidate's phrases against the centre of the scene objects that phrase
// describes (its shape, and colour and size where named; the mean centre
// for several), in the patch coordinates' [-1, 1]. With labelled
// generated samples (silt_train_clip_set_samples) the head also learns to
// rank, for one caption, a candidate the evaluator passed above one it
// failed: P such pairs per batch, each a cross-entropy over the two
// candidates' logits (the pairwise logistic loss of reward models), weight
// 1. Every sample is a pure function of (data_seed, its global index), as
// the trainer's exact resume needs.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "gen/lib/harvest.h"
#include "gen/lib/train_arch.h"
#include "text/world_clip.h"
#include "var/var.h"

typedef struct clip_task {
    wclip_model *m;
    int hard_negatives;  // K false captions per image (world_reqs_negative); 0: plain CLIP
    bool weighted;       // silt_train_clip_set_category_weights: the train items' categories drawn by cat_weights
    int cat_weights[WORLD_CAT_COUNT];
    char config[384];    // "aux_*" training settings (a resume must match them); task->config only once one is set
    // silt_train_clip_set_samples: generated candidates with the evaluator's verdicts.
    silt_sample_set *samples;
    int64_t n_pairs;
    int64_t (*pairs)[2];  // (a passed candidate, a failed one) of one item
    int pairs_per_batch;
} clip_task;

// Records a training-only setting in the checkpoint config.
static silt_status add_aux(silt_train_task *task, clip_task *t, const char *members, const char *what) {
    SILT_TRY(silt_train_config_add_aux(t->config, sizeof t->config, members, what));
    task->config = t->config;
    return SILT_OK;
}

// The negatives' own random stream, apart from the items' (seed, index) rngs.
#define NEG_SEED_SALT 0x6e65676174697665ull  // "negative"
#define PAIR_SEED_SALT 0x7061697273ull        // "pairs"

static void clip_destroy(void *self) {
    clip_task *t = self;
    if (!t) return;
    wclip_free(t->m);
    silt_sample_set_free(t->samples);
    free(t->pairs);
    free(t);
}
static int clip_n_params(void *self) { return wclip_param_count(((clip_task *)self)->m); }
static silt_tensor *clip_param(void *self, int i, const char **name, bool *no_decay) {
    return wclip_param(((clip_task *)self)->m, i, name, no_decay);
}

// Hard negative k of item j's caption into ids (T): one edit the scene does
// not satisfy. For the rare item with none (world_reqs_negative's
// UNSUPPORTED), the caption of another train item, almost surely false too.
// tgt, w (may be NULL): its grounding targets (T x 2 each; none for the
// other item's caption).
static silt_status negative_ids(const wclip_model *m, const world_item *it, uint64_t data_seed, int64_t j, int k,
                                int K, int32_t *ids, float *tgt, float *w) {
    const int T = wclip_get_config(m)->max_len;
    if (w) memset(w, 0, sizeof(float) * (size_t)T * 2);
    if (tgt) memset(tgt, 0, sizeof(float) * (size_t)T * 2);
    silt_rng rng = silt_rng_init(data_seed ^ NEG_SEED_SALT, (uint64_t)j * (uint64_t)K + (uint64_t)k);
    world_reqs neg;
    char text[WORLD_CAPTION_MAX];
    silt_status s = world_reqs_negative(&it->reqs, &it->scene, &rng, &neg);
    if (s == SILT_ERR_UNSUPPORTED) {
        world_item other;
        SILT_TRY(world_suite_item(WORLD_SUITE_TRAIN, data_seed ^ NEG_SEED_SALT, j, &other));
        return wclip_tokenize(m, other.caption, ids);
    }
    SILT_TRY(s);
    SILT_TRY(world_caption_format(&neg, text, sizeof text));
    SILT_TRY(wclip_tokenize(m, text, ids));
    if (tgt && w) wclip_grounding_targets(&neg, &it->scene, ids, T, tgt, w);
    return SILT_OK;
}

// The pairwise term: P pairs (a passed and a failed candidate of one item,
// drawn from the Philox stream (data_seed ^ PAIR_SEED_SALT, batch_index P +
// p)), both with their caption; the cross-entropy of the passed one among
// the two under the head's logits.
static silt_tensor *pair_loss(clip_task *t, silt_graph *g, uint64_t data_seed, int64_t batch_index) {
    const wclip_config *c = wclip_get_config(t->m);
    const int P = t->pairs_per_batch, S = c->img_size, T = c->max_len, ss = t->samples->size;
    silt_arena *ha = silt_graph_arena(g);
    float *hx = silt_arena_alloc(ha, sizeof(float) * (size_t)2 * P * 3 * S * S);
    int32_t *ids = silt_arena_alloc(ha, sizeof(int32_t) * (size_t)2 * P * T);
    int32_t *target = silt_arena_alloc(ha, sizeof(int32_t) * (size_t)P);
    if (!hx || !ids || !target) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_OOM, "clip: out of memory for a batch"));
        return NULL;
    }
    for (int p = 0; p < P; p++) {
        silt_rng r = silt_rng_init(data_seed ^ PAIR_SEED_SALT, (uint64_t)batch_index * (uint64_t)P + (uint64_t)p);
        int64_t q = (int64_t)(silt_rng_next_double(&r) * (double)t->n_pairs);
        if (q >= t->n_pairs) q = t->n_pairs - 1;
        for (int h = 0; h < 2; h++) {  // image 2p: the passed candidate, 2p + 1: the failed one
            const int64_t i = t->pairs[q][h];
            const uint8_t *im = t->samples->images + (size_t)i * ss * ss * 3;
            float *x = hx + (size_t)(2 * p + h) * 3 * S * S;
            for (int ch = 0; ch < 3; ch++)
                for (int y = 0; y < S; y++)
                    for (int xx = 0; xx < S; xx++)  // the judge's size is the samples' (checked when set)
                        x[((size_t)ch * S + y) * S + xx] = 2.0f * im[((size_t)y * ss + xx) * 3 + ch] / 255.0f - 1.0f;
            silt_status s = wclip_tokenize(t->m, t->samples->captions[i], ids + (size_t)(2 * p + h) * T);
            if (s) { silt_graph_fail(g, s); return NULL; }
        }
        target[p] = 0;
    }
    silt_tensor *img = silt_graph_upload(g, SILT_F32, 4, (const int64_t[]){2 * P, 3, S, S}, hx);
    if (!img) return NULL;
    silt_tensor *ctx = NULL, *te = NULL, *patch = NULL;
    if (wclip_encode_context(g, t->m, ids, 2 * P, WCLIP_CTX_RELATION, &ctx, &te)) return NULL;
    if (!wclip_encode_image(g, t->m, img, &patch)) return NULL;
    silt_tensor *logits = wclip_itm_logits(g, t->m, patch, ctx, 1, NULL);  // (2P, 1)
    if (!logits) return NULL;
    return var_ce_loss(g, silt_reshape(g, logits, 2, (int64_t[]){P, 2}), target, NULL);
}

static silt_tensor *clip_loss(void *self, silt_graph *g, uint64_t data_seed, int64_t batch_index, int batch_size) {
    clip_task *t = self;
    wclip_model *m = t->m;
    const int K = t->hard_negatives;
    const wclip_config *c = wclip_get_config(m);
    if (batch_index < 0 || batch_size < 2) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "clip: batch %lld of size %d (a contrastive batch needs >= 2)",
                                     (long long)batch_index, batch_size));
        return NULL;
    }
    int S = c->img_size, T = c->max_len;
    // The batch is built in host memory (the graph's host arena); the images
    // go to the graph's device (a copy on a CPU graph), the ids stay host
    // arrays (wclip_encode_text uploads them).
    silt_arena *ha = silt_graph_arena(g);
    float *hx = silt_arena_alloc(ha, (size_t)batch_size * 3 * S * S * sizeof *hx);
    // Captions: the B images' own, then image i's K negatives at B + i K + k.
    const int64_t M = (int64_t)batch_size * (1 + K);
    int32_t *ids = silt_arena_alloc(ha, (size_t)M * T * sizeof *ids);
    if (!hx || !ids) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_OOM, "clip: out of memory for a batch"));
        return NULL;
    }
    // The grounding targets (judge head): (M, T, 2) centres and their weights.
    // Image-major like the head's candidates: row i (1 + K) + 0 is image i's
    // own caption, + 1 + k its negative k (whose phrases name the same scene's
    // objects, so that the caption's relation cannot stand in for the image).
    float *loc_t = c->itm_layers ? silt_arena_alloc(ha, sizeof(float) * (size_t)M * T * 2) : NULL;
    float *loc_w = c->itm_layers ? silt_arena_alloc(ha, sizeof(float) * (size_t)M * T * 2) : NULL;
    if (c->itm_layers && (!loc_t || !loc_w)) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_OOM, "clip: out of memory for a batch"));
        return NULL;
    }
    for (int i = 0; i < batch_size; i++) {
        world_item it;
        const int64_t j = batch_index * batch_size + i;
        silt_status s = world_train_item(data_seed, j, t->weighted ? t->cat_weights : NULL, &it);
        if (!s) s = wclip_tokenize(m, it.caption, ids + (size_t)i * T);
        const size_t row = (size_t)i * (size_t)(1 + K) * T * 2;  // image i's first candidate in loc_t / loc_w
        if (!s && loc_t) wclip_grounding_targets(&it.reqs, &it.scene, ids + (size_t)i * T, T, loc_t + row, loc_w + row);
        if (!s) s = wclip_render(m, &it.scene, hx + (size_t)i * 3 * S * S);
        for (int k = 0; !s && k < K; k++)
            s = negative_ids(m, &it, data_seed, j, k, K, ids + (size_t)(batch_size + (int64_t)i * K + k) * T,
                             loc_t ? loc_t + row + (size_t)(1 + k) * T * 2 : NULL,
                             loc_w ? loc_w + row + (size_t)(1 + k) * T * 2 : NULL);
        if (s) { silt_graph_fail(g, s); return NULL; }
    }
    silt_tensor *img = silt_graph_upload(g, SILT_F32, 4, (const int64_t[]){batch_size, 3, S, S}, hx);
    if (!img) return NULL;
    silt_tensor *te = NULL, *ctx = NULL, *patch = NULL;
    if (!c->itm_layers) {
        if (wclip_encode_text(g, m, ids, M, NULL, &te)) return NULL;
        return wclip_loss(g, m, wclip_encode_image(g, m, img, NULL), te);
    }
    if (K < 1) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "clip: the judge head learns from hard negatives: give --hard-negatives K >= 1"));
        return NULL;
    }
    if (wclip_encode_context(g, m, ids, M, WCLIP_CTX_RELATION, &ctx, &te)) return NULL;
    silt_tensor *ie = wclip_encode_image(g, m, img, &patch);
    silt_tensor *nce = wclip_loss(g, m, ie, te);
    // The head's candidates image-major: image i's own caption, then its K negatives.
    const int64_t B = batch_size, CW = ctx->shape[2];
    silt_tensor *own = silt_reshape(g, silt_slice(g, ctx, 0, 0, B), 3, (int64_t[]){B, 1, T * CW});
    silt_tensor *neg = silt_reshape(g, silt_slice(g, ctx, 0, B, B * K), 3, (int64_t[]){B, K, T * CW});
    silt_tensor *both[2] = {own, neg};
    silt_tensor *cand = silt_reshape(g, silt_concat(g, both, 2, 1), 3, (int64_t[]){B * (1 + K), T, CW});
    int32_t *target = silt_arena_alloc(ha, sizeof(int32_t) * (size_t)B);  // candidate 0 is the true caption
    if (!target) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_OOM, "clip: out of memory for a batch"));
        return NULL;
    }
    memset(target, 0, sizeof(int32_t) * (size_t)B);
    silt_tensor *loc = NULL, *ce = var_ce_loss(g, wclip_itm_logits(g, m, patch, cand, 1 + K, &loc), target, NULL);
    if (!nce || !ce || !loc) return NULL;
    // Grounding: every candidate's location guesses.
    double wsum = 0;
    for (int64_t q = 0; q < M * T * 2; q++) wsum += loc_w[q];
    silt_tensor *tgt = silt_graph_upload(g, SILT_F32, 3, (int64_t[]){M, T, 2}, loc_t);
    silt_tensor *wt = silt_graph_upload(g, SILT_F32, 3, (int64_t[]){M, T, 2}, loc_w);
    silt_tensor *d = silt_sub(g, loc, tgt);
    silt_tensor *ground = silt_scale(g, silt_sum(g, silt_mul(g, silt_mul(g, d, d), wt)), (float)(1.0 / fmax(1.0, wsum)));
    silt_tensor *total = ground ? silt_add(g, silt_add(g, nce, ce), ground) : NULL;
    if (total && t->samples) {
        silt_tensor *pair = pair_loss(t, g, data_seed, batch_index);
        total = pair ? silt_add(g, total, pair) : NULL;
    }
    return total;
}

// --init from a world-CLIP without the judge head: the head starts fresh.
static bool clip_init_fresh(void *self, const char *name) {
    return wclip_get_config(((clip_task *)self)->m)->itm_layers > 0 && !strncmp(name, "itm.", 4);
}

// Device runs: every weight moves (the model is the task).
static silt_status clip_to_device(void *self, silt_device device) {
    return wclip_to_device(((clip_task *)self)->m, device);
}

silt_status silt_train_clip_create(const wclip_config *c, uint64_t init_seed, silt_train_task *out) {
    if (!c || !out) return SILT_FAIL(SILT_ERR_ARG, "clip: NULL argument");
    clip_task *t = calloc(1, sizeof *t);
    if (!t) return SILT_FAIL(SILT_ERR_OOM, "clip: out of memory");
    snprintf(t->config, sizeof t->config, "{}");
    silt_status s = wclip_create(c, init_seed, &t->m);
    if (s) { free(t); return s; }
    silt_train_task task = {.self = t, .n_params = clip_n_params, .param = clip_param, .loss = clip_loss,
                            .images_per_batch = NULL, .name = "clip", .destroy = clip_destroy,
                            .to_device = clip_to_device, .init_fresh = clip_init_fresh};
    *out = task;
    return SILT_OK;
}

silt_status silt_train_clip_set_hard_negatives(silt_train_task *task, int k) {
    if (!task || !task->self || !task->name || strcmp(task->name, "clip"))
        return SILT_FAIL(SILT_ERR_ARG, "clip: hard negatives: not a clip task");
    if (k < 0 || k > SILT_TRAIN_CLIP_MAX_HARD_NEGATIVES)
        return SILT_FAIL(SILT_ERR_ARG, "clip: %d hard negatives per image (0..%d)", k, SILT_TRAIN_CLIP_MAX_HARD_NEGATIVES);
    clip_task *t = task->self;
    if (t->hard_negatives) return SILT_FAIL(SILT_ERR_ARG, "clip: hard negatives: already set");
    if (k == 0) return SILT_OK;
    char aux[64];
    snprintf(aux, sizeof aux, "\"aux_hard_negatives\": %d", k);
    SILT_TRY(add_aux(task, t, aux, "clip: hard negatives"));
    t->hard_negatives = k;
    silt_info("clip: %d hard-negative captions per image (one false edit each: relation, count, colour, shape, "
              "background, an absent object) in its softmax", k);
    return SILT_OK;
}

silt_status silt_train_clip_set_category_weights(silt_train_task *task, const int weights[WORLD_CAT_COUNT]) {
    if (!task || !task->self || !task->name || strcmp(task->name, "clip"))
        return SILT_FAIL(SILT_ERR_ARG, "category weights: not a clip task");
    clip_task *t = task->self;
    if (t->weighted) return SILT_FAIL(SILT_ERR_ARG, "category weights: already set");
    char aux[256];
    bool is_default = false;
    SILT_TRY(silt_train_category_weights_aux("clip", weights, &is_default, aux, sizeof aux));
    if (is_default) return SILT_OK;
    SILT_TRY(add_aux(task, t, aux, "clip: category weights"));
    memcpy(t->cat_weights, weights, sizeof t->cat_weights);
    t->weighted = true;
    return SILT_OK;
}

silt_status silt_train_clip_export(const char *ckpt_or_dir, const char *out_path) {
    char path[4096];
    silt_safetensors *st = NULL;
    SILT_TRY(silt_train_open_checkpoint(ckpt_or_dir, "clip", path, sizeof path, &st));
    wclip_model *m = NULL;
    silt_status s = wclip_load(st, &m);
    silt_safetensors_close(st);
    if (!s) s = wclip_save(m, out_path);
    wclip_free(m);
    return s;
}

silt_status silt_train_clip_set_samples(silt_train_task *task, const char *paths, int pairs_per_batch, bool mirrors) {
    if (!task || !task->self || !task->name || strcmp(task->name, "clip"))
        return SILT_FAIL(SILT_ERR_ARG, "samples: not a clip task");
    clip_task *t = task->self;
    const wclip_config *c = wclip_get_config(t->m);
    if (t->samples) return SILT_FAIL(SILT_ERR_ARG, "samples: already set");
    if (!c->itm_layers)
        return SILT_FAIL(SILT_ERR_ARG, "clip: --samples trains the judge head: give --itm-layers L (and --init the judge)");
    if (pairs_per_batch < 1 || pairs_per_batch > SILT_TRAIN_CLIP_MAX_PAIRS)
        return SILT_FAIL(SILT_ERR_ARG, "clip: %d sample pairs per batch (1..%d)", pairs_per_batch, SILT_TRAIN_CLIP_MAX_PAIRS);
    silt_sample_set *set = NULL;
    SILT_TRY(silt_sample_set_load_list(paths, &set));
    silt_status s = SILT_OK;
    if (set->size != c->img_size)
        s = SILT_FAIL(SILT_ERR_SHAPE, "samples: %d px images; the judge reads %d px", set->size, c->img_size);
    // The eval prompts' candidates go: best-of-n on the eval suite then
    // measures a judge that never saw those prompts.
    const int64_t dropped = s == SILT_OK ? silt_sample_set_drop_suite(set, WORLD_SUITE_EVAL) : 0;
    if (dropped < 0) s = SILT_FAIL(SILT_ERR_OOM, "samples: out of memory");
    const int64_t loaded = set->n;
    if (s == SILT_OK && mirrors) s = silt_sample_set_add_mirrors(set);
    int64_t n = 0, (*pairs)[2] = NULL;
    if (s == SILT_OK) s = silt_sample_set_training_pairs(set, dropped, "samples", &pairs, &n);
    char aux[128];
    snprintf(aux, sizeof aux, "\"aux_samples\": %lld, \"aux_sample_pairs\": %d%s", (long long)(s ? 0 : loaded),
             pairs_per_batch, mirrors ? ", \"aux_sample_mirrors\": true" : "");
    if (s == SILT_OK) s = add_aux(task, t, aux, "clip: samples");
    if (s != SILT_OK) {
        silt_sample_set_free(set);
        free(pairs);
        return s;
    }
    t->samples = set, t->pairs = pairs, t->n_pairs = n, t->pairs_per_batch = pairs_per_batch;
    int64_t passed = 0;
    for (int64_t i = 0; i < set->n; i++) passed += set->pass[i];
    silt_info("clip: %d pairs per batch from %lld (passed, failed) candidate pairs of one caption (%lld samples%s, %lld "
              "passed; %lld with eval-suite captions dropped)",
              pairs_per_batch, (long long)n, (long long)set->n, mirrors ? " with their mirrors" : "", (long long)passed,
              (long long)dropped);
    return SILT_OK;
}
