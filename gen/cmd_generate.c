// gen generate (also plain `gen --model ...`, and `gen --prompt TEXT` for the
// built-in world model): images from DiT / MMDiT checkpoints with CFG or
// attention-perturbation guidance, and from VAR checkpoints (next-scale
// prediction, CFG on the logits). Parses flags, resolves the class / text
// embeddings / prompt / heads, runs gen/lib/txt2img, writes the PNG with its
// parameters.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/image.h"
#include "core/log.h"
#include "core/safetensors.h"
#include "cuda/cuda.h"
#include "gen/args.h"
#include "gen/commands.h"
#include "gen/guide_flags.h"
#include "gen/lib/imagenet_classes.h"
#include "gen/lib/models.h"
#include "gen/lib/txt2img.h"
#include "gen/search_flags.h"
#include "text/world_tokenizer.h"

static const char *const device_choices[] = {"auto", "cpu", "cuda", NULL};

static const char summary[] =
    "Generate an image with a DiT (class-conditional), MMDiT (SD3-style, text) or VAR (class-conditional,\n"
    "next-scale prediction) checkpoint.\n"
    "\n"
    "World models (the built-in default, issue 4): `gen --prompt \"a red circle left of a blue square\"`\n"
    "  with no --model loads models/" SILT_MODEL_WORLD_DIT " and its frozen text encoder\n"
    "  models/" SILT_MODEL_WORLD_CLIP ", looked up in $SILT_MODELS, then <folder of gen>/../models,\n"
    "  then ./models (--model / --clip name other files). An MMDiT whose metadata says silt.text_encoder\n"
    "  = world-clip encodes --prompt and --negative itself; its metadata's silt.steps, silt.shift and\n"
    "  silt.cfg are the defaults. One whose metadata says silt.latent = world-ae samples in the latent of\n"
    "  the world autoencoder models/" SILT_MODEL_WORLD_AE " (or --vae) and decodes with it. Words outside the world's vocabulary are dropped with a warning. It\n"
    "  makes 32 px images, written upscaled (nearest) to --upscale 256 unless --native. --grid N runs\n"
    "  the N images as one batch: image i is Philox stream i of --seed (not seed + i).\n"
    "\n"
    "Guidance, convention A (diffusers, HeadHunter), e_c/e_u/e_p = cond/uncond/perturbed predictions:\n"
    "  cfg:                    e = e_u + g (e_c - e_u)                 g = --cfg (off when g = 1)\n"
    "  pag softpag seg slg uniform:  e = e_c + s (e_c - e_p), plus the CFG term when g != 1:\n"
    "                          e = e_u + g (e_c - e_u) + s (e_c - e_p)   s = --pag-scale\n"
    "  The official ADM PAG code writes e_p + s'(e_c - e_p): its --guide_scale 4.0 is 3.0 here.\n"
    "  Model rows per step: 3 with CFG and a perturbation, 2 with one of them, 1 for none. Outside\n"
    "  the step window, or where the adaptive scale reaches 0, no perturbed row is run; outside\n"
    "  --cfg-start/--cfg-stop (guidance in a limited interval) no uncond row: the step takes e_c.\n"
    "  pag: identity attention on the selected heads; softpag: (1-u) Attn + u V (HeadHunter);\n"
    "  seg: Gaussian blur of the queries (SEG; sigma > 9999 = mean query); slg: skip whole blocks\n"
    "  (SD3.5 recipe: --guidance slg --heads 7,8,9 --pag-scale 2.5 --guide-start 0.01 --guide-stop 0.2);\n"
    "  uniform: uniform attention (mean of V).\n"
    "\n"
    "Heads (--heads): LAYER, LAYER:HEAD, LAYER:*, LAYER:HEAD:U entries separated by commas\n"
    "  (e.g. 3:1,5:0,7:2:0.5), or a file of `layer,head[,u]` lines (HeadHunter's output; '#'\n"
    "  comments). Layer ids are exact: 1 is layer 1, never 10..19. Default: every head of layer\n"
    "  depth/2 (SD3-medium: 12, DiT-XL: 14); slg: blocks 7,8,9 when depth >= 10, else depth/2.\n"
    "  MMDiT identity: joint = over the whole [image, text] sequence, per head (HeadHunter);\n"
    "  image = image-image block only, whole layers (diffusers SD3 PAG); auto = image for pag on\n"
    "  whole layers, joint otherwise.\n"
    "\n"
    "World VAR (issue 5): `gen --arch var --prompt TEXT` loads models/" SILT_MODEL_WORLD_VAR " and its\n"
    "  tokenizer models/" SILT_MODEL_WORLD_VQ " (--model / --vq name other files; --clip as above). CFG\n"
    "  on the logits as below, against the \"\" caption. Same output conventions as the MMDiT world model\n"
    "  (32 px, --upscale 256 unless --native, --grid N: Philox streams of --seed).\n"
    "  Test-time search (METHODS.md sec. 5, var/search.h): --search tts|best-of-n|importance --n N\n"
    "  [--search-scales C,..:R,..] [--schedule A,..] [--potential value|diff|sum|max] [--lambda 10]\n"
    "  [--reward eval|clip]. tts: the TTS-VAR schedule (kept 8,6,4,2,1 x N, changing at the search\n"
    "  scales), k-means++ on world-CLIP patch features (first PCA component) at the clustering scales,\n"
    "  multinomial resampling with weights exp(lambda potential) at the resampling scales, the best\n"
    "  by the reward at the end; the paper's scales 2,5:6,9 of 13 map to round(s (K-1)/12): 1,2:3,4 for\n"
    "  the world's 6. best-of-n: N samples, the best by the reward. importance: N samples, ONE drawn\n"
    "  with weights exp(lambda reward). With a search, image i of --grid uses seed + i. The compute\n"
    "  (token-forwards with CFG rows, FLOPs estimate, decodes, reward and feature calls) is printed on\n"
    "  stderr and stored in the PNG parameters.\n"
    "\n"
    "World MMDiT best-of-n: --search best-of-n --n N draws each image N times (candidate k of\n"
    "  image i of --grid G from Philox stream i + k G of --seed; candidate 0 is the plain image)\n"
    "  and keeps the one the reward scores highest against the prompt: --reward clip (the default\n"
    "  here: the world-CLIP cosine), judge (models/world-judge: its head's logit + 2 x 100 x its\n"
    "  cosine; it reads relations; or --judge FILE, from gen train --arch clip --hard-negatives K\n"
    "  [--itm-layers L]) or eval (the evaluator itself: an oracle, for research). N times the\n"
    "  model evaluations; the kept candidates are printed and stored in the PNG.\n"
    "\n"
    "VAR (var_d16.safetensors etc., converted with tools/pth2safetensors.py): --vae must be its VQ-VAE\n"
    "  (vae_ch160v4096z32.safetensors); --class N|NAME; --guidance cfg|none. CFG acts on the logits and\n"
    "  ramps over the K scales (official autoregressive_infer_cfg): t = cfg k/(K-1),\n"
    "  logits = (1+t) cond - t uncond, so --cfg 0 is off (not 1). Then --top-k / --top-p and a draw.\n"
    "  Defaults are the official FID setting: cfg 1.5, top-k 900, top-p 0.96 (the README suggests cfg 5\n"
    "  for visual quality; the demo notebook uses cfg 4, top-p 0.95). The size is fixed by the scales\n"
    "  (256 px for the released 256 px models). Sampler, steps, heads and perturbation flags do not apply.\n"
    "  --device cuda runs the transformer, its KV cache and the tokenizer on the GPU; each scale's\n"
    "  logits come back for the top-k/top-p draw on the CPU (fp32 Philox, as with --device cpu), so a\n"
    "  seed gives the cpu's tokens unless a logit sits within rounding of a threshold.\n"
    "\n"
    "Noise: image i of --grid uses seed + i, so `--seed S+i` regenerates it alone (world models: see\n"
    "above). The PNG keeps the parameters in its 'parameters' text chunk, the prompt on its first line\n"
    "(so `gen eval --image out.png` judges a world image against its prompt). Exit: 0 ok, 1 runtime\n"
    "failure, 2 usage error.";

