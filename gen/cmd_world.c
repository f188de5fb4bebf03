// gen world render|prompts|clip-eval: scenes and prompt suites of the built-in world.
// gen eval: world-eval on an image file.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/image.h"
#include "core/json.h"
#include "gen/args.h"
#include "gen/commands.h"
#include "gen/lib/train_arch.h"
#include "gen/lib/world_test_model.h"
#include "var/vqvae.h"
#include "text/world_clip.h"
#include "text/world_tokenizer.h"
#include "world/eval.h"
#include "world/scene.h"
#include "world/suites.h"

static const char *const suite_choices[] = {"train", "eval", "heldout", NULL};
static const char *const size_choices[] = {"32", "64", NULL};

// Drops unknown words from a prompt, warning about them on stderr. Returns
// the cleaned prompt in out (n bytes).
static void clean_prompt(const char *prompt, char *out, size_t n) {
    int32_t ids[64];
    char unknown[256];
    int nu = txt_world_tokenize(prompt, ids, 64, unknown, sizeof unknown);
    if (nu > 0) fprintf(stderr, "gen: warning: unknown word%s ignored: %s\n", nu > 1 ? "s" : "", unknown);
    out[0] = 0;
    size_t pos = 0, len = 0;
    char w[64];
    while (world_caption_next_word(prompt, &pos, w, sizeof w)) {
        if (world_vocab_find(w) < 0) continue;
        size_t l = strlen(w);
        if (len + l + 2 > n) break;
        if (len) out[len++] = ' ';
        memcpy(out + len, w, l + 1);
        len += l;
    }
}

static int world_render_cmd(int argc, char **argv) {
    int index = 0, seed = 0, suite = 1, size = 0, upscale = 256;
    const char *out = "world.png", *prompt = NULL;
    bool native = false;
    arg_spec specs[] = {
        {"index", 'i', ARG_INT, &index, "N", "item of the suite (eval 0..503, heldout 0..143, train any)", NULL, 0, 2147483647},
        {"seed", 's', ARG_INT, &seed, "S", "train: the sampler's seed; eval/heldout: 0 is the prompt's own scene, others redraw it", NULL, 0, 2147483647},
        {"suite", 0, ARG_CHOICE, &suite, "NAME", "prompt suite", suite_choices, 0, -1},
        {"prompt", 'p', ARG_STR, &prompt, "TEXT", "render a scene for this caption instead (drawn from seed and index)", NULL, 0, -1},
        {"size", 0, ARG_CHOICE, &size, "PX", "render resolution", size_choices, 0, -1},
        {"native", 0, ARG_BOOL, &native, "", "write the render at its own size (no upscaling)", NULL, 0, -1},
        {"upscale", 0, ARG_INT, &upscale, "PX", "side of the written PNG (nearest neighbour), unless --native", NULL, 32, 4096},
        {"output", 'o', ARG_STR, &out, "PATH", "PNG to write (the caption goes into its parameters chunk)", NULL, 0, -1},
    };
    const char *pos[1];
    arg_parser p = {"gen world render", "gen world render [--suite eval|train|heldout] [--index N] [--seed S] [--size 32|64] [-o out.png]",
                    "Render a captioned scene of the built-in world; prints the caption.", specs,
                    (int)(sizeof specs / sizeof *specs), pos, 0, 0};
    int rc = args_parse(&p, argc, argv);
    if (rc) return rc == 1 ? 0 : rc;
    int px = size ? 64 : 32;
    if (!native && upscale % px)
        return args_usage_error(&p, "--upscale %d: must be a multiple of the render size %d (so that gen eval can read it back)",
                                upscale, px);
    world_item it;
    memset(&it, 0, sizeof it);
    if (prompt) {
        char clean[WORLD_CAPTION_MAX * 2];
        clean_prompt(prompt, clean, sizeof clean);
        if (world_caption_parse(clean, &it.reqs) != SILT_OK) return args_usage_error(&p, "--prompt: %s", silt_last_error_message());
        silt_rng rng = silt_rng_init((uint64_t)seed, (uint64_t)index);
        silt_status st = world_scene_for_reqs(&it.reqs, 0, &rng, &it.scene);
        if (st == SILT_ERR_ARG) return args_usage_error(&p, "--prompt: %s", silt_last_error_message());
        if (st != SILT_OK) return gen_fail("prompt");
        world_caption_format(&it.reqs, it.caption, sizeof it.caption);
        it.category = world_reqs_category(&it.reqs);
        it.seed = (uint64_t)seed;
    } else {
        int64_t n = world_suite_size((world_suite)suite);
        if (n >= 0 && index >= n)
            return args_usage_error(&p, "--index %d: the %s suite has %lld items (0..%lld)", index, suite_choices[suite], (long long)n,
                                    (long long)n - 1);
        if (world_suite_item((world_suite)suite, (uint64_t)seed, index, &it) != SILT_OK) return gen_fail("world");
    }
    silt_image *im = silt_image_create(px, px, 3), *big = NULL;
    if (!im) return gen_fail("render");
    int status = 1;
    if (world_render(&it.scene, px, NULL, im->data, NULL) != SILT_OK) { gen_fail("render"); goto done; }
    if (!native && upscale != px && silt_image_resize_nearest(im, upscale, upscale, &big) != SILT_OK) { gen_fail("upscale"); goto done; }
    char params[512];
    snprintf(params, sizeof params, "%s\nworld: suite %s, index %d, seed %llu, category %s, size %d, silt %s", it.caption,
             prompt ? "prompt" : suite_choices[suite], index, (unsigned long long)it.seed, world_category_name(it.category), px,
             SILT_VERSION);
    if (silt_image_write_png(big ? big : im, out, params) != SILT_OK) { gen_fail(out); goto done; }
    printf("%s\n", it.caption);
    fprintf(stderr, "wrote %s\n", out);
    status = 0;
done:
    silt_image_free(im);
    silt_image_free(big);
    return status;
}

