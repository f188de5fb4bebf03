// AutoencoderKL: the VAE of Stable Diffusion 1.x/2.x/XL (4 latent channels)
// and SD3 (16 latent channels, no quant convs).
//
// Architecture: diffusers models/autoencoders/vae.py (Encoder, Decoder) and
// autoencoder_kl.py; LDM ldm/modules/diffusionmodules/model.py is the same
// network under other names (see /work/shared/reference/archs.md section 2).
//
// Loading reads the diffusers layout (optionally with the old attention names
// query/key/value/proj_attn) and the original LDM layout, bare or under the
// prefix "first_stage_model." (SD single files) or "vae.". The configuration
// comes from tensor shapes (block_out_channels, layers_per_block, latent and
// image channels, quant convs present or not) plus the file's "config" JSON
// metadata when there is one (norm_num_groups, default 32; scaling_factor and
// shift_factor, defaults by latent channels: 4 -> 0.18215 / 0, 16 -> 1.5305 /
// 0.0609; mid_block_add_attention, default true).
//
// The forward passes are graph ops (core/graph.h), differentiable, with every
// activation in the graph's arena. When no gradient is needed the
// GroupNorm->SiLU pairs and the residual adds run in place, which roughly
// halves the arena high water of a 512x512 decode.
#ifndef SILT_UNET_VAE_H
#define SILT_UNET_VAE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/graph.h"
#include "core/safetensors.h"

typedef enum vae_layout { VAE_LAYOUT_ORIGINAL, VAE_LAYOUT_DIFFUSERS, VAE_LAYOUT_COUNT } vae_layout;
const char *vae_layout_name(vae_layout l);  // "original", "diffusers"
silt_status vae_layout_from_name(const char *name, vae_layout *out);

#define VAE_MAX_BLOCKS 8

typedef struct vae_config {
    vae_layout layout;
    int in_channels;      // image channels (3); the decoder's output has as many
    int latent_channels;  // z channels (4 SD, 16 SD3); the encoder emits 2x (mean | logvar)
    int n_blocks;         // len(block_out_channels)
    int layers_per_block; // resnets per encoder level; the decoder has one more
    int groups;           // GroupNorm groups (norm_num_groups)
    int block_out[VAE_MAX_BLOCKS];
    bool quant_conv, post_quant_conv, has_encoder, has_decoder;
    float scaling_factor, shift_factor;
    int downscale;  // 2^(n_blocks-1)
} vae_config;

typedef struct vae_model vae_model;

// Detects layout, prefix and config, then loads every tensor as owned f32.
// A missing, extra or misshaped tensor is one error naming the first
// offending tensor; a file with no VAE in it (e.g. a DiT) is one error
// saying so. *out is set only on success.
silt_status vae_load(const silt_safetensors *st, vae_model **out);
void vae_free(vae_model *m);  // NULL-safe
const vae_config *vae_get_config(const vae_model *m);
// Moves the weights to the device, once, in place (cpu -> cuda only; a move
// back fails, SILT_ERR_UNSUPPORTED). Encode and decode then take inputs on
// that device, on a graph of that device.
silt_status vae_to_device(vae_model *m, silt_device device);
silt_device vae_device(const vae_model *m);  // SILT_CPU for NULL
// The prefix the weights were found under: "", "first_stage_model." or "vae.".
const char *vae_get_prefix(const vae_model *m);

// img: (B, in_channels, H, W) in [-1, 1] -> posterior mean (B, latent, H/ds, W/ds),
// unscaled. *logvar_out (same shape, clamped to [-30, 20]) when non-NULL.
// H and W must be multiples of downscale (SILT_ERR_SHAPE naming the sizes).
// NULL on failure (graph status set; *logvar_out set to NULL).
silt_tensor *vae_encode(silt_graph *g, const vae_model *m, silt_tensor *img, silt_tensor **logvar_out);

// z: (B, latent, h, w), unscaled (the pipeline applies z / scale + shift
// first, see vae_unscale_latent) -> image (B, in_channels, h*ds, w*ds) in
// about [-1, 1]. A wrong channel count fails naming expected vs got.
silt_tensor *vae_decode(silt_graph *g, const vae_model *m, silt_tensor *z);

// Overrides scaling_factor / shift_factor, for files whose widths match SD or
// SD3 but whose factors differ and that carry no config metadata (SDXL
// 0.13025 / 0; FLUX 0.3611 / 0.1159). SILT_ERR_ARG for a zero or non-finite scale.
silt_status vae_set_scaling(vae_model *m, float scaling_factor, float shift_factor);

// Latent <-> model space, in place over n floats.
void vae_scale_latent(const vae_model *m, float *z, int64_t n);    // (z - shift) * scale
void vae_unscale_latent(const vae_model *m, float *z, int64_t n);  // z / scale + shift

#endif
