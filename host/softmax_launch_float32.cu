// SPDX-License-Identifier: Apache-2.0
// Every softmax kernel for float32.
#include "host/softmax_launch.cuh"

CUACT_DEFINE_SOFTMAX_LAUNCHERS(float32, float)
