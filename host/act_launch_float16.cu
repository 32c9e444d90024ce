// SPDX-License-Identifier: Apache-2.0
// Every activation kernel for float16 (one translation unit per dtype keeps the build parallel).
#include "host/act_launch.cuh"

CUACT_DEFINE_LAUNCHERS(float16, __half)
