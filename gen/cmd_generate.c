// gen generate (also plain `gen --model ...`): images from DiT / MMDiT
// checkpoints with CFG or attention-perturbation guidance, and from VAR
// checkpoints (next-scale prediction, CFG on the logits). Parses flags,
// resolves the class / text embeddings / heads, runs gen/lib/txt2img, writes
// the PNG with its parameters.
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
#include "gen/lib/imagenet_classes.h"
#include "gen/lib/txt2img.h"

static const char *const guidance_choices[] = {"none", "cfg", "pag", "softpag", "seg", "slg", "uniform", NULL};
static const char *const identity_choices[] = {"auto", "joint", "image", NULL};
static const char *const device_choices[] = {"auto", "cpu", "cuda", NULL};

static const char summary[] =
    "Generate an image with a DiT (class-conditional), MMDiT (SD3-style, text) or VAR (class-conditional,\n"
    "next-scale prediction) checkpoint.\n"
    "\n"
    "Guidance, convention A (diffusers, HeadHunter), e_c/e_u/e_p = cond/uncond/perturbed predictions:\n"
    "  cfg:                    e = e_u + g (e_c - e_u)                 g = --cfg (off when g = 1)\n"
    "  pag softpag seg slg uniform:  e = e_c + s (e_c - e_p), plus the CFG term when g != 1:\n"
    "                          e = e_u + g (e_c - e_u) + s (e_c - e_p)   s = --pag-scale\n"
    "  The official ADM PAG code writes e_p + s'(e_c - e_p): its --guide_scale 4.0 is 3.0 here.\n"
    "  Model rows per step: 3 with CFG and a perturbation, 2 with one of them, 1 for none. Outside\n"
    "  the step window, or where the adaptive scale reaches 0, no perturbed row is run.\n"
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
    "VAR (var_d16.safetensors etc., converted with tools/pth2safetensors.py): --vae must be its VQ-VAE\n"
    "  (vae_ch160v4096z32.safetensors); --class N|NAME; --guidance cfg|none. CFG acts on the logits and\n"
    "  ramps over the K scales (official autoregressive_infer_cfg): t = cfg k/(K-1),\n"
    "  logits = (1+t) cond - t uncond, so --cfg 0 is off (not 1). Then --top-k / --top-p and a draw.\n"
    "  Defaults are the official FID setting: cfg 1.5, top-k 900, top-p 0.96 (the README suggests cfg 5\n"
    "  for visual quality; the demo notebook uses cfg 4, top-p 0.95). The size is fixed by the scales\n"
    "  (256 px for the released 256 px models). Sampler, steps, heads and perturbation flags do not apply.\n"
    "\n"
    "Noise: image i of --grid uses seed + i, so `--seed S+i` regenerates it alone. The PNG keeps\n"
    "the parameters in its 'parameters' text chunk. Exit: 0 ok, 1 runtime failure, 2 usage error.";

