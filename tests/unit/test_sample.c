// Samplers and schedules: names and defaults, published schedule values
// (archs.md 1.5, 3.5, 4.4, 6.3), monotone sigmas ending in 0, determinism, and
// every deterministic sampler driven by an oracle model (the exact prediction
// for a known x0) landing on x0. The diffusers parity is tests/golden/test_schedules.c.
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/rng.h"
#include "sample/sample.h"

static void test_names(void) {
    for (int i = 0; i < SILT_SAMPLER_COUNT; i++) {
        silt_sampler_kind k;
        CHECK_OK(silt_sampler_from_name(silt_sampler_name((silt_sampler_kind)i), &k));
        CHECK(k == (silt_sampler_kind)i);
    }
    for (int i = 0; i < SILT_SPACING_COUNT; i++) {
        silt_spacing v;
        CHECK_OK(silt_spacing_from_name(silt_spacing_name((silt_spacing)i), &v));
        CHECK(v == (silt_spacing)i);
    }
    for (int i = 0; i < SILT_BETA_COUNT; i++) {
        silt_beta_schedule v;
        CHECK_OK(silt_beta_schedule_from_name(silt_beta_schedule_name((silt_beta_schedule)i), &v));
        CHECK(v == (silt_beta_schedule)i);
    }
    for (int i = 0; i < SILT_PRED_COUNT; i++) {
        silt_prediction v;
        CHECK_OK(silt_prediction_from_name(silt_prediction_name((silt_prediction)i), &v));
        CHECK(v == (silt_prediction)i);
    }
    for (int i = 0; i < SILT_VARIANCE_COUNT; i++) {
        silt_variance v;
        CHECK_OK(silt_variance_from_name(silt_variance_name((silt_variance)i), &v));
        CHECK(v == (silt_variance)i);
    }
    CHECK(!strcmp(silt_sampler_name(SILT_SAMPLER_EULER_A), "euler_a"));
    CHECK(!strcmp(silt_sampler_name(SILT_SAMPLER_DPMPP_2M), "dpmpp_2m"));
    CHECK(!strcmp(silt_sampler_name((silt_sampler_kind)99), "?"));
    silt_sampler_kind k = SILT_SAMPLER_DDIM;
    CHECK(silt_sampler_from_name("heun", &k) == SILT_ERR_ARG && k == SILT_SAMPLER_DDIM);
    CHECK(strstr(silt_last_error_message(), "heun") != NULL);
    silt_spacing sp;
    CHECK(silt_spacing_from_name(NULL, &sp) == SILT_ERR_ARG);
}

static void test_defaults(void) {
    silt_sampler_params p = silt_sampler_default_params(SILT_SAMPLER_DDIM);
    CHECK(p.steps == 50 && p.train_steps == 1000 && p.eta == 0 && p.steps_offset == 0 && !p.karras);
    CHECK(p.spacing == SILT_SPACING_LEADING && p.set_alpha_to_one && p.clip_sample && p.prediction == SILT_PRED_EPS);
    CHECK(p.beta_schedule == SILT_BETA_LINEAR && p.beta_start == 1e-4 && p.beta_end == 0.02 && p.batch == 1);
    p = silt_sampler_default_params(SILT_SAMPLER_EULER_A);
    CHECK(p.spacing == SILT_SPACING_LINSPACE && p.eta == 1.0 && !p.clip_sample);
    p = silt_sampler_default_params(SILT_SAMPLER_FLOW_EULER);
    CHECK(p.shift == 3.0 && p.prediction == SILT_PRED_FLOW && p.steps == 28);
}

static silt_schedule *make(silt_sampler_params p) {
    silt_schedule *s = NULL;
    silt_status st = silt_schedule_create(&p, &s);
    CHECK_MSG(st == SILT_OK, "schedule_create(%s): %s", silt_sampler_name(p.sampler), silt_last_error());
    return s;
}

