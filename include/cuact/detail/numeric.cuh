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

#include "cuact/detail/f64_tables.hpp"
#include "cuact/detail/poly_f32_table.hpp"

#if defined(__CUDACC__)
#define CUACT_HD __host__ __device__ __forceinline__
#else
#define CUACT_HD inline
#endif

//! Rare paths kept out of line: one copy per kernel instead of one per unrolled element. A
//! double exponential inlined into each of 16 elements made some float32 kernels over 100 KB.
#if defined(__CUDACC__)
#define CUACT_HD_COLD __host__ __device__ __noinline__
#else
#define CUACT_HD_COLD
#endif

#if defined(__CUDACC__) && defined(__CUDA_ARCH__)
#define CUACT_HD_HOST_OUTLINED __host__ __device__
#elif defined(__CUDACC__)
#define CUACT_HD_HOST_OUTLINED __host__ __device__ __noinline__
#else
#define CUACT_HD_HOST_OUTLINED __attribute__((noinline))
#endif

//! Host builds: keeps a value rounded where the host compiler may contract (-mfma with the
//! default -ffp-contract=fast), as the _rn intrinsics do on the device; nothing elsewhere.
#if !defined(__CUDA_ARCH__) && defined(__GNUC__) && defined(__x86_64__)
#define CUACT_HOST_ROUNDED(v) __asm__("" : "+x"(v))
#else
#define CUACT_HOST_ROUNDED(v) ((void)0)
#endif

