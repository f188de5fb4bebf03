// The training loop: any model that implements silt_train_task trains with
// AdamW, linear-warmup + cosine learning rate, gradient accumulation,
// gradient-norm clipping, EMA weights, a CSV log, atomic checkpoints and an
// exact resume.
//
// Exact resume. A run interrupted at any checkpoint and resumed with the same
// parameters ends with bit-identical weights, EMA and optimiser state (and the
// same CSV rows but for the timing columns) as an uninterrupted run, because
// everything a step depends on is either in the checkpoint or a pure function
// of the step:
//   - the data: micro-batch j of the run (j = step * grad_accum + micro, counting
//     from 0) is what task->loss builds for batch_index j; a task draws its
//     samples and any noise from (data_seed, batch_index) only (Philox streams,
//     or silt_train_batch_rng below), never from state carried between calls;
//   - the learning rate: silt_train_lr(p, step);
//   - the weights, EMA weights, AdamW moments and step count: in the checkpoint.
// Bit-identity also assumes the same build, machine and thread count (BLAS
// sums may be ordered differently with a different thread count).
//
// Checkpoint file (safetensors, written atomically: temporary file, fsync,
// rename): every parameter under its own name, "ema.<name>" (when EMA is on),
// "adam_m.<name>" and "adam_v.<name>", all F32; metadata "format" =
// "silt-train-checkpoint", "format_version" = "1", "step" (optimiser updates
// done), "adam_step", "data_seed", "arch", "train_params" (JSON of the
// hyperparameters that change the numbers) and "config" (the task's, if any). The file holds no time stamp
// and no path, so two runs that reach the same state write identical bytes.
// Files: OUT/checkpoint_<step>.safetensors, OUT/latest (one line naming the
// newest checkpoint file, replaced atomically), OUT/train_log.csv, and
// OUT/train.lock (flock'ed while a run writes the directory; a second run
// into it fails with SILT_ERR_IO).
#ifndef SILT_TRAIN_H
#define SILT_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/graph.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "core/status.h"

// What the trainer needs from a model. The task owns its parameters (f32 CPU
// tensors created with requires_grad, so they own their grad buffers).
typedef struct silt_train_task {
    void *self;
    int (*n_params)(void *self);
    // Parameter i in [0, n_params); *name is its checkpoint key (unique; must
    // not start with "ema.", "adam_m." or "adam_v."), *no_decay exempts it from
    // weight decay (biases, norms, embeddings).
    silt_tensor *(*param)(void *self, int i, const char **name, bool *no_decay);
    // Parameters named "aux.*" are training-only (e.g. REPA's projector in
    // gen train --repa): checkpoints hold them like any other, the model's
    // loader must skip them (mmdit_load does; the arch that adds some makes
    // its loader skip them), and an --init source may lack them (they keep
    // their fresh values). Likewise "aux_*" keys of `config` below describe
    // training-only settings: a resume must match them, an --init ignores them.
    // Builds the loss for micro-batch `batch_index` of the run (the data order
    // is a pure function of (data_seed, batch_index)) on graph g, which the
    // trainer has just reset; returns a scalar (one-element, f32) tensor that
    // requires grad, or NULL with the graph's status set.
    silt_tensor *(*loss)(void *self, silt_graph *g, uint64_t data_seed, int64_t batch_index, int batch_size);
    double (*images_per_batch)(void *self, int batch_size);  // for images/s; NULL: batch_size
    const char *name;              // architecture, stored in checkpoints and checked on resume
    // Optional (NULL: none): what a loader needs to rebuild the model beyond
    // the tensor shapes (e.g. a head count), stored as checkpoint metadata
    // "config"; a resume from a checkpoint with another config fails.
    const char *config;
    void (*destroy)(void *self);   // frees self and its parameters; NULL-safe to call via silt_train_task_free
    // Optional (NULL: cpu only): moves the model to `device` in place, once,
    // before the first step (parameter headers stay valid; their data becomes
    // device memory). After it, loss() gets graphs on that device and must put
    // its inputs there (build on the host, silt_graph_upload).
    silt_status (*to_device)(void *self, silt_device device);
    // Optional (NULL: none): looks at the metadata of a model file (an export,
    // not a checkpoint) that --init starts from, after its tensors matched,
    // and warns about what the shapes cannot show (e.g. another latent).
    void (*check_init_model)(void *self, const silt_safetensors *f, const char *path);
    // Optional (NULL: none): true when parameter `name` may start (--init)
    // from a tensor narrower in its last dim, the extra columns zero (a
    // model that gained inputs, e.g. the MMDiT's word channel).
    bool (*init_narrower)(void *self, const char *name);
    // Optional (NULL: none): true when parameter `name` may be missing from
    // the model file or checkpoint --init starts from and keep its fresh
    // initial value (a
    // head the source model lacks, e.g. world-CLIP's judge head), as the
    // training-only "aux." parameters do.
    bool (*init_fresh)(void *self, const char *name);
} silt_train_task;

void silt_train_task_free(silt_train_task *t);  // calls t->destroy(t->self) once; NULL-safe

