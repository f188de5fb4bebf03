// CUDA runtime glue: device detection, device memory and copies, device
// tensors, timing events, the shared cuBLAS handle and error mapping.
//
// Why this works without a driver: the runtime is linked statically
// (cudart_static) and loads libcuda.so.1 itself on the first runtime call; when
// that fails the call returns an error code (cudaErrorInsufficientDriver or
// cudaErrorNoDevice) instead of the process failing to start. cuBLAS is linked
// dynamically but does not link libcuda either. So silt_cuda_available() can
// always ask, and everything else is gated on its answer.
#include "cuda/common.cuh"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// --- errors ----------------------------------------------------------------------

silt_status silt_cuda_fail_(cudaError_t e, const char *what, const char *file, int line) {
    (void)cudaGetLastError();  // reset the non-sticky error state
    silt_status code = e == cudaErrorMemoryAllocation ? SILT_ERR_OOM : SILT_ERR_CUDA;
    return silt_error_set(code, file, line, "CUDA: %s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

silt_status silt_cublas_fail_(cublasStatus_t s, const char *what, const char *file, int line) {
    silt_status code = SILT_ERR_CUDA;
    if (s == CUBLAS_STATUS_ALLOC_FAILED) code = SILT_ERR_OOM;
    else if (s == CUBLAS_STATUS_NOT_SUPPORTED || s == CUBLAS_STATUS_ARCH_MISMATCH) code = SILT_ERR_UNSUPPORTED;
    return silt_error_set(code, file, line, "cuBLAS: %s: %s (%s)", what, cublasGetStatusString(s),
                          cublasGetStatusName(s));
}

// --- detection -----------------------------------------------------------------------

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static bool g_available;
static int g_device_count;
static char g_reason[512] = "not probed";
static int g_allow_tf32;  // read and written with __atomic builtins

static __global__ void probe_kernel(int *p) { *p = 42; }

static void version_str(char *buf, size_t n, int v) {  // 13000 -> "13.0"
    snprintf(buf, n, "%d.%d", v / 1000, (v % 1000) / 10);
}

// Returns true when device 0 runs a kernel; otherwise fills g_reason.
static bool probe_device(void) {
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);  // 0 when libcuda.so.1 cannot be loaded
    cudaRuntimeGetVersion(&runtime);
    char dv[16], rv[16];
    version_str(dv, sizeof dv, driver);
    version_str(rv, sizeof rv, runtime);
    if (driver == 0) {
        snprintf(g_reason, sizeof g_reason, "no NVIDIA driver: libcuda.so.1 not found");
        return false;
    }
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e == cudaErrorInsufficientDriver) {
        snprintf(g_reason, sizeof g_reason, "driver %s is older than the CUDA %s runtime silt was built with", dv, rv);
        return false;
    }
    if (e != cudaSuccess || count < 1) {
        snprintf(g_reason, sizeof g_reason, "%s", e != cudaSuccess ? cudaGetErrorString(e) : "no CUDA device");
        return false;
    }
    // A device can be listed yet unusable: busy in exclusive mode, or a GPU
    // for which this build has neither a binary nor loadable PTX. Running one
    // tiny kernel catches all of these at once.
    int *d = NULL, h = 0;
    e = cudaSetDevice(0);
    if (e == cudaSuccess) e = cudaMalloc((void **)&d, sizeof(int));
    if (e == cudaSuccess) {
        probe_kernel<<<1, 1>>>(d);
        e = cudaGetLastError();
    }
    if (e == cudaSuccess) e = cudaMemcpy(&h, d, sizeof(int), cudaMemcpyDeviceToHost);
    if (d) cudaFree(d);
    if (e != cudaSuccess || h != 42) {
        cudaDeviceProp p;
        if (cudaGetDeviceProperties(&p, 0) == cudaSuccess)
            snprintf(g_reason, sizeof g_reason, "device 0 (%.120s, sm_%d%d) failed a test kernel: %.100s", p.name, p.major,
                     p.minor, e != cudaSuccess ? cudaGetErrorString(e) : "wrong result");
        else
            snprintf(g_reason, sizeof g_reason, "device 0 failed a test kernel: %.100s",
                     e != cudaSuccess ? cudaGetErrorString(e) : "wrong result");
        return false;
    }
    g_device_count = count;
    return true;
}