namespace cuact::detail {

#if defined(CUACT_TEST_MUFU_ERROR_MODEL) && !defined(__CUDA_ARCH__)
//! Test builds only (tests/functors_host_test.cpp defines CUACT_TEST_MUFU_ERROR_MODEL): the host
//! forms of the device's approximate instructions below err by these amounts, so that the 16-bit
//! forms' margin can be checked against those instructions' error bounds instead of the C
//! library's nearly exact results. All zero (the default): the C library, as in other builds.
struct MufuErrorModel {
  double exp2_relative = 0;  //!< ex2.approx: 2^x (1 + e)
  double log2_absolute = 0;  //!< lg2.approx: log2(x) + e
  double rcp_relative = 0;   //!< rcp.approx: (1 / x)(1 + e)
};
inline MufuErrorModel mufu_error_model;
#endif

inline constexpr float kLog2eF = 1.4426950408889634f;
inline constexpr float kLn2F = 0.6931471805599453f;
inline constexpr float kLog2eLoF = 0x1.4ae0cp-26f;  // log2(e) - kLog2eF

//! 2^x. Device: one MUFU.EX2 without flush-to-zero, so subnormal results survive (bfloat16 has
//! the float32 exponent range and needs them).
CUACT_HD float fast_exp2(float x) {
#if defined(__CUDA_ARCH__)
  float r;
  asm("ex2.approx.f32 %0, %1;" : "=f"(r) : "f"(x));
  return r;
#elif defined(CUACT_TEST_MUFU_ERROR_MODEL)
  const double e = x == 0.0f ? 0.0 : mufu_error_model.exp2_relative;  // ex2(+-0) = 1 (PTX)
  return e == 0 ? ::exp2f(x) : static_cast<float>(::exp2(static_cast<double>(x)) * (1.0 + e));
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
#elif defined(CUACT_TEST_MUFU_ERROR_MODEL)
  const double e = mufu_error_model.log2_absolute;
  return e == 0 ? ::log2f(x) : static_cast<float>(::log2(static_cast<double>(x)) + e);
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

//! 1/x to about 1 ulp (one MUFU.RCP on the device, no Newton step and no special-case branch),
//! for x whose reciprocal is a normal float (|x| in [2^-126, 2^126]): the 16-bit forms, where
//! 2^-23 is far below a half ulp, and their arguments (1 + e, n + 2, 4 + a) are bounded.
CUACT_HD float approx_rcp(float x) {
#if defined(__CUDA_ARCH__)
  float r;
  asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
  return r;
#elif defined(CUACT_TEST_MUFU_ERROR_MODEL)
  const double e = mufu_error_model.rcp_relative;
  return e == 0 ? 1.0f / x : static_cast<float>((1.0 / static_cast<double>(x)) * (1.0 + e));
#else
  return 1.0f / x;
#endif
}

//! e^x with log2(e) folded into the argument.
CUACT_HD float fast_exp(float x) {
  return fast_exp2(x * kLog2eF);
}

//! 2^x with subnormal results flushed to +0: MUFU.EX2 alone, without the two scalings around it
//! that keep subnormal results (three instructions). For callers where such a result would not
//! change theirs (e^x - 1 is -1 in float below x = -17).
CUACT_HD float fast_exp2_ftz(float x) {
#if defined(__CUDA_ARCH__)
  float r;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
  return r;
#else
  const float r = fast_exp2(x);
  return r < 0x1p-126f ? 0.0f : r;  // the host model of the flush (r >= 0)
#endif
}

//! e^x - 1 without cancellation near 0: a degree-7 Taylor polynomial for |x| < 0.35 (truncation
//! below 2^-26 relative), e^x - 1 elsewhere (the subtraction then loses under 2 bits). Both are
//! computed and one selected: lanes of a warp take both sides anyway, and the branch cost a
//! compare, a branch and a reconvergence barrier per unrolled element on top.
CUACT_HD float fast_expm1(float x) {
  float p = 1.0f / 5040.0f;
  p = fmaf(p, x, 1.0f / 720.0f);
  p = fmaf(p, x, 1.0f / 120.0f);
  p = fmaf(p, x, 1.0f / 24.0f);
  p = fmaf(p, x, 1.0f / 6.0f);
  p = fmaf(p, x, 0.5f);
  const float near_zero = fmaf(p * x, x, x);
  const float far = fast_exp2_ftz(x * kLog2eF) - 1.0f;  // (a subnormal e^x rounds to -1 here)
  return fabsf(x) < 0.35f ? near_zero : far;
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

//! Logistic sigmoid in float. The exponential is always of -|x|, so it never overflows: for
//! x < -88.7 the result is e^x itself, down into the subnormals that bfloat16 can hold.
CUACT_HD float fast_sigmoid(float x) {
  const float e = fast_exp(-fabsf(x));
  const float r = approx_rcp(1.0f + e);  // in [1, 2]
  return x >= 0.0f ? r : e * r;
}

//! sigmoid(x) * sigmoid(-x) = e / (1 + e)^2 with e = e^-|x|: no cancellation at either tail.
CUACT_HD float fast_sigmoid_slope(float x) {
  const float e = fast_exp(-fabsf(x));
  const float r = approx_rcp(1.0f + e);  // in [1, 2]
  return e * r * r;
}

//! a * b rounded on its own. nvcc contracts a * b + c into one FMA by default, also across
//! inlined helpers; where a rounded product p and its residual fma(a, b, -p) are later added
//! back together (p + lo), the contracted sum would count the residual twice. Those products
//! use this (see add_rn below for the double-precision case seen on an H200).
CUACT_HD float fmul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  float p = a * b;
  CUACT_HOST_ROUNDED(p);
  return p;
#endif
}

//! An unevaluated sum hi + lo, |lo| about ulp(hi) / 2 or less (float32 forms below).
struct FloatPair {
  float hi;
  float lo;
};

//! e^r = hi + lo for |r| <= ln2 / 2 (the polynomial of exp_f32), with the rounding of the last
//! step kept in lo: relative error about 2^-25 instead of 2^-24 after rounding.
CUACT_HD FloatPair exp_reduced_f32(float r) {
  float q = fmaf(0x1.a01a02p-13f, r, 0x1.6c16c2p-10f);
  q = fmaf(q, r, 0x1.111112p-7f);
  q = fmaf(q, r, 0x1.555556p-5f);
  q = fmaf(q, r, 0x1.555556p-3f);
  q = fmaf(q, r, 0.5f);
  q = fmaf(q, r, 1.0f);
  const float p = fmaf(q, r, 1.0f);  // in [0.70, 1.42]
  return {p, fmaf(q, r, 1.0f - p)};  // 1 - p is exact (Sterbenz)
}

//! e^x = (hi + lo) 2^k (k returned) for |x| <= 104: x = k ln2 + r, |r| <= ln2 / 2, ln2 in two
//! parts (the first of 16 bits, so k ln2_hi and x - k ln2_hi are exact), the rounding of r kept
//! as r_lo and applied as e^r (1 + r_lo): relative error about 2^-25.
CUACT_HD FloatPair exp_split_f32(float x, float& k) {
  k = rintf(x * 0x1.715476p+0f);
  const float r_hi = fmaf(-k, 0x1.62e4p-1f, x);
  const float r = fmaf(-k, 0x1.7f7d1cp-20f, r_hi);
  const float r_lo = fmaf(-k, 0x1.7f7d1cp-20f, r_hi - r);
  FloatPair p = exp_reduced_f32(r);
  p.lo = fmaf(p.hi, r_lo, p.lo);
  return p;
}

//! 2^n for n in [-126, 127], from its bits.
CUACT_HD float pow2_f32(int n) {
  const unsigned int bits = static_cast<unsigned int>(n + 127) << 23;
  float v;
  __builtin_memcpy(&v, &bits, sizeof v);
  return v;
}

//! e^x in float to about 0.6 ulp, on the FMA pipe only (float32 results; the fast_* forms above
//! err by 2 ulp, the C library's expf by up to 2): exp_split_f32, then 2^k built from its bits,
//! in two steps at either end of the range (a subnormal result is rounded once more at most).
CUACT_HD float exp_f32(float x) {
  if (x > 88.72284f) return x - x == 0.0f ? HUGE_VALF : x;  // overflow, or +inf
  if (x < -103.9721f) return x == x ? 0.0f : x;             // below half the least subnormal
  float k;
  const FloatPair e = exp_split_f32(x, k);
  const float p = e.hi + e.lo;
  int n = static_cast<int>(k);
  float scale = 1.0f;
  if (n < -125) {  // the result is subnormal (or nearly): scale by 2^-64 last
    n += 64;
    scale = 0x1p-64f;
  } else if (n > 127) {  // 2^128 is not a float; e^x still is
    n -= 1;
    scale = 2.0f;
  }
  return (p * pow2_f32(n)) * scale;
}

//! m e^x in double, rounded to float: the tails of the float32 backward forms, where e^x is
//! subnormal or overflows while m e^x may be representable (or m is huge or not finite).
inline CUACT_HD_COLD float mul_exp_rounded(double m, double x) {
  return static_cast<float>(m * ::exp(x));
}

//! The pieces of sigmoid(+-a), a = a + a_lo in [0, 87], for float32 results: e = e^-a as a pair
//! (exp_reduced_f32 scaled exactly by 2^k; a <= 87 keeps it normal), 1 + e + e_lo = d + d_err
//! with d = 1 + e rounded and the rest exact to 2^-48, r = 1 / d rounded. A quotient n / (1 + e)
//! is then t = n r corrected once by its fma residual: only e's 2^-25 and the last rounding
//! remain (about 1 ulp in all).
struct LogisticF32 {
  float e, e_lo, d, d_err, r;
};

CUACT_HD LogisticF32 logistic_f32(float a, float a_lo = 0.0f) {
  float k;
  FloatPair p = exp_split_f32(-a, k);
  p.lo = fmaf(p.hi, -a_lo, p.lo);  // e^-(a + a_lo) = e^-a (1 - a_lo)
  const float two_k = pow2_f32(static_cast<int>(k));
  LogisticF32 l;
  l.e = p.hi * two_k;
  l.e_lo = p.lo * two_k;
  l.d = 1.0f + l.e;
  l.d_err = ((1.0f - l.d) + l.e) + l.e_lo;
  l.r = fast_rcp(l.d);
  return l;
}

//! (n + n_lo) / (d + d_err) = hi + lo from r = 1 / d rounded: the quotient t = n r, and its
//! first-order correction (the fma residual of t d, plus n_lo, minus t d_err) times r.
CUACT_HD FloatPair divide_pair(float n, float n_lo, float d, float d_err, float r) {
  const float t = n * r;
  return {t, ((fmaf(-t, d, n) + n_lo) - t * d_err) * r};
}

//! (n + n_lo) / (1 + e) for the pieces l.
CUACT_HD FloatPair divide_by_one_plus_e(float n, float n_lo, const LogisticF32& l) {
  return divide_pair(n, n_lo, l.d, l.d_err, l.r);
}

//! hi + lo rounded once.
CUACT_HD float rounded(FloatPair p) {
  return p.hi + p.lo;
}

//! e^y - 1 = hi + lo for y in [-87, 0] (relative error about 2^-25): the Taylor series to y^8
//! for |y| <= ln2 / 2 (no cancellation: y plus a smaller term), else e^y as a pair
//! (exp_reduced_f32, exact scaling) minus 1 with the rounding kept (two-sum).
CUACT_HD FloatPair expm1_neg_f32(float y) {
  if (y > -0.34657359f) {
    float q = fmaf(0x1.a01a02p-16f, y, 0x1.a01a02p-13f);
    q = fmaf(q, y, 0x1.6c16c2p-10f);
    q = fmaf(q, y, 0x1.111112p-7f);
    q = fmaf(q, y, 0x1.555556p-5f);
    q = fmaf(q, y, 0x1.555556p-3f);
    q = fmaf(q, y, 0.5f);
    const float y2 = y * y;
    const float y2_lo = fmaf(y, y, -y2);
    const float t = fmul_rn(y2, q);  // y^2 q(y), |t| < |y| / 5
    const float t_lo = fmaf(y2, q, -t) + y2_lo * q;
    const float hi = y + t;
    return {hi, ((y - hi) + t) + t_lo};
  }
  float k;
  const FloatPair p = exp_split_f32(y, k);
  const float two_k = pow2_f32(static_cast<int>(k));
  const float e = p.hi * two_k;  // e^y <= 0.71
  const float hi = e - 1.0f;
  return {hi, ((-1.0f - hi) + e) + p.lo * two_k};  // e + (-1) = hi + first part (|-1| >= e)
}

//! a (e^x - 1) for x <= 0 in float, a = a_hi + a_lo (a parameter split into floats): the pair
//! e^x - 1 times the pair a, rounded once (about 0.75 ulp). Below -87, -a to float precision.
CUACT_HD float scaled_expm1_neg_f32(float x, float a_hi, float a_lo) {
  if (x != x) return x;
  if (x < -87.0f) return -(a_hi + a_lo);  // a e^x < 2^-125 a: e^x - 1 rounds to -1
  const FloatPair m = expm1_neg_f32(x);
  return fmaf(a_hi, m.hi, fmaf(a_hi, m.lo, a_lo * m.hi));
}

//! Whether m can enter the float pair products of mul_scaled_exp_f32: zero, or 2^-100 <= |m| <
//! 2^100 (no overflow on the way, no subnormal partial product losing bits).
CUACT_HD bool pair_factor_ok(float m) {
  const float a = fabsf(m);
  return a == 0.0f || (a >= 0x1p-100f && a < 0x1p100f);
}

//! m (a_hi + a_lo) e^x in float for x in [-87, 88] and pair_factor_ok(m):
//! m a and then the product with e^x as float pairs, rounded once (about 0.6 ulp; a subnormal
//! result is rounded once more by the exact scaling).
CUACT_HD float mul_scaled_exp_f32(float m, float a_hi, float a_lo, float x) {
  float k;
  const FloatPair p = exp_split_f32(x, k);
  const float c = m * a_hi;
  const float c_lo = fmaf(m, a_hi, -c) + m * a_lo;
  const float v = fmul_rn(c, p.hi);
  const float v_lo = fmaf(c, p.hi, -v) + fmaf(c, p.lo, c_lo * p.hi);
  return (v + v_lo) * pow2_f32(static_cast<int>(k));
}

//! dy (hi + lo) rounded once, for a finite dy (pair_factor_ok keeps the partial products exact
//! enough; a subnormal result is rounded once more at most).
CUACT_HD float mul_pair_f32(float dy, FloatPair g) {
  return fmaf(dy, g.hi, dy * g.lo);
}

//! The same for any dy: an infinite or NaN dy takes dy * hi (dy * lo could be inf * 0 = NaN).
CUACT_HD float mul_pair_any_f32(float dy, FloatPair g) {
  return dy - dy != 0.0f ? dy * g.hi : mul_pair_f32(dy, g);
}

//! sigmoid(x) = hi + lo for |x| <= 87: 1 / (1 + e) or e / (1 + e), relative error about 2^-24.
CUACT_HD FloatPair sigmoid_pair_f32(float x) {
  const LogisticF32 l = logistic_f32(fabsf(x));
  return x >= 0.0f ? divide_by_one_plus_e(1.0f, 0.0f, l) : divide_by_one_plus_e(l.e, l.e_lo, l);
}

//! dy sigmoid(x) in float for float32 results (about 1 ulp): the sigmoid pair times dy, rounded
//! once. Below -87 sigmoid(x) = e^x to float precision and e^x is subnormal or nearly, while
//! dy e^x may be normal: that rare tail takes one double product.
CUACT_HD float mul_sigmoid_f32(float dy, float x) {
  if (x != x) return x;
  if (x > 87.0f) return dy;  // dy (1 - e^-x) rounds to dy
  if (x < -87.0f) return mul_exp_rounded(dy, x);
  return mul_pair_any_f32(dy, sigmoid_pair_f32(x));
}

//! dy sigmoid(x) sigmoid(-x) = dy e / (1 + e)^2 in float for float32 results (about 0.6 ulp):
//! (1 + e)^2 as a pair from the logistic pieces, the quotient and its corrected low part kept
//! as a pair, then dy times the pair rounded once. Past |x| = 87 the slope is e^-|x| (subnormal
//! or nearly) while dy e^-|x| may still be a normal float: that rare tail takes one double
//! product (exact enough: one rounding to float after it).
CUACT_HD float sigmoid_backward_f32(float dy, float x) {
  if (x != x) return x;
  const float a = fabsf(x);
  if (a > 87.0f) return mul_exp_rounded(dy, -a);
  const LogisticF32 l = logistic_f32(a);
  const float dd = l.d * l.d;  // (d + d_err)^2 = dd + dd_lo
  const float dd_lo = fmaf(l.d, l.d, -dd) + 2.0f * l.d * l.d_err;
  return mul_pair_any_f32(dy, divide_pair(l.e, l.e_lo, dd, dd_lo, fast_rcp(dd)));
}

//! v rounded to float, and the exact rest v - f in double. Out of line in host code on purpose:
//! inlined next to other uses of v, GCC 12's SLP vectorizer (-O2) was seen folding
//! (double)(float)v back to v (the rest then came out zero). The device compiler has no such
//! problem: inline there.
struct NarrowedDouble {
  float f;
  double rest;
};
inline CUACT_HD_HOST_OUTLINED NarrowedDouble narrow_to_float(double v) {
  const float f = static_cast<float>(v);
  return {f, v - static_cast<double>(f)};
}

//! v = hi + lo with hi = v rounded to float and lo the rest rounded (v to 2^-48 relative).
CUACT_HD FloatPair split_to_floats(double v) {
  const NarrowedDouble n = narrow_to_float(v);
  return {n.f, static_cast<float>(n.rest)};
}

//! a + b = hi + lo exactly (any order of magnitude).
CUACT_HD FloatPair two_sum_f32(float a, float b) {
  const float s = a + b;
  const float bb = s - a;
  return {s, (a - (s - bb)) + (b - bb)};
}

//! a + b = hi + lo exactly for |a| >= |b| (or a == 0).
CUACT_HD FloatPair fast_two_sum_f32(float a, float b) {
  const float s = a + b;
  return {s, (a - s) + b};
}

// ---- piecewise polynomials of the float32 forms (scripts/gen_poly_f32_table.py) -----------

#if defined(__CUDACC__)
alignas(16) static __device__ const float kPolyF32Device[] = {CUACT_POLY_F32_PIECES};
#endif
alignas(16) static const float kPolyF32Host[] = {CUACT_POLY_F32_PIECES};

//! One table: unit rows over [x_first, x_first + rows), starting at row first_row; the row
//! root_row (-1: none) holds f(x) / (x - root), root = root[0] + root[1] + root[2].
//! fast_c1 / fast_c0: every row's c1 (c0) step may take a fast two-sum (|c1| >= |d q|,
//! |c0| >= |d (c1 + d q)| over the row, checked by the generator).
struct PolyF32Table {
  int first_row, x_first, rows, root_row;
  float root[3];
  bool fast_c1, fast_c0;
};
// (Functions, not variables: device code cannot read a host constexpr object.)
#define CUACT_POLY_F32_TABLE(fn, NAME)   \
  CUACT_HD constexpr PolyF32Table fn() { \
    return {CUACT_POLY_F32_##NAME};      \
  }
CUACT_POLY_F32_TABLE(gelu_q_table, GELU_Q)
CUACT_POLY_F32_TABLE(gelu_phi_table, GELU_PHI)
CUACT_POLY_F32_TABLE(gelu_e_table, GELU_E)
CUACT_POLY_F32_TABLE(silu_d_table, SILU_D)
CUACT_POLY_F32_TABLE(mish_d_table, MISH_D)
CUACT_POLY_F32_TABLE(gelu_tanh_d_table, GELU_TANH_D)
CUACT_POLY_F32_TABLE(softplus_l_table, SOFTPLUS_L)
CUACT_POLY_F32_TABLE(sigmoid_s_table, SIGMOID_S)
CUACT_POLY_F32_TABLE(mish_t_table, MISH_T)
CUACT_POLY_F32_TABLE(tanh_r_table, TANH_R)
#undef CUACT_POLY_F32_TABLE

//! A row: c0 and c1 as pairs, then c2..c9 (degree 9: twelve floats, three 16-byte pieces).
struct PolyF32Row {
  float c[12];
};

//! Row `row` of the tables: three 16-byte loads through the read-only path on the device, one
//! per piece. The array is piece-major (the generator says why: a warp's gather of piece i then
//! touches a few L1 lines, not one per row).
//! The row is base + k: base (a table's first row less its x_first, a constant after inlining)
//! goes into the address first, so it folds into the loads' immediate offsets and only k is
//! added at run time.
CUACT_HD PolyF32Row poly_f32_row(int base, int k) {
  constexpr int kRows = CUACT_POLY_F32_ROW_COUNT;
  PolyF32Row r;
#if defined(__CUDA_ARCH__)
  const float4* p = (reinterpret_cast<const float4*>(kPolyF32Device) + base) + k;
  for (int i = 0; i < 3; ++i) {
    const float4 v = __ldg(p + i * kRows);
    r.c[4 * i] = v.x;
    r.c[4 * i + 1] = v.y;
    r.c[4 * i + 2] = v.z;
    r.c[4 * i + 3] = v.w;
  }
#else
  for (int i = 0; i < 3; ++i)
    __builtin_memcpy(r.c + 4 * i, kPolyF32Host + 4 * (i * kRows + base + k), 4 * sizeof(float));
#endif
  return r;
}

//! The row's polynomial at d in [-1/2, 1/2] as a pair: c2..c9 by Horner in float, then the two
//! last steps (c1 and c0 are pairs) with every product and sum kept exact. What remains is the
//! fit's 2^-27 and the rounding of the c2 step, d^2 times smaller (next to a zero of f, |d f'|
//! is up to 2 |f|: a rounded c1 step cost a whole ulp there).
//! fast_c1 / fast_c0 (the table's flags, constants after inlining): the step's two-sum is a fast
//! one (3 operations, not 6), valid since the coefficient is the larger addend in every row.
//! d_lo (kPairArgument): the argument is d + d_lo with |d_lo| <= ulp(d) / 2, taken to first order
//! as d_lo times s1 + d q = c1 + 2 d q, which is f'(d) but for d^2 q' (s1 = c1 + d q is the c1
//! step's sum, q = c2 + c3 d + ...): next to a zero of f, f's relative slope reaches 5 per unit,
//! and d's rounding alone cost an ulp there.
template <bool kPairArgument>
CUACT_HD FloatPair poly_f32(const PolyF32Row& r, float d, float d_lo, bool fast_c1, bool fast_c0) {
  float q = r.c[11];
  for (int j = 10; j >= 4; --j)
    q = fmaf(q, d, r.c[j]);
  const float dq = fmul_rn(d, q);
  const FloatPair s1 = fast_c1 ? fast_two_sum_f32(r.c[2], dq) : two_sum_f32(r.c[2], dq);
  const float s1_lo = s1.lo + (fmaf(d, q, -dq) + r.c[3]);
  const float p = fmul_rn(d, s1.hi);
  const float p_lo =
      fmaf(d, s1.hi, -p) + (kPairArgument ? fmaf(d_lo, s1.hi + dq, d * s1_lo) : d * s1_lo);
  const FloatPair s = fast_c0 ? fast_two_sum_f32(r.c[0], p) : two_sum_f32(r.c[0], p);
  return {s.hi, s.lo + (r.c[1] + p_lo)};
}

//! Table t at x + x_lo in [x_first, x_first + rows) as a pair (x_lo: the low part of an argument
//! carried as a pair, |x_lo| <= ulp(x); zero for a float argument). The row comes from x alone,
//! d = x - center is exact but for x below a quarter (then 2^-25 off at most, where f is flat);
//! d + x_lo is rounded to float for the polynomial and the rounding's exact rest taken to first
//! order (poly_f32's d_lo: a fast two-sum, as |x_lo| <= |d| unless d = 0).
//! In the root row the polynomial of f / (x - root) is multiplied back by x + x_lo - root, taken
//! exactly against the three-float root (the float nearest to a root is 2^-26 or more from it; a
//! float pair root would leave 2^-49). Both differences are fast two-sums: x - r0 is exact where
//! |x| > |r0| (the generator asserts the row ends within 2 |r0|: Sterbenz) and r0 the larger
//! addend elsewhere; s - r1 has |s| >= ulp(r0) / 2 >= |r1| unless s = 0.
template <bool kPairArgument>
CUACT_HD FloatPair poly_f32_eval_at(PolyF32Table t, float x, float x_lo, int row_shift = 0) {
  const float fl = floorf(x);
  const int k = static_cast<int>(fl) - t.x_first;
  const PolyF32Row row = poly_f32_row(t.first_row - t.x_first, static_cast<int>(fl) + row_shift);
  const float d0 = x - (fl + 0.5f);
  const float d = kPairArgument ? d0 + x_lo : d0;
  FloatPair g = poly_f32<kPairArgument>(row, d, (d0 - d) + x_lo, t.fast_c1, t.fast_c0);
  if (t.root_row >= 0 && k == t.root_row) {  // (a table without a root: no test at all)
    const FloatPair s = fast_two_sum_f32(-t.root[0], x);
    const FloatPair u = fast_two_sum_f32(s.hi, -t.root[1]);
    const float u_lo =
        kPairArgument ? ((u.lo + s.lo) - t.root[2]) + x_lo : (u.lo + s.lo) - t.root[2];
    const float h = fmul_rn(g.hi, u.hi);
    g = {h, fmaf(g.hi, u.hi, -h) + fmaf(g.hi, u_lo, g.lo * u.hi)};
  }
  return g;
}
CUACT_HD FloatPair poly_f32_eval(PolyF32Table t, float x) {
  return poly_f32_eval_at<false>(t, x, 0.0f);
}
//! row_shift: rows to skip past the table's own, into a table of the same layout stored after it
//! (gelu_f32: Q's table, then Phi's).
CUACT_HD FloatPair poly_f32_eval(PolyF32Table t, FloatPair x, int row_shift = 0) {
  return poly_f32_eval_at<true>(t, x.hi, x.lo, row_shift);
}

//! The tables that reach into f's subnormal range (the generator's `scale`) hold 2^64 f.
constexpr float kTableUnscale = 0x1p-64f;

//! N(a) and e^(-a^2/2) for the 16-bit GELU derivative below, a in [0, 14.5], in float (about 2^-21
//! relative): N(a) = t g(t) for t = 4 / (4 + a) (one polynomial, no table; see
//! scripts/gen_poly_f32_table.py), e^(-a^2/2) from one ex2.approx of -a^2 log2(e) / 2 as a pair
//! (rounded, that argument of up to 150 would cost 2^-17; a^2 is exact for 16-bit inputs, its
//! low part is kept for any float a).
struct FastGeluParts {
  float n, e;
};

//! g(t) of a 16-bit GELU polynomial (coefficients c, highest power first) at t = 4u, evaluated on
//! u = 1 / (4 + a): the powers of 4 go into the coefficients (exact scalings, constants after
//! inlining), so no product by 4 is left; t g(t) = 4u g(4u) is u times the result.
template <int N>
CUACT_HD float gelu16_poly(const float (&c)[N], float u) {
  float g = c[0] * static_cast<float>(1u << (2 * N));
  for (int i = 1; i < N; ++i)
    g = fmaf(g, u, c[i] * static_cast<float>(1u << (2 * (N - i))));
  return g;
}

CUACT_HD FastGeluParts fast_gelu_parts(float a) {
  constexpr float kC = -0.5f * kLog2eF, kCLo = -0.5f * kLog2eLoF;  // -log2(e) / 2 as a pair
  const float u = approx_rcp(4.0f + a);
  constexpr float kG[] = {CUACT_GELU16_N_POLY};
  const float g = gelu16_poly(kG, u);
  const float sq = fmul_rn(a, a);
  const float y = fmul_rn(sq, kC);
  const float y_lo = fmaf(sq, kC, -y) + fmaf(fmaf(a, a, -sq), kC, sq * kCLo);
  const float e = fast_exp2(y);
  return {u * g, fmaf(e, y_lo * kLn2F, e)};
}

//! |x| clamped to 14.5, the end of fast_gelu_parts' range; NaN stays NaN (fminf would not).
CUACT_HD float gelu16_abs(float x) {
  const float a = fabsf(x);
  return a > 14.5f ? 14.5f : a;
}

//! Exact GELU for 16-bit outputs: x Phi(x) = x - a Q(a) for x >= 0 and -a Q(a) below (a = |x|,
//! Q(a) = Phi(-a)), with a Q(a) = a M(a) 2^(C a^2): M from its own polynomial in u = 1 / (4 + a)
//! (scripts/gen_poly_f32_table.py: like fast_gelu_parts' N, with the rounding of the float C =
//! -log2(e) / 2 folded in, so no low part of C is needed), 2^(C a^2) as the square of one
//! ex2.approx of half the rounded exponent, with a first-order correction by the exact residual
//! (a^2 is exact for 16-bit inputs; its low part is kept for any float). No branches (each early
//! return cost a compare, a branch and a reconvergence barrier per unrolled element): every x runs
//! the same code and the ends come out of it. Past x = 5.6, a Q(a) < 2^-26.5 x and x - a Q rounds
//! to x; below -14.36, a Q(a) < 2^-150 rounds to 0, so the result is -0; |x| clamped to 14.5 gives
//! both ends, the infinities too (-inf gives -0, as the float32 and float64 forms do). NaN: a is
//! NaN, so is the result.
CUACT_HD float fast_gelu(float x) {
  constexpr float kC = -0.5f * kLog2eF;  // exact: the C the fit of M assumes
  const float a = gelu16_abs(x);
  const float u = approx_rcp(4.0f + a);
  constexpr float kM[] = {CUACT_GELU16_M_POLY};
  const float g = gelu16_poly(kM, u);
  // 2^(C a^2) = t^2, t = 2^(C a^2 / 2) >= 2^-76: normal, so ex2 needs none of the scaling that
  // keeps subnormal results (three instructions), and the square (in the product, rounded once,
  // subnormal where the result is) replaces it.
  constexpr float kHalfC = 0.5f * kC;  // exact
  const float sq = fmul_rn(a, a);
  const float y = fmul_rn(sq, kHalfC);
  const float y_lo = fmaf(fmaf(a, a, -sq), kHalfC, fmaf(sq, kHalfC, -y));  // C a^2 / 2 - y
  const float t = fast_exp2_ftz(y);
  const float p = a * (u * g) * t * t;
  const float aq = fmaf(p, y_lo * (2.0f * kLn2F), p);  // a Q(a)
  // x, or -0 for x < 0 (and NaN: aq is NaN then). The sign of max(+0, -0) does not matter: x = +-0
  // takes the small-x form below.
  float r = fmaxf(x, -0.0f) - aq;
  // x Phi(x) = x / 2 + x^2 / sqrt(2 pi) (next term below 2^-44 relative). For float16
  // subnormal x, x / 2 is often a tie that the x^2 term breaks, by as little as 2^-24 relative:
  // less than the 2^-22 error ex2.approx and rcp.approx may put into the terms above.
  if (a < 0x1p-14f) r = fmaf(sq, 0.3989422804014327f, 0.5f * x);
  return r;
}

//! GELU'(x) for 16-bit outputs: with D = N(a) - a / sqrt(2 pi), GELU'(-a) = D e^(-a^2/2) and
//! GELU'(a) = 1 - D e^(-a^2/2). Branch-free as fast_gelu: past x = 7, |D| e^(-x^2/2) < 2^-26 and
//! 1 - D e rounds to 1; below -14.5, GELU' < 2^-148 and the clamped D e rounds to (-)0.
CUACT_HD float fast_gelu_derivative(float x) {
  const float a = gelu16_abs(x);
  const FastGeluParts p = fast_gelu_parts(a);
  const float de = fmaf(-a, 0.3989422804014327f, p.n) * p.e;
  return x <= 0.0f ? de : 1.0f - de;  // NaN: a is NaN, so is de
}

//! min(x, end) for a table lookup, NaN giving end too. On the device fminf (FMNMX returns the
//! other operand for a NaN: one instruction where a compare and a select are two); on the host a
//! compare, since glibc's fminf keeps a signalling NaN, whose row index would fall outside the
//! table.
CUACT_HD float table_clamp(float x, float end) {
#if defined(__CUDA_ARCH__)
  return fminf(x, end);
#else
  return x < end ? x : end;
#endif
}

//! x clamped to [lo, hi) for a table lookup, NaN giving lo (as above).
CUACT_HD float table_clamp(float x, float lo, float hi) {
#if defined(__CUDA_ARCH__)
  return fminf(fmaxf(x, lo), hi);
#else
  return x > lo ? table_clamp(x, hi) : lo;
#endif
}

//! x times 2^-64 (hi + lo), for the tables that hold 2^64 f: the product rounded once at 2^64
//! times its size, then scaled back (exact for a normal result; a subnormal one rounds once more).
CUACT_HD float mul_unscaled_f32(float x, FloatPair t) {
  return fmaf(x, t.hi, x * t.lo) * kTableUnscale;
}

//! 2^-64 (hi + lo) as a pair (exact where both stay normal).
CUACT_HD FloatPair unscaled(FloatPair t) {
  return {t.hi * kTableUnscale, t.lo * kTableUnscale};
}

//! softplus(x) = max(x, 0) + L(|x|), L(a) = log(1 + e^-a), in float for float32 results (under
//! 0.8 ulp): L from its table (softplus_l_table(), a in [0, 23), 2^-27 relative, as a pair), the
//! sum with max(x, 0) as a pair rounded once (L > 0: no cancellation; for x <= 0 it is L rounded).
//! One path for both signs, selects at the ends: past 16, L(x) < 2^-23 < ulp(x) / 2 and the
//! result is x (+inf and NaN too; |x| is clamped to 22.5 for the lookup). Below -22,
//! log1p(e^x) = e^x (1 - e^x / 2 ...) with e^x < 2^-31: exp_f32's 0.78 ulp plus at most 2^-32
//! relative (rare: a branch).
CUACT_HD float softplus_f32(float x) {
  if (x < -22.0f) return exp_f32(x);
  const FloatPair l = poly_f32_eval(softplus_l_table(), table_clamp(fabsf(x), 22.5f));
  const FloatPair s = two_sum_f32(x > 0.0f ? x : 0.0f, l.hi);
  const float r = s.hi + (s.lo + l.lo);
  return x > 16.0f || x != x ? x : r;
}

//! tanh(x) = x R(|x|), R(a) = tanh(a) / a from its table (tanh_r_table(), a in [0, 10), 2^-27
//! relative, 2^-26.7 in [0, 1)), in float for float32 results: |x| times the pair rounded once,
//! the sign restored (tanh(-0) = -0). Past 9.1, 1 - tanh < 2^-26 and the result is +-1 (the
//! infinities too), selected; NaN is x.
CUACT_HD float tanh_f32(float x) {
  const float a = table_clamp(fabsf(x), 9.5f);
  const FloatPair r = poly_f32_eval(tanh_r_table(), a);
  const float t = fabsf(x) > 9.1f ? 1.0f : fmaf(a, r.hi, a * r.lo);
  return x != x ? x : copysignf(t, x);
}

//! The last float below 19 and 10: the ends of sigmoid_s_table() and mish_t_table().
constexpr float kSigmoidTableEnd = 0x1.2ffffep+4f, kMishTableEnd = 0x1.3ffffep+3f;

//! sigmoid(x) in float for float32 results (under 0.8 ulp, the most where the result is subnormal):
//! 2^64 S(x) from its table (sigmoid_s_table(), x in [-112, 19), 2^-27 relative, as a pair),
//! rounded and scaled back (exact for a normal result; a subnormal one is rounded once more). No
//! branches, no selects but NaN's: x clamped to the table's ends gives both ends (S(19-) rounds to
//! 1, 2^-64 S(-112) < 2^-161 to 0, the infinities too).
CUACT_HD float sigmoid_f32(float x) {
  const FloatPair t = poly_f32_eval(sigmoid_s_table(), table_clamp(x, -112.0f, kSigmoidTableEnd));
  const float r = (t.hi + t.lo) * kTableUnscale;
  return x != x ? x : r;
}

//! x f(x) for a table t of 2^64 f on [-112, end) with f -> 1 past its end (silu, mish): x
//! clamped for the lookup, x times the pair by mul_unscaled_f32. From end on x f rounds to x,
//! selected (the clamped f would not give it for every x, and an infinite x times the pair may
//! be NaN). Below -112 the factor x is clamped too: -112 f(-112) < 2^-150 rounds to -0 as x f
//! does (-inf too), one max for a compare and a select. NaN stays NaN (the max keeps x when the
//! compare fails). last: the last float below end.
CUACT_HD float x_times_scaled_table_f32(PolyF32Table t, float x, float last) {
  const float first = static_cast<float>(t.x_first);
  const float r =
      mul_unscaled_f32(x < first ? first : x, poly_f32_eval(t, table_clamp(x, first, last)));
  return x > last ? x : r;
}

//! silu(x) = x S(x) in float for float32 results (under 0.8 ulp), 2^64 S as in sigmoid_f32.
CUACT_HD float silu_f32(float x) {
  return x_times_scaled_table_f32(sigmoid_s_table(), x, kSigmoidTableEnd);
}

//! mish(x) = x T(x), T = tanh(softplus(x)) from its table (mish_t_table(), 2^64 T for x in
//! [-112, 10), 2^-27 relative, as a pair), in float for float32 results (under 0.8 ulp).
CUACT_HD float mish_f32(float x) {
  return x_times_scaled_table_f32(mish_t_table(), x, kMishTableEnd);
}

//! w = a^2 / 2 + 2 a = hi + lo exactly (a >= 0), the variable of GELU's tables
//! (scripts/gen_poly_f32_table.py says why not a).
CUACT_HD FloatPair gelu_w_f32(float a) {
  const float sq = fmul_rn(a, a);
  const FloatPair w = two_sum_f32(0.5f * sq, a + a);
  return {w.hi, w.lo + 0.5f * fmaf(a, a, -sq)};
}

//! Exact GELU x Phi(x) in float for float32 results (under 0.8 ulp): 2^64 Phi(x) from
//! gelu_q_table() (Q(a) = Phi(-a), x <= 0) or gelu_phi_table() (Phi(a), x > 0), both in w = a^2 / 2
//! + 2 a (a = |x|, w in [0, 135), 2^-27 relative, as a pair; same layout, stored one after
//! the other, so the sign only shifts the row). x times the pair at 2^64 times its size, rounded
//! once and scaled back (a subnormal result rounds once more). No branches: |x| is clamped to 14.5
//! for the lookup; past x = 5.6, x Q < 2^-26.5 x and the result is x, selected (+inf too, and x
//! beyond 2^64, whose scaled product would overflow); below -14.36, |x Q| < 2^-150 rounds to -0,
//! which the clamped Q gives down to -14.5 and, with the factor x clamped to -14.5 as well, below
//! (-inf too). NaN: x Phi is NaN (the clamp of the factor keeps NaN). GELU(-0) = -0.
CUACT_HD float gelu_f32(float x) {
  static_assert(gelu_phi_table().x_first == gelu_q_table().x_first &&
                    gelu_phi_table().rows == gelu_q_table().rows &&
                    gelu_phi_table().fast_c1 == gelu_q_table().fast_c1 &&
                    gelu_phi_table().fast_c0 == gelu_q_table().fast_c0 &&
                    gelu_phi_table().root_row < 0 && gelu_q_table().root_row < 0,
                "gelu_f32 reaches Phi's table by a row shift from Q's");
  constexpr int kPhiShift = gelu_phi_table().first_row - gelu_q_table().first_row;
  const FloatPair f = poly_f32_eval(gelu_q_table(), gelu_w_f32(table_clamp(fabsf(x), 14.5f)),
                                    x > 0.0f ? kPhiShift : 0);
  const float r = mul_unscaled_f32(x < -14.5f ? -14.5f : x, f);
  return x > 5.6f ? x : r;
}

//! dy GELU'(x) in float for float32 results, |x| <= 13 and pair_factor_ok(dy) (the caller takes
//! the rest): GELU'(-a) = E(a) = Q(a) - a phi(a) and GELU'(a) = 1 - E(a), 2^64 E from
//! gelu_e_table() (in w as gelu_f32; E normal for a <= 13, so its pair scales back exactly but
//! for a few low bits). E has a simple zero at a0 = 0.7518 (GELU' vanishes at x = -a0), which the
//! table's root row handles, so the result keeps its relative accuracy next to the zero.
CUACT_HD float gelu_backward_f32(float dy, float x) {
  const FloatPair e =
      unscaled(poly_f32_eval(gelu_e_table(), gelu_w_f32(table_clamp(fabsf(x), 13.0f))));
  const float u = 1.0f - e.hi;  // |E| <= 1/2: a fast two-sum
  const float u_lo = ((1.0f - u) - e.hi) - e.lo;
  return x <= 0.0f ? mul_pair_f32(dy, e) : mul_pair_f32(dy, {u, u_lo});
}

//! Bounds [lo, hi] known to hold an exact result (see cuact/precision.cuh, forward_interval).
struct FloatInterval {
  float lo;
  float hi;
};

//! v +- err, err an absolute bound on v's error: 2^-22 |scale| (two float roundings of values
//! of magnitude up to |scale|, with room) plus the float subnormal spacing.
CUACT_HD FloatInterval around(float v, float scale) {
  const float err = fmaf(fabsf(scale), 0x1p-22f, 0x1p-148f);
  return {v - err, v + err};
}

// ---- double-double helpers (float64 paths) ------------------------------------------------

struct DoubleDouble {
  double hi;
  double lo;
};

// The error-free transformations below need each sum and product rounded on its own. nvcc
// contracts a * b + c into one FMA by default (-fmad=true), also across inlined helpers: then
// two_sum(p, c) of a product p = a * b sees fma(a, b, c) in one place and the rounded p in
// another, and the "exact" low part is wrong by up to an ulp of the high part (seen on an H200:
// float64 gelu_tanh 588 ulp off at x = -20, where e^(2u) amplifies it 600-fold). The _rn
// intrinsics are never contracted; on the host, CUACT_HOST_ROUNDED does the same.
CUACT_HD double add_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  double r = a + b;
  CUACT_HOST_ROUNDED(r);
  return r;
#endif
}
CUACT_HD double sub_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dsub_rn(a, b);
#else
  double r = a - b;
  CUACT_HOST_ROUNDED(r);
  return r;
#endif
}
CUACT_HD double mul_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  double r = a * b;
  CUACT_HOST_ROUNDED(r);
  return r;
#endif
}

