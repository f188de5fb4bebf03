// The samplers and guidance on the device (silt_sampler_step_cuda,
// silt_sampler_scale_input_cuda, guide_combine_cuda) against the CPU path:
// every sampler, eps and v prediction, DDPM with fixed and learned variance
// (the (B, 2C, H, W) output), clipping, DDIM with eta, Euler ancestral with
// the step noise drawn from the seed on both sides (Philox twin), DPM-Solver++
// over its first and second order steps, flow Euler. Two samples of odd size
// (so the per-sample noise streams and the learned layout are exercised), the
// whole schedule with fresh random model outputs per step: after every step
// the device sample must be within 1e-5 * (|cpu| + rms) of the CPU's (the
// device compiler fuses multiply-adds, so a few ulp move; errors do not grow
// through the steps beyond that). Guidance: 1, 2 and 3 blocks, partial
// guided channels (DiT's learned-sigma layout). Also: a sampler that took a
// CPU step refuses a device one (and the reverse). Exit 77 (SKIP) without a GPU.
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "gpu_test.h"
#include "guidance/guidance.h"
#include "sample/sample.h"
#include "twin_util.h"

#define RTOL 1e-5

typedef struct {
    const char *name;
    silt_sampler_kind kind;
    silt_prediction pred;
    silt_variance var;
    double eta;
    bool clip;
    int steps;
} scase;

static void sampler_case(const scase *c) {
    silt_sampler_params p = silt_sampler_default_params(c->kind);
    p.steps = c->steps;
    p.prediction = c->pred;
    p.variance = c->var;
    p.clip_sample = c->clip;
    if (c->kind == SILT_SAMPLER_DDIM || c->kind == SILT_SAMPLER_EULER_A) p.eta = c->eta;
    p.batch = 2;
    // 3 x 37 x 41 per image: several blocks of 256 and a ragged tail, and
    // Philox offsets (i + 1) * per not a multiple of 4.
    const int64_t per = 3 * 37 * 41, n = 2 * per;
    silt_sampler *hs = NULL, *ds = NULL;
    CHECK_OK(silt_sampler_init(&p, n, 1234, &hs));
    CHECK_OK(silt_sampler_init(&p, n, 1234, &ds));
    if (!hs || !ds) goto out;
    const int64_t no = silt_sampler_output_numel(hs);
    float *x = twin_host(n), *xd = twin_host(n), *mo = twin_host(no), *xin = twin_host(n), *xin_d = twin_host(n);
    test_fill(x, n, -1, 1);
    const float s0 = silt_sampler_init_noise_sigma(hs);
    for (int64_t j = 0; j < n; j++) x[j] *= s0;
    float *d_x = twin_upload(x, sizeof(float) * (size_t)n), *d_mo = twin_upload(NULL, sizeof(float) * (size_t)no);
    float *d_in = twin_upload(NULL, sizeof(float) * (size_t)n);
    for (int i = 0; d_x && d_mo && d_in && i < silt_sampler_steps(hs); i++) {
        char what[96];
        CHECK_OK(silt_sampler_scale_input(hs, xin, x));
        CHECK_OK(silt_sampler_scale_input_cuda(ds, d_in, d_x));
        if (twin_download(xin_d, d_in, sizeof(float) * (size_t)n)) {
            snprintf(what, sizeof what, "%s scale_input step %d", c->name, i);
            twin_compare(what, xin_d, xin, n, RTOL, twin_rms(xin, n));
        }
        test_fill(mo, no, -1, 1);  // a model's output: eps / v / velocity (and the variance channels)
        CHECK_OK(silt_cuda_memcpy_h2d(d_mo, mo, sizeof(float) * (size_t)no));
        CHECK_OK(silt_sampler_step(hs, mo, x, NULL));
        CHECK_OK(silt_sampler_step_cuda(ds, d_mo, d_x, NULL));
        if (twin_download(xd, d_x, sizeof(float) * (size_t)n)) {
            snprintf(what, sizeof what, "%s step %d/%d", c->name, i + 1, silt_sampler_steps(hs));
            if (!twin_compare(what, xd, x, n, RTOL, twin_rms(x, n))) break;
            // Keep the two in lock step: each step is checked alone.
            CHECK_OK(silt_cuda_memcpy_h2d(d_x, x, sizeof(float) * (size_t)n));
        }
    }
    // Past the end (when every step ran): both refuse.
    if (silt_sampler_index(ds) == silt_sampler_steps(ds)) {
        CHECK(silt_sampler_step_cuda(ds, d_mo, d_x, NULL) == SILT_ERR_ARG);
        CHECK(silt_sampler_step(hs, mo, x, NULL) == SILT_ERR_ARG);
    }
    silt_cuda_free(d_x), silt_cuda_free(d_mo), silt_cuda_free(d_in);
    free(x), free(xd), free(mo), free(xin), free(xin_d);
out:
    silt_sampler_free(hs);
    silt_sampler_free(ds);
}

