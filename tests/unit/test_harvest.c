// Verified self-samples (gen/lib/harvest.h) and the trainer's use of them
// (silt_train_mmdit_set_samples):
//  - a sample-set file's loader: captions rebuilt from (seed, weights, item),
//    and one error for a file that is not a set, holds no images or has bad
//    metadata;
//  - samples whose caption is an eval prompt are dropped before training;
//  - the mmdit batch with samples: fraction 1 makes every image a set image
//    with its own caption; 0.5 replaces about half, the rest stay the renders
//    bit for bit; the draw is a function of (seed, image index);
//  - a harvest with a random tiny model: its counts add up;
//  - a harvest with the shipped world model (skipped without it): every kept
//    image passes the evaluator against its caption, and regenerating a kept
//    candidate from silt_harvest_noise_seed gives the same bytes;
//  - --all (keep_all): every candidate of every item, each verdict the
//    evaluator's on the stored image; the first passed candidate of an item
//    is, bit for bit, the image the plain harvest kept, and the candidates
//    before it failed; the mmdit trainer leaves the failed ones out;
//  - mirrored samples (silt_sample_set_add_mirrors): the pixels mirrored,
//    the verdicts the evaluator's; a render of "X left of Y" passes, its
//    left-right mirror fails, its top-bottom mirror passes.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/safetensors.h"
#include "gen/lib/harvest.h"
#include "gen/lib/train_arch.h"
#include "gen/lib/world_test_model.h"
#include "tmpdir.h"
#include "tiny_world_clip.h"
#include "world/eval.h"
#include "world/render.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static char tmpdir[256], clip_path[512];
enum { S = SILT_TRAIN_MMDIT_IMAGE, NPIX = 3 * S * S };

static const int weights[WORLD_CAT_COUNT] = {1, 1, 1, 1, 5, 1, 1};

// A sample set of n random images, items 10, 11, ... of seed 7 under `weights`.
static void write_set_items(const char *path, int n, const char *kind, const char *wspec, const int64_t *which) {
    uint8_t *im = malloc((size_t)n * S * S * 3 + 1);
    int64_t *items = malloc(sizeof(int64_t) * (size_t)n + 8);
    for (int i = 0; i < n * S * S * 3; i++) im[i] = (uint8_t)((i * 2654435761u) >> 24);
    for (int i = 0; i < n; i++) items[i] = which ? which[i] : 10 + i;
    silt_st_writer *w = silt_st_writer_create();
    CHECK_OK(silt_st_writer_set_metadata(w, "silt.kind", kind));
    CHECK_OK(silt_st_writer_set_metadata(w, "silt.seed", "7"));
    CHECK_OK(silt_st_writer_set_metadata(w, "silt.weights", wspec));
    CHECK_OK(silt_st_writer_add(w, "images", SILT_ST_U8, 4, (const int64_t[]){n, S, S, 3}, im));
    CHECK_OK(silt_st_writer_add(w, "items", SILT_ST_I64, 1, (const int64_t[]){n}, items));
    CHECK_OK(silt_st_writer_write(w, path));
    silt_st_writer_free(w);
    free(im), free(items);
}

static void write_set(const char *path, int n, const char *kind, const char *wspec) {
    write_set_items(path, n, kind, wspec, NULL);
}

static bool is_eval_caption(const char *c) {
    for (int64_t k = 0; k < world_suite_size(WORLD_SUITE_EVAL); k++) {
        world_item it;
        CHECK_OK(world_suite_item(WORLD_SUITE_EVAL, 0, k, &it));
        if (!strcmp(it.caption, c)) return true;
    }
    return false;
}

