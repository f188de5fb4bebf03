// gen eval --suite: world-GenEval of a world model (or a pseudo-model that
// checks the harness) over the eval or heldout prompt suite, with the
// world-CLIP score, world-FD and generation speed (gen/lib/suite_eval.h).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/json.h"
#include "core/log.h"
#include "cuda/cuda.h"
#include "gen/args.h"
#include "gen/commands.h"
#include "gen/guide_flags.h"
#include "gen/lib/models.h"
#include "gen/lib/suite_eval.h"
#include "gen/lib/txt2img.h"
#include "gen/search_flags.h"

static const char *const suite_choices[] = {"train", "eval", "heldout", NULL};

static const char summary[] =
    "world-GenEval over a fixed prompt suite: each item is generated once at the model's native size\n"
    "(32 px), its noise drawn from the item's fixed seed (plus --seed), and judged by world-eval against\n"
    "its caption. Prints the pass rate overall and per category (n items), the mean soft score\n"
    "(fraction of requirements met), the world-CLIP score (mean 100 cos(image, caption) embedding), the\n"
    "world-FD (Frechet distance between the L2-normalised world-CLIP image embeddings of the generated\n"
    "images and of the renders of the same items' reference scenes; with fewer items than embedding\n"
    "dimensions (64 for the default world-CLIP) it is biased: compare runs of equal --limit only) and images/s of\n"
    "generation alone. The suites interleave the categories, so any --limit prefix is balanced.\n"
    "\n"
    "--model: a world model (default: the built-in " SILT_MODEL_WORLD_DIT ", see gen --help), or a\n"
    "  pseudo-model that checks the harness without one: render (the reference renders: GenEval 1,\n"
    "  FD ~0), noise (uniform noise pixels) or shuffled (each caption gets the next item's render);\n"
    "  the last two must score low. ./render names a file called render.\n"
    "--clip: the world-CLIP for the scores [default: the model's text encoder; for pseudo-models the\n"
    "  built-in " SILT_MODEL_WORLD_CLIP ", skipped with a warning when absent].\n"
    "--arch var: the world VAR (default: the built-in " SILT_MODEL_WORLD_VAR " with its tokenizer\n"
    "  " SILT_MODEL_WORLD_VQ "; --model / --vq name others), each item sampled alone from its seed\n"
    "  (Philox stream 0), optionally with a test-time search (--search tts|best-of-n|importance --n N\n"
    "  ..., as in gen generate; the search's reward is judged against the item's caption). The\n"
    "  compute (token-forwards with CFG rows, FLOPs estimate, decodes, reward and feature calls) is\n"
    "  reported. --reward-correlation instead draws --n samples per item (best-of-n's draws, n >= 2),\n"
    "  decodes and scores every one after every scale and prints, per scale, the Pearson and Spearman\n"
    "  correlation of the intermediate with the final reward (and Pearson within prompts).\n"
    "The world MMDiT takes --search best-of-n --n N (each item drawn N times, candidate k from stream k\n"
    "  of its seed, candidate 0 the plain sample; the one the reward scores highest is judged): --reward\n"
    "  clip (default here: the model's world-CLIP), judge (the built-in world-judge, which reads\n"
    "  relations, or --judge FILE: a world-CLIP trained with hard-negative captions), or eval (the\n"
    "  evaluator itself: an oracle's upper bound, not a result).\n"
    "Guidance flags as in gen generate (--guidance none|cfg|pag|softpag|seg|slg|uniform, --heads ...).\n"
    "Exit: 0 ok (whatever the scores), 1 runtime failure, 2 usage error.";

static void json_num(silt_json_buf *b, const char *key, double v, bool comma) {
    if (isfinite(v)) silt_json_buf_printf(b, "  \"%s\": %.6g%s\n", key, v, comma ? "," : "");
    else silt_json_buf_printf(b, "  \"%s\": null%s\n", key, comma ? "," : "");
}

static void compute_json(silt_json_buf *b, const silt_suite_eval_result *r, const char *search) {
    silt_json_buf_printf(b, "  \"var\": {\"search\": ");
    silt_json_buf_string(b, search, strlen(search));
    silt_json_buf_printf(b, ", \"token_forwards\": %lld, \"plain_token_forwards\": %lld, \"flops\": %.6g, "
                            "\"plain_flops\": %.6g, \"decodes\": %lld, \"reward_calls\": %lld, \"feature_calls\": %lld},\n",
                         (long long)r->compute.token_forwards, (long long)r->compute.plain_token_forwards, r->compute.flops, r->compute.plain_flops,
                         (long long)r->compute.decodes, (long long)r->compute.reward_calls, (long long)r->compute.feature_calls);
}