// A free run: the model (0.5 x) sees each side's own sample, over all steps
// with no reset to the CPU's sample, so rounding differences could compound;
// they must stay within 1e-4.
static void free_run(silt_sampler_kind kind, const char *name) {
    silt_sampler_params p = silt_sampler_default_params(kind);
    p.steps = 12;
    p.batch = 3;
    const int64_t per = 4 * 9, n = 3 * per;
    silt_sampler *hs = NULL, *ds = NULL;
    CHECK_OK(silt_sampler_init(&p, n, 77, &hs));
    CHECK_OK(silt_sampler_init(&p, n, 77, &ds));
    float *x = twin_host(n), *xd = twin_host(n), *mo = twin_host(n);
    test_fill(x, n, -1, 1);
    float *d_x = twin_upload(x, sizeof(float) * (size_t)n), *d_mo = twin_upload(NULL, sizeof(float) * (size_t)n);
    for (int i = 0; hs && ds && d_x && d_mo && i < p.steps; i++) {
        for (int64_t j = 0; j < n; j++) mo[j] = 0.5f * x[j];  // a model that depends on x, so errors could grow
        CHECK_OK(silt_sampler_step(hs, mo, x, NULL));
        // The device model sees the device sample.
        if (!twin_download(xd, d_x, sizeof(float) * (size_t)n)) break;
        for (int64_t j = 0; j < n; j++) mo[j] = 0.5f * xd[j];
        CHECK_OK(silt_cuda_memcpy_h2d(d_mo, mo, sizeof(float) * (size_t)n));
        CHECK_OK(silt_sampler_step_cuda(ds, d_mo, d_x, NULL));
    }
    if (twin_download(xd, d_x, sizeof(float) * (size_t)n)) {
        char what[96];
        snprintf(what, sizeof what, "%s: 12 free-running steps", name);
        twin_compare(what, xd, x, n, 1e-4, twin_rms(x, n));
    }
    silt_cuda_free(d_x), silt_cuda_free(d_mo);
    free(x), free(xd), free(mo);
    silt_sampler_free(hs);
    silt_sampler_free(ds);
}

static void mixing_refused(void) {
    silt_sampler_params p = silt_sampler_default_params(SILT_SAMPLER_DPMPP_2M);
    p.steps = 4;
    const int64_t n = 16;
    float x[16] = {0}, mo[16] = {0};
    float *d_x = twin_upload(x, sizeof x), *d_mo = twin_upload(mo, sizeof mo);
    silt_sampler *s = NULL;
    CHECK_OK(silt_sampler_init(&p, n, 1, &s));
    CHECK_OK(silt_sampler_step(s, mo, x, NULL));
    CHECK(silt_sampler_step_cuda(s, d_mo, d_x, NULL) == SILT_ERR_ARG);
    CHECK_MSG(strstr(silt_last_error(), "mixed") != NULL, "got: %s", silt_last_error());
    silt_sampler_free(s);
    s = NULL;
    CHECK_OK(silt_sampler_init(&p, n, 1, &s));
    CHECK_OK(silt_sampler_step_cuda(s, d_mo, d_x, NULL));
    CHECK(silt_sampler_step(s, mo, x, NULL) == SILT_ERR_ARG);
    silt_sampler_free(s);
    silt_cuda_free(d_x), silt_cuda_free(d_mo);
}