// Published values: archs.md 1.5 (DiT, linear), 3.5 (SD1.x, scaled_linear), 4.4 (SD3 flow), 6.3 (LDM DDIM).
static void test_known_values(void) {
    silt_sampler_params p = silt_sampler_default_params(SILT_SAMPLER_EULER);
    p.beta_schedule = SILT_BETA_SCALED_LINEAR, p.beta_start = 0.00085, p.beta_end = 0.012;
    silt_schedule *s = make(p);
    if (s) {
        CHECK(fabs(s->alphas_cumprod[0] - 0.999150) < 5e-7 && fabs(s->alphas_cumprod[999] - 0.004660) < 5e-7);
        CHECK(fabsf(s->sigmas[0] - 14.614641f) < 2e-5f);        // linspace: t = 999 first
        CHECK(fabsf(s->sigmas[49] - 0.029167f) < 1e-6f);         // ... and t = 0 last (0.0291675)
        CHECK(s->init_noise_sigma == s->sigmas[0]);               // linspace: sigma_max
        silt_schedule_free(s);
    }
    p = silt_sampler_default_params(SILT_SAMPLER_EULER);  // DiT / diffusers default linear table
    s = make(p);
    if (s) {
        CHECK(fabs(s->alphas_cumprod[999] - 4.04e-5) < 5e-8);
        CHECK(fabsf(s->sigmas[0] - 157.4f) < 0.05f && fabsf(s->sigmas[49] - 0.0100f) < 5e-6f);
        silt_schedule_free(s);
    }
    p = silt_sampler_default_params(SILT_SAMPLER_FLOW_EULER);  // SD3: 28 steps, shift 3
    s = make(p);
    if (s) {
        const float want_head[] = {1.0f, 0.98738f, 0.97411f, 0.96013f}, want_tail[] = {0.19983f, 0.11091f, 0.00893f, 0.0f};
        for (int i = 0; i < 4; i++) {
            CHECK(fabsf(s->sigmas[i] - want_head[i]) < 6e-6f);
            CHECK(fabsf(s->sigmas[25 + i] - want_tail[i]) < 6e-6f);
        }
        CHECK(s->timesteps[0] == 1000.0f && fabsf(s->timesteps[27] - 8.93f) < 0.006f);
        CHECK(s->init_noise_sigma == 1.0f);
        silt_schedule_free(s);
    }
    p = silt_sampler_default_params(SILT_SAMPLER_DDIM);  // LDM: leading + steps_offset 1 = 981, 961, ..., 1
    p.steps_offset = 1;
    s = make(p);
    if (s) {
        int ok = 1;
        for (int i = 0; i < 50; i++) ok &= s->timesteps[i] == (float)(981 - 20 * i) && s->t_index[i] == 981 - 20 * i;
        CHECK(ok);
        CHECK(s->prev_index[49] == -1 && s->prev_index[0] == 961);
        silt_schedule_free(s);
    }
    p = silt_sampler_default_params(SILT_SAMPLER_DDPM);  // DiT sampler: respace "250" -> {0,4,8,...,995,999}
    p.spacing = SILT_SPACING_ADM, p.steps = 250;
    s = make(p);
    if (s) {
        CHECK(s->t_index[0] == 999 && s->t_index[1] == 995 && s->t_index[2] == 991 && s->t_index[3] == 987);
        CHECK(s->t_index[249] == 0 && s->t_index[248] == 4 && s->t_index[247] == 8 && s->t_index[246] == 12);
        int strictly = 1;
        for (int i = 1; i < 250; i++) strictly &= s->t_index[i] < s->t_index[i - 1];
        CHECK(strictly);
        CHECK(s->prev_index[0] == 995 && s->prev_index[249] == -1);
        silt_schedule_free(s);
    }
}

// table_f64 is gaussian_diffusion.py's float64 table; the default is diffusers' float32 one.
static void test_tables(void) {
    silt_sampler_params p = silt_sampler_default_params(SILT_SAMPLER_DDPM);
    p.table_f64 = true;
    silt_schedule *a = make(p);
    p.table_f64 = false;
    silt_schedule *b = make(p);
    if (a && b) {
        double acc = 1, max_rel = 0, max_rel32 = 0;
        for (int i = 0; i < 1000; i++) {
            double beta = 1e-4 + (0.02 - 1e-4) * i / 999.0;
            acc *= 1 - beta;
            max_rel = fmax(max_rel, fabs(a->alphas_cumprod[i] - acc) / acc);
            max_rel32 = fmax(max_rel32, fabs(b->alphas_cumprod[i] - acc) / acc);
            CHECK(b->alphas_cumprod[i] == (double)(float)b->alphas_cumprod[i]);  // float32 values
        }
        CHECK_MSG(max_rel < 1e-13, "f64 table rel err %.3g", max_rel);
        CHECK_MSG(max_rel32 < 1e-5 && max_rel32 > 1e-9, "f32 table rel err %.3g", max_rel32);
    }
    silt_schedule_free(a);
    silt_schedule_free(b);
}

