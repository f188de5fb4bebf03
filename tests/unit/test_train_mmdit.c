// The world-MMDiT training task (gen/lib/train_arch.h, train_mmdit.c): size
// presets, the loss of a fresh model against a plain double reference built
// from the documented data and noise streams (adaLN-Zero predicts v = 0, so
// the loss is mean |noise - x0|^2), determinism per (data_seed, batch),
// the checkpoint's config, a short training whose loss falls, and the export
// (EMA weights bit-exact, sampling metadata). Also the trainers' shared
// batch renderer, silt_train_render_batch, at several thread counts.
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tmpdir.h"
#include "tiny_world_clip.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "dit/mmdit.h"
#include "gen/lib/train_arch.h"
#include "text/world_clip.h"
#include "text/world_tokenizer.h"
#include "world/render.h"
#include "world/suites.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static char tmpdir[256], clip_path[512];


static void make_clip(void) {
    snprintf(clip_path, sizeof clip_path, "%s/clip.safetensors", tmpdir);
    tiny_world_clip_write(clip_path);
}

static void test_presets(void) {
    mmdit_config c;
    CHECK_OK(silt_train_mmdit_preset("default", 24, 20, &c));
    CHECK(c.patch == 4 && c.hidden == 256 && c.heads == 8 && c.depth == 6 && c.pos_max == 8 && c.qk_norm &&
          c.joint_dim == 24 && c.pooled_dim == 20 && c.in_channels == 3 && c.out_channels == 3);
    CHECK_OK(silt_train_mmdit_preset(NULL, 24, 20, &c));
    CHECK(c.hidden == 256);
    CHECK_OK(silt_train_mmdit_preset("small", 24, 20, &c));
    CHECK_OK(silt_train_mmdit_preset("tiny", 24, 20, &c));
    CHECK_OK(silt_train_mmdit_preset("2:48:4:3", 24, 20, &c));
    CHECK(c.patch == 2 && c.hidden == 48 && c.heads == 4 && c.head_dim == 12 && c.depth == 3 && c.pos_max == 16);
    const char *bad[] = {"huge", "3:48:4:3", "2:50:4:3", "2:48:4", "2:48:4:3x", "2:48:4:0", "0:48:4:3"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_MSG(silt_train_mmdit_preset(bad[i], 24, 20, &c) == SILT_ERR_ARG, "size %s accepted", bad[i]);
}

// mean over the batch of |noise - x0|^2 in double, from the documented streams.
static double ref_fresh_loss(uint64_t data_seed, int64_t batch_index, int B) {
    const int S = SILT_TRAIN_MMDIT_IMAGE, np = 3 * S * S;
    float *x0 = malloc(sizeof(float) * np), *noise = malloc(sizeof(float) * np);
    double sum = 0;
    for (int i = 0; i < B; i++) {
        int64_t j = batch_index * B + i;
        world_item it;
        CHECK_OK(world_suite_item(WORLD_SUITE_TRAIN, data_seed, j, &it));
        CHECK_OK(world_render(&it.scene, S, x0, NULL, NULL));
        silt_rng_normal(noise, np, data_seed ^ (0x9E3779B97F4A7C15ull * 4), (uint64_t)j, 0);
        for (int k = 0; k < np; k++) {
            double d = (double)noise[k] - (2.0 * x0[k] - 1.0);
            sum += d * d;
        }
    }
    free(x0);
    free(noise);
    return sum / ((double)B * np);
}

static double task_loss(silt_train_task *t, uint64_t seed, int64_t bi, int B, bool grad) {
    silt_graph *g = silt_graph_create(0);
    silt_graph_set_grad(g, grad);
    silt_tensor *L = t->loss(t->self, g, seed, bi, B);
    double v = L ? silt_f32(L)[0] : NAN;
    CHECK(L && L->requires_grad == grad && silt_numel(L) == 1);  // the caller's grad mode is kept
    silt_graph_free(g);
    return v;
}

static void test_task(void) {
    silt_train_task t = {0};
    // A missing encoder names the flag that fixes it.
    CHECK(silt_train_mmdit_create("/nonexistent/clip.safetensors", "tiny", 1, &t) == SILT_ERR_IO);
    CHECK(strstr(silt_last_error(), "--clip-model") != NULL);
    CHECK_OK(silt_train_mmdit_create_ex(clip_path, NULL, "tiny", false, 1, &t));
    if (!t.self) return;
    CHECK(!strcmp(t.name, "mmdit") && t.config && strstr(t.config, "\"num_attention_heads\": 2") &&
          strstr(t.config, "\"joint_attention_dim\": 24") && strstr(t.config, "\"pooled_projection_dim\": 20"));
    CHECK(t.images_per_batch && t.images_per_batch(t.self, 7) == 7);
    int n = t.n_params(t.self);
    CHECK(n > 10);
    for (int i = 0; i < n; i++) {
        const char *name;
        silt_tensor *p = t.param(t.self, i, &name, NULL);
        CHECK(p && p->requires_grad && p->grad && name && strncmp(name, "ema.", 4));
    }
    const int B = 5;
    for (int bi = 0; bi < 3; bi++) {
        double got = task_loss(&t, 11, bi, B, true), ref = ref_fresh_loss(11, bi, B);
        CHECK_MSG(fabs(got - ref) <= 1e-5 * ref, "fresh loss (batch %d) %.7f vs reference %.7f", bi, got, ref);
    }
    // Determinism: the same batch gives the same bits, another batch or seed other numbers.
    CHECK(task_loss(&t, 11, 1, B, false) == task_loss(&t, 11, 1, B, true));
    CHECK(task_loss(&t, 11, 1, B, false) != task_loss(&t, 11, 2, B, false));
    CHECK(task_loss(&t, 12, 1, B, false) != task_loss(&t, 11, 1, B, false));
    silt_train_task_free(&t);
}

// Train the tiny preset briefly (EMA on), check the loss falls on unseen
// batches, then export and compare the file with the checkpoint.
static void test_train_export(void) {
    silt_train_task t = {0};
    CHECK_OK(silt_train_mmdit_create(clip_path, "tiny", 2, &t));
    if (!t.self) return;
    const int B = 16;
    double l0 = 0, l1 = 0;
    for (int k = 0; k < 4; k++) l0 += task_loss(&t, 999, k, B, false) / 4;
    silt_train_params p = silt_train_default_params();
    p.steps = 60, p.batch_size = B, p.lr = 1e-2, p.warmup_steps = 5, p.ckpt_every = 0, p.keep_last = 1,
    p.log_every = 60, p.handle_signals = false, p.ema_decay = 0.9;
    char out[512], ck[640], model[640];
    snprintf(out, sizeof out, "%s/run", tmpdir);
    p.out_dir = out;
    CHECK_OK(silt_train_run(&p, &t, NULL, NULL));
    for (int k = 0; k < 4; k++) l1 += task_loss(&t, 999, k, B, false) / 4;
    printf("mmdit tiny training: held-out loss %.4f -> %.4f\n", l0, l1);
    CHECK_MSG(l1 < 0.85 * l0, "loss %g -> %g", l0, l1);
    silt_train_task_free(&t);

    CHECK_OK(silt_train_latest(out, ck, sizeof ck));
    snprintf(model, sizeof model, "%s/model.safetensors", tmpdir);
    silt_mmdit_export_opts xo = silt_mmdit_export_default_opts();
    CHECK(xo.steps == 20 && xo.shift == 1.0 && xo.cfg == 4.0);
    xo.cfg = 3.5;
    CHECK_OK(silt_train_mmdit_export(out, model, &xo));  // the run directory: its latest checkpoint
    silt_safetensors *sc = NULL, *sm = NULL;
    CHECK_OK(silt_safetensors_open(ck, &sc));
    CHECK_OK(silt_safetensors_open(model, &sm));
    if (sc && sm) {
        const char *want[][2] = {{"silt.kind", "world-mmdit"}, {"silt.text_encoder", "world-clip"},
                                 {"silt.sampler", "flow_euler"}, {"silt.steps", "20"},
                                 {"silt.shift", "1"},           {"silt.cfg", "3.5"}};
        for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
            const char *v = silt_safetensors_metadata(sm, want[i][0]);
            CHECK_MSG(v && !strcmp(v, want[i][1]), "%s = %s, want %s", want[i][0], v ? v : "(none)", want[i][1]);
        }
        const char *tr = silt_safetensors_metadata(sm, "silt.train");
        CHECK(tr && strstr(tr, "\"step\": 60") && strstr(tr, "\"ema\": true") && strstr(tr, "\"lr\": 0.01"));
        // Every model tensor but the (fixed) position table is the checkpoint's EMA copy, bit for bit.
        int n = silt_safetensors_count(sm), matched = 0;
        for (int i = 0; i < n; i++) {
            const silt_st_tensor *x = silt_safetensors_get(sm, i);
            if (!strcmp(x->name, "pos_embed.pos_embed")) continue;
            char key[256];
            snprintf(key, sizeof key, "ema.%s", x->name);
            const silt_st_tensor *e = silt_safetensors_find(sc, key);
            bool same = e && e->nbytes == x->nbytes && !memcmp(e->data, x->data, x->nbytes);
            CHECK_MSG(same, "%s differs from the checkpoint's EMA", x->name);
            matched += same;
        }
        CHECK(matched == n - 1);
        mmdit_model *m = NULL;
        CHECK_OK(mmdit_load(sm, &m));
        CHECK(m && mmdit_get_config(m)->heads == 2);
        mmdit_free(m);
    }
    silt_safetensors_close(sc);
    silt_safetensors_close(sm);
    // Exporting something that is not an mmdit run fails and writes nothing.
    snprintf(model, sizeof model, "%s/bad.safetensors", tmpdir);
    CHECK(silt_train_mmdit_export(clip_path, model, NULL) == SILT_ERR_FORMAT);
    CHECK(access(model, F_OK) != 0);
}

