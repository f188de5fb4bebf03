// AdamW against a double-precision transcription of torch.optim.AdamW, known
// values worked by hand, checkpoint restore, a quadratic that must descend,
// and gradient-norm clipping.
#include <string.h>

#include "check.h"
#include "core/optim.h"

// torch.optim.AdamW's update (torch/optim/adamw.py, _single_tensor_adamw) in
// double: decay, moments, bias corrections, step. Like torch it takes the
// betas as doubles, as silt_adamw_params holds them.
typedef struct { double p[64], m[64], v[64]; int64_t n; bool no_decay; } ref_param;

static void ref_step(ref_param *rp, int np, const float *const *grads, double lr, double b1, double b2,
                     silt_adamw_params hp, int64_t t) {
    double bc1 = 1 - pow(b1, (double)t), bc2 = 1 - pow(b2, (double)t);
    for (int i = 0; i < np; i++) {
        if (!grads[i]) continue;
        for (int64_t j = 0; j < rp[i].n; j++) {
            double g = grads[i][j];
            if (!rp[i].no_decay) rp[i].p[j] *= 1 - lr * hp.weight_decay;
            rp[i].m[j] = b1 * rp[i].m[j] + (1 - b1) * g;
            rp[i].v[j] = b2 * rp[i].v[j] + (1 - b2) * g * g;
            double mhat = rp[i].m[j] / bc1, vhat = rp[i].v[j] / bc2;
            rp[i].p[j] -= lr * mhat / (sqrt(vhat) + hp.eps);
        }
    }
}

static void to_float(float *dst, const double *src, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = (float)src[i];
}

static void test_vs_reference(void) {
    // Odd sizes; param 1 is exempt from decay, param 3 never has a gradient.
    const int NP = 4;
    int64_t shapes[4][2] = {{37, 1}, {1, 1}, {5, 7}, {3, 3}};
    bool no_decay[4] = {false, true, false, false};
    silt_tensor *params[4];
    static ref_param rp[4];
    test_seed(42);
    for (int i = 0; i < NP; i++) {
        params[i] = silt_tensor_create_f32(2, shapes[i], i != 3);
        int n = (int)(shapes[i][0] * shapes[i][1]);
        test_fill(silt_f32(params[i]), n, -1, 1);
        rp[i].n = n;
        rp[i].no_decay = no_decay[i];
        memset(rp[i].m, 0, sizeof rp[i].m);
        memset(rp[i].v, 0, sizeof rp[i].v);
        for (int j = 0; j < n; j++) rp[i].p[j] = silt_f32(params[i])[j];
    }
    CHECK(params[3]->grad == NULL);
    float frozen[9];
    memcpy(frozen, silt_f32(params[3]), sizeof frozen);
    silt_adamw_params hp = silt_adamw_default_params();
    hp.weight_decay = 0.1f;  // large enough that decay errors exceed the tolerance
    silt_adamw *o = silt_adamw_create(params, no_decay, NP, hp);
    CHECK(o != NULL && silt_adamw_num_params(o) == NP);
    float buf[64];
    for (int step = 1; step <= 5; step++) {
        const float *grads[4];
        for (int i = 0; i < NP; i++) {
            if (params[i]->grad) {
                // Mixed scales, and an exact zero gradient element.
                test_fill(params[i]->grad, silt_numel(params[i]), -2.0f * step, 1.5f);
                params[i]->grad[0] = i == 0 && step == 2 ? 0.0f : params[i]->grad[0];
            }
            grads[i] = params[i]->grad;
        }
        double lr = 0.01 * (1.0 + step) / 3.0;  // a schedule: each step's lr is used
        ref_step(rp, NP, grads, (float)lr, 0.9, 0.999, hp, step);
        CHECK_OK(silt_adamw_step(o, (float)lr));
        CHECK(silt_adamw_step_count(o) == step);
        for (int i = 0; i < 3; i++) {
            int64_t n = rp[i].n;
            char what[64];
            snprintf(what, sizeof what, "adamw step %d param %d", step, i);
            to_float(buf, rp[i].p, n);
            CHECK_CLOSE(what, silt_f32(params[i]), buf, n, 1e-5, 1e-6);
            float *m, *v;
            CHECK_OK(silt_adamw_state(o, i, &m, &v));
            to_float(buf, rp[i].m, n);
            CHECK_CLOSE("adamw m", m, buf, n, 1e-5, 1e-7);
            to_float(buf, rp[i].v, n);
            CHECK_CLOSE("adamw v", v, buf, n, 1e-5, 1e-9);
        }
    }
    // The parameter without a gradient is untouched, its moments stay zero.
    CHECK(memcmp(frozen, silt_f32(params[3]), sizeof frozen) == 0);
    float *m3, *v3;
    CHECK_OK(silt_adamw_state(o, 3, &m3, &v3));
    int zero = 1;
    for (int j = 0; j < 9; j++) zero &= m3[j] == 0 && v3[j] == 0;
    CHECK(zero);
    CHECK(silt_adamw_state(o, 4, &m3, &v3) == SILT_ERR_ARG);
    CHECK(silt_adamw_step(o, -1.0f) == SILT_ERR_ARG && silt_adamw_step_count(o) == 5);
    CHECK(silt_adamw_step(o, NAN) == SILT_ERR_ARG);
    silt_adamw_free(o);
    for (int i = 0; i < NP; i++) silt_tensor_free(params[i]);
}

