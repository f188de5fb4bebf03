// Bump allocator for activations: reset once per step, so a forward/backward
// pass allocates nothing from malloc after the first step. Grows by chaining
// blocks (pointers stay valid until reset); after a reset the blocks are kept.
#ifndef SILT_ARENA_H
#define SILT_ARENA_H

#include <stddef.h>

typedef struct silt_arena silt_arena;

silt_arena *silt_arena_create(size_t block_bytes);
void silt_arena_free(silt_arena *a);  // NULL-safe
// 64-byte aligned, uninitialised; NULL (and last error set) when out of memory.
void *silt_arena_alloc(silt_arena *a, size_t bytes);
void *silt_arena_calloc(silt_arena *a, size_t bytes);
void silt_arena_reset(silt_arena *a);
size_t silt_arena_used(const silt_arena *a);       // bytes handed out since reset
size_t silt_arena_high_water(const silt_arena *a);  // max of used over the arena's life

#endif
