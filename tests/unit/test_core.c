// Core pieces: status messages, dtype conversions, arena, graph tape, BLAS.
#include <string.h>

#include "check.h"
#include "core/arena.h"
#include "core/blas.h"
#include "core/graph.h"
#include "core/tensor.h"

static void test_status(void) {
    silt_status s = SILT_FAIL(SILT_ERR_SHAPE, "width %d", 7);
    CHECK(s == SILT_ERR_SHAPE);
    CHECK(strstr(silt_last_error(), "test_core.c:") != NULL);
    CHECK(strcmp(silt_last_error_message(), "width 7") == 0);
    CHECK(strcmp(silt_status_name(SILT_ERR_OOM), "out of memory") == 0);
    // Wrapping the previous message must not garble it.
    SILT_FAIL(SILT_ERR_IO, "reading x: %s", silt_last_error_message());
    CHECK(strcmp(silt_last_error_message(), "reading x: width 7") == 0);
}

static void test_model_move_check(void) {
    bool move = true;
    CHECK(silt_model_move_check("m", SILT_CPU, SILT_CPU, &move) == SILT_OK && !move);
    CHECK(silt_model_move_check("m", SILT_CPU, SILT_CUDA, &move) == SILT_OK && move);
    CHECK(silt_model_move_check("m", SILT_CUDA, SILT_CPU, &move) == SILT_ERR_UNSUPPORTED && !move);
    CHECK(strstr(silt_last_error_message(), "m: moving a model back to the cpu") != NULL);
    CHECK(silt_model_move_check("m", SILT_CPU, SILT_DEVICE_COUNT, &move) == SILT_ERR_ARG && !move);
}

static void test_conversions(void) {
    // Exactly representable values survive both half formats.
    float vals[] = {0.0f, 1.0f, -2.5f, 0.15625f, 65504.0f, -0.000061035156f};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        CHECK(silt_f16_to_f32(silt_f32_to_f16(vals[i])) == vals[i]);
        if (i < 4) CHECK(silt_bf16_to_f32(silt_f32_to_bf16(vals[i])) == vals[i]);
    }
    CHECK(silt_f32_to_f16(1.0f) == 0x3c00);
    CHECK(silt_f32_to_bf16(1.0f) == 0x3f80);
    // Round to nearest even: 1 + 2^-8 is halfway between two bf16 values -> 1.0
    CHECK(silt_f32_to_bf16(1.00390625f) == 0x3f80);
    CHECK(silt_f32_to_bf16(1.01171875f) == 0x3f82);  // 1 + 3*2^-8 -> rounds up to even
    CHECK(silt_f32_to_f16(1e6f) == 0x7c00);          // overflow -> inf
    CHECK(silt_f16_to_f32(0x0001) == 5.9604644775390625e-8f);  // smallest subnormal
    CHECK(silt_f32_to_f16(5.9604644775390625e-8f) == 0x0001);
    CHECK(isnan(silt_bf16_to_f32(silt_f32_to_bf16(NAN))));
    // Relative error of a round trip is within half an ulp.
    test_seed(1);
    for (int i = 0; i < 1000; i++) {
        float x = (float)(test_uniform() * 200 - 100);
        CHECK(fabsf(silt_bf16_to_f32(silt_f32_to_bf16(x)) - x) <= fabsf(x) * 0.00390625f);
        CHECK(fabsf(silt_f16_to_f32(silt_f32_to_f16(x)) - x) <= fabsf(x) * 0.00048828125f);
    }
}

static void test_arena(void) {
    silt_arena *a = silt_arena_create(1024);
    char *p = silt_arena_alloc(a, 100), *q = silt_arena_alloc(a, 5000);  // second exceeds a block
    CHECK(p && q && ((uintptr_t)p % 64) == 0 && ((uintptr_t)q % 64) == 0);
    memset(q, 1, 5000);
    CHECK(silt_arena_used(a) >= 5100);
    silt_arena_reset(a);
    CHECK(silt_arena_used(a) == 0);
    char *r = silt_arena_alloc(a, 100);
    CHECK(r == p);  // blocks are reused after reset
    CHECK(silt_arena_high_water(a) >= 5100);
    silt_arena_free(a);
}

