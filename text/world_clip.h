// world-CLIP: a small CLIP (Radford et al. 2021, "Learning Transferable Visual
// Models From Natural Language Supervision") trained contrastively on the
// built-in world (world/suites.h train items, rendered at 32 px).
//
// Text tower: token embedding + learned positions, `layers` pre-LN transformer
// blocks (causal self-attention, GELU MLP x4), final LN; pooled = the final-LN
// state at the <eos> token (the first one in the row) -> text_projection.
// Image tower: a ViT (patch conv, learned positions, ln_pre, blocks, ln_post),
// pooled by the MEAN of the ln_post patch tokens (no class token; img_cls: by
// a class token's final state, as CLIP) -> visual_projection. logit_scale starts at ln(1/0.07) and is clamped at ln 100
// (the gradient is zero while clamped), as in CLIP.
//
// Parameter names (checkpoint keys): text.token_embedding.weight,
// text.positional_embedding, text.layers.<l>.{ln_1,ln_2}.{weight,bias},
// text.layers.<l>.attn.{in_proj_weight,in_proj_bias,out_proj.weight,out_proj.bias},
// text.layers.<l>.mlp.{c_fc,c_proj}.{weight,bias}, text.ln_final.{weight,bias},
// text_projection (embed, width); visual.conv1.weight (img_width, 3, p, p),
// visual.conv1.bias, [visual.class_embedding (img_width),]
// visual.positional_embedding ([1 +] n_patches, img_width),
// visual.ln_pre.*, visual.layers.<l>.* (as text), visual.ln_post.*,
// visual_projection (embed, img_width); logit_scale (1).
#ifndef TXT_WORLD_CLIP_H
#define TXT_WORLD_CLIP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/graph.h"
#include "core/safetensors.h"
#include "core/status.h"
#include "world/suites.h"

typedef struct wclip_config {
    int vocab, max_len, width, layers, heads, embed_dim, img_size, patch, img_width, img_layers, img_heads;
    // 1: a learned class token leads the patch tokens and its final state is
    // the image's pooled state (CLIP's ViT: visual.class_embedding, positions
    // for 1 + n_patches); 0 (the default, the shipped world-CLIP): the mean of
    // the patch tokens. The mean all but loses the layout (a linear probe
    // tells "red left of blue" from "right of" 61% of the time on the mean,
    // 99.8% on the patch tokens; models/README.md, sixteenth session).
    int img_cls;
    // > 0: a judge head of that many layers (world-judge; 0, the default and
    // the shipped world-CLIP: none). An image-text matching cross-encoder
    // (as BLIP's ITM head, Li et al. 2022): each caption's tokens, with the
    // word and relation channels (wclip_encode_context, WCLIP_CTX_RELATION),
    // attend to each other and to the image's patch tokens; the caption's
    // first token (<bos>) then gives one logit, "does this image show this
    // caption". The patch tokens keep the layout the pooled embedding loses,
    // and the word channel the relation words the text tower blurs, so the
    // head can read "left of" where the contrastive embeddings cannot
    // (models/README.md, seventeenth session). Width and heads: the text
    // tower's. Each patch token enters with its centre (x, y) in [-1, 1]
    // appended. Keys: itm.text_in.{weight,bias} (width, context width),
    // itm.img_in.{weight,bias} (width, img_width + 2), itm.layers.<l>.* (as
    // text), itm.ln_final.*, itm.head.{weight (1, width),bias (1)},
    // itm.loc.{weight (2, width), bias (2)} (the grounding head, wclip_itm_logits),
    // itm.rel_in.weight (width, 2).
    int itm_layers;
} wclip_config;
#define WCLIP_ITM_COORDS 2  // the judge head's (x, y) per patch token

typedef struct wclip_model wclip_model;

// vocab txt_world_vocab_size(), max_len 16, width 64, 2 layers, 4 heads, embed 64,
// 32 px images, patch 4, image width 64, 2 image layers, 4 image heads.
wclip_config wclip_default_config(void);
silt_status wclip_config_check(const wclip_config *c);  // SILT_ERR_ARG naming the bad field

