// SPDX-License-Identifier: Apache-2.0
//! The softmax kernels' per-element and per-row math (cuda/softmax_kernels.cuh) on the CPU,
//! with the lane-parallel reductions emulated (32 lanes for warp rows, 256 for block rows, 1
//! for columns) and a tree combine, against the long-double reference and the accuracy contract.
//! Covers -inf entries, all -inf rows (NaN, or 0 / -inf when safe), NaN, +inf, the dtype's
//! largest values and huge spreads, for every dtype, both kinds and both directions.
//! Built by the host compiler on the CPU emulation's built-ins (no kernel runs here), so that
//! nvcc's device passes over every kernel template are not paid for host-only math.
#include "tests/emulation/gpu_emulator.hpp"  // first: the built-ins and __shared__

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "cuda/softmax_kernels.cuh"
#include "tests/common/softmax_check.hpp"
#include "tests/common/softmax_harness.hpp"
#include "tests/reference/softmax_reference.hpp"

namespace {

using cuact::SoftmaxKind;
using namespace cuact::detail;
using cuact_test::round_to;
using cuact_test::to_ld;

template <class T, SoftmaxKind kKind>
std::vector<T> emulate_forward(const std::vector<T>& x, int lanes, bool safe) {
  using A = softmax_acc_t<T>;
  std::vector<MaxSum<A>> part(lanes, empty_max_sum<A>());
  for (size_t j = 0; j < x.size(); ++j) {
    accumulate<T>(part[j % lanes], static_cast<A>(cuact::to_compute(x[j])));
  }
  for (int stride = 1; stride < lanes; stride *= 2) {
    for (int l = 0; l + stride < lanes; l += 2 * stride) {
      part[l] = CombineMaxSum<T>{}(part[l], part[l + stride]);
    }
  }
  const RegisterScale<T> r(finish<kKind>(part[0], safe));
  std::vector<T> y(x.size());
  for (size_t j = 0; j < x.size(); ++j)
    y[j] = recomputed_output<T, kKind>(x[j], r);
  return y;
}

//! The register tiers' two passes over a row (forward_warp_rows, forward_block_register_rows):
//! lanes lanes (threads), lane l holding elements l, l + lanes, ... (the element-to-lane map does
//! not change the math).
template <class T, SoftmaxKind kKind>
std::vector<T> emulate_forward_registers(const std::vector<T>& x, int lanes, bool safe) {
  using A = softmax_acc_t<T>;
  using V = softmax_val_t<T>;
  std::vector<V> part_max(lanes, -static_cast<V>(HUGE_VAL));
  for (size_t j = 0; j < x.size(); ++j)
    part_max[j % lanes] = nan_max(part_max[j % lanes], softmax_value(x[j]));
  V max = part_max[0];
  for (int l = 1; l < lanes; ++l)
    max = nan_max(max, part_max[l]);
  std::vector<LaneSum<T>> part(lanes);
  std::vector<V> term(x.size());
  for (size_t j = 0; j < x.size(); ++j)
    term[j] = add_to_lane_sum<T>(part[j % lanes], softmax_value(x[j]), max);
  std::vector<A> below(lanes);
  std::vector<int> at_max(lanes);
  for (int l = 0; l < lanes; ++l) {
    below[l] = part[l].total();
    at_max[l] = part[l].at_max;
  }
  for (int stride = 1; stride < lanes; stride *= 2) {
    for (int l = 0; l + stride < lanes; l += 2 * stride) {
      below[l] += below[l + stride];
      at_max[l] += at_max[l + stride];
    }
  }
  const RegisterScale<T> r(finish<kKind>(max_sum_from(A(max), below[0], at_max[0]), safe));
  std::vector<T> y(x.size());
  for (size_t j = 0; j < x.size(); ++j) {
    // float64 softmax recomputes the term in the output pass (forward_warp_rows): the same value
    y[j] = register_output<T, kKind>(softmax_value(x[j]), term[j], r);
  }
  return y;
}

//! The split-row tiers over `parts` slices of the row (row_slice; each slice's block math is the
//! register tiers', so its order inside a slice does not matter): kClusterRow takes the exact row
//! max from the slices' maxima and adds the slices' sums below it in rank order; kGridRow turns
//! each slice into its own (max, excess) pair and combines the pairs by a tree, as
//! cub::BlockReduce does over the parts.
template <class T, SoftmaxKind kKind>
std::vector<T> emulate_forward_split(const std::vector<T>& x, int parts, bool grid, bool safe) {
  using A = softmax_acc_t<T>;
  using V = softmax_val_t<T>;
  const auto n = static_cast<int64_t>(x.size());
  std::vector<V> part_max(parts, -static_cast<V>(HUGE_VAL));
  for (int k = 0; k < parts; ++k) {
    const RowSlice sl = row_slice(n, parts, k);
    for (int j = sl.first; j < sl.first + sl.count; ++j)
      part_max[k] = nan_max(part_max[k], softmax_value(x[j]));
  }
  V row_max = -static_cast<V>(HUGE_VAL);
  for (int k = 0; k < parts; ++k)
    row_max = nan_max(row_max, part_max[k]);
  std::vector<MaxSum<A>> pairs(parts);
  BelowCount<A> total{A(0), 0};
  for (int k = 0; k < parts; ++k) {
    const RowSlice sl = row_slice(n, parts, k);
    const V max = grid ? part_max[k] : row_max;
    LaneSum<T> sum;
    for (int j = sl.first; j < sl.first + sl.count; ++j)
      add_to_lane_sum<T>(sum, softmax_value(x[j]), max);
    pairs[k] = max_sum_from(A(max), sum.total(), sum.at_max);
    total = SumBelowCount<A>{}(total, BelowCount<A>{sum.total(), sum.at_max});
  }
  for (int stride = 1; stride < parts; stride *= 2) {
    for (int k = 0; k + stride < parts; k += 2 * stride)
      pairs[k] = CombineMaxSum<T>{}(pairs[k], pairs[k + stride]);
  }
  const MaxSum<A> row = grid ? pairs[0] : max_sum_from(A(row_max), total.below, total.at_max);
  const RegisterScale<T> r(finish<kKind>(row, safe));
  std::vector<T> y(x.size());
  for (size_t j = 0; j < x.size(); ++j) {
    const V xv = softmax_value(x[j]);
    y[j] = register_output<T, kKind>(xv, softmax_exp_shifted<T>(xv, r.max), r);
  }
  return y;
}

//! registers: the register tiers' passes (warp rows, block registers), else the online ones.
template <class T, SoftmaxKind kKind>
std::vector<T> emulate_tier(const std::vector<T>& x, int lanes, bool safe, bool registers) {
  return registers ? emulate_forward_registers<T, kKind>(x, lanes, safe)
                   : emulate_forward<T, kKind>(x, lanes, safe);
}

template <class T, SoftmaxKind kKind>
std::vector<T> emulate_backward(const std::vector<T>& y, const std::vector<T>& dy, int lanes) {
  using A = softmax_acc_t<T>;
  std::vector<A> part(lanes, A(0));
  for (size_t j = 0; j < y.size(); ++j)
    part[j % lanes] += backward_term<T, kKind>(y[j], dy[j]);
  for (int stride = 1; stride < lanes; stride *= 2) {
    for (int l = 0; l + stride < lanes; l += 2 * stride)
      part[l] += part[l + stride];
  }
  std::vector<T> dx(y.size());
  for (size_t j = 0; j < y.size(); ++j)
    dx[j] = backward_output<T, kKind>(y[j], dy[j], part[0]);
  return dx;
}

template <class T>
long double largest() {
  if constexpr (std::is_same_v<T, __half>) {
    return 65504.0L;
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return 3.3895313892515355e38L;
  } else {
    return std::numeric_limits<T>::max();
  }
}

//! Rows that exercise every documented case.
template <class T>
std::vector<std::pair<std::string, std::vector<long double>>> test_rows() {
  const long double inf = INFINITY, nan = NAN;
  std::vector<std::pair<std::string, std::vector<long double>>> rows;
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(-8.0, 8.0);
  for (int n : {1, 2, 7, 31, 32, 33, 63, 64, 65, 1000, 1023, 1024, 1025, 4097, 16385}) {
    std::vector<long double> r(n);
    for (auto& v : r)
      v = u(rng);
    rows.push_back({"uniform " + std::to_string(n), r});
  }
  rows.push_back({"some -inf", {1.0L, -inf, 2.0L, -inf, 0.5L}});
  rows.push_back({"all -inf", {-inf, -inf, -inf}});
  rows.push_back({"single -inf", {-inf}});
  rows.push_back({"NaN", {1.0L, nan, 2.0L}});
  rows.push_back({"+inf", {1.0L, inf, 2.0L}});
  rows.push_back({"largest", {largest<T>(), -largest<T>(), largest<T>(), 0.0L}});
  rows.push_back({"huge spread", {0.0L, -1e4L, -3e4L, 5.0L}});
  // Probabilities down to e^-66 (above the 1e-30 floor): x - max must not be rounded before exp.
  rows.push_back({"wide spread", {2.5L, -60.3L, -45.7L, -30.1L, -63.55L, 1.75L, -0.3L}});
  rows.push_back({"ties at the max", {4.0L, 4.0L, -1.0L, 4.0L, 3.0L}});
  // A rising row: every element a new maximum, so the online tiers rescale their running sum at
  // each one (those rescales must not add up their roundings).
  std::vector<long double> rising(20000);
  for (size_t k = 0; k < rising.size(); ++k)
    rising[k] = std::ldexp(static_cast<long double>(k), -12);
  rows.push_back({"rising", rising});
  std::vector<long double> wide(5000, -20.0L);
  wide[1234] = 10.0L;  // one dominant entry: the rest are ~e^-30 relative
  rows.push_back({"one dominant", wide});
  return rows;
}

//! A test row rounded to T, and those values exactly in long double (the reference's input).
template <class T>
std::pair<std::vector<T>, std::vector<long double>> rounded_row(
    const std::vector<long double>& values) {
  std::vector<T> x(values.size());
  std::vector<long double> xl(values.size());
  for (size_t j = 0; j < values.size(); ++j) {
    x[j] = round_to<T>(values[j]);
    xl[j] = to_ld(x[j]);
  }
  return {x, xl};
}

template <class T>
class SoftmaxMath : public ::testing::Test {};
using Types = ::testing::Types<float, __half, __nv_bfloat16, double>;
TYPED_TEST_SUITE(SoftmaxMath, Types);

TYPED_TEST(SoftmaxMath, ForwardMatchesReferenceForEveryLaneCount) {
  using T = TypeParam;
  for (const auto& [name, values] : test_rows<T>()) {
    const auto [x, xl] = rounded_row<T>(values);
    for (bool safe : {false, true}) {
      for (auto [lanes, registers] : {std::pair{1, true},
                                      {4, true},
                                      {32, true},
                                      {512, true},
                                      {1, false},
                                      {32, false},
                                      {256, false}}) {
        SCOPED_TRACE(name + (safe ? " safe" : "") + " lanes " + std::to_string(lanes) +
                     (registers ? " (warp tier)" : " (online)"));
        const auto ref = cuact_ref::softmax_row(xl, false, safe);
        const auto ref_log = cuact_ref::softmax_row(xl, true, safe);
        const auto y = emulate_tier<T, SoftmaxKind::kSoftmax>(x, lanes, safe, registers);
        const auto ly = emulate_tier<T, SoftmaxKind::kLogSoftmax>(x, lanes, safe, registers);
        cuact_test::SoftmaxChecker<T> c, cl;
        long double sum = 0;
        for (size_t j = 0; j < x.size(); ++j) {
          c.forward(j, y[j], ref[j], false);
          cl.forward(j, ly[j], ref_log[j], true);
          sum += to_ld(y[j]);
        }
        EXPECT_EQ(c.failures, 0) << "softmax\n" << c.first.str();
        EXPECT_EQ(cl.failures, 0) << "log_softmax\n" << cl.first.str();
        if (std::is_same_v<T, float> && std::isfinite(ref[0]) && ref[0] > 0) {
          EXPECT_NEAR(static_cast<double>(sum), 1.0, 1e-6) << "row sum";
        }
      }
    }
  }
}

TYPED_TEST(SoftmaxMath, SplitRowTiersMatchReference) {
  using T = TypeParam;
  for (const auto& [name, values] : test_rows<T>()) {
    const auto [x, xl] = rounded_row<T>(values);
    for (bool safe : {false, true}) {
      const auto ref = cuact_ref::softmax_row(xl, false, safe);
      const auto ref_log = cuact_ref::softmax_row(xl, true, safe);
      for (bool grid : {false, true}) {
        for (int parts : {2, 3, 8, 132}) {
          SCOPED_TRACE(name + (safe ? " safe" : "") + (grid ? " grid" : " cluster") + " parts " +
                       std::to_string(parts));
          const auto y = emulate_forward_split<T, SoftmaxKind::kSoftmax>(x, parts, grid, safe);
          const auto ly = emulate_forward_split<T, SoftmaxKind::kLogSoftmax>(x, parts, grid, safe);
          cuact_test::SoftmaxChecker<T> c, cl;
          for (size_t j = 0; j < x.size(); ++j) {
            c.forward(j, y[j], ref[j], false);
            cl.forward(j, ly[j], ref_log[j], true);
          }
          EXPECT_EQ(c.failures, 0) << "softmax\n" << c.first.str();
          EXPECT_EQ(cl.failures, 0) << "log_softmax\n" << cl.first.str();
        }
      }
    }
  }
}

TYPED_TEST(SoftmaxMath, BackwardMatchesReference) {
  using T = TypeParam;
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> u(-8.0, 8.0), g(-1.0, 1.0);
  for (int n : {1, 7, 33, 1000, 4097}) {
    std::vector<T> x(n), dy(n);
    std::vector<long double> xl(n), dyl(n);
    for (int j = 0; j < n; ++j) {
      x[j] = round_to<T>(u(rng));
      xl[j] = to_ld(x[j]);
      dy[j] = round_to<T>(g(rng));
      dyl[j] = to_ld(dy[j]);
    }
    for (bool log : {false, true}) {
      SCOPED_TRACE((log ? "log_softmax n=" : "softmax n=") + std::to_string(n));
      // The saved y is the correctly rounded forward output, as a real backward pass sees it.
      const auto yref = cuact_ref::softmax_row(xl, log, false);
      std::vector<T> y(n);
      std::vector<long double> yl(n);
      for (int j = 0; j < n; ++j) {
        y[j] = round_to<T>(yref[j]);
        yl[j] = to_ld(y[j]);
      }
      const auto ref = cuact_ref::softmax_backward_row(yl, dyl, log);
      const auto scale = cuact_ref::softmax_backward_scale(yl, dyl, log);
      const long double abs_sum = cuact_ref::softmax_backward_abs_sum(yl, dyl, log);
      const long double u = sizeof(T) == 2 ? 0x1p-24L : 0x1p-53L;  // accumulator's unit roundoff
      for (int lanes : {1, 32, 256}) {
        const long double depth = (n + lanes - 1) / lanes + std::ceil(std::log2(lanes)) + 1;
        const auto dx = log ? emulate_backward<T, SoftmaxKind::kLogSoftmax>(y, dy, lanes)
                            : emulate_backward<T, SoftmaxKind::kSoftmax>(y, dy, lanes);
        cuact_test::SoftmaxChecker<T> c;
        for (int j = 0; j < n; ++j) {
          const long double weight = log ? std::exp(yl[j]) : std::fabs(yl[j]);
          c.backward(j, dx[j], ref[j], scale[j], weight * depth * u * abs_sum);
        }
        EXPECT_EQ(c.failures, 0) << "lanes " << lanes << "\n" << c.first.str();
      }
    }
  }
}

// The GPU tests' harness (tests/common/softmax_harness.hpp: inputs, row indexing over (outer, dim,
// inner), verification) checked on outputs made here by the kernels' own per-row math, one lane
// as in the column tier: a harness bug shows up in CI, not on a GPU.
template <class T, SoftmaxKind kKind>
std::vector<T> harness_forward(const cuact::SoftmaxShape& s, const std::vector<T>& x, bool safe) {
  using cuact_test::flat;
  std::vector<T> y(x.size()), row_x(s.dim);
  for (int64_t row = 0; row < s.outer * s.inner; ++row) {
    for (int64_t d = 0; d < s.dim; ++d)
      row_x[d] = x[flat<T>(s, row, d)];
    const std::vector<T> row_y = emulate_forward<T, kKind>(row_x, 1, safe);
    for (int64_t d = 0; d < s.dim; ++d)
      y[flat<T>(s, row, d)] = row_y[d];
  }
  return y;
}

TYPED_TEST(SoftmaxMath, GpuHarnessAcceptsTheKernelsRowMath) {
  using T = TypeParam;
  for (const cuact::SoftmaxShape& s : cuact_test::softmax_middle_axis_shapes()) {
    for (bool safe : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "(" << s.outer << ", " << s.dim << ", " << s.inner << ")"
                                        << (safe ? " safe" : ""));
      const std::vector<T> x = cuact_test::make_input<T>(s, 3);
      cuact_test::verify_forward(s, SoftmaxKind::kSoftmax, safe, x,
                                 harness_forward<T, SoftmaxKind::kSoftmax>(s, x, safe));
      cuact_test::verify_forward(s, SoftmaxKind::kLogSoftmax, safe, x,
                                 harness_forward<T, SoftmaxKind::kLogSoftmax>(s, x, safe));
    }
  }
}

TEST(SoftmaxMathSemantics, DimOneGivesOneAndZero) {
  const std::vector<float> x = {3.5f};
  for (bool registers : {false, true}) {
    EXPECT_EQ((emulate_tier<float, SoftmaxKind::kSoftmax>(x, 32, false, registers)[0]), 1.0f);
    EXPECT_EQ((emulate_tier<float, SoftmaxKind::kLogSoftmax>(x, 32, false, registers)[0]), 0.0f);
  }
}

}  // namespace
