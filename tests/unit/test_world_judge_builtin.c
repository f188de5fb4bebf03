// The shipped world-judge (models/world-judge.safetensors.zst, a world-CLIP
// with a judge head): it reads relations, which world-CLIP's cosine cannot
// (its cosine: 51% and 49% on the same test, measured with this test pointed at
// models/world-clip and wclip_score). On clean renders of the eval
// suite's position items its head's logit ranks the caption
// above the same caption with the relation flipped ("left of" <-> "right of",
// "above" <-> "below") and above the relation moved to the other axis, where
// the scene does not satisfy that. Measured 0.972 and 1.000 on the 72 items
// when shipped; asserted >= 0.9. Skips when the file is not there.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "text/world_clip.h"
#include "world/caption.h"
#include "world/suites.h"

static world_relation flipped(world_relation r) {
    switch (r) {
    case WORLD_REL_LEFT_OF: return WORLD_REL_RIGHT_OF;
    case WORLD_REL_RIGHT_OF: return WORLD_REL_LEFT_OF;
    case WORLD_REL_ABOVE: return WORLD_REL_BELOW;
    case WORLD_REL_BELOW: return WORLD_REL_ABOVE;
    default: return r;
    }
}

int main(void) {
    const char *src = getenv("SILT_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/models/world-judge.safetensors.zst", src && *src ? src : ".");
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("SKIP: no %s\n", path);
        return 77;
    }
    fclose(f);
    wclip_model *m = NULL;
    CHECK_OK(wclip_load_file(path, &m));
    if (!m) return check_summary();
    CHECK(wclip_get_config(m)->itm_layers > 0);
    const int S = wclip_get_config(m)->img_size;
    float *img = malloc(sizeof(float) * 3 * S * S);
    int n = 0, flip_ok = 0, axis_ok = 0, axis_n = 0;
    for (int64_t i = 0; i < world_suite_size(WORLD_SUITE_EVAL); i++) {
        world_item it;
        CHECK_OK(world_suite_item(WORLD_SUITE_EVAL, 0, i, &it));
        if (it.reqs.relation == WORLD_REL_NONE) continue;
        CHECK_OK(wclip_render(m, &it.scene, img));
        world_reqs fl = it.reqs, ax = it.reqs;
        fl.relation = flipped(it.reqs.relation);
        bool horizontal = it.reqs.relation == WORLD_REL_LEFT_OF || it.reqs.relation == WORLD_REL_RIGHT_OF;
        ax.relation = horizontal ? WORLD_REL_ABOVE : WORLD_REL_LEFT_OF;
        world_check chk;
        world_reqs_check_scene(&ax, &it.scene, &chk);
        const bool axis_false = !chk.pass;
        char cf[WORLD_CAPTION_MAX], ca[WORLD_CAPTION_MAX];
        CHECK_OK(world_caption_format(&fl, cf, sizeof cf));
        CHECK_OK(world_caption_format(&ax, ca, sizeof ca));
        const char *caps[3] = {it.caption, cf, ca};
        double sc[3];
        CHECK_OK(wclip_itm_scores(m, img, caps, 3, sc, NULL));
        n++;
        flip_ok += sc[0] > sc[1];
        if (axis_false) axis_n++, axis_ok += sc[0] > sc[2];
    }
    printf("world-judge on %d eval position renders: caption above its flipped relation %.3f, above the other axis %.3f (%d)\n",
           n, n ? (double)flip_ok / n : 0.0, axis_n ? (double)axis_ok / axis_n : 0.0, axis_n);
    CHECK(n >= 50);
    CHECK_MSG(flip_ok >= 0.9 * n, "flipped: %d of %d", flip_ok, n);
    CHECK_MSG(axis_n == 0 || axis_ok >= 0.9 * axis_n, "other axis: %d of %d", axis_ok, axis_n);
    free(img);
    wclip_free(m);
    return check_summary();
}
