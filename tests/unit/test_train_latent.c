// The world autoencoder and the latent world MMDiT (gen/lib/train_arch.h:
// "ae" and silt_train_mmdit_create_latent; gen/lib/txt2img.c's decode):
//   - the ae loss equals its documented formula (noise stream, constants);
//   - --vq warm start copies the tokenizer; a tokenizer of another size fails;
//   - the export's shift / scale normalise the latents of fresh renders
//     (measured here independently: mean ~0, std ~1);
//   - decoder-only training: its loss is the reconstruction term; the encoder
//     side and the exported shift / scale stay bit-identical (a full run, the
//     control, moves them) while the decoder learns;
//   - a fresh latent MMDiT's loss is mean |noise - z0|^2 with z0 = (f - shift)
//     * scale, f the autoencoder's latent of the render (adaLN-Zero: v = 0);
//   - the latent run's export names its latent; gen's txt2img decodes a
//     latent sample as decoder(z / scale + shift), the inverse of training's
//     normalisation (checked against the autoencoder called by hand);
//   - a file that is not a world autoencoder is refused with one message.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tmpdir.h"
#include "tiny_world_clip.h"
#include "core/ops.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "gen/lib/train_arch.h"
#include "gen/lib/txt2img.h"
#include "gen/lib/world_latent.h"
#include "text/world_clip.h"
#include "world/render.h"
#include "world/suites.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static char tmpdir[256], clip_path[512], vq_path[512], ae_path[512];

static void make_clip(void) {
    snprintf(clip_path, sizeof clip_path, "%s/clip.safetensors", tmpdir);
    tiny_world_clip_write(clip_path);
}

// Train render j of data_seed in [-1, 1] into x (3 * 32 * 32).
static void render(uint64_t data_seed, int64_t j, float *x) {
    world_item it;
    CHECK_OK(world_suite_item(WORLD_SUITE_TRAIN, data_seed, j, &it));
    CHECK_OK(world_render(&it.scene, 32, x, NULL, NULL));
    for (int k = 0; k < 3 * 32 * 32; k++) x[k] = 2.0f * x[k] - 1.0f;
}

static double task_loss(silt_train_task *t, uint64_t seed, int64_t bi, int B) {
    silt_graph *g = silt_graph_create(0);
    silt_tensor *L = t->loss(t->self, g, seed, bi, B);
    double v = L ? silt_f32(L)[0] : NAN;
    silt_graph_free(g);
    return v;
}

// The documented ae loss, from the model's own conv nets and the noise stream
// (penalty: the latent penalty's weight, 0 for a decoder-only run).
// w: the object weights of the batch (B x 3 x 32 x 32) for a weighted mean, or NULL.
static double ref_ae_loss_w(const var_vqvae *vq, uint64_t seed, int64_t bi, int B, double penalty, const float *w) {
    const int np = 3 * 32 * 32;
    silt_graph *g = silt_graph_create(0);
    silt_graph_set_grad(g, false);
    silt_tensor *img = silt_graph_new(g, B, 3, 32, 32);
    for (int i = 0; i < B; i++) render(seed, bi * B + i, silt_f32(img) + i * np);
    silt_tensor *f = var_vq_encode_features(g, vq, img);
    if (!f) {
        CHECK_MSG(0, "encode: %s", silt_last_error());
        silt_graph_free(g);
        return NAN;
    }
    double sq = 0, se = 0, wsum = 0;
    int64_t per = silt_numel(f) / B;
    silt_tensor *z = silt_graph_tensor_f32(g, 4, f->shape);
    for (int i = 0; i < B; i++) {
        float *zi = silt_f32(z) + i * per;
        silt_rng_normal(zi, per, seed ^ (0x9E3779B97F4A7C15ull * 5), (uint64_t)(bi * B + i), 0);
        for (int64_t k = 0; k < per; k++) {
            double fv = silt_f32(f)[i * per + k];
            sq += fv * fv;
            zi[k] = (float)(fv + 0.03 * zi[k]);
        }
    }
    silt_tensor *rec = var_vq_fhat_to_img(g, vq, z, false);
    for (int64_t k = 0; k < (int64_t)B * np; k++) {
        double d = (double)silt_f32(rec)[k] - silt_f32(img)[k], wk = w ? w[k] : 1.0;
        se += wk * d * d;
        wsum += wk;
    }
    double nf = (double)silt_numel(f);
    silt_graph_free(g);
    return se / wsum + penalty * sq / nf;
}

