// CUDA twins of conv2d (core/ops_conv.c) through cuDNN's convolution API,
// loaded at run time (see cuda/ops_conv.h for the contract).
//
// Why dlopen rather than linking: linking libcudnn would make every silt
// binary fail to start on a machine without cuDNN, while the rest of the
// CUDA backend (cudart static, driver loaded lazily) runs anywhere and
// degrades to the CPU. The header is only used for types and constants.
//
// Per call: the shape's plan (descriptors plus the chosen algorithms and
// their workspace sizes) comes from a small cache, then one cuDNN call per
// direction; the bias is a broadcast add (forward) and a per-channel
// reduction in double (backward), our own kernels. Everything runs on the
// legacy default stream, like the rest of cuda/.
#include "cuda/common.cuh"
#include "cuda/ops_conv.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

extern "C" {
#include "core/ops_conv.h"  // conv2d_out_size: the CPU's output-size rule
}

// --- bias kernels (used with cuDNN; compiled either way) ------------------------------

// out (N, Cout, P) += bias[co].
static __global__ void conv_bias_kernel(float *__restrict__ out, const float *__restrict__ bias, int64_t N,
                                        int64_t Cout, int64_t P) {
    int64_t n = N * Cout * P;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x)
        out[e] += bias[(e / P) % Cout];
}

enum { DBIAS_THREADS = 256 };

// dbias[co] += sum over n, p of dout (N, Cout, P): one block per channel,
// double partial sums per thread in a fixed order, then a fixed tree, so
// every run gives the same bits.
static __global__ void conv_dbias_kernel(float *__restrict__ dbias, const float *__restrict__ dout, int64_t N,
                                         int64_t Cout, int64_t P) {
    __shared__ double part[DBIAS_THREADS];
    for (int64_t co = blockIdx.x; co < Cout; co += gridDim.x) {
        double s = 0;
        for (int64_t t = threadIdx.x; t < N * P; t += DBIAS_THREADS) {
            int64_t n = t / P, p = t - n * P;
            s += (double)dout[(n * Cout + co) * P + p];
        }
        part[threadIdx.x] = s;
        __syncthreads();
        for (int half = DBIAS_THREADS / 2; half > 0; half >>= 1) {
            if ((int)threadIdx.x < half) part[threadIdx.x] += part[threadIdx.x + half];
            __syncthreads();
        }
        if (threadIdx.x == 0) dbias[co] += (float)part[0];
        __syncthreads();  // part is reused by the next channel
    }
}

// --- shape checks (shared by every entry point) -----------------------------------------

namespace {

struct conv_geom {
    int64_t N, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw, Ho, Wo;
};

silt_status geom_make(const char *op, conv_geom *g, int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout,
                      int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
    if (N < 0 || Cin < 0 || H < 1 || W < 1 || Cout < 0 || kh < 1 || kw < 1)
        return SILT_FAIL(SILT_ERR_ARG, "%s: bad sizes (N %lld, Cin %lld, H %lld, W %lld, Cout %lld, kernel %lldx%lld)", op,
                         (long long)N, (long long)Cin, (long long)H, (long long)W, (long long)Cout, (long long)kh,
                         (long long)kw);
    if (sh < 1 || sw < 1 || ph < 0 || pw < 0)
        return SILT_FAIL(SILT_ERR_ARG, "%s: stride (%lld, %lld) must be >= 1 and padding (%lld, %lld) >= 0", op,
                         (long long)sh, (long long)sw, (long long)ph, (long long)pw);
    int64_t Ho = conv2d_out_size(H, kh, sh, ph), Wo = conv2d_out_size(W, kw, sw, pw);
    if (Ho < 1 || Wo < 1)
        return SILT_FAIL(SILT_ERR_SHAPE, "%s: kernel %lldx%lld does not fit the padded input %lldx%lld", op, (long long)kh,
                         (long long)kw, (long long)(H + 2 * ph), (long long)(W + 2 * pw));
    *g = conv_geom{N, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw, Ho, Wo};
    return SILT_OK;
}

// cuDNN's legacy API takes int dims and (per tensor) fewer than 2^31 elements.
silt_status geom_fits_int(const char *op, const conv_geom &g) {
    const int64_t big[] = {g.N * g.Cin * g.H * g.W, g.N * g.Cout * g.Ho * g.Wo, g.Cout * g.Cin * g.kh * g.kw,
                           g.H + 2 * g.ph, g.W + 2 * g.pw, g.sh, g.sw};
    for (int64_t b : big)
        if (b > INT_MAX)
            return SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: a tensor or size over 2^31-1 (%lld); cuDNN's convolution takes int",
                             op, (long long)b);
    return SILT_OK;
}

}  // namespace

