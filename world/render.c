// Scene rules, names and the 4x4-supersampled renderer (see render.h).
#include "world/render.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const uint8_t world_palette[WORLD_COLOUR_COUNT][3] = {
    {220, 40, 40},   // red
    {40, 180, 60},   // green
    {40, 80, 220},   // blue
    {240, 220, 40},  // yellow
    {150, 60, 200},  // purple
    {40, 210, 220},  // cyan
    {245, 245, 245}, // white
    {15, 15, 15},    // black
};

static const char *const shape_names[WORLD_SHAPE_COUNT] = {"circle", "square", "triangle", "cross"};
static const char *const colour_names[WORLD_COLOUR_COUNT] = {"red",    "green", "blue",  "yellow",
                                                             "purple", "cyan",  "white", "black"};
static const char *const size_names[WORLD_SIZE_COUNT] = {"small", "large"};
static const char *const bg_names[WORLD_BG_STYLE_COUNT] = {"plain", "gradient", "striped", "dotted", "checkered"};

static silt_status from_name(const char *what, const char *const *names, int n, const char *name, int *out) {
    if (!name) return SILT_FAIL(SILT_ERR_ARG, "%s name is NULL", what);
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name)) { *out = i; return SILT_OK; }
    char list[160] = "";
    for (int i = 0; i < n; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, names[i], sizeof list - strlen(list) - 1);
    }
    return SILT_FAIL(SILT_ERR_ARG, "unknown %s '%s' (expected one of: %s)", what, name, list);
}

#define NAME_FNS(type, prefix, table, count, what)                                   \
    const char *prefix##_name(type v) {                                              \
        return (int)v >= 0 && (int)v < (count) ? table[v] : "?";                     \
    }                                                                                \
    silt_status prefix##_from_name(const char *name, type *out) {                    \
        int v = 0;                                                                   \
        if (!out) return SILT_FAIL(SILT_ERR_ARG, "%s_from_name: NULL out", what);    \
        SILT_TRY(from_name(what, table, (count), name, &v));                         \
        *out = (type)v;                                                              \
        return SILT_OK;                                                              \
    }

NAME_FNS(world_shape, world_shape, shape_names, WORLD_SHAPE_COUNT, "shape")
NAME_FNS(world_colour, world_colour, colour_names, WORLD_COLOUR_COUNT, "colour")
NAME_FNS(world_size, world_size, size_names, WORLD_SIZE_COUNT, "size")
NAME_FNS(world_bg_style, world_bg_style, bg_names, WORLD_BG_STYLE_COUNT, "background style")

double world_size_extent(world_size s) { return s == WORLD_LARGE ? 11.0 : 7.0; }

double world_dot_radius(int period) { return period == 6 ? 1.25 : period == 8 ? 1.5 : 0.0; }

double world_shape_area_fraction(world_shape shape) {
    switch (shape) {
    case WORLD_CIRCLE: return 0.78539816339744831;  // pi/4
    case WORLD_SQUARE: return 1.0;
    case WORLD_TRIANGLE: return 0.5;
    case WORLD_CROSS: return 5.0 / 9.0;  // two arms extent x extent/3, less the shared centre
    default: return 1.0;
    }
}

double world_shape_centroid_offset(world_shape shape) {
    // Apex at the top of the box, base at the bottom: the centroid is 2/3 of
    // the height below the apex, i.e. extent/6 below the box centre.
    return shape == WORLD_TRIANGLE ? 1.0 / 6.0 : 0.0;
}

// Distance from point p to the segment [a, b] in RGB.
static double seg_dist(const double p[3], const double a[3], const double b[3]) {
    double ab[3], ap[3], l2 = 0, t = 0;
    for (int c = 0; c < 3; c++) {
        ab[c] = b[c] - a[c];
        ap[c] = p[c] - a[c];
        l2 += ab[c] * ab[c];
        t += ab[c] * ap[c];
    }
    t = l2 > 0 ? t / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double d2 = 0;
    for (int c = 0; c < 3; c++) {
        double e = ap[c] - t * ab[c];
        d2 += e * e;
    }
    return sqrt(d2);
}

