// The toy training task (see train_arch.h): an MLP student regressing a fixed
// random teacher on Philox inputs. Small and fast, so the trainer's tests can
// run many steps; every sample is a pure function of (data_seed, its index).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "core/rng.h"
#include "gen/lib/train_arch.h"

// The teacher is the same for every run and seed: it defines the task.
#define TOY_TEACHER_SEED 0x7EAC4E5EEDull
// Student initial weights: a key apart from data seeds, stream = param index.
#define TOY_INIT_KEY 0x5EED1A171A11ull

enum { TOY_W1, TOY_B1, TOY_W2, TOY_B2, TOY_NPARAMS };
static const char *const toy_names[TOY_NPARAMS] = {"net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"};

typedef struct toy {
    silt_train_toy_config c;
    silt_tensor *p[TOY_NPARAMS];
    float *tw1, *tb1, *tw2, *tb2;  // teacher: (th, in), (th), (out, th), (out)
} toy;

silt_train_toy_config silt_train_toy_default_config(void) {
    silt_train_toy_config c = {.in_dim = 16, .hidden = 64, .out_dim = 8, .teacher_hidden = 32};
    return c;
}

static void toy_destroy(void *self) {
    toy *t = self;
    if (!t) return;
    for (int i = 0; i < TOY_NPARAMS; i++) silt_tensor_free(t->p[i]);
    free(t->tw1);
    free(t->tb1);
    free(t->tw2);
    free(t->tb2);
    free(t);
}

static int toy_n_params(void *self) {
    (void)self;
    return TOY_NPARAMS;
}

static silt_tensor *toy_param(void *self, int i, const char **name, bool *no_decay) {
    toy *t = self;
    if (i < 0 || i >= TOY_NPARAMS) return NULL;
    *name = toy_names[i];
    *no_decay = i == TOY_B1 || i == TOY_B2;
    return t->p[i];
}

static double toy_images(void *self, int batch_size) {
    (void)self;
    return batch_size;
}

// y (out) = W2 tanh(W1 x + b1) + b2, in double; x: (in)
static void teacher(const toy *t, const float *x, float *y) {
    const silt_train_toy_config *c = &t->c;
    double h[256];
    for (int k = 0; k < c->teacher_hidden; k++) {
        double a = t->tb1[k];
        for (int d = 0; d < c->in_dim; d++) a += (double)t->tw1[k * c->in_dim + d] * x[d];
        h[k] = tanh(a);
    }
    for (int o = 0; o < c->out_dim; o++) {
        double a = t->tb2[o];
        for (int k = 0; k < c->teacher_hidden; k++) a += (double)t->tw2[o * c->teacher_hidden + k] * h[k];
        y[o] = (float)a;
    }
}

static silt_tensor *toy_loss(void *self, silt_graph *g, uint64_t data_seed, int64_t batch_index, int batch_size) {
    toy *t = self;
    const silt_train_toy_config *c = &t->c;
    if (batch_index < 0 || batch_size < 1) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "toy: batch %lld of size %d", (long long)batch_index, batch_size));
        return NULL;
    }
    silt_tensor *x = silt_graph_new(g, batch_size, c->in_dim, 0, 0);
    silt_tensor *y = silt_graph_new(g, batch_size, c->out_dim, 0, 0);
    if (!x || !y) return NULL;
    for (int i = 0; i < batch_size; i++) {
        uint64_t j = (uint64_t)batch_index * (uint64_t)batch_size + (uint64_t)i;  // global sample index
        float *xi = silt_f32(x) + (size_t)i * c->in_dim;
        silt_rng_normal(xi, c->in_dim, data_seed, j, 0);
        teacher(t, xi, silt_f32(y) + (size_t)i * c->out_dim);
    }
    silt_tensor *h = silt_tanh(g, silt_linear(g, x, t->p[TOY_W1], t->p[TOY_B1]));
    return silt_mse_loss(g, silt_linear(g, h, t->p[TOY_W2], t->p[TOY_B2]), y);
}

