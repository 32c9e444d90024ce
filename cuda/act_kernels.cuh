// SPDX-License-Identifier: Apache-2.0
//! @file cuda/act_kernels.cuh
//! The elementwise kernel family: act_forward_kernel<Op, T, Tiles> and
//! act_backward_kernel<Op, T, Saved, Tiles>.
//!
//! Each thread owns 16-byte output vectors of a 1024-vector tile, strided by the block size so
//! every warp-wide access is contiguous. Two ways in, as two instantiations of each kernel (the
//! third template argument, a tag that Nsight shows: act_forward_kernel<cuact::Gelu,
//! __nv_bfloat16, cuact::detail::StagedTiles>):
//! - StagedTiles (sm_90 and later): one block per tile. Thread 0 starts a bulk copy
//!   (cp.async.bulk, the copy engine cub::DeviceTransform's Hopper policy uses) of each input's
//!   tile into shared memory, the block waits on an mbarrier, and every thread reads its vectors
//!   from there, computes and stores 16 bytes at a time. The copy engine keeps the whole tile in
//!   flight without registers or load instructions, so the kernel runs on few registers and many
//!   blocks, and the loop over a thread's vectors is not unrolled: an op's code is one pack long.
//! - VectorTiles (sm_80, and any kernel image built for it): every thread issues all kUnroll
//!   16-byte loads of its vectors (4 x 16 B per stream in flight per thread: well above the
//!   ~32-48 KiB/SM Hopper needs at full occupancy) before any math; a one-pass grid up to a cap,
//!   then grid-stride.
//! Scalar head and tail elements (VectorPlan) go to the first threads of the grid in the same
//! launch either way.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "cuact/functors.cuh"
#include "cuact/precision.cuh"
#include "cuda/vector_plan.hpp"

