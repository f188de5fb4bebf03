// Attention perturbations that guidance asks a model to apply (METHODS.md
// section 2). Defined here, below the models, so dit/, unet/ and var/ can take
// one without depending on guidance/ (which builds them).
//
// A perturbation touches only batch rows [row_begin, row_end) (the
// "cond-perturbed" rows of the batch [uncond, cond, cond-perturbed]); the
// other rows run the plain model.
#ifndef SILT_PERTURB_H
#define SILT_PERTURB_H

#include <stdbool.h>

typedef enum silt_perturb_kind {
    SILT_PERTURB_NONE = 0,
    // SoftPAG / PAG: out_h = (1-u) Attn_h + u V_h on heads with u > 0
    // (u = 1 is PAG). For MMDiT this is the identity over the whole joint
    // sequence (HeadHunter's).
    SILT_PERTURB_IDENTITY,
    // diffusers' SD3 PAG: the image-image block of the joint attention map
    // becomes the identity; image tokens still attend to all text tokens.
    // Applies to whole layers (heads with u > 0 select the layer; u ignored).
    SILT_PERTURB_IDENTITY_IMAGE,
    // Uniform attention: out_h = mean over keys of V_h.
    SILT_PERTURB_UNIFORM,
    // SEG: Gaussian blur (sigma over the token grid) of the queries of the
    // selected heads; sigma = INFINITY gives the mean query.
    SILT_PERTURB_SEG,
    // SLG: skip whole blocks (layers with any u > 0) for the perturbed rows.
    SILT_PERTURB_SKIP,
    SILT_PERTURB_COUNT
} silt_perturb_kind;

typedef struct silt_perturb {
    silt_perturb_kind kind;
    int row_begin, row_end;  // perturbed batch rows
    int n_layers, n_heads;   // shape of u
    const float *u;          // (n_layers, n_heads): strength per head, 0 = untouched
    float seg_sigma;         // SEG only
} silt_perturb;

// Strength for (layer, head); 0 when p is NULL, kind NONE, or out of range.
static inline float silt_perturb_u(const silt_perturb *p, int layer, int head) {
    if (!p || p->kind == SILT_PERTURB_NONE || !p->u || layer < 0 || layer >= p->n_layers || head < 0 ||
        head >= p->n_heads)
        return 0.0f;
    return p->u[layer * p->n_heads + head];
}

// True when any head of the layer is perturbed.
static inline bool silt_perturb_layer(const silt_perturb *p, int layer) {
    for (int h = 0; p && h < p->n_heads; h++)
        if (silt_perturb_u(p, layer, h) != 0.0f) return true;
    return false;
}

#endif
