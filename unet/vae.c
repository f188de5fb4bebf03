// AutoencoderKL encoder/decoder (see vae.h). Module names follow the
// diffusers state dict; the original LDM names are produced by the same name
// functions (archs.md 2.3, diffusers single_file_utils.py
// convert_ldm_vae_checkpoint), so the forward code knows no layouts.
#include "unet/vae.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/ops.h"
#include "core/weights.h"
#include "cuda/cuda.h"

// GroupNorm eps of every norm in the VAE (diffusers Encoder/Decoder pass
// resnet_eps=1e-6 to resnets, the mid attention and conv_norm_out).
#define VAE_GN_EPS 1e-6f

typedef struct vae_wb {
    silt_tensor *w, *b;
} vae_wb;

typedef struct vae_resnet {
    vae_wb norm1, conv1, norm2, conv2, shortcut;  // shortcut.w NULL when cin == cout
} vae_resnet;

typedef struct vae_attn {
    vae_wb norm, q, k, v, out;  // q/k/v/out: Linear weights (C, C)
} vae_attn;

// One side of the autoencoder. Encoder: res[i * lpb + j] for level i, and
// sample[i] the downsampler of levels 0..n-2. Decoder: res[i * (lpb+1) + j]
// in diffusers up_blocks order (i = 0 is the deepest level), sample[i] the
// upsampler of up block i for i < n-1.
typedef struct vae_coder {
    vae_wb conv_in, conv_out, norm_out;
    vae_resnet *res;
    vae_wb sample[VAE_MAX_BLOCKS];
    vae_resnet mid[2];
    vae_attn attn;
} vae_coder;

struct vae_model {
    vae_config cfg;
    char prefix[32];
    bool mid_attn;  // config mid_block_add_attention
    bool old_attn_names;
    vae_coder enc, dec;
    vae_wb quant_conv, post_quant_conv;
    silt_tensor **owned;
    int n_owned, cap_owned;
};

static const char *layout_names[VAE_LAYOUT_COUNT] = {"original", "diffusers"};

const char *vae_layout_name(vae_layout l) { return (unsigned)l < VAE_LAYOUT_COUNT ? layout_names[l] : "?"; }

silt_status vae_layout_from_name(const char *name, vae_layout *out) {
    for (int i = 0; name && i < VAE_LAYOUT_COUNT; i++)
        if (!strcmp(name, layout_names[i])) { *out = (vae_layout)i; return SILT_OK; }
    return SILT_FAIL(SILT_ERR_ARG, "unknown VAE layout '%s' (expected original or diffusers)", name ? name : "(null)");
}

// --- names -------------------------------------------------------------------------
// Every function writes the module path (without ".weight"/".bias") for the
// diffusers index of a block; the original layout numbers decoder levels the
// other way round (up.{n-1-i} is up_blocks.{i}).

typedef struct vae_names {
    vae_layout layout;
    int n_blocks;
    bool old_attn;  // diffusers files from before 0.14: query/key/value/proj_attn
} vae_names;

static void nm_resnet(char *buf, size_t n, const vae_names *N, bool enc, int i, int j) {
    if (N->layout == VAE_LAYOUT_DIFFUSERS)
        snprintf(buf, n, enc ? "encoder.down_blocks.%d.resnets.%d" : "decoder.up_blocks.%d.resnets.%d", i, j);
    else
        snprintf(buf, n, enc ? "encoder.down.%d.block.%d" : "decoder.up.%d.block.%d", enc ? i : N->n_blocks - 1 - i, j);
}

static void nm_mid_resnet(char *buf, size_t n, const vae_names *N, bool enc, int j) {
    const char *side = enc ? "encoder" : "decoder";
    if (N->layout == VAE_LAYOUT_DIFFUSERS) snprintf(buf, n, "%s.mid_block.resnets.%d", side, j);
    else snprintf(buf, n, "%s.mid.block_%d", side, j + 1);
}

// which: 0 norm, 1 q, 2 k, 3 v, 4 out
static void nm_attn(char *buf, size_t n, const vae_names *N, bool enc, int which) {
    static const char *dif[5] = {"group_norm", "to_q", "to_k", "to_v", "to_out.0"};
    static const char *old[5] = {"group_norm", "query", "key", "value", "proj_attn"};
    static const char *ldm[5] = {"norm", "q", "k", "v", "proj_out"};
    const char *side = enc ? "encoder" : "decoder";
    if (N->layout == VAE_LAYOUT_DIFFUSERS)
        snprintf(buf, n, "%s.mid_block.attentions.0.%s", side, (N->old_attn ? old : dif)[which]);
    else
        snprintf(buf, n, "%s.mid.attn_1.%s", side, ldm[which]);
}