namespace cuact::detail {

inline constexpr int kBlockThreads = 256;
inline constexpr int kUnroll = 4;
// Minimum resident 256-thread blocks per SM, which caps registers per thread so nothing spills
// (the build checks every instantiation: CUACT_PTXAS_WERROR in CMakeLists.txt). 16-bit forward
// (float math): 4 blocks, <= 64 registers, 4 vectors x 16 B in flight per thread = 64 KiB per
// SM. 16-bit backward holds two streams: 3 blocks, <= 85 registers, 96 KiB in flight. float32 /
// float64 (double math, whose libm calls need more registers): 2 blocks, <= 128 registers,
// 32-64 KiB in flight.
template <class T, bool kBackward>
inline constexpr int kMinBlocksPerSM = sizeof(T) == 2 ? (kBackward ? 3 : 4) : 2;
// The staged kernels hold one pack per stream, not four: 6 resident blocks (<= 40 registers) for
// 16-bit, 4 (<= 64) for float32 / float64. The stages (16.1 / 32.3 KiB per block) allow 13
// forward and 6 backward blocks per SM.
template <class T>
inline constexpr int kMinStagedBlocksPerSM = sizeof(T) == 2 ? 6 : 4;
inline constexpr int64_t kTileVectors = int64_t{kBlockThreads} * kUnroll;

using ::cuact::apply_backward;
using ::cuact::apply_forward;

// ---- 16-byte packs and realignment --------------------------------------------------------
// A pack is kept as four 32-bit words from load to store, so 16-bit elements stay two to a
// register (an array of __nv_bfloat16 would take a register per element and spill). The helpers
// are __host__ __device__ so tests/pack_test.cu checks them on the CPU.

struct alignas(16) Pack {
  uint32_t w[4];
};

template <class T>
inline constexpr int kPackSize = 16 / sizeof(T);

//! Element k of a pack (k is a compile-time constant after unrolling).
template <class T>
CUACT_HD T pack_get(const Pack& p, int k) {
  T v;
  if constexpr (sizeof(T) == 2) {
    const uint16_t bits = static_cast<uint16_t>(p.w[k >> 1] >> ((k & 1) * 16));
    __builtin_memcpy(&v, &bits, 2);
  } else if constexpr (sizeof(T) == 4) {
    __builtin_memcpy(&v, &p.w[k], 4);
  } else {
    const uint64_t bits = p.w[2 * k] | (uint64_t{p.w[2 * k + 1]} << 32);
    __builtin_memcpy(&v, &bits, 8);
  }
  return v;
}

template <class T>
CUACT_HD void pack_set(Pack& p, int k, T v) {
  if constexpr (sizeof(T) == 2) {
    uint16_t bits;
    __builtin_memcpy(&bits, &v, 2);
    const int shift = (k & 1) * 16;
    p.w[k >> 1] = (p.w[k >> 1] & ~(0xffffu << shift)) | (uint32_t{bits} << shift);
  } else if constexpr (sizeof(T) == 4) {
    __builtin_memcpy(&p.w[k], &v, 4);
  } else {
    uint64_t bits;
    __builtin_memcpy(&bits, &v, 8);
    p.w[2 * k] = static_cast<uint32_t>(bits);
    p.w[2 * k + 1] = static_cast<uint32_t>(bits >> 32);
  }
}

//! Bytes [kBytes, kBytes + 16) of the 32 bytes lo:hi (kBytes even): word moves, plus one funnel
//! shift per word when the offset is half a word.
template <int kBytes>
CUACT_HD Pack realign_bytes(const Pack& lo, const Pack& hi) {
  const uint32_t w[8] = {lo.w[0], lo.w[1], lo.w[2], lo.w[3], hi.w[0], hi.w[1], hi.w[2], hi.w[3]};
  Pack r;
  for (int i = 0; i < 4; ++i) {  // constant trip count: fully unrolled
    constexpr int kWord = kBytes / 4;
    if constexpr (kBytes % 4 == 0) {
      r.w[i] = w[i + kWord];
    } else {
      r.w[i] = (w[i + kWord] >> 16) | (w[i + kWord + 1] << 16);
    }
  }
  return r;
}

//! Elements [k, k + V) of lo:hi for a runtime k in [1, V): one uniform branch per call.
template <class T, int K = 1>
CUACT_HD Pack realign(int k, const Pack& lo, const Pack& hi) {
  if constexpr (K >= kPackSize<T>) {
    return lo;  // unreachable: k < V
  } else {
    return k == K ? realign_bytes<K* static_cast<int>(sizeof(T))>(lo, hi)
                  : realign<T, K + 1>(k, lo, hi);
  }
}

// Unrolling hints only in the device pass: the host pass of these __host__ __device__ helpers is
// compiled by the host compiler, which does not know the pragma.
#if defined(__CUDA_ARCH__)
#define CUACT_UNROLL _Pragma("unroll")
#else
#define CUACT_UNROLL
#endif

//! apply_forward on every element of a pack, out of line: forward_pack's rare path.
template <class T, class Op>
CUACT_HD_COLD Pack forward_pack_cold(Op op, Pack in) {
  Pack out;
  for (int k = 0; k < kPackSize<T>; ++k)
    pack_set(out, k, apply_forward(op, pack_get<T>(in, k)));
  return out;
}

//! apply_forward on every element of a pack, with the same results element for element
//! (tests/pack_test.cu), but for a 16-bit op with a forward_interval the rounding test is made
//! once per pack: every element's bounds converted (two to an F2FP), the packs of lower and
//! upper bounds compared word by word, and the double path (out of line) run only when some
//! element's bounds round apart. Per element that replaces a compare, a branch and a call site;
//! the call sites also made nvcc reload the op's constants after each element (the registers a
//! call may clobber): 36 -> 19 instructions per bfloat16 element for relu with general parameters,
//! 21 -> 13 for leaky_relu.
template <class T, class Op>
CUACT_HD Pack forward_pack(const Op& op, const Pack& in) {
  constexpr int V = kPackSize<T>;
  Pack out;
  if constexpr (sizeof(T) == 2 && HasForwardInterval<Op>::value) {
    bool exact = false;
    if constexpr (HasExactFloatForward<Op>::value) exact = op.exact_float_forward_applies();
    if (!exact) {
      Pack hi;
      CUACT_UNROLL
      for (int k = 0; k < V; ++k) {
        const FloatInterval b = op.forward_interval(to_compute(pack_get<T>(in, k)));
        pack_set(out, k, to_storage<T>(b.lo));
        pack_set(hi, k, to_storage<T>(b.hi));
      }
      const uint32_t apart =
          (out.w[0] ^ hi.w[0]) | (out.w[1] ^ hi.w[1]) | (out.w[2] ^ hi.w[2]) | (out.w[3] ^ hi.w[3]);
      return apart == 0 ? out : forward_pack_cold<T>(op, in);
    }
  }
  CUACT_UNROLL
  for (int k = 0; k < V; ++k)
    pack_set(out, k, apply_forward(op, pack_get<T>(in, k)));
  return out;
}

//! Where a thread's 16-byte loads come from. Aligned streams are read once: evict-first (.cs).
//! Realigned streams read each chunk twice (neighbouring threads), so they keep it in L1.
//! tests/kernel_emulation_test.cu runs the same thread bodies with plain host loads.
struct DeviceLoads {
  __device__ static uint4 once(const uint4* p) { return __ldcs(p); }
  __device__ static uint4 twice(const uint4* p) { return __ldg(p); }
};

//! A thread's kUnroll vectors of one input stream (vector u lines up with the output vector at
//! element head + (first + u * kBlockThreads) * V; those below num_vectors). Every load of the
//! stream is issued before the first permute: realigned one vector at a time, the permutes of a
//! vector waited for its own loads before the next vector's were issued (32 bytes in flight per
//! thread instead of 128 on a misaligned input). Backward loads its two streams one after the
//! other this way: the sixteen chunks of both misaligned streams at once need 64 registers and
//! spilled in the 16-bit backward kernels (85 at most; the build's ptxas check caught it).
#pragma nv_exec_check_disable
template <class Loads, class T>
CUACT_HD void load_tile(Pack (&in)[kUnroll], const T* src, int64_t head, int64_t first,
                        int64_t num_vectors, int shift) {
  constexpr int V = kPackSize<T>;
  if (shift == 0) {
    CUACT_UNROLL
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t j = first + u * kBlockThreads;
      if (j >= num_vectors) continue;
      const uint4 v = Loads::once(reinterpret_cast<const uint4*>(src + (head + j * V)));
      __builtin_memcpy(&in[u], &v, sizeof(Pack));
    }
    return;
  }
  Pack lo[kUnroll] = {}, hi[kUnroll] = {};
  CUACT_UNROLL
  for (int u = 0; u < kUnroll; ++u) {
    const int64_t j = first + u * kBlockThreads;
    if (j >= num_vectors) continue;
    const uint4* chunk = reinterpret_cast<const uint4*>(src + (head + j * V - shift));
    const uint4 l = Loads::twice(chunk);
    const uint4 h = Loads::twice(chunk + 1);
    __builtin_memcpy(&lo[u], &l, sizeof(Pack));
    __builtin_memcpy(&hi[u], &h, sizeof(Pack));
  }
  CUACT_UNROLL
  for (int u = 0; u < kUnroll; ++u)
    in[u] = realign<T>(shift, lo[u], hi[u]);
}

