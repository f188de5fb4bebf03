// Caption grammar: vocabulary, parser, canonical formatter and the
// requirement checker shared by the evaluator and the scene oracle.
#include "world/caption.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

// Stable order: token ids are 4 + index (text/world_tokenizer.h).
static const char *const vocab[] = {
    "a",      "an",     "and",     "on",        "of",       "the",     "to",         "photo",  "left",
    "right",  "above",  "below",   "two",       "three",    "four",    "small",      "large",  "red",
    "green",  "blue",   "yellow",  "purple",    "cyan",     "white",   "black",      "circle", "circles",
    "square", "squares", "triangle", "triangles", "cross",  "crosses", "plain",      "gradient",
    "striped", "dotted", "checkered", "background",
};
#define VOCAB_N ((int)(sizeof vocab / sizeof *vocab))

int world_vocab_size(void) { return VOCAB_N; }
const char *world_vocab_word(int i) { return i >= 0 && i < VOCAB_N ? vocab[i] : NULL; }
int world_vocab_find(const char *word) {
    if (!word) return -1;
    for (int i = 0; i < VOCAB_N; i++)
        if (!strcmp(vocab[i], word)) return i;
    return -1;
}

static const char *const relation_names[WORLD_REL_COUNT] = {"none", "left of", "right of", "above", "below"};
static const char *const category_names[WORLD_CAT_COUNT] = {
    "single_object", "two_objects", "counting", "colours", "position", "colour_attribution", "background"};
static const char *const plural_names[WORLD_SHAPE_COUNT] = {"circles", "squares", "triangles", "crosses"};
static const char *const number_words[5] = {"", "a", "two", "three", "four"};

const char *world_relation_name(world_relation r) {
    return (int)r >= 0 && r < WORLD_REL_COUNT ? relation_names[r] : "?";
}
silt_status world_relation_from_name(const char *name, world_relation *out) {
    if (!name || !out) return SILT_FAIL(SILT_ERR_ARG, "world_relation_from_name: NULL argument");
    for (int i = 0; i < WORLD_REL_COUNT; i++)
        if (!strcmp(relation_names[i], name)) { *out = (world_relation)i; return SILT_OK; }
    return SILT_FAIL(SILT_ERR_ARG, "unknown relation '%s' (expected one of: none, left of, right of, above, below)", name);
}
static const char *const req_kind_names[] = {"objects", "relation", "distinct", "background"};

const char *world_req_kind_name(world_req_kind k) { return (int)k >= 0 && k <= WORLD_REQ_BACKGROUND ? req_kind_names[k] : "?"; }

silt_status world_req_kind_from_name(const char *name, world_req_kind *out) {
    if (!name || !out) return SILT_FAIL(SILT_ERR_ARG, "world_req_kind_from_name: NULL argument");
    for (int i = 0; i <= WORLD_REQ_BACKGROUND; i++)
        if (!strcmp(req_kind_names[i], name)) { *out = (world_req_kind)i; return SILT_OK; }
    return SILT_FAIL(SILT_ERR_ARG, "unknown requirement kind '%s' (expected one of: objects, relation, distinct, background)", name);
}

const char *world_category_name(world_category c) {
    return (int)c >= 0 && c < WORLD_CAT_COUNT ? category_names[c] : "?";
}
silt_status world_category_from_name(const char *name, world_category *out) {
    if (!name || !out) return SILT_FAIL(SILT_ERR_ARG, "world_category_from_name: NULL argument");
    for (int i = 0; i < WORLD_CAT_COUNT; i++)
        if (!strcmp(category_names[i], name)) { *out = (world_category)i; return SILT_OK; }
    return SILT_FAIL(SILT_ERR_ARG,
                     "unknown category '%s' (expected one of: single_object, two_objects, counting, colours, position, "
                     "colour_attribution, background)",
                     name);
}

static bool is_sep(unsigned char c) { return c < 0x80 && !isalnum(c); }

