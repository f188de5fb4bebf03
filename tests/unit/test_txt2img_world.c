// World text conditioning in the txt2img pipeline (gen/lib/txt2img.h) on a
// tiny random world MMDiT and a tiny random world-CLIP: one flow step with
// CFG reproduces the model called by hand (ctx = world-CLIP tokens, pooled =
// its pooled embedding, t = 1000 sigma, negative = the "" caption);
// metadata defaults; unknown words dropped; a batch of prompts with per-image
// seeds equals single runs; the negative prompt matters; errors for the
// wrong inputs; the built-in lookup through $SILT_MODELS; and the suite
// harness (gen/lib/suite_eval.h): render scores 1 and FD ~0, noise and
// shuffled score low, the batch size does not change the result; best-of-n
// keeps the candidate its reward scores highest.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/graph.h"
#include "core/rng.h"
#include "dit/mmdit.h"
#include "gen/lib/models.h"
#include "gen/lib/suite_eval.h"
#include "gen/lib/txt2img.h"
#include "gen/lib/world_test_model.h"
#include "text/world_clip.h"
#include "text/world_tokenizer.h"
#include "var/search_world.h"

static char dir[] = "/tmp/silt_t2i_world_XXXXXX";
static char model_path[256], clip_path[256], bad_model_path[256];

static wclip_config tiny_clip_config(void) {
    wclip_config c = wclip_default_config();
    c.width = 16, c.layers = 1, c.heads = 2, c.embed_dim = 8, c.img_width = 16, c.img_layers = 1, c.img_heads = 2;
    return c;
}

// v = mmdit(x, 1000 sigma, ctx, pooled) for one image and one caption, by hand.
static int velocity(const mmdit_model *m, const wclip_model *clip, int words, const float *x, float t,
                    const char *caption, float *v) {
    silt_graph *g = silt_graph_create(0);
    silt_graph_set_grad(g, false);
    int32_t ids[TXT_WORLD_MAX_LEN];
    silt_tensor *tok = NULL, *pooled = NULL;
    int ok = wclip_tokenize(clip, caption, ids) == SILT_OK && wclip_encode_context(g, clip, ids, 1, words, &tok, &pooled) == SILT_OK;
    silt_tensor *X = silt_graph_new(g, 1, 3, 32, 32);
    if (ok && X) {
        memcpy(silt_f32(X), x, sizeof(float) * 3 * 32 * 32);
        silt_tensor *out = mmdit_forward(g, m, X, &t, tok, pooled, NULL);
        if (out) memcpy(v, silt_f32(out), sizeof(float) * 3 * 32 * 32);
        ok = out != NULL;
    }
    silt_graph_free(g);
    return ok;
}

static silt_status run1(silt_txt2img *t, silt_txt2img_params p, float *latent) {
    silt_image *im[8] = {0};
    p.latent_out = latent;
    p.progress = false;
    silt_status s = p.batch <= 8 ? silt_txt2img_run(t, &p, im, NULL) : SILT_ERR_ARG;
    for (int b = 0; b < 8; b++) silt_image_free(im[b]);
    return s;
}

