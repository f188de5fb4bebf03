// attention_fwd_cuda_bf16: the attention forward on the tensor cores
// (FlashAttention-2, Dao 2023, alg. 1), bf16 operands with fp32 accumulation
// and an fp32 online softmax. See cuda/ops_attention.h for the contract and
// when attention_fwd_cuda takes this path.
//
// Layout. A block of 4 warps owns BM = 64 query rows of one (batch, head),
// 16 per warp (one m16 row block). Keys are streamed in tiles of BN = 64:
//   1. the block converts the K tile (fp32, global) to bf16 in shared memory,
//      row-major sK[key][d], and the V tile transposed, sVt[d][key] (so both
//      products read their B operand as one aligned 32-bit word per register);
//   2. each warp computes S = Q K^T for its 16 x 64 scores with
//      mma.sync.m16n8k16 (Q's A fragments stay in registers for the whole
//      loop), masks, and updates the running max m and sum l (fp32, in
//      base 2: s2 = scale log2(e) q.k, so exp becomes exp2);
//   3. the fp32 probabilities are rounded to bf16 and reused in registers as
//      the A operand of O += P V (the m16n8 accumulator layout of two
//      adjacent key groups is the m16k16 A layout, Dao 2023 sec. 3.3).
// Epilogue: out = (1 - u) O / l + u v_i (SoftPAG; u = head_u[b*H + h]),
// lse = (m2 ln 2 + ln l), a fully masked row gives out = u v_i (= 0 without
// SoftPAG) and lse = -inf, as attention_fwd_cpu.
//
// Head dims: the kernel is compiled for DP = 16, 32, ..., 128 (a multiple of
// the mma's k = 16) and a head dim D (a multiple of 4, D <= 128) runs on the
// next DP with the columns D..DP-1 zero-filled in shared memory: they add 0
// to q.k, and their output columns are never stored. DiT-XL/2's D = 72 runs
// on DP = 80 (the PV product skips the all-zero column groups past D).
//
// Fragment layouts (PTX ISA, "Matrix fragments for mma.m16n8k16", bf16):
// lane = 4 g + t (g = groupID 0..7, t = thread in group 0..3); a 32-bit
// register holds two bf16, the lower-indexed element in the low half.
//   A (16 x 16, row-major): a0 = A[g][2t..2t+1],   a1 = A[g+8][2t..2t+1],
//                           a2 = A[g][2t+8..2t+9], a3 = A[g+8][2t+8..2t+9]
//   B (16 x 8, k x n):      b0 = B[2t..2t+1][g],   b1 = B[2t+8..2t+9][g]
//   C (16 x 8, fp32):       c0 = C[g][2t], c1 = C[g][2t+1], c2 = C[g+8][2t], c3 = C[g+8][2t+1]
// Shared rows are padded by 8 bf16 (4 words): a row stride of 8m + 4 words
// puts the 32 lanes' fragment words (word g * stride + t) in 32 distinct
// banks.
//
// Synchronisation: every shared-memory tile is written between two
// __syncthreads (one before, so no warp still reads the previous tile; one
// after, so every warp sees the whole new one). No global atomics; each
// output element is written by exactly one thread, so results are the same
// bits run to run.
#include "cuda/common.cuh"
#include "cuda/ops_attention.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>

#include <type_traits>

namespace {

constexpr int BM = 64, BN = 64, NWARPS = BM / 16, THREADS = NWARPS * 32;
constexpr int VW = BN / 2 + 4;  // words per sVt row (BN keys + 8 bf16 of padding): 36 = 8*4 + 4
constexpr float LOG2E = 1.4426950408889634f, LN2 = 0.6931471805599453f;
constexpr unsigned FULL = 0xffffffffu;

int g_attention_bf16;  // process-wide switch, read and written with __atomic builtins

// Where a head's rows live: element strides (batch, head, row) of q, of k
// and v (which share them), and of out. The (B, H, T, D) layout is
// (H T D, T D, D); the packed qkv of attention_qkv_fwd_cuda_bf16 reads q,
// k, v in place from (B, T, 3 H D) rows and writes out as (B, T, H D).
struct mma_p {
    const float *q, *k, *v, *head_u;
    void *out;  // float, or bf16 (uint16_t) when out_bf16
    float *lse;
    int64_t Tq, Tk, nqt, H;
    int64_t qs[3], ks[3], os[3];
    int D;
    float scale_log2;  // scale * log2(e)
    int causal, out_bf16;
};

// Offset of head bh = b H + h in a layout with strides s.
__device__ inline int64_t head_off(const int64_t (&s)[3], int64_t bh, int64_t H) {
    return (bh / H) * s[0] + (bh % H) * s[1];
}

// Two floats as a bf16x2 word, lo in the low half (round to nearest even).
__device__ inline uint32_t pack_bf16(float lo, float hi) {
    uint32_t r = 0;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
    // bf16 conversion and mma need sm_80+: a build for older cards compiles
    // (the host never launches this kernel there, see eligible below).
    (void)lo, (void)hi;
    __trap();
#else
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));  // d = {a: upper, b: lower}
#endif
    return r;
}

