// Guidance: CFG and attention-perturbation guidance (PAG, SoftPAG, SEG, SLG,
// uniform) behind one interface (METHODS.md section 2, reference/guidance.md).
//
// Convention "A" (diffusers PAGMixin, HeadHunter code), with e_c the
// conditional prediction, e_u the unconditional one and e_p the conditional
// prediction with perturbed attention:
//     CFG:            e = e_u + g (e_c - e_u)
//     PAG and co.:    e = e_c + s (e_c - e_p)
//     both:           e = e_u + g (e_c - e_u) + s (e_c - e_p)
// The official ADM PAG code writes e_p + s'(e_c - e_p): its 4.0 is 3.0 here.
// Each combination is affine with weights summing to 1, so it applies to eps,
// v or x0 alike.
//
// The CFG term is on when g != 1 (g = 1 gives e_c exactly, so the
// unconditional row is not run); mode NONE runs the conditional row only.
// It is gated per step by its own window [cfg_start, cfg_stop) (fractions of
// the steps; guidance in a limited interval, Kynkaenniemi et al. 2024):
// outside it the step takes e_c (plus any perturbation term) and spends no
// unconditional row.
// The perturbation term is gated per step by the window [start, stop)
// (fractions of the steps) and by the diffusers adaptive scale
// s(t) = max(0, s - a (1000 - t)) (a > 0 only); where it is off, no perturbed
// row is spent.
//
// Model batch per step, in blocks of B rows (B images):
//     [uncond, cond, cond-perturbed]   CFG + perturbation: 3 blocks
//     [cond, cond-perturbed]           perturbation only:  2 blocks
//     [uncond, cond]                   CFG only:           2 blocks
//     [cond]                           none:               1 block
#ifndef SILT_GUIDANCE_H
#define SILT_GUIDANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/perturb.h"
#include "core/status.h"

typedef enum guide_mode {
    GUIDE_NONE = 0,  // conditional prediction only
    GUIDE_CFG,       // classifier-free guidance only
    GUIDE_PAG,       // identity attention on the selected heads (u = 1)
    GUIDE_SOFTPAG,   // (1-u) Attn + u V on the selected heads (HeadHunter)
    GUIDE_SEG,       // Gaussian blur of the queries (SEG), sigma = inf: mean query
    GUIDE_SLG,       // skip whole blocks (skip-layer guidance, SD3.5)
    GUIDE_UNIFORM,   // uniform attention (mean of V) on the selected heads
    GUIDE_MODE_COUNT
} guide_mode;

const char *guide_mode_name(guide_mode m);  // "none", "cfg", ...; "?" if out of range
silt_status guide_mode_from_name(const char *name, guide_mode *out);
// True for the modes that add a perturbed row (pag, softpag, seg, slg, uniform).
bool guide_mode_perturbs(guide_mode m);

// Which identity PAG/SoftPAG uses in MMDiT joint attention (guidance.md 1.2).
typedef enum guide_identity {
    GUIDE_IDENTITY_AUTO = 0,  // image for pag on whole layers, joint otherwise
    GUIDE_IDENTITY_JOINT,     // HeadHunter: identity over the whole [image, text] sequence, per head
    GUIDE_IDENTITY_IMAGE,     // diffusers SD3 PAG: image-image block only, whole layers
    GUIDE_IDENTITY_COUNT
} guide_identity;

const char *guide_identity_name(guide_identity k);
silt_status guide_identity_from_name(const char *name, guide_identity *out);

typedef struct guide_params {
    guide_mode mode;
    float cfg;          // g; the CFG term is on when g != 1
    float scale;        // s, the perturbation scale (convention A)
    float soft_u;       // SoftPAG u for heads without their own u
    float start, stop;  // perturbation window [start, stop) as fractions of the steps
    float cfg_start, cfg_stop;  // CFG window [cfg_start, cfg_stop), fractions of the steps
    float adaptive;     // a: s(t) = max(0, s - a (1000 - t)); 0 = off
    float seg_sigma;    // SEG blur sigma over the token grid; INFINITY = mean query
    guide_identity identity;
    int guided_channels;  // guide only the first k channels, the rest from the cond row; 0 = all
} guide_params;

// mode cfg, g = 4 (diffusers DiTPipeline), s = 3 (diffusers PAG), u = 0.5
// (HeadHunter App. B), windows [0, 1), a = 0, SEG sigma = INFINITY, identity
// auto, all channels guided.
guide_params guide_default_params(void);
// Checks ranges (finite scales, 0 <= start < stop <= 1 for both windows, 0 <= u <= 1, a >= 0,
// sigma > 0, guided_channels >= 0); SILT_ERR_ARG naming the bad field.
silt_status guide_params_check(const guide_params *p);

// ---- head specs ------------------------------------------------------------

// One entry: a head of a layer, or every head of it (head = -1).
typedef struct guide_head {
    int layer, head;  // head -1: all heads of the layer
    float u;          // < 0: the mode's default (1 for pag/seg/slg/uniform, soft_u for softpag)
    char where[48];   // where the entry came from, for errors ("entry 2 '12:3'", "heads.txt:4")
} guide_head;

