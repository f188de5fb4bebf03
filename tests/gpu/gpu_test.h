// The opening of every gpu test's main: ctest's SKIP (exit 77) without a
// usable GPU, else the device's name on stdout (for the logs of a lease).
#ifndef SILT_TESTS_GPU_TEST_H
#define SILT_TESTS_GPU_TEST_H

#include <stdio.h>

#include "cuda/cuda.h"

#define GPU_TEST_START()                                                                    \
    do {                                                                                    \
        if (!silt_cuda_available()) {                                                       \
            printf("SKIP: no GPU\n");                                                       \
            return 77;                                                                      \
        }                                                                                   \
        char gpu_desc_[512];                                                                \
        if (silt_cuda_describe(gpu_desc_, sizeof gpu_desc_) == SILT_OK) printf("device: %s\n", gpu_desc_); \
    } while (0)

#endif
