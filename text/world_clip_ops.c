// world-CLIP's raw kernels (text/world_clip_ops.h).
#include "text/world_clip_ops.h"

#include <math.h>
#include <stdbool.h>

// e^min(logit_scale, ln 100), and whether the clamp is active.
static float clip_scale(const float *logit_scale, bool *clamped) {
    float lsv = logit_scale[0];
    *clamped = lsv > WCLIP_LOGIT_SCALE_MAX;
    return expf(*clamped ? WCLIP_LOGIT_SCALE_MAX : lsv);
}

void wclip_infonce_fwd_cpu(float *out, float *prow, float *pcol, double *terms, const float *sim,
                           const float *logit_scale, int64_t B, int64_t M) {
    bool clamped;
    const float scale = clip_scale(logit_scale, &clamped);
    const float *S = sim;
    for (int64_t i = 0; i < B; i++) {  // rows: image i against every caption, hard negatives included
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < M; j++) mx = fmax(mx, scale * (double)S[i * M + j]);
        for (int64_t j = 0; j < M; j++) sum += exp(scale * (double)S[i * M + j] - mx);
        for (int64_t j = 0; j < M; j++) prow[i * M + j] = (float)(exp(scale * (double)S[i * M + j] - mx) / sum);
        terms[i] = mx + log(sum) - scale * (double)S[i * M + i];
    }
    for (int64_t j = 0; j < B; j++) {  // columns: caption j against every image
        double mx = -INFINITY, sum = 0;
        for (int64_t i = 0; i < B; i++) mx = fmax(mx, scale * (double)S[i * M + j]);
        for (int64_t i = 0; i < B; i++) sum += exp(scale * (double)S[i * M + j] - mx);
        for (int64_t i = 0; i < B; i++) pcol[i * M + j] = (float)(exp(scale * (double)S[i * M + j] - mx) / sum);
        terms[B + j] = mx + log(sum) - scale * (double)S[j * M + j];
    }
    for (int64_t i = 0; i < B; i++)  // a hard negative has no image: no column term
        for (int64_t j = B; j < M; j++) pcol[i * M + j] = 0.0f;
    double loss = 0;
    for (int64_t k = 0; k < 2 * B; k++) loss += terms[k];
    out[0] = (float)(loss / (2.0 * (double)B));
}

void wclip_infonce_bwd_cpu(float *dsim, float *dls, const float *dout, const float *sim, const float *prow,
                           const float *pcol, const float *logit_scale, int64_t B, int64_t M) {
    bool clamped;
    const float scale = clip_scale(logit_scale, &clamped);
    const float go = dout[0];
    double acc = 0;
    for (int64_t i = 0; i < B; i++)
        for (int64_t j = 0; j < M; j++) {
            // prow + pcol in float, then the identity and the scaling in double.
            double dz = (prow[i * M + j] + pcol[i * M + j] - (i == j ? 2.0 : 0.0)) / (2.0 * (double)B) * go;
            if (dsim) dsim[i * M + j] += (float)(dz * scale);
            acc += dz * scale * sim[i * M + j];
        }
    if (dls && !clamped) dls[0] += (float)acc;
}
