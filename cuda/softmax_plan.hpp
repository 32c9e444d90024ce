// SPDX-License-Identifier: Apache-2.0
//! @file cuda/softmax_plan.hpp
//! Which softmax kernel runs for a shape, and with what grid. Plain C++, tested on the CPU.
//!
//! Tiers implemented so far:
//!  - kWarpRow: last axis, dim <= 1024 (fewer for 8-byte types and backward, see
//!    softmax_max_per_lane): `lanes` lanes of a warp per row (32 / lanes rows per warp,
//!    eight warps per 256-thread block), the row held in registers (per_lane values per lane, as
//!    per_lane / vec loads of vec elements): one read, one write. vec is 16 bytes' worth when the
//!    launcher found every row 16-byte aligned, else 1; short rows share a warp so that each lane
//!    still has a full load in flight.
//!  - kBlockRegs: last axis, rows too long for a warp and at most 512 threads' worth of the
//!    same per-lane budget (16K float32 values forward): a block of 256 or 512 threads per row,
//!    per_lane values per thread in registers, block reductions (cub::BlockReduce); one read.
//!  - kBlockRow: longer rows: one 256-thread block per row (1024 threads from 32768);
//!    reads the row twice (online (max, sum) pass, output pass), 16-byte loads when aligned.
//!  - kSmemRow: the same shape when the row (both rows for backward) fits the opt-in shared
//!    memory: a 1024-thread block stages the row on chip in its storage type (16-byte loads when
//!    rows are aligned, four in flight per thread), so it is read once.
//!  - kColumn: middle axis (inner > 1): one thread per (outer, inner) column, threads along
//!    inner so every access of a warp is contiguous; reads each column twice.
#pragma once

#include <cstdint>

namespace cuact::detail {

enum class SoftmaxTier : int {
  kWarpRow = 0,
  kBlockRow = 1,
  kColumn = 2,
  kSmemRow = 3,
  kBlockRegs = 4
};

struct SoftmaxPlan {
  SoftmaxTier tier = SoftmaxTier::kWarpRow;
  int block = 256;
  int per_lane = 0;        //!< kWarpRow, kBlockRegs: row values held per lane (thread), 2^k
  int lanes = 0;           //!< kWarpRow: lanes per row, a power of two in [1, 32]
  int vec = 1;             //!< row tiers: elements per load (1, or 16 bytes' worth)
  int64_t smem_bytes = 0;  //!< kSmemRow: dynamic shared memory per block
  int64_t grid = 1;
};

//! Row bytes a lane may hold in registers in the warp tier: 128 forward, 64 per stream backward
//! (y and dy), at most 32 values. More spilled under the kernels' 128-register cap (ptxas:
//! float32 backward and float64 forward with 32 values per lane).
inline constexpr int softmax_max_per_lane(int elem_size, bool backward) {
  const int held = (backward ? 64 : 128) / elem_size;
  return held < 32 ? held : 32;
}
inline constexpr int64_t kSoftmaxWideBlockDim = 32768;
inline constexpr int kSoftmaxBlockRegsMaxThreads = 512;
//! Shared memory kept free for the kernels' static allocations (CUB temp storage, row totals).
inline constexpr int64_t kSoftmaxStaticSmemReserve = 2048;

//! outer, dim, inner >= 1 (the caller handles empty tensors). smem_optin: the device's opt-in
//! shared memory per block (0: no shared-memory tier); elem_size: bytes per element; backward
//! stages two rows (y and dy). vec: elements per 16-byte load when every row of every tensor
//! starts 16-byte aligned (so dim is a multiple of it), else 1.
inline SoftmaxPlan plan_softmax(int64_t outer, int64_t dim, int64_t inner, int multiprocessors,
                                int64_t smem_optin = 0, int elem_size = 4, bool backward = false,
                                int vec = 1) {
  const int64_t sms = multiprocessors > 0 ? multiprocessors : 1;
  const int64_t max_blocks = sms * 8 * 64;  // generous cap; every kernel loops (grid-stride)
  auto capped = [&](int64_t blocks) { return blocks < max_blocks ? blocks : max_blocks; };
  SoftmaxPlan p;
  if (inner > 1) {
    p.tier = SoftmaxTier::kColumn;
    p.block = 256;
    p.grid = capped((outer * inner + p.block - 1) / p.block);
  } else if (dim <= 32 * softmax_max_per_lane(elem_size, backward)) {
    p.tier = SoftmaxTier::kWarpRow;
    p.block = 256;
    p.vec = vec > 1 && dim % vec == 0 ? vec : 1;
    int64_t capacity = 1;  // a power of two >= dim
    while (capacity < dim)
      capacity *= 2;
    p.per_lane = static_cast<int>(capacity / 32 > p.vec ? capacity / 32 : p.vec);
    p.lanes = static_cast<int>(capacity > p.per_lane ? capacity / p.per_lane : 1);
    const int64_t rows_per_block = 8 * (32 / p.lanes);
    p.grid = capped((outer + rows_per_block - 1) / rows_per_block);
  } else if (dim <= kSoftmaxBlockRegsMaxThreads * softmax_max_per_lane(elem_size, backward)) {
    // As many values per thread as a 16-byte load (more in flight per thread), 256 threads while
    // that reaches, then up to the per-lane budget, then 512 threads.
    p.tier = SoftmaxTier::kBlockRegs;
    p.vec = vec > 1 && dim % vec == 0 ? vec : 1;
    const int max_per_lane = softmax_max_per_lane(elem_size, backward);
    int64_t capacity = 1;
    while (capacity < dim)
      capacity *= 2;
    int64_t per_lane = capacity / 256 > p.vec ? capacity / 256 : p.vec;
    if (per_lane > max_per_lane) per_lane = max_per_lane;
    p.per_lane = static_cast<int>(per_lane);
    p.block = capacity / per_lane > 256 ? 512 : 256;
    p.grid = capped(outer);
  } else {
    const int64_t row_bytes = dim * elem_size * (backward ? 2 : 1);
    const bool fits = row_bytes + 16 + kSoftmaxStaticSmemReserve <= smem_optin;
    p.tier = fits ? SoftmaxTier::kSmemRow : SoftmaxTier::kBlockRow;
    p.smem_bytes = fits ? row_bytes + 16 : 0;  // + 16: the second row starts 16-byte aligned
    // Shared-memory rows: 1024 threads, as many loads in flight as a block can have (one block
    // per SM once a row takes more than half the shared memory).
    p.block = fits || dim >= kSoftmaxWideBlockDim ? 1024 : 256;
    p.vec = vec > 1 && dim % vec == 0 ? vec : 1;
    p.grid = capped(outer);
  }
  return p;
}

}  // namespace cuact::detail