template <class T>
CUACT_HD void store_pack(T* out, int64_t e, const Pack& p) {
#if defined(__CUDA_ARCH__)
  uint4 raw;  // out + e is 16-byte aligned: one STG.128
  __builtin_memcpy(&raw, &p, sizeof raw);
  __stwb(reinterpret_cast<uint4*>(out + e), raw);  // default write-back: the next op reads it
#else
  __builtin_memcpy(out + e, &p, sizeof p);
#endif
}

CUACT_HD int64_t edge_count(const VectorPlan& plan) {
  return plan.head + (plan.n - plan.tail_begin);
}

//! Index of the scalar edge element handled by edge thread `t` (t < edge_count(plan)).
CUACT_HD int64_t edge_element(const VectorPlan& plan, int64_t t) {
  return t < plan.head ? t : plan.tail_begin + (t - plan.head);
}

// ---- one thread's work (shared by the kernels and the CPU emulation test) ------------------

//! Thread `tid` of the grid computes scalar edge element edge_element(plan, tid), if it has one.
#pragma nv_exec_check_disable
template <class Op, class T>
CUACT_HD void forward_edge(const T* x, T* y, const VectorPlan& plan, const Op& op, int64_t tid) {
  if (tid < edge_count(plan)) {
    const int64_t i = edge_element(plan, tid);
    y[i] = apply_forward(op, x[i]);
  }
}

#pragma nv_exec_check_disable
template <Saved kSaved, class Op, class T>
CUACT_HD void backward_edge(const T* dy, const T* saved, T* dx, const VectorPlan& plan,
                            const Op& op, int64_t tid) {
  if (tid < edge_count(plan)) {
    const int64_t i = edge_element(plan, tid);
    dx[i] = apply_backward<kSaved>(op, dy[i], saved[i]);
  }
}

