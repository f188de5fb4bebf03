// Golden parity of the AutoencoderKL (unet/vae.h) against diffusers 0.42.1
// (tests/golden/README.md cases 6, 6b, 7), plus the loader's layouts, prefixes
// and error messages on deliberately broken copies of the golden files, and
// finite-difference gradients of encode and decode.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/ops_elementwise.h"
#include "core/safetensors.h"
#include "gradcheck.h"
#include "unet/vae.h"

#define GOLDEN "tests/golden/"

static char tmpdir[64];

// max|a - ref| <= 1e-4 * max|ref| (README's suggested comparison).
static double worst_share;  // largest (max err / (1e-4 max|ref|)) seen
static void check_tensor(const char *what, const silt_tensor *got, const silt_st_tensor *ref) {
    CHECK_MSG(got != NULL, "%s: no output (%s)", what, silt_last_error());
    if (!got || !ref) return;
    bool same = got->ndim == ref->ndim;
    for (int i = 0; same && i < got->ndim; i++) same = got->shape[i] == ref->shape[i];
    CHECK_MSG(same, "%s: shape mismatch", what);
    if (!same) return;
    int64_t n = silt_numel(got);
    float *r = malloc((size_t)n * sizeof(float));
    CHECK_OK(silt_safetensors_read_f32(ref, r, n));
    double max_ref = 0, max_err = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)silt_f32(got)[i] - r[i]);
        if (!(d <= max_err)) max_err = d;  // NaN sticks
        if (fabs(r[i]) > max_ref) max_ref = fabs(r[i]);
    }
    double tol = 1e-4 * max_ref, share = max_err / tol;
    if (share > worst_share || isnan(share)) worst_share = share;
    printf("  %-16s max_err %.3g  max|ref| %.3g  (%.1f%% of tol)\n", what, max_err, max_ref, 100 * share);
    CHECK_MSG(max_err <= tol, "%s: max_err %.3g > %.3g", what, max_err, tol);
    free(r);
}

static silt_tensor *io_input(silt_graph *g, const silt_safetensors *io, const char *name, bool requires_grad) {
    const silt_st_tensor *t = silt_safetensors_find(io, name);
    if (!t || t->ndim != 4) { CHECK_MSG(0, "io tensor %s missing", name); return NULL; }
    silt_tensor *x = g ? silt_graph_tensor_f32(g, 4, t->shape) : silt_tensor_create_f32(4, t->shape, requires_grad);
    if (x) CHECK_OK(silt_safetensors_read_f32(t, silt_f32(x), silt_numel(x)));
    return x;
}

// Encode image, image_rect and decode latent, latent_rect; compare all six outputs.
static void run_io(const vae_model *m, const char *io_path, const char *label) {
    silt_safetensors *io = NULL;
    CHECK_OK(silt_safetensors_open(io_path, &io));
    if (!io) return;
    silt_graph *g = silt_graph_create(0);
    silt_graph_set_grad(g, false);
    static const char *sfx[2] = {"", "_rect"};
    for (int r = 0; r < 2; r++) {
        char in[32], mean[32], logvar[32], lat[32], dec[32], what[64];
        snprintf(in, sizeof in, "image%s", sfx[r]);
        snprintf(mean, sizeof mean, "mean%s", sfx[r]);
        snprintf(logvar, sizeof logvar, "logvar%s", sfx[r]);
        snprintf(lat, sizeof lat, "latent%s", sfx[r]);
        snprintf(dec, sizeof dec, "decoded%s", sfx[r]);
        silt_tensor *lv = NULL;
        silt_tensor *mu = vae_encode(g, m, io_input(g, io, in, false), &lv);
        snprintf(what, sizeof what, "%s %s", label, mean);
        check_tensor(what, mu, silt_safetensors_find(io, mean));
        snprintf(what, sizeof what, "%s %s", label, logvar);
        check_tensor(what, lv, silt_safetensors_find(io, logvar));
        silt_tensor *x = vae_decode(g, m, io_input(g, io, lat, false));
        snprintf(what, sizeof what, "%s %s", label, dec);
        check_tensor(what, x, silt_safetensors_find(io, dec));
    }
    CHECK_OK(silt_graph_status(g));
    silt_graph_free(g);
    silt_safetensors_close(io);
}

