// SD3-style MMDiT (diffusers SD3Transformer2DModel; Esser et al. 2024,
// "Scaling Rectified Flow Transformers", sec. 4): joint attention over
// [image tokens, text tokens] with separate weights and adaLN per stream, a
// pooled-text + timestep conditioning vector, a last block whose context is
// "pre only" (AdaLayerNormContinuous, no context output), the stored
// pos_max x pos_max position table centre-cropped to the latent's patch grid,
// optional per-head QK RMS-norm (SD3.5) and SD3.5 dual attention (an extra
// image-only self-attention `attn2` in the leading blocks). Reference code:
// diffusers transformer_sd3.py, attention.py (JointTransformerBlock),
// attention_processor.py (JointAttnProcessor2_0), normalization.py;
// archs.md section 4.
//
// Checkpoints: the diffusers layout (`transformer_blocks.i.attn.to_q`, ...)
// and the original SD3 single-file layout (`joint_blocks.i.x_block.attn.qkv`,
// ..., usually under "model.diffusion_model."). The model keeps the diffusers
// names internally; the loader splits the original fused qkv rows [q; k; v]
// and swaps the original (shift, scale) halves of `final_layer` and the last
// context block's adaLN into diffusers' (scale, shift).
//
// Perturbations (core/perturb.h; METHODS.md section 2, guidance.md) touch only
// the joint attention `attn` of the layers they select (never `attn2`), and
// only the batch rows [row_begin, row_end). QK-norm stays on in every
// perturbed path. Per kind:
//  - IDENTITY (HeadHunter / SoftPAG): per head, over the whole joint sequence,
//    out_h = (1-u) Attn_h + u V_h (the attention op's head_u; no N x N map).
//  - IDENTITY_IMAGE (diffusers' PAGJointAttnProcessor2_0 /
//    PAGCFGJointAttnProcessor2_0): for the whole layer, an additive mask that
//    is -inf on the off-diagonal image-image block: an image query sees itself
//    and every text key, text queries are unchanged. u only selects layers.
//    Unlike diffusers' processor, QK-norm is applied (guidance.md 1.2). The
//    perturbed rows run through the attention op separately with one (L x L)
//    float mask per forward in the graph arena (L = N + Ttxt; 78 MB for SD3
//    at 1024^2).
//  - UNIFORM: out_h = (1-u) Attn_h + u mean_keys(V_h), keys = the joint
//    sequence (HeadHunter's "uniform" with @scale=u; u = 1 is plain uniform).
//  - SEG: the projected image queries (to_q output, before QK-norm, as the
//    diffusers SEG hook and SEG-SDXL blur them) are blurred with a Gaussian of
//    seg_sigma over the h x w token grid (SEG-SDXL kernel: size
//    ceil(6 sigma)+1 rounded to odd, clipped to each axis, reflect padding;
//    sigma > 9999.9 or INFINITY = the mean query); text queries are not
//    blurred. out_h = (1-u) Attn_h + u Attn_h(blurred Q) on the selected heads.
//  - SKIP (SLG): the perturbed rows skip every block with any u > 0 (both
//    streams pass through unchanged).
#ifndef SILT_DIT_MMDIT_H
#define SILT_DIT_MMDIT_H

#include <stdbool.h>

#include "core/graph.h"
#include "core/perturb.h"
#include "core/safetensors.h"

typedef enum mmdit_layout { MMDIT_LAYOUT_ORIGINAL, MMDIT_LAYOUT_DIFFUSERS, MMDIT_LAYOUT_COUNT } mmdit_layout;

const char *mmdit_layout_name(mmdit_layout l);  // "original", "diffusers"; "?" if out of range
silt_status mmdit_layout_from_name(const char *name, mmdit_layout *out);

typedef struct mmdit_config {
    mmdit_layout layout;  // the layout the checkpoint was read from
    int depth, heads, head_dim, hidden, patch, in_channels, out_channels;
    int joint_dim;   // text token width fed to context_embedder (4096 for SD3)
    int pooled_dim;  // pooled text width (2048 for SD3)
    int pos_max;     // the stored position table is pos_max x pos_max patches
    bool qk_norm;    // per-head RMSNorm (eps 1e-6) on q and k of both streams
    int n_dual;      // leading blocks with attn2 (SD3.5 dual attention)
} mmdit_config;

typedef struct mmdit_model mmdit_model;

// Detects the layout and prefix ("model.diffusion_model." or none) from the
// tensor names and the config from their shapes: depth from the block count,
// hidden/patch/in_channels from the patch embedding, pos_max from the
// position table, qk_norm from norm_q / ln_q, dual blocks from attn2. Heads =
// depth (every SD3 / SD3.5 checkpoint) unless the "config" JSON metadata has
// num_attention_heads. A missing, extra (under the prefix) or misshaped
// tensor fails with one message naming it. *out is set only on success.
//
// A silt training checkpoint (metadata format = "silt-train-checkpoint", as
// `gen train --arch mmdit` writes) loads too: its "ema.<name>" tensors when
// present (the EMA weights are what a run means by its result), else the
// plain <name> ones; "adam_m."/"adam_v." tensors are ignored. Such a file
// holds no position table (it is not trained): it is rebuilt from the
// "config" metadata (pos_embed_max_size, num_attention_heads), which it must
// have.
//
// Also recognises a `mmdit_save` file (diffusers layout, "config" metadata).
silt_status mmdit_load(const silt_safetensors *st, mmdit_model **out);
silt_status mmdit_load_file(const char *path, mmdit_model **out);  // open + load + close
void mmdit_free(mmdit_model *m);  // NULL-safe
const mmdit_config *mmdit_get_config(const mmdit_model *m);
// Moves every weight to `device` once, in place (as dit_to_device): SILT_CUDA
// models run forward only, on a CUDA graph with x, ctx and pooled on the
// device. SILT_CPU is a no-op for a CPU model; moving back is not supported.
silt_status mmdit_to_device(mmdit_model *m, silt_device device);
silt_device mmdit_device(const mmdit_model *m);  // where the weights are (SILT_CPU for NULL)

