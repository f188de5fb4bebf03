// Image I/O: PNG round trips, the text chunk (checked by an independent chunk
// walker and CRC here), corrupt files, atomic writes, grids with labels,
// resizing and tensor conversion.
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb_image_write.h>

#include "check.h"
#include "core/image.h"

static char dir[64];

static const char *tmp_path(const char *name) {
    static char buf[4][400];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static silt_image *random_image(int w, int h, int c) {
    silt_image *im = silt_image_create(w, h, c);
    for (int i = 0; i < w * h * c; i++) im->data[i] = (uint8_t)(test_uniform() * 256);
    return im;
}

static int same_image(const silt_image *a, const silt_image *b) {
    return a && b && a->w == b->w && a->h == b->h && a->c == b->c &&
           memcmp(a->data, b->data, (size_t)a->w * a->h * a->c) == 0;
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz + 1);
    *n = fread(b, 1, (size_t)sz, f);
    fclose(f);
    return b;
}

static void spit(const char *path, const uint8_t *b, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

// Bit-at-a-time CRC-32 straight from the PNG spec's annex D description
// (reflected polynomial 0xEDB88320, init and final xor 0xffffffff):
// deliberately a different formulation from the library's table version.
static uint32_t ref_crc(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

// Walks all chunks; returns the number of chunks (or -1 on any structural or
// CRC error) and copies the type of chunk number `want` into want_type and
// its data into want_data (up to cap bytes, length in *want_len).
static int walk_chunks(const uint8_t *b, size_t n, int want, char want_type[5], uint8_t *want_data, size_t cap,
                       size_t *want_len) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n < 8 || memcmp(b, sig, 8) != 0) return -1;
    size_t pos = 8;
    for (int k = 0;; k++) {
        if (n - pos < 12) return -1;
        uint32_t len = rd32(b + pos);
        if (len > n - pos - 12) return -1;
        if (ref_crc(b + pos + 4, len + 4) != rd32(b + pos + 8 + len)) return -1;
        if (k == want) {
            memcpy(want_type, b + pos + 4, 4);
            want_type[4] = 0;
            *want_len = len;
            memcpy(want_data, b + pos + 8, len < cap ? len : cap);
        }
        if (memcmp(b + pos + 4, "IEND", 4) == 0) return pos + 12 + len == n ? k + 1 : -1;
        pos += 12 + len;
    }
}

static void test_crc(void) {
    const char *s = "123456789";
    CHECK(silt_crc32(0, (const uint8_t *)s, 9) == 0xcbf43926u);  // the standard CRC-32 check value
    CHECK(ref_crc((const uint8_t *)s, 9) == 0xcbf43926u);
    // Chaining.
    CHECK(silt_crc32(silt_crc32(0, (const uint8_t *)s, 4), (const uint8_t *)s + 4, 5) == 0xcbf43926u);
}

static void test_png_roundtrip(void) {
    const int cs[3] = {3, 4, 1};
    for (int t = 0; t < 3; t++) {
        silt_image *im = random_image(37, 23, cs[t]), *back = NULL;
        const char *p = tmp_path("rt.png");
        CHECK_OK(silt_image_write_png(im, p, NULL));
        CHECK_OK(silt_image_read(p, &back));
        if (cs[t] != 1) CHECK_MSG(same_image(im, back), "PNG round trip c=%d", cs[t]);
        else {  // grey comes back as RGB with equal channels
            int ok = back && back->c == 3 && back->w == 37 && back->h == 23;
            for (int i = 0; ok && i < 37 * 23; i++)
                ok = back->data[3 * i] == im->data[i] && back->data[3 * i + 1] == im->data[i] &&
                     back->data[3 * i + 2] == im->data[i];
            CHECK_MSG(ok, "grey PNG reads back as RGB");
        }
        // No text was asked for: the file has no text chunk.
        char *txt = (char *)1;
        CHECK_OK(silt_image_read_png_text(p, "parameters", &txt));
        CHECK(txt == NULL);
        silt_image_free(im);
        silt_image_free(back);
    }
    // JPEG decodes too (lossy: compare loosely); 3 channels.
    silt_image *im = silt_image_create(16, 16, 3), *back = NULL;
    for (int i = 0; i < 16 * 16; i++) { im->data[3 * i] = 200; im->data[3 * i + 1] = 50; im->data[3 * i + 2] = 90; }
    CHECK(stbi_write_jpg(tmp_path("a.jpg"), 16, 16, 3, im->data, 95));
    CHECK_OK(silt_image_read(tmp_path("a.jpg"), &back));
    int maxd = 0;
    for (int i = 0; back && i < 16 * 16 * 3; i++) {
        int d = abs((int)back->data[i] - (int)im->data[i]);
        if (d > maxd) maxd = d;
    }
    CHECK_MSG(back && back->c == 3 && maxd <= 4, "JPEG read: max diff %d", maxd);
    silt_image_free(im);
    silt_image_free(back);
}