static double ref_ae_loss(const var_vqvae *vq, uint64_t seed, int64_t bi, int B, double penalty) {
    return ref_ae_loss_w(vq, seed, bi, B, penalty, NULL);
}

static void test_ae_task(void) {
    CHECK(SILT_TRAIN_AE_LATENT_NOISE == 0.03f && SILT_TRAIN_AE_LATENT_PENALTY == 1e-4f);
    // A tiny tokenizer file to warm-start from.
    var_vq_config c;
    CHECK_OK(silt_train_vq_preset("tiny", &c));
    var_vqvae *vq = NULL;
    CHECK_OK(var_vq_create(&c, 9, &vq));
    snprintf(vq_path, sizeof vq_path, "%s/vq.safetensors", tmpdir);
    CHECK_OK(var_vq_save(vq, vq_path));
    silt_train_task t = {0};
    CHECK_OK(silt_train_ae_create(vq_path, "tiny", 1, &t));
    if (!t.self) { var_vq_free(vq); return; }
    CHECK(!strcmp(t.name, "ae") && t.n_params(t.self) == var_vq_param_count(vq));
    bool same = true, codebook_exempt = true;
    for (int i = 0; i < t.n_params(t.self); i++) {
        const char *name = NULL, *vn = NULL;
        bool nd = false;
        silt_tensor *p = t.param(t.self, i, &name, &nd);
        silt_tensor *q = var_vq_param(vq, i, &vn);
        same = same && p && q && !strcmp(name, vn) && !memcmp(p->data, q->data, silt_nbytes(p));
        if (!strncmp(name, "quantize.", 9)) codebook_exempt = codebook_exempt && nd;
    }
    CHECK_MSG(same, "the warm start is not the tokenizer's weights");
    CHECK_MSG(codebook_exempt, "the quantiser's tensors must be exempt from weight decay");
    // The loss, for a warm-started model (whose latent is not ~0) on three batches.
    var_vq_free(vq);
    vq = NULL;
    CHECK_OK(var_vq_load_file(vq_path, &vq));
    for (int bi = 0; bi < 3; bi++) {
        double got = task_loss(&t, 21, bi, 3), ref = ref_ae_loss(vq, 21, bi, 3, 1e-4);
        CHECK_MSG(fabs(got - ref) <= 1e-5 * ref, "ae loss (batch %d) %.8f vs reference %.8f", bi, got, ref);
    }
    CHECK(task_loss(&t, 21, 1, 3) != task_loss(&t, 22, 1, 3));
    silt_train_task_free(&t);
    var_vq_free(vq);
    // Warm start from a tokenizer of another size: its GroupNorm groups differ
    // (tiny 4, small 8), one message naming them.
    CHECK(silt_train_ae_create(vq_path, "small", 1, &t) == SILT_ERR_FORMAT);
    CHECK(strstr(silt_last_error(), "normalises with 4 groups") != NULL);
    // The same groups but another codebook shape: one message naming the tensor.
    var_vq_config c2 = c;
    c2.vocab_size = 128;
    char other[600];
    snprintf(other, sizeof other, "%s/vq128.safetensors", tmpdir);
    CHECK_OK(var_vq_create(&c2, 9, &vq));
    CHECK_OK(var_vq_save(vq, other));
    var_vq_free(vq);
    CHECK(silt_train_ae_create(other, "tiny", 1, &t) == SILT_ERR_FORMAT);
    CHECK(strstr(silt_last_error(), "has no tensor quantize.embedding.weight") != NULL);
}

