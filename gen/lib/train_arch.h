// The architectures `gen train --arch NAME` can train. Each entry builds a
// silt_train_task with freshly initialised weights; adding a model is one
// line in the table (gen/lib/train_arch.c) plus its create function.
#ifndef SILT_TRAIN_ARCH_H
#define SILT_TRAIN_ARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "dit/mmdit.h"
#include "var/var.h"
#include "var/vqvae.h"
#include "world/suites.h"
#include "gen/lib/train.h"

// What `gen train` passes through to an architecture beyond the seed.
typedef struct silt_train_arch_opts {
    const char *clip_path;  // frozen text encoder (mmdit): a world-CLIP file, checkpoint or run dir; NULL: default
    const char *size;       // model size preset (mmdit: silt_train_mmdit_presets(); vq, var: tiny|small|default); NULL: "default"
    const char *vq_path;    // var: the frozen tokenizer (a `gen train --arch vq` model, checkpoint or run dir); ae: a start
    const char *ae_path;    // mmdit: train in this world autoencoder's latent (`gen train --arch ae --export`); NULL: pixels
    double repa_weight;     // mmdit: REPA alignment weight (silt_train_mmdit_set_repa); 0: off
    int repa_layer;         // mmdit: its block (-1: the default)
    bool decoder_only;      // ae: train the decoder only (silt_train_ae_freeze_encoder)
    double object_weight;   // ae: extra weight of object pixels (silt_train_ae_set_object_weight); 0: plain MSE
    bool clip_only;         // mmdit: condition on world-CLIP's tokens alone (no word channel)
    bool relation_channel;  // mmdit: + the relation channel (wclip_encode_context WCLIP_CTX_RELATION)
    double time_shift;      // mmdit: training sigma shift (silt_train_mmdit_set_time_shift); 0 or 1: none
    double pure_noise;      // mmdit: fraction of images at sigma 1 (silt_train_mmdit_set_pure_noise); 0: none
    const char *samples;    // mmdit, clip: harvested sample sets, comma-separated (silt_train_{mmdit,clip}_set_samples); NULL: none
    int sample_pairs;       // clip: pass/fail pairs per batch from samples (0: 16)
    bool sample_mirrors;    // clip: the samples mirrored too, relabelled by the evaluator
    double samples_fraction;  // mmdit: the fraction of images they replace (0: 0.5)
    const char *dpo;        // mmdit: labelled sets for preference optimisation (silt_train_mmdit_set_dpo); NULL: none
    const char *dpo_ref;    // mmdit: its frozen reference (the --init model)
    double dpo_beta;        // mmdit: its beta
    double dpo_cfg;         // mmdit: > 0: its errors on the CFG-guided velocity at this scale; 0: the conditional's
    const int *category_weights;  // mmdit, clip: WORLD_CAT_COUNT train-caption weights (silt_train_*_set_category_weights); NULL: default
    int hard_negatives;     // clip: false captions per image (silt_train_clip_set_hard_negatives); 0: none
    bool class_token;       // clip: the image tower pools by a class token (wclip_config.img_cls), not the mean
    int itm_layers;         // clip: a judge head of that many layers (wclip_config.itm_layers; needs hard_negatives); 0: none
} silt_train_arch_opts;

typedef struct silt_train_arch {
    const char *name;     // "toy"
    const char *summary;  // one line for --help
    // Fills *out (free with silt_train_task_free); init_seed picks the initial
    // weights (irrelevant on resume, where the checkpoint overwrites them).
    // opts may be NULL; an option the arch does not use is SILT_ERR_ARG.
    silt_status (*create)(uint64_t init_seed, const silt_train_arch_opts *opts, silt_train_task *out);
    bool gpu;  // its task has to_device: `gen train --device cuda` can train it
} silt_train_arch;

// Category weights of a world arch's train captions (mmdit, clip): checks
// them (world_train_item's ranges); *is_default when they are the defaults
// (nothing to record). Else aux gets the config member
// "aux_category_weights": [...] and the shares are logged, naming `arch`.
silt_status silt_train_category_weights_aux(const char *arch, const int weights[WORLD_CAT_COUNT], bool *is_default,
                                            char *aux, size_t n);

int silt_train_arch_count(void);
const silt_train_arch *silt_train_arch_at(int i);             // NULL when out of range
const silt_train_arch *silt_train_arch_find(const char *name);  // NULL when unknown
// "toy, clip, ..." into buf (for usage errors and --help); returns buf.
char *silt_train_arch_list(char *buf, size_t n);