//! Exact product a * b = hi + lo (one FMA).
CUACT_HD DoubleDouble two_prod(double a, double b) {
  const double p = mul_rn(a, b);
  return {p, fma(a, b, -p)};
}

//! exp(hi + lo) for |lo| <= ulp(hi): exp(hi) * (1 + lo).
CUACT_HD double exp_dd(double hi, double lo) {
  const double e = ::exp(hi);
  return e == HUGE_VAL ? e : fma(e, lo, e);  // inf * (1 + lo) must stay inf
}

//! a + b = hi + lo exactly.
CUACT_HD DoubleDouble two_sum(double a, double b) {
  const double s = add_rn(a, b);
  const double bb = sub_rn(s, a);
  return {s, add_rn(sub_rn(a, sub_rn(s, bb)), sub_rn(b, bb))};
}

inline constexpr double kLn2x64Hi = 44.3614195558365;  // 64 ln 2, split
inline constexpr double kLn2x64Lo = 1.4841899608616317e-15;

// Defined below with their tables.
CUACT_HD DoubleDouble exp_neg_dd(double a);
CUACT_HD DoubleDouble exp_neg_pair(double a, double a_lo);

//! CUDA's exp, out of line: the far tails exp_neg_dd leaves out.
inline CUACT_HD_COLD double exp_rounded(double x) {
  return ::exp(x);
}

