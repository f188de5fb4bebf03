// Throwaway (nineteenth session): a world-judge's head logit and towers'
// cosine for every candidate of a labelled sample set (gen world harvest
// --all) or of eval-suite dumps (gen eval --suite eval --dump DIR), with the
// evaluator's verdict, one line each: "group cand pass logit cos category".
//   judge_scores JUDGE set SET.safetensors     (groups: the set's items; eval-caption items dropped)
//   judge_scores JUDGE dumps DIR0,DIR1,...     (group: the eval item, cand: the dump)
// Build: gcc -std=c11 -O2 -fopenmp -I/work/main judge_scores.c /work/main/build-cpu/libsilt.a -lm -lpthread -ldl -lzstd -lstb
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/image.h"
#include "core/log.h"
#include "gen/lib/harvest.h"
#include "text/world_clip.h"
#include "world/eval.h"
#include "world/suites.h"

static void to_x(const uint8_t *rgb, int S, float *x) {
    for (int ch = 0; ch < 3; ch++)
        for (int q = 0; q < S * S; q++) x[ch * S * S + q] = 2.0f * rgb[(size_t)q * 3 + ch] / 255.0f - 1.0f;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: judge_scores JUDGE set|dumps PATH\n"); return 2; }
    wclip_model *m = NULL;
    if (wclip_load_file(argv[1], &m)) { fprintf(stderr, "%s\n", silt_last_error_message()); return 1; }
    float x[3 * 32 * 32];
    if (!strcmp(argv[2], "set")) {
        silt_sample_set *set = NULL;
        if (silt_sample_set_load(argv[3], &set)) { fprintf(stderr, "%s\n", silt_last_error_message()); return 1; }
        silt_sample_set_drop_suite(set, WORLD_SUITE_EVAL);
        for (int64_t i = 0; i < set->n; i++) {
            to_x(set->images + (size_t)i * 32 * 32 * 3, 32, x);
            const char *cap = set->captions[i];
            double lg, cs;
            if (wclip_itm_scores(m, x, &cap, 1, &lg, &cs)) { fprintf(stderr, "%s\n", silt_last_error_message()); return 1; }
            printf("%lld %lld %d %.5f %.6f %s\n", (long long)set->groups[i], (long long)i, set->pass[i], lg, cs,
                   world_category_name(set->categories[i]));
        }
        return 0;
    }
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", argv[3]);
    int d = 0;
    for (char *save = NULL, *dir = strtok_r(buf, ",", &save); dir; dir = strtok_r(NULL, ",", &save), d++) {
        for (int64_t k = 0; k < world_suite_size(WORLD_SUITE_EVAL); k++) {
            world_item it;
            if (world_suite_item(WORLD_SUITE_EVAL, 0, k, &it)) return 1;
            char path[4200];
            snprintf(path, sizeof path, "%s/%03lld.png", dir, (long long)k);
            silt_image *im = NULL;
            if (silt_image_read(path, &im) || im->w != 32 || im->c != 3) { fprintf(stderr, "bad %s\n", path); return 1; }
            world_eval_result er;
            if (world_eval_image(im->data, 32, 32, it.caption, &er)) return 1;
            to_x(im->data, 32, x);
            const char *cap = it.caption;
            double lg, cs;
            if (wclip_itm_scores(m, x, &cap, 1, &lg, &cs)) return 1;
            printf("%lld %d %d %.5f %.6f %s\n", (long long)k, d, er.pass, lg, cs, world_category_name(it.category));
            silt_image_free(im);
        }
    }
    return 0;
}
