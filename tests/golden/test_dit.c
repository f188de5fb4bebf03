// DiT against the reference outputs in tests/golden (README.md cases 1-2):
// diffusers' DiTTransformer2DModel and facebookresearch/DiT (forward and
// forward_with_cfg), plus the loader's errors on broken copies of the files.
// Pass: max|silt - ref| <= 1e-4 * max|ref| per output tensor.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/graph.h"
#include "core/safetensors.h"
#include "dit/dit.h"

static char dir_[512];

static const char *path_of(const char *name, char *buf, size_t n) {
    snprintf(buf, n, "%s/tests/golden/%s", dir_, name);
    return buf;
}

static silt_safetensors *open_golden(const char *name) {
    char p[700];
    silt_safetensors *st = NULL;
    silt_status s = silt_safetensors_open(path_of(name, p, sizeof p), &st);
    CHECK_MSG(s == SILT_OK, "open %s: %s", p, silt_last_error());
    return st;
}

// An io tensor as f32 (ints converted), malloc'ed; n receives numel.
static float *io_f32(const silt_safetensors *st, const char *name, int64_t *n) {
    const silt_st_tensor *t = silt_safetensors_find(st, name);
    if (!t) { CHECK_MSG(0, "io tensor %s missing", name); return NULL; }
    int64_t k = 1;
    for (int i = 0; i < t->ndim; i++) k *= t->shape[i];
    float *d = malloc(sizeof(float) * (size_t)k);
    if (silt_safetensors_read_f32(t, d, k) != SILT_OK) { free(d); return NULL; }
    if (n) *n = k;
    return d;
}

static int32_t *io_i32(const silt_safetensors *st, const char *name) {
    int64_t n;
    float *f = io_f32(st, name, &n);
    if (!f) return NULL;
    int32_t *y = malloc(sizeof(int32_t) * (size_t)n);
    for (int64_t i = 0; i < n; i++) y[i] = (int32_t)f[i];
    free(f);
    return y;
}

// max|a - ref| / max|ref| <= 1e-4; prints the measured value.
static void compare(const char *what, const float *a, const float *ref, int64_t n) {
    double dmax = 0, rmax = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - ref[i]);
        if (!(d <= dmax)) dmax = d;  // NaN propagates
        if (fabs(ref[i]) > rmax) rmax = fabs(ref[i]);
    }
    double rel = dmax / rmax;
    printf("%-28s max|diff|/max|ref| = %.3g (tolerance 1e-4)\n", what, rel);
    CHECK_MSG(rel <= 1e-4, "%s: relative error %.3g", what, rel);
}

// Runs the model on io tensors x/t/y (names given) and returns the output copy.
static float *run(const dit_model *m, const silt_safetensors *io, const char *xn, const char *tn, const char *yn,
                  int64_t B_override, int64_t *numel) {
    int64_t nx;
    float *x = io_f32(io, xn, &nx), *t = io_f32(io, tn, NULL);
    int32_t *y = io_i32(io, yn);
    const silt_st_tensor *xt = silt_safetensors_find(io, xn);
    float *res = NULL;
    if (x && t && y && xt) {
        int64_t shape[4] = {B_override ? B_override : xt->shape[0], xt->shape[1], xt->shape[2], xt->shape[3]};
        silt_graph *g = silt_graph_create(0);
        silt_graph_set_grad(g, false);
        silt_tensor *xin = silt_graph_tensor_f32(g, 4, shape);
        memcpy(xin->data, x, silt_nbytes(xin));
        silt_tensor *out = dit_forward(g, m, xin, t, y, NULL);
        CHECK_MSG(out != NULL, "forward: %s", silt_last_error());
        if (out) {
            *numel = silt_numel(out);
            res = malloc(silt_nbytes(out));
            memcpy(res, out->data, silt_nbytes(out));
        }
        silt_graph_free(g);
    }
    free(x);
    free(t);
    free(y);
    return res;
}

