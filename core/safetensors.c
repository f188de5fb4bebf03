// safetensors reader: file mapping / zstd decompression, header validation,
// lookups and f32 conversion. The writer is in core/safetensors_write.c.
// Format reference: huggingface/safetensors, safetensors/src/tensor.rs
// (Metadata::validate) - we apply the same checks plus a few stricter ones.
#include "core/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "core/json.h"
#include "core/tensor.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; big-endian hosts need byte swapping here"
#endif

#define ST_MAX_INT (1ull << 53)    // larger integers do not round-trip through JSON doubles
#define ST_MAX_NUMEL (1ull << 48)  // 256 T elements: beyond any real checkpoint
#define ST_MAX_DEPTH 64
#define ST_ZST_LIMIT (64ull << 30)  // decompressed size cap (also capped by RAM)

static const char *const dtype_names[SILT_ST_DTYPE_COUNT] = {
    "BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64", "F8_E4M3", "F8_E5M2"};
static const unsigned char dtype_sizes[SILT_ST_DTYPE_COUNT] = {1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8, 1, 1};

const char *silt_st_dtype_name(silt_st_dtype d) { return (unsigned)d < SILT_ST_DTYPE_COUNT ? dtype_names[d] : "?"; }

size_t silt_st_dtype_size(silt_st_dtype d) { return (unsigned)d < SILT_ST_DTYPE_COUNT ? dtype_sizes[d] : 0; }

silt_status silt_st_dtype_from_name(const char *s, silt_st_dtype *out) {
    if (!s || !out) return SILT_FAIL(SILT_ERR_ARG, "silt_st_dtype_from_name: NULL argument");
    for (int i = 0; i < SILT_ST_DTYPE_COUNT; i++)
        if (strcmp(s, dtype_names[i]) == 0) { *out = (silt_st_dtype)i; return SILT_OK; }
    return SILT_FAIL(SILT_ERR_ARG, "unknown safetensors dtype '%.40s' (expected BOOL, U8, I8, I16, U16, F16, BF16, "
                                   "I32, U32, F32, F64, I64, U64, F8_E4M3 or F8_E5M2)", s);
}

struct silt_safetensors {
    void *map;  // mmap'ed file, or NULL
    size_t map_len;
    unsigned char *owned;  // malloc'ed image (parse copy, read() fallback, zstd), or NULL
    const unsigned char *image;
    size_t image_len;
    silt_st_tensor *tensors;  // offset order
    int count;
    int *by_name;  // tensor indices sorted by name
    const char **meta_keys, **meta_values;  // sorted by key
    int meta_count;
    char *strings;  // names and metadata text
};

// --- header validation ----------------------------------------------------------

// NULL if v is an integer in [0, max], else what is wrong with it.
static const char *uint_problem(const silt_json_value *v, uint64_t max, uint64_t *out) {
    if (v->type != SILT_JSON_NUMBER) return "is not a number";
    if (!v->is_int) return "is not an integer";
    if (v->negative) return v->big || v->u ? "is negative" : "is negative zero";
    if (v->big || v->u > max) return "is too large";
    *out = v->u;
    return NULL;
}

typedef struct entry {
    const silt_json_value *key;  // the member (key = tensor name)
    silt_st_dtype dtype;
    int ndim;
    int64_t shape[SILT_ST_MAX_DIMS];
    uint64_t begin, end;
} entry;

#define NAME_FMT "tensor \"%.200s\""

