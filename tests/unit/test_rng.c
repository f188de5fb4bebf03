// Philox4x32-10 known answers, normal/uniform statistics, stream layout
// (slices, per-sample streams, the per-element accessor) and the stateful RNG.
#include <string.h>

#include "check.h"
#include "core/rng.h"

// Known-answer vectors from Random123's tests/kat_vectors (D. E. Shaw
// Research, github.com/DEShawResearch/random123), the three "philox4x32 10"
// lines; columns: counter (4 words), key (2 words), expected output (4 words).
//   philox4x32 10 00000000 00000000 00000000 00000000 00000000 00000000   6627e8d5 e169c58d bc57ac4c 9b00dbd8
//   philox4x32 10 ffffffff ffffffff ffffffff ffffffff ffffffff ffffffff   408f276d 41c83b0e a20bc7c6 6d5451fd
//   philox4x32 10 243f6a88 85a308d3 13198a2e 03707344 a4093822 299f31d0   d16cfe09 94fdcceb 5001e420 24126ea1
static void test_kat(void) {
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6,
         0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420,
         0x24126ea1},
    };
    for (int t = 0; t < 3; t++) {
        uint32_t out[4];
        silt_philox4x32_10(kat[t], kat[t] + 4, out);
        for (int j = 0; j < 4; j++)
            CHECK_MSG(out[j] == kat[t][6 + j], "kat %d word %d: got %08x want %08x", t, j, out[j], kat[t][6 + j]);
    }
    // The stream layout packs (block, stream) into the counter and the seed
    // into the key: the pi vector read back through silt_philox_block.
    uint32_t w[4];
    silt_philox_block(0x299f31d0a4093822ull, 0x0370734413198a2eull, 0x85a308d3243f6a88ull, w);
    CHECK(w[0] == 0xd16cfe09 && w[1] == 0x94fdcceb && w[2] == 0x5001e420 && w[3] == 0x24126ea1);
}

static void test_uniform_map(void) {
    CHECK(silt_u32_to_uniform(0) > 0.0f);
    CHECK(silt_u32_to_uniform(0xffffffffu) < 1.0f);
    CHECK(silt_u32_to_uniform(0) == 0x1p-24f);
    CHECK(silt_u32_to_uniform(0xffffffffu) == 1.0f - 0x1p-24f);
    CHECK(silt_u32_to_uniform(0x80000000u) == 0.5f + 0x1p-24f);
}

static void test_normal_stats(void) {
    const int64_t n = 1000000;
    float *z = malloc(sizeof(float) * n);
    silt_rng_normal(z, n, 1234, 0, 0);
    double s1 = 0, s2 = 0, s3 = 0, s4 = 0, lag = 0, pair = 0;
    int64_t bad = 0, below0 = 0, below1 = 0, below_m196 = 0, mismatch = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = z[i];
        if (!isfinite(z[i])) bad++;
        s1 += x; s2 += x * x; s3 += x * x * x; s4 += x * x * x * x;
        if (i > 0) lag += x * z[i - 1];
        if (i % 2 == 1) pair += x * z[i - 1];
        below0 += x < 0; below1 += x < 1; below_m196 += x < -1.959963985;
        if (z[i] != silt_philox_normal_at(1234, 0, (uint64_t)i)) mismatch++;
    }
    double mean = s1 / n, var = s2 / n - mean * mean;
    // Bounds are ~5 standard errors for n = 1e6: mean 1e-3, variance sqrt(2/n)
    // = 1.4e-3, third moment sqrt(15/n) = 3.9e-3, fourth sqrt(96/n) = 9.8e-3,
    // a CDF point sqrt(p(1-p)/n) <= 5e-4, a correlation 1e-3.
    CHECK(bad == 0);
    CHECK_MSG(fabs(mean) < 5e-3, "mean %g", mean);
    CHECK_MSG(fabs(var - 1) < 7e-3, "variance %g", var);
    CHECK_MSG(fabs(s3 / n) < 0.02, "third moment %g", s3 / n);
    CHECK_MSG(fabs(s4 / n - 3) < 0.05, "fourth moment %g", s4 / n);
    CHECK_MSG(fabs((double)below0 / n - 0.5) < 2.5e-3, "P(z<0) %g", (double)below0 / n);
    CHECK_MSG(fabs((double)below1 / n - 0.841344746) < 2.5e-3, "P(z<1) %g", (double)below1 / n);
    CHECK_MSG(fabs((double)below_m196 / n - 0.025) < 1e-3, "P(z<-1.96) %g", (double)below_m196 / n);
    CHECK_MSG(fabs(lag / (n - 1)) < 5e-3, "lag-1 correlation %g", lag / (n - 1));
    CHECK_MSG(fabs(pair / (n / 2)) < 7e-3, "Box-Muller pair correlation %g", pair / (n / 2));
    // The bulk path (OpenMP at this size) equals the per-element accessor.
    CHECK_MSG(mismatch == 0, "%lld elements differ from silt_philox_normal_at", (long long)mismatch);
    free(z);
}

