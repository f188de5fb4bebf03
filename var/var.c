// VAR transformer: loading, configuration, blocks and the teacher-forced
// forward (see var.h). Transliterates FoundationVision/VAR models/var.py
// (VAR.forward, get_logits) and basic_var.py (SelfAttention, FFN,
// AdaLNSelfAttn, AdaLNBeforeHead) in their fp32 non-fused paths.
#include "var/var.h"

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
#include "var/var_internal.h"
#include "var/var_ops.h"

// --- detection -----------------------------------------------------------------------

// pre: "" or "ema." (a trainer checkpoint's EMA copy, see var_load).
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

static int64_t dim_of(const silt_st_tensor *t, int ndim, int d) {
    return (t && t->ndim == ndim && t->shape[d] > 0 && t->shape[d] < ((int64_t)1 << 24)) ? t->shape[d] : -1;
}

static silt_status fmt_pn(char *buf, size_t n, const int *pn, int K) {
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; i < K && off < n; i++) off += (size_t)snprintf(buf + off, n - off, i ? ",%d" : "%d", pn[i]);
    return SILT_OK;
}

typedef struct json_cfg {
    int num_heads;
    float norm_eps;
    int n_pn, pn[VAR_MAX_SCALES];
} json_cfg;

static silt_status read_config_json(const silt_safetensors *st, json_cfg *j) {
    const char *txt = silt_safetensors_metadata(st, "config");
    if (!txt) return SILT_OK;
    silt_json *doc = NULL;
    if (silt_json_parse(txt, strlen(txt), 64, &doc) != SILT_OK)
        return SILT_FAIL(SILT_ERR_FORMAT, "var: the file's \"config\" metadata is not valid JSON: %s", silt_last_error_message());
    const silt_json_value *root = silt_json_root(doc), *v;
    silt_status s = SILT_OK;
    if (!root || root->type != SILT_JSON_OBJECT) {
        s = SILT_FAIL(SILT_ERR_FORMAT, "var: the file's \"config\" metadata is not a JSON object");
        goto done;
    }
    if ((v = silt_json_member(doc, root, "num_heads"))) {
        if (v->type != SILT_JSON_NUMBER || !v->is_int || v->negative || v->big || v->u < 1 || v->u > 4096) {
            s = SILT_FAIL(SILT_ERR_FORMAT, "var: config num_heads must be a positive integer");
            goto done;
        }
        j->num_heads = (int)v->u;
    }
    if ((v = silt_json_member(doc, root, "norm_eps"))) {
        if (v->type != SILT_JSON_NUMBER || !(v->num > 0) || !isfinite(v->num)) {
            s = SILT_FAIL(SILT_ERR_FORMAT, "var: config norm_eps must be a positive number");
            goto done;
        }
        j->norm_eps = (float)v->num;
    }
    if ((v = silt_json_member(doc, root, "patch_nums"))) {
        if (v->type != SILT_JSON_ARRAY) {
            s = SILT_FAIL(SILT_ERR_FORMAT, "var: config patch_nums must be an array of integers");
            goto done;
        }
        for (const silt_json_value *e = silt_json_child(doc, v); e; e = silt_json_next(doc, e)) {
            if (e->type != SILT_JSON_NUMBER || !e->is_int || e->negative || e->big || e->u < 1 || e->u > 1024 ||
                j->n_pn == VAR_MAX_SCALES) {
                s = SILT_FAIL(SILT_ERR_FORMAT, "var: config patch_nums must hold at most %d integers in 1..1024",
                              VAR_MAX_SCALES);
                goto done;
            }
            j->pn[j->n_pn++] = (int)e->u;
        }
    }
done:
    silt_json_free(doc);
    return s;
}

// patch_nums from the lvl_1L buffer (the scale of each position): scale k
// must occupy a contiguous run of pn_k^2 positions, k = 0, 1, ...
static silt_status pn_from_lvl(const silt_st_tensor *t, int64_t L, int *pn, int *K) {
    if (t->ndim != 2 || t->shape[0] != 1 || t->shape[1] != L)
        return SILT_FAIL(SILT_ERR_SHAPE, "var: tensor 'lvl_1L' must have shape [1, %lld] (one scale id per position)",
                         (long long)L);
    float *lv = malloc((size_t)L * sizeof *lv);
    if (!lv) return SILT_FAIL(SILT_ERR_OOM, "var: out of memory");
    silt_status s = silt_safetensors_read_f32(t, lv, L);
    int k = 0;
    int64_t run = 0;
    for (int64_t i = 0; s == SILT_OK && i <= L; i++) {
        if (i < L && lv[i] == (float)k) { run++; continue; }
        int r = (int)lround(sqrt((double)run));
        if (run == 0 || (int64_t)r * r != run || k == VAR_MAX_SCALES) {
            s = SILT_FAIL(SILT_ERR_FORMAT, "var: tensor 'lvl_1L' is not a run of square blocks 0, 1, 2, ... (position %lld)",
                          (long long)i);
            break;
        }
        pn[k++] = r;
        run = 0;
        if (i < L) {
            if (lv[i] != (float)k) {
                s = SILT_FAIL(SILT_ERR_FORMAT, "var: tensor 'lvl_1L' skips from scale %d to %g at position %lld", k - 1,
                              (double)lv[i], (long long)i);
                break;
            }
            run = 1;
        }
    }
    free(lv);
    *K = k;
    return s;
}

