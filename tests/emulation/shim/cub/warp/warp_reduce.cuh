// SPDX-License-Identifier: Apache-2.0
//! cub::WarpReduce and cub::ShuffleIndex for the CPU emulation (tests/emulation/gpu_emulator.hpp):
//! exchanges among the 32 lanes of a warp, each a barrier every lane must reach. Logical warps of
//! kLanes lanes: the reduction's aggregate is valid in each logical warp's first lane only (others
//! get their own input back), and ShuffleIndex's source lane counts from the logical warp's first.
#pragma once

#include "tests/emulation/gpu_emulator.hpp"
#include <cub/block/block_reduce.cuh>  // tree_reduce

namespace cub {

template <int kLanes, class T>
T ShuffleIndex(T input, int src_lane, unsigned member_mask) {
  if (member_mask != 0xffffffffu) __builtin_trap();  // the kernels shuffle whole warps
  const unsigned first = threadIdx.x % 32 / kLanes * kLanes;
  T got;
  cuact_emu::gather(input, first + static_cast<unsigned>(src_lane) % kLanes, 1, &got);
  return got;
}

template <class T, int kLanes = 32>
class WarpReduce {
 public:
  struct TempStorage {};
  explicit WarpReduce(TempStorage&) {}
  template <class Op>
  T Reduce(T input, Op op) {
    const unsigned lane = threadIdx.x % 32, first = lane / kLanes * kLanes;
    T values[kLanes];
    cuact_emu::gather(input, first, kLanes, values);
    if (lane != first) return input;
    return tree_reduce(values, kLanes, op);
  }
  T Sum(T input) {
    return Reduce(input, [](const T& a, const T& b) { return a + b; });
  }
};

}  // namespace cub
