#include "core/rng.h"

// Blocks per element range [offset, offset+n) and the part of each block that
// falls inside; each block is computed by exactly one iteration, so the loop
// parallelises without sharing and gives the same bits at any thread count.
#define RNG_PAR_MIN 65536  // below this the OpenMP fork costs more than it saves

void silt_rng_normal(float *out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset) {
    if (n <= 0) return;
    uint64_t first = offset >> 2, last = (offset + (uint64_t)n - 1) >> 2;
    int64_t nblocks = (int64_t)(last - first + 1);
#pragma omp parallel for schedule(static) if (n >= RNG_PAR_MIN)
    for (int64_t bi = 0; bi < nblocks; bi++) {
        uint64_t b = first + (uint64_t)bi;
        float z[4];
        silt_philox_normal4(seed, stream, b, z);
        for (unsigned j = 0; j < 4; j++) {
            uint64_t e = 4 * b + j;
            if (e >= offset && e - offset < (uint64_t)n) out[e - offset] = z[j];
        }
    }
}

void silt_rng_uniform(float *out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset) {
    if (n <= 0) return;
    uint64_t first = offset >> 2, last = (offset + (uint64_t)n - 1) >> 2;
    int64_t nblocks = (int64_t)(last - first + 1);
#pragma omp parallel for schedule(static) if (n >= RNG_PAR_MIN)
    for (int64_t bi = 0; bi < nblocks; bi++) {
        uint64_t b = first + (uint64_t)bi;
        uint32_t w[4];
        silt_philox_block(seed, stream, b, w);
        for (unsigned j = 0; j < 4; j++) {
            uint64_t e = 4 * b + j;
            if (e >= offset && e - offset < (uint64_t)n) out[e - offset] = silt_u32_to_uniform(w[j]);
        }
    }
}

silt_rng silt_rng_init(uint64_t seed, uint64_t stream) {
    silt_rng r = {seed, stream, 0};
    return r;
}

uint32_t silt_rng_next_u32(silt_rng *r) {
    // Recomputes the block per word: host-side choices draw few numbers, and a
    // cache would make the state more than the three integers.
    uint32_t w[4];
    silt_philox_block(r->seed, r->stream, r->counter >> 2, w);
    uint32_t v = w[r->counter & 3];
    r->counter++;
    return v;
}

uint64_t silt_rng_next_u64(silt_rng *r) {
    uint64_t hi = silt_rng_next_u32(r);
    return (hi << 32) | silt_rng_next_u32(r);
}

double silt_rng_next_double(silt_rng *r) {
    return (double)(silt_rng_next_u64(r) >> 11) * (1.0 / 9007199254740992.0);  // 2^-53
}

uint64_t silt_rng_uniform_int(silt_rng *r, uint64_t n) {
    if (n == 0) return 0;
    if (n <= UINT32_MAX + 1ull) {
        // Accept x >= 2^32 mod n: the accepted range has a multiple of n values.
        uint32_t n32 = (uint32_t)n;  // n == 2^32 wraps to 0 and needs no rejection
        if (n32 == 0) return silt_rng_next_u32(r);
        uint32_t threshold = (uint32_t)(-n32) % n32;
        for (;;) {
            uint32_t x = silt_rng_next_u32(r);
            if (x >= threshold) return x % n32;
        }
    }
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = silt_rng_next_u64(r);
        if (x >= threshold) return x % n;
    }
}

void silt_rng_shuffle(silt_rng *r, int64_t *idx, int64_t n) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)silt_rng_uniform_int(r, (uint64_t)i + 1);
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}
