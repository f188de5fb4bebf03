// Head specs: `--heads 3:1,5:0,7:2:0.5` on the command line and HeadHunter's
// `layer,head[,u]` files (guidance.md 3.4, METHODS.md section 2). Layer ids are
// exact integers: diffusers' "blocks.1" regex also matched blocks 10..19
// (diffusers#13594); here "1" is layer 1 and nothing else.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "guidance/guidance.h"

#define MAX_ID 1000000  // no model has a million layers or heads; keeps ints safe

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// [s, e) trimmed of spaces.
static void trim(const char **s, const char **e) {
    while (*s < *e && is_space(**s)) (*s)++;
    while (*e > *s && is_space((*e)[-1])) (*e)--;
}

// Exact non-negative integer: digits only, nothing else in [s, e).
static bool parse_id(const char *s, const char *e, int *out) {
    trim(&s, &e);
    if (s == e) return false;
    long v = 0;
    for (const char *c = s; c < e; c++) {
        if (*c < '0' || *c > '9') return false;
        v = v * 10 + (*c - '0');
        if (v > MAX_ID) return false;
    }
    *out = (int)v;
    return true;
}

static bool parse_u(const char *s, const char *e, float *out) {
    trim(&s, &e);
    char buf[64];
    size_t n = (size_t)(e - s);
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (errno || *end || !(v >= 0.0 && v <= 1.0)) return false;
    *out = (float)v;
    return true;
}

// One entry from fields split by `sep` (':' in specs, ',' in files):
// LAYER [sep HEAD|*] [sep U]. Returns false with *why set.
static bool parse_entry(const char *s, const char *e, char sep, guide_head *h, const char **why) {
    const char *f[4];
    const char *fe[4];
    int nf = 0;
    const char *p = s;
    for (;;) {
        const char *q = p;
        while (q < e && *q != sep) q++;
        if (nf == 3) { *why = "too many fields (expected layer[:head[:u]])"; return false; }
        f[nf] = p;
        fe[nf] = q;
        nf++;
        if (q == e) break;
        p = q + 1;
    }
    h->head = -1;
    h->u = -1.0f;
    if (!parse_id(f[0], fe[0], &h->layer)) { *why = "layer is not a non-negative integer"; return false; }
    if (nf >= 2) {
        const char *a = f[1], *b = fe[1];
        trim(&a, &b);
        if (!(b - a == 1 && *a == '*') && !parse_id(a, b, &h->head)) {
            *why = "head is not a non-negative integer or '*'";
            return false;
        }
    }
    if (nf == 3 && !parse_u(f[2], fe[2], &h->u)) { *why = "u is not a number in [0, 1]"; return false; }
    return true;
}

static silt_status push(guide_heads *h, int *cap, const guide_head *e) {
    if (h->n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        guide_head *v = realloc(h->v, (size_t)nc * sizeof *v);
        if (!v) return SILT_FAIL(SILT_ERR_OOM, "heads: out of memory");
        h->v = v;
        *cap = nc;
    }
    h->v[h->n++] = *e;
    return SILT_OK;
}

silt_status guide_heads_parse(const char *spec, guide_heads *out) {
    if (!spec || !out) return SILT_FAIL(SILT_ERR_ARG, "heads: NULL argument");
    guide_heads h = {0};
    int cap = 0, idx = 0;
    const char *p = spec, *end = spec + strlen(spec);
    {
        const char *a = p, *b = end;
        trim(&a, &b);
        if (a == b) return SILT_FAIL(SILT_ERR_ARG, "heads: empty spec (expected e.g. 3:1,5:0,7:2)");
    }
    for (;;) {
        const char *q = p;
        while (q < end && *q != ',') q++;
        const char *a = p, *b = q;
        trim(&a, &b);
        idx++;
        guide_head e = {0};
        snprintf(e.where, sizeof e.where, "entry %d '%.*s'", idx, (int)(b - a > 24 ? 24 : b - a), a);
        const char *why = NULL;
        if (a == b) why = "empty entry";
        else parse_entry(a, b, ':', &e, &why);
        if (why) {
            guide_heads_free(&h);
            return SILT_FAIL(SILT_ERR_ARG, "heads: %s: %s (expected layer[:head|*[:u]], e.g. 3:1,5:0,7:2:0.5)", e.where,
                             why);
        }
        silt_status s = push(&h, &cap, &e);
        if (s != SILT_OK) { guide_heads_free(&h); return s; }
        if (q == end) break;
        p = q + 1;
    }
    *out = h;
    return SILT_OK;
}

