// SPDX-License-Identifier: Apache-2.0
//! The softmax test harness, shared by the GPU test and the CPU emulation of the kernels: inputs
//! with special rows, row indexing over (outer, dim, inner), the reduction depth behind the
//! backward bound, and the checks of a forward or backward output against the long-double
//! reference (tests/reference/softmax_reference.hpp, tests/common/softmax_check.hpp).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "cuact/softmax.hpp"
#include "cuda/softmax_plan.hpp"
#include "tests/common/softmax_check.hpp"
#include "tests/reference/softmax_reference.hpp"

namespace cuact_test {

using cuact::DType;
using cuact::SoftmaxKind;
using cuact::SoftmaxShape;

template <class T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>) {
    return DType::kFloat32;
  } else if constexpr (std::is_same_v<T, __half>) {
    return DType::kFloat16;
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return DType::kBFloat16;
  } else {
    return DType::kFloat64;
  }
}

template <class T>
T largest() {
  if constexpr (std::is_same_v<T, __half>) {
    return round_to<T>(65504.0L);
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return round_to<T>(3.3895313892515355e38L);
  } else {
    return std::numeric_limits<T>::max();
  }
}

//! The middle-axis shapes the GPU tests run, and the harness checks itself on.
inline std::vector<SoftmaxShape> softmax_middle_axis_shapes() {
  // Column tiles (scalar and 16-byte, one or many thread rows, several tiles across, a last tile
  // narrower than the others); few tiles (1 x 3000 x 8) and tiles too tall for one block
  // (1 x 40000 x 3, 2 x 6000 x 64, 2 x 20000 x 3) staged over clusters where the GPU launches
  // them, else read twice; too tall for any cluster (1 x 300000 x 3 float32), read twice over a
  // cluster; and a thread per column (tiny tiles).
  return {{3, 17, 2},    {2, 33, 3},    {5, 100, 7},   {2, 50, 1024}, {1, 1, 1024}, {4, 1000, 3},
          {2, 5, 1},     {16, 4, 1000}, {3, 16, 2048}, {2, 1500, 64}, {2, 7, 1032}, {1, 40000, 3},
          {2, 6000, 64}, {2, 20000, 3}, {1, 3000, 8},  {1, 300000, 3}};
}

//! Inputs: uniform in [-8, 8), with special rows in front when there are at least 3 rows of the
//! reduced axis: row 0 all -inf, row 1 a NaN, row 2 -inf entries and the dtype's largest values.
template <class T>
std::vector<T> make_input(const SoftmaxShape& s, uint64_t seed) {
  const int64_t n = s.outer * s.dim * s.inner;
  std::vector<T> x(n);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-8.0, 8.0);
  for (auto& v : x)
    v = round_to<T>(u(rng));
  auto at = [&](int64_t row, int64_t d) -> T& {
    return x[(row / s.inner) * s.dim * s.inner + d * s.inner + row % s.inner];
  };
  const int64_t rows = s.outer * s.inner;
  if (rows >= 3) {
    for (int64_t d = 0; d < s.dim; ++d)
      at(0, d) = round_to<T>(-INFINITY);
    at(1, s.dim / 2) = round_to<T>(NAN);
    for (int64_t d = 0; d < s.dim; d += 3)
      at(2, d) = round_to<T>(-INFINITY);
    at(2, s.dim - 1) = largest<T>();
  }
  if (rows >= 4) {  // rising: every element a new maximum for the online (max, sum) tiers
    for (int64_t d = 0; d < s.dim; ++d)
      at(3, d) = round_to<T>(std::ldexp(static_cast<double>(d), -12) - 8.0);
  }
  return x;
}

//! Rows of the reduced axis as long double vectors, in order (row = outer * inner + inner index).
template <class T>
std::vector<long double> row_of(const std::vector<T>& v, const SoftmaxShape& s, int64_t row) {
  std::vector<long double> r(s.dim);
  for (int64_t d = 0; d < s.dim; ++d) {
    r[d] = to_ld(v[(row / s.inner) * s.dim * s.inner + d * s.inner + row % s.inner]);
  }
  return r;
}

template <class T>
int64_t flat(const SoftmaxShape& s, int64_t row, int64_t d) {
  return (row / s.inner) * s.dim * s.inner + d * s.inner + row % s.inner;
}

//! Depth of cub::BlockReduce's default (warp reductions) over `threads`: shuffles inside each
//! warp, then thread 0 adds the warps' totals one by one.
inline long double block_reduce_depth(long double threads) {
  if (threads <= 32) return std::ceil(std::log2(threads));
  return 5 + threads / 32 - 1;
}

//! Reduction depth the backward kernel uses for a row (for the sum's error bound), the larger of
//! the plans for aligned rows and for rows misaligned alike (each register-tier lane then adds
//! its edge elements, register_row_edge); a 16-byte split holds at least as many values per lane
//! as a scalar one. Planned without shared memory, a middle axis takes the thread-per-column
//! bound (dim + 1), which covers a column tile's (dim / rows sequential terms, shuffles, slots)
//! too.
template <class T>
long double reduction_depth(const SoftmaxShape& s) {
  constexpr int kWide = static_cast<int>(16 / sizeof(T));
  long double depth = 0;
  for (int aligned : {0, 1}) {
    const auto p = cuact::detail::plan_softmax(s.outer, s.dim, s.inner, 132, 0, sizeof(T), true,
                                               aligned ? kWide : 1, 0, false, kWide);
    long double d = 0;
    if (p.tier == cuact::detail::SoftmaxTier::kWarpRow) {
      const int edges =
          p.row_edges ? 2 * cuact::detail::register_row_edges_per_side(p.lanes, p.vec) : 0;
      d = p.per_lane + edges + std::ceil(std::log2(static_cast<long double>(p.lanes))) + 1;
    } else if (p.tier == cuact::detail::SoftmaxTier::kBlockRegs) {
      const int edges =
          p.row_edges ? 2 * cuact::detail::register_row_edges_per_side(p.block, p.vec) : 0;
      d = p.per_lane + edges + block_reduce_depth(p.block) + 1;
    } else {
      const long double lanes = p.tier == cuact::detail::SoftmaxTier::kColumn ? 1 : p.block;
      d = std::ceil(s.dim / lanes) + block_reduce_depth(lanes) + 1;
    }
    depth = std::max(depth, d);
  }
  return depth;
}

