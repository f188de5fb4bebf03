// VAR search flags (search_flags.h).
#include "gen/search_flags.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/lib/models.h"
#include "text/world_clip.h"

static const char *const kind_choices[] = {"none", "tts", "best-of-n", "importance", NULL};
static const char *const potential_choices[] = {"value", "diff", "sum", "max", NULL};
static const char *const reward_choices[] = {"eval", "clip", "judge", NULL};

gen_search_flags gen_search_flags_default(void) {
    return (gen_search_flags){.kind = VAR_SEARCH_NONE, .potential = VAR_POTENTIAL_VALUE, .reward = VAR_REWARD_EVAL,
                              .n = 1, .seed = 0, .lambda = 10.0, .scales = NULL, .schedule = NULL};
}

void gen_search_flags_specs(gen_search_flags *f, arg_spec *s) {
    const arg_spec specs[GEN_SEARCH_NFLAGS] = {
        {"search", 0, ARG_CHOICE, &f->kind, "KIND", "world VAR test-time search: none, tts (TTS-VAR), best-of-n, importance (see var/search.h)", kind_choices, 0, -1},
        {"n", 0, ARG_INT, &f->n, "N", "search budget N: best-of-n / importance draw N samples; tts keeps schedule x N", NULL, 1, 4096},
        {"search-scales", 0, ARG_STR, &f->scales, "C,..:R,..", "tts: clustering scales, then resampling scales (0-based; either list may be empty) [default: the paper's 2,5:6,9 of 13 mapped to the model's scales, 1,2:3,4 for the world's 6]", NULL, 0, -1},
        {"schedule", 0, ARG_STR, &f->schedule, "A,B,..", "tts: samples kept after each scale, in units of N (one per scale, non-increasing) [default: the paper's 8,6,4,2,1 changing at the search scales: 8,6,4,2,1,1 for 6 scales]", NULL, 0, -1},
        {"potential", 0, ARG_CHOICE, &f->potential, "P", "tts resampling potential: value, diff, sum or max", potential_choices, 0, -1},
        {"lambda", 0, ARG_FLOAT, &f->lambda, "L", "tts resampling and importance weights exp(lambda * potential)", NULL, 0, 1e6},
        {"reward", 0, ARG_CHOICE, &f->reward, "R", "search reward: eval (world-eval soft score vs the prompt: the evaluator itself, an oracle), clip (world-CLIP cosine) or judge (a world-judge, by default the built-in one: its head's logit + 2 x 100 x its cosine when it has a head, else its cosine)", reward_choices, 0, -1},
        {"judge", 0, ARG_STR, &f->judge, "FILE", "--reward judge: the world-judge model (a `gen train --arch clip --hard-negatives K [--itm-layers L]` export; default: the built-in models/world-judge.safetensors.zst)", NULL, 0, -1},
        {"search-seed", 0, ARG_INT, &f->seed, "S", "seed of the search's k-means++ and multinomial draws", NULL, 0, 2147483647},
    };
    memcpy(s, specs, sizeof specs);
}

static const char *const flag_names[] = {"n", "search-scales", "schedule", "potential", "lambda", "reward", "judge", "search-seed", "search", NULL};

bool gen_search_flags_given(const arg_parser *ap, const bool *given, const char **first) {
    for (int i = 0; flag_names[i]; i++)
        if (args_was_given(ap, given, flag_names[i])) {
            if (first) *first = flag_names[i];
            return true;
        }
    return false;
}

// "a,b,c" -> out (at most cap values in [lo, hi]); an empty string is 0 values. -1 on a bad list.
static int parse_list(const char *s, int *out, int cap, int lo, int hi) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end = NULL;
        long v = strtol(p, &end, 10);
        if (end == p || v < lo || v > hi || n >= cap) return -1;
        out[n++] = (int)v;
        if (*end == ',') p = end + 1;
        else if (*end == 0) p = end;
        else return -1;
        if (*end == ',' && !*p) return -1;
    }
    return n;
}