silt_status guide_heads_load(const char *path, guide_heads *out) {
    if (!path || !out) return SILT_FAIL(SILT_ERR_ARG, "heads: NULL argument");
    FILE *f = fopen(path, "r");
    if (!f) return SILT_FAIL(SILT_ERR_IO, "heads file %s: %s", path, strerror(errno));
    guide_heads h = {0};
    int cap = 0, line_no = 0;
    char line[1024];
    silt_status s = SILT_OK;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    while (fgets(line, sizeof line, f)) {
        line_no++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(f)) {
            s = SILT_FAIL(SILT_ERR_FORMAT, "heads file %s:%d: line too long", path, line_no);
            break;
        }
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        const char *a = line, *b = line + strlen(line);
        trim(&a, &b);
        if (a == b) continue;
        // "(3, 1)" or "[3, 1]" as Python prints tuples and lists.
        if (b - a >= 2 && ((*a == '(' && b[-1] == ')') || (*a == '[' && b[-1] == ']'))) { a++; b--; }
        guide_head e = {0};
        snprintf(e.where, sizeof e.where, "%.30s:%d", base, line_no);
        const char *why = NULL;
        if (!parse_entry(a, b, ',', &e, &why)) {
            s = SILT_FAIL(SILT_ERR_FORMAT, "heads file %s:%d: %s (expected layer,head[,u])", path, line_no, why);
            break;
        }
        s = push(&h, &cap, &e);
        if (s != SILT_OK) break;
    }
    if (s == SILT_OK && ferror(f)) s = SILT_FAIL(SILT_ERR_IO, "heads file %s: read error", path);
    fclose(f);
    if (s == SILT_OK && h.n == 0) s = SILT_FAIL(SILT_ERR_FORMAT, "heads file %s: no heads in it", path);
    if (s != SILT_OK) { guide_heads_free(&h); return s; }
    *out = h;
    return SILT_OK;
}

static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

silt_status guide_heads_from_arg(const char *arg, guide_heads *out) {
    if (!arg || !out) return SILT_FAIL(SILT_ERR_ARG, "heads: NULL argument");
    struct stat sb;
    bool file = stat(arg, &sb) == 0 && S_ISREG(sb.st_mode);
    for (const char *c = arg; *c && !file; c++)
        file = *c == '/' || (*c == '.' && is_alpha(c[1]));
    return file ? guide_heads_load(arg, out) : guide_heads_parse(arg, out);
}

void guide_heads_free(guide_heads *h) {
    if (!h) return;
    free(h->v);
    h->v = NULL;
    h->n = 0;
}

silt_status guide_heads_validate(const guide_heads *h, int n_layers, int n_heads) {
    if (!h) return SILT_FAIL(SILT_ERR_ARG, "heads: NULL argument");
    if (n_layers <= 0 || n_heads <= 0) return SILT_FAIL(SILT_ERR_ARG, "heads: model has no attention heads");
    for (int i = 0; i < h->n; i++) {
        const guide_head *e = &h->v[i];
        if (e->layer < 0 || e->layer >= n_layers)
            return SILT_FAIL(SILT_ERR_ARG, "heads: %s: layer %d is out of range (the model has %d layers, 0..%d)",
                             e->where, e->layer, n_layers, n_layers - 1);
        if (e->head < -1 || e->head >= n_heads)
            return SILT_FAIL(SILT_ERR_ARG, "heads: %s: head %d is out of range (the model has %d heads per layer, 0..%d)",
                             e->where, e->head, n_heads, n_heads - 1);
        // Quadratic, but specs hold at most a few thousand entries (FLUX: 1368 heads).
        for (int j = 0; j < i; j++) {
            const guide_head *o = &h->v[j];
            if (o->layer == e->layer && (o->head == e->head || o->head == -1 || e->head == -1))
                return SILT_FAIL(SILT_ERR_ARG, "heads: %s repeats a head already given by %s", e->where, o->where);
        }
    }
    return SILT_OK;
}
