// The CUDA API in a CPU-only build (SILT_CUDA=OFF or no nvcc): nothing is
// available, every fallible call returns SILT_ERR_UNSUPPORTED, so callers
// need no #ifdef. silt_cuda_describe succeeds: "not built with CUDA" is an
// answer, not an error.
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "cuda/cuda.h"

#define NO_CUDA() SILT_FAIL(SILT_ERR_UNSUPPORTED, "silt was built without CUDA")

bool silt_cuda_built(void) { return false; }
bool silt_cuda_available(void) { return false; }
int silt_cuda_device_count(void) { return 0; }

silt_status silt_cuda_describe(char *buf, size_t n) {
    if (!buf || n == 0) return SILT_FAIL(SILT_ERR_ARG, "silt_cuda_describe: empty buffer");
    snprintf(buf, n, "not built with CUDA");
    return SILT_OK;
}

bool silt_cuda_set_allow_tf32(bool allow) { return false; }

silt_status silt_cuda_malloc(void **p, size_t bytes) { return NO_CUDA(); }
void silt_cuda_free(void *p) {}
silt_status silt_cuda_grow(void **buf, size_t *bytes, size_t need) { return NO_CUDA(); }
silt_status silt_cuda_memcpy_h2d(void *dst, const void *src, size_t bytes) { return NO_CUDA(); }
silt_status silt_cuda_memcpy_d2h(void *dst, const void *src, size_t bytes) { return NO_CUDA(); }
silt_status silt_cuda_memcpy_d2d(void *dst, const void *src, size_t bytes) { return NO_CUDA(); }
silt_status silt_cuda_memset(void *p, int v, size_t bytes) { return NO_CUDA(); }
silt_status silt_cuda_sync(void) { return NO_CUDA(); }

silt_tensor *silt_tensor_create_cuda(silt_dtype dtype, int ndim, const int64_t *shape) {
    NO_CUDA();
    return NULL;
}
silt_status silt_tensor_to_cuda(const silt_tensor *host, silt_tensor **out) { return NO_CUDA(); }
silt_status silt_tensor_to_cpu(const silt_tensor *dev, silt_tensor **out) { return NO_CUDA(); }

void silt_tensor_free_cuda(silt_tensor *t) {
    if (!t) return;
    if (t->device == SILT_CPU) silt_tensor_free(t);
    else free(t);  // no device memory can exist in this build: only the header is ours
}

silt_status silt_cuda_event_create(silt_cuda_event **e) { return NO_CUDA(); }
void silt_cuda_event_free(silt_cuda_event *e) {}
silt_status silt_cuda_event_record(silt_cuda_event *e) { return NO_CUDA(); }
silt_status silt_cuda_event_elapsed_ms(silt_cuda_event *start, silt_cuda_event *end, float *ms) { return NO_CUDA(); }

silt_status matmul_fwd_cuda(float *out, const float *a, const float *b, int64_t batch, int64_t M, int64_t N, int64_t K,
                            bool trans_a, bool trans_b) {
    return NO_CUDA();
}
silt_status matmul_fwd_cuda_bf16(uint16_t *out, const uint16_t *a, const uint16_t *b, int64_t batch, int64_t M,
                                 int64_t N, int64_t K, bool trans_a, bool trans_b) {
    return NO_CUDA();
}
silt_status linear_fwd_cuda(float *out, const float *x, const float *w, const float *bias, int64_t N, int64_t in_f,
                            int64_t out_f) {
    return NO_CUDA();
}
void silt_cuda_linear_paths(uint64_t *lt, uint64_t *plain) {
    if (lt) *lt = 0;
    if (plain) *plain = 0;
}
silt_status gelu_fwd_cuda(float *out, const float *x, int64_t n, int approximate) { return NO_CUDA(); }
silt_status gelu_bf16_fwd_cuda(uint16_t *out, const float *x, int64_t n, int approximate) { return NO_CUDA(); }
silt_status silu_fwd_cuda(float *out, const float *x, int64_t n) { return NO_CUDA(); }
silt_status add_fwd_cuda(float *out, const float *a, const float *b, int64_t n) { return NO_CUDA(); }
silt_status silt_rng_normal_cuda(float *out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset) { return NO_CUDA(); }
silt_status silt_rng_uniform_cuda(float *out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset) { return NO_CUDA(); }

