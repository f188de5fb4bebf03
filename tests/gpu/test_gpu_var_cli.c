// `gen generate --arch var --device cuda` against `--device cpu` on tiny
// random models this test writes (var_create + var_save, var_vq_create +
// var_vq_save, wclip_create + wclip_save): a class-conditional VAR (the
// official-checkpoint path: --model --vae --class, with CFG, without, and a
// grid) and a text VAR (the world path: --arch var --prompt with --model --vq
// --clip). The tokens come from the same CPU sampler on both devices and the
// logits agree to ~1e-6, so the tokens are equal and the decoded images agree
// to ~1e-5: every PNG value must be within 1/255 of the cpu's (a value at a
// rounding boundary may move by one), and the PNG parameters must be equal
// (the device is not a parameter). A TTS search (--search tts --n 2) must run
// on cuda; whether its image matches is printed, not required (its reward
// ranks candidates whose scores could tie within rounding). The closing line
// must say the model ran on cuda, for --device cuda and auto.
// Exit 77 (SKIP) without a GPU or cuDNN. Needs SILT_GEN (set by ctest).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/image.h"
#include "cuda/cuda.h"
#include "gpu_test.h"
#include "text/world_clip.h"
#include "var/var.h"
#include "var/vqvae.h"

static char gen[1024], tmp[256];

static int run(const char *args, const char *device, const char *out) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' generate %s --device %s -o '%s' 2>'%s.err'", gen, args, device, out, out);
    int rc = system(cmd);
    if (rc != 0) {
        char line[512] = "", path[600];
        snprintf(path, sizeof path, "%s.err", out);
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(line, sizeof line, f)) line[0] = 0;
            fclose(f);
        }
        CHECK_MSG(0, "gen --device %s failed (%d): %s  [%s]", device, rc, line, cmd);
    }
    return rc == 0;
}

// Max |a - b| over the 8-bit values; -1 when the images cannot be compared.
static int png_maxdiff(const char *a, const char *b) {
    silt_image *ia = NULL, *ib = NULL;
    CHECK_OK(silt_image_read(a, &ia));
    CHECK_OK(silt_image_read(b, &ib));
    int maxd = -1;
    if (ia && ib && ia->w == ib->w && ia->h == ib->h && ia->c == ib->c) {
        size_t n = (size_t)ia->w * ia->h * ia->c;
        maxd = 0;
        for (size_t i = 0; i < n; i++) {
            int d = abs((int)ia->data[i] - (int)ib->data[i]);
            if (d > maxd) maxd = d;
        }
    }
    silt_image_free(ia);
    silt_image_free(ib);
    return maxd;
}

static void case_(const char *name, const char *args, bool strict) {
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/%s_cpu.png", tmp, name);
    snprintf(b, sizeof b, "%s/%s_cuda.png", tmp, name);
    if (!run(args, "cpu", a) || !run(args, "cuda", b)) return;
    int maxd = png_maxdiff(a, b);
    printf("%s %-34s max diff %d/255\n", maxd >= 0 && maxd <= 1 ? "ok  " : (strict ? "FAIL" : "note"), name, maxd);
    if (strict) CHECK_MSG(maxd >= 0 && maxd <= 1, "%s: the cuda PNG differs from the cpu one by %d/255", name, maxd);
    char *pa = NULL, *pb = NULL;
    CHECK_OK(silt_image_read_png_text(a, "parameters", &pa));
    CHECK_OK(silt_image_read_png_text(b, "parameters", &pb));
    if (pa && pb) CHECK_MSG(strcmp(pa, pb) == 0, "%s: parameters differ:\n%s\n---\n%s", name, pa, pb);
    free(pa);
    free(pb);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "grep -q 'model evaluations on cuda' '%s.err'", b);
    CHECK_MSG(system(cmd) == 0, "%s: the closing line does not say cuda", name);
}

