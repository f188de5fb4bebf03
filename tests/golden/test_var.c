// Golden parity of VAR (var/vqvae.h, var/var.h) against the official
// FoundationVision/VAR code @ 78b9539 (tests/golden/make_golden_var.py): the
// multi-scale VQ-VAE (encode to indices, decode, teacher-forcing input, the
// phi scale tables), the transformer's teacher-forced logits, and a full
// autoregressive_infer_cfg pass replaying the reference's sampled tokens.
// Plus: KV-cached sampling vs the teacher-forced forward, Philox sampling
// determinism, top-k/top-p masks, loader and compatibility errors on
// deliberately broken copies, and finite-difference gradients.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/ops_attention.h"
#include "core/safetensors.h"
#include "gradcheck.h"
#include "var/var.h"
#include "var/vqvae.h"

#define GOLDEN "tests/golden/"

static char tmpdir[64];

// max|got - ref| <= 1e-4 * max|ref| (tests/golden/README.md).
static void check_buf(const char *what, const float *got, const silt_st_tensor *ref, int64_t n) {
    CHECK_MSG(got && ref, "%s: missing output (%s)", what, silt_last_error());
    if (!got || !ref) return;
    int64_t rn = 1;
    for (int i = 0; i < ref->ndim; i++) rn *= ref->shape[i];
    CHECK_MSG(rn == n, "%s: %lld values, reference has %lld", what, (long long)n, (long long)rn);
    if (rn != n) return;
    float *r = malloc((size_t)n * sizeof(float));
    CHECK_OK(silt_safetensors_read_f32(ref, r, n));
    double max_ref = 0, max_err = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - r[i]);
        if (!(d <= max_err)) max_err = d;
        if (fabs(r[i]) > max_ref) max_ref = fabs(r[i]);
    }
    double tol = 1e-4 * max_ref;
    printf("  %-28s max_err %.3g  max|ref| %.3g  (%.2f%% of tol)\n", what, max_err, max_ref, 100 * max_err / tol);
    CHECK_MSG(max_err <= tol, "%s: max_err %.3g > %.3g", what, max_err, tol);
    free(r);
}

static void check_tensor(const char *what, const silt_tensor *got, const silt_st_tensor *ref) {
    CHECK_MSG(got != NULL, "%s: no output (%s)", what, silt_last_error());
    if (!got || !ref) return;
    bool same = got->ndim == ref->ndim;
    for (int i = 0; same && i < got->ndim; i++) same = got->shape[i] == ref->shape[i];
    CHECK_MSG(same, "%s: shape mismatch", what);
    if (same) check_buf(what, silt_f32(got), ref, silt_numel(got));
}

static const silt_st_tensor *io_get(const silt_safetensors *io, const char *name) {
    const silt_st_tensor *t = silt_safetensors_find(io, name);
    CHECK_MSG(t != NULL, "io tensor %s missing", name);
    return t;
}

// int32 tensor -> malloc'd copy (the file's data may be unaligned).
static int32_t *io_i32(const silt_safetensors *io, const char *name, int64_t *n) {
    const silt_st_tensor *t = io_get(io, name);
    if (!t || t->dtype != SILT_ST_I32) return NULL;
    int32_t *out = malloc(t->nbytes ? t->nbytes : 1);
    memcpy(out, t->data, t->nbytes);
    if (n) *n = (int64_t)(t->nbytes / 4);
    return out;
}

static silt_tensor *io_f32(silt_graph *g, const silt_safetensors *io, const char *name) {
    const silt_st_tensor *t = io_get(io, name);
    if (!t) return NULL;
    silt_tensor *x = silt_graph_tensor_f32(g, t->ndim, t->shape);
    if (x) CHECK_OK(silt_safetensors_read_f32(t, silt_f32(x), silt_numel(x)));
    return x;
}

static silt_safetensors *open_st(const char *path) {
    silt_safetensors *st = NULL;
    CHECK_OK(silt_safetensors_open(path, &st));
    return st;
}

static var_vqvae *load_vq(const char *path) {
    silt_safetensors *st = open_st(path);
    var_vqvae *vq = NULL;
    if (st) CHECK_OK(var_vq_load(st, &vq));
    silt_safetensors_close(st);
    return vq;
}

static var_model *load_var(const char *path) {
    silt_safetensors *st = open_st(path);
    var_model *m = NULL;
    if (st) CHECK_OK(var_load(st, &m));
    silt_safetensors_close(st);
    return m;
}

