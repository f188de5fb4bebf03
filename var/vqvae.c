// VAR VQ-VAE: loading, configuration, the conv encoder and decoder (see
// vqvae.h). The networks transliterate FoundationVision/VAR models/basic_vae.py
// (itself the LDM/taming Encoder/Decoder): GroupNorm eps 1e-6 with 32 groups,
// SiLU, ResnetBlock with a 1x1 nin_shortcut when the width changes,
// single-head AttnBlock, Downsample2x = zero pad (0,1,0,1) + 3x3 stride-2 conv,
// Upsample2x = nearest x2 + 3x3 conv.
#include "var/vqvae.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/ops.h"
#include "core/weights.h"
#include "cuda/cuda.h"
#include "var/var_ckpt.h"
#include "var/vqvae_internal.h"

#define VQ_GN_EPS 1e-6f  // basic_vae.py Normalize

const int var_patch_nums_256[10] = {1, 2, 3, 4, 5, 6, 8, 10, 13, 16};
const int var_patch_nums_512[10] = {1, 2, 3, 4, 6, 9, 13, 18, 24, 32};
const int var_patch_nums_world[6] = {1, 2, 3, 4, 6, 8};

static const char *share_names[VAR_PHI_SHARE_COUNT] = {"partial", "shared", "nonshared", "identity"};

const char *var_phi_share_name(var_phi_share s) { return (unsigned)s < VAR_PHI_SHARE_COUNT ? share_names[s] : "?"; }

silt_status var_phi_share_from_name(const char *name, var_phi_share *out) {
    for (int i = 0; name && i < VAR_PHI_SHARE_COUNT; i++)
        if (!strcmp(name, share_names[i])) { *out = (var_phi_share)i; return SILT_OK; }
    return SILT_FAIL(SILT_ERR_ARG, "unknown phi sharing '%s' (expected partial, shared, nonshared or identity)",
                     name ? name : "(null)");
}

// quant.py PhiPartiallyShared / PhiNonShared.__getitem__: numpy's linspace is
// start + i * ((stop - start) / (n - 1)) with the last point set to stop, and
// np.argmin keeps the first of equal distances. The expressions below are
// evaluated in the same order in double so ties break as they do there.
int var_phi_index(int si, int n_scales, int n_phi) {
    if (n_scales < 2 || si < 0 || si >= n_scales) return -1;
    if (n_phi <= 1) return 0;
    double start = n_phi == 4 ? 1.0 / 3.0 / n_phi : 1.0 / 2.0 / n_phi;
    double stop = 1.0 - start;  // 1-1/3/K parses as 1 - ((1/3)/K)
    double step = (stop - start) / (double)(n_phi - 1);
    double at = (double)si / (double)(n_scales - 1);
    int best = 0;
    double best_d = INFINITY;
    for (int i = 0; i < n_phi; i++) {
        double tick = i == n_phi - 1 ? stop : (double)i * step + start;
        double d = fabs(tick - at);
        if (d < best_d) { best_d = d; best = i; }
    }
    return best;
}

// --- loading ---------------------------------------------------------------------------

// pre: "" or "ema." (a trainer checkpoint's EMA copy, see var_vq_load).
static const silt_st_tensor *find(const silt_safetensors *st, const char *pre, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const silt_st_tensor *find(const silt_safetensors *st, const char *pre, const char *fmt, ...) {
    char name[256];
    int n = snprintf(name, sizeof name, "%s", pre);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name + n, sizeof name - (size_t)n, fmt, ap);
    va_end(ap);
    return silt_safetensors_find(st, name);
}

static int dim_of(const silt_st_tensor *t, int ndim, int d) {
    return (t && t->ndim == ndim && t->shape[d] > 0 && t->shape[d] < (1 << 20)) ? (int)t->shape[d] : -1;
}

static silt_status parse_patch_nums(silt_json *doc, const silt_json_value *v, var_vq_config *c) {
    int n = 0;
    for (const silt_json_value *e = silt_json_child(doc, v); e; e = silt_json_next(doc, e)) {
        if (e->type != SILT_JSON_NUMBER || !e->is_int || e->negative || e->big || e->u < 1 || e->u > 1024)
            return SILT_FAIL(SILT_ERR_FORMAT, "var_vq: config patch_nums entries must be integers in 1..1024");
        if (n == VAR_MAX_SCALES)
            return SILT_FAIL(SILT_ERR_UNSUPPORTED, "var_vq: config patch_nums has more than %d scales", VAR_MAX_SCALES);
        c->patch_nums[n++] = (int)e->u;
    }
    if (n < 2) return SILT_FAIL(SILT_ERR_FORMAT, "var_vq: config patch_nums needs at least 2 scales, got %d", n);
    c->n_scales = n;
    return SILT_OK;
}