static int world_prompts_cmd(int argc, char **argv) {
    int suite = 1;
    bool json = false;
    arg_spec specs[] = {
        {"suite", 0, ARG_CHOICE, &suite, "NAME", "prompt suite (eval or heldout; train is unbounded)", suite_choices, 0, -1},
        {"json", 0, ARG_BOOL, &json, "", "print a JSON array", NULL, 0, -1},
    };
    const char *pos[1];
    arg_parser p = {"gen world prompts", "gen world prompts [--suite eval|heldout] [--json]",
                    "List a fixed prompt suite: index, category, seed, caption.", specs, (int)(sizeof specs / sizeof *specs), pos, 0, 0};
    int rc = args_parse(&p, argc, argv);
    if (rc) return rc == 1 ? 0 : rc;
    int64_t n = world_suite_size((world_suite)suite);
    if (n < 0) return args_usage_error(&p, "--suite train has no fixed list (use gen world render --suite train --index N)");
    silt_json_buf b = {0};
    if (json) silt_json_buf_printf(&b, "[\n");
    for (int64_t i = 0; i < n; i++) {
        world_item it;
        if (world_suite_item((world_suite)suite, 0, i, &it) != SILT_OK) {
            silt_json_buf_free(&b);
            return gen_fail("world");
        }
        if (json) {
            silt_json_buf_printf(&b, "  {\"index\": %lld, \"category\": \"%s\", \"seed\": %llu, \"prompt\": ", (long long)i,
                                 world_category_name(it.category), (unsigned long long)it.seed);
            silt_json_buf_string(&b, it.caption, strlen(it.caption));
            silt_json_buf_printf(&b, "}%s\n", i + 1 < n ? "," : "");
        } else {
            printf("%lld\t%s\t%llu\t%s\n", (long long)i, world_category_name(it.category), (unsigned long long)it.seed, it.caption);
        }
    }
    if (json) {
        silt_json_buf_printf(&b, "]\n");
        if (b.failed) { silt_json_buf_free(&b); fprintf(stderr, "gen: out of memory\n"); return 1; }
        fwrite(b.data, 1, b.len, stdout);
        silt_json_buf_free(&b);
    }
    return 0;
}

