// Guidance modes, the per-model plan (which heads, which perturbation), the
// per-step batch layout and the convention-A combination (guidance.h).
#include "guidance/guidance.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda.h"

static const char *const mode_names[GUIDE_MODE_COUNT] = {"none", "cfg", "pag", "softpag", "seg", "slg", "uniform"};
static const char *const identity_names[GUIDE_IDENTITY_COUNT] = {"auto", "joint", "image"};

const char *guide_mode_name(guide_mode m) {
    return (unsigned)m < GUIDE_MODE_COUNT ? mode_names[m] : "?";
}

silt_status guide_mode_from_name(const char *name, guide_mode *out) {
    for (int i = 0; name && i < GUIDE_MODE_COUNT; i++)
        if (!strcmp(name, mode_names[i])) { *out = (guide_mode)i; return SILT_OK; }
    return SILT_FAIL(SILT_ERR_ARG, "unknown guidance '%s' (expected none, cfg, pag, softpag, seg, slg or uniform)",
                     name ? name : "(null)");
}

bool guide_mode_perturbs(guide_mode m) { return m >= GUIDE_PAG && m < GUIDE_MODE_COUNT; }

const char *guide_identity_name(guide_identity k) {
    return (unsigned)k < GUIDE_IDENTITY_COUNT ? identity_names[k] : "?";
}

silt_status guide_identity_from_name(const char *name, guide_identity *out) {
    for (int i = 0; name && i < GUIDE_IDENTITY_COUNT; i++)
        if (!strcmp(name, identity_names[i])) { *out = (guide_identity)i; return SILT_OK; }
    return SILT_FAIL(SILT_ERR_ARG, "unknown identity '%s' (expected auto, joint or image)", name ? name : "(null)");
}

guide_params guide_default_params(void) {
    guide_params p = {
        .mode = GUIDE_CFG,
        .cfg = 4.0f,      // diffusers DiTPipeline guidance_scale
        .scale = 3.0f,    // diffusers PAG pag_scale
        .soft_u = 0.5f,   // HeadHunter App. B: u = 0.5 at inference
        .start = 0.0f,
        .stop = 1.0f,
        .cfg_start = 0.0f,
        .cfg_stop = 1.0f,
        .adaptive = 0.0f, // diffusers pag_adaptive_scale default
        .seg_sigma = INFINITY,
        .identity = GUIDE_IDENTITY_AUTO,
        .guided_channels = 0,
    };
    return p;
}

silt_status guide_params_check(const guide_params *p) {
    if (!p) return SILT_FAIL(SILT_ERR_ARG, "guidance: NULL params");
    if ((unsigned)p->mode >= GUIDE_MODE_COUNT) return SILT_FAIL(SILT_ERR_ARG, "guidance: bad mode %d", (int)p->mode);
    if (!isfinite(p->cfg)) return SILT_FAIL(SILT_ERR_ARG, "guidance: cfg scale must be finite");
    if (!isfinite(p->scale)) return SILT_FAIL(SILT_ERR_ARG, "guidance: perturbation scale must be finite");
    if (!(p->soft_u >= 0.0f && p->soft_u <= 1.0f))
        return SILT_FAIL(SILT_ERR_ARG, "guidance: soft u %g is outside [0, 1]", (double)p->soft_u);
    if (!(p->start >= 0.0f && p->start < p->stop && p->stop <= 1.0f))
        return SILT_FAIL(SILT_ERR_ARG, "guidance: step window [%g, %g) must satisfy 0 <= start < stop <= 1",
                         (double)p->start, (double)p->stop);
    if (!(p->cfg_start >= 0.0f && p->cfg_start < p->cfg_stop && p->cfg_stop <= 1.0f))
        return SILT_FAIL(SILT_ERR_ARG, "guidance: CFG window [%g, %g) must satisfy 0 <= start < stop <= 1",
                         (double)p->cfg_start, (double)p->cfg_stop);
    if (!(p->adaptive >= 0.0f) || !isfinite(p->adaptive))
        return SILT_FAIL(SILT_ERR_ARG, "guidance: adaptive scale %g must be >= 0", (double)p->adaptive);
    if (!(p->seg_sigma > 0.0f)) return SILT_FAIL(SILT_ERR_ARG, "guidance: SEG sigma %g must be > 0", (double)p->seg_sigma);
    if ((unsigned)p->identity >= GUIDE_IDENTITY_COUNT)
        return SILT_FAIL(SILT_ERR_ARG, "guidance: bad identity %d", (int)p->identity);
    if (p->guided_channels < 0) return SILT_FAIL(SILT_ERR_ARG, "guidance: guided channels must be >= 0");
    return SILT_OK;
}

