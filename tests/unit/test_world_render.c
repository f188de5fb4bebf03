// World renderer: names, determinism (a scene is a pure function of (seed,
// index)), byte equality with a plainly written reference renderer (world
// units, edge functions, per-sample background), masks, and the scene rules
// (margins, gaps, contrast) on thousands of random scenes.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "world/render.h"
#include "world/scene.h"

// ---- reference renderer ----------------------------------------------------------

static const double ref_palette[8][3] = {{220, 40, 40}, {40, 180, 60}, {40, 80, 220}, {240, 220, 40},
                                         {150, 60, 200}, {40, 210, 220}, {245, 245, 245}, {15, 15, 15}};

// (b - a) x (p - a): >= 0 when p is left of or on a->b (y down: clockwise order inside).
static double edge(double ax, double ay, double bx, double by, double px, double py) {
    return (bx - ax) * (py - ay) - (by - ay) * (px - ax);
}

static int ref_inside(const world_object *o, double u, double v) {
    double e = o->size == WORLD_LARGE ? 11 : 7, h = e / 2, du = u - o->cx, dv = v - o->cy;
    switch (o->shape) {
    case WORLD_CIRCLE: return du * du + dv * dv <= h * h;
    case WORLD_SQUARE: return fmax(fabs(du), fabs(dv)) <= h;
    case WORLD_TRIANGLE: {
        // apex (cx, cy - h), base corners (cx + h, cy + h), (cx - h, cy + h)
        double ax = o->cx, ay = o->cy - h, bx = o->cx + h, by = o->cy + h, cx = o->cx - h, cy = o->cy + h;
        return edge(ax, ay, bx, by, u, v) >= 0 && edge(bx, by, cx, cy, u, v) >= 0 && edge(cx, cy, ax, ay, u, v) >= 0;
    }
    case WORLD_CROSS: {
        double arm = e / 6;  // arms e/3 wide
        return (fabs(du) <= h && fabs(dv) <= arm) || (fabs(dv) <= h && fabs(du) <= arm);
    }
    default: return 0;
    }
}

// Fraction of c2 at a sample point (world units).
static double ref_bg(const world_background *bg, double u, double v) {
    switch (bg->style) {
    case WORLD_BG_GRADIENT: return (bg->axis == 0 ? u : v) / 32.0;
    case WORLD_BG_STRIPED: return (long)floor(((bg->axis == 0 ? u : v) + bg->ox) / bg->period) % 2 != 0;
    case WORLD_BG_CHECKERED:
        return ((long)floor((u + bg->ox) / bg->period) + (long)floor((v + bg->oy) / bg->period)) % 2 != 0;
    case WORLD_BG_DOTTED: {
        double r = bg->period == 6 ? 1.25 : 1.5;
        long i0 = lround((u - bg->ox - 0.5) / bg->period), j0 = lround((v - bg->oy - 0.5) / bg->period);
        for (long i = i0 - 1; i <= i0 + 1; i++)
            for (long j = j0 - 1; j <= j0 + 1; j++) {
                double du = u - (bg->ox + 0.5 + i * bg->period), dv = v - (bg->oy + 0.5 + j * bg->period);
                if (du * du + dv * dv <= r * r) return 1;
            }
        return 0;
    }
    default: return 0;
    }
}

static void ref_render(const world_scene *s, int size, uint8_t *out) {
    double k = size / 32.0;
    const double *c1 = ref_palette[s->bg.c1], *c2 = ref_palette[s->bg.style == WORLD_BG_PLAIN ? s->bg.c1 : s->bg.c2];
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            double acc[3] = {0, 0, 0};
            for (int j = 0; j < 4; j++)
                for (int i = 0; i < 4; i++) {
                    double u = (x + (i + 0.5) / 4) / k, v = (y + (j + 0.5) / 4) / k;
                    const double *col = NULL;
                    for (int o = 0; o < s->n_objects && !col; o++)
                        if (ref_inside(&s->objects[o], u, v)) col = ref_palette[s->objects[o].colour];
                    for (int c = 0; c < 3; c++) acc[c] += col ? col[c] : c1[c] + ref_bg(&s->bg, u, v) * (c2[c] - c1[c]);
                }
            for (int c = 0; c < 3; c++) out[(y * size + x) * 3 + c] = (uint8_t)floor(acc[c] / 16 + 0.5);
        }
}

