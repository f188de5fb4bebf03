// CUDA twins of attention_fwd_cpu / attention_bwd_cpu (see cuda/ops_attention.h
// for the contract). FlashAttention-2 (Dao 2023) in plain fp32 on the CUDA
// cores: a clear first version, not yet tuned (no tensor cores, scalar
// shared-memory loads).
//
// Layout of every kernel: a block of 4 warps works on a tile of 32 "rows"
// (queries in the forward and dq kernels, keys in the dk/dv kernel), each
// warp on 8 of them, against tiles of 32 "columns" (keys, resp. queries), one
// per lane. Operands indexed by the lane live in shared memory with an odd
// row stride (D | 1), so the 32 lanes reading one column hit 32 different
// banks; operands of the warp's own rows are read as broadcasts, from shared
// memory when they fit ("resident"), else straight from global memory.
// Values needed across lanes move by shuffles; reductions over a warp use an
// xor butterfly, whose result is the same in every lane and on every run.
//
// Forward, per query row i (Dao 2023, alg. 1):
//   s_ij = scale q_i.k_j + mask_ij  (-inf past the causal limit)
//   m = running max, l = running sum of exp(s - m), acc = sum exp(s - m) v_j
//   out_i = (1 - u) acc / l + u v_i,  lse_i = m + log l  (l = 0: out = u v_i, lse = -inf)
// Value columns beyond 128 are split over blockIdx.y; each such block redoes
// the scores for its 128 columns.
// Backward (Dao 2023, alg. 2), with Di = dout_i . (out_i - u v_i)
// (= rowsum(P * dP) of the attention part):
//   P_ij = exp(s_ij - lse_i), dP_ij = (1 - u) dout_i . v_j, dS_ij = P_ij (dP_ij - Di)
//   dv_j += (1 - u) sum_i P_ij dout_i + u dout_j,  dk_j += scale sum_i dS_ij q_i   (block per key tile)
//   dq_i += scale sum_j dS_ij k_j                                                  (block per query tile)
#include "cuda/common.cuh"
#include "cuda/ops_attention.h"

#include <limits.h>
#include <math.h>

namespace {

constexpr int WARPS = 4, RPW = 8, TR = WARPS * RPW, TC = 32, THREADS = WARPS * 32;
constexpr unsigned FULL = 0xffffffffu;

struct attn_p {
    const float *q, *k, *v, *mask, *head_u;
    int64_t Tq, Tk, D, Dv;
    float scale;
    int causal;
};

// Keys visible to query row i: a prefix [0, row_keys) of [0, Tk).
__host__ __device__ inline int64_t row_keys(const attn_p &p, int64_t i) {
    if (!p.causal) return p.Tk;
    int64_t e = i + 1 + (p.Tk - p.Tq);
    return e < 0 ? 0 : (e > p.Tk ? p.Tk : e);
}

// Masked, scaled score of (i, j) from the raw dot product; -inf for keys the
// row may not see and for rows or keys past the ends.
__device__ inline float score(const attn_p &p, int64_t i, int64_t j, float dot) {
    if (i >= p.Tq || j >= row_keys(p, i)) return -INFINITY;
    float s = p.scale * dot;
    if (p.mask) s += p.mask[i * p.Tk + j];
    return s;
}

__device__ inline float warp_max(float x) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(FULL, x, o));
    return x;
}
__device__ inline float warp_sum(float x) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(FULL, x, o);
    return x;
}

// dst[r * dstride + c] = src[(row0 + r) * sstride + col0 + c] for r < 32,
// c < width, zero where row0 + r >= nrows or col0 + c >= ncols. Consecutive
// threads take consecutive columns, so global reads are coalesced.
__device__ inline void load_tile(float *dst, int dstride, const float *src, int64_t sstride, int64_t row0,
                                 int64_t nrows, int64_t col0, int64_t ncols, int width) {
    for (int e = threadIdx.x; e < 32 * width; e += THREADS) {
        int r = e / width, c = e - r * width;
        float x = 0.0f;
        if (row0 + r < nrows && col0 + c < ncols) x = src[(row0 + r) * sstride + col0 + c];
        dst[r * dstride + c] = x;
    }
}

__host__ __device__ inline int odd_stride(int64_t d) { return (int)(d | 1); }

// ------------------------------------------------------------------------------------
// Forward. Block: (b*H + h, query tile) in blockIdx.x, value-column chunk in
// blockIdx.y. Shared: K tile (TC x (D|1)), V chunk (TC x CW), resident Q
// (TR x D).
// ------------------------------------------------------------------------------------

