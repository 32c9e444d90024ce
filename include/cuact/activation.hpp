// SPDX-License-Identifier: Apache-2.0
//! @file cuact/activation.hpp
//! Host API: elementwise activations, forward and backward, on device memory.
//!
//! Contracts shared by every function here:
//!  - **Stream**: work is enqueued on `stream` (0 = the legacy default stream) and the call
//!    returns without synchronising. No allocation, no host-device copy, no device-wide query
//!    after the first call on a device: safe inside CUDA graph capture.
//!  - **Pointers**: device (or managed) memory, aligned to the element size. Any further
//!    alignment is fine; inputs and outputs may be misaligned differently.
//!  - **Aliasing**: an output may be identical to an input (in place: y == x, dx == dy or
//!    dx == saved); any other overlap is rejected with Status::kErrorPartialOverlap.
//!  - **Sizes**: n is an element count (64-bit, any value >= 0); n == 0 succeeds and launches
//!    nothing (pointers may then be null).
//!  - **Errors**: invalid arguments return a specific Status, launch nothing and leave the CUDA
//!    error state untouched; last_error_detail() names the argument.
//!  - **Precision**: float16/bfloat16 computed in float32, float32 in float64, float64 in
//!    float64; each result rounded once to the output type.
//!
//! @code
//!   cuact::ActParams p;  // Keras defaults
//!   cuact::Status s = cuact::forward(cuact::Op::kGelu, d_x, d_y, n, p, stream);
//!   s = cuact::backward(cuact::Op::kGelu, d_dy, d_x, cuact::Saved::kInput, d_dx, n, p, stream);
//!   if (s != cuact::Status::kSuccess) std::puts(cuact::last_error_detail());
//! @endcode
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuact/export.hpp"
#include "cuact/types.hpp"

namespace cuact {

//! y = f(x) elementwise for `n` elements of `dtype`.
CUACT_API Status forward(Op op, DType dtype, const void* x, void* y, int64_t n,
                         const ActParams& params, cudaStream_t stream) noexcept;

//! dx = dy * f'(.) elementwise. `saved` is the forward input x (Saved::kInput, every op) or the
//! forward output y (Saved::kOutput: ops whose derivative is a function of y; asking for one
//! that has none returns Status::kErrorGradientNeedsInput).
CUACT_API Status backward(Op op, DType dtype, const void* dy, const void* saved, Saved which,
                          void* dx, int64_t n, const ActParams& params,
                          cudaStream_t stream) noexcept;

//! True when `op` with `params` has a derivative expressible in y (so Saved::kOutput works).
CUACT_API bool has_output_derivative(Op op, const ActParams& params) noexcept;

//! Stable lower-case name of an op ("gelu", "leaky_relu", ...); "unknown" outside Op.
CUACT_API const char* op_name(Op op) noexcept;

//! Name of a dtype ("float32", "float16", "bfloat16", "float64"); "unknown" outside DType.
CUACT_API const char* dtype_name(DType dtype) noexcept;

// ---- typed overloads ---------------------------------------------------------------------

#define CUACT_TYPED_OVERLOADS(T, DT)                                                        \
  inline Status forward(Op op, const T* x, T* y, int64_t n, const ActParams& params,        \
                        cudaStream_t stream) noexcept {                                     \
    return forward(op, DT, x, y, n, params, stream);                                        \
  }                                                                                         \
  inline Status backward(Op op, const T* dy, const T* saved, Saved which, T* dx, int64_t n, \
                         const ActParams& params, cudaStream_t stream) noexcept {           \
    return backward(op, DT, dy, saved, which, dx, n, params, stream);                       \
  }
CUACT_TYPED_OVERLOADS(float, DType::kFloat32)
CUACT_TYPED_OVERLOADS(__half, DType::kFloat16)
CUACT_TYPED_OVERLOADS(__nv_bfloat16, DType::kBFloat16)
CUACT_TYPED_OVERLOADS(double, DType::kFloat64)
#undef CUACT_TYPED_OVERLOADS

}  // namespace cuact
