// Philox4x32-10 counter-based RNG (Salmon, Moraes, Dror, Shaw, "Parallel
// Random Numbers: As Easy as 1, 2, 3", SC11; constants and round structure
// as in Random123's include/Random123/philox.h).
//
// Header-only and shared verbatim by the CPU build and the CUDA twin: every
// function is `SILT_HD static inline` and uses only integer ops plus
// logf/sqrtf/cosf/sinf, which exist on the device.
//
// Stream layout (the contract that makes "the noise of sample i of a batch
// depends only on (seed, i)" true, on CPU and GPU alike):
//   key     = (seed lo32, seed hi32)
//   counter = (block lo32, block hi32, stream lo32, stream hi32)
// where `stream` is the sample index (or any other independent stream id) and
// block b yields the four 32-bit words that make elements 4b..4b+3 of the
// stream. Normals: words (0,1) and (2,3) are two Box-Muller pairs; element
// 4b+0 and 4b+2 take the cosine branch, 4b+1 and 4b+3 the sine branch.
// Uniforms: element 4b+j is word j mapped into (0,1).
// Uniforms and normals of the same (seed, stream) come from the same words,
// so draw them from different streams when both are needed.
//
// CPU and GPU results agree bit for bit in the integer words and uniforms;
// normals go through logf/cosf/sinf, whose last-ulp rounding may differ
// between glibc and CUDA's libdevice (a few 1e-7 relative), unless the GPU
// build uses fast-math intrinsics, which it must not for these.
#ifndef SILT_PHILOX_H
#define SILT_PHILOX_H

#include <math.h>
#include <stdint.h>

#ifndef SILT_HD
#ifdef __CUDACC__
#define SILT_HD __host__ __device__
#else
#define SILT_HD
#endif
#endif

// Philox4x32 constants (Random123 philox.h: PHILOX_M4x32_0/1, PHILOX_W32_0/1).
#define SILT_PHILOX_M0 0xD2511F53u
#define SILT_PHILOX_M1 0xCD9E8D57u
#define SILT_PHILOX_W0 0x9E3779B9u  // golden ratio
#define SILT_PHILOX_W1 0xBB67AE85u  // sqrt(3) - 1

// One Philox4x32 round: two 32x32->64 products, then the Feistel-like mix
// out = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0) with (hi0,lo0) = M0*c0 and
// (hi1,lo1) = M1*c2 (Random123 _philox4x32round).
SILT_HD static inline void silt_philox4x32_round_(uint32_t c[4], uint32_t k0, uint32_t k1) {
    uint64_t p0 = (uint64_t)SILT_PHILOX_M0 * c[0];
    uint64_t p1 = (uint64_t)SILT_PHILOX_M1 * c[2];
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    uint32_t n0 = hi1 ^ c[1] ^ k0, n2 = hi0 ^ c[3] ^ k1;
    c[0] = n0;
    c[1] = lo1;
    c[2] = n2;
    c[3] = lo0;
}

// Philox4x32 with 10 rounds: the key is bumped by the Weyl constants between
// rounds (round, then bump, nine times, then a last round).
SILT_HD static inline void silt_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        if (r > 0) { k0 += SILT_PHILOX_W0; k1 += SILT_PHILOX_W1; }
        silt_philox4x32_round_(c, k0, k1);
    }
    out[0] = c[0];
    out[1] = c[1];
    out[2] = c[2];
    out[3] = c[3];
}

// The four words of block `block` of stream `stream` under `seed`.
SILT_HD static inline void silt_philox_block(uint64_t seed, uint64_t stream, uint64_t block, uint32_t out[4]) {
    uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    silt_philox4x32_10(ctr, key, out);
}

// u32 -> float strictly inside (0,1): the top 23 bits on a grid of step 2^-23,
// shifted by half a step, i.e. (k + 1/2) * 2^-23 for k in [0, 2^23). Every
// value is exact in float, the smallest is 2^-24 and the largest 1 - 2^-24.
// (The 24-bit variant (u>>8)*2^-24 + 2^-25 rounds its top value to exactly
// 1.0f in float arithmetic, which would break "never 0 or 1".)
SILT_HD static inline float silt_u32_to_uniform(uint32_t u) {
    return (float)(u >> 9) * 1.1920928955078125e-7f + 5.9604644775390625e-8f;  // 2^-23, 2^-24
}

// Box-Muller (Box & Muller 1958): two uniforms in (0,1) -> two independent
// standard normals. u1 > 0 keeps the log finite; the largest radius is
// sqrt(-2 ln 2^-24) ~ 5.77, so the tails beyond that (p ~ 1e-8) are cut.
SILT_HD static inline void silt_box_muller(uint32_t a, uint32_t b, float *z0, float *z1) {
    float u1 = silt_u32_to_uniform(a), u2 = silt_u32_to_uniform(b);
    float r = sqrtf(-2.0f * logf(u1));
    float theta = 6.28318530717958647692f * u2;
    *z0 = r * cosf(theta);
    *z1 = r * sinf(theta);
}

// The four standard normals of block `block` (elements 4*block .. 4*block+3).
SILT_HD static inline void silt_philox_normal4(uint64_t seed, uint64_t stream, uint64_t block, float out[4]) {
    uint32_t w[4];
    silt_philox_block(seed, stream, block, w);
    silt_box_muller(w[0], w[1], &out[0], &out[1]);
    silt_box_muller(w[2], w[3], &out[2], &out[3]);
}

// Element `index` of the normal stream (seed, stream): what a GPU kernel calls
// per output element. Bit-identical to silt_philox_normal4 (same expressions,
// only the branch this element needs is evaluated).
SILT_HD static inline float silt_philox_normal_at(uint64_t seed, uint64_t stream, uint64_t index) {
    uint32_t w[4];
    silt_philox_block(seed, stream, index >> 2, w);
    unsigned j = (unsigned)(index & 3u), p = j & 2u;  // p: first word of this element's pair
    float r = sqrtf(-2.0f * logf(silt_u32_to_uniform(w[p])));
    float theta = 6.28318530717958647692f * silt_u32_to_uniform(w[p + 1]);
    return (j & 1u) ? r * sinf(theta) : r * cosf(theta);
}

// Element `index` of the uniform stream (seed, stream), in (0,1).
SILT_HD static inline float silt_philox_uniform_at(uint64_t seed, uint64_t stream, uint64_t index) {
    uint32_t w[4];
    silt_philox_block(seed, stream, index >> 2, w);
    return silt_u32_to_uniform(w[index & 3u]);
}

#endif