static vae_model *load_path(const char *path) {
    silt_safetensors *st = NULL;
    vae_model *m = NULL;
    CHECK_OK(silt_safetensors_open(path, &st));
    if (st) CHECK_OK(vae_load(st, &m));
    silt_safetensors_close(st);  // the model owns copies of its weights
    return m;
}

static void test_golden(void) {
    static const struct {
        const char *name;
        vae_layout layout;
        int z;
        bool quant;
        float scale, shift;
    } cases[3] = {
        {"vae_sd", VAE_LAYOUT_DIFFUSERS, 4, true, 0.18215f, 0.0f},
        {"vae_sd_original", VAE_LAYOUT_ORIGINAL, 4, true, 0.18215f, 0.0f},
        {"vae_sd3", VAE_LAYOUT_DIFFUSERS, 16, false, 1.5305f, 0.0609f},
    };
    for (int i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof path, GOLDEN "%s.model.safetensors", cases[i].name);
        printf("%s\n", cases[i].name);
        vae_model *m = load_path(path);
        if (!m) continue;
        const vae_config *c = vae_get_config(m);
        CHECK(c->layout == cases[i].layout && c->in_channels == 3 && c->latent_channels == cases[i].z);
        CHECK(c->n_blocks == 2 && c->block_out[0] == 8 && c->block_out[1] == 16 && c->layers_per_block == 1);
        CHECK(c->groups == 4 && c->downscale == 2 && c->has_encoder && c->has_decoder);
        CHECK(c->quant_conv == cases[i].quant && c->post_quant_conv == cases[i].quant);
        CHECK(c->scaling_factor == cases[i].scale && c->shift_factor == cases[i].shift);
        CHECK(!strcmp(vae_get_prefix(m), ""));
        snprintf(path, sizeof path, GOLDEN "%s.io.safetensors", cases[i].name);
        run_io(m, path, cases[i].name);
        // Latent helpers: (z - shift) * scale and back.
        float z[3] = {1.0f, -0.5f, 0.25f}, z0[3];
        memcpy(z0, z, sizeof z);
        vae_scale_latent(m, z, 3);
        CHECK(fabsf(z[1] - (-0.5f - cases[i].shift) * cases[i].scale) < 1e-6f);
        vae_unscale_latent(m, z, 3);
        CHECK_CLOSE("latent scale round trip", z, z0, 3, 1e-6, 1e-6);
        CHECK(vae_set_scaling(m, 0.0f, 0.0f) == SILT_ERR_ARG && c->scaling_factor == cases[i].scale);
        CHECK_OK(vae_set_scaling(m, 0.5f, 0.25f));
        z[0] = 1.0f;
        vae_scale_latent(m, z, 1);
        CHECK(c->scaling_factor == 0.5f && z[0] == 0.375f);
        vae_free(m);
    }
}

// --- rewritten copies of the golden files --------------------------------------------

typedef struct edit {
    const char *prefix;       // prepended to every tensor name
    const char *drop;         // tensor left out
    const char *extra;        // tensor added (a copy of the first tensor's data and shape)
    const char *reshape;      // tensor whose shape is replaced by reshape_to (same numel)
    int reshape_ndim;
    int64_t reshape_to[4];
    const char *rename_from[5], *rename_to[5];  // substring replacements in names
    bool drop_metadata;
    const char *foreign;      // a tensor added outside the prefix
} edit;

static void replace_sub(char *name, size_t n, const char *from, const char *to) {
    char *p = strstr(name, from);
    if (!p) return;
    char tail[256];
    snprintf(tail, sizeof tail, "%s", p + strlen(from));
    snprintf(p, n - (size_t)(p - name), "%s%s", to, tail);
}

