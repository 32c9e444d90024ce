// SPDX-License-Identifier: Apache-2.0
//! @file tests/reference/activation_reference.hpp
//! Independent CPU reference for every cuact activation, in `long double` (x87 80-bit, 64-bit
//! significand). It shares no code with include/cuact: only the Op enum and the ActParams struct
//! come from cuact/types.hpp. Each function is written from the textbook definition in a
//! numerically stable form, so that for float and double arguments the reference is accurate to
//! a few long-double ulps (about 2^-62 relative), far below a float64 ulp.
//!
//! Where an exponential or erfc amplifies the rounding of its argument (exact GELU's erfc(-x/√2)
//! and e^{-x²/2}, GELU-tanh's e^{2u}), the argument is carried as an unevaluated pair of long
//! doubles (error-free products through fmal), so even at |argument| ≈ 750 the reference stays
//! accurate to better than 2^-60 relative.
//!
//! Semantics are the library's contract (README "Semantics"): NaN in gives NaN out for every
//! function, ±inf give the mathematical limits, and derivatives at kinks follow the documented
//! convention (relu'(0) = 0, leaky'(0) = alpha, relu6' = 0 at 0 and 6, hard_swish' = 0 at -3 and
//! 1 at 3, hard sigmoids 0 at both corners).
#pragma once

#include <cmath>
#include <limits>

#include "cuact/types.hpp"

