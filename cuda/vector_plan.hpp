// SPDX-License-Identifier: Apache-2.0
//! @file cuda/vector_plan.hpp
//! How one elementwise launch splits n elements into 16-byte vectors and scalar edges.
//!
//! The output decides the vector grid: every body vector of the output is one aligned 16-byte
//! store. An input whose misalignment differs from the output's (x at element offset 1, y at 0,
//! say) is still read with aligned 16-byte loads: two neighbouring chunks per vector, realigned in
//! registers (`shift` elements). Elements that cannot be covered that way without touching memory
//! outside [0, n) of some tensor (at most a few vectors' worth at each end) are the scalar head
//! and tail, done by the first threads of the same launch. Plain C++ so it is tested on the CPU.
#pragma once

#include <cstdint>

namespace cuact::detail {

inline constexpr int kMaxInputs = 2;

struct VectorPlan {
  int64_t n = 0;
  int64_t head = 0;                //!< scalar elements [0, head)
  int64_t num_vectors = 0;         //!< body: vectors of the output at elements [head, tail_begin)
  int64_t tail_begin = 0;          //!< scalar elements [tail_begin, n)
  int shift[kMaxInputs] = {0, 0};  //!< per input: misalignment in elements against the output

  constexpr int64_t edge_count() const { return head + (n - tail_begin); }
};

//! elem_size in {2, 4, 8}; addresses must be multiples of elem_size (validated by the caller).
inline VectorPlan make_vector_plan(int64_t n, int elem_size, std::uintptr_t out,
                                   const std::uintptr_t* in, int num_in) {
  const int64_t v = 16 / elem_size;
  VectorPlan plan;
  plan.n = n;
  const int64_t out_mis = static_cast<int64_t>(out / elem_size) % v;
  int64_t head = (v - out_mis) % v;
  bool need_extra_head = false;
  for (int i = 0; i < num_in; ++i) {
    const int64_t k = static_cast<int64_t>(in[i] / elem_size + head) % v;
    plan.shift[i] = static_cast<int>(k);
    if (k > head) need_extra_head = true;  // the first realigned load would start before in[0]
  }
  if (need_extra_head) head += v;
  if (head >= n) {
    plan.head = n;
    plan.tail_begin = n;
    return plan;
  }
  int64_t vectors = (n - head) / v;
  for (int i = 0; i < num_in; ++i) {
    if (plan.shift[i] == 0) continue;
    // A shifted vector j reads the input chunks starting at head + j*v - k and head + (j+1)*v - k.
    const int64_t room = n - head + plan.shift[i] - v;
    const int64_t fit = room < 0 ? 0 : room / v;
    if (fit < vectors) vectors = fit;
  }
  plan.head = head;
  plan.num_vectors = vectors;
  plan.tail_begin = head + vectors * v;
  return plan;
}

//! Grid for `tiles` tiles of work: one pass when it fits under the cap (measured fastest on
//! Hopper), otherwise the fewest equal passes, so no block does an extra partial round.
inline int64_t balanced_grid(int64_t tiles, int64_t max_blocks) {
  if (tiles <= 0) return 1;
  if (tiles <= max_blocks) return tiles;
  const int64_t passes = (tiles + max_blocks - 1) / max_blocks;
  return (tiles + passes - 1) / passes;
}

}  // namespace cuact::detail

namespace cuact::detail {

//! Blocks for one elementwise launch: one block per 1024-vector tile (one pass, measured fastest
//! on Hopper) up to 64 waves of 8 resident 256-thread blocks per multiprocessor, then balanced
//! grid-stride passes. Always at least one block, which also covers the scalar edges.
inline int64_t elementwise_grid(const VectorPlan& plan, int64_t tile_vectors, int multiprocessors) {
  const int64_t tiles = (plan.num_vectors + tile_vectors - 1) / tile_vectors;
  const int64_t max_blocks = int64_t{multiprocessors > 0 ? multiprocessors : 1} * 8 * 64;
  return balanced_grid(tiles, max_blocks);
}

}  // namespace cuact::detail
