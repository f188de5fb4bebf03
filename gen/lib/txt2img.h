// Text/class-to-image pipeline for DiT and MMDiT checkpoints: load the model
// (and VAE), draw the initial noise, run a sampler (sample/sample.h) with
// guidance (guidance/guidance.h) between the model calls, decode, make
// images. An MMDiT whose metadata says silt.text_encoder = world-clip (the
// built-in world model, issue 4) encodes its prompts itself with the frozen
// world-CLIP text tower. VAR checkpoints (next-scale prediction) take the same load/run calls:
// the transformer plus its VQ-VAE tokenizer as the "VAE", sampled by
// var_generate (var/var.h). Orchestration only: the math lives in the models,
// the samplers and guidance.
//
//   silt_txt2img *t;  silt_txt2img_load("dit.safetensors", "vae.safetensors", NULL, &t);
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
#include "text/world_clip.h"
#include "var/search.h"
#include "var/search_world.h"
#include "var/var.h"

typedef enum silt_family {
    SILT_FAMILY_DIT = 0,  // class-conditional DiT (eps prediction)
    SILT_FAMILY_MMDIT,    // SD3-style MMDiT (flow velocity, text embeddings)
    SILT_FAMILY_VAR,      // VAR (next-scale token prediction, VQ-VAE decoder): class-conditional, or
                          // text-conditional on world-CLIP (the world VAR, a world model)
    SILT_FAMILY_COUNT
} silt_family;

const char *silt_family_name(silt_family f);  // "dit", "mmdit", "var"
silt_status silt_family_from_name(const char *name, silt_family *out);

typedef struct silt_txt2img silt_txt2img;

// What was loaded, for defaults, validation and the PNG parameters.
typedef struct silt_txt2img_info {
    silt_family family;
    silt_arch arch;
    int depth, heads;          // attention layers x heads (what head specs index)
    int latent_channels;       // model input channels (VAR: the tokenizer width Cvae)
    int patch;                 // 1 for VAR
    int num_classes;           // DiT, VAR: real classes (null id = num_classes); 0 for MMDiT
    int joint_dim, pooled_dim; // MMDiT text widths
    int vocab_size, n_scales;  // VAR: codebook size V, scales K
    int patch_nums[VAR_MAX_SCALES];  // VAR: token side of each scale
    bool has_vae;              // VAR: the VQ-VAE tokenizer, always loaded
    int downscale;             // pixels per latent cell (1 without a VAE)
    int native_width, native_height;  // pixels: DiT input_size; MMDiT pos_max/3 patches (SD3: 1024);
                                      // VAR: last scale x tokenizer downsample (the only size it makes)
    bool world_text;           // MMDiT conditioned on world-CLIP prompts (metadata silt.text_encoder = world-clip),
                               // or a text-conditioned VAR (the world VAR: text_pool_proj instead of class_emb)
    char clip_path[512];       // world_text: the world-CLIP file loaded
    char vae_path[512];        // a latent world MMDiT: the world autoencoder file loaded (else "")
} silt_txt2img_info;

// Detects the architecture (gen/lib/arch.h) and loads a DiT or MMDiT, plus the
// VAE when vae_path is non-NULL, or a VAR transformer plus the VAR VQ-VAE
// that vae_path must name (its scales are set to the transformer's). Errors
// (one message): an unsupported architecture; a --vae file that is not a VAE
// (for VAR: not a VAR VQ-VAE), or whose latent channels differ from the
// model's (VAR: var_check_vqvae's codebook size / width message); a model
// whose latents are not 3-channel images without a VAE ("this model makes
// N-channel latents: pass --vae"); a VAR without --vae.
// SILT_ERR_ARG for what the user picked wrong, file errors otherwise.
//
// World models (MMDiT metadata silt.text_encoder = "world-clip"): the
// world-CLIP is loaded from clip_path, or when it is NULL the built-in
// world-clip.safetensors.zst (gen/lib/models.h); its text width and embedding
// size must be the MMDiT's joint_dim and pooled_dim. The metadata's
// silt.sampler, silt.steps, silt.shift, silt.cfg and silt.pag_scale become the defaults of
// silt_txt2img_default_params (a bad value: SILT_ERR_FORMAT naming the key).
// clip_path must be NULL for every other model; an unknown
// silt.text_encoder is SILT_ERR_UNSUPPORTED. A latent world MMDiT (metadata
// silt.latent = "world-ae" with silt.latent_shift / silt.latent_scale, or a
// latent training checkpoint) decodes with the world autoencoder vae_path
// names, or the built-in world-ae.safetensors.zst when it is NULL.
silt_status silt_txt2img_load(const char *model_path, const char *vae_path, const char *clip_path, silt_txt2img **out);
void silt_txt2img_free(silt_txt2img *t);  // NULL-safe
const silt_txt2img_info *silt_txt2img_get_info(const silt_txt2img *t);
// The world-CLIP of a world model (NULL for other models), e.g. to score the
// images it makes.
const wclip_model *silt_txt2img_clip(const silt_txt2img *t);

// Where the model runs (default SILT_CPU). SILT_CUDA uploads the weights once.
// DiT / MMDiT: the model, the sampler steps, guidance and the decoder (VAE or
// world autoencoder) run there, the latents staying on the device until the
// image comes back (a world model's prompt is encoded on the CPU). VAR: the transformer
// and its VQ tokenizer move (var_to_device, var_vq_to_device) and
// var_generate runs there, KV caches included; each scale's logits come back
// for the sampler, which stays on the CPU, and the image at the end; a
// world VAR's prompts are encoded by world-CLIP on the CPU, as are a
// search's rewards. No GPU: SILT_ERR_UNSUPPORTED. Moving back to the CPU is
// not supported.
silt_status silt_txt2img_set_device(silt_txt2img *t, silt_device device);
silt_device silt_txt2img_device(const silt_txt2img *t);