// Writes src with the edits to tmpdir/out and returns it opened.
static silt_safetensors *rewrite(const char *src, const char *out, const edit *e) {
    silt_safetensors *in = NULL, *res = NULL;
    if (silt_safetensors_open(src, &in) != SILT_OK) { CHECK_MSG(0, "open %s: %s", src, silt_last_error()); return NULL; }
    silt_st_writer *w = silt_st_writer_create();
    for (int i = 0; i < silt_safetensors_count(in); i++) {
        const silt_st_tensor *t = silt_safetensors_get(in, i);
        if (e->drop && !strcmp(t->name, e->drop)) continue;
        char name[256];
        snprintf(name, sizeof name, "%s%s", e->prefix ? e->prefix : "", t->name);
        for (int r = 0; r < 5 && e->rename_from[r]; r++) replace_sub(name, sizeof name, e->rename_from[r], e->rename_to[r]);
        bool rs = e->reshape && !strcmp(t->name, e->reshape);
        CHECK_OK(silt_st_writer_add(w, name, t->dtype, rs ? e->reshape_ndim : t->ndim, rs ? e->reshape_to : t->shape,
                                    t->data));
        if (i == 0 && e->extra) CHECK_OK(silt_st_writer_add(w, e->extra, t->dtype, t->ndim, t->shape, t->data));
        if (i == 0 && e->foreign) CHECK_OK(silt_st_writer_add(w, e->foreign, t->dtype, t->ndim, t->shape, t->data));
    }
    for (int i = 0; !e->drop_metadata && i < silt_safetensors_metadata_count(in); i++) {
        const char *k, *v;
        if (silt_safetensors_metadata_at(in, i, &k, &v) == SILT_OK) CHECK_OK(silt_st_writer_set_metadata(w, k, v));
    }
    char path[128];
    snprintf(path, sizeof path, "%s/%s", tmpdir, out);
    CHECK_OK(silt_st_writer_write(w, path));
    silt_st_writer_free(w);
    silt_safetensors_close(in);
    CHECK_OK(silt_safetensors_open(path, &res));
    unlink(path);  // the reader holds the contents (mmap or copy)
    return res;
}

// Loads an edited copy; expect_ok or an error whose message contains `needle`.
static vae_model *load_edit(const char *src, const edit *e, silt_status expect, const char *needle) {
    silt_safetensors *st = rewrite(src, "edit.safetensors", e);
    if (!st) return NULL;
    vae_model *m = NULL;
    silt_status s = vae_load(st, &m);
    silt_safetensors_close(st);
    if (expect == SILT_OK) {
        CHECK_MSG(s == SILT_OK && m, "load of edited %s failed: %s", src, silt_last_error());
    } else {
        CHECK_MSG(s == expect && !m, "edited %s: expected %s, got %s (%s)", src, silt_status_name(expect),
                  silt_status_name(s), silt_last_error());
        CHECK_MSG(strstr(silt_last_error(), needle), "error should mention '%s': %s", needle, silt_last_error());
        if (s != SILT_OK) printf("  expected error: %s\n", silt_last_error_message());
    }
    return m;
}

static void test_layouts(void) {
    const char *orig = GOLDEN "vae_sd_original.model.safetensors", *dif = GOLDEN "vae_sd.model.safetensors";
    const char *io = GOLDEN "vae_sd.io.safetensors";
    // LDM keys inside an SD single file, with the UNet's keys beside them.
    edit e1 = {.prefix = "first_stage_model.", .foreign = "model.diffusion_model.input_blocks.0.0.weight"};
    vae_model *m = load_edit(orig, &e1, SILT_OK, NULL);
    if (m) {
        CHECK(!strcmp(vae_get_prefix(m), "first_stage_model.") && vae_get_config(m)->layout == VAE_LAYOUT_ORIGINAL);
        run_io(m, io, "first_stage_model.");
        vae_free(m);
    }
    edit e2 = {.prefix = "vae.", .foreign = "text_encoders.clip_l.x"};
    m = load_edit(dif, &e2, SILT_OK, NULL);
    if (m) { CHECK(!strcmp(vae_get_prefix(m), "vae.")); run_io(m, io, "vae. diffusers"); vae_free(m); }
    // Pre-0.14 diffusers attention names, and LDM-style 1x1 conv weights in a diffusers file.
    edit e3 = {.rename_from = {".to_q.", ".to_k.", ".to_v.", ".to_out.0."},
               .rename_to = {".query.", ".key.", ".value.", ".proj_attn."}};
    m = load_edit(dif, &e3, SILT_OK, NULL);
    if (m) { run_io(m, io, "old attn names"); vae_free(m); }
    edit e4 = {.reshape = "decoder.mid_block.attentions.0.to_v.weight", .reshape_ndim = 4, .reshape_to = {16, 16, 1, 1}};
    m = load_edit(dif, &e4, SILT_OK, NULL);
    if (m) { run_io(m, io, "to_v as 1x1 conv"); vae_free(m); }
    // Decoder only (what a txt2img pipeline needs), the encoder moved out of the prefix.
    edit e5 = {.prefix = "vae.", .rename_from = {"vae.encoder.", "vae.quant_conv."}, .rename_to = {"x.encoder.", "x.qc."}};
    m = load_edit(dif, &e5, SILT_OK, NULL);
    if (m) {
        const vae_config *c = vae_get_config(m);
        CHECK(!c->has_encoder && c->has_decoder && !c->quant_conv && c->post_quant_conv && c->layers_per_block == 1);
        CHECK(c->n_blocks == 2 && c->block_out[0] == 8 && c->block_out[1] == 16 && c->latent_channels == 4);
        silt_safetensors *ios = NULL;
        CHECK_OK(silt_safetensors_open(io, &ios));
        silt_graph *g = silt_graph_create(0);
        check_tensor("decoder-only decoded", vae_decode(g, m, io_input(g, ios, "latent", false)),
                     silt_safetensors_find(ios, "decoded"));
        CHECK(vae_encode(g, m, io_input(g, ios, "image", false), NULL) == NULL &&
              silt_graph_status(g) == SILT_ERR_UNSUPPORTED);
        silt_graph_free(g);
        silt_safetensors_close(ios);
        vae_free(m);
    }
}

