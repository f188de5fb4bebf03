// Bump allocator for activations: reset once per step, so a forward/backward
// pass allocates nothing from malloc after the first step. Grows by chaining
// blocks (pointers stay valid until reset); after a reset the blocks are kept.
#ifndef SILT_ARENA_H
#define SILT_ARENA_H

#include <stddef.h>

typedef struct silt_arena silt_arena;

silt_arena *silt_arena_create(size_t block_bytes);
// An arena of CUDA device memory (blocks from silt_cuda_malloc): the same
// bump allocation, but the pointers are device pointers, so the caller must
// not touch them from the host; silt_arena_calloc zero-fills with a device
// memset. NULL (last error set) without a usable GPU.
silt_arena *silt_arena_create_cuda(size_t block_bytes);
void silt_arena_free(silt_arena *a);  // NULL-safe
// 64-byte aligned, uninitialised; NULL (and last error set) when out of memory.
void *silt_arena_alloc(silt_arena *a, size_t bytes);
void *silt_arena_calloc(silt_arena *a, size_t bytes);
void silt_arena_reset(silt_arena *a);
size_t silt_arena_used(const silt_arena *a);       // bytes handed out since reset
size_t silt_arena_high_water(const silt_arena *a);  // max of used over the arena's life

#endif