// path: the model t runs; words: its context has the word channel.
static void test_reference(silt_txt2img *t, const char *path, int words) {
    enum { N = 3 * 32 * 32 };
    static float noise[N], vc[N], vu[N], want[N], got[N], other[N];
    mmdit_model *m = NULL;
    wclip_model *clip = NULL;
    CHECK_OK(mmdit_load_file(path, &m));
    CHECK_OK(wclip_load_file(clip_path, &clip));
    if (!m || !clip) { mmdit_free(m); wclip_free(clip); return; }
    const char *caption = "a red circle left of a blue square";
    const float g = 3.0f;
    silt_rng_normal(noise, N, 11, 0, 0);
    // One flow_euler step from sigma 1 (t = 1000, shift leaves 1 alone) to 0:
    // x0 = x1 - v, v = v_u + g (v_c - v_u).
    CHECK(velocity(m, clip, words, noise, 1000.0f, caption, vc));
    CHECK(velocity(m, clip, words, noise, 1000.0f, "", vu));
    for (int i = 0; i < N; i++) want[i] = noise[i] - (vu[i] + g * (vc[i] - vu[i]));
    silt_txt2img_params p = silt_txt2img_default_params(t);
    p.sampler.steps = 1;
    p.guide.cfg = g;
    p.prompt = caption;
    p.seed = 11;
    CHECK_OK(run1(t, p, got));
    CHECK_CLOSE("one cfg step = by hand", got, want, N, 1e-5, 1e-5);
    // Unknown words are dropped, case and punctuation as the tokenizer reads them.
    p.prompt = "A shiny red circle, left of a blue dragon square!";
    CHECK_OK(run1(t, p, other));
    CHECK_CLOSE("unknown words dropped", other, got, N, 0, 0);
    // The negative prompt is what the uncond row sees.
    p.prompt = caption;
    p.negative = "a green cross";
    CHECK_OK(run1(t, p, other));
    double d = 0;
    for (int i = 0; i < N; i++) d = fmax(d, fabs(other[i] - got[i]));
    CHECK_MSG(d > 1e-3, "the negative prompt changed nothing (%.3g)", d);
    // Guidance none: the conditional velocity alone.
    p.negative = "";
    p.guide.mode = GUIDE_NONE;
    CHECK_OK(run1(t, p, got));
    for (int i = 0; i < N; i++) want[i] = noise[i] - vc[i];
    CHECK_CLOSE("one unguided step = by hand", got, want, N, 1e-5, 1e-5);
    mmdit_free(m);
    wclip_free(clip);
}

static void test_batch(silt_txt2img *t) {
    enum { N = 3 * 32 * 32, B = 3 };
    static float batch[B * N], one[N];
    const char *prompts[B] = {"a red circle", "two blue squares on a striped background", "a small green cross above a white triangle"};
    const uint64_t seeds[B] = {7, 123456, 42};
    silt_txt2img_params p = silt_txt2img_default_params(t);
    p.guide.mode = GUIDE_SOFTPAG;  // 3 blocks per step: uncond, cond, perturbed
    p.prompts = prompts;
    p.seeds = seeds;
    p.batch = B;
    p.seed = 999;  // ignored for the noise when seeds is set
    CHECK_OK(run1(t, p, batch));
    for (int b = 0; b < B; b++) {
        silt_txt2img_params q = silt_txt2img_default_params(t);
        q.guide.mode = GUIDE_SOFTPAG;
        q.prompt = prompts[b];
        q.seed = seeds[b];
        CHECK_OK(run1(t, q, one));
        CHECK_CLOSE("batch = single runs", batch + (size_t)b * N, one, N, 1e-5, 1e-5);
    }
}

static void test_defaults_and_errors(silt_txt2img *t) {
    const silt_txt2img_info *in = silt_txt2img_get_info(t);
    CHECK(in->world_text && in->family == SILT_FAMILY_MMDIT && in->native_width == 32 && in->depth == 2 && in->heads == 2);
    CHECK(!strcmp(in->clip_path, clip_path));
    CHECK(silt_txt2img_clip(t) != NULL);
    silt_txt2img_params p = silt_txt2img_default_params(t);
    CHECK(p.sampler.sampler == SILT_SAMPLER_FLOW_EULER && p.sampler.steps == 5 && p.sampler.shift == 2.5 &&
          p.guide.cfg == 3.5f && p.negative && !strcmp(p.negative, ""));
    float lat[3 * 32 * 32];
    p.sampler.steps = 1;
    CHECK(run1(t, p, lat) == SILT_ERR_ARG);  // no prompt
    p.prompt = "a circle";
    p.text_embeds = "tests/cli/data/sd3_text_embeds.safetensors";
    CHECK(run1(t, p, lat) == SILT_ERR_ARG);  // embeddings for a world model
    silt_txt2img *u = NULL;
    // A world-CLIP of another width than the model's context.
    CHECK(silt_txt2img_load(bad_model_path, NULL, clip_path, &u) == SILT_ERR_ARG && !u);
    CHECK(strstr(silt_last_error_message(), "the MMDiT takes text tokens of width 24") != NULL);
    // --clip for a model without a built-in text encoder.
    CHECK(silt_txt2img_load("tests/golden/dit_diffusers.model.safetensors", NULL, clip_path, &u) == SILT_ERR_ARG && !u);
}

