// The VQ-VAE training loss (vqvae.h var_vq_train_loss): the residual
// multi-scale quantiser of VectorQuantizer2.forward (FoundationVision/VAR
// models/quant.py @ 78b9539, "only used in VAE training") with its codebook /
// commitment terms and straight-through estimator, plus a reconstruction
// term. VAR's tokenizer trainer is not public; the paper (sec. 3.2 and
// appendix) names "a compound loss (L2, perceptual, GAN)" as in VQGAN. We keep
// the L2 term (MSE in [-1, 1], F.mse_loss's mean) and drop the perceptual
// (needs a pretrained VGG/LPIPS, not available here) and GAN terms (a
// discriminator would double the cost and adds instability to a short CPU
// run on flat-shaded renders), so the images are slightly blurrier than a
// VQGAN's at the same rate.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "core/ops_vq.h"
#include "core/rng.h"
#include "cuda/cuda.h"
#include "var/vqvae_internal.h"

// Both functions below run on the tokenizer's device (var_vq_to_device): the
// convolutions, resampling, phi and losses are graph ops with device forward
// and backward; the nearest-code search is vq_nearest_cpu / vq_nearest_cuda
// (the same double arithmetic, so the same codes unless a distance tie is
// within rounding of the encoder's fp32 output), and its indices come back to
// the host, where var_vq_embed and the usage count read them.

// An arena tensor holding a copy of t's values with no grad (t.detach()), on
// the graph's device.
static silt_tensor *detach(silt_graph *g, const silt_tensor *t) {
    if (!t) return NULL;
    silt_tensor *d = silt_graph_tensor_f32(g, t->ndim, t->shape);
    if (!d) return NULL;
    if (d->device == SILT_CUDA) return silt_graph_done(g, silt_cuda_memcpy_d2d(d->data, t->data, silt_nbytes(t)), d);
    memcpy(d->data, t->data, silt_nbytes(t));
    return d;
}

