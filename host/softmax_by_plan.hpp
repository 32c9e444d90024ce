// SPDX-License-Identifier: Apache-2.0
//! @file host/softmax_by_plan.hpp
//! Softmax planned under other thresholds than the library's, and launched by that plan, on the
//! library's own kernels: what cuact-bench --softmax-tuning times to choose the thresholds
//! (cuda/softmax_plan.hpp, SoftmaxTuning). Exported by libcuact, but not installed and not a
//! stable API: the plan's layout changes with the kernels.
//!
//! Both functions validate their arguments as cuact::softmax_forward / softmax_backward do
//! (statuses, the detail message) and make no allocation and no synchronisation. Forward: a = x,
//! b = y (the output, for its alignment; pass it as `out` too); backward: a = y, b = dy, c = dx.
//!
//!   SoftmaxPlan p;
//!   SoftmaxTuning t = softmax_default_tuning(4);
//!   t.few_rows_max_cluster = 16;
//!   softmax_plan_tuned(DType::kFloat32, false, x, y, nullptr, shape, t, stream, &p);
//!   softmax_launch_planned(SoftmaxKind::kSoftmax, DType::kFloat32, false, p, x, nullptr, y,
//!                          shape, stream);
#pragma once

#include <cuda_runtime_api.h>

#include "cuact/export.hpp"
#include "cuact/softmax.hpp"
#include "cuact/types.hpp"
#include "cuda/softmax_plan.hpp"

namespace cuact::detail {

//! The plan cuact::softmax_forward (backward: softmax_backward) would launch for these tensors on
//! the current device if its thresholds were `tuning` (softmax_default_tuning of the element
//! size: exactly what the library launches). *plan is left default-constructed for an empty
//! tensor. A threshold outside SoftmaxTuning's ranges is kErrorInvalidParameter, naming it.
CUACT_API Status softmax_plan_tuned(DType dtype, bool backward, const void* a, const void* b,
                                    const void* c, const SoftmaxShape& shape,
                                    const SoftmaxTuning& tuning, cudaStream_t stream,
                                    SoftmaxPlan* plan) noexcept;

//! Launches `plan` (from softmax_plan_tuned for the same dtype, direction, shape and tensor
//! addresses; any other plan may break the kernels' contracts) on `stream`, with the default
//! SoftmaxOptions: forward out = softmax(a) (b unused), backward out = dx from y = a, dy = b.
//! Unlike softmax_forward, a cluster or cooperative launch the device refuses is not re-planned:
//! it returns kErrorCudaLaunch.
CUACT_API Status softmax_launch_planned(SoftmaxKind kind, DType dtype, bool backward,
                                        const SoftmaxPlan& plan, const void* a, const void* b,
                                        void* out, const SoftmaxShape& shape,
                                        cudaStream_t stream) noexcept;

}  // namespace cuact::detail
