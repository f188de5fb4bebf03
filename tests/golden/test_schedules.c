// Golden test: silt's schedules and samplers against diffusers' schedulers
// (tests/golden/schedules.txt, written by make_golden_schedules.py; the fake
// model and the noise formulas below must stay identical to that script's).
// Per case: timesteps (integer grids exactly, fractional ones to 1e-6), sigmas
// and init_noise_sigma (rel 2e-7, about one float32 ulp), and the sample
// after a full run with the fake model and injected noise (rel 1e-5 of the
// sample's scale). Deterministic cases also run through silt_sample.
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sample/sample.h"

#define B_ 2
#define N_ 8  // latent (2,2,1,2)
// Sigmas agree to ~1 float32 ulp (1.19e-7): the table is rebuilt bit for bit; torch's
// vectorized sqrt and numpy's float32 log are not always correctly rounded.
#define SIGMA_RTOL 2e-7

static double max_err_t, max_err_sigma, max_err_x, max_err_x_sample;  // relative, for the summary
static char worst_t[512], worst_x[512];

static void x_init(float *x) {
    for (int j = 0; j < N_; j++) x[j] = (float)(1.1 * sin(0.9 * j + 0.3) + 0.2 * cos(2.1 * j));
}
static void z_step(float *z, int i) {
    for (int j = 0; j < N_; j++) z[j] = (float)(1.3 * sin(1.7 * j + 0.61 * i + 0.5));
}

typedef struct { bool learned; } fake_ctx;

// model(x, t) = 0.1 x + 0.05 t / 1000; learned_range adds 0.9 tanh(x) channels.
static silt_status fake_model(void *user, float *out, const float *x, float t, int64_t n) {
    const fake_ctx *c = user;
    int64_t per = n / B_;
    for (int64_t j = 0; j < n; j++) {
        float e = (float)(0.1 * (double)x[j] + 0.05 * (double)t / 1000.0);
        if (!c->learned) {
            out[j] = e;
        } else {
            int64_t b = j / per, k = j % per;
            out[b * 2 * per + k] = e;
            out[b * 2 * per + per + k] = (float)(0.9 * tanh((double)x[j]));
        }
    }
    return SILT_OK;
}

typedef struct {
    char desc[512];
    silt_sampler_params p;
    int n_t, n_s, n_x, n_init;
    float t[512], s[512], x[N_], init;
} golden_case;

static int parse_case(char *line, golden_case *gc) {
    snprintf(gc->desc, sizeof gc->desc, "%s", line + 5);
    char *save = NULL;
    silt_sampler_kind kind = SILT_SAMPLER_DDPM;
    // First pass for the sampler, so the defaults are the right ones.
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", line);
    for (char *tok = strtok_r(tmp + 5, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
        if (strncmp(tok, "sampler=", 8) == 0 && silt_sampler_from_name(tok + 8, &kind) != SILT_OK) return -1;
    gc->p = silt_sampler_default_params(kind);
    silt_sampler_params *p = &gc->p;
    p->batch = B_;
    for (char *tok = strtok_r(line + 5, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) return -1;
        *eq = 0;
        const char *k = tok, *v = eq + 1;
        silt_status st = SILT_OK;
        if (!strcmp(k, "sampler")) continue;
        else if (!strcmp(k, "beta")) st = silt_beta_schedule_from_name(v, &p->beta_schedule);
        else if (!strcmp(k, "beta_start")) p->beta_start = atof(v);
        else if (!strcmp(k, "beta_end")) p->beta_end = atof(v);
        else if (!strcmp(k, "spacing")) st = silt_spacing_from_name(v, &p->spacing);
        else if (!strcmp(k, "offset")) p->steps_offset = atoi(v);
        else if (!strcmp(k, "steps")) p->steps = atoi(v);
        else if (!strcmp(k, "pred")) st = silt_prediction_from_name(v, &p->prediction);
        else if (!strcmp(k, "karras")) p->karras = atoi(v) != 0;
        else if (!strcmp(k, "eta")) p->eta = atof(v);
        else if (!strcmp(k, "shift")) p->shift = atof(v);
        else if (!strcmp(k, "alpha_one")) p->set_alpha_to_one = atoi(v) != 0;
        else if (!strcmp(k, "clip")) p->clip_sample = atoi(v) != 0;
        else if (!strcmp(k, "variance")) st = silt_variance_from_name(v, &p->variance);
        else return -1;
        if (st != SILT_OK) return -1;
    }
    return 0;
}

static int parse_values(char *line, char **name, float *vals, int cap) {
    char *save = NULL;
    *name = strtok_r(line, " \n", &save);
    char *cnt = strtok_r(NULL, " \n", &save);
    if (!*name || !cnt) return -1;
    int n = atoi(cnt);
    if (n < 0 || n > cap) return -1;
    for (int i = 0; i < n; i++) {
        char *tok = strtok_r(NULL, " \n", &save);
        if (!tok) return -1;
        vals[i] = strtof(tok, NULL);
    }
    return n;
}

// |a-b| <= rtol*|b| + atol, tracking the largest relative error over |b| >= floor.
static int close_track(const float *a, const float *b, int n, double rtol, double atol, double floor, double *max_rel) {
    int ok = 1;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= rtol * fabs((double)b[i]) + atol)) ok = 0;
        double rel = d / fmax(fabs((double)b[i]), floor);
        if (rel > *max_rel || isnan(rel)) *max_rel = isnan(rel) ? INFINITY : rel;
    }
    return ok;
}

