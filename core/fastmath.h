// Inline float math that vectorizes. glibc's expf is a call per element
// (__expf_fma), so loops around it stay scalar: in a CPU training step of the
// world MMDiT the GELU, SiLU, softmax and attention exps were ~11% of the time.
// silt_expf is branch-free straight-line code, so `#pragma omp simd` loops
// over it become vector code (SSE2 at the default -O2; wider where enabled).
#ifndef SILT_FASTMATH_H
#define SILT_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

// On x86-64 with GCC: a function compiled three times (AVX-512, AVX2, SSE2)
// and picked at load time by the CPU (ifunc), for the hot loops over
// silt_expf. -std=c11 keeps FMA contraction off, so all three give the same
// bits. Off under the sanitizers and elsewhere.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define SILT_VEC_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SILT_VEC_CLONES
#endif

// exp(x) in float: Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, then
// Cephes' expf polynomial for e^r (Moshier, Cephes Math Library, expf.c) and
// the exponent n put into the bits. Relative error within 2e-7 of exp(x)
// wherever exp(x) is a normal float (tests/unit/test_ops_elementwise.c checks
// it against double exp on a dense grid), subnormal results near expf's, inf
// above 88.7228 and 0 below -104 (as expf), NaN for NaN.
static inline float silt_expf(float x) {
    const float hi = 88.72283935546875f, lo = -104.0f;  // exp(hi) ~ FLT_MAX; exp(lo) < the least subnormal
    float xc = x > hi ? hi : x;  // comparisons are false for NaN: it passes through
    xc = xc < lo ? lo : xc;
    // n = round(x / ln2) by the 1.5 * 2^23 trick: the float's low bits then hold n.
    const float magic = 12582912.0f;
    float t = xc * 1.44269504088896341f + magic;
    uint32_t tb;
    memcpy(&tb, &t, sizeof tb);
    float nf = t - magic;
    float r = xc - nf * 0.693359375f;  // ln2 split in two (C1 + C2) so n C1 is exact
    r = r - nf * -2.12194440e-4f;
    float z = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * z + r + 1.0f;
    // 2^n as 2^n1 2^n2 with n1 = floor(n / 2): both normal for n in [-150, 128],
    // so results near FLT_MAX and subnormal ones come out right.
    int32_t n = (int32_t)(tb - 0x4B400000u), n1 = n >> 1, n2 = n - n1;
    uint32_t b1 = (uint32_t)(n1 + 127) << 23, b2 = (uint32_t)(n2 + 127) << 23;
    float s1, s2;
    memcpy(&s1, &b1, sizeof s1);
    memcpy(&s2, &b2, sizeof s2);
    float y = p * s1 * s2;
    y = x > hi ? INFINITY : y;
    return x < lo ? 0.0f : y;
}

// Logistic 1 / (1 + e^-v), stable: exp of -|v| only, so it never overflows.
static inline float silt_sigmoidf(float v) {
    float e = silt_expf(-fabsf(v));
    float s = 1.0f / (1.0f + e);
    return v >= 0 ? s : e * s;
}

#endif
