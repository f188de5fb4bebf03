// Scene generation (see scene.h): object placement on a quarter-unit grid,
// background choice under the contrast rule, scenes for captions and
// captions for scenes.
#include "world/scene.h"

#include <math.h>
#include <string.h>

#define GRID 4           // positions per world unit
#define ATTEMPTS 48      // whole-scene retries before giving up
#define PLACE_TRIES 64   // random positions per object before scanning the grid

static int draw(silt_rng *r, int n) { return (int)silt_rng_uniform_int(r, (uint64_t)n); }
static bool coin(silt_rng *r, double p) { return silt_rng_next_double(r) < p; }

static bool gap_ok(const world_object *a, const world_object *b) {
    double reach = (world_size_extent(a->size) + world_size_extent(b->size)) / 2 + WORLD_GAP - 1e-9;
    double dx = fabs(a->cx - b->cx), dy = fabs(a->cy - b->cy);
    return dx >= reach || dy >= reach;  // Chebyshev distance between boxes >= WORLD_GAP
}

// Can object i stand at its current position given objects [0, i)? With a
// relation, object 0 must stand in it to object 1.
static bool position_ok(const world_object *objs, int i, world_relation rel) {
    for (int j = 0; j < i; j++)
        if (!gap_ok(&objs[i], &objs[j])) return false;
    if (rel != WORLD_REL_NONE && i == 1) {
        world_observed a = world_observe_object(&objs[0]), b = world_observe_object(&objs[1]);
        if (!world_relation_clear(&a, &b, rel)) return false;
    }
    return true;
}

// Grid range of centres for an object of half extent h: [lo, lo + steps/GRID].
static void centre_range(double h, double *lo, int *steps) {
    *lo = WORLD_MARGIN + h;
    *steps = (int)floor((WORLD_UNITS - 2 * WORLD_MARGIN - 2 * h) * GRID + 1e-9);
}

// Proposal range (grid steps) for object i on one axis. With a relation the
// first object keeps room for the second on the related side, and the second
// is proposed on that side, roughly level with the first (a proposal only:
// position_ok decides).
static void proposal(const world_object *objs, int i, world_relation rel, int axis, double lo, int steps, int *a, int *b) {
    *a = 0;
    *b = steps;
    if (rel == WORLD_REL_NONE || i > 1) return;
    bool horiz = rel == WORLD_REL_LEFT_OF || rel == WORLD_REL_RIGHT_OF;
    // Sign of (object 0 - object 1) along the relation's axis.
    int sign = rel == WORLD_REL_LEFT_OF || rel == WORLD_REL_ABOVE ? -1 : 1;
    if ((axis == 0) != horiz) {
        if (i == 1) {  // level with object 0, within 4 units
            double c = axis == 0 ? objs[0].cx : objs[0].cy;
            int k = (int)floor((c - lo) * GRID + 0.5);
            *a = k - 4 * GRID < 0 ? 0 : k - 4 * GRID;
            *b = k + 4 * GRID > steps ? steps : k + 4 * GRID;
            if (*a > *b) *a = *b = k < 0 ? 0 : steps;
        }
        return;
    }
    double h0 = world_size_extent(objs[0].size) / 2, h1 = world_size_extent(objs[1].size) / 2;
    int need = (int)ceil((h0 + h1 + WORLD_GAP) * GRID);  // centre distance for the gap
    if (i == 0) {
        // Object 1's centre range on this axis, in object 0's grid.
        double lo1 = WORLD_MARGIN + h1, hi1 = WORLD_UNITS - WORLD_MARGIN - h1;
        if (sign < 0) *b = (int)floor((hi1 - lo) * GRID) - need;
        else *a = (int)ceil((lo1 - lo) * GRID) + need;
    } else {
        double c = axis == 0 ? objs[0].cx : objs[0].cy;
        int k = (int)floor((c - lo) * GRID + 0.5);
        if (sign < 0) *a = k + need;
        else *b = k - need;
    }
    if (*a < 0) *a = 0;
    if (*b > steps) *b = steps;
    if (*a > *b) *a = 0, *b = steps;
}

