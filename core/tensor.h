// Tensors: dtype, up to 4 dims (PyTorch order), contiguous, on a device.
// Parameters are created with silt_tensor_create (owned, freed with
// silt_tensor_free); activations come from a graph's arena (core/graph.h).
#ifndef SILT_TENSOR_H
#define SILT_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define SILT_MAX_DIMS 4

typedef enum silt_dtype { SILT_F32 = 0, SILT_BF16, SILT_F16, SILT_I32, SILT_DTYPE_COUNT } silt_dtype;
typedef enum silt_device { SILT_CPU = 0, SILT_CUDA, SILT_DEVICE_COUNT } silt_device;

const char *silt_dtype_name(silt_dtype d);
silt_status silt_dtype_from_name(const char *name, silt_dtype *out);
size_t silt_dtype_size(silt_dtype d);
const char *silt_device_name(silt_device d);
// The shared prologue of the models' *_to_device(m, device) (weights move
// once, in place, cpu -> cuda only): *move = false when the model is on the
// cpu and stays there, true for cuda; SILT_ERR_UNSUPPORTED naming fn for a
// move back to the cpu, SILT_ERR_ARG for an unknown device.
silt_status silt_model_move_check(const char *fn, silt_device current, silt_device want, bool *move);
silt_status silt_device_from_name(const char *name, silt_device *out);

typedef struct silt_tensor {
    silt_dtype dtype;
    silt_device device;
    int ndim;
    int64_t shape[SILT_MAX_DIMS];
    void *data;
    float *grad;         // f32, same numel; NULL until a backward pass writes it
    bool requires_grad;  // parameters: set by the owner; activations: inherited
    bool owns_data;      // data (and grad) were allocated by silt_tensor_create
} silt_tensor;

int64_t silt_numel(const silt_tensor *t);
size_t silt_nbytes(const silt_tensor *t);
static inline float *silt_f32(const silt_tensor *t) { return (float *)t->data; }
static inline int32_t *silt_i32(const silt_tensor *t) { return (int32_t *)t->data; }

// Owned CPU tensor, zero-filled, 64-byte aligned. ndim 1..4. With
// requires_grad a zeroed grad buffer is allocated too. NULL on failure.
silt_tensor *silt_tensor_create(silt_dtype dtype, int ndim, const int64_t *shape, bool requires_grad);
silt_tensor *silt_tensor_create_f32(int ndim, const int64_t *shape, bool requires_grad);
void silt_tensor_free(silt_tensor *t);  // NULL-safe
void silt_tensor_zero_grad(silt_tensor *t);

// "(2, 3, 4)" into buf; returns buf.
char *silt_shape_str(const silt_tensor *t, char *buf, size_t n);
// "(2, 3, 4)" for any dims array (a file's tensor, an expected shape); truncated to n.
char *silt_dims_str(const int64_t *shape, int ndim, char *buf, size_t n);
bool silt_same_shape(const silt_tensor *a, const silt_tensor *b);
// Checks ndim 1..4, every dim >= 1 and numel within int64 / memory limits.
silt_status silt_shape_check(int ndim, const int64_t *shape);

// Aligned allocation for tensor storage (64 bytes); NULL on failure.
void *silt_alloc(size_t bytes);
void silt_free(void *p);

// Scalar conversions (round-to-nearest-even for bf16, IEEE half for f16).
float silt_bf16_to_f32(uint16_t h);
uint16_t silt_f32_to_bf16(float f);
float silt_f16_to_f32(uint16_t h);
uint16_t silt_f32_to_f16(float f);
// Bulk conversion between float dtypes (f32, bf16, f16) on CPU buffers.
silt_status silt_convert(void *dst, silt_dtype dst_type, const void *src, silt_dtype src_type, int64_t n);

#endif
