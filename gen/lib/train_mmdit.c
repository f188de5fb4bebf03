// The world-MMDiT training task and its export (see train_arch.h): rectified
// flow on 32 px world renders, conditioned on a frozen world-CLIP.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "core/ops.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "cuda/cuda.h"
#include "gen/lib/harvest.h"
#include "gen/lib/train_arch.h"
#include "gen/lib/world_latent.h"
#include "sample/sample.h"
#include "text/world_clip.h"
#include "text/world_tokenizer.h"
#include "var/var.h"
#include "world/render.h"
#include "world/suites.h"

// Purposes of the random draws (silt_train_batch_rng and the Philox seeds).
enum { PURPOSE_DROP = 1, PURPOSE_TIME = 2, PURPOSE_NOISE = 3, PURPOSE_PURE = 5, PURPOSE_SAMPLES = 6, PURPOSE_PAIRS = 7 };

typedef struct mmdit_task {
    mmdit_model *m;
    wclip_model *clip;  // frozen; on the model's device (its encodes run on the step's graph without grad)
    // Latent runs: the frozen world autoencoder, its normalisation, and a
    // graph for its encoder (no grad), on the device with the model in
    // device runs (the latents stay there: flow_pair_cuda mixes the noise).
    var_vqvae *ae;
    silt_graph *ae_g;
    double latent_shift, latent_scale;
    int side, channels;  // the diffused tensor: (channels, side, side)
    int words;          // the context's channels (WCLIP_CTX_*: + the word channel, + the relation channel)
    double time_shift;  // training sigmas shifted as the flow sampler's (silt_train_mmdit_sigma); 1: none
    double pure_noise;  // silt_train_mmdit_set_pure_noise: the fraction of images at sigma 1; 0: none
    bool weighted;      // silt_train_mmdit_set_category_weights: the train sampler's categories drawn by cat_weights
    int cat_weights[WORLD_CAT_COUNT];
    // silt_train_mmdit_set_samples: verified self-samples (gen world harvest)
    // that replace this fraction of the renders, image and caption.
    silt_sample_set *samples;
    double samples_fraction;
    // silt_train_mmdit_set_dpo: preference pairs (a candidate the evaluator
    // passed, one it failed, of one caption) and the frozen reference model.
    silt_sample_set *dpo_set;
    int64_t (*dpo_pairs)[2];
    int64_t n_dpo_pairs;
    double dpo_beta;
    double dpo_cfg;  // > 0: the pair's errors on the guided velocity v_u + w (v_c - v_u); 0: the conditional's
    mmdit_model *ref;
    char config[1280];  // mmdit_config_json (+ the latent's description), stored in checkpoints
    // REPA (silt_train_mmdit_set_repa): a 3-layer MLP projector (training-only
    // "aux." parameters) of the image stream after block repa_layer, aligned
    // to the frozen world-CLIP's patch tokens of the clean render. repa_weight 0: off.
    double repa_weight;
    int repa_layer, repa_dim;
    silt_tensor *repa_w[3], *repa_b[3];
} mmdit_task;

#define REPA_LAYERS 3
static const char *const repa_names[2 * REPA_LAYERS] = {"aux.repa.0.weight", "aux.repa.0.bias", "aux.repa.1.weight",
                                                        "aux.repa.1.bias",   "aux.repa.2.weight", "aux.repa.2.bias"};

// A per-purpose Philox seed (the same odd-multiplier mix as silt_train_batch_rng).
static uint64_t purpose_seed(uint64_t data_seed, uint32_t purpose) {
    return data_seed ^ (0x9E3779B97F4A7C15ull * ((uint64_t)purpose + 1));
}

const char *silt_train_mmdit_presets(void) { return "tiny|small|default|P:D:H:L"; }

silt_status silt_train_mmdit_preset(const char *size, int joint_dim, int pooled_dim, mmdit_config *out) {
    return silt_train_mmdit_preset_for(size, joint_dim, pooled_dim, 3, SILT_TRAIN_MMDIT_IMAGE, out);
}

silt_status silt_train_mmdit_preset_for(const char *size, int joint_dim, int pooled_dim, int channels, int side,
                                        mmdit_config *out) {
    if (!out || channels < 1 || side < 1) return SILT_FAIL(SILT_ERR_ARG, "mmdit preset: bad argument");
    if (!size) size = "default";
    // Pixel space (side 32) uses 4 px patches; a latent (side 8) 1 x 1
    // patches: 64 tokens either way, so a step costs about the same.
    const int pp = side == SILT_TRAIN_MMDIT_IMAGE ? 4 : 1;
    // All presets: RGB in and out, QK RMS-norm (SD3.5: steadier attention
    // logits at high learning rates), a table exactly the 32 px patch grid.
    // Costs per step at batch 32 (one core, bench/mmdit_train.c): small
    // 0.86 s, default 1.31 s; patch 2 at hidden 192 costs 3.98 s (attention
    // over 4x the tokens), so patch 4 buys ~3x the updates in a fixed time.
    mmdit_config c = {.in_channels = channels, .out_channels = channels, .joint_dim = joint_dim,
                      .pooled_dim = pooled_dim, .qk_norm = true, .n_dual = 0};
    int p = 0, D = 0, H = 0, L = 0, used = 0;
    if (!strcmp(size, "tiny")) {  // CLI tests: a few ms a step
        p = pp, D = 32, H = 2, L = 2;
    } else if (!strcmp(size, "small")) {
        p = pp, D = 192, H = 8, L = 6;
    } else if (!strcmp(size, "default")) {
        p = pp, D = 256, H = 8, L = 6;
    } else if (sscanf(size, "%d:%d:%d:%d%n", &p, &D, &H, &L, &used) != 4 || size[used] || p < 1 || H < 1 ||
               D % H || side % p) {
        return SILT_FAIL(SILT_ERR_ARG,
                         "mmdit: unknown size '%s' (known: tiny, small, default, or patch:hidden:heads:depth with "
                         "the patch dividing %d and hidden a multiple of heads)",
                         size, side);
    }
    c.patch = p, c.hidden = D, c.heads = H, c.head_dim = D / H, c.depth = L;
    c.pos_max = side / c.patch;
    *out = c;
    return mmdit_config_check(&c);
}

static void task_destroy(void *self) {
    mmdit_task *t = self;
    if (!t) return;
    mmdit_free(t->m);
    wclip_free(t->clip);
    var_vq_free(t->ae);
    silt_graph_free(t->ae_g);
    silt_sample_set_free(t->samples);
    silt_sample_set_free(t->dpo_set);
    free(t->dpo_pairs);
    mmdit_free(t->ref);
    // The projector may live on the device (task_to_device): the device-aware free.
    for (int k = 0; k < REPA_LAYERS; k++) silt_tensor_free_cuda(t->repa_w[k]), silt_tensor_free_cuda(t->repa_b[k]);
    free(t);
}

static int task_n_params(void *self) {
    mmdit_task *t = self;
    return mmdit_param_count(t->m) + (t->repa_weight > 0 ? 2 * REPA_LAYERS : 0);
}