#ifdef SILT_HAVE_CUDNN

#include <cudnn.h>
#include <dlfcn.h>

namespace {

// --- cuDNN, loaded on first use ----------------------------------------------------------

#define SILT_CUDNN_FNS(X)                                                                                  \
    X(cudnnGetVersion) X(cudnnGetErrorString) X(cudnnCreate) X(cudnnCreateTensorDescriptor)                \
    X(cudnnSetTensor4dDescriptor) X(cudnnDestroyTensorDescriptor) X(cudnnCreateFilterDescriptor)           \
    X(cudnnSetFilter4dDescriptor) X(cudnnDestroyFilterDescriptor) X(cudnnCreateConvolutionDescriptor)      \
    X(cudnnSetConvolution2dDescriptor) X(cudnnSetConvolutionMathType) X(cudnnDestroyConvolutionDescriptor) \
    X(cudnnGetConvolution2dForwardOutputDim) X(cudnnGetConvolutionForwardAlgorithm_v7)                     \
    X(cudnnGetConvolutionBackwardDataAlgorithm_v7) X(cudnnGetConvolutionBackwardFilterAlgorithm_v7)        \
    X(cudnnGetConvolutionForwardWorkspaceSize) X(cudnnGetConvolutionBackwardDataWorkspaceSize)             \
    X(cudnnGetConvolutionBackwardFilterWorkspaceSize) X(cudnnConvolutionForward)                           \
    X(cudnnConvolutionBackwardData) X(cudnnConvolutionBackwardFilter)

struct dnn_api {
#define X(f) decltype(&::f) f;
    SILT_CUDNN_FNS(X)
#undef X
};

dnn_api dnn;
cudnnHandle_t g_handle;
bool g_dnn_ok;
char g_dnn_reason[512] = "not loaded";
pthread_once_t g_dnn_once = PTHREAD_ONCE_INIT;

void dnn_load(void) {
    if (!silt_cuda_available()) {
        snprintf(g_dnn_reason, sizeof g_dnn_reason, "no usable GPU");
        return;
    }
    const char *names[] = {"libcudnn.so.9",
#ifdef SILT_CUDNN_LIBRARY_PATH
                           SILT_CUDNN_LIBRARY_PATH,  // where CMake found it
#endif
                           "libcudnn.so"};
    void *lib = nullptr;
    const char *err = "";
    for (const char *n : names) {
        lib = dlopen(n, RTLD_NOW | RTLD_LOCAL);
        if (lib) break;
        err = dlerror();
    }
    if (!lib) {
        snprintf(g_dnn_reason, sizeof g_dnn_reason, "cuDNN not found (dlopen libcudnn.so.9: %.400s)", err ? err : "?");
        return;
    }
#define X(f)                                                                                       \
    dnn.f = reinterpret_cast<decltype(&::f)>(dlsym(lib, #f));                                      \
    if (!dnn.f) {                                                                                  \
        snprintf(g_dnn_reason, sizeof g_dnn_reason, "cuDNN library lacks %s (too old a version?)", #f); \
        return;                                                                                    \
    }
    SILT_CUDNN_FNS(X)
#undef X
    // The legacy API's ABI holds within a major version (9: major*10000 + ...).
    size_t v = dnn.cudnnGetVersion(), major = v >= 90000 ? v / 10000 : v / 1000;
    if (major != CUDNN_MAJOR) {
        snprintf(g_dnn_reason, sizeof g_dnn_reason, "cuDNN %zu found, silt was built against cuDNN %d", v, CUDNN_MAJOR);
        return;
    }
    cudnnStatus_t s = dnn.cudnnCreate(&g_handle);
    if (s != CUDNN_STATUS_SUCCESS) {
        snprintf(g_dnn_reason, sizeof g_dnn_reason, "cudnnCreate: %s", dnn.cudnnGetErrorString(s));
        return;
    }
    g_dnn_ok = true;  // the handle lives for the process, like the cuBLAS one
}

silt_status dnn_ready(const char *op) {
    SILT_CUDA_READY();
    pthread_once(&g_dnn_once, dnn_load);
    if (!g_dnn_ok) return SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: %s", op, g_dnn_reason);
    return SILT_OK;
}

silt_status dnn_fail(cudnnStatus_t s, const char *what, const char *file, int line) {
    int cat = (int)s / 1000;  // cuDNN 9 groups its codes by thousands
    silt_status code = cat == 3 ? SILT_ERR_UNSUPPORTED
                       : (s == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED ||
                          s == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED)
                           ? SILT_ERR_OOM
                           : SILT_ERR_CUDA;
    return silt_error_set(code, file, line, "cuDNN: %s: %s (%d)", what, dnn.cudnnGetErrorString(s), (int)s);
}

#define DNN_TRY(expr)                                                                  \
    do {                                                                               \
        cudnnStatus_t s_ = (expr);                                                     \
        if (s_ != CUDNN_STATUS_SUCCESS) return dnn_fail(s_, #expr, __FILE__, __LINE__); \
    } while (0)

// --- plans: descriptors and algorithms per shape ------------------------------------------

struct conv_plan {
    conv_geom g{};
    int tf32;  // the TF32 setting the algorithms were chosen under
    bool used;
    cudnnTensorDescriptor_t xd, yd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd_data;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter;
    cudnnMathType_t math_fwd, math_data, math_filter;
    size_t ws_fwd, ws_data, ws_filter;
};

enum { PLAN_CACHE = 32 };
// Workspace an algorithm may ask for before we prefer a leaner one.
constexpr size_t WS_CAP = (size_t)1 << 30;

pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;  // guards everything below and the handle
conv_plan g_plans[PLAN_CACHE];
int g_next_plan;
void *g_ws;
size_t g_ws_bytes;

bool same_geom(const conv_geom &a, const conv_geom &b) { return memcmp(&a, &b, sizeof a) == 0; }

void plan_free(conv_plan *p) {
    if (!p->used) return;
    if (p->xd) dnn.cudnnDestroyTensorDescriptor(p->xd);
    if (p->yd) dnn.cudnnDestroyTensorDescriptor(p->yd);
    if (p->wd) dnn.cudnnDestroyFilterDescriptor(p->wd);
    if (p->cd) dnn.cudnnDestroyConvolutionDescriptor(p->cd);
    *p = conv_plan{};
}

// Picks the first algorithm of cuDNN's heuristic order that runs, is
// deterministic, keeps fp32 precision (FMA math) unless TF32 is allowed,
// and fits WS_CAP; `fallback` (a deterministic algorithm) when none does.
template <typename Perf, typename Algo>
void choose(const Perf *perf, int n, bool tf32, Algo fallback, Algo *algo, cudnnMathType_t *math) {
    *algo = fallback;
    *math = tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
    for (int i = 0; i < n; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].determinism != CUDNN_DETERMINISTIC) continue;
        if (!tf32 && perf[i].mathType != CUDNN_FMA_MATH) continue;
        if (perf[i].memory > WS_CAP) continue;
        *algo = perf[i].algo;
        *math = perf[i].mathType;
        return;
    }
}

silt_status plan_build(conv_plan *p, const conv_geom &g, bool tf32) {
    *p = conv_plan{};
    p->used = true;  // so plan_free cleans up a half-built plan
    p->g = g;
    p->tf32 = tf32;
    DNN_TRY(dnn.cudnnCreateTensorDescriptor(&p->xd));
    DNN_TRY(dnn.cudnnCreateTensorDescriptor(&p->yd));
    DNN_TRY(dnn.cudnnCreateFilterDescriptor(&p->wd));
    DNN_TRY(dnn.cudnnCreateConvolutionDescriptor(&p->cd));
    DNN_TRY(dnn.cudnnSetTensor4dDescriptor(p->xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)g.N, (int)g.Cin, (int)g.H,
                                           (int)g.W));
    DNN_TRY(dnn.cudnnSetFilter4dDescriptor(p->wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, (int)g.Cout, (int)g.Cin,
                                           (int)g.kh, (int)g.kw));
    DNN_TRY(dnn.cudnnSetConvolution2dDescriptor(p->cd, (int)g.ph, (int)g.pw, (int)g.sh, (int)g.sw, 1, 1,
                                                CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    int n = 0, c = 0, h = 0, w = 0;
    DNN_TRY(dnn.cudnnGetConvolution2dForwardOutputDim(p->cd, p->xd, p->wd, &n, &c, &h, &w));
    if (n != g.N || c != g.Cout || h != g.Ho || w != g.Wo)
        return SILT_FAIL(SILT_ERR_CUDA, "cuDNN output shape (%d,%d,%d,%d) differs from PyTorch's (%lld,%lld,%lld,%lld)",
                         n, c, h, w, (long long)g.N, (long long)g.Cout, (long long)g.Ho, (long long)g.Wo);
    DNN_TRY(dnn.cudnnSetTensor4dDescriptor(p->yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w));
    // The heuristics see the math mode on the descriptor: FMA forbids TF32.
    DNN_TRY(dnn.cudnnSetConvolutionMathType(p->cd, tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
    int got = 0;
    cudnnConvolutionFwdAlgoPerf_t pf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    DNN_TRY(dnn.cudnnGetConvolutionForwardAlgorithm_v7(g_handle, p->xd, p->wd, p->cd, p->yd,
                                                       CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, pf));
    choose(pf, got, tf32, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, &p->fwd, &p->math_fwd);
    cudnnConvolutionBwdDataAlgoPerf_t pd[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    DNN_TRY(dnn.cudnnGetConvolutionBackwardDataAlgorithm_v7(g_handle, p->wd, p->yd, p->cd, p->xd,
                                                            CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, pd));
    choose(pd, got, tf32, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, &p->bwd_data, &p->math_data);
    cudnnConvolutionBwdFilterAlgoPerf_t pw[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    DNN_TRY(dnn.cudnnGetConvolutionBackwardFilterAlgorithm_v7(g_handle, p->xd, p->yd, p->cd, p->wd,
                                                              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &got, pw));
    choose(pw, got, tf32, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, &p->bwd_filter, &p->math_filter);
    // Workspace per direction, each under its own math mode.
    DNN_TRY(dnn.cudnnSetConvolutionMathType(p->cd, p->math_fwd));
    DNN_TRY(dnn.cudnnGetConvolutionForwardWorkspaceSize(g_handle, p->xd, p->wd, p->cd, p->yd, p->fwd, &p->ws_fwd));
    DNN_TRY(dnn.cudnnSetConvolutionMathType(p->cd, p->math_data));
    DNN_TRY(dnn.cudnnGetConvolutionBackwardDataWorkspaceSize(g_handle, p->wd, p->yd, p->cd, p->xd, p->bwd_data,
                                                             &p->ws_data));
    DNN_TRY(dnn.cudnnSetConvolutionMathType(p->cd, p->math_filter));
    DNN_TRY(dnn.cudnnGetConvolutionBackwardFilterWorkspaceSize(g_handle, p->xd, p->yd, p->cd, p->wd, p->bwd_filter,
                                                               &p->ws_filter));
    return SILT_OK;
}

// The cached plan for g under the current TF32 setting (built on a miss,
// replacing the oldest entry). Call with g_lock held.
silt_status plan_get(const conv_geom &g, conv_plan **out) {
    int tf32 = silt_cuda_tf32_() ? 1 : 0;
    for (int i = 0; i < PLAN_CACHE; i++)
        if (g_plans[i].used && g_plans[i].tf32 == tf32 && same_geom(g_plans[i].g, g)) {
            *out = &g_plans[i];
            return SILT_OK;
        }
    conv_plan *p = &g_plans[g_next_plan];
    g_next_plan = (g_next_plan + 1) % PLAN_CACHE;
    plan_free(p);
    silt_status s = plan_build(p, g, tf32 != 0);
    if (s != SILT_OK) {
        plan_free(p);
        return s;
    }
    *out = p;
    return SILT_OK;
}

// Workspace of `bytes`: the caller's scratch, or the library's own buffer,
// grown when too small. Call with g_lock held (so no other call can free
// the buffer while this one's work is queued; cudaFree also waits for the
// device).
silt_status workspace(float *scratch, size_t bytes, void **ws) {
    if (scratch || bytes == 0) {
        *ws = scratch;
        return SILT_OK;
    }
    SILT_TRY(silt_cuda_grow(&g_ws, &g_ws_bytes, bytes));
    *ws = g_ws;
    return SILT_OK;
}

struct lock_guard {
    lock_guard() { pthread_mutex_lock(&g_lock); }
    ~lock_guard() { pthread_mutex_unlock(&g_lock); }
};

silt_status check_scratch(const char *op, const float *scratch) {
    if (scratch && ((uintptr_t)scratch % 256) != 0)
        return SILT_FAIL(SILT_ERR_ARG, "%s: scratch %p is not 256-byte aligned (use silt_cuda_malloc)", op,
                         (const void *)scratch);
    return SILT_OK;
}

}  // namespace

extern "C" bool silt_cuda_have_cudnn(void) {
    if (!silt_cuda_available()) return false;
    pthread_once(&g_dnn_once, dnn_load);
    return g_dnn_ok;
}

extern "C" silt_status conv2d_scratch_floats_cuda(int64_t *floats, int64_t N, int64_t Cin, int64_t H, int64_t W,
                                                  int64_t Cout, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                                                  int64_t ph, int64_t pw) {
    const char *op = "conv2d_scratch_floats_cuda";
    if (!floats) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL result pointer", op);
    conv_geom g{};
    SILT_TRY(geom_make(op, &g, N, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw));
    SILT_TRY(geom_fits_int(op, g));
    SILT_TRY(dnn_ready(op));
    if (N == 0 || Cin == 0 || Cout == 0) {  // no cuDNN call for empty work
        *floats = 0;
        return SILT_OK;
    }
    lock_guard lock;
    conv_plan *p = nullptr;
    SILT_TRY(plan_get(g, &p));
    size_t b = p->ws_fwd > p->ws_data ? p->ws_fwd : p->ws_data;
    if (p->ws_filter > b) b = p->ws_filter;
    *floats = (int64_t)((b + sizeof(float) - 1) / sizeof(float));
    return SILT_OK;
}

extern "C" silt_status conv2d_fwd_cuda(float *out, float *scratch, const float *x, const float *w, const float *bias,
                                       int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh,
                                       int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
    const char *op = "conv2d_fwd_cuda";
    conv_geom g{};
    SILT_TRY(geom_make(op, &g, N, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw));
    SILT_TRY(geom_fits_int(op, g));
    SILT_TRY(dnn_ready(op));
    SILT_TRY(check_scratch(op, scratch));
    const int64_t P = g.Ho * g.Wo;
    if (N == 0 || Cout == 0) return SILT_OK;
    if (!out || (Cin > 0 && (!x || !w))) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL buffer", op);
    if (Cin == 0) {  // an empty sum: the bias alone (cuDNN rejects C = 0)
        SILT_CUDA_TRY(cudaMemsetAsync(out, 0, (size_t)(N * Cout * P) * sizeof(float), 0));
    } else {
        lock_guard lock;
        conv_plan *p = nullptr;
        SILT_TRY(plan_get(g, &p));
        void *ws = nullptr;
        SILT_TRY(workspace(scratch, p->ws_fwd, &ws));
        const float one = 1.0f, zero = 0.0f;
        DNN_TRY(dnn.cudnnSetConvolutionMathType(p->cd, p->math_fwd));
        DNN_TRY(dnn.cudnnConvolutionForward(g_handle, &one, p->xd, x, p->wd, w, p->cd, p->fwd, ws, p->ws_fwd, &zero,
                                            p->yd, out));
    }
    if (bias) {
        conv_bias_kernel<<<silt_cuda_grid_(N * Cout * P), SILT_CUDA_BLOCK>>>(out, bias, N, Cout, P);
        SILT_CUDA_LAUNCHED("conv_bias_kernel");
    }
    return SILT_OK;
}

extern "C" silt_status conv2d_bwd_cuda(float *dx, float *dw, float *dbias, float *scratch, const float *dout,
                                       const float *x, const float *w, int64_t N, int64_t Cin, int64_t H, int64_t W,
                                       int64_t Cout, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,
                                       int64_t pw) {
    const char *op = "conv2d_bwd_cuda";
    conv_geom g{};
    SILT_TRY(geom_make(op, &g, N, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw));
    SILT_TRY(geom_fits_int(op, g));
    SILT_TRY(dnn_ready(op));
    SILT_TRY(check_scratch(op, scratch));
    const int64_t P = g.Ho * g.Wo;
    if (N == 0 || Cout == 0) return SILT_OK;
    if (!dout || (Cin > 0 && ((dx && !w) || (dw && !x))))
        return SILT_FAIL(SILT_ERR_ARG, "%s: NULL buffer (dout; dx needs w, dw needs x)", op);
    if (dbias) {
        int64_t blocks = Cout < 4096 ? Cout : 4096;
        conv_dbias_kernel<<<(unsigned)blocks, DBIAS_THREADS>>>(dbias, dout, N, Cout, P);
        SILT_CUDA_LAUNCHED("conv_dbias_kernel");
    }
    if ((!dx && !dw) || Cin == 0) return SILT_OK;
    lock_guard lock;
    conv_plan *p = nullptr;
    SILT_TRY(plan_get(g, &p));
    const float one = 1.0f;  // beta = 1: cuDNN adds into dx and dw (the += contract)
    if (dx) {
        void *ws = nullptr;
        SILT_TRY(workspace(scratch, p->ws_data, &ws));
        DNN_TRY(dnn.cudnnSetConvolutionMathType(p->cd, p->math_data));
        DNN_TRY(dnn.cudnnConvolutionBackwardData(g_handle, &one, p->wd, w, p->yd, dout, p->cd, p->bwd_data, ws,
                                                 p->ws_data, &one, p->xd, dx));
    }
    if (dw) {
        void *ws = nullptr;
        SILT_TRY(workspace(scratch, p->ws_filter, &ws));
        DNN_TRY(dnn.cudnnSetConvolutionMathType(p->cd, p->math_filter));
        DNN_TRY(dnn.cudnnConvolutionBackwardFilter(g_handle, &one, p->xd, x, p->yd, dout, p->cd, p->bwd_filter, ws,
                                                   p->ws_filter, &one, p->wd, dw));
    }
    return SILT_OK;
}

#else  // !SILT_HAVE_CUDNN

#define NO_CUDNN(op) \
    SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: silt was built without cuDNN (cudnn.h not found at configure time)", op)

extern "C" bool silt_cuda_have_cudnn(void) { return false; }

extern "C" silt_status conv2d_scratch_floats_cuda(int64_t *floats, int64_t N, int64_t Cin, int64_t H, int64_t W,
                                                  int64_t Cout, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                                                  int64_t ph, int64_t pw) {
    SILT_CUDA_READY();
    return NO_CUDNN("conv2d_scratch_floats_cuda");
}

extern "C" silt_status conv2d_fwd_cuda(float *out, float *scratch, const float *x, const float *w, const float *bias,
                                       int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh,
                                       int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
    SILT_CUDA_READY();
    (void)conv_bias_kernel;
    (void)conv_dbias_kernel;
    (void)geom_make;
    (void)geom_fits_int;
    return NO_CUDNN("conv2d_fwd_cuda");
}

extern "C" silt_status conv2d_bwd_cuda(float *dx, float *dw, float *dbias, float *scratch, const float *dout,
                                       const float *x, const float *w, int64_t N, int64_t Cin, int64_t H, int64_t W,
                                       int64_t Cout, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,
                                       int64_t pw) {
    SILT_CUDA_READY();
    return NO_CUDNN("conv2d_bwd_cuda");
}

#endif
