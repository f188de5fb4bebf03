#include "dit/embed.h"

#include <math.h>
#include <string.h>

#include "core/ops.h"
#include "cuda/cuda.h"

silt_tensor *dit_timestep_embedding(silt_graph *g, const float *t, int64_t n, int dim, bool flip_sin_to_cos,
                                    float downscale_freq_shift, float max_period) {
    if (dim < 2 || dim % 2) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "timestep embedding: dim %d must be even", dim));
        return NULL;
    }
    silt_tensor *out = silt_graph_new(g, n, dim, 0, 0);
    if (!out) return NULL;
    int half = dim / 2;
    // Computed on the host (n rows of dim floats); a CUDA graph gets a copy.
    bool dev = out->device != SILT_CPU;
    float *o = dev ? silt_arena_alloc(silt_graph_arena(g), (size_t)(n * dim) * sizeof(float)) : silt_f32(out);
    if (!o) { silt_graph_fail(g, SILT_ERR_OOM); return NULL; }
    for (int64_t r = 0; r < n; r++)
        for (int i = 0; i < half; i++) {
            // fp32 throughout, matching torch: exponent, exp, product, sin/cos.
            float exponent = -logf(max_period) * (float)i;
            exponent = exponent / ((float)half - downscale_freq_shift);
            float a = t[r] * expf(exponent);
            float s = sinf(a), c = cosf(a);
            o[r * dim + i] = flip_sin_to_cos ? c : s;
            o[r * dim + half + i] = flip_sin_to_cos ? s : c;
        }
    if (dev) return silt_graph_done(g, silt_cuda_memcpy_h2d(out->data, o, (size_t)(n * dim) * sizeof(float)), out);
    return out;
}

void dit_sincos_2d(float *out, int dim, int gh, int gw, double base_size, double interpolation_scale) {
    int quarter = dim / 4;
    for (int i = 0; i < gh; i++)
        for (int j = 0; j < gw; j++) {
            float *row = out + ((size_t)i * gw + j) * dim;
            double pos[2] = {(double)j / ((double)gw / base_size) / interpolation_scale,
                             (double)i / ((double)gh / base_size) / interpolation_scale};
            for (int axis = 0; axis < 2; axis++)
                for (int k = 0; k < quarter; k++) {
                    double omega = 1.0 / pow(10000.0, (double)k / quarter);
                    row[axis * 2 * quarter + k] = (float)sin(pos[axis] * omega);
                    row[axis * 2 * quarter + quarter + k] = (float)cos(pos[axis] * omega);
                }
        }
}

// The device path: a stride-p p x p conv is a matrix product over
// non-overlapping patches, so gather them (B, h*w, C*p*p) and multiply by the
// flattened (D, C*p*p) weight with cuBLAS; tokens come out in order, no
// transpose. (cuDNN is not needed.)
static silt_tensor *patchify_cuda(silt_graph *g, silt_tensor *x, silt_tensor *w, silt_tensor *b, int p) {
    if (silt_graph_check_dev(g, "patchify", x) || silt_graph_check_dev(g, "patchify", w) ||
        (b && silt_graph_check_dev(g, "patchify", b)))
        return NULL;
    char bx[64], bw[64];
    if (p < 1 || x->ndim != 4 || w->ndim != 4 || w->shape[1] != x->shape[1] || w->shape[2] != p || w->shape[3] != p ||
        x->shape[2] % p || x->shape[3] % p) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "patchify: x %s, w %s: want (B, C, H, W) with H, W multiples of %d "
                                                     "and w (D, C, %d, %d)",
                                     silt_shape_str(x, bx, sizeof bx), silt_shape_str(w, bw, sizeof bw), p, p, p));
        return NULL;
    }
    int64_t B = x->shape[0], C = x->shape[1], h = x->shape[2] / p, wd = x->shape[3] / p, K = C * p * p;
    silt_tensor *patches = silt_graph_tensor_f32(g, 3, (const int64_t[]){B, h * wd, K});
    if (!patches) return NULL;
    // The gather has no device backward: only x's grad is unsupported (w and b
    // get theirs through the reshape and the linear below).
    silt_graph_needs_grad(g, x, NULL, NULL);  // fails the graph when x asks for a grad
    if (!silt_graph_done(g, dit_patch_gather_fwd_cuda(silt_f32(patches), silt_f32(x), B, C, h, wd, p), patches))
        return NULL;
    silt_tensor *wf = silt_reshape(g, w, 2, (const int64_t[]){w->shape[0], K});
    return silt_linear(g, patches, wf, b);
}

