// SPDX-License-Identifier: Apache-2.0
//! The kernels' 16-byte pack helpers on the CPU: element access for every element size, and the
//! register realignment that lets an input misaligned against the output still use 16-byte loads.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

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

}  // namespace