// --- op families: attention, conv, embedding/VQ, resample, shape ------------------
silt_status attention_fwd_cuda(float *out, float *lse, float *scratch, const float *q, const float *k, const float *v,
                               int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D, int64_t Dv,
                               const silt_attn_opts *o) {
    return NO_CUDA();
}
silt_status attention_fwd_cuda_bf16(float *out, float *lse, float *scratch, const float *q, const float *k,
                                    const float *v, int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D,
                                    int64_t Dv, const silt_attn_opts *o) {
    return NO_CUDA();
}
bool attention_bf16_eligible_cuda(const float *out, const float *q, const float *k, const float *v, int64_t D,
                                  int64_t Dv, const silt_attn_opts *o) {
    return false;
}
silt_status attention_qkv_fwd_cuda_bf16(uint16_t *out, const float *qkv, int64_t B, int64_t T, int64_t H,
                                        int64_t Dh, const float *head_u) {
    return NO_CUDA();
}
bool attention_qkv_bf16_eligible_cuda(int64_t Dh) { return false; }
bool silt_cuda_set_attention_bf16(bool allow) { return false; }
bool silt_cuda_attention_bf16(void) { return false; }
int silt_cuda_set_attention_mma_variant(int variant) {
    (void)variant;
    return 2;
}
silt_status attention_bwd_cuda(float *dq, float *dk, float *dv, float *scratch, const float *dout, const float *q,
                               const float *k, const float *v, const float *out, const float *lse, int64_t B,
                               int64_t H, int64_t Tq, int64_t Tk, int64_t D, int64_t Dv, const silt_attn_opts *o) {
    return NO_CUDA();
}

bool silt_cuda_have_cudnn(void) { return false; }
silt_status conv2d_scratch_floats_cuda(int64_t *floats, int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout,
                                       int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
    return NO_CUDA();
}
silt_status conv2d_fwd_cuda(float *out, float *scratch, const float *x, const float *w, const float *bias, int64_t N,
                            int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw, int64_t sh,
                            int64_t sw, int64_t ph, int64_t pw) {
    return NO_CUDA();
}
silt_status conv2d_bwd_cuda(float *dx, float *dw, float *dbias, float *scratch, const float *dout, const float *x,
                            const float *w, int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh,
                            int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
    return NO_CUDA();
}

silt_status embedding_fwd_cuda(float *out, const int32_t *ids, const float *table, int64_t N, int64_t V, int64_t D) {
    return NO_CUDA();
}
silt_status embedding_bwd_cuda(float *dtable, const float *dout, const int32_t *ids, int64_t N, int64_t V, int64_t D) {
    return NO_CUDA();
}
silt_status vq_nearest_cuda(int32_t *idx, const float *z, const float *codebook, int64_t N, int64_t V, int64_t C) {
    return NO_CUDA();
}

silt_status upsample_nearest_fwd_cuda(float *out, const float *x, int64_t nc, int64_t h, int64_t w, int64_t ho,
                                      int64_t wo) {
    return NO_CUDA();
}
silt_status upsample_nearest_bwd_cuda(float *dx, const float *dout, int64_t nc, int64_t h, int64_t w, int64_t ho,
                                      int64_t wo) {
    return NO_CUDA();
}
silt_status upsample_bicubic_fwd_cuda(float *out, const float *x, int64_t nc, int64_t h, int64_t w, int64_t ho,
                                      int64_t wo) {
    return NO_CUDA();
}
silt_status upsample_bicubic_bwd_cuda(float *dx, const float *dout, int64_t nc, int64_t h, int64_t w, int64_t ho,
                                      int64_t wo) {
    return NO_CUDA();
}
silt_status area_downsample_fwd_cuda(float *out, const float *x, int64_t nc, int64_t h, int64_t w, int64_t ho,
                                     int64_t wo) {
    return NO_CUDA();
}
silt_status area_downsample_bwd_cuda(float *dx, const float *dout, int64_t nc, int64_t h, int64_t w, int64_t ho,
                                     int64_t wo) {
    return NO_CUDA();
}

