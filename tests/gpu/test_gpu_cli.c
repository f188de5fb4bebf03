// `gen generate --device cuda` against `--device cpu` on the tiny golden
// checkpoints (DiT + SD VAE, MMDiT + SD3 VAE with the test text embeddings),
// with CFG and with perturbation guidance: the PNGs must agree within
// rounding. Tolerance (8-bit values, 16x16x3 = 768 per image): at least 99%
// of the values differ by at most 1 (1/255), and none by more than 4. The
// model runs in fp32 on both devices (TF32 off by default), so the latents
// agree to ~1e-5 relative and only values sitting at a rounding boundary move.
// The decoder (SD VAE, world autoencoder) runs on the device with the model.
// Also: the PNG records the same parameters (the device is not a parameter),
// and the closing "wrote ..." line says the model ran on cuda. The world
// model once more with --precision tf32 and bf16 (looser: see there).
// Exit 77 (SKIP) without a GPU. Needs SILT_GEN (set by ctest) and the golden files.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/image.h"
#include "cuda/cuda.h"
#include "gpu_test.h"

static char gen[1024], golden[1024], embeds[1024], tmp[256];

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

static void compare_pngs(const char *what, const char *a, const char *b) {
    silt_image *ia = NULL, *ib = NULL;
    CHECK_OK(silt_image_read(a, &ia));
    CHECK_OK(silt_image_read(b, &ib));
    if (ia && ib) {
        CHECK_MSG(ia->w == ib->w && ia->h == ib->h && ia->c == ib->c, "%s: sizes differ", what);
        if (ia->w == ib->w && ia->h == ib->h && ia->c == ib->c) {
            size_t n = (size_t)ia->w * ia->h * ia->c, within1 = 0;
            int maxd = 0;
            for (size_t i = 0; i < n; i++) {
                int d = abs((int)ia->data[i] - (int)ib->data[i]);
                if (d <= 1) within1++;
                if (d > maxd) maxd = d;
            }
            double share = (double)within1 / (double)n;
            printf("%s   %-40s %zu values, %.2f%% within 1/255, max diff %d/255\n",
                   share >= 0.99 && maxd <= 4 ? "ok" : "FAIL", what, n, 100 * share, maxd);
            CHECK_MSG(share >= 0.99, "%s: only %.2f%% of values within 1/255", what, 100 * share);
            CHECK_MSG(maxd <= 4, "%s: a value differs by %d/255", what, maxd);
        }
    }
    silt_image_free(ia);
    silt_image_free(ib);
    char *pa = NULL, *pb = NULL;
    CHECK_OK(silt_image_read_png_text(a, "parameters", &pa));
    CHECK_OK(silt_image_read_png_text(b, "parameters", &pb));
    if (pa && pb) CHECK_MSG(strcmp(pa, pb) == 0, "%s: parameters differ:\n%s\n---\n%s", what, pa, pb);
    free(pa);
    free(pb);
}

// Mean |a - b| over the 8-bit values of two PNGs of one size (-1 on error).
static double mean_abs_diff(const char *a, const char *b) {
    silt_image *ia = NULL, *ib = NULL;
    double m = -1;
    if (silt_image_read(a, &ia) == SILT_OK && silt_image_read(b, &ib) == SILT_OK && ia->w == ib->w && ia->h == ib->h &&
        ia->c == ib->c) {
        size_t n = (size_t)ia->w * ia->h * ia->c;
        double s = 0;
        for (size_t i = 0; i < n; i++) s += abs((int)ia->data[i] - (int)ib->data[i]);
        m = n ? s / (double)n : 0;
    }
    silt_image_free(ia);
    silt_image_free(ib);
    return m;
}

static void case_(const char *name, const char *args) {
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/%s_cpu.png", tmp, name);
    snprintf(b, sizeof b, "%s/%s_cuda.png", tmp, name);
    if (run(args, "cpu", a) && run(args, "cuda", b)) compare_pngs(name, a, b);
}

