// safetensors checkpoints (huggingface/safetensors format), optionally zstd-
// compressed (.safetensors.zst).
//
// File layout: u64 little-endian header length N, N bytes of UTF-8 JSON
// {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//  "__metadata__": {"key": "value", ...}}, then the data section; offsets are
// relative to its first byte.
//
// The reader validates the whole header before any tensor byte is touched:
// header bounds (N > 0, N <= 100,000,000, N <= file size - 8), strict JSON
// (core/json.h: depth <= 64, no duplicate keys, only whitespace after the
// root), exactly the fields dtype/shape/data_offsets per tensor, known dtypes,
// shapes of <= 8 integer dims in [0, 2^48] with numel <= 2^48, integers
// <= 2^53, begin <= end <= data length, dtype size x numel == end - begin, and
// the tensors must tile the data section exactly (no overlap, no hole, no
// trailing bytes) as the reference Rust library demands. Metadata values must be
// strings. Names and metadata may not contain a NUL (\u0000). Every failure is
// SILT_ERR_FORMAT with a message naming the problem and the tensor.
//
// Data pointers may be unaligned in files written by other tools (the header
// length need not be a multiple of 8); read them with memcpy or
// silt_safetensors_read_f32. Multi-byte values are little-endian.
#ifndef SILT_SAFETENSORS_H
#define SILT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef enum silt_st_dtype {
    SILT_ST_BOOL,
    SILT_ST_U8,
    SILT_ST_I8,
    SILT_ST_I16,
    SILT_ST_U16,
    SILT_ST_F16,
    SILT_ST_BF16,
    SILT_ST_I32,
    SILT_ST_U32,
    SILT_ST_F32,
    SILT_ST_F64,
    SILT_ST_I64,
    SILT_ST_U64,
    SILT_ST_F8_E4M3,
    SILT_ST_F8_E5M2,
    SILT_ST_DTYPE_COUNT
} silt_st_dtype;

const char *silt_st_dtype_name(silt_st_dtype d);  // "F32"; "?" if out of range
silt_status silt_st_dtype_from_name(const char *s, silt_st_dtype *out);
size_t silt_st_dtype_size(silt_st_dtype d);  // bytes per element; 0 if out of range

#define SILT_ST_MAX_DIMS 8
#define SILT_ST_MAX_HEADER 100000000  // bytes, as in the reference Rust library

typedef struct silt_st_tensor {
    const char *name;
    silt_st_dtype dtype;
    int ndim;  // 0 for a scalar (numel 1)
    int64_t shape[SILT_ST_MAX_DIMS];
    const void *data;  // inside the file image; valid until silt_safetensors_close
    size_t nbytes;
} silt_st_tensor;

typedef struct silt_safetensors silt_safetensors;

// Opens .safetensors (read-only mmap, read() if mmap fails) or a path ending in
// .zst (zstd streaming decompression into memory, capped at min(64 GiB, RAM)).
// Validates everything before returning. *out is set only on success.
// Note: an mmap'ed file truncated by another process while open can still
// raise SIGBUS on access; that is outside what a reader can check.
silt_status silt_safetensors_open(const char *path, silt_safetensors **out);
// Parses an in-memory file image. The buffer is COPIED: the caller may free it
// as soon as this returns.
silt_status silt_safetensors_parse(const void *buf, size_t len, silt_safetensors **out);
void silt_safetensors_close(silt_safetensors *st);  // NULL-safe

int silt_safetensors_count(const silt_safetensors *st);
// i-th tensor in file (data offset) order; NULL if i is out of range.
const silt_st_tensor *silt_safetensors_get(const silt_safetensors *st, int i);
// By exact name (binary search over a sorted index); NULL if absent.
const silt_st_tensor *silt_safetensors_find(const silt_safetensors *st, const char *name);

// Metadata ("__metadata__"), sorted by key.
int silt_safetensors_metadata_count(const silt_safetensors *st);
const char *silt_safetensors_metadata(const silt_safetensors *st, const char *key);  // NULL if absent
silt_status silt_safetensors_metadata_at(const silt_safetensors *st, int i, const char **key, const char **value);

// Converts a tensor to f32: F32/F16/BF16/F64/F8_E4M3(fn)/F8_E5M2 by value,
// integers by (float) cast, BOOL to 0/1. n must equal the tensor's numel
// (SILT_ERR_SHAPE otherwise).
silt_status silt_safetensors_read_f32(const silt_st_tensor *t, float *dst, int64_t n);

// Writer: collect tensors (data pointers are borrowed until write/free), then
// write atomically: a temporary file in the target directory, fsync, rename.
// A path ending in .zst is written zstd-compressed (level 3 unless set).
// Layout matches the Python library byte for byte (given the same metadata
// order; ours is insertion order): "__metadata__" first, tensors ordered by
// dtype as Python does (wider types first, so every tensor is naturally
// aligned) then by name, data contiguous, header padded with spaces so the
// data starts 8-byte aligned.
typedef struct silt_st_writer silt_st_writer;

silt_st_writer *silt_st_writer_create(void);  // NULL on OOM
// Copies name and shape; data must hold numel x dtype size bytes (may be NULL
// only when that is 0). Fails (SILT_ERR_ARG) on a duplicate or invalid name
// (NULL, "__metadata__", not UTF-8), bad dtype, ndim outside 0..8, or a shape
// with negative dims or more than 2^48 elements.
silt_status silt_st_writer_add(silt_st_writer *w, const char *name, silt_st_dtype dtype, int ndim,
                               const int64_t *shape, const void *data);
// Copies key and value (UTF-8); setting a key again replaces its value.
silt_status silt_st_writer_set_metadata(silt_st_writer *w, const char *key, const char *value);
// zstd level for .zst paths (ZSTD_minCLevel()..ZSTD_maxCLevel(); default 3).
silt_status silt_st_writer_set_zstd_level(silt_st_writer *w, int level);
// On failure nothing is left behind and an existing file at path is untouched.
silt_status silt_st_writer_write(silt_st_writer *w, const char *path);
void silt_st_writer_free(silt_st_writer *w);  // NULL-safe

#endif
