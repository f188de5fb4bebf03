// The txt2img pipeline (txt2img.h): model batch per step laid out by
// guidance, the sampler's per-step API in between, VAE decode at the end.
// VAR runs var_generate (its own scale loop, KV cache and decode) instead.
#include "gen/lib/txt2img.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "core/json.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "cuda/cuda.h"
#include "dit/dit.h"
#include "dit/mmdit.h"
#include "gen/lib/models.h"
#include "gen/lib/world_latent.h"
#include "text/world_tokenizer.h"
#include "unet/vae.h"
#include "var/var.h"
#include "var/vqvae.h"

static const char *const family_names[SILT_FAMILY_COUNT] = {"dit", "mmdit", "var"};

const char *silt_family_name(silt_family f) { return (unsigned)f < SILT_FAMILY_COUNT ? family_names[f] : "?"; }

silt_status silt_family_from_name(const char *name, silt_family *out) {
    for (int i = 0; name && i < SILT_FAMILY_COUNT; i++)
        if (!strcmp(name, family_names[i])) { *out = (silt_family)i; return SILT_OK; }
    return SILT_FAIL(SILT_ERR_ARG, "unknown model family '%s' (expected dit, mmdit or var)", name ? name : "(null)");
}

struct silt_txt2img {
    silt_txt2img_info info;
    dit_model *dit;
    mmdit_model *mmdit;
    vae_model *vae;
    var_model *var;
    var_vqvae *vq;  // VAR's tokenizer (the --vae of a VAR)
    // A latent world MMDiT (metadata silt.latent = world-ae): its world
    // autoencoder decodes f = z / latent_scale + latent_shift.
    var_vqvae *wae;
    bool wants_wae;
    double latent_shift, latent_scale;
    wclip_model *clip;  // world models: the frozen text encoder
    int words;          // ... whose tokens get these channels (WCLIP_CTX_*; the model's joint_dim says which)
    // World models: defaults from the metadata (has_* false when absent).
    bool has_sampler, has_steps, has_shift, has_cfg, has_pag_scale;
    silt_sampler_kind meta_sampler;
    int meta_steps;
    double meta_shift;
    float meta_cfg, meta_pag_scale;
    bool has_top_k, has_top_p;  // world VAR metadata silt.top_k / silt.top_p
    int meta_top_k;
    float meta_top_p;
    silt_device device;  // where the DiT / MMDiT forward or the VAR (transformer and tokenizer) runs
};

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static silt_status load_vae(silt_txt2img *t, const char *path) {
    silt_safetensors *st = NULL;
    SILT_TRY(silt_safetensors_open(path, &st));
    char details[256] = "";
    const char *prefix = NULL;
    silt_arch a = silt_arch_detect(st, details, sizeof details, &prefix);
    if (a != SILT_ARCH_VAE && a != SILT_ARCH_VAE_DIFFUSERS) {
        silt_safetensors_close(st);
        return SILT_FAIL(SILT_ERR_ARG, "--vae %s: this is %s%s checkpoint, not a VAE (AutoencoderKL)", base_name(path),
                         a == SILT_ARCH_UNKNOWN ? "an unrecognised" : "a ", a == SILT_ARCH_UNKNOWN ? "" : silt_arch_name(a));
    }
    silt_status s = vae_load(st, &t->vae);
    silt_safetensors_close(st);
    if (s != SILT_OK) return s;
    const vae_config *vc = vae_get_config(t->vae);
    if (!vc->has_decoder) return SILT_FAIL(SILT_ERR_ARG, "--vae %s: the file has no decoder", base_name(path));
    if (vc->latent_channels != t->info.latent_channels)
        return SILT_FAIL(SILT_ERR_ARG, "--vae %s makes %d-channel latents but the model works on %d channels",
                         base_name(path), vc->latent_channels, t->info.latent_channels);
    if (vc->in_channels != 3)
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "--vae %s decodes %d-channel images; only RGB is supported",
                         base_name(path), vc->in_channels);
    t->info.has_vae = true;
    t->info.downscale = vc->downscale;
    return SILT_OK;
}

// VAR decodes its tokens with the multi-scale VQ-VAE it was trained with;
// the transformer decides the scales (the 512 px VAR reuses the 256 px
// tokenizer file), so they are set from it before the codebook checks.
static silt_status load_vq(silt_txt2img *t, const char *path) {
    silt_safetensors *st = NULL;
    SILT_TRY(silt_safetensors_open(path, &st));
    char details[256] = "";
    const char *prefix = NULL;
    silt_arch a = silt_arch_detect(st, details, sizeof details, &prefix);
    if (a != SILT_ARCH_VQVAE_VAR) {
        silt_safetensors_close(st);
        return SILT_FAIL(SILT_ERR_ARG,
                         "--vae %s: this is %s%s checkpoint, not a VAR VQ-VAE (quantize.embedding.weight); a VAR "
                         "decodes its tokens with its own tokenizer (vae_ch160v4096z32 for the released models)",
                         base_name(path), a == SILT_ARCH_UNKNOWN ? "an unrecognised" : "a ",
                         a == SILT_ARCH_UNKNOWN ? "" : silt_arch_name(a));
    }
    silt_status s = var_vq_load(st, &t->vq);
    silt_safetensors_close(st);
    if (s != SILT_OK) return s;
    const var_config *c = var_get_config(t->var);
    SILT_TRY(var_vq_set_patch_nums(t->vq, c->patch_nums, c->n_scales));
    if (var_check_vqvae(t->var, t->vq) != SILT_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", silt_last_error_message());
        return SILT_FAIL(SILT_ERR_ARG, "--vae %s: %s", base_name(path), msg);
    }
    const var_vq_config *q = var_vq_get_config(t->vq);
    if (q->in_channels != 3)
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "--vae %s decodes %d-channel images; only RGB is supported",
                         base_name(path), q->in_channels);
    t->info.has_vae = true;
    t->info.downscale = q->downsample;
    return SILT_OK;
}

// A number in metadata `key` within [lo, hi], or SILT_ERR_FORMAT naming it.
static silt_status meta_number(const silt_safetensors *st, const char *key, double lo, double hi, bool integer,
                               bool *has, double *out) {
    const char *v = silt_safetensors_metadata(st, key);
    *has = v != NULL;
    if (!v) return SILT_OK;
    char *end = NULL;
    double x = strtod(v, &end);
    if (end == v || *end || !isfinite(x) || x < lo || x > hi || (integer && x != floor(x)))
        return SILT_FAIL(SILT_ERR_FORMAT, "metadata %s = '%s': expected %s in [%g, %g]", key, v,
                         integer ? "an integer" : "a number", lo, hi);
    *out = x;
    return SILT_OK;
}

// The training size of a world model: the diffusers config's sample_size
// (mmdit_config_json writes pos_max x patch: the position table is exactly
// the training grid), else pos_max x patch. 0 when the config is unreadable.
static int world_native_size(const silt_safetensors *st, const mmdit_config *c) {
    const char *cfg = silt_safetensors_metadata(st, "config");
    silt_json *doc = NULL;
    int size = c->pos_max * c->patch;
    if (cfg && silt_json_parse(cfg, strlen(cfg), 16, &doc) == SILT_OK) {
        const silt_json_value *v = silt_json_member(doc, silt_json_root(doc), "sample_size");
        if (v && v->type == SILT_JSON_NUMBER && v->is_int && !v->negative && v->u >= 1 && v->u <= 4096) size = (int)v->u;
    }
    silt_json_free(doc);
    silt_error_clear();
    return size;
}