//! m * e^(hi + lo) for hi < -700 (e^hi near or below the subnormals) with m = m_hi + m_lo, out of
//! line: e^(hi + lo + 128 ln 2) from exp_neg_dd (a normal pair for hi >= -796), the product
//! rounded once, then scaled by 2^-128, so the only other loss is the rounding into the
//! subnormals. Below -796 CUDA's exp of hi + 64 ln 2 (zero below about -789: then so is the
//! product unless |m| passes 2^64).
inline CUACT_HD_COLD double mul_exp_tiny_pair(double m_hi, double m_lo, double hi, double lo) {
  if (!(hi >= -796.0)) {
    const DoubleDouble a = two_sum(hi, kLn2x64Hi);
    const double e = ::exp(a.hi);
    const double e_lo = e * (a.lo + lo + kLn2x64Lo);
    return fma(m_hi, e, fma(m_hi, e_lo, m_lo * e)) * 0x1p-64;
  }
  const DoubleDouble a = two_sum(-hi, -2.0 * kLn2x64Hi);  // -(hi + 128 ln 2) - lo = a + a_lo
  const double a_lo = a.lo - (lo + 2.0 * kLn2x64Lo);
  const DoubleDouble e = exp_neg_pair(a.hi, a_lo);
  // m_lo may be a large share of m (callers' 1 + x and the like): the lows' cross term counts.
  return fma(m_hi, e.hi, fma(m_hi, e.lo, fma(m_lo, e.hi, m_lo * e.lo))) * 0x1p-128;
}