static void test_uniform_stats(void) {
    const int64_t n = 1000000;
    float *u = malloc(sizeof(float) * n);
    silt_rng_uniform(u, n, 99, 7, 3);
    double s1 = 0, s2 = 0;
    int64_t out_of_range = 0, mismatch = 0, hist[10] = {0};
    for (int64_t i = 0; i < n; i++) {
        if (!(u[i] > 0.0f && u[i] < 1.0f)) out_of_range++;
        s1 += u[i];
        s2 += (double)u[i] * u[i];
        hist[(int)(u[i] * 10)]++;
        if (u[i] != silt_philox_uniform_at(99, 7, (uint64_t)i + 3)) mismatch++;
    }
    double mean = s1 / n, var = s2 / n - mean * mean;
    CHECK(out_of_range == 0 && mismatch == 0);
    CHECK_MSG(fabs(mean - 0.5) < 1.5e-3, "uniform mean %g", mean);     // se 2.9e-4
    CHECK_MSG(fabs(var - 1.0 / 12) < 7e-4, "uniform variance %g", var);  // se 7.5e-5
    double chi2 = 0;
    for (int k = 0; k < 10; k++) chi2 += (hist[k] - n / 10.0) * (hist[k] - n / 10.0) / (n / 10.0);
    CHECK_MSG(chi2 < 33.7, "uniform decile chi2 %g (df 9, p=1e-4 cut 33.7)", chi2);
    free(u);
}

static void test_streams(void) {
    // A batch of 5 samples of 1001 values (odd: blocks straddle samples'
    // ends): sample 3 regenerated alone equals sample 3 of the batch.
    const int B = 5, N = 1001;
    const uint64_t seed = 0xdeadbeefcafef00dull;
    float *batch = malloc(sizeof(float) * B * N), *one = malloc(sizeof(float) * N);
    for (int i = 0; i < B; i++) silt_rng_normal(batch + (int64_t)i * N, N, seed, (uint64_t)i, 0);
    silt_rng_normal(one, N, seed, 3, 0);
    CHECK(memcmp(one, batch + 3 * N, sizeof(float) * N) == 0);
    // Different streams and different seeds give different values.
    CHECK(memcmp(batch, batch + N, sizeof(float) * N) != 0);
    silt_rng_normal(one, N, seed + 1, 3, 0);
    int same = 0;
    for (int k = 0; k < N; k++) same += one[k] == batch[3 * N + k];
    CHECK(same < 5);
    // Streams are uncorrelated: |corr| well under 5/sqrt(N) ~ 0.16 for N=1001.
    double c = 0;
    for (int k = 0; k < N; k++) c += (double)batch[k] * batch[N + k];
    CHECK_MSG(fabs(c / N) < 0.16, "stream 0/1 correlation %g", c / N);
    // High words of stream and seed matter (they enter counter word 3 / key word 1).
    float a[8], b[8];
    silt_rng_normal(a, 8, 1, 1ull << 32, 0);
    silt_rng_normal(b, 8, 1, 0, 0);
    CHECK(memcmp(a, b, sizeof a) != 0);
    silt_rng_normal(a, 8, 1ull << 32, 0, 0);
    silt_rng_normal(b, 8, 0, 0, 0);
    CHECK(memcmp(a, b, sizeof a) != 0);

    // Any slice [off, off+len) equals the same slice of the full stream,
    // including offsets and lengths that are not multiples of 4.
    const int64_t M = 4099;
    float *full = malloc(sizeof(float) * M), *slice = malloc(sizeof(float) * M), *ufull = malloc(sizeof(float) * M);
    silt_rng_normal(full, M, seed, 42, 0);
    silt_rng_uniform(ufull, M, seed, 42, 0);
    test_seed(5);
    for (int t = 0; t < 200; t++) {
        int64_t off = (int64_t)(test_uniform() * M), len = 1 + (int64_t)(test_uniform() * (double)(M - off));
        if (off + len > M) len = M - off;
        if (t < 8) { off = t; len = (t % 3) + 1; }  // tiny slices inside one block
        silt_rng_normal(slice, len, seed, 42, (uint64_t)off);
        CHECK_MSG(memcmp(slice, full + off, sizeof(float) * (size_t)len) == 0, "normal slice off=%lld len=%lld",
                  (long long)off, (long long)len);
        silt_rng_uniform(slice, len, seed, 42, (uint64_t)off);
        CHECK_MSG(memcmp(slice, ufull + off, sizeof(float) * (size_t)len) == 0, "uniform slice off=%lld len=%lld",
                  (long long)off, (long long)len);
    }
    for (int64_t i = 0; i < M; i++) {
        if (full[i] != silt_philox_normal_at(seed, 42, (uint64_t)i)) { CHECK_MSG(0, "normal_at(%lld)", (long long)i); break; }
    }
    // Far offsets (block index above 2^32) work and stay consistent.
    uint64_t far = (1ull << 36) + 3;
    silt_rng_normal(slice, 9, seed, 42, far);
    int ok = 1;
    for (int k = 0; k < 9; k++) ok &= slice[k] == silt_philox_normal_at(seed, 42, far + (uint64_t)k) && isfinite(slice[k]);
    CHECK(ok);
    // n <= 0 writes nothing.
    slice[0] = 123.0f;
    silt_rng_normal(slice, 0, seed, 0, 0);
    silt_rng_uniform(slice, -3, seed, 0, 0);
    CHECK(slice[0] == 123.0f);
    free(batch); free(one); free(full); free(slice); free(ufull);
}