// --- tokenizer -------------------------------------------------------------------------------

static void test_phi_tables(const silt_safetensors *io) {
    int64_t n = 0;
    int32_t *tab = io_i32(io, "phi_table", &n);
    if (!tab || n != 6 * 15 * 16) { CHECK_MSG(0, "phi_table shape"); free(tab); return; }
    int bad = 0;
    for (int np = 1; np <= 6; np++)
        for (int K = 2; K <= 16; K++)
            for (int si = 0; si < 16; si++) {
                int want = tab[((np - 1) * 15 + (K - 2)) * 16 + si];
                int got = var_phi_index(si, K, np);
                if (got != want) {
                    if (bad++ < 5) fprintf(stderr, "phi n=%d K=%d si=%d: got %d want %d\n", np, K, si, got, want);
                }
            }
    CHECK_MSG(bad == 0, "%d phi table entries differ from quant.py", bad);
    // The release (4 phis, 10 scales): si = 7 is a float tie that numpy gives to phi 3.
    static const int rel[10] = {0, 0, 1, 1, 1, 2, 2, 3, 3, 3};
    for (int si = 0; si < 10; si++) CHECK(var_phi_index(si, 10, 4) == rel[si]);
    CHECK(var_phi_index(10, 10, 4) == -1 && var_phi_index(0, 1, 4) == -1);
    free(tab);
}

static void test_vq(void) {
    printf("var_vq\n");
    var_vqvae *vq = load_vq(GOLDEN "var_vq.model.safetensors");
    silt_safetensors *io = open_st(GOLDEN "var_vq.io.safetensors");
    if (!vq || !io) { var_vq_free(vq); silt_safetensors_close(io); return; }
    const var_vq_config *c = var_vq_get_config(vq);
    CHECK(c->vocab_size == 32 && c->z_channels == 8 && c->in_channels == 3 && c->ch == 8 && c->n_levels == 3);
    CHECK(c->ch_mult[0] == 1 && c->ch_mult[1] == 2 && c->ch_mult[2] == 2 && c->num_res_blocks == 2 && c->groups == 4);
    CHECK(c->using_sa && c->using_mid_sa && c->quant_conv_ks == 3 && c->quant_resi == 0.5f && c->downsample == 4);
    CHECK(c->phi_share == VAR_PHI_PARTIAL && c->n_phi == 4 && c->n_scales == 5 && c->L == 66);
    CHECK(c->patch_nums[0] == 1 && c->patch_nums[3] == 4 && c->patch_nums[4] == 6);
    test_phi_tables(io);

    silt_graph *g = silt_graph_create(0);
    silt_graph_set_grad(g, false);
    int64_t B = 2, L = c->L, n = 0;
    // Encode: image -> f -> per-scale indices (exact) and f_hat after each scale.
    silt_tensor *img = io_f32(g, io, "image");
    silt_tensor *f = var_vq_encode_features(g, vq, img);
    check_tensor("encode f", f, io_get(io, "f"));
    int32_t *want = io_i32(io, "idx", &n), idx[2 * 66], idx2[2 * 66];
    float *fhs = malloc((size_t)(5 * B * 8 * 36) * sizeof(float));
    CHECK_OK(var_vq_quantize(g, vq, f, idx, fhs));
    check_buf("encode fhat per scale", fhs, io_get(io, "fhat_scales"), 5 * B * 8 * 36);
    CHECK_OK(var_vq_encode(g, vq, img, idx2));
    int diff = 0;
    for (int64_t i = 0; want && i < B * L; i++) diff += idx[i] != want[i] || idx2[i] != want[i];
    printf("  encode idx: %d of %lld differ\n", diff, (long long)(B * L));
    CHECK_MSG(want && n == B * L && diff == 0, "encode indices differ from img_to_idxBl in %d places", diff);
    free(want);
    free(fhs);

    // Decode and teacher-forcing input from independent random indices.
    int32_t *dec = io_i32(io, "idx_dec", &n);
    if (dec) {
        check_tensor("decode fhat", var_vq_idx_to_fhat(g, vq, dec, B), io_get(io, "fhat_dec"));
        check_tensor("decode image", var_vq_decode(g, vq, dec, B), io_get(io, "image_dec"));
        check_tensor("idxBl_to_var_input", var_vq_idx_to_var_input(g, vq, dec, B), io_get(io, "var_input"));
        // get_next_autoregressive_input step by step gives the same f_hat.
        silt_tensor *fh = silt_graph_new(g, B, 8, 6, 6), *next = NULL;
        memset(fh->data, 0, silt_nbytes(fh));
        int32_t tok[2 * 36];
        for (int si = 0, begin = 0; si < 5 && fh; si++) {
            int pn = c->patch_nums[si];
            for (int b = 0; b < B; b++) memcpy(tok + b * pn * pn, dec + b * L + begin, (size_t)(pn * pn) * 4);
            fh = var_vq_next_input(g, vq, si, fh, var_vq_embed(g, vq, tok, B, pn), &next);
            CHECK(next && next->shape[2] == (si < 4 ? c->patch_nums[si + 1] : 6));
            begin += pn * pn;
        }
        check_tensor("next_input f_hat", fh, io_get(io, "fhat_dec"));
        // A bad index is an error naming it.
        dec[5] = 32;
        CHECK(var_vq_decode(g, vq, dec, B) == NULL && silt_graph_status(g) == SILT_ERR_ARG);
        CHECK_MSG(strstr(silt_last_error(), "id 32"), "%s", silt_last_error());
        silt_graph_reset(g);
        free(dec);
    }
    // Wrong image size.
    silt_tensor *small = silt_graph_new(g, 1, 3, 16, 16);
    memset(small->data, 0, silt_nbytes(small));
    CHECK(var_vq_encode(g, vq, small, idx) == SILT_ERR_SHAPE);
    CHECK_MSG(strstr(silt_last_error(), "24"), "%s", silt_last_error());
    silt_graph_free(g);
    silt_safetensors_close(io);
    var_vq_free(vq);
}

