// PNG writing with a text chunk, atomic file replacement, and reading text
// chunks back. Chunk layout from the PNG specification (W3C PNG, 2nd ed.,
// sections 5.3 chunk layout, 5.5 CRC, 11.3.4 tEXt/zTXt/iTXt).
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stb_image.h>
#include <stb_image_write.h>

#include "core/image.h"
#include "core/image_private.h"

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

// CRC-32, reflected polynomial 0xEDB88320, four bits at a time: a 16-entry
// table of const data needs no lazy (racy) initialisation.
uint32_t silt_crc32(uint32_t crc, const uint8_t *p, size_t n) {
    static const uint32_t t[16] = {0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
                                   0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
                                   0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c};
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        crc = t[crc & 15] ^ (crc >> 4);
        crc = t[crc & 15] ^ (crc >> 4);
    }
    return ~crc;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

// PNG 11.3.4.2: 1-79 bytes of Latin-1 printable characters (32-126, 161-255),
// no leading, trailing or consecutive spaces.
static silt_status check_keyword(const char *kw) {
    size_t n = strlen(kw);
    if (n < 1 || n > 79) return SILT_FAIL(SILT_ERR_ARG, "PNG text keyword must be 1-79 characters, got %zu", n);
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = (uint8_t)kw[i];
        if (!((ch >= 32 && ch <= 126) || ch >= 161))
            return SILT_FAIL(SILT_ERR_ARG, "PNG text keyword has a non-printable byte 0x%02x", ch);
        if (ch == ' ' && (i == 0 || i == n - 1 || kw[i - 1] == ' '))
            return SILT_FAIL(SILT_ERR_ARG, "PNG text keyword '%s' has leading, trailing or double spaces", kw);
    }
    return SILT_OK;
}

// Strict UTF-8 decode (no overlongs, surrogates or code points past U+10FFFF);
// returns the largest code point in *max_cp.
static silt_status utf8_scan(const uint8_t *s, size_t n, uint32_t *max_cp) {
    uint32_t mx = 0;
    for (size_t i = 0; i < n;) {
        uint8_t b = s[i];
        uint32_t cp;
        int len;
        if (b < 0x80) { cp = b; len = 1; }
        else if ((b & 0xe0) == 0xc0) { cp = b & 0x1fu; len = 2; }
        else if ((b & 0xf0) == 0xe0) { cp = b & 0x0fu; len = 3; }
        else if ((b & 0xf8) == 0xf0) { cp = b & 0x07u; len = 4; }
        else return SILT_FAIL(SILT_ERR_ARG, "PNG text is not valid UTF-8 (byte 0x%02x at %zu)", b, i);
        if ((size_t)len > n - i) return SILT_FAIL(SILT_ERR_ARG, "PNG text is not valid UTF-8 (truncated at %zu)", i);
        for (int k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return SILT_FAIL(SILT_ERR_ARG, "PNG text is not valid UTF-8 (at %zu)", i);
            cp = cp << 6 | (s[i + k] & 0x3fu);
        }
        static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return SILT_FAIL(SILT_ERR_ARG, "PNG text is not valid UTF-8 (code point at %zu)", i);
        if (cp > mx) mx = cp;
        i += (size_t)len;
    }
    *max_cp = mx;
    return SILT_OK;
}

