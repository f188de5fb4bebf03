// Shared between train.c (the loop) and train_ckpt.c (checkpoints, the
// `latest` pointer, the CSV log). Not a public header.
#ifndef SILT_TRAIN_PRIVATE_H
#define SILT_TRAIN_PRIVATE_H

#include <stdio.h>

#include "core/optim.h"
#include "cuda/cuda.h"
#include "gen/lib/train.h"

#define TRAIN_CKPT_FORMAT "silt-train-checkpoint"
#define TRAIN_CKPT_VERSION "1"
#define TRAIN_CSV_NAME "train_log.csv"
#define TRAIN_CSV_HEADER "step,loss,lr,grad_norm,images_per_s,elapsed_s\n"
#define TRAIN_PATH_MAX 4096

typedef struct train_state {
    const silt_train_params *p;
    silt_train_task *task;
    int n;
    silt_tensor **params;  // borrowed from the task
    const char **names;    // borrowed from the task
    bool *no_decay;
    float **ema;           // n buffers, or NULL when EMA is off
    silt_adamw *opt;
    char *params_json;     // the hyperparameters that change the numbers
    // Device runs (p->device == SILT_CUDA): params/opt/ema above are host
    // copies (owned shadows of the parameters) that checkpoints read and
    // write; the run uses these device ones, and train_sync_to_host copies
    // them back before a checkpoint.
    bool on_device;
    silt_tensor **dev_params;  // the task's parameter headers, moved to the device
    silt_adamw *dev_opt;
    float **dev_ema;           // device buffers, or NULL when EMA is off
    silt_multi_list *zero_list, *ema_list;  // device runs: zero-grad and EMA in one launch each,
    silt_multi_entry *multi_entries;        // from these 2 n host entries (allocated once)
} train_state;

// Writes OUT/checkpoint_<step>.safetensors, then OUT/latest, then deletes all
// but the newest keep_last checkpoints at or below `step`.
silt_status train_ckpt_write(train_state *s, int64_t step);
// Loads a checkpoint into the parameters, EMA and optimiser; validates the
// whole file first, so on failure nothing has changed. *step: updates done.
silt_status train_ckpt_read(train_state *s, const char *path, int64_t *step);
// Starts a fresh run's weights (and EMA) from a checkpoint of the same arch and
// config (its EMA weights when it has them, else its weights), or from a model
// file that holds every parameter under its name and shape (F32, F16 or BF16:
// an export); the optimiser starts fresh. Validates first, so on failure
// nothing has changed. *from_step: the checkpoint's step, -1 for a model file.
silt_status train_ckpt_init(train_state *s, const char *path, int64_t *from_step);

// Opens OUT/train_log.csv for appending: a fresh file with the header when
// start_step is 0, else the existing file cut back to the rows with
// step <= start_step (incomplete last lines dropped).
silt_status train_csv_open(const char *dir, int64_t start_step, FILE **out);
// Removes temporary files a killed run may have left in dir (names of ours
// with ".tmp." in them).
void train_remove_stale_tmp(const char *dir);
// "dir/name" into buf; SILT_ERR_ARG when it does not fit.
silt_status train_join(char *buf, size_t n, const char *dir, const char *name);
bool train_file_exists(const char *path);

#endif