static silt_tensor *task_param(void *self, int i, const char **name, bool *no_decay) {
    mmdit_task *t = self;
    int nm = mmdit_param_count(t->m);
    if (i < nm) return mmdit_param(t->m, i, name, no_decay);
    int k = i - nm;
    if (t->repa_weight <= 0 || k >= 2 * REPA_LAYERS) return NULL;
    if (name) *name = repa_names[k];
    if (no_decay) *no_decay = k % 2 == 1;  // biases
    return k % 2 ? t->repa_b[k / 2] : t->repa_w[k / 2];
}

static silt_status task_to_device(void *self, silt_device device) {
    mmdit_task *t = self;
    SILT_TRY(mmdit_to_device(t->m, device));
    // The frozen text encoder goes too: on a CPU graph it cost ~12 ms of host
    // time per batch of 64 (and REPA's image encode more).
    SILT_TRY(wclip_to_device(t->clip, device));
    if (t->ref) SILT_TRY(mmdit_to_device(t->ref, device));
    if (device == SILT_CUDA && t->ae && var_vq_device(t->ae) != SILT_CUDA) {
        // The frozen encoder of a latent run goes too: on a CPU graph it held
        // the H200 of 2026-11-28 to ~350 images/s (1250 for pixel runs).
        silt_graph *ag = silt_graph_create_on(SILT_CUDA, 0);
        if (!ag) return SILT_FAIL(SILT_ERR_OOM, "mmdit: autoencoder graph on cuda: %s", silt_last_error_message());
        silt_graph_set_grad(ag, false);
        silt_status s = var_vq_to_device(t->ae, SILT_CUDA);
        if (s) { silt_graph_free(ag); return s; }
        silt_graph_free(t->ae_g);
        t->ae_g = ag;
    }
    for (int k = 0; device == SILT_CUDA && t->repa_weight > 0 && k < REPA_LAYERS; k++) {
        if (t->repa_w[k]->device != SILT_CUDA) SILT_TRY(silt_tensor_move_to_cuda(t->repa_w[k]));
        if (t->repa_b[k]->device != SILT_CUDA) SILT_TRY(silt_tensor_move_to_cuda(t->repa_b[k]));
    }
    return SILT_OK;
}

// An exported model of another space (pixels vs latent) or another latent
// normalisation: say so before the shapes are checked (the world-ae's 8
// channels never give a pixel model's patch embedding, so that mismatch then
// fails; another latent with the same channels loads, warned).
static void task_check_init_model(void *self, const silt_safetensors *f, const char *path) {
    const mmdit_task *t = self;
    silt_world_latent wl = {0};
    if (silt_world_latent_read(f, &wl) != SILT_OK) {
        silt_warn("--init %s: %s", path, silt_last_error_message());
        silt_error_clear();
        return;
    }
    if (!t->ae != !wl.on)
        silt_warn("--init %s was trained in %s, this run trains in %s", path, wl.on ? "a latent" : "pixels",
                  t->ae ? "a latent" : "pixels");
    else if (t->ae && (fabs(wl.shift - t->latent_shift) > 1e-6 * fabs(t->latent_shift) + 1e-9 ||
                       fabs(wl.scale - t->latent_scale) > 1e-6 * t->latent_scale))
        silt_warn("--init %s was trained on another latent (shift %.6g, scale %.6g; this --ae: %.6g, %.6g)", path,
                  wl.shift, wl.scale, t->latent_shift, t->latent_scale);
}

// A model of the word (and relation) channel starts (--init) from one with
// fewer channels: the context embedder's new input columns start at zero, so
// the start is the old model exactly.
static bool task_init_narrower(void *self, const char *name) {
    const mmdit_task *t = self;
    return t->words && !strcmp(name, "context_embedder.weight");
}

static double task_images(void *self, int batch_size) {
    const mmdit_task *t = self;
    return t->ref ? 2.0 * batch_size : batch_size;  // DPO: a batch of pairs
}

static silt_tensor *fail(silt_graph *g, silt_status s) {
    silt_graph_fail(g, s);
    return NULL;
}

float silt_train_mmdit_sigma(uint64_t seed_t, int64_t j, double shift) {
    float n = 0;
    silt_rng_normal(&n, 1, seed_t, (uint64_t)j, 0);
    float s = 1.0f / (1.0f + expf(-n));
    if (shift != 1.0) s = (float)(shift * s / (1.0 + (shift - 1.0) * s));
    return s;
}

bool silt_train_mmdit_pure(uint64_t seed_p, int64_t j, double fraction) {
    if (!(fraction > 0)) return false;
    silt_rng r = silt_rng_init(seed_p, (uint64_t)j);
    return silt_rng_next_double(&r) < fraction;
}

static silt_status batch_data(const mmdit_task *t, uint64_t data_seed, int64_t batch_index, int B, float *x0,
                              world_item *items) {
    const int S = SILT_TRAIN_MMDIT_IMAGE;
    const int64_t npix = 3 * (int64_t)S * S;
    SILT_TRY(silt_train_render_batch_weighted(data_seed, batch_index * B, B, S, t->weighted ? t->cat_weights : NULL, x0,
                                              items, NULL));
    if (t->samples) {
        // Image j is a harvested sample instead with probability samples_fraction,
        // drawn uniformly from the set (both from Philox (seed, j): resumable).
        const uint64_t seed_s = purpose_seed(data_seed, PURPOSE_SAMPLES);
        const silt_sample_set *ss = t->samples;
        for (int i = 0; i < B; i++) {
            silt_rng r = silt_rng_init(seed_s, (uint64_t)(batch_index * B + i));
            if (!(silt_rng_next_double(&r) < t->samples_fraction)) continue;
            const int64_t u = (int64_t)(silt_rng_next_double(&r) * (double)ss->n) % ss->n;
            const uint8_t *src = ss->images + (size_t)u * (size_t)npix;
            for (int64_t q = 0; q < (int64_t)S * S; q++)
                for (int ch = 0; ch < 3; ch++)
                    x0[(size_t)i * npix + (size_t)ch * S * S + q] = src[q * 3 + ch] * (2.0f / 255.0f) - 1.0f;
            memcpy(items[i].caption, ss->captions[u], sizeof items[i].caption);
            items[i].category = ss->categories[u];
            items[i].reqs = ss->reqs[u];
            memset(&items[i].scene, 0, sizeof items[i].scene);  // the sample's scene is not known
        }
    }
    return SILT_OK;
}

silt_status silt_train_mmdit_batch(const silt_train_task *task, uint64_t data_seed, int64_t batch_index, int B, float *x0,
                                   world_item *items) {
    if (!task || !task->self || !task->name || strcmp(task->name, "mmdit") || !x0 || !items || B < 1 || batch_index < 0)
        return SILT_FAIL(SILT_ERR_ARG, "mmdit batch: bad argument");
    return batch_data(task->self, data_seed, batch_index, B, x0, items);
}

// The graph's error, or one saying what failed when it recorded none.
static silt_status graph_error(silt_graph *g, const char *what) {
    silt_status s = silt_graph_status(g);
    return s ? s : SILT_FAIL(SILT_ERR_OOM, "mmdit: out of memory for %s", what);
}