typedef struct guide_heads {
    guide_head *v;
    int n;
} guide_heads;

// Command-line spec: entries separated by ',' (spaces allowed), each
// LAYER | LAYER:HEAD | LAYER:* | LAYER:HEAD:U | LAYER:*:U with LAYER and HEAD
// exact non-negative integers and 0 <= U <= 1. "1" is layer 1 only, never
// 10..19. SILT_ERR_ARG naming the bad entry; *out untouched on failure.
silt_status guide_heads_parse(const char *spec, guide_heads *out);
// HeadHunter's file format: one `layer,head[,u]` per line ('*' for all heads,
// `layer` alone for a whole layer); '#' starts a comment; blank lines, spaces
// and a surrounding () or [] are ignored. Errors name path:line.
silt_status guide_heads_load(const char *path, guide_heads *out);
// A file when `arg` names an existing file, holds a '/' or looks like a file
// name with an extension ("heads.txt", "./7"); else a spec ("1:x" is a bad
// spec, not a missing file).
silt_status guide_heads_from_arg(const char *arg, guide_heads *out);
void guide_heads_free(guide_heads *h);  // NULL-safe; leaves h empty
// Every entry inside n_layers x n_heads, no (layer, head) given twice.
silt_status guide_heads_validate(const guide_heads *h, int n_layers, int n_heads);

// ---- the plan: params resolved against one model ---------------------------

typedef struct guide_plan guide_plan;

// Resolves params and heads for a model with n_layers x n_heads attention
// heads (`joint`: MMDiT joint attention, where the identity kind matters).
// heads NULL or empty: the mode's default heads - every head of layer
// n_layers/2, for slg layers 7,8,9 when n_layers >= 10 (SD3.5) else
// n_layers/2. Fails (SILT_ERR_ARG, one message naming the entry) on bad
// params, bad heads, head-level entries for slg or for the image identity,
// the image identity on a non-joint model.
silt_status guide_plan_create(const guide_params *p, const guide_heads *heads, int n_layers, int n_heads, bool joint,
                              guide_plan **out);
void guide_plan_free(guide_plan *pl);
const guide_params *guide_plan_params(const guide_plan *pl);
// The resolved perturbation kind (SILT_PERTURB_NONE for none/cfg).
silt_perturb_kind guide_plan_kind(const guide_plan *pl);
// The resolved heads as a canonical spec ("12" whole layer, "3:1,5:0:0.5");
// "" when the mode perturbs nothing. Returns buf.
char *guide_plan_heads_str(const guide_plan *pl, char *buf, size_t n);

// What one step runs and how its rows combine.
typedef struct guide_step {
    int n_blocks;                           // model rows = n_blocks * batch
    int blk_uncond, blk_cond, blk_perturbed;  // block index, -1 when absent
    int batch;                              // B
    float cfg;                              // g, used when blk_uncond >= 0
    float scale;                            // effective s this step, used when blk_perturbed >= 0
    int guided;                             // guide channels [0, guided) only; 0 = all
    silt_perturb perturb;                   // rows of the perturbed block; u points into the plan
} guide_step;

// Whether step `step` of `n_steps` (0-based) runs the CFG term: mode not
// none, g != 1, and the step inside [cfg_start*n, cfg_stop*n).
bool guide_step_cfg(const guide_params *p, int step, int n_steps);
// The effective perturbation scale at step `step` of `n_steps` (0-based),
// model timestep t (0..1000; flow models: 1000 sigma): 0 outside
// [start*n, stop*n), else s, reduced by the adaptive scale when a > 0.
float guide_step_scale(const guide_params *p, int step, int n_steps, float t);
// Fills *st for this step and a batch of B images. The plan must outlive *st.
silt_status guide_plan_step(const guide_plan *pl, int step, int n_steps, float t, int batch, guide_step *st);
// The perturbation to hand the model, or NULL when this step has no perturbed block.
const silt_perturb *guide_step_perturb(const guide_step *st);

// Combines the model output into the guided prediction.
// pred: (n_blocks*B, C, hw) rows in the step's block order.
// out:  (B, C_out, hw), C_out <= C: the first C_out channels (e.g. eps without
// DiT's learned-sigma channels). Channels >= guided (guided > 0) are copied
// from the cond block (st->guided, from params.guided_channels), as the
// original DiT forward_with_cfg does for all but its first 3 channels.
// out must not alias pred.
silt_status guide_combine(const guide_step *st, float *out, const float *pred, int channels, int out_channels,
                          int64_t hw);
// The same on device buffers (out, pred: device pointers), for a sampling
// loop that stays on the GPU; SILT_ERR_UNSUPPORTED without a usable GPU.
silt_status guide_combine_cuda(const guide_step *st, float *out, const float *pred, int channels, int out_channels,
                               int64_t hw);

#endif
