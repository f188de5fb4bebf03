// Smaller CUDA twins against their CPU twins: embedding (forward, and a
// backward with many repeated ids), VQ nearest-codebook search, and the
// shape ops concat / slice / permute / pad2d (forward and backward). Shapes
// with odd sizes; backward buffers start from random values (the twins
// accumulate).
//
// Exactness: the shape ops and embedding forward are copies, and the
// embedding backward adds in the CPU's order (one warp per table row, ids
// scanned in order), so all of these must be bit-identical; VQ indices must
// be equal (both sides use the same double arithmetic). Exit 77 (SKIP)
// without a GPU.
#include <stdlib.h>

#include "check.h"
#include "core/ops_linear.h"
#include "core/ops_shape.h"
#include "core/ops_vq.h"
#include "gpu_test.h"
#include "twin_util.h"

// --- embedding -------------------------------------------------------------------------

static void embedding_case(int64_t N, int64_t V, int64_t D) {
    int32_t *ids = calloc((size_t)N + 1, sizeof(int32_t));
    float *table = twin_host(V * D), *ref = twin_host(N * D), *got = twin_host(N * D);
    float *g = twin_host(N * D), *dt0 = twin_host(V * D), *dref = twin_host(V * D), *dgot = twin_host(V * D);
    float *d_table = NULL, *d_out = NULL, *d_g = NULL, *d_dt = NULL;
    int32_t *d_ids = NULL;
    char what[128];
    if (!ids || !table || !ref || !got || !g || !dt0 || !dref || !dgot) { CHECK_MSG(0, "host alloc"); goto done; }
    // Ids concentrate on a few rows (up to N/3 repeats each) but touch the last row too.
    for (int64_t i = 0; i < N; i++) ids[i] = (int32_t)((int64_t)(test_uniform() * 4) * (V / 4 + 1) % V);
    if (N > 1) ids[N - 1] = (int32_t)(V - 1);
    test_fill(table, V * D, -1, 1);
    test_fill(g, N * D, -1, 1);
    test_fill(dt0, V * D, -1, 1);
    d_ids = twin_upload(ids, (size_t)N * 4);
    d_table = twin_upload(table, (size_t)(V * D) * 4);
    d_out = twin_upload(NULL, (size_t)(N * D) * 4);
    d_g = twin_upload(g, (size_t)(N * D) * 4);
    d_dt = twin_upload(dt0, (size_t)(V * D) * 4);
    if (!d_ids || !d_table || !d_out || !d_g || !d_dt) goto done;
    twin_poison(d_out, (size_t)(N * D) * 4);
    embedding_fwd_cpu(ref, ids, table, N, V, D);
    snprintf(what, sizeof what, "embedding fwd N%lld V%lld D%lld", (long long)N, (long long)V, (long long)D);
    CHECK_OK(embedding_fwd_cuda(d_out, d_ids, d_table, N, V, D));
    if (twin_download(got, d_out, (size_t)(N * D) * 4)) twin_same_bits(what, got, ref, (size_t)(N * D) * 4);
    memcpy(dref, dt0, (size_t)(V * D) * 4);
    embedding_bwd_cpu(dref, g, ids, N, V, D);
    snprintf(what, sizeof what, "embedding bwd N%lld V%lld D%lld", (long long)N, (long long)V, (long long)D);
    CHECK_OK(embedding_bwd_cuda(d_dt, d_g, d_ids, N, V, D));
    if (twin_download(dgot, d_dt, (size_t)(V * D) * 4)) twin_same_bits(what, dgot, dref, (size_t)(V * D) * 4);
done:
    silt_cuda_free(d_ids); silt_cuda_free(d_table); silt_cuda_free(d_out); silt_cuda_free(d_g); silt_cuda_free(d_dt);
    free(ids); free(table); free(ref); free(got); free(g); free(dt0); free(dref); free(dgot);
}