// Sigmas strictly decrease and end in 0; timesteps decrease (DPM karras rounds, so >=).
static void test_monotone(void) {
    const silt_sampler_kind kinds[] = {SILT_SAMPLER_EULER, SILT_SAMPLER_EULER_A, SILT_SAMPLER_DPMPP_2M, SILT_SAMPLER_FLOW_EULER};
    const int steps[] = {1, 2, 7, 20, 33, 100, 999};
    for (size_t k = 0; k < 4; k++)
        for (int sp = 0; sp < 3; sp++)
            for (int kar = 0; kar < 2; kar++)
                for (int beta = 0; beta < 2; beta++)
                    for (size_t si = 0; si < sizeof steps / sizeof *steps; si++) {
                        silt_sampler_params p = silt_sampler_default_params(kinds[k]);
                        if (kar && kinds[k] != SILT_SAMPLER_EULER && kinds[k] != SILT_SAMPLER_DPMPP_2M) continue;
                        // DPM leading with 999 steps: (T // 1000) * k + 1 reaches 1000 (diffusers indexes past the table).
                        if (kinds[k] == SILT_SAMPLER_DPMPP_2M && sp == 0 && steps[si] == 999) continue;
                        p.spacing = (silt_spacing)sp, p.karras = kar, p.steps = steps[si], p.steps_offset = sp == 0;
                        p.beta_schedule = (silt_beta_schedule)beta;
                        if (beta) p.beta_start = 0.00085, p.beta_end = 0.012;
                        silt_schedule *s = make(p);
                        if (!s) continue;
                        int n = s->steps, ok = s->sigmas[n] == 0.0f, okt = 1;
                        for (int i = 0; i < n; i++) {
                            ok &= s->sigmas[i] > s->sigmas[i + 1] && isfinite(s->sigmas[i]);
                            if (i) okt &= kinds[k] == SILT_SAMPLER_DPMPP_2M ? s->timesteps[i] <= s->timesteps[i - 1]
                                                                           : s->timesteps[i] < s->timesteps[i - 1];
                        }
                        CHECK_MSG(ok && okt, "%s spacing %s karras %d steps %d: not monotone", silt_sampler_name(kinds[k]),
                                  silt_spacing_name(p.spacing), kar, p.steps);
                        silt_schedule_free(s);
                    }
}

// ---- oracle model: the exact prediction for a known x0 --------------------------------

typedef struct {
    const silt_sampler *s;
    const float *x0;
    int calls;
    int fail_at;      // return an error at this call (-1: never)
    bool nan_at_two;  // return NaN from the third call on
} oracle;

static silt_status oracle_fn(void *user, float *out, const float *x, float t, int64_t n) {
    oracle *o = user;
    const silt_schedule *sc = silt_sampler_schedule(o->s);
    const silt_sampler_params *p = &sc->params;
    int i = o->calls++;
    if (i == o->fail_at) return SILT_FAIL(SILT_ERR_IO, "oracle: planned failure");
    if (t != sc->timesteps[i]) return SILT_FAIL(SILT_ERR_ARG, "oracle: t %g at call %d, want %g", t, i, sc->timesteps[i]);
    double sg = sc->sigmas ? sc->sigmas[i] : 0;
    for (int64_t j = 0; j < n; j++) {
        double xv = x[j], x0 = o->x0[j], e, a;
        switch (p->sampler) {
        case SILT_SAMPLER_FLOW_EULER: out[j] = (float)((xv - x0) / sg); continue;  // v = eps - x0
        case SILT_SAMPLER_EULER:
        case SILT_SAMPLER_EULER_A:
            xv *= sqrt(sg * sg + 1);  // undo the input scaling
            a = 1 / (sg * sg + 1);
            e = (xv - x0) / sg;
            break;
        case SILT_SAMPLER_DPMPP_2M:
            a = 1 / (sg * sg + 1);
            e = (xv - sqrt(a) * x0) / sqrt(1 - a);
            break;
        default:
            a = sc->alphas_cumprod[sc->t_index[i]];
            e = (xv - sqrt(a) * x0) / sqrt(1 - a);
            break;
        }
        // k-diffusion x = x0 + sigma eps is the VP sample / sqrt(a), so v has the same form in both.
        out[j] = (float)(p->prediction == SILT_PRED_V ? sqrt(a) * e - sqrt(1 - a) * x0 : e);
        if (o->nan_at_two && i >= 2) out[j] = NAN;
    }
    return SILT_OK;
}

