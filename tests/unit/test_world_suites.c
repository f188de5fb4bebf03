// Prompt suites: sizes, category balance and order, distinct prompts,
// determinism, scenes that satisfy their captions, and held-out disjointness
// (100k train draws never name or render a held-out composition).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "world/scene.h"
#include "world/suites.h"

static void test_names(void) {
    for (int i = 0; i < WORLD_SUITE_COUNT; i++) {
        world_suite s = WORLD_SUITE_TRAIN;
        CHECK_OK(world_suite_from_name(world_suite_name((world_suite)i), &s));
        CHECK((int)s == i);
    }
    world_suite s = WORLD_SUITE_EVAL;
    CHECK(world_suite_from_name("test", &s) == SILT_ERR_ARG && s == WORLD_SUITE_EVAL);
    for (int i = 0; i < WORLD_CAT_COUNT; i++) {
        world_category c = WORLD_CAT_COUNTING;
        CHECK_OK(world_category_from_name(world_category_name((world_category)i), &c));
        CHECK((int)c == i);
    }
}

static void check_fixed(world_suite suite, int n_cats, int per_cat, const world_category *order) {
    int64_t n = world_suite_size(suite);
    CHECK(n == (int64_t)n_cats * per_cat);
    int counts[WORLD_CAT_COUNT] = {0}, bad = 0, dup = 0, held = 0, seeds_distinct = 0;
    static world_item items[1024];
    for (int64_t i = 0; i < n; i++) {
        world_item *it = &items[i];
        CHECK_OK(world_suite_item(suite, 0, i, it));
        counts[it->category]++;
        bad += it->category != order[i % n_cats];  // interleaved: any prefix is balanced
        char text[WORLD_CAPTION_MAX];
        world_reqs back;
        bad += world_caption_format(&it->reqs, text, sizeof text) != SILT_OK || strcmp(text, it->caption);
        bad += world_caption_parse(it->caption, &back) != SILT_OK || memcmp(&back, &it->reqs, sizeof back);
        world_check chk;
        world_reqs_check_scene(&it->reqs, &it->scene, &chk);
        bad += !chk.pass || world_scene_validate(&it->scene) != SILT_OK;
        bad += it->seed >= (1ull << 31);
        held += world_reqs_heldout(&it->reqs);
        if (suite == WORLD_SUITE_EVAL) bad += world_scene_heldout(&it->scene);
        world_category inferred = world_reqs_category(&it->reqs);
        if (it->category == WORLD_CAT_POSITION || it->category == WORLD_CAT_BACKGROUND || it->category == WORLD_CAT_COUNTING ||
            it->category == WORLD_CAT_COLOUR_ATTRIBUTION)
            bad += inferred != it->category;
        for (int64_t j = 0; j < i; j++) {
            dup += items[j].category == it->category && !strcmp(items[j].caption, it->caption);
            seeds_distinct += items[j].seed == it->seed;
        }
    }
    CHECK_MSG(bad == 0, "%s: %d broken items", world_suite_name(suite), bad);
    CHECK_MSG(dup == 0, "%s: %d repeated prompts within a category", world_suite_name(suite), dup);
    CHECK_MSG(seeds_distinct < 3, "%s: %d repeated seeds", world_suite_name(suite), seeds_distinct);
    CHECK_MSG(held == (suite == WORLD_SUITE_HELDOUT ? n : 0), "%s: %d of %lld prompts name a held-out composition",
              world_suite_name(suite), held, (long long)n);
    for (int c = 0; c < n_cats; c++) {
        CHECK_MSG(counts[order[c]] == per_cat, "%s: %d %s prompts", world_suite_name(suite), counts[order[c]],
                  world_category_name(order[c]));
        CHECK(world_suite_category_size(suite, order[c]) == per_cat);
    }
    // Deterministic, whatever the order of calls; the seed argument redraws the scene only.
    world_item a, b;
    CHECK_OK(world_suite_item(suite, 0, n - 1, &a));
    CHECK(!memcmp(&a, &items[n - 1], sizeof a));
    int redrawn = 0;
    for (int64_t i = 0; i < 40; i++) {
        CHECK_OK(world_suite_item(suite, 12345, i, &b));
        CHECK(!strcmp(b.caption, items[i].caption) && b.seed == items[i].seed && b.category == items[i].category);
        world_check chk;
        world_reqs_check_scene(&b.reqs, &b.scene, &chk);
        CHECK(chk.pass);
        redrawn += memcmp(&b.scene, &items[i].scene, sizeof b.scene) != 0;
    }
    CHECK(redrawn > 35);
    CHECK(world_suite_item(suite, 0, n, &a) == SILT_ERR_ARG);
    CHECK(world_suite_item(suite, 0, -1, &a) == SILT_ERR_ARG);
}