// Out-of-range ids: zero rows forward, skipped backward (the documented
// device behaviour; the CPU twin leaves them to silt_embedding's check).
static void embedding_bad_ids(void) {
    int32_t ids[3] = {1, -1, 5};
    float table[2 * 2] = {1, 2, 3, 4}, got[3 * 2], dt[2 * 2];
    int32_t *d_ids = twin_upload(ids, sizeof ids);
    float *d_table = twin_upload(table, sizeof table), *d_out = twin_upload(NULL, sizeof got);
    if (d_ids && d_table && d_out) {
        CHECK_OK(embedding_fwd_cuda(d_out, d_ids, d_table, 3, 2, 2));
        if (twin_download(got, d_out, sizeof got))
            CHECK(got[0] == 3 && got[1] == 4 && got[2] == 0 && got[3] == 0 && got[4] == 0 && got[5] == 0);
        CHECK_OK(embedding_bwd_cuda(d_table, d_out, d_ids, 3, 2, 2));  // adds row 0 of out into table row 1 only
        if (twin_download(dt, d_table, sizeof dt)) CHECK(dt[0] == 1 && dt[1] == 2 && dt[2] == 6 && dt[3] == 8);
    }
    silt_cuda_free(d_ids); silt_cuda_free(d_table); silt_cuda_free(d_out);
}

// --- VQ ---------------------------------------------------------------------------------

static void vq_case(int64_t N, int64_t V, int64_t C, float offset) {
    float *z = twin_host(N * C), *cb = twin_host(V * C);
    int32_t *ref = calloc((size_t)N + 1, 4), *got = calloc((size_t)N + 1, 4), *d_idx = NULL;
    float *d_z = NULL, *d_cb = NULL;
    if (!z || !cb || !ref || !got) { CHECK_MSG(0, "host alloc"); goto done; }
    test_fill(cb, V * C, offset - 1, offset + 1);
    test_fill(z, N * C, offset - 1, offset + 1);
    if (V > 2)
        for (int64_t c = 0; c < C; c++) cb[2 * C + c] = cb[1 * C + c];  // a duplicate entry: ties go to 1
    for (int64_t i = 0; i < N; i += 4)                                     // exact hits, some on the duplicate
        for (int64_t c = 0; c < C; c++) z[i * C + c] = cb[((i / 4) % V) * C + c];
    d_z = twin_upload(z, (size_t)(N * C) * 4);
    d_cb = twin_upload(cb, (size_t)(V * C) * 4);
    d_idx = twin_upload(NULL, (size_t)N * 4);
    if (!d_z || !d_cb || !d_idx) goto done;
    vq_nearest_cpu(ref, z, cb, N, V, C);
    CHECK_OK(vq_nearest_cuda(d_idx, d_z, d_cb, N, V, C));
    char what[128];
    snprintf(what, sizeof what, "vq_nearest N%lld V%lld C%lld offset %g", (long long)N, (long long)V, (long long)C,
             offset);
    if (twin_download(got, d_idx, (size_t)N * 4)) twin_same_bits(what, got, ref, (size_t)N * 4);
done:
    silt_cuda_free(d_z); silt_cuda_free(d_cb); silt_cuda_free(d_idx);
    free(z); free(cb); free(ref); free(got);
}

// --- shape ops ---------------------------------------------------------------------------

