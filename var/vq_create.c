// Creating, initialising and saving a VAR VQ-VAE for training (vqvae.h).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/rng.h"
#include "var/var_ckpt.h"
#include "var/vqvae_internal.h"

var_vq_config var_vq_world_config(void) {
    var_vq_config c = {.vocab_size = 512, .z_channels = 16, .in_channels = 3, .ch = 32, .n_levels = 3,
                       .ch_mult = {1, 2, 2}, .num_res_blocks = 1, .groups = 8, .using_sa = false,
                       .using_mid_sa = false, .quant_conv_ks = 3, .quant_resi = 0.5f, .phi_share = VAR_PHI_PARTIAL,
                       .n_phi = 4, .downsample = 4, .n_scales = 6, .patch_nums = {1, 2, 3, 4, 6, 8}, .L = 130};
    return c;
}

silt_status var_vq_config_check(const var_vq_config *c) {
    if (!c) return SILT_FAIL(SILT_ERR_ARG, "var_vq: NULL config");
    if (c->vocab_size < 2 || c->vocab_size > (1 << 20)) return SILT_FAIL(SILT_ERR_ARG, "var_vq: vocab_size %d", c->vocab_size);
    if (c->z_channels < 1 || c->in_channels < 1 || c->ch < 1)
        return SILT_FAIL(SILT_ERR_ARG, "var_vq: z_channels %d, in_channels %d, ch %d must be >= 1", c->z_channels,
                         c->in_channels, c->ch);
    if (c->n_levels < 1 || c->n_levels > VAR_VQ_MAX_LEVELS || c->num_res_blocks < 1 || c->groups < 1)
        return SILT_FAIL(SILT_ERR_ARG, "var_vq: n_levels %d (1..%d), num_res_blocks %d, groups %d", c->n_levels,
                         VAR_VQ_MAX_LEVELS, c->num_res_blocks, c->groups);
    for (int i = 0; i < c->n_levels; i++)
        if (c->ch_mult[i] < 1 || (c->ch * c->ch_mult[i]) % c->groups)
            return SILT_FAIL(SILT_ERR_ARG, "var_vq: level %d width ch * ch_mult = %d is not a positive multiple of %d "
                                           "groups", i, c->ch * c->ch_mult[i], c->groups);
    if (c->quant_conv_ks < 1 || c->quant_conv_ks % 2 == 0)
        return SILT_FAIL(SILT_ERR_ARG, "var_vq: quant_conv_ks %d must be odd", c->quant_conv_ks);
    if (c->downsample != 1 << (c->n_levels - 1))
        return SILT_FAIL(SILT_ERR_ARG, "var_vq: downsample %d must be 2^(n_levels - 1) = %d", c->downsample,
                         1 << (c->n_levels - 1));
    if (c->n_scales < 2 || c->n_scales > VAR_MAX_SCALES)
        return SILT_FAIL(SILT_ERR_ARG, "var_vq: %d scales (2..%d)", c->n_scales, VAR_MAX_SCALES);
    int64_t L = 0;
    for (int k = 0; k < c->n_scales; k++) {
        if (c->patch_nums[k] < 1 || c->patch_nums[k] > 1024 || (k && c->patch_nums[k] < c->patch_nums[k - 1]))
            return SILT_FAIL(SILT_ERR_ARG, "var_vq: patch_nums[%d] = %d must lie in 1..1024 and not decrease", k,
                             c->patch_nums[k]);
        L += (int64_t)c->patch_nums[k] * c->patch_nums[k];
    }
    if (L != c->L) return SILT_FAIL(SILT_ERR_ARG, "var_vq: L %lld != sum pn^2 = %lld", (long long)c->L, (long long)L);
    bool id = c->phi_share == VAR_PHI_IDENTITY;
    if ((unsigned)c->phi_share >= VAR_PHI_SHARE_COUNT || (id != (c->n_phi == 0)) || (id != !(c->quant_resi > 1e-6f)) ||
        (c->phi_share == VAR_PHI_SHARED && c->n_phi != 1) ||
        (c->phi_share == VAR_PHI_NONSHARED && c->n_phi != c->n_scales) || c->n_phi > VAR_MAX_SCALES)
        return SILT_FAIL(SILT_ERR_ARG, "var_vq: phi sharing %s with %d phis and quant_resi %g is inconsistent",
                         var_phi_share_name(c->phi_share), c->n_phi, (double)c->quant_resi);
    return SILT_OK;
}

