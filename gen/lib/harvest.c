// Verified self-samples of a world model and the sample-set file (harvest.h).
#include "gen/lib/harvest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/safetensors.h"
#include "gen/lib/train_arch.h"
#include "world/eval.h"

#define HARVEST_MAX_TRIES 64
#define HARVEST_MAX_BATCH 256

silt_harvest_params silt_harvest_default_params(void) {
    silt_harvest_params p;
    memset(&p, 0, sizeof p);
    p.tries = 4;
    p.batch = 16;
    p.save_every = 256;
    p.progress = true;
    world_train_weights(p.weights);
    return p;
}

// splitmix64's finaliser: candidates' seeds that share no stream with the
// train items' own draws (silt_rng_init(seed, index)).
static uint64_t mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

uint64_t silt_harvest_noise_seed(uint64_t seed, int64_t item, int k) {
    return mix64(mix64(seed ^ 0x4A52E57ull) + (uint64_t)item * HARVEST_MAX_TRIES + (uint64_t)k) & ((1ull << 53) - 1);
}

typedef struct kept_list {
    int64_t n, cap;
    uint8_t *images;
    int64_t *items;
    int32_t *tries;
    uint8_t *pass;
} kept_list;

static silt_status kept_push(kept_list *k, const silt_image *im, int64_t item, int tri, bool pass) {
    const size_t px = (size_t)im->w * im->h * 3;
    if (k->n == k->cap) {
        int64_t cap = k->cap ? 2 * k->cap : 256;
        uint8_t *ni = realloc(k->images, px * (size_t)cap);
        if (ni) k->images = ni;
        int64_t *nit = realloc(k->items, sizeof(int64_t) * (size_t)cap);
        if (nit) k->items = nit;
        int32_t *nt = realloc(k->tries, sizeof(int32_t) * (size_t)cap);
        if (nt) k->tries = nt;
        uint8_t *np = realloc(k->pass, (size_t)cap);
        if (np) k->pass = np;
        if (!ni || !nit || !nt || !np) return SILT_FAIL(SILT_ERR_OOM, "harvest: out of memory for %lld images", (long long)cap);
        k->cap = cap;
    }
    memcpy(k->images + px * (size_t)k->n, im->data, px);
    k->items[k->n] = item, k->tries[k->n] = tri, k->pass[k->n] = pass;
    k->n++;
    return SILT_OK;
}

static silt_status write_set(const silt_harvest_params *p, const kept_list *k, int size, int64_t tried, const char *path) {
    silt_st_writer *w = silt_st_writer_create();
    if (!w) return SILT_FAIL(SILT_ERR_OOM, "harvest: out of memory");
    char wbuf[128] = "", num[64];
    for (int c = 0; c < WORLD_CAT_COUNT; c++)
        snprintf(wbuf + strlen(wbuf), sizeof wbuf - strlen(wbuf), "%s%d", c ? "," : "", p->weights[c]);
    silt_status s = silt_st_writer_set_metadata(w, "silt.kind", "world-samples");
    if (!s) s = silt_st_writer_set_metadata(w, "silt.weights", wbuf);
    snprintf(num, sizeof num, "%llu", (unsigned long long)p->seed);
    if (!s) s = silt_st_writer_set_metadata(w, "silt.seed", num);
    snprintf(num, sizeof num, "%lld", (long long)tried);
    if (!s) s = silt_st_writer_set_metadata(w, "silt.items_tried", num);
    snprintf(num, sizeof num, "%d", p->tries);
    if (!s) s = silt_st_writer_set_metadata(w, "silt.tries", num);
    if (!s) s = silt_st_writer_set_metadata(w, "silt.model", p->model_name ? p->model_name : "");
    if (!s) s = silt_st_writer_set_metadata(w, "silt.keep", p->keep_all ? "all" : "first-pass");
    if (!s) s = silt_st_writer_add(w, "images", SILT_ST_U8, 4, (const int64_t[]){k->n, size, size, 3}, k->images);
    if (!s) s = silt_st_writer_add(w, "items", SILT_ST_I64, 1, (const int64_t[]){k->n}, k->items);
    if (!s) s = silt_st_writer_add(w, "tries", SILT_ST_I32, 1, (const int64_t[]){k->n}, k->tries);
    if (!s && p->keep_all) s = silt_st_writer_add(w, "pass", SILT_ST_U8, 1, (const int64_t[]){k->n}, k->pass);
    if (!s) s = silt_st_writer_write(w, path);
    silt_st_writer_free(w);
    return s;
}

