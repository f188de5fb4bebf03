// 8-bit images: tensor conversion, PNG/JPEG I/O with the generation
// parameters in a PNG text chunk, contact-sheet grids with labels, and
// resizing for tiny images.
//
// Pixels are interleaved (HWC), rows top to bottom, no padding. c is 1 (grey),
// 3 (RGB) or 4 (RGBA, used for TAUE layers).
#ifndef SILT_IMAGE_H
#define SILT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct silt_image {
    int w, h, c;
    uint8_t *data;  // h*w*c bytes
} silt_image;

// Largest width or height accepted anywhere (stb's writers index with int).
#define SILT_IMAGE_MAX_DIM 32768

// Zero-filled image; NULL (last error set) on bad sizes or out of memory.
silt_image *silt_image_create(int w, int h, int c);
void silt_image_free(silt_image *im);  // NULL-safe

// chw: (c, h, w) floats; value lo maps to 0 and hi to 255, rounded to nearest
// and clamped. c is 1, 3 or 4. NaN or Inf anywhere -> SILT_ERR_NUMERIC (a
// decoder that produced them has failed; clamping would hide it) and *out is
// left unchanged.
silt_status silt_image_from_tensor(const float *chw, int c, int h, int w, float lo, float hi, silt_image **out);
// The inverse map: chw (im->c, im->h, im->w) gets lo + (hi - lo) * v / 255.
// The caller owns chw (c*h*w floats).
silt_status silt_image_to_tensor(const silt_image *im, float *chw, float lo, float hi);

// Writes a PNG. `parameters` (UTF-8, may be NULL for none) goes into a text
// chunk with keyword "parameters" right after IHDR, the convention of
// A1111-style tools: a tEXt chunk when the text is Latin-1 (ASCII included),
// an uncompressed iTXt chunk when it has characters beyond U+00FF. Invalid
// UTF-8 -> SILT_ERR_ARG. The file is written to a temporary file in the same
// directory and renamed into place, so on failure nothing is left and an
// existing file at `path` is untouched.
silt_status silt_image_write_png(const silt_image *im, const char *path, const char *parameters);
// Same, with any keyword (PNG rules: 1-79 Latin-1 printable characters, no
// leading, trailing or double spaces).
silt_status silt_image_write_png_text(const silt_image *im, const char *path, const char *keyword, const char *text);

// Reads a PNG or JPEG (anything stb_image decodes). Grey becomes RGB and
// grey+alpha becomes RGBA: the result has 3 or 4 channels. *out is set only on
// success.
silt_status silt_image_read(const char *path, silt_image **out);

// The text of the first tEXt, zTXt or iTXt chunk with `keyword`, as UTF-8
// (tEXt/zTXt are Latin-1 and are converted). Every chunk's length and CRC is
// checked up to IEND. *text_out is malloc'd (caller frees); it is NULL with
// SILT_OK when the file is a valid PNG without that keyword.
silt_status silt_image_read_png_text(const char *path, const char *keyword, char **text_out);

// CRC-32 as PNG uses it (ISO 3309 / ITU-T V.42, reflected 0xEDB88320), over
// the chunk type and data. crc starts at 0; chain calls by passing the result.
uint32_t silt_crc32(uint32_t crc, const uint8_t *p, size_t n);

// Contact sheet: tiles laid out row-major in `cols` columns (cols <= 0: a
// near-square layout, ceil(sqrt(n)); cols > n: n), each cell as large as the
// largest tile, tiles at the cell's top-left, `pad` white pixels between
// cells and around the sheet. With labels (array of n strings, entries may be
// NULL) a white band under each tile holds the label in a built-in 5x7 font
// (doubled for cells 256 px wide or more), clipped to the tile width.
// The sheet is RGBA when any tile has alpha, else RGB; grey tiles become RGB.
silt_status silt_image_grid(const silt_image *const *tiles, int n, int cols, int pad, const char *const *labels,
                            silt_image **out);
// Height of the label band the grid adds under each tile of cell width cell_w.
int silt_image_label_height(int cell_w);

// Resampling to (w, h), same channels. Nearest: source pixel of the
// destination pixel's centre, floor((x + 0.5) * sw / w). Bilinear: half-pixel
// centres, x_src = (x + 0.5) * sw / w - 0.5, coordinates clamped to the edge
// (for upscaling; downscaling by more than 2x aliases).
silt_status silt_image_resize_nearest(const silt_image *src, int w, int h, silt_image **out);
silt_status silt_image_resize_bilinear(const silt_image *src, int w, int h, silt_image **out);

// Draws `text` at (x, y) (top-left of the first glyph) in the built-in font,
// `scale` pixels per font pixel, colour rgba[0..c) (grey images use rgba[0]);
// characters outside the image are clipped, bytes outside ASCII 32..126
// draw as '?'. Returns the x just past the last glyph.
int silt_image_draw_text(silt_image *im, int x, int y, const char *text, int scale, const uint8_t rgba[4]);

#endif
