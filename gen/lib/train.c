// The training loop (see train.h for the resume contract).
#include "gen/lib/train.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/json.h"
#include "cuda/cuda.h"
#include "gen/lib/train_private.h"

silt_train_params silt_train_default_params(void) {
    silt_train_params p = {
        .steps = 1000, .batch_size = 32, .grad_accum = 1, .lr = 1e-3, .lr_min = 1e-5, .warmup_steps = 100,
        .weight_decay = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .grad_clip = 1.0, .ema_decay = 0,
        .ema_warmup = true,
        .ckpt_every = 100, .keep_last = 3, .out_dir = "train_out", .data_seed = 0, .log_every = 10,
        .step_delay_ms = 0, .handle_signals = true,
    };
    return p;
}

void silt_train_task_free(silt_train_task *t) {
    if (!t || !t->destroy) return;
    t->destroy(t->self);
    t->destroy = NULL;
    t->self = NULL;
}

silt_status silt_train_params_check(const silt_train_params *p) {
    if (!p) return SILT_FAIL(SILT_ERR_ARG, "train: NULL params");
#define BAD(cond, ...) if (cond) return SILT_FAIL(SILT_ERR_ARG, "train: " __VA_ARGS__)
    BAD(p->steps < 1, "steps %lld must be >= 1", (long long)p->steps);
    BAD(p->batch_size < 1, "batch size %d must be >= 1", p->batch_size);
    BAD(p->grad_accum < 1, "grad_accum %d must be >= 1", p->grad_accum);
    BAD(p->steps > INT64_MAX / p->grad_accum, "steps x grad_accum overflows");
    BAD(!(p->lr >= 0) || !isfinite(p->lr), "learning rate %g must be finite and >= 0", p->lr);
    BAD(!(p->lr_min >= 0) || !(p->lr_min <= p->lr), "lr_min %g must be in [0, lr = %g]", p->lr_min, p->lr);
    BAD(p->warmup_steps < 0, "warmup_steps %lld must be >= 0", (long long)p->warmup_steps);
    BAD(!(p->weight_decay >= 0) || !isfinite(p->weight_decay), "weight decay %g must be finite and >= 0",
        p->weight_decay);
    BAD(!(p->beta1 >= 0 && p->beta1 < 1), "beta1 %g must be in [0, 1)", p->beta1);
    BAD(!(p->beta2 >= 0 && p->beta2 < 1), "beta2 %g must be in [0, 1)", p->beta2);
    BAD(!(p->eps >= 0) || !isfinite(p->eps), "eps %g must be finite and >= 0", p->eps);
    BAD(!(p->grad_clip >= 0) || !isfinite(p->grad_clip), "grad clip %g must be finite and >= 0 (0: off)",
        p->grad_clip);
    BAD(!(p->ema_decay >= 0 && p->ema_decay < 1), "EMA decay %g must be in [0, 1) (0: off)", p->ema_decay);
    BAD(p->ckpt_every < 0, "ckpt_every %lld must be >= 0 (0: only at the end)", (long long)p->ckpt_every);
    BAD(p->keep_last < 0, "keep_last %d must be >= 0 (0: keep all)", p->keep_last);
    BAD(!p->out_dir || !*p->out_dir, "no output directory");
    BAD(strlen(p->out_dir) > TRAIN_PATH_MAX - 64, "output directory path is too long");
    BAD(p->log_every < 1, "log_every %lld must be >= 1", (long long)p->log_every);
    BAD(p->step_delay_ms < 0, "step_delay_ms %d must be >= 0", p->step_delay_ms);
    BAD(p->device != SILT_CPU && p->device != SILT_CUDA, "unknown device %d", (int)p->device);
#undef BAD
    return SILT_OK;
}

