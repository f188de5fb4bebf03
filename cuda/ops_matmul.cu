// CUDA twins of the matrix-product kernels: matmul (fp32 and bf16) and
// nn.Linear, through cuBLAS (nn.Linear with a bias through cuBLASLt, the
// bias fused into the GEMM, when cuBLASLt takes the shape).
//
// Row-major to cuBLAS: cuBLAS is column-major, and a row-major (R,C) buffer
// read column-major is its (C,R) transpose. So for out = op(a) @ op(b) we ask
// cuBLAS for out^T = op(b)^T @ op(a)^T, which it writes column-major as an
// (N,M) matrix with leading dimension N: exactly out in row-major order. b is
// the first operand (m = N), a the second (n = M), and each keeps its own
// transpose flag, with leading dimension = its row length as stored.
#include "cuda/common.cuh"
#include "cuda/reduce.cuh"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static silt_status check_dims(const char *op, int64_t batch, int64_t M, int64_t N, int64_t K) {
    if (batch < 0 || M < 0 || N < 0 || K < 0)
        return SILT_FAIL(SILT_ERR_ARG, "%s: negative size (batch %lld, M %lld, N %lld, K %lld)", op, (long long)batch,
                         (long long)M, (long long)N, (long long)K);
    if (batch > INT_MAX || M > INT_MAX || N > INT_MAX || K > INT_MAX)
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: size over 2^31-1 (batch %lld, M %lld, N %lld, K %lld); cuBLAS takes int",
                         op, (long long)batch, (long long)M, (long long)N, (long long)K);
    return SILT_OK;
}

// out = op(a) @ op(b) (+ out when acc) for any cuBLAS data type, fp32 scaling
// and accumulation; a and b of `type`, out of `otype` (elsize: out's element
// size). acc (beta = 1) is for the backward kernels, which accumulate.
static silt_status gemm_ex(const char *op, void *out, const void *a, const void *b, cudaDataType_t type,
                           cudaDataType_t otype, size_t elsize, int64_t batch, int64_t M, int64_t N, int64_t K,
                           bool trans_a, bool trans_b, cublasComputeType_t compute, bool acc) {
    SILT_CUDA_READY();
    SILT_TRY(check_dims(op, batch, M, N, K));
    if (batch == 0 || M == 0 || N == 0) return SILT_OK;
    if (!out || (K > 0 && (!a || !b))) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL buffer", op);
    if (K == 0) {  // an empty sum; cuBLAS would reject the zero leading dimension
        if (acc) return SILT_OK;
        SILT_CUDA_TRY(cudaMemsetAsync(out, 0, (size_t)batch * (size_t)M * (size_t)N * elsize, 0));
        return SILT_OK;
    }
    cublasHandle_t h;
    SILT_TRY(silt_cublas_handle_(&h, __FILE__, __LINE__));
    const float alpha = 1.0f, beta = acc ? 1.0f : 0.0f;
    cublasOperation_t opb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, opa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    int m = (int)N, n = (int)M, k = (int)K;
    int ldb = trans_b ? k : m;  // b stored (K,N) or (N,K): its row length
    int lda = trans_a ? n : k;  // a stored (M,K) or (K,M)
    int ldc = m;
    if (batch == 1) {
        SILT_CUBLAS_TRY(cublasGemmEx(h, opb, opa, m, n, k, &alpha, b, type, ldb, a, type, lda, &beta, out, otype, ldc,
                                     compute, CUBLAS_GEMM_DEFAULT));
    } else {
        long long sa = (long long)M * K, sb = (long long)K * N, sc = (long long)M * N;
        SILT_CUBLAS_TRY(cublasGemmStridedBatchedEx(h, opb, opa, m, n, k, &alpha, b, type, ldb, sb, a, type, lda, sa,
                                                   &beta, out, otype, ldc, sc, (int)batch, compute,
                                                   CUBLAS_GEMM_DEFAULT));
    }
    return SILT_OK;
}

static silt_status gemm(const char *op, void *out, const void *a, const void *b, cudaDataType_t type,
                        cudaDataType_t otype, size_t elsize, int64_t batch, int64_t M, int64_t N, int64_t K,
                        bool trans_a, bool trans_b, cublasComputeType_t compute) {
    return gemm_ex(op, out, a, b, type, otype, elsize, batch, M, N, K, trans_a, trans_b, compute, false);
}

