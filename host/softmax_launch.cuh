// SPDX-License-Identifier: Apache-2.0
//! @file host/softmax_launch.cuh
//! Softmax tier dispatch and launch for one dtype; included by one host/softmax_launch_<dtype>.cu.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>

#include "cuda/softmax_kernels.cuh"
#include "host/internal.hpp"

namespace cuact::detail {

//! `setup`: an error from the launch's own setup (cudaFuncSetAttribute), else cudaSuccess.
inline Status check_softmax_launch(const char* fn, cudaError_t setup) {
  const cudaError_t launch = cudaGetLastError();
  const cudaError_t err = setup != cudaSuccess ? setup : launch;
  if (err == cudaSuccess) return Status::kSuccess;
  return fail(Status::kErrorCudaLaunch, "%s: launch failed: %s", fn, cudaGetErrorString(err));
}

//! Lets kKernel use the device's opt-in shared memory (above the default 48 KB), once per device
//! and kernel: the flags are per instantiation (a template on the kernel's type alone would share
//! them between kernels of one signature, and launches of the second one failed on an H200).
//! cudaFuncSetAttribute is not a stream operation: no synchronisation, safe under graph capture.
template <auto kKernel>
cudaError_t allow_opt_in_smem(const LaunchContext& ctx) {
  static std::atomic<bool> done[64];
  if (ctx.device < 0 || ctx.device >= 64 || done[ctx.device].load(std::memory_order_relaxed)) {
    return cudaSuccess;
  }
  const cudaError_t err =
      cudaFuncSetAttribute(kKernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           ctx.shared_memory_optin - static_cast<int>(kSoftmaxStaticSmemReserve));
  if (err == cudaSuccess) done[ctx.device].store(true, std::memory_order_relaxed);
  return err;
}

//! Lets kKernel launch clusters above the portable 8 blocks, once per device and kernel (as
//! allow_opt_in_smem; not a stream operation).
template <auto kKernel>
cudaError_t allow_large_clusters(const LaunchContext& ctx) {
  static std::atomic<bool> done[64];
  if (ctx.device < 0 || ctx.device >= 64 || done[ctx.device].load(std::memory_order_relaxed)) {
    return cudaSuccess;
  }
  const cudaError_t err =
      cudaFuncSetAttribute(kKernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
  if (err == cudaSuccess) done[ctx.device].store(true, std::memory_order_relaxed);
  return err;
}

// The two launch primitives; the CPU emulation of the kernels (tests/softmax_emulation_test.cpp)
// defines its own before including this file.
#if !defined(CUACT_SOFTMAX_EMULATION)

//! Launches kKernel over `grid` blocks of `threads` threads on `stream`, without dynamic shared
//! memory or launch attributes (the register tiers, the two-read rows, a thread per column).
template <auto kKernel, class... Args>
cudaError_t launch_kernel(unsigned grid, int threads, cudaStream_t stream, Args... args) {
  kKernel<<<grid, threads, 0, stream>>>(args...);
  return cudaSuccess;
}

//! Launches kKernel over p.grid blocks of kThreads threads with p.smem_bytes of dynamic shared
//! memory opted into, and the launch attribute if any (a cluster size, or cooperative).
//! cudaLaunchKernelEx returns a configuration the device cannot schedule (a cluster too large for
//! a GPC at this shared memory, a cooperative grid that cannot be resident at once) as its error,
//! before anything runs.
template <auto kKernel, int kThreads, class... Args>
cudaError_t launch_on_chip(const SoftmaxPlan& p, const LaunchContext& ctx,
                           const cudaLaunchAttribute* attribute, Args... args) {
  cudaError_t err = allow_opt_in_smem<kKernel>(ctx);
  if (err != cudaSuccess) return err;
  if (p.cluster > kPortableClusterBlocks && allow_large_clusters<kKernel>(ctx) != cudaSuccess) {
    return cudaErrorInvalidClusterSize;  // a refusal: re-planned with at most 8 (plan_and_launch)
  }
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(static_cast<unsigned>(p.grid));
  config.blockDim = dim3(kThreads);
  config.dynamicSmemBytes = static_cast<size_t>(p.smem_bytes);
  config.stream = ctx.stream;
  cudaLaunchAttribute attributes[1] = {};
  if (attribute) {
    attributes[0] = *attribute;
    config.attrs = attributes;
    config.numAttrs = 1;
  }
  return cudaLaunchKernelEx(&config, kKernel, args...);
}

#endif  // !CUACT_SOFTMAX_EMULATION

//! Clusters of `blocks` blocks along x (the grid is a multiple of it).
inline cudaLaunchAttribute cluster_attribute(int blocks) {
  cudaLaunchAttribute a = {};
  a.id = cudaLaunchAttributeClusterDimension;
  a.val.clusterDim.x = static_cast<unsigned>(blocks);
  a.val.clusterDim.y = 1;
  a.val.clusterDim.z = 1;
  return a;
}

//! Every block resident at once, so that grid.sync() may be called.
inline cudaLaunchAttribute cooperative_attribute() {
  cudaLaunchAttribute a = {};
  a.id = cudaLaunchAttributeCooperative;
  a.val.cooperative = 1;
  return a;
}

//! Whether a tier is one of the column tiles (256-thread blocks, their dim indices split over a
//! cluster when p.cluster > 1).
inline constexpr bool is_column_tile(SoftmaxTier t) {
  return t == SoftmaxTier::kColumnTile || t == SoftmaxTier::kColumnTileReread;
}

//! The tiers that stage in shared memory: kSmemRow, kClusterRow and kGridRow (1024 threads, the
//! latter two with their launch attribute) and the column tiles (split over a cluster with
//! theirs).
template <SoftmaxTier kTier, int kVec, class T, SoftmaxKind kKind>
cudaError_t launch_forward_on_chip(const SoftmaxPlan& p, const T* x, T* y, const SoftmaxShape& s,
                                   bool safe, const LaunchContext& ctx) {
  constexpr int kThreads = is_column_tile(kTier) ? kColumnTileThreads : 1024;
  constexpr auto kernel = &softmax_forward_kernel<kTier, kThreads, ChunkSplit<kVec>, T, kKind>;
  const cudaLaunchAttribute a =
      kTier == SoftmaxTier::kGridRow ? cooperative_attribute() : cluster_attribute(p.cluster);
  const bool attributed = kTier == SoftmaxTier::kGridRow || kTier == SoftmaxTier::kClusterRow ||
                          (is_column_tile(kTier) && p.cluster > 1);
  return launch_on_chip<kernel, kThreads>(p, ctx, attributed ? &a : nullptr, x, y, s.outer, s.dim,
                                          s.inner, safe, p.parts);
}

template <SoftmaxTier kTier, int kVec, class T, SoftmaxKind kKind>
cudaError_t launch_backward_on_chip(const SoftmaxPlan& p, const T* y, const T* dy, T* dx,
                                    const SoftmaxShape& s, const LaunchContext& ctx) {
  constexpr int kThreads = is_column_tile(kTier) ? kColumnTileThreads : 1024;
  constexpr auto kernel = &softmax_backward_kernel<kTier, kThreads, ChunkSplit<kVec>, T, kKind>;
  const cudaLaunchAttribute a =
      kTier == SoftmaxTier::kGridRow ? cooperative_attribute() : cluster_attribute(p.cluster);
  const bool attributed = kTier == SoftmaxTier::kGridRow || kTier == SoftmaxTier::kClusterRow ||
                          (is_column_tile(kTier) && p.cluster > 1);
  return launch_on_chip<kernel, kThreads>(p, ctx, attributed ? &a : nullptr, y, dy, dx, s.outer,
                                          s.dim, s.inner, p.parts);
}

//! The on-chip launchers with the plan's load width: 16 bytes' worth, or scalar.
template <SoftmaxTier kTier, class T, SoftmaxKind kKind>
cudaError_t launch_forward_on_chip_tier(const SoftmaxPlan& p, const T* x, T* y,
                                        const SoftmaxShape& s, bool safe,
                                        const LaunchContext& ctx) {
  constexpr int kWide = static_cast<int>(16 / sizeof(T));
  return p.vec > 1 ? launch_forward_on_chip<kTier, kWide, T, kKind>(p, x, y, s, safe, ctx)
                   : launch_forward_on_chip<kTier, 1, T, kKind>(p, x, y, s, safe, ctx);
}

template <SoftmaxTier kTier, class T, SoftmaxKind kKind>
cudaError_t launch_backward_on_chip_tier(const SoftmaxPlan& p, const T* y, const T* dy, T* dx,
                                         const SoftmaxShape& s, const LaunchContext& ctx) {
  constexpr int kWide = static_cast<int>(16 / sizeof(T));
  return p.vec > 1 ? launch_backward_on_chip<kTier, kWide, T, kKind>(p, y, dy, dx, s, ctx)
                   : launch_backward_on_chip<kTier, 1, T, kKind>(p, y, dy, dx, s, ctx);
}

//! What a launcher returns when no instantiated split matches the plan (a plan_softmax change
//! without its launcher): an error status, never a silent success with nothing launched.
inline constexpr cudaError_t kNoSplitForPlan = cudaErrorInvalidConfiguration;

//! Whether a register-tier split of kLanes lanes has a kernel for misaligned rows
//! (SoftmaxPlan::row_edges): plan_softmax gives those rows at least
//! kSoftmaxMisalignedRegisterMinVectors lanes, so narrower splits have none.
template <int kLanes, int kVec>
inline constexpr bool kHasEdgeSplit = kVec > 1 && kLanes >= kSoftmaxMisalignedRegisterMinVectors;

//! One register-tier split (kWarpRow: WarpSplit, kBlockRegs: BlockSplit) at its block size: the
//! kernel for aligned rows, or for p.row_edges the split's edge variant where it has one.
template <SoftmaxTier kTier, template <int, int, int, bool> class Split, int kLanes, int kPerLane,
          int kVec, class T, SoftmaxKind kKind>
cudaError_t launch_forward_register_split(const SoftmaxPlan& p, const T* x, T* y,
                                          const SoftmaxShape& s, bool safe, cudaStream_t stream) {
  using Aligned = Split<kLanes, kPerLane, kVec, false>;
  constexpr int kThreads = Aligned::kBlockThreads;
  const auto grid = static_cast<unsigned>(p.grid);
  if (!p.row_edges) {
    return launch_kernel<&softmax_forward_kernel<kTier, kThreads, Aligned, T, kKind>>(
        grid, kThreads, stream, x, y, s.outer, s.dim, s.inner, safe, 1);
  }
  if constexpr (kHasEdgeSplit<kLanes, kVec>) {
    return launch_kernel<
        &softmax_forward_kernel<kTier, kThreads, Split<kLanes, kPerLane, kVec, true>, T, kKind>>(
        grid, kThreads, stream, x, y, s.outer, s.dim, s.inner, safe, 1);
  }
  return kNoSplitForPlan;
}

template <SoftmaxTier kTier, template <int, int, int, bool> class Split, int kLanes, int kPerLane,
          int kVec, class T, SoftmaxKind kKind>
cudaError_t launch_backward_register_split(const SoftmaxPlan& p, const T* y, const T* dy, T* dx,
                                           const SoftmaxShape& s, cudaStream_t stream) {
  using Aligned = Split<kLanes, kPerLane, kVec, false>;
  constexpr int kThreads = Aligned::kBlockThreads;
  const auto grid = static_cast<unsigned>(p.grid);
  if (!p.row_edges) {
    return launch_kernel<&softmax_backward_kernel<kTier, kThreads, Aligned, T, kKind>>(
        grid, kThreads, stream, y, dy, dx, s.outer, s.dim, s.inner, 1);
  }
  if constexpr (kHasEdgeSplit<kLanes, kVec>) {
    return launch_kernel<
        &softmax_backward_kernel<kTier, kThreads, Split<kLanes, kPerLane, kVec, true>, T, kKind>>(
        grid, kThreads, stream, y, dy, dx, s.outer, s.dim, s.inner, 1);
  }
  return kNoSplitForPlan;
}

// The warp splits plan_softmax can choose for vector width kVec and at most kMaxPerLane values
// per lane: one vector per lane on 1..32 lanes, then 32 lanes with 2, 4, ... vectors.
// CALL(lanes, per_lane) is expanded for each (in braces: it may be several statements); the one
// matching the plan launches.
#define CUACT_WARP_SPLITS(kVec, kMaxPerLane, CALL)      \
  do {                                                  \
    if (p.per_lane == (kVec)) {                         \
      switch (p.lanes) {                                \
        case 1: {                                       \
          CALL(1, kVec);                                \
        } break;                                        \
        case 2: {                                       \
          CALL(2, kVec);                                \
        } break;                                        \
        case 4: {                                       \
          CALL(4, kVec);                                \
        } break;                                        \
        case 8: {                                       \
          CALL(8, kVec);                                \
        } break;                                        \
        case 16: {                                      \
          CALL(16, kVec);                               \
        } break;                                        \
        case 32: {                                      \
          CALL(32, kVec);                               \
        } break;                                        \
        default: break;                                 \
      }                                                 \
    } else {                                            \
      if constexpr ((kVec) < 2 && 2 <= (kMaxPerLane))   \
        if (p.per_lane == 2) {                          \
          CALL(32, 2);                                  \
        }                                               \
      if constexpr ((kVec) < 4 && 4 <= (kMaxPerLane))   \
        if (p.per_lane == 4) {                          \
          CALL(32, 4);                                  \
        }                                               \
      if constexpr ((kVec) < 8 && 8 <= (kMaxPerLane))   \
        if (p.per_lane == 8) {                          \
          CALL(32, 8);                                  \
        }                                               \
      if constexpr ((kVec) < 16 && 16 <= (kMaxPerLane)) \
        if (p.per_lane == 16) {                         \
          CALL(32, 16);                                 \
        }                                               \
      if constexpr ((kVec) < 32 && 32 <= (kMaxPerLane)) \
        if (p.per_lane == 32) {                         \
          CALL(32, 32);                                 \
        }                                               \
    }                                                   \
  } while (0)

//! 16-byte loads when every row of every tensor starts 16-byte aligned (last axis), or every dim
//! row of every tensor (middle axis: inner elements apart).
template <class T>
int softmax_vector_width(const SoftmaxShape& s, std::initializer_list<const void*> tensors) {
  constexpr int kWide = static_cast<int>(16 / sizeof(T));
  const int64_t stride = s.inner > 1 ? s.inner : s.dim;
  if ((stride * static_cast<int64_t>(sizeof(T))) % 16 != 0) return 1;
  for (const void* t : tensors) {
    if (reinterpret_cast<uintptr_t>(t) % 16 != 0) return 1;
  }
  return kWide;
}

//! 16 bytes' worth when every tensor starts the same distance past a 16-byte boundary (rows
//! then misaligned alike, which plan_softmax's congruent_vec lets most last-axis tiers still load
//! 16 bytes at a time), else 1.
template <class T>
int softmax_congruent_width(std::initializer_list<const void*> tensors) {
  constexpr int kWide = static_cast<int>(16 / sizeof(T));
  const uintptr_t first = reinterpret_cast<uintptr_t>(*tensors.begin()) % 16;
  for (const void* t : tensors) {
    if (reinterpret_cast<uintptr_t>(t) % 16 != first) return 1;
  }
  return kWide;
}

template <class T, SoftmaxKind kKind>
cudaError_t launch_forward_warp_rows(const SoftmaxPlan& p, const T* x, T* y, const SoftmaxShape& s,
                                     bool safe, cudaStream_t stream) {
  constexpr int kWide = static_cast<int>(16 / sizeof(T));
  constexpr int kMax = softmax_max_per_lane(sizeof(T), false);
#define CUACT_FWD(lanes, per_lane)                                                                 \
  return launch_forward_register_split<SoftmaxTier::kWarpRow, WarpSplit, lanes, per_lane, kVecNow, \
                                       T, kKind>(p, x, y, s, safe, stream)
  if (p.vec == kWide) {
    constexpr int kVecNow = kWide;
    CUACT_WARP_SPLITS(kWide, kMax, CUACT_FWD);
  } else {
    constexpr int kVecNow = 1;
    CUACT_WARP_SPLITS(1, kMax, CUACT_FWD);
  }
#undef CUACT_FWD
  return kNoSplitForPlan;
}

template <class T, SoftmaxKind kKind>
cudaError_t launch_backward_warp_rows(const SoftmaxPlan& p, const T* y, const T* dy, T* dx,
                                      const SoftmaxShape& s, cudaStream_t stream) {
  constexpr int kWide = static_cast<int>(16 / sizeof(T));
  constexpr int kMax = softmax_max_per_lane(sizeof(T), true);
#define CUACT_BWD(lanes, per_lane)                                                         \
  return launch_backward_register_split<SoftmaxTier::kWarpRow, WarpSplit, lanes, per_lane, \
                                        kVecNow, T, kKind>(p, y, dy, dx, s, stream)
  if (p.vec == kWide) {
    constexpr int kVecNow = kWide;
    CUACT_WARP_SPLITS(kWide, kMax, CUACT_BWD);
  } else {
    constexpr int kVecNow = 1;
    CUACT_WARP_SPLITS(1, kMax, CUACT_BWD);
  }
#undef CUACT_BWD
  return kNoSplitForPlan;
}

//! Whether kBlockRegs has a 256-thread split of kPerLane values per thread at load width kVec:
//! from one load's worth up to the per-lane budget, and no fewer than a quarter of the budget.
//! The tier takes rows longer than the warp tier's 32 x budget, so a power of two of at least
//! 64 x budget over 256 threads: plan_softmax never asks for fewer (softmax_dispatch_test checks
//! both ways: every plan has its kernel, and every kernel has a plan).
template <int kVec, int kPerLane, int kMaxPerLane>
inline constexpr bool kHasBlockRegsSplit = (kVec <= kPerLane) && (kPerLane <= kMaxPerLane) &&
                                           (4 * kPerLane >= kMaxPerLane);

// kBlockRegs splits (plan_softmax): 256 threads with vec, 2 vec, ... up to the per-lane budget
// values each, or 512 threads with the whole budget. CALL(threads, per_lane) for each.
#define CUACT_BLOCK_REGS_SPLITS(kVec, kMaxPerLane, CALL)                            \
  do {                                                                              \
    if (p.block == 512) {                                                           \
      if (p.per_lane == (kMaxPerLane)) {                                            \
        CALL(512, kMaxPerLane);                                                     \
      }                                                                             \
    } else {                                                                        \
      if constexpr (::cuact::detail::kHasBlockRegsSplit<(kVec), 2, (kMaxPerLane)>)  \
        if (p.per_lane == 2) {                                                      \
          CALL(256, 2);                                                             \
        }                                                                           \
      if constexpr (::cuact::detail::kHasBlockRegsSplit<(kVec), 4, (kMaxPerLane)>)  \
        if (p.per_lane == 4) {                                                      \
          CALL(256, 4);                                                             \
        }                                                                           \
      if constexpr (::cuact::detail::kHasBlockRegsSplit<(kVec), 8, (kMaxPerLane)>)  \
        if (p.per_lane == 8) {                                                      \
          CALL(256, 8);                                                             \
        }                                                                           \
      if constexpr (::cuact::detail::kHasBlockRegsSplit<(kVec), 16, (kMaxPerLane)>) \
        if (p.per_lane == 16) {                                                     \
          CALL(256, 16);                                                            \
        }                                                                           \
      if constexpr (::cuact::detail::kHasBlockRegsSplit<(kVec), 32, (kMaxPerLane)>) \
        if (p.per_lane == 32) {                                                     \
          CALL(256, 32);                                                            \
        }                                                                           \
    }                                                                               \
  } while (0)

template <class T, SoftmaxKind kKind>
cudaError_t launch_forward_block_regs(const SoftmaxPlan& p, const T* x, T* y, const SoftmaxShape& s,
                                      bool safe, cudaStream_t stream) {
  constexpr int kWide = static_cast<int>(16 / sizeof(T));
  constexpr int kMax = softmax_max_per_lane(sizeof(T), false);
#define CUACT_FWD(threads, per_lane)                                                           \
  return launch_forward_register_split<SoftmaxTier::kBlockRegs, BlockSplit, threads, per_lane, \
                                       kVecNow, T, kKind>(p, x, y, s, safe, stream)
  if (p.vec == kWide) {
    constexpr int kVecNow = kWide;
    CUACT_BLOCK_REGS_SPLITS(kWide, kMax, CUACT_FWD);
  } else {
    constexpr int kVecNow = 1;
    CUACT_BLOCK_REGS_SPLITS(1, kMax, CUACT_FWD);
  }
#undef CUACT_FWD
  return kNoSplitForPlan;
}

template <class T, SoftmaxKind kKind>
cudaError_t launch_backward_block_regs(const SoftmaxPlan& p, const T* y, const T* dy, T* dx,
                                       const SoftmaxShape& s, cudaStream_t stream) {
  constexpr int kWide = static_cast<int>(16 / sizeof(T));
  constexpr int kMax = softmax_max_per_lane(sizeof(T), true);
#define CUACT_BWD(threads, per_lane)                                                            \
  return launch_backward_register_split<SoftmaxTier::kBlockRegs, BlockSplit, threads, per_lane, \
                                        kVecNow, T, kKind>(p, y, dy, dx, s, stream)
  if (p.vec == kWide) {
    constexpr int kVecNow = kWide;
    CUACT_BLOCK_REGS_SPLITS(kWide, kMax, CUACT_BWD);
  } else {
    constexpr int kVecNow = 1;
    CUACT_BLOCK_REGS_SPLITS(1, kMax, CUACT_BWD);
  }
#undef CUACT_BWD
  return kNoSplitForPlan;
}

//! kBlockRow (no dynamic shared memory), ChunkSplit<kVec>.
template <SoftmaxTier kTier, int kThreads, int kVec, class T, SoftmaxKind kKind>
cudaError_t launch_forward_chunks(const SoftmaxPlan& p, const T* x, T* y, const SoftmaxShape& s,
                                  bool safe, cudaStream_t stream) {
  return launch_kernel<&softmax_forward_kernel<kTier, kThreads, ChunkSplit<kVec>, T, kKind>>(
      static_cast<unsigned>(p.grid), kThreads, stream, x, y, s.outer, s.dim, s.inner, safe, 1);
}

template <SoftmaxTier kTier, int kThreads, int kVec, class T, SoftmaxKind kKind>
cudaError_t launch_backward_chunks(const SoftmaxPlan& p, const T* y, const T* dy, T* dx,
                                   const SoftmaxShape& s, cudaStream_t stream) {
  return launch_kernel<&softmax_backward_kernel<kTier, kThreads, ChunkSplit<kVec>, T, kKind>>(
      static_cast<unsigned>(p.grid), kThreads, stream, y, dy, dx, s.outer, s.dim, s.inner, 1);
}

template <class T, SoftmaxKind kKind>
cudaError_t launch_softmax_forward_kind(const SoftmaxPlan& p, const T* x, T* y,
                                        const SoftmaxShape& s, bool safe,
                                        const LaunchContext& ctx) {
  constexpr int kWide = static_cast<int>(16 / sizeof(T));
  const auto grid = static_cast<unsigned>(p.grid);
  const cudaStream_t stream = ctx.stream;
  switch (p.tier) {
    case SoftmaxTier::kSmemRow:
      return launch_forward_on_chip_tier<SoftmaxTier::kSmemRow, T, kKind>(p, x, y, s, safe, ctx);
    case SoftmaxTier::kWarpRow: return launch_forward_warp_rows<T, kKind>(p, x, y, s, safe, stream);
    case SoftmaxTier::kBlockRegs:
      return launch_forward_block_regs<T, kKind>(p, x, y, s, safe, stream);
    case SoftmaxTier::kBlockRow:
      if (p.vec > 1) {
        return p.block == 1024
                   ? launch_forward_chunks<SoftmaxTier::kBlockRow, 1024, kWide, T, kKind>(
                         p, x, y, s, safe, stream)
                   : launch_forward_chunks<SoftmaxTier::kBlockRow, 256, kWide, T, kKind>(
                         p, x, y, s, safe, stream);
      }
      return p.block == 1024 ? launch_forward_chunks<SoftmaxTier::kBlockRow, 1024, 1, T, kKind>(
                                   p, x, y, s, safe, stream)
                             : launch_forward_chunks<SoftmaxTier::kBlockRow, 256, 1, T, kKind>(
                                   p, x, y, s, safe, stream);
    case SoftmaxTier::kClusterRow:
      return launch_forward_on_chip_tier<SoftmaxTier::kClusterRow, T, kKind>(p, x, y, s, safe, ctx);
    case SoftmaxTier::kGridRow:
      return launch_forward_on_chip_tier<SoftmaxTier::kGridRow, T, kKind>(p, x, y, s, safe, ctx);
    case SoftmaxTier::kColumnTile:
      return launch_forward_on_chip_tier<SoftmaxTier::kColumnTile, T, kKind>(p, x, y, s, safe, ctx);
    case SoftmaxTier::kColumnTileReread:
      return launch_forward_on_chip_tier<SoftmaxTier::kColumnTileReread, T, kKind>(p, x, y, s, safe,
                                                                                   ctx);
    case SoftmaxTier::kColumn:
      return launch_kernel<&softmax_forward_kernel<SoftmaxTier::kColumn, 256, NoSplit, T, kKind>>(
          grid, 256, stream, x, y, s.outer, s.dim, s.inner, safe, 1);
  }
  return cudaSuccess;
}

template <class T, SoftmaxKind kKind>
cudaError_t launch_softmax_backward_kind(const SoftmaxPlan& p, const T* y, const T* dy, T* dx,
                                         const SoftmaxShape& s, const LaunchContext& ctx) {
  constexpr int kWide = static_cast<int>(16 / sizeof(T));
  const auto grid = static_cast<unsigned>(p.grid);
  const cudaStream_t stream = ctx.stream;
  switch (p.tier) {
    case SoftmaxTier::kSmemRow:
      return launch_backward_on_chip_tier<SoftmaxTier::kSmemRow, T, kKind>(p, y, dy, dx, s, ctx);
    case SoftmaxTier::kWarpRow: return launch_backward_warp_rows<T, kKind>(p, y, dy, dx, s, stream);
    case SoftmaxTier::kBlockRegs:
      return launch_backward_block_regs<T, kKind>(p, y, dy, dx, s, stream);
    case SoftmaxTier::kBlockRow:
      if (p.vec > 1) {
        return p.block == 1024
                   ? launch_backward_chunks<SoftmaxTier::kBlockRow, 1024, kWide, T, kKind>(
                         p, y, dy, dx, s, stream)
                   : launch_backward_chunks<SoftmaxTier::kBlockRow, 256, kWide, T, kKind>(
                         p, y, dy, dx, s, stream);
      }
      return p.block == 1024 ? launch_backward_chunks<SoftmaxTier::kBlockRow, 1024, 1, T, kKind>(
                                   p, y, dy, dx, s, stream)
                             : launch_backward_chunks<SoftmaxTier::kBlockRow, 256, 1, T, kKind>(
                                   p, y, dy, dx, s, stream);
    case SoftmaxTier::kClusterRow:
      return launch_backward_on_chip_tier<SoftmaxTier::kClusterRow, T, kKind>(p, y, dy, dx, s, ctx);
    case SoftmaxTier::kGridRow:
      return launch_backward_on_chip_tier<SoftmaxTier::kGridRow, T, kKind>(p, y, dy, dx, s, ctx);
    case SoftmaxTier::kColumnTile:
      return launch_backward_on_chip_tier<SoftmaxTier::kColumnTile, T, kKind>(p, y, dy, dx, s, ctx);
    case SoftmaxTier::kColumnTileReread:
      return launch_backward_on_chip_tier<SoftmaxTier::kColumnTileReread, T, kKind>(p, y, dy, dx, s,
                                                                                    ctx);
    case SoftmaxTier::kColumn:
      return launch_kernel<&softmax_backward_kernel<SoftmaxTier::kColumn, 256, NoSplit, T, kKind>>(
          grid, 256, stream, y, dy, dx, s.outer, s.dim, s.inner, 1);
  }
  return cudaSuccess;
}

//! What the split-row tiers may use on this device with this build, worked out once per device
//! and dtype by host queries (no stream work, safe under graph capture):
//!  - clusters: only if the image the device runs was compiled for sm_90 on (ptxVersion: an sm_80
//!    image run on a newer GPU has the cluster kernels compiled out), and then the largest power
//!    of two up to 16 (above 8 with the non-portable opt-in) that
//!    cudaOccupancyMaxActiveClusters can place with 1024-thread blocks at the most shared memory
//!    we opt into (fewer under an SM partition); 16 only if such clusters cover at least 3/4 of
//!    the SMs at once;
//!  - cooperative grids: if the device launches them and such a block fits an SM.
//! A failed query counts as "no" (its error is consumed, so the call's status stays its own).
struct SplitRowLimits {
  int max_cluster = 0;
  bool cooperative = false;
};

inline int pack_split_row_limits(const SplitRowLimits& l) {
  return 1 + 2 * l.max_cluster + (l.cooperative ? 1 : 0);  // 0: not worked out yet
}

//! Per device, per dtype (one per instantiation).
template <class T>
std::atomic<int>* split_row_cache() {
  static std::atomic<int> cache[64];
  return cache;
}

template <class T>
SplitRowLimits split_row_limits(const LaunchContext& ctx) {
  if (ctx.device < 0 || ctx.device >= 64) return {};
  std::atomic<int>* cache = split_row_cache<T>();
  int packed = cache[ctx.device].load(std::memory_order_relaxed);
  if (packed == 0) {
    // First use inside a graph capture: no module queries there (they may load kernels); plan
    // without the split tiers this time and work the limits out on an eager call.
    cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
    const cudaError_t asked = cudaStreamIsCapturing(ctx.stream, &capturing);
    if (asked != cudaSuccess) (void)cudaGetLastError();
    if (asked != cudaSuccess || capturing != cudaStreamCaptureStatusNone) return {};
    SplitRowLimits l;
    bool failed = false;  // a query that errs answers "no"; its error is consumed below
    auto ok = [&failed](cudaError_t e) {
      failed |= e != cudaSuccess;
      return e == cudaSuccess;
    };
    const int smem = ctx.shared_memory_optin - static_cast<int>(kSoftmaxStaticSmemReserve);
    constexpr auto cluster_kernel =
        &softmax_forward_kernel<SoftmaxTier::kClusterRow, 1024, ChunkSplit<1>, T,
                                SoftmaxKind::kSoftmax>;
    cudaFuncAttributes attributes = {};
    if (ctx.max_cluster_blocks > 1 && smem > 0 &&
        ok(cudaFuncGetAttributes(&attributes, cluster_kernel)) && attributes.ptxVersion >= 90 &&
        ok(allow_opt_in_smem<cluster_kernel>(ctx))) {
      for (int c = ctx.max_cluster_blocks; c > 1 && l.max_cluster == 0; c /= 2) {
        if (c > kPortableClusterBlocks && !ok(allow_large_clusters<cluster_kernel>(ctx))) continue;
        cudaLaunchConfig_t config = {};
        config.gridDim = dim3(static_cast<unsigned>(c));
        config.blockDim = dim3(1024);
        config.dynamicSmemBytes = static_cast<size_t>(smem);
        cudaLaunchAttribute a = cluster_attribute(c);
        config.attrs = &a;
        config.numAttrs = 1;
        int clusters = 0;
        // 16-block clusters only where they can cover most of the SMs at once (a GPC with fewer
        // free SMs idles them; the grid tier would not).
        const bool placed =
            ok(cudaOccupancyMaxActiveClusters(&clusters, cluster_kernel, &config)) &&
            clusters > 0 &&
            (c <= kPortableClusterBlocks ||
             int64_t{clusters} * c * 4 >= int64_t{ctx.multiprocessor_count} * 3);
        if (placed) l.max_cluster = c;
      }
    }
    constexpr auto grid_kernel = &softmax_forward_kernel<SoftmaxTier::kGridRow, 1024, ChunkSplit<1>,
                                                         T, SoftmaxKind::kSoftmax>;
    int blocks = 0;
    l.cooperative = ctx.cooperative_launch && smem > 0 && ok(allow_opt_in_smem<grid_kernel>(ctx)) &&
                    ok(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, grid_kernel, 1024,
                                                                     static_cast<size_t>(smem))) &&
                    blocks > 0;
    if (failed) (void)cudaGetLastError();
    packed = pack_split_row_limits(l);
    cache[ctx.device].store(packed, std::memory_order_relaxed);
  }
  return {(packed - 1) / 2, ((packed - 1) & 1) != 0};
}

//! Whether a cluster or cooperative launch was refused for want of room (the partition has fewer
//! SMs than the device reports; the refusal comes back before anything runs). If so the refusal
//! is consumed, the device's limits for T lose that launch for good (a refused cluster: clusters
//! of half its size at most, none below 2 blocks; a refused cooperative grid: the grid tier), and
//! `limits` is what the caller re-plans with (a refused cluster still allows the grid tier, and so
//! on down). A partition that cannot place clusters of 256-thread column-tile blocks cannot place
//! the 1024-thread cluster rows' either, so both tiers share the limit.
template <class T>
bool split_launch_refused(const SoftmaxPlan& p, cudaError_t err, const LaunchContext& ctx,
                          SplitRowLimits* limits) {
  const bool clustered =
      p.tier == SoftmaxTier::kClusterRow || (is_column_tile(p.tier) && p.cluster > 1);
  if (!clustered && p.tier != SoftmaxTier::kGridRow) return false;
  if (err != cudaErrorCooperativeLaunchTooLarge && err != cudaErrorInvalidClusterSize &&
      err != cudaErrorLaunchOutOfResources) {
    return false;
  }
  (void)cudaGetLastError();
  if (clustered) {
    limits->max_cluster = p.cluster > 2 ? p.cluster / 2 : 0;
  } else {
    limits->cooperative = false;
  }
  if (ctx.device >= 0 && ctx.device < 64) {
    split_row_cache<T>()[ctx.device].store(pack_split_row_limits(*limits),
                                           std::memory_order_relaxed);
  }
  return true;
}

//! Plans with the device's split-row limits and launches; a launch the partition refuses is
//! re-planned within smaller limits (at most kSplitLaunchRetries times: clusters of 16, 8, 4 and
//! 2 blocks, then a cooperative grid; each refusal lowers one limit, so this ends anyway).
inline constexpr int kSplitLaunchRetries = 5;
template <class T, class Plan, class Launch>
cudaError_t plan_and_launch(const LaunchContext& ctx, Plan plan, Launch launch) {
  SplitRowLimits split = split_row_limits<T>(ctx);
  SoftmaxPlan p = plan(split);
  cudaError_t err = launch(p);
  for (int retry = 0; retry < kSplitLaunchRetries && split_launch_refused<T>(p, err, ctx, &split);
       ++retry) {
    p = plan(split);
    err = launch(p);
  }
  return err;
}

//! The plan of a call with tensors a, b (forward: x, y) or a, b, c (backward: y, dy, dx) under
//! the split-row limits `split`: load widths from the pointers and the shape (tuned: the
//! planner's thresholds when a benchmark measures others than the library's, else null).
template <class T>
SoftmaxPlan plan_softmax_call(const SoftmaxShape& s, bool backward, const void* a, const void* b,
                              const void* c, const SplitRowLimits& split, const LaunchContext& ctx,
                              const SoftmaxTuning* tuned = nullptr) {
  const int vec =
      backward ? softmax_vector_width<T>(s, {a, b, c}) : softmax_vector_width<T>(s, {a, b});
  const int congruent =
      backward ? softmax_congruent_width<T>({a, b, c}) : softmax_congruent_width<T>({a, b});
  return plan_softmax(s.outer, s.dim, s.inner, ctx.multiprocessor_count, ctx.shared_memory_optin,
                      sizeof(T), backward, vec, split.max_cluster, split.cooperative, congruent,
                      tuned);
}

//! Launches plan `p` of a call of either kind: forward out = softmax(a) (b unused), backward
//! out = dx from y = a and dy = b.
template <class T>
cudaError_t launch_softmax_plan(SoftmaxKind kind, const SoftmaxPlan& p, bool backward,
                                const void* a, const void* b, void* out, const SoftmaxShape& s,
                                bool safe, const LaunchContext& ctx) {
  const T* at = static_cast<const T*>(a);
  T* ot = static_cast<T*>(out);
  if (backward) {
    const T* bt = static_cast<const T*>(b);
    return kind == SoftmaxKind::kSoftmax
               ? launch_softmax_backward_kind<T, SoftmaxKind::kSoftmax>(p, at, bt, ot, s, ctx)
               : launch_softmax_backward_kind<T, SoftmaxKind::kLogSoftmax>(p, at, bt, ot, s, ctx);
  }
  return kind == SoftmaxKind::kSoftmax
             ? launch_softmax_forward_kind<T, SoftmaxKind::kSoftmax>(p, at, ot, s, safe, ctx)
             : launch_softmax_forward_kind<T, SoftmaxKind::kLogSoftmax>(p, at, ot, s, safe, ctx);
}

template <class T>
Status launch_softmax_forward_typed(SoftmaxKind kind, const void* x, void* y, const SoftmaxShape& s,
                                    bool safe, const LaunchContext& ctx) {
  const cudaError_t err = plan_and_launch<T>(
      ctx,
      [&](const SplitRowLimits& split) {
        return plan_softmax_call<T>(s, false, x, y, nullptr, split, ctx);
      },
      [&](const SoftmaxPlan& p) {
        return launch_softmax_plan<T>(kind, p, false, x, nullptr, y, s, safe, ctx);
      });
  return check_softmax_launch("cuact::softmax_forward", err);
}

template <class T>
Status launch_softmax_backward_typed(SoftmaxKind kind, const void* y, const void* dy, void* dx,
                                     const SoftmaxShape& s, const LaunchContext& ctx) {
  const cudaError_t err = plan_and_launch<T>(
      ctx,
      [&](const SplitRowLimits& split) {
        return plan_softmax_call<T>(s, true, y, dy, dx, split, ctx);
      },
      [&](const SoftmaxPlan& p) {
        return launch_softmax_plan<T>(kind, p, true, y, dy, dx, s, false, ctx);
      });
  return check_softmax_launch("cuact::softmax_backward", err);
}

}  // namespace cuact::detail