struct guide_plan {
    guide_params p;
    int n_layers, n_heads;
    silt_perturb_kind kind;
    float default_u;
    bool any;  // some head has u > 0 (else e_p = e_c and the perturbed block is skipped)
    float *u;  // (n_layers, n_heads)
};

// u for an entry without its own: SoftPAG's soft_u, 1 for everything else.
static float mode_default_u(const guide_params *p) { return p->mode == GUIDE_SOFTPAG ? p->soft_u : 1.0f; }

static bool layer_whole(const guide_plan *pl, int l) {
    for (int h = 0; h < pl->n_heads; h++)
        if (pl->u[l * pl->n_heads + h] == 0.0f) return false;
    return true;
}

static bool layer_any(const guide_plan *pl, int l) {
    for (int h = 0; h < pl->n_heads; h++)
        if (pl->u[l * pl->n_heads + h] != 0.0f) return true;
    return false;
}

silt_status guide_plan_create(const guide_params *p, const guide_heads *heads, int n_layers, int n_heads, bool joint,
                              guide_plan **out) {
    if (!out) return SILT_FAIL(SILT_ERR_ARG, "guidance: NULL output");
    SILT_TRY(guide_params_check(p));
    bool perturbs = guide_mode_perturbs(p->mode);
    if (perturbs && (n_layers <= 0 || n_heads <= 0))
        return SILT_FAIL(SILT_ERR_ARG, "guidance: %s needs a model with attention layers", guide_mode_name(p->mode));
    if (!joint && p->identity == GUIDE_IDENTITY_IMAGE)
        return SILT_FAIL(SILT_ERR_ARG, "guidance: identity 'image' needs an MMDiT (joint attention) model");
    bool have_heads = heads && heads->n > 0;
    if (perturbs && have_heads) SILT_TRY(guide_heads_validate(heads, n_layers, n_heads));

    guide_plan *pl = calloc(1, sizeof *pl);
    if (!pl) return SILT_FAIL(SILT_ERR_OOM, "guidance: out of memory");
    pl->p = *p;
    pl->n_layers = perturbs ? n_layers : 0;
    pl->n_heads = perturbs ? n_heads : 0;
    pl->default_u = mode_default_u(p);
    if (!perturbs) {
        pl->kind = SILT_PERTURB_NONE;
        *out = pl;
        return SILT_OK;
    }
    pl->u = calloc((size_t)n_layers * (size_t)n_heads, sizeof *pl->u);
    if (!pl->u) { free(pl); return SILT_FAIL(SILT_ERR_OOM, "guidance: out of memory"); }

    if (have_heads) {
        for (int i = 0; i < heads->n; i++) {
            const guide_head *e = &heads->v[i];
            float u = e->u >= 0.0f ? e->u : pl->default_u;
            if (p->mode == GUIDE_SLG && e->head >= 0) {
                guide_plan_free(pl);
                return SILT_FAIL(SILT_ERR_ARG, "heads: %s: slg skips whole blocks; give layers only (e.g. 7,8,9)",
                                 e->where);
            }
            for (int h = 0; h < n_heads; h++)
                if (e->head < 0 || e->head == h) pl->u[e->layer * n_heads + h] = u;
        }
    } else {
        // Defaults (our choice where no reference exists): the middle layer;
        // SLG uses SD3.5's blocks 7, 8, 9 when the model has them.
        int layers[3] = {n_layers / 2, -1, -1};
        if (p->mode == GUIDE_SLG && n_layers >= 10) { layers[0] = 7; layers[1] = 8; layers[2] = 9; }
        for (int i = 0; i < 3; i++)
            for (int h = 0; layers[i] >= 0 && h < n_heads; h++) pl->u[layers[i] * n_heads + h] = pl->default_u;
    }

    for (int l = 0; l < n_layers; l++) pl->any = pl->any || layer_any(pl, l);
    switch (p->mode) {
    case GUIDE_PAG:
    case GUIDE_SOFTPAG: {
        guide_identity id = p->identity;
        if (!joint) id = GUIDE_IDENTITY_JOINT;  // one identity only outside joint attention
        bool whole = true;
        for (int l = 0; l < n_layers; l++)
            if (layer_any(pl, l) && !layer_whole(pl, l)) whole = false;
        if (id == GUIDE_IDENTITY_AUTO)
            id = (p->mode == GUIDE_PAG && whole) ? GUIDE_IDENTITY_IMAGE : GUIDE_IDENTITY_JOINT;
        if (id == GUIDE_IDENTITY_IMAGE && !whole) {
            guide_plan_free(pl);
            return SILT_FAIL(SILT_ERR_ARG, "heads: identity 'image' (diffusers SD3 PAG) perturbs whole layers; "
                                           "give layers only, or use --identity joint for single heads");
        }
        pl->kind = id == GUIDE_IDENTITY_IMAGE ? SILT_PERTURB_IDENTITY_IMAGE : SILT_PERTURB_IDENTITY;
        pl->p.identity = id;
        break;
    }
    case GUIDE_SEG: pl->kind = SILT_PERTURB_SEG; break;
    case GUIDE_SLG: pl->kind = SILT_PERTURB_SKIP; break;
    case GUIDE_UNIFORM: pl->kind = SILT_PERTURB_UNIFORM; break;
    default: pl->kind = SILT_PERTURB_NONE; break;
    }
    *out = pl;
    return SILT_OK;
}