// The captions of a fixed suite (world_suite_size entries; an item that
// fails to build gets ""). NULL when out of memory.
static char (*suite_captions(world_suite suite))[WORLD_CAPTION_MAX] {
    const int64_t n = world_suite_size(suite);
    char(*caps)[WORLD_CAPTION_MAX] = malloc(sizeof *caps * (size_t)(n > 0 ? n : 1));
    for (int64_t k = 0; caps && k < n; k++) {
        world_item it;
        if (world_suite_item(suite, 0, k, &it) != SILT_OK) it.caption[0] = 0;
        memcpy(caps[k], it.caption, sizeof it.caption);
    }
    return caps;
}

static bool is_eval_prompt(char (*caps)[WORLD_CAPTION_MAX], const char *caption) {
    for (int64_t k = 0; k < world_suite_size(WORLD_SUITE_EVAL); k++)
        if (!strcmp(caps[k], caption)) return true;
    return false;
}

silt_status silt_harvest_run(const silt_harvest_params *p, const char *out_path, silt_harvest_result *r) {
    if (!p || !p->model || !out_path) return SILT_FAIL(SILT_ERR_ARG, "harvest: NULL argument");
    if (!silt_txt2img_get_info(p->model)->world_text || silt_txt2img_get_info(p->model)->family != SILT_FAMILY_MMDIT)
        return SILT_FAIL(SILT_ERR_ARG, "harvest: the model must be a world MMDiT");
    if (p->tries < 1 || p->tries > HARVEST_MAX_TRIES)
        return SILT_FAIL(SILT_ERR_ARG, "harvest: tries %d outside 1..%d", p->tries, HARVEST_MAX_TRIES);
    if (p->batch < 1 || p->batch > HARVEST_MAX_BATCH)
        return SILT_FAIL(SILT_ERR_ARG, "harvest: batch %d outside 1..%d", p->batch, HARVEST_MAX_BATCH);
    if (p->offset < 0 || p->count < 1) return SILT_FAIL(SILT_ERR_ARG, "harvest: items must be a count >= 1 from offset >= 0");
    const int size = SILT_TRAIN_MMDIT_IMAGE;
    silt_harvest_result res;
    memset(&res, 0, sizeof res);
    kept_list kept = {0};
    const int64_t chunk = p->save_every > 0 ? p->save_every : p->count;
    world_item *items = malloc(sizeof(world_item) * (size_t)chunk);
    int64_t *pending = malloc(sizeof(int64_t) * (size_t)chunk);
    silt_status s = items && pending ? SILT_OK : SILT_FAIL(SILT_ERR_OOM, "harvest: out of memory");
    char(*eval_caps)[WORLD_CAPTION_MAX] = s == SILT_OK ? suite_captions(WORLD_SUITE_EVAL) : NULL;
    if (s == SILT_OK && !eval_caps) s = SILT_FAIL(SILT_ERR_OOM, "harvest: out of memory");
    silt_progress prog;
    if (p->progress) silt_progress_begin(&prog, "harvest", p->count);
    const double t0 = silt_time_now();
    for (int64_t c0 = 0; c0 < p->count && s == SILT_OK; c0 += chunk) {
        const int64_t nc = p->count - c0 < chunk ? p->count - c0 : chunk;
        // Items with an eval prompt's caption are skipped: the trainer drops them.
        int64_t np = 0;
        bool *skip = calloc((size_t)nc, sizeof *skip), *passed_any = calloc((size_t)nc, sizeof *passed_any);
        if (!skip || !passed_any) s = SILT_FAIL(SILT_ERR_OOM, "harvest: out of memory");
        for (int64_t i = 0; i < nc && s == SILT_OK; i++) {
            s = world_train_item(p->seed, p->offset + c0 + i, p->weights, &items[i]);
            skip[i] = s == SILT_OK && is_eval_prompt(eval_caps, items[i].caption);
            if (skip[i]) res.skipped++;
            else pending[np++] = i;
        }
        // Round k draws candidate k of every item no candidate has passed yet
        // (of every item, with keep_all).
        for (int k = 0; k < p->tries && np > 0 && s == SILT_OK; k++) {
            int64_t still = 0;
            for (int64_t b0 = 0; b0 < np && s == SILT_OK; b0 += p->batch) {
                const int B = (int)(np - b0 < p->batch ? np - b0 : p->batch);
                const char *prompts[HARVEST_MAX_BATCH];
                uint64_t seeds[HARVEST_MAX_BATCH];
                for (int b = 0; b < B; b++) {
                    const int64_t i = pending[b0 + b];
                    prompts[b] = items[i].caption;
                    seeds[b] = silt_harvest_noise_seed(p->seed, p->offset + c0 + i, k);
                }
                silt_txt2img_params gp = p->gen;
                gp.prompt = NULL, gp.prompts = prompts, gp.seeds = seeds, gp.seed = seeds[0], gp.batch = B;
                gp.width = gp.height = size;
                gp.progress = false, gp.noise_out = gp.latent_out = NULL, gp.search = NULL;
                silt_image *ims[HARVEST_MAX_BATCH] = {0};
                s = silt_txt2img_run(p->model, &gp, ims, NULL);
                for (int b = 0; b < B && s == SILT_OK; b++) {
                    const int64_t i = pending[b0 + b];
                    if (ims[b]->w != size || ims[b]->h != size || ims[b]->c != 3) {
                        s = SILT_FAIL(SILT_ERR_SHAPE, "harvest: the model made a %dx%dx%d image, not %dx%dx3", ims[b]->w,
                                      ims[b]->h, ims[b]->c, size, size);
                        break;
                    }
                    world_eval_result er;
                    s = world_eval_image_reqs(ims[b]->data, size, size, &items[i].reqs, &er);
                    res.candidates++;
                    if (s != SILT_OK) break;
                    if (er.pass) res.passed++;
                    if (er.pass && k == 0) res.first_pass++;
                    if (p->keep_all) {
                        // Every candidate is kept; an item counts as kept at its first pass.
                        s = kept_push(&kept, ims[b], p->offset + c0 + i, k, er.pass);
                        if (er.pass && !passed_any[i]) res.kept++, res.cat_kept[items[i].category]++;
                        passed_any[i] |= er.pass;
                        pending[still++] = i;
                    } else if (er.pass) {
                        s = kept_push(&kept, ims[b], p->offset + c0 + i, k, true);
                        res.kept++, res.cat_kept[items[i].category]++;
                    } else {
                        pending[still++] = i;  // still <= b0 + b: the order of the rest is kept
                    }
                }
                for (int b = 0; b < B; b++) silt_image_free(ims[b]);
            }
            np = still;
        }
        for (int64_t i = 0; i < nc && s == SILT_OK; i++)
            if (!skip[i]) res.cat_items[items[i].category]++, res.items++;
        free(skip), free(passed_any);
        if (s == SILT_OK) {
            s = write_set(p, &kept, size, res.items + res.skipped, out_path);
        }
        if (p->progress) silt_progress_step(&prog, nc);
    }
    if (p->progress) silt_progress_end(&prog);
    res.seconds = silt_time_now() - t0;
    if (s == SILT_OK && r) *r = res;
    free(items), free(pending), free(kept.images), free(kept.items), free(kept.tries), free(kept.pass), free(eval_caps);
    return s;
}