// Flags that only one family reads are usage errors for the others, named,
// so that e.g. `--steps 50` on a VAR is not silently ignored.
static int check_family_flags(const arg_parser *ap, const bool *given, silt_family family, int mode) {
    static const char *const not_var[] = {"sampler", "steps", "shift", "eta", "heads", "pag-scale", "soft-u",
                                          "identity", "guide-start", "guide-stop", "adaptive-scale", "seg-sigma",
                                          "guided-channels", "save-latents", NULL};
    static const char *const var_only[] = {"top-k", "top-p", NULL};
    if (family == SILT_FAMILY_VAR) {
        for (int i = 0; not_var[i]; i++)
            if (args_was_given(ap, given, not_var[i]))
                return args_usage_error(ap, "--%s does not apply to VAR (next-scale prediction: no sampler steps, "
                                            "latents or attention perturbation)", not_var[i]);
        if (mode != GUIDE_NONE && mode != GUIDE_CFG)
            return args_usage_error(ap, "--guidance %s does not apply to VAR: use cfg (on the logits) or none",
                                    guidance_choices[mode]);
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

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *vae = NULL, *prompt = NULL, *cls = NULL, *embeds = NULL, *heads_arg = NULL;
    const char *sampler_name = NULL, *out = "out.png", *save_latents = NULL;
    int mode = GUIDE_CFG, identity = GUIDE_IDENTITY_AUTO;
    double cfg = NAN, scale = 3.0, soft_u = 0.5, start = 0.0, stop = 1.0, adaptive = 0.0, sigma = INFINITY,
           shift = 3.0, eta = 0.0;
    int steps = 0, seed = 0, width = 0, height = 0, grid = 0, guided = -1;
    const var_sample_params var_def = var_sample_default_params();
    int top_k = var_def.top_k;
    double top_p = var_def.top_p;
    bool quiet = false;
    int device = 0;  // device_choices: auto
    arg_spec specs[] = {
        {"model", 'm', ARG_STR, &model, "PATH", "DiT, MMDiT or VAR checkpoint (.safetensors[.zst]); required", NULL, 0, -1},
        {"vae", 0, ARG_STR, &vae, "PATH", "VAE (AutoencoderKL) to decode latents; needed unless the model makes 3-channel images. VAR: its VQ-VAE tokenizer (required)", NULL, 0, -1},
        {"class", 'c', ARG_STR, &cls, "N|NAME", "DiT, VAR: ImageNet class id or exact name ('golden retriever')", NULL, 0, -1},
        {"prompt", 'p', ARG_STR, &prompt, "TEXT", "MMDiT: prompt (recorded in the PNG; the embeddings come from --text-embeds)", NULL, 0, -1},
        {"text-embeds", 0, ARG_STR, &embeds, "FILE", "MMDiT: safetensors with prompt_embeds (1,T,joint), pooled_prompt_embeds (1,pooled) and the negative_ pair", NULL, 0, -1},
        {"guidance", 'g', ARG_CHOICE, &mode, "MODE", "guidance method (see above)", guidance_choices, 0, -1},
        {"cfg", 0, ARG_FLOAT, &cfg, "G", "CFG scale g (1 = off; VAR: 0 = off, see above) [default: 4 for DiT (diffusers DiTPipeline), 7 for MMDiT (diffusers SD3), 1.5 for VAR (official FID setting)]", NULL, -100, 100},
        {"top-k", 0, ARG_INT, &top_k, "K", "VAR: keep the K most likely tokens per position (0: all)", NULL, 0, 1000000},
        {"top-p", 0, ARG_FLOAT, &top_p, "P", "VAR: nucleus mass kept after top-k (0: all)", NULL, 0, 1},
        {"pag-scale", 0, ARG_FLOAT, &scale, "S", "perturbation scale s for pag/softpag/seg/slg/uniform", NULL, -100, 100},
        {"heads", 0, ARG_STR, &heads_arg, "SPEC|FILE", "perturbed heads/layers (see above) [default: every head of layer depth/2]", NULL, 0, -1},
        {"soft-u", 0, ARG_FLOAT, &soft_u, "U", "SoftPAG u for heads without their own (1 = PAG)", NULL, 0, 1},
        {"identity", 0, ARG_CHOICE, &identity, "KIND", "MMDiT identity for pag/softpag", identity_choices, 0, -1},
        {"guide-start", 0, ARG_FLOAT, &start, "F", "perturbation on from this fraction of the steps", NULL, 0, 1},
        {"guide-stop", 0, ARG_FLOAT, &stop, "F", "perturbation off from this fraction of the steps", NULL, 0, 1},
        {"adaptive-scale", 0, ARG_FLOAT, &adaptive, "A", "diffusers adaptive PAG scale: s(t) = max(0, s - A (1000 - t)); ~1e-3", NULL, 0, 1000},
        {"seg-sigma", 0, ARG_FLOAT, &sigma, "SIGMA", "SEG blur sigma over the token grid (> 9999: mean query) [default: inf (mean query)]", NULL, 1e-3, 1e30},
        {"guided-channels", 0, ARG_INT, &guided, "K", "guide only the first K output channels (0: all) [default: the model's: 3 for original DiT, all otherwise]", NULL, 0, 4096},
        {"sampler", 0, ARG_STR, &sampler_name, "NAME", "ddpm, ddim, euler, euler_a, dpmpp_2m (DiT) or flow_euler (MMDiT) [default: ddim for DiT, flow_euler for MMDiT]", NULL, 0, -1},
        {"steps", 0, ARG_INT, &steps, "N", "sampling steps [default: 50 for DiT, 28 for MMDiT]", NULL, 1, 1000},
        {"shift", 0, ARG_FLOAT, &shift, "K", "flow_euler schedule shift (SD3)", NULL, 0.01, 100},
        {"eta", 0, ARG_FLOAT, &eta, "ETA", "ddim eta (0: deterministic)", NULL, 0, 1},
        {"seed", 's', ARG_INT, &seed, "N", "noise seed", NULL, 0, 2147483647},
        {"width", 'W', ARG_INT, &width, "N", "image width in pixels [default: the model's native size]", NULL, 1, 16384},
        {"height", 'H', ARG_INT, &height, "N", "image height in pixels [default: the model's native size]", NULL, 1, 16384},
        {"grid", 0, ARG_INT, &grid, "N", "N seeds (seed, seed+1, ...) in one labelled contact sheet (0: one image)", NULL, 0, 64},
        {"output", 'o', ARG_STR, &out, "PATH", "PNG file to write", NULL, 0, -1},
        {"save-latents", 0, ARG_STR, &save_latents, "PATH", "also write the initial noise and the final latent (model space) as safetensors 'noise', 'latent' (N,C,h,w)", NULL, 0, -1},
        {"quiet", 'q', ARG_BOOL, &quiet, NULL, "no progress bar", NULL, 0, -1},
        {"device", 0, ARG_CHOICE, &device, "DEV", "where DiT/MMDiT run: auto (cuda when a GPU is usable, else cpu), cpu, cuda; VAR and the VAE run on the cpu", device_choices, 0, -1},
    };
    arg_parser ap = {"gen generate",
                     "gen [generate] --model PATH [--vae PATH] (--class N|NAME | --text-embeds FILE [--prompt TEXT])\n"
                     "           [--guidance MODE] [--cfg G] [--pag-scale S] [--heads SPEC] [-o out.png]\n"
                     "       gen [generate] --model VAR --vae VQVAE --class N|NAME [--cfg G] [--top-k K] [--top-p P] [-o out.png]",
                     summary, specs, (int)(sizeof specs / sizeof *specs), NULL, 0, 0};
    bool given[sizeof specs / sizeof *specs];
    int rc = args_parse_given(&ap, argc, argv, given);
    if (rc) return rc == 1 ? 0 : rc;
    if (!model) return args_usage_error(&ap, "--model PATH is required");
    if (cls && (prompt || embeds)) return args_usage_error(&ap, "--class is for DiT and VAR, --prompt/--text-embeds for MMDiT: not both");
    if (start >= stop) return args_usage_error(&ap, "--guide-start %g must be below --guide-stop %g", start, stop);
    silt_sampler_kind sk = SILT_SAMPLER_DDIM;
    if (sampler_name && silt_sampler_from_name(sampler_name, &sk) != SILT_OK)
        return args_usage_error(&ap, "--sampler: unknown sampler '%s' (ddpm, ddim, euler, euler_a, dpmpp_2m, flow_euler)", sampler_name);

    guide_heads heads = {0};
    if (heads_arg) {
        silt_status hs = guide_heads_from_arg(heads_arg, &heads);
        if (hs != SILT_OK) return fail_status(hs == SILT_ERR_FORMAT ? SILT_ERR_ARG : hs, heads_arg);
    }

    silt_txt2img *t = NULL;
    silt_image **tiles = NULL, *sheet = NULL;
    float *noise = NULL, *latent = NULL;
    char **labels = NULL;
    int status = 1;
    silt_status s = silt_txt2img_load(model, vae, &t);
    if (s != SILT_OK) { status = fail_status(s, model); goto done; }
    const silt_txt2img_info *in = silt_txt2img_get_info(t);
    silt_txt2img_params p = silt_txt2img_default_params(t);
    char cond_text[512];
    const bool is_var = in->family == SILT_FAMILY_VAR;
    // auto: cuda for DiT/MMDiT when a GPU is usable (VAR has no device path
    // yet). The probe's "no usable GPU: running on the CPU" note is kept off
    // stderr here (errors stay one line); the closing line names the device.
    // With --device cuda and no GPU, the error line gives the reason instead.
    silt_log_level lv = silt_log_get_level();
    if (lv > SILT_LOG_WARN) silt_log_set_level(SILT_LOG_WARN);
    bool want_cuda = device == 2 || (device == 0 && !is_var && silt_cuda_available());
    s = want_cuda ? silt_txt2img_set_device(t, SILT_CUDA) : SILT_OK;
    silt_log_set_level(lv);
    if (s != SILT_OK) { status = fail_status(s, "--device cuda"); goto done; }
    if ((rc = check_family_flags(&ap, given, in->family, mode)) != 0) { status = rc; goto done; }
    if (heads_arg && !guide_mode_perturbs((guide_mode)mode)) {
        status = args_usage_error(&ap, "--heads needs a perturbation guidance (pag, softpag, seg, slg, uniform), not %s",
                                  guidance_choices[mode]);
        goto done;
    }
    if (in->family == SILT_FAMILY_DIT || is_var) {
        const char *fam = is_var ? "VAR" : "DiT";
        if (prompt || embeds) { status = args_usage_error(&ap, "this %s is class-conditional: use --class N|NAME, not --prompt", fam); goto done; }
        if (!cls) { status = args_usage_error(&ap, "this %s is class-conditional: pass --class N|NAME", fam); goto done; }
        s = silt_imagenet_class_parse(cls, in->num_classes, &p.class_id);
        if (s != SILT_OK) { status = fail_status(s, cls); goto done; }
        const char *name = in->num_classes == SILT_IMAGENET_CLASSES ? silt_imagenet_class_name(p.class_id) : NULL;
        snprintf(cond_text, sizeof cond_text, "class %d%s%s%s", p.class_id, name ? " (" : "", name ? name : "", name ? ")" : "");
    } else {
        if (cls) { status = args_usage_error(&ap, "this MMDiT is text-conditional: --class is for DiT models"); goto done; }
        if (!embeds) {
            status = args_usage_error(&ap, "silt has no text encoders yet: pass --text-embeds FILE.safetensors%s",
                                      prompt ? " (the prompt alone cannot be encoded)" : "");
            goto done;
        }
        p.text_embeds = embeds;
        const char *b = strrchr(embeds, '/');
        snprintf(cond_text, sizeof cond_text, "%s%stext-embeds: %s", prompt ? prompt : "", prompt ? "\n" : "", b ? b + 1 : embeds);
    }
    if (sampler_name) {
        silt_sampler_params sp = silt_sampler_default_params(sk);
        sp.clip_sample = false;  // DiT and SD samplers run unclipped
        p.sampler = sp;
    }
    if (steps > 0) p.sampler.steps = steps;
    p.sampler.shift = shift;
    p.sampler.eta = eta;
    p.guide.mode = (guide_mode)mode;
    if (!isnan(cfg)) p.guide.cfg = (float)cfg;
    p.guide.scale = (float)scale;
    p.guide.soft_u = (float)soft_u;
    p.guide.start = (float)start;
    p.guide.stop = (float)stop;
    p.guide.adaptive = (float)adaptive;
    p.guide.seg_sigma = (float)sigma;
    p.guide.identity = (guide_identity)identity;
    if (guided >= 0) p.guide.guided_channels = guided;
    if (!isnan(cfg)) p.var.cfg = (float)cfg;
    p.var.top_k = top_k;
    p.var.top_p = (float)top_p;
    p.heads = &heads;
    p.width = width;
    p.height = height;
    p.progress = !quiet;

    int n = grid > 0 ? grid : 1;
    tiles = calloc((size_t)n, sizeof *tiles);
    labels = calloc((size_t)n, sizeof *labels);
    if (!tiles || !labels) { fprintf(stderr, "gen: out of memory\n"); goto done; }
    // Latent geometry for --save-latents (the run checks the size itself).
    int lw = (width > 0 ? width : in->native_width) / in->downscale, lh = (height > 0 ? height : in->native_height) / in->downscale;
    int64_t per = (int64_t)in->latent_channels * lh * lw;
    if (save_latents) {
        noise = malloc(sizeof(float) * (size_t)(per * n));
        latent = malloc(sizeof(float) * (size_t)(per * n));
        if (!noise || !latent) { fprintf(stderr, "gen: out of memory\n"); goto done; }
    }
    silt_txt2img_report rep = {0};
    int evals = 0;
    double secs = 0;
    for (int i = 0; i < n; i++) {
        p.seed = (uint64_t)seed + (uint64_t)i;
        p.noise_out = noise ? noise + i * per : NULL;
        p.latent_out = latent ? latent + i * per : NULL;
        s = silt_txt2img_run(t, &p, &tiles[i], &rep);
        if (s != SILT_OK) { status = fail_status(s, "generate"); goto done; }
        evals += rep.model_rows;
        secs += rep.seconds;
        labels[i] = malloc(32);
        if (!labels[i]) { fprintf(stderr, "gen: out of memory\n"); goto done; }
        snprintf(labels[i], 32, "seed %d", seed + i);
    }
    if (grid > 0) {
        s = silt_image_grid((const silt_image *const *)tiles, n, 0, 4, (const char *const *)labels, &sheet);
        if (s != SILT_OK) { status = gen_fail("grid"); goto done; }
    }

    // The parameters chunk: enough to regenerate the image from itself.
    const char *mb = strrchr(model, '/'), *vb = vae ? strrchr(vae, '/') : NULL;
    char seeds[64], window[512] = "", extra[160] = "";
    if (grid > 0) snprintf(seeds, sizeof seeds, "%d (grid %d: seeds %d..%d)", seed, grid, seed, seed + grid - 1);
    else snprintf(seeds, sizeof seeds, "%d", seed);
    bool perturbs = guide_mode_perturbs(p.guide.mode);
    if (perturbs) {
        snprintf(window, sizeof window, ", scale: %g, heads: %s, window: %g-%g, adaptive: %g", (double)p.guide.scale,
                 rep.heads, (double)p.guide.start, (double)p.guide.stop, (double)p.guide.adaptive);
        if (p.guide.mode == GUIDE_SOFTPAG) snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", soft-u: %g", (double)p.guide.soft_u);
        if (p.guide.mode == GUIDE_SEG) snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", seg-sigma: %g", (double)p.guide.seg_sigma);
        if (in->family == SILT_FAMILY_MMDIT && (p.guide.mode == GUIDE_PAG || p.guide.mode == GUIDE_SOFTPAG))
            snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", identity: %s", guide_identity_name(rep.identity));
    }
    char sampler_extra[64] = "";
    if (p.sampler.sampler == SILT_SAMPLER_FLOW_EULER) snprintf(sampler_extra, sizeof sampler_extra, ", shift: %g", p.sampler.shift);
    else if (p.sampler.sampler == SILT_SAMPLER_DDIM && p.sampler.eta != 0) snprintf(sampler_extra, sizeof sampler_extra, ", eta: %g", p.sampler.eta);
    char params[2048];
    if (is_var) {
        // VAR's cfg is the official ramp's (0 = off); the sampler is its scale loop.
        snprintf(params, sizeof params,
                 "%s\nmodel: %s, vae: %s, family: var, seed: %s, sampler: next-scale, scales: %d, guidance: %s, "
                 "cfg: %g, top-k: %d, top-p: %g, size: %dx%d, silt %s",
                 cond_text, mb ? mb + 1 : model, vb ? vb + 1 : vae, seeds, in->n_scales, guide_mode_name(p.guide.mode),
                 p.guide.mode == GUIDE_NONE ? 0.0 : (double)p.var.cfg, p.var.top_k, (double)p.var.top_p, rep.width,
                 rep.height, SILT_VERSION);
    } else {
        snprintf(params, sizeof params,
                 "%s\nmodel: %s, vae: %s, family: %s, seed: %s, sampler: %s, steps: %d%s, guidance: %s, cfg: %g%s%s, "
                 "size: %dx%d, silt %s",
                 cond_text, mb ? mb + 1 : model, vae ? (vb ? vb + 1 : vae) : "none", silt_family_name(in->family),
                 seeds, silt_sampler_name(p.sampler.sampler), p.sampler.steps, sampler_extra,
                 guide_mode_name(p.guide.mode), (double)p.guide.cfg, window, extra, rep.width, rep.height, SILT_VERSION);
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
    fprintf(stderr, "wrote %s (%dx%d, %s, %d model evaluations on %s, %.2f s)\n", out, rep.width, rep.height,
            guide_mode_name(p.guide.mode), evals, silt_device_name(silt_txt2img_device(t)), secs);
    status = 0;
done:
    for (int i = 0; tiles && i < (grid > 0 ? grid : 1); i++) {
        silt_image_free(tiles[i]);
        if (labels) free(labels[i]);
    }
    free(tiles);
    free(labels);
    free(noise);
    free(latent);
    silt_image_free(sheet);
    silt_txt2img_free(t);
    guide_heads_free(&heads);
    return status;
}
