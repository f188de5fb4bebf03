// Text/class-to-image pipeline for DiT and MMDiT checkpoints: load the model
// (and VAE), draw the initial noise, run a sampler (sample/sample.h) with
// guidance (guidance/guidance.h) between the model calls, decode, make
// images. Orchestration only: the math lives in the models, the samplers and
// guidance.
//
//   silt_txt2img *t;  silt_txt2img_load("dit.safetensors", "vae.safetensors", &t);
//   silt_txt2img_params p = silt_txt2img_default_params(t);
//   p.class_id = 207;  p.seed = 1;
//   silt_image *im;  silt_txt2img_run(t, &p, &im, NULL);
#ifndef SILT_TXT2IMG_H
#define SILT_TXT2IMG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/image.h"
#include "core/status.h"
#include "gen/lib/arch.h"
#include "guidance/guidance.h"
#include "sample/sample.h"

typedef enum silt_family {
    SILT_FAMILY_DIT = 0,  // class-conditional DiT (eps prediction)
    SILT_FAMILY_MMDIT,    // SD3-style MMDiT (flow velocity, text embeddings)
    SILT_FAMILY_COUNT
} silt_family;

const char *silt_family_name(silt_family f);  // "dit", "mmdit"
silt_status silt_family_from_name(const char *name, silt_family *out);

typedef struct silt_txt2img silt_txt2img;

// What was loaded, for defaults, validation and the PNG parameters.
typedef struct silt_txt2img_info {
    silt_family family;
    silt_arch arch;
    int depth, heads;          // attention layers x heads (what head specs index)
    int latent_channels;       // model input channels
    int patch;
    int num_classes;           // DiT: real classes (null id = num_classes); 0 for MMDiT
    int joint_dim, pooled_dim; // MMDiT text widths
    bool has_vae;
    int downscale;             // pixels per latent cell (1 without a VAE)
    int native_width, native_height;  // pixels: DiT input_size; MMDiT pos_max/3 patches (SD3: 1024)
} silt_txt2img_info;

// Detects the architecture (gen/lib/arch.h) and loads a DiT or MMDiT, plus the
// VAE when vae_path is non-NULL. Errors (one message): an unsupported
// architecture; a --vae file that is not a VAE, or whose latent channels
// differ from the model's; a model whose latents are not 3-channel images
// without a VAE ("this model makes N-channel latents: pass --vae").
// SILT_ERR_ARG for what the user picked wrong, file errors otherwise.
silt_status silt_txt2img_load(const char *model_path, const char *vae_path, silt_txt2img **out);
void silt_txt2img_free(silt_txt2img *t);  // NULL-safe
const silt_txt2img_info *silt_txt2img_get_info(const silt_txt2img *t);

typedef struct silt_txt2img_params {
    int width, height;              // pixels; 0 = native
    int class_id;                   // DiT: 0..num_classes-1
    const char *text_embeds;        // MMDiT: safetensors with prompt_embeds (1,T,joint_dim),
                                    // pooled_prompt_embeds (1,pooled_dim) and the negative_ pair
    silt_sampler_params sampler;    // family default: DiT ddim 50, MMDiT flow_euler shift 3, 28 steps
    guide_params guide;             // family default: cfg 4 (DiT), 7 (MMDiT, diffusers SD3)
    const guide_heads *heads;       // NULL or empty: the mode's default heads
    uint64_t seed;
    int batch;                      // images per run; image b uses Philox stream b of the seed
    bool progress;                  // progress bar on stderr
    // Optional, caller-owned (B, C, H/ds, W/ds) buffers: the initial N(0,1)
    // noise (before init_noise_sigma) and the final latent in model space
    // (before the VAE's unscale), for reproductions and parity checks.
    float *noise_out, *latent_out;
} silt_txt2img_params;

silt_txt2img_params silt_txt2img_default_params(const silt_txt2img *t);

// What a run resolved, for the PNG parameters.
typedef struct silt_txt2img_report {
    char heads[256];                // the perturbed heads as a canonical spec ("" when none)
    guide_identity identity;        // resolved MMDiT identity (pag/softpag)
    int width, height;              // pixels produced
    int model_rows;                 // model rows evaluated over the run (NFE x batch)
    double seconds;                 // sampling + decoding
} silt_txt2img_report;

// Runs one batch: images[0..batch) receive new images (caller frees each with
// silt_image_free). report may be NULL. On failure nothing is returned.
silt_status silt_txt2img_run(silt_txt2img *t, const silt_txt2img_params *p, silt_image **images,
                             silt_txt2img_report *report);

#endif
