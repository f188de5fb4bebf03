// Bulk random numbers over Philox4x32-10 (core/philox.h has the generator and
// the stream layout) and a small stateful RNG for host-side choices.
#ifndef SILT_RNG_H
#define SILT_RNG_H

#include <stdint.h>

#include "core/philox.h"

// out[k] = element (offset + k) of the standard-normal stream (seed, stream),
// k in [0, n). `offset` need not be a multiple of 4: any slice of a stream can
// be regenerated alone and equals the same slice of the full stream, bit for
// bit. Use stream = sample index so sample i's noise depends only on (seed, i).
// n <= 0 writes nothing. Parallel over blocks (OpenMP) when n is large.
void silt_rng_normal(float *out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset);
// Same layout, uniforms strictly inside (0,1). Shares the words of the normal
// stream with the same (seed, stream): use a different stream for each.
void silt_rng_uniform(float *out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset);

// Stateful helper for host-side choices (shuffles, dataset order). The whole
// state is three integers, so a checkpoint stores and restores it exactly.
// `counter` counts the 32-bit words drawn: word c is word c%4 of block c/4.
typedef struct silt_rng {
    uint64_t seed, stream, counter;
} silt_rng;

silt_rng silt_rng_init(uint64_t seed, uint64_t stream);  // counter = 0
uint32_t silt_rng_next_u32(silt_rng *r);
uint64_t silt_rng_next_u64(silt_rng *r);  // two words, first one high
// Uniform in [0,1) with 53 random bits (two words).
double silt_rng_next_double(silt_rng *r);
// Unbiased integer in [0, n) by rejection (the draw is repeated while it falls
// into the short last interval); n == 0 returns 0 and draws nothing.
uint64_t silt_rng_uniform_int(silt_rng *r, uint64_t n);
// Fisher-Yates shuffle of idx[0..n).
void silt_rng_shuffle(silt_rng *r, int64_t *idx, int64_t n);

#endif