double world_bg_contrast(const world_background *bg, world_colour c) {
    if (!bg || (int)c < 0 || c >= WORLD_COLOUR_COUNT || (int)bg->c1 < 0 || bg->c1 >= WORLD_COLOUR_COUNT) return 0;
    double p[3], a[3], b[3];
    world_colour c2 = bg->style == WORLD_BG_PLAIN ? bg->c1 : bg->c2;
    if ((int)c2 < 0 || c2 >= WORLD_COLOUR_COUNT) return 0;
    for (int i = 0; i < 3; i++) {
        p[i] = world_palette[c][i];
        a[i] = world_palette[bg->c1][i];
        b[i] = world_palette[c2][i];
    }
    return seg_dist(p, a, b);
}

// The first broken rule of a scene as a message, or NULL when it keeps them
// all (shared by world_scene_validate and the error-free world_scene_ok).
#define PROBLEM(...) (snprintf(msg, n, __VA_ARGS__), msg)

static const char *bg_problem(const world_background *bg, char *msg, size_t n) {
    if ((int)bg->style < 0 || bg->style >= WORLD_BG_STYLE_COUNT) return PROBLEM("background style %d out of range", (int)bg->style);
    if ((int)bg->c1 < 0 || bg->c1 >= WORLD_COLOUR_COUNT) return PROBLEM("background colour %d out of range", (int)bg->c1);
    if (bg->style == WORLD_BG_PLAIN) return NULL;
    if ((int)bg->c2 < 0 || bg->c2 >= WORLD_COLOUR_COUNT || bg->c2 == bg->c1)
        return PROBLEM("%s background needs a second colour different from %s", bg_names[bg->style], colour_names[bg->c1]);
    if (bg->axis != 0 && bg->axis != 1) return PROBLEM("background axis %d (0 or 1)", bg->axis);
    int p = bg->period;
    switch (bg->style) {
    case WORLD_BG_STRIPED:
        if (p != 3 && p != 4) return PROBLEM("stripe width %d (3 or 4)", p);
        if (bg->ox < 0 || bg->ox >= 2 * p) return PROBLEM("stripe offset %d outside [0, %d)", bg->ox, 2 * p);
        break;
    case WORLD_BG_CHECKERED:
        if (p != 4 && p != 5) return PROBLEM("checker cell %d (4 or 5)", p);
        if (bg->ox < 0 || bg->ox >= 2 * p || bg->oy < 0 || bg->oy >= 2 * p)
            return PROBLEM("checker offsets (%d, %d) outside [0, %d)", bg->ox, bg->oy, 2 * p);
        break;
    case WORLD_BG_DOTTED:
        if (p != 6 && p != 8) return PROBLEM("dot spacing %d (6 or 8)", p);
        if (bg->ox < 0 || bg->ox >= p || bg->oy < 0 || bg->oy >= p)
            return PROBLEM("dot offsets (%d, %d) outside [0, %d)", bg->ox, bg->oy, p);
        break;
    default: break;
    }
    return NULL;
}

