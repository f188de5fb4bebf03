// guidance/: the convention-A combination on hand-worked numbers and against a
// double reference, the step window and adaptive scale, the batch layout, and
// head specs (good and bad, exact layer ids, files).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/safetensors.h"
#include "guidance/guidance.h"

static float plan_u(const guide_step *st, int l, int h) { return silt_perturb_u(guide_step_perturb(st), l, h); }

static void test_names(void) {
    for (int m = 0; m < GUIDE_MODE_COUNT; m++) {
        guide_mode back = GUIDE_MODE_COUNT;
        CHECK_OK(guide_mode_from_name(guide_mode_name((guide_mode)m), &back));
        CHECK(back == (guide_mode)m);
    }
    guide_mode m = GUIDE_CFG;
    CHECK(guide_mode_from_name("PAG", &m) != SILT_OK);  // exact names
    CHECK(guide_mode_from_name("cfgx", &m) != SILT_OK);
    CHECK(strstr(silt_last_error(), "cfgx") != NULL);
    CHECK(m == GUIDE_CFG);
    CHECK(!strcmp(guide_mode_name(GUIDE_SOFTPAG), "softpag"));
    CHECK(!strcmp(guide_mode_name((guide_mode)99), "?"));
    CHECK(!guide_mode_perturbs(GUIDE_CFG) && !guide_mode_perturbs(GUIDE_NONE));
    CHECK(guide_mode_perturbs(GUIDE_SLG) && guide_mode_perturbs(GUIDE_UNIFORM));
    for (int k = 0; k < GUIDE_IDENTITY_COUNT; k++) {
        guide_identity back = GUIDE_IDENTITY_COUNT;
        CHECK_OK(guide_identity_from_name(guide_identity_name((guide_identity)k), &back));
        CHECK(back == (guide_identity)k);
    }
    guide_identity id;
    CHECK(guide_identity_from_name("diag", &id) != SILT_OK);
}

static void test_params(void) {
    guide_params p = guide_default_params();
    CHECK_OK(guide_params_check(&p));
    CHECK(p.mode == GUIDE_CFG && p.cfg == 4.0f && p.scale == 3.0f && p.start == 0.0f && p.stop == 1.0f);
    CHECK(isinf(p.seg_sigma) && p.adaptive == 0.0f);
    guide_params q = p;
    q.start = 0.5f; q.stop = 0.5f;
    CHECK(guide_params_check(&q) == SILT_ERR_ARG);
    q = p; q.stop = 1.5f;
    CHECK(guide_params_check(&q) == SILT_ERR_ARG);
    q = p; q.soft_u = 1.1f;
    CHECK(guide_params_check(&q) == SILT_ERR_ARG);
    q = p; q.adaptive = -1e-3f;
    CHECK(guide_params_check(&q) == SILT_ERR_ARG);
    q = p; q.cfg = NAN;
    CHECK(guide_params_check(&q) == SILT_ERR_ARG);
    q = p; q.seg_sigma = 0;
    CHECK(guide_params_check(&q) == SILT_ERR_ARG);
    CHECK(p.cfg_start == 0.0f && p.cfg_stop == 1.0f);
    q = p; q.cfg_start = 0.3f; q.cfg_stop = 0.3f;
    CHECK(guide_params_check(&q) == SILT_ERR_ARG);
    q = p; q.cfg_start = -0.1f;
    CHECK(guide_params_check(&q) == SILT_ERR_ARG);
    q = p; q.cfg_stop = 1.01f;
    CHECK(guide_params_check(&q) == SILT_ERR_ARG);
}

