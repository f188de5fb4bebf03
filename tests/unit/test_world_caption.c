// World captions: the grammar (WORLD.md examples, errors that name unknown
// words), caption <-> requirements round trips, GenEval's position rule
// against a transliteration of evaluate_images.py, the requirement checker's
// semantics, scenes for captions and captions for scenes (the oracle agrees),
// and the world tokenizer.
#include <math.h>
#include <string.h>

#include "check.h"
#include "text/world_tokenizer.h"
#include "world/caption.h"
#include "world/scene.h"
#include "world/suites.h"

static void test_examples(void) {
    // The WORLD.md table, one per category.
    struct {
        const char *caption;
        world_category cat;
    } ex[] = {
        {"a red circle", WORLD_CAT_COLOURS},
        {"a red circle and a blue square", WORLD_CAT_COLOUR_ATTRIBUTION},
        {"three yellow triangles", WORLD_CAT_COUNTING},
        {"a purple cross", WORLD_CAT_COLOURS},
        {"a green square left of a white circle", WORLD_CAT_POSITION},
        {"a blue circle and a red triangle", WORLD_CAT_COLOUR_ATTRIBUTION},
        {"a black square on a striped background", WORLD_CAT_BACKGROUND},
        {"a circle", WORLD_CAT_SINGLE_OBJECT},
        {"a circle and a square", WORLD_CAT_TWO_OBJECTS},
    };
    for (size_t i = 0; i < sizeof ex / sizeof *ex; i++) {
        world_reqs r;
        char back[WORLD_CAPTION_MAX];
        CHECK_OK(world_caption_parse(ex[i].caption, &r));
        CHECK_MSG(world_reqs_category(&r) == ex[i].cat, "'%s': category %s", ex[i].caption,
                  world_category_name(world_reqs_category(&r)));
        CHECK_OK(world_caption_format(&r, back, sizeof back));
        CHECK_MSG(!strcmp(back, ex[i].caption), "'%s' formats back as '%s'", ex[i].caption, back);
    }
    world_reqs r;
    CHECK_OK(world_caption_parse("three yellow triangles", &r));
    CHECK(r.n_phrases == 1 && r.phrases[0].count == 3 && r.phrases[0].exact && r.phrases[0].shape == WORLD_TRIANGLE &&
          r.phrases[0].colour == WORLD_YELLOW && r.phrases[0].size == -1 && r.bg_style == -1);
    CHECK_OK(world_caption_parse("a green square left of a white circle", &r));
    CHECK(r.n_phrases == 2 && r.relation == WORLD_REL_LEFT_OF && r.phrases[0].shape == WORLD_SQUARE &&
          r.phrases[1].colour == WORLD_WHITE && !r.phrases[0].exact);
    // Accepted variants: GenEval's "a photo of", "to the left of", case and
    // punctuation, adjective order, plural after "a", "an", "the background".
    const char *same[] = {"A photo of a green square to the left of a white circle.", "a green square, left of a white circle!",
                          "A GREEN SQUARE LEFT OF A WHITE CIRCLE"};
    for (size_t i = 0; i < 3; i++) {
        world_reqs q;
        CHECK_OK(world_caption_parse(same[i], &q));
        CHECK(!memcmp(&q, &r, sizeof q));
    }
    CHECK_OK(world_caption_parse("a red large circle on the dotted background", &r));
    CHECK(r.phrases[0].size == WORLD_LARGE && r.phrases[0].colour == WORLD_RED && r.bg_style == WORLD_BG_DOTTED);
    CHECK(world_caption_parse("two small crosses below", &r) == SILT_ERR_ARG);  // a relation needs a second phrase
}

static void expect_error(const char *caption, const char *needle) {
    world_reqs r;
    memset(&r, 0x5a, sizeof r);
    world_reqs before = r;
    silt_status s = world_caption_parse(caption, &r);
    CHECK_MSG(s == SILT_ERR_ARG, "'%s' parsed (status %d)", caption, s);
    CHECK_MSG(strstr(silt_last_error(), needle) != NULL, "'%s': message '%s' lacks '%s'", caption, silt_last_error(), needle);
    CHECK(!memcmp(&r, &before, sizeof r));  // output untouched on failure
}

