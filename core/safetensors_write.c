// safetensors writer: collects borrowed tensors, then writes header + data to a
// temporary file (optionally through a zstd stream), fsyncs and renames it into
// place, so a reader never sees a half-written checkpoint.
// Layout follows huggingface/safetensors (safetensors/src/tensor.rs, prepare):
// tensors sorted by dtype (enum order, descending) then name, "__metadata__"
// first in the header, header padded with spaces to a multiple of 8.
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "core/json.h"
#include "core/safetensors.h"

#define ST_MAX_NUMEL (1ull << 48)

typedef struct wentry {
    char *name;
    silt_st_dtype dtype;
    int ndim;
    int64_t shape[SILT_ST_MAX_DIMS];
    const void *data;
    size_t nbytes;
} wentry;

struct silt_st_writer {
    wentry *e;
    int n, cap;
    int *slots;  // open-addressing set of entry indices (-1 empty), for duplicate names
    size_t nslots;
    char **mk, **mv;
    int nm, mcap;
    int level;
};

silt_st_writer *silt_st_writer_create(void) {
    silt_st_writer *w = calloc(1, sizeof *w);
    if (w) w->level = 3;
    else SILT_FAIL(SILT_ERR_OOM, "safetensors writer: out of memory");
    return w;
}

void silt_st_writer_free(silt_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) free(w->e[i].name);
    for (int i = 0; i < w->nm; i++) free(w->mk[i]), free(w->mv[i]);
    free(w->e);
    free(w->slots);
    free(w->mk);
    free(w->mv);
    free(w);
}

static size_t name_hash(const char *s) {  // FNV-1a
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

// Returns the slot holding name, or the empty slot where it would go.
static size_t find_slot(const silt_st_writer *w, const char *name) {
    size_t i = name_hash(name) & (w->nslots - 1);
    while (w->slots[i] >= 0 && strcmp(w->e[w->slots[i]].name, name) != 0) i = (i + 1) & (w->nslots - 1);
    return i;
}

static silt_status grow_slots(silt_st_writer *w) {
    size_t ns = w->nslots ? w->nslots * 2 : 64;
    int *old = w->slots;
    size_t old_n = w->nslots;
    w->slots = malloc(ns * sizeof *w->slots);
    if (!w->slots) { w->slots = old; return SILT_FAIL(SILT_ERR_OOM, "safetensors writer: out of memory"); }
    w->nslots = ns;
    for (size_t i = 0; i < ns; i++) w->slots[i] = -1;
    for (size_t i = 0; i < old_n; i++)
        if (old[i] >= 0) w->slots[find_slot(w, w->e[old[i]].name)] = old[i];
    free(old);
    return SILT_OK;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

silt_status silt_st_writer_add(silt_st_writer *w, const char *name, silt_st_dtype dtype, int ndim,
                               const int64_t *shape, const void *data) {
    if (!w || !name) return SILT_FAIL(SILT_ERR_ARG, "silt_st_writer_add: NULL argument");
    if (!silt_json_utf8_valid(name, strlen(name)))
        return SILT_FAIL(SILT_ERR_ARG, "silt_st_writer_add: tensor name is not valid UTF-8");
    if (strcmp(name, "__metadata__") == 0)
        return SILT_FAIL(SILT_ERR_ARG, "silt_st_writer_add: \"__metadata__\" is reserved, not a tensor name");
    if ((unsigned)dtype >= SILT_ST_DTYPE_COUNT)
        return SILT_FAIL(SILT_ERR_ARG, "silt_st_writer_add: tensor \"%.200s\": invalid dtype %d", name, (int)dtype);
    if (ndim < 0 || ndim > SILT_ST_MAX_DIMS || (ndim > 0 && !shape))
        return SILT_FAIL(SILT_ERR_ARG, "silt_st_writer_add: tensor \"%.200s\": ndim %d (must be 0..%d with a shape)",
                         name, ndim, SILT_ST_MAX_DIMS);
    uint64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] && numel > ST_MAX_NUMEL / (uint64_t)shape[i]))
            return SILT_FAIL(SILT_ERR_ARG,
                             "silt_st_writer_add: tensor \"%.200s\": dim %d is %lld (negative or too large)", name, i,
                             (long long)shape[i]);
        numel *= (uint64_t)shape[i];
    }
    size_t nbytes = (size_t)numel * silt_st_dtype_size(dtype);
    if (nbytes && !data) return SILT_FAIL(SILT_ERR_ARG, "silt_st_writer_add: tensor \"%.200s\": NULL data", name);
    if ((size_t)(w->n + 1) * 2 > w->nslots) SILT_TRY(grow_slots(w));
    size_t slot = find_slot(w, name);
    if (w->slots[slot] >= 0)
        return SILT_FAIL(SILT_ERR_ARG, "silt_st_writer_add: duplicate tensor name \"%.200s\"", name);
    if (w->n == w->cap) {
        if (w->cap > (1 << 29)) return SILT_FAIL(SILT_ERR_ARG, "silt_st_writer_add: too many tensors");
        int cap = w->cap ? w->cap * 2 : 16;
        wentry *e = realloc(w->e, (size_t)cap * sizeof *e);
        if (!e) return SILT_FAIL(SILT_ERR_OOM, "safetensors writer: out of memory");
        w->e = e;
        w->cap = cap;
    }
    wentry *e = &w->e[w->n];
    memset(e, 0, sizeof *e);
    e->name = dup_str(name);
    if (!e->name) return SILT_FAIL(SILT_ERR_OOM, "safetensors writer: out of memory");
    e->dtype = dtype;
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
    e->data = data;
    e->nbytes = nbytes;
    w->slots[slot] = w->n++;
    return SILT_OK;
}