// The world-CLIP text encoder of a world model (clip_path, or the built-in
// one): its token width and pooled embedding must be the widths the model's
// text inputs take.
static silt_status load_world_clip(silt_txt2img *t, const char *clip_path, int token_width, int pooled_width,
                                   const char *family, bool words_ok) {
    silt_txt2img_info *in = &t->info;
    char found[sizeof in->clip_path];
    if (!clip_path) {
        SILT_TRY(silt_models_find(SILT_MODEL_WORLD_CLIP, found, sizeof found));
        clip_path = found;
    }
    snprintf(in->clip_path, sizeof in->clip_path, "%s", clip_path);
    SILT_TRY(wclip_load_file(clip_path, &t->clip));
    const wclip_config *cc = wclip_get_config(t->clip);
    // An MMDiT with the word channel (and the relation channel) takes wider
    // tokens (wclip_encode_context); the VAR trainer never appends them.
    t->words = WCLIP_CTX_CLIP;
    for (int ch = WCLIP_CTX_WORDS; words_ok && ch <= WCLIP_CTX_RELATION; ch++)
        if (token_width == wclip_context_width(t->clip, ch)) t->words = ch;
    if ((cc->width != token_width && !t->words) || cc->embed_dim != pooled_width)
        return SILT_FAIL(SILT_ERR_ARG, "--clip %s: text width %d (%d with the MMDiT's word channel) and embedding %d, but the %s "
                                       "takes text tokens of width %d and a pooled vector of %d (is it the world-CLIP "
                                       "the model was trained with?)",
                         base_name(clip_path), cc->width, cc->width + wclip_words_width(t->clip), cc->embed_dim,
                         family, token_width, pooled_width);
    in->world_text = true;
    return SILT_OK;
}

// A latent world MMDiT (gen/lib/world_latent.h): remembered, the
// autoencoder is loaded after the model (load_world_ae).
static silt_status world_latent(silt_txt2img *t, const silt_safetensors *st) {
    silt_world_latent wl;
    SILT_TRY(silt_world_latent_read(st, &wl));
    t->wants_wae = wl.on;
    t->latent_shift = wl.shift;
    t->latent_scale = wl.scale;
    return SILT_OK;
}

// World models: the sampling defaults the trainer stored, and the world-CLIP
// text encoder, whose widths must be the MMDiT's text widths. A training
// checkpoint of `gen train --arch mmdit` (format silt-train-checkpoint, arch
// mmdit) is a world model too, with the family defaults (it stores none).
static silt_status load_world(silt_txt2img *t, const silt_safetensors *st, const char *clip_path) {
    const char *enc = silt_safetensors_metadata(st, "silt.text_encoder");
    const char *fmt = silt_safetensors_metadata(st, "format"), *arch = silt_safetensors_metadata(st, "arch");
    if (!enc && fmt && arch && !strcmp(fmt, "silt-train-checkpoint") && !strcmp(arch, "mmdit")) enc = "world-clip";
    if (!enc) return SILT_OK;  // an SD3-style MMDiT fed --text-embeds
    if (strcmp(enc, "world-clip"))
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "metadata silt.text_encoder = '%s': the only built-in text encoder is "
                                               "world-clip", enc);
    const char *sm = silt_safetensors_metadata(st, "silt.sampler");
    if (sm) {
        if (silt_sampler_from_name(sm, &t->meta_sampler) != SILT_OK || t->meta_sampler != SILT_SAMPLER_FLOW_EULER)
            return SILT_FAIL(SILT_ERR_FORMAT, "metadata silt.sampler = '%s': an MMDiT samples with flow_euler", sm);
        t->has_sampler = true;
    }
    double v = 0;
    SILT_TRY(meta_number(st, "silt.steps", 1, 1000, true, &t->has_steps, &v));
    if (t->has_steps) t->meta_steps = (int)v;
    SILT_TRY(meta_number(st, "silt.shift", 0.01, 100, false, &t->has_shift, &t->meta_shift));
    SILT_TRY(meta_number(st, "silt.cfg", -100, 100, false, &t->has_cfg, &v));
    if (t->has_cfg) t->meta_cfg = (float)v;
    SILT_TRY(meta_number(st, "silt.pag_scale", -100, 100, false, &t->has_pag_scale, &v));
    if (t->has_pag_scale) t->meta_pag_scale = (float)v;

    silt_txt2img_info *in = &t->info;
    SILT_TRY(world_latent(t, st));
    SILT_TRY(load_world_clip(t, clip_path, in->joint_dim, in->pooled_dim, "MMDiT", true));
    in->native_width = in->native_height = world_native_size(st, mmdit_get_config(t->mmdit));
    return SILT_OK;
}

// A world autoencoder for a latent world MMDiT: vae_path, or the built-in
// world-ae; its latent width must be the model's channels.
static silt_status load_world_ae(silt_txt2img *t, const char *vae_path) {
    silt_txt2img_info *in = &t->info;
    char found[sizeof in->vae_path];
    if (!vae_path) {
        SILT_TRY(silt_models_find(SILT_MODEL_WORLD_AE, found, sizeof found));
        vae_path = found;
    }
    snprintf(in->vae_path, sizeof in->vae_path, "%s", vae_path);
    silt_safetensors *st = NULL;
    SILT_TRY(silt_safetensors_open(vae_path, &st));
    const char *kind = silt_safetensors_metadata(st, "silt.kind");
    silt_status s = kind && !strcmp(kind, SILT_WORLD_LATENT_NAME)
                        ? var_vq_load(st, &t->wae)
                        : SILT_FAIL(SILT_ERR_ARG, "--vae %s: not a world autoencoder (metadata silt.kind = world-ae), "
                                                  "which this latent world MMDiT decodes with", base_name(vae_path));
    silt_safetensors_close(st);
    if (s != SILT_OK) return s;
    const var_vq_config *q = var_vq_get_config(t->wae);
    if (q->z_channels != in->latent_channels || q->in_channels != 3)
        return SILT_FAIL(SILT_ERR_ARG, "--vae %s: a %d-channel latent of %d-channel images, but the model works on %d "
                                       "channels of RGB", base_name(vae_path), q->z_channels, q->in_channels,
                         in->latent_channels);
    in->has_vae = true;
    in->downscale = q->downsample;
    return SILT_OK;
}

// The world VAR (a text-conditioned VAR): its world-CLIP (clip_path or the
// built-in one) must give the widths the transformer's text projections
// take; metadata silt.cfg / silt.top_k / silt.top_p, when present, are the
// sampling defaults.
static silt_status load_world_var(silt_txt2img *t, const silt_safetensors *st, const char *clip_path) {
    const var_config *c = var_get_config(t->var);
    silt_txt2img_info *in = &t->info;
    double v = 0;
    SILT_TRY(meta_number(st, "silt.cfg", -100, 100, false, &t->has_cfg, &v));
    if (t->has_cfg) t->meta_cfg = (float)v;
    SILT_TRY(meta_number(st, "silt.top_k", 0, 1e9, true, &t->has_top_k, &v));
    if (t->has_top_k) t->meta_top_k = (int)v;
    SILT_TRY(meta_number(st, "silt.top_p", 0, 1, false, &t->has_top_p, &v));
    if (t->has_top_p) t->meta_top_p = (float)v;
    SILT_TRY(load_world_clip(t, clip_path, c->ctx_dim, c->text_dim, "VAR", false));
    in->joint_dim = c->ctx_dim;
    in->pooled_dim = c->text_dim;
    return SILT_OK;
}

