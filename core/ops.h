// All CPU ops (graph level and raw kernels), for model code.
#ifndef SILT_OPS_H
#define SILT_OPS_H

#include "core/graph.h"
#include "core/ops_attention.h"
#include "core/ops_conv.h"
#include "core/ops_elementwise.h"
#include "core/ops_linear.h"
#include "core/ops_modulate.h"
#include "core/ops_norm.h"
#include "core/ops_reduce.h"
#include "core/ops_resample.h"
#include "core/ops_shape.h"

#endif
