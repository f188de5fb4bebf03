// world-GenEval over a prompt suite (suite_eval.h). Orchestration only: the
// generator is txt2img, the judge world-eval, the features world-CLIP and
// the distance world/frechet.
#include "gen/lib/suite_eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "core/log.h"
#include "core/ops.h"
#include "core/rng.h"
#include "world/eval.h"
#include "world/frechet.h"

static const char *const source_names[SILT_SUITE_SOURCE_COUNT] = {"model", "render", "noise", "shuffled"};

const char *silt_suite_source_name(silt_suite_source s) {
    return (unsigned)s < SILT_SUITE_SOURCE_COUNT ? source_names[s] : "?";
}

silt_status silt_suite_source_from_name(const char *name, silt_suite_source *out) {
    for (int i = 0; name && i < SILT_SUITE_SOURCE_COUNT; i++)
        if (!strcmp(name, source_names[i])) { *out = (silt_suite_source)i; return SILT_OK; }
    return SILT_FAIL(SILT_ERR_ARG, "unknown image source '%s' (model, render, noise or shuffled)", name ? name : "(null)");
}

silt_suite_eval_params silt_suite_eval_default_params(void) {
    silt_suite_eval_params p;
    memset(&p, 0, sizeof p);
    p.suite = WORLD_SUITE_EVAL;
    p.batch = 8;
    p.progress = true;
    return p;
}

// The reference render of a scene as the 8-bit image every metric sees.
static silt_status render8(const world_scene *sc, int size, silt_image **out) {
    silt_image *im = silt_image_create(size, size, 3);
    if (!im) return SILT_FAIL(SILT_ERR_OOM, "suite eval: out of memory");
    silt_status s = world_render(sc, size, NULL, im->data, NULL);
    if (s != SILT_OK) { silt_image_free(im); return s; }
    *out = im;
    return SILT_OK;
}

// Images for items [i0, i0 + B): generated, rendered or noise.
static silt_status make_images(const silt_suite_eval_params *p, const world_item *items, int64_t i0, int B,
                               int64_t n, int size, silt_image **ims, silt_suite_eval_result *r) {
    if (p->source == SILT_SUITE_MODEL) {
        const char *prompts[256];
        uint64_t seeds[256];
        for (int b = 0; b < B; b++) prompts[b] = items[b].caption, seeds[b] = items[b].seed + p->seed;
        silt_txt2img_params gp = p->gen;
        gp.prompt = NULL;
        gp.prompts = prompts;
        gp.seeds = seeds;
        gp.seed = seeds[0];
        gp.batch = B;
        gp.width = gp.height = size;
        gp.progress = false;
        gp.noise_out = gp.latent_out = NULL;
        silt_txt2img_report rep;
        SILT_TRY(silt_txt2img_run(p->model, &gp, ims, &rep));
        r->model_rows += rep.model_rows;
        var_compute_add(&r->compute, &rep.compute);
        memcpy(r->heads, rep.heads, sizeof r->heads);
        return SILT_OK;
    }
    silt_status s = SILT_OK;
    int b = 0;
    for (; b < B && s == SILT_OK; b++) {
        if (p->source == SILT_SUITE_RENDER) {
            s = render8(&items[b].scene, size, &ims[b]);
        } else if (p->source == SILT_SUITE_SHUFFLED) {
            world_item next;
            s = world_suite_item(p->suite, 0, (i0 + b + 1) % n, &next);
            if (s == SILT_OK) s = render8(&next.scene, size, &ims[b]);
        } else {
            ims[b] = silt_image_create(size, size, 3);
            if (!ims[b]) { s = SILT_FAIL(SILT_ERR_OOM, "suite eval: out of memory"); break; }
            silt_rng g = silt_rng_init(items[b].seed + p->seed, 0);
            for (int k = 0; k < size * size * 3; k++) ims[b]->data[k] = (uint8_t)(silt_rng_next_u32(&g) >> 24);
        }
    }
    if (s != SILT_OK)
        for (int k = 0; k < b; k++) { silt_image_free(ims[k]); ims[k] = NULL; }
    return s;
}

