// Noise schedules: the training table and, for a sampler and step count, the
// inference timesteps and sigmas, computed the way diffusers 0.42 computes them
// (schedulers/scheduling_{ddpm,ddim,euler_discrete,euler_ancestral_discrete,
// dpmsolver_multistep,flow_match_euler_discrete}.py), including its float32
// roundings: that is what makes sigmas agree to ~1 ulp instead of ~1e-4
// (near t=0, 1 - alphas_cumprod loses 3 digits in float32).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sample/sample.h"

// ---- enum names --------------------------------------------------------------

static const char *sampler_names[SILT_SAMPLER_COUNT] = {"ddpm", "ddim", "euler", "euler_a", "dpmpp_2m", "flow_euler"};
static const char *spacing_names[SILT_SPACING_COUNT] = {"leading", "trailing", "linspace", "adm"};
static const char *beta_names[SILT_BETA_COUNT] = {"linear", "scaled_linear"};
static const char *pred_names[SILT_PRED_COUNT] = {"eps", "v", "flow"};
static const char *variance_names[SILT_VARIANCE_COUNT] = {"fixed_small", "fixed_large", "learned_range"};

static int find_name(const char *name, const char *const *names, int count) {
    if (!name) return -1;
    for (int i = 0; i < count; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

#define NAME_FUNCS(fn, type, names, count, list)                                                            \
    const char *silt_##fn##_name(type v) { return (unsigned)v < (unsigned)(count) ? names[v] : "?"; }       \
    silt_status silt_##fn##_from_name(const char *name, type *out) {                                        \
        int i = find_name(name, names, count);                                                              \
        if (i < 0) return SILT_FAIL(SILT_ERR_ARG, "unknown " #fn " '%s' (expected %s)", name ? name : "(null)", list); \
        *out = (type)i;                                                                                     \
        return SILT_OK;                                                                                     \
    }

NAME_FUNCS(sampler, silt_sampler_kind, sampler_names, SILT_SAMPLER_COUNT,
           "ddpm, ddim, euler, euler_a, dpmpp_2m or flow_euler")
NAME_FUNCS(spacing, silt_spacing, spacing_names, SILT_SPACING_COUNT, "leading, trailing, linspace or adm")
NAME_FUNCS(beta_schedule, silt_beta_schedule, beta_names, SILT_BETA_COUNT, "linear or scaled_linear")
NAME_FUNCS(prediction, silt_prediction, pred_names, SILT_PRED_COUNT, "eps, v or flow")
NAME_FUNCS(variance, silt_variance, variance_names, SILT_VARIANCE_COUNT, "fixed_small, fixed_large or learned_range")

silt_sampler_params silt_sampler_default_params(silt_sampler_kind kind) {
    silt_sampler_params p;
    memset(&p, 0, sizeof p);
    p.sampler = kind;
    p.steps = kind == SILT_SAMPLER_FLOW_EULER ? 28 : 50;
    p.train_steps = 1000;
    p.beta_schedule = SILT_BETA_LINEAR;
    p.beta_start = 1e-4;
    p.beta_end = 0.02;
    p.table_f64 = false;
    // DDPMScheduler/DDIMScheduler default to "leading", the k-diffusion-style ones to "linspace".
    p.spacing = (kind == SILT_SAMPLER_DDPM || kind == SILT_SAMPLER_DDIM) ? SILT_SPACING_LEADING : SILT_SPACING_LINSPACE;
    p.steps_offset = 0;
    p.prediction = kind == SILT_SAMPLER_FLOW_EULER ? SILT_PRED_FLOW : SILT_PRED_EPS;
    p.karras = false;
    p.eta = kind == SILT_SAMPLER_EULER_A ? 1.0 : 0.0;
    p.shift = 3.0;
    p.set_alpha_to_one = true;
    p.clip_sample = kind == SILT_SAMPLER_DDPM || kind == SILT_SAMPLER_DDIM;
    p.clip_sample_range = 1.0;
    p.variance = SILT_VARIANCE_FIXED_SMALL;
    p.batch = 1;
    return p;
}

// ---- numpy / torch emulation ---------------------------------------------------

// np.linspace(start, stop, num)[i] in float64: i*step + start, last = stop.
static double np_linspace(double start, double stop, int num, int i) {
    if (num == 1) return start;
    if (i == num - 1) return stop;
    double step = (stop - start) / (double)(num - 1);
    return (double)i * step + start;
}

// np.arange(start, stop, step)[i] for floats: numpy fills element i >= 2 as
// start + i*((start+step) - start) (DOUBLE_fill). Its length, ceil((stop-start)/step),
// is n+1 instead of n for some n (61, 103, ...: diffusers' "trailing" grid then
// ends in a bogus timestep -1); silt always takes the first n, which equal diffusers'.
static double np_arange(double start, double step, int i) {
    if (i == 0) return start;
    double second = start + step;
    if (i == 1) return second;
    return start + (double)i * (second - start);
}

// np.round / Python round: half to even (the default rounding mode).
static double round_even(double x) { return nearbyint(x); }

// torch.linspace(a, b, n, dtype=float32) on the CPU: start + step*i for the
// first half, end - step*(n-1-i) for the second, with a fused multiply-add
// (the AVX2/AVX-512 kernel; verified bit for bit against torch 2.15).
static void torch_linspace_f32(float *out, double a, double b, int n) {
    float s = (float)a, e = (float)b;
    if (n == 1) { out[0] = s; return; }
    float step = (e - s) / (float)(n - 1);
    int half = n / 2;
    for (int i = 0; i < n; i++) out[i] = i < half ? fmaf(step, (float)i, s) : fmaf(-step, (float)(n - 1 - i), e);
}

// ---- training table ------------------------------------------------------------

static silt_status build_table(silt_schedule *s) {
    const silt_sampler_params *p = &s->params;
    int T = p->train_steps;
    s->betas = malloc((size_t)T * sizeof *s->betas);
    s->alphas_cumprod = malloc((size_t)T * sizeof *s->alphas_cumprod);
    float *tmp = malloc((size_t)T * sizeof *tmp);
    if (!s->betas || !s->alphas_cumprod || !tmp) {
        free(tmp);
        return SILT_FAIL(SILT_ERR_OOM, "schedule: table of %d steps", T);
    }
    if (p->table_f64) {
        // gaussian_diffusion.py: np.linspace(start, end, T, dtype=float64), cumprod in float64.
        double acc = 1.0;
        for (int i = 0; i < T; i++) {
            double b = p->beta_schedule == SILT_BETA_LINEAR ? np_linspace(p->beta_start, p->beta_end, T, i)
                                                            : np_linspace(sqrt(p->beta_start), sqrt(p->beta_end), T, i);
            if (p->beta_schedule == SILT_BETA_SCALED_LINEAR) b = b * b;
            s->betas[i] = b;
            acc *= 1.0 - b;
            s->alphas_cumprod[i] = acc;
        }
    } else {
        // diffusers: float32 betas, alphas = 1 - betas in float32, torch.cumprod
        // (CPU accumulates float in double and rounds each output to float).
        if (p->beta_schedule == SILT_BETA_LINEAR) {
            torch_linspace_f32(tmp, p->beta_start, p->beta_end, T);
        } else {
            torch_linspace_f32(tmp, sqrt(p->beta_start), sqrt(p->beta_end), T);
            for (int i = 0; i < T; i++) tmp[i] = tmp[i] * tmp[i];
        }
        double acc = 1.0;
        for (int i = 0; i < T; i++) {
            s->betas[i] = tmp[i];
            acc *= (double)(1.0f - tmp[i]);
            s->alphas_cumprod[i] = (double)(float)acc;
        }
    }
    free(tmp);
    return SILT_OK;
}

// k-diffusion sigma of table entry t, sqrt((1-a)/a), in the table's precision.
static double table_sigma(const silt_schedule *s, int t) {
    double a = s->alphas_cumprod[t];
    if (s->params.table_f64) return sqrt((1.0 - a) / a);
    float af = (float)a;
    return (double)sqrtf((1.0f - af) / af);
}

// EulerDiscreteScheduler._sigma_to_t: fractional table index of sigma by
// linear interpolation in log sigma. log_sigmas: float32 table logs.
static double sigma_to_t(double sigma, const float *log_sigmas, int T) {
    double ls = log(fmax(sigma, 1e-10));
    // low_idx = last index with log_sigmas[k] <= ls (cumsum(dists >= 0).argmax()), clipped to T-2.
    int low = 0;
    for (int k = 0; k < T; k++)
        if (ls - (double)log_sigmas[k] >= 0) low = k;
    if (low > T - 2) low = T - 2;
    double lo = log_sigmas[low], hi = log_sigmas[low + 1];
    double w = (lo - ls) / (lo - hi);
    w = w < 0 ? 0 : (w > 1 ? 1 : w);
    return (1 - w) * low + w * (low + 1);
}

// _convert_to_karras: (max^(1/rho) + ramp (min^(1/rho) - max^(1/rho)))^rho, rho = 7,
// ramp = np.linspace(0, 1, n) (Karras et al. 2022, eq. 5).
static double karras_sigma(double smin, double smax, int n, int i) {
    const double rho = 7.0;
    double min_inv = pow(smin, 1 / rho), max_inv = pow(smax, 1 / rho);
    return pow(max_inv + np_linspace(0, 1, n, i) * (min_inv - max_inv), rho);
}

// guided-diffusion respace.py space_timesteps(T, "n") with one section:
// cur_idx accumulates (T-1)/(n-1) and each entry is round(cur_idx), half to even.
// Writes the grid in descending order.
static void adm_timesteps(int *out, int T, int n) {
    double stride = n <= 1 ? 1.0 : (double)(T - 1) / (double)(n - 1);
    double cur = 0.0;
    for (int k = 0; k < n; k++) {
        out[n - 1 - k] = (int)round_even(cur);
        cur += stride;
    }
}

// Integer timesteps of DDPM/DDIM set_timesteps for the diffusers spacings.
static void ddpm_timesteps(int *out, const silt_sampler_params *p) {
    int T = p->train_steps, n = p->steps;
    switch (p->spacing) {
    case SILT_SPACING_LINSPACE:
        for (int k = 0; k < n; k++) out[n - 1 - k] = (int)round_even(np_linspace(0, T - 1, n, k));
        break;
    case SILT_SPACING_LEADING:
        for (int k = 0; k < n; k++) out[n - 1 - k] = k * (T / n) + p->steps_offset;
        break;
    case SILT_SPACING_TRAILING: {
        double r = (double)T / n;
        for (int k = 0; k < n; k++) out[k] = (int)round_even(np_arange(T, -r, k)) - 1;
        break;
    }
    default: adm_timesteps(out, T, n); break;
    }
}

// DPMSolverMultistepScheduler.set_timesteps (lambda_min_clipped = -inf, so last_timestep = T).
static void dpm_timesteps(int *out, const silt_sampler_params *p) {
    int T = p->train_steps, n = p->steps;
    switch (p->spacing) {
    case SILT_SPACING_LINSPACE:  // linspace(0, T-1, n+1).round()[::-1][:-1]
        for (int k = 0; k < n; k++) out[k] = (int)round_even(np_linspace(0, T - 1, n + 1, n - k));
        break;
    case SILT_SPACING_LEADING:  // (arange(0, n+1) * (T // (n+1)))[::-1][:-1] + offset
        for (int k = 0; k < n; k++) out[k] = (n - k) * (T / (n + 1)) + p->steps_offset;
        break;
    case SILT_SPACING_TRAILING: {
        double r = (double)T / n;
        for (int k = 0; k < n; k++) out[k] = (int)round_even(np_arange(T, -r, k)) - 1;
        break;
    }
    default: adm_timesteps(out, T, n); break;
    }
}

// Float timesteps of the Euler schedulers (before interpolating sigmas). scratch: n ints.
static void euler_timesteps(float *out, int *scratch, const silt_sampler_params *p) {
    int T = p->train_steps, n = p->steps;
    switch (p->spacing) {
    case SILT_SPACING_LINSPACE:  // np.linspace(0, T-1, n, dtype=float32)[::-1]
        for (int k = 0; k < n; k++) out[n - 1 - k] = (float)np_linspace(0, T - 1, n, k);
        break;
    case SILT_SPACING_LEADING:
        for (int k = 0; k < n; k++) out[n - 1 - k] = (float)(k * (T / n)) + (float)p->steps_offset;
        break;
    case SILT_SPACING_TRAILING: {
        double r = (double)T / n;
        for (int k = 0; k < n; k++) out[k] = (float)round_even(np_arange(T, -r, k)) - 1.0f;
        break;
    }
    default:
        adm_timesteps(scratch, T, n);
        for (int k = 0; k < n; k++) out[k] = (float)scratch[k];
        break;
    }
}

// np.interp(t, arange(T), table) in float64 (numpy's arr_interp).
static double interp_table(double t, const double *tab, int T) {
    if (t <= 0) return tab[0];
    if (t >= T - 1) return tab[T - 1];
    int j = (int)floor(t);
    if ((double)j == t) return tab[j];
    double slope = tab[j + 1] - tab[j];
    return slope * (t - j) + tab[j];
}

// ---- validation and build ------------------------------------------------------------

static silt_status validate(const silt_sampler_params *p) {
    if ((unsigned)p->sampler >= SILT_SAMPLER_COUNT) return SILT_FAIL(SILT_ERR_ARG, "schedule: bad sampler %d", (int)p->sampler);
    const char *name = silt_sampler_name(p->sampler);
    if (p->train_steps < 2 || p->train_steps > 100000)
        return SILT_FAIL(SILT_ERR_ARG, "%s: train_steps %d out of range 2..100000", name, p->train_steps);
    if (p->steps < 1 || p->steps > p->train_steps)
        return SILT_FAIL(SILT_ERR_ARG, "%s: steps %d out of range 1..%d (train_steps)", name, p->steps, p->train_steps);
    if ((unsigned)p->spacing >= SILT_SPACING_COUNT || (unsigned)p->beta_schedule >= SILT_BETA_COUNT ||
        (unsigned)p->prediction >= SILT_PRED_COUNT || (unsigned)p->variance >= SILT_VARIANCE_COUNT)
        return SILT_FAIL(SILT_ERR_ARG, "%s: bad enum value in params", name);
    bool flow = p->sampler == SILT_SAMPLER_FLOW_EULER;
    if (flow != (p->prediction == SILT_PRED_FLOW))
        return SILT_FAIL(SILT_ERR_ARG, "%s: prediction '%s' (flow_euler needs 'flow', the others eps or v)", name,
                         silt_prediction_name(p->prediction));
    if (flow) {
        if (!(p->shift > 0) || !isfinite(p->shift))
            return SILT_FAIL(SILT_ERR_ARG, "flow_euler: shift %g must be > 0", p->shift);
    } else {
        if (!(p->beta_start > 0) || !(p->beta_end > 0) || !(p->beta_end < 1) || !(p->beta_start < 1))
            return SILT_FAIL(SILT_ERR_ARG, "%s: betas %g..%g must lie in (0, 1)", name, p->beta_start, p->beta_end);
        if (p->steps_offset < 0 || p->steps_offset >= p->train_steps)
            return SILT_FAIL(SILT_ERR_ARG, "%s: steps_offset %d out of range", name, p->steps_offset);
    }
    if (p->karras && p->sampler != SILT_SAMPLER_EULER && p->sampler != SILT_SAMPLER_DPMPP_2M)
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: karras sigmas apply to euler and dpmpp_2m (as in diffusers)", name);
    if (!(p->eta >= 0) || !isfinite(p->eta)) return SILT_FAIL(SILT_ERR_ARG, "%s: eta %g must be >= 0", name, p->eta);
    if (p->clip_sample && !(p->clip_sample_range > 0))
        return SILT_FAIL(SILT_ERR_ARG, "%s: clip_sample_range %g must be > 0", name, p->clip_sample_range);
    if (p->batch < 1) return SILT_FAIL(SILT_ERR_ARG, "%s: batch %lld must be >= 1", name, (long long)p->batch);
    return SILT_OK;
}

void silt_schedule_free(silt_schedule *s) {
    if (!s) return;
    free(s->betas);
    free(s->alphas_cumprod);
    free(s->timesteps);
    free(s->t_index);
    free(s->prev_index);
    free(s->sigmas);
    free(s);
}

// flow_euler: FlowMatchEulerDiscreteScheduler. The training sigmas are shifted
// in float32 at construction; set_timesteps takes linspace(sigma_max, sigma_min)
// of that shifted table (times T), divides by T and shifts AGAIN in float64.
static void build_flow(silt_schedule *s) {
    const silt_sampler_params *p = &s->params;
    int n = p->steps, T = p->train_steps;
    float sf = (float)p->shift, sm1 = (float)(p->shift - 1.0);
    float s_hi = 1.0f, s_lo = 1.0f / (float)T;  // linspace(1, T, T)/T, ends
    double smax = (double)((sf * s_hi) / (1.0f + sm1 * s_hi));
    double smin = (double)((sf * s_lo) / (1.0f + sm1 * s_lo));
    for (int i = 0; i < n; i++) {
        double t = np_linspace(smax * T, smin * T, n, i);
        double sg = t / T;
        sg = p->shift * sg / (1 + (p->shift - 1) * sg);
        s->sigmas[i] = (float)sg;
        s->timesteps[i] = s->sigmas[i] * (float)T;
    }
    s->sigmas[n] = 0.0f;
    s->init_noise_sigma = 1.0f;
}

static silt_status build_kdiff(silt_schedule *s) {
    const silt_sampler_params *p = &s->params;
    int n = p->steps, T = p->train_steps;
    double *tab = malloc((size_t)T * sizeof *tab);
    float *logs = malloc((size_t)T * sizeof *logs);
    double *sg = malloc((size_t)n * sizeof *sg);
    int *ti = malloc((size_t)n * sizeof *ti);
    if (!tab || !logs || !sg || !ti) {
        free(tab), free(logs), free(sg), free(ti);
        return SILT_FAIL(SILT_ERR_OOM, "schedule: %d sigmas", T);
    }
    for (int t = 0; t < T; t++) {
        tab[t] = table_sigma(s, t);
        logs[t] = (float)log(tab[t]);  // np.log of a float32 array
    }
    if (p->sampler == SILT_SAMPLER_DPMPP_2M) {
        dpm_timesteps(s->t_index, p);
        if (p->karras) {
            // in_sigmas = the flipped table: sigma_min = table[0], sigma_max = table[T-1].
            for (int i = 0; i < n; i++) {
                sg[i] = karras_sigma(tab[0], tab[T - 1], n, i);
                s->t_index[i] = (int)round_even(sigma_to_t(sg[i], logs, T));
            }
        } else {
            for (int i = 0; i < n; i++) sg[i] = tab[s->t_index[i]];
        }
        for (int i = 0; i < n; i++) s->timesteps[i] = (float)s->t_index[i];
        s->init_noise_sigma = 1.0f;  // DPM-Solver works on the unscaled (VP) sample
    } else {
        euler_timesteps(s->timesteps, ti, p);
        for (int i = 0; i < n; i++) sg[i] = interp_table((double)s->timesteps[i], tab, T);
        if (p->karras) {
            double smin = sg[n - 1], smax = sg[0];  // from the interpolated sigmas, not the table
            for (int i = 0; i < n; i++) {
                sg[i] = karras_sigma(smin, smax, n, i);
                s->timesteps[i] = (float)sigma_to_t(sg[i], logs, T);
            }
        }
    }
    float mx = 0.0f;
    for (int i = 0; i < n; i++) {
        s->sigmas[i] = (float)sg[i];
        if (s->sigmas[i] > mx) mx = s->sigmas[i];
    }
    s->sigmas[n] = 0.0f;  // final_sigmas_type "zero"
    if (p->sampler != SILT_SAMPLER_DPMPP_2M) {
        // init_noise_sigma: max sigma for linspace/trailing, sqrt(max^2+1) otherwise (float32 ops).
        s->init_noise_sigma =
            (p->spacing == SILT_SPACING_LINSPACE || p->spacing == SILT_SPACING_TRAILING) ? mx : sqrtf(mx * mx + 1.0f);
    }
    free(tab), free(logs), free(sg), free(ti);
    return SILT_OK;
}

silt_status silt_schedule_create(const silt_sampler_params *p, silt_schedule **out) {
    if (!p || !out) return SILT_FAIL(SILT_ERR_ARG, "silt_schedule_create: NULL argument");
    SILT_TRY(validate(p));
    silt_schedule *s = calloc(1, sizeof *s);
    if (!s) return SILT_FAIL(SILT_ERR_OOM, "schedule");
    s->params = *p;
    s->steps = p->steps;
    int n = p->steps;
    silt_sampler_kind k = p->sampler;
    bool discrete = k == SILT_SAMPLER_DDPM || k == SILT_SAMPLER_DDIM;
    s->timesteps = malloc((size_t)n * sizeof *s->timesteps);
    if (discrete || k == SILT_SAMPLER_DPMPP_2M) s->t_index = malloc((size_t)n * sizeof *s->t_index);
    if (discrete) s->prev_index = malloc((size_t)n * sizeof *s->prev_index);
    if (!discrete) s->sigmas = malloc((size_t)(n + 1) * sizeof *s->sigmas);
    if (!s->timesteps || ((discrete || k == SILT_SAMPLER_DPMPP_2M) && !s->t_index) || (discrete && !s->prev_index) ||
        (!discrete && !s->sigmas)) {
        silt_schedule_free(s);
        return SILT_FAIL(SILT_ERR_OOM, "schedule: %d steps", n);
    }
    if (k == SILT_SAMPLER_FLOW_EULER) {
        build_flow(s);
        *out = s;
        return SILT_OK;
    }
    s->train_steps = p->train_steps;
    silt_status st = build_table(s);
    if (st == SILT_OK && !discrete) st = build_kdiff(s);
    if (st != SILT_OK) {
        silt_schedule_free(s);
        return st;
    }
    if (discrete) {
        int T = p->train_steps;
        ddpm_timesteps(s->t_index, p);
        for (int i = 0; i < n; i++) {
            if (s->t_index[i] >= T) {  // leading + steps_offset can run past the table
                int t = s->t_index[i];
                silt_schedule_free(s);
                return SILT_FAIL(SILT_ERR_ARG, "%s: timestep %d >= train_steps %d (lower steps_offset)",
                                 silt_sampler_name(k), t, T);
            }
            s->timesteps[i] = (float)s->t_index[i];
            if (k == SILT_SAMPLER_DDIM && p->spacing != SILT_SPACING_ADM)
                s->prev_index[i] = s->t_index[i] - T / n;  // DDIMScheduler.step: t - T // steps
            else
                s->prev_index[i] = i + 1 < n ? s->t_index[i + 1] : -1;
            if (s->prev_index[i] < 0) s->prev_index[i] = -1;
        }
        s->final_alpha_cumprod = p->set_alpha_to_one ? 1.0 : s->alphas_cumprod[0];
        s->init_noise_sigma = 1.0f;
    } else {
        for (int i = 0; i < n; i++)
            if (s->t_index && s->t_index[i] >= p->train_steps) {
                int t = s->t_index[i];
                silt_schedule_free(s);
                return SILT_FAIL(SILT_ERR_ARG, "%s: timestep %d >= train_steps (lower steps_offset)",
                                 silt_sampler_name(k), t);
            }
    }
    *out = s;
    return SILT_OK;
}
