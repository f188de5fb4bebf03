// The resampling twins (upsample_nearest, upsample_bicubic, area_downsample,
// forward and backward) against their CPU twins, which
// tests/unit/test_ops_resample.c checks against PyTorch golden values. Sizes
// go up, down, to the same size, by exact factors (PyTorch's nearest
// shortcuts) and by odd ratios, including 1-pixel inputs and outputs.
// Backward buffers start from random values (the twins accumulate).
//
// The twins follow the CPU's order of float operations (cuda/ops_resample.cu),
// so most elements match bit for bit (the share is printed); the pass/fail
// test is fp32 rtol 1e-4 against the rms of the data. Two checks are exact:
// nearest forward is a copy, and on an input holding each pixel's own index
// it reveals every source index, which must equal the CPU's.
// Exit 77 (SKIP) without a GPU.
#include <stdlib.h>

#include "check.h"
#include "core/ops_resample.h"
#include "gpu_test.h"
#include "twin_util.h"

typedef void (*cpu_fn)(float *, const float *, int64_t, int64_t, int64_t, int64_t, int64_t);
typedef silt_status (*gpu_fn)(float *, const float *, int64_t, int64_t, int64_t, int64_t, int64_t);

static const struct {
    const char *name;
    cpu_fn fwd_cpu, bwd_cpu;
    gpu_fn fwd_gpu, bwd_gpu;
} modes[] = {
    {"nearest", upsample_nearest_fwd_cpu, upsample_nearest_bwd_cpu, upsample_nearest_fwd_cuda, upsample_nearest_bwd_cuda},
    {"bicubic", upsample_bicubic_fwd_cpu, upsample_bicubic_bwd_cpu, upsample_bicubic_fwd_cuda, upsample_bicubic_bwd_cuda},
    {"area", area_downsample_fwd_cpu, area_downsample_bwd_cpu, area_downsample_fwd_cuda, area_downsample_bwd_cuda},
};

static void resample_case(int m, int64_t nc, int64_t h, int64_t w, int64_t ho, int64_t wo) {
    int64_t ni = nc * h * w, no = nc * ho * wo;
    float *x = twin_host(ni), *ref = twin_host(no), *got = twin_host(no);
    float *g = twin_host(no), *dx0 = twin_host(ni), *dref = twin_host(ni), *dgot = twin_host(ni);
    float *d_x = NULL, *d_out = NULL, *d_g = NULL, *d_dx = NULL;
    char what[160];
    if (!x || !ref || !got || !g || !dx0 || !dref || !dgot) {
        CHECK_MSG(0, "host alloc");
        goto done;
    }
    test_fill(x, ni, -1, 1);
    test_fill(g, no, -1, 1);
    test_fill(dx0, ni, -1, 1);
    d_x = twin_upload(x, (size_t)ni * 4);
    d_out = twin_upload(NULL, (size_t)no * 4);
    d_g = twin_upload(g, (size_t)no * 4);
    d_dx = twin_upload(dx0, (size_t)ni * 4);
    if (!d_x || !d_out || !d_g || !d_dx) goto done;
    twin_poison(d_out, (size_t)no * 4);

    modes[m].fwd_cpu(ref, x, nc, h, w, ho, wo);
    silt_status s = modes[m].fwd_gpu(d_out, d_x, nc, h, w, ho, wo);
    snprintf(what, sizeof what, "%s fwd nc%lld %lldx%lld -> %lldx%lld", modes[m].name, (long long)nc, (long long)h,
             (long long)w, (long long)ho, (long long)wo);
    CHECK_MSG(s == SILT_OK, "%s: %s", what, silt_last_error());
    if (s == SILT_OK && twin_download(got, d_out, (size_t)no * 4)) {
        if (m == 0) twin_same_bits(what, got, ref, (size_t)no * 4);  // a copy
        else twin_compare(what, got, ref, no, 1e-4, twin_rms(x, ni));
    }

    memcpy(dref, dx0, (size_t)ni * 4);
    modes[m].bwd_cpu(dref, g, nc, h, w, ho, wo);
    s = modes[m].bwd_gpu(d_dx, d_g, nc, h, w, ho, wo);
    snprintf(what, sizeof what, "%s bwd nc%lld %lldx%lld -> %lldx%lld", modes[m].name, (long long)nc, (long long)h,
             (long long)w, (long long)ho, (long long)wo);
    CHECK_MSG(s == SILT_OK, "%s: %s", what, silt_last_error());
    if (s == SILT_OK && twin_download(dgot, d_dx, (size_t)ni * 4)) {
        // Scale: a dx element sums up to (ho/h)(wo/w) output gradients (x16 taps for bicubic).
        double fan = (double)(ho > h ? (ho + h - 1) / h : 1) * (double)(wo > w ? (wo + w - 1) / w : 1);
        twin_compare(what, dgot, dref, ni, 1e-4, twin_rms(g, no) * sqrt(fan) + twin_rms(dx0, ni));
    }
done:
    silt_cuda_free(d_x); silt_cuda_free(d_out); silt_cuda_free(d_g); silt_cuda_free(d_dx);
    free(x); free(ref); free(got); free(g); free(dx0); free(dref); free(dgot);
}