static silt_status read_config_json(const silt_safetensors *st, var_vq_config *c) {
    const char *txt = silt_safetensors_metadata(st, "config");
    if (!txt) return SILT_OK;
    silt_json *doc = NULL;
    if (silt_json_parse(txt, strlen(txt), 64, &doc) != SILT_OK)
        return SILT_FAIL(SILT_ERR_FORMAT, "var_vq: the file's \"config\" metadata is not valid JSON: %s",
                         silt_last_error_message());
    const silt_json_value *root = silt_json_root(doc);
    silt_status s = SILT_OK;
    if (!root || root->type != SILT_JSON_OBJECT) {
        s = SILT_FAIL(SILT_ERR_FORMAT, "var_vq: the file's \"config\" metadata is not a JSON object");
        goto done;
    }
    const silt_json_value *v = silt_json_member(doc, root, "norm_num_groups");
    if (v) {
        if (v->type != SILT_JSON_NUMBER || !v->is_int || v->negative || v->big || v->u < 1 || v->u > 4096) {
            s = SILT_FAIL(SILT_ERR_FORMAT, "var_vq: config norm_num_groups must be a positive integer");
            goto done;
        }
        c->groups = (int)v->u;
    }
    v = silt_json_member(doc, root, "quant_resi");
    if (v) {
        if (v->type != SILT_JSON_NUMBER || !isfinite(v->num)) {
            s = SILT_FAIL(SILT_ERR_FORMAT, "var_vq: config quant_resi must be a number");
            goto done;
        }
        c->quant_resi = (float)fabs(v->num);  // Phi keeps abs(quant_resi)
    }
    v = silt_json_member(doc, root, "using_znorm");
    if (v && v->type == SILT_JSON_TRUE) {
        s = SILT_FAIL(SILT_ERR_UNSUPPORTED,
                      "var_vq: using_znorm=true (cosine-similarity codes) is not supported; the released VQ-VAE uses false");
        goto done;
    }
    v = silt_json_member(doc, root, "v_patch_nums");
    if (!v) v = silt_json_member(doc, root, "patch_nums");
    if (v) {
        if (v->type != SILT_JSON_ARRAY) {
            s = SILT_FAIL(SILT_ERR_FORMAT, "var_vq: config patch_nums must be an array of integers");
            goto done;
        }
        s = parse_patch_nums(doc, v, c);
    }
done:
    silt_json_free(doc);
    return s;
}

static silt_status set_patch_nums_cfg(var_vq_config *c, const int *pn, int n);

