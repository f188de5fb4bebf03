// Diffusion samplers and their noise schedules.
//
// The schedules reproduce diffusers' schedulers (0.42, `schedulers/scheduling_*.py`)
// for the same settings: the same inference timesteps and sigmas, the same
// init_noise_sigma, the same update rules. The training table is built the way
// diffusers builds it (float32 torch.linspace betas, float64 cumprod rounded to
// float32), so sigmas agree to about one float32 ulp (tests/golden/test_schedules.c).
//
//   sampler      diffusers class                    model input          timestep fed
//   ddpm         DDPMScheduler                      x                    t (int)
//   ddim         DDIMScheduler                      x                    t (int)
//   euler        EulerDiscreteScheduler             x / sqrt(sigma^2+1)  t (float, may be fractional)
//   euler_a      EulerAncestralDiscreteScheduler    x / sqrt(sigma^2+1)  t (float)
//   dpmpp_2m     DPMSolverMultistepScheduler        x                    t (int)
//   flow_euler   FlowMatchEulerDiscreteScheduler    x                    1000 * sigma
//
// A model is seen through one callback (silt_predict_fn). Guidance lives outside:
// pipelines that combine several predictions use the per-step API
// (silt_sampler_init / _timestep / _scale_input / _step) and apply guidance
// between the model calls and silt_sampler_step.
#ifndef SILT_SAMPLE_H
#define SILT_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/log.h"
#include "core/status.h"

typedef enum silt_sampler_kind {
    SILT_SAMPLER_DDPM,        // "ddpm": ancestral posterior sampling (Ho et al. 2020)
    SILT_SAMPLER_DDIM,        // "ddim": DDIM with eta (Song et al. 2021)
    SILT_SAMPLER_EULER,       // "euler": k-diffusion Euler (Karras et al. 2022, churn 0)
    SILT_SAMPLER_EULER_A,     // "euler_a": Euler ancestral
    SILT_SAMPLER_DPMPP_2M,    // "dpmpp_2m": DPM-Solver++(2M), midpoint (Lu et al. 2022)
    SILT_SAMPLER_FLOW_EULER,  // "flow_euler": rectified-flow Euler with shift (SD3)
    SILT_SAMPLER_COUNT
} silt_sampler_kind;

// Inference timestep spacing (diffusers `timestep_spacing`, Table 2 of
// arXiv:2305.08891). ADM is guided-diffusion's `space_timesteps(T, "N")`
// (respace.py), the grid of the original DiT sampler: 250 -> {0,4,8,...,995,999}.
typedef enum silt_spacing {
    SILT_SPACING_LEADING,   // "leading"
    SILT_SPACING_TRAILING,  // "trailing"
    SILT_SPACING_LINSPACE,  // "linspace"
    SILT_SPACING_ADM,       // "adm"
    SILT_SPACING_COUNT
} silt_spacing;

typedef enum silt_beta_schedule {
    SILT_BETA_LINEAR,         // "linear": linspace(beta_start, beta_end) (DiT, DDPM)
    SILT_BETA_SCALED_LINEAR,  // "scaled_linear": linspace(sqrt(start), sqrt(end))^2 (SD1.x "linear" in LDM)
    SILT_BETA_COUNT
} silt_beta_schedule;

typedef enum silt_prediction {
    SILT_PRED_EPS,   // "eps": the noise
    SILT_PRED_V,     // "v": v = sqrt(a) eps - sqrt(1-a) x0 (Salimans & Ho 2022)
    SILT_PRED_FLOW,  // "flow": velocity eps - x0 (flow_euler only)
    SILT_PRED_COUNT
} silt_prediction;

// DDPM posterior variance (diffusers `variance_type`, gaussian_diffusion.py).
typedef enum silt_variance {
    SILT_VARIANCE_FIXED_SMALL,   // "fixed_small": beta~_t = (1-a_prev)/(1-a_t) beta_t
    SILT_VARIANCE_FIXED_LARGE,   // "fixed_large": beta_t
    // "learned_range": the model outputs (B, 2C, H, W): eps in channels [0,C), v in
    // [C,2C), log var = frac log beta_t + (1-frac) log beta~_t, frac = (v+1)/2 (DiT).
    // With the other samplers the variance half is read past and ignored.
    SILT_VARIANCE_LEARNED_RANGE,
    SILT_VARIANCE_COUNT
} silt_variance;