// Values worked out from torch's formula by hand (double precision), one
// scalar parameter, lr 0.1, wd 0.01, betas 0.9/0.999, eps 1e-8:
//   step 1, g = 0.5:   p = 0.999 - 1.0 * 0.05 / (0.5 + 1e-8)      = 0.899000002
//   step 2, g = -0.25: m = 0.02, v = 0.00031225                    -> p = 0.8714672987058463
//   step 3, g = 2.0:   m = 0.218, v = 0.00431193775                -> p = 0.8035310672284472
// (Adam's first step moves by lr * sign(g), whatever |g|.)
static void test_known_values(void) {
    int64_t one = 1;
    silt_tensor *x = silt_tensor_create_f32(1, &one, true);
    silt_f32(x)[0] = 1.0f;
    silt_adamw_params hp = silt_adamw_default_params();
    CHECK(hp.lr == 1e-3 && hp.beta1 == 0.9 && hp.beta2 == 0.999 && hp.eps == 1e-8 && hp.weight_decay == 0.01);
    silt_adamw *o = silt_adamw_create(&x, NULL, 1, hp);
    const float g[3] = {0.5f, -0.25f, 2.0f};
    const double want[3] = {0.899000002, 0.8714672987058463, 0.8035310672284472};
    for (int s = 0; s < 3; s++) {
        x->grad[0] = g[s];
        CHECK_OK(silt_adamw_step(o, 0.1f));
        CHECK_MSG(fabs(silt_f32(x)[0] - want[s]) < 2e-7, "step %d: %.9f want %.9f", s + 1, silt_f32(x)[0], want[s]);
    }
    float *m, *v;
    silt_adamw_state(o, 0, &m, &v);
    CHECK_MSG(fabs(m[0] - 0.218) < 3e-8 && fabs(v[0] - 0.00431193775) < 1e-9, "m %.9g v %.9g", m[0], v[0]);
    silt_adamw_free(o);
    silt_tensor_free(x);
}

