// The MMDiT model struct, shared by the loader (mmdit_load.c) and the forward
// (mmdit.c). Fields are named after the diffusers state-dict keys they hold.
#ifndef SILT_DIT_MMDIT_INTERNAL_H
#define SILT_DIT_MMDIT_INTERNAL_H

#include "dit/mmdit.h"

// One attention module: diffusers `Attention` (to_q/k/v, to_out.0, norm_q/k)
// plus, for the joint attention, the context stream's add_{q,k,v}_proj,
// to_add_out and norm_added_{q,k}. Absent parts are NULL.
typedef struct mmdit_attn {
    silt_tensor *to_q_w, *to_q_b, *to_k_w, *to_k_b, *to_v_w, *to_v_b;  // (D, D), (D)
    silt_tensor *to_out_w, *to_out_b;                                  // (D, D), (D)
    silt_tensor *norm_q, *norm_k;                                      // (head_dim) RMSNorm weights
    silt_tensor *add_q_w, *add_q_b, *add_k_w, *add_k_b, *add_v_w, *add_v_b;
    silt_tensor *to_add_out_w, *to_add_out_b;  // NULL in the context_pre_only block
    silt_tensor *norm_added_q, *norm_added_k;
} mmdit_attn;

typedef struct mmdit_block {
    bool dual;      // SD35AdaLayerNormZeroX (9 chunks) + attn2
    bool pre_only;  // context_pre_only: norm1_context is AdaLayerNormContinuous (scale, shift)
    silt_tensor *norm1_w, *norm1_b;                  // (6D or 9D, D)
    silt_tensor *norm1_context_w, *norm1_context_b;  // (6D, D), or (2D, D) when pre_only
    mmdit_attn attn;
    mmdit_attn attn2;                      // dual blocks only (no add_* parts)
    silt_tensor *ff0_w, *ff0_b, *ff2_w, *ff2_b;  // ff.net.0.proj (4D, D), ff.net.2 (D, 4D)
    silt_tensor *ffc0_w, *ffc0_b, *ffc2_w, *ffc2_b;  // ff_context.*, NULL when pre_only
} mmdit_block;

struct mmdit_model {
    mmdit_config cfg;
    silt_tensor *patch_w, *patch_b;  // pos_embed.proj (D, C, p, p), (D)
    silt_tensor *pos;                // pos_embed.pos_embed (1, pos_max^2, D)
    silt_tensor *t1_w, *t1_b, *t2_w, *t2_b;  // time_text_embed.timestep_embedder.linear_{1,2}
    silt_tensor *y1_w, *y1_b, *y2_w, *y2_b;  // time_text_embed.text_embedder.linear_{1,2}
    silt_tensor *ctx_w, *ctx_b;              // context_embedder (D, joint_dim)
    silt_tensor *norm_out_w, *norm_out_b;    // norm_out.linear (2D, D), (scale, shift)
    silt_tensor *proj_w, *proj_b;            // proj_out (p*p*out_channels, D)
    mmdit_block *blocks;                     // depth
    // Every tensor but `pos` under its diffusers name, in the fixed order of
    // mmdit_param (built by mmdit_create and mmdit_load).
    struct mmdit_param_entry *params;
    int n_params;
};

#define MMDIT_NAME_MAX 80

typedef struct mmdit_param_entry {
    char name[MMDIT_NAME_MAX];
    silt_tensor *t;
    bool no_decay;  // biases and norm weights
} mmdit_param_entry;

// Fills m->params from the model's tensors (m->cfg and the tensors set);
// SILT_ERR_OOM, or SILT_ERR_ARG naming a tensor the config implies but the
// model lacks.
silt_status mmdit_index_params(mmdit_model *m);
// The fixed sin-cos table (pos_max^2, hidden) of diffusers' PatchEmbed with
// pos_embed_max_size (see mmdit_create).
void mmdit_fill_pos(const mmdit_config *c, float *out);

#endif