typedef struct silt_train_params {
    int64_t steps;          // optimiser updates in the whole run (not this invocation)
    int batch_size;         // samples per micro-batch
    int grad_accum;         // micro-batches per update; each micro-batch loss is scaled by 1/grad_accum
    double lr;              // peak learning rate
    double lr_min;          // cosine floor, reached by the last update
    int64_t warmup_steps;   // linear warmup length
    double weight_decay;    // AdamW decoupled decay (params with no_decay exempt)
    double beta1, beta2, eps;
    double grad_clip;       // global L2 max-norm; 0 = no clipping (the norm is still logged)
    double ema_decay;       // EMA weights e = d e + (1 - d) p after each update; 0 = off
    bool ema_warmup;        // d_t = min(ema_decay, (1 + t) / (10 + t)) at update t (silt_train_ema_decay_at)
    int64_t ckpt_every;     // checkpoint every N updates (and always at the end); 0 = only at the end
    int keep_last;          // checkpoints kept (older ones deleted); 0 = keep all
    const char *out_dir;    // created if missing
    uint64_t data_seed;
    int64_t log_every;      // CSV row (and a log line) every N updates, and at the end
    int step_delay_ms;      // sleep after each update (tests of crash and resume); 0 = none
    bool handle_signals;    // SIGINT/SIGTERM: finish the step, checkpoint, SILT_ERR_CANCELLED
    // Where forward, backward, clipping, AdamW and EMA run (default SILT_CPU).
    // SILT_CUDA needs a usable GPU and a task with to_device; parameters,
    // grads, AdamW moments (fp32) and EMA weights then live on the device, and
    // checkpoints are written from host copies in the same format (so a run
    // resumes on either device).
    silt_device device;
    // Optional (NULL: none): a fresh run starts its weights and EMA from this
    // checkpoint (file or run dir) of the same arch and config, its EMA weights
    // when it has them, or from a model file (an export, e.g. the shipped
    // models/world-dit) holding every parameter by name and shape; step,
    // schedule and optimiser start fresh (fine-tuning, or going on past a
    // finished run with a new schedule). Ignored when the run resumes: the
    // checkpoint then holds everything.
    const char *init_path;
} silt_train_params;

// steps 1000, batch 32, accum 1, lr 1e-3, lr_min 1e-5, warmup 100, weight decay
// 0.01, betas (0.9, 0.999), eps 1e-8, clip 1.0, EMA off, checkpoint every 100,
// keep 3, out "train_out", data seed 0, log every 10, signals handled.
silt_train_params silt_train_default_params(void);

// SILT_ERR_ARG naming the first bad field, or SILT_OK.
silt_status silt_train_params_check(const silt_train_params *p);

// Learning rate of update `step` (0-based): linear warmup lr * (step + 1) /
// warmup_steps for step < warmup_steps, then half-cosine from lr (at step ==
// warmup_steps) down to lr_min at the last update (step == steps - 1):
//   lr_min + (lr - lr_min) * (1 + cos(pi * (step - W) / max(1, steps - 1 - W))) / 2
// (SGDR, Loshchilov & Hutter 2017, without restarts; warmup as in Goyal et al.
// 2017). Steps past the end get lr_min.
double silt_train_lr(const silt_train_params *p, int64_t step);

// The EMA decay of update `step` (0-based). With ema_warmup the decay ramps
// up as TensorFlow's ExponentialMovingAverage with num_updates does,
// min(ema_decay, (1 + step) / (10 + step)): without it an early export is
// mostly the initial weights (with adaLN-Zero, a model that outputs zeros),
// since (ema_decay)^step of them remains (0.999^1000 = 0.37).
double silt_train_ema_decay_at(const silt_train_params *p, int64_t step);
// EMA update, in float: ema[i] += (1 - decay) * (p[i] - ema[i]) (= decay * ema[i]
// + (1 - decay) * p[i], and exact for a weight that stays put).  ema, p: (n)
void silt_train_ema_update(float *ema, const float *p, int64_t n, double decay);

// A host RNG for a task's choices within one micro-batch (timesteps, crops,
// dropout masks): a pure function of (data_seed, batch_index, purpose), so it
// needs no checkpointing. Use a different `purpose` for each independent use.
silt_rng silt_train_batch_rng(uint64_t data_seed, int64_t batch_index, uint32_t purpose);

// The loop. resume_path: NULL starts fresh (and refuses an out_dir that already
// holds a run, so a run is never overwritten by accident); "auto" resumes from
// OUT/latest when there is one, else starts fresh; a directory resumes from its
// `latest`; any other path is a checkpoint file. The CSV is truncated back to
// the resumed step. progress (may be NULL) gets a bar over the steps of this
// invocation. Returns SILT_OK when `steps` is reached (a final checkpoint is
// written), SILT_ERR_NUMERIC naming the step when the loss or the gradient
// norm is NaN/Inf (nothing of that step is applied, nothing is written, and
// the latest checkpoint stays valid), SILT_ERR_CANCELLED after SIGINT/SIGTERM
// (the step in flight is finished and checkpointed first). On any failure
// the task's parameters may hold the state of the last finished step.
silt_status silt_train_run(const silt_train_params *p, silt_train_task *task, const char *resume_path,
                           silt_progress *progress);

// Path of the newest checkpoint in dir (from its `latest` file) into buf.
// SILT_ERR_IO when there is none.
silt_status silt_train_latest(const char *dir, char *buf, size_t n);
// Appends training-only members ("aux_*": `"aux_x": 1`) to a task's config
// JSON object in config[cap]: a resume with other settings then fails, an
// --init ignores them. SILT_ERR_ARG (config unchanged) when it does not fit
// or config is not an object.
silt_status silt_train_config_add_aux(char *config, size_t cap, const char *members, const char *what);
// A file, or a run directory (its latest checkpoint), into buf.
silt_status silt_train_resolve_path(const char *path, char *buf, size_t n, const char *what);

#endif