// --- transformer ----------------------------------------------------------------------------------

typedef struct replay {
    const silt_safetensors *io;
    float *ref_logits;  // (B, L, V)
    int32_t *ref_idx;   // (B, L)
    int64_t L, V;
    int64_t begin;
    double max_err, max_ref;
    int calls;
} replay;

// Compares the sampler's CFG logits of each scale with the reference's and
// hands it the reference's tokens.
static silt_status replay_fn(void *user, int si, int64_t B, int64_t l, int64_t V, const float *logits, int32_t *idx) {
    replay *r = user;
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < l; j++) {
            const float *ref = r->ref_logits + ((b * r->L) + r->begin + j) * V, *got = logits + (b * l + j) * V;
            for (int64_t v = 0; v < V; v++) {
                double d = fabs((double)got[v] - ref[v]);
                if (!(d <= r->max_err)) r->max_err = d;
                if (fabs(ref[v]) > r->max_ref) r->max_ref = fabs(ref[v]);
            }
            idx[b * l + j] = r->ref_idx[b * r->L + r->begin + j];
        }
    r->begin += l;
    r->calls++;
    (void)si;
    return SILT_OK;
}

static void test_sampling_replay(const var_model *m, const var_vqvae *vq, const silt_safetensors *io, const char *name) {
    const var_config *c = var_get_config(m);
    int64_t B = 2, L = c->L, V = c->vocab_size, n;
    const silt_st_tensor *lt = io_get(io, "sample_logits");
    replay r = {io, malloc((size_t)(B * L * V) * sizeof(float)), io_i32(io, "sample_idx", &n), L, V, 0, 0, 0, 0};
    if (lt) CHECK_OK(silt_safetensors_read_f32(lt, r.ref_logits, B * L * V));
    int32_t *labels = io_i32(io, "sample_label", NULL);
    var_sample_params p = var_sample_default_params();
    p.cfg = (float)atof(silt_safetensors_metadata(io, "cfg"));
    p.top_k = atoi(silt_safetensors_metadata(io, "top_k"));
    p.top_p = (float)atof(silt_safetensors_metadata(io, "top_p"));
    p.token_fn = replay_fn;
    p.token_user = &r;
    float *img = malloc((size_t)(B * 3 * 24 * 24) * sizeof(float));
    int32_t *idx = malloc((size_t)(B * L) * sizeof(int32_t));
    CHECK_OK(var_generate(m, vq, labels, B, &p, img, idx));
    char what[64];
    snprintf(what, sizeof what, "%s sample logits", name);
    double tol = 1e-4 * r.max_ref;
    printf("  %-28s max_err %.3g  max|ref| %.3g  (%.2f%% of tol)\n", what, r.max_err, r.max_ref, 100 * r.max_err / tol);
    CHECK_MSG(r.calls == c->n_scales && r.max_err <= tol, "%s: %d calls, max_err %.3g > %.3g", what, r.calls, r.max_err, tol);
    snprintf(what, sizeof what, "%s sample image", name);
    check_buf(what, img, io_get(io, "sample_image"), B * 3 * 24 * 24);
    CHECK(r.ref_idx && !memcmp(idx, r.ref_idx, (size_t)(B * L) * sizeof *idx));

    // The top-k/top-p mask the reference applied to those logits.
    int32_t *keep = io_i32(io, "sample_keep", NULL);
    double *work = malloc((size_t)(2 * V) * sizeof(double));
    var_top_k_top_p_cpu(r.ref_logits, work, B * L, V, p.top_k, p.top_p);
    int diff = 0, kept = 0;
    for (int64_t i = 0; keep && i < B * L * V; i++) {
        diff += (isfinite(r.ref_logits[i]) ? 1 : 0) != keep[i];
        kept += keep[i];
    }
    printf("  %s top-k/top-p mask: %d of %lld differ (%d kept)\n", name, diff, (long long)(B * L * V), kept);
    CHECK_MSG(keep && diff == 0, "%s: top-k/top-p mask differs in %d places", name, diff);
    free(work);
    free(keep);
    free(labels);
    free(img);
    free(idx);
    free(r.ref_logits);
    free(r.ref_idx);
}

