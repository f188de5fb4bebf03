// Scene generation: random scenes, scenes that satisfy a caption, and
// captions that a scene satisfies. Everything draws from a silt_rng, so a
// scene is a pure function of the rng's (seed, stream, counter): callers use
// silt_rng_init(seed, index) to make "scene = f(seed, index)".
#ifndef WORLD_SCENE_H
#define WORLD_SCENE_H

#include <stdint.h>

#include "core/rng.h"
#include "world/caption.h"
#include "world/render.h"

// Colour-shape pairs a generator must never draw, as bits
// (1u << (colour * WORLD_SHAPE_COUNT + shape)): the held-out pairs of the
// training distribution (suites.h), or 0 for none.
#define WORLD_PAIR_BIT(colour, shape) (1u << ((unsigned)(colour) * WORLD_SHAPE_COUNT + (unsigned)(shape)))

// A random scene: 1-4 objects (uniform), shapes, colours (not in `banned`),
// sizes and background uniform; placed on the 1/4-unit grid.
silt_status world_scene_random(silt_rng *rng, uint32_t banned, world_scene *out);
// world_scene_random with silt_rng_init(seed, index).
silt_status world_scene_sample(uint64_t seed, uint64_t index, world_scene *out);

// A scene that satisfies the requirements: exactly the objects they name
// (counts), the named colours and sizes (others drawn, never a banned pair),
// the relation with a margin (world_relation_clear), the named background
// style (else a random one) with colours that keep the contrast rule. The
// result is checked with the oracle (world_reqs_check_scene) before it is
// returned. SILT_ERR_ARG when the requirements name more than 4 objects or a
// banned pair; SILT_ERR_NUMERIC if no scene was found (not expected).
silt_status world_scene_for_reqs(const world_reqs *r, uint32_t banned, silt_rng *rng, world_scene *out);

// Requirements of category `cat` that the scene satisfies (the oracle
// agrees), drawn at random among the possible ones; colours always named
// except for single_object/two_objects/counting, where `named` (0..1) is the
// probability of naming them. SILT_ERR_UNSUPPORTED when the scene has no
// caption of that category (e.g. position with one object).
silt_status world_reqs_describe(const world_scene *s, world_category cat, double named, silt_rng *rng, world_reqs *out);

#endif