double silt_train_lr(const silt_train_params *p, int64_t step) {
    if (step < 0) step = 0;
    if (step < p->warmup_steps) return p->lr * (double)(step + 1) / (double)p->warmup_steps;
    if (step >= p->steps) return p->lr_min;
    int64_t span = p->steps - 1 - p->warmup_steps;
    double t = (double)(step - p->warmup_steps) / (double)(span > 1 ? span : 1);
    if (t > 1) t = 1;
    return p->lr_min + (p->lr - p->lr_min) * 0.5 * (1.0 + cos(3.14159265358979323846 * t));
}

double silt_train_ema_decay_at(const silt_train_params *p, int64_t step) {
    if (!p->ema_warmup) return p->ema_decay;
    if (step < 0) step = 0;
    double ramp = (1.0 + (double)step) / (10.0 + (double)step);
    return ramp < p->ema_decay ? ramp : p->ema_decay;
}

void silt_train_ema_update(float *ema, const float *p, int64_t n, double decay) {
    // e + w (p - e), not d e + w p: the same number in exact arithmetic, but
    // a weight that does not move (a frozen encoder, gen train --decoder-only)
    // keeps a bit-identical EMA.
    const float w = (float)(1.0 - decay);
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) ema[i] = ema[i] + w * (p[i] - ema[i]);
}

silt_rng silt_train_batch_rng(uint64_t data_seed, int64_t batch_index, uint32_t purpose) {
    // Distinct purposes get unrelated keys (odd multiplier, bijective per
    // purpose); the batch index is the Philox stream.
    uint64_t key = data_seed ^ (0x9E3779B97F4A7C15ull * ((uint64_t)purpose + 1));
    return silt_rng_init(key, (uint64_t)batch_index);
}

// --- signals -------------------------------------------------------------------

// One run at a time per process uses these (the handler can reach nothing else).
static volatile sig_atomic_t g_stop_signal;

static void on_stop_signal(int sig) {
    if (g_stop_signal) {  // a second signal: give up at once
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    g_stop_signal = sig;
}

typedef struct saved_signals {
    struct sigaction intr, term;
    bool installed;
} saved_signals;

static void signals_install(saved_signals *s) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    g_stop_signal = 0;
    s->installed = sigaction(SIGINT, &sa, &s->intr) == 0 && sigaction(SIGTERM, &sa, &s->term) == 0;
    // A signal the parent set to be ignored stays ignored (a shell starts
    // background jobs with SIGINT ignored, so Ctrl-C is not meant for them).
    if (s->installed && s->intr.sa_handler == SIG_IGN) sigaction(SIGINT, &s->intr, NULL);
    if (s->installed && s->term.sa_handler == SIG_IGN) sigaction(SIGTERM, &s->term, NULL);
}

static void signals_restore(saved_signals *s) {
    if (!s->installed) return;
    sigaction(SIGINT, &s->intr, NULL);
    sigaction(SIGTERM, &s->term, NULL);
    s->installed = false;
}

// --- setup ------------------------------------------------------------------------

