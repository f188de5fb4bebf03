// Tiny random world MMDiT for tests (world_test_model.h).
#include "gen/lib/world_test_model.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/rng.h"
#include "dit/mmdit.h"

silt_world_test_model_params silt_world_test_model_default_params(void) {
    return (silt_world_test_model_params){.joint_dim = 64, .pooled_dim = 64, .seed = 0, .steps = 4, .shift = 3.0, .cfg = 4.0};
}

silt_status silt_world_test_model_write(const silt_world_test_model_params *p, const char *path) {
    if (!p || !path) return SILT_FAIL(SILT_ERR_ARG, "world test model: NULL argument");
    mmdit_config c = {.layout = MMDIT_LAYOUT_DIFFUSERS, .depth = 2, .heads = 2, .head_dim = 8, .hidden = 16, .patch = 2,
                      .in_channels = 3, .out_channels = 3, .joint_dim = p->joint_dim, .pooled_dim = p->pooled_dim,
                      .pos_max = 16};
    mmdit_model *m = NULL;
    SILT_TRY(mmdit_create(&c, p->seed, &m));
    for (int i = 0; i < mmdit_param_count(m); i++) {
        silt_tensor *t = mmdit_param(m, i, NULL, NULL);
        int64_t n = silt_numel(t);
        float *d = silt_f32(t);
        float *z = malloc(sizeof(float) * (size_t)n);
        if (!z) { mmdit_free(m); return SILT_FAIL(SILT_ERR_OOM, "world test model: out of memory"); }
        silt_rng_normal(z, n, p->seed + 1, (uint64_t)i, 0);
        for (int64_t k = 0; k < n; k++) d[k] += 0.05f * z[k];
        free(z);
    }
    char steps[32], shift[32], cfg[32], train[160];
    snprintf(steps, sizeof steps, "%d", p->steps);
    snprintf(shift, sizeof shift, "%g", p->shift);
    snprintf(cfg, sizeof cfg, "%g", p->cfg);
    snprintf(train, sizeof train, "{\"untrained\": true, \"seed\": %llu, \"note\": \"tiny random test model\"}",
             (unsigned long long)p->seed);
    const char *meta[] = {"silt.kind", "world-mmdit", "silt.text_encoder", "world-clip", "silt.sampler", "flow_euler",
                          "silt.steps", steps, "silt.shift", shift, "silt.cfg", cfg, "silt.train", train, NULL};
    silt_status s = mmdit_save(m, path, meta);
    mmdit_free(m);
    return s;
}
