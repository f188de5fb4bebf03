// Symmetric eigen-decomposition and square root (core/linalg.h) and the
// Frechet distance (world/frechet.h): reconstruction and orthonormality on
// random symmetric matrices of odd sizes, known spectra, R R = A for SPD and
// singular PSD matrices, and distances with closed forms (1-D, diagonal
// covariances, a common rotation of them, 2x2 non-commuting covariances via
// tr sqrt(M) = sqrt(tr M + 2 sqrt(det M))), plus hand-computed statistics.
#include <math.h>
#include <string.h>

#include "check.h"
#include "core/linalg.h"
#include "world/frechet.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double urand(void) {  // [-1, 1)
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / (double)(1ull << 52) - 1.0;
}

// Random orthogonal q (n, n): Gram-Schmidt (twice) on a random matrix's columns.
static void random_orthogonal(double *q, int n) {
    for (int i = 0; i < n * n; i++) q[i] = urand();
    for (int j = 0; j < n; j++)
        for (int pass = 0; pass < 2; pass++) {
            for (int k = 0; k < j; k++) {
                double d = 0;
                for (int i = 0; i < n; i++) d += q[i * n + j] * q[i * n + k];
                for (int i = 0; i < n; i++) q[i * n + j] -= d * q[i * n + k];
            }
            double nrm = 0;
            for (int i = 0; i < n; i++) nrm += q[i * n + j] * q[i * n + j];
            nrm = sqrt(nrm);
            for (int i = 0; i < n; i++) q[i * n + j] /= nrm;
        }
}

// out = q diag(l) q^T
static void compose(double *out, const double *q, const double *l, int n) {
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n; k++) {
            double acc = 0;
            for (int j = 0; j < n; j++) acc += q[i * n + j] * l[j] * q[k * n + j];
            out[i * n + k] = acc;
        }
}

static double max_abs_diff(const double *a, const double *b, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

static void test_eig(void) {
    static const int sizes[] = {1, 2, 3, 7, 17, 33, 64};
    static double a[64 * 64], v[64 * 64], w[64], back[64 * 64], q[64 * 64], l[64];
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        int n = sizes[si];
        for (int i = 0; i < n; i++)
            for (int k = i; k < n; k++) a[i * n + k] = a[k * n + i] = urand();
        CHECK_OK(silt_sym_eig(a, n, w, v));
        compose(back, v, w, n);
        double err = max_abs_diff(back, a, n * n), orth = 0;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++) {
                double d = 0;
                for (int j = 0; j < n; j++) d += v[j * n + i] * v[j * n + k];
                orth = fmax(orth, fabs(d - (i == k)));
            }
        int sorted = 1;
        for (int i = 1; i < n; i++) sorted &= w[i - 1] <= w[i];
        CHECK_MSG(err < 1e-12 * n && orth < 1e-12 * n && sorted, "eig n=%d: reconstruction %.3g, orthogonality %.3g", n,
                  err, orth);
        // Known spectrum: q diag(l) q^T with l spread over 1e-6..10 and a repeated value.
        random_orthogonal(q, n);
        for (int j = 0; j < n; j++) l[j] = j == 1 ? l[0] : pow(10.0, -6 + 7.0 * j / (n > 1 ? n - 1 : 1));
        compose(a, q, l, n);
        CHECK_OK(silt_sym_eig(a, n, w, NULL));
        double lerr = 0;
        for (int j = 0; j < n; j++) lerr = fmax(lerr, fabs(w[j] - l[j]));  // l is ascending
        CHECK_MSG(lerr < 1e-12 * n, "eig n=%d: known spectrum off by %.3g", n, lerr);
    }
    CHECK(silt_sym_eig(NULL, 3, w, v) == SILT_ERR_ARG);
    CHECK(silt_sym_eig(a, 0, w, v) == SILT_ERR_ARG);
    double bad[4] = {1, NAN, NAN, 1};
    w[0] = 42;
    CHECK(silt_sym_eig(bad, 2, w, v) == SILT_ERR_NUMERIC && w[0] == 42);
}

static void test_sqrt(void) {
    static const int sizes[] = {1, 3, 9, 31};
    static double b[31 * 31], a[31 * 31], r[31 * 31], rr[31 * 31];
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        int n = sizes[si];
        for (int rank = n; rank >= (n > 2 ? n / 2 : n); rank -= (n > 2 ? n - n / 2 : 1)) {
            // a = b b^T with b (n, rank): SPD when rank = n, singular PSD otherwise.
            for (int i = 0; i < n * rank; i++) b[i] = urand();
            for (int i = 0; i < n; i++)
                for (int k = 0; k < n; k++) {
                    double acc = 0;
                    for (int j = 0; j < rank; j++) acc += b[i * rank + j] * b[k * rank + j];
                    a[i * n + k] = acc;
                }
            CHECK_OK(silt_sym_sqrt(a, n, r));
            double sym = 0;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < n; k++) {
                    double acc = 0;
                    for (int j = 0; j < n; j++) acc += r[i * n + j] * r[j * n + k];
                    rr[i * n + k] = acc;
                    sym = fmax(sym, fabs(r[i * n + k] - r[k * n + i]));
                }
            // Singular: eigenvalues ~1e-16 of a become ~1e-8 in r, so R R = A to ~1e-8 only.
            double err = max_abs_diff(rr, a, n * n), tol = rank == n ? 1e-11 * n : 1e-7;
            CHECK_MSG(err < tol && sym == 0, "sqrt n=%d rank %d: |R R - A| %.3g, asymmetry %.3g", n, rank, err, sym);
        }
    }
    double d[9] = {4, 0, 0, 0, 9, 0, 0, 0, 0.25}, want[9] = {2, 0, 0, 0, 3, 0, 0, 0, 0.5};
    CHECK_OK(silt_sym_sqrt(d, 3, d));  // in place
    CHECK_MSG(max_abs_diff(d, want, 9) < 1e-15, "sqrt of a diagonal");
}