static silt_status detect(const silt_safetensors *st, const char *pre, var_config *c) {
    const silt_st_tensor *ce = find(st, pre, "class_emb.weight"), *tp = find(st, pre, "text_pool_proj.weight");
    if (!ce && !tp)
        return SILT_FAIL(SILT_ERR_FORMAT, "not a VAR transformer checkpoint: no tensor 'class_emb.weight' (convert "
                                          "var_d16.pth with tools/pth2safetensors.py) or 'text_pool_proj.weight'");
    int64_t rows = ce ? dim_of(ce, 2, 0) : 2, C = ce ? dim_of(ce, 2, 1) : dim_of(tp, 2, 0);
    if (!ce) {  // text model
        c->text_dim = (int)dim_of(tp, 2, 1);
        c->ctx_dim = (int)dim_of(find(st, pre, "text_ctx_proj.weight"), 2, 1);
        if (c->text_dim < 1 || c->ctx_dim < 1)
            return SILT_FAIL(SILT_ERR_FORMAT, "var: a text model needs text_pool_proj.weight (C, text_dim) and "
                                              "text_ctx_proj.weight (C, ctx_dim)");
    }
    int64_t Cvae = dim_of(find(st, pre, "word_embed.weight"), 2, 1), V = dim_of(find(st, pre, "head.weight"), 2, 0);
    int64_t L = dim_of(find(st, pre, "pos_1LC"), 3, 1), first_l = dim_of(find(st, pre, "pos_start"), 3, 1);
    int64_t K = dim_of(find(st, pre, "lvl_embed.weight"), 2, 0);
    if ((ce && rows < 2) || C < 1 || Cvae < 1 || V < 1 || L < 2 || first_l < 1 || K < 2)
        return SILT_FAIL(SILT_ERR_FORMAT, "var: need class_emb.weight (classes+1, C), word_embed.weight (C, Cvae), "
                                          "head.weight (V, C), pos_1LC (1, L, C), pos_start (1, first_l, C) and "
                                          "lvl_embed.weight (K, C) with K >= 2");
    c->num_classes = ce ? (int)rows - 1 : 0;
    c->embed_dim = (int)C;
    c->Cvae = (int)Cvae;
    c->vocab_size = (int)V;
    c->L = L;
    c->first_l = first_l;
    for (c->depth = 0; find(st, pre, "blocks.%d.attn.mat_qkv.weight", c->depth);) c->depth++;
    if (c->depth == 0) return SILT_FAIL(SILT_ERR_FORMAT, "var: missing 'blocks.0.attn.mat_qkv.weight'");
    c->shared_aln = find(st, pre, "shared_ada_lin.1.weight") != NULL;
    const silt_st_tensor *sm = find(st, pre, "blocks.0.attn.scale_mul_1H11");
    c->attn_l2_norm = sm != NULL;
    c->mlp_hidden = (int)dim_of(find(st, pre, "blocks.0.ffn.fc1.weight"), 2, 0);
    if (c->mlp_hidden < 1) return SILT_FAIL(SILT_ERR_FORMAT, "var: missing or malformed 'blocks.0.ffn.fc1.weight'");

    json_cfg j = {0, 1e-6f, 0, {0}};
    SILT_TRY(read_config_json(st, &j));
    c->norm_eps = j.norm_eps;
    if (sm) {
        c->num_heads = (int)dim_of(sm, 4, 1);
        if (c->num_heads < 1) return SILT_FAIL(SILT_ERR_SHAPE, "var: 'blocks.0.attn.scale_mul_1H11' must be (1, H, 1, 1)");
        if (j.num_heads && j.num_heads != c->num_heads)
            return SILT_FAIL(SILT_ERR_FORMAT, "var: config num_heads %d disagrees with scale_mul_1H11's %d heads",
                             j.num_heads, c->num_heads);
    } else {
        c->num_heads = j.num_heads ? j.num_heads : (int)(C / 64 > 0 ? C / 64 : 1);  // official: width 64 per head
    }
    if (C % c->num_heads)
        return SILT_FAIL(SILT_ERR_SHAPE, "var: width %lld is not divisible by %d heads", (long long)C, c->num_heads);
    c->head_dim = (int)(C / c->num_heads);

    // Scales: lvl_1L, else config, else the official lists by length.
    const silt_st_tensor *lvl = find(st, pre, "lvl_1L");
    char a[160], b[160];
    if (lvl) {
        SILT_TRY(pn_from_lvl(lvl, L, c->patch_nums, &c->n_scales));
        if (j.n_pn && (j.n_pn != c->n_scales || memcmp(j.pn, c->patch_nums, (size_t)j.n_pn * sizeof(int)))) {
            fmt_pn(a, sizeof a, j.pn, j.n_pn);
            fmt_pn(b, sizeof b, c->patch_nums, c->n_scales);
            return SILT_FAIL(SILT_ERR_FORMAT, "var: config patch_nums (%s) disagree with the lvl_1L buffer (%s)", a, b);
        }
    } else if (j.n_pn) {
        c->n_scales = j.n_pn;
        memcpy(c->patch_nums, j.pn, (size_t)j.n_pn * sizeof(int));
    } else if (L == 680 || L == 2240) {
        c->n_scales = 10;
        memcpy(c->patch_nums, L == 680 ? var_patch_nums_256 : var_patch_nums_512, sizeof var_patch_nums_256);
    } else if (L == 130 && K == 6) {  // the world VAR's scales (a trainer checkpoint has no config)
        c->n_scales = 6;
        memcpy(c->patch_nums, var_patch_nums_world, sizeof var_patch_nums_world);
    } else {
        return SILT_FAIL(SILT_ERR_FORMAT, "var: cannot tell the scales of a %lld-token sequence: the file has no lvl_1L "
                                          "buffer and no config patch_nums", (long long)L);
    }
    int64_t sum = 0;
    for (int k = 0; k < c->n_scales; k++) {
        c->begin[k] = sum;
        sum += (int64_t)c->patch_nums[k] * c->patch_nums[k];
    }
    c->begin[c->n_scales] = sum;
    fmt_pn(a, sizeof a, c->patch_nums, c->n_scales);
    if (c->n_scales < 2 || sum != L || c->n_scales != K || (int64_t)c->patch_nums[0] * c->patch_nums[0] != first_l)
        return SILT_FAIL(SILT_ERR_SHAPE, "var: patch_nums (%s) do not fit the checkpoint: need sum pn^2 = L = %lld, "
                                         "%lld scales (lvl_embed) and pn_0^2 = %lld (pos_start)", a, (long long)L,
                         (long long)K, (long long)first_l);
    return SILT_OK;
}

