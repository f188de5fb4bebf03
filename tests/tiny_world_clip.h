// A small untrained world-CLIP for training tests (the MMDiT tasks only need
// its shapes and a deterministic encoding); odd widths so that joint_dim (24)
// != pooled_dim (20). Header-only, for the test programs that include it.
#ifndef SILT_TEST_TINY_WORLD_CLIP_H
#define SILT_TEST_TINY_WORLD_CLIP_H

#include "check.h"
#include "text/world_clip.h"

// patch: the image tower's patch (8: a 4 x 4 grid; 4: the 8 x 8 grid of the
// MMDiT presets' tokens, which REPA needs).
static inline void tiny_world_clip_write_patch(const char *path, int patch) {
    wclip_config c = wclip_default_config();
    c.width = 24, c.layers = 1, c.heads = 2, c.embed_dim = 20, c.patch = patch, c.img_width = 24, c.img_layers = 1,
    c.img_heads = 2;
    wclip_model *m = NULL;
    CHECK_OK(wclip_create(&c, 3, &m));
    CHECK_OK(wclip_save(m, path));
    wclip_free(m);
}

static inline void tiny_world_clip_write(const char *path) { tiny_world_clip_write_patch(path, 8); }

#endif
