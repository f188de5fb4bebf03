// throwaway: the judge head's logit (wclip_itm_scores) of image idx for lines
// "idx|caption" of a list file; prints "idx|caption|score" (as score2.c).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/image.h"
#include "text/world_clip.h"
#define MAXC 64
static void flush(const wclip_model *m, const char *dir, int idx, char caps[][256], int n) {
    if (!n) return;
    char path[512];
    snprintf(path, sizeof path, "%s/%03d.png", dir, idx);
    silt_image *im = NULL;
    if (silt_image_read(path, &im)) { fprintf(stderr, "read %s\n", path); exit(2); }
    float x[3 * 32 * 32];
    for (int ch = 0; ch < 3; ch++)
        for (int q = 0; q < 1024; q++) x[ch * 1024 + q] = 2.0f * im->data[(size_t)q * im->c + ch] / 255.0f - 1.0f;
    silt_image_free(im);
    const char *cp[MAXC];
    double sc[MAXC];
    for (int i = 0; i < n; i++) cp[i] = caps[i];
    if (wclip_itm_scores(m, x, cp, n, sc, NULL)) { fprintf(stderr, "score fail\n"); exit(3); }
    for (int i = 0; i < n; i++) printf("%d|%s|%.6f\n", idx, caps[i], sc[i]);
}
int main(int argc, char **argv) {
    wclip_model *m = NULL;
    if (argc < 4 || wclip_load_file(argv[1], &m)) { fprintf(stderr, "usage: score_itm MODEL DIR LIST\n"); return 1; }
    FILE *f = fopen(argv[3], "r");
    static char caps[MAXC][256];
    char line[512];
    int cur = -1, n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *bar = strchr(line, '|');
        if (!bar) continue;
        *bar = 0;
        int i = atoi(line);
        if (i != cur) { flush(m, argv[2], cur, caps, n); cur = i; n = 0; }
        if (n < MAXC) snprintf(caps[n++], 256, "%s", bar + 1);
    }
    flush(m, argv[2], cur, caps, n);
    wclip_free(m);
    return 0;
}
