// Prompt suites (WORLD.md "Prompt suites"):
//   train:   the caption distribution the default models learn, an endless
//            sampler: item (seed, index) is a caption drawn by category and the
//            scene rendered for it, both from silt_rng_init(seed, index).
//   eval:    504 fixed prompts, 72 per category, interleaved (index i is
//            category i % 7) so that any prefix is balanced; each has a fixed
//            seed. "world-GenEval" is the mean pass rate over them.
//   heldout: 144 fixed prompts, 24 per category (all but single_object, which
//            colours covers), each naming a composition the train sampler never
//            emits: a held-out colour-shape pair or a held-out relation.
// Held out of train (captions AND scenes: no train object is a held-out pair):
//   pairs: red triangle, green cross, blue circle, yellow square, purple cross,
//          cyan triangle, white circle, black square (one per colour, two per shape);
//   relations (either phrasing): circle left of square, triangle above cross,
//          cross left of circle, square above triangle.
// eval prompts come from the train distribution (no held-out composition) and
// are distinct within their category (single_object and colours share some
// coloured prompts, with different seeds).
#ifndef WORLD_SUITES_H
#define WORLD_SUITES_H

#include <stdbool.h>
#include <stdint.h>

#include "core/rng.h"
#include "world/caption.h"
#include "world/render.h"

typedef enum world_suite { WORLD_SUITE_TRAIN, WORLD_SUITE_EVAL, WORLD_SUITE_HELDOUT, WORLD_SUITE_COUNT } world_suite;

const char *world_suite_name(world_suite s);  // "train", "eval", "heldout"
silt_status world_suite_from_name(const char *name, world_suite *out);

typedef struct world_item {
    world_category category;
    uint64_t seed;                    // train: the seed asked for; eval/heldout: the prompt's fixed seed (< 2^31)
    world_reqs reqs;
    char caption[WORLD_CAPTION_MAX];  // canonical text of reqs
    world_scene scene;                // a scene satisfying the caption
} world_item;

// Number of items: eval 504, heldout 144, train -1 (unbounded: any index >= 0).
int64_t world_suite_size(world_suite s);
int64_t world_suite_category_size(world_suite s, world_category c);  // per category (train: -1)

// Item `index` of a suite. train: everything from silt_rng_init(seed, index).
// eval/heldout: the caption, category and item seed depend on the index only;
// the scene is drawn from silt_rng_init(seed ? seed : item.seed, index), so
// seed 0 gives the reference scene and other seeds other scenes of the prompt.
silt_status world_suite_item(world_suite s, uint64_t seed, int64_t index, world_item *out);

// The train sampler with other category weights (relative integers, indexed
// by world_category; NULL: the default ones, world_train_weights): item
// (seed, index) draws its category from them and the rest as
// world_suite_item(WORLD_SUITE_TRAIN, ...) does, so the default weights give
// the same items. SILT_ERR_ARG for a weight outside 0..WORLD_TRAIN_WEIGHT_MAX
// or all zero.
#define WORLD_TRAIN_WEIGHT_MAX 1000
silt_status world_train_item(uint64_t seed, int64_t index, const int *weights, world_item *out);
void world_train_weights(int out[WORLD_CAT_COUNT]);
// "name=w,name=w" (e.g. "position=9,counting=4"): the named categories'
// weights set in w, the others left as given. SILT_ERR_ARG naming the bad
// part: an unknown category, a weight outside 0..WORLD_TRAIN_WEIGHT_MAX, all 0.
silt_status world_parse_category_weights(const char *spec, int w[WORLD_CAT_COUNT]);

// A hard negative for contrastive training (world-judge, `gen train --arch
// clip --hard-negatives K`): requirements that differ from r by one edit and
// that the scene does NOT satisfy (the oracle says fail), so that a text
// encoder must read that part of the caption to tell them apart. The edits,
// drawn uniformly among those that apply to r: the relation's direction
// flipped, the two phrases swapped under the same relation, the relation
// moved to the other axis, an exact count moved by one (or a phrase made
// "two ..." where the scene has one), a colour named or changed, a shape
// changed, the two phrases' colours swapped, the background style changed,
// and an absent object added to a one-phrase caption ("... and a green
// cross"). Never names a held-out pair or relation (world_reqs_heldout), so
// the held-out compositions stay unseen. SILT_ERR_UNSUPPORTED when 32 draws
// found none (not expected for train items); *out unchanged then.
silt_status world_reqs_negative(const world_reqs *r, const world_scene *s, silt_rng *rng, world_reqs *out);

// Held-out compositions.
uint32_t world_heldout_pairs(void);  // WORLD_PAIR_BIT set of held-out colour-shape pairs
bool world_heldout_pair(world_colour c, world_shape s);
bool world_heldout_relation(world_shape a, world_relation rel, world_shape b);  // either phrasing
bool world_reqs_heldout(const world_reqs *r);     // names a held-out pair or relation
bool world_scene_heldout(const world_scene *s);   // some object is a held-out pair

#endif