static void test_errors(void) {
    expect_error("a red dog and a blue cat", "'dog', 'cat'");
    expect_error("a big big circle", "unknown word 'big'");
    expect_error("", "empty");
    expect_error("a red", "expected a shape");
    expect_error("red circle", "expected 'a' or a number");
    expect_error("a circle beside a square", "'beside'");
    expect_error("a circle under a square", "'under'");
    expect_error("a circle left a square", "expected 'of'");
    expect_error("a circle on a striped", "expected 'background'");
    expect_error("a circle on a square background", "background style");
    expect_error("a red blue circle", "two colours");
    expect_error("a small large circle", "two sizes");
    expect_error("two circles left of a square", "single object");
    expect_error("a circle and a square and a cross", "got 'and' (word 6)");
    expect_error("a circle circle", "got 'circle' (word 3)");
    // world_reqs_validate rejects what the parser can never produce.
    world_reqs r;
    CHECK_OK(world_caption_parse("a circle", &r));
    r.phrases[0].count = 2;  // "a" with count 2: inconsistent
    CHECK(world_reqs_validate(&r) == SILT_ERR_ARG);
    char buf[16];
    CHECK_OK(world_caption_parse("a circle", &r));
    CHECK(world_caption_format(&r, buf, 8) == SILT_ERR_ARG);  // "a circle" needs 9 bytes
    CHECK_OK(world_caption_format(&r, buf, sizeof buf));
}

static world_reqs random_reqs(void) {
    world_reqs r;
    memset(&r, 0, sizeof r);
    r.bg_style = test_uniform() < 0.3 ? (int)(test_uniform() * WORLD_BG_STYLE_COUNT) : -1;
    r.n_phrases = test_uniform() < 0.5 ? 1 : 2;
    r.relation = r.n_phrases == 2 && test_uniform() < 0.5 ? (world_relation)(1 + (int)(test_uniform() * 4)) : WORLD_REL_NONE;
    for (int i = 0; i < r.n_phrases; i++) {
        world_phrase *ph = &r.phrases[i];
        ph->count = r.relation != WORLD_REL_NONE || test_uniform() < 0.6 ? 1 : 2 + (int)(test_uniform() * 3);
        ph->exact = ph->count > 1;
        ph->shape = (world_shape)(int)(test_uniform() * WORLD_SHAPE_COUNT);
        ph->colour = test_uniform() < 0.3 ? -1 : (int)(test_uniform() * WORLD_COLOUR_COUNT);
        ph->size = test_uniform() < 0.6 ? -1 : (int)(test_uniform() * WORLD_SIZE_COUNT);
    }
    return r;
}

static void test_round_trips(void) {
    test_seed(3);
    for (int i = 0; i < 2000; i++) {
        world_reqs r = random_reqs(), q;
        char text[WORLD_CAPTION_MAX];
        CHECK_OK(world_caption_format(&r, text, sizeof text));
        CHECK_OK(world_caption_parse(text, &q));
        CHECK_MSG(!memcmp(&r, &q, sizeof r), "'%s' does not parse back to its requirements", text);
        // Every word of a caption is in the vocabulary and is lower case.
        size_t pos = 0;
        char w[32];
        while (world_caption_next_word(text, &pos, w, sizeof w)) CHECK(world_vocab_find(w) >= 0);
    }
    CHECK(world_vocab_size() < 60);
    for (int i = 0; i < world_vocab_size(); i++) {
        const char *w = world_vocab_word(i);
        CHECK(world_vocab_find(w) == i);
        for (const char *c = w; *c; c++) CHECK(*c >= 'a' && *c <= 'z');
    }
    CHECK(world_vocab_word(-1) == NULL && world_vocab_word(world_vocab_size()) == NULL);
}