// "2,2,2,2,3,2,2": WORLD_CAT_COUNT weights as world_train_item takes them.
static bool parse_weights(const char *spec, int w[WORLD_CAT_COUNT]) {
    int total = 0;
    for (int c = 0; c < WORLD_CAT_COUNT; c++) {
        char *end = NULL;
        long v = strtol(spec, &end, 10);
        if (end == spec || v < 0 || v > WORLD_TRAIN_WEIGHT_MAX || *end != (c + 1 < WORLD_CAT_COUNT ? ',' : '\0'))
            return false;
        w[c] = (int)v, total += (int)v;
        spec = end + 1;
    }
    return total > 0;
}

void silt_sample_set_free(silt_sample_set *s) {
    if (!s) return;
    free(s->images), free(s->pass), free(s->groups), free(s->captions), free(s->categories), free(s->reqs), free(s);
}

silt_status silt_sample_set_load(const char *path, silt_sample_set **out) {
    if (!path || !out) return SILT_FAIL(SILT_ERR_ARG, "sample set: NULL argument");
    silt_safetensors *f = NULL;
    SILT_TRY(silt_safetensors_open(path, &f));
    silt_status s = SILT_OK;
    const char *kind = silt_safetensors_metadata(f, "silt.kind"), *wspec = silt_safetensors_metadata(f, "silt.weights");
    const char *seed_s = silt_safetensors_metadata(f, "silt.seed");
    const silt_st_tensor *im = silt_safetensors_find(f, "images"), *it = silt_safetensors_find(f, "items");
    const silt_st_tensor *ps = silt_safetensors_find(f, "pass");  // only in --all sets
    silt_sample_set *set = NULL;
    int w[WORLD_CAT_COUNT];
    unsigned long long seed = 0;
    if (!kind || strcmp(kind, "world-samples"))
        s = SILT_FAIL(SILT_ERR_FORMAT, "%s: not a sample set (metadata silt.kind is not world-samples: make one with "
                                       "gen world harvest)", path);
    else if (im && im->ndim == 4 && im->shape[0] == 0)
        s = SILT_FAIL(SILT_ERR_FORMAT, "%s: the sample set holds no images (no candidate passed)", path);
    else if (!im || im->dtype != SILT_ST_U8 || im->ndim != 4 || im->shape[1] != SILT_TRAIN_MMDIT_IMAGE ||
             im->shape[2] != SILT_TRAIN_MMDIT_IMAGE || im->shape[3] != 3 || im->shape[0] < 1)
        s = SILT_FAIL(SILT_ERR_FORMAT, "%s: 'images' must be U8 (K >= 1, %d, %d, 3)", path, SILT_TRAIN_MMDIT_IMAGE,
                      SILT_TRAIN_MMDIT_IMAGE);
    else if (!it || it->dtype != SILT_ST_I64 || it->ndim != 1 || it->shape[0] != im->shape[0])
        s = SILT_FAIL(SILT_ERR_FORMAT, "%s: 'items' must be I64 (%lld)", path, (long long)im->shape[0]);
    else if (ps && (ps->dtype != SILT_ST_U8 || ps->ndim != 1 || ps->shape[0] != im->shape[0]))
        s = SILT_FAIL(SILT_ERR_FORMAT, "%s: 'pass' must be U8 (%lld)", path, (long long)im->shape[0]);
    else if (!seed_s || sscanf(seed_s, "%llu", &seed) != 1)
        s = SILT_FAIL(SILT_ERR_FORMAT, "%s: metadata silt.seed missing or not a number", path);
    else if (!wspec || !parse_weights(wspec, w))
        s = SILT_FAIL(SILT_ERR_FORMAT, "%s: metadata silt.weights must be %d comma-separated integers in 0..%d, not all 0",
                      path, WORLD_CAT_COUNT, WORLD_TRAIN_WEIGHT_MAX);
    const int64_t n = s == SILT_OK ? im->shape[0] : 0;
    if (s == SILT_OK) {
        set = calloc(1, sizeof *set);
        if (set) {
            set->n = n, set->size = SILT_TRAIN_MMDIT_IMAGE;
            set->images = malloc(im->nbytes);
            set->pass = malloc((size_t)n);
            set->groups = malloc(sizeof *set->groups * (size_t)n);
            set->captions = malloc(sizeof *set->captions * (size_t)n);
            set->categories = malloc(sizeof *set->categories * (size_t)n);
            set->reqs = malloc(sizeof *set->reqs * (size_t)n);
        }
        if (!set || !set->images || !set->pass || !set->groups || !set->captions || !set->categories || !set->reqs)
            s = SILT_FAIL(SILT_ERR_OOM, "%s: out of memory for %lld images", path, (long long)n);
    }
    if (s == SILT_OK) memcpy(set->images, im->data, im->nbytes);
    for (int64_t i = 0; i < n && s == SILT_OK; i++) {
        int64_t index;
        memcpy(&index, (const char *)it->data + sizeof(int64_t) * (size_t)i, sizeof index);
        world_item item;
        if (index < 0) s = SILT_FAIL(SILT_ERR_FORMAT, "%s: item %lld has index %lld", path, (long long)i, (long long)index);
        const uint8_t verdict = ps ? ((const uint8_t *)ps->data)[i] : 1;
        if (verdict > 1) s = SILT_FAIL(SILT_ERR_FORMAT, "%s: sample %lld has verdict %d (not 0 or 1)", path, (long long)i, verdict);
        if (s == SILT_OK && world_train_item(seed, index, w, &item) != SILT_OK)
            s = SILT_FAIL(SILT_ERR_FORMAT, "%s: item %lld (train index %lld): %s", path, (long long)i, (long long)index,
                          silt_last_error_message());
        if (s == SILT_OK) {
            memcpy(set->captions[i], item.caption, sizeof item.caption);
            set->categories[i] = item.category;
            set->reqs[i] = item.reqs;
            set->pass[i] = verdict, set->groups[i] = index;
        }
    }
    silt_safetensors_close(f);
    if (s != SILT_OK) {
        silt_sample_set_free(set);
        return s;
    }
    *out = set;
    return SILT_OK;
}