silt_status concat_fwd_cuda(float *out, const float *const *xs, const int64_t *sizes, int n, int64_t outer,
                            int64_t inner) {
    return NO_CUDA();
}
silt_status concat_bwd_cuda(float *const *dxs, const float *dout, const int64_t *sizes, int n, int64_t outer,
                            int64_t inner) {
    return NO_CUDA();
}
silt_status slice_fwd_cuda(float *out, const float *x, int64_t outer, int64_t dim, int64_t inner, int64_t start,
                           int64_t len) {
    return NO_CUDA();
}
silt_status slice_bwd_cuda(float *dx, const float *dout, int64_t outer, int64_t dim, int64_t inner, int64_t start,
                           int64_t len) {
    return NO_CUDA();
}
silt_status permute_fwd_cuda(float *out, const float *x, int ndim, const int64_t *xshape, const int *perm) {
    return NO_CUDA();
}
silt_status permute_bwd_cuda(float *dx, const float *dout, int ndim, const int64_t *xshape, const int *perm) {
    return NO_CUDA();
}
silt_status pad2d_fwd_cuda(float *out, const float *x, int64_t nc, int64_t h, int64_t w, int64_t left, int64_t right,
                           int64_t top, int64_t bottom) {
    return NO_CUDA();
}
silt_status pad2d_bwd_cuda(float *dx, const float *dout, int64_t nc, int64_t h, int64_t w, int64_t left, int64_t right,
                           int64_t top, int64_t bottom) {
    return NO_CUDA();
}

// cuda/ops_norm.h
silt_status layernorm_fwd_cuda(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b,
                               int64_t N, int64_t C, float eps) {
    return NO_CUDA();
}
int64_t layernorm_bwd_cuda_scratch_floats(int64_t N, int64_t C) { return 0; }
silt_status layernorm_bwd_cuda(float *dx, float *dw, float *db, float *scratch, const float *dout, const float *x,
                               const float *mean, const float *rstd, const float *w, int64_t N, int64_t C) {
    return NO_CUDA();
}
silt_status rmsnorm_fwd_cuda(float *out, float *rstd, const float *x, const float *w, int64_t N, int64_t C, float eps) {
    return NO_CUDA();
}
int64_t rmsnorm_bwd_cuda_scratch_floats(int64_t N, int64_t C) { return 0; }
silt_status rmsnorm_bwd_cuda(float *dx, float *dw, float *scratch, const float *dout, const float *x, const float *rstd,
                             const float *w, int64_t N, int64_t C) {
    return NO_CUDA();
}
silt_status groupnorm_fwd_cuda(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b,
                               int64_t N, int64_t C, int64_t HW, int64_t G, float eps) {
    return NO_CUDA();
}
silt_status groupnorm_bwd_cuda(float *dx, float *dw, float *db, const float *dout, const float *x, const float *mean,
                               const float *rstd, const float *w, int64_t N, int64_t C, int64_t HW, int64_t G) {
    return NO_CUDA();
}
silt_status l2norm_fwd_cuda(float *out, float *norm, const float *x, int64_t N, int64_t C, float eps) { return NO_CUDA(); }
silt_status l2norm_bwd_cuda(float *dx, const float *dout, const float *x, const float *norm, int64_t N, int64_t C,
                            float eps) {
    return NO_CUDA();
}

// cuda/ops_softmax.h
silt_status softmax_fwd_cuda(float *out, const float *x, int64_t N, int64_t C) { return NO_CUDA(); }
silt_status softmax_bwd_cuda(float *dx, const float *dout, const float *out, int64_t N, int64_t C) { return NO_CUDA(); }

// cuda/ops_modulate.h
silt_status modulate_fwd_cuda(float *out, const float *x, const float *shift, const float *scale, int64_t B, int64_t T,
                              int64_t C) {
    return NO_CUDA();
}
silt_status modulate_bwd_cuda(float *dx, float *dshift, float *dscale, const float *dout, const float *x,
                              const float *scale, int64_t B, int64_t T, int64_t C) {
    return NO_CUDA();
}
silt_status ln_modulate_bf16_fwd_cuda(uint16_t *out, const float *x, const float *shift, const float *scale, int64_t B,
                                      int64_t T, int64_t C, float eps) {
    return NO_CUDA();
}
silt_status gated_add_fwd_cuda(float *out, const float *x, const float *gate, const float *y, int64_t B, int64_t T,
                               int64_t C) {
    return NO_CUDA();
}
silt_status gated_add_bwd_cuda(float *dx, float *dgate, float *dy, const float *dout, const float *gate, const float *y,
                               int64_t B, int64_t T, int64_t C) {
    return NO_CUDA();
}