static void test_fixed_suites(void) {
    const world_category eval_order[WORLD_CAT_COUNT] = {WORLD_CAT_SINGLE_OBJECT, WORLD_CAT_TWO_OBJECTS, WORLD_CAT_COUNTING,
                                                        WORLD_CAT_COLOURS, WORLD_CAT_POSITION, WORLD_CAT_COLOUR_ATTRIBUTION,
                                                        WORLD_CAT_BACKGROUND};
    const world_category heldout_order[WORLD_CAT_COUNT - 1] = {WORLD_CAT_COLOURS, WORLD_CAT_TWO_OBJECTS, WORLD_CAT_COUNTING,
                                                               WORLD_CAT_POSITION, WORLD_CAT_COLOUR_ATTRIBUTION, WORLD_CAT_BACKGROUND};
    check_fixed(WORLD_SUITE_EVAL, WORLD_CAT_COUNT, 72, eval_order);
    check_fixed(WORLD_SUITE_HELDOUT, WORLD_CAT_COUNT - 1, 24, heldout_order);
    CHECK(world_suite_size(WORLD_SUITE_TRAIN) == -1);
    CHECK(world_suite_category_size(WORLD_SUITE_HELDOUT, WORLD_CAT_SINGLE_OBJECT) == 0);
    // Held-out relations count in either phrasing; pairs are one per colour.
    CHECK(world_heldout_relation(WORLD_CIRCLE, WORLD_REL_LEFT_OF, WORLD_SQUARE));
    CHECK(world_heldout_relation(WORLD_SQUARE, WORLD_REL_RIGHT_OF, WORLD_CIRCLE));
    CHECK(!world_heldout_relation(WORLD_SQUARE, WORLD_REL_LEFT_OF, WORLD_CIRCLE));
    int per_colour[WORLD_COLOUR_COUNT] = {0}, per_shape[WORLD_SHAPE_COUNT] = {0};
    for (int c = 0; c < WORLD_COLOUR_COUNT; c++)
        for (int s = 0; s < WORLD_SHAPE_COUNT; s++)
            if (world_heldout_pair((world_colour)c, (world_shape)s)) {
                per_colour[c]++;
                per_shape[s]++;
            }
    for (int c = 0; c < WORLD_COLOUR_COUNT; c++) CHECK(per_colour[c] == 1);
    for (int s = 0; s < WORLD_SHAPE_COUNT; s++) CHECK(per_shape[s] == 2);
    // Every held-out composition is asked about somewhere in the heldout suite.
    uint32_t pairs = 0;
    int rels = 0;
    for (int64_t i = 0; i < world_suite_size(WORLD_SUITE_HELDOUT); i++) {
        world_item it;
        world_suite_item(WORLD_SUITE_HELDOUT, 0, i, &it);
        for (int p = 0; p < it.reqs.n_phrases; p++)
            if (it.reqs.phrases[p].colour >= 0 && world_heldout_pair((world_colour)it.reqs.phrases[p].colour, it.reqs.phrases[p].shape))
                pairs |= WORLD_PAIR_BIT(it.reqs.phrases[p].colour, it.reqs.phrases[p].shape);
        rels += it.reqs.relation != WORLD_REL_NONE &&
                world_heldout_relation(it.reqs.phrases[0].shape, it.reqs.relation, it.reqs.phrases[1].shape);
    }
    CHECK(pairs == world_heldout_pairs());
    CHECK(rels == 24);
}

