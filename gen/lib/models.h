// The built-in models (issue 4): world-dit.safetensors.zst (the default
// MMDiT) and world-clip.safetensors.zst (its frozen text encoder, also the
// world-CLIP of `gen eval`), and (issue 5) world-var / world-vq, found by file name in a fixed order of folders:
//   1. $SILT_MODELS (when set and non-empty),
//   2. <folder of the running executable>/../models (a build tree or an
//      install prefix: build/gen -> ./models of the checkout),
//   3. ./models (the current directory).
#ifndef SILT_MODELS_H
#define SILT_MODELS_H

#include <stddef.h>

#include "core/status.h"

#define SILT_MODEL_WORLD_DIT "world-dit.safetensors.zst"
#define SILT_MODEL_WORLD_CLIP "world-clip.safetensors.zst"
// The world autoencoder: the latent space of a latent world MMDiT (metadata silt.latent = world-ae).
#define SILT_MODEL_WORLD_AE "world-ae.safetensors.zst"
// The world VAR (issue 5): the text-conditioned next-scale transformer and its
// multi-scale VQ tokenizer, used by `gen --arch var --prompt ...`.
#define SILT_MODEL_WORLD_VAR "world-var.safetensors.zst"
#define SILT_MODEL_WORLD_VQ "world-vq.safetensors.zst"
// The world-judge (world-CLIP with a judge head, `gen train --arch clip
// --itm-layers`): the default model of `--search best-of-n --reward judge`.
#define SILT_MODEL_WORLD_JUDGE "world-judge.safetensors.zst"

// Writes the first existing regular file <folder>/<name> into path (n bytes).
// SILT_ERR_IO when none exists, with one message naming the file and every
// folder looked in ("built-in model world-dit.safetensors.zst not found (looked
// in $SILT_MODELS (unset), /x/build/../models, ./models)"); SILT_ERR_ARG for
// NULL arguments or a path longer than n.
silt_status silt_models_find(const char *name, char *path, size_t n);

#endif