// The model's inputs (x_t, v = noise - z) for B clean images x0 in [-1, 1]
// (latent runs: z their encodings, normalised by the latent's shift and
// scale) at sigmas sig. The B images are `groups` equal groups that share
// their noise: image i of each draws Philox (seed_n, base + i), so DPO's
// preferred and rejected image see the same noise. On a device graph the
// pair is built there from the device latents (nothing comes down).
static silt_status flow_inputs(mmdit_task *t, silt_graph *g, const float *x0, int B, const float *sig, uint64_t seed_n,
                               int64_t base, int groups, silt_tensor **xt_out, silt_tensor **target_out) {
    const int S = SILT_TRAIN_MMDIT_IMAGE, side = t->side;
    const int64_t nx = (int64_t)t->channels * side * side, n = B / groups;
    const float *z = x0;
    bool z_on_device = false;
    double shift = 0.0, scale = 1.0;
    if (t->ae) {
        silt_graph_reset(t->ae_g);
        silt_tensor *img = silt_graph_upload(t->ae_g, SILT_F32, 4, (const int64_t[]){B, 3, S, S}, x0);
        silt_tensor *f = var_vq_encode_features(t->ae_g, t->ae, img);
        if (!f) return graph_error(t->ae_g, "the latents");
        if (silt_numel(f) != B * nx)
            return SILT_FAIL(SILT_ERR_SHAPE, "mmdit: the autoencoder gave %lld latent values for %lld",
                             (long long)silt_numel(f), (long long)(B * nx));
        z = silt_f32(f), z_on_device = f->device != SILT_CPU;
        shift = t->latent_shift, scale = t->latent_scale;
    }
    const int64_t shape[4] = {B, t->channels, side, side};
    silt_tensor *xt = NULL, *target = NULL;
    if (silt_graph_device(g) != SILT_CPU) {
        xt = silt_graph_tensor_f32(g, 4, shape);
        target = silt_graph_tensor_f32(g, 4, shape);
        silt_tensor *sig_d = silt_graph_upload(g, SILT_F32, 1, (const int64_t[]){B}, sig);
        silt_tensor *z_d = z_on_device ? NULL : silt_graph_upload(g, SILT_F32, 4, shape, z);
        if (!xt || !target || !sig_d || (!z_on_device && !z_d)) return graph_error(g, "a batch");
        const float *zz = z_on_device ? z : silt_f32(z_d);
        for (int k = 0; k < groups; k++) {
            const int64_t o = k * n * nx;
            SILT_TRY(flow_pair_cuda(silt_f32(xt) + o, silt_f32(target) + o, zz + o, silt_f32(sig_d) + k * n, n, nx, shift,
                                    scale, seed_n, (uint64_t)base));
        }
    } else {
        if (z_on_device) return SILT_FAIL(SILT_ERR_ARG, "mmdit: device latents on a cpu graph");
        silt_arena *ha = silt_graph_arena(g);
        float *hx = silt_arena_alloc(ha, (size_t)(B * nx) * sizeof(float));
        float *htarget = silt_arena_alloc(ha, (size_t)(B * nx) * sizeof(float));
        if (!hx || !htarget) return SILT_FAIL(SILT_ERR_OOM, "mmdit: out of memory for a batch");
        for (int k = 0; k < groups; k++) {
            const int64_t o = k * n * nx;
            flow_pair_cpu(hx + o, htarget + o, z + o, sig + k * n, n, nx, shift, scale, seed_n, (uint64_t)base);
        }
        xt = silt_graph_upload(g, SILT_F32, 4, shape, hx);
        target = silt_graph_upload(g, SILT_F32, 4, shape, htarget);
        if (!xt || !target) return graph_error(g, "a batch");
    }
    *xt_out = xt, *target_out = target;
    return SILT_OK;
}

// Each image's error ||v_pred - v||^2, the mean over its values: (B).
static silt_tensor *per_image_mse(silt_graph *g, silt_tensor *v, silt_tensor *target) {
    if (!v) return NULL;
    const int64_t B = v->shape[0], n = silt_numel(v) / B;
    silt_tensor *d = silt_sub(g, v, target);
    return silt_mean_dim(g, silt_reshape(g, silt_mul(g, d, d), 2, (const int64_t[]){B, n}), 1, false);
}

// Diffusion-DPO (Wallace et al. 2024, eq. 14) on the flow objective: for P
// pairs (x_w passed, x_l failed, one caption), each pair's two images at one
// sigma with one noise, loss = softplus(beta / 2 ((e_w - r_w) - (e_l - r_l)))
// with e the model's per-image flow error and r the frozen reference's:
// lower than the reference's error on the passed image, higher on the
// failed one. No caption dropout: with dpo_cfg 0 the unconditional
// branch is left alone; with dpo_cfg w > 0 the errors are of the guided velocity
// v_u + w (v_c - v_u) that sampling with CFG w follows (the unconditional
// branch at the null caption, same x_t), so the objective is the guided
// sampler's, both branches trained (twice the forward work).
static silt_tensor *guided_error(silt_graph *g, mmdit_model *m, silt_tensor *xt2, const float *ts2, silt_tensor *ctx,
                                 silt_tensor *pooled, silt_tensor *target, double w, int B) {
    silt_tensor *v = mmdit_forward(g, m, xt2, ts2, ctx, pooled, NULL);
    if (!v || w == 0) return per_image_mse(g, v, target);
    silt_tensor *vc = silt_slice(g, v, 0, 0, B), *vu = silt_slice(g, v, 0, B, B);
    return per_image_mse(g, silt_add(g, vu, silt_scale(g, silt_sub(g, vc, vu), (float)w)), target);
}

