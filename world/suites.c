// Prompt suites: the train caption sampler, the fixed eval and heldout lists
// (built once, lazily, thread-safely) and the held-out compositions.
#include "world/suites.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "world/scene.h"

static const char *const suite_names[WORLD_SUITE_COUNT] = {"train", "eval", "heldout"};

const char *world_suite_name(world_suite s) { return (int)s >= 0 && s < WORLD_SUITE_COUNT ? suite_names[s] : "?"; }

silt_status world_suite_from_name(const char *name, world_suite *out) {
    if (!name || !out) return SILT_FAIL(SILT_ERR_ARG, "world_suite_from_name: NULL argument");
    for (int i = 0; i < WORLD_SUITE_COUNT; i++)
        if (!strcmp(suite_names[i], name)) { *out = (world_suite)i; return SILT_OK; }
    return SILT_FAIL(SILT_ERR_ARG, "unknown suite '%s' (expected one of: train, eval, heldout)", name);
}

// ---- held-out compositions ------------------------------------------------------

static const int heldout_pairs[][2] = {
    {WORLD_RED, WORLD_TRIANGLE}, {WORLD_GREEN, WORLD_CROSS},    {WORLD_BLUE, WORLD_CIRCLE}, {WORLD_YELLOW, WORLD_SQUARE},
    {WORLD_PURPLE, WORLD_CROSS}, {WORLD_CYAN, WORLD_TRIANGLE}, {WORLD_WHITE, WORLD_CIRCLE}, {WORLD_BLACK, WORLD_SQUARE},
};
#define N_HELDOUT_PAIRS ((int)(sizeof heldout_pairs / sizeof *heldout_pairs))

static const int heldout_rels[][3] = {
    {WORLD_CIRCLE, WORLD_REL_LEFT_OF, WORLD_SQUARE},
    {WORLD_TRIANGLE, WORLD_REL_ABOVE, WORLD_CROSS},
    {WORLD_CROSS, WORLD_REL_LEFT_OF, WORLD_CIRCLE},
    {WORLD_SQUARE, WORLD_REL_ABOVE, WORLD_TRIANGLE},
};
#define N_HELDOUT_RELS ((int)(sizeof heldout_rels / sizeof *heldout_rels))

static world_relation inverse(world_relation r) {
    switch (r) {
    case WORLD_REL_LEFT_OF: return WORLD_REL_RIGHT_OF;
    case WORLD_REL_RIGHT_OF: return WORLD_REL_LEFT_OF;
    case WORLD_REL_ABOVE: return WORLD_REL_BELOW;
    case WORLD_REL_BELOW: return WORLD_REL_ABOVE;
    default: return WORLD_REL_NONE;
    }
}

uint32_t world_heldout_pairs(void) {
    uint32_t m = 0;
    for (int i = 0; i < N_HELDOUT_PAIRS; i++) m |= WORLD_PAIR_BIT(heldout_pairs[i][0], heldout_pairs[i][1]);
    return m;
}

bool world_heldout_pair(world_colour c, world_shape s) {
    return (int)c >= 0 && c < WORLD_COLOUR_COUNT && (int)s >= 0 && s < WORLD_SHAPE_COUNT && (world_heldout_pairs() & WORLD_PAIR_BIT(c, s));
}

bool world_heldout_relation(world_shape a, world_relation rel, world_shape b) {
    for (int i = 0; i < N_HELDOUT_RELS; i++) {
        const int *h = heldout_rels[i];
        if ((h[0] == (int)a && h[1] == (int)rel && h[2] == (int)b) || (h[0] == (int)b && h[1] == (int)inverse(rel) && h[2] == (int)a))
            return true;
    }
    return false;
}

bool world_reqs_heldout(const world_reqs *r) {
    for (int i = 0; i < r->n_phrases; i++)
        if (r->phrases[i].colour >= 0 && world_heldout_pair((world_colour)r->phrases[i].colour, r->phrases[i].shape)) return true;
    return r->relation != WORLD_REL_NONE && r->n_phrases == 2 &&
           world_heldout_relation(r->phrases[0].shape, r->relation, r->phrases[1].shape);
}

bool world_scene_heldout(const world_scene *s) {
    for (int i = 0; i < s->n_objects; i++)
        if (world_heldout_pair(s->objects[i].colour, s->objects[i].shape)) return true;
    return false;
}

// ---- caption generator ------------------------------------------------------------

