// SPDX-License-Identifier: Apache-2.0
// Every softmax kernel for bfloat16.
#include "host/softmax_launch.cuh"

CUACT_DEFINE_SOFTMAX_LAUNCHERS(bfloat16, __nv_bfloat16)