// c += A B, one m16n8k16 bf16 product with fp32 accumulation.
__device__ inline void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
    (void)c, (void)a, (void)b0, (void)b1;
    __trap();
#else
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

__device__ inline float4 ld4(const float *p) { return __ldg(reinterpret_cast<const float4 *>(p)); }

// Keys visible to query row i: [0, row_keys(i)), as cuda/ops_attention.cu.
__device__ inline int64_t row_keys_of(int causal, int64_t Tq, int64_t Tk, int64_t i) {
    if (!causal) return Tk;
    int64_t e = i + 1 + (Tk - Tq);
    return e < 0 ? 0 : (e > Tk ? Tk : e);
}
__device__ inline int64_t row_keys(const mma_p &p, int64_t i) { return row_keys_of(p.causal, p.Tq, p.Tk, i); }

// Rows [row0, row0 + ROWS) x columns [0, DP) of src (nrows rows of D
// floats, rs floats apart; rs % 4 == 0) as bf16 into dst (row stride STRIDE words: SW in shared
// memory, DP / 2 in kernel 2's workspace) by NTH threads; zero past nrows
// or D. Element e = (r, c) covers columns 4c..4c+3: one 16-byte load, one
// 8-byte store. D % 4 == 0, so a group never straddles D.
template <int DP, int ROWS = 64, int NTH = THREADS, int STRIDE = DP / 2 + 4>
__device__ inline void load_rows(uint32_t *dst, const float *src, int64_t row0, int64_t nrows, int D, int64_t rs) {
    constexpr int CH = DP / 4;
    for (int e = threadIdx.x; e < ROWS * CH; e += NTH) {
        const int r = e / CH, c = e - r * CH, d = 4 * c;
        float4 x = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (row0 + r < nrows && d < D) x = ld4(src + (row0 + r) * rs + d);
        *reinterpret_cast<uint2 *>(dst + r * STRIDE + 2 * c) = make_uint2(pack_bf16(x.x, x.y), pack_bf16(x.z, x.w));
    }
}

// The V tile transposed: sVt[d * stride + kp] = (V[j0 + 2kp][d], V[j0 + 2kp + 1][d])
// as bf16x2 (stride VW in shared memory), zero past Tk or D, by NTH threads
// (V's rows rs floats apart).
// kp runs fastest over the threads, so the 32 lanes of a warp store 32
// consecutive words (no bank conflicts; coalesced in global memory).
template <int DP, int NTH = THREADS>
__device__ inline void load_vt(uint32_t *sVt, const float *vh, int64_t j0, int64_t Tk, int D, int64_t rs,
                               int64_t stride = VW) {
    constexpr int CH = DP / 4, KP = BN / 2;
    for (int e = threadIdx.x; e < KP * CH; e += NTH) {
        const int c = e / KP, kp = e - c * KP, d = 4 * c;
        const int64_t j = j0 + 2 * kp;
        float4 x0 = make_float4(0.0f, 0.0f, 0.0f, 0.0f), x1 = x0;
        if (d < D) {
            if (j < Tk) x0 = ld4(vh + j * rs + d);
            if (j + 1 < Tk) x1 = ld4(vh + (j + 1) * rs + d);
        }
        sVt[(d + 0) * stride + kp] = pack_bf16(x0.x, x1.x);
        sVt[(d + 1) * stride + kp] = pack_bf16(x0.y, x1.y);
        sVt[(d + 2) * stride + kp] = pack_bf16(x0.z, x1.z);
        sVt[(d + 3) * stride + kp] = pack_bf16(x0.w, x1.w);
    }
}

// The A fragments of warp's 16 query rows from the staged Q tile (rows of
// SW words), kept in registers for the whole key loop.
template <int DP>
__device__ __forceinline__ void q_fragments(const uint32_t *sQ, int warp, int g, int t, uint32_t (&qf)[DP / 16][4]) {
    constexpr int SW = DP / 2 + 4;
    const uint32_t *r0 = sQ + (warp * 16 + g) * SW, *r8 = r0 + 8 * SW;
#pragma unroll
    for (int kk = 0; kk < DP / 16; kk++) {
        qf[kk][0] = r0[kk * 8 + t];
        qf[kk][1] = r8[kk * 8 + t];
        qf[kk][2] = r0[kk * 8 + 4 + t];
        qf[kk][3] = r8[kk * 8 + 4 + t];
    }
}

