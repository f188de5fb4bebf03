// VAR: the class-conditional next-scale prediction transformer (Tian et al.
// 2024), ported from FoundationVision/VAR @ 78b9539 models/var.py and
// basic_var.py. Weight names are that code's state-dict keys, as
// tools/pth2safetensors.py converts var_d{16,20,24,30}.pth (and d36-s).
//
// Sequence: L = sum pn_k^2 tokens over K scales (var_vq.h for the token
// layout). Token 0..first_l-1 is the start token sos = class_emb[label] +
// pos_start; the others are word_embed(next-scale inputs, Cvae wide). Every
// token adds lvl_embed[scale of the token] + pos_1LC[position].
// Block (AdaLNSelfAttn), with cond = class_emb[label] (B, C):
//   (g1, g2, s1, s2, b1, b2) = ada_lin(SiLU(cond)) chunked in that order
//     (shared_aln: ada_gss + shared_ada_lin(SiLU(cond)), the d36-s layout)
//   x = x + g1 * Attn(LN(x) (1 + s1) + b1)
//   x = x + g2 * FFN(LN(x) (1 + s2) + b2)
// LN without affine parameters, eps 1e-6; FFN = fc2(GELU_tanh(fc1 x)).
// Attn: qkv = x W_qkv^T + [q_bias; 0; v_bias] (mat_qkv has no bias of its
// own), heads of C/H; with attn_l2_norm (the release) q = normalize(q) *
// exp(min(scale_mul_1H11, ln 100)) per head, k = normalize(k), softmax scale
// 1; without it the scale is 0.25/sqrt(head_dim). Head: LN(x) (1 + scale) +
// shift with (scale, shift) = head_nm.ada_lin(SiLU(cond)), then head (C -> V).
//
// Configuration from tensor shapes (width, depth, classes, vocabulary,
// Cvae, shared AdaLN, l2 attention and its head count from scale_mul_1H11,
// MLP width) and the lvl_1L buffer (the scale of each position, hence
// patch_nums); the optional "config" JSON metadata supplies num_heads when
// there is no scale_mul_1H11 (default C/64, the official width = 64 depth),
// norm_eps (1e-6) and patch_nums when lvl_1L is missing (else L = 680 or
// 2240 pick the 256 / 512 px lists).
//
// Text conditioning (the world VAR, METHODS.md sec. 4 "world variant"; our
// layout, after Infinity's CrossAttnBlock, FoundationVision/Infinity
// infinity/models/basic.py): a text model has no class_emb; instead
//   cond = text_pool_proj(pooled)            (B, C)  pooled: (B, text_dim)
//          (the start token sos = cond + pos_start and the AdaLN condition,
//          exactly where class_emb[label] goes)
//   ctx  = text_ctx_proj(tokens)             (B, T, C)  tokens: (B, T, ctx_dim)
// and every block gets a cross-attention sublayer between self-attention
// and the FFN (not gated by AdaLN, as in Infinity):
//   x = x + ca.proj(softmax(q k^T / sqrt(head_dim)) v),
//   q = ca.mat_q(LN_affine(x) with ca_norm), [k; v] = ca.mat_kv(ctx) + [0; ca.v_bias]
// Keys: text_pool_proj.{weight,bias} (C, text_dim), text_ctx_proj.{weight,bias}
// (C, ctx_dim), blocks.i.ca_norm.{weight,bias} (C), blocks.i.ca.mat_q.{weight,bias}
// (C, C), blocks.i.ca.mat_kv.weight (2C, C), blocks.i.ca.v_bias (C),
// blocks.i.ca.proj.{weight,bias} (C, C). Every text token is attended to (no
// padding mask: the world-CLIP's states past <eos> are deterministic).
// The world VAR feeds world-CLIP (text/world_clip.h) pooled and tokens, and
// the "" caption as the null condition (10% dropout in training, CFG's
// unconditional branch in sampling).
#ifndef SILT_VAR_VAR_H
#define SILT_VAR_VAR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/graph.h"
#include "core/safetensors.h"
#include "var/vqvae.h"

typedef struct var_config {
    int depth;
    int embed_dim;    // C (also the condition width D)
    int num_heads;
    int head_dim;     // C / num_heads
    int mlp_hidden;   // round(C * mlp_ratio)
    int num_classes;  // class_emb has num_classes + 1 rows; id num_classes is the null (CFG) class; 0 for a text model
    int text_dim;     // text model: pooled width (text_pool_proj input); 0 for a class model
    int ctx_dim;      // text model: token width (text_ctx_proj input)
    int vocab_size;   // V
    int Cvae;         // tokenizer width (word_embed input)
    bool shared_aln;
    bool attn_l2_norm;
    float norm_eps;
    int n_scales;     // K
    int patch_nums[VAR_MAX_SCALES];
    int64_t begin[VAR_MAX_SCALES + 1];  // begin_ends: scale k is [begin[k], begin[k+1])
    int64_t L, first_l;
} var_config;

