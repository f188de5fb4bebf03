// Shared guidance flags (guide_flags.h).
#include "gen/guide_flags.h"

#include <math.h>
#include <stdio.h>

#include "core/status.h"

const char *const gen_guidance_choices[] = {"none", "cfg", "pag", "softpag", "seg", "slg", "uniform", NULL};
static const char *const identity_choices[] = {"auto", "joint", "image", NULL};

gen_guide_flags gen_guide_flags_default(void) {
    return (gen_guide_flags){.mode = GUIDE_CFG, .identity = GUIDE_IDENTITY_AUTO, .cfg = NAN, .scale = NAN,
                             .soft_u = 0.5, .start = 0.0, .stop = 1.0, .cfg_start = NAN, .cfg_stop = NAN, .adaptive = 0.0, .sigma = INFINITY};
}

void gen_guide_flags_specs(gen_guide_flags *f, const char *cfg_help, arg_spec *specs) {
    const arg_spec s[GEN_GUIDE_NFLAGS] = {
        {"guidance", 'g', ARG_CHOICE, &f->mode, "MODE", "guidance method (see above)", gen_guidance_choices, 0, -1},
        {"cfg", 0, ARG_FLOAT, &f->cfg, "G", cfg_help, NULL, -100, 100},
        {"pag-scale", 0, ARG_FLOAT, &f->scale, "S", "perturbation scale s for pag/softpag/seg/slg/uniform [default: the model's silt.pag_scale, else 3]", NULL, -100, 100},
        {"heads", 0, ARG_STR, &f->heads, "SPEC|FILE", "perturbed heads/layers (see above) [default: every head of layer depth/2]", NULL, 0, -1},
        {"soft-u", 0, ARG_FLOAT, &f->soft_u, "U", "SoftPAG u for heads without their own (1 = PAG)", NULL, 0, 1},
        {"identity", 0, ARG_CHOICE, &f->identity, "KIND", "MMDiT identity for pag/softpag", identity_choices, 0, -1},
        {"guide-start", 0, ARG_FLOAT, &f->start, "F", "perturbation on from this fraction of the steps", NULL, 0, 1},
        {"guide-stop", 0, ARG_FLOAT, &f->stop, "F", "perturbation off from this fraction of the steps", NULL, 0, 1},
        {"cfg-start", 0, ARG_FLOAT, &f->cfg_start, "F", "CFG on from this fraction of the steps (before it: the cond prediction alone, no uncond row) [default: 0]", NULL, 0, 1},
        {"cfg-stop", 0, ARG_FLOAT, &f->cfg_stop, "F", "CFG off from this fraction of the steps [default: 1]", NULL, 0, 1},
        {"adaptive-scale", 0, ARG_FLOAT, &f->adaptive, "A", "diffusers adaptive PAG scale: s(t) = max(0, s - A (1000 - t)); ~1e-3", NULL, 0, 1000},
        {"seg-sigma", 0, ARG_FLOAT, &f->sigma, "SIGMA", "SEG blur sigma over the token grid (> 9999: mean query) [default: inf (mean query)]", NULL, 1e-3, 1e30},
    };
    for (int i = 0; i < GEN_GUIDE_NFLAGS; i++) specs[i] = s[i];
}

int gen_guide_flags_check(const gen_guide_flags *f, const arg_parser *ap, guide_heads *heads) {
    if (f->start >= f->stop) return args_usage_error(ap, "--guide-start %g must be below --guide-stop %g", f->start, f->stop);
    if (f->cfg_start >= (isnan(f->cfg_stop) ? 1.0 : f->cfg_stop))
        return args_usage_error(ap, "--cfg-start %g must be below --cfg-stop %g", f->cfg_start, isnan(f->cfg_stop) ? 1.0 : f->cfg_stop);
    if (!f->heads) return 0;
    if (!guide_mode_perturbs((guide_mode)f->mode))
        return args_usage_error(ap, "--heads needs a perturbation guidance (pag, softpag, seg, slg, uniform), not %s",
                                gen_guidance_choices[f->mode]);
    silt_status s = guide_heads_from_arg(f->heads, heads);
    if (s == SILT_OK) return 0;
    // A bad spec or file content is the user's (2); an unreadable file is a runtime failure (1).
    if (s == SILT_ERR_ARG || s == SILT_ERR_FORMAT) {
        fprintf(stderr, "gen: %s\n", silt_last_error_message());
        return 2;
    }
    fprintf(stderr, "gen: %s: %s\n", f->heads, silt_last_error_message());
    return 1;
}

void gen_guide_flags_apply(const gen_guide_flags *f, guide_params *p) {
    p->mode = (guide_mode)f->mode;
    if (!isnan(f->cfg)) p->cfg = (float)f->cfg;
    if (!isnan(f->scale)) p->scale = (float)f->scale;
    p->soft_u = (float)f->soft_u;
    p->start = (float)f->start;
    p->stop = (float)f->stop;
    if (!isnan(f->cfg_start)) p->cfg_start = (float)f->cfg_start;
    if (!isnan(f->cfg_stop)) p->cfg_stop = (float)f->cfg_stop;
    p->adaptive = (float)f->adaptive;
    p->seg_sigma = (float)f->sigma;
    p->identity = (guide_identity)f->identity;
}