// fp32 out (+)= op(a) @ op(b) with the process's TF32 setting.
static silt_status gemm_f32(const char *op, float *out, const float *a, const float *b, int64_t batch, int64_t M,
                            int64_t N, int64_t K, bool trans_a, bool trans_b, bool acc) {
    cublasComputeType_t compute = silt_cuda_tf32_() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    return gemm_ex(op, out, a, b, CUDA_R_32F, CUDA_R_32F, sizeof(float), batch, M, N, K, trans_a, trans_b, compute,
                   acc);
}

// Backward of matmul, as matmul_bwd_cpu: the same four cases, each one
// strided-batched GEMM with beta = 1 (accumulate). For out = op(a) op(b):
// dA' = dC op(b)^T, dB' = op(a)^T dC, written in a's / b's stored layout.
extern "C" silt_status matmul_bwd_cuda(float *da, float *db, const float *dout, const float *a, const float *b,
                                       int64_t batch, int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b) {
    const char *op = "matmul_bwd_cuda";
    if (da) {
        if (!trans_a)  // da (M,K) += dC (M,N) @ B'^T; B'^T (N,K) is b itself when trans_b
            SILT_TRY(gemm_f32(op, da, dout, b, batch, M, K, N, false, !trans_b, true));
        else  // da (K,M) += B' (K,N) @ dC^T (N,M); B' is b^T when trans_b
            SILT_TRY(gemm_f32(op, da, b, dout, batch, K, M, N, trans_b, true, true));
    }
    if (db) {
        if (!trans_b)  // db (K,N) += A'^T (K,M) @ dC (M,N); A'^T is a itself when trans_a
            SILT_TRY(gemm_f32(op, db, a, dout, batch, K, N, M, !trans_a, false, true));
        else  // db (N,K) += dC^T (N,M) @ A' (M,K)
            SILT_TRY(gemm_f32(op, db, dout, a, batch, N, K, M, true, trans_a, true));
    }
    return SILT_OK;
}

extern "C" silt_status matmul_fwd_cuda(float *out, const float *a, const float *b, int64_t batch, int64_t M,
                                       int64_t N, int64_t K, bool trans_a, bool trans_b) {
    // CUBLAS_COMPUTE_32F keeps full fp32 products (no TF32) whatever the
    // handle's math mode, so the twin matches the CPU to ~1e-6 relative.
    cublasComputeType_t compute = silt_cuda_tf32_() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    return gemm("matmul_fwd_cuda", out, a, b, CUDA_R_32F, CUDA_R_32F, sizeof(float), batch, M, N, K, trans_a, trans_b,
                compute);
}

extern "C" silt_status matmul_fwd_cuda_bf16(uint16_t *out, const uint16_t *a, const uint16_t *b, int64_t batch,
                                            int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b) {
    return gemm("matmul_fwd_cuda_bf16", out, a, b, CUDA_R_16BF, CUDA_R_16BF, sizeof(uint16_t), batch, M, N, K, trans_a,
                trans_b, CUBLAS_COMPUTE_32F);
}

