// SPDX-License-Identifier: Apache-2.0
//! Test-side numerics: correct rounding from long double to every storage type, and error in
//! ulps of the storage type. Shared by the host functor tests and the GPU tests.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace cuact_test {

template <class T>
inline constexpr bool kIs16Bit = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

inline uint16_t bits16(__half v) {
  uint16_t b;
  std::memcpy(&b, &v, 2);
  return b;
}
inline uint16_t bits16(__nv_bfloat16 v) {
  uint16_t b;
  std::memcpy(&b, &v, 2);
  return b;
}
template <class T>
inline T from_bits16(uint16_t b) {
  T v;
  std::memcpy(&v, &b, 2);
  return v;
}

inline long double to_ld(float v) {
  return v;
}
inline long double to_ld(double v) {
  return v;
}
inline long double to_ld(__half v) {
  return __half2float(v);
}
inline long double to_ld(__nv_bfloat16 v) {
  return __bfloat162float(v);
}

//! Monotone integer image of a 16-bit float's bit pattern (+0 and -0 map to the same value).
inline int32_t ordinal16(uint16_t b) {
  const int32_t mag = b & 0x7fff;
  return (b & 0x8000) ? -mag : mag;
}

inline bool is_nan16(uint16_t b, bool bf16) {
  return bf16 ? ((b & 0x7f80) == 0x7f80 && (b & 0x7f)) : ((b & 0x7c00) == 0x7c00 && (b & 0x3ff));
}

//! v correctly rounded (to nearest, ties to even) to T, straight from long double.
template <class T>
inline T round_to(long double v) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    return static_cast<T>(v);  // the x87 conversion rounds correctly
  } else {
    if (std::isnan(v)) return from_bits16<T>(std::is_same_v<T, __half> ? 0x7e00 : 0x7fc0);
    // Float rounding first is exact enough to land on or next to the answer; pick the nearest of
    // the candidate and its two neighbours in long double so a double-rounding tie cannot win.
    T c;
    if constexpr (std::is_same_v<T, __half>) {
      c = __float2half_rn(static_cast<float>(v));
    } else {
      c = __float2bfloat16_rn(static_cast<float>(v));
    }
    const uint16_t b = bits16(c);
    if ((b & 0x7fff) >= (std::is_same_v<T, __half> ? 0x7c00 : 0x7f80)) return c;  // inf
    T best = c;
    long double best_err = std::fabs(v - to_ld(c));
    for (int d : {-1, 1}) {
      const int32_t o = ordinal16(b) + d;
      const uint16_t nb = o < 0 ? static_cast<uint16_t>(0x8000 | -o) : static_cast<uint16_t>(o);
      const T n = from_bits16<T>(nb);
      if (std::isinf(to_ld(n))) continue;
      const long double err = std::fabs(v - to_ld(n));
      if (err < best_err || (err == best_err && (nb & 1) == 0 && (bits16(best) & 1) != 0)) {
        best = n;
        best_err = err;
      }
    }
    return best;
  }
}

//! Spacing of T at magnitude |v| (the subnormal spacing below the normal range).
template <class T>
inline long double ulp_of(long double v) {
  constexpr int kMant = std::is_same_v<T, float>    ? 24
                        : std::is_same_v<T, double> ? 53
                        : std::is_same_v<T, __half> ? 11
                                                    : 8;
  constexpr int kMinExp = std::is_same_v<T, float>    ? -126
                          : std::is_same_v<T, double> ? -1022
                          : std::is_same_v<T, __half> ? -14
                                                      : -126;
  const long double a = std::fabs(v);
  int e = 0;
  if (a > 0) {
    std::frexp(a, &e);
    e -= 1;  // a in [2^e, 2^(e+1))
  }
  if (e < kMinExp || a == 0) e = kMinExp;
  return std::ldexp(1.0L, e - (kMant - 1));
}

//! Error of `got` against the exact value `ref`, in ulps of T. 16-bit: integer distance to the
//! correctly rounded value (0 = correctly rounded). float/double: |got - ref| / ulp(ref).
//! NaN must meet NaN and infinities must match exactly (else +inf is returned).
template <class T>
inline long double ulp_error(T got, long double ref) {
  const long double g = to_ld(got);
  const long double inf = std::numeric_limits<long double>::infinity();
  if (std::isnan(ref) || std::isnan(g)) return (std::isnan(ref) && std::isnan(g)) ? 0 : inf;
  const T rounded = round_to<T>(ref);
  if constexpr (kIs16Bit<T>) {
    if (std::isinf(to_ld(rounded)) || std::isinf(g)) return to_ld(rounded) == g ? 0 : inf;
    return std::abs(ordinal16(bits16(got)) - ordinal16(bits16(rounded)));
  } else {
    if (std::isinf(to_ld(rounded)) || std::isinf(g)) return to_ld(rounded) == g ? 0 : inf;
    return std::fabs(g - ref) / ulp_of<T>(ref);
  }
}

}  // namespace cuact_test
