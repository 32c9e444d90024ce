// SPDX-License-Identifier: Apache-2.0
//! Argument validation: pure host code, no CUDA calls, so every rule is tested on the CPU.
#include <cmath>
#include <cstdint>

#include "cuact/activation.hpp"
#include "cuact/functors.cuh"
#include "host/internal.hpp"
#include "cuact/op_table.hpp"

namespace cuact {
namespace detail {
namespace {

bool known_op(Op op) {
  return static_cast<int>(op) >= 0 && static_cast<int>(op) < kNumOps;
}

Status require_finite(const char* fn, const char* field, double v) {
  if (std::isfinite(v)) return Status::kSuccess;
  return fail(Status::kErrorInvalidParameter, "%s: params.%s must be finite (got %g)", fn, field,
              v);
}

}  // namespace

int dtype_size(DType dtype) noexcept {
  switch (dtype) {
    case DType::kFloat32: return 4;
    case DType::kFloat16: return 2;
    case DType::kBFloat16: return 2;
    case DType::kFloat64: return 8;
  }
  return 0;
}

Status validate_op_dtype_params(const char* fn, Op op, DType dtype, const ActParams& p) noexcept {
  if (!known_op(op)) {
    return fail(Status::kErrorUnknownOp, "%s: op = %d is not a cuact::Op", fn,
                static_cast<int>(op));
  }
  if (dtype_size(dtype) == 0) {
    return fail(Status::kErrorUnknownDType, "%s: dtype = %d is not a cuact::DType", fn,
                static_cast<int>(dtype));
  }
  Status s = Status::kSuccess;
  switch (op) {
    case Op::kRelu:
      if ((s = require_finite(fn, "relu_alpha", p.relu_alpha)) != Status::kSuccess) return s;
      if ((s = require_finite(fn, "relu_threshold", p.relu_threshold)) != Status::kSuccess)
        return s;
      if (std::isnan(p.relu_max_value) || p.relu_max_value < 0.0) {
        return fail(Status::kErrorInvalidParameter,
                    "%s: params.relu_max_value must be >= 0 (+inf for None), got %g", fn,
                    p.relu_max_value);
      }
      return s;
    case Op::kElu: return require_finite(fn, "elu_alpha", p.elu_alpha);
    case Op::kLeakyRelu: return require_finite(fn, "leaky_alpha", p.leaky_alpha);
    case Op::kThresholdedRelu: return require_finite(fn, "theta", p.theta);
    case Op::kHardSigmoid:
      if ((s = require_finite(fn, "hard_sigmoid_slope", p.hard_sigmoid_slope)) != Status::kSuccess)
        return s;
      return require_finite(fn, "hard_sigmoid_offset", p.hard_sigmoid_offset);
    case Op::kCelu:
      if ((s = require_finite(fn, "celu_alpha", p.celu_alpha)) != Status::kSuccess) return s;
      if (p.celu_alpha == 0.0) {
        return fail(Status::kErrorInvalidParameter, "%s: params.celu_alpha must be non-zero", fn);
      }
      return s;
    default: return s;
  }
}

Status validate_tensor(const char* fn, const char* name, const void* p, int64_t n,
                       DType dtype) noexcept {
  if (n > 0 && p == nullptr) {
    return fail(Status::kErrorNullPointer, "%s: %s is null while n = %lld", fn, name,
                static_cast<long long>(n));
  }
  const int size = dtype_size(dtype);
  if (reinterpret_cast<std::uintptr_t>(p) % size != 0) {
    return fail(Status::kErrorMisalignedPointer, "%s: %s = %p is not aligned to its %d-byte %s", fn,
                name, p, size, dtype_name(dtype));
  }
  return Status::kSuccess;
}

Status validate_aliasing(const char* fn, const char* out_name, const void* out, const char* in_name,
                         const void* in, int64_t n, DType dtype) noexcept {
  if (out == in) return Status::kSuccess;
  const auto bytes =
      static_cast<std::uintptr_t>(n) * static_cast<std::uintptr_t>(dtype_size(dtype));
  const auto o = reinterpret_cast<std::uintptr_t>(out);
  const auto i = reinterpret_cast<std::uintptr_t>(in);
  if (o < i + bytes && i < o + bytes) {
    return fail(Status::kErrorPartialOverlap,
                "%s: %s and %s overlap by part of their %lld elements (in place needs %s == %s)",
                fn, out_name, in_name, static_cast<long long>(n), out_name, in_name);
  }
  return Status::kSuccess;
}

Status validate_forward_tensors(const char* fn, const void* x, const void* y, int64_t n,
                                DType dtype) noexcept {
  CUACT_TRY(validate_tensor(fn, "x", x, n, dtype));
  CUACT_TRY(validate_tensor(fn, "y", y, n, dtype));
  return validate_aliasing(fn, "y", y, "x", x, n, dtype);
}

Status validate_backward_tensors(const char* fn, const char* in0_name, const void* in0,
                                 const char* in1_name, const void* in1, const char* out_name,
                                 const void* out, int64_t n, DType dtype) noexcept {
  CUACT_TRY(validate_tensor(fn, in0_name, in0, n, dtype));
  CUACT_TRY(validate_tensor(fn, in1_name, in1, n, dtype));
  CUACT_TRY(validate_tensor(fn, out_name, out, n, dtype));
  CUACT_TRY(validate_aliasing(fn, out_name, out, in0_name, in0, n, dtype));
  return validate_aliasing(fn, out_name, out, in1_name, in1, n, dtype);
}

}  // namespace detail

bool has_output_derivative(Op op, const ActParams& p) noexcept {
  bool functor_has_one = false;
  switch (op) {
#define CUACT_OP_HAS_Y(e, F, name) \
  case Op::e: functor_has_one = F::kHasOutputDerivative; break;
    CUACT_FOR_EACH_OP(CUACT_OP_HAS_Y)
#undef CUACT_OP_HAS_Y
  }
  if (!functor_has_one) return false;
  // y determines x's branch only when these parameters keep the sign of y equal to that of x.
  switch (op) {
    case Op::kRelu: return p.relu_alpha >= 0.0 && p.relu_threshold >= 0.0;
    case Op::kElu: return p.elu_alpha >= 0.0;
    case Op::kLeakyRelu: return p.leaky_alpha >= 0.0;
    case Op::kCelu: return p.celu_alpha > 0.0;
    case Op::kThresholdedRelu: return p.theta >= 0.0;
    default: return true;
  }
}

}  // namespace cuact