// --- loading ------------------------------------------------------------------------------

// wl NULL: var_create (tensors are created, not read). skip_adam: a trainer
// checkpoint read without EMA, whose adam_m./adam_v. copies are marked used.
typedef struct var_loader {
    silt_weights *wl;
    var_model *m;
    bool oom, skip_adam;
} var_loader;

static silt_tensor *get(var_loader *Ld, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static silt_tensor *get(var_loader *Ld, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    silt_tensor *t;
    if (Ld->wl) {
        t = silt_weights_get(Ld->wl, name, ndim, (int64_t[]){d0, d1, d2, d3});
        if (Ld->skip_adam) var_skip_adam(Ld->wl, name);
    } else {
        t = silt_tensor_create_f32(ndim, (int64_t[]){d0, d1, d2, d3}, true);
        if (!t) Ld->oom = true;
    }
    var_model *m = Ld->m;
    char *copy = t ? strdup(name) : NULL;
    if (t && copy && m->n_owned < m->cap_owned) {
        m->owned_names[m->n_owned] = copy;
        m->owned[m->n_owned++] = t;
        return t;
    }
    if (t) {  // out of memory for the name (one load per file tensor, so never out of slots)
        silt_tensor_free(t);
        free(copy);
        Ld->oom = true;
    }
    return NULL;
}

static void ld_weights(var_loader *Ld) {
    var_model *m = Ld->m;
    const var_config *c = &m->cfg;
    int64_t C = c->embed_dim, H = c->num_heads, F = c->mlp_hidden;
    m->word_w = get(Ld, 2, C, c->Cvae, 0, 0, "word_embed.weight");
    m->word_b = get(Ld, 1, C, 0, 0, 0, "word_embed.bias");
    if (c->text_dim) {
        m->text_pool_w = get(Ld, 2, C, c->text_dim, 0, 0, "text_pool_proj.weight");
        m->text_pool_b = get(Ld, 1, C, 0, 0, 0, "text_pool_proj.bias");
        m->text_ctx_w = get(Ld, 2, C, c->ctx_dim, 0, 0, "text_ctx_proj.weight");
        m->text_ctx_b = get(Ld, 1, C, 0, 0, 0, "text_ctx_proj.bias");
    } else {
        m->class_emb = get(Ld, 2, c->num_classes + 1, C, 0, 0, "class_emb.weight");
    }
    m->pos_start = get(Ld, 3, 1, c->first_l, C, 0, "pos_start");
    m->pos_1LC = get(Ld, 3, 1, c->L, C, 0, "pos_1LC");
    m->lvl_embed = get(Ld, 2, c->n_scales, C, 0, 0, "lvl_embed.weight");
    if (c->shared_aln) {
        m->shared_w = get(Ld, 2, 6 * C, C, 0, 0, "shared_ada_lin.1.weight");
        m->shared_b = get(Ld, 1, 6 * C, 0, 0, 0, "shared_ada_lin.1.bias");
    }
    for (int i = 0; i < c->depth; i++) {
        var_block *b = &m->blocks[i];
        if (c->shared_aln) {
            b->ada_gss = get(Ld, 4, 1, 1, 6, C, "blocks.%d.ada_gss", i);
        } else {
            b->ada_w = get(Ld, 2, 6 * C, C, 0, 0, "blocks.%d.ada_lin.1.weight", i);
            b->ada_b = get(Ld, 1, 6 * C, 0, 0, 0, "blocks.%d.ada_lin.1.bias", i);
        }
        if (c->attn_l2_norm) b->scale_mul = get(Ld, 4, 1, H, 1, 1, "blocks.%d.attn.scale_mul_1H11", i);
        b->qkv_w = get(Ld, 2, 3 * C, C, 0, 0, "blocks.%d.attn.mat_qkv.weight", i);
        b->q_bias = get(Ld, 1, C, 0, 0, 0, "blocks.%d.attn.q_bias", i);
        b->v_bias = get(Ld, 1, C, 0, 0, 0, "blocks.%d.attn.v_bias", i);
        b->proj_w = get(Ld, 2, C, C, 0, 0, "blocks.%d.attn.proj.weight", i);
        b->proj_b = get(Ld, 1, C, 0, 0, 0, "blocks.%d.attn.proj.bias", i);
        b->fc1_w = get(Ld, 2, F, C, 0, 0, "blocks.%d.ffn.fc1.weight", i);
        b->fc1_b = get(Ld, 1, F, 0, 0, 0, "blocks.%d.ffn.fc1.bias", i);
        b->fc2_w = get(Ld, 2, C, F, 0, 0, "blocks.%d.ffn.fc2.weight", i);
        b->fc2_b = get(Ld, 1, C, 0, 0, 0, "blocks.%d.ffn.fc2.bias", i);
        if (c->text_dim) {
            b->ca_norm_w = get(Ld, 1, C, 0, 0, 0, "blocks.%d.ca_norm.weight", i);
            b->ca_norm_b = get(Ld, 1, C, 0, 0, 0, "blocks.%d.ca_norm.bias", i);
            b->ca_q_w = get(Ld, 2, C, C, 0, 0, "blocks.%d.ca.mat_q.weight", i);
            b->ca_q_b = get(Ld, 1, C, 0, 0, 0, "blocks.%d.ca.mat_q.bias", i);
            b->ca_kv_w = get(Ld, 2, 2 * C, C, 0, 0, "blocks.%d.ca.mat_kv.weight", i);
            b->ca_v_bias = get(Ld, 1, C, 0, 0, 0, "blocks.%d.ca.v_bias", i);
            b->ca_proj_w = get(Ld, 2, C, C, 0, 0, "blocks.%d.ca.proj.weight", i);
            b->ca_proj_b = get(Ld, 1, C, 0, 0, 0, "blocks.%d.ca.proj.bias", i);
        }
        char name[64];
        snprintf(name, sizeof name, "blocks.%d.attn.zero_k_bias", i);  // a zero buffer
        if (Ld->wl) silt_weights_skip(Ld->wl, name);
    }
    m->head_nm_w = get(Ld, 2, 2 * C, C, 0, 0, "head_nm.ada_lin.1.weight");
    m->head_nm_b = get(Ld, 1, 2 * C, 0, 0, 0, "head_nm.ada_lin.1.bias");
    m->head_w = get(Ld, 2, c->vocab_size, C, 0, 0, "head.weight");
    m->head_b = get(Ld, 1, c->vocab_size, 0, 0, 0, "head.bias");
    // Buffers the forward recomputes: lvl_1L was read by detect(), the mask
    // follows from it.
    if (Ld->wl) {
        silt_weights_skip(Ld->wl, "lvl_1L");
        silt_weights_skip(Ld->wl, "attn_bias_for_masking");
    }
}

// Allocates m's tables for its config and builds (wl NULL: creates) every tensor.
static silt_status build(var_model *m, int cap, silt_weights *wl, bool skip_adam) {
    const var_config *c = &m->cfg;
    m->cap_owned = cap;
    m->owned = calloc((size_t)m->cap_owned, sizeof *m->owned);
    m->owned_names = calloc((size_t)m->cap_owned, sizeof *m->owned_names);
    m->blocks = calloc((size_t)c->depth, sizeof *m->blocks);
    m->lvl = malloc((size_t)c->L * sizeof *m->lvl);
    m->zero_k = silt_tensor_create_f32(1, (int64_t[]){c->embed_dim}, false);
    if (!m->owned || !m->owned_names || !m->blocks || !m->lvl || !m->zero_k) {
        if (wl) silt_weights_abort(wl);
        return SILT_FAIL(SILT_ERR_OOM, "var: out of memory");
    }
    for (int k = 0; k < c->n_scales; k++)
        for (int64_t i = c->begin[k]; i < c->begin[k + 1]; i++) m->lvl[i] = k;
    var_loader Ld = {wl, m, false, skip_adam};
    ld_weights(&Ld);
    silt_status s = wl ? silt_weights_end(wl) : SILT_OK;
    if (s == SILT_OK && Ld.oom) s = SILT_FAIL(SILT_ERR_OOM, "var: out of memory");
    return s;
}

silt_status var_load(const silt_safetensors *st, var_model **out) {
    if (!st || !out) return SILT_FAIL(SILT_ERR_ARG, "var_load: NULL argument");
    // A trainer checkpoint with EMA: the EMA weights are the model.
    const char *pre = silt_safetensors_find(st, "ema.head.weight") ? "ema." : "";
    var_model *m = calloc(1, sizeof *m);
    if (!m) return SILT_FAIL(SILT_ERR_OOM, "var_load: out of memory");
    silt_status s = detect(st, pre, &m->cfg);
    if (s != SILT_OK) { free(m); return s; }
    silt_weights *wl = silt_weights_begin(st, pre);
    if (!wl) { free(m); return SILT_FAIL(SILT_ERR_OOM, "var_load: out of memory"); }
    s = build(m, silt_safetensors_count(st) + 1, wl, !*pre && var_is_train_checkpoint(st));
    if (s != SILT_OK) { var_free(m); return s; }
    *out = m;
    return SILT_OK;
}

silt_status var_load_file(const char *path, var_model **out) {
    if (!path || !out) return SILT_FAIL(SILT_ERR_ARG, "var_load_file: NULL argument");
    silt_safetensors *st = NULL;
    SILT_TRY(silt_safetensors_open(path, &st));
    silt_status s = var_load(st, out);
    silt_safetensors_close(st);
    return s;
}

silt_status var_create_empty(const var_config *c, var_model **out) {
    var_model *m = calloc(1, sizeof *m);
    if (!m) return SILT_FAIL(SILT_ERR_OOM, "var_create: out of memory");
    m->cfg = *c;
    silt_status s = build(m, 16 + 32 * c->depth, NULL, false);
    if (s != SILT_OK) { var_free(m); return s; }
    *out = m;
    return SILT_OK;
}

// silt_tensor_free_cuda frees CPU and device tensors alike.
void var_free(var_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_owned; i++) {
        silt_tensor_free_cuda(m->owned[i]);
        free(m->owned_names[i]);
    }
    free(m->owned);
    free(m->owned_names);
    free(m->blocks);
    free(m->lvl);
    silt_tensor_free_cuda(m->zero_k);
    free(m);
}

