// safetensors reader/writer: round trips for every dtype (plain and .zst),
// lookups, f32 conversions against plainly written decoders, atomic writes,
// a table of malformed headers, truncations, and a golden file written by the
// reference Python library (tests/golden/make_safetensors_golden.py).
#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "check.h"
#include "core/json.h"
#include "core/safetensors.h"

static char tmpdir[256];

static void tmp_path(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", tmpdir, name); }

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    *len = got;
    return buf;
}

static int spit(const char *path, const void *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t put = fwrite(buf, 1, len, f);
    fclose(f);
    return put == len ? 0 : -1;
}

// File image: u64 header length, the header text, then data_len bytes (0..).
static unsigned char *make_image(const char *hdr, size_t hdr_len, size_t data_len, size_t *len) {
    *len = 8 + hdr_len + data_len;
    unsigned char *img = calloc(1, *len);
    for (int i = 0; i < 8; i++) img[i] = (unsigned char)((uint64_t)hdr_len >> (8 * i));
    memcpy(img + 8, hdr, hdr_len);
    for (size_t i = 0; i < data_len; i++) img[8 + hdr_len + i] = (unsigned char)(i * 7 + 1);
    return img;
}

// Counts directory entries whose name starts with prefix (leftover temp files).
static int count_prefixed(const char *prefix) {
    DIR *d = opendir(tmpdir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
    if (d) closedir(d);
    return n;
}

static void test_dtype_names(void) {
    for (int i = 0; i < SILT_ST_DTYPE_COUNT; i++) {
        silt_st_dtype d;
        CHECK_OK(silt_st_dtype_from_name(silt_st_dtype_name((silt_st_dtype)i), &d));
        CHECK(d == (silt_st_dtype)i);
    }
    silt_st_dtype d;
    CHECK(silt_st_dtype_from_name("f32", &d) == SILT_ERR_ARG);
    CHECK(strcmp(silt_st_dtype_name(SILT_ST_BF16), "BF16") == 0);
    CHECK(silt_st_dtype_size(SILT_ST_F64) == 8 && silt_st_dtype_size(SILT_ST_BF16) == 2 &&
          silt_st_dtype_size(SILT_ST_F8_E5M2) == 1 && silt_st_dtype_size(SILT_ST_BOOL) == 1 &&
          silt_st_dtype_size(SILT_ST_U32) == 4);
}

// One tensor per dtype with random bytes, odd shapes, a scalar, two empty
// tensors and metadata that needs every kind of JSON escaping.
typedef struct rt_tensor {
    char name[64];
    silt_st_dtype dtype;
    int ndim;
    int64_t shape[SILT_ST_MAX_DIMS];
    unsigned char *data;
    size_t nbytes;
} rt_tensor;

static const char *meta_keys[] = {"format", "quote\"back\\slash", "ctrl\x01\x1f\n\t\r\b\f", "unicode", "empty", ""};
static const char *meta_vals[] = {"pt", "a \"b\" \\c\\", "x\ny\tz\x7f", "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "",
                                  "empty key"};
#define NMETA 6

static void check_file_matches(const silt_safetensors *st, const rt_tensor *ts, int n, int aligned) {
    CHECK(silt_safetensors_count(st) == n);
    for (int i = 0; i < n; i++) {
        const silt_st_tensor *t = silt_safetensors_find(st, ts[i].name);
        CHECK_MSG(t != NULL, "tensor %s not found", ts[i].name);
        if (!t) continue;
        CHECK(strcmp(t->name, ts[i].name) == 0);
        CHECK(t->dtype == ts[i].dtype && t->ndim == ts[i].ndim && t->nbytes == ts[i].nbytes);
        for (int k = 0; k < ts[i].ndim; k++) CHECK(t->shape[k] == ts[i].shape[k]);
        CHECK_MSG(ts[i].nbytes == 0 || memcmp(t->data, ts[i].data, ts[i].nbytes) == 0, "data of %s differs",
                  ts[i].name);
        if (aligned) CHECK_MSG((uintptr_t)t->data % silt_st_dtype_size(t->dtype) == 0, "%s misaligned", t->name);
    }
    // get() is in offset order and the data is contiguous.
    for (int i = 1; i < n; i++) {
        const silt_st_tensor *a = silt_safetensors_get(st, i - 1), *b = silt_safetensors_get(st, i);
        CHECK((const char *)a->data + a->nbytes == (const char *)b->data);
    }
    CHECK(silt_safetensors_get(st, -1) == NULL && silt_safetensors_get(st, n) == NULL);
    CHECK(silt_safetensors_metadata_count(st) == NMETA);
    for (int i = 0; i < NMETA; i++) {
        const char *v = silt_safetensors_metadata(st, meta_keys[i]);
        CHECK_MSG(v && strcmp(v, meta_vals[i]) == 0, "metadata %d", i);
    }
    CHECK(silt_safetensors_metadata(st, "absent") == NULL);
    const char *prev = NULL;
    for (int i = 0; i < NMETA; i++) {  // metadata_at is sorted by key
        const char *k, *v;
        CHECK_OK(silt_safetensors_metadata_at(st, i, &k, &v));
        CHECK(v == silt_safetensors_metadata(st, k));
        if (prev) CHECK(strcmp(prev, k) < 0);
        prev = k;
    }
    const char *k, *v;
    CHECK(silt_safetensors_metadata_at(st, NMETA, &k, &v) == SILT_ERR_ARG);
}

static void test_roundtrip(void) {
    rt_tensor ts[SILT_ST_DTYPE_COUNT + 3];
    int n = 0;
    test_seed(7);
    for (int d = 0; d < SILT_ST_DTYPE_COUNT; d++, n++) {
        rt_tensor *t = &ts[n];
        snprintf(t->name, sizeof t->name, "layer.%d.%s", d, silt_st_dtype_name((silt_st_dtype)d));
        t->dtype = (silt_st_dtype)d;
        t->ndim = 1 + d % 4;
        int64_t numel = 1;
        for (int k = 0; k < t->ndim; k++) numel *= t->shape[k] = 1 + (int64_t)(test_uniform() * 5);
        t->nbytes = (size_t)numel * silt_st_dtype_size(t->dtype);
        t->data = malloc(t->nbytes);
        for (size_t b = 0; b < t->nbytes; b++) t->data[b] = (unsigned char)(test_uniform() * 256);
    }
    static const float scalar = 3.5f;
    ts[n] = (rt_tensor){"scalar \"q\" \\ \xc3\xa9", SILT_ST_F32, 0, {0}, (unsigned char *)&scalar, 4};
    n++;
    ts[n] = (rt_tensor){"empty.a", SILT_ST_F16, 2, {0, 5}, NULL, 0};
    n++;
    ts[n] = (rt_tensor){"empty.b", SILT_ST_I64, 3, {3, 0, 2}, NULL, 0};
    n++;

    const char *files[] = {"rt.safetensors", "rt.safetensors.zst"};
    for (int f = 0; f < 2; f++) {
        char path[512];
        tmp_path(path, sizeof path, files[f]);
        silt_st_writer *w = silt_st_writer_create();
        for (int i = n - 1; i >= 0; i--)  // reverse order: the writer must sort
            CHECK_OK(silt_st_writer_add(w, ts[i].name, ts[i].dtype, ts[i].ndim, ts[i].shape, ts[i].data));
        CHECK_OK(silt_st_writer_set_metadata(w, "format", "overwritten below"));
        for (int i = 0; i < NMETA; i++) CHECK_OK(silt_st_writer_set_metadata(w, meta_keys[i], meta_vals[i]));
        if (f == 1) CHECK_OK(silt_st_writer_set_zstd_level(w, 5));
        CHECK_OK(silt_st_writer_write(w, path));
        silt_st_writer_free(w);

        silt_safetensors *st = NULL;
        CHECK_OK(silt_safetensors_open(path, &st));
        if (st) check_file_matches(st, ts, n, f == 0);  // mmap'ed: page-aligned base
        silt_safetensors_close(st);

        size_t len;
        unsigned char *img = slurp(path, &len);
        if (f == 0) {
            uint64_t hl = 0;
            for (int i = 7; i >= 0; i--) hl = hl << 8 | img[i];
            size_t last = 8 + hl - 1;
            while (last > 8 && img[last] == ' ') last--;
            CHECK(hl % 8 == 0 && hl + 8 < len && img[8] == '{' && img[last] == '}');  // padded with spaces
            st = NULL;
            CHECK_OK(silt_safetensors_parse(img, len, &st));
            if (st) check_file_matches(st, ts, n, 0);
            silt_safetensors_close(st);
            // Every truncation of a valid file fails cleanly with a format error.
            int bad = 0;
            for (size_t k = 0; k < len; k++) {
                st = NULL;
                if (silt_safetensors_parse(img, k, &st) != SILT_ERR_FORMAT || st) bad++;
            }
            CHECK_MSG(bad == 0, "%d truncations of %zu were not rejected", bad, len);
        } else {
            CHECK(len > 4 && img[0] == 0x28 && img[1] == 0xb5 && img[2] == 0x2f && img[3] == 0xfd);  // zstd magic
            char cut[512];
            tmp_path(cut, sizeof cut, "cut.safetensors.zst");
            int bad = 0;
            for (size_t k = 0; k < len; k++) {
                spit(cut, img, k);
                st = NULL;
                silt_status s = silt_safetensors_open(cut, &st);
                if (s != SILT_ERR_FORMAT || st) bad++;
            }
            CHECK_MSG(bad == 0, "%d zstd truncations of %zu were not rejected", bad, len);
            spit(cut, img, len - 1);
            silt_safetensors_open(cut, &st);
            CHECK(strstr(silt_last_error(), "truncated") != NULL);
            // Trailing garbage after the frame is an error too.
            unsigned char *more = malloc(len + 3);
            memcpy(more, img, len);
            memcpy(more + len, "abc", 3);
            spit(cut, more, len + 3);
            CHECK(silt_safetensors_open(cut, &st) == SILT_ERR_FORMAT);
            free(more);
            unlink(cut);
        }
        free(img);
        unlink(path);
    }
    for (int d = 0; d < SILT_ST_DTYPE_COUNT; d++) free(ts[d].data);
}

// Files compressed by other tools: several concatenated frames (zstd -c a b),
// no content size in the header, or not zstd at all.
static void test_zst_frames(void) {
    static const char hdr[] = "{\"a\":{\"dtype\":\"U8\",\"shape\":[3000],\"data_offsets\":[0,3000]}}";
    size_t len;
    unsigned char *img = make_image(hdr, sizeof hdr - 1, 3000, &len);
    size_t cap = ZSTD_compressBound(len) * 2 + 64, half = len / 2, n1, n2;
    unsigned char *z = malloc(cap);
    n1 = ZSTD_compress(z, cap, img, half, 1);
    n2 = ZSTD_compress(z + n1, cap - n1, img + half, len - half, 19);
    CHECK(!ZSTD_isError(n1) && !ZSTD_isError(n2));
    char path[512];
    tmp_path(path, sizeof path, "frames.safetensors.zst");
    spit(path, z, n1 + n2);
    silt_safetensors *st = NULL;
    CHECK_OK(silt_safetensors_open(path, &st));
    const silt_st_tensor *t = silt_safetensors_find(st, "a");
    CHECK(t && t->nbytes == 3000 && memcmp(t->data, img + len - 3000, 3000) == 0);
    silt_safetensors_close(st);
    // Streaming compression without a pledged size: the frame has no content size.
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_inBuffer ib = {img, len, 0};
    ZSTD_outBuffer ob = {z, cap, 0};
    size_t left = ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_continue);  // first call without e_end: size unknown
    ZSTD_inBuffer none = {NULL, 0, 0};
    while (!ZSTD_isError(left)) {
        left = ZSTD_compressStream2(c, &ob, &none, ZSTD_e_end);
        if (left == 0) break;
    }
    ZSTD_freeCCtx(c);
    CHECK(left == 0 && ZSTD_getFrameContentSize(z, ob.pos) == ZSTD_CONTENTSIZE_UNKNOWN);
    spit(path, z, ob.pos);
    st = NULL;
    CHECK_OK(silt_safetensors_open(path, &st));
    CHECK(silt_safetensors_count(st) == 1);
    silt_safetensors_close(st);
    spit(path, img, len);  // an uncompressed file named .zst
    CHECK(silt_safetensors_open(path, &st) == SILT_ERR_FORMAT && strstr(silt_last_error(), "zstd"));
    unlink(path);
    free(z);
    free(img);
}