// A short ae run, exported: the stored shift and scale normalise fresh renders.
static void test_ae_export(void) {
    silt_train_task t = {0};
    CHECK_OK(silt_train_ae_create(NULL, "tiny", 3, &t));
    if (!t.self) return;
    silt_train_params p = silt_train_default_params();
    p.steps = 6, p.batch_size = 4, p.lr = 3e-3, p.warmup_steps = 1, p.ckpt_every = 0, p.keep_last = 1,
    p.log_every = 6, p.handle_signals = false, p.weight_decay = 0;
    char out[512];
    snprintf(out, sizeof out, "%s/ae_run", tmpdir);
    p.out_dir = out;
    CHECK_OK(silt_train_run(&p, &t, NULL, NULL));
    silt_train_task_free(&t);
    snprintf(ae_path, sizeof ae_path, "%s/ae.safetensors", tmpdir);
    CHECK_OK(silt_train_ae_export(out, ae_path));
    silt_safetensors *st = NULL;
    CHECK_OK(silt_safetensors_open(ae_path, &st));
    if (!st) return;
    const char *kind = silt_safetensors_metadata(st, "silt.kind");
    const char *sh = silt_safetensors_metadata(st, "silt.latent_shift"), *sc = silt_safetensors_metadata(st, "silt.latent_scale");
    CHECK(kind && !strcmp(kind, "world-ae") && sh && sc);
    double shift = sh ? atof(sh) : 0, scale = sc ? atof(sc) : 0;
    var_vqvae *ae = NULL;
    CHECK_OK(var_vq_load(st, &ae));
    silt_safetensors_close(st);
    if (!ae) return;
    // Other renders than the export's (another seed): normalised mean ~0, std ~1.
    const int B = 64;
    silt_graph *g = silt_graph_create(0);
    silt_graph_set_grad(g, false);
    silt_tensor *img = silt_graph_new(g, B, 3, 32, 32);
    for (int i = 0; i < B; i++) render(12345, i, silt_f32(img) + i * 3 * 32 * 32);
    silt_tensor *f = var_vq_encode_features(g, ae, img);
    double s1 = 0, s2 = 0;
    int64_t n = silt_numel(f);
    for (int64_t k = 0; k < n; k++) {
        double z = (silt_f32(f)[k] - shift) * scale;
        s1 += z, s2 += z * z;
    }
    double mean = s1 / n, sd = sqrt(s2 / n - mean * mean);
    printf("ae export: normalised latent of 64 other renders: mean %.4f, std %.4f\n", mean, sd);
    CHECK_MSG(fabs(mean) < 0.1 && fabs(sd - 1) < 0.1, "normalised latent mean %g std %g", mean, sd);
    silt_graph_free(g);
    var_vq_free(ae);
}

// A short ae run (weight decay on, EMA on) from the exported autoencoder;
// export_path gets its export.
static void short_ae_run(bool decoder_only, const char *name, char *export_path, size_t n) {
    silt_train_task t = {0};
    CHECK_OK(silt_train_ae_create(ae_path, "tiny", 5, &t));
    if (!t.self) return;
    if (decoder_only) CHECK_OK(silt_train_ae_freeze_encoder(&t));
    silt_train_params p = silt_train_default_params();
    p.steps = 4, p.batch_size = 4, p.lr = 3e-3, p.warmup_steps = 1, p.ckpt_every = 0, p.keep_last = 1,
    p.log_every = 4, p.handle_signals = false, p.weight_decay = 0.1, p.ema_decay = 0.9;
    char out[512];
    snprintf(out, sizeof out, "%s/%s", tmpdir, name);
    p.out_dir = out;
    CHECK_OK(silt_train_run(&p, &t, NULL, NULL));
    silt_train_task_free(&t);
    snprintf(export_path, n, "%s/%s.safetensors", tmpdir, name);
    CHECK_OK(silt_train_ae_export(out, export_path));
}

