// CUDA twins of the elementwise kernels: activations and their backwards,
// scalar ops, broadcasting binary ops (cuda/cuda.h, cuda/ops_elementwise.h).
// Grid-stride loops over int64 indices; full-precision erff/tanhf/expf (no
// fast-math) so the twins agree with the CPU versions to a few ulp.
#include "cuda/common.cuh"
#include "cuda/ops_elementwise.h"
#include "cuda/reduce.cuh"

// GELU as torch.nn.GELU (Hendrycks & Gimpel 2016, eq. 1 and the tanh fit):
//   erf:  0.5 x (1 + erf(x / sqrt 2))
//   tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
static __global__ void gelu_erf_kernel(float *out, const float *x, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float v = x[i];
        out[i] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    }
}

// The tanh form as the CPU computes it (core/ops_elementwise.c): 0.5 (1 +
// tanh u) = 1 / (1 + e^(-2u)), which keeps its relative precision for very
// negative u where 1 + tanhf(u) cancels (at x = -5 that sum has ~1 correct
// digit); e^(-2u) overflowing to inf gives -0, the right limit.
static __device__ __forceinline__ float gelu_tanh_value_(float v) {
    const float u = 0.79788456080286536f * (v + 0.044715f * v * v * v);
    return v / (1.0f + expf(-2.0f * u));
}

static __global__ void gelu_tanh_kernel(float *out, const float *x, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = gelu_tanh_value_(x[i]);
}

// GELU written as bf16 for a bf16-weight linear that follows (the MLP's fc2):
// the fp32 value as gelu_*_kernel computes it, then rounded. Four elements per
// thread when n and the buffers allow it (one 16-byte load, one 8-byte store).
template <int APPROX>
static __device__ __forceinline__ float gelu_value_(float v) {
    if (APPROX) return gelu_tanh_value_(v);
    return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
}

template <int APPROX>
static __global__ void gelu_bf16_kernel(uint16_t *out, const float *x, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = silt_bf16_rn_(gelu_value_<APPROX>(x[i]));
}

template <int APPROX>
static __global__ void gelu_bf16_vec4_kernel(uint2 *out, const float4 *x, int64_t n4) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += (int64_t)gridDim.x * blockDim.x) {
        const float4 v = x[i];
        const uint32_t lo = silt_bf16_rn_(gelu_value_<APPROX>(v.x)) | ((uint32_t)silt_bf16_rn_(gelu_value_<APPROX>(v.y)) << 16);
        const uint32_t hi = silt_bf16_rn_(gelu_value_<APPROX>(v.z)) | ((uint32_t)silt_bf16_rn_(gelu_value_<APPROX>(v.w)) << 16);
        out[i] = make_uint2(lo, hi);
    }
}

// SiLU (Elfwing et al. 2018): x * sigmoid(x). For x -> -inf expf overflows to
// inf and the quotient is -0, the right limit.
static __global__ void silu_kernel(float *out, const float *x, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float v = x[i];
        out[i] = v / (1.0f + expf(-v));
    }
}

static __global__ void add_kernel(float *out, const float *a, const float *b, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = a[i] + b[i];
}

// Common argument checks; *skip is set when there is nothing to do.
static silt_status check_n(const char *op, int64_t n, bool any_null, bool *skip) {
    SILT_CUDA_READY();
    if (n < 0) return SILT_FAIL(SILT_ERR_ARG, "%s: negative size %lld", op, (long long)n);
    *skip = n == 0;
    if (n > 0 && any_null) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL buffer", op);
    return SILT_OK;
}

extern "C" silt_status gelu_fwd_cuda(float *out, const float *x, int64_t n, int approximate) {
    bool skip = false;
    SILT_TRY(check_n("gelu_fwd_cuda", n, !out || !x, &skip));
    if (approximate != 0 && approximate != 1)
        return SILT_FAIL(SILT_ERR_ARG, "gelu_fwd_cuda: approximate is %d (0 erf, 1 tanh)", approximate);
    if (skip) return SILT_OK;
    if (approximate) {
        gelu_tanh_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(out, x, n);
        SILT_CUDA_LAUNCHED("gelu_tanh_kernel");
    } else {
        gelu_erf_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(out, x, n);
        SILT_CUDA_LAUNCHED("gelu_erf_kernel");
    }
    return SILT_OK;
}