const char *silt_sampler_name(silt_sampler_kind k);
silt_status silt_sampler_from_name(const char *name, silt_sampler_kind *out);
const char *silt_spacing_name(silt_spacing s);
silt_status silt_spacing_from_name(const char *name, silt_spacing *out);
const char *silt_beta_schedule_name(silt_beta_schedule b);
silt_status silt_beta_schedule_from_name(const char *name, silt_beta_schedule *out);
const char *silt_prediction_name(silt_prediction p);
silt_status silt_prediction_from_name(const char *name, silt_prediction *out);
const char *silt_variance_name(silt_variance v);
silt_status silt_variance_from_name(const char *name, silt_variance *out);

typedef struct silt_sampler_params {
    silt_sampler_kind sampler;
    int steps;                 // inference steps, 1..train_steps
    // Training table (ignored by flow_euler).
    int train_steps;           // 1000
    silt_beta_schedule beta_schedule;
    double beta_start, beta_end;  // 1e-4, 0.02 (diffusers default; SD1.x: scaled_linear 0.00085, 0.012)
    // false: the float32 table diffusers builds (default, what the golden test checks);
    // true: the float64 table of guided-diffusion/DiT's gaussian_diffusion.py.
    bool table_f64;
    silt_spacing spacing;      // ddpm/ddim: leading; euler/euler_a/dpmpp_2m: linspace (diffusers defaults)
    int steps_offset;          // 0; added to leading timesteps (SD1.x configs use 1)
    silt_prediction prediction;  // eps (flow for flow_euler, where it must be flow)
    bool karras;               // euler, dpmpp_2m: Karras sigmas, rho 7 (default off)
    // ddim: eta (default 0, deterministic); euler_a: eta of k-diffusion's
    // get_ancestral_step (default 1, the only value diffusers offers). Others ignore it.
    double eta;
    double shift;              // flow_euler: sigma' = shift s / (1 + (shift-1) s); 3.0 (SD3 config; diffusers' class default is 1.0)
    bool set_alpha_to_one;     // ddim: the last step goes to alpha 1 (true, diffusers default) or alphas_cumprod[0] (SD1.x: false)
    bool clip_sample;          // ddpm/ddim: clamp x0 to +-clip_sample_range (diffusers default true; SD1.x and DiT use false)
    double clip_sample_range;  // 1.0
    silt_variance variance;    // ddpm: fixed_small; learned_range also sets the model output layout for all samplers
    int64_t batch;             // B: splits (B, 2C, H, W) outputs under learned_range, and gives each sample its own noise stream; default 1
} silt_sampler_params;

// diffusers' defaults for `kind` (see the comments above), 50 steps (28 for flow_euler).
silt_sampler_params silt_sampler_default_params(silt_sampler_kind kind);

// A built schedule. All arrays are owned; free with silt_schedule_free.
typedef struct silt_schedule {
    silt_sampler_params params;  // the settings it was built from
    int train_steps;             // 0 for flow_euler (no table)
    double *betas;               // [train_steps] (NULL for flow_euler)
    double *alphas_cumprod;      // [train_steps] (NULL for flow_euler)
    int steps;
    float *timesteps;            // [steps] the timestep fed to the model at step i
    // [steps] table index of step i (ddpm, ddim, dpmpp_2m; NULL otherwise) and
    // ddpm/ddim: index of the "previous" timestep the step moves to, -1 for the
    // end of the chain (NULL otherwise). ddim uses t - train_steps/steps, as diffusers does.
    int *t_index, *prev_index;
    float *sigmas;               // [steps+1], last 0 (euler, euler_a, dpmpp_2m, flow_euler); NULL for ddpm/ddim
    float init_noise_sigma;      // scale of the initial N(0,1) noise
    double final_alpha_cumprod;  // ddim: alpha at prev index -1 (1 or alphas_cumprod[0])
} silt_schedule;

silt_status silt_schedule_create(const silt_sampler_params *p, silt_schedule **out);
void silt_schedule_free(silt_schedule *s);

// The model: write its raw prediction (eps / v / flow velocity per `prediction`)
// for input x at timestep t into out. x is already scaled as the sampler requires
// (silt_sampler_scale_input); t is diffusers' timestep value (sigma*1000 for flow).
// n = numel of the batch latent; out holds n floats, or 2n in (B, 2C, H, W)
// layout when params.variance is learned_range. Return SILT_OK or a failure.
typedef silt_status (*silt_predict_fn)(void *user, float *out, const float *x, float t, int64_t n);