//! m * e^(hi + lo) when e^hi may be subnormal (hi < -700).
CUACT_HD double mul_exp_tiny(double m, double hi, double lo) {
  return mul_exp_tiny_pair(m, 0.0, hi, lo);
}

//! m * e^(hi + lo) past |hi| = 700 or for a non-finite hi, out of line: scaled by 2^64 around
//! the exponential where e^hi would overflow while the product is representable.
inline CUACT_HD_COLD double mul_exp_far(double m, double hi, double lo) {
  if (hi - hi != 0.0) return m * ::exp(hi);  // +-inf or NaN
  if (hi < 0.0) return mul_exp_tiny(m, hi, lo);
  const DoubleDouble a = two_sum(hi, -kLn2x64Hi);
  return (m * exp_dd(a.hi, a.lo + lo - kLn2x64Lo)) * 0x1p64;
}

//! m * e^(hi + lo) over the whole range, rounded once: e^hi as a pair from exp_neg_dd (CUDA's
//! exp is about an ulp off and branches to a slow path), the far ranges out of line.
CUACT_HD double mul_exp(double m, double hi, double lo) {
  if (!(fabs(hi) <= 700.0)) return mul_exp_far(m, hi, lo);
  const DoubleDouble e = exp_neg_pair(-hi, -lo);
  const double p = m * e.hi;
  if (p - p != 0.0) return p;  // overflow: a correction of the other sign must not make it -p
  return fma(m, e.hi, m * e.lo);
}