static void probe_once(void) {
    g_available = probe_device();
    (void)cudaGetLastError();
    if (g_available) g_reason[0] = 0;
    else silt_info("CUDA build, but no usable GPU (%s): running on the CPU", g_reason);
}

extern "C" bool silt_cuda_built(void) { return true; }

extern "C" bool silt_cuda_available(void) {
    pthread_once(&g_once, probe_once);
    return g_available;
}

extern "C" int silt_cuda_device_count(void) { return silt_cuda_available() ? g_device_count : 0; }

silt_status silt_cuda_ready_(const char *file, int line) {
    if (silt_cuda_available()) return SILT_OK;
    return silt_error_set(SILT_ERR_UNSUPPORTED, file, line, "no usable GPU (%s)", g_reason);
}

extern "C" bool silt_cuda_set_allow_tf32(bool allow) {
    return __atomic_exchange_n(&g_allow_tf32, allow ? 1 : 0, __ATOMIC_RELAXED) != 0;
}

bool silt_cuda_tf32_(void) { return __atomic_load_n(&g_allow_tf32, __ATOMIC_RELAXED) != 0; }

extern "C" silt_status silt_cuda_describe(char *buf, size_t n) {
    if (!buf || n == 0) return SILT_FAIL(SILT_ERR_ARG, "silt_cuda_describe: empty buffer");
    if (!silt_cuda_available()) {
        snprintf(buf, n, "no GPU (%s)", g_reason);
        return SILT_OK;
    }
    int driver = 0, runtime = 0, cb[3] = {0, 0, 0};
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    cublasGetProperty(MAJOR_VERSION, &cb[0]);
    cublasGetProperty(MINOR_VERSION, &cb[1]);
    cublasGetProperty(PATCH_LEVEL, &cb[2]);
    char dv[16], rv[16];
    version_str(dv, sizeof dv, driver);
    version_str(rv, sizeof rv, runtime);
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; i < g_device_count && off < n; i++) {
        cudaDeviceProp p;
        SILT_CUDA_TRY(cudaGetDeviceProperties(&p, i));
        char prefix[32] = "";
        if (g_device_count > 1) snprintf(prefix, sizeof prefix, "%scuda:%d ", i ? "; " : "", i);
        int w = snprintf(buf + off, n - off, "%s%s, sm_%d%d, %.1f GiB, driver %s, runtime %s, cuBLAS %d.%d.%d", prefix,
                         p.name, p.major, p.minor, (double)p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), dv, rv,
                         cb[0], cb[1], cb[2]);
        if (w < 0) break;
        off += (size_t)w;
    }
    return SILT_OK;
}

// --- cuBLAS handle ---------------------------------------------------------------------

static pthread_mutex_t g_cublas_lock = PTHREAD_MUTEX_INITIALIZER;
static cublasHandle_t g_cublas;
static cublasLtHandle_t g_cublaslt;

// The library handles are created on first use and kept for the process:
// creating one costs milliseconds and allocates device memory, and
// destroying it at exit races with the driver's own teardown.
template <typename H, typename Create>
static silt_status lazy_handle(H *slot, Create create, const char *what, H *h, const char *file, int line) {
    SILT_TRY(silt_cuda_ready_(file, line));
    pthread_mutex_lock(&g_cublas_lock);
    cublasStatus_t s = CUBLAS_STATUS_SUCCESS;
    if (!*slot) s = create(slot);
    H got = *slot;
    pthread_mutex_unlock(&g_cublas_lock);
    if (s != CUBLAS_STATUS_SUCCESS) return silt_cublas_fail_(s, what, file, line);
    *h = got;
    return SILT_OK;
}

silt_status silt_cublas_handle_(cublasHandle_t *h, const char *file, int line) {
    return lazy_handle(&g_cublas, cublasCreate, "cublasCreate", h, file, line);
}

silt_status silt_cublaslt_handle_(cublasLtHandle_t *h, const char *file, int line) {
    return lazy_handle(&g_cublaslt, cublasLtCreate, "cublasLtCreate", h, file, line);
}

// --- memory ------------------------------------------------------------------------------

