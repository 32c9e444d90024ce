// SPDX-License-Identifier: Apache-2.0
//! Every plan plan_softmax can return for the register tiers has an instantiated kernel in
//! host/softmax_launch.cuh: the launchers' split macros run here with a CALL that reports the
//! split it would launch instead of launching it, for every row length of each tier, element
//! size, direction and load width. (A CALL of two statements under the macros' unbraced ifs once
//! returned before launching anything, which only a GPU would have shown.)
#include <gtest/gtest.h>

#include <cstdint>
#include <utility>

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

}  // namespace