static silt_tensor *dpo_loss(mmdit_task *t, silt_graph *g, uint64_t data_seed, int64_t batch_index, int P) {
    const wclip_config *cc = wclip_get_config(t->clip);
    const int S = SILT_TRAIN_MMDIT_IMAGE, T = cc->max_len, ss = t->dpo_set->size, B = 2 * P;
    const bool guided = t->dpo_cfg > 0;
    const int B2 = guided ? 2 * B : B;  // + the unconditional copies
    const int64_t npix = 3 * (int64_t)S * S;
    silt_arena *ha = silt_graph_arena(g);
    int32_t *ids = silt_arena_alloc(ha, (size_t)B2 * T * sizeof(int32_t));
    float *x0 = silt_arena_alloc(ha, (size_t)(B * npix) * sizeof(float));
    float *ts = silt_arena_alloc(ha, (size_t)B2 * sizeof(float));
    float *sig = silt_arena_alloc(ha, (size_t)B * sizeof(float));
    int32_t *target_class = silt_arena_alloc(ha, (size_t)P * sizeof(int32_t));
    if (!ids || !x0 || !ts || !sig || !target_class) return fail(g, SILT_FAIL(SILT_ERR_OOM, "mmdit: out of memory for a batch"));
    const uint64_t seed_q = purpose_seed(data_seed, PURPOSE_PAIRS), seed_t = purpose_seed(data_seed, PURPOSE_TIME);
    // Images 0..P-1 the passed candidates, P..2P-1 the failed ones.
    for (int p = 0; p < P; p++) {
        const int64_t j = batch_index * P + p;
        silt_rng r = silt_rng_init(seed_q, (uint64_t)j);
        int64_t q = (int64_t)(silt_rng_next_double(&r) * (double)t->n_dpo_pairs);
        if (q >= t->n_dpo_pairs) q = t->n_dpo_pairs - 1;
        for (int h = 0; h < 2; h++) {
            const int64_t u = t->dpo_pairs[q][h];
            const int i = h * P + p;
            const uint8_t *src = t->dpo_set->images + (size_t)u * ss * ss * 3;
            for (int64_t k = 0; k < (int64_t)S * S; k++)
                for (int ch = 0; ch < 3; ch++)
                    x0[(size_t)i * npix + (size_t)ch * S * S + k] = src[k * 3 + ch] * (2.0f / 255.0f) - 1.0f;
            silt_status s = wclip_tokenize(t->clip, t->dpo_set->captions[u], ids + (size_t)i * T);
            if (s) return fail(g, s);
        }
        sig[p] = sig[P + p] = silt_train_mmdit_sigma(seed_t, j, t->time_shift);
        ts[p] = ts[P + p] = 1000.0f * sig[p];
        target_class[p] = 0;
    }
    if (guided) {
        // Images B..2B-1: the same x_t and t under the null caption "" (tokenized once).
        silt_status s = wclip_tokenize(t->clip, "", ids + (size_t)B * T);
        if (s) return fail(g, s);
        for (int i = 0; i < B; i++) {
            if (i) memcpy(ids + (size_t)(B + i) * T, ids + (size_t)B * T, (size_t)T * sizeof(int32_t));
            ts[B + i] = ts[i];
        }
    }
    silt_tensor *xt = NULL, *target = NULL;
    silt_status s = flow_inputs(t, g, x0, B, sig, purpose_seed(data_seed, PURPOSE_NOISE), batch_index * P, 2, &xt, &target);
    if (s) return fail(g, s);
    if (guided && !(xt = silt_concat(g, (silt_tensor *[]){xt, xt}, 2, 0))) return fail(g, graph_error(g, "a batch"));
    silt_tensor *ctx = NULL, *pooled = NULL, *ref_err = NULL;
    const bool grad = silt_graph_grad_enabled(g);
    silt_graph_set_grad(g, false);  // the text encoder and the reference are frozen
    s = wclip_encode_context(g, t->clip, ids, B2, t->words, &ctx, &pooled);
    if (!s) ref_err = guided_error(g, t->ref, xt, ts, ctx, pooled, target, t->dpo_cfg, B);
    silt_graph_set_grad(g, grad);
    if (s) return fail(g, s);
    if (!ref_err) return NULL;
    silt_tensor *err = guided_error(g, t->m, xt, ts, ctx, pooled, target, t->dpo_cfg, B);
    // Each pair's logits (-beta/2 (e_w - r_w), -beta/2 (e_l - r_l)): the
    // cross-entropy of the first is the softplus above.
    silt_tensor *z = silt_scale(g, silt_sub(g, err, ref_err), (float)(-0.5 * t->dpo_beta));
    silt_tensor *zw = silt_reshape(g, silt_slice(g, z, 0, 0, P), 2, (const int64_t[]){P, 1});
    silt_tensor *zl = silt_reshape(g, silt_slice(g, z, 0, P, P), 2, (const int64_t[]){P, 1});
    return var_ce_loss(g, silt_concat(g, (silt_tensor *[]){zw, zl}, 2, 1), target_class, NULL);
}

static silt_tensor *task_loss(void *self, silt_graph *g, uint64_t data_seed, int64_t batch_index, int B) {
    mmdit_task *t = self;
    const wclip_config *cc = wclip_get_config(t->clip);
    const int S = SILT_TRAIN_MMDIT_IMAGE, T = cc->max_len;
    const int64_t npix = 3 * (int64_t)S * S;
    if (batch_index < 0 || B < 1)
        return fail(g, SILT_FAIL(SILT_ERR_ARG, "mmdit: batch %lld of size %d", (long long)batch_index, B));
    if (t->ref) return dpo_loss(t, g, data_seed, batch_index, B);
    // The renders, captions and timesteps are built in host memory (the
    // graph's host arena).
    silt_arena *ha = silt_graph_arena(g);
    int32_t *ids = silt_arena_alloc(ha, (size_t)B * T * sizeof(int32_t));
    float *x0 = silt_arena_alloc(ha, (size_t)(B * npix) * sizeof(float));
    float *ts = silt_arena_alloc(ha, (size_t)B * sizeof(float));
    if (!ids || !x0 || !ts) return fail(g, SILT_FAIL(SILT_ERR_OOM, "mmdit: out of memory for a batch"));
    silt_rng drop = silt_train_batch_rng(data_seed, batch_index, PURPOSE_DROP);
    const uint64_t seed_t = purpose_seed(data_seed, PURPOSE_TIME), seed_n = purpose_seed(data_seed, PURPOSE_NOISE);
    // x0: the B renders in [-1, 1].
    world_item *items = silt_arena_alloc(ha, (size_t)B * sizeof *items);
    if (!items) return fail(g, SILT_FAIL(SILT_ERR_OOM, "mmdit: out of memory for a batch"));
    silt_status rs = batch_data(t, data_seed, batch_index, B, x0, items);
    if (rs) return fail(g, rs);
    for (int i = 0; i < B; i++) {
        // Caption dropout (for classifier-free guidance): the null caption is "".
        bool dropped = silt_rng_next_double(&drop) < SILT_TRAIN_MMDIT_CAPTION_DROP;
        silt_status s = wclip_tokenize(t->clip, dropped ? "" : items[i].caption, ids + (size_t)i * T);
        if (s) return fail(g, s);
    }
    silt_tensor *repa_target = NULL;
    if (t->repa_weight > 0) {
        // REPA's target: the frozen world-CLIP's patch tokens of the clean
        // render, L2-normalised, a constant on g (no grad).
        bool grad = silt_graph_grad_enabled(g);
        silt_graph_set_grad(g, false);
        silt_tensor *img = silt_graph_upload(g, SILT_F32, 4, (const int64_t[]){B, 3, S, S}, x0), *tok = NULL;
        if (img && wclip_encode_image(g, t->clip, img, &tok) && tok) repa_target = silt_l2norm(g, tok, 1e-12f);
        silt_graph_set_grad(g, grad);
        if (!repa_target) return fail(g, silt_graph_status(g));
    }
    // Each image's sigma (silt_train_mmdit_sigma), the model's timestep 1000 sigma.
    float *sig = silt_arena_alloc(ha, (size_t)B * sizeof(float));
    if (!sig) return fail(g, SILT_FAIL(SILT_ERR_OOM, "mmdit: out of memory for a batch"));
    const uint64_t seed_p = purpose_seed(data_seed, PURPOSE_PURE);
    for (int i = 0; i < B; i++) {
        const int64_t j = batch_index * B + i;
        sig[i] = silt_train_mmdit_pure(seed_p, j, t->pure_noise) ? 1.0f : silt_train_mmdit_sigma(seed_t, j, t->time_shift);
        ts[i] = 1000.0f * sig[i];
    }
    silt_tensor *xt = NULL, *target = NULL;
    silt_status ps = flow_inputs(t, g, x0, B, sig, seed_n, batch_index * B, 1, &xt, &target);
    if (ps) return fail(g, ps);
    // The text encoder is frozen: no graph nodes, no gradients into it.
    silt_tensor *ctx = NULL, *pooled = NULL;
    bool grad = silt_graph_grad_enabled(g);
    silt_graph_set_grad(g, false);
    silt_status s = wclip_encode_context(g, t->clip, ids, B, t->words, &ctx, &pooled);
    silt_graph_set_grad(g, grad);
    if (s) return fail(g, s);
    if (t->repa_weight <= 0) return silt_mse_loss(g, mmdit_forward(g, t->m, xt, ts, ctx, pooled, NULL), target);
    // REPA (Yu et al. 2025, eq. 8): loss = flow MSE + w (1 - mean over tokens
    // of cos(proj(h), y)), h the image stream after block repa_layer.
    silt_tensor *h = NULL;
    silt_tensor *v = mmdit_forward_tap(g, t->m, xt, ts, ctx, pooled, NULL, t->repa_layer, &h);
    silt_tensor *mse = silt_mse_loss(g, v, target);
    for (int k = 0; k < REPA_LAYERS && h; k++) {
        h = silt_linear(g, h, t->repa_w[k], t->repa_b[k]);
        if (k + 1 < REPA_LAYERS) h = silt_silu(g, h);
    }
    silt_tensor *cos = silt_scale(g, silt_mean(g, silt_mul(g, silt_l2norm(g, h, 1e-12f), repa_target)),
                                  (float)t->repa_dim);  // mean of the per-token sums over the feature dim
    silt_tensor *align = silt_scale(g, silt_add_scalar(g, silt_scale(g, cos, -1.0f), 1.0f), (float)t->repa_weight);
    return silt_add(g, mse, align);
}