// Places object i: random grid positions first (cheap, nearly always enough),
// then a scan of every grid position, choosing uniformly among the feasible.
static bool place_one(world_object *objs, int i, world_relation rel, silt_rng *rng) {
    double lo;
    int steps, xa, xb, ya, yb;
    centre_range(world_size_extent(objs[i].size) / 2, &lo, &steps);
    proposal(objs, i, rel, 0, lo, steps, &xa, &xb);
    proposal(objs, i, rel, 1, lo, steps, &ya, &yb);
    for (int t = 0; t < PLACE_TRIES; t++) {
        objs[i].cx = lo + (double)(xa + draw(rng, xb - xa + 1)) / GRID;
        objs[i].cy = lo + (double)(ya + draw(rng, yb - ya + 1)) / GRID;
        if (position_ok(objs, i, rel)) return true;
    }
    if (rel != WORLD_REL_NONE && i == 1) {
        // Two objects only: scan every grid point against the relation.
        int n = 0;
        for (int pass = 0; pass < 2; pass++) {
            int pick = pass ? draw(rng, n) : -1, k = 0;
            if (pass && n == 0) return false;
            for (int yi = 0; yi <= steps; yi++)
                for (int xi = 0; xi <= steps; xi++) {
                    objs[i].cx = lo + (double)xi / GRID;
                    objs[i].cy = lo + (double)yi / GRID;
                    if (!position_ok(objs, i, rel)) continue;
                    if (k++ == pick) return true;
                }
            n = k;
        }
        return false;
    }
    // Without a relation the feasible set of a row is [0, steps] less one
    // open interval per placed object the row passes within reach of; all
    // values are multiples of 1/GRID, so the interval ends are exact.
    int iv[WORLD_MAX_OBJECTS][2], counts[WORLD_UNITS * GRID + 1], total = 0;
    for (int pass = 0; pass < 2; pass++) {
        int pick = pass ? draw(rng, total) : -1;
        for (int yi = 0; yi <= steps; yi++) {
            if (pass && pick >= counts[yi]) { pick -= counts[yi]; continue; }
            double y = lo + (double)yi / GRID;
            int n = 0;
            for (int j = 0; j < i; j++) {
                double reach = (world_size_extent(objs[i].size) + world_size_extent(objs[j].size)) / 2 + WORLD_GAP;
                if (fabs(y - objs[j].cy) >= reach - 1e-9) continue;
                iv[n][0] = (int)lround((objs[j].cx - reach - lo) * GRID) + 1;
                iv[n][1] = (int)lround((objs[j].cx + reach - lo) * GRID) - 1;
                n++;
            }
            if (!pass) {
                int free_pts = 0;
                for (int xi = 0; xi <= steps; xi++) {  // at most 113 points, n <= 3 intervals
                    bool ok = true;
                    for (int q = 0; q < n && ok; q++) ok = xi < iv[q][0] || xi > iv[q][1];
                    free_pts += ok;
                }
                counts[yi] = free_pts;
                total += free_pts;
                continue;
            }
            for (int xi = 0; xi <= steps; xi++) {
                bool ok = true;
                for (int q = 0; q < n && ok; q++) ok = xi < iv[q][0] || xi > iv[q][1];
                if (ok && pick-- == 0) {
                    objs[i].cx = lo + (double)xi / GRID;
                    objs[i].cy = y;
                    return position_ok(objs, i, rel);
                }
            }
            return false;  // not reached: counts[yi] > pick
        }
        if (total == 0) return false;
    }
    return false;
}