// One key tile for one warp's 16 query rows: S = Q K^T on the tensor cores,
// the online softmax update of m, l and o, then O += P V. cK: the tile's
// BN key rows (SW words each), cV: its V^T (DP rows of VW words).
template <int DP>
__device__ __forceinline__ void tile_step(const uint32_t *cK, const uint32_t *cV, const uint32_t (&qf)[DP / 16][4],
                                          int64_t j0, const int64_t (&lim)[2], float scale_log2, int D, float (&m)[2],
                                          float (&l)[2], float (&o)[DP / 8][4], int g, int t) {
    constexpr int SW = DP / 2 + 4, KS = DP / 16, NT = BN / 8, DT = DP / 8;
    // S = Q K^T: B[k = d][n = key] = K[key][d], so b0 is sK[key][2t..2t+1] of step kk.
    float s[NT][4];
#pragma unroll
    for (int nt = 0; nt < NT; nt++) {
        s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
        const uint32_t *kr = cK + (nt * 8 + g) * SW;
#pragma unroll
        for (int kk = 0; kk < KS; kk++) mma16816(s[nt], qf[kk], kr[kk * 8 + t], kr[kk * 8 + 4 + t]);
    }
    // Scale to base 2; -inf past each row's visible keys (causal) and past Tk.
#pragma unroll
    for (int nt = 0; nt < NT; nt++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int64_t col = j0 + nt * 8 + 2 * t + (e & 1);
            s[nt][e] = col < lim[e >> 1] ? s[nt][e] * scale_log2 : -INFINITY;
        }
    // Online softmax, per row. The max is reduced over the 4 lanes of the
    // row's quad (xor 1, 2), so all four take the same branch below.
#pragma unroll
    for (int h = 0; h < 2; h++) {
        float mx = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < NT; nt++) mx = fmaxf(mx, fmaxf(s[nt][2 * h], s[nt][2 * h + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(FULL, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(FULL, mx, 2));
        const float mn = fmaxf(m[h], mx);
        if (mn == -INFINITY) {  // nothing visible yet: p = 0, state unchanged
#pragma unroll
            for (int nt = 0; nt < NT; nt++) s[nt][2 * h] = s[nt][2 * h + 1] = 0.0f;
        } else {
            const float alpha = exp2f(m[h] - mn);  // 0 when m was -inf
            float ls = 0.0f;
#pragma unroll
            for (int nt = 0; nt < NT; nt++) {
                const float p0 = exp2f(s[nt][2 * h] - mn), p1 = exp2f(s[nt][2 * h + 1] - mn);  // 0 where masked
                s[nt][2 * h] = p0;
                s[nt][2 * h + 1] = p1;
                ls += p0 + p1;
            }
            l[h] = l[h] * alpha + ls;
            m[h] = mn;
#pragma unroll
            for (int dt = 0; dt < DT; dt++) {
                o[dt][2 * h] *= alpha;
                o[dt][2 * h + 1] *= alpha;
            }
        }
    }
    // O += P V over the tile's 4 groups of 16 keys. P's A fragment is the
    // accumulator of score tiles 2kk and 2kk+1; b0 of output tile dt is
    // V[keys 16kk + 2t, +1][d = 8dt + g] = sVt word (8dt + g) * VW + 8kk + t.
#pragma unroll
    for (int kk = 0; kk < BN / 16; kk++) {
        const uint32_t a[4] = {pack_bf16(s[2 * kk][0], s[2 * kk][1]), pack_bf16(s[2 * kk][2], s[2 * kk][3]),
                               pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                               pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
        for (int dt = 0; dt < DT; dt++) {
            if (dt * 8 >= D) break;  // all-zero padding columns (uniform over the block)
            const uint32_t *vr = cV + (dt * 8 + g) * VW;
            mma16816(o[dt], a, vr[kk * 8 + t], vr[kk * 8 + 4 + t]);
        }
    }
}

// The rows' sums over their quads, then out = (1 - u) O / l + u v_i and the
// log-sum-exp for this thread's two rows (vh: the fp32 V of this head, rows
// p.ks[2] apart; out's rows at head_off(p.os) + i p.os[2], fp32 or bf16).
template <int DP>
__device__ __forceinline__ void epilogue(float (&l)[2], const float (&m)[2], const float (&o)[DP / 8][4],
                                         const int64_t (&row)[2], const mma_p &p, int64_t bh, const float *vh, int t) {
    const int64_t Tq = p.Tq, obase = head_off(p.os, bh, p.H);
    const int D = p.D;
    constexpr int DT = DP / 8;
    // Row sums over the quad (every lane takes part before any lane skips).
#pragma unroll
    for (int h = 0; h < 2; h++) {
        l[h] += __shfl_xor_sync(FULL, l[h], 1);
        l[h] += __shfl_xor_sync(FULL, l[h], 2);
    }
    const float u = p.head_u ? p.head_u[bh] : 0.0f, am = 1.0f - u;
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const int64_t i = row[h];
        if (i >= Tq) continue;
        const float inv = l[h] > 0.0f ? 1.0f / l[h] : 0.0f;
        const int64_t orow = obase + i * p.os[2];  // element offset of out's row i
        const float *vrow = vh + i * p.ks[2];      // the identity map's value row: Tq == Tk when u is set
#pragma unroll
        for (int dt = 0; dt < DT; dt++) {
            const int col = dt * 8 + 2 * t;  // even, and D % 4 == 0: col < D implies col + 1 < D
            if (col >= D) continue;
            float2 r = make_float2(am * (o[dt][2 * h] * inv), am * (o[dt][2 * h + 1] * inv));
            if (u != 0.0f) {
                r.x += u * vrow[col];
                r.y += u * vrow[col + 1];
            }
            // Even offsets (col even, strides and bases multiples of 4): one
            // aligned 4-byte bf16x2 or 8-byte float2 store.
            if (p.out_bf16)
                *reinterpret_cast<uint32_t *>(static_cast<uint16_t *>(p.out) + orow + col) = pack_bf16(r.x, r.y);
            else
                *reinterpret_cast<float2 *>(static_cast<float *>(p.out) + orow + col) = r;
        }
        if (p.lse && t == 0) p.lse[bh * Tq + i] = l[h] > 0.0f ? m[h] * LN2 + logf(l[h]) : -INFINITY;
    }
}

// Block: blockIdx.x = (b*H + h) * nqt + query tile.
template <int DP>
__global__ void __launch_bounds__(THREADS) attn_fwd_mma_kernel(const mma_p p) {
    constexpr int SW = DP / 2 + 4;  // words per sK row: DP bf16 + 8 of padding
    constexpr int KS = DP / 16;     // k-steps of QK^T
    constexpr int DT = DP / 8;      // n8 output tiles
    // sK also stages the Q tile before the loop (BM == BN rows, same stride).
    __shared__ __align__(16) uint32_t sK[BN * SW];
    __shared__ __align__(16) uint32_t sVt[DP * VW];
    static_assert(BM == BN, "sK stages the Q tile");
    static_assert(DP % 16 == 0 && DP >= 16 && DP <= 128, "DP");

    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
    const int D = p.D;
    const int64_t Tq = p.Tq, Tk = p.Tk;
    const int64_t bh = blockIdx.x / p.nqt, i0 = (blockIdx.x % p.nqt) * BM;
    const float *qh = p.q + head_off(p.qs, bh, p.H), *kh = p.k + head_off(p.ks, bh, p.H),
                *vh = p.v + head_off(p.ks, bh, p.H);

    // Q fragments of the warp's 16 rows, kept for the whole loop.
    load_rows<DP>(sK, qh, i0, Tq, D, p.qs[2]);
    __syncthreads();
    uint32_t qf[KS][4];
    q_fragments<DP>(sK, warp, g, t, qf);
    // This thread's two rows: h = 0 is row g of the warp's block, h = 1 row g + 8.
    const int64_t row[2] = {i0 + warp * 16 + g, i0 + warp * 16 + g + 8};
    const int64_t lim[2] = {row_keys(p, row[0]), row_keys(p, row[1])};
    const int64_t ilast = (i0 + BM < Tq ? i0 + BM : Tq) - 1, kend = row_keys(p, ilast);
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};  // l: this thread's columns only
    float o[DT][4];
#pragma unroll
    for (int dt = 0; dt < DT; dt++) o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.0f;

    for (int64_t j0 = 0; j0 < kend; j0 += BN) {
        __syncthreads();  // every warp is done with sK (the Q staging, or the last K tile) and sVt
        load_rows<DP>(sK, kh, j0, Tk, D, p.ks[2]);
        load_vt<DP>(sVt, vh, j0, Tk, D, p.ks[2]);
        __syncthreads();

        tile_step<DP>(sK, sVt, qf, j0, lim, p.scale_log2, D, m, l, o, g, t);
    }

    epilogue<DP>(l, m, o, row, p, bh, vh, t);
}

template <int DP>
silt_status launch(const mma_p &p, unsigned blocks) {
    // Ask for half the unified L1/shared memory as shared (a hint; the rest
    // stays L1): room for 3 blocks of up to 36 KB, which the ~140-170
    // registers per thread also allow. Idempotent, so a race only repeats it.
    static int carveout_set;
    if (!__atomic_load_n(&carveout_set, __ATOMIC_RELAXED)) {
        SILT_CUDA_TRY(cudaFuncSetAttribute((const void *)attn_fwd_mma_kernel<DP>,
                                           cudaFuncAttributePreferredSharedMemoryCarveout, 50));
        __atomic_store_n(&carveout_set, 1, __ATOMIC_RELAXED);
    }
    attn_fwd_mma_kernel<DP><<<blocks, THREADS>>>(p);
    SILT_CUDA_LAUNCHED("attn_fwd_mma_kernel");
    return SILT_OK;
}


// --- variant 2: K/V converted once, 128 query rows, cp.async double buffering ---
//
// A pre-pass (kv_bf16_kernel) writes K as bf16 rows kb[bh][Tkp][DP] and V
// transposed, vt[bh][DP][Tkp] (key pairs as bf16x2 words, the even key in
// the low half: sVt's layout above), both zero-padded to DP columns and to
// Tkp = Tk rounded up to BN keys, into a device workspace that grows as
// needed and lives for the process (one stream: the next call's pre-pass
// runs after this call's kernel). The main kernel is variant 1's warp code
// with 8 warps (BM2 = 128 query rows per block: each K/V tile serves twice
// the rows) and its tiles copied by cp.async (16 bytes, no conversion) into
// two shared-memory stages: tile j + 1 is in flight while tile j is used.
// Shared memory: 2 x (BN x SW + DP x VW) words, 72 KB at DP = 128 (dynamic,
// opted in above 48 KB).
constexpr int BM2 = 128, NWARPS2 = BM2 / 16, THREADS2 = NWARPS2 * 32, PREPASS_THREADS = 256;

int g_mma_variant = 2;  // attention_fwd_cuda_bf16's kernel, read and written with __atomic builtins
uint32_t *g_ws;         // variant 2's bf16 K / V^T workspace
size_t g_ws_bytes;
// One process-wide workspace: a call holds it from the pre-pass to its main
// kernel's launch (the default stream orders the next call's pre-pass after
// that kernel), so two host threads never fill or regrow it under each other.
pthread_mutex_t g_ws_lock = PTHREAD_MUTEX_INITIALIZER;

// Kernel 2 reads q and v as kernel 1 does (k only in the pre-pass), and the
// pre-pass's bf16 copies of K and V^T padded to Tkp keys.
struct mma2_p : mma_p {
    const uint32_t *kb, *vt;
    int64_t Tkp;
};

__device__ inline void cp_async16(void *smem, const void *gmem) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
    (void)smem, (void)gmem;
    __trap();
#else
    const unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
#endif
}
__device__ inline void cp_async_commit() {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;\n" ::);
#endif
}
template <int N>
__device__ inline void cp_async_wait() {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
#endif
}