// a - b with no graph node (a plain buffer update, as `f_rest -= h` in place).
static silt_tensor *sub_nograd(silt_graph *g, silt_tensor *a, silt_tensor *b) {
    bool grad = silt_graph_grad_enabled(g);
    silt_graph_set_grad(g, false);
    silt_tensor *r = silt_sub(g, a, b);
    silt_graph_set_grad(g, grad);
    return r;
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

// One scale's lookup: zs (B, C, pn, pn) (no grad) as rows (B pn pn, C) ->
// idx (B pn pn) host, nearest code of each row (rest_NC and the argmin of
// VectorQuantizer2.forward). zrows (host, may be NULL) gets the rows.
static silt_status lookup(silt_graph *g, const var_vqvae *vq, silt_tensor *zs, int32_t *idx, float *zrows) {
    if (!zs) return silt_graph_status(g);
    int64_t B = zs->shape[0], C = zs->shape[1], P = zs->shape[2] * zs->shape[3], V = vq->cfg.vocab_size;
    silt_tensor *rows = silt_transpose(g, silt_reshape(g, zs, 3, (int64_t[]){B, C, P}), 1, 2);  // (B, P, C)
    if (!rows) return silt_graph_status(g);
    if (zrows) SILT_TRY(to_host(g, zrows, rows));
    if (rows->device == SILT_CPU) {
        vq_nearest_cpu(idx, silt_f32(rows), silt_f32(vq->embedding), B * P, V, C);
        return SILT_OK;
    }
    silt_tensor *di = silt_graph_tensor(g, SILT_I32, 1, (int64_t[]){B * P});
    if (!di) return silt_graph_status(g);
    silt_status s = vq_nearest_cuda(silt_i32(di), silt_f32(rows), silt_f32(vq->embedding), B * P, V, C);
    if (s != SILT_OK) return silt_graph_fail(g, s);
    return to_host(g, idx, di);
}

// The tokenizer, the graph and the image must share a device.
static silt_status check_devices(silt_graph *g, const char *op, const var_vqvae *vq, const silt_tensor *img) {
    silt_device d = var_vq_device(vq);
    if (d == silt_graph_device(g) && d == img->device) return SILT_OK;
    return SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: the tokenizer is on %s, the graph on %s and the image on %s (one device "
                                           "for all: var_vq_to_device, silt_graph_create_on)",
                     op, silt_device_name(d), silt_device_name(silt_graph_device(g)), silt_device_name(img->device));
}

silt_tensor *var_vq_train_loss(silt_graph *g, const var_vqvae *vq, silt_tensor *img, float beta,
                               var_vq_loss_stats *stats) {
    if (!img) return NULL;
    if (!vq || !(beta >= 0)) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "var_vq_train_loss: NULL tokenizer or beta %g < 0", (double)beta));
        return NULL;
    }
    silt_status ds = check_devices(g, "var_vq_train_loss", vq, img);
    if (ds != SILT_OK) {
        silt_graph_fail(g, ds);
        return NULL;
    }
    const var_vq_config *c = &vq->cfg;
    int K = c->n_scales, H = c->patch_nums[K - 1];
    int64_t V = c->vocab_size;
    silt_tensor *f = var_vq_encode_features(g, vq, img);  // (B, Cvae, h, w)
    if (!f) return NULL;
    if (f->shape[2] != H || f->shape[3] != H) {
        char buf[64];
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "var_vq_train_loss: the image encodes to %s but the last scale is "
                                                     "%d x %d", silt_shape_str(f, buf, sizeof buf), H, H));
        return NULL;
    }
    int64_t B = f->shape[0];
    // f_no_grad = f.detach(); f_rest = f_no_grad.clone() (a plain buffer: it
    // only feeds the argmin, so no gradient ever reaches it).
    silt_tensor *f_ng = detach(g, f), *f_rest = detach(g, f);
    int32_t *idx = silt_arena_alloc(silt_graph_arena(g), (size_t)(B * H * H) * sizeof *idx);
    unsigned char *hit = calloc((size_t)V, 1);
    if (!f_ng || !f_rest || !idx || !hit) {
        free(hit);
        if (!silt_graph_status(g)) silt_graph_fail(g, SILT_ERR_OOM);
        return NULL;
    }
    silt_tensor *f_hat = NULL, *vq_loss = NULL;
    for (int si = 0; si < K; si++) {
        int pn = c->patch_nums[si];
        int64_t P = (int64_t)pn * pn;
        // rest_NC = area(f_rest, pn) (none at the last scale), as (B pn pn, C) rows
        silt_tensor *zs = si != K - 1 ? silt_area_downsample(g, f_rest, pn, pn) : f_rest;  // f_rest needs no grad
        if (lookup(g, vq, zs, idx, NULL) != SILT_OK) break;
        for (int64_t i = 0; i < B * P; i++) hit[idx[i]] = 1;
        // h = phi_si(bicubic(embedding(idx), H)) with grad to the codebook and phi
        silt_tensor *h = var_vq_embed(g, vq, idx, B, pn);
        if (si != K - 1) h = silt_upsample_bicubic(g, h, H, H);
        h = var_vq_phi(g, vq, si, h);
        f_hat = f_hat ? silt_add(g, f_hat, h) : h;
        f_rest = sub_nograd(g, f_rest, h);  // f_rest -= h
        if (!f_hat || !f_rest) break;
        // beta * mse(f_hat.data, f) + mse(f_hat, f_no_grad): the commitment
        // term trains the encoder, the codebook term the codebook and phi.
        silt_tensor *term = silt_add(g, silt_scale(g, silt_mse_loss(g, detach(g, f_hat), f), beta),
                                     silt_mse_loss(g, f_hat, f_ng));
        vq_loss = vq_loss ? silt_add(g, vq_loss, term) : term;
    }
    int used = 0;
    for (int64_t v = 0; v < V; v++) used += hit[v];
    free(hit);
    if (!f_hat || !vq_loss || silt_graph_status(g)) return NULL;
    vq_loss = silt_scale(g, vq_loss, 1.0f / (float)K);  // mean_vq_loss *= 1 / SN
    // Straight-through: f_hat = (f_hat.data - f_no_grad) + f, so the decoder's
    // gradient reaches the encoder unchanged.
    silt_tensor *delta = sub_nograd(g, f_hat, f_ng);
    silt_tensor *rec = var_vq_fhat_to_img(g, vq, silt_add(g, f, delta), false);
    silt_tensor *rec_loss = silt_mse_loss(g, rec, img);
    silt_tensor *loss = silt_add(g, rec_loss, vq_loss);
    if (loss && stats) {
        float r = 0, q = 0;
        if (to_host(g, &r, rec_loss) != SILT_OK || to_host(g, &q, vq_loss) != SILT_OK) return NULL;
        stats->rec = r;
        stats->vq = q;
        stats->codes_used = used;
    }
    return loss;
}