static void test_png_text(void) {
    silt_image *im = random_image(9, 5, 4);
    const char *p = tmp_path("text.png");
    const char *params = "a red circle, \"quoted\" and 'single'\nSteps: 20, Sampler: Euler a\n\ttabbed  two  spaces ";
    CHECK_OK(silt_image_write_png(im, p, params));
    char *txt = NULL;
    CHECK_OK(silt_image_read_png_text(p, "parameters", &txt));
    CHECK(txt && strcmp(txt, params) == 0);
    free(txt);
    // An absent keyword is not an error.
    txt = (char *)1;
    CHECK_OK(silt_image_read_png_text(p, "prompt", &txt));
    CHECK(txt == NULL);

    // Independent check of the file: every CRC, chunk order, the exact bytes.
    size_t n, dlen = 0;
    uint8_t *b = slurp(p, &n), data[512];
    char type[5] = "";
    int nchunks = walk_chunks(b, n, 1, type, data, sizeof data, &dlen);
    CHECK_MSG(nchunks >= 4, "chunk walk: %d", nchunks);  // IHDR tEXt IDAT.. IEND
    CHECK(strcmp(type, "tEXt") == 0);
    CHECK(dlen == 11 + strlen(params) && memcmp(data, "parameters\0", 11) == 0 &&
          memcmp(data + 11, params, strlen(params)) == 0);
    // The pixels are intact too.
    silt_image *back = NULL;
    CHECK_OK(silt_image_read(p, &back));
    CHECK(same_image(im, back));
    silt_image_free(back);
    free(b);

    // Latin-1 text (UTF-8 in, Latin-1 bytes in tEXt, UTF-8 out).
    const char *cafe = "caf\xc3\xa9 \xc2\xb1" "1";  // "café ±1"
    CHECK_OK(silt_image_write_png(im, p, cafe));
    b = slurp(p, &n);
    CHECK(walk_chunks(b, n, 1, type, data, sizeof data, &dlen) > 0 && strcmp(type, "tEXt") == 0);
    CHECK(dlen == 11 + 7 && data[11 + 3] == 0xe9 && data[11 + 5] == 0xb1);
    free(b);
    CHECK_OK(silt_image_read_png_text(p, "parameters", &txt));
    CHECK(txt && strcmp(txt, cafe) == 0);
    free(txt);
    // Beyond Latin-1: an iTXt chunk with the UTF-8 bytes.
    const char *cjk = "\xe6\x97\xa5\xe6\x9c\xac cat";
    CHECK_OK(silt_image_write_png(im, p, cjk));
    b = slurp(p, &n);
    CHECK(walk_chunks(b, n, 1, type, data, sizeof data, &dlen) > 0 && strcmp(type, "iTXt") == 0);
    free(b);
    txt = NULL;
    CHECK_OK(silt_image_read_png_text(p, "parameters", &txt));
    CHECK(txt && strcmp(txt, cjk) == 0);
    free(txt);
    // Empty text is a chunk with empty text; other keywords work.
    CHECK_OK(silt_image_write_png_text(im, p, "Software", ""));
    txt = NULL;
    CHECK_OK(silt_image_read_png_text(p, "Software", &txt));
    CHECK(txt && txt[0] == 0);
    free(txt);
    // Bad keywords and invalid UTF-8 are refused.
    char long_kw[81];
    memset(long_kw, 'k', 80);
    long_kw[80] = 0;
    CHECK(silt_image_write_png_text(im, p, long_kw, "x") == SILT_ERR_ARG);
    CHECK(silt_image_write_png_text(im, p, "", "x") == SILT_ERR_ARG);
    CHECK(silt_image_write_png_text(im, p, " lead", "x") == SILT_ERR_ARG);
    CHECK(silt_image_write_png_text(im, p, "two  spaces", "x") == SILT_ERR_ARG);
    CHECK(silt_image_write_png(im, p, "bad \xc3 utf8") == SILT_ERR_ARG);
    CHECK(silt_image_write_png(im, p, "overlong \xc0\xaf") == SILT_ERR_ARG);
    silt_image_free(im);
}