static silt_tensor *param_named(silt_train_task *t, const char *want) {
    for (int i = 0; i < t->n_params(t->self); i++) {
        const char *name;
        silt_tensor *p = t->param(t->self, i, &name, NULL);
        if (!strcmp(name, want)) return p;
    }
    return NULL;
}

// The word channel: the default task's context is CLIP's 24 features + the
// vocabulary's one-hot + the 16 positions'; it starts (--init) from an export of a CLIP-only
// model with the old columns copied and the new ones zero, so its loss is
// the old model's; training then moves the new columns. A CLIP-only run
// refuses to start from the wider model.
static void test_words(void) {
    silt_train_task a = {0}, b = {0}, c = {0};
    CHECK_OK(silt_train_mmdit_create_ex(clip_path, NULL, "tiny", false, 3, &a));
    CHECK_OK(silt_train_mmdit_create(clip_path, "tiny", 4, &b));
    if (!a.self || !b.self) return;
    const int J = 24 + txt_world_vocab_size() + TXT_WORLD_MAX_LEN;
    char want[64];
    snprintf(want, sizeof want, "\"joint_attention_dim\": %d", J);
    CHECK_MSG(strstr(b.config, want) != NULL, "config %s lacks %s", b.config, want);
    silt_train_params p = silt_train_default_params();
    p.steps = 3, p.batch_size = 4, p.lr = 1e-2, p.warmup_steps = 1, p.ckpt_every = 0, p.keep_last = 1,
    p.log_every = 100, p.lr_min = 0, p.handle_signals = false, p.ema_decay = 0;
    char out_a[512], model[512], out_b[512];
    snprintf(out_a, sizeof out_a, "%s/words_a", tmpdir);
    snprintf(out_b, sizeof out_b, "%s/words_b", tmpdir);
    snprintf(model, sizeof model, "%s/words_a.safetensors", tmpdir);
    p.out_dir = out_a;
    CHECK_OK(silt_train_run(&p, &a, NULL, NULL));
    CHECK_OK(silt_train_mmdit_export(out_a, model, NULL));
    // lr 0: the init, unchanged by its one step.
    p.out_dir = out_b, p.init_path = model, p.steps = 1, p.lr = 0;
    CHECK_OK(silt_train_run(&p, &b, NULL, NULL));
    silt_tensor *wa = param_named(&a, "context_embedder.weight"), *wb = param_named(&b, "context_embedder.weight");
    CHECK(wa && wb && wa->shape[1] == 24 && wb->shape[1] == J && wa->shape[0] == wb->shape[0]);
    int bad = 0;
    for (int64_t r = 0; wa && wb && r < wa->shape[0]; r++)
        for (int k = 0; k < J; k++) {
            float got = silt_f32(wb)[r * J + k], ref = k < 24 ? silt_f32(wa)[r * 24 + k] : 0.0f;
            bad += got != ref;
        }
    CHECK_MSG(bad == 0, "%d entries of the widened context_embedder differ", bad);
    for (int bi = 0; bi < 2; bi++) {
        double la = task_loss(&a, 21, bi, 4, false), lb = task_loss(&b, 21, bi, 4, false);
        CHECK_MSG(fabs(la - lb) <= 1e-5 * la, "batch %d: the widened model's loss %.8f, the old one's %.8f", bi, lb, la);
    }
    // Training moves the word columns.
    snprintf(out_b, sizeof out_b, "%s/words_b2", tmpdir);
    p.out_dir = out_b, p.steps = 3, p.lr = 1e-2;
    CHECK_OK(silt_train_run(&p, &b, NULL, NULL));
    double moved = 0;
    for (int64_t r = 0; wb && r < wb->shape[0]; r++)
        for (int k = 24; k < J; k++) moved += fabs(silt_f32(wb)[r * J + k]);
    CHECK_MSG(moved > 0, "the word columns did not train");
    // The other way round is a shape error.
    char model_b[512];
    snprintf(model_b, sizeof model_b, "%s/words_b.safetensors", tmpdir);
    CHECK_OK(silt_train_mmdit_export(out_b, model_b, NULL));
    // The relation channel widens a words model by 2 the same way: the old
    // model exactly at the start (position captions, 3 in 15 train draws, have
    // nonzero relation entries; their zero columns must not count; 2 batches
    // of 16 hold some with probability 1 - 0.8^32).
    silt_train_task d = {0};
    CHECK_OK(silt_train_mmdit_create_ex(clip_path, NULL, "tiny", WCLIP_CTX_RELATION, 6, &d));
    snprintf(want, sizeof want, "\"joint_attention_dim\": %d", J + WCLIP_RELATION_WIDTH);
    CHECK_MSG(d.self && strstr(d.config, want) != NULL, "config %s lacks %s", d.self ? d.config : "", want);
    snprintf(out_b, sizeof out_b, "%s/words_d", tmpdir);
    p.out_dir = out_b, p.init_path = model_b, p.steps = 1, p.lr = 0;
    if (d.self) CHECK_OK(silt_train_run(&p, &d, NULL, NULL));
    silt_tensor *wd = d.self ? param_named(&d, "context_embedder.weight") : NULL;
    bad = 0;
    for (int64_t r = 0; wb && wd && r < wb->shape[0]; r++)
        for (int k = 0; k < J + WCLIP_RELATION_WIDTH; k++)
            bad += silt_f32(wd)[r * (J + 2) + k] != (k < J ? silt_f32(wb)[r * J + k] : 0.0f);
    CHECK_MSG(wd && bad == 0, "%d entries of the relation-widened context_embedder differ", bad);
    for (int bi = 0; wd && bi < 2; bi++) {
        double lb = task_loss(&b, 23, bi, 16, false), ld = task_loss(&d, 23, bi, 16, false);
        CHECK_MSG(fabs(lb - ld) <= 1e-5 * lb, "batch %d: the relation model's loss %.8f, the words one's %.8f", bi, ld, lb);
    }
    silt_train_task_free(&d);
    CHECK_OK(silt_train_mmdit_create_ex(clip_path, NULL, "tiny", false, 5, &c));
    snprintf(out_b, sizeof out_b, "%s/words_c", tmpdir);
    p.out_dir = out_b, p.init_path = model_b;
    CHECK(c.self && silt_train_run(&p, &c, NULL, NULL) == SILT_ERR_FORMAT);
    silt_train_task_free(&a);
    silt_train_task_free(&b);
    silt_train_task_free(&c);
}

