// Image objects, tensor conversion, decoding through stb_image, resizing.
// PNG writing and text chunks are in image_png.c, grids and the font in
// image_grid.c.
#include "core/image.h"
#include "core/image_private.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>

static silt_status check_dims(int w, int h, int c) {
    if (w < 1 || h < 1 || w > SILT_IMAGE_MAX_DIM || h > SILT_IMAGE_MAX_DIM)
        return SILT_FAIL(SILT_ERR_ARG, "image size %dx%d outside 1..%d", w, h, SILT_IMAGE_MAX_DIM);
    if (c != 1 && c != 3 && c != 4) return SILT_FAIL(SILT_ERR_ARG, "image channels %d (must be 1, 3 or 4)", c);
    return SILT_OK;
}

silt_image *silt_image_create(int w, int h, int c) {
    if (check_dims(w, h, c) != SILT_OK) return NULL;
    silt_image *im = calloc(1, sizeof *im);
    size_t bytes = (size_t)w * (size_t)h * (size_t)c;
    uint8_t *data = im ? calloc(bytes, 1) : NULL;
    if (!data) {
        free(im);
        SILT_FAIL(SILT_ERR_OOM, "out of memory for a %dx%dx%d image", w, h, c);
        return NULL;
    }
    im->w = w;
    im->h = h;
    im->c = c;
    im->data = data;
    return im;
}

void silt_image_free(silt_image *im) {
    if (!im) return;
    free(im->data);
    free(im);
}

silt_status silt_image_from_tensor(const float *chw, int c, int h, int w, float lo, float hi, silt_image **out) {
    if (!chw || !out) return SILT_FAIL(SILT_ERR_ARG, "image_from_tensor: NULL argument");
    SILT_TRY(check_dims(w, h, c));
    if (!isfinite(lo) || !isfinite(hi) || !(hi > lo))
        return SILT_FAIL(SILT_ERR_ARG, "image_from_tensor: range [%g, %g] (need finite lo < hi)", lo, hi);
    int64_t n = (int64_t)c * h * w;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(chw[i]))
            return SILT_FAIL(SILT_ERR_NUMERIC, "image_from_tensor: value %g at (c=%lld, y=%lld, x=%lld)", chw[i],
                             (long long)(i / ((int64_t)h * w)), (long long)(i / w % h), (long long)(i % w));
    silt_image *im = silt_image_create(w, h, c);
    if (!im) return SILT_ERR_OOM;
    // Scale in double so lo and hi land exactly on 0 and 255.
    double scale = 255.0 / ((double)hi - (double)lo);
    int64_t hw = (int64_t)h * w;
    for (int ch = 0; ch < c; ch++)
        for (int64_t p = 0; p < hw; p++) {
            double v = ((double)chw[ch * hw + p] - lo) * scale;
            v = floor(v + 0.5);
            im->data[p * c + ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    *out = im;
    return SILT_OK;
}

silt_status silt_image_to_tensor(const silt_image *im, float *chw, float lo, float hi) {
    if (!im || !im->data || !chw) return SILT_FAIL(SILT_ERR_ARG, "image_to_tensor: NULL argument");
    SILT_TRY(check_dims(im->w, im->h, im->c));
    if (!isfinite(lo) || !isfinite(hi)) return SILT_FAIL(SILT_ERR_ARG, "image_to_tensor: range [%g, %g]", lo, hi);
    int64_t hw = (int64_t)im->h * im->w;
    double scale = ((double)hi - (double)lo) / 255.0;
    for (int ch = 0; ch < im->c; ch++)
        for (int64_t p = 0; p < hw; p++) chw[ch * hw + p] = (float)(lo + scale * im->data[p * im->c + ch]);
    return SILT_OK;
}

// Whole file into memory; stb_image takes an int length, so over 2 GiB is refused.
static silt_status read_file(const char *path, uint8_t **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return SILT_FAIL(SILT_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    silt_status st = SILT_OK;
    uint8_t *data = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) st = SILT_FAIL(SILT_ERR_IO, "cannot seek in '%s' (not a regular file?)", path);
    else if (size > 0x7fffffffL) st = SILT_FAIL(SILT_ERR_FORMAT, "'%s' is %ld bytes (images over 2 GiB unsupported)", path, size);
    else if (!(data = malloc((size_t)size + 1))) st = SILT_FAIL(SILT_ERR_OOM, "out of memory reading '%s'", path);
    else if (fread(data, 1, (size_t)size, f) != (size_t)size) st = SILT_FAIL(SILT_ERR_IO, "short read on '%s'", path);
    fclose(f);
    if (st != SILT_OK) { free(data); return st; }
    *buf = data;
    *len = (size_t)size;
    return SILT_OK;
}

silt_status silt_image_read_file_(const char *path, uint8_t **buf, size_t *len) { return read_file(path, buf, len); }

silt_status silt_image_read(const char *path, silt_image **out) {
    if (!path || !out) return SILT_FAIL(SILT_ERR_ARG, "image_read: NULL argument");
    uint8_t *buf;
    size_t len;
    SILT_TRY(read_file(path, &buf, &len));
    int w, h, comp;
    if (!stbi_info_from_memory(buf, (int)len, &w, &h, &comp)) {
        free(buf);
        return SILT_FAIL(SILT_ERR_FORMAT, "cannot decode '%s' as PNG or JPEG: %s", path, stbi_failure_reason());
    }
    if (w > SILT_IMAGE_MAX_DIM || h > SILT_IMAGE_MAX_DIM) {
        free(buf);
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "'%s' is %dx%d (at most %d per side)", path, w, h, SILT_IMAGE_MAX_DIM);
    }
    int want = (comp == 2 || comp == 4) ? 4 : 3;
    int w2, h2, comp2;
    uint8_t *px = stbi_load_from_memory(buf, (int)len, &w2, &h2, &comp2, want);
    free(buf);
    if (!px) return SILT_FAIL(SILT_ERR_FORMAT, "cannot decode '%s': %s", path, stbi_failure_reason());
    silt_image *im = malloc(sizeof *im);
    uint8_t *data = malloc((size_t)w2 * (size_t)h2 * (size_t)want);
    if (!im || !data) {
        free(im);
        free(data);
        stbi_image_free(px);
        return SILT_FAIL(SILT_ERR_OOM, "out of memory for '%s'", path);
    }
    // Copy so that every silt_image is freed by plain free(), whatever
    // allocator the shared stb library was built with.
    memcpy(data, px, (size_t)w2 * (size_t)h2 * (size_t)want);
    stbi_image_free(px);
    im->w = w2;
    im->h = h2;
    im->c = want;
    im->data = data;
    *out = im;
    return SILT_OK;
}