// Every file in the test directory: no temporary leftovers after writes.
static int count_tmp_files(void) {
    DIR *d = opendir(dir);
    int k = 0;
    for (struct dirent *e; d && (e = readdir(d));) k += strstr(e->d_name, ".tmp") != NULL;
    if (d) closedir(d);
    return k;
}

static void test_atomic_and_errors(void) {
    silt_image *im = random_image(8, 8, 3), *other = random_image(8, 8, 3), *back = NULL;
    const char *p = tmp_path("keep.png");
    CHECK_OK(silt_image_write_png(im, p, "first"));
    size_t n0, n1;
    uint8_t *before = slurp(p, &n0);
    // A failing write (bad keyword) leaves the existing file as it was.
    CHECK(silt_image_write_png_text(other, p, "bad\x01kw", "second") == SILT_ERR_ARG);
    uint8_t *after = slurp(p, &n1);
    CHECK(n0 == n1 && memcmp(before, after, n0) == 0);
    free(after);
    // A write into a missing directory fails with an I/O error, creating nothing.
    CHECK(silt_image_write_png(im, tmp_path("no/such/dir.png"), "x") == SILT_ERR_IO);
    CHECK(strstr(silt_last_error(), "no/such") != NULL);
    // Overwriting works and replaces the content.
    CHECK_OK(silt_image_write_png(other, p, "second"));
    CHECK_OK(silt_image_read(p, &back));
    CHECK(same_image(other, back));
    silt_image_free(back);
    CHECK(count_tmp_files() == 0);

    // Corrupt files give errors, never crashes.
    size_t n;
    uint8_t *b = slurp(p, &n);
    uint8_t *c = malloc(n);
    char *txt = NULL;
    memcpy(c, b, n);
    c[33 + 8 + 3] ^= 0x20;  // a byte inside the tEXt data: its CRC no longer matches
    spit(tmp_path("crc.png"), c, n);
    CHECK(silt_image_read_png_text(tmp_path("crc.png"), "parameters", &txt) == SILT_ERR_FORMAT && !txt);
    CHECK(strstr(silt_last_error(), "CRC") != NULL);
    memcpy(c, b, n);
    c[33] = 0x7f;  // tEXt length field claims ~2 GiB
    spit(tmp_path("len.png"), c, n);
    CHECK(silt_image_read_png_text(tmp_path("len.png"), "parameters", &txt) == SILT_ERR_FORMAT && !txt);
    for (size_t cut = 0; cut < n; cut += 7) {  // every truncation fails cleanly
        spit(tmp_path("cut.png"), b, cut);
        CHECK_MSG(silt_image_read_png_text(tmp_path("cut.png"), "parameters", &txt) == SILT_ERR_FORMAT && !txt,
                  "truncated at %zu", cut);
        // stb_image, like most decoders, accepts a file that lacks only
        // IEND; anything shorter misses image data and must fail.
        silt_image *bad = NULL;
        silt_status rs = silt_image_read(tmp_path("cut.png"), &bad);
        if (cut < n - 12) CHECK_MSG(rs != SILT_OK && !bad, "image_read truncated at %zu", cut);
        silt_image_free(bad);
    }
    memcpy(c, b, n);
    for (size_t i = 60; i < n - 12; i++) c[i] ^= (uint8_t)(i * 37);  // scramble the image data
    spit(tmp_path("scrambled.png"), c, n);
    silt_image *bad = NULL;
    silt_status s = silt_image_read(tmp_path("scrambled.png"), &bad);
    CHECK(s == SILT_ERR_FORMAT && bad == NULL);
    spit(tmp_path("notimage.png"), (const uint8_t *)"hello, not an image", 19);
    CHECK(silt_image_read(tmp_path("notimage.png"), &bad) == SILT_ERR_FORMAT && !bad);
    CHECK(silt_image_read_png_text(tmp_path("notimage.png"), "parameters", &txt) == SILT_ERR_FORMAT);
    CHECK(silt_image_read(tmp_path("missing.png"), &bad) == SILT_ERR_IO && !bad);
    CHECK(strstr(silt_last_error(), "missing.png") != NULL);
    CHECK(silt_image_read_png_text(tmp_path("missing.png"), "parameters", &txt) == SILT_ERR_IO);
    CHECK(silt_image_read(dir, &bad) != SILT_OK && !bad);  // a directory
    free(b);
    free(c);
    free(before);
    silt_image_free(im);
    silt_image_free(other);
}