// The frozen world autoencoder of a latent run, with its normalisation
// (metadata silt.latent_shift / silt.latent_scale of a `gen train --arch ae
// --export` file).
static silt_status load_ae(mmdit_task *t, const char *ae_path) {
    char path[4096];
    SILT_TRY(silt_train_resolve_path(ae_path, path, sizeof path, "world autoencoder"));
    silt_safetensors *st = NULL;
    SILT_TRY(silt_safetensors_open(path, &st));
    const char *kind = silt_safetensors_metadata(st, "silt.kind");
    silt_status s = SILT_OK;
    if (!kind || strcmp(kind, SILT_WORLD_LATENT_NAME))
        s = SILT_FAIL(SILT_ERR_FORMAT, "mmdit: --ae %s is not a world autoencoder (`gen train --arch ae --export`: "
                                       "metadata silt.kind = " SILT_WORLD_LATENT_NAME ")", path);
    if (!s && silt_world_latent_numbers(st, &t->latent_shift, &t->latent_scale) != SILT_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", silt_last_error_message());
        s = SILT_FAIL(SILT_ERR_FORMAT, "mmdit: --ae %s: %s", path, msg);
    }
    if (!s) s = var_vq_load(st, &t->ae);
    silt_safetensors_close(st);
    if (s) return s;
    const var_vq_config *q = var_vq_get_config(t->ae);
    if (SILT_TRAIN_MMDIT_IMAGE % q->downsample)
        return SILT_FAIL(SILT_ERR_FORMAT, "mmdit: --ae %s downsamples by %d, which does not divide %d", path,
                         q->downsample, SILT_TRAIN_MMDIT_IMAGE);
    t->channels = q->z_channels;
    t->side = SILT_TRAIN_MMDIT_IMAGE / q->downsample;
    t->ae_g = silt_graph_create(0);
    if (!t->ae_g) return SILT_FAIL(SILT_ERR_OOM, "mmdit: out of memory for the autoencoder graph");
    silt_graph_set_grad(t->ae_g, false);
    return SILT_OK;
}

// size: a preset name, or NULL with *cfg set (joint/pooled from the CLIP).
// ae_path: NULL for pixel space, else the world autoencoder of a latent run.
static silt_status create(const char *clip_path, const char *ae_path, const char *size, const mmdit_config *cfg,
                          int words, uint64_t init_seed, silt_train_task *out) {
    if (!out) return SILT_FAIL(SILT_ERR_ARG, "mmdit: NULL out");
    const char *cp = clip_path ? clip_path : SILT_TRAIN_MMDIT_DEFAULT_CLIP;
    char path[4096];
    struct stat st;
    if (stat(cp, &st) != 0)
        return SILT_FAIL(SILT_ERR_IO,
                         "mmdit: world-CLIP %s: %s; pass --clip-model PATH (a world-CLIP model file, a `gen train "
                         "--arch clip` checkpoint or its run directory)",
                         cp, strerror(errno));
    SILT_TRY(silt_train_resolve_path(cp, path, sizeof path, "world-CLIP"));
    mmdit_task *t = calloc(1, sizeof *t);
    if (!t) return SILT_FAIL(SILT_ERR_OOM, "mmdit: out of memory");
    t->channels = 3, t->side = SILT_TRAIN_MMDIT_IMAGE;
    silt_status s = ae_path ? load_ae(t, ae_path) : SILT_OK;
    if (!s) s = wclip_load_file(path, &t->clip);
    mmdit_config c = {0};
    if (!s) {
        const wclip_config *cc = wclip_get_config(t->clip);
        if (cc->img_size != SILT_TRAIN_MMDIT_IMAGE || cc->max_len != TXT_WORLD_MAX_LEN)
            s = SILT_FAIL(SILT_ERR_FORMAT, "mmdit: %s is a CLIP for %d px / %d tokens, the world MMDiT needs %d / %d",
                          path, cc->img_size, cc->max_len, SILT_TRAIN_MMDIT_IMAGE, TXT_WORLD_MAX_LEN);
        if (!s && cfg) {
            c = *cfg;
            c.joint_dim = wclip_context_width(t->clip, words);
            c.pooled_dim = cc->embed_dim;
        } else if (!s) {
            s = silt_train_mmdit_preset_for(size, wclip_context_width(t->clip, words), cc->embed_dim,
                                            t->channels, t->side, &c);
        }
    }
    if (!s && (c.in_channels != t->channels || c.out_channels != t->channels))
        s = SILT_FAIL(SILT_ERR_ARG, "mmdit: the model takes %d channels in and %d out, the %s has %d", c.in_channels,
                      c.out_channels, ae_path ? "latent" : "image", t->channels);
    if (!s && (long)c.pos_max * c.patch < t->side)
        s = SILT_FAIL(SILT_ERR_ARG, "mmdit: a %d x %d position table of %d-wide patches is smaller than %d",
                      c.pos_max, c.pos_max, c.patch, t->side);
    t->words = words;
    t->time_shift = 1.0;
    if (!s) s = mmdit_create(&c, init_seed, &t->m);
    int len = s ? 0 : mmdit_config_json(&c, t->config, sizeof t->config);
    // A latent run records its latent in the checkpoint's config, so a resume
    // with another autoencoder fails and the export can name it.
    if (!s && ae_path && len > 1 && (size_t)len < sizeof t->config && t->config[len - 1] == '}')
        len = len - 1 + snprintf(t->config + len - 1, sizeof t->config - (size_t)(len - 1),
                                 ", \"silt_latent\": \"" SILT_WORLD_LATENT_NAME "\", \"silt_latent_shift\": %.9g, "
                                 "\"silt_latent_scale\": %.9g}",
                                 t->latent_shift, t->latent_scale);
    if (!s && (len <= 0 || len >= (int)sizeof t->config)) s = SILT_FAIL(SILT_ERR_ARG, "mmdit: config JSON too long");
    if (s) {
        task_destroy(t);
        return s;
    }
    int64_t n = 0;
    for (int i = 0; i < mmdit_param_count(t->m); i++) n += silt_numel(mmdit_param(t->m, i, NULL, NULL));
    silt_info("mmdit: %s model (patch %d, hidden %d, %d heads, depth %d), %.2f M parameters, text encoder %s%s%s%s",
              cfg ? "custom" : size, c.patch, c.hidden, c.heads, c.depth, (double)n / 1e6, path,
              words == WCLIP_CTX_RELATION ? " with the word and relation channels"
              : words                     ? " with the word channel"
                                          : "",
              ae_path ? ", latent of " : ", pixel space", ae_path ? ae_path : "");
    *out = (silt_train_task){.self = t, .n_params = task_n_params, .param = task_param, .loss = task_loss,
                             .images_per_batch = task_images, .name = "mmdit", .config = t->config,
                             .destroy = task_destroy, .to_device = task_to_device,
                             .check_init_model = task_check_init_model, .init_narrower = task_init_narrower};
    return SILT_OK;
}