silt_device var_device(const var_model *m) { return m && m->word_w ? m->word_w->device : SILT_CPU; }

silt_status var_to_device(var_model *m, silt_device device) {
    if (!m) return SILT_FAIL(SILT_ERR_ARG, "var_to_device: NULL model");
    bool move;
    SILT_TRY(silt_model_move_check("var_to_device", var_device(m), device, &move));
    if (!move) return SILT_OK;
    // In place, tensor by tensor (headers kept, so the block pointers stay
    // valid). word_w goes last: it decides var_device, so a failure half way
    // leaves a model that still reports cpu and whose forward fails naming
    // the first device weight; var_free frees both kinds.
    silt_status s = silt_tensor_move_to_cuda(m->zero_k);
    for (int i = 0; i < m->n_owned && s == SILT_OK; i++)
        if (m->owned[i] != m->word_w) s = silt_tensor_move_to_cuda(m->owned[i]);
    if (s == SILT_OK) s = silt_tensor_move_to_cuda(m->word_w);
    return s;
}

const var_config *var_get_config(const var_model *m) { return m ? &m->cfg : NULL; }

int var_param_count(const var_model *m) { return m ? m->n_owned : 0; }

silt_tensor *var_param(const var_model *m, int i, const char **name) {
    if (!m || i < 0 || i >= m->n_owned) return NULL;
    if (name) *name = m->owned_names[i];
    return m->owned[i];
}

