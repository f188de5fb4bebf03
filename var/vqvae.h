// VAR's multi-scale residual VQ-VAE tokenizer (Tian et al. 2024, "Visual
// Autoregressive Modeling", sec. 3.2, Algorithms 1-2), ported from the official
// FoundationVision/VAR code @ 78b9539: models/vqvae.py (VQVAE), quant.py
// (VectorQuantizer2, Phi*), basic_vae.py (Encoder, Decoder). Weight names are
// that code's state-dict keys, as tools/pth2safetensors.py converts
// vae_ch160v4096z32.pth.
//
// Tokens: an image maps to K token maps r_1..r_K of sizes pn_k x pn_k
// (patch_nums, 256 px: 1,2,3,4,5,6,8,10,13,16), flattened row-major
// (l = y pn + x) and concatenated over scales into one (B, L) int32 array,
// L = sum pn_k^2 (torch.cat(idx_Bl, dim=1)). With f = quant_conv(encoder(img))
// (B, Cvae, h, w), h = w = pn_K, and e the shared codebook (V, Cvae):
//   encode  f_rest = f, f_hat = 0; for k: z = area(f_rest, pn_k) (none at k = K),
//           r_k = argmin_v |z - e_v|^2, u = phi_k(bicubic(e[r_k], h)) (no resize
//           at k = K), f_hat += u, f_rest -= u
//   decode  f_hat = sum_k phi_k(bicubic(e[r_k], h)); img = clamp(decoder(post_quant_conv(f_hat)), -1, 1)
// phi_k(x) = (1 - r) x + r conv3x3(x) with r = quant_resi (0.5). The
// checkpoint holds n_phi convs (PhiPartiallyShared, 4 in the release); scale k
// uses var_phi_index(k, K, n_phi). Resampling is PyTorch's bicubic
// (align_corners False, A = -0.75) and area (adaptive average pooling), see
// core/ops_resample.h.
//
// Configuration comes from tensor shapes (V, Cvae, ch, ch_mult,
// num_res_blocks, attention present, quant conv kernel, phi sharing); what
// shapes cannot say comes from the optional "config" JSON metadata:
// norm_num_groups (default 32, the official value), quant_resi (0.5),
// v_patch_nums / patch_nums (default the 256 px list), using_znorm (only
// false is supported, the released setting).
//
// All functions are graph ops (core/graph.h): activations in the graph's
// arena, differentiable with respect to the weights where the math is (the
// argmin of encode is not).
#ifndef SILT_VAR_VQVAE_H
#define SILT_VAR_VQVAE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/graph.h"
#include "core/safetensors.h"

#define VAR_MAX_SCALES 32
#define VAR_VQ_MAX_LEVELS 8

// How the phi convs are shared over the scales (quant.py).
typedef enum var_phi_share {
    VAR_PHI_PARTIAL,    // PhiPartiallyShared: quantize.quant_resi.qresi_ls.{i} (the release: 4)
    VAR_PHI_SHARED,     // PhiShared: quantize.quant_resi.qresi, one for every scale
    VAR_PHI_NONSHARED,  // PhiNonShared: quantize.quant_resi.{i}
    VAR_PHI_IDENTITY,   // quant_resi 0: phi is the identity, no weights
    VAR_PHI_SHARE_COUNT
} var_phi_share;
const char *var_phi_share_name(var_phi_share s);  // "partial", "shared", "nonshared", "identity"
silt_status var_phi_share_from_name(const char *name, var_phi_share *out);

typedef struct var_vq_config {
    int vocab_size;   // V, codebook entries
    int z_channels;   // Cvae, codebook width
    int in_channels;  // image channels (3)
    int ch;           // base width
    int n_levels;     // len(ch_mult)
    int ch_mult[VAR_VQ_MAX_LEVELS];
    int num_res_blocks;   // per encoder level; the decoder has one more
    int groups;           // GroupNorm groups (32); eps is 1e-6 everywhere
    bool using_sa;        // attention after each res block of the deepest level
    bool using_mid_sa;    // attention in the middle block
    int quant_conv_ks;    // quant_conv / post_quant_conv kernel (3)
    float quant_resi;     // phi mixing ratio r (0.5)
    var_phi_share phi_share;
    int n_phi;            // phi convs in the file (0 for identity)
    int downsample;       // 2^(n_levels - 1)
    int n_scales;         // K
    int patch_nums[VAR_MAX_SCALES];
    int64_t L;            // sum pn^2
} var_vq_config;

typedef struct var_vqvae var_vqvae;

// The 256 px patch_nums (1,2,3,4,5,6,8,10,13,16) and the 512 px list
// (1,2,3,4,6,9,13,18,24,32) of the official code (utils/arg_util.py).
extern const int var_patch_nums_256[10];
extern const int var_patch_nums_512[10];
// The world tokenizer's list at 32 px (METHODS.md sec. 4): 1,2,3,4,6,8.
extern const int var_patch_nums_world[6];

