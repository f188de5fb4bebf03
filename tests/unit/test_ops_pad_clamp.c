// silt_pad2d and silt_clamp: forward against plain references, backward
// against finite differences; their raw kernels; the in-place inference variants of SiLU and add.
#include <string.h>

#include "check.h"
#include "core/ops.h"
#include "gradcheck.h"

static int pads[4];
static float lo_, hi_;

static silt_tensor *pad_fn(silt_graph *g, silt_tensor **in, void *u) {
    (void)u;
    return silt_pad2d(g, in[0], pads[0], pads[1], pads[2], pads[3]);
}
static silt_tensor *clamp_fn(silt_graph *g, silt_tensor **in, void *u) {
    (void)u;
    return silt_clamp(g, in[0], lo_, hi_);
}

static void test_pad(int N, int C, int H, int W, int l, int r, int t, int b) {
    int64_t shape[4] = {N, C, H, W};
    silt_tensor *x = silt_tensor_create_f32(4, shape, true);
    test_fill(silt_f32(x), silt_numel(x), -1, 1);
    silt_graph *g = silt_graph_create(0);
    silt_tensor *y = silt_pad2d(g, x, l, r, t, b);
    int Ho = H + t + b, Wo = W + l + r;
    CHECK(y && y->shape[2] == Ho && y->shape[3] == Wo);
    int bad = 0;
    for (int p = 0; y && p < N * C; p++)
        for (int yy = 0; yy < Ho; yy++)
            for (int xx = 0; xx < Wo; xx++) {
                int sy = yy - t, sx = xx - l;
                float want = (sy >= 0 && sy < H && sx >= 0 && sx < W) ? silt_f32(x)[(p * H + sy) * W + sx] : 0.0f;
                bad += silt_f32(y)[(p * Ho + yy) * Wo + xx] != want;
            }
    CHECK_MSG(bad == 0, "pad2d %dx%dx%dx%d pads (%d,%d,%d,%d): %d wrong", N, C, H, W, l, r, t, b, bad);
    silt_graph_free(g);
    pads[0] = l; pads[1] = r; pads[2] = t; pads[3] = b;
    gradcheck_run("pad2d", pad_fn, &x, 1, NULL, gradcheck_default());
    silt_tensor_free(x);
}

static void test_clamp(void) {
    int64_t shape[2] = {7, 9};
    silt_tensor *x = silt_tensor_create_f32(2, shape, true);
    test_fill(silt_f32(x), 63, -3, 3);
    silt_graph *g = silt_graph_create(0);
    silt_tensor *y = silt_clamp(g, x, -1.0f, 0.5f);
    int bad = 0;
    for (int i = 0; y && i < 63; i++) {
        float v = silt_f32(x)[i], want = v < -1 ? -1 : v > 0.5f ? 0.5f : v;
        bad += silt_f32(y)[i] != want;
    }
    CHECK_MSG(y && bad == 0, "clamp: %d wrong", bad);
    CHECK(silt_clamp(g, x, 1.0f, 0.0f) == NULL && silt_graph_status(g) == SILT_ERR_ARG);
    silt_graph_free(g);
    // Keep inputs away from the kinks so central differences are clean.
    for (int i = 0; i < 63; i++) {
        float *v = silt_f32(x) + i;
        if (fabsf(*v + 1) < 0.01f || fabsf(*v - 0.5f) < 0.01f) *v += 0.05f;
    }
    lo_ = -1.0f; hi_ = 0.5f;
    gradcheck_run("clamp", clamp_fn, &x, 1, NULL, gradcheck_default());
    silt_tensor_free(x);
}