static void test_writer_args(void) {
    silt_st_writer *w = silt_st_writer_create();
    float x[4] = {0};
    int64_t shape[9] = {2, 2, 1, 1, 1, 1, 1, 1, 1}, neg[1] = {-1};
    CHECK_OK(silt_st_writer_add(w, "a", SILT_ST_F32, 2, shape, x));
    CHECK(silt_st_writer_add(w, "a", SILT_ST_F32, 2, shape, x) == SILT_ERR_ARG);
    CHECK(strstr(silt_last_error(), "duplicate") != NULL);
    CHECK(silt_st_writer_add(w, "__metadata__", SILT_ST_F32, 2, shape, x) == SILT_ERR_ARG);
    CHECK(silt_st_writer_add(w, "b", SILT_ST_DTYPE_COUNT, 2, shape, x) == SILT_ERR_ARG);
    CHECK(silt_st_writer_add(w, "b", SILT_ST_F32, 9, shape, x) == SILT_ERR_ARG);
    CHECK(silt_st_writer_add(w, "b", SILT_ST_F32, -1, shape, x) == SILT_ERR_ARG);
    CHECK(silt_st_writer_add(w, "b", SILT_ST_F32, 1, neg, x) == SILT_ERR_ARG);
    CHECK(silt_st_writer_add(w, "b", SILT_ST_F32, 2, shape, NULL) == SILT_ERR_ARG);
    CHECK(silt_st_writer_add(w, "\xff", SILT_ST_F32, 2, shape, x) == SILT_ERR_ARG);
    CHECK(silt_st_writer_add(w, NULL, SILT_ST_F32, 2, shape, x) == SILT_ERR_ARG);
    CHECK(silt_st_writer_set_metadata(w, "k", "\xc3") == SILT_ERR_ARG);
    CHECK(silt_st_writer_set_zstd_level(w, 1000) == SILT_ERR_ARG);
    // Many names exercise the duplicate-name hash set growth.
    char name[32];
    for (int i = 0; i < 500; i++) {
        snprintf(name, sizeof name, "t%d", i);
        CHECK_OK(silt_st_writer_add(w, name, SILT_ST_U8, 1, shape, x));
    }
    CHECK(silt_st_writer_add(w, "t123", SILT_ST_U8, 1, shape, x) == SILT_ERR_ARG);
    silt_st_writer_free(w);
    silt_st_writer_free(NULL);
    silt_safetensors_close(NULL);
}