// The tiny models: the world tokenizer layout (32 px, V 512, Cvae 16) with
// random weights, a class VAR and a text VAR for it (depth 2, width 64, 2
// heads), and a random world-CLIP whose widths the text VAR takes.
static bool write_models(void) {
    char path[512];
    var_vq_config q = var_vq_world_config();
    var_vqvae *vq = NULL;
    CHECK_OK(var_vq_create(&q, 5, &vq));
    snprintf(path, sizeof path, "%s/vq.safetensors", tmp);
    if (vq) CHECK_OK(var_vq_save(vq, path));
    var_vq_free(vq);
    wclip_config wc = wclip_default_config();
    wclip_model *clip = NULL;
    CHECK_OK(wclip_create(&wc, 6, &clip));
    snprintf(path, sizeof path, "%s/clip.safetensors", tmp);
    if (clip) CHECK_OK(wclip_save(clip, path));
    wclip_free(clip);
    for (int text = 0; text < 2; text++) {
        var_config c = {.depth = 2, .embed_dim = 64, .num_heads = 2, .mlp_hidden = 128, .num_classes = text ? 0 : 10,
                        .text_dim = text ? wc.embed_dim : 0, .ctx_dim = text ? wc.width : 0, .vocab_size = q.vocab_size,
                        .Cvae = q.z_channels, .attn_l2_norm = true, .norm_eps = 1e-6f, .n_scales = q.n_scales};
        memcpy(c.patch_nums, q.patch_nums, sizeof c.patch_nums);
        var_model *m = NULL;
        CHECK_OK(var_create(&c, 1.0f, 3 + (uint64_t)text, &m));  // gamma 1: the blocks matter
        snprintf(path, sizeof path, "%s/%s.safetensors", tmp, text ? "tvar" : "cvar");
        if (m) CHECK_OK(var_save(m, path));
        var_free(m);
    }
    return check_failed_ == 0;
}

int main(void) {
    GPU_TEST_START();
    if (!silt_cuda_have_cudnn()) {
        printf("SKIP: no cuDNN (%s): the VQ tokenizer's convs need it\n", silt_last_error());
        return 77;
    }
    const char *g = getenv("SILT_GEN");
    if (!g) {
        printf("SKIP: SILT_GEN not set (run through ctest)\n");
        return 77;
    }
    snprintf(gen, sizeof gen, "%s", g);
    snprintf(tmp, sizeof tmp, "/tmp/silt_test_gpu_var_cli_%d", (int)getpid());
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", tmp);
    if (system(cmd) != 0) return 1;
    if (!write_models()) return check_summary();

    char args[4096], cls[1200], world[1600];
    snprintf(cls, sizeof cls, "--model '%s/cvar.safetensors' --vae '%s/vq.safetensors' -q", tmp, tmp);
    snprintf(world, sizeof world,
             "--arch var --model '%s/tvar.safetensors' --vq '%s/vq.safetensors' --clip '%s/clip.safetensors' -q", tmp,
             tmp, tmp);
    snprintf(args, sizeof args, "%s --class 3", cls);
    case_("class_cfg", args, true);
    snprintf(args, sizeof args, "%s --class 7 --guidance none --top-k 20 --seed 4", cls);
    case_("class_nocfg_topk", args, true);
    snprintf(args, sizeof args, "%s --class 1 --cfg 4 --top-p 0.8 --grid 3 --seed 9", cls);
    case_("class_grid3", args, true);
    snprintf(args, sizeof args, "%s --prompt 'a red circle left of a blue square' --native", world);
    case_("world_native", args, true);
    snprintf(args, sizeof args, "%s --prompt 'two green triangles' --grid 2", world);
    case_("world_grid2_256px", args, true);
    snprintf(args, sizeof args, "%s --prompt 'a red circle' --native --search tts --n 2", world);
    case_("world_tts_n2", args, false);
    // auto picks cuda when a GPU is usable.
    snprintf(cmd, sizeof cmd,
             "'%s' generate %s --class 3 --device auto -o '%s/auto.png' 2>&1 | grep -q 'model evaluations on cuda'", gen,
             cls, tmp);
    CHECK_MSG(system(cmd) == 0, "gen --arch var --device auto did not run on cuda");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) printf("note: could not remove %s\n", tmp);
    return check_summary();
}