// --- toy: a small MLP regression task ------------------------------------------
// Sample j of the run (j = batch_index * batch_size + i) has input x_j, in_dim
// standard normals from Philox stream j under data_seed, and target
// y_j = teacher(x_j), a fixed random tanh MLP (its weights come from a
// constant seed, so every run learns the same function). The student is
// Linear(in, hidden) -> tanh -> Linear(hidden, out), trained on the MSE.
// Because samples are indexed globally, K micro-batches of size B cover the
// same samples as one batch of size K*B.
typedef struct silt_train_toy_config {
    int in_dim, hidden, out_dim, teacher_hidden;
} silt_train_toy_config;

silt_train_toy_config silt_train_toy_default_config(void);  // 16 -> 64 -> 8, teacher hidden 32
// Parameters: net.0.weight (hidden, in), net.0.bias, net.2.weight (out, hidden),
// net.2.bias (biases exempt from weight decay).
silt_status silt_train_toy_create(const silt_train_toy_config *c, uint64_t init_seed, silt_train_task *out);

// --- clip: world-CLIP (text/world_clip.h) ----------------------------------------
// A micro-batch is B train-suite items (data_seed, batch_index * B + i),
// rendered at the model's image size in [-1, 1], with their tokenized
// captions; the loss is the symmetric InfoNCE. Parameters: wclip_param names.
// Batch size >= 2. `gen train --arch clip` uses wclip_default_config().
// Device runs (to_device): the whole model moves (wclip_to_device); images
// are rendered on the host and uploaded.
struct wclip_config;
silt_status silt_train_clip_create(const struct wclip_config *c, uint64_t init_seed, silt_train_task *out);
// Hard negatives (world-judge: a world-CLIP meant to judge a caption's
// relation, counts and colour binding, not only its bag of words; those
// trained so far learned colour binding but not relations, models/README.md):
// each image also gets k captions one edit away from its own that its scene
// does not satisfy (world_reqs_negative), from their own random stream of
// (data_seed, item index); they join the image's softmax over captions and
// have no column term (text/world_clip_ops.h). Recorded as
// "aux_hard_negatives" in the checkpoint config (a resume must match; --init
// from a plain world-CLIP is the intended start). Once, before training;
// 0 is a no-op. SILT_ERR_ARG outside 0..SILT_TRAIN_CLIP_MAX_HARD_NEGATIVES.
#define SILT_TRAIN_CLIP_MAX_HARD_NEGATIVES 16
silt_status silt_train_clip_set_hard_negatives(silt_train_task *task, int k);
// The train captions' categories drawn by these weights (world_train_item),
// e.g. more position captions for a judge of relations; as
// silt_train_mmdit_set_category_weights ("aux_category_weights"; the
// default weights are a no-op).
silt_status silt_train_clip_set_category_weights(silt_train_task *task, const int weights[WORLD_CAT_COUNT]);
// Labelled generated samples for the judge head (needs itm_layers): sample
// sets of `gen world harvest --all` (comma-separated; candidates with
// eval-suite captions dropped). Each batch adds pairs_per_batch pairs (a
// passed and a failed candidate of one item, with its caption) and the
// cross-entropy of the passed one among the two under the head's logits:
// the judge learns the generator's images, on which it is used, not only
// renders. "aux_samples", "aux_sample_pairs" in the config. SILT_ERR_ARG
// when no item has both verdicts. mirrors: each candidate also mirrored
// both ways, relabelled by the evaluator (silt_sample_set_add_mirrors),
// "aux_sample_mirrors".
#define SILT_TRAIN_CLIP_MAX_PAIRS 256
silt_status silt_train_clip_set_samples(silt_train_task *task, const char *paths, int pairs_per_batch, bool mirrors);