silt_status silt_train_mmdit_create(const char *clip_path, const char *size, uint64_t init_seed,
                                    silt_train_task *out) {
    return create(clip_path, NULL, size ? size : "default", NULL, WCLIP_CTX_WORDS, init_seed, out);
}

static silt_status config_add_aux(mmdit_task *t, const char *members, const char *what) {
    return silt_train_config_add_aux(t->config, sizeof t->config, members, what);
}

silt_status silt_train_mmdit_set_repa(silt_train_task *task, double weight, int layer, uint64_t init_seed) {
    if (!task || !task->self || !task->name || strcmp(task->name, "mmdit"))
        return SILT_FAIL(SILT_ERR_ARG, "repa: not a world MMDiT task");
    mmdit_task *t = task->self;
    const mmdit_config *c = mmdit_get_config(t->m);
    const wclip_config *cc = wclip_get_config(t->clip);
    if (t->repa_weight > 0) return SILT_FAIL(SILT_ERR_ARG, "repa: already on");
    if (!(weight > 0 && weight <= 100)) return SILT_FAIL(SILT_ERR_ARG, "repa: weight %g outside (0, 100]", weight);
    // REPA's default taps block 8 of SiT-XL's 28: about 0.3 of the depth (block 1 of 6).
    if (layer < 0) layer = c->depth / 3 > 0 ? c->depth / 3 - 1 : 0;
    if (layer >= c->depth - 1)
        return SILT_FAIL(SILT_ERR_ARG, "repa: layer %d: the model has blocks 0..%d and the tap must come before "
                                       "the last", layer, c->depth - 1);
    int grid = t->side / c->patch, clip_grid = cc->img_size / cc->patch;
    if (grid != clip_grid)
        return SILT_FAIL(SILT_ERR_ARG, "repa: the model's %d x %d tokens do not match world-CLIP's %d x %d patches",
                         grid, grid, clip_grid, clip_grid);
    const int D = c->hidden, E = cc->img_width;
    const int in[REPA_LAYERS] = {D, D, D}, out[REPA_LAYERS] = {D, D, E};
    // torch.nn.Linear's default init: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias.
    silt_rng rng = silt_rng_init(init_seed ^ 0x5EB4A11CEull, 0);
    for (int k = 0; k < REPA_LAYERS; k++) {
        t->repa_w[k] = silt_tensor_create_f32(2, (const int64_t[]){out[k], in[k]}, true);
        t->repa_b[k] = silt_tensor_create_f32(1, (const int64_t[]){out[k]}, true);
        if (!t->repa_w[k] || !t->repa_b[k]) return SILT_FAIL(SILT_ERR_OOM, "repa: out of memory");
        float bound = 1.0f / sqrtf((float)in[k]);
        for (int64_t j = 0; j < silt_numel(t->repa_w[k]); j++)
            silt_f32(t->repa_w[k])[j] = (float)(bound * (2 * silt_rng_next_double(&rng) - 1));
        for (int64_t j = 0; j < out[k]; j++) silt_f32(t->repa_b[k])[j] = (float)(bound * (2 * silt_rng_next_double(&rng) - 1));
    }
    char aux[96];
    snprintf(aux, sizeof aux, "\"aux_repa_weight\": %.9g, \"aux_repa_layer\": %d", weight, layer);
    SILT_TRY(config_add_aux(t, aux, "repa"));
    t->repa_weight = weight, t->repa_layer = layer, t->repa_dim = E;
    silt_info("mmdit: REPA on: weight %g, the image stream after block %d (of %d) aligned to world-CLIP's %d x %d "
              "patch tokens (width %d) through a %d-%d-%d MLP",
              weight, layer, c->depth, clip_grid, clip_grid, E, D, D, E);
    return SILT_OK;
}

silt_status silt_train_mmdit_set_time_shift(silt_train_task *task, double shift) {
    if (!task || !task->self || !task->name || strcmp(task->name, "mmdit"))
        return SILT_FAIL(SILT_ERR_ARG, "time shift: not a world MMDiT task");
    if (!(shift >= 1 && shift <= 100)) return SILT_FAIL(SILT_ERR_ARG, "time shift %g outside [1, 100]", shift);
    mmdit_task *t = task->self;
    if (t->time_shift != 1.0) return SILT_FAIL(SILT_ERR_ARG, "time shift: already set");
    if (shift == 1.0) return SILT_OK;
    char aux[64];
    snprintf(aux, sizeof aux, "\"aux_time_shift\": %.9g", shift);
    SILT_TRY(config_add_aux(t, aux, "time shift"));
    t->time_shift = shift;
    silt_info("mmdit: training sigmas shifted by %g (median sigma %.2f)", shift, shift * 0.5 / (1 + (shift - 1) * 0.5));
    return SILT_OK;
}

silt_status silt_train_mmdit_set_pure_noise(silt_train_task *task, double fraction) {
    if (!task || !task->self || !task->name || strcmp(task->name, "mmdit"))
        return SILT_FAIL(SILT_ERR_ARG, "pure noise: not a world MMDiT task");
    if (!(fraction >= 0 && fraction <= 0.5)) return SILT_FAIL(SILT_ERR_ARG, "pure noise fraction %g outside [0, 0.5]", fraction);
    mmdit_task *t = task->self;
    if (t->pure_noise > 0) return SILT_FAIL(SILT_ERR_ARG, "pure noise: already set");
    if (fraction == 0) return SILT_OK;
    char aux[64];
    snprintf(aux, sizeof aux, "\"aux_pure_noise\": %.9g", fraction);
    SILT_TRY(config_add_aux(t, aux, "pure noise"));
    t->pure_noise = fraction;
    silt_info("mmdit: %g%% of the training images at sigma 1 (pure noise, where sampling starts)", 100 * fraction);
    return SILT_OK;
}