namespace cuact_ref {

namespace impl {

using LD = long double;

inline LD nan_ld() {
  return std::numeric_limits<LD>::quiet_NaN();
}
inline LD inf_ld() {
  return std::numeric_limits<LD>::infinity();
}
inline bool isnan_ld(LD v) {
  return v != v;
}

// Constants as (hi, lo) pairs: hi is the constant rounded to 64 bits, lo the rounded remainder.
// Computed offline with 300-bit arithmetic.
inline constexpr LD kInvSqrt2Hi = 0x1.6a09e667f3bcc908p-1L;  // 1/sqrt(2)
inline constexpr LD kInvSqrt2Lo = 0x1.65f626cdd52afa7cp-66L;
inline constexpr LD kTwoSqrt2OverPiHi = 0x1.9884533d436508d0p0L;  // 2 sqrt(2/pi)
inline constexpr LD kTwoSqrt2OverPiLo = 0x1.f9678a017571c5fep-65L;
inline constexpr LD kCubicHi = 0x1.6e4e26d4801f7510p-5L;  // 0.044715
inline constexpr LD kCubicLo = 0x1.355475a31a4bdba0p-71L;
inline constexpr LD kInvSqrt2Pi = 0x1.9884533d436508d0p-2L;    // 1/sqrt(2 pi)
inline constexpr LD kTwoOverSqrtPi = 0x1.20dd750429b6d11ap0L;  // 2/sqrt(pi)

inline constexpr LD kSeluScale = 1.0507009873554804934193349852946L;
inline constexpr LD kSeluAlpha = 1.6732632423543772848170429916717L;
// scale * alpha as a pair: y + scale*alpha cancels for y near -scale*alpha (x -> -inf).
inline constexpr LD kSeluScaleAlphaHi = 0x1.c212cc640f031106p0L;
inline constexpr LD kSeluScaleAlphaLo = -0x1.d3c9f74bc04c3754p-65L;

//! Unevaluated sum hi + lo with |lo| <= ulp(hi) / 2 (after normalisation).
struct Pair {
  LD hi;
  LD lo;
};

inline Pair two_sum(LD a, LD b) {
  const LD s = a + b;
  const LD bb = s - a;
  const LD err = (a - (s - bb)) + (b - bb);
  return {s, err};
}

//! Exact product a * b = hi + lo (fmal is correctly rounded, so lo is exact).
inline Pair two_prod(LD a, LD b) {
  const LD p = a * b;
  return {p, std::fma(a, b, -p)};
}

inline Pair normalise(LD hi, LD lo) {
  return two_sum(hi, lo);
}

//! (a.hi + a.lo) * (b.hi + b.lo) to about 2^-120 relative.
inline Pair mul(Pair a, Pair b) {
  Pair p = two_prod(a.hi, b.hi);
  p.lo += a.hi * b.lo + a.lo * b.hi;
  return normalise(p.hi, p.lo);
}

inline Pair add(Pair a, Pair b) {
  Pair s = two_sum(a.hi, b.hi);
  s.lo += a.lo + b.lo;
  return normalise(s.hi, s.lo);
}

//! e^{v.hi + v.lo} with |v.lo| tiny: e^{hi} (1 + lo) (lo^2 is below 2^-100).
inline LD exp_pair(Pair v) {
  const LD e = std::exp(v.hi);
  return e + e * v.lo;
}

//! Logistic sigmoid 1 / (1 + e^-x), dividing the small quantity for x < 0.
inline LD sigmoid(LD x) {
  if (isnan_ld(x)) return x;
  if (x >= 0) return 1.0L / (1.0L + std::exp(-x));
  const LD e = std::exp(x);
  return e / (1.0L + e);
}

//! sigmoid(x) (1 - sigmoid(x)) = e / (1 + e)^2 with e = e^{-|x|}.
inline LD sigmoid_slope(LD x) {
  if (isnan_ld(x)) return x;
  const LD e = std::exp(-std::fabs(x));
  const LD d = 1.0L + e;
  return e / (d * d);
}

//! log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}).
inline LD softplus(LD x) {
  if (isnan_ld(x)) return x;
  return (x > 0 ? x : 0.0L) + std::log1p(std::exp(-std::fabs(x)));
}

//! 1 - tanh(v)^2 = 4 e / (1 + e)^2 with e = e^{-2|v|}: no cancellation for large |v|.
inline LD sech2(LD v) {
  if (isnan_ld(v)) return v;
  const LD e = std::exp(-2.0L * std::fabs(v));
  const LD d = 1.0L + e;
  return 4.0L * e / (d * d);
}

//! Phi(x) = 0.5 erfc(-x / sqrt 2) with the argument z = -x/sqrt2 carried as a pair:
//! erfc(z + dz) = erfc(z) - (2/sqrt(pi)) e^{-z^2} dz to first order (dz ~ 2^-64 z).
inline LD normal_cdf(LD x) {
  if (isnan_ld(x)) return x;
  if (x == inf_ld()) return 1.0L;
  if (x == -inf_ld()) return 0.0L;
  const Pair z = mul(Pair{-x, 0.0L}, Pair{kInvSqrt2Hi, kInvSqrt2Lo});
  const LD e = std::erfc(z.hi);
  const LD corr = kTwoOverSqrtPi * std::exp(-z.hi * z.hi) * z.lo;
  return 0.5L * (e - corr);
}

//! phi(x) = e^{-x^2/2} / sqrt(2 pi) with x^2 exact as a pair.
inline LD normal_pdf(LD x) {
  if (isnan_ld(x)) return x;
  if (std::isinf(x)) return 0.0L;
  const Pair x2 = two_prod(x, x);
  return kInvSqrt2Pi * exp_pair(Pair{-0.5L * x2.hi, -0.5L * x2.lo});
}

//! 2u = 2 sqrt(2/pi) (x + 0.044715 x^3) as a pair.
inline Pair gelu_tanh_two_u(LD x) {
  const Pair x2 = two_prod(x, x);
  const Pair x3 = mul(x2, Pair{x, 0.0L});
  const Pair cx3 = mul(x3, Pair{kCubicHi, kCubicLo});
  const Pair inner = add(Pair{x, 0.0L}, cx3);
  return mul(inner, Pair{kTwoSqrt2OverPiHi, kTwoSqrt2OverPiLo});
}

//! sigmoid(v) and sigmoid(v) sigmoid(-v) for a pair argument v.
inline void sigmoid_pair(Pair v, LD& s, LD& slope) {
  // e = e^{-|v|}
  const Pair neg_abs = v.hi >= 0 ? Pair{-v.hi, -v.lo} : v;
  const LD e = exp_pair(neg_abs);
  const LD d = 1.0L + e;
  s = v.hi >= 0 ? 1.0L / d : e / d;
  slope = e / (d * d);
}

// ---- per-op pieces -----------------------------------------------------------------------

struct Params {
  LD relu_alpha, relu_max, relu_threshold, elu_alpha, leaky_alpha, theta, hs_slope, hs_offset,
      celu_alpha;
  bool relu_has_max;
  explicit Params(const cuact::ActParams& p)
      : relu_alpha(p.relu_alpha),
        relu_max(p.relu_max_value),
        relu_threshold(p.relu_threshold),
        elu_alpha(p.elu_alpha),
        leaky_alpha(p.leaky_alpha),
        theta(p.theta),
        hs_slope(p.hard_sigmoid_slope),
        hs_offset(p.hard_sigmoid_offset),
        celu_alpha(p.celu_alpha),
        relu_has_max(std::isfinite(static_cast<LD>(p.relu_max_value))) {}
};

inline LD relu_fwd(LD x, const Params& q) {
  if (isnan_ld(x)) return x;
  const LD t = q.relu_threshold;
  LD p = x > t ? x : 0.0L;
  if (q.relu_has_max) p = p < 0 ? 0.0L : (p > q.relu_max ? q.relu_max : p);
  if (x < t) {
    // Keras 2: p - alpha * relu(t - x). alpha == 0 contributes nothing, also at x = -inf.
    if (q.relu_alpha != 0) p = p - q.relu_alpha * (t - x);
  }
  return p;
}

inline LD gelu_fwd(LD x) {
  if (isnan_ld(x)) return x;
  if (x == -inf_ld()) return 0.0L;
  if (x == inf_ld()) return x;
  return x * normal_cdf(x);
}

inline LD gelu_tanh_fwd(LD x) {
  if (isnan_ld(x)) return x;
  if (x == -inf_ld()) return 0.0L;
  if (x == inf_ld()) return x;
  LD s, slope;
  sigmoid_pair(gelu_tanh_two_u(x), s, slope);
  return x * s;  // 0.5 x (1 + tanh u) = x sigmoid(2u)
}

inline void gelu_tanh_der_terms(LD x, LD& a, LD& b) {
  // f' = sigmoid(2u) + x sigmoid(2u) sigmoid(-2u) (2u)', (2u)' = 2 sqrt(2/pi) (1 + 3c x^2)
  LD s, slope;
  sigmoid_pair(gelu_tanh_two_u(x), s, slope);
  const LD du = kTwoSqrt2OverPiHi * (1.0L + 3.0L * kCubicHi * x * x);
  a = s;
  b = x * slope * du;
}

inline void silu_der_terms(LD x, LD& a, LD& b) {
  a = sigmoid(x);
  b = x * sigmoid_slope(x);
}

inline void mish_der_terms(LD x, LD& a, LD& b) {
  const LD sp = softplus(x);
  a = std::tanh(sp);
  b = x * sigmoid(x) * sech2(sp);
}

inline void gelu_der_terms(LD x, LD& a, LD& b) {
  a = normal_cdf(x);
  b = x * normal_pdf(x);
}

}  // namespace impl

//! True for the ops whose derivative can be written as a function of y (for some parameters).
inline bool has_derivative_from_output(cuact::Op op) {
  switch (op) {
    case cuact::Op::kGelu:
    case cuact::Op::kGeluTanh:
    case cuact::Op::kSilu:
    case cuact::Op::kMish:
    case cuact::Op::kHardSwish: return false;
    default: return true;
  }
}

//! f(x).
inline long double forward(cuact::Op op, long double x, const cuact::ActParams& params) {
  using namespace impl;
  const Params q(params);
  if (isnan_ld(x)) return x;
  switch (op) {
    case cuact::Op::kLinear: return x;
    case cuact::Op::kRelu: return relu_fwd(x, q);
    case cuact::Op::kElu: return x > 0 ? x : q.elu_alpha * std::expm1(x);
    case cuact::Op::kSelu: return kSeluScale * (x > 0 ? x : kSeluAlpha * std::expm1(x));
    case cuact::Op::kSoftplus: return softplus(x);
    case cuact::Op::kSoftsign:
      if (std::isinf(x)) return x > 0 ? 1.0L : -1.0L;
      return x / (1.0L + std::fabs(x));
    case cuact::Op::kTanh: return std::tanh(x);
    case cuact::Op::kSigmoid: return sigmoid(x);
    case cuact::Op::kHardSigmoid: {
      const LD v = std::fma(q.hs_slope, x, q.hs_offset);
      return v < 0 ? 0.0L : (v > 1 ? 1.0L : v);
    }
    case cuact::Op::kExponential: return std::exp(x);
    case cuact::Op::kLeakyRelu:
      if (x > 0) return x;
      return q.leaky_alpha == 0 ? 0.0L : q.leaky_alpha * x;
    case cuact::Op::kThresholdedRelu: return x > q.theta ? x : 0.0L;
    case cuact::Op::kRelu6: return x < 0 ? 0.0L : (x > 6 ? 6.0L : x);
    case cuact::Op::kGelu: return gelu_fwd(x);
    case cuact::Op::kGeluTanh: return gelu_tanh_fwd(x);
    case cuact::Op::kSilu:
      if (x == -inf_ld()) return 0.0L;
      return x * sigmoid(x);
    case cuact::Op::kMish:
      if (x == -inf_ld()) return 0.0L;
      return x * std::tanh(softplus(x));
    case cuact::Op::kHardSwish:
      if (x <= -3) return 0.0L;
      if (x >= 3) return x;
      return x * (x + 3.0L) / 6.0L;
    case cuact::Op::kCelu: return x > 0 ? x : q.celu_alpha * std::expm1(x / q.celu_alpha);
    case cuact::Op::kLogSigmoid: return (x < 0 ? x : 0.0L) - std::log1p(std::exp(-std::fabs(x)));
    case cuact::Op::kHardSigmoidRelu6:
      if (x <= -3) return 0.0L;
      if (x >= 3) return 1.0L;
      return (x + 3.0L) / 6.0L;
  }
  return nan_ld();
}

//! f'(x).
inline long double derivative(cuact::Op op, long double x, const cuact::ActParams& params) {
  using namespace impl;
  const Params q(params);
  if (isnan_ld(x)) return x;
  switch (op) {
    case cuact::Op::kLinear: return 1.0L;
    case cuact::Op::kRelu: {
      const LD t = q.relu_threshold;
      if (x > t) return (!q.relu_has_max || (x > 0 && x < q.relu_max)) ? 1.0L : 0.0L;
      return x < t ? q.relu_alpha : 0.0L;
    }
    case cuact::Op::kElu: return x > 0 ? 1.0L : q.elu_alpha * std::exp(x);
    case cuact::Op::kSelu: return x > 0 ? kSeluScale : kSeluScale * kSeluAlpha * std::exp(x);
    case cuact::Op::kSoftplus: return sigmoid(x);
    case cuact::Op::kSoftsign: {
      const LD d = 1.0L + std::fabs(x);
      return 1.0L / (d * d);
    }
    case cuact::Op::kTanh: return sech2(x);
    case cuact::Op::kSigmoid: return sigmoid_slope(x);
    case cuact::Op::kHardSigmoid: {
      const LD v = std::fma(q.hs_slope, x, q.hs_offset);
      return (v > 0 && v < 1) ? q.hs_slope : 0.0L;
    }
    case cuact::Op::kExponential: return std::exp(x);
    case cuact::Op::kLeakyRelu: return x > 0 ? 1.0L : q.leaky_alpha;
    case cuact::Op::kThresholdedRelu: return x > q.theta ? 1.0L : 0.0L;
    case cuact::Op::kRelu6: return (x > 0 && x < 6) ? 1.0L : 0.0L;
    case cuact::Op::kGelu: {
      if (std::isinf(x)) return x > 0 ? 1.0L : 0.0L;
      LD a, b;
      gelu_der_terms(x, a, b);
      return a + b;
    }
    case cuact::Op::kGeluTanh: {
      if (std::isinf(x)) return x > 0 ? 1.0L : 0.0L;
      LD a, b;
      gelu_tanh_der_terms(x, a, b);
      return a + b;
    }
    case cuact::Op::kSilu: {
      if (std::isinf(x)) return x > 0 ? 1.0L : 0.0L;
      LD a, b;
      silu_der_terms(x, a, b);
      return a + b;
    }
    case cuact::Op::kMish: {
      if (std::isinf(x)) return x > 0 ? 1.0L : 0.0L;
      LD a, b;
      mish_der_terms(x, a, b);
      return a + b;
    }
    case cuact::Op::kHardSwish:
      if (x <= -3) return 0.0L;
      if (x >= 3) return 1.0L;
      return (2.0L * x + 3.0L) / 6.0L;
    case cuact::Op::kCelu: return x > 0 ? 1.0L : std::exp(x / q.celu_alpha);
    case cuact::Op::kLogSigmoid: return sigmoid(-x);
    case cuact::Op::kHardSigmoidRelu6: return (x > -3 && x < 3) ? 1.0L / 6.0L : 0.0L;
  }
  return nan_ld();
}

//! f' written as a function of the forward output y. NaN for ops without one (see
//! has_derivative_from_output); parameter validity (alpha >= 0 ...) is the caller's concern.
inline long double derivative_from_output(cuact::Op op, long double y,
                                          const cuact::ActParams& params) {
  using namespace impl;
  const Params q(params);
  if (isnan_ld(y)) return y;
  switch (op) {
    case cuact::Op::kLinear: return 1.0L;
    case cuact::Op::kRelu:
      if (y > 0) return (!q.relu_has_max || y < q.relu_max) ? 1.0L : 0.0L;
      return y < 0 ? q.relu_alpha : 0.0L;
    case cuact::Op::kElu: return y > 0 ? 1.0L : y + q.elu_alpha;
    case cuact::Op::kSelu:
      if (y > 0) return kSeluScale;
      return (y + kSeluScaleAlphaHi) + kSeluScaleAlphaLo;  // y + hi is exact where it cancels
    case cuact::Op::kSoftplus: return -std::expm1(-y);
    case cuact::Op::kSoftsign: {
      const LD d = 1.0L - std::fabs(y);
      return d * d;
    }
    case cuact::Op::kTanh: return (1.0L - y) * (1.0L + y);
    case cuact::Op::kSigmoid: return y * (1.0L - y);
    case cuact::Op::kHardSigmoid: return (y > 0 && y < 1) ? q.hs_slope : 0.0L;
    case cuact::Op::kExponential: return y;
    case cuact::Op::kLeakyRelu: return y > 0 ? 1.0L : q.leaky_alpha;
    case cuact::Op::kThresholdedRelu: return y > q.theta ? 1.0L : 0.0L;
    case cuact::Op::kRelu6: return (y > 0 && y < 6) ? 1.0L : 0.0L;
    case cuact::Op::kCelu:
      if (y > 0) return 1.0L;
      {
        // y / alpha + 1 cancels for y near -alpha: add the division's exact remainder back.
        const LD r = y / q.celu_alpha;
        if (std::isinf(r)) return r + 1.0L;
        const LD rem = std::fma(-r, q.celu_alpha, y);  // y - r * alpha, exact
        return (r + 1.0L) + rem / q.celu_alpha;
      }
    case cuact::Op::kLogSigmoid: return -std::expm1(y);
    case cuact::Op::kHardSigmoidRelu6: return (y > 0 && y < 1) ? 1.0L / 6.0L : 0.0L;
    case cuact::Op::kGelu:
    case cuact::Op::kGeluTanh:
    case cuact::Op::kSilu:
    case cuact::Op::kMish:
    case cuact::Op::kHardSwish: return nan_ld();
  }
  return nan_ld();
}

//! Magnitude of the larger of the two terms summed in f'(x) for gelu, gelu_tanh, silu and mish
//! (the scale at which any finite-precision evaluation of f' cancels near its interior zero);
//! |f'(x)| for every other op.
inline long double derivative_term_scale(cuact::Op op, long double x,
                                         const cuact::ActParams& params) {
  using namespace impl;
  if (isnan_ld(x)) return x;
  LD a, b;
  switch (op) {
    case cuact::Op::kGelu:
      if (std::isinf(x)) return x > 0 ? 1.0L : 0.0L;
      gelu_der_terms(x, a, b);
      break;
    case cuact::Op::kGeluTanh:
      if (std::isinf(x)) return x > 0 ? 1.0L : 0.0L;
      gelu_tanh_der_terms(x, a, b);
      break;
    case cuact::Op::kSilu:
      if (std::isinf(x)) return x > 0 ? 1.0L : 0.0L;
      silu_der_terms(x, a, b);
      break;
    case cuact::Op::kMish:
      if (std::isinf(x)) return x > 0 ? 1.0L : 0.0L;
      mish_der_terms(x, a, b);
      break;
    default: return std::fabs(derivative(op, x, params));
  }
  const LD fa = std::fabs(a), fb = std::fabs(b);
  return fa > fb ? fa : fb;
}

}  // namespace cuact_ref