// Loads every tensor as owned f32; a missing, extra or misshaped tensor is
// one error naming it. A file without quantize.embedding.weight is "not a VAR
// VQ-VAE". *out is set only on success. A silt trainer checkpoint of `gen
// train --arch vq` loads too: its "ema." copy when there is one (the run's
// result), else the raw weights (optimiser moments ignored); it carries no
// "config", so the world tokenizer's groups, quant_resi and patch_nums
// (var_vq_world_config) apply.
silt_status var_vq_load(const silt_safetensors *st, var_vqvae **out);
silt_status var_vq_load_file(const char *path, var_vqvae **out);  // open + load + close

// --- creation and saving (training, var/vq_create.c) ---------------------------------
// The world tokenizer (METHODS.md sec. 4, "world variant"): 32 px renders ->
// 8 x 8 latent (downsample 4: ch_mult 1,2,2), ch 32, one res block per level,
// no attention, GroupNorm 8 groups, V = 512 codes of Cvae = 16, 4 shared phis
// (quant_resi 0.5), patch_nums 1,2,3,4,6,8 (L = 130).
var_vq_config var_vq_world_config(void);
// SILT_ERR_ARG naming the first bad field (widths divisible by groups,
// pn_K = the latent side is checked by the caller's image size).
silt_status var_vq_config_check(const var_vq_config *c);
// Random init of a fresh tokenizer: convs PyTorch's default (kaiming-uniform
// a = sqrt(5): weight and bias U(+-1/sqrt(fan_in))), GroupNorm 1 / 0, the
// codebook N(0, 1) (nn.Embedding's default; VectorQuantizer2.eini is never
// called in the released code). Parameters have requires_grad, in load order.
silt_status var_vq_create(const var_vq_config *c, uint64_t seed, var_vqvae **out);
// Writes every parameter under its checkpoint name with "config" metadata
// (norm_num_groups, quant_resi, patch_nums, using_znorm false) and
// "silt.kind" = "world-vq"; atomic; zstd when path ends in ".zst".
silt_status var_vq_save(const var_vqvae *vq, const char *path);
// The same with other metadata: kv is NULL-terminated key, value pairs
// (var_vq_save: "silt.kind" = "world-vq"); "config" is always written.
silt_status var_vq_save_as(const var_vqvae *vq, const char *path, const char *const *kv);
// That "config" JSON into buf; returns its length (>= n: truncated).
int var_vq_config_json(const var_vq_config *c, char *buf, size_t n);
// The training loss of one batch (var/vq_train.c has the sources and the
// choices): img (B, 3, pn_K ds, pn_K ds) in [-1, 1] ->
//   f = quant_conv(encoder(img)); residual multi-scale quantisation of f
//   (area down, nearest code, bicubic up, phi), f_hat_k the running sum after
//   scale k; vq = (1/K) sum_k [beta mse(sg(f_hat_k), f) + mse(f_hat_k, sg(f))]
//   (codebook and commitment terms, VectorQuantizer2.forward, beta 0.25);
//   rec = mse(decoder(post_quant_conv(f + sg(f_hat_K - f))), img) (straight-
//   through estimator); loss = rec + vq, a (1) tensor.
// stats (may be NULL) gets the two terms and the number of distinct codes used.
// Runs on the tokenizer's device (var_vq_to_device; graph and img there too):
// the nearest-code search runs there and its indices come to the host (the
// codebook rows are gathered with them, the usage is counted there); on cuda
// the two stats values are downloaded (a sync) when stats is non-NULL.
typedef struct var_vq_loss_stats {
    double rec, vq;
    int codes_used;
} var_vq_loss_stats;
silt_tensor *var_vq_train_loss(silt_graph *g, const var_vqvae *vq, silt_tensor *img, float beta,
                               var_vq_loss_stats *stats);
// Random restarts of dead codes (Jukebox, Dhariwal et al. 2020, sec. 3.1;
// the released VAR code only tracks usage in ema_vocab_hit_SV): encodes img
// (no grad), runs the multi-scale lookup and sets every code no lookup used
// to a random lookup vector of the batch plus 1% noise (Philox from seed).
// Without it a fresh codebook collapses to a handful of codes (measured: 10
// of 256 after 250 steps of the "small" preset). *n_restarted may be NULL.
// On the tokenizer's device (img there too): the encode and lookups run on a
// graph of that device; on cuda the lookup vectors come to the host, the
// codebook is downloaded, its dead rows rewritten on the host (the same
// Philox draws and arithmetic as on the cpu) and uploaded again before it
// returns (synchronous copies). The AdamW moments of restarted rows are left
// as they are, on either device.
silt_status var_vq_restart_dead_codes(var_vqvae *vq, silt_tensor *img, uint64_t seed, int *n_restarted);
// AdamW weight-decay exemption: 1-D tensors (biases, norms) and the codebook.
bool var_vq_param_no_decay(const char *name, const silt_tensor *t);
void var_vq_free(var_vqvae *vq);  // NULL-safe
const var_vq_config *var_vq_get_config(const var_vqvae *vq);
// Moves every weight to `device` once, in place (as var_to_device): then
// encode, quantize (the nearest-code search is vq_nearest_cuda) and decode
// run on a graph of that device, with images and f_hat on it too; the token
// indices stay host arrays. SILT_CPU is a no-op for a CPU tokenizer; moving
// back is not supported. Training runs there too (var_vq_train_loss and
// var_vq_restart_dead_codes, on a graph and image of the same device; give
// the parameters device grads as gen/lib/train.c does); var_vq_save needs it
// on the cpu.
silt_status var_vq_to_device(var_vqvae *vq, silt_device device);
silt_device var_vq_device(const var_vqvae *vq);  // SILT_CPU for NULL
// Replaces the scale list (the transformer decides it; the 512 px VAR uses
// the same tokenizer file). 2 <= n <= VAR_MAX_SCALES, every pn in 1..1024.
silt_status var_vq_set_patch_nums(var_vqvae *vq, const int *pn, int n);
// Parameters in load order with their checkpoint names (optimisers,
// inspection). The tensors stay the tokenizer's; NULL past the end / unknown.
int var_vq_param_count(const var_vqvae *vq);
silt_tensor *var_vq_param(const var_vqvae *vq, int i, const char **name);
silt_tensor *var_vq_find_param(const var_vqvae *vq, const char *name);

