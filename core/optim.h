// AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR
// 2019) exactly as torch.optim.AdamW computes it (torch/optim/adamw.py,
// single-tensor path), and global gradient-norm clipping as
// torch.nn.utils.clip_grad_norm_.
#ifndef SILT_OPTIM_H
#define SILT_OPTIM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"

typedef struct silt_adamw_params {
    double lr;  // base rate; the caller's schedule scales it and passes each step's lr to silt_adamw_step
    // Doubles, as torch keeps them: 1 - 0.999f would be 1.3e-5 off 0.001.
    double beta1, beta2, eps, weight_decay;
} silt_adamw_params;

// torch defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.01.
silt_adamw_params silt_adamw_default_params(void);

typedef struct silt_adamw silt_adamw;

// Optimiser over n f32 parameters, all on the cpu or all on cuda (the array
// is copied; the tensors stay the caller's). On cuda the moments are device
// buffers (fp32) and silt_adamw_step runs the CUDA twin of the update
// (adamw_step_cuda: the same fp32 arithmetic, so the same bits for the same
// inputs). no_decay[i] true exempts params[i] from weight decay (biases,
// norms, embeddings); NULL decays all. Moments start at zero. NULL (last error
// set) on bad arguments: beta outside [0,1), negative eps, lr or decay.
silt_adamw *silt_adamw_create(silt_tensor **params, const bool *no_decay, int n, silt_adamw_params p);
void silt_adamw_free(silt_adamw *o);  // NULL-safe

// One step with this step's learning rate. With t the step count after the
// increment, for each parameter p with a gradient g (p->grad != NULL):
//   p -= lr * wd * p                         (decoupled decay, unless no_decay)
//   m  = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2
//   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// Parameters without a gradient are skipped (moments unchanged). The step
// count is one for the whole optimiser: torch counts per parameter, which
// differs only for a parameter whose gradient is present on some steps and
// missing on others. Gradients are not checked for NaN (see
// silt_grad_clip_norm). lr must be finite and >= 0, else SILT_ERR_ARG and
// nothing changes.
silt_status silt_adamw_step(silt_adamw *o, float lr);

// State for checkpoints: the step count, and per parameter the first and
// second moments (numel floats each, owned by the optimiser, writable for a
// restore; device pointers when the optimiser is on cuda).
int64_t silt_adamw_step_count(const silt_adamw *o);
silt_status silt_adamw_set_step_count(silt_adamw *o, int64_t t);  // t >= 0
silt_status silt_adamw_state(silt_adamw *o, int i, float **m, float **v);
int silt_adamw_num_params(const silt_adamw *o);
silt_device silt_adamw_device(const silt_adamw *o);  // where its params and moments live
silt_adamw_params silt_adamw_get_params(const silt_adamw *o);

// Global L2 norm of all gradients (params without grad skipped), summed in
// double. When it exceeds max_norm every gradient is scaled by
// max_norm / (norm + 1e-6) (torch's clip_grad_norm_ coefficient). Returns the
// norm before clipping. A NaN or Inf norm is returned and the gradients are
// left as they were: the caller decides (skip the step, lower the loss scale).
// max_norm <= 0 or NaN only measures. CUDA parameters (device grads) are
// measured and scaled on the device (per-tensor double sums, added on the
// host in order); a device error returns NaN.
float silt_grad_clip_norm(silt_tensor **params, int n, float max_norm);

#endif
