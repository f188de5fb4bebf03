// Rewards and clustering features of the world for VAR test-time search
// (var/search.h): world-eval's soft score or the world-CLIP similarity
// against the prompt, and world-CLIP image patch tokens (the world's stand-in
// for TTS-VAR's DINOv2 patch tokens, METHODS.md sec. 5).
#ifndef SILT_VAR_SEARCH_WORLD_H
#define SILT_VAR_SEARCH_WORLD_H

#include "text/world_clip.h"
#include "var/search.h"
#include "world/caption.h"

typedef enum var_reward_kind {
    VAR_REWARD_EVAL = 0,  // "eval": world-eval soft score (fraction of the caption's requirements met), in [0, 1]
    VAR_REWARD_CLIP,      // "clip": world-CLIP cosine(image, caption), in [-1, 1]
    VAR_REWARD_JUDGE,     // "judge": a world-judge, a world-CLIP trained with hard-negative captions (`gen
                          // train --arch clip --hard-negatives`): its judge head's logit (wclip_itm_scores)
                          // + VAR_JUDGE_COS_WEIGHT x 100 x its cosine when it has a head (--itm-layers),
                          // else its cosine as above (models/README.md)
    VAR_REWARD_KIND_COUNT
} var_reward_kind;
// The cosine's weight in a judge head's reward: chosen among 0, 0.5, 1, 2 and
// 3 by offline best-of-4 over four stored eval runs (models/README.md,
// seventeenth session: the head alone 0.692, + 2 x cosine 0.738, + 3 x 0.740,
// within noise of 2).
#define VAR_JUDGE_COS_WEIGHT 2.0
const char *var_reward_kind_name(var_reward_kind k);
silt_status var_reward_kind_from_name(const char *name, var_reward_kind *out);

typedef struct var_world_reward {
    var_reward_kind kind;
    const wclip_model *clip;        // VAR_REWARD_CLIP: the world-CLIP; VAR_REWARD_JUDGE: the world-judge
    world_reqs reqs;                // VAR_REWARD_EVAL: the parsed caption
    char caption[4 * WORLD_CAPTION_MAX];  // the prompt without words outside the world's vocabulary
} var_world_reward;

// Parses the prompt (words outside the vocabulary dropped, as the pipeline
// does); SILT_ERR_ARG when kind eval and it is not a world caption, or kind
// clip or judge without a model (clip: the scoring model of either).
silt_status var_world_reward_init(var_world_reward *r, var_reward_kind kind, const wclip_model *clip,
                                  const char *prompt);
// var_reward_fn over a var_world_reward, images (n, 3, H, W) in [0, 1]: eval
// judges the 8-bit image the PNG would hold (silt_image_from_tensor's
// rounding), clip and judge score the float image.
silt_status var_world_reward_fn(void *user, const float *img, int64_t n, int H, int W, double *scores);
// var_feature_fn over a wclip_model: the ln_post patch tokens (n, P, D) of
// wclip_encode_image, P = (img_size / patch)^2, D = img_width; H = W must be
// the world-CLIP's image size.
silt_status var_world_features_fn(void *user, const float *img, int64_t n, int H, int W, float *feat);
// P and D of var_world_features_fn for this world-CLIP.
void var_world_feature_dims(const wclip_model *clip, int *tokens, int *dim);

#endif