// Decoder-only training: the encoder side (and so the latent space and the
// exported shift and scale) stays bit-identical; the decoder learns.
static void test_ae_decoder_only(void) {
    silt_train_task t = {0};
    CHECK_OK(silt_train_ae_create(ae_path, "tiny", 5, &t));
    if (!t.self) return;
    CHECK_OK(silt_train_ae_freeze_encoder(&t));
    CHECK(strstr(t.config, "\"aux_decoder_only\": true}") != NULL);
    var_vqvae *start = NULL;
    CHECK_OK(var_vq_load_file(ae_path, &start));
    // Its loss is the reconstruction term alone.
    for (int bi = 0; bi < 2 && start; bi++) {
        double got = task_loss(&t, 21, bi, 3), ref = ref_ae_loss(start, 21, bi, 3, 0);
        CHECK_MSG(fabs(got - ref) <= 1e-5 * ref, "decoder-only loss (batch %d) %.8f vs reference %.8f", bi, got, ref);
    }
    silt_train_task_free(&t);
    silt_train_task toy = {0};
    silt_train_toy_config tc = silt_train_toy_default_config();
    CHECK_OK(silt_train_toy_create(&tc, 1, &toy));
    CHECK(silt_train_ae_freeze_encoder(&toy) == SILT_ERR_ARG);
    silt_train_task_free(&toy);

    char frozen[600], free_run[600];
    short_ae_run(true, "ae_dec", frozen, sizeof frozen);
    short_ae_run(false, "ae_all", free_run, sizeof free_run);
    const char *paths[2] = {frozen, free_run};
    for (int r = 0; r < 2 && start; r++) {
        silt_safetensors *st = NULL;
        var_vqvae *ae = NULL;
        CHECK_OK(silt_safetensors_open(paths[r], &st));
        if (!st) continue;
        CHECK_OK(var_vq_load(st, &ae));
        int enc_same = 0, enc_n = 0, dec_moved = 0;
        for (int i = 0; ae && i < var_vq_param_count(ae); i++) {
            const char *name = NULL;
            silt_tensor *a = var_vq_param(ae, i, &name), *b = var_vq_find_param(start, name);
            bool same = b && !memcmp(a->data, b->data, silt_nbytes(a));
            if (!strncmp(name, "encoder.", 8) || !strncmp(name, "quant_conv.", 11)) enc_n++, enc_same += same;
            else if (!strncmp(name, "decoder.", 8) || !strncmp(name, "post_quant_conv.", 16)) dec_moved += !same;
        }
        silt_safetensors *s0 = NULL;
        CHECK_OK(silt_safetensors_open(ae_path, &s0));
        const char *keys[2] = {"silt.latent_shift", "silt.latent_scale"};
        int numbers_same = 0;
        for (int k = 0; k < 2 && s0; k++) {
            const char *x = silt_safetensors_metadata(st, keys[k]), *y = silt_safetensors_metadata(s0, keys[k]);
            numbers_same += x && y && !strcmp(x, y);
        }
        if (r == 0) {
            CHECK_MSG(enc_n > 4 && enc_same == enc_n, "decoder-only: %d of %d encoder tensors kept", enc_same, enc_n);
            CHECK_MSG(numbers_same == 2, "decoder-only: the exported latent shift and scale changed");
            CHECK_MSG(dec_moved > 4, "decoder-only: only %d decoder tensors moved", dec_moved);
        } else {  // the control: a full run moves the encoder and its numbers
            CHECK_MSG(enc_same == 0 && numbers_same == 0, "full run: %d encoder tensors and %d numbers unchanged",
                      enc_same, numbers_same);
        }
        silt_safetensors_close(s0);
        silt_safetensors_close(st);
        var_vq_free(ae);
    }
    var_vq_free(start);
}