extern "C" silt_status gelu_bf16_fwd_cuda(uint16_t *out, const float *x, int64_t n, int approximate) {
    bool skip = false;
    SILT_TRY(check_n("gelu_bf16_fwd_cuda", n, !out || !x, &skip));
    if (approximate != 0 && approximate != 1)
        return SILT_FAIL(SILT_ERR_ARG, "gelu_bf16_fwd_cuda: approximate is %d (0 erf, 1 tanh)", approximate);
    if (skip) return SILT_OK;
    if (n % 4 == 0 && (uintptr_t)x % 16 == 0 && (uintptr_t)out % 8 == 0) {
        if (approximate) gelu_bf16_vec4_kernel<1><<<silt_cuda_grid_(n / 4), SILT_CUDA_BLOCK>>>((uint2 *)out, (const float4 *)x, n / 4);
        else gelu_bf16_vec4_kernel<0><<<silt_cuda_grid_(n / 4), SILT_CUDA_BLOCK>>>((uint2 *)out, (const float4 *)x, n / 4);
    } else if (approximate) {
        gelu_bf16_kernel<1><<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(out, x, n);
    } else {
        gelu_bf16_kernel<0><<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(out, x, n);
    }
    SILT_CUDA_LAUNCHED("gelu_bf16_kernel");
    return SILT_OK;
}

extern "C" silt_status silu_fwd_cuda(float *out, const float *x, int64_t n) {
    bool skip = false;
    SILT_TRY(check_n("silu_fwd_cuda", n, !out || !x, &skip));
    if (skip) return SILT_OK;
    silu_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(out, x, n);
    SILT_CUDA_LAUNCHED("silu_kernel");
    return SILT_OK;
}

extern "C" silt_status add_fwd_cuda(float *out, const float *a, const float *b, int64_t n) {
    bool skip = false;
    SILT_TRY(check_n("add_fwd_cuda", n, !out || !a || !b, &skip));
    if (skip) return SILT_OK;
    add_kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(out, a, b, n);
    SILT_CUDA_LAUNCHED("add_kernel");
    return SILT_OK;
}

// --- backwards, tanh, sigmoid, scalar ops (cuda/ops_elementwise.h) -------------------
// Formulas as core/ops_elementwise.c, written the same way so the twins
// round alike.

#define ELEM_LOOP(n) for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

// Stable logistic: never evaluates exp of a large positive number.
static __device__ __forceinline__ float sigmoid_dev(float v) {
    if (v >= 0.0f) return 1.0f / (1.0f + expf(-v));
    const float e = expf(v);
    return e / (1.0f + e);
}

// tanh form, with s = sigmoid(2u) = 0.5 (1 + tanh u):
//   d/dx [x s] = s + 2 x s (1 - s) u',  u' = sqrt(2/pi) (1 + 3c x^2)
static __global__ void gelu_tanh_bwd_kernel(float *dx, const float *dout, const float *x, int64_t n) {
    ELEM_LOOP(n) {
        const float v = x[i];
        const float u = 0.79788456080286536f * (v + 0.044715f * v * v * v);
        const float sg = 1.0f / (1.0f + expf(-2.0f * u));
        const float du = 0.79788456080286536f * (1.0f + 3.0f * 0.044715f * v * v);
        dx[i] += dout[i] * (sg + 2.0f * v * sg * (1.0f - sg) * du);
    }
}

// erf form: d/dx [x Phi(x)] = Phi(x) + x phi(x)
static __global__ void gelu_erf_bwd_kernel(float *dx, const float *dout, const float *x, int64_t n) {
    ELEM_LOOP(n) {
        const float v = x[i];
        const float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
        const float pdf = 0.39894228040143268f * expf(-0.5f * v * v);
        dx[i] += dout[i] * (cdf + v * pdf);
    }
}

// d/dx [x s(x)] = s (1 + x (1 - s))
static __global__ void silu_bwd_kernel(float *dx, const float *dout, const float *x, int64_t n) {
    ELEM_LOOP(n) {
        const float s = sigmoid_dev(x[i]);
        dx[i] += dout[i] * s * (1.0f + x[i] * (1.0f - s));
    }
}

static __global__ void tanh_fwd_kernel(float *out, const float *x, int64_t n) {
    ELEM_LOOP(n) out[i] = tanhf(x[i]);
}