static silt_status check_entry(const silt_json *doc, const silt_json_value *m, uint64_t data_len, entry *e) {
    const char *name = m->key;
    if (strlen(name) != m->key_len) return SILT_FAIL(SILT_ERR_FORMAT, NAME_FMT ": name contains a NUL character", name);
    if (m->type != SILT_JSON_OBJECT)
        return SILT_FAIL(SILT_ERR_FORMAT, NAME_FMT ": entry must be an object, got %s", name,
                         silt_json_type_name(m->type));
    const silt_json_value *dt = NULL, *shape = NULL, *offs = NULL;
    for (const silt_json_value *f = silt_json_child(doc, m); f; f = silt_json_next(doc, f)) {
        if (strcmp(f->key, "dtype") == 0 && f->key_len == 5) dt = f;
        else if (strcmp(f->key, "shape") == 0 && f->key_len == 5) shape = f;
        else if (strcmp(f->key, "data_offsets") == 0 && f->key_len == 12) offs = f;
        else
            return SILT_FAIL(SILT_ERR_FORMAT,
                             NAME_FMT ": unexpected field \"%.100s\" (only dtype, shape, data_offsets)", name, f->key);
    }
    const char *missing = !dt ? "dtype" : !shape ? "shape" : !offs ? "data_offsets" : NULL;
    if (missing) return SILT_FAIL(SILT_ERR_FORMAT, NAME_FMT ": missing field \"%s\"", name, missing);

    if (dt->type != SILT_JSON_STRING)
        return SILT_FAIL(SILT_ERR_FORMAT, NAME_FMT ": dtype must be a string, got %s", name,
                         silt_json_type_name(dt->type));
    bool known = false;
    for (int i = 0; i < SILT_ST_DTYPE_COUNT && !known; i++)
        if (strcmp(dt->str, dtype_names[i]) == 0 && dt->len == strlen(dtype_names[i])) {
            e->dtype = (silt_st_dtype)i;
            known = true;
        }
    if (!known) return SILT_FAIL(SILT_ERR_FORMAT, NAME_FMT ": unknown dtype \"%.40s\"", name, dt->str);

    if (shape->type != SILT_JSON_ARRAY)
        return SILT_FAIL(SILT_ERR_FORMAT, NAME_FMT ": shape must be an array, got %s", name,
                         silt_json_type_name(shape->type));
    if (shape->count > SILT_ST_MAX_DIMS)
        return SILT_FAIL(SILT_ERR_FORMAT, NAME_FMT ": shape has %d dims, at most %d are supported", name, shape->count,
                         SILT_ST_MAX_DIMS);
    e->ndim = shape->count;
    uint64_t numel = 1;
    int i = 0;
    for (const silt_json_value *d = silt_json_child(doc, shape); d; d = silt_json_next(doc, d), i++) {
        uint64_t dim;
        const char *bad = uint_problem(d, ST_MAX_NUMEL, &dim);
        if (bad)
            return SILT_FAIL(SILT_ERR_FORMAT, NAME_FMT ": shape dim %d %s (\"%.40s\")", name, i, bad,
                             d->str ? d->str : silt_json_type_name(d->type));
        e->shape[i] = (int64_t)dim;
        if (dim && numel > ST_MAX_NUMEL / dim)
            return SILT_FAIL(SILT_ERR_FORMAT, NAME_FMT ": shape has more than 2^48 elements", name);
        numel *= dim;
    }

    if (offs->type != SILT_JSON_ARRAY || offs->count != 2)
        return SILT_FAIL(SILT_ERR_FORMAT, NAME_FMT ": data_offsets must be an array of 2 integers", name);
    const silt_json_value *b = silt_json_child(doc, offs), *en = silt_json_next(doc, b);
    const char *bad = uint_problem(b, ST_MAX_INT, &e->begin);
    if (!bad) bad = uint_problem(en, ST_MAX_INT, &e->end);
    if (bad) return SILT_FAIL(SILT_ERR_FORMAT, NAME_FMT ": a data offset %s", name, bad);
    if (e->begin > e->end)
        return SILT_FAIL(SILT_ERR_FORMAT, NAME_FMT ": data_offsets begin %llu > end %llu", name,
                         (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end > data_len)
        return SILT_FAIL(SILT_ERR_FORMAT, NAME_FMT ": data ends at %llu, beyond the %llu-byte data section", name,
                         (unsigned long long)e->end, (unsigned long long)data_len);
    uint64_t want = numel * dtype_sizes[e->dtype];  // <= 2^51: no overflow
    if (want != e->end - e->begin)
        return SILT_FAIL(SILT_ERR_FORMAT, NAME_FMT ": %s x %llu elements needs %llu bytes but data_offsets span %llu",
                         name, dtype_names[e->dtype], (unsigned long long)numel, (unsigned long long)want,
                         (unsigned long long)(e->end - e->begin));
    return SILT_OK;
}

static int entry_offset_cmp(const void *a, const void *b) {
    const entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->key->key, y->key->key);
}