int main(void) {
    GPU_TEST_START();
    const char *g = getenv("SILT_GEN"), *src = getenv("SILT_SOURCE_DIR");
    if (!g) {
        printf("SKIP: SILT_GEN not set (run through ctest)\n");
        return 77;
    }
    snprintf(gen, sizeof gen, "%s", g);
    snprintf(golden, sizeof golden, "%s/tests/golden", src ? src : ".");
    snprintf(embeds, sizeof embeds, "%s/tests/cli/data/sd3_text_embeds.safetensors", src ? src : ".");
    snprintf(tmp, sizeof tmp, "/tmp/silt_test_gpu_cli_%d", (int)getpid());
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", tmp);
    if (system(cmd) != 0) return 1;

    char args[4096];
    const char *dit_modes[] = {"cfg", "softpag", "seg"};
    for (int i = 0; i < 3; i++) {
        snprintf(args, sizeof args,
                 "--model '%s/dit_diffusers.model.safetensors' --vae '%s/vae_sd.model.safetensors' --class 3 "
                 "--steps 6 -q --guidance %s",
                 golden, golden, dit_modes[i]);
        char name[64];
        snprintf(name, sizeof name, "dit_%s", dit_modes[i]);
        case_(name, args);
    }
    snprintf(args, sizeof args,
             "--model '%s/dit_original.model.safetensors' --vae '%s/vae_sd.model.safetensors' --class 1 --steps 4 -q "
             "--sampler euler_a --seed 5",
             golden, golden);
    case_("dit_original_euler_a", args);
    const char *mm_modes[] = {"cfg", "pag", "softpag"};
    for (int i = 0; i < 3; i++) {
        snprintf(args, sizeof args,
                 "--model '%s/mmdit_diffusers.model.safetensors' --vae '%s/vae_sd3.model.safetensors' "
                 "--text-embeds '%s' --prompt 'a red circle' --steps 6 -q --guidance %s",
                 golden, golden, embeds, mm_modes[i]);
        char name[64];
        snprintf(name, sizeof name, "mmdit_%s", mm_modes[i]);
        case_(name, args);
    }
    // The built-in world model end to end: the README prompt on cuda matches the
    // cpu image (same tolerance) and world-eval gives both the same verdict.
    // The verdict itself is only reported: the shipped model does not yet pass
    // this prompt (README's eval table). SILT_WORLD_MODEL overrides the model;
    // without models/ the case is skipped.
    const char *wm_env = getenv("SILT_WORLD_MODEL");
    char wm[1024], wc[1024];
    snprintf(wm, sizeof wm, "%s", wm_env ? wm_env : "");
    if (!wm_env) snprintf(wm, sizeof wm, "%s/models/world-dit.safetensors.zst", src ? src : ".");
    snprintf(wc, sizeof wc, "%s/models/world-clip.safetensors.zst", src ? src : ".");
    if (access(wm, R_OK) == 0 && access(wc, R_OK) == 0) {
        static const char prompt[] = "a red circle left of a blue square";
        snprintf(args, sizeof args, "--model '%s' --clip '%s' --prompt '%s' -q", wm, wc, prompt);
        case_("world_default", args);
        snprintf(args, sizeof args, "--model '%s' --clip '%s' --prompt '%s' -q --guidance softpag --grid 4", wm, wc,
                 prompt);
        case_("world_softpag_grid4", args);
        int verdict[2] = {-1, -1};
        for (int d = 0; d < 2; d++) {
            snprintf(args, sizeof args, "'%s' eval --image '%s/world_default_%s.png' --prompt '%s' --json 2>&1 | grep -q '\"pass\": true'",
                     gen, tmp, d ? "cuda" : "cpu", prompt);
            int rc = system(args);
            printf("world-eval of the %s image: %s\n", d ? "cuda" : "cpu", rc == 0 ? "pass" : "fail");
            verdict[d] = rc == 0;
        }
        CHECK_MSG(verdict[0] == verdict[1], "world-eval says %s on cpu but %s on cuda", verdict[0] ? "pass" : "fail",
                  verdict[1] ? "pass" : "fail");
        // --precision tf32 / bf16 on cuda against fp32 on the cpu, as grids of
        // 4 seeds. Their rounding compounds over 20 guided steps, and a seed
        // near a bifurcation may move an object, so "within rounding" does not
        // apply; a working path stays far closer to the fp32 sheet than the
        // --seed 4 sheet is (mean |diff| under a tenth of it; on the 2-core
        // VM the two sheets differ by 52/255, while 19 steps instead of 20
        // move 0.15/255), a broken one does not. The PNG records the precision.
        char a[512], b[512], other_sheet[512];
        snprintf(a, sizeof a, "%s/world_grid_cpu.png", tmp);
        snprintf(other_sheet, sizeof other_sheet, "%s/world_grid_seed4_cpu.png", tmp);
        snprintf(args, sizeof args, "--model '%s' --clip '%s' --prompt '%s' -q --grid 4", wm, wc, prompt);
        int ok = run(args, "cpu", a);
        snprintf(args, sizeof args, "--model '%s' --clip '%s' --prompt '%s' -q --grid 4 --seed 4", wm, wc, prompt);
        double other = ok && run(args, "cpu", other_sheet) ? mean_abs_diff(a, other_sheet) : -1;
        const char *precs[2] = {"tf32", "bf16"};
        for (int i = 0; ok && i < 2; i++) {
            snprintf(b, sizeof b, "%s/world_grid_%s_cuda.png", tmp, precs[i]);
            snprintf(args, sizeof args, "--model '%s' --clip '%s' --prompt '%s' -q --grid 4 --precision %s", wm, wc,
                     prompt, precs[i]);
            if (!run(args, "cuda", b)) continue;
            double d = mean_abs_diff(a, b);
            printf("%s   world --precision %s vs fp32 cpu (grid 4): mean |diff| %.3f/255 (the --seed 4 sheet: %.3f/255)\n",
                   d >= 0 && d < other / 10 ? "ok" : "FAIL", precs[i], d, other);
            CHECK_MSG(d >= 0 && other > 0 && d < other / 10, "world --precision %s: mean |diff| %.3f vs %.3f for other seeds",
                      precs[i], d, other);
            char *pb = NULL, want[32];
            CHECK_OK(silt_image_read_png_text(b, "parameters", &pb));
            snprintf(want, sizeof want, "precision: %s", precs[i]);
            CHECK_MSG(pb && strstr(pb, want), "world --precision %s: the PNG does not record it", precs[i]);
            free(pb);
        }
    } else {
        printf("note: no built-in world model at %s: world case skipped\n", wm);
    }
    // The closing line says where the model ran; auto picks cuda when a GPU is usable.
    const char *devs[2][2] = {{"cuda", "on cuda"}, {"auto", "on cuda"}};
    for (int i = 0; i < 2; i++) {
        snprintf(args, sizeof args,
                 "'%s' generate --model '%s/dit_diffusers.model.safetensors' --vae '%s/vae_sd.model.safetensors' "
                 "--class 3 --steps 2 -q --device %s -o '%s/say.png' 2>&1 | grep -q 'model evaluations %s'",
                 gen, golden, golden, devs[i][0], tmp, devs[i][1]);
        CHECK_MSG(system(args) == 0, "gen --device %s did not say 'model evaluations %s'", devs[i][0], devs[i][1]);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) printf("note: could not remove %s\n", tmp);
    return check_summary();
}