// cuda/ops_elementwise.h
silt_status gelu_bwd_cuda(float *dx, const float *dout, const float *x, int64_t n, int approximate) { return NO_CUDA(); }
silt_status silu_bwd_cuda(float *dx, const float *dout, const float *x, int64_t n) { return NO_CUDA(); }
silt_status tanh_fwd_cuda(float *out, const float *x, int64_t n) { return NO_CUDA(); }
silt_status tanh_bwd_cuda(float *dx, const float *dout, const float *y, int64_t n) { return NO_CUDA(); }
silt_status sigmoid_fwd_cuda(float *out, const float *x, int64_t n) { return NO_CUDA(); }
silt_status sigmoid_bwd_cuda(float *dx, const float *dout, const float *y, int64_t n) { return NO_CUDA(); }
silt_status scale_fwd_cuda(float *out, const float *x, float s, int64_t n) { return NO_CUDA(); }
silt_status scale_bwd_cuda(float *dx, const float *dout, float s, int64_t n) { return NO_CUDA(); }
silt_status add_scalar_fwd_cuda(float *out, const float *x, float s, int64_t n) { return NO_CUDA(); }
silt_status clamp_fwd_cuda(float *out, const float *x, int64_t n, float lo, float hi) { return NO_CUDA(); }
silt_status clamp_bwd_cuda(float *dx, const float *dout, const float *x, int64_t n, float lo, float hi) {
    return NO_CUDA();
}
silt_status binary_fwd_cuda(float *out, const float *a, const float *b, const int64_t shape[4],
                            const int64_t astride[4], const int64_t bstride[4], silt_binop op) {
    return NO_CUDA();
}
silt_status binary_bwd_cuda(float *da, float *db, const float *dout, const float *a, const float *b,
                            const int64_t shape[4], const int64_t astride[4], const int64_t bstride[4], silt_binop op) {
    return NO_CUDA();
}

// cuda/ops_reduce.h
silt_status sum_fwd_cuda(float *out, const float *x, int64_t n) { return NO_CUDA(); }
silt_status mean_fwd_cuda(float *out, const float *x, int64_t n) { return NO_CUDA(); }
silt_status sum_bwd_cuda(float *dx, const float *dout, int64_t n, float scale) { return NO_CUDA(); }
silt_status sum_dim_fwd_cuda(float *out, const float *x, int64_t outer, int64_t dim, int64_t inner) { return NO_CUDA(); }
silt_status mean_dim_fwd_cuda(float *out, const float *x, int64_t outer, int64_t dim, int64_t inner) { return NO_CUDA(); }
silt_status sum_dim_bwd_cuda(float *dx, const float *dout, int64_t outer, int64_t dim, int64_t inner, float scale) {
    return NO_CUDA();
}
silt_status mse_loss_fwd_cuda(float *out, const float *a, const float *b, int64_t n) { return NO_CUDA(); }
silt_status mse_loss_bwd_cuda(float *da, float *db, const float *dout, const float *a, const float *b, int64_t n) {
    return NO_CUDA();
}

silt_status linear_fwd_cuda_bf16w(float *out, uint16_t *xb, const float *x, const uint16_t *w, const float *bias,
                                  int64_t N, int64_t in_f, int64_t out_f) {
    return NO_CUDA();
}
silt_status linear_fwd_cuda_bf16(float *out, const uint16_t *xb, const uint16_t *w, const float *bias, int64_t N,
                                 int64_t in_f, int64_t out_f) {
    return NO_CUDA();
}
silt_status linear_gelu_fwd_cuda_bf16(uint16_t *out, float *scratch, const uint16_t *xb, const uint16_t *w,
                                      const float *bias, int64_t N, int64_t in_f, int64_t out_f) {
    return NO_CUDA();
}
silt_status silt_tensor_cuda_to_bf16(silt_tensor *t) { return NO_CUDA(); }