static void nm_sample(char *buf, size_t n, const vae_names *N, bool enc, int i) {
    if (N->layout == VAE_LAYOUT_DIFFUSERS)
        snprintf(buf, n, enc ? "encoder.down_blocks.%d.downsamplers.0.conv" : "decoder.up_blocks.%d.upsamplers.0.conv", i);
    else
        snprintf(buf, n, enc ? "encoder.down.%d.downsample.conv" : "decoder.up.%d.upsample.conv",
                 enc ? i : N->n_blocks - 1 - i);
}

static const char *nm_shortcut(const vae_names *N) {
    return N->layout == VAE_LAYOUT_DIFFUSERS ? "conv_shortcut" : "nin_shortcut";
}

static const char *nm_norm_out(const vae_names *N) {
    return N->layout == VAE_LAYOUT_DIFFUSERS ? "conv_norm_out" : "norm_out";
}

// --- detection -----------------------------------------------------------------------

static const silt_st_tensor *find(const silt_safetensors *st, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const silt_st_tensor *find(const silt_safetensors *st, const char *prefix, const char *fmt, ...) {
    char name[256], key[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    snprintf(key, sizeof key, "%s%s", prefix, name);
    return silt_safetensors_find(st, key);
}

// A tensor whose shape the detection reads must have the rank it expects;
// anything else is left to the loader's shape check, which names it.
static int dim_of(const silt_st_tensor *t, int ndim, int d) {
    return (t && t->ndim == ndim && t->shape[d] > 0 && t->shape[d] < (1 << 20)) ? (int)t->shape[d] : -1;
}

static silt_status read_config_json(const silt_safetensors *st, vae_config *c, bool *mid_attn, bool *have_scale,
                                    bool *have_shift) {
    const char *txt = silt_safetensors_metadata(st, "config");
    if (!txt) return SILT_OK;
    silt_json *doc = NULL;
    silt_status s = silt_json_parse(txt, strlen(txt), 64, &doc);
    if (s != SILT_OK) return SILT_FAIL(SILT_ERR_FORMAT, "vae: the file's \"config\" metadata is not valid JSON: %s",
                                       silt_last_error_message());
    const silt_json_value *root = silt_json_root(doc);
    if (!root || root->type != SILT_JSON_OBJECT) {
        silt_json_free(doc);
        return SILT_FAIL(SILT_ERR_FORMAT, "vae: the file's \"config\" metadata is not a JSON object");
    }
    const silt_json_value *v = silt_json_member(doc, root, "norm_num_groups");
    if (v && v->type == SILT_JSON_NUMBER) {
        if (!v->is_int || v->negative || v->big || v->u < 1 || v->u > 4096) {
            silt_json_free(doc);
            return SILT_FAIL(SILT_ERR_FORMAT, "vae: config norm_num_groups %s is not a positive integer", v->str);
        }
        c->groups = (int)v->u;
    }
    v = silt_json_member(doc, root, "scaling_factor");
    if (v && v->type == SILT_JSON_NUMBER) { c->scaling_factor = (float)v->num; *have_scale = true; }
    v = silt_json_member(doc, root, "shift_factor");
    if (v && v->type == SILT_JSON_NUMBER) { c->shift_factor = (float)v->num; *have_shift = true; }
    v = silt_json_member(doc, root, "mid_block_add_attention");
    if (v && v->type == SILT_JSON_FALSE) *mid_attn = false;
    silt_json_free(doc);
    if (*have_scale && !(isfinite(c->scaling_factor) && c->scaling_factor != 0))
        return SILT_FAIL(SILT_ERR_FORMAT, "vae: config scaling_factor %g must be finite and non-zero", c->scaling_factor);
    if (*have_shift && !isfinite(c->shift_factor))
        return SILT_FAIL(SILT_ERR_FORMAT, "vae: config shift_factor is not finite");
    return SILT_OK;
}

static silt_status detect(const silt_safetensors *st, vae_model *m) {
    static const char *prefixes[] = {"first_stage_model.", "vae.", ""};
    const char *p = NULL;
    for (int i = 0; i < 3 && !p; i++)
        if (find(st, prefixes[i], "encoder.conv_in.weight") || find(st, prefixes[i], "decoder.conv_in.weight"))
            p = prefixes[i];
    if (!p)
        return SILT_FAIL(SILT_ERR_FORMAT,
                         "not an AutoencoderKL (VAE) checkpoint: no encoder.conv_in.weight or decoder.conv_in.weight "
                         "(looked under the prefixes '', 'first_stage_model.' and 'vae.')");
    snprintf(m->prefix, sizeof m->prefix, "%s", p);
    vae_config *c = &m->cfg;
    c->has_encoder = find(st, p, "encoder.conv_in.weight") != NULL;
    c->has_decoder = find(st, p, "decoder.conv_in.weight") != NULL;
    const char *side = c->has_encoder ? "encoder" : "decoder";
    if (find(st, p, "%s.mid_block.resnets.0.conv1.weight", side)) c->layout = VAE_LAYOUT_DIFFUSERS;
    else if (find(st, p, "%s.mid.block_1.conv1.weight", side)) c->layout = VAE_LAYOUT_ORIGINAL;
    else
        return SILT_FAIL(SILT_ERR_FORMAT,
                         "vae: unrecognised layout: neither '%s%s.mid_block.resnets.0.conv1.weight' (diffusers) nor "
                         "'%s%s.mid.block_1.conv1.weight' (original LDM) is in the file",
                         p, side, p, side);
    vae_names N = {c->layout, 0, false};

    // Levels and their widths. The encoder's level i is down(_blocks).i; the
    // decoder's diffusers up_blocks.i is level n-1-i (LDM up.{n-1-i}).
    int n_enc = 0, n_dec = 0, lpb_enc = 0, lpb_dec = 0;
    char name[256];
    if (c->has_encoder) {
        for (;;) {
            nm_resnet(name, sizeof name, &N, true, n_enc, 0);
            const silt_st_tensor *t = find(st, p, "%s.conv1.weight", name);
            if (!t) break;
            if (n_enc == VAE_MAX_BLOCKS)
                return SILT_FAIL(SILT_ERR_UNSUPPORTED, "vae: more than %d encoder levels", VAE_MAX_BLOCKS);
            c->block_out[n_enc] = dim_of(t, 4, 0);
            if (c->block_out[n_enc] < 1)
                return SILT_FAIL(SILT_ERR_SHAPE, "vae: tensor '%s%s.conv1.weight' is not a (Cout, Cin, 3, 3) conv weight", p,
                                 name);
            n_enc++;
        }
        for (;; lpb_enc++) {
            nm_resnet(name, sizeof name, &N, true, 0, lpb_enc);
            if (!find(st, p, "%s.conv1.weight", name)) break;
        }
    }
    if (c->has_decoder) {
        // The decoder's numbering in the original layout depends on n, so
        // count with the layout-neutral probe first.
        for (;;) {
            bool hit = c->layout == VAE_LAYOUT_DIFFUSERS ? find(st, p, "decoder.up_blocks.%d.resnets.0.conv1.weight", n_dec)
                                                         : find(st, p, "decoder.up.%d.block.0.conv1.weight", n_dec);
            if (!hit) break;
            if (n_dec == VAE_MAX_BLOCKS)
                return SILT_FAIL(SILT_ERR_UNSUPPORTED, "vae: more than %d decoder levels", VAE_MAX_BLOCKS);
            n_dec++;
        }
        N.n_blocks = n_dec;
        for (;; lpb_dec++) {
            nm_resnet(name, sizeof name, &N, false, 0, lpb_dec);
            if (!find(st, p, "%s.conv1.weight", name)) break;
        }
        if (!c->has_encoder)
            for (int i = 0; i < n_dec; i++) {
                nm_resnet(name, sizeof name, &N, false, i, 0);
                int w = dim_of(find(st, p, "%s.conv1.weight", name), 4, 0);
                if (w < 1)
                    return SILT_FAIL(SILT_ERR_SHAPE, "vae: tensor '%s%s.conv1.weight' is not a (Cout, Cin, 3, 3) conv weight",
                                     p, name);
                c->block_out[n_dec - 1 - i] = w;
            }
    }
    if (c->has_encoder && c->has_decoder && n_enc != n_dec)
        return SILT_FAIL(SILT_ERR_FORMAT, "vae: the encoder has %d levels but the decoder %d", n_enc, n_dec);
    c->n_blocks = c->has_encoder ? n_enc : n_dec;
    c->layers_per_block = c->has_encoder ? lpb_enc : lpb_dec - 1;
    if (c->n_blocks < 1 || c->layers_per_block < 1)
        return SILT_FAIL(SILT_ERR_FORMAT, "vae: no resnet blocks found under '%s%s' (missing '%s%s.%s.0...conv1.weight')",
                         p, side, p, side,
                         c->layout == VAE_LAYOUT_DIFFUSERS ? (c->has_encoder ? "down_blocks" : "up_blocks")
                                                           : (c->has_encoder ? "down" : "up"));
    if (c->has_encoder && c->has_decoder && lpb_dec != lpb_enc + 1)
        return SILT_FAIL(SILT_ERR_FORMAT, "vae: the decoder has %d resnets per level, expected %d (encoder's %d + 1)",
                         lpb_dec, lpb_enc + 1, lpb_enc);
    c->downscale = 1 << (c->n_blocks - 1);

    // Channels.
    if (c->has_encoder) {
        c->in_channels = dim_of(find(st, p, "encoder.conv_in.weight"), 4, 1);
        int zz = dim_of(find(st, p, "encoder.conv_out.weight"), 4, 0);
        if (zz < 2 || zz % 2)
            return SILT_FAIL(SILT_ERR_SHAPE, "vae: '%sencoder.conv_out.weight' must be (2*latent, C, 3, 3) (mean | logvar)",
                             p);
        c->latent_channels = zz / 2;
    } else {
        c->in_channels = dim_of(find(st, p, "decoder.conv_out.weight"), 4, 0);
    }
    if (c->has_decoder) {
        int zc = dim_of(find(st, p, "decoder.conv_in.weight"), 4, 1);
        if (!c->has_encoder) c->latent_channels = zc;
        else if (zc != c->latent_channels)
            return SILT_FAIL(SILT_ERR_SHAPE, "vae: '%sdecoder.conv_in.weight' takes %d latent channels, the encoder gives %d",
                             p, zc, c->latent_channels);
    }
    if (c->in_channels < 1 || c->latent_channels < 1)
        return SILT_FAIL(SILT_ERR_SHAPE, "vae: conv_in/conv_out weights of '%s' are not 4-D conv weights", p);
    c->quant_conv = find(st, p, "quant_conv.weight") != NULL;
    c->post_quant_conv = find(st, p, "post_quant_conv.weight") != NULL;
    if (c->layout == VAE_LAYOUT_DIFFUSERS && !find(st, p, "%s.mid_block.attentions.0.to_q.weight", side) &&
        find(st, p, "%s.mid_block.attentions.0.query.weight", side))
        m->old_attn_names = true;

    // Metadata, then the defaults of what it did not say.
    c->groups = 32;  // diffusers' AutoencoderKL default; LDM hard-codes 32
    m->mid_attn = true;
    bool have_scale = false, have_shift = false;
    SILT_TRY(read_config_json(st, c, &m->mid_attn, &have_scale, &have_shift));
    if (!have_scale) c->scaling_factor = c->latent_channels == 16 ? 1.5305f : c->latent_channels == 4 ? 0.18215f : 1.0f;
    if (!have_shift) c->shift_factor = c->latent_channels == 16 ? 0.0609f : 0.0f;
    for (int i = 0; i < c->n_blocks; i++)
        if (c->block_out[i] % c->groups)
            return SILT_FAIL(SILT_ERR_FORMAT,
                             "vae: norm_num_groups %d does not divide block_out_channels[%d] = %d (a file with "
                             "other widths needs a \"config\" metadata entry giving norm_num_groups)",
                             c->groups, i, c->block_out[i]);
    return SILT_OK;
}

// --- loading -------------------------------------------------------------------------

typedef struct vae_loader {
    silt_weights *wl;
    vae_model *m;
    vae_names N;
} vae_loader;

static silt_tensor *ld(vae_loader *L, const char *base, const char *suffix, int ndim, const int64_t *shape) {
    char name[320];
    snprintf(name, sizeof name, "%s.%s", base, suffix);
    silt_tensor *t = silt_weights_get(L->wl, name, ndim, shape);
    // The list holds one slot per tensor in the file, so it cannot overflow.
    if (t && L->m->n_owned < L->m->cap_owned) L->m->owned[L->m->n_owned++] = t;
    return t;
}

static void ld_conv(vae_loader *L, vae_wb *o, const char *base, int64_t cout, int64_t cin, int64_t k) {
    o->w = ld(L, base, "weight", 4, (int64_t[]){cout, cin, k, k});
    o->b = ld(L, base, "bias", 1, (int64_t[]){cout});
}

static void ld_norm(vae_loader *L, vae_wb *o, const char *base, int64_t c) {
    o->w = ld(L, base, "weight", 1, (int64_t[]){c});
    o->b = ld(L, base, "bias", 1, (int64_t[]){c});
}

// q/k/v/out projections: Linear (C, C) in diffusers, 1x1 conv (C, C, 1, 1) in
// LDM (and in some converted diffusers files); both are the same matrix.
static void ld_linear(vae_loader *L, vae_wb *o, const char *base, int64_t c) {
    char name[320];
    snprintf(name, sizeof name, "%s.weight", base);
    const silt_st_tensor *t = silt_weights_peek(L->wl, name);
    if (t && t->ndim == 4) {
        o->w = ld(L, base, "weight", 4, (int64_t[]){c, c, 1, 1});
        if (o->w) { o->w->ndim = 2; o->w->shape[2] = o->w->shape[3] = 0; }
    } else {
        o->w = ld(L, base, "weight", 2, (int64_t[]){c, c});
    }
    o->b = ld(L, base, "bias", 1, (int64_t[]){c});
}

static void ld_resnet(vae_loader *L, vae_resnet *r, const char *base, int64_t cin, int64_t cout) {
    char sub[320];
    snprintf(sub, sizeof sub, "%s.norm1", base);
    ld_norm(L, &r->norm1, sub, cin);
    snprintf(sub, sizeof sub, "%s.conv1", base);
    ld_conv(L, &r->conv1, sub, cout, cin, 3);
    snprintf(sub, sizeof sub, "%s.norm2", base);
    ld_norm(L, &r->norm2, sub, cout);
    snprintf(sub, sizeof sub, "%s.conv2", base);
    ld_conv(L, &r->conv2, sub, cout, cout, 3);
    if (cin != cout) {
        snprintf(sub, sizeof sub, "%s.%s", base, nm_shortcut(&L->N));
        ld_conv(L, &r->shortcut, sub, cout, cin, 1);
    }
}

static void ld_mid(vae_loader *L, vae_coder *cd, bool enc, int64_t c) {
    char base[256];
    for (int j = 0; j < 2; j++) {
        nm_mid_resnet(base, sizeof base, &L->N, enc, j);
        ld_resnet(L, &cd->mid[j], base, c, c);
    }
    if (!L->m->mid_attn) return;
    vae_wb *parts[5] = {&cd->attn.norm, &cd->attn.q, &cd->attn.k, &cd->attn.v, &cd->attn.out};
    for (int w = 0; w < 5; w++) {
        nm_attn(base, sizeof base, &L->N, enc, w);
        if (w == 0) ld_norm(L, parts[w], base, c);
        else ld_linear(L, parts[w], base, c);
    }
}

static void ld_encoder(vae_loader *L) {
    const vae_config *c = &L->m->cfg;
    vae_coder *cd = &L->m->enc;
    char base[256], sub[300];
    int n = c->n_blocks, lpb = c->layers_per_block, z = c->latent_channels;
    ld_conv(L, &cd->conv_in, "encoder.conv_in", c->block_out[0], c->in_channels, 3);
    int cin = c->block_out[0];
    for (int i = 0; i < n; i++) {
        int cout = c->block_out[i];
        for (int j = 0; j < lpb; j++) {
            nm_resnet(base, sizeof base, &L->N, true, i, j);
            ld_resnet(L, &cd->res[i * lpb + j], base, j == 0 ? cin : cout, cout);
        }
        if (i < n - 1) {
            nm_sample(base, sizeof base, &L->N, true, i);
            ld_conv(L, &cd->sample[i], base, cout, cout, 3);
        }
        cin = cout;
    }
    ld_mid(L, cd, true, cin);
    snprintf(sub, sizeof sub, "encoder.%s", nm_norm_out(&L->N));
    ld_norm(L, &cd->norm_out, sub, cin);
    ld_conv(L, &cd->conv_out, "encoder.conv_out", 2 * z, cin, 3);
}

static void ld_decoder(vae_loader *L) {
    const vae_config *c = &L->m->cfg;
    vae_coder *cd = &L->m->dec;
    char base[256], sub[300];
    int n = c->n_blocks, lpb = c->layers_per_block, z = c->latent_channels;
    int prev = c->block_out[n - 1];
    ld_conv(L, &cd->conv_in, "decoder.conv_in", prev, z, 3);
    ld_mid(L, cd, false, prev);
    for (int i = 0; i < n; i++) {
        int cout = c->block_out[n - 1 - i];
        for (int j = 0; j <= lpb; j++) {
            nm_resnet(base, sizeof base, &L->N, false, i, j);
            ld_resnet(L, &cd->res[i * (lpb + 1) + j], base, j == 0 ? prev : cout, cout);
        }
        if (i < n - 1) {
            nm_sample(base, sizeof base, &L->N, false, i);
            ld_conv(L, &cd->sample[i], base, cout, cout, 3);
        }
        prev = cout;
    }
    snprintf(sub, sizeof sub, "decoder.%s", nm_norm_out(&L->N));
    ld_norm(L, &cd->norm_out, sub, prev);
    ld_conv(L, &cd->conv_out, "decoder.conv_out", c->in_channels, prev, 3);
}

silt_status vae_load(const silt_safetensors *st, vae_model **out) {
    if (!st || !out) return SILT_FAIL(SILT_ERR_ARG, "vae_load: NULL argument");
    vae_model *m = calloc(1, sizeof *m);
    if (!m) return SILT_FAIL(SILT_ERR_OOM, "vae_load: out of memory");
    m->cap_owned = silt_safetensors_count(st) + 1;
    m->owned = calloc((size_t)m->cap_owned, sizeof *m->owned);
    if (!m->owned) { free(m); return SILT_FAIL(SILT_ERR_OOM, "vae_load: out of memory"); }
    silt_status s = detect(st, m);
    if (s != SILT_OK) { vae_free(m); return s; }
    const vae_config *c = &m->cfg;
    int lpb = c->layers_per_block;
    m->enc.res = calloc((size_t)(c->n_blocks * lpb), sizeof *m->enc.res);
    m->dec.res = calloc((size_t)(c->n_blocks * (lpb + 1)), sizeof *m->dec.res);
    if (!m->enc.res || !m->dec.res) { vae_free(m); return SILT_FAIL(SILT_ERR_OOM, "vae_load: out of memory"); }

    vae_loader L = {silt_weights_begin(st, m->prefix), m, {c->layout, c->n_blocks, m->old_attn_names}};
    if (!L.wl) { vae_free(m); return SILT_ERR_OOM; }
    if (c->has_encoder) ld_encoder(&L);
    if (c->quant_conv) ld_conv(&L, &m->quant_conv, "quant_conv", 2 * c->latent_channels, 2 * c->latent_channels, 1);
    if (c->post_quant_conv) ld_conv(&L, &m->post_quant_conv, "post_quant_conv", c->latent_channels, c->latent_channels, 1);
    if (c->has_decoder) ld_decoder(&L);
    s = silt_weights_end(L.wl);
    if (s != SILT_OK) { vae_free(m); return s; }
    *out = m;
    return SILT_OK;
}

void vae_free(vae_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_owned; i++) silt_tensor_free_cuda(m->owned[i]);  // frees CPU and device tensors alike
    free(m->owned);
    free(m->enc.res);
    free(m->dec.res);
    free(m);
}

const vae_config *vae_get_config(const vae_model *m) { return m ? &m->cfg : NULL; }

// The last owned tensor moves last, so it says where the whole model is.
silt_device vae_device(const vae_model *m) { return m && m->n_owned ? m->owned[m->n_owned - 1]->device : SILT_CPU; }

silt_status vae_to_device(vae_model *m, silt_device device) {
    if (!m) return SILT_FAIL(SILT_ERR_ARG, "vae_to_device: NULL model");
    bool move;
    SILT_TRY(silt_model_move_check("vae_to_device", vae_device(m), device, &move));
    for (int i = 0; move && i < m->n_owned; i++) SILT_TRY(silt_tensor_move_to_cuda(m->owned[i]));
    return SILT_OK;
}
const char *vae_get_prefix(const vae_model *m) { return m ? m->prefix : NULL; }

silt_status vae_set_scaling(vae_model *m, float scaling_factor, float shift_factor) {
    if (!m) return SILT_FAIL(SILT_ERR_ARG, "vae_set_scaling: NULL model");
    if (!isfinite(scaling_factor) || scaling_factor == 0 || !isfinite(shift_factor))
        return SILT_FAIL(SILT_ERR_ARG, "vae_set_scaling: scale %g must be finite and non-zero, shift %g finite",
                         scaling_factor, shift_factor);
    m->cfg.scaling_factor = scaling_factor;
    m->cfg.shift_factor = shift_factor;
    return SILT_OK;
}

void vae_scale_latent(const vae_model *m, float *z, int64_t n) {
    float scale = m->cfg.scaling_factor, shift = m->cfg.shift_factor;
    for (int64_t i = 0; i < n; i++) z[i] = (z[i] - shift) * scale;
}

void vae_unscale_latent(const vae_model *m, float *z, int64_t n) {
    float scale = m->cfg.scaling_factor, shift = m->cfg.shift_factor;
    for (int64_t i = 0; i < n; i++) z[i] = z[i] / scale + shift;
}

// --- forward -----------------------------------------------------------------------

// SiLU(GroupNorm(x)) (every norm in the VAE is followed by SiLU, except the
// attention's input norm); in place when no grad is needed.
static silt_tensor *gn_silu(silt_graph *g, silt_tensor *x, const vae_wb *n, int groups) {
    return silt_silu_inplace(g, silt_groupnorm(g, x, n->w, n->b, groups, VAE_GN_EPS));
}

// diffusers ResnetBlock2D without temb (resnet.py): x + conv2(SiLU(GN2(conv1(SiLU(GN1(x)))))),
// the skip through a 1x1 conv_shortcut when the width changes.
static silt_tensor *resnet_fwd(silt_graph *g, const vae_resnet *r, silt_tensor *x, int groups) {
    silt_tensor *h = silt_conv2d(g, gn_silu(g, x, &r->norm1, groups), r->conv1.w, r->conv1.b, 1, 1);
    h = silt_conv2d(g, gn_silu(g, h, &r->norm2, groups), r->conv2.w, r->conv2.b, 1, 1);
    silt_tensor *skip = r->shortcut.w ? silt_conv2d(g, x, r->shortcut.w, r->shortcut.b, 1, 0) : x;
    return silt_add_inplace(g, skip, h);
}

// diffusers Attention with AttnProcessor2_0 as the VAE builds it: GroupNorm,
// one head of width C over the H*W pixels, scale 1/sqrt(C), to_out, residual.
// silt_attention tiles the queries, so no (HW x HW) map is held.
static silt_tensor *attn_fwd(silt_graph *g, const vae_attn *a, silt_tensor *x, int groups) {
    if (!x) return NULL;
    int64_t B = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3], T = H * W;
    silt_tensor *h = silt_groupnorm(g, x, a->norm.w, a->norm.b, groups, VAE_GN_EPS);
    h = silt_transpose(g, silt_reshape(g, h, 3, (int64_t[]){B, C, T}), 1, 2);  // (B, T, C)
    int64_t qshape[4] = {B, 1, T, C};
    silt_tensor *q = silt_reshape(g, silt_linear(g, h, a->q.w, a->q.b), 4, qshape);
    silt_tensor *k = silt_reshape(g, silt_linear(g, h, a->k.w, a->k.b), 4, qshape);
    silt_tensor *v = silt_reshape(g, silt_linear(g, h, a->v.w, a->v.b), 4, qshape);
    silt_tensor *o = silt_attention(g, q, k, v, NULL);
    o = silt_linear(g, silt_reshape(g, o, 3, (int64_t[]){B, T, C}), a->out.w, a->out.b);
    o = silt_reshape(g, silt_transpose(g, o, 1, 2), 4, (int64_t[]){B, C, H, W});
    return silt_add_inplace(g, x, o);
}