// Deterministic samplers with the exact model end on x0 (up to float rounding of
// the large early samples: the tolerance scales with sigma_max).
static void test_oracle_lands_on_x0(void) {
    enum { n = 37 };
    float x0[n], noise[n];
    test_seed(5);
    test_fill(x0, n, -0.9f, 0.9f);  // inside the clip range
    for (int j = 0; j < n; j++) noise[j] = (float)(sqrt(-2 * log(test_uniform() + 1e-12)) * cos(6.283185 * test_uniform()));
    const silt_sampler_kind kinds[] = {SILT_SAMPLER_DDPM, SILT_SAMPLER_DDIM, SILT_SAMPLER_EULER, SILT_SAMPLER_DPMPP_2M,
                                       SILT_SAMPLER_FLOW_EULER};
    for (size_t k = 0; k < 5; k++)
        for (int v = 0; v < 2; v++)
            for (int sp = 0; sp < 4; sp++)
                for (int kar = 0; kar < 2; kar++) {
                    silt_sampler_params p = silt_sampler_default_params(kinds[k]);
                    if (v && kinds[k] == SILT_SAMPLER_FLOW_EULER) continue;
                    if (kar && kinds[k] != SILT_SAMPLER_EULER && kinds[k] != SILT_SAMPLER_DPMPP_2M) continue;
                    if (v) p.prediction = SILT_PRED_V;
                    p.spacing = (silt_spacing)sp, p.karras = kar, p.steps = 13;
                    // DDPM with a perfect model: the last step (t = 0) adds no noise and
                    // returns x0 exactly; only leading/linspace/adm grids end at t = 0.
                    if (kinds[k] == SILT_SAMPLER_DDPM && sp == SILT_SPACING_TRAILING) continue;
                    // DDIM moves to t - T/steps (diffusers), which on the trailing grid ends
                    // at alphas_cumprod[0], not at 1: one noise level short of x0 (golden-tested).
                    if (kinds[k] == SILT_SAMPLER_DDIM && sp == SILT_SPACING_TRAILING) continue;
                    silt_sampler *s = NULL;
                    CHECK_OK(silt_sampler_init(&p, n, 7, &s));
                    if (!s) continue;
                    oracle o = {s, x0, 0, -1, false};
                    float x[n], xin[n], out[n], px0[n];
                    float sig0 = silt_sampler_init_noise_sigma(s);
                    for (int j = 0; j < n; j++) x[j] = noise[j] * sig0;
                    double worst_px0 = 0;
                    for (int i = 0; i < silt_sampler_steps(s); i++) {
                        CHECK_OK(silt_sampler_scale_input(s, xin, x));
                        CHECK_OK(oracle_fn(&o, out, xin, silt_sampler_timestep(s, i), n));
                        CHECK_OK(silt_sampler_pred_x0(s, out, x, px0));
                        for (int j = 0; j < n; j++) worst_px0 = fmax(worst_px0, fabs(px0[j] - x0[j]));
                        CHECK_OK(silt_sampler_step(s, out, x, NULL));
                    }
                    double tol = 2e-6 * fmax(1.0, sig0);
                    double worst = 0;
                    for (int j = 0; j < n; j++) worst = fmax(worst, fabs(x[j] - x0[j]));
                    CHECK_MSG(worst <= tol && worst_px0 <= 10 * tol, "%s pred %s spacing %s karras %d: |x - x0| %.3g, pred_x0 %.3g (tol %.3g)",
                              silt_sampler_name(p.sampler), silt_prediction_name(p.prediction),
                              silt_spacing_name(p.spacing), kar, worst, worst_px0, tol);
                    silt_sampler_free(s);
                }
}

