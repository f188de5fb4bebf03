// The world-CLIP training task (see train_arch.h and text/world_clip.h): a
// micro-batch is B train-suite items world_suite_item(TRAIN, data_seed,
// batch_index * B + i), rendered at the model's image size in [-1, 1], with
// their captions; the loss is the symmetric InfoNCE over the batch. Every
// sample is a pure function of (data_seed, its global index), as the trainer's
// exact resume needs.
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "gen/lib/train_arch.h"
#include "text/world_clip.h"

static void clip_destroy(void *self) { wclip_free(self); }
static int clip_n_params(void *self) { return wclip_param_count(self); }
static silt_tensor *clip_param(void *self, int i, const char **name, bool *no_decay) {
    return wclip_param(self, i, name, no_decay);
}

static silt_tensor *clip_loss(void *self, silt_graph *g, uint64_t data_seed, int64_t batch_index, int batch_size) {
    wclip_model *m = self;
    const wclip_config *c = wclip_get_config(m);
    if (batch_index < 0 || batch_size < 2) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "clip: batch %lld of size %d (a contrastive batch needs >= 2)",
                                     (long long)batch_index, batch_size));
        return NULL;
    }
    int S = c->img_size, T = c->max_len;
    // The batch is built in host memory (the graph's host arena); the images
    // go to the graph's device (a copy on a CPU graph), the ids stay host
    // arrays (wclip_encode_text uploads them).
    silt_arena *ha = silt_graph_arena(g);
    float *hx = silt_arena_alloc(ha, (size_t)batch_size * 3 * S * S * sizeof *hx);
    int32_t *ids = silt_arena_alloc(ha, (size_t)batch_size * T * sizeof *ids);
    if (!hx || !ids) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_OOM, "clip: out of memory for a batch"));
        return NULL;
    }
    for (int i = 0; i < batch_size; i++) {
        world_item it;
        silt_status s = world_suite_item(WORLD_SUITE_TRAIN, data_seed, batch_index * batch_size + i, &it);
        if (!s) s = wclip_tokenize(m, it.caption, ids + (size_t)i * T);
        if (!s) s = wclip_render(m, &it.scene, hx + (size_t)i * 3 * S * S);
        if (s) { silt_graph_fail(g, s); return NULL; }
    }
    silt_tensor *img = silt_graph_upload(g, SILT_F32, 4, (const int64_t[]){batch_size, 3, S, S}, hx);
    if (!img) return NULL;
    silt_tensor *te = NULL;
    if (wclip_encode_text(g, m, ids, batch_size, NULL, &te)) return NULL;
    silt_tensor *ie = wclip_encode_image(g, m, img, NULL);
    return wclip_loss(g, m, ie, te);
}

// Device runs: every weight moves (the model is the task).
static silt_status clip_to_device(void *self, silt_device device) { return wclip_to_device(self, device); }

silt_status silt_train_clip_create(const wclip_config *c, uint64_t init_seed, silt_train_task *out) {
    if (!c || !out) return SILT_FAIL(SILT_ERR_ARG, "clip: NULL argument");
    wclip_model *m = NULL;
    silt_status s = wclip_create(c, init_seed, &m);
    if (s) return s;
    silt_train_task task = {.self = m, .n_params = clip_n_params, .param = clip_param, .loss = clip_loss,
                            .images_per_batch = NULL, .name = "clip", .destroy = clip_destroy,
                            .to_device = clip_to_device};
    *out = task;
    return SILT_OK;
}

silt_status silt_train_clip_export(const char *ckpt_or_dir, const char *out_path) {
    char path[4096];
    silt_safetensors *st = NULL;
    SILT_TRY(silt_train_open_checkpoint(ckpt_or_dir, "clip", path, sizeof path, &st));
    wclip_model *m = NULL;
    silt_status s = wclip_load(st, &m);
    silt_safetensors_close(st);
    if (!s) s = wclip_save(m, out_path);
    wclip_free(m);
    return s;
}