silt_status silt_txt2img_load(const char *model_path, const char *vae_path, const char *clip_path, silt_txt2img **out) {
    if (!model_path || !out) return SILT_FAIL(SILT_ERR_ARG, "txt2img: NULL argument");
    silt_txt2img *t = calloc(1, sizeof *t);
    if (!t) return SILT_FAIL(SILT_ERR_OOM, "txt2img: out of memory");
    silt_safetensors *st = NULL;
    silt_status s = silt_safetensors_open(model_path, &st);
    if (s != SILT_OK) { free(t); return s; }
    char details[256] = "";
    const char *prefix = NULL;
    silt_txt2img_info *in = &t->info;
    in->arch = silt_arch_detect(st, details, sizeof details, &prefix);
    in->downscale = 1;
    switch (in->arch) {
    case SILT_ARCH_DIT:
    case SILT_ARCH_DIT_DIFFUSERS:
        in->family = SILT_FAMILY_DIT;
        s = dit_load(st, &t->dit);
        if (s == SILT_OK) {
            const dit_config *c = dit_get_config(t->dit);
            in->depth = c->depth;
            in->heads = c->heads;
            in->latent_channels = c->in_channels;
            in->patch = c->patch;
            in->num_classes = c->num_classes;
            in->native_width = in->native_height = c->input_size;
        }
        break;
    case SILT_ARCH_MMDIT:
    case SILT_ARCH_MMDIT_DIFFUSERS:
        in->family = SILT_FAMILY_MMDIT;
        s = mmdit_load(st, &t->mmdit);
        if (s == SILT_OK) {
            const mmdit_config *c = mmdit_get_config(t->mmdit);
            in->depth = c->depth;
            in->heads = c->heads;
            in->latent_channels = c->in_channels;
            in->patch = c->patch;
            in->joint_dim = c->joint_dim;
            in->pooled_dim = c->pooled_dim;
            // SD3 stores a 192-patch table for 64-patch (1024 px) images; the
            // tiny golden model 12 for 4. Our choice: pos_max / 3 patches.
            int side = (c->pos_max / 3 > 0 ? c->pos_max / 3 : 1) * c->patch;
            in->native_width = in->native_height = side;
            s = load_world(t, st, clip_path);
        }
        break;
    case SILT_ARCH_VAR:
        in->family = SILT_FAMILY_VAR;
        s = var_load(st, &t->var);
        if (s == SILT_OK) {
            const var_config *c = var_get_config(t->var);
            in->depth = c->depth;
            in->heads = c->num_heads;
            in->latent_channels = c->Cvae;
            in->patch = 1;
            in->num_classes = c->num_classes;
            in->vocab_size = c->vocab_size;
            in->n_scales = c->n_scales;
            memcpy(in->patch_nums, c->patch_nums, sizeof in->patch_nums);
            // Token grid of the last scale; times the tokenizer's downsample below.
            in->native_width = in->native_height = c->patch_nums[c->n_scales - 1];
            if (!vae_path)
                s = SILT_FAIL(SILT_ERR_ARG, "this VAR predicts VQ tokens: pass --vae FILE (or --vq FILE), the VAR VQ-VAE tokenizer "
                                            "it was trained with (vae_ch160v4096z32 for the released models, "
                                            "world-vq for the world VAR)");
            else if (c->text_dim)
                s = load_world_var(t, st, clip_path);
        }
        break;
    default:
        s = SILT_FAIL(SILT_ERR_ARG, "--model %s: %s%s; gen generate runs DiT, MMDiT and VAR checkpoints",
                      base_name(model_path),
                      in->arch == SILT_ARCH_UNKNOWN ? "unrecognised checkpoint" : silt_arch_name(in->arch),
                      in->arch == SILT_ARCH_VQVAE_VAR ? " (a VAR tokenizer: pass it as --vae of a VAR transformer)" : "");
        break;
    }
    silt_safetensors_close(st);
    if (s == SILT_OK && clip_path && !in->world_text)
        s = SILT_FAIL(SILT_ERR_ARG, "--clip is for world models (MMDiT with metadata silt.text_encoder = world-clip, "
                                    "or a text-conditioned VAR), not this %s", silt_family_name(in->family));
    if (s == SILT_OK && t->wants_wae) s = load_world_ae(t, vae_path);
    else if (s == SILT_OK && vae_path) s = in->family == SILT_FAMILY_VAR ? load_vq(t, vae_path) : load_vae(t, vae_path);
    if (s == SILT_OK && !vae_path && !t->wae && in->latent_channels != 3)
        s = SILT_FAIL(SILT_ERR_ARG, "this model makes %d-channel latents: pass --vae FILE to decode them",
                      in->latent_channels);
    if (s != SILT_OK) { silt_txt2img_free(t); return s; }
    in->native_width *= in->downscale;
    in->native_height *= in->downscale;
    *out = t;
    return SILT_OK;
}

void silt_txt2img_free(silt_txt2img *t) {
    if (!t) return;
    dit_free(t->dit);
    mmdit_free(t->mmdit);
    vae_free(t->vae);
    var_free(t->var);
    var_vq_free(t->vq);
    var_vq_free(t->wae);
    wclip_free(t->clip);
    free(t);
}

const silt_txt2img_info *silt_txt2img_get_info(const silt_txt2img *t) { return &t->info; }

const wclip_model *silt_txt2img_clip(const silt_txt2img *t) { return t ? t->clip : NULL; }

silt_device silt_txt2img_device(const silt_txt2img *t) { return t->device; }

silt_status silt_txt2img_set_device(silt_txt2img *t, silt_device device) {
    if (!t) return SILT_FAIL(SILT_ERR_ARG, "txt2img: NULL argument");
    if (device == t->device) return SILT_OK;
    if (device != SILT_CUDA)
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "txt2img: a model on %s cannot move to %s", silt_device_name(t->device),
                         silt_device_name(device));
    if (!silt_cuda_available()) {
        char why[512];
        silt_cuda_describe(why, sizeof why);  // "no GPU (reason)" or "not built with CUDA"
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "no usable CUDA GPU: %s", why);
    }
    if (t->var) {  // the transformer and its tokenizer; world-CLIP stays on the cpu (one encode per prompt)
        SILT_TRY(var_to_device(t->var, SILT_CUDA));
        SILT_TRY(var_vq_to_device(t->vq, SILT_CUDA));
    } else {  // the model and its decoder (SD VAE or world autoencoder)
        SILT_TRY(t->dit ? dit_to_device(t->dit, SILT_CUDA) : mmdit_to_device(t->mmdit, SILT_CUDA));
        if (t->vae) SILT_TRY(vae_to_device(t->vae, SILT_CUDA));
        if (t->wae) SILT_TRY(var_vq_to_device(t->wae, SILT_CUDA));
    }
    t->device = SILT_CUDA;
    return SILT_OK;
}

const char *const silt_precision_names[] = {"fp32", "tf32", "bf16", NULL};

silt_status silt_txt2img_set_precision(silt_txt2img *t, silt_precision precision) {
    const char *const *names = silt_precision_names;
    if (!t || precision < SILT_PRECISION_FP32 || precision > SILT_PRECISION_BF16)
        return SILT_FAIL(SILT_ERR_ARG, "txt2img: bad precision");
    if (precision == SILT_PRECISION_FP32) return SILT_OK;
    if (t->device != SILT_CUDA)
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "precision %s runs on cuda; this model is on %s", names[precision],
                         silt_device_name(t->device));
    if (precision == SILT_PRECISION_TF32) {
        silt_cuda_set_allow_tf32(true);
        return SILT_OK;
    }
    if (t->var) return SILT_FAIL(SILT_ERR_UNSUPPORTED, "precision bf16 is for DiT and MMDiT; a VAR runs in fp32 or tf32");
    SILT_TRY(t->dit ? dit_weights_to_bf16(t->dit) : mmdit_weights_to_bf16(t->mmdit));
    silt_cuda_set_attention_bf16(true);
    return SILT_OK;
}

