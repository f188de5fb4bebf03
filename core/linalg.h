// Small dense linear algebra in double precision for statistics (not a hot
// path): the eigen-decomposition of a symmetric matrix by cyclic Jacobi
// rotations (Golub & Van Loan, "Matrix Computations" 4th ed., sec. 8.5.2-8.5.3),
// and the symmetric positive semi-definite square root built from it. Sizes
// up to a few hundred; cost O(n^3) per sweep, typically 6-10 sweeps.
#ifndef SILT_LINALG_H
#define SILT_LINALG_H

#include "core/status.h"

// a: (n, n) symmetric, row-major (only read; its symmetric part is used).
// w: (n) eigenvalues, ascending. v: (n, n) or NULL; column j of v is the
// unit eigenvector of w[j], so a = v diag(w) v^T. SILT_ERR_ARG for NULL a or
// w or n < 1, SILT_ERR_NUMERIC for non-finite entries or no convergence,
// SILT_ERR_OOM; outputs untouched on failure.
silt_status silt_sym_eig(const double *a, int n, double *w, double *v);

// out: (n, n) = v diag(sqrt(max(w, 0))) v^T, the PSD square root of the
// symmetric a (eigenvalues below 0, from rounding of a PSD matrix, count as
// 0). out may be a.
silt_status silt_sym_sqrt(const double *a, int n, double *out);

#endif
