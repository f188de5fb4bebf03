#include "core/graph.h"

#include <stdlib.h>
#include <string.h>

#include "cuda/cuda.h"

typedef struct tape_node {
    silt_backward_fn fn;
    void *data;
} tape_node;

struct silt_graph {
    silt_device device;
    silt_arena *arena;      // host: headers, tape nodes, host arrays; CPU graphs: tensor data too
    silt_arena *dev_arena;  // CUDA graphs: tensor data (device memory)
    void *dev_scratch;
    size_t dev_scratch_bytes;
    tape_node *nodes;
    int n_nodes, cap_nodes;
    bool grad_enabled;
    silt_status status;
    void *scratch;
    size_t scratch_bytes;
};

silt_graph *silt_graph_create(size_t arena_block_bytes) {
    silt_graph *g = calloc(1, sizeof *g);
    if (!g) { SILT_FAIL(SILT_ERR_OOM, "out of memory for graph"); return NULL; }
    g->arena = silt_arena_create(arena_block_bytes);
    if (!g->arena) { free(g); return NULL; }
    g->grad_enabled = true;
    return g;
}

silt_graph *silt_graph_create_on(silt_device device, size_t arena_block_bytes) {
    if (device == SILT_CPU) return silt_graph_create(arena_block_bytes);
    if (device != SILT_CUDA) {
        SILT_FAIL(SILT_ERR_ARG, "graph: unknown device %d", (int)device);
        return NULL;
    }
    if (!silt_cuda_available()) {
        SILT_FAIL(SILT_ERR_UNSUPPORTED, "graph on cuda: no usable CUDA GPU (silt_cuda_available() is false)");
        return NULL;
    }
    // Host side: headers and tape only, so small blocks.
    silt_graph *g = silt_graph_create((size_t)1 << 20);
    if (!g) return NULL;
    g->dev_arena = silt_arena_create_cuda(arena_block_bytes);
    if (!g->dev_arena) { silt_graph_free(g); return NULL; }
    g->device = SILT_CUDA;
    return g;
}

silt_device silt_graph_device(const silt_graph *g) { return g->device; }

void silt_graph_free(silt_graph *g) {
    if (!g) return;
    silt_arena_free(g->dev_arena);
    silt_cuda_free(g->dev_scratch);
    silt_arena_free(g->arena);
    silt_free(g->scratch);
    free(g->nodes);
    free(g);
}

void silt_graph_reset(silt_graph *g) {
    silt_arena_reset(g->arena);
    if (g->dev_arena) silt_arena_reset(g->dev_arena);
    g->n_nodes = 0;
    g->status = SILT_OK;
}

void silt_graph_set_grad(silt_graph *g, bool enabled) { g->grad_enabled = enabled; }
bool silt_graph_grad_enabled(const silt_graph *g) { return g->grad_enabled; }
silt_arena *silt_graph_arena(silt_graph *g) { return g->arena; }
silt_status silt_graph_status(const silt_graph *g) { return g->status; }
int silt_graph_tape_length(const silt_graph *g) { return g->n_nodes; }

void *silt_graph_scratch(silt_graph *g, size_t bytes) {
    if (bytes <= g->scratch_bytes && g->scratch) return g->scratch;
    silt_free(g->scratch);
    g->scratch = silt_alloc(bytes);
    g->scratch_bytes = g->scratch ? bytes : 0;
    if (!g->scratch) silt_graph_fail(g, SILT_FAIL(SILT_ERR_OOM, "out of memory for a %zu-byte scratch buffer", bytes));
    return g->scratch;
}

void *silt_graph_device_scratch(silt_graph *g, size_t bytes) {
    if (g->device == SILT_CPU) return silt_graph_scratch(g, bytes);
    if (bytes <= g->dev_scratch_bytes && g->dev_scratch) return g->dev_scratch;
    silt_cuda_free(g->dev_scratch);
    g->dev_scratch = NULL;
    g->dev_scratch_bytes = 0;
    void *p = NULL;
    size_t n = bytes ? bytes : 256;  // a valid pointer even for 0 bytes
    silt_status s = silt_cuda_malloc(&p, n);
    if (s != SILT_OK) { silt_graph_fail(g, s); return NULL; }
    g->dev_scratch = p;
    g->dev_scratch_bytes = n;
    return p;
}

silt_status silt_graph_fail(silt_graph *g, silt_status s) {
    if (g->status == SILT_OK) g->status = s;
    return s;
}

silt_tensor *silt_graph_tensor(silt_graph *g, silt_dtype dtype, int ndim, const int64_t *shape) {
    // A failed CUDA graph allocates nothing more, so chained ops end in NULL
    // (device ops are asynchronous; running on after a failure only hides it).
    if (g->device != SILT_CPU && g->status != SILT_OK) return NULL;
    silt_status s = silt_shape_check(ndim, shape);
    if (s != SILT_OK) { silt_graph_fail(g, s); return NULL; }
    silt_tensor *t = silt_arena_calloc(g->arena, sizeof *t);
    if (!t) { silt_graph_fail(g, SILT_ERR_OOM); return NULL; }
    t->dtype = dtype;
    t->device = g->device;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->data = silt_arena_alloc(g->dev_arena ? g->dev_arena : g->arena, silt_nbytes(t));
    if (!t->data) { silt_graph_fail(g, SILT_ERR_OOM); return NULL; }
    return t;
}