static __global__ void tanh_bwd_kernel(float *dx, const float *dout, const float *y, int64_t n) {
    ELEM_LOOP(n) dx[i] += dout[i] * (1.0f - y[i] * y[i]);
}

static __global__ void sigmoid_fwd_kernel(float *out, const float *x, int64_t n) {
    ELEM_LOOP(n) out[i] = sigmoid_dev(x[i]);
}

static __global__ void sigmoid_bwd_kernel(float *dx, const float *dout, const float *y, int64_t n) {
    ELEM_LOOP(n) dx[i] += dout[i] * y[i] * (1.0f - y[i]);
}

static __global__ void scale_fwd_kernel(float *out, const float *x, float s, int64_t n) {
    ELEM_LOOP(n) out[i] = x[i] * s;
}

static __global__ void scale_bwd_kernel(float *dx, const float *dout, float s, int64_t n) {
    ELEM_LOOP(n) dx[i] += dout[i] * s;
}

static __global__ void add_scalar_kernel(float *out, const float *x, float s, int64_t n) {
    ELEM_LOOP(n) out[i] = x[i] + s;
}

#define ELEM_LAUNCH(kernel, n, ...)                                                \
    do {                                                                           \
        kernel<<<silt_cuda_grid_(n), SILT_CUDA_BLOCK>>>(__VA_ARGS__);              \
        SILT_CUDA_LAUNCHED(#kernel);                                               \
    } while (0)

extern "C" silt_status gelu_bwd_cuda(float *dx, const float *dout, const float *x, int64_t n, int approximate) {
    bool skip = false;
    SILT_TRY(check_n("gelu_bwd_cuda", n, !dx || !dout || !x, &skip));
    if (approximate != 0 && approximate != 1)
        return SILT_FAIL(SILT_ERR_ARG, "gelu_bwd_cuda: approximate is %d (0 erf, 1 tanh)", approximate);
    if (skip) return SILT_OK;
    if (approximate)
        ELEM_LAUNCH(gelu_tanh_bwd_kernel, n, dx, dout, x, n);
    else
        ELEM_LAUNCH(gelu_erf_bwd_kernel, n, dx, dout, x, n);
    return SILT_OK;
}

extern "C" silt_status silu_bwd_cuda(float *dx, const float *dout, const float *x, int64_t n) {
    bool skip = false;
    SILT_TRY(check_n("silu_bwd_cuda", n, !dx || !dout || !x, &skip));
    if (!skip) ELEM_LAUNCH(silu_bwd_kernel, n, dx, dout, x, n);
    return SILT_OK;
}

extern "C" silt_status tanh_fwd_cuda(float *out, const float *x, int64_t n) {
    bool skip = false;
    SILT_TRY(check_n("tanh_fwd_cuda", n, !out || !x, &skip));
    if (!skip) ELEM_LAUNCH(tanh_fwd_kernel, n, out, x, n);
    return SILT_OK;
}

extern "C" silt_status tanh_bwd_cuda(float *dx, const float *dout, const float *y, int64_t n) {
    bool skip = false;
    SILT_TRY(check_n("tanh_bwd_cuda", n, !dx || !dout || !y, &skip));
    if (!skip) ELEM_LAUNCH(tanh_bwd_kernel, n, dx, dout, y, n);
    return SILT_OK;
}

extern "C" silt_status sigmoid_fwd_cuda(float *out, const float *x, int64_t n) {
    bool skip = false;
    SILT_TRY(check_n("sigmoid_fwd_cuda", n, !out || !x, &skip));
    if (!skip) ELEM_LAUNCH(sigmoid_fwd_kernel, n, out, x, n);
    return SILT_OK;
}

extern "C" silt_status sigmoid_bwd_cuda(float *dx, const float *dout, const float *y, int64_t n) {
    bool skip = false;
    SILT_TRY(check_n("sigmoid_bwd_cuda", n, !dx || !dout || !y, &skip));
    if (!skip) ELEM_LAUNCH(sigmoid_bwd_kernel, n, dx, dout, y, n);
    return SILT_OK;
}

extern "C" silt_status scale_fwd_cuda(float *out, const float *x, float s, int64_t n) {
    bool skip = false;
    SILT_TRY(check_n("scale_fwd_cuda", n, !out || !x, &skip));
    if (!skip) ELEM_LAUNCH(scale_fwd_kernel, n, out, x, s, n);
    return SILT_OK;
}

extern "C" silt_status scale_bwd_cuda(float *dx, const float *dout, float s, int64_t n) {
    bool skip = false;
    SILT_TRY(check_n("scale_bwd_cuda", n, !dx || !dout, &skip));
    if (!skip) ELEM_LAUNCH(scale_bwd_kernel, n, dx, dout, s, n);
    return SILT_OK;
}

extern "C" silt_status add_scalar_fwd_cuda(float *out, const float *x, float s, int64_t n) {
    bool skip = false;
    SILT_TRY(check_n("add_scalar_fwd_cuda", n, !out || !x, &skip));
    if (!skip) ELEM_LAUNCH(add_scalar_kernel, n, out, x, s, n);
    return SILT_OK;
}

// torch.clamp. The comparisons are the CPU's (core/ops_elementwise.c), not
// fminf/fmaxf, which would turn a NaN x into a bound: NaN passes through
// forward and gets no gradient backward.
static __global__ void clamp_fwd_kernel(float *out, const float *x, int64_t n, float lo, float hi) {
    ELEM_LOOP(n) {
        float v = x[i];
        out[i] = v < lo ? lo : v > hi ? hi : v;
    }
}

static __global__ void clamp_bwd_kernel(float *dx, const float *dout, const float *x, int64_t n, float lo, float hi) {
    ELEM_LOOP(n) {
        float v = x[i];
        if (v >= lo && v <= hi) dx[i] += dout[i];
    }
}

extern "C" silt_status clamp_fwd_cuda(float *out, const float *x, int64_t n, float lo, float hi) {
    bool skip = false;
    SILT_TRY(check_n("clamp_fwd_cuda", n, !out || !x, &skip));
    if (!skip) ELEM_LAUNCH(clamp_fwd_kernel, n, out, x, n, lo, hi);
    return SILT_OK;
}

extern "C" silt_status clamp_bwd_cuda(float *dx, const float *dout, const float *x, int64_t n, float lo, float hi) {
    bool skip = false;
    SILT_TRY(check_n("clamp_bwd_cuda", n, !dx || !dout || !x, &skip));
    if (!skip) ELEM_LAUNCH(clamp_bwd_kernel, n, dx, dout, x, n, lo, hi);
    return SILT_OK;
}

// --- broadcasting binary ops ------------------------------------------------------

// Shapes and strides, passed to the kernels by value.
struct bin_geo {
    int64_t shape[4], astr[4], bstr[4];
    int64_t ostr[4];  // out's contiguous strides
    int64_t xs[4];    // the input being differentiated: its sizes (1 on broadcast dims)
    int64_t rs[4];    // the sizes summed over for one of its elements (shape on broadcast dims, else 1)
    int64_t nx, red;  // its numel, and the number of outputs each element gathers
};

template <int OP>
static __device__ __forceinline__ float binop_dev(float a, float b) {
    if (OP == SILT_BINOP_ADD) return a + b;
    if (OP == SILT_BINOP_SUB) return a - b;
    if (OP == SILT_BINOP_MUL) return a * b;
    return a / b;
}

// d(a op b)/d(a or b) * g, as binop_grad in core/ops_elementwise.c (there in
// double, here in fp32).
template <int OP, int WRT_B>
static __device__ __forceinline__ float binop_grad_dev(float g, float a, float b) {
    if (OP == SILT_BINOP_ADD) return g;
    if (OP == SILT_BINOP_SUB) return WRT_B ? -g : g;
    if (OP == SILT_BINOP_MUL) return WRT_B ? g * a : g * b;
    return WRT_B ? -g * a / (b * b) : g / b;
}

// Row-major coordinates of e over sizes s (dims of size 1 give 0).
static __device__ __forceinline__ void unravel4(int64_t e, const int64_t s[4], int64_t idx[4]) {
#pragma unroll
    for (int d = 3; d >= 0; d--) {
        if (s[d] == 1) {
            idx[d] = 0;
            continue;
        }
        int64_t q;
        silt_divmod_(e, s[d], &q, &idx[d]);
        e = q;
    }
}

// Same-shape inputs (no broadcast): a plain elementwise pass.
template <int OP>
static __global__ void binary_same_kernel(float *out, const float *a, const float *b, int64_t n) {
    ELEM_LOOP(n) out[i] = binop_dev<OP>(a[i], b[i]);
}

// One row of shape[3] outputs per (i0, i1, i2), as binary_fwd_cpu.
template <int OP>
static __global__ void binary_rows_kernel(float *out, const float *a, const float *b, bin_geo g, int64_t rows) {
    const int64_t cols = g.shape[3], as = g.astr[3], bs = g.bstr[3];
    for (int64_t r = (int64_t)blockIdx.x * blockDim.y + threadIdx.y; r < rows; r += (int64_t)gridDim.x * blockDim.y) {
        int64_t q, i0, i1, i2;
        silt_divmod_(r, g.shape[2], &q, &i2);
        silt_divmod_(q, g.shape[1], &i0, &i1);
        const float *ar = a + i0 * g.astr[0] + i1 * g.astr[1] + i2 * g.astr[2];
        const float *br = b + i0 * g.bstr[0] + i1 * g.bstr[1] + i2 * g.bstr[2];
        float *o = out + r * cols;
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) o[c] = binop_dev<OP>(ar[c * as], br[c * bs]);
    }
}

