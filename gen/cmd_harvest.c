// gen world harvest: a world MMDiT's verified self-samples (gen/lib/harvest.h)
// for `gen train --arch mmdit --samples`.
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "cuda/cuda.h"
#include "gen/args.h"
#include "gen/commands.h"
#include "gen/lib/harvest.h"
#include "gen/lib/models.h"

static const char *const device_choices[] = {"auto", "cpu", "cuda", NULL};

int world_harvest_cmd(int argc, char **argv) {
    const char *model = NULL, *clip = NULL, *out = NULL, *cat_spec = NULL;
    int count = 0, offset = 0, seed = 0, tries = 4, batch = 16, steps = 0, device = 0;
    double cfg = -1;
    bool quiet = false, all = false;
    arg_spec specs[] = {
        {"model", 'm', ARG_STR, &model, "PATH", "world MMDiT [default: the built-in " SILT_MODEL_WORLD_DIT "]", NULL, 0, -1},
        {"clip", 'c', ARG_STR, &clip, "PATH", "its world-CLIP [default: the model's]", NULL, 0, -1},
        {"count", 'n', ARG_INT, &count, "N", "train-suite items to try [default: none: required]", NULL, 1, 100000000},
        {"offset", 0, ARG_INT, &offset, "K", "first train-suite index (runs with other offsets add disjoint items)", NULL, 0, 2147483647},
        {"seed", 's', ARG_INT, &seed, "S", "the train items' seed and the candidates' noise", NULL, 0, 2147483647},
        {"tries", 't', ARG_INT, &tries, "T", "candidates per item; the first the evaluator passes is kept (--all: every one)", NULL, 1, 64},
        {"all", 0, ARG_BOOL, &all, NULL,
         "keep every candidate with the evaluator's verdict (a labelled set for gen train --arch clip --samples or --arch mmdit --dpo)", NULL, 0, -1},
        {"category-weights", 0, ARG_STR, &cat_spec, "SPEC",
         "the train sampler's category mix, e.g. position=6 (defaults 2,2,2,2,3,2,2 as gen train)", NULL, 0, -1},
        {"batch", 'b', ARG_INT, &batch, "B", "images per model call", NULL, 1, 256},
        {"steps", 0, ARG_INT, &steps, "N", "sampling steps [default: the model's silt.steps]", NULL, 1, 1000},
        {"cfg", 0, ARG_FLOAT, &cfg, "G", "CFG scale [default: the model's silt.cfg]", NULL, 1, 100},
        {"device", 0, ARG_CHOICE, &device, "DEV", "where the model runs: auto, cpu, cuda", device_choices, 0, -1},
        {"output", 'o', ARG_STR, &out, "FILE", "the sample set (.safetensors; rewritten every 256 items, so a stopped run keeps what it finished) [default: none: required]", NULL, 0, -1},
        {"quiet", 'q', ARG_BOOL, &quiet, NULL, "no progress bar", NULL, 0, -1},
    };
    arg_parser ap = {"gen world harvest",
                     "gen world harvest --count N -o set.safetensors [--model M] [--tries T] [--all] [--seed S] [--offset K]\n"
                     "           [--category-weights SPEC] [--batch B] [--steps N] [--cfg G] [--device DEV]",
                     "Draw train-suite captions with a world MMDiT, up to --tries candidates each, and keep the first "
                     "candidate the exact world evaluator passes: a set of verified self-samples for rejection-sampling "
                     "fine-tuning (gen train --arch mmdit --samples FILE); with --all, every candidate with its verdict, to train a verifier on (gen train --arch clip --samples FILE). Held-out compositions are never drawn; "
                     "items whose caption is an eval-suite prompt are skipped (the trainer drops such samples). "
                     "Prints items, kept, candidates drawn and the plain pass rate, per category.",
                     specs, (int)(sizeof specs / sizeof *specs), NULL, 0, 0};
    bool given[sizeof specs / sizeof *specs];
    int rc = args_parse_given(&ap, argc, argv, given);
    if (rc) return rc == 1 ? 0 : rc;
    if (!out) return args_usage_error(&ap, "-o FILE is required");
    if (!count) return args_usage_error(&ap, "--count N is required");
    if ((rc = gen_check_output("-o", out)) != 0) return rc;
    silt_harvest_params p = silt_harvest_default_params();
    if (cat_spec && world_parse_category_weights(cat_spec, p.weights) != SILT_OK)
        return args_usage_error(&ap, "--category-weights: %s", silt_last_error_message());
    char builtin[4096];
    if (!model) {
        if (silt_models_find(SILT_MODEL_WORLD_DIT, builtin, sizeof builtin) != SILT_OK) return gen_fail(NULL);
        model = builtin;
    }
    silt_txt2img *t = NULL;
    silt_status s = silt_txt2img_load(model, NULL, clip, &t);
    if (s != SILT_OK) return s == SILT_ERR_ARG ? (fprintf(stderr, "gen: %s\n", silt_last_error_message()), 2) : gen_fail(model);
    int status = 1;
    const silt_txt2img_info *in = silt_txt2img_get_info(t);
    if (!in->world_text || in->family != SILT_FAMILY_MMDIT) {
        status = args_usage_error(&ap, "--model %s is not a world MMDiT", model);
        goto done;
    }
    silt_log_level lv = silt_log_get_level();
    if (lv > SILT_LOG_WARN) silt_log_set_level(SILT_LOG_WARN);
    bool want_cuda = device == 2 || (device == 0 && silt_cuda_available());
    silt_log_set_level(lv);
    if (want_cuda && silt_txt2img_set_device(t, SILT_CUDA) != SILT_OK) { status = gen_fail("--device cuda"); goto done; }
    p.model = t;
    p.model_name = strrchr(model, '/') ? strrchr(model, '/') + 1 : model;
    p.gen = silt_txt2img_default_params(t);
    if (steps > 0) p.gen.sampler.steps = steps;
    if (cfg > 0) p.gen.guide.cfg = (float)cfg;
    p.seed = (uint64_t)seed, p.offset = offset, p.count = count, p.tries = tries, p.batch = batch, p.keep_all = all;
    p.progress = !quiet;
    silt_harvest_result r;
    s = silt_harvest_run(&p, out, &r);
    if (s != SILT_OK) { status = gen_fail("harvest"); goto done; }
    const double items = r.items > 0 ? (double)r.items : 1.0;
    printf("harvest: %lld items, %lld %s (%.3f), %lld candidates drawn (%lld passed%s), plain pass %.3f, %.1f s (%lld "
           "items with an eval-suite caption skipped)\n",
           (long long)r.items, (long long)r.kept, all ? "with a pass" : "kept", (double)r.kept / items,
           (long long)r.candidates, (long long)r.passed, all ? ", all kept" : "", (double)r.first_pass / items, r.seconds,
           (long long)r.skipped);
    for (int c = 0; c < WORLD_CAT_COUNT; c++)
        if (r.cat_items[c])
            printf("  %-18s %5lld items, %5lld %s (%.3f)\n", world_category_name((world_category)c),
                   (long long)r.cat_items[c], (long long)r.cat_kept[c], all ? "with a pass" : "kept",
                   (double)r.cat_kept[c] / (double)r.cat_items[c]);
    printf("wrote %s\n", out);
    status = 0;
done:
    silt_txt2img_free(t);
    return status;
}