static silt_status detect(const silt_safetensors *st, const char *pre, var_vq_config *c) {
    const silt_st_tensor *emb = find(st, pre, "quantize.embedding.weight");
    if (!emb)
        return SILT_FAIL(SILT_ERR_FORMAT, "not a VAR VQ-VAE checkpoint: no tensor 'quantize.embedding.weight' (the "
                                          "codebook of vae_ch160v4096z32.pth; convert it with tools/pth2safetensors.py)");
    c->vocab_size = dim_of(emb, 2, 0);
    c->z_channels = dim_of(emb, 2, 1);
    if (c->vocab_size < 1 || c->z_channels < 1)
        return SILT_FAIL(SILT_ERR_SHAPE, "var_vq: 'quantize.embedding.weight' must be a (V, Cvae) matrix");
    const silt_st_tensor *cin = find(st, pre, "encoder.conv_in.weight");
    c->ch = dim_of(cin, 4, 0);
    c->in_channels = dim_of(cin, 4, 1);
    if (c->ch < 1 || c->in_channels < 1)
        return SILT_FAIL(SILT_ERR_FORMAT, "var_vq: missing or malformed 'encoder.conv_in.weight' (expected (ch, 3, 3, 3))");
    for (c->n_levels = 0;; c->n_levels++) {
        const silt_st_tensor *t = find(st, pre, "encoder.down.%d.block.0.conv1.weight", c->n_levels);
        if (!t) break;
        if (c->n_levels == VAR_VQ_MAX_LEVELS)
            return SILT_FAIL(SILT_ERR_UNSUPPORTED, "var_vq: more than %d encoder levels", VAR_VQ_MAX_LEVELS);
        int w = dim_of(t, 4, 0);
        if (w < 1 || w % c->ch)
            return SILT_FAIL(SILT_ERR_SHAPE, "var_vq: 'encoder.down.%d.block.0.conv1.weight' width %d is not a multiple "
                                             "of ch %d", c->n_levels, w, c->ch);
        c->ch_mult[c->n_levels] = w / c->ch;
    }
    if (c->n_levels == 0) return SILT_FAIL(SILT_ERR_FORMAT, "var_vq: missing 'encoder.down.0.block.0.conv1.weight'");
    for (c->num_res_blocks = 0; find(st, pre, "encoder.down.0.block.%d.conv1.weight", c->num_res_blocks);) c->num_res_blocks++;
    c->using_sa = find(st, pre, "encoder.down.%d.attn.0.qkv.weight", c->n_levels - 1) != NULL;
    c->using_mid_sa = find(st, pre, "encoder.mid.attn_1.qkv.weight") != NULL;
    const silt_st_tensor *qc = find(st, pre, "quant_conv.weight");
    c->quant_conv_ks = dim_of(qc, 4, 2);
    if (c->quant_conv_ks < 1 || c->quant_conv_ks % 2 == 0)
        return SILT_FAIL(SILT_ERR_FORMAT, "var_vq: missing or malformed 'quant_conv.weight' (expected (Cvae, Cvae, k, k), k odd)");
    c->downsample = 1 << (c->n_levels - 1);

    c->n_phi = 0;
    if (find(st, pre, "quantize.quant_resi.qresi_ls.0.weight")) {
        c->phi_share = VAR_PHI_PARTIAL;
        while (c->n_phi < VAR_MAX_SCALES && find(st, pre, "quantize.quant_resi.qresi_ls.%d.weight", c->n_phi)) c->n_phi++;
    } else if (find(st, pre, "quantize.quant_resi.qresi.weight")) {
        c->phi_share = VAR_PHI_SHARED;
        c->n_phi = 1;
    } else if (find(st, pre, "quantize.quant_resi.0.weight")) {
        c->phi_share = VAR_PHI_NONSHARED;
        while (c->n_phi < VAR_MAX_SCALES && find(st, pre, "quantize.quant_resi.%d.weight", c->n_phi)) c->n_phi++;
    } else {
        c->phi_share = VAR_PHI_IDENTITY;
    }
    c->groups = 32;
    c->quant_resi = 0.5f;
    c->n_scales = 10;
    memcpy(c->patch_nums, var_patch_nums_256, sizeof var_patch_nums_256);
    if (var_is_train_checkpoint(st) && !silt_safetensors_metadata(st, "config")) {
        // `gen train --arch vq` writes no config: its fixed settings apply.
        var_vq_config w = var_vq_world_config();
        c->groups = w.groups;
        c->quant_resi = w.quant_resi;
        c->n_scales = w.n_scales;
        memcpy(c->patch_nums, w.patch_nums, (size_t)w.n_scales * sizeof *w.patch_nums);
    }
    SILT_TRY(read_config_json(st, c));
    if (c->phi_share == VAR_PHI_IDENTITY && c->quant_resi > 1e-6f)
        return SILT_FAIL(SILT_ERR_FORMAT, "var_vq: missing 'quantize.quant_resi.qresi_ls.0.weight' (the phi convs; a file "
                                          "without them needs config quant_resi 0)");
    if (c->phi_share != VAR_PHI_IDENTITY && c->quant_resi <= 1e-6f)
        return SILT_FAIL(SILT_ERR_FORMAT, "var_vq: config quant_resi 0 means no phi convs, but the file has them");
    for (int i = 0; i < c->n_levels; i++)
        if ((c->ch * c->ch_mult[i]) % c->groups)
            return SILT_FAIL(SILT_ERR_SHAPE, "var_vq: width %d of level %d is not divisible by %d GroupNorm groups "
                                             "(config norm_num_groups)", c->ch * c->ch_mult[i], i, c->groups);
    return set_patch_nums_cfg(c, c->patch_nums, c->n_scales);
}