bool world_caption_next_word(const char *text, size_t *pos, char *buf, size_t n) {
    if (!text || !pos) return false;
    size_t i = *pos;
    while (text[i] && is_sep((unsigned char)text[i])) i++;
    if (!text[i]) { *pos = i; return false; }
    size_t len = 0;
    while (text[i] && !is_sep((unsigned char)text[i])) {
        unsigned char c = (unsigned char)text[i++];
        if (buf && n && len + 1 < n) buf[len++] = (char)(c < 0x80 ? tolower(c) : c);
    }
    if (buf && n) buf[len] = 0;
    *pos = i;
    return true;
}

// ---- parser -------------------------------------------------------------------

#define MAX_WORDS 48
#define WORD_BYTES 32

typedef struct parser {
    char words[MAX_WORDS][WORD_BYTES];
    int ids[MAX_WORDS];
    int n, i;
} parser;

static bool is_word(const parser *p, const char *w) { return p->i < p->n && !strcmp(p->words[p->i], w); }
static const char *cur(const parser *p) { return p->i < p->n ? p->words[p->i] : "end of caption"; }
static const char *prev(const parser *p) { return p->i > 0 ? p->words[p->i - 1] : "start"; }

static silt_status expect(parser *p, const char *w) {
    if (!is_word(p, w))
        return SILT_FAIL(SILT_ERR_ARG, "caption: expected '%s' after '%s', got '%s' (word %d)", w, prev(p), cur(p), p->i + 1);
    p->i++;
    return SILT_OK;
}

static int lookup(const char *w, const char *const *table, int n) {
    for (int k = 0; k < n; k++)
        if (!strcmp(table[k], w)) return k;
    return -1;
}

static int find_size(const char *w) {
    for (int k = 0; k < WORLD_SIZE_COUNT; k++)
        if (!strcmp(w, world_size_name((world_size)k))) return k;
    return -1;
}
static int find_colour(const char *w) {
    for (int k = 0; k < WORLD_COLOUR_COUNT; k++)
        if (!strcmp(w, world_colour_name((world_colour)k))) return k;
    return -1;
}
// Singular or plural.
static int find_shape(const char *w) {
    for (int k = 0; k < WORLD_SHAPE_COUNT; k++)
        if (!strcmp(w, world_shape_name((world_shape)k)) || !strcmp(w, plural_names[k])) return k;
    return -1;
}
static int find_style(const char *w) {
    for (int k = 0; k < WORLD_BG_STYLE_COUNT; k++)
        if (!strcmp(w, world_bg_style_name((world_bg_style)k))) return k;
    return -1;
}

static silt_status parse_phrase(parser *p, world_phrase *ph) {
    memset(ph, 0, sizeof *ph);
    ph->colour = ph->size = -1;
    if (is_word(p, "a") || is_word(p, "an")) {
        ph->count = 1;
    } else {
        int k = p->i < p->n ? lookup(p->words[p->i], number_words, 5) : -1;
        if (k < 2)
            return SILT_FAIL(SILT_ERR_ARG, "caption: expected 'a' or a number (two, three, four) after '%s', got '%s' (word %d)",
                             prev(p), cur(p), p->i + 1);
        ph->count = k;
        ph->exact = true;
    }
    p->i++;
    for (;;) {
        if (p->i >= p->n)
            return SILT_FAIL(SILT_ERR_ARG, "caption: expected a shape (circle, square, triangle, cross) after '%s'", prev(p));
        const char *w = p->words[p->i];
        int k;
        if ((k = find_size(w)) >= 0) {
            if (ph->size >= 0) return SILT_FAIL(SILT_ERR_ARG, "caption: two sizes in one phrase ('%s', word %d)", w, p->i + 1);
            ph->size = k;
        } else if ((k = find_colour(w)) >= 0) {
            if (ph->colour >= 0) return SILT_FAIL(SILT_ERR_ARG, "caption: two colours in one phrase ('%s', word %d)", w, p->i + 1);
            ph->colour = k;
        } else if ((k = find_shape(w)) >= 0) {
            ph->shape = (world_shape)k;
            p->i++;
            break;
        } else {
            return SILT_FAIL(SILT_ERR_ARG, "caption: expected a shape (circle, square, triangle, cross) after '%s', got '%s' (word %d)",
                             prev(p), w, p->i + 1);
        }
        p->i++;
    }
    return SILT_OK;
}