template <int DC, bool RES>
__global__ void __launch_bounds__(THREADS)
    attn_fwd_kernel(float *__restrict__ out, float *__restrict__ lse, float *__restrict__ probs, const attn_p p,
                    int64_t nqt) {
    constexpr int CW = 32 * DC;
    extern __shared__ float sm[];
    const int64_t D = p.D, Dv = p.Dv, Tq = p.Tq, Tk = p.Tk;
    const int KS = odd_stride(D);
    float *sK = sm, *sV = sK + TC * KS, *sQ = sV + TC * CW;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int64_t bh = blockIdx.x / nqt, i0 = (blockIdx.x % nqt) * TR, c0 = (int64_t)blockIdx.y * CW;
    const float *qh = p.q + bh * Tq * D, *kh = p.k + bh * Tk * D, *vh = p.v + bh * Tk * Dv;
    if (RES) load_tile(sQ, (int)D, qh, D, i0, Tq, 0, D, (int)D);
    // The warp's query rows, as broadcast sources; rows past Tq read row Tq-1
    // (in bounds) and are never written.
    const float *qrow[RPW];
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        int64_t rr = warp * RPW + r;
        qrow[r] = RES ? sQ + rr * D : qh + (i0 + rr < Tq ? i0 + rr : Tq - 1) * D;
    }
    const int64_t ilast = (i0 + TR < Tq ? i0 + TR : Tq) - 1, kend = row_keys(p, ilast);
    float m[RPW], l[RPW], acc[RPW][DC];
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
#pragma unroll
        for (int c = 0; c < DC; c++) acc[r][c] = 0.0f;
    }
    for (int64_t j0 = 0; j0 < kend; j0 += TC) {
        __syncthreads();  // the previous tile (and, first time, nothing) is done with sK/sV
        load_tile(sK, KS, kh, D, j0, Tk, 0, D, (int)D);
        load_tile(sV, CW, vh, Dv, j0, Tk, c0, Dv, CW);
        __syncthreads();
        float s[RPW];
#pragma unroll
        for (int r = 0; r < RPW; r++) s[r] = 0.0f;
        const float *kr = sK + lane * KS;
        for (int64_t d = 0; d < D; d++) {
            float kd = kr[d];
#pragma unroll
            for (int r = 0; r < RPW; r++) s[r] = fmaf(qrow[r][d], kd, s[r]);
        }
        const int64_t j = j0 + lane;
        float pr[RPW];
#pragma unroll
        for (int r = 0; r < RPW; r++) {
            float sc = score(p, i0 + warp * RPW + r, j, s[r]);
            float mn = fmaxf(m[r], warp_max(sc));
            float pv = 0.0f;
            if (mn != -INFINITY) {  // same in every lane of the warp
                float alpha = expf(m[r] - mn);  // 0 while nothing was visible (m = -inf)
                pv = expf(sc - mn);             // 0 for masked keys
                l[r] = l[r] * alpha + warp_sum(pv);
#pragma unroll
                for (int c = 0; c < DC; c++) acc[r][c] *= alpha;
                m[r] = mn;
            }
            pr[r] = pv;
        }
#pragma unroll 4
        for (int jj = 0; jj < TC; jj++) {
            float vv[DC];
#pragma unroll
            for (int c = 0; c < DC; c++) vv[c] = sV[jj * CW + c * 32 + lane];
#pragma unroll
            for (int r = 0; r < RPW; r++) {
                float pj = __shfl_sync(FULL, pr[r], jj);
#pragma unroll
                for (int c = 0; c < DC; c++) acc[r][c] = fmaf(pj, vv[c], acc[r][c]);
            }
        }
    }
    const float u = p.head_u ? p.head_u[bh] : 0.0f, am = 1.0f - u;
    float lr[RPW];
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        const int64_t i = i0 + warp * RPW + r;
        lr[r] = l[r] > 0.0f ? m[r] + logf(l[r]) : -INFINITY;
        if (i >= Tq) continue;
        const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