static silt_tensor *mid_fwd(silt_graph *g, const vae_model *m, const vae_coder *cd, silt_tensor *h) {
    int groups = m->cfg.groups;
    h = resnet_fwd(g, &cd->mid[0], h, groups);
    if (m->mid_attn) h = attn_fwd(g, &cd->attn, h, groups);
    return resnet_fwd(g, &cd->mid[1], h, groups);
}

static bool check_input(silt_graph *g, const vae_model *m, const char *op, silt_tensor *x, int64_t channels,
                        int64_t multiple) {
    char buf[64];
    if (x->dtype != SILT_F32 || x->device != vae_device(m)) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: needs an f32 tensor on %s (where the VAE is), got %s on %s",
                                     op, silt_device_name(vae_device(m)), silt_dtype_name(x->dtype),
                                     silt_device_name(x->device)));
        return false;
    }
    if (x->ndim != 4 || x->shape[1] != channels) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "%s: expected (B, %lld, H, W) with %lld channels, got %s", op,
                                     (long long)channels, (long long)channels, silt_shape_str(x, buf, sizeof buf)));
        return false;
    }
    if (x->shape[2] % multiple || x->shape[3] % multiple) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE,
                                     "%s: image height %lld and width %lld must be multiples of the VAE's downscale %lld",
                                     op, (long long)x->shape[2], (long long)x->shape[3], (long long)multiple));
        return false;
    }
    return true;
}