static void check_case(const golden_case *gc) {
    silt_sampler *s = NULL;
    silt_status st = silt_sampler_init(&gc->p, N_, 0, &s);
    CHECK_MSG(st == SILT_OK, "%s: init failed: %s", gc->desc, silt_last_error());
    if (st != SILT_OK) return;
    const silt_schedule *sc = silt_sampler_schedule(s);
    int steps = silt_sampler_steps(s);
    CHECK_MSG(steps == gc->n_t, "%s: %d steps, golden %d", gc->desc, steps, gc->n_t);
    if (steps != gc->n_t) {
        silt_sampler_free(s);
        return;
    }
    // Timesteps: integers for most samplers, fractional (up to 999) for euler.
    double prev_t = max_err_t;
    CHECK_MSG(close_track(sc->timesteps, gc->t, steps, 1e-6, 1e-6, 1.0, &max_err_t), "%s: timesteps differ", gc->desc);
    if (max_err_t > prev_t) snprintf(worst_t, sizeof worst_t, "%s", gc->desc);
    if (sc->t_index) {  // integer grids (ddpm, ddim, dpmpp_2m) must agree exactly
        int exact = 1;
        for (int i = 0; i < steps; i++) exact &= sc->timesteps[i] == gc->t[i] && (float)sc->t_index[i] == gc->t[i];
        CHECK_MSG(exact, "%s: integer timesteps differ", gc->desc);
    }
    if (gc->n_s) {
        CHECK_MSG(sc->sigmas != NULL && gc->n_s == steps + 1, "%s: sigma count", gc->desc);
        if (sc->sigmas && gc->n_s == steps + 1)
            CHECK_MSG(close_track(sc->sigmas, gc->s, gc->n_s, SIGMA_RTOL, 0, 1e-30, &max_err_sigma), "%s: sigmas differ",
                      gc->desc);
    } else {
        CHECK_MSG(sc->sigmas == NULL, "%s: unexpected sigmas", gc->desc);
    }
    float ins = silt_sampler_init_noise_sigma(s);
    CHECK_MSG(close_track(&ins, &gc->init, 1, SIGMA_RTOL, 0, 1e-30, &max_err_sigma), "%s: init_noise_sigma %.9g vs %.9g",
              gc->desc, ins, gc->init);

    // The run through the per-step API with injected noise.
    fake_ctx ctx = {gc->p.variance == SILT_VARIANCE_LEARNED_RANGE};
    float x[N_], xin[N_], out[2 * N_], z[N_];
    x_init(x);
    for (int j = 0; j < N_; j++) x[j] *= ins;
    for (int i = 0; i < steps; i++) {
        CHECK_OK(silt_sampler_scale_input(s, xin, x));
        fake_model(&ctx, out, xin, silt_sampler_timestep(s, i), N_);
        z_step(z, i);
        CHECK_OK(silt_sampler_step(s, out, x, z));
    }
    CHECK_MSG(silt_sampler_step(s, out, x, z) == SILT_ERR_ARG, "%s: step past the end accepted", gc->desc);
    // Scale: the sample's largest magnitude (values near 0 are compared at that scale).
    double scale = 0;
    for (int j = 0; j < N_; j++) scale = fmax(scale, fabs(gc->x[j]));
    double prev_x = max_err_x;
    int ok = close_track(x, gc->x, N_, 1e-5, 1e-5 * scale, scale, &max_err_x);
    if (max_err_x > prev_x) snprintf(worst_x, sizeof worst_x, "%s", gc->desc);
    CHECK_MSG(ok, "%s: final x differs (max rel %.3g)", gc->desc, max_err_x);
    if (!ok) {
        for (int j = 0; j < N_; j++) fprintf(stderr, "  x[%d] got %.9g want %.9g\n", j, x[j], gc->x[j]);
    }
    // Deterministic samplers: silt_sample gives the same result.
    bool stochastic = gc->p.sampler == SILT_SAMPLER_DDPM || gc->p.sampler == SILT_SAMPLER_EULER_A ||
                      (gc->p.sampler == SILT_SAMPLER_DDIM && gc->p.eta > 0);
    if (!stochastic) {
        float y[N_];
        x_init(y);
        CHECK_OK(silt_sample(&gc->p, fake_model, &ctx, y, N_, 123, NULL));
        CHECK_MSG(close_track(y, gc->x, N_, 1e-5, 1e-5 * scale, scale, &max_err_x_sample), "%s: silt_sample differs",
                  gc->desc);
    }
    silt_sampler_free(s);
}

