// bench/mmdit_sizing: which world-MMDiT config learns most in a fixed wall
// time. Trains one config (the `gen train --arch mmdit` task, AdamW, linear
// warmup then a constant rate, gradient clip 1, no EMA) for a wall-clock
// budget and prints the held-out flow loss every eval period: the mean loss
// of `eval` fixed batches (data seed 12345, so every config sees the same
// samples, timesteps and noise). Run several configs side by side with the
// same thread count to compare them at equal time.
//
//   bench_mmdit_sizing CLIP CONFIG [--seconds S] [--batch B] [--lr X] [--warmup N] [--eval-every S]
//                      [--eval N] [--cpu]
//   CONFIG = patch:hidden:heads:depth
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/graph.h"
#include "core/log.h"
#include "core/optim.h"
#include "gen/lib/train_arch.h"

// --cpu: budgets in process CPU seconds (all threads) instead of wall time,
// for comparisons on a machine shared with other work.
static bool use_cpu;

static double now(void) {
    if (!use_cpu) return silt_time_now();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double eval_loss(silt_train_task *t, silt_graph *g, int B, int n) {
    double s = 0;
    silt_graph_set_grad(g, false);
    for (int k = 0; k < n; k++) {
        silt_graph_reset(g);
        silt_graph_set_grad(g, false);
        silt_tensor *L = t->loss(t->self, g, 12345, k, B);
        s += L ? silt_f32(L)[0] : 1e9;
    }
    silt_graph_reset(g);
    silt_graph_set_grad(g, true);
    return s / n;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s CLIP patch:hidden:heads:depth [--seconds S] [--batch B] [--lr X] "
                        "[--eval-every S] [--eval N]\n", argv[0]);
        return 2;
    }
    double seconds = 300, lr = 1e-3, every = 60;
    int B = 32, n_eval = 8, warmup = 100;
    for (int a = 3; a < argc; a += 2) {
        if (!strcmp(argv[a], "--cpu")) { use_cpu = true; a--; continue; }
        if (a + 1 >= argc) { fprintf(stderr, "%s needs a value\n", argv[a]); return 2; }
        if (!strcmp(argv[a], "--seconds")) seconds = atof(argv[a + 1]);
        else if (!strcmp(argv[a], "--batch")) B = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "--lr")) lr = atof(argv[a + 1]);
        else if (!strcmp(argv[a], "--eval-every")) every = atof(argv[a + 1]);
        else if (!strcmp(argv[a], "--eval")) n_eval = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "--warmup")) warmup = atoi(argv[a + 1]);
        else { fprintf(stderr, "unknown %s\n", argv[a]); return 2; }
    }
    int p, D, H, L;
    if (sscanf(argv[2], "%d:%d:%d:%d", &p, &D, &H, &L) != 4 || H < 1 || D % H) {
        fprintf(stderr, "bad config %s\n", argv[2]);
        return 2;
    }
    silt_log_set_level(SILT_LOG_WARN);
    mmdit_config c = {.depth = L, .heads = H, .head_dim = D / H, .hidden = D, .patch = p, .in_channels = 3,
                      .out_channels = 3, .pos_max = SILT_TRAIN_MMDIT_IMAGE / p, .qk_norm = true};
    silt_train_task t;
    if (silt_train_mmdit_create_config(argv[1], &c, 1, &t)) {
        fprintf(stderr, "%s: %s\n", argv[2], silt_last_error());
        return 1;
    }
    int n = t.n_params(t.self);
    silt_tensor **params = malloc(sizeof *params * (size_t)n);
    bool *nd = malloc(sizeof *nd * (size_t)n);
    for (int i = 0; i < n; i++) params[i] = t.param(t.self, i, NULL, &nd[i]);
    silt_adamw *opt = silt_adamw_create(params, nd, n, silt_adamw_default_params());
    silt_graph *g = silt_graph_create(0);
    double t0 = now(), next = every, eval_time = 0, run_loss = 0;
    int run_n = 0;
    printf("config %s batch %d lr %g: elapsed_s train_s step train_loss eval_loss\n", argv[2], B, lr);
    printf("%s %.0f %.0f %d %.4f %.4f\n", argv[2], 0.0, 0.0, 0, 0.0, eval_loss(&t, g, B, n_eval));
    eval_time = now() - t0;
    for (int step = 0;; step++) {
        double train_s = now() - t0 - eval_time;
        if (train_s >= next || train_s >= seconds) {
            double e0 = now(), el = eval_loss(&t, g, B, n_eval);
            eval_time += now() - e0;
            printf("%s %.0f %.0f %d %.4f %.4f\n", argv[2], now() - t0, train_s, step,
                   run_n ? run_loss / run_n : 0.0, el);
            fflush(stdout);
            run_loss = 0, run_n = 0;
            next += every;
            if (train_s >= seconds) break;
        }
        for (int i = 0; i < n; i++) silt_tensor_zero_grad(params[i]);
        silt_graph_reset(g);
        silt_tensor *loss = t.loss(t.self, g, 0, step, B);
        if (!loss || silt_backward(g, loss, NULL)) {
            fprintf(stderr, "step failed: %s\n", silt_last_error());
            return 1;
        }
        run_loss += silt_f32(loss)[0], run_n++;
        silt_grad_clip_norm(params, n, 1.0f);
        silt_adamw_step(opt, (float)(step < warmup ? lr * (step + 1) / warmup : lr));
    }
    silt_graph_free(g);
    silt_adamw_free(opt);
    free(params);
    free(nd);
    silt_train_task_free(&t);
    return 0;
}