// Flags that only one family reads are usage errors for the others, named,
// so that e.g. `--steps 50` on a VAR is not silently ignored.
static int check_family_flags(const arg_parser *ap, const bool *given, silt_family family, int mode) {
    static const char *const not_var[] = {"sampler", "steps", "shift", "eta", "heads", "pag-scale", "soft-u",
                                          "identity", "guide-start", "guide-stop", "cfg-start", "cfg-stop", "adaptive-scale",
                                          "seg-sigma", "guided-channels", "save-latents", NULL};
    static const char *const var_only[] = {"top-k", "top-p", NULL};
    if (family == SILT_FAMILY_VAR) {
        for (int i = 0; not_var[i]; i++)
            if (args_was_given(ap, given, not_var[i]))
                return args_usage_error(ap, "--%s does not apply to VAR (next-scale prediction: no sampler steps, "
                                            "latents or attention perturbation)", not_var[i]);
        if (mode != GUIDE_NONE && mode != GUIDE_CFG)
            return args_usage_error(ap, "--guidance %s does not apply to VAR: use cfg (on the logits) or none",
                                    gen_guidance_choices[mode]);
        return 0;
    }
    for (int i = 0; var_only[i]; i++)
        if (args_was_given(ap, given, var_only[i]))
            return args_usage_error(ap, "--%s is for VAR checkpoints, not %s", var_only[i], silt_family_name(family));
    return 0;
}

// Maps a pipeline failure to the exit code: the user's choice was wrong (2)
// or something failed at run time (1); one line either way.
static int fail_status(silt_status s, const char *what) {
    if (s == SILT_ERR_ARG) {
        fprintf(stderr, "gen: %s\n", silt_last_error_message());
        return 2;
    }
    return gen_fail(what);
}