static silt_status mkdir_p(const char *dir) {
    char buf[TRAIN_PATH_MAX];
    size_t len = strlen(dir);
    if (len >= sizeof buf) return SILT_FAIL(SILT_ERR_ARG, "train: output directory path is too long");
    memcpy(buf, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return SILT_FAIL(SILT_ERR_IO, "cannot create directory %s: %s", buf, strerror(errno));
        buf[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return SILT_FAIL(SILT_ERR_IO, "%s is not a directory", dir);
    return SILT_OK;
}

static char *params_json(const silt_train_params *p, const char *arch) {
    // Only what changes the numbers: paths, logging and checkpoint cadence are
    // left out, so runs into different directories write identical files.
    silt_json_buf b = {0};
    silt_json_buf_printf(&b, "{\"arch\": ");
    silt_json_buf_string(&b, arch ? arch : "", strlen(arch ? arch : ""));
    silt_json_buf_printf(&b,
                         ", \"steps\": %lld, \"batch_size\": %d, \"grad_accum\": %d, \"lr\": %.17g, \"lr_min\": %.17g, "
                         "\"warmup_steps\": %lld, \"weight_decay\": %.17g, \"beta1\": %.17g, \"beta2\": %.17g, "
                         "\"eps\": %.17g, \"grad_clip\": %.17g, \"ema_decay\": %.17g, \"data_seed\": %llu",
                         (long long)p->steps, p->batch_size, p->grad_accum, p->lr, p->lr_min,
                         (long long)p->warmup_steps, p->weight_decay, p->beta1, p->beta2, p->eps, p->grad_clip,
                         p->ema_decay, (unsigned long long)p->data_seed);
    // Only a run with EMA warmup names it, so checkpoints written before the
    // option existed (no warmup) still resume with --ema-warmup off.
    silt_json_buf_printf(&b, "%s}", p->ema_decay > 0 && p->ema_warmup ? ", \"ema_warmup\": true" : "");
    silt_json_buf_append(&b, "", 1);
    if (b.failed) { silt_json_buf_free(&b); return NULL; }
    return b.data;
}

static void state_free(train_state *s) {
    if (s->on_device) {
        // s->params are our host shadows here; the device parameters are the task's.
        for (int i = 0; i < s->n && s->params; i++) silt_tensor_free(s->params[i]);
        if (s->dev_ema)
            for (int i = 0; i < s->n; i++) silt_cuda_free(s->dev_ema[i]);
    }
    free(s->dev_ema);
    free(s->dev_params);
    silt_multi_list_free(s->zero_list);
    silt_multi_list_free(s->ema_list);
    free(s->multi_entries);
    silt_adamw_free(s->dev_opt);
    if (s->ema)
        for (int i = 0; i < s->n; i++) silt_free(s->ema[i]);
    free(s->ema);
    free(s->params);
    free(s->names);
    free(s->no_decay);
    silt_adamw_free(s->opt);
    free(s->params_json);
    memset(s, 0, sizeof *s);
}

static bool reserved_name(const char *name) {
    return !strncmp(name, "ema.", 4) || !strncmp(name, "adam_m.", 7) || !strncmp(name, "adam_v.", 7);
}

static silt_status state_init(train_state *s, const silt_train_params *p, silt_train_task *task) {
    memset(s, 0, sizeof *s);
    s->p = p;
    s->task = task;
    if (!task || !task->n_params || !task->param || !task->loss)
        return SILT_FAIL(SILT_ERR_ARG, "train: the task lacks n_params, param or loss");
    int n = task->n_params(task->self);
    if (n < 1) return SILT_FAIL(SILT_ERR_ARG, "train: the task has %d parameters", n);
    s->n = n;
    s->params = calloc((size_t)n, sizeof *s->params);
    s->names = calloc((size_t)n, sizeof *s->names);
    s->no_decay = calloc((size_t)n, sizeof *s->no_decay);
    s->params_json = params_json(p, task->name);
    if (!s->params || !s->names || !s->no_decay || !s->params_json)
        return SILT_FAIL(SILT_ERR_OOM, "train: out of memory");
    for (int i = 0; i < n; i++) {
        const char *name = NULL;
        bool nd = false;
        silt_tensor *t = task->param(task->self, i, &name, &nd);
        if (!t || !name || !*name)
            return SILT_FAIL(SILT_ERR_ARG, "train: task parameter %d is %s", i, !t ? "NULL" : "unnamed");
        if (t->dtype != SILT_F32 || t->device != SILT_CPU || !t->requires_grad || !t->grad)
            return SILT_FAIL(SILT_ERR_ARG, "train: parameter %s must be an f32 cpu tensor created with requires_grad",
                             name);
        if (reserved_name(name) || strlen(name) > 900)
            return SILT_FAIL(SILT_ERR_ARG, "train: parameter name '%.60s' is reserved or too long", name);
        for (int j = 0; j < i; j++)
            if (!strcmp(s->names[j], name)) return SILT_FAIL(SILT_ERR_ARG, "train: two parameters named %s", name);
        s->params[i] = t;
        s->names[i] = name;
        s->no_decay[i] = nd;
    }
    silt_adamw_params ap = {.lr = p->lr, .beta1 = p->beta1, .beta2 = p->beta2, .eps = p->eps,
                            .weight_decay = p->weight_decay};
    s->opt = silt_adamw_create(s->params, s->no_decay, n, ap);
    if (!s->opt) return SILT_FAIL(SILT_ERR_ARG, "train: %s", silt_last_error_message());
    if (p->ema_decay > 0) {
        s->ema = calloc((size_t)n, sizeof *s->ema);
        if (!s->ema) return SILT_FAIL(SILT_ERR_OOM, "train: out of memory for EMA weights");
        for (int i = 0; i < n; i++) {
            size_t bytes = silt_nbytes(s->params[i]);
            s->ema[i] = silt_alloc(bytes);
            if (!s->ema[i]) return SILT_FAIL(SILT_ERR_OOM, "train: out of memory for EMA weights");
            memcpy(s->ema[i], s->params[i]->data, bytes);  // EMA starts at the initial weights
        }
    }
    return SILT_OK;
}

// Resolves resume_path into a checkpoint path; *path = "" means start fresh.
static silt_status resolve_resume(const silt_train_params *p, const char *resume, char *path, size_t n) {
    path[0] = 0;
    char latest[TRAIN_PATH_MAX];
    SILT_TRY(train_join(latest, sizeof latest, p->out_dir, "latest"));
    if (!resume) {
        if (train_file_exists(latest))
            return SILT_FAIL(SILT_ERR_ARG,
                             "%s already holds a training run; resume it (--resume auto) or choose another "
                             "output directory",
                             p->out_dir);
        return SILT_OK;
    }
    if (!strcmp(resume, "auto")) {
        if (!train_file_exists(latest)) {
            silt_info("no checkpoint in %s: starting a new run", p->out_dir);
            return SILT_OK;
        }
        return silt_train_latest(p->out_dir, path, n);
    }
    struct stat st;
    if (stat(resume, &st) != 0) return SILT_FAIL(SILT_ERR_IO, "cannot resume from %s: %s", resume, strerror(errno));
    if (S_ISDIR(st.st_mode)) return silt_train_latest(resume, path, n);
    if (strlen(resume) >= n) return SILT_FAIL(SILT_ERR_ARG, "resume path is too long");
    snprintf(path, n, "%s", resume);
    return SILT_OK;
}

// Holds an exclusive lock on OUT/train.lock for the run, so two runs never
// write one directory (the kernel drops it when a process dies, even by
// SIGKILL). Returns the descriptor, or -1 with the error set.
static int lock_dir(const char *dir) {
    char path[TRAIN_PATH_MAX];
    if (train_join(path, sizeof path, dir, "train.lock") != SILT_OK) return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) { SILT_FAIL(SILT_ERR_IO, "cannot open %s: %s", path, strerror(errno)); return -1; }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK) SILT_FAIL(SILT_ERR_IO, "another run is training in %s (%s is locked)", dir, path);
        else SILT_FAIL(SILT_ERR_IO, "cannot lock %s: %s", path, strerror(e));
        return -1;
    }
    return fd;
}

