// throwaway: cos(image idx, caption) for lines "idx|caption" of a list file
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/image.h"
#include "text/world_clip.h"
int main(int argc, char **argv) {
    wclip_model *m = NULL;
    if (wclip_load_file(argv[1], &m)) { fprintf(stderr, "load fail\n"); return 1; }
    const char *dir = argv[2];
    FILE *f = fopen(argv[3], "r");
    char line[512];
    float x[3 * 32 * 32];
    int cur = -1;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *bar = strchr(line, '|');
        *bar = 0;
        int i = atoi(line);
        if (i != cur) {
            char path[512];
            snprintf(path, sizeof path, "%s/%03d.png", dir, i);
            silt_image *im = NULL;
            if (silt_image_read(path, &im)) return 2;
            for (int ch = 0; ch < 3; ch++)
                for (int q = 0; q < 1024; q++) x[ch * 1024 + q] = 2.0f * im->data[(size_t)q * im->c + ch] / 255.0f - 1.0f;
            silt_image_free(im);
            cur = i;
        }
        printf("%d|%s|%.6f\n", i, bar + 1, wclip_score(m, x, bar + 1, NULL));
    }
    wclip_free(m);
    return 0;
}