int main(void) {
    const char *dir = getenv("SILT_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/golden/schedules.txt", dir ? dir : ".");
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    if (!f) return check_summary();
    char *line = NULL;
    size_t cap = 0;
    golden_case *gc = calloc(1, sizeof *gc);
    int in_case = 0, ncases = 0, bad_lines = 0;
    while (getline(&line, &cap, f) > 0) {
        if (line[0] == '#' || line[0] == '\n' || !strncmp(line, "meta ", 5)) continue;
        if (!strncmp(line, "case ", 5)) {
            memset(gc, 0, sizeof *gc);
            if (parse_case(line, gc) != 0) {
                bad_lines++;
                in_case = 0;
                continue;
            }
            in_case = 1;
            continue;
        }
        if (!strncmp(line, "end", 3)) {
            if (in_case) {
                check_case(gc);
                ncases++;
            }
            in_case = 0;
            continue;
        }
        if (!in_case) continue;
        char *name;
        float vals[512];
        int n = parse_values(line, &name, vals, 512);
        if (n < 0) {
            bad_lines++;
            continue;
        }
        if (!strcmp(name, "timesteps")) memcpy(gc->t, vals, sizeof(float) * (size_t)(gc->n_t = n));
        else if (!strcmp(name, "sigmas")) memcpy(gc->s, vals, sizeof(float) * (size_t)(gc->n_s = n));
        else if (!strcmp(name, "init_noise_sigma") && n == 1) gc->init = vals[0], gc->n_init = 1;
        else if (!strcmp(name, "x") && n == N_) memcpy(gc->x, vals, sizeof(float) * (size_t)(gc->n_x = n));
        else bad_lines++;
    }
    free(line);
    free(gc);
    fclose(f);
    CHECK_MSG(bad_lines == 0, "%d unreadable lines in %s", bad_lines, path);
    CHECK_MSG(ncases >= 300, "only %d cases read", ncases);
    printf("%d cases; max rel error: timesteps %.3g, sigmas %.3g, x (step API) %.3g, x (silt_sample) %.3g\n", ncases,
           max_err_t, max_err_sigma, max_err_x, max_err_x_sample);
    printf("worst timesteps: %sworst x: %s", worst_t, worst_x);
    return check_summary();
}
