// SPDX-License-Identifier: Apache-2.0
// cuact-bench --softmax-tuning: float32 softmax planned with thresholds other than the library's
// (cuact::detail::SoftmaxTuning) and launched on the bench's own copy of the library's kernels,
// so that one run on a GPU times the plans each threshold would give.
#pragma once

#include <cuda_runtime_api.h>

#include "cuact/softmax.hpp"
#include "cuda/softmax_plan.hpp"

namespace bench {

//! The plan the library's planner makes for a float32 softmax call with tensors a, b (forward:
//! x, y) or a, b, c (backward: y, dy, dx) on the current device under `tuning`, with the device's
//! cluster and cooperative limits worked out as the library does.
cuact::detail::SoftmaxPlan tuned_softmax_plan(const cuact::SoftmaxShape& s, bool backward,
                                              const void* a, const void* b, const void* c,
                                              const cuact::detail::SoftmaxTuning& tuning);

//! Launches plan `p` (from tuned_softmax_plan for the same shape and tensors) on `stream`:
//! forward y = softmax(a) into `out` (b unused), backward dx = out from y = a and dy = b.
//! Only the tiers the tuned thresholds choose between have kernels here (kSmemRow, kClusterRow,
//! kGridRow, kBlockRow and the column tiles); any other returns cudaErrorNotSupported.
cudaError_t launch_tuned_softmax(const cuact::detail::SoftmaxPlan& p, bool backward, const float* a,
                                 const float* b, float* out, const cuact::SoftmaxShape& s,
                                 cudaStream_t stream);

}  // namespace bench