static void compute_text(const silt_suite_eval_result *r, const char *search) {
    printf("var %s\ncompute:           token-forwards %lld (%.2fx plain), FLOPs %.4g (%.2fx plain), decodes %lld, "
           "reward calls %lld, feature calls %lld\n", search, (long long)r->compute.token_forwards,
           r->compute.plain_token_forwards ? (double)r->compute.token_forwards / (double)r->compute.plain_token_forwards : 0.0, r->compute.flops,
           r->compute.plain_flops > 0 ? r->compute.flops / r->compute.plain_flops : 0.0, (long long)r->compute.decodes, (long long)r->compute.reward_calls,
           (long long)r->compute.feature_calls);
}

static void print_json(const silt_suite_eval_params *p, const silt_suite_eval_result *r, const char *model,
                       const char *clip, int steps, const char *search, const char *dit_search, const char *precision) {
    silt_json_buf b = {0};
    silt_json_buf_printf(&b, "{\n  \"suite\": \"%s\",\n  \"model\": ", world_suite_name(p->suite));
    silt_json_buf_string(&b, model, strlen(model));
    silt_json_buf_printf(&b, ",\n  \"source\": \"%s\",\n  \"clip\": ", silt_suite_source_name(p->source));
    if (clip) silt_json_buf_string(&b, clip, strlen(clip));
    else silt_json_buf_printf(&b, "null");
    silt_json_buf_printf(&b, ",\n  \"items\": %lld,\n  \"seed\": %llu,\n  \"size\": %d,\n", (long long)r->n,
                         (unsigned long long)p->seed, r->size);
    if (p->source == SILT_SUITE_MODEL && search) {
        silt_json_buf_printf(&b, "  \"sampler\": \"next-scale\",\n  \"guidance\": {\"mode\": \"%s\", \"cfg\": %g},\n",
                             guide_mode_name(p->gen.guide.mode),
                             p->gen.guide.mode == GUIDE_NONE ? 0.0 : (double)p->gen.var.cfg);
    } else if (p->source == SILT_SUITE_MODEL) {
        const guide_params *g = &p->gen.guide;
        silt_json_buf_printf(&b, "  \"steps\": %d,\n  \"guidance\": {\"mode\": \"%s\", \"cfg\": %g, \"cfg_window\": [%g, %g], "
                                 "\"scale\": %g, \"heads\": ",
                             steps, guide_mode_name(g->mode), (double)g->cfg, (double)g->cfg_start, (double)g->cfg_stop,
                             (double)g->scale);
        silt_json_buf_string(&b, r->heads, strlen(r->heads));
        silt_json_buf_printf(&b, "},\n");
        if (dit_search) {  // best-of-n: model_rows counts every candidate's rows
            silt_json_buf_printf(&b, "  \"search\": ");
            silt_json_buf_string(&b, dit_search, strlen(dit_search));
            silt_json_buf_printf(&b, ",\n");
        }
    }
    if (p->source == SILT_SUITE_MODEL) silt_json_buf_printf(&b, "  \"precision\": \"%s\",\n", precision);
    if (search) compute_json(&b, r, search);
    silt_json_buf_printf(&b, "  \"passed\": %lld,\n", (long long)r->passed);
    json_num(&b, "geneval", r->geneval, true);
    silt_json_buf_printf(&b, "  \"categories\": {");
    for (int c = 0, k = 0; c < WORLD_CAT_COUNT; c++) {
        if (!r->cat_n[c]) continue;
        silt_json_buf_printf(&b, "%s\n    \"%s\": {\"n\": %lld, \"passed\": %lld, \"pass_rate\": %.6g}", k++ ? "," : "",
                             world_category_name((world_category)c), (long long)r->cat_n[c], (long long)r->cat_passed[c],
                             (double)r->cat_passed[c] / (double)r->cat_n[c]);
    }
    silt_json_buf_printf(&b, "\n  },\n");
    json_num(&b, "soft_score", r->soft, true);
    json_num(&b, "clip_score", r->has_clip ? r->clip_score : NAN, true);
    json_num(&b, "fd", r->has_clip ? r->fd : NAN, true);
    silt_json_buf_printf(&b, "  \"fd_features\": \"L2-normalised world-CLIP image embeddings\",\n");
    json_num(&b, "images_per_s", r->images_per_s, true);
    json_num(&b, "gen_seconds", r->gen_seconds, true);
    silt_json_buf_printf(&b, "  \"model_rows\": %lld%s\n", (long long)r->model_rows, r->item ? "," : "");
    if (r->item) {
        silt_json_buf_printf(&b, "  \"per_item\": [");
        for (int64_t i = 0; i < r->n; i++) {
            const silt_suite_eval_item *v = &r->item[i];
            world_item it;
            const char *caption = world_suite_item(p->suite, 0, v->index, &it) == SILT_OK ? it.caption : "";
            silt_json_buf_printf(&b, "%s\n    {\"index\": %lld, \"category\": \"%s\", \"pass\": %s, \"soft\": %.6g, ",
                                 i ? "," : "", (long long)v->index, world_category_name(v->category),
                                 v->pass ? "true" : "false", v->soft);
            if (isfinite(v->clip_cos)) silt_json_buf_printf(&b, "\"clip_cos\": %.6g, ", v->clip_cos);
            else silt_json_buf_printf(&b, "\"clip_cos\": null, ");
            silt_json_buf_printf(&b, "\"caption\": ");
            silt_json_buf_string(&b, caption, strlen(caption));
            silt_json_buf_printf(&b, "}");
        }
        silt_json_buf_printf(&b, "\n  ]\n");
    }
    silt_json_buf_printf(&b, "}\n");
    if (!b.failed) fwrite(b.data, 1, b.len, stdout);
    silt_json_buf_free(&b);
}