typedef struct var_model var_model;

// Loads every tensor as owned f32. Buffers are checked (lvl_1L) or skipped
// (attn_bias_for_masking, zero_k_bias: recomputed). A missing, extra or
// misshaped tensor is one error naming it; a file without class_emb.weight
// or text_pool_proj.weight is "not a VAR transformer". *out is set only on
// success. A silt trainer checkpoint (`gen train --arch var`) loads too: its
// "ema." copy when there is one, else the raw weights (optimiser moments
// ignored); without lvl_1L and config, 130 tokens over 6 scales are the world
// list 1,2,3,4,6,8 (as 680 / 2240 pick the 256 / 512 px lists).
silt_status var_load(const silt_safetensors *st, var_model **out);
silt_status var_load_file(const char *path, var_model **out);  // open + load + close

// --- creation and saving (training, var/var_train.c) ------------------------------------
// The world VAR: depth 6, width 192, 3 heads (of 64, as the official
// models), MLP 768, l2-normalised
// attention, text-conditioned on world-CLIP (text_dim 64, ctx_dim 64), V 512,
// Cvae 16, patch_nums 1,2,3,4,6,8 (L 130) - var_vq_world_config's tokenizer.
var_config var_world_default_config(void);
// SILT_ERR_ARG naming the first bad field; fills head_dim, begin, L, first_l.
silt_status var_config_finish(var_config *c);
// A fresh model with the official init_weights (models/var.py): Linear and
// embedding weights (text projections and cross-attention included)
// N(0, 1/(3C)) truncated at +-2, biases 0, pos_start / pos_1LC / lvl_embed
// the same normal; head.weight x 0.02 (init_head), head_nm.ada_lin x 0.5;
// every block's ada_lin rows [2C:] x 0.5 (init_adaln) and the gamma rows
// [:2C] x aln_gamma (init_adaln_gamma, 1e-3 in the README's d16/d20
// commands); attn.proj, ffn.fc2 (and ca.proj, our choice) / sqrt(2 depth);
// scale_mul_1H11 = ln 4; ca_norm 1 / 0. Parameters have requires_grad.
silt_status var_create(const var_config *c, float aln_gamma, uint64_t seed, var_model **out);
// Every parameter under its checkpoint name, "config" metadata (num_heads,
// norm_eps, patch_nums, mlp_hidden, text_dim, ctx_dim) and "silt.kind"
// ("world-var" for a text model, else "var"); atomic; zstd for ".zst".
silt_status var_save(const var_model *m, const char *path);
// The same with extra metadata: kv = {key, value, ..., NULL} (may be NULL).
silt_status var_save_ex(const var_model *m, const char *path, const char *const *kv);
// That "config" JSON into buf; returns its length (>= n: truncated).
int var_config_json(const var_config *c, char *buf, size_t n);
// No weight decay (trainer.py's filter): 1-D tensors, biases, pos_*,
// lvl_embed, scale_mul, ada_gss, norms.
bool var_param_no_decay(const char *name, const silt_tensor *t);
// Mean cross-entropy over all B*L positions (mean_B sum_l CE / L, the
// official loss, label smoothing 0): logits (B, L, V), targets (B, L) in
// [0, V) -> a (1) tensor; differentiable in logits. *acc (may be NULL): the
// share of argmax hits.
silt_tensor *var_ce_loss(silt_graph *g, silt_tensor *logits, const int32_t *targets, double *acc);
void var_free(var_model *m);  // NULL-safe
const var_config *var_get_config(const var_model *m);
// Moves every weight to `device` once, in place (as mmdit_to_device):
// SILT_CUDA (needs a usable GPU); SILT_CPU is a no-op for a CPU model, and
// moving back is not supported. A device model runs var_forward /
// var_forward_text on a graph from silt_graph_create_on(SILT_CUDA, ...)
// (inputs on the device, no grad), and var_generate / var_generate_text /
// the var_run steps entirely on the device (KV caches, f_hat and the next
// scale's input stay there; each scale's logits come back to the host for
// top-k / top-p and the Philox draw, which stay fp32 on the CPU). Its
// tokenizer must be on the same device (var_vq_to_device). Training,
// var_create's init and var_save need the model on the cpu. Parameters lose
// requires_grad. A failure half way leaves the model reporting cpu with some
// weights on the device (its forward fails naming them); var_free frees it.
silt_status var_to_device(var_model *m, silt_device device);
silt_device var_device(const var_model *m);  // where the weights are (SILT_CPU for NULL)
// Parameters in load order with their checkpoint names (optimisers,
// inspection); buffers are not parameters. The tensors stay the model's.
int var_param_count(const var_model *m);
silt_tensor *var_param(const var_model *m, int i, const char **name);
silt_tensor *var_find_param(const var_model *m, const char *name);