// The grad term of output position j (4 coordinates).
template <int OP, int WRT_B>
static __device__ __forceinline__ float bin_term(const bin_geo &g, const int64_t j[4], const float *dout,
                                                 const float *a, const float *b) {
    int64_t o = 0, ia = 0, ib = 0;
#pragma unroll
    for (int d = 0; d < 4; d++) {
        o += j[d] * g.ostr[d];
        ia += j[d] * g.astr[d];
        ib += j[d] * g.bstr[d];
    }
    float av = 0.0f, bv = 0.0f;
    if (OP == SILT_BINOP_MUL || OP == SILT_BINOP_DIV) {  // add/sub never read a, b (they may be NULL)
        av = a[ia];
        bv = b[ib];
    }
    return binop_grad_dev<OP, WRT_B>(dout[o], av, bv);
}

// Same-shape grads: dx[i] += grad at i.
template <int OP, int WRT_B>
static __global__ void binary_bwd_same_kernel(float *dx, const float *dout, const float *a, const float *b, int64_t n) {
    ELEM_LOOP(n) {
        float av = 0.0f, bv = 0.0f;
        if (OP == SILT_BINOP_MUL || OP == SILT_BINOP_DIV) {
            av = a[i];
            bv = b[i];
        }
        dx[i] += binop_grad_dev<OP, WRT_B>(dout[i], av, bv);
    }
}