// Stream of parameter i's init draws (one per tensor).
#define VQ_INIT_KEY 0x76715F696E6974ull  // "vq_init"

silt_status var_vq_create(const var_vq_config *c, uint64_t seed, var_vqvae **out) {
    if (!out) return SILT_FAIL(SILT_ERR_ARG, "var_vq_create: NULL out");
    SILT_TRY(var_vq_config_check(c));
    var_vqvae *m = NULL;
    SILT_TRY(var_vq_create_empty(c, &m));
    uint64_t key = seed ^ VQ_INIT_KEY;
    for (int i = 0; i < m->n_owned; i++) {
        silt_tensor *t = m->owned[i];
        const char *name = m->owned_names[i];
        float *w = silt_f32(t);
        int64_t n = silt_numel(t);
        if (t == m->embedding) {
            silt_rng_normal(w, n, key, (uint64_t)i, 0);  // nn.Embedding: normal_(0, 1), untruncated
        } else if (t->ndim == 4) {
            // nn.Conv2d.reset_parameters: kaiming_uniform_(a = sqrt(5)) gives
            // bound 1/sqrt(fan_in); the bias (the next tensor, ld_conv order)
            // uses the same bound.
            int64_t fan_in = t->shape[1] * t->shape[2] * t->shape[3];
            double bound = 1.0 / sqrt((double)fan_in);
            var_init_uniform(w, n, bound, key, (uint64_t)i);
            if (i + 1 < m->n_owned && m->owned[i + 1]->ndim == 1) {
                i++;
                var_init_uniform(silt_f32(m->owned[i]), silt_numel(m->owned[i]), bound, key, (uint64_t)i);
            }
        } else {  // GroupNorm: weight 1, bias 0
            size_t len = strlen(name);
            float v = len > 7 && !strcmp(name + len - 7, ".weight") ? 1.0f : 0.0f;
            for (int64_t j = 0; j < n; j++) w[j] = v;
        }
    }
    *out = m;
    return SILT_OK;
}

bool var_vq_param_no_decay(const char *name, const silt_tensor *t) {
    return (t && t->ndim <= 1) || (name && strstr(name, "quantize.embedding"));
}

int var_vq_config_json(const var_vq_config *c, char *buf, size_t n) {
    int off = snprintf(buf, n, "{\"norm_num_groups\": %d, \"quant_resi\": %.9g, \"using_znorm\": false, "
                               "\"vocab_size\": %d, \"z_channels\": %d, \"ch\": %d, \"patch_nums\": [",
                       c->groups, (double)c->quant_resi, c->vocab_size, c->z_channels, c->ch);
    for (int k = 0; k < c->n_scales && off >= 0 && (size_t)off < n; k++)
        off += snprintf(buf + off, n - (size_t)off, k ? ", %d" : "%d", c->patch_nums[k]);
    if (off >= 0 && (size_t)off < n) off += snprintf(buf + off, n - (size_t)off, "]}");
    return off;
}

silt_status var_vq_save(const var_vqvae *vq, const char *path) {
    return var_vq_save_as(vq, path, (const char *const[]){"silt.kind", "world-vq", NULL});
}

silt_status var_vq_save_as(const var_vqvae *vq, const char *path, const char *const *kv) {
    if (!vq || !path || !kv) return SILT_FAIL(SILT_ERR_ARG, "var_vq_save: NULL argument");
    if (var_vq_device(vq) != SILT_CPU)
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "var_vq_save: the tokenizer is on %s; save it before var_vq_to_device",
                         silt_device_name(var_vq_device(vq)));
    char cfg[1024];
    if (var_vq_config_json(&vq->cfg, cfg, sizeof cfg) >= (int)sizeof cfg)
        return SILT_FAIL(SILT_ERR_ARG, "var_vq_save: config JSON too long");
    silt_st_writer *w = silt_st_writer_create();
    if (!w) return SILT_FAIL(SILT_ERR_OOM, "var_vq_save: out of memory");
    silt_status s = silt_st_writer_set_metadata(w, "config", cfg);
    for (int i = 0; !s && kv[i] && kv[i + 1]; i += 2) s = silt_st_writer_set_metadata(w, kv[i], kv[i + 1]);
    for (int i = 0; !s && i < vq->n_owned; i++) {
        const silt_tensor *t = vq->owned[i];
        s = silt_st_writer_add(w, vq->owned_names[i], SILT_ST_F32, t->ndim, t->shape, t->data);
    }
    if (!s) s = silt_st_writer_write(w, path);
    silt_st_writer_free(w);
    return s;
}