// Training sigmas: sigmoid of the Philox normal of image j, then the flow
// shift s sigma / (1 + (s - 1) sigma); the shifted draw puts far more mass
// above sigma 0.9 (where the layout is decided); the config records the
// shift; bad shifts are refused.
static void test_time_shift(void) {
    int above1 = 0, above3 = 0;
    for (int64_t j = 0; j < 4000; j++) {
        float n = 0;
        silt_rng_normal(&n, 1, 77, (uint64_t)j, 0);
        double s1 = 1 / (1 + exp(-(double)n)), s3 = 3 * s1 / (1 + 2 * s1);
        float g1 = silt_train_mmdit_sigma(77, j, 1.0), g3 = silt_train_mmdit_sigma(77, j, 3.0);
        if (fabs(g1 - s1) > 1e-6 || fabs(g3 - s3) > 1e-6) {
            CHECK_MSG(false, "image %lld: sigma %.7f / %.7f, want %.7f / %.7f", (long long)j, g1, g3, s1, s3);
            break;
        }
        above1 += g1 > 0.9f, above3 += g3 > 0.9f;
    }
    printf("sigma > 0.9: %d of 4000 unshifted, %d with shift 3\n", above1, above3);
    CHECK(above1 < 120 && above3 > 400);
    silt_train_task t = {0};
    CHECK_OK(silt_train_mmdit_create(clip_path, "tiny", 1, &t));
    if (!t.self) return;
    CHECK(silt_train_mmdit_set_time_shift(&t, 0.5) == SILT_ERR_ARG);
    CHECK(silt_train_mmdit_set_time_shift(&t, NAN) == SILT_ERR_ARG);
    CHECK(!strstr(t.config, "aux_time_shift"));
    CHECK_OK(silt_train_mmdit_set_time_shift(&t, 3.0));
    CHECK(strstr(t.config, "\"aux_time_shift\": 3") != NULL);
    CHECK(silt_train_mmdit_set_time_shift(&t, 2.0) == SILT_ERR_ARG);
    silt_train_task_free(&t);
}