static void test_find_many(void) {
    // 300 tensors with random names: find must return each, and only each.
    enum { N = 300 };
    static char names[N][24];
    static uint16_t vals[N];
    silt_st_writer *w = silt_st_writer_create();
    test_seed(11);
    int64_t one = 1;
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "m.%u.w%d", (unsigned)(test_uniform() * 1e6), i);
        vals[i] = (uint16_t)i;
        CHECK_OK(silt_st_writer_add(w, names[i], SILT_ST_U16, 1, &one, &vals[i]));
    }
    char path[512];
    tmp_path(path, sizeof path, "many.safetensors");
    CHECK_OK(silt_st_writer_write(w, path));
    silt_st_writer_free(w);
    silt_safetensors *st = NULL;
    CHECK_OK(silt_safetensors_open(path, &st));
    int bad = 0;
    for (int i = 0; st && i < N; i++) {
        const silt_st_tensor *t = silt_safetensors_find(st, names[i]);
        uint16_t v;
        if (!t || strcmp(t->name, names[i]) != 0) { bad++; continue; }
        memcpy(&v, t->data, 2);
        if (v != i) bad++;
    }
    CHECK(bad == 0);
    CHECK(silt_safetensors_find(st, "m.") == NULL && silt_safetensors_find(st, "zzz") == NULL &&
          silt_safetensors_find(st, "") == NULL);
    // get() order is by offset; the writer sorts equal-size dtypes by name.
    for (int i = 1; st && i < N; i++)
        CHECK(strcmp(silt_safetensors_get(st, i - 1)->name, silt_safetensors_get(st, i)->name) < 0);
    CHECK(silt_safetensors_metadata_count(st) == 0);
    silt_safetensors_close(st);
    unlink(path);
}

// Plainly written decoders (IEEE 754 binary16, OCP FP8 v1.0) for reference.
static double ref_f16(uint16_t h) {
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}
static double ref_e4m3(uint8_t b) {
    int s = b >> 7, e = (b >> 3) & 15, m = b & 7;
    double v = (e == 15 && m == 7) ? NAN : e == 0 ? m / 8.0 * pow(2, -6) : (1 + m / 8.0) * pow(2, e - 7);
    return s ? -v : v;
}
static double ref_e5m2(uint8_t b) {
    int s = b >> 7, e = (b >> 2) & 31, m = b & 3;
    double v = e == 0 ? m / 4.0 * pow(2, -14) : e == 31 ? (m ? NAN : INFINITY) : (1 + m / 4.0) * pow(2, e - 15);
    return s ? -v : v;
}