static void test_inplace(void) {
    int64_t shape[2] = {3, 5};
    silt_tensor *w = silt_tensor_create_f32(2, shape, true), *r = silt_tensor_create_f32(2, shape, false);
    test_fill(silt_f32(w), 15, -2, 2);
    test_fill(silt_f32(r), 15, -2, 2);
    silt_graph *g = silt_graph_create(0);
    // No grad: h is overwritten and returned.
    silt_graph_set_grad(g, false);
    silt_tensor *h = silt_scale(g, w, 1.0f), *h0 = h;
    float want[15], sum[15];
    for (int i = 0; i < 15; i++) {
        float v = silt_f32(w)[i];
        want[i] = v / (1.0f + expf(-v));
        sum[i] = silt_f32(r)[i] + want[i];
    }
    h = silt_silu_inplace(g, h);
    CHECK(h == h0);
    CHECK_CLOSE("silu_inplace", silt_f32(h), want, 15, 1e-6, 1e-7);
    h = silt_add_inplace(g, r, h);
    CHECK(h == h0);
    CHECK_CLOSE("add_inplace", silt_f32(h), sum, 15, 1e-6, 1e-7);
    // With grad: a new tensor, and the gradient still flows.
    silt_graph_reset(g);
    silt_graph_set_grad(g, true);
    silt_tensor *a = silt_scale(g, w, 1.0f), *b = silt_silu_inplace(g, a);
    CHECK(b && b != a && b->requires_grad);
    silt_tensor *c = silt_add_inplace(g, r, b);
    CHECK(c && c != b);
    silt_tensor_zero_grad(w);
    CHECK_OK(silt_backward(g, silt_sum(g, c), NULL));
    float dsilu[15];
    for (int i = 0; i < 15; i++) {
        float v = silt_f32(w)[i], sg = 1.0f / (1.0f + expf(-v));
        dsilu[i] = sg * (1 + v * (1 - sg));
    }
    CHECK_CLOSE("silu_inplace grad", w->grad, dsilu, 15, 1e-5, 1e-6);
    silt_graph_free(g);
    silt_tensor_free(w);
    silt_tensor_free(r);
}

// The raw kernels the CUDA twins mirror: NaN passes clamp's forward and gets
// no gradient; both backwards accumulate (+=).
static void test_raw(void) {
    float x[5] = {-2.0f, -1.0f, 0.25f, 0.5f, NAN}, y[5], dx[5] = {10, 10, 10, 10, 10}, g[5] = {1, 2, 3, 4, 5};
    clamp_fwd_cpu(y, x, 5, -1.0f, 0.5f);
    CHECK(y[0] == -1.0f && y[1] == -1.0f && y[2] == 0.25f && y[3] == 0.5f && isnan(y[4]));
    clamp_bwd_cpu(dx, g, x, 5, -1.0f, 0.5f);
    CHECK(dx[0] == 10 && dx[1] == 12 && dx[2] == 13 && dx[3] == 14 && dx[4] == 10);
    // pad2d of 2 planes 1x2 by (left 1, right 0, top 0, bottom 1) -> 2x3 each.
    float p[4] = {1, 2, 3, 4}, o[12], dp[4] = {1, 1, 1, 1}, go[12];
    pad2d_fwd_cpu(o, p, 2, 1, 2, 1, 0, 0, 1);
    const float want[12] = {0, 1, 2, 0, 0, 0, 0, 3, 4, 0, 0, 0};
    CHECK(memcmp(o, want, sizeof o) == 0);
    for (int i = 0; i < 12; i++) go[i] = (float)(i + 1);
    pad2d_bwd_cpu(dp, go, 2, 1, 2, 1, 0, 0, 1);
    CHECK(dp[0] == 3 && dp[1] == 4 && dp[2] == 9 && dp[3] == 10);
}

int main(void) {
    test_seed(7);
    test_raw();
    test_pad(2, 3, 5, 7, 0, 1, 0, 1);
    test_pad(1, 2, 4, 3, 2, 0, 1, 3);
    test_pad(1, 1, 1, 1, 0, 0, 0, 0);
    silt_graph *g = silt_graph_create(0);
    int64_t s3[3] = {1, 2, 3};
    silt_tensor *x3 = silt_tensor_create_f32(3, s3, false);
    CHECK(silt_pad2d(g, x3, 1, 1, 1, 1) == NULL && silt_graph_status(g) == SILT_ERR_ARG);
    silt_tensor_free(x3);
    silt_graph_free(g);
    test_clamp();
    test_inplace();
    return check_summary();
}