// The CFG window [cfg_start, cfg_stop): steps outside it run no uncond row
// and take e_c (plus the perturbation term, whose own window is separate).
static void test_cfg_window(void) {
    guide_params p = guide_default_params();
    p.cfg = 4.0f;
    p.cfg_start = 0.3f;  // 0.3 * 10 = 3: steps 0..2 without CFG
    p.cfg_stop = 0.85f;  // 8.5: steps 9.. without
    guide_plan *pl = NULL;
    CHECK_OK(guide_plan_create(&p, NULL, 4, 2, false, &pl));
    const float pred[2] = {1, 3};  // e_u, e_c
    for (int i = 0; i < 10; i++) {
        guide_step st;
        CHECK_OK(guide_plan_step(pl, i, 10, 500.0f, 1, &st));
        const bool on = i >= 3 && i <= 8;
        CHECK_MSG(guide_step_cfg(&p, i, 10) == on, "step %d", i);
        CHECK_MSG(st.n_blocks == (on ? 2 : 1) && st.blk_uncond == (on ? 0 : -1) && st.blk_cond == (on ? 1 : 0),
                  "step %d: %d blocks, uncond %d", i, st.n_blocks, st.blk_uncond);
        float out = 0;
        CHECK_OK(guide_combine(&st, &out, on ? pred : pred + 1, 1, 1, 1));
        CHECK_MSG(out == (on ? 9.0f : 3.0f), "step %d: %g", i, (double)out);
    }
    guide_plan_free(pl);
    // With a perturbation: before cfg_start the step runs [cond, perturbed].
    p.mode = GUIDE_PAG;
    p.scale = 3.0f;
    CHECK_OK(guide_plan_create(&p, NULL, 4, 2, false, &pl));
    guide_step st;
    CHECK_OK(guide_plan_step(pl, 0, 10, 999.0f, 1, &st));
    CHECK(st.n_blocks == 2 && st.blk_uncond == -1 && st.blk_cond == 0 && st.blk_perturbed == 1);
    const float pc[2] = {3, 2};
    float out = 0;
    CHECK_OK(guide_combine(&st, &out, pc, 1, 1, 1));
    CHECK(out == 6.0f);
    CHECK_OK(guide_plan_step(pl, 5, 10, 500.0f, 1, &st));
    CHECK(st.n_blocks == 3 && st.blk_uncond == 0 && st.blk_cond == 1 && st.blk_perturbed == 2);
    guide_plan_free(pl);
    // mode none and g = 1 never run CFG, whatever the window.
    p.mode = GUIDE_NONE;
    CHECK(!guide_step_cfg(&p, 5, 10));
    p.mode = GUIDE_CFG;
    p.cfg = 1.0f;
    CHECK(!guide_step_cfg(&p, 5, 10));
}

// Known numbers: e_u = 1, e_c = 3, e_p = 2, g = 4, s = 3.
static void test_combine_known(void) {
    guide_params p = guide_default_params();
    p.mode = GUIDE_PAG;
    p.cfg = 4.0f;
    p.scale = 3.0f;
    guide_plan *pl = NULL;
    CHECK_OK(guide_plan_create(&p, NULL, 4, 2, false, &pl));
    guide_step st;
    CHECK_OK(guide_plan_step(pl, 0, 10, 999.0f, 1, &st));
    CHECK(st.n_blocks == 3 && st.blk_uncond == 0 && st.blk_cond == 1 && st.blk_perturbed == 2);
    float pred[3] = {1, 3, 2}, out[1] = {0};
    CHECK_OK(guide_combine(&st, out, pred, 1, 1, 1));
    CHECK(out[0] == 1 + 4 * (3 - 1) + 3 * (3 - 2));  // 12
    guide_plan_free(pl);

    p.cfg = 1.0f;  // CFG off: e_c + s (e_c - e_p); ADM's 4.0 is this 3.0
    CHECK_OK(guide_plan_create(&p, NULL, 4, 2, false, &pl));
    CHECK_OK(guide_plan_step(pl, 0, 10, 999.0f, 1, &st));
    CHECK(st.n_blocks == 2 && st.blk_uncond == -1 && st.blk_cond == 0 && st.blk_perturbed == 1);
    float pred2[2] = {3, 2};
    CHECK_OK(guide_combine(&st, out, pred2, 1, 1, 1));
    CHECK(out[0] == 6.0f);
    // Convention B (ADM): e_p + s_B (e_c - e_p) with s_B = 4 gives the same.
    CHECK(out[0] == 2 + 4 * (3 - 2));
    guide_plan_free(pl);

    p.mode = GUIDE_CFG;
    p.cfg = 4.0f;
    CHECK_OK(guide_plan_create(&p, NULL, 4, 2, false, &pl));
    CHECK_OK(guide_plan_step(pl, 0, 10, 999.0f, 1, &st));
    CHECK(st.n_blocks == 2 && st.blk_uncond == 0 && st.blk_cond == 1 && st.blk_perturbed == -1);
    CHECK(guide_step_perturb(&st) == NULL);
    CHECK_OK(guide_combine(&st, out, pred, 1, 1, 1));
    CHECK(out[0] == 9.0f);
    guide_plan_free(pl);

    p.mode = GUIDE_NONE;
    CHECK_OK(guide_plan_create(&p, NULL, 4, 2, false, &pl));
    CHECK_OK(guide_plan_step(pl, 0, 10, 999.0f, 1, &st));
    CHECK(st.n_blocks == 1 && st.blk_cond == 0 && st.blk_uncond == -1 && st.blk_perturbed == -1);
    CHECK_OK(guide_combine(&st, out, pred2, 1, 1, 1));
    CHECK(out[0] == 3.0f);
    guide_plan_free(pl);
}