static int same_float(float a, double b) { return (isnan(a) && isnan(b)) || a == (float)b; }

static void test_read_f32(void) {
    // Every bit pattern of the 16- and 8-bit float formats.
    enum { N16 = 65536 };
    uint16_t *h = malloc(N16 * 2);
    float *out = malloc(N16 * sizeof *out);
    for (int i = 0; i < N16; i++) h[i] = (uint16_t)i;
    silt_st_tensor t = {"h", SILT_ST_F16, 1, {N16}, h, N16 * 2};
    CHECK_OK(silt_safetensors_read_f32(&t, out, N16));
    int bad = 0;
    for (int i = 0; i < N16; i++) bad += !same_float(out[i], ref_f16((uint16_t)i));
    CHECK_MSG(bad == 0, "f16: %d wrong", bad);
    t.dtype = SILT_ST_BF16;
    CHECK_OK(silt_safetensors_read_f32(&t, out, N16));
    bad = 0;
    for (int i = 0; i < N16; i++) {
        int e = (i >> 7) & 255, m = i & 127;
        double v = e == 0 ? ldexp(m, -133) : e == 255 ? (m ? NAN : INFINITY) : ldexp(128 + m, e - 134);
        bad += !same_float(out[i], (i >> 15) ? -v : v);
    }
    CHECK_MSG(bad == 0, "bf16: %d wrong", bad);
    unsigned char b[256];
    for (int i = 0; i < 256; i++) b[i] = (unsigned char)i;
    silt_st_tensor t8 = {"b", SILT_ST_F8_E4M3, 2, {16, 16}, b, 256};
    CHECK_OK(silt_safetensors_read_f32(&t8, out, 256));
    bad = 0;
    for (int i = 0; i < 256; i++) bad += !same_float(out[i], ref_e4m3((uint8_t)i));
    CHECK_MSG(bad == 0, "e4m3: %d wrong", bad);
    t8.dtype = SILT_ST_F8_E5M2;
    CHECK_OK(silt_safetensors_read_f32(&t8, out, 256));
    bad = 0;
    for (int i = 0; i < 256; i++) bad += !same_float(out[i], ref_e5m2((uint8_t)i));
    CHECK_MSG(bad == 0, "e5m2: %d wrong", bad);
    t8.dtype = SILT_ST_I8;
    CHECK_OK(silt_safetensors_read_f32(&t8, out, 256));
    CHECK(out[127] == 127 && out[128] == -128 && out[255] == -1);
    t8.dtype = SILT_ST_BOOL;
    CHECK_OK(silt_safetensors_read_f32(&t8, out, 256));
    CHECK(out[0] == 0 && out[1] == 1 && out[255] == 1);

    // Random f64 / wide integers at an unaligned address.
    enum { ND = 37 };
    unsigned char *raw = malloc(ND * 8 + 1);
    double dref[ND];
    test_seed(3);
    for (int i = 0; i < ND; i++) {
        dref[i] = (test_uniform() - 0.5) * pow(10, (int)(test_uniform() * 60) - 30);
        memcpy(raw + 1 + i * 8, &dref[i], 8);
    }
    silt_st_tensor td = {"d", SILT_ST_F64, 1, {ND}, raw + 1, ND * 8};
    CHECK_OK(silt_safetensors_read_f32(&td, out, ND));
    bad = 0;
    for (int i = 0; i < ND; i++) bad += out[i] != (float)dref[i];
    CHECK(bad == 0);
    int64_t iv[3] = {INT64_MIN, INT64_MAX, -3};
    memcpy(raw + 1, iv, sizeof iv);
    silt_st_tensor ti = {"i", SILT_ST_I64, 1, {3}, raw + 1, 24};
    CHECK_OK(silt_safetensors_read_f32(&ti, out, 3));
    CHECK(out[0] == -9223372036854775808.0f && out[1] == 9223372036854775808.0f && out[2] == -3);
    ti.dtype = SILT_ST_U64;
    CHECK_OK(silt_safetensors_read_f32(&ti, out, 3));
    CHECK(out[0] == 9223372036854775808.0f && out[2] == 18446744073709551616.0f);
    // n must equal numel; descriptors that lie about their size are refused.
    CHECK(silt_safetensors_read_f32(&ti, out, 2) == SILT_ERR_SHAPE);
    CHECK(silt_safetensors_read_f32(&ti, out, 4) == SILT_ERR_SHAPE);
    ti.nbytes = 23;
    CHECK(silt_safetensors_read_f32(&ti, out, 3) == SILT_ERR_ARG);
    CHECK(silt_safetensors_read_f32(NULL, out, 3) == SILT_ERR_ARG);
    silt_st_tensor empty = {"e", SILT_ST_F32, 2, {0, 4}, NULL, 0};
    CHECK_OK(silt_safetensors_read_f32(&empty, NULL, 0));
    free(raw);
    free(h);
    free(out);
}

// The committed file written by Python safetensors 0.8.0: values checked exactly.
static const silt_st_tensor *need(const silt_safetensors *st, const char *name, silt_st_dtype dt, int ndim, int64_t d0,
                                  int64_t d1) {
    const silt_st_tensor *t = silt_safetensors_find(st, name);
    CHECK_MSG(t && t->dtype == dt && t->ndim == ndim && (ndim < 1 || t->shape[0] == d0) &&
                  (ndim < 2 || t->shape[1] == d1),
              "golden tensor %s", name);
    return t && t->dtype == dt ? t : NULL;
}

