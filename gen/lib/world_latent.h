// The latent of a latent world MMDiT, read the same way by the trainer's
// export and by gen. Two places hold it:
//   - an exported model (and the world autoencoder file itself): metadata
//     "silt.latent" = "world-ae" (models only), "silt.latent_shift",
//     "silt.latent_scale";
//   - a `gen train --arch mmdit --ae` checkpoint: the members "silt_latent"
//     = "world-ae", "silt_latent_shift", "silt_latent_scale" of its "config"
//     JSON (gen/lib/train_mmdit.c writes them).
// The model sees z = (f - shift) * scale, f the autoencoder's latent; a
// sample decodes as decoder(z / scale + shift).
#ifndef SILT_WORLD_LATENT_H
#define SILT_WORLD_LATENT_H

#include <stdbool.h>

#include "core/safetensors.h"
#include "core/status.h"

#define SILT_WORLD_LATENT_NAME "world-ae"

typedef struct silt_world_latent {
    bool on;               // false: a pixel-space model (nothing else is set)
    double shift, scale;   // finite, scale > 0
} silt_world_latent;

// Metadata silt.latent_shift and silt.latent_scale of st: both present,
// finite numbers, scale > 0, or SILT_ERR_FORMAT naming the bad one.
silt_status silt_world_latent_numbers(const silt_safetensors *st, double *shift, double *scale);
// The model's latent from either place above (the metadata first). A model
// without one gives on = false and SILT_OK; another latent name, or one
// without valid numbers, is SILT_ERR_FORMAT / SILT_ERR_UNSUPPORTED.
silt_status silt_world_latent_read(const silt_safetensors *st, silt_world_latent *out);

#endif
