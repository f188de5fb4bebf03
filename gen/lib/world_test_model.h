// A tiny random world MMDiT for tests (tests/cli/test_world_gen.sh,
// tests/unit/test_txt2img_world.c, `gen world test-model`): the layout and
// metadata of the real built-in model (BRIEF: silt.kind world-mmdit,
// silt.text_encoder world-clip, silt.sampler/steps/shift/cfg, silt.train),
// untrained. Config: depth 2, 2 heads of 8 (hidden 16), patch 2, 3 -> 3
// channels, pos_max 16 (32 px: 16 x 16 patches, config sample_size 32), joint_dim and
// pooled_dim as given (a world-CLIP's width and embed_dim; 64 and 64 for
// wclip_default_config). Weights: mmdit_create's init plus N(0, 0.05) on
// every parameter, so that the adaLN-Zero layers do not make the model the
// identity and every input (text, timestep, perturbation) changes the output.
#ifndef SILT_WORLD_TEST_MODEL_H
#define SILT_WORLD_TEST_MODEL_H

#include <stdint.h>

#include "core/status.h"

typedef struct silt_world_test_model_params {
    int joint_dim, pooled_dim;  // 64, 64
    uint64_t seed;              // 0
    int steps;                  // silt.steps, 4
    double shift, cfg;          // silt.shift 3, silt.cfg 4
} silt_world_test_model_params;

silt_world_test_model_params silt_world_test_model_default_params(void);
// Writes the model to path (mmdit_save: atomic, zstd for ".zst").
silt_status silt_world_test_model_write(const silt_world_test_model_params *p, const char *path);

#endif
