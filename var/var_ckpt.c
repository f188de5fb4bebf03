// Trainer-checkpoint helpers and random init shared by var/ (var_ckpt.h).
#include "var/var_ckpt.h"

#include <stdio.h>
#include <string.h>

#include "core/rng.h"

bool var_is_train_checkpoint(const silt_safetensors *st) {
    const char *f = st ? silt_safetensors_metadata(st, "format") : NULL;
    return f && !strcmp(f, "silt-train-checkpoint");
}

void var_skip_adam(silt_weights *wl, const char *name) {
    char nm[320];
    snprintf(nm, sizeof nm, "adam_m.%s", name);
    silt_weights_skip(wl, nm);
    snprintf(nm, sizeof nm, "adam_v.%s", name);
    silt_weights_skip(wl, nm);
}

void var_init_normal(float *w, int64_t n, double std, uint64_t seed, uint64_t stream) {
    silt_rng_normal(w, n, seed, stream, 0);
    for (int64_t i = 0; i < n; i++) {
        double v = w[i] * std;
        w[i] = (float)(v < -2 ? -2 : v > 2 ? 2 : v);
    }
}

void var_init_uniform(float *w, int64_t n, double bound, uint64_t seed, uint64_t stream) {
    silt_rng_uniform(w, n, seed, stream, 0);
    for (int64_t i = 0; i < n; i++) w[i] = (float)((2.0 * w[i] - 1.0) * bound);
}
