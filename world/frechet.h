// Frechet distance between two Gaussians fitted to feature sets (Dowson &
// Landau 1982; the FID of Heusel et al. 2017, "GANs Trained by a Two
// Time-Scale Update Rule", eq. 6):
//     d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2)
// tr((S1 S2)^1/2) is computed as tr of the square root of the symmetric PSD
// S1^1/2 S2 S1^1/2 (similar to S1 S2, so the same eigenvalues), both roots by
// symmetric eigen-decomposition in double precision (core/linalg.h), so
// singular covariances (fewer samples than dimensions) are handled without
// the complex parts scipy.linalg.sqrtm produces. world-FD is this distance
// between world-CLIP image features of generated images and of renders.
#ifndef WORLD_FRECHET_H
#define WORLD_FRECHET_H

#include <stdint.h>

#include "core/status.h"

// feat (n, d) -> mu (d) and the unbiased covariance sigma (d, d), divided by
// n - 1 (numpy.cov, as pytorch-fid). Needs n >= 2.
silt_status world_fd_stats(const float *feat, int64_t n, int d, double *mu, double *sigma);

// The distance d^2 above (>= 0; rounding below 0 is clamped to 0).
// SILT_ERR_ARG for NULL arguments or d < 1; SILT_ERR_NUMERIC when the
// covariances are not finite.
silt_status world_frechet_distance(const double *mu1, const double *s1, const double *mu2, const double *s2, int d,
                                   double *out);

// Both steps for two feature sets (n1, d) and (n2, d).
silt_status world_frechet_features(const float *f1, int64_t n1, const float *f2, int64_t n2, int d, double *out);

#endif