// The complete text chunk (length, type, data, CRC) for keyword/text, malloc'd.
static silt_status make_text_chunk(const char *keyword, const char *text, uint8_t **chunk, size_t *chunk_len) {
    SILT_TRY(check_keyword(keyword));
    size_t klen = strlen(keyword), tlen = strlen(text);
    uint32_t max_cp = 0;
    SILT_TRY(utf8_scan((const uint8_t *)text, tlen, &max_cp));
    int itxt = max_cp > 0xff;
    // iTXt adds compression flag, method, empty language tag and empty
    // translated keyword (PNG 11.3.4.5); tEXt's Latin-1 is never longer.
    size_t head = klen + 1 + (itxt ? 4 : 0);
    if (tlen > 0x7fffffffu - head) return SILT_FAIL(SILT_ERR_ARG, "PNG text of %zu bytes is too long", tlen);
    uint8_t *c = malloc(12 + head + tlen);
    if (!c) return SILT_FAIL(SILT_ERR_OOM, "out of memory for a PNG text chunk");
    uint8_t *d = c + 8;
    memcpy(d, keyword, klen + 1);  // keyword and its NUL separator
    size_t dlen = klen + 1;
    if (itxt) {
        memset(d + dlen, 0, 4);  // uncompressed, method 0, "" language, "" translated keyword
        dlen += 4;
        memcpy(d + dlen, text, tlen);
        dlen += tlen;
    } else {
        // UTF-8 -> Latin-1: every code point is <= U+00FF here.
        const uint8_t *s = (const uint8_t *)text;
        for (size_t i = 0; i < tlen; i++) {
            if (s[i] < 0x80) d[dlen++] = s[i];
            else { d[dlen++] = (uint8_t)(((s[i] & 0x03u) << 6) | (s[i + 1] & 0x3fu)); i++; }
        }
    }
    put_be32(c, (uint32_t)dlen);
    memcpy(c + 4, itxt ? "iTXt" : "tEXt", 4);
    put_be32(c + 8 + dlen, silt_crc32(0, c + 4, dlen + 4));
    *chunk = c;
    *chunk_len = dlen + 12;
    return SILT_OK;
}

typedef struct {
    uint8_t *p;
    size_t len, cap;
    int oom;
} membuf;

static void membuf_write(void *ctx, void *data, int size) {
    membuf *m = ctx;
    if (m->oom || size <= 0) return;
    if (m->len + (size_t)size > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + (size_t)size) cap *= 2;
        uint8_t *p = realloc(m->p, cap);
        if (!p) { m->oom = 1; return; }
        m->p = p;
        m->cap = cap;
    }
    memcpy(m->p + m->len, data, (size_t)size);
    m->len += (size_t)size;
}

static silt_status write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return SILT_ERR_IO;
        }
        p += k;
        n -= (size_t)k;
    }
    return SILT_OK;
}

// Writes parts[0..nparts) to path through a temporary file in the same
// directory and rename(2), which replaces the target atomically on POSIX: a
// reader sees the old file or the new one, never a partial one. The
// temporary is created with mode 0666 (less the umask) like any new file.
static silt_status write_file_atomic(const char *path, const uint8_t *const *parts, const size_t *lens, int nparts) {
    static atomic_uint counter;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 64);
    if (!tmp) return SILT_FAIL(SILT_ERR_OOM, "out of memory");
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(tmp, plen + 64, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&counter, 1u));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        silt_status s = SILT_FAIL(SILT_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
        free(tmp);
        return s;
    }
    silt_status st = SILT_OK;
    for (int i = 0; i < nparts && st == SILT_OK; i++) st = write_all(fd, parts[i], lens[i]);
    // fsync before rename: otherwise a crash can leave the new name pointing
    // at an empty file on some file systems.
    if (st == SILT_OK && fsync(fd) != 0 && errno != EINVAL) st = SILT_ERR_IO;
    int err = errno;
    if (close(fd) != 0 && st == SILT_OK) { st = SILT_ERR_IO; err = errno; }
    if (st == SILT_OK && rename(tmp, path) != 0) { st = SILT_ERR_IO; err = errno; }
    if (st != SILT_OK) {
        unlink(tmp);
        SILT_FAIL(st, "cannot write '%s': %s", path, strerror(err));
    }
    free(tmp);
    return st;
}