// qsort has no context argument; these are per thread, so parsing stays thread-safe.
static _Thread_local const silt_st_tensor *sort_base;
static int name_cmp(const void *a, const void *b) {
    return strcmp(sort_base[*(const int *)a].name, sort_base[*(const int *)b].name);
}
static _Thread_local const char **meta_sort_keys;
static int meta_cmp(const void *a, const void *b) {
    return strcmp(meta_sort_keys[*(const int *)a], meta_sort_keys[*(const int *)b]);
}

// Fills st->tensors/by_name/meta from the validated document.
static silt_status build(silt_safetensors *st, const silt_json *doc, const silt_json_value *meta, entry *es, int n,
                         const unsigned char *data) {
    size_t total = 0;
    int nmeta = meta ? meta->count : 0;
    for (int i = 0; i < n; i++) total += es[i].key->key_len + 1;
    for (const silt_json_value *m = meta ? silt_json_child(doc, meta) : NULL; m; m = silt_json_next(doc, m))
        total += m->key_len + m->len + 2;
    st->strings = malloc(total ? total : 1);
    st->tensors = calloc((size_t)(n ? n : 1), sizeof *st->tensors);
    st->by_name = malloc((size_t)(n ? n : 1) * sizeof *st->by_name);
    const char **mk = malloc((size_t)(nmeta ? nmeta : 1) * sizeof *mk);
    const char **mv = malloc((size_t)(nmeta ? nmeta : 1) * sizeof *mv);
    int *order = malloc((size_t)(nmeta ? nmeta : 1) * sizeof *order);
    st->meta_keys = calloc((size_t)(nmeta ? nmeta : 1), sizeof *st->meta_keys);
    st->meta_values = calloc((size_t)(nmeta ? nmeta : 1), sizeof *st->meta_values);
    if (!st->strings || !st->tensors || !st->by_name || !mk || !mv || !order || !st->meta_keys || !st->meta_values) {
        free(mk), free(mv), free(order);
        return SILT_FAIL(SILT_ERR_OOM, "safetensors: out of memory for %d tensors", n);
    }
    char *s = st->strings;
    for (int i = 0; i < n; i++) {
        silt_st_tensor *t = &st->tensors[i];
        memcpy(s, es[i].key->key, es[i].key->key_len + 1);
        t->name = s;
        s += es[i].key->key_len + 1;
        t->dtype = es[i].dtype;
        t->ndim = es[i].ndim;
        memcpy(t->shape, es[i].shape, sizeof t->shape);
        t->data = data + es[i].begin;
        t->nbytes = (size_t)(es[i].end - es[i].begin);
        st->by_name[i] = i;
    }
    st->count = n;
    sort_base = st->tensors;
    qsort(st->by_name, (size_t)n, sizeof *st->by_name, name_cmp);
    int k = 0;
    for (const silt_json_value *m = meta ? silt_json_child(doc, meta) : NULL; m; m = silt_json_next(doc, m), k++) {
        memcpy(s, m->key, m->key_len + 1);
        mk[k] = s;
        s += m->key_len + 1;
        memcpy(s, m->str, m->len + 1);
        mv[k] = s;
        s += m->len + 1;
        order[k] = k;
    }
    meta_sort_keys = mk;
    qsort(order, (size_t)nmeta, sizeof *order, meta_cmp);
    for (k = 0; k < nmeta; k++) {
        st->meta_keys[k] = mk[order[k]];
        st->meta_values[k] = mv[order[k]];
    }
    st->meta_count = nmeta;
    free(mk), free(mv), free(order);
    return SILT_OK;
}

