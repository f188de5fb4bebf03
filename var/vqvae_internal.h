// The VQ-VAE's weights, shared by var/vqvae.c (loader, conv networks) and
// var/vq_quant.c (the multi-scale quantiser). Not a public header.
#ifndef SILT_VAR_VQVAE_INTERNAL_H
#define SILT_VAR_VQVAE_INTERNAL_H

#include "var/vqvae.h"

typedef struct vq_wb {
    silt_tensor *w, *b;
} vq_wb;

// basic_vae.py ResnetBlock; nin.w NULL when the width does not change.
typedef struct vq_res {
    vq_wb norm1, conv1, norm2, conv2, nin;
} vq_res;

// basic_vae.py AttnBlock: GroupNorm, qkv 1x1 conv (3C, C, 1, 1), proj_out 1x1.
typedef struct vq_attn {
    vq_wb norm, qkv, proj;
} vq_attn;

// One side. Level i (official down.i / up.i, i = 0 full resolution) has
// blocks res[i * nb + j] (nb = num_res_blocks, +1 on the decoder side); the
// deepest level has attn[j] after block j when using_sa; sample[i] is the
// encoder's downsample of levels 0..n-2, the decoder's upsample of levels 1..n-1.
typedef struct vq_coder {
    vq_wb conv_in, norm_out, conv_out;
    vq_res *res;
    vq_attn *attn;
    vq_wb sample[VAR_VQ_MAX_LEVELS];
    vq_res mid[2];
    vq_attn mid_attn;
} vq_coder;

struct var_vqvae {
    var_vq_config cfg;
    vq_coder enc, dec;
    vq_wb quant_conv, post_quant_conv;
    silt_tensor *embedding;  // (V, Cvae)
    vq_wb phi[VAR_MAX_SCALES];
    silt_tensor **owned;  // every parameter, in load order
    char **owned_names;   // their checkpoint names
    int n_owned, cap_owned;
};

// A tokenizer with c's layout and zeroed parameters (requires_grad), in load
// order (var_vq_create initialises them).
silt_status var_vq_create_empty(const var_vq_config *c, var_vqvae **out);

// phi_si(h) = (1 - r) h + r conv3x3(h) (quant.py Phi.forward), the identity
// when the file has no phi (quant_resi 0).
silt_tensor *var_vq_phi(silt_graph *g, const var_vqvae *vq, int si, silt_tensor *h);

#endif
