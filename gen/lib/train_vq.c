// The world VAR tokenizer's training task and export (see train_arch.h):
// var_vq_train_loss on 32 px world renders.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "core/ops.h"
#include "gen/lib/train_arch.h"
#include "world/render.h"
#include "world/suites.h"

typedef struct vq_task {
    var_vqvae *vq;
    char config[1024];
} vq_task;

silt_status silt_train_vq_preset(const char *size, var_vq_config *out) {
    if (!out) return SILT_FAIL(SILT_ERR_ARG, "vq preset: NULL out");
    if (!size) size = "default";
    var_vq_config c = var_vq_world_config();
    if (!strcmp(size, "tiny")) {  // CLI tests
        c.ch = 8, c.groups = 4, c.vocab_size = 64, c.z_channels = 8;
    } else if (!strcmp(size, "small")) {
        c.ch = 16, c.vocab_size = 256;
    } else if (strcmp(size, "default")) {
        return SILT_FAIL(SILT_ERR_ARG, "vq: unknown size '%s' (known: tiny|small|default)", size);
    }
    *out = c;
    return var_vq_config_check(&c);
}

static void task_destroy(void *self) {
    vq_task *t = self;
    if (!t) return;
    var_vq_free(t->vq);
    free(t);
}

static int task_n_params(void *self) { return var_vq_param_count(((vq_task *)self)->vq); }

static silt_tensor *task_param(void *self, int i, const char **name, bool *no_decay) {
    silt_tensor *t = var_vq_param(((vq_task *)self)->vq, i, name);
    if (t) *no_decay = var_vq_param_no_decay(*name, t);
    return t;
}

static silt_status task_to_device(void *self, silt_device device) {
    return var_vq_to_device(((vq_task *)self)->vq, device);
}

static silt_tensor *task_loss(void *self, silt_graph *g, uint64_t data_seed, int64_t batch_index, int B) {
    vq_task *t = self;
    const int S = SILT_TRAIN_VQ_IMAGE;
    const int64_t npix = 3 * (int64_t)S * S;
    if (batch_index < 0 || B < 1) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "vq: batch %lld of size %d", (long long)batch_index, B));
        return NULL;
    }
    // The batch is built in host memory (the graph's host arena), then put on
    // the graph's device (a copy on a CPU graph: the same numbers).
    float *hx = silt_arena_alloc(silt_graph_arena(g), (size_t)(B * npix) * sizeof *hx);
    if (!hx) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_OOM, "vq: out of memory for a batch"));
        return NULL;
    }
    silt_status rs = silt_train_render_batch(data_seed, batch_index * B, B, S, hx, NULL);
    if (rs) { silt_graph_fail(g, rs); return NULL; }
    silt_tensor *img = silt_graph_upload(g, SILT_F32, 4, (const int64_t[]){B, 3, S, S}, hx);
    if (!img) return NULL;
    // Dead-code restarts every SILT_TRAIN_VQ_RESTART_EVERY micro-batches
    // (batch 0 included: a data-dependent codebook init) until
    // SILT_TRAIN_VQ_RESTART_UNTIL, then the codebook settles. On a device run
    // they run on the device too, the new codebook rows written through a
    // host copy (var_vq_restart_dead_codes); a pure function of the weights
    // and (data_seed, batch_index), so a resume repeats them.
    if (batch_index % SILT_TRAIN_VQ_RESTART_EVERY == 0 && batch_index <= SILT_TRAIN_VQ_RESTART_UNTIL) {
        int n = 0;
        silt_status s = var_vq_restart_dead_codes(t->vq, img, data_seed ^ (uint64_t)batch_index, &n);
        if (s) { silt_graph_fail(g, s); return NULL; }
        if (n) silt_info("vq: batch %lld: restarted %d dead codes", (long long)batch_index, n);
    }
    var_vq_loss_stats st;
    silt_tensor *loss = var_vq_train_loss(g, t->vq, img, SILT_TRAIN_VQ_BETA, &st);
    // Codebook health is not in the CSV (one loss column): log it now and then.
    if (loss && batch_index % 250 == 0)
        silt_info("vq: batch %lld: reconstruction %.5f, vq %.5f, %d of %d codes used", (long long)batch_index, st.rec,
                  st.vq, st.codes_used, var_vq_get_config(t->vq)->vocab_size);
    return loss;
}

silt_status silt_train_vq_create(const char *size, uint64_t init_seed, silt_train_task *out) {
    if (!out) return SILT_FAIL(SILT_ERR_ARG, "vq: NULL out");
    var_vq_config c;
    SILT_TRY(silt_train_vq_preset(size, &c));
    vq_task *t = calloc(1, sizeof *t);
    if (!t) return SILT_FAIL(SILT_ERR_OOM, "vq: out of memory");
    silt_status s = var_vq_create(&c, init_seed, &t->vq);
    if (!s && var_vq_config_json(&c, t->config, sizeof t->config) >= (int)sizeof t->config)
        s = SILT_FAIL(SILT_ERR_ARG, "vq: config JSON too long");
    if (s) { task_destroy(t); return s; }
    silt_info("vq: %s tokenizer, codebook %d x %d, %d parameter tensors", size ? size : "default", c.vocab_size,
              c.z_channels, var_vq_param_count(t->vq));
    *out = (silt_train_task){.self = t, .n_params = task_n_params, .param = task_param, .loss = task_loss,
                             .images_per_batch = NULL, .name = "vq", .config = t->config, .destroy = task_destroy,
                             .to_device = task_to_device};
    return SILT_OK;
}

silt_status silt_train_vq_export(const char *ckpt_or_dir, const char *out_path) {
    if (!ckpt_or_dir || !out_path) return SILT_FAIL(SILT_ERR_ARG, "vq export: NULL argument");
    char path[4096];
    silt_safetensors *st = NULL;
    SILT_TRY(silt_train_open_checkpoint(ckpt_or_dir, "vq", path, sizeof path, &st));
    silt_status s = SILT_OK;
    var_vqvae *vq = NULL;
    if (!s) s = var_vq_load(st, &vq);
    if (!s) s = var_vq_save(vq, out_path);
    var_vq_free(vq);
    silt_safetensors_close(st);
    return s;
}