// Samples with an eval prompt's caption never reach training.
static void test_drop_eval(void) {
    int64_t which[2] = {-1, -1};
    for (int64_t i = 0; i < 100000 && (which[0] < 0 || which[1] < 0); i++) {
        world_item it;
        CHECK_OK(world_train_item(7, i, weights, &it));
        int k = is_eval_caption(it.caption) ? 0 : 1;
        if (which[k] < 0) which[k] = i;
    }
    CHECK(which[0] >= 0 && which[1] >= 0);
    char path[512];
    snprintf(path, sizeof path, "%s/drop.safetensors", tmpdir);
    write_set_items(path, 2, "world-samples", "1,1,1,1,5,1,1", which);
    silt_sample_set *set = NULL;
    CHECK_OK(silt_sample_set_load(path, &set));
    if (!set) return;
    char keep[WORLD_CAPTION_MAX];
    memcpy(keep, set->captions[1], sizeof keep);
    CHECK(silt_sample_set_drop_suite(set, WORLD_SUITE_EVAL) == 1 && set->n == 1 && !strcmp(set->captions[0], keep));
    silt_sample_set_free(set);
    silt_train_task t;
    CHECK_OK(silt_train_mmdit_create(clip_path, "tiny", 1, &t));
    CHECK_OK(silt_train_mmdit_set_samples(&t, path, 1.0));
    float *x = malloc(sizeof(float) * 16 * NPIX);
    world_item items[16];
    CHECK_OK(silt_train_mmdit_batch(&t, 1, 0, 16, x, items));
    for (int i = 0; i < 16; i++) CHECK_MSG(!strcmp(items[i].caption, keep), "image %d: '%s'", i, items[i].caption);
    free(x);
    silt_train_task_free(&t);
    // Only eval captions: nothing to train on.
    write_set_items(path, 1, "world-samples", "1,1,1,1,5,1,1", which);
    CHECK_OK(silt_train_mmdit_create(clip_path, "tiny", 1, &t));
    CHECK(silt_train_mmdit_set_samples(&t, path, 1.0) == SILT_ERR_ARG);
    silt_train_task_free(&t);
}

static void test_load(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/set.safetensors", tmpdir);
    write_set(path, 5, "world-samples", "1,1,1,1,5,1,1");
    silt_sample_set *set = NULL;
    CHECK_OK(silt_sample_set_load(path, &set));
    CHECK(set && set->n == 5 && set->size == S);
    for (int i = 0; set && i < 5; i++) {
        world_item it;
        CHECK_OK(world_train_item(7, 10 + i, weights, &it));
        CHECK(!strcmp(set->captions[i], it.caption));
        CHECK(set->categories[i] == it.category);
        CHECK(set->reqs[i].relation == it.reqs.relation && set->reqs[i].n_phrases == it.reqs.n_phrases);
    }
    silt_sample_set_free(set);
    const struct { int n; const char *kind, *w; } bad[] = {
        {5, "world-clip", "1,1,1,1,5,1,1"}, {0, "world-samples", "1,1,1,1,5,1,1"}, {5, "world-samples", "1,1,1"},
        {5, "world-samples", "0,0,0,0,0,0,0"}, {5, "world-samples", "1,1,1,1,5,1,1x"}, {5, "world-samples", "1,1,1,1,5,1,-1"}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        write_set(path, bad[k].n, bad[k].kind, bad[k].w);
        set = NULL;
        CHECK_MSG(silt_sample_set_load(path, &set) == SILT_ERR_FORMAT && !set, "bad set %zu loaded", k);
        CHECK_MSG(strstr(silt_last_error_message(), path) != NULL, "bad set %zu: '%s' does not name the file", k,
                  silt_last_error_message());
    }
    CHECK(silt_sample_set_load("/nonexistent/set.safetensors", &set) != SILT_OK);
}

// Is image i of x0 the 8-bit set image u, exactly as the batch converts it?
static bool is_set_image(const float *x, const uint8_t *src) {
    for (int q = 0; q < S * S; q++)
        for (int ch = 0; ch < 3; ch++)
            if (x[ch * S * S + q] != src[q * 3 + ch] * (2.0f / 255.0f) - 1.0f) return false;
    return true;
}