// L2-normalised world-CLIP embeddings of B 8-bit images -> emb (B, E).
static silt_status clip_images(const wclip_model *clip, silt_image *const *ims, int B, float *emb) {
    const int S = wclip_get_config(clip)->img_size, E = wclip_get_config(clip)->embed_dim;
    silt_graph *g = silt_graph_create(0);
    if (!g) return SILT_FAIL(SILT_ERR_OOM, "suite eval: out of memory");
    silt_graph_set_grad(g, false);
    silt_status s = SILT_OK;
    silt_tensor *x = silt_graph_new(g, B, 3, S, S);
    for (int b = 0; x && b < B && s == SILT_OK; b++)
        s = silt_image_to_tensor(ims[b], silt_f32(x) + (int64_t)b * 3 * S * S, -1.0f, 1.0f);
    silt_tensor *e = s == SILT_OK ? silt_l2norm(g, wclip_encode_image(g, clip, x, NULL), 1e-12f) : NULL;
    if (s == SILT_OK && !e) s = silt_graph_status(g);
    if (s == SILT_OK) memcpy(emb, silt_f32(e), sizeof(float) * (size_t)B * (size_t)E);
    silt_graph_free(g);
    return s;
}

// L2-normalised world-CLIP caption embeddings (pooled) -> emb (B, E).
static silt_status clip_captions(const wclip_model *clip, const world_item *items, int B, float *emb) {
    const int L = wclip_get_config(clip)->max_len, E = wclip_get_config(clip)->embed_dim;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)B * (size_t)L);
    silt_graph *g = silt_graph_create(0);
    silt_status s = ids && g ? SILT_OK : SILT_FAIL(SILT_ERR_OOM, "suite eval: out of memory");
    for (int b = 0; b < B && s == SILT_OK; b++) s = wclip_tokenize(clip, items[b].caption, ids + (size_t)b * L);
    silt_tensor *te = NULL;
    if (s == SILT_OK) {
        silt_graph_set_grad(g, false);
        s = wclip_encode_text(g, clip, ids, B, NULL, &te);
    }
    silt_tensor *e = s == SILT_OK ? silt_l2norm(g, te, 1e-12f) : NULL;
    if (s == SILT_OK && !e) s = silt_graph_status(g);
    if (s == SILT_OK) memcpy(emb, silt_f32(e), sizeof(float) * (size_t)B * (size_t)E);
    silt_graph_free(g);
    free(ids);
    return s;
}