// wl NULL: var_vq_create (tensors are created, not read). skip_adam: a
// trainer checkpoint read without EMA, whose adam_m./adam_v. copies are
// marked used.
typedef struct vq_loader {
    silt_weights *wl;
    var_vqvae *m;
    bool oom, skip_adam;
} vq_loader;

static silt_tensor *get(vq_loader *L, const char *base, const char *leaf, int ndim, int64_t d0, int64_t d1, int64_t d2,
                        int64_t d3) {
    char name[320];
    snprintf(name, sizeof name, "%s%s%s", base, leaf ? "." : "", leaf ? leaf : "");
    int64_t shape[4] = {d0, d1, d2, d3};
    silt_tensor *t;
    if (L->wl) {
        t = silt_weights_get(L->wl, name, ndim, shape);
        if (L->skip_adam) var_skip_adam(L->wl, name);
    } else {  // var_vq_create: zeroed parameters, initialised afterwards
        t = silt_tensor_create_f32(ndim, shape, true);
        if (!t) L->oom = true;
    }
    var_vqvae *m = L->m;
    char *copy = t ? strdup(name) : NULL;
    if (t && copy && m->n_owned < m->cap_owned) {
        m->owned_names[m->n_owned] = copy;
        m->owned[m->n_owned++] = t;
        return t;
    }
    if (t) {  // out of memory for the name (one load per file tensor, so never out of slots)
        silt_tensor_free(t);
        free(copy);
        L->oom = true;
    }
    return NULL;
}

static void ld_conv(vq_loader *L, vq_wb *wb, const char *base, int cout, int cin, int k) {
    wb->w = get(L, base, "weight", 4, cout, cin, k, k);
    wb->b = get(L, base, "bias", 1, cout, 0, 0, 0);
}

static void ld_norm(vq_loader *L, vq_wb *wb, const char *base, int c) {
    wb->w = get(L, base, "weight", 1, c, 0, 0, 0);
    wb->b = get(L, base, "bias", 1, c, 0, 0, 0);
}

static void ld_res(vq_loader *L, vq_res *r, const char *base, int cin, int cout) {
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
        snprintf(sub, sizeof sub, "%s.nin_shortcut", base);
        ld_conv(L, &r->nin, sub, cout, cin, 1);
    }
}

static void ld_attn(vq_loader *L, vq_attn *a, const char *base, int c) {
    char sub[320];
    snprintf(sub, sizeof sub, "%s.norm", base);
    ld_norm(L, &a->norm, sub, c);
    snprintf(sub, sizeof sub, "%s.qkv", base);
    ld_conv(L, &a->qkv, sub, 3 * c, c, 1);
    snprintf(sub, sizeof sub, "%s.proj_out", base);
    ld_conv(L, &a->proj, sub, c, c, 1);
}

static void ld_mid(vq_loader *L, vq_coder *cd, const char *side, int c, bool attn) {
    char sub[64];
    snprintf(sub, sizeof sub, "%s.mid.block_1", side);
    ld_res(L, &cd->mid[0], sub, c, c);
    if (attn) {
        snprintf(sub, sizeof sub, "%s.mid.attn_1", side);
        ld_attn(L, &cd->mid_attn, sub, c);
    }
    snprintf(sub, sizeof sub, "%s.mid.block_2", side);
    ld_res(L, &cd->mid[1], sub, c, c);
}

static void ld_encoder(vq_loader *L) {
    const var_vq_config *c = &L->m->cfg;
    vq_coder *cd = &L->m->enc;
    int n = c->n_levels, nb = c->num_res_blocks, cin = c->ch;
    char base[96];
    ld_conv(L, &cd->conv_in, "encoder.conv_in", c->ch, c->in_channels, 3);
    for (int i = 0; i < n; i++) {
        int cout = c->ch * c->ch_mult[i];
        for (int j = 0; j < nb; j++) {
            snprintf(base, sizeof base, "encoder.down.%d.block.%d", i, j);
            ld_res(L, &cd->res[i * nb + j], base, j == 0 ? cin : cout, cout);
            if (i == n - 1 && c->using_sa) {
                snprintf(base, sizeof base, "encoder.down.%d.attn.%d", i, j);
                ld_attn(L, &cd->attn[j], base, cout);
            }
        }
        if (i != n - 1) {
            snprintf(base, sizeof base, "encoder.down.%d.downsample.conv", i);
            ld_conv(L, &cd->sample[i], base, cout, cout, 3);
        }
        cin = cout;
    }
    ld_mid(L, cd, "encoder", cin, c->using_mid_sa);
    ld_norm(L, &cd->norm_out, "encoder.norm_out", cin);
    ld_conv(L, &cd->conv_out, "encoder.conv_out", c->z_channels, cin, 3);
}