silt_tensor *vae_encode(silt_graph *g, const vae_model *m, silt_tensor *img, silt_tensor **logvar_out) {
    if (logvar_out) *logvar_out = NULL;
    if (!img) return NULL;
    if (!m) { silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "vae_encode: NULL model")); return NULL; }
    const vae_config *c = &m->cfg;
    if (!c->has_encoder) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_UNSUPPORTED, "vae_encode: this VAE file has no encoder weights"));
        return NULL;
    }
    if (!check_input(g, m, "vae_encode", img, c->in_channels, c->downscale)) return NULL;
    const vae_coder *cd = &m->enc;
    int n = c->n_blocks, lpb = c->layers_per_block, groups = c->groups;
    silt_tensor *h = silt_conv2d(g, img, cd->conv_in.w, cd->conv_in.b, 1, 1);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < lpb; j++) h = resnet_fwd(g, &cd->res[i * lpb + j], h, groups);
        // Downsample2D(padding=0): F.pad (0, 1, 0, 1), then 3x3 stride 2 unpadded.
        if (i < n - 1) h = silt_conv2d(g, silt_pad2d(g, h, 0, 1, 0, 1)  /* F.pad(x, (0, 1, 0, 1)): diffusers Downsample2D(padding=0) */, cd->sample[i].w, cd->sample[i].b, 2, 0);
    }
    h = mid_fwd(g, m, cd, h);
    h = silt_conv2d(g, gn_silu(g, h, &cd->norm_out, groups), cd->conv_out.w, cd->conv_out.b, 1, 1);
    if (c->quant_conv) h = silt_conv2d(g, h, m->quant_conv.w, m->quant_conv.b, 1, 0);
    if (!h) return NULL;
    // DiagonalGaussianDistribution: moments = [mean | logvar] along channels.
    silt_tensor *parts[2];
    int64_t z = c->latent_channels;
    if (silt_split(g, h, 1, (int64_t[]){z, z}, 2, parts) != SILT_OK) return NULL;
    if (logvar_out) {
        *logvar_out = silt_clamp(g, parts[1], -30.0f, 20.0f);
        if (!*logvar_out) return NULL;
    }
    return parts[0];
}

