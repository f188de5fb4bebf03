// mmdit_block_forward (one JointTransformerBlock on its own, as
// bench/mmdit_gpu.c times it) against the naive double reference block of
// mmdit_ref.h (rblock, itself checked against diffusers' golden outputs in
// test_mmdit.c), on the golden MMDiTs: the SD3-style one (no QK-norm) and the
// SD3.5-style one (QK-norm, dual attention in block 0). Every block: a plain
// joint block, the dual one, and the context_pre_only last block (whose text
// output must be NULL). Random inputs with odd token counts, batch 2 (rows
// differ). Criterion per output: max|silt - ref| <= 1e-4 * max|ref|. Then the
// argument errors.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/graph.h"
#include "core/safetensors.h"
#include "dit/mmdit.h"
#include "mmdit_ref.h"

#define TOL 1e-4

static silt_safetensors *open_golden(const char *name) {
    char path[512];
    const char *src = getenv("SILT_SOURCE_DIR");
    snprintf(path, sizeof path, "%s%stests/golden/%s", src ? src : "", src ? "/" : "", name);
    silt_safetensors *st = NULL;
    CHECK_OK(silt_safetensors_open(path, &st));
    return st;
}

static void cmp(const char *what, const float *got, const double *ref, int64_t n) {
    double mref = 0, merr = 0;
    for (int64_t i = 0; i < n; i++) {
        if (fabs(ref[i]) > mref) mref = fabs(ref[i]);
        double e = fabs((double)got[i] - ref[i]);
        if (!(e <= merr)) merr = e;  // NaN sticks
    }
    printf("  %-40s max|err| %.3g  max|ref| %.3g  ratio %.2e\n", what, merr, mref, mref > 0 ? merr / mref : merr);
    CHECK_MSG(merr <= TOL * mref, "%s: max|err| %.3g > %.0e x max|ref| %.3g", what, merr, TOL, mref);
}

static void block_case(const char *file) {
    silt_safetensors *st = open_golden(file);
    mmdit_model *m = NULL;
    if (st) CHECK_OK(mmdit_load(st, &m));
    if (!m) {
        silt_safetensors_close(st);
        return;
    }
    const mmdit_config *c = mmdit_get_config(m);
    const int B = 2, N = 11, T = 5, D = c->hidden;
    const int64_t nx = (int64_t)B * N * D, nc = (int64_t)B * T * D;
    float *x = malloc(sizeof(float) * (size_t)nx), *ctx = malloc(sizeof(float) * (size_t)nc);
    float *temb = malloc(sizeof(float) * (size_t)B * D);
    double *rx = malloc(sizeof(double) * (size_t)N * D), *rc = malloc(sizeof(double) * (size_t)T * D);
    double *ox = malloc(sizeof(double) * (size_t)nx), *oc = malloc(sizeof(double) * (size_t)nc);
    double st_[4096];
    refm R;
    ref_init(&R, st, c->heads);
    for (int l = 0; l < c->depth; l++) {
        test_seed(100 + (uint64_t)l);
        test_fill(x, nx, -1.5f, 1.5f);
        test_fill(ctx, nc, -1, 1);
        test_fill(temb, (int64_t)B * D, -2, 2);
        silt_graph *g = silt_graph_create(0);
        silt_graph_set_grad(g, false);
        silt_tensor *xt = silt_graph_upload(g, SILT_F32, 3, (const int64_t[]){B, N, D}, x);
        silt_tensor *ct = silt_graph_upload(g, SILT_F32, 3, (const int64_t[]){B, T, D}, ctx);
        silt_tensor *tt = silt_graph_upload(g, SILT_F32, 2, (const int64_t[]){B, D}, temb);
        silt_tensor *co = (silt_tensor *)1;  // must be overwritten
        silt_tensor *xo = mmdit_block_forward(g, m, l, xt, ct, tt, &co);
        CHECK_MSG(xo != NULL, "%s block %d: %s", file, l, silt_last_error());
        bool last = l == c->depth - 1;
        CHECK_MSG(last ? co == NULL : co != NULL, "%s block %d: text output %s", file, l, co ? "set" : "NULL");
        for (int b = 0; b < B; b++) {
            for (int i = 0; i < N * D; i++) rx[i] = x[(size_t)b * N * D + i];
            for (int i = 0; i < T * D; i++) rc[i] = ctx[(size_t)b * T * D + i];
            for (int i = 0; i < D; i++) st_[i] = rsilu(temb[(size_t)b * D + i]);
            rblock(&R, l, st_, rx, rc, N, 1, T, NULL);
            memcpy(ox + (size_t)b * N * D, rx, sizeof(double) * (size_t)N * D);
            memcpy(oc + (size_t)b * T * D, rc, sizeof(double) * (size_t)T * D);
        }
        char what[128];
        if (xo && xo->ndim == 3 && xo->shape[0] == B && xo->shape[1] == N && xo->shape[2] == D) {
            snprintf(what, sizeof what, "%s block %d image", file, l);
            cmp(what, silt_f32(xo), ox, nx);
        } else {
            CHECK_MSG(0, "%s block %d: bad image output", file, l);
        }
        if (!last && co && co != (silt_tensor *)1) {
            CHECK(co->ndim == 3 && co->shape[0] == B && co->shape[1] == T && co->shape[2] == D);
            snprintf(what, sizeof what, "%s block %d text", file, l);
            if (silt_numel(co) == nc) cmp(what, silt_f32(co), oc, nc);
        }
        silt_graph_free(g);
        ref_free(&R);
    }
    free(x), free(ctx), free(temb), free(rx), free(rc), free(ox), free(oc);
    mmdit_free(m);
    silt_safetensors_close(st);
}

