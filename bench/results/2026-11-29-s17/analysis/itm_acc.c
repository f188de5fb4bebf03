// throwaway: how often the judge head ranks a train-distribution caption above
// each of its hard negatives (world_reqs_negative), split by whether the edit
// touched the relation (flip / swap / axis) or something else. Also the
// same for world-CLIP's cosine (argv[2] = "cos").
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/rng.h"
#include "text/world_clip.h"
#include "world/caption.h"
#include "world/suites.h"
int main(int argc, char **argv) {
    wclip_model *m = NULL;
    if (argc < 2 || wclip_load_file(argv[1], &m)) { fprintf(stderr, "usage: itm_acc MODEL [cos]\n"); return 1; }
    int cos = argc > 2 && !strcmp(argv[2], "cos");
    int w[WORLD_CAT_COUNT] = {0};
    w[WORLD_CAT_POSITION] = 1;
    long rel_hit = 0, rel_n = 0, oth_hit = 0, oth_n = 0;
    float img[3 * 32 * 32];
    for (int j = 0; j < 300; j++) {
        world_item it;
        if (world_train_item(12345, j, w, &it) || wclip_render(m, &it.scene, img)) return 2;
        char caps[7][WORLD_CAPTION_MAX];
        const char *cp[7];
        snprintf(caps[0], sizeof caps[0], "%s", it.caption);
        silt_rng rng = silt_rng_init(777, (uint64_t)j);
        int kinds[7];
        for (int k = 1; k < 7; k++) {
            world_reqs neg;
            if (world_reqs_negative(&it.reqs, &it.scene, &rng, &neg)) return 3;
            world_caption_format(&neg, caps[k], sizeof caps[k]);
            // relation edits keep the phrases' attributes and change the relation or their order
            kinds[k] = neg.relation != it.reqs.relation ||
                       (neg.n_phrases == 2 && !memcmp(&neg.phrases[0], &it.reqs.phrases[1], sizeof neg.phrases[0]) &&
                        !memcmp(&neg.phrases[1], &it.reqs.phrases[0], sizeof neg.phrases[0]));
        }
        for (int k = 0; k < 7; k++) cp[k] = caps[k];
        double sc[7];
        if (cos) { for (int k = 0; k < 7; k++) sc[k] = wclip_score(m, img, cp[k], NULL); }
        else if (wclip_itm_scores(m, img, cp, 7, sc, NULL)) return 4;
        for (int k = 1; k < 7; k++) {
            if (kinds[k]) rel_n++, rel_hit += sc[0] > sc[k];
            else oth_n++, oth_hit += sc[0] > sc[k];
        }
    }
    printf("position train items: caption above a relation edit %.3f (%ld), above another edit %.3f (%ld)\n",
           (double)rel_hit / rel_n, rel_n, (double)oth_hit / oth_n, oth_n);
    wclip_free(m);
    return 0;
}