// Random rows vs a double reference: batch 3, odd channel and pixel counts,
// fewer output channels (DiT's learned sigma dropped), partial guided channels.
static void test_combine_random(void) {
    const int B = 3, C = 7, Cout = 5;
    const int64_t hw = 13;
    int guided_list[3] = {0, 3, 5};
    for (int mode = 0; mode < 4; mode++)
        for (int gi = 0; gi < 3; gi++) {
            guide_params p = guide_default_params();
            p.mode = mode == 0 ? GUIDE_NONE : mode == 1 ? GUIDE_CFG : GUIDE_SOFTPAG;
            p.cfg = mode == 3 ? 1.0f : 2.75f;
            p.scale = 1.6f;
            p.guided_channels = guided_list[gi];
            guide_plan *pl = NULL;
            CHECK_OK(guide_plan_create(&p, NULL, 3, 5, true, &pl));
            guide_step st;
            CHECK_OK(guide_plan_step(pl, 2, 5, 500.0f, B, &st));
            int64_t n = (int64_t)st.n_blocks * B * C * hw;
            float *pred = malloc(sizeof(float) * (size_t)n);
            float *out = malloc(sizeof(float) * (size_t)(B * Cout * hw));
            float *ref = malloc(sizeof(float) * (size_t)(B * Cout * hw));
            test_fill(pred, n, -2, 2);
            int k = p.guided_channels > 0 ? p.guided_channels : Cout;
            for (int b = 0; b < B; b++)
                for (int c = 0; c < Cout; c++)
                    for (int64_t i = 0; i < hw; i++) {
                        int64_t off = ((int64_t)b * C + c) * hw + i;
                        int64_t blk = (int64_t)B * C * hw;
                        double ec = pred[st.blk_cond * blk + off];
                        double e = ec;
                        if (c < k) {
                            if (st.blk_uncond >= 0) {
                                double eu = pred[st.blk_uncond * blk + off];
                                e = eu + (double)p.cfg * (ec - eu);
                            }
                            if (st.blk_perturbed >= 0) e += (double)p.scale * (ec - pred[st.blk_perturbed * blk + off]);
                        }
                        ref[((int64_t)b * Cout + c) * hw + i] = (float)e;
                    }
            CHECK_OK(guide_combine(&st, out, pred, C, Cout, hw));
            CHECK_CLOSE("combine", out, ref, B * Cout * hw, 1e-6, 1e-6);
            int expect_blocks = mode == 0 ? 1 : mode == 1 ? 2 : mode == 2 ? 3 : 2;
            CHECK(st.n_blocks == expect_blocks);
            free(pred);
            free(out);
            free(ref);
            guide_plan_free(pl);
        }
    guide_step bad = {0};
    float x = 0;
    CHECK(guide_combine(&bad, &x, &x, 1, 1, 1) == SILT_ERR_ARG);
}