// Words of a prompt outside the world vocabulary: one warning naming them.
static void warn_unknown(const char *what, const char *text) {
    int32_t ids[64];
    char unknown[256];
    int nu = txt_world_tokenize(text, ids, 64, unknown, sizeof unknown);
    if (nu > 0) fprintf(stderr, "gen: warning: unknown word%s in the %s ignored: %s\n", nu > 1 ? "s" : "", what, unknown);
}

static const char *base(const char *path) {
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

int cmd_generate(int argc, char **argv) {
    const char *arch = NULL, *vq = NULL;
    const char *model = NULL, *vae = NULL, *clip = NULL, *prompt = NULL, *negative = NULL, *cls = NULL, *embeds = NULL;
    const char *sampler_name = NULL, *out = "out.png", *save_latents = NULL;
    double shift = 3.0, eta = 0.0;
    int steps = 0, seed = 0, width = 0, height = 0, grid = 0, guided = -1, upscale = 256;
    const var_sample_params var_def = var_sample_default_params();
    int top_k = var_def.top_k;
    double top_p = var_def.top_p;
    bool quiet = false, native = false;
    int device = 0;     // device_choices: auto
    int precision = 0;  // silt_precision_names: fp32
    gen_guide_flags gf = gen_guide_flags_default();
    const arg_spec own[] = {
        {"model", 'm', ARG_STR, &model, "PATH", "DiT, MMDiT or VAR checkpoint (.safetensors[.zst]) [default: the built-in world model, with --prompt]", NULL, 0, -1},
        {"arch", 0, ARG_STR, &arch, "mmdit|var", "the built-in world model to use with --prompt and no --model: mmdit (" SILT_MODEL_WORLD_DIT ") or var (" SILT_MODEL_WORLD_VAR " + " SILT_MODEL_WORLD_VQ "); with --model it must name the model's family", NULL, 0, -1},
        {"vq", 0, ARG_STR, &vq, "PATH", "VAR: its multi-scale VQ tokenizer (same as --vae) [default with --arch var: the built-in " SILT_MODEL_WORLD_VQ "]", NULL, 0, -1},
        {"vae", 0, ARG_STR, &vae, "PATH", "VAE (AutoencoderKL) to decode latents; needed unless the model makes 3-channel images. VAR: its VQ-VAE tokenizer (required). A latent world MMDiT: its world autoencoder [default: the built-in " SILT_MODEL_WORLD_AE "]", NULL, 0, -1},
        {"clip", 0, ARG_STR, &clip, "PATH", "world models: the world-CLIP text encoder [default: the built-in " SILT_MODEL_WORLD_CLIP "]", NULL, 0, -1},
        {"class", 'c', ARG_STR, &cls, "N|NAME", "DiT, VAR: ImageNet class id or exact name ('golden retriever')", NULL, 0, -1},
        {"prompt", 'p', ARG_STR, &prompt, "TEXT", "world models: the prompt; other MMDiTs: recorded in the PNG (the embeddings come from --text-embeds)", NULL, 0, -1},
        {"negative", 0, ARG_STR, &negative, "TEXT", "world models: negative prompt of the CFG row [default: \"\" (the dropout caption)]", NULL, 0, -1},
        {"text-embeds", 0, ARG_STR, &embeds, "FILE", "MMDiT: safetensors with prompt_embeds (1,T,joint), pooled_prompt_embeds (1,pooled) and the negative_ pair", NULL, 0, -1},
        {"top-k", 0, ARG_INT, &top_k, "K", "VAR: keep the K most likely tokens per position (0: all)", NULL, 0, 1000000},
        {"top-p", 0, ARG_FLOAT, &top_p, "P", "VAR: nucleus mass kept after top-k (0: all)", NULL, 0, 1},
        {"guided-channels", 0, ARG_INT, &guided, "K", "guide only the first K output channels (0: all) [default: the model's: 3 for original DiT, all otherwise]", NULL, 0, 4096},
        {"sampler", 0, ARG_STR, &sampler_name, "NAME", "ddpm, ddim, euler, euler_a, dpmpp_2m (DiT) or flow_euler (MMDiT) [default: ddim for DiT, flow_euler for MMDiT]", NULL, 0, -1},
        {"steps", 0, ARG_INT, &steps, "N", "sampling steps [default: 50 for DiT, 28 for MMDiT, the metadata's silt.steps for world models]", NULL, 1, 1000},
        {"shift", 0, ARG_FLOAT, &shift, "K", "flow_euler schedule shift (SD3) [default: 3, the metadata's silt.shift for world models]", NULL, 0.01, 100},
        {"eta", 0, ARG_FLOAT, &eta, "ETA", "ddim eta (0: deterministic)", NULL, 0, 1},
        {"seed", 's', ARG_INT, &seed, "N", "noise seed", NULL, 0, 2147483647},
        {"width", 'W', ARG_INT, &width, "N", "image width in pixels [default: the model's native size]", NULL, 1, 16384},
        {"height", 'H', ARG_INT, &height, "N", "image height in pixels [default: the model's native size]", NULL, 1, 16384},
        {"grid", 0, ARG_INT, &grid, "N", "N seeds (seed, seed+1, ...; world models: Philox streams of --seed) in one labelled contact sheet (0: one image)", NULL, 0, 64},
        {"upscale", 0, ARG_INT, &upscale, "PX", "write each image upscaled (nearest) to PX pixels wide, a multiple of its size; world models only unless given [default: 256]", NULL, 1, 8192},
        {"native", 0, ARG_BOOL, &native, NULL, "write the images at the size the model made them (no --upscale)", NULL, 0, -1},
        {"output", 'o', ARG_STR, &out, "PATH", "PNG file to write", NULL, 0, -1},
        {"save-latents", 0, ARG_STR, &save_latents, "PATH", "also write the initial noise and the final latent (model space) as safetensors 'noise', 'latent' (N,C,h,w)", NULL, 0, -1},
        {"quiet", 'q', ARG_BOOL, &quiet, NULL, "no progress bar", NULL, 0, -1},
        {"device", 0, ARG_CHOICE, &device, "DEV", "where the model runs: auto (cuda when a GPU is usable, else cpu), cpu, cuda. DiT/MMDiT: the transformer, guidance, the sampler and the decoder (VAE or world autoencoder), the latents staying on the GPU until the image comes back (the prompt's text encoding stays on the cpu); VAR: the transformer with its KV cache and the VQ tokenizer (each scale's top-k/top-p draw, world-CLIP and search rewards stay on the cpu)", device_choices, 0, -1},
        {"precision", 0, ARG_CHOICE, &precision, "P", "the model's arithmetic on cuda: fp32 (TF32 off: the CPU's image within rounding), tf32 (TF32 tensor-core GEMMs and convolutions), bf16 (DiT/MMDiT: bf16 weights and linear inputs with fp32 accumulation, bf16 attention; ~3 significant digits per layer)", silt_precision_names, 0, -1},
    };
    gen_search_flags sf = gen_search_flags_default();
    enum { N_OWN = sizeof own / sizeof *own, N_SPECS = N_OWN + GEN_GUIDE_NFLAGS + GEN_SEARCH_NFLAGS };
    arg_spec specs[N_SPECS];
    memcpy(specs, own, sizeof own);
    gen_search_flags_specs(&sf, specs + N_OWN + GEN_GUIDE_NFLAGS);
    gen_guide_flags_specs(&gf, "CFG scale g (1 = off; VAR: 0 = off, see above) [default: 4 for DiT (diffusers DiTPipeline), 7 for MMDiT (diffusers SD3), the metadata's silt.cfg for world models, 1.5 for VAR (official FID setting)]", specs + N_OWN);
    arg_parser ap = {"gen generate",
                     "gen --prompt TEXT [--grid N] [--guidance MODE] [--native] [--search best-of-n --n N] [-o out.png]   (the built-in world model)\n"
                     "       gen [generate] --model PATH [--vae PATH] (--class N|NAME | --text-embeds FILE [--prompt TEXT])\n"
                     "           [--guidance MODE] [--cfg G] [--pag-scale S] [--heads SPEC] [-o out.png]\n"
                     "       gen [generate] --model VAR --vae VQVAE --class N|NAME [--cfg G] [--top-k K] [--top-p P] [-o out.png]\n"
                     "       gen --arch var --prompt TEXT [--model VAR --vq VQ] [--search tts|best-of-n|importance --n N ...] [-o out.png]",
                     summary, specs, N_SPECS, NULL, 0, 0};
    bool given[N_SPECS];
    int rc = args_parse_given(&ap, argc, argv, given);
    if (rc) return rc == 1 ? 0 : rc;
    if (cls && (prompt || embeds)) return args_usage_error(&ap, "--class is for DiT and VAR, --prompt/--text-embeds for MMDiT: not both");
    if (native && args_was_given(&ap, given, "upscale")) return args_usage_error(&ap, "--native and --upscale: pick one");
    silt_sampler_kind sk = SILT_SAMPLER_DDIM;
    if (sampler_name && silt_sampler_from_name(sampler_name, &sk) != SILT_OK)
        return args_usage_error(&ap, "--sampler: unknown sampler '%s' (ddpm, ddim, euler, euler_a, dpmpp_2m, flow_euler)", sampler_name);
    if (arch && strcmp(arch, "var") && strcmp(arch, "mmdit") && strcmp(arch, "dit"))
        return args_usage_error(&ap, "--arch %s: expected mmdit or var (the built-in world models), or dit", arch);
    if (vq && vae) return args_usage_error(&ap, "--vq and --vae name the same file for a VAR: pass one");
    const bool want_var = arch && !strcmp(arch, "var");
    if (vq && arch && !want_var) return args_usage_error(&ap, "--vq is the VAR tokenizer: not for --arch %s", arch);
    if (vq) vae = vq;
    if ((rc = gen_check_output("--output", out)) != 0) return rc;
    if (save_latents && (rc = gen_check_output("--save-latents", save_latents)) != 0) return rc;
    char builtin[4096], builtin_vq[4096];
    if (!model) {
        if (!prompt || embeds || cls || (vae && !want_var) || (arch && !want_var && strcmp(arch, "mmdit")))
            return args_usage_error(&ap, "--model PATH is required (or --prompt TEXT alone for the built-in world model, "
                                         "--arch var for the world VAR)");
        if (silt_models_find(want_var ? SILT_MODEL_WORLD_VAR : SILT_MODEL_WORLD_DIT, builtin, sizeof builtin) != SILT_OK)
            return gen_fail(NULL);
        model = builtin;
    }
    if (want_var && !vae) {
        if (silt_models_find(SILT_MODEL_WORLD_VQ, builtin_vq, sizeof builtin_vq) != SILT_OK) return gen_fail(NULL);
        vae = builtin_vq;
    }

    guide_heads heads = {0};
    silt_txt2img *t = NULL;
    silt_image **tiles = NULL, *sheet = NULL;
    float *noise = NULL, *latent = NULL;
    char **labels = NULL;
    wclip_model *judge = NULL;
    int status = 1, n = grid > 0 ? grid : 1;
    silt_status s = silt_txt2img_load(model, vae, clip, &t);
    if (s != SILT_OK) { status = fail_status(s, model); goto done; }
    const silt_txt2img_info *in = silt_txt2img_get_info(t);
    silt_txt2img_params p = silt_txt2img_default_params(t);
    char cond_text[1024];
    const bool is_var = in->family == SILT_FAMILY_VAR, world = in->world_text;
    if (arch && strcmp(arch, silt_family_name(in->family))) {
        status = args_usage_error(&ap, "--arch %s, but %s is a %s model", arch, base(model), silt_family_name(in->family));
        goto done;
    }
    // auto: cuda when a GPU is usable (DiT, MMDiT and VAR alike). The probe's
    // "no usable GPU: running on the CPU" note is kept off stderr here (errors
    // stay one line); the closing line names the device. With --device cuda
    // and no GPU, the error line gives the reason instead.
    silt_log_level lv = silt_log_get_level();
    if (lv > SILT_LOG_WARN) silt_log_set_level(SILT_LOG_WARN);
    bool want_cuda = device == 2 || (device == 0 && silt_cuda_available());
    s = want_cuda ? silt_txt2img_set_device(t, SILT_CUDA) : SILT_OK;
    silt_log_set_level(lv);
    if (s != SILT_OK) { status = fail_status(s, "--device cuda"); goto done; }
    if (precision != SILT_PRECISION_FP32 && silt_txt2img_device(t) != SILT_CUDA) {
        status = args_usage_error(&ap, "--precision %s runs on cuda; this run is on the cpu%s", silt_precision_names[precision],
                                  device == 0 ? " (no usable GPU)" : "");
        goto done;
    }
    if (precision == SILT_PRECISION_BF16 && is_var) {
        status = args_usage_error(&ap, "--precision bf16 is for DiT and MMDiT; a VAR runs in fp32 or tf32");
        goto done;
    }
    s = silt_txt2img_set_precision(t, (silt_precision)precision);
    if (s != SILT_OK) { status = fail_status(s, "--precision"); goto done; }
    if ((rc = check_family_flags(&ap, given, in->family, gf.mode)) != 0) { status = rc; goto done; }
    var_search_params search = {0};
    var_reward_kind reward = VAR_REWARD_EVAL;
    const char *sflag = NULL;
    if (!world && gen_search_flags_given(&ap, given, &sflag)) {
        status = args_usage_error(&ap, "--%s is for the world models (a prompt to score), not this %s", sflag,
                                  silt_family_name(in->family));
        goto done;
    }
    if (world) {
        if ((rc = gen_search_flags_resolve(&sf, &ap, given, is_var ? in->n_scales : 0, false, &search, &reward)) != 0) { status = rc; goto done; }
        if (!is_var && !args_was_given(&ap, given, "reward")) reward = VAR_REWARD_CLIP;  // the evaluator would be an oracle
        if (search.kind != VAR_SEARCH_NONE && save_latents) {
            status = args_usage_error(&ap, "--save-latents does not apply to a search (%s)", is_var ? "VAR" : "its candidates");
            goto done;
        }
        if (search.kind != VAR_SEARCH_NONE && (rc = gen_search_load_judge(&sf, reward, in->native_width, &judge)) != 0) {
            status = rc;
            goto done;
        }
    }
    if ((rc = gen_guide_flags_check(&gf, &ap, &heads)) != 0) { status = rc; goto done; }
    if (in->family == SILT_FAMILY_DIT || (is_var && !world)) {
        const char *fam = is_var ? "VAR" : "DiT";
        if (prompt || embeds) { status = args_usage_error(&ap, "this %s is class-conditional: use --class N|NAME, not --prompt", fam); goto done; }
        if (!cls) { status = args_usage_error(&ap, "this %s is class-conditional: pass --class N|NAME", fam); goto done; }
        s = silt_imagenet_class_parse(cls, in->num_classes, &p.class_id);
        if (s != SILT_OK) { status = fail_status(s, cls); goto done; }
        const char *name = in->num_classes == SILT_IMAGENET_CLASSES ? silt_imagenet_class_name(p.class_id) : NULL;
        snprintf(cond_text, sizeof cond_text, "class %d%s%s%s", p.class_id, name ? " (" : "", name ? name : "", name ? ")" : "");
    } else if (world) {
        if (cls) { status = args_usage_error(&ap, "this world model is text-conditional: --class is for DiT and class VAR models"); goto done; }
        if (embeds) { status = args_usage_error(&ap, "this world model encodes its prompt with world-CLIP: pass --prompt, not --text-embeds"); goto done; }
        if (!prompt) { status = args_usage_error(&ap, "this world model needs --prompt TEXT"); goto done; }
        warn_unknown("prompt", prompt);
        if (negative) warn_unknown("negative prompt", negative);
        p.prompt = prompt;
        if (negative) p.negative = negative;
        snprintf(cond_text, sizeof cond_text, "%s", prompt);
    } else {
        if (cls) { status = args_usage_error(&ap, "this MMDiT is text-conditional: --class is for DiT models"); goto done; }
        if (negative || clip) { status = args_usage_error(&ap, "--%s is for world models (silt.text_encoder = world-clip); this MMDiT takes --text-embeds", negative ? "negative" : "clip"); goto done; }
        if (!embeds) {
            status = args_usage_error(&ap, "this MMDiT has no built-in text encoder: pass --text-embeds FILE.safetensors%s",
                                      prompt ? " (the prompt alone cannot be encoded)" : "");
            goto done;
        }
        p.text_embeds = embeds;
        snprintf(cond_text, sizeof cond_text, "%s%stext-embeds: %s", prompt ? prompt : "", prompt ? "\n" : "", base(embeds));
    }
    if (!world && negative) { status = args_usage_error(&ap, "--negative is for world models"); goto done; }
    if (sampler_name) {
        silt_sampler_params sp = silt_sampler_default_params(sk);
        sp.clip_sample = false;  // DiT and SD samplers run unclipped
        sp.steps = p.sampler.steps;
        sp.shift = p.sampler.shift;
        p.sampler = sp;
    }
    if (steps > 0) p.sampler.steps = steps;
    if (args_was_given(&ap, given, "shift") || !world) p.sampler.shift = shift;
    p.sampler.eta = eta;
    gen_guide_flags_apply(&gf, &p.guide);
    if (guided >= 0) p.guide.guided_channels = guided;
    if (!isnan(gf.cfg)) p.var.cfg = (float)gf.cfg;
    p.var.top_k = top_k;
    p.var.top_p = (float)top_p;
    p.heads = &heads;
    p.width = width;
    p.height = height;
    p.progress = !quiet;
    p.search = world ? &search : NULL;
    p.search_reward = reward;
    p.search_judge = judge;
    // Upscaling: world models by default, other models when --upscale is given.
    const int made_w = width > 0 ? width : in->native_width, made_h = height > 0 ? height : in->native_height;
    int up = native || (!world && !args_was_given(&ap, given, "upscale")) ? 0 : upscale;
    if (up && (up < made_w || up % made_w)) {
        status = args_usage_error(&ap, "--upscale %d: must be a multiple of the image width %d (nearest neighbour, so "
                                       "gen eval reads it back exactly)", up, made_w);
        goto done;
    }
    if (up == made_w) up = 0;
    const int up_h = up ? made_h * (up / made_w) : made_h;

    tiles = calloc((size_t)n, sizeof *tiles);
    labels = calloc((size_t)n, sizeof *labels);
    if (!tiles || !labels) { fprintf(stderr, "gen: out of memory\n"); goto done; }
    // Latent geometry for --save-latents (the run checks the size itself).
    int lw = made_w / in->downscale, lh = made_h / in->downscale;
    int64_t per = (int64_t)in->latent_channels * lh * lw;
    if (save_latents) {
        noise = malloc(sizeof(float) * (size_t)(per * n));
        latent = malloc(sizeof(float) * (size_t)(per * n));
        if (!noise || !latent) { fprintf(stderr, "gen: out of memory\n"); goto done; }
    }
    silt_txt2img_report rep = {0};
    int evals = 0;
    double secs = 0, reward_mean = NAN;
    var_compute cost = {0};
    // World models run the grid as one batch (image i: Philox stream i of the
    // seed); the others run seed + i one by one.
    const int runs = world ? 1 : n;
    for (int i = 0; i < runs; i++) {
        p.seed = (uint64_t)seed + (uint64_t)i;
        p.batch = world ? n : 1;
        p.noise_out = noise ? noise + i * per : NULL;
        p.latent_out = latent ? latent + i * per : NULL;
        s = silt_txt2img_run(t, &p, &tiles[i], &rep);
        if (s != SILT_OK) { status = fail_status(s, "generate"); goto done; }
        evals += rep.model_rows;
        secs += rep.seconds;
        var_compute_add(&cost, &rep.compute);
        reward_mean = rep.search_reward;
    }
    for (int i = 0; i < n; i++) {
        labels[i] = malloc(32);
        if (!labels[i]) { fprintf(stderr, "gen: out of memory\n"); goto done; }
        if (is_var && world && search.kind != VAR_SEARCH_NONE) snprintf(labels[i], 32, "seed %d", seed + i);
        else if (world) snprintf(labels[i], 32, "seed %d #%d", seed, i);
        else snprintf(labels[i], 32, "seed %d", seed + i);
        if (up) {
            silt_image *big = NULL;
            if (silt_image_resize_nearest(tiles[i], up, up_h, &big) != SILT_OK) { status = gen_fail("upscale"); goto done; }
            silt_image_free(tiles[i]);
            tiles[i] = big;
        }
    }
    if (grid > 0) {
        s = silt_image_grid((const silt_image *const *)tiles, n, 0, 4, (const char *const *)labels, &sheet);
        if (s != SILT_OK) { status = gen_fail("grid"); goto done; }
    }

    // The parameters chunk: enough to regenerate the image from itself.
    char seeds[96], window[512] = "", extra[160] = "", sizes[64];
    if (grid > 0 && is_var && world && search.kind != VAR_SEARCH_NONE)
        snprintf(seeds, sizeof seeds, "%d (grid %d: searches with seeds %d..%d)", seed, grid, seed, seed + grid - 1);
    else if (grid > 0 && world) snprintf(seeds, sizeof seeds, "%d (grid %d: Philox streams 0..%d)", seed, grid, grid - 1);
    else if (grid > 0) snprintf(seeds, sizeof seeds, "%d (grid %d: seeds %d..%d)", seed, grid, seed, seed + grid - 1);
    else snprintf(seeds, sizeof seeds, "%d", seed);
    if (up) snprintf(sizes, sizeof sizes, "%dx%d (written %dx%d, nearest)", rep.width, rep.height, up, up_h);
    else snprintf(sizes, sizeof sizes, "%dx%d", rep.width, rep.height);
    bool perturbs = guide_mode_perturbs(p.guide.mode);
    if (perturbs) {
        snprintf(window, sizeof window, ", scale: %g, heads: %s, window: %g-%g, adaptive: %g", (double)p.guide.scale,
                 rep.heads, (double)p.guide.start, (double)p.guide.stop, (double)p.guide.adaptive);
        if (p.guide.mode == GUIDE_SOFTPAG) snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", soft-u: %g", (double)p.guide.soft_u);
        if (p.guide.mode == GUIDE_SEG) snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", seg-sigma: %g", (double)p.guide.seg_sigma);
        if (in->family == SILT_FAMILY_MMDIT && (p.guide.mode == GUIDE_PAG || p.guide.mode == GUIDE_SOFTPAG))
            snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", identity: %s", guide_identity_name(rep.identity));
    }
    // The precision changes the pixels: recorded unless fp32 (the default).
    char prec[32] = "";
    if (precision != SILT_PRECISION_FP32) snprintf(prec, sizeof prec, ", precision: %s", silt_precision_names[precision]);
    char sampler_extra[64] = "", encoder[768] = "", cfg_window[64] = "";
    if (p.guide.cfg_start != 0.0f || p.guide.cfg_stop != 1.0f)
        snprintf(cfg_window, sizeof cfg_window, ", cfg-window: %g-%g", (double)p.guide.cfg_start, (double)p.guide.cfg_stop);
    if (p.sampler.sampler == SILT_SAMPLER_FLOW_EULER) snprintf(sampler_extra, sizeof sampler_extra, ", shift: %g", p.sampler.shift);
    else if (p.sampler.sampler == SILT_SAMPLER_DDIM && p.sampler.eta != 0) snprintf(sampler_extra, sizeof sampler_extra, ", eta: %g", p.sampler.eta);
    if (world) snprintf(encoder, sizeof encoder, ", clip: %s, negative: \"%s\"", base(in->clip_path), p.negative ? p.negative : "");
    // search_desc: the VAR's search, or the MMDiT's best-of-n with the candidates it kept (kept: 64 x at most 5 bytes).
    char params[8192], compute[512] = "", search_desc[1024] = "", kept[6 * SILT_TXT2IMG_MAX_PICKS] = "";
    if (is_var) {
        gen_search_describe(p.search, reward, sf.judge, in->n_scales, search_desc, sizeof search_desc);
        snprintf(compute, sizeof compute,
                 "compute: token-forwards %lld (%.2fx plain), flops %.4g (%.2fx plain), decodes %lld, reward calls %lld, "
                 "feature calls %lld", (long long)cost.token_forwards,
                 cost.plain_token_forwards ? (double)cost.token_forwards / (double)cost.plain_token_forwards : 0.0,
                 cost.flops, cost.plain_flops > 0 ? cost.flops / cost.plain_flops : 0.0, (long long)cost.decodes,
                 (long long)cost.reward_calls, (long long)cost.feature_calls);
    }
    if (is_var && world) {
        snprintf(params, sizeof params,
                 "%s\nmodel: %s, vq: %s%s, family: var, seed: %s, sampler: next-scale, scales: %d, guidance: %s, "
                 "cfg: %g, top-k: %d, top-p: %g, %s, %s, size: %s%s, silt %s",
                 cond_text, base(model), base(vae), encoder, seeds, in->n_scales, guide_mode_name(p.guide.mode),
                 p.guide.mode == GUIDE_NONE ? 0.0 : (double)p.var.cfg, p.var.top_k, (double)p.var.top_p, search_desc,
                 compute, sizes, prec, SILT_VERSION);
    } else if (is_var) {
        // VAR's cfg is the official ramp's (0 = off); the sampler is its scale loop.
        snprintf(params, sizeof params,
                 "%s\nmodel: %s, vae: %s, family: var, seed: %s, sampler: next-scale, scales: %d, guidance: %s, "
                 "cfg: %g, top-k: %d, top-p: %g, size: %s%s, silt %s",
                 cond_text, base(model), base(vae), seeds, in->n_scales, guide_mode_name(p.guide.mode),
                 p.guide.mode == GUIDE_NONE ? 0.0 : (double)p.var.cfg, p.var.top_k, (double)p.var.top_p, sizes, prec,
                 SILT_VERSION);
    } else {
        if (world && search.kind != VAR_SEARCH_NONE) {  // best-of-n: what scored, and which candidates were kept
            char desc[512];
            gen_search_describe(&search, reward, sf.judge, 0, desc, sizeof desc);
            for (int i = 0, len = 0; i < n && i < SILT_TXT2IMG_MAX_PICKS; i++)
                len += snprintf(kept + len, sizeof kept - (size_t)len, "%s%d", i ? "," : "", rep.search_pick[i]);
            snprintf(search_desc, sizeof search_desc, ", %s, kept: %s", desc, kept);
        }
        snprintf(params, sizeof params,
                 "%s\nmodel: %s, vae: %s%s, family: %s, seed: %s, sampler: %s, steps: %d%s, guidance: %s, cfg: %g%s%s%s%s, "
                 "size: %s%s, silt %s",
                 cond_text, base(model), vae ? base(vae) : "none", encoder, silt_family_name(in->family), seeds,
                 silt_sampler_name(p.sampler.sampler), p.sampler.steps, sampler_extra, guide_mode_name(p.guide.mode),
                 (double)p.guide.cfg, cfg_window, window, extra, search_desc, sizes, prec, SILT_VERSION);
    }
    s = silt_image_write_png(sheet ? sheet : tiles[0], out, params);
    if (s != SILT_OK) { status = gen_fail(out); goto done; }
    if (save_latents) {
        silt_st_writer *w = silt_st_writer_create();
        int64_t shape[4] = {n, in->latent_channels, lh, lw};
        s = w ? SILT_OK : SILT_FAIL(SILT_ERR_OOM, "out of memory");
        if (s == SILT_OK) s = silt_st_writer_add(w, "noise", SILT_ST_F32, 4, shape, noise);
        if (s == SILT_OK) s = silt_st_writer_add(w, "latent", SILT_ST_F32, 4, shape, latent);
        if (s == SILT_OK) s = silt_st_writer_set_metadata(w, "parameters", params);
        if (s == SILT_OK) s = silt_st_writer_write(w, save_latents);
        silt_st_writer_free(w);
        if (s != SILT_OK) { status = gen_fail(save_latents); goto done; }
    }
    char what[48] = "";
    if (grid > 0) snprintf(what, sizeof what, "a grid of %d images, each ", grid);
    fprintf(stderr, "wrote %s (%s%s, %s, %d model evaluations on %s, %.2f s)\n", out, what, sizes,
            guide_mode_name(p.guide.mode), evals, silt_device_name(silt_txt2img_device(t)), secs);
    if (!is_var && world && search.kind != VAR_SEARCH_NONE)
        fprintf(stderr, "best of %d by %s: kept candidate%s %s (0 = the plain image); mean reward %.4f\n", search.n,
                var_reward_kind_name(reward), n > 1 ? "s" : "", kept, reward_mean);
    if (is_var && world) {
        fprintf(stderr, "%s; %s", search_desc, compute);
        if (!isnan(reward_mean)) fprintf(stderr, "; reward %.4f", reward_mean);
        fprintf(stderr, "\n");
    }
    status = 0;
done:
    for (int i = 0; tiles && i < n; i++) silt_image_free(tiles[i]);
    for (int i = 0; labels && i < n; i++) free(labels[i]);
    free(tiles);
    free(labels);
    free(noise);
    free(latent);
    silt_image_free(sheet);
    silt_txt2img_free(t);
    wclip_free(judge);
    guide_heads_free(&heads);
    return status;
}