static void test_errors(void) {
    silt_safetensors *st = open_golden("mmdit_diffusers.model.safetensors");
    mmdit_model *m = NULL;
    if (st) CHECK_OK(mmdit_load(st, &m));
    if (!m) {
        silt_safetensors_close(st);
        return;
    }
    int D = mmdit_get_config(m)->hidden;
    silt_graph *g = silt_graph_create(0);
    silt_graph_set_grad(g, false);
    silt_tensor *x = silt_graph_tensor_f32(g, 3, (const int64_t[]){1, 4, D});
    silt_tensor *c = silt_graph_tensor_f32(g, 3, (const int64_t[]){1, 3, D});
    silt_tensor *t = silt_graph_tensor_f32(g, 2, (const int64_t[]){1, D});
    silt_tensor *t2 = silt_graph_tensor_f32(g, 2, (const int64_t[]){2, D});
    silt_tensor *co = NULL;
    CHECK(mmdit_block_forward(g, m, 3, x, c, t, &co) == NULL);
    CHECK(silt_graph_status(g) == SILT_ERR_ARG);
    silt_graph_reset(g);
    x = silt_graph_tensor_f32(g, 3, (const int64_t[]){1, 4, D});
    c = silt_graph_tensor_f32(g, 3, (const int64_t[]){1, 3, D});
    t2 = silt_graph_tensor_f32(g, 2, (const int64_t[]){2, D});
    CHECK(mmdit_block_forward(g, m, 0, x, c, t2, &co) == NULL && co == NULL);
    CHECK(silt_graph_status(g) == SILT_ERR_SHAPE);
    CHECK(strstr(silt_last_error(), "mmdit_block_forward") != NULL);
    silt_graph_reset(g);
    x = silt_graph_tensor_f32(g, 3, (const int64_t[]){1, 4, D});
    t = silt_graph_tensor_f32(g, 2, (const int64_t[]){1, D});
    CHECK(mmdit_block_forward(g, m, 0, x, NULL, t, &co) == NULL);  // NULL input: NULL, as graph ops
    CHECK(mmdit_block_forward(g, m, 0, x, x, t, NULL) == NULL);
    silt_graph_free(g);
    mmdit_free(m);
    silt_safetensors_close(st);
}

int main(void) {
    (void)ref_forward;  // mmdit_ref.h's full forward: test_mmdit.c uses it, this test only its block
    block_case("mmdit_diffusers.model.safetensors");
    block_case("mmdit_qknorm_diffusers.model.safetensors");
    test_errors();
    return check_summary();
}