// A tiny op defined here to exercise the tape: out = x * x.
typedef struct { silt_tensor *x, *out; } sq_node;
static silt_status sq_bwd(silt_graph *g, void *p) {
    sq_node *n = p;
    float *dx = silt_graph_grad(g, n->x);
    for (int64_t i = 0; i < silt_numel(n->x); i++) dx[i] += 2 * silt_f32(n->x)[i] * n->out->grad[i];
    return SILT_OK;
}
static silt_tensor *square(silt_graph *g, silt_tensor *x) {
    if (!x) return NULL;
    silt_tensor *out = silt_graph_tensor_f32(g, x->ndim, x->shape);
    if (!out) return NULL;
    for (int64_t i = 0; i < silt_numel(x); i++) silt_f32(out)[i] = silt_f32(x)[i] * silt_f32(x)[i];
    if (silt_graph_needs_grad(g, x, NULL, NULL)) {
        out->requires_grad = true;
        sq_node *n = silt_graph_record(g, sq_bwd, sizeof *n);
        if (!n) return NULL;
        n->x = x;
        n->out = out;
    }
    return out;
}

static void test_graph(void) {
    int64_t shape[2] = {2, 3};
    silt_tensor *x = silt_tensor_create_f32(2, shape, true);
    for (int i = 0; i < 6; i++) silt_f32(x)[i] = (float)i - 2;
    silt_graph *g = silt_graph_create(0);
    // y = (x^2)^2 through a reshape: dy/dx = 4 x^3
    int64_t flat[1] = {6};
    silt_tensor *y = square(g, silt_reshape(g, square(g, x), 1, flat));
    CHECK(y && y->requires_grad && silt_graph_tape_length(g) == 3);
    float seed[6] = {1, 1, 1, 1, 1, 1};
    CHECK_OK(silt_backward(g, y, seed));
    for (int i = 0; i < 6; i++) { float v = (float)i - 2; CHECK(x->grad[i] == 4 * v * v * v); }
    // Sticky errors: a bad reshape fails, later ops return NULL, status kept.
    int64_t bad[1] = {7};
    CHECK(silt_reshape(g, x, 1, bad) == NULL);
    CHECK(square(g, NULL) == NULL);
    CHECK(silt_graph_status(g) == SILT_ERR_SHAPE);
    CHECK(silt_backward(g, y, seed) != SILT_OK);
    silt_graph_reset(g);
    CHECK(silt_graph_status(g) == SILT_OK && silt_graph_tape_length(g) == 0);
    // No grad mode records nothing.
    silt_graph_set_grad(g, false);
    CHECK(square(g, x) && silt_graph_tape_length(g) == 0);
    silt_graph_free(g);
    silt_tensor_free(x);
    int64_t zero[1] = {0};
    CHECK(silt_tensor_create_f32(1, zero, false) == NULL);
}

static void test_sgemm(void) {
    // Against a naive product, all four transpose combinations, odd sizes, strided C.
    int M = 37, N = 29, K = 53;
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
    float *C = malloc(sizeof(float) * M * (N + 3)), *R = malloc(sizeof(float) * M * N), *Cd = malloc(sizeof(float) * M * N);
    test_fill(A, M * K, -1, 1);
    test_fill(B, K * N, -1, 1);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double s = 0;
                    for (int k = 0; k < K; k++)
                        s += (double)(ta ? A[k * M + i] : A[i * K + k]) * (tb ? B[j * K + k] : B[k * N + j]);
                    R[i * N + j] = (float)(0.5 * s + 2.0);
                }
            for (int i = 0; i < M * (N + 3); i++) C[i] = 1.0f;
            silt_sgemm(ta, tb, M, N, K, 0.5f, A, ta ? M : K, B, tb ? K : N, 2.0f, C, N + 3);
            for (int i = 0; i < M; i++) memcpy(Cd + i * N, C + i * (N + 3), sizeof(float) * N);
            CHECK_CLOSE(ta ? (tb ? "sgemm TT" : "sgemm TN") : (tb ? "sgemm NT" : "sgemm NN"), Cd, R, M * N, 1e-5, 1e-5);
        }
    const silt_blas_info *info = silt_blas_info_get();
    CHECK(info->library && info->corename);
    free(A); free(B); free(C); free(R); free(Cd);
}

int main(void) {
    test_status();
    test_conversions();
    test_arena();
    test_graph();
    test_sgemm();
    test_model_move_check();
    return check_summary();
}