static void test_frechet(void) {
    double fd = -1;
    // 1-D: (m1 - m2)^2 + (s1 - s2)^2 for standard deviations s.
    double m1 = 0.5, m2 = -1.5, v1 = 4, v2 = 0.25;
    CHECK_OK(world_frechet_distance(&m1, &v1, &m2, &v2, 1, &fd));
    CHECK_MSG(fabs(fd - (4 + 1.5 * 1.5)) < 1e-12, "1-D: %.17g", fd);
    // Diagonal covariances: |mu1 - mu2|^2 + sum (sqrt a - sqrt b)^2, then the
    // same Gaussians after one common rotation (the distance is invariant).
    enum { N = 13 };
    static double mu1[N], mu2[N], s1[N * N], s2[N * N], l1[N], l2[N], q[N * N], r1[N * N], r2[N * N], qm1[N], qm2[N];
    double want = 0;
    for (int i = 0; i < N; i++) {
        mu1[i] = urand(), mu2[i] = urand();
        l1[i] = 0.1 + fabs(urand()), l2[i] = i == 3 ? 0 : 0.1 + fabs(urand());  // one singular direction
        want += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]) + (sqrt(l1[i]) - sqrt(l2[i])) * (sqrt(l1[i]) - sqrt(l2[i]));
    }
    memset(s1, 0, sizeof s1);
    memset(s2, 0, sizeof s2);
    for (int i = 0; i < N; i++) s1[i * N + i] = l1[i], s2[i * N + i] = l2[i];
    CHECK_OK(world_frechet_distance(mu1, s1, mu2, s2, N, &fd));
    CHECK_MSG(fabs(fd - want) < 1e-12 * want, "diagonal: %.17g, want %.17g", fd, want);
    random_orthogonal(q, N);
    compose(r1, q, l1, N);
    compose(r2, q, l2, N);
    for (int i = 0; i < N; i++) {
        qm1[i] = qm2[i] = 0;
        for (int j = 0; j < N; j++) qm1[i] += q[i * N + j] * mu1[j], qm2[i] += q[i * N + j] * mu2[j];
    }
    CHECK_OK(world_frechet_distance(qm1, r1, qm2, r2, N, &fd));
    // The singular direction costs sqrt precision: its 1e-16 eigenvalue has a 1e-8 root.
    CHECK_MSG(fabs(fd - want) < 1e-7, "rotated diagonal: %.17g, want %.17g", fd, want);
    double back = -1;
    CHECK_OK(world_frechet_distance(qm2, r2, qm1, r1, N, &back));
    CHECK_MSG(fabs(back - fd) < 1e-7, "symmetric: %.17g vs %.17g", back, fd);
    CHECK_OK(world_frechet_distance(qm1, r1, qm1, r1, N, &fd));
    CHECK_MSG(fd < 1e-12, "identical Gaussians: %.3g", fd);
    // 2x2, non-commuting: tr sqrt(S1 S2) = sqrt(tr(S1 S2) + 2 sqrt(det S1 det S2)).
    double a[4] = {2, 0.7, 0.7, 1}, b[4] = {0.5, -0.3, -0.3, 3}, z[2] = {0, 0}, z2[2] = {1, -2};
    double tr12 = a[0] * b[0] + a[1] * b[2] + a[2] * b[1] + a[3] * b[3];
    double det1 = a[0] * a[3] - a[1] * a[2], det2 = b[0] * b[3] - b[1] * b[2];
    double w2 = 5 + (a[0] + a[3] + b[0] + b[3]) - 2 * sqrt(tr12 + 2 * sqrt(det1 * det2));
    CHECK_OK(world_frechet_distance(z, a, z2, b, 2, &fd));
    CHECK_MSG(fabs(fd - w2) < 1e-13, "2x2: %.17g, want %.17g", fd, w2);
    CHECK(world_frechet_distance(NULL, a, z2, b, 2, &fd) == SILT_ERR_ARG);
}

static void test_stats(void) {
    // Hand-computed: x = (1, 3, 5), y = (2, 4, 0): means 3, 2; var 4, 4; cov -2.
    const float f[6] = {1, 2, 3, 4, 5, 0};
    double mu[2], s[4];
    CHECK_OK(world_fd_stats(f, 3, 2, mu, s));
    CHECK(mu[0] == 3 && mu[1] == 2 && s[0] == 4 && s[3] == 4 && s[1] == -2 && s[2] == -2);
    CHECK(world_fd_stats(f, 1, 2, mu, s) == SILT_ERR_ARG);
    // Same features on both sides: 0; shifted by c in every coordinate: d c^2.
    enum { n = 40, d = 5 };
    static float g[n * d], h[n * d];
    for (int i = 0; i < n * d; i++) g[i] = (float)urand(), h[i] = g[i] + 0.5f;
    double fd = -1;
    CHECK_OK(world_frechet_features(g, n, g, n, d, &fd));
    CHECK_MSG(fd < 1e-12, "same features: %.3g", fd);
    CHECK_OK(world_frechet_features(g, n, h, n, d, &fd));
    CHECK_MSG(fabs(fd - d * 0.25) < 1e-6, "shifted features: %.9g", fd);
}

int main(void) {
    test_eig();
    test_sqrt();
    test_frechet();
    test_stats();
    return check_summary();
}