typedef enum gen_mode { GEN_TRAIN, GEN_HELDOUT } gen_mode;

typedef struct gen_opts {
    gen_mode mode;
    double p_colour;  // name the colour where a category leaves it optional
    double p_size;    // name the size (single_object, colours, background)
    double p_bg;      // add a background clause to a caption of another category
} gen_opts;

static int draw(silt_rng *r, int n) { return (int)silt_rng_uniform_int(r, (uint64_t)n); }
static bool coin(silt_rng *r, double p) { return silt_rng_next_double(r) < p; }

static world_phrase new_phrase(world_shape shape, int count) {
    world_phrase ph;
    memset(&ph, 0, sizeof ph);
    ph.count = count;
    ph.exact = count > 1;
    ph.shape = shape;
    ph.colour = ph.size = -1;
    return ph;
}

// A colour for `shape` that is not held out.
static int train_colour(silt_rng *rng, world_shape shape) {
    int ok[WORLD_COLOUR_COUNT], n = 0;
    for (int c = 0; c < WORLD_COLOUR_COUNT; c++)
        if (!world_heldout_pair((world_colour)c, shape)) ok[n++] = c;
    return ok[draw(rng, n)];
}

// A phrase: a random shape and (maybe) colour from the train distribution, or
// a held-out pair when `heldout` (the colour is then always named).
static world_phrase gen_phrase(silt_rng *rng, int count, bool colour, bool heldout) {
    if (heldout) {
        const int *p = heldout_pairs[draw(rng, N_HELDOUT_PAIRS)];
        world_phrase ph = new_phrase((world_shape)p[1], count);
        ph.colour = p[0];
        return ph;
    }
    world_phrase ph = new_phrase((world_shape)draw(rng, WORLD_SHAPE_COUNT), count);
    if (colour) ph.colour = train_colour(rng, ph.shape);
    return ph;
}

static void maybe_size(silt_rng *rng, world_phrase *ph, double p) {
    if (coin(rng, p)) ph->size = draw(rng, WORLD_SIZE_COUNT);
}

static void gen_reqs(world_category cat, const gen_opts *o, silt_rng *rng, world_reqs *r) {
    memset(r, 0, sizeof *r);
    r->bg_style = -1;
    r->n_phrases = 1;
    bool ho = o->mode == GEN_HELDOUT;
    int which = draw(rng, 2);  // heldout: the phrase that carries the held-out pair
    switch (cat) {
    case WORLD_CAT_SINGLE_OBJECT:
        r->phrases[0] = gen_phrase(rng, 1, ho || coin(rng, o->p_colour), ho);
        maybe_size(rng, &r->phrases[0], o->p_size);
        break;
    case WORLD_CAT_COLOURS:
        r->phrases[0] = gen_phrase(rng, 1, true, ho);
        if (ho) {
            int k = draw(rng, 3);  // none, small, large: the 24 held-out colour prompts
            r->phrases[0].size = k - 1;
        } else {
            maybe_size(rng, &r->phrases[0], o->p_size);
        }
        break;
    case WORLD_CAT_COUNTING:
        r->phrases[0] = gen_phrase(rng, 2 + draw(rng, 3), ho || coin(rng, o->p_colour), ho);
        break;
    case WORLD_CAT_BACKGROUND:
        r->phrases[0] = gen_phrase(rng, 1, true, ho);
        maybe_size(rng, &r->phrases[0], o->p_size);
        r->bg_style = draw(rng, WORLD_BG_STYLE_COUNT);
        break;
    case WORLD_CAT_TWO_OBJECTS:
    case WORLD_CAT_COLOUR_ATTRIBUTION: {
        bool attr = cat == WORLD_CAT_COLOUR_ATTRIBUTION;
        r->n_phrases = 2;
        for (int tries = 0;; tries++) {
            for (int i = 0; i < 2; i++) r->phrases[i] = gen_phrase(rng, 1, attr || ho || coin(rng, o->p_colour), ho && i == which);
            world_phrase *a = &r->phrases[0], *b = &r->phrases[1];
            // Two different shapes; colour attribution also needs two colours.
            if (a->shape != b->shape && (!attr || a->colour != b->colour)) break;
            if (tries > 1000) break;  // not reached: the space is large
        }
        break;
    }
    case WORLD_CAT_POSITION: {
        r->n_phrases = 2;
        for (;;) {
            world_shape sa, sb;
            world_relation rel;
            if (ho) {
                const int *h = heldout_rels[draw(rng, N_HELDOUT_RELS)];
                bool flip = draw(rng, 2);
                sa = (world_shape)h[flip ? 2 : 0];
                sb = (world_shape)h[flip ? 0 : 2];
                rel = flip ? inverse((world_relation)h[1]) : (world_relation)h[1];
            } else {
                sa = (world_shape)draw(rng, WORLD_SHAPE_COUNT);
                sb = (world_shape)draw(rng, WORLD_SHAPE_COUNT);
                rel = (world_relation)(1 + draw(rng, 4));
                if (world_heldout_relation(sa, rel, sb)) continue;
            }
            r->relation = rel;
            r->phrases[0] = new_phrase(sa, 1);
            r->phrases[1] = new_phrase(sb, 1);
            for (int i = 0; i < 2; i++)
                if (coin(rng, o->p_colour)) r->phrases[i].colour = train_colour(rng, r->phrases[i].shape);
            // The two phrases must be told apart.
            if (sa != sb || (r->phrases[0].colour >= 0 && r->phrases[1].colour >= 0 && r->phrases[0].colour != r->phrases[1].colour))
                break;
        }
        break;
    }
    default: break;
    }
    if (cat != WORLD_CAT_BACKGROUND && o->p_bg > 0 && coin(rng, o->p_bg)) r->bg_style = draw(rng, WORLD_BG_STYLE_COUNT);
}

