// SPDX-License-Identifier: Apache-2.0
//! @file tests/functors_host_test.cpp
//! Host-side accuracy tests of the functors in cuact/functors.cuh against the independent
//! long-double reference (tests/reference/activation_reference.hpp), exercised exactly the way
//! the library's kernels use them:
//!  - float16 / bfloat16: the library's element path (cuact::apply_forward / apply_backward with
//!    dy = 1: float overload, or double for kComputeInDouble ops, rounded once); every
//!    one of the 65,536 bit patterns; expected = reference correctly rounded to the 16-bit type
//!    (directly from long double). Bound: <= 1 ulp everywhere, >= 99.9% correctly rounded.
//!  - float32: float(functor.member(double(x))), double overload, rounded once; >= 2^20 inputs.
//!    Bound: <= 2 float ulp.
//!  - float64: functor.member(x), double overload; 2^18 inputs. Bound: <= 2 double ulp, except
//!    f'(x) of gelu/gelu_tanh/silu/mish: |err| <= 2 ulp(max(|f'|, larger term of f')).
//! Inputs: float32 every 4096th bit pattern plus specials, breakpoint neighbours and 4096 floats
//! around each interior root of f'; float64 log-uniform and uniform random doubles (fixed seed)
//! plus the same specials, and, beyond the minimum set, 4096 doubles in the exp
//! underflow/overflow band |x| in [700, 750].
//! Host-only: no CUDA runtime call. Compiled as CUDA so the __host__ __device__ functors build.
//! Note: on the host the double overloads call glibc's exp/erfc/tanh/..., the float overloads
//! glibc's exp2f/log2f/tanhf and exact division; on the device they call CUDA's libdevice and
//! MUFU instructions (ex2.approx, lg2.approx, rcp.approx), so device results can differ (by a
//! libm ulp or so) from what is measured here. The float32 forms (forward_f32, backward_f32) use
//! no library call on their main paths: host and device agree up to FMA contraction of small
//! correction terms.
//!
//! The 16-bit sweeps run again with the host forms of ex2.approx, lg2.approx and rcp.approx made
//! to err by those instructions' documented worst cases, in every combination of signs
//! (FunctorMufuErrorBounds; cuact/detail/numeric.cuh's CUACT_TEST_MUFU_ERROR_MODEL): the margin
//! the 16-bit forms need on the device, checked here.
//!
//! Set CUACT_ACCURACY_TABLE=<path> to have the measured per-op maxima written as a markdown table.

#define CUACT_TEST_MUFU_ERROR_MODEL 1

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cuact/functors.cuh"
#include "cuact/op_table.hpp"
#include "cuact/precision.cuh"
#include "cuact/types.hpp"
#include "reference/activation_reference.hpp"

namespace {

using cuact::ActParams;
using cuact::Op;
using LD = long double;

// =============================================================================================
// Functor adapter: one type-erased bundle per (op, parameters).
// =============================================================================================

struct Fns {
  std::function<float(float)> fwd_f, der_f, dfo_f;
  std::function<double(double)> fwd_d, der_d, dfo_d;
  // The library's 16-bit element path (cuact/precision.cuh: compute type, one rounding), on
  // bit patterns; index 0 = float16, 1 = bfloat16; member order forward, f'(x), f'(y).
  std::function<uint16_t(uint16_t)> elem16[2][3];
  std::function<float(float)> elem32[3];            // the library's float32 element path
  std::function<float(float, float)> backward32;    // float32 dy * f'(x), any dy
  std::function<float(float, float)> backward32_y;  // float32 dy * f'(y), any dy
  std::function<double(double)> elem64[3];          // the library's float64 element path
  bool has_dfo_member = false;                      // the functor has derivative_from_output at all
  bool has_f32_forward = false;     // float32 forward computed in float (forward_f32)
  bool has_f32_backward = false;    // float32 backward from x in float (backward_f32)
  bool has_f32_backward_y = false;  // float32 backward from y in float (backward_from_output_f32)
  const char* name = "";
};

template <class F, class T>
void add_16bit_paths(const F& f, std::function<uint16_t(uint16_t)> (&out)[3]) {
  auto bits = [](T v) {
    uint16_t b;
    std::memcpy(&b, &v, 2);
    return b;
  };
  auto value = [](uint16_t b) {
    T v;
    std::memcpy(&v, &b, 2);
    return v;
  };
  const T one = cuact::to_storage<T>(1.0f);
  out[0] = [=](uint16_t x) { return bits(cuact::apply_forward(f, value(x))); };
  out[1] = [=](uint16_t x) {
    return bits(cuact::apply_backward<cuact::Saved::kInput>(f, one, value(x)));
  };
  if constexpr (F::kHasOutputDerivative) {
    out[2] = [=](uint16_t y) {
      return bits(cuact::apply_backward<cuact::Saved::kOutput>(f, one, value(y)));
    };
  }
}

template <class F, class T>
void add_wide_paths(const F& f, std::function<T(T)> (&out)[3]) {
  out[0] = [=](T x) { return cuact::apply_forward(f, x); };
  out[1] = [=](T x) { return cuact::apply_backward<cuact::Saved::kInput>(f, T(1), x); };
  if constexpr (F::kHasOutputDerivative) {
    out[2] = [=](T y) { return cuact::apply_backward<cuact::Saved::kOutput>(f, T(1), y); };
  }
}

template <class F>
Fns make_fns(const ActParams& p) {
  const F f(p);
  Fns r;
  r.name = F::kName;
  r.has_f32_forward = cuact::HasFloat32Forward<F>::value;
  r.has_f32_backward = cuact::HasFloat32Backward<F>::value;
  r.has_f32_backward_y = cuact::HasFloat32BackwardFromOutput<F>::value;
  r.fwd_f = [f](float x) { return f.forward(x); };
  r.der_f = [f](float x) { return f.derivative(x); };
  r.fwd_d = [f](double x) { return f.forward(x); };
  r.der_d = [f](double x) { return f.derivative(x); };
  add_wide_paths<F, float>(f, r.elem32);
  r.backward32 = [f](float dy, float x) {
    return cuact::apply_backward<cuact::Saved::kInput>(f, dy, x);
  };
  add_wide_paths<F, double>(f, r.elem64);
  add_16bit_paths<F, __half>(f, r.elem16[0]);
  add_16bit_paths<F, __nv_bfloat16>(f, r.elem16[1]);
  if constexpr (F::kHasOutputDerivative) {
    r.backward32_y = [f](float dy, float y) {
      return cuact::apply_backward<cuact::Saved::kOutput>(f, dy, y);
    };
    r.has_dfo_member = true;
    r.dfo_f = [f](float y) { return f.derivative_from_output(y); };
    r.dfo_d = [f](double y) { return f.derivative_from_output(y); };
  }
  return r;
}

Fns functor_for(Op op, const ActParams& p) {
  switch (op) {
#define CUACT_TEST_CASE(e, F, name) \
  case Op::e: return make_fns<F>(p);
    CUACT_FOR_EACH_OP(CUACT_TEST_CASE)
#undef CUACT_TEST_CASE
  }
  ADD_FAILURE() << "unknown op " << static_cast<int>(op);
  return Fns{};
}

const char* op_label(Op op) {
  switch (op) {
#define CUACT_TEST_NAME(e, F, name) \
  case Op::e: return name;
    CUACT_FOR_EACH_OP(CUACT_TEST_NAME)
#undef CUACT_TEST_NAME
  }
  return "unknown";
}

// =============================================================================================
// Parameter sets.
// =============================================================================================

struct Case {
  Op op;
  ActParams params;
  std::string label;  // identifier-safe
  bool is_default;
  bool dfo_valid;  // y-based derivative defined for this op and these parameters
};

bool dfo_valid_for(Op op, const ActParams& p) {
  if (!cuact_ref::has_derivative_from_output(op)) return false;
  switch (op) {
    case Op::kRelu: return p.relu_alpha >= 0 && p.relu_threshold >= 0;
    case Op::kElu: return p.elu_alpha >= 0;
    case Op::kLeakyRelu: return p.leaky_alpha >= 0;
    case Op::kCelu: return p.celu_alpha > 0;
    case Op::kThresholdedRelu: return p.theta >= 0;
    default: return true;
  }
}

const std::vector<Case>& all_cases() {
  static const std::vector<Case> cases = [] {
    std::vector<Case> v;
    auto add = [&v](Op op, ActParams p, std::string suffix, bool is_default) {
      std::string label = op_label(op);
      if (!suffix.empty()) label += "_" + suffix;
      v.push_back(Case{op, p, label, is_default, dfo_valid_for(op, p)});
    };
    for (int i = 0; i < cuact::kNumOps; ++i)
      add(static_cast<Op>(i), ActParams{}, "", true);
    ActParams p;
    p = {};
    p.relu_alpha = 0.1;
    p.relu_max_value = 6;
    p.relu_threshold = 0.5;
    add(Op::kRelu, p, "a0p1_max6_t0p5", false);
    p = {};
    p.relu_alpha = 0.2;
    p.relu_max_value = 1;
    p.relu_threshold = -1;
    add(Op::kRelu, p, "a0p2_max1_tm1", false);
    p = {};
    p.relu_alpha = 0;
    p.relu_max_value = 6;
    p.relu_threshold = 0;
    add(Op::kRelu, p, "a0_max6_t0", false);
    p = {};  // threshold and max that float does not hold: the 16-bit fast path must defer
    p.relu_alpha = 0.05;
    p.relu_max_value = 5.9;
    p.relu_threshold = 0.3;
    add(Op::kRelu, p, "a0p05_max5p9_t0p3", false);
    p = {};  // threshold 0: the float32 line is alpha x alone
    p.relu_alpha = 0.1;
    add(Op::kRelu, p, "a0p1", false);
    p = {};
    p.relu_alpha = 0.1;
    p.relu_max_value = 6;
    add(Op::kRelu, p, "a0p1_max6", false);
    p = {};  // no negative branch, threshold and max off the float grid
    p.relu_max_value = 5.9;
    p.relu_threshold = 0.3;
    add(Op::kRelu, p, "a0_max5p9_t0p3", false);
    p = {};  // alpha too small for the float line: every element below t in double
    p.relu_alpha = 1e-35;
    p.relu_threshold = 0.5;
    add(Op::kRelu, p, "a1em35_t0p5", false);
    p = {};
    p.elu_alpha = 0.5;
    add(Op::kElu, p, "a0p5", false);
    p = {};
    p.elu_alpha = 2;
    add(Op::kElu, p, "a2", false);
    p = {};
    p.leaky_alpha = 0.01;
    add(Op::kLeakyRelu, p, "a0p01", false);
    p = {};
    p.leaky_alpha = 0.2;
    add(Op::kLeakyRelu, p, "a0p2", false);
    p = {};
    p.theta = 0.5;
    add(Op::kThresholdedRelu, p, "theta0p5", false);
    p = {};
    p.celu_alpha = 0.5;
    add(Op::kCelu, p, "a0p5", false);
    p = {};
    p.celu_alpha = 2;
    add(Op::kCelu, p, "a2", false);
    p = {};
    p.hard_sigmoid_slope = 1.0 / 6.0;
    p.hard_sigmoid_offset = 0.5;
    add(Op::kHardSigmoid, p, "slope1_6_off0p5", false);
    return v;
  }();
  return cases;
}

// =============================================================================================
// Members and dtypes.
// =============================================================================================

enum class Member { kForward, kDerivative, kDerivFromOutput };
enum class DT { kF16, kBF16, kF32, kF64 };

const char* member_label(Member m) {
  switch (m) {
    case Member::kForward: return "forward";
    case Member::kDerivative: return "derivative";
    case Member::kDerivFromOutput: return "derivative_from_output";
  }
  return "?";
}
const char* dt_label(DT d) {
  switch (d) {
    case DT::kF16: return "float16";
    case DT::kBF16: return "bfloat16";
    case DT::kF32: return "float32";
    case DT::kF64: return "float64";
  }
  return "?";
}

LD reference(Member m, Op op, LD x, const ActParams& p) {
  switch (m) {
    case Member::kForward: return cuact_ref::forward(op, x, p);
    case Member::kDerivative: return cuact_ref::derivative(op, x, p);
    case Member::kDerivFromOutput: return cuact_ref::derivative_from_output(op, x, p);
  }
  return std::numeric_limits<LD>::quiet_NaN();
}

// =============================================================================================
// 16-bit formats: decoding, correct rounding from long double, ulp distance.
// =============================================================================================

struct Fmt16 {
  bool is_half;
  uint16_t inf_bits;    // +inf pattern; also one past the largest finite positive pattern
  std::vector<LD> pos;  // exact value of every pattern 0..inf_bits; pos[inf_bits] = max + ulp

