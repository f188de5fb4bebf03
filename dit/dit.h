// DiT: class-conditional diffusion transformer (Peebles & Xie 2023), as in
// facebookresearch/DiT models.py (ed81ce2) and diffusers'
// DiTTransformer2DModel. Both checkpoint layouts load and each is reproduced
// as its reference computes it; they differ numerically by design
// (archs.md section 1, tests/golden/README.md cases 1-2):
//   - timestep sinusoid: the original divides the exponent by half = 128,
//     diffusers by half - 1 = 127 (downscale_freq_shift 1);
//   - pre-MLP LayerNorm eps: original 1e-6, diffusers norm3 1e-5 (norm_eps);
//   - diffusers gives every block its own timestep + class embedder
//     (norm1.emb); the final layer uses block 0's. Public conversions store
//     identical copies; the loader shares copies that are bit-identical, so
//     real checkpoints pay for one.
//
// Attention perturbations (core/perturb.h) act on the self-attention of each
// block, for batch rows [row_begin, row_end) only:
//   IDENTITY (and IDENTITY_IMAGE, which only MMDiT distinguishes):
//       out_h = (1-u) Attn_h + u V_h (SoftPAG; u = 1 is PAG);
//   UNIFORM: out_h = (1-u) Attn_h + u mean_tokens(V_h);
//   SEG: out_h = (1-u) Attn_h(Q) + u Attn_h(blur(Q)) with Q blurred over the
//       h x w token grid (Gaussian, sigma = seg_sigma; sigma > 9999 or
//       INFINITY: the mean query), as SEG-SDXL pipeline_seg.py does (u = 1
//       there): kernel k = ceil(6 sigma) + 1 rounded down to odd, clipped to
//       the grid side (n + 1 for even n, n for odd n), normalised
//       exp(-x^2 / 2 sigma^2) over x = -(k-1)/2 .. (k-1)/2, separable,
//       reflect padding k/2. Our choice: the clip is per axis (the original
//       clips both axes by the width; the same on square grids);
//   SKIP: the perturbed rows skip every block that has any u > 0 (SLG).
#ifndef SILT_DIT_DIT_H
#define SILT_DIT_DIT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/graph.h"
#include "core/perturb.h"
#include "core/safetensors.h"

typedef enum dit_layout { DIT_LAYOUT_ORIGINAL, DIT_LAYOUT_DIFFUSERS, DIT_LAYOUT_COUNT } dit_layout;

const char *dit_layout_name(dit_layout l);  // "original", "diffusers"
silt_status dit_layout_from_name(const char *name, dit_layout *out);

typedef struct dit_config {
    dit_layout layout;
    int depth, hidden, heads, patch, in_channels, out_channels;
    int input_size;   // latent H = W the model was trained at (sets the position table)
    int num_classes;  // real classes; the null (unconditional) class id is num_classes
    int mlp_hidden;
    bool learn_sigma;  // out_channels == 2 * in_channels: [eps | variance value]
    // Channels classifier-free guidance combines: the original forward_with_cfg
    // guides the first 3 only ("for exact reproducibility"); diffusers' DiTPipeline
    // guides all in_channels.
    int guided_channels;
} dit_config;

typedef struct dit_model dit_model;

// Loads a DiT from a checkpoint. The layout is detected from the names
// (x_embedder.* = original, pos_embed.proj.* = diffusers), under the prefix ""
// or "model.diffusion_model."; depth, hidden, patch, channels, classes and MLP
// width come from the shapes; the head count from the "config" JSON metadata
// (num_heads / num_attention_heads), else the standard table (hidden 1152 and
// 1024 -> 16, 768 -> 12, 384 -> 6). input_size comes from the original's
// pos_embed, or diffusers' config sample_size (default 32). Every tensor is
// checked: one error names the first missing, misshaped or unexpected one.
silt_status dit_load(const silt_safetensors *st, dit_model **out);
void dit_free(dit_model *m);  // NULL-safe
const dit_config *dit_get_config(const dit_model *m);

// Moves every weight to `device` once, in place (SILT_CUDA; SILT_CPU is a
// no-op for a CPU model, and moving back is not supported). A CUDA model runs
// forward only, on a graph from silt_graph_create_on(SILT_CUDA, ...) with x on
// the device; dit_param still lists the (device) tensors. Weights lose their
// grad buffers (inference). Fails with SILT_ERR_UNSUPPORTED without a GPU.
silt_status dit_to_device(dit_model *m, silt_device device);
silt_device dit_device(const dit_model *m);  // where the weights are (SILT_CPU for NULL)
// After dit_to_device(m, SILT_CUDA): the matrices of every linear layer
// (blocks, embedder MLPs, final layer; not the patch conv, class table or
// biases) become bf16, so silt_linear runs bf16 GEMMs with fp32 accumulation
// (activations stay fp32 and are rounded to bf16 at each GEMM input). Halves
// weight memory; ~3 significant digits. SILT_ERR_ARG for a CPU model.
silt_status dit_weights_to_bf16(dit_model *m);

// A model with random weights (for benchmarks and tests): every parameter
// normal, std clamp(fan_in^-1/2, 0.02, 0.2) for matrices and 0.02 for biases
// and tables, from Philox (seed). cfg->heads must divide hidden; depth,
// hidden, patch, channels, input_size, num_classes, mlp_hidden >= 1 (hidden
// even and divisible by 4 for the sin-cos tables). The diffusers layout gets
// one shared embedder (as in converted checkpoints).
silt_status dit_create_random(const dit_config *cfg, uint64_t seed, dit_model **out);

// One forward pass.
// x (B, in_channels, H, W) latent on the model's device (and the graph's), H and W multiples of patch (the original
// layout needs H = W = input_size: its position table is a stored parameter);
// t (B) timesteps as the model is fed (original index 0..999, float);
// y (B) class ids in [0, num_classes] (num_classes = null / unconditional);
// p: an attention perturbation or NULL. Returns (B, out_channels, H, W), or
// NULL with the graph's status set.
silt_tensor *dit_forward(silt_graph *g, const dit_model *m, silt_tensor *x, const float *t, const int32_t *y,
                         const silt_perturb *p);

// Parameter access for training and tests: the model's i-th parameter tensor
// and its internal name (the reference key; a diffusers q/k/v triple is held
// fused as "transformer_blocks.i.attn1.to_qkv.weight" rows [q; k; v]).
int dit_param_count(const dit_model *m);
silt_tensor *dit_param(const dit_model *m, int i, const char **name);

#endif
