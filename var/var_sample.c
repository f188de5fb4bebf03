// VAR sampling: autoregressive_infer_cfg (FoundationVision/VAR models/var.py)
// with a per-block KV cache, and sample_with_top_k_top_p_ (models/helpers.py).
//
// Memory: the KV caches, f_hat and the per-scale buffers are allocated once
// per call; the graph arena is reset after every block (the running x is
// copied out), so its high water is one block's activations at the largest
// scale, not the whole network's.
//
// Devices: everything a scale needs lives on the model's device (var_device):
// the condition rows, the projected text tokens, the running tokens x,
// lvl_embed + pos, f_hat and the KV caches, so a scale moves no activations
// between host and device except its logits (R, l, V), which come back for
// CFG, top-k / top-p and the draw (kept on the CPU in fp32 so that both
// devices run the same sampler), and the chosen indices going up (B l
// int32s). The decoded image comes back once at the end.
//
// Randomness: torch.multinomial's stream cannot be reproduced, so the draws
// come from silt's Philox: token t (global position) of sample b uses uniform
// number t of stream b under the seed (core/rng.h), so a sample can be
// regenerated alone. Golden tests replay the reference's tokens through
// token_fn instead.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "core/rng.h"
#include "cuda/cuda.h"
#include "var/var_internal.h"
#include "var/vqvae_internal.h"

var_sample_params var_sample_default_params(void) {
    return (var_sample_params){.cfg = 1.5f, .top_k = 900, .top_p = 0.96f, .seed = 0, .token_fn = NULL, .token_user = NULL};
}