// --- device runs ------------------------------------------------------------------

// Moves the run to the GPU after any resume (the host state is complete then):
// host shadows of the parameters take the checkpoint role, the task moves its
// model in place, and the parameters get device grads, the device optimiser
// (moments and step count copied from the host one) and device EMA buffers.
static silt_status device_setup(train_state *s) {
    silt_train_task *task = s->task;
    if (!silt_cuda_available())
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "train --device cuda: no usable CUDA GPU (%s)",
                         silt_cuda_built() ? "see the log line above" : "silt was built without CUDA");
    if (!task->to_device)
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "train --device cuda: the %s task has no device path (use --device cpu)",
                         task->name ? task->name : "?");
    const int n = s->n;
    s->dev_params = calloc((size_t)n, sizeof *s->dev_params);
    silt_tensor **host = calloc((size_t)n, sizeof *host);
    if (!s->dev_params || !host) { free(host); return SILT_FAIL(SILT_ERR_OOM, "train: out of memory"); }
    silt_status st = SILT_OK;
    for (int i = 0; i < n && !st; i++) {
        const silt_tensor *t = s->params[i];
        host[i] = silt_tensor_create_f32(t->ndim, t->shape, false);
        if (!host[i]) st = SILT_FAIL(SILT_ERR_OOM, "train: out of memory for host copies");
        else memcpy(host[i]->data, t->data, silt_nbytes(t));
    }
    if (!st) st = task->to_device(task->self, SILT_CUDA);
    if (st) {
        for (int i = 0; i < n; i++) silt_tensor_free(host[i]);
        free(host);
        return st;
    }
    // From here on the state is a device run (state_free frees the shadows).
    for (int i = 0; i < n; i++) {
        s->dev_params[i] = s->params[i];
        s->params[i] = host[i];
    }
    free(host);
    s->on_device = true;
    for (int i = 0; i < n; i++) {
        silt_tensor *t = s->dev_params[i];
        if (t->device != SILT_CUDA || t->dtype != SILT_F32)
            return SILT_FAIL(SILT_ERR_ARG, "train: the task left parameter %s on %s", s->names[i],
                             silt_device_name(t->device));
        // The task's free (silt_tensor_free_cuda) releases data and grad.
        size_t bytes = silt_nbytes(t) ? silt_nbytes(t) : sizeof(float);
        void *gbuf = NULL;
        SILT_TRY(silt_cuda_malloc(&gbuf, bytes));
        t->grad = gbuf;
        t->requires_grad = true;
        SILT_TRY(silt_cuda_memset(gbuf, 0, bytes));
    }
    s->dev_opt = silt_adamw_create(s->dev_params, s->no_decay, n, silt_adamw_get_params(s->opt));
    if (!s->dev_opt) return SILT_FAIL(SILT_ERR_ARG, "train: %s", silt_last_error_message());
    SILT_TRY(silt_adamw_set_step_count(s->dev_opt, silt_adamw_step_count(s->opt)));
    for (int i = 0; i < n; i++) {
        float *hm, *hv, *dm, *dv;
        size_t bytes = silt_nbytes(s->params[i]);
        SILT_TRY(silt_adamw_state(s->opt, i, &hm, &hv));
        SILT_TRY(silt_adamw_state(s->dev_opt, i, &dm, &dv));
        SILT_TRY(silt_cuda_memcpy_h2d(dm, hm, bytes));
        SILT_TRY(silt_cuda_memcpy_h2d(dv, hv, bytes));
    }
    if (s->ema) {
        s->dev_ema = calloc((size_t)n, sizeof *s->dev_ema);
        if (!s->dev_ema) return SILT_FAIL(SILT_ERR_OOM, "train: out of memory");
        for (int i = 0; i < n; i++) {
            size_t bytes = silt_nbytes(s->params[i]);
            void *e = NULL;
            SILT_TRY(silt_cuda_malloc(&e, bytes ? bytes : sizeof(float)));
            s->dev_ema[i] = e;
            SILT_TRY(silt_cuda_memcpy_h2d(e, s->ema[i], bytes));
        }
    }
    return SILT_OK;
}

