// Raw kernels of the VAR transformer's own ops (var/var.c), with CUDA twins
// of the same name and arguments in cuda/ops_var.h, so that the KV-cached
// sampling and the teacher-forced forward run on either device.
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

#endif
