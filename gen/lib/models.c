// Built-in model lookup (models.h).
#include "gen/lib/models.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

static bool is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

// <folder of /proc/self/exe>/../models, or "" where the link cannot be read.
static void exe_models_dir(char *out, size_t n) {
    char exe[PATH_MAX];
    out[0] = 0;
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 16);
    if (len <= 0) return;
    exe[len] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    memcpy(slash, "/../models", sizeof "/../models");  // room kept above
    snprintf(out, n, "%s", exe);
}

silt_status silt_models_find(const char *name, char *path, size_t n) {
    if (!name || !path || n == 0) return SILT_FAIL(SILT_ERR_ARG, "silt_models_find: NULL argument");
    char dirs[3][PATH_MAX];
    const char *env = getenv("SILT_MODELS");
    snprintf(dirs[0], sizeof dirs[0], "%s", env && *env ? env : "");
    exe_models_dir(dirs[1], sizeof dirs[1]);
    snprintf(dirs[2], sizeof dirs[2], "./models");
    for (int i = 0; i < 3; i++) {
        if (!dirs[i][0]) continue;
        char cand[PATH_MAX + 256];
        int w = snprintf(cand, sizeof cand, "%s/%s", dirs[i], name);
        if (w < 0 || (size_t)w >= sizeof cand || !is_file(cand)) continue;
        if ((size_t)w >= n) return SILT_FAIL(SILT_ERR_ARG, "silt_models_find: path of %s too long", name);
        memcpy(path, cand, (size_t)w + 1);
        return SILT_OK;
    }
    return SILT_FAIL(SILT_ERR_IO, "built-in model %s not found (looked in $SILT_MODELS%s%s, %s, ./models)", name,
                     dirs[0][0] ? " = " : " (unset)", dirs[0], dirs[1][0] ? dirs[1] : "<executable>/../models");
}
