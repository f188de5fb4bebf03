// gen info FILE | --system
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/blas.h"
#include "core/safetensors.h"
#include "cuda/cuda.h"
#include "gen/args.h"
#include "gen/commands.h"
#include "gen/lib/arch.h"

static void cpu_model(char *buf, size_t n) {
    snprintf(buf, n, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c += 2;
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, n, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

static int info_system(void) {
    char model[256], gpu[1024];
    cpu_model(model, sizeof model);
    const silt_blas_info *b = silt_blas_info_get();
    printf("silt %s (%s build, CUDA %s)\n", SILT_VERSION, silt_cuda_built() ? "CUDA" : "CPU-only",
           silt_cuda_built() ? "compiled in" : "not compiled in");
    printf("cpu:      %s, %ld logical cores\n", model, sysconf(_SC_NPROCESSORS_ONLN));
    printf("features: %s\n", silt_cpu_features());
    printf("threads:  %d (OpenMP)\n", omp_get_max_threads());
    printf("blas:     %s, kernel %s, %d threads\n", b->library, b->corename, b->threads);
    if (b->user_coretype) printf("          kernel chosen by OPENBLAS_CORETYPE from the environment\n");
    else if (b->coretype_set[0]) printf("          kernel chosen by silt from CPUID (OPENBLAS_CORETYPE=%s)\n", b->coretype_set);
    else printf("          kernel chosen by the library's own detection\n");
    if (b->config[0]) printf("          %s\n", b->config);
    if (silt_cuda_describe(gpu, sizeof gpu) != SILT_OK) snprintf(gpu, sizeof gpu, "no GPU (%s)", silt_last_error_message());
    printf("gpu:      %s\n", gpu);
    return 0;
}

static int info_file(const char *path, bool show_all) {
    silt_safetensors *st = NULL;
    if (silt_safetensors_open(path, &st) != SILT_OK) return gen_fail(path);
    int n = silt_safetensors_count(st);
    double params = 0, bytes = 0;
    for (int i = 0; i < n; i++) {
        const silt_st_tensor *t = silt_safetensors_get(st, i);
        double numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= (double)t->shape[d];
        params += numel;
        bytes += (double)t->nbytes;
    }
    char details[256];
    const char *prefix = "";
    silt_arch arch = silt_arch_detect(st, details, sizeof details, &prefix);
    printf("file:         %s\n", path);
    printf("tensors:      %d\n", n);
    printf("parameters:   %.0f (%.2f M), %.1f MiB of data\n", params, params / 1e6, bytes / (1024.0 * 1024.0));
    printf("architecture: %s%s%s%s%s\n", silt_arch_name(arch), details[0] ? " (" : "", details, details[0] ? ")" : "",
           arch == SILT_ARCH_UNKNOWN ? " - no known layout matched the tensor names" : "");
    if (prefix[0]) printf("key prefix:   %s\n", prefix);
    int nm = silt_safetensors_metadata_count(st);
    for (int i = 0; i < nm; i++) {
        const char *k, *v;
        if (silt_safetensors_metadata_at(st, i, &k, &v) == SILT_OK)
            printf("metadata:     %s = %.200s%s\n", k, v, strlen(v) > 200 ? "..." : "");
    }
    int limit = show_all ? n : (n < 40 ? n : 40);
    for (int i = 0; i < limit; i++) {
        const silt_st_tensor *t = silt_safetensors_get(st, i);
        char shape[160];
        silt_dims_str(t->shape, t->ndim, shape, sizeof shape);
        printf("  %-60s %-5s %s\n", t->name, silt_st_dtype_name(t->dtype), shape);
    }
    if (limit < n) printf("  ... %d more (use --all)\n", n - limit);
    silt_safetensors_close(st);
    return 0;
}

int cmd_info(int argc, char **argv) {
    bool system = false, all = false;
    const char *pos[1];
    arg_spec specs[] = {
        {"system", 0, ARG_BOOL, &system, NULL, "describe this machine: CPU, BLAS kernel, threads, GPUs", NULL, 0, -1},
        {"all", 'a', ARG_BOOL, &all, NULL, "list every tensor (default: the first 40)", NULL, 0, -1},
    };
    arg_parser p = {"gen info", "gen info FILE.safetensors[.zst] | gen info --system",
                    "Describe a checkpoint (tensors, parameter count, the architecture guessed from names and shapes)\n"
                    "or this system.",
                    specs, 2, pos, 1, 0};
    int rc = args_parse(&p, argc, argv);
    if (rc) return rc == 1 ? 0 : rc;
    if (system) {
        if (p.n_positional) return args_usage_error(&p, "--system takes no FILE");
        return info_system();
    }
    if (!p.n_positional) return args_usage_error(&p, "missing FILE (or --system)");
    return info_file(pos[0], all);
}