silt_tensor *silt_graph_tensor_f32(silt_graph *g, int ndim, const int64_t *shape) {
    return silt_graph_tensor(g, SILT_F32, ndim, shape);
}

silt_tensor *silt_graph_new(silt_graph *g, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    int64_t shape[4] = {d0, d1, d2, d3};
    int ndim = d1 ? (d2 ? (d3 ? 4 : 3) : 2) : 1;
    return silt_graph_tensor_f32(g, ndim, shape);
}

silt_status silt_graph_check_f32(silt_graph *g, const char *op, const silt_tensor *t) {
    if (g->device != SILT_CPU)
        return silt_graph_fail(g, SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: this op runs on cpu only (no %s path yet)", op,
                                            silt_device_name(g->device)));
    if (t->dtype == SILT_F32 && t->device == SILT_CPU) return SILT_OK;
    char buf[64];
    return silt_graph_fail(g, SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: input %s is %s on %s (need f32 on cpu)", op,
                                        silt_shape_str(t, buf, sizeof buf), silt_dtype_name(t->dtype),
                                        silt_device_name(t->device)));
}

silt_status silt_graph_check_dev(silt_graph *g, const char *op, const silt_tensor *t) {
    if (t->dtype == SILT_F32 && t->device == g->device) return SILT_OK;
    char buf[64];
    return silt_graph_fail(g, SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: input %s is %s on %s, the graph is on %s (need f32 on %s)",
                                        op, silt_shape_str(t, buf, sizeof buf), silt_dtype_name(t->dtype),
                                        silt_device_name(t->device), silt_device_name(g->device),
                                        silt_device_name(g->device)));
}

silt_status silt_graph_require_cuda(silt_graph *g, const char *op) {
    if (g->device == SILT_CUDA) return SILT_OK;
    return silt_graph_fail(g, SILT_FAIL(SILT_ERR_UNSUPPORTED, "%s: a CUDA graph only (this one is on %s)", op,
                                        silt_device_name(g->device)));
}

silt_tensor *silt_graph_done(silt_graph *g, silt_status s, silt_tensor *out) {
    if (s != SILT_OK) {
        silt_graph_fail(g, s);
        return NULL;
    }
    return g->status == SILT_OK ? out : NULL;
}

silt_tensor *silt_graph_upload(silt_graph *g, silt_dtype dtype, int ndim, const int64_t *shape, const void *host) {
    if (!host) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_ARG, "graph upload: NULL host data"));
        return NULL;
    }
    silt_tensor *t = silt_graph_tensor(g, dtype, ndim, shape);
    if (!t) return NULL;
    if (g->device == SILT_CPU) {
        memcpy(t->data, host, silt_nbytes(t));
        return t;
    }
    return silt_graph_done(g, silt_cuda_memcpy_h2d(t->data, host, silt_nbytes(t)), t);
}

const void *silt_graph_device_copy(silt_graph *g, const void *host, size_t bytes) {
    if (!host || g->device == SILT_CPU) return host;
    void *d = silt_arena_alloc(g->dev_arena, bytes);
    if (!d) { silt_graph_fail(g, SILT_ERR_OOM); return NULL; }
    silt_status s = silt_cuda_memcpy_h2d(d, host, bytes);
    if (s != SILT_OK) { silt_graph_fail(g, s); return NULL; }
    return d;
}

bool silt_graph_wants_grad(const silt_graph *g, const silt_tensor *a, const silt_tensor *b, const silt_tensor *c) {
    if (!g->grad_enabled) return false;
    return (a && a->requires_grad) || (b && b->requires_grad) || (c && c->requires_grad);
}

bool silt_graph_needs_grad(const silt_graph *g, const silt_tensor *a, const silt_tensor *b, const silt_tensor *c) {
    bool need = silt_graph_wants_grad(g, a, b, c);
    if (need && g->device != SILT_CPU) {
        // Ops with a device backward call silt_graph_wants_grad; reaching here
        // means this op has none. The status is sticky and a failed CUDA graph
        // allocates no more tensors, so the op's chain ends in NULL right
        // after this one.
        silt_graph_fail((silt_graph *)g, SILT_FAIL(SILT_ERR_UNSUPPORTED,
                                                   "an input requires grad: backward on cuda not yet for this op (run "
                                                   "device graphs with silt_graph_set_grad(g, false) or on inputs "
                                                   "without grad)"));
        return false;
    }
    return need;
}

void *silt_graph_record(silt_graph *g, silt_backward_fn fn, size_t bytes) {
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? 2 * g->cap_nodes : 256;
        tape_node *n = realloc(g->nodes, (size_t)cap * sizeof *n);
        if (!n) { silt_graph_fail(g, SILT_FAIL(SILT_ERR_OOM, "out of memory growing the tape")); return NULL; }
        g->nodes = n;
        g->cap_nodes = cap;
    }
    void *data = silt_arena_calloc(g->arena, bytes);
    if (!data) { silt_graph_fail(g, SILT_ERR_OOM); return NULL; }
    g->nodes[g->n_nodes].fn = fn;
    g->nodes[g->n_nodes].data = data;
    g->n_nodes++;
    return data;
}