#define CUACT_DEFINE_SOFTMAX_LAUNCHERS(suffix, T)                                                 \
  namespace cuact::detail {                                                                       \
  Status launch_softmax_forward_##suffix(SoftmaxKind kind, const void* x, void* y,                \
                                         const SoftmaxShape& s, bool safe,                        \
                                         const LaunchContext& ctx) noexcept {                     \
    return launch_softmax_forward_typed<T>(kind, x, y, s, safe, ctx);                             \
  }                                                                                               \
  Status launch_softmax_backward_##suffix(SoftmaxKind kind, const void* y, const void* dy,        \
                                          void* dx, const SoftmaxShape& s,                        \
                                          const LaunchContext& ctx) noexcept {                    \
    return launch_softmax_backward_typed<T>(kind, y, dy, dx, s, ctx);                             \
  }                                                                                               \
  SoftmaxPlan softmax_plan_##suffix(const SoftmaxShape& s, bool backward, const void* a,          \
                                    const void* b, const void* c, const LaunchContext& ctx,       \
                                    const SoftmaxTuning* tuned) noexcept {                        \
    return plan_softmax_call<T>(s, backward, a, b, c, split_row_limits<T>(ctx), ctx, tuned);      \
  }                                                                                               \
  Status softmax_launch_plan_##suffix(SoftmaxKind kind, const SoftmaxPlan& p, bool backward,      \
                                      const void* a, const void* b, void* out,                    \
                                      const SoftmaxShape& s, const LaunchContext& ctx) noexcept { \
    return check_softmax_launch(                                                                  \
        "cuact::detail::softmax_launch_planned",                                                  \
        launch_softmax_plan<T>(kind, p, backward, a, b, out, s, false, ctx));                     \
  }                                                                                               \
  }
