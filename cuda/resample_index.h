// Index math of the resampling twins (cuda/ops_resample.cu), shared with a
// host unit test (tests/unit/test_cuda_resample_index.c). Plain C, every
// function SILT_HD static inline, so the same code runs on the device and,
// in the test, on the CPU.
//
// rs_nearest_index and rs_cubic_taps re-derive core/ops_resample.c's
// resample_nearest_index / resample_cubic_taps (PyTorch
// aten/src/ATen/native/UpSample.h): those are out-of-line C functions, which
// device code cannot call, and core is not changed for this. The unit test
// checks that both give the same indices and bit-identical weights.
//
// Bit-exact on the device too: nvcc contracts a*b+c into one fma (a single
// rounding instead of two) by default, which moves a source position by an
// ulp and can flip floorf at an integer. Every float step here goes through
// RS_MUL / RS_ADD / RS_SUB / RS_DIV: on the device the round-to-nearest
// intrinsics, which are never contracted; on the host the plain operators
// (the library is C11, where GCC does not contract, and x86-64 has no fma
// without -mfma).
//
// The *_sources functions invert the maps for the gather-style backward
// kernels: the output indices [lo, hi) that read input index y. Each forward
// map is non-decreasing in the output index, so that set is a range; they
// start from the real-valued estimate and walk to its ends, which costs the
// estimate's error plus the range's length.
#ifndef SILT_CUDA_RESAMPLE_INDEX_H
#define SILT_CUDA_RESAMPLE_INDEX_H

#include <math.h>
#include <stdint.h>

#ifndef SILT_HD
#ifdef __CUDACC__
#define SILT_HD __host__ __device__
#else
#define SILT_HD
#endif
#endif

#ifdef __CUDA_ARCH__
#define RS_MUL(a, b) __fmul_rn((a), (b))
#define RS_ADD(a, b) __fadd_rn((a), (b))
#define RS_SUB(a, b) __fsub_rn((a), (b))
#define RS_DIV(a, b) __fdiv_rn((a), (b))
#else
#define RS_MUL(a, b) ((a) * (b))
#define RS_ADD(a, b) ((a) + (b))
#define RS_SUB(a, b) ((a) - (b))
#define RS_DIV(a, b) ((a) / (b))
#endif

SILT_HD static inline int64_t rs_clamp(int64_t v, int64_t hi) { return v < 0 ? 0 : v > hi ? hi : v; }

// --- nearest (legacy 'nearest': floor(dst * (float)in/out), clamped) -------------

SILT_HD static inline int64_t rs_nearest_index(int64_t dst, int64_t in, int64_t out) {
    if (out == in) return dst;
    if (out == 2 * in) return dst >> 1;
    float scale = RS_DIV((float)in, (float)out);
    int64_t src = (int64_t)floorf(RS_MUL((float)dst, scale));
    return src < in - 1 ? src : in - 1;
}

// Outputs i in [*lo, *hi) with rs_nearest_index(i, in, out) == y (empty when
// downsampling skips y).
SILT_HD static inline void rs_nearest_sources(int64_t y, int64_t in, int64_t out, int64_t *lo, int64_t *hi) {
    int64_t i = (int64_t)((double)y * (double)out / (double)in);
    i = rs_clamp(i, out - 1);
    while (i > 0 && rs_nearest_index(i - 1, in, out) >= y) i--;
    while (i < out && rs_nearest_index(i, in, out) < y) i++;
    int64_t j = i;
    while (j < out && rs_nearest_index(j, in, out) == y) j++;
    *lo = i;
    *hi = j;
}

// --- bicubic (align_corners=False, Keys kernel with A = -0.75) ---------------------

// cubic_convolution1 ((A+2)x - (A+3)) x x + 1 for |x| <= 1 and
// cubic_convolution2 ((A x - 5A) x + 8A) x - 4A for 1 < |x| < 2, evaluated in
// the CPU's order of operations.
SILT_HD static inline float rs_cubic1(float x, float a) {
    return RS_ADD(RS_MUL(RS_MUL(RS_SUB(RS_MUL(RS_ADD(a, 2.0f), x), RS_ADD(a, 3.0f)), x), x), 1.0f);
}
SILT_HD static inline float rs_cubic2(float x, float a) {
    return RS_SUB(RS_MUL(RS_ADD(RS_MUL(RS_SUB(RS_MUL(a, x), RS_MUL(5.0f, a)), x), RS_MUL(8.0f, a)), x),
                  RS_MUL(4.0f, a));
}