static void test_errors(void) {
    const char *dif = GOLDEN "vae_sd.model.safetensors", *orig = GOLDEN "vae_sd_original.model.safetensors";
    edit miss = {.drop = "decoder.up_blocks.1.resnets.0.conv_shortcut.weight"};
    vae_free(load_edit(dif, &miss, SILT_ERR_FORMAT, "decoder.up_blocks.1.resnets.0.conv_shortcut.weight"));
    edit miss2 = {.drop = "decoder.mid.attn_1.proj_out.bias", .prefix = "first_stage_model."};
    vae_free(load_edit(orig, &miss2, SILT_ERR_FORMAT, "first_stage_model.decoder.mid.attn_1.proj_out.bias"));
    edit miss3 = {.drop = "post_quant_conv.bias"};
    vae_free(load_edit(dif, &miss3, SILT_ERR_FORMAT, "post_quant_conv.bias"));
    edit extra = {.extra = "decoder.up_blocks.1.resnets.2.conv9.weight"};
    vae_free(load_edit(dif, &extra, SILT_ERR_FORMAT, "decoder.up_blocks.1.resnets.2.conv9.weight"));
    edit shape = {.reshape = "encoder.mid_block.attentions.0.to_k.weight", .reshape_ndim = 2, .reshape_to = {8, 32}};
    vae_free(load_edit(dif, &shape, SILT_ERR_SHAPE, "encoder.mid_block.attentions.0.to_k.weight"));
    edit shape2 = {.reshape = "decoder.up.0.block.1.conv2.weight", .reshape_ndim = 4, .reshape_to = {8, 8, 1, 9}};
    vae_free(load_edit(orig, &shape2, SILT_ERR_SHAPE, "decoder.up.0.block.1.conv2.weight"));
    // Without the config metadata, GroupNorm(32) cannot apply to 8 channels.
    edit nometa = {.drop_metadata = true};
    vae_free(load_edit(dif, &nometa, SILT_ERR_FORMAT, "norm_num_groups"));
    // Not a VAE at all.
    const char *others[2] = {GOLDEN "dit_diffusers.model.safetensors", GOLDEN "mmdit_original.model.safetensors"};
    for (int i = 0; i < 2; i++) {
        silt_safetensors *st = NULL;
        vae_model *m = NULL;
        CHECK_OK(silt_safetensors_open(others[i], &st));
        silt_status s = vae_load(st, &m);
        CHECK(s == SILT_ERR_FORMAT && !m && strstr(silt_last_error(), "not an AutoencoderKL"));
        printf("  %s: %s\n", others[i], silt_last_error_message());
        silt_safetensors_close(st);
    }

    // Bad inputs to the forward passes.
    vae_model *m = load_path(dif);
    if (!m) return;
    silt_graph *g = silt_graph_create(0);
    silt_graph_set_grad(g, false);
    CHECK(vae_decode(g, m, silt_graph_new(g, 1, 16, 4, 4)) == NULL && silt_graph_status(g) == SILT_ERR_SHAPE);
    CHECK(strstr(silt_last_error(), "4 channels") && strstr(silt_last_error(), "(1, 16, 4, 4)"));
    printf("  %s\n", silt_last_error_message());
    silt_graph_reset(g);
    silt_graph_set_grad(g, false);
    silt_tensor *lv = (silt_tensor *)1;
    CHECK(vae_encode(g, m, silt_graph_new(g, 1, 3, 10, 7), &lv) == NULL && lv == NULL);
    CHECK(silt_graph_status(g) == SILT_ERR_SHAPE && strstr(silt_last_error(), "width 7"));
    printf("  %s\n", silt_last_error_message());
    silt_graph_reset(g);
    CHECK(vae_encode(g, m, silt_graph_new(g, 1, 4, 8, 8), NULL) == NULL && silt_graph_status(g) == SILT_ERR_SHAPE);
    silt_graph_free(g);
    vae_free(m);
}

