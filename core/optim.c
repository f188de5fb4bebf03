#include "core/optim.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda.h"

struct silt_adamw {
    silt_adamw_params p;
    silt_device device;  // where params, grads and the moments live
    double beta1, beta2;
    int n;
    int64_t t;
    silt_tensor **params;
    bool *no_decay;
    float **m, **v;
    silt_multi_list *dev_list;  // device runs: the update of every tensor in one launch,
    silt_multi_entry *dev_entries;  // from these n host entries (rebuilt each step, allocated once)
};

silt_adamw_params silt_adamw_default_params(void) {
    silt_adamw_params p = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 1e-2};
    return p;
}

void silt_adamw_free(silt_adamw *o) {
    if (!o) return;
    for (int i = 0; i < o->n; i++) {
        if (o->device == SILT_CUDA) {
            if (o->m) silt_cuda_free(o->m[i]);
            if (o->v) silt_cuda_free(o->v[i]);
        } else {
            if (o->m) silt_free(o->m[i]);
            if (o->v) silt_free(o->v[i]);
        }
    }
    free(o->m);
    free(o->v);
    silt_multi_list_free(o->dev_list);
    free(o->dev_entries);
    free(o->params);
    free(o->no_decay);
    free(o);
}

// Same checks as torch.optim.AdamW.__init__.
static silt_status check_params(silt_adamw_params p) {
    if (!(p.lr >= 0) || !isfinite(p.lr)) return SILT_FAIL(SILT_ERR_ARG, "adamw: invalid learning rate %g", p.lr);
    if (!(p.eps >= 0) || !isfinite(p.eps)) return SILT_FAIL(SILT_ERR_ARG, "adamw: invalid epsilon %g", p.eps);
    if (!(p.beta1 >= 0 && p.beta1 < 1)) return SILT_FAIL(SILT_ERR_ARG, "adamw: invalid beta1 %g (need [0, 1))", p.beta1);
    if (!(p.beta2 >= 0 && p.beta2 < 1)) return SILT_FAIL(SILT_ERR_ARG, "adamw: invalid beta2 %g (need [0, 1))", p.beta2);
    if (!(p.weight_decay >= 0) || !isfinite(p.weight_decay))
        return SILT_FAIL(SILT_ERR_ARG, "adamw: invalid weight decay %g", p.weight_decay);
    return SILT_OK;
}

silt_adamw *silt_adamw_create(silt_tensor **params, const bool *no_decay, int n, silt_adamw_params p) {
    if (n < 0 || (n > 0 && !params)) { SILT_FAIL(SILT_ERR_ARG, "adamw: %d params, array %p", n, (void *)params); return NULL; }
    if (check_params(p) != SILT_OK) return NULL;
    silt_device dev = n > 0 && params[0] ? params[0]->device : SILT_CPU;
    for (int i = 0; i < n; i++) {
        const silt_tensor *t = params[i];
        if (!t || t->dtype != SILT_F32 || t->device != dev || !t->data) {
            SILT_FAIL(SILT_ERR_ARG, "adamw: param %d is %s (need f32 tensors, all on one device)", i,
                      !t ? "NULL" : t->dtype != SILT_F32 ? silt_dtype_name(t->dtype) : "on another device");
            return NULL;
        }
    }
    if (dev != SILT_CPU && dev != SILT_CUDA) {
        SILT_FAIL(SILT_ERR_ARG, "adamw: params on unknown device %d", (int)dev);
        return NULL;
    }
    silt_adamw *o = calloc(1, sizeof *o);
    if (!o) goto oom;
    o->p = p;
    o->device = dev;
    o->beta1 = p.beta1;
    o->beta2 = p.beta2;
    o->n = n;
    size_t k = n > 0 ? (size_t)n : 1;
    o->params = malloc(k * sizeof *o->params);
    o->no_decay = calloc(k, sizeof *o->no_decay);
    o->m = calloc(k, sizeof *o->m);
    o->v = calloc(k, sizeof *o->v);
    if (!o->params || !o->no_decay || !o->m || !o->v) goto oom;
    for (int i = 0; i < n; i++) {
        o->params[i] = params[i];
        o->no_decay[i] = no_decay ? no_decay[i] : false;
        size_t bytes = (size_t)silt_numel(params[i]) * sizeof(float);
        if (dev == SILT_CUDA) {
            void *dm = NULL, *dv = NULL;
            // Keep a real pointer for empty tensors too (a NULL moment reads as missing).
            size_t nb = bytes ? bytes : sizeof(float);
            if (silt_cuda_malloc(&dm, nb) != SILT_OK) goto oom;
            o->m[i] = dm;
            if (silt_cuda_malloc(&dv, nb) != SILT_OK) goto oom;
            o->v[i] = dv;
            if (silt_cuda_memset(dm, 0, nb) != SILT_OK || silt_cuda_memset(dv, 0, nb) != SILT_OK) goto oom;
            continue;
        }
        o->m[i] = silt_alloc(bytes);
        o->v[i] = silt_alloc(bytes);
        if (!o->m[i] || !o->v[i]) goto oom;
        memset(o->m[i], 0, bytes);
        memset(o->v[i], 0, bytes);
    }
    return o;
oom:
    silt_adamw_free(o);
    SILT_FAIL(SILT_ERR_OOM, "adamw: out of memory for optimiser state");
    return NULL;
}

