// Helpers shared by image.c, image_png.c and image_grid.c (not public API).
#ifndef SILT_IMAGE_PRIVATE_H
#define SILT_IMAGE_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

// Whole file into a malloc'd buffer (one spare byte at the end); files over
// 2 GiB are refused. On failure nothing is allocated.
silt_status silt_image_read_file_(const char *path, uint8_t **buf, size_t *len);

#endif