// Whole loop. x: in: initial noise N(0,1), (B,C,H,W), n floats; out: the sample.
// The noise is scaled by init_noise_sigma here. Stochastic samplers (ddpm,
// euler_a, ddim with eta > 0) draw their noise from `seed` (stream = step).
// On failure x is left unchanged. progress may be NULL.
silt_status silt_sample(const silt_sampler_params *p, silt_predict_fn f, void *user, float *x, int64_t n,
                        uint64_t seed, silt_progress *progress);

// Per-step API. Typical loop (guidance goes between predict and step):
//   silt_sampler_init(&p, n, seed, &s);
//   x *= silt_sampler_init_noise_sigma(s);
//   for (i = 0; i < silt_sampler_steps(s); i++) {
//       silt_sampler_scale_input(s, xin, x);
//       model(out, xin, silt_sampler_timestep(s, i));   // maybe several calls + guidance
//       silt_sampler_step(s, out, x, NULL);
//   }
typedef struct silt_sampler silt_sampler;

// n = numel of the latent batch. Allocates the schedule and O(n) state.
silt_status silt_sampler_init(const silt_sampler_params *p, int64_t n, uint64_t seed, silt_sampler **out);
void silt_sampler_free(silt_sampler *s);
const silt_schedule *silt_sampler_schedule(const silt_sampler *s);
int silt_sampler_steps(const silt_sampler *s);
int silt_sampler_index(const silt_sampler *s);  // the step the next silt_sampler_step takes (0..steps)
float silt_sampler_init_noise_sigma(const silt_sampler *s);
float silt_sampler_timestep(const silt_sampler *s, int i);  // model timestep of step i (NAN if out of range)
float silt_sampler_sigma(const silt_sampler *s, int i);     // sigma of step i (0 for ddpm/ddim)
float silt_sampler_input_scale(const silt_sampler *s, int i);  // model input = x * this
int64_t silt_sampler_output_numel(const silt_sampler *s);   // n, or 2n under learned_range
// True when step i adds noise (ddpm at t > 0, ddim with eta > 0, euler_a).
bool silt_sampler_needs_noise(const silt_sampler *s, int i);
// out = x * input_scale(current step); out may alias x.
silt_status silt_sampler_scale_input(const silt_sampler *s, float *out, const float *x);
// The denoised estimate x0 at the current step, from the model output (no state change).
silt_status silt_sampler_pred_x0(const silt_sampler *s, const float *model_output, const float *x, float *x0);
// Advance x (n floats, in place) by one step. model_output: silt_sampler_output_numel
// floats. noise: n N(0,1) values for the stochastic samplers, or NULL to draw
// them from the seed (stream = step); ignored when the step needs none.
// Fails (x untouched) after the last step.
silt_status silt_sampler_step(silt_sampler *s, const float *model_output, float *x, const float *noise);

// The same two calls on device buffers (out, x, model_output, noise: device
// pointers), for a loop that keeps its latents on the GPU. Step noise drawn
// from the seed comes from the CUDA Philox twin in the CPU's stream layout, so
// a run gives the CPU's sample to a few ulp per step. One sampler steps on one
// side only (dpmpp_2m keeps its previous x0 there): mixing fails, SILT_ERR_ARG.
// SILT_ERR_UNSUPPORTED without a usable GPU.
silt_status silt_sampler_scale_input_cuda(const silt_sampler *s, float *out, const float *x);
silt_status silt_sampler_step_cuda(silt_sampler *s, const float *model_output, float *x, const float *noise);

// --- rectified-flow training pairs ---------------------------------------------------
// For B samples of `per` values: x0 = (float)((z - shift) * scale) (a
// latent's normalisation; shift 0, scale 1 for pixels), n = N(0, 1) noise of
// Philox (seed, stream0 + i, offset 0..per-1) (silt_rng_normal's layout), and
// the sample's sigma s = sig[i]:
//   xt = (1 - s) x0 + s n,  target = n - x0  (the velocity).
// The CPU fills host buffers; its twin flow_pair_cuda (cuda/ops_sample.h)
// device ones with the same fp32 operations (no contraction), equal but for
// the noise's last ulp (logf/cosf, core/philox.h).
void flow_pair_cpu(float *xt, float *target, const float *z, const float *sig, int64_t B, int64_t per, double shift,
                   double scale, uint64_t seed, uint64_t stream0);

#endif