// Last resort: one object per quadrant, each kept 1.5 units off the midlines
// (so any two are >= 3 apart), with the relation's pair side by side.
static bool place_quadrants(world_object *objs, int n, world_relation rel, silt_rng *rng) {
    int quad[4] = {0, 1, 2, 3};  // quadrant q: column q & 1, row q >> 1
    for (int i = 3; i > 0; i--) {
        int j = draw(rng, i + 1), t = quad[i];
        quad[i] = quad[j];
        quad[j] = t;
    }
    if (rel != WORLD_REL_NONE) {
        int row = draw(rng, 2), col = draw(rng, 2);
        switch (rel) {
        case WORLD_REL_LEFT_OF: quad[0] = row * 2; quad[1] = row * 2 + 1; break;
        case WORLD_REL_RIGHT_OF: quad[0] = row * 2 + 1; quad[1] = row * 2; break;
        case WORLD_REL_ABOVE: quad[0] = col; quad[1] = 2 + col; break;
        default: quad[0] = 2 + col; quad[1] = col; break;
        }
    }
    const double mid = WORLD_UNITS / 2.0, half_gap = WORLD_GAP / 2;
    for (int i = 0; i < n; i++) {
        double h = world_size_extent(objs[i].size) / 2;
        double c[2];
        for (int axis = 0; axis < 2; axis++) {
            int side = axis == 0 ? (quad[i] & 1) : (quad[i] >> 1);
            double lo = side ? mid + half_gap + h : WORLD_MARGIN + h;
            double hi = side ? WORLD_UNITS - WORLD_MARGIN - h : mid - half_gap - h;
            int steps = (int)floor((hi - lo) * GRID + 1e-9);
            if (steps < 0) return false;
            c[axis] = lo + (double)draw(rng, steps + 1) / GRID;
        }
        objs[i].cx = c[0];
        objs[i].cy = c[1];
    }
    for (int i = 0; i < n; i++)
        if (!position_ok(objs, i, rel)) return false;
    return true;
}

static bool place_all(world_object *objs, int n, world_relation rel, silt_rng *rng) {
    for (int attempt = 0; attempt < 8; attempt++) {
        bool ok = true;
        for (int i = 0; i < n && ok; i++) ok = place_one(objs, i, rel, rng);
        if (ok) return true;
    }
    return place_quadrants(objs, n, rel, rng);
}

// Background of `style` (or a random style when style < 0) whose colours keep
// the contrast rule with every object; false when no colours fit.
static bool choose_background(world_scene *s, int style, silt_rng *rng) {
    world_background bg;
    memset(&bg, 0, sizeof bg);
    bg.style = (world_bg_style)(style >= 0 ? style : draw(rng, WORLD_BG_STYLE_COUNT));
    int pairs[WORLD_COLOUR_COUNT * WORLD_COLOUR_COUNT][2], n = 0;
    for (int a = 0; a < WORLD_COLOUR_COUNT; a++)
        for (int b = 0; b < WORLD_COLOUR_COUNT; b++) {
            if (bg.style == WORLD_BG_PLAIN ? b != 0 : b == a) continue;
            bg.c1 = (world_colour)a;
            bg.c2 = (world_colour)b;
            bool ok = true;
            for (int i = 0; i < s->n_objects && ok; i++) ok = world_bg_contrast(&bg, s->objects[i].colour) >= WORLD_MIN_CONTRAST;
            if (ok) {
                pairs[n][0] = a;
                pairs[n][1] = b;
                n++;
            }
        }
    if (n == 0) return false;
    int k = draw(rng, n);
    bg.c1 = (world_colour)pairs[k][0];
    bg.c2 = (world_colour)(bg.style == WORLD_BG_PLAIN ? 0 : pairs[k][1]);
    switch (bg.style) {
    case WORLD_BG_GRADIENT: bg.axis = draw(rng, 2); break;
    case WORLD_BG_STRIPED:
        bg.axis = draw(rng, 2);
        bg.period = 3 + draw(rng, 2);
        bg.ox = draw(rng, 2 * bg.period);
        break;
    case WORLD_BG_CHECKERED:
        bg.period = 4 + draw(rng, 2);
        bg.ox = draw(rng, 2 * bg.period);
        bg.oy = draw(rng, 2 * bg.period);
        break;
    case WORLD_BG_DOTTED:
        bg.period = draw(rng, 2) ? 8 : 6;
        bg.ox = draw(rng, bg.period);
        bg.oy = draw(rng, bg.period);
        break;
    default: break;
    }
    s->bg = bg;
    return true;
}

static int draw_colour(silt_rng *rng, world_shape shape, uint32_t banned) {
    int allowed[WORLD_COLOUR_COUNT], n = 0;
    for (int c = 0; c < WORLD_COLOUR_COUNT; c++)
        if (!(banned & WORLD_PAIR_BIT(c, shape))) allowed[n++] = c;
    return n ? allowed[draw(rng, n)] : 0;
}

