// The world's scenes and their renderer (WORLD.md "Scenes").
//
// A scene is 1-4 objects (circle, square, triangle, cross; 8 palette colours;
// small or large) on a background (plain, gradient, striped, dotted,
// checkered). Geometry is in world units: the canvas is WORLD_UNITS (32) units
// square whatever the pixel size, so a 64x64 render is the same scene at twice
// the resolution. Pixel (x, y) covers [x, x+1) x [y, y+1) in pixel units; a
// pixel is the mean of 4x4 samples at (x + (i + 0.5)/4, y + (j + 0.5)/4), so
// edges are anti-aliased and coverage is a multiple of 1/16.
//
// The rules a valid scene keeps (world_scene_validate), which the evaluator
// relies on:
//  - every object's box (its extent square) lies WORLD_MARGIN units inside
//    the canvas, and boxes are at least WORLD_GAP units apart (Chebyshev), so
//    objects never touch, even after a 3x3 blur;
//  - an object's colour is at least WORLD_MIN_CONTRAST (RGB distance, 0..255
//    units) from every colour on the background's colour segment [c1, c2]
//    (from c1 alone on a plain background): "a colour never matches the
//    background colour behind it", with a margin wide enough to survive
//    anti-aliased pattern edges, blur and noise.
#ifndef WORLD_RENDER_H
#define WORLD_RENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"

#define WORLD_UNITS 32           // canvas side in world units
#define WORLD_MAX_OBJECTS 4
#define WORLD_MARGIN 2.0         // object box to canvas edge, world units
#define WORLD_GAP 3.0            // between object boxes, world units
#define WORLD_MIN_CONTRAST 90.0  // object colour to background segment, RGB 0..255
#define WORLD_SUPERSAMPLE 4      // samples per pixel side

typedef enum world_shape { WORLD_CIRCLE, WORLD_SQUARE, WORLD_TRIANGLE, WORLD_CROSS, WORLD_SHAPE_COUNT } world_shape;

typedef enum world_colour {
    WORLD_RED,
    WORLD_GREEN,
    WORLD_BLUE,
    WORLD_YELLOW,
    WORLD_PURPLE,
    WORLD_CYAN,
    WORLD_WHITE,
    WORLD_BLACK,
    WORLD_COLOUR_COUNT
} world_colour;

typedef enum world_size { WORLD_SMALL, WORLD_LARGE, WORLD_SIZE_COUNT } world_size;

typedef enum world_bg_style {
    WORLD_BG_PLAIN,
    WORLD_BG_GRADIENT,
    WORLD_BG_STRIPED,
    WORLD_BG_DOTTED,
    WORLD_BG_CHECKERED,
    WORLD_BG_STYLE_COUNT
} world_bg_style;

// Enum <-> name tables ("circle", "red", "small", "striped"). _name returns
// "?" out of range; _from_name returns SILT_ERR_ARG naming the word and the
// accepted ones, and leaves *out unchanged.
const char *world_shape_name(world_shape s);
silt_status world_shape_from_name(const char *name, world_shape *out);
const char *world_colour_name(world_colour c);
silt_status world_colour_from_name(const char *name, world_colour *out);
const char *world_size_name(world_size s);
silt_status world_size_from_name(const char *name, world_size *out);
const char *world_bg_style_name(world_bg_style s);
silt_status world_bg_style_from_name(const char *name, world_bg_style *out);

// Fixed palette, RGB 0..255 (the same values as `gen pattern`'s colour bars).
extern const uint8_t world_palette[WORLD_COLOUR_COUNT][3];

// Side (square, triangle, cross) or diameter (circle) in world units: 7 small, 11 large.
double world_size_extent(world_size s);

typedef struct world_object {
    world_shape shape;
    world_colour colour;
    world_size size;
    double cx, cy;  // centre of the object's box, world units (the samplers use a 1/4 grid)
} world_object;

