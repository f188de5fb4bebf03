// Sampler steps over a schedule (sample/schedule.c). Each update is the one of
// the diffusers scheduler named in sample/sample.h, written in the same order of
// float operations on the sample (scalars in double), so a run matches diffusers
// to ~1e-6. References: DDPM eq. 6-7 (Ho et al. 2020); DDIM eq. 12 (Song et al.
// 2021); k-diffusion sampling.py sample_euler / sample_euler_ancestral /
// sample_dpmpp_2m; DPM-Solver++ (Lu et al. 2022) alg. 2; SD3 (Esser et al. 2024).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sample/sample.h"

#include "core/rng.h"

struct silt_sampler {
    silt_schedule *sch;
    int64_t n;        // numel of the latent batch
    int64_t per;      // numel of one sample (learned_range output split)
    bool learned;     // model output is (B, 2C, H, W)
    uint64_t seed;
    int i;            // next step
    int lower_order_nums;  // dpmpp_2m: steps taken so far, capped at 2
    float *noise;     // [n] noise drawn from the seed
    float *prev_x0;   // [n] dpmpp_2m: x0 prediction of the previous step
};

// ---- noise -------------------------------------------------------------------------

// Step noise lives in the stream of its sample: sample b of the batch draws
// from Philox stream b at offset (step + 1) * per_sample, after the initial
// noise at offset 0 (which the pipeline draws). So any sample of a batch can
// be regenerated alone, on CPU or GPU.
static void step_noise(float *out, int64_t n, int64_t batch, uint64_t seed, int step) {
    int64_t b_count = batch > 0 && n % batch == 0 ? batch : 1, per = n / b_count;
    for (int64_t b = 0; b < b_count; b++)
        silt_rng_normal(out + b * per, per, seed, (uint64_t)b, (uint64_t)(step + 1) * (uint64_t)per);
}

// ---- state ---------------------------------------------------------------------------

void silt_sampler_free(silt_sampler *s) {
    if (!s) return;
    silt_schedule_free(s->sch);
    free(s->noise);
    free(s->prev_x0);
    free(s);
}

silt_status silt_sampler_init(const silt_sampler_params *p, int64_t n, uint64_t seed, silt_sampler **out) {
    if (!p || !out) return SILT_FAIL(SILT_ERR_ARG, "silt_sampler_init: NULL argument");
    if (n < 1) return SILT_FAIL(SILT_ERR_ARG, "silt_sampler_init: n %lld must be >= 1", (long long)n);
    if (p->batch < 1 || n % p->batch != 0)
        return SILT_FAIL(SILT_ERR_SHAPE, "%s: n %lld is not a multiple of batch %lld", silt_sampler_name(p->sampler),
                         (long long)n, (long long)p->batch);
    silt_schedule *sch = NULL;
    SILT_TRY(silt_schedule_create(p, &sch));
    silt_sampler *s = calloc(1, sizeof *s);
    if (!s) {
        silt_schedule_free(sch);
        return SILT_FAIL(SILT_ERR_OOM, "sampler state");
    }
    s->sch = sch;
    s->n = n;
    s->per = n / p->batch;
    s->learned = p->variance == SILT_VARIANCE_LEARNED_RANGE;
    s->seed = seed;
    s->noise = malloc((size_t)n * sizeof *s->noise);
    if (p->sampler == SILT_SAMPLER_DPMPP_2M) s->prev_x0 = malloc((size_t)n * sizeof *s->prev_x0);
    if (!s->noise || (p->sampler == SILT_SAMPLER_DPMPP_2M && !s->prev_x0)) {
        silt_sampler_free(s);
        return SILT_FAIL(SILT_ERR_OOM, "sampler state for %lld values", (long long)n);
    }
    *out = s;
    return SILT_OK;
}

const silt_schedule *silt_sampler_schedule(const silt_sampler *s) { return s ? s->sch : NULL; }
int silt_sampler_steps(const silt_sampler *s) { return s ? s->sch->steps : 0; }
int silt_sampler_index(const silt_sampler *s) { return s ? s->i : 0; }
float silt_sampler_init_noise_sigma(const silt_sampler *s) { return s ? s->sch->init_noise_sigma : NAN; }
int64_t silt_sampler_output_numel(const silt_sampler *s) { return s ? (s->learned ? 2 * s->n : s->n) : 0; }

