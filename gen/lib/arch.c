#include "gen/lib/arch.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *names[SILT_ARCH_COUNT] = {
    "unknown", "dit", "dit-diffusers", "mmdit", "mmdit-diffusers", "unet", "unet-diffusers",
    "vae", "vae-diffusers", "vqvae-var", "var", "clip-text",
};

const char *silt_arch_name(silt_arch a) { return (unsigned)a < SILT_ARCH_COUNT ? names[a] : "unknown"; }

int silt_arch_from_name(const char *name, silt_arch *out) {
    for (int i = 0; i < SILT_ARCH_COUNT; i++)
        if (!strcmp(name, names[i])) { *out = (silt_arch)i; return 0; }
    return -1;
}

typedef struct probe { const silt_safetensors *st; const char *prefix; } probe;

static const silt_st_tensor *get(const probe *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const silt_st_tensor *get(const probe *p, const char *fmt, ...) {
    char key[512];
    int n = snprintf(key, sizeof key, "%s", p->prefix);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(key + n, sizeof key - (size_t)n, fmt, ap);
    va_end(ap);
    return silt_safetensors_find(p->st, key);
}

static long dim(const silt_st_tensor *t, int i) { return t && i < t->ndim ? (long)t->shape[i] : 0; }

// Number of consecutive blocks i = 0.. for which fmt (with %d) exists.
static int count_blocks(const probe *p, const char *fmt) {
    int i = 0;
    while (i < 10000) {
        char key[256];
        snprintf(key, sizeof key, fmt, i);
        if (!get(p, "%s", key)) break;
        i++;
    }
    return i;
}

silt_arch silt_arch_detect(const silt_safetensors *st, char *details, size_t n, const char **prefix_out) {
    static const char *prefixes[] = {"", "model.diffusion_model.", "first_stage_model.", "vae.", "model.", NULL};
    details[0] = 0;
    for (int pi = 0; prefixes[pi]; pi++) {
        probe p = {st, prefixes[pi]};
        if (prefix_out) *prefix_out = prefixes[pi];
        const silt_st_tensor *t;
        if ((t = get(&p, "x_embedder.proj.weight")) && get(&p, "t_embedder.mlp.0.weight")) {
            const silt_st_tensor *y = get(&p, "y_embedder.embedding_table.weight");
            const silt_st_tensor *f = get(&p, "final_layer.linear.weight");
            long patch = dim(t, 2), outc = patch ? dim(f, 0) / (patch * patch) : 0;
            if (get(&p, "joint_blocks.0.x_block.attn.qkv.weight")) {
                int depth = count_blocks(&p, "joint_blocks.%d.x_block.attn.qkv.weight");
                snprintf(details, n, "depth %d, hidden %ld, patch %ld, %ld latent channels, context %ld%s", depth,
                         dim(t, 0), patch, dim(t, 1), dim(get(&p, "context_embedder.weight"), 1),
                         get(&p, "joint_blocks.0.x_block.attn.ln_q.weight") ? ", qk-norm" : "");
                return SILT_ARCH_MMDIT;
            }
            int depth = count_blocks(&p, "blocks.%d.attn.qkv.weight");
            snprintf(details, n, "depth %d, hidden %ld, patch %ld, %ld -> %ld channels%s, %ld classes", depth, dim(t, 0),
                     patch, dim(t, 1), outc, outc == 2 * dim(t, 1) ? " (learned sigma)" : "", y ? dim(y, 0) - 1 : 0);
            return SILT_ARCH_DIT;
        }
        if ((t = get(&p, "pos_embed.proj.weight"))) {
            if (get(&p, "context_embedder.weight")) {
                int depth = count_blocks(&p, "transformer_blocks.%d.attn.to_q.weight");
                snprintf(details, n, "depth %d, hidden %ld, patch %ld, %ld latent channels, context %ld%s%s", depth,
                         dim(t, 0), dim(t, 2), dim(t, 1), dim(get(&p, "context_embedder.weight"), 1),
                         get(&p, "transformer_blocks.0.attn.norm_q.weight") ? ", qk-norm" : "",
                         get(&p, "transformer_blocks.0.attn2.to_q.weight") ? ", dual attention (SD3.5)" : "");
                return SILT_ARCH_MMDIT_DIFFUSERS;
            }
            const silt_st_tensor *y = get(&p, "transformer_blocks.0.norm1.emb.class_embedder.embedding_table.weight");
            int depth = count_blocks(&p, "transformer_blocks.%d.attn1.to_q.weight");
            snprintf(details, n, "depth %d, hidden %ld, patch %ld, %ld channels, %ld classes", depth, dim(t, 0), dim(t, 2),
                     dim(t, 1), y ? dim(y, 0) - 1 : 0);
            return SILT_ARCH_DIT_DIFFUSERS;
        }
        const silt_st_tensor *tp = get(&p, "text_pool_proj.weight");
        if (((t = get(&p, "class_emb.weight")) || tp) && get(&p, "blocks.0.attn.mat_qkv.weight")) {
            // VAR (var/var.h): class_emb (classes + 1, C), head (V, C), word_embed (C, Cvae),
            // pos_1LC (1, L, C), lvl_embed (K, C); scale_mul_1H11 (1, H, 1, 1) only with
            // attn_l2_norm (else the head count is in the config metadata).
            int depth = count_blocks(&p, "blocks.%d.attn.mat_qkv.weight");
            const silt_st_tensor *sm = get(&p, "blocks.0.attn.scale_mul_1H11");
            char heads[32] = "";
            if (sm) snprintf(heads, sizeof heads, ", %ld heads", dim(sm, 1));
            // A text model (the world VAR) has text_pool_proj (C, text_dim) instead of class_emb.
            char cond[64];
            if (t) snprintf(cond, sizeof cond, "%ld classes", dim(t, 0) - 1);
            else snprintf(cond, sizeof cond, "text-conditioned (pooled %ld, tokens %ld)", dim(tp, 1),
                          dim(get(&p, "text_ctx_proj.weight"), 1));
            snprintf(details, n, "depth %d, width %ld%s, %s, codebook %ld x %ld, %ld tokens over %ld scales%s",
                     depth, t ? dim(t, 1) : dim(tp, 0), heads, cond, dim(get(&p, "head.weight"), 0),
                     dim(get(&p, "word_embed.weight"), 1), dim(get(&p, "pos_1LC"), 1), dim(get(&p, "lvl_embed.weight"), 0),
                     get(&p, "shared_ada_lin.1.weight") ? ", shared AdaLN" : "");
            return SILT_ARCH_VAR;
        }
        if ((t = get(&p, "quantize.embedding.weight"))) {
            // VAR VQ-VAE (var/vqvae.h): one encoder level per ch_mult entry, downsample 2^(levels-1).
            int levels = count_blocks(&p, "encoder.down.%d.block.0.conv1.weight");
            snprintf(details, n, "codebook %ld x %ld, base width %ld, downsample %d", dim(t, 0), dim(t, 1),
                     dim(get(&p, "encoder.conv_in.weight"), 0), levels > 0 ? 1 << (levels - 1) : 0);
            return SILT_ARCH_VQVAE_VAR;
        }
        if ((t = get(&p, "decoder.conv_in.weight"))) {
            long z = dim(t, 1);
            if (get(&p, "decoder.up_blocks.0.resnets.0.conv1.weight")) {
                snprintf(details, n, "%ld latent channels%s", z, get(&p, "encoder.conv_in.weight") ? ", encoder + decoder" : ", decoder only");
                return SILT_ARCH_VAE_DIFFUSERS;
            }
            snprintf(details, n, "%ld latent channels%s", z, get(&p, "encoder.conv_in.weight") ? ", encoder + decoder" : ", decoder only");
            return SILT_ARCH_VAE;
        }
        if ((t = get(&p, "conv_in.weight")) && get(&p, "down_blocks.0.resnets.0.conv1.weight")) {
            const silt_st_tensor *c = get(&p, "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight");
            snprintf(details, n, "%ld -> %ld channels, base %ld, context %ld", dim(t, 1), dim(get(&p, "conv_out.weight"), 0),
                     dim(t, 0), dim(c, 1));
            return SILT_ARCH_UNET_DIFFUSERS;
        }
        if ((t = get(&p, "input_blocks.0.0.weight")) && get(&p, "out.2.weight")) {
            const silt_st_tensor *c = get(&p, "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight");
            snprintf(details, n, "%ld -> %ld channels, base %ld, context %ld", dim(t, 1), dim(get(&p, "out.2.weight"), 0),
                     dim(t, 0), dim(c, 1));
            return SILT_ARCH_UNET;
        }
        if ((t = get(&p, "text_model.embeddings.token_embedding.weight"))) {
            int depth = count_blocks(&p, "text_model.encoder.layers.%d.self_attn.q_proj.weight");
            snprintf(details, n, "%d layers, width %ld, vocab %ld", depth, dim(t, 1), dim(t, 0));
            return SILT_ARCH_CLIP_TEXT;
        }
    }
    if (prefix_out) *prefix_out = "";
    return SILT_ARCH_UNKNOWN;
}