// REPA (silt_train_mmdit_set_repa): the loss is the flow MSE plus
// w (1 - mean cos), linear in w; a zero projector gives cos 0 (the term is w);
// the alignment reaches the blocks up to the tap and no further; refusals.
static bool grads_equal(silt_train_task *a, silt_train_task *b, const char *prefix, bool *any) {
    bool same = true;
    *any = false;
    for (int i = 0; i < a->n_params(a->self); i++) {
        const char *na, *nb;
        silt_tensor *x = a->param(a->self, i, &na, NULL), *y = b->param(b->self, i, &nb, NULL);
        if (strncmp(na, prefix, strlen(prefix))) continue;
        *any = true;
        same = same && !strcmp(na, nb) && !memcmp(x->grad, y->grad, silt_nbytes(x));
    }
    return same;
}

static double loss_backward(silt_train_task *t, int64_t bi, int B) {
    for (int i = 0; i < t->n_params(t->self); i++) silt_tensor_zero_grad(t->param(t->self, i, NULL, NULL));
    silt_graph *g = silt_graph_create(0);
    silt_tensor *L = t->loss(t->self, g, 7, bi, B);
    double v = L ? silt_f32(L)[0] : NAN;
    CHECK_OK(L ? silt_backward(g, L, NULL) : SILT_ERR_ARG);
    silt_graph_free(g);
    return v;
}

