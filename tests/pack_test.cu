// SPDX-License-Identifier: Apache-2.0
//! The kernels' 16-byte pack helpers on the CPU: element access for every element size, and the
//! register realignment that lets an input misaligned against the output still use 16-byte loads,
//! and forward_pack (the kernels' per-pack forward) against apply_forward element by element.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "cuda/act_kernels.cuh"

namespace {

using cuact::detail::kPackSize;
using cuact::detail::Pack;
using cuact::detail::pack_get;
using cuact::detail::pack_set;
using cuact::detail::realign;

// Element i of the 2V-element sequence lo:hi carries the tag i + 1 in its bit pattern.
template <class T>
T tagged(int i) {
  T v;
  std::memset(&v, 0, sizeof v);
  const uint64_t tag = 0x0101010101010101ull * static_cast<uint64_t>(i + 1);
  std::memcpy(&v, &tag, sizeof v);
  return v;
}

template <class T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

template <class T>
void check_realign() {
  constexpr int V = kPackSize<T>;
  Pack lo{}, hi{};
  for (int i = 0; i < V; ++i) {
    pack_set(lo, i, tagged<T>(i));
    pack_set(hi, i, tagged<T>(V + i));
  }
  for (int i = 0; i < V; ++i) {
    ASSERT_TRUE(same_bits(pack_get<T>(lo, i), tagged<T>(i))) << "get/set element " << i;
    ASSERT_TRUE(same_bits(pack_get<T>(hi, i), tagged<T>(V + i))) << "get/set element " << i;
  }
  for (int k = 1; k < V; ++k) {
    const Pack r = realign<T>(k, lo, hi);
    for (int j = 0; j < V; ++j) {
      EXPECT_TRUE(same_bits(pack_get<T>(r, j), tagged<T>(k + j)))
          << "size " << sizeof(T) << ", shift " << k << ", element " << j;
    }
  }
}

TEST(Pack, RealignsEveryShiftFor16BitElements) {
  check_realign<__nv_bfloat16>();
}
TEST(Pack, RealignsEveryShiftForHalf) {
  check_realign<__half>();
}
TEST(Pack, RealignsEveryShiftFor32BitElements) {
  check_realign<float>();
}
TEST(Pack, RealignsEveryShiftFor64BitElements) {
  check_realign<double>();
}

TEST(Pack, SetLeavesTheNeighbourHalfWordAlone) {
  Pack p{};
  p.w[0] = 0xAAAABBBBu;
  pack_set(p, 0, tagged<__half>(4));  // low half := 0x0505
  EXPECT_EQ(p.w[0], 0xAAAA0505u);
  pack_set(p, 1, tagged<__half>(6));  // high half := 0x0707
  EXPECT_EQ(p.w[0], 0x07070505u);
}

// forward_pack decides a 16-bit op's rounding test per pack; every element must still come out
// as apply_forward computes it, whether the pack took the fast path or the double one.
template <class T, class Op>
void check_forward_pack(const Op& op, const std::string& what) {
  constexpr int V = kPackSize<T>;
  int fast_packs = 0, slow_packs = 0, mismatches = 0;
  for (uint32_t base = 0; base < 65536; base += V) {
    Pack in{};
    bool undecided = false;
    for (int k = 0; k < V; ++k) {
      const uint16_t bits = static_cast<uint16_t>(base + k);
      T x;
      std::memcpy(&x, &bits, 2);
      pack_set(in, k, x);
      const cuact::detail::FloatInterval b = op.forward_interval(cuact::to_compute(x));
      undecided |= !same_bits(cuact::to_storage<T>(b.lo), cuact::to_storage<T>(b.hi));
    }
    ++(undecided ? slow_packs : fast_packs);
    const Pack out = cuact::detail::forward_pack<T>(op, in);
    for (int k = 0; k < V; ++k) {
      const T want = cuact::apply_forward(op, pack_get<T>(in, k));
      const T got = pack_get<T>(out, k);
      if (!same_bits(got, want) && ++mismatches <= 5) {
        uint16_t got_bits, want_bits;
        std::memcpy(&got_bits, &got, 2);
        std::memcpy(&want_bits, &want, 2);
        ADD_FAILURE() << what << ": input bits 0x" << std::hex << (base + k) << " got 0x"
                      << got_bits << ", apply_forward 0x" << want_bits;
      }
    }
  }
  EXPECT_EQ(mismatches, 0) << what;
  // Both paths ran: packs whose every element was decided in float, and packs with at least one
  // element the double path had to decide.
  EXPECT_GT(fast_packs, 0) << what;
  EXPECT_GT(slow_packs, 0) << what;
}

template <class Op>
void check_forward_pack_both(const Op& op, const std::string& what) {
  check_forward_pack<__half>(op, what + " float16");
  check_forward_pack<__nv_bfloat16>(op, what + " bfloat16");
}

TEST(ForwardPack, MatchesApplyForwardForTheIntervalOps) {
  cuact::ActParams p;
  p.relu_alpha = 0.1;  // threshold 0, no max: the line alpha x alone
  check_forward_pack_both(cuact::Relu(p), "relu(alpha=0.1)");
  p.relu_max_value = 5.9;
  p.relu_threshold = 0.3;  // neither held by float
  check_forward_pack_both(cuact::Relu(p), "relu(alpha=0.1, max=5.9, threshold=0.3)");
  p.relu_alpha = 1e-35;  // outside the float line's range: every line element in double
  check_forward_pack_both(cuact::Relu(p), "relu(alpha=1e-35, max=5.9, threshold=0.3)");
  check_forward_pack_both(cuact::LeakyRelu(cuact::ActParams{}), "leaky_relu");
  check_forward_pack_both(cuact::HardSigmoid(cuact::ActParams{}), "hard_sigmoid");
  check_forward_pack_both(cuact::HardSigmoidRelu6(cuact::ActParams{}), "hard_sigmoid_relu6");
}

}  // namespace
