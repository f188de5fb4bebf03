// World rewards and features for VAR search (search_world.h).
#include "var/search_world.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/image.h"
#include "world/eval.h"

static const char *const reward_names[VAR_REWARD_KIND_COUNT] = {"eval", "clip", "judge"};

const char *var_reward_kind_name(var_reward_kind k) { return (unsigned)k < VAR_REWARD_KIND_COUNT ? reward_names[k] : "?"; }

silt_status var_reward_kind_from_name(const char *name, var_reward_kind *out) {
    for (int i = 0; name && i < VAR_REWARD_KIND_COUNT; i++)
        if (!strcmp(name, reward_names[i])) { *out = (var_reward_kind)i; return SILT_OK; }
    return SILT_FAIL(SILT_ERR_ARG, "unknown reward '%s' (eval, clip or judge)", name ? name : "(null)");
}

silt_status var_world_reward_init(var_world_reward *r, var_reward_kind kind, const wclip_model *clip,
                                  const char *prompt) {
    if (!r || !prompt) return SILT_FAIL(SILT_ERR_ARG, "var_world_reward_init: NULL argument");
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->clip = clip;
    size_t pos = 0, len = 0;
    char w[64];
    while (world_caption_next_word(prompt, &pos, w, sizeof w)) {
        if (world_vocab_find(w) < 0) continue;
        size_t l = strlen(w);
        if (len + l + 2 > sizeof r->caption) break;
        if (len) r->caption[len++] = ' ';
        memcpy(r->caption + len, w, l + 1);
        len += l;
    }
    if (kind == VAR_REWARD_CLIP || kind == VAR_REWARD_JUDGE) {
        if (!clip) return SILT_FAIL(SILT_ERR_ARG, "reward %s: no %s model", reward_names[kind],
                                    kind == VAR_REWARD_CLIP ? "world-CLIP" : "world-judge");
        return SILT_OK;
    }
    if (kind != VAR_REWARD_EVAL) return SILT_FAIL(SILT_ERR_ARG, "var_world_reward_init: bad reward kind");
    if (world_caption_parse(r->caption, &r->reqs) != SILT_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", silt_last_error_message());
        return SILT_FAIL(SILT_ERR_ARG, "reward eval: the prompt is not a world caption (%s); use --reward clip", msg);
    }
    return SILT_OK;
}

silt_status var_world_reward_fn(void *user, const float *img, int64_t n, int H, int W, double *scores) {
    const var_world_reward *r = user;
    if (!r || !img || !scores) return SILT_FAIL(SILT_ERR_ARG, "var_world_reward_fn: NULL argument");
    const int64_t per = (int64_t)3 * H * W;
    if (r->kind == VAR_REWARD_CLIP || r->kind == VAR_REWARD_JUDGE) {
        float *x = malloc((size_t)per * sizeof *x);
        if (!x) return SILT_FAIL(SILT_ERR_OOM, "reward: out of memory");
        silt_status s = SILT_OK;
        for (int64_t b = 0; b < n && s == SILT_OK; b++) {
            for (int64_t j = 0; j < per; j++) x[j] = 2.0f * img[b * per + j] - 1.0f;
            if (r->kind == VAR_REWARD_JUDGE && wclip_get_config(r->clip)->itm_layers) {
                // The judge head's logit plus its towers' cosine (x 100, as
                // CLIP scores): the head reads relations, the cosine counts
                // and both objects better (models/README.md, seventeenth session).
                const char *cap = r->caption;
                double cos = 0;
                s = wclip_itm_scores(r->clip, x, &cap, 1, &scores[b], &cos);  // one encoding for both
                scores[b] += VAR_JUDGE_COS_WEIGHT * 100.0 * cos;
            } else {
                scores[b] = wclip_score(r->clip, x, r->caption, &s);
            }
        }
        free(x);
        return s;
    }
    uint8_t *rgb = malloc((size_t)(H * W * 3));
    if (!rgb) return SILT_FAIL(SILT_ERR_OOM, "reward: out of memory");
    silt_status s = SILT_OK;
    for (int64_t b = 0; b < n && s == SILT_OK; b++) {
        silt_image *im = NULL;
        s = silt_image_from_tensor(img + b * per, 3, H, W, 0.0f, 1.0f, &im);
        if (s != SILT_OK) break;
        for (int q = 0; q < H * W; q++) memcpy(rgb + q * 3, im->data + (size_t)q * (size_t)im->c, 3);
        silt_image_free(im);
        world_eval_result er;
        s = world_eval_image_reqs(rgb, W, H, &r->reqs, &er);
        if (s == SILT_OK) scores[b] = er.score;
    }
    free(rgb);
    return s;
}

void var_world_feature_dims(const wclip_model *clip, int *tokens, int *dim) {
    const wclip_config *c = wclip_get_config(clip);
    int side = c->img_size / c->patch;
    *tokens = side * side;
    *dim = c->img_width;
}

silt_status var_world_features_fn(void *user, const float *img, int64_t n, int H, int W, float *feat) {
    const wclip_model *clip = user;
    if (!clip || !img || !feat) return SILT_FAIL(SILT_ERR_ARG, "var_world_features_fn: NULL argument");
    const wclip_config *c = wclip_get_config(clip);
    if (H != c->img_size || W != c->img_size)
        return SILT_FAIL(SILT_ERR_ARG, "features: the world-CLIP sees %d px images, the samples are %dx%d", c->img_size,
                         W, H);
    silt_graph *g = silt_graph_create(0);
    if (!g) return SILT_FAIL(SILT_ERR_OOM, "features: out of memory");
    silt_graph_set_grad(g, false);
    silt_tensor *x = silt_graph_new(g, n, 3, H, W), *patch = NULL;
    silt_status s = SILT_OK;
    if (x) {
        for (int64_t j = 0; j < n * 3 * H * W; j++) silt_f32(x)[j] = 2.0f * img[j] - 1.0f;
        if (!wclip_encode_image(g, clip, x, &patch) || !patch) s = silt_graph_status(g);
    } else {
        s = silt_graph_status(g);
    }
    if (s == SILT_OK && patch) memcpy(feat, silt_f32(patch), silt_nbytes(patch));
    else if (s == SILT_OK) s = SILT_FAIL(SILT_ERR_NUMERIC, "features: no patch tokens");
    silt_graph_free(g);
    return s;
}