#pragma unroll
        for (int c = 0; c < DC; c++) {
            const int64_t col = c0 + c * 32 + lane;
            if (col >= Dv) continue;
            float o = am * (acc[r][c] * inv);
            if (u != 0.0f) o += u * vh[i * Dv + col];  // identity map: Tq == Tk
            out[(bh * Tq + i) * Dv + col] = o;
        }
        if (lse && blockIdx.y == 0 && lane == 0) lse[bh * Tq + i] = lr[r];
    }
    if (!probs || blockIdx.y != 0) return;
    // probs_out: a second pass over all keys, p_ij = exp(s_ij - lse_i), zero
    // where masked (and for every key past the tile's causal limit).
    for (int64_t j0 = 0; j0 < Tk; j0 += TC) {
        const bool live = j0 < kend;  // uniform over the block
        float s[RPW];
#pragma unroll
        for (int r = 0; r < RPW; r++) s[r] = 0.0f;
        if (live) {
            __syncthreads();
            load_tile(sK, KS, kh, D, j0, Tk, 0, D, (int)D);
            __syncthreads();
            const float *kr = sK + lane * KS;
            for (int64_t d = 0; d < D; d++) {
                float kd = kr[d];
#pragma unroll
                for (int r = 0; r < RPW; r++) s[r] = fmaf(qrow[r][d], kd, s[r]);
            }
        }
        const int64_t j = j0 + lane;
#pragma unroll
        for (int r = 0; r < RPW; r++) {
            const int64_t i = i0 + warp * RPW + r;
            if (i >= Tq || j >= Tk) continue;
            float pv = 0.0f;
            if (live && lr[r] != -INFINITY) {
                float sc = score(p, i, j, s[r]);
                pv = sc == -INFINITY ? 0.0f : expf(sc - lr[r]);
            }
            probs[(bh * Tq + i) * Tk + j] = pv;
        }
    }
}

// ------------------------------------------------------------------------------------
// Backward, Di = dout_i . (out_i - u v_i): one warp per row.
// ------------------------------------------------------------------------------------

__global__ void attn_bwd_di_kernel(float *__restrict__ Di, const float *__restrict__ dout, const float *__restrict__ out,
                                   const float *__restrict__ v, const float *__restrict__ head_u, int64_t rows,
                                   int64_t Tq, int64_t Tk, int64_t Dv) {
    const int lane = threadIdx.x & 31;
    const int64_t nw = (int64_t)gridDim.x * (blockDim.x >> 5);
    for (int64_t row = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); row < rows; row += nw) {
        const int64_t bh = row / Tq, i = row - bh * Tq;
        const float u = head_u ? head_u[bh] : 0.0f;
        const float *g = dout + row * Dv, *o = out + row * Dv, *vi = v + (bh * Tk + i) * Dv;
        float s = 0.0f;
        for (int64_t c = lane; c < Dv; c += 32) s = fmaf(g[c], u != 0.0f ? o[c] - u * vi[c] : o[c], s);
        s = warp_sum(s);
        if (lane == 0) Di[row] = s;
    }
}

// ------------------------------------------------------------------------------------
// Backward, dk and dv. Block: (b*H + h, key tile) in blockIdx.x; each warp owns
// 8 keys, lanes run over the 32 queries of a query tile. blockIdx.y: with
// split == 0 one block does every column of dk and dv (D, Dv <= CW); else
// y < nk is dk column chunk y, and the rest are dv chunks.
// Shared: Q tile (TR x (D|1)), dout tile (TR x (Dv|1)), lse and Di of the
// tile, resident K (TC x D) and V (TC x Dv).
// ------------------------------------------------------------------------------------

template <int DC, bool RES>
__global__ void __launch_bounds__(THREADS)
    attn_bwd_dkdv_kernel(float *__restrict__ dk, float *__restrict__ dv, const float *__restrict__ dout,
                         const float *__restrict__ lse, const float *__restrict__ Di, const attn_p p, int64_t nkt,
                         int split, int nk) {
    constexpr int CW = 32 * DC;
    extern __shared__ float sm[];
    const int64_t D = p.D, Dv = p.Dv, Tq = p.Tq, Tk = p.Tk;
    const int QS = odd_stride(D), OS = odd_stride(Dv);
    float *sQ = sm, *sO = sQ + TR * QS, *sL = sO + TR * OS, *sD = sL + TR, *sK = sD + TR, *sV = sK + TC * D;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int64_t bh = blockIdx.x / nkt, j0 = (blockIdx.x % nkt) * TC;
    bool want_dk = dk != nullptr, want_dv = dv != nullptr;
    int64_t ck0 = 0, cv0 = 0;
    if (split) {
        want_dk = (int)blockIdx.y < nk;
        want_dv = !want_dk;
        if (want_dk) ck0 = (int64_t)blockIdx.y * CW;
        else cv0 = (int64_t)(blockIdx.y - nk) * CW;
    }
    const float *qh = p.q + bh * Tq * D, *kh = p.k + bh * Tk * D, *vh = p.v + bh * Tk * Dv;
    const float *gh = dout + bh * Tq * Dv;
    if (RES) {
        load_tile(sK, (int)D, kh, D, j0, Tk, 0, D, (int)D);
        load_tile(sV, (int)Dv, vh, Dv, j0, Tk, 0, Dv, (int)Dv);
    }
    const float *krow[RPW], *vrow[RPW];
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        int64_t rr = warp * RPW + r, jc = j0 + rr < Tk ? j0 + rr : Tk - 1;
        krow[r] = RES ? sK + rr * D : kh + jc * D;
        vrow[r] = RES ? sV + rr * Dv : vh + jc * Dv;
    }
    const float u = p.head_u ? p.head_u[bh] : 0.0f, am = 1.0f - u;
    float adk[RPW][DC], adv[RPW][DC];
