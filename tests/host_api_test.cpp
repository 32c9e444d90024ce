// SPDX-License-Identifier: Apache-2.0
//! Argument validation, statuses and the C ABI, on the CPU. Every invalid call must return its
//! specific status before the library touches the device: on a machine without a GPU a call that
//! got past validation returns kErrorNoDevice instead, so a specific status proves nothing was
//! launched. The CUDA error state must be the same before and after.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "cuact/activation.hpp"
#include "cuact/cuact.h"
#include "cuact/functors.cuh"
#include "cuact/op_table.hpp"
#include "host/elementwise_by_loads.hpp"
#include "tests/common/gpu_env.hpp"

namespace {

using cuact::ActParams;
using cuact::DType;
using cuact::Op;
using cuact::Saved;
using cuact::Status;

constexpr DType kAllDTypes[] = {DType::kFloat32, DType::kFloat16, DType::kBFloat16,
                                DType::kFloat64};

std::vector<Op> all_ops() {
  std::vector<Op> ops;
  for (int i = 0; i < cuact::kNumOps; ++i)
    ops.push_back(static_cast<Op>(i));
  return ops;
}

// Host memory stands in for device memory: validation never dereferences pointers.
alignas(16) double g_buffer_a[64];
alignas(16) double g_buffer_b[64];
void* A() {
  return g_buffer_a;
}
void* B() {
  return g_buffer_b;
}

//! Runs `call`, checks its status, that the detail names `needle`, and that the CUDA error
//! state did not change.
template <class Call>
void expect_rejected(Status expected, const std::string& needle, Call call) {
  const cudaError_t before = cudaPeekAtLastError();
  const Status got = call();
  EXPECT_EQ(got, expected) << "got " << cuact::status_string(got) << " ("
                           << cuact::last_error_detail() << "), expected "
                           << cuact::status_string(expected);
  EXPECT_NE(std::string(cuact::last_error_detail()).find(needle), std::string::npos)
      << "detail '" << cuact::last_error_detail() << "' does not mention '" << needle << "'";
  EXPECT_EQ(cudaPeekAtLastError(), before) << "the CUDA error state changed";
}

TEST(Validation, NullPointersWithPositiveSize) {
  const ActParams p;
  for (DType dt : kAllDTypes) {
    expect_rejected(Status::kErrorNullPointer, "x is null",
                    [&] { return cuact::forward(Op::kRelu, dt, nullptr, B(), 7, p, nullptr); });
    expect_rejected(Status::kErrorNullPointer, "y is null",
                    [&] { return cuact::forward(Op::kRelu, dt, A(), nullptr, 7, p, nullptr); });
    expect_rejected(Status::kErrorNullPointer, "dy is null", [&] {
      return cuact::backward(Op::kRelu, dt, nullptr, A(), Saved::kInput, B(), 7, p, nullptr);
    });
    expect_rejected(Status::kErrorNullPointer, "saved is null", [&] {
      return cuact::backward(Op::kRelu, dt, A(), nullptr, Saved::kInput, B(), 7, p, nullptr);
    });
    expect_rejected(Status::kErrorNullPointer, "dx is null", [&] {
      return cuact::backward(Op::kRelu, dt, A(), A(), Saved::kInput, nullptr, 7, p, nullptr);
    });
  }
}

TEST(Validation, NegativeSize) {
  const ActParams p;
  expect_rejected(Status::kErrorNegativeSize, "n = -1", [&] {
    return cuact::forward(Op::kGelu, DType::kFloat32, A(), B(), -1, p, nullptr);
  });
  expect_rejected(Status::kErrorNegativeSize, "n = -5", [&] {
    return cuact::backward(Op::kGelu, DType::kFloat32, A(), A(), Saved::kInput, B(), -5, p,
                           nullptr);
  });
}

TEST(Validation, ZeroSizeIsANoOpEvenWithNullPointers) {
  const ActParams p;
  for (Op op : all_ops()) {
    for (DType dt : kAllDTypes) {
      const cudaError_t before = cudaPeekAtLastError();
      EXPECT_EQ(cuact::forward(op, dt, nullptr, nullptr, 0, p, nullptr), Status::kSuccess);
      EXPECT_EQ(cuact::backward(op, dt, nullptr, nullptr, Saved::kInput, nullptr, 0, p, nullptr),
                Status::kSuccess);
      EXPECT_STREQ(cuact::last_error_detail(), "");
      EXPECT_EQ(cudaPeekAtLastError(), before);
    }
  }
}

TEST(Validation, UnknownOpDTypeAndSaved) {
  const ActParams p;
  for (int bad : {-1, cuact::kNumOps, 1000}) {
    expect_rejected(Status::kErrorUnknownOp, "op = " + std::to_string(bad), [&] {
      return cuact::forward(static_cast<Op>(bad), DType::kFloat32, A(), B(), 4, p, nullptr);
    });
    expect_rejected(Status::kErrorUnknownDType, "dtype = " + std::to_string(bad), [&] {
      return cuact::forward(Op::kRelu, static_cast<DType>(bad), A(), B(), 4, p, nullptr);
    });
    expect_rejected(Status::kErrorUnknownSaved, "which = " + std::to_string(bad), [&] {
      return cuact::backward(Op::kRelu, DType::kFloat32, A(), A(), static_cast<Saved>(bad), B(), 4,
                             p, nullptr);
    });
  }
}

// The bench's and GPU tests' entry points (host/elementwise_by_loads.hpp) validate as forward /
// backward do, and reject a way in that is not an ElementwiseLoads before anything else.
TEST(Validation, ElementwiseLoadsEntryPoints) {
  using cuact::detail::ElementwiseLoads;
  const ActParams p;
  for (int bad : {-1, 3, 1000}) {
    const auto loads = static_cast<ElementwiseLoads>(bad);
    expect_rejected(Status::kErrorInvalidParameter, "loads = " + std::to_string(bad), [&] {
      return cuact::detail::forward_with_loads(loads, Op::kRelu, DType::kFloat32, A(), B(), 4, p,
                                               nullptr);
    });
    expect_rejected(Status::kErrorInvalidParameter, "loads = " + std::to_string(bad), [&] {
      return cuact::detail::backward_with_loads(loads, Op::kRelu, DType::kFloat32, A(), A(),
                                                Saved::kInput, B(), 4, p, nullptr);
    });
  }
  for (ElementwiseLoads loads :
       {ElementwiseLoads::kDevice, ElementwiseLoads::kVector, ElementwiseLoads::kStaged}) {
    expect_rejected(Status::kErrorNegativeSize, "n = -1", [&] {
      return cuact::detail::forward_with_loads(loads, Op::kRelu, DType::kFloat32, A(), B(), -1, p,
                                               nullptr);
    });
    EXPECT_EQ(cuact::detail::forward_with_loads(loads, Op::kGelu, DType::kBFloat16, nullptr,
                                                nullptr, 0, p, nullptr),
              Status::kSuccess);
    EXPECT_EQ(cuact::detail::backward_with_loads(loads, Op::kGelu, DType::kBFloat16, nullptr,
                                                 nullptr, Saved::kInput, nullptr, 0, p, nullptr),
              Status::kSuccess);
  }
}

TEST(Validation, OutputGradientOfAnOpWithoutOne) {
  const ActParams p;
  for (Op op : {Op::kGelu, Op::kGeluTanh, Op::kSilu, Op::kMish, Op::kHardSwish}) {
    expect_rejected(Status::kErrorGradientNeedsInput, cuact::op_name(op), [&] {
      return cuact::backward(op, DType::kBFloat16, A(), A(), Saved::kOutput, B(), 8, p, nullptr);
    });
  }
  struct Case {
    Op op;
    ActParams params;
  };
  std::vector<Case> cases;
  ActParams q;
  q.relu_alpha = -0.1;
  cases.push_back({Op::kRelu, q});
  q = ActParams{};
  q.relu_threshold = -1.0;
  cases.push_back({Op::kRelu, q});
  q = ActParams{};
  q.elu_alpha = -1.0;
  cases.push_back({Op::kElu, q});
  q = ActParams{};
  q.leaky_alpha = -0.5;
  cases.push_back({Op::kLeakyRelu, q});
  q = ActParams{};
  q.celu_alpha = -2.0;
  cases.push_back({Op::kCelu, q});
  q = ActParams{};
  q.theta = -0.5;
  cases.push_back({Op::kThresholdedRelu, q});
  for (const Case& c : cases) {
    EXPECT_FALSE(cuact::has_output_derivative(c.op, c.params)) << cuact::op_name(c.op);
    EXPECT_TRUE(cuact::has_output_derivative(c.op, ActParams{})) << cuact::op_name(c.op);
    expect_rejected(Status::kErrorGradientNeedsInput, cuact::op_name(c.op), [&] {
      return cuact::backward(c.op, DType::kFloat32, A(), A(), Saved::kOutput, B(), 8, c.params,
                             nullptr);
    });
  }
}

TEST(Validation, HasOutputDerivativeMatchesTheFunctors) {
#define CUACT_CHECK_Y(e, F, name) \
  EXPECT_EQ(cuact::has_output_derivative(Op::e, ActParams{}), F::kHasOutputDerivative) << name;
  CUACT_FOR_EACH_OP(CUACT_CHECK_Y)
#undef CUACT_CHECK_Y
}

TEST(Validation, PartialOverlapAndInPlace) {
  const ActParams p;
  float* base = reinterpret_cast<float*>(g_buffer_a);
  expect_rejected(Status::kErrorPartialOverlap, "y and x overlap", [&] {
    return cuact::forward(Op::kTanh, DType::kFloat32, base, base + 1, 8, p, nullptr);
  });
  expect_rejected(Status::kErrorPartialOverlap, "dx and dy overlap", [&] {
    return cuact::backward(Op::kTanh, DType::kFloat32, base + 3, base + 40, Saved::kOutput, base, 8,
                           p, nullptr);
  });
  expect_rejected(Status::kErrorPartialOverlap, "dx and saved overlap", [&] {
    return cuact::backward(Op::kTanh, DType::kFloat32, base + 40, base + 7, Saved::kOutput, base, 8,
                           p, nullptr);
  });
  // Adjacent ranges and identical pointers pass validation (then need a device).
  const Status adjacent = cuact::forward(Op::kTanh, DType::kFloat32, base, base + 8, 8, p, nullptr);
  const Status in_place = cuact::forward(Op::kTanh, DType::kFloat32, base, base, 8, p, nullptr);
  const Status bwd_in_place =
      cuact::backward(Op::kTanh, DType::kFloat32, base, base, Saved::kOutput, base, 8, p, nullptr);
  for (Status s : {adjacent, in_place, bwd_in_place}) {
    EXPECT_TRUE(s == Status::kErrorNoDevice || s == Status::kSuccess) << cuact::status_string(s);
  }
  if (cuact_test::gpu_unavailable_reason().empty()) (void)cudaGetLastError();
}

TEST(Validation, MisalignedPointers) {
  const ActParams p;
  char* bytes = reinterpret_cast<char*>(g_buffer_a);
  expect_rejected(Status::kErrorMisalignedPointer, "x = ", [&] {
    return cuact::forward(Op::kRelu, DType::kFloat32, bytes + 2, B(), 4, p, nullptr);
  });
  expect_rejected(Status::kErrorMisalignedPointer, "dx = ", [&] {
    return cuact::backward(Op::kRelu, DType::kFloat16, A(), B(), Saved::kInput, bytes + 33, 4, p,
                           nullptr);
  });
  expect_rejected(Status::kErrorMisalignedPointer, "saved = ", [&] {
    return cuact::backward(Op::kRelu, DType::kFloat64, A(), bytes + 4, Saved::kInput, B(), 4, p,
                           nullptr);
  });
}

TEST(Validation, ParametersThatMakeNoSense) {
  const double nan = std::nan("");
  const double inf = HUGE_VAL;
  struct Case {
    Op op;
    const char* field;
    void (*set)(ActParams&, double);
    double value;
  };
  const Case cases[] = {
      {Op::kRelu, "relu_alpha", [](ActParams& p, double v) { p.relu_alpha = v; }, nan},
      {Op::kRelu, "relu_alpha", [](ActParams& p, double v) { p.relu_alpha = v; }, inf},
      {Op::kRelu, "relu_threshold", [](ActParams& p, double v) { p.relu_threshold = v; }, nan},
      {Op::kRelu, "relu_max_value", [](ActParams& p, double v) { p.relu_max_value = v; }, -1.0},
      {Op::kRelu, "relu_max_value", [](ActParams& p, double v) { p.relu_max_value = v; }, nan},
      {Op::kElu, "elu_alpha", [](ActParams& p, double v) { p.elu_alpha = v; }, nan},
      {Op::kLeakyRelu, "leaky_alpha", [](ActParams& p, double v) { p.leaky_alpha = v; }, nan},
      {Op::kThresholdedRelu, "theta", [](ActParams& p, double v) { p.theta = v; }, -inf},
      {Op::kHardSigmoid, "hard_sigmoid_slope",
       [](ActParams& p, double v) { p.hard_sigmoid_slope = v; }, inf},
      {Op::kHardSigmoid, "hard_sigmoid_offset",
       [](ActParams& p, double v) { p.hard_sigmoid_offset = v; }, nan},
      {Op::kCelu, "celu_alpha", [](ActParams& p, double v) { p.celu_alpha = v; }, 0.0},
      {Op::kCelu, "celu_alpha", [](ActParams& p, double v) { p.celu_alpha = v; }, nan},
  };
  for (const Case& c : cases) {
    ActParams p;
    c.set(p, c.value);
    expect_rejected(Status::kErrorInvalidParameter, c.field, [&] {
      return cuact::forward(c.op, DType::kBFloat16, A(), B(), 16, p, nullptr);
    });
    expect_rejected(Status::kErrorInvalidParameter, c.field, [&] {
      return cuact::backward(c.op, DType::kFloat32, A(), A(), Saved::kInput, B(), 16, p, nullptr);
    });
  }
  // A field the op does not read is not validated: relu ignores elu_alpha.
  ActParams unused;
  unused.elu_alpha = nan;
  const Status s = cuact::forward(Op::kRelu, DType::kFloat32, A(), B(), 4, unused, nullptr);
  EXPECT_TRUE(s == Status::kErrorNoDevice || s == Status::kSuccess) << cuact::status_string(s);
  // relu max_value = +inf is Keras's None.
  EXPECT_TRUE(cuact::has_output_derivative(Op::kRelu, ActParams{}));
}

TEST(Validation, ValidCallWithoutADeviceReportsNoDevice) {
  if (cuact_test::gpu_unavailable_reason().empty()) {
    GTEST_SKIP() << "a GPU is present; the GPU tests cover valid calls";
  }
  const cudaError_t before = cudaPeekAtLastError();
  EXPECT_EQ(cuact::forward(Op::kRelu, DType::kFloat32, A(), B(), 4, ActParams{}, nullptr),
            Status::kErrorNoDevice);
  EXPECT_NE(std::string(cuact::last_error_detail()).find("no usable CUDA device"),
            std::string::npos);
  EXPECT_EQ(cudaPeekAtLastError(), before);
}

TEST(Names, OpsAndDTypesHaveDistinctNames) {
  std::set<std::string> names;
#define CUACT_CHECK_NAME(e, F, name)         \
  EXPECT_STREQ(cuact::op_name(Op::e), name); \
  EXPECT_STREQ(F::kName, name);              \
  EXPECT_EQ(F::kOp, Op::e);                  \
  names.insert(name);
  CUACT_FOR_EACH_OP(CUACT_CHECK_NAME)
#undef CUACT_CHECK_NAME
  EXPECT_EQ(names.size(), static_cast<size_t>(cuact::kNumOps));
  EXPECT_STREQ(cuact::op_name(static_cast<Op>(cuact::kNumOps)), "unknown");
  EXPECT_STREQ(cuact::dtype_name(DType::kBFloat16), "bfloat16");
  EXPECT_STREQ(cuact::dtype_name(static_cast<DType>(9)), "unknown");
  for (int s = 0; s <= static_cast<int>(Status::kErrorInvalidAxis); ++s) {
    EXPECT_STRNE(cuact::status_string(static_cast<Status>(s)), "unknown status") << s;
  }
}

TEST(CAbi, DefaultsMatchTheCppStruct) {
  cuactActParams c;
  cuactDefaultActParams(&c);
  const ActParams d;
  EXPECT_EQ(c.relu_alpha, d.relu_alpha);
  EXPECT_EQ(c.relu_max_value, d.relu_max_value);
  EXPECT_TRUE(std::isinf(c.relu_max_value));
  EXPECT_EQ(c.relu_threshold, d.relu_threshold);
  EXPECT_EQ(c.elu_alpha, 1.0);
  EXPECT_EQ(c.leaky_alpha, 0.3);
  EXPECT_EQ(c.theta, 1.0);
  EXPECT_EQ(c.hard_sigmoid_slope, 0.2);
  EXPECT_EQ(c.hard_sigmoid_offset, 0.5);
  EXPECT_EQ(c.celu_alpha, 1.0);
  EXPECT_EQ(cuactGetOpCount(), cuact::kNumOps);
  EXPECT_STREQ(cuactGetOpName(CUACT_OP_GELU_TANH), "gelu_tanh");
}

TEST(CAbi, StatusesCrossTheBoundary) {
  cuactActParams p;
  cuactDefaultActParams(&p);
  EXPECT_EQ(cuactForward(CUACT_OP_GELU, CUACT_DTYPE_FLOAT32, nullptr, B(), 3, &p, nullptr),
            CUACT_STATUS_NULL_POINTER);
  EXPECT_NE(std::string(cuactGetLastErrorDetail()).find("x is null"), std::string::npos);
  EXPECT_EQ(cuactForward(99, CUACT_DTYPE_FLOAT32, A(), B(), 3, nullptr, nullptr),
            CUACT_STATUS_UNKNOWN_OP);
  EXPECT_EQ(cuactForward(CUACT_OP_GELU, 7, A(), B(), 3, nullptr, nullptr),
            CUACT_STATUS_UNKNOWN_DTYPE);
  EXPECT_EQ(cuactBackward(CUACT_OP_SILU, CUACT_DTYPE_BFLOAT16, A(), A(), CUACT_SAVED_OUTPUT, B(), 3,
                          nullptr, nullptr),
            CUACT_STATUS_GRADIENT_NEEDS_INPUT);
  EXPECT_EQ(
      cuactBackward(CUACT_OP_SILU, CUACT_DTYPE_BFLOAT16, A(), A(), 5, B(), 3, nullptr, nullptr),
      CUACT_STATUS_UNKNOWN_SAVED);
  p.celu_alpha = 0.0;
  EXPECT_EQ(cuactForward(CUACT_OP_CELU, CUACT_DTYPE_FLOAT64, A(), B(), 3, &p, nullptr),
            CUACT_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(cuactForward(CUACT_OP_CELU, CUACT_DTYPE_FLOAT64, A(), B(), 0, &p, nullptr),
            CUACT_STATUS_INVALID_PARAMETER)
      << "parameters are validated even for n == 0";
  EXPECT_EQ(cuactForward(CUACT_OP_RELU, CUACT_DTYPE_FLOAT64, nullptr, nullptr, 0, nullptr, nullptr),
            CUACT_STATUS_SUCCESS);
  EXPECT_EQ(cuactHasOutputDerivative(CUACT_OP_SIGMOID, nullptr), 1);
  EXPECT_EQ(cuactHasOutputDerivative(CUACT_OP_GELU, nullptr), 0);
  EXPECT_STRNE(cuactGetStatusString(CUACT_STATUS_PARTIAL_OVERLAP), "unknown status");
}

}  // namespace
