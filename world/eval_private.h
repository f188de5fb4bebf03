// Evaluator internals shared by eval.c and eval_bg.c (not public API).
#ifndef WORLD_EVAL_PRIVATE_H
#define WORLD_EVAL_PRIVATE_H

#include <stdbool.h>

#include "core/status.h"
#include "world/render.h"

// Truncation of squared colour residuals (0..255 units) in model scores, so
// that object pixels count as a bounded penalty whatever their colour.
#define EVAL_TAU 40.0

// A fitted background: pixel p is c1 + alpha[p] (c2 - c1).
typedef struct eval_bg {
    world_bg_style style;
    double c1[3], c2[3];
    bool blurred;      // the pattern fits best after a 3x3 box blur
    world_pattern pattern;
    double score;      // sum over pixels of min(|residual|^2, EVAL_TAU^2)
} eval_bg;

// Fits the background of an n x n image (img: (n, n, 3) HWC floats,
// 0..255): clusters the colours, matches every candidate pattern of every
// style (all integer pixel offsets) against the clusters, fits gradients by
// trimmed least squares, and keeps the model with the least truncated
// residual (plain unless another style beats it clearly). alpha (n*n) gets
// the model's c2 fraction per pixel.
silt_status eval_fit_background(const float *img, int n, float *alpha, eval_bg *out);

#endif