silt_status silt_image_write_png_text(const silt_image *im, const char *path, const char *keyword, const char *text) {
    if (!im || !im->data || !path) return SILT_FAIL(SILT_ERR_ARG, "image_write_png: NULL argument");
    if (im->w < 1 || im->h < 1 || im->w > SILT_IMAGE_MAX_DIM || im->h > SILT_IMAGE_MAX_DIM ||
        (im->c != 1 && im->c != 3 && im->c != 4))
        return SILT_FAIL(SILT_ERR_ARG, "image_write_png: bad image %dx%dx%d", im->w, im->h, im->c);
    uint8_t *chunk = NULL;
    size_t chunk_len = 0;
    if (text) {
        if (!keyword) return SILT_FAIL(SILT_ERR_ARG, "image_write_png: text without a keyword");
        SILT_TRY(make_text_chunk(keyword, text, &chunk, &chunk_len));
    }
    // stbi_write_png_to_func is the declared form of stbi_write_png_to_mem:
    // it encodes into memory and hands the whole file to the callback once.
    membuf m = {0};
    int ok = stbi_write_png_to_func(membuf_write, &m, im->w, im->h, im->c, im->data, im->w * im->c);
    silt_status st = SILT_OK;
    if (!ok || m.oom) st = SILT_FAIL(m.oom ? SILT_ERR_OOM : SILT_ERR_FORMAT, "PNG encoding of %dx%dx%d failed", im->w, im->h, im->c);
    // The text goes right after IHDR (signature 8 bytes + IHDR 4+4+13+4), so
    // readers that stop early, and humans with a hex dump, find it first.
    else if (m.len < 33 || memcmp(m.p, png_signature, 8) != 0 || be32(m.p + 8) != 13 || memcmp(m.p + 12, "IHDR", 4) != 0)
        st = SILT_FAIL(SILT_ERR_FORMAT, "PNG encoder output does not start with signature and IHDR");
    else {
        const uint8_t *parts[3] = {m.p, chunk, m.p + 33};
        size_t lens[3] = {33, chunk_len, m.len - 33};
        st = write_file_atomic(path, parts, lens, 3);
    }
    free(m.p);
    free(chunk);
    return st;
}

silt_status silt_image_write_png(const silt_image *im, const char *path, const char *parameters) {
    return silt_image_write_png_text(im, path, "parameters", parameters);
}

// Latin-1 bytes -> malloc'd UTF-8 string.
static char *latin1_to_utf8(const uint8_t *s, size_t n) {
    char *out = malloc(2 * n + 1);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x80) out[k++] = (char)s[i];
        else {
            out[k++] = (char)(0xc0 | (s[i] >> 6));
            out[k++] = (char)(0x80 | (s[i] & 0x3f));
        }
    }
    out[k] = 0;
    return out;
}

static char *copy_str(const uint8_t *s, size_t n) {
    char *out = malloc(n + 1);
    if (!out) return NULL;
    memcpy(out, s, n);
    out[n] = 0;
    return out;
}

// Decodes one text chunk's data if its keyword matches; *out stays NULL when
// it does not.
static silt_status text_chunk(const uint8_t type[4], const uint8_t *d, size_t n, const char *keyword, const char *path,
                              char **out) {
    const uint8_t *nul = memchr(d, 0, n);
    if (!nul) return SILT_FAIL(SILT_ERR_FORMAT, "'%s': %.4s chunk without keyword separator", path, (const char *)type);
    size_t klen = (size_t)(nul - d);
    if (klen != strlen(keyword) || memcmp(d, keyword, klen) != 0) return SILT_OK;
    const uint8_t *p = nul + 1;
    size_t rest = n - klen - 1;
    int compressed = 0, utf8 = 0;
    if (memcmp(type, "zTXt", 4) == 0) {
        if (rest < 1 || p[0] != 0) return SILT_FAIL(SILT_ERR_FORMAT, "'%s': zTXt with unknown compression method", path);
        compressed = 1;
        p++, rest--;
    } else if (memcmp(type, "iTXt", 4) == 0) {
        utf8 = 1;
        if (rest < 2 || p[0] > 1 || (p[0] == 1 && p[1] != 0))
            return SILT_FAIL(SILT_ERR_FORMAT, "'%s': iTXt with bad compression flag or method", path);
        compressed = p[0];
        p += 2, rest -= 2;
        for (int field = 0; field < 2; field++) {  // language tag, translated keyword
            const uint8_t *z = memchr(p, 0, rest);
            if (!z) return SILT_FAIL(SILT_ERR_FORMAT, "'%s': truncated iTXt header", path);
            rest -= (size_t)(z - p) + 1;
            p = z + 1;
        }
    }
    char *text;
    if (compressed) {
        int outlen = 0;
        char *raw = stbi_zlib_decode_malloc((const char *)p, (int)rest, &outlen);
        if (!raw) return SILT_FAIL(SILT_ERR_FORMAT, "'%s': cannot inflate compressed text '%s'", path, keyword);
        text = utf8 ? copy_str((const uint8_t *)raw, (size_t)outlen) : latin1_to_utf8((const uint8_t *)raw, (size_t)outlen);
        stbi_image_free(raw);
    } else text = utf8 ? copy_str(p, rest) : latin1_to_utf8(p, rest);
    if (!text) return SILT_FAIL(SILT_ERR_OOM, "out of memory for PNG text");
    *out = text;
    return SILT_OK;
}