// Host floats into a graph tensor on either device, at element offset off.
static silt_status fill_tensor(silt_tensor *dst, int64_t off, const float *src, int64_t count) {
    if (dst->device == SILT_CPU) {
        memcpy(silt_f32(dst) + off, src, sizeof(float) * (size_t)count);
        return SILT_OK;
    }
    return silt_cuda_memcpy_h2d(silt_f32(dst) + off, src, sizeof(float) * (size_t)count);
}

silt_txt2img_params silt_txt2img_default_params(const silt_txt2img *t) {
    silt_txt2img_params p = {0};
    p.guide = guide_default_params();
    p.var = var_sample_default_params();
    p.batch = 1;
    p.progress = true;
    if (t && t->info.family == SILT_FAMILY_MMDIT) {
        p.sampler = silt_sampler_default_params(SILT_SAMPLER_FLOW_EULER);  // 28 steps, shift 3 (SD3)
        p.guide.cfg = 7.0f;                                                 // diffusers SD3 pipeline
        p.negative = "";
        if (t->has_steps) p.sampler.steps = t->meta_steps;
        if (t->has_shift) p.sampler.shift = t->meta_shift;
        if (t->has_cfg) p.guide.cfg = t->meta_cfg;
        if (t->has_pag_scale) p.guide.scale = t->meta_pag_scale;
    } else if (t && t->info.family == SILT_FAMILY_VAR && t->info.world_text) {
        p.negative = "";
        if (t->has_cfg) p.var.cfg = t->meta_cfg;
        if (t->has_top_k) p.var.top_k = t->meta_top_k;
        if (t->has_top_p) p.var.top_p = t->meta_top_p;
    } else {
        // diffusers DiTPipeline: DDIM, linear betas 1e-4..0.02, 50 steps; the
        // DiT sampler does not clip x0.
        p.sampler = silt_sampler_default_params(SILT_SAMPLER_DDIM);
        p.sampler.clip_sample = false;
        if (t && t->dit) p.guide.guided_channels = dit_get_config(t->dit)->guided_channels;
    }
    return p;
}

// ---- conditioning ------------------------------------------------------------

// ctx (n_ctx, T, J), pooled (n_ctx, P): n_ctx = 1 (one prompt for every
// image) or B (image b's own); the negative pair is (T, J), (P).
typedef struct text_cond {
    silt_safetensors *st;
    int64_t tokens;
    int n_ctx;
    float *ctx, *pooled, *neg_ctx, *neg_pooled;
} text_cond;

static void text_free(text_cond *c) {
    free(c->ctx);
    free(c->pooled);
    free(c->neg_ctx);
    free(c->neg_pooled);
    silt_safetensors_close(c->st);
    memset(c, 0, sizeof *c);
}

static silt_status text_read(text_cond *c, const char *path, const char *name, int64_t d1, int64_t d2, bool seq,
                             float **dst) {
    const silt_st_tensor *x = silt_safetensors_find(c->st, name);
    if (!x) return SILT_FAIL(SILT_ERR_ARG, "--text-embeds %s: no tensor '%s'", base_name(path), name);
    bool ok = seq ? (x->ndim == 3 && x->shape[0] == 1 && x->shape[1] >= 1 && x->shape[2] == d2 &&
                     (d1 < 0 || x->shape[1] == d1))
                  : (x->ndim == 2 && x->shape[0] == 1 && x->shape[1] == d2);
    if (!ok) {
        char shape[96] = "(";
        for (int i = 0; i < x->ndim; i++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld", i ? ", " : "", (long long)x->shape[i]);
        strncat(shape, ")", sizeof shape - strlen(shape) - 1);
        if (seq && d1 >= 0)
            return SILT_FAIL(SILT_ERR_ARG, "--text-embeds %s: '%s' has shape %s; expected (1, %lld, %lld)",
                             base_name(path), name, shape, (long long)d1, (long long)d2);
        return SILT_FAIL(SILT_ERR_ARG, "--text-embeds %s: '%s' has shape %s; expected (1, %s%lld)", base_name(path),
                         name, shape, seq ? "T, " : "", (long long)d2);
    }
    int64_t n = seq ? x->shape[1] * d2 : d2;
    if (seq) c->tokens = x->shape[1];
    *dst = malloc(sizeof(float) * (size_t)n);
    if (!*dst) return SILT_FAIL(SILT_ERR_OOM, "text embeddings: out of memory");
    return silt_safetensors_read_f32(x, *dst, n);
}

static silt_status text_load(text_cond *c, const char *path, const silt_txt2img_info *in, bool need_negative) {
    c->n_ctx = 1;
    if (!path)
        return SILT_FAIL(SILT_ERR_ARG, "this MMDiT needs text embeddings and silt has no text encoders yet: pass "
                                       "--text-embeds FILE.safetensors (prompt_embeds, pooled_prompt_embeds, "
                                       "negative_prompt_embeds, negative_pooled_prompt_embeds)");
    SILT_TRY(silt_safetensors_open(path, &c->st));
    SILT_TRY(text_read(c, path, "prompt_embeds", -1, in->joint_dim, true, &c->ctx));
    SILT_TRY(text_read(c, path, "pooled_prompt_embeds", 0, in->pooled_dim, false, &c->pooled));
    if (!need_negative) return SILT_OK;
    SILT_TRY(text_read(c, path, "negative_prompt_embeds", c->tokens, in->joint_dim, true, &c->neg_ctx));
    return text_read(c, path, "negative_pooled_prompt_embeds", 0, in->pooled_dim, false, &c->neg_pooled);
}

// The prompt without the words outside the world's vocabulary (callers warn
// about them: txt_world_tokenize names them), as the world tokenizer splits it.
static void world_clean_prompt(const char *prompt, char *out, size_t n) {
    size_t pos = 0, len = 0;
    char w[64];
    out[0] = 0;
    while (world_caption_next_word(prompt, &pos, w, sizeof w)) {
        if (txt_world_token_id(w) < 4) continue;  // <unk> (or a special token typed as a word)
        size_t l = strlen(w);
        if (len + l + 2 > n) break;
        if (len) out[len++] = ' ';
        memcpy(out + len, w, l + 1);
        len += l;
    }
}

// world-CLIP text tower, no grad: rows of ids (rows, max_len) -> dst_ctx
// (rows, T, J) tokens after the final LN, dst_pooled (rows, P) projected.
static silt_status world_encode_rows(const wclip_model *clip, int words, const int32_t *ids, int rows, float *dst_ctx,
                                     float *dst_pooled) {
    silt_graph *g = silt_graph_create(0);
    if (!g) return SILT_FAIL(SILT_ERR_OOM, "txt2img: out of memory");
    silt_graph_set_grad(g, false);
    silt_tensor *tok = NULL, *pooled = NULL;
    silt_status s = wclip_encode_context(g, clip, ids, rows, words, &tok, &pooled);
    if (s == SILT_OK && (!tok || !pooled)) s = silt_graph_status(g);
    if (s == SILT_OK) {
        memcpy(dst_ctx, silt_f32(tok), sizeof(float) * (size_t)silt_numel(tok));
        memcpy(dst_pooled, silt_f32(pooled), sizeof(float) * (size_t)silt_numel(pooled));
    }
    silt_graph_free(g);
    return s;
}

// World models: the B prompts (or the one prompt) and the negative through the
// frozen world-CLIP, exactly as the trainer conditions (BRIEF: ids =
// wclip_tokenize(caption); ctx = tokens, pooled = pooled).
static silt_status world_text(text_cond *c, const silt_txt2img *t, const silt_txt2img_params *p, bool need_negative) {
    const wclip_config *cc = wclip_get_config(t->clip);
    const int B = p->batch, L = cc->max_len;
    if (p->text_embeds)
        return SILT_FAIL(SILT_ERR_ARG, "this world model encodes its prompts with world-CLIP: pass a prompt, not text "
                                       "embeddings");
    if (!p->prompts && !p->prompt) return SILT_FAIL(SILT_ERR_ARG, "this world model needs a prompt");
    for (int b = 0; p->prompts && b < B; b++)
        if (!p->prompts[b]) return SILT_FAIL(SILT_ERR_ARG, "txt2img: prompts[%d] is NULL", b);
    c->n_ctx = p->prompts ? B : 1;
    c->tokens = L;
    const int64_t TJ = (int64_t)L * wclip_context_width(t->clip, t->words), P = cc->embed_dim;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)L * (size_t)c->n_ctx);
    c->ctx = malloc(sizeof(float) * (size_t)(TJ * c->n_ctx));
    c->pooled = malloc(sizeof(float) * (size_t)(P * c->n_ctx));
    if (need_negative) {
        c->neg_ctx = malloc(sizeof(float) * (size_t)TJ);
        c->neg_pooled = malloc(sizeof(float) * (size_t)P);
    }
    silt_status s = SILT_OK;
    if (!ids || !c->ctx || !c->pooled || (need_negative && (!c->neg_ctx || !c->neg_pooled)))
        s = SILT_FAIL(SILT_ERR_OOM, "txt2img: out of memory");
    char clean[4 * WORLD_CAPTION_MAX];
    for (int b = 0; b < c->n_ctx && s == SILT_OK; b++) {
        world_clean_prompt(p->prompts ? p->prompts[b] : p->prompt, clean, sizeof clean);
        s = wclip_tokenize(t->clip, clean, ids + (size_t)b * L);
    }
    if (s == SILT_OK) s = world_encode_rows(t->clip, t->words, ids, c->n_ctx, c->ctx, c->pooled);
    if (s == SILT_OK && need_negative) {
        world_clean_prompt(p->negative ? p->negative : "", clean, sizeof clean);
        s = wclip_tokenize(t->clip, clean, ids);
        if (s == SILT_OK) s = world_encode_rows(t->clip, t->words, ids, 1, c->neg_ctx, c->neg_pooled);
    }
    free(ids);
    return s;
}