// The arithmetic of the model on cuda (after silt_txt2img_set_device):
// FP32 (the default: fp32 everywhere, TF32 off; matches the CPU to ~1e-5);
// TF32 (TF32 tensor-core GEMMs and convolutions, process-wide:
// silt_cuda_set_allow_tf32); BF16 (DiT / MMDiT only: bf16 linear weights,
// the linears' inputs written as bf16, fp32 accumulation, the residual stream
// fp32, attention on the bf16 tensor-core kernel; one way, for this
// process). Not FP32 on the CPU or for a VAR in BF16: SILT_ERR_UNSUPPORTED.
typedef enum silt_precision { SILT_PRECISION_FP32 = 0, SILT_PRECISION_TF32, SILT_PRECISION_BF16 } silt_precision;
// "fp32", "tf32", "bf16", NULL: the names in enum order (the CLI's choices).
extern const char *const silt_precision_names[];
silt_status silt_txt2img_set_precision(silt_txt2img *t, silt_precision precision);

typedef struct silt_txt2img_params {
    int width, height;              // pixels; 0 = native
    int class_id;                   // DiT, VAR: 0..num_classes-1
    const char *text_embeds;        // MMDiT: safetensors with prompt_embeds (1,T,joint_dim),
                                    // pooled_prompt_embeds (1,pooled_dim) and the negative_ pair
    // World models: the prompt of every image, or prompts[b] for image b when
    // prompts is set, and the negative prompt for the CFG row (default "", the
    // caption-dropout "null" caption the model was trained with). Words
    // outside the world's vocabulary are dropped (txt_world_tokenize lists
    // them: callers warn); the rest becomes wclip_tokenize ids, and
    // wclip_encode_text's tokens (B, 16, width) and pooled (B, embed_dim) are
    // the context and pooled inputs, as in training.
    const char *prompt;
    const char *const *prompts;
    const char *negative;
    silt_sampler_params sampler;    // family default: DiT ddim 50, MMDiT flow_euler shift 3, 28 steps
    guide_params guide;             // family default: cfg 4 (DiT), 7 (MMDiT, diffusers SD3);
                                    // VAR reads only mode (none or cfg; none = var.cfg 0)
    var_sample_params var;          // VAR: cfg, top_k, top_p (default 1.5, 900, 0.96: the official
                                    // FID setting); its seed and token_fn are the pipeline's (seed below)
    const guide_heads *heads;       // NULL or empty: the mode's default heads
    uint64_t seed;
    int batch;                      // images per run; image b uses Philox stream b of the seed
    const uint64_t *seeds;          // optional (batch): image b's initial noise is stream 0 of seeds[b]
                                    // instead, the noise a batch-1 run with seed seeds[b] draws
    bool progress;                  // progress bar on stderr
    // Optional, caller-owned (B, C, H/ds, W/ds) buffers: the initial N(0,1)
    // noise (before init_noise_sigma) and the final latent in model space
    // (before the VAE's unscale), for reproductions and parity checks. Not
    // for VAR (no noise, no latent; SILT_ERR_ARG when set).
    float *noise_out, *latent_out;
    // World VAR only: test-time search (var/search.h) per image, NULL or kind
    // none for plain sampling. The pipeline fills in the reward (search_reward
    // against image b's prompt) and the clustering features (the model's
    // world-CLIP patch tokens). A search runs each image alone with sampler
    // seed seeds[b] (when set) or seed + b. search->trace, when set, receives
    // batch x (K x N) rewards, image b's at trace + b K N.
    // The world MMDiT takes best-of-n (the others are VAR's): candidate k of
    // image b starts from stream k of seeds[b] (when set), else stream b + k B
    // of the seed (candidate 0 is the plain image); the best by the reward is
    // returned (report->search_pick says which).
    const var_search_params *search;
    var_reward_kind search_reward;  // default eval (world-eval soft score)
    const wclip_model *search_judge;  // reward judge: the world-judge that scores (caller-owned)
} silt_txt2img_params;

// Family defaults; for world models the metadata's silt.* values override them.
silt_txt2img_params silt_txt2img_default_params(const silt_txt2img *t);

#define SILT_TXT2IMG_MAX_PICKS 64
// What a run resolved, for the PNG parameters.
typedef struct silt_txt2img_report {
    char heads[256];                // the perturbed heads as a canonical spec ("" when none)
    guide_identity identity;        // resolved MMDiT identity (pag/softpag)
    int width, height;              // pixels produced
    int model_rows;                 // model rows evaluated over the run (NFE x batch; VAR: scales x rows)
    double seconds;                 // sampling + decoding
    // VAR compute over the run (search.h's var_compute; plain sampling too;
    // zero for other models).
    var_compute compute;
    double search_reward;           // mean reward of the returned images (NAN when not scored)
    // World MMDiT best-of-n: candidates per image, and which one each of the
    // first SILT_TXT2IMG_MAX_PICKS images kept (0: the plain image).
    int search_candidates;
    int search_pick[SILT_TXT2IMG_MAX_PICKS];
} silt_txt2img_report;

// Runs one batch: images[0..batch) receive new images (caller frees each with
// silt_image_free). report may be NULL. On failure nothing is returned.
silt_status silt_txt2img_run(silt_txt2img *t, const silt_txt2img_params *p, silt_image **images,
                             silt_txt2img_report *report);

#endif