// Background. Which fields are used depends on the style:
//   plain:     c1.
//   gradient:  c1 at the start, c2 at the end of `axis` (0: left to right, 1: top to bottom);
//              the colour at coordinate u is c1 + (c2 - c1) u / WORLD_UNITS.
//   striped:   bands of c1 and c2 `period` units wide ({3, 4}) across `axis`
//              (0: vertical stripes, changing along x); c2 where floor((u + ox) / period) is odd,
//              ox in [0, 2 period).
//   checkered: cells `period` units ({4, 5}); c2 where floor((x+ox)/p) + floor((y+oy)/p) is odd,
//              ox, oy in [0, 2 period).
//   dotted:    dots of c2 on c1, spacing `period` ({6, 8}), radius 1.25 (spacing 6) or 1.5
//              (spacing 8), centred at (ox + 0.5 + i period, oy + 0.5 + j period), ox, oy in [0, period).
typedef struct world_background {
    world_bg_style style;
    world_colour c1, c2;
    int axis;
    int period;
    int ox, oy;
} world_background;

typedef struct world_scene {
    world_background bg;
    int n_objects;  // 1..WORLD_MAX_OBJECTS (0 is accepted by the renderer: background only)
    world_object objects[WORLD_MAX_OBJECTS];
} world_scene;

// Dot radius for a dotted background's spacing (world units).
double world_dot_radius(int period);
// RGB distance (0..255 units) from colour c to the background's colour
// segment (plain: to c1).
double world_bg_contrast(const world_background *bg, world_colour c);
// SILT_OK when the scene keeps every rule above (enums, parameter sets,
// n_objects 0..4, margins, gaps, contrast); SILT_ERR_ARG naming the first
// broken rule otherwise.
silt_status world_scene_validate(const world_scene *s);
// The same test without recording an error (for samplers that retry).
bool world_scene_ok(const world_scene *s);

// Renders at size x size pixels, size 32 or 64 (any multiple of 32 up to 512
// works). Outputs, each optional (NULL to skip):
//   rgb:   (3, size, size) floats in [0, 1] (CHW, the exact sample mean);
//   rgb8:  (size, size, 3) bytes (HWC, silt_image layout), round(255 * rgb);
//   masks: (n_objects, size, size) coverage of each object in [0, 1], multiples of 1/16.
// The scene is validated first; on error nothing is written.
silt_status world_render(const world_scene *s, int size, float *rgb, uint8_t *rgb8, float *masks);

// Building blocks shared with the evaluator, in pixel units of a size-pixel
// canvas (scale = size / WORLD_UNITS pixels per unit).
//
// Coverage (0..1, multiple of 1/16) of pixel (x, y) by a shape whose box is
// centred at (cx, cy) with side/diameter `extent`. Triangles point up with
// the base on the box's bottom edge; crosses have arms extent/3 wide.
float world_shape_coverage(world_shape shape, double cx, double cy, double extent, int x, int y);
// Area of the shape as a fraction of extent^2 (pi/4, 1, 1/2, 5/9), and the
// vertical offset of its centroid below the box centre as a fraction of the
// extent (1/6 for the triangle, else 0).
double world_shape_area_fraction(world_shape shape);
double world_shape_centroid_offset(world_shape shape);
// A background pattern in pixel units of a size-pixel canvas: the renderer
// converts a world_background with world_pattern_from_bg; the evaluator
// enumerates patterns directly (any integer pixel offset, so a pattern shifted
// by one pixel is still a candidate). For dotted, dots are centred at
// (ox + centre + i period, oy + centre + j period) with `radius`; for the
// other styles `radius` and `centre` are unused.
typedef struct world_pattern {
    world_bg_style style;
    int size, axis, period, ox, oy;
    double radius, centre;
} world_pattern;

void world_pattern_from_bg(const world_background *bg, int size, world_pattern *out);
// Fraction of c2 in pixel (x, y), the mean over its 4x4 samples.
float world_pattern_alpha(const world_pattern *p, int x, int y);

#endif