// Records what the sampler saw, without changing its choice.
typedef struct record {
    float *logits;  // (B, L, V)
    int64_t L, begin;
} record;

static silt_status record_fn(void *user, int si, int64_t B, int64_t l, int64_t V, const float *logits, int32_t *idx) {
    record *r = user;
    for (int64_t b = 0; b < B; b++)
        memcpy(r->logits + (b * r->L + r->begin) * V, logits + b * l * V, (size_t)(l * V) * sizeof(float));
    r->begin += l;
    (void)si;
    (void)idx;
    return SILT_OK;
}

// With cfg 0 the sampler's logits are the conditional model's: the KV-cached
// pass must equal the teacher-forced forward on the tokens it drew.
static void test_cache_vs_forward(const var_model *m, const var_vqvae *vq, const char *name) {
    const var_config *c = var_get_config(m);
    int64_t B = 3, L = c->L, V = c->vocab_size;
    int32_t labels[3] = {4, c->num_classes, 0};
    record r = {malloc((size_t)(B * L * V) * sizeof(float)), L, 0};
    var_sample_params p = var_sample_default_params();
    p.cfg = 0;
    p.top_k = 0;
    p.top_p = 0;
    p.seed = 5;
    p.token_fn = record_fn;
    p.token_user = &r;
    float *img = malloc((size_t)(B * 3 * 24 * 24) * sizeof(float));
    int32_t *idx = malloc((size_t)(B * L) * sizeof(int32_t)), *idx2 = malloc((size_t)(B * L) * sizeof(int32_t));
    CHECK_OK(var_generate(m, vq, labels, B, &p, img, idx));
    silt_graph *g = silt_graph_create(0);
    silt_graph_set_grad(g, false);
    silt_tensor *lg = var_forward(g, m, labels, B, var_vq_idx_to_var_input(g, vq, idx, B));
    CHECK_MSG(lg != NULL, "%s", silt_last_error());
    if (lg) {
        char what[64];
        snprintf(what, sizeof what, "%s cache vs forward", name);
        CHECK_CLOSE(what, r.logits, silt_f32(lg), B * L * V, 1e-4, 1e-5);
    }
    // The image is the decode of the tokens; pixels in [0, 1].
    silt_tensor *dec = var_vq_decode(g, vq, idx, B);
    bool in01 = true, match = dec != NULL;
    for (int64_t i = 0; dec && i < silt_numel(dec); i++) {
        in01 &= img[i] >= 0 && img[i] <= 1;
        match &= fabsf(img[i] - (silt_f32(dec)[i] + 1) * 0.5f) <= 1e-6f;
    }
    CHECK(in01 && match);
    // Philox: the same seed gives the same tokens, another seed other tokens,
    // and a sample depends only on (seed, its row) - not on the batch.
    r.begin = 0;
    CHECK_OK(var_generate(m, vq, labels, B, &p, img, idx2));
    CHECK(!memcmp(idx, idx2, (size_t)(B * L) * sizeof *idx));
    r.begin = 0;
    CHECK_OK(var_generate(m, vq, labels, 1, &p, img, idx2));
    CHECK(!memcmp(idx, idx2, (size_t)L * sizeof *idx));
    p.seed = 6;
    r.begin = 0;
    CHECK_OK(var_generate(m, vq, labels, B, &p, img, idx2));
    CHECK(memcmp(idx, idx2, (size_t)(B * L) * sizeof *idx) != 0);
    silt_graph_free(g);
    free(r.logits);
    free(img);
    free(idx);
    free(idx2);
}