// --- training -------------------------------------------------------------------
// SILT_ERR_ARG naming the first bad field: every size >= 1, hidden = heads x
// head_dim, hidden a multiple of 4 (the 2D sin-cos table), n_dual <= depth.
silt_status mmdit_config_check(const mmdit_config *c);

// A freshly initialised model (diffusers layout), as DiT (Peebles & Xie 2023,
// models.py initialize_weights) and SD3 train from scratch: every linear
// (and the patch embedding, flattened to (D, C*p*p)) xavier-uniform with zero
// bias; the timestep and pooled-text MLPs N(0, 0.02); the adaLN modulation
// linears (norm1, norm1_context, norm_out) and proj_out zero (adaLN-Zero:
// every block starts as the identity and the output as 0); QK-norm weights 1.
// The position table is the fixed 2D sin-cos table of diffusers' PatchEmbed
// with pos_embed_max_size = pos_max (get_2d_sincos_pos_embed(D, pos_max,
// base_size = sample_size / patch, interpolation_scale 1), sample_size =
// pos_max * patch), so positions are the patch indices; it is not a
// parameter. Random draws: Philox, seed = `seed`, stream = parameter index.
// Parameters are f32 CPU tensors with requires_grad (they own grad buffers).
silt_status mmdit_create(const mmdit_config *c, uint64_t seed, mmdit_model **out);

// The trainable tensors (every one but the position table) in a fixed order,
// under their diffusers names; *no_decay marks biases and norm weights. NULL
// when i is out of range. Tensors of a loaded model do not own grad buffers.
int mmdit_param_count(const mmdit_model *m);
silt_tensor *mmdit_param(mmdit_model *m, int i, const char **name, bool *no_decay);

// The diffusers SD3Transformer2DModel config of c as JSON (what mmdit_save
// stores as "config" and mmdit_load reads): sample_size, patch_size,
// in_channels, out_channels, num_layers, attention_head_dim,
// num_attention_heads, joint_attention_dim, caption_projection_dim,
// pooled_projection_dim, pos_embed_max_size, qk_norm, dual_attention_layers.
// Returns the length written (snprintf semantics: >= n means truncated).
int mmdit_config_json(const mmdit_config *c, char *buf, size_t n);

// Writes every tensor (diffusers names, F32, the position table included)
// atomically (temporary file + rename; zstd when path ends in ".zst") with
// metadata "config" = mmdit_config_json and then meta_kv: NULL or a
// NULL-terminated list of key, value pairs. mmdit_load reads the file back
// bit-exactly.
silt_status mmdit_save(const mmdit_model *m, const char *path, const char *const *meta_kv);
// The same with the weights stored as `dtype` (SILT_ST_F32, or SILT_ST_F16 /
// SILT_ST_BF16, rounded to nearest even: half the file; mmdit_load widens
// them back to f32, so the loaded model is the rounded one).
silt_status mmdit_save_as(const mmdit_model *m, const char *path, const char *const *meta_kv, silt_st_dtype dtype);

// x (B, in_channels, H, W) latent, H and W multiples of patch with at most
// pos_max patches per side; t (B) = sigma*1000; ctx (B, Ttxt, joint_dim);
// pooled (B, pooled_dim); p: perturbation or NULL. Returns the velocity
// (B, out_channels, H, W), or NULL with the graph's status set.
silt_tensor *mmdit_forward(silt_graph *g, const mmdit_model *m, silt_tensor *x, const float *t, silt_tensor *ctx,
                           silt_tensor *pooled, const silt_perturb *p);

// The same, also handing out the image stream (B, N, D) after block
// tap_layer (0-based) in *tap: a graph node, so a loss on it trains the blocks
// up to there (REPA's alignment in gen train --repa). tap NULL: mmdit_forward.
silt_tensor *mmdit_forward_tap(silt_graph *g, const mmdit_model *m, silt_tensor *x, const float *t, silt_tensor *ctx,
                               silt_tensor *pooled, const silt_perturb *p, int tap_layer, silt_tensor **tap);

// One JointTransformerBlock (block `layer`) on its own, unperturbed, as
// diffusers' JointTransformerBlock.forward(hidden_states,
// encoder_hidden_states, temb): x (B, N, D) image tokens, ctx (B, T, D) text
// tokens after context_embedder, temb (B, D) the conditioning vector before
// the SiLU that every adaLN applies (mmdit_forward computes that SiLU once for
// all blocks). Returns the image stream (B, N, D) and sets *ctx_out to the
// text stream (B, T, D), or to NULL after the context_pre_only (last) block.
// For benchmarks and tests of one block. NULL at once if x, ctx or temb is
// NULL (as graph ops), and NULL with the graph's status set on a bad argument.
silt_tensor *mmdit_block_forward(silt_graph *g, const mmdit_model *m, int layer, silt_tensor *x, silt_tensor *ctx,
                                 silt_tensor *temb, silt_tensor **ctx_out);

// After mmdit_to_device(m, SILT_CUDA): the matrices of every linear layer
// (the blocks' adaLN, attention and MLP linears, the embedder MLPs,
// context_embedder, norm_out and proj_out; not the patch conv, the position
// table, QK-norm weights or biases) become bf16, so silt_linear runs bf16
// GEMMs with fp32 accumulation (as dit_weights_to_bf16). One way: the fp32
// weights are gone. SILT_ERR_ARG for a CPU model.
silt_status mmdit_weights_to_bf16(mmdit_model *m);

#endif