static void print_text(const silt_suite_eval_params *p, const silt_suite_eval_result *r, const char *model,
                       const char *clip, int steps, const char *search, const char *dit_search, const char *precision) {
    printf("world-GenEval %s: %.4f  (%lld/%lld items, %s", world_suite_name(p->suite), r->geneval, (long long)r->passed,
           (long long)r->n, model);
    if (p->source == SILT_SUITE_MODEL && search) {
        printf(", next-scale, guidance %s, cfg %g, top-k %d, top-p %g", guide_mode_name(p->gen.guide.mode),
               p->gen.guide.mode == GUIDE_NONE ? 0.0 : (double)p->gen.var.cfg, p->gen.var.top_k, (double)p->gen.var.top_p);
    } else if (p->source == SILT_SUITE_MODEL) {
        printf(", %d steps, guidance %s, cfg %g", steps, guide_mode_name(p->gen.guide.mode), (double)p->gen.guide.cfg);
        if (r->heads[0]) printf(", scale %g, heads %s", (double)p->gen.guide.scale, r->heads);
        if (dit_search) printf(", %s", dit_search);
    }
    if (p->source == SILT_SUITE_MODEL && strcmp(precision, "fp32")) printf(", precision %s", precision);
    printf(")\n");
    for (int c = 0; c < WORLD_CAT_COUNT; c++)
        if (r->cat_n[c])
            printf("  %-20s %.4f  (n %lld)\n", world_category_name((world_category)c),
                   (double)r->cat_passed[c] / (double)r->cat_n[c], (long long)r->cat_n[c]);
    printf("soft score:        %.4f\n", r->soft);
    if (r->has_clip) {
        printf("world-CLIP score:  %.2f  (%s)\n", r->clip_score, clip);
        if (isfinite(r->fd)) printf("world-FD:          %.4f  (L2-normalised world-CLIP image embeddings vs reference renders)\n", r->fd);
        else printf("world-FD:          n/a (needs 2 items or more)\n");
    } else {
        printf("world-CLIP score:  n/a (no world-CLIP)\nworld-FD:          n/a (no world-CLIP)\n");
    }
    printf("generation:        %.2f images/s  (%lld images of %dx%d in %.2f s)\n", r->images_per_s, (long long)r->n,
           r->size, r->size, r->gen_seconds);
    if (search) compute_text(r, search);
    for (int64_t i = 0; r->item && i < r->n; i++) {
        const silt_suite_eval_item *v = &r->item[i];
        world_item it;
        const char *caption = world_suite_item(p->suite, 0, v->index, &it) == SILT_OK ? it.caption : "";
        printf("%s%5lld  %-18s %s  soft %.3f  %s\n", i ? "" : "per item:\n", (long long)v->index,
               world_category_name(v->category), v->pass ? "pass" : "FAIL", v->soft, caption);
    }
}