// ---- the run -----------------------------------------------------------------

// var_generate calls this once per scale: the progress bar counts scales.
static silt_status var_progress(void *user, int si, int64_t B, int64_t l, int64_t V, const float *logits,
                                int32_t *idx) {
    (void)si, (void)B, (void)l, (void)V, (void)logits, (void)idx;
    silt_progress_step(user, 1);
    return SILT_OK;
}

// Compute of plain sampling (search.h's counts) for B images.
static void plain_compute(const silt_txt2img *t, const var_sample_params *vp, int64_t Tc, int64_t B,
                          silt_txt2img_report *rep) {
    const var_config *c = var_get_config(t->var);
    int64_t rows = vp->cfg != 0 ? 2 * B : B;
    for (int si = 0; si < c->n_scales; si++) {
        rep->compute.plain_token_forwards += rows * (int64_t)c->patch_nums[si] * c->patch_nums[si];
        rep->compute.plain_flops += var_scale_flops(c, Tc, si, rows);
    }
}

// The world VAR: prompts through world-CLIP, then per image either one plain
// batch (var_generate_text; image b is Philox stream b of the seed, or a
// batch-1 run of seeds[b]) or a test-time search.
static silt_status run_world_var(silt_txt2img *t, const silt_txt2img_params *p, const var_sample_params *vp,
                                 float *img, int64_t per, silt_txt2img_report *rep, silt_progress *prog) {
    const var_config *c = var_get_config(t->var);
    const int B = p->batch;
    text_cond tc = {0};
    const bool search = p->search && p->search->kind != VAR_SEARCH_NONE;
    SILT_TRY(world_text(&tc, t, p, vp->cfg != 0));
    const int64_t T = tc.tokens, E = c->text_dim, D = c->ctx_dim;
    float *pooled = malloc(sizeof(float) * (size_t)(B * E)), *tokens = malloc(sizeof(float) * (size_t)(B * T * D));
    silt_status s = pooled && tokens ? SILT_OK : SILT_FAIL(SILT_ERR_OOM, "txt2img: out of memory");
    for (int b = 0; b < B && s == SILT_OK; b++) {
        int k = tc.n_ctx > 1 ? b : 0;
        memcpy(pooled + b * E, tc.pooled + k * E, sizeof(float) * (size_t)E);
        memcpy(tokens + b * T * D, tc.ctx + k * T * D, sizeof(float) * (size_t)(T * D));
    }
    rep->search_reward = NAN;
    double rsum = 0;
    int rn = 0;
    if (s == SILT_OK && !search && !p->seeds) {
        var_text_cond vc = {pooled, tokens, tc.neg_pooled, tc.neg_ctx, T};
        s = var_generate_text(t->var, t->vq, &vc, B, vp, img, NULL);
        if (s == SILT_OK) {
            plain_compute(t, vp, T, B, rep);
            rep->compute.token_forwards = rep->compute.plain_token_forwards, rep->compute.flops = rep->compute.plain_flops, rep->compute.decodes = B;
        }
    }
    for (int b = 0; s == SILT_OK && (search || p->seeds) && b < B; b++) {
        var_text_cond vc = {pooled + b * E, tokens + b * T * D, tc.neg_pooled, tc.neg_ctx, T};
        var_sample_params v1 = *vp;
        v1.seed = p->seeds ? p->seeds[b] : p->seed + (search ? (uint64_t)b : 0);
        if (!search) {
            s = var_generate_text(t->var, t->vq, &vc, 1, &v1, img + b * per, NULL);
            if (s == SILT_OK) {
                plain_compute(t, vp, T, 1, rep);
                rep->compute.token_forwards = rep->compute.plain_token_forwards, rep->compute.flops = rep->compute.plain_flops, rep->compute.decodes = b + 1;
            }
            continue;
        }
        var_search_params sp = *p->search;
        var_world_reward wr;
        const char *prompt = p->prompts ? p->prompts[b] : p->prompt;
        s = var_world_reward_init(&wr, p->search_reward,
                                  p->search_reward == VAR_REWARD_JUDGE ? p->search_judge : t->clip, prompt);
        if (s != SILT_OK) break;
        sp.reward = var_world_reward_fn;
        sp.reward_user = &wr;
        sp.features = var_world_features_fn;
        sp.feature_user = t->clip;
        var_world_feature_dims(t->clip, &sp.feat_tokens, &sp.feat_dim);
        if (sp.trace) sp.trace = p->search->trace + (int64_t)b * c->n_scales * sp.n;
        var_search_stats st;
        s = var_search_text(t->var, t->vq, &vc, &v1, &sp, img + b * per, &st);
        if (s != SILT_OK) break;
        var_compute_add(&rep->compute, &st.compute);
        for (int k = 0; k < c->n_scales; k++) rep->model_rows += (int)(st.live[k] * (vp->cfg != 0 ? 2 : 1));
        if (!isnan(st.reward)) rsum += st.reward, rn++;
        if (prog) silt_progress_step(prog, 1);
    }
    if (rn == B) rep->search_reward = rsum / rn;
    free(pooled);
    free(tokens);
    text_free(&tc);
    return s;
}