// Random init as in CLIP (token emb N(0, 0.02), positions N(0, 0.01), attention
// in_proj N(0, width^-0.5), out_proj/c_proj N(0, (2 L width)^-0.5 width^-0.5),
// c_fc N(0, (2 width)^-0.5), projections N(0, width^-0.5), LN 1/0, biases 0).
silt_status wclip_create(const wclip_config *c, uint64_t seed, wclip_model **out);
// From a wclip_save file or a trainer checkpoint of `gen train --arch clip`:
// when "ema.<name>" entries are present the EMA weights are used (they are
// what a run means by its result); "adam_m."/"adam_v." entries are ignored.
// The config comes from the tensor shapes; the head counts from the "config"
// metadata (JSON with the wclip_config field names), else the default 4.
silt_status wclip_load(const silt_safetensors *st, wclip_model **out);
silt_status wclip_load_file(const char *path, wclip_model **out);  // open + load + close
// Atomic (the writer's temporary file + rename), "config" metadata; zstd when path ends in ".zst".
silt_status wclip_save(const wclip_model *m, const char *path);
void wclip_free(wclip_model *m);  // NULL-safe
const wclip_config *wclip_get_config(const wclip_model *m);

// Moves every weight to `device` once, in place (as var_to_device): then
// wclip_encode_text, wclip_encode_image and wclip_loss run on a graph of that
// device (images on it too; token ids stay host arrays), forward and
// backward. SILT_CPU is a no-op for a CPU model; moving back is not
// supported. Parameters lose requires_grad (a trainer gives them device
// grads, as gen/lib/train.c does). wclip_save, wclip_score and
// wclip_retrieval_accuracy need the model on the cpu. A failure half way
// leaves the model reporting cpu with some weights on the device (its
// forward fails naming them); wclip_free frees it.
silt_status wclip_to_device(wclip_model *m, silt_device device);
silt_device wclip_device(const wclip_model *m);  // where the weights are (SILT_CPU for NULL)

// Parameters (owned f32 tensors with requires_grad) in a fixed order.
int wclip_param_count(const wclip_model *m);
silt_tensor *wclip_param(const wclip_model *m, int i, const char **name, bool *no_decay);
silt_tensor *wclip_param_find(const wclip_model *m, const char *name);  // NULL when unknown

// ids (B, max_len), each row with an <eos> (rows without one pool at the last
// position) -> *tokens (B, max_len, width) after the final LN (may be NULL),
// *pooled (B, embed_dim) projected, NOT normalised.
silt_status wclip_encode_text(silt_graph *g, const wclip_model *m, const int32_t *ids, int64_t B, silt_tensor **tokens,
                              silt_tensor **pooled);
// The conditioning a world generator takes: world-CLIP's tokens, and with
// `words` the word channel appended to each token's features, a one-hot of
// the token id (vocab) then a one-hot of its position (max_len). CLIP's
// contrastive text tower is nearly blind to word order and relations
// (measured on the shipped world-CLIP: the tokens of "... left of ..." and
// "... right of ..." differ by at most 9% of their norm), so a generator
// that must bind "left of" to the right object gets the words themselves
// too, as SD3 joins CLIP with T5 by concatenating features.
// `channels` (WCLIP_CTX_*): CLIP's tokens only, + the word channel, or + the
// word channel + the relation channel: 2 values per token, the direction
// (dx, dy; x right, y down) the caption's relation gives the object of the
// token's phrase: in "X left of Y" X's tokens get (-1, 0) and Y's (+1, 0);
// right (+1, 0), above (0, -1), below (0, +1); tokens of no related phrase
// (the relation word, "of", the background, a caption without a relation)
// get (0, 0). It is the caption's parse, as a layout-conditioned model gets
// boxes: the direction "left" and "right" give stays with the phrase it
// belongs to, which the word one-hots leave to the model to bind (the
// shipped words model learned the axis of a relation but not its direction).
// *ctx (B, max_len, wclip_context_width), *pooled as wclip_encode_text.
enum { WCLIP_CTX_CLIP = 0, WCLIP_CTX_WORDS = 1, WCLIP_CTX_RELATION = 2 };
silt_status wclip_encode_context(silt_graph *g, const wclip_model *m, const int32_t *ids, int64_t B, int channels,
                                 silt_tensor **ctx, silt_tensor **pooled);
