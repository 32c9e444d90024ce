// SPDX-License-Identifier: Apache-2.0
//! @file cuact/op_table.hpp
//! The one list of ops: enum value, functor type, name. Everything that switches over ops
//! (dispatch, names, validation tests) expands this list, so adding an op is one line here plus
//! its functor.
#pragma once

#include "cuact/functors.cuh"

#define CUACT_FOR_EACH_OP(X)                                        \
  X(kLinear, ::cuact::Linear, "linear")                             \
  X(kRelu, ::cuact::Relu, "relu")                                   \
  X(kElu, ::cuact::Elu, "elu")                                      \
  X(kSelu, ::cuact::Selu, "selu")                                   \
  X(kSoftplus, ::cuact::Softplus, "softplus")                       \
  X(kSoftsign, ::cuact::Softsign, "softsign")                       \
  X(kTanh, ::cuact::Tanh, "tanh")                                   \
  X(kSigmoid, ::cuact::Sigmoid, "sigmoid")                          \
  X(kHardSigmoid, ::cuact::HardSigmoid, "hard_sigmoid")             \
  X(kExponential, ::cuact::Exponential, "exponential")              \
  X(kLeakyRelu, ::cuact::LeakyRelu, "leaky_relu")                   \
  X(kThresholdedRelu, ::cuact::ThresholdedRelu, "thresholded_relu") \
  X(kRelu6, ::cuact::Relu6, "relu6")                                \
  X(kGelu, ::cuact::Gelu, "gelu")                                   \
  X(kGeluTanh, ::cuact::GeluTanh, "gelu_tanh")                      \
  X(kSilu, ::cuact::Silu, "silu")                                   \
  X(kMish, ::cuact::Mish, "mish")                                   \
  X(kHardSwish, ::cuact::HardSwish, "hard_swish")                   \
  X(kCelu, ::cuact::Celu, "celu")                                   \
  X(kLogSigmoid, ::cuact::LogSigmoid, "log_sigmoid")                \
  X(kHardSigmoidRelu6, ::cuact::HardSigmoidRelu6, "hard_sigmoid_relu6")
