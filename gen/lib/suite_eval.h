// world-GenEval of a generator over a fixed prompt suite (issue 4, `gen eval
// --suite`): every item of world/suites.h (eval or heldout) is generated once
// at the model's native size, its noise drawn from the item's fixed seed,
// then judged with world-eval against the item's caption. Metrics:
//   - world-GenEval: the pass rate, overall and per category (GenEval's
//     overall is the mean pass rate over prompts; the suites are balanced);
//   - the mean soft score (fraction of requirements met);
//   - world-CLIP score: the mean over items of 100 cos(image, caption), the
//     CLIPScore of Hessel et al. 2021 without its clip at 0 and weight 2.5;
//   - world-FD: the Frechet distance (world/frechet.h) between the
//     L2-NORMALISED world-CLIP image embeddings of the generated images and of
//     the 8-bit renders of the same items' reference scenes (normalised: the
//     embedding's scale carries no meaning in the contrastive loss, which only
//     sees cosines, so unnormalised FDs of two checkpoints would not compare);
//   - images/s of generation alone (judging and CLIP excluded).
// Pseudo-models check the harness without a trained model: `render` (the
// reference renders themselves: GenEval 1, FD ~0), `noise` (uniform noise
// pixels) and `shuffled` (item i gets item i+1's reference render: a clean
// image of the wrong caption); both of the latter must score low.
#ifndef SILT_SUITE_EVAL_H
#define SILT_SUITE_EVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"
#include "gen/lib/txt2img.h"
#include "text/world_clip.h"
#include "world/suites.h"

typedef enum silt_suite_source {
    SILT_SUITE_MODEL,     // "model": a world model generates
    SILT_SUITE_RENDER,    // "render": the reference render of the item
    SILT_SUITE_NOISE,     // "noise": uniform 8-bit noise from the item's seed
    SILT_SUITE_SHUFFLED,  // "shuffled": the next item's reference render
    SILT_SUITE_SOURCE_COUNT
} silt_suite_source;

const char *silt_suite_source_name(silt_suite_source s);
silt_status silt_suite_source_from_name(const char *name, silt_suite_source *out);

typedef struct silt_suite_eval_params {
    world_suite suite;         // eval or heldout (train has no fixed list)
    int64_t limit;             // the first N items (0: all); the suites interleave categories
    uint64_t seed;             // added to every item's fixed seed (0: the items' own noise)
    int batch;                 // items per model call (1..256)
    silt_suite_source source;
    silt_txt2img *model;       // source model: a world model (info.world_text)
    silt_txt2img_params gen;   // source model: sampler and guidance; prompts, seeds, batch,
                               // size and progress are set here per call
    const wclip_model *clip;   // NULL: no world-CLIP score and world-FD
    bool progress;             // progress bar over the items on stderr
    bool per_item;             // also keep each item's verdict (result.item), for paired comparisons
    const char *dump_dir;      // also write each judged image as DIR/<index>.png (caption, then the
                               // verdict, in its parameters); NULL: none. The folder must exist.
} silt_suite_eval_params;

// suite eval, source model, batch 8, progress on; the rest zero.
silt_suite_eval_params silt_suite_eval_default_params(void);

// One item's verdict. Two evaluations of the same suite and seed draw the
// same noise per item, so their verdicts pair up (a decoder or guidance A/B
// on identical samples: count the items that flip, McNemar's test).
typedef struct silt_suite_eval_item {
    int64_t index;             // the item's index in the suite
    world_category category;
    bool pass;
    double soft;               // world-eval soft score
    double clip_cos;           // cos(image, caption) in world-CLIP (NAN without a world-CLIP)
} silt_suite_eval_item;

typedef struct silt_suite_eval_result {
    int64_t n, passed;
    int64_t cat_n[WORLD_CAT_COUNT], cat_passed[WORLD_CAT_COUNT];
    double geneval;            // passed / n
    double soft;               // mean soft score
    bool has_clip;             // clip_score and fd are set (fd needs n >= 2: NAN otherwise)
    double clip_score, fd;
    int size;                  // pixels of the judged images
    double gen_seconds, images_per_s;
    int64_t model_rows;        // model rows run (NFE x images, guidance blocks included)
    // VAR compute over the run (search.h's var_compute; plain sampling too;
    // zero for other models).
    var_compute compute;
    char heads[256];           // the perturbed heads as a spec ("" when none)
    silt_suite_eval_item *item;  // params.per_item: n verdicts in suite order (silt_suite_eval_result_free); else NULL
} silt_suite_eval_result;

void silt_suite_eval_result_free(silt_suite_eval_result *r);  // frees r->item; NULL-safe

// Runs the suite; *out is set only on success. SILT_ERR_ARG for a train
// suite, a model that is not a world model, a world-CLIP whose image size
// differs from the images', bad batch or limit.
silt_status silt_suite_eval_run(const silt_suite_eval_params *p, silt_suite_eval_result *out);

// Intermediate vs final reward of the world VAR (TTS-VAR's sec. on reward
// correlation, METHODS.md sec. 5): for each suite item (limit as above) n
// plain samples (best-of-n's draws: item seed, streams 0..n-1) are decoded
// after every scale and scored with p->gen.search_reward against the item's
// caption. Per scale k, over all (item, sample) pairs: Pearson and Spearman
// (average ranks on ties) of the reward at k against the final reward, and
// Pearson after subtracting each item's mean (within-prompt, so that easy
// and hard prompts do not inflate it). A constant series gives NAN.
typedef struct silt_reward_corr_result {
    int n_scales, pn[32];
    int64_t items, samples;
    double mean[32];           // mean reward at each scale
    double pearson[32], spearman[32], within[32];
} silt_reward_corr_result;
silt_status silt_suite_reward_correlation(const silt_suite_eval_params *p, int n, silt_reward_corr_result *out);

#endif