// Save after 3 steps (params, m, v, count), restore into a fresh optimiser:
// both continue bit-identically.
static void test_checkpoint(void) {
    int64_t shape[1] = {29};
    silt_tensor *a = silt_tensor_create_f32(1, shape, true), *b = silt_tensor_create_f32(1, shape, true);
    test_seed(9);
    test_fill(silt_f32(a), 29, -1, 1);
    silt_adamw_params hp = silt_adamw_default_params();
    silt_adamw *oa = silt_adamw_create(&a, NULL, 1, hp);
    for (int s = 0; s < 3; s++) {
        test_fill(a->grad, 29, -1, 1);
        silt_adamw_step(oa, 1e-2f);
    }
    silt_adamw *ob = silt_adamw_create(&b, NULL, 1, hp);
    memcpy(silt_f32(b), silt_f32(a), sizeof(float) * 29);
    float *ma, *va, *mb, *vb;
    silt_adamw_state(oa, 0, &ma, &va);
    silt_adamw_state(ob, 0, &mb, &vb);
    memcpy(mb, ma, sizeof(float) * 29);
    memcpy(vb, va, sizeof(float) * 29);
    CHECK_OK(silt_adamw_set_step_count(ob, silt_adamw_step_count(oa)));
    CHECK(silt_adamw_set_step_count(ob, -1) == SILT_ERR_ARG && silt_adamw_step_count(ob) == 3);
    for (int s = 0; s < 2; s++) {
        test_fill(a->grad, 29, -1, 1);
        memcpy(b->grad, a->grad, sizeof(float) * 29);
        silt_adamw_step(oa, 1e-2f);
        silt_adamw_step(ob, 1e-2f);
    }
    CHECK(memcmp(silt_f32(a), silt_f32(b), sizeof(float) * 29) == 0);
    silt_adamw_free(oa);
    silt_adamw_free(ob);
    silt_tensor_free(a);
    silt_tensor_free(b);
}

// loss = 1/2 sum a_i (x_i - c_i)^2 with curvatures over two decades.
static double quad_loss(const float *x, const float *a, const float *c, int n, float *grad) {
    double l = 0;
    for (int i = 0; i < n; i++) {
        double d = (double)x[i] - c[i];
        l += 0.5 * a[i] * d * d;
        if (grad) grad[i] = (float)(a[i] * d);
    }
    return l;
}

static void test_quadratic(void) {
    enum { N = 51 };
    int64_t shape[1] = {N};
    silt_tensor *x = silt_tensor_create_f32(1, shape, true);
    float a[N], c[N];
    test_seed(17);
    test_fill(a, N, 0.1f, 10.0f);
    test_fill(c, N, -2, 2);
    test_fill(silt_f32(x), N, -3, 3);
    silt_adamw_params hp = silt_adamw_default_params();
    hp.weight_decay = 0;
    silt_adamw *o = silt_adamw_create(&x, NULL, 1, hp);
    double l0 = quad_loss(silt_f32(x), a, c, N, NULL), prev = l0;
    int rises = 0;
    for (int s = 0; s < 300; s++) {
        double l = quad_loss(silt_f32(x), a, c, N, x->grad);
        rises += l > prev * 1.0001;
        prev = l;
        CHECK_OK(silt_adamw_step(o, s < 200 ? 0.05f : 0.005f));
    }
    double l1 = quad_loss(silt_f32(x), a, c, N, NULL);
    CHECK_MSG(l1 < 1e-3 * l0, "quadratic loss %g -> %g", l0, l1);
    CHECK_MSG(rises < 30, "loss rose on %d of 300 steps", rises);
    silt_adamw_free(o);
    silt_tensor_free(x);
}

static void test_bad_args(void) {
    int64_t shape[1] = {3};
    silt_tensor *x = silt_tensor_create_f32(1, shape, true), *h = silt_tensor_create(SILT_BF16, 1, shape, false);
    silt_adamw_params hp = silt_adamw_default_params();
    hp.beta1 = 1.0;
    CHECK(silt_adamw_create(&x, NULL, 1, hp) == NULL);
    hp = silt_adamw_default_params();
    hp.eps = -1;
    CHECK(silt_adamw_create(&x, NULL, 1, hp) == NULL);
    hp = silt_adamw_default_params();
    CHECK(silt_adamw_create(&h, NULL, 1, hp) == NULL);
    CHECK(strstr(silt_last_error(), "bf16") != NULL);
    silt_tensor *none = NULL;
    CHECK(silt_adamw_create(&none, NULL, 1, hp) == NULL);
    silt_adamw *empty = silt_adamw_create(NULL, NULL, 0, hp);
    CHECK(empty && silt_adamw_step(empty, 1e-3f) == SILT_OK);
    silt_adamw_free(empty);
    silt_adamw_free(NULL);
    silt_tensor_free(x);
    silt_tensor_free(h);
}

