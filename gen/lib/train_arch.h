// The architectures `gen train --arch NAME` can train. Each entry builds a
// silt_train_task with freshly initialised weights; adding a model is one
// line in the table (gen/lib/train_arch.c) plus its create function.
#ifndef SILT_TRAIN_ARCH_H
#define SILT_TRAIN_ARCH_H

#include <stdint.h>

#include "gen/lib/train.h"

typedef struct silt_train_arch {
    const char *name;     // "toy"
    const char *summary;  // one line for --help
    // Fills *out (free with silt_train_task_free); init_seed picks the initial
    // weights (irrelevant on resume, where the checkpoint overwrites them).
    silt_status (*create)(uint64_t init_seed, silt_train_task *out);
} silt_train_arch;

int silt_train_arch_count(void);
const silt_train_arch *silt_train_arch_at(int i);             // NULL when out of range
const silt_train_arch *silt_train_arch_find(const char *name);  // NULL when unknown
// "toy, clip, ..." into buf (for usage errors and --help); returns buf.
char *silt_train_arch_list(char *buf, size_t n);

// --- toy: a small MLP regression task ------------------------------------------
// Sample j of the run (j = batch_index * batch_size + i) has input x_j, in_dim
// standard normals from Philox stream j under data_seed, and target
// y_j = teacher(x_j), a fixed random tanh MLP (its weights come from a
// constant seed, so every run learns the same function). The student is
// Linear(in, hidden) -> tanh -> Linear(hidden, out), trained on the MSE.
// Because samples are indexed globally, K micro-batches of size B cover the
// same samples as one batch of size K*B.
typedef struct silt_train_toy_config {
    int in_dim, hidden, out_dim, teacher_hidden;
} silt_train_toy_config;

silt_train_toy_config silt_train_toy_default_config(void);  // 16 -> 64 -> 8, teacher hidden 32
// Parameters: net.0.weight (hidden, in), net.0.bias, net.2.weight (out, hidden),
// net.2.bias (biases exempt from weight decay).
silt_status silt_train_toy_create(const silt_train_toy_config *c, uint64_t init_seed, silt_train_task *out);

// --- clip: world-CLIP (text/world_clip.h) ----------------------------------------
// A micro-batch is B train-suite items (data_seed, batch_index * B + i),
// rendered at the model's image size in [-1, 1], with their tokenized
// captions; the loss is the symmetric InfoNCE. Parameters: wclip_param names.
// Batch size >= 2. `gen train --arch clip` uses wclip_default_config().
struct wclip_config;
silt_status silt_train_clip_create(const struct wclip_config *c, uint64_t init_seed, silt_train_task *out);

#endif