// ---- train ------------------------------------------------------------------------

// Category weights of the train distribution (position a little heavier: it
// is the hardest to learn).
static const int train_weights[WORLD_CAT_COUNT] = {2, 2, 2, 2, 3, 2, 2};

static const gen_opts train_opts = {GEN_TRAIN, 0.8, 0.25, 0.1};

// --- hard negatives (world_reqs_negative) ---------------------------------------

typedef enum neg_edit {
    NEG_REL_FLIP,      // left of <-> right of, above <-> below
    NEG_REL_SWAP,      // the phrases swapped, the relation kept
    NEG_REL_AXIS,      // the relation moved to the other axis
    NEG_COUNT,         // an exact count +-1, or "a X" -> "two Xs"
    NEG_COLOUR,        // a phrase's colour named or changed
    NEG_SHAPE,         // a phrase's shape changed
    NEG_COLOUR_SWAP,   // two coloured phrases exchange their colours
    NEG_BACKGROUND,    // the named background style changed
    NEG_ADD,           // one phrase, no relation: "... and a <random object>"
    NEG_EDIT_COUNT
} neg_edit;

static bool neg_applies(neg_edit e, const world_reqs *r) {
    bool rel = r->relation != WORLD_REL_NONE, two = r->n_phrases == 2;
    switch (e) {
    case NEG_REL_FLIP:
    case NEG_REL_SWAP:
    case NEG_REL_AXIS: return rel;
    case NEG_COUNT: return !rel;  // a relation's phrases must stay single objects
    case NEG_COLOUR:
    case NEG_SHAPE: return true;
    case NEG_COLOUR_SWAP:
        return two && r->phrases[0].colour >= 0 && r->phrases[1].colour >= 0 && r->phrases[0].colour != r->phrases[1].colour;
    case NEG_BACKGROUND: return r->bg_style >= 0;
    case NEG_ADD: return !two;
    default: return false;
    }
}