  static LD decode_exact(bool is_half, uint16_t b) {  // positive finite patterns only
    if (is_half) {
      const int e = (b >> 10) & 31, m = b & 1023;
      return e == 0 ? std::ldexp(static_cast<LD>(m), -24)
                    : std::ldexp(static_cast<LD>(1024 + m), e - 25);
    }
    const int e = (b >> 7) & 255, m = b & 127;
    return e == 0 ? std::ldexp(static_cast<LD>(m), -133)
                  : std::ldexp(static_cast<LD>(128 + m), e - 134);
  }

  explicit Fmt16(bool half) : is_half(half), inf_bits(half ? 0x7c00 : 0x7f80) {
    pos.resize(inf_bits + 1);
    for (uint32_t b = 0; b < inf_bits; ++b)
      pos[b] = decode_exact(is_half, static_cast<uint16_t>(b));
    // The value an unbounded exponent range would give the pattern after the largest finite one:
    // rounding to it means overflow to infinity (IEEE: |v| >= max + ulp/2 rounds to inf).
    pos[inf_bits] = is_half ? std::ldexp(1.0L, 16) : std::ldexp(1.0L, 128);
  }

  bool is_nan(uint16_t b) const { return (b & 0x7fff) > inf_bits; }
  bool is_inf(uint16_t b) const { return (b & 0x7fff) == inf_bits; }

  //! The library's conversions (cuda_fp16.h / cuda_bf16.h host paths).
  float to_float(uint16_t b) const {
    if (is_half) {
      __half_raw r;
      r.x = b;
      return __half2float(__half(r));
    }
    __nv_bfloat16_raw r;
    r.x = b;
    return __bfloat162float(__nv_bfloat16(r));
  }
  uint16_t from_float(float f) const {
    if (is_half) {
      const __half_raw r = __float2half_rn(f);
      return r.x;
    }
    const __nv_bfloat16_raw r = __float2bfloat16_rn(f);
    return r.x;
  }

  //! v correctly rounded (to nearest, ties to even) straight from long double.
  uint16_t round(LD v) const {
    if (v != v) return is_half ? 0x7e00 : 0x7fc0;
    const uint16_t sign = std::signbit(v) ? 0x8000 : 0;
    const LD a = std::fabs(v);
    const auto it = std::upper_bound(pos.begin(), pos.end(), a);
    const size_t idx = static_cast<size_t>(it - pos.begin());
    if (idx > inf_bits) return sign | inf_bits;  // a >= max + ulp (or +inf)
    const size_t lo = idx - 1, hi = idx;         // pos[lo] <= a < pos[hi]
    const LD mid = (pos[lo] + pos[hi]) * 0.5L;   // exact: 16-bit values have <= 11 bits
    size_t pick;
    if (a < mid)
      pick = lo;
    else if (a > mid)
      pick = hi;
    else
      pick = (lo % 2 == 0) ? lo : hi;
    return static_cast<uint16_t>(sign | pick);
  }

  //! Monotone integer position of a non-NaN pattern (+0 and -0 both 0).
  static int32_t ordinal(uint16_t b) {
    const int32_t mag = b & 0x7fff;
    return (b & 0x8000) ? -mag : mag;
  }

  static constexpr int64_t kBad = int64_t(1) << 30;  // NaN/inf mismatch