static silt_status resize_check(const silt_image *src, int w, int h, silt_image **out, const char *what) {
    if (!src || !src->data || !out) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL argument", what);
    SILT_TRY(check_dims(src->w, src->h, src->c));
    return check_dims(w, h, src->c);
}

silt_status silt_image_resize_nearest(const silt_image *src, int w, int h, silt_image **out) {
    SILT_TRY(resize_check(src, w, h, out, "resize_nearest"));
    silt_image *im = silt_image_create(w, h, src->c);
    if (!im) return SILT_ERR_OOM;
    int c = src->c;
    for (int y = 0; y < h; y++) {
        // floor((y + 0.5) * sh / h) in integers: exact, always < sh.
        int sy = (int)(((int64_t)2 * y + 1) * src->h / ((int64_t)2 * h));
        for (int x = 0; x < w; x++) {
            int sx = (int)(((int64_t)2 * x + 1) * src->w / ((int64_t)2 * w));
            memcpy(im->data + ((size_t)y * w + x) * c, src->data + ((size_t)sy * src->w + sx) * c, (size_t)c);
        }
    }
    *out = im;
    return SILT_OK;
}

// Source coordinate of a destination pixel centre, clamped to [0, n-1];
// returns the left/top neighbour and the weight of the right/bottom one.
static void bilinear_coord(int d, int dn, int sn, int *i0, int *i1, float *f) {
    double s = ((double)d + 0.5) * sn / dn - 0.5;
    if (s < 0) s = 0;
    if (s > sn - 1) s = sn - 1;
    int i = (int)s;
    *i0 = i;
    *i1 = i + 1 < sn ? i + 1 : sn - 1;
    *f = (float)(s - i);
}

silt_status silt_image_resize_bilinear(const silt_image *src, int w, int h, silt_image **out) {
    SILT_TRY(resize_check(src, w, h, out, "resize_bilinear"));
    silt_image *im = silt_image_create(w, h, src->c);
    if (!im) return SILT_ERR_OOM;
    int c = src->c, sw = src->w;
#pragma omp parallel for if ((int64_t)w * h > 65536)
    for (int y = 0; y < h; y++) {
        int y0, y1;
        float fy;
        bilinear_coord(y, h, src->h, &y0, &y1, &fy);
        const uint8_t *r0 = src->data + (size_t)y0 * sw * c, *r1 = src->data + (size_t)y1 * sw * c;
        for (int x = 0; x < w; x++) {
            int x0, x1;
            float fx;
            bilinear_coord(x, w, sw, &x0, &x1, &fx);
            for (int k = 0; k < c; k++) {
                float top = r0[x0 * c + k] + fx * (float)(r0[x1 * c + k] - r0[x0 * c + k]);
                float bot = r1[x0 * c + k] + fx * (float)(r1[x1 * c + k] - r1[x0 * c + k]);
                float v = top + fy * (bot - top) + 0.5f;
                im->data[((size_t)y * w + x) * c + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    }
    *out = im;
    return SILT_OK;
}