static silt_status parse_words(parser *p, world_reqs *r) {
    memset(r, 0, sizeof *r);
    r->bg_style = -1;
    if (p->n == 0) return SILT_FAIL(SILT_ERR_ARG, "caption: empty");
    if (p->n >= 3 && !strcmp(p->words[0], "a") && !strcmp(p->words[1], "photo")) {
        p->i = 2;
        SILT_TRY(expect(p, "of"));
    }
    SILT_TRY(parse_phrase(p, &r->phrases[0]));
    r->n_phrases = 1;
    if (p->i < p->n && !is_word(p, "on")) {
        if (is_word(p, "and")) {
            p->i++;
        } else {
            if (is_word(p, "to")) {
                p->i++;
                SILT_TRY(expect(p, "the"));
                if (!is_word(p, "left") && !is_word(p, "right"))
                    return SILT_FAIL(SILT_ERR_ARG, "caption: expected 'left' or 'right' after 'to the', got '%s' (word %d)", cur(p),
                                     p->i + 1);
            }
            if (is_word(p, "left") || is_word(p, "right")) {
                r->relation = is_word(p, "left") ? WORLD_REL_LEFT_OF : WORLD_REL_RIGHT_OF;
                p->i++;
                SILT_TRY(expect(p, "of"));
            } else if (is_word(p, "above") || is_word(p, "below")) {
                r->relation = is_word(p, "above") ? WORLD_REL_ABOVE : WORLD_REL_BELOW;
                p->i++;
            } else {
                return SILT_FAIL(SILT_ERR_ARG,
                                 "caption: expected 'and', a relation (left of, right of, above, below) or 'on' after '%s', "
                                 "got '%s' (word %d)",
                                 prev(p), cur(p), p->i + 1);
            }
        }
        SILT_TRY(parse_phrase(p, &r->phrases[1]));
        r->n_phrases = 2;
    }
    if (p->i < p->n) {
        if (!is_word(p, "on"))
            return SILT_FAIL(SILT_ERR_ARG, "caption: expected 'on' or the end after '%s', got '%s' (word %d)", prev(p), cur(p),
                             p->i + 1);
        p->i++;
        if (!is_word(p, "a") && !is_word(p, "the"))
            return SILT_FAIL(SILT_ERR_ARG, "caption: expected 'a' after 'on', got '%s' (word %d)", cur(p), p->i + 1);
        p->i++;
        int st = p->i < p->n ? find_style(p->words[p->i]) : -1;
        if (st < 0)
            return SILT_FAIL(SILT_ERR_ARG,
                             "caption: expected a background style (plain, gradient, striped, dotted, checkered) after '%s', "
                             "got '%s' (word %d)",
                             prev(p), cur(p), p->i + 1);
        r->bg_style = st;
        p->i++;
        SILT_TRY(expect(p, "background"));
    }
    if (p->i < p->n)
        return SILT_FAIL(SILT_ERR_ARG, "caption: unexpected '%s' after the end of the caption (word %d)", cur(p), p->i + 1);
    if (r->relation != WORLD_REL_NONE && (r->phrases[0].count != 1 || r->phrases[1].count != 1))
        return SILT_FAIL(SILT_ERR_ARG, "caption: a relation (%s) needs a single object on each side",
                         relation_names[r->relation]);
    return SILT_OK;
}

silt_status world_caption_parse(const char *caption, world_reqs *out) {
    if (!caption || !out) return SILT_FAIL(SILT_ERR_ARG, "world_caption_parse: NULL argument");
    parser p;
    memset(&p, 0, sizeof p);
    size_t pos = 0;
    char unknown[256] = "";
    int n_unknown = 0;
    char w[WORD_BYTES];
    while (world_caption_next_word(caption, &pos, w, sizeof w)) {
        if (p.n >= MAX_WORDS) return SILT_FAIL(SILT_ERR_ARG, "caption: more than %d words", MAX_WORDS);
        memcpy(p.words[p.n], w, sizeof w);
        p.ids[p.n] = world_vocab_find(w);
        if (p.ids[p.n] < 0) {
            // Name each unknown word once, in order.
            bool seen = false;
            for (int k = 0; k < p.n; k++)
                if (p.ids[k] < 0 && !strcmp(p.words[k], w)) seen = true;
            if (!seen) {
                size_t l = strlen(unknown);
                snprintf(unknown + l, sizeof unknown - l, "%s'%s'", n_unknown ? ", " : "", w);
                n_unknown++;
            }
        }
        p.n++;
    }
    if (n_unknown)
        return SILT_FAIL(SILT_ERR_ARG, "caption: unknown word%s %s (the world's vocabulary has %d words: shapes, colours, "
                                       "sizes, counts up to four, relations, background styles)",
                         n_unknown > 1 ? "s" : "", unknown, VOCAB_N);
    world_reqs r;
    SILT_TRY(parse_words(&p, &r));
    *out = r;
    return SILT_OK;
}