silt_tensor *var_find_param(const var_model *m, const char *name) {
    for (int i = 0; m && name && i < m->n_owned; i++)
        if (!strcmp(m->owned_names[i], name)) return m->owned[i];
    return NULL;
}

silt_status var_check_vqvae(const var_model *m, const var_vqvae *vq) {
    if (!m || !vq) return SILT_FAIL(SILT_ERR_ARG, "var: NULL model or tokenizer");
    const var_config *c = &m->cfg;
    const var_vq_config *q = var_vq_get_config(vq);
    if (q->vocab_size != c->vocab_size)
        return SILT_FAIL(SILT_ERR_SHAPE, "var: the transformer predicts %d codes (head.weight) but the tokenizer's codebook "
                                         "has %d (quantize.embedding.weight); use the VQ-VAE the model was trained with",
                         c->vocab_size, q->vocab_size);
    if (q->z_channels != c->Cvae)
        return SILT_FAIL(SILT_ERR_SHAPE, "var: the transformer reads %d-wide tokens (word_embed.weight) but the tokenizer's "
                                         "codebook is %d wide; use the VQ-VAE the model was trained with",
                         c->Cvae, q->z_channels);
    if (q->n_scales != c->n_scales || memcmp(q->patch_nums, c->patch_nums, (size_t)c->n_scales * sizeof(int))) {
        char a[160], b[160];
        fmt_pn(a, sizeof a, c->patch_nums, c->n_scales);
        fmt_pn(b, sizeof b, q->patch_nums, q->n_scales);
        return SILT_FAIL(SILT_ERR_SHAPE, "var: the transformer's scales (%s) differ from the tokenizer's (%s); set them "
                                         "with var_vq_set_patch_nums", a, b);
    }
    return SILT_OK;
}

silt_status var_check_labels(const var_model *m, const int32_t *labels, int64_t B) {
    if (!m || !labels || B < 1) return SILT_FAIL(SILT_ERR_ARG, "var: NULL model or labels, or batch %lld < 1", (long long)B);
    if (m->cfg.text_dim)
        return SILT_FAIL(SILT_ERR_ARG, "var: this model is text-conditioned (text_pool_proj), not class-conditional: "
                                       "give it a prompt, not class ids");
    int nc = m->cfg.num_classes;
    for (int64_t b = 0; b < B; b++)
        if (labels[b] < 0 || labels[b] > nc)
            return SILT_FAIL(SILT_ERR_ARG, "var: class id %d (batch row %lld) is out of range: this model has %d classes, "
                                           "ids 0..%d, and %d for unconditional", (int)labels[b], (long long)b, nc,
                             nc - 1, nc);
    return SILT_OK;
}