static int dark(const silt_image *im, int x, int y) { return im->data[((size_t)y * im->w + x) * im->c] < 128; }

static void test_grid(void) {
    // Five tiles, one narrower and one RGBA; 3 columns, padding 2.
    silt_image *t[5];
    for (int i = 0; i < 5; i++) {
        t[i] = silt_image_create(i == 1 ? 7 : 40, 12, i == 4 ? 4 : 3);
        memset(t[i]->data, 60 + 30 * i, (size_t)t[i]->w * t[i]->h * t[i]->c);
    }
    const silt_image *const *tiles = (const silt_image *const *)t;
    silt_image *g = NULL;
    CHECK_OK(silt_image_grid(tiles, 5, 3, 2, NULL, &g));
    CHECK(g && g->w == 3 * 40 + 4 * 2 && g->h == 2 * 12 + 3 * 2 && g->c == 4);
    // Tile 3 (row 1, col 0) is at (2, 2 + 12 + 2) with its value; padding is white.
    CHECK(g->data[((size_t)16 * g->w + 2) * 4] == 150 && g->data[((size_t)16 * g->w + 2) * 4 + 3] == 255);
    CHECK(g->data[((size_t)0 * g->w + 0) * 4] == 255 && g->data[((size_t)15 * g->w + 2) * 4] == 255);
    CHECK(g->data[((size_t)2 * g->w + 2 + 42 + 6) * 4] == 90);  // last column of the narrow tile 1
    CHECK(g->data[((size_t)2 * g->w + 2 + 42 + 7) * 4] == 255);  // right of it: background
    silt_image_free(g);
    // Auto layout: ceil(sqrt(5)) = 3 columns; more columns than tiles: clamped.
    CHECK_OK(silt_image_grid(tiles, 5, 0, 0, NULL, &g));
    CHECK(g->w == 120 && g->h == 24);
    silt_image_free(g);
    CHECK_OK(silt_image_grid(tiles, 2, 10, 1, NULL, &g));
    CHECK(g->w == 2 * 40 + 3 && g->h == 12 + 2 && g->c == 3);
    silt_image_free(g);

    // Labels: "|" is one vertical bar in font column 2, rows 0..6.
    const char *labels[5] = {"|", NULL, "a very long label that cannot fit", "", "Hi"};
    CHECK_OK(silt_image_grid(tiles, 5, 3, 2, labels, &g));
    int lh = silt_image_label_height(40);
    CHECK(lh == 11);
    CHECK(g->h == 2 * (12 + lh) + 3 * 2);
    int x0 = 2, y0 = 2 + 12;  // tile 0's label band
    int bar = 1, around = 0;
    for (int y = 0; y < lh; y++)
        for (int x = 0; x < 40; x++) {
            int in_bar = x == 1 + 2 && y >= 2 && y < 9;
            if (in_bar) bar &= dark(g, x0 + x, y0 + y);
            else around += dark(g, x0 + x, y0 + y);
        }
    CHECK_MSG(bar && around == 0, "'|' label: bar %d, stray dark pixels %d", bar, around);
    // No label (NULL or "") means a blank band; the long label stays within its tile.
    int blank = 0, inside = 0, outside = 0;
    for (int y = 0; y < lh; y++) {
        for (int x = 0; x < 40; x++) blank += dark(g, 2 + 42 + x, y0 + y);         // tile 1: NULL
        for (int x = 0; x < 40; x++) inside += dark(g, 2 + 84 + x, y0 + y);        // tile 2: long
        for (int x = 40; x < 42; x++) outside += dark(g, 2 + 84 + x, y0 + y);
    }
    CHECK(blank == 0 && inside > 50 && outside == 0);
    int dark3 = 0, dark4 = 0;  // row 1: tile 3 has "", tile 4 has "Hi"
    for (int y = 0; y < lh; y++)
        for (int x = 0; x < 40; x++) {
            dark3 += dark(g, 2 + x, 2 + 2 * 12 + lh + 2 + y);
            dark4 += dark(g, 2 + 42 + x, 2 + 2 * 12 + lh + 2 + y);
        }
    CHECK(dark3 == 0 && dark4 > 10);
    silt_image_free(g);
    // Wide cells get the doubled font.
    CHECK(silt_image_label_height(256) == 22);

    CHECK(silt_image_grid(tiles, 0, 1, 0, NULL, &g) == SILT_ERR_ARG);
    const silt_image *holes[2] = {t[0], NULL};
    CHECK(silt_image_grid(holes, 2, 1, 0, NULL, &g) == SILT_ERR_ARG);
    for (int i = 0; i < 5; i++) silt_image_free(t[i]);
}

