// Strict JSON reader (RFC 8259) into an index-linked node array, plus a
// growable writer buffer. See core/json.h for the rules enforced.
#include "core/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct silt_json {
    silt_json_value *nodes;
    int32_t count, cap;
    // Decoded strings and number literals. Sized once from the text length, so
    // pointers into it stay valid while nodes grow: a string of k raw bytes
    // (quotes included) decodes to <= k-2 bytes plus a NUL, and a number of k
    // bytes is followed by a delimiter or the end, so len+1 bytes suffice.
    char *pool;
    size_t pool_len, pool_cap;
};

static const char *const type_names[SILT_JSON_TYPE_COUNT] = {"null",   "false", "true",  "number",
                                                             "string", "array", "object"};

const char *silt_json_type_name(silt_json_type t) {
    return (unsigned)t < SILT_JSON_TYPE_COUNT ? type_names[t] : "?";
}

silt_status silt_json_type_from_name(const char *s, silt_json_type *out) {
    for (int i = 0; s && i < SILT_JSON_TYPE_COUNT; i++)
        if (strcmp(s, type_names[i]) == 0) { *out = (silt_json_type)i; return SILT_OK; }
    return SILT_FAIL(SILT_ERR_ARG, "unknown JSON type name '%s'", s ? s : "(null)");
}

typedef struct parser {
    const unsigned char *start, *p, *end;
    silt_json *doc;
    int max_depth;
} parser;

static size_t pos(const parser *ps) { return (size_t)(ps->p - ps->start); }

static silt_status perr(const parser *ps, const char *what) {
    if (ps->p >= ps->end) return SILT_FAIL(SILT_ERR_FORMAT, "JSON: %s at end of text (byte %zu)", what, pos(ps));
    return SILT_FAIL(SILT_ERR_FORMAT, "JSON: %s at byte %zu", what, pos(ps));
}

static void skip_ws(parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static silt_status new_node(parser *ps, silt_json_type t, int32_t *idx) {
    silt_json *d = ps->doc;
    if (d->count == d->cap) {
        if (d->cap > INT32_MAX / 2) return SILT_FAIL(SILT_ERR_FORMAT, "JSON: too many values");
        int32_t cap = d->cap ? d->cap * 2 : 64;
        silt_json_value *n = realloc(d->nodes, (size_t)cap * sizeof *n);
        if (!n) return SILT_FAIL(SILT_ERR_OOM, "JSON: out of memory for %d values", cap);
        d->nodes = n;
        d->cap = cap;
    }
    silt_json_value *v = &d->nodes[d->count];
    memset(v, 0, sizeof *v);
    v->type = t;
    v->child = v->next = -1;
    v->offset = pos(ps);
    *idx = d->count++;
    return SILT_OK;
}

// Length of the UTF-8 sequence at s (n bytes available), 0 if malformed.
// Table 3-7 of the Unicode standard: exact second-byte ranges exclude
// overlongs, surrogates (ED A0..BF) and code points above U+10FFFF.
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else return 0;
    if (n < len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return len;
}

bool silt_json_utf8_valid(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(u + i, n - i);
        if (!k) return false;
        i += k;
    }
    return true;
}

static int hex4(const unsigned char *p, const unsigned char *end, unsigned *out) {
    if (end - p < 4) return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        v = v * 16 + d;
    }
    *out = v;
    return 1;
}

static silt_status pool_put(parser *ps, const void *s, size_t n) {
    silt_json *d = ps->doc;
    if (n > d->pool_cap - d->pool_len) return SILT_FAIL(SILT_ERR_FORMAT, "JSON: internal string pool overflow");
    memcpy(d->pool + d->pool_len, s, n);
    d->pool_len += n;
    return SILT_OK;
}

