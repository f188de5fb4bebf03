// The graph context: an activation arena plus an autograd tape.
//
// Models are written once as forward code over tensor-level ops (silt_gelu,
// silt_linear, ...). Each op allocates its output from the context's arena,
// runs the forward kernel, and - when gradients are on and an input requires
// them - records a backward node on the tape. silt_backward() replays the tape
// in reverse. silt_graph_reset() drops all activations and the tape (once per
// step).
//
// Errors are sticky: an op that fails sets the context status and returns
// NULL; every op given a NULL input returns NULL at once. So model code can
// chain ops and check once:  h = silt_gelu(g, silt_linear(g, x, w, b));
//                            if (!h) return silt_graph_status(g);
#ifndef SILT_GRAPH_H
#define SILT_GRAPH_H

#include "core/arena.h"
#include "core/tensor.h"

typedef struct silt_graph silt_graph;

// A backward node: reads the output's grad and accumulates (+=) into the
// inputs' grads (obtained with silt_graph_grad). `node` points at the bytes
// recorded with silt_graph_record.
typedef silt_status (*silt_backward_fn)(silt_graph *g, void *node);

silt_graph *silt_graph_create(size_t arena_block_bytes);  // 0: default block size
// A graph whose activations live on `device`. SILT_CPU is silt_graph_create.
// SILT_CUDA: tensor data comes from a device arena (cudaMalloc'ed blocks, bump
// allocation, reset with the graph; default block 256 MiB), while tensor
// headers, tape nodes and the host arrays model code builds (silt_graph_arena)
// stay in host memory. Ops dispatch on their inputs' device: every input must
// be on the graph's device (an op given tensors of another device fails,
// naming the op and both devices). Backward: ops with a device backward
// record nodes that run CUDA twins (grads are device buffers: arena ones for
// activations, the trainer's for parameters); an op without one whose input
// requires grad fails with SILT_ERR_UNSUPPORTED ("backward on cuda not yet
// for this op"). NULL (last error set) when CUDA is unavailable.
silt_graph *silt_graph_create_on(silt_device device, size_t arena_block_bytes);
silt_device silt_graph_device(const silt_graph *g);
void silt_graph_free(silt_graph *g);
void silt_graph_reset(silt_graph *g);  // drop activations, tape and status
void silt_graph_set_grad(silt_graph *g, bool enabled);  // default: enabled
bool silt_graph_grad_enabled(const silt_graph *g);
silt_arena *silt_graph_arena(silt_graph *g);
silt_status silt_graph_status(const silt_graph *g);
// Sets the sticky status (keeps the first failure) and returns it.
silt_status silt_graph_fail(silt_graph *g, silt_status s);

// New activation tensor in the arena (uninitialised; f32 unless stated).
silt_tensor *silt_graph_tensor(silt_graph *g, silt_dtype dtype, int ndim, const int64_t *shape);
silt_tensor *silt_graph_tensor_f32(silt_graph *g, int ndim, const int64_t *shape);
// Convenience: an arena tensor with shape (d0[, d1[, d2[, d3]]]); pass 0 for unused dims.
silt_tensor *silt_graph_new(silt_graph *g, int64_t d0, int64_t d1, int64_t d2, int64_t d3);
// A view of t with another shape (same numel, shares data and grad storage is
// separate: the view gets its own grad and a node that adds it back to t).
silt_tensor *silt_reshape(silt_graph *g, silt_tensor *t, int ndim, const int64_t *shape);

// Checks that t is f32 on the cpu and g a CPU graph (what the CPU-only ops
// take); otherwise fails the graph with SILT_ERR_UNSUPPORTED naming the op,
// and returns that status.
silt_status silt_graph_check_f32(silt_graph *g, const char *op, const silt_tensor *t);