static void test_batch(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/set.safetensors", tmpdir);
    const int n = 6, B = 64;
    int64_t which[6];  // train items whose captions are no eval prompt (those are dropped: test_drop_eval)
    for (int64_t i = 10, k = 0; k < n; i++) {
        world_item it;
        CHECK_OK(world_train_item(7, i, weights, &it));
        if (!is_eval_caption(it.caption)) which[k++] = i;
    }
    write_set_items(path, n, "world-samples", "1,1,1,1,5,1,1", which);
    silt_sample_set *set = NULL;
    CHECK_OK(silt_sample_set_load(path, &set));
    if (!set) return;
    float *x = malloc(sizeof(float) * B * NPIX), *r = malloc(sizeof(float) * B * NPIX), *x2 = malloc(sizeof(float) * B * NPIX);
    world_item *items = malloc(sizeof *items * B), *ritems = malloc(sizeof *ritems * B), *items2 = malloc(sizeof *items2 * B);
    CHECK_OK(silt_train_render_batch_weighted(3, 2 * B, B, S, NULL, r, ritems, NULL));
    for (int k = 0; k < 2; k++) {
        const double frac = k ? 0.5 : 1.0;
        silt_train_task t;
        CHECK_OK(silt_train_mmdit_create(clip_path, "tiny", 1, &t));
        CHECK(silt_train_mmdit_set_samples(&t, path, 0) == SILT_ERR_ARG);
        CHECK(silt_train_mmdit_set_samples(&t, "", 0.5) == SILT_ERR_ARG);
        CHECK_OK(silt_train_mmdit_set_samples(&t, path, frac));
        CHECK(silt_train_mmdit_set_samples(&t, path, frac) == SILT_ERR_ARG);  // once
        CHECK_OK(silt_train_mmdit_batch(&t, 3, 2, B, x, items));
        CHECK_OK(silt_train_mmdit_batch(&t, 3, 2, B, x2, items2));
        CHECK(!memcmp(x, x2, sizeof(float) * B * NPIX));
        int from_set = 0, renders = 0, seen[6] = {0};
        for (int i = 0; i < B; i++) {
            int u = -1;
            for (int v = 0; v < n && u < 0; v++)
                if (is_set_image(x + (size_t)i * NPIX, set->images + (size_t)v * NPIX)) u = v;
            if (u >= 0) {
                from_set++, seen[u]++;
                CHECK_MSG(!strcmp(items[i].caption, set->captions[u]), "image %d: caption '%s', its sample's '%s'", i,
                          items[i].caption, set->captions[u]);
                CHECK(items[i].category == set->categories[u]);
            } else if (!memcmp(x + (size_t)i * NPIX, r + (size_t)i * NPIX, sizeof(float) * NPIX) &&
                       !strcmp(items[i].caption, ritems[i].caption)) {
                renders++;
            }
        }
        CHECK_MSG(from_set + renders == B, "fraction %g: %d set images + %d renders of %d", frac, from_set, renders, B);
        if (k == 0) {
            CHECK(from_set == B);
            for (int v = 0; v < n; v++) CHECK_MSG(seen[v] > 0, "set image %d never drawn in %d", v, B);
        } else {
            CHECK_MSG(from_set >= 16 && from_set <= 48, "fraction 0.5 replaced %d of %d", from_set, B);
        }
        silt_train_task_free(&t);
    }
    // Two files concatenate.
    char two[1100];
    snprintf(two, sizeof two, "%s,%s", path, path);
    silt_train_task t;
    CHECK_OK(silt_train_mmdit_create(clip_path, "tiny", 1, &t));
    CHECK_OK(silt_train_mmdit_set_samples(&t, two, 1.0));
    CHECK_OK(silt_train_mmdit_batch(&t, 3, 2, 8, x, items));
    silt_train_task_free(&t);
    CHECK_OK(silt_train_mmdit_create(clip_path, "tiny", 1, &t));
    CHECK(silt_train_mmdit_set_samples(&t, "/nonexistent.safetensors", 0.5) != SILT_OK);
    silt_train_task_free(&t);
    silt_sample_set_free(set);
    free(x), free(r), free(x2), free(items), free(ritems), free(items2);
}

static int64_t read_i64(const silt_st_tensor *t, int64_t i) {
    int64_t v;
    memcpy(&v, (const char *)t->data + 8 * i, 8);
    return v;
}

static int32_t read_i32(const silt_st_tensor *t, int64_t i) {
    int32_t v;
    memcpy(&v, (const char *)t->data + 4 * i, 4);
    return v;
}