static void test_var(const char *name, bool shared, bool l2, int heads) {
    printf("%s\n", name);
    char path[128];
    snprintf(path, sizeof path, GOLDEN "%s.model.safetensors", name);
    var_model *m = load_var(path);
    var_vqvae *vq = load_vq(GOLDEN "var_vq.model.safetensors");
    snprintf(path, sizeof path, GOLDEN "%s.io.safetensors", name);
    silt_safetensors *io = open_st(path);
    if (!m || !vq || !io) goto out;
    const var_config *c = var_get_config(m);
    CHECK(c->depth == 2 && c->embed_dim == 32 && c->num_heads == heads && c->head_dim == 32 / heads);
    CHECK(c->mlp_hidden == 128 && c->num_classes == 10 && c->vocab_size == 32 && c->Cvae == 8);
    CHECK(c->shared_aln == shared && c->attn_l2_norm == l2 && c->norm_eps == 1e-6f);
    CHECK(c->n_scales == 5 && c->L == 66 && c->first_l == 1 && c->begin[4] == 30 && c->begin[5] == 66);
    CHECK_OK(var_check_vqvae(m, vq));

    silt_graph *g = silt_graph_create(0);
    silt_graph_set_grad(g, false);
    int32_t *label = io_i32(io, "label", NULL);
    char what[64];
    snprintf(what, sizeof what, "%s teacher-forced logits", name);
    check_tensor(what, var_forward(g, m, label, 2, io_f32(g, io, "x_BLCv_wo_first_l")), io_get(io, "logits"));
    // Class ids: num_classes is the null class, anything past it an error.
    label[1] = 11;
    CHECK(var_forward(g, m, label, 2, io_f32(g, io, "x_BLCv_wo_first_l")) == NULL && silt_graph_status(g) == SILT_ERR_ARG);
    CHECK_MSG(strstr(silt_last_error(), "class id 11") && strstr(silt_last_error(), "10 classes"), "%s", silt_last_error());
    free(label);
    silt_graph_free(g);

    test_sampling_replay(m, vq, io, name);
    test_cache_vs_forward(m, vq, name);

    // Generation errors: class ids, parameters, a tokenizer of other scales.
    float img[3 * 24 * 24];
    int32_t bad[2] = {3, -1};
    var_sample_params p = var_sample_default_params();
    CHECK(var_generate(m, vq, bad, 2, &p, img, NULL) == SILT_ERR_ARG);
    CHECK_MSG(strstr(silt_last_error(), "class id -1"), "%s", silt_last_error());
    printf("  expected error: %s\n", silt_last_error_message());
    p.top_p = 1.5f;
    CHECK(var_generate(m, vq, bad, 1, &p, img, NULL) == SILT_ERR_ARG);
    CHECK_OK(var_vq_set_patch_nums(vq, var_patch_nums_256, 10));
    CHECK(var_check_vqvae(m, vq) == SILT_ERR_SHAPE && strstr(silt_last_error(), "1,2,3,4,6"));
    printf("  expected error: %s\n", silt_last_error_message());
    CHECK_OK(var_vq_set_patch_nums(vq, c->patch_nums, c->n_scales));
    CHECK_OK(var_check_vqvae(m, vq));
    CHECK(var_vq_set_patch_nums(vq, (int[]){1}, 1) == SILT_ERR_ARG && var_vq_get_config(vq)->n_scales == 5);
out:
    silt_safetensors_close(io);
    var_vq_free(vq);
    var_free(m);
}