static void neg_apply(neg_edit e, world_reqs *r, silt_rng *rng) {
    int i = draw(rng, r->n_phrases);
    world_phrase *ph = &r->phrases[i];
    switch (e) {
    case NEG_REL_FLIP: r->relation = inverse(r->relation); break;
    case NEG_REL_SWAP: {
        world_phrase t = r->phrases[0];
        r->phrases[0] = r->phrases[1];
        r->phrases[1] = t;
        break;
    }
    case NEG_REL_AXIS: {
        bool horizontal = r->relation == WORLD_REL_LEFT_OF || r->relation == WORLD_REL_RIGHT_OF;
        r->relation = horizontal ? (coin(rng, 0.5) ? WORLD_REL_ABOVE : WORLD_REL_BELOW)
                                 : (coin(rng, 0.5) ? WORLD_REL_LEFT_OF : WORLD_REL_RIGHT_OF);
        break;
    }
    case NEG_COUNT:
        if (ph->count == 1) ph->count = 2;
        else if (ph->count == 4) ph->count = 3;
        else if (ph->count == 2) ph->count = 3;
        else ph->count += coin(rng, 0.5) ? 1 : -1;
        ph->exact = ph->count > 1;
        break;
    case NEG_COLOUR: {
        int c = draw(rng, WORLD_COLOUR_COUNT - (ph->colour >= 0));
        if (ph->colour >= 0 && c >= ph->colour) c++;  // any colour but its own
        ph->colour = c;
        break;
    }
    case NEG_SHAPE: {
        int s = draw(rng, WORLD_SHAPE_COUNT - 1);
        ph->shape = (world_shape)(s >= (int)ph->shape ? s + 1 : s);
        break;
    }
    case NEG_COLOUR_SWAP: {
        int t = r->phrases[0].colour;
        r->phrases[0].colour = r->phrases[1].colour;
        r->phrases[1].colour = t;
        break;
    }
    case NEG_BACKGROUND: {
        int b = draw(rng, WORLD_BG_STYLE_COUNT - 1);
        r->bg_style = b >= r->bg_style ? b + 1 : b;
        break;
    }
    case NEG_ADD:
        r->phrases[1] = gen_phrase(rng, 1, coin(rng, 0.5), false);
        r->n_phrases = 2;
        break;
    default: break;
    }
}

silt_status world_reqs_negative(const world_reqs *r, const world_scene *s, silt_rng *rng, world_reqs *out) {
    if (!r || !s || !rng || !out) return SILT_FAIL(SILT_ERR_ARG, "world_reqs_negative: NULL argument");
    SILT_TRY(world_reqs_validate(r));
    neg_edit ok[NEG_EDIT_COUNT];
    int n = 0;
    for (int e = 0; e < NEG_EDIT_COUNT; e++)
        if (neg_applies((neg_edit)e, r)) ok[n++] = (neg_edit)e;
    for (int tries = 0; tries < 32; tries++) {
        world_reqs cand = *r;
        neg_apply(ok[draw(rng, n)], &cand, rng);
        if (world_reqs_validate(&cand) != SILT_OK || world_reqs_heldout(&cand)) continue;
        world_check chk;
        world_reqs_check_scene(&cand, s, &chk);
        if (chk.pass) continue;
        *out = cand;
        return SILT_OK;
    }
    return SILT_FAIL(SILT_ERR_UNSUPPORTED, "world_reqs_negative: no false one-edit caption found for this scene");
}

void world_train_weights(int out[WORLD_CAT_COUNT]) { memcpy(out, train_weights, sizeof train_weights); }

silt_status world_train_item(uint64_t seed, int64_t index, const int *weights, world_item *out) {
    if (!out) return SILT_FAIL(SILT_ERR_ARG, "train item: NULL out");
    if (index < 0) return SILT_FAIL(SILT_ERR_ARG, "train item: index %lld < 0", (long long)index);
    if (!weights) weights = train_weights;
    int total = 0;
    for (int c = 0; c < WORLD_CAT_COUNT; c++) {
        if (weights[c] < 0 || weights[c] > WORLD_TRAIN_WEIGHT_MAX)
            return SILT_FAIL(SILT_ERR_ARG, "train item: category %s weight %d (0..%d)",
                             world_category_name((world_category)c), weights[c], WORLD_TRAIN_WEIGHT_MAX);
        total += weights[c];
    }
    if (total < 1) return SILT_FAIL(SILT_ERR_ARG, "train item: every category weight is 0");
    silt_rng rng = silt_rng_init(seed, (uint64_t)index);
    int x = draw(&rng, total), cat = 0;
    while (x >= weights[cat]) x -= weights[cat++];
    world_item it;
    memset(&it, 0, sizeof it);
    it.category = (world_category)cat;
    it.seed = seed;
    gen_reqs(it.category, &train_opts, &rng, &it.reqs);
    SILT_TRY(world_caption_format(&it.reqs, it.caption, sizeof it.caption));
    SILT_TRY(world_scene_for_reqs(&it.reqs, world_heldout_pairs(), &rng, &it.scene));
    *out = it;
    return SILT_OK;
}

// ---- fixed lists ----------------------------------------------------------------

#define EVAL_PER_CAT 72
#define HELDOUT_PER_CAT 24
#define EVAL_SEED 0x5117e7a1u     // seeds of the fixed lists' generators
#define HELDOUT_SEED 0x5117e7a2u
#define MAX_DRAWS 200000