// (value, index) pairs as two doubles, by value then index (deterministic order for ties).
static int cmp_pair_asc(const void *a, const void *b) {
    const double *x = a, *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

void var_top_k_top_p_cpu(float *logits, double *work, int64_t N, int64_t V, int top_k, float top_p) {
    for (int64_t n = 0; n < N; n++) {
        float *row = logits + n * V;
        if (top_k > 0 && top_k < V) {
            // logits < topk(k).values.amin(): below the k-th largest value.
            for (int64_t v = 0; v < V; v++) work[v] = row[v];
            qsort(work, (size_t)V, sizeof *work, cmp_desc);
            double kth = work[top_k - 1];
            for (int64_t v = 0; v < V; v++)
                if ((double)row[v] < kth) row[v] = -INFINITY;
        }
        if (top_p > 0) {
            // sorted ascending; remove where softmax(sorted).cumsum() <= 1 - p, keep the last (largest).
            for (int64_t v = 0; v < V; v++) {
                work[2 * v] = row[v];
                work[2 * v + 1] = (double)v;
            }
            qsort(work, (size_t)V, 2 * sizeof *work, cmp_pair_asc);
            double mx = work[2 * (V - 1)], sum = 0;
            if (mx == -INFINITY) continue;
            for (int64_t v = 0; v < V; v++) sum += exp(work[2 * v] - mx);
            double cum = 0, thresh = 1.0 - (double)top_p;
            for (int64_t v = 0; v < V - 1; v++) {
                cum += exp(work[2 * v] - mx) / sum;
                if (cum <= thresh) row[(int64_t)work[2 * v + 1]] = -INFINITY;
            }
        }
    }
}

int32_t var_sample_row(const float *logits, int64_t V, float u) {
    float mx = -INFINITY;
    int32_t last = 0;
    for (int64_t v = 0; v < V; v++)
        if (logits[v] > mx) mx = logits[v];
    if (mx == -INFINITY) return 0;  // nothing allowed: cannot happen after the masks above
    double sum = 0;
    for (int64_t v = 0; v < V; v++)
        if (logits[v] > -INFINITY) sum += exp((double)logits[v] - mx);
    double target = (double)u * sum, cum = 0;
    for (int64_t v = 0; v < V; v++) {
        if (!(logits[v] > -INFINITY)) continue;
        cum += exp((double)logits[v] - mx);
        last = (int32_t)v;
        if (cum > target) return (int32_t)v;
    }
    return last;  // u * sum rounded up to the total
}

// A non-owning tensor over a buffer on device dev (inputs to graph ops; no grad).
static silt_tensor wrap(silt_device dev, float *data, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    silt_tensor t = {.dtype = SILT_F32, .device = dev, .ndim = ndim, .shape = {d0, d1, d2, d3}, .data = data};
    return t;
}

// Buffers on the run's device: malloc / free / memcpy on the cpu, device
// memory and copies on cuda. dev_alloc returns NULL on failure (last error set
// on cuda).
static void *dev_alloc(silt_device dev, size_t bytes) {
    if (dev == SILT_CPU) return malloc(bytes ? bytes : 1);
    void *p = NULL;
    return silt_cuda_malloc(&p, bytes ? bytes : 1) == SILT_OK ? p : NULL;
}

static void dev_free(silt_device dev, void *p) {
    if (dev == SILT_CPU) free(p);
    else silt_cuda_free(p);
}

static silt_status dev_copy(silt_device dev, void *dst, const void *src, size_t bytes) {
    if (dev == SILT_CPU) {
        memcpy(dst, src, bytes);
        return SILT_OK;
    }
    return silt_cuda_memcpy_d2d(dst, src, bytes);
}

// A device buffer's bytes into host memory.
static silt_status dev_to_host(silt_device dev, void *dst, const void *src, size_t bytes) {
    if (dev == SILT_CPU) {
        memcpy(dst, src, bytes);
        return SILT_OK;
    }
    return silt_cuda_memcpy_d2h(dst, src, bytes);
}

struct var_run {
    const var_model *m;
    const var_vqvae *vq;
    silt_device dev;   // the model's device: the graph and every buffer marked dev below
    silt_graph *g;
    int64_t B, R;      // samples, rows (2B with CFG)
    var_kv *kv;        // per block, dev
    float *cond;       // dev (R, C) class embeddings or projected pooled text
    float *ctx;        // dev (R, Tc, C) projected text tokens (text models), else NULL
    int64_t Tc;
    float *x;          // dev (R, lmax, C) the running tokens of the current scale
    float *lvl_pos;    // dev (L, C) lvl_embed[lvl] + pos_1LC
    float *f_hat;      // dev (B, Cvae, h, w)
    float *logits;     // host (R, lmax, V) then the combined (B, lmax, V)
    float *masked;     // host (B, lmax, V)
    float *u;          // host (lmax)
    double *work;      // host 2V
    int32_t *idx;      // host (B, L) every token so far
    int32_t *stage;    // host (B, lmax) the current scale's tokens
    int next_si;       // the scale var_run_step runs next
};

static void run_free(var_run *r) {
    if (!r->m) return;
    silt_device dev = r->dev;
    if (r->kv)
        for (int i = 0; i < r->m->cfg.depth; i++) {
            dev_free(dev, r->kv[i].k);
            dev_free(dev, r->kv[i].v);
        }
    free(r->kv);
    dev_free(dev, r->cond);
    dev_free(dev, r->ctx);
    dev_free(dev, r->x);
    dev_free(dev, r->lvl_pos);
    dev_free(dev, r->f_hat);
    free(r->logits);
    free(r->masked);
    free(r->u);
    free(r->work);
    free(r->idx);
    free(r->stage);
    silt_graph_free(r->g);
}

static silt_status run_alloc(var_run *r) {
    const var_config *c = &r->m->cfg;
    const var_vq_config *q = var_vq_get_config(r->vq);
    int64_t C = c->embed_dim, V = c->vocab_size, lmax = 0, hw = (int64_t)c->patch_nums[c->n_scales - 1];
    for (int k = 0; k < c->n_scales; k++)
        if ((int64_t)c->patch_nums[k] * c->patch_nums[k] > lmax) lmax = (int64_t)c->patch_nums[k] * c->patch_nums[k];
    size_t fl = sizeof(float), fhat_bytes = (size_t)(r->B * q->z_channels * hw * hw) * fl;
    silt_device dev = r->dev = var_device(r->m);
    if (var_vq_device(r->vq) != dev)
        return SILT_FAIL(SILT_ERR_ARG, "var_generate: the transformer is on %s but its tokenizer on %s: move both "
                                       "(var_to_device, var_vq_to_device)", silt_device_name(dev),
                         silt_device_name(var_vq_device(r->vq)));
    r->g = silt_graph_create_on(dev, 0);
    if (!r->g)
        return dev == SILT_CPU ? SILT_FAIL(SILT_ERR_OOM, "var_generate: out of memory")
                               : SILT_FAIL(SILT_ERR_CUDA, "var_generate: no %s graph: %s", silt_device_name(dev),
                                           silt_last_error_message());
    r->kv = calloc((size_t)c->depth, sizeof *r->kv);
    r->cond = dev_alloc(dev, (size_t)(r->R * C) * fl);
    r->x = dev_alloc(dev, (size_t)(r->R * lmax * C) * fl);
    r->lvl_pos = dev_alloc(dev, (size_t)(c->L * C) * fl);
    r->f_hat = dev_alloc(dev, fhat_bytes);
    r->logits = malloc((size_t)(r->R * lmax * V) * fl);
    r->masked = malloc((size_t)(r->B * lmax * V) * fl);
    r->u = malloc((size_t)lmax * fl);
    r->work = malloc((size_t)(2 * V) * sizeof(double));
    r->idx = malloc((size_t)(r->B * c->L) * sizeof(int32_t));
    r->stage = malloc((size_t)(r->B * lmax) * sizeof(int32_t));
    if (!r->kv || !r->cond || !r->x || !r->lvl_pos || !r->f_hat || !r->logits || !r->masked || !r->u || !r->work ||
        !r->idx || !r->stage)
        return SILT_FAIL(SILT_ERR_OOM, "var_generate: out of %s memory", silt_device_name(dev));
    if (dev == SILT_CPU) memset(r->f_hat, 0, fhat_bytes);
    else SILT_TRY(silt_cuda_memset(r->f_hat, 0, fhat_bytes));
    size_t cache = (size_t)(r->R * c->num_heads * c->L * c->head_dim) * fl;
    for (int i = 0; i < c->depth; i++) {
        r->kv[i] = (var_kv){dev_alloc(dev, cache), dev_alloc(dev, cache), r->R, c->L, 0};
        if (!r->kv[i].k || !r->kv[i].v)
            return SILT_FAIL(SILT_ERR_OOM, "var_generate: out of memory for the KV cache (%zu MiB per block)",
                             2 * cache >> 20);
    }
    silt_graph_set_grad(r->g, false);
    return SILT_OK;
}

// Runs every block on the R x l tokens in r->x (appending to the caches),
// then the head: r->logits (R, l, V).
static silt_status run_scale(var_run *r, int64_t l) {
    const var_model *m = r->m;
    const var_config *c = &m->cfg;
    int64_t R = r->R, C = c->embed_dim;
    silt_graph *g = r->g;
    silt_tensor cond = wrap(r->dev, r->cond, 2, R, C, 0, 0);
    silt_tensor ctx = wrap(r->dev, r->ctx, 3, R, r->Tc, C, 0);
    for (int bi = 0; bi <= c->depth; bi++) {
        silt_graph_reset(g);
        silt_tensor x = wrap(r->dev, r->x, 3, R, l, C, 0);
        silt_tensor *cs = silt_silu(g, &cond);
        silt_tensor *out;
        if (bi < c->depth) {
            silt_tensor *shared = c->shared_aln ? silt_linear(g, cs, m->shared_w, m->shared_b) : NULL;
            silt_tensor *ada[6];
            SILT_TRY(var_ada(g, m, bi, cs, shared, ada));
            out = var_block_fwd(g, m, bi, &x, ada, NULL, &r->kv[bi], r->ctx ? &ctx : NULL);
        } else {
            out = var_head_fwd(g, m, &x, cs);
        }
        if (!out) return silt_graph_status(g);
        if (bi < c->depth) SILT_TRY(dev_copy(r->dev, r->x, out->data, silt_nbytes(out)));
        else SILT_TRY(dev_to_host(r->dev, r->logits, out->data, silt_nbytes(out)));  // the scale's logits come back
    }
    for (int bi = 0; bi < c->depth; bi++) r->kv[bi].len += l;
    return SILT_OK;
}

// The first scale's tokens: (sos + pos_start) + lvl_pos[:first_l] for every row.
static silt_status start_tokens(var_run *r) {
    const var_model *m = r->m;
    int64_t C = m->cfg.embed_dim, fl = m->cfg.first_l;
    silt_graph *g = r->g;
    silt_graph_reset(g);
    silt_tensor cond = wrap(r->dev, r->cond, 3, r->R, 1, C, 0), lp = wrap(r->dev, r->lvl_pos, 3, 1, fl, C, 0);
    silt_tensor *x = silt_add(g, silt_add(g, &cond, m->pos_start), &lp);  // (R, first_l, C)
    if (!x) return silt_graph_status(g);
    return dev_copy(r->dev, r->x, x->data, silt_nbytes(x));
}

// f_hat += phi(up(e[idx])); the next scale's tokens word_embed(area(f_hat)) +
// lvl_pos, repeated for the unconditional rows.
static silt_status advance(var_run *r, int si, const int32_t *idx_scale) {
    const var_model *m = r->m;
    const var_config *c = &m->cfg;
    const var_vq_config *q = var_vq_get_config(r->vq);
    silt_graph *g = r->g;
    int64_t B = r->B, C = c->embed_dim, hw = c->patch_nums[c->n_scales - 1];
    silt_graph_reset(g);
    silt_tensor fh = wrap(r->dev, r->f_hat, 4, B, q->z_channels, hw, hw);
    silt_tensor *next = NULL;
    silt_tensor *h = var_vq_embed(g, r->vq, idx_scale, B, c->patch_nums[si]);
    silt_tensor *f2 = var_vq_next_input(g, r->vq, si, &fh, h, &next);
    if (!f2) return silt_graph_status(g);
    SILT_TRY(dev_copy(r->dev, r->f_hat, f2->data, silt_nbytes(f2)));
    if (si == c->n_scales - 1) return SILT_OK;
    int64_t pn = c->patch_nums[si + 1], l = pn * pn, begin = c->begin[si + 1];
    silt_tensor *t = silt_transpose(g, silt_reshape(g, next, 3, (int64_t[]){B, q->z_channels, l}), 1, 2);
    silt_tensor lp = wrap(r->dev, r->lvl_pos + begin * C, 3, 1, l, C, 0);
    t = silt_add(g, silt_linear(g, t, m->word_w, m->word_b), &lp);  // (B, l, C)
    if (!t) return silt_graph_status(g);
    for (int64_t i = 0; i < r->R; i += B)  // next_token_map.repeat(2, 1, 1)
        SILT_TRY(dev_copy(r->dev, r->x + i * l * C, t->data, silt_nbytes(t)));
    return SILT_OK;
}

static silt_status check_params(const var_model *m, const var_sample_params *p) {
    if (!isfinite(p->cfg))
        return SILT_FAIL(SILT_ERR_ARG, "var_generate: cfg %g must be finite", (double)p->cfg);
    if (p->top_k < 0) return SILT_FAIL(SILT_ERR_ARG, "var_generate: top_k %d must be >= 0", p->top_k);
    if (!(p->top_p >= 0 && p->top_p <= 1))
        return SILT_FAIL(SILT_ERR_ARG, "var_generate: top_p %g must lie in [0, 1]", (double)p->top_p);
    if (m->cfg.n_scales < 2) return SILT_FAIL(SILT_ERR_ARG, "var_generate: need at least 2 scales");
    return SILT_OK;
}

// r->cond rows: labels, then the null class for CFG
// (torch.cat((label_B, full_like(num_classes)))), through class_emb.
static silt_status class_cond(var_run *r, const int32_t *labels) {
    const var_model *m = r->m;
    int64_t B = r->B, R = r->R;
    silt_graph *g = r->g;
    silt_graph_reset(g);
    int32_t *ids = silt_arena_alloc(silt_graph_arena(g), (size_t)R * sizeof *ids);
    if (!ids) return SILT_FAIL(SILT_ERR_OOM, "var_generate: out of memory");
    for (int64_t i = 0; i < R; i++) ids[i] = i < B ? labels[i] : m->cfg.num_classes;
    silt_tensor *cond = silt_embedding(g, silt_graph_upload(g, SILT_I32, 1, (int64_t[]){R}, ids), m->class_emb);
    if (!cond) return silt_graph_status(g);
    return dev_copy(r->dev, r->cond, cond->data, silt_nbytes(cond));
}

// r->cond = text_pool_proj(pooled rows, then null_pooled) and r->ctx =
// text_ctx_proj(tokens rows, then null_tokens): computed once per call.
static silt_status text_cond(var_run *r, const var_text_cond *tc) {
    const var_model *m = r->m;
    const var_config *c = &m->cfg;
    int64_t B = r->B, R = r->R, C = c->embed_dim, T = tc->T, E = c->text_dim, D = c->ctx_dim;
    r->Tc = T;
    r->ctx = dev_alloc(r->dev, (size_t)(R * T * C) * sizeof(float));
    silt_graph *g = r->g;
    silt_graph_reset(g);
    // The rows are gathered on the host (arena), then go up once.
    silt_arena *ha = silt_graph_arena(g);
    float *pooled = silt_arena_alloc(ha, (size_t)(R * E) * sizeof(float));
    float *tok = silt_arena_alloc(ha, (size_t)(R * T * D) * sizeof(float));
    if (!r->ctx || !pooled || !tok) return SILT_FAIL(SILT_ERR_OOM, "var_generate: out of memory");
    for (int64_t i = 0; i < R; i++) {
        const float *ps = i < B ? tc->pooled + i * E : tc->null_pooled;
        const float *ts = i < B ? tc->tokens + i * T * D : tc->null_tokens;
        memcpy(pooled + i * E, ps, (size_t)E * sizeof(float));
        memcpy(tok + i * T * D, ts, (size_t)(T * D) * sizeof(float));
    }
    silt_tensor *cond = silt_linear(g, silt_graph_upload(g, SILT_F32, 2, (int64_t[]){R, E}, pooled), m->text_pool_w,
                                    m->text_pool_b);
    silt_tensor *ctx = silt_linear(g, silt_graph_upload(g, SILT_F32, 3, (int64_t[]){R, T, D}, tok), m->text_ctx_w,
                                   m->text_ctx_b);
    if (!cond || !ctx) return silt_graph_status(g);
    SILT_TRY(dev_copy(r->dev, r->cond, cond->data, silt_nbytes(cond)));
    return dev_copy(r->dev, r->ctx, ctx->data, silt_nbytes(ctx));
}

// The state before scale 0: the condition rows, lvl_pos and the start tokens.
static silt_status run_begin(var_run *r, const int32_t *labels, const var_text_cond *tc) {
    const var_model *m = r->m;
    const var_config *c = &m->cfg;
    int64_t C = c->embed_dim, L = c->L;
    SILT_TRY(run_alloc(r));
    SILT_TRY(tc ? text_cond(r, tc) : class_cond(r, labels));
    silt_graph *g = r->g;
    silt_graph_reset(g);
    // lvl_pos = lvl_embed(lvl_1L) + pos_1LC: (L, C) + (1, L, C)
    silt_tensor *ids = silt_graph_upload(g, SILT_I32, 1, (int64_t[]){L}, m->lvl);
    silt_tensor *lp = silt_add(g, silt_embedding(g, ids, m->lvl_embed), m->pos_1LC);
    if (!lp) return silt_graph_status(g);
    SILT_TRY(dev_copy(r->dev, r->lvl_pos, lp->data, (size_t)(L * C) * sizeof(float)));
    SILT_TRY(start_tokens(r));
    r->next_si = 0;
    return SILT_OK;
}

silt_status var_run_step(var_run *r, const var_sample_params *p, const uint64_t *streams) {
    const var_model *m = r->m;
    const var_config *c = &m->cfg;
    int si = r->next_si;
    if (si >= c->n_scales) return SILT_FAIL(SILT_ERR_ARG, "var_run_step: all %d scales are done", c->n_scales);
    int64_t B = r->B, V = c->vocab_size, L = c->L;
    int64_t l = (int64_t)c->patch_nums[si] * c->patch_nums[si], begin = c->begin[si];
    SILT_TRY(run_scale(r, l));
    // t = cfg * si / (K-1); logits = (1 + t) * cond - t * uncond
    double ratio = (double)si / (double)(c->n_scales - 1), t = (double)p->cfg * ratio;
    float a = (float)(1.0 + t), bw = (float)t;
    if (r->R > B)
        for (int64_t j = 0; j < B * l * V; j++) r->logits[j] = a * r->logits[j] - bw * r->logits[B * l * V + j];
    memcpy(r->masked, r->logits, (size_t)(B * l * V) * sizeof(float));
    var_top_k_top_p_cpu(r->masked, r->work, B * l, V, p->top_k, p->top_p);
    int32_t *stage = r->stage;
    for (int64_t b = 0; b < B; b++) {
        silt_rng_uniform(r->u, l, p->seed, streams ? streams[b] : (uint64_t)b, (uint64_t)begin);
        for (int64_t j = 0; j < l; j++) stage[b * l + j] = var_sample_row(r->masked + (b * l + j) * V, V, r->u[j]);
    }
    silt_status s = SILT_OK;
    if (p->token_fn) s = p->token_fn(p->token_user, si, B, l, V, r->logits, stage);
    for (int64_t j = 0; s == SILT_OK && j < B * l; j++)
        if (stage[j] < 0 || stage[j] >= V)
            s = SILT_FAIL(SILT_ERR_ARG, "var_generate: token %d at scale %d is outside the codebook [0, %lld)",
                          (int)stage[j], si, (long long)V);
    for (int64_t b = 0; s == SILT_OK && b < B; b++)
        memcpy(r->idx + b * L + begin, stage + b * l, (size_t)l * sizeof *stage);
    SILT_TRY(s);
    SILT_TRY(advance(r, si, stage));
    r->next_si = si + 1;
    return SILT_OK;
}

silt_status var_run_decode(var_run *r, float *img) {
    const var_config *c = &r->m->cfg;
    // fhat_to_img(f_hat).add_(1).mul_(0.5)
    silt_graph_reset(r->g);
    int64_t hw = c->patch_nums[c->n_scales - 1];
    silt_tensor fh = wrap(r->dev, r->f_hat, 4, r->B, c->Cvae, hw, hw);
    silt_tensor *x = var_vq_fhat_to_img(r->g, r->vq, &fh, true);
    if (!x) return silt_graph_status(r->g);
    SILT_TRY(dev_to_host(r->dev, img, x->data, silt_nbytes(x)));
    for (int64_t j = 0; j < silt_numel(x); j++) img[j] = (img[j] + 1.0f) * 0.5f;
    return SILT_OK;
}

// buf rows i = its rows from[i] (n rows of `row` floats on dev), through tmp.
static silt_status gather_rows(silt_device dev, float *buf, float *tmp, const int64_t *from, int64_t n, int64_t row) {
    size_t bytes = (size_t)row * sizeof(float);
    for (int64_t i = 0; i < n; i++) SILT_TRY(dev_copy(dev, tmp + i * row, buf + from[i] * row, bytes));
    return dev_copy(dev, buf, tmp, (size_t)n * bytes);
}

silt_status var_run_select(var_run *r, const int64_t *from, int64_t n) {
    const var_model *m = r->m;
    const var_config *c = &m->cfg;
    const var_vq_config *q = var_vq_get_config(r->vq);
    int64_t B = r->B, C = c->embed_dim, L = c->L, H = c->num_heads, hd = c->head_dim;
    if (!from || n < 1 || n > B) return SILT_FAIL(SILT_ERR_ARG, "var_run_select: %lld rows of %lld", (long long)n, (long long)B);
    for (int64_t i = 0; i < n; i++)
        if (from[i] < 0 || from[i] >= B)
            return SILT_FAIL(SILT_ERR_ARG, "var_run_select: row %lld is outside [0, %lld)", (long long)from[i], (long long)B);
    bool cfg = r->R > B;
    int64_t Rn = cfg ? 2 * n : n, lnext = 0, hw = c->patch_nums[c->n_scales - 1];
    if (r->next_si < c->n_scales) lnext = (int64_t)c->patch_nums[r->next_si] * c->patch_nums[r->next_si];
    // Row map over the R rows: the conditional half, then the same samples' unconditional rows.
    int64_t *rows = malloc((size_t)Rn * sizeof *rows);
    int64_t cache_row = H * c->L * hd;  // (H, cap, hd) per row
    int64_t biggest = cache_row;
    int64_t sizes[] = {C, r->Tc * C, lnext * C, q->z_channels * hw * hw};
    for (int i = 0; i < 4; i++)
        if (sizes[i] > biggest) biggest = sizes[i];
    float *tmp = dev_alloc(r->dev, (size_t)(Rn * biggest) * sizeof(float));
    int32_t *itmp = malloc((size_t)(n * L) * sizeof(int32_t));
    if (!rows || !tmp || !itmp) {
        free(rows), dev_free(r->dev, tmp), free(itmp);
        return SILT_FAIL(SILT_ERR_OOM, "var_run_select: out of memory");
    }
    for (int64_t i = 0; i < n; i++) {
        rows[i] = from[i];
        if (cfg) rows[n + i] = B + from[i];
    }
    // Whole cache rows (H, cap, hd): one contiguous copy per row on either
    // device; the tokens past len are never read.
    silt_status s = SILT_OK;
    for (int bi = 0; bi < c->depth && s == SILT_OK; bi++) {
        var_kv *kv = &r->kv[bi];
        s = gather_rows(r->dev, kv->k, tmp, rows, Rn, cache_row);
        if (s == SILT_OK) s = gather_rows(r->dev, kv->v, tmp, rows, Rn, cache_row);
        kv->rows = Rn;
    }
    if (s == SILT_OK) s = gather_rows(r->dev, r->cond, tmp, rows, Rn, C);
    if (s == SILT_OK && r->ctx) s = gather_rows(r->dev, r->ctx, tmp, rows, Rn, r->Tc * C);
    if (s == SILT_OK && lnext) s = gather_rows(r->dev, r->x, tmp, rows, Rn, lnext * C);
    if (s == SILT_OK) s = gather_rows(r->dev, r->f_hat, tmp, from, n, q->z_channels * hw * hw);
    free(rows), dev_free(r->dev, tmp);
    if (s != SILT_OK) {
        free(itmp);
        return s;
    }
    for (int64_t i = 0; i < n; i++) memcpy(itmp + i * L, r->idx + from[i] * L, (size_t)L * sizeof(int32_t));
    memcpy(r->idx, itmp, (size_t)(n * L) * sizeof(int32_t));
    r->B = n;
    r->R = Rn;
    free(itmp);
    return SILT_OK;
}

int64_t var_run_batch(const var_run *r) { return r->B; }
int var_run_next_scale(const var_run *r) { return r->next_si; }
const int32_t *var_run_tokens(const var_run *r) { return r->idx; }

silt_status var_run_create_text(const var_model *m, const var_vqvae *vq, const var_text_cond *tc, int64_t B, float cfg,
                                var_run **out) {
    if (!m || !vq || !tc || !out) return SILT_FAIL(SILT_ERR_ARG, "var_run_create_text: NULL argument");
    if (!m->cfg.text_dim) return SILT_FAIL(SILT_ERR_ARG, "var_run_create_text: this model is class-conditional");
    if (B < 1 || tc->T < 1 || !tc->pooled || !tc->tokens)
        return SILT_FAIL(SILT_ERR_ARG, "var_run_create_text: batch %lld and %lld text tokens must be >= 1",
                         (long long)B, (long long)tc->T);
    if (cfg != 0 && (!tc->null_pooled || !tc->null_tokens))
        return SILT_FAIL(SILT_ERR_ARG, "var_run_create_text: cfg %g needs the null (\"\") condition", (double)cfg);
    SILT_TRY(var_check_vqvae(m, vq));
    var_run *r = calloc(1, sizeof *r);
    if (!r) return SILT_FAIL(SILT_ERR_OOM, "var_run_create_text: out of memory");
    *r = (var_run){.m = m, .vq = vq, .B = B, .R = cfg != 0 ? 2 * B : B};
    silt_status s = run_begin(r, NULL, tc);
    if (s != SILT_OK) { var_run_free(r); return s; }
    *out = r;
    return SILT_OK;
}

static silt_status generate(var_run *r, const int32_t *labels, const var_text_cond *tc, const var_sample_params *p,
                            float *img) {
    SILT_TRY(run_begin(r, labels, tc));
    for (int si = 0; si < r->m->cfg.n_scales; si++) SILT_TRY(var_run_step(r, p, NULL));
    return var_run_decode(r, img);
}

void var_run_free(var_run *r) {
    if (!r) return;
    run_free(r);
    free(r);
}

silt_status var_generate(const var_model *m, const var_vqvae *vq, const int32_t *labels, int64_t B,
                         const var_sample_params *p, float *img, int32_t *idx_out) {
    if (!m || !vq || !p || !img) return SILT_FAIL(SILT_ERR_ARG, "var_generate: NULL model, tokenizer, params or image");
    SILT_TRY(var_check_vqvae(m, vq));
    SILT_TRY(var_check_labels(m, labels, B));
    SILT_TRY(check_params(m, p));
    // With cfg 0 the unconditional logits get weight 0 at every scale:
    // (1 + 0) c - 0 u == c, so those rows are skipped.
    var_run r = {.m = m, .vq = vq, .B = B, .R = p->cfg != 0 ? 2 * B : B};
    silt_status s = generate(&r, labels, NULL, p, img);
    if (s == SILT_OK && idx_out) memcpy(idx_out, r.idx, (size_t)(B * m->cfg.L) * sizeof *idx_out);
    run_free(&r);
    return s;
}

silt_status var_generate_text(const var_model *m, const var_vqvae *vq, const var_text_cond *tc, int64_t B,
                              const var_sample_params *p, float *img, int32_t *idx_out) {
    if (!m || !vq || !tc || !p || !img)
        return SILT_FAIL(SILT_ERR_ARG, "var_generate_text: NULL model, tokenizer, condition, params or image");
    if (!m->cfg.text_dim)
        return SILT_FAIL(SILT_ERR_ARG, "var_generate_text: this model is class-conditional (use var_generate)");
    if (B < 1 || tc->T < 1 || !tc->pooled || !tc->tokens)
        return SILT_FAIL(SILT_ERR_ARG, "var_generate_text: batch %lld and %lld text tokens must be >= 1, with pooled "
                                       "and token arrays", (long long)B, (long long)tc->T);
    if (p->cfg != 0 && (!tc->null_pooled || !tc->null_tokens))
        return SILT_FAIL(SILT_ERR_ARG, "var_generate_text: cfg %g needs the null (\"\") condition", (double)p->cfg);
    SILT_TRY(var_check_vqvae(m, vq));
    SILT_TRY(check_params(m, p));
    var_run r = {.m = m, .vq = vq, .B = B, .R = p->cfg != 0 ? 2 * B : B};
    silt_status s = generate(&r, NULL, tc, p, img);
    if (s == SILT_OK && idx_out) memcpy(idx_out, r.idx, (size_t)(B * m->cfg.L) * sizeof *idx_out);
    run_free(&r);
    return s;
}
