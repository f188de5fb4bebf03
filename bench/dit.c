// bench/dit: one DiT-XL/2-size forward on the CPU (random weights, 32x32x4
// latent, depth 28, hidden 1152, 16 heads, patch 2): median of N runs after a
// warm-up, peak RSS, then batch 2 (CFG) and batch 3 (CFG + SoftPAG on 4 heads)
// and the cost of the extra SoftPAG row. When PyTorch is importable (python
// from $SILT_TORCH_PYTHON, else /work/venv-ref/bin/python, else python3) it
// runs bench/dit_torch.py on the same work and prints the ratio.
//
//   bench_dit [--reps N] [--no-torch] [--layout original|diffusers]
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/blas.h"
#include "core/graph.h"
#include "core/log.h"
#include "dit/dit.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double rss_peak_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;  // Linux: KiB
}

// Median seconds of `reps` forwards after one warm-up; the graph is reset per run.
static double time_forward(silt_graph *g, const dit_model *m, int B, const silt_perturb *p, int reps,
                           size_t *arena_bytes) {
    const dit_config *c = dit_get_config(m);
    float t[3] = {500.0f, 500.0f, 500.0f};
    int32_t y[3] = {207, c->num_classes, 207};  // [cond, null, cond] (CFG rows then the perturbed row)
    if (B == 3) { y[0] = c->num_classes; y[1] = 207; }  // [uncond, cond, cond-perturbed]
    double times[16];
    for (int r = 0; r <= reps; r++) {
        silt_graph_reset(g);
        silt_tensor *x = silt_graph_new(g, B, c->in_channels, c->input_size, c->input_size);
        if (!x) return -1;
        for (int64_t i = 0; i < silt_numel(x); i++) silt_f32(x)[i] = (float)((i * 7919 % 1000) / 500.0 - 1.0);
        double t0 = silt_time_now();
        silt_tensor *out = dit_forward(g, m, x, t, y, p);
        double dt = silt_time_now() - t0;
        if (!out) { fprintf(stderr, "forward failed: %s\n", silt_last_error()); return -1; }
        if (r > 0) times[r - 1] = dt;
    }
    if (arena_bytes) *arena_bytes = silt_arena_high_water(silt_graph_arena(g));
    printf("  batch %d runs:", B);  // shown so that noise from other processes is visible
    for (int r = 0; r < reps; r++) printf(" %.3f", times[r]);
    printf(" s\n");
    qsort(times, (size_t)reps, sizeof *times, cmp_double);
    return times[reps / 2];
}

// Runs the PyTorch twin; returns its median seconds or -1.
static double torch_forward(int threads, int reps, const char *layout) {
    const char *py = getenv("SILT_TORCH_PYTHON");
    if (!py || !*py) py = access("/work/venv-ref/bin/python", X_OK) == 0 ? "/work/venv-ref/bin/python" : "python3";
    char cmd[2048], dir[1024];
    // The script sits next to this file (an absolute path under CMake).
    snprintf(dir, sizeof dir, "%s", __FILE__);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, "bench");
    snprintf(cmd, sizeof cmd, "'%s' '%s/dit_torch.py' --check 2>/dev/null", py, dir);
    if (system(cmd) != 0) {
        printf("torch: not importable with %s (set SILT_TORCH_PYTHON); skipped\n", py);
        return -1;
    }
    snprintf(cmd, sizeof cmd, "'%s' '%s/dit_torch.py' --threads %d --reps %d --layout %s", py, dir, threads, reps, layout);
    fflush(stdout);
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    char line[512];
    double sec = -1;
    while (fgets(line, sizeof line, f)) {
        fputs(line, stdout);
        sscanf(line, "torch_median_s %lf", &sec);
    }
    pclose(f);
    return sec;
}