static void print_corr(const silt_reward_corr_result *c, const char *reward, bool json) {
    if (json) {
        silt_json_buf b = {0};
        silt_json_buf_printf(&b, "{\n  \"reward\": \"%s\",\n  \"items\": %lld,\n  \"samples\": %lld,\n  \"scales\": [",
                             reward, (long long)c->items, (long long)c->samples);
        for (int k = 0; k < c->n_scales; k++) {
            silt_json_buf_printf(&b, "%s\n    {\"scale\": %d, \"pn\": %d, \"mean\": %.6g, ", k ? "," : "", k, c->pn[k], c->mean[k]);
            double v[3] = {c->pearson[k], c->spearman[k], c->within[k]};
            const char *names[3] = {"pearson", "spearman", "within_pearson"};
            for (int j = 0; j < 3; j++) {
                if (isfinite(v[j])) silt_json_buf_printf(&b, "\"%s\": %.6g%s", names[j], v[j], j < 2 ? ", " : "}");
                else silt_json_buf_printf(&b, "\"%s\": null%s", names[j], j < 2 ? ", " : "}");
            }
        }
        silt_json_buf_printf(&b, "\n  ]\n}\n");
        if (!b.failed) fwrite(b.data, 1, b.len, stdout);
        silt_json_buf_free(&b);
        return;
    }
    printf("reward correlation (%s): %lld items x %lld samples each; intermediate (decoded after scale k) vs final reward\n",
           reward, (long long)c->items, (long long)(c->items ? c->samples / c->items : 0));
    printf("| scale | tokens | mean reward | Pearson | Spearman | Pearson within prompts |\n|---|---|---|---|---|---|\n");
    // A correlation is undefined when either reward is constant (a random
    // model, or every sample passing): "-" as the JSON's null.
    for (int k = 0; k < c->n_scales; k++) {
        double v[3] = {c->pearson[k], c->spearman[k], c->within[k]};
        char cell[3][16];
        for (int j = 0; j < 3; j++) {
            if (isfinite(v[j])) snprintf(cell[j], sizeof cell[j], "%.3f", v[j]);
            else snprintf(cell[j], sizeof cell[j], "-");
        }
        printf("| %d | %dx%d | %.4f | %s | %s | %s |\n", k, c->pn[k], c->pn[k], c->mean[k], cell[0], cell[1], cell[2]);
    }
}

static const char *const device_choices[] = {"auto", "cpu", "cuda", NULL};