static void concat_case(int64_t outer, int64_t inner, const int64_t *sizes, int n) {
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += sizes[i];
    float *xs[8] = {0}, *dxs0[8] = {0}, *dref[8] = {0}, *dgot = twin_host(outer * total * inner);
    float *d_xs[8] = {0}, *d_dxs[8] = {0};
    float *out_ref = twin_host(outer * total * inner), *out = twin_host(outer * total * inner), *g = twin_host(outer * total * inner);
    float *d_out = twin_upload(NULL, (size_t)(outer * total * inner) * 4), *d_g = NULL;
    char what[128];
    bool ok = dgot && out_ref && out && g && d_out;
    for (int i = 0; i < n && ok; i++) {
        int64_t m = outer * sizes[i] * inner;
        xs[i] = twin_host(m);
        dxs0[i] = twin_host(m);
        dref[i] = twin_host(m);
        ok = xs[i] && dxs0[i] && dref[i];
        if (!ok) break;
        test_fill(xs[i], m, -1, 1);
        test_fill(dxs0[i], m, -1, 1);
        memcpy(dref[i], dxs0[i], (size_t)m * 4);
        d_xs[i] = twin_upload(xs[i], (size_t)m * 4);
        d_dxs[i] = i == 1 ? NULL : twin_upload(dxs0[i], (size_t)m * 4);  // input 1 wants no gradient
        ok = d_xs[i] && (i == 1 || d_dxs[i]);
    }
    if (!ok) { CHECK_MSG(0, "alloc"); goto done; }
    test_fill(g, outer * total * inner, -1, 1);
    d_g = twin_upload(g, (size_t)(outer * total * inner) * 4);
    if (!d_g) goto done;
    twin_poison(d_out, (size_t)(outer * total * inner) * 4);
    concat_fwd_cpu(out_ref, (const float *const *)xs, sizes, n, outer, inner);
    CHECK_OK(concat_fwd_cuda(d_out, (const float *const *)d_xs, sizes, n, outer, inner));
    snprintf(what, sizeof what, "concat fwd outer%lld inner%lld n%d", (long long)outer, (long long)inner, n);
    if (twin_download(out, d_out, (size_t)(outer * total * inner) * 4))
        twin_same_bits(what, out, out_ref, (size_t)(outer * total * inner) * 4);
    float *dref_ptrs[8];
    for (int i = 0; i < n; i++) dref_ptrs[i] = i == 1 ? NULL : dref[i];
    concat_bwd_cpu(dref_ptrs, g, sizes, n, outer, inner);
    CHECK_OK(concat_bwd_cuda(d_dxs, d_g, sizes, n, outer, inner));
    for (int i = 0; i < n; i++) {
        if (i == 1) continue;
        int64_t m = outer * sizes[i] * inner;
        snprintf(what, sizeof what, "concat bwd outer%lld inner%lld input %d", (long long)outer, (long long)inner, i);
        if (twin_download(dgot, d_dxs[i], (size_t)m * 4)) twin_same_bits(what, dgot, dref[i], (size_t)m * 4);
    }
done:
    for (int i = 0; i < n; i++) {
        free(xs[i]); free(dxs0[i]); free(dref[i]);
        silt_cuda_free(d_xs[i]); silt_cuda_free(d_dxs[i]);
    }
    silt_cuda_free(d_out); silt_cuda_free(d_g);
    free(dgot); free(out_ref); free(out); free(g);
}