int64_t silt_sample_set_drop_suite(silt_sample_set *s, world_suite suite) {
    const int64_t n = world_suite_size(suite);
    if (!s || n <= 0) return 0;
    const size_t px = (size_t)s->size * s->size * 3;
    char(*caps)[WORLD_CAPTION_MAX] = suite_captions(suite);
    if (!caps) return -1;
    int64_t kept = 0;
    for (int64_t i = 0; i < s->n; i++) {
        bool hit = false;
        for (int64_t k = 0; k < n && !hit; k++) hit = !strcmp(caps[k], s->captions[i]);
        if (hit) continue;
        if (kept != i) {
            memmove(s->images + px * (size_t)kept, s->images + px * (size_t)i, px);
            memcpy(s->captions[kept], s->captions[i], sizeof s->captions[i]);
            s->categories[kept] = s->categories[i], s->reqs[kept] = s->reqs[i];
            s->pass[kept] = s->pass[i], s->groups[kept] = s->groups[i];
        }
        kept++;
    }
    free(caps);
    const int64_t dropped = s->n - kept;
    s->n = kept;
    return dropped;
}

int64_t silt_sample_set_keep_passing(silt_sample_set *s) {
    if (!s) return 0;
    const size_t px = (size_t)s->size * s->size * 3;
    int64_t kept = 0;
    for (int64_t i = 0; i < s->n; i++) {
        if (!s->pass[i]) continue;
        if (kept != i) {
            memmove(s->images + px * (size_t)kept, s->images + px * (size_t)i, px);
            memcpy(s->captions[kept], s->captions[i], sizeof s->captions[i]);
            s->categories[kept] = s->categories[i], s->reqs[kept] = s->reqs[i];
            s->pass[kept] = 1, s->groups[kept] = s->groups[i];
        }
        kept++;
    }
    const int64_t dropped = s->n - kept;
    s->n = kept;
    return dropped;
}