silt_status world_scene_random(silt_rng *rng, uint32_t banned, world_scene *out) {
    if (!rng || !out) return SILT_FAIL(SILT_ERR_ARG, "world_scene_random: NULL argument");
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        world_scene s;
        memset(&s, 0, sizeof s);
        s.n_objects = 1 + draw(rng, WORLD_MAX_OBJECTS);
        for (int i = 0; i < s.n_objects; i++) {
            world_object *o = &s.objects[i];
            o->shape = (world_shape)draw(rng, WORLD_SHAPE_COUNT);
            o->colour = (world_colour)draw_colour(rng, o->shape, banned);
            o->size = (world_size)draw(rng, WORLD_SIZE_COUNT);
        }
        if (!place_all(s.objects, s.n_objects, WORLD_REL_NONE, rng)) continue;
        if (!choose_background(&s, -1, rng)) continue;
        if (!world_scene_ok(&s)) continue;
        *out = s;
        return SILT_OK;
    }
    return SILT_FAIL(SILT_ERR_NUMERIC, "world_scene_random: no valid scene in %d attempts", ATTEMPTS);
}

silt_status world_scene_sample(uint64_t seed, uint64_t index, world_scene *out) {
    silt_rng rng = silt_rng_init(seed, index);
    return world_scene_random(&rng, 0, out);
}

silt_status world_scene_for_reqs(const world_reqs *r, uint32_t banned, silt_rng *rng, world_scene *out) {
    if (!rng || !out) return SILT_FAIL(SILT_ERR_ARG, "world_scene_for_reqs: NULL argument");
    SILT_TRY(world_reqs_validate(r));
    int total = world_reqs_object_count(r);
    if (total > WORLD_MAX_OBJECTS)
        return SILT_FAIL(SILT_ERR_ARG, "world_scene_for_reqs: the caption names %d objects; a scene holds at most %d", total,
                         WORLD_MAX_OBJECTS);
    for (int i = 0; i < r->n_phrases; i++) {
        const world_phrase *ph = &r->phrases[i];
        if (ph->colour >= 0 && (banned & WORLD_PAIR_BIT(ph->colour, ph->shape)))
            return SILT_FAIL(SILT_ERR_ARG, "world_scene_for_reqs: %s %s is a banned (held-out) pair",
                             world_colour_name((world_colour)ph->colour), world_shape_name(ph->shape));
    }
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        world_scene s;
        memset(&s, 0, sizeof s);
        for (int i = 0; i < r->n_phrases; i++) {
            const world_phrase *ph = &r->phrases[i];
            for (int k = 0; k < ph->count; k++) {
                world_object *o = &s.objects[s.n_objects++];
                o->shape = ph->shape;
                o->colour = (world_colour)(ph->colour >= 0 ? ph->colour : draw_colour(rng, ph->shape, banned));
                o->size = (world_size)(ph->size >= 0 ? ph->size : draw(rng, WORLD_SIZE_COUNT));
            }
        }
        if (!place_all(s.objects, s.n_objects, r->relation, rng)) continue;
        if (!choose_background(&s, r->bg_style, rng)) continue;
        if (!world_scene_ok(&s)) continue;
        world_check chk;
        world_reqs_check_scene(r, &s, &chk);
        if (!chk.pass) continue;
        *out = s;
        return SILT_OK;
    }
    char cap[WORLD_CAPTION_MAX] = "";
    world_caption_format(r, cap, sizeof cap);
    return SILT_FAIL(SILT_ERR_NUMERIC, "world_scene_for_reqs: no scene satisfies '%s' (contradictory counts?)", cap);
}

// ---- captions for scenes --------------------------------------------------------

static world_phrase phrase_of(const world_object *o, bool colour, bool size) {
    world_phrase ph;
    memset(&ph, 0, sizeof ph);
    ph.count = 1;
    ph.shape = o->shape;
    ph.colour = colour ? (int)o->colour : -1;
    ph.size = size ? (int)o->size : -1;
    return ph;
}