static void slice_case(int64_t outer, int64_t dim, int64_t inner, int64_t start, int64_t len) {
    int64_t nx = outer * dim * inner, no = outer * len * inner;
    float *x = twin_host(nx), *ref = twin_host(no), *got = twin_host(no), *g = twin_host(no);
    float *dx0 = twin_host(nx), *dref = twin_host(nx), *dgot = twin_host(nx);
    float *d_x = twin_upload(NULL, (size_t)nx * 4), *d_out = twin_upload(NULL, (size_t)no * 4);
    float *d_g = twin_upload(NULL, (size_t)no * 4), *d_dx = twin_upload(NULL, (size_t)nx * 4);
    char what[128];
    if (!x || !ref || !got || !g || !dx0 || !dref || !dgot || !d_x || !d_out || !d_g || !d_dx) { CHECK_MSG(0, "alloc"); goto done; }
    test_fill(x, nx, -1, 1);
    test_fill(g, no, -1, 1);
    test_fill(dx0, nx, -1, 1);
    memcpy(dref, dx0, (size_t)nx * 4);
    CHECK_OK(silt_cuda_memcpy_h2d(d_x, x, (size_t)nx * 4));
    CHECK_OK(silt_cuda_memcpy_h2d(d_g, g, (size_t)no * 4));
    CHECK_OK(silt_cuda_memcpy_h2d(d_dx, dx0, (size_t)nx * 4));
    twin_poison(d_out, (size_t)no * 4);
    slice_fwd_cpu(ref, x, outer, dim, inner, start, len);
    CHECK_OK(slice_fwd_cuda(d_out, d_x, outer, dim, inner, start, len));
    snprintf(what, sizeof what, "slice fwd (%lld,%lld,%lld)[%lld:+%lld]", (long long)outer, (long long)dim,
             (long long)inner, (long long)start, (long long)len);
    if (twin_download(got, d_out, (size_t)no * 4)) twin_same_bits(what, got, ref, (size_t)no * 4);
    slice_bwd_cpu(dref, g, outer, dim, inner, start, len);
    CHECK_OK(slice_bwd_cuda(d_dx, d_g, outer, dim, inner, start, len));
    snprintf(what, sizeof what, "slice bwd (%lld,%lld,%lld)[%lld:+%lld]", (long long)outer, (long long)dim,
             (long long)inner, (long long)start, (long long)len);
    if (twin_download(dgot, d_dx, (size_t)nx * 4)) twin_same_bits(what, dgot, dref, (size_t)nx * 4);
done:
    silt_cuda_free(d_x); silt_cuda_free(d_out); silt_cuda_free(d_g); silt_cuda_free(d_dx);
    free(x); free(ref); free(got); free(g); free(dx0); free(dref); free(dgot);
}

static void permute_case(int ndim, const int64_t *shape, const int *perm) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *x = twin_host(n), *ref = twin_host(n), *got = twin_host(n), *g = twin_host(n);
    float *dx0 = twin_host(n), *dref = twin_host(n);
    float *d_x = NULL, *d_out = NULL, *d_g = NULL, *d_dx = NULL;
    char what[128];
    if (!x || !ref || !got || !g || !dx0 || !dref) { CHECK_MSG(0, "host alloc"); goto done; }
    test_fill(x, n, -1, 1);
    test_fill(g, n, -1, 1);
    test_fill(dx0, n, -1, 1);
    memcpy(dref, dx0, (size_t)n * 4);
    d_x = twin_upload(x, (size_t)n * 4);
    d_out = twin_upload(NULL, (size_t)n * 4);
    d_g = twin_upload(g, (size_t)n * 4);
    d_dx = twin_upload(dx0, (size_t)n * 4);
    if (!d_x || !d_out || !d_g || !d_dx) goto done;
    twin_poison(d_out, (size_t)n * 4);
    int off = snprintf(what, sizeof what, "permute %dd perm", ndim);
    for (int i = 0; i < ndim; i++) off += snprintf(what + off, sizeof what - (size_t)off, "%d", perm[i]);
    permute_fwd_cpu(ref, x, ndim, shape, perm);
    CHECK_OK(permute_fwd_cuda(d_out, d_x, ndim, shape, perm));
    if (twin_download(got, d_out, (size_t)n * 4)) twin_same_bits(what, got, ref, (size_t)n * 4);
    permute_bwd_cpu(dref, g, ndim, shape, perm);
    CHECK_OK(permute_bwd_cuda(d_dx, d_g, ndim, shape, perm));
    snprintf(what + off, sizeof what - (size_t)off, " bwd");
    if (twin_download(got, d_dx, (size_t)n * 4)) twin_same_bits(what, got, dref, (size_t)n * 4);
done:
    silt_cuda_free(d_x); silt_cuda_free(d_out); silt_cuda_free(d_g); silt_cuda_free(d_dx);
    free(x); free(ref); free(got); free(g); free(dx0); free(dref);
}