// Room for m samples in every array of s (its n samples kept).
static silt_status sample_set_reserve(silt_sample_set *s, int64_t m) {
    const size_t px = (size_t)s->size * s->size * 3;
    uint8_t *im = realloc(s->images, px * (size_t)m);
    if (im) s->images = im;
    uint8_t *ps = realloc(s->pass, (size_t)m);
    if (ps) s->pass = ps;
    int64_t *gr = realloc(s->groups, sizeof *gr * (size_t)m);
    if (gr) s->groups = gr;
    char(*cap)[WORLD_CAPTION_MAX] = realloc(s->captions, sizeof *cap * (size_t)m);
    if (cap) s->captions = cap;
    world_category *cat = realloc(s->categories, sizeof *cat * (size_t)m);
    if (cat) s->categories = cat;
    world_reqs *rq = realloc(s->reqs, sizeof *rq * (size_t)m);
    if (rq) s->reqs = rq;
    if (!im || !ps || !gr || !cap || !cat || !rq)
        return SILT_FAIL(SILT_ERR_OOM, "samples: out of memory for %lld samples", (long long)m);
    return SILT_OK;
}

// Appends b to a (b's groups offset past a's, so no group spans two files).
static silt_status sample_set_append(silt_sample_set *a, const silt_sample_set *b) {
    const size_t px = (size_t)a->size * a->size * 3;
    if (b->size != a->size) return SILT_FAIL(SILT_ERR_SHAPE, "sample sets of %d and %d px images", a->size, b->size);
    int64_t gmax = -1;
    for (int64_t i = 0; i < a->n; i++) gmax = a->groups[i] > gmax ? a->groups[i] : gmax;
    SILT_TRY(sample_set_reserve(a, a->n + b->n));
    memcpy(a->images + px * (size_t)a->n, b->images, px * (size_t)b->n);
    memcpy(a->pass + a->n, b->pass, (size_t)b->n);
    for (int64_t i = 0; i < b->n; i++) a->groups[a->n + i] = gmax + 1 + b->groups[i];
    memcpy(a->captions + a->n, b->captions, sizeof *a->captions * (size_t)b->n);
    memcpy(a->categories + a->n, b->categories, sizeof *a->categories * (size_t)b->n);
    memcpy(a->reqs + a->n, b->reqs, sizeof *a->reqs * (size_t)b->n);
    a->n += b->n;
    return SILT_OK;
}

