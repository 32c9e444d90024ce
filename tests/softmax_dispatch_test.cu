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
#include <atomic>
#include <cstdint>
#include <set>
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

//! The (lanes or threads, values per lane) splits a launcher macro has kernels for: what it picks
//! for every power-of-two pair offered (block_tier: kBlockRegs' 256 or 512 threads, else lanes).
template <int kVec, int kMax>
std::set<Split> instantiated_splits(bool block_tier) {
  std::set<Split> splits;
  for (int width : {1, 2, 4, 8, 16, 32, 256, 512}) {
    if ((width >= 256) != block_tier) continue;
    for (int per_lane = 1; per_lane <= 64; per_lane *= 2) {
      SoftmaxPlan p;
      p.lanes = width;
      p.block = width;
      p.per_lane = per_lane;
      const Split got = block_tier ? block_split_for<kVec, kMax>(p) : warp_split_for<kVec, kMax>(p);
      if (got != kNone) splits.insert(got);
    }
  }
  return splits;
}

//! The other way round: every register-tier kernel the launchers instantiate is one some row
//! length plans (a kernel no plan reaches only costs build time: each is a few hundred ms of
//! device compile per architecture). Misaligned rows of congruent tensors reach the edge kernels,
//! which every wide split of at least kSoftmaxMisalignedRegisterMinVectors lanes has.
template <int kElem, bool kBackward>
void check_every_register_kernel_planned() {
  SCOPED_TRACE(::testing::Message() << "elem " << kElem << (kBackward ? " backward" : " forward"));
  constexpr int kWide = 16 / kElem;
  constexpr int kMax = softmax_max_per_lane(kElem, kBackward);
  std::set<Split> warp[2], block[2], edges[2];  // [wide]
  for (int64_t dim = 1; dim <= 512 * kMax + 64; ++dim) {
    for (int vec : {1, kWide}) {
      for (int congruent : {1, kWide}) {
        if (vec > 1 && (dim % vec != 0 || congruent == 1)) continue;
        const SoftmaxPlan p =
            plan_softmax(7, dim, 1, 132, 0, kElem, kBackward, vec, 0, false, congruent);
        const int wide = p.vec == kWide && kWide > 1 ? 1 : 0;
        if (p.tier == SoftmaxTier::kWarpRow) {
          (p.row_edges ? edges : warp)[wide].insert({p.lanes, p.per_lane});
        } else if (p.tier == SoftmaxTier::kBlockRegs) {
          (p.row_edges ? edges : block)[wide].insert({p.block, p.per_lane});
        }
      }
    }
  }
  EXPECT_EQ(warp[0], (instantiated_splits<1, kMax>(false)));
  EXPECT_EQ(block[0], (instantiated_splits<1, kMax>(true)));
  if constexpr (kWide > 1) {
    EXPECT_EQ(warp[1], (instantiated_splits<kWide, kMax>(false)));
    EXPECT_EQ(block[1], (instantiated_splits<kWide, kMax>(true)));
    std::set<Split> with_edges;
    for (const Split& s : warp[1]) {
      if (s.first >= cuact::detail::kSoftmaxMisalignedRegisterMinVectors) with_edges.insert(s);
    }
    with_edges.insert(block[1].begin(), block[1].end());
    EXPECT_EQ(edges[1], with_edges);
  }
  EXPECT_TRUE(edges[0].empty());
}

TEST(SoftmaxDispatch, EveryRegisterTierKernelHasAPlan) {
  check_every_register_kernel_planned<2, false>();
  check_every_register_kernel_planned<2, true>();
  check_every_register_kernel_planned<4, false>();
  check_every_register_kernel_planned<4, true>();
  check_every_register_kernel_planned<8, false>();
  check_every_register_kernel_planned<8, true>();
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

//! plan_and_launch on a partition that places clusters of at most `placed` blocks (0: none) and
//! cooperative grids only if `grids`, for a device whose limits say 16-block clusters and grids:
//! the clusters (the tier of a plan with max_cluster > 1) tried, the grids, then the fallback.
struct Partition {
  int placed;
  bool grids;
};
std::vector<std::pair<SoftmaxTier, int>> launches_on(const Partition& partition,
                                                     cuact::detail::SplitRowLimits* final_limits) {
  using cuact::detail::SplitRowLimits;
  cuact::detail::LaunchContext ctx;
  ctx.device = 63;  // a device index of its own: the limits are cached per device and dtype
  ctx.max_cluster_blocks = 16;
  ctx.cooperative_launch = true;
  std::atomic<int>* cache = cuact::detail::split_row_cache<float>();
  cache[ctx.device].store(cuact::detail::pack_split_row_limits(SplitRowLimits{16, true}));
  std::vector<std::pair<SoftmaxTier, int>> tried;
  const cudaError_t err = cuact::detail::plan_and_launch<float>(
      ctx,
      [](const SplitRowLimits& limits) {
        SoftmaxPlan p;
        p.tier = limits.max_cluster > 1 ? SoftmaxTier::kClusterRow
                 : limits.cooperative   ? SoftmaxTier::kGridRow
                                        : SoftmaxTier::kBlockRow;
        p.cluster = limits.max_cluster > 1 ? limits.max_cluster : 1;
        return p;
      },
      [&](const SoftmaxPlan& p) {
        tried.emplace_back(p.tier, p.cluster);
        if (p.tier == SoftmaxTier::kClusterRow && p.cluster > partition.placed) {
          return cudaErrorInvalidClusterSize;
        }
        if (p.tier == SoftmaxTier::kGridRow && !partition.grids) {
          return cudaErrorCooperativeLaunchTooLarge;
        }
        return cudaSuccess;
      });
  EXPECT_EQ(err, cudaSuccess);
  const int packed = cache[ctx.device].load();
  *final_limits = SplitRowLimits{(packed - 1) / 2, ((packed - 1) & 1) != 0};
  cache[ctx.device].store(0);
  return tried;
}

// A launch the partition refuses (fewer SMs than the device reports) is re-planned with clusters
// half the refused size, down to none, then without the grid tier; the device keeps the lowered
// limits for later calls.
TEST(SoftmaxDispatch, RefusedSplitLaunchesReplanSmaller) {
  using Tried = std::vector<std::pair<SoftmaxTier, int>>;
  constexpr auto kCluster = SoftmaxTier::kClusterRow;
  cuact::detail::SplitRowLimits limits;
  EXPECT_EQ(launches_on({16, true}, &limits), (Tried{{kCluster, 16}}));
  EXPECT_EQ(limits.max_cluster, 16);
  EXPECT_EQ(launches_on({2, true}, &limits),
            (Tried{{kCluster, 16}, {kCluster, 8}, {kCluster, 4}, {kCluster, 2}}));
  EXPECT_EQ(limits.max_cluster, 2);
  EXPECT_TRUE(limits.cooperative);
  EXPECT_EQ(launches_on({0, false}, &limits), (Tried{{kCluster, 16},
                                                     {kCluster, 8},
                                                     {kCluster, 4},
                                                     {kCluster, 2},
                                                     {SoftmaxTier::kGridRow, 1},
                                                     {SoftmaxTier::kBlockRow, 1}}));
  EXPECT_EQ(limits.max_cluster, 0);
  EXPECT_FALSE(limits.cooperative);
}

}  // namespace
