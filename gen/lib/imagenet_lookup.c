// Class lookup by id or name (imagenet_classes.h); the names themselves are
// generated into imagenet_classes.c.
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "gen/lib/imagenet_classes.h"

const char *silt_imagenet_class_name(int id) {
    return id >= 0 && id < SILT_IMAGENET_CLASSES ? silt_imagenet_classes[id] : NULL;
}

static bool ascii_case_equal(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
        if (x != y) return false;
    }
    return *a == *b;
}

silt_status silt_imagenet_class_parse(const char *arg, int num_classes, int *id_out) {
    if (!arg || !id_out) return SILT_FAIL(SILT_ERR_ARG, "class: NULL argument");
    if (num_classes <= 0) return SILT_FAIL(SILT_ERR_ARG, "class: the model is not class-conditional");
    bool digits = *arg != 0;
    for (const char *c = arg; *c; c++) digits = digits && *c >= '0' && *c <= '9';
    if (digits) {
        long v = 0;
        for (const char *c = arg; *c && v < 100000000; c++) v = v * 10 + (*c - '0');
        if (v >= num_classes)
            return SILT_FAIL(SILT_ERR_ARG, "class %s is out of range (the model has %d classes, 0..%d)", arg,
                             num_classes, num_classes - 1);
        *id_out = (int)v;
        return SILT_OK;
    }
    int found = -1;
    for (int i = 0; i < SILT_IMAGENET_CLASSES; i++)
        if (!strcmp(arg, silt_imagenet_classes[i])) { found = i; break; }
    if (found < 0) {
        int n = 0, first = -1, second = -1;
        for (int i = 0; i < SILT_IMAGENET_CLASSES; i++)
            if (ascii_case_equal(arg, silt_imagenet_classes[i])) {
                if (n == 0) first = i;
                else if (n == 1) second = i;
                n++;
            }
        if (n > 1)
            return SILT_FAIL(SILT_ERR_ARG, "class name '%s' is ambiguous: %d (%s) or %d (%s); give the id", arg, first,
                             silt_imagenet_classes[first], second, silt_imagenet_classes[second]);
        found = first;
    }
    if (found < 0)
        return SILT_FAIL(SILT_ERR_ARG, "unknown class name '%s' (an ImageNet class such as 'golden retriever', or an id)",
                         arg);
    if (found >= num_classes)
        return SILT_FAIL(SILT_ERR_ARG, "class '%s' is id %d, out of range for this model (%d classes)", arg, found,
                         num_classes);
    *id_out = found;
    return SILT_OK;
}