// GenEval evaluate_images.py relative_position, transliterated: boxes as
// (x0, y0, x1, y1), POSITION_THRESHOLD 0.1.
static unsigned geneval_relations(const double a[4], const double b[4]) {
    double ca[2] = {(a[0] + a[2]) / 2, (a[1] + a[3]) / 2}, cb[2] = {(b[0] + b[2]) / 2, (b[1] + b[3]) / 2};
    double da[2] = {fabs(a[2] - a[0]), fabs(a[3] - a[1])}, db[2] = {fabs(b[2] - b[0]), fabs(b[3] - b[1])};
    double off[2] = {ca[0] - cb[0], ca[1] - cb[1]}, rev[2];
    for (int k = 0; k < 2; k++) rev[k] = fmax(fabs(off[k]) - 0.1 * (da[k] + db[k]), 0) * (off[k] > 0 ? 1 : off[k] < 0 ? -1 : 0);
    if (fabs(rev[0]) < 1e-3 && fabs(rev[1]) < 1e-3) return 0;
    double norm = hypot(off[0], off[1]), dx = rev[0] / norm, dy = rev[1] / norm;
    unsigned r = 0;
    if (dx < -0.5) r |= 1u << WORLD_REL_LEFT_OF;
    if (dx > 0.5) r |= 1u << WORLD_REL_RIGHT_OF;
    if (dy < -0.5) r |= 1u << WORLD_REL_ABOVE;
    if (dy > 0.5) r |= 1u << WORLD_REL_BELOW;
    return r;
}

static void test_relations(void) {
    test_seed(9);
    int bad = 0, seen = 0;
    for (int i = 0; i < 20000; i++) {
        world_observed a = {0, 0, 0, test_uniform() * 32, test_uniform() * 32, 3 + test_uniform() * 10, 3 + test_uniform() * 10};
        world_observed b = {0, 0, 0, test_uniform() * 32, test_uniform() * 32, 3 + test_uniform() * 10, 3 + test_uniform() * 10};
        double ba[4] = {a.cx - a.w / 2, a.cy - a.h / 2, a.cx + a.w / 2, a.cy + a.h / 2};
        double bb[4] = {b.cx - b.w / 2, b.cy - b.h / 2, b.cx + b.w / 2, b.cy + b.h / 2};
        unsigned got = world_relations(&a, &b, NULL, NULL), want = geneval_relations(ba, bb);
        bad += got != want;
        seen |= got;
        for (int rel = 1; rel < WORLD_REL_COUNT; rel++)
            if (world_relation_clear(&a, &b, (world_relation)rel)) bad += got != 1u << rel;  // clear: only that relation
    }
    CHECK_MSG(bad == 0, "%d of 20000 random box pairs disagree with GenEval's rule", bad);
    CHECK(seen == 0x1e);
    world_observed a = {0, 0, 0, 8, 16, 7, 7}, b = {0, 0, 0, 24, 16, 7, 7};
    CHECK(world_relations(&a, &b, NULL, NULL) == 1u << WORLD_REL_LEFT_OF);
    CHECK(world_relations(&b, &a, NULL, NULL) == 1u << WORLD_REL_RIGHT_OF);
    CHECK(world_relations(&a, &a, NULL, NULL) == 0);
}

static world_observed obj(world_shape s, world_colour c, world_size z, double x, double y) {
    world_observed o = {(int)s, (int)c, (int)z, x, y, z == WORLD_LARGE ? 11 : 7, z == WORLD_LARGE ? 11 : 7};
    return o;
}

static bool holds(const char *caption, const world_observed *o, int n, int bg) {
    world_reqs r;
    world_check c;
    if (world_caption_parse(caption, &r) != SILT_OK) return false;
    world_reqs_check(&r, o, n, bg, &c);
    return c.pass;
}