static void test_train(void) {
    const int n = 100000;
    int held = 0, fail = 0, counts[WORLD_CAT_COUNT] = {0}, with_bg = 0, objects[WORLD_MAX_OBJECTS + 1] = {0};
    for (int i = 0; i < n; i++) {
        world_item it;
        if (world_suite_item(WORLD_SUITE_TRAIN, 2024, i, &it) != SILT_OK) {
            fail++;
            continue;
        }
        held += world_reqs_heldout(&it.reqs) || world_scene_heldout(&it.scene);
        counts[it.category]++;
        with_bg += it.reqs.bg_style >= 0;
        objects[it.scene.n_objects]++;
        if (i < 3000) {  // the full checks on a prefix
            world_check chk;
            world_reqs_check_scene(&it.reqs, &it.scene, &chk);
            fail += !chk.pass || world_scene_validate(&it.scene) != SILT_OK;
        }
    }
    CHECK_MSG(fail == 0, "%d train items failed or do not satisfy their caption", fail);
    CHECK_MSG(held == 0, "%d of %d train items name or render a held-out composition", held, n);
    // Category weights 2:2:2:2:3:2:2 (position heavier).
    for (int c = 0; c < WORLD_CAT_COUNT; c++) {
        double want = (c == WORLD_CAT_POSITION ? 3.0 : 2.0) / 15.0, got = (double)counts[c] / n;
        CHECK_MSG(got > want - 0.01 && got < want + 0.01, "train category %s: share %.4f, expected %.4f", world_category_name(c), got, want);
    }
    CHECK(with_bg > n / 5 && with_bg < n / 3);  // background category + 10% of the others
    for (int k = 1; k <= WORLD_MAX_OBJECTS; k++) CHECK_MSG(objects[k] > n / 50, "%d train scenes with %d objects", objects[k], k);
    // Pure function of (seed, index).
    world_item a, b, c;
    CHECK_OK(world_suite_item(WORLD_SUITE_TRAIN, 2024, 77, &a));
    CHECK_OK(world_suite_item(WORLD_SUITE_TRAIN, 2024, 77, &b));
    CHECK(!memcmp(&a, &b, sizeof a));
    CHECK_OK(world_suite_item(WORLD_SUITE_TRAIN, 2025, 77, &c));
    CHECK(memcmp(&a.scene, &c.scene, sizeof a.scene) != 0);
}

// world_train_item: the default weights are the train suite's items; other
// weights change the category mix (and nothing else's rules).
static void test_train_weighted(void) {
    int def[WORLD_CAT_COUNT], w[WORLD_CAT_COUNT];
    world_train_weights(def);
    CHECK(def[WORLD_CAT_POSITION] == 3 && def[WORLD_CAT_COUNTING] == 2);
    for (int i = 0; i < 500; i++) {
        world_item a, b, c;
        CHECK_OK(world_suite_item(WORLD_SUITE_TRAIN, 7, i, &a));
        CHECK_OK(world_train_item(7, i, NULL, &b));
        CHECK_OK(world_train_item(7, i, def, &c));
        CHECK_MSG(!memcmp(&a, &b, sizeof a) && !memcmp(&a, &c, sizeof a), "train item %d differs with the default weights", i);
    }
    // position 9, counting 0, the rest 2: shares 9/19, 0, 2/19.
    memcpy(w, def, sizeof w);
    w[WORLD_CAT_POSITION] = 9, w[WORLD_CAT_COUNTING] = 0;
    const int n = 20000;
    int counts[WORLD_CAT_COUNT] = {0}, fail = 0, held = 0;
    for (int i = 0; i < n; i++) {
        world_item it;
        if (world_train_item(7, i, w, &it) != SILT_OK) {
            fail++;
            continue;
        }
        counts[it.category]++;
        held += world_reqs_heldout(&it.reqs) || world_scene_heldout(&it.scene);
        if (i < 1000) {
            world_check chk;
            world_reqs_check_scene(&it.reqs, &it.scene, &chk);
            fail += !chk.pass;
        }
    }
    CHECK_MSG(fail == 0 && held == 0, "weighted train items: %d fail, %d held out", fail, held);
    for (int c = 0; c < WORLD_CAT_COUNT; c++) {
        double want = w[c] / 19.0, got = (double)counts[c] / n;
        CHECK_MSG(fabs(got - want) < 0.015, "weighted category %s: share %.4f, expected %.4f", world_category_name(c), got, want);
    }
    w[WORLD_CAT_COUNTING] = -1;
    world_item it;
    CHECK(world_train_item(7, 0, w, &it) == SILT_ERR_ARG);
    int zero[WORLD_CAT_COUNT] = {0};
    CHECK(world_train_item(7, 0, zero, &it) == SILT_ERR_ARG);
    CHECK(world_train_item(7, -1, NULL, &it) == SILT_ERR_ARG);
    CHECK(world_train_item(7, 0, NULL, NULL) == SILT_ERR_ARG);
}

static bool same_phrase(const world_phrase *a, const world_phrase *b) {
    return a->count == b->count && a->exact == b->exact && a->shape == b->shape && a->colour == b->colour && a->size == b->size;
}