// Every permutation of 0..ndim-1 (Heap's algorithm would do; ndim <= 4 is small
// enough to enumerate by counting).
static void test_permute(void) {
    const int64_t shape[4] = {3, 5, 7, 2};
    twin_quiet = 1;
    int before = check_failed_, cases = 0;
    for (int ndim = 1; ndim <= 4; ndim++) {
        int total = 1;
        for (int i = 0; i < ndim; i++) total *= ndim;
        for (int code = 0; code < total; code++) {
            int perm[4], used = 0, c = code, ok = 1;
            for (int i = 0; i < ndim; i++, c /= ndim) {
                perm[i] = c % ndim;
                if (used >> perm[i] & 1) ok = 0;
                used |= 1 << perm[i];
            }
            if (!ok) continue;
            permute_case(ndim, shape + (4 - ndim), perm);
            cases++;
        }
    }
    twin_quiet = 0;
    printf("permute: %d permutations of ndim 1..4 (fwd and bwd): %s\n", cases,
           check_failed_ == before ? "all bit-identical" : "FAILURES above");
    // A larger one, where the 64-bit index path is not needed but blocks are many.
    const int64_t big[4] = {2, 64, 33, 129};
    const int p[4] = {0, 2, 3, 1};
    permute_case(4, big, p);
}

// pad2d: the forward is a copy with zeros around it and the backward one add
// per dx element, so both must be bit-identical to the CPU.
static void pad2d_case(int64_t nc, int64_t h, int64_t w, int64_t l, int64_t r, int64_t t, int64_t b) {
    int64_t Ho = h + t + b, Wo = w + l + r, nx = nc * h * w, no = nc * Ho * Wo;
    float *x = twin_host(nx), *ref = twin_host(no), *got = twin_host(no), *g = twin_host(no);
    float *dx0 = twin_host(nx), *dref = twin_host(nx), *dgot = twin_host(nx);
    float *d_x = twin_upload(NULL, (size_t)nx * 4), *d_out = twin_upload(NULL, (size_t)no * 4);
    float *d_g = twin_upload(NULL, (size_t)no * 4), *d_dx = twin_upload(NULL, (size_t)nx * 4);
    char what[128];
    if (!x || !ref || !got || !g || !dx0 || !dref || !dgot || !d_x || !d_out || !d_g || !d_dx) { CHECK_MSG(0, "alloc"); goto done; }
    test_fill(x, nx, -1, 1);
    test_fill(g, no, -1, 1);
    test_fill(dx0, nx, -1, 1);
    memcpy(dref, dx0, (size_t)nx * 4);
    CHECK_OK(silt_cuda_memcpy_h2d(d_x, x, (size_t)nx * 4));
    CHECK_OK(silt_cuda_memcpy_h2d(d_g, g, (size_t)no * 4));
    CHECK_OK(silt_cuda_memcpy_h2d(d_dx, dx0, (size_t)nx * 4));
    twin_poison(d_out, (size_t)no * 4);
    pad2d_fwd_cpu(ref, x, nc, h, w, l, r, t, b);
    CHECK_OK(pad2d_fwd_cuda(d_out, d_x, nc, h, w, l, r, t, b));
    snprintf(what, sizeof what, "pad2d fwd (%lld,%lld,%lld) pads (%lld,%lld,%lld,%lld)", (long long)nc, (long long)h,
             (long long)w, (long long)l, (long long)r, (long long)t, (long long)b);
    if (twin_download(got, d_out, (size_t)no * 4)) twin_same_bits(what, got, ref, (size_t)no * 4);
    pad2d_bwd_cpu(dref, g, nc, h, w, l, r, t, b);
    CHECK_OK(pad2d_bwd_cuda(d_dx, d_g, nc, h, w, l, r, t, b));
    snprintf(what, sizeof what, "pad2d bwd (%lld,%lld,%lld) pads (%lld,%lld,%lld,%lld)", (long long)nc, (long long)h,
             (long long)w, (long long)l, (long long)r, (long long)t, (long long)b);
    if (twin_download(dgot, d_dx, (size_t)nx * 4)) twin_same_bits(what, dgot, dref, (size_t)nx * 4);
done:
    silt_cuda_free(d_x); silt_cuda_free(d_out); silt_cuda_free(d_g); silt_cuda_free(d_dx);
    free(x); free(ref); free(got); free(g); free(dx0); free(dref); free(dgot);
}