// Retrieval accuracy of a world-CLIP model (a wclip_save file or a
// `gen train --arch clip` checkpoint) over a fixed suite.
static int world_clip_eval_cmd(int argc, char **argv) {
    const char *clip = NULL;
    int suite = 1, limit = 0, group = 32;
    bool json = false;
    arg_spec specs[] = {
        {"clip", 'c', ARG_STR, &clip, "FILE", "world-CLIP model or training checkpoint (EMA weights when present)", NULL, 0, -1},
        {"suite", 0, ARG_CHOICE, &suite, "NAME", "prompt suite (eval or heldout)", suite_choices, 0, -1},
        {"limit", 'n', ARG_INT, &limit, "N", "first N items (0: the whole suite)", NULL, 0, 2147483647},
        {"group", 'g', ARG_INT, &group, "G", "candidates per retrieval (consecutive items; a partial last group is dropped)", NULL, 2, 4096},
        {"json", 0, ARG_BOOL, &json, "", "print the result as JSON", NULL, 0, -1},
    };
    const char *pos[1];
    arg_parser p = {"gen world clip-eval", "gen world clip-eval --clip FILE [--suite eval|heldout] [--limit N] [--group G] [--json]",
                    "Top-1 retrieval accuracy of a world-CLIP among G candidates, caption->image and image->caption.",
                    specs, (int)(sizeof specs / sizeof *specs), pos, 0, 0};
    int rc = args_parse(&p, argc, argv);
    if (rc) return rc == 1 ? 0 : rc;
    if (!clip) return args_usage_error(&p, "--clip is required");
    int64_t n = world_suite_size((world_suite)suite);
    if (n < 0) return args_usage_error(&p, "--suite train has no fixed list");
    if (limit > 0 && limit < n) n = limit;
    if (n < group) return args_usage_error(&p, "--limit %lld is less than one group of %d", (long long)n, group);
    wclip_model *m = NULL;
    if (wclip_load_file(clip, &m) != SILT_OK) return gen_fail(clip);
    double t2i = 0, i2t = 0;
    silt_status s = wclip_retrieval_accuracy(m, (world_suite)suite, 0, n, group, &t2i, &i2t);
    wclip_free(m);
    if (s) return gen_fail("clip-eval");
    long long used = (long long)(n / group * group);
    if (json)
        printf("{\"suite\": \"%s\", \"items\": %lld, \"group\": %d, \"top1_txt2img\": %.6f, \"top1_img2txt\": %.6f}\n",
               world_suite_name((world_suite)suite), used, group, t2i, i2t);
    else
        printf("%s: %lld items in groups of %d (chance %.4f): txt->img top-1 %.4f, img->txt top-1 %.4f\n",
               world_suite_name((world_suite)suite), used, group, 1.0 / group, t2i, i2t);
    return 0;
}