// Device state -> the host copies checkpoints are written from (weights,
// moments, step count and EMA, all bit for bit).
static silt_status sync_to_host(train_state *s) {
    if (!s->on_device) return SILT_OK;
    for (int i = 0; i < s->n; i++) {
        size_t bytes = silt_nbytes(s->params[i]);
        float *hm, *hv, *dm, *dv;
        SILT_TRY(silt_cuda_memcpy_d2h(s->params[i]->data, s->dev_params[i]->data, bytes));
        SILT_TRY(silt_adamw_state(s->opt, i, &hm, &hv));
        SILT_TRY(silt_adamw_state(s->dev_opt, i, &dm, &dv));
        SILT_TRY(silt_cuda_memcpy_d2h(hm, dm, bytes));
        SILT_TRY(silt_cuda_memcpy_d2h(hv, dv, bytes));
        if (s->ema) SILT_TRY(silt_cuda_memcpy_d2h(s->ema[i], s->dev_ema[i], bytes));
    }
    return silt_adamw_set_step_count(s->opt, silt_adamw_step_count(s->dev_opt));
}

static silt_status ckpt_write(train_state *s, int64_t step) {
    SILT_TRY(sync_to_host(s));
    return train_ckpt_write(s, step);
}

// --- the loop ---------------------------------------------------------------------

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !g_stop_signal) {}
}