static void test_golden(void) {
    char path[1024];
    const char *src = getenv("SILT_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/golden/st_reference.safetensors", src ? src : ".");
    silt_safetensors *st = NULL;
    CHECK_OK(silt_safetensors_open(path, &st));
    if (!st) return;
    CHECK(silt_safetensors_count(st) == 18);
    CHECK(silt_safetensors_metadata_count(st) == 4);
    const char *note = silt_safetensors_metadata(st, "note");
    CHECK(note && strcmp(note, "line1\nline2 \"q\" \\ tab\t \xc3\xa9 \xf0\x9f\x98\x80") == 0);
    const char *ctrl = silt_safetensors_metadata(st, "ctrl");
    CHECK(ctrl && strcmp(ctrl, "\x01\x1f") == 0);
    CHECK(silt_safetensors_metadata(st, "format") && strcmp(silt_safetensors_metadata(st, "format"), "pt") == 0);
    const char *gen = silt_safetensors_metadata(st, "generator");
    CHECK(gen && strncmp(gen, "safetensors ", 12) == 0);
    float f[8];
    const silt_st_tensor *t;
    if ((t = need(st, "f32", SILT_ST_F32, 2, 2, 3)) && silt_safetensors_read_f32(t, f, 6) == SILT_OK)
        CHECK(f[0] == -1.5f && f[1] == -0.25f && f[2] == 0 && f[3] == 0.125f && f[4] == 3.75f && f[5] == 3.1415927f);
    if ((t = need(st, "f16", SILT_ST_F16, 1, 4, 0)) && silt_safetensors_read_f32(t, f, 4) == SILT_OK)
        CHECK(f[0] == 1 && f[1] == -2.5f && f[2] == 6.103515625e-05f && f[3] == 65504);
    if ((t = need(st, "bf16", SILT_ST_BF16, 2, 2, 2)) && silt_safetensors_read_f32(t, f, 4) == SILT_OK)
        CHECK(f[0] == 1 && f[1] == -2 && f[2] == 0.5f && f[3] == 3.140625f);
    if ((t = need(st, "f64", SILT_ST_F64, 1, 3, 0))) {
        double d[3];
        memcpy(d, t->data, 24);
        CHECK(d[0] == 0.1 && d[1] == -2.5e10 && d[2] == 1.0 / 3.0);
        CHECK_OK(silt_safetensors_read_f32(t, f, 3));
        CHECK(f[0] == 0.1f && f[1] == -2.5e10f && f[2] == (float)(1.0 / 3.0));
    }
    if ((t = need(st, "i64", SILT_ST_I64, 1, 3, 0))) {
        int64_t v[3];
        memcpy(v, t->data, 24);
        CHECK(v[0] == -(INT64_C(1) << 40) && v[1] == 7 && v[2] == -1);
    }
    if ((t = need(st, "u64", SILT_ST_U64, 1, 2, 0))) {
        uint64_t v[2];
        memcpy(v, t->data, 16);
        CHECK(v[0] == (UINT64_C(1) << 63) + 5 && v[1] == 9);
    }
    if ((t = need(st, "i32", SILT_ST_I32, 1, 2, 0)) && silt_safetensors_read_f32(t, f, 2) == SILT_OK)
        CHECK(f[0] == -123456 && f[1] == 2147483647.0f);
    if ((t = need(st, "u32", SILT_ST_U32, 1, 2, 0)) && silt_safetensors_read_f32(t, f, 2) == SILT_OK)
        CHECK(f[0] == 4000000000.0f && f[1] == 1);
    if ((t = need(st, "i16", SILT_ST_I16, 1, 3, 0)) && silt_safetensors_read_f32(t, f, 3) == SILT_OK)
        CHECK(f[0] == -32768 && f[1] == 32767 && f[2] == 0);
    if ((t = need(st, "u16", SILT_ST_U16, 1, 2, 0)) && silt_safetensors_read_f32(t, f, 2) == SILT_OK)
        CHECK(f[0] == 65535 && f[1] == 3);
    if ((t = need(st, "i8", SILT_ST_I8, 1, 3, 0)) && silt_safetensors_read_f32(t, f, 3) == SILT_OK)
        CHECK(f[0] == -128 && f[1] == 127 && f[2] == -1);
    if ((t = need(st, "u8", SILT_ST_U8, 2, 1, 4)) && silt_safetensors_read_f32(t, f, 4) == SILT_OK)
        CHECK(f[0] == 0 && f[1] == 1 && f[2] == 200 && f[3] == 255);
    if ((t = need(st, "bool", SILT_ST_BOOL, 1, 3, 0)) && silt_safetensors_read_f32(t, f, 3) == SILT_OK)
        CHECK(f[0] == 1 && f[1] == 0 && f[2] == 1);
    if ((t = need(st, "f8_e4m3", SILT_ST_F8_E4M3, 1, 4, 0)) && silt_safetensors_read_f32(t, f, 4) == SILT_OK)
        CHECK(f[0] == 1 && f[1] == -448 && f[2] == 0.001953125f && isnan(f[3]));
    if ((t = need(st, "f8_e5m2", SILT_ST_F8_E5M2, 1, 4, 0)) && silt_safetensors_read_f32(t, f, 4) == SILT_OK)
        CHECK(f[0] == 1 && isinf(f[1]) && f[1] < 0 && f[2] == 57344 && f[3] == 1.52587890625e-05f);
    if ((t = need(st, "scalar", SILT_ST_F32, 0, 0, 0)) && silt_safetensors_read_f32(t, f, 1) == SILT_OK)
        CHECK(f[0] == 42);
    if ((t = need(st, "empty", SILT_ST_F32, 2, 0, 3)))
        CHECK(t->nbytes == 0 && silt_safetensors_read_f32(t, f, 0) == SILT_OK);
    if ((t = need(st, "we\"ird\\name\xc3\xa9", SILT_ST_F32, 1, 1, 0)) && silt_safetensors_read_f32(t, f, 1) == SILT_OK)
        CHECK(f[0] == -7);

    // Our writer reproduces the reference file byte for byte when given the
    // same metadata order (the reference's is a hash map's, so take it from
    // the file's header with the JSON parser).
    size_t len, len2;
    unsigned char *ref = slurp(path, &len);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | ref[i];
    silt_json *doc = NULL;
    CHECK_OK(silt_json_parse((const char *)ref + 8, (size_t)hl, 64, &doc));
    silt_st_writer *w = silt_st_writer_create();
    const silt_json_value *meta = silt_json_member(doc, silt_json_root(doc), "__metadata__");
    for (const silt_json_value *m = silt_json_child(doc, meta); m; m = silt_json_next(doc, m))
        CHECK_OK(silt_st_writer_set_metadata(w, m->key, m->str));
    for (int i = silt_safetensors_count(st) - 1; i >= 0; i--) {
        t = silt_safetensors_get(st, i);
        CHECK_OK(silt_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data));
    }
    char out[512];
    tmp_path(out, sizeof out, "golden_rewrite.safetensors");
    CHECK_OK(silt_st_writer_write(w, out));
    unsigned char *ours = slurp(out, &len2);
    CHECK_MSG(ours && len2 == len && memcmp(ours, ref, len) == 0, "rewrite of the reference file differs");
    unlink(out);
    free(ours);
    free(ref);
    silt_json_free(doc);
    silt_st_writer_free(w);
    silt_safetensors_close(st);
}