static void ld_decoder(vq_loader *L) {
    const var_vq_config *c = &L->m->cfg;
    vq_coder *cd = &L->m->dec;
    int n = c->n_levels, nb = c->num_res_blocks + 1, cin = c->ch * c->ch_mult[n - 1];
    char base[96];
    ld_conv(L, &cd->conv_in, "decoder.conv_in", cin, c->z_channels, 3);
    ld_mid(L, cd, "decoder", cin, c->using_mid_sa);
    for (int i = n - 1; i >= 0; i--) {
        int cout = c->ch * c->ch_mult[i];
        for (int j = 0; j < nb; j++) {
            snprintf(base, sizeof base, "decoder.up.%d.block.%d", i, j);
            ld_res(L, &cd->res[i * nb + j], base, j == 0 ? cin : cout, cout);
            if (i == n - 1 && c->using_sa) {
                snprintf(base, sizeof base, "decoder.up.%d.attn.%d", i, j);
                ld_attn(L, &cd->attn[j], base, cout);
            }
        }
        if (i != 0) {
            snprintf(base, sizeof base, "decoder.up.%d.upsample.conv", i);
            ld_conv(L, &cd->sample[i], base, cout, cout, 3);
        }
        cin = cout;
    }
    ld_norm(L, &cd->norm_out, "decoder.norm_out", cin);
    ld_conv(L, &cd->conv_out, "decoder.conv_out", c->in_channels, cin, 3);
}

static void ld_quantizer(vq_loader *L) {
    const var_vq_config *c = &L->m->cfg;
    int z = c->z_channels, k = c->quant_conv_ks;
    char base[96];
    ld_conv(L, &L->m->quant_conv, "quant_conv", z, z, k);
    ld_conv(L, &L->m->post_quant_conv, "post_quant_conv", z, z, k);
    L->m->embedding = get(L, "quantize.embedding.weight", NULL, 2, c->vocab_size, z, 0, 0);
    for (int i = 0; i < c->n_phi; i++) {
        if (c->phi_share == VAR_PHI_PARTIAL) snprintf(base, sizeof base, "quantize.quant_resi.qresi_ls.%d", i);
        else if (c->phi_share == VAR_PHI_SHARED) snprintf(base, sizeof base, "quantize.quant_resi.qresi");
        else snprintf(base, sizeof base, "quantize.quant_resi.%d", i);
        ld_conv(L, &L->m->phi[i], base, z, z, 3);
    }
    // Training statistics (EMA of codebook hits), not used by inference.
    if (L->wl) silt_weights_skip(L->wl, "quantize.ema_vocab_hit_SV");
}

// Allocates m's tables for its config and builds (wl NULL: creates) every tensor.
static silt_status build(var_vqvae *m, int cap, silt_weights *wl, bool skip_adam) {
    const var_vq_config *c = &m->cfg;
    m->cap_owned = cap;
    m->owned = calloc((size_t)m->cap_owned, sizeof *m->owned);
    m->owned_names = calloc((size_t)m->cap_owned, sizeof *m->owned_names);
    m->enc.res = calloc((size_t)(c->n_levels * c->num_res_blocks), sizeof *m->enc.res);
    m->dec.res = calloc((size_t)(c->n_levels * (c->num_res_blocks + 1)), sizeof *m->dec.res);
    m->enc.attn = calloc((size_t)c->num_res_blocks, sizeof *m->enc.attn);
    m->dec.attn = calloc((size_t)c->num_res_blocks + 1, sizeof *m->dec.attn);
    if (!m->owned || !m->owned_names || !m->enc.res || !m->dec.res || !m->enc.attn || !m->dec.attn) {
        if (wl) silt_weights_abort(wl);
        return SILT_FAIL(SILT_ERR_OOM, "var_vq: out of memory");
    }
    vq_loader L = {wl, m, false, skip_adam};
    ld_encoder(&L);
    ld_quantizer(&L);
    ld_decoder(&L);
    silt_status s = wl ? silt_weights_end(wl) : SILT_OK;
    if (s == SILT_OK && L.oom) s = SILT_FAIL(SILT_ERR_OOM, "var_vq: out of memory");
    return s;
}