static void combine_case(int n_blocks, int blk_cond, int blk_uncond, int blk_perturbed, int guided, int Cout,
                         float cfg, float scale) {
    const int B = 3, C = 8;
    const int64_t hw = 5 * 7, row = (int64_t)C * hw, total = (int64_t)n_blocks * B * row, on = (int64_t)B * Cout * hw;
    guide_step st = {0};
    st.batch = B;
    st.n_blocks = n_blocks;
    st.blk_cond = blk_cond;
    st.blk_uncond = blk_uncond;
    st.blk_perturbed = blk_perturbed;
    st.guided = guided;
    st.cfg = cfg;
    st.scale = scale;
    float *pred = twin_host(total), *ref = twin_host(on), *got = twin_host(on);
    test_fill(pred, total, -2, 2);
    CHECK_OK(guide_combine(&st, ref, pred, C, Cout, hw));
    float *d_pred = twin_upload(pred, sizeof(float) * (size_t)total), *d_out = twin_upload(NULL, sizeof(float) * (size_t)on);
    if (d_pred && d_out) {
        twin_poison(d_out, sizeof(float) * (size_t)on);
        CHECK_OK(guide_combine_cuda(&st, d_out, d_pred, C, Cout, hw));
        if (twin_download(got, d_out, sizeof(float) * (size_t)on)) {
            char what[96];
            snprintf(what, sizeof what, "guide_combine blocks %d (c %d u %d p %d) guided %d of %d", n_blocks, blk_cond,
                     blk_uncond, blk_perturbed, guided, Cout);
            twin_compare(what, got, ref, on, RTOL, 1.0);
        }
    }
    silt_cuda_free(d_pred), silt_cuda_free(d_out);
    free(pred), free(ref), free(got);
}

// Rectified-flow training pairs: flow_pair_cuda against flow_pair_cpu for a
// latent normalisation (shift, scale) and for pixels (0, 1): x_t and the
// velocity target to 1e-6 of their rms (the noise differs in its last ulp at
// most), over several blocks with a ragged tail and a nonzero first stream.
static void flow_pair_case(int64_t B, int64_t per, double shift, double scale) {
    const int64_t n = B * per;
    float *z = twin_host(n), *sig = twin_host(B), *xt = twin_host(n), *tg = twin_host(n), *gxt = twin_host(n),
          *gtg = twin_host(n);
    test_fill(z, n, -2, 2);
    for (int64_t i = 0; i < B; i++) sig[i] = (float)(i + 0.5) / (float)B;
    flow_pair_cpu(xt, tg, z, sig, B, per, shift, scale, 99, 1000);
    float *d_z = twin_upload(z, (size_t)n * 4), *d_sig = twin_upload(sig, (size_t)B * 4);
    float *d_xt = twin_upload(NULL, (size_t)n * 4), *d_tg = twin_upload(NULL, (size_t)n * 4);
    if (d_z && d_sig && d_xt && d_tg) {
        twin_poison(d_xt, (size_t)n * 4);
        twin_poison(d_tg, (size_t)n * 4);
        CHECK_OK(flow_pair_cuda(d_xt, d_tg, d_z, d_sig, B, per, shift, scale, 99, 1000));
        char what[96];
        if (twin_download(gxt, d_xt, (size_t)n * 4)) {
            snprintf(what, sizeof what, "flow_pair xt B%lld per%lld shift %g", (long long)B, (long long)per, shift);
            twin_compare(what, gxt, xt, n, 1e-6, twin_rms(xt, n));
        }
        if (twin_download(gtg, d_tg, (size_t)n * 4)) {
            snprintf(what, sizeof what, "flow_pair target B%lld per%lld shift %g", (long long)B, (long long)per, shift);
            twin_compare(what, gtg, tg, n, 1e-6, twin_rms(tg, n));
        }
    }
    silt_cuda_free(d_z), silt_cuda_free(d_sig), silt_cuda_free(d_xt), silt_cuda_free(d_tg);
    free(z), free(sig), free(xt), free(tg), free(gxt), free(gtg);
}

