// CUDA twins of the embedding lookup (core/ops_linear.h) and of the VQ
// nearest-codebook search (core/ops_vq.h). Device pointers, same arguments
// as the _cpu versions.
//
// Determinism: embedding_bwd_cuda gives each table row to one warp, which
// scans ids in order and adds the matching dout rows in increasing i, the
// CPU's order, so repeated ids sum the same way on every run (and as on the
// CPU, bit for bit). vq_nearest_cuda runs the CPU's double arithmetic in the
// CPU's order, so the indices equal vq_nearest_cpu's exactly.
#ifndef SILT_CUDA_OPS_EMBEDDING_H
#define SILT_CUDA_OPS_EMBEDDING_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"

// out: (N, D) = table[ids[i]]; ids: (N), table: (V, D). The CPU twin
// trusts ids (silt_embedding checks them); here an id outside [0, V) gives a
// zero row instead of a read out of bounds (a kernel cannot report it).
silt_status embedding_fwd_cuda(float *out, const int32_t *ids, const float *table, int64_t N, int64_t V, int64_t D);
// dtable: (V, D) += scatter of dout (N, D) by ids; ids outside [0, V) are
// skipped. Cost: every table row scans all N ids (V*N/32 warp loads), fine
// for codebooks and class tables; a sorted, segmented version would be the
// next step for large vocabularies with long sequences.
silt_status embedding_bwd_cuda(float *dtable, const float *dout, const int32_t *ids, int64_t N, int64_t V, int64_t D);
// idx: (N) = argmin_j |z_i - codebook_j|^2 (ties to the lowest j);
// z: (N, C), codebook: (V, C). V >= 1 when N > 0 (else SILT_ERR_ARG).
silt_status vq_nearest_cuda(int32_t *idx, const float *z, const float *codebook, int64_t N, int64_t V, int64_t C);

#ifdef __cplusplus
}
#endif

#endif
