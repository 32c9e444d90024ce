// SPDX-License-Identifier: Apache-2.0
//! Every plan plan_softmax can return for the register tiers has an instantiated kernel in
//! host/softmax_launch.cuh: the launchers' split macros run here with a CALL that reports the
//! split it would launch instead of launching it, for every row length of each tier, element
//! size, direction and load width. (A CALL of two statements under the macros' unbraced ifs once
//! returned before launching anything, which only a GPU would have shown.)
//! The column-tile kernels' thread map (column_tile_thread, ColumnTile) is replayed here for
//! every thread of every tile: each element is reached exactly once, each staged chunk lies in
//! the tile, and combine_columns' shuffles, slots and slot combine bring every thread's partial
//! to every thread of its column exactly once.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "host/softmax_launch.cuh"

namespace {

using cuact::detail::plan_softmax;
using cuact::detail::softmax_max_per_lane;
using cuact::detail::SoftmaxPlan;
using cuact::detail::SoftmaxTier;
using Split = std::pair<int, int>;  // (lanes or threads, values per lane)
constexpr Split kNone{0, 0};

#define CUACT_REPORT(a, b) return Split(a, b)

template <int kVec, int kMax>
Split warp_split_for(const SoftmaxPlan& p) {
  CUACT_WARP_SPLITS(kVec, kMax, CUACT_REPORT);
  return kNone;
}

template <int kVec, int kMax>
Split block_split_for(const SoftmaxPlan& p) {
  CUACT_BLOCK_REGS_SPLITS(kVec, kMax, CUACT_REPORT);
  return kNone;
}

#undef CUACT_REPORT

template <int kElem, bool kBackward>
void check_every_register_plan() {
  constexpr int kWide = 16 / kElem;
  constexpr int kMax = softmax_max_per_lane(kElem, kBackward);
  int64_t checked = 0;
  for (int vec : {1, kWide}) {
    for (int64_t dim = 1; dim <= 512 * kMax + 64; ++dim) {
      const SoftmaxPlan p = plan_softmax(7, dim, 1, 132, 0, kElem, kBackward, vec);
      if (p.tier != SoftmaxTier::kWarpRow && p.tier != SoftmaxTier::kBlockRegs) continue;
      const bool wide = p.vec == kWide && kWide > 1;
      Split got, want;
      if (p.tier == SoftmaxTier::kWarpRow) {
        got = wide ? warp_split_for<kWide, kMax>(p) : warp_split_for<1, kMax>(p);
        want = {p.lanes, p.per_lane};
      } else {
        got = wide ? block_split_for<kWide, kMax>(p) : block_split_for<1, kMax>(p);
        want = {p.block, p.per_lane};
      }
      ASSERT_EQ(got, want) << "elem " << kElem << (kBackward ? " backward" : " forward") << " dim "
                           << dim << " vec " << p.vec << ": the plan has no matching kernel";
      ++checked;
    }
  }
  EXPECT_GT(checked, 512 * kMax);  // both tiers, both load widths were reached
}

TEST(SoftmaxDispatch, EveryRegisterTierPlanHasAKernel) {
  check_every_register_plan<2, false>();
  check_every_register_plan<2, true>();
  check_every_register_plan<4, false>();
  check_every_register_plan<4, true>();
  check_every_register_plan<8, false>();
  check_every_register_plan<8, true>();
}

using cuact::detail::column_tile_for;
using cuact::detail::column_tile_thread;
using cuact::detail::ColumnTile;
using cuact::detail::ColumnTileThread;
using cuact::detail::kColumnTileThreads;

//! Replays one kernel pass over a middle-axis tensor: every thread of every tile walks its chunks
//! as forward_column_tiles / backward_column_tiles (and the rereading tiles) do, counting visits
//! per element, and its per-column partial (the chunks it visited) goes through combine_columns'
//! steps: the xor butterfly over masks groups .. 16 inside each warp, the writer lanes to their
//! slots, the slots combined per column, and the combined value read back.
void replay_column_tiles(int64_t outer, int64_t dim, int64_t inner, int vec, int elem_size) {
  SCOPED_TRACE(::testing::Message() << "(" << outer << ", " << dim << ", " << inner << ") vec "
                                    << vec << " elem " << elem_size);
  const ColumnTile tile = column_tile_for(dim, inner, vec, elem_size);
  ASSERT_GE(tile.groups, 1);
  ASSERT_EQ(kColumnTileThreads % tile.groups, 0);
  ASSERT_EQ(tile.groups & (tile.groups - 1), 0);
  const int64_t tile_elems = tile.tile_bytes(dim, elem_size) / elem_size;
  std::vector<int> visits(outer * dim * inner, 0);
  const int64_t tiles = outer * tile.tiles_across(inner);
  for (int64_t id = 0; id < tiles; ++id) {
    std::vector<int64_t> count(kColumnTileThreads * vec, 0);  // per thread, per column
    std::vector<int> staged(tile_elems, 0);
    std::vector<ColumnTileThread> at(kColumnTileThreads);
    for (int t = 0; t < kColumnTileThreads; ++t) {
      at[t] = column_tile_thread(tile, id, dim, inner, t);
      if (!at[t].live) continue;
      const int g = t % tile.groups;
      for (int64_t d = at[t].first_dim; d < dim; d += tile.rows()) {
        const int64_t q = (d * tile.groups + g) * vec;
        ASSERT_LE(q + vec, tile_elems) << "tile " << id << " thread " << t << " d " << d;
        for (int i = 0; i < vec; ++i) {
          ++staged[q + i];
          const int64_t e = at[t].offset + d * inner + i;
          ASSERT_GE(e, 0);
          ASSERT_LT(e, outer * dim * inner);
          ASSERT_EQ((e / inner) % dim, d) << "tile " << id << " thread " << t;
          ++visits[e];
          ++count[t * vec + i];
        }
      }
    }
    for (int v : staged)
      ASSERT_LE(v, 1) << "tile " << id << ": two threads stage one chunk";
    // combine_columns
    std::vector<int64_t> combined = count;
    if (tile.slots() > 1) {
      for (int m = tile.groups; m < 32; m *= 2) {
        const std::vector<int64_t> before = combined;
        for (int t = 0; t < kColumnTileThreads; ++t) {
          const int partner = (t / 32) * 32 + ((t % 32) ^ m);
          for (int i = 0; i < vec; ++i)
            combined[t * vec + i] = before[t * vec + i] + before[partner * vec + i];
        }
      }
      std::vector<int64_t> partials(tile.slots() * tile.cols(), -1);
      for (int t = 0; t < kColumnTileThreads; ++t) {
        if (!tile.writes_slot(t)) continue;
        for (int i = 0; i < vec; ++i) {
          int64_t& slot = partials[tile.slot_of(t) * tile.cols() + (t % tile.groups) * vec + i];
          ASSERT_EQ(slot, -1) << "tile " << id << ": two writers of one slot (thread " << t << ")";
          slot = combined[t * vec + i];
        }
      }
      for (int c = 0; c < tile.cols(); ++c) {
        for (int k = 1; k < tile.slots(); ++k)
          partials[c] += partials[k * tile.cols() + c];
      }
      for (int t = 0; t < kColumnTileThreads; ++t) {
        for (int i = 0; i < vec; ++i)
          combined[t * vec + i] = partials[(t % tile.groups) * vec + i];
      }
    }
    for (int t = 0; t < kColumnTileThreads; ++t) {
      if (!at[t].live) continue;
      for (int i = 0; i < vec; ++i)
        ASSERT_EQ(combined[t * vec + i], dim)
            << "tile " << id << " thread " << t << " column " << i << ": partial sums lost";
    }
  }
  const auto bad = std::find_if(visits.begin(), visits.end(), [](int v) { return v != 1; });
  ASSERT_TRUE(bad == visits.end())
      << "element " << (bad - visits.begin()) << " reached " << *bad << " times";
}

TEST(SoftmaxColumnTile, EveryElementOnceEveryPartialCombined) {
  for (int elem : {2, 4, 8}) {
    for (int vec : {1, 16 / elem}) {
      for (int64_t dim : {1, 2, 3, 7, 8, 9, 16, 17, 100, 1000, 1025}) {
        for (int64_t inner : {2, 3, 7, 8, 16, 24, 64, 100, 1024, 1032}) {
          if (inner % vec != 0) continue;
          replay_column_tiles(2, dim, inner, vec, elem);
          if (HasFatalFailure()) return;
        }
      }
      // Axes too long to stage (kColumnTileReread walks the same map, reading twice).
      for (int64_t dim : {4097, 20000}) {
        for (int64_t inner : {2, 3, 7, 64}) {
          if (inner % vec != 0) continue;
          replay_column_tiles(2, dim, inner, vec, elem);
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

// The launcher's load widths: 16-byte loads when every row of every tensor is aligned, and the
// congruent width (kSmemRow, kClusterRow and kGridRow split misaligned rows) when the tensors
// sit the same distance past a 16-byte boundary.
TEST(SoftmaxDispatch, LoadWidthsFromPointersAndShape) {
  using cuact::detail::softmax_congruent_width;
  using cuact::detail::softmax_vector_width;
  alignas(16) static unsigned char buffer[256];
  const void* a = buffer;
  const void* b = buffer + 64;
  const void* a2 = buffer + 2;
  const void* b2 = buffer + 66;
  const void* b4 = buffer + 68;
  const cuact::SoftmaxShape rows{3, 1000, 1}, odd_rows{3, 1001, 1}, middle{3, 7, 8};
  EXPECT_EQ(softmax_vector_width<float>(rows, {a, b}), 4);
  EXPECT_EQ(softmax_vector_width<float>(odd_rows, {a, b}), 1);
  EXPECT_EQ(softmax_vector_width<float>(rows, {a, b4}), 1);
  EXPECT_EQ(softmax_vector_width<__half>(middle, {a, b}), 8);  // inner 8 halves: 16 bytes
  EXPECT_EQ(softmax_vector_width<float>(middle, {a, b}), 4);
  EXPECT_EQ(softmax_vector_width<double>(cuact::SoftmaxShape{3, 7, 3}, {a, b}), 1);
  EXPECT_EQ(softmax_congruent_width<__half>({a2, b2}), 8);
  EXPECT_EQ(softmax_congruent_width<__half>({a2, b4}), 1);
  EXPECT_EQ(softmax_congruent_width<float>({a, b, b4}), 1);
  EXPECT_EQ(softmax_congruent_width<double>({a, b}), 2);
}

}  // namespace
