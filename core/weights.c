#include "core/weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct silt_weights {
    const silt_safetensors *st;
    char prefix[128];
    bool *used;  // per tensor index in the file
    int n;
    silt_status status;
};

silt_weights *silt_weights_begin(const silt_safetensors *st, const char *prefix) {
    silt_weights *wl = calloc(1, sizeof *wl);
    if (!wl) { SILT_FAIL(SILT_ERR_OOM, "out of memory"); return NULL; }
    wl->st = st;
    wl->n = silt_safetensors_count(st);
    wl->used = calloc((size_t)(wl->n > 0 ? wl->n : 1), sizeof *wl->used);
    if (!wl->used) { free(wl); SILT_FAIL(SILT_ERR_OOM, "out of memory"); return NULL; }
    snprintf(wl->prefix, sizeof wl->prefix, "%s", prefix ? prefix : "");
    return wl;
}

static const silt_st_tensor *lookup(const silt_weights *wl, const char *name) {
    char key[512];
    snprintf(key, sizeof key, "%s%s", wl->prefix, name);
    return silt_safetensors_find(wl->st, key);
}

static void mark_used(silt_weights *wl, const silt_st_tensor *t) {
    for (int i = 0; i < wl->n; i++)
        if (silt_safetensors_get(wl->st, i) == t) { wl->used[i] = true; return; }
}

static silt_tensor *load(silt_weights *wl, const char *name, int ndim, const int64_t *shape, bool optional) {
    if (wl->status != SILT_OK) return NULL;
    const silt_st_tensor *t = lookup(wl, name);
    if (!t) {
        if (optional) return NULL;
        char want[96];
        silt_dims_str(shape, ndim, want, sizeof want);
        wl->status = SILT_FAIL(SILT_ERR_FORMAT, "missing tensor '%s%s' (expected shape %s)", wl->prefix, name, want);
        return NULL;
    }
    mark_used(wl, t);
    bool same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char want[96], got[96];
        silt_dims_str(shape, ndim, want, sizeof want);
        silt_dims_str(t->shape, t->ndim, got, sizeof got);
        wl->status = SILT_FAIL(SILT_ERR_SHAPE, "tensor '%s' has shape %s, expected %s", t->name, got, want);
        return NULL;
    }
    silt_tensor *out = silt_tensor_create_f32(ndim, shape, false);
    if (!out) { wl->status = SILT_ERR_OOM; return NULL; }
    silt_status s = silt_safetensors_read_f32(t, silt_f32(out), silt_numel(out));
    if (s != SILT_OK) { silt_tensor_free(out); wl->status = s; return NULL; }
    return out;
}

silt_tensor *silt_weights_get(silt_weights *wl, const char *name, int ndim, const int64_t *shape) {
    return load(wl, name, ndim, shape, false);
}

silt_tensor *silt_weights_get_optional(silt_weights *wl, const char *name, int ndim, const int64_t *shape) {
    return load(wl, name, ndim, shape, true);
}

bool silt_weights_has(const silt_weights *wl, const char *name) { return lookup(wl, name) != NULL; }
const silt_st_tensor *silt_weights_peek(const silt_weights *wl, const char *name) { return lookup(wl, name); }

void silt_weights_skip(silt_weights *wl, const char *name) {
    const silt_st_tensor *t = lookup(wl, name);
    if (t) mark_used(wl, t);
}

silt_status silt_weights_end(silt_weights *wl) {
    if (!wl) return SILT_FAIL(SILT_ERR_ARG, "no weights loader");
    silt_status s = wl->status;
    if (s == SILT_OK) {
        size_t plen = strlen(wl->prefix);
        int extra = 0;
        const char *first = NULL;
        for (int i = 0; i < wl->n; i++) {
            const silt_st_tensor *t = silt_safetensors_get(wl->st, i);
            if (wl->used[i] || strncmp(t->name, wl->prefix, plen) != 0) continue;
            if (!first) first = t->name;
            extra++;
        }
        if (extra) {
            if (extra > 1) s = SILT_FAIL(SILT_ERR_FORMAT, "unexpected tensor '%s' (and %d more) for this model", first, extra - 1);
            else s = SILT_FAIL(SILT_ERR_FORMAT, "unexpected tensor '%s' for this model", first);
        }
    }
    silt_weights_abort(wl);
    return s;
}

void silt_weights_abort(silt_weights *wl) {
    if (!wl) return;
    free(wl->used);
    free(wl);
}