static void test_resize(void) {
    // Nearest 2x2 -> 4x4: each source pixel becomes a 2x2 block.
    silt_image *s = silt_image_create(2, 2, 3), *o = NULL;
    for (int i = 0; i < 12; i++) s->data[i] = (uint8_t)(10 * i + 5);
    CHECK_OK(silt_image_resize_nearest(s, 4, 4, &o));
    int ok = o && o->w == 4 && o->h == 4;
    for (int y = 0; ok && y < 4; y++)
        for (int x = 0; x < 4; x++)
            for (int k = 0; k < 3; k++) ok &= o->data[(y * 4 + x) * 3 + k] == s->data[((y / 2) * 2 + x / 2) * 3 + k];
    CHECK_MSG(ok, "nearest 2x2 -> 4x4");
    silt_image_free(o);
    // Nearest to the same size is the identity; to 1x1 picks the centre's pixel.
    silt_image *r = random_image(13, 7, 4);
    CHECK_OK(silt_image_resize_nearest(r, 13, 7, &o));
    CHECK(same_image(r, o));
    silt_image_free(o);

    // Bilinear of a constant image is that constant.
    silt_image *k = silt_image_create(5, 3, 4);
    memset(k->data, 77, 5 * 3 * 4);
    CHECK_OK(silt_image_resize_bilinear(k, 23, 17, &o));
    ok = 1;
    for (int i = 0; i < 23 * 17 * 4; i++) ok &= o->data[i] == 77;
    CHECK(ok);
    silt_image_free(o);
    // Bilinear 2 -> 4 of a row [0, 100]: centres at -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
    silt_image *row = silt_image_create(2, 1, 1);
    row->data[0] = 0;
    row->data[1] = 100;
    CHECK_OK(silt_image_resize_bilinear(row, 4, 1, &o));
    CHECK(o->data[0] == 0 && o->data[1] == 25 && o->data[2] == 75 && o->data[3] == 100);
    silt_image_free(o);
    // A horizontal ramp stays monotone along every row, ends preserved.
    silt_image *ramp = silt_image_create(6, 4, 3);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 6; x++)
            for (int c = 0; c < 3; c++) ramp->data[(y * 6 + x) * 3 + c] = (uint8_t)(x * 50 + c);
    CHECK_OK(silt_image_resize_bilinear(ramp, 31, 9, &o));
    ok = 1;
    for (int y = 0; y < 9; y++) {
        for (int x = 1; x < 31; x++)
            for (int c = 0; c < 3; c++) ok &= o->data[(y * 31 + x) * 3 + c] >= o->data[(y * 31 + x - 1) * 3 + c];
        ok &= o->data[(y * 31) * 3] == 0 && o->data[(y * 31 + 30) * 3] == 250;
    }
    CHECK_MSG(ok, "bilinear ramp monotone");
    silt_image_free(o);
    CHECK(silt_image_resize_bilinear(ramp, 0, 5, &o) == SILT_ERR_ARG);
    silt_image_free(s);
    silt_image_free(r);
    silt_image_free(k);
    silt_image_free(row);
    silt_image_free(ramp);
}