// Random restarts of dead codes (Dhariwal et al. 2020, "Jukebox", sec. 3.1:
// codes whose usage falls below a threshold are reset to random encoder
// outputs of the current batch). A code no lookup of this batch picked (at
// any scale) gets a random lookup vector of the batch (the area-downsampled
// residual rest_NC that the argmin saw), plus 1% Gaussian noise so that
// several restarted codes do not coincide. Everything is a function of the
// weights, the batch and seed, so a resumed run repeats it exactly.
silt_status var_vq_restart_dead_codes(var_vqvae *vq, silt_tensor *img, uint64_t seed, int *n_restarted) {
    if (n_restarted) *n_restarted = 0;
    if (!vq || !img) return SILT_FAIL(SILT_ERR_ARG, "var_vq_restart_dead_codes: NULL tokenizer or image");
    const silt_device dev = var_vq_device(vq);
    if (img->device != dev)
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "var_vq_restart_dead_codes: the tokenizer is on %s, the image on %s",
                         silt_device_name(dev), silt_device_name(img->device));
    const var_vq_config *c = &vq->cfg;
    int K = c->n_scales, H = c->patch_nums[K - 1];
    int64_t C = c->z_channels, V = c->vocab_size;
    // A graph of the tokenizer's device, without grad. On cuda the lookup
    // vectors and indices come back to the host (lookup), and the codebook
    // makes one explicit round trip below.
    silt_graph *g = dev == SILT_CPU ? silt_graph_create(0) : silt_graph_create_on(dev, 0);
    if (!g) return SILT_FAIL(SILT_ERR_OOM, "var_vq_restart_dead_codes: cannot create a %s graph: %s",
                             silt_device_name(dev), silt_last_error_message());
    silt_graph_set_grad(g, false);
    silt_tensor *f = var_vq_encode_features(g, vq, img);
    int64_t B = f ? f->shape[0] : 0;
    float *z = f ? malloc((size_t)(B * c->L * C) * sizeof *z) : NULL;
    int32_t *idx = f ? malloc((size_t)(B * c->L) * sizeof *idx) : NULL;
    int64_t *hits = calloc((size_t)V, sizeof *hits);
    float *E = NULL;  // the codebook in host memory (the tensor itself on the cpu)
    silt_status s = silt_graph_status(g);
    if (!s && (!z || !idx || !hits)) s = SILT_FAIL(SILT_ERR_OOM, "var_vq_restart_dead_codes: out of memory");
    if (!s && (f->shape[2] != H || f->shape[3] != H))
        s = SILT_FAIL(SILT_ERR_SHAPE, "var_vq_restart_dead_codes: features are not %d x %d", H, H);
    silt_tensor *f_rest = s ? NULL : silt_add_scalar(g, f, 0.0f);
    int64_t rows = 0;
    for (int si = 0; !s && si < K; si++) {
        int pn = c->patch_nums[si];
        int64_t P = (int64_t)pn * pn;
        silt_tensor *zs = si != K - 1 ? silt_area_downsample(g, f_rest, pn, pn) : f_rest;
        if (lookup(g, vq, zs, idx + rows, z + rows * C) != SILT_OK) break;
        for (int64_t i = 0; i < B * P; i++) hits[idx[rows + i]]++;
        silt_tensor *h = var_vq_embed(g, vq, idx + rows, B, pn);
        if (si != K - 1) h = silt_upsample_bicubic(g, h, H, H);
        h = var_vq_phi(g, vq, si, h);
        f_rest = silt_sub(g, f_rest, h);  // no grad on this graph: a plain update
        if (!f_rest) break;
        rows += B * P;
    }
    if (!s) s = silt_graph_status(g);
    size_t ebytes = silt_nbytes(vq->embedding);
    if (!s && rows > 0) {
        if (dev == SILT_CPU) {
            E = silt_f32(vq->embedding);
        } else if (!(E = malloc(ebytes))) {
            s = SILT_FAIL(SILT_ERR_OOM, "var_vq_restart_dead_codes: out of memory");
        } else {
            s = silt_cuda_memcpy_d2h(E, vq->embedding->data, ebytes);
        }
    }
    if (!s && rows > 0) {
        silt_rng r = silt_rng_init(seed, 0x7265737461727473ull);  // "restarts"
        int dead = 0;
        for (int64_t v = 0; v < V; v++) {
            if (hits[v]) continue;
            const float *src = z + (int64_t)silt_rng_uniform_int(&r, (uint64_t)rows) * C;
            double norm = 0;
            for (int64_t ch = 0; ch < C; ch++) norm += (double)src[ch] * src[ch];
            double sd = 0.01 * sqrt(norm / (double)C) + 1e-6;
            for (int64_t ch = 0; ch < C; ch++) {
                // Box-Muller from two uniforms of the same stream
                double u1 = silt_rng_next_double(&r), u2 = silt_rng_next_double(&r);
                double gauss = sqrt(-2.0 * log(u1 + 1e-300)) * cos(2.0 * M_PI * u2);
                E[v * C + ch] = (float)(src[ch] + sd * gauss);
            }
            dead++;
        }
        // The new rows go back to the device before the caller's next use of
        // the codebook (the copy is synchronous).
        if (dead && dev != SILT_CPU) s = silt_cuda_memcpy_h2d(vq->embedding->data, E, ebytes);
        if (!s && n_restarted) *n_restarted = dead;
    }
    if (dev != SILT_CPU) free(E);
    free(z);
    free(idx);
    free(hits);
    silt_graph_free(g);
    return s;
}