silt_status silt_st_writer_set_metadata(silt_st_writer *w, const char *key, const char *value) {
    if (!w || !key || !value) return SILT_FAIL(SILT_ERR_ARG, "silt_st_writer_set_metadata: NULL argument");
    if (!silt_json_utf8_valid(key, strlen(key)) || !silt_json_utf8_valid(value, strlen(value)))
        return SILT_FAIL(SILT_ERR_ARG, "silt_st_writer_set_metadata: key or value is not valid UTF-8");
    char *v = dup_str(value);
    if (!v) return SILT_FAIL(SILT_ERR_OOM, "safetensors writer: out of memory");
    for (int i = 0; i < w->nm; i++)
        if (strcmp(w->mk[i], key) == 0) {
            free(w->mv[i]);
            w->mv[i] = v;
            return SILT_OK;
        }
    if (w->nm == w->mcap) {
        int cap = w->mcap ? w->mcap * 2 : 8;
        char **mk = realloc(w->mk, (size_t)cap * sizeof *mk);
        if (mk) w->mk = mk;
        char **mv = mk ? realloc(w->mv, (size_t)cap * sizeof *mv) : NULL;
        if (mv) w->mv = mv;
        if (!mk || !mv) { free(v); return SILT_FAIL(SILT_ERR_OOM, "safetensors writer: out of memory"); }
        w->mcap = cap;
    }
    char *k = dup_str(key);
    if (!k) { free(v); return SILT_FAIL(SILT_ERR_OOM, "safetensors writer: out of memory"); }
    w->mk[w->nm] = k;
    w->mv[w->nm] = v;
    w->nm++;
    return SILT_OK;
}

silt_status silt_st_writer_set_zstd_level(silt_st_writer *w, int level) {
    if (!w) return SILT_FAIL(SILT_ERR_ARG, "silt_st_writer_set_zstd_level: NULL writer");
    if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
        return SILT_FAIL(SILT_ERR_ARG, "zstd level %d outside %d..%d", level, ZSTD_minCLevel(), ZSTD_maxCLevel());
    w->level = level;
    return SILT_OK;
}

// --- output ---------------------------------------------------------------------------

typedef struct sink {
    int fd;
    const char *path;  // the final path, for messages
    ZSTD_CCtx *cctx;   // NULL: plain
    void *out;
    size_t out_cap;
} sink;

static silt_status write_full(sink *s, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t r = write(s->fd, c, n > (1u << 30) ? (1u << 30) : n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return SILT_FAIL(SILT_ERR_IO, "%s: write failed: %s", s->path, r < 0 ? strerror(errno) : "no progress");
        c += r;
        n -= (size_t)r;
    }
    return SILT_OK;
}