// world_reqs_negative: every negative is a valid train-distribution caption
// (no held-out composition) that the scene does NOT satisfy, one edit away
// from the caption; the edits that matter for each category occur.
static void test_negatives(void) {
    const int n = 4000, per = 4;
    int bad = 0, unsup = 0, rel_edits = 0, rel_n = 0, count_edits = 0, count_n = 0, swaps = 0, swap_n = 0;
    for (int i = 0; i < n; i++) {
        world_item it;
        CHECK_OK(world_suite_item(WORLD_SUITE_TRAIN, 99, i, &it));
        silt_rng rng = silt_rng_init(5, (uint64_t)i);
        for (int k = 0; k < per; k++) {
            world_reqs neg;
            silt_status s = world_reqs_negative(&it.reqs, &it.scene, &rng, &neg);
            if (s == SILT_ERR_UNSUPPORTED) { unsup++; continue; }
            CHECK_OK(s);
            if (s) continue;
            world_check chk;
            world_reqs_check_scene(&neg, &it.scene, &chk);
            char text[WORLD_CAPTION_MAX] = "(unformattable)", again[WORLD_CAPTION_MAX];
            world_reqs back;
            bool fmt = world_caption_format(&neg, text, sizeof text) == SILT_OK;
            bool ok = fmt && !chk.pass && world_reqs_validate(&neg) == SILT_OK && !world_reqs_heldout(&neg) &&
                      strcmp(text, it.caption) != 0 &&
                      world_caption_parse(text, &back) == SILT_OK &&
                      world_caption_format(&back, again, sizeof again) == SILT_OK && !strcmp(text, again);
            if (!ok && bad++ < 5) fprintf(stderr, "bad negative of '%s': '%s'\n", it.caption, text);
            if (it.category == WORLD_CAT_POSITION) {
                rel_n++;
                bool same_phrases = same_phrase(&neg.phrases[0], &it.reqs.phrases[0]) &&
                                    same_phrase(&neg.phrases[1], &it.reqs.phrases[1]);
                bool swapped = same_phrase(&neg.phrases[0], &it.reqs.phrases[1]) &&
                               same_phrase(&neg.phrases[1], &it.reqs.phrases[0]);
                rel_edits += (same_phrases && neg.relation != it.reqs.relation) || (swapped && neg.relation == it.reqs.relation);
            }
            if (it.category == WORLD_CAT_COUNTING) {
                count_n++;
                count_edits += neg.n_phrases == 1 && neg.phrases[0].count != it.reqs.phrases[0].count;
            }
            if (it.category == WORLD_CAT_COLOUR_ATTRIBUTION) {
                swap_n++;
                swaps += neg.n_phrases == 2 && neg.phrases[0].colour == it.reqs.phrases[1].colour &&
                         neg.phrases[1].colour == it.reqs.phrases[0].colour && neg.phrases[0].shape == it.reqs.phrases[0].shape;
            }
        }
    }
    CHECK_MSG(bad == 0, "%d negatives are not false, one-edit, valid train captions", bad);
    CHECK_MSG(unsup < n * per / 1000, "%d of %d negatives not found", unsup, n * per);
    // Position: 3 of its 5 edits touch the relation alone (flip, swap, axis).
    CHECK_MSG(rel_edits > rel_n * 4 / 10, "relation edits %d of %d position negatives", rel_edits, rel_n);
    CHECK_MSG(count_edits > count_n / 5, "count edits %d of %d counting negatives", count_edits, count_n);
    CHECK_MSG(swaps > swap_n / 10, "colour swaps %d of %d colour-attribution negatives", swaps, swap_n);
    // Deterministic in the rng; argument errors.
    world_item it;
    CHECK_OK(world_suite_item(WORLD_SUITE_TRAIN, 99, 3, &it));
    silt_rng r1 = silt_rng_init(1, 2), r2 = silt_rng_init(1, 2);
    world_reqs a, b;
    CHECK_OK(world_reqs_negative(&it.reqs, &it.scene, &r1, &a));
    CHECK_OK(world_reqs_negative(&it.reqs, &it.scene, &r2, &b));
    CHECK(!memcmp(&a, &b, sizeof a));
    CHECK(world_reqs_negative(NULL, &it.scene, &r1, &a) == SILT_ERR_ARG);
    world_reqs broken = it.reqs;
    broken.n_phrases = 3;
    CHECK(world_reqs_negative(&broken, &it.scene, &r1, &a) == SILT_ERR_ARG);
}

int main(void) {
    test_names();
    test_fixed_suites();
    test_train();
    test_train_weighted();
    test_negatives();
    return check_summary();
}
