// Private to cuda/*.cu: deterministic reductions and launch shapes shared by
// the norm, softmax, modulate, elementwise and reduce twins.
//
// Determinism. Every sum here has a fixed order that depends only on the
// problem sizes (never on the device, the grid the driver schedules, timing or
// atomics), so a twin gives bit-identical results run to run and card to card
// of the same architecture:
//  - a thread sums its strided elements in index order;
//  - a warp combines lanes with an xor butterfly: at each step lanes i and
//    i^k add the same two numbers (a+b and b+a are the same IEEE result), so
//    every lane ends with the same bits;
//  - a block writes one value per warp to shared memory and every warp then
//    sums those in lane order with the same butterfly.
// Column sums (colsum_kernel) reduce the block's rows in a fixed sequential
// order and combine row chunks in a second kernel in chunk order; no float
// atomics anywhere.
#ifndef SILT_CUDA_REDUCE_CUH
#define SILT_CUDA_REDUCE_CUH

#include "cuda/common.cuh"

// A "team" reduces one row: a warp (TEAM_WARP: rows per block = blockDim.x /
// 32) or the whole 1-D block (TEAM_BLOCK: one row per block). All lanes of a
// team always run the same number of loop iterations, so the shuffles (full
// mask) and __syncthreads below are reached by every thread they wait for.
enum { TEAM_BLOCK = 0, TEAM_WARP = 32 };
// Threads per block of the row kernels (8 warps; also the block team size).
enum { SILT_ROW_BLOCK = 256 };