#pragma unroll
    for (int r = 0; r < RPW; r++)
#pragma unroll
        for (int c = 0; c < DC; c++) adk[r][c] = adv[r][c] = 0.0f;
    // Queries before i = j0 - (Tk - Tq) see none of these keys under causal masking.
    int64_t qstart = 0;
    if (p.causal && j0 - (Tk - Tq) > 0) qstart = j0 - (Tk - Tq);
    if (am == 0.0f) qstart = Tq;  // pure PAG: nothing flows through the map
    for (int64_t i0 = qstart; i0 < Tq; i0 += TR) {
        __syncthreads();  // also orders the resident K/V loads before first use
        load_tile(sQ, QS, qh, D, i0, Tq, 0, D, (int)D);
        load_tile(sO, OS, gh, Dv, i0, Tq, 0, Dv, (int)Dv);
        if (tid < TR) {
            int64_t i = i0 + tid;
            sL[tid] = i < Tq ? lse[bh * Tq + i] : -INFINITY;
            sD[tid] = i < Tq ? Di[bh * Tq + i] : 0.0f;
        }
        __syncthreads();
        float s[RPW], dp[RPW];
#pragma unroll
        for (int r = 0; r < RPW; r++) s[r] = dp[r] = 0.0f;
        const float *qr = sQ + lane * QS, *gr = sO + lane * OS;
        for (int64_t d = 0; d < D; d++) {
            float qd = qr[d];
#pragma unroll
            for (int r = 0; r < RPW; r++) s[r] = fmaf(krow[r][d], qd, s[r]);
        }
        for (int64_t e = 0; e < Dv; e++) {
            float gd = gr[e];
#pragma unroll
            for (int r = 0; r < RPW; r++) dp[r] = fmaf(vrow[r][e], gd, dp[r]);
        }
        const int64_t i = i0 + lane;
        const float li = sL[lane], di = sD[lane];
        float P[RPW], dS[RPW];
#pragma unroll
        for (int r = 0; r < RPW; r++) {
            const int64_t j = j0 + warp * RPW + r;
            float sc = j < Tk ? score(p, i, j, s[r]) : -INFINITY;
            float pv = sc == -INFINITY || li == -INFINITY ? 0.0f : expf(sc - li);
            P[r] = pv;
            dS[r] = pv * (am * dp[r] - di);
        }
#pragma unroll 4
        for (int qq = 0; qq < TR; qq++) {
            float qv[DC], gv[DC];
#pragma unroll
            for (int c = 0; c < DC; c++) {
                int64_t kc = ck0 + c * 32 + lane, vc = cv0 + c * 32 + lane;
                qv[c] = want_dk && kc < D ? sQ[qq * QS + kc] : 0.0f;
                gv[c] = want_dv && vc < Dv ? sO[qq * OS + vc] : 0.0f;
            }
#pragma unroll
            for (int r = 0; r < RPW; r++) {
                float pq = __shfl_sync(FULL, P[r], qq), dq = __shfl_sync(FULL, dS[r], qq);
#pragma unroll
                for (int c = 0; c < DC; c++) {
                    adv[r][c] = fmaf(pq, gv[c], adv[r][c]);
                    adk[r][c] = fmaf(dq, qv[c], adk[r][c]);
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        const int64_t j = j0 + warp * RPW + r;
        if (j >= Tk) continue;
#pragma unroll
        for (int c = 0; c < DC; c++) {
            const int64_t kc = ck0 + c * 32 + lane, vc = cv0 + c * 32 + lane;
            if (want_dk && kc < D) dk[(bh * Tk + j) * D + kc] += p.scale * adk[r][c];
            if (want_dv && vc < Dv) {
                float g = am * adv[r][c];
                if (u != 0.0f) g += u * gh[j * Dv + vc];  // identity map: key j is query j (Tq == Tk)
                dv[(bh * Tk + j) * Dv + vc] += g;
            }
        }
    }
}

// ------------------------------------------------------------------------------------
// Backward, dq. Block: (b*H + h, query tile) in blockIdx.x, dq column chunk
// in blockIdx.y; warps own query rows, lanes run over keys. Shared: K tile
// (TC x (D|1)), V tile (TC x (Dv|1)), resident Q (TR x D) and dout (TR x Dv).
// ------------------------------------------------------------------------------------

template <int DC, bool RES>
__global__ void __launch_bounds__(THREADS)
    attn_bwd_dq_kernel(float *__restrict__ dq, const float *__restrict__ dout, const float *__restrict__ lse,
                       const float *__restrict__ Di, const attn_p p, int64_t nqt) {
    constexpr int CW = 32 * DC;
    extern __shared__ float sm[];
    const int64_t D = p.D, Dv = p.Dv, Tq = p.Tq, Tk = p.Tk;
    const int KS = odd_stride(D), VS = odd_stride(Dv);
    float *sK = sm, *sV = sK + TC * KS, *sQ = sV + TC * VS, *sO = sQ + TR * D;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int64_t bh = blockIdx.x / nqt, i0 = (blockIdx.x % nqt) * TR, c0 = (int64_t)blockIdx.y * CW;
    const float u = p.head_u ? p.head_u[bh] : 0.0f, am = 1.0f - u;
    if (am == 0.0f) return;  // pure PAG: dq gets nothing (uniform over the block)
    const float *qh = p.q + bh * Tq * D, *kh = p.k + bh * Tk * D, *vh = p.v + bh * Tk * Dv;
    const float *gh = dout + bh * Tq * Dv;
    if (RES) {
        load_tile(sQ, (int)D, qh, D, i0, Tq, 0, D, (int)D);
        load_tile(sO, (int)Dv, gh, Dv, i0, Tq, 0, Dv, (int)Dv);
    }
    const float *qrow[RPW], *grow[RPW];
    float li[RPW], di[RPW], acc[RPW][DC];
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        int64_t rr = warp * RPW + r, i = i0 + rr, ic = i < Tq ? i : Tq - 1;
        qrow[r] = RES ? sQ + rr * D : qh + ic * D;
        grow[r] = RES ? sO + rr * Dv : gh + ic * Dv;
        li[r] = i < Tq ? lse[bh * Tq + i] : -INFINITY;
        di[r] = i < Tq ? Di[bh * Tq + i] : 0.0f;
#pragma unroll
        for (int c = 0; c < DC; c++) acc[r][c] = 0.0f;
    }
    const int64_t ilast = (i0 + TR < Tq ? i0 + TR : Tq) - 1, kend = row_keys(p, ilast);
    for (int64_t j0 = 0; j0 < kend; j0 += TC) {
        __syncthreads();
        load_tile(sK, KS, kh, D, j0, Tk, 0, D, (int)D);
        load_tile(sV, VS, vh, Dv, j0, Tk, 0, Dv, (int)Dv);
        __syncthreads();
        float s[RPW], dp[RPW];
#pragma unroll
        for (int r = 0; r < RPW; r++) s[r] = dp[r] = 0.0f;
        const float *kr = sK + lane * KS, *vr = sV + lane * VS;
        for (int64_t d = 0; d < D; d++) {
            float kd = kr[d];
#pragma unroll
            for (int r = 0; r < RPW; r++) s[r] = fmaf(qrow[r][d], kd, s[r]);
        }
        for (int64_t e = 0; e < Dv; e++) {
            float vd = vr[e];
#pragma unroll
            for (int r = 0; r < RPW; r++) dp[r] = fmaf(grow[r][e], vd, dp[r]);
        }
        const int64_t j = j0 + lane;
        float dS[RPW];
#pragma unroll
        for (int r = 0; r < RPW; r++) {
            float sc = score(p, i0 + warp * RPW + r, j, s[r]);
            float pv = sc == -INFINITY || li[r] == -INFINITY ? 0.0f : expf(sc - li[r]);
            dS[r] = pv * (am * dp[r] - di[r]);
        }
#pragma unroll 4
        for (int jj = 0; jj < TC; jj++) {
            float kv[DC];
#pragma unroll
            for (int c = 0; c < DC; c++) {
                int64_t col = c0 + c * 32 + lane;
                kv[c] = col < D ? sK[jj * KS + col] : 0.0f;
            }
#pragma unroll
            for (int r = 0; r < RPW; r++) {
                float ds = __shfl_sync(FULL, dS[r], jj);
#pragma unroll
                for (int c = 0; c < DC; c++) acc[r][c] = fmaf(ds, kv[c], acc[r][c]);
            }
        }
    }
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        const int64_t i = i0 + warp * RPW + r;
        if (i >= Tq) continue;
#pragma unroll
        for (int c = 0; c < DC; c++) {
            const int64_t col = c0 + c * 32 + lane;
            if (col < D) dq[(bh * Tq + i) * D + col] += p.scale * acc[r][c];
        }
    }
}