silt_tensor *dit_patchify(silt_graph *g, silt_tensor *x, silt_tensor *w, silt_tensor *b, int p) {
    if (x && w && x->device == SILT_CUDA) return patchify_cuda(g, x, w, b, p);
    silt_tensor *y = silt_conv2d(g, x, w, b, p, 0);  // (B, D, h, w)
    if (!y) return NULL;
    int64_t shape[3] = {y->shape[0], y->shape[1], y->shape[2] * y->shape[3]};
    return silt_transpose(g, silt_reshape(g, y, 3, shape), 1, 2);
}

typedef struct { silt_tensor *x, *out; int h, w, p, C; } unpatch_node;

// Index of x's element for out[b, c, y, x] (shared by forward and backward).
static inline int64_t unpatch_src(int64_t B_stride, int h, int w, int p, int C, int64_t b, int c, int yy, int xx) {
    (void)h;
    int i = yy / p, pi = yy % p, j = xx / p, pj = xx % p;
    return b * B_stride + ((int64_t)i * w + j) * ((int64_t)p * p * C) + ((int64_t)pi * p + pj) * C + c;
}

static silt_status unpatchify_bwd(silt_graph *g, void *node) {
    unpatch_node *n = node;
    if (!n->out->grad) return SILT_OK;
    float *dx = silt_graph_grad(g, n->x);
    if (!dx) return silt_graph_status(g);
    int64_t B = n->out->shape[0], H = (int64_t)n->h * n->p, W = (int64_t)n->w * n->p;
    int64_t bs = (int64_t)n->h * n->w * n->p * n->p * n->C;
    const float *dout = n->out->grad;
#pragma omp parallel for collapse(2) if (B * n->C * H * W > 65536)
    for (int64_t b = 0; b < B; b++)
        for (int c = 0; c < n->C; c++)
            for (int yy = 0; yy < H; yy++)
                for (int xx = 0; xx < W; xx++)
                    dx[unpatch_src(bs, n->h, n->w, n->p, n->C, b, c, yy, xx)] += dout[((b * n->C + c) * H + yy) * W + xx];
    return SILT_OK;
}

silt_tensor *dit_unpatchify(silt_graph *g, silt_tensor *x, int h, int w, int p, int C) {
    if (!x) return NULL;
    if (x->ndim != 3 || x->shape[1] != (int64_t)h * w || x->shape[2] != (int64_t)p * p * C) {
        char buf[64];
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "unpatchify: x %s does not hold %dx%d patches of %dx%dx%d",
                                     silt_shape_str(x, buf, sizeof buf), h, w, p, p, C));
        return NULL;
    }
    if (silt_graph_check_dev(g, "unpatchify", x)) return NULL;
    int64_t B = x->shape[0], H = (int64_t)h * p, W = (int64_t)w * p;
    silt_tensor *out = silt_graph_new(g, B, C, H, W);
    if (!out) return NULL;
    if (out->device == SILT_CUDA && silt_graph_wants_grad(g, x, NULL, NULL)) {
        // Training on the device: the same gather as two 4-D permutes (which
        // have device backwards). x (B, h*w, p*p*C) is (B, h, w, p, p, C);
        // out[b, c, i*p+pi, j*p+pj] = x[b, i, j, pi, pj, c].
        //   (B*h, w, p, p*C) -> perm (0,2,1,3) -> (B*h, p, w, p*C)  [i, pi, j, (pj, c)]
        //   (B, h*p*w, p, C) -> perm (0,3,1,2) -> (B, C, h*p*w, p)  [c, (i, pi, j), pj]
        silt_tensor *t = silt_reshape(g, x, 4, (const int64_t[]){B * h, w, p, (int64_t)p * C});
        t = silt_permute(g, t, (const int[]){0, 2, 1, 3});
        t = silt_reshape(g, t, 4, (const int64_t[]){B, (int64_t)h * p * w, p, C});
        t = silt_permute(g, t, (const int[]){0, 3, 1, 2});
        return silt_reshape(g, t, 4, (const int64_t[]){B, C, H, W});
    }
    if (out->device == SILT_CUDA) {
        silt_graph_needs_grad(g, x, NULL, NULL);
        return silt_graph_done(g, dit_unpatchify_fwd_cuda(silt_f32(out), silt_f32(x), B, h, w, p, C), out);
    }
    int64_t bs = (int64_t)h * w * p * p * C;
    const float *xs = silt_f32(x);
    float *o = silt_f32(out);
#pragma omp parallel for collapse(2) if (B * C * H * W > 65536)
    for (int64_t b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int yy = 0; yy < H; yy++)
                for (int xx = 0; xx < W; xx++) o[((b * C + c) * H + yy) * W + xx] = xs[unpatch_src(bs, h, w, p, C, b, c, yy, xx)];
    if (silt_graph_needs_grad(g, x, NULL, NULL)) {
        out->requires_grad = true;
        unpatch_node *n = silt_graph_record(g, unpatchify_bwd, sizeof *n);
        if (!n) return NULL;
        *n = (unpatch_node){x, out, h, w, p, C};
    }
    return out;
}
