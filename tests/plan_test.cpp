// SPDX-License-Identifier: Apache-2.0
//! Launch planning on the CPU: for every element size, size and misalignment of output and
//! inputs, the plan covers each element once, stores only aligned vectors, never reads outside
//! any tensor, and leaves only a handful of scalar edge elements.
#include <gtest/gtest.h>

#include <cstdint>

#include "cuda/vector_plan.hpp"

namespace {

using cuact::detail::balanced_grid;
using cuact::detail::elementwise_grid;
using cuact::detail::make_vector_plan;
using cuact::detail::VectorPlan;

void check_plan(int64_t n, int es, std::uintptr_t out, const std::uintptr_t* in, int num_in) {
  const VectorPlan plan = make_vector_plan(n, es, out, in, num_in);
  const int64_t v = 16 / es;
  SCOPED_TRACE(::testing::Message()
               << "n=" << n << " es=" << es << " out%16=" << out % 16 << " in0%16=" << in[0] % 16
               << " in1%16=" << (num_in > 1 ? in[1] % 16 : 0));
  ASSERT_EQ(plan.n, n);
  ASSERT_GE(plan.head, 0);
  ASSERT_LE(plan.head, n);
  ASSERT_GE(plan.num_vectors, 0);
  ASSERT_EQ(plan.tail_begin, plan.head + plan.num_vectors * v);
  ASSERT_LE(plan.tail_begin, n);
  // Edges are scalar work for the first threads of block 0: a few vectors' worth at most.
  ASSERT_LE(plan.edge_count(), 4 * v);
  ASSERT_LE(plan.edge_count(), 256);
  if (plan.num_vectors == 0) return;
  ASSERT_EQ((out + plan.head * es) % 16, 0u) << "output stores must be 16-byte aligned";
  for (int i = 0; i < num_in; ++i) {
    const int64_t k = plan.shift[i];
    ASSERT_GE(k, 0);
    ASSERT_LT(k, v);
    // First chunk read for vector 0 and last chunk read for the last vector, in elements of in[i].
    const int64_t first = plan.head - k;
    const int64_t last_end = plan.head + (plan.num_vectors - 1) * v - k + (k == 0 ? v : 2 * v);
    ASSERT_GE(first, 0) << "input " << i << " read before its start";
    ASSERT_LE(last_end, n) << "input " << i << " read past its end";
    ASSERT_EQ((in[i] + first * es) % 16, 0u) << "input " << i << " chunk not 16-byte aligned";
    // The realigned chunk pair holds exactly the elements lined up with the output vector.
    ASSERT_EQ(first + k, plan.head);
  }
}

TEST(VectorPlan, CoversEverySizeAndMisalignment) {
  const std::uintptr_t base = 1 << 20;
  for (int es : {2, 4, 8}) {
    const int v = 16 / es;
    for (int64_t n : {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 65, 100, 4097, (1 << 20) + 3}) {
      for (int o = 0; o < v; ++o) {
        for (int a = 0; a < v; ++a) {
          const std::uintptr_t out = base + o * es;
          const std::uintptr_t one[1] = {base + 4096 + a * es};
          check_plan(n, es, out, one, 1);
          for (int b = 0; b < v; ++b) {
            const std::uintptr_t two[2] = {base + 4096 + a * es, base + 8192 + b * es};
            check_plan(n, es, out, two, 2);
          }
        }
      }
    }
  }
}

TEST(VectorPlan, AlignedTensorsAreAllVectors) {
  const std::uintptr_t in[2] = {4096, 8192};
  const VectorPlan plan = make_vector_plan(1 << 20, 2, 0, in, 2);
  EXPECT_EQ(plan.head, 0);
  EXPECT_EQ(plan.tail_begin, 1 << 20);
  EXPECT_EQ(plan.num_vectors, (1 << 20) / 8);
  EXPECT_EQ(plan.shift[0], 0);
  EXPECT_EQ(plan.shift[1], 0);
}

TEST(VectorPlan, SameMisalignmentNeedsNoRealignment) {
  // x and y both one float past a 16-byte boundary: peel 3, then aligned vectors for both.
  const std::uintptr_t in[1] = {4096 + 4};
  const VectorPlan plan = make_vector_plan(1000, 4, 8192 + 4, in, 1);
  EXPECT_EQ(plan.head, 3);
  EXPECT_EQ(plan.shift[0], 0);
  EXPECT_EQ(plan.num_vectors, (1000 - 3) / 4);
}

TEST(VectorPlan, DifferentMisalignmentRealignsInsteadOfGoingScalar) {
  // bf16 x offset by one element, y aligned: body is still ~all vectors, with shift 1.
  const std::uintptr_t in[1] = {4096 + 2};
  const VectorPlan plan = make_vector_plan(1 << 20, 2, 8192, in, 1);
  EXPECT_EQ(plan.shift[0], 1);
  EXPECT_GE(plan.num_vectors, (1 << 20) / 8 - 2);
}

TEST(Grid, OnePassWhenItFitsBalancedPassesOtherwise) {
  EXPECT_EQ(balanced_grid(0, 100), 1);
  EXPECT_EQ(balanced_grid(1, 100), 1);
  EXPECT_EQ(balanced_grid(100, 100), 100);
  EXPECT_EQ(balanced_grid(101, 100), 51);  // two equal passes, not 100 + 1
  EXPECT_EQ(balanced_grid(1000, 100), 100);
  EXPECT_EQ(balanced_grid(1001, 100), 91);  // 11 equal passes of 91
  VectorPlan plan;
  plan.n = int64_t{1} << 28;
  plan.num_vectors = plan.n / 8;  // bf16, 2^28 elements: 32768 tiles of 1024 vectors
  EXPECT_EQ(elementwise_grid(plan, 1024, 132), 32768) << "2^28 bf16 runs in one pass on an H100";
  plan.num_vectors = 0;
  EXPECT_EQ(elementwise_grid(plan, 1024, 132), 1) << "a launch always has a block for the edges";
}

}  // namespace
