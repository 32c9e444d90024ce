// SPDX-License-Identifier: Apache-2.0
// Every softmax kernel for float16.
#include "host/softmax_launch.cuh"

CUACT_DEFINE_SOFTMAX_LAUNCHERS(float16, __half)