// --- nn.Linear through cuBLASLt, the bias in the GEMM's epilogue ---------------------
// One call instead of a GEMM and a bias pass over the output (at DiT-XL/2
// batch 8 that pass is ~170 MB of traffic per block). Descriptors and the
// heuristic's algorithm are cached per (shape, operand type, compute type,
// pointer alignment): a DiT forward has a handful of linear shapes and ~120
// calls. Anything cuBLASLt declines (no algorithm, a full cache, an error)
// falls back to cuBLAS + bias_add_kernel, so the result never depends on it
// beyond rounding. One process-wide cache, used under a lock; when it is full
// the oldest plan makes room (round robin). SILT_CUBLASLT=0 in the
// environment forces the plain path; silt_cuda_linear_paths counts both.
namespace {

constexpr int LT_CACHE = 64;
constexpr size_t LT_WORKSPACE = (size_t)32 << 20;  // cuBLAS's recommendation for Hopper

struct lt_entry {
    bool used, ok;
    int64_t N, in_f, out_f;
    int type, compute, align;
    int out_type, epi;  // the output's type (fp32, or bf16 for the GELU epilogue) and cublasLtEpilogue_t
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t lw, lx, lo;
    cublasLtMatmulAlgo_t algo;
};

pthread_mutex_t g_lt_lock = PTHREAD_MUTEX_INITIALIZER;
cublasLtHandle_t g_lt;  // silt_cublaslt_handle_'s, fetched on the first call
void *g_lt_ws;
size_t g_lt_ws_bytes;
lt_entry g_lt_cache[LT_CACHE];
int g_lt_next;                     // the slot a full cache gives up next
int g_lt_off = -1;                 // SILT_CUBLASLT=0: 1; read on the first call
uint64_t g_lt_calls, g_plain_calls;  // linear_fwd_cuda calls by path (silt_cuda_linear_paths)

void lt_destroy(lt_entry *e) {
    if (e->op) cublasLtMatmulDescDestroy(e->op);
    if (e->lw) cublasLtMatrixLayoutDestroy(e->lw);
    if (e->lx) cublasLtMatrixLayoutDestroy(e->lx);
    if (e->lo) cublasLtMatrixLayoutDestroy(e->lo);
    *e = lt_entry{};
}

// The largest power of two (<= 256) dividing every address.
int common_alignment(const void *a, const void *b, const void *c, const void *d) {
    uintptr_t u = (uintptr_t)a | (uintptr_t)b | (uintptr_t)c | (uintptr_t)d | 256;
    return (int)(u & (~u + 1));
}

// Builds e (key already set): descriptors, layouts, one heuristic algorithm.
bool lt_build(lt_entry *e, const float *bias) {
    const cudaDataType_t t = (cudaDataType_t)e->type;
    const cublasOperation_t tr = CUBLAS_OP_T, no = CUBLAS_OP_N;
    const cublasLtEpilogue_t epi = (cublasLtEpilogue_t)e->epi;
    const int32_t bias_type = CUDA_R_32F;
    if (cublasLtMatmulDescCreate(&e->op, (cublasComputeType_t)e->compute, CUDA_R_32F) != CUBLAS_STATUS_SUCCESS)
        return false;
    // Column-major view (see the top of this file): out^T (out_f, N) = w (stored (out_f, in_f), read
    // as (in_f, out_f), transposed) x x^T (in_f, N); the bias runs along out^T's rows.
    bool ok = cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSA, &tr, sizeof tr) == 0 &&
              cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSB, &no, sizeof no) == 0 &&
              cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi) == 0 &&
              cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type) == 0 &&
              cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias) == 0 &&
              cublasLtMatrixLayoutCreate(&e->lw, t, (uint64_t)e->in_f, (uint64_t)e->out_f, e->in_f) == 0 &&
              cublasLtMatrixLayoutCreate(&e->lx, t, (uint64_t)e->in_f, (uint64_t)e->N, e->in_f) == 0 &&
              cublasLtMatrixLayoutCreate(&e->lo, (cudaDataType_t)e->out_type, (uint64_t)e->out_f, (uint64_t)e->N,
                                         e->out_f) == 0;
    cublasLtMatmulPreference_t pref = nullptr;
    if (ok) ok = cublasLtMatmulPreferenceCreate(&pref) == 0;
    const uint32_t al = (uint32_t)e->align;
    if (ok)
        ok = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &g_lt_ws_bytes,
                                                  sizeof g_lt_ws_bytes) == 0 &&
             cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al, sizeof al) == 0 &&
             cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al, sizeof al) == 0 &&
             cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al, sizeof al) == 0 &&
             cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al, sizeof al) == 0;
    cublasLtMatmulHeuristicResult_t res;
    int n = 0;
    if (ok)
        ok = cublasLtMatmulAlgoGetHeuristic(g_lt, e->op, e->lw, e->lx, e->lo, e->lo, pref, 1, &res, &n) == 0 && n > 0 &&
             res.state == CUBLAS_STATUS_SUCCESS;
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (ok) e->algo = res.algo;
    if (!ok) {  // keep the slot (so the shape is not asked again) without its descriptors
        lt_entry key = *e;
        key.op = nullptr, key.lw = key.lx = key.lo = nullptr;
        lt_destroy(e);
        *e = key;
    }
    return ok;
}

}  // namespace