// --- forward pieces --------------------------------------------------------------------

// exp(min(s, max)) (scale_mul_1H11.clamp_max(max_scale_mul).exp()). The
// gradient passes where s <= max, as PyTorch's clamp_max. Both devices,
// forward and backward (var_clamp_exp_{fwd,bwd}_{cpu,cuda}).
typedef struct clamp_exp_node {
    silt_tensor *x, *out;
    float max;
} clamp_exp_node;

static silt_status clamp_exp_bwd(silt_graph *g, void *node) {
    clamp_exp_node *n = node;
    if (!n->out->grad) return SILT_OK;
    float *dx = silt_graph_grad(g, n->x);
    if (!dx) return silt_graph_status(g);
    return SILT_GRAPH_BWD(g, var_clamp_exp_bwd, dx, n->out->grad, silt_f32(n->x), silt_f32(n->out), n->max,
                          silt_numel(n->x));
}

static silt_tensor *clamp_max_exp(silt_graph *g, silt_tensor *x, float max) {
    if (!x) return NULL;
    if (silt_graph_check_dev(g, "var clamp_max_exp", x) != SILT_OK) return NULL;
    silt_tensor *out = silt_graph_tensor_f32(g, x->ndim, x->shape);
    if (!out) return NULL;
    if (out->device == SILT_CUDA) {
        if (!silt_graph_done(g, var_clamp_exp_fwd_cuda(silt_f32(out), silt_f32(x), max, silt_numel(x)), out))
            return NULL;
    } else {
        var_clamp_exp_fwd_cpu(silt_f32(out), silt_f32(x), max, silt_numel(x));
    }
    if (silt_graph_wants_grad(g, x, NULL, NULL)) {
        out->requires_grad = true;
        clamp_exp_node *n = silt_graph_record(g, clamp_exp_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (clamp_exp_node){x, out, max};
    }
    return out;
}

silt_status var_ada(silt_graph *g, const var_model *m, int bi, silt_tensor *cs, silt_tensor *shared, silt_tensor *out[6]) {
    for (int i = 0; i < 6; i++) out[i] = NULL;
    if (!cs) return silt_graph_status(g);
    int64_t R = cs->shape[0], C = m->cfg.embed_dim;
    const var_block *b = &m->blocks[bi];
    silt_tensor *a;
    if (m->cfg.shared_aln)  // (ada_gss + cond_BD).unbind(2): (1,1,6,C) + (R,1,6,C)
        a = silt_add(g, b->ada_gss, silt_reshape(g, shared, 4, (int64_t[]){R, 1, 6, C}));
    else  // ada_lin(cond_BD).view(-1, 1, 6, C).unbind(2)
        a = silt_linear(g, cs, b->ada_w, b->ada_b);
    a = silt_reshape(g, a, 3, (int64_t[]){R, 6, C});
    if (!a) return silt_graph_status(g);
    return silt_split(g, a, 1, (int64_t[]){1, 1, 1, 1, 1, 1}, 6, out);
}

// Appends k_new (R, H, T, hd) to the cache at kv->len and returns the cached
// tokens [0, len + T) as a contiguous (R, H, len + T, hd) arena tensor. The
// cache lives on the graph's device (var_sample.c allocates it there).
static silt_tensor *kv_append(silt_graph *g, float *cache, int64_t cap, int64_t len, silt_tensor *t) {
    if (!t) return NULL;
    int64_t R = t->shape[0], H = t->shape[1], T = t->shape[2], D = t->shape[3];
    if (len + T > cap) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "var: KV cache overflow (%lld + %lld > %lld tokens)", (long long)len,
                                     (long long)T, (long long)cap));
        return NULL;
    }
    silt_tensor *all = silt_graph_new(g, R, H, len + T, D);
    if (!all) return NULL;
    if (all->device == SILT_CUDA)
        return silt_graph_done(g, var_kv_append_fwd_cuda(silt_f32(all), cache, silt_f32(t), R * H, cap, len, T, D), all);
    var_kv_append_fwd_cpu(silt_f32(all), cache, silt_f32(t), R * H, cap, len, T, D);
    return all;
}