// VAR: class (or world prompt) -> tokens scale by scale -> VQ-VAE decode, all
// in var_generate (autoregressive_infer_cfg). The image size is fixed by the scales.
static silt_status run_var(silt_txt2img *t, const silt_txt2img_params *p, silt_image **images,
                           silt_txt2img_report *report) {
    const silt_txt2img_info *in = &t->info;
    const int B = p->batch, W = in->native_width, H = in->native_height;
    if ((p->width > 0 && p->width != W) || (p->height > 0 && p->height != H))
        return SILT_FAIL(SILT_ERR_ARG, "size %dx%d: this VAR makes %dx%d images only (last scale %d tokens x tokenizer "
                                       "downsample %d)",
                         p->width > 0 ? p->width : W, p->height > 0 ? p->height : H, W, H, W / in->downscale,
                         in->downscale);
    if (p->noise_out || p->latent_out) return SILT_FAIL(SILT_ERR_ARG, "VAR has no noise or latents to save");
    if (p->guide.mode != GUIDE_NONE && p->guide.mode != GUIDE_CFG)
        return SILT_FAIL(SILT_ERR_ARG, "guidance %s is for diffusion models; VAR takes cfg (on the logits) or none",
                         guide_mode_name(p->guide.mode));
    if (!in->world_text && (p->class_id < 0 || p->class_id >= in->num_classes))
        return SILT_FAIL(SILT_ERR_ARG, "class %d is out of range (the model has %d classes, 0..%d)", p->class_id,
                         in->num_classes, in->num_classes - 1);
    if (!in->world_text && p->search && p->search->kind != VAR_SEARCH_NONE)
        return SILT_FAIL(SILT_ERR_ARG, "search %s needs the world VAR (a prompt to score); this VAR is class-conditional",
                         var_search_kind_name(p->search->kind));
    var_sample_params vp = p->var;
    vp.seed = p->seed;
    if (p->guide.mode == GUIDE_NONE) vp.cfg = 0.0f;  // (1 + 0) cond - 0 uncond: the uncond rows are skipped
    const int64_t per = (int64_t)3 * H * W;
    int32_t *labels = malloc(sizeof(int32_t) * (size_t)B);
    float *img = malloc(sizeof(float) * (size_t)(per * B));
    silt_image **made = calloc((size_t)B, sizeof *made);
    silt_txt2img_report rep;
    memset(&rep, 0, sizeof rep);
    silt_status s = SILT_OK;
    double t0 = silt_time_now();
    if (!labels || !img || !made) { s = SILT_FAIL(SILT_ERR_OOM, "txt2img: out of memory"); goto done; }
    for (int b = 0; b < B; b++) labels[b] = p->class_id;
    silt_progress prog;
    const bool search = p->search && p->search->kind != VAR_SEARCH_NONE;
    // The bar counts scales of a plain batch, images of a search.
    vp.token_fn = p->progress && !search ? var_progress : NULL;
    vp.token_user = p->progress && !search ? &prog : NULL;
    if (p->progress) silt_progress_begin(&prog, search ? "search" : "generate", search ? B : in->n_scales);
    if (in->world_text) {
        s = run_world_var(t, p, &vp, img, per, &rep, p->progress && search ? &prog : NULL);
    } else {
        s = var_generate(t->var, t->vq, labels, B, &vp, img, NULL);
        if (s == SILT_OK) {
            plain_compute(t, &vp, 0, B, &rep);
            rep.compute.token_forwards = rep.compute.plain_token_forwards, rep.compute.flops = rep.compute.plain_flops, rep.compute.decodes = B;
            rep.search_reward = NAN;
        }
    }
    if (p->progress) silt_progress_end(&prog);
    // var_generate's fhat_to_img maps to [0, 1] (img.add(1).mul(0.5)).
    for (int b = 0; b < B && s == SILT_OK; b++) s = silt_image_from_tensor(img + b * per, 3, H, W, 0.0f, 1.0f, &made[b]);
    if (s != SILT_OK) goto done;
    for (int b = 0; b < B; b++) { images[b] = made[b]; made[b] = NULL; }
    if (report) {
        *report = rep;
        report->identity = p->guide.identity;
        report->width = W;
        report->height = H;
        if (!search) report->model_rows = in->n_scales * (vp.cfg != 0 ? 2 * B : B);
        report->seconds = silt_time_now() - t0;
    }
done:
    for (int b = 0; made && b < B; b++) silt_image_free(made[b]);
    free(made);
    free(img);
    free(labels);
    return s;
}

static silt_status check_size(const silt_txt2img_info *in, int w, int h, int *lw, int *lh) {
    int unit = in->downscale * in->patch;
    if (w <= 0 || h <= 0 || w % unit || h % unit)
        return SILT_FAIL(SILT_ERR_ARG,
                         "size %dx%d does not fit the model: width and height must be multiples of %d "
                         "(VAE downscale %d x patch %d)",
                         w, h, unit, in->downscale, in->patch);
    *lw = w / in->downscale;
    *lh = h / in->downscale;
    return SILT_OK;
}

