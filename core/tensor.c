#include "core/tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *dtype_names[SILT_DTYPE_COUNT] = {"f32", "bf16", "f16", "i32"};
static const size_t dtype_sizes[SILT_DTYPE_COUNT] = {4, 2, 2, 4};
static const char *device_names[SILT_DEVICE_COUNT] = {"cpu", "cuda"};

const char *silt_dtype_name(silt_dtype d) { return (unsigned)d < SILT_DTYPE_COUNT ? dtype_names[d] : "?"; }
size_t silt_dtype_size(silt_dtype d) { return (unsigned)d < SILT_DTYPE_COUNT ? dtype_sizes[d] : 0; }
const char *silt_device_name(silt_device d) { return (unsigned)d < SILT_DEVICE_COUNT ? device_names[d] : "?"; }

silt_status silt_dtype_from_name(const char *name, silt_dtype *out) {
    for (int i = 0; i < SILT_DTYPE_COUNT; i++)
        if (strcmp(name, dtype_names[i]) == 0) { *out = (silt_dtype)i; return SILT_OK; }
    return SILT_FAIL(SILT_ERR_ARG, "unknown dtype '%s' (expected f32, bf16, f16 or i32)", name);
}

silt_status silt_model_move_check(const char *fn, silt_device current, silt_device want, bool *move) {
    *move = false;
    if (want == SILT_CPU) {
        if (current == SILT_CPU) return SILT_OK;
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: moving a model back to the cpu is not supported", fn);
    }
    if (want != SILT_CUDA) return SILT_FAIL(SILT_ERR_ARG, "%s: unknown device %d", fn, (int)want);
    *move = true;
    return SILT_OK;
}

silt_status silt_device_from_name(const char *name, silt_device *out) {
    for (int i = 0; i < SILT_DEVICE_COUNT; i++)
        if (strcmp(name, device_names[i]) == 0) { *out = (silt_device)i; return SILT_OK; }
    return SILT_FAIL(SILT_ERR_ARG, "unknown device '%s' (expected cpu or cuda)", name);
}

int64_t silt_numel(const silt_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

size_t silt_nbytes(const silt_tensor *t) { return (size_t)silt_numel(t) * silt_dtype_size(t->dtype); }

silt_status silt_shape_check(int ndim, const int64_t *shape) {
    if (ndim < 1 || ndim > SILT_MAX_DIMS) return SILT_FAIL(SILT_ERR_SHAPE, "ndim %d outside 1..%d", ndim, SILT_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1) return SILT_FAIL(SILT_ERR_SHAPE, "dimension %d is %lld (must be >= 1)", i, (long long)shape[i]);
        if (shape[i] > ((int64_t)1 << 40) / n) return SILT_FAIL(SILT_ERR_SHAPE, "shape too large (over 2^40 elements)");
        n *= shape[i];
    }
    return SILT_OK;
}

void *silt_alloc(size_t bytes) {
    void *p = NULL;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded == 0) rounded = 64;
    if (posix_memalign(&p, 64, rounded) != 0) return NULL;
    return p;
}

void silt_free(void *p) { free(p); }

silt_tensor *silt_tensor_create(silt_dtype dtype, int ndim, const int64_t *shape, bool requires_grad) {
    if ((unsigned)dtype >= SILT_DTYPE_COUNT) { SILT_FAIL(SILT_ERR_ARG, "bad dtype %d", (int)dtype); return NULL; }
    if (silt_shape_check(ndim, shape) != SILT_OK) return NULL;
    silt_tensor *t = calloc(1, sizeof *t);
    if (!t) { SILT_FAIL(SILT_ERR_OOM, "out of memory for tensor header"); return NULL; }
    t->dtype = dtype;
    t->device = SILT_CPU;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    size_t bytes = silt_nbytes(t);
    t->data = silt_alloc(bytes);
    if (!t->data) { free(t); SILT_FAIL(SILT_ERR_OOM, "out of memory allocating %zu bytes", bytes); return NULL; }
    memset(t->data, 0, bytes);
    t->owns_data = true;
    t->requires_grad = requires_grad;
    if (requires_grad) {
        size_t gbytes = (size_t)silt_numel(t) * sizeof(float);
        t->grad = silt_alloc(gbytes);
        if (!t->grad) { silt_tensor_free(t); SILT_FAIL(SILT_ERR_OOM, "out of memory for gradient"); return NULL; }
        memset(t->grad, 0, gbytes);
    }
    return t;
}

silt_tensor *silt_tensor_create_f32(int ndim, const int64_t *shape, bool requires_grad) {
    return silt_tensor_create(SILT_F32, ndim, shape, requires_grad);
}

void silt_tensor_free(silt_tensor *t) {
    if (!t) return;
    if (t->owns_data) { silt_free(t->data); silt_free(t->grad); }
    free(t);
}

void silt_tensor_zero_grad(silt_tensor *t) {
    if (t && t->grad) memset(t->grad, 0, (size_t)silt_numel(t) * sizeof(float));
}

char *silt_dims_str(const int64_t *shape, int ndim, char *buf, size_t n) {
    if (!buf || n == 0) return buf;
    size_t off = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < ndim && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (off < n) snprintf(buf + off, n - off, ")");
    return buf;
}

char *silt_shape_str(const silt_tensor *t, char *buf, size_t n) { return silt_dims_str(t->shape, t->ndim, buf, n); }

bool silt_same_shape(const silt_tensor *a, const silt_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

float silt_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t silt_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1);  // round to nearest even
    return (uint16_t)(u >> 16);
}

float silt_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0) {
        if (man == 0) u = sign;
        else {  // subnormal: normalise
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) u = sign | 0x7f800000u | (man << 13);
    else u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t silt_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000;
    int32_t exp = (int32_t)((u >> 23) & 0xff);
    uint32_t man = u & 0x7fffff;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    int32_t e = exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;  // may carry into exponent: correct
    return (uint16_t)half;
}

static float load_as_f32(const void *src, silt_dtype t, int64_t i) {
    switch (t) {
    case SILT_F32: return ((const float *)src)[i];
    case SILT_BF16: return silt_bf16_to_f32(((const uint16_t *)src)[i]);
    case SILT_F16: return silt_f16_to_f32(((const uint16_t *)src)[i]);
    default: return 0;
    }
}

silt_status silt_convert(void *dst, silt_dtype dst_type, const void *src, silt_dtype src_type, int64_t n) {
    if (dst_type == SILT_I32 || src_type == SILT_I32)
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "silt_convert handles float dtypes only");
    if (dst_type == src_type) { memmove(dst, src, (size_t)n * silt_dtype_size(dst_type)); return SILT_OK; }
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        float v = load_as_f32(src, src_type, i);
        switch (dst_type) {
        case SILT_F32: ((float *)dst)[i] = v; break;
        case SILT_BF16: ((uint16_t *)dst)[i] = silt_f32_to_bf16(v); break;
        case SILT_F16: ((uint16_t *)dst)[i] = silt_f32_to_f16(v); break;
        default: break;
        }
    }
    return SILT_OK;
}
