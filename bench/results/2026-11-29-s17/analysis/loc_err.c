// throwaway: the judge head's grounding error (loc vs the phrase's object centre) on position train items.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/ops.h"
#include "text/world_clip.h"
#include "world/suites.h"
int main(int argc, char **argv) {
    wclip_model *m = NULL;
    if (argc < 2 || wclip_load_file(argv[1], &m)) return 1;
    int w[WORLD_CAT_COUNT] = {0};
    w[WORLD_CAT_POSITION] = 1;
    double se = 0, s0 = 0; long n = 0;
    for (int j = 0; j < 200; j++) {
        world_item it;
        int32_t ids[16];
        int8_t ph[16];
        silt_graph *g = silt_graph_create(0);
        silt_graph_set_grad(g, false);
        silt_tensor *x = silt_graph_new(g, 1, 3, 32, 32), *patch = NULL, *ctx = NULL, *loc = NULL;
        world_train_item(999, j, w, &it);
        wclip_render(m, &it.scene, silt_f32(x));
        wclip_tokenize(m, it.caption, ids);
        wclip_encode_image(g, m, x, &patch);
        wclip_encode_context(g, m, ids, 1, WCLIP_CTX_RELATION, &ctx, NULL);
        wclip_itm_logits(g, m, patch, ctx, 1, &loc);
        wclip_token_phrases(ids, 16, ph);
        for (int i = 0; i < 16; i++) {
            if (ph[i] < 0) continue;
            const world_phrase *f = &it.reqs.phrases[ph[i]];
            double cx = 0, cy = 0; int k = 0;
            for (int o = 0; o < it.scene.n_objects; o++) {
                const world_object *ob = &it.scene.objects[o];
                if (ob->shape != f->shape || (f->colour >= 0 && (int)ob->colour != f->colour)) continue;
                cx += ob->cx, cy += ob->cy, k++;
            }
            if (!k) continue;
            double tx = 2 * cx / k / 32 - 1, ty = 2 * cy / k / 32 - 1;
            double px = silt_f32(loc)[2 * i], py = silt_f32(loc)[2 * i + 1];
            se += (px - tx) * (px - tx) + (py - ty) * (py - ty); s0 += tx * tx + ty * ty; n++;
        }
        silt_graph_free(g);
    }
    printf("grounding: rms error %.3f per coordinate (predicting 0: %.3f), %ld tokens\n", sqrt(se / (2 * n)), sqrt(s0 / (2 * n)), n);
    return 0;
}