silt_status silt_suite_eval_run(const silt_suite_eval_params *p, silt_suite_eval_result *out) {
    if (!p || !out) return SILT_FAIL(SILT_ERR_ARG, "suite eval: NULL argument");
    int64_t n = world_suite_size(p->suite);
    if (n < 0) return SILT_FAIL(SILT_ERR_ARG, "suite %s has no fixed list of prompts (eval or heldout)", world_suite_name(p->suite));
    if (p->limit < 0) return SILT_FAIL(SILT_ERR_ARG, "suite eval: limit %lld < 0", (long long)p->limit);
    if (p->limit > 0 && p->limit < n) n = p->limit;
    if (p->batch < 1 || p->batch > 256) return SILT_FAIL(SILT_ERR_ARG, "suite eval: batch %d must be 1..256", p->batch);
    if ((unsigned)p->source >= SILT_SUITE_SOURCE_COUNT) return SILT_FAIL(SILT_ERR_ARG, "suite eval: bad image source");
    int size = 32;
    if (p->source == SILT_SUITE_MODEL) {
        if (!p->model) return SILT_FAIL(SILT_ERR_ARG, "suite eval: no model");
        const silt_txt2img_info *in = silt_txt2img_get_info(p->model);
        if (!in->world_text)
            return SILT_FAIL(SILT_ERR_ARG, "this %s is not a world model (metadata silt.text_encoder = world-clip): "
                                           "it cannot take the suite's captions", silt_family_name(in->family));
        size = in->native_width;
        if (in->native_height != size || size % 32 || size > WORLD_EVAL_MAX_SIZE)
            return SILT_FAIL(SILT_ERR_ARG, "the model makes %dx%d images; world-eval judges square images of 32 px or a "
                                           "multiple", in->native_width, in->native_height);
    }
    int E = 0;
    if (p->clip) {
        const wclip_config *cc = wclip_get_config(p->clip);
        if (cc->img_size != size)
            return SILT_FAIL(SILT_ERR_ARG, "the world-CLIP sees %d px images, the images are %d px", cc->img_size, size);
        E = cc->embed_dim;
    }

    silt_suite_eval_result r;
    memset(&r, 0, sizeof r);
    r.size = size;
    r.fd = r.clip_score = NAN;
    const int Bmax = p->batch;
    world_item *items = malloc(sizeof(world_item) * (size_t)Bmax);
    silt_image **ims = calloc((size_t)Bmax, sizeof *ims), **refs = calloc((size_t)Bmax, sizeof *refs);
    float *feat_gen = E ? malloc(sizeof(float) * (size_t)(n * E)) : NULL;
    float *feat_ref = E ? malloc(sizeof(float) * (size_t)(n * E)) : NULL;
    float *cap = E ? malloc(sizeof(float) * (size_t)Bmax * (size_t)E) : NULL;
    silt_suite_eval_item *verdict = p->per_item ? calloc((size_t)n, sizeof *verdict) : NULL;
    silt_status s = SILT_OK;
    if (!items || !ims || !refs || (E && (!feat_gen || !feat_ref || !cap)) || (p->per_item && n && !verdict))
        s = SILT_FAIL(SILT_ERR_OOM, "suite eval: out of memory");
    silt_progress prog;
    if (p->progress) silt_progress_begin(&prog, "eval", n);
    double soft = 0, cos_sum = 0;
    for (int64_t i0 = 0; i0 < n && s == SILT_OK; i0 += Bmax) {
        const int B = (int)(n - i0 < Bmax ? n - i0 : Bmax);
        for (int b = 0; b < B && s == SILT_OK; b++) s = world_suite_item(p->suite, 0, i0 + b, &items[b]);
        if (s != SILT_OK) break;
        double t0 = silt_time_now();
        s = make_images(p, items, i0, B, n, size, ims, &r);
        r.gen_seconds += silt_time_now() - t0;
        for (int b = 0; b < B && s == SILT_OK; b++) {
            const world_item *it = &items[b];
            if (ims[b]->w != size || ims[b]->h != size || ims[b]->c != 3) {
                s = SILT_FAIL(SILT_ERR_SHAPE, "suite eval: item %lld came back %dx%dx%d, expected %dx%dx3",
                              (long long)(i0 + b), ims[b]->w, ims[b]->h, ims[b]->c, size, size);
                break;
            }
            world_eval_result er;
            s = world_eval_image_reqs(ims[b]->data, size, size, &it->reqs, &er);
            if (s != SILT_OK) break;
            r.cat_n[it->category]++;
            r.cat_passed[it->category] += er.pass;
            r.passed += er.pass;
            soft += er.score;
            if (p->dump_dir) {
                char file[4096], params[WORLD_CAPTION_MAX + 64];
                if (snprintf(file, sizeof file, "%s/%03lld.png", p->dump_dir, (long long)(i0 + b)) >= (int)sizeof file) {
                    s = SILT_FAIL(SILT_ERR_ARG, "suite eval: dump folder name too long");
                    break;
                }
                // The caption alone on the first line: gen eval --image FILE judges it again.
                snprintf(params, sizeof params, "%s\n%s: %s, score %.3f", it->caption, world_category_name(it->category),
                         er.pass ? "pass" : "fail", er.score);
                s = silt_image_write_png(ims[b], file, params);
                if (s != SILT_OK) break;
            }
            if (verdict)
                verdict[i0 + b] = (silt_suite_eval_item){.index = i0 + b, .category = it->category, .pass = er.pass,
                                                         .soft = er.score, .clip_cos = NAN};
        }
        if (s == SILT_OK && E) {
            for (int b = 0; b < B && s == SILT_OK; b++) s = render8(&items[b].scene, size, &refs[b]);
            if (s == SILT_OK) s = clip_images(p->clip, ims, B, feat_gen + i0 * E);
            if (s == SILT_OK) s = clip_images(p->clip, refs, B, feat_ref + i0 * E);
            if (s == SILT_OK) s = clip_captions(p->clip, items, B, cap);
            for (int b = 0; b < B && s == SILT_OK; b++) {
                double d = 0;
                for (int e = 0; e < E; e++) d += (double)feat_gen[(i0 + b) * E + e] * cap[(int64_t)b * E + e];
                cos_sum += d;
                if (verdict) verdict[i0 + b].clip_cos = d;
            }
        }
        for (int b = 0; b < B; b++) {
            silt_image_free(ims[b]);
            silt_image_free(refs[b]);
            ims[b] = refs[b] = NULL;
        }
        if (p->progress) silt_progress_step(&prog, B);
    }
    if (p->progress) silt_progress_end(&prog);
    if (s == SILT_OK) {
        r.n = n;
        r.geneval = n ? (double)r.passed / (double)n : 0;
        r.soft = n ? soft / (double)n : 0;
        r.images_per_s = r.gen_seconds > 0 ? (double)n / r.gen_seconds : 0;
        if (E) {
            r.has_clip = true;
            r.clip_score = 100 * cos_sum / (double)n;
            if (n >= 2) s = world_frechet_features(feat_gen, n, feat_ref, n, E, &r.fd);
        }
    }
    if (s == SILT_OK) {
        r.item = verdict;
        verdict = NULL;
        *out = r;
    }
    free(verdict);
    free(items);
    free(ims);
    free(refs);
    free(feat_gen);
    free(feat_ref);
    free(cap);
    return s;
}