// --- mmdit: the world MMDiT (dit/mmdit.h), text-conditioned on a frozen world-CLIP --
// A micro-batch is B train-suite items world_suite_item(TRAIN, data_seed,
// j = batch_index * B + i), rendered at 32 x 32 in [-1, 1] (x0), their
// captions encoded by the frozen world-CLIP (ctx = the final-LN tokens
// (B, 16, width), pooled = the projected <eos> state (B, embed_dim); no
// gradient), each caption replaced by "" with probability 0.1
// (silt_train_batch_rng(data_seed, batch_index, 1)). Rectified flow as SD3
// (Esser et al. 2024, sec. 2-3; diffusers FlowMatchEulerDiscreteScheduler):
// s = sigmoid(n), n ~ N(0, 1) (logit-normal(0, 1), SD3's default), noise
// ~ N(0, I), x_s = (1 - s) x0 + s noise, the model sees t = 1000 s and
// predicts v; loss = mean((v - (noise - x0))^2). n is element 0 of
// silt_rng_normal stream j under seed data_seed ^ (0x9E3779B97F4A7C15 * 3),
// the noise (3, 32, 32) is stream j under data_seed ^ (0x9E3779B97F4A7C15 *
// 4) (the per-purpose keys of silt_train_batch_rng for purposes 2 and 3), so
// a sample depends on (data_seed, j) only and a resumed run is exact.
#define SILT_TRAIN_MMDIT_IMAGE 32       // world images, pixel space
#define SILT_TRAIN_MMDIT_CAPTION_DROP 0.1
#define SILT_TRAIN_MMDIT_DEFAULT_CLIP "models/world-clip.safetensors.zst"

// The size presets (patch:hidden:heads:depth, QK-norm on): "tiny" 4:32:2:2
// (tests), "small" 4:192:8:6, "default" 4:256:8:6 (in pixels; on a latent,
// silt_train_mmdit_preset_for, the presets take patch 1: the shipped model is
// 1:256:8:6 on the 8 x 8 latent); or
// any "P:D:H:L" (P dividing 32, D a multiple of H and of 4). joint_dim /
// pooled_dim come from the CLIP.
silt_status silt_train_mmdit_preset(const char *size, int joint_dim, int pooled_dim, mmdit_config *out);
// The same for a (channels, side, side) input: side 32 (pixels) takes 4 px
// patches in the presets, any other side (a latent: 8) 1 x 1 patches.
silt_status silt_train_mmdit_preset_for(const char *size, int joint_dim, int pooled_dim, int channels, int side,
                                        mmdit_config *out);
const char *silt_train_mmdit_presets(void);  // "tiny|small|default|P:D:H:L"

// clip_path: as silt_train_arch_opts (a run directory means its latest
// checkpoint); the CLIP's EMA weights when it is a trainer checkpoint.
silt_status silt_train_mmdit_create(const char *clip_path, const char *size, uint64_t init_seed,
                                    silt_train_task *out);
// Latent space: the same flow on z = (f - shift) * scale, f the frozen world
// autoencoder's latent of the render (B, Cvae, 8, 8) (ae_path: a `gen train
// --arch ae --export` file with silt.latent_shift / silt.latent_scale),
// encoded on a CPU graph without grad (uploaded on device runs). The
// checkpoint's config JSON gets "silt_latent": "world-ae" and the two
// numbers, which the export writes as metadata silt.latent,
// silt.latent_shift, silt.latent_scale for gen to decode with.
silt_status silt_train_mmdit_create_latent(const char *clip_path, const char *ae_path, const char *size,
                                           uint64_t init_seed, silt_train_task *out);
// The creators above condition on world-CLIP's tokens with the word channel
// (text/world_clip.h, wclip_encode_context: joint_dim = CLIP width + vocab +
// max_len); this one chooses (words: WCLIP_CTX_CLIP, CLIP's tokens alone as
// the models before it; WCLIP_CTX_WORDS; WCLIP_CTX_RELATION, + the relation
// channel, 2 wider) and takes ae_path NULL for pixels. A model may --init from
// an export with fewer channels (task init_narrower: new columns at zero).
silt_status silt_train_mmdit_create_ex(const char *clip_path, const char *ae_path, const char *size, int words,
                                       uint64_t init_seed, silt_train_task *out);