// Hand-worked cases of the sampling kernels: ties, empty masks, the draw.
static void test_sampling_kernels(void) {
    double work[16];
    float a[4] = {1, 2, 2, 0};  // k = 2: the 2nd largest is 2, both 2s stay (ties kept)
    var_top_k_top_p_cpu(a, work, 1, 4, 2, 0);
    CHECK(isinf(a[0]) && a[1] == 2 && a[2] == 2 && isinf(a[3]));
    float b[4] = {2, 2, 1, 0};  // k = 1 keeps every value equal to the max
    var_top_k_top_p_cpu(b, work, 1, 4, 1, 0);
    CHECK(b[0] == 2 && b[1] == 2 && isinf(b[2]) && isinf(b[3]));
    // p = 0.7 over probs (0.1, 0.2, 0.3, 0.4) ascending: cumsum 0.1, 0.3, 0.6, 1 -> drop <= 0.3.
    float c[4] = {logf(0.3f), logf(0.1f), logf(0.4f), logf(0.2f)};
    var_top_k_top_p_cpu(c, work, 1, 4, 0, 0.7f);
    CHECK(isfinite(c[0]) && isinf(c[1]) && isfinite(c[2]) && isinf(c[3]));
    float d[3] = {0.0f, 0.0f, 0.0f};  // p tiny: only the largest survives (the last in sorted order)
    var_top_k_top_p_cpu(d, work, 1, 3, 0, 1e-6f);
    CHECK((d[0] == -INFINITY) + (d[1] == -INFINITY) + (d[2] == -INFINITY) == 2);
    float e[3] = {0.0f, -INFINITY, logf(3.0f)};  // probabilities 0.25, 0, 0.75
    CHECK(var_sample_row(e, 3, 0.0f) == 0 && var_sample_row(e, 3, 0.2f) == 0 && var_sample_row(e, 3, 0.3f) == 2);
    CHECK(var_sample_row(e, 3, 0.999999f) == 2);
}

// --- broken copies ----------------------------------------------------------------------------------

typedef struct edit {
    const char *drop;      // tensor left out
    const char *extra;     // tensor added (a copy of the first tensor)
    const char *reshape;   // tensor written with shape reshape_to (numel <= the original: a prefix of its data)
    int reshape_ndim;
    int64_t reshape_to[4];
    bool drop_metadata;
    const char *config;    // replaces the "config" metadata
} edit;

static silt_safetensors *rewrite(const char *src, const edit *e) {
    silt_safetensors *in = open_st(src), *res = NULL;
    if (!in) return NULL;
    silt_st_writer *w = silt_st_writer_create();
    for (int i = 0; i < silt_safetensors_count(in); i++) {
        const silt_st_tensor *t = silt_safetensors_get(in, i);
        if (e->drop && !strcmp(t->name, e->drop)) continue;
        bool rs = e->reshape && !strcmp(t->name, e->reshape);
        CHECK_OK(silt_st_writer_add(w, t->name, t->dtype, rs ? e->reshape_ndim : t->ndim, rs ? e->reshape_to : t->shape,
                                    t->data));
        if (i == 0 && e->extra) CHECK_OK(silt_st_writer_add(w, e->extra, t->dtype, t->ndim, t->shape, t->data));
    }
    for (int i = 0; !e->drop_metadata && i < silt_safetensors_metadata_count(in); i++) {
        const char *k, *v;
        if (silt_safetensors_metadata_at(in, i, &k, &v) == SILT_OK)
            CHECK_OK(silt_st_writer_set_metadata(w, k, e->config && !strcmp(k, "config") ? e->config : v));
    }
    char path[128];
    snprintf(path, sizeof path, "%s/edit.safetensors", tmpdir);
    CHECK_OK(silt_st_writer_write(w, path));
    silt_st_writer_free(w);
    silt_safetensors_close(in);
    CHECK_OK(silt_safetensors_open(path, &res));
    unlink(path);
    return res;
}

static void expect_err(silt_status s, silt_status want, const char *needle) {
    CHECK_MSG(s == want, "expected %s, got %s (%s)", silt_status_name(want), silt_status_name(s), silt_last_error());
    CHECK_MSG(strstr(silt_last_error(), needle), "error should mention '%s': %s", needle, silt_last_error());
    if (s != SILT_OK) printf("  expected error: %s\n", silt_last_error_message());
}

static var_model *var_edit(const char *src, const edit *e, silt_status want, const char *needle) {
    silt_safetensors *st = rewrite(src, e);
    var_model *m = NULL;
    silt_status s = st ? var_load(st, &m) : SILT_ERR_IO;
    silt_safetensors_close(st);
    if (want == SILT_OK) CHECK_MSG(s == SILT_OK && m, "edited %s: %s", src, silt_last_error());
    else expect_err(s, want, needle);
    return m;
}