// Source position scale (dst + 0.5) - 0.5 (area_pixel_compute_source_index,
// cubic: not clamped at 0) and its lower tap, clamped to in - 1.
SILT_HD static inline float rs_cubic_real(int64_t dst, int64_t in, int64_t out) {
    float scale = RS_DIV((float)in, (float)out);
    return RS_SUB(RS_MUL(scale, RS_ADD((float)dst, 0.5f)), 0.5f);
}
SILT_HD static inline int64_t rs_cubic_index_of(float real, int64_t in) {
    int64_t idx = (int64_t)floorf(real);
    return idx > in - 1 ? in - 1 : idx;
}
SILT_HD static inline int64_t rs_cubic_index(int64_t dst, int64_t in, int64_t out) {
    return rs_cubic_index_of(rs_cubic_real(dst, in, out), in);
}

// Taps i0-1 .. i0+2 (clamped to 0..in-1 when read) and their weights.
SILT_HD static inline void rs_cubic_taps(int64_t dst, int64_t in, int64_t out, int64_t *i0, float w[4]) {
    const float a = -0.75f;
    float real = rs_cubic_real(dst, in, out);
    int64_t idx = rs_cubic_index_of(real, in);
    float t = RS_SUB(real, (float)idx);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    float t2 = RS_SUB(1.0f, t);
    w[0] = rs_cubic2(RS_ADD(t, 1.0f), a);
    w[1] = rs_cubic1(t, a);
    w[2] = rs_cubic1(t2, a);
    w[3] = rs_cubic2(RS_ADD(t2, 1.0f), a);
    *i0 = idx;
}

// Outputs i in [*lo, *hi) whose four clamped taps include y. The taps of i
// cover [clamp(i0-1), clamp(i0+2)] without gaps, so y is read iff
// clamp(i0+2) >= y (true from some i on) and clamp(i0-1) <= y (true up to
// some i).
SILT_HD static inline void rs_cubic_sources(int64_t y, int64_t in, int64_t out, int64_t *lo, int64_t *hi) {
    int64_t i = (int64_t)(((double)y + 0.5) * (double)out / (double)in - 0.5);
    i = rs_clamp(i, out - 1);
    while (i > 0 && rs_clamp(rs_cubic_index(i - 1, in, out) + 2, in - 1) >= y) i--;
    while (i < out && rs_clamp(rs_cubic_index(i, in, out) + 2, in - 1) < y) i++;
    int64_t j = i;
    while (j < out && rs_clamp(rs_cubic_index(j, in, out) - 1, in - 1) <= y) j++;
    *lo = i;
    *hi = j;
}

// --- area (adaptive average pooling) ---------------------------------------------

// Window of output i over n inputs split into m: [floor(i n / m), ceil((i+1) n / m))
// (PyTorch AdaptivePooling.h start_index / end_index).
SILT_HD static inline void rs_area_window(int64_t i, int64_t n, int64_t m, int64_t *lo, int64_t *hi) {
    *lo = (i * n) / m;
    *hi = ((i + 1) * n + m - 1) / m;
}

// Outputs i in [*lo, *hi) whose window contains y. Both window ends are
// non-decreasing in i.
SILT_HD static inline void rs_area_sources(int64_t y, int64_t n, int64_t m, int64_t *lo, int64_t *hi) {
    int64_t i = rs_clamp((int64_t)((double)y * (double)m / (double)n), m - 1), a, b;
    for (;;) {  // back to the first window that ends after y
        if (i == 0) break;
        rs_area_window(i - 1, n, m, &a, &b);
        if (b <= y) break;
        i--;
    }
    for (; i < m; i++) {
        rs_area_window(i, n, m, &a, &b);
        if (b > y) break;
    }
    int64_t j = i;
    for (; j < m; j++) {
        rs_area_window(j, n, m, &a, &b);
        if (a > y) break;
    }
    *lo = i;
    *hi = j;
}

#endif
