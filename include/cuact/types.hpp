// SPDX-License-Identifier: Apache-2.0
//! @file cuact/types.hpp
//! Enumerations and parameter structs shared by the host API, the C ABI and the device functors.
//! The integer values of every enum are part of the stable C ABI (cuact/cuact.h): never renumber.
#pragma once

#include <cstdint>
#include <limits>

#include "cuact/export.hpp"

namespace cuact {

//! Element type of every tensor passed to one call. 16-bit types are computed in float32 and
//! rounded once on store; float32 is computed in float64 and rounded once; float64 in float64.
enum class DType : int {
  kFloat32 = 0,
  kFloat16 = 1,   //!< `__half`
  kBFloat16 = 2,  //!< `__nv_bfloat16`
  kFloat64 = 3,
};

//! Every elementwise activation. Parameters, where an op has any, come from ActParams.
enum class Op : int {
  kLinear = 0,       //!< x
  kRelu = 1,         //!< Keras relu(x, alpha, max_value, threshold), Keras 2 order of operations
  kElu = 2,          //!< x > 0 ? x : alpha * expm1(x)
  kSelu = 3,         //!< scale * elu(x, alpha) with the self-normalising constants
  kSoftplus = 4,     //!< log(1 + exp(x)), no threshold approximation
  kSoftsign = 5,     //!< x / (1 + |x|)
  kTanh = 6,         //!< tanh(x)
  kSigmoid = 7,      //!< 1 / (1 + exp(-x))
  kHardSigmoid = 8,  //!< clip(slope * x + offset, 0, 1); Keras 2 defaults 0.2, 0.5
  kExponential = 9,  //!< exp(x)
  kLeakyRelu = 10,   //!< x > 0 ? x : alpha * x
  kThresholdedRelu = 11,   //!< x > theta ? x : 0
  kRelu6 = 12,             //!< min(max(x, 0), 6)
  kGelu = 13,              //!< 0.5 * x * erfc(-x / sqrt(2)) (exact GELU)
  kGeluTanh = 14,          //!< 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
  kSilu = 15,              //!< x * sigmoid(x) (swish)
  kMish = 16,              //!< x * tanh(softplus(x))
  kHardSwish = 17,         //!< x * relu6(x + 3) / 6
  kCelu = 18,              //!< max(0, x) + min(0, alpha * expm1(x / alpha))
  kLogSigmoid = 19,        //!< -softplus(-x)
  kHardSigmoidRelu6 = 20,  //!< relu6(x + 3) / 6: the Keras 3 / PyTorch / JAX hard sigmoid
};

//! Number of values in Op; ops are numbered densely from 0.
inline constexpr int kNumOps = 21;

//! Which tensor the caller saved for the backward pass.
enum class Saved : int {
  kInput = 0,   //!< the forward input x: every op supports it
  kOutput = 1,  //!< the forward output y: only ops whose derivative is a function of y
};

//! Parameters of the parametrised ops, with Keras's defaults. Fields an op does not read are
//! ignored (and not validated) for that op.
struct ActParams {
  double relu_alpha = 0.0;  //!< relu: slope below the threshold (Keras `alpha`/`negative_slope`)
  double relu_max_value = std::numeric_limits<double>::infinity();  //!< relu: +inf means None
  double relu_threshold = 0.0;                                      //!< relu: `threshold`
  double elu_alpha = 1.0;            //!< elu (selu uses its fixed constants)
  double leaky_alpha = 0.3;          //!< leaky_relu (Keras LeakyReLU layer default)
  double theta = 1.0;                //!< thresholded_relu (strict x > theta)
  double hard_sigmoid_slope = 0.2;   //!< hard_sigmoid (Keras 2)
  double hard_sigmoid_offset = 0.5;  //!< hard_sigmoid (Keras 2)
  double celu_alpha = 1.0;           //!< celu; must be non-zero
};

//! Result of every host call. Values are stable (C ABI).
enum class Status : int {
  kSuccess = 0,
  kErrorNullPointer = 1,       //!< a tensor pointer is null while n > 0
  kErrorNegativeSize = 2,      //!< n < 0
  kErrorUnknownOp = 3,         //!< op outside Op
  kErrorUnknownDType = 4,      //!< dtype outside DType
  kErrorInvalidParameter = 5,  //!< NaN or out-of-range parameter for the chosen op
  kErrorGradientNeedsInput =
      6,  //!< Saved::kOutput for an op (or parameters) whose f' is not a function of y
  kErrorUnknownSaved = 7,       //!< saved-tensor selector outside Saved
  kErrorPartialOverlap = 8,     //!< output overlaps an input without being identical to it
  kErrorMisalignedPointer = 9,  //!< pointer not aligned to its element size
  kErrorCudaLaunch = 10,        //!< the CUDA runtime reported an error at launch
  kErrorNoDevice = 11,          //!< no usable CUDA device / driver
  kErrorInvalidShape = 12,      //!< reserved for shaped ops (softmax)
  kErrorInvalidAxis = 13,       //!< reserved for shaped ops (softmax)
};

//! Short, static, human-readable description of a status; never null.
CUACT_API const char* status_string(Status status) noexcept;

//! Details of the most recent failed call on this host thread, naming the argument and the
//! function (for example "cuact::forward: x is null while n = 7"). Empty after a success.
//! The buffer is thread-local and stays valid until the next cuact call on the same thread.
CUACT_API const char* last_error_detail() noexcept;

}  // namespace cuact