// --- cuda/ops_dit.h ---------------------------------------------------------------
silt_status silt_tensor_move_to_cuda(silt_tensor *t) { return NO_CUDA(); }
silt_status dit_split_qkv_fwd_cuda(float *q, float *k, float *v, const float *qkv, int64_t B, int64_t T, int64_t H,
                                   int64_t Dh) {
    return NO_CUDA();
}
silt_status dit_merge_heads_bf16_fwd_cuda(uint16_t *out, const float *a, int64_t B, int64_t H, int64_t T, int64_t Dh) {
    return NO_CUDA();
}
silt_status dit_head_mix_fwd_cuda(float *out, const float *a, const float *tgt, const float *u, int64_t B, int64_t H,
                                  int64_t T, int64_t Dv, int64_t rb, int64_t R, int64_t Tt) {
    return NO_CUDA();
}
silt_status dit_seg_blur_fwd_cuda(float *out, float *tmp, const float *x, const float *sel, int64_t R, int64_t H,
                                  int gh, int gw, int64_t D, const float *wi, int ki, const float *wj, int kj) {
    return NO_CUDA();
}
silt_status dit_patch_gather_fwd_cuda(float *patches, const float *x, int64_t B, int64_t C, int64_t h, int64_t w,
                                      int64_t p) {
    return NO_CUDA();
}
silt_status dit_unpatchify_fwd_cuda(float *out, const float *x, int64_t B, int64_t h, int64_t w, int64_t p,
                                    int64_t C) {
    return NO_CUDA();
}

// cuda/ops_train.h
silt_status matmul_bwd_cuda(float *da, float *db, const float *dout, const float *a, const float *b, int64_t batch,
                            int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b) { return NO_CUDA(); }
silt_status linear_bwd_cuda(float *dx, float *dw, float *dbias, const float *dout, const float *x, const float *w,
                            int64_t N, int64_t in_f, int64_t out_f) { return NO_CUDA(); }
silt_status adamw_step_cuda(float *p, float *m, float *v, const float *g, int64_t n, float step_size, float bc2_sqrt,
                            float decay, bool decay_on, float w1, float b2, float w2, float eps) { return NO_CUDA(); }
silt_status sumsq_acc_cuda(double *acc, double *partials, const float *x, int64_t n) { return NO_CUDA(); }
silt_status ema_update_cuda(float *ema, const float *p, int64_t n, float w) { return NO_CUDA(); }

// cuda/ops_var.h
silt_status var_kv_append_fwd_cuda(float *all, float *cache, const float *x, int64_t RH, int64_t cap, int64_t len,
                                   int64_t T, int64_t D) {
    return NO_CUDA();
}
silt_status var_clamp_exp_fwd_cuda(float *out, const float *x, float max, int64_t n) { return NO_CUDA(); }
silt_status var_clamp_exp_bwd_cuda(float *dx, const float *dout, const float *x, const float *out, float max, int64_t n) {
    return NO_CUDA();
}
silt_status var_ce_fwd_cuda(float *out, double *acc, float *prob, double *rows, const float *logits,
                            const int32_t *targets, int64_t N, int64_t V) {
    return NO_CUDA();
}
silt_status var_ce_bwd_cuda(float *dlogits, const float *dout, const float *prob, const int32_t *targets, int64_t N,
                            int64_t V) {
    return NO_CUDA();
}

// cuda/ops_clip.h
silt_status wclip_infonce_fwd_cuda(float *out, float *prow, float *pcol, double *terms, const float *sim,
                                   const float *logit_scale, int64_t B, int64_t M) {
    return NO_CUDA();
}
silt_status wclip_infonce_bwd_cuda(float *dsim, float *dls, const float *dout, const float *sim, const float *prow,
                                   const float *pcol, const float *logit_scale, int64_t B, int64_t M) {
    return NO_CUDA();
}

// cuda/ops_sample.h
silt_status sampler_update_cuda(const sampler_update *u, float *x, const float *mo, const float *z, float *prev) {
    return NO_CUDA();
}
silt_status flow_pair_cuda(float *xt, float *target, const float *z, const float *sig, int64_t B, int64_t per,
                           double shift, double scale, uint64_t seed, uint64_t stream0) {
    return NO_CUDA();
}
silt_status guide_combine_fwd_cuda(float *out, const float *pred, int64_t batch, int64_t row, int64_t out_row,
                                   int64_t guided, int blk_cond, int blk_uncond, int blk_perturbed, float cfg,
                                   float scale) {
    return NO_CUDA();
}

// cuda/ops_train.h multi-tensor launches
silt_status silt_multi_list_set(silt_multi_list **l, const silt_multi_entry *e, int count) { return NO_CUDA(); }
void silt_multi_list_free(silt_multi_list *l) { (void)l; }
silt_status adamw_multi_cuda(const silt_multi_list *l, float step_size, float bc2_sqrt, float decay, float w1,
                             float b2, float w2, float eps) {
    return NO_CUDA();
}
silt_status ema_multi_cuda(const silt_multi_list *l, float w) { return NO_CUDA(); }
silt_status zero_multi_cuda(const silt_multi_list *l) { return NO_CUDA(); }
