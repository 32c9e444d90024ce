// SPDX-License-Identifier: Apache-2.0
// The reference point for cuact-bench: cub::DeviceTransform running the same cuact functor.
//
// CUB's transform is NVIDIA's tuned elementwise kernel (vector width, bytes in flight and, on
// Hopper, bulk copies chosen per architecture). Feeding it cuact's own functors in the same
// precision cuact promises (16-bit computed in float, float32 in double, float64 in double, one
// rounding on store) separates "how good is our memory pipeline" from "how costly is the math".
#pragma once

#include <cub/device/device_transform.cuh>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuact/functors.cuh"
#include "cuact/types.hpp"

namespace bench {

// ---- the library's precision rules, spelled out for one element ------------------------------

__device__ __forceinline__ float to_compute(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_compute(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ double to_compute(float x) { return x; }
__device__ __forceinline__ double to_compute(double x) { return x; }

__device__ __forceinline__ void round_to(float v, __half& out) { out = __float2half_rn(v); }
__device__ __forceinline__ void round_to(float v, __nv_bfloat16& out) {
  out = __float2bfloat16_rn(v);
}
__device__ __forceinline__ void round_to(double v, float& out) { out = __double2float_rn(v); }
__device__ __forceinline__ void round_to(double v, double& out) { out = v; }

//! y = f(x) for one element of T, computed the way cuact computes it.
template <class F, class T>
struct CubForward {
  F f;
  __device__ __forceinline__ T operator()(T x) const {
    T y;
    round_to(f.forward(to_compute(x)), y);
    return y;
  }
};

// ---- Op -> functor type ------------------------------------------------------------------------

//! Calls fn(functor) with the functor struct for `op`, built from `params`. Returns false for an
//! op outside cuact::Op. (The library has no public Op -> type mapping, so the bench keeps one.)
template <class Fn>
bool with_functor(cuact::Op op, const cuact::ActParams& p, Fn&& fn) {
  using cuact::Op;
  switch (op) {
    case Op::kLinear: fn(cuact::Linear(p)); return true;
    case Op::kRelu: fn(cuact::Relu(p)); return true;
    case Op::kElu: fn(cuact::Elu(p)); return true;
    case Op::kSelu: fn(cuact::Selu(p)); return true;
    case Op::kSoftplus: fn(cuact::Softplus(p)); return true;
    case Op::kSoftsign: fn(cuact::Softsign(p)); return true;
    case Op::kTanh: fn(cuact::Tanh(p)); return true;
    case Op::kSigmoid: fn(cuact::Sigmoid(p)); return true;
    case Op::kHardSigmoid: fn(cuact::HardSigmoid(p)); return true;
    case Op::kExponential: fn(cuact::Exponential(p)); return true;
    case Op::kLeakyRelu: fn(cuact::LeakyRelu(p)); return true;
    case Op::kThresholdedRelu: fn(cuact::ThresholdedRelu(p)); return true;
    case Op::kRelu6: fn(cuact::Relu6(p)); return true;
    case Op::kGelu: fn(cuact::Gelu(p)); return true;
    case Op::kGeluTanh: fn(cuact::GeluTanh(p)); return true;
    case Op::kSilu: fn(cuact::Silu(p)); return true;
    case Op::kMish: fn(cuact::Mish(p)); return true;
    case Op::kHardSwish: fn(cuact::HardSwish(p)); return true;
    case Op::kCelu: fn(cuact::Celu(p)); return true;
    case Op::kLogSigmoid: fn(cuact::LogSigmoid(p)); return true;
    case Op::kHardSigmoidRelu6: fn(cuact::HardSigmoidRelu6(p)); return true;
  }
  return false;
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
inline cudaError_t cub_forward(cuact::Op op, cuact::DType dtype, const void* x, void* y,
                               int64_t n, const cuact::ActParams& p, cudaStream_t stream) {
  switch (dtype) {
    case cuact::DType::kFloat32: return cub_forward_typed<float>(op, x, y, n, p, stream);
    case cuact::DType::kFloat16: return cub_forward_typed<__half>(op, x, y, n, p, stream);
    case cuact::DType::kBFloat16: return cub_forward_typed<__nv_bfloat16>(op, x, y, n, p, stream);
    case cuact::DType::kFloat64: return cub_forward_typed<double>(op, x, y, n, p, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace bench