static void test_diffusers(void) {
    silt_safetensors *st = open_golden("dit_diffusers.model.safetensors"), *io = open_golden("dit_diffusers.io.safetensors");
    dit_model *m = NULL;
    if (st) CHECK_OK(dit_load(st, &m));
    if (m && io) {
        const dit_config *c = dit_get_config(m);
        CHECK(c->layout == DIT_LAYOUT_DIFFUSERS && c->depth == 2 && c->hidden == 32 && c->heads == 2 &&
              c->patch == 2 && c->in_channels == 4 && c->out_channels == 8 && c->input_size == 8 &&
              c->num_classes == 10 && c->mlp_hidden == 128 && c->learn_sigma && c->guided_channels == 4);
        int64_t n = 0, nr;
        float *out = run(m, io, "x", "timestep", "class_labels", 0, &n), *ref = io_f32(io, "output", &nr);
        if (out && ref && n == nr) compare("dit_diffusers output", out, ref, n);
        else CHECK_MSG(0, "dit_diffusers: output size %lld vs %lld", (long long)n, (long long)nr);
        free(out);
        free(ref);
    }
    dit_free(m);
    silt_safetensors_close(st);
    silt_safetensors_close(io);
}

static void test_original(void) {
    silt_safetensors *st = open_golden("dit_original.model.safetensors"), *io = open_golden("dit_original.io.safetensors");
    dit_model *m = NULL;
    if (st) CHECK_OK(dit_load(st, &m));
    if (m && io) {
        const dit_config *c = dit_get_config(m);
        CHECK(c->layout == DIT_LAYOUT_ORIGINAL && c->depth == 2 && c->hidden == 32 && c->heads == 2 && c->patch == 2 &&
              c->in_channels == 4 && c->out_channels == 8 && c->input_size == 8 && c->num_classes == 10 &&
              c->mlp_hidden == 128 && c->learn_sigma && c->guided_channels == 3);
        int64_t n = 0, nr;
        float *out = run(m, io, "x", "timestep", "class_labels", 0, &n), *ref = io_f32(io, "output", &nr);
        if (out && ref && n == nr) compare("dit_original output", out, ref, n);
        else CHECK_MSG(0, "dit_original: output size %lld vs %lld", (long long)n, (long long)nr);
        free(out);
        free(ref);

        // forward_with_cfg(x_cfg, t_cfg, y_cfg, s): runs [x; x] (the first half of
        // x_cfg twice) with the given labels [y; null], then guides channels
        // 0..guided-1 only: eps = u + s (c - u) into both halves; the rest raw.
        const silt_st_tensor *xt = silt_safetensors_find(io, "x_cfg");
        int64_t nx;
        float *xc = io_f32(io, "x_cfg", &nx), *scale = io_f32(io, "cfg_scale", NULL);
        if (xt && xc && scale) {
            int64_t B = xt->shape[0], half = B / 2, per = nx / B;
            memcpy(xc + half * per, xc, sizeof(float) * (size_t)(half * per));  // [x; x] from the first half
            float *t = io_f32(io, "timestep_cfg", NULL);
            int32_t *y = io_i32(io, "class_labels_cfg");
            silt_graph *g = silt_graph_create(0);
            silt_graph_set_grad(g, false);
            silt_tensor *xin = silt_graph_tensor_f32(g, 4, xt->shape);
            memcpy(xin->data, xc, silt_nbytes(xin));
            silt_tensor *o = dit_forward(g, m, xin, t, y, NULL);
            CHECK_MSG(o != NULL, "cfg forward: %s", silt_last_error());
            float *refc = io_f32(io, "output_cfg", &nr);
            if (o && refc && silt_numel(o) == nr) {
                float *e = silt_f32(o);
                int64_t C = o->shape[1], HW = o->shape[2] * o->shape[3];
                for (int64_t b = 0; b < half; b++)
                    for (int64_t ch = 0; ch < c->guided_channels; ch++)
                        for (int64_t i = 0; i < HW; i++) {
                            float *cond = e + (b * C + ch) * HW + i, *unc = e + ((b + half) * C + ch) * HW + i;
                            float v = *unc + scale[0] * (*cond - *unc);
                            *cond = *unc = v;
                        }
                compare("dit_original output_cfg", e, refc, nr);
            }
            free(refc);
            free(t);
            free(y);
            silt_graph_free(g);
        }
        free(xc);
        free(scale);
    }
    dit_free(m);
    silt_safetensors_close(st);
    silt_safetensors_close(io);
}