// Counts of a harvest with `model`: items, candidates and kept agree with the file.
static void harvest_checks(const char *model, int count, int tries, bool expect_kept) {
    silt_txt2img *m = NULL;
    CHECK_OK(silt_txt2img_load(model, NULL, strstr(model, tmpdir) ? clip_path : NULL, &m));
    if (!m) return;
    char out[512];
    snprintf(out, sizeof out, "%s/h.safetensors", tmpdir);
    silt_harvest_params p = silt_harvest_default_params();
    p.model = m, p.gen = silt_txt2img_default_params(m), p.seed = 5, p.offset = 100, p.count = count;
    p.tries = tries, p.batch = 4, p.save_every = 5, p.progress = false;
    memcpy(p.weights, weights, sizeof p.weights);
    silt_harvest_result r;
    CHECK(silt_harvest_run(&(silt_harvest_params){.model = NULL}, out, &r) == SILT_ERR_ARG);
    silt_harvest_params bad = p;
    bad.tries = 0;
    CHECK(silt_harvest_run(&bad, out, &r) == SILT_ERR_ARG);
    CHECK_OK(silt_harvest_run(&p, out, &r));
    CHECK(r.items + r.skipped == count && r.kept <= r.items && r.first_pass <= r.kept);
    int64_t cat_items = 0, cat_kept = 0, eval_items = 0;
    for (int c = 0; c < WORLD_CAT_COUNT; c++) cat_items += r.cat_items[c], cat_kept += r.cat_kept[c];
    CHECK(cat_items == r.items && cat_kept == r.kept);
    for (int64_t i = 0; i < count; i++) {
        world_item wi;
        CHECK_OK(world_train_item(5, 100 + i, weights, &wi));
        eval_items += is_eval_caption(wi.caption);
    }
    CHECK_MSG(eval_items == r.skipped, "%lld items have eval captions, %lld skipped", (long long)eval_items,
              (long long)r.skipped);
    silt_safetensors *f = NULL;
    CHECK_OK(silt_safetensors_open(out, &f));
    const silt_st_tensor *im = f ? silt_safetensors_find(f, "images") : NULL, *it = f ? silt_safetensors_find(f, "items") : NULL;
    const silt_st_tensor *tr = f ? silt_safetensors_find(f, "tries") : NULL;
    CHECK(im && it && tr && im->shape[0] == r.kept && it->shape[0] == r.kept);
    // Each kept item used tries[i] + 1 candidates, each other item all of them.
    int64_t used = (r.items - r.kept) * tries;
    for (int64_t i = 0; tr && i < r.kept; i++) used += read_i32(tr, i) + 1;
    CHECK_MSG(used == r.candidates, "candidates %lld, the file says %lld", (long long)r.candidates, (long long)used);
    if (expect_kept) CHECK_MSG(r.kept >= 1, "the shipped model kept none of %lld items", (long long)r.items);
    if (expect_kept && it && r.kept > 0) {
        silt_sample_set *set = NULL;
        CHECK_OK(silt_sample_set_load(out, &set));
        for (int64_t i = 0; set && i < set->n; i++) {
            const int64_t item = read_i64(it, i);
            CHECK(item >= 100 && item < 100 + count);
            CHECK(!is_eval_caption(set->captions[i]));
            world_eval_result er;
            CHECK_OK(world_eval_image_reqs(set->images + (size_t)i * NPIX, S, S, &set->reqs[i], &er));
            CHECK_MSG(er.pass, "kept image %lld fails its caption '%s'", (long long)i, set->captions[i]);
        }
        // The first kept image again, from its candidate's documented seed.
        const char *prompt = set ? set->captions[0] : "";
        silt_txt2img_params gp = silt_txt2img_default_params(m);
        gp.prompt = prompt, gp.width = gp.height = S, gp.batch = 1, gp.progress = false;
        gp.seed = silt_harvest_noise_seed(5, read_i64(it, 0), read_i32(tr, 0));
        uint64_t seeds[1] = {gp.seed};
        gp.seeds = seeds;
        silt_image *again = NULL;
        CHECK_OK(silt_txt2img_run(m, &gp, &again, NULL));
        CHECK(again && set && !memcmp(again->data, set->images, NPIX));
        silt_image_free(again);
        silt_sample_set_free(set);
    } else if (r.kept == 0) {
        silt_sample_set *set = NULL;
        CHECK(silt_sample_set_load(out, &set) == SILT_ERR_FORMAT);
    }
    // keep_all: the same items and candidates, every one kept with its verdict.
    char all[512];
    snprintf(all, sizeof all, "%s/ha.safetensors", tmpdir);
    silt_harvest_params pa = p;
    pa.keep_all = true;
    silt_harvest_result ra;
    CHECK_OK(silt_harvest_run(&pa, all, &ra));
    CHECK(ra.items == r.items && ra.skipped == r.skipped && ra.kept == r.kept && ra.first_pass == r.first_pass);
    CHECK_MSG(ra.candidates == ra.items * tries, "keep_all drew %lld candidates for %lld items x %d", (long long)ra.candidates,
              (long long)ra.items, tries);
    silt_safetensors *fa = NULL;
    CHECK_OK(silt_safetensors_open(all, &fa));
    const silt_st_tensor *aim = fa ? silt_safetensors_find(fa, "images") : NULL, *ait = fa ? silt_safetensors_find(fa, "items") : NULL;
    const silt_st_tensor *atr = fa ? silt_safetensors_find(fa, "tries") : NULL, *aps = fa ? silt_safetensors_find(fa, "pass") : NULL;
    const char *keep = fa ? silt_safetensors_metadata(fa, "silt.keep") : NULL;
    CHECK(keep && !strcmp(keep, "all"));
    CHECK(aim && ait && atr && aps && aim->shape[0] == ra.candidates && aps->shape[0] == ra.candidates);
    int64_t passed = 0;
    for (int64_t i = 0; aim && ait && atr && aps && i < aim->shape[0]; i++) {
        const int64_t item = read_i64(ait, i);
        const int k = read_i32(atr, i);
        const uint8_t v = ((const uint8_t *)aps->data)[i];
        world_item wi;
        CHECK_OK(world_train_item(5, item, weights, &wi));
        world_eval_result er;
        CHECK_OK(world_eval_image_reqs((const uint8_t *)aim->data + (size_t)i * NPIX, S, S, &wi.reqs, &er));
        CHECK_MSG(v == er.pass, "candidate %lld: verdict %d, the evaluator says %d", (long long)i, v, er.pass);
        passed += v;
        // Against the plain harvest: its kept image of this item is this item's first pass.
        int64_t kept_at = -1;
        for (int64_t j = 0; it && tr && j < r.kept && kept_at < 0; j++)
            if (read_i64(it, j) == item) kept_at = j;
        if (kept_at >= 0 && read_i32(tr, kept_at) == k) {
            CHECK(v == 1);
            CHECK_MSG(!memcmp((const uint8_t *)aim->data + (size_t)i * NPIX, (const uint8_t *)im->data + (size_t)kept_at * NPIX, NPIX),
                      "item %lld candidate %d differs from the plain harvest's kept image", (long long)item, k);
        } else if (kept_at >= 0 && k < read_i32(tr, kept_at)) {
            CHECK_MSG(v == 0, "item %lld candidate %d passed before the kept candidate %d", (long long)item, k,
                      read_i32(tr, kept_at));
        } else if (kept_at < 0) {
            CHECK_MSG(v == 0, "item %lld candidate %d passed, but the plain harvest kept none", (long long)item, k);
        }
    }
    CHECK(passed == ra.passed);
    if (fa) silt_safetensors_close(fa);
    // The mmdit trainer takes only the passed candidates of such a set.
    if (ra.passed > 0) {
        silt_train_task t;
        CHECK_OK(silt_train_mmdit_create(clip_path, "tiny", 1, &t));
        CHECK_OK(silt_train_mmdit_set_samples(&t, all, 1.0));  // no eval captions: harvest skipped those items
        float *x = malloc(sizeof(float) * 8 * NPIX);
        world_item bi[8];
        CHECK_OK(silt_train_mmdit_batch(&t, 3, 0, 8, x, bi));
        silt_sample_set *set = NULL;
        CHECK_OK(silt_sample_set_load(all, &set));
        for (int b = 0; set && b < 8; b++) {
            bool found = false;
            for (int64_t i = 0; i < set->n && !found; i++)
                found = set->pass[i] && is_set_image(x + (size_t)b * NPIX, set->images + (size_t)i * NPIX);
            CHECK_MSG(found, "batch image %d is not a passed candidate", b);
        }
        silt_sample_set_free(set);
        free(x);
        silt_train_task_free(&t);
    }
    silt_safetensors_close(f);
    silt_txt2img_free(m);
}