silt_status silt_train_mmdit_set_category_weights(silt_train_task *task, const int weights[WORLD_CAT_COUNT]) {
    if (!task || !task->self || !task->name || strcmp(task->name, "mmdit"))
        return SILT_FAIL(SILT_ERR_ARG, "category weights: not a world MMDiT task");
    mmdit_task *t = task->self;
    if (t->weighted) return SILT_FAIL(SILT_ERR_ARG, "category weights: already set");
    char aux[256];
    bool is_default = false;
    SILT_TRY(silt_train_category_weights_aux("mmdit", weights, &is_default, aux, sizeof aux));
    if (is_default) return SILT_OK;
    SILT_TRY(config_add_aux(t, aux, "category weights"));
    memcpy(t->cat_weights, weights, sizeof t->cat_weights);
    t->weighted = true;
    return SILT_OK;
}

silt_status silt_train_mmdit_set_samples(silt_train_task *task, const char *paths, double fraction) {
    if (!task || !task->self || !task->name || strcmp(task->name, "mmdit"))
        return SILT_FAIL(SILT_ERR_ARG, "samples: not a world MMDiT task");
    mmdit_task *t = task->self;
    if (t->samples) return SILT_FAIL(SILT_ERR_ARG, "samples: already set");
    if (!paths || !*paths) return SILT_FAIL(SILT_ERR_ARG, "samples: no file");
    if (!(fraction > 0 && fraction <= 1)) return SILT_FAIL(SILT_ERR_ARG, "samples fraction %g outside (0, 1]", fraction);
    silt_sample_set *all = NULL;
    silt_status s = silt_sample_set_load_list(paths, &all);
    if (s != SILT_OK) return s;
    // A labelled set (gen world harvest --all) also holds failed candidates.
    const int64_t failed = silt_sample_set_keep_passing(all);
    if (failed) silt_info("mmdit: samples: %lld candidates the evaluator failed left out", (long long)failed);
    // The eval prompts' own samples go: world-GenEval then measures prompts
    // the fine-tuning never saw the model draw right.
    int64_t dropped = s == SILT_OK ? silt_sample_set_drop_suite(all, WORLD_SUITE_EVAL) : 0;
    if (dropped < 0) s = SILT_FAIL(SILT_ERR_OOM, "samples: out of memory");
    if (s == SILT_OK && all->n == 0)
        s = SILT_FAIL(SILT_ERR_ARG, "samples: all %lld passing samples have eval-suite captions (dropped: the eval suite measures "
                                    "the fine-tuning)", (long long)dropped);
    if (s == SILT_OK && all->size != SILT_TRAIN_MMDIT_IMAGE)
        s = SILT_FAIL(SILT_ERR_SHAPE, "samples: %d px images; the model trains on %d px", all->size, SILT_TRAIN_MMDIT_IMAGE);
    char aux[128];
    snprintf(aux, sizeof aux, "\"aux_samples\": %lld, \"aux_samples_fraction\": %.9g", s ? 0LL : (long long)all->n, fraction);
    if (s == SILT_OK) s = config_add_aux(t, aux, "samples");
    if (s != SILT_OK) {
        silt_sample_set_free(all);
        return s;
    }
    t->samples = all, t->samples_fraction = fraction;
    int per[WORLD_CAT_COUNT] = {0};
    for (int64_t i = 0; i < all->n; i++) per[all->categories[i]]++;
    silt_info("mmdit: %.0f%% of the images from %lld harvested samples (position %d, counting %d, two_objects %d; "
              "%lld with eval-suite captions dropped)",
              100 * fraction, (long long)all->n, per[WORLD_CAT_POSITION], per[WORLD_CAT_COUNTING], per[WORLD_CAT_TWO_OBJECTS],
              (long long)dropped);
    return SILT_OK;
}