static silt_status sink_put(sink *s, const void *p, size_t n, ZSTD_EndDirective mode) {
    if (!s->cctx) return write_full(s, p, n);
    ZSTD_inBuffer ib = {p, n, 0};
    for (;;) {
        ZSTD_outBuffer ob = {s->out, s->out_cap, 0};
        size_t left = ZSTD_compressStream2(s->cctx, &ob, &ib, mode);
        if (ZSTD_isError(left)) return SILT_FAIL(SILT_ERR_IO, "%s: zstd: %s", s->path, ZSTD_getErrorName(left));
        SILT_TRY(write_full(s, s->out, ob.pos));
        // e_continue: done once the input is consumed; e_end: once flushed (0 left).
        if (mode == ZSTD_e_end ? left == 0 : ib.pos == ib.size) return SILT_OK;
    }
}

// Rank of each dtype in the reference library's Dtype enum (tensor.rs:
// BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64,
// U64, leaving out the types we do not support). Sorting by rank descending,
// then by name, is what Python's safetensors does, so for the same tensors and
// metadata order our files are byte-identical to its output, and every tensor
// lands on an offset that is a multiple of its element size.
static const unsigned char dtype_rank[SILT_ST_DTYPE_COUNT] = {
    [SILT_ST_BOOL] = 0, [SILT_ST_U8] = 1,   [SILT_ST_I8] = 2,   [SILT_ST_F8_E5M2] = 3, [SILT_ST_F8_E4M3] = 4,
    [SILT_ST_I16] = 5,  [SILT_ST_U16] = 6,  [SILT_ST_F16] = 7,  [SILT_ST_BF16] = 8,    [SILT_ST_I32] = 9,
    [SILT_ST_U32] = 10, [SILT_ST_F32] = 11, [SILT_ST_F64] = 12, [SILT_ST_I64] = 13,    [SILT_ST_U64] = 14};

static _Thread_local const wentry *order_base;  // qsort has no context argument
static int order_cmp(const void *a, const void *b) {
    const wentry *x = &order_base[*(const int *)a], *y = &order_base[*(const int *)b];
    int rx = dtype_rank[x->dtype], ry = dtype_rank[y->dtype];
    if (rx != ry) return rx > ry ? -1 : 1;
    return strcmp(x->name, y->name);
}

static silt_status build_header(const silt_st_writer *w, const int *order, silt_json_buf *b) {
    silt_json_buf_append(b, "{", 1);
    if (w->nm) {
        silt_json_buf_append(b, "\"__metadata__\":{", 16);
        for (int i = 0; i < w->nm; i++) {
            if (i) silt_json_buf_append(b, ",", 1);
            silt_json_buf_string(b, w->mk[i], strlen(w->mk[i]));
            silt_json_buf_append(b, ":", 1);
            silt_json_buf_string(b, w->mv[i], strlen(w->mv[i]));
        }
        silt_json_buf_append(b, "}", 1);
    }
    uint64_t off = 0;
    for (int k = 0; k < w->n; k++) {
        const wentry *e = &w->e[order[k]];
        if (k || w->nm) silt_json_buf_append(b, ",", 1);
        silt_json_buf_string(b, e->name, strlen(e->name));
        silt_json_buf_printf(b, ":{\"dtype\":\"%s\",\"shape\":[", silt_st_dtype_name(e->dtype));
        for (int i = 0; i < e->ndim; i++) silt_json_buf_printf(b, i ? ",%lld" : "%lld", (long long)e->shape[i]);
        silt_json_buf_printf(b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                             (unsigned long long)(off + e->nbytes));
        off += e->nbytes;
    }
    silt_json_buf_append(b, "}", 1);
    while ((b->len + 8) % 8) silt_json_buf_append(b, " ", 1);  // data starts 8-byte aligned
    if (b->failed) return SILT_FAIL(SILT_ERR_OOM, "safetensors writer: out of memory for the header");
    if (b->len > SILT_ST_MAX_HEADER)
        return SILT_FAIL(SILT_ERR_ARG, "safetensors header would be %zu bytes, over the %d-byte limit readers accept",
                         b->len, SILT_ST_MAX_HEADER);
    return SILT_OK;
}

