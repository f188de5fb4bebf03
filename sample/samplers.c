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
#include "cuda/cuda.h"

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
    int side;         // SIDE_HOST or SIDE_DEVICE once a step is taken (0 before)
    float *d_noise, *d_prev_x0;  // device twins of noise and prev_x0, made on the first device step
};

enum { SIDE_HOST = 1, SIDE_DEVICE = 2 };

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
    silt_cuda_free(s->d_noise);
    silt_cuda_free(s->d_prev_x0);
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

// Per-step coefficients of the x0 estimate (forms in cuda/ops_sample.h):
// eps on the VP sample is written (x - sqrt(1-a) m) / sqrt(a), diffusers' float order.
static void x0_coefficients(const silt_sampler *s, int i, sampler_update *u) {
    const silt_schedule *sc = s->sch;
    const silt_sampler_params *p = &sc->params;
    bool v = p->prediction == SILT_PRED_V;
    switch (p->sampler) {
    case SILT_SAMPLER_DDPM:
    case SILT_SAMPLER_DDIM: {
        double a = sc->alphas_cumprod[sc->t_index[i]];
        u->x0_form = v ? SAMPLER_X0_V_VP : SAMPLER_X0_EPS_VP;
        u->x0_c1 = (float)sqrt(1 - a);  // sqrt(beta_prod_t)
        u->x0_c2 = (float)sqrt(a);      // sqrt(alpha_prod_t)
        break;
    }
    case SILT_SAMPLER_EULER:
    case SILT_SAMPLER_EULER_A: {
        double sg = sc->sigmas[i];
        u->x0_form = v ? SAMPLER_X0_V_K : SAMPLER_X0_EPS_K;
        u->x0_c1 = (float)sg;
        u->x0_c2 = (float)(-sg / sqrt(sg * sg + 1));  // v: m * (-sigma / sqrt(sigma^2+1)) + x / (sigma^2+1)
        u->x0_c3 = (float)(sg * sg + 1);
        break;
    }
    case SILT_SAMPLER_DPMPP_2M: {
        // _sigma_to_alpha_sigma_t: the VP pair (alpha, sigma) of the k-diffusion sigma.
        double sg = sc->sigmas[i], al = 1 / sqrt(sg * sg + 1);
        u->x0_form = v ? SAMPLER_X0_V_VP : SAMPLER_X0_EPS_VP;
        u->x0_c1 = (float)(sg * al);
        u->x0_c2 = (float)al;
        break;
    }
    default:
        u->x0_form = SAMPLER_X0_FLOW;
        u->x0_c1 = sc->sigmas[i];
        break;
    }
    u->clip = p->clip_sample && (p->sampler == SILT_SAMPLER_DDPM || p->sampler == SILT_SAMPLER_DDIM);
    u->clip_range = (float)p->clip_sample_range;
}

static inline float x0_of(const sampler_update *u, float x, float m) {
    switch (u->x0_form) {
    case SAMPLER_X0_EPS_VP: return (x - u->x0_c1 * m) / u->x0_c2;
    case SAMPLER_X0_V_VP: return u->x0_c2 * x - u->x0_c1 * m;
    case SAMPLER_X0_EPS_K: return x - u->x0_c1 * m;
    case SAMPLER_X0_V_K: return m * u->x0_c2 + x / u->x0_c3;
    default: return x - u->x0_c1 * m;
    }
}

static inline float clip_x0(const sampler_update *u, float x0) {
    if (!u->clip) return x0;
    float r = u->clip_range;
    return x0 < -r ? -r : (x0 > r ? r : x0);
}

// Index of element j's main (eps/v) value in the model output.
static inline int64_t out_index(const sampler_update *u, int64_t j) {
    return u->learned ? (j / u->per) * 2 * u->per + j % u->per : j;
}

silt_status silt_sampler_pred_x0(const silt_sampler *s, const float *model_output, const float *x, float *x0) {
    if (!s || !model_output || !x || !x0) return SILT_FAIL(SILT_ERR_ARG, "silt_sampler_pred_x0: NULL argument");
    if (s->i >= s->sch->steps) return SILT_FAIL(SILT_ERR_ARG, "silt_sampler_pred_x0: all %d steps done", s->sch->steps);
    sampler_update u = {.n = s->n, .per = s->per, .learned = s->learned};
    x0_coefficients(s, s->i, &u);
    for (int64_t j = 0; j < s->n; j++) x0[j] = clip_x0(&u, x0_of(&u, x[j], model_output[out_index(&u, j)]));
    return SILT_OK;
}

