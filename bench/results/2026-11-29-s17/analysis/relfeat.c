// throwaway: does the grounded relation feature S = sum_tokens (dx loc_x + dy loc_y) tell a position caption from its relation edits?
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/ops.h"
#include "core/rng.h"
#include "text/world_clip.h"
#include "world/caption.h"
#include "world/suites.h"
static double feat(const wclip_model *m, const float *img, const char *cap) {
    int32_t ids[16]; float rel[32];
    silt_graph *g = silt_graph_create(0);
    silt_graph_set_grad(g, false);
    silt_tensor *x = silt_graph_new(g, 1, 3, 32, 32), *patch = NULL, *ctx = NULL, *loc = NULL;
    memcpy(silt_f32(x), img, sizeof(float) * 3072);
    wclip_tokenize(m, cap, ids);
    wclip_encode_image(g, m, x, &patch);
    wclip_encode_context(g, m, ids, 1, WCLIP_CTX_RELATION, &ctx, NULL);
    wclip_itm_logits(g, m, patch, ctx, 1, &loc);
    wclip_relation_channel(ids, 16, rel);
    double S = 0;
    for (int i = 0; i < 16; i++) S += rel[2 * i] * silt_f32(loc)[2 * i] + rel[2 * i + 1] * silt_f32(loc)[2 * i + 1];
    silt_graph_free(g);
    return S;
}
int main(int argc, char **argv) {
    wclip_model *m = NULL;
    if (argc < 2 || wclip_load_file(argv[1], &m)) return 1;
    int w[WORLD_CAT_COUNT] = {0};
    w[WORLD_CAT_POSITION] = 1;
    long hit = 0, n = 0;
    float img[3072];
    for (int j = 0; j < 200; j++) {
        world_item it;
        world_train_item(12345, j, w, &it);
        wclip_render(m, &it.scene, img);
        double s0 = feat(m, img, it.caption);
        silt_rng rng = silt_rng_init(777, (uint64_t)j);
        for (int k = 0; k < 6; k++) {
            world_reqs neg; char cap[WORLD_CAPTION_MAX];
            world_reqs_negative(&it.reqs, &it.scene, &rng, &neg);
            if (neg.relation == it.reqs.relation && neg.phrases[0].shape == it.reqs.phrases[0].shape &&
                neg.phrases[0].colour == it.reqs.phrases[0].colour) continue;  // not a relation edit (roughly)
            world_caption_format(&neg, cap, sizeof cap);
            hit += s0 > feat(m, img, cap); n++;
        }
    }
    printf("S(caption) > S(relation edit): %.3f of %ld\n", (double)hit / n, n);
    return 0;
}
