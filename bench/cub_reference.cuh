// SPDX-License-Identifier: Apache-2.0
// The reference point for cuact-bench: cub::DeviceTransform running the same cuact functor.
//
// CUB's transform is NVIDIA's tuned elementwise kernel (vector width, bytes in flight and, on
// Hopper, bulk copies chosen per architecture). Feeding it cuact's own element function
// (cuact::apply_forward: the same math, the same one rounding on store) separates "how good is
// our memory pipeline" from "how costly is the math".
#pragma once

#include <cub/device/device_transform.cuh>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuact/functors.cuh"
#include "cuact/op_table.hpp"
#include "cuact/precision.cuh"
#include "cuact/types.hpp"

namespace bench {

//! y = f(x) for one element of T, computed the way cuact computes it (cuact/precision.cuh).
template <class F, class T>
struct CubForward {
  F f;
  // The element exactly as cuact's kernels compute it (cuact/precision.cuh: float32 forms,
  // the 16-bit interval path, ...), so the two columns differ in the kernel, not the math.
  __device__ __forceinline__ T operator()(T x) const { return cuact::apply_forward(f, x); }
};

//! Calls fn(functor) with the functor struct for `op`, built from `params`; does nothing for an
//! op outside cuact::Op.
template <class Fn>
void with_functor(cuact::Op op, const cuact::ActParams& p, Fn&& fn) {
  switch (op) {
#define CUACT_BENCH_CASE(e, F, name) \
  case cuact::Op::e: return fn(F(p));
    CUACT_FOR_EACH_OP(CUACT_BENCH_CASE)
#undef CUACT_BENCH_CASE
  }
}

template <class T>
cudaError_t cub_forward_typed(cuact::Op op, const void* x, void* y, int64_t n,
                              const cuact::ActParams& p, cudaStream_t stream) {
  cudaError_t err = cudaErrorInvalidValue;  // stays so for an unknown op
  with_functor(op, p, [&](auto f) {
    err = cub::DeviceTransform::Transform(static_cast<const T*>(x), static_cast<T*>(y), n,
                                          CubForward<decltype(f), T>{f}, stream);
  });
  return err;
}

//! y = f(x) through cub::DeviceTransform, dispatched on dtype like cuact::forward.
inline cudaError_t cub_forward(cuact::Op op, cuact::DType dtype, const void* x, void* y, int64_t n,
                               const cuact::ActParams& p, cudaStream_t stream) {
  switch (dtype) {
    case cuact::DType::kFloat32: return cub_forward_typed<float>(op, x, y, n, p, stream);
    case cuact::DType::kFloat16: return cub_forward_typed<__half>(op, x, y, n, p, stream);
    case cuact::DType::kBFloat16: return cub_forward_typed<__nv_bfloat16>(op, x, y, n, p, stream);
    case cuact::DType::kFloat64: return cub_forward_typed<double>(op, x, y, n, p, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace bench