silt_status silt_sample_set_add_mirrors(silt_sample_set *s) {
    if (!s) return SILT_FAIL(SILT_ERR_ARG, "samples: NULL set");
    const int64_t n = s->n, m = 3 * n;
    const int S = s->size;
    const size_t px = (size_t)S * S * 3;
    SILT_TRY(sample_set_reserve(s, m));
    for (int64_t i = 0; i < n; i++) {
        for (int f = 0; f < 2; f++) {  // f 0: left-right, 1: top-bottom
            const int64_t j = n + (int64_t)f * n + i;
            const uint8_t *src = s->images + px * (size_t)i;
            uint8_t *dst = s->images + px * (size_t)j;
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++)
                    memcpy(dst + ((size_t)y * S + x) * 3,
                           src + ((size_t)(f ? S - 1 - y : y) * S + (size_t)(f ? x : S - 1 - x)) * 3, 3);
            world_eval_result er;
            SILT_TRY(world_eval_image_reqs(dst, S, S, &s->reqs[i], &er));
            s->pass[j] = er.pass, s->groups[j] = s->groups[i];
            memcpy(s->captions[j], s->captions[i], sizeof s->captions[i]);
            s->categories[j] = s->categories[i], s->reqs[j] = s->reqs[i];
        }
    }
    s->n = m;
    return SILT_OK;
}

