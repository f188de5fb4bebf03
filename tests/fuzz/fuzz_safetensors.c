// libFuzzer target for the safetensors reader: any byte string goes to
// silt_safetensors_parse; on success every tensor, name and metadata entry is
// read back and small tensors are converted to f32 (touching every data byte),
// so ASan/UBSan see any out-of-bounds pointer the validator let through.
// Build: see tests/fuzz/README.md.
#include <stdint.h>
#include <string.h>

#include "core/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static float scratch[1 << 16];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    silt_safetensors *st = NULL;
    if (silt_safetensors_parse(data, size, &st) != SILT_OK) {
        if (st) __builtin_trap();  // *out must stay untouched on failure
        return 0;
    }
    volatile unsigned sink = 0;
    int n = silt_safetensors_count(st);
    for (int i = 0; i < n; i++) {
        const silt_st_tensor *t = silt_safetensors_get(st, i);
        if (!t || silt_safetensors_find(st, t->name) != t) __builtin_trap();
        sink += (unsigned)strlen(t->name);
        const unsigned char *p = t->data;
        for (size_t k = 0; k < t->nbytes; k++) sink += p[k];
        int64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= t->shape[d];
        if ((size_t)numel * silt_st_dtype_size(t->dtype) != t->nbytes) __builtin_trap();
        if (numel <= (int64_t)(sizeof scratch / sizeof *scratch) &&
            silt_safetensors_read_f32(t, scratch, numel) != SILT_OK)
            __builtin_trap();
    }
    int m = silt_safetensors_metadata_count(st);
    for (int i = 0; i < m; i++) {
        const char *k, *v;
        if (silt_safetensors_metadata_at(st, i, &k, &v) != SILT_OK || silt_safetensors_metadata(st, k) != v)
            __builtin_trap();
        sink += (unsigned)(strlen(k) + strlen(v));
    }
    // A lookup that (almost surely) misses must give NULL or the exact entry.
    const silt_st_tensor *miss = silt_safetensors_find(st, "\001absent");
    if (miss && strcmp(miss->name, "\001absent") != 0) __builtin_trap();
    const char *mv = silt_safetensors_metadata(st, "\001absent");
    if (mv) sink += (unsigned)strlen(mv);
    (void)sink;
    silt_safetensors_close(st);
    return 0;
}