silt_status silt_image_read_png_text(const char *path, const char *keyword, char **text_out) {
    if (!path || !keyword || !text_out) return SILT_FAIL(SILT_ERR_ARG, "image_read_png_text: NULL argument");
    size_t kl = strlen(keyword);
    if (kl < 1 || kl > 79) return SILT_FAIL(SILT_ERR_ARG, "PNG text keyword must be 1-79 characters, got %zu", kl);
    uint8_t *b;
    size_t n;
    SILT_TRY(silt_image_read_file_(path, &b, &n));
    silt_status st = SILT_OK;
    char *found = NULL;
    if (n < 8 || memcmp(b, png_signature, 8) != 0) {
        st = SILT_FAIL(SILT_ERR_FORMAT, "'%s' is not a PNG file (bad signature)", path);
        goto done;
    }
    for (size_t pos = 8, index = 0;; index++) {
        if (n - pos < 12) { st = SILT_FAIL(SILT_ERR_FORMAT, "'%s' is truncated (no IEND chunk)", path); break; }
        uint32_t len = be32(b + pos);
        const uint8_t *type = b + pos + 4;
        if (len > 0x7fffffffu || len > n - pos - 12) {
            st = SILT_FAIL(SILT_ERR_FORMAT, "'%s': chunk at offset %zu claims %u bytes, past the end of the file", path,
                           pos, len);
            break;
        }
        for (int k = 0; k < 4; k++) {
            uint8_t ch = type[k];
            if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z'))) {
                st = SILT_FAIL(SILT_ERR_FORMAT, "'%s': bad chunk type at offset %zu", path, pos);
                break;
            }
        }
        if (st != SILT_OK) break;
        if (silt_crc32(0, type, (size_t)len + 4) != be32(b + pos + 8 + len)) {
            st = SILT_FAIL(SILT_ERR_FORMAT, "'%s': CRC mismatch in %.4s chunk at offset %zu (file corrupt)", path,
                           (const char *)type, pos);
            break;
        }
        if (index == 0 && memcmp(type, "IHDR", 4) != 0) {
            st = SILT_FAIL(SILT_ERR_FORMAT, "'%s': first chunk is not IHDR", path);
            break;
        }
        if (!found && (memcmp(type, "tEXt", 4) == 0 || memcmp(type, "zTXt", 4) == 0 || memcmp(type, "iTXt", 4) == 0)) {
            st = text_chunk(type, b + pos + 8, len, keyword, path, &found);
            if (st != SILT_OK) break;
        }
        if (memcmp(type, "IEND", 4) == 0) break;
        pos += 12 + (size_t)len;
    }
done:
    free(b);
    if (st != SILT_OK) { free(found); return st; }
    *text_out = found;
    return SILT_OK;
}