static void test_repa(void) {
    char clip4[600];
    snprintf(clip4, sizeof clip4, "%s/clip_patch4.safetensors", tmpdir);
    tiny_world_clip_write_patch(clip4, 4);
    silt_train_task plain = {0}, r1 = {0}, r3 = {0}, bad = {0};
    // The 4 x 4 patches of the default fixture do not match 8 x 8 tokens.
    CHECK_OK(silt_train_mmdit_create(clip_path, "tiny", 1, &bad));
    CHECK(silt_train_mmdit_set_repa(&bad, 0.5, -1, 1) == SILT_ERR_ARG && strstr(silt_last_error(), "patches"));
    silt_train_task_free(&bad);
    CHECK_OK(silt_train_mmdit_create(clip4, "tiny", 1, &plain));
    CHECK_OK(silt_train_mmdit_create(clip4, "tiny", 1, &r1));
    CHECK_OK(silt_train_mmdit_create(clip4, "tiny", 1, &r3));
    CHECK(silt_train_mmdit_set_repa(&r1, 0, -1, 1) == SILT_ERR_ARG);
    CHECK(silt_train_mmdit_set_repa(&r1, 0.5, 1, 1) == SILT_ERR_ARG);  // tiny has blocks 0, 1: not the last
    CHECK_OK(silt_train_mmdit_set_repa(&r1, 0.5, -1, 1));
    CHECK_OK(silt_train_mmdit_set_repa(&r3, 1.5, -1, 1));
    CHECK(silt_train_mmdit_set_repa(&r1, 0.5, -1, 1) == SILT_ERR_ARG);  // once
    if (!plain.self || !r1.self || !r3.self) return;
    int n = plain.n_params(plain.self);
    CHECK(r1.n_params(r1.self) == n + 6);
    const char *name = NULL;
    bool nd = false;
    CHECK(r1.param(r1.self, n, &name, &nd) && !strcmp(name, "aux.repa.0.weight") && !nd);
    CHECK(r1.param(r1.self, n + 5, &name, &nd) && !strcmp(name, "aux.repa.2.bias") && nd);
    CHECK(strstr(r1.config, "\"aux_repa_weight\": 0.5") && strstr(r1.config, "\"aux_repa_layer\": 0") &&
          !strstr(plain.config, "repa"));

    const int B = 4;
    double lp = loss_backward(&plain, 2, B), l1 = loss_backward(&r1, 2, B);
    double l3 = task_loss(&r3, 7, 2, B, false), cos = 1 - (l1 - lp) / 0.5;
    CHECK_MSG(cos > -1 && cos < 1 && fabs(cos) > 1e-4, "1 - (loss_repa - loss) / w = cos %.6f", cos);
    CHECK_MSG(fabs((l3 - lp) - 3 * (l1 - lp)) < 1e-5, "the term is linear in w: %.7f vs 3 x %.7f", l3 - lp, l1 - lp);
    // The alignment reaches block 0 (the tap) and the embedders, never block 1
    // after it; the projector learns.
    bool any = false;
    CHECK_MSG(grads_equal(&plain, &r1, "transformer_blocks.1.", &any) && any, "block 1 is after the tap");
    CHECK_MSG(!grads_equal(&plain, &r1, "transformer_blocks.0.", &any) && any, "block 0 gets the alignment's gradient");
    for (int k = 0; k < 6; k++) {
        silt_tensor *p = r1.param(r1.self, n + k, NULL, NULL);
        double s = 0;
        for (int64_t j = 0; j < silt_numel(p); j++) s += fabs(p->grad[j]);
        CHECK_MSG(s > 0, "projector parameter %d has no gradient", k);
    }
    // A zero last projector layer: proj(h) = 0, normalised to 0, so cos = 0.
    for (int k = 4; k < 6; k++) {
        silt_tensor *p = r1.param(r1.self, n + k, NULL, NULL);
        memset(p->data, 0, silt_nbytes(p));
    }
    double l0 = task_loss(&r1, 7, 2, B, false);
    CHECK_MSG(fabs((l0 - lp) - 0.5) < 1e-6, "zero projector: term %.7f, want w = 0.5", l0 - lp);
    silt_train_task_free(&plain);
    silt_train_task_free(&r1);
    silt_train_task_free(&r3);
}

