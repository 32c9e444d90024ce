// SPDX-License-Identifier: Apache-2.0
//! The softmax accuracy contract, shared by the CPU math test and the GPU test:
//!  - softmax: float32 relative error <= 1e-6 where the probability is above 1e-30 (absolute
//!    1e-36 below), float64 <= 1e-13, float16/bfloat16 within 1 ulp of the correctly rounded value;
//!  - log_softmax: within 2 ulp plus 1e-6 absolute (float32), 2 ulp plus 1e-13 (float64), 1 ulp
//!    (16-bit);
//!  - backward: within 2 ulp (1 for 16-bit) of the scale at which dx cancels, |y| (|dy| + |sum|)
//!    or |dy| + e^y |sum|, plus the rigorous error of the row sum itself: |y| (or e^y) times
//!    k u sum|terms|, for a reduction of depth k in an accumulator of unit roundoff u;
//!  - NaN must meet NaN, infinities must match.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>

#include "tests/common/ulp.hpp"

namespace cuact_test {

template <class T>
struct SoftmaxChecker {
  int64_t checked = 0;
  int64_t failures = 0;
  long double worst = 0;  // in units of the bound
  std::ostringstream first;

  void report(int64_t i, long double got, long double ref, long double ratio) {
    ++failures;
    if (failures <= 10) {
      char line[200];
      std::snprintf(line, sizeof line, "  [%lld] got %.9Lg expected %.9Lg (%.3Lg x bound)\n",
                    static_cast<long long>(i), got, ref, ratio);
      first << line;
    }
  }

  //! True when the exact value rounds to a non-finite T or got is non-finite: then NaN must meet
  //! NaN and infinities must match (an overflowing exact value rounds to inf), and the element
  //! is done.
  bool settled_as_nonfinite(int64_t i, long double got, long double ref) {
    const long double representable = to_ld(round_to<T>(ref));
    if (std::isfinite(representable) && std::isfinite(got)) return false;
    const bool match = (std::isnan(representable) || std::isnan(got))
                           ? (std::isnan(representable) && std::isnan(got))
                           : got == representable;
    if (!match) report(i, got, ref, INFINITY);
    return true;
  }

  //! One forward output element.
  void forward(int64_t i, T got_t, long double ref, bool log) {
    ++checked;
    const long double got = to_ld(got_t);
    if (settled_as_nonfinite(i, got, ref)) return;
    long double ratio;
    if constexpr (kIs16Bit<T>) {
      ratio = ulp_error(got_t, ref) / 1.0L;
    } else if (!log) {
      const long double rel = std::is_same_v<T, float> ? 1e-6L : 1e-13L;
      const long double floor = std::is_same_v<T, float> ? 1e-36L : 1e-300L;
      ratio = std::fabs(ref) > 1e-30L ? std::fabs(got - ref) / (rel * std::fabs(ref))
                                      : std::fabs(got - ref) / floor;
    } else {
      const long double abs_tol = std::is_same_v<T, float> ? 1e-6L : 1e-13L;
      ratio = std::fabs(got - ref) / (2 * ulp_of<T>(ref) + abs_tol);
    }
    if (ratio > worst) worst = ratio;
    if (ratio > 1) report(i, got, ref, ratio);
  }

  //! One backward output element; scale from cuact_ref::softmax_backward_scale, sum_error the
  //! bound on the row sum's rounding error times |y| (softmax) or e^y (log_softmax).
  void backward(int64_t i, T got_t, long double ref, long double scale, long double sum_error) {
    ++checked;
    const long double got = to_ld(got_t);
    if (settled_as_nonfinite(i, got, ref)) return;
    const long double bound =
        (kIs16Bit<T> ? 1 : 2) * ulp_of<T>(std::fmax(std::fabs(ref), scale)) + sum_error;
    const long double ratio = std::fabs(got - ref) / bound;
    if (ratio > worst) worst = ratio;
    if (ratio > 1) report(i, got, ref, ratio);
  }
};

}  // namespace cuact_test
