// Loading model weights from a safetensors file by name, with the checks a
// user needs: every expected tensor present with the expected shape, no
// unexpected tensors left over, each failure one message naming the first
// offending tensor and what was expected. Tensors are converted to owned f32
// CPU tensors (checkpoints may be f16/bf16/f32/f64).
//
//   silt_weights *wl = silt_weights_begin(st, "model.diffusion_model.");
//   m->proj_w = silt_weights_get(wl, "x_embedder.proj.weight", 4, (int64_t[]){D, C, p, p});
//   ...
//   silt_status s = silt_weights_end(wl, &ignore_list);  // first error, or extra tensors
#ifndef SILT_WEIGHTS_H
#define SILT_WEIGHTS_H

#include "core/safetensors.h"
#include "core/tensor.h"

typedef struct silt_weights silt_weights;

// `prefix` is prepended to every name (e.g. "model.diffusion_model."); only
// tensors under it count for the extra-tensor check. NULL on OOM.
silt_weights *silt_weights_begin(const silt_safetensors *st, const char *prefix);

// Loads prefix+name, which must have exactly `shape` (ndim 1..4). Returns an
// owned f32 tensor (the caller frees it), or NULL after recording the first
// failure; later calls after a failure return NULL at once.
silt_tensor *silt_weights_get(silt_weights *wl, const char *name, int ndim, const int64_t *shape);
// Same, but a missing tensor is not an error (returns NULL, no failure).
silt_tensor *silt_weights_get_optional(silt_weights *wl, const char *name, int ndim, const int64_t *shape);
// True when prefix+name exists (does not mark it used).
bool silt_weights_has(const silt_weights *wl, const char *name);
// The shape of prefix+name, or NULL when absent (does not mark it used).
const silt_st_tensor *silt_weights_peek(const silt_weights *wl, const char *name);
// Marks prefix+name as used without loading it (buffers a model recomputes).
void silt_weights_skip(silt_weights *wl, const char *name);

// Finishes: returns the first failure recorded, else fails with
// SILT_ERR_FORMAT naming the first tensor under the prefix that no call
// used ("unexpected tensor 'x' (N more)"). Frees wl either way.
silt_status silt_weights_end(silt_weights *wl);
// Frees wl without the extra-tensor check (after a failure elsewhere).
void silt_weights_abort(silt_weights *wl);

#endif
