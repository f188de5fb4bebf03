// The CUDA op twins without a usable GPU (CPU-only build, or a CUDA build on
// a machine without driver or device): every twin refuses with
// SILT_ERR_UNSUPPORTED and a message naming why, and leaves its outputs
// untouched, so callers can always fall back to the _cpu kernels. With a GPU
// this test has nothing to check (tests/gpu/ covers the twins) and skips.
#include <string.h>

#include "check.h"
#include "cuda/cuda.h"

int main(void) {
    if (silt_cuda_available()) {
        printf("SKIP: a GPU is present; tests/gpu/test_cuda_*.c cover the twins\n");
        return 77;
    }
    const char *want = silt_cuda_built() ? "no usable GPU" : "silt was built without CUDA";
#define REFUSED(expr)                                                                                    \
    do {                                                                                                 \
        silt_error_clear();                                                                              \
        silt_status s_ = (expr);                                                                         \
        CHECK_MSG(s_ == SILT_ERR_UNSUPPORTED, "%s -> %d", #expr, (int)s_);                               \
        CHECK_MSG(strstr(silt_last_error(), want) != NULL, "%s: message '%s'", #expr, silt_last_error()); \
    } while (0)
    float a[64], b[64], c[64], out[64];
    int32_t ids[4] = {0, 1, 0, 1}, idx[4] = {-7, -7, -7, -7};
    for (int i = 0; i < 64; i++) a[i] = b[i] = c[i] = (float)i, out[i] = -1;
    silt_attn_opts o = {0};
    REFUSED(attention_fwd_cuda(out, out + 16, NULL, a, b, c, 1, 1, 2, 2, 2, 2, &o));
    REFUSED(attention_fwd_cuda_bf16(out, out + 16, NULL, a, b, c, 1, 1, 2, 2, 4, 4, &o));
    REFUSED(attention_bwd_cuda(out, out, out, out, a, a, b, c, a, a, 1, 1, 2, 2, 2, 2, NULL));
    REFUSED(attention_qkv_fwd_cuda_bf16((uint16_t *)out, a, 1, 2, 1, 4, NULL));
    CHECK(!attention_qkv_bf16_eligible_cuda(64));
    CHECK(!silt_cuda_have_cudnn());
    int64_t floats = -7;
    REFUSED(conv2d_scratch_floats_cuda(&floats, 1, 1, 4, 4, 1, 3, 3, 1, 1, 1, 1));
    CHECK(floats == -7);
    REFUSED(conv2d_fwd_cuda(out, NULL, a, b, NULL, 1, 1, 4, 4, 1, 3, 3, 1, 1, 1, 1));
    REFUSED(conv2d_bwd_cuda(out, out, out, NULL, a, b, c, 1, 1, 4, 4, 1, 3, 3, 1, 1, 1, 1));
    REFUSED(embedding_fwd_cuda(out, ids, a, 4, 2, 3));
    REFUSED(embedding_bwd_cuda(out, a, ids, 4, 2, 3));
    REFUSED(vq_nearest_cuda(idx, a, b, 4, 2, 3));
    REFUSED(upsample_nearest_fwd_cuda(out, a, 1, 2, 2, 4, 4));
    REFUSED(upsample_nearest_bwd_cuda(out, a, 1, 2, 2, 4, 4));
    REFUSED(upsample_bicubic_fwd_cuda(out, a, 1, 2, 2, 4, 4));
    REFUSED(upsample_bicubic_bwd_cuda(out, a, 1, 2, 2, 4, 4));
    REFUSED(area_downsample_fwd_cuda(out, a, 1, 4, 4, 2, 2));
    REFUSED(area_downsample_bwd_cuda(out, a, 1, 4, 4, 2, 2));
    const float *xs[2] = {a, b};
    float *dxs[2] = {out, out + 8};
    const int64_t sizes[2] = {2, 3}, shape[3] = {2, 3, 4};
    const int perm[3] = {2, 0, 1};
    REFUSED(concat_fwd_cuda(out, xs, sizes, 2, 2, 2));
    REFUSED(concat_bwd_cuda(dxs, a, sizes, 2, 2, 2));
    REFUSED(slice_fwd_cuda(out, a, 2, 5, 2, 1, 3));
    REFUSED(slice_bwd_cuda(out, a, 2, 5, 2, 1, 3));
    REFUSED(permute_fwd_cuda(out, a, 3, shape, perm));
    REFUSED(permute_bwd_cuda(out, a, 3, shape, perm));
    REFUSED(pad2d_fwd_cuda(out, a, 2, 2, 2, 1, 0, 1, 1));
    REFUSED(pad2d_bwd_cuda(out, a, 2, 2, 2, 1, 0, 1, 1));
    REFUSED(clamp_fwd_cuda(out, a, 8, -1.0f, 1.0f));
    REFUSED(clamp_bwd_cuda(out, a, b, 8, -1.0f, 1.0f));
    REFUSED(var_kv_append_fwd_cuda(out, out + 32, a, 2, 4, 1, 2, 3));
    REFUSED(var_clamp_exp_fwd_cuda(out, a, 4.6f, 8));
    REFUSED(var_clamp_exp_bwd_cuda(out, a, b, c, 4.6f, 8));
    double rows[8], acc = -7;
    REFUSED(var_ce_fwd_cuda(out, &acc, out + 8, rows, a, ids, 2, 4));
    REFUSED(var_ce_bwd_cuda(out, a, b, ids, 2, 4));
    CHECK(acc == -7);
    REFUSED(wclip_infonce_fwd_cuda(out, out + 4, out + 8, rows, a, b, 2, 2));
    REFUSED(wclip_infonce_bwd_cuda(out, out + 4, a, b, c, a, b, 2, 2));
    uint16_t o16[16], x16[16];
    for (int i = 0; i < 16; i++) o16[i] = 7, x16[i] = 0x3f80;  // 1.0 in bf16
    REFUSED(ln_modulate_bf16_fwd_cuda(o16, a, b, c, 1, 2, 4, 1e-6f));
    REFUSED(gelu_bf16_fwd_cuda(o16, a, 8, 1));
    REFUSED(linear_fwd_cuda_bf16(out, x16, x16, NULL, 2, 4, 2));
    REFUSED(dit_merge_heads_bf16_fwd_cuda(o16, a, 1, 2, 2, 2));
    for (int i = 0; i < 16; i++) CHECK_MSG(o16[i] == 7, "a refusing bf16 twin wrote o16[%d]", i);
#undef REFUSED
    int untouched = 1;
    for (int i = 0; i < 64; i++) untouched &= out[i] == -1;
    CHECK_MSG(untouched, "a refusing twin wrote to its output");
    CHECK(idx[0] == -7 && idx[3] == -7);
    // The scratch size is plain arithmetic, available in every build.
    CHECK(attention_scratch_floats_cuda(2, 3, 5, 7, 8, 16) == 2 * 3 * 5 * (16 + 2));
    return check_summary();
}