static silt_status check_metadata(const silt_json *doc, const silt_json_value *meta) {
    if (meta->type != SILT_JSON_OBJECT)
        return SILT_FAIL(SILT_ERR_FORMAT, "__metadata__ must be an object of strings, got %s",
                         silt_json_type_name(meta->type));
    for (const silt_json_value *m = silt_json_child(doc, meta); m; m = silt_json_next(doc, m)) {
        if (m->type != SILT_JSON_STRING)
            return SILT_FAIL(SILT_ERR_FORMAT, "__metadata__ value of \"%.200s\" must be a string, got %s", m->key,
                             silt_json_type_name(m->type));
        if (strlen(m->key) != m->key_len || strlen(m->str) != m->len)
            return SILT_FAIL(SILT_ERR_FORMAT, "__metadata__ entry \"%.200s\" contains a NUL character", m->key);
    }
    return SILT_OK;
}

static silt_status parse_image(silt_safetensors *st) {
    const unsigned char *img = st->image;
    size_t len = st->image_len;
    if (len < 8)
        return SILT_FAIL(SILT_ERR_FORMAT, "file is %zu bytes, shorter than the 8-byte header length", len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | img[i];
    if (n == 0) return SILT_FAIL(SILT_ERR_FORMAT, "header length is 0");
    if (n > SILT_ST_MAX_HEADER)
        return SILT_FAIL(SILT_ERR_FORMAT, "header length %llu exceeds the %d-byte limit", (unsigned long long)n,
                         SILT_ST_MAX_HEADER);
    if (n > len - 8)
        return SILT_FAIL(SILT_ERR_FORMAT, "header length %llu exceeds the file size (%zu bytes after the length)",
                         (unsigned long long)n, len - 8);
    // The reference reader also demands that the header starts with '{'.
    if (img[8] != '{') return SILT_FAIL(SILT_ERR_FORMAT, "header does not start with '{'");
    silt_json *doc;
    silt_status s = silt_json_parse((const char *)img + 8, (size_t)n, ST_MAX_DEPTH, &doc);
    if (s != SILT_OK) {
        char msg[768];
        snprintf(msg, sizeof msg, "%s", silt_last_error_message());
        return SILT_FAIL(s, "header: %s", msg);
    }
    const silt_json_value *root = silt_json_root(doc), *meta = NULL;
    if (root->type != SILT_JSON_OBJECT) {  // unreachable after the '{' check; kept for safety
        silt_json_free(doc);
        return SILT_FAIL(SILT_ERR_FORMAT, "header is not a JSON object");
    }
    uint64_t data_len = len - 8 - n;
    entry *es = malloc((size_t)(root->count ? root->count : 1) * sizeof *es);
    if (!es) { silt_json_free(doc); return SILT_FAIL(SILT_ERR_OOM, "safetensors: out of memory"); }
    int ne = 0;
    for (const silt_json_value *m = silt_json_child(doc, root); m && s == SILT_OK; m = silt_json_next(doc, m)) {
        if (m->key_len == 12 && memcmp(m->key, "__metadata__", 12) == 0) {
            if (m->type == SILT_JSON_NULL) continue;  // Option<HashMap> in the reference: null means none
            s = check_metadata(doc, m);
            meta = m;
            continue;
        }
        es[ne].key = m;
        s = check_entry(doc, m, data_len, &es[ne]);
        ne++;
    }
    if (s == SILT_OK) {
        // The tensors must tile [0, data_len) exactly: sorted by (begin, end),
        // each must start where the previous one ended.
        qsort(es, (size_t)ne, sizeof *es, entry_offset_cmp);
        uint64_t at = 0;
        for (int i = 0; i < ne && s == SILT_OK; i++) {
            if (es[i].begin < at)
                s = SILT_FAIL(
                    SILT_ERR_FORMAT, "tensors \"%.200s\" and \"%.200s\" overlap (bytes %llu..%llu of the data)",
                    es[i - 1].key->key, es[i].key->key, (unsigned long long)es[i].begin, (unsigned long long)at);
            else if (es[i].begin > at)
                s = SILT_FAIL(SILT_ERR_FORMAT, "data bytes %llu..%llu before " NAME_FMT " belong to no tensor",
                              (unsigned long long)at, (unsigned long long)es[i].begin, es[i].key->key);
            at = es[i].end;
        }
        if (s == SILT_OK && at != data_len)
            s = SILT_FAIL(SILT_ERR_FORMAT, "data section has %llu bytes but the tensors cover only %llu",
                          (unsigned long long)data_len, (unsigned long long)at);
    }
    if (s == SILT_OK) s = build(st, doc, meta, es, ne, img + 8 + n);
    free(es);
    silt_json_free(doc);
    return s;
}

// --- open / parse / close -------------------------------------------------------

void silt_safetensors_close(silt_safetensors *st) {
    if (!st) return;
    if (st->map) munmap(st->map, st->map_len);
    free(st->owned);
    free(st->tensors);
    free(st->by_name);
    free(st->meta_keys);
    free(st->meta_values);
    free(st->strings);
    free(st);
}

static silt_status finish_open(silt_safetensors *st, silt_safetensors **out) {
    silt_status s = parse_image(st);
    if (s != SILT_OK) { silt_safetensors_close(st); return s; }
    *out = st;
    return SILT_OK;
}

silt_status silt_safetensors_parse(const void *buf, size_t len, silt_safetensors **out) {
    if (!out || (!buf && len)) return SILT_FAIL(SILT_ERR_ARG, "silt_safetensors_parse: NULL argument");
    silt_safetensors *st = calloc(1, sizeof *st);
    if (!st) return SILT_FAIL(SILT_ERR_OOM, "safetensors: out of memory");
    if (len) {
        st->owned = malloc(len);
        if (!st->owned) { free(st); return SILT_FAIL(SILT_ERR_OOM, "safetensors: out of memory for %zu bytes", len); }
        memcpy(st->owned, buf, len);
    }
    st->image = st->owned;
    st->image_len = len;
    return finish_open(st, out);
}

static size_t zst_limit(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint64_t lim = ST_ZST_LIMIT;
    if (pages > 0 && page > 0 && (uint64_t)pages * (uint64_t)page < lim) lim = (uint64_t)pages * (uint64_t)page;
    return lim > SIZE_MAX ? SIZE_MAX : (size_t)lim;
}

// Streams the whole file through ZSTD_decompressStream into a growing buffer.
// The frame's declared content size is only a hint for the first allocation,
// clamped, so a forged header cannot make us allocate a huge buffer up front.
static silt_status read_zst(int fd, const char *path, off_t file_size, unsigned char **out, size_t *out_len) {
    size_t in_cap = ZSTD_DStreamInSize(), limit = zst_limit(), cap = 0, len = 0, last = 0;
    unsigned char *in = malloc(in_cap), *buf = NULL;
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    silt_status s = SILT_OK;
    bool first = true;
    if (!in || !dctx) { s = SILT_FAIL(SILT_ERR_OOM, "%s: out of memory for zstd", path); goto done; }
    for (;;) {
        ssize_t r = read(fd, in, in_cap);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { s = SILT_FAIL(SILT_ERR_IO, "%s: read failed: %s", path, strerror(errno)); goto done; }
        if (r == 0) break;
        if (first) {
            unsigned long long fcs = ZSTD_getFrameContentSize(in, (size_t)r);
            uint64_t clamp = (uint64_t)file_size * 64 + (1u << 20);
            if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != ZSTD_CONTENTSIZE_ERROR && fcs < limit) {
                cap = (size_t)(fcs < clamp ? fcs : clamp) + 1;  // +1: a full buffer would force a pointless grow
                buf = malloc(cap);
                if (!buf) cap = 0;
            }
            first = false;
        }
        ZSTD_inBuffer ib = {in, (size_t)r, 0};
        for (;;) {
            if (len == cap) {
                if (cap >= limit) {
                    s = SILT_FAIL(SILT_ERR_OOM, "%s: decompresses to more than %zu bytes (the limit)", path, limit);
                    goto done;
                }
                size_t nc = cap < (1u << 20) ? (1u << 20) : cap > limit / 2 ? limit : cap * 2;
                unsigned char *nb = realloc(buf, nc);
                if (!nb) { s = SILT_FAIL(SILT_ERR_OOM, "%s: out of memory for %zu bytes", path, nc); goto done; }
                buf = nb;
                cap = nc;
            }
            ZSTD_outBuffer ob = {buf, cap, len};
            size_t ret = ZSTD_decompressStream(dctx, &ob, &ib);
            if (ZSTD_isError(ret)) {
                s = SILT_FAIL(SILT_ERR_FORMAT, "%s: corrupt zstd data: %s", path, ZSTD_getErrorName(ret));
                goto done;
            }
            len = ob.pos;
            last = ret;
            // Done with this chunk once the input is used up and the decoder was
            // not stopped by a full output buffer (it may hold more otherwise).
            if (ib.pos == ib.size && ob.pos < ob.size) break;
        }
    }
    if (first) { s = SILT_FAIL(SILT_ERR_FORMAT, "%s: empty file (no zstd frame)", path); goto done; }
    if (last != 0) {
        s = SILT_FAIL(SILT_ERR_FORMAT, "%s: truncated zstd stream (the frame is incomplete)", path);
        goto done;
    }
done:
    free(in);
    ZSTD_freeDCtx(dctx);
    if (s != SILT_OK) { free(buf); return s; }
    *out = buf;
    *out_len = len;
    return SILT_OK;
}