void guide_plan_free(guide_plan *pl) {
    if (!pl) return;
    free(pl->u);
    free(pl);
}

const guide_params *guide_plan_params(const guide_plan *pl) { return &pl->p; }
silt_perturb_kind guide_plan_kind(const guide_plan *pl) { return pl->kind; }

char *guide_plan_heads_str(const guide_plan *pl, char *buf, size_t n) {
    if (!buf || n == 0) return buf;
    buf[0] = 0;
    size_t len = 0;
#define APPEND(...)                                                          \
    do {                                                                     \
        int w_ = snprintf(buf + len, len < n ? n - len : 0, __VA_ARGS__);    \
        if (w_ > 0) len += (size_t)w_;                                       \
    } while (0)
    for (int l = 0; pl && pl->u && l < pl->n_layers; l++) {
        if (!layer_any(pl, l)) continue;
        const float *ul = pl->u + (size_t)l * pl->n_heads;
        bool same = layer_whole(pl, l);
        for (int h = 1; same && h < pl->n_heads; h++) same = ul[h] == ul[0];
        if (same) {
            APPEND("%s%d", len ? "," : "", l);
            if (ul[0] != pl->default_u) APPEND(":*:%g", (double)ul[0]);
            continue;
        }
        for (int h = 0; h < pl->n_heads; h++) {
            if (ul[h] == 0.0f) continue;
            APPEND("%s%d:%d", len ? "," : "", l, h);
            if (ul[h] != pl->default_u) APPEND(":%g", (double)ul[h]);
        }
    }
#undef APPEND
    if (len >= n && n > 4) memcpy(buf + n - 4, "...", 4);  // truncated: say so
    return buf;
}

// A window edge in step units. Edges within 1e-4 of a whole step snap to it:
// 0.3f is 0.30000001, and --cfg-start 0.3 of 10 steps means from step 3.
static double window_edge(float frac, int n_steps) {
    double e = (double)frac * n_steps, r = floor(e + 0.5);
    return fabs(e - r) < 1e-4 ? r : e;
}

// Step i of n inside the window [start, stop) (fractions of the steps):
// 0.2 of 28 steps = 5.6 keeps steps 0..5.
static bool in_window(int step, int n_steps, float start, float stop) {
    double i = step;
    return i >= window_edge(start, n_steps) && i < window_edge(stop, n_steps);
}

bool guide_step_cfg(const guide_params *p, int step, int n_steps) {
    return p && p->mode != GUIDE_NONE && p->cfg != 1.0f && n_steps > 0 &&
           in_window(step, n_steps, p->cfg_start, p->cfg_stop);
}

float guide_step_scale(const guide_params *p, int step, int n_steps, float t) {
    if (!p || !guide_mode_perturbs(p->mode) || n_steps <= 0) return 0.0f;
    if (!in_window(step, n_steps, p->start, p->stop)) return 0.0f;
    double s = p->scale;
    if (p->adaptive > 0.0f) {  // diffusers PAGMixin._get_pag_scale
        s = s - (double)p->adaptive * (1000.0 - (double)t);
        if (s < 0.0) s = 0.0;
    }
    return (float)s;
}