void silt_suite_eval_result_free(silt_suite_eval_result *r) {
    if (!r) return;
    free(r->item);
    r->item = NULL;
}

// ---- reward correlation ---------------------------------------------------------------

static double pearson(const double *x, const double *y, int64_t n) {
    double mx = 0, my = 0;
    for (int64_t i = 0; i < n; i++) mx += x[i], my += y[i];
    mx /= (double)n, my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (int64_t i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
}

typedef struct ranked {
    double v;
    int64_t i;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

// Average ranks (ties share the mean of their positions).
static silt_status ranks(const double *x, int64_t n, double *r) {
    ranked *a = malloc(sizeof *a * (size_t)n);
    if (!a) return SILT_FAIL(SILT_ERR_OOM, "reward correlation: out of memory");
    for (int64_t i = 0; i < n; i++) a[i] = (ranked){x[i], i};
    qsort(a, (size_t)n, sizeof *a, cmp_ranked);
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j + 1 < n && a[j + 1].v == a[i].v) j++;
        for (int64_t k = i; k <= j; k++) r[a[k].i] = 0.5 * (double)(i + j);
        i = j + 1;
    }
    free(a);
    return SILT_OK;
}

silt_status silt_suite_reward_correlation(const silt_suite_eval_params *p, int n, silt_reward_corr_result *out) {
    if (!p || !out || !p->model) return SILT_FAIL(SILT_ERR_ARG, "reward correlation: NULL argument");
    const silt_txt2img_info *in = silt_txt2img_get_info(p->model);
    if (in->family != SILT_FAMILY_VAR || !in->world_text)
        return SILT_FAIL(SILT_ERR_ARG, "reward correlation: needs the world VAR (a text-conditioned VAR)");
    if (n < 2 || n > 4096) return SILT_FAIL(SILT_ERR_ARG, "reward correlation: n %d must be 2..4096", n);
    int64_t items = world_suite_size(p->suite);
    if (items < 0) return SILT_FAIL(SILT_ERR_ARG, "suite %s has no fixed list of prompts", world_suite_name(p->suite));
    if (p->limit > 0 && p->limit < items) items = p->limit;
    const int K = in->n_scales;
    if (K > 32) return SILT_FAIL(SILT_ERR_ARG, "reward correlation: at most 32 scales");
    const int64_t M = items * n;
    double *tr = malloc(sizeof(double) * (size_t)(M * K)), *x = malloc(sizeof(double) * (size_t)M);
    double *y = malloc(sizeof(double) * (size_t)M), *rx = malloc(sizeof(double) * (size_t)M);
    double *ry = malloc(sizeof(double) * (size_t)M);
    silt_status s = tr && x && y && rx && ry ? SILT_OK : SILT_FAIL(SILT_ERR_OOM, "reward correlation: out of memory");
    var_search_params sp = var_search_default_params(K);
    sp.kind = VAR_SEARCH_BEST_OF_N;
    sp.n = n;
    silt_progress prog;
    if (p->progress) silt_progress_begin(&prog, "correlation", items);
    for (int64_t i = 0; i < items && s == SILT_OK; i++) {
        world_item it;
        s = world_suite_item(p->suite, 0, i, &it);
        if (s != SILT_OK) break;
        const char *prompts[1] = {it.caption};
        uint64_t seeds[1] = {it.seed + p->seed};
        silt_txt2img_params gp = p->gen;
        gp.prompt = NULL, gp.prompts = prompts, gp.seeds = seeds, gp.seed = seeds[0], gp.batch = 1;
        gp.width = gp.height = 0, gp.progress = false, gp.noise_out = gp.latent_out = NULL;
        sp.trace = tr + i * n * K;
        gp.search = &sp;
        silt_image *im = NULL;
        silt_txt2img_report rep;
        s = silt_txt2img_run(p->model, &gp, &im, &rep);
        silt_image_free(im);
        if (p->progress) silt_progress_step(&prog, 1);
    }
    if (p->progress) silt_progress_end(&prog);
    silt_reward_corr_result r;
    memset(&r, 0, sizeof r);
    r.n_scales = K, r.items = items, r.samples = M;
    for (int k = 0; k < K; k++) r.pn[k] = in->patch_nums[k];
    for (int k = 0; k < K && s == SILT_OK; k++) {
        // trace layout per item: (K, n): tr[i n K + k n + b]
        double sum = 0;
        for (int64_t i = 0; i < items; i++)
            for (int b = 0; b < n; b++) {
                x[i * n + b] = tr[i * n * K + (int64_t)k * n + b];
                y[i * n + b] = tr[i * n * K + (int64_t)(K - 1) * n + b];
                sum += x[i * n + b];
            }
        r.mean[k] = sum / (double)M;
        r.pearson[k] = pearson(x, y, M);
        s = ranks(x, M, rx);
        if (s == SILT_OK) s = ranks(y, M, ry);
        if (s == SILT_OK) r.spearman[k] = pearson(rx, ry, M);
        for (int64_t i = 0; i < items; i++) {  // within-prompt: centre each item's samples
            double mx = 0, my = 0;
            for (int b = 0; b < n; b++) mx += x[i * n + b], my += y[i * n + b];
            for (int b = 0; b < n; b++) x[i * n + b] -= mx / n, y[i * n + b] -= my / n;
        }
        r.within[k] = pearson(x, y, M);
    }
    if (s == SILT_OK) *out = r;
    free(tr), free(x), free(y), free(rx), free(ry);
    return s;
}