// Nearest on an input holding each pixel's own index: the output is the map
// of source indices, which must equal the CPU's exactly (the index math is
// re-derived for the device in cuda/resample_index.h).
static void nearest_index_case(int64_t h, int64_t w, int64_t ho, int64_t wo) {
    float *x = twin_host(h * w), *ref = twin_host(ho * wo), *got = twin_host(ho * wo);
    float *d_x = NULL, *d_out = NULL;
    if (!x || !ref || !got) { CHECK_MSG(0, "host alloc"); goto done; }
    for (int64_t i = 0; i < h * w; i++) x[i] = (float)i;  // exact below 2^24
    upsample_nearest_fwd_cpu(ref, x, 1, h, w, ho, wo);
    d_x = twin_upload(x, (size_t)(h * w) * 4);
    d_out = twin_upload(NULL, (size_t)(ho * wo) * 4);
    if (!d_x || !d_out) goto done;
    CHECK_OK(upsample_nearest_fwd_cuda(d_out, d_x, 1, h, w, ho, wo));
    if (twin_download(got, d_out, (size_t)(ho * wo) * 4)) {
        char what[96];
        snprintf(what, sizeof what, "nearest source indices %lldx%lld -> %lldx%lld", (long long)h, (long long)w,
                 (long long)ho, (long long)wo);
        twin_same_bits(what, got, ref, (size_t)(ho * wo) * 4);
    }
done:
    silt_cuda_free(d_x); silt_cuda_free(d_out);
    free(x); free(ref); free(got);
}

static void test_errors(void) {
    float *d = NULL;
    CHECK_OK(silt_cuda_malloc((void **)&d, 64 * sizeof(float)));
    CHECK(upsample_bicubic_fwd_cuda(d, d, 1, 0, 2, 2, 2) == SILT_ERR_ARG);
    CHECK(area_downsample_bwd_cuda(d, d, -1, 2, 2, 1, 1) == SILT_ERR_ARG);
    CHECK(upsample_nearest_fwd_cuda(NULL, d, 1, 2, 2, 4, 4) == SILT_ERR_ARG);
    CHECK_OK(upsample_nearest_bwd_cuda(NULL, NULL, 0, 2, 2, 4, 4));  // nc == 0: nothing to do
    silt_cuda_free(d);
}

int main(void) {
    GPU_TEST_START();
    test_seed(20240612);
    test_errors();
    const int64_t sizes[][5] = {
        {1, 1, 1, 1, 1},     {3, 7, 5, 14, 10},   {2, 7, 5, 21, 16},   {2, 16, 16, 7, 9},   {1, 5, 9, 5, 9},
        {4, 33, 17, 64, 40}, {1, 1, 7, 9, 1},     {2, 64, 64, 16, 16}, {1, 3, 1000, 5, 7},  {1, 1, 1, 13, 17},
        {5, 13, 13, 1, 1},   {2, 32, 32, 128, 128}, {1, 100, 3, 37, 300}, {64, 16, 16, 32, 32},
    };
    for (int m = 0; m < 3; m++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
            resample_case(m, sizes[s][0], sizes[s][1], sizes[s][2], sizes[s][3], sizes[s][4]);
    const int64_t idx[][4] = {{7, 5, 14, 10}, {1023, 333, 1024, 1000}, {333, 1024, 1023, 333}, {17, 4097, 64, 4096}};
    for (size_t s = 0; s < sizeof idx / sizeof *idx; s++) nearest_index_case(idx[s][0], idx[s][1], idx[s][2], idx[s][3]);
    return check_summary();
}
