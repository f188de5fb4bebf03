// gen/lib/imagenet_classes: ids, exact and case-insensitive names, ambiguity,
// range checks against the model's class count.
#include <string.h>

#include "check.h"
#include "gen/lib/imagenet_classes.h"

int main(void) {
    int id = -1;
    CHECK(!strcmp(silt_imagenet_class_name(0), "tench") && !strcmp(silt_imagenet_class_name(999), "toilet tissue"));
    CHECK(silt_imagenet_class_name(1000) == NULL && silt_imagenet_class_name(-1) == NULL);
    CHECK_OK(silt_imagenet_class_parse("207", 1000, &id));
    CHECK(id == 207);
    CHECK_OK(silt_imagenet_class_parse("golden retriever", 1000, &id));
    CHECK(id == 207);
    CHECK_OK(silt_imagenet_class_parse("Golden Retriever", 1000, &id));
    CHECK(id == 207);
    CHECK_OK(silt_imagenet_class_parse("Cardigan", 1000, &id));  // exact case wins
    CHECK(id == 264);
    CHECK_OK(silt_imagenet_class_parse("cardigan", 1000, &id));
    CHECK(id == 474);
    id = -1;
    CHECK(silt_imagenet_class_parse("CARDIGAN", 1000, &id) == SILT_ERR_ARG && id == -1);
    CHECK(strstr(silt_last_error(), "ambiguous") != NULL);
    CHECK(silt_imagenet_class_parse("golden", 1000, &id) == SILT_ERR_ARG);  // no prefix matches
    CHECK(strstr(silt_last_error(), "'golden'") != NULL);
    CHECK(silt_imagenet_class_parse("1000", 1000, &id) == SILT_ERR_ARG);
    CHECK(silt_imagenet_class_parse("10", 10, &id) == SILT_ERR_ARG);
    CHECK(strstr(silt_last_error(), "10 classes") != NULL);
    CHECK_OK(silt_imagenet_class_parse("9", 10, &id));
    CHECK(id == 9);
    CHECK(silt_imagenet_class_parse("goldfish", 1, &id) == SILT_ERR_ARG);  // id 1 of a 1-class model
    CHECK(silt_imagenet_class_parse("", 1000, &id) == SILT_ERR_ARG);
    CHECK(silt_imagenet_class_parse("-3", 1000, &id) == SILT_ERR_ARG);
    CHECK(silt_imagenet_class_parse("99999999999999999999", 1000, &id) == SILT_ERR_ARG);
    CHECK(silt_imagenet_class_parse("3", 0, &id) == SILT_ERR_ARG);
    return check_summary();
}
