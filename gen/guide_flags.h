// The guidance flags shared by `gen generate` and `gen eval --suite`
// (--guidance, --cfg, --pag-scale, --heads, --soft-u, --identity,
// --guide-start, --guide-stop, --cfg-start, --cfg-stop, --adaptive-scale,
// --seg-sigma), so both read
// them with the same names, ranges and checks.
#ifndef GEN_GUIDE_FLAGS_H
#define GEN_GUIDE_FLAGS_H

#include "gen/args.h"
#include "guidance/guidance.h"

#define GEN_GUIDE_NFLAGS 12

typedef struct gen_guide_flags {
    int mode, identity;  // guide_mode, guide_identity
    double cfg;          // NAN: the model's default
    double scale, soft_u, start, stop, cfg_start, cfg_stop, adaptive, sigma;
    const char *heads;   // spec or file, NULL: the mode's default heads
} gen_guide_flags;

extern const char *const gen_guidance_choices[];  // guide_mode names, NULL-terminated

// cfg mode, cfg NAN, s 3, u 0.5, perturbation window [0, 1), CFG window NAN (unset: [0, 1)), adaptive 0, sigma inf, identity auto.
gen_guide_flags gen_guide_flags_default(void);
// Writes the GEN_GUIDE_NFLAGS flag specs into specs, pointing into f.
// cfg_help: the --cfg help text (its default depends on the command).
void gen_guide_flags_specs(gen_guide_flags *f, const char *cfg_help, arg_spec *specs);
// After parsing: the window is ordered, --heads is only given with a
// perturbing mode, and parses (into *heads) as a spec or file. Returns 0, or
// the exit code with one line printed (2: usage).
int gen_guide_flags_check(const gen_guide_flags *f, const arg_parser *ap, guide_heads *heads);
// Copies the flags into p (cfg and the CFG window only when given).
void gen_guide_flags_apply(const gen_guide_flags *f, guide_params *p);

#endif