static void test_atomic_write(void) {
    float big[1 << 16];
    for (int i = 0; i < 1 << 16; i++) big[i] = (float)i;
    int64_t shape[1] = {1 << 16};
    silt_st_writer *w = silt_st_writer_create();
    CHECK_OK(silt_st_writer_add(w, "big", SILT_ST_F32, 1, shape, big));

    // A directory that does not exist: error, nothing created.
    char path[512];
    tmp_path(path, sizeof path, "nodir/x.safetensors");
    CHECK(silt_st_writer_write(w, path) == SILT_ERR_IO);
    struct stat sb;
    CHECK(stat(path, &sb) != 0);

    // A failure in the middle of writing (file size limit) leaves an existing
    // checkpoint untouched and no temporary file behind.
    tmp_path(path, sizeof path, "keep.safetensors");
    static const char old[] = "the previous checkpoint";
    spit(path, old, sizeof old);
    struct rlimit saved, lim;
    getrlimit(RLIMIT_FSIZE, &saved);
    lim = saved;
    lim.rlim_cur = 4096;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
        silt_status s = silt_st_writer_write(w, path);
        setrlimit(RLIMIT_FSIZE, &saved);
        CHECK(s == SILT_ERR_IO);
        CHECK(strstr(silt_last_error(), "write failed") != NULL);
        size_t len;
        unsigned char *now = slurp(path, &len);
        CHECK(now && len == sizeof old && memcmp(now, old, len) == 0);
        free(now);
        CHECK(count_prefixed("keep.safetensors.tmp") == 0);
    }
    signal(SIGXFSZ, prev);
    // The path is a directory: rename fails, the directory stays, no temp left.
    tmp_path(path, sizeof path, "adir");
    mkdir(path, 0755);
    CHECK(silt_st_writer_write(w, path) == SILT_ERR_IO);
    CHECK(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode));
    CHECK(count_prefixed("adir.tmp") == 0);
    rmdir(path);
    // And a good write replaces the old file.
    tmp_path(path, sizeof path, "keep.safetensors");
    CHECK_OK(silt_st_writer_write(w, path));
    silt_safetensors *st = NULL;
    CHECK_OK(silt_safetensors_open(path, &st));
    const silt_st_tensor *t = silt_safetensors_find(st, "big");
    CHECK(t && t->nbytes == sizeof big && memcmp(t->data, big, sizeof big) == 0);
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644);
    silt_safetensors_close(st);
    unlink(path);
    silt_st_writer_free(w);
    // Open errors: missing file, a directory, an empty file.
    tmp_path(path, sizeof path, "missing.safetensors");
    CHECK(silt_safetensors_open(path, &st) == SILT_ERR_IO);
    CHECK(silt_safetensors_open(tmpdir, &st) == SILT_ERR_IO);
    tmp_path(path, sizeof path, "zero.safetensors");
    spit(path, "", 0);
    CHECK(silt_safetensors_open(path, &st) == SILT_ERR_FORMAT);
    tmp_path(path, sizeof path, "zero.safetensors.zst");
    spit(path, "", 0);
    CHECK(silt_safetensors_open(path, &st) == SILT_ERR_FORMAT);
    unlink(path);
    tmp_path(path, sizeof path, "zero.safetensors");
    unlink(path);
}

typedef struct bad_case {
    const char *hdr;   // header JSON
    size_t data_len;   // zero-filled data section length
    const char *want;  // substring the error message must contain
} bad_case;