// silt_train_render_batch (shared by the world trainers) renders its images
// in parallel: at 1, 2 and 3 threads each image and caption must equal the
// item rendered alone, in [-1, 1], bit for bit; bad arguments are refused.
static void test_render_batch(void) {
    enum { B = 7, S = 32 };
    const int64_t npix = 3 * S * S, j0 = 5;
    const uint64_t seed = 7;
    float *ref = malloc(sizeof(float) * B * npix), *x = malloc(sizeof(float) * B * npix);
    world_item ref_items[B], items[B];
    for (int i = 0; i < B; i++) {
        CHECK_OK(world_suite_item(WORLD_SUITE_TRAIN, seed, j0 + i, &ref_items[i]));
        CHECK_OK(world_render(&ref_items[i].scene, S, ref + i * npix, NULL, NULL));
        for (int64_t k = 0; k < npix; k++) ref[i * npix + k] = 2.0f * ref[i * npix + k] - 1.0f;
    }
    for (int threads = 1; threads <= 3; threads++) {
#ifdef _OPENMP
        omp_set_num_threads(threads);
#endif
        memset(x, 0, sizeof(float) * B * npix);
        memset(items, 0, sizeof items);
        CHECK_OK(silt_train_render_batch(seed, j0, B, S, x, items));
        CHECK_MSG(!memcmp(x, ref, sizeof(float) * B * npix), "render batch at %d threads differs from one by one", threads);
        for (int i = 0; i < B; i++)
            CHECK_MSG(!strcmp(items[i].caption, ref_items[i].caption), "item %d caption at %d threads: '%s' vs '%s'", i,
                      threads, items[i].caption, ref_items[i].caption);
    }
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    CHECK_OK(silt_train_render_batch(seed, j0, B, S, x, NULL));  // images only
    CHECK(!memcmp(x, ref, sizeof(float) * B * npix));
    CHECK(silt_train_render_batch(seed, j0, -1, S, x, NULL) == SILT_ERR_ARG);
    CHECK(silt_train_render_batch(seed, -1, B, S, x, NULL) == SILT_ERR_ARG);
    CHECK(silt_train_render_batch(seed, j0, B, S, NULL, NULL) == SILT_ERR_ARG);
    free(ref);
    free(x);
}