// out = x @ w^T + bias in one cuBLASLt call; false when cuBLASLt declines
// (the caller then runs the plain path; no error is left behind). epi:
// CUBLASLT_EPILOGUE_BIAS (out fp32), or CUBLASLT_EPILOGUE_GELU_BIAS with a
// bf16 out (out_type CUDA_R_16BF): the bias and GELU in fp32, rounded once.
static bool lt_linear(void *out, const void *x, const void *w, const float *bias, cudaDataType_t type, int64_t N,
                      int64_t in_f, int64_t out_f, cublasComputeType_t compute,
                      cudaDataType_t out_type = CUDA_R_32F, cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS) {
    if (N <= 0 || in_f <= 0 || out_f <= 0 || !bias) return false;
    // cuBLASLt has no alignment preference for the bias and its epilogue may
    // read it in 16-byte vectors: a misaligned read would be a sticky fault.
    if ((uintptr_t)bias & 15) return false;
    const int align = common_alignment(out, x, w, bias);
    pthread_mutex_lock(&g_lt_lock);
    bool done = false;
    if (g_lt_off < 0) {
        const char *v = getenv("SILT_CUBLASLT");
        g_lt_off = v && !strcmp(v, "0");
    }
    if (g_lt_off) {
        pthread_mutex_unlock(&g_lt_lock);
        return false;
    }
    if (!g_lt) {
        if (silt_cublaslt_handle_(&g_lt, __FILE__, __LINE__) != SILT_OK) {
            g_lt = nullptr;
            silt_error_clear();  // the plain path runs instead
        } else if (cudaMalloc(&g_lt_ws, LT_WORKSPACE) == cudaSuccess) {
            g_lt_ws_bytes = LT_WORKSPACE;
        } else {  // run without a workspace
            (void)cudaGetLastError();
            g_lt_ws = nullptr;
        }
    }
    lt_entry *e = nullptr, *fresh = nullptr;
    for (int i = 0; g_lt && i < LT_CACHE && !e; i++) {
        lt_entry *c = &g_lt_cache[i];
        if (!c->used) {
            fresh = c;  // the cache fills in order: no match past a free slot
            break;
        }
        if (c->N == N && c->in_f == in_f && c->out_f == out_f && c->type == (int)type && c->compute == (int)compute &&
            c->align == align && c->out_type == (int)out_type && c->epi == (int)epi)
            e = c;
    }
    if (g_lt && !e) {
        if (!fresh) {  // full: the oldest plan makes room
            fresh = &g_lt_cache[g_lt_next];
            g_lt_next = (g_lt_next + 1) % LT_CACHE;
            lt_destroy(fresh);
        }
        fresh->used = true;
        fresh->N = N, fresh->in_f = in_f, fresh->out_f = out_f, fresh->type = (int)type, fresh->compute = (int)compute;
        fresh->align = align, fresh->out_type = (int)out_type, fresh->epi = (int)epi;
        fresh->ok = lt_build(fresh, bias);
        e = fresh;
    }
    if (e && e->ok) {
        const float alpha = 1.0f, beta = 0.0f;
        done = cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias) == 0 &&
               cublasLtMatmul(g_lt, e->op, &alpha, w, e->lw, x, e->lx, &beta, out, e->lo, out, e->lo, &e->algo, g_lt_ws,
                              g_lt_ws_bytes, 0) == CUBLAS_STATUS_SUCCESS;
        if (!done) e->ok = false;  // do not ask again for this shape
    }
    if (done) g_lt_calls++;
    pthread_mutex_unlock(&g_lt_lock);
    return done;
}

extern "C" void silt_cuda_linear_paths(uint64_t *lt, uint64_t *plain) {
    pthread_mutex_lock(&g_lt_lock);
    if (lt) *lt = g_lt_calls;
    if (plain) *plain = g_plain_calls;
    pthread_mutex_unlock(&g_lt_lock);
}