silt_status world_reqs_describe(const world_scene *s, world_category cat, double named, silt_rng *rng, world_reqs *out) {
    if (!s || !rng || !out) return SILT_FAIL(SILT_ERR_ARG, "world_reqs_describe: NULL argument");
    SILT_TRY(world_scene_validate(s));
    int n = s->n_objects;
    if (n < 1) return SILT_FAIL(SILT_ERR_UNSUPPORTED, "world_reqs_describe: the scene has no objects");
    world_reqs r;
    memset(&r, 0, sizeof r);
    r.bg_style = -1;
    r.n_phrases = 1;
    int pairs[WORLD_MAX_OBJECTS * WORLD_MAX_OBJECTS][3], np = 0;
    switch (cat) {
    case WORLD_CAT_SINGLE_OBJECT:
        if (n != 1) return SILT_FAIL(SILT_ERR_UNSUPPORTED, "single_object: the scene has %d objects", n);
        r.phrases[0] = phrase_of(&s->objects[0], coin(rng, named), coin(rng, 0.25));
        break;
    case WORLD_CAT_COLOURS:
    case WORLD_CAT_BACKGROUND:
        r.phrases[0] = phrase_of(&s->objects[draw(rng, n)], true, coin(rng, 0.25));
        if (cat == WORLD_CAT_BACKGROUND) r.bg_style = (int)s->bg.style;
        break;
    case WORLD_CAT_COUNTING: {
        bool colour = coin(rng, named);
        for (int i = 0; i < n; i++) {
            int c = 0;
            for (int j = 0; j < n; j++)
                c += s->objects[j].shape == s->objects[i].shape && (!colour || s->objects[j].colour == s->objects[i].colour);
            if (c >= 2) { pairs[np][0] = i; pairs[np][1] = c; np++; }
        }
        if (!np) return SILT_FAIL(SILT_ERR_UNSUPPORTED, "counting: no two objects alike in the scene");
        int k = draw(rng, np);
        r.phrases[0] = phrase_of(&s->objects[pairs[k][0]], colour, false);
        r.phrases[0].count = pairs[k][1];
        r.phrases[0].exact = true;
        break;
    }
    case WORLD_CAT_TWO_OBJECTS:
    case WORLD_CAT_COLOUR_ATTRIBUTION:
    case WORLD_CAT_POSITION: {
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                if (i == j) continue;
                const world_object *a = &s->objects[i], *b = &s->objects[j];
                if (cat == WORLD_CAT_COLOUR_ATTRIBUTION && (a->colour == b->colour || a->shape == b->shape)) continue;
                if (cat == WORLD_CAT_TWO_OBJECTS && a->shape == b->shape) continue;
                int rel = 0;
                if (cat == WORLD_CAT_POSITION) {
                    world_observed oa = world_observe_object(a), ob = world_observe_object(b);
                    for (int q = 1; q < WORLD_REL_COUNT && !rel; q++)
                        if (world_relation_clear(&oa, &ob, (world_relation)q)) rel = q;
                    if (!rel) continue;
                }
                pairs[np][0] = i;
                pairs[np][1] = j;
                pairs[np][2] = rel;
                np++;
            }
        if (!np) return SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: no suitable pair of objects in the scene", world_category_name(cat));
        int k = draw(rng, np);
        bool ca = cat == WORLD_CAT_COLOUR_ATTRIBUTION || coin(rng, named);
        bool cb = cat == WORLD_CAT_COLOUR_ATTRIBUTION || coin(rng, named);
        r.n_phrases = 2;
        r.phrases[0] = phrase_of(&s->objects[pairs[k][0]], ca, false);
        r.phrases[1] = phrase_of(&s->objects[pairs[k][1]], cb, false);
        r.relation = (world_relation)pairs[k][2];
        break;
    }
    default: return SILT_FAIL(SILT_ERR_ARG, "world_reqs_describe: category %d out of range", (int)cat);
    }
    world_check chk;
    world_reqs_check_scene(&r, s, &chk);
    if (!chk.pass) return SILT_FAIL(SILT_ERR_NUMERIC, "world_reqs_describe: internal error, the caption does not hold");
    *out = r;
    return SILT_OK;
}
