// VAR's multi-scale residual quantiser (see vqvae.h), after
// FoundationVision/VAR models/quant.py VectorQuantizer2: f_to_idxBl_or_fhat,
// embed_to_fhat, idxBl_to_var_input, get_next_autoregressive_input, and
// models/vqvae.py img_to_idxBl / idxBl_to_img.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/ops.h"
#include "core/ops_vq.h"
#include "cuda/cuda.h"
#include "var/vqvae_internal.h"

silt_tensor *var_vq_phi(silt_graph *g, const var_vqvae *vq, int si, silt_tensor *h) {
    if (!h) return NULL;
    const var_vq_config *c = &vq->cfg;
    if (c->phi_share == VAR_PHI_IDENTITY) return h;
    int k = var_phi_index(si, c->n_scales, c->n_phi);
    if (k < 0) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "var_vq: scale %d is outside 0..%d", si, c->n_scales - 1));
        return NULL;
    }
    // Phi.forward: h.mul(1 - r) + conv(h).mul_(r)
    float r = c->quant_resi;
    silt_tensor *conv = silt_conv2d(g, h, vq->phi[k].w, vq->phi[k].b, 1, 1);
    return silt_add(g, silt_scale(g, h, (float)(1.0 - (double)r)), silt_scale(g, conv, r));
}

// Codebook rows of tokens idx[b * stride + t], t < pn^2 -> (B, Cvae, pn, pn)
// (embedding(idx_Bl).transpose(1, 2).view(B, C, pn, pn)).
static silt_tensor *embed_strided(silt_graph *g, const var_vqvae *vq, const int32_t *idx, int64_t stride, int64_t B,
                                  int pn) {
    int64_t l = (int64_t)pn * pn, C = vq->cfg.z_channels;
    // The rows gathered into a host array (arena), then onto the graph's device.
    int32_t *host = silt_arena_alloc(silt_graph_arena(g), (size_t)(B * l) * sizeof *host);
    if (!host) { silt_graph_fail(g, SILT_ERR_OOM); return NULL; }
    for (int64_t b = 0; b < B; b++) memcpy(host + b * l, idx + b * stride, (size_t)l * sizeof *idx);
    silt_tensor *ids = silt_graph_upload(g, SILT_I32, 2, (int64_t[]){B, l}, host);
    silt_tensor *e = silt_embedding(g, ids, vq->embedding);  // (B, l, C)
    return silt_reshape(g, silt_transpose(g, e, 1, 2), 4, (int64_t[]){B, C, pn, pn});
}

static bool check_tokenizer(silt_graph *g, const char *op, const var_vqvae *vq, int64_t B) {
    if (!vq) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "%s: NULL tokenizer", op));
        return false;
    }
    if (B < 1) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "%s: batch %lld must be >= 1", op, (long long)B));
        return false;
    }
    if (var_vq_device(vq) != silt_graph_device(g)) {  // the codebook search reads it directly
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: the tokenizer is on %s but the graph on %s (move it "
                                                           "with var_vq_to_device)", op,
                                     silt_device_name(var_vq_device(vq)), silt_device_name(silt_graph_device(g))));
        return false;
    }
    return true;
}

silt_tensor *var_vq_embed(silt_graph *g, const var_vqvae *vq, const int32_t *idx, int64_t B, int pn) {
    if (!check_tokenizer(g, "var_vq_embed", vq, B)) return NULL;
    if (!idx || pn < 1) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "var_vq_embed: NULL indices or patch size %d < 1", pn));
        return NULL;
    }
    return embed_strided(g, vq, idx, (int64_t)pn * pn, B, pn);
}

static silt_tensor *zeros(silt_graph *g, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    silt_tensor *t = silt_graph_new(g, d0, d1, d2, d3);
    if (t && t->device == SILT_CUDA) return silt_graph_done(g, silt_cuda_memset(t->data, 0, silt_nbytes(t)), t);
    if (t) memset(t->data, 0, silt_nbytes(t));
    return t;
}