// ---- steps ---------------------------------------------------------------------------
// Each step is its coefficients (host, double) and one elementwise pass,
// sampler_update_cpu here or its twin sampler_update_cuda.

// DDPMScheduler.step: posterior mean c0 x0 + cx x, plus std z for t > 0.
static void coef_ddpm(const silt_sampler *s, sampler_update *u) {
    const silt_schedule *sc = s->sch;
    const silt_sampler_params *p = &sc->params;
    int i = s->i, t = sc->t_index[i], prev = sc->prev_index[i];
    double a_t = sc->alphas_cumprod[t], a_prev = prev >= 0 ? sc->alphas_cumprod[prev] : 1.0;
    double b_t = 1 - a_t, b_prev = 1 - a_prev;
    double cur_alpha = a_t / a_prev, cur_beta = 1 - cur_alpha;
    u->c0 = (float)(sqrt(a_prev) * cur_beta / b_t);
    u->cx = (float)(sqrt(cur_alpha) * b_prev / b_t);
    double var_small = fmax(b_prev / b_t * cur_beta, 1e-20);  // clamped as in _get_variance
    u->sd = (float)(p->variance == SILT_VARIANCE_FIXED_LARGE ? sqrt(cur_beta) : sqrt(var_small));
    u->min_log = log(var_small);  // learned_range: log var = frac max_log + (1-frac) min_log
    u->max_log = log(cur_beta);
}

// DDIMScheduler.step (eq. 12): x' = sqrt(a_prev) x0 + sqrt(1 - a_prev - std^2) eps + std z.
static void coef_ddim(const silt_sampler *s, sampler_update *u) {
    const silt_schedule *sc = s->sch;
    const silt_sampler_params *p = &sc->params;
    int i = s->i, t = sc->t_index[i], prev = sc->prev_index[i];
    double a_t = sc->alphas_cumprod[t], a_prev = prev >= 0 ? sc->alphas_cumprod[prev] : sc->final_alpha_cumprod;
    double b_t = 1 - a_t;
    double var = (1 - a_prev) / b_t * (1 - a_t / a_prev);
    double sd = p->eta * sqrt(var);
    u->c0 = (float)sqrt(a_prev);
    u->cdir = (float)sqrt(fmax(1 - a_prev - sd * sd, 0.0));
    u->sa = (float)sqrt(a_t);
    u->sb = (float)sqrt(b_t);
    u->sd = (float)sd;
    u->v_pred = p->prediction == SILT_PRED_V;  // pred_epsilon from the unclipped prediction
}

// EulerDiscreteScheduler.step (churn 0) and EulerAncestralDiscreteScheduler.step:
// d = (x - x0)/sigma, x' = x + d (sigma_next - sigma) [+ sigma_up z, sigma_next -> sigma_down].
static void coef_euler(const silt_sampler *s, sampler_update *u) {
    const silt_schedule *sc = s->sch;
    int i = s->i;
    double sg = sc->sigmas[i], next = sc->sigmas[i + 1], up = 0;
    if (sc->params.sampler == SILT_SAMPLER_EULER_A) ancestral_sigmas(sg, next, sc->params.eta, &up, &next);
    u->sigma = (float)sg;
    u->dt = (float)(next - sg);
    u->up = (float)up;
}

