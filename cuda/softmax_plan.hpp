// SPDX-License-Identifier: Apache-2.0
//! @file cuda/softmax_plan.hpp
//! Which softmax kernel runs for a shape, and with what grid. Plain C++, tested on the CPU.
//!
//! Tiers implemented so far (each reads its input twice: one pass for the online (max, sum) or
//! the dot product, one for the output; the on-chip one-read tiers of issue #3 come next):
//!  - kWarpRow: last axis, dim <= 1024: one warp per row, eight rows per 256-thread block.
//!  - kBlockRow: last axis, dim > 1024: one 256-thread block per row (1024 threads from 32768).
//!  - kColumn: middle axis (inner > 1): one thread per (outer, inner) column, threads along
//!    inner so every access of a warp is contiguous.
#pragma once

#include <cstdint>

namespace cuact::detail {

enum class SoftmaxTier : int { kWarpRow = 0, kBlockRow = 1, kColumn = 2 };

struct SoftmaxPlan {
  SoftmaxTier tier = SoftmaxTier::kWarpRow;
  int block = 256;
  int64_t grid = 1;
};

inline constexpr int64_t kSoftmaxWarpRowMaxDim = 1024;
inline constexpr int64_t kSoftmaxWideBlockDim = 32768;

//! outer, dim, inner >= 1 (the caller handles empty tensors).
inline SoftmaxPlan plan_softmax(int64_t outer, int64_t dim, int64_t inner, int multiprocessors) {
  const int64_t sms = multiprocessors > 0 ? multiprocessors : 1;
  const int64_t max_blocks = sms * 8 * 64;  // generous cap; every kernel loops (grid-stride)
  auto capped = [&](int64_t blocks) { return blocks < max_blocks ? blocks : max_blocks; };
  SoftmaxPlan p;
  if (inner > 1) {
    p.tier = SoftmaxTier::kColumn;
    p.block = 256;
    p.grid = capped((outer * inner + p.block - 1) / p.block);
  } else if (dim <= kSoftmaxWarpRowMaxDim) {
    p.tier = SoftmaxTier::kWarpRow;
    p.block = 256;
    p.grid = capped((outer + 7) / 8);
  } else {
    p.tier = SoftmaxTier::kBlockRow;
    p.block = dim >= kSoftmaxWideBlockDim ? 1024 : 256;
    p.grid = capped(outer);
  }
  return p;
}

}  // namespace cuact::detail