silt_status silt_sample_set_load_list(const char *paths, silt_sample_set **out) {
    if (!paths || !*paths || !out) return SILT_FAIL(SILT_ERR_ARG, "samples: no file");
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", paths) >= (int)sizeof buf) return SILT_FAIL(SILT_ERR_ARG, "samples: list too long");
    silt_sample_set *all = NULL;
    silt_status s = SILT_OK;
    for (char *save = NULL, *f = strtok_r(buf, ",", &save); f && s == SILT_OK; f = strtok_r(NULL, ",", &save)) {
        silt_sample_set *one = NULL;
        s = silt_sample_set_load(f, &one);
        if (s == SILT_OK && !all) { all = one; continue; }
        if (s == SILT_OK) s = sample_set_append(all, one);
        silt_sample_set_free(one);
    }
    if (s == SILT_OK && !all) s = SILT_FAIL(SILT_ERR_ARG, "samples: no file in '%s'", paths);
    if (s != SILT_OK) {
        silt_sample_set_free(all);
        return s;
    }
    *out = all;
    return SILT_OK;
}

static int by_group(const void *a, const void *b) {
    const int64_t *x = a, *y = b;
    return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : (x[1] > y[1]) - (x[1] < y[1]);
}

// Every (passed, failed) pair of candidates of one group, ordered by the
// passed one's index, then the failed one's (the order the draws index).
// The failed candidates sorted by (group, index) are found by bisection, so
// a large set does not cost a scan of all candidates per passed one.
silt_status silt_sample_set_pairs(const silt_sample_set *set, int64_t (**out)[2], int64_t *count) {
    int64_t nf = 0, n = 0, cap = 0, (*pairs)[2] = NULL;
    int64_t(*failed)[2] = malloc(sizeof *failed * (size_t)(set->n > 0 ? set->n : 1));  // (group, index)
    if (!failed) return SILT_FAIL(SILT_ERR_OOM, "samples: out of memory");
    for (int64_t i = 0; i < set->n; i++)
        if (!set->pass[i]) failed[nf][0] = set->groups[i], failed[nf][1] = i, nf++;
    qsort(failed, (size_t)nf, sizeof *failed, by_group);
    for (int64_t i = 0; i < set->n; i++) {
        if (!set->pass[i]) continue;
        int64_t lo = 0, hi = nf;  // the first failed candidate of i's group
        while (lo < hi) {
            const int64_t mid = lo + (hi - lo) / 2;
            if (failed[mid][0] < set->groups[i]) lo = mid + 1;
            else hi = mid;
        }
        for (int64_t k = lo; k < nf && failed[k][0] == set->groups[i]; k++) {
            if (n == cap) {
                cap = cap ? 2 * cap : 1024;
                int64_t(*np)[2] = realloc(pairs, sizeof *np * (size_t)cap);
                if (!np) {
                    free(pairs), free(failed);
                    return SILT_FAIL(SILT_ERR_OOM, "samples: out of memory");
                }
                pairs = np;
            }
            pairs[n][0] = i, pairs[n][1] = failed[k][1];
            n++;
        }
    }
    free(failed);
    *out = pairs, *count = n;
    return SILT_OK;
}

silt_status silt_sample_set_training_pairs(const silt_sample_set *set, int64_t dropped, const char *who,
                                           int64_t (**out)[2], int64_t *count) {
    SILT_TRY(silt_sample_set_pairs(set, out, count));
    if (*count > 0) return SILT_OK;
    free(*out);
    *out = NULL;
    return SILT_FAIL(SILT_ERR_ARG, "%s: no item has both a passed and a failed candidate (%lld samples, %lld with "
                                   "eval-suite captions dropped): make the set with gen world harvest --all --tries T >= 2",
                     who, (long long)set->n, (long long)dropped);
}