int gen_search_flags_resolve(const gen_search_flags *f, const arg_parser *ap, const bool *given, int K, bool plain_n,
                             var_search_params *out, var_reward_kind *reward) {
    var_search_params p = var_search_default_params(K);
    p.kind = (var_search_kind)f->kind;
    p.n = f->n;
    p.potential = (var_potential)f->potential;
    p.lambda = f->lambda;
    p.seed = (uint64_t)f->seed;
    *reward = (var_reward_kind)f->reward;
    if (p.kind == VAR_SEARCH_NONE) {
        const char *first = NULL;
        for (int i = 0; flag_names[i + 1]; i++)
            if (args_was_given(ap, given, flag_names[i]) &&
                !(plain_n && (!strcmp(flag_names[i], "n") || !strcmp(flag_names[i], "reward") ||
                              !strcmp(flag_names[i], "judge")))) {
                first = flag_names[i];
                break;
            }
        if (first) return args_usage_error(ap, "--%s needs --search tts|best-of-n|importance", first);
        *out = p;
        return 0;
    }
    if (p.kind != VAR_SEARCH_TTS) {
        static const char *const tts_only[] = {"search-scales", "schedule", "potential", NULL};
        for (int i = 0; tts_only[i]; i++)
            if (args_was_given(ap, given, tts_only[i]))
                return args_usage_error(ap, "--%s is for --search tts, not %s", tts_only[i], var_search_kind_name(p.kind));
        if (p.kind == VAR_SEARCH_BEST_OF_N && args_was_given(ap, given, "lambda"))
            return args_usage_error(ap, "--lambda is for --search tts and importance, not best-of-n");
    }
    if (f->scales) {
        const char *colon = strchr(f->scales, ':');
        if (!colon) return args_usage_error(ap, "--search-scales '%s': expected CLUSTER:RESAMPLE lists, e.g. 1,2:3,4 (':' for none)", f->scales);
        char c[256];
        size_t lc = (size_t)(colon - f->scales);
        if (lc >= sizeof c) return args_usage_error(ap, "--search-scales: too long");
        memcpy(c, f->scales, lc);
        c[lc] = 0;
        p.n_cluster = parse_list(c, p.cluster_at, VAR_SEARCH_MAX_AT, 0, K - 1);
        p.n_resample = parse_list(colon + 1, p.resample_at, VAR_SEARCH_MAX_AT, 0, K - 1);
        if (p.n_cluster < 0 || p.n_resample < 0)
            return args_usage_error(ap, "--search-scales '%s': scales are integers 0..%d separated by commas, at most %d per list",
                                    f->scales, K - 1, VAR_SEARCH_MAX_AT);
    }
    if (f->schedule) {
        int sched[VAR_MAX_SCALES];
        int n = parse_list(f->schedule, sched, VAR_MAX_SCALES, 1, 65536);
        if (n != K) return args_usage_error(ap, "--schedule '%s': expected %d positive integers (one per scale)", f->schedule, K);
        memcpy(p.schedule, sched, sizeof(int) * (size_t)K);
    }
    if (K == 0) {  // the world MMDiT: best-of-n over whole images, no scales to check
        if (p.kind != VAR_SEARCH_BEST_OF_N)
            return args_usage_error(ap, "--search %s is for the world VAR; the world MMDiT takes best-of-n",
                                    var_search_kind_name(p.kind));
        *out = p;
        return 0;
    }
    // var_search_check wants the callbacks: the pipeline sets them; stand-ins here.
    var_search_params chk = p;
    chk.reward = (var_reward_fn)var_world_reward_fn;
    chk.features = var_world_features_fn;
    chk.feat_tokens = chk.feat_dim = 1;
    if (var_search_check(&chk, K) != SILT_OK) return args_usage_error(ap, "%s", silt_last_error_message());
    *out = p;
    return 0;
}

static void list(char *buf, size_t n, const int *a, int k) {
    size_t len = strlen(buf);
    for (int i = 0; i < k && len < n; i++) len += (size_t)snprintf(buf + len, n - len, "%s%d", i ? "," : "", a[i]);
}

void gen_search_describe(const var_search_params *p, var_reward_kind reward, const char *judge, int K, char *buf,
                         size_t n) {
    if (!p || p->kind == VAR_SEARCH_NONE) { snprintf(buf, n, "search: none"); return; }
    snprintf(buf, n, "search: %s, n: %d", var_search_kind_name(p->kind), p->n);
    size_t len = strlen(buf);
    if (p->kind == VAR_SEARCH_TTS && len < n) {
        snprintf(buf + len, n - len, ", scales: ");
        list(buf, n, p->cluster_at, p->n_cluster);
        len = strlen(buf);
        if (len < n) snprintf(buf + len, n - len, ":");
        list(buf, n, p->resample_at, p->n_resample);
        len = strlen(buf);
        if (len < n) snprintf(buf + len, n - len, ", schedule: ");
        list(buf, n, p->schedule, K);
        len = strlen(buf);
        if (len < n) snprintf(buf + len, n - len, ", potential: %s", var_potential_name(p->potential));
    }
    len = strlen(buf);
    if (p->kind != VAR_SEARCH_BEST_OF_N && len < n) snprintf(buf + len, n - len, ", lambda: %g", p->lambda);
    len = strlen(buf);
    if (len < n) snprintf(buf + len, n - len, ", reward: %s", var_reward_kind_name(reward));
    len = strlen(buf);
    if (reward == VAR_REWARD_JUDGE && len < n) {
        if (!judge) judge = SILT_MODEL_WORLD_JUDGE;  // the built-in one
        const char *slash = strrchr(judge, '/');
        snprintf(buf + len, n - len, " (%s)", slash ? slash + 1 : judge);
    }
    len = strlen(buf);
    if (K > 0 && len < n) snprintf(buf + len, n - len, ", search-seed: %llu", (unsigned long long)p->seed);
}

int gen_search_load_judge(const gen_search_flags *f, var_reward_kind reward, int img_size, wclip_model **out) {
    *out = NULL;
    if (f->judge && reward != VAR_REWARD_JUDGE) {
        fprintf(stderr, "gen: --judge is the model of --reward judge (this search's reward is %s)\n",
                var_reward_kind_name(reward));
        return 2;
    }
    if (reward != VAR_REWARD_JUDGE) return 0;
    const char *file = f->judge;
    char builtin[4096];
    if (!file) {  // the built-in world-judge
        if (silt_models_find(SILT_MODEL_WORLD_JUDGE, builtin, sizeof builtin) != SILT_OK) {
            fprintf(stderr, "gen: --reward judge: %s; give --judge FILE (a `gen train --arch clip --hard-negatives K "
                            "--itm-layers L` export)\n", silt_last_error_message());
            return 1;
        }
        file = builtin;
    }
    if (wclip_load_file(file, out) != SILT_OK) {
        fprintf(stderr, "gen: --reward judge: %s: %s\n", file, silt_last_error_message());
        return 1;
    }
    if (wclip_get_config(*out)->img_size != img_size) {
        fprintf(stderr, "gen: --reward judge: %s judges %d px images, these are %d px\n", file,
                wclip_get_config(*out)->img_size, img_size);
        wclip_free(*out);
        *out = NULL;
        return 1;
    }
    return 0;
}