// The built-in lookup: $SILT_MODELS comes first.
static void test_builtin_lookup(void) {
    char models[300], path[512], found[512];
    snprintf(models, sizeof models, "%s/models", dir);
    CHECK(mkdir(models, 0700) == 0);
    wclip_model *clip = NULL;
    wclip_config cc = tiny_clip_config();
    CHECK_OK(wclip_create(&cc, 5, &clip));
    snprintf(path, sizeof path, "%s/" SILT_MODEL_WORLD_CLIP, models);
    CHECK_OK(wclip_save(clip, path));
    wclip_free(clip);
    setenv("SILT_MODELS", models, 1);
    CHECK_OK(silt_models_find(SILT_MODEL_WORLD_CLIP, found, sizeof found));
    CHECK(!strcmp(found, path));
    silt_txt2img *t = NULL;
    CHECK_OK(silt_txt2img_load(model_path, NULL, NULL, &t));
    CHECK(t && !strcmp(silt_txt2img_get_info(t)->clip_path, path));
    silt_txt2img_free(t);
    CHECK(silt_models_find("no-such-model.safetensors", found, sizeof found) == SILT_ERR_IO);
    CHECK(strstr(silt_last_error_message(), models) && strstr(silt_last_error_message(), "./models"));
    unsetenv("SILT_MODELS");
    remove(path);
    rmdir(models);
}

static void test_suite(silt_txt2img *t) {
    silt_suite_eval_params p = silt_suite_eval_default_params();
    silt_suite_eval_result r, r2;
    wclip_model *clip = NULL;
    wclip_config cc = tiny_clip_config();
    CHECK_OK(wclip_create(&cc, 9, &clip));
    p.limit = 14;
    p.progress = false;
    p.clip = clip;
    p.source = SILT_SUITE_RENDER;
    CHECK_OK(silt_suite_eval_run(&p, &r));
    CHECK(r.n == 14 && r.passed == 14 && r.geneval == 1.0 && r.soft == 1.0 && r.has_clip);
    for (int c = 0; c < WORLD_CAT_COUNT; c++) CHECK(r.cat_n[c] == 2 && r.cat_passed[c] == 2);
    CHECK_MSG(r.fd < 1e-9, "render FD %.3g", r.fd);
    p.source = SILT_SUITE_NOISE;
    CHECK_OK(silt_suite_eval_run(&p, &r));
    CHECK_MSG(r.geneval == 0 && r.soft < 0.2 && r.fd > 0.01, "noise: GenEval %g soft %g FD %g", r.geneval, r.soft, r.fd);
    p.source = SILT_SUITE_SHUFFLED;
    CHECK_OK(silt_suite_eval_run(&p, &r));
    CHECK_MSG(r.geneval < 0.3 && r.soft < 0.6, "shuffled: GenEval %g soft %g", r.geneval, r.soft);
    p.suite = WORLD_SUITE_HELDOUT;
    p.source = SILT_SUITE_RENDER;
    CHECK_OK(silt_suite_eval_run(&p, &r));
    CHECK(r.geneval == 1.0 && r.cat_n[WORLD_CAT_SINGLE_OBJECT] == 0);
    p.suite = WORLD_SUITE_TRAIN;
    CHECK(silt_suite_eval_run(&p, &r) == SILT_ERR_ARG);
    // A model: the batch size changes nothing.
    p.suite = WORLD_SUITE_EVAL;
    p.source = SILT_SUITE_MODEL;
    p.model = t;
    p.gen = silt_txt2img_default_params(t);
    p.gen.sampler.steps = 2;
    p.clip = silt_txt2img_clip(t);
    p.limit = 5;
    p.batch = 1;
    CHECK_OK(silt_suite_eval_run(&p, &r));
    p.batch = 4;
    CHECK_OK(silt_suite_eval_run(&p, &r2));
    CHECK(r.n == 5 && r2.n == 5 && r.passed == r2.passed && r.model_rows == 2 * 2 * 5 && r2.model_rows == r.model_rows);
    CHECK_MSG(fabs(r.clip_score - r2.clip_score) < 1e-3 && fabs(r.fd - r2.fd) < 1e-4, "batch 1 vs 4: clip %g %g, FD %g %g",
              r.clip_score, r2.clip_score, r.fd, r2.fd);
    wclip_free(clip);
}