extern "C" silt_status silt_cuda_malloc(void **p, size_t bytes) {
    if (!p) return SILT_FAIL(SILT_ERR_ARG, "silt_cuda_malloc: NULL result pointer");
    SILT_CUDA_READY();
    if (bytes == 0) {
        *p = NULL;
        return SILT_OK;
    }
    void *d = NULL;
    cudaError_t e = cudaMalloc(&d, bytes);
    if (e != cudaSuccess) {
        char what[64];
        snprintf(what, sizeof what, "cudaMalloc(%zu bytes)", bytes);
        return silt_cuda_fail_(e, what, __FILE__, __LINE__);
    }
    *p = d;
    return SILT_OK;
}

extern "C" void silt_cuda_free(void *p) {
    if (!p || !silt_cuda_available()) return;
    cudaError_t e = cudaFree(p);
    // cudaFree also reports faults of earlier asynchronous work; there is no
    // caller to return them to, so they go to the log.
    if (e != cudaSuccess) silt_warn("cudaFree: %s", cudaGetErrorString(e));
}

extern "C" silt_status silt_cuda_grow(void **buf, size_t *bytes, size_t need) {
    if (!buf || !bytes) return SILT_FAIL(SILT_ERR_ARG, "silt_cuda_grow: NULL argument");
    if (need <= *bytes && (*buf || need == 0)) return SILT_OK;
    silt_cuda_free(*buf);
    *buf = nullptr;
    *bytes = 0;
    SILT_TRY(silt_cuda_malloc(buf, need));
    *bytes = need;
    return SILT_OK;
}

static silt_status copy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, const char *name) {
    SILT_CUDA_READY();
    if (bytes == 0) return SILT_OK;
    if (!dst || !src) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL pointer for %zu bytes", name, bytes);
    cudaError_t e = cudaMemcpy(dst, src, bytes, kind);
    if (e != cudaSuccess) return silt_cuda_fail_(e, name, __FILE__, __LINE__);
    return SILT_OK;
}

extern "C" silt_status silt_cuda_memcpy_h2d(void *dst, const void *src, size_t bytes) {
    return copy(dst, src, bytes, cudaMemcpyHostToDevice, "silt_cuda_memcpy_h2d");
}
extern "C" silt_status silt_cuda_memcpy_d2h(void *dst, const void *src, size_t bytes) {
    return copy(dst, src, bytes, cudaMemcpyDeviceToHost, "silt_cuda_memcpy_d2h");
}
extern "C" silt_status silt_cuda_memcpy_d2d(void *dst, const void *src, size_t bytes) {
    return copy(dst, src, bytes, cudaMemcpyDeviceToDevice, "silt_cuda_memcpy_d2d");
}

extern "C" silt_status silt_cuda_memset(void *p, int v, size_t bytes) {
    SILT_CUDA_READY();
    if (bytes == 0) return SILT_OK;
    if (!p) return SILT_FAIL(SILT_ERR_ARG, "silt_cuda_memset: NULL pointer for %zu bytes", bytes);
    SILT_CUDA_TRY(cudaMemset(p, v, bytes));
    return SILT_OK;
}

extern "C" silt_status silt_cuda_sync(void) {
    SILT_CUDA_READY();
    SILT_CUDA_TRY(cudaDeviceSynchronize());
    return SILT_OK;
}

// --- device tensors -----------------------------------------------------------------------

// The status-returning form behind silt_tensor_create_cuda, so that
// silt_tensor_to_cuda can pass the exact failure on.
static silt_status tensor_create_cuda(silt_dtype dtype, int ndim, const int64_t *shape, silt_tensor **out) {
    if ((unsigned)dtype >= SILT_DTYPE_COUNT)
        return SILT_FAIL(SILT_ERR_ARG, "silt_tensor_create_cuda: bad dtype %d", (int)dtype);
    if (!shape) return SILT_FAIL(SILT_ERR_ARG, "silt_tensor_create_cuda: NULL shape");
    SILT_TRY(silt_shape_check(ndim, shape));
    SILT_CUDA_READY();
    silt_tensor *t = (silt_tensor *)calloc(1, sizeof *t);
    if (!t) return SILT_FAIL(SILT_ERR_OOM, "out of memory for tensor header");
    t->dtype = dtype;
    t->device = SILT_CUDA;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    size_t bytes = silt_nbytes(t);
    silt_status s = silt_cuda_malloc(&t->data, bytes);
    if (s != SILT_OK) {
        free(t);
        return s;
    }
    t->owns_data = true;
    s = silt_cuda_memset(t->data, 0, bytes);
    if (s != SILT_OK) {
        silt_tensor_free_cuda(t);
        return s;
    }
    *out = t;
    return SILT_OK;
}