// REPA (Yu et al., "Representation Alignment for Generation", ICLR 2025) on a
// task from the creators here, before training: the loss gains
// weight * (1 - mean cos(proj(h), y)), h the image stream (B, N, D) after
// block `layer` (-1: depth / 3 - 1, the paper's ~0.3 of the depth), proj a
// D-D-E MLP with SiLU (training-only parameters "aux.repa.*"), y the frozen
// world-CLIP's patch tokens (B, N, E) of the clean render (its grid must be
// the model's token grid: 8 x 8 for the presets). The checkpoint config
// records weight and layer. SILT_ERR_ARG for a bad weight (0, 100] or layer.
silt_status silt_train_mmdit_set_repa(silt_train_task *task, double weight, int layer, uint64_t init_seed);
// Training sigmas (before training): the logit-normal(0, 1) draw of SD3,
// then shifted as the flow sampler shifts (sigma' = s sigma / (1 + (s - 1)
// sigma)), which moves the draws toward pure noise. There the layout is
// decided: at the world latent's 1024 values an object is visible through
// noise up to sigma ~0.9, which the unshifted draw exceeds 1.4% of the time,
// so the caption's relations are barely taught. Recorded in the config
// ("aux_time_shift"). shift in [1, 100]; 1 is the default, no shift.
silt_status silt_train_mmdit_set_time_shift(silt_train_task *task, double shift);
// The train captions' category mix (before training): relative integer
// weights per world_category (world_train_item), e.g. more position captions
// than the default 3 in 15. Recorded in the config ("aux_category_weights")
// unless they are the defaults. SILT_ERR_ARG for a weight outside
// 0..WORLD_TRAIN_WEIGHT_MAX, all zero, or a second call.
silt_status silt_train_mmdit_set_category_weights(silt_train_task *task, const int weights[WORLD_CAT_COUNT]);
// Pure-noise training (before training): a fraction of the images (0..0.5)
// get sigma 1 exactly, where the sampler starts. The shifted logit-normal
// draw almost never gets there (sigma > 0.99 about 2e-4 of the time at shift
// 3), so the model learns to read a layout out of the faint image in
// x_t and, from the sampler's pure noise, reads one out of the noise: at a
// seed every relation ("left of", "right of", "and") gives the same layout.
// At sigma 1 its best prediction is the caption's mean image (the zero
// terminal SNR argument of Lin et al. 2024 for flow matching). Recorded in
// the config ("aux_pure_noise").
silt_status silt_train_mmdit_set_pure_noise(silt_train_task *task, double fraction);
// Rejection-sampling fine-tuning: each training image is, with probability
// `fraction` (0, 1], a verified self-sample instead of a render, drawn
// uniformly from the sample sets `paths` names (comma-separated `gen world
// harvest` files, gen/lib/harvest.h; those whose caption is an eval-suite
// prompt dropped, SILT_ERR_ARG when none is left), with its caption; everything else
// (dropout, sigmas, noise, the latent encoding) as for a render. Recorded in
// the config ("aux_samples": the count, "aux_samples_fraction").
silt_status silt_train_mmdit_set_samples(silt_train_task *task, const char *paths, double fraction);
// Preference optimisation (Diffusion-DPO, Wallace et al. 2024, on the flow
// objective): each batch is --batch pairs of candidates of one caption from
// labelled sets (`gen world harvest --all`, comma-separated; eval-suite
// captions dropped), one the evaluator passed and one it failed, and the loss
// softplus(beta / 2 ((e_w - r_w) - (e_l - r_l))) of the model's and the frozen
// reference's per-image flow errors (the reference: ref_path, the model the
// run starts from). Renders and caption dropout are off. Not with samples,
// REPA, pure noise or category weights. Recorded in the config
// cfg > 0: the errors are of the guided velocity v_u + cfg (v_c - v_u) (the
// unconditional branch at the null caption; both trained, twice the work);
// 0: of the conditional velocity (Diffusion-DPO).
// ("aux_dpo_samples", "aux_dpo_beta", "aux_dpo_reference": a fingerprint;
// "aux_dpo_cfg" when > 0).
silt_status silt_train_mmdit_set_dpo(silt_train_task *task, const char *paths, const char *ref_path, double beta,
                                     double cfg);
// The clean images (B, 3, 32, 32) in [-1, 1] and the items (captions before
// dropout) of training batch batch_index: renders from the train sampler,
// some replaced by samples (above). What the step's loss trains on.
silt_status silt_train_mmdit_batch(const silt_train_task *task, uint64_t data_seed, int64_t batch_index, int B, float *x0,
                                   world_item *items);