// Reconstruction quality of a world VQ tokenizer (`gen train --arch vq`):
// each suite item's reference render (32 px, [-1, 1]) is encoded to its
// multi-scale indices and decoded; reports PSNR (pixels in [0, 1]), the
// world-eval pass rate of the reconstructions against the item's caption
// (a tokenizer the VAR can use must keep shapes the evaluator accepts), and
// the share of the codebook used. With --ae instead of --vq: a world
// autoencoder (`gen train --arch ae`), decoded from its continuous latent.
static int world_vq_eval_cmd(int argc, char **argv) {
    const char *vq_path = NULL, *ae_path = NULL, *dump = NULL;
    int suite = 1, limit = 0;
    bool json = false;
    arg_spec specs[] = {
        {"vq", 0, ARG_STR, &vq_path, "FILE", "VQ tokenizer: a `gen train --arch vq` model, checkpoint (EMA weights) or run dir", NULL, 0, -1},
        {"ae", 0, ARG_STR, &ae_path, "FILE", "instead of --vq: a world autoencoder (`gen train --arch ae` model, checkpoint or run dir), no quantiser", NULL, 0, -1},
        {"suite", 0, ARG_CHOICE, &suite, "NAME", "prompt suite (eval or heldout)", suite_choices, 0, -1},
        {"limit", 'n', ARG_INT, &limit, "N", "first N items (0: the whole suite)", NULL, 0, 2147483647},
        {"json", 0, ARG_BOOL, &json, "", "print the result as JSON", NULL, 0, -1},
        {"dump", 0, ARG_STR, &dump, "DIR", "also write each reconstruction as DIR/<item>.png (32 px, caption and pass/fail in its parameters; DIR must exist)", NULL, 0, -1},
    };
    const char *pos[1];
    arg_parser p = {"gen world vq-eval", "gen world vq-eval --vq|--ae FILE [--suite eval|heldout] [--limit N] [--json]",
                    "Encode and decode each suite item's reference render with a world VQ tokenizer (or a world\n"
                    "autoencoder): PSNR, world-eval pass rate of the reconstructions, codebook usage (tokenizers).",
                    specs, (int)(sizeof specs / sizeof *specs), pos, 0, 0};
    int rc = args_parse(&p, argc, argv);
    if (rc) return rc == 1 ? 0 : rc;
    if (!vq_path == !ae_path) return args_usage_error(&p, "give one of --vq FILE and --ae FILE");
    const bool continuous = ae_path != NULL;
    if (continuous) vq_path = ae_path;
    int64_t n = world_suite_size((world_suite)suite);
    if (n < 0) return args_usage_error(&p, "--suite train has no fixed list");
    if (limit > 0 && limit < n) n = limit;
    char path[4096];
    var_vqvae *vq = NULL;
    if (silt_train_resolve_path(vq_path, path, sizeof path, "tokenizer") != SILT_OK ||
        var_vq_load_file(path, &vq) != SILT_OK)
        return gen_fail(vq_path);
    const var_vq_config *c = var_vq_get_config(vq);
    const int S = c->patch_nums[c->n_scales - 1] * c->downsample, B = 16;
    const int64_t npix = 3 * (int64_t)S * S;
    silt_graph *g = silt_graph_create(0);
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)(B * c->L));
    uint8_t *used = calloc((size_t)c->vocab_size, 1), *rgb8 = malloc((size_t)npix);
    world_item *items = malloc(sizeof(world_item) * B);
    double se = 0, passed = 0;
    int status = 0;
    if (!g || !idx || !used || !rgb8 || !items) { status = gen_fail("vq-eval: out of memory"); goto done; }
    silt_graph_set_grad(g, false);
    for (int64_t i0 = 0; i0 < n; i0 += B) {
        int b = (int)(n - i0 < B ? n - i0 : B);
        silt_graph_reset(g);
        silt_tensor *img = silt_graph_new(g, b, 3, S, S);
        silt_status s = img ? SILT_OK : silt_graph_status(g);
        for (int k = 0; k < b && !s; k++) {
            float *x = silt_f32(img) + k * npix;
            s = world_suite_item((world_suite)suite, 0, i0 + k, &items[k]);
            if (!s) s = world_render(&items[k].scene, S, x, NULL, NULL);
            for (int64_t q = 0; !s && q < npix; q++) x[q] = 2.0f * x[q] - 1.0f;
        }
        silt_tensor *rec = NULL;
        if (!s && continuous) {
            rec = var_vq_fhat_to_img(g, vq, var_vq_encode_features(g, vq, img), true);
        } else if (!s) {
            s = var_vq_encode(g, vq, img, idx);
            rec = s ? NULL : var_vq_decode(g, vq, idx, b);
            for (int64_t q = 0; rec && q < b * c->L; q++)
                if (idx[q] >= 0 && idx[q] < c->vocab_size) used[idx[q]] = 1;
        }
        if (!s && !rec) s = silt_graph_status(g);
        if (s) { status = gen_fail("vq-eval"); goto done; }
        for (int k = 0; k < b; k++) {
            const float *x = silt_f32(img) + k * npix, *y = silt_f32(rec) + k * npix;
            for (int64_t q = 0; q < npix; q++) {
                double d = 0.5 * ((double)y[q] - x[q]);  // [0, 1] pixel units
                se += d * d;
            }
            for (int64_t q = 0; q < (int64_t)S * S; q++)  // CHW [-1, 1] -> HWC bytes
                for (int ch = 0; ch < 3; ch++) {
                    double v = 127.5 * ((double)y[ch * S * S + q] + 1.0);
                    rgb8[q * 3 + ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
                }
            world_eval_result r;
            if (world_eval_image_reqs(rgb8, S, S, &items[k].reqs, &r) != SILT_OK) { status = gen_fail("vq-eval"); goto done; }
            passed += r.pass;
            if (dump) {
                char file[4096 + 32], params[WORLD_CAPTION_MAX + 32];
                snprintf(file, sizeof file, "%s/%03lld.png", dump, (long long)(i0 + k));
                snprintf(params, sizeof params, "%s\nreconstruction: %s", items[k].caption, r.pass ? "pass" : "fail");
                silt_image im = {.w = S, .h = S, .c = 3, .data = rgb8};
                if (silt_image_write_png(&im, file, params) != SILT_OK) { status = gen_fail(file); goto done; }
            }
        }
    }
    {
        double mse = se / ((double)n * (double)npix), psnr = mse > 0 ? 10.0 * log10(1.0 / mse) : INFINITY;
        int nused = 0;
        for (int v = 0; v < c->vocab_size; v++) nused += used[v];
        if (json && continuous)
            printf("{\"suite\": \"%s\", \"items\": %lld, \"psnr\": %.4f, \"recon_pass\": %.6f}\n",
                   world_suite_name((world_suite)suite), (long long)n, psnr, passed / (double)n);
        else if (json)
            printf("{\"suite\": \"%s\", \"items\": %lld, \"psnr\": %.4f, \"recon_pass\": %.6f, \"codes_used\": %d, \"codebook\": %d}\n",
                   world_suite_name((world_suite)suite), (long long)n, psnr, passed / (double)n, nused, c->vocab_size);
        else if (continuous)
            printf("%s: %lld items: PSNR %.2f dB, world-eval pass rate of the reconstructions %.4f\n",
                   world_suite_name((world_suite)suite), (long long)n, psnr, passed / (double)n);
        else
            printf("%s: %lld items: PSNR %.2f dB, world-eval pass rate of the reconstructions %.4f, codes used %d of %d\n",
                   world_suite_name((world_suite)suite), (long long)n, psnr, passed / (double)n, nused, c->vocab_size);
    }
done:
    free(items);
    free(rgb8);
    free(used);
    free(idx);
    silt_graph_free(g);
    var_vq_free(vq);
    return status;
}