static void test_check_semantics(void) {
    world_observed o[4] = {obj(WORLD_CIRCLE, WORLD_RED, WORLD_SMALL, 8, 8), obj(WORLD_CIRCLE, WORLD_RED, WORLD_LARGE, 24, 8),
                           obj(WORLD_SQUARE, WORLD_BLUE, WORLD_SMALL, 8, 24), obj(WORLD_CROSS, WORLD_GREEN, WORLD_LARGE, 24, 24)};
    CHECK(holds("a red circle", o, 4, WORLD_BG_PLAIN));          // at least one
    CHECK(holds("two red circles", o, 4, WORLD_BG_PLAIN));       // exactly two
    CHECK(!holds("three red circles", o, 4, WORLD_BG_PLAIN));
    CHECK(holds("two circles", o, 3, WORLD_BG_PLAIN) && !holds("two circles", o, 1, WORLD_BG_PLAIN));
    CHECK(!holds("a blue circle", o, 4, WORLD_BG_PLAIN));
    CHECK(holds("a large red circle", o, 4, WORLD_BG_PLAIN) && !holds("a large blue square", o, 4, WORLD_BG_PLAIN));
    CHECK(holds("a blue square below a red circle", o, 4, WORLD_BG_PLAIN));  // exists a pair
    CHECK(holds("a red circle left of a red circle", o, 4, WORLD_BG_PLAIN));  // two distinct red circles
    CHECK(!holds("a red circle left of a red circle", o, 1, WORLD_BG_PLAIN));
    CHECK(!holds("a blue square above a red circle", o, 4, WORLD_BG_PLAIN));
    CHECK(holds("a circle and a red circle", o, 4, WORLD_BG_PLAIN));
    CHECK(!holds("a circle and a red circle", o, 1, WORLD_BG_PLAIN));  // one object cannot be both
    CHECK(holds("a green cross on a striped background", o, 4, WORLD_BG_STRIPED));
    CHECK(!holds("a green cross on a striped background", o, 4, WORLD_BG_DOTTED));
    world_observed unknown = o[0];
    unknown.shape = -1;
    CHECK(!holds("a red circle", &unknown, 1, WORLD_BG_PLAIN));
    // Breakdown and soft score.
    world_reqs r;
    world_check c;
    CHECK_OK(world_caption_parse("a blue square above a red circle on a dotted background", &r));
    world_reqs_check(&r, o, 4, WORLD_BG_PLAIN, &c);
    CHECK(c.n_reqs == 4 && !c.pass && fabs(c.score - 0.5) < 1e-12);
    CHECK(c.reqs[0].kind == WORLD_REQ_OBJECTS && c.reqs[0].met && c.reqs[0].found == 1);
    CHECK(c.reqs[2].kind == WORLD_REQ_RELATION && !c.reqs[2].met && c.reqs[3].kind == WORLD_REQ_BACKGROUND && !c.reqs[3].met);
    CHECK(strstr(c.reqs[3].text, "plain") != NULL);
    CHECK_OK(world_caption_parse("three red circles", &r));
    world_reqs_check(&r, o, 4, WORLD_BG_PLAIN, &c);
    CHECK(c.n_reqs == 1 && c.reqs[0].found == 2 && !c.pass && c.score == 0 && strstr(c.reqs[0].text, "exactly three"));
    CHECK_OK(world_caption_parse("a circle and a red circle", &r));
    world_reqs_check(&r, o, 4, WORLD_BG_PLAIN, &c);
    CHECK(c.n_reqs == 3 && c.reqs[2].kind == WORLD_REQ_DISTINCT && c.pass);
    for (int k = 0; k <= WORLD_REQ_BACKGROUND; k++) {
        world_req_kind v = WORLD_REQ_OBJECTS;
        CHECK_OK(world_req_kind_from_name(world_req_kind_name((world_req_kind)k), &v));
        CHECK((int)v == k);
    }
    for (int k = 0; k < WORLD_REL_COUNT; k++) {
        world_relation v = WORLD_REL_NONE;
        CHECK_OK(world_relation_from_name(world_relation_name((world_relation)k), &v));
        CHECK((int)v == k);
    }
    // Invalid requirements judge nothing (and never pass).
    r.n_phrases = 0;
    world_reqs_check(&r, o, 4, WORLD_BG_PLAIN, &c);
    CHECK(!c.pass && c.n_reqs == 0);
}

