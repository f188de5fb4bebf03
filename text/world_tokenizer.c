// World tokenizer (see world_tokenizer.h).
#include "text/world_tokenizer.h"

#include <string.h>

#include "core/status.h"
#include "world/caption.h"

#define N_SPECIAL 4
static const char *const specials[N_SPECIAL] = {"<pad>", "<unk>", "<bos>", "<eos>"};

int txt_world_vocab_size(void) { return N_SPECIAL + world_vocab_size(); }

const char *txt_world_token(int32_t id) {
    if (id >= 0 && id < N_SPECIAL) return specials[id];
    return world_vocab_word(id - N_SPECIAL);
}

int32_t txt_world_token_id(const char *word) {
    int i = world_vocab_find(word);
    return i < 0 ? TXT_WORLD_UNK : N_SPECIAL + i;
}

int txt_world_tokenize(const char *prompt, int32_t *ids, int max_len, char *unknown_words_out, size_t n) {
    if (!prompt || !ids || max_len < 2)
        return SILT_FAIL(SILT_ERR_ARG, "txt_world_tokenize: need a prompt, an id buffer and max_len >= 2 (got %d)", max_len);
    if (unknown_words_out && n) unknown_words_out[0] = 0;
    int len = 0, n_unknown = 0;
    ids[len++] = TXT_WORLD_BOS;
    size_t pos = 0;
    char w[64];
    // Distinct unknown words seen so far, to name each once.
    char seen[512] = "";
    size_t seen_len = 0;
    while (world_caption_next_word(prompt, &pos, w, sizeof w)) {
        int32_t id = txt_world_token_id(w);
        if (len < max_len - 1) ids[len++] = id;
        if (id != TXT_WORLD_UNK) continue;
        // " w " in " seen " means already named.
        char key[68];
        size_t kl = strlen(w);
        key[0] = ' ';
        memcpy(key + 1, w, kl);
        key[kl + 1] = ' ';
        key[kl + 2] = 0;
        char padded[516];
        padded[0] = ' ';
        memcpy(padded + 1, seen, seen_len);
        padded[seen_len + 1] = ' ';
        padded[seen_len + 2] = 0;
        if (strstr(padded, key)) continue;
        n_unknown++;
        if (seen_len + kl + 2 < sizeof seen) {
            if (seen_len) seen[seen_len++] = ' ';
            memcpy(seen + seen_len, w, kl + 1);
            seen_len += kl;
        }
        if (unknown_words_out && n) {
            size_t have = strlen(unknown_words_out), need = (have ? 1 : 0) + kl;
            if (have + need + 1 <= n) {
                if (have) unknown_words_out[have++] = ' ';
                memcpy(unknown_words_out + have, w, kl + 1);
            }
        }
    }
    ids[len++] = TXT_WORLD_EOS;
    while (len < max_len) ids[len++] = TXT_WORLD_PAD;
    return n_unknown;
}