silt_status silt_train_mmdit_set_dpo(silt_train_task *task, const char *paths, const char *ref_path, double beta,
                                     double cfg) {
    if (!task || !task->self || !task->name || strcmp(task->name, "mmdit"))
        return SILT_FAIL(SILT_ERR_ARG, "dpo: not a world MMDiT task");
    mmdit_task *t = task->self;
    if (t->ref) return SILT_FAIL(SILT_ERR_ARG, "dpo: already set");
    if (t->samples || t->repa_weight > 0 || t->pure_noise > 0 || t->weighted)
        return SILT_FAIL(SILT_ERR_ARG, "dpo: its batches are pairs of candidates, no renders; --samples, --repa, "
                                       "--pure-noise and --category-weights do not go with it");
    if (!paths || !*paths) return SILT_FAIL(SILT_ERR_ARG, "dpo: no sample set");
    if (!ref_path || !*ref_path)
        return SILT_FAIL(SILT_ERR_ARG, "dpo: no reference model: give --init the model the run starts from (a resume too)");
    if (!(beta > 0 && beta <= 1e6)) return SILT_FAIL(SILT_ERR_ARG, "dpo: beta %g outside (0, 1e6]", beta);
    if (!(cfg >= 0 && cfg <= 100)) return SILT_FAIL(SILT_ERR_ARG, "dpo: guidance scale %g outside [0, 100]", cfg);
    silt_sample_set *set = NULL;
    SILT_TRY(silt_sample_set_load_list(paths, &set));
    silt_status s = SILT_OK;
    if (set->size != SILT_TRAIN_MMDIT_IMAGE)
        s = SILT_FAIL(SILT_ERR_SHAPE, "dpo: %d px images; the model trains on %d px", set->size, SILT_TRAIN_MMDIT_IMAGE);
    // The eval prompts' candidates go, as for --samples.
    const int64_t dropped = s == SILT_OK ? silt_sample_set_drop_suite(set, WORLD_SUITE_EVAL) : 0;
    if (dropped < 0) s = SILT_FAIL(SILT_ERR_OOM, "dpo: out of memory");
    int64_t n = 0, (*pairs)[2] = NULL;
    if (s == SILT_OK) s = silt_sample_set_training_pairs(set, dropped, "dpo", &pairs, &n);
    // The reference: the start's weights, frozen (an exported model file).
    char path[4096];
    mmdit_model *ref = NULL;
    if (s == SILT_OK) s = silt_train_resolve_path(ref_path, path, sizeof path, "dpo reference");
    if (s == SILT_OK) {
        silt_safetensors *st = NULL;
        s = silt_safetensors_open(path, &st);
        const char *kind = s == SILT_OK ? silt_safetensors_metadata(st, "silt.kind") : NULL;
        if (s == SILT_OK && (!kind || strcmp(kind, "world-mmdit")))
            s = SILT_FAIL(SILT_ERR_ARG, "dpo: the reference %s is not a world MMDiT model file: --init an exported model "
                                        "(gen train --arch mmdit --export)", path);
        if (s == SILT_OK) s = mmdit_load(st, &ref);
        silt_safetensors_close(st);
    }
    if (s == SILT_OK) {
        // The whole config, as the checkpoint records it (qk_norm, dual blocks, ... too).
        char a[1024], b[1024];
        mmdit_config_json(mmdit_get_config(t->m), a, sizeof a);
        mmdit_config_json(mmdit_get_config(ref), b, sizeof b);
        if (strcmp(a, b)) s = SILT_FAIL(SILT_ERR_SHAPE, "dpo: the reference %s is not this model's config (%s)", path, b);
    }
    // A fingerprint of the reference's weights (FNV-1a over their bytes) in
    // the config: a resume with another --init fails instead of changing the
    // objective under the run.
    uint64_t fp = 0xcbf29ce484222325ull;
    for (int i = 0; s == SILT_OK && i < mmdit_param_count(ref); i++) {
        const silt_tensor *w = mmdit_param(ref, i, NULL, NULL);
        const unsigned char *bytes = (const unsigned char *)silt_f32(w);
        for (size_t k = 0; k < (size_t)silt_numel(w) * sizeof(float); k++) fp = (fp ^ bytes[k]) * 0x100000001b3ull;
    }
    // The guidance scale only when set: runs from before it resume.
    char aux[256], cfg_aux[48] = "";
    if (cfg > 0) snprintf(cfg_aux, sizeof cfg_aux, ", \"aux_dpo_cfg\": %.9g", cfg);
    snprintf(aux, sizeof aux, "\"aux_dpo_samples\": %lld, \"aux_dpo_beta\": %.9g, \"aux_dpo_reference\": \"%016llx\"%s",
             s ? 0LL : (long long)set->n, beta, (unsigned long long)fp, cfg_aux);
    if (s == SILT_OK) s = config_add_aux(t, aux, "dpo");
    if (s != SILT_OK) {
        silt_sample_set_free(set);
        free(pairs);
        mmdit_free(ref);
        return s;
    }
    t->dpo_set = set, t->dpo_pairs = pairs, t->n_dpo_pairs = n, t->dpo_beta = beta, t->dpo_cfg = cfg, t->ref = ref;
    int per[WORLD_CAT_COUNT] = {0};
    for (int64_t i = 0; i < n; i++) per[set->categories[pairs[i][0]]]++;
    char how[64] = "";
    if (cfg > 0) snprintf(how, sizeof how, ", on the CFG %g velocity", cfg);
    silt_info("mmdit: DPO (beta %g%s) against %s on %lld (passed, failed) pairs of one caption from %lld candidates "
              "(position %d, counting %d, two_objects %d; %lld with eval-suite captions dropped); --batch counts pairs",
              beta, how, path, (long long)n, (long long)set->n, per[WORLD_CAT_POSITION], per[WORLD_CAT_COUNTING],
              per[WORLD_CAT_TWO_OBJECTS], (long long)dropped);
    return SILT_OK;
}

silt_status silt_train_mmdit_create_latent(const char *clip_path, const char *ae_path, const char *size,
                                           uint64_t init_seed, silt_train_task *out) {
    return create(clip_path, ae_path, size ? size : "default", NULL, WCLIP_CTX_WORDS, init_seed, out);
}

silt_status silt_train_mmdit_create_ex(const char *clip_path, const char *ae_path, const char *size, int words,
                                       uint64_t init_seed, silt_train_task *out) {
    return create(clip_path, ae_path, size ? size : "default", NULL, words, init_seed, out);
}

silt_status silt_train_mmdit_create_config(const char *clip_path, const mmdit_config *c, uint64_t init_seed,
                                           silt_train_task *out) {
    if (!c) return SILT_FAIL(SILT_ERR_ARG, "mmdit: NULL config");
    return create(clip_path, NULL, NULL, c, WCLIP_CTX_WORDS, init_seed, out);
}

// --- export ------------------------------------------------------------------------

silt_mmdit_export_opts silt_mmdit_export_default_opts(void) {
    return (silt_mmdit_export_opts){.steps = 20, .shift = 1.0, .cfg = 4.0, .pag_scale = NAN};
}

silt_status silt_train_mmdit_export(const char *ckpt_or_dir, const char *out_path, const silt_mmdit_export_opts *o) {
    if (!ckpt_or_dir || !out_path) return SILT_FAIL(SILT_ERR_ARG, "mmdit export: NULL argument");
    silt_mmdit_export_opts d = silt_mmdit_export_default_opts();
    if (!o) o = &d;
    if (o->steps < 1 || !(o->shift > 0) || !isfinite(o->shift) || !(o->cfg >= 0) || !isfinite(o->cfg) ||
        (!isnan(o->pag_scale) && !(fabs(o->pag_scale) <= 100)))
        return SILT_FAIL(SILT_ERR_ARG, "mmdit export: steps %d, shift %g, cfg %g, pag scale %g (need >= 1, > 0, >= 0, "
                                       "within +-100)", o->steps, o->shift, o->cfg, o->pag_scale);
    char path[4096];
    silt_safetensors *st = NULL;
    SILT_TRY(silt_train_open_checkpoint(ckpt_or_dir, "mmdit", path, sizeof path, &st));
    mmdit_model *m = NULL;
    char *train = NULL;
    silt_status s = mmdit_load(st, &m);
    if (!s) s = silt_train_export_summary(st, "proj_out.weight", &train);
    // A latent run's checkpoint config names its latent (see create).
    silt_world_latent wl = {0};
    char lshift[40] = "", lscale[40] = "";
    if (!s) s = silt_world_latent_read(st, &wl);
    if (wl.on) snprintf(lshift, sizeof lshift, "%.9g", wl.shift), snprintf(lscale, sizeof lscale, "%.9g", wl.scale);
    if (!s) {
        char steps[32], shift[32], cfg[32], pag[32];
        snprintf(steps, sizeof steps, "%d", o->steps);
        snprintf(shift, sizeof shift, "%g", o->shift);
        snprintf(cfg, sizeof cfg, "%g", o->cfg);
        snprintf(pag, sizeof pag, "%g", o->pag_scale);
        // Optional pairs go last: a NULL key ends the list.
        const char *kv[] = {"silt.kind", "world-mmdit", "silt.text_encoder", "world-clip", "silt.sampler",
                            "flow_euler", "silt.steps", steps, "silt.shift", shift, "silt.cfg", cfg, "silt.train",
                            train, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
        int k = 14;
        if (wl.on) {
            kv[k++] = "silt.latent", kv[k++] = SILT_WORLD_LATENT_NAME;
            kv[k++] = "silt.latent_shift", kv[k++] = lshift;
            kv[k++] = "silt.latent_scale", kv[k++] = lscale;
        }
        if (!isnan(o->pag_scale)) kv[k++] = "silt.pag_scale", kv[k++] = pag;
        s = mmdit_save_as(m, out_path, kv, o->f16 ? SILT_ST_F16 : SILT_ST_F32);
    }
    free(train);
    mmdit_free(m);
    silt_safetensors_close(st);
    return s;
}