float silt_sampler_timestep(const silt_sampler *s, int i) {
    if (!s || i < 0 || i >= s->sch->steps) return NAN;
    return s->sch->timesteps[i];
}

float silt_sampler_sigma(const silt_sampler *s, int i) {
    if (!s || i < 0 || i > s->sch->steps) return NAN;
    return s->sch->sigmas ? s->sch->sigmas[i] : 0.0f;
}

float silt_sampler_input_scale(const silt_sampler *s, int i) {
    if (!s || i < 0 || i >= s->sch->steps) return NAN;
    silt_sampler_kind k = s->sch->params.sampler;
    if (k == SILT_SAMPLER_EULER || k == SILT_SAMPLER_EULER_A) {
        // scale_model_input: sample / ((sigma**2 + 1) ** 0.5), float32 tensor ops.
        float sg = s->sch->sigmas[i];
        return 1.0f / sqrtf(sg * sg + 1.0f);
    }
    return 1.0f;
}

// Euler ancestral split of the step sigma_from -> sigma_to (k-diffusion get_ancestral_step).
static void ancestral_sigmas(double sf, double st, double eta, double *up, double *down) {
    double u = eta * sqrt(st * st * (sf * sf - st * st) / (sf * sf));
    if (!(u <= st)) u = st;
    *up = u;
    *down = sqrt(fmax(st * st - u * u, 0.0));
}

bool silt_sampler_needs_noise(const silt_sampler *s, int i) {
    if (!s || i < 0 || i >= s->sch->steps) return false;
    const silt_sampler_params *p = &s->sch->params;
    switch (p->sampler) {
    case SILT_SAMPLER_DDPM: return s->sch->t_index[i] > 0;  // no noise on the step from t = 0
    case SILT_SAMPLER_DDIM: return p->eta > 0;
    case SILT_SAMPLER_EULER_A: {
        double up, down;
        ancestral_sigmas(s->sch->sigmas[i], s->sch->sigmas[i + 1], p->eta, &up, &down);
        return up > 0;
    }
    default: return false;
    }
}

silt_status silt_sampler_scale_input(const silt_sampler *s, float *out, const float *x) {
    if (!s || !out || !x) return SILT_FAIL(SILT_ERR_ARG, "silt_sampler_scale_input: NULL argument");
    if (s->i >= s->sch->steps) return SILT_FAIL(SILT_ERR_ARG, "silt_sampler_scale_input: all %d steps done", s->sch->steps);
    float c = silt_sampler_input_scale(s, s->i);
    for (int64_t j = 0; j < s->n; j++) out[j] = x[j] * c;
    return SILT_OK;
}

// ---- the prediction as x0 -----------------------------------------------------------

// Index of element j's main (eps/v) value in the model output.
static inline int64_t out_index(const silt_sampler *s, int64_t j) {
    return s->learned ? (j / s->per) * 2 * s->per + j % s->per : j;
}

// Per-step coefficients: x0 = ca * x - cb * m (eps: ca = 1/sqrt(a), cb = sqrt(1-a)/sqrt(a)
// written as (x - sqrt(1-a) m) / sqrt(a) to follow diffusers' float order).
typedef struct { int form; float c1, c2, c3; } x0_coef;
enum { X0_EPS_VP, X0_V_VP, X0_EPS_K, X0_V_K, X0_FLOW };

static x0_coef x0_coefficients(const silt_sampler *s, int i) {
    const silt_schedule *sc = s->sch;
    const silt_sampler_params *p = &sc->params;
    x0_coef c = {0, 0, 0, 0};
    bool v = p->prediction == SILT_PRED_V;
    switch (p->sampler) {
    case SILT_SAMPLER_DDPM:
    case SILT_SAMPLER_DDIM: {
        double a = sc->alphas_cumprod[sc->t_index[i]];
        c.form = v ? X0_V_VP : X0_EPS_VP;
        c.c1 = (float)sqrt(1 - a);  // sqrt(beta_prod_t)
        c.c2 = (float)sqrt(a);      // sqrt(alpha_prod_t)
        break;
    }
    case SILT_SAMPLER_EULER:
    case SILT_SAMPLER_EULER_A: {
        double sg = sc->sigmas[i];
        c.form = v ? X0_V_K : X0_EPS_K;
        c.c1 = (float)sg;
        c.c2 = (float)(-sg / sqrt(sg * sg + 1));  // v: m * (-sigma / sqrt(sigma^2+1)) + x / (sigma^2+1)
        c.c3 = (float)(sg * sg + 1);
        break;
    }
    case SILT_SAMPLER_DPMPP_2M: {
        // _sigma_to_alpha_sigma_t: the VP pair (alpha, sigma) of the k-diffusion sigma.
        double sg = sc->sigmas[i], al = 1 / sqrt(sg * sg + 1);
        c.form = v ? X0_V_VP : X0_EPS_VP;
        c.c1 = (float)(sg * al);
        c.c2 = (float)al;
        break;
    }
    default:
        c.form = X0_FLOW;
        c.c1 = sc->sigmas[i];
        break;
    }
    return c;
}