// Flow Euler with a model predicting the constant eps - x0 for the initial eps
// walks the straight line x_s = (1-s) x0 + s eps and lands on x0.
static void test_flow_constant_velocity(void) {
    enum { n = 41 };
    float x0[n], eps[n], v[n], x[n];
    test_seed(9);
    test_fill(x0, n, -3, 3);
    test_fill(eps, n, -2, 2);
    for (int j = 0; j < n; j++) v[j] = eps[j] - x0[j], x[j] = eps[j];
    silt_sampler_params p = silt_sampler_default_params(SILT_SAMPLER_FLOW_EULER);
    for (int shift = 0; shift < 2; shift++) {
        p.shift = shift ? 3.0 : 1.0;
        silt_sampler *s = NULL;
        CHECK_OK(silt_sampler_init(&p, n, 0, &s));
        if (!s) continue;
        for (int j = 0; j < n; j++) x[j] = eps[j];
        for (int i = 0; i < p.steps; i++) {
            // Halfway: still on the line.
            if (i == p.steps / 2) {
                float sg = silt_sampler_sigma(s, i);
                double worst = 0;
                for (int j = 0; j < n; j++) worst = fmax(worst, fabs(x[j] - ((1 - sg) * x0[j] + sg * eps[j])));
                CHECK_MSG(worst < 1e-5, "flow shift %g: off the line by %.3g", p.shift, worst);
            }
            CHECK_OK(silt_sampler_step(s, v, x, NULL));
        }
        CHECK_CLOSE("flow lands on x0", x, x0, n, 1e-5, 1e-5);
        silt_sampler_free(s);
    }
}

static silt_status linear_model(void *user, float *out, const float *x, float t, int64_t n) {
    (void)user;
    for (int64_t j = 0; j < n; j++) out[j] = 0.1f * x[j] + 0.05f * t / 1000;
    return SILT_OK;
}

static void run(silt_sampler_kind k, double eta, uint64_t seed, float *x, int n) {
    silt_sampler_params p = silt_sampler_default_params(k);
    p.eta = eta, p.steps = 10;
    test_seed(3);
    test_fill(x, n, -1, 1);
    CHECK_OK(silt_sample(&p, linear_model, NULL, x, n, seed, NULL));
}

static void test_determinism(void) {
    enum { n = 19 };
    float a[n], b[n];
    // DDIM with eta 0: no noise, the seed does not matter.
    run(SILT_SAMPLER_DDIM, 0, 1, a, n);
    run(SILT_SAMPLER_DDIM, 0, 2, b, n);
    CHECK(memcmp(a, b, sizeof a) == 0);
    silt_sampler_params p = silt_sampler_default_params(SILT_SAMPLER_DDIM);
    silt_sampler *s = NULL;
    CHECK_OK(silt_sampler_init(&p, n, 0, &s));
    CHECK(s && !silt_sampler_needs_noise(s, 0));
    silt_sampler_free(s);
    // Stochastic samplers: same seed same sample, another seed another sample.
    const silt_sampler_kind kinds[] = {SILT_SAMPLER_DDPM, SILT_SAMPLER_EULER_A, SILT_SAMPLER_DDIM};
    for (int k = 0; k < 3; k++) {
        double eta = kinds[k] == SILT_SAMPLER_DDIM ? 1.0 : (kinds[k] == SILT_SAMPLER_EULER_A ? 1.0 : 0.0);
        run(kinds[k], eta, 42, a, n);
        run(kinds[k], eta, 42, b, n);
        CHECK_MSG(memcmp(a, b, sizeof a) == 0, "%s: same seed, different sample", silt_sampler_name(kinds[k]));
        run(kinds[k], eta, 43, b, n);
        CHECK_MSG(memcmp(a, b, sizeof a) != 0, "%s: seed ignored", silt_sampler_name(kinds[k]));
    }
}