// This input is not broadcast (red == 1) but the other one is: one output per
// element, e is the output index.
template <int OP, int WRT_B>
static __global__ void binary_bwd_full_kernel(float *dx, const float *dout, const float *a, const float *b, bin_geo g) {
    ELEM_LOOP(g.nx) {
        int64_t j[4];
        unravel4(i, g.shape, j);
        dx[i] += bin_term<OP, WRT_B>(g, j, dout, a, b);
    }
}

// Lanes over 32 consecutive elements e of dx, threadIdx.y over the reduced
// positions k = ty, ty+8, ...; then the 8 partial sums of each e added in ty
// order. Used when the innermost non-trivial dim is kept, so consecutive e
// read consecutive outputs.
template <int OP, int WRT_B>
static __global__ void __launch_bounds__(256)
    binary_bwd_lanes_kernel(float *dx, const float *dout, const float *a, const float *b, bin_geo g) {
    __shared__ float sm[8][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    for (int64_t eb = blockIdx.x; eb * 32 < g.nx; eb += gridDim.x) {
        const int64_t e = eb * 32 + tx;
        float acc = 0.0f;
        if (e < g.nx) {
            int64_t ei[4];
            unravel4(e, g.xs, ei);
            for (int64_t k = ty; k < g.red; k += 8) {
                int64_t ki[4], j[4];
                unravel4(k, g.rs, ki);
#pragma unroll
                for (int d = 0; d < 4; d++) j[d] = ei[d] + ki[d];  // one of the two is 0 on each dim
                acc += bin_term<OP, WRT_B>(g, j, dout, a, b);
            }
        }
        sm[ty][tx] = acc;
        __syncthreads();
        if (ty == 0 && e < g.nx) {
            float s = sm[0][tx];
#pragma unroll
            for (int k = 1; k < 8; k++) s += sm[k][tx];
            dx[e] += s;
        }
        __syncthreads();
    }
}

// A block per element e, its threads over the reduced positions (consecutive
// k read consecutive outputs when the innermost non-trivial dim is reduced).
template <int OP, int WRT_B>
static __global__ void __launch_bounds__(SILT_ROW_BLOCK)
    binary_bwd_block_kernel(float *dx, const float *dout, const float *a, const float *b, bin_geo g) {
    for (int64_t e = blockIdx.x; e < g.nx; e += gridDim.x) {
        int64_t ei[4];
        unravel4(e, g.xs, ei);
        float acc = 0.0f;
        for (int64_t k = threadIdx.x; k < g.red; k += blockDim.x) {
            int64_t ki[4], j[4];
            unravel4(k, g.rs, ki);
#pragma unroll
            for (int d = 0; d < 4; d++) j[d] = ei[d] + ki[d];
            acc += bin_term<OP, WRT_B>(g, j, dout, a, b);
        }
        acc = silt_team_sum_<TEAM_BLOCK>(acc);
        if (threadIdx.x == 0) dx[e] += acc;
    }
}

// True when stride is the contiguous stride of shape on every dim of size > 1.
static bool full_strides(const int64_t stride[4], const int64_t shape[4]) {
    int64_t r = 1;
    for (int d = 3; d >= 0; d--) {
        if (shape[d] > 1 && stride[d] != r) return false;
        r *= shape[d];
    }
    return true;
}

static silt_status check_binary(const char *op_name, const int64_t shape[4], const int64_t astride[4],
                                const int64_t bstride[4], silt_binop op, int64_t *total) {
    SILT_CUDA_READY();
    if (!shape || !astride || !bstride) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL shape or stride array", op_name);
    if ((unsigned)op >= SILT_BINOP_COUNT) return SILT_FAIL(SILT_ERR_ARG, "%s: bad op %d", op_name, (int)op);
    *total = 1;
    for (int d = 0; d < 4; d++) {
        if (shape[d] < 0 || astride[d] < 0 || bstride[d] < 0)
            return SILT_FAIL(SILT_ERR_ARG, "%s: negative size or stride on dim %d (%lld, %lld, %lld)", op_name, d,
                             (long long)shape[d], (long long)astride[d], (long long)bstride[d]);
        *total *= shape[d];
    }
    return SILT_OK;
}

static bin_geo make_geo(const int64_t shape[4], const int64_t astride[4], const int64_t bstride[4]) {
    bin_geo g;
    int64_t r = 1;
    for (int d = 3; d >= 0; d--) {
        g.shape[d] = shape[d];
        g.astr[d] = astride[d];
        g.bstr[d] = bstride[d];
        g.ostr[d] = r;
        r *= shape[d];
    }
    for (int d = 0; d < 4; d++) g.xs[d] = g.rs[d] = 1;
    g.nx = g.red = 1;
    return g;
}

template <int OP>
static silt_status binary_fwd_launch(float *out, const float *a, const float *b, const bin_geo &g, int64_t total,
                                     bool same) {
    if (same) {
        binary_same_kernel<OP><<<silt_cuda_grid_(total), SILT_CUDA_BLOCK>>>(out, a, b, total);
        SILT_CUDA_LAUNCHED("binary_same_kernel");
        return SILT_OK;
    }
    int64_t rows = g.shape[0] * g.shape[1] * g.shape[2];
    silt_rows_launch_ l = silt_rows_launch(rows, g.shape[3]);
    binary_rows_kernel<OP><<<l.grid, l.block>>>(out, a, b, g, rows);
    SILT_CUDA_LAUNCHED("binary_rows_kernel");
    return SILT_OK;
}

extern "C" silt_status binary_fwd_cuda(float *out, const float *a, const float *b, const int64_t shape[4],
                                       const int64_t astride[4], const int64_t bstride[4], silt_binop op) {
    int64_t total = 0;
    SILT_TRY(check_binary("binary_fwd_cuda", shape, astride, bstride, op, &total));
    if (total == 0) return SILT_OK;
    if (!out || !a || !b) return SILT_FAIL(SILT_ERR_ARG, "binary_fwd_cuda: NULL buffer");
    bin_geo g = make_geo(shape, astride, bstride);
    bool same = full_strides(astride, shape) && full_strides(bstride, shape);
    switch (op) {
    case SILT_BINOP_ADD: return binary_fwd_launch<SILT_BINOP_ADD>(out, a, b, g, total, same);
    case SILT_BINOP_SUB: return binary_fwd_launch<SILT_BINOP_SUB>(out, a, b, g, total, same);
    case SILT_BINOP_MUL: return binary_fwd_launch<SILT_BINOP_MUL>(out, a, b, g, total, same);
    default: return binary_fwd_launch<SILT_BINOP_DIV>(out, a, b, g, total, same);
    }
}

// dx for one side: picks the same-shape, full, lanes or block kernel.
template <int OP, int WRT_B>
static silt_status binary_bwd_side(float *dx, const float *dout, const float *a, const float *b, bin_geo g,
                                   int64_t total, bool same) {
    if (same) {
        binary_bwd_same_kernel<OP, WRT_B><<<silt_cuda_grid_(total), SILT_CUDA_BLOCK>>>(dx, dout, a, b, total);
        SILT_CUDA_LAUNCHED("binary_bwd_same_kernel");
        return SILT_OK;
    }
    const int64_t *xstride = WRT_B ? g.bstr : g.astr;
    int inner = -1;  // innermost dim of size > 1
    for (int d = 0; d < 4; d++) {
        g.xs[d] = xstride[d] ? g.shape[d] : 1;  // a zero stride marks a broadcast dim
        g.rs[d] = g.shape[d] / g.xs[d];
        if (g.shape[d] > 1) inner = d;
    }
    g.nx = g.xs[0] * g.xs[1] * g.xs[2] * g.xs[3];
    g.red = total / g.nx;
    if (g.red == 1) {
        binary_bwd_full_kernel<OP, WRT_B><<<silt_cuda_grid_(g.nx), SILT_CUDA_BLOCK>>>(dx, dout, a, b, g);
        SILT_CUDA_LAUNCHED("binary_bwd_full_kernel");
    } else if (inner >= 0 && g.xs[inner] == 1) {
        unsigned grid = (unsigned)(g.nx < 65535 ? g.nx : 65535);
        binary_bwd_block_kernel<OP, WRT_B><<<grid, SILT_ROW_BLOCK>>>(dx, dout, a, b, g);
        SILT_CUDA_LAUNCHED("binary_bwd_block_kernel");
    } else {
        int64_t eb = (g.nx + 31) / 32;
        binary_bwd_lanes_kernel<OP, WRT_B><<<(unsigned)(eb < 65535 ? eb : 65535), dim3(32, 8)>>>(dx, dout, a, b, g);
        SILT_CUDA_LAUNCHED("binary_bwd_lanes_kernel");
    }
    return SILT_OK;
}

template <int OP>
static silt_status binary_bwd_op(float *da, float *db, const float *dout, const float *a, const float *b,
                                 const bin_geo &g, int64_t total, bool same) {
    if (da) SILT_TRY((binary_bwd_side<OP, 0>(da, dout, a, b, g, total, same)));
    if (db) SILT_TRY((binary_bwd_side<OP, 1>(db, dout, a, b, g, total, same)));
    return SILT_OK;
}

extern "C" silt_status binary_bwd_cuda(float *da, float *db, const float *dout, const float *a, const float *b,
                                       const int64_t shape[4], const int64_t astride[4], const int64_t bstride[4],
                                       silt_binop op) {
    int64_t total = 0;
    SILT_TRY(check_binary("binary_bwd_cuda", shape, astride, bstride, op, &total));
    if (total == 0 || (!da && !db)) return SILT_OK;
    bool reads_ab = op == SILT_BINOP_MUL || op == SILT_BINOP_DIV;
    if (!dout || (reads_ab && (!a || !b))) return SILT_FAIL(SILT_ERR_ARG, "binary_bwd_cuda: NULL buffer");
    bin_geo g = make_geo(shape, astride, bstride);
    bool same = full_strides(astride, shape) && full_strides(bstride, shape);
    switch (op) {
    case SILT_BINOP_ADD: return binary_bwd_op<SILT_BINOP_ADD>(da, db, dout, a, b, g, total, same);
    case SILT_BINOP_SUB: return binary_bwd_op<SILT_BINOP_SUB>(da, db, dout, a, b, g, total, same);
    case SILT_BINOP_MUL: return binary_bwd_op<SILT_BINOP_MUL>(da, db, dout, a, b, g, total, same);
    default: return binary_bwd_op<SILT_BINOP_DIV>(da, db, dout, a, b, g, total, same);
    }
}
