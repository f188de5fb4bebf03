// Vector quantisation: nearest codebook entry (VQ-VAE, van den Oord et al.
// 2017, eq. 1; VAR's multi-scale residual quantiser, Tian et al. 2024,
// uses the same lookup at every scale).
//
// The distance is sum_c (z_c - e_c)^2 accumulated in double over c in
// order, written out directly rather than as |z|^2 - 2 z.e + |e|^2 (which
// cancels badly when z is close to an entry). The CUDA twin
// (vq_nearest_cuda, cuda/ops_embedding.cu) runs the same double operations
// in the same order without fused multiply-adds, so both pick the same
// index bit for bit. Ties go to the lowest index; a NaN distance never wins.
#ifndef SILT_OPS_VQ_H
#define SILT_OPS_VQ_H

#include <stdint.h>

// idx: (N) = argmin_j |z_i - codebook_j|^2;  z: (N, C), codebook: (V, C).
// Needs V >= 1 (with V == 0 every idx is -1). An all-NaN row (every distance
// NaN) gives 0.
void vq_nearest_cpu(int32_t *idx, const float *z, const float *codebook, int64_t N, int64_t V, int64_t C);

#endif