static void test_stateful(void) {
    silt_rng r = silt_rng_init(7, 3);
    // Word c is word c%4 of block c/4 of the (seed, stream) stream.
    uint32_t w[4];
    silt_philox_block(7, 3, 1, w);
    for (int k = 0; k < 4; k++) silt_rng_next_u32(&r);
    CHECK(silt_rng_next_u32(&r) == w[0] && silt_rng_next_u32(&r) == w[1]);
    CHECK(r.counter == 6);
    // Checkpoint = three integers: a copy resumes the same sequence.
    silt_rng saved = r;
    double d1[5], d2[5];
    for (int k = 0; k < 5; k++) d1[k] = silt_rng_next_double(&r);
    silt_rng restored = {saved.seed, saved.stream, saved.counter};
    for (int k = 0; k < 5; k++) d2[k] = silt_rng_next_double(&restored);
    CHECK(memcmp(d1, d2, sizeof d1) == 0);
    for (int k = 0; k < 5; k++) CHECK(d1[k] >= 0.0 && d1[k] < 1.0);

    // uniform_int: range, degenerate cases, and no modulo bias. For n = 3*2^30
    // plain x % n would put half the mass below 2^30; unbiased gives 1/3.
    r = silt_rng_init(11, 0);
    CHECK(silt_rng_uniform_int(&r, 0) == 0 && r.counter == 0);
    CHECK(silt_rng_uniform_int(&r, 1) == 0);
    const int T = 30000;
    int low = 0, counts[7] = {0}, in_range = 1;
    for (int k = 0; k < T; k++) {
        uint64_t v = silt_rng_uniform_int(&r, 3ull << 30);
        in_range &= v < (3ull << 30);
        low += v < (1ull << 30);
        uint64_t s = silt_rng_uniform_int(&r, 7);
        in_range &= s < 7;
        counts[s < 7 ? s : 0]++;
    }
    CHECK(in_range);
    CHECK_MSG(fabs((double)low / T - 1.0 / 3) < 0.014, "P(v < 2^30) = %g, want 1/3", (double)low / T);  // 5 se
    double chi2 = 0;
    for (int k = 0; k < 7; k++) chi2 += (counts[k] - T / 7.0) * (counts[k] - T / 7.0) / (T / 7.0);
    CHECK_MSG(chi2 < 27.9, "uniform_int(7) chi2 %g (df 6, p=1e-4 cut 27.9)", chi2);
    // 64-bit n: values above 2^32 occur and stay below n.
    uint64_t big = (5ull << 40) + 17, maxv = 0;
    for (int k = 0; k < 100; k++) {
        uint64_t v = silt_rng_uniform_int(&r, big);
        CHECK(v < big);
        if (v > maxv) maxv = v;
    }
    CHECK(maxv > (1ull << 32));
    uint64_t full32 = 0;
    for (int k = 0; k < 100; k++) { uint64_t v = silt_rng_uniform_int(&r, 1ull << 32); full32 |= v; CHECK(v <= UINT32_MAX); }
    CHECK(full32 == UINT32_MAX);

    // Shuffle gives a permutation and depends on the state.
    int64_t idx[101], idx2[101];
    for (int k = 0; k < 101; k++) idx[k] = idx2[k] = k;
    silt_rng a = silt_rng_init(1, 0), b = silt_rng_init(2, 0);
    silt_rng_shuffle(&a, idx, 101);
    silt_rng_shuffle(&b, idx2, 101);
    int seen[101] = {0}, moved = 0, ok = 1;
    for (int k = 0; k < 101; k++) {
        ok &= idx[k] >= 0 && idx[k] < 101 && !seen[idx[k]];
        if (idx[k] >= 0 && idx[k] < 101) seen[idx[k]] = 1;
        moved += idx[k] != k;
    }
    CHECK(ok && moved > 90);
    CHECK(memcmp(idx, idx2, sizeof idx) != 0);
}

int main(void) {
    test_kat();
    test_uniform_map();
    test_normal_stats();
    test_uniform_stats();
    test_streams();
    test_stateful();
    return check_summary();
}