int main(int argc, char **argv) {
    int reps = 3, torch = 1;
    dit_layout layout = DIT_LAYOUT_DIFFUSERS;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-torch")) torch = 0;
        else if (!strcmp(argv[i], "--layout") && i + 1 < argc) {
            if (dit_layout_from_name(argv[++i], &layout) != SILT_OK) { fprintf(stderr, "%s\n", silt_last_error_message()); return 2; }
        } else {
            fprintf(stderr, "usage: bench_dit [--reps N (3)] [--no-torch] [--layout original|diffusers (diffusers)]\n");
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    if (reps > 15) reps = 15;
    const silt_blas_info *bi = silt_blas_info_get();
    int threads = omp_get_max_threads();
    printf("DiT-XL/2 forward, 32x32x4 latent (256 tokens), random weights, %s layout, fp32 CPU\n", dit_layout_name(layout));
    printf("threads %d, BLAS %s (%s)\n", threads, bi->library, bi->corename && *bi->corename ? bi->corename : "-");

    dit_config cfg = {.layout = layout, .depth = 28, .hidden = 1152, .heads = 16, .patch = 2, .in_channels = 4,
                      .out_channels = 8, .input_size = 32, .num_classes = 1000, .mlp_hidden = 4608};
    dit_model *m = NULL;
    double t0 = silt_time_now();
    if (dit_create_random(&cfg, 42, &m) != SILT_OK) { fprintf(stderr, "%s\n", silt_last_error()); return 1; }
    int64_t nparam = 0;
    for (int i = 0; i < dit_param_count(m); i++) nparam += silt_numel(dit_param(m, i, NULL));
    printf("model: %.1fM parameters, built in %.1f s; RSS after build %.0f MiB\n", nparam / 1e6, silt_time_now() - t0,
           rss_peak_mib());

    silt_graph *g = silt_graph_create(0);
    silt_graph_set_grad(g, false);
    size_t arena1 = 0, arena3 = 0;
    double t1 = time_forward(g, m, 1, NULL, reps, &arena1);
    double rss1 = rss_peak_mib();
    double gflop = 0;  // multiply-adds x 2 of the matrix products and attention, batch 1
    {
        double T = 256, D = 1152, Mh = 4608;
        gflop = 2 * cfg.depth * (T * D * (3 * D + D + 2 * Mh) + 2 * T * T * D + D * 6 * D) / 1e9;
    }
    printf("batch 1: median %.3f s of %d (after a warm-up), %.0f GFLOP/s; peak RSS %.0f MiB (activations %.0f MiB)\n", t1,
           reps, gflop / t1, rss1, arena1 / 1048576.0);
    double t2 = time_forward(g, m, 2, NULL, reps, NULL);
    printf("batch 2 (CFG): median %.3f s\n", t2);
    // SoftPAG on 4 (layer, head) pairs of the perturbed row 2, u = 0.5.
    float *u = calloc((size_t)cfg.depth * cfg.heads, sizeof(float));
    const int heads[4][2] = {{2, 3}, {7, 11}, {13, 0}, {20, 6}};
    for (int i = 0; i < 4; i++) u[heads[i][0] * cfg.heads + heads[i][1]] = 0.5f;
    silt_perturb p = {SILT_PERTURB_IDENTITY, 2, 3, cfg.depth, cfg.heads, u, 0};
    double t3 = time_forward(g, m, 3, &p, reps, &arena3);
    printf("batch 3 (CFG + SoftPAG on 4 heads): median %.3f s; peak RSS %.0f MiB (activations %.0f MiB)\n", t3,
           rss_peak_mib(), arena3 / 1048576.0);
    printf("SoftPAG overhead over CFG: x%.2f (one more batch row: ~1.5)\n", t3 / t2);
    free(u);
    silt_graph_free(g);
    dit_free(m);
    if (torch && t1 > 0) {
        double tt = torch_forward(threads, reps, dit_layout_name(layout));
        if (tt > 0) printf("torch: %.3f s, silt: %.3f s, ratio torch/silt = %.2f\n", tt, t1, tt / t1);
    }
    return 0;
}