// ------------------------------------------------------------------------------------
// Host side.
// ------------------------------------------------------------------------------------

// Columns per lane for a head dim: 1, 2 or 4 (one pass up to 128; larger
// dims use 4 and several column chunks).
int cols_per_lane(int64_t d) { return d <= 32 ? 1 : d <= 64 ? 2 : 4; }

silt_status smem_optin(size_t *bytes) {
    static int cached = 0;  // written once with the same value by any thread
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (!v) {
        SILT_CUDA_TRY(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0));
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    *bytes = (size_t)v;
    return SILT_OK;
}

// Launches kernel k with `smem` bytes of dynamic shared memory, raising the
// kernel's limit past the default 48 KiB when needed (to the device maximum,
// the same value from every thread, so concurrent callers cannot undo it).
template <typename K, typename... A>
silt_status launch(const char *name, K k, dim3 grid, size_t smem, A... args) {
    if (smem > 48 * 1024) {
        size_t optin = 0;
        SILT_TRY(smem_optin(&optin));
        SILT_CUDA_TRY(cudaFuncSetAttribute((const void *)k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)optin));
    }
    k<<<grid, THREADS, smem>>>(args...);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return silt_cuda_fail_(e, name, __FILE__, __LINE__);
    return SILT_OK;
}

size_t fwd_smem(int64_t D, int dc, bool res) {
    return sizeof(float) * (size_t)(TC * odd_stride(D) + TC * 32 * dc + (res ? TR * D : 0));
}
size_t dkdv_smem(int64_t D, int64_t Dv, bool res) {
    return sizeof(float) * (size_t)(TR * odd_stride(D) + TR * odd_stride(Dv) + 2 * TR + (res ? TC * (D + Dv) : 0));
}
size_t dq_smem(int64_t D, int64_t Dv, bool res) {
    return sizeof(float) * (size_t)(TC * odd_stride(D) + TC * odd_stride(Dv) + (res ? TR * (D + Dv) : 0));
}