//! Thread `thread` of block `block` in a grid of `grid` blocks: its scalar edge element, if any,
//! then kUnroll output vectors per tile, all loads issued before any math.
#pragma nv_exec_check_disable
template <class Loads, class Op, class T>
CUACT_HD void forward_thread(const T* x, T* y, const VectorPlan& plan, const Op& op, int64_t block,
                             int thread, int64_t grid) {
  constexpr int V = kPackSize<T>;
  forward_edge(x, y, plan, op, block * kBlockThreads + thread);
  for (int64_t tile = block; tile * kTileVectors < plan.num_vectors; tile += grid) {
    const int64_t first = tile * kTileVectors + thread;
    Pack in[kUnroll];
    load_tile<Loads>(in, x, plan.head, first, plan.num_vectors, plan.shift[0]);
    CUACT_UNROLL
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t j = first + u * kBlockThreads;
      if (j >= plan.num_vectors) break;
      store_pack(y, plan.head + j * V, forward_pack<T>(op, in[u]));
    }
  }
}

//! dx = dy * f'(saved), saved = x or y (kSaved): one pass over three streams.
#pragma nv_exec_check_disable
template <class Loads, Saved kSaved, class Op, class T>
CUACT_HD void backward_thread(const T* dy, const T* saved, T* dx, const VectorPlan& plan,
                              const Op& op, int64_t block, int thread, int64_t grid) {
  constexpr int V = kPackSize<T>;
  backward_edge<kSaved>(dy, saved, dx, plan, op, block * kBlockThreads + thread);
  for (int64_t tile = block; tile * kTileVectors < plan.num_vectors; tile += grid) {
    const int64_t first = tile * kTileVectors + thread;
    Pack g[kUnroll], s[kUnroll];
    load_tile<Loads>(g, dy, plan.head, first, plan.num_vectors, plan.shift[0]);
    load_tile<Loads>(s, saved, plan.head, first, plan.num_vectors, plan.shift[1]);
    CUACT_UNROLL
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t j = first + u * kBlockThreads;
      if (j >= plan.num_vectors) break;
      Pack out;
      CUACT_UNROLL
      for (int k = 0; k < V; ++k) {
        pack_set(out, k, apply_backward<kSaved>(op, pack_get<T>(g[u], k), pack_get<T>(s[u], k)));
      }
      store_pack(dx, plan.head + j * V, out);
    }
  }
}

// ---- staged tiles --------------------------------------------------------------------------
// A stream's stage holds the 16-byte chunks its tile's vectors read: chunk c is the input's
// elements [head + (tile * kTileVectors + c) * V - shift, + V), aligned because shift is the
// input's misalignment against the output's vectors. A realigned stream reads one chunk past its
// last vector, in range by the plan's construction (make_vector_plan sizes the body for it).

//! Kernel tags: the way a kernel's inputs come in (see the file comment).
struct VectorTiles {};
struct StagedTiles {};

//! Chunks one stream's stage holds at most; its bytes, rounded up to 128 (the second stage starts
//! on a 128-byte boundary, where bulk copies run fastest); the dynamic shared memory a staged
//! launch passes for one or two input streams.
inline constexpr int kStageChunks = static_cast<int>(kTileVectors) + 1;
inline constexpr int kStageBytes = (kStageChunks * 16 + 127) / 128 * 128;
inline constexpr int kStagePacks = kStageBytes / 16;  //!< stream s's stage: stage + s * kStagePacks
template <bool kBackward>
inline constexpr int kStagedSmemBytes = (kBackward ? 2 : 1) * kStageBytes;

//! Vectors of tile `tile` (at most kTileVectors; fewer in the last tile).
CUACT_HD int tile_vectors(const VectorPlan& plan, int64_t tile) {
  const int64_t left = plan.num_vectors - tile * kTileVectors;
  return static_cast<int>(left < kTileVectors ? left : kTileVectors);
}

//! Tiles of the body: the staged kernels' grid is one block per tile (at least one block, which
//! also covers the scalar edges).
CUACT_HD int64_t tile_count(const VectorPlan& plan) {
  const int64_t tiles = (plan.num_vectors + kTileVectors - 1) / kTileVectors;
  return tiles > 0 ? tiles : 1;
}

//! Where stream `s` of a tile comes from: its first element and the chunks to copy.
struct StageSource {
  int64_t first_element;
  int chunks;
};
template <class T>
CUACT_HD StageSource stage_source(const VectorPlan& plan, int64_t tile, int s) {
  const int64_t first_vector = tile * kTileVectors;
  return {plan.head + first_vector * kPackSize<T> - plan.shift[s],
          tile_vectors(plan, tile) + (plan.shift[s] != 0 ? 1 : 0)};
}