static const char *scene_problem(const world_scene *s, char *msg, size_t n) {
    if (!s) return PROBLEM("NULL scene");
    const char *bgp = bg_problem(&s->bg, msg, n);
    if (bgp) return bgp;
    if (s->n_objects < 0 || s->n_objects > WORLD_MAX_OBJECTS) return PROBLEM("%d objects (0..%d)", s->n_objects, WORLD_MAX_OBJECTS);
    const double eps = 1e-9;
    for (int i = 0; i < s->n_objects; i++) {
        const world_object *o = &s->objects[i];
        if ((int)o->shape < 0 || o->shape >= WORLD_SHAPE_COUNT || (int)o->colour < 0 || o->colour >= WORLD_COLOUR_COUNT ||
            (int)o->size < 0 || o->size >= WORLD_SIZE_COUNT)
            return PROBLEM("object %d has an out-of-range shape, colour or size", i);
        double h = world_size_extent(o->size) / 2;
        if (!isfinite(o->cx) || !isfinite(o->cy) || o->cx - h < WORLD_MARGIN - eps || o->cy - h < WORLD_MARGIN - eps ||
            o->cx + h > WORLD_UNITS - WORLD_MARGIN + eps || o->cy + h > WORLD_UNITS - WORLD_MARGIN + eps)
            return PROBLEM("object %d at (%g, %g) is not %g units inside the canvas", i, o->cx, o->cy, WORLD_MARGIN);
        double contrast = world_bg_contrast(&s->bg, o->colour);
        if (contrast < WORLD_MIN_CONTRAST)
            return PROBLEM("object %d (%s) is too close to the %s background's colours (%.0f < %.0f)", i, colour_names[o->colour],
                           bg_names[s->bg.style], contrast, WORLD_MIN_CONTRAST);
        for (int j = 0; j < i; j++) {
            const world_object *q = &s->objects[j];
            double reach = h + world_size_extent(q->size) / 2;
            double gap = fmax(fabs(o->cx - q->cx), fabs(o->cy - q->cy)) - reach;
            if (gap < WORLD_GAP - eps) return PROBLEM("objects %d and %d are %.2f units apart (need %g)", j, i, gap, WORLD_GAP);
        }
    }
    return NULL;
}

silt_status world_scene_validate(const world_scene *s) {
    char msg[160];
    const char *p = scene_problem(s, msg, sizeof msg);
    return p ? SILT_FAIL(SILT_ERR_ARG, "scene: %s", p) : SILT_OK;
}

bool world_scene_ok(const world_scene *s) {
    char msg[160];
    return scene_problem(s, msg, sizeof msg) == NULL;
}

static bool shape_inside(world_shape shape, double dx, double dy, double h) {
    switch (shape) {
    case WORLD_CIRCLE: return dx * dx + dy * dy <= h * h;
    case WORLD_SQUARE: return fabs(dx) <= h && fabs(dy) <= h;
    case WORLD_TRIANGLE: return dy <= h && 2 * fabs(dx) <= dy + h;
    case WORLD_CROSS: {
        double a = h / 3;  // arm half-width: arms are extent/3 wide
        return (fabs(dx) <= h && fabs(dy) <= a) || (fabs(dy) <= h && fabs(dx) <= a);
    }
    default: return false;
    }
}

static double sample_pos(int x, int i) { return x + (i + 0.5) / WORLD_SUPERSAMPLE; }

float world_shape_coverage(world_shape shape, double cx, double cy, double extent, int x, int y) {
    double h = extent / 2;
    if (x + 1 < cx - h || x > cx + h || y + 1 < cy - h || y > cy + h) return 0;
    int n = 0;
    for (int j = 0; j < WORLD_SUPERSAMPLE; j++)
        for (int i = 0; i < WORLD_SUPERSAMPLE; i++)
            n += shape_inside(shape, sample_pos(x, i) - cx, sample_pos(y, j) - cy, h);
    return (float)n / (WORLD_SUPERSAMPLE * WORLD_SUPERSAMPLE);
}

void world_pattern_from_bg(const world_background *bg, int size, world_pattern *out) {
    int k = size / WORLD_UNITS;
    memset(out, 0, sizeof *out);
    out->style = bg->style;
    out->size = size;
    out->axis = bg->axis;
    out->period = bg->period * k;
    out->ox = bg->ox * k;
    out->oy = bg->oy * k;
    out->radius = world_dot_radius(bg->period) * k;
    out->centre = 0.5 * k;
}

static int floor_div(double a, int p) { return (int)floor(a / p); }

// Fraction of c2 at one sample point (pixel units).
static double pattern_sample(const world_pattern *p, double sx, double sy) {
    switch (p->style) {
    case WORLD_BG_GRADIENT: return (p->axis == 0 ? sx : sy) / p->size;
    case WORLD_BG_STRIPED: return floor_div((p->axis == 0 ? sx : sy) + p->ox, p->period) & 1;
    case WORLD_BG_CHECKERED: return (floor_div(sx + p->ox, p->period) + floor_div(sy + p->oy, p->period)) & 1;
    case WORLD_BG_DOTTED: {
        double dx = sx - p->ox - p->centre, dy = sy - p->oy - p->centre;
        dx -= p->period * floor(dx / p->period + 0.5);
        dy -= p->period * floor(dy / p->period + 0.5);
        return dx * dx + dy * dy <= p->radius * p->radius;
    }
    default: return 0;
    }
}