// A tiny random world MMDiT for tests (gen/lib/world_test_model.h).
static int world_test_model_cmd(int argc, char **argv) {
    silt_world_test_model_params tp = silt_world_test_model_default_params();
    const char *out = NULL;
    int joint = tp.joint_dim, pooled = tp.pooled_dim, seed = 0, steps = tp.steps;
    double shift = tp.shift, cfg = tp.cfg;
    arg_spec specs[] = {
        {"output", 'o', ARG_STR, &out, "PATH", "model file to write (.safetensors[.zst]); required", NULL, 0, -1},
        {"joint", 0, ARG_INT, &joint, "N", "context width: the world-CLIP's text width", NULL, 1, 4096},
        {"pooled", 0, ARG_INT, &pooled, "N", "pooled width: the world-CLIP's embed_dim", NULL, 1, 4096},
        {"seed", 's', ARG_INT, &seed, "S", "weights seed", NULL, 0, 2147483647},
        {"steps", 0, ARG_INT, &steps, "N", "silt.steps metadata (the default steps)", NULL, 1, 1000},
        {"shift", 0, ARG_FLOAT, &shift, "K", "silt.shift metadata", NULL, 0.01, 100},
        {"cfg", 0, ARG_FLOAT, &cfg, "G", "silt.cfg metadata", NULL, -100, 100},
    };
    const char *pos[1];
    arg_parser p = {"gen world test-model", "gen world test-model -o FILE [--joint N] [--pooled N] [--seed S]",
                    "Write a tiny RANDOM (untrained) world MMDiT with the built-in model's layout and metadata, for tests:\n"
                    "depth 2, 2 heads, hidden 16, patch 2, 32 px.",
                    specs, (int)(sizeof specs / sizeof *specs), pos, 0, 0};
    int rc = args_parse(&p, argc, argv);
    if (rc) return rc == 1 ? 0 : rc;
    if (!out) return args_usage_error(&p, "--output FILE is required");
    tp.joint_dim = joint, tp.pooled_dim = pooled, tp.seed = (uint64_t)seed, tp.steps = steps, tp.shift = shift, tp.cfg = cfg;
    if (silt_world_test_model_write(&tp, out) != SILT_OK) return gen_fail(out);
    fprintf(stderr, "wrote %s\n", out);
    return 0;
}