static inline float x0_of(const x0_coef *c, float x, float m) {
    switch (c->form) {
    case X0_EPS_VP: return (x - c->c1 * m) / c->c2;
    case X0_V_VP: return c->c2 * x - c->c1 * m;
    case X0_EPS_K: return x - c->c1 * m;
    case X0_V_K: return m * c->c2 + x / c->c3;
    default: return x - c->c1 * m;
    }
}

static inline float clip_x0(const silt_sampler_params *p, float x0) {
    if (!p->clip_sample || (p->sampler != SILT_SAMPLER_DDPM && p->sampler != SILT_SAMPLER_DDIM)) return x0;
    float r = (float)p->clip_sample_range;
    return x0 < -r ? -r : (x0 > r ? r : x0);
}

silt_status silt_sampler_pred_x0(const silt_sampler *s, const float *model_output, const float *x, float *x0) {
    if (!s || !model_output || !x || !x0) return SILT_FAIL(SILT_ERR_ARG, "silt_sampler_pred_x0: NULL argument");
    if (s->i >= s->sch->steps) return SILT_FAIL(SILT_ERR_ARG, "silt_sampler_pred_x0: all %d steps done", s->sch->steps);
    x0_coef c = x0_coefficients(s, s->i);
    for (int64_t j = 0; j < s->n; j++) x0[j] = clip_x0(&s->sch->params, x0_of(&c, x[j], model_output[out_index(s, j)]));
    return SILT_OK;
}

// ---- steps ---------------------------------------------------------------------------

// DDPMScheduler.step: posterior mean c0 x0 + cx x, plus std z for t > 0.
static void step_ddpm(silt_sampler *s, const float *mo, float *x, const float *z) {
    const silt_schedule *sc = s->sch;
    const silt_sampler_params *p = &sc->params;
    int i = s->i, t = sc->t_index[i], prev = sc->prev_index[i];
    double a_t = sc->alphas_cumprod[t], a_prev = prev >= 0 ? sc->alphas_cumprod[prev] : 1.0;
    double b_t = 1 - a_t, b_prev = 1 - a_prev;
    double cur_alpha = a_t / a_prev, cur_beta = 1 - cur_alpha;
    float c0 = (float)(sqrt(a_prev) * cur_beta / b_t), cx = (float)(sqrt(cur_alpha) * b_prev / b_t);
    double var_small = fmax(b_prev / b_t * cur_beta, 1e-20);  // clamped as in _get_variance
    float std_fixed = (float)(p->variance == SILT_VARIANCE_FIXED_LARGE ? sqrt(cur_beta) : sqrt(var_small));
    double min_log = log(var_small), max_log = log(cur_beta);
    x0_coef c = x0_coefficients(s, i);
    for (int64_t j = 0; j < s->n; j++) {
        int64_t o = out_index(s, j);
        float x0 = clip_x0(p, x0_of(&c, x[j], mo[o]));
        float v = c0 * x0 + cx * x[j];
        if (z) {
            float sd = std_fixed;
            if (s->learned) {  // frac = (v+1)/2; log var = frac max_log + (1-frac) min_log
                double frac = ((double)mo[o + s->per] + 1) / 2;
                sd = (float)exp(0.5 * (frac * max_log + (1 - frac) * min_log));
            }
            v = v + sd * z[j];
        }
        x[j] = v;
    }
}