// The device lists of the step's multi-tensor launches: every parameter's
// grad (zeroed before the micro-batches) and, with EMA, its EMA buffer
// beside the weights. Uploaded once; later steps only compare.
static silt_status device_lists(train_state *s) {
    if (!s->multi_entries && !(s->multi_entries = calloc((size_t)(2 * s->n + 1), sizeof *s->multi_entries)))
        return SILT_FAIL(SILT_ERR_OOM, "train: out of memory");
    silt_multi_entry *z = s->multi_entries, *e = s->multi_entries + s->n;
    int nz = 0;
    for (int i = 0; i < s->n; i++) {
        silt_tensor *t = s->dev_params[i];
        if (t->grad) z[nz++] = (silt_multi_entry){.a = t->grad, .n = silt_numel(t)};
        if (s->dev_ema) e[i] = (silt_multi_entry){.a = s->dev_ema[i], .d = silt_f32(t), .n = silt_numel(t)};
    }
    SILT_TRY(silt_multi_list_set(&s->zero_list, z, nz));
    return s->dev_ema ? silt_multi_list_set(&s->ema_list, e, s->n) : SILT_OK;
}

typedef struct step_result {
    double loss;
    float grad_norm;
} step_result;

// One optimiser update: K micro-batches, clip, AdamW, EMA. `step` is 0-based.
// On a NaN/Inf the update is not applied (the optimiser has not run).
static silt_status train_step(train_state *s, silt_graph *g, int64_t step, step_result *r) {
    const silt_train_params *p = s->p;
    silt_train_task *task = s->task;
    silt_tensor **params = s->on_device ? s->dev_params : s->params;
    if (s->on_device) {
        SILT_TRY(device_lists(s));
        SILT_TRY(zero_multi_cuda(s->zero_list));
    } else {
        for (int i = 0; i < s->n; i++) silt_tensor_zero_grad(params[i]);
    }
    // The loss is the mean over the K*B samples of the update: each
    // micro-batch mean is scaled by 1/K through the backward seed.
    const float seed = 1.0f / (float)p->grad_accum;
    double loss_sum = 0;
    for (int k = 0; k < p->grad_accum; k++) {
        int64_t bi = step * p->grad_accum + k;
        silt_graph_reset(g);
        silt_tensor *loss = task->loss(task->self, g, p->data_seed, bi, p->batch_size);
        if (!loss) {
            silt_status st = silt_graph_status(g);
            return SILT_FAIL(st != SILT_OK ? st : SILT_ERR_ARG, "step %lld: loss of micro-batch %lld failed: %s",
                             (long long)step + 1, (long long)bi, st != SILT_OK ? silt_last_error_message() : "NULL");
        }
        if (loss->dtype != SILT_F32 || silt_numel(loss) != 1 || !loss->requires_grad)
            return SILT_FAIL(SILT_ERR_ARG, "step %lld: the loss must be one f32 element that requires grad",
                             (long long)step + 1);
        float lv = NAN;
        if (loss->device == SILT_CUDA) {
            silt_status cs = silt_cuda_memcpy_d2h(&lv, loss->data, sizeof lv);
            if (cs != SILT_OK) return SILT_FAIL(cs, "step %lld: %s", (long long)step + 1, silt_last_error_message());
        } else {
            lv = silt_f32(loss)[0];
        }
        if (!isfinite(lv))
            return SILT_FAIL(SILT_ERR_NUMERIC, "step %lld: loss is %g (micro-batch %lld); stopped before the update",
                             (long long)step + 1, lv, (long long)bi);
        loss_sum += lv;
        silt_status st = silt_backward(g, loss, &seed);
        if (st != SILT_OK)
            return SILT_FAIL(st, "step %lld: backward failed: %s", (long long)step + 1, silt_last_error_message());
    }
    float gn = silt_grad_clip_norm(params, s->n, (float)p->grad_clip);
    if (!isfinite(gn))
        return SILT_FAIL(SILT_ERR_NUMERIC, "step %lld: gradient norm is %g (loss %g); stopped before the update",
                         (long long)step + 1, gn, loss_sum / p->grad_accum);
    SILT_TRY(silt_adamw_step(s->on_device ? s->dev_opt : s->opt, (float)silt_train_lr(p, step)));
    const double ema_d = silt_train_ema_decay_at(p, step);
    if (s->ema && s->on_device) {
        SILT_TRY(ema_multi_cuda(s->ema_list, (float)(1.0 - ema_d)));  // w as silt_train_ema_update's
    } else if (s->ema) {
        for (int i = 0; i < s->n; i++)
            silt_train_ema_update(s->ema[i], silt_f32(s->params[i]), silt_numel(s->params[i]), ema_d);
    }
    r->loss = loss_sum / p->grad_accum;
    r->grad_norm = gn;
    return SILT_OK;
}