extern "C" silt_tensor *silt_tensor_create_cuda(silt_dtype dtype, int ndim, const int64_t *shape) {
    silt_tensor *t = NULL;
    return tensor_create_cuda(dtype, ndim, shape, &t) == SILT_OK ? t : NULL;
}

extern "C" void silt_tensor_free_cuda(silt_tensor *t) {
    if (!t) return;
    if (t->device != SILT_CUDA) {
        silt_tensor_free(t);
        return;
    }
    if (t->owns_data) {
        silt_cuda_free(t->data);
        silt_cuda_free(t->grad);
    }
    free(t);
}

extern "C" silt_status silt_tensor_move_to_cuda(silt_tensor *t) {
    if (!t) return SILT_FAIL(SILT_ERR_ARG, "silt_tensor_move_to_cuda: NULL tensor");
    if (t->device == SILT_CUDA) return SILT_OK;
    if (t->device != SILT_CPU || !t->data)
        return SILT_FAIL(SILT_ERR_ARG, "silt_tensor_move_to_cuda: source is on %s%s", silt_device_name(t->device),
                         t->data ? "" : " without data");
    SILT_CUDA_READY();
    size_t bytes = silt_nbytes(t);
    void *d = NULL;
    SILT_TRY(silt_cuda_malloc(&d, bytes));
    silt_status s = silt_cuda_memcpy_h2d(d, t->data, bytes);
    if (s != SILT_OK) {
        silt_cuda_free(d);
        return s;
    }
    if (t->owns_data) {
        silt_free(t->data);
        silt_free(t->grad);
    }
    // Borrowed host data (a view into a mapped file) stays with its owner;
    // the device copy is ours either way.
    t->data = d;
    t->grad = NULL;
    t->requires_grad = false;
    t->owns_data = true;
    t->device = SILT_CUDA;
    return SILT_OK;
}

extern "C" silt_status silt_tensor_cuda_to_bf16(silt_tensor *t) {
    if (!t) return SILT_FAIL(SILT_ERR_ARG, "silt_tensor_cuda_to_bf16: NULL tensor");
    if (t->device != SILT_CUDA || (t->dtype != SILT_F32 && t->dtype != SILT_BF16) || !t->data || !t->owns_data)
        return SILT_FAIL(SILT_ERR_ARG, "silt_tensor_cuda_to_bf16: need an owned f32 cuda tensor (got %s on %s)",
                         silt_dtype_name(t->dtype), silt_device_name(t->device));
    if (t->dtype == SILT_BF16) return SILT_OK;
    SILT_CUDA_READY();
    // Through the host (once per weight, at load): the CPU's rounding, bit for bit.
    int64_t n = silt_numel(t);
    float *h = (float *)malloc(sizeof(float) * (size_t)n);
    uint16_t *hb = (uint16_t *)malloc(sizeof(uint16_t) * (size_t)n);
    void *d = NULL;
    silt_status s = h && hb ? SILT_OK : SILT_FAIL(SILT_ERR_OOM, "silt_tensor_cuda_to_bf16: out of host memory");
    if (s == SILT_OK) s = silt_cuda_memcpy_d2h(h, t->data, sizeof(float) * (size_t)n);
    if (s == SILT_OK) s = silt_convert(hb, SILT_BF16, h, SILT_F32, n);
    if (s == SILT_OK) s = silt_cuda_malloc(&d, sizeof(uint16_t) * (size_t)n);
    if (s == SILT_OK) s = silt_cuda_memcpy_h2d(d, hb, sizeof(uint16_t) * (size_t)n);
    free(h);
    free(hb);
    if (s != SILT_OK) {
        silt_cuda_free(d);
        return s;
    }
    silt_cuda_free(t->data);
    t->data = d;
    t->dtype = SILT_BF16;
    return SILT_OK;
}

