// The index math of the CUDA resampling twins (cuda/resample_index.h), run
// on the CPU: it must agree with core's resample_nearest_index and
// resample_cubic_taps (indices equal, weights bit-identical), and its inverse
// maps (the outputs that read each input, used by the gather-style backward
// kernels) must equal a brute-force search. Runs in every build, GPU or not.
#include <string.h>

#include "check.h"
#include "core/ops_resample.h"
#include "cuda/resample_index.h"

// One (in, out) pair: forward maps vs core, inverse maps vs brute force.
// Returns the number of mismatches (each also counted by CHECK_MSG).
static int check_pair(int64_t in, int64_t out) {
    int bad = 0;
    for (int64_t d = 0; d < out; d++) {
        int64_t a = rs_nearest_index(d, in, out), b = resample_nearest_index(d, in, out);
        if (a != b) {
            bad++;
            CHECK_MSG(0, "nearest in %lld out %lld dst %lld: %lld vs core %lld", (long long)in, (long long)out,
                      (long long)d, (long long)a, (long long)b);
        }
        int64_t i0a, i0b;
        float wa[4], wb[4];
        rs_cubic_taps(d, in, out, &i0a, wa);
        resample_cubic_taps(d, in, out, &i0b, wb);
        if (i0a != i0b || memcmp(wa, wb, sizeof wa) != 0 || rs_cubic_index(d, in, out) != i0b) {
            bad++;
            CHECK_MSG(0, "cubic in %lld out %lld dst %lld: i0 %lld vs core %lld, w0 %.9g vs %.9g", (long long)in,
                      (long long)out, (long long)d, (long long)i0a, (long long)i0b, wa[0], wb[0]);
        }
    }
    for (int64_t y = 0; y < in; y++) {
        int64_t lo, hi;
        // nearest: outputs with index == y
        rs_nearest_sources(y, in, out, &lo, &hi);
        for (int64_t i = 0; i < out; i++) {
            int want = resample_nearest_index(i, in, out) == y, got = i >= lo && i < hi;
            if (want != got) {
                bad++;
                CHECK_MSG(0, "nearest sources in %lld out %lld y %lld: [%lld,%lld) wrong at %lld", (long long)in,
                          (long long)out, (long long)y, (long long)lo, (long long)hi, (long long)i);
                break;
            }
        }
        // bicubic: outputs whose clamped taps include y
        rs_cubic_sources(y, in, out, &lo, &hi);
        for (int64_t i = 0; i < out; i++) {
            int64_t i0;
            float w[4];
            resample_cubic_taps(i, in, out, &i0, w);
            int want = 0;
            for (int k = 0; k < 4; k++) want |= rs_clamp(i0 - 1 + k, in - 1) == y;
            int got = i >= lo && i < hi;
            if (want != got) {
                bad++;
                CHECK_MSG(0, "cubic sources in %lld out %lld y %lld: [%lld,%lld) wrong at %lld", (long long)in,
                          (long long)out, (long long)y, (long long)lo, (long long)hi, (long long)i);
                break;
            }
        }
    }
    // area: windows of `out` outputs over `in` inputs
    for (int64_t y = 0; y < in; y++) {
        int64_t lo, hi;
        rs_area_sources(y, in, out, &lo, &hi);
        for (int64_t i = 0; i < out; i++) {
            int64_t a, b;
            rs_area_window(i, in, out, &a, &b);
            int want = y >= a && y < b, got = i >= lo && i < hi;
            if (want != got) {
                bad++;
                CHECK_MSG(0, "area sources in %lld out %lld y %lld: [%lld,%lld) wrong at %lld", (long long)in,
                          (long long)out, (long long)y, (long long)lo, (long long)hi, (long long)i);
                break;
            }
        }
    }
    return bad;
}

int main(void) {
    int pairs = 0, bad = 0;
    // Every pair of small sizes: up, down, equal, exact multiples.
    for (int64_t in = 1; in <= 48; in++)
        for (int64_t out = 1; out <= 48; out++, pairs++) bad += check_pair(in, out);
    // Large and lopsided pairs, where float positions land near integers.
    const int64_t big[][2] = {{7, 1000}, {1000, 7}, {333, 1024}, {1024, 333}, {64, 4096}, {4096, 64},
                              {1, 999},  {999, 1},  {257, 513},  {513, 257},  {100, 300}, {300, 100},
                              {17, 4097}, {4097, 17}, {1023, 1024}, {1024, 1023}};
    for (size_t s = 0; s < sizeof big / sizeof *big; s++, pairs++) bad += check_pair(big[s][0], big[s][1]);
    CHECK(bad == 0);
    printf("resample index math: %d (in, out) pairs, %d mismatches\n", pairs, bad);
    return check_summary();
}