silt_status var_vq_load(const silt_safetensors *st, var_vqvae **out) {
    if (!st || !out) return SILT_FAIL(SILT_ERR_ARG, "var_vq_load: NULL argument");
    // A trainer checkpoint with EMA: the EMA weights are the model.
    const char *pre = silt_safetensors_find(st, "ema.quantize.embedding.weight") ? "ema." : "";
    var_vqvae *m = calloc(1, sizeof *m);
    if (!m) return SILT_FAIL(SILT_ERR_OOM, "var_vq_load: out of memory");
    silt_status s = detect(st, pre, &m->cfg);
    if (s != SILT_OK) { free(m); return s; }
    silt_weights *wl = silt_weights_begin(st, pre);
    if (!wl) { free(m); return SILT_FAIL(SILT_ERR_OOM, "var_vq_load: out of memory"); }
    s = build(m, silt_safetensors_count(st) + 1, wl, !*pre && var_is_train_checkpoint(st));
    if (s != SILT_OK) { var_vq_free(m); return s; }
    *out = m;
    return SILT_OK;
}

silt_status var_vq_load_file(const char *path, var_vqvae **out) {
    if (!path || !out) return SILT_FAIL(SILT_ERR_ARG, "var_vq_load_file: NULL argument");
    silt_safetensors *st = NULL;
    SILT_TRY(silt_safetensors_open(path, &st));
    silt_status s = var_vq_load(st, out);
    silt_safetensors_close(st);
    return s;
}

silt_status var_vq_create_empty(const var_vq_config *c, var_vqvae **out) {
    var_vqvae *m = calloc(1, sizeof *m);
    if (!m) return SILT_FAIL(SILT_ERR_OOM, "var_vq_create: out of memory");
    m->cfg = *c;
    int cap = 64 + 16 * c->n_levels * (2 * c->num_res_blocks + 1) * 2 + 2 * c->n_phi;
    silt_status s = build(m, cap, NULL, false);
    if (s != SILT_OK) { var_vq_free(m); return s; }
    *out = m;
    return SILT_OK;
}

void var_vq_free(var_vqvae *vq) {
    if (!vq) return;
    for (int i = 0; i < vq->n_owned; i++) {
        silt_tensor_free_cuda(vq->owned[i]);  // frees CPU and device tensors alike
        free(vq->owned_names[i]);
    }
    free(vq->owned);
    free(vq->owned_names);
    free(vq->enc.res);
    free(vq->dec.res);
    free(vq->enc.attn);
    free(vq->dec.attn);
    free(vq);
}

const var_vq_config *var_vq_get_config(const var_vqvae *vq) { return vq ? &vq->cfg : NULL; }

silt_device var_vq_device(const var_vqvae *vq) { return vq && vq->embedding ? vq->embedding->device : SILT_CPU; }

silt_status var_vq_to_device(var_vqvae *vq, silt_device device) {
    if (!vq) return SILT_FAIL(SILT_ERR_ARG, "var_vq_to_device: NULL tokenizer");
    bool move;
    SILT_TRY(silt_model_move_check("var_vq_to_device", var_vq_device(vq), device, &move));
    if (!move) return SILT_OK;
    // The codebook goes last: it decides var_vq_device (see var_to_device).
    silt_status s = SILT_OK;
    for (int i = 0; i < vq->n_owned && s == SILT_OK; i++)
        if (vq->owned[i] != vq->embedding) s = silt_tensor_move_to_cuda(vq->owned[i]);
    if (s == SILT_OK) s = silt_tensor_move_to_cuda(vq->embedding);
    return s;
}

int var_vq_param_count(const var_vqvae *vq) { return vq ? vq->n_owned : 0; }

silt_tensor *var_vq_param(const var_vqvae *vq, int i, const char **name) {
    if (!vq || i < 0 || i >= vq->n_owned) return NULL;
    if (name) *name = vq->owned_names[i];
    return vq->owned[i];
}

silt_tensor *var_vq_find_param(const var_vqvae *vq, const char *name) {
    for (int i = 0; vq && name && i < vq->n_owned; i++)
        if (!strcmp(vq->owned_names[i], name)) return vq->owned[i];
    return NULL;
}