// Picks resident (true) when that fits the device, else streaming; fails
// when neither fits.
silt_status pick_res(const char *op, size_t with_res, size_t without, int64_t D, int64_t Dv, bool *res) {
    size_t optin = 0;
    SILT_TRY(smem_optin(&optin));
    if (with_res <= optin) *res = true;
    else if (without <= optin) *res = false;
    else
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: head dims D %lld, Dv %lld need %zu bytes of shared memory, the device has %zu",
                         op, (long long)D, (long long)Dv, without, optin);
    return SILT_OK;
}

template <int DC>
silt_status fwd_launch(bool res, float *out, float *lse, float *probs, const attn_p &p, int64_t nqt, unsigned tiles,
                       unsigned chunks) {
    dim3 grid(tiles, chunks);
    size_t smem = fwd_smem(p.D, DC, res);
    if (res) return launch("attn_fwd_kernel", attn_fwd_kernel<DC, true>, grid, smem, out, lse, probs, p, nqt);
    return launch("attn_fwd_kernel", attn_fwd_kernel<DC, false>, grid, smem, out, lse, probs, p, nqt);
}

template <int DC>
silt_status dkdv_launch(bool res, float *dk, float *dv, const float *dout, const float *lse, const float *Di,
                        const attn_p &p, int64_t nkt, unsigned tiles, unsigned chunks, int split, int nk) {
    dim3 grid(tiles, chunks);
    size_t smem = dkdv_smem(p.D, p.Dv, res);
    if (res)
        return launch("attn_bwd_dkdv_kernel", attn_bwd_dkdv_kernel<DC, true>, grid, smem, dk, dv, dout, lse, Di, p,
                      nkt, split, nk);
    return launch("attn_bwd_dkdv_kernel", attn_bwd_dkdv_kernel<DC, false>, grid, smem, dk, dv, dout, lse, Di, p, nkt,
                  split, nk);
}