// DDIMScheduler.step (eq. 12): x' = sqrt(a_prev) x0 + sqrt(1 - a_prev - std^2) eps + std z.
static void step_ddim(silt_sampler *s, const float *mo, float *x, const float *z) {
    const silt_schedule *sc = s->sch;
    const silt_sampler_params *p = &sc->params;
    int i = s->i, t = sc->t_index[i], prev = sc->prev_index[i];
    double a_t = sc->alphas_cumprod[t], a_prev = prev >= 0 ? sc->alphas_cumprod[prev] : sc->final_alpha_cumprod;
    double b_t = 1 - a_t;
    double var = (1 - a_prev) / b_t * (1 - a_t / a_prev);
    double sd = p->eta * sqrt(var);
    float c_x0 = (float)sqrt(a_prev), c_dir = (float)sqrt(fmax(1 - a_prev - sd * sd, 0.0));
    float sa = (float)sqrt(a_t), sb = (float)sqrt(b_t), fsd = (float)sd;
    x0_coef c = x0_coefficients(s, i);
    bool v = p->prediction == SILT_PRED_V;
    for (int64_t j = 0; j < s->n; j++) {
        float m = mo[out_index(s, j)];
        float x0 = clip_x0(p, x0_of(&c, x[j], m));
        float eps = v ? sa * m + sb * x[j] : m;  // pred_epsilon from the unclipped prediction
        float r = c_x0 * x0 + c_dir * eps;
        if (z) r = r + fsd * z[j];
        x[j] = r;
    }
}

// EulerDiscreteScheduler.step (churn 0) and EulerAncestralDiscreteScheduler.step:
// d = (x - x0)/sigma, x' = x + d (sigma_next - sigma) [+ sigma_up z, sigma_next -> sigma_down].
static void step_euler(silt_sampler *s, const float *mo, float *x, const float *z) {
    const silt_schedule *sc = s->sch;
    int i = s->i;
    double sg = sc->sigmas[i], next = sc->sigmas[i + 1], up = 0;
    if (sc->params.sampler == SILT_SAMPLER_EULER_A) ancestral_sigmas(sg, next, sc->params.eta, &up, &next);
    float fs = (float)sg, dt = (float)(next - sg), fup = (float)up;
    x0_coef c = x0_coefficients(s, i);
    for (int64_t j = 0; j < s->n; j++) {
        float x0 = x0_of(&c, x[j], mo[out_index(s, j)]);
        float d = (x[j] - x0) / fs;
        float r = x[j] + d * dt;
        if (z) r = r + z[j] * fup;
        x[j] = r;
    }
}

// DPMSolverMultistepScheduler (dpmsolver++, midpoint, order 2) on the VP sample.
// lambda = log(alpha) - log(sigma_vp) = -log(sigma); h = lambda_t - lambda_s0.
// First order on the first step and on the last (final sigma 0: lower_order_final).
static void step_dpm(silt_sampler *s, const float *mo, float *x) {
    const silt_schedule *sc = s->sch;
    int i = s->i;
    double st = sc->sigmas[i + 1], s0 = sc->sigmas[i];
    double al_t = 1 / sqrt(st * st + 1), sv_t = st * al_t;
    double al_0 = 1 / sqrt(s0 * s0 + 1), sv_0 = s0 * al_0;
    bool first = s->lower_order_nums < 1 || i == sc->steps - 1;
    float cx, cd, c1 = 0;
    if (st == 0) {  // h = inf: x' = x0 exactly
        cx = 0, cd = -1;
    } else {
        double h = (log(al_t) - log(sv_t)) - (log(al_0) - log(sv_0));
        cx = (float)(sv_t / sv_0);
        cd = (float)(al_t * (exp(-h) - 1));
        if (!first) {
            double s1 = sc->sigmas[i - 1], al_1 = 1 / sqrt(s1 * s1 + 1), sv_1 = s1 * al_1;
            double h0 = (log(al_0) - log(sv_0)) - (log(al_1) - log(sv_1));
            c1 = (float)(1 / (h0 / h));  // D1 = (1/r0) (m0 - m1), r0 = h_0 / h
        }
    }
    x0_coef c = x0_coefficients(s, i);
    for (int64_t j = 0; j < s->n; j++) {
        float m0 = x0_of(&c, x[j], mo[out_index(s, j)]);
        float r;
        if (first) {
            r = cx * x[j] - cd * m0;
        } else {
            float d1 = c1 * (m0 - s->prev_x0[j]);
            r = cx * x[j] - cd * m0 - 0.5f * cd * d1;
        }
        s->prev_x0[j] = m0;
        x[j] = r;
    }
    if (s->lower_order_nums < 2) s->lower_order_nums++;
}