//! Float version for 16-bit outputs: m * e^x without overflowing or flushing e^x on its own
//! (bfloat16 shares float's exponent range, so dy * e^x may be representable when e^x is not).
CUACT_HD float fast_mul_exp(float m, float x) {
  if (x > 80.0f) return (m * fast_exp(x - 44.3614196f)) * 0x1p64f;
  if (x < -80.0f) return (m * fast_exp(x + 44.3614196f)) * 0x1p-64f;
  return m * fast_exp(x);
}

//! The same for a double-double m, with one rounding for the product.
CUACT_HD double mul_exp_tiny(DoubleDouble m, double hi, double lo) {
  return mul_exp_tiny_pair(m.hi, m.lo, hi, lo);
}

//! a + b = hi + lo exactly, for |a| >= |b| (or a == 0).
CUACT_HD DoubleDouble fast_two_sum(double a, double b) {
  const double s = add_rn(a, b);
  return {s, sub_rn(b, sub_rn(s, a))};
}

//! v if its last bit is odd, else its neighbour upwards (up) or downwards: the step of round to
//! odd, for a float type F and the unsigned integer U of its size. By integer steps on the bit
//! pattern (no library nextafter: a call with branches per element on the device): away from
//! zero when the direction is v's sign, else towards it; an even pattern never steps across an
//! exponent in the wrong direction, and zero steps to the smallest subnormal of that sign.
template <class U, class F>
CUACT_HD F to_odd_neighbour(F v, bool up) {
  static_assert(sizeof(U) == sizeof(F), "U is F's bit pattern");
  U bits;
  __builtin_memcpy(&bits, &v, sizeof bits);
  if (bits & U{1}) return v;
  if (v == F(0)) {
    bits = up ? U{1} : ((U{1} << (8 * sizeof(U) - 1)) | U{1});
  } else if (up == (v > F(0))) {
    ++bits;
  } else {
    --bits;
  }
  __builtin_memcpy(&v, &bits, sizeof bits);
  return v;
}

//! hi, or its neighbour towards hi + residual, whichever has an odd last bit: "round to odd".
//! A double rounded to odd and then rounded to nearest to float or a 16-bit type gives the
//! correctly rounded result (53 >= 24 + 2 bits): no double-rounding tie can go the wrong way.
//! Requires |residual| < ulp(hi); residual only contributes its sign.
CUACT_HD double round_to_odd(double hi, double residual) {
  if (residual == 0.0 || hi - hi != 0.0) return hi;  // exact, or inf/NaN
  return to_odd_neighbour<unsigned long long>(hi, residual > 0.0);
}

//! a * b rounded to odd.
CUACT_HD double mul_odd(double a, double b) {
  const DoubleDouble p = two_prod(a, b);
  if (p.hi - p.hi != 0.0) return p.hi;  // inf or NaN: no residual
  return round_to_odd(p.hi, p.lo);
}

//! a * x + b rounded to odd (exact up to a term below 2^-104 relative).
CUACT_HD double fma_odd(double a, double x, double b) {
  const double plain = fma(a, x, b);
  if (plain - plain != 0.0) return plain;  // inf or NaN: no residual
  const DoubleDouble p = two_prod(a, x);
  const DoubleDouble s = two_sum(p.hi, b);
  const DoubleDouble q = two_sum(s.lo, p.lo);
  const DoubleDouble t = two_sum(s.hi, q.hi);
  return round_to_odd(t.hi, t.lo + q.lo);
}

//! A double rounded to odd as a float (see round_to_odd).
CUACT_HD float to_float_odd(double v) {
  const NarrowedDouble n = narrow_to_float(v);
  if (n.rest == 0.0 || n.f - n.f != 0.0f) return n.f;        // exact, or inf/NaN
  return to_odd_neighbour<unsigned int>(n.f, n.rest > 0.0);  // the neighbour towards v
}

//! The largest float <= v and the smallest float >= v (v not NaN). For a float x, x > v exactly
//! when x > float_at_or_below(v), and x < v when x < float_at_or_above(v): comparisons with a
//! double parameter made in float. For per-launch constants (nextafterf is a library call).
CUACT_HD float float_at_or_below(double v) {
  const NarrowedDouble n = narrow_to_float(v);
  return n.rest < 0.0 ? nextafterf(n.f, -HUGE_VALF) : n.f;
}
CUACT_HD float float_at_or_above(double v) {
  const NarrowedDouble n = narrow_to_float(v);
  return n.rest > 0.0 ? nextafterf(n.f, HUGE_VALF) : n.f;
}

//! v's bit pattern.
CUACT_HD unsigned long long double_bits(double v) {
  unsigned long long bits;
  __builtin_memcpy(&bits, &v, 8);
  return bits;
}

//! The high 32 bits of v's pattern, as a signed integer: for finite v of one sign, compares on
//! it order v as the value does (on the integer pipe, where a double compare takes an FP64 slot).
CUACT_HD int high_word(double v) {
#if defined(__CUDA_ARCH__)
  return __double2hiint(v);
#else
  return static_cast<int>(double_bits(v) >> 32);
#endif
}

//! The low 32 bits of v's pattern.
CUACT_HD int low_word(double v) {
#if defined(__CUDA_ARCH__)
  return __double2loint(v);
#else
  return static_cast<int>(double_bits(v) & 0xffffffffu);
#endif
}

//! The double of pattern hi:lo (32-bit halves).
CUACT_HD double from_words(int hi, int lo) {
#if defined(__CUDA_ARCH__)
  return __hiloint2double(hi, lo);
#else
  const unsigned long long bits =
      (static_cast<unsigned long long>(static_cast<unsigned>(hi)) << 32) |
      static_cast<unsigned>(lo);
  double v;
  __builtin_memcpy(&v, &bits, 8);
  return v;
#endif
}

//! 1 / d for d in [1, 2^1000], to within about half an ulp: the reciprocal instruction's estimate
//! (MUFU.RCP64H), a cubic step and a Newton step. CUDA's division adds range checks and a branch
//! to a slow path per element, which such d never need.
CUACT_HD double rcp_pos(double d) {
#if defined(__CUDA_ARCH__)
  double r;
  asm("rcp.approx.ftz.f64 %0, %1;" : "=d"(r) : "d"(d));
  double e = fma(-d, r, 1.0);
  r = fma(r, fma(e, e, e), r);
  e = fma(-d, r, 1.0);
  return fma(r, e, r);
#else
  return 1.0 / d;
#endif
}

//! e = e^-|v| for v = hi + lo, as a pair (exp_neg_dd; CUDA's exp, out of line, past |v| = 708
//! where e is subnormal, and for NaN), 1 + e = d + d_err exactly, and r = 1 / d.
struct LogisticBase {
  double e, e_lo, d, d_err, r;
};

CUACT_HD LogisticBase logistic_base(double hi, double lo) {
  LogisticBase b;
  // |hi| < 708 on the high word, on the integer pipe; NaN fails it.
  const int w = high_word(hi);
  DoubleDouble ex;
  if ((w & 0x7fffffff) < 0x40862000)
    ex = exp_neg_dd(fabs(hi));
  else
    ex = {exp_rounded(-fabs(hi)), 0.0};
  b.e = ex.hi;
  // e^-|hi| (1 -+ lo): lo's sign flipped for hi >= 0 on its sign bit (a negation is an FP64 add).
  const double lo_away = from_words(high_word(lo) ^ (~w & 0x80000000), low_word(lo));
  b.e_lo = fma(b.e, lo_away, ex.lo);
  b.d = 1.0 + b.e;
  b.d_err = (b.e - (b.d - 1.0)) + b.e_lo;  // e <= 1
  b.r = rcp_pos(b.d);
  return b;
}

//! num / den for double-doubles, given r within a few ulps of 1 / den.hi, as a pair (not
//! normalised): q = num.hi r and the rest of the quotient from q's exact fma residual, which takes
//! r's error and the low parts too. The low parts must be small beside the highs (one correction).
CUACT_HD DoubleDouble div_dd(DoubleDouble num, DoubleDouble den, double r) {
  const double q = num.hi * r;
  return {q, (fma(-q, den.hi, num.hi) + num.lo - q * den.lo) * r};
}

//! n / (1 + e) for n = n_hi + n_lo (1, or e itself) as a normalised double-double: div_dd with
//! 1 + e = d + d_err.
CUACT_HD DoubleDouble logistic_quotient(const LogisticBase& b, double n_hi, double n_lo) {
  const DoubleDouble q = div_dd({n_hi, n_lo}, {b.d, b.d_err}, b.r);
  return fast_two_sum(q.hi, q.lo);
}