static void test_window_adaptive(void) {
    guide_params p = guide_default_params();
    p.mode = GUIDE_SLG;
    p.scale = 2.5f;
    p.start = 0.01f;
    p.stop = 0.2f;
    // SD3.5 medium recipe, 28 steps: steps 1..5 (0.28 <= i < 5.6).
    for (int i = 0; i < 28; i++) {
        float s = guide_step_scale(&p, i, 28, 500.0f);
        CHECK_MSG(s == ((i >= 1 && i <= 5) ? 2.5f : 0.0f), "step %d: s %g", i, (double)s);
    }
    p.start = 0.5f;
    p.stop = 1.0f;
    CHECK(guide_step_scale(&p, 4, 10, 0) == 0.0f && guide_step_scale(&p, 5, 10, 0) == 2.5f &&
          guide_step_scale(&p, 9, 10, 0) == 2.5f);
    // Adaptive (diffusers): s(t) = max(0, s - a (1000 - t)).
    p.start = 0.0f;
    p.scale = 3.0f;
    p.adaptive = 0.01f;
    CHECK(fabsf(guide_step_scale(&p, 0, 10, 900.0f) - 2.0f) < 1e-6f);
    CHECK(guide_step_scale(&p, 5, 10, 500.0f) == 0.0f);
    CHECK(guide_step_scale(&p, 9, 10, 1000.0f) == 3.0f);
    p.mode = GUIDE_CFG;  // no perturbation term at all
    CHECK(guide_step_scale(&p, 9, 10, 1000.0f) == 0.0f);

    // Outside the window no perturbed block is spent.
    p.mode = GUIDE_PAG;
    p.adaptive = 0.0f;
    p.start = 0.0f;
    p.stop = 0.5f;
    p.cfg = 5.0f;
    guide_plan *pl = NULL;
    CHECK_OK(guide_plan_create(&p, NULL, 4, 2, false, &pl));
    guide_step st;
    CHECK_OK(guide_plan_step(pl, 1, 4, 700.0f, 2, &st));
    CHECK(st.n_blocks == 3 && guide_step_perturb(&st) != NULL);
    CHECK(st.perturb.row_begin == 4 && st.perturb.row_end == 6 && st.perturb.kind == SILT_PERTURB_IDENTITY);
    CHECK_OK(guide_plan_step(pl, 2, 4, 500.0f, 2, &st));
    CHECK(st.n_blocks == 2 && guide_step_perturb(&st) == NULL && st.blk_perturbed == -1);
    CHECK(guide_plan_step(pl, 4, 4, 0.0f, 2, &st) == SILT_ERR_ARG);
    guide_plan_free(pl);

    // s = 0: no perturbed block either.
    p.scale = 0.0f;
    CHECK_OK(guide_plan_create(&p, NULL, 4, 2, false, &pl));
    CHECK_OK(guide_plan_step(pl, 0, 4, 999.0f, 1, &st));
    CHECK(st.n_blocks == 2 && guide_step_perturb(&st) == NULL);
    guide_plan_free(pl);
    // SoftPAG with u = 0 everywhere: e_p = e_c, nothing to run.
    p.mode = GUIDE_SOFTPAG;
    p.scale = 3.0f;
    p.soft_u = 0.0f;
    CHECK_OK(guide_plan_create(&p, NULL, 4, 2, false, &pl));
    CHECK_OK(guide_plan_step(pl, 0, 4, 999.0f, 1, &st));
    CHECK(st.n_blocks == 2 && guide_step_perturb(&st) == NULL);
    guide_plan_free(pl);
}

static void test_spec_parse(void) {
    guide_heads h = {0};
    CHECK_OK(guide_heads_parse("3:1,5:0,7:2", &h));
    CHECK(h.n == 3 && h.v[0].layer == 3 && h.v[0].head == 1 && h.v[2].layer == 7 && h.v[2].head == 2);
    CHECK(h.v[1].u < 0);
    guide_heads_free(&h);
    CHECK(h.v == NULL && h.n == 0);
    CHECK_OK(guide_heads_parse(" 12 , 4:* , 0:3:0.25, 2:*:1", &h));
    CHECK(h.n == 4 && h.v[0].layer == 12 && h.v[0].head == -1 && h.v[1].head == -1 && h.v[2].u == 0.25f &&
          h.v[3].u == 1.0f);
    guide_heads_free(&h);

    const char *bad[] = {"", " ", "a", "3:", ":1", "3:x", "-1", "1.5", "3:1:2", "3:1:-0.1", "3:1:0.5:1",
                         "1,,2", "1,", "3:1:nan", "+1", "99999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        guide_heads g = {0};
        silt_status s = guide_heads_parse(bad[i], &g);
        CHECK_MSG(s == SILT_ERR_ARG && g.v == NULL && g.n == 0, "spec '%s' accepted", bad[i]);
    }
    // The error names the entry.
    CHECK(guide_heads_parse("3:1,4:q", &h) == SILT_ERR_ARG);
    CHECK(strstr(silt_last_error(), "entry 2 '4:q'") != NULL);

    // Validation against the model.
    CHECK_OK(guide_heads_parse("2:1,20:0", &h));
    CHECK(guide_heads_validate(&h, 20, 4) == SILT_ERR_ARG);
    CHECK(strstr(silt_last_error(), "entry 2 '20:0'") && strstr(silt_last_error(), "20 layers"));
    CHECK_OK(guide_heads_validate(&h, 21, 4));
    CHECK(guide_heads_validate(&h, 21, 1) == SILT_ERR_ARG);  // head 1 of 1
    CHECK(strstr(silt_last_error(), "entry 1 '2:1'") && strstr(silt_last_error(), "head 1"));
    guide_heads_free(&h);
    CHECK_OK(guide_heads_parse("2:1,3,2:1", &h));
    CHECK(guide_heads_validate(&h, 8, 4) == SILT_ERR_ARG);
    CHECK(strstr(silt_last_error(), "entry 3") && strstr(silt_last_error(), "entry 1"));
    guide_heads_free(&h);
    CHECK_OK(guide_heads_parse("2,2:0", &h));  // whole layer and one of its heads
    CHECK(guide_heads_validate(&h, 8, 4) == SILT_ERR_ARG);
    guide_heads_free(&h);
}