// FlowMatchEulerDiscreteScheduler.step: x' = x + (sigma_next - sigma) v.
static void step_flow(silt_sampler *s, const float *mo, float *x) {
    const silt_schedule *sc = s->sch;
    float dt = sc->sigmas[s->i + 1] - sc->sigmas[s->i];
    for (int64_t j = 0; j < s->n; j++) x[j] = x[j] + dt * mo[out_index(s, j)];
}

silt_status silt_sampler_step(silt_sampler *s, const float *model_output, float *x, const float *noise) {
    if (!s || !model_output || !x) return SILT_FAIL(SILT_ERR_ARG, "silt_sampler_step: NULL argument");
    if (s->i >= s->sch->steps)
        return SILT_FAIL(SILT_ERR_ARG, "%s: all %d steps already taken", silt_sampler_name(s->sch->params.sampler),
                         s->sch->steps);
    const float *z = NULL;
    if (silt_sampler_needs_noise(s, s->i)) {
        if (!noise) {
            step_noise(s->noise, s->n, s->n / s->per, s->seed, s->i);
            noise = s->noise;
        }
        z = noise;
    }
    switch (s->sch->params.sampler) {
    case SILT_SAMPLER_DDPM: step_ddpm(s, model_output, x, z); break;
    case SILT_SAMPLER_DDIM: step_ddim(s, model_output, x, z); break;
    case SILT_SAMPLER_EULER:
    case SILT_SAMPLER_EULER_A: step_euler(s, model_output, x, z); break;
    case SILT_SAMPLER_DPMPP_2M: step_dpm(s, model_output, x); break;
    default: step_flow(s, model_output, x); break;
    }
    s->i++;
    return SILT_OK;
}

// ---- the whole loop --------------------------------------------------------------------

silt_status silt_sample(const silt_sampler_params *p, silt_predict_fn f, void *user, float *x, int64_t n,
                        uint64_t seed, silt_progress *progress) {
    if (!p || !f || !x) return SILT_FAIL(SILT_ERR_ARG, "silt_sample: NULL argument");
    silt_sampler *s = NULL;
    SILT_TRY(silt_sampler_init(p, n, seed, &s));
    int64_t nout = silt_sampler_output_numel(s);
    float *xw = malloc((size_t)n * sizeof *xw), *xin = malloc((size_t)n * sizeof *xin);
    float *out = malloc((size_t)nout * sizeof *out);
    silt_status st = SILT_OK;
    if (!xw || !xin || !out) {
        st = SILT_FAIL(SILT_ERR_OOM, "silt_sample: buffers for %lld values", (long long)n);
        goto done;
    }
    // Work on a copy so that x is unchanged on failure.
    float sigma0 = silt_sampler_init_noise_sigma(s);
    for (int64_t j = 0; j < n; j++) xw[j] = x[j] * sigma0;
    int steps = silt_sampler_steps(s);
    if (progress) silt_progress_begin(progress, silt_sampler_name(p->sampler), steps);
    for (int i = 0; i < steps; i++) {
        if ((st = silt_sampler_scale_input(s, xin, xw)) != SILT_OK) break;
        if ((st = f(user, out, xin, silt_sampler_timestep(s, i), n)) != SILT_OK) break;
        if ((st = silt_sampler_step(s, out, xw, NULL)) != SILT_OK) break;
        for (int64_t j = 0; j < n; j++)
            if (!isfinite(xw[j])) {
                st = SILT_FAIL(SILT_ERR_NUMERIC, "%s: non-finite sample at step %d/%d (t=%g), element %lld",
                               silt_sampler_name(p->sampler), i + 1, steps, (double)silt_sampler_timestep(s, i),
                               (long long)j);
                break;
            }
        if (st != SILT_OK) break;
        if (progress) silt_progress_step(progress, 1);
    }
    if (progress) silt_progress_end(progress);
    if (st == SILT_OK) memcpy(x, xw, (size_t)n * sizeof *x);
done:
    free(xw);
    free(xin);
    free(out);
    silt_sampler_free(s);
    return st;
}