static silt_status set_patch_nums_cfg(var_vq_config *c, const int *pn, int n) {
    if (!pn || n < 2 || n > VAR_MAX_SCALES)
        return SILT_FAIL(SILT_ERR_ARG, "var_vq: patch_nums needs 2..%d scales, got %d", VAR_MAX_SCALES, pn ? n : 0);
    int64_t L = 0;
    for (int i = 0; i < n; i++) {
        if (pn[i] < 1 || pn[i] > 1024)
            return SILT_FAIL(SILT_ERR_ARG, "var_vq: patch_nums[%d] = %d is outside 1..1024", i, pn[i]);
        L += (int64_t)pn[i] * pn[i];
    }
    if (c->phi_share == VAR_PHI_NONSHARED && c->n_phi != n)
        return SILT_FAIL(SILT_ERR_SHAPE, "var_vq: the file has %d non-shared phi convs (one per scale) but %d scales "
                                         "were asked for", c->n_phi, n);
    int tmp[VAR_MAX_SCALES];
    memcpy(tmp, pn, (size_t)n * sizeof *pn);  // pn may alias c->patch_nums
    memcpy(c->patch_nums, tmp, (size_t)n * sizeof *pn);
    c->n_scales = n;
    c->L = L;
    return SILT_OK;
}

silt_status var_vq_set_patch_nums(var_vqvae *vq, const int *pn, int n) {
    if (!vq) return SILT_FAIL(SILT_ERR_ARG, "var_vq_set_patch_nums: NULL tokenizer");
    var_vq_config c = vq->cfg;  // unchanged on failure
    SILT_TRY(set_patch_nums_cfg(&c, pn, n));
    vq->cfg = c;
    return SILT_OK;
}

// --- graph helpers -------------------------------------------------------------------

// SiLU(GroupNorm(x)), in place when no grad is needed (halves the arena high
// water of a 256 px decode).
static silt_tensor *gn_silu(silt_graph *g, silt_tensor *x, const vq_wb *n, int groups) {
    return silt_silu_inplace(g, silt_groupnorm(g, x, n->w, n->b, groups, VQ_GN_EPS));
}

// ResnetBlock: nin_shortcut(x) + conv2(SiLU(GN2(conv1(SiLU(GN1(x)))))) (dropout 0).
static silt_tensor *res_fwd(silt_graph *g, const vq_res *r, silt_tensor *x, int groups) {
    silt_tensor *h = silt_conv2d(g, gn_silu(g, x, &r->norm1, groups), r->conv1.w, r->conv1.b, 1, 1);
    h = silt_conv2d(g, gn_silu(g, h, &r->norm2, groups), r->conv2.w, r->conv2.b, 1, 1);
    silt_tensor *skip = r->nin.w ? silt_conv2d(g, x, r->nin.w, r->nin.b, 1, 0) : x;
    return silt_add_inplace(g, skip, h);
}

// AttnBlock: qkv = conv1x1(GN(x)) split [q; k; v] along channels, one head of
// width C over the H*W positions, softmax(q^T k * C^-0.5), proj_out, residual.
static silt_tensor *attn_fwd(silt_graph *g, const vq_attn *a, silt_tensor *x, int groups) {
    if (!x) return NULL;
    int64_t B = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3], T = H * W;
    silt_tensor *qkv = silt_conv2d(g, silt_groupnorm(g, x, a->norm.w, a->norm.b, groups, VQ_GN_EPS), a->qkv.w, a->qkv.b, 1, 0);
    qkv = silt_permute(g, silt_reshape(g, qkv, 4, (int64_t[]){B, 3, C, T}), (int[]){0, 1, 3, 2});  // (B, 3, T, C)
    silt_tensor *p[3];
    if (!qkv || silt_split(g, qkv, 1, (int64_t[]){1, 1, 1}, 3, p) != SILT_OK) return NULL;
    silt_attn_opts o = {.scale = (float)(1.0 / sqrt((double)C))};  // w_ratio = int(C) ** -0.5
    silt_tensor *h = silt_attention(g, p[0], p[1], p[2], &o);        // (B, 1, T, C)
    h = silt_transpose(g, silt_reshape(g, h, 3, (int64_t[]){B, T, C}), 1, 2);
    h = silt_conv2d(g, silt_reshape(g, h, 4, (int64_t[]){B, C, H, W}), a->proj.w, a->proj.b, 1, 0);
    return silt_add_inplace(g, x, h);
}