// "1" is layer 1 only, never 10..19 (diffusers#13594).
static void test_exact_layers(void) {
    guide_heads h = {0};
    CHECK_OK(guide_heads_parse("1", &h));
    guide_params p = guide_default_params();
    p.mode = GUIDE_PAG;
    p.cfg = 1.0f;
    guide_plan *pl = NULL;
    CHECK_OK(guide_plan_create(&p, &h, 24, 3, false, &pl));
    guide_step st;
    CHECK_OK(guide_plan_step(pl, 0, 1, 999.0f, 1, &st));
    int n_on = 0;
    for (int l = 0; l < 24; l++)
        for (int hd = 0; hd < 3; hd++) {
            float u = plan_u(&st, l, hd);
            if (u != 0.0f) n_on++;
            CHECK_MSG(u == (l == 1 ? 1.0f : 0.0f), "layer %d head %d: u %g", l, hd, (double)u);
        }
    CHECK(n_on == 3);
    char buf[64];
    CHECK(!strcmp(guide_plan_heads_str(pl, buf, sizeof buf), "1"));
    guide_plan_free(pl);
    guide_heads_free(&h);
}

static void test_plans(void) {
    guide_params p = guide_default_params();
    guide_plan *pl = NULL;
    guide_step st;
    char buf[128];

    // Default heads: every head of layer depth/2.
    p.mode = GUIDE_PAG;
    CHECK_OK(guide_plan_create(&p, NULL, 3, 2, false, &pl));
    CHECK(!strcmp(guide_plan_heads_str(pl, buf, sizeof buf), "1"));
    CHECK(guide_plan_kind(pl) == SILT_PERTURB_IDENTITY);
    guide_plan_free(pl);
    // MMDiT, whole layers, auto -> diffusers' image-image identity for pag ...
    CHECK_OK(guide_plan_create(&p, NULL, 24, 24, true, &pl));
    CHECK(!strcmp(guide_plan_heads_str(pl, buf, sizeof buf), "12"));
    CHECK(guide_plan_kind(pl) == SILT_PERTURB_IDENTITY_IMAGE);
    CHECK(guide_plan_params(pl)->identity == GUIDE_IDENTITY_IMAGE);
    guide_plan_free(pl);
    // ... and the joint (HeadHunter) identity for head-level pag and for softpag.
    guide_heads h = {0};
    CHECK_OK(guide_heads_parse("3:1,5:0,7:2:0.25", &h));
    CHECK_OK(guide_plan_create(&p, &h, 24, 24, true, &pl));
    CHECK(guide_plan_kind(pl) == SILT_PERTURB_IDENTITY);
    CHECK(!strcmp(guide_plan_heads_str(pl, buf, sizeof buf), "3:1,5:0,7:2:0.25"));
    guide_plan_free(pl);
    p.identity = GUIDE_IDENTITY_IMAGE;
    CHECK(guide_plan_create(&p, &h, 24, 24, true, &pl) == SILT_ERR_ARG);
    CHECK(guide_plan_create(&p, NULL, 24, 24, false, &pl) == SILT_ERR_ARG);  // not an MMDiT
    p.identity = GUIDE_IDENTITY_AUTO;
    p.mode = GUIDE_SOFTPAG;
    p.soft_u = 0.5f;
    CHECK_OK(guide_plan_create(&p, NULL, 24, 24, true, &pl));
    CHECK(guide_plan_kind(pl) == SILT_PERTURB_IDENTITY);
    CHECK_OK(guide_plan_step(pl, 0, 1, 999.0f, 1, &st));
    CHECK(plan_u(&st, 12, 0) == 0.5f && plan_u(&st, 12, 23) == 0.5f && plan_u(&st, 11, 0) == 0.0f);
    guide_plan_free(pl);
    CHECK_OK(guide_plan_create(&p, &h, 24, 24, true, &pl));
    CHECK_OK(guide_plan_step(pl, 0, 1, 999.0f, 1, &st));
    CHECK(plan_u(&st, 3, 1) == 0.5f && plan_u(&st, 7, 2) == 0.25f && plan_u(&st, 3, 0) == 0.0f);
    CHECK(!strcmp(guide_plan_heads_str(pl, buf, sizeof buf), "3:1,5:0,7:2:0.25"));
    guide_plan_free(pl);
    // Out-of-range heads fail at plan time with the entry named.
    CHECK(guide_plan_create(&p, &h, 6, 24, true, &pl) == SILT_ERR_ARG);
    CHECK(strstr(silt_last_error(), "'7:2:0.25'") != NULL);
    guide_heads_free(&h);

    // SLG: SD3.5's 7,8,9 on deep models, the middle layer on shallow ones;
    // head-level entries are refused.
    p.mode = GUIDE_SLG;
    CHECK_OK(guide_plan_create(&p, NULL, 24, 24, true, &pl));
    CHECK(!strcmp(guide_plan_heads_str(pl, buf, sizeof buf), "7,8,9"));
    CHECK(guide_plan_kind(pl) == SILT_PERTURB_SKIP);
    guide_plan_free(pl);
    CHECK_OK(guide_plan_create(&p, NULL, 3, 3, true, &pl));
    CHECK(!strcmp(guide_plan_heads_str(pl, buf, sizeof buf), "1"));
    guide_plan_free(pl);
    CHECK_OK(guide_heads_parse("1:0", &h));
    CHECK(guide_plan_create(&p, &h, 3, 3, true, &pl) == SILT_ERR_ARG);
    CHECK(strstr(silt_last_error(), "slg") != NULL);
    guide_heads_free(&h);

    // SEG carries sigma; uniform its kind; cfg/none have no heads.
    p.mode = GUIDE_SEG;
    p.seg_sigma = 10.0f;
    CHECK_OK(guide_plan_create(&p, NULL, 4, 2, false, &pl));
    CHECK_OK(guide_plan_step(pl, 0, 1, 999.0f, 2, &st));
    CHECK(st.perturb.kind == SILT_PERTURB_SEG && st.perturb.seg_sigma == 10.0f);
    guide_plan_free(pl);
    p.mode = GUIDE_UNIFORM;
    CHECK_OK(guide_plan_create(&p, NULL, 4, 2, false, &pl));
    CHECK(guide_plan_kind(pl) == SILT_PERTURB_UNIFORM);
    guide_plan_free(pl);
    p.mode = GUIDE_CFG;
    CHECK_OK(guide_plan_create(&p, NULL, 0, 0, false, &pl));  // no attention needed
    CHECK(guide_plan_kind(pl) == SILT_PERTURB_NONE && !strcmp(guide_plan_heads_str(pl, buf, sizeof buf), ""));
    guide_plan_free(pl);
    p.mode = GUIDE_PAG;
    CHECK(guide_plan_create(&p, NULL, 0, 0, false, &pl) == SILT_ERR_ARG);
}