silt_status guide_plan_step(const guide_plan *pl, int step, int n_steps, float t, int batch, guide_step *st) {
    if (!pl || !st) return SILT_FAIL(SILT_ERR_ARG, "guidance: NULL argument");
    if (batch <= 0 || n_steps <= 0 || step < 0 || step >= n_steps)
        return SILT_FAIL(SILT_ERR_ARG, "guidance: bad step %d of %d, batch %d", step, n_steps, batch);
    const guide_params *p = &pl->p;
    guide_step s = {0};
    s.batch = batch;
    s.cfg = p->cfg;
    s.guided = p->guided_channels;
    s.blk_uncond = s.blk_perturbed = -1;
    int k = 0;
    if (guide_step_cfg(p, step, n_steps)) s.blk_uncond = k++;
    s.blk_cond = k++;
    float sc = guide_step_scale(p, step, n_steps, t);
    if (sc != 0.0f && pl->kind != SILT_PERTURB_NONE && pl->any) {
        s.blk_perturbed = k++;
        s.scale = sc;
        s.perturb.kind = pl->kind;
        s.perturb.row_begin = s.blk_perturbed * batch;
        s.perturb.row_end = (s.blk_perturbed + 1) * batch;
        s.perturb.n_layers = pl->n_layers;
        s.perturb.n_heads = pl->n_heads;
        s.perturb.u = pl->u;
        s.perturb.seg_sigma = p->seg_sigma;
    }
    s.n_blocks = k;
    *st = s;
    return SILT_OK;
}

const silt_perturb *guide_step_perturb(const guide_step *st) {
    return st && st->blk_perturbed >= 0 ? &st->perturb : NULL;
}

static silt_status combine_check(const char *fn, const guide_step *st, const float *out, const float *pred, int channels,
                                 int out_channels, int64_t hw) {
    if (!st || !out || !pred) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL argument", fn);
    if (channels <= 0 || out_channels <= 0 || out_channels > channels || hw <= 0 || st->batch <= 0 ||
        st->blk_cond < 0 || st->n_blocks < 1 || st->n_blocks > 3)
        return SILT_FAIL(SILT_ERR_ARG, "%s: bad shape (channels %d, out %d, hw %lld, batch %d, blocks %d)", fn, channels,
                         out_channels, (long long)hw, st->batch, st->n_blocks);
    return SILT_OK;
}

silt_status guide_combine_cuda(const guide_step *st, float *out, const float *pred, int channels, int out_channels,
                               int64_t hw) {
    SILT_TRY(combine_check("guide_combine_cuda", st, out, pred, channels, out_channels, hw));
    const int guided = st->guided > 0 && st->guided < out_channels ? st->guided : out_channels;
    return guide_combine_fwd_cuda(out, pred, st->batch, (int64_t)channels * hw, (int64_t)out_channels * hw,
                                  (int64_t)guided * hw, st->blk_cond, st->blk_uncond, st->blk_perturbed, st->cfg,
                                  st->scale);
}

silt_status guide_combine(const guide_step *st, float *out, const float *pred, int channels, int out_channels,
                          int64_t hw) {
    SILT_TRY(combine_check("guide_combine", st, out, pred, channels, out_channels, hw));
    const int64_t row = (int64_t)channels * hw;  // one model output row
    const int64_t blk = row * st->batch;          // one block of B rows
    const int guided = st->guided > 0 && st->guided < out_channels ? st->guided : out_channels;
    const float g = st->cfg, s = st->scale;
    for (int b = 0; b < st->batch; b++) {
        const float *ec = pred + st->blk_cond * blk + b * row;
        const float *eu = st->blk_uncond >= 0 ? pred + st->blk_uncond * blk + b * row : NULL;
        const float *ep = st->blk_perturbed >= 0 ? pred + st->blk_perturbed * blk + b * row : NULL;
        float *o = out + (int64_t)b * out_channels * hw;
        for (int64_t i = 0; i < (int64_t)guided * hw; i++) {
            float e = eu ? eu[i] + g * (ec[i] - eu[i]) : ec[i];
            if (ep) e += s * (ec[i] - ep[i]);
            o[i] = e;
        }
        if (guided < out_channels)
            memcpy(o + (int64_t)guided * hw, ec + (int64_t)guided * hw, sizeof(float) * (size_t)(out_channels - guided) * hw);
    }
    return SILT_OK;
}