// The phi conv scale si of K uses when the file holds n_phi of them:
// argmin_i |tick_i - si/(K-1)| with ticks = linspace(1/(3n), 1 - 1/(3n), n)
// for n == 4, else linspace(1/(2n), 1 - 1/(2n), n), computed in double as
// numpy does; ties go to the lower index (np.argmin). For K = 10 and n = 4
// this gives 0,0,1,1,1,2,2,3,3,3 (si = 7 is a float tie that goes to 3).
// Returns 0 when n_phi <= 1; -1 when si is outside [0, K) or K < 2.
int var_phi_index(int si, int n_scales, int n_phi);

// --- conv networks ---------------------------------------------------------------
// img (B, in_channels, H, W) in [-1, 1] -> f = quant_conv(encoder(img)) (B, Cvae, H/ds, W/ds).
// H and W must be multiples of downsample.
silt_tensor *var_vq_encode_features(silt_graph *g, const var_vqvae *vq, silt_tensor *img);
// f_hat (B, Cvae, h, w) -> image decoder(post_quant_conv(f_hat)) (B, 3, h*ds, w*ds),
// clamped to [-1, 1] when clamp is set (fhat_to_img).
silt_tensor *var_vq_fhat_to_img(silt_graph *g, const var_vqvae *vq, silt_tensor *f_hat, bool clamp);

// --- the multi-scale quantiser -------------------------------------------------------
// f (B, Cvae, pn_K, pn_K) -> idx (B, L) int32 (f_to_idxBl_or_fhat(to_fhat=False)).
// fhat_scales, when non-NULL, receives f_hat after every scale (K, B, Cvae, pn_K, pn_K)
// (the to_fhat=True list). The argmin is taken over squared distances in double.
silt_status var_vq_quantize(silt_graph *g, const var_vqvae *vq, silt_tensor *f, int32_t *idx, float *fhat_scales);
// img_to_idxBl: img (B, 3, pn_K*ds, pn_K*ds) -> idx (B, L).
silt_status var_vq_encode(silt_graph *g, const var_vqvae *vq, silt_tensor *img, int32_t *idx);
// Codebook rows of one token map: idx (B, pn*pn) -> (B, Cvae, pn, pn).
// An index outside [0, V) fails (SILT_ERR_ARG) naming it.
silt_tensor *var_vq_embed(silt_graph *g, const var_vqvae *vq, const int32_t *idx, int64_t B, int pn);
// embed_to_fhat(all_to_max_scale=True, last_one=True): idx (B, L) -> f_hat (B, Cvae, pn_K, pn_K).
silt_tensor *var_vq_idx_to_fhat(silt_graph *g, const var_vqvae *vq, const int32_t *idx, int64_t B);
// idxBl_to_img(same_shape=True, last_one=True): idx (B, L) -> image (B, 3, H, W) in [-1, 1].
silt_tensor *var_vq_decode(silt_graph *g, const var_vqvae *vq, const int32_t *idx, int64_t B);
// idxBl_to_var_input (teacher forcing): idx (B, L) -> (B, L - pn_1^2, Cvae), the
// area-downsampled running f_hat at every next scale, tokens row-major.
silt_tensor *var_vq_idx_to_var_input(silt_graph *g, const var_vqvae *vq, const int32_t *idx, int64_t B);
// get_next_autoregressive_input: h (B, Cvae, pn_si, pn_si) the codebook rows
// chosen at scale si; f_hat (B, Cvae, pn_K, pn_K). Returns f_hat + phi_si(bicubic(h))
// (no resize at the last scale) and sets *next to area(that, pn_{si+1})
// (B, Cvae, pn_{si+1}, pn_{si+1}), or to the new f_hat at the last scale.
silt_tensor *var_vq_next_input(silt_graph *g, const var_vqvae *vq, int si, silt_tensor *f_hat, silt_tensor *h,
                               silt_tensor **next);

#endif