static void test_files(void) {
    char path[] = "/tmp/silt_heads_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# HeadHunter round 1\n\n3,1\n  5, 0 ,0.5  # soft\n(7, 2)\n[11,*]\n4\n");
    fclose(f);
    guide_heads h = {0};
    CHECK_OK(guide_heads_load(path, &h));
    CHECK(h.n == 5);
    if (h.n == 5) {
        CHECK(h.v[0].layer == 3 && h.v[0].head == 1 && h.v[0].u < 0);
        CHECK(h.v[1].layer == 5 && h.v[1].head == 0 && h.v[1].u == 0.5f);
        CHECK(h.v[2].layer == 7 && h.v[2].head == 2);
        CHECK(h.v[3].layer == 11 && h.v[3].head == -1);
        CHECK(h.v[4].layer == 4 && h.v[4].head == -1);
        CHECK(strstr(h.v[2].where, ":5") != NULL);  // line 5
    }
    CHECK(guide_heads_validate(&h, 11, 4) == SILT_ERR_ARG);  // layer 11 of 11
    CHECK(strstr(silt_last_error(), ":6") != NULL);
    guide_heads_free(&h);
    CHECK_OK(guide_heads_from_arg(path, &h));  // a path is a file
    CHECK(h.n == 5);
    guide_heads_free(&h);
    CHECK_OK(guide_heads_from_arg("3:1, 4", &h));  // digits are a spec
    CHECK(h.n == 2);
    guide_heads_free(&h);

    f = fopen(path, "w");
    fprintf(f, "3,1\n3;1\n");
    fclose(f);
    CHECK(guide_heads_load(path, &h) == SILT_ERR_FORMAT);
    CHECK(strstr(silt_last_error(), ":2:") != NULL && h.v == NULL);
    f = fopen(path, "w");
    fprintf(f, "# nothing\n\n");
    fclose(f);
    CHECK(guide_heads_load(path, &h) == SILT_ERR_FORMAT);
    remove(path);
    CHECK(guide_heads_load(path, &h) == SILT_ERR_IO);
    CHECK(guide_heads_from_arg("no_such_heads.txt", &h) == SILT_ERR_IO);
    CHECK(guide_heads_from_arg("1:x", &h) == SILT_ERR_ARG);  // a bad spec, not a missing file
    CHECK(strstr(silt_last_error(), "'1:x'") != NULL);
}

