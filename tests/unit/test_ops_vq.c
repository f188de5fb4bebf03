// vq_nearest_cpu against a brute-force argmin in long double, on random
// shapes with odd sizes, plus the edge cases the contract names: ties go to
// the lowest index (duplicated entries), an exact hit wins, entries far from
// the origin (where |z|^2 - 2 z.e + |e|^2 would cancel) and V == 0.
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "core/ops_vq.h"

// Index of the nearest entry by long double distances; *gap is the relative
// distance between the best and the second best (to spot near-ties).
static int32_t ref_nearest(const float *z, const float *cb, int64_t V, int64_t C, long double *gap) {
    long double best = INFINITY, second = INFINITY;
    int32_t arg = 0;
    for (int64_t j = 0; j < V; j++) {
        long double d = 0;
        for (int64_t c = 0; c < C; c++) {
            long double t = (long double)z[c] - (long double)cb[j * C + c];
            d += t * t;
        }
        if (d < best) {
            second = best;
            best = d;
            arg = (int32_t)j;
        } else if (d < second) {
            second = d;
        }
    }
    *gap = (second - best) / (best + 1e-30L);
    return arg;
}

static void random_case(int64_t N, int64_t V, int64_t C, float offset) {
    float *z = malloc((size_t)(N * C + 1) * sizeof(float)), *cb = malloc((size_t)(V * C + 1) * sizeof(float));
    int32_t *idx = malloc((size_t)(N + 1) * sizeof(int32_t));
    if (!z || !cb || !idx) { CHECK_MSG(0, "alloc"); free(z); free(cb); free(idx); return; }
    test_fill(cb, V * C, offset - 1, offset + 1);
    test_fill(z, N * C, offset - 1, offset + 1);
    // Every third row sits exactly on an entry: distance 0 must win.
    for (int64_t i = 0; i < N; i += 3)
        for (int64_t c = 0; c < C; c++) z[i * C + c] = cb[((i * 7) % V) * C + c];
    for (int64_t i = 0; i < N; i++) idx[i] = -7;
    vq_nearest_cpu(idx, z, cb, N, V, C);
    int64_t bad = 0, near_ties = 0;
    for (int64_t i = 0; i < N; i++) {
        long double gap;
        int32_t want = ref_nearest(z + i * C, cb, V, C, &gap);
        if (gap < 1e-9L) { near_ties++; continue; }  // below double resolution: either answer is right
        if (idx[i] != want) bad++;
    }
    CHECK_MSG(bad == 0, "vq N%lld V%lld C%lld offset %g: %lld rows differ from the reference", (long long)N,
              (long long)V, (long long)C, offset, (long long)bad);
    CHECK_MSG(near_ties < N / 10 + 1, "too many near-ties (%lld) for random data", (long long)near_ties);
    free(z); free(cb); free(idx);
}

static void test_ties(void) {
    // Entries 1 and 3 are the same point; z nearest to it must get 1.
    const float cb[4 * 2] = {5, 5, 1, 2, -3, 0, 1, 2};
    const float z[3 * 2] = {1.1f, 2.1f, 1, 2, 100, 100};
    int32_t idx[3] = {-7, -7, -7};
    vq_nearest_cpu(idx, z, cb, 3, 4, 2);
    CHECK(idx[0] == 1 && idx[1] == 1 && idx[2] == 0);
    // Equal distances to two different entries: the lower index.
    const float cb2[2] = {1, -1}, z2[1] = {0};
    int32_t j = -7;
    vq_nearest_cpu(&j, z2, cb2, 1, 2, 1);
    CHECK(j == 0);
    // V == 0: no entry to pick.
    vq_nearest_cpu(&j, z2, cb2, 1, 0, 1);
    CHECK(j == -1);
    // A NaN row never matches anything: index 0 by the contract.
    const float zn[2] = {NAN, 1};
    vq_nearest_cpu(&j, zn, cb, 1, 4, 2);
    CHECK(j == 0);
    // C == 0: every distance is 0, so the first entry.
    vq_nearest_cpu(&j, z2, cb2, 1, 2, 0);
    CHECK(j == 0);
}

int main(void) {
    test_seed(77);
    test_ties();
    const int64_t shapes[][3] = {{1, 1, 1}, {7, 3, 5}, {33, 17, 8}, {128, 512, 32}, {65, 4096, 7}, {300, 33, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        random_case(shapes[s][0], shapes[s][1], shapes[s][2], 0.0f);
        random_case(shapes[s][0], shapes[s][1], shapes[s][2], 1000.0f);
    }
    return check_summary();
}