int wclip_words_width(const wclip_model *m);  // vocab + max_len
#define WCLIP_RELATION_WIDTH 2
// width (CLIP), + wclip_words_width (WORDS), + WCLIP_RELATION_WIDTH (RELATION).
int wclip_context_width(const wclip_model *m, int channels);
// The relation channel of one row of ids (max_len): rel (max_len x 2).
void wclip_relation_channel(const int32_t *ids, int max_len, float *rel);
// img (B, 3, S, S) in [-1, 1] -> (B, embed_dim) projected, NOT normalised;
// *patch_tokens (B, n_patches, img_width) after ln_post if non-NULL. NULL on
// failure (graph status set).
silt_tensor *wclip_encode_image(silt_graph *g, const wclip_model *m, silt_tensor *img, silt_tensor **patch_tokens);
// Symmetric InfoNCE over a batch of matching pairs (row i of each matches):
// logits = exp(min(logit_scale, ln 100)) * norm(img) norm(txt)^T,
// loss = (CE(logits, diag) + CE(logits^T, diag)) / 2, a (1) tensor. On the
// graph's device (text/world_clip_ops.h has the kernels). txt_emb may have
// M > B rows: rows B..M-1 are hard negatives, captions that match no image,
// which join each image's softmax over captions (world-judge training).
silt_tensor *wclip_loss(silt_graph *g, const wclip_model *m, silt_tensor *img_emb, silt_tensor *txt_emb);

// The judge head (itm_layers > 0): patch_tokens (B, N, img_width) from
// wclip_encode_image, ctx (B C, max_len, wclip_context_width(m,
// WCLIP_CTX_RELATION)) from wclip_encode_context, rows image-major (row b C +
// c is caption c of image b) -> logits (B, C). Caption c of an image sees
// only its own tokens and the image's (an attention mask), so its logit does
// not depend on the other captions in the call. NULL on failure (graph
// status set).
// loc (may be NULL): *loc (B C, max_len, 2), each caption token's guess of
// where its phrase's object is, (x, y) in [-1, 1] as the patch coordinates,
// read (itm.loc) from its state after the head's first layer (its product
// with the token's relation direction then joins the state). Training
// supervises it with the scene (gen/lib/train_clip.c): grounding each phrase
// first is what lets the later layer compare the positions with the
// relation's direction (without it the head stayed at chance on relation
// edits, models/README.md).
silt_tensor *wclip_itm_logits(silt_graph *g, const wclip_model *m, silt_tensor *patch_tokens, silt_tensor *ctx,
                              int64_t C, silt_tensor **loc);
// Which phrase each token of a caption's ids (max_len) belongs to: 0 or 1 for
// the tokens of the first and second phrase (determiner, adjectives, noun),
// -1 for the rest (<bos>, "a photo of", the link "and" / "left of" / "above"
// ..., the background, <eos>, padding). Follows the grammar of world/caption.h.
void wclip_token_phrases(const int32_t *ids, int max_len, int8_t *phrase);
// The grounding head's targets for one caption's ids (T) whose requirements
// are r, on scene sc: for each token of phrase p (wclip_token_phrases), the
// mean centre of the scene objects that phrase describes (its shape, and its
// colour and size where named), in [-1, 1] (x right, y down, as the patch
// coordinates): tgt (T x 2); w (T x 2): 1 there, 0 for tokens of no phrase
// or of a phrase no object matches.
void wclip_grounding_targets(const world_reqs *r, const world_scene *sc, const int32_t *ids, int T, float *tgt, float *w);
// The judge head's logits of one image (3, S, S) in [-1, 1] against n
// captions, on its own graph without grad: scores (n); cos (n, may be NULL):
// the towers' cosine of the image and each caption from the same encodings
// (wclip_score's value), for a reward that mixes the two. SILT_ERR_ARG for a
// model without the head.
silt_status wclip_itm_scores(const wclip_model *m, const float *img, const char *const *captions, int n,
                             double *scores, double *cos);

// Cosine similarity of one image (3, S, S) in [-1, 1] and one caption, for a
// reward: in [-1, 1]. Runs on its own graph without grad. NAN on failure
// (*status, if non-NULL, gets the reason).
double wclip_score(const wclip_model *m, const float *img, const char *caption, silt_status *status);

// Captions -> ids (n, max_len) and renders of scenes -> (n, 3, S, S) in [-1, 1]
// (helpers for training and evaluation).
silt_status wclip_tokenize(const wclip_model *m, const char *caption, int32_t *ids);
silt_status wclip_render(const wclip_model *m, const world_scene *s, float *img);

// Retrieval accuracy over suite items [0, n_total), in consecutive groups of
// `group` candidates (the last partial group is dropped): for each caption,
// is its own image the argmax of the cosine similarity among the group's
// images (txt->img), and vice versa (img->txt). seed as world_suite_item.
silt_status wclip_retrieval_accuracy(const wclip_model *m, world_suite suite, uint64_t seed, int64_t n_total, int group,
                                     double *top1_txt2img, double *top1_img2txt);

#endif
