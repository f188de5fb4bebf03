// Helpers shared by the VAR and VQ-VAE loaders for silt trainer checkpoints
// (gen/lib/train.h layout: parameters under their names, "ema.<name>",
// "adam_m.<name>", "adam_v.<name>", metadata format "silt-train-checkpoint").
// Not a public header.
#ifndef SILT_VAR_VAR_CKPT_H
#define SILT_VAR_VAR_CKPT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/safetensors.h"
#include "core/weights.h"

// True when st is a silt trainer checkpoint (metadata "format").
bool var_is_train_checkpoint(const silt_safetensors *st);
// Marks "adam_m.<name>" and "adam_v.<name>" used (a checkpoint read without
// its EMA copy: the optimiser moments are not part of the model).
void var_skip_adam(silt_weights *wl, const char *name);
// Weights of a fresh model: N(0, std^2) truncated to [-2, 2] (torch's
// trunc_normal_ default bounds are absolute, so for std << 1 this is a plain
// normal) from Philox stream `stream` under seed.
void var_init_normal(float *w, int64_t n, double std, uint64_t seed, uint64_t stream);
// U(-bound, bound) from Philox stream `stream` under seed.
void var_init_uniform(float *w, int64_t n, double bound, uint64_t seed, uint64_t stream);

#endif