static silt_status csv_row(FILE *f, int64_t step, const step_result *r, double lr, double ips, double elapsed) {
    fprintf(f, "%lld,%.9g,%.9g,%.9g,%.1f,%.3f\n", (long long)step, r->loss, lr, (double)r->grad_norm, ips, elapsed);
    if (fflush(f) != 0 || ferror(f))
        return SILT_FAIL(SILT_ERR_IO, "cannot write %s: %s", TRAIN_CSV_NAME, strerror(errno));
    return SILT_OK;
}

silt_status silt_train_run(const silt_train_params *p, silt_train_task *task, const char *resume_path,
                           silt_progress *progress) {
    SILT_TRY(silt_train_params_check(p));
    train_state s;
    silt_status st = state_init(&s, p, task);
    silt_graph *g = NULL;
    FILE *csv = NULL;
    saved_signals sig = {0};
    char label[96] = "train", ckpt[TRAIN_PATH_MAX];
    bool progress_on = false, cancelled = false;
    int64_t start = 0;
    int lock_fd = -1;
    if (st != SILT_OK) goto done;
    if ((st = mkdir_p(p->out_dir)) != SILT_OK) goto done;
    if ((lock_fd = lock_dir(p->out_dir)) < 0) { st = SILT_ERR_IO; goto done; }
    train_remove_stale_tmp(p->out_dir);

    if ((st = resolve_resume(p, resume_path, ckpt, sizeof ckpt)) != SILT_OK) goto done;
    if (ckpt[0]) {
        if ((st = train_ckpt_read(&s, ckpt, &start)) != SILT_OK) goto done;
        if (start > p->steps) {
            st = SILT_FAIL(SILT_ERR_ARG, "%s is at step %lld, past the run's %lld steps", ckpt, (long long)start,
                           (long long)p->steps);
            goto done;
        }
        silt_info("resuming from %s at step %lld of %lld", ckpt, (long long)start, (long long)p->steps);
    } else if (p->init_path) {
        char init[TRAIN_PATH_MAX];
        int64_t from = 0;
        if ((st = silt_train_resolve_path(p->init_path, init, sizeof init, "--init")) != SILT_OK) goto done;
        if ((st = train_ckpt_init(&s, init, &from)) != SILT_OK) goto done;
        if (from >= 0) silt_info("starting from the weights of %s (step %lld)", init, (long long)from);
        else silt_info("starting from the weights of the model file %s", init);
    }
    if (p->device == SILT_CUDA && (st = device_setup(&s)) != SILT_OK) goto done;
    if ((st = train_csv_open(p->out_dir, start, &csv)) != SILT_OK) goto done;
    g = s.on_device ? silt_graph_create_on(SILT_CUDA, 0) : silt_graph_create(0);
    if (!g) {
        st = s.on_device ? SILT_FAIL(SILT_ERR_OOM, "train: device graph: %s", silt_last_error_message())
                         : SILT_FAIL(SILT_ERR_OOM, "train: out of memory for the graph");
        goto done;
    }
    if (p->handle_signals) signals_install(&sig);
    if (progress) {
        silt_progress_begin(progress, label, p->steps - start);
        progress_on = true;
    }

    const double t_begin = silt_time_now();
    double t_last_row = t_begin;
    int64_t last_row_step = start;
    const double ipb = task->images_per_batch ? task->images_per_batch(task->self, p->batch_size) : p->batch_size;
    for (int64_t step = start; step < p->steps; step++) {
        step_result r = {0, 0};
        if ((st = train_step(&s, g, step, &r)) != SILT_OK) goto done;
        if (p->step_delay_ms > 0) sleep_ms(p->step_delay_ms);
        const int64_t done_steps = step + 1;
        cancelled = g_stop_signal != 0;
        if (done_steps % p->log_every == 0 || done_steps == p->steps) {
            double now = silt_time_now(), dt = now - t_last_row;
            double ips = dt > 0 ? ipb * p->grad_accum * (double)(done_steps - last_row_step) / dt : 0;
            double lr = silt_train_lr(p, step);
            if ((st = csv_row(csv, done_steps, &r, lr, ips, now - t_begin)) != SILT_OK) goto done;
            t_last_row = now;
            last_row_step = done_steps;
            snprintf(label, sizeof label, "train loss %.4g", r.loss);
            if (!progress || !progress->enabled)
                silt_info("step %lld/%lld  loss %.5g  lr %.3g  grad_norm %.3g  %.1f img/s", (long long)done_steps,
                          (long long)p->steps, r.loss, lr, (double)r.grad_norm, ips);
        }
        if (progress) silt_progress_step(progress, 1);
        if ((p->ckpt_every > 0 && done_steps % p->ckpt_every == 0) || done_steps == p->steps || cancelled) {
            // The CSV reaches the disk first, so after a crash it holds every row
            // up to the newest checkpoint (later rows are cut on resume).
            if (fsync(fileno(csv)) != 0 && errno != EINVAL && errno != EROFS) {
                st = SILT_FAIL(SILT_ERR_IO, "cannot sync %s: %s", TRAIN_CSV_NAME, strerror(errno));
                goto done;
            }
            if ((st = ckpt_write(&s, done_steps)) != SILT_OK) goto done;
        }
        if (cancelled && done_steps < p->steps) {
            st = SILT_FAIL(SILT_ERR_CANCELLED, "interrupted (signal %d) after step %lld of %lld; checkpoint written",
                           (int)g_stop_signal, (long long)done_steps, (long long)p->steps);
            goto done;
        }
    }
    if (start == p->steps) st = ckpt_write(&s, start);  // nothing left: re-save (a round trip)

done:
    if (progress_on) {
        silt_progress_end(progress);
        progress->label = "train";  // `label` is about to go out of scope
    }
    signals_restore(&sig);
    if (csv && fclose(csv) != 0 && st == SILT_OK) st = SILT_FAIL(SILT_ERR_IO, "cannot close %s", TRAIN_CSV_NAME);
    silt_graph_free(g);
    state_free(&s);
    if (lock_fd >= 0) close(lock_fd);
    return st;
}