silt_tensor *vae_decode(silt_graph *g, const vae_model *m, silt_tensor *z) {
    if (!z) return NULL;
    if (!m) { silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "vae_decode: NULL model")); return NULL; }
    const vae_config *c = &m->cfg;
    if (!c->has_decoder) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_UNSUPPORTED, "vae_decode: this VAE file has no decoder weights"));
        return NULL;
    }
    if (!check_input(g, m, "vae_decode (latent)", z, c->latent_channels, 1)) return NULL;
    const vae_coder *cd = &m->dec;
    int n = c->n_blocks, lpb = c->layers_per_block, groups = c->groups;
    silt_tensor *h = z;
    if (c->post_quant_conv) h = silt_conv2d(g, h, m->post_quant_conv.w, m->post_quant_conv.b, 1, 0);
    h = silt_conv2d(g, h, cd->conv_in.w, cd->conv_in.b, 1, 1);
    h = mid_fwd(g, m, cd, h);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j <= lpb; j++) h = resnet_fwd(g, &cd->res[i * (lpb + 1) + j], h, groups);
        // Upsample2D: nearest x2 (F.interpolate scale_factor 2), then 3x3 conv.
        if (i < n - 1 && h) {
            h = silt_upsample_nearest(g, h, 2 * h->shape[2], 2 * h->shape[3]);
            h = silt_conv2d(g, h, cd->sample[i].w, cd->sample[i].b, 1, 1);
        }
    }
    return silt_conv2d(g, gn_silu(g, h, &cd->norm_out, groups), cd->conv_out.w, cd->conv_out.b, 1, 1);
}