// One block per (bh, key tile of BN): the tile's K rows (as load_rows) and
// V columns (as load_vt) into kb / vt, zeros past Tk and past D.
template <int DP>
__global__ void __launch_bounds__(PREPASS_THREADS) kv_bf16_kernel(uint32_t *kb, uint32_t *vt, const mma_p p,
                                                                  int64_t Tkp, int64_t nkt) {
    const int64_t bh = blockIdx.x / nkt, j0 = (blockIdx.x % nkt) * BN, off = head_off(p.ks, bh, p.H);
    load_rows<DP, BN, PREPASS_THREADS, DP / 2>(kb + (bh * Tkp + j0) * (DP / 2), p.k + off, j0, p.Tk, p.D, p.ks[2]);
    const int64_t vw = Tkp / 2;  // words per vt row
    load_vt<DP, PREPASS_THREADS>(vt + bh * DP * vw + j0 / 2, p.v + off, j0, p.Tk, p.D, p.ks[2], vw);
}

// Issues the cp.async copies of key tile j0 into one stage (sKs: BN rows of
// SW words, sVs: DP rows of VW words). Every chunk is in bounds: the
// workspace is padded to Tkp keys and DP columns.
template <int DP>
__device__ inline void load_tile_async(uint32_t *sKs, uint32_t *sVs, const mma2_p &p, int64_t bh, int64_t j0) {
    constexpr int SW = DP / 2 + 4, RW = DP / 2, KC = RW / 4, VC = BN / 8;  // 16-byte chunks per K row / V^T row
    const uint32_t *ks = p.kb + (bh * p.Tkp + j0) * RW;
    for (int e = threadIdx.x; e < BN * KC; e += THREADS2) {
        const int r = e / KC, c = e - r * KC;
        cp_async16(sKs + r * SW + 4 * c, ks + r * RW + 4 * c);
    }
    const int64_t vw = p.Tkp / 2;
    const uint32_t *vs = p.vt + bh * DP * vw + j0 / 2;
    for (int e = threadIdx.x; e < DP * VC; e += THREADS2) {
        const int d = e / VC, c = e - d * VC;
        cp_async16(sVs + d * VW + 4 * c, vs + d * vw + 4 * c);
    }
}