// The shared aux-key append: members go inside the object (no comma in an
// empty one); a refusal (no room, not an object) leaves the config as it was.
static void test_config_add_aux(void) {
    char c[32] = "{\"a\": 1}";
    CHECK_OK(silt_train_config_add_aux(c, sizeof c, "\"aux_b\": 2", "t"));
    CHECK_MSG(!strcmp(c, "{\"a\": 1, \"aux_b\": 2}"), "config %s", c);
    CHECK(silt_train_config_add_aux(c, sizeof c, "\"aux_long_name\": 12345", "t") == SILT_ERR_ARG);
    CHECK_MSG(!strcmp(c, "{\"a\": 1, \"aux_b\": 2}"), "config after a refusal: %s", c);
    char bad[16] = "[1]";
    CHECK(silt_train_config_add_aux(bad, sizeof bad, "\"aux_c\": 1", "t") == SILT_ERR_ARG && !strcmp(bad, "[1]"));
    char empty[32] = "{ }";  // an empty object takes no comma (the clip task's config starts so)
    CHECK_OK(silt_train_config_add_aux(empty, sizeof empty, "\"aux_d\": 3", "t"));
    CHECK_MSG(!strcmp(empty, "{ \"aux_d\": 3}"), "config %s", empty);
}

// Pure noise: a fraction of the images at sigma 1 (a pure function of the
// image's index), recorded in the config; the loss moves with it.
static void test_pure_noise(void) {
    int pure = 0, again = 0;
    for (int64_t j = 0; j < 4000; j++) {
        bool p = silt_train_mmdit_pure(99, j, 0.15);
        pure += p, again += p == silt_train_mmdit_pure(99, j, 0.15);
        CHECK(!silt_train_mmdit_pure(99, j, 0));
    }
    CHECK_MSG(pure > 520 && pure < 680 && again == 4000, "pure noise: %d of 4000 at 0.15", pure);
    silt_train_task a = {0}, b = {0};
    CHECK_OK(silt_train_mmdit_create(clip_path, "tiny", 1, &a));
    CHECK_OK(silt_train_mmdit_create(clip_path, "tiny", 1, &b));
    if (!a.self || !b.self) return;
    CHECK(silt_train_mmdit_set_pure_noise(&b, 0.6) == SILT_ERR_ARG);
    CHECK(silt_train_mmdit_set_pure_noise(&b, -0.1) == SILT_ERR_ARG);
    CHECK_OK(silt_train_mmdit_set_pure_noise(&a, 0));
    CHECK(!strstr(a.config, "aux_pure_noise"));
    CHECK_OK(silt_train_mmdit_set_pure_noise(&b, 0.5));
    CHECK(strstr(b.config, "\"aux_pure_noise\": 0.5") != NULL);
    CHECK(silt_train_mmdit_set_pure_noise(&b, 0.2) == SILT_ERR_ARG);
    // A fresh model's output layer is zero, and then its loss does not see
    // x_t: give both the same nonzero one.
    silt_tensor *pa = param_named(&a, "proj_out.weight"), *pb = param_named(&b, "proj_out.weight");
    for (int64_t k = 0; pa && pb && k < silt_numel(pa); k++)
        silt_f32(pa)[k] = silt_f32(pb)[k] = 0.05f * (float)((k * 7919) % 13 - 6);
    double la = task_loss(&a, 9, 0, 8, false), lb = task_loss(&b, 9, 0, 8, false);
    CHECK_MSG(isfinite(la) && isfinite(lb) && la != lb, "loss %.8f without pure noise, %.8f with half", la, lb);
    silt_train_task_free(&a);
    silt_train_task_free(&b);
}