#define T8 "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]"
static const bad_case bad_cases[] = {
    {"{\"a\":{" T8 "}", 8, "JSON"},                                         // unterminated object
    {"{\"a\":{" T8 "}}x", 8, "after the root"},                             // trailing garbage
    {"{\"a\":{" T8 "}}   \x01", 8, "after the root"},                       // garbage after padding
    {"{\"a\":{" T8 "},\"a\":{" T8 "}}", 8, "duplicate key \"a\""},          // duplicate tensor
    {"{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "missing field \"dtype\""},
    {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "missing field \"shape\""},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "missing field \"data_offsets\""},
    {"{\"a\":{" T8 ",\"foo\":1}}", 8, "unexpected field \"foo\""},
    {"{\"a\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype must be a string"},
    {"{\"a\":{\"dtype\":\"F31\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype \"F31\""},
    {"{\"a\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "is negative"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, "not an integer"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2e0],\"data_offsets\":[0,8]}}", 8, "not an integer"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8, "shape must be an array"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, "not a number"},
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1, "9 dims"},
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[65536,65536,65536,2],\"data_offsets\":[0,1]}}", 1, "2^48"},
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[18446744073709551617],\"data_offsets\":[0,1]}}", 1, "too large"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "2 integers"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8, "2 integers"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":{\"b\":0}}}", 8, "2 integers"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "begin 8 > end 0"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", 8, "beyond the 8-byte data"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,-8]}}", 8, "negative"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-0,8]}}", 8, "negative zero"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[\"0\",\"8\"]}}", 8, "not a number"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,9007199254740993]}}", 8, "too large"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12 bytes"},
    {"{\"a\":{" T8 "},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlap"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "belong to no tensor"},
    {"{\"a\":{" T8 "}}", 12, "cover only 8"},                               // trailing data bytes
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "overlap"},  // empty inside another
    {"{\"__metadata__\":{\"k\":1},\"a\":{" T8 "}}", 8, "must be a string"},
    {"{\"__metadata__\":\"x\",\"a\":{" T8 "}}", 8, "__metadata__ must be an object"},
    {"{\"__metadata__\":{\"k\":\"a\\u0000b\"},\"a\":{" T8 "}}", 8, "NUL"},
    {"{\"a\":[1]}", 0, "must be an object"},
    {"{\"a\":{" T8 "},}", 8, "string key"},                                  // trailing comma
    {"{'a':{" T8 "}}", 8, "string key"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[02],\"data_offsets\":[0,8]}}", 8, "leading zero"},
    {"{\"a\\ud800\":{" T8 "}}", 8, "surrogate"},
    {"{\"a\\udc00\":{" T8 "}}", 8, "surrogate"},
    {"{\"a\\ud800\\u0041\":{" T8 "}}", 8, "surrogate"},
    {"{\"a\\u00zz\":{" T8 "}}", 8, "hex"},
    {"{\"a\\q\":{" T8 "}}", 8, "escape"},
    {"{\"\xff\":{" T8 "}}", 8, "UTF-8"},
    {"{\"\xc0\xaf\":{" T8 "}}", 8, "UTF-8"},                                 // overlong '/'
    {"{\"\xed\xa0\x80\":{" T8 "}}", 8, "UTF-8"},                             // encoded surrogate
    {"{\"a\tb\":{" T8 "}}", 8, "control character"},
    {"{\"a\\u0000\":{" T8 "}}", 8, "NUL"},
    {"{\"a\":{" T8 "}}\n\n  garbage", 8, "after the root"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":tru}", 8, "literal"},
    {" {}", 0, "start with '{'"},
    {"[]", 0, "start with '{'"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.],\"data_offsets\":[0,8]}}", 8, "digit after"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-],\"data_offsets\":[0,8]}}", 8, "expected a digit"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}}", 8, "after the root"},
};

static void test_malformed(void) {
    int n = (int)(sizeof bad_cases / sizeof *bad_cases);
    CHECK(n >= 25);
    for (int i = 0; i < n; i++) {
        size_t hl = strlen(bad_cases[i].hdr);
        size_t len;
        unsigned char *img = make_image(bad_cases[i].hdr, hl, bad_cases[i].data_len, &len);
        silt_safetensors *st = NULL;
        silt_status s = silt_safetensors_parse(img, len, &st);
        CHECK_MSG(s == SILT_ERR_FORMAT && st == NULL, "case %d (%s) -> %d", i, bad_cases[i].hdr, (int)s);
        CHECK_MSG(strstr(silt_last_error(), bad_cases[i].want) != NULL, "case %d: message \"%s\" lacks \"%s\"", i,
                  silt_last_error(), bad_cases[i].want);
        free(img);
    }
    // Padding with NUL bytes instead of spaces.
    static const char nulpad[] = "{\"a\":{" T8 "}} \0\0";
    size_t len;
    unsigned char *img = make_image(nulpad, sizeof nulpad - 1, 8, &len);
    silt_safetensors *st = NULL;
    CHECK(silt_safetensors_parse(img, len, &st) == SILT_ERR_FORMAT && strstr(silt_last_error(), "after the root"));
    free(img);
    // Nesting deeper than 64 (in metadata, parsed before it is type-checked).
    char deep[256] = "{\"__metadata__\":";
    for (int i = 0; i < 70; i++) strcat(deep, "[");
    for (int i = 0; i < 70; i++) strcat(deep, "]");
    strcat(deep, "}");
    img = make_image(deep, strlen(deep), 0, &len);
    CHECK(silt_safetensors_parse(img, len, &st) == SILT_ERR_FORMAT && strstr(silt_last_error(), "deeper than 64"));
    free(img);

    // Problems with the 8-byte length itself.
    unsigned char raw[64] = {0};
    CHECK(silt_safetensors_parse(raw, 5, &st) == SILT_ERR_FORMAT && strstr(silt_last_error(), "shorter than"));
    CHECK(silt_safetensors_parse(raw, 0, &st) == SILT_ERR_FORMAT);
    CHECK(silt_safetensors_parse(raw, 64, &st) == SILT_ERR_FORMAT && strstr(silt_last_error(), "header length is 0"));
    raw[0] = 57;  // 57 > 64 - 8
    memcpy(raw + 8, "{}", 2);
    CHECK(silt_safetensors_parse(raw, 64, &st) == SILT_ERR_FORMAT &&
          strstr(silt_last_error(), "exceeds the file size"));
    uint64_t huge = 200000000;
    memcpy(raw, &huge, 8);
    CHECK(silt_safetensors_parse(raw, 64, &st) == SILT_ERR_FORMAT && strstr(silt_last_error(), "limit"));
    memset(raw, 0xff, 8);
    CHECK(silt_safetensors_parse(raw, 64, &st) == SILT_ERR_FORMAT && strstr(silt_last_error(), "limit"));
    CHECK(silt_safetensors_parse(NULL, 8, &st) == SILT_ERR_ARG);
}

static silt_safetensors *parse_str(const char *hdr, size_t data_len) {
    size_t len;
    unsigned char *img = make_image(hdr, strlen(hdr), data_len, &len);
    silt_safetensors *st = NULL;
    CHECK_MSG(silt_safetensors_parse(img, len, &st) == SILT_OK, "valid header rejected: %s (%s)", hdr,
              silt_last_error());
    free(img);  // parse copies the image
    return st;
}

