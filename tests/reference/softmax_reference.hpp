// SPDX-License-Identifier: Apache-2.0
//! @file tests/reference/softmax_reference.hpp
//! Independent long-double reference for softmax and log_softmax over one row, forward and
//! backward, with the library's documented semantics (README "Softmax"). Shares no code with
//! the kernels.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace cuact_ref {

//! y[j] for one row x[0..n). log: log_softmax. safe: an all -inf row gives 0 / -inf.
inline std::vector<long double> softmax_row(const std::vector<long double>& x, bool log,
                                            bool safe) {
  const long double nan = std::numeric_limits<long double>::quiet_NaN();
  const long double inf = std::numeric_limits<long double>::infinity();
  const size_t n = x.size();
  std::vector<long double> y(n);
  long double m = -inf;
  for (long double v : x) {
    if (std::isnan(v) || v == inf) return std::vector<long double>(n, nan);
    if (v > m) m = v;
  }
  if (m == -inf) return std::vector<long double>(n, safe ? (log ? -inf : 0.0L) : nan);
  long double s = 0;
  for (long double v : x)
    s += std::exp(v - m);
  for (size_t j = 0; j < n; ++j)
    y[j] = log ? (x[j] - m) - std::log(s) : std::exp(x[j] - m) / s;
  return y;
}

//! dx for one row from the saved output y and upstream dy.
inline std::vector<long double> softmax_backward_row(const std::vector<long double>& y,
                                                     const std::vector<long double>& dy, bool log) {
  const size_t n = y.size();
  long double total = 0;
  for (size_t j = 0; j < n; ++j)
    total += log ? dy[j] : y[j] * dy[j];
  std::vector<long double> dx(n);
  for (size_t j = 0; j < n; ++j)
    dx[j] = log ? dy[j] - std::exp(y[j]) * total : y[j] * (dy[j] - total);
  return dx;
}

//! The magnitude at which dx cancels: |y| (|dy| + |total|), or |dy| + e^y |total|.
inline std::vector<long double> softmax_backward_scale(const std::vector<long double>& y,
                                                       const std::vector<long double>& dy,
                                                       bool log) {
  const size_t n = y.size();
  long double total = 0;
  for (size_t j = 0; j < n; ++j)
    total += log ? dy[j] : y[j] * dy[j];
  std::vector<long double> s(n);
  for (size_t j = 0; j < n; ++j) {
    s[j] = log ? std::fabs(dy[j]) + std::exp(y[j]) * std::fabs(total)
               : std::fabs(y[j]) * (std::fabs(dy[j]) + std::fabs(total));
  }
  return s;
}

//! Sum of the magnitudes of the reduced terms: sum |y dy| (softmax) or sum |dy| (log_softmax).
//! A sum computed with depth-k rounding has an error of at most k u times this (u: unit roundoff).
inline long double softmax_backward_abs_sum(const std::vector<long double>& y,
                                            const std::vector<long double>& dy, bool log) {
  long double a = 0;
  for (size_t j = 0; j < y.size(); ++j)
    a += log ? std::fabs(dy[j]) : std::fabs(y[j] * dy[j]);
  return a;
}

}  // namespace cuact_ref
