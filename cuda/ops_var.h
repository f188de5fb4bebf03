// CUDA twins of VAR's raw kernels (var/var_ops.h): the KV cache append, the
// attention scale's clamp + exp (forward and backward) and the training
// cross-entropy (forward and backward). Device pointers, same arguments and
// semantics as the _cpu versions; backward kernels ACCUMULATE. Every output
// element is written by one thread (no atomics); sums have a fixed order that
// depends only on the sizes, so results repeat bit for bit.
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
// dx[i] += x[i] <= max ? dout[i] * out[i] : 0.  (n)
silt_status var_clamp_exp_bwd_cuda(float *dx, const float *dout, const float *x, const float *out, float max, int64_t n);
// As var_ce_fwd_cpu: logits (N, V), targets (N) int32 (device; must lie in
// [0, V): an index outside it is clamped to 0..V-1 here, never read out of
// bounds - the graph op checks them on the host), prob (N, V), rows (2N
// doubles of scratch), out (1), acc (1 double, may be NULL). One block per
// row: max and first argmax (ties to the lowest index, as the CPU loop), then
// sum of exp in double, prob = (float)(exp(x - max) / sum); then one block
// sums the row terms in a fixed order. The double sums differ from the CPU's
// sequential ones only in the last bits of a double.
silt_status var_ce_fwd_cuda(float *out, double *acc, float *prob, double *rows, const float *logits,
                            const int32_t *targets, int64_t N, int64_t V);
// dlogits (N, V) += (prob - onehot(t)) * dout[0] / N (dout: one device float).
silt_status var_ce_bwd_cuda(float *dlogits, const float *dout, const float *prob, const int32_t *targets, int64_t N,
                            int64_t V);

#ifdef __cplusplus
}
#endif

#endif
