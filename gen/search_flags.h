// The test-time search flags shared by `gen generate` and `gen eval
// --suite` (--search, --n, --search-scales, --schedule, --potential,
// --lambda, --reward, --judge, --search-seed): var/search.h behind the CLI.
// The world VAR takes every kind; the world MMDiT takes best-of-n.
#ifndef GEN_SEARCH_FLAGS_H
#define GEN_SEARCH_FLAGS_H

#include <stdbool.h>
#include <stddef.h>

#include "gen/args.h"
#include "var/search.h"
#include "var/search_world.h"

#define GEN_SEARCH_NFLAGS 9

typedef struct gen_search_flags {
    int kind, potential, reward;  // var_search_kind, var_potential, var_reward_kind (choice indices)
    int n, seed;
    double lambda;
    const char *scales;    // "C,C:R,R" (either list may be empty), NULL: the paper's mapped to K
    const char *schedule;  // "a,b,..." K multipliers of N, NULL: the mapped paper schedule
    const char *judge;     // --reward judge: the world-judge file (required with it)
} gen_search_flags;

gen_search_flags gen_search_flags_default(void);  // none, n 1, value, lambda 10, eval, seed 0
void gen_search_flags_specs(gen_search_flags *f, arg_spec *specs);
// True when any search flag was given (for "only the world VAR" errors).
bool gen_search_flags_given(const arg_parser *ap, const bool *given, const char **first);
// The search for a VAR of K scales (K = 0: the world MMDiT, best-of-n only)
// into *out and the reward kind: kind none
// leaves out->kind none. Returns 0, or 2 with one usage line printed (bad
// lists, a flag that the chosen search does not read, var_search_check's
// complaints). plain_n: --n and --reward are read without a search too
// (gen eval --reward-correlation).
int gen_search_flags_resolve(const gen_search_flags *f, const arg_parser *ap, const bool *given, int n_scales,
                             bool plain_n, var_search_params *out, var_reward_kind *reward);
// The world-judge that --reward judge scores with (--judge FILE, else the
// built-in models/world-judge.safetensors.zst), into *out (NULL for other
// rewards); its image size must be img_size. Returns 0, 2 (usage: --judge
// without reward judge) or 1 (no built-in judge, or an unreadable file) with
// one error line printed.
struct wclip_model;
int gen_search_load_judge(const gen_search_flags *f, var_reward_kind reward, int img_size, struct wclip_model **out);
// "search: tts, n: 2, scales: 1,2:3,4, schedule: 8,6,4,2,1,1, potential: value, lambda: 10, reward: eval, search-seed: 0"
// (or "search: none") into buf; "reward: judge (FILE)" names the judge's file;
// n_scales 0 (the world MMDiT's best-of-n) has no search seed.
void gen_search_describe(const var_search_params *p, var_reward_kind reward, const char *judge, int n_scales,
                         char *buf, size_t n);

#endif