int cmd_world(int argc, char **argv) {
    const char *usage = "usage: gen world render|prompts|clip-eval|vq-eval|harvest|test-model [options]  (see gen world render --help)\n";
    if (argc < 1) { fputs(usage, stderr); return 2; }
    if (!strcmp(argv[0], "render")) return world_render_cmd(argc - 1, argv + 1);
    if (!strcmp(argv[0], "prompts")) return world_prompts_cmd(argc - 1, argv + 1);
    if (!strcmp(argv[0], "clip-eval")) return world_clip_eval_cmd(argc - 1, argv + 1);
    if (!strcmp(argv[0], "test-model")) return world_test_model_cmd(argc - 1, argv + 1);
    if (!strcmp(argv[0], "vq-eval")) return world_vq_eval_cmd(argc - 1, argv + 1);
    if (!strcmp(argv[0], "harvest")) return world_harvest_cmd(argc - 1, argv + 1);
    if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        printf("%s\n  render   render a captioned scene (a suite item or a caption) to PNG\n"
               "  prompts  list the eval or heldout prompt suite\n"
               "  clip-eval  retrieval accuracy of a world-CLIP model on a suite\n"
               "  vq-eval  reconstruction quality of a world VQ tokenizer (or autoencoder) on a suite\n"
               "  harvest  a world MMDiT's verified self-samples (gen train --arch mmdit --samples)\n"
               "  test-model write a tiny random world MMDiT (for tests)\n", usage);
        return 0;
    }
    fprintf(stderr, "gen: world: unknown subcommand '%s' (expected render, prompts, clip-eval, vq-eval, harvest or test-model)\n", argv[0]);
    return 2;
}

// ---- gen eval ---------------------------------------------------------------------

static void print_json(const char *image, const char *caption, const world_reqs *reqs, const world_eval_result *r,
                       const char *unknown) {
    silt_json_buf b = {0};
    silt_json_buf_printf(&b, "{\n  \"image\": ");
    silt_json_buf_string(&b, image, strlen(image));
    silt_json_buf_printf(&b, ",\n  \"prompt\": ");
    silt_json_buf_string(&b, caption, strlen(caption));
    silt_json_buf_printf(&b, ",\n  \"category\": \"%s\",\n  \"pass\": %s,\n  \"score\": %.6g,\n  \"requirements\": [",
                         world_category_name(world_reqs_category(reqs)), r->pass ? "true" : "false", r->score);
    for (int i = 0; i < r->check.n_reqs; i++) {
        const world_req_result *q = &r->check.reqs[i];
        silt_json_buf_printf(&b, "%s\n    {\"kind\": \"%s\", \"met\": %s, \"text\": ", i ? "," : "", world_req_kind_name(q->kind),
                             q->met ? "true" : "false");
        silt_json_buf_string(&b, q->text, strlen(q->text));
        silt_json_buf_printf(&b, "}");
    }
    silt_json_buf_printf(&b, "\n  ],\n  \"background\": {\"style\": \"%s\", \"c1\": [%.1f, %.1f, %.1f], \"c2\": [%.1f, %.1f, %.1f]},\n",
                         world_bg_style_name(r->bg_style), r->bg_c1[0], r->bg_c1[1], r->bg_c1[2], r->bg_c2[0], r->bg_c2[1],
                         r->bg_c2[2]);
    silt_json_buf_printf(&b, "  \"analysed_size\": %d,\n  \"objects\": [", r->analysed_size);
    for (int i = 0; i < r->n_detections; i++) {
        const world_detection *d = &r->det[i];
        char shape[16];
        snprintf(shape, sizeof shape, d->shape >= 0 ? "\"%s\"" : "null", d->shape >= 0 ? world_shape_name((world_shape)d->shape) : "");
        silt_json_buf_printf(&b,
                             "%s\n    {\"shape\": %s, \"colour\": \"%s\", \"size\": \"%s\", \"x\": %.3f, \"y\": %.3f, "
                             "\"extent\": %.3f, \"area\": %.3f, \"fit_error\": %.4f}",
                             i ? "," : "", shape, world_colour_name(d->colour), world_size_name(d->size), d->cx, d->cy, d->extent,
                             d->area, d->fit_error);
    }
    silt_json_buf_printf(&b, "\n  ],\n  \"unknown_words\": [");
    size_t pos = 0;
    char w[64];
    for (int k = 0; world_caption_next_word(unknown, &pos, w, sizeof w); k++) {
        silt_json_buf_printf(&b, "%s", k ? ", " : "");
        silt_json_buf_string(&b, w, strlen(w));
    }
    silt_json_buf_printf(&b, "]\n}\n");
    if (!b.failed) fwrite(b.data, 1, b.len, stdout);
    silt_json_buf_free(&b);
}

