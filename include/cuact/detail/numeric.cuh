// SPDX-License-Identifier: Apache-2.0
//! @file cuact/detail/numeric.cuh
//! Scalar math building blocks for the functors in cuact/functors.cuh, callable on host and
//! device. Two families:
//!  - `fast_*` (float): cheap float32 formulations meant for 16-bit outputs. On the device they
//!    use the special-function unit (ex2.approx, lg2.approx: relative error about 2^-22); on the
//!    host they call the C library, so host and device agree far below a 16-bit half ulp.
//!  - double-double helpers: for float64 forms whose argument would otherwise be rounded before
//!    an exponential amplifies the rounding (exp(-x^2/2) at |x| = 30 loses 8 bits without them).
#pragma once

#include <math.h>

#if defined(__CUDACC__)
#define CUACT_HD __host__ __device__ __forceinline__
#else
#define CUACT_HD inline
#endif

namespace cuact::detail {

inline constexpr float kLog2eF = 1.4426950408889634f;
inline constexpr float kLn2F = 0.6931471805599453f;

//! 2^x. Device: one MUFU.EX2 without flush-to-zero, so subnormal results survive (bfloat16 has
//! the float32 exponent range and needs them).
CUACT_HD float fast_exp2(float x) {
#if defined(__CUDA_ARCH__)
  float r;
  asm("ex2.approx.f32 %0, %1;" : "=f"(r) : "f"(x));
  return r;
#else
  return ::exp2f(x);
#endif
}

//! log2(x) for normal positive x (callers pass values in [1, 2]).
CUACT_HD float fast_log2(float x) {
#if defined(__CUDA_ARCH__)
  float r;
  asm("lg2.approx.f32 %0, %1;" : "=f"(r) : "f"(x));
  return r;
#else
  return ::log2f(x);
#endif
}

//! Correctly rounded 1/x (MUFU.RCP plus a Newton step on the device). Used instead of a
//! division: same accuracy class as needed here, a third of the instructions.
CUACT_HD float fast_rcp(float x) {
#if defined(__CUDA_ARCH__)
  return __frcp_rn(x);
#else
  return 1.0f / x;
#endif
}

//! e^x with log2(e) folded into the argument.
CUACT_HD float fast_exp(float x) { return fast_exp2(x * kLog2eF); }

//! e^x - 1 without cancellation near 0: a degree-7 Taylor polynomial for |x| < 0.35 (truncation
//! below 2^-26 relative), e^x - 1 elsewhere (the subtraction then loses under 2 bits).
CUACT_HD float fast_expm1(float x) {
  if (fabsf(x) < 0.35f) {
    float p = 1.0f / 5040.0f;
    p = fmaf(p, x, 1.0f / 720.0f);
    p = fmaf(p, x, 1.0f / 120.0f);
    p = fmaf(p, x, 1.0f / 24.0f);
    p = fmaf(p, x, 1.0f / 6.0f);
    p = fmaf(p, x, 0.5f);
    return fmaf(p * x, x, x);
  }
  return fast_exp(x) - 1.0f;
}

//! log(1 + e) for e in [0, 1]: a short series where log2(1 + e) would lose e's low bits.
CUACT_HD float fast_log1p_unit(float e) {
  if (e < 0.03125f) {
    float p = fmaf(e, -0.25f, 1.0f / 3.0f);
    p = fmaf(p, e, -0.5f);
    return fmaf(p * e, e, e);
  }
  return fast_log2(1.0f + e) * kLn2F;
}

//! Logistic sigmoid in float: 1 / (1 + e^-x); saturates cleanly to 0 and 1 at the tails.
CUACT_HD float fast_sigmoid(float x) { return fast_rcp(1.0f + fast_exp(-x)); }

//! sigmoid(x) * sigmoid(-x) = e / (1 + e)^2 with e = e^-|x|: no cancellation at either tail.
CUACT_HD float fast_sigmoid_slope(float x) {
  const float e = fast_exp(-fabsf(x));
  const float r = fast_rcp(1.0f + e);
  return e * r * r;
}

// ---- double-double helpers (float64 paths) ------------------------------------------------

//! Exact product a * b = hi + lo (one FMA).
struct DoubleDouble {
  double hi;
  double lo;
};

CUACT_HD DoubleDouble two_prod(double a, double b) {
  const double p = a * b;
  return {p, fma(a, b, -p)};
}

//! exp(hi + lo) for |lo| <= ulp(hi): exp(hi) * (1 + lo).
CUACT_HD double exp_dd(double hi, double lo) {
  const double e = ::exp(hi);
  return fma(e, lo, e);
}

//! sigmoid(x) for double, choosing the form that divides the small quantity.
CUACT_HD double sigmoid_d(double x) {
  const double e = ::exp(-fabs(x));
  const double r = 1.0 / (1.0 + e);
  return x >= 0.0 ? r : e * r;
}

//! sigmoid(x) * sigmoid(-x) for double.
CUACT_HD double sigmoid_slope_d(double x) {
  const double e = ::exp(-fabs(x));
  const double d = 1.0 + e;
  return e / (d * d);
}

//! log(1 + exp(x)) for double.
CUACT_HD double softplus_d(double x) {
  return x > 0.0 ? x + ::log1p(::exp(-x)) : ::log1p(::exp(x));
}

}  // namespace cuact::detail
