// world-eval: the exact evaluator of the world (WORLD.md "Evaluator").
//
// Given an image and a caption it parses the caption into requirements
// (caption.h), detects the objects in the image and judges the requirements
// with GenEval's rules (world_reqs_check: counts, colours, relations from box
// centres with GenEval's 0.1 threshold, background style). Detection:
//  1. background: the style, colours, pattern phase and a possible 3x3 blur
//     are fitted by enumerating the renderer's background family against
//     colour clusters, then least squares (eval_bg.c);
//  2. foreground: the residual to the background (allowing, at pattern edges,
//     any mix of the two background colours seen in the 3x3 neighbourhood,
//     which absorbs blur and one-pixel shifts), averaged over 3x3 to beat
//     noise, above 30 (RGB units; objects differ from the background by >= 90);
//  3. components (8-connected); each strong component is also re-thresholded
//     at 45% of its 90th-percentile residual, and its pieces replace it when
//     two or more of them fit shapes well (or the whole fits badly), so
//     objects joined by a blur come apart;
//  4. per component: the colour is the palette entry whose mixing line with
//     the local background explains the pixels best (least truncated
//     distance); the coverage of every pixel within 2 pixels (nearest
//     component wins) is its projection on that line; area and centroid give
//     each shape's size and position, and the shape is the one whose template
//     (rendered exactly as the renderer does, sharp or 3x3-blurred) misses the
//     coverage least (sum of squared differences / area; no shape if > 0.3);
//     the size is small below sqrt(7*11) units, large above; the template's
//     scale is refined until its sampled area equals the measured one.
// Clean renders of every suite are judged exactly (tests/unit/test_world_eval.c
// checks 100% and every object's class and box); accuracy under noise, blur
// and jitter is measured in tests/unit/test_world_robust.c. Cost: about
// 0.7 ms per 32-pixel image, 3 ms per 64-pixel image (one core, Release).
//
// Images: square, 32 or 64 pixels, or any multiple of 32 (box-averaged down
// to 32 first, so a nearest-upscaled 256-pixel render evaluates like its
// 32-pixel original). RGB, interleaved (HWC), 8 bits.
#ifndef WORLD_EVAL_H
#define WORLD_EVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"
#include "world/caption.h"
#include "world/render.h"

#define WORLD_EVAL_MAX_DETECTIONS 16
#define WORLD_EVAL_MAX_SIZE 4096

typedef struct world_detection {
    int shape;            // world_shape, or -1: not recognised as any shape
    world_colour colour;  // nearest palette colour (mixing-line fit)
    world_size size;
    double cx, cy;        // box centre, world units (0..32 across the canvas)
    double extent;        // box side, world units
    double fit_error;     // template mismatch of the chosen shape (0 on clean renders)
    double area;          // coverage area, world units^2
} world_detection;

typedef struct world_eval_result {
    bool pass;            // every requirement met
    double score;         // fraction of requirements met, in [0, 1] (dense reward)
    world_check check;    // per-requirement breakdown (empty for world_eval_detect)
    world_bg_style bg_style;
    float bg_c1[3], bg_c2[3];  // fitted background colours, 0..255 (c2 = c1 when plain)
    int analysed_size;         // 32 or 64: the resolution the analysis ran at
    int n_detections;
    world_detection det[WORLD_EVAL_MAX_DETECTIONS];
    int n_ignored;             // components too faint or small to be objects, or beyond the cap
} world_eval_result;

// Scene analysis only: background and objects; check is left empty.
silt_status world_eval_detect(const uint8_t *rgb, int w, int h, world_eval_result *out);
// Parses the caption (SILT_ERR_ARG naming unknown words or the grammar
// error) and judges the image against it.
silt_status world_eval_image(const uint8_t *rgb, int w, int h, const char *caption, world_eval_result *out);
// The same with requirements parsed (or built) already.
silt_status world_eval_image_reqs(const uint8_t *rgb, int w, int h, const world_reqs *reqs, world_eval_result *out);

#endif
