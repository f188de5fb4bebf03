// The VAR transformer's weights and forward pieces, shared by var/var.c
// (loader, teacher-forced forward) and var/var_sample.c (KV-cached sampling).
// Not a public header.
#ifndef SILT_VAR_VAR_INTERNAL_H
#define SILT_VAR_VAR_INTERNAL_H

#include "var/var.h"

typedef struct var_block {
    silt_tensor *ada_w, *ada_b;  // ada_lin.1: (6C, C), (6C); NULL with shared_aln
    silt_tensor *ada_gss;        // (1, 1, 6, C) with shared_aln
    silt_tensor *scale_mul;      // attn.scale_mul_1H11 (1, H, 1, 1) with attn_l2_norm
    silt_tensor *qkv_w;          // attn.mat_qkv.weight (3C, C)
    silt_tensor *q_bias, *v_bias;
    silt_tensor *proj_w, *proj_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    // cross-attention (text models; NULL otherwise)
    silt_tensor *ca_norm_w, *ca_norm_b, *ca_q_w, *ca_q_b, *ca_kv_w, *ca_v_bias, *ca_proj_w, *ca_proj_b;
} var_block;

struct var_model {
    var_config cfg;
    silt_tensor *word_w, *word_b;   // word_embed
    silt_tensor *class_emb;         // (num_classes + 1, C); NULL for a text model
    silt_tensor *text_pool_w, *text_pool_b;  // (C, text_dim), (C) for a text model
    silt_tensor *text_ctx_w, *text_ctx_b;    // (C, ctx_dim), (C)
    silt_tensor *pos_start;         // (1, first_l, C)
    silt_tensor *pos_1LC;           // (1, L, C)
    silt_tensor *lvl_embed;         // (K, C)
    silt_tensor *shared_w, *shared_b;  // shared_ada_lin.1 (6C, C) with shared_aln
    var_block *blocks;
    silt_tensor *head_nm_w, *head_nm_b, *head_w, *head_b;
    silt_tensor *zero_k;            // (C) zeros: the k part of the qkv bias
    int32_t *lvl;                   // (L) scale of each position (lvl_1L)
    silt_tensor **owned;            // every parameter, in load order
    char **owned_names;             // their checkpoint names
    int n_owned, cap_owned;
};

// KV cache of one block for sampling: k, v (rows, H, cap, head_dim); tokens
// [0, len) are filled. The block appends its new tokens at len.
typedef struct var_kv {
    float *k, *v;
    int64_t rows, cap, len;
} var_kv;

// The six AdaLN tensors of block bi, each (R, 1, C), in the official chunk
// order (gamma1, gamma2, scale1, scale2, shift1, shift2). cs = SiLU(cond) (R, C);
// shared = shared_ada_lin(cs) (R, 6C) with shared_aln, else NULL.
silt_status var_ada(silt_graph *g, const var_model *m, int bi, silt_tensor *cs, silt_tensor *shared,
                    silt_tensor *out[6]);
// One AdaLNSelfAttn block on x (R, T, C). mask: additive (T, T) in the
// graph's memory (silt_graph_device_copy: shared by all layers) or NULL;
// kv: cache to append to and attend over, or NULL; ctx: the projected text
// tokens (R, Tc, C) of a text model (cross-attention), else NULL.
silt_tensor *var_block_fwd(silt_graph *g, const var_model *m, int bi, silt_tensor *x, silt_tensor *const ada[6],
                           const float *mask, var_kv *kv, silt_tensor *ctx);
// A model with c's layout and zeroed parameters (requires_grad), in load order.
silt_status var_create_empty(const var_config *c, var_model **out);
// head(head_nm(x, cond)): x (R, T, C), cs = SiLU(cond) (R, C) -> logits (R, T, V).
silt_tensor *var_head_fwd(silt_graph *g, const var_model *m, silt_tensor *x, silt_tensor *cs);

// Stepwise sampling (var/var_sample.c), for test-time search (var/search.c):
// the state of autoregressive_infer_cfg between scales for B samples (2B rows
// with CFG: the conditional rows, then the same samples' unconditional ones).
// var_generate_text is var_run_create_text + K var_run_step(streams NULL) +
// var_run_decode, so a search that only steps reproduces it bit for bit.
typedef struct var_run var_run;
// The condition rows b < B of tc (as var_generate_text), before scale 0.
silt_status var_run_create_text(const var_model *m, const var_vqvae *vq, const var_text_cond *tc, int64_t B, float cfg,
                                var_run **out);
void var_run_free(var_run *r);  // NULL-safe
// Runs the next scale for every live sample: transformer, CFG, top-k/top-p,
// the draw, then f_hat and the next scale's input. Sample b draws from Philox
// stream streams[b] of p->seed (b when streams is NULL), at the token's
// global position, as var_generate. p->cfg must be the cfg of the create call.
silt_status var_run_step(var_run *r, const var_sample_params *p, const uint64_t *streams);
// Decodes the current f_hat of every live sample (after any scale: the
// partial sum of the scales so far): img (B, 3, H, W) in [0, 1].
silt_status var_run_decode(var_run *r, float *img);
// Keeps samples from[0..n) (repeats allowed, n <= B) as the new rows 0..n-1:
// KV caches of both CFG halves, condition rows, text tokens, the next scale's
// input, f_hat and the tokens so far are all gathered.
silt_status var_run_select(var_run *r, const int64_t *from, int64_t n);
int64_t var_run_batch(const var_run *r);       // live samples B
int var_run_next_scale(const var_run *r);      // scales done so far
const int32_t *var_run_tokens(const var_run *r);  // (B, L); positions of scales not run are undefined

#endif
