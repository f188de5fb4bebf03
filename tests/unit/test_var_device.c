// var_to_device / var_vq_to_device without a usable GPU (a CPU-only build,
// or a CUDA build on a machine without driver or device): moving to cuda
// refuses with SILT_ERR_UNSUPPORTED and a message, the models stay on the cpu
// and still generate the same tokens and image as before the attempt; moving
// "to the cpu" is a no-op. The refusals of mixed devices need a model on the
// GPU, so tests/gpu/test_gpu_var.c checks them. With a GPU this test skips
// (tests/gpu/test_gpu_var.c moves the models for real).
#include <string.h>

#include "check.h"
#include "cuda/cuda.h"
#include "var/var.h"
#include "var/vqvae.h"

int main(void) {
    if (silt_cuda_available()) {
        printf("SKIP: a GPU is present; tests/gpu/test_gpu_var.c covers the device path\n");
        return 77;
    }
    var_vq_config q = {.vocab_size = 11, .z_channels = 3, .in_channels = 3, .ch = 4, .n_levels = 2, .ch_mult = {1, 2},
                       .num_res_blocks = 1, .groups = 2, .quant_conv_ks = 3, .quant_resi = 0.5f,
                       .phi_share = VAR_PHI_SHARED, .n_phi = 1, .downsample = 2, .n_scales = 3,
                       .patch_nums = {1, 2, 3}, .L = 14};
    var_config c = {.depth = 1, .embed_dim = 16, .num_heads = 2, .mlp_hidden = 24, .num_classes = 4, .vocab_size = 11,
                    .Cvae = 3, .attn_l2_norm = true, .n_scales = 3, .patch_nums = {1, 2, 3}};
    var_model *m = NULL;
    var_vqvae *vq = NULL;
    CHECK_OK(var_create(&c, 1.0f, 1, &m));
    CHECK_OK(var_vq_create(&q, 2, &vq));
    if (!m || !vq) return check_summary();
    int32_t labels[2] = {1, 3}, idx0[2 * 14], idx1[2 * 14];
    float img0[2 * 3 * 6 * 6], img1[2 * 3 * 6 * 6];
    var_sample_params p = var_sample_default_params();
    p.top_k = 4;
    CHECK_OK(var_generate(m, vq, labels, 2, &p, img0, idx0));

    const char *want = silt_cuda_built() ? "no usable GPU" : "silt was built without CUDA";
    silt_error_clear();
    CHECK(var_to_device(m, SILT_CUDA) == SILT_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(silt_last_error(), want) != NULL, "message '%s'", silt_last_error());
    silt_error_clear();
    CHECK(var_vq_to_device(vq, SILT_CUDA) == SILT_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(silt_last_error(), want) != NULL, "message '%s'", silt_last_error());
    CHECK(var_device(m) == SILT_CPU && var_vq_device(vq) == SILT_CPU);
    CHECK_OK(var_to_device(m, SILT_CPU));  // already there
    CHECK_OK(var_vq_to_device(vq, SILT_CPU));
    CHECK(var_to_device(NULL, SILT_CUDA) == SILT_ERR_ARG && var_vq_to_device(NULL, SILT_CUDA) == SILT_ERR_ARG);
    CHECK(var_device(NULL) == SILT_CPU && var_vq_device(NULL) == SILT_CPU);

    CHECK_OK(var_generate(m, vq, labels, 2, &p, img1, idx1));
    CHECK(memcmp(idx0, idx1, sizeof idx0) == 0);
    CHECK(memcmp(img0, img1, sizeof img0) == 0);
    var_free(m);
    var_vq_free(vq);
    return check_summary();
}
