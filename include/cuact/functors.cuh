// SPDX-License-Identifier: Apache-2.0
//! @file cuact/functors.cuh
//! Header-only activation functors, one struct per op, usable in your own kernels
//! (CUTLASS-epilogue style). Every member is `__host__ __device__`.
//!
//! Each functor carries, side by side:
//!  - `forward(x)`: f(x)
//!  - `derivative(x)`: f'(x), taken from the forward input
//!  - `derivative_from_output(y)`: f'(x) expressed through y = f(x), where the math allows it
//!    (`kHasOutputDerivative`; for some ops only for some parameters, see each struct)
//!
//! Two precisions per op:
//!  - `double` overloads are accurate: float64 results within 2 ulp of the exact value (except
//!    near an interior zero of f', see README), and hence correctly rounded (within 0.5 ulp plus
//!    a negligible double-rounding term) after conversion to float. cuact's float32 kernels use
//!    them, rounded once, for the ops without the float32 forms below.
//!  - `float` overloads are fast formulations (few special-function instructions) whose error is
//!    far below half an ulp of float16/bfloat16: cuact's 16-bit kernels use them and round once.
//!    Their error against float32 is a few ulp, not 2: use the double overload for float32 outputs.
//!
//! Optional members, picked up by cuact/precision.cuh (apply_forward / apply_backward):
//!  - `kComputeInDouble`: the op computes in double for every storage type (decimal parameters;
//!    its double overloads round to odd so narrowing rounds correctly).
//!  - `forward_f32(float)`, `backward_f32(float dy, float x)`: float32 results computed in float
//!    to within 2 ulp (instead of in double, whose libm calls and FP64 rate cost the float32
//!    kernels most of their bandwidth on Hopper). Every transcendental op has both; softplus and
//!    log_sigmoid also `backward_from_output_f32(float dy, float y)`.
//!  - `forward_interval(float)` (16-bit results of the line ops: bounds for a rounding test;
//!    `exact_float_forward` where the float form is exact), see cuact/precision.cuh.
//!  - `forward_precise(double)`, `backward_precise(double, double)`: used instead of
//!    forward(double), backward(double, double) for float64 storage, where the double forms are
//!    only float32-grade (cheaper).
//!  - `backward(dy, x)` / `backward_from_output(dy, y)`: dy * f' in one piece, where f' alone can
//!    overflow or round into the subnormals while the product is representable.
//! In your own kernels, `cuact::apply_forward(op, x)` and `cuact::apply_backward<Saved>(op, dy, s)`
//! compute exactly what cuact's kernels compute for storage type T.
//!
//! Conventions (README "Semantics"): NaN in gives NaN out in every member; infinities give the
//! mathematical limit; at a kink f' follows PyTorch (relu'(0) = 0, leaky_relu'(0) = alpha,
//! relu6' = 0 at 0 and 6, hard_swish' = 0 at -3 and 1 at 3, hard sigmoids 0 at both corners).
//!
//! Example (a fused bias + GELU epilogue in your own kernel; to_compute / to_storage are in
//! cuact/precision.cuh):
//! @code
//!   __global__ void bias_gelu(const __nv_bfloat16* x, const __nv_bfloat16* b, __nv_bfloat16* y,
//!                             int n, int cols) {
//!     int i = blockIdx.x * blockDim.x + threadIdx.x;
//!     if (i < n) {
//!       float v = cuact::to_compute(x[i]) + cuact::to_compute(b[i % cols]);
//!       y[i] = cuact::to_storage<__nv_bfloat16>(cuact::Gelu{}.forward(v));
//!     }
//!   }
//! @endcode
#pragma once

#include <math.h>

#include "cuact/detail/numeric.cuh"
#include "cuact/types.hpp"