static silt_status read_all(int fd, const char *path, size_t size, unsigned char **out) {
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) return SILT_FAIL(SILT_ERR_OOM, "%s: out of memory for %zu bytes", path, size);
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            free(buf);
            return SILT_FAIL(SILT_ERR_IO, "%s: read failed: %s", path, r < 0 ? strerror(errno) : "file shrank");
        }
        got += (size_t)r;
    }
    *out = buf;
    return SILT_OK;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

silt_status silt_safetensors_open(const char *path, silt_safetensors **out) {
    if (!path || !out) return SILT_FAIL(SILT_ERR_ARG, "silt_safetensors_open: NULL argument");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return SILT_FAIL(SILT_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return SILT_FAIL(SILT_ERR_IO, "%s: not a regular file", path);
    }
    silt_safetensors *st = calloc(1, sizeof *st);
    if (!st) { close(fd); return SILT_FAIL(SILT_ERR_OOM, "safetensors: out of memory"); }
    silt_status s = SILT_OK;
    if (ends_with(path, ".zst")) {
        s = read_zst(fd, path, sb.st_size, &st->owned, &st->image_len);
        st->image = st->owned;
    } else if ((uint64_t)sb.st_size > SIZE_MAX) {
        s = SILT_FAIL(SILT_ERR_IO, "%s: too large for this address space", path);
    } else if (sb.st_size > 0) {
        size_t size = (size_t)sb.st_size;
        void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            st->map = m;
            st->map_len = size;
            st->image = m;
        } else {
            s = read_all(fd, path, size, &st->owned);
            st->image = st->owned;
        }
        st->image_len = size;
    }
    close(fd);
    if (s != SILT_OK) { silt_safetensors_close(st); return s; }
    s = finish_open(st, out);
    if (s != SILT_OK) {
        char msg[768];
        snprintf(msg, sizeof msg, "%s", silt_last_error_message());
        return SILT_FAIL(s, "%s: %s", path, msg);
    }
    return SILT_OK;
}

