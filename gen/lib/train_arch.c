#include "gen/lib/train_arch.h"

#include <stdio.h>
#include <string.h>

#include "text/world_clip.h"

static silt_status toy_create(uint64_t init_seed, silt_train_task *out) {
    silt_train_toy_config c = silt_train_toy_default_config();
    return silt_train_toy_create(&c, init_seed, out);
}

static silt_status clip_create(uint64_t init_seed, silt_train_task *out) {
    wclip_config c = wclip_default_config();
    return silt_train_clip_create(&c, init_seed, out);
}

// One line per trainable architecture. clip, mmdit, vq and var join here with
// the world models.
static const silt_train_arch archs[] = {
    {"toy", "small MLP regressing a fixed random teacher network (tests, smoke runs)", toy_create},
    {"clip", "world-CLIP: small text transformer + ViT, contrastive on world train captions and renders", clip_create},
};
static const int n_archs = (int)(sizeof archs / sizeof *archs);

int silt_train_arch_count(void) { return n_archs; }

const silt_train_arch *silt_train_arch_at(int i) { return i >= 0 && i < n_archs ? &archs[i] : NULL; }

const silt_train_arch *silt_train_arch_find(const char *name) {
    for (int i = 0; name && i < n_archs; i++)
        if (!strcmp(archs[i].name, name)) return &archs[i];
    return NULL;
}

char *silt_train_arch_list(char *buf, size_t n) {
    if (!n) return buf;
    buf[0] = 0;
    for (int i = 0; i < n_archs; i++) {
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, "%s%s", i ? ", " : "", archs[i].name);
    }
    return buf;
}
