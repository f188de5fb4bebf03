// Raw kernels of world-CLIP's own op, the symmetric InfoNCE with the clamped
// logit scale (wclip_loss in text/world_clip.c), with CUDA twins of the same
// name and arguments in cuda/ops_clip.h, so that `gen train --arch clip` runs
// on either device. Backward kernels ACCUMULATE (+=).
//
// Radford et al. 2021 (CLIP), Figure 3's pseudocode, with the learned
// temperature clamped as in openai/CLIP: with s = min(logit_scale, ln 100)
// and z = e^s sim,
//   L = 1/(2B) sum_i [lse_j(z_ij) - z_ii] + 1/(2B) sum_j [lse_i(z_ij) - z_jj],
//   dL/dz = (P_row + P_col - 2I) / (2B), dL/dsim = e^s dL/dz,
//   dL/dlogit_scale = sum dL/dz * z (0 while clamped: logit_scale > ln 100).
// The kernels read logit_scale from its (device) buffer, so no host copy is
// needed on the device.
#ifndef TXT_WORLD_CLIP_OPS_H
#define TXT_WORLD_CLIP_OPS_H

#include <stdint.h>

// ln 100 rounded to float: (float)log(100.0), the clamp of logit_scale.
#define WCLIP_LOGIT_SCALE_MAX 4.60517018598809136804f

// sim (B, M), M >= B: row i is image i against every caption j; captions
// 0..B-1 are the images' own (the diagonal is the match), B..M-1 are hard
// negatives (captions with no image: in the row softmax, not in the columns).
// logit_scale (1). With M = B this is CLIP's loss above; with hard negatives
// the row terms' lse runs over all M columns and the column terms over the
// first B columns only:
//   L = 1/(2B) sum_i [lse_{j<M}(z_ij) - z_ii] + 1/(2B) sum_{j<B} [lse_{i<B}(z_ij) - z_jj].
// out (1) = L; prow (B, M) = the row softmax, pcol (B, M) = the column softmax
// in columns < B and 0 in the rest (saved for the backward); terms: 2B
// doubles of scratch (the row terms, then the column terms, summed in that
// order). Max, exp and sums in double with z = e^s * (double)sim; the
// probabilities rounded to float. B >= 1.
void wclip_infonce_fwd_cpu(float *out, float *prow, float *pcol, double *terms, const float *sim,
                           const float *logit_scale, int64_t B, int64_t M);
// dsim (B, M) += e^s (prow + pcol - 2I) / (2B) dout[0] (I: ones at (i, i));
// dls (1) += the sum of that times sim, in double (left alone while clamped).
// dsim or dls may be NULL.
void wclip_infonce_bwd_cpu(float *dsim, float *dls, const float *dout, const float *sim, const float *prow,
                           const float *pcol, const float *logit_scale, int64_t B, int64_t M);

#endif