// out: (rows,cols) += bias: (cols), broadcast over rows.
static __global__ void bias_add_kernel(float *out, const float *bias, int64_t rows, int64_t cols) {
    int64_t total = rows * cols;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x)
        out[i] += bias[i % cols];
}

extern "C" silt_status linear_fwd_cuda(float *out, const float *x, const float *w, const float *bias, int64_t N,
                                       int64_t in_f, int64_t out_f) {
    // out (N,out_f) = x (N,in_f) @ w^T, w stored (out_f,in_f) as in nn.Linear.
    SILT_CUDA_READY();
    SILT_TRY(check_dims("linear_fwd_cuda", 1, N, out_f, in_f));
    if (bias && x && w && out &&
        lt_linear(out, x, w, bias, CUDA_R_32F, N, in_f, out_f,
                  silt_cuda_tf32_() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F))
        return SILT_OK;
    pthread_mutex_lock(&g_lt_lock);
    g_plain_calls++;
    pthread_mutex_unlock(&g_lt_lock);
    SILT_TRY(matmul_fwd_cuda(out, x, w, 1, N, out_f, in_f, false, true));
    if (!bias || N == 0 || out_f == 0) return SILT_OK;
    bias_add_kernel<<<silt_cuda_grid_(N * out_f), SILT_CUDA_BLOCK>>>(out, bias, N, out_f);
    SILT_CUDA_LAUNCHED("bias_add_kernel");
    return SILT_OK;
}

// fp32 -> bf16 bits, round to nearest even, NaN kept quiet (silt_f32_to_bf16).
static __global__ void to_bf16_kernel(uint16_t *out, const float *x, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        out[i] = silt_bf16_rn_(x[i]);
    }
}

extern "C" silt_status linear_fwd_cuda_bf16(float *out, const uint16_t *xb, const uint16_t *w, const float *bias,
                                            int64_t N, int64_t in_f, int64_t out_f) {
    SILT_CUDA_READY();
    SILT_TRY(check_dims("linear_fwd_cuda_bf16", 1, N, out_f, in_f));
    if (N * in_f > 0 && !xb) return SILT_FAIL(SILT_ERR_ARG, "linear_fwd_cuda_bf16: NULL x");
    // out (N,out_f) fp32 = xb (N,in_f) @ w^T: bf16 operands, fp32 accumulation and output.
    if (bias && w && out && N * in_f > 0 &&
        lt_linear(out, xb, w, bias, CUDA_R_16BF, N, in_f, out_f, CUBLAS_COMPUTE_32F))
        return SILT_OK;
    SILT_TRY(gemm("linear_fwd_cuda_bf16", out, xb, w, CUDA_R_16BF, CUDA_R_32F, sizeof(float), 1, N, out_f, in_f, false,
                  true, CUBLAS_COMPUTE_32F));
    if (!bias || N == 0 || out_f == 0) return SILT_OK;
    bias_add_kernel<<<silt_cuda_grid_(N * out_f), SILT_CUDA_BLOCK>>>(out, bias, N, out_f);
    SILT_CUDA_LAUNCHED("bias_add_kernel");
    return SILT_OK;
}

extern "C" silt_status linear_fwd_cuda_bf16w(float *out, uint16_t *xb, const float *x, const uint16_t *w,
                                             const float *bias, int64_t N, int64_t in_f, int64_t out_f) {
    SILT_CUDA_READY();
    SILT_TRY(check_dims("linear_fwd_cuda_bf16w", 1, N, out_f, in_f));
    int64_t nx = N * in_f;
    if (nx > 0) {
        if (!xb || !x) return SILT_FAIL(SILT_ERR_ARG, "linear_fwd_cuda_bf16w: NULL x or scratch");
        to_bf16_kernel<<<silt_cuda_grid_(nx), SILT_CUDA_BLOCK>>>(xb, x, nx);
        SILT_CUDA_LAUNCHED("to_bf16_kernel");
    }
    return linear_fwd_cuda_bf16(out, xb, w, bias, N, in_f, out_f);
}