static const char *reqs_problem(const world_reqs *r, char *msg, size_t n) {
    if (!r) return "NULL requirements";
    if (r->n_phrases < 1 || r->n_phrases > WORLD_MAX_PHRASES) return snprintf(msg, n, "%d phrases (1 or 2)", r->n_phrases), msg;
    for (int i = 0; i < r->n_phrases; i++) {
        const world_phrase *ph = &r->phrases[i];
        if (ph->count < 1 || ph->count > 4 || ph->exact != (ph->count > 1))
            return snprintf(msg, n, "phrase %d count %d (1 is 'a', 2..4 are exact counts)", i, ph->count), msg;
        if ((int)ph->shape < 0 || ph->shape >= WORLD_SHAPE_COUNT || ph->colour < -1 || ph->colour >= WORLD_COLOUR_COUNT ||
            ph->size < -1 || ph->size >= WORLD_SIZE_COUNT)
            return snprintf(msg, n, "phrase %d has an out-of-range shape, colour or size", i), msg;
    }
    if ((int)r->relation < 0 || r->relation >= WORLD_REL_COUNT) return "relation out of range";
    if (r->relation != WORLD_REL_NONE && (r->n_phrases != 2 || r->phrases[0].count != 1 || r->phrases[1].count != 1))
        return "a relation needs two phrases of one object each";
    if (r->bg_style < -1 || r->bg_style >= WORLD_BG_STYLE_COUNT) return "background style out of range";
    return NULL;
}

silt_status world_reqs_validate(const world_reqs *r) {
    char msg[96];
    const char *p = reqs_problem(r, msg, sizeof msg);
    return p ? SILT_FAIL(SILT_ERR_ARG, "reqs: %s", p) : SILT_OK;
}

// "a large red circle" / "three yellow triangles" / "circles" (bare = no determiner).
static void phrase_text(const world_phrase *ph, bool det, char *out, size_t n) {
    snprintf(out, n, "%s%s%s%s%s%s", det ? number_words[ph->count] : "", det ? " " : "",
             ph->size >= 0 ? world_size_name((world_size)ph->size) : "", ph->size >= 0 ? " " : "",
             ph->colour >= 0 ? world_colour_name((world_colour)ph->colour) : "", ph->colour >= 0 ? " " : "");
    size_t l = strlen(out);
    snprintf(out + l, n - l, "%s", ph->count > 1 ? plural_names[ph->shape] : world_shape_name(ph->shape));
}

silt_status world_caption_format(const world_reqs *r, char *out, size_t n) {
    SILT_TRY(world_reqs_validate(r));
    if (!out || n == 0) return SILT_FAIL(SILT_ERR_ARG, "world_caption_format: no output buffer");
    char buf[WORLD_CAPTION_MAX], p0[64], p1[64];
    phrase_text(&r->phrases[0], true, p0, sizeof p0);
    if (r->n_phrases == 2) {
        phrase_text(&r->phrases[1], true, p1, sizeof p1);
        snprintf(buf, sizeof buf, "%s %s %s", p0, r->relation == WORLD_REL_NONE ? "and" : relation_names[r->relation], p1);
    } else {
        snprintf(buf, sizeof buf, "%s", p0);
    }
    if (r->bg_style >= 0) {
        size_t l = strlen(buf);
        snprintf(buf + l, sizeof buf - l, " on a %s background", world_bg_style_name((world_bg_style)r->bg_style));
    }
    if (strlen(buf) + 1 > n) return SILT_FAIL(SILT_ERR_ARG, "world_caption_format: buffer of %zu bytes too small", n);
    memcpy(out, buf, strlen(buf) + 1);
    return SILT_OK;
}