//! sigmoid(|v|), sigmoid(-|v|) and their product for v = hi + lo, each as a double-double
//! accurate to about 2^-100 relative: e = e^-|v| computed once, as a pair, and the roundings of
//! 1 + e and of the division recovered exactly (two-sum, fma residual) instead of chaining four
//! roundings. sigmoid(|v|) = 1 - sigmoid(-|v|) by a fast two-sum, and the product of the two
//! pairs is the slope (not normalised: lo may pass half an ulp of hi by a hair).
struct LogisticParts {
  DoubleDouble big;    //!< sigmoid(|v|), in [1/2, 1]
  DoubleDouble small;  //!< sigmoid(-|v|) = e / (1 + e)
  DoubleDouble slope;  //!< sigmoid(v) sigmoid(-v) = e / (1 + e)^2
};

CUACT_HD LogisticParts logistic_parts(double hi, double lo = 0.0) {
  const LogisticBase b = logistic_base(hi, lo);
  LogisticParts p;
  p.small = logistic_quotient(b, b.e, b.e_lo);
  p.big = fast_two_sum(1.0, -p.small.hi);  // small <= 1/2
  p.big.lo -= p.small.lo;
  p.slope = two_prod(p.big.hi, p.small.hi);
  p.slope.lo = fma(p.big.hi, p.small.lo, fma(p.big.lo, p.small.hi, p.slope.lo));
  return p;
}

//! sigmoid(v) for v = hi + lo as a double-double, as logistic_parts computes it, without the
//! other side: one quotient, 1 / (1 + e) for v >= 0 or e / (1 + e).
CUACT_HD DoubleDouble logistic_dd(double hi, double lo = 0.0) {
  const LogisticBase b = logistic_base(hi, lo);
  const bool upper = high_word(hi) >= 0;
  return logistic_quotient(b, upper ? 1.0 : b.e, upper ? 0.0 : b.e_lo);
}

//! sigmoid(x) for double.
CUACT_HD double sigmoid_d(double x) {
  return logistic_dd(x).hi;
}

//! sigmoid(x) * sigmoid(-x) for double.
CUACT_HD double sigmoid_slope_d(double x) {
  const DoubleDouble s = logistic_parts(x).slope;
  return s.hi + s.lo;
}

//! m * (hi + lo) with one rounding.
CUACT_HD double mul_dd(double m, DoubleDouble v) {
  const double p = m * v.hi;
  return p - p != 0.0 ? p : fma(m, v.hi, m * v.lo);  // an infinite m must not meet v.lo == 0
}

//! a * b + c for double-doubles, as a double-double.
CUACT_HD DoubleDouble fma_dd_pair(DoubleDouble a, DoubleDouble b, DoubleDouble c) {
  DoubleDouble p = two_prod(a.hi, b.hi);
  p.lo = fma(a.hi, b.lo, fma(a.lo, b.hi, p.lo));
  const DoubleDouble s = two_sum(p.hi, c.hi);
  return fast_two_sum(s.hi, s.lo + (p.lo + c.lo));
}

//! a * b + c for double-doubles, rounded once at the end.
CUACT_HD double fma_dd(DoubleDouble a, DoubleDouble b, DoubleDouble c) {
  return fma_dd_pair(a, b, c).hi;
}

// The float64 exponential, log(1 + e) and GELU tables (generated: scripts/gen_f64_tables.py), one
// copy per translation unit for each side. The GELU tables' pieces of rows 0..7 share a line.
#if defined(__CUDACC__)
alignas(16) static __device__ const double kExp2NegDevice[] = {CUACT_EXP2_NEG_ROWS};
alignas(16) static __device__ const double kLog1pDevice[] = {CUACT_LOG1P_PIECES};
#endif
alignas(16) static const double kExp2NegHost[] = {CUACT_EXP2_NEG_ROWS};
alignas(16) static const double kLog1pHost[] = {CUACT_LOG1P_PIECES};
#if defined(__CUDACC__)
alignas(128) static __device__ const double kGeluGDevice[] = {CUACT_GELU_G_PIECES};
alignas(128) static __device__ const double kGeluHDevice[] = {CUACT_GELU_H_PIECES};
#endif
alignas(128) static const double kGeluGHost[] = {CUACT_GELU_G_PIECES};
alignas(128) static const double kGeluHHost[] = {CUACT_GELU_H_PIECES};

//! Row j of the 2^(-j/32) table as a pair, one 16-byte load through the read-only path.
CUACT_HD DoubleDouble exp2_neg_row(int j) {
#if defined(__CUDA_ARCH__)
  const double2 v = __ldg(reinterpret_cast<const double2*>(kExp2NegDevice) + j);
  return {v.x, v.y};
#else
  return {kExp2NegHost[2 * j], kExp2NegHost[2 * j + 1]};
#endif
}

// exp_neg_dd's constants: 32 / ln 2 (rounded: n need only be near), ln 2 / 32 in two parts, the
// polynomial's 1/7! .. 1/3!. On the device in the constant bank, which an FP64 instruction reads
// as an operand: as literals each took two moves into registers per element (14 issue slots).
#define CUACT_EXP_NEG_CONSTANTS                                                           \
  46.166241308446828, CUACT_LN2_32_HI, CUACT_LN2_32_LO, 1.0 / 5040, 1.0 / 720, 1.0 / 120, \
      1.0 / 24, 1.0 / 6
#if defined(__CUDACC__)
static __constant__ double kExpNegConstDevice[8] = {CUACT_EXP_NEG_CONSTANTS};
#endif
static constexpr double kExpNegConstHost[8] = {CUACT_EXP_NEG_CONSTANTS};
#if defined(__CUDA_ARCH__)
#define CUACT_EXP_NEG_CONST(i) kExpNegConstDevice[i]
#else
#define CUACT_EXP_NEG_CONST(i) kExpNegConstHost[i]
#endif

//! e^-a as a double-double (to about 2^-60 relative) for a in [-708, 708] (so e^-a is normal):
//! a = n ln 2 / 32 - r, |r| <= ln 2 / 64, n = 32 m + j (j = n mod 32 for n < 0 too), e^-a =
//! 2^-m 2^(-j/32) e^r. n ln 2 / 32 in two parts, the first exact, so r - its rounding is known;
//! e^r - 1 to r^7 (the next term is below 2^-65); 2^(-j/32) a tabulated pair, times 1 + p kept as
//! a pair by a fast two-sum; 2^-m exact. 19 FP64 instructions where CUDA's exp costs about as
//! many, returns one double and branches to a slow path past |a| = 708.
CUACT_HD DoubleDouble exp_neg_dd(double a) {
  constexpr double kShifter = 0x1.8p52;  // adding it leaves round(v) in the low bits
  const double t = fma(a, CUACT_EXP_NEG_CONST(0), kShifter);
  const int n = low_word(t);
  const double nd = sub_rn(t, kShifter);                    // n, exact
  const double r_hi = fma(nd, CUACT_EXP_NEG_CONST(1), -a);  // exact: n * hi exact, Sterbenz
  const double r_lo = mul_rn(nd, CUACT_EXP_NEG_CONST(2));   // r = r_hi + r_lo
  const double r = add_rn(r_hi, r_lo);
  double q = fma(r, CUACT_EXP_NEG_CONST(3), CUACT_EXP_NEG_CONST(4));
  q = fma(q, r, CUACT_EXP_NEG_CONST(5));
  q = fma(q, r, CUACT_EXP_NEG_CONST(6));
  q = fma(q, r, CUACT_EXP_NEG_CONST(7));
  q = fma(q, r, 0.5);
  const double p = add_rn(r_hi, fma(mul_rn(r, r), q, r_lo));  // e^r - 1
  const DoubleDouble row = exp2_neg_row(n & 31);
  const DoubleDouble e = fast_two_sum(row.hi, fma(row.hi, p, row.lo));  // 2^(-j/32) (1 + p)
  // 2^-m: on hi's exponent field (hi stays normal for |a| <= 708; an integer add, not an FP64
  // multiply), on lo by a multiply (lo may be zero or tiny). Unsigned shifts: out of range (the
  // callers' selected-away lanes) m wraps instead of overflowing.
  const unsigned m = static_cast<unsigned>(n >> 5);
  return {from_words(static_cast<int>(static_cast<unsigned>(high_word(e.hi)) - (m << 20)),
                     low_word(e.hi)),
          mul_rn(e.lo, from_words(static_cast<int>((1023u - m) << 20), 0))};
}

//! e^-(a + a_lo) for a small correction a_lo (|a_lo| < 2^-40, the rounding of a computed a):
//! e^-a (1 - a_lo) as a pair.
CUACT_HD DoubleDouble exp_neg_pair(double a, double a_lo) {
  DoubleDouble e = exp_neg_dd(a);
  e.lo = fma(e.hi, -a_lo, e.lo);
  return e;
}

//! CUDA's expm1, out of line: the far ranges expm1_dd leaves out.
inline CUACT_HD_COLD double expm1_rounded(double x) {
  return ::expm1(x);
}