// The combination against diffusers' PAGMixin._apply_perturbed_attention_guidance
// (tests/golden/pag_sd3, headid_sd3: g = 4, s = 3, rows [uncond, cond, cond-perturbed]).
static void test_golden_combine(const char *path, const char *out_name, const char *guided_name) {
    silt_safetensors *st = NULL;
    CHECK_OK(silt_safetensors_open(path, &st));
    if (!st) return;
    const silt_st_tensor *o = silt_safetensors_find(st, out_name), *gd = silt_safetensors_find(st, guided_name);
    const silt_st_tensor *gs = silt_safetensors_find(st, "guidance_scale"), *ps = silt_safetensors_find(st, "pag_scale");
    CHECK(o && gd && gs && ps && o->ndim == 4 && o->shape[0] == 3 && gd->shape[0] == 1);
    if (!(o && gd && gs && ps && o->ndim == 4 && o->shape[0] == 3 && gd->shape[0] == 1)) { silt_safetensors_close(st); return; }
    int64_t per = o->shape[1] * o->shape[2] * o->shape[3];
    float *pred = malloc(sizeof(float) * (size_t)(3 * per)), *ref = malloc(sizeof(float) * (size_t)per),
          *out = malloc(sizeof(float) * (size_t)per), g = 0, s = 0;
    CHECK_OK(silt_safetensors_read_f32(o, pred, 3 * per));
    CHECK_OK(silt_safetensors_read_f32(gd, ref, per));
    CHECK_OK(silt_safetensors_read_f32(gs, &g, 1));
    CHECK_OK(silt_safetensors_read_f32(ps, &s, 1));
    guide_params p = guide_default_params();
    p.mode = GUIDE_PAG;
    p.cfg = g;
    p.scale = s;
    guide_plan *pl = NULL;
    CHECK_OK(guide_plan_create(&p, NULL, 3, 3, true, &pl));
    guide_step gst;
    CHECK_OK(guide_plan_step(pl, 0, 28, 700.0f, 1, &gst));
    CHECK(gst.n_blocks == 3);
    CHECK_OK(guide_combine(&gst, out, pred, (int)o->shape[1], (int)o->shape[1], o->shape[2] * o->shape[3]));
    CHECK_CLOSE(guided_name, out, ref, per, 1e-5, 1e-5);
    guide_plan_free(pl);
    free(pred);
    free(ref);
    free(out);
    silt_safetensors_close(st);
}

int main(void) {
    test_seed(42);
    test_names();
    test_params();
    test_combine_known();
    test_cfg_window();
    test_combine_random();
    test_window_adaptive();
    test_spec_parse();
    test_exact_layers();
    test_plans();
    test_files();
    test_golden_combine("tests/golden/pag_sd3.io.safetensors", "output", "guided");
    test_golden_combine("tests/golden/headid_sd3.io.safetensors", "output_u1", "guided_u1");
    test_golden_combine("tests/golden/headid_sd3.io.safetensors", "output_u05", "guided_u05");
    return check_summary();
}
