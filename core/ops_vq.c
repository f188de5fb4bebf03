#include "core/ops_vq.h"

#include <math.h>

// Below this many multiply-adds an OpenMP region costs more than it saves.
#define VQ_PAR_MIN 65536

void vq_nearest_cpu(int32_t *idx, const float *z, const float *codebook, int64_t N, int64_t V, int64_t C) {
#pragma omp parallel for if (N * V * C > VQ_PAR_MIN)
    for (int64_t i = 0; i < N; i++) {
        const float *zi = z + i * C;
        double best = INFINITY;
        int32_t arg = V > 0 ? 0 : -1;
        for (int64_t j = 0; j < V; j++) {
            const float *e = codebook + j * C;
            double d = 0;
            for (int64_t c = 0; c < C; c++) {
                double t = (double)zi[c] - (double)e[c];
                d += t * t;
            }
            if (d < best) {  // strict: ties keep the lower j; NaN never wins
                best = d;
                arg = (int32_t)j;
            }
        }
        idx[i] = arg;
    }
}