typedef struct fixed_entry {
    world_category category;
    uint32_t seed;
    world_reqs reqs;
    char caption[WORLD_CAPTION_MAX];
} fixed_entry;

typedef struct fixed_list {
    pthread_once_t once;
    silt_status status;
    int n;
    fixed_entry *entries;
} fixed_list;

static fixed_entry eval_entries[WORLD_CAT_COUNT * EVAL_PER_CAT];
static fixed_entry heldout_entries[(WORLD_CAT_COUNT - 1) * HELDOUT_PER_CAT];
static fixed_list eval_list = {PTHREAD_ONCE_INIT, SILT_OK, 0, eval_entries};
static fixed_list heldout_list = {PTHREAD_ONCE_INIT, SILT_OK, 0, heldout_entries};

static const world_category heldout_cats[WORLD_CAT_COUNT - 1] = {
    WORLD_CAT_COLOURS, WORLD_CAT_TWO_OBJECTS, WORLD_CAT_COUNTING, WORLD_CAT_POSITION, WORLD_CAT_COLOUR_ATTRIBUTION,
    WORLD_CAT_BACKGROUND};

// Fills `per_cat` distinct captions for each category, drawing with the
// list's seed (stream = category), then interleaves the categories.
static silt_status build_list(fixed_list *L, const world_category *cats, int n_cats, int per_cat, uint64_t seed,
                              const gen_opts *opts) {
    fixed_entry *scratch = malloc(sizeof *scratch * (size_t)n_cats * (size_t)per_cat);
    if (!scratch) return SILT_FAIL(SILT_ERR_OOM, "suite: out of memory");
    int total = 0;
    for (int ci = 0; ci < n_cats; ci++) {
        world_category cat = cats[ci];
        silt_rng rng = silt_rng_init(seed, (uint64_t)cat);
        int have = 0;
        for (int d = 0; d < MAX_DRAWS && have < per_cat; d++) {
            fixed_entry e;
            memset(&e, 0, sizeof e);
            e.category = cat;
            gen_reqs(cat, opts, &rng, &e.reqs);
            bool held = world_reqs_heldout(&e.reqs);
            if (held != (opts->mode == GEN_HELDOUT)) continue;
            if (world_caption_format(&e.reqs, e.caption, sizeof e.caption) != SILT_OK) {
                free(scratch);
                return SILT_ERR_NUMERIC;
            }
            // Distinct within the category (single_object and colours share
            // some coloured prompts; each keeps its own seed).
            bool dup = false;
            for (int k = 0; k < have && !dup; k++) dup = !strcmp(scratch[ci * per_cat + k].caption, e.caption);
            if (dup) continue;
            scratch[ci * per_cat + have++] = e;
        }
        if (have < per_cat) {
            free(scratch);
            return SILT_FAIL(SILT_ERR_NUMERIC, "suite: only %d distinct %s prompts (need %d)", have, world_category_name(cat),
                             per_cat);
        }
    }
    for (int k = 0; k < per_cat; k++)
        for (int ci = 0; ci < n_cats; ci++) {
            fixed_entry *e = &L->entries[total];
            *e = scratch[ci * per_cat + k];
            // Per-prompt seed: the first word of the list seed's stream for this index.
            silt_rng r = silt_rng_init(seed ^ 0x9e3779b97f4a7c15ull, (uint64_t)total);
            e->seed = silt_rng_next_u32(&r) & 0x7fffffffu;
            total++;
        }
    free(scratch);
    L->n = total;
    return SILT_OK;
}

static void build_eval(void) {
    static const world_category cats[WORLD_CAT_COUNT] = {
        WORLD_CAT_SINGLE_OBJECT, WORLD_CAT_TWO_OBJECTS, WORLD_CAT_COUNTING, WORLD_CAT_COLOURS,
        WORLD_CAT_POSITION, WORLD_CAT_COLOUR_ATTRIBUTION, WORLD_CAT_BACKGROUND};
    // GenEval-like: colours optional where the category does not test them
    // (half the time), sizes sometimes, no background clause outside its category.
    const gen_opts o = {GEN_TRAIN, 0.5, 0.3, 0.0};
    eval_list.status = build_list(&eval_list, cats, WORLD_CAT_COUNT, EVAL_PER_CAT, EVAL_SEED, &o);
}