// DPMSolverMultistepScheduler (dpmsolver++, midpoint, order 2) on the VP sample.
// lambda = log(alpha) - log(sigma_vp) = -log(sigma); h = lambda_t - lambda_s0.
// First order on the first step and on the last (final sigma 0: lower_order_final).
static void coef_dpm(const silt_sampler *s, sampler_update *u) {
    const silt_schedule *sc = s->sch;
    int i = s->i;
    double st = sc->sigmas[i + 1], s0 = sc->sigmas[i];
    double al_t = 1 / sqrt(st * st + 1), sv_t = st * al_t;
    double al_0 = 1 / sqrt(s0 * s0 + 1), sv_0 = s0 * al_0;
    u->first = s->lower_order_nums < 1 || i == sc->steps - 1;
    u->c1 = 0;
    if (st == 0) {  // h = inf: x' = x0 exactly
        u->cx = 0, u->cd = -1;
    } else {
        double h = (log(al_t) - log(sv_t)) - (log(al_0) - log(sv_0));
        u->cx = (float)(sv_t / sv_0);
        u->cd = (float)(al_t * (exp(-h) - 1));
        if (!u->first) {
            double s1 = sc->sigmas[i - 1], al_1 = 1 / sqrt(s1 * s1 + 1), sv_1 = s1 * al_1;
            double h0 = (log(al_0) - log(sv_0)) - (log(al_1) - log(sv_1));
            u->c1 = (float)(1 / (h0 / h));  // D1 = (1/r0) (m0 - m1), r0 = h_0 / h
        }
    }
}

// FlowMatchEulerDiscreteScheduler.step: x' = x + (sigma_next - sigma) v.
static void coef_flow(const silt_sampler *s, sampler_update *u) {
    u->dt = s->sch->sigmas[s->i + 1] - s->sch->sigmas[s->i];
}

// The coefficients of step s->i.
static sampler_update step_update(const silt_sampler *s) {
    sampler_update u = {.n = s->n, .per = s->per, .learned = s->learned};
    x0_coefficients(s, s->i, &u);
    switch (s->sch->params.sampler) {
    case SILT_SAMPLER_DDPM: u.kind = SAMPLER_UPDATE_DDPM, coef_ddpm(s, &u); break;
    case SILT_SAMPLER_DDIM: u.kind = SAMPLER_UPDATE_DDIM, coef_ddim(s, &u); break;
    case SILT_SAMPLER_EULER:
    case SILT_SAMPLER_EULER_A: u.kind = SAMPLER_UPDATE_EULER, coef_euler(s, &u); break;
    case SILT_SAMPLER_DPMPP_2M: u.kind = SAMPLER_UPDATE_DPM, coef_dpm(s, &u); break;
    default: u.kind = SAMPLER_UPDATE_FLOW, coef_flow(s, &u); break;
    }
    return u;
}

// The CPU twin of sampler_update_cuda (cuda/ops_sample.h).
static void sampler_update_cpu(const sampler_update *u, float *x, const float *mo, const float *z, float *prev) {
    for (int64_t j = 0; j < u->n; j++) {
        const int64_t o = out_index(u, j);
        const float xj = x[j], m = mo[o];
        float r;
        switch (u->kind) {
        case SAMPLER_UPDATE_DDPM: {
            float x0 = clip_x0(u, x0_of(u, xj, m));
            r = u->c0 * x0 + u->cx * xj;
            if (z) {
                float sd = u->sd;
                if (u->learned) {  // frac = (v+1)/2; log var = frac max_log + (1-frac) min_log
                    double frac = ((double)mo[o + u->per] + 1) / 2;
                    sd = (float)exp(0.5 * (frac * u->max_log + (1 - frac) * u->min_log));
                }
                r = r + sd * z[j];
            }
            break;
        }
        case SAMPLER_UPDATE_DDIM: {
            float x0 = clip_x0(u, x0_of(u, xj, m));
            float eps = u->v_pred ? u->sa * m + u->sb * xj : m;
            r = u->c0 * x0 + u->cdir * eps;
            if (z) r = r + u->sd * z[j];
            break;
        }
        case SAMPLER_UPDATE_EULER: {
            float x0 = x0_of(u, xj, m);
            float d = (xj - x0) / u->sigma;
            r = xj + d * u->dt;
            if (z) r = r + z[j] * u->up;
            break;
        }
        case SAMPLER_UPDATE_DPM: {
            float m0 = x0_of(u, xj, m);
            if (u->first) {
                r = u->cx * xj - u->cd * m0;
            } else {
                float d1 = u->c1 * (m0 - prev[j]);
                r = u->cx * xj - u->cd * m0 - 0.5f * u->cd * d1;
            }
            prev[j] = m0;
            break;
        }
        default: r = xj + u->dt * m; break;
        }
        x[j] = r;
    }
}