// --- gradients -------------------------------------------------------------------------

static silt_tensor *f_decode(silt_graph *g, silt_tensor **in, void *user) { return vae_decode(g, user, in[0]); }
static silt_tensor *f_encode(silt_graph *g, silt_tensor **in, void *user) {
    silt_tensor *lv = NULL;
    silt_tensor *mu = vae_encode(g, user, in[0], &lv);
    return silt_add(g, mu, silt_scale(g, lv, 0.5f));  // both outputs in one loss
}

static void test_grad(void) {
    vae_model *m = load_path(GOLDEN "vae_sd.model.safetensors");
    if (!m) return;
    // The in-place (no grad) and taped paths give the same numbers.
    silt_tensor *z = silt_tensor_create_f32(4, (int64_t[]){2, 4, 3, 5}, true);
    silt_tensor *img = silt_tensor_create_f32(4, (int64_t[]){1, 3, 6, 4}, true);
    test_seed(7);
    for (int64_t i = 0; i < silt_numel(z); i++) silt_f32(z)[i] = (float)(2 * test_uniform() - 1);
    for (int64_t i = 0; i < silt_numel(img); i++) silt_f32(img)[i] = (float)(2 * test_uniform() - 1);
    silt_graph *g1 = silt_graph_create(0), *g2 = silt_graph_create(0);
    silt_graph_set_grad(g1, false);
    silt_tensor *a = vae_decode(g1, m, z), *b = vae_decode(g2, m, z);
    CHECK(a && b && !a->requires_grad && b->requires_grad);
    if (a && b) CHECK_CLOSE("decode: in-place vs taped", silt_f32(a), silt_f32(b), silt_numel(a), 0, 0);
    silt_tensor *lv1, *lv2;
    a = vae_encode(g1, m, img, &lv1);
    b = vae_encode(g2, m, img, &lv2);
    if (a && b) CHECK_CLOSE("encode: in-place vs taped", silt_f32(a), silt_f32(b), silt_numel(a), 0, 0);
    silt_graph_free(g1);
    silt_graph_free(g2);

    gradcheck_opts o = gradcheck_default();
    // h = 1e-2: the loss sums hundreds of f32 outputs through two GroupNorms,
    // so h = 1e-3 leaves ~5e-3 of rounding noise (measured; 3e-4 at 1e-2).
    o.max_probe = 24;
    o.h = 1e-2;
    gradcheck_run("vae_decode dz", f_decode, &z, 1, m, o);
    gradcheck_run("vae_encode dimg", f_encode, &img, 1, m, o);
    silt_tensor_free(z);
    silt_tensor_free(img);
    vae_free(m);
}

int main(void) {
    // Golden paths are relative to the source tree (ctest runs there; this lets
    // the binary run from anywhere with SILT_SOURCE_DIR set).
    const char *src = getenv("SILT_SOURCE_DIR");
    if (src && chdir(src) != 0) { fprintf(stderr, "cannot chdir to %s\n", src); return 1; }
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/silt_vae_XXXXXX", base && strlen(base) < 40 ? base : "/tmp");
    if (!mkdtemp(tmpdir)) { fprintf(stderr, "mkdtemp failed\n"); return 1; }
    vae_layout l = VAE_LAYOUT_COUNT;
    CHECK(vae_layout_from_name("original", &l) == SILT_OK && l == VAE_LAYOUT_ORIGINAL);
    CHECK(!strcmp(vae_layout_name(VAE_LAYOUT_DIFFUSERS), "diffusers") && vae_layout_from_name("ldm", &l) == SILT_ERR_ARG);
    test_golden();
    printf("worst golden error: %.1f%% of the 1e-4 tolerance\n", 100 * worst_share);
    test_layouts();
    test_errors();
    test_grad();
    rmdir(tmpdir);
    return check_summary();
}