// --- lookups ----------------------------------------------------------------------

int silt_safetensors_count(const silt_safetensors *st) { return st ? st->count : 0; }

const silt_st_tensor *silt_safetensors_get(const silt_safetensors *st, int i) {
    return st && i >= 0 && i < st->count ? &st->tensors[i] : NULL;
}

const silt_st_tensor *silt_safetensors_find(const silt_safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    int lo = 0, hi = st->count - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const silt_st_tensor *t = &st->tensors[st->by_name[mid]];
        int c = strcmp(name, t->name);
        if (c == 0) return t;
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

int silt_safetensors_metadata_count(const silt_safetensors *st) { return st ? st->meta_count : 0; }

const char *silt_safetensors_metadata(const silt_safetensors *st, const char *key) {
    if (!st || !key) return NULL;
    int lo = 0, hi = st->meta_count - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(key, st->meta_keys[mid]);
        if (c == 0) return st->meta_values[mid];
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

silt_status silt_safetensors_metadata_at(const silt_safetensors *st, int i, const char **key, const char **value) {
    if (!st || i < 0 || i >= st->meta_count)
        return SILT_FAIL(SILT_ERR_ARG, "metadata index %d out of range (%d entries)", i, st ? st->meta_count : 0);
    if (key) *key = st->meta_keys[i];
    if (value) *value = st->meta_values[i];
    return SILT_OK;
}

// --- conversion ---------------------------------------------------------------------

// OCP 8-bit floating point spec (v1.0): E4M3 "fn" variant, bias 7, no
// infinities, S.1111.111 is NaN; max 448.
static float f8_e4m3_to_f32(uint8_t b) {
    int sign = b >> 7, e = (b >> 3) & 15, m = b & 7;
    float v;
    if (e == 15 && m == 7) return NAN;
    if (e == 0) v = ldexpf((float)m, -9);  // subnormal: m/8 * 2^-6
    else v = ldexpf((float)(8 + m), e - 10);  // (1 + m/8) * 2^(e-7)
    return sign ? -v : v;
}

silt_status silt_safetensors_read_f32(const silt_st_tensor *t, float *dst, int64_t n) {
    if (!t || (!dst && n > 0)) return SILT_FAIL(SILT_ERR_ARG, "silt_safetensors_read_f32: NULL argument");
    if ((unsigned)t->dtype >= SILT_ST_DTYPE_COUNT || t->ndim < 0 || t->ndim > SILT_ST_MAX_DIMS)
        return SILT_FAIL(SILT_ERR_ARG, "silt_safetensors_read_f32: invalid tensor descriptor");
    uint64_t numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 0 || (t->shape[i] && numel > ST_MAX_NUMEL / (uint64_t)t->shape[i]))
            return SILT_FAIL(SILT_ERR_ARG, "silt_safetensors_read_f32: invalid shape");
        numel *= (uint64_t)t->shape[i];
    }
    size_t es = dtype_sizes[t->dtype];
    if (numel * es != t->nbytes || (numel && !t->data))
        return SILT_FAIL(SILT_ERR_ARG, NAME_FMT ": nbytes %zu does not match its shape", t->name ? t->name : "",
                         t->nbytes);
    if (n < 0 || (uint64_t)n != numel)
        return SILT_FAIL(SILT_ERR_SHAPE, NAME_FMT ": has %llu elements, caller asked for %lld", t->name ? t->name : "",
                         (unsigned long long)numel, (long long)n);
    const unsigned char *p = t->data;
    switch (t->dtype) {
#define CONVERT(ctype, expr)                                                   \
    for (int64_t i = 0; i < n; i++) {                                          \
        ctype x;                                                               \
        memcpy(&x, p + (size_t)i * sizeof x, sizeof x);                        \
        dst[i] = (expr);                                                       \
    }                                                                          \
    break;
    case SILT_ST_F32: if (n) memcpy(dst, p, (size_t)n * 4); break;
    case SILT_ST_BOOL: CONVERT(uint8_t, x ? 1.0f : 0.0f)
    case SILT_ST_U8: CONVERT(uint8_t, (float)x)
    case SILT_ST_I8: CONVERT(int8_t, (float)x)
    case SILT_ST_I16: CONVERT(int16_t, (float)x)
    case SILT_ST_U16: CONVERT(uint16_t, (float)x)
    case SILT_ST_F16: CONVERT(uint16_t, silt_f16_to_f32(x))
    case SILT_ST_BF16: CONVERT(uint16_t, silt_bf16_to_f32(x))
    case SILT_ST_I32: CONVERT(int32_t, (float)x)
    case SILT_ST_U32: CONVERT(uint32_t, (float)x)
    case SILT_ST_F64: CONVERT(double, (float)x)
    case SILT_ST_I64: CONVERT(int64_t, (float)x)
    case SILT_ST_U64: CONVERT(uint64_t, (float)x)
    case SILT_ST_F8_E4M3: CONVERT(uint8_t, f8_e4m3_to_f32(x))
    case SILT_ST_F8_E5M2: CONVERT(uint8_t, silt_f16_to_f32((uint16_t)(x << 8)))  // E5M2 is the top byte of an f16
#undef CONVERT
    case SILT_ST_DTYPE_COUNT: break;
    }
    return SILT_OK;
}
