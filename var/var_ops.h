// Raw kernels of the VAR transformer's own ops (var/var.c, var/var_train.c),
// with CUDA twins of the same name and arguments in cuda/ops_var.h, so that
// the KV-cached sampling, the teacher-forced forward and training (the scale
// clamp's backward, the cross-entropy) run on either device. Backward
// kernels ACCUMULATE (+=) into their d-buffers.
#ifndef SILT_VAR_VAR_OPS_H
#define SILT_VAR_VAR_OPS_H

#include <stdint.h>

// The KV cache append of one block (models/basic_var.py SelfAttention with
// caching: torch.cat((cached_k, k), dim=2)): x (RH, T, D) is written into
// cache (RH, cap, D) at tokens [len, len + T), and all (RH, len + T, D)
// receives the cached tokens [0, len + T) contiguously (the keys/values the
// attention reads). len + T <= cap; all must not overlap cache or x.
void var_kv_append_fwd_cpu(float *all, float *cache, const float *x, int64_t RH, int64_t cap, int64_t len, int64_t T,
                           int64_t D);
// out = exp(min(x, max)), the attention's scale_mul_1H11.clamp_max(ln 100).exp().  (n)
void var_clamp_exp_fwd_cpu(float *out, const float *x, float max, int64_t n);
// Its backward (PyTorch's clamp_max passes the gradient where x <= max, and
// d exp(y) = exp(y)): dx[i] += x[i] <= max ? dout[i] * out[i] : 0.  (n)
void var_clamp_exp_bwd_cpu(float *dx, const float *dout, const float *x, const float *out, float max, int64_t n);

// Cross-entropy of N rows of V logits against targets in [0, V) (the
// official trainer's F.cross_entropy, label smoothing 0, mean over rows):
//   prob (N, V) = softmax(x_i) (saved for the backward),
//   rows[i] = lse(x_i) - x_i[t_i], then out[0] = (float)(sum_i rows[i] / N),
//   rows[N + i] = 1 if the first argmax of x_i is t_i else 0, then
//   acc[0] = sum_i rows[N + i] / N (acc may be NULL).
// Max, exp, sums and prob in double (prob rounded to float), the final sums
// in row order. rows: 2N doubles of scratch. Targets are not checked here
// (the graph op checks them on the host). N >= 1, V >= 1.
void var_ce_fwd_cpu(float *out, double *acc, float *prob, double *rows, const float *logits, const int32_t *targets,
                    int64_t N, int64_t V);
// d logits += (prob - onehot(t)) * dout[0] / N, the scale s = dout[0] / N in
// double, each term rounded to float.  dlogits, prob: (N, V); dout: (1).
void var_ce_bwd_cpu(float *dlogits, const float *dout, const float *prob, const int32_t *targets, int64_t N, int64_t V);

#endif