// A graph tensor's bytes into host memory (a memcpy on the cpu, a download from cuda).
static silt_status to_host(silt_graph *g, void *dst, const silt_tensor *t) {
    if (t->device == SILT_CPU) {
        memcpy(dst, t->data, silt_nbytes(t));
        return SILT_OK;
    }
    silt_status s = silt_cuda_memcpy_d2h(dst, t->data, silt_nbytes(t));
    return s == SILT_OK ? SILT_OK : silt_graph_fail(g, s);
}

// The nearest code of every position of z (B, C, P), into out[b * L + p]:
// argmin_v |z - e_v|^2 in double (vq_nearest_cpu's arithmetic, read in
// place from the channel-major map); the reference expands it as
// |z|^2 + |e|^2 - 2 z.e in fp32, which picks the same code unless two codes
// are within rounding of each other (the golden data checks margins).
static void nearest_cpu(const var_vqvae *vq, const float *zd, int64_t B, int64_t P, int32_t *out, int64_t L) {
    int64_t C = vq->cfg.z_channels, V = vq->cfg.vocab_size;
    const float *E = silt_f32(vq->embedding);
#pragma omp parallel for collapse(2) if (B * P * V * C > 100000)
    for (int64_t b = 0; b < B; b++)
        for (int64_t p = 0; p < P; p++) {
            const float *zp = zd + b * C * P + p;
            double best = INFINITY;
            int32_t arg = 0;
            for (int64_t v = 0; v < V; v++) {
                const float *e = E + v * C;
                double d = 0;
                for (int64_t ch = 0; ch < C; ch++) {
                    double t = (double)zp[ch * P] - e[ch];
                    d += t * t;
                }
                if (d < best) { best = d; arg = (int32_t)v; }
            }
            out[b * L + p] = arg;
        }
}

// The nearest code of every position of z (B, C, P) on a cuda graph: z as
// (B P, C) rows through vq_nearest_cuda (the CPU loop's double arithmetic in
// its order, ties to the lowest index, so the indices are the CPU's), then
// back to the host into out[b * L + p].
static silt_status nearest_cuda(silt_graph *g, const var_vqvae *vq, silt_tensor *z, int64_t B, int64_t P,
                                int32_t *out, int64_t L) {
    int64_t C = vq->cfg.z_channels, V = vq->cfg.vocab_size;
    silt_tensor *rows = silt_transpose(g, silt_reshape(g, z, 3, (int64_t[]){B, C, P}), 1, 2);  // (B, P, C)
    silt_tensor *idx = silt_graph_tensor(g, SILT_I32, 1, (int64_t[]){B * P});
    int32_t *host = silt_arena_alloc(silt_graph_arena(g), (size_t)(B * P) * sizeof *host);
    if (!rows || !idx) return silt_graph_status(g);
    if (!host) return silt_graph_fail(g, SILT_ERR_OOM);
    silt_status s = vq_nearest_cuda(silt_i32(idx), silt_f32(rows), silt_f32(vq->embedding), B * P, V, C);
    if (s != SILT_OK) return silt_graph_fail(g, s);
    SILT_TRY(to_host(g, host, idx));
    for (int64_t b = 0; b < B; b++) memcpy(out + b * L, host + b * P, (size_t)P * sizeof *out);
    return SILT_OK;
}

