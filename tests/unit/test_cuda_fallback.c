// The CUDA API without a GPU: the build flag is reported truthfully, asking
// for a GPU never crashes, answers are consistent, and when no GPU is usable
// (CPU-only build, or a CUDA build without driver/device) every fallible call
// refuses with SILT_ERR_UNSUPPORTED and a message, leaving outputs untouched.
// Runs in CI on machines without GPUs; on a GPU machine it checks a round trip.
#include <string.h>

#include "check.h"
#include "cuda/cuda.h"

static void test_build_flag(void) {
#ifdef SILT_HAVE_CUDA
    CHECK(silt_cuda_built());
#else
    CHECK(!silt_cuda_built());
#endif
}

static void test_consistency(void) {
    bool avail = silt_cuda_available();
    CHECK(silt_cuda_available() == avail);  // probed once, same answer
    int count = silt_cuda_device_count();
    CHECK(avail ? count >= 1 : count == 0);
    char buf[512];
    memset(buf, 'x', sizeof buf);
    CHECK_OK(silt_cuda_describe(buf, sizeof buf));
    CHECK(buf[0] != 0 && memchr(buf, 0, sizeof buf) != NULL);
    printf("cuda: built=%d available=%d devices=%d: %s\n", silt_cuda_built(), avail, count, buf);
    if (!silt_cuda_built()) CHECK(strcmp(buf, "not built with CUDA") == 0);
    else if (!avail) CHECK(strncmp(buf, "no GPU (", 8) == 0);
    // A tiny buffer truncates instead of overflowing; an empty one is refused.
    char small[6] = "#####";
    CHECK_OK(silt_cuda_describe(small, 4));
    CHECK(small[3] == 0 && small[4] == '#');
    CHECK(silt_cuda_describe(NULL, 10) == SILT_ERR_ARG);
    CHECK(silt_cuda_describe(small, 0) == SILT_ERR_ARG);
}

// Every fallible call must refuse without touching its outputs.
static void test_refusals(void) {
    const char *want = silt_cuda_built() ? "no usable GPU" : "silt was built without CUDA";
#define REFUSED(expr)                                                                  \
    do {                                                                               \
        silt_error_clear();                                                            \
        silt_status s_ = (expr);                                                       \
        CHECK_MSG(s_ == SILT_ERR_UNSUPPORTED, "%s -> %d", #expr, (int)s_);             \
        CHECK_MSG(strstr(silt_last_error(), want) != NULL, "%s: message '%s'", #expr, silt_last_error()); \
    } while (0)
    void *sentinel = (void *)&want, *p = sentinel;
    float host[4] = {1, 2, 3, 4}, host2[4] = {0};
    uint16_t h16[4] = {0};
    REFUSED(silt_cuda_malloc(&p, 16));
    CHECK(p == sentinel);
    REFUSED(silt_cuda_memcpy_h2d(host2, host, sizeof host));
    REFUSED(silt_cuda_memcpy_d2h(host2, host, sizeof host));
    REFUSED(silt_cuda_memcpy_d2d(host2, host, sizeof host));
    REFUSED(silt_cuda_memset(host2, 0, sizeof host2));
    REFUSED(silt_cuda_sync());
    CHECK(host2[0] == 0 && host2[3] == 0);
    silt_cuda_free(NULL);

    silt_cuda_event *ev = (silt_cuda_event *)sentinel;
    REFUSED(silt_cuda_event_create(&ev));
    CHECK(ev == (silt_cuda_event *)sentinel);
    REFUSED(silt_cuda_event_record(NULL));
    float ms = -1;
    REFUSED(silt_cuda_event_elapsed_ms(NULL, NULL, &ms));
    CHECK(ms == -1);
    silt_cuda_event_free(NULL);

    int64_t shape[2] = {2, 2};
    silt_error_clear();
    CHECK(silt_tensor_create_cuda(SILT_F32, 2, shape) == NULL);
    CHECK(strstr(silt_last_error(), want) != NULL);
    silt_tensor *cpu = silt_tensor_create_f32(2, shape, false), *out = cpu;
    CHECK(cpu != NULL);
    if (cpu) {
        REFUSED(silt_tensor_to_cuda(cpu, &out));
        CHECK(out == cpu);
        REFUSED(silt_tensor_to_cpu(cpu, &out));
        CHECK(out == cpu);
    }
    silt_tensor_free_cuda(cpu);  // CPU tensors are passed on to silt_tensor_free
    silt_tensor_free_cuda(NULL);

    REFUSED(matmul_fwd_cuda(host2, host, host, 1, 2, 2, 1, false, false));
    REFUSED(matmul_fwd_cuda_bf16(h16, h16, h16, 1, 2, 2, 1, false, false));
    REFUSED(linear_fwd_cuda(host2, host, host, NULL, 2, 1, 2));
    REFUSED(gelu_fwd_cuda(host2, host, 4, 0));
    REFUSED(silu_fwd_cuda(host2, host, 4));
    REFUSED(add_fwd_cuda(host2, host, host, 4));
    CHECK(host2[0] == 0 && host2[3] == 0);
    CHECK(!silt_cuda_set_allow_tf32(false));  // off by default, and stays off
#undef REFUSED
}

// With a GPU: a small round trip through device memory and a device tensor.
static void test_round_trip(void) {
    float src[5] = {1, -2, 3.5f, 0, 7}, back[5] = {0};
    void *d = NULL;
    CHECK_OK(silt_cuda_malloc(&d, sizeof src));
    CHECK_OK(silt_cuda_memcpy_h2d(d, src, sizeof src));
    CHECK_OK(silt_cuda_memcpy_d2h(back, d, sizeof src));
    CHECK(memcmp(src, back, sizeof src) == 0);
    silt_cuda_free(d);
    int64_t shape[1] = {5};
    silt_tensor *h = silt_tensor_create_f32(1, shape, false), *dev = NULL, *h2 = NULL;
    CHECK(h != NULL);
    if (!h) return;
    memcpy(h->data, src, sizeof src);
    CHECK_OK(silt_tensor_to_cuda(h, &dev));
    CHECK(dev && dev->device == SILT_CUDA);
    if (dev) CHECK_OK(silt_tensor_to_cpu(dev, &h2));
    CHECK(h2 && h2->device == SILT_CPU && memcmp(h2->data, src, sizeof src) == 0);
    silt_tensor_free_cuda(dev);
    silt_tensor_free(h2);
    silt_tensor_free(h);
}

int main(void) {
    test_build_flag();
    test_consistency();
    if (silt_cuda_available()) test_round_trip();
    else test_refusals();
    return check_summary();
}