template <int DP>
constexpr size_t mma2_smem_bytes() {
    return (size_t)(2 * BN * (DP / 2 + 4) + 2 * DP * VW) * sizeof(uint32_t);
}

// Block: blockIdx.x = (b*H + h) * nqt + query tile of BM2 rows.
template <int DP>
__global__ void __launch_bounds__(THREADS2) attn_fwd_mma2_kernel(const mma2_p p) {
    constexpr int SW = DP / 2 + 4, KS = DP / 16, DT = DP / 8;
    constexpr int KBUF = BN * SW, VBUF = DP * VW;
    static_assert(BM2 == 2 * BN, "the two K stages stage the Q tile");
    static_assert(DP % 16 == 0 && DP >= 16 && DP <= 128, "DP");
    extern __shared__ __align__(16) uint32_t smem2[];
    uint32_t *sK = smem2, *sVt = smem2 + 2 * KBUF;

    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
    const int D = p.D;
    const int64_t Tq = p.Tq;
    const int64_t bh = blockIdx.x / p.nqt, i0 = (blockIdx.x % p.nqt) * BM2;
    const float *qh = p.q + head_off(p.qs, bh, p.H), *vh = p.v + head_off(p.ks, bh, p.H);

    // The Q tile (BM2 rows, as load_rows) across both K stages, then each
    // warp's A fragments into registers for the whole loop.
    load_rows<DP, BM2, THREADS2>(sK, qh, i0, Tq, D, p.qs[2]);
    __syncthreads();
    uint32_t qf[KS][4];
    q_fragments<DP>(sK, warp, g, t, qf);
    __syncthreads();  // every warp has its Q fragments before tile 0 overwrites the staging

    const int64_t row[2] = {i0 + warp * 16 + g, i0 + warp * 16 + g + 8};
    const int64_t lim[2] = {row_keys_of(p.causal, p.Tq, p.Tk, row[0]), row_keys_of(p.causal, p.Tq, p.Tk, row[1])};
    const int64_t ilast = (i0 + BM2 < Tq ? i0 + BM2 : Tq) - 1, kend = row_keys_of(p.causal, p.Tq, p.Tk, ilast);
    const int64_t ntiles = (kend + BN - 1) / BN;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
    float o[DT][4];
#pragma unroll
    for (int dt = 0; dt < DT; dt++) o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.0f;

    if (ntiles > 0) {
        load_tile_async<DP>(sK, sVt, p, bh, 0);
        cp_async_commit();
    }
    for (int64_t jt = 0; jt < ntiles; jt++) {
        const int st = (int)(jt & 1);
        if (jt + 1 < ntiles) {  // the other stage was last read in iteration jt - 1, which ended in a barrier
            load_tile_async<DP>(sK + (st ^ 1) * KBUF, sVt + (st ^ 1) * VBUF, p, bh, (jt + 1) * BN);
            cp_async_commit();
            cp_async_wait<1>();  // tile jt has landed (this thread's copies)
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();  // ... and every thread's copies of it
        const uint32_t *cK = sK + st * KBUF, *cV = sVt + st * VBUF;
        const int64_t j0 = jt * BN;

        tile_step<DP>(cK, cV, qf, j0, lim, p.scale_log2, D, m, l, o, g, t);
        __syncthreads();  // every warp is done with stage st before iteration jt + 1 refills it
    }

    epilogue<DP>(l, m, o, row, p, bh, vh, t);
}

// The workspace for BH heads of Tkp keys at DP columns: kb then vt.
silt_status workspace(size_t bytes, uint32_t **out) {
    SILT_TRY(silt_cuda_grow((void **)&g_ws, &g_ws_bytes, bytes));  // under g_ws_lock
    *out = g_ws;
    return SILT_OK;
}

template <int DP>
silt_status launch2(mma2_p p, unsigned blocks, int64_t BH) {
    const int64_t nkt = p.Tkp / BN;
    if (BH * nkt > INT_MAX) return SILT_FAIL(SILT_ERR_UNSUPPORTED, "attention_fwd_cuda_bf16: too many key tiles");
    uint32_t *ws = nullptr;
    const size_t half = (size_t)(BH * p.Tkp) * (DP / 2) * sizeof(uint32_t);
    SILT_TRY(workspace(2 * half, &ws));
    uint32_t *kb = ws, *vt = ws + half / sizeof(uint32_t);
    if (p.Tkp > 0) {
        kv_bf16_kernel<DP><<<(unsigned)(BH * nkt), PREPASS_THREADS>>>(kb, vt, p, p.Tkp, nkt);
        SILT_CUDA_LAUNCHED("kv_bf16_kernel");
    }
    p.kb = kb;
    p.vt = vt;
    constexpr size_t smem = mma2_smem_bytes<DP>();
    static int attr_set;
    if (!__atomic_load_n(&attr_set, __ATOMIC_RELAXED)) {
        SILT_CUDA_TRY(cudaFuncSetAttribute((const void *)attn_fwd_mma2_kernel<DP>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        __atomic_store_n(&attr_set, 1, __ATOMIC_RELAXED);
    }
    attn_fwd_mma2_kernel<DP><<<blocks, THREADS2, smem>>>(p);
    SILT_CUDA_LAUNCHED("attn_fwd_mma2_kernel");
    return SILT_OK;
}

// Calls f(std::integral_constant<int, DP>) for the compiled head-dim step
// DP = D rounded up to a multiple of 16 (D <= 128, checked by the caller).
template <class F>
silt_status by_head_dim(int64_t D, F &&f) {
    switch ((D + 15) / 16) {
    case 1: return f(std::integral_constant<int, 16>{});
    case 2: return f(std::integral_constant<int, 32>{});
    case 3: return f(std::integral_constant<int, 48>{});
    case 4: return f(std::integral_constant<int, 64>{});
    case 5: return f(std::integral_constant<int, 80>{});
    case 6: return f(std::integral_constant<int, 96>{});
    case 7: return f(std::integral_constant<int, 112>{});
    default: return f(std::integral_constant<int, 128>{});
    }
}

}  // namespace

extern "C" bool silt_cuda_set_attention_bf16(bool allow) {
    return __atomic_exchange_n(&g_attention_bf16, allow ? 1 : 0, __ATOMIC_RELAXED) != 0;
}

extern "C" bool silt_cuda_attention_bf16(void) { return __atomic_load_n(&g_attention_bf16, __ATOMIC_RELAXED) != 0; }

extern "C" int silt_cuda_set_attention_mma_variant(int variant) {
    if (variant != 1 && variant != 2) return __atomic_load_n(&g_mma_variant, __ATOMIC_RELAXED);
    return __atomic_exchange_n(&g_mma_variant, variant, __ATOMIC_RELAXED);
}

// bf16 mma.sync needs compute capability 8.0+ (device 0, asked once).
static bool mma_capable(void) {
    static int major = -1;
    if (major < 0) {
        int m = 0;
        if (cudaDeviceGetAttribute(&m, cudaDevAttrComputeCapabilityMajor, 0) != cudaSuccess) m = 0;
        major = m;
    }
    return major >= 8;
}

extern "C" bool attention_bf16_eligible_cuda(const float *out, const float *q, const float *k, const float *v,
                                             int64_t D, int64_t Dv, const silt_attn_opts *o) {
    if (D != Dv || D < 4 || D > 128 || D % 4 != 0) return false;
    if (!mma_capable()) return false;
    if (o && (o->mask || o->probs_out)) return false;
    // float4 loads of q, k, v rows and float2 stores of out rows (D % 4 == 0
    // keeps every row start as aligned as the base).
    if ((((uintptr_t)q | (uintptr_t)k | (uintptr_t)v) & 15) != 0 || ((uintptr_t)out & 7) != 0) return false;
    return true;
}

// Runs the chosen kernel over BH = B H heads: p2 holds everything but nqt
// and variant 2's workspace.
static silt_status run_mma(mma2_p &p2, int64_t BH, const char *op) {
    const bool v2 = __atomic_load_n(&g_mma_variant, __ATOMIC_RELAXED) == 2;
    const int64_t bm = v2 ? BM2 : BM, nqt = (p2.Tq + bm - 1) / bm;
    if (BH * nqt > INT_MAX)
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: %lld heads x %lld query tiles exceed one grid", op, (long long)BH,
                         (long long)nqt);
    p2.nqt = nqt;
    const unsigned blocks = (unsigned)(BH * nqt);
    if (!v2) return by_head_dim(p2.D, [&](auto dp) { return launch<decltype(dp)::value>(p2, blocks); });
    p2.kb = p2.vt = nullptr;
    p2.Tkp = (p2.Tk + BN - 1) / BN * BN;
    pthread_mutex_lock(&g_ws_lock);
    silt_status st = by_head_dim(p2.D, [&](auto dp) { return launch2<decltype(dp)::value>(p2, blocks, BH); });
    pthread_mutex_unlock(&g_ws_lock);
    return st;
}

extern "C" silt_status attention_fwd_cuda_bf16(float *out, float *lse, float *scratch, const float *q, const float *k,
                                               const float *v, int64_t B, int64_t H, int64_t Tq, int64_t Tk,
                                               int64_t D, int64_t Dv, const silt_attn_opts *o) {
    (void)scratch;
    const char *op = "attention_fwd_cuda_bf16";
    SILT_CUDA_READY();
    if (B < 0 || H < 0 || Tq < 0 || Tk < 0 || D < 1 || Dv < 0)
        return SILT_FAIL(SILT_ERR_ARG, "%s: bad sizes (B %lld, H %lld, Tq %lld, Tk %lld, D %lld, Dv %lld)", op,
                         (long long)B, (long long)H, (long long)Tq, (long long)Tk, (long long)D, (long long)Dv);
    const float scale = o && o->scale != 0.0f ? o->scale : (float)(1.0 / sqrt((double)D));
    if (!isfinite(scale)) return SILT_FAIL(SILT_ERR_ARG, "%s: scale %g is not finite", op, (double)scale);
    if (o && o->head_u && Tq != Tk)
        return SILT_FAIL(SILT_ERR_SHAPE, "%s: head_u (SoftPAG) needs Tq == Tk (got %lld, %lld)", op, (long long)Tq,
                         (long long)Tk);
    if (B * H * Tq == 0) return SILT_OK;
    if (!q || !out || (Tk > 0 && (!k || !v))) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL q, k, v or out", op);
    if (!attention_bf16_eligible_cuda(out, q, k, v, D, Dv, o))
        return SILT_FAIL(SILT_ERR_UNSUPPORTED,
                         "%s: needs D == Dv, D a multiple of 4 up to 128, no mask or probs_out, 16-byte aligned "
                         "q/k/v (got D %lld, Dv %lld, mask %s, probs_out %s)",
                         op, (long long)D, (long long)Dv, o && o->mask ? "set" : "none",
                         o && o->probs_out ? "set" : "none");
    mma2_p p{};  // kernel 1 takes its mma_p part
    p.q = q;
    p.k = k;
    p.v = v;
    p.head_u = o ? o->head_u : nullptr;
    p.out = out;
    p.lse = lse;
    p.Tq = Tq;
    p.Tk = Tk;
    p.H = H;
    // (B, H, T, D): rows D apart, heads T D, batches H T D.
    const int64_t qs[3] = {H * Tq * D, Tq * D, D}, ks[3] = {H * Tk * D, Tk * D, D};
    for (int i = 0; i < 3; i++) p.qs[i] = p.os[i] = qs[i], p.ks[i] = ks[i];
    p.D = (int)D;
    p.scale_log2 = scale * LOG2E;
    p.causal = o && o->causal;
    p.out_bf16 = 0;
    return run_mma(p, B * H, op);
}

extern "C" bool attention_qkv_bf16_eligible_cuda(int64_t Dh) {
    return Dh >= 4 && Dh <= 128 && Dh % 4 == 0 && mma_capable();
}

extern "C" silt_status attention_qkv_fwd_cuda_bf16(uint16_t *out, const float *qkv, int64_t B, int64_t T, int64_t H,
                                                   int64_t Dh, const float *head_u) {
    const char *op = "attention_qkv_fwd_cuda_bf16";
    SILT_CUDA_READY();
    if (B < 0 || T < 0 || H < 1 || Dh < 1)
        return SILT_FAIL(SILT_ERR_ARG, "%s: bad sizes (B %lld, T %lld, H %lld, Dh %lld)", op, (long long)B,
                         (long long)T, (long long)H, (long long)Dh);
    if (B * T == 0) return SILT_OK;
    if (!qkv || !out) return SILT_FAIL(SILT_ERR_ARG, "%s: NULL qkv or out", op);
    if (!attention_qkv_bf16_eligible_cuda(Dh))
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: needs a GPU of compute capability 8.0+ and Dh a multiple of 4 "
                                               "up to 128 (got Dh %lld)", op, (long long)Dh);
    // float4 loads of q, k, v rows (row and head offsets are multiples of 4
    // floats) and bf16x2 stores of out (even offsets).
    if (((uintptr_t)qkv & 15) != 0 || ((uintptr_t)out & 3) != 0)
        return SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: qkv must be 16-byte and out 4-byte aligned", op);
    const int64_t D = H * Dh;
    mma2_p p{};
    p.q = qkv;
    p.k = qkv + D;
    p.v = qkv + 2 * D;
    p.head_u = head_u;
    p.out = out;
    p.lse = nullptr;
    p.Tq = p.Tk = T;
    p.H = H;
    // Rows of the packed qkv are 3 D floats apart, head h starts at column
    // h Dh (of each of the q, k, v thirds); out's rows are D apart.
    const int64_t in[3] = {T * 3 * D, Dh, 3 * D}, os[3] = {T * D, Dh, D};
    for (int i = 0; i < 3; i++) p.qs[i] = p.ks[i] = in[i], p.os[i] = os[i];
    p.D = (int)Dh;
    p.scale_log2 = (float)(1.0 / sqrt((double)Dh)) * LOG2E;
    p.causal = 0;
    p.out_bf16 = 1;
    return run_mma(p, B * H, op);
}
