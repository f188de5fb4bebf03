#include "gen/lib/world_latent.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

static bool valid(double shift, double scale) { return isfinite(shift) && isfinite(scale) && scale > 0; }

silt_status silt_world_latent_numbers(const silt_safetensors *st, double *shift, double *scale) {
    const char *keys[2] = {"silt.latent_shift", "silt.latent_scale"};
    double v[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        const char *s = silt_safetensors_metadata(st, keys[i]);
        char *end = NULL;
        if (s) v[i] = strtod(s, &end);
        if (!s || end == s || *end || !isfinite(v[i]))
            return SILT_FAIL(SILT_ERR_FORMAT, "metadata %s = '%s': expected a number", keys[i], s ? s : "(missing)");
    }
    if (!valid(v[0], v[1]))
        return SILT_FAIL(SILT_ERR_FORMAT, "metadata silt.latent_scale = %g: expected a number > 0", v[1]);
    *shift = v[0], *scale = v[1];
    return SILT_OK;
}

silt_status silt_world_latent_read(const silt_safetensors *st, silt_world_latent *out) {
    if (!st || !out) return SILT_FAIL(SILT_ERR_ARG, "silt_world_latent_read: NULL argument");
    *out = (silt_world_latent){0};
    const char *name = silt_safetensors_metadata(st, "silt.latent");
    if (name) {
        if (strcmp(name, SILT_WORLD_LATENT_NAME))
            return SILT_FAIL(SILT_ERR_UNSUPPORTED, "metadata silt.latent = '%s': the only latent is " SILT_WORLD_LATENT_NAME,
                             name);
        SILT_TRY(silt_world_latent_numbers(st, &out->shift, &out->scale));
        out->on = true;
        return SILT_OK;
    }
    const char *cfg = silt_safetensors_metadata(st, "config");
    silt_json *doc = NULL;
    if (!cfg || silt_json_parse(cfg, strlen(cfg), 16, &doc) != SILT_OK) {
        silt_error_clear();  // not this reader's business: the model loader judges the config
        return SILT_OK;
    }
    const silt_json_value *root = silt_json_root(doc), *v = silt_json_member(doc, root, "silt_latent");
    const silt_json_value *vs = silt_json_member(doc, root, "silt_latent_shift");
    const silt_json_value *vc = silt_json_member(doc, root, "silt_latent_scale");
    silt_status s = SILT_OK;
    if (v && (v->type != SILT_JSON_STRING || strcmp(v->str, SILT_WORLD_LATENT_NAME)))
        s = SILT_FAIL(SILT_ERR_UNSUPPORTED, "config silt_latent: the only latent is " SILT_WORLD_LATENT_NAME);
    else if (v && (!vs || !vc || vs->type != SILT_JSON_NUMBER || vc->type != SILT_JSON_NUMBER || !valid(vs->num, vc->num)))
        s = SILT_FAIL(SILT_ERR_FORMAT, "config silt_latent: needs numbers silt_latent_shift and silt_latent_scale > 0");
    else if (v)
        *out = (silt_world_latent){.on = true, .shift = vs->num, .scale = vc->num};
    silt_json_free(doc);
    return s;
}