int cmd_eval_suite(int argc, char **argv) {
    const char *model = NULL, *clip = NULL, *arch = NULL, *vq = NULL, *dump = NULL;
    bool corr = false;
    int suite = 1, steps = 0, limit = 0, batch = 8, seed = 0, device = 0;  // device_choices: auto
    int precision = 0;                                                     // silt_precision_names: fp32
    double shift = 3.0;
    bool json = false, quiet = false, per_item = false;
    gen_guide_flags gf = gen_guide_flags_default();
    const arg_spec own[] = {
        {"suite", 0, ARG_CHOICE, &suite, "NAME", "prompt suite: eval (504 prompts) or heldout (144)", suite_choices, 0, -1},
        {"model", 'm', ARG_STR, &model, "PATH|PSEUDO", "world model, or render | noise | shuffled (see above) [default: the built-in world model]", NULL, 0, -1},
        {"clip", 'c', ARG_STR, &clip, "PATH", "world-CLIP: the model's text encoder and the scorer [default: see above]", NULL, 0, -1},
        {"arch", 0, ARG_STR, &arch, "mmdit|var", "the built-in world model to evaluate without --model: mmdit or var (see above)", NULL, 0, -1},
        {"vq", 0, ARG_STR, &vq, "PATH", "VAR: its tokenizer [default with --arch var: the built-in " SILT_MODEL_WORLD_VQ "]", NULL, 0, -1},
        {"reward-correlation", 0, ARG_BOOL, &corr, NULL, "world VAR: intermediate vs final reward per scale over --n samples per item (see above)", NULL, 0, -1},
        {"steps", 0, ARG_INT, &steps, "N", "sampling steps [default: the model's silt.steps]", NULL, 1, 1000},
        {"shift", 0, ARG_FLOAT, &shift, "K", "flow_euler schedule shift [default: the model's silt.shift]", NULL, 0.01, 100},
        {"limit", 'n', ARG_INT, &limit, "N", "the first N items (0: the whole suite)", NULL, 0, 2147483647},
        {"batch", 'b', ARG_INT, &batch, "B", "items per model call", NULL, 1, 256},
        {"seed", 's', ARG_INT, &seed, "S", "added to every item's fixed noise seed (0: the suite's own noise)", NULL, 0, 2147483647},
        {"device", 0, ARG_CHOICE, &device, "DEV", "where the model runs: auto (cuda when a GPU is usable), cpu, cuda", device_choices, 0, -1},
        {"precision", 0, ARG_CHOICE, &precision, "P", "the model's arithmetic on cuda: fp32, tf32 or bf16 (as gen generate --precision)", silt_precision_names, 0, -1},
        {"json", 0, ARG_BOOL, &json, NULL, "print one JSON object", NULL, 0, -1},
        {"per-item", 0, ARG_BOOL, &per_item, NULL,
         "also print each item's verdict (JSON: per_item), to pair two runs item by item (tools/paired_eval.py)",
         NULL, 0, -1},
        {"dump", 0, ARG_STR, &dump, "DIR",
         "also write each judged image as DIR/<item>.png (the caption, then the category and verdict, in its "
         "parameters; DIR must exist)",
         NULL, 0, -1},
        {"quiet", 'q', ARG_BOOL, &quiet, NULL, "no progress bar", NULL, 0, -1},
    };
    gen_search_flags sf = gen_search_flags_default();
    enum { N_OWN = sizeof own / sizeof *own, N_SPECS = N_OWN + GEN_GUIDE_NFLAGS + GEN_SEARCH_NFLAGS };
    arg_spec specs[N_SPECS];
    memcpy(specs, own, sizeof own);
    gen_search_flags_specs(&sf, specs + N_OWN + GEN_GUIDE_NFLAGS);
    gen_guide_flags_specs(&gf, "CFG scale g (1 = off) [default: the model's silt.cfg]", specs + N_OWN);
    arg_parser ap = {"gen eval --suite",
                     "gen eval --suite eval|heldout [--model M|render|noise|shuffled] [--clip C] [--guidance MODE ...]\n"
                     "           [--steps N] [--limit N] [--batch B] [--seed S] [--json] [--per-item] [--dump DIR]\n"
                     "       gen eval --suite eval --arch var [--model VAR --vq VQ] [--search KIND --n N ...] [--reward-correlation]",
                     summary, specs, N_SPECS, NULL, 0, 0};
    bool given[N_SPECS];
    int rc = args_parse_given(&ap, argc, argv, given);
    if (rc) return rc == 1 ? 0 : rc;
    if (!args_was_given(&ap, given, "suite")) return args_usage_error(&ap, "--suite eval|heldout is required");
    if (suite == WORLD_SUITE_TRAIN) return args_usage_error(&ap, "--suite train has no fixed prompts: use eval or heldout");

    silt_suite_eval_params p = silt_suite_eval_default_params();
    p.suite = (world_suite)suite;
    p.limit = limit;
    p.batch = batch;
    p.seed = (uint64_t)seed;
    p.progress = !quiet;
    p.per_item = per_item;
    p.dump_dir = dump;
    if (arch && strcmp(arch, "var") && strcmp(arch, "mmdit"))
        return args_usage_error(&ap, "--arch %s: expected mmdit or var", arch);
    const bool want_var = arch && !strcmp(arch, "var");
    if (vq && arch && !want_var) return args_usage_error(&ap, "--vq is the world VAR's tokenizer: not for --arch %s", arch);
    if (corr && !want_var) return args_usage_error(&ap, "--reward-correlation needs --arch var");
    if (corr && per_item) return args_usage_error(&ap, "--per-item is for world-GenEval, not --reward-correlation");
    if (corr && dump) return args_usage_error(&ap, "--dump is for world-GenEval, not --reward-correlation");
    if (dump) {
        struct stat st;
        if (!*dump || stat(dump, &st) != 0 || !S_ISDIR(st.st_mode))
            return args_usage_error(&ap, "--dump %s: not an existing folder", dump);
    }
    if (model && !strchr(model, '/') && silt_suite_source_from_name(model, &p.source) == SILT_OK &&
        p.source != SILT_SUITE_MODEL) {
        static const char *const gen_only[] = {"device", "precision", "steps", "shift", "batch", "guidance", "cfg", "pag-scale", "heads",
                                               "soft-u", "identity", "guide-start", "guide-stop", "cfg-start", "cfg-stop",
                                               "adaptive-scale", "seg-sigma", NULL};
        for (int i = 0; gen_only[i]; i++)
            if (args_was_given(&ap, given, gen_only[i]))
                return args_usage_error(&ap, "--%s does not apply to --model %s (no generation)", gen_only[i], model);
        const char *first = NULL;
        if (gen_search_flags_given(&ap, given, &first))
            return args_usage_error(&ap, "--%s does not apply to --model %s (no generation)", first, model);
        if (want_var) return args_usage_error(&ap, "--arch var and --model %s: pick one", model);
    } else {
        p.source = SILT_SUITE_MODEL;
    }

    guide_heads heads = {0};
    silt_txt2img *t = NULL;
    wclip_model *own_clip = NULL, *judge = NULL;
    char builtin[4096], clip_found[4096], builtin_vq[4096], search_desc[512] = "", dit_search[512] = "";
    var_search_params search = {0};
    var_reward_kind reward = VAR_REWARD_EVAL;
    const char *clip_used = NULL;
    int status = 1;
    if (p.source == SILT_SUITE_MODEL) {
        if ((rc = gen_guide_flags_check(&gf, &ap, &heads)) != 0) return rc;
        if (!model) {
            if (silt_models_find(want_var ? SILT_MODEL_WORLD_VAR : SILT_MODEL_WORLD_DIT, builtin, sizeof builtin) != SILT_OK)
                return gen_fail(NULL);
            model = builtin;
        }
        if (want_var && !vq) {
            if (silt_models_find(SILT_MODEL_WORLD_VQ, builtin_vq, sizeof builtin_vq) != SILT_OK) return gen_fail(NULL);
            vq = builtin_vq;
        }
        silt_status s = silt_txt2img_load(model, vq, clip, &t);
        if (s != SILT_OK) {
            status = s == SILT_ERR_ARG ? (fprintf(stderr, "gen: %s\n", silt_last_error_message()), 2) : gen_fail(model);
            goto done;
        }
        const silt_txt2img_info *in = silt_txt2img_get_info(t);
        if (!in->world_text) {
            status = args_usage_error(&ap, "--model %s is not a world model (MMDiT with metadata silt.text_encoder = "
                                           "world-clip): it cannot take the suite's captions", model);
            goto done;
        }
        const bool is_var = in->family == SILT_FAMILY_VAR;
        if (arch && strcmp(arch, silt_family_name(in->family))) {
            status = args_usage_error(&ap, "--arch %s, but %s is a %s model", arch, model, silt_family_name(in->family));
            goto done;
        }
        if (is_var && (args_was_given(&ap, given, "steps") || args_was_given(&ap, given, "shift"))) {
            status = args_usage_error(&ap, "--%s does not apply to VAR", args_was_given(&ap, given, "steps") ? "steps" : "shift");
            goto done;
        }
        if (is_var && gf.mode != GUIDE_NONE && gf.mode != GUIDE_CFG) {
            status = args_usage_error(&ap, "--guidance %s does not apply to VAR: use cfg (on the logits) or none",
                                      gen_guidance_choices[gf.mode]);
            goto done;
        }
        if ((rc = gen_search_flags_resolve(&sf, &ap, given, is_var ? in->n_scales : 0, corr, &search, &reward)) != 0) {
            status = rc;
            goto done;
        }
        if (is_var) {
            if (corr && search.kind != VAR_SEARCH_NONE) {
                status = args_usage_error(&ap, "--reward-correlation draws plain samples: drop --search");
                goto done;
            }
            gen_search_describe(&search, reward, sf.judge, in->n_scales, search_desc, sizeof search_desc);
        } else if (search.kind != VAR_SEARCH_NONE) {  // the world MMDiT's best-of-n; as gen generate, clip unless --reward
            if (!args_was_given(&ap, given, "reward")) reward = VAR_REWARD_CLIP;
        }
        if ((search.kind != VAR_SEARCH_NONE || corr) &&
            (rc = gen_search_load_judge(&sf, reward, in->native_width, &judge)) != 0) {
            status = rc;
            goto done;
        }
        if (!is_var && search.kind != VAR_SEARCH_NONE) {
            gen_search_describe(&search, reward, sf.judge, 0, dit_search, sizeof dit_search);
        }
        // As gen generate: the probe's "no usable GPU" note stays off stderr
        // (auto falls back quietly; --device cuda fails with the reason).
        silt_log_level lv = silt_log_get_level();
        if (lv > SILT_LOG_WARN) silt_log_set_level(SILT_LOG_WARN);
        bool gpu = silt_cuda_available(), want_cuda = device == 2 || (device == 0 && gpu);
        silt_log_set_level(lv);
        if (want_cuda) {
            s = silt_txt2img_set_device(t, SILT_CUDA);
            if (s != SILT_OK) { status = gen_fail("--device cuda"); goto done; }
        }
        if (precision != SILT_PRECISION_FP32 && !want_cuda) {
            status = args_usage_error(&ap, "--precision %s runs on cuda; this run is on the cpu%s",
                                      silt_precision_names[precision], device == 0 ? " (no usable GPU)" : "");
            goto done;
        }
        if (precision == SILT_PRECISION_BF16 && is_var) {
            status = args_usage_error(&ap, "--precision bf16 is for the MMDiT; a VAR runs in fp32 or tf32");
            goto done;
        }
        s = silt_txt2img_set_precision(t, (silt_precision)precision);
        if (s != SILT_OK) { status = gen_fail("--precision"); goto done; }
        p.model = t;
        p.gen = silt_txt2img_default_params(t);
        if (is_var || search.kind != VAR_SEARCH_NONE) {
            p.gen.search = &search;
            p.gen.search_reward = reward;
            p.gen.search_judge = judge;
        }
        if (is_var && !isnan(gf.cfg)) p.gen.var.cfg = (float)gf.cfg;
        if (steps > 0) p.gen.sampler.steps = steps;
        if (args_was_given(&ap, given, "shift")) p.gen.sampler.shift = shift;
        gen_guide_flags_apply(&gf, &p.gen.guide);
        p.gen.heads = &heads;
        p.clip = silt_txt2img_clip(t);
        clip_used = in->clip_path;
    } else {
        if (!clip && silt_models_find(SILT_MODEL_WORLD_CLIP, clip_found, sizeof clip_found) == SILT_OK) clip = clip_found;
        if (clip) {
            if (wclip_load_file(clip, &own_clip) != SILT_OK) { status = gen_fail(clip); goto done; }
            p.clip = own_clip;
            clip_used = clip;
        } else {
            fprintf(stderr, "gen: warning: %s; world-CLIP score and world-FD skipped (pass --clip)\n", silt_last_error_message());
        }
    }
    if (corr) {
        silt_reward_corr_result cr;
        silt_status s = silt_suite_reward_correlation(&p, sf.n, &cr);
        if (s != SILT_OK) {
            status = s == SILT_ERR_ARG ? (fprintf(stderr, "gen: %s\n", silt_last_error_message()), 2) : gen_fail("eval");
            goto done;
        }
        print_corr(&cr, var_reward_kind_name(reward), json);
        status = 0;
        goto done;
    }
    silt_suite_eval_result r;
    silt_status s = silt_suite_eval_run(&p, &r);
    if (s != SILT_OK) {
        status = s == SILT_ERR_ARG ? (fprintf(stderr, "gen: %s\n", silt_last_error_message()), 2) : gen_fail("eval");
        goto done;
    }
    const char *mname = strrchr(model ? model : "", '/') ? strrchr(model, '/') + 1 : (model ? model : "");
    const char *cname = clip_used ? (strrchr(clip_used, '/') ? strrchr(clip_used, '/') + 1 : clip_used) : NULL;
    const char *sd = search_desc[0] ? search_desc : NULL;
    const char *ds = dit_search[0] ? dit_search : NULL;
    if (json) print_json(&p, &r, mname, cname, p.gen.sampler.steps, sd, ds, silt_precision_names[precision]);
    else print_text(&p, &r, mname, cname, p.gen.sampler.steps, sd, ds, silt_precision_names[precision]);
    silt_suite_eval_result_free(&r);
    status = 0;
done:
    silt_txt2img_free(t);
    wclip_free(own_clip);
    wclip_free(judge);
    guide_heads_free(&heads);
    return status;
}