// ---- tests ------------------------------------------------------------------------

static void test_names(void) {
    for (int i = 0; i < WORLD_SHAPE_COUNT; i++) {
        world_shape v = WORLD_SQUARE;
        CHECK_OK(world_shape_from_name(world_shape_name((world_shape)i), &v));
        CHECK((int)v == i);
    }
    for (int i = 0; i < WORLD_COLOUR_COUNT; i++) {
        world_colour v = WORLD_RED;
        CHECK_OK(world_colour_from_name(world_colour_name((world_colour)i), &v));
        CHECK((int)v == i);
        for (int c = 0; c < 3; c++) CHECK(world_palette[i][c] == ref_palette[i][c]);
    }
    for (int i = 0; i < WORLD_SIZE_COUNT; i++) {
        world_size v = WORLD_SMALL;
        CHECK_OK(world_size_from_name(world_size_name((world_size)i), &v));
        CHECK((int)v == i);
    }
    for (int i = 0; i < WORLD_BG_STYLE_COUNT; i++) {
        world_bg_style v = WORLD_BG_PLAIN;
        CHECK_OK(world_bg_style_from_name(world_bg_style_name((world_bg_style)i), &v));
        CHECK((int)v == i);
    }
    CHECK(!strcmp(world_shape_name(WORLD_CROSS), "cross") && !strcmp(world_colour_name(WORLD_CYAN), "cyan"));
    CHECK(!strcmp(world_bg_style_name(WORLD_BG_CHECKERED), "checkered") && !strcmp(world_shape_name((world_shape)9), "?"));
    world_colour c = WORLD_BLUE;
    CHECK(world_colour_from_name("mauve", &c) == SILT_ERR_ARG && c == WORLD_BLUE);
    CHECK(strstr(silt_last_error(), "mauve") != NULL);
}

static void test_determinism(void) {
    uint8_t a[64 * 64 * 3], b[64 * 64 * 3];
    for (int i = 0; i < 20; i++) {
        world_scene s1, s2, s3;
        CHECK_OK(world_scene_sample(42, (uint64_t)i, &s1));
        CHECK_OK(world_scene_sample(42, (uint64_t)i, &s2));
        CHECK(!memcmp(&s1, &s2, sizeof s1));
        CHECK_OK(world_render(&s1, 64, NULL, a, NULL));
        CHECK_OK(world_render(&s2, 64, NULL, b, NULL));
        CHECK(!memcmp(a, b, sizeof a));
        CHECK_OK(world_scene_sample(42, (uint64_t)i + 1, &s3));
        CHECK_OK(world_render(&s3, 64, NULL, b, NULL));
        CHECK_MSG(memcmp(a, b, sizeof a) != 0, "index %d and %d render the same bytes", i, i + 1);
        CHECK_OK(world_scene_sample(43, (uint64_t)i, &s3));
        CHECK_OK(world_render(&s3, 64, NULL, b, NULL));
        CHECK_MSG(memcmp(a, b, sizeof a) != 0, "seed 42 and 43 render the same bytes at index %d", i);
    }
}

static void test_reference(void) {
    static uint8_t got[64 * 64 * 3], want[64 * 64 * 3];
    int bad = 0, n = 0;
    for (int i = 0; i < 240; i++) {
        world_scene s;
        CHECK_OK(world_scene_sample(7, (uint64_t)i, &s));
        int size = i % 4 == 3 ? 64 : 32;
        CHECK_OK(world_render(&s, size, NULL, got, NULL));
        ref_render(&s, size, want);
        n++;
        if (memcmp(got, want, (size_t)size * size * 3)) {
            bad++;
            if (bad < 4) {
                int k = 0;
                while (got[k] == want[k]) k++;
                fprintf(stderr, "scene %d (%s bg): byte %d got %d want %d\n", i, world_bg_style_name(s.bg.style), k, got[k], want[k]);
            }
        }
    }
    CHECK_MSG(bad == 0, "%d of %d renders differ from the reference renderer", bad, n);
    // Every style appears among those scenes (the check above covered them).
    int seen = 0;
    for (int i = 0; i < 240; i++) {
        world_scene s;
        world_scene_sample(7, (uint64_t)i, &s);
        seen |= 1 << s.bg.style;
    }
    CHECK(seen == (1 << WORLD_BG_STYLE_COUNT) - 1);
}