// Best-of-n on the world MMDiT: candidate k of image b is stream b + k B of
// the seed, so a plain batch of B n images holds every candidate; the kept
// one is the argmax of the reward (here world-CLIP and a separate "judge"),
// n = 1 is the plain image, and the compute is n times.
static double reward_of(const silt_image *im, var_reward_kind kind, const wclip_model *m, const char *prompt) {
    var_world_reward wr;
    float px[3 * 32 * 32];
    double r = NAN;
    if (var_world_reward_init(&wr, kind, m, prompt) != SILT_OK || im->w != 32 || im->h != 32) return NAN;
    for (int ch = 0; ch < 3; ch++)
        for (int q = 0; q < 32 * 32; q++) px[ch * 1024 + q] = im->data[(size_t)q * im->c + ch] / 255.0f;
    return var_world_reward_fn(&wr, px, 1, 32, 32, &r) == SILT_OK ? r : NAN;
}

static void test_best_of_n(silt_txt2img *t) {
    enum { B = 2, N = 3 };
    const char *prompts[B] = {"a red circle left of a blue square", "two yellow triangles"};
    silt_image *all[B * N] = {0}, *got[B] = {0};
    const char *all_prompts[B * N];
    for (int i = 0; i < B * N; i++) all_prompts[i] = prompts[i % B];
    silt_txt2img_params p = silt_txt2img_default_params(t);
    p.sampler.steps = 2;
    p.seed = 11;
    p.prompts = all_prompts;
    p.batch = B * N;
    silt_txt2img_report plain, rep;
    CHECK_OK(silt_txt2img_run(t, &p, all, &plain));
    wclip_model *judge = NULL, *head_judge = NULL;
    wclip_config cc = tiny_clip_config();
    CHECK_OK(wclip_create(&cc, 77, &judge));
    cc.itm_layers = 1;  // a judge with a judge head: its reward is the head's logit + the weighted cosine
    CHECK_OK(wclip_create(&cc, 78, &head_judge));
    var_search_params sp = var_search_default_params(1);
    sp.kind = VAR_SEARCH_BEST_OF_N;
    sp.n = N;
    p.prompts = prompts;
    p.batch = B;
    p.search = &sp;
    p.search_judge = judge;
    const var_reward_kind kinds[3] = {VAR_REWARD_CLIP, VAR_REWARD_JUDGE, VAR_REWARD_JUDGE};
    const wclip_model *judges[3] = {NULL, judge, head_judge};
    for (int r = 0; r < 3; r++) {
        p.search_reward = kinds[r];
        p.search_judge = judges[r] ? judges[r] : judge;
        const wclip_model *scorer = kinds[r] == VAR_REWARD_CLIP ? silt_txt2img_clip(t) : judges[r];
        CHECK_OK(silt_txt2img_run(t, &p, got, &rep));
        CHECK(rep.search_candidates == N && rep.model_rows == plain.model_rows);  // B n rows either way
        for (int b = 0; b < B && got[b]; b++) {
            int best = 0;
            double sc[N];
            for (int k = 0; k < N; k++) {
                sc[k] = reward_of(all[k * B + b], kinds[r], scorer, prompts[b]);
                if (sc[k] > sc[best]) best = k;
            }
            CHECK_MSG(rep.search_pick[b] == best, "reward %s image %d: kept %d, the best is %d (%.4f %.4f %.4f)",
                      var_reward_kind_name(kinds[r]), b, rep.search_pick[b], best, sc[0], sc[1], sc[2]);
            CHECK_MSG(!memcmp(got[b]->data, all[best * B + b]->data, (size_t)32 * 32 * got[b]->c),
                      "reward %s image %d: not the pixels of candidate %d", var_reward_kind_name(kinds[r]), b, best);
            silt_image_free(got[b]);
            got[b] = NULL;
        }
    }
    // The head judge's reward, by hand: its logit + the weight x 100 x its cosine.
    if (all[0]) {
        float px[3 * 32 * 32];
        for (int ch = 0; ch < 3; ch++)
            for (int q = 0; q < 32 * 32; q++) px[ch * 1024 + q] = 2.0f * all[0]->data[(size_t)q * all[0]->c + ch] / 255.0f - 1.0f;
        double logit = NAN, cos = wclip_score(head_judge, px, prompts[0], NULL);
        CHECK_OK(wclip_itm_scores(head_judge, px, &prompts[0], 1, &logit, NULL));
        double want = logit + VAR_JUDGE_COS_WEIGHT * 100.0 * cos, got_r = reward_of(all[0], VAR_REWARD_JUDGE, head_judge, prompts[0]);
        CHECK_MSG(fabs(got_r - want) <= 1e-4 * fmax(1, fabs(want)), "head judge reward %.6f, want %.6f", got_r, want);
    }
    p.search_judge = judge;
    // n = 1: the plain images of a batch of B.
    sp.n = 1;
    p.search_reward = VAR_REWARD_CLIP;
    CHECK_OK(silt_txt2img_run(t, &p, got, &rep));
    silt_txt2img_params q = p;
    q.search = NULL;
    silt_image *plain_b[B] = {0};
    CHECK_OK(silt_txt2img_run(t, &q, plain_b, NULL));
    for (int b = 0; b < B; b++) {
        CHECK(got[b] && plain_b[b] && !memcmp(got[b]->data, plain_b[b]->data, (size_t)32 * 32 * got[b]->c));
        silt_image_free(got[b]), silt_image_free(plain_b[b]);
        got[b] = NULL;
    }
    // Errors: no judge for reward judge, a VAR-only search, noise_out.
    sp.n = 2;
    p.search_reward = VAR_REWARD_JUDGE;
    p.search_judge = NULL;
    CHECK(silt_txt2img_run(t, &p, got, NULL) == SILT_ERR_ARG && !got[0]);
    p.search_judge = judge;
    sp.kind = VAR_SEARCH_TTS;
    CHECK(silt_txt2img_run(t, &p, got, NULL) == SILT_ERR_ARG && !got[0]);
    sp.kind = VAR_SEARCH_BEST_OF_N;
    float noise[2 * 16 * 8 * 8 * 4];
    p.noise_out = noise;
    CHECK(silt_txt2img_run(t, &p, got, NULL) == SILT_ERR_ARG && !got[0]);
    for (int i = 0; i < B * N; i++) silt_image_free(all[i]);
    wclip_free(judge);
    wclip_free(head_judge);
}