// SelfAttention.forward (slow_attn path): h (R, T, C) -> (R, T, C).
static silt_tensor *attn_fwd(silt_graph *g, const var_model *m, const var_block *b, silt_tensor *h, const float *mask,
                             var_kv *kv) {
    if (!h) return NULL;
    const var_config *c = &m->cfg;
    int64_t R = h->shape[0], T = h->shape[1], C = c->embed_dim, H = c->num_heads, hd = c->head_dim;
    silt_tensor *bias_parts[3] = {b->q_bias, m->zero_k, b->v_bias};
    silt_tensor *qkv = silt_linear(g, h, b->qkv_w, silt_concat(g, bias_parts, 3, 0));  // (R, T, 3C)
    // view(B, L, 3, H, hd).permute(2, 0, 3, 1, 4): as (R, T, 3H, hd) -> (R, 3H, T, hd)
    qkv = silt_transpose(g, silt_reshape(g, qkv, 4, (int64_t[]){R, T, 3 * H, hd}), 1, 2);
    silt_tensor *p[3];
    if (!qkv || silt_split(g, qkv, 1, (int64_t[]){H, H, H}, 3, p) != SILT_OK) return NULL;
    silt_tensor *q = p[0], *k = p[1], *v = p[2];
    float scale;
    if (c->attn_l2_norm) {
        // max_scale_mul = torch.log(torch.tensor(100)).item(): ln 100 rounded to fp32.
        q = silt_mul(g, silt_l2norm(g, q, 1e-12f), clamp_max_exp(g, b->scale_mul, (float)log(100.0)));
        k = silt_l2norm(g, k, 1e-12f);
        scale = 1.0f;
    } else {
        scale = (float)(0.25 / sqrt((double)hd));
    }
    if (kv) {
        k = kv_append(g, kv->k, kv->cap, kv->len, k);
        v = kv_append(g, kv->v, kv->cap, kv->len, v);
    }
    silt_attn_opts o = {.scale = scale, .mask = mask, .mask_in_graph = true};
    silt_tensor *out = silt_attention(g, q, k, v, &o);  // (R, H, T, hd)
    out = silt_reshape(g, silt_transpose(g, out, 1, 2), 3, (int64_t[]){R, T, C});
    return silt_linear(g, out, b->proj_w, b->proj_b);
}

// Cross-attention (var.h): x (R, T, C), ctx (R, Tc, C) -> (R, T, C) to add.
static silt_tensor *cross_attn_fwd(silt_graph *g, const var_model *m, const var_block *b, silt_tensor *x,
                                   silt_tensor *ctx) {
    if (!x || !ctx) return NULL;
    const var_config *c = &m->cfg;
    int64_t R = x->shape[0], T = x->shape[1], Tc = ctx->shape[1], C = c->embed_dim, H = c->num_heads, hd = c->head_dim;
    silt_tensor *h = silt_layernorm(g, x, b->ca_norm_w, b->ca_norm_b, c->norm_eps);
    silt_tensor *q = silt_linear(g, h, b->ca_q_w, b->ca_q_b);  // (R, T, C)
    q = silt_transpose(g, silt_reshape(g, q, 4, (int64_t[]){R, T, H, hd}), 1, 2);
    silt_tensor *bias_parts[2] = {m->zero_k, b->ca_v_bias};
    silt_tensor *kv = silt_linear(g, ctx, b->ca_kv_w, silt_concat(g, bias_parts, 2, 0));  // (R, Tc, 2C)
    kv = silt_transpose(g, silt_reshape(g, kv, 4, (int64_t[]){R, Tc, 2 * H, hd}), 1, 2);
    silt_tensor *p[2];
    if (!q || !kv || silt_split(g, kv, 1, (int64_t[]){H, H}, 2, p) != SILT_OK) return NULL;
    silt_attn_opts o = {.scale = (float)(1.0 / sqrt((double)hd))};
    silt_tensor *out = silt_attention(g, q, p[0], p[1], &o);  // (R, H, T, hd)
    out = silt_reshape(g, silt_transpose(g, out, 1, 2), 3, (int64_t[]){R, T, C});
    return silt_linear(g, out, b->ca_proj_w, b->ca_proj_b);
}

silt_tensor *var_block_fwd(silt_graph *g, const var_model *m, int bi, silt_tensor *x, silt_tensor *const ada[6],
                           const float *mask, var_kv *kv, silt_tensor *ctx) {
    const var_block *b = &m->blocks[bi];
    float eps = m->cfg.norm_eps;
    // chunks: 0 gamma1, 1 gamma2, 2 scale1, 3 scale2, 4 shift1, 5 shift2
    silt_tensor *h = silt_modulate(g, silt_layernorm(g, x, NULL, NULL, eps), ada[4], ada[2]);
    x = silt_gated_add(g, x, ada[0], attn_fwd(g, m, b, h, mask, kv));
    if (m->cfg.text_dim) {
        if (!ctx) {
            silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "var: a text model's block needs the text tokens"));
            return NULL;
        }
        x = silt_add(g, x, cross_attn_fwd(g, m, b, x, ctx));
    }
    h = silt_modulate(g, silt_layernorm(g, x, NULL, NULL, eps), ada[5], ada[3]);
    h = silt_linear(g, silt_gelu(g, silt_linear(g, h, b->fc1_w, b->fc1_b), 1), b->fc2_w, b->fc2_b);
    return silt_gated_add(g, x, ada[1], h);
}

silt_tensor *var_head_fwd(silt_graph *g, const var_model *m, silt_tensor *x, silt_tensor *cs) {
    if (!x || !cs) return NULL;
    int64_t R = cs->shape[0], C = m->cfg.embed_dim;
    // AdaLNBeforeHead: ada_lin(cond).view(-1, 1, 2, C).unbind(2) -> scale, shift
    silt_tensor *a = silt_reshape(g, silt_linear(g, cs, m->head_nm_w, m->head_nm_b), 3, (int64_t[]){R, 2, C});
    silt_tensor *p[2];
    if (!a || silt_split(g, a, 1, (int64_t[]){1, 1}, 2, p) != SILT_OK) return NULL;
    silt_tensor *h = silt_modulate(g, silt_layernorm(g, x, NULL, NULL, m->cfg.norm_eps), p[1], p[0]);
    return silt_linear(g, h, m->head_w, m->head_b);
}