static var_vqvae *vq_edit(const char *src, const edit *e, silt_status want, const char *needle) {
    silt_safetensors *st = rewrite(src, e);
    var_vqvae *vq = NULL;
    silt_status s = st ? var_vq_load(st, &vq) : SILT_ERR_IO;
    silt_safetensors_close(st);
    if (want == SILT_OK) CHECK_MSG(s == SILT_OK && vq, "edited %s: %s", src, silt_last_error());
    else expect_err(s, want, needle);
    return vq;
}

static void test_errors(void) {
    printf("loader and compatibility errors\n");
    const char *va = GOLDEN "var_a.model.safetensors", *vb = GOLDEN "var_b.model.safetensors";
    const char *vqp = GOLDEN "var_vq.model.safetensors";
    // Official files carry no metadata: heads from scale_mul_1H11, scales from lvl_1L.
    edit plain = {.drop_metadata = true};
    var_model *m = var_edit(va, &plain, SILT_OK, NULL);
    if (m) CHECK(var_get_config(m)->num_heads == 2 && var_get_config(m)->patch_nums[4] == 6);
    var_free(m);
    edit nolvl = {.drop = "lvl_1L"};  // then config patch_nums
    m = var_edit(va, &nolvl, SILT_OK, NULL);
    if (m) CHECK(var_get_config(m)->n_scales == 5);
    var_free(m);
    edit nolvl_nometa = {.drop = "lvl_1L", .drop_metadata = true};
    var_free(var_edit(va, &nolvl_nometa, SILT_ERR_FORMAT, "no lvl_1L"));
    edit wrong_pn = {.config = "{\"patch_nums\": [1, 2, 3, 5, 5]}"};
    var_free(var_edit(va, &wrong_pn, SILT_ERR_FORMAT, "disagree with the lvl_1L"));
    edit miss = {.drop = "blocks.1.attn.q_bias"};
    var_free(var_edit(va, &miss, SILT_ERR_FORMAT, "blocks.1.attn.q_bias"));
    edit extra = {.extra = "blocks.0.attn.k_bias"};
    var_free(var_edit(va, &extra, SILT_ERR_FORMAT, "blocks.0.attn.k_bias"));
    edit shape = {.reshape = "blocks.1.ffn.fc2.weight", .reshape_ndim = 2, .reshape_to = {128, 32}};
    var_free(var_edit(va, &shape, SILT_ERR_SHAPE, "blocks.1.ffn.fc2.weight"));
    edit gss = {.drop = "blocks.1.ada_gss"};
    var_free(var_edit(vb, &gss, SILT_ERR_FORMAT, "blocks.1.ada_gss"));
    edit heads = {.config = "{\"num_heads\": 3}"};
    var_free(var_edit(vb, &heads, SILT_ERR_SHAPE, "3 heads"));

    silt_safetensors *st = open_st(vqp);
    var_model *none = NULL;
    if (st) expect_err(var_load(st, &none), SILT_ERR_FORMAT, "not a VAR transformer");
    silt_safetensors_close(st);
    st = open_st(va);
    var_vqvae *vnone = NULL;
    if (st) expect_err(var_vq_load(st, &vnone), SILT_ERR_FORMAT, "not a VAR VQ-VAE");
    silt_safetensors_close(st);
    edit vmiss = {.drop = "decoder.up.2.attn.1.qkv.bias"};
    var_vq_free(vq_edit(vqp, &vmiss, SILT_ERR_FORMAT, "decoder.up.2.attn.1.qkv.bias"));
    edit vnin = {.drop = "encoder.down.1.block.0.nin_shortcut.weight"};
    var_vq_free(vq_edit(vqp, &vnin, SILT_ERR_FORMAT, "encoder.down.1.block.0.nin_shortcut.weight"));
    edit vgroups = {.config = "{\"norm_num_groups\": 3}"};
    var_vq_free(vq_edit(vqp, &vgroups, SILT_ERR_SHAPE, "3 GroupNorm groups"));
    edit znorm = {.config = "{\"norm_num_groups\": 4, \"using_znorm\": true}"};
    var_vq_free(vq_edit(vqp, &znorm, SILT_ERR_UNSUPPORTED, "using_znorm"));

    // A tokenizer with another codebook size, and a transformer reading another width.
    m = load_var(va);
    edit small_book = {.reshape = "quantize.embedding.weight", .reshape_ndim = 2, .reshape_to = {16, 8}};
    var_vqvae *vq = vq_edit(vqp, &small_book, SILT_OK, NULL);
    if (m && vq) {
        expect_err(var_check_vqvae(m, vq), SILT_ERR_SHAPE, "codebook has 16");
        float img[3 * 24 * 24];
        int32_t label = 1;
        var_sample_params p = var_sample_default_params();
        CHECK(var_generate(m, vq, &label, 1, &p, img, NULL) == SILT_ERR_SHAPE);
    }
    var_vq_free(vq);
    var_free(m);
    edit narrow = {.reshape = "word_embed.weight", .reshape_ndim = 2, .reshape_to = {32, 4}};
    m = var_edit(va, &narrow, SILT_OK, NULL);
    vq = load_vq(vqp);
    if (m && vq) expect_err(var_check_vqvae(m, vq), SILT_ERR_SHAPE, "4-wide tokens");
    var_vq_free(vq);
    var_free(m);
}