// DiT / MMDiT: noise -> sampler steps with guidance -> decode. Image b's
// initial noise is Philox stream nstream[b] of nseed[b] when those are given
// (a search's candidates), else as silt_txt2img_params says.
static silt_status run_diffusion(silt_txt2img *t, const silt_txt2img_params *p, silt_image **images,
                                 silt_txt2img_report *report, const uint64_t *nseed, const uint64_t *nstream) {
    const silt_txt2img_info *in = &t->info;
    const bool is_dit = in->family == SILT_FAMILY_DIT;
    const int B = p->batch;
    int W = p->width > 0 ? p->width : in->native_width, H = p->height > 0 ? p->height : in->native_height;
    int lw = 0, lh = 0;
    SILT_TRY(check_size(in, W, H, &lw, &lh));
    if (is_dit && (p->class_id < 0 || p->class_id >= in->num_classes))
        return SILT_FAIL(SILT_ERR_ARG, "class %d is out of range (the model has %d classes, 0..%d)", p->class_id,
                         in->num_classes, in->num_classes - 1);
    silt_sampler_params sp = p->sampler;
    sp.batch = B;
    if (is_dit && sp.sampler == SILT_SAMPLER_FLOW_EULER)
        return SILT_FAIL(SILT_ERR_ARG, "sampler flow_euler is for flow models (MMDiT); DiT predicts noise");
    if (!is_dit && sp.sampler != SILT_SAMPLER_FLOW_EULER)
        return SILT_FAIL(SILT_ERR_ARG, "sampler %s is for noise-prediction models; MMDiT needs flow_euler",
                         silt_sampler_name(sp.sampler));
    const dit_config *dc = is_dit ? dit_get_config(t->dit) : NULL;
    // DDPM uses DiT's learned variance; the others read eps only.
    const bool learned = is_dit && dc->learn_sigma && sp.sampler == SILT_SAMPLER_DDPM;
    if (learned) sp.variance = SILT_VARIANCE_LEARNED_RANGE;
    else if (sp.variance == SILT_VARIANCE_LEARNED_RANGE) sp.variance = SILT_VARIANCE_FIXED_SMALL;
    const int C = in->latent_channels;
    const int model_out = is_dit ? dc->out_channels : mmdit_get_config(t->mmdit)->out_channels;
    const int sampler_out = learned ? 2 * C : C;
    if (model_out < sampler_out)
        return SILT_FAIL(SILT_ERR_FORMAT, "model outputs %d channels, the sampler needs %d", model_out, sampler_out);

    guide_plan *plan = NULL;
    SILT_TRY(guide_plan_create(&p->guide, p->heads, in->depth, in->heads, !is_dit, &plan));
    const bool need_uncond = p->guide.mode != GUIDE_NONE && p->guide.cfg != 1.0f;

    const int64_t hw = (int64_t)lw * lh, per = C * hw, n = per * B;
    text_cond tc = {0};
    silt_sampler *smp = NULL;
    silt_graph *g = NULL, *gd = NULL;  // gd: the model's graph when it runs on a device
    float *x = NULL, *xin = NULL, *pred = NULL, *tt = NULL, *hpix = NULL;
    float *dx = NULL, *dpred = NULL;  // device runs: the latents and the guided prediction
    int32_t *yy = NULL;
    silt_image **made = NULL;
    silt_status s = SILT_OK;
    silt_progress prog;
    int rows_total = 0;
    double t0 = silt_time_now();

    if (!is_dit) s = t->clip ? world_text(&tc, t, p, need_uncond) : text_load(&tc, p->text_embeds, in, need_uncond);
    if (s == SILT_OK) s = silt_sampler_init(&sp, n, p->seed, &smp);
    if (s != SILT_OK) goto done;
    const int steps = silt_sampler_steps(smp);
    const int64_t out_n = silt_sampler_output_numel(smp);
    x = malloc(sizeof(float) * (size_t)n);
    xin = malloc(sizeof(float) * (size_t)n);
    pred = malloc(sizeof(float) * (size_t)out_n);
    tt = malloc(sizeof(float) * (size_t)(3 * B));
    yy = malloc(sizeof(int32_t) * (size_t)(3 * B));
    made = calloc((size_t)B, sizeof *made);
    g = silt_graph_create(0);
    if (!x || !xin || !pred || !tt || !yy || !made || !g) { s = SILT_FAIL(SILT_ERR_OOM, "txt2img: out of memory"); goto done; }
    silt_graph_set_grad(g, false);
    if (t->device != SILT_CPU) {
        gd = silt_graph_create_on(t->device, 0);
        if (!gd) {
            s = SILT_FAIL(SILT_ERR_CUDA, "txt2img: no %s graph: %s", silt_device_name(t->device), silt_last_error_message());
            goto done;
        }
        silt_graph_set_grad(gd, false);
    }
    silt_graph *mg = gd ? gd : g;

    // Image b's initial noise is Philox stream b of the seed (the sampler's step
    // noise follows in the same stream), so any image regenerates alone.
    for (int b = 0; b < B; b++)
        silt_rng_normal(x + b * per, per, nseed ? nseed[b] : p->seeds ? p->seeds[b] : p->seed,
                        nseed ? nstream[b] : p->seeds ? 0 : (uint64_t)b, 0);
    if (p->noise_out) memcpy(p->noise_out, x, sizeof(float) * (size_t)n);
    const float sigma0 = silt_sampler_init_noise_sigma(smp);
    for (int64_t i = 0; i < n; i++) x[i] *= sigma0;
    if (gd) {  // on a device the latents stay there until the last step: guidance and the sampler run there too
        s = silt_cuda_malloc((void **)&dx, sizeof(float) * (size_t)n);
        if (s == SILT_OK) s = silt_cuda_malloc((void **)&dpred, sizeof(float) * (size_t)out_n);
        if (s == SILT_OK) s = silt_cuda_memcpy_h2d(dx, x, sizeof(float) * (size_t)n);
        if (s != SILT_OK) goto done;
    }

    if (p->progress) silt_progress_begin(&prog, "generate", steps);
    for (int i = 0; i < steps && s == SILT_OK; i++) {
        const float ts = silt_sampler_timestep(smp, i);
        guide_step gs;
        s = guide_plan_step(plan, i, steps, ts, B, &gs);
        if (s == SILT_OK && !gd) s = silt_sampler_scale_input(smp, xin, x);
        if (s != SILT_OK) break;
        const int rows = gs.n_blocks * B;
        silt_graph_reset(mg);
        silt_tensor *X = silt_graph_tensor_f32(mg, 4, (int64_t[]){rows, C, lh, lw});
        if (!X) { s = silt_graph_status(mg); break; }
        for (int k = 0; k < gs.n_blocks && s == SILT_OK; k++)
            s = gd ? silt_sampler_scale_input_cuda(smp, silt_f32(X) + (int64_t)k * n, dx) : fill_tensor(X, (int64_t)k * n, xin, n);
        if (s != SILT_OK) break;
        for (int r = 0; r < rows; r++) tt[r] = ts;
        silt_tensor *out = NULL;
        if (is_dit) {
            for (int r = 0; r < rows; r++) yy[r] = r / B == gs.blk_uncond ? in->num_classes : p->class_id;
            out = dit_forward(mg, t->dit, X, tt, yy, guide_step_perturb(&gs));
        } else {
            const int64_t T = tc.tokens, J = in->joint_dim, P = in->pooled_dim;
            silt_tensor *ctx = silt_graph_tensor_f32(mg, 3, (int64_t[]){rows, T, J});
            silt_tensor *pooled = silt_graph_tensor_f32(mg, 2, (int64_t[]){rows, P});
            if (ctx && pooled)
                for (int r = 0; r < rows && s == SILT_OK; r++) {
                    bool un = r / B == gs.blk_uncond;
                    int64_t k = tc.n_ctx > 1 ? r % B : 0;  // row r is image r % B of its block
                    s = fill_tensor(ctx, r * T * J, un ? tc.neg_ctx : tc.ctx + k * T * J, T * J);
                    if (s == SILT_OK) s = fill_tensor(pooled, r * P, un ? tc.neg_pooled : tc.pooled + k * P, P);
                }
            if (s != SILT_OK) break;
            out = mmdit_forward(mg, t->mmdit, X, tt, ctx, pooled, guide_step_perturb(&gs));
        }
        if (!out) { s = silt_graph_status(mg); if (s == SILT_OK) s = SILT_FAIL(SILT_ERR_NUMERIC, "model forward failed"); break; }
        if (gd && out->device != SILT_CUDA) {  // the kernels below would read a host pointer
            s = SILT_FAIL(SILT_ERR_UNSUPPORTED, "txt2img: the model's output is on %s, not cuda",
                          silt_device_name(out->device));
            break;
        }
        if (gd) {
            s = guide_combine_cuda(&gs, dpred, silt_f32(out), model_out, sampler_out, hw);
            if (s == SILT_OK) s = silt_sampler_step_cuda(smp, dpred, dx, NULL);
        } else {
            s = guide_combine(&gs, pred, silt_f32(out), model_out, sampler_out, hw);
            if (s == SILT_OK) s = silt_sampler_step(smp, pred, x, NULL);
        }
        rows_total += rows;
        if (p->progress) silt_progress_step(&prog, 1);
    }
    if (p->progress) silt_progress_end(&prog);
    if (s == SILT_OK && gd) s = silt_cuda_memcpy_d2h(x, dx, sizeof(float) * (size_t)n);
    if (s != SILT_OK) goto done;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) { s = SILT_FAIL(SILT_ERR_NUMERIC, "the sample has NaN/Inf values"); goto done; }

    if (p->latent_out) memcpy(p->latent_out, x, sizeof(float) * (size_t)n);
    // Decode: latents -> [-1, 1] pixels, on the model's device.
    silt_graph *dg = gd ? gd : g;
    silt_graph_reset(dg);
    const float *pix = x;
    if (t->vae || t->wae) {
        if (t->vae) vae_unscale_latent(t->vae, x, n);
        else for (int64_t i = 0; i < n; i++) x[i] = (float)(x[i] / t->latent_scale + t->latent_shift);
        silt_tensor *Z = silt_graph_tensor_f32(dg, 4, (int64_t[]){B, C, lh, lw});
        if (!Z) { s = silt_graph_status(dg); goto done; }
        if ((s = fill_tensor(Z, 0, x, n)) != SILT_OK) goto done;
        silt_tensor *img = t->vae ? vae_decode(dg, t->vae, Z) : var_vq_fhat_to_img(dg, t->wae, Z, true);
        const char *what = t->vae ? "the VAE" : "the world autoencoder";
        if (!img) { s = silt_graph_status(dg); if (s == SILT_OK) s = SILT_FAIL(SILT_ERR_NUMERIC, "%s decode failed", what); goto done; }
        if (img->ndim != 4 || img->shape[1] != 3 || img->shape[2] != H || img->shape[3] != W) {
            s = SILT_FAIL(SILT_ERR_SHAPE, "%s decoded to an unexpected shape", what);
            goto done;
        }
        pix = silt_f32(img);
        if (img->device != SILT_CPU) {  // the pixels come down once
            if (!(hpix = malloc(silt_nbytes(img)))) { s = SILT_FAIL(SILT_ERR_OOM, "txt2img: out of memory"); goto done; }
            if ((s = silt_cuda_memcpy_d2h(hpix, pix, silt_nbytes(img))) != SILT_OK) goto done;
            pix = hpix;
        }
    }
    for (int b = 0; b < B && s == SILT_OK; b++) s = silt_image_from_tensor(pix + (int64_t)b * 3 * W * H, 3, H, W, -1.0f, 1.0f, &made[b]);
    if (s != SILT_OK) goto done;

    for (int b = 0; b < B; b++) { images[b] = made[b]; made[b] = NULL; }
    if (report) {
        memset(report, 0, sizeof *report);
        guide_plan_heads_str(plan, report->heads, sizeof report->heads);
        report->identity = guide_plan_params(plan)->identity;
        report->width = W;
        report->height = H;
        report->model_rows = rows_total;
        report->seconds = silt_time_now() - t0;
    }