static void test_mirrors(void) {
    // Renders of train items of seed 7 (position captions only): each a
    // "left of" caption between circles and squares (mirror-symmetric shapes).
    const int pos_only[WORLD_CAT_COUNT] = {0, 0, 0, 0, 1, 0, 0};
    int64_t which[4];
    int found = 0;
    for (int64_t i = 0; i < 100000 && found < 4; i++) {
        world_item it;
        CHECK_OK(world_train_item(7, i, pos_only, &it));
        if (it.reqs.relation != WORLD_REL_LEFT_OF || strstr(it.caption, "triangle") || strstr(it.caption, "cross") ||
            is_eval_caption(it.caption))
            continue;
        which[found++] = i;
    }
    CHECK(found == 4);
    char path[512];
    snprintf(path, sizeof path, "%s/mirror.safetensors", tmpdir);
    write_set_items(path, 4, "world-samples", "0,0,0,0,1,0,0", which);
    silt_sample_set *set = NULL;
    CHECK_OK(silt_sample_set_load(path, &set));
    if (!set) return;
    for (int i = 0; i < 4; i++) {  // the renders themselves as the samples
        world_item it;
        CHECK_OK(world_train_item(7, which[i], pos_only, &it));
        CHECK_OK(world_render(&it.scene, S, NULL, set->images + (size_t)i * NPIX, NULL));
    }
    CHECK_OK(silt_sample_set_add_mirrors(set));
    CHECK(set->n == 12);
    for (int i = 0; i < 4; i++) {
        const uint8_t *a = set->images + (size_t)i * NPIX, *lr = set->images + (size_t)(4 + i) * NPIX,
                      *tb = set->images + (size_t)(8 + i) * NPIX;
        bool lr_ok = true, tb_ok = true;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                for (int c = 0; c < 3; c++) {
                    lr_ok &= lr[(y * S + x) * 3 + c] == a[(y * S + S - 1 - x) * 3 + c];
                    tb_ok &= tb[(y * S + x) * 3 + c] == a[((S - 1 - y) * S + x) * 3 + c];
                }
        CHECK_MSG(lr_ok && tb_ok, "sample %d: mirrors' pixels", i);
        for (int k = 0; k < 3; k++) {
            const int j = k * 4 + i;
            world_eval_result er;
            CHECK_OK(world_eval_image_reqs(set->images + (size_t)j * NPIX, S, S, &set->reqs[i], &er));
            if (k) CHECK_MSG(set->pass[j] == er.pass, "mirror %d of %d: verdict %d, the evaluator's %d", k, i, set->pass[j], er.pass);
            CHECK(set->groups[j] == set->groups[i] && !strcmp(set->captions[j], set->captions[i]));
            const int want = k == 1 ? 0 : 1;
            CHECK_MSG(er.pass == want, "'%s' mirror %d: pass %d", set->captions[i], k, er.pass);
        }
    }
    silt_sample_set_free(set);
}

int main(void) {
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    snprintf(tmpdir, sizeof tmpdir, "/tmp/silt_test_harvest_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    snprintf(clip_path, sizeof clip_path, "%s/clip.safetensors", tmpdir);
    tiny_world_clip_write(clip_path);
    test_load();
    test_batch();
    test_drop_eval();
    test_mirrors();
    char model[512];
    snprintf(model, sizeof model, "%s/tiny.safetensors", tmpdir);
    silt_world_test_model_params tp = silt_world_test_model_default_params();
    tp.joint_dim = 24, tp.pooled_dim = 20;  // tiny_world_clip's widths
    CHECK_OK(silt_world_test_model_write(&tp, model));
    harvest_checks(model, 6, 2, false);
    const char *src = getenv("SILT_SOURCE_DIR");
    char shipped[4096];
    snprintf(shipped, sizeof shipped, "%s/models/world-dit.safetensors.zst", src && *src ? src : ".");
    FILE *fp = fopen(shipped, "rb");
    if (fp) {
        fclose(fp);
        harvest_checks(shipped, 8, 3, true);
    } else {
        printf("note: no %s; the shipped-model harvest checks skipped\n", shipped);
    }
    test_rm_tree(tmpdir);
    return check_summary();
}
