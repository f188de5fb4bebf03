// ImageNet-1k class names, for class-conditional models (DiT): look a class
// up by id or by name.
#ifndef SILT_IMAGENET_CLASSES_H
#define SILT_IMAGENET_CLASSES_H

#include "core/status.h"

#define SILT_IMAGENET_CLASSES 1000

// torchvision's names in id order ("tench", ..., "golden retriever" = 207, ...).
extern const char *const silt_imagenet_classes[SILT_IMAGENET_CLASSES];

// The name of class `id`, or NULL when id is outside 0..999.
const char *silt_imagenet_class_name(int id);

// `arg` is a class id (decimal digits) or a name. Names match exactly first,
// then ignoring ASCII case; a case-insensitive name shared by two classes
// ("cardigan": 264 the dog, 474 the sweater) must be written exactly or as an
// id. Ids must be below num_classes (the model's class count, <= 1000 for
// names). SILT_ERR_ARG with a message naming the argument on failure.
silt_status silt_imagenet_class_parse(const char *arg, int num_classes, int *id_out);

#endif