silt_status var_vq_quantize(silt_graph *g, const var_vqvae *vq, silt_tensor *f, int32_t *idx, float *fhat_scales) {
    if (!f) return silt_graph_status(g) != SILT_OK ? silt_graph_status(g) : SILT_FAIL(SILT_ERR_ARG, "var_vq_quantize: NULL f");
    if (!check_tokenizer(g, "var_vq_quantize", vq, f->ndim == 4 ? f->shape[0] : 1)) return silt_graph_status(g);
    const var_vq_config *c = &vq->cfg;
    int K = c->n_scales, H = c->patch_nums[K - 1];
    int64_t C = c->z_channels, L = c->L;
    char buf[64];
    if (f->dtype != SILT_F32 || f->ndim != 4 || f->shape[1] != C || f->shape[2] != H || f->shape[3] != H)
        return silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "var_vq_quantize: f must be (B, %lld, %d, %d) f32 (the last "
                                                            "patch size), got %s", (long long)C, H, H,
                                            silt_shape_str(f, buf, sizeof buf)));
    if (!idx) return silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "var_vq_quantize: NULL idx"));
    int64_t B = f->shape[0];
    // Indices go to an arena buffer first, so idx is untouched on failure.
    int32_t *out = silt_arena_alloc(silt_graph_arena(g), (size_t)(B * L) * sizeof *out);
    if (!out) return silt_graph_fail(g, SILT_ERR_OOM);
    silt_tensor *f_rest = silt_add_scalar(g, f, 0.0f);  // f_no_grad.clone()
    silt_tensor *f_hat = zeros(g, B, C, H, H);
    int64_t begin = 0;
    for (int si = 0; si < K && f_rest && f_hat; si++) {
        int pn = c->patch_nums[si];
        int64_t P = (int64_t)pn * pn;
        silt_tensor *z = si != K - 1 ? silt_area_downsample(g, f_rest, pn, pn) : f_rest;
        if (!z) break;
        if (z->device == SILT_CUDA) {
            if (nearest_cuda(g, vq, z, B, P, out + begin, L) != SILT_OK) break;
        } else {
            nearest_cpu(vq, silt_f32(z), B, P, out + begin, L);
        }
        silt_tensor *h = embed_strided(g, vq, out + begin, L, B, pn);
        if (si != K - 1) h = silt_upsample_bicubic(g, h, H, H);
        h = var_vq_phi(g, vq, si, h);
        f_hat = silt_add(g, f_hat, h);
        f_rest = silt_sub(g, f_rest, h);
        if (fhat_scales && f_hat && to_host(g, fhat_scales + si * B * C * H * H, f_hat) != SILT_OK) break;
        begin += P;
    }
    silt_status s = silt_graph_status(g);
    if (s != SILT_OK) return s;
    memcpy(idx, out, (size_t)(B * L) * sizeof *idx);
    return SILT_OK;
}

silt_status var_vq_encode(silt_graph *g, const var_vqvae *vq, silt_tensor *img, int32_t *idx) {
    if (!img) return silt_graph_status(g) != SILT_OK ? silt_graph_status(g) : SILT_FAIL(SILT_ERR_ARG, "var_vq_encode: NULL image");
    if (!check_tokenizer(g, "var_vq_encode", vq, 1)) return silt_graph_status(g);
    const var_vq_config *c = &vq->cfg;
    int64_t side = (int64_t)c->patch_nums[c->n_scales - 1] * c->downsample;
    if (img->ndim != 4 || img->shape[2] != side || img->shape[3] != side) {
        char buf[64];
        return silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "var_vq_encode: image must be (B, %d, %lld, %lld) for the "
                                                            "last patch size %d x downsampling %d, got %s",
                                            c->in_channels, (long long)side, (long long)side,
                                            c->patch_nums[c->n_scales - 1], c->downsample,
                                            silt_shape_str(img, buf, sizeof buf)));
    }
    silt_tensor *f = var_vq_encode_features(g, vq, img);
    if (!f) return silt_graph_status(g);
    return var_vq_quantize(g, vq, f, idx, NULL);
}

silt_tensor *var_vq_idx_to_fhat(silt_graph *g, const var_vqvae *vq, const int32_t *idx, int64_t B) {
    if (!check_tokenizer(g, "var_vq_idx_to_fhat", vq, B)) return NULL;
    if (!idx) { silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "var_vq_idx_to_fhat: NULL indices")); return NULL; }
    const var_vq_config *c = &vq->cfg;
    int K = c->n_scales, H = c->patch_nums[K - 1];
    silt_tensor *f_hat = zeros(g, B, c->z_channels, H, H);
    int64_t begin = 0;
    for (int si = 0; si < K; si++) {
        int pn = c->patch_nums[si];
        silt_tensor *h = embed_strided(g, vq, idx + begin, c->L, B, pn);
        if (si < K - 1) h = silt_upsample_bicubic(g, h, H, H);
        f_hat = silt_add(g, f_hat, var_vq_phi(g, vq, si, h));
        begin += (int64_t)pn * pn;
    }
    return f_hat;
}