static void test_float_and_masks(void) {
    static float rgb[3 * 64 * 64], masks[4 * 64 * 64];
    static uint8_t b8[64 * 64 * 3];
    for (int i = 0; i < 60; i++) {
        world_scene s;
        CHECK_OK(world_scene_sample(11, (uint64_t)i, &s));
        int size = i % 2 ? 64 : 32, np = size * size;
        double k = size / 32.0;
        CHECK_OK(world_render(&s, size, rgb, b8, masks));
        int off = 0, over = 0, notcol = 0;
        for (int p = 0; p < np; p++) {
            double sum = 0;
            for (int o = 0; o < s.n_objects; o++) sum += masks[o * np + p];
            over += sum > 1 + 1e-6;
            for (int c = 0; c < 3; c++) off += abs((int)b8[p * 3 + c] - (int)lround(255.0 * rgb[c * np + p])) > 1;
            for (int o = 0; o < s.n_objects; o++)
                if (masks[o * np + p] == 1)
                    for (int c = 0; c < 3; c++) notcol += b8[p * 3 + c] != world_palette[s.objects[o].colour][c];
        }
        CHECK_MSG(off == 0, "scene %d: %d bytes differ from round(255 rgb)", i, off);
        CHECK_MSG(over == 0, "scene %d: masks sum above 1 at %d pixels", i, over);
        CHECK_MSG(notcol == 0, "scene %d: fully covered pixels not in the object colour (%d)", i, notcol);
        for (int o = 0; o < s.n_objects; o++) {
            const world_object *ob = &s.objects[o];
            double e = world_size_extent(ob->size), area = 0, mx = 0, my = 0;
            for (int p = 0; p < np; p++) {
                double m = masks[o * np + p];
                area += m;
                mx += m * (p % size + 0.5);
                my += m * (p / size + 0.5);
            }
            mx /= area * k;
            my /= area * k;
            area /= k * k;
            double want = world_shape_area_fraction(ob->shape) * e * e;
            // 4x4 samples quantise a small cross's 2.33-unit arms to 2.5 (+6% area).
            CHECK_MSG(fabs(area - want) < 0.07 * want, "scene %d object %d (%s): area %.2f, expected %.2f", i, o,
                      world_shape_name(ob->shape), area, want);
            double wy = ob->cy + world_shape_centroid_offset(ob->shape) * e;
            CHECK_MSG(fabs(mx - ob->cx) < 0.05 && fabs(my - wy) < 0.08, "scene %d object %d (%s): centroid (%.3f, %.3f) want (%.3f, %.3f)",
                      i, o, world_shape_name(ob->shape), mx, my, ob->cx, wy);
        }
        // Objects never touch: no two masks within 2 pixels (gap 3 units) at 32.
        if (size == 32)
            for (int a = 0; a < s.n_objects; a++)
                for (int b = a + 1; b < s.n_objects; b++) {
                    int close = 0;
                    for (int p = 0; p < np; p++) {
                        if (masks[a * np + p] == 0) continue;
                        for (int q = 0; q < np; q++)
                            if (masks[b * np + q] > 0 && abs(p % size - q % size) <= 1 && abs(p / size - q / size) <= 1) close++;
                    }
                    CHECK_MSG(close == 0, "scene %d: objects %d and %d touch", i, a, b);
                }
    }
}

