// VAR's raw kernels (var/var_ops.h).
#include "var/var_ops.h"

#include <math.h>
#include <string.h>

void var_kv_append_fwd_cpu(float *all, float *cache, const float *x, int64_t RH, int64_t cap, int64_t len, int64_t T,
                           int64_t D) {
    for (int64_t rh = 0; rh < RH; rh++) {
        float *c = cache + rh * cap * D;
        memcpy(c + len * D, x + rh * T * D, (size_t)(T * D) * sizeof(float));
        memcpy(all + rh * (len + T) * D, c, (size_t)((len + T) * D) * sizeof(float));
    }
}

void var_clamp_exp_fwd_cpu(float *out, const float *x, float max, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = expf(fminf(x[i], max));
}

void var_clamp_exp_bwd_cpu(float *dx, const float *dout, const float *x, const float *out, float max, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (x[i] <= max) dx[i] += dout[i] * out[i];
}

void var_ce_fwd_cpu(float *out, double *acc, float *prob, double *rows, const float *logits, const int32_t *targets,
                    int64_t N, int64_t V) {
#pragma omp parallel for if (N * V > 100000)
    for (int64_t i = 0; i < N; i++) {
        const float *x = logits + i * V;
        double mx = -INFINITY, sum = 0;
        int64_t arg = 0;
        for (int64_t v = 0; v < V; v++)
            if (x[v] > mx) { mx = x[v]; arg = v; }
        for (int64_t v = 0; v < V; v++) sum += exp((double)x[v] - mx);
        for (int64_t v = 0; v < V; v++) prob[i * V + v] = (float)(exp((double)x[v] - mx) / sum);
        rows[i] = mx + log(sum) - (double)x[targets[i]];
        rows[N + i] = arg == targets[i] ? 1.0 : 0.0;
    }
    // Row order, one thread: the sum does not depend on the thread count.
    double loss = 0, hits = 0;
    for (int64_t i = 0; i < N; i++) loss += rows[i];
    for (int64_t i = 0; i < N; i++) hits += rows[N + i];
    out[0] = (float)(loss / (double)N);
    if (acc) acc[0] = hits / (double)N;
}

void var_ce_bwd_cpu(float *dlogits, const float *dout, const float *prob, const int32_t *targets, int64_t N, int64_t V) {
    const double s = (double)dout[0] / (double)N;
#pragma omp parallel for if (N * V > 100000)
    for (int64_t i = 0; i < N; i++) {
        for (int64_t v = 0; v < V; v++) dlogits[i * V + v] += (float)(s * prob[i * V + v]);
        dlogits[i * V + targets[i]] -= (float)s;
    }
}