float world_pattern_alpha(const world_pattern *p, int x, int y) {
    double a = 0;
    for (int j = 0; j < WORLD_SUPERSAMPLE; j++)
        for (int i = 0; i < WORLD_SUPERSAMPLE; i++) a += pattern_sample(p, sample_pos(x, i), sample_pos(y, j));
    return (float)(a / (WORLD_SUPERSAMPLE * WORLD_SUPERSAMPLE));
}

silt_status world_render(const world_scene *s, int size, float *rgb, uint8_t *rgb8, float *masks) {
    SILT_TRY(world_scene_validate(s));
    if (size < WORLD_UNITS || size > 16 * WORLD_UNITS || size % WORLD_UNITS)
        return SILT_FAIL(SILT_ERR_ARG, "world_render: size %d (must be a multiple of %d up to %d; 32 or 64 are the standard)",
                         size, WORLD_UNITS, 16 * WORLD_UNITS);
    const double k = (double)size / WORLD_UNITS;
    world_pattern pat;
    world_pattern_from_bg(&s->bg, size, &pat);
    const uint8_t *c1 = world_palette[s->bg.c1];
    const uint8_t *c2 = world_palette[s->bg.style == WORLD_BG_PLAIN ? s->bg.c1 : s->bg.c2];
    double ocx[WORLD_MAX_OBJECTS], ocy[WORLD_MAX_OBJECTS], oh[WORLD_MAX_OBJECTS];
    for (int o = 0; o < s->n_objects; o++) {
        ocx[o] = s->objects[o].cx * k;
        ocy[o] = s->objects[o].cy * k;
        oh[o] = world_size_extent(s->objects[o].size) * k / 2;
    }
    const int ns = WORLD_SUPERSAMPLE * WORLD_SUPERSAMPLE;
    const int64_t hw = (int64_t)size * size;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            double acc[3] = {0, 0, 0};
            int cov[WORLD_MAX_OBJECTS] = {0};
            // Objects whose box touches this pixel (most pixels have none).
            int near[WORLD_MAX_OBJECTS], n_near = 0;
            for (int o = 0; o < s->n_objects; o++)
                if (x + 1 >= ocx[o] - oh[o] && x <= ocx[o] + oh[o] && y + 1 >= ocy[o] - oh[o] && y <= ocy[o] + oh[o])
                    near[n_near++] = o;
            for (int j = 0; j < WORLD_SUPERSAMPLE; j++)
                for (int i = 0; i < WORLD_SUPERSAMPLE; i++) {
                    double sx = sample_pos(x, i), sy = sample_pos(y, j);
                    int hit = -1;
                    for (int q = 0; q < n_near && hit < 0; q++) {
                        int o = near[q];
                        if (shape_inside(s->objects[o].shape, sx - ocx[o], sy - ocy[o], oh[o])) hit = o;
                    }
                    if (hit >= 0) {
                        const uint8_t *col = world_palette[s->objects[hit].colour];
                        for (int c = 0; c < 3; c++) acc[c] += col[c];
                        cov[hit]++;
                    } else {
                        double a = pattern_sample(&pat, sx, sy);
                        for (int c = 0; c < 3; c++) acc[c] += c1[c] + a * (c2[c] - c1[c]);
                    }
                }
            int64_t p = (int64_t)y * size + x;
            for (int c = 0; c < 3; c++) {
                double v = acc[c] / ns;
                if (rgb) rgb[c * hw + p] = (float)(v / 255.0);
                if (rgb8) rgb8[p * 3 + c] = (uint8_t)floor(v + 0.5);
            }
            if (masks)
                for (int o = 0; o < s->n_objects; o++) masks[o * hw + p] = (float)cov[o] / ns;
        }
    return SILT_OK;
}