static void test_scenes_for_captions(void) {
    test_seed(21);
    int bad = 0, n = 0, too_many = 0;
    for (int i = 0; i < 3000; i++) {
        world_reqs r = random_reqs();
        silt_rng rng = silt_rng_init(1, (uint64_t)i);
        world_scene s;
        silt_status st = world_scene_for_reqs(&r, 0, &rng, &s);
        if (world_reqs_object_count(&r) > WORLD_MAX_OBJECTS) {
            too_many += st == SILT_ERR_ARG;
            continue;
        }
        if (st != SILT_OK) continue;  // contradictory counts ("two circles and a circle") are allowed to fail
        n++;
        world_check c;
        world_reqs_check_scene(&r, &s, &c);
        bad += !c.pass || world_scene_validate(&s) != SILT_OK || s.n_objects != world_reqs_object_count(&r);
        if (r.relation != WORLD_REL_NONE) {
            world_observed a = world_observe_object(&s.objects[0]), b = world_observe_object(&s.objects[1]);
            bad += !world_relation_clear(&a, &b, r.relation);
        }
    }
    CHECK_MSG(bad == 0, "%d of %d scenes do not satisfy their caption", bad, n);
    CHECK(n > 2000 && too_many > 0);
    // Banned pairs are refused when named and never drawn otherwise.
    world_reqs r;
    CHECK_OK(world_caption_parse("a red triangle", &r));
    silt_rng rng = silt_rng_init(1, 1);
    world_scene s;
    CHECK(world_scene_for_reqs(&r, world_heldout_pairs(), &rng, &s) == SILT_ERR_ARG);
    CHECK_OK(world_caption_parse("four triangles", &r));
    for (int i = 0; i < 200; i++) {
        rng = silt_rng_init(2, (uint64_t)i);
        CHECK_OK(world_scene_for_reqs(&r, world_heldout_pairs(), &rng, &s));
        CHECK(!world_scene_heldout(&s));
    }
    // Same rng state, same scene.
    world_scene s2;
    silt_rng r1 = silt_rng_init(5, 9), r2 = silt_rng_init(5, 9);
    CHECK_OK(world_scene_for_reqs(&r, 0, &r1, &s));
    CHECK_OK(world_scene_for_reqs(&r, 0, &r2, &s2));
    CHECK(!memcmp(&s, &s2, sizeof s));
}

static void test_describe(void) {
    int per_cat[WORLD_CAT_COUNT] = {0}, bad = 0;
    for (int i = 0; i < 1500; i++) {
        world_scene s;
        CHECK_OK(world_scene_sample(8, (uint64_t)i, &s));
        silt_rng rng = silt_rng_init(8, (uint64_t)i + 100000);
        for (int c = 0; c < WORLD_CAT_COUNT; c++) {
            world_reqs r;
            silt_status st = world_reqs_describe(&s, (world_category)c, 0.5, &rng, &r);
            if (st == SILT_ERR_UNSUPPORTED) continue;
            CHECK_OK(st);
            per_cat[c]++;
            world_check chk;
            world_reqs_check_scene(&r, &s, &chk);
            char text[WORLD_CAPTION_MAX];
            world_reqs q;
            bad += !chk.pass || world_caption_format(&r, text, sizeof text) != SILT_OK || world_caption_parse(text, &q) != SILT_OK ||
                   memcmp(&q, &r, sizeof q);
            if (c == WORLD_CAT_POSITION || c == WORLD_CAT_BACKGROUND || c == WORLD_CAT_COUNTING)
                bad += world_reqs_category(&r) != (world_category)c;
        }
    }
    CHECK_MSG(bad == 0, "%d described captions do not hold or do not round-trip", bad);
    for (int c = 0; c < WORLD_CAT_COUNT; c++) CHECK_MSG(per_cat[c] > 100, "category %s described %d times", world_category_name(c), per_cat[c]);
}