  int64_t distance(uint16_t got, uint16_t expected) const {
    if (is_nan(expected)) return is_nan(got) ? 0 : kBad;
    if (is_nan(got)) return kBad;
    if (is_inf(got) || is_inf(expected)) {
      return ordinal(got) == ordinal(expected) ? 0 : kBad;
    }
    const int64_t d = int64_t(ordinal(got)) - int64_t(ordinal(expected));
    return d < 0 ? -d : d;
  }
};

const Fmt16& fmt16(DT d) {
  static const Fmt16 half(true), bf16(false);
  return d == DT::kF16 ? half : bf16;
}

// =============================================================================================
// ulp errors for float32 / float64 results.
// =============================================================================================

//! Spacing of the floating-point numbers with `mant` significand bits (24, 53) and minimum normal
//! exponent `emin` at |v|.
LD ulp_at(LD v, int mant, int emin) {
  const LD a = std::fabs(v);
  if (!(a >= std::ldexp(1.0L, emin))) return std::ldexp(1.0L, emin - mant + 1);
  int e;
  std::frexp(a, &e);  // a = m 2^e, m in [0.5, 1)
  return std::ldexp(1.0L, e - mant);
}
LD ulp_float(LD v) {
  return ulp_at(v, 24, -126);
}
LD ulp_double(LD v) {
  return ulp_at(v, 53, -1022);
}

constexpr LD kInfErr = std::numeric_limits<LD>::infinity();

//! |got - ref| in units of ulp_T(scale); NaN must match NaN, infinities must match the
//! correctly rounded reference exactly.
template <class T>
LD ulp_error(LD ref, T got, LD scale) {
  if (ref != ref) return got != got ? 0.0L : kInfErr;
  if (got != got) return kInfErr;
  if (std::isinf(static_cast<LD>(got)) || std::isinf(ref)) {
    const T rounded = static_cast<T>(ref);
    return got == rounded ? 0.0L : kInfErr;
  }
  const LD u = sizeof(T) == 4 ? ulp_float(scale) : ulp_double(scale);
  return std::fabs(static_cast<LD>(got) - ref) / u;
}

std::string fmt_ld(LD v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.21Lg", v);
  return buf;
}
std::string fmt_err(LD e) {
  if (std::isinf(e)) return "inf(non-finite mismatch)";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3Lf", e);
  return buf;
}

// =============================================================================================
// Input sets.
// =============================================================================================

//! Roots of f' for the four smooth non-monotone ops, found by bisection on the reference.
LD derivative_root(Op op) {
  LD a, b;
  switch (op) {
    case Op::kGelu:
      a = -0.9L;
      b = -0.6L;
      break;
    case Op::kGeluTanh:
      a = -0.9L;
      b = -0.6L;
      break;
    case Op::kSilu:
      a = -1.4L;
      b = -1.1L;
      break;
    case Op::kMish:
      a = -1.3L;
      b = -1.05L;
      break;
    default: return std::numeric_limits<LD>::quiet_NaN();
  }
  const ActParams p;
  LD fa = cuact_ref::derivative(op, a, p);
  for (int i = 0; i < 200; ++i) {
    const LD m = 0.5L * (a + b);
    if (m == a || m == b) break;
    const LD fm = cuact_ref::derivative(op, m, p);
    if ((fm < 0) == (fa < 0)) {
      a = m;
      fa = fm;
    } else {
      b = m;
    }
  }
  return 0.5L * (a + b);
}

const Op kRootOps[] = {Op::kGelu, Op::kGeluTanh, Op::kSilu, Op::kMish};

//! Breakpoints: kinks of the piecewise ops and every parameter value used in the parameter
//! sets, plus the functors' own branch points (mish cut-offs 20 and 40).
const double kBreakpoints[] = {0.0, 2.5, -2.5, 3.0, -3.0, 6.0, -1.5, 0.5, 1.0, -1.0, 20.0, 40.0};

template <class T>
void add_neighbours(std::vector<T>& v, T b, int steps) {
  v.push_back(b);
  T up = b, down = b;
  for (int i = 0; i < steps; ++i) {
    up = std::nextafter(up, std::numeric_limits<T>::infinity());
    down = std::nextafter(down, -std::numeric_limits<T>::infinity());
    v.push_back(up);
    v.push_back(down);
  }
}

template <class T>
void add_specials(std::vector<T>& v) {
  using L = std::numeric_limits<T>;
  const T specials[] = {T(0),
                        -T(0),
                        L::infinity(),
                        -L::infinity(),
                        L::quiet_NaN(),
                        -L::quiet_NaN(),
                        L::denorm_min(),
                        -L::denorm_min(),
                        T(2) * L::denorm_min(),
                        -T(2) * L::denorm_min(),
                        T(3) * L::denorm_min(),
                        -T(3) * L::denorm_min(),
                        L::min(),
                        -L::min(),
                        L::max(),
                        -L::max()};
  for (T s : specials)
    v.push_back(s);
  for (double b : kBreakpoints)
    add_neighbours<T>(v, static_cast<T>(b), 8);
  for (Op op : kRootOps) {
    const T r = static_cast<T>(derivative_root(op));
    T up = r, down = r;
    v.push_back(r);
    for (int i = 0; i < 2048; ++i) {
      up = std::nextafter(up, L::infinity());
      v.push_back(up);
      if (i < 2047) {
        down = std::nextafter(down, -L::infinity());
        v.push_back(down);
      }
    }
  }
}

const std::vector<float>& float_inputs() {
  static const std::vector<float> v = [] {
    std::vector<float> r;
    r.reserve((size_t(1) << 20) + 20000);
    for (uint64_t bits = 0; bits < (uint64_t(1) << 32); bits += 4096) {
      const uint32_t b = static_cast<uint32_t>(bits);
      float f;
      std::memcpy(&f, &b, 4);
      r.push_back(f);
    }
    add_specials<float>(r);
    return r;
  }();
  return v;
}

const std::vector<double>& double_inputs() {
  static const std::vector<double> v = [] {
    std::vector<double> r;
    add_specials<double>(r);
    const size_t kBand = 4096;
    const size_t target = size_t(1) << 18;
    const size_t n_random = target > r.size() + kBand ? target - r.size() - kBand : 0;
    std::mt19937_64 rng(0x5eed'c0ac'7a11'0001ULL);
    std::uniform_real_distribution<double> log_mag(-300.0, 300.0), uni(-50.0, 50.0);
    std::bernoulli_distribution sign(0.5);
    for (size_t i = 0; i < n_random; ++i) {
      if (i % 2 == 0) {
        const double m = std::pow(10.0, log_mag(rng));
        r.push_back(sign(rng) ? -m : m);
      } else {
        r.push_back(uni(rng));
      }
    }
    // Beyond the minimum set (last, so violations in the main set are listed first): the float64
    // exp underflow/overflow band |x| in [700, 750], where e^x turns subnormal or infinite while
    // f(x) or f'(x) can still be a normal number.
    std::uniform_real_distribution<double> band(700.0, 750.0);
    for (size_t i = 0; i < kBand / 2; ++i) {
      r.push_back(-band(rng));
      r.push_back(band(rng));
    }
    return r;
  }();
  return v;
}

// =============================================================================================
// Accuracy table (written from measurements at exit when CUACT_ACCURACY_TABLE is set).
// =============================================================================================

enum Col { kF32Fwd, kF32Bwd, kF16Fwd, kF16Bwd, kBF16Fwd, kBF16Bwd, kF64Fwd, kF64Bwd, kNumCols };
const char* const kColNames[kNumCols] = {"fp32 fwd", "fp32 bwd(x)", "fp16 fwd", "fp16 bwd(x)",
                                         "bf16 fwd", "bf16 bwd(x)", "fp64 fwd", "fp64 bwd(x)"};

std::mutex g_table_mutex;
std::map<int, std::map<int, std::string>>& table() {
  static std::map<int, std::map<int, std::string>> t;
  return t;
}

void record(const Case& c, DT d, Member m, const std::string& cell) {
  if (!c.is_default || m == Member::kDerivFromOutput) return;
  const bool fwd = m == Member::kForward;
  int col = 0;
  switch (d) {
    case DT::kF32: col = fwd ? kF32Fwd : kF32Bwd; break;
    case DT::kF16: col = fwd ? kF16Fwd : kF16Bwd; break;
    case DT::kBF16: col = fwd ? kBF16Fwd : kBF16Bwd; break;
    case DT::kF64: col = fwd ? kF64Fwd : kF64Bwd; break;
  }
  std::lock_guard<std::mutex> lock(g_table_mutex);
  table()[static_cast<int>(c.op)][col] = cell;
}

class TableWriter : public ::testing::Environment {
 public:
  void TearDown() override {
    const char* path = std::getenv("CUACT_ACCURACY_TABLE");
    if (path == nullptr || *path == '\0') return;
    // Only a complete run writes the table: ctest runs each test in its own process, and a
    // filtered run must not overwrite a full table with a mostly empty one.
    size_t cells = 0;
    for (const auto& row : table())
      cells += row.second.size();
    if (cells < static_cast<size_t>(cuact::kNumOps) * kNumCols) {
      std::printf(
          "[accuracy] table not written to %s: %zu of %d cells measured (run the whole "
          "binary, unfiltered)\n",
          path, cells, cuact::kNumOps * kNumCols);
      return;
    }
    std::FILE* f = std::fopen(path, "w");
    if (f == nullptr) {
      std::fprintf(stderr, "cannot write accuracy table to %s\n", path);
      return;
    }
    std::fprintf(f,
                 "<!-- written by cuact_functor_tests (tests/functors_host_test.cpp) from its own "
                 "measurements; do not edit by hand -->\n\n");
    std::fprintf(f,
                 "Max error of the host-run functors against a long-double reference, default "
                 "parameters. fp32/fp64: max error in ulps of the output type. fp16/bf16: max "
                 "ulp distance from the correctly rounded value, and the share of non-NaN inputs "
                 "that are correctly rounded. fp64 bwd(x) of gelu, gelu_tanh, silu and mish: plain "
                 "max ulp, then in brackets the contract metric |err| / ulp(max(|f'|, larger term "
                 "of f')).\n\n");
    std::fprintf(f, "| op |");
    for (int c = 0; c < kNumCols; ++c)
      std::fprintf(f, " %s |", kColNames[c]);
    std::fprintf(f, "\n|---|");
    for (int c = 0; c < kNumCols; ++c)
      std::fprintf(f, "---|");
    std::fprintf(f, "\n");
    for (int op = 0; op < cuact::kNumOps; ++op) {
      std::fprintf(f, "| %s |", op_label(static_cast<Op>(op)));
      for (int c = 0; c < kNumCols; ++c) {
        auto row = table().find(op);
        std::string cell = "not run";
        if (row != table().end()) {
          auto it = row->second.find(c);
          if (it != row->second.end()) cell = it->second;
        }
        std::fprintf(f, " %s |", cell.c_str());
      }
      std::fprintf(f, "\n");
    }
    std::fclose(f);
    std::printf("[accuracy] table written to %s\n", path);
  }
};

const auto* const g_table_env = ::testing::AddGlobalTestEnvironment(new TableWriter);

// =============================================================================================
// The parameterised accuracy test.
// =============================================================================================

struct AccParam {
  size_t case_index;
  DT dtype;
  Member member;
};

std::vector<AccParam> all_acc_params() {
  std::vector<AccParam> v;
  const auto& cases = all_cases();
  for (size_t i = 0; i < cases.size(); ++i) {
    for (DT d : {DT::kF16, DT::kBF16, DT::kF32, DT::kF64}) {
      for (Member m : {Member::kForward, Member::kDerivative, Member::kDerivFromOutput}) {
        if (m == Member::kDerivFromOutput && !cases[i].dfo_valid) continue;
        v.push_back(AccParam{i, d, m});
      }
    }
  }
  return v;
}

std::string acc_param_name(const ::testing::TestParamInfo<AccParam>& info) {
  const Case& c = all_cases()[info.param.case_index];
  return c.label + "_" + dt_label(info.param.dtype) + "_" + member_label(info.param.member);
}

//! Readable parameter in test listings (ctest prints it next to each name).
void PrintTo(const AccParam& p, std::ostream* os) {
  *os << all_cases()[p.case_index].label << " " << dt_label(p.dtype) << " "
      << member_label(p.member);
}

class FunctorAccuracy : public ::testing::TestWithParam<AccParam> {};

constexpr size_t kMaxReported = 10;

//! `model`: a label for a run under a MUFU error model (not recorded in the accuracy table), or
//! null for the plain run.
void run_16bit(const Case& c, DT d, Member m, const char* model = nullptr) {
  const Fmt16& fmt = fmt16(d);
  const Fns fns = functor_for(c.op, c.params);
  const auto& fn = fns.elem16[d == DT::kF16 ? 0 : 1][static_cast<int>(m)];
  ASSERT_TRUE(static_cast<bool>(fn)) << "functor has no such member";
  int64_t max_d = 0, max_finite_d = 0;
  uint32_t worst_bits = 0;
  size_t n_non_nan = 0, n_exact = 0, n_beyond = 0, n_nonfinite = 0;
  std::vector<std::string> violations, mismatches;
  for (uint32_t b = 0; b < 65536; ++b) {
    const uint16_t bits = static_cast<uint16_t>(b);
    const float x = fmt.to_float(bits);
    const uint16_t got = fn(bits);  // exactly what the 16-bit kernels compute per element
    const LD ref = reference(m, c.op, static_cast<LD>(x), c.params);
    const uint16_t expected = fmt.round(ref);
    const int64_t dist = fmt.distance(got, expected);
    if (!fmt.is_nan(bits)) {
      ++n_non_nan;
      if (dist == 0) ++n_exact;
    }
    if (dist > max_d) {
      max_d = dist;
      worst_bits = b;
    }
    if (dist >= Fmt16::kBad) {
      ++n_nonfinite;
    } else if (dist > max_finite_d) {
      max_finite_d = dist;
    }
    if (dist > 1) ++n_beyond;
    if (dist > 0) {
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    "  bits=0x%04x %s=%.9g got=0x%04x (%.9g) expected=0x%04x (%.9g) "
                    "ref=%s dist=%s",
                    b, m == Member::kDerivFromOutput ? "y" : "x", x, got, fmt.to_float(got),
                    expected, fmt.to_float(expected), fmt_ld(ref).c_str(),
                    dist >= Fmt16::kBad ? "non-finite mismatch" : std::to_string(dist).c_str());
      if (mismatches.size() < kMaxReported) mismatches.push_back(buf);
      if (dist > 1 && violations.size() < kMaxReported) violations.push_back(buf);
    }
  }
  const double frac = n_non_nan ? double(n_exact) / double(n_non_nan) : 1.0;
  char cell[128];
  if (n_nonfinite > 0) {
    std::snprintf(cell, sizeof cell, "NaN/inf mismatch x%zu, finite max %lld (%.3f%% CR)",
                  n_nonfinite, static_cast<long long>(max_finite_d), 100.0 * frac);
  } else {
    std::snprintf(cell, sizeof cell, "%lld (%.3f%% CR)", static_cast<long long>(max_d),
                  100.0 * frac);
  }
  std::printf(
      "[accuracy%s%s] %-30s %-8s %-22s max_ulp=%s correctly_rounded=%.4f%% (%zu/%zu) "
      "beyond_1ulp=%zu nonfinite_mismatch=%zu worst_bits=0x%04x\n",
      model ? " " : "", model ? model : "", c.label.c_str(), dt_label(d), member_label(m),
      n_nonfinite ? ("NaN/inf-mismatch(finite max " + std::to_string(max_finite_d) + ")").c_str()
                  : std::to_string(max_d).c_str(),
      100.0 * frac, n_exact, n_non_nan, n_beyond, n_nonfinite, worst_bits);
  if (!model) record(c, d, m, cell);

  std::ostringstream detail;
  if (max_d > 1) {
    detail << n_beyond << " inputs beyond 1 ulp (" << n_nonfinite
           << " of them NaN/inf mismatches); first " << violations.size() << ":\n";
    for (const auto& s : violations)
      detail << s << "\n";
  }
  if (frac < 0.999) {
    detail << (n_non_nan - n_exact) << " non-NaN inputs not correctly rounded; first "
           << mismatches.size() << ":\n";
    for (const auto& s : mismatches)
      detail << s << "\n";
  }
  const std::string where = c.label + " " + dt_label(d) + " " + member_label(m) +
                            (model ? std::string(" under ") + model : std::string());
  EXPECT_LE(max_d, 1) << where << "\n" << detail.str();
  EXPECT_GE(frac, 0.999) << where << "\n" << detail.str();
}

template <class T>
void run_wide(const Case& c, DT d, Member m) {
  const Fns fns = functor_for(c.op, c.params);
  std::function<T(T)> fn;
  if constexpr (std::is_same<T, float>::value) {
    fn = fns.elem32[static_cast<int>(m)];
  } else {
    fn = fns.elem64[static_cast<int>(m)];
  }
  ASSERT_TRUE(static_cast<bool>(fn)) << "functor has no such member";
  const bool is_f32 = std::is_same<T, float>::value;
  const bool term_scaled =
      !is_f32 && m == Member::kDerivative &&
      (c.op == Op::kGelu || c.op == Op::kGeluTanh || c.op == Op::kSilu || c.op == Op::kMish);
  const std::vector<T>* inputs;
  if constexpr (std::is_same<T, float>::value) {
    inputs = &float_inputs();
  } else {
    inputs = &double_inputs();
  }
  LD max_plain = 0, max_metric = 0, max_finite_metric = 0;
  T worst_plain_x = 0, worst_metric_x = 0, worst_finite_x = 0;
  size_t n_beyond = 0, n_nonfinite = 0;
  std::vector<std::string> violations;
  for (const T x : *inputs) {
    const T got = fn(x);  // exactly what the kernels compute per element (dy = 1)
    const LD ref = reference(m, c.op, static_cast<LD>(x), c.params);
    const LD plain = ulp_error<T>(ref, got, ref);
    LD metric = plain;
    if (term_scaled && !std::isinf(plain)) {
      const LD s = cuact_ref::derivative_term_scale(c.op, static_cast<LD>(x), c.params);
      metric = ulp_error<T>(ref, got, std::max(std::fabs(ref), s));
    }
    if (plain > max_plain) {
      max_plain = plain;
      worst_plain_x = x;
    }
    if (metric > max_metric) {
      max_metric = metric;
      worst_metric_x = x;
    }
    if (std::isinf(metric)) {
      ++n_nonfinite;
    } else if (metric > max_finite_metric) {
      max_finite_metric = metric;
      worst_finite_x = x;
    }
    if (metric > 2) {
      ++n_beyond;
      if (violations.size() < kMaxReported) {
        char buf[256];
        std::snprintf(buf, sizeof buf, "  %s=%.17g (%a) got=%.17g (%a) ref=%s err=%s ulp",
                      m == Member::kDerivFromOutput ? "y" : "x", static_cast<double>(x),
                      static_cast<double>(x), static_cast<double>(got), static_cast<double>(got),
                      fmt_ld(ref).c_str(), fmt_err(metric).c_str());
        violations.push_back(buf);
      }
    }
  }
  std::string cell = fmt_err(max_plain);
  if (term_scaled) cell += " [" + fmt_err(max_metric) + "]";
  if (n_nonfinite > 0) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "NaN/inf mismatch x%zu, finite max %s", n_nonfinite,
                  fmt_err(max_finite_metric).c_str());
    cell = buf;
  }
  std::printf("[accuracy] %-30s %-8s %-22s max_ulp=%s (at x=%.17g)", c.label.c_str(), dt_label(d),
              member_label(m), fmt_err(max_plain).c_str(), double(worst_plain_x));
  if (term_scaled) {
    std::printf(" contract_metric=%s (at x=%.17g)", fmt_err(max_metric).c_str(),
                double(worst_metric_x));
  }
  std::printf(" finite_max=%s (at x=%.17g) beyond_2ulp=%zu nonfinite_mismatch=%zu n=%zu\n",
              fmt_err(max_finite_metric).c_str(), double(worst_finite_x), n_beyond, n_nonfinite,
              inputs->size());
  record(c, d, m, cell);
  std::ostringstream detail;
  for (const auto& s : violations)
    detail << s << "\n";
  EXPECT_LE(max_metric, 2.0L) << c.label << " " << dt_label(d) << " " << member_label(m)
                              << (term_scaled ? " (metric: ulp of max(|f'|, term scale))" : "")
                              << "\n"
                              << n_beyond << " inputs beyond 2 ulp (" << n_nonfinite
                              << " NaN/inf mismatches); worst finite " << fmt_err(max_finite_metric)
                              << " ulp at x=" << double(worst_finite_x) << "; first "
                              << violations.size() << ":\n"
                              << detail.str();
}