// One sampler keeps its state (dpmpp_2m's previous x0) on one side: the
// first step that succeeds decides which.
static silt_status check_side(const silt_sampler *s, int side) {
    if (s->side && s->side != side)
        return SILT_FAIL(SILT_ERR_ARG, "%s: steps on the cpu and on the device cannot be mixed in one run",
                         silt_sampler_name(s->sch->params.sampler));
    return SILT_OK;
}

static silt_status check_step(const silt_sampler *s, const float *model_output, const float *x, const char *fn) {
    if (!s || !model_output || !x) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL argument", fn);
    if (s->i >= s->sch->steps)
        return SILT_FAIL(SILT_ERR_ARG, "%s: all %d steps already taken", silt_sampler_name(s->sch->params.sampler),
                         s->sch->steps);
    return SILT_OK;
}

static void step_taken(silt_sampler *s, int side) {
    s->side = side;
    if (s->sch->params.sampler == SILT_SAMPLER_DPMPP_2M && s->lower_order_nums < 2) s->lower_order_nums++;
    s->i++;
}

silt_status silt_sampler_step(silt_sampler *s, const float *model_output, float *x, const float *noise) {
    SILT_TRY(check_step(s, model_output, x, "silt_sampler_step"));
    SILT_TRY(check_side(s, SIDE_HOST));
    const float *z = NULL;
    if (silt_sampler_needs_noise(s, s->i)) {
        if (!noise) {
            step_noise(s->noise, s->n, s->n / s->per, s->seed, s->i);
            noise = s->noise;
        }
        z = noise;
    }
    sampler_update u = step_update(s);
    sampler_update_cpu(&u, x, model_output, z, s->prev_x0);
    step_taken(s, SIDE_HOST);
    return SILT_OK;
}

silt_status silt_sampler_scale_input_cuda(const silt_sampler *s, float *out, const float *x) {
    if (!s || !out || !x) return SILT_FAIL(SILT_ERR_ARG, "silt_sampler_scale_input_cuda: NULL argument");
    if (s->i >= s->sch->steps)
        return SILT_FAIL(SILT_ERR_ARG, "silt_sampler_scale_input_cuda: all %d steps done", s->sch->steps);
    return scale_fwd_cuda(out, x, silt_sampler_input_scale(s, s->i), s->n);
}

silt_status silt_sampler_step_cuda(silt_sampler *s, const float *model_output, float *x, const float *noise) {
    SILT_TRY(check_step(s, model_output, x, "silt_sampler_step_cuda"));
    SILT_TRY(check_side(s, SIDE_DEVICE));
    const bool dpm = s->sch->params.sampler == SILT_SAMPLER_DPMPP_2M;
    if (dpm && !s->d_prev_x0) SILT_TRY(silt_cuda_malloc((void **)&s->d_prev_x0, (size_t)s->n * sizeof(float)));
    const float *z = NULL;
    if (silt_sampler_needs_noise(s, s->i)) {
        if (!noise) {  // the CPU's stream layout (step_noise) from the Philox twin
            if (!s->d_noise) SILT_TRY(silt_cuda_malloc((void **)&s->d_noise, (size_t)s->n * sizeof(float)));
            for (int64_t b = 0; b < s->n / s->per; b++)
                SILT_TRY(silt_rng_normal_cuda(s->d_noise + b * s->per, s->per, s->seed, (uint64_t)b,
                                              (uint64_t)(s->i + 1) * (uint64_t)s->per));
            noise = s->d_noise;
        }
        z = noise;
    }
    sampler_update u = step_update(s);
    SILT_TRY(sampler_update_cuda(&u, x, model_output, z, s->d_prev_x0));
    step_taken(s, SIDE_DEVICE);
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

void flow_pair_cpu(float *xt, float *target, const float *z, const float *sig, int64_t B, int64_t per, double shift,
                   double scale, uint64_t seed, uint64_t stream0) {
    for (int64_t i = 0; i < B; i++) {
        float *x = xt + i * per, *v = target + i * per;
        const float *zi = z + i * per, s = sig[i];
        silt_rng_normal(v, per, seed, stream0 + (uint64_t)i, 0);  // the noise, then the target in place
        for (int64_t k = 0; k < per; k++) {
            const float x0 = (float)((zi[k] - shift) * scale);
            x[k] = (1.0f - s) * x0 + s * v[k];
            v[k] -= x0;
        }
    }
}