static void test_tokenizer(void) {
    int32_t ids[TXT_WORLD_MAX_LEN];
    char unk[64];
    CHECK(txt_world_vocab_size() == 4 + world_vocab_size() && txt_world_vocab_size() <= 64);
    CHECK(!strcmp(txt_world_token(TXT_WORLD_PAD), "<pad>") && !strcmp(txt_world_token(TXT_WORLD_UNK), "<unk>"));
    CHECK(txt_world_token(txt_world_vocab_size()) == NULL && txt_world_token(-1) == NULL);
    for (int32_t id = 4; id < txt_world_vocab_size(); id++) CHECK(txt_world_token_id(txt_world_token(id)) == id);
    int nu = txt_world_tokenize("A Red circle, left of a blue SQUARE.", ids, TXT_WORLD_MAX_LEN, unk, sizeof unk);
    CHECK(nu == 0 && unk[0] == 0);
    const char *words[] = {"a", "red", "circle", "left", "of", "a", "blue", "square"};
    CHECK(ids[0] == TXT_WORLD_BOS && ids[9] == TXT_WORLD_EOS);
    for (int i = 0; i < 8; i++) CHECK(ids[1 + i] == txt_world_token_id(words[i]));
    for (int i = 10; i < TXT_WORLD_MAX_LEN; i++) CHECK(ids[i] == TXT_WORLD_PAD);
    nu = txt_world_tokenize("a fluffy red dog and a fluffy cat", ids, TXT_WORLD_MAX_LEN, unk, sizeof unk);
    CHECK_MSG(nu == 3 && !strcmp(unk, "fluffy dog cat"), "unknown: %d '%s'", nu, unk);
    CHECK(ids[2] == TXT_WORLD_UNK && ids[4] == TXT_WORLD_UNK && ids[3] == txt_world_token_id("red"));
    // A short buffer for the names keeps whole words.
    nu = txt_world_tokenize("a fluffy red dog", ids, TXT_WORLD_MAX_LEN, unk, 10);
    CHECK(nu == 2 && !strcmp(unk, "fluffy"));
    // Truncation keeps <eos> last.
    nu = txt_world_tokenize("a red circle and a blue square and a red circle and a blue square and more", ids, 8, NULL, 0);
    CHECK(nu == 1 && ids[0] == TXT_WORLD_BOS && ids[7] == TXT_WORLD_EOS && ids[6] == txt_world_token_id("blue"));
    nu = txt_world_tokenize("", ids, 4, unk, sizeof unk);
    CHECK(nu == 0 && ids[0] == TXT_WORLD_BOS && ids[1] == TXT_WORLD_EOS && ids[2] == TXT_WORLD_PAD);
    ids[0] = 77;
    CHECK(txt_world_tokenize("a circle", ids, 1, NULL, 0) == SILT_ERR_ARG && ids[0] == 77);
    CHECK(txt_world_tokenize(NULL, ids, 8, NULL, 0) == SILT_ERR_ARG);
    // Non-ASCII bytes stay inside a word.
    nu = txt_world_tokenize("a rouge\xc3\xa9 circle", ids, 8, unk, sizeof unk);
    CHECK(nu == 1 && !strcmp(unk, "rouge\xc3\xa9") && ids[2] == TXT_WORLD_UNK && ids[3] == txt_world_token_id("circle"));
}

int main(void) {
    test_examples();
    test_errors();
    test_round_trips();
    test_relations();
    test_check_semantics();
    test_scenes_for_captions();
    test_describe();
    test_tokenizer();
    return check_summary();
}