static silt_status write_body(const silt_st_writer *w, const int *order, const silt_json_buf *hdr, sink *s) {
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hdr->len >> (8 * i));
    SILT_TRY(sink_put(s, len8, 8, ZSTD_e_continue));
    SILT_TRY(sink_put(s, hdr->data, hdr->len, ZSTD_e_continue));
    for (int k = 0; k < w->n; k++) {
        const wentry *e = &w->e[order[k]];
        if (e->nbytes) SILT_TRY(sink_put(s, e->data, e->nbytes, ZSTD_e_continue));
    }
    if (s->cctx) SILT_TRY(sink_put(s, NULL, 0, ZSTD_e_end));
    if (fsync(s->fd) != 0) return SILT_FAIL(SILT_ERR_IO, "%s: fsync failed: %s", s->path, strerror(errno));
    return SILT_OK;
}

static silt_status setup_zstd(const silt_st_writer *w, sink *s, uint64_t total) {
    s->cctx = ZSTD_createCCtx();
    s->out_cap = ZSTD_CStreamOutSize();
    s->out = malloc(s->out_cap);
    if (!s->cctx || !s->out) return SILT_FAIL(SILT_ERR_OOM, "safetensors writer: out of memory for zstd");
    size_t r = ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_compressionLevel, w->level);
    if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_checksumFlag, 1);
    // The content size goes into the frame header, so readers can size their buffer.
    if (!ZSTD_isError(r)) r = ZSTD_CCtx_setPledgedSrcSize(s->cctx, total);
    if (ZSTD_isError(r)) return SILT_FAIL(SILT_ERR_IO, "%s: zstd setup: %s", s->path, ZSTD_getErrorName(r));
    return SILT_OK;
}

static void fsync_dir(const char *path) {
    // Makes the rename durable; best effort (some filesystems refuse).
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) < sizeof dir) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

silt_status silt_st_writer_write(silt_st_writer *w, const char *path) {
    if (!w || !path || !*path) return SILT_FAIL(SILT_ERR_ARG, "silt_st_writer_write: NULL argument");
    size_t plen = strlen(path);
    bool zst = plen >= 4 && strcmp(path + plen - 4, ".zst") == 0;
    int *order = malloc((size_t)(w->n ? w->n : 1) * sizeof *order);
    char *tmp = malloc(plen + 12);
    silt_json_buf hdr = {0};
    sink s = {-1, path, NULL, NULL, 0};
    silt_status st = SILT_OK;
    bool created = false;
    if (!order || !tmp) { st = SILT_FAIL(SILT_ERR_OOM, "safetensors writer: out of memory"); goto done; }
    for (int i = 0; i < w->n; i++) order[i] = i;
    order_base = w->e;
    qsort(order, (size_t)w->n, sizeof *order, order_cmp);
    st = build_header(w, order, &hdr);
    if (st != SILT_OK) goto done;
    uint64_t total = 8 + hdr.len;
    for (int i = 0; i < w->n; i++) total += w->e[i].nbytes;
    if (zst && (st = setup_zstd(w, &s, total)) != SILT_OK) goto done;

    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    s.fd = mkstemp(tmp);  // same directory as path, so rename() is atomic
    if (s.fd < 0) { st = SILT_FAIL(SILT_ERR_IO, "cannot create %s: %s", tmp, strerror(errno)); goto done; }
    created = true;
    (void)fchmod(s.fd, 0644);  // mkstemp makes 0600; checkpoints are meant to be shared
    st = write_body(w, order, &hdr, &s);
    if (st != SILT_OK) goto done;
    if (close(s.fd) != 0) {
        s.fd = -1;
        st = SILT_FAIL(SILT_ERR_IO, "%s: close failed: %s", path, strerror(errno));
        goto done;
    }
    s.fd = -1;
    if (rename(tmp, path) != 0) {
        st = SILT_FAIL(SILT_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto done;
    }
    created = false;
    fsync_dir(path);
done:
    if (s.fd >= 0) close(s.fd);
    if (created) unlink(tmp);
    ZSTD_freeCCtx(s.cctx);
    free(s.out);
    silt_json_buf_free(&hdr);
    free(order);
    free(tmp);
    return st;
}