//! Vector v of a stage, realigned in registers where the stream is shifted.
template <class T>
CUACT_HD Pack stage_pack(const Pack* stage, int v, int shift) {
  return shift == 0 ? stage[v] : realign<T>(shift, stage[v], stage[v + 1]);
}

//! Thread `thread`'s vectors of a staged tile (thread, thread + 256, ...): read from the stage,
//! computed, stored. Not unrolled for 16-bit types (8 elements per pack are ILP enough, and the
//! body stays one pack long whatever the op costs: the vector path inlines four, which for a
//! transcendental op outgrows the instruction cache); twice for 4- and 8-byte types, whose packs
//! hold 4 and 2 elements. The stage is indexable where registers are not.
#pragma nv_exec_check_disable
template <class Op, class T>
CUACT_HD void forward_staged_tile(const Pack* stage, T* y, const VectorPlan& plan, const Op& op,
                                  int64_t tile, int thread) {
  constexpr int V = kPackSize<T>;
  const int vectors = tile_vectors(plan, tile);
  T* out_tile = y + plan.head + tile * kTileVectors * V;
#if defined(__CUDA_ARCH__)
  constexpr int kStagedUnroll = sizeof(T) == 2 ? 1 : 2;
#pragma unroll kStagedUnroll
#endif
  for (int v = thread; v < vectors; v += kBlockThreads) {
    store_pack(out_tile, int64_t{v} * V,
               forward_pack<T>(op, stage_pack<T>(stage, v, plan.shift[0])));
  }
}

#pragma nv_exec_check_disable
template <Saved kSaved, class Op, class T>
CUACT_HD void backward_staged_tile(const Pack* dy_stage, const Pack* saved_stage, T* dx,
                                   const VectorPlan& plan, const Op& op, int64_t tile, int thread) {
  constexpr int V = kPackSize<T>;
  const int vectors = tile_vectors(plan, tile);
  T* out_tile = dx + plan.head + tile * kTileVectors * V;
#if defined(__CUDA_ARCH__)
  constexpr int kStagedUnroll = sizeof(T) == 2 ? 1 : 2;
#pragma unroll kStagedUnroll
#endif
  for (int v = thread; v < vectors; v += kBlockThreads) {
    const Pack g = stage_pack<T>(dy_stage, v, plan.shift[0]);
    const Pack s = stage_pack<T>(saved_stage, v, plan.shift[1]);
    Pack out;
    CUACT_UNROLL
    for (int k = 0; k < V; ++k)
      pack_set(out, k, apply_backward<kSaved>(op, pack_get<T>(g, k), pack_get<T>(s, k)));
    store_pack(out_tile, int64_t{v} * V, out);
  }
}

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define CUACT_HAS_STAGED_TILES 1

// The bulk-copy PTX (ISA 8.0, sm_90), written out rather than through cuda::ptx so any CUDA 12
// toolkit builds it. Shared-memory operands are 32-bit shared-window addresses.
__device__ __forceinline__ uint32_t smem_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

//! Thread 0 of the block: initialises the barrier (one arrival per phase), makes it visible to
//! the copy engine (the async proxy), arms it with the tile's bytes and starts one bulk copy per
//! stream, evict-first in L2 (every input byte is read once, as the vector path's __ldcs).
template <int kStreams, class T>
__device__ __forceinline__ void stage_start(Pack* stage, const T* const (&src)[kStreams],
                                            const VectorPlan& plan, int64_t tile, uint64_t* full) {
  const uint32_t bar = smem_address(full);
  asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(bar) : "memory");
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
  StageSource from[kStreams];
  uint32_t bytes = 0;
  for (int s = 0; s < kStreams; ++s) {
    from[s] = stage_source<T>(plan, tile, s);
    bytes += static_cast<uint32_t>(from[s].chunks) * 16u;
  }
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes)
               : "memory");
  uint64_t policy;
  asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(policy));
  for (int s = 0; s < kStreams; ++s) {
    asm volatile(
        "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes.L2::cache_hint"
        " [%0], [%1], %2, [%3], %4;" ::"r"(smem_address(stage + s * kStagePacks)),
        "l"(static_cast<uint64_t>(__cvta_generic_to_global(src[s] + from[s].first_element))),
        "r"(static_cast<uint32_t>(from[s].chunks) * 16u), "r"(bar), "l"(policy)
        : "memory");
  }
}

