// bench/mmdit_train: milliseconds per world-MMDiT training step (data,
// frozen CLIP text encoding, forward, backward, AdamW) for a list of model
// configs, to size `gen train --arch mmdit` for a time budget. Median of the
// steps after one warm-up step; also the share of the step spent in the loss
// (data + forward) against the backward. cpu_ms: process CPU time per step
// (all threads), which a busy neighbour changes much less than the wall time.
//
//   bench_mmdit_train CLIP [--batch B] [--steps N] [--budget-min M] CONFIG...
//   CONFIG = patch:hidden:heads:depth  (e.g. 2:192:8:6); QK-norm on.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/graph.h"
#include "core/log.h"
#include "core/optim.h"
#include "gen/lib/train_arch.h"

// Process CPU seconds (all threads): on a shared machine the wall time
// depends on the neighbours, the CPU time much less.
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s CLIP [--batch B] [--steps N] [--budget-min M] patch:hidden:heads:depth ...\n",
                argv[0]);
        return 2;
    }
    const char *clip = argv[1];
    int B = 32, steps = 10;
    double budget_min = 90;
    silt_log_set_level(SILT_LOG_WARN);
    printf("%-16s %8s %10s %10s %10s %10s %12s\n", "patch:D:H:depth", "params_M", "ms/step", "cpu_ms", "loss_ms",
           "bwd+opt_ms", "steps/budget");
    for (int a = 2; a < argc; a++) {
        if (!strcmp(argv[a], "--batch") && a + 1 < argc) { B = atoi(argv[++a]); continue; }
        if (!strcmp(argv[a], "--steps") && a + 1 < argc) { steps = atoi(argv[++a]); continue; }
        if (!strcmp(argv[a], "--budget-min") && a + 1 < argc) { budget_min = atof(argv[++a]); continue; }
        int p, D, H, L;
        if (sscanf(argv[a], "%d:%d:%d:%d", &p, &D, &H, &L) != 4 || H < 1 || D % H) {
            fprintf(stderr, "bad config %s\n", argv[a]);
            return 2;
        }
        mmdit_config c = {.depth = L, .heads = H, .head_dim = D / H, .hidden = D, .patch = p, .in_channels = 3,
                          .out_channels = 3, .pos_max = SILT_TRAIN_MMDIT_IMAGE / p, .qk_norm = true};
        silt_train_task t;
        if (silt_train_mmdit_create_config(clip, &c, 1, &t)) {
            fprintf(stderr, "%s: %s\n", argv[a], silt_last_error());
            return 1;
        }
        int n = t.n_params(t.self);
        silt_tensor **params = malloc(sizeof *params * (size_t)n);
        bool *nd = malloc(sizeof *nd * (size_t)n);
        int64_t numel = 0;
        for (int i = 0; i < n; i++) {
            params[i] = t.param(t.self, i, NULL, &nd[i]);
            numel += silt_numel(params[i]);
        }
        silt_adamw *opt = silt_adamw_create(params, nd, n, silt_adamw_default_params());
        silt_graph *g = silt_graph_create(0);
        double *ms = malloc(sizeof *ms * (size_t)(steps + 1)), *lm = malloc(sizeof *lm * (size_t)(steps + 1));
        double cpu0 = 0;
        for (int s = 0; s <= steps; s++) {
            if (s == 1) cpu0 = cpu_now();
            for (int i = 0; i < n; i++) silt_tensor_zero_grad(params[i]);
            double t0 = silt_time_now();
            silt_graph_reset(g);
            silt_tensor *loss = t.loss(t.self, g, 0, s, B);
            double t1 = silt_time_now();
            if (!loss || silt_backward(g, loss, NULL)) {
                fprintf(stderr, "step failed: %s\n", silt_last_error());
                return 1;
            }
            silt_grad_clip_norm(params, n, 1.0f);
            silt_adamw_step(opt, 1e-4f);
            double t2 = silt_time_now();
            ms[s] = (t2 - t0) * 1e3;
            lm[s] = (t1 - t0) * 1e3;
        }
        double cpu_ms = (cpu_now() - cpu0) * 1e3 / steps, bwd = 0;
        for (int s = 1; s <= steps; s++) bwd += ms[s] - lm[s];
        qsort(ms + 1, (size_t)steps, sizeof *ms, cmp_double);
        qsort(lm + 1, (size_t)steps, sizeof *lm, cmp_double);
        double med = ms[1 + steps / 2];
        printf("%-16s %8.2f %10.1f %10.1f %10.1f %10.1f %12.0f\n", argv[a], (double)numel / 1e6, med, cpu_ms,
               lm[1 + steps / 2], bwd / steps, budget_min * 60e3 / med);
        fflush(stdout);
        free(ms);
        free(lm);
        silt_graph_free(g);
        silt_adamw_free(opt);
        free(params);
        free(nd);
        silt_train_task_free(&t);
    }
    return 0;
}
