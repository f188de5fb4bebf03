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
        silt_graph_set_grad(g, false);
        silt_tensor *zs = si != K - 1 ? silt_area_downsample(g, f_rest, pn, pn) : f_rest;
        silt_graph_set_grad(g, true);
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