extern "C" silt_status linear_gelu_fwd_cuda_bf16(uint16_t *out, float *scratch, const uint16_t *xb, const uint16_t *w,
                                                 const float *bias, int64_t N, int64_t in_f, int64_t out_f) {
    SILT_CUDA_READY();
    SILT_TRY(check_dims("linear_gelu_fwd_cuda_bf16", 1, N, out_f, in_f));
    if (N * out_f == 0) return SILT_OK;
    if (!out || (in_f > 0 && (!xb || !w))) return SILT_FAIL(SILT_ERR_ARG, "linear_gelu_fwd_cuda_bf16: NULL buffer");
    // One cuBLASLt call: GEMM, bias and GELU in its epilogue, bf16 out.
    if (bias && in_f > 0 &&
        lt_linear(out, xb, w, bias, CUDA_R_16BF, N, in_f, out_f, CUBLAS_COMPUTE_32F, CUDA_R_16BF,
                  CUBLASLT_EPILOGUE_GELU_BIAS))
        return SILT_OK;
    // Else the fp32 product (+ bias) into scratch, then GELU written as bf16.
    if (!scratch) return SILT_FAIL(SILT_ERR_ARG, "linear_gelu_fwd_cuda_bf16: NULL scratch");
    SILT_TRY(linear_fwd_cuda_bf16(scratch, xb, w, bias, N, in_f, out_f));
    return gelu_bf16_fwd_cuda(out, scratch, N * out_f, 1);
}

// dbias (cols) += column sums of d (rows, cols), in double (as sum_rows_acc
// on the CPU), through silt_colsum_ split into row chunks (its plan, a
// function of the sizes only, so the bits do not depend on the device): one
// thread per column walking all rows kept a 256-wide layer's bias grad on one
// block of one SM (~0.2-0.6 ms per call at 4096 rows; ~70 calls per step of
// the world MMDiT). The chunks' partials live in a process-wide scratch that
// only grows, held under a lock until the finishing kernel is launched (the
// default stream orders the next caller after it).
struct bias_grad_term {
    const float *d;
    int64_t cols;
    __device__ __forceinline__ void operator()(int64_t, int64_t t, int64_t c, double (&acc)[1]) const {
        acc[0] += d[t * cols + c];
    }
};

static pthread_mutex_t g_bias_lock = PTHREAD_MUTEX_INITIALIZER;
static void *g_bias_part;
static size_t g_bias_part_bytes;

static silt_status bias_grad(float *dbias, const float *d, int64_t rows, int64_t cols) {
    int64_t R = 1, chunk = rows;
    silt_colsum_plan_(1, rows, cols, &R, &chunk);
    pthread_mutex_lock(&g_bias_lock);
    if (R > 1 && silt_cuda_grow(&g_bias_part, &g_bias_part_bytes, (size_t)(R * cols) * sizeof(double)) != SILT_OK) {
        silt_error_clear();  // one pass without scratch: the same sums, less parallel
        R = 1, chunk = rows;
    }
    silt_status s = silt_colsum_<double, 1>("linear_bwd_cuda: bias", bias_grad_term{d, cols}, dbias, NULL,
                                            R > 1 ? (double *)g_bias_part : (double *)NULL, 1, rows, cols, R, chunk,
                                            true, 1.0);
    pthread_mutex_unlock(&g_bias_lock);
    return s;
}

extern "C" silt_status linear_bwd_cuda(float *dx, float *dw, float *dbias, const float *dout, const float *x,
                                       const float *w, int64_t N, int64_t in_f, int64_t out_f) {
    const char *op = "linear_bwd_cuda";
    SILT_CUDA_READY();
    if (N < 0 || in_f < 0 || out_f < 0) return SILT_FAIL(SILT_ERR_ARG, "%s: negative size", op);
    if ((dx || dw || dbias) && N > 0 && out_f > 0 && !dout) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL dout", op);
    // dx (N,in_f) += dout (N,out_f) @ w (out_f,in_f)
    if (dx) SILT_TRY(gemm_f32(op, dx, dout, w, 1, N, in_f, out_f, false, false, true));
    // dw (out_f,in_f) += dout^T (out_f,N) @ x (N,in_f)
    if (dw) SILT_TRY(gemm_f32(op, dw, dout, x, 1, out_f, in_f, N, true, false, true));
    if (dbias && out_f > 0) SILT_TRY(bias_grad(dbias, dout, N, out_f));
    return SILT_OK;
}