template <int DC>
silt_status dq_launch(bool res, float *dq, const float *dout, const float *lse, const float *Di, const attn_p &p,
                      int64_t nqt, unsigned tiles, unsigned chunks) {
    dim3 grid(tiles, chunks);
    size_t smem = dq_smem(p.D, p.Dv, res);
    if (res) return launch("attn_bwd_dq_kernel", attn_bwd_dq_kernel<DC, true>, grid, smem, dq, dout, lse, Di, p, nqt);
    return launch("attn_bwd_dq_kernel", attn_bwd_dq_kernel<DC, false>, grid, smem, dq, dout, lse, Di, p, nqt);
}

// Shared argument checks of both directions; fills p. *empty: nothing to do.
silt_status attn_setup(const char *op, const float *q, const float *k, const float *v, int64_t B, int64_t H,
                       int64_t Tq, int64_t Tk, int64_t D, int64_t Dv, const silt_attn_opts *o, attn_p *p,
                       bool *empty) {
    SILT_CUDA_READY();
    if (B < 0 || H < 0 || Tq < 0 || Tk < 0 || D < 1 || Dv < 0)
        return SILT_FAIL(SILT_ERR_ARG, "%s: bad sizes (B %lld, H %lld, Tq %lld, Tk %lld, D %lld, Dv %lld)", op,
                         (long long)B, (long long)H, (long long)Tq, (long long)Tk, (long long)D, (long long)Dv);
    float scale = o && o->scale != 0.0f ? o->scale : (float)(1.0 / sqrt((double)D));
    if (!isfinite(scale)) return SILT_FAIL(SILT_ERR_ARG, "%s: scale %g is not finite", op, (double)scale);
    if (o && o->head_u && Tq != Tk)
        return SILT_FAIL(SILT_ERR_SHAPE, "%s: head_u (SoftPAG) needs Tq == Tk (got %lld, %lld)", op, (long long)Tq,
                         (long long)Tk);
    *empty = B * H * Tq == 0;
    if (*empty) return SILT_OK;
    if (!q || (Tk > 0 && (!k || !v))) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL q, k or v", op);
    int64_t nqt = (Tq + TR - 1) / TR, nkt = (Tk + TC - 1) / TC;
    if (B * H * nqt > INT_MAX || B * H * nkt > INT_MAX)
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: %lld heads x %lld rows exceed one grid", op, (long long)(B * H),
                         (long long)(Tq > Tk ? Tq : Tk));
    *p = attn_p{q, k, v, o ? o->mask : nullptr, o ? o->head_u : nullptr, Tq, Tk, D, Dv, scale, o && o->causal};
    return SILT_OK;
}

// The forward proper, after the checks (also used by the backward to
// recompute out and lse).
silt_status fwd_run(float *out, float *lse, float *probs, const attn_p &p, int64_t BH) {
    int dc = cols_per_lane(p.Dv);
    int64_t nqt = (p.Tq + TR - 1) / TR, cw = 32 * dc;
    unsigned tiles = (unsigned)(BH * nqt), chunks = (unsigned)(p.Dv > 0 ? (p.Dv + cw - 1) / cw : 1);
    bool res = false;
    SILT_TRY(pick_res("attention_fwd_cuda", fwd_smem(p.D, dc, true), fwd_smem(p.D, dc, false), p.D, p.Dv, &res));
    switch (dc) {
    case 1: return fwd_launch<1>(res, out, lse, probs, p, nqt, tiles, chunks);
    case 2: return fwd_launch<2>(res, out, lse, probs, p, nqt, tiles, chunks);
    default: return fwd_launch<4>(res, out, lse, probs, p, nqt, tiles, chunks);
    }
}

}  // namespace