static float *normal_buf(int64_t n, uint64_t seed, uint64_t stream, double scale) {
    float *b = malloc((size_t)n * sizeof *b);
    if (!b) return NULL;
    silt_rng_normal(b, n, seed, stream, 0);
    for (int64_t i = 0; i < n; i++) b[i] = (float)(b[i] * scale);
    return b;
}

silt_status silt_train_toy_create(const silt_train_toy_config *cfg, uint64_t init_seed, silt_train_task *out) {
    if (!cfg || !out) return SILT_FAIL(SILT_ERR_ARG, "toy: NULL argument");
    silt_train_toy_config c = *cfg;
    if (c.in_dim < 1 || c.hidden < 1 || c.out_dim < 1 || c.teacher_hidden < 1 || c.teacher_hidden > 256 ||
        c.in_dim > 4096 || c.hidden > 4096 || c.out_dim > 4096)
        return SILT_FAIL(SILT_ERR_ARG, "toy: sizes in %d hidden %d out %d teacher %d (1..4096, teacher <= 256)",
                         c.in_dim, c.hidden, c.out_dim, c.teacher_hidden);
    toy *t = calloc(1, sizeof *t);
    if (!t) return SILT_FAIL(SILT_ERR_OOM, "toy: out of memory");
    t->c = c;
    const int64_t shapes[TOY_NPARAMS][2] = {{c.hidden, c.in_dim}, {c.hidden, 0}, {c.out_dim, c.hidden}, {c.out_dim, 0}};
    for (int i = 0; i < TOY_NPARAMS; i++) {
        t->p[i] = silt_tensor_create_f32(shapes[i][1] ? 2 : 1, shapes[i], true);
        if (!t->p[i]) { toy_destroy(t); return SILT_FAIL(SILT_ERR_OOM, "toy: out of memory"); }
    }
    // Weights ~ N(0, 1/fan_in) (LeCun init, suits tanh); biases start at zero.
    uint64_t key = init_seed ^ TOY_INIT_KEY;
    float *w1 = normal_buf(c.hidden * (int64_t)c.in_dim, key, TOY_W1, 1.0 / sqrt(c.in_dim));
    float *w2 = normal_buf(c.out_dim * (int64_t)c.hidden, key, TOY_W2, 1.0 / sqrt(c.hidden));
    // Teacher: gain 2 on the first layer so tanh bends the function.
    t->tw1 = normal_buf(c.teacher_hidden * (int64_t)c.in_dim, TOY_TEACHER_SEED, 0, 2.0 / sqrt(c.in_dim));
    t->tb1 = normal_buf(c.teacher_hidden, TOY_TEACHER_SEED, 1, 0.5);
    t->tw2 = normal_buf(c.out_dim * (int64_t)c.teacher_hidden, TOY_TEACHER_SEED, 2, 1.0 / sqrt(c.teacher_hidden));
    t->tb2 = normal_buf(c.out_dim, TOY_TEACHER_SEED, 3, 0.5);
    if (!w1 || !w2 || !t->tw1 || !t->tb1 || !t->tw2 || !t->tb2) {
        free(w1);
        free(w2);
        toy_destroy(t);
        return SILT_FAIL(SILT_ERR_OOM, "toy: out of memory");
    }
    memcpy(t->p[TOY_W1]->data, w1, silt_nbytes(t->p[TOY_W1]));
    memcpy(t->p[TOY_W2]->data, w2, silt_nbytes(t->p[TOY_W2]));
    free(w1);
    free(w2);
    silt_train_task task = {.self = t, .n_params = toy_n_params, .param = toy_param, .loss = toy_loss,
                            .images_per_batch = toy_images, .name = "toy", .destroy = toy_destroy};
    *out = task;
    return SILT_OK;
}