static void build_heldout(void) {
    const gen_opts o = {GEN_HELDOUT, 0.5, 0.0, 0.0};
    heldout_list.status = build_list(&heldout_list, heldout_cats, WORLD_CAT_COUNT - 1, HELDOUT_PER_CAT, HELDOUT_SEED, &o);
}

static fixed_list *get_list(world_suite s) {
    if (s == WORLD_SUITE_EVAL) {
        pthread_once(&eval_list.once, build_eval);
        return &eval_list;
    }
    pthread_once(&heldout_list.once, build_heldout);
    return &heldout_list;
}

int64_t world_suite_size(world_suite s) {
    switch (s) {
    case WORLD_SUITE_EVAL: return WORLD_CAT_COUNT * EVAL_PER_CAT;
    case WORLD_SUITE_HELDOUT: return (WORLD_CAT_COUNT - 1) * HELDOUT_PER_CAT;
    default: return -1;
    }
}

int64_t world_suite_category_size(world_suite s, world_category c) {
    if ((int)c < 0 || c >= WORLD_CAT_COUNT) return 0;
    switch (s) {
    case WORLD_SUITE_EVAL: return EVAL_PER_CAT;
    case WORLD_SUITE_HELDOUT: return c == WORLD_CAT_SINGLE_OBJECT ? 0 : HELDOUT_PER_CAT;
    default: return -1;
    }
}

silt_status world_suite_item(world_suite s, uint64_t seed, int64_t index, world_item *out) {
    if (!out) return SILT_FAIL(SILT_ERR_ARG, "world_suite_item: NULL out");
    if ((int)s < 0 || s >= WORLD_SUITE_COUNT) return SILT_FAIL(SILT_ERR_ARG, "world_suite_item: suite %d out of range", (int)s);
    if (index < 0) return SILT_FAIL(SILT_ERR_ARG, "world_suite_item: index %lld < 0", (long long)index);
    if (s == WORLD_SUITE_TRAIN) return world_train_item(seed, index, NULL, out);
    fixed_list *L = get_list(s);
    if (L->status != SILT_OK) return SILT_FAIL(L->status, "suite %s could not be built", suite_names[s]);
    if (index >= L->n)
        return SILT_FAIL(SILT_ERR_ARG, "%s suite: index %lld outside 0..%d", suite_names[s], (long long)index, L->n - 1);
    const fixed_entry *e = &L->entries[index];
    world_item it;
    memset(&it, 0, sizeof it);
    it.category = e->category;
    it.seed = e->seed;
    it.reqs = e->reqs;
    memcpy(it.caption, e->caption, sizeof it.caption);
    silt_rng rng = silt_rng_init(seed ? seed : e->seed, (uint64_t)index);
    // Held-out prompts name held-out pairs on purpose; their other objects
    // may be anything. Eval scenes stay inside the train distribution.
    SILT_TRY(world_scene_for_reqs(&it.reqs, s == WORLD_SUITE_EVAL ? world_heldout_pairs() : 0, &rng, &it.scene));
    *out = it;
    return SILT_OK;
}

// "name=w,name=w": the named categories' weights, the others as given in w.
silt_status world_parse_category_weights(const char *spec, int w[WORLD_CAT_COUNT]) {
    char buf[512];
    if (!*spec || snprintf(buf, sizeof buf, "%s", spec) >= (int)sizeof buf)
        return SILT_FAIL(SILT_ERR_ARG, "expected NAME=W,... (a category and an integer weight)");
    int total = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '='), *end = NULL;
        if (!eq) return SILT_FAIL(SILT_ERR_ARG, "'%s': expected NAME=W", tok);
        *eq = 0;
        world_category c;
        if (world_category_from_name(tok, &c) != SILT_OK)
            return SILT_FAIL(SILT_ERR_ARG, "unknown category '%s' (single_object, two_objects, counting, colours, "
                                           "position, colour_attribution, background)", tok);
        long v = strtol(eq + 1, &end, 10);
        if (end == eq + 1 || *end || v < 0 || v > WORLD_TRAIN_WEIGHT_MAX)
            return SILT_FAIL(SILT_ERR_ARG, "%s: weight '%s' is not an integer in 0..%d", tok, eq + 1,
                             WORLD_TRAIN_WEIGHT_MAX);
        w[c] = (int)v;
    }
    for (int c = 0; c < WORLD_CAT_COUNT; c++) total += w[c];
    if (total < 1) return SILT_FAIL(SILT_ERR_ARG, "every weight is 0");
    return SILT_OK;
}