int cmd_eval(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--suite") || !strncmp(argv[i], "--suite=", 8)) return cmd_eval_suite(argc, argv);
    const char *image = NULL, *prompt = NULL;
    bool json = false;
    arg_spec specs[] = {
        {"image", 'i', ARG_STR, &image, "FILE", "image to judge (PNG or JPEG; square, 32, 64 or a multiple of 32 pixels)", NULL, 0, -1},
        {"prompt", 'p', ARG_STR, &prompt, "TEXT", "caption to judge it against (default: the first line of the PNG's parameters)", NULL, 0, -1},
        {"json", 0, ARG_BOOL, &json, "", "print the result as JSON", NULL, 0, -1},
    };
    const char *pos[1];
    arg_parser p = {"gen eval", "gen eval --image FILE [--prompt TEXT] [--json]\n"
                    "       gen eval --suite eval|heldout [--model M] [--guidance MODE ...] [--limit N] [--json]  (see gen eval --suite eval --help)",
                    "Judge an image against a world caption (world-eval): pass/fail, soft score, per-requirement "
                    "breakdown.\nWith --suite: world-GenEval, world-CLIP score and world-FD of a model over a prompt suite.\n"
                    "Exit status 0 whether the caption holds or not (see the output); 1 for an unreadable image.",
                    specs, (int)(sizeof specs / sizeof *specs), pos, 0, 0};
    int rc = args_parse(&p, argc, argv);
    if (rc) return rc == 1 ? 0 : rc;
    if (!image) return args_usage_error(&p, "--image is required");
    silt_image *im = NULL;
    char *stored = NULL;
    if (silt_image_read(image, &im) != SILT_OK) return gen_fail(image);
    int status = 1;
    uint8_t *rgb = NULL;
    if (!prompt) {
        if (silt_image_read_png_text(image, "parameters", &stored) != SILT_OK || !stored) {
            silt_image_free(im);
            free(stored);
            return args_usage_error(&p, "--prompt is required (%s has no parameters chunk to take it from)", image);
        }
        stored[strcspn(stored, "\n")] = 0;
        prompt = stored;
    }
    char clean[512], unknown[256] = "";
    int32_t ids[64];
    txt_world_tokenize(prompt, ids, 64, unknown, sizeof unknown);
    clean_prompt(prompt, clean, sizeof clean);
    world_reqs reqs;
    if (world_caption_parse(clean, &reqs) != SILT_OK) {
        status = args_usage_error(&p, "--prompt: %s", silt_last_error_message());
        goto done;
    }
    rgb = malloc((size_t)im->w * (size_t)im->h * 3);
    if (!rgb) { fprintf(stderr, "gen: out of memory\n"); goto done; }
    for (size_t q = 0; q < (size_t)im->w * (size_t)im->h; q++) memcpy(rgb + q * 3, im->data + q * (size_t)im->c, 3);
    world_eval_result r;
    if (world_eval_image_reqs(rgb, im->w, im->h, &reqs, &r) != SILT_OK) { gen_fail(image); goto done; }
    char caption[WORLD_CAPTION_MAX];
    world_caption_format(&reqs, caption, sizeof caption);
    if (json) {
        print_json(image, caption, &reqs, &r, unknown);
    } else {
        printf("%s  score %.3f  \"%s\"\n", r.pass ? "pass" : "fail", r.score, caption);
        for (int i = 0; i < r.check.n_reqs; i++) printf("  [%s] %s\n", r.check.reqs[i].met ? "ok" : "--", r.check.reqs[i].text);
        printf("background: %s\nobjects: %d\n", world_bg_style_name(r.bg_style), r.n_detections);
        for (int i = 0; i < r.n_detections; i++) {
            const world_detection *d = &r.det[i];
            printf("  %s %s %s at (%.1f, %.1f)\n", world_size_name(d->size), world_colour_name(d->colour),
                   d->shape >= 0 ? world_shape_name((world_shape)d->shape) : "(no shape)", d->cx, d->cy);
        }
    }
    status = 0;
done:
    free(rgb);
    free(stored);
    silt_image_free(im);
    return status;
}
