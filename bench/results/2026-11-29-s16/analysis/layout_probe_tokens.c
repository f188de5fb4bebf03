// throwaway: pooled image embeddings of renders of "a red circle REL a blue square" (REL left of / right of),
// for a linear probe of layout in the embedding. Prints label then embed_dim floats per line.
#include <stdio.h>
#include <stdlib.h>
#include "core/graph.h"
#include "core/rng.h"
#include "text/world_clip.h"
#include "world/scene.h"
int main(int argc, char **argv) {
    wclip_model *m = NULL;
    if (wclip_load_file(argv[1], &m)) return 1;
    int n = atoi(argv[2]), S = wclip_get_config(m)->img_size, E = wclip_get_config(m)->embed_dim;
    const char *pairs[2] = {"a red circle left of a blue square", "a red circle right of a blue square"};
    float *img = malloc(sizeof(float) * 3 * S * S);
    for (int i = 0; i < n; i++) {
        int lab = i & 1;
        world_reqs r;
        if (world_caption_parse(pairs[lab], &r)) return 2;
        silt_rng rng = silt_rng_init(777, (uint64_t)i);
        world_scene sc;
        if (world_scene_for_reqs(&r, 0, &rng, &sc)) return 3;
        wclip_render(m, &sc, img);
        silt_graph *g = silt_graph_create(0);
        silt_graph_set_grad(g, false);
        silt_tensor *x = silt_graph_new(g, 1, 3, S, S);
        for (int k = 0; k < 3 * S * S; k++) silt_f32(x)[k] = img[k];
        silt_tensor *tok = NULL; silt_tensor *e = wclip_encode_image(g, m, x, &tok); (void)e;
        printf("%d", lab);
        for (int64_t k = 0; k < silt_numel(tok); k++) printf(" %.5f", silt_f32(tok)[k]);
        printf("\n");
        silt_graph_free(g);
    }
    return 0;
}