// Whether image j is a pure-noise one under the Philox stream seed_p.
bool silt_train_mmdit_pure(uint64_t seed_p, int64_t j, double fraction);
// Image j's sigma under the Philox stream seed_t (the task's PURPOSE_TIME seed).
float silt_train_mmdit_sigma(uint64_t seed_t, int64_t j, double shift);
// The same with an explicit model config (joint_dim and pooled_dim are set
// from the CLIP); for benchmarks and experiments.
silt_status silt_train_mmdit_create_config(const char *clip_path, const mmdit_config *c, uint64_t init_seed,
                                           silt_train_task *out);

// Defaults stored in an exported model for `gen` to sample with.
typedef struct silt_mmdit_export_opts {
    int steps;       // silt.steps (20)
    double shift;    // silt.shift (1.0)
    double cfg;      // silt.cfg (4.0)
    double pag_scale;  // silt.pag_scale, gen's default --pag-scale for this model (NAN: none stored, gen uses 3)
    bool f16;        // store the weights as F16 (half the file; the model is the rounded weights)
} silt_mmdit_export_opts;
silt_mmdit_export_opts silt_mmdit_export_default_opts(void);

// Writes the model of a `gen train --arch mmdit` checkpoint (or a run
// directory's latest one) to out_path with mmdit_save: its EMA weights when
// it has them, with the metadata "silt.kind" = "world-mmdit",
// "silt.text_encoder" = "world-clip", "silt.sampler" = "flow_euler",
// "silt.steps", "silt.shift", "silt.cfg" and "silt.train" (the checkpoint's
// step and train_params).
silt_status silt_train_mmdit_export(const char *ckpt_or_dir, const char *out_path, const silt_mmdit_export_opts *o);

// --- world VAR sizing (measured 2026-11-27 on the 2-core build VM, batch 32) ----------
// The VM was shared (load average 3-11 from other jobs), so wall times were
// 2-4x the CPU times; the CPU time per step is the steadier figure:
//   vq  default (ch 32, V 512, Cvae 16)        ~1.1-1.7 CPU s/step  (OMP 2 passive: 2.6 s wall)
//   vq  small                                   ~0.4 CPU s/step
//   var default (depth 6, width 192, 3 heads)   ~1.9-2.2 CPU s/step (OMP 2 passive: ~7 s wall at load 10)
//   var small   (depth 4, width 128)            ~0.8 CPU s/step
// With both cores free (OMP_NUM_THREADS=2, ~1.7x) that is ~0.8 s/step for
// the tokenizer and ~1.2 s/step for the VAR, so ~90-minute runs are:
//   gen train --arch vq --steps 5000 --batch 32 --lr 1e-3 --lr-min 1e-5 --warmup 100 --beta2 0.99
//       --weight-decay 0 --clip 1 --ema 0.998 --ckpt-every 250 --out runs/vq_world
//   gen train --arch var --vq runs/vq_world --clip-model models/world-clip.safetensors.zst --steps 4000
//       --batch 32 --lr 5e-4 --lr-min 1e-5 --warmup 200 --beta2 0.95 --weight-decay 0.05 --clip 2
//       --ema 0.999 --ckpt-every 250 --out runs/var_world
// Measured in the third session (2026-11-27, VM shared with compiling helpers):
// the var default ran at 17-30 img/s, 2500 steps in 63 min (the shipped
// models/world-var); 4000 steps would be ~100 min on a quiet machine.
// (VAR: AdamW betas (0.9, 0.95), weight decay 0.05 and clip 2 as trainer.py;
// the official lr 1e-4 * bs / 256 is for 310M+ models over 200+ epochs.)
// then `gen train --arch vq --export runs/vq_world --out models/world-vq.safetensors`
// (same for var) and zstd -19. On a shared machine set OMP_WAIT_POLICY=passive:
// with the default spinning, 2 threads ran 10x slower than 1 at load 10.

// For exports: opens the checkpoint of a `gen train --arch ARCH` run (a file,
// or a run directory's latest) into *out; SILT_ERR_FORMAT naming the file when
// it is not a silt training checkpoint of that arch. path (n bytes) gets the file.
silt_status silt_train_open_checkpoint(const char *ckpt_or_dir, const char *arch, char *path, size_t n,
                                       struct silt_safetensors **out);
// The "silt.train" metadata of an export: {"step": S, "ema": true|false, <the
// checkpoint's train_params fields>}; ema_probe names a tensor whose "ema."
// copy shows EMA weights. *out is malloc'ed (caller frees).
silt_status silt_train_export_summary(const struct silt_safetensors *st, const char *ema_probe, char **out);