static silt_tensor *mid_fwd(silt_graph *g, const var_vqvae *vq, const vq_coder *cd, silt_tensor *h) {
    int groups = vq->cfg.groups;
    h = res_fwd(g, &cd->mid[0], h, groups);
    if (vq->cfg.using_mid_sa) h = attn_fwd(g, &cd->mid_attn, h, groups);
    return res_fwd(g, &cd->mid[1], h, groups);
}

static bool check_nchw(silt_graph *g, const char *op, const silt_tensor *x, int64_t channels) {
    char buf[64];
    if (silt_graph_check_dev(g, op, x) != SILT_OK) return false;
    if (x->ndim != 4 || x->shape[1] != channels) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "%s: expected (B, %lld, H, W), got %s", op, (long long)channels,
                                     silt_shape_str(x, buf, sizeof buf)));
        return false;
    }
    return true;
}

silt_tensor *var_vq_encode_features(silt_graph *g, const var_vqvae *vq, silt_tensor *img) {
    if (!img) return NULL;
    if (!vq) { silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "var_vq_encode: NULL tokenizer")); return NULL; }
    const var_vq_config *c = &vq->cfg;
    if (!check_nchw(g, "var_vq_encode", img, c->in_channels)) return NULL;
    if (img->shape[2] % c->downsample || img->shape[3] % c->downsample) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "var_vq_encode: image %lldx%lld is not a multiple of the "
                                                     "tokenizer's downsampling %d", (long long)img->shape[2],
                                     (long long)img->shape[3], c->downsample));
        return NULL;
    }
    const vq_coder *cd = &vq->enc;
    int n = c->n_levels, nb = c->num_res_blocks, groups = c->groups;
    silt_tensor *h = silt_conv2d(g, img, cd->conv_in.w, cd->conv_in.b, 1, 1);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < nb; j++) {
            h = res_fwd(g, &cd->res[i * nb + j], h, groups);
            if (i == n - 1 && c->using_sa) h = attn_fwd(g, &cd->attn[j], h, groups);
        }
        if (i != n - 1) h = silt_conv2d(g, silt_pad2d(g, h, 0, 1, 0, 1)  /* F.pad(x, (0, 1, 0, 1)) of Downsample2x */, cd->sample[i].w, cd->sample[i].b, 2, 0);
    }
    h = mid_fwd(g, vq, cd, h);
    h = silt_conv2d(g, gn_silu(g, h, &cd->norm_out, groups), cd->conv_out.w, cd->conv_out.b, 1, 1);
    int pad = c->quant_conv_ks / 2;
    return silt_conv2d(g, h, vq->quant_conv.w, vq->quant_conv.b, 1, pad);
}

silt_tensor *var_vq_fhat_to_img(silt_graph *g, const var_vqvae *vq, silt_tensor *f_hat, bool clamp) {
    if (!f_hat) return NULL;
    if (!vq) { silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "var_vq_fhat_to_img: NULL tokenizer")); return NULL; }
    const var_vq_config *c = &vq->cfg;
    if (!check_nchw(g, "var_vq_fhat_to_img (f_hat)", f_hat, c->z_channels)) return NULL;
    const vq_coder *cd = &vq->dec;
    int n = c->n_levels, nb = c->num_res_blocks + 1, groups = c->groups;
    silt_tensor *h = silt_conv2d(g, f_hat, vq->post_quant_conv.w, vq->post_quant_conv.b, 1, c->quant_conv_ks / 2);
    h = silt_conv2d(g, h, cd->conv_in.w, cd->conv_in.b, 1, 1);
    h = mid_fwd(g, vq, cd, h);
    for (int i = n - 1; i >= 0; i--) {
        for (int j = 0; j < nb; j++) {
            h = res_fwd(g, &cd->res[i * nb + j], h, groups);
            if (i == n - 1 && c->using_sa) h = attn_fwd(g, &cd->attn[j], h, groups);
        }
        if (i != 0 && h) {
            h = silt_upsample_nearest(g, h, 2 * h->shape[2], 2 * h->shape[3]);
            h = silt_conv2d(g, h, cd->sample[i].w, cd->sample[i].b, 1, 1);
        }
    }
    h = silt_conv2d(g, gn_silu(g, h, &cd->norm_out, groups), cd->conv_out.w, cd->conv_out.b, 1, 1);
    return clamp ? silt_clamp(g, h, -1.0f, 1.0f) : h;
}