namespace cuact {

namespace detail {

//! A scalar parameter held in both compute precisions, so the fast path never converts.
struct Param {
  double d;
  float f;
  float lo;  //!< d - f rounded to float: d as a float pair (d = f + lo to 2^-48) for float32 forms
  Param() = default;
  CUACT_HD explicit Param(double v) : d(v) {
    const FloatPair s = split_to_floats(v);
    f = s.hi;
    lo = s.lo;
  }
  template <class T>
  CUACT_HD T get() const {
    if constexpr (sizeof(T) == sizeof(double)) {
      return d;
    } else {
      return f;
    }
  }
};

//! The double forms rounded to float, out of line: the rare paths of the float32 forms (extreme
//! parameters or dy, far tails), one copy per kernel instead of one per unrolled element. The
//! forward takes the functor by value, in registers: by reference, relu's kernels needed a
//! stack frame for its 92 bytes in every thread.
template <class Op>
CUACT_HD_COLD float forward_rounded(Op op, float x) {
  return static_cast<float>(op.forward(static_cast<double>(x)));
}
template <class Op>
CUACT_HD_COLD float backward_rounded(const Op& op, float dy, float x) {
  return static_cast<float>(op.backward(static_cast<double>(dy), static_cast<double>(x)));
}

//! dy f'(y) from the double form, rounded to float, out of line: the rare paths of the float32
//! y-based forms (an extreme dy, a y outside f's range), as the other ops' y-based gradients.
template <class Op>
CUACT_HD_COLD float backward_from_output_rounded(Op op, float dy, float y) {
  return static_cast<float>(static_cast<double>(dy) *
                            op.derivative_from_output(static_cast<double>(y)));
}

//! dy (1 - e^-z) for z >= 0 in float (the y-based gradients of softplus, z = y, and
//! log_sigmoid, z = -y): e^-z - 1 as a float pair (expm1_neg_f32), times -dy rounded once; past
//! z = 87 the factor rounds to 1. NaN y gives y; z < 0 (a y the op cannot output) or an extreme dy
//! take op's double form, out of line.
template <class Op>
CUACT_HD float mul_one_minus_exp_neg_f32(const Op& op, float dy, float y, float z) {
  if (y != y) return y;
  if (!(z >= 0.0f) || !pair_factor_ok(dy)) return backward_from_output_rounded(op, dy, y);
  if (z > 87.0f) return dy;
  const FloatPair m = expm1_neg_f32(-z);
  return mul_pair_f32(dy, {-m.hi, -m.lo});
}

//! dy f'(x) for float32 results from table t of f' (numeric.cuh, poly_f32_eval): past the table
//! f' rounds to 1 (the generator asserts it), so the result is dy, selected (x clamped to the
//! last float below the end for the lookup: end (1 - 2^-24) rounds to it); below it, for NaN (the
//! same compare failing) or for a dy outside pair_factor_ok, the double form, out of line.
template <class Op>
CUACT_HD float table_backward_f32(const Op& op, PolyF32Table t, float dy, float x) {
  if (!(x >= static_cast<float>(t.x_first)) || !pair_factor_ok(dy))
    return backward_rounded(op, dy, x);
  const float end = static_cast<float>(t.x_first + t.rows);
  const float r = mul_pair_f32(dy, poly_f32_eval(t, table_clamp(x, end - end * 0x1p-24f)));
  return x >= end ? dy : r;
}

template <class T>
CUACT_HD bool is_nan(T x) {
  return x != x;
}

template <class T>
CUACT_HD bool is_inf(T x) {
  return x - x != x - x && x == x;
}

template <class T>
CUACT_HD T infinity() {
  return static_cast<T>(HUGE_VAL);
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Piecewise-linear ops: one template serves both precisions (the arithmetic is exact or a single
// rounding).
// ---------------------------------------------------------------------------------------------

//! linear: f(x) = x.
struct Linear {
  static constexpr Op kOp = Op::kLinear;
  static constexpr const char* kName = "linear";
  static constexpr bool kHasOutputDerivative = true;
  Linear() = default;
  CUACT_HD explicit Linear(const ActParams&) {}
  template <class T>
  CUACT_HD T forward(T x) const {
    return x;
  }
  template <class T>
  CUACT_HD T derivative(T x) const {
    return detail::is_nan(x) ? x : T(1);
  }
  template <class T>
  CUACT_HD T derivative_from_output(T y) const {
    return derivative(y);
  }
};

//! Keras relu(x, alpha, max_value, threshold) in Keras 2's order of operations:
//! p = x > t ? x : 0; if max_value set: p = clip(p, 0, max_value); x < t: p -= alpha * (t - x).
//! So x == t gives 0 and the negative branch is alpha * (x - t). y-based f' needs alpha >= 0 and
//! threshold >= 0.
struct Relu {
  static constexpr Op kOp = Op::kRelu;
  static constexpr const char* kName = "relu";
  static constexpr bool kHasOutputDerivative = true;
  // Decimal parameters (cuact/precision.cuh): the double overloads round to odd, so narrowing to
  // float or 16 bits rounds correctly; as float64 results they are faithful (within 1 ulp).
  static constexpr bool kComputeInDouble = true;
  detail::Param alpha{0.0}, max_value{HUGE_VAL}, threshold{0.0};
  bool has_max = false;

  // Derived from the three parameters once per launch (the constructor), so that the float32
  // and 16-bit forms decide every branch with float comparisons and select between per-launch
  // constants: a few instructions per element for any parameters (the double path they replace
  // took 59 per bfloat16 element and 88 per float32 one). Set through the constructor only.
  float above_t = 0.0f;        //!< float x > threshold exactly when x > above_t
  float below_t = -HUGE_VALF;  //!< x < threshold when x < below_t; -inf when alpha == 0
  float clip_lo = -HUGE_VALF;  //!< 0 with a max_value (p is clipped to [0, max]), else -inf
  float max_from = HUGE_VALF;  //!< x >= max_value exactly when x >= max_from
  float max_odd = HUGE_VALF;   //!< max_value rounded to odd: narrows to 16 bits correctly
  bool line_in_float = true;   //!< alpha (x - t) is safe in float: no extreme parameters
  float line_slope = 0.0f;     //!< the 16-bit form of alpha (x - t): line_slope x + line_c
  float line_c = 0.0f;
  float err_slope = 0.0f;  //!< its error bound: |x| err_slope + err_base
  float err_base = 0x1p-148f;

  CUACT_HD Relu() : Relu(0.0, HUGE_VAL, 0.0) {}
  CUACT_HD explicit Relu(const ActParams& p)
      : Relu(p.relu_alpha, p.relu_max_value, p.relu_threshold) {}
  //! Keras's order: relu(alpha, max_value (+inf for None), threshold).
  CUACT_HD Relu(double alpha_value, double max, double threshold_value)
      : alpha(alpha_value), max_value(max), threshold(threshold_value), has_max(max < HUGE_VAL) {
    const double a = alpha.d, t = threshold.d, at = a * t;
    above_t = detail::float_at_or_below(t);
    below_t = a != 0.0 ? detail::float_at_or_above(t) : -HUGE_VALF;
    if (has_max) {
      clip_lo = 0.0f;
      max_from = detail::float_at_or_above(max_value.d);
      max_odd = detail::to_float_odd(max_value.d);
    }
    // Within these bounds alpha and t as float pairs hold 48 bits and no product over- or
    // underflows in a way the error bounds below miss; outside them the double form decides.
    line_in_float = a == 0.0 || (fabs(a) >= 0x1p-100 && fabs(a) <= 0x1p100 && fabs(t) <= 0x1p100 &&
                                 fabs(at) <= 0x1p100);
    if (line_in_float) {
      line_slope = alpha.f;
      line_c = static_cast<float>(-at);
      // v = fmaf(alpha.f, x, line_c) errs by alpha's and c's roundings to float plus the fma's:
      // at most 2^-23 (|alpha x| + |alpha t|) (+ subnormal spacings); bound with 2^-22.
      err_slope = fabsf(alpha.f) * 0x1p-22f;
      err_base = fmaf(fabsf(line_c), 0x1p-22f, 0x1p-148f);
    } else {  // bounds that never agree (x +- inf, never 0 * inf): the double form decides
      line_slope = 1.0f;
      err_slope = 1.0f;
      err_base = HUGE_VALF;
    }
  }

  template <class T>
  CUACT_HD T forward(T x) const {
    const T t = threshold.get<T>();
    if (detail::is_nan(x)) return x;
    T p = x > t ? x : T(0);
    if (has_max) p = p < T(0) ? T(0) : (p > max_value.get<T>() ? max_value.get<T>() : p);
    if (x < t && alpha.get<T>() != T(0)) {  // (alpha == 0: no term, and no 0 * inf)
      if constexpr (sizeof(T) == sizeof(double)) {
        if (detail::is_inf(x)) return alpha.d * x;
        const detail::DoubleDouble d = detail::two_sum(x, -t);  // x - t exactly
        return detail::fma_odd(alpha.d, d.hi, alpha.d * d.lo);  // see kComputeInDouble
      } else {
        return alpha.f * (x - t);
      }
    }
    return p;
  }
  //! x > t: clip(x, 0, max_value) with `at_max` for max_value's result (NaN stays NaN).
  CUACT_HD float above_threshold(float x, float at_max) const {
    const float c = x < clip_lo ? clip_lo : x;
    return x >= max_from ? at_max : c;
  }
  //! float32 results: the branches decided exactly (above_t, below_t, max_from), clipped
  //! values exact, and alpha (x - t) with alpha and t as float pairs, x - t kept exact (a
  //! two-sum) and the product rounded once: within 0.5 ulp plus 2^-23 relative.
  CUACT_HD float forward_f32(float x) const {
    if (!(x <= above_t)) return above_threshold(x, max_value.f);  // x > t, or NaN
    if (!(x < below_t)) return 0.0f;  // x == t, or alpha == 0 (no negative branch)
    if (!line_in_float) return detail::forward_rounded(*this, x);
    float d = x, d_lo = 0.0f;
    if (threshold.d != 0.0) {  // the same for every element: hoisted
      const detail::FloatPair s = detail::two_sum_f32(x, -threshold.f);
      d = s.hi;
      d_lo = s.lo - threshold.lo;
    }
    const float v = alpha.f * d;
    if (v - v != 0.0f) return v;  // x = -inf: the product alone (no inf - inf below)
    return fmaf(alpha.f, d, fmaf(alpha.f, d_lo, alpha.lo * d));
  }
  //! The default max(x, 0) is exact in float: the 16-bit path needs no bounds. (Tested on the
  //! parameters themselves, not a flag kept beside them that could go stale.)
  CUACT_HD bool exact_float_forward_applies() const {
    return alpha.d == 0.0 && threshold.d == 0.0 && !has_max;
  }
  CUACT_HD float exact_float_forward(float x) const { return x > 0.0f || x != x ? x : 0.0f; }
  //! Bounds for the 16-bit fast path (see cuact/precision.cuh): above the threshold the value
  //! itself (16-bit x is exact in float; max_value rounded to odd narrows to the correctly
  //! rounded max), at it 0, below it alpha x - alpha t in one fma with its error bound. Infinite
  //! x on the line, and extreme parameters (err_base = inf), give bounds that never agree: the
  //! double path decides.
  CUACT_HD detail::FloatInterval forward_interval(float x) const {
    // Every branch computed and selected: cheaper than the branches nvcc makes of early returns.
    const float c = above_threshold(x, max_odd);
    const float v = fmaf(line_slope, x, line_c);
    const float err = fmaf(fabsf(x), err_slope, err_base);
    const bool above = !(x <= above_t), below = x < below_t;  // above: x > t, or NaN
    return {above ? c : (below ? v - err : 0.0f), above ? c : (below ? v + err : 0.0f)};
  }
  template <class T>
  CUACT_HD T derivative(T x) const {
    const T t = threshold.get<T>();
    if (detail::is_nan(x)) return x;
    if (x > t) return (!has_max || (x > T(0) && x < max_value.get<T>())) ? T(1) : T(0);
    return x < t ? alpha.get<T>() : T(0);
  }
  template <class T>
  CUACT_HD T derivative_from_output(T y) const {
    if (detail::is_nan(y)) return y;
    if (y > T(0)) return (!has_max || y < max_value.get<T>()) ? T(1) : T(0);
    return y < T(0) ? alpha.get<T>() : T(0);
  }
};

//! leaky_relu(x, alpha): x > 0 ? x : alpha * x; f'(0) = alpha. y-based f' needs alpha >= 0.
struct LeakyRelu {
  static constexpr Op kOp = Op::kLeakyRelu;
  static constexpr const char* kName = "leaky_relu";
  static constexpr bool kHasOutputDerivative = true;
  static constexpr bool kComputeInDouble = true;
  detail::Param alpha{0.3};
  LeakyRelu() = default;
  CUACT_HD explicit LeakyRelu(const ActParams& p) : alpha(p.leaky_alpha) {}
  //! float32 results: alpha x with alpha as a float pair, rounded once (within 0.5 ulp plus
  //! 2^-47 relative). An infinite x takes the plain product (no inf - inf in the residual).
  CUACT_HD float forward_f32(float x) const {
    if (!(x <= 0.0f)) return x;  // x > 0, or NaN
    const float p = alpha.f * x;
    return p - p != 0.0f ? p : fmaf(alpha.f, x, alpha.lo * x);
  }
  template <class T>
  CUACT_HD T forward(T x) const {
    if constexpr (sizeof(T) == sizeof(double)) {
      return x > 0.0 ? x : detail::mul_odd(alpha.d, x);  // rounded to odd: see Relu
    } else {
      return x > T(0) ? x : alpha.f * x;
    }
  }
  //! Bounds on the exact alpha x around the float product (alpha rounded to float, then the
  //! product: 2^-23 relative); 16-bit results skip the double path when both round alike.
  CUACT_HD detail::FloatInterval forward_interval(float x) const {
    if (!(x <= 0.0f)) return {x, x};  // x > 0, or NaN
    const float v = alpha.f * x;
    return detail::around(v, v);
  }
  template <class T>
  CUACT_HD T derivative(T x) const {
    return x > T(0) ? T(1) : (detail::is_nan(x) ? x : alpha.get<T>());
  }
  template <class T>
  CUACT_HD T derivative_from_output(T y) const {
    return derivative(y);
  }
};

//! thresholded_relu(x, theta): x > theta ? x : 0 (strict). y-based f' needs theta >= 0.
struct ThresholdedRelu {
  static constexpr Op kOp = Op::kThresholdedRelu;
  static constexpr const char* kName = "thresholded_relu";
  static constexpr bool kHasOutputDerivative = true;
  detail::Param theta{1.0};
  ThresholdedRelu() = default;
  CUACT_HD explicit ThresholdedRelu(const ActParams& p) : theta(p.theta) {}
  template <class T>
  CUACT_HD T forward(T x) const {
    return x > theta.get<T>() || detail::is_nan(x) ? x : T(0);
  }
  template <class T>
  CUACT_HD T derivative(T x) const {
    return x > theta.get<T>() ? T(1) : (detail::is_nan(x) ? x : T(0));
  }
  template <class T>
  CUACT_HD T derivative_from_output(T y) const {
    return derivative(y);
  }
};

//! relu6: min(max(x, 0), 6); f' = 0 at 0 and at 6.
struct Relu6 {
  static constexpr Op kOp = Op::kRelu6;
  static constexpr const char* kName = "relu6";
  static constexpr bool kHasOutputDerivative = true;
  Relu6() = default;
  CUACT_HD explicit Relu6(const ActParams&) {}
  template <class T>
  CUACT_HD T forward(T x) const {
    return x < T(0) ? T(0) : (x > T(6) ? T(6) : x);
  }
  template <class T>
  CUACT_HD T derivative(T x) const {
    return (x > T(0) && x < T(6)) ? T(1) : (detail::is_nan(x) ? x : T(0));
  }
  template <class T>
  CUACT_HD T derivative_from_output(T y) const {
    return derivative(y);
  }
};

//! Keras 2 hard_sigmoid: clip(slope * x + offset, 0, 1); f' = slope strictly inside (0, 1).
struct HardSigmoid {
  static constexpr Op kOp = Op::kHardSigmoid;
  static constexpr const char* kName = "hard_sigmoid";
  static constexpr bool kHasOutputDerivative = true;
  static constexpr bool kComputeInDouble = true;
  detail::Param slope{0.2}, offset{0.5};
  HardSigmoid() = default;
  CUACT_HD explicit HardSigmoid(const ActParams& p)
      : slope(p.hard_sigmoid_slope), offset(p.hard_sigmoid_offset) {}
  //! float32 results: slope x + offset with both parameters as float pairs and the product and
  //! sum kept exact, rounded once, then clipped. The pairs hold the double parameters to 2^-48,
  //! so where |slope x + offset| < 2^-20 (next to the lower corner, where that error could
  //! decide the clip) and for infinite x the double form decides, out of line. The upper clip
  //! needs no care: values within 2^-40 of 1 round to 1 either way.
  CUACT_HD float forward_f32(float x) const {
    const float p = detail::fmul_rn(slope.f, x);
    const float p_lo = fmaf(slope.f, x, -p) + slope.lo * x;
    const detail::FloatPair t = detail::two_sum_f32(p, offset.f);
    const float v = t.hi + (t.lo + (p_lo + offset.lo));
    if (!(fabsf(v) >= 0x1p-20f) || p - p != 0.0f)
      return detail::forward_rounded(*this, x);  // also NaN
    return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
  }
  template <class T>
  CUACT_HD T forward(T x) const {
    T v;
    if constexpr (sizeof(T) == sizeof(double)) {
      v = detail::fma_odd(slope.d, x, offset.d);  // rounded to odd: see Relu
    } else {
      v = fmaf(slope.f, x, offset.f);
    }
    return v < T(0) ? T(0) : (v > T(1) ? T(1) : v);
  }
  //! Bounds on the exact clip(slope x + offset) around the float one: slope and offset rounded
  //! to float and the fma give at most 2^-23 (|slope x| + |offset|); clipping keeps the bounds.
  //! (One test for NaN and infinite u, which only infinite or NaN x give; the error bound as one
  //! fma of |x| with per-launch constants: 4 instructions per 16-bit element fewer.)
  CUACT_HD detail::FloatInterval forward_interval(float x) const {
    const float u = fmaf(slope.f, x, offset.f);
    if (!(fabsf(u) < HUGE_VALF))  // NaN x: NaN; infinite x (or 0 * inf): the double path
      return x != x ? detail::FloatInterval{x, x} : detail::FloatInterval{1.0f, 0.0f};
    const float err = fmaf(fabsf(x), fabsf(slope.f) * 0x1p-22f,
                           fmaf(fabsf(offset.f), 0x1p-22f, 0x1p-148f));  // as detail::around
    return {fminf(fmaxf(u - err, 0.0f), 1.0f), fminf(fmaxf(u + err, 0.0f), 1.0f)};
  }
  //! The corners are decided on the exact slope * x + offset: each fma rounds once, so its sign
  //! is exact (offset - 1 is exact for offsets in [0.5, 2], which covers both variants in use).
  template <class T>
  CUACT_HD T derivative(T x) const {
    if (detail::is_nan(x)) return x;
    const T a = slope.get<T>(), b = offset.get<T>();
    return (fma(a, x, b) > T(0) && fma(a, x, b - T(1)) < T(0)) ? a : T(0);
  }
  template <class T>
  CUACT_HD T derivative_from_output(T y) const {
    return (y > T(0) && y < T(1)) ? slope.get<T>() : (detail::is_nan(y) ? y : T(0));
  }
};

//! Keras 3 / PyTorch / JAX hard sigmoid: relu6(x + 3) / 6; f' = 1/6 on (-3, 3), 0 elsewhere.
struct HardSigmoidRelu6 {
  static constexpr Op kOp = Op::kHardSigmoidRelu6;
  static constexpr const char* kName = "hard_sigmoid_relu6";
  static constexpr bool kHasOutputDerivative = true;
  static constexpr bool kComputeInDouble = true;
  HardSigmoidRelu6() = default;
  CUACT_HD explicit HardSigmoidRelu6(const ActParams&) {}
  //! float32 results: x + 3 exactly as a pair, divided by 6 with the corrected quotient.
  CUACT_HD float forward_f32(float x) const {
    if (!(x > -3.0f && x < 3.0f)) return forward(x);  // 0, 1, or NaN: exact
    const detail::FloatPair s = detail::two_sum_f32(x, 3.0f);
    return detail::rounded(detail::divide_pair(s.hi, s.lo, 6.0f, 0.0f, 1.0f / 6.0f));
  }
  template <class T>
  CUACT_HD T forward(T x) const {
    if (x <= T(-3)) return T(0);
    if (x >= T(3)) return T(1);
    if constexpr (sizeof(T) == sizeof(double)) {
      const detail::DoubleDouble s = detail::two_sum(x, 3.0);  // x + 3 exactly
      const double q = s.hi / 6.0;
      return detail::round_to_odd(q, fma(-q, 6.0, s.hi) + s.lo);  // rounded to odd: see Relu
    } else {
      return (x + T(3)) / T(6);
    }
  }
  //! Bounds on the exact (x + 3) / 6 in (0, 1): the float sum (2^-22 / 6 absolute after the
  //! scaling), 1/6 rounded (2^-26) and the product (2^-25) err by less than 2^-22 absolute.
  CUACT_HD detail::FloatInterval forward_interval(float x) const {
    if (!(x > -3.0f && x < 3.0f)) {
      const float v = x <= -3.0f ? 0.0f : (x >= 3.0f ? 1.0f : x);  // 0, 1, or NaN: exact
      return {v, v};
    }
    const float v = (x + 3.0f) * (1.0f / 6.0f);  // no IEEE division: the bound has room
    return {v - 0x1p-22f, v + 0x1p-22f};
  }
  template <class T>
  CUACT_HD T derivative(T x) const {
    return (x > T(-3) && x < T(3)) ? T(1) / T(6) : (detail::is_nan(x) ? x : T(0));
  }
  template <class T>
  CUACT_HD T derivative_from_output(T y) const {
    return (y > T(0) && y < T(1)) ? T(1) / T(6) : (detail::is_nan(y) ? y : T(0));
  }
};

//! hard_swish (hard_silu): x * relu6(x + 3) / 6; f' = 0 for x <= -3, (2x + 3)/6 inside, 1 for
//! x >= 3. Not monotone, so no y-based derivative.
struct HardSwish {
  static constexpr Op kOp = Op::kHardSwish;
  static constexpr const char* kName = "hard_swish";
  static constexpr bool kHasOutputDerivative = false;
  HardSwish() = default;
  CUACT_HD explicit HardSwish(const ActParams&) {}
  // float (16-bit outputs) multiplies by 1/6 instead of dividing: an IEEE float division is a
  // dozen instructions with a slow-path branch, and the extra rounding stays far below a 16-bit
  // half ulp. double keeps the division (float32 and float64 results).
  template <class T>
  CUACT_HD T forward(T x) const {
    if (x <= T(-3)) return T(0);
    if (x >= T(3)) return x;
    if constexpr (sizeof(T) == sizeof(float)) {
      return x * (x + 3.0f) * (1.0f / 6.0f);
    } else {
      return x * (x + T(3)) / T(6);
    }
  }
  template <class T>
  CUACT_HD T derivative(T x) const {
    if (x <= T(-3)) return T(0);
    if (x >= T(3)) return T(1);
    if constexpr (sizeof(T) == sizeof(float)) {
      return fmaf(2.0f, x, 3.0f) * (1.0f / 6.0f);  // NaN falls through both tests
    } else {
      return (T(2) * x + T(3)) / T(6);
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Ops with transcendental math: an accurate double overload and a fast float overload.
// ---------------------------------------------------------------------------------------------

//! elu(x, alpha): x > 0 ? x : alpha * expm1(x). y-based f' (y > 0 ? 1 : y + alpha) needs
//! alpha >= 0.
struct Elu {
  static constexpr Op kOp = Op::kElu;
  static constexpr const char* kName = "elu";
  static constexpr bool kHasOutputDerivative = true;
  detail::Param alpha{1.0};
  Elu() = default;
  CUACT_HD explicit Elu(const ActParams& p) : alpha(p.elu_alpha) {}
  //! alpha (e^x - 1) from expm1_dd's pair, rounded once.
  CUACT_HD double forward(double x) const {
    if (x > 0.0) return x;
    const detail::DoubleDouble m = detail::expm1_dd(x);
    return fma(alpha.d, m.hi, alpha.d * m.lo);
  }
  CUACT_HD float forward(float x) const { return x > 0.0f ? x : alpha.f * detail::fast_expm1(x); }
  CUACT_HD float forward_f32(float x) const {
    return x > 0.0f ? x : detail::scaled_expm1_neg_f32(x, alpha.f, alpha.lo);
  }
  //! float32 results: dy alpha e^x in float pairs; the tails (x < -87, where the result may
  //! still be normal for a large dy, and dy outside pair_factor_ok) take one double product.
  CUACT_HD float backward_f32(float dy, float x) const {
    if (x > 0.0f || x != x) return x > 0.0f ? dy : x;
    if (x < -87.0f || !detail::pair_factor_ok(dy)) {
      return detail::mul_exp_rounded(static_cast<double>(dy) * alpha.d, x);
    }
    return detail::mul_scaled_exp_f32(dy, alpha.f, alpha.lo, x);
  }
  CUACT_HD double derivative(double x) const { return x > 0.0 ? 1.0 : alpha.d * ::exp(x); }
  CUACT_HD float derivative(float x) const {
    return x > 0.0f ? 1.0f : alpha.f * detail::fast_exp(x);
  }
  //! dy * f'(x) without rounding alpha e^x into the subnormals first.
  CUACT_HD double backward(double dy, double x) const {
    return x > 0.0 ? dy : detail::mul_exp(dy * alpha.d, x, 0.0);
  }
  CUACT_HD float backward(float dy, float x) const {
    return x > 0.0f ? dy : detail::fast_mul_exp(dy * alpha.f, x);
  }
  template <class T>
  CUACT_HD T derivative_from_output(T y) const {
    return y > T(0) ? T(1) : y + alpha.get<T>();
  }
};

//! selu: scale * elu(x, alpha) with alpha = 1.6732632423543772848, scale = 1.0507009873554804934.
struct Selu {
  static constexpr Op kOp = Op::kSelu;
  static constexpr const char* kName = "selu";
  static constexpr bool kHasOutputDerivative = true;
  static constexpr double kScale = 1.0507009873554804934193349852946;
  static constexpr double kScaleAlpha = 1.7580993408473768599402175208123;  // scale * alpha
  static constexpr double kScaleAlphaLo = 1.41535193800845e-17;  // scale*alpha - kScaleAlpha
  static constexpr double kScaleLoD = 3.9874847667154144e-17;    // scale - kScale
  Selu() = default;
  CUACT_HD explicit Selu(const ActParams&) {}
  //! scale * alpha as a pair times expm1_dd's pair, rounded once (the rounded constant and
  //! CUDA's expm1 reached 1.46 ulp).
  CUACT_HD double forward(double x) const {
    if (x > 0.0) return fma(kScale, x, kScaleLoD * x);  // scale as a pair (+inf stays +inf)
    const detail::DoubleDouble m = detail::expm1_dd(x);
    return fma(kScaleAlpha, m.hi, fma(kScaleAlpha, m.lo, kScaleAlphaLo * m.hi));
  }
  CUACT_HD float forward(float x) const {
    return x > 0.0f ? float(kScale) * x : float(kScaleAlpha) * detail::fast_expm1(x);
  }
  //! float32 results: scale and scale * alpha as float pairs, each product rounded once.
  static constexpr float kScaleHi = static_cast<float>(kScale);
  static constexpr float kScaleLo = static_cast<float>(kScale - kScaleHi);
  static constexpr float kScaleAlphaHi = static_cast<float>(kScaleAlpha);
  static constexpr float kScaleAlphaLoF = static_cast<float>(kScaleAlpha - kScaleAlphaHi);
  CUACT_HD float forward_f32(float x) const {
    if (x > 0.0f) return x == HUGE_VALF ? x : fmaf(x, kScaleHi, x * kScaleLo);
    return detail::scaled_expm1_neg_f32(x, kScaleAlphaHi, kScaleAlphaLoF);
  }
  //! float32 results: as Elu::backward_f32, with scale (x > 0) and scale * alpha as pairs.
  CUACT_HD float backward_f32(float dy, float x) const {
    if (x != x) return x;
    if (x > 0.0f) return detail::mul_pair_any_f32(dy, {kScaleHi, kScaleLo});
    if (x < -87.0f || !detail::pair_factor_ok(dy)) {
      return detail::mul_exp_rounded(static_cast<double>(dy) * kScaleAlpha, x);
    }
    return detail::mul_scaled_exp_f32(dy, kScaleAlphaHi, kScaleAlphaLoF, x);
  }
  CUACT_HD double derivative(double x) const { return x > 0.0 ? kScale : kScaleAlpha * ::exp(x); }
  CUACT_HD float derivative(float x) const {
    return x > 0.0f ? float(kScale) : float(kScaleAlpha) * detail::fast_exp(x);
  }
  //! dy * scale * alpha * e^x with dy * (scale * alpha) kept exact: rounding it as well as the
  //! exponential (1 ulp on CUDA) and the product took float64 to 2.02 ulp on an H200.
  CUACT_HD double backward(double dy, double x) const {
    if (x > 0.0) return fma(kScale, dy, kScaleLoD * dy);
    detail::DoubleDouble m = detail::two_prod(dy, kScaleAlpha);
    if (m.hi - m.hi != 0.0 || x - x != 0.0) return detail::mul_exp(m.hi, x, 0.0);  // inf, NaN
    m.lo = fma(dy, kScaleAlphaLo, m.lo);
    if (x < -700.0) return detail::mul_exp_tiny(m, x, 0.0);
    const detail::DoubleDouble e = detail::exp_neg_dd(-x);
    return fma(m.hi, e.hi, fma(m.hi, e.lo, m.lo * e.hi));
  }
  CUACT_HD float backward(float dy, float x) const {
    return x > 0.0f ? dy * float(kScale) : detail::fast_mul_exp(dy * float(kScaleAlpha), x);
  }
  // y + scale*alpha cancels as y -> -scale*alpha: add the constant as two parts.
  CUACT_HD double derivative_from_output(double y) const {
    return y > 0.0 ? kScale : (y + kScaleAlpha) + kScaleAlphaLo;
  }
  CUACT_HD float derivative_from_output(float y) const {
    return y > 0.0f ? float(kScale) : y + float(kScaleAlpha);
  }
};

//! celu(x, alpha) = max(0, x) + min(0, alpha * expm1(x / alpha)), alpha != 0. y-based f'
//! (y > 0 ? 1 : y / alpha + 1) needs alpha > 0.
struct Celu {
  static constexpr Op kOp = Op::kCelu;
  static constexpr const char* kName = "celu";
  static constexpr bool kHasOutputDerivative = true;
  detail::Param alpha{1.0}, inv_alpha{1.0};
  Celu() = default;
  CUACT_HD explicit Celu(const ActParams& p) : alpha(p.celu_alpha), inv_alpha(1.0 / p.celu_alpha) {}
  //! The float32 forms take alpha in [2^-60, 2^60] (alpha, 1 / alpha and x / alpha of any
  //! float stay in float's range); other alphas, negative ones included, round the double form.
  CUACT_HD bool float_alpha() const { return alpha.f >= 0x1p-60f && alpha.f <= 0x1p60f; }
  //! x / alpha = q + q_lo for x < 0 (q rounded, q_lo its residual over alpha as a pair).
  CUACT_HD detail::FloatPair scaled_f32(float x) const {
    const float q = x * inv_alpha.f;
    return {q, (fmaf(-q, alpha.f, x) - q * alpha.lo) * inv_alpha.f};
  }
  //! float32 results: alpha (e^q - 1) with q = x / alpha, e^q - 1 and alpha as pairs, rounded
  //! once (e^(q + q_lo) - 1 = (e^q - 1) + e^q q_lo). Where |q| < 2^-25, celu(x) = x (1 + q / 2
  //! + ...) rounds to x.
  CUACT_HD float forward_f32(float x) const {
    if (!float_alpha()) return detail::forward_rounded(*this, x);  // the same for a whole launch
    const detail::FloatPair q = scaled_f32(x);
    // q clamped into expm1_neg_f32's [-87, 0]: x >= 0 and NaN run it at 0, then are selected.
    detail::FloatPair m = detail::expm1_neg_f32(fmaxf(fminf(q.hi, 0.0f), -87.0f));
    m.lo = fmaf(q.lo, 1.0f + m.hi, m.lo);
    const float r = fmaf(alpha.f, m.hi, fmaf(alpha.f, m.lo, alpha.lo * m.hi));
    if (!(x < 0.0f) || fabsf(q.hi) < 0x1p-25f) return x;  // x >= 0, -0, NaN, or x (1 + q/2) = x
    return q.hi < -87.0f ? -(alpha.f + alpha.lo) : r;     // e^q < 2^-125: rounds to -alpha
  }
  //! float32 results: dy e^(q + q_lo) = dy (1 + q_lo) e^q by mul_scaled_exp_f32; the tails
  //! (q < -87, dy outside pair_factor_ok) take one double product.
  CUACT_HD float backward_f32(float dy, float x) const {
    if (!(x <= 0.0f)) return x > 0.0f ? dy : x;
    if (!float_alpha()) return detail::backward_rounded(*this, dy, x);
    const detail::FloatPair q = scaled_f32(x);
    if (q.hi < -87.0f || !detail::pair_factor_ok(dy)) {
      return detail::mul_exp_rounded(dy, static_cast<double>(x) / alpha.d);
    }
    return detail::mul_scaled_exp_f32(dy, 1.0f, q.lo, q.hi);
  }
  //! alpha (e^(q + q_lo) - 1) for x < 0, q + q_lo = x / alpha, from expm1_dd's pair and
  //! e^(q + q_lo) - 1 = m + (1 + m) q_lo, rounded once; past q = 708 (alpha < 0) CUDA's expm1.
  CUACT_HD double forward(double x) const {
    if (!(x < 0.0)) return x;  // x >= 0, -0 or NaN
    const detail::DoubleDouble q = scaled(x);
    if (q.hi > 708.0) return alpha.d * detail::expm1_rounded(q.hi);
    if (q.hi < -708.0) return -alpha.d;  // alpha (e^q - 1) rounds to -alpha (-inf too)
    detail::DoubleDouble m = detail::expm1_dd(q.hi);
    m.lo += fma(m.hi, q.lo, q.lo);
    return fma(alpha.d, m.hi, alpha.d * m.lo);
  }
  CUACT_HD float forward(float x) const {
    return x > 0.0f ? x : alpha.f * detail::fast_expm1(x * inv_alpha.f);
  }
  //! x / alpha as a double-double: e^(x/alpha) amplifies the quotient's rounding by |x/alpha|.
  //! x times the rounded 1 / alpha, the residual taking that rounding too (no division).
  CUACT_HD detail::DoubleDouble scaled(double x) const {
    const double q = x * inv_alpha.d;
    return {q, fma(-q, alpha.d, x) * inv_alpha.d};
  }
  CUACT_HD double derivative(double x) const { return backward(1.0, x); }
  CUACT_HD double backward(double dy, double x) const {
    if (x > 0.0) return dy;
    const detail::DoubleDouble q = scaled(x);
    return detail::mul_exp(dy, q.hi, q.lo);
  }
  CUACT_HD float backward(float dy, float x) const {
    return x > 0.0f ? dy : detail::fast_mul_exp(dy, x * inv_alpha.f);
  }
  CUACT_HD float derivative(float x) const {
    return x > 0.0f ? 1.0f : detail::fast_exp(x * inv_alpha.f);
  }
  CUACT_HD double derivative_from_output(double y) const {
    return y > 0.0 ? 1.0 : y / alpha.d + 1.0;
  }
  CUACT_HD float derivative_from_output(float y) const {
    return y > 0.0f ? 1.0f : fmaf(y, inv_alpha.f, 1.0f);
  }
};

//! exponential: e^x; f' = e^x = y.
struct Exponential {
  static constexpr Op kOp = Op::kExponential;
  static constexpr const char* kName = "exponential";
  static constexpr bool kHasOutputDerivative = true;
  Exponential() = default;
  CUACT_HD explicit Exponential(const ActParams&) {}
  //! exp_neg_dd's pair, rounded (within about half an ulp); past |x| = 708 (overflow, the
  //! subnormals, inf, NaN) CUDA's exp, out of line.
  CUACT_HD double forward(double x) const {
    if (!(fabs(x) <= 708.0)) return detail::exp_rounded(x);
    return detail::exp_neg_dd(-x).hi;
  }
  CUACT_HD float forward(float x) const { return detail::fast_exp(x); }
  CUACT_HD float forward_f32(float x) const { return detail::exp_f32(x); }
  //! float32 results: dy e^x as a float pair product for x in [-87, 88] and dy passing
  //! pair_factor_ok; the rest (where dy e^x may be normal while e^x is not, or the other way) by
  //! one double product.
  CUACT_HD float backward_f32(float dy, float x) const {
    if (x != x) return x;
    if (x < -87.0f || x > 88.0f || !detail::pair_factor_ok(dy)) {
      return detail::mul_exp_rounded(dy, x);
    }
    return detail::mul_scaled_exp_f32(dy, 1.0f, 0.0f, x);
  }
  template <class T>
  CUACT_HD T derivative(T x) const {
    return forward(x);
  }
  //! dy * e^x stays finite (and keeps its bits) where e^x alone would overflow or go subnormal.
  CUACT_HD double backward(double dy, double x) const { return detail::mul_exp(dy, x, 0.0); }
  CUACT_HD float backward(float dy, float x) const { return detail::fast_mul_exp(dy, x); }
  template <class T>
  CUACT_HD T derivative_from_output(T y) const {
    return y;
  }
};

//! sigmoid: 1 / (1 + e^-x); f' = y (1 - y).
struct Sigmoid {
  static constexpr Op kOp = Op::kSigmoid;
  static constexpr const char* kName = "sigmoid";
  static constexpr bool kHasOutputDerivative = true;
  Sigmoid() = default;
  CUACT_HD explicit Sigmoid(const ActParams&) {}
  CUACT_HD double forward(double x) const { return detail::sigmoid_d(x); }
  CUACT_HD float forward(float x) const { return detail::fast_sigmoid(x); }
  CUACT_HD float forward_f32(float x) const { return detail::sigmoid_f32(x); }
  CUACT_HD float backward_f32(float dy, float x) const {
    return detail::sigmoid_backward_f32(dy, x);
  }
  CUACT_HD double derivative(double x) const { return detail::sigmoid_slope_d(x); }
  CUACT_HD float derivative(float x) const { return detail::fast_sigmoid_slope(x); }
  //! Past |x| = 700 the slope is e^-|x| (subnormal or nearly): multiply by dy before rounding.
  CUACT_HD double backward(double dy, double x) const {
    if (fabs(x) > 700.0) return detail::mul_exp(dy, -fabs(x), 0.0);
    return detail::mul_dd(dy, detail::logistic_parts(x).slope);
  }
  CUACT_HD float backward(float dy, float x) const {
    if (fabsf(x) > 80.0f) return detail::fast_mul_exp(dy, -fabsf(x));
    return dy * detail::fast_sigmoid_slope(x);
  }
  CUACT_HD double derivative_from_output(double y) const {
    return detail::is_inf(y) ? -(y * y) : fma(-y, y, y);  // y (1 - y) with one rounding
  }
  //! For a 16-bit y (at most 11 significant bits), y^2 is exact in float and y - y^2 is an exact
  //! float pair; rounding that to odd keeps the 16-bit result correctly rounded after the float
  //! step. All in float: the float64 fma this replaces ran 16-bit bwd_y at 66-74% of the roof.
  CUACT_HD float derivative_from_output(float y) const {
    if (detail::is_inf(y)) return -(y * y);
    const detail::FloatPair d = detail::two_sum_f32(y, -detail::fmul_rn(y, y));
    if (d.lo == 0.0f || d.hi - d.hi != 0.0f) return d.hi;  // exact, or y^2 overflowed (-inf)
    return detail::to_odd_neighbour<unsigned int>(d.hi, d.lo > 0.0f);
  }
};

//! tanh; f' = 1 - y^2.
struct Tanh {
  static constexpr Op kOp = Op::kTanh;
  static constexpr const char* kName = "tanh";
  static constexpr bool kHasOutputDerivative = true;
  Tanh() = default;
  CUACT_HD explicit Tanh(const ActParams&) {}
  //! tanh |x| = m / (m + 2), m = e^(2|x|) - 1 from expm1_dd (a pair, its polynomial near 0), the
  //! quotient's rounding recovered from its fma residual, x's sign put back (within about 0.6
  //! ulp; glibc's tanh is 1.96 ulp off at x = 0.234 and CUDA's about an ulp). Past |x| = 19.5
  //! tanh rounds to +-1, selected.
  CUACT_HD double forward(double x) const {
    const double a = fabs(x);
    const detail::DoubleDouble m0 = detail::expm1_dd(2.0 * a);
    // Normalised: near 0 expm1_dd's low part is up to 1/8 of m, too much for one correction.
    const detail::DoubleDouble m = detail::fast_two_sum(m0.hi, m0.lo);
    detail::DoubleDouble d = detail::two_sum(m.hi, 2.0);
    d.lo += m.lo;
    const detail::DoubleDouble t = detail::div_dd(m, d, detail::rcp_pos(d.hi));
    return copysign(a > 19.5 ? 1.0 : t.hi + t.lo, x);  // NaN: t is NaN
  }
  CUACT_HD float forward(float x) const { return ::tanhf(x); }
  CUACT_HD float forward_f32(float x) const { return detail::tanh_f32(x); }
  // 1 - tanh^2(x) = 4 e / (1 + e)^2 with e = e^{-2|x|}: no cancellation in the tails.
  CUACT_HD double derivative(double x) const { return 4.0 * detail::sigmoid_slope_d(2.0 * x); }
  CUACT_HD float derivative(float x) const { return 4.0f * detail::fast_sigmoid_slope(2.0f * x); }
  CUACT_HD double backward(double dy, double x) const {
    if (fabs(x) > 350.0) return detail::mul_exp(4.0 * dy, -2.0 * fabs(x), 0.0);
    return detail::mul_dd(4.0 * dy, detail::logistic_parts(2.0 * x).slope);
  }
  CUACT_HD float backward(float dy, float x) const {
    if (fabsf(x) > 40.0f) return detail::fast_mul_exp(4.0f * dy, -2.0f * fabsf(x));
    return 4.0f * dy * detail::fast_sigmoid_slope(2.0f * x);
  }
  //! float32 results: 4 dy sigmoid'(2x) from the float sigmoid slope (4 dy is exact); a huge dy
  //! (4 dy would overflow) or a non-finite one takes the double form, out of line.
  CUACT_HD float backward_f32(float dy, float x) const {
    if (fabsf(dy) < 0x1p120f) return detail::sigmoid_backward_f32(4.0f * dy, 2.0f * x);
    return detail::backward_rounded(*this, dy, x);
  }
  template <class T>
  CUACT_HD T derivative_from_output(T y) const {
    return fma(-y, y, T(1));  // one rounding of the exact 1 - y^2
  }
};

//! softplus: log(1 + e^x), evaluated as max(x, 0) + log1p(e^-|x|) (no threshold cut-off);
//! f' = sigmoid(x) = 1 - e^-y.
struct Softplus {
  static constexpr Op kOp = Op::kSoftplus;
  static constexpr const char* kName = "softplus";
  static constexpr bool kHasOutputDerivative = true;
  Softplus() = default;
  CUACT_HD explicit Softplus(const ActParams&) {}
  CUACT_HD double forward(double x) const { return detail::softplus_d(x); }
  CUACT_HD float forward(float x) const {
    return (x > 0.0f ? x : 0.0f) + detail::fast_log1p_unit(detail::fast_exp(-fabsf(x)));
  }
  CUACT_HD float forward_f32(float x) const { return detail::softplus_f32(x); }
  CUACT_HD float backward_f32(float dy, float x) const { return detail::mul_sigmoid_f32(dy, x); }
  CUACT_HD double derivative(double x) const { return detail::sigmoid_d(x); }
  CUACT_HD float derivative(float x) const { return detail::fast_sigmoid(x); }
  CUACT_HD double backward(double dy, double x) const {
    if (x < -700.0) return detail::mul_exp(dy, x, 0.0);
    return detail::mul_dd(dy, detail::logistic_dd(x));
  }
  CUACT_HD float backward(float dy, float x) const {
    return x < -80.0f ? detail::fast_mul_exp(dy, x) : dy * detail::fast_sigmoid(x);
  }
  CUACT_HD double derivative_from_output(double y) const {
    const detail::DoubleDouble m = detail::expm1_dd(-y);  // y >= 0 (or NaN)
    return -(m.hi + m.lo);
  }
  CUACT_HD float derivative_from_output(float y) const { return -detail::fast_expm1(-y); }
  //! float32 results: dy (1 - e^-y) in float (detail::mul_one_minus_exp_neg_f32).
  CUACT_HD float backward_from_output_f32(float dy, float y) const {
    return detail::mul_one_minus_exp_neg_f32(*this, dy, y, y);
  }
};

//! log_sigmoid: -softplus(-x) = min(x, 0) - log1p(e^-|x|); f' = sigmoid(-x) = -expm1(y).
struct LogSigmoid {
  static constexpr Op kOp = Op::kLogSigmoid;
  static constexpr const char* kName = "log_sigmoid";
  static constexpr bool kHasOutputDerivative = true;
  LogSigmoid() = default;
  CUACT_HD explicit LogSigmoid(const ActParams&) {}
  CUACT_HD double forward(double x) const { return -detail::softplus_d(-x); }
  CUACT_HD float forward(float x) const {
    return (x < 0.0f ? x : 0.0f) - detail::fast_log1p_unit(detail::fast_exp(-fabsf(x)));
  }
  CUACT_HD float forward_f32(float x) const { return -detail::softplus_f32(-x); }
  CUACT_HD float backward_f32(float dy, float x) const { return detail::mul_sigmoid_f32(dy, -x); }
  CUACT_HD double derivative(double x) const { return detail::sigmoid_d(-x); }
  CUACT_HD float derivative(float x) const { return detail::fast_sigmoid(-x); }
  CUACT_HD double backward(double dy, double x) const {
    if (x > 700.0) return detail::mul_exp(dy, -x, 0.0);
    return detail::mul_dd(dy, detail::logistic_dd(-x));
  }
  CUACT_HD float backward(float dy, float x) const {
    return x > 80.0f ? detail::fast_mul_exp(dy, -x) : dy * detail::fast_sigmoid(-x);
  }
  CUACT_HD double derivative_from_output(double y) const {
    const detail::DoubleDouble m = detail::expm1_dd(y);  // y <= 0 (or NaN)
    return -(m.hi + m.lo);
  }
  CUACT_HD float derivative_from_output(float y) const { return -detail::fast_expm1(y); }
  //! float32 results: dy (1 - e^y) in float, as Softplus's (y <= 0 here).
  CUACT_HD float backward_from_output_f32(float dy, float y) const {
    return detail::mul_one_minus_exp_neg_f32(*this, dy, y, -y);
  }
};

//! softsign: x / (1 + |x|), with softsign(+-inf) = +-1; f' = 1 / (1 + |x|)^2 = (1 - |y|)^2.
struct Softsign {
  static constexpr Op kOp = Op::kSoftsign;
  static constexpr const char* kName = "softsign";
  static constexpr bool kHasOutputDerivative = true;
  Softsign() = default;
  CUACT_HD explicit Softsign(const ActParams&) {}
  CUACT_HD double forward(double x) const {
    return detail::is_inf(x) ? copysign(1.0, x) : x / (1.0 + fabs(x));
  }
  CUACT_HD float forward(float x) const {
    return detail::is_inf(x) ? copysignf(1.0f, x) : x * detail::fast_rcp(1.0f + fabsf(x));
  }
  CUACT_HD double derivative(double x) const { return backward(1.0, x); }
  //! dy / (1 + |x|)^2 from the reciprocal r of 1 + |x| as a double-double (squaring r, not
  //! 1 + |x|, which would overflow); past |x| = 2^500 r is scaled by 2^64 so r^2 is not rounded
  //! into the subnormals before the product with dy.
  CUACT_HD double backward(double dy, double x) const {
    if (detail::is_inf(x)) return dy * 0.0;
    const detail::DoubleDouble d = detail::two_sum(1.0, fabs(x));  // 1 + |x| exactly
    const double r0 = 1.0 / d.hi;
    const detail::DoubleDouble r = detail::fast_two_sum(r0, r0 * (fma(-r0, d.hi, 1.0) - r0 * d.lo));
    const bool tiny = fabs(x) > 0x1p500;
    const double scale = tiny ? 0x1p64 : 1.0;
    detail::DoubleDouble r2 = detail::two_prod(r.hi * scale, r.hi * scale);
    r2.lo = fma(2.0 * r.hi * scale, r.lo * scale, r2.lo);
    const double v = detail::mul_dd(dy, r2);
    return tiny ? v * 0x1p-128 : v;
  }
  CUACT_HD float derivative(float x) const {
    const float r = detail::fast_rcp(1.0f + fabsf(x));
    return r * r;
  }
  //! dy (1 - |y|)^2 with 1 - |y| and its square as double-doubles (1 - |y| is inexact for
  //! |y| < 1/2, and squaring doubles that error).
  CUACT_HD double backward_from_output(double dy, double y) const {
    if (detail::is_inf(y)) return dy * HUGE_VAL;  // (1 - |y|)^2 = inf
    const detail::DoubleDouble d = detail::two_sum(1.0, -fabs(y));
    detail::DoubleDouble d2 = detail::two_prod(d.hi, d.hi);
    d2.lo = fma(2.0 * d.hi, d.lo, d2.lo);
    return detail::mul_dd(dy, d2);
  }
  CUACT_HD double derivative_from_output(double y) const { return backward_from_output(1.0, y); }
  CUACT_HD float derivative_from_output(float y) const {
    const float d = 1.0f - fabsf(y);  // exact for |y| >= 1/2
    return d * d;
  }
};

//! Exact GELU: 0.5 x erfc(-x / sqrt 2), so the left tail keeps full relative accuracy;
//! gelu(-inf) = 0. f' = Phi(x) + x phi(x). No y-based derivative.
struct Gelu {
  static constexpr Op kOp = Op::kGelu;
  static constexpr const char* kName = "gelu";
  static constexpr bool kHasOutputDerivative = false;
  static constexpr double kRsqrt2Hi = 0.70710678118654757;      // 1/sqrt(2), rounded
  static constexpr double kRsqrt2Lo = -4.833646656726457e-17;   // 1/sqrt(2) - kRsqrt2Hi
  static constexpr double kRsqrt2Pi = 0.3989422804014327;       // 1/sqrt(2 pi)
  static constexpr double kRsqrt2PiLo = -2.49232720227773e-17;  // 1/sqrt(2 pi) - kRsqrt2Pi
  Gelu() = default;
  CUACT_HD explicit Gelu(const ActParams&) {}

  //! For x <= -11.5: Phi(x) = phi(x) S / |x| with the asymptotic series
  //! S = sum_k (-1)^k (2k-1)!! x^-2k, 20 terms (truncation below 3e-19 there). It replaces erfc,
  //! whose library versions are a few ulp off in this range and subnormal below x = -37.7.
  //! Returns S - 1, so that callers keep the 1 exact.
  CUACT_HD static double tail_series_minus_one(double t) {  // t = 1 / x^2
    constexpr double kCoef[20] = {                          // (-1)^k (2k-1)!!, k = 1..20
                                  -1.0,
                                  3.0,
                                  -15.0,
                                  105.0,
                                  -945.0,
                                  10395.0,
                                  -135135.0,
                                  2027025.0,
                                  -34459425.0,
                                  654729075.0,
                                  -13749310575.0,
                                  316234143225.0,
                                  -7905853580625.0,
                                  213458046676875.0,
                                  -6190283353629375.0,
                                  1.9189878396251062e+17,
                                  -6.33265987076285e+18,
                                  2.2164309547669976e+20,
                                  -8.200794532637892e+21,
                                  3.1983098677287775e+23};
    double s = kCoef[19];
    for (int k = 18; k >= 0; --k)
      s = fma(s, t, kCoef[k]);
    return s * t;
  }
  //! m * phi(x) for a double-double m and x in [-39, -11.5] (the tails' callers), one rounding
  //! into the subnormals: e^(-x^2/2) from exp_neg_dd (x^2/2 as an exact pair; 2^-60 where CUDA's
  //! exp is about an ulp off), shifted by 128 ln 2 past x^2/2 = 700, where e^(-x^2/2) is
  //! subnormal but the product need not be, and scaled back after the product.
  CUACT_HD static double times_pdf(detail::DoubleDouble m, double x) {
    const double half_x = 0.5 * x;
    const double a = x * half_x;
    const double a_lo = fma(x, half_x, -a);
    const bool far = a > 700.0;
    const detail::DoubleDouble shifted =
        far ? detail::two_sum(a, -2.0 * detail::kLn2x64Hi) : detail::DoubleDouble{a, 0.0};
    const double lo = shifted.lo + (a_lo - (far ? 2.0 * detail::kLn2x64Lo : 0.0));
    const detail::DoubleDouble e = detail::exp_neg_pair(shifted.hi, lo);  // |lo| < 2^-40
    detail::DoubleDouble mc = detail::two_prod(m.hi, kRsqrt2Pi);
    mc.lo = fma(m.hi, kRsqrt2PiLo, fma(m.lo, kRsqrt2Pi, mc.lo));
    // Neither pair is normalised (mc.lo up to 2^-11 of mc.hi, e.lo up to 2^-40 of e.hi): the
    // cross term of the lows counts.
    const double r = fma(mc.hi, e.hi, fma(mc.hi, e.lo, fma(mc.lo, e.hi, mc.lo * e.lo)));
    return far ? r * 0x1p-128 : r;
  }
  // The branch and selects test x's high word on the integer pipe (a double compare takes an
  // FP64 slot): x <= -11.5 (and -NaN) goes to the tail, x >= 12.5 (and +NaN, +inf) gives x or
  // dy, since Q(x) < 1e-35 and x phi(x) < 1e-32 there; the sign bit says x < 0 (-0 included).
  static constexpr unsigned kTailWord = 0xC0270000u;  // -11.5
  static constexpr int kFlatWord = 0x40290000;        // 12.5
  //! float64 results: x Phi(x), Phi(x) = Q(-x) for x < 0 and 1 - Q(x) beyond, Q(|x|) from
  //! detail::normal_tail_rows (within about 0.6 ulp); the left tail from -11.5 out of line.
  CUACT_HD double forward_precise(double x) const {
    const int w = detail::high_word(x);
    if (static_cast<unsigned>(w) >= kTailWord) return forward_tail(x);
    const detail::DoubleDouble q = detail::normal_tail_rows(x, false);
    const detail::DoubleDouble p = detail::fast_two_sum(1.0, -q.hi);  // q <= 1/2
    const bool left = w < 0;
    const double r = fma(x, left ? q.hi : p.hi, x * (left ? q.lo : p.lo - q.lo));
    return w >= kFlatWord ? x : r;
  }
  //! x <= -11.5: -phi(x) S (asymptotic series), -0 below -39 (|gelu| < 1e-330; -inf too).
  CUACT_HD_COLD static double forward_tail(double x) {
    if (x < -39.0) return -0.0;
    return times_pdf({-1.0, -tail_series_minus_one(1.0 / (x * x))}, x);
  }
  CUACT_HD float forward(float x) const { return detail::fast_gelu(x); }
  //! float32 results: in float from a table of polynomials (detail::gelu_f32).
  CUACT_HD float forward_f32(float x) const { return detail::gelu_f32(x); }
  //! float32 results: detail::gelu_backward_f32 for |x| <= 13 and dy passing pair_factor_ok;
  //! the rest (x far in the left tail, where GELU' is subnormal, or an extreme dy) rounds the
  //! double form, out of line, and so does NaN (the same test, its compare failing, where a select
  //! in every element kept it). Past x = 7, 1 - E with |E| < 2^-26 is 1 and the result dy:
  //! selected rather than branched to (a branch per element).
  CUACT_HD float backward_f32(float dy, float x) const {
    if (!(x >= -13.0f) || !detail::pair_factor_ok(dy))
      return detail::backward_rounded(*this, dy, x);
    const float r = detail::gelu_backward_f32(dy, x);
    return x > 7.0f ? dy : r;
  }
  CUACT_HD double derivative(double x) const { return backward_precise(1.0, x); }
  //! float32 results: plain double, as forward(double).
  CUACT_HD double backward(double dy, double x) const {
    if (x > 40.0) return dy;
    if (x < -39.0) return dy * 0.0;
    return dy * fma(x * kRsqrt2Pi, ::exp(-0.5 * x * x), 0.5 * ::erfc(x * -kRsqrt2Hi));
  }
  //! float64 results: gelu'(x) = Phi(x) + x phi(x) = Q(s) - s phi(s) for x < 0 and
  //! 1 - (Q(s) - s phi(s)) beyond (s = |x|), Q - s phi from detail::normal_tail_rows' h rows,
  //! so the two terms never meet in floating point (they cancel at x = -0.75); the left tail
  //! from -11.5 out of line.
  CUACT_HD double backward_precise(double dy, double x) const {
    const int w = detail::high_word(x);
    if (static_cast<unsigned>(w) >= kTailWord) return backward_tail(dy, x);
    const detail::DoubleDouble q = detail::normal_tail_rows(x, true);
    const detail::DoubleDouble p = detail::fast_two_sum(1.0, -q.hi);  // |q| <= 1/2
    const bool left = w < 0;
    const double r = fma(dy, left ? q.hi : p.hi, dy * (left ? q.lo : p.lo - q.lo));
    // +NaN is not flat: its r is NaN.
    const bool flat =
        w >= kFlatWord && (w < 0x7ff00000 || (w == 0x7ff00000 && detail::low_word(x) == 0));
    return flat ? dy : r;
  }
  //! x <= -11.5: dy phi(x) (x + S / |x|) = dy phi(x) x (1 - S / x^2); dy 0 below -39.
  CUACT_HD_COLD static double backward_tail(double dy, double x) {
    if (x < -39.0) return dy * 0.0;
    const double t = 1.0 / (x * x);
    // 1 - S t = (1 - t) - (S - 1) t, the first part as an exact pair.
    detail::DoubleDouble v = detail::two_sum(1.0, -t);
    v.lo = fma(-tail_series_minus_one(t), t, v.lo);
    detail::DoubleDouble m = detail::two_prod(x, v.hi);
    m.lo = fma(x, v.lo, m.lo);
    detail::DoubleDouble md = detail::two_prod(m.hi, dy);
    md.lo = fma(m.lo, dy, md.lo);
    return times_pdf(md, x);
  }
  CUACT_HD float derivative(float x) const { return detail::fast_gelu_derivative(x); }
};

//! GELU, tanh approximation: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), evaluated
//! as x * sigmoid(2u) (no cancellation for x < 0). No y-based derivative.
struct GeluTanh {
  static constexpr Op kOp = Op::kGeluTanh;
  static constexpr const char* kName = "gelu_tanh";
  static constexpr bool kHasOutputDerivative = false;
  // 2 sqrt(2/pi) and 0.044715 as double-double pairs: the exponential amplifies any error of 2u
  // by |2u|, up to 700 in float64.
  static constexpr double kTwoKHi = 1.5957691216057308;
  static constexpr double kTwoKLo = -9.96930880911092e-17;
  static constexpr double kCubicHi = 0.044715;
  static constexpr double kCubicLo = 2.1960211427085595e-18;
  GeluTanh() = default;
  CUACT_HD explicit GeluTanh(const ActParams&) {}

  static constexpr double kTwoKCubicHi = 0.07135481627260025;  // 2k c, as a double-double
  static constexpr double kTwoKCubicLo = -6.175149918155315e-19;
  static constexpr double kSixKCubicHi = 0.21406444881780073;  // 3 (2k c), as a double-double
  static constexpr double kSixKCubicLo = 1.2025242832367862e-17;
  //! x (2k + q x^2) as a double-double for q = q_hi + q_lo >= 0 (|x| <= 30, so nothing
  //! overflows), to about 2^-104 relative: x^2 and its product with q as pairs, the sum with 2k
  //! by a two-sum, then x times it (the float32 form's order: one pair product and a final
  //! two-sum fewer than 2k (x + c x^3), 7 FP64 instructions). hi + lo is not renormalised: |lo|
  //! may pass half an ulp of hi by a hair, which the callers (first-order uses of lo) do not mind.
  CUACT_HD static detail::DoubleDouble x_times_two_k_plus(double x, double q_hi, double q_lo) {
    const detail::DoubleDouble sq = detail::two_prod(x, x);
    detail::DoubleDouble m = detail::two_prod(q_hi, sq.hi);
    m.lo = fma(q_hi, sq.lo, fma(q_lo, sq.hi, m.lo));
    const detail::DoubleDouble t = detail::two_sum(kTwoKHi, m.hi);
    detail::DoubleDouble v = detail::two_prod(x, t.hi);
    v.lo = fma(x, t.lo + (m.lo + kTwoKLo), v.lo);
    return v;
  }
  //! 2u = 2k (x + c x^3) = x (2k + 2k c x^2).
  CUACT_HD static detail::DoubleDouble two_u(double x) {
    return x_times_two_k_plus(x, kTwoKCubicHi, kTwoKCubicLo);
  }
  //! x * d(2u)/dx = x * 2k (1 + 3c x^2) = x (2k + 3 (2k c) x^2).
  CUACT_HD static detail::DoubleDouble x_two_u_slope(double x) {
    return x_times_two_k_plus(x, kSixKCubicHi, kSixKCubicLo);
  }
  //! d(2u)/dx = 2k (1 + 3c x^2).
  template <class T>
  CUACT_HD static T two_u_slope(T x) {
    return T(kTwoKHi) * fma(T(3) * T(kCubicHi) * x, x, T(1));
  }
  // x >= 10: sigmoid(2u) = 1 - e^-87; x < -30: |f|, |f'| < 1e-1000. The compares against 10 (in
  // forward) and -700 read the high words on the integer pipe (a double compare takes an FP64
  // slot): +NaN and +inf take forward's x >= 10 exit (f = x), -NaN runs through to NaN. -inf
  // needs the double compare (as an unsigned high word it would catch -NaN too), and so does
  // backward's x > 10, which +NaN must not take.
  static constexpr int kFlatWord = 0x40240000;        // 10
  static constexpr unsigned kTinyWord = 0xC085E000u;  // -700
  CUACT_HD double forward(double x) const {
    if (detail::high_word(x) >= kFlatWord) return x;
    if (x < -30.0) return -0.0;
    const detail::DoubleDouble v = two_u(x);
    if (static_cast<unsigned>(detail::high_word(v.hi)) >= kTinyWord)
      return detail::mul_exp_tiny(x, v.hi, v.lo);
    // x is finite or NaN here: no infinite x to meet a zero v.lo (mul_dd's check).
    const detail::DoubleDouble s = detail::logistic_dd(v.hi, v.lo);
    return fma(x, s.hi, x * s.lo);
  }
  //! 16-bit results. No early returns (a compare, a branch and a reconvergence barrier each per
  //! unrolled element): past x = 10 the sigmoid is 1 in float, below -30 it is 0 and x * 0 = -0;
  //! only -inf, where that product is NaN, needs its own select.
  CUACT_HD float forward(float x) const {
    const float r = x * detail::fast_sigmoid(float(kTwoKHi) * fmaf(float(kCubicHi) * x, x * x, x));
    return x < -30.0f ? -0.0f : r;
  }
  // 2 sqrt(2/pi) and 2 sqrt(2/pi) * 0.044715 as float pairs for the float32 forms (the product
  // rounded in double: 2^-53, far below the pair's 2^-48).
  static constexpr float kTwoKF = static_cast<float>(kTwoKHi);
  static constexpr float kTwoKLoF = static_cast<float>(kTwoKHi - double(kTwoKF) + kTwoKLo);
  static constexpr double kTwoKCubic = kTwoKHi * kCubicHi;
  static constexpr float kTwoKCubicF = static_cast<float>(kTwoKCubic);
  static constexpr float kTwoKCubicLoF = static_cast<float>(
      (kTwoKCubic - double(kTwoKCubicF)) + (kTwoKHi * kCubicLo + kTwoKLo * kCubicHi));
  //! 2u = x (2k + 2k c x^2) = hi + lo in float pairs for |x| <= 30, relative error about 2^-44
  //! (e^(2u) amplifies an error of 2u by |2u|, up to 112 here): x^2, its product with 2k c and the
  //! sum with 2k as pairs, then x times the sum.
  CUACT_HD static detail::FloatPair two_u_f32(float x) {
    const float sq = detail::fmul_rn(x, x);
    const float sq_lo = fmaf(x, x, -sq);
    const float m = detail::fmul_rn(kTwoKCubicF, sq);
    const float m_lo = fmaf(kTwoKCubicF, sq, -m) + fmaf(kTwoKCubicF, sq_lo, kTwoKCubicLoF * sq);
    // Both terms positive: the larger first, a fast two-sum (m = 2k c x^2 passes 2k at |x| = 4.7).
    const detail::FloatPair t = detail::fast_two_sum_f32(fmaxf(kTwoKF, m), fminf(kTwoKF, m));
    const float t_lo = t.lo + (m_lo + kTwoKLoF);
    const float v = detail::fmul_rn(x, t.hi);
    return {v, fmaf(x, t.hi, -v) + x * t_lo};
  }
  //! float32 results (under 0.8 ulp): x S(2u), 2^64 S from the sigmoid table at 2u as a pair
  //! (detail::sigmoid_f32), x times it rounded once, then scaled back. No branches: x clamped to
  //! [-10.95, 5.25], where 2u stays in the table's [-112, 19) (2u = -111.2 and 18.7 at the ends);
  //! from 5.25 on S(2u) is within 2^-26 of 1 and the result x (+inf too), selected. Below -10.95
  //! the factor is clamped as well: -10.95 S(2u(-10.95)) < 2^-156 rounds to -0, as x S(2u) does
  //! (-inf too), with one max where a compare and a select stood. NaN: clamped for 2u, kept as
  //! the factor (the max keeps x when the compare fails), so x S is NaN.
  CUACT_HD float forward_f32(float x) const {
    constexpr float kLo = -10.95f, kHi = 5.25f;
    const detail::FloatPair v = two_u_f32(detail::table_clamp(x, kLo, kHi));
    const detail::FloatPair t = detail::poly_f32_eval(detail::sigmoid_s_table(), v);
    const float r = detail::mul_unscaled_f32(x < kLo ? kLo : x, t);
    return x >= kHi ? x : r;
  }
  //! float32 results: dy gelu_tanh'(x) from the table of 2^64 gelu_tanh' in v = 2u(x)
  //! (detail::gelu_tanh_d_table(), v in [-88, 40), 2^-27 relative, as a pair; exact around the
  //! zero of gelu_tanh' at x = -0.7525, the table's root row), 2u as a pair as in forward_f32, the
  //! pair scaled back (exact: gelu_tanh' is normal for x >= -9.9) and times dy, rounded once. From
  //! x = 7.25 on (2u = 38.8; the table ends at 40) gelu_tanh' is within 2^-49 of 1 and rounds to
  //! it: the result is dy (selected; x clamped to 7.25 for 2u). Below -9.9 (gelu_tanh' < 2^-114),
  //! for NaN (the same test, its compare failing, where a select in every element kept it) or
  //! for an extreme dy, the double form, out of line.
  CUACT_HD float backward_f32(float dy, float x) const {
    constexpr float kHi = 7.25f;
    if (!(x >= -9.9f) || !detail::pair_factor_ok(dy)) return detail::backward_rounded(*this, dy, x);
    const detail::FloatPair v = two_u_f32(detail::table_clamp(x, kHi));
    const detail::FloatPair g = detail::poly_f32_eval(detail::gelu_tanh_d_table(), v);
    const float r = detail::mul_pair_f32(dy, detail::unscaled(g));
    return x >= kHi ? dy : r;
  }
  // f' = s + x * s (1 - s) * 2u'(x), s = sigmoid(2u).
  CUACT_HD double derivative(double x) const { return backward(1.0, x); }
  CUACT_HD double backward(double dy, double x) const {
    if (x > 10.0) return dy;  // (a double compare: +NaN must fall through)
    if (x < -30.0) return dy * 0.0;
    const detail::DoubleDouble v = two_u(x);
    const detail::DoubleDouble xdu = x_two_u_slope(x);
    if (static_cast<unsigned>(detail::high_word(v.hi)) >= kTinyWord) {
      // f' = s (1 + x 2u') with s = e^(2u) tiny: 1 + x 2u' (|x 2u'| > 1500) and dy times it as
      // pairs.
      detail::DoubleDouble t = detail::fast_two_sum(xdu.hi, 1.0);
      t.lo += xdu.lo;
      detail::DoubleDouble m = detail::two_prod(dy, t.hi);
      m.lo = fma(dy, t.lo, m.lo);
      return detail::mul_exp_tiny(m, v.hi, v.lo);
    }
    // f' = s + x 2u' s (1 - s), s = sigmoid(2u). With e = e^-|2u| and D = 1 + e that is
    // (D + x 2u' e) / D^2 for 2u >= 0 and e (D + x 2u') / D^2 below: m (D + c) / D^2 with m and c
    // selected, one quotient of pairs (sigmoid, its slope and their sum took 101 FP64
    // instructions on the path). The sum cancels at the zero of f' (x = -0.75), exactly as pairs.
    const detail::LogisticBase b = detail::logistic_base(v.hi, v.lo);
    const bool upper = detail::high_word(v.hi) >= 0;
    detail::DoubleDouble xe = detail::two_prod(xdu.hi, b.e);
    xe.lo = fma(xdu.hi, b.e_lo, fma(xdu.lo, b.e, xe.lo));
    const detail::DoubleDouble c = upper ? xe : xdu;
    detail::DoubleDouble t = detail::two_sum(b.d, c.hi);
    t.lo += b.d_err + c.lo;
    const double m_hi = upper ? 1.0 : b.e;
    const double m_lo = upper ? 0.0 : b.e_lo;
    detail::DoubleDouble num = detail::two_prod(m_hi, t.hi);
    num.lo = fma(m_hi, t.lo, fma(m_lo, t.hi, num.lo));
    detail::DoubleDouble den = detail::two_prod(b.d, b.d);
    den.lo = fma(2.0 * b.d, b.d_err, den.lo);
    // 1 / D^2 to about an ulp from 1 / D: the residual takes its error with the quotient's.
    return detail::mul_dd(dy, detail::div_dd(num, den, b.r * b.r));
  }
  CUACT_HD float derivative(float x) const {
    if (x > 10.0f) return 1.0f;
    if (x < -11.0f) return 0.0f;  // |f'| < 1e-44: below the bfloat16 subnormals
    const float two_u = float(kTwoKHi) * fmaf(float(kCubicHi) * x, x * x, x);
    return fmaf(x * two_u_slope(x), detail::fast_sigmoid_slope(two_u), detail::fast_sigmoid(two_u));
  }
};

//! silu / swish: x * sigmoid(x), silu(-inf) = 0; f' = s (1 + x (1 - s)). No y-based derivative.
struct Silu {
  static constexpr Op kOp = Op::kSilu;
  static constexpr const char* kName = "silu";
  static constexpr bool kHasOutputDerivative = false;
  Silu() = default;
  CUACT_HD explicit Silu(const ActParams&) {}
  // Below -700 sigmoid(x) = e^x to double precision and e^x is (nearly) subnormal.
  CUACT_HD double forward(double x) const {
    if (x == -HUGE_VAL) return 0.0;
    if (x < -700.0) return detail::mul_exp_tiny(x, x, 0.0);
    return detail::mul_dd(x, detail::logistic_dd(x));
  }
  CUACT_HD float forward(float x) const {
    if (x == -HUGE_VALF) return 0.0f;
    return x * detail::fast_sigmoid(x);
  }
  CUACT_HD float forward_f32(float x) const { return detail::silu_f32(x); }
  //! float32 results: dy silu'(x) from the piecewise polynomial of silu' (detail::silu_d_table(),
  //! exact around the zero of silu' at x = -1.2785); past the table silu' rounds to 1; below it,
  //! or for an extreme dy, the double form, out of line.
  CUACT_HD float backward_f32(float dy, float x) const {
    return detail::table_backward_f32(*this, detail::silu_d_table(), dy, x);
  }
  CUACT_HD double derivative(double x) const { return backward(1.0, x); }
  CUACT_HD double backward(double dy, double x) const {
    if (detail::is_inf(x)) return x > 0.0 ? dy : dy * 0.0;
    if (x < -700.0) return detail::mul_exp_tiny(dy * (1.0 + x), x, 0.0);
    const detail::LogisticParts p = detail::logistic_parts(x);
    return detail::mul_dd(dy, detail::fma_dd_pair({x, 0.0}, p.slope, x >= 0.0 ? p.big : p.small));
  }
  CUACT_HD float derivative(float x) const {
    if (detail::is_inf(x)) return x > 0.0f ? 1.0f : 0.0f;
    return fmaf(x, detail::fast_sigmoid_slope(x), detail::fast_sigmoid(x));
  }
};

//! mish: x * tanh(softplus(x)), evaluated as x n / (n + 2) with n = e^x (e^x + 2) (one
//! exponential, no tanh, no log); mish(-inf) = 0. f' = t + x s (1 - t^2), t = n / (n + 2),
//! 1 - t^2 = 4 (n + 1) / (n + 2)^2, s = sigmoid(x). No y-based derivative.
struct Mish {
  static constexpr Op kOp = Op::kMish;
  static constexpr const char* kName = "mish";
  static constexpr bool kHasOutputDerivative = false;
  Mish() = default;
  CUACT_HD explicit Mish(const ActParams&) {}

  //! e + 2, n = e (e + 2), d = n + 2 and t = n / d as double-doubles for e = e^x as a pair
  //! (exact up to ~2^-100 beyond the error of e itself; t's relative slope in e reaches 2, so e's
  //! own rounding would cost up to an ulp).
  struct Parts {
    detail::DoubleDouble e_plus_2, n, d;
  };
  CUACT_HD static Parts parts(detail::DoubleDouble e) {
    Parts m;
    m.e_plus_2 = detail::two_sum(e.hi, 2.0);
    m.e_plus_2.lo += e.lo;
    m.n = detail::two_prod(e.hi, m.e_plus_2.hi);
    m.n.lo = fma(e.hi, m.e_plus_2.lo, fma(e.lo, m.e_plus_2.hi, m.n.lo));
    m.d = detail::two_sum(m.n.hi, 2.0);
    m.d.lo += m.n.lo;
    return m;
  }
  //! num / den for den >= 1 (den.hi <= 2^1000): detail::div_dd with rcp_pos's reciprocal.
  CUACT_HD static detail::DoubleDouble quotient(detail::DoubleDouble num,
                                                detail::DoubleDouble den) {
    return detail::div_dd(num, den, detail::rcp_pos(den.hi));
  }
  CUACT_HD double forward(double x) const {
    if (x > 20.0) return x;  // tanh(softplus(x)) rounds to 1 (2 e^-40 < ulp(1) / 2)
    if (x == -HUGE_VAL) return 0.0;
    if (x < -700.0) return detail::mul_exp_tiny(x, x, 0.0);  // t = e^x to double precision
    const Parts m = parts(detail::exp_neg_dd(-x));           // e^x, x in [-700, 20]
    return detail::mul_dd(x, quotient(m.n, m.d));
  }
  CUACT_HD float forward(float x) const {
    if (x > 20.0f) return x;
    if (x == -HUGE_VALF) return 0.0f;
    const float e = detail::fast_exp(x);
    const float n = e * (e + 2.0f);
    return x * n * detail::approx_rcp(n + 2.0f);  // n + 2 in [2, 2^58]: 1/(n + 2) normal
  }
  CUACT_HD float forward_f32(float x) const { return detail::mish_f32(x); }
  //! float32 results: dy mish'(x) from the piecewise polynomial of mish' (detail::mish_d_table(),
  //! exact around the zero of mish' at x = -1.1924); past the table mish' rounds to 1; below it,
  //! or for an extreme dy, the double form, out of line.
  CUACT_HD float backward_f32(float dy, float x) const {
    return detail::table_backward_f32(*this, detail::mish_d_table(), dy, x);
  }
  CUACT_HD double derivative(double x) const { return backward(1.0, x); }
  CUACT_HD double backward(double dy, double x) const {
    if (x > 40.0) return dy;  // the correction 4 x e^-2x is below ulp(1) / 2
    if (x == -HUGE_VAL) return dy * 0.0;
    if (x < -700.0) return detail::mul_exp_tiny(dy * (1.0 + x), x, 0.0);
    // mish' = t + x s w with t = n / d, s = e / (1 + e), w = 4 (n + 1) / d^2 = 4 (e + 1)^2 / d^2,
    // so mish' = e ((e + 2) d + 4 x (e + 1)) / d^2: one quotient of pairs (the three took 117
    // FP64 instructions, this 85). The sum cancels at mish's zero (x = -1.19), exactly as pairs.
    const detail::DoubleDouble e = detail::exp_neg_dd(-x);  // e^x, x in [-700, 40]
    const Parts m = parts(e);
    detail::DoubleDouble a = detail::two_prod(m.e_plus_2.hi, m.d.hi);  // (e + 2) d
    a.lo = fma(m.e_plus_2.hi, m.d.lo, fma(m.e_plus_2.lo, m.d.hi, a.lo));
    detail::DoubleDouble e_plus_1 = detail::two_sum(e.hi, 1.0);
    e_plus_1.lo += e.lo;
    detail::DoubleDouble b = detail::two_prod(4.0 * x, e_plus_1.hi);  // 4 x (e + 1)
    b.lo = fma(4.0 * x, e_plus_1.lo, b.lo);
    detail::DoubleDouble sum = detail::two_sum(a.hi, b.hi);
    sum.lo += a.lo + b.lo;
    detail::DoubleDouble num = detail::two_prod(e.hi, sum.hi);
    num.lo = fma(e.hi, sum.lo, fma(e.lo, sum.hi, num.lo));
    detail::DoubleDouble den = detail::two_prod(m.d.hi, m.d.hi);
    den.lo = fma(2.0 * m.d.hi, m.d.lo, den.lo);
    return detail::mul_dd(dy, quotient(num, den));
  }
  //! mish'(x) near its zero for 16-bit results: the two terms of the fast form below cancel
  //! there, and the 2^-22 errors of ex2.approx and rcp.approx in them reach two float16 ulps
  //! (seen at x = -1.1924, tests/functors_host_test.cpp's FunctorMufuErrorBounds); the float32
  //! form's polynomial holds mish'(x) / (x - zero). Out of line: about 30 float16 inputs use it.
  CUACT_HD_COLD static float derivative_near_zero(float x) {
    const detail::FloatPair d = detail::poly_f32_eval(detail::mish_d_table(), x);
    return d.hi + d.lo;
  }
  CUACT_HD float derivative(float x) const {
    if (x > 20.0f) return 1.0f;
    if (x == -HUGE_VALF) return 0.0f;
    if (fabsf(x - detail::mish_d_table().root[0]) < 0x1p-6f) return derivative_near_zero(x);
    const float e = detail::fast_exp(x);
    const float n = e * (e + 2.0f);
    const float r = detail::approx_rcp(n + 2.0f);
    const float s = e * detail::approx_rcp(1.0f + e);  // sigmoid(x) from the same e^x (<= e^20)
    return fmaf(x * s, 4.0f * (n + 1.0f) * r * r, n * r);
  }
};

}  // namespace cuact
