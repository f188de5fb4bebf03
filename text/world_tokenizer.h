// The world tokenizer: a word-level lookup over the world's fixed caption
// vocabulary (world/caption.h, under 64 words), for the built-in text
// encoders. Words are split and lower-cased exactly as the caption parser
// does (world_caption_next_word), so "A Red circle." tokenizes like
// "a red circle".
//
// Ids: <pad> 0, <unk> 1, <bos> 2, <eos> 3, then word i of the vocabulary is
// 4 + i (stable: the vocabulary only ever grows at its end).
#ifndef TXT_WORLD_TOKENIZER_H
#define TXT_WORLD_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#define TXT_WORLD_PAD 0
#define TXT_WORLD_UNK 1
#define TXT_WORLD_BOS 2
#define TXT_WORLD_EOS 3
#define TXT_WORLD_MAX_LEN 16  // default sequence length: <bos>, up to 14 words, <eos>

int txt_world_vocab_size(void);                  // special tokens + words (< 64)
const char *txt_world_token(int32_t id);         // "<pad>", "<unk>", "<bos>", "<eos>" or the word; NULL out of range
int32_t txt_world_token_id(const char *word);    // the word's id (lower-case), or TXT_WORLD_UNK

// ids[0..max_len): <bos>, one id per word (<unk> for words outside the
// vocabulary), <eos>, then <pad>. Words past max_len - 2 are dropped, so
// <eos> is always present. unknown_words_out (may be NULL; n bytes) gets the
// distinct unknown words in order, separated by single spaces (cut at a word
// boundary when n is too small). Returns the number of distinct unknown words
// (0 when every word is known), or a negative silt_status (SILT_ERR_ARG) for
// NULL prompt or ids or max_len < 2, with ids untouched.
int txt_world_tokenize(const char *prompt, int32_t *ids, int max_len, char *unknown_words_out, size_t n);

#endif
