// Guess what a checkpoint holds from its tensor names and shapes (as
// stable-diffusion.cpp does), for `gen info` and for picking a loader.
#ifndef SILT_ARCH_H
#define SILT_ARCH_H

#include <stddef.h>

#include "core/safetensors.h"

typedef enum silt_arch {
    SILT_ARCH_UNKNOWN = 0,
    SILT_ARCH_DIT,            // facebookresearch DiT layout
    SILT_ARCH_DIT_DIFFUSERS,  // diffusers DiTTransformer2DModel
    SILT_ARCH_MMDIT,          // SD3 original single-file layout
    SILT_ARCH_MMDIT_DIFFUSERS,  // diffusers SD3Transformer2DModel
    SILT_ARCH_UNET,           // SD1.x original (CompVis) layout
    SILT_ARCH_UNET_DIFFUSERS, // diffusers UNet2DConditionModel
    SILT_ARCH_VAE,            // AutoencoderKL, original layout
    SILT_ARCH_VAE_DIFFUSERS,  // AutoencoderKL, diffusers layout
    SILT_ARCH_VQVAE_VAR,      // VAR multi-scale VQ-VAE
    SILT_ARCH_VAR,            // VAR transformer
    SILT_ARCH_CLIP_TEXT,      // HF CLIPTextModel
    SILT_ARCH_COUNT
} silt_arch;

const char *silt_arch_name(silt_arch a);
int silt_arch_from_name(const char *name, silt_arch *out);  // 0 ok, -1 unknown

// Detects the architecture; `details` gets a short config description
// ("depth 28, hidden 1152, patch 2, 4 -> 8 channels, 1000 classes").
// `prefix` receives the key prefix to strip ("model.diffusion_model." or "").
silt_arch silt_arch_detect(const silt_safetensors *st, char *details, size_t n, const char **prefix);

#endif