TEST_P(FunctorAccuracy, MatchesReference) {
  const AccParam& ap = GetParam();
  const Case& c = all_cases()[ap.case_index];
  switch (ap.dtype) {
    case DT::kF16:
    case DT::kBF16: run_16bit(c, ap.dtype, ap.member); break;
    case DT::kF32: run_wide<float>(c, ap.dtype, ap.member); break;
    case DT::kF64: run_wide<double>(c, ap.dtype, ap.member); break;
  }
}

INSTANTIATE_TEST_SUITE_P(AllOps, FunctorAccuracy, ::testing::ValuesIn(all_acc_params()),
                         acc_param_name);

// The device's approximate instructions at their documented worst cases: ex2.approx.f32 within
// 2 ulp (2^-22 relative), lg2.approx.f32 within 2^-22 absolute on [0.5, 2] (the forms call it on
// [1, 2]), rcp.approx.ftz.f32 within 1 ulp (2^-23 relative). Each sign combination errs the same
// way on every input, the worst a consistent bias can do; the contract must still hold.
class FunctorMufuErrorBounds : public ::testing::TestWithParam<size_t> {
 protected:
  void TearDown() override { cuact::detail::mufu_error_model = {}; }
};

TEST_P(FunctorMufuErrorBounds, SixteenBitContractHolds) {
  const Case& c = all_cases()[GetParam()];
  for (int signs = 0; signs < 8; ++signs) {
    const double e = signs & 1 ? -1.0 : 1.0, l = signs & 2 ? -1.0 : 1.0, r = signs & 4 ? -1.0 : 1.0;
    cuact::detail::mufu_error_model = {e * 0x1p-22, l * 0x1p-22, r * 0x1p-23};
    char model[64];
    std::snprintf(model, sizeof model, "mufu ex2%+.0f lg2%+.0f rcp%+.0f", e, l, r);
    for (DT d : {DT::kF16, DT::kBF16}) {
      for (Member m : {Member::kForward, Member::kDerivative, Member::kDerivFromOutput}) {
        if (m == Member::kDerivFromOutput && !c.dfo_valid) continue;
        run_16bit(c, d, m, model);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllOps, FunctorMufuErrorBounds,
                         ::testing::Range(size_t{0}, all_cases().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return all_cases()[info.param].label;
                         });

// =============================================================================================
// Explicit edge cases.
// =============================================================================================

TEST(FunctorEdges, NaNPropagatesEveryMemberEveryOp) {
  const float nf = std::numeric_limits<float>::quiet_NaN();
  const double nd = std::numeric_limits<double>::quiet_NaN();
  for (const Case& c : all_cases()) {
    const Fns f = functor_for(c.op, c.params);
    EXPECT_TRUE(std::isnan(f.fwd_f(nf))) << c.label << " forward(float NaN)";
    EXPECT_TRUE(std::isnan(f.der_f(nf))) << c.label << " derivative(float NaN)";
    EXPECT_TRUE(std::isnan(f.fwd_d(nd))) << c.label << " forward(double NaN)";
    EXPECT_TRUE(std::isnan(f.der_d(nd))) << c.label << " derivative(double NaN)";
    EXPECT_TRUE(std::isnan(f.fwd_f(-nf))) << c.label << " forward(float -NaN)";
    EXPECT_TRUE(std::isnan(f.fwd_d(-nd))) << c.label << " forward(double -NaN)";
    if (f.has_dfo_member) {
      EXPECT_TRUE(std::isnan(f.dfo_f(nf))) << c.label << " derivative_from_output(float NaN)";
      EXPECT_TRUE(std::isnan(f.dfo_d(nd))) << c.label << " derivative_from_output(double NaN)";
    }
    // The reference obeys the same rule.
    EXPECT_TRUE(std::isnan(cuact_ref::forward(c.op, nd, c.params))) << c.label;
    EXPECT_TRUE(std::isnan(cuact_ref::derivative(c.op, nd, c.params))) << c.label;
    EXPECT_TRUE(std::isnan(cuact_ref::derivative_from_output(c.op, nd, c.params))) << c.label;
  }
}

TEST(FunctorEdges, ReluNaNForEveryParameterSet) {
  for (const Case& c : all_cases()) {
    if (c.op != Op::kRelu) continue;
    const cuact::Relu r(c.params);
    EXPECT_TRUE(std::isnan(r.forward(std::numeric_limits<float>::quiet_NaN()))) << c.label;
    EXPECT_TRUE(std::isnan(r.forward(std::numeric_limits<double>::quiet_NaN()))) << c.label;
    EXPECT_TRUE(std::isnan(r.derivative(std::numeric_limits<double>::quiet_NaN()))) << c.label;
  }
}

TEST(FunctorEdges, SoftsignOfInfinityIsPlusMinusOne) {
  const cuact::Softsign s;
  const float fi = std::numeric_limits<float>::infinity();
  const double di = std::numeric_limits<double>::infinity();
  EXPECT_EQ(s.forward(fi), 1.0f);
  EXPECT_EQ(s.forward(-fi), -1.0f);
  EXPECT_EQ(s.forward(di), 1.0);
  EXPECT_EQ(s.forward(-di), -1.0);
}

TEST(FunctorEdges,
     SmoothGatesAtInfinity) {  // f(-inf) = 0, f(+inf) = +inf, f'(-inf) = 0, f'(+inf) = 1
  const ActParams p;
  const float fi = std::numeric_limits<float>::infinity();
  const double di = std::numeric_limits<double>::infinity();
  for (Op op : {Op::kSilu, Op::kGelu, Op::kGeluTanh, Op::kMish, Op::kHardSwish}) {
    const Fns f = functor_for(op, p);
    EXPECT_EQ(f.fwd_f(-fi), 0.0f) << op_label(op) << " float";
    EXPECT_EQ(f.fwd_d(-di), 0.0) << op_label(op) << " double";
    EXPECT_EQ(f.fwd_f(fi), fi) << op_label(op) << " float +inf";
    EXPECT_EQ(f.fwd_d(di), di) << op_label(op) << " double +inf";
    EXPECT_EQ(f.der_f(-fi), 0.0f) << op_label(op) << " derivative float";
    EXPECT_EQ(f.der_d(-di), 0.0) << op_label(op) << " derivative double";
    EXPECT_EQ(f.der_f(fi), 1.0f) << op_label(op) << " derivative float +inf";
    EXPECT_EQ(f.der_d(di), 1.0) << op_label(op) << " derivative double +inf";
  }
}

//! dy e^(x / alpha) for a negative celu alpha overflows to +inf for a large dy: the correction
//! term of the double-double product (negative here) must not turn it into -inf.
TEST(FunctorEdges, CeluNegativeAlphaBackwardOverflowKeepsItsSign) {
  ActParams p;
  p.celu_alpha = -0.8;
  const cuact::Celu celu(p);
  const float x = -525.7999267578125f;  // x / alpha = 657.25
  EXPECT_EQ(celu.backward(1e30, static_cast<double>(x)), HUGE_VAL);
  EXPECT_EQ(cuact::apply_backward<cuact::Saved::kInput>(celu, 2e36f, x), HUGE_VALF);
  EXPECT_EQ(cuact::apply_backward<cuact::Saved::kInput>(celu, 1e30, static_cast<double>(x)),
            HUGE_VAL);
}

//! f(+-inf) and f'(+-inf) are the mathematical limits for every op and parameter set (within
//! 2 ulp where the limit is a transcendental constant such as -scale*alpha for selu).
TEST(FunctorEdges, LimitsAtInfinityAllOps) {
  const double di = std::numeric_limits<double>::infinity();
  for (const Case& c : all_cases()) {
    const Fns f = functor_for(c.op, c.params);
    for (double x : {-di, di}) {
      const LD ref = cuact_ref::forward(c.op, x, c.params);
      const LD dref = cuact_ref::derivative(c.op, x, c.params);
      ASSERT_FALSE(std::isnan(ref) || std::isnan(dref)) << c.label;
      const float xf = static_cast<float>(x);
      EXPECT_LE(ulp_error<double>(ref, f.fwd_d(x), ref), 2.0L)
          << c.label << " forward(" << x << ") = " << f.fwd_d(x) << ", limit " << fmt_ld(ref);
      EXPECT_LE(ulp_error<float>(ref, f.fwd_f(xf), ref), 2.0L)
          << c.label << " forward(float " << x << ") = " << f.fwd_f(xf) << ", limit "
          << fmt_ld(ref);
      EXPECT_LE(ulp_error<double>(dref, f.der_d(x), dref), 2.0L)
          << c.label << " derivative(" << x << ") = " << f.der_d(x) << ", limit " << fmt_ld(dref);
      EXPECT_LE(ulp_error<float>(dref, f.der_f(xf), dref), 2.0L)
          << c.label << " derivative(float " << x << ") = " << f.der_f(xf) << ", limit "
          << fmt_ld(dref);
    }
  }
}

TEST(FunctorEdges, KinkConventions) {
  const ActParams p;
  const cuact::Relu relu(p);
  EXPECT_EQ(relu.derivative(0.0f), 0.0f);
  EXPECT_EQ(relu.derivative(0.0), 0.0);
  EXPECT_EQ(relu.derivative(-0.0), 0.0);
  EXPECT_EQ(relu.derivative_from_output(0.0), 0.0);
  EXPECT_EQ(relu.derivative_from_output(0.0f), 0.0f);

  const cuact::LeakyRelu leaky(p);
  EXPECT_EQ(leaky.derivative(0.0), p.leaky_alpha);
  EXPECT_EQ(leaky.derivative(0.0f), static_cast<float>(p.leaky_alpha));
  EXPECT_EQ(leaky.derivative_from_output(0.0), p.leaky_alpha);

  const cuact::Relu6 relu6(p);
  for (double k : {0.0, 6.0}) {
    EXPECT_EQ(relu6.derivative(k), 0.0) << k;
    EXPECT_EQ(relu6.derivative(static_cast<float>(k)), 0.0f) << k;
    EXPECT_EQ(relu6.derivative_from_output(k), 0.0) << k;
  }

  const cuact::HardSwish hs(p);
  EXPECT_EQ(hs.derivative(-3.0), 0.0);
  EXPECT_EQ(hs.derivative(-3.0f), 0.0f);
  EXPECT_EQ(hs.derivative(3.0), 1.0);
  EXPECT_EQ(hs.derivative(3.0f), 1.0f);

  const cuact::HardSigmoid hsig(p);
  for (double k : {-2.5, 2.5}) {
    EXPECT_EQ(hsig.derivative(k), 0.0) << k;
    EXPECT_EQ(hsig.derivative(static_cast<float>(k)), 0.0f) << k;
  }
  const cuact::HardSigmoidRelu6 hsr6(p);
  for (double k : {-3.0, 3.0}) {
    EXPECT_EQ(hsr6.derivative(k), 0.0) << k;
    EXPECT_EQ(hsr6.derivative(static_cast<float>(k)), 0.0f) << k;
  }
  // The reference follows the same conventions.
  EXPECT_EQ(cuact_ref::derivative(Op::kRelu, 0.0L, p), 0.0L);
  EXPECT_EQ(cuact_ref::derivative(Op::kLeakyRelu, 0.0L, p), static_cast<LD>(p.leaky_alpha));
  EXPECT_EQ(cuact_ref::derivative(Op::kRelu6, 6.0L, p), 0.0L);
  EXPECT_EQ(cuact_ref::derivative(Op::kHardSwish, -3.0L, p), 0.0L);
  EXPECT_EQ(cuact_ref::derivative(Op::kHardSwish, 3.0L, p), 1.0L);
  EXPECT_EQ(cuact_ref::derivative(Op::kHardSigmoid, 2.5L, p), 0.0L);
  EXPECT_EQ(cuact_ref::derivative(Op::kHardSigmoidRelu6, -3.0L, p), 0.0L);
}

TEST(FunctorEdges, KerasReluThresholdSemantics) {
  ActParams p;
  p.relu_alpha = 0.1;
  p.relu_max_value = 6;
  p.relu_threshold = 0.5;
  const cuact::Relu r(p);
  // x == threshold gives 0.
  EXPECT_EQ(r.forward(0.5), 0.0);
  EXPECT_EQ(r.forward(0.5f), 0.0f);
  EXPECT_EQ(r.derivative(0.5), 0.0);
  // Below the threshold: alpha * (x - threshold).
  const LD ref = cuact_ref::forward(Op::kRelu, 0.2L, p);
  EXPECT_NEAR(static_cast<double>(ref), 0.1 * (0.2 - 0.5), 1e-15);
  EXPECT_NEAR(r.forward(0.2), 0.1 * (0.2 - 0.5), 1e-15);
  EXPECT_NEAR(r.forward(0.2f), 0.1f * (0.2f - 0.5f), 1e-7f);
  EXPECT_EQ(r.forward(7.0), 6.0);
  EXPECT_EQ(r.forward(3.0), 3.0);
  // Threshold alone (no alpha, no max): x == t -> 0, just above -> x.
  ActParams q;
  q.relu_threshold = 0.5;
  const cuact::Relu rt(q);
  EXPECT_EQ(rt.forward(0.5), 0.0);
  EXPECT_EQ(rt.forward(std::nextafter(0.5, 1.0)), std::nextafter(0.5, 1.0));
  EXPECT_EQ(rt.forward(0.25), 0.0);
  // t < 0 with max_value: t < x < 0 gives 0 (Keras 2 quirk).
  ActParams s;
  s.relu_alpha = 0.2;
  s.relu_max_value = 1;
  s.relu_threshold = -1;
  const cuact::Relu rs(s);
  EXPECT_EQ(rs.forward(-0.5), 0.0);
  EXPECT_EQ(rs.forward(0.5), 0.5);
  EXPECT_EQ(rs.forward(2.0), 1.0);
  EXPECT_NEAR(rs.forward(-2.0), -0.2, 1e-16);
}

// The float64 exponential and log(1 + e) pieces behind float64 softplus and log_sigmoid
// (cuact/detail/numeric.cuh), against long double: e^-a as a pair to 2^-58 relative over
// [0, 708] (plus 2^-1075 absolute where its low part is subnormal) (every reduction boundary n ln 2
// / 64 and its neighbours, and a dense sweep), and log(1 + e) within 0.6 ulp over [0, 1] (every row
// edge and its neighbours, tiny and subnormal e, and a dense sweep).
TEST(Float64Forms, ExpNegAndLog1pRows) {
  std::vector<double> as;
  for (int n = 0; n <= 32700; n += 7)
    for (double a0 : {n * (std::log(2.0) / 64), (n + 0.5) * (std::log(2.0) / 32)})
      for (double a : {std::nextafter(a0, 0.0), a0, std::nextafter(a0, 1e9)})
        if (a >= 0.0 && a <= 708.0) {
          as.push_back(a);
          as.push_back(-a);  // e^x for x up to 708 (mish)
        }
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> wide(0.0, 708.0), narrow(0.0, 0.1);
  for (int i = 0; i < 200000; ++i)
    as.push_back(i % 2 ? wide(rng) : narrow(rng));
  for (int i = 0; i < 100000; ++i)
    as.push_back(i % 2 ? -wide(rng) : -narrow(rng));
  as.insert(as.end(), {0.0, 4.9e-324, 1e-300, 1e-17, 708.0, -1e-17, -708.0});
  LD worst_exp = 0;
  for (double a : as) {
    const cuact::detail::DoubleDouble e = cuact::detail::exp_neg_dd(a);
    const LD exact = std::exp(-static_cast<LD>(a));
    // (Past a = 700 the low part is subnormal: half its spacing, 2^-1075, adds to the bound.)
    const LD err = std::fabs((static_cast<LD>(e.hi) + e.lo) - exact);
    worst_exp = std::max(worst_exp, err / exact);
    ASSERT_LE(err, std::ldexp(exact, -58) + std::ldexp(1.0L, -1075)) << "exp_neg_dd(" << a << ")";
    ASSERT_LE(std::fabs(e.lo), 0.5 * (std::nextafter(e.hi, HUGE_VAL) - e.hi))
        << "exp_neg_dd(" << a << ") not normalised";
  }
  std::vector<double> es = {0.0, 4.9e-324, 1e-310, 1e-300, 1e-17, 1.0};
  // The rows' ends: 2^-5, then eight rows per binade up to 1.
  std::vector<double> edges = {1.0};
  for (int b = CUACT_LOG1P_FIRST_BINADE; b < 0; ++b)
    for (int j = 0; j < 8; ++j)
      edges.push_back(std::ldexp(1.0 + j / 8.0, b));
  static_assert(
      CUACT_LOG1P_ROW_COUNT == 1 + 8 * -CUACT_LOG1P_FIRST_BINADE && CUACT_LOG1P_SPLIT_BITS == 3,
      "the edges above follow the generator's rows");
  for (double edge : edges)
    for (int k = -3; k <= 3; ++k) {
      double e = edge;
      for (int i = 0; i < std::abs(k); ++i)
        e = std::nextafter(e, k < 0 ? 0.0 : 2.0);
      if (e <= 1.0) es.push_back(e);
    }
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int i = 0; i < 200000; ++i)
    es.push_back(i % 3 ? unit(rng) : std::ldexp(unit(rng), -static_cast<int>(i % 60)));
  LD worst_log = 0;
  for (double e : es) {
    const cuact::detail::DoubleDouble l = cuact::detail::log1p_unit_rows({e, 0.0});
    const LD exact = std::log1p(static_cast<LD>(e));
    const double rounded = static_cast<double>(exact);
    if (exact == 0) {
      ASSERT_EQ(l.hi + l.lo, 0.0);
      continue;
    }
    const LD ulp = std::ldexp(1.0L, std::ilogb(rounded) - 52);
    const LD err = std::fabs((static_cast<LD>(l.hi) + l.lo) - exact) /
                   std::max(ulp, std::numeric_limits<LD>::denorm_min() + std::ldexp(1.0L, -1074));
    worst_log = std::max(worst_log, err);
    ASSERT_LE(err, 0.6L) << "log1p_unit_rows(" << e << ")";
  }
  std::printf("[float64] exp_neg_dd max relative error 2^%.2f, log1p_unit_rows max %.3f ulp\n",
              static_cast<double>(std::log2(worst_exp)), static_cast<double>(worst_log));
}

// Exact GELU's float64 rows: e^(-s^2/2) g(s) = Q(s) and e^(-s^2/2) h(s) = Q(s) - s phi(s)
// against the reference's normal cdf and pdf (long double, arguments as pairs), on both sides of
// every row boundary and across [0, 12.5], through x of either sign (the rows take |x|).
TEST(Float64Forms, NormalTailRows) {
  std::vector<double> ss = {0.0, 4.9e-324, 1e-300, 1e-17, 12.5};
  std::vector<double> edges;
  // The rows' ends: round(8 s) below 3, round(4 s) from 3 to 12.5, and 3 itself.
  for (int k = 0; k < 24; ++k)
    edges.push_back(k / 8.0 + 1.0 / 16);
  for (int k = 12; k <= 50; ++k)
    edges.push_back(k / 4.0 + 1.0 / 8);
  edges.push_back(3.0);
  static_assert(CUACT_GELU_ROW_COUNT == 24 + 39, "the edges above follow the generator's rows");
  for (double edge : edges)
    for (int k = -3; k <= 3; ++k) {
      double s = edge;
      for (int i = 0; i < std::abs(k); ++i)
        s = std::nextafter(s, k < 0 ? 0.0 : 20.0);
      if (s <= 12.5) ss.push_back(s);
    }
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> range(0.0, 12.5), near_zero(0.0, 1.0);
  for (int i = 0; i < 200000; ++i)
    ss.push_back(i % 4 ? range(rng) : near_zero(rng));
  LD worst_g = 0, worst_h = 0;
  for (double s : ss) {
    const LD q = cuact_ref::impl::normal_cdf(-static_cast<LD>(s));
    const LD s_phi = s * cuact_ref::impl::normal_pdf(s);
    for (double x : {s, -s}) {
      const cuact::detail::DoubleDouble g = cuact::detail::normal_tail_rows(x, false);
      const cuact::detail::DoubleDouble h = cuact::detail::normal_tail_rows(x, true);
      const LD err_g = std::fabs((static_cast<LD>(g.hi) + g.lo) - q) / q;
      const LD err_h = std::fabs((static_cast<LD>(h.hi) + h.lo) - (q - s_phi)) / (q + s_phi);
      worst_g = std::max(worst_g, err_g);
      worst_h = std::max(worst_h, err_h);
      ASSERT_LE(err_g, std::ldexp(1.0L, -56)) << "normal_tail_rows(" << x << ", false)";
      ASSERT_LE(err_h, std::ldexp(1.0L, -56)) << "normal_tail_rows(" << x << ", true)";
    }
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(std::isnan(cuact::detail::normal_tail_rows(nan, false).hi));
  EXPECT_TRUE(std::isnan(cuact::detail::normal_tail_rows(nan, true).hi));
  std::printf("[float64] normal_tail_rows max relative error: Q 2^%.2f, Q - s phi 2^%.2f\n",
              static_cast<double>(std::log2(worst_g)), static_cast<double>(std::log2(worst_h)));
}

TEST(ReferenceSelfCheck, RootsAndConstants) {
  // The derivative roots are interior zeros with a sign change.
  const ActParams p;
  for (Op op : kRootOps) {
    const LD r = derivative_root(op);
    EXPECT_LT(cuact_ref::derivative(op, r - 1e-6L, p) * cuact_ref::derivative(op, r + 1e-6L, p),
              0.0L)
        << op_label(op);
    std::printf("[reference] %s' root = %.21Lg\n", op_label(op), r);
  }
  EXPECT_EQ(0.044715L, cuact_ref::impl::kCubicHi);
  EXPECT_EQ(0.70710678118654752440084436210484903928L, cuact_ref::impl::kInvSqrt2Hi);
  // Spot values (well-known to 18+ digits).
  EXPECT_NEAR(static_cast<double>(cuact_ref::forward(Op::kGelu, 1.0L, p)),
              0.8413447460685429486 * 1.0, 1e-17);
  EXPECT_NEAR(static_cast<double>(cuact_ref::forward(Op::kSigmoid, 0.0L, p)), 0.5, 0.0);
  // 16-bit rounding helper sanity: exact values round to themselves; ties go to even.
  const Fmt16& h = fmt16(DT::kF16);
  EXPECT_EQ(h.round(1.0L), 0x3c00);
  EXPECT_EQ(h.round(1.0L + std::ldexp(1.0L, -11)), 0x3c00);  // tie -> even
  EXPECT_EQ(h.round(1.0L + 3 * std::ldexp(1.0L, -11)), 0x3c02);
  EXPECT_EQ(h.round(65520.0L), 0x7c00);  // tie at max + ulp/2 -> inf
  EXPECT_EQ(h.round(65519.99L), 0x7bff);
  EXPECT_EQ(h.round(std::ldexp(1.0L, -25)), 0x0000);  // tie -> even (0)
  EXPECT_EQ(h.round(std::ldexp(1.0L, -25) * 1.0000001L), 0x0001);
  for (uint32_t b = 0; b < 65536; ++b) {
    for (DT d : {DT::kF16, DT::kBF16}) {
      const Fmt16& f = fmt16(d);
      const uint16_t bits = static_cast<uint16_t>(b);
      if (f.is_nan(bits)) continue;
      const float v = f.to_float(bits);
      ASSERT_EQ(Fmt16::ordinal(f.round(static_cast<LD>(v))), Fmt16::ordinal(bits)) << b;
      ASSERT_EQ(Fmt16::ordinal(f.from_float(v)), Fmt16::ordinal(bits)) << b;
    }
  }
}

}  // namespace

// The float-grade float32 forms (forward_f32, backward_f32: exp_f32 and the logistic pieces in
// cuact/detail/numeric.cuh) over float bit patterns with a stride, every exponent and sign
// reached: within 2 ulp of the reference. CUACT_F32_STRIDE=1 sweeps all 2^32 (minutes; run it
// when the float32 forms change).
// The float32 forms (forward_f32, backward_f32 with dy = 1) of every op that has them, with
// default parameters and a few others for the parametrised ones, over every stride-th float
// pattern (CUACT_F32_STRIDE, default 509; 1 checks all 2^32) and the special values.
TEST(Float32Forms, StridedSweepWithin2Ulp) {
  const char* env = std::getenv("CUACT_F32_STRIDE");
  const uint64_t stride = env && *env ? std::strtoull(env, nullptr, 10) : 509;
  ASSERT_GE(stride, 1u);
  // The stride's patterns, then the special ones it may step over: +-0, +-inf, NaN, the
  // largest finite and the smallest subnormal.
  std::vector<uint32_t> patterns = {0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u,
                                    0x7f7fffffu, 0xff7fffffu, 0x00000001u, 0x80000001u};
  for (uint64_t b = 0; b < (uint64_t{1} << 32); b += stride)
    patterns.push_back(static_cast<uint32_t>(b));
  struct Case {
    Op op;
    ActParams params;
    const char* label;
  };
  std::vector<Case> cases;
#define CUACT_TEST_DEFAULT_CASE(e, F, name) cases.push_back({Op::e, ActParams{}, ""});
  CUACT_FOR_EACH_OP(CUACT_TEST_DEFAULT_CASE)
#undef CUACT_TEST_DEFAULT_CASE
  ActParams p;
  p.elu_alpha = 0.37;
  cases.push_back({Op::kElu, p, " alpha 0.37"});
  for (const auto& [alpha, label] :
       {std::pair<double, const char*>{0.01, " alpha 0.01"}, {-0.7, " alpha -0.7"}}) {
    p = ActParams{};
    p.leaky_alpha = alpha;
    cases.push_back({Op::kLeakyRelu, p, label});
  }
  p = ActParams{};
  p.hard_sigmoid_slope = 1.0 / 6.0;
  cases.push_back({Op::kHardSigmoid, p, " slope 1/6"});
  p.hard_sigmoid_slope = 0.3;
  p.hard_sigmoid_offset = 0.7;
  cases.push_back({Op::kHardSigmoid, p, " 0.3x + 0.7"});
  const std::pair<double, const char*> celu_alphas[] = {
      {0.37, " alpha 0.37"}, {3.3, " alpha 3.3"}, {-0.8, " alpha -0.8"}, {1e-30, " alpha 1e-30"}};
  for (const auto& [alpha, label] : celu_alphas) {
    p = ActParams{};
    p.celu_alpha = alpha;
    cases.push_back({Op::kCelu, p, label});
  }
  int forms = 0;
  for (const Case& c : cases) {
    const Fns f = functor_for(c.op, c.params);
    if (!f.has_f32_forward && !f.has_f32_backward && !f.has_f32_backward_y) continue;
    ++forms;
    // The largest error of each sweep, and where (input and dy).
    struct Worst {
      long double err = 0;
      float at = 0, dy = 1;
      void note(long double e, float x, float with_dy = 1) {
        if (e > err) {
          err = e;
          at = x;
          dy = with_dy;
        }
      }
    } worst, worst_backward, worst_scaled, worst_y;
    // dy other than 1: tiny (subnormal products), negative, huge (no overflow on the way).
    constexpr float kDys[] = {0x1.3p-140f, -1.37f, 0x1.9p+120f};
    // Every float within 2^-9 of the zero of f' where the float32 backward cancels hardest
    // (the piecewise polynomials' root rows, cuact/detail/numeric.cuh).
    std::vector<uint32_t> local = patterns;
    const auto add_window = [&local](float center, float half_width) {
      for (float x = center - half_width; x < center + half_width; x = std::nextafter(x, 1.0f)) {
        uint32_t b;
        std::memcpy(&b, &x, sizeof b);
        local.push_back(b);
      }
    };
    if (c.op == Op::kHardSigmoid) {  // the lower corner, where the float32 form defers to double
      add_window(static_cast<float>(-c.params.hard_sigmoid_offset / c.params.hard_sigmoid_slope),
                 0x1p-12f);
    }
    if (f.has_f32_backward) {
      // GELU's table runs in w = a^2 / 2 + 2 a (a = -x here), GELU-tanh's in v = 2u(x) =
      // 2k (x + c x^3): their roots map back to x (for v, by Newton's method).
      const double gelu_w0 = cuact::detail::gelu_e_table().root[0];
      const double v0 = cuact::detail::gelu_tanh_d_table().root[0];
      constexpr double k2 = 1.5957691216057308, c3 = 0.044715;  // 2 sqrt(2/pi), the cubic's c
      double x0 = v0 / k2;
      for (int i = 0; i < 8; ++i)
        x0 -= (k2 * (x0 + c3 * x0 * x0 * x0) - v0) / (k2 * (1.0 + 3.0 * c3 * x0 * x0));
      const float root = c.op == Op::kGelu
                             ? static_cast<float>(2.0 - std::sqrt(4.0 + 2.0 * gelu_w0))
                         : c.op == Op::kSilu     ? cuact::detail::silu_d_table().root[0]
                         : c.op == Op::kMish     ? cuact::detail::mish_d_table().root[0]
                         : c.op == Op::kGeluTanh ? static_cast<float>(x0)
                                                 : 0.0f;
      if (root != 0.0f) add_window(root, 0x1p-9f);
    }
    for (size_t i = 0; i < local.size(); ++i) {
      const uint32_t u = local[i];
      float x;
      std::memcpy(&x, &u, sizeof x);
      if (f.has_f32_forward) {
        const float got = f.elem32[static_cast<int>(Member::kForward)](x);
        const LD ref = cuact_ref::forward(c.op, x, c.params);
        worst.note(ulp_error<float>(ref, got, ref), x);
      }
      if (f.has_f32_backward) {
        const float got = f.elem32[static_cast<int>(Member::kDerivative)](x);
        const LD ref = cuact_ref::derivative(c.op, x, c.params);
        worst_backward.note(ulp_error<float>(ref, got, ref), x);
        const float dy = kDys[i % 3];
        if (i % 5 == 0 && ref == ref) {
          const LD scaled = static_cast<LD>(dy) * ref;
          worst_scaled.note(ulp_error<float>(scaled, f.backward32(dy, x), scaled), x, dy);
        }
      }
      if (f.has_f32_backward_y) {  // x is a y here; dy = 1 and, every fifth, the others
        const LD ref = cuact_ref::derivative_from_output(c.op, x, c.params);
        const float dy = i % 5 == 0 ? kDys[i % 3] : 1.0f;
        const LD scaled = static_cast<LD>(dy) * ref;
        worst_y.note(ulp_error<float>(scaled, f.backward32_y(dy, x), scaled), x, dy);
      }
    }
    const std::string what = std::string(op_label(c.op)) + c.label + " float32";
    EXPECT_LE(worst.err, 2.0L) << what << ": worst at x = " << worst.at;
    EXPECT_LE(worst_backward.err, 2.0L) << what << " backward: worst at x = " << worst_backward.at;
    EXPECT_LE(worst_scaled.err, 2.0L)
        << what << " backward: worst at x = " << worst_scaled.at << ", dy = " << worst_scaled.dy;
    EXPECT_LE(worst_y.err, 2.0L) << what << " backward(y): worst at y = " << worst_y.at
                                 << ", dy = " << worst_y.dy;
    if (f.has_f32_forward) {
      std::printf("  %-12s%-12s float32 forward: max %.3Lf ulp over %zu inputs (stride %llu)\n",
                  op_label(c.op), c.label, worst.err, local.size(),
                  static_cast<unsigned long long>(stride));
    }
    if (f.has_f32_backward) {
      std::printf("  %-12s%-12s float32 backward(x): max %.3Lf ulp (dy = 1), %.3Lf (other dy)\n",
                  op_label(c.op), c.label, worst_backward.err, worst_scaled.err);
    }
    if (f.has_f32_backward_y) {
      std::printf("  %-12s%-12s float32 backward(y): max %.3Lf ulp\n", op_label(c.op), c.label,
                  worst_y.err);
    }
  }
  EXPECT_GE(forms, 24) << "ops with float32 forms went missing";
}