// For ops with a device path: checks that t is f32 and on the graph's device;
// otherwise fails the graph (SILT_ERR_UNSUPPORTED for a dtype or device
// mismatch, naming the op and the devices) and returns that status.
silt_status silt_graph_check_dev(silt_graph *g, const char *op, const silt_tensor *t);
// For ops that exist only on a CUDA graph (the bf16-activation inference ops):
// fails a graph on another device (SILT_ERR_UNSUPPORTED, "<op>: a CUDA graph
// only (this one is on cpu)") and returns that status.
silt_status silt_graph_require_cuda(silt_graph *g, const char *op);
// Ends a device op: with s != SILT_OK fails the graph with s and returns
// NULL; returns NULL too when the graph has failed (e.g. an input asked for
// grad), else out. Device ops call silt_graph_needs_grad first, then this.
silt_tensor *silt_graph_done(silt_graph *g, silt_status s, silt_tensor *out);
// A new graph tensor on the graph's device holding a copy of `host` (host
// memory, numel * dtype size bytes): a memcpy on a CPU graph, an upload on a
// CUDA graph. For the host-side arrays model code computes (timesteps'
// sinusoids, position tables, class ids, per-head weights).
silt_tensor *silt_graph_upload(silt_graph *g, silt_dtype dtype, int ndim, const int64_t *shape, const void *host);
// Host array -> graph-device buffer of `bytes` (the same pointer on a CPU
// graph; an arena copy on a CUDA graph). For small option arrays (attention
// masks and SoftPAG weights, blur taps) a device kernel reads. NULL (status
// set) on failure.
const void *silt_graph_device_copy(silt_graph *g, const void *host, size_t bytes);

// True when an op with these inputs must record a backward node; the output
// then has requires_grad set by the op. On a CUDA graph it fails the graph
// (SILT_ERR_UNSUPPORTED) and returns false: for ops with no device backward.
bool silt_graph_needs_grad(const silt_graph *g, const silt_tensor *a, const silt_tensor *b, const silt_tensor *c);
// The same test on any device, never failing: for ops whose backward node
// handles the graph's device (CUDA twins on a CUDA graph).
bool silt_graph_wants_grad(const silt_graph *g, const silt_tensor *a, const silt_tensor *b, const silt_tensor *c);
// Runs a backward kernel on the graph's device: name##_cuda (returns a
// status) on a CUDA graph, name##_cpu (void) otherwise; both take the same
// arguments (the twin convention). Evaluates to a silt_status.
#define SILT_GRAPH_BWD(g, name, ...) \
    (silt_graph_device(g) == SILT_CUDA ? name##_cuda(__VA_ARGS__) : (name##_cpu(__VA_ARGS__), SILT_OK))
// Reserves `bytes` on the tape for a node run by fn; the op fills it in.
void *silt_graph_record(silt_graph *g, silt_backward_fn fn, size_t bytes);
// The grad buffer of t (f32, numel), zero-filled from the arena on first use
// (parameters own theirs); on a CUDA graph a device buffer from the device
// arena. NULL when t does not require grad.
float *silt_graph_grad(silt_graph *g, silt_tensor *t);

// Backward from `out`: its grad is seeded with `seed` (numel floats) or with
// ones when seed is NULL (use that for a scalar loss). Runs every recorded node
// in reverse order. `seed` is host memory on either device.
silt_status silt_backward(silt_graph *g, silt_tensor *out, const float *seed);

int silt_graph_tape_length(const silt_graph *g);

// A scratch buffer owned by the graph for the duration of ONE kernel call
// (im2col tiles, attention tiles): grown on demand, kept across steps, never
// in the arena (so it does not pile up per layer). Valid until the next call
// to silt_graph_scratch; NULL (status set) when out of memory.
void *silt_graph_scratch(silt_graph *g, size_t bytes);
// The same on the graph's device (device memory on a CUDA graph, kept across
// steps, freed with the graph; on a CPU graph it is silt_graph_scratch).
void *silt_graph_device_scratch(silt_graph *g, size_t bytes);

#endif