float *silt_graph_grad(silt_graph *g, silt_tensor *t) {
    if (!t || !t->requires_grad) return NULL;
    if (t->device != g->device) {
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_UNSUPPORTED, "gradient of a %s tensor on a %s graph",
                                     silt_device_name(t->device), silt_device_name(g->device)));
        return NULL;
    }
    if (t->grad) return t->grad;
    if (g->device == SILT_CPU) {
        t->grad = silt_arena_calloc(g->arena, (size_t)silt_numel(t) * sizeof(float));
        if (!t->grad) silt_graph_fail(g, SILT_ERR_OOM);
        return t->grad;
    }
    // CUDA: a zero-filled buffer from the device arena (reset with the graph;
    // parameters own theirs, allocated by the trainer).
    size_t bytes = (size_t)silt_numel(t) * sizeof(float);
    float *d = silt_arena_alloc(g->dev_arena, bytes ? bytes : sizeof(float));
    if (!d) { silt_graph_fail(g, SILT_ERR_OOM); return NULL; }
    silt_status s = silt_cuda_memset(d, 0, bytes);
    if (s != SILT_OK) { silt_graph_fail(g, s); return NULL; }
    t->grad = d;
    return d;
}

// --- reshape: a view sharing data; its grad is added back to the source -----

typedef struct { silt_tensor *src, *out; } reshape_node;

static silt_status reshape_bwd(silt_graph *g, void *p) {
    reshape_node *n = p;
    if (!n->out->grad) return SILT_OK;
    float *dsrc = silt_graph_grad(g, n->src);
    if (!dsrc) return silt_graph_status(g);
    int64_t len = silt_numel(n->src);
    if (g->device != SILT_CPU) return add_fwd_cuda(dsrc, dsrc, n->out->grad, len);
    for (int64_t i = 0; i < len; i++) dsrc[i] += n->out->grad[i];
    return SILT_OK;
}

silt_tensor *silt_reshape(silt_graph *g, silt_tensor *t, int ndim, const int64_t *shape) {
    if (!t) return NULL;
    silt_status s = silt_shape_check(ndim, shape);
    if (s != SILT_OK) { silt_graph_fail(g, s); return NULL; }
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    if (n != silt_numel(t)) {
        char buf[64];
        silt_graph_fail(g, SILT_FAIL(SILT_ERR_SHAPE, "reshape of %s to %lld elements", silt_shape_str(t, buf, sizeof buf), (long long)n));
        return NULL;
    }
    silt_tensor *v = silt_arena_calloc(g->arena, sizeof *v);
    if (!v) { silt_graph_fail(g, SILT_ERR_OOM); return NULL; }
    *v = *t;
    v->ndim = ndim;
    for (int i = 0; i < SILT_MAX_DIMS; i++) v->shape[i] = i < ndim ? shape[i] : 0;
    v->grad = NULL;
    v->owns_data = false;
    v->requires_grad = silt_graph_wants_grad(g, t, NULL, NULL);
    if (v->requires_grad) {
        reshape_node *node = silt_graph_record(g, reshape_bwd, sizeof *node);
        if (!node) return NULL;
        node->src = t;
        node->out = v;
    }
    return v;
}

silt_status silt_backward(silt_graph *g, silt_tensor *out, const float *seed) {
    if (g->status != SILT_OK) return SILT_FAIL(g->status, "backward after a failed forward: %s", silt_last_error_message());
    if (!out) return SILT_FAIL(SILT_ERR_ARG, "backward of a NULL tensor");
    if (!out->requires_grad) return SILT_FAIL(SILT_ERR_ARG, "backward of a tensor that does not require grad");
    int64_t n = silt_numel(out);
    if (!seed && n != 1) return SILT_FAIL(SILT_ERR_ARG, "backward without a seed needs a scalar output (got %lld elements)", (long long)n);
    float *d = silt_graph_grad(g, out);
    if (!d) return silt_graph_status(g);
    if (g->device == SILT_CPU) {
        for (int64_t i = 0; i < n; i++) d[i] += seed ? seed[i] : 1.0f;
    } else {
        // The seed (host memory) goes up once and is added to the grad.
        float one = 1.0f;
        const float *ds = silt_graph_device_copy(g, seed ? seed : &one, (size_t)n * sizeof(float));
        if (!ds) return silt_graph_status(g);
        silt_status s = add_fwd_cuda(d, d, ds, n);
        if (s != SILT_OK) return silt_graph_fail(g, s);
    }
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        silt_status s = g->nodes[i].fn(g, g->nodes[i].data);
        if (s == SILT_OK && g->status != SILT_OK) s = g->status;  // a node that failed the graph but returned OK
        if (s != SILT_OK) return silt_graph_fail(g, s);
    }
    return SILT_OK;
}