extern "C" silt_status silt_tensor_to_cuda(const silt_tensor *host, silt_tensor **out) {
    if (!host || !out) return SILT_FAIL(SILT_ERR_ARG, "silt_tensor_to_cuda: NULL argument");
    if (host->device != SILT_CPU)
        return SILT_FAIL(SILT_ERR_ARG, "silt_tensor_to_cuda: source is on %s, expected cpu",
                         silt_device_name(host->device));
    if (!host->data) return SILT_FAIL(SILT_ERR_ARG, "silt_tensor_to_cuda: source has no data");
    silt_tensor *t = NULL;
    SILT_TRY(tensor_create_cuda(host->dtype, host->ndim, host->shape, &t));
    silt_status s = silt_cuda_memcpy_h2d(t->data, host->data, silt_nbytes(host));
    if (s != SILT_OK) {
        silt_tensor_free_cuda(t);
        return s;
    }
    *out = t;
    return SILT_OK;
}

extern "C" silt_status silt_tensor_to_cpu(const silt_tensor *dev, silt_tensor **out) {
    if (!dev || !out) return SILT_FAIL(SILT_ERR_ARG, "silt_tensor_to_cpu: NULL argument");
    SILT_CUDA_READY();
    if (dev->device != SILT_CUDA)
        return SILT_FAIL(SILT_ERR_ARG, "silt_tensor_to_cpu: source is on %s, expected cuda",
                         silt_device_name(dev->device));
    if (!dev->data) return SILT_FAIL(SILT_ERR_ARG, "silt_tensor_to_cpu: source has no data");
    if ((unsigned)dev->dtype >= SILT_DTYPE_COUNT)
        return SILT_FAIL(SILT_ERR_ARG, "silt_tensor_to_cpu: bad dtype %d", (int)dev->dtype);
    SILT_TRY(silt_shape_check(dev->ndim, dev->shape));
    silt_tensor *t = silt_tensor_create(dev->dtype, dev->ndim, dev->shape, false);
    if (!t) return SILT_ERR_OOM;  // dtype and shape are valid, so only memory can fail; message set
    silt_status s = silt_cuda_memcpy_d2h(t->data, dev->data, silt_nbytes(dev));
    if (s != SILT_OK) {
        silt_tensor_free(t);
        return s;
    }
    *out = t;
    return SILT_OK;
}

// --- events -------------------------------------------------------------------------------

// A silt_cuda_event* is the cudaEvent_t itself (an opaque driver pointer).
extern "C" silt_status silt_cuda_event_create(silt_cuda_event **e) {
    if (!e) return SILT_FAIL(SILT_ERR_ARG, "silt_cuda_event_create: NULL result pointer");
    SILT_CUDA_READY();
    cudaEvent_t ev;
    SILT_CUDA_TRY(cudaEventCreate(&ev));
    *e = (silt_cuda_event *)ev;
    return SILT_OK;
}

extern "C" void silt_cuda_event_free(silt_cuda_event *e) {
    if (e && silt_cuda_available()) cudaEventDestroy((cudaEvent_t)e);
}

extern "C" silt_status silt_cuda_event_record(silt_cuda_event *e) {
    SILT_CUDA_READY();
    if (!e) return SILT_FAIL(SILT_ERR_ARG, "silt_cuda_event_record: NULL event");
    SILT_CUDA_TRY(cudaEventRecord((cudaEvent_t)e, 0));
    return SILT_OK;
}

extern "C" silt_status silt_cuda_event_elapsed_ms(silt_cuda_event *start, silt_cuda_event *end, float *ms) {
    SILT_CUDA_READY();
    if (!start || !end || !ms) return SILT_FAIL(SILT_ERR_ARG, "silt_cuda_event_elapsed_ms: NULL argument");
    SILT_CUDA_TRY(cudaEventSynchronize((cudaEvent_t)end));
    float t = 0;
    SILT_CUDA_TRY(cudaEventElapsedTime(&t, (cudaEvent_t)start, (cudaEvent_t)end));
    *ms = t;
    return SILT_OK;
}
