// Candidates 0..N-1 of gen --prompt P --seed S --search best-of-n: judge score and evaluator verdict of each.
#include <stdio.h>
#include <stdlib.h>
#include "gen/lib/txt2img.h"
#include "world/eval.h"
int main(int argc, char **argv) {
    const char *p = argv[1]; int seed = atoi(argv[2]), N = atoi(argv[3]);
    silt_txt2img *t; if (silt_txt2img_load("/work/main/models/world-dit.safetensors.zst", NULL, NULL, &t)) { fprintf(stderr, "%s\n", silt_last_error_message()); return 1; }
    wclip_model *j; if (wclip_load_file(argc > 4 ? argv[4] : "/work/main/models/world-judge.safetensors.zst", &j)) return 1;
    silt_txt2img_params gp = silt_txt2img_default_params(t);
    gp.prompt = p; gp.seed = seed; gp.batch = N; gp.width = gp.height = 32; gp.progress = false;
    silt_image *im[64]; if (silt_txt2img_run(t, &gp, im, NULL)) return 1;
    var_world_reward r; var_world_reward_init(&r, VAR_REWARD_JUDGE, j, p);
    float px[3*32*32];
    for (int k = 0; k < N; k++) {
        for (int c = 0; c < 3; c++) for (int q = 0; q < 1024; q++) px[c*1024+q] = im[k]->data[q*3+c]/255.0f;
        double sc; var_world_reward_fn(&r, px, 1, 32, 32, &sc);
        world_eval_result er; world_eval_image(im[k]->data, 32, 32, p, &er);
        printf("seed %d cand %d judge %.3f pass %d score %.3f\n", seed, k, sc, er.pass, er.score);
    }
    return 0;
}