// --- vq: the world VAR tokenizer (var/vqvae.h) ------------------------------------------
// A micro-batch is B train-suite renders world_suite_item(TRAIN, data_seed,
// batch_index * B + i) at 32 x 32 in [-1, 1]; the loss is var_vq_train_loss
// (L2 reconstruction + codebook + commitment terms, beta 0.25, straight-
// through). Presets: "tiny" (tests: ch 8, V 64, Cvae 8), "small" (ch 16,
// V 256, Cvae 16), "default" (var_vq_world_config: ch 32, V 512, Cvae 16);
// all 32 px -> 8 x 8 (ch_mult 1,2,2), patch_nums 1,2,3,4,6,8, 4 phis.
// Checkpoints carry var_vq_config_json as "config".
// Before the loss of micro-batch j, when j % RESTART_EVERY == 0 and j <=
// RESTART_UNTIL, codes that batch does not use are restarted
// (var_vq_restart_dead_codes with seed data_seed ^ j; j = 0 is a data-
// dependent codebook init). Device runs (to_device): the tokenizer moves; the
// batch is rendered on the host and uploaded; the restarts run on the device
// and rewrite the dead codebook rows through a host copy.
#define SILT_TRAIN_VQ_IMAGE 32
#define SILT_TRAIN_VQ_BETA 0.25f
#define SILT_TRAIN_VQ_RESTART_EVERY 50
#define SILT_TRAIN_VQ_RESTART_UNTIL 3000
silt_status silt_train_vq_preset(const char *size, var_vq_config *out);
silt_status silt_train_vq_create(const char *size, uint64_t init_seed, silt_train_task *out);
// The tokenizer of a `gen train --arch vq` checkpoint (or run dir; EMA
// weights when present) to out_path with var_vq_save.
silt_status silt_train_vq_export(const char *ckpt_or_dir, const char *out_path);
// The EMA (else plain) weights of a clip checkpoint, or of a run dir's latest,
// as a wclip_save model file (zstd when out_path ends in ".zst").
silt_status silt_train_clip_export(const char *ckpt_or_dir, const char *out_path);

// --- ae: the world autoencoder (a latent space for the world MMDiT) ---------------------
// The world tokenizer's conv encoder and decoder (var/vqvae.h, the same
// presets and tensor names) without the quantiser: f = quant_conv(encoder(x)),
// a continuous (Cvae, 8, 8) latent for 32 px renders. A micro-batch is B
// train renders j = batch_index * B + i in [-1, 1]; the loss is
//   mse(decoder(post_quant_conv(f + LATENT_NOISE * n)), x) + LATENT_PENALTY * mean(f^2)
// with n ~ N(0, I) from Philox stream j under data_seed ^ (0x9E3779B97F4A7C15 * 5):
// the noise makes the decoder draw clean shapes from latents that are only
// close to an encoding (what a sampler produces), the penalty stops the
// encoder from outscaling the noise (a fixed-variance VAE's KL term, up to
// constants). The codebook and phi convs are kept (zero gradients, no decay),
// so the model file is a VQ-VAE file. opts->vq_path (`--vq`) warm-starts from
// a tokenizer of the same preset (the shipped world-vq by name).
#define SILT_TRAIN_AE_IMAGE 32
#define SILT_TRAIN_AE_LATENT_NOISE 0.03f
#define SILT_TRAIN_AE_LATENT_PENALTY 1e-4f
// Export: the latent's mean and standard deviation over the first
// SILT_AE_STATS_IMAGES train renders of seed SILT_AE_STATS_SEED, stored as
// "silt.latent_shift" = mean and "silt.latent_scale" = 1 / std (SD3's
// shift_factor / scaling_factor: z = (f - shift) * scale has unit variance).
#define SILT_AE_STATS_IMAGES 1024
#define SILT_AE_STATS_SEED 7
silt_status silt_train_ae_create(const char *init_path, const char *size, uint64_t init_seed, silt_train_task *out);
// Decoder-only training (`gen train --arch ae --decoder-only`): the encoder
// and quant_conv get no gradient and no decay, so they (and their EMA) stay
// bit-identical to the start, and so does the latent space: a latent MMDiT
// trained on the start's latents decodes through the result unchanged, with
// the same silt.latent_shift / silt.latent_scale on export. The loss is the
// reconstruction term alone (the penalty only moves the encoder). The config
// gets "aux_decoder_only": true. SILT_ERR_ARG for a task that is not ae.
silt_status silt_train_ae_freeze_encoder(silt_train_task *task);
// Object-weighted reconstruction (`gen train --arch ae --object-weight W`):
// pixels of an object, and one pixel around it, weigh 1 + W in the
// reconstruction loss, sum(w d^2) / sum(w). The config gets
// "aux_object_weight". SILT_ERR_ARG for a task that is not ae or W outside 0..1000.
silt_status silt_train_ae_set_object_weight(silt_train_task *task, double weight);
// The weights of that loss, (B, 3, 32, 32), and their sum, from the B renders' object coverage (B, 32, 32)
// (silt_train_render_batch_weighted's object_mask): 1 + W times the coverage grown by one pixel.
silt_status silt_ae_object_weights(const float *object_mask, int B, float object_weight, float *w, double *wsum);
silt_status silt_ae_latent_stats(const var_vqvae *ae, int n, double *mean, double *std);
// The EMA (else plain) weights of an ae checkpoint (or run dir) to out_path
// with var_vq_save_as: "silt.kind" = "world-ae" and the two latent numbers.
silt_status silt_train_ae_export(const char *ckpt_or_dir, const char *out_path);