// --- gradients ----------------------------------------------------------------------------------------

typedef struct grad_ctx {
    var_model *m;
    var_vqvae *vq;
    int32_t idx[2 * 66];
} grad_ctx;

// Parameters own their gradient buffers (an arena one would not outlive the step).
static void enable_grad(silt_tensor *t) {
    if (!t->grad) t->grad = silt_alloc((size_t)silt_numel(t) * sizeof(float));
    if (t->grad) memset(t->grad, 0, (size_t)silt_numel(t) * sizeof(float));
    t->requires_grad = t->grad != NULL;
}

// Teacher-forced logits through the tokenizer's var input, as training runs it.
static silt_tensor *tf_logits(silt_graph *g, silt_tensor **in, void *user) {
    grad_ctx *c = user;
    (void)in;
    int32_t labels[2] = {2, 10};
    return var_forward(g, c->m, labels, 2, var_vq_idx_to_var_input(g, c->vq, c->idx, 2));
}

static void test_gradients(void) {
    printf("gradients\n");
    grad_ctx c = {load_var(GOLDEN "var_a.model.safetensors"), load_vq(GOLDEN "var_vq.model.safetensors"), {0}};
    if (!c.m || !c.vq) goto out;
    test_seed(3);
    for (int i = 0; i < 2 * 66; i++) c.idx[i] = (int32_t)(test_uniform() * 32) % 32;
    // Parameters through every op kind: the scale_mul clamp/exp (head 0 of block
    // 0 sits above ln 100, so its gradient must be 0), q/v biases, AdaLN, the
    // embeddings, the head, and the tokenizer's codebook and phi conv.
    silt_tensor *ws[8];
    const char *names[8] = {"blocks.0.attn.scale_mul_1H11", "blocks.1.attn.scale_mul_1H11", "blocks.0.attn.v_bias",
                            "blocks.1.ada_lin.1.bias", "pos_1LC", "head_nm.ada_lin.1.weight", NULL, NULL};
    const char *vq_names[3] = {"quantize.embedding.weight", "quantize.quant_resi.qresi_ls.1.weight", NULL};
    int n = 0;
    for (int i = 0; names[i]; i++) {
        ws[n] = var_find_param(c.m, names[i]);
        CHECK_MSG(ws[n] != NULL, "param %s", names[i]);
        if (ws[n]) enable_grad(ws[n++]);
    }
    for (int i = 0; vq_names[i]; i++) {
        ws[n] = var_vq_find_param(c.vq, vq_names[i]);
        CHECK_MSG(ws[n] != NULL, "param %s", vq_names[i]);
        if (ws[n]) enable_grad(ws[n++]);
    }
    CHECK(var_param_count(c.m) == 34 && var_find_param(c.m, "lvl_1L") == NULL);
    gradcheck_opts o = gradcheck_default();
    o.max_probe = 12;
    gradcheck_run("var_forward params", tf_logits, ws, n, &c, o);
    CHECK(ws[0]->grad && ws[0]->grad[0] == 0.0f);  // clamped head: no gradient
    for (int i = 0; i < n; i++) ws[i]->requires_grad = false;  // grads are freed with the model
out:
    var_free(c.m);
    var_vq_free(c.vq);
}

int main(void) {
    const char *src = getenv("SILT_SOURCE_DIR");
    if (src && chdir(src) != 0) { fprintf(stderr, "cannot cd to %s\n", src); return 1; }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/silt_test_var_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    test_vq();
    test_sampling_kernels();
    test_var("var_a", false, true, 2);
    test_var("var_b", true, false, 4);
    test_errors();
    test_gradients();
    rmdir(tmpdir);
    return check_summary();
}