// --- loader errors on broken copies ---------------------------------------------------

typedef enum { EDIT_DROP, EDIT_EXTRA, EDIT_SHAPE, EDIT_PREFIX, EDIT_SHARE } edit_kind;

// Writes a copy of `src` with one edit on tensor `name` to `out`.
static int write_edited(const silt_safetensors *src, const char *out, edit_kind kind, const char *name) {
    silt_st_writer *w = silt_st_writer_create();
    float *extra = calloc(64, sizeof(float));
    int ok = w && extra;
    for (int i = 0; ok && i < silt_safetensors_count(src); i++) {
        const silt_st_tensor *t = silt_safetensors_get(src, i);
        int64_t shape[8];
        memcpy(shape, t->shape, sizeof shape);
        if (strcmp(t->name, name) == 0) {
            if (kind == EDIT_DROP) continue;
            if (kind == EDIT_SHAPE) {
                // Same bytes, another shape: (a, b) -> (b, a); (n) -> (2, n/2).
                int nd = 2;
                if (t->ndim == 2 && t->shape[0] != t->shape[1]) { shape[0] = t->shape[1]; shape[1] = t->shape[0]; }
                else if (t->ndim == 1 && t->shape[0] % 2 == 0) { shape[0] = 2; shape[1] = t->shape[0] / 2; }
                else { CHECK_MSG(0, "no shape edit for %s", name); ok = 0; continue; }
                ok = silt_st_writer_add(w, t->name, t->dtype, nd, shape, t->data) == SILT_OK;
                continue;
            }
        }
        const void *data = t->data;
        if (kind == EDIT_SHARE && strncmp(t->name, name, strlen(name)) == 0) {
            // block 1's embedder := block 0's (as converted public checkpoints store it)
            char b0[320];
            snprintf(b0, sizeof b0, "transformer_blocks.0.%s", t->name + strlen("transformer_blocks.1."));
            const silt_st_tensor *t0 = silt_safetensors_find(src, b0);
            CHECK(t0 != NULL);
            if (t0) data = t0->data;
        }
        char pre[320];
        snprintf(pre, sizeof pre, "%s%s", kind == EDIT_PREFIX ? name : "", t->name);
        ok = silt_st_writer_add(w, pre, t->dtype, t->ndim, shape, data) == SILT_OK;
    }
    if (ok && kind == EDIT_EXTRA) ok = silt_st_writer_add(w, name, SILT_ST_F32, 1, (const int64_t[]){64}, extra) == SILT_OK;
    const char *cfg = silt_safetensors_metadata(src, "config");
    if (ok && cfg) ok = silt_st_writer_set_metadata(w, "config", cfg) == SILT_OK;
    if (ok) ok = silt_st_writer_write(w, out) == SILT_OK;
    silt_st_writer_free(w);
    free(extra);
    CHECK_MSG(ok, "writing %s: %s", out, silt_last_error());
    return ok;
}

static void expect_load_error(const char *model, edit_kind kind, const char *name, const char *want) {
    silt_safetensors *src = open_golden(model);
    if (!src) return;
    char out[128];
    snprintf(out, sizeof out, "/tmp/silt_test_dit_%d.safetensors", (int)getpid());
    if (write_edited(src, out, kind, name)) {
        silt_safetensors *st = NULL;
        dit_model *m = NULL;
        CHECK_OK(silt_safetensors_open(out, &st));
        silt_status s = st ? dit_load(st, &m) : SILT_OK;
        const char *msg = silt_last_error_message();
        CHECK_MSG(s != SILT_OK && m == NULL, "%s with %s '%s' loaded", model,
                  kind == EDIT_DROP ? "dropped" : kind == EDIT_EXTRA ? "extra" : "reshaped", name);
        CHECK_MSG(s != SILT_OK && strstr(msg, want) && strstr(msg, name), "%s: error '%s' should name '%s' and say '%s'",
                  model, msg, name, want);
        if (s != SILT_OK) printf("  expected error: %s\n", msg);
        dit_free(m);
        silt_safetensors_close(st);
        remove(out);
    }
    silt_safetensors_close(src);
}