// The drawn noise is N(0,1): read it back through an Euler-ancestral step with
// a zero model on x = 0 (x' = sigma_up z).
static void test_noise_moments(void) {
    enum { n = 200001 };
    float *x = calloc(n, sizeof *x), *m = calloc(n, sizeof *m);
    silt_sampler_params p = silt_sampler_default_params(SILT_SAMPLER_EULER_A);
    p.steps = 5;
    silt_sampler *s = NULL;
    CHECK_OK(silt_sampler_init(&p, n, 11, &s));
    if (s && x && m) {
        double sf = silt_sampler_sigma(s, 0), st = silt_sampler_sigma(s, 1);
        double up = sqrt(st * st * (sf * sf - st * st) / (sf * sf));
        CHECK(silt_sampler_needs_noise(s, 0) && !silt_sampler_needs_noise(s, 4));
        CHECK_OK(silt_sampler_step(s, m, x, NULL));
        double sum = 0, sq = 0, q4 = 0;
        for (int j = 0; j < n; j++) {
            double z = x[j] / up;
            sum += z, sq += z * z, q4 += z * z * z * z;
        }
        double mean = sum / n, var = sq / n - mean * mean, kurt = q4 / n;
        CHECK_MSG(fabs(mean) < 0.01 && fabs(var - 1) < 0.015 && fabs(kurt - 3) < 0.1, "noise mean %.4f var %.4f E z^4 %.3f",
                  mean, var, kurt);
    }
    silt_sampler_free(s);
    free(x);
    free(m);
}

static void test_errors(void) {
    silt_sampler_params p = silt_sampler_default_params(SILT_SAMPLER_DDIM);
    silt_schedule *sc = NULL;
    p.steps = 0;
    CHECK(silt_schedule_create(&p, &sc) == SILT_ERR_ARG && sc == NULL);
    p.steps = 1001;
    CHECK(silt_schedule_create(&p, &sc) == SILT_ERR_ARG);
    p = silt_sampler_default_params(SILT_SAMPLER_DDIM);
    p.karras = true;
    CHECK(silt_schedule_create(&p, &sc) == SILT_ERR_UNSUPPORTED);
    p = silt_sampler_default_params(SILT_SAMPLER_FLOW_EULER);
    p.prediction = SILT_PRED_EPS;
    CHECK(silt_schedule_create(&p, &sc) == SILT_ERR_ARG);
    p = silt_sampler_default_params(SILT_SAMPLER_EULER);
    p.prediction = SILT_PRED_FLOW;
    CHECK(silt_schedule_create(&p, &sc) == SILT_ERR_ARG);
    p = silt_sampler_default_params(SILT_SAMPLER_DDPM);
    p.steps_offset = 999;  // leading 980 + 999 runs past the table
    CHECK(silt_schedule_create(&p, &sc) == SILT_ERR_ARG);
    CHECK(strstr(silt_last_error_message(), "steps_offset") != NULL);
    p = silt_sampler_default_params(SILT_SAMPLER_DDPM);
    p.batch = 2;
    silt_sampler *s = NULL;
    CHECK(silt_sampler_init(&p, 7, 0, &s) == SILT_ERR_SHAPE && s == NULL);
    CHECK(silt_sampler_init(NULL, 7, 0, &s) == SILT_ERR_ARG);
    CHECK(isnan(silt_sampler_timestep(NULL, 0)));

    // A failing model: the status comes back and x is unchanged.
    enum { n = 9 };
    float x[n], keep[n], x0[n] = {0};
    test_fill(x, n, -1, 1);
    memcpy(keep, x, sizeof x);
    p = silt_sampler_default_params(SILT_SAMPLER_EULER);
    p.steps = 6;
    CHECK_OK(silt_sampler_init(&p, n, 0, &s));
    oracle o = {s, x0, 0, 3, false};
    CHECK(silt_sample(&p, oracle_fn, &o, x, n, 0, NULL) == SILT_ERR_IO);
    CHECK(memcmp(x, keep, sizeof x) == 0);
    // A model returning NaN: SILT_ERR_NUMERIC naming the step, x unchanged.
    oracle o2 = {s, x0, 0, -1, true};
    CHECK(silt_sample(&p, oracle_fn, &o2, x, n, 0, NULL) == SILT_ERR_NUMERIC);
    CHECK(strstr(silt_last_error_message(), "step 3/6") != NULL);
    CHECK(memcmp(x, keep, sizeof x) == 0);
    silt_sampler_free(s);
    // Progress counts the steps.
    silt_progress prog;
    memset(&prog, 0, sizeof prog);
    oracle o3 = {NULL, x0, 0, -1, false};
    CHECK_OK(silt_sampler_init(&p, n, 0, &s));
    o3.s = s;
    CHECK_OK(silt_sample(&p, oracle_fn, &o3, x, n, 0, &prog));
    CHECK(prog.done == 6 && prog.total == 6);
    silt_sampler_free(s);
    silt_sampler_free(NULL);
    silt_schedule_free(NULL);
}