static bool check_x(silt_graph *g, const var_model *m, int64_t B, const silt_tensor *x) {
    const var_config *c = &m->cfg;
    char buf[64];
    if (x->dtype != SILT_F32 || x->ndim != 3 || x->shape[0] != B || x->shape[1] != c->L - c->first_l ||
        x->shape[2] != c->Cvae) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "var_forward: x must be (B=%lld, L - first_l = %lld, Cvae = %d) f32, "
                                                     "got %s", (long long)B, (long long)(c->L - c->first_l), c->Cvae,
                                     silt_shape_str(x, buf, sizeof buf)));
        return false;
    }
    return true;
}

// VAR.forward after the condition: cond (B, C) (class_emb[label] or
// text_pool_proj(pooled)), ctx (B, Tc, C) projected text tokens or NULL.
static silt_tensor *forward_cond(silt_graph *g, const var_model *m, silt_tensor *cond, silt_tensor *ctx, int64_t B,
                                 silt_tensor *x) {
    if (!cond) return NULL;
    const var_config *c = &m->cfg;
    int64_t L = c->L, C = c->embed_dim;
    silt_tensor *lvl = silt_graph_upload(g, SILT_I32, 1, (int64_t[]){L}, m->lvl);
    float *hmask = silt_arena_alloc(silt_graph_arena(g), (size_t)(L * L) * sizeof *hmask);
    if (!lvl) return NULL;
    if (!hmask) { silt_graph_fail(g, SILT_ERR_OOM); return NULL; }
    // attn_bias_for_masking: 0 where lvl[i] >= lvl[j], else -inf. Built on
    // the host and copied into the graph's memory once for all layers (on a
    // cuda graph, one upload per forward instead of one per layer).
    for (int64_t i = 0; i < L; i++)
        for (int64_t j = 0; j < L; j++) hmask[i * L + j] = m->lvl[i] >= m->lvl[j] ? 0.0f : -INFINITY;
    const float *mask = silt_graph_device_copy(g, hmask, (size_t)(L * L) * sizeof *hmask);
    if (!mask) return NULL;

    silt_tensor *sos = silt_add(g, silt_reshape(g, cond, 3, (int64_t[]){B, 1, C}), m->pos_start);
    silt_tensor *parts[2] = {sos, silt_linear(g, x, m->word_w, m->word_b)};
    silt_tensor *h = silt_concat(g, parts, 2, 1);  // (B, L, C)
    // x_BLC += lvl_embed(lvl_1L) + pos_1LC
    h = silt_add(g, h, silt_add(g, silt_embedding(g, lvl, m->lvl_embed), m->pos_1LC));
    silt_tensor *cs = silt_silu(g, cond);
    silt_tensor *shared = c->shared_aln ? silt_linear(g, cs, m->shared_w, m->shared_b) : NULL;
    for (int i = 0; i < c->depth && h; i++) {
        silt_tensor *ada[6];
        if (var_ada(g, m, i, cs, shared, ada) != SILT_OK) return NULL;
        h = var_block_fwd(g, m, i, h, ada, mask, NULL, ctx);
    }
    return var_head_fwd(g, m, h, cs);
}

silt_tensor *var_forward(silt_graph *g, const var_model *m, const int32_t *labels, int64_t B, silt_tensor *x) {
    if (!x) return NULL;
    if (!m) { silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "var_forward: NULL model")); return NULL; }
    silt_status s = var_check_labels(m, labels, B);
    if (s != SILT_OK) { silt_graph_fail(g, s); return NULL; }
    if (!check_x(g, m, B, x)) return NULL;
    silt_tensor *ids = silt_graph_upload(g, SILT_I32, 1, (int64_t[]){B}, labels);
    if (!ids) return NULL;
    return forward_cond(g, m, silt_embedding(g, ids, m->class_emb), NULL, B, x);
}

silt_tensor *var_forward_text(silt_graph *g, const var_model *m, silt_tensor *pooled, silt_tensor *tokens,
                              silt_tensor *x) {
    if (!x || !pooled || !tokens) return NULL;
    if (!m || !m->cfg.text_dim) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "var_forward_text: %s", m ? "this model is class-conditional "
                                                                              "(use var_forward with labels)"
                                                                            : "NULL model"));
        return NULL;
    }
    const var_config *c = &m->cfg;
    int64_t B = x->shape[0];
    char a[64], b[64];
    if (pooled->ndim != 2 || pooled->shape[0] != B || pooled->shape[1] != c->text_dim || tokens->ndim != 3 ||
        tokens->shape[0] != B || tokens->shape[1] < 1 || tokens->shape[2] != c->ctx_dim) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "var_forward_text: need pooled (B=%lld, %d) and tokens (B, T, %d), "
                                                     "got %s and %s", (long long)B, c->text_dim, c->ctx_dim,
                                     silt_shape_str(pooled, a, sizeof a), silt_shape_str(tokens, b, sizeof b)));
        return NULL;
    }
    if (!check_x(g, m, B, x)) return NULL;
    silt_tensor *cond = silt_linear(g, pooled, m->text_pool_w, m->text_pool_b);
    silt_tensor *ctx = silt_linear(g, tokens, m->text_ctx_w, m->text_ctx_b);
    return forward_cond(g, m, cond, ctx, B, x);
}