static void test_tensor(void) {
    // CHW -> HWC layout, mapping [-1, 1] -> [0, 255], rounding and clamping.
    const int C = 3, H = 2, W = 3;
    float x[18];
    for (int i = 0; i < 18; i++) x[i] = -1.0f + (float)i / 17.0f * 2.0f;
    silt_image *im = NULL;
    CHECK_OK(silt_image_from_tensor(x, C, H, W, -1.0f, 1.0f, &im));
    int ok = im && im->w == W && im->h == H && im->c == C;
    for (int ch = 0; ok && ch < C; ch++)
        for (int p = 0; p < H * W; p++) {
            double v = ((double)x[ch * H * W + p] + 1.0) * 127.5;
            int want = (int)floor(v + 0.5);
            ok &= im->data[p * C + ch] == want;
        }
    CHECK_MSG(ok, "from_tensor layout and rounding");
    silt_image_free(im);
    // Endpoints, half-way rounding, clamping.
    float v[8] = {-1.0f, 1.0f, 0.0f, -3.0f, 7.0f, -1.0f + 0.49f / 127.5f, -1.0f + 0.51f / 127.5f, 1.0f - 0.4f / 127.5f};
    CHECK_OK(silt_image_from_tensor(v, 1, 1, 8, -1.0f, 1.0f, &im));
    const uint8_t want[8] = {0, 255, 128, 0, 255, 0, 1, 255};
    CHECK(memcmp(im->data, want, 8) == 0);
    // Round trip through to_tensor.
    float back[8];
    CHECK_OK(silt_image_to_tensor(im, back, 0.0f, 255.0f));
    ok = 1;
    for (int i = 0; i < 8; i++) ok &= back[i] == (float)want[i];
    CHECK(ok);
    silt_image *im2 = NULL;
    CHECK_OK(silt_image_from_tensor(back, 1, 1, 8, 0.0f, 255.0f, &im2));
    CHECK(same_image(im, im2));
    silt_image_free(im2);
    // NaN and Inf: numeric error, *out untouched.
    silt_image *keep = im;
    v[5] = NAN;
    CHECK(silt_image_from_tensor(v, 1, 1, 8, -1.0f, 1.0f, &im) == SILT_ERR_NUMERIC && im == keep);
    v[5] = INFINITY;
    CHECK(silt_image_from_tensor(v, 1, 1, 8, -1.0f, 1.0f, &im) == SILT_ERR_NUMERIC && im == keep);
    v[5] = 0;
    CHECK(silt_image_from_tensor(v, 1, 1, 8, 1.0f, 1.0f, &im) == SILT_ERR_ARG);
    CHECK(silt_image_from_tensor(v, 2, 1, 4, -1.0f, 1.0f, &im) == SILT_ERR_ARG);
    silt_image_free(keep);
    CHECK(silt_image_create(0, 4, 3) == NULL && silt_image_create(4, 4, 2) == NULL);
    silt_image_free(NULL);
}

static void remove_dir(void) {
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        unlink(tmp_path(e->d_name));
    }
    if (d) closedir(d);
    rmdir(dir);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/silt_test_image_XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    test_seed(3);
    test_crc();
    test_png_roundtrip();
    test_png_text();
    test_atomic_and_errors();
    test_grid();
    test_resize();
    test_tensor();
    if (getenv("SILT_KEEP_TEST_FILES")) fprintf(stderr, "test files kept in %s\n", dir);
    else remove_dir();
    return check_summary();
}
