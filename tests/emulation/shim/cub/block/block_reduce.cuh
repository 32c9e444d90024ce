// SPDX-License-Identifier: Apache-2.0
//! cub::BlockReduce for the CPU emulation (tests/emulation/gpu_emulator.hpp): every thread puts its
//! value in the caller's temp storage, a block barrier, then thread 0 combines them in the order of
//! cub's default algorithm (a pairwise tree inside each warp, as its shuffle-down reduction, then
//! the warps' totals one after another), so rounding errors have cub's depth. As cub's, the
//! aggregate is valid in thread 0 only (others get their own input back), and the storage may be
//! reused only after a __syncthreads.
#pragma once

#include <cstring>

#include "tests/emulation/gpu_emulator.hpp"

namespace cub {

//! values[0] op values[1], (..) op (values[2] op values[3]), ...: a shuffle-down tree over n (a
//! power of two) values.
template <class T, class Op>
T tree_reduce(T* values, int n, Op op) {
  for (int offset = 1; offset < n; offset *= 2) {
    for (int i = 0; i + offset < n; i += 2 * offset)
      values[i] = op(values[i], values[i + offset]);
  }
  return values[0];
}

template <class T, int kThreads>
class BlockReduce {
 public:
  struct TempStorage {
    alignas(16) unsigned char bytes[kThreads * sizeof(T)];
  };
  explicit BlockReduce(TempStorage& storage) : storage_(storage) {}
  template <class Op>
  T Reduce(T input, Op op) {
    if (blockDim.x != static_cast<unsigned>(kThreads)) __builtin_trap();
    std::memcpy(storage_.bytes + threadIdx.x * sizeof(T), &input, sizeof(T));
    __syncthreads();
    if (threadIdx.x != 0) return input;
    T values[kThreads];
    std::memcpy(values, storage_.bytes, sizeof values);
    const int warp = kThreads < 32 ? kThreads : 32;
    for (int w = 0; w < kThreads; w += warp)
      values[w] = tree_reduce(values + w, warp, op);
    T acc = values[0];
    for (int w = warp; w < kThreads; w += warp)
      acc = op(acc, values[w]);
    return acc;
  }
  T Sum(T input) {
    return Reduce(input, [](const T& a, const T& b) { return a + b; });
  }

 private:
  TempStorage& storage_;
};

}  // namespace cub
