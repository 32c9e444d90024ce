// SPDX-License-Identifier: Apache-2.0
//! @file host/elementwise_by_loads.hpp
//! cuact::forward / backward with the elementwise kernels' way in chosen by the caller rather than
//! by the device: what cuact-bench times to compare the staged (bulk-copy) path with the 16-byte
//! vector loads on the same kernels, and what the GPU tests use to check both. Exported by
//! libcuact, but not installed and not a stable API.
//!
//! Both functions validate and launch exactly as cuact::forward / backward do (statuses, the
//! detail message, no allocation, no synchronisation), on the caller's stream.
//!
//!   forward_with_loads(ElementwiseLoads::kVector, Op::kGelu, DType::kBFloat16, x, y, n,
//!                      ActParams{}, stream);
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuact/activation.hpp"
#include "cuact/export.hpp"
#include "cuact/types.hpp"

namespace cuact::detail {

enum class ElementwiseLoads {
  kDevice,  //!< what cuact::forward does: staged on sm_90 and later, vector loads before
  kVector,  //!< 16-byte vector loads, every thread's loads in flight before its math
  kStaged,  //!< bulk copies into shared memory (kernels built for sm_90 and later; an older
            //!< kernel image ignores the staging memory and loads vectors)
};

CUACT_API Status forward_with_loads(ElementwiseLoads loads, Op op, DType dtype, const void* x,
                                    void* y, int64_t n, const ActParams& params,
                                    cudaStream_t stream) noexcept;

CUACT_API Status backward_with_loads(ElementwiseLoads loads, Op op, DType dtype, const void* dy,
                                     const void* saved, Saved which, void* dx, int64_t n,
                                     const ActParams& params, cudaStream_t stream) noexcept;

}  // namespace cuact::detail