// Category weights: the weighted batch is world_train_item's items, and the
// task trains on them (its loss moves with the mix); the defaults add no key.
static void test_category_weights(void) {
    enum { B = 5, S = 32 };
    const int64_t npix = 3 * S * S;
    int w[WORLD_CAT_COUNT] = {0};
    w[WORLD_CAT_POSITION] = 1;
    float *x = malloc(sizeof(float) * B * npix), *ref = malloc(sizeof(float) * npix);
    static float mask[B * S * S], cover[WORLD_MAX_OBJECTS * S * S];
    world_item items[B];
    for (int threads = 1; threads <= 2; threads++) {
#ifdef _OPENMP
        omp_set_num_threads(threads);
#endif
        memset(mask, 0xff, sizeof mask);
        CHECK_OK(silt_train_render_batch_weighted(9, 3, B, S, w, x, items, mask));
        for (int i = 0; i < B; i++) {
            world_item it;
            CHECK_OK(world_train_item(9, 3 + i, w, &it));
            CHECK_OK(world_render(&it.scene, S, ref, NULL, cover));
            bool same = items[i].category == WORLD_CAT_POSITION && !strcmp(items[i].caption, it.caption);
            for (int64_t k = 0; k < npix; k++) same = same && x[i * npix + k] == 2.0f * ref[k] - 1.0f;
            CHECK_MSG(same, "weighted batch item %d ('%s') is not world_train_item's position item", i, items[i].caption);
            // The object mask: the union of the objects' coverage (two objects here).
            int off = 0, covered = 0;
            for (int k = 0; k < S * S; k++) {
                float v = fmaxf(cover[k], cover[S * S + k]);
                off += mask[i * S * S + k] != v, covered += v > 0;
            }
            CHECK_MSG(off == 0 && covered > 10 && it.scene.n_objects == 2,
                      "item %d at %d threads: %d mask pixels off, %d covered", i, threads, off, covered);
        }
    }
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    free(x);
    free(ref);
    silt_train_task a = {0}, b = {0};
    CHECK_OK(silt_train_mmdit_create(clip_path, "tiny", 1, &a));
    CHECK_OK(silt_train_mmdit_create(clip_path, "tiny", 1, &b));
    if (!a.self || !b.self) return;
    int def[WORLD_CAT_COUNT];
    world_train_weights(def);
    CHECK_OK(silt_train_mmdit_set_category_weights(&a, def));
    CHECK(!strstr(a.config, "aux_category_weights"));
    CHECK_OK(silt_train_mmdit_set_category_weights(&b, w));
    CHECK(strstr(b.config, "\"aux_category_weights\": [0, 0, 0, 0, 1, 0, 0]") != NULL);
    CHECK(silt_train_mmdit_set_category_weights(&b, def) == SILT_ERR_ARG);
    double la = task_loss(&a, 9, 0, 4, false), lb = task_loss(&b, 9, 0, 4, false);
    CHECK_MSG(isfinite(la) && isfinite(lb) && la != lb, "loss %.8f with the default mix, %.8f with position only", la, lb);
    int zero[WORLD_CAT_COUNT] = {0};
    silt_train_task c = {0};
    CHECK_OK(silt_train_mmdit_create(clip_path, "tiny", 1, &c));
    CHECK(silt_train_mmdit_set_category_weights(&c, zero) == SILT_ERR_ARG);
    silt_train_task_free(&a);
    silt_train_task_free(&b);
    silt_train_task_free(&c);
}

int main(void) {
#ifdef _OPENMP
    omp_set_num_threads(1);  // bit-reproducible sums; a shared 2-core machine
#endif
    snprintf(tmpdir, sizeof tmpdir, "/tmp/silt_test_train_mmdit_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    make_clip();
    test_render_batch();
    test_presets();
    test_task();
    test_train_export();
    test_repa();
    test_words();
    test_time_shift();
    test_category_weights();
    test_pure_noise();
    test_config_add_aux();
    test_rm_tree(tmpdir);
    return check_summary();
}