int main(void) {
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    snprintf(model_path, sizeof model_path, "%s/world-dit.safetensors", dir);
    snprintf(bad_model_path, sizeof bad_model_path, "%s/bad.safetensors", dir);
    snprintf(clip_path, sizeof clip_path, "%s/clip.safetensors", dir);
    wclip_config cc = tiny_clip_config();
    wclip_model *clip = NULL;
    CHECK_OK(wclip_create(&cc, 3, &clip));
    CHECK_OK(wclip_save(clip, clip_path));
    wclip_free(clip);
    silt_world_test_model_params tp = silt_world_test_model_default_params();
    tp.joint_dim = cc.width, tp.pooled_dim = cc.embed_dim, tp.steps = 5, tp.shift = 2.5, tp.cfg = 3.5, tp.seed = 1;
    CHECK_OK(silt_world_test_model_write(&tp, model_path));
    tp.joint_dim = 24;
    CHECK_OK(silt_world_test_model_write(&tp, bad_model_path));
    silt_txt2img *t = NULL;
    CHECK_OK(silt_txt2img_load(model_path, NULL, clip_path, &t));
    if (t) {
        test_defaults_and_errors(t);
        test_best_of_n(t);
        test_reference(t, model_path, WCLIP_CTX_CLIP);
        test_batch(t);
        test_suite(t);
    }
    silt_txt2img_free(t);
    // A model whose context has the word channel (wclip_encode_context): the
    // pipeline conditions as the trainer does.
    t = NULL;
    tp.joint_dim = cc.width + txt_world_vocab_size() + TXT_WORLD_MAX_LEN;
    CHECK_OK(silt_world_test_model_write(&tp, bad_model_path));
    CHECK_OK(silt_txt2img_load(bad_model_path, NULL, clip_path, &t));
    if (t) test_reference(t, bad_model_path, WCLIP_CTX_WORDS);
    silt_txt2img_free(t);
    // + the relation channel (2 wider): recognised by its width, encoded as
    // the trainer does (the reference caption has "left of": nonzero entries).
    t = NULL;
    tp.joint_dim += WCLIP_RELATION_WIDTH;
    CHECK_OK(silt_world_test_model_write(&tp, bad_model_path));
    CHECK_OK(silt_txt2img_load(bad_model_path, NULL, clip_path, &t));
    if (t) test_reference(t, bad_model_path, WCLIP_CTX_RELATION);
    silt_txt2img_free(t);
    test_builtin_lookup();
    remove(model_path);
    remove(bad_model_path);
    remove(clip_path);
    rmdir(dir);
    return check_summary();
}
