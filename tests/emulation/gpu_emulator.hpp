// SPDX-License-Identifier: Apache-2.0
//! @file tests/emulation/gpu_emulator.hpp
//! A CPU stand-in for the parts of the CUDA execution model the softmax kernels use, so that the
//! kernels' own code (cuda/softmax_kernels.cuh, compiled here by the host compiler) runs in CI
//! without a GPU: every thread of a block is a fiber, switched only at barriers; __syncthreads,
//! warp shuffles and cub's block and warp reductions (tests/emulation/shim) are barriers among
//! the block's or the warp's fibers; __shared__ variables are thread_local (filled with a poison,
//! NaN in every dtype, before each block), and each block runs on its own OS thread, so blocks
//! that must run together (a cooperative grid, a cluster) do, and grid.sync() / cluster.sync() are
//! barriers among those OS threads.
//!
//! What this checks: indexing, edges, barriers (a barrier some threads of a block or warp never
//! reach is reported, as is a shuffle or warp reduction that a warp's lanes do not all reach),
//! shared-memory layout and the cross-block exchanges, every value against the reference; and it
//! reports a 16-byte access that is not 16-byte aligned, a write past the launch's dynamic shared
//! memory (the rest of the array is poisoned and checked after each block), a read of another
//! block's shared memory after that block's last cluster barrier (it may have exited: a missing
//! final cluster.sync(); reported when the address was mapped after that barrier, and read as
//! poison once the block has ended when it was mapped before), shared memory read before any
//! thread of the block wrote it (poison, whatever a previous block left), and a grid barrier in a
//! cluster launch or a cluster operation in a cooperative one. Between barriers the fibers run in
//! a different order each sweep (forward, reverse, then shuffled, reproducibly). What it cannot:
//! timing, memory-model races those orders happen not to expose, device math (the host paths of
//! the math run), occupancy and launch limits.
//!
//! Included only by host-compiler translation units (never nvcc): it defines threadIdx and the
//! other built-ins.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

#if defined(__CUDACC__)
#error "tests/emulation/gpu_emulator.hpp is for the host compiler; nvcc has the real built-ins"
#endif

// The built-in variables, per fiber: the scheduler sets them before resuming a fiber.
extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;

// Shared memory: static storage per OS thread, one OS thread per running block. Kernels are
// plain functions.
#undef __shared__
#define __shared__ thread_local
#undef __global__
#define __global__
#undef __launch_bounds__
#define __launch_bounds__(...)

namespace cuact_emu {

//! What a launch needs: the kernel (bound to its arguments), the grid and block, dynamic shared
//! memory, and how many consecutive blocks run together (1; a cluster's size; the whole grid for
//! a cooperative launch).
struct Launch {
  std::function<void()> kernel;
  unsigned grid = 1;
  unsigned block = 1;
  size_t dynamic_smem = 0;
  unsigned together = 1;
  bool cluster = false;
};

//! Runs a launch to completion. Returns an empty string, or what went wrong (a deadlocked
//! barrier, a divergent shuffle, too much dynamic shared memory).
std::string run(const Launch& launch);

//! The barriers behind the shims.
void sync_block();
void sync_warp();  //!< every lane of the calling warp
//! Every block running together: grid.sync (cluster false: a cooperative launch) or cluster.sync.
void sync_group(bool cluster);
//! This block's rank among the blocks running together, and their count.
unsigned group_rank();
unsigned group_size();
//! The same thread_local (shared memory) object in the block of rank `rank` of the cluster.
void* map_to_rank(void* p, unsigned rank);

//! Ends the calling thread with an error the launch reports (the first one of a block wins);
//! its block's other threads then fail at their next barrier, which is not reported instead.
[[noreturn]] void fault(const std::string& what);

//! A 16-byte access (a vector load or store): faults unless `p` is 16-byte aligned, as the
//! device would (a misaligned address error).
inline void check_aligned_16(const void* p, const char* what) {
  if (reinterpret_cast<uintptr_t>(p) % 16 != 0) {
    fault(std::string("misaligned 16-byte ") + what);
  }
}

//! Bytes of dynamic shared memory a launch may have: the size of the thread_local array the
//! kernels' `extern __shared__` declarations name. The translation unit that includes the kernels
//! defines that array, before it includes them (so that their block-scope declarations see a
//! constant-initialised definition, not a thread_local needing an init call), and this function.
inline constexpr size_t kMaxDynamicSmem = 232448;
unsigned char* dynamic_smem();

//! A warp's exchange slots: lane l's 16 bytes at warp_slot(l).
unsigned char* warp_slot(unsigned lane);

//! Every lane of the calling warp puts `value` in its slot; lanes first .. first + count - 1's
//! values land in out[0 .. count) (a shuffle or a warp reduction: every lane must call it).
template <class T>
void gather(const T& value, unsigned first, int count, T* out) {
  static_assert(sizeof(T) <= 16, "exchange slots hold 16 bytes");
  std::memcpy(warp_slot(threadIdx.x % 32), &value, sizeof(T));
  sync_warp();
  for (int i = 0; i < count; ++i)
    std::memcpy(&out[i], warp_slot(first + static_cast<unsigned>(i)), sizeof(T));
  sync_warp();  // every lane has read before any slot is written again
}

}  // namespace cuact_emu

// The kernels' hook for 16-byte accesses (cuda/softmax_kernels.cuh, load_chunk / store_chunk).
#define CUACT_EMULATION_CHECK_ALIGNED_16(p, what) cuact_emu::check_aligned_16(p, what)

inline void __syncthreads() {
  cuact_emu::sync_block();
}
inline void __threadfence() {
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
}
template <class T>
T __ldcg(const T* p) {
  return *p;
}