static void test_clip(void) {
    int64_t s1[1] = {13}, s2[2] = {3, 5};
    silt_tensor *p[3] = {silt_tensor_create_f32(1, s1, true), silt_tensor_create_f32(2, s2, true),
                         silt_tensor_create_f32(1, s1, false)};
    test_seed(23);
    test_fill(p[0]->grad, 13, -1, 1);
    test_fill(p[1]->grad, 15, -3, 2);
    double ss = 0;
    for (int j = 0; j < 13; j++) ss += (double)p[0]->grad[j] * p[0]->grad[j];
    for (int j = 0; j < 15; j++) ss += (double)p[1]->grad[j] * p[1]->grad[j];
    double norm = sqrt(ss);
    float g0[13], g1[15];
    memcpy(g0, p[0]->grad, sizeof g0);
    memcpy(g1, p[1]->grad, sizeof g1);
    // Above the norm: nothing changes.
    float r = silt_grad_clip_norm(p, 3, (float)(norm * 2));
    CHECK(fabs(r - norm) < 1e-6 * norm);
    CHECK(memcmp(g0, p[0]->grad, sizeof g0) == 0 && memcmp(g1, p[1]->grad, sizeof g1) == 0);
    // Just below: scaled by 0.9.
    r = silt_grad_clip_norm(p, 3, (float)(0.9 * norm));
    CHECK(fabs(r - norm) < 1e-6 * norm && fabs(p[0]->grad[3] - 0.9 * g0[3]) < 1e-6);
    memcpy(p[0]->grad, g0, sizeof g0);
    memcpy(p[1]->grad, g1, sizeof g1);
    // Below: every gradient scaled by max/(norm + 1e-6); the new norm is max.
    r = silt_grad_clip_norm(p, 3, 1.0f);
    CHECK(fabs(r - norm) < 1e-6 * norm);
    double coef = 1.0 / (norm + 1e-6), ss2 = 0;
    int ok = 1;
    for (int j = 0; j < 13; j++) { ok &= fabs(p[0]->grad[j] - g0[j] * coef) < 1e-6; ss2 += (double)p[0]->grad[j] * p[0]->grad[j]; }
    for (int j = 0; j < 15; j++) { ok &= fabs(p[1]->grad[j] - g1[j] * coef) < 1e-6; ss2 += (double)p[1]->grad[j] * p[1]->grad[j]; }
    CHECK(ok && fabs(sqrt(ss2) - 1.0) < 1e-5);
    // Measuring only.
    memcpy(g0, p[0]->grad, sizeof g0);
    r = silt_grad_clip_norm(p, 3, 0.0f);
    CHECK(fabs(r - 1.0) < 1e-5 && memcmp(g0, p[0]->grad, sizeof g0) == 0);
    // A NaN or Inf gradient: the norm says so and nothing is scaled.
    p[1]->grad[4] = NAN;
    memcpy(g1, p[1]->grad, sizeof g1);
    r = silt_grad_clip_norm(p, 3, 1e-3f);
    CHECK(isnan(r) && memcmp(g0, p[0]->grad, sizeof g0) == 0);
    p[1]->grad[4] = INFINITY;
    r = silt_grad_clip_norm(p, 3, 1e-3f);
    CHECK(isinf(r) && memcmp(g0, p[0]->grad, sizeof g0) == 0);
    CHECK(silt_grad_clip_norm(p + 2, 1, 1.0f) == 0.0f);  // no grads at all
    for (int i = 0; i < 3; i++) silt_tensor_free(p[i]);
}

int main(void) {
    test_vs_reference();
    test_known_values();
    test_checkpoint();
    test_quadratic();
    test_bad_args();
    test_clip();
    return check_summary();
}
