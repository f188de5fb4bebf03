// Scratch directories for tests: remove a tree made under mkdtemp().
// Header-only; include after check.h.
#ifndef SILT_TEST_TMPDIR_H
#define SILT_TEST_TMPDIR_H

#include <dirent.h>
#include <string.h>
#include <unistd.h>

// Deletes path and everything below it (files and directories); best effort.
static inline void test_rm_tree(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[1024];
        size_t a = strlen(path), b = strlen(e->d_name);
        if (a + 1 + b >= sizeof p) continue;  // deeper than any test makes
        memcpy(p, path, a);
        p[a] = '/';
        memcpy(p + a + 1, e->d_name, b + 1);
        test_rm_tree(p);
    }
    closedir(d);
    rmdir(path);
}

#endif
