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
#include "var/vqvae_internal.h"

// An arena tensor holding a copy of t's values with no grad (t.detach()).
static silt_tensor *detach(silt_graph *g, const silt_tensor *t) {
    if (!t) return NULL;
    silt_tensor *d = silt_graph_tensor_f32(g, t->ndim, t->shape);
    if (d) memcpy(d->data, t->data, silt_nbytes(t));
    return d;
}

silt_tensor *var_vq_train_loss(silt_graph *g, const var_vqvae *vq, silt_tensor *img, float beta,
                               var_vq_loss_stats *stats) {
    if (!img) return NULL;
    if (!vq || !(beta >= 0)) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "var_vq_train_loss: NULL tokenizer or beta %g < 0", (double)beta));
        return NULL;
    }
    if (var_vq_device(vq) != SILT_CPU || silt_graph_device(g) != SILT_CPU) {  // the quantiser below reads host memory
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_UNSUPPORTED, "var_vq_train_loss: training runs on the cpu (tokenizer on "
                                                           "%s, graph on %s)", silt_device_name(var_vq_device(vq)),
                                     silt_device_name(silt_graph_device(g))));
        return NULL;
    }
    const var_vq_config *c = &vq->cfg;
    int K = c->n_scales, H = c->patch_nums[K - 1];
    int64_t C = c->z_channels, V = c->vocab_size;
    silt_tensor *f = var_vq_encode_features(g, vq, img);  // (B, Cvae, h, w)
    if (!f) return NULL;
    if (f->shape[2] != H || f->shape[3] != H) {
        char buf[64];
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "var_vq_train_loss: the image encodes to %s but the last scale is "
                                                     "%d x %d", silt_shape_str(f, buf, sizeof buf), H, H));
        return NULL;
    }
    int64_t B = f->shape[0], n = silt_numel(f);
    // f_no_grad = f.detach(); f_rest = f_no_grad.clone() (a plain buffer: it
    // only feeds the argmin, so no gradient ever reaches it).
    silt_tensor *f_ng = detach(g, f), *f_rest = detach(g, f);
    int32_t *idx = silt_arena_alloc(silt_graph_arena(g), (size_t)(B * H * H) * sizeof *idx);
    float *z = silt_arena_alloc(silt_graph_arena(g), (size_t)(B * H * H * C) * sizeof *z);
    unsigned char *hit = calloc((size_t)V, 1);
    if (!f_ng || !f_rest || !idx || !z || !hit) {
        free(hit);
        silt_graph_fail(g, SILT_ERR_OOM);
        return NULL;
    }
    silt_tensor *f_hat = NULL, *vq_loss = NULL;
    for (int si = 0; si < K; si++) {
        int pn = c->patch_nums[si];
        int64_t P = (int64_t)pn * pn;
        // rest_NC = area(f_rest, pn) (none at the last scale), as (B pn pn, C) rows
        silt_tensor *zs = si != K - 1 ? silt_area_downsample(g, f_rest, pn, pn) : f_rest;  // f_rest needs no grad
        if (!zs) break;
        for (int64_t b = 0; b < B; b++)
            for (int64_t p = 0; p < P; p++)
                for (int64_t ch = 0; ch < C; ch++) z[(b * P + p) * C + ch] = silt_f32(zs)[(b * C + ch) * P + p];
        vq_nearest_cpu(idx, z, silt_f32(vq->embedding), B * P, V, C);
        for (int64_t i = 0; i < B * P; i++) hit[idx[i]] = 1;
        // h = phi_si(bicubic(embedding(idx), H)) with grad to the codebook and phi
        silt_tensor *h = var_vq_embed(g, vq, idx, B, pn);
        if (si != K - 1) h = silt_upsample_bicubic(g, h, H, H);
        h = var_vq_phi(g, vq, si, h);
        f_hat = f_hat ? silt_add(g, f_hat, h) : h;
        if (!f_hat) break;
        for (int64_t i = 0; i < n; i++) silt_f32(f_rest)[i] -= silt_f32(h)[i];  // f_rest -= h
        // beta * mse(f_hat.data, f) + mse(f_hat, f_no_grad): the commitment
        // term trains the encoder, the codebook term the codebook and phi.
        silt_tensor *term = silt_add(g, silt_scale(g, silt_mse_loss(g, detach(g, f_hat), f), beta),
                                     silt_mse_loss(g, f_hat, f_ng));
        vq_loss = vq_loss ? silt_add(g, vq_loss, term) : term;
    }
    int used = 0;
    for (int64_t v = 0; v < V; v++) used += hit[v];
    free(hit);
    if (!f_hat || !vq_loss) return NULL;
    vq_loss = silt_scale(g, vq_loss, 1.0f / (float)K);  // mean_vq_loss *= 1 / SN
    // Straight-through: f_hat = (f_hat.data - f_no_grad) + f, so the decoder's
    // gradient reaches the encoder unchanged.
    silt_tensor *delta = silt_graph_tensor_f32(g, f->ndim, f->shape);
    if (!delta) return NULL;
    for (int64_t i = 0; i < n; i++) silt_f32(delta)[i] = silt_f32(f_hat)[i] - silt_f32(f_ng)[i];
    silt_tensor *rec = var_vq_fhat_to_img(g, vq, silt_add(g, f, delta), false);
    silt_tensor *rec_loss = silt_mse_loss(g, rec, img);
    silt_tensor *loss = silt_add(g, rec_loss, vq_loss);
    if (loss && stats) {
        stats->rec = silt_f32(rec_loss)[0];
        stats->vq = silt_f32(vq_loss)[0];
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
    if (var_vq_device(vq) != SILT_CPU || img->device != SILT_CPU)
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "var_vq_restart_dead_codes: runs on the cpu (tokenizer on %s, image on %s)",
                         silt_device_name(var_vq_device(vq)), silt_device_name(img->device));
    const var_vq_config *c = &vq->cfg;
    int K = c->n_scales, H = c->patch_nums[K - 1];
    int64_t C = c->z_channels, V = c->vocab_size;
    silt_graph *g = silt_graph_create(0);
    if (!g) return SILT_FAIL(SILT_ERR_OOM, "var_vq_restart_dead_codes: out of memory");
    silt_graph_set_grad(g, false);
    silt_tensor *f = var_vq_encode_features(g, vq, img);
    int64_t B = f ? f->shape[0] : 0, n = f ? silt_numel(f) : 0;
    float *z = f ? malloc((size_t)(B * c->L * C) * sizeof *z) : NULL;
    int32_t *idx = f ? malloc((size_t)(B * c->L) * sizeof *idx) : NULL;
    int64_t *hits = calloc((size_t)V, sizeof *hits);
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
        if (!zs) break;
        float *zr = z + rows * C;
        for (int64_t b = 0; b < B; b++)
            for (int64_t p = 0; p < P; p++)
                for (int64_t ch = 0; ch < C; ch++) zr[(b * P + p) * C + ch] = silt_f32(zs)[(b * C + ch) * P + p];
        vq_nearest_cpu(idx + rows, zr, silt_f32(vq->embedding), B * P, V, C);
        for (int64_t i = 0; i < B * P; i++) hits[idx[rows + i]]++;
        silt_tensor *h = var_vq_embed(g, vq, idx + rows, B, pn);
        if (si != K - 1) h = silt_upsample_bicubic(g, h, H, H);
        h = var_vq_phi(g, vq, si, h);
        if (!h) break;
        for (int64_t i = 0; i < n; i++) silt_f32(f_rest)[i] -= silt_f32(h)[i];
        rows += B * P;
    }
    if (!s) s = silt_graph_status(g);
    if (!s && rows > 0) {
        silt_rng r = silt_rng_init(seed, 0x7265737461727473ull);  // "restarts"
        float *E = silt_f32(vq->embedding);
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
        if (n_restarted) *n_restarted = dead;
    }
    free(z);
    free(idx);
    free(hits);
    silt_graph_free(g);
    return s;
}