// learned_range reads eps from channels [0,C) and v from [C,2C) of each sample:
// the variance half changes only the noise scale, and v = +-1 gives log beta / log beta~.
static void test_learned_range_layout(void) {
    enum { B = 3, per = 5, n = B * per };
    silt_sampler_params p = silt_sampler_default_params(SILT_SAMPLER_DDPM);
    p.variance = SILT_VARIANCE_LEARNED_RANGE, p.batch = B, p.clip_sample = false, p.steps = 10;
    silt_sampler_params pf = p, pl = p;
    pf.variance = SILT_VARIANCE_FIXED_SMALL, pl.variance = SILT_VARIANCE_FIXED_LARGE;
    float xl[n], out[2 * n], eps[n], z[n];
    test_seed(21);
    test_fill(xl, n, -1, 1);
    test_fill(eps, n, -1, 1);
    test_fill(z, n, -2, 2);
    for (int vsign = -1; vsign <= 1; vsign += 2) {
        silt_sampler *s = NULL, *sf = NULL;
        CHECK_OK(silt_sampler_init(&p, n, 0, &s));
        CHECK_OK(silt_sampler_init(vsign < 0 ? &pf : &pl, n, 0, &sf));
        if (!s || !sf) continue;
        CHECK(silt_sampler_output_numel(s) == 2 * n && silt_sampler_output_numel(sf) == n);
        for (int b = 0; b < B; b++)
            for (int k = 0; k < per; k++) {
                out[b * 2 * per + k] = eps[b * per + k];
                out[b * 2 * per + per + k] = (float)vsign;
            }
        float a[n], c[n];
        memcpy(a, xl, sizeof a);
        memcpy(c, xl, sizeof c);
        CHECK_OK(silt_sampler_step(s, out, a, z));
        CHECK_OK(silt_sampler_step(sf, eps, c, z));
        CHECK_CLOSE(vsign < 0 ? "learned v=-1 == fixed_small" : "learned v=+1 == fixed_large", a, c, n, 1e-5, 1e-6);
        silt_sampler_free(s);
        silt_sampler_free(sf);
    }
}

// Rectified-flow training pairs: image i's noise is Philox stream stream0 + i
// from offset 0 (so a pair regenerates from its image index alone), x0 the
// latent normalised as (z - shift) * scale, x_t = (1 - s) x0 + s n, and the
// target n - x0.
static void test_flow_pair(void) {
    const int64_t B = 3, per = 7;
    float z[21], sig[3] = {0.1f, 0.5f, 0.9f}, xt[21], tg[21], noise[7];
    for (int k = 0; k < 21; k++) z[k] = (float)(k - 10) / 7.0f;
    flow_pair_cpu(xt, tg, z, sig, B, per, 0.25, 1.5, 42, 9);
    int bad = 0;
    for (int64_t i = 0; i < B; i++) {
        silt_rng_normal(noise, per, 42, 9 + (uint64_t)i, 0);
        for (int64_t k = 0; k < per; k++) {
            const float x0 = (float)((z[i * per + k] - 0.25) * 1.5);
            bad += tg[i * per + k] != noise[k] - x0;
            bad += xt[i * per + k] != (1.0f - sig[i]) * x0 + sig[i] * noise[k];
        }
    }
    CHECK_MSG(bad == 0, "flow_pair_cpu: %d values off", bad);
    // Pixels (shift 0, scale 1): x0 = z exactly; at s = 0 x_t is x0.
    float s0[1] = {0.0f};
    flow_pair_cpu(xt, tg, z, s0, 1, per, 0.0, 1.0, 42, 9);
    for (int k = 0; k < per; k++) CHECK(xt[k] == z[k]);
}

int main(void) {
    test_names();
    test_flow_pair();
    test_defaults();
    test_known_values();
    test_tables();
    test_monotone();
    test_oracle_lands_on_x0();
    test_flow_constant_velocity();
    test_determinism();
    test_noise_moments();
    test_errors();
    test_learned_range_layout();
    return check_summary();
}
