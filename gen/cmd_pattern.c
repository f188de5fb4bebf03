// gen pattern: render a test pattern to PNG. It exercises the image path end
// to end (colour bars, a gradient, Philox noise for the seed, PNG with the
// parameters chunk, contact sheets) without any model.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/image.h"
#include "core/rng.h"
#include "gen/args.h"
#include "gen/commands.h"

// The world palette (WORLD.md): red, green, blue, yellow, purple, cyan, white, black.
static const uint8_t palette[8][3] = {{220, 40, 40}, {40, 180, 60}, {40, 80, 220}, {240, 220, 40},
                                      {150, 60, 200}, {40, 210, 220}, {245, 245, 245}, {15, 15, 15}};

static silt_image *render(int w, int h, int seed) {
    silt_image *im = silt_image_create(w, h, 3);
    if (!im) return NULL;
    float *noise = malloc(sizeof(float) * (size_t)w * (size_t)h);
    if (!noise) { silt_image_free(im); return NULL; }
    // Stream = seed's sample 0: the same numbers `gen` would use as the noise of image 0.
    silt_rng_normal(noise, (int64_t)w * h, (uint64_t)seed, 0, 0);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *px = im->data + ((size_t)y * w + x) * 3;
            if (y < h / 3) {
                memcpy(px, palette[x * 8 / w], 3);
            } else if (y < 2 * h / 3) {
                uint8_t v = (uint8_t)(255 * x / (w > 1 ? w - 1 : 1));
                px[0] = px[1] = px[2] = v;
            } else {
                float v = 128 + 48 * noise[(size_t)y * w + x];
                px[0] = px[1] = px[2] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    free(noise);
    return im;
}

int cmd_pattern(int argc, char **argv) {
    const char *out = "pattern.png";
    int width = 256, height = 256, seed = 0, grid = 0;
    arg_spec specs[] = {
        {"output", 'o', ARG_STR, &out, "PATH", "PNG file to write", NULL, 0, -1},
        {"width", 'W', ARG_INT, &width, "N", "image width in pixels", NULL, 8, 4096},
        {"height", 'H', ARG_INT, &height, "N", "image height in pixels", NULL, 8, 4096},
        {"seed", 's', ARG_INT, &seed, "N", "noise seed", NULL, 0, 2147483647},
        {"grid", 0, ARG_INT, &grid, "N", "write N seeds (seed, seed+1, ...) as one labelled contact sheet (0: one image)", NULL, 0, 64},
    };
    const char *pos[1];
    arg_parser p = {"gen pattern", "gen pattern [-o out.png] [--seed N] [--grid N]",
                    "Render a test pattern (palette bars, gradient, seeded Philox noise) to PNG.", specs,
                    (int)(sizeof specs / sizeof *specs), pos, 0, 0};
    int rc = args_parse(&p, argc, argv);
    if (rc) return rc == 1 ? 0 : rc;

    int n = grid > 0 ? grid : 1;
    silt_image **tiles = calloc((size_t)n, sizeof *tiles);
    char **labels = calloc((size_t)n, sizeof *labels);
    silt_image *sheet = NULL;
    int status = 1;
    if (!tiles || !labels) { fprintf(stderr, "gen: out of memory\n"); goto done; }
    for (int i = 0; i < n; i++) {
        tiles[i] = render(width, height, seed + i);
        labels[i] = malloc(32);
        if (!tiles[i] || !labels[i]) { gen_fail("render"); goto done; }
        snprintf(labels[i], 32, "seed %d", seed + i);
    }
    char params[256];
    snprintf(params, sizeof params, "pattern, seed: %d, size: %dx%d, grid: %d, silt %s", seed, width, height, grid, SILT_VERSION);
    if (grid > 0) {
        int cols = 1;
        while (cols * cols < n) cols++;
        if (silt_image_grid((const silt_image *const *)tiles, n, cols, 4, (const char *const *)labels, &sheet) != SILT_OK) {
            gen_fail("grid");
            goto done;
        }
    }
    if (silt_image_write_png(sheet ? sheet : tiles[0], out, params) != SILT_OK) { gen_fail(out); goto done; }
    fprintf(stderr, "wrote %s\n", out);
    status = 0;
done:
    for (int i = 0; i < n && tiles && labels; i++) { silt_image_free(tiles[i]); free(labels[i]); }
    free(tiles);
    free(labels);
    silt_image_free(sheet);
    return status;
}