// At '"': decodes into the pool; *out/*out_len describe the NUL-terminated result.
static silt_status parse_string(parser *ps, const char **out, size_t *out_len) {
    silt_json *d = ps->doc;
    size_t begin = d->pool_len;
    ps->p++;
    for (;;) {
        if (ps->p >= ps->end) return perr(ps, "unterminated string");
        unsigned c = *ps->p;
        if (c == '"') { ps->p++; break; }
        if (c < 0x20) return perr(ps, "raw control character in string (must be escaped)");
        if (c == '\\') {
            if (ps->end - ps->p < 2) { ps->p = ps->end; return perr(ps, "unterminated escape"); }
            unsigned e = ps->p[1];
            char ch;
            switch (e) {
            case '"': ch = '"'; break;
            case '\\': ch = '\\'; break;
            case '/': ch = '/'; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'n': ch = '\n'; break;
            case 'r': ch = '\r'; break;
            case 't': ch = '\t'; break;
            case 'u': {
                unsigned cp, lo;
                if (!hex4(ps->p + 2, ps->end, &cp)) return perr(ps, "bad \\u escape (need 4 hex digits)");
                if (cp >= 0xdc00 && cp <= 0xdfff) return perr(ps, "lone low surrogate in \\u escape");
                size_t used = 6;
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    // RFC 8259 section 7: a code point above the BMP is a surrogate pair.
                    const unsigned char *q = ps->p + 6;
                    if (ps->end - q < 6 || q[0] != '\\' || q[1] != 'u' || !hex4(q + 2, ps->end, &lo) || lo < 0xdc00 ||
                        lo > 0xdfff)
                        return perr(ps, "high surrogate not followed by a low surrogate \\u escape");
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    used = 12;
                }
                unsigned char u8[4];
                size_t k;
                if (cp < 0x80) { u8[0] = (unsigned char)cp; k = 1; }
                else if (cp < 0x800) {
                    u8[0] = (unsigned char)(0xc0 | (cp >> 6));
                    u8[1] = (unsigned char)(0x80 | (cp & 0x3f));
                    k = 2;
                } else if (cp < 0x10000) {
                    u8[0] = (unsigned char)(0xe0 | (cp >> 12));
                    u8[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
                    u8[2] = (unsigned char)(0x80 | (cp & 0x3f));
                    k = 3;
                } else {
                    u8[0] = (unsigned char)(0xf0 | (cp >> 18));
                    u8[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
                    u8[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
                    u8[3] = (unsigned char)(0x80 | (cp & 0x3f));
                    k = 4;
                }
                SILT_TRY(pool_put(ps, u8, k));
                ps->p += used;
                continue;
            }
            default: ps->p++; return perr(ps, "invalid escape character");
            }
            SILT_TRY(pool_put(ps, &ch, 1));
            ps->p += 2;
            continue;
        }
        // Copy a run of plain bytes at once, validating UTF-8 as we go.
        const unsigned char *run = ps->p;
        while (ps->p < ps->end && *ps->p >= 0x20 && *ps->p != '"' && *ps->p != '\\') {
            size_t k = utf8_seq(ps->p, (size_t)(ps->end - ps->p));
            if (!k) return perr(ps, "invalid UTF-8 in string");
            ps->p += k;
        }
        SILT_TRY(pool_put(ps, run, (size_t)(ps->p - run)));
    }
    SILT_TRY(pool_put(ps, "", 1));
    *out = d->pool + begin;
    *out_len = d->pool_len - begin - 1;
    return SILT_OK;
}

static int is_digit(const parser *ps) { return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9'; }

static silt_status parse_number(parser *ps, int32_t idx) {
    const unsigned char *begin = ps->p;
    bool negative = false, is_int = true, big = false;
    uint64_t u = 0;
    if (*ps->p == '-') { negative = true; ps->p++; }
    if (!is_digit(ps)) return perr(ps, "invalid number (expected a digit)");
    if (*ps->p == '0') {
        ps->p++;
        if (is_digit(ps)) return perr(ps, "invalid number (leading zero)");
    } else {
        while (is_digit(ps)) {
            unsigned dgt = (unsigned)(*ps->p - '0');
            if (u > (UINT64_MAX - dgt) / 10) big = true;  // keep scanning; the value is flagged
            else u = u * 10 + dgt;
            ps->p++;
        }
    }
    if (ps->p < ps->end && *ps->p == '.') {
        is_int = false;
        ps->p++;
        if (!is_digit(ps)) return perr(ps, "invalid number (expected a digit after '.')");
        while (is_digit(ps)) ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        is_int = false;
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ps->p++;
        if (!is_digit(ps)) return perr(ps, "invalid number (expected a digit in the exponent)");
        while (is_digit(ps)) ps->p++;
    }
    size_t n = (size_t)(ps->p - begin);
    const char *lit = ps->doc->pool + ps->doc->pool_len;
    SILT_TRY(pool_put(ps, begin, n));
    SILT_TRY(pool_put(ps, "", 1));
    silt_json_value *v = &ps->doc->nodes[idx];
    v->str = lit;
    v->len = n;
    v->is_int = is_int;
    v->negative = negative;
    v->big = is_int && big;
    v->u = is_int && !big ? u : 0;
    v->num = strtod(lit, NULL);
    return SILT_OK;
}

typedef struct key_ref { const char *key; size_t len; } key_ref;

static int key_cmp(const void *a, const void *b) {
    const key_ref *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    return (x->len > y->len) - (x->len < y->len);
}

// Rejects repeated keys: members are sorted by key (O(k log k)), so a header
// with 100k tensors is checked as fast as a small config.
static silt_status check_duplicates(parser *ps, int32_t obj) {
    silt_json *d = ps->doc;
    int32_t k = d->nodes[obj].count;
    if (k < 2) return SILT_OK;
    key_ref small[16];
    key_ref *refs = k <= 16 ? small : malloc((size_t)k * sizeof *refs);
    if (!refs) return SILT_FAIL(SILT_ERR_OOM, "JSON: out of memory checking %d keys", k);
    int32_t i = 0;
    for (int32_t c = d->nodes[obj].child; c >= 0; c = d->nodes[c].next)
        refs[i++] = (key_ref){d->nodes[c].key, d->nodes[c].key_len};
    qsort(refs, (size_t)k, sizeof *refs, key_cmp);
    silt_status st = SILT_OK;
    for (i = 1; i < k; i++)
        if (key_cmp(&refs[i - 1], &refs[i]) == 0) {
            st = SILT_FAIL(SILT_ERR_FORMAT, "JSON: duplicate key \"%.200s\" in the object at byte %zu", refs[i].key,
                           d->nodes[obj].offset);
            break;
        }
    if (refs != small) free(refs);
    return st;
}

static silt_status parse_value(parser *ps, int depth, int32_t *out);

// At '[' or '{'. Members are linked in order through `next`.
static silt_status parse_container(parser *ps, int depth, int32_t *out) {
    bool is_obj = *ps->p == '{';
    if (depth > ps->max_depth)
        return SILT_FAIL(SILT_ERR_FORMAT, "JSON: nesting deeper than %d at byte %zu", ps->max_depth, pos(ps));
    int32_t idx, last = -1;
    SILT_TRY(new_node(ps, is_obj ? SILT_JSON_OBJECT : SILT_JSON_ARRAY, &idx));
    ps->p++;
    skip_ws(ps);
    char close = is_obj ? '}' : ']';
    if (ps->p < ps->end && *ps->p == close) { ps->p++; *out = idx; return SILT_OK; }
    for (;;) {
        const char *key = NULL;
        size_t key_len = 0;
        if (is_obj) {
            if (ps->p >= ps->end || *ps->p != '"') return perr(ps, "expected a string key");
            SILT_TRY(parse_string(ps, &key, &key_len));
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') return perr(ps, "expected ':' after the key");
            ps->p++;
            skip_ws(ps);
        }
        int32_t child;
        SILT_TRY(parse_value(ps, depth + 1, &child));
        silt_json_value *nodes = ps->doc->nodes;  // may have moved
        nodes[child].key = key;
        nodes[child].key_len = key_len;
        if (last < 0) nodes[idx].child = child;
        else nodes[last].next = child;
        last = child;
        if (nodes[idx].count == INT32_MAX) return perr(ps, "too many elements");
        nodes[idx].count++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            skip_ws(ps);
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) { ps->p++; break; }
        return perr(ps, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    if (is_obj) SILT_TRY(check_duplicates(ps, idx));
    *out = idx;
    return SILT_OK;
}

static silt_status parse_literal(parser *ps, const char *word, silt_json_type t, int32_t *out) {
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return perr(ps, "invalid literal");
    SILT_TRY(new_node(ps, t, out));
    ps->p += n;
    return SILT_OK;
}

static silt_status parse_value(parser *ps, int depth, int32_t *out) {
    if (ps->p >= ps->end) return perr(ps, "expected a value");
    switch (*ps->p) {
    case '{':
    case '[': return parse_container(ps, depth, out);
    case '"': {
        SILT_TRY(new_node(ps, SILT_JSON_STRING, out));
        const char *s;
        size_t n;
        SILT_TRY(parse_string(ps, &s, &n));
        ps->doc->nodes[*out].str = s;
        ps->doc->nodes[*out].len = n;
        return SILT_OK;
    }
    case 't': return parse_literal(ps, "true", SILT_JSON_TRUE, out);
    case 'f': return parse_literal(ps, "false", SILT_JSON_FALSE, out);
    case 'n': return parse_literal(ps, "null", SILT_JSON_NULL, out);
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) {
            SILT_TRY(new_node(ps, SILT_JSON_NUMBER, out));
            return parse_number(ps, *out);
        }
        return perr(ps, "unexpected character");
    }
}

silt_status silt_json_parse(const char *text, size_t len, int max_depth, silt_json **out) {
    if (!out || (!text && len)) return SILT_FAIL(SILT_ERR_ARG, "silt_json_parse: NULL argument");
    if (len > SIZE_MAX - 2) return SILT_FAIL(SILT_ERR_ARG, "silt_json_parse: text too long");
    if (!text) text = "";  // NULL + 0 is undefined behaviour
    silt_json *d = calloc(1, sizeof *d);
    if (!d) return SILT_FAIL(SILT_ERR_OOM, "JSON: out of memory");
    d->pool_cap = len + 2;
    d->pool = malloc(d->pool_cap);
    if (!d->pool) { free(d); return SILT_FAIL(SILT_ERR_OOM, "JSON: out of memory for %zu bytes", len); }
    parser ps = {(const unsigned char *)text, (const unsigned char *)text, (const unsigned char *)text + len, d,
                 max_depth > 0 ? max_depth : 1};
    int32_t root;
    skip_ws(&ps);
    silt_status st = parse_value(&ps, 1, &root);
    if (st == SILT_OK) {
        skip_ws(&ps);
        if (ps.p != ps.end) st = perr(&ps, "unexpected data after the root value");
    }
    if (st != SILT_OK) { silt_json_free(d); return st; }
    *out = d;
    return SILT_OK;
}

void silt_json_free(silt_json *doc) {
    if (!doc) return;
    free(doc->nodes);
    free(doc->pool);
    free(doc);
}

const silt_json_value *silt_json_root(const silt_json *doc) { return doc && doc->count ? &doc->nodes[0] : NULL; }

const silt_json_value *silt_json_child(const silt_json *doc, const silt_json_value *v) {
    if (!doc || !v || (v->type != SILT_JSON_ARRAY && v->type != SILT_JSON_OBJECT) || v->child < 0) return NULL;
    return &doc->nodes[v->child];
}

const silt_json_value *silt_json_next(const silt_json *doc, const silt_json_value *v) {
    return doc && v && v->next >= 0 ? &doc->nodes[v->next] : NULL;
}

const silt_json_value *silt_json_member(const silt_json *doc, const silt_json_value *obj, const char *key) {
    if (!obj || obj->type != SILT_JSON_OBJECT || !key) return NULL;
    size_t n = strlen(key);
    for (const silt_json_value *c = silt_json_child(doc, obj); c; c = silt_json_next(doc, c))
        if (c->key_len == n && memcmp(c->key, key, n) == 0) return c;
    return NULL;
}

// --- writing ------------------------------------------------------------------

static bool buf_reserve(silt_json_buf *b, size_t extra) {
    if (b->failed) return false;
    if (extra <= b->cap - b->len) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) {
        if (cap > SIZE_MAX / 2) { b->failed = true; return false; }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) { b->failed = true; return false; }
    b->data = p;
    b->cap = cap;
    return true;
}

void silt_json_buf_append(silt_json_buf *b, const void *s, size_t n) {
    if (!n || !buf_reserve(b, n)) return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

void silt_json_buf_printf(silt_json_buf *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) { b->failed = true; return; }
    if ((size_t)n < sizeof small) { silt_json_buf_append(b, small, (size_t)n); return; }
    if (!buf_reserve(b, (size_t)n + 1)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void silt_json_buf_string(silt_json_buf *b, const char *s, size_t n) {
    silt_json_buf_append(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        silt_json_buf_append(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': silt_json_buf_append(b, "\\\"", 2); break;
        case '\\': silt_json_buf_append(b, "\\\\", 2); break;
        case '\n': silt_json_buf_append(b, "\\n", 2); break;
        case '\r': silt_json_buf_append(b, "\\r", 2); break;
        case '\t': silt_json_buf_append(b, "\\t", 2); break;
        case '\b': silt_json_buf_append(b, "\\b", 2); break;
        case '\f': silt_json_buf_append(b, "\\f", 2); break;
        default: silt_json_buf_printf(b, "\\u%04x", c); break;
        }
    }
    silt_json_buf_append(b, s + run, n - run);
    silt_json_buf_append(b, "\"", 1);
}

void silt_json_buf_free(silt_json_buf *b) {
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}
