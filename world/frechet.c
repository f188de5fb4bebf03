// Frechet distance of Gaussians (frechet.h).
#include "world/frechet.h"

#include <math.h>
#include <stdlib.h>

#include "core/linalg.h"

silt_status world_fd_stats(const float *feat, int64_t n, int d, double *mu, double *sigma) {
    if (!feat || !mu || !sigma || d < 1) return SILT_FAIL(SILT_ERR_ARG, "world_fd_stats: NULL argument or d %d < 1", d);
    if (n < 2) return SILT_FAIL(SILT_ERR_ARG, "world_fd_stats: %lld samples; a covariance needs at least 2", (long long)n);
    for (int j = 0; j < d; j++) {
        double acc = 0;
        for (int64_t i = 0; i < n; i++) acc += feat[i * d + j];
        mu[j] = acc / (double)n;
    }
    for (int j = 0; j < d; j++)
        for (int k = j; k < d; k++) {
            double acc = 0;
            for (int64_t i = 0; i < n; i++) acc += (feat[i * d + j] - mu[j]) * (feat[i * d + k] - mu[k]);
            sigma[(size_t)j * d + k] = sigma[(size_t)k * d + j] = acc / (double)(n - 1);
        }
    return SILT_OK;
}

silt_status world_frechet_distance(const double *mu1, const double *s1, const double *mu2, const double *s2, int d,
                                   double *out) {
    if (!mu1 || !s1 || !mu2 || !s2 || !out || d < 1)
        return SILT_FAIL(SILT_ERR_ARG, "world_frechet_distance: NULL argument or d %d < 1", d);
    const size_t dd = (size_t)d * (size_t)d;
    double *r = malloc(sizeof(double) * dd), *m = malloc(sizeof(double) * dd), *w = malloc(sizeof(double) * (size_t)d);
    silt_status s = r && m && w ? SILT_OK : SILT_FAIL(SILT_ERR_OOM, "world_frechet_distance: out of memory");
    if (s == SILT_OK) s = silt_sym_sqrt(s1, d, r);  // r = S1^1/2
    if (s == SILT_OK) {
        // m = r S2 r, symmetrised against rounding.
        double *tmp = w;  // one row of r S2 at a time
        for (int i = 0; i < d; i++) {
            for (int k = 0; k < d; k++) {
                double acc = 0;
                for (int j = 0; j < d; j++) acc += r[(size_t)i * d + j] * s2[(size_t)j * d + k];
                tmp[k] = acc;
            }
            for (int k = 0; k < d; k++) {
                double acc = 0;
                for (int j = 0; j < d; j++) acc += tmp[j] * r[(size_t)j * d + k];
                m[(size_t)i * d + k] = acc;
            }
        }
        s = silt_sym_eig(m, d, w, NULL);
    }
    if (s == SILT_OK) {
        double diff = 0, tr = 0, trsq = 0;
        for (int i = 0; i < d; i++) {
            double x = mu1[i] - mu2[i];
            diff += x * x;
            tr += s1[(size_t)i * d + i] + s2[(size_t)i * d + i];
            trsq += sqrt(w[i] > 0 ? w[i] : 0);
        }
        double fd = diff + tr - 2 * trsq;
        if (!isfinite(fd)) s = SILT_FAIL(SILT_ERR_NUMERIC, "world_frechet_distance: not finite");
        else *out = fd > 0 ? fd : 0;
    }
    free(r);
    free(m);
    free(w);
    return s;
}

silt_status world_frechet_features(const float *f1, int64_t n1, const float *f2, int64_t n2, int d, double *out) {
    if (d < 1) return SILT_FAIL(SILT_ERR_ARG, "world_frechet_features: d %d < 1", d);
    const size_t dd = (size_t)d * (size_t)d;
    double *mu1 = malloc(sizeof(double) * (size_t)d), *mu2 = malloc(sizeof(double) * (size_t)d);
    double *s1 = malloc(sizeof(double) * dd), *s2 = malloc(sizeof(double) * dd);
    silt_status s = mu1 && mu2 && s1 && s2 ? SILT_OK : SILT_FAIL(SILT_ERR_OOM, "world_frechet_features: out of memory");
    if (s == SILT_OK) s = world_fd_stats(f1, n1, d, mu1, s1);
    if (s == SILT_OK) s = world_fd_stats(f2, n2, d, mu2, s2);
    if (s == SILT_OK) s = world_frechet_distance(mu1, s1, mu2, s2, d, out);
    free(mu1);
    free(mu2);
    free(s1);
    free(s2);
    return s;
}
