// CUDA twins of VAR's raw kernels (var/var_ops.h): the KV cache append and
// the attention scale's clamp + exp. Device pointers, same arguments and
// semantics as the _cpu versions; forward only (sampling and evaluation).
// Every output element is written by one thread (no atomics).
// SILT_ERR_ARG for negative sizes, len + T > cap or NULL buffers with work
// to do; SILT_ERR_UNSUPPORTED without a usable GPU.
#ifndef SILT_CUDA_OPS_VAR_H
#define SILT_CUDA_OPS_VAR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"

// x (RH, T, D) into cache (RH, cap, D) at [len, len + T); all (RH, len + T, D)
// = cache[:, :len + T]. all must not overlap cache or x.
silt_status var_kv_append_fwd_cuda(float *all, float *cache, const float *x, int64_t RH, int64_t cap, int64_t len,
                                   int64_t T, int64_t D);
// out = exp(min(x, max)).  (n). expf of CUDA's libdevice: within 2 ulp of the CPU.
silt_status var_clamp_exp_fwd_cuda(float *out, const float *x, float max, int64_t n);

#ifdef __cplusplus
}
#endif

#endif