static void test_latent_mmdit(void) {
    silt_train_task t = {0};
    // Not a world autoencoder (a tokenizer): refused, naming the flag's file.
    CHECK(silt_train_mmdit_create_latent(clip_path, vq_path, "tiny", 1, &t) == SILT_ERR_FORMAT);
    CHECK(strstr(silt_last_error(), "not a world autoencoder") != NULL);
    CHECK_OK(silt_train_mmdit_create_latent(clip_path, ae_path, "tiny", 1, &t));
    if (!t.self) return;
    CHECK(t.config && strstr(t.config, "\"in_channels\": 8") && strstr(t.config, "\"patch_size\": 1") &&
          strstr(t.config, "\"sample_size\": 8") && strstr(t.config, "\"silt_latent\": \"world-ae\""));
    // Reference: mean |noise - z0|^2 over the documented streams.
    silt_safetensors *st = NULL;
    CHECK_OK(silt_safetensors_open(ae_path, &st));
    double shift = atof(silt_safetensors_metadata(st, "silt.latent_shift"));
    double scale = atof(silt_safetensors_metadata(st, "silt.latent_scale"));
    var_vqvae *ae = NULL;
    CHECK_OK(var_vq_load(st, &ae));
    silt_safetensors_close(st);
    const int B = 3, np = 3 * 32 * 32, nz = 8 * 8 * 8;
    for (int bi = 0; bi < 2 && ae; bi++) {
        silt_graph *g = silt_graph_create(0);
        silt_graph_set_grad(g, false);
        silt_tensor *img = silt_graph_new(g, B, 3, 32, 32);
        for (int i = 0; i < B; i++) render(31, bi * B + i, silt_f32(img) + i * np);
        silt_tensor *f = var_vq_encode_features(g, ae, img);
        CHECK(f && silt_numel(f) == (int64_t)B * nz);
        float noise[8 * 8 * 8];
        double se = 0;
        for (int i = 0; f && i < B; i++) {
            silt_rng_normal(noise, nz, 31 ^ (0x9E3779B97F4A7C15ull * 4), (uint64_t)(bi * B + i), 0);
            for (int k = 0; k < nz; k++) {
                double d = noise[k] - (silt_f32(f)[i * nz + k] - shift) * scale;
                se += d * d;
            }
        }
        silt_graph_free(g);
        double ref = se / ((double)B * nz), got = task_loss(&t, 31, bi, B);
        CHECK_MSG(fabs(got - ref) <= 1e-5 * ref, "latent loss (batch %d) %.7f vs reference %.7f", bi, got, ref);
    }
    // A few steps, then the export names its latent.
    silt_train_params p = silt_train_default_params();
    p.steps = 3, p.batch_size = 4, p.warmup_steps = 1, p.ckpt_every = 0, p.keep_last = 1, p.log_every = 3,
    p.handle_signals = false;
    char out[512], model[600];
    snprintf(out, sizeof out, "%s/latent_run", tmpdir);
    p.out_dir = out;
    CHECK_OK(silt_train_run(&p, &t, NULL, NULL));
    silt_train_task_free(&t);
    snprintf(model, sizeof model, "%s/latent.safetensors", tmpdir);
    CHECK_OK(silt_train_mmdit_export(out, model, NULL));
    CHECK_OK(silt_safetensors_open(model, &st));
    if (st) {
        const char *l = silt_safetensors_metadata(st, "silt.latent");
        const char *sh = silt_safetensors_metadata(st, "silt.latent_shift");
        const char *sc = silt_safetensors_metadata(st, "silt.latent_scale");
        CHECK(l && !strcmp(l, "world-ae") && sh && sc && fabs(atof(sh) - shift) <= 1e-6 * (1 + fabs(shift)) &&
              fabs(atof(sc) - scale) <= 1e-6 * scale);
        silt_safetensors_close(st);
    }

    // The shared reader (gen/lib/world_latent.h): the checkpoint's config and
    // the export's metadata give the same numbers; a pixel model has none;
    // another latent name or a bad scale is refused.
    char ck[640];
    CHECK_OK(silt_train_latest(out, ck, sizeof ck));
    silt_world_latent from_ck = {0}, from_model = {0};
    CHECK_OK(silt_safetensors_open(ck, &st));
    if (st) CHECK_OK(silt_world_latent_read(st, &from_ck));
    silt_safetensors_close(st);
    CHECK_OK(silt_safetensors_open(model, &st));
    if (st) CHECK_OK(silt_world_latent_read(st, &from_model));
    silt_safetensors_close(st);
    CHECK(from_ck.on && from_model.on && fabs(from_ck.scale - scale) <= 1e-6 * scale &&
          fabs(from_model.shift - from_ck.shift) <= 1e-6 * (1 + fabs(shift)) && from_model.scale == from_ck.scale);
    silt_world_latent none = {.on = true};
    CHECK_OK(silt_safetensors_open(clip_path, &st));
    if (st) CHECK_OK(silt_world_latent_read(st, &none));
    silt_safetensors_close(st);
    CHECK(!none.on);
    const char *bad[][7] = {{"silt.latent", "sd-vae", "silt.latent_shift", "0", "silt.latent_scale", "1", NULL},
                            {"silt.latent", "world-ae", "silt.latent_shift", "0", "silt.latent_scale", "0", NULL},
                            {"silt.latent", "world-ae", "silt.latent_shift", "x", "silt.latent_scale", "1", NULL}};
    const silt_status want_status[] = {SILT_ERR_UNSUPPORTED, SILT_ERR_FORMAT, SILT_ERR_FORMAT};
    for (int i = 0; i < 3 && ae; i++) {
        char bp[640];
        snprintf(bp, sizeof bp, "%s/bad_latent_%d.safetensors", tmpdir, i);
        CHECK_OK(var_vq_save_as(ae, bp, bad[i]));
        silt_world_latent wl;
        CHECK_OK(silt_safetensors_open(bp, &st));
        CHECK_MSG(st && silt_world_latent_read(st, &wl) == want_status[i], "bad latent metadata %d accepted", i);
        silt_safetensors_close(st);
    }

    // gen's pipeline: the sample's latent z decodes as decoder(z / scale + shift).
    silt_txt2img *ti = NULL;
    CHECK(silt_txt2img_load(model, vq_path, clip_path, &ti) == SILT_ERR_ARG);  // a tokenizer is not a world-ae
    CHECK(strstr(silt_last_error(), "not a world autoencoder") != NULL);
    CHECK_OK(silt_txt2img_load(model, ae_path, clip_path, &ti));
    if (ti && ae) {
        const silt_txt2img_info *in = silt_txt2img_get_info(ti);
        CHECK(in->native_width == 32 && in->downscale == 4 && in->latent_channels == 8 && in->has_vae);
        silt_txt2img_params q = silt_txt2img_default_params(ti);
        q.prompt = "a red circle";
        q.batch = 2;
        q.sampler.steps = 2;
        q.progress = false;
        float lat[2 * 8 * 8 * 8];
        q.latent_out = lat;
        silt_image *im[2] = {0};
        CHECK_OK(silt_txt2img_run(ti, &q, im, NULL));
        silt_graph *g = silt_graph_create(0);
        silt_graph_set_grad(g, false);
        silt_tensor *Z = silt_graph_new(g, 2, 8, 8, 8);
        for (int k = 0; k < 2 * nz; k++) silt_f32(Z)[k] = (float)(lat[k] / scale + shift);
        silt_tensor *rec = var_vq_fhat_to_img(g, ae, Z, true);
        int worst = 0;
        for (int b = 0; b < 2 && rec && im[b]; b++)
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 32; y++)
                    for (int x = 0; x < 32; x++) {
                        double v = 127.5 * ((double)silt_f32(rec)[((b * 3 + c) * 32 + y) * 32 + x] + 1.0);
                        int want = (int)lround(v < 0 ? 0 : v > 255 ? 255 : v);
                        int d = abs(want - im[b]->data[(y * 32 + x) * 3 + c]);
                        if (d > worst) worst = d;
                    }
        CHECK_MSG(rec && im[0] && im[1] && worst <= 1, "txt2img's decode differs from the autoencoder by %d/255", worst);
        silt_graph_free(g);
        for (int b = 0; b < 2; b++) silt_image_free(im[b]);
    }
    silt_txt2img_free(ti);
    var_vq_free(ae);
}

