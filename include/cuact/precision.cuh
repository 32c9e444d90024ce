// SPDX-License-Identifier: Apache-2.0
//! @file cuact/precision.cuh
//! The library's precision rule, public so fused user kernels can follow it exactly: float16 and
//! bfloat16 are computed in float (the functors' fast float overloads), float32 and float64 in
//! double (the accurate overloads), and the result is rounded once to the storage type.
//!
//! @code
//!   template <class T>
//!   __global__ void my_silu(const T* x, T* y, int n) {
//!     int i = blockIdx.x * blockDim.x + threadIdx.x;
//!     if (i < n) y[i] = cuact::from_compute<T>(cuact::Silu{}.forward(cuact::to_compute(x[i])));
//!   }
//! @endcode
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "cuact/detail/numeric.cuh"

namespace cuact {

template <class T>
struct ComputeOf {
  using type = double;  //!< float and double storage
};
template <>
struct ComputeOf<__half> {
  using type = float;
};
template <>
struct ComputeOf<__nv_bfloat16> {
  using type = float;
};
//! The type a storage type T is computed in.
template <class T>
using compute_t = typename ComputeOf<T>::type;

CUACT_HD float to_compute(__half v) { return __half2float(v); }
CUACT_HD float to_compute(__nv_bfloat16 v) { return __bfloat162float(v); }
CUACT_HD double to_compute(float v) { return v; }
CUACT_HD double to_compute(double v) { return v; }

//! Rounds a compute-type value once, to nearest even, to the storage type T.
template <class T>
CUACT_HD T from_compute(compute_t<T> v) {
  if constexpr (std::is_same_v<T, __half>) {
    return __float2half_rn(v);
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __float2bfloat16_rn(v);
  } else {
    return static_cast<T>(v);
  }
}

}  // namespace cuact
