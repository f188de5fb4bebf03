// throwaway: cos between pooled text embeddings of caption pairs (lines "a|b")
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "core/graph.h"
#include "text/world_clip.h"
int main(int argc, char **argv) {
    wclip_model *m = NULL;
    if (wclip_load_file(argv[1], &m)) return 1;
    FILE *f = fopen(argv[2], "r");
    char line[512];
    int T = wclip_get_config(m)->max_len, E = wclip_get_config(m)->embed_dim;
    double sum = 0; int n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *bar = strchr(line, '|'); *bar = 0;
        int32_t ids[64];
        wclip_tokenize(m, line, ids); wclip_tokenize(m, bar + 1, ids + T);
        silt_graph *g = silt_graph_create(0); silt_graph_set_grad(g, false);
        silt_tensor *p = NULL;
        wclip_encode_text(g, m, ids, 2, NULL, &p);
        const float *a = silt_f32(p), *b = a + E;
        double d = 0, na = 0, nb = 0;
        for (int e = 0; e < E; e++) d += a[e] * b[e], na += a[e] * a[e], nb += b[e] * b[e];
        sum += d / sqrt(na * nb); n++;
        silt_graph_free(g);
    }
    printf("mean cos %.4f over %d pairs\n", sum / n, n);
    return 0;
}