silt_status silt_adamw_step(silt_adamw *o, float lr) {
    if (!o) return SILT_FAIL(SILT_ERR_ARG, "adamw_step: NULL optimiser");
    if (!(lr >= 0) || !isfinite(lr)) return SILT_FAIL(SILT_ERR_ARG, "adamw_step: invalid learning rate %g", lr);
    int64_t t = o->t + 1;
    // Scalars in double, as torch computes them in Python before they reach
    // the float kernels.
    double b1 = o->beta1, b2 = o->beta2;
    double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
    const float step_size = (float)((double)lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float decay = (float)(1.0 - (double)lr * o->p.weight_decay);
    const float w1 = (float)(1.0 - b1), fb2 = (float)b2, w2 = (float)(1.0 - b2), eps = o->p.eps;
    if (o->device == SILT_CUDA) {
        // One launch over every tensor with a grad, the arithmetic of adamw_step_cuda (cuda/ops_train.h).
        if (!o->dev_entries && !(o->dev_entries = calloc((size_t)(o->n > 0 ? o->n : 1), sizeof *o->dev_entries)))
            return SILT_FAIL(SILT_ERR_OOM, "adamw_step: out of memory");
        silt_multi_entry *e = o->dev_entries;
        int k = 0;
        for (int i = 0; i < o->n; i++) {
            silt_tensor *pt = o->params[i];
            if (!pt->grad) continue;
            e[k++] = (silt_multi_entry){.a = silt_f32(pt), .b = o->m[i], .c = o->v[i], .d = pt->grad,
                                        .n = silt_numel(pt), .flag = !o->no_decay[i] && o->p.weight_decay != 0};
        }
        silt_status s = silt_multi_list_set(&o->dev_list, e, k);
        if (!s) s = adamw_multi_cuda(o->dev_list, step_size, bc2_sqrt, decay, w1, fb2, w2, eps);
        if (s) return s;
        o->t = t;
        return SILT_OK;
    }
    for (int i = 0; i < o->n; i++) {
        silt_tensor *pt = o->params[i];
        const float *g = pt->grad;
        if (!g) continue;
        float *p = silt_f32(pt), *m = o->m[i], *v = o->v[i];
        const int64_t n = silt_numel(pt);
        const bool dec = !o->no_decay[i] && o->p.weight_decay != 0;
#pragma omp parallel for schedule(static) if (n > 32768)
        for (int64_t j = 0; j < n; j++) {
            float pj = dec ? p[j] * decay : p[j];
            float mj = m[j] + w1 * (g[j] - m[j]);  // torch: exp_avg.lerp_(grad, 1 - beta1)
            float vj = v[j] * fb2 + w2 * g[j] * g[j];
            float denom = sqrtf(vj) / bc2_sqrt + eps;
            p[j] = pj - step_size * (mj / denom);
            m[j] = mj;
            v[j] = vj;
        }
    }
    o->t = t;
    return SILT_OK;
}

int64_t silt_adamw_step_count(const silt_adamw *o) { return o ? o->t : 0; }

silt_device silt_adamw_device(const silt_adamw *o) { return o ? o->device : SILT_CPU; }

silt_status silt_adamw_set_step_count(silt_adamw *o, int64_t t) {
    if (!o || t < 0) return SILT_FAIL(SILT_ERR_ARG, "adamw_set_step_count: bad optimiser or count %lld", (long long)t);
    o->t = t;
    return SILT_OK;
}

silt_status silt_adamw_state(silt_adamw *o, int i, float **m, float **v) {
    if (!o || i < 0 || i >= o->n)
        return SILT_FAIL(SILT_ERR_ARG, "adamw_state: param index %d outside 0..%d", i, o ? o->n - 1 : -1);
    if (m) *m = o->m[i];
    if (v) *v = o->v[i];
    return SILT_OK;
}

int silt_adamw_num_params(const silt_adamw *o) { return o ? o->n : 0; }

silt_adamw_params silt_adamw_get_params(const silt_adamw *o) { return o ? o->p : silt_adamw_default_params(); }

// The device path of silt_grad_clip_norm: per tensor a fixed-shape double
// sum of squares on the device (cuda/ops_train.h), the per-tensor sums summed
// on the host in parameter order, the scaling in place on the device. Its
// device buffers are kept and only grow (a cudaFree each step would
// synchronise the device twice more per step).
static pthread_mutex_t g_norm_lock = PTHREAD_MUTEX_INITIALIZER;
static void *g_norm_acc, *g_norm_partials;
static size_t g_norm_acc_bytes, g_norm_partials_bytes;

static float grad_clip_norm_cuda(silt_tensor **params, int n, float max_norm) {
    double *host = NULL;
    double total = NAN;
    size_t k = n > 0 ? (size_t)n : 1;
    pthread_mutex_lock(&g_norm_lock);
    silt_status s = silt_cuda_grow(&g_norm_partials, &g_norm_partials_bytes, SILT_SUMSQ_PARTIALS * sizeof(double));
    if (!s) s = silt_cuda_grow(&g_norm_acc, &g_norm_acc_bytes, k * sizeof(double));
    double *acc = g_norm_acc, *partials = g_norm_partials;
    if (!s) s = silt_cuda_memset(acc, 0, k * sizeof(double));
    if (!s && !(host = calloc(k, sizeof(double)))) s = SILT_FAIL(SILT_ERR_OOM, "grad_clip_norm: out of memory");
    for (int i = 0; !s && i < n; i++)
        if (params[i] && params[i]->grad) s = sumsq_acc_cuda(acc + i, partials, params[i]->grad, silt_numel(params[i]));
    if (!s) s = silt_cuda_memcpy_d2h(host, acc, k * sizeof(double));  // ordered after the kernels: the buffers are free again
    pthread_mutex_unlock(&g_norm_lock);
    if (!s) {
        total = 0;
        for (int i = 0; i < n; i++) total += host[i];
    }
    free(host);
    // A device failure reads as a NaN norm: the caller stops before the update.
    double norm = sqrt(total);
    if (!isfinite(norm) || !(max_norm > 0)) return (float)norm;
    double coef = (double)max_norm / (norm + 1e-6);
    if (coef < 1.0)
        for (int i = 0; i < n; i++)
            if (params[i] && params[i]->grad &&
                scale_fwd_cuda(params[i]->grad, params[i]->grad, (float)coef, silt_numel(params[i])) != SILT_OK)
                return NAN;
    return (float)norm;
}

float silt_grad_clip_norm(silt_tensor **params, int n, float max_norm) {
    for (int i = 0; params && i < n; i++)
        if (params[i] && params[i]->grad && params[i]->device == SILT_CUDA) return grad_clip_norm_cuda(params, n, max_norm);
    // Sequential per tensor with four accumulators: deterministic whatever the
    // thread count, and fast enough next to a forward/backward pass.
    double total = 0;
    for (int i = 0; i < n; i++) {
        if (!params || !params[i] || !params[i]->grad) continue;
        const float *g = params[i]->grad;
        int64_t len = silt_numel(params[i]), j = 0;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (; j + 4 <= len; j += 4) {
            s0 += (double)g[j] * g[j];
            s1 += (double)g[j + 1] * g[j + 1];
            s2 += (double)g[j + 2] * g[j + 2];
            s3 += (double)g[j + 3] * g[j + 3];
        }
        for (; j < len; j++) s0 += (double)g[j] * g[j];
        total += (s0 + s1) + (s2 + s3);
    }
    double norm = sqrt(total);
    if (!isfinite(norm) || !(max_norm > 0)) return (float)norm;
    double coef = (double)max_norm / (norm + 1e-6);
    if (coef < 1.0) {
        const float c = (float)coef;
        for (int i = 0; i < n; i++) {
            if (!params[i] || !params[i]->grad) continue;
            float *g = params[i]->grad;
            int64_t len = silt_numel(params[i]);
#pragma omp parallel for schedule(static) if (len > 65536)
            for (int64_t j = 0; j < len; j++) g[j] *= c;
        }
    }
    return (float)norm;
}