done:
    for (int b = 0; made && b < B; b++) silt_image_free(made[b]);
    free(made);
    free(x);
    free(xin);
    free(pred);
    free(tt);
    free(yy);
    free(hpix);
    silt_cuda_free(dx);
    silt_cuda_free(dpred);
    silt_graph_free(gd);
    silt_graph_free(g);
    silt_sampler_free(smp);
    text_free(&tc);
    guide_plan_free(plan);
    return s;
}

// The world MMDiT's best-of-n: every image is drawn n times and the
// candidate with the highest reward against its prompt is kept. Candidate k
// of image b starts from Philox stream k of seeds[b] (when set), else stream
// b + k B of the seed, so candidate 0 is the plain image and the candidates
// of a grid never overlap. All B n candidates run as one batch; the reward
// scores the 8-bit image the PNG holds. The flow sampler draws no step noise,
// so the starting noise is the whole draw.
static silt_status run_diffusion_best_of_n(silt_txt2img *t, const silt_txt2img_params *p, silt_image **images,
                                           silt_txt2img_report *report) {
    const int B = p->batch, N = p->search->n;
    if (p->noise_out || p->latent_out)
        return SILT_FAIL(SILT_ERR_ARG, "txt2img: a search does not return its noise or latents");
    if (N < 1 || (int64_t)B * N > 4096)
        return SILT_FAIL(SILT_ERR_ARG, "best-of-n: %d images x n %d must be 1..4096 candidates", B, N);
    const wclip_model *scorer = p->search_reward == VAR_REWARD_JUDGE ? p->search_judge : t->clip;
    const int M = B * N;
    uint64_t *nseed = malloc(sizeof(uint64_t) * (size_t)M), *nstream = malloc(sizeof(uint64_t) * (size_t)M);
    const char **prompts = malloc(sizeof(char *) * (size_t)M);
    silt_image **cand = calloc((size_t)M, sizeof *cand);
    var_world_reward *wr = calloc((size_t)B, sizeof *wr);
    double *score = malloc(sizeof(double) * (size_t)M);
    silt_status s = nseed && nstream && prompts && cand && wr && score ? SILT_OK
                                                                       : SILT_FAIL(SILT_ERR_OOM, "best-of-n: out of memory");
    // The rewards first: a prompt the reward cannot judge fails before any sampling.
    for (int b = 0; b < B && s == SILT_OK; b++)
        s = var_world_reward_init(&wr[b], p->search_reward, scorer, p->prompts ? p->prompts[b] : p->prompt);
    for (int k = 0; k < N && s == SILT_OK; k++)
        for (int b = 0; b < B; b++) {
            const int i = k * B + b;
            nseed[i] = p->seeds ? p->seeds[b] : p->seed;
            nstream[i] = p->seeds ? (uint64_t)k : (uint64_t)b + (uint64_t)k * (uint64_t)B;
            prompts[i] = p->prompts ? p->prompts[b] : p->prompt;
        }
    silt_txt2img_params q = *p;
    q.batch = M;
    q.prompts = prompts;
    q.seeds = NULL;
    q.search = NULL;
    silt_txt2img_report rep = {0};
    if (s == SILT_OK) s = run_diffusion(t, &q, cand, &rep, nseed, nstream);
    float *px = NULL;
    if (s == SILT_OK) {
        const silt_image *im = cand[0];
        px = malloc(sizeof(float) * (size_t)3 * im->w * im->h);
        if (!px) s = SILT_FAIL(SILT_ERR_OOM, "best-of-n: out of memory");
    }
    for (int i = 0; i < M && s == SILT_OK; i++) {
        const silt_image *im = cand[i];
        for (int ch = 0; ch < 3; ch++)
            for (int q2 = 0; q2 < im->w * im->h; q2++) px[ch * im->w * im->h + q2] = im->data[(size_t)q2 * im->c + ch] / 255.0f;
        s = var_world_reward_fn(&wr[i % B], px, 1, im->h, im->w, &score[i]);
    }
    double rsum = 0;
    for (int b = 0; b < B && s == SILT_OK; b++) {
        int best = b;
        for (int k = 1; k < N; k++)
            if (score[k * B + b] > score[best]) best = k * B + b;  // ties keep the earlier candidate
        images[b] = cand[best];
        cand[best] = NULL;
        rsum += score[best];
        if (b < SILT_TXT2IMG_MAX_PICKS) rep.search_pick[b] = best / B;
    }
    if (s == SILT_OK && report) {
        *report = rep;
        report->search_reward = rsum / B;
        report->search_candidates = N;
    }
    for (int i = 0; cand && i < M; i++) silt_image_free(cand[i]);
    free(cand), free(px), free(nseed), free(nstream), free(prompts), free(wr), free(score);
    return s;
}

silt_status silt_txt2img_run(silt_txt2img *t, const silt_txt2img_params *p, silt_image **images,
                             silt_txt2img_report *report) {
    if (!t || !p || !images) return SILT_FAIL(SILT_ERR_ARG, "txt2img: NULL argument");
    const silt_txt2img_info *in = &t->info;
    const int B = p->batch;
    if (B < 1 || B > 4096) return SILT_FAIL(SILT_ERR_ARG, "txt2img: batch %d must be 1..4096", B);
    if (in->family == SILT_FAMILY_VAR) return run_var(t, p, images, report);
    if (p->search && p->search->kind != VAR_SEARCH_NONE) {
        if (!in->world_text)
            return SILT_FAIL(SILT_ERR_ARG, "--search needs a world model (a prompt to score); this %s is not one",
                             silt_family_name(in->family));
        if (p->search->kind != VAR_SEARCH_BEST_OF_N)
            return SILT_FAIL(SILT_ERR_ARG, "--search %s is for the world VAR; the world MMDiT takes best-of-n",
                             var_search_kind_name(p->search->kind));
        return run_diffusion_best_of_n(t, p, images, report);
    }
    if (report) memset(report, 0, sizeof *report);
    silt_status s = run_diffusion(t, p, images, report, NULL, NULL);
    if (report) report->search_reward = NAN;
    return s;
}