template <typename T>
static __device__ __forceinline__ T silt_warp_sum_(T v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static __device__ __forceinline__ float silt_warp_max_(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the team; every thread of the team gets the same bits. For
// TEAM_BLOCK, blockDim.x must be a multiple of 32 (at most 1024) and every
// thread of the block must call it (it synchronises).
template <int TEAM, typename T>
static __device__ __forceinline__ T silt_team_sum_(T v) {
    v = silt_warp_sum_(v);
    if constexpr (TEAM == TEAM_WARP) {
        return v;
    } else {
        __shared__ T part[32];
        const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
        __syncthreads();  // readers of an earlier call are done with part[]
        if (lane == 0) part[w] = v;
        __syncthreads();
        v = lane < nw ? part[lane] : T(0);
        return silt_warp_sum_(v);
    }
}

// Max over the team (fmaxf: a NaN loses to any number, as `x > m ? x : m` on
// the CPU ignores NaN). Same calling rules as silt_team_sum_.
template <int TEAM>
static __device__ __forceinline__ float silt_team_max_(float v) {
    v = silt_warp_max_(v);
    if constexpr (TEAM == TEAM_WARP) {
        return v;
    } else {
        __shared__ float part[32];
        const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
        __syncthreads();
        if (lane == 0) part[w] = v;
        __syncthreads();
        v = lane < nw ? part[lane] : -INFINITY;
        return silt_warp_max_(v);
    }
}

// Where this thread's team starts and how it strides: its first row, the row
// step, its index in the team and the team's size.
template <int TEAM>
struct silt_team_pos_ {
    int64_t row0, rstep;
    int tid, tn;
    __device__ __forceinline__ silt_team_pos_() {
        if (TEAM == TEAM_WARP) {
            const int per = blockDim.x >> 5;
            row0 = (int64_t)blockIdx.x * per + (threadIdx.x >> 5);
            rstep = (int64_t)gridDim.x * per;
            tid = threadIdx.x & 31;
            tn = 32;
        } else {
            row0 = blockIdx.x;
            rstep = gridDim.x;
            tid = threadIdx.x;
            tn = blockDim.x;
        }
    }
};

// Layer-norm statistics of one row xr (C) for its team: the mean summed in
// double (ops_norm.cu, MEAN_IN_DOUBLE), the centred sum of squares in fp32,
// rstd = 1 / sqrt(var + eps). Every thread of the team gets both.
template <int TEAM>
static __device__ __forceinline__ void silt_row_mean_rstd_(const silt_team_pos_<TEAM> &p, const float *xr, int64_t C,
                                                           float eps, float *mean, float *rstd) {
    double s = 0.0;
    for (int64_t c = p.tid; c < C; c += p.tn) s += xr[c];
    const float m = (float)(silt_team_sum_<TEAM, double>(s) / (double)C);
    float v = 0.0f;
    for (int64_t c = p.tid; c < C; c += p.tn) {
        const float d = xr[c] - m;
        v += d * d;
    }
    *mean = m;
    *rstd = 1.0f / sqrtf(silt_team_sum_<TEAM>(v) / (float)C + eps);
}

// Team choice for N rows of C elements. A warp per row keeps many rows in
// flight and needs no block barriers; a block per row is better when rows are
// long, or long-ish and too few to fill the GPU with warps. Depends only on
// the sizes, so the summation order (and the result) does too.
static inline bool silt_team_is_block_(int64_t N, int64_t C) { return C > 4096 || (C > 1024 && N < 1024); }

// Grid for N rows: every row gets a team; capped (the kernels stride over
// rows), never 0.
static inline unsigned silt_team_grid_(int64_t N, bool block) {
    int64_t per = block ? 1 : SILT_ROW_BLOCK / 32;
    int64_t g = (N + per - 1) / per;
    if (g > 65535) g = 65535;
    if (g < 1) g = 1;
    return (unsigned)g;
}

// Launch shape for elementwise work over (rows, cols) that needs the row
// index (broadcast operands): threadIdx.x walks a row, threadIdx.y picks one
// of the block's rows. Narrow rows share a block so few threads idle.
//   for (r = blockIdx.x * blockDim.y + threadIdx.y; r < rows; r += gridDim.x * blockDim.y)
//       for (c = threadIdx.x; c < cols; c += blockDim.x)
struct silt_rows_launch_ {
    dim3 grid, block;
};
static inline silt_rows_launch_ silt_rows_launch(int64_t rows, int64_t cols) {
    unsigned bx = 256;
    if (cols < 256) {
        bx = 32;
        while ((int64_t)bx < cols) bx <<= 1;
    }
    unsigned by = 256 / bx;
    int64_t g = (rows + by - 1) / by;
    if (g > 32768) g = 32768;
    if (g < 1) g = 1;
    silt_rows_launch_ l;
    l.grid = dim3((unsigned)g);
    l.block = dim3(bx, by);
    return l;
}

// q = k / d, r = k % d for k >= 0, d > 0; 32-bit division (a few
// instructions) when both fit, which is nearly always, 64-bit (a long
// software sequence) otherwise.
static __device__ __forceinline__ void silt_divmod_(int64_t k, int64_t d, int64_t *q, int64_t *r) {
    if ((uint64_t)k <= 0xffffffffu && (uint64_t)d <= 0xffffffffu) {
        uint32_t q32 = (uint32_t)k / (uint32_t)d;
        *q = q32;
        *r = (int64_t)((uint32_t)k - q32 * (uint32_t)d);
    } else {
        *q = k / d;
        *r = k - *q * d;
    }
}

// --- column sums ------------------------------------------------------------------
// For each batch b < B and column c < C: S_v(b, c) = sum over rows t < T of
// the terms f adds into acc[v] (v < NV), e.g. a bias gradient summed over
// tokens. Block (32, COLSUM_ROWS): lanes own consecutive columns (coalesced
// row reads), threadIdx.y interleaves rows. grid.x strides over column
// blocks, grid.z over batches, grid.y = R chunks of `chunk` rows each.
//  - R == 1: the block's sums go straight to out_v: out_v[b*C+c] += S (acc
//    mode) or = S * scale (store mode);
//  - R > 1: each chunk writes part[((v*B + b)*R + r)*C + c] and
//    colsum_finish_kernel adds the chunks in order r = 0..R-1.
// The order inside a block: each thread sums rows t0+ty, t0+ty+8, ... in
// order; then thread (0, x) adds the 8 row lanes in order ty = 0..7.
enum { COLSUM_ROWS = 8 };

template <typename Acc, int NV, class F>
static __global__ void __launch_bounds__(32 * COLSUM_ROWS)
    colsum_kernel(F f, float *out0, float *out1, Acc *part, int64_t B, int64_t T, int64_t C, int64_t chunk,
                  int64_t R, bool accumulate, Acc scale) {
    __shared__ Acc sm[NV][COLSUM_ROWS][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int64_t r = blockIdx.y, t0 = r * chunk, t1 = t0 + chunk < T ? t0 + chunk : T;
    for (int64_t b = blockIdx.z; b < B; b += gridDim.z)
        for (int64_t cb = blockIdx.x; cb * 32 < C; cb += gridDim.x) {
            const int64_t c = cb * 32 + tx;
            Acc acc[NV];
#pragma unroll
            for (int v = 0; v < NV; v++) acc[v] = Acc(0);
            if (c < C) {
#pragma unroll 4
                for (int64_t t = t0 + ty; t < t1; t += COLSUM_ROWS) f(b, t, c, acc);
            }
#pragma unroll
            for (int v = 0; v < NV; v++) sm[v][ty][tx] = acc[v];
            __syncthreads();
            if (ty == 0 && c < C) {
#pragma unroll
                for (int v = 0; v < NV; v++) {
                    Acc s = sm[v][0][tx];
#pragma unroll
                    for (int k = 1; k < COLSUM_ROWS; k++) s += sm[v][k][tx];
                    if (R == 1) {
                        float *o = v == 0 ? out0 : out1;
                        if (o) o[b * C + c] = accumulate ? o[b * C + c] + (float)s : (float)(s * scale);
                    } else {
                        part[((v * B + b) * R + r) * C + c] = s;
                    }
                }
            }
            __syncthreads();  // sm[] is reused by the next column block
        }
}

template <typename Acc, int NV>
static __global__ void colsum_finish_kernel(float *out0, float *out1, const Acc *part, int64_t B, int64_t R, int64_t C,
                                            bool accumulate, Acc scale) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < B * C; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t b = i / C, c = i - b * C;
#pragma unroll
        for (int v = 0; v < NV; v++) {
            float *o = v == 0 ? out0 : out1;
            if (!o) continue;
            const Acc *p = part + ((v * B + b) * R) * C + c;
            Acc s = p[0];
            for (int64_t k = 1; k < R; k++) s += p[k * C];
            o[i] = accumulate ? o[i] + (float)s : (float)(s * scale);
        }
    }
}

// How many row chunks a column sum over (B, T, C) is split into when scratch
// is available: enough blocks (about 1024) to keep every SM streaming, with at
// least 64 rows per chunk so the partials stay small next to the input. A
// function of the sizes only, so the result's bits are too.
static inline void silt_colsum_plan_(int64_t B, int64_t T, int64_t C, int64_t *R, int64_t *chunk) {
    int64_t cblocks = (C + 31) / 32;
    if (cblocks > 65535) cblocks = 65535;
    int64_t busy = (B < 65535 ? B : 65535) * cblocks;
    int64_t r = busy > 0 ? 1024 / busy : 1;
    int64_t rmax = (T + 63) / 64;
    if (r > rmax) r = rmax;
    if (r > 65535) r = 65535;
    if (r < 1) r = 1;
    int64_t ch = T > 0 ? (T + r - 1) / r : 1;
    *chunk = ch;
    *R = T > 0 ? (T + ch - 1) / ch : 1;
}

// Runs a column sum. part: NV * B * R * C Acc of scratch when R > 1 (R from
// silt_colsum_plan_ when the caller has scratch, else 1: one pass, no
// scratch). out0/out1 may be NULL (that sum is not stored).
template <typename Acc, int NV, class F>
static silt_status silt_colsum_(const char *name, F f, float *out0, float *out1, Acc *part, int64_t B, int64_t T,
                               int64_t C, int64_t R, int64_t chunk, bool accumulate, Acc scale) {
    if (B <= 0 || C <= 0) return SILT_OK;
    if (R <= 1) {
        R = 1;
        chunk = T;
    }
    int64_t cblocks = (C + 31) / 32;
    dim3 grid((unsigned)(cblocks < 65535 ? cblocks : 65535), (unsigned)R, (unsigned)(B < 65535 ? B : 65535));
    colsum_kernel<Acc, NV, F><<<grid, dim3(32, COLSUM_ROWS)>>>(f, out0, out1, part, B, T, C, chunk, R, accumulate,
                                                                scale);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return silt_cuda_fail_(e, name, __FILE__, __LINE__);
    if (R > 1) {
        colsum_finish_kernel<Acc, NV><<<silt_cuda_grid_(B * C), SILT_CUDA_BLOCK>>>(out0, out1, part, B, R, C,
                                                                                   accumulate, scale);
        e = cudaGetLastError();
        if (e != cudaSuccess) return silt_cuda_fail_(e, name, __FILE__, __LINE__);
    }
    return SILT_OK;
}

#endif