// --object-weight: pixels of an object (and 1 px around it) weigh 1 + W;
// the loss is the weighted mean of the squared error.
static void test_ae_object_weight(void) {
    enum { B = 3, S = 32, NP = 3 * S * S };
    const float W = 8;
    world_item items[B];
    for (int i = 0; i < B; i++) CHECK_OK(world_suite_item(WORLD_SUITE_TRAIN, 21, 3 + i, &items[i]));
    static float w[B * NP], masks[WORLD_MAX_OBJECTS * S * S];
    double wsum = 0;
    // The coverage comes from the batch's own render pass.
    static float rgb[B * NP], mask[B * S * S];
    CHECK_OK(silt_train_render_batch_weighted(21, 3, B, S, NULL, rgb, NULL, mask));
    CHECK_OK(silt_ae_object_weights(mask, B, W, w, &wsum));
    double sum = 0;
    int inside = 0, far = 0, bad = 0;
    for (int i = 0; i < B; i++) {
        const world_scene *sc = &items[i].scene;
        CHECK_OK(world_render(sc, S, NULL, NULL, masks));
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                float own = 0, near = 0;
                for (int o = 0; o < sc->n_objects; o++) {
                    own = fmaxf(own, masks[(o * S + y) * S + x]);
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++)
                            if (y + dy >= 0 && y + dy < S && x + dx >= 0 && x + dx < S)
                                near = fmaxf(near, masks[(o * S + y + dy) * S + x + dx]);
                }
                const float *wi = w + (size_t)i * NP + y * S + x;
                for (int c = 0; c < 3; c++) sum += wi[c * S * S];
                bad += wi[S * S] != wi[0] || wi[2 * S * S] != wi[0] || wi[0] < 1 || wi[0] > 1 + W;
                if (own == 1) inside++, bad += wi[0] != 1 + W;  // fully covered: the full weight
                if (near == 0) far++, bad += wi[0] != 1;        // nothing within a pixel: the background's
                if (near > 0) bad += wi[0] != 1 + W * near;     // the border: the nearest coverage
            }
    }
    CHECK_MSG(bad == 0, "object weights: %d pixels off", bad);
    CHECK_MSG(inside > 20 && far > 1000, "object weights: %d object and %d background pixels", inside, far);
    CHECK_MSG(fabs(sum - wsum) <= 1e-9 * sum, "object weights: sum %.3f, reported %.3f", sum, wsum);
    CHECK(silt_ae_object_weights(mask, B, -1, w, &wsum) == SILT_ERR_ARG);
    CHECK(silt_ae_object_weights(NULL, B, W, w, &wsum) == SILT_ERR_ARG);

    silt_train_task t = {0};
    CHECK_OK(silt_train_ae_create(ae_path, "tiny", 5, &t));
    if (!t.self) return;
    CHECK_OK(silt_train_ae_freeze_encoder(&t));
    CHECK(silt_train_ae_set_object_weight(&t, -1) == SILT_ERR_ARG);
    CHECK_OK(silt_train_ae_set_object_weight(&t, W));
    CHECK(strstr(t.config, "\"aux_object_weight\": 8}") != NULL);
    CHECK(silt_train_ae_set_object_weight(&t, 2) == SILT_ERR_ARG);  // once
    var_vqvae *start = NULL;
    CHECK_OK(var_vq_load_file(ae_path, &start));
    // The task's items 3..5 of seed 21 are batch 1 of size 3.
    if (start) {
        double got = task_loss(&t, 21, 1, B), ref = ref_ae_loss_w(start, 21, 1, B, 0, w);
        double plain = ref_ae_loss(start, 21, 1, B, 0);
        CHECK_MSG(fabs(got - ref) <= 1e-5 * ref, "object-weighted loss %.8f vs reference %.8f", got, ref);
        CHECK_MSG(fabs(got - plain) > 1e-3 * plain, "object-weighted loss %.8f equals the plain %.8f", got, plain);
    }
    var_vq_free(start);
    silt_train_task_free(&t);
    silt_train_task toy = {0};
    silt_train_toy_config tc = silt_train_toy_default_config();
    CHECK_OK(silt_train_toy_create(&tc, 1, &toy));
    CHECK(silt_train_ae_set_object_weight(&toy, 1) == SILT_ERR_ARG);
    silt_train_task_free(&toy);
}

int main(void) {
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    snprintf(tmpdir, sizeof tmpdir, "/tmp/silt_test_train_latent_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    make_clip();
    test_ae_task();
    test_ae_export();
    test_ae_decoder_only();
    test_ae_object_weight();
    test_latent_mmdit();
    test_rm_tree(tmpdir);
    return check_summary();
}
