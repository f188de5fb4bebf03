// gen train --arch ARCH [options]: train a model with the silt trainer
// (gen/lib/train.h): AdamW, warmup + cosine, accumulation, clipping, EMA,
// atomic checkpoints and an exact --resume. `--arch mmdit|vq|var --export CKPT -o
// FILE` turns a run's checkpoint into a model file instead.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "cuda/cuda.h"
#include "gen/args.h"
#include "gen/commands.h"
#include "gen/lib/train.h"
#include "gen/lib/train_arch.h"

static const char *const device_choices[] = {"auto", "cpu", "cuda", NULL};
static const char *const on_off[] = {"on", "off", NULL};

int cmd_train(int argc, char **argv) {
    // device_choices index. The default is cpu, not auto: until the GPU path
    // has run on a GPU (and its run-to-run determinism is known) a plain
    // `gen train` keeps its bit-exact, resumable CPU behaviour everywhere.
    int device = 1;
    int ema_warmup = 0;  // on_off index
    silt_train_params tp = silt_train_default_params();
    const char *arch = NULL, *resume = NULL;
    int steps = (int)tp.steps, warmup = (int)tp.warmup_steps, ckpt_every = (int)tp.ckpt_every;
    int log_every = (int)tp.log_every, seed = 0;
    const char *clip_model = NULL, *export_from = NULL, *vq_model = NULL, *ae_model = NULL;
    const char *size = "default";
    double repa_weight = 0;
    int repa_layer = -1;
    bool decoder_only = false, clip_only = false, tf32 = false, relation_channel = false;
    double time_shift = 1.0, object_weight = 0, pure_noise = 0, samples_fraction = 0.5;
    const char *samples = NULL, *dpo = NULL;
    double dpo_beta = 2000, dpo_cfg = 0;
    int hard_negatives = 0, sample_pairs = 16;
    bool class_token = false, sample_mirrors = false;
    int itm_layers = 0;
    const char *cat_spec = NULL;
    silt_mmdit_export_opts xo = silt_mmdit_export_default_opts();
    // The archs whose task has a device path, for --help and the refusal.
    char gpu_archs[256] = "", device_help[512];
    for (int i = 0; i < silt_train_arch_count(); i++) {
        const silt_train_arch *t = silt_train_arch_at(i);
        size_t len = strlen(gpu_archs);
        if (t->gpu) snprintf(gpu_archs + len, sizeof gpu_archs - len, "%s%s", len ? ", " : "", t->name);
    }
    snprintf(device_help, sizeof device_help,
             "where training runs: auto (cuda when a GPU is usable and the arch trains there, else cpu), cpu, "
             "cuda (archs %s)", gpu_archs);
    arg_spec specs[] = {
        {"arch", 'a', ARG_STR, &arch, "ARCH", "architecture to train (required; listed above)", NULL, 0, -1},
        {"steps", 'n', ARG_INT, &steps, "N", "optimiser updates in the whole run", NULL, 1, 2147483647},
        {"batch", 'b', ARG_INT, &tp.batch_size, "B", "samples per micro-batch", NULL, 1, 1 << 20},
        {"accum", 0, ARG_INT, &tp.grad_accum, "K", "micro-batches per update (gradient accumulation)", NULL, 1, 1 << 16},
        {"lr", 0, ARG_FLOAT, &tp.lr, "X", "peak learning rate", NULL, 0, 10},
        {"lr-min", 0, ARG_FLOAT, &tp.lr_min, "X", "learning rate the cosine decays to by the last update", NULL, 0, 10},
        {"warmup", 0, ARG_INT, &warmup, "N", "linear warmup updates", NULL, 0, 2147483647},
        {"weight-decay", 0, ARG_FLOAT, &tp.weight_decay, "X", "AdamW decoupled weight decay", NULL, 0, 10},
        {"beta1", 0, ARG_FLOAT, &tp.beta1, "X", "AdamW beta1", NULL, 0, 0.999999},
        {"beta2", 0, ARG_FLOAT, &tp.beta2, "X", "AdamW beta2", NULL, 0, 0.999999999},
        {"clip", 0, ARG_FLOAT, &tp.grad_clip, "C", "clip the global gradient norm to C (0: off)", NULL, 0, 1e9},
        {"ema", 0, ARG_FLOAT, &tp.ema_decay, "D", "keep EMA weights with decay D (0: off)", NULL, 0, 0.99999999},
        {"ema-warmup", 0, ARG_CHOICE, &ema_warmup, "on|off",
         "ramp the EMA decay as min(D, (1 + t) / (10 + t)) at update t, so early exports are not the initial "
         "weights (off: a fixed decay, as runs before this option; resume those with off to keep them exact)",
         on_off, 0, -1},
        {"ckpt-every", 0, ARG_INT, &ckpt_every, "N", "checkpoint every N updates (0: only at the end)", NULL, 0, 2147483647},
        {"keep", 0, ARG_INT, &tp.keep_last, "K", "checkpoints to keep (0: all)", NULL, 0, 1000000},
        {"out", 'o', ARG_STR, &tp.out_dir, "DIR", "output directory (checkpoints, latest, train_log.csv); with --export, the model file", NULL, 0, -1},
        {"resume", 'r', ARG_STR, &resume, "PATH|auto",
         "continue from a checkpoint file, a run directory, or 'auto' (OUT/latest if there is one)", NULL, 0, -1},
        {"init", 0, ARG_STR, &tp.init_path, "CKPT|DIR",
         "start a fresh run from the weights of a checkpoint (or a run dir's latest) of the same arch and size, "
         "its EMA weights when present, or of an exported model file (e.g. models/world-dit.safetensors.zst); "
         "step, schedule and optimiser start fresh (ignored on resume)",
         NULL, 0, -1},
        {"device", 0, ARG_CHOICE, &device, "DEV", device_help, device_choices, 0, -1},
        {"tf32", 0, ARG_BOOL, &tf32, NULL,
         "on cuda: matrix products and convolutions on TF32 tensor cores (about 1e-3 relative error per product, "
         "against full fp32's CPU-equal results to 1e-4), for speed",
         NULL, 0, -1},
        {"seed", 's', ARG_INT, &seed, "S", "seed of the initial weights and the data order", NULL, 0, 2147483647},
        {"log-every", 0, ARG_INT, &log_every, "N", "CSV row and log line every N updates", NULL, 1, 2147483647},
        {"step-delay-ms", 0, ARG_INT, &tp.step_delay_ms, "MS", "sleep after each update (for crash/resume tests)", NULL,
         0, 600000},
        {"clip-model", 0, ARG_STR, &clip_model, "PATH",
         "mmdit, var: the frozen world-CLIP text encoder (model file, clip checkpoint or run dir) "
         "[default: " SILT_TRAIN_MMDIT_DEFAULT_CLIP "]",
         NULL, 0, -1},
        {"size", 0, ARG_STR, &size, "SIZE",
         "mmdit: model size, tiny (tests), small (4:192:8:6), default (4:256:8:6) or patch:hidden:heads:depth "
         "(the patch divides the token grid: 32 px, or with --ae the latent's 8, where the presets take patch 1); "
         "vq, ae, var: tiny, small or default",
         NULL, 0, -1},
        {"vq", 0, ARG_STR, &vq_model, "PATH",
         "var: the frozen tokenizer (a `gen train --arch vq` model, checkpoint or run dir) "
         "[default: " SILT_TRAIN_VAR_DEFAULT_VQ "]; ae: a tokenizer of the same size to start from [default: none]",
         NULL, 0, -1},
        {"ae", 0, ARG_STR, &ae_model, "PATH",
         "mmdit: train in the latent of this world autoencoder (a `gen train --arch ae --export` file) instead of "
         "pixels [default: none]",
         NULL, 0, -1},
        {"repa", 0, ARG_FLOAT, &repa_weight, "W",
         "mmdit: REPA, align the image stream after block --repa-layer to world-CLIP's patch tokens of the clean "
         "render through a training-only MLP, with weight W (the paper's 0.5; 0: off)",
         NULL, 0, 100},
        {"repa-layer", 0, ARG_INT, &repa_layer, "K", "mmdit: the block REPA taps (0-based; -1: depth / 3 - 1)", NULL, -1,
         1000},
        {"clip-only", 0, ARG_BOOL, &clip_only, NULL,
         "mmdit: condition on world-CLIP's tokens alone, without the word channel (one-hot word and position "
         "appended to each token; CLIP barely tells \"left of\" from \"right of\"), as models before it did",
         NULL, 0, -1},
        {"pure-noise", 0, ARG_FLOAT, &pure_noise, "P",
         "mmdit: train a fraction P of the images at sigma 1, the sampler's start, where only the caption tells "
         "the layout (the shifted draws almost never get there)",
         NULL, 0, 0.5},
        {"samples", 0, ARG_STR, &samples, "FILE[,FILE]",
         "mmdit: rejection-sampling fine-tuning: a fraction (--samples-fraction) of the images are the model's own "
         "verified samples (gen world harvest files; an --all file's failed candidates left out) with their captions "
         "instead of renders; samples whose caption is an eval-suite prompt are dropped; clip (with --itm-layers): labelled candidates (gen world harvest --all) "
         "on which the judge head learns to rank a candidate the evaluator passed above a failed one of the same "
         "caption (--sample-pairs per batch; eval-suite captions dropped)",
         NULL, 0, -1},
        {"sample-pairs", 0, ARG_INT, &sample_pairs, "P", "clip: --samples pairs per batch", NULL, 1, 256},
        {"sample-mirrors", 0, ARG_BOOL, &sample_mirrors, NULL,
         "clip: also each --samples candidate mirrored left-right and top-bottom, its verdict the evaluator's on the "
         "mirrored image (a passed \"X left of Y\" mostly fails mirrored: pairs that differ only in the layout)",
         NULL, 0, -1},
        {"dpo", 0, ARG_STR, &dpo, "FILE[,FILE]",
         "mmdit: preference optimisation (Diffusion-DPO on the flow loss) from --init, its frozen reference (an "
         "exported model, given on --resume too): each batch is --batch pairs of candidates of one caption from "
         "labelled sets (gen world harvest --all), one the evaluator passed and one it failed; eval-suite captions "
         "dropped",
         NULL, 0, -1},
        {"dpo-beta", 0, ARG_FLOAT, &dpo_beta, "B", "mmdit: --dpo's beta (how far the model may move from the reference)",
         NULL, 1e-3, 1e6},
        {"dpo-cfg", 0, ARG_FLOAT, &dpo_cfg, "W",
         "mmdit: --dpo on the CFG-guided velocity v_u + W (v_c - v_u) (the unconditional branch at the null caption), "
         "what sampling with --cfg W follows; both branches train, twice the work. 0: the conditional velocity's "
         "errors (Diffusion-DPO)",
         NULL, 0, 100},
        {"samples-fraction", 0, ARG_FLOAT, &samples_fraction, "F", "mmdit: the fraction of images --samples replaces",
         NULL, 0.001, 1},
        {"category-weights", 0, ARG_STR, &cat_spec, "NAME=W,...",
         "mmdit, clip: the train captions' category mix as relative integer weights, changing the named ones from the "
         "defaults single_object=2,two_objects=2,counting=2,colours=2,position=3,colour_attribution=2,background=2 "
         "(e.g. position=9)",
         NULL, 0, -1},
        {"relation-channel", 0, ARG_BOOL, &relation_channel, NULL,
         "mmdit: also give each text token the direction its phrase's relation names (\"X left of Y\": X's tokens "
         "(-1, 0), Y's (+1, 0); 2 more context columns, zero-initialised from an --init model without them)",
         NULL, 0, -1},
        {"time-shift", 0, ARG_FLOAT, &time_shift, "S",
         "mmdit: shift the training sigmas toward noise as the flow sampler's shift does, s sigma / (1 + (s-1) "
         "sigma), where the layout (relations, counts) is decided (1: SD3's logit-normal as is)",
         NULL, 1, 100},
        {"decoder-only", 0, ARG_BOOL, &decoder_only, NULL,
         "ae: train the decoder only; the encoder (and so the latent space a latent MMDiT was trained in, and "
         "its exported shift and scale) stays bit-identical to the start given by --vq or --init",
         NULL, 0, -1},
        {"object-weight", 0, ARG_FLOAT, &object_weight, "W",
         "ae: pixels of an object and one pixel around it weigh 1 + W in the reconstruction loss (the renders' "
         "masks; under plain MSE small crosses come back as blobs)",
         NULL, 0, 1000},
        {"hard-negatives", 0, ARG_INT, &hard_negatives, "K",
         "clip: K false captions per image in its softmax, one edit from its own (relation flipped or swapped, "
         "count, colour, shape, colours swapped, background, an absent object added), to train a world-judge for "
         "--search best-of-n --reward judge (alone they learned colour binding, not relations: add --itm-layers)",
         NULL, 0, SILT_TRAIN_CLIP_MAX_HARD_NEGATIVES},
        {"class-token", 0, ARG_BOOL, &class_token, NULL,
         "clip: the image tower pools by a class token (CLIP's ViT) instead of the mean of its patch tokens, "
         "which all but loses the layout; new shapes, so it trains from scratch",
         NULL, 0, -1},
        {"itm-layers", 0, ARG_INT, &itm_layers, "L",
         "clip: add a judge head of L layers (an image-text matching cross-encoder: the caption's words and "
         "relation directions attend to the image's patch tokens) trained to rank each caption above its "
         "--hard-negatives and to point each phrase at its object; --init from a world-CLIP starts the head "
         "fresh; how models/world-judge was trained. Scores for --reward judge",
         NULL, 0, 16},
        {"export", 0, ARG_STR, &export_from, "CKPT|DIR",
         "mmdit, vq, ae, var, clip: write the model of a checkpoint (or a run dir's latest; EMA weights when present) to the "
         "file given by --out, instead of training",
         NULL, 0, -1},
        {"sample-steps", 0, ARG_INT, &xo.steps, "N", "with --export: sampling steps stored as the model's default",
         NULL, 1, 10000},
        {"sample-shift", 0, ARG_FLOAT, &xo.shift, "X", "with --export: flow shift stored as the model's default",
         NULL, 0.01, 100},
        {"sample-cfg", 0, ARG_FLOAT, &xo.cfg, "X", "mmdit, var, with --export: guidance scale stored as the model's default (var: none stored unless given)",
         NULL, 0, 100},
        {"sample-pag-scale", 0, ARG_FLOAT, &xo.pag_scale, "S",
         "mmdit, with --export: gen's default --pag-scale for this model (PAG, SoftPAG, SEG, ...) [default: none "
         "stored: gen uses 3]",
         NULL, -100, 100},
        {"export-f16", 0, ARG_BOOL, &xo.f16, NULL, "mmdit, with --export: store the weights as F16 (half the file)", NULL,
         0, -1},
    };
    enum { N_SPECS = sizeof specs / sizeof *specs };
    bool given[N_SPECS];
    char known[512], summary[2048];
    silt_train_arch_list(known, sizeof known);
    int off = snprintf(summary, sizeof summary,
                       "Train a model. Writes OUT/checkpoint_<step>.safetensors (atomic), OUT/latest and "
                       "OUT/train_log.csv;\nCtrl-C (or SIGTERM) finishes the step, checkpoints and stops. Architectures:");
    for (int i = 0; i < silt_train_arch_count() && off > 0 && (size_t)off < sizeof summary; i++) {
        const silt_train_arch *a = silt_train_arch_at(i);
        off += snprintf(summary + off, sizeof summary - (size_t)off, "\n  %-8s %s", a->name, a->summary);
    }
    arg_parser p = {"gen train",
                    "gen train --arch ARCH [--steps N] [--batch B] [--out DIR] [--resume PATH|auto] ...\n"
                    "       gen train --arch mmdit|vq|ae|var|clip --export CKPT|DIR --out FILE [--sample-steps N] ...",
                    summary, specs, N_SPECS, NULL, 0, 0};
    int rc = args_parse_given(&p, argc, argv, given);
    if (rc) return rc == 1 ? 0 : rc;
    if (!arch) return args_usage_error(&p, "--arch is required (known: %s)", known);
    const silt_train_arch *a = silt_train_arch_find(arch);
    if (!a) return args_usage_error(&p, "--arch: unknown architecture '%s' (known: %s)", arch, known);
    bool sample_flags = args_was_given(&p, given, "sample-steps") || args_was_given(&p, given, "sample-shift") ||
                        args_was_given(&p, given, "sample-cfg") || args_was_given(&p, given, "sample-pag-scale") ||
                        xo.f16;
    if (export_from) {
        bool is_mmdit = !strcmp(arch, "mmdit");
        if (!is_mmdit && strcmp(arch, "vq") && strcmp(arch, "ae") && strcmp(arch, "var") && strcmp(arch, "clip"))
            return args_usage_error(&p, "--export is for --arch mmdit, vq, ae, var or clip");
        bool var_cfg_only = !strcmp(arch, "var") && !args_was_given(&p, given, "sample-steps") &&
                            !args_was_given(&p, given, "sample-shift") &&
                            !args_was_given(&p, given, "sample-pag-scale") && !xo.f16;
        if (!is_mmdit && sample_flags && !var_cfg_only)
            return args_usage_error(&p, "--sample-steps/--sample-shift/--sample-pag-scale/--export-f16 are for mmdit "
                                        "(--sample-cfg: mmdit, var)");
        if (!*export_from) return args_usage_error(&p, "--export needs a checkpoint or a run directory");
        if (!args_was_given(&p, given, "out") || !*tp.out_dir)
            return args_usage_error(&p, "--export needs --out FILE (the model file to write)");
        // Training-only flags would be silently ignored by an export.
        const char *train_only = resume ? "resume" : tp.init_path ? "init" : decoder_only ? "decoder-only"
                                 : tf32 ? "tf32" : object_weight != 0 ? "object-weight" : pure_noise != 0 ? "pure-noise" : samples ? "samples" : dpo ? "dpo"
                                 : cat_spec ? "category-weights" : hard_negatives ? "hard-negatives" : class_token ? "class-token"
                                 : itm_layers ? "itm-layers" : NULL;
        if (train_only) return args_usage_error(&p, "--export and --%s do not go together", train_only);
        silt_status xs = is_mmdit              ? silt_train_mmdit_export(export_from, tp.out_dir, &xo)
                         : !strcmp(arch, "vq") ? silt_train_vq_export(export_from, tp.out_dir)
                         : !strcmp(arch, "ae") ? silt_train_ae_export(export_from, tp.out_dir)
                         : !strcmp(arch, "clip") ? silt_train_clip_export(export_from, tp.out_dir)
                                               : silt_train_var_export(export_from, tp.out_dir,
                                                                       args_was_given(&p, given, "sample-cfg") ? &xo.cfg : NULL);
        if (xs != SILT_OK) return gen_fail("export");
        fprintf(stderr, "exported %s to %s\n", export_from, tp.out_dir);
        return 0;
    }
    if (sample_flags) return args_usage_error(&p, "--sample-steps/--sample-shift/--sample-cfg/--sample-pag-scale/--export-f16 go with --export");
    if (!tp.out_dir || !*tp.out_dir) return args_usage_error(&p, "--out needs a directory");
    if (resume && !*resume) return args_usage_error(&p, "--resume needs a checkpoint, a directory or 'auto'");
    if (tp.init_path && !*tp.init_path) return args_usage_error(&p, "--init needs a checkpoint or a run directory");
    tp.steps = steps;
    tp.warmup_steps = warmup;
    tp.ckpt_every = ckpt_every;
    tp.log_every = log_every;
    tp.data_seed = (uint64_t)seed;
    tp.ema_warmup = ema_warmup == 0;
    if (silt_train_params_check(&tp) != SILT_OK) return args_usage_error(&p, "%s", silt_last_error_message());

    mmdit_config probe;
    var_vq_config vq_probe;
    var_config var_probe = {0};
    bool sized = args_was_given(&p, given, "size");
    // A latent run's token grid is the world autoencoder's (every ae/vq size
    // downsamples 32 px as the world config does), so --size is checked against it.
    const int mmdit_side = ae_model ? SILT_TRAIN_MMDIT_IMAGE / var_vq_world_config().downsample : SILT_TRAIN_MMDIT_IMAGE;
    if (sized && ((!strcmp(arch, "mmdit") && silt_train_mmdit_preset_for(size, 1, 1, 3, mmdit_side, &probe) != SILT_OK) ||
                  ((!strcmp(arch, "vq") || !strcmp(arch, "ae")) && silt_train_vq_preset(size, &vq_probe) != SILT_OK) ||
                  (!strcmp(arch, "var") && silt_train_var_preset(size, &var_probe) != SILT_OK)))
        return args_usage_error(&p, "--size: %s", silt_last_error_message());
    // The device: cuda needs a usable GPU (one error line naming the reason
    // otherwise) and an arch with a device path (a usage error otherwise);
    // auto takes the GPU for such an arch. The probe's "no usable GPU" note
    // stays off stderr either way.
    if (device == 2 && !a->gpu)
        return args_usage_error(&p, "--device cuda: --arch %s trains on the cpu only (on the GPU: %s)", arch, gpu_archs);
    if (device != 1) {
        silt_log_level lv = silt_log_get_level();
        if (lv > SILT_LOG_WARN) silt_log_set_level(SILT_LOG_WARN);
        bool gpu = silt_cuda_available();
        silt_log_set_level(lv);
        if (device == 2 && !gpu) {
            char why[256];
            if (silt_cuda_describe(why, sizeof why) != SILT_OK) snprintf(why, sizeof why, "no GPU");
            fprintf(stderr, "gen: train --device cuda: no usable CUDA GPU: %s\n", why);
            return 1;
        }
        tp.device = gpu && a->gpu ? SILT_CUDA : SILT_CPU;
    }
    if (tf32 && tp.device != SILT_CUDA)
        return args_usage_error(&p, "--tf32 is for a run on cuda (--device cuda, or auto with a usable GPU)");
    if (tf32) silt_cuda_set_allow_tf32(true);
    if ((repa_weight > 0 || args_was_given(&p, given, "repa-layer")) && strcmp(arch, "mmdit"))
        return args_usage_error(&p, "--repa and --repa-layer are for --arch mmdit");
    if (args_was_given(&p, given, "repa-layer") && !(repa_weight > 0))
        return args_usage_error(&p, "--repa-layer needs --repa W (a weight > 0)");
    if (clip_only && strcmp(arch, "mmdit")) return args_usage_error(&p, "--clip-only is for --arch mmdit");
    if (relation_channel && strcmp(arch, "mmdit")) return args_usage_error(&p, "--relation-channel is for --arch mmdit");
    if (relation_channel && clip_only)
        return args_usage_error(&p, "--relation-channel comes with the word channel: drop --clip-only");
    if (time_shift != 1.0 && strcmp(arch, "mmdit")) return args_usage_error(&p, "--time-shift is for --arch mmdit");
    if (pure_noise != 0 && strcmp(arch, "mmdit")) return args_usage_error(&p, "--pure-noise is for --arch mmdit");
    if (samples && strcmp(arch, "mmdit") && strcmp(arch, "clip"))
        return args_usage_error(&p, "--samples is for --arch mmdit and clip");
    if (samples && !strcmp(arch, "clip") && !itm_layers)
        return args_usage_error(&p, "--samples trains the judge head: give --itm-layers L");
    if (args_was_given(&p, given, "samples-fraction") && strcmp(arch, "mmdit"))
        return args_usage_error(&p, "--samples-fraction is for --arch mmdit");
    if (args_was_given(&p, given, "sample-pairs") && (!samples || strcmp(arch, "clip")))
        return args_usage_error(&p, "--sample-pairs needs --arch clip --samples FILE");
    if (sample_mirrors && (!samples || strcmp(arch, "clip")))
        return args_usage_error(&p, "--sample-mirrors needs --arch clip --samples FILE");
    if (args_was_given(&p, given, "samples-fraction") && !samples)
        return args_usage_error(&p, "--samples-fraction needs --samples FILE");
    if (dpo && strcmp(arch, "mmdit")) return args_usage_error(&p, "--dpo is for --arch mmdit");
    if (dpo && !tp.init_path)
        return args_usage_error(&p, "--dpo needs --init MODEL, the exported model it starts from and stays near (a resume too)");
    if (dpo && samples) return args_usage_error(&p, "--dpo and --samples do not go together");
    if (args_was_given(&p, given, "dpo-beta") && !dpo) return args_usage_error(&p, "--dpo-beta needs --dpo FILE");
    if (args_was_given(&p, given, "dpo-cfg") && !dpo) return args_usage_error(&p, "--dpo-cfg needs --dpo FILE");
    int cat_weights[WORLD_CAT_COUNT];
    world_train_weights(cat_weights);
    if (cat_spec && strcmp(arch, "mmdit") && strcmp(arch, "clip"))
        return args_usage_error(&p, "--category-weights is for --arch mmdit and clip");
    if (cat_spec && world_parse_category_weights(cat_spec, cat_weights) != SILT_OK)
        return args_usage_error(&p, "--category-weights %s: %s", cat_spec, silt_last_error_message());
    if (object_weight != 0 && strcmp(arch, "ae")) return args_usage_error(&p, "--object-weight is for --arch ae");
    if (hard_negatives != 0 && strcmp(arch, "clip")) return args_usage_error(&p, "--hard-negatives is for --arch clip");
    if (class_token && strcmp(arch, "clip")) return args_usage_error(&p, "--class-token is for --arch clip");
    if (itm_layers && strcmp(arch, "clip")) return args_usage_error(&p, "--itm-layers is for --arch clip");
    if (itm_layers && hard_negatives < 1)
        return args_usage_error(&p, "--itm-layers trains the head on hard negatives: give --hard-negatives K >= 1");
    if (decoder_only && strcmp(arch, "ae"))
        return args_usage_error(&p, "--decoder-only is for --arch ae");
    if (decoder_only && !vq_model && !tp.init_path)
        return args_usage_error(&p, "--decoder-only keeps the encoder as it starts: start from a trained one with "
                                    "--vq or --init (a resume too: give the start the run began with)");
    silt_train_arch_opts ao = {.clip_path = clip_model, .vq_path = vq_model, .ae_path = ae_model,
                               .size = sized ? size : NULL, .repa_weight = repa_weight, .repa_layer = repa_layer,
                               .decoder_only = decoder_only, .object_weight = object_weight, .clip_only = clip_only,
                               .relation_channel = relation_channel, .time_shift = time_shift,
                               .pure_noise = pure_noise, .samples = samples, .samples_fraction = samples_fraction,
                               .dpo = dpo, .dpo_ref = tp.init_path, .dpo_beta = dpo_beta, .dpo_cfg = dpo_cfg,
                               .sample_pairs = sample_pairs, .sample_mirrors = sample_mirrors,
                               .category_weights = cat_spec ? cat_weights : NULL,
                               .hard_negatives = hard_negatives, .class_token = class_token,
                               .itm_layers = itm_layers};
    silt_train_task task = {0};
    if (a->create((uint64_t)seed, &ao, &task) != SILT_OK) return gen_fail(arch);
    silt_progress prog;
    silt_status st = silt_train_run(&tp, &task, resume, &prog);
    silt_train_task_free(&task);
    if (st != SILT_OK) return gen_fail("train");
    fprintf(stderr, "trained %s for %d steps on %s: %s/checkpoint_%d.safetensors\n", arch, steps,
            silt_device_name(tp.device), tp.out_dir, steps);
    return 0;
}