int main(void) {
    GPU_TEST_START();
    test_seed(5);
    static const scase cases[] = {
        {"ddpm eps", SILT_SAMPLER_DDPM, SILT_PRED_EPS, SILT_VARIANCE_FIXED_SMALL, 0, false, 10},
        {"ddpm eps fixed_large clip", SILT_SAMPLER_DDPM, SILT_PRED_EPS, SILT_VARIANCE_FIXED_LARGE, 0, true, 10},
        {"ddpm learned_range", SILT_SAMPLER_DDPM, SILT_PRED_EPS, SILT_VARIANCE_LEARNED_RANGE, 0, false, 10},
        {"ddpm v", SILT_SAMPLER_DDPM, SILT_PRED_V, SILT_VARIANCE_FIXED_SMALL, 0, false, 8},
        {"ddim eps", SILT_SAMPLER_DDIM, SILT_PRED_EPS, SILT_VARIANCE_FIXED_SMALL, 0, false, 10},
        {"ddim v eta 0.5 clip", SILT_SAMPLER_DDIM, SILT_PRED_V, SILT_VARIANCE_FIXED_SMALL, 0.5, true, 10},
        {"ddim learned_range", SILT_SAMPLER_DDIM, SILT_PRED_EPS, SILT_VARIANCE_LEARNED_RANGE, 0, false, 6},
        {"euler eps", SILT_SAMPLER_EULER, SILT_PRED_EPS, SILT_VARIANCE_FIXED_SMALL, 0, false, 10},
        {"euler v", SILT_SAMPLER_EULER, SILT_PRED_V, SILT_VARIANCE_FIXED_SMALL, 0, false, 10},
        {"euler_a eps", SILT_SAMPLER_EULER_A, SILT_PRED_EPS, SILT_VARIANCE_FIXED_SMALL, 1, false, 10},
        {"dpmpp_2m eps", SILT_SAMPLER_DPMPP_2M, SILT_PRED_EPS, SILT_VARIANCE_FIXED_SMALL, 0, false, 10},
        {"dpmpp_2m v", SILT_SAMPLER_DPMPP_2M, SILT_PRED_V, SILT_VARIANCE_FIXED_SMALL, 0, false, 7},
        {"flow_euler", SILT_SAMPLER_FLOW_EULER, SILT_PRED_FLOW, SILT_VARIANCE_FIXED_SMALL, 0, false, 9},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) sampler_case(&cases[k]);
    free_run(SILT_SAMPLER_EULER_A, "euler_a");
    free_run(SILT_SAMPLER_DPMPP_2M, "dpmpp_2m");
    free_run(SILT_SAMPLER_DDPM, "ddpm");
    mixing_refused();
    combine_case(1, 0, -1, -1, 0, 8, 1, 0);     // no guidance: the cond rows copied
    combine_case(2, 0, 1, -1, 0, 8, 4.5f, 0);   // CFG
    combine_case(2, 1, 0, -1, 3, 8, 7, 0);      // CFG on 3 of 8 channels (DiT's learned sigma kept)
    combine_case(2, 1, 0, -1, 0, 4, 4, 0);      // CFG, the first 4 of 8 channels out (eps without sigma)
    combine_case(2, 0, -1, 1, 0, 8, 1, 3);      // PAG alone
    combine_case(3, 1, 0, 2, 0, 8, 4, 1.5f);    // CFG + PAG / SoftPAG
    flow_pair_case(5, 16 * 8 * 8, 0.0045784, 1.0 / 0.597);  // the world latent
    flow_pair_case(3, 3 * 37 * 41, 0.0, 1.0);                // pixels, odd sizes
    return check_summary();
}