world_category world_reqs_category(const world_reqs *r) {
    if (r->relation != WORLD_REL_NONE) return WORLD_CAT_POSITION;
    if (r->bg_style >= 0) return WORLD_CAT_BACKGROUND;
    for (int i = 0; i < r->n_phrases; i++)
        if (r->phrases[i].exact) return WORLD_CAT_COUNTING;
    if (r->n_phrases == 2) {
        const world_phrase *a = &r->phrases[0], *b = &r->phrases[1];
        return a->colour >= 0 && b->colour >= 0 && a->colour != b->colour ? WORLD_CAT_COLOUR_ATTRIBUTION
                                                                          : WORLD_CAT_TWO_OBJECTS;
    }
    return r->phrases[0].colour >= 0 ? WORLD_CAT_COLOURS : WORLD_CAT_SINGLE_OBJECT;
}

int world_reqs_object_count(const world_reqs *r) {
    int n = 0;
    for (int i = 0; i < r->n_phrases; i++) n += r->phrases[i].count;
    return n;
}

// ---- checking -----------------------------------------------------------------

unsigned world_relations(const world_observed *a, const world_observed *b, double *dx_out, double *dy_out) {
    double off[2] = {a->cx - b->cx, a->cy - b->cy};
    double dim[2] = {a->w + b->w, a->h + b->h};
    double rev[2];
    for (int k = 0; k < 2; k++) {
        double m = fabs(off[k]) - WORLD_POSITION_THRESHOLD * dim[k];
        rev[k] = (m > 0 ? m : 0) * (off[k] > 0 ? 1 : off[k] < 0 ? -1 : 0);
    }
    double norm = sqrt(off[0] * off[0] + off[1] * off[1]);
    double dx = 0, dy = 0;
    unsigned rels = 0;
    if (fabs(rev[0]) >= 1e-3 || fabs(rev[1]) >= 1e-3) {
        dx = rev[0] / norm;
        dy = rev[1] / norm;
        if (dx < -0.5) rels |= 1u << WORLD_REL_LEFT_OF;
        if (dx > 0.5) rels |= 1u << WORLD_REL_RIGHT_OF;
        if (dy < -0.5) rels |= 1u << WORLD_REL_ABOVE;
        if (dy > 0.5) rels |= 1u << WORLD_REL_BELOW;
    }
    if (dx_out) *dx_out = dx;
    if (dy_out) *dy_out = dy;
    return rels;
}

bool world_relation_clear(const world_observed *a, const world_observed *b, world_relation rel) {
    double dx, dy;
    unsigned rels = world_relations(a, b, &dx, &dy);
    if (rels != 1u << rel) return false;
    switch (rel) {
    case WORLD_REL_LEFT_OF: return dx <= -0.7;
    case WORLD_REL_RIGHT_OF: return dx >= 0.7;
    case WORLD_REL_ABOVE: return dy <= -0.7;
    case WORLD_REL_BELOW: return dy >= 0.7;
    default: return false;
    }
}

static bool phrase_matches(const world_phrase *ph, const world_observed *o) {
    return o->shape == (int)ph->shape && (ph->colour < 0 || o->colour == ph->colour) && (ph->size < 0 || o->size == ph->size);
}

// Could one object match both phrases?
static bool phrases_overlap(const world_phrase *a, const world_phrase *b) {
    if (a->shape != b->shape) return false;
    if (a->colour >= 0 && b->colour >= 0 && a->colour != b->colour) return false;
    if (a->size >= 0 && b->size >= 0 && a->size != b->size) return false;
    return true;
}

static world_req_result *add_req(world_check *c, world_req_kind kind, int phrase) {
    world_req_result *q = &c->reqs[c->n_reqs++];
    memset(q, 0, sizeof *q);
    q->kind = kind;
    q->phrase = phrase;
    q->found = -1;
    return q;
}