extern "C" silt_status attention_fwd_cuda(float *out, float *lse, float *scratch, const float *q, const float *k,
                                          const float *v, int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D,
                                          int64_t Dv, const silt_attn_opts *o) {
    (void)scratch;
    attn_p p;
    bool empty = false;
    SILT_TRY(attn_setup("attention_fwd_cuda", q, k, v, B, H, Tq, Tk, D, Dv, o, &p, &empty));
    if (empty) return SILT_OK;
    if (Dv > 0 && !out) return SILT_FAIL(SILT_ERR_ARG, "attention_fwd_cuda: NULL out");
    if (silt_cuda_attention_bf16() && attention_bf16_eligible_cuda(out, q, k, v, D, Dv, o))
        return attention_fwd_cuda_bf16(out, lse, scratch, q, k, v, B, H, Tq, Tk, D, Dv, o);  // opted in: tensor cores
    return fwd_run(out, lse, o ? o->probs_out : nullptr, p, B * H);
}

extern "C" silt_status attention_bwd_cuda(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                                          const float *q, const float *k, const float *v, const float *out,
                                          const float *lse, int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D,
                                          int64_t Dv, const silt_attn_opts *o) {
    attn_p p;
    bool empty = false;
    SILT_TRY(attn_setup("attention_bwd_cuda", q, k, v, B, H, Tq, Tk, D, Dv, o, &p, &empty));
    if (empty || (!dq && !dk && !dv) || Tk == 0) return SILT_OK;  // Tk == 0: every row fully masked, u = any: dv is empty
    if (!dout || !scratch) return SILT_FAIL(SILT_ERR_ARG, "attention_bwd_cuda: NULL dout or scratch");
    const int64_t BH = B * H, rows = BH * Tq;
    float *Di = scratch;
    if (!out || !lse) {  // recompute both into scratch
        float *o2 = scratch + rows, *l2 = o2 + rows * Dv;
        SILT_TRY(fwd_run(o2, l2, nullptr, p, BH));
        out = o2;
        lse = l2;
    }
    {
        int64_t blocks = (rows + 7) / 8;
        if (blocks > 32768) blocks = 32768;
        attn_bwd_di_kernel<<<(unsigned)blocks, 256>>>(Di, dout, out, v, p.head_u, rows, Tq, Tk, Dv);
        SILT_CUDA_LAUNCHED("attn_bwd_di_kernel");
    }
    const int64_t nqt = (Tq + TR - 1) / TR, nkt = (Tk + TC - 1) / TC;
    if (dk || dv) {
        // One block for both when they fit one pass, else one per 128-column chunk.
        int64_t big = D > Dv ? D : Dv;
        int dc = big <= 128 ? cols_per_lane(big) : 4;
        int split = big > 128;
        int nk = split && dk ? (int)((D + 127) / 128) : 0, nv = split && dv ? (int)((Dv + 127) / 128) : 0;
        unsigned chunks = split ? (unsigned)(nk + nv) : 1u;
        bool res = false;
        SILT_TRY(pick_res("attention_bwd_cuda", dkdv_smem(D, Dv, true), dkdv_smem(D, Dv, false), D, Dv, &res));
        unsigned tiles = (unsigned)(BH * nkt);
        if (chunks > 0) {
            switch (dc) {
            case 1: SILT_TRY(dkdv_launch<1>(res, dk, dv, dout, lse, Di, p, nkt, tiles, chunks, split, nk)); break;
            case 2: SILT_TRY(dkdv_launch<2>(res, dk, dv, dout, lse, Di, p, nkt, tiles, chunks, split, nk)); break;
            default: SILT_TRY(dkdv_launch<4>(res, dk, dv, dout, lse, Di, p, nkt, tiles, chunks, split, nk)); break;
            }
        }
    }
    if (dq) {
        int dc = cols_per_lane(D);
        unsigned chunks = (unsigned)((D + 32 * dc - 1) / (32 * dc)), tiles = (unsigned)(BH * nqt);
        bool res = false;
        SILT_TRY(pick_res("attention_bwd_cuda", dq_smem(D, Dv, true), dq_smem(D, Dv, false), D, Dv, &res));
        switch (dc) {
        case 1: SILT_TRY(dq_launch<1>(res, dq, dout, lse, Di, p, nqt, tiles, chunks)); break;
        case 2: SILT_TRY(dq_launch<2>(res, dq, dout, lse, Di, p, nqt, tiles, chunks)); break;
        default: SILT_TRY(dq_launch<4>(res, dq, dout, lse, Di, p, nqt, tiles, chunks)); break;
        }
    }
    return SILT_OK;
}