silt_tensor *var_vq_decode(silt_graph *g, const var_vqvae *vq, const int32_t *idx, int64_t B) {
    return var_vq_fhat_to_img(g, vq, var_vq_idx_to_fhat(g, vq, idx, B), true);
}

silt_tensor *var_vq_idx_to_var_input(silt_graph *g, const var_vqvae *vq, const int32_t *idx, int64_t B) {
    if (!check_tokenizer(g, "var_vq_idx_to_var_input", vq, B)) return NULL;
    if (!idx) { silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "var_vq_idx_to_var_input: NULL indices")); return NULL; }
    const var_vq_config *c = &vq->cfg;
    int K = c->n_scales, H = c->patch_nums[K - 1];
    int64_t C = c->z_channels;
    silt_tensor *f_hat = zeros(g, B, C, H, H);
    silt_tensor *next[VAR_MAX_SCALES];
    int64_t begin = 0;
    for (int si = 0; si < K - 1; si++) {
        int pn = c->patch_nums[si], pn_next = c->patch_nums[si + 1];
        silt_tensor *h = silt_upsample_bicubic(g, embed_strided(g, vq, idx + begin, c->L, B, pn), H, H);
        f_hat = silt_add(g, f_hat, var_vq_phi(g, vq, si, h));
        silt_tensor *n = silt_area_downsample(g, f_hat, pn_next, pn_next);
        n = silt_reshape(g, n, 3, (int64_t[]){B, C, (int64_t)pn_next * pn_next});
        next[si] = silt_transpose(g, n, 1, 2);  // (B, pn_next^2, C)
        if (!next[si]) return NULL;
        begin += (int64_t)pn * pn;
    }
    return silt_concat(g, next, K - 1, 1);
}

silt_tensor *var_vq_next_input(silt_graph *g, const var_vqvae *vq, int si, silt_tensor *f_hat, silt_tensor *h,
                               silt_tensor **next) {
    if (next) *next = NULL;
    if (!f_hat || !h) return NULL;
    if (!check_tokenizer(g, "var_vq_next_input", vq, f_hat->ndim == 4 ? f_hat->shape[0] : 1)) return NULL;
    const var_vq_config *c = &vq->cfg;
    int K = c->n_scales, H = c->patch_nums[K - 1];
    if (si < 0 || si >= K || !next) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "var_vq_next_input: scale %d outside 0..%d or NULL next", si, K - 1));
        return NULL;
    }
    int64_t B = f_hat->shape[0], C = c->z_channels, pn = c->patch_nums[si];
    if (f_hat->ndim != 4 || f_hat->shape[1] != C || f_hat->shape[2] != H || f_hat->shape[3] != H || h->ndim != 4 ||
        h->shape[0] != B || h->shape[1] != C || h->shape[2] != pn || h->shape[3] != pn) {
        char a[64], b[64];
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "var_vq_next_input: scale %d needs f_hat (B, %lld, %d, %d) and h "
                                                     "(B, %lld, %lld, %lld), got %s and %s", si, (long long)C, H, H,
                                     (long long)C, (long long)pn, (long long)pn, silt_shape_str(f_hat, a, sizeof a),
                                     silt_shape_str(h, b, sizeof b)));
        return NULL;
    }
    if (si != K - 1) {
        silt_tensor *out = silt_add(g, f_hat, var_vq_phi(g, vq, si, silt_upsample_bicubic(g, h, H, H)));
        *next = silt_area_downsample(g, out, c->patch_nums[si + 1], c->patch_nums[si + 1]);
        return *next ? out : NULL;
    }
    silt_tensor *out = silt_add(g, f_hat, var_vq_phi(g, vq, si, h));
    *next = out;
    return out;
}
