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