static void test_valid_edge_cases(void) {
    // Empty file body, padding with spaces (and JSON whitespace), null metadata.
    silt_safetensors *st = parse_str("{}", 0);
    CHECK(silt_safetensors_count(st) == 0 && silt_safetensors_metadata_count(st) == 0);
    silt_safetensors_close(st);
    st = parse_str("{\"__metadata__\":null}      \n\t", 0);
    CHECK(silt_safetensors_count(st) == 0);
    silt_safetensors_close(st);
    // Several empty tensors at one offset, a scalar, escaped names and values.
    st = parse_str("{\"z1\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                   "\"z0\":{\"data_offsets\":[0,0],\"shape\":[4,0],\"dtype\":\"I64\"},"
                   "\"s\\ud83d\\ude00\\u00e9\\n\\/\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[0,2]},"
                   "\"z2\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[2,2]},"
                   "\"__metadata__\":{\"k\\\"\\\\\":\"v\\u20ac\\b\\f\\r\\t\"}}    ",
                   2);
    CHECK(silt_safetensors_count(st) == 4);
    const silt_st_tensor *t = silt_safetensors_find(st, "s\xf0\x9f\x98\x80\xc3\xa9\n/");
    CHECK(t && t->ndim == 0 && t->nbytes == 2);
    CHECK(silt_safetensors_get(st, 0) && strcmp(silt_safetensors_get(st, 0)->name, "z0") == 0);
    CHECK(silt_safetensors_get(st, 3) && strcmp(silt_safetensors_get(st, 3)->name, "z2") == 0);
    const char *v = silt_safetensors_metadata(st, "k\"\\");
    CHECK(v && strcmp(v, "v\xe2\x82\xac\b\f\r\t") == 0);
    silt_safetensors_close(st);
    // Large integers within range are fine; the limits are inclusive.
    st = parse_str("{\"a\":{\"dtype\":\"U8\",\"shape\":[0,281474976710656],\"data_offsets\":[0,0]}}", 0);
    CHECK(silt_safetensors_count(st) == 1);
    silt_safetensors_close(st);
}

static void test_json(void) {
    silt_json *doc = NULL;
    const char *txt = "{\"a\":[1,-2.5e3,true,false,null,\"x\"],\"b\":{\"c\":18446744073709551616}}";
    CHECK_OK(silt_json_parse(txt, strlen(txt), 8, &doc));
    const silt_json_value *a = silt_json_member(doc, silt_json_root(doc), "a");
    CHECK(a && a->type == SILT_JSON_ARRAY && a->count == 6);
    const silt_json_value *e = silt_json_child(doc, a);
    CHECK(e && e->is_int && e->u == 1 && e->num == 1);
    e = silt_json_next(doc, e);
    CHECK(e && !e->is_int && e->negative && e->num == -2500);
    e = silt_json_next(doc, silt_json_next(doc, silt_json_next(doc, silt_json_next(doc, e))));
    CHECK(e && e->type == SILT_JSON_STRING && strcmp(e->str, "x") == 0 && !silt_json_next(doc, e));
    const silt_json_value *c = silt_json_member(doc, silt_json_member(doc, silt_json_root(doc), "b"), "c");
    CHECK(c && c->big && c->is_int);
    silt_json_free(doc);
    CHECK(silt_json_parse("[[1]]", 5, 1, &doc) == SILT_ERR_FORMAT);
    CHECK_OK(silt_json_parse("[[1]]", 5, 2, &doc));
    silt_json_free(doc);
    CHECK(silt_json_parse("", 0, 2, &doc) == SILT_ERR_FORMAT);
    // Writer-side escaping decodes back to the original bytes.
    char all[128];
    for (int i = 0; i < 127; i++) all[i] = (char)(i + 1);
    all[127] = 0;
    silt_json_buf b = {0};
    silt_json_buf_string(&b, all, 127);
    CHECK_OK(silt_json_parse(b.data, b.len, 1, &doc));
    CHECK(silt_json_root(doc)->len == 127 && memcmp(silt_json_root(doc)->str, all, 127) == 0);
    silt_json_free(doc);
    silt_json_buf_free(&b);
    silt_json_type jt;
    CHECK_OK(silt_json_type_from_name("object", &jt));
    CHECK(jt == SILT_JSON_OBJECT && strcmp(silt_json_type_name(SILT_JSON_STRING), "string") == 0);
}

// The fuzz seed corpus (tests/fuzz/corpus/safetensors): st_valid_* must parse,
// st_bad_* and crash-* reproducers must fail with a format error.
static void test_corpus(void) {
    char dir[1024], path[2048];
    const char *src = getenv("SILT_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/safetensors", src ? src : ".");
    DIR *d = opendir(dir);
    CHECK_MSG(d != NULL, "no corpus at %s", dir);
    int seen = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        int valid = strncmp(e->d_name, "st_valid_", 9) == 0;
        if (!valid && strncmp(e->d_name, "st_bad_", 7) != 0 && strncmp(e->d_name, "crash-", 6) != 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        unsigned char *img = slurp(path, &len);
        silt_safetensors *st = NULL;
        silt_status s = silt_safetensors_parse(img, len, &st);
        CHECK_MSG(valid ? s == SILT_OK : s == SILT_ERR_FORMAT, "corpus %s -> %d (%s)", e->d_name, (int)s,
                  silt_last_error());
        silt_safetensors_close(st);
        free(img);
        seen++;
    }
    if (d) closedir(d);
    CHECK(seen >= 25);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/silt_st_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    test_dtype_names();
    test_json();
    test_roundtrip();
    test_zst_frames();
    test_writer_args();
    test_find_many();
    test_read_f32();
    test_golden();
    test_atomic_write();
    test_malformed();
    test_valid_edge_cases();
    test_corpus();
    rmdir(tmpdir);
    return check_summary();
}