// The single-file prefix "model.diffusion_model." loads and runs the same.
static void test_prefix(const char *model, const char *io_name) {
    silt_safetensors *src = open_golden(model), *io = open_golden(io_name), *st = NULL;
    char out[128];
    snprintf(out, sizeof out, "/tmp/silt_test_dit_prefix_%d.safetensors", (int)getpid());
    dit_model *m = NULL;
    if (src && io && write_edited(src, out, EDIT_PREFIX, "model.diffusion_model.")) {
        CHECK_OK(silt_safetensors_open(out, &st));
        if (st) CHECK_OK(dit_load(st, &m));
        if (m) {
            int64_t n = 0, nr;
            float *o = run(m, io, "x", "timestep", "class_labels", 0, &n), *ref = io_f32(io, "output", &nr);
            char what[96];
            snprintf(what, sizeof what, "%s (prefixed)", io_name);
            if (o && ref && n == nr) compare(what, o, ref, n);
            free(o);
            free(ref);
        }
        remove(out);
    }
    dit_free(m);
    silt_safetensors_close(st);
    silt_safetensors_close(src);
    silt_safetensors_close(io);
}

// Identical per-block embedders (real diffusers checkpoints) are held once.
static void test_shared_embedder(void) {
    silt_safetensors *src = open_golden("dit_diffusers.model.safetensors"), *st = NULL;
    char out[128];
    snprintf(out, sizeof out, "/tmp/silt_test_dit_share_%d.safetensors", (int)getpid());
    dit_model *m = NULL, *m0 = NULL;
    if (src && write_edited(src, out, EDIT_SHARE, "transformer_blocks.1.norm1.emb.")) {
        CHECK_OK(silt_safetensors_open(out, &st));
        if (st) CHECK_OK(dit_load(st, &m));
        CHECK_OK(dit_load(src, &m0));
        if (m && m0) CHECK_MSG(dit_param_count(m) == dit_param_count(m0) - 5, "params %d (shared) vs %d",
                               dit_param_count(m), dit_param_count(m0));
        remove(out);
    }
    dit_free(m);
    dit_free(m0);
    silt_safetensors_close(st);
    silt_safetensors_close(src);
}

static void test_loader_errors(void) {
    expect_load_error("dit_original.model.safetensors", EDIT_DROP, "blocks.1.mlp.fc2.bias", "missing tensor");
    expect_load_error("dit_original.model.safetensors", EDIT_EXTRA, "blocks.0.attn.extra.weight", "unexpected tensor");
    expect_load_error("dit_original.model.safetensors", EDIT_SHAPE, "blocks.1.mlp.fc1.weight", "has shape");
    expect_load_error("dit_original.model.safetensors", EDIT_DROP, "pos_embed", "missing tensor");
    expect_load_error("dit_diffusers.model.safetensors", EDIT_DROP,
                      "transformer_blocks.1.norm1.emb.class_embedder.embedding_table.weight", "missing tensor");
    expect_load_error("dit_diffusers.model.safetensors", EDIT_EXTRA, "proj_out_3.weight", "unexpected tensor");
    expect_load_error("dit_diffusers.model.safetensors", EDIT_SHAPE, "transformer_blocks.0.attn1.to_k.bias", "has shape");
    expect_load_error("dit_diffusers.model.safetensors", EDIT_SHAPE, "transformer_blocks.1.ff.net.2.weight", "has shape");
}

int main(void) {
    const char *d = getenv("SILT_SOURCE_DIR");
    snprintf(dir_, sizeof dir_, "%s", d ? d : ".");
    test_diffusers();
    test_original();
    test_prefix("dit_original.model.safetensors", "dit_original.io.safetensors");
    test_prefix("dit_diffusers.model.safetensors", "dit_diffusers.io.safetensors");
    test_shared_embedder();
    test_loader_errors();
    return check_summary();
}