static void test_errors(void) {
    float *d = NULL;
    CHECK_OK(silt_cuda_malloc((void **)&d, 64 * sizeof(float)));
    const int bad_perm[3] = {0, 0, 1}, perm5[1] = {0};
    const int64_t shape[3] = {2, 2, 2}, neg[1] = {-1};
    CHECK(permute_fwd_cuda(d, d, 3, shape, bad_perm) == SILT_ERR_ARG);
    CHECK(permute_fwd_cuda(d, d, 5, shape, perm5) == SILT_ERR_ARG);
    CHECK(slice_fwd_cuda(d, d, 2, 4, 1, 3, 2) == SILT_ERR_ARG);  // 3 + 2 > 4
    const int64_t sizes[2] = {1, -2};
    const float *xs[2] = {d, d};
    CHECK(concat_fwd_cuda(d, xs, sizes, 2, 1, 1) == SILT_ERR_ARG);
    CHECK(concat_fwd_cuda(d, xs, neg, 1, 1, 1) == SILT_ERR_ARG);
    CHECK(vq_nearest_cuda((int32_t *)d, d, d, 3, 0, 2) == SILT_ERR_ARG);  // empty codebook
    CHECK(embedding_fwd_cuda(NULL, (const int32_t *)d, d, 2, 2, 2) == SILT_ERR_ARG);
    CHECK(pad2d_fwd_cuda(d, d, 1, 2, 2, -1, 0, 0, 0) == SILT_ERR_ARG);
    CHECK(pad2d_bwd_cuda(NULL, d, 1, 2, 2, 1, 1, 1, 1) == SILT_ERR_ARG);
    CHECK(pad2d_fwd_cuda(NULL, NULL, 0, 2, 2, 1, 1, 1, 1) == SILT_OK);  // nc == 0: nothing to do
    silt_cuda_free(d);
}

int main(void) {
    GPU_TEST_START();
    test_seed(20240613);
    test_errors();
    const int64_t emb[][3] = {{1, 1, 1}, {7, 3, 5}, {33, 17, 8}, {1000, 4096, 33}, {4097, 10, 257}, {300, 1000, 1}};
    for (size_t s = 0; s < sizeof emb / sizeof *emb; s++) embedding_case(emb[s][0], emb[s][1], emb[s][2]);
    embedding_bad_ids();
    const int64_t vq[][3] = {{1, 1, 1}, {7, 3, 5}, {33, 17, 8}, {1000, 4096, 32}, {65, 300, 7}, {5, 33, 0}};
    for (size_t s = 0; s < sizeof vq / sizeof *vq; s++) {
        vq_case(vq[s][0], vq[s][1], vq[s][2], 0.0f);
        vq_case(vq[s][0], vq[s][1], vq[s][2], 1000.0f);
    }
    const int64_t sz3[3] = {3, 1, 5}, sz1[1] = {7}, sz4[4] = {2, 0, 9, 1};
    concat_case(1, 1, sz3, 3);
    concat_case(5, 7, sz3, 3);
    concat_case(3, 33, sz1, 1);
    concat_case(17, 1, sz4, 4);
    concat_case(2, 4096, sz3, 3);
    slice_case(1, 1, 1, 0, 1);
    slice_case(5, 9, 7, 2, 4);
    slice_case(3, 100, 1, 99, 1);
    slice_case(33, 17, 65, 0, 17);
    slice_case(2, 10, 3, 4, 0);
    test_permute();
    pad2d_case(1, 1, 1, 0, 0, 0, 0);
    pad2d_case(6, 5, 7, 0, 1, 0, 1);
    pad2d_case(2, 4, 3, 2, 0, 1, 3);
    pad2d_case(33, 17, 65, 3, 2, 1, 4);
    pad2d_case(3, 1, 1, 5, 5, 5, 5);
    return check_summary();
}