// Whether vq can serve as this transformer's tokenizer: same codebook size
// and width, same patch_nums. Each mismatch is SILT_ERR_SHAPE naming both
// values and the fix.
silt_status var_check_vqvae(const var_model *m, const var_vqvae *vq);
// Class ids must lie in [0, num_classes]; num_classes is the unconditional class.
silt_status var_check_labels(const var_model *m, const int32_t *labels, int64_t B);

// VAR.forward (teacher forcing, block-causal mask attn_bias_for_masking:
// position i sees j iff scale(j) <= scale(i)); no label dropout.
// labels (B) in [0, num_classes]; x (B, L - first_l, Cvae), e.g. from
// var_vq_idx_to_var_input -> logits (B, L, V). Differentiable.
silt_tensor *var_forward(silt_graph *g, const var_model *m, const int32_t *labels, int64_t B, silt_tensor *x);
// The same for a text model: pooled (B, text_dim), tokens (B, T, ctx_dim),
// x (B, L - first_l, Cvae) -> logits (B, L, V). Differentiable.
silt_tensor *var_forward_text(silt_graph *g, const var_model *m, silt_tensor *pooled, silt_tensor *tokens,
                              silt_tensor *x);

// --- sampling (autoregressive_infer_cfg), var/var_sample.c ------------------------------

// Called at every scale si once the CFG-combined logits (B, l, V) are formed
// (l = pn_si^2, before top-k/top-p), with idx (B, l) holding the sampler's
// draw; it may overwrite idx (e.g. to replay recorded tokens or pick the
// argmax). A non-OK return stops the generation with that status.
typedef silt_status (*var_token_fn)(void *user, int si, int64_t B, int64_t l, int64_t V, const float *logits,
                                    int32_t *idx);

typedef struct var_sample_params {
    float cfg;         // guidance at the last scale; scale si uses t = cfg * si / (K-1)
    int top_k;         // keep logits >= the k-th largest; 0 (or >= V) keeps all
    float top_p;       // nucleus mass in [0, 1]; 0 keeps all
    uint64_t seed;     // Philox seed; sample b draws from stream b (core/rng.h)
    var_token_fn token_fn;  // optional
    void *token_user;
} var_sample_params;

// cfg 1.5, top_k 900, top_p 0.96 (the README's FID setting), seed 0.
var_sample_params var_sample_default_params(void);

// sample_with_top_k_top_p_'s masking, in place on each of N rows of V logits:
// top-k sets logits below the k-th largest to -INFINITY (ties kept); then
// top-p sorts ascending, takes the cumulative softmax and removes entries
// whose cumulative mass is <= 1 - top_p, always keeping the largest.
// work: 2 * V doubles of scratch.
void var_top_k_top_p_cpu(float *logits, double *work, int64_t N, int64_t V, int top_k, float top_p);
// One draw from softmax(logits) (V; -INFINITY entries have probability 0)
// given u in [0, 1): the first index whose cumulative probability exceeds u.
int32_t var_sample_row(const float *logits, int64_t V, float u);

// autoregressive_infer_cfg(B, labels, cfg, top_k, top_p, more_smooth=False)
// with a KV cache, then fhat_to_img: labels (B) -> img (B, 3, H, W) in [0, 1]
// (caller buffer, H = W = pn_K * downsample) and, when idx_out is non-NULL,
// the chosen tokens (B, L). vq must pass var_check_vqvae. With cfg == 0 the
// unconditional half is skipped (its weight is 0). Outputs are written only on
// success. Runs on the model's device (var_to_device; vq must be there too);
// labels, img, idx_out and the token_fn's arrays are host memory either way.
// Devices: the same seed gives the same tokens on cpu and cuda as long as the
// logits agree closely enough that no masking threshold (top-k's k-th value,
// top-p's cumulative mass) and no draw (u against the cumulative
// probabilities) falls between the two devices' values; fp32 logits agree to
// ~1e-6 relative, so a flip is rare but possible, and after one the samples
// diverge.
silt_status var_generate(const var_model *m, const var_vqvae *vq, const int32_t *labels, int64_t B,
                         const var_sample_params *p, float *img, int32_t *idx_out);

// The text condition of a text model's sampling: rows b < B of pooled
// (B, text_dim) and tokens (B, T, ctx_dim); null_pooled (text_dim) and
// null_tokens (T, ctx_dim) encode the "" caption and are CFG's unconditional
// branch (may be NULL when cfg == 0).
typedef struct var_text_cond {
    const float *pooled, *tokens;
    const float *null_pooled, *null_tokens;
    int64_t T;
} var_text_cond;
// var_generate for a text model: the condition rows are text_pool_proj of
// the pooled vectors (and of null_pooled for the unconditional half), and
// every block cross-attends to text_ctx_proj of the tokens.
silt_status var_generate_text(const var_model *m, const var_vqvae *vq, const var_text_cond *tc, int64_t B,
                              const var_sample_params *p, float *img, int32_t *idx_out);

#endif
