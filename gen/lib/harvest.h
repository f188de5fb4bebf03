// Verified self-samples of a world model (`gen world harvest`), and the
// sample-set file they go into: rejection-sampling fine-tuning (RAFT, Dong et
// al. 2023; the "filtered" baseline of ReST) for the world MMDiT. The model
// draws train-suite captions; each item gets up to `tries` candidates and the
// first that the exact world evaluator passes is kept. `gen train --arch mmdit
// --samples FILE` then mixes the kept images into its renders, pulling the
// model's own distribution toward what it already draws right (a verifier's
// best-of-n distilled into single samples). Items whose caption is an eval
// prompt are skipped (the trainer would drop their samples, below).
//
// The captions come from the train sampler (world_train_item), so the
// held-out compositions stay unseen; eval captions can come up, as they do in
// the renders the model was trained on (eval prompts are drawn from the train
// distribution; world/suites.h). The trainer drops those samples
// (silt_sample_set_drop_suite), so that world-GenEval measures prompts the
// fine-tuning never saw drawn right by the model itself.
//
// File (safetensors, metadata silt.kind = "world-samples"):
//   images  U8  (K, S, S, 3)  the kept 8-bit images, as the evaluator saw them
//   items   I64 (K)           their train-suite indices
//   tries   I32 (K)           which candidate passed (0: the first); with
//                             --all, which candidate the image is
//   pass    U8  (K)           (--all sets only) the evaluator's verdict, 1 or 0
//   metadata silt.seed, silt.weights ("2,2,2,2,3,2,2": the train sampler's
//   category weights), silt.model, silt.items_tried: the caption of image i is
//   world_train_item(seed, items[i], weights). A set made with keep_all
//   (`gen world harvest --all`) holds every candidate, passed or not, with
//   its verdict: labelled data for a verifier (gen train --arch clip
//   --samples, gen/lib/train_clip.c), metadata silt.keep = "all".
#ifndef SILT_HARVEST_H
#define SILT_HARVEST_H

#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"
#include "gen/lib/txt2img.h"
#include "world/suites.h"

typedef struct silt_harvest_params {
    silt_txt2img *model;       // a world MMDiT
    silt_txt2img_params gen;   // sampler and guidance (silt_txt2img_default_params)
    const char *model_name;    // recorded in the file
    uint64_t seed;             // the train items' seed, and of the candidates' noise
    int64_t offset, count;     // train items [offset, offset + count) (those with eval captions skipped)
    int weights[WORLD_CAT_COUNT];  // the train sampler's category weights
    int tries;                 // candidates per item (1..64); the first pass is kept
    bool keep_all;             // keep every candidate (all tries drawn) with its verdict
    int batch;                 // images per model run
    int save_every;            // items between rewrites of the output file (it always holds what is done)
    bool progress;
} silt_harvest_params;

silt_harvest_params silt_harvest_default_params(void);  // seed 0, tries 4, batch 16, save_every 256, default weights

typedef struct silt_harvest_result {
    int64_t items, kept, candidates;  // items: those drawn for (the skipped not counted); kept: items with a pass
    int64_t passed;                   // candidates the evaluator passed
    int64_t skipped;                  // items whose caption is an eval prompt: not drawn (the trainer drops them)
    int64_t cat_items[WORLD_CAT_COUNT], cat_kept[WORLD_CAT_COUNT];
    int64_t first_pass;  // items whose candidate 0 passed (the model's plain pass rate on them)
    double seconds;
} silt_harvest_result;

// The noise seed of candidate k of train item i (a batch-1 run with this seed
// redraws it).
uint64_t silt_harvest_noise_seed(uint64_t seed, int64_t item, int k);

// Runs the harvest and writes out_path (atomically, every save_every items
// and at the end). r may be NULL.
silt_status silt_harvest_run(const silt_harvest_params *p, const char *out_path, silt_harvest_result *r);

// A loaded sample set: n images (size x size x 3, 8-bit) with their captions
// (and each caption's category and requirements).
typedef struct silt_sample_set {
    int64_t n;
    int size;
    uint8_t *images;                  // n x size x size x 3
    uint8_t *pass;                    // n verdicts (all 1 in a first-pass set)
    int64_t *groups;                  // n: equal for the candidates of one item (of one file in a list)
    char (*captions)[WORLD_CAPTION_MAX];
    world_category *categories;
    world_reqs *reqs;
} silt_sample_set;

// Loads and checks a harvest file: one error naming what is wrong (not a
// sample set, no images, shapes, an item whose caption cannot be rebuilt).
silt_status silt_sample_set_load(const char *path, silt_sample_set **out);
void silt_sample_set_free(silt_sample_set *s);  // NULL-safe
// Loads a comma-separated list of sample sets as one (in order; groups stay
// apart between files).
silt_status silt_sample_set_load_list(const char *paths, silt_sample_set **out);
// Keeps the samples whose verdict is a pass, in order; returns how many went.
int64_t silt_sample_set_keep_passing(silt_sample_set *s);
// Appends each sample mirrored left-right and top-bottom (same caption and
// group), each verdict the exact evaluator's on the mirrored image: a
// passed "X left of Y" mostly fails mirrored, a pair that differs only in
// the layout. The set triples. SILT_ERR_OOM leaves it as it was.
silt_status silt_sample_set_add_mirrors(silt_sample_set *s);
// Drops the samples whose caption is one of the fixed suite's prompts (eval
// or heldout), keeping the order of the rest; returns how many went (-1:
// out of memory, nothing dropped).
int64_t silt_sample_set_drop_suite(silt_sample_set *s, world_suite suite);
// Every (passed, failed) pair of candidates of one group, ordered by the
// passed one's index, then the failed one's: *out (free()) holds *count
// index pairs (none: *count 0). Pairs for a verifier (train_clip.c) and for
// preference optimisation of the generator (train_mmdit.c).
silt_status silt_sample_set_pairs(const silt_sample_set *set, int64_t (**out)[2], int64_t *count);
// The same for a trainer: SILT_ERR_ARG naming `who` when the set has no pair
// (`dropped`: how many eval-suite samples went before, for the message).
silt_status silt_sample_set_training_pairs(const silt_sample_set *set, int64_t dropped, const char *who,
                                           int64_t (**out)[2], int64_t *count);

#endif
