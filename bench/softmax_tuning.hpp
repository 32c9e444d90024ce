// SPDX-License-Identifier: Apache-2.0
// cuact-bench --softmax-tuning: softmax planned with thresholds other than the library's
// (cuact::detail::SoftmaxTuning) and launched on the bench's own copy of the library's kernels,
// so that one run on a GPU times the plans each threshold would give, in float32 and bfloat16.
#pragma once

#include <cuda_runtime_api.h>

#include "cuact/softmax.hpp"
#include "cuact/types.hpp"
#include "cuda/softmax_plan.hpp"

namespace bench {

//! Whether the tuning kernels exist for `dtype` (float32 and bfloat16).
bool tuned_softmax_dtype(cuact::DType dtype);

//! The plan the library's planner makes for a softmax call of `dtype` with tensors a, b (forward:
//! x, y) or a, b, c (backward: y, dy, dx) on the current device under `tuning`, with the device's
//! cluster and cooperative limits worked out as the library does.
cuact::detail::SoftmaxPlan tuned_softmax_plan(cuact::DType dtype, const cuact::SoftmaxShape& s,
                                              bool backward, const void* a, const void* b,
                                              const void* c,
                                              const cuact::detail::SoftmaxTuning& tuning);

//! Launches plan `p` (from tuned_softmax_plan for the same dtype, shape and tensors) on `stream`:
//! forward y = softmax(a) into `out` (b unused), backward dx = out from y = a and dy = b.
//! Only the tiers the tuned thresholds choose between have kernels here (kSmemRow, kClusterRow,
//! kGridRow, kBlockRow and the column tiles); any other tier, or dtype, returns
//! cudaErrorNotSupported.
cudaError_t launch_tuned_softmax(cuact::DType dtype, const cuact::detail::SoftmaxPlan& p,
                                 bool backward, const void* a, const void* b, void* out,
                                 const cuact::SoftmaxShape& s, cudaStream_t stream);

}  // namespace bench