// --- var: the world VAR (var/var.h), text-conditioned on a frozen world-CLIP ----------
// A micro-batch is B train-suite items j = batch_index * B + i: the render
// (32 px, [-1, 1]) tokenized by the frozen tokenizer (var_vq_encode ->
// idx (B, L); teacher-forcing input var_vq_idx_to_var_input), the caption
// encoded by the frozen world-CLIP (tokens (B, 16, width), pooled (B,
// embed_dim)), replaced by "" with probability 0.1
// (silt_train_batch_rng(data_seed, batch_index, 1)); the loss is the mean
// cross-entropy over all B L tokens of var_forward_text (VAR's trainer.py).
// The VAR's codebook size, Cvae and scales are the tokenizer's. Presets:
// "tiny" (tests: depth 1, width 32, 2 heads), "small" (depth 4, width 128,
// 2 heads), "default" (var_world_default_config: depth 6, width 192, 3
// heads; head_dim 64 as the official models). Checkpoints carry var_config_json as "config".
// Device runs (to_device): the transformer and the frozen tokenizer move
// (the tokenization runs there, its indices come back as the targets); the
// frozen world-CLIP stays on the cpu and its tokens and pooled vectors are
// uploaded each micro-batch (as the mmdit task does).
#define SILT_TRAIN_VAR_IMAGE 32
#define SILT_TRAIN_VAR_CAPTION_DROP 0.1
#define SILT_TRAIN_VAR_DEFAULT_VQ "models/world-vq.safetensors.zst"
silt_status silt_train_var_preset(const char *size, var_config *inout);  // sets the transformer fields
silt_status silt_train_var_create(const char *vq_path, const char *clip_path, const char *size, uint64_t init_seed,
                                  silt_train_task *out);
// The transformer of a `gen train --arch var` checkpoint (or run dir; EMA
// weights when present) to out_path with var_save_ex (+ "silt.train", and
// "silt.cfg" = *cfg, gen's default CFG scale for it, unless cfg is NULL).
silt_status silt_train_var_export(const char *ckpt_or_dir, const char *out_path, const double *cfg);

// The batch of the world trainers (ae, vq, var, mmdit): train-suite items
// j0 .. j0 + B - 1 (world_suite_item(TRAIN, data_seed, j)) rendered at S px
// into x (B, 3, S, S) in [-1, 1], and the items themselves into items[B]
// (their captions) when items is non-NULL. The images render in parallel
// (OpenMP): a GPU run's host side is mostly this. Each image is a pure
// function of (data_seed, j), so the bytes do not depend on the thread
// count. A failure returns the first failing item's error.
silt_status silt_train_render_batch(uint64_t data_seed, int64_t j0, int B, int S, float *x, world_item *items);
// The same from the train sampler with other category weights (world_train_item; NULL: the defaults),
// and, when object_mask is non-NULL, each image's objects' coverage from the same render (B, S, S): the
// union of world_render's masks, in [0, 1].
silt_status silt_train_render_batch_weighted(uint64_t data_seed, int64_t j0, int B, int S, const int *weights, float *x,
                                             world_item *items, float *object_mask);

#endif