//! Checks y = softmax(x) (or log_softmax) for every row of the reduced axis.
template <class T>
void verify_forward(const SoftmaxShape& s, SoftmaxKind kind, bool safe, const std::vector<T>& x,
                    const std::vector<T>& y) {
  cuact_test::SoftmaxChecker<T> c;
  const bool log = kind == SoftmaxKind::kLogSoftmax;
  for (int64_t row = 0; row < s.outer * s.inner; ++row) {
    const auto ref = cuact_ref::softmax_row(row_of(x, s, row), log, safe);
    long double sum = 0;
    for (int64_t d = 0; d < s.dim; ++d) {
      const T got = y[flat<T>(s, row, d)];
      c.forward(flat<T>(s, row, d), got, ref[d], log);
      sum += to_ld(got);
    }
    if (std::is_same_v<T, float> && !log && std::isfinite(ref[0]) && row >= 3) {
      EXPECT_NEAR(static_cast<double>(sum), 1.0, 1e-6) << "row " << row << " sum";
    }
  }
  EXPECT_EQ(c.failures, 0) << c.failures << " of " << c.checked << " beyond the bound\n"
                           << c.first.str();
}

//! What a forward case is, for SCOPED_TRACE: "softmax (outer, dim, inner) in place ...".
inline std::string describe_forward(const SoftmaxShape& s, SoftmaxKind kind, bool in_place,
                                    bool safe, int64_t shift) {
  std::ostringstream o;
  o << (kind == SoftmaxKind::kSoftmax ? "softmax" : "log_softmax") << " (" << s.outer << ", "
    << s.dim << ", " << s.inner << ")" << (in_place ? " in place" : "") << (safe ? " safe" : "")
    << (shift ? " misaligned" : "");
  return o.str();
}

//! What a backward case is; in_place: 0 dx separate, 1 dx == dy, 2 dx == y.
inline std::string describe_backward(const SoftmaxShape& s, SoftmaxKind kind, int in_place,
                                     int64_t shift) {
  std::ostringstream o;
  o << (kind == SoftmaxKind::kSoftmax ? "softmax" : "log_softmax") << " backward (" << s.outer
    << ", " << s.dim << ", " << s.inner << ")"
    << (in_place == 1   ? " dx == dy"
        : in_place == 2 ? " dx == y"
                        : "")
    << (shift ? " misaligned" : "");
  return o.str();
}

//! Backward inputs: y real (rounded) softmax or log_softmax outputs of rows uniform in [-8, 8),
//! dy uniform in [-1, 1).
template <class T>
std::pair<std::vector<T>, std::vector<T>> make_backward_input(const SoftmaxShape& s,
                                                              SoftmaxKind kind) {
  const int64_t n = s.outer * s.dim * s.inner;
  const bool log = kind == SoftmaxKind::kLogSoftmax;
  std::mt19937_64 rng(n);
  std::uniform_real_distribution<double> u(-8.0, 8.0), g(-1.0, 1.0);
  std::vector<T> y(n), dy(n);
  for (auto& v : dy)
    v = round_to<T>(g(rng));
  for (int64_t row = 0; row < s.outer * s.inner; ++row) {
    std::vector<long double> xr(s.dim);
    for (auto& v : xr)
      v = u(rng);
    const auto yr = cuact_ref::softmax_row(xr, log, false);
    for (int64_t d = 0; d < s.dim; ++d)
      y[flat<T>(s, row, d)] = round_to<T>(yr[d]);
  }
  return {std::move(y), std::move(dy)};
}

//! Checks dx = softmax_backward(y, dy) (or log_softmax's) for every row of the reduced axis.
template <class T>
void verify_backward(const SoftmaxShape& s, SoftmaxKind kind, const std::vector<T>& y,
                     const std::vector<T>& dy, const std::vector<T>& dx) {
  const bool log = kind == SoftmaxKind::kLogSoftmax;
  const long double u_acc = sizeof(T) == 2 ? 0x1p-24L : 0x1p-53L;
  const long double depth = reduction_depth<T>(s);
  SoftmaxChecker<T> c;
  for (int64_t row = 0; row < s.outer * s.inner; ++row) {
    const auto yr = row_of(y, s, row), dyr = row_of(dy, s, row);
    const auto ref = cuact_ref::softmax_backward_row(yr, dyr, log);
    const auto scale = cuact_ref::softmax_backward_scale(yr, dyr, log);
    const long double abs_sum = cuact_ref::softmax_backward_abs_sum(yr, dyr, log);
    for (int64_t d = 0; d < s.dim; ++d) {
      const long double w = log ? std::exp(yr[d]) : std::fabs(yr[d]);
      c.backward(flat<T>(s, row, d), dx[flat<T>(s, row, d)], ref[d], scale[d],
                 w * depth * u_acc * abs_sum);
    }
  }
  EXPECT_EQ(c.failures, 0) << c.failures << " of " << c.checked << " beyond the bound\n"
                           << c.first.str();
}

}  // namespace cuact_test
