// world-eval under perturbations: measured pass rates on renders of the eval
// and heldout suites (all) and 200 train items, at 32 pixels, with
//   noise8 / noise16: Gaussian noise, sigma 8/255 and 16/255, rounded and clamped;
//   blur:   a 3x3 box blur (mean over the in-image neighbours);
//   jitter: the whole image shifted by one pixel (x, y or both; edges replicated).
// A perturbed render still satisfies its caption, so every failure is an
// evaluator error. Floors asserted (measured values are printed and sit well
// above them): noise8 >= 99%, noise16 >= 97%, blur >= 97%, jitter >= 99%.
// Also: a false caption must stay false under noise (no pass by accident),
// and, measured only (every 4th item), two harsher settings: noise at sigma
// 32/255, and a blur followed by noise at 16/255.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "core/rng.h"
#include "world/eval.h"
#include "world/suites.h"

enum { CLEAN, NOISE8, NOISE16, BLUR, JITTER, N_KINDS, NOISE32 = N_KINDS, BLUR_NOISE16, N_ALL };
static const char *const kind_names[N_ALL] = {"clean", "noise8", "noise16", "blur", "jitter", "noise32", "blur+n16"};
static const double floors[N_KINDS] = {1.0, 0.99, 0.97, 0.97, 0.99};

static void perturb(uint8_t *img, int n, int kind, uint64_t idx) {
    int nv = n * n * 3;
    static float f[64 * 64 * 3];
    static uint8_t c[64 * 64 * 3];
    switch (kind) {
    case NOISE8:
    case NOISE16:
    case NOISE32: {
        double sigma = kind == NOISE8 ? 8 : kind == NOISE16 ? 16 : 32;
        silt_rng_normal(f, nv, 77, idx, 0);
        for (int i = 0; i < nv; i++) {
            double v = floor(img[i] + sigma * f[i] + 0.5);
            img[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        break;
    }
    case BLUR:
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
                for (int ch = 0; ch < 3; ch++) {
                    double s = 0;
                    int k = 0;
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++) {
                            int xx = x + dx, yy = y + dy;
                            if (xx < 0 || yy < 0 || xx >= n || yy >= n) continue;
                            s += img[(yy * n + xx) * 3 + ch];
                            k++;
                        }
                    f[(y * n + x) * 3 + ch] = (float)(s / k);
                }
        for (int i = 0; i < nv; i++) img[i] = (uint8_t)floor(f[i] + 0.5);
        break;
    case JITTER: {
        // 8 directions in turn: (dx, dy) in {-1, 0, 1}^2 without (0, 0).
        int d = (int)(idx % 8), dx = d < 3 ? d - 1 : d < 5 ? (d == 3 ? -1 : 1) : d - 6, dy = d < 3 ? -1 : d < 5 ? 0 : 1;
        memcpy(c, img, (size_t)nv);
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++) {
                int sx = x - dx, sy = y - dy;
                sx = sx < 0 ? 0 : sx >= n ? n - 1 : sx;
                sy = sy < 0 ? 0 : sy >= n ? n - 1 : sy;
                memcpy(img + (y * n + x) * 3, c + (sy * n + sx) * 3, 3);
            }
        break;
    }
    default: break;
    }
}

int main(void) {
    clock_t t0 = clock();
    const int size = 32, n_train = 200;
    static uint8_t base[32 * 32 * 3], img[32 * 32 * 3];
    int pass[N_ALL][WORLD_SUITE_COUNT] = {{0}}, total[WORLD_SUITE_COUNT] = {0}, stress_total = 0;
    double soft[N_ALL] = {0};
    int false_pass = 0, false_total = 0;
    for (int s = 0; s < WORLD_SUITE_COUNT; s++) {
        int64_t n = s == WORLD_SUITE_TRAIN ? n_train : world_suite_size((world_suite)s);
        for (int64_t i = 0; i < n; i++) {
            world_item it;
            CHECK_OK(world_suite_item((world_suite)s, s == WORLD_SUITE_TRAIN ? 31 : 0, i, &it));
            CHECK_OK(world_render(&it.scene, size, NULL, base, NULL));
            total[s]++;
            stress_total += i % 4 == 0;
            for (int k = 0; k < N_ALL; k++) {
                if (k >= N_KINDS && i % 4) continue;
                memcpy(img, base, sizeof img);
                if (k == BLUR_NOISE16) {
                    perturb(img, size, BLUR, (uint64_t)(i + 1000 * s));
                    perturb(img, size, NOISE16, (uint64_t)(i + 1000 * s));
                } else {
                    perturb(img, size, k, (uint64_t)(i + 1000 * s));
                }
                world_eval_result r;
                CHECK_OK(world_eval_image(img, size, size, it.caption, &r));
                pass[k][s] += r.pass;
                soft[k] += r.score;
                if (k == NOISE16 && i % 4 == 0) {
                    // A colour-swapped caption stays false under noise.
                    world_reqs bad = it.reqs;
                    bad.phrases[0].colour = bad.phrases[0].colour < 0 ? WORLD_RED : (bad.phrases[0].colour + 3) % WORLD_COLOUR_COUNT;
                    world_check truth;
                    world_reqs_check_scene(&bad, &it.scene, &truth);
                    if (!truth.pass) {
                        world_eval_result rb;
                        CHECK_OK(world_eval_image_reqs(img, size, size, &bad, &rb));
                        false_total++;
                        false_pass += rb.pass;
                    }
                }
            }
        }
    }
    int all = total[0] + total[1] + total[2];
    printf("world-eval pass rate on perturbed %d-px renders (suites: train %d, eval %d, heldout %d)\n", size, total[0], total[1],
           total[2]);
    printf("%-8s %8s %8s %8s %8s %10s\n", "", "train", "eval", "heldout", "all", "mean soft");
    for (int k = 0; k < N_KINDS; k++) {
        int sum = pass[k][0] + pass[k][1] + pass[k][2];
        double rate = (double)sum / all;
        printf("%-8s %8.4f %8.4f %8.4f %8.4f %10.4f\n", kind_names[k], (double)pass[k][0] / total[0], (double)pass[k][1] / total[1],
               (double)pass[k][2] / total[2], rate, soft[k] / all);
        CHECK_MSG(rate >= floors[k], "%s: pass rate %.4f below the floor %.2f", kind_names[k], rate, floors[k]);
    }
    for (int k = N_KINDS; k < N_ALL; k++)
        printf("%-8s %8s %8s %8s %8.4f %10.4f  (measured on every 4th item, no floor)\n", kind_names[k], "", "", "",
               (double)(pass[k][0] + pass[k][1] + pass[k][2]) / stress_total, soft[k] / stress_total);
    printf("false captions passed under noise16: %d of %d\n", false_pass, false_total);
    CHECK(false_total > 100 && false_pass == 0);
    printf("time %.1f s\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
    return check_summary();
}
