// Cyclic Jacobi eigen-decomposition (linalg.h).
#include "core/linalg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JACOBI_MAX_SWEEPS 100

silt_status silt_sym_eig(const double *a, int n, double *w, double *v) {
    if (!a || !w || n < 1) return SILT_FAIL(SILT_ERR_ARG, "silt_sym_eig: NULL argument or n %d < 1", n);
    const size_t nn = (size_t)n * (size_t)n;
    double *A = malloc(sizeof(double) * nn), *V = malloc(sizeof(double) * nn);
    if (!A || !V) {
        free(A);
        free(V);
        return SILT_FAIL(SILT_ERR_OOM, "silt_sym_eig: out of memory (n %d)", n);
    }
    double norm2 = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double x = 0.5 * (a[(size_t)i * n + j] + a[(size_t)j * n + i]);
            A[(size_t)i * n + j] = x;
            V[(size_t)i * n + j] = i == j;
            norm2 += x * x;
        }
    silt_status s = SILT_OK;
    if (!isfinite(norm2)) { s = SILT_FAIL(SILT_ERR_NUMERIC, "silt_sym_eig: non-finite entries"); goto done; }
    int sweep = 0;
    for (; sweep < JACOBI_MAX_SWEEPS; sweep++) {
        double off = 0;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) off += A[(size_t)p * n + q] * A[(size_t)p * n + q];
        // Converged when the off-diagonal mass is at rounding level of the whole.
        if (off <= 1e-30 * norm2 || off == 0) break;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                double apq = A[(size_t)p * n + q];
                if (apq == 0) continue;
                // Rotation J = [[c, s], [-s, c]] in the (p, q) plane zeroing
                // a_pq: t = tan(angle) the smaller root of t^2 + 2 theta t - 1 = 0
                // (G&VL Alg. 8.5.1, symSchur2).
                double theta = (A[(size_t)q * n + q] - A[(size_t)p * n + p]) / (2 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), sn = t * c;
                for (int k = 0; k < n; k++) {  // A <- A J (columns p, q)
                    double akp = A[(size_t)k * n + p], akq = A[(size_t)k * n + q];
                    A[(size_t)k * n + p] = c * akp - sn * akq;
                    A[(size_t)k * n + q] = sn * akp + c * akq;
                }
                for (int k = 0; k < n; k++) {  // A <- J^T A (rows p, q)
                    double apk = A[(size_t)p * n + k], aqk = A[(size_t)q * n + k];
                    A[(size_t)p * n + k] = c * apk - sn * aqk;
                    A[(size_t)q * n + k] = sn * apk + c * aqk;
                }
                A[(size_t)p * n + q] = A[(size_t)q * n + p] = 0;
                for (int k = 0; k < n; k++) {  // V <- V J
                    double vkp = V[(size_t)k * n + p], vkq = V[(size_t)k * n + q];
                    V[(size_t)k * n + p] = c * vkp - sn * vkq;
                    V[(size_t)k * n + q] = sn * vkp + c * vkq;
                }
            }
    }
    if (sweep == JACOBI_MAX_SWEEPS) { s = SILT_FAIL(SILT_ERR_NUMERIC, "silt_sym_eig: no convergence in %d sweeps", sweep); goto done; }
    // Sort ascending (selection sort on the diagonal, columns of V follow).
    for (int i = 0; i < n; i++) {
        int m = i;
        for (int j = i + 1; j < n; j++)
            if (A[(size_t)j * n + j] < A[(size_t)m * n + m]) m = j;
        if (m != i) {
            double d = A[(size_t)i * n + i];
            A[(size_t)i * n + i] = A[(size_t)m * n + m];
            A[(size_t)m * n + m] = d;
            for (int k = 0; k < n; k++) {
                double x = V[(size_t)k * n + i];
                V[(size_t)k * n + i] = V[(size_t)k * n + m];
                V[(size_t)k * n + m] = x;
            }
        }
    }
    for (int i = 0; i < n; i++) w[i] = A[(size_t)i * n + i];
    if (v) memcpy(v, V, sizeof(double) * nn);
done:
    free(A);
    free(V);
    return s;
}

silt_status silt_sym_sqrt(const double *a, int n, double *out) {
    if (!a || !out || n < 1) return SILT_FAIL(SILT_ERR_ARG, "silt_sym_sqrt: NULL argument or n %d < 1", n);
    double *w = malloc(sizeof(double) * (size_t)n), *v = malloc(sizeof(double) * (size_t)n * (size_t)n);
    silt_status s = w && v ? silt_sym_eig(a, n, w, v) : SILT_FAIL(SILT_ERR_OOM, "silt_sym_sqrt: out of memory");
    if (s == SILT_OK) {
        for (int j = 0; j < n; j++) w[j] = sqrt(w[j] > 0 ? w[j] : 0);
        for (int i = 0; i < n; i++)
            for (int k = i; k < n; k++) {
                double acc = 0;
                for (int j = 0; j < n; j++) acc += v[(size_t)i * n + j] * w[j] * v[(size_t)k * n + j];
                out[(size_t)i * n + k] = out[(size_t)k * n + i] = acc;
            }
    }
    free(w);
    free(v);
    return s;
}