//! e^x - 1 as a double-double (not normalised), to about 2^-56 relative. For |x| < 1/4 its Taylor
//! polynomial x + x^2 (1/2 + x/6 + ... + x^12/14!) (the next term is below 2^-62 of x) as
//! {x, the rest}; beyond, e^x from exp_neg_dd minus 1 from the larger term by a fast two-sum
//! (|e^x - 1| > 0.22 there, so exp_neg_dd's absolute 2^-58 stays relative: near 0 it would not).
//! Below -708 (and -inf) -1 + e^-708, which rounds to -1 as -1 + e^x does; past 708 CUDA's
//! expm1, out of line; NaN gives NaN. CUDA's expm1 is about an ulp off and branches to a slow
//! path.
CUACT_HD DoubleDouble expm1_dd(double x) {
  if (fabs(x) < 0.25) {
    constexpr double kInvFact[13] = {
        1.0 / 2,         1.0 / 6,          1.0 / 24,         1.0 / 120,     1.0 / 720,
        1.0 / 5040,      1.0 / 40320,      1.0 / 362880,     1.0 / 3628800, 1.0 / 39916800,
        1.0 / 479001600, 1.0 / 6227020800, 1.0 / 87178291200};
    double q = kInvFact[12];
    for (int k = 11; k >= 0; --k)
      q = fma(q, x, kInvFact[k]);
    return {x, mul_rn(x, x) * q};
  }
  if (x > 708.0) return {expm1_rounded(x), 0.0};
  const DoubleDouble e = exp_neg_dd(x < -708.0 ? 708.0 : -x);
  const bool above_one = high_word(e.hi) >= 0x3ff00000;  // e^x >= 1
  DoubleDouble d = fast_two_sum(above_one ? e.hi : -1.0, above_one ? -1.0 : e.hi);
  d.lo += e.lo;
  return d;
}

//! log(1 + e) for e = hi + lo, hi in [0, 1], as c0 + t (c0 a row's constant, t the rest, both
//! doubles; about 2^-57 relative beyond the roundings of the sum): the polynomial of degree 9
//! of hi's row (f64_tables.hpp: [0, 1/32), then eight rows per binade) in d = hi - center
//! (exact), c0 and c1 as pairs, and lo taken to first order (lo c1: c1 is within 4% of the slope
//! 1 / (1 + e) across each row, and lo below 2^-53 e). The row from hi's exponent and top three
//! mantissa bits by one shift, its center from the row's own bits (so e = 1, clamped into the
//! last row, gets that row's center). One row lookup of 6 16-byte loads (piece-major: a warp's
//! load of a piece reads the lines of the rows its lanes use, 8 rows a line), no division.
CUACT_HD DoubleDouble log1p_unit_rows(DoubleDouble e) {
  constexpr int kBits = CUACT_LOG1P_SPLIT_BITS;
  constexpr int kRows = CUACT_LOG1P_ROW_COUNT;
  // Exponent and top mantissa bits of the row's first binade, less one: row 1 starts there.
  constexpr int kBase = ((1023 + CUACT_LOG1P_FIRST_BINADE) << kBits) - 1;
  const int top = high_word(e.hi) >> (20 - kBits);  // e.hi >= 0: no sign bit
  int row = top - kBase;
  row = row < 0 ? 0 : (row > kRows - 1 ? kRows - 1 : row);  // below 2^-5 (and 0): row 0
  // The row's midpoint: its exponent and top bits, then the next bit set.
  const double center =
      row == 0 ? 0.0 : from_words((row + kBase) << (20 - kBits) | 1 << (19 - kBits), 0);
  double c[CUACT_LOG1P_WIDTH];
#if defined(__CUDA_ARCH__)
  // The row first: piece j's constant offset then folds into the load's immediate.
  const double2* p = reinterpret_cast<const double2*>(kLog1pDevice) + row;
  for (int j = 0; j < CUACT_LOG1P_WIDTH / 2; ++j) {
    const double2 v = __ldg(p + j * kRows);
    c[2 * j] = v.x;
    c[2 * j + 1] = v.y;
  }
#else
  for (int j = 0; j < CUACT_LOG1P_WIDTH; ++j)
    c[j] = kLog1pHost[2 * ((j / 2) * kRows + row) + j % 2];
#endif
  // c: c0_hi, c0_lo, c1_hi, c1_lo, c2 .. c9.
  const double d = sub_rn(e.hi, center);
  double s = c[CUACT_LOG1P_WIDTH - 1];
  for (int k = CUACT_LOG1P_WIDTH - 2; k >= 4; --k)
    s = fma(s, d, c[k]);                                  // c2 + c3 d + ...
  const double lo = fma(e.lo, c[2], fma(d, c[3], c[1]));  // lo c1 + c1_lo d + c0_lo
  // c1_hi d inside the last fma, unrounded: it carries up to the whole result (row 0).
  return {c[0], fma(d, c[2], fma(mul_rn(d, d), s, lo))};
}

//! For s = |x|: e^(-s^2/2) g(s) = Q(s) = erfc(s / sqrt 2) / 2, the normal distribution's
//! upper tail mass (derivative_rows false), or e^(-s^2/2) h(s) = Q(s) - s phi(s) (true), as a
//! double-double within 2^-56 of Q (of Q + s phi for h) for s in [0, 12.5]; NaN gives NaN. g and h
//! are smooth where Q falls by e^-78: their row polynomial of degree 9 (f64_tables.hpp, fit to
//! 2^-60) in d = s - center, rows by round(8 s) below 3 and round(4 s) from 3 to 12.5, so one fma
//! finds the row and d is exact; c0 + c1 d by a two-sum (fast for g; h has a zero in the row of
//! center 3/4), the rest added once. e^(-s^2/2) from exp_neg_dd on s^2 / 2 as an exact pair. No
//! erfc, no division, no branch. 6 16-byte loads per element (degree 13 on rows twice as wide
//! took 8, and with the data and exp_neg_dd's load a float64 element then loaded more than the
//! L1 returns per element at the copy roof), piece-major: a warp's load reads the lines of the
//! rows its lanes use, 8 rows a line.
CUACT_HD DoubleDouble normal_tail_rows(double x, bool derivative_rows) {
  constexpr double kShifter = 0x1.8p52;  // adding it leaves round(v) in the low bits
  const double s = fabs(x);
  const bool fine = (high_word(x) & 0x7fffffff) < 0x40080000;  // s < 3, on the integer pipe
  const double t = fma(s, fine ? 8.0 : 4.0, kShifter);
  const unsigned k = static_cast<unsigned>(low_word(t));
  const double d = fma(sub_rn(t, kShifter), fine ? -0.125 : -0.25, s);  // s - center, exact
  // round(8 s) = 24 and round(4 s) = 12 share the row of center 3.
  constexpr unsigned kLastRow = CUACT_GELU_ROW_COUNT - 1;
  unsigned row = fine ? k : k + 12;
  row = row < kLastRow ? row : kLastRow;  // s > 12.5, inf and NaN: any row (the callers select)
  constexpr int kStride = CUACT_GELU_ROW_STRIDE;
  constexpr int kPieces = CUACT_GELU_PIECE_COUNT;
  double c[2 * kPieces];
#if defined(__CUDA_ARCH__)
  // h's rows share g's pieces 2.. (h - g is a line): only c0 and c1 come from h's table.
  const double2* p = reinterpret_cast<const double2*>(kGeluGDevice) + row;
  const double2* p01 =
      reinterpret_cast<const double2*>(derivative_rows ? kGeluHDevice : kGeluGDevice) + row;
  for (int j = 0; j < kPieces; ++j) {
    const double2 v = __ldg((j < 2 ? p01 : p) + j * kStride);
    c[2 * j] = v.x;
    c[2 * j + 1] = v.y;
  }
#else
  for (int j = 0; j < 2 * kPieces; ++j) {
    const double* table = derivative_rows && j < 4 ? kGeluHHost : kGeluGHost;
    c[j] = table[2 * ((j / 2) * kStride + row) + j % 2];
  }
#endif
  // c: c0_hi, c0_lo, c1_hi, c1_lo, c2 .. c9.
  double sp = c[2 * kPieces - 1];
  for (int j = 2 * kPieces - 2; j >= 4; --j)
    sp = fma(sp, d, c[j]);  // c2 + c3 d + ...
  const DoubleDouble c1d = two_prod(c[2], d);
  const DoubleDouble head = derivative_rows ? two_sum(c[0], c1d.hi) : fast_two_sum(c[0], c1d.hi);
  const double tail = fma(mul_rn(d, d), sp, fma(d, c[3], c[1]) + c1d.lo);
  const DoubleDouble g = {head.hi, head.lo + tail};
  const double half_s = 0.5 * s;  // exact but for subnormal s, where a = 0 either way
  const double a = mul_rn(s, half_s);
  const DoubleDouble e = exp_neg_pair(a, fma(s, half_s, -a));  // s^2 / 2 = a + a_lo, a_lo < 2^-46
  // g.lo carries the tail (up to 1/8 of g) and e.lo a_lo's share (up to 2^-47 of e): neither
  // pair is normalised, so the lows' cross term counts.
  DoubleDouble q = two_prod(e.hi, g.hi);
  q.lo = fma(e.hi, g.lo, fma(e.lo, g.hi, fma(e.lo, g.lo, q.lo)));
  return q;
}

//! log(1 + exp(x)) for double: max(x, 0) + log(1 + e^-|x|), e^-|x| from exp_neg_dd and the log
//! from log1p_unit_rows, max(x, 0) + c0 kept exact (a two-sum) and the rest added once: within
//! about 0.6 ulp, about 40 FP64 instructions (the CUDA exp and a division-based log1p took 75).
CUACT_HD double softplus_d(double x) {
  if (x != x) return x;
  if (x > 37.0) return x;                 // log1p(e^-x) < 2^-53 < ulp(x) / 2 (also +inf)
  if (x < -708.0) return exp_rounded(x);  // log1p(e) = e (1 - e / 2) rounds to e (also -inf)
  const DoubleDouble l = log1p_unit_rows(exp_neg_dd(fabs(x)));
  const DoubleDouble s = two_sum(x > 0.0 ? x : 0.0, l.hi);
  return add_rn(s.hi, add_rn(s.lo, l.lo));
}

}  // namespace cuact::detail
