// SPDX-License-Identifier: Apache-2.0
//! @file cuact/precision.cuh
//! The library's precision rule, public so fused user kernels can follow it exactly: float16 and
//! bfloat16 are computed in float (the functors' fast float overloads), float32 in float by the
//! float32 forms where an op has them (forward_f32, backward_f32) and otherwise in double, float64
//! in double (the accurate overloads), and the result is rounded once to the storage type.
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
#include <utility>

#include "cuact/detail/numeric.cuh"
#include "cuact/types.hpp"

namespace cuact {

namespace detail {
//! Detect<Op, Member>: whether Member<Op> (the type of a member call) is well-formed. The optional
//! functor members below are found this way.
template <class Op, template <class> class Member, class = void>
struct Detect : std::false_type {};
template <class Op, template <class> class Member>
struct Detect<Op, Member, std::void_t<Member<Op>>> : std::true_type {};

template <class Op>
using PreciseForwardMember = decltype(std::declval<const Op&>().forward_precise(0.0));
template <class Op>
using PreciseBackwardMember = decltype(std::declval<const Op&>().backward_precise(0.0, 0.0));
template <class Op>
using Float32ForwardMember = decltype(std::declval<const Op&>().forward_f32(0.0f));
template <class Op>
using Float32BackwardMember = decltype(std::declval<const Op&>().backward_f32(0.0f, 0.0f));
template <class Op>
using Float32BackwardFromOutputMember =
    decltype(std::declval<const Op&>().backward_from_output_f32(0.0f, 0.0f));
template <class Op>
using ForwardIntervalMember = decltype(std::declval<const Op&>().forward_interval(0.0f));
template <class Op>
using ExactFloatForwardMember = decltype(std::declval<const Op&>().exact_float_forward(0.0f));
}  // namespace detail

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

//! Ops whose only arithmetic is a line with decimal parameters (Keras relu, leaky_relu, the hard
//! sigmoids) set `static constexpr bool kComputeInDouble = true`: rounding their float result to
//! 16 bits could land exactly on a tie the exact value does not touch (a double rounding that
//! misrounds about 0.3% of float16 inputs), so they compute in double for every storage type and
//! round once from double (16-bit forward: after the float fast path of forward_interval below).
template <class Op, class = void>
struct ComputesInDouble : std::false_type {};
template <class Op>
struct ComputesInDouble<Op, std::void_t<decltype(Op::kComputeInDouble)>>
    : std::bool_constant<Op::kComputeInDouble> {};

//! The type op Op is computed in for storage type T.
template <class Op, class T>
using op_compute_t = std::conditional_t<ComputesInDouble<Op>::value, double, compute_t<T>>;

CUACT_HD float to_compute(__half v) {
  return __half2float(v);
}
//! bfloat16 to float is the 16 bits moved up (exact). Written as integer operations rather than
//! through __bfloat162float (inline asm, opaque to the optimiser): for an element unpacked from
//! the high half of a 32-bit word, the shift down and back up then folds into one AND.
CUACT_HD float to_compute(__nv_bfloat16 v) {
  unsigned short bits;
  __builtin_memcpy(&bits, &v, 2);
  const unsigned int word = static_cast<unsigned int>(bits) << 16;
  float f;
  __builtin_memcpy(&f, &word, 4);
  return f;
}
CUACT_HD double to_compute(float v) {
  return v;
}
CUACT_HD double to_compute(double v) {
  return v;
}

//! Rounds a float or double value once, to nearest even, to the storage type T.
template <class T, class C>
CUACT_HD T to_storage(C v) {
  if constexpr (std::is_same_v<T, __half>) {
    if constexpr (std::is_same_v<C, double>) {
      return __double2half(v);
    } else {
      return __float2half_rn(v);
    }
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    if constexpr (std::is_same_v<C, double>) {
      return __double2bfloat16(v);
    } else {
      return __float2bfloat16_rn(v);
    }
  } else {
    return static_cast<T>(v);
  }
}

//! Rounds a compute-type value once, to nearest even, to the storage type T.
template <class T>
CUACT_HD T from_compute(compute_t<T> v) {
  return to_storage<T>(v);
}

//! Ops whose double forward is enough for float32 but not for float64 results everywhere also
//! define `double forward_precise(double)`, used for float64 storage only.
template <class Op>
using HasPreciseForward = detail::Detect<Op, detail::PreciseForwardMember>;

//! Ops with a float-grade float32 form define `float forward_f32(float)` (within 2 ulp),
//! used for float32 storage instead of the double forward.
template <class Op>
using HasFloat32Forward = detail::Detect<Op, detail::Float32ForwardMember>;

//! Likewise `float backward_f32(float dy, float x)`: dy f'(x) for float32 storage.
template <class Op>
using HasFloat32Backward = detail::Detect<Op, detail::Float32BackwardMember>;

//! And `float backward_from_output_f32(float dy, float y)`: dy f'(x) from the output y, for
//! float32 storage (the y-based gradients of the other ops compute in double).
template <class Op>
using HasFloat32BackwardFromOutput = detail::Detect<Op, detail::Float32BackwardFromOutputMember>;

//! Ops that compute in double for 16-bit storage may also define
//! `detail::FloatInterval forward_interval(float x)`: bounds around their float result that hold
//! the exact value. When both bounds round to the same 16-bit value, that value is the correctly
//! rounded result (Ziv's rounding test) and the double path is skipped; near a 16-bit rounding
//! boundary (a few inputs in a thousand) the double path runs.
template <class Op>
using HasForwardInterval = detail::Detect<Op, detail::ForwardIntervalMember>;

//! Ops with a forward_interval may also define `bool exact_float_forward_applies() const` and
//! `float exact_float_forward(float x) const`: for parameters where the float form is exact
//! for 16-bit inputs (relu's default max(x, 0)), the 16-bit path is that form alone. The test is
//! uniform over a launch, so nvcc hoists it out of the unrolled elements.
template <class Op>
using HasExactFloatForward = detail::Detect<Op, detail::ExactFloatForwardMember>;

template <class T>
CUACT_HD bool same_bits(T a, T b) {
  static_assert(sizeof(T) == 2, "16-bit storage");
  unsigned short ua, ub;
  __builtin_memcpy(&ua, &a, 2);
  __builtin_memcpy(&ub, &b, 2);
#if defined(__CUDA_ARCH__)
  // The pair as one word, compared with itself halves swapped: nvcc converts both bounds into
  // one register, and compared as shorts it sign-extended each half first (four byte permutes
  // and a compare per element; this is one permute and a compare).
  const unsigned u = ua | (static_cast<unsigned>(ub) << 16);
  return u == __byte_perm(u, 0, 0x1032);
#else
  return ua == ub;
#endif
}

//! The double path behind forward_interval's fast path, out of line: it runs for a few inputs
//! in a thousand, and inlined into every unrolled element it tripled the 16-bit kernels' code.
//! The functor goes by value, in registers: by reference it needs an address, so every thread of
//! the kernel stored it to a stack frame first (Relu's 56 bytes, against 128 moved per thread).
template <class Op, class T>
CUACT_HD_COLD T forward_in_double(Op op, T x) {
  return to_storage<T>(op.forward(static_cast<double>(to_compute(x))));
}

//! One element of op `op` the way cuact computes it: f(x) in op_compute_t<Op, T>, rounded once.
template <class Op, class T>
CUACT_HD T apply_forward(const Op& op, T x) {
  using C = op_compute_t<Op, T>;
  if constexpr (std::is_same_v<T, double> && HasPreciseForward<Op>::value) {
    return op.forward_precise(x);
  } else if constexpr (std::is_same_v<T, float> && HasFloat32Forward<Op>::value) {
    return op.forward_f32(x);
  } else if constexpr (sizeof(T) == 2 && HasForwardInterval<Op>::value) {
    static_assert(std::is_same_v<C, double>, "forward_interval backs a double path");
    if constexpr (HasExactFloatForward<Op>::value) {
      if (op.exact_float_forward_applies())
        return to_storage<T>(op.exact_float_forward(to_compute(x)));
    }
    const detail::FloatInterval b = op.forward_interval(to_compute(x));
    const T lo = to_storage<T>(b.lo);
    if (same_bits(lo, to_storage<T>(b.hi))) return lo;
    return forward_in_double(op, x);
  } else {
    return to_storage<T>(op.forward(static_cast<C>(to_compute(x))));
  }
}

//! Ops whose f'(x) can overflow or go subnormal while dy * f'(x) is still representable (the
//! exponential tails) define `backward(dy, x)`, computing the product in one piece; for the others
//! it is dy * derivative(x).
template <class Op, class C, class = void>
struct HasFusedBackward : std::false_type {};
template <class Op, class C>  // the exact overload C backward(C, C): no float -> double promotion
struct HasFusedBackward<Op, C,
                        std::void_t<decltype(static_cast<C (Op::*)(C, C) const>(&Op::backward))>>
    : std::true_type {};

//! The same for `backward_from_output(dy, y)`.
template <class Op, class C, class = void>
struct HasFusedBackwardFromOutput : std::false_type {};
template <class Op, class C>
struct HasFusedBackwardFromOutput<
    Op, C, std::void_t<decltype(static_cast<C (Op::*)(C, C) const>(&Op::backward_from_output))>>
    : std::true_type {};

//! Likewise `double backward_precise(double dy, double x)`, used for float64 storage.
template <class Op>
using HasPreciseBackward = detail::Detect<Op, detail::PreciseBackwardMember>;

//! One element of the backward pass: dy * f'(saved), saved = x (Saved::kInput) or y.
template <Saved kSaved, class Op, class T>
CUACT_HD T apply_backward(const Op& op, T dy, T saved) {
  using C = op_compute_t<Op, T>;
  const C s = static_cast<C>(to_compute(saved));
  const C g = static_cast<C>(to_compute(dy));
  if constexpr (kSaved == Saved::kOutput && std::is_same_v<T, float> &&
                HasFloat32BackwardFromOutput<Op>::value) {
    return op.backward_from_output_f32(dy, saved);
  } else if constexpr (kSaved == Saved::kOutput && HasFusedBackwardFromOutput<Op, C>::value) {
    return to_storage<T>(op.backward_from_output(g, s));
  } else if constexpr (kSaved == Saved::kOutput) {
    return to_storage<T>(g * op.derivative_from_output(s));
  } else if constexpr (std::is_same_v<T, double> && HasPreciseBackward<Op>::value) {
    return op.backward_precise(g, s);
  } else if constexpr (std::is_same_v<T, float> && HasFloat32Backward<Op>::value) {
    return op.backward_f32(dy, saved);
  } else if constexpr (HasFusedBackward<Op, C>::value) {
    return to_storage<T>(op.backward(g, s));
  } else {
    return to_storage<T>(g * op.derivative(s));
  }
}

}  // namespace cuact