static void test_rules(void) {
    int counts[WORLD_MAX_OBJECTS + 1] = {0}, styles[WORLD_BG_STYLE_COUNT] = {0}, bad = 0;
    for (int i = 0; i < 3000; i++) {
        world_scene s;
        if (world_scene_sample(5, (uint64_t)i, &s) != SILT_OK) { bad++; continue; }
        bad += world_scene_validate(&s) != SILT_OK;
        counts[s.n_objects]++;
        styles[s.bg.style]++;
        for (int o = 0; o < s.n_objects; o++) {
            const world_object *a = &s.objects[o];
            double h = world_size_extent(a->size) / 2;
            bad += a->cx - h < 2 || a->cy - h < 2 || a->cx + h > 30 || a->cy + h > 30;
            bad += world_bg_contrast(&s.bg, a->colour) < WORLD_MIN_CONTRAST;
            bad += a->colour == s.bg.c1 || (s.bg.style != WORLD_BG_PLAIN && a->colour == s.bg.c2);
            for (int q = 0; q < o; q++) {
                const world_object *b = &s.objects[q];
                double reach = h + world_size_extent(b->size) / 2 + 3;
                bad += fabs(a->cx - b->cx) < reach - 1e-9 && fabs(a->cy - b->cy) < reach - 1e-9;
            }
        }
    }
    CHECK_MSG(bad == 0, "%d broken scene rules in 3000 random scenes", bad);
    for (int n = 1; n <= WORLD_MAX_OBJECTS; n++) CHECK_MSG(counts[n] > 500, "%d scenes with %d objects", counts[n], n);
    for (int st = 0; st < WORLD_BG_STYLE_COUNT; st++) CHECK_MSG(styles[st] > 400, "%d scenes with style %d", styles[st], st);

    // validate rejects each broken rule
    world_scene s;
    memset(&s, 0, sizeof s);
    s.bg.style = WORLD_BG_PLAIN;
    s.bg.c1 = WORLD_WHITE;
    s.n_objects = 2;
    s.objects[0] = (world_object){WORLD_CIRCLE, WORLD_RED, WORLD_SMALL, 8, 8};
    s.objects[1] = (world_object){WORLD_SQUARE, WORLD_BLUE, WORLD_LARGE, 22, 22};
    CHECK_OK(world_scene_validate(&s));
    world_scene t = s;
    t.objects[1].cx = 16;  // boxes 8 - 3.5 - 5.5 = -1 units apart: overlapping
    t.objects[1].cy = 16;
    CHECK(world_scene_validate(&t) == SILT_ERR_ARG && !world_scene_ok(&t) && world_scene_ok(&s));
    CHECK(strstr(silt_last_error(), "apart") != NULL);
    t = s;
    t.objects[0].cx = 5;  // box edge at 1.5 < margin 2
    CHECK(world_scene_validate(&t) == SILT_ERR_ARG);
    t = s;
    t.objects[0].colour = WORLD_WHITE;  // the background's colour
    CHECK(world_scene_validate(&t) == SILT_ERR_ARG);
    t = s;
    t.bg.style = WORLD_BG_STRIPED;
    t.bg.c2 = WORLD_BLACK;
    t.bg.period = 5;  // stripes are 3 or 4 wide
    CHECK(world_scene_validate(&t) == SILT_ERR_ARG);
    t.bg.period = 4;
    CHECK_OK(world_scene_validate(&t));
    t.objects[0].colour = WORLD_PURPLE;
    t.bg.c1 = WORLD_RED;
    t.bg.c2 = WORLD_BLUE;  // purple lies near the red-blue segment
    CHECK(world_bg_contrast(&t.bg, WORLD_PURPLE) < WORLD_MIN_CONTRAST);
    CHECK(world_scene_validate(&t) == SILT_ERR_ARG);
    uint8_t buf[32 * 32 * 3];
    CHECK(world_render(&s, 48, NULL, buf, NULL) == SILT_ERR_ARG);
    CHECK(world_render(&t, 32, NULL, buf, NULL) == SILT_ERR_ARG);
    CHECK(world_render(NULL, 32, NULL, buf, NULL) == SILT_ERR_ARG);
}

int main(void) {
    test_names();
    test_determinism();
    test_reference();
    test_float_and_masks();
    test_rules();
    return check_summary();
}
