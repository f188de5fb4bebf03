#include "core/arena.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "core/tensor.h"
#include "cuda/cuda.h"

typedef struct block {
    struct block *next;
    size_t size, used;
    unsigned char *mem;
} block;

struct silt_arena {
    block *head, *cur;
    size_t block_bytes, used, high_water;
    bool cuda;  // blocks are device memory (silt_arena_create_cuda)
};

silt_arena *silt_arena_create(size_t block_bytes) {
    silt_arena *a = calloc(1, sizeof *a);
    if (!a) { SILT_FAIL(SILT_ERR_OOM, "out of memory for arena"); return NULL; }
    a->block_bytes = block_bytes ? block_bytes : ((size_t)64 << 20);
    return a;
}

silt_arena *silt_arena_create_cuda(size_t block_bytes) {
    if (!silt_cuda_available()) {
        SILT_FAIL(SILT_ERR_UNSUPPORTED, "device arena: no usable CUDA GPU");
        return NULL;
    }
    silt_arena *a = silt_arena_create(block_bytes ? block_bytes : ((size_t)256 << 20));
    if (a) a->cuda = true;
    return a;
}

void silt_arena_free(silt_arena *a) {
    if (!a) return;
    for (block *b = a->head, *n; b; b = n) {
        n = b->next;
        if (a->cuda) silt_cuda_free(b->mem);
        else silt_free(b->mem);
        free(b);
    }
    free(a);
}

static block *block_new(size_t size, bool cuda) {
    block *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    if (cuda) {
        void *p = NULL;
        if (silt_cuda_malloc(&p, size) != SILT_OK) { free(b); return NULL; }
        b->mem = p;
    } else {
        b->mem = silt_alloc(size);
    }
    if (!b->mem) { free(b); return NULL; }
    b->size = size;
    return b;
}

void *silt_arena_alloc(silt_arena *a, size_t bytes) {
    size_t need = (bytes + 63) & ~(size_t)63;
    if (need == 0) need = 64;
    // Walk forward through kept blocks (after a reset) until one fits.
    while (a->cur && a->cur->size - a->cur->used < need) {
        if (!a->cur->next) break;
        a->cur = a->cur->next;
        a->cur->used = 0;
    }
    if (!a->cur || a->cur->size - a->cur->used < need) {
        size_t size = need > a->block_bytes ? need : a->block_bytes;
        block *b = block_new(size, a->cuda);
        if (!b) { SILT_FAIL(SILT_ERR_OOM, "arena out of memory (asked %zu bytes)", bytes); return NULL; }
        if (!a->head) a->head = b;
        else {
            // Insert after cur so kept blocks later in the chain stay reachable.
            b->next = a->cur->next;
            a->cur->next = b;
        }
        a->cur = b;
    }
    void *p = a->cur->mem + a->cur->used;
    a->cur->used += need;
    a->used += need;
    if (a->used > a->high_water) a->high_water = a->used;
    return p;
}

void *silt_arena_calloc(silt_arena *a, size_t bytes) {
    void *p = silt_arena_alloc(a, bytes);
    if (!p) return NULL;
    if (!a->cuda) memset(p, 0, bytes);
    else if (silt_cuda_memset(p, 0, bytes) != SILT_OK) return NULL;
    return p;
}

void silt_arena_reset(silt_arena *a) {
    a->cur = a->head;
    if (a->cur) a->cur->used = 0;
    a->used = 0;
}

size_t silt_arena_used(const silt_arena *a) { return a->used; }
size_t silt_arena_high_water(const silt_arena *a) { return a->high_water; }