//! Every thread: waits for the barrier's first phase, i.e. until every copied byte has landed.
__device__ __forceinline__ void stage_wait(uint64_t* full) {
  const uint32_t bar = smem_address(full);
  uint32_t done = 0;
  while (!done) {
    asm volatile(
        "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], 0;\n"
        " selp.u32 %0, 1, 0, p;\n}"
        : "=r"(done)
        : "r"(bar)
        : "memory");
  }
}

//! The stages: kStagedSmemBytes of dynamic shared memory, 128-byte aligned.
__device__ __forceinline__ Pack* stage_memory() {
  extern __shared__ __align__(128) unsigned char act_stage_smem[];
  return reinterpret_cast<Pack*>(act_stage_smem);
}
#endif

// ---- the kernels --------------------------------------------------------------------------

// A StagedTiles kernel's image for an architecture before sm_90 runs the vector body, under the
// vector bounds (under the staged ones it spilled).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
template <class T, class Tiles, bool kBackward>
inline constexpr int kKernelMinBlocks = kMinBlocksPerSM<T, kBackward>;
#else
template <class T, class Tiles, bool kBackward>
inline constexpr int kKernelMinBlocks =
    std::is_same_v<Tiles, StagedTiles> ? kMinStagedBlocksPerSM<T> : kMinBlocksPerSM<T, kBackward>;
#endif

//! Forward. StagedTiles: launched with kStagedSmemBytes<false> of dynamic shared memory and
//! tile_count(plan) blocks; an image built before sm_90 runs the vector body instead (correct for
//! any grid).
template <class Op, class T, class Tiles>
__global__ void __launch_bounds__(kBlockThreads, (kKernelMinBlocks<T, Tiles, false>))
    act_forward_kernel(const T* x, T* y, VectorPlan plan, Op op) {
#if defined(CUACT_HAS_STAGED_TILES)
  if constexpr (std::is_same_v<Tiles, StagedTiles>) {
    __shared__ uint64_t full;
    Pack* stage = stage_memory();
    const int64_t tile = blockIdx.x;
    const bool has_tile = tile * kTileVectors < plan.num_vectors;  // false: only edges (n small)
    if (threadIdx.x == 0 && has_tile) {
      const T* const src[1] = {x};
      stage_start<1>(stage, src, plan, tile, &full);
    }
    forward_edge(x, y, plan, op, int64_t{blockIdx.x} * kBlockThreads + threadIdx.x);
    if (!has_tile) return;
    __syncthreads();  // the barrier initialised before anyone waits on it
    stage_wait(&full);
    forward_staged_tile(stage, y, plan, op, tile, threadIdx.x);
    return;
  }
#endif
  forward_thread<DeviceLoads>(x, y, plan, op, blockIdx.x, threadIdx.x, gridDim.x);
}

//! Backward, as forward with two staged streams (dy, saved) and kStagedSmemBytes<true>.
template <class Op, class T, Saved kSaved, class Tiles>
__global__ void __launch_bounds__(kBlockThreads, (kKernelMinBlocks<T, Tiles, true>))
    act_backward_kernel(const T* dy, const T* saved, T* dx, VectorPlan plan, Op op) {
#if defined(CUACT_HAS_STAGED_TILES)
  if constexpr (std::is_same_v<Tiles, StagedTiles>) {
    __shared__ uint64_t full;
    Pack* stage = stage_memory();
    const int64_t tile = blockIdx.x;
    const bool has_tile = tile * kTileVectors < plan.num_vectors;
    if (threadIdx.x == 0 && has_tile) {
      const T* const src[2] = {dy, saved};
      stage_start<2>(stage, src, plan, tile, &full);
    }
    backward_edge<kSaved>(dy, saved, dx, plan, op,
                          int64_t{blockIdx.x} * kBlockThreads + threadIdx.x);
    if (!has_tile) return;
    __syncthreads();
    stage_wait(&full);
    backward_staged_tile<kSaved>(stage, stage + kStagePacks, dx, plan, op, tile, threadIdx.x);
    return;
  }
#endif
  backward_thread<DeviceLoads, kSaved>(dy, saved, dx, plan, op, blockIdx.x, threadIdx.x, gridDim.x);
}

}  // namespace cuact::detail