void world_reqs_check(const world_reqs *r, const world_observed *obj, int n_obj, int bg_style, world_check *out) {
    memset(out, 0, sizeof *out);
    char msg[96];
    if (reqs_problem(r, msg, sizeof msg) || n_obj < 0 || (n_obj > 0 && !obj)) return;  // pass = false, no requirements
    char t0[64], t1[64];
    for (int i = 0; i < r->n_phrases; i++) {
        const world_phrase *ph = &r->phrases[i];
        int found = 0;
        for (int k = 0; k < n_obj; k++) found += phrase_matches(ph, &obj[k]);
        world_req_result *q = add_req(out, WORLD_REQ_OBJECTS, i);
        q->found = found;
        q->met = ph->exact ? found == ph->count : found >= ph->count;
        phrase_text(ph, true, t0, sizeof t0);
        snprintf(q->text, sizeof q->text, "%s%.48s: found %d", ph->exact ? "exactly " : "", t0, found);
    }
    if (r->relation != WORLD_REL_NONE) {
        bool met = false;
        for (int a = 0; a < n_obj && !met; a++) {
            if (!phrase_matches(&r->phrases[0], &obj[a])) continue;
            for (int b = 0; b < n_obj && !met; b++)
                if (b != a && phrase_matches(&r->phrases[1], &obj[b]) && (world_relations(&obj[a], &obj[b], NULL, NULL) >> r->relation & 1))
                    met = true;
        }
        world_req_result *q = add_req(out, WORLD_REQ_RELATION, -1);
        q->met = met;
        phrase_text(&r->phrases[0], false, t0, sizeof t0);
        phrase_text(&r->phrases[1], false, t1, sizeof t1);
        snprintf(q->text, sizeof q->text, "%.48s %s %.48s: %s", t0, relation_names[r->relation], t1, met ? "yes" : "no");
    }
    if (r->n_phrases == 2 && phrases_overlap(&r->phrases[0], &r->phrases[1])) {
        // Two groups sharing candidates: distinct objects exist iff each
        // group has enough and the union covers both (Hall's condition).
        int m0 = 0, m1 = 0, any = 0;
        for (int k = 0; k < n_obj; k++) {
            bool a = phrase_matches(&r->phrases[0], &obj[k]), b = phrase_matches(&r->phrases[1], &obj[k]);
            m0 += a;
            m1 += b;
            any += a || b;
        }
        int need = r->phrases[0].count + r->phrases[1].count;
        world_req_result *q = add_req(out, WORLD_REQ_DISTINCT, -1);
        q->found = any;
        q->met = m0 >= r->phrases[0].count && m1 >= r->phrases[1].count && any >= need;
        snprintf(q->text, sizeof q->text, "%d distinct objects for both phrases: found %d", need, any);
    }
    if (r->bg_style >= 0) {
        world_req_result *q = add_req(out, WORLD_REQ_BACKGROUND, -1);
        q->met = bg_style == r->bg_style;
        snprintf(q->text, sizeof q->text, "%s background: found %s", world_bg_style_name((world_bg_style)r->bg_style),
                 bg_style >= 0 ? world_bg_style_name((world_bg_style)bg_style) : "unknown");
    }
    int met = 0;
    for (int i = 0; i < out->n_reqs; i++) met += out->reqs[i].met;
    out->score = out->n_reqs ? (double)met / out->n_reqs : 0;
    out->pass = out->n_reqs > 0 && met == out->n_reqs;
}

world_observed world_observe_object(const world_object *o) {
    world_observed v;
    v.shape = (int)o->shape;
    v.colour = (int)o->colour;
    v.size = (int)o->size;
    v.cx = o->cx;
    v.cy = o->cy;
    v.w = v.h = world_size_extent(o->size);
    return v;
}

void world_reqs_check_scene(const world_reqs *r, const world_scene *s, world_check *out) {
    world_observed obs[WORLD_MAX_OBJECTS];
    int n = s && s->n_objects >= 0 && s->n_objects <= WORLD_MAX_OBJECTS ? s->n_objects : 0;
    for (int i = 0; i < n; i++) obs[i] = world_observe_object(&s->objects[i]);
    world_reqs_check(r, obs, n, s ? (int)s->bg.style : -1, out);
}
