// SPDX-License-Identifier: Apache-2.0
//! @file cuda/softmax_kernels.cuh
//! softmax_forward_kernel / softmax_backward_kernel, one per tier (cuda/softmax_plan.hpp).
//! The per-element and per-row math is __host__ __device__ so tests/softmax_math_test.cu checks
//! it on the CPU, reductions emulated lane by lane.
//!
//! Forward: each row is reduced to an online (max, sum of exp(x - max)) pair, so one pass gives
//! both (Milakov & Gimelshein); pairs combine associatively across lanes and warps through
//! cub::WarpReduce / cub::BlockReduce. A second pass writes exp(x - max) / sum, or
//! (x - max) - log(sum). Backward: one reduction (sum of y dy, or of dy), then the output pass.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cooperative_groups.h>
#include <cstdint>
#include <cub/block/block_reduce.cuh>
#include <cub/warp/warp_reduce.cuh>
#include <type_traits>

#include "cuact/precision.cuh"
#include "cuact/softmax.hpp"
#include "cuda/softmax_plan.hpp"

namespace cuact::detail {

//! Accumulation type: float for 16-bit storage, double for float32 and float64.
template <class T>
using softmax_acc_t = std::conditional_t<sizeof(T) == 2, float, double>;

//! Row values: every storage value is exact in float (16-bit, float32) or double.
template <class T>
using softmax_val_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

template <class T>
CUACT_HD softmax_val_t<T> softmax_value(T x) {
  return static_cast<softmax_val_t<T>>(to_compute(x));
}

//! e^(x - max) for a row value x and the row's maximum (or any larger row value). float32: x - max
//! is carried as a float pair (two-sum), so its rounding is not amplified by the exponential
//! (exp(-69) would otherwise be off by 69 * 2^-24, past the 1e-6 contract), and exp is the float
//! one (2 ulp), all on the FP32 pipe. 16-bit: the float difference is exact enough (its error is
//! below 2^-20 relative for any probability above 2^-128). float64: exp(x - max) in double.
template <class T>
CUACT_HD softmax_val_t<T> softmax_exp_shifted(softmax_val_t<T> x, softmax_val_t<T> max) {
  if constexpr (std::is_same_v<T, double>) {
    return ::exp(x - max);
  } else if constexpr (std::is_same_v<T, float>) {
    const float d = x - max;
    if (d < -104.0f) return 0.0f;  // e^d < 2^-150 (also x = -inf); NaN goes on
    const float back = d - x;      // two-sum: x + (-max) = d + lo exactly
    const float lo = (x - (d - back)) + (-max - back);
    const float e = ::expf(d);
    return fmaf(e, lo, e);
  } else {
    return ::expf(x - max);
  }
}

//! NaN-propagating maximum: once a NaN is seen it stays (b > NaN and NaN > a are both false).
template <class V>
CUACT_HD V nan_max(V a, V b) {
  return (b > a || b != b) ? b : a;
}

//! A row's running max and its sum of exp(x - max), kept as sum - 1 ("excess"): the maximum's own
//! term is exactly 1, so log(sum) = log1p(excess) keeps the small terms that 1 + excess would
//! round away (log_softmax of a dominant entry is -log1p(excess), not 0). Empty: (-inf, -1).
template <class A>
struct MaxSum {
  A max;
  A excess;
};

template <class A>
CUACT_HD MaxSum<A> empty_max_sum() {
  return {-static_cast<A>(HUGE_VAL), A(-1)};
}

//! e^(old - new), the factor that rescales a running sum when its maximum rises from `old` to
//! `new`. A row rising element by element rescales at every one and these roundings add up (a
//! 20000-element rising row broke the float32 1e-6 contract with a float factor): float32 takes
//! it in double, where the difference of two floats is exact and the sum is double anyway.
//! 16-bit rows keep the float factor: their float sum rounds at each rescale regardless.
//! Out of line: a double exp inlined into every unrolled accumulate would nearly double the
//! online kernels' code, for a call that ordinary rows make about ln(n) times per thread.
CUACT_HD_COLD inline double rescale_factor_f32(double old_max, double new_max) {
  return ::exp(old_max - new_max);  // -inf - new gives 0
}
template <class T, class A>
CUACT_HD A rescale_factor(A old_max, A new_max) {
  if constexpr (std::is_same_v<T, float>) {
    return rescale_factor_f32(old_max, new_max);  // A is double
  } else {
    using V = softmax_val_t<T>;
    return softmax_exp_shifted<T>(V(old_max), V(new_max));
  }
}

//! Adds one element: a new maximum rescales the sum; -inf adds nothing; NaN poisons the row.
template <class T, class A>
CUACT_HD void accumulate(MaxSum<A>& p, A x) {
  using V = softmax_val_t<T>;
  if (x > p.max) {  // old sum, rescaled; the new max's own term is 1
    p.excess = (p.excess + A(1)) * rescale_factor<T>(p.max, x);
    p.max = x;
  } else if (x != x) {
    p.max = x;
    p.excess = x;
  } else if (x > -static_cast<A>(HUGE_VAL)) {
    p.excess += softmax_exp_shifted<T>(V(x), V(p.max));
  }
}

template <class T>
struct CombineMaxSum {
  using A = softmax_acc_t<T>;
  CUACT_HD MaxSum<A> operator()(const MaxSum<A>& a, const MaxSum<A>& b) const {
    if (a.max != a.max) return a;
    if (b.max != b.max) return b;
    if (a.max == -static_cast<A>(HUGE_VAL)) return b;  // a is empty (or all -inf)
    if (b.max == -static_cast<A>(HUGE_VAL)) return a;
    // The side with the larger max keeps its implicit 1; the other's full sum is rescaled.
    return a.max >= b.max
               ? MaxSum<A>{a.max, a.excess + (b.excess + A(1)) * rescale_factor<T>(b.max, a.max)}
               : MaxSum<A>{b.max, b.excess + (a.excess + A(1)) * rescale_factor<T>(a.max, b.max)};
  }
};

//! The register tiers' second pass, per lane: e^(x - max) summed over the elements below the
//! row's maximum, and a count of those equal to it (their terms are exactly 1). Summed over the
//! row, below + (at_max - 1) is the excess (see MaxSum) with no rounding of the 1. float32 sums
//! its terms in float, compensated (Neumaier), and goes to double once per lane: a conversion
//! per element would cost as much as the exponential on the same 16-per-clock pipe.
template <class T>
struct LaneSum {
  softmax_val_t<T> hi = 0;
  softmax_val_t<T> lo = 0;  //!< float32 only: the compensation
  int at_max = 0;
  CUACT_HD softmax_acc_t<T> total() const {
    return static_cast<softmax_acc_t<T>>(hi) + static_cast<softmax_acc_t<T>>(lo);
  }
};

//! Adds element x and returns its term e^(x - max) (1 at the max), kept for the output pass.
template <class T>
CUACT_HD softmax_val_t<T> add_to_lane_sum(LaneSum<T>& s, softmax_val_t<T> x, softmax_val_t<T> max) {
  using V = softmax_val_t<T>;
  if (x == max) {
    ++s.at_max;
    return V(1);
  }
  const V e = softmax_exp_shifted<T>(x, max);
  if constexpr (std::is_same_v<T, float>) {
    const float t = s.hi + e;
    s.lo += fabsf(s.hi) >= fabsf(e) ? (s.hi - t) + e : (e - t) + s.hi;
    s.hi = t;
  } else {
    s.hi += e;
  }
  return e;
}

template <class A>
CUACT_HD MaxSum<A> max_sum_from(A max, A below, int at_max) {
  return {max, below + A(at_max - 1)};
}

//! What the output pass needs from a row's (max, sum).
template <class A>
struct RowScale {
  A max;
  A inv_sum;    //!< softmax
  A log_sum;    //!< log_softmax
  bool masked;  //!< all -inf, with all_masked_rows_give_zero
};

template <SoftmaxKind kKind, class A>
CUACT_HD RowScale<A> finish(MaxSum<A> p, bool safe) {
  const A inf = static_cast<A>(HUGE_VAL);
  RowScale<A> r{p.max, A(1) / (A(1) + p.excess),
                kKind == SoftmaxKind::kLogSoftmax ? ::log1p(p.excess) : A(0), false};
  if (p.max == inf) {  // +inf in the row: inf - inf, so the whole row is NaN
    r.max = inf - inf;
  } else if (p.max == -inf) {  // every entry -inf: 0 / 0, or the safe convention
    if (safe) {
      r.masked = true;
    } else {
      r.max = inf - inf;
    }
  }
  return r;
}

//! Every tier's output pass, in the row value type: y = e inv_sum with the term e kept from the
//! sum pass (register tiers) or recomputed (float32 and 16-bit: one float multiply, no
//! conversions to double per element; float64: the double one), or log_softmax
//! (x - max) - log_sum with both differences exact to a float pair for float32.
template <class T>
struct RegisterScale {
  using V = softmax_val_t<T>;
  V max, inv_sum, log_hi, log_lo;
  bool masked;
  RegisterScale() = default;
  template <class A>
  CUACT_HD explicit RegisterScale(const RowScale<A>& r)
      : max(static_cast<V>(r.max)),
        inv_sum(r.max != r.max ? static_cast<V>(r.max) : static_cast<V>(r.inv_sum)),
        log_hi(static_cast<V>(r.log_sum)),
        log_lo(static_cast<V>(r.log_sum - static_cast<A>(static_cast<V>(r.log_sum)))),
        masked(r.masked) {}
};

template <class T, SoftmaxKind kKind>
CUACT_HD T register_output(softmax_val_t<T> x, softmax_val_t<T> e, const RegisterScale<T>& r) {
  using V = softmax_val_t<T>;
  if (r.masked)
    return to_storage<T>(kKind == SoftmaxKind::kSoftmax ? V(0) : -static_cast<V>(HUGE_VAL));
  if constexpr (kKind == SoftmaxKind::kSoftmax) {
    return to_storage<T>(e * r.inv_sum);
  } else if constexpr (std::is_same_v<T, float>) {
    const float d = x - r.max;        // x - max = d + d_lo exactly (two-sum)
    if (!(d > -HUGE_VALF)) return d;  // x = -inf (the pair would be NaN), or NaN
    const float db = d - x;
    const float d_lo = (x - (d - db)) + (-r.max - db);
    const float s = d - r.log_hi;  // d - log_hi = s + s_lo exactly
    const float sb = s - d;
    const float s_lo = (d - (s - sb)) + (-r.log_hi - sb);
    return s + ((s_lo + d_lo) - r.log_lo);
  } else {
    return to_storage<T>((x - r.max) - r.log_hi);
  }
}

//! One output from its input, the exponential recomputed: every tier but the register tiers'
//! kept terms (the online tiers, the staged values, the register tiers' row edges).
template <class T, SoftmaxKind kKind>
CUACT_HD T recomputed_output(T x, const RegisterScale<T>& r) {
  const softmax_val_t<T> xv = softmax_value(x);
  return register_output<T, kKind>(xv, softmax_exp_shifted<T>(xv, r.max), r);
}

//! Row reduction for the backward pass: sum of y dy (softmax) or of dy (log_softmax).
template <class T, SoftmaxKind kKind>
CUACT_HD softmax_acc_t<T> backward_term(T y, T dy) {
  using A = softmax_acc_t<T>;
  if constexpr (kKind == SoftmaxKind::kSoftmax) {
    return static_cast<A>(to_compute(y)) * static_cast<A>(to_compute(dy));
  } else {
    return static_cast<A>(to_compute(dy));
  }
}

template <class T, SoftmaxKind kKind>
CUACT_HD T backward_output(T y, T dy, softmax_acc_t<T> total) {
  using A = softmax_acc_t<T>;
  const A yv = static_cast<A>(to_compute(y));
  const A g = static_cast<A>(to_compute(dy));
  if constexpr (kKind == SoftmaxKind::kSoftmax) {
    return to_storage<T>(yv * (g - total));
  } else {
    return to_storage<T>(g - softmax_exp_shifted<T>(softmax_value(y), 0) * total);
  }
}

// ---- forward, per tier ---------------------------------------------------------------------

//! The warp-row split of a row: kLanes lanes per row (32 / kLanes rows per warp), kPerLane
//! values per lane loaded kVec at a time. Lane l of a row holds body chunks c kLanes + l,
//! c < kChunks (RegisterRow): each load instruction of the row group reads kLanes kVec
//! consecutive elements. Edges: rows may be misaligned (a scalar head and tail around the
//! 16-byte loads, SoftmaxPlan::row_edges); a separate kernel, so that aligned rows do not pay
//! its registers.
template <int Lanes, int PerLane, int Vec, bool Edges = false>
struct WarpSplit {
  static constexpr int kLanes = Lanes;
  static constexpr int kPerLane = PerLane;
  static constexpr int kVec = Vec;
  static constexpr bool kEdges = Edges;
  static_assert(kLanes >= 1 && kLanes <= 32 && (kLanes & (kLanes - 1)) == 0, "lanes: 2^k <= 32");
  static_assert(kPerLane % kVec == 0 && kPerLane <= 32, "whole vectors, at most 32 per lane");
  static constexpr int kRowsPerWarp = 32 / kLanes;
  static constexpr int kChunks = kPerLane / kVec;
  static constexpr int kBlockThreads = 256;  //!< the launch's block size
  // Rows advance by whole warps, so every lane reaches every shuffle: a warp takes rows
  // first_row() + [0, kRowsPerWarp), then steps by row_stride().
  __device__ static int group() { return (threadIdx.x % 32) / kLanes; }
  __device__ static int lane_in_group() { return threadIdx.x % kLanes; }
  __device__ static int64_t first_row() {
    return (int64_t{blockIdx.x} * (blockDim.x / 32) + threadIdx.x / 32) * kRowsPerWarp;
  }
  __device__ static int64_t row_stride() {
    return int64_t{gridDim.x} * (blockDim.x / 32) * kRowsPerWarp;
  }
};
//! The block-register split: one row per block of Threads threads (the row's lanes), PerLane
//! values per thread loaded Vec at a time, edges as WarpSplit.
template <int Threads, int PerLane, int Vec, bool Edges = false>
struct BlockSplit {
  static constexpr int kThreads = Threads;
  static constexpr int kBlockThreads = Threads;
  static constexpr int kLanes = Threads;
  static constexpr int kPerLane = PerLane;
  static constexpr int kVec = Vec;
  static constexpr bool kEdges = Edges;
  static constexpr int kChunks = PerLane / Vec;
  static_assert(PerLane % Vec == 0 && PerLane <= 32, "whole vectors, at most 32 per thread");
  __device__ static int group() { return 0; }
  __device__ static int lane_in_group() { return threadIdx.x; }
  __device__ static int64_t first_row() { return blockIdx.x; }
  __device__ static int64_t row_stride() { return gridDim.x; }
};
//! The split of the other block tiers and the column tier (none).
struct NoSplit {};

//! How many elements `p` sits past a 16-byte boundary: every tensor of a call sits alike
//! (softmax_congruent_width) wherever a tier splits rows by row_segment.
template <class T>
__device__ __forceinline__ int elements_past_16_bytes(const T* p) {
  return static_cast<int>(reinterpret_cast<uintptr_t>(p) % 16 / sizeof(T));
}

// The CPU emulation (tests/emulation/gpu_emulator.hpp) checks every 16-byte access here; a
// device faults on a misaligned one by itself.
#if !defined(CUACT_EMULATION_CHECK_ALIGNED_16)
#define CUACT_EMULATION_CHECK_ALIGNED_16(p, what) ((void)0)
#endif

//! kVec consecutive row elements from `p` (16-byte aligned when kVec > 1); plain loads, not
//! ld.global.nc: the output may alias the input (in place).
template <int kVec, class T>
__device__ __forceinline__ void load_chunk(const T* p, T (&v)[kVec]) {
  if constexpr (kVec > 1) {
    static_assert(kVec * sizeof(T) == 16, "16-byte chunks");
    CUACT_EMULATION_CHECK_ALIGNED_16(p, "load");
    const uint4 bits = *reinterpret_cast<const uint4*>(p);
    __builtin_memcpy(v, &bits, 16);
  } else {
    v[0] = *p;
  }
}

//! kVec consecutive row elements into shared memory at `p` (16-byte aligned when kVec > 1): the
//! staging buffers of the on-chip tiers.
template <int kVec, class T>
__device__ __forceinline__ void stage_chunk(T* p, const T (&v)[kVec]) {
  if constexpr (kVec > 1) {
    CUACT_EMULATION_CHECK_ALIGNED_16(p, "store");
    uint4 bits;
    __builtin_memcpy(&bits, v, 16);
    *reinterpret_cast<uint4*>(p) = bits;
  } else {
    *p = v[0];
  }
}

//! The same to global memory, as one 16-byte store. A plain uint4 store of values computed one
//! element at a time reached the SASS as four 32-bit stores (nvcc split it before ptxas);
//! st.global.v4 through __stwb cannot be split.
template <int kVec, class T>
__device__ __forceinline__ void store_chunk(T* p, const T (&v)[kVec]) {
#if defined(__CUDA_ARCH__)
  if constexpr (kVec > 1) {
    uint4 bits;
    __builtin_memcpy(&bits, v, 16);
    __stwb(reinterpret_cast<uint4*>(p), bits);
    return;
  }
#endif
  stage_chunk<kVec>(p, v);  // the CPU emulation: a plain store, alignment checked
}

//! One round of a thread's chunks of a row in the chunked tiers: chunks first + u kThreads,
//! u < kUnroll, those below `chunks`; all loads issued before any is used.
template <int kThreads, int kUnroll, int kVec, class T>
__device__ __forceinline__ void load_round(const T* row, int64_t first, int64_t chunks,
                                           T (&v)[kUnroll][kVec]) {
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const int64_t c = first + int64_t{u} * kThreads;
    if (c < chunks) load_chunk<kVec>(row + c * kVec, v[u]);
  }
}

//! Sum of a row's LaneSum parts across a block: the float part in the accumulation type and the
//! count of elements at the max.
template <class A>
struct BelowCount {
  A below;
  int at_max;
};
template <class A>
struct SumBelowCount {
  CUACT_HD BelowCount<A> operator()(const BelowCount<A>& a, const BelowCount<A>& b) const {
    return {a.below + b.below, a.at_max + b.at_max};
  }
};
struct NanMax {
  template <class V>
  CUACT_HD V operator()(V a, V b) const {
    return nan_max(a, b);
  }
};
struct SumOf {
  template <class V>
  CUACT_HD V operator()(V a, V b) const {
    return a + b;
  }
};

//! A register-tier row as lane `lane` of its kLanes holds it (RegisterRowMap): without kEdges
//! the rows are aligned and the body is the row. Past the last row (live false) there is
//! nothing. The edge indices are worked out where they are used, not held: registers are what
//! limits these tiers' occupancy.
template <int kLanes, int kChunks, int kVec, bool kEdges>
struct RegisterRow : RegisterRowMap {
  static constexpr int kSlots = kEdges ? 2 * register_row_edges_per_side(kLanes, kVec) : 0;
  static_assert(!kEdges || kSlots > 0, "a split planned for misaligned rows only");
  static constexpr int kSlotArray = kSlots > 0 ? kSlots : 1;
  __device__ RegisterRow(int64_t start, int64_t dim, int base, int lane, bool live)
      : RegisterRowMap(!live    ? RowSegment{}
                       : kEdges ? row_segment(start, dim, base, kVec)
                                : RowSegment{0, 0, dim / kVec, 0},
                       kLanes, kVec, lane) {}
  //! The lane's values of `row`: every body chunk's load issued before the edges' (scalar) ones.
  template <class T>
  __device__ void load(const T* row, T (&v)[kChunks][kVec], T (&e)[kSlotArray]) const {
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      if (has(c)) load_chunk<kVec>(row + at(c), v[c]);
    }
#pragma unroll
    for (int s = 0; s < kSlots; ++s) {
      if (edge(s) >= 0) e[s] = row[edge(s)];
    }
  }
};

//! How the lanes of a register-tier row combine their values, every lane getting the result: a
//! warp's kLanes lanes by cub::WarpReduce and a shuffle from the group's first lane, a block by
//! cub::BlockReduce with the aggregate broadcast through shared memory (Storage: the caller's
//! __shared__).
template <class Split, class T>
struct RowReducer;

template <int kLanes, int kPerLane, int kVec, bool kEdges, class T>
struct RowReducer<WarpSplit<kLanes, kPerLane, kVec, kEdges>, T> {
  using A = softmax_acc_t<T>;
  using V = softmax_val_t<T>;
  using Split = WarpSplit<kLanes, kPerLane, kVec, kEdges>;
  // cub::WarpReduce over each row group (a logical warp of kLanes lanes; shuffles, so its temp
  // storage is empty), the result then broadcast from the group's first lane.
  using MaxReduce = cub::WarpReduce<V, kLanes>;
  using CountReduce = cub::WarpReduce<int, kLanes>;
  using TotalReduce = cub::WarpReduce<A, kLanes>;
  struct Storage {
    union {
      typename MaxReduce::TempStorage max;
      typename CountReduce::TempStorage count;
      typename TotalReduce::TempStorage total;
    } temp[Split::kBlockThreads / kLanes];  // one per row group
  };
  Storage& s;
  __device__ explicit RowReducer(Storage& storage) : s(storage) {}
  __device__ V max(V v) {
    v = MaxReduce(s.temp[threadIdx.x / kLanes].max).Reduce(v, NanMax{});
    return cub::ShuffleIndex<kLanes>(v, 0, 0xffffffffu);
  }
  __device__ A sum(A v) {
    v = TotalReduce(s.temp[threadIdx.x / kLanes].total).Sum(v);
    return cub::ShuffleIndex<kLanes>(v, 0, 0xffffffffu);
  }
  __device__ BelowCount<A> sum(BelowCount<A> v) {
    // The two fields apart: a struct would shuffle its padding too.
    return {sum(v.below),
            cub::ShuffleIndex<kLanes>(CountReduce(s.temp[threadIdx.x / kLanes].count).Sum(v.at_max),
                                      0, 0xffffffffu)};
  }
  __device__ void end_row() {}
};

template <int kThreads, int kPerLane, int kVec, bool kEdges, class T>
struct RowReducer<BlockSplit<kThreads, kPerLane, kVec, kEdges>, T> {
  using A = softmax_acc_t<T>;
  using V = softmax_val_t<T>;
  using MaxReduce = cub::BlockReduce<V, kThreads>;
  using SumReduce = cub::BlockReduce<BelowCount<A>, kThreads>;
  using TotalReduce = cub::BlockReduce<A, kThreads>;
  struct Storage {
    union {
      typename MaxReduce::TempStorage max;
      typename SumReduce::TempStorage sum;
      typename TotalReduce::TempStorage total;
    } temp;
    V max;
    BelowCount<A> sum;
    A total;
  };
  Storage& s;
  __device__ explicit RowReducer(Storage& storage) : s(storage) {}
  // Each reduction's aggregate is valid in thread 0, which broadcasts it; the barrier also frees
  // temp for the next reduction.
  __device__ V max(V v) {
    v = MaxReduce(s.temp.max).Reduce(v, NanMax{});
    if (threadIdx.x == 0) s.max = v;
    __syncthreads();
    return s.max;
  }
  __device__ A sum(A v) {
    v = TotalReduce(s.temp.total).Sum(v);
    if (threadIdx.x == 0) s.total = v;
    __syncthreads();
    return s.total;
  }
  __device__ BelowCount<A> sum(BelowCount<A> v) {
    v = SumReduce(s.temp.sum).Reduce(v, SumBelowCount<A>{});
    if (threadIdx.x == 0) s.sum = v;
    __syncthreads();
    return s.sum;
  }
  // Each reduction's own barriers already order every reuse of temp and the broadcasts; this one
  // guards the next row's reductions against a later change to that pattern (once per row).
  __device__ void end_row() { __syncthreads(); }
};

//! kWarpRow and kBlockRegs forward: a row's values stay in registers (storage type) over its
//! lanes (Split), so the row is read once, 16-byte loads whatever its alignment (RegisterRow).
//! With the whole row at hand no online rescaling is needed: max (exact, NaN-propagating), then
//! the sum of e^(x - max) over the elements below the max plus the count of those at it, which
//! gives the excess (sum - 1) exactly for log_softmax (see MaxSum); then the outputs. Warp rows
//! advance by whole warps, so every lane reaches every shuffle; a group past the last row just
//! skips its loads and stores.
template <class Split, class T, SoftmaxKind kKind>
__device__ __forceinline__ void forward_register_rows(const T* x, T* y, int64_t rows, int64_t dim,
                                                      bool safe) {
  using A = softmax_acc_t<T>;
  using V = softmax_val_t<T>;
  constexpr int kLanes = Split::kLanes, kVec = Split::kVec, kChunks = Split::kChunks;
  using Row = RegisterRow<kLanes, kChunks, kVec, Split::kEdges>;
  constexpr int kSlots = Row::kSlots;
  // softmax keeps each term e^(x - max) from the sum pass instead of a second exponential
  // (float32, 16-bit: the exponential is the pass's costliest instruction); float64 recomputes
  // (32 doubles more per lane would spill).
  constexpr bool kKeepTerms = kKind == SoftmaxKind::kSoftmax && !std::is_same_v<T, double>;
  using Reducer = RowReducer<Split, T>;
  __shared__ typename Reducer::Storage storage;
  Reducer reduce(storage);
  const int base = elements_past_16_bytes(x);  // x and y sit alike (the launcher checked)
  const int l = Split::lane_in_group();
  for (int64_t first = Split::first_row(); first < rows; first += Split::row_stride()) {
    const int64_t row = first + Split::group();
    const Row map(row * dim, dim, base, l, row < rows);
    T v[kChunks][kVec], edge_x[Row::kSlotArray];
    map.load(x + row * dim, v, edge_x);  // all loads first: kChunks in flight per lane
    V max = -static_cast<V>(HUGE_VAL);
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
#pragma unroll
      for (int i = 0; i < kVec; ++i) {
        if (map.has(c)) max = nan_max(max, softmax_value(v[c][i]));
      }
    }
#pragma unroll
    for (int s = 0; s < kSlots; ++s) {
      if (map.edge(s) >= 0) max = nan_max(max, softmax_value(edge_x[s]));
    }
    max = reduce.max(max);
    LaneSum<T> sum;
    V e[kKeepTerms ? kChunks : 1][kVec];  // softmax: the body's terms, for the output pass
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
#pragma unroll
      for (int i = 0; i < kVec; ++i) {
        if (!map.has(c)) continue;
        const V term = add_to_lane_sum<T>(sum, softmax_value(v[c][i]), max);
        if constexpr (kKeepTerms) e[c][i] = term;
      }
    }
#pragma unroll
    for (int s = 0; s < kSlots; ++s) {
      if (map.edge(s) >= 0) add_to_lane_sum<T>(sum, softmax_value(edge_x[s]), max);
    }
    const BelowCount<A> total = reduce.sum(BelowCount<A>{sum.total(), sum.at_max});
    const RegisterScale<T> r(finish<kKind>(max_sum_from(A(max), total.below, total.at_max), safe));
    T* yr = y + row * dim;
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      if (!map.has(c)) continue;
      T out[kVec];
#pragma unroll
      for (int i = 0; i < kVec; ++i) {
        const V xv = softmax_value(v[c][i]);
        const V term = kKeepTerms ? e[kKeepTerms ? c : 0][i] : softmax_exp_shifted<T>(xv, r.max);
        out[i] = register_output<T, kKind>(xv, term, r);
      }
      store_chunk<kVec>(yr + map.at(c), out);
    }
#pragma unroll
    for (int s = 0; s < kSlots; ++s) {
      if (map.edge(s) >= 0) yr[map.edge(s)] = recomputed_output<T, kKind>(edge_x[s], r);
    }
    reduce.end_row();
  }
}

//! kBlockRow: rows too long for shared memory: a block of kThreads per row reads the row twice,
//! an online (max, excess) pass and the output pass (the second read partly from L2), each with
//! kUnroll chunks of kVec per thread in flight (Split: ChunkSplit). Rows split as the on-chip
//! tiers split them (row_span): 16-byte loads on the aligned body of rows of any alignment, the
//! head and tail elements one per thread.
template <int kThreads, class Split, class T, SoftmaxKind kKind>
__device__ __forceinline__ void forward_block_rows(const T* x, T* y, int64_t rows, int64_t dim,
                                                   bool safe) {
  using A = softmax_acc_t<T>;
  // 1024-thread blocks have 64 registers a thread: fewer chunks in flight (more spilled).
  constexpr int kVec = Split::kVec;
  constexpr int kUnroll = kThreads < 1024 ? Split::kUnroll : (sizeof(T) == 8 ? 1 : 2);
  using BlockReduce = cub::BlockReduce<MaxSum<A>, kThreads>;
  __shared__ typename BlockReduce::TempStorage temp;
  __shared__ MaxSum<A> row_total;
  const int base = elements_past_16_bytes(x);  // x and y sit alike (the launcher checked)
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const RowSpan at = row_span(row, dim, base, kVec, threadIdx.x);
    const T* xr = x + at.offset;
    const T edge = at.edge >= 0 ? x[row * dim + at.edge] : T{};
    MaxSum<A> p = empty_max_sum<A>();
    if (at.edge >= 0) accumulate<T>(p, static_cast<A>(to_compute(edge)));
    for (int64_t first = threadIdx.x; first < at.count; first += int64_t{kThreads} * kUnroll) {
      T v[kUnroll][kVec];
      load_round<kThreads, kUnroll, kVec>(xr, first, at.count, v);
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        if (first + int64_t{u} * kThreads >= at.count) continue;
#pragma unroll
        for (int i = 0; i < kVec; ++i)
          accumulate<T>(p, static_cast<A>(to_compute(v[u][i])));
      }
    }
    p = BlockReduce(temp).Reduce(p, CombineMaxSum<T>{});
    if (threadIdx.x == 0) row_total = p;  // the aggregate is valid in thread 0
    __syncthreads();
    const RegisterScale<T> r(finish<kKind>(row_total, safe));
    T* yr = y + at.offset;
    for (int64_t first = threadIdx.x; first < at.count; first += int64_t{kThreads} * kUnroll) {
      T v[kUnroll][kVec];
      load_round<kThreads, kUnroll, kVec>(xr, first, at.count, v);
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t c = first + int64_t{u} * kThreads;
        if (c >= at.count) continue;
        T out[kVec];
#pragma unroll
        for (int i = 0; i < kVec; ++i)
          out[i] = recomputed_output<T, kKind>(v[u][i], r);
        store_chunk<kVec>(yr + c * kVec, out);
      }
    }
    if (at.edge >= 0) y[row * dim + at.edge] = recomputed_output<T, kKind>(edge, r);
    __syncthreads();  // temp and row_total are reused by the next row
  }
}

//! kSmemRow: a block of kThreads per row, the row staged in dynamic shared memory (storage type)
//! by the first pass, which loads kUnroll chunks of kVec per thread at a time (16-byte loads
//! when the tensors sit alike past a 16-byte boundary, whatever the row length) and takes the
//! maximum; the sum and output passes read the staged
//! row back, so the row is read from memory once. Each thread reads back only the chunks it
//! staged, so no barrier is needed between staging and reading. Same row math as the register
//! tiers (max, then the sum below it), the exponential recomputed in the output pass.
template <int Vec>
struct ChunkSplit {
  static constexpr int kVec = Vec;
  static constexpr int kUnroll = 4;  // chunks in flight per thread in the staging pass
};

//! Copies this thread's chunks of a row into `staged` (all loads of a round first) and returns
//! the NaN-propagating maximum of the values it copied.
template <int kThreads, class Split, class T>
__device__ __forceinline__ softmax_val_t<T> stage_row(const T* row, T* staged, int64_t chunks) {
  constexpr int kVec = Split::kVec, kUnroll = Split::kUnroll;
  softmax_val_t<T> max = -static_cast<softmax_val_t<T>>(HUGE_VAL);
  for (int64_t first = threadIdx.x; first < chunks; first += int64_t{kThreads} * kUnroll) {
    T v[kUnroll][kVec];
    load_round<kThreads, kUnroll, kVec>(row, first, chunks, v);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t c = first + int64_t{u} * kThreads;
      if (c >= chunks) continue;
      stage_chunk<kVec>(staged + c * kVec, v[u]);
#pragma unroll
      for (int i = 0; i < kVec; ++i)
        max = nan_max(max, softmax_value(v[u][i]));
    }
  }
  return max;
}

//! The on-chip row tiers' sum pass: this thread's staged chunks (count of them, as stage_row
//! left them) added to `sum` below the row's max.
template <int kThreads, int kVec, class T>
__device__ __forceinline__ void sum_staged(const T* staged, int64_t count, softmax_val_t<T> max,
                                           LaneSum<T>& sum) {
  for (int64_t c = threadIdx.x; c < count; c += kThreads) {
    T v[kVec];
    load_chunk<kVec>(staged + c * kVec, v);
#pragma unroll
    for (int i = 0; i < kVec; ++i)
      add_to_lane_sum<T>(sum, softmax_value(v[i]), max);
  }
}

//! The on-chip row tiers' output pass: this thread's staged chunks to `out` (16-byte aligned when
//! kVec > 1), the exponential recomputed.
template <int kThreads, int kVec, class T, SoftmaxKind kKind>
__device__ __forceinline__ void write_staged(const T* staged, int64_t count, T* out,
                                             const RegisterScale<T>& r) {
  for (int64_t c = threadIdx.x; c < count; c += kThreads) {
    T v[kVec], o[kVec];
    load_chunk<kVec>(staged + c * kVec, v);
#pragma unroll
    for (int i = 0; i < kVec; ++i)
      o[i] = recomputed_output<T, kKind>(v[i], r);
    store_chunk<kVec>(out + c * kVec, o);
  }
}

//! The on-chip backward tiers' first pass: this thread's chunks of y and dy (count of them, kUnroll
//! of each in flight) staged, and their terms of the row sum returned.
template <int kThreads, int kUnroll, int kVec, class T, SoftmaxKind kKind>
__device__ __forceinline__ softmax_acc_t<T> stage_pair(const T* y, const T* dy, T* staged_y,
                                                       T* staged_dy, int64_t count) {
  softmax_acc_t<T> t = 0;
  for (int64_t first = threadIdx.x; first < count; first += int64_t{kThreads} * kUnroll) {
    T yv[kUnroll][kVec], gv[kUnroll][kVec];
    load_round<kThreads, kUnroll, kVec>(y, first, count, yv);
    load_round<kThreads, kUnroll, kVec>(dy, first, count, gv);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t c = first + int64_t{u} * kThreads;
      if (c >= count) continue;
      stage_chunk<kVec>(staged_y + c * kVec, yv[u]);
      stage_chunk<kVec>(staged_dy + c * kVec, gv[u]);
#pragma unroll
      for (int i = 0; i < kVec; ++i)
        t += backward_term<T, kKind>(yv[u][i], gv[u][i]);
    }
  }
  return t;
}

//! The on-chip backward tiers' output pass from the staged y and dy.
template <int kThreads, int kVec, class T, SoftmaxKind kKind>
__device__ __forceinline__ void write_staged_pair(const T* staged_y, const T* staged_dy,
                                                  int64_t count, T* dx, softmax_acc_t<T> total) {
  for (int64_t c = threadIdx.x; c < count; c += kThreads) {
    T yv[kVec], gv[kVec], out[kVec];
    load_chunk<kVec>(staged_y + c * kVec, yv);
    load_chunk<kVec>(staged_dy + c * kVec, gv);
#pragma unroll
    for (int i = 0; i < kVec; ++i)
      out[i] = backward_output<T, kKind>(yv[i], gv[i], total);
    store_chunk<kVec>(dx + c * kVec, out);
  }
}

//! kSmemRow forward. Rows split by row_part: the aligned body staged in kVec-element chunks, the
//! head and tail elements (rows not 16-byte aligned) in registers of a few threads; every staged
//! chunk is read back by the thread that staged it.
template <int kThreads, class Split, class T, SoftmaxKind kKind>
__device__ __forceinline__ void forward_smem_rows(const T* x, T* y, int64_t rows, int64_t dim,
                                                  bool safe) {
  using A = softmax_acc_t<T>;
  using V = softmax_val_t<T>;
  constexpr int kVec = Split::kVec;
  using MaxReduce = cub::BlockReduce<V, kThreads>;
  using SumReduce = cub::BlockReduce<BelowCount<A>, kThreads>;
  __shared__ union {
    typename MaxReduce::TempStorage max;
    typename SumReduce::TempStorage sum;
  } temp;
  __shared__ V row_max;
  __shared__ BelowCount<A> row_sum;
  extern __shared__ __align__(16) unsigned char softmax_smem[];
  T* staged = reinterpret_cast<T*>(softmax_smem);
  // x and y sit alike past a 16-byte boundary (the launcher checked): rows split as the split
  // tiers split them (row_part) with one part, the aligned body staged, the head and tail
  // elements in registers.
  const int base = elements_past_16_bytes(x);
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const RowPart at = row_part(row, dim, base, kVec, 1, 0, threadIdx.x);
    const T edge = at.edge >= 0 ? x[row * dim + at.edge] : T{};  // issued before the body's loads
    V max = stage_row<kThreads, Split>(x + at.offset, staged, at.count);
    if (at.edge >= 0) max = nan_max(max, softmax_value(edge));
    max = MaxReduce(temp.max).Reduce(max, NanMax{});
    if (threadIdx.x == 0) row_max = max;  // the aggregate is valid in thread 0
    __syncthreads();
    max = row_max;
    LaneSum<T> sum;
    sum_staged<kThreads, kVec>(staged, at.count, max, sum);
    if (at.edge >= 0) add_to_lane_sum<T>(sum, softmax_value(edge), max);
    const BelowCount<A> total =
        SumReduce(temp.sum).Reduce(BelowCount<A>{sum.total(), sum.at_max}, SumBelowCount<A>{});
    if (threadIdx.x == 0) row_sum = total;
    __syncthreads();
    const RegisterScale<T> r(
        finish<kKind>(max_sum_from(A(max), row_sum.below, row_sum.at_max), safe));
    write_staged<kThreads, kVec, T, kKind>(staged, at.count, y + at.offset, r);
    if (at.edge >= 0) y[row * dim + at.edge] = recomputed_output<T, kKind>(edge, r);
    __syncthreads();  // row_max, row_sum and temp are reused by the next row
  }
}

//! kClusterRow: a row split over a thread-block cluster (the launch's cluster size, 2 to 16
//! blocks): block rank r stages its slice of the row (row_slice) in its shared memory on the one
//! read (as forward_smem_rows), and the row's max and sum combine every block's partial
//! through distributed shared memory, each block reading them in rank order, so all blocks hold
//! bitwise the same totals; then each block writes its slice from shared memory. A cluster takes
//! rows cluster id, + clusters, ...; a last barrier keeps every block (and its partials) alive
//! until the other blocks have read them. Compiled for sm_90 on
//! (an sm_80 image traps); planned only where the running image has it (split_row_limits).
template <int kThreads, class Split, class T, SoftmaxKind kKind>
__device__ __forceinline__ void forward_cluster_rows(const T* x, T* y, int64_t rows, int64_t dim,
                                                     bool safe) {
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900) || defined(CUACT_SOFTMAX_EMULATION)
  namespace cg = cooperative_groups;
  using A = softmax_acc_t<T>;
  using V = softmax_val_t<T>;
  constexpr int kVec = Split::kVec;
  using MaxReduce = cub::BlockReduce<V, kThreads>;
  using SumReduce = cub::BlockReduce<BelowCount<A>, kThreads>;
  // Two cluster barriers per row: the partials alternate between two slots by row parity, and
  // the two reductions keep separate temp storage, so a block may start the next row while
  // others still read this one's partials (the slot it then writes was last read two barriers
  // ago).
  __shared__ typename MaxReduce::TempStorage max_temp;
  __shared__ typename SumReduce::TempStorage sum_temp;
  __shared__ V block_max[2];
  __shared__ BelowCount<A> block_sum[2];
  extern __shared__ __align__(16) unsigned char softmax_smem[];
  T* staged = reinterpret_cast<T*>(softmax_smem);
  const cg::cluster_group cluster = cg::this_cluster();
  const unsigned blocks = cluster.num_blocks(), rank = cluster.block_rank();
  // x and y sit alike past a 16-byte boundary (the launcher checked): rows split by RowSegment,
  // the aligned body sliced between the blocks, the head elements taken by rank 0's threads
  // 0.. and the tail by the last rank's threads 32.., each kept in a register.
  const int base = elements_past_16_bytes(x);
  int slot = 0;
  for (int64_t row = blockIdx.x / blocks; row < rows; row += gridDim.x / blocks, slot ^= 1) {
    const RowPart at = row_part(row, dim, base, kVec, static_cast<int>(blocks),
                                static_cast<int>(rank), threadIdx.x);
    const int count = at.count;
    const int64_t offset = at.offset, e = at.edge;
    const T edge = e >= 0 ? x[row * dim + e] : T{};  // issued before the body's loads
    V max = stage_row<kThreads, Split>(x + offset, staged, count);
    if (e >= 0) max = nan_max(max, softmax_value(edge));
    max = MaxReduce(max_temp).Reduce(max, NanMax{});
    if (threadIdx.x == 0) block_max[slot] = max;  // the aggregate is valid in thread 0
    cluster.sync();
    max = -static_cast<V>(HUGE_VAL);
    for (unsigned r = 0; r < blocks; ++r)
      max = nan_max(max, *cluster.map_shared_rank(&block_max[slot], r));
    LaneSum<T> sum;
    sum_staged<kThreads, kVec>(staged, count, max, sum);
    if (e >= 0) add_to_lane_sum<T>(sum, softmax_value(edge), max);
    const BelowCount<A> part =
        SumReduce(sum_temp).Reduce(BelowCount<A>{sum.total(), sum.at_max}, SumBelowCount<A>{});
    if (threadIdx.x == 0) block_sum[slot] = part;
    cluster.sync();
    BelowCount<A> total{A(0), 0};
    for (unsigned r = 0; r < blocks; ++r)
      total = SumBelowCount<A>{}(total, *cluster.map_shared_rank(&block_sum[slot], r));
    const RegisterScale<T> s(finish<kKind>(max_sum_from(A(max), total.below, total.at_max), safe));
    write_staged<kThreads, kVec, T, kKind>(staged, count, y + offset, s);
    if (e >= 0) y[row * dim + e] = recomputed_output<T, kKind>(edge, s);
  }
  cluster.sync();  // no block leaves while another may still read its partials
#else
  __trap();  // compiled for a GPU without clusters: never planned there (split_row_limits)
#endif
}

//! A block's row partial in the grid tier, written over the first elements of its own slice of
//! the output (its input slice is on chip by then, so this is safe in place too) and read back by
//! the row's other blocks past their L1 (ld.global.cg): a line holding the start of a slice may
//! sit in a neighbouring block's L1 from staging the end of its own.
template <class T>
using storage_word_t =
    std::conditional_t<sizeof(T) == 2, unsigned short,
                       std::conditional_t<sizeof(T) == 4, unsigned, unsigned long long>>;

template <class T, class P>
__device__ __forceinline__ void put_partial(T* at, const P& p) {
  using Word = storage_word_t<T>;
  constexpr int kWords = static_cast<int>((sizeof(P) + sizeof(Word) - 1) / sizeof(Word));
  Word w[kWords] = {};
  __builtin_memcpy(w, &p, sizeof(P));
#pragma unroll
  for (int i = 0; i < kWords; ++i)
    reinterpret_cast<Word*>(at)[i] = w[i];
}

template <class T, class P>
__device__ __forceinline__ P get_partial(const T* at) {
  using Word = storage_word_t<T>;
  constexpr int kWords = static_cast<int>((sizeof(P) + sizeof(Word) - 1) / sizeof(Word));
  Word w[kWords];
#pragma unroll
  for (int i = 0; i < kWords; ++i)
    w[i] = __ldcg(reinterpret_cast<const Word*>(at) + i);
  P p;
  __builtin_memcpy(&p, w, sizeof(P));
  return p;
}

//! kGridRow: rows split over `parts` blocks each, every block of the grid resident at once (a
//! cooperative launch); block b takes part b % parts of row (wave start) + b / parts, the grid
//! taking gridDim.x / parts rows per wave. Each block stages its slice on the one read and reduces
//! it to a (max, excess) pair (max, then the sum below it, as the on-chip tiers); the pairs meet
//! through the output (put_partial) across a grid barrier, and every block of a row combines the
//! same pairs with the same cub::BlockReduce, so all get bitwise the same totals. A second grid
//! barrier keeps the pairs in place until every block has read them; then the outputs.
template <int kThreads, class Split, class T, SoftmaxKind kKind>
__device__ __forceinline__ void forward_grid_rows(const T* x, T* y, int64_t rows, int64_t dim,
                                                  bool safe, int parts) {
  namespace cg = cooperative_groups;
  using A = softmax_acc_t<T>;
  using V = softmax_val_t<T>;
  constexpr int kVec = Split::kVec;
  using MaxReduce = cub::BlockReduce<V, kThreads>;
  using SumReduce = cub::BlockReduce<BelowCount<A>, kThreads>;
  using PairReduce = cub::BlockReduce<MaxSum<A>, kThreads>;
  __shared__ union {
    typename MaxReduce::TempStorage max;
    typename SumReduce::TempStorage sum;
    typename PairReduce::TempStorage pair;
  } temp;
  __shared__ V block_max;
  __shared__ MaxSum<A> row_pair;
  extern __shared__ __align__(16) unsigned char softmax_smem[];
  T* staged = reinterpret_cast<T*>(softmax_smem);
  const cg::grid_group grid = cg::this_grid();
  // Rows split as in forward_cluster_rows (x and y sit alike past a 16-byte boundary).
  const int base = elements_past_16_bytes(x);
  const int part = static_cast<int>(blockIdx.x % parts);
  const int64_t wave = gridDim.x / parts;
  for (int64_t wave_first = 0; wave_first < rows; wave_first += wave) {
    const int64_t row = wave_first + blockIdx.x / parts;
    const bool live = row < rows;
    const RowPart at = row_part(row, dim, base, kVec, parts, part, threadIdx.x);
    const int count = live ? at.count : 0;
    const int64_t offset = at.offset, e = live ? at.edge : -1;
    const T edge = e >= 0 ? x[row * dim + e] : T{};  // issued before the body's loads
    V max = stage_row<kThreads, Split>(x + offset, staged, count);
    if (e >= 0) max = nan_max(max, softmax_value(edge));
    max = MaxReduce(temp.max).Reduce(max, NanMax{});
    if (threadIdx.x == 0) block_max = max;  // the aggregate is valid in thread 0
    __syncthreads();
    max = block_max;
    LaneSum<T> sum;
    sum_staged<kThreads, kVec>(staged, count, max, sum);
    if (e >= 0) add_to_lane_sum<T>(sum, softmax_value(edge), max);
    const BelowCount<A> below =
        SumReduce(temp.sum).Reduce(BelowCount<A>{sum.total(), sum.at_max}, SumBelowCount<A>{});
    if (threadIdx.x == 0 && live) {
      put_partial(y + offset, max_sum_from(A(max), below.below, below.at_max));
      __threadfence();
    }
    grid.sync();
    MaxSum<A> pair = empty_max_sum<A>();
    if (live && threadIdx.x < parts) {  // part threadIdx.x's pair, at its slice's start
      pair = get_partial<T, MaxSum<A>>(
          y + row_part(row, dim, base, kVec, parts, threadIdx.x, 0).offset);
    }
    pair = PairReduce(temp.pair).Reduce(pair, CombineMaxSum<T>{});
    if (threadIdx.x == 0) row_pair = pair;
    grid.sync();  // every pair read before any slice is overwritten; row_pair visible block-wide
    const RegisterScale<T> r(finish<kKind>(row_pair, safe));
    write_staged<kThreads, kVec, T, kKind>(staged, count, y + offset, r);
    if (e >= 0) y[row * dim + e] = recomputed_output<T, kKind>(edge, r);
    __syncthreads();  // row_pair and temp are rewritten by the next wave
  }
}

//! kColumn: a thread per (outer, inner) column, walking dim with stride inner; neighbouring
//! threads take neighbouring inner indices, so each warp access is contiguous.
template <class T, SoftmaxKind kKind>
__device__ __forceinline__ void forward_columns(const T* x, T* y, int64_t outer, int64_t dim,
                                                int64_t inner, bool safe) {
  using A = softmax_acc_t<T>;
  const int64_t columns = outer * inner;
  for (int64_t c = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; c < columns;
       c += int64_t{gridDim.x} * blockDim.x) {
    const int64_t base = (c / inner) * dim * inner + c % inner;
    MaxSum<A> p = empty_max_sum<A>();
    for (int64_t d = 0; d < dim; ++d)
      accumulate<T>(p, static_cast<A>(to_compute(x[base + d * inner])));
    const RegisterScale<T> r(finish<kKind>(p, safe));
    for (int64_t d = 0; d < dim; ++d) {
      y[base + d * inner] = recomputed_output<T, kKind>(x[base + d * inner], r);
    }
  }
}

//! Combines each column's per-thread values over the thread rows of a column tile (ColumnTile):
//! the lanes of a warp that share a column by shuffles, then one partial per slot through shared
//! memory, combined in slot order by one thread per column and read back by every thread of the
//! column. Not a cub::BlockReduce: each column is a strided subset of the block. `values`: the
//! thread's kVec columns, combined on return; `partials` is free again on return.
template <int kVec, class P, class Op>
__device__ __forceinline__ void combine_columns(P (&values)[kVec], P* partials,
                                                const ColumnTile& tile, Op op) {
  const int t = threadIdx.x;
  const int g = t % tile.groups, cols = tile.cols(), slots = tile.slots();
  if (slots == 1) return;  // a single thread row: every thread has its columns whole
  for (int m = tile.groups; m < 32; m *= 2) {
#pragma unroll
    for (int i = 0; i < kVec; ++i)
      values[i] = op(values[i], cub::ShuffleIndex<32>(values[i], (t % 32) ^ m, 0xffffffffu));
  }
  if (tile.writes_slot(t)) {
    P* slot = partials + tile.slot_of(t) * cols + g * kVec;
#pragma unroll
    for (int i = 0; i < kVec; ++i)
      slot[i] = values[i];
  }
  __syncthreads();
  for (int c = t; c < cols; c += kColumnTileThreads) {
    P acc = partials[c];
    for (int k = 1; k < slots; ++k)
      acc = op(acc, partials[k * cols + c]);
    partials[c] = acc;
  }
  __syncthreads();
#pragma unroll
  for (int i = 0; i < kVec; ++i)
    values[i] = partials[g * kVec + i];
  __syncthreads();  // partials are rewritten by the next reduction
}

//! Where thread t of a column tile works: its chunk column's first element (dim index 0) in the
//! tensor, its first dim index, and whether its columns exist (the last tile across may be
//! narrower than ColumnTile::cols()).
struct ColumnTileThread {
  int64_t offset;
  int first_dim;
  bool live;
};

CUACT_HD ColumnTileThread column_tile_thread(const ColumnTile& tile, int64_t tile_id, int64_t dim,
                                             int64_t inner, int t) {
  const int64_t across = tile.tiles_across(inner);
  const int64_t chunk = (tile_id % across) * tile.groups + t % tile.groups;
  return {(tile_id / across) * dim * inner + chunk * tile.vec, t / tile.groups,
          chunk < inner / tile.vec};
}

//! One round of a column-tile thread's chunks: dim indices d0 + u rows, u < kUnroll, those below
//! dim, of the chunk column starting at `column`; all loads issued before any is used.
template <int kUnroll, int kVec, class T>
__device__ __forceinline__ void load_column_round(const T* column, int64_t d0, int rows,
                                                  int64_t dim, int64_t inner,
                                                  T (&v)[kUnroll][kVec]) {
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const int64_t d = d0 + int64_t{u} * rows;
    if (d < dim) load_chunk<kVec>(column + d * inner, v[u]);
  }
}

//! Where a block works in the column tiers when `parts` blocks (a cluster) share each tile: tile
//! blockIdx.x / parts, then every gridDim.x / parts-th, and its slice [lo, hi) of the dim indices
//! (row_slice); parts == 1: every dim index of tile blockIdx.x, ...
struct ColumnTileBlock {
  int64_t first_tile;
  int64_t tile_step;
  int64_t lo;
  int64_t hi;
};
__device__ __forceinline__ ColumnTileBlock column_tile_block(int64_t dim, int parts) {
  if (parts == 1) return {blockIdx.x, gridDim.x, 0, dim};  // any dim (row_slice is 32-bit)
  const int rank = static_cast<int>(blockIdx.x % parts);
  const RowSlice slice = row_slice(dim, parts, rank);
  return {blockIdx.x / parts, gridDim.x / parts, slice.first, int64_t{slice.first} + slice.count};
}

//! The column values of a tile whose dim indices a cluster's blocks share (column tiles with
//! parts > 1): each block's per-column values (combined inside the block, so thread row 0 holds
//! them) go to `exchange` (two slots of tile.cols() column partials of `partial_bytes` each, used
//! in turn, as forward_cluster_rows' partials: one cluster barrier per exchange; a slot is written
//! again only after the next exchange's barrier, which every block reaches after reading it), and
//! every thread combines its columns' values of every block in rank order, so all blocks get
//! bitwise the same totals.
template <int kVec, class P, class Op>
__device__ __forceinline__ void combine_cluster_columns(P (&values)[kVec], unsigned char* exchange,
                                                        int partial_bytes, int& slot,
                                                        const ColumnTile& tile, Op op) {
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900) || defined(CUACT_SOFTMAX_EMULATION)
  namespace cg = cooperative_groups;
  const cg::cluster_group cluster = cg::this_cluster();
  P* mine = reinterpret_cast<P*>(exchange + slot * tile.cols() * partial_bytes);
  const int g = threadIdx.x % tile.groups;
  if (static_cast<int>(threadIdx.x) < tile.groups) {
#pragma unroll
    for (int i = 0; i < kVec; ++i)
      mine[g * kVec + i] = values[i];
  }
  cluster.sync();
  const unsigned blocks = cluster.num_blocks();
#pragma unroll
  for (int i = 0; i < kVec; ++i) {
    P acc = *cluster.map_shared_rank(mine + g * kVec + i, 0);
    for (unsigned r = 1; r < blocks; ++r)
      acc = op(acc, *cluster.map_shared_rank(mine + g * kVec + i, r));
    values[i] = acc;
  }
  slot ^= 1;
#else
  __trap();  // compiled for a GPU without clusters: never planned there (split_row_limits)
#endif
}

//! The end of a column kernel whose blocks exchanged through distributed shared memory: no block
//! leaves while another may still read its values.
__device__ __forceinline__ void leave_column_cluster(int parts) {
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900) || defined(CUACT_SOFTMAX_EMULATION)
  if (parts > 1) cooperative_groups::this_cluster().sync();
#endif
}

//! kColumnTile forward: one read of each tile into shared memory (kUnroll 16-byte loads in
//! flight per thread, each warp reading whole 32-byte sectors of consecutive dim rows), the
//! column maxima, the sums below them, then the outputs from the staged tile. Each thread reads
//! back only the chunks it staged (chunk (d, g) at staged[((d - lo) groups + g) kVec]). When
//! `parts` blocks (a cluster) share each tile, each stages its slice [lo, hi) of the dim indices
//! and the column maxima and sums combine across them (combine_cluster_columns).
template <class Split, class T, SoftmaxKind kKind>
__device__ __forceinline__ void forward_column_tiles(const T* x, T* y, int64_t outer, int64_t dim,
                                                     int64_t inner, bool safe, int parts) {
  using A = softmax_acc_t<T>;
  using V = softmax_val_t<T>;
  constexpr int kVec = Split::kVec, kUnroll = Split::kUnroll;
  constexpr int kPartialBytes = softmax_column_partial_bytes(sizeof(T), false);
  static_assert(sizeof(BelowCount<A>) <= kPartialBytes && sizeof(V) <= kPartialBytes,
                "column partials outgrow the planned shared memory");
  const ColumnTile tile = column_tile_for(dim, inner, kVec, sizeof(T));
  extern __shared__ __align__(16) unsigned char softmax_smem[];
  T* staged = reinterpret_cast<T*>(softmax_smem);
  unsigned char* partials =
      softmax_smem + tile.tile_bytes(column_slice_rows(dim, parts), sizeof(T));
  unsigned char* exchange = partials + column_partials_smem(tile, sizeof(T), false);
  const int g = threadIdx.x % tile.groups, rows = tile.rows();
  const int64_t tiles = outer * tile.tiles_across(inner);
  const ColumnTileBlock b = column_tile_block(dim, parts);
  int slot = 0;
  for (int64_t tile_id = b.first_tile; tile_id < tiles; tile_id += b.tile_step) {
    const ColumnTileThread at = column_tile_thread(tile, tile_id, dim, inner, threadIdx.x);
    V max[kVec];
#pragma unroll
    for (int i = 0; i < kVec; ++i)
      max[i] = -static_cast<V>(HUGE_VAL);
    for (int64_t d0 = at.live ? b.lo + at.first_dim : b.hi; d0 < b.hi;
         d0 += int64_t{rows} * kUnroll) {
      T v[kUnroll][kVec];
      load_column_round<kUnroll, kVec>(x + at.offset, d0, rows, b.hi, inner, v);
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t d = d0 + int64_t{u} * rows;
        if (d >= b.hi) continue;
        stage_chunk<kVec>(staged + ((d - b.lo) * tile.groups + g) * kVec, v[u]);
#pragma unroll
        for (int i = 0; i < kVec; ++i)
          max[i] = nan_max(max[i], softmax_value(v[u][i]));
      }
    }
    combine_columns(max, reinterpret_cast<V*>(partials), tile, NanMax{});
    if (parts > 1) combine_cluster_columns(max, exchange, kPartialBytes, slot, tile, NanMax{});
    LaneSum<T> sum[kVec];
    for (int64_t d = at.live ? b.lo + at.first_dim : b.hi; d < b.hi; d += rows) {
      T v[kVec];
      load_chunk<kVec>(staged + ((d - b.lo) * tile.groups + g) * kVec, v);
#pragma unroll
      for (int i = 0; i < kVec; ++i)
        add_to_lane_sum<T>(sum[i], softmax_value(v[i]), max[i]);
    }
    BelowCount<A> total[kVec];
#pragma unroll
    for (int i = 0; i < kVec; ++i)
      total[i] = {sum[i].total(), sum[i].at_max};
    combine_columns(total, reinterpret_cast<BelowCount<A>*>(partials), tile, SumBelowCount<A>{});
    if (parts > 1) {
      combine_cluster_columns(total, exchange, kPartialBytes, slot, tile, SumBelowCount<A>{});
    }
    if (!at.live) continue;
    RegisterScale<T> r[kVec];
#pragma unroll
    for (int i = 0; i < kVec; ++i)
      r[i] = RegisterScale<T>(
          finish<kKind>(max_sum_from(A(max[i]), total[i].below, total[i].at_max), safe));
    for (int64_t d = b.lo + at.first_dim; d < b.hi; d += rows) {
      T v[kVec], out[kVec];
      load_chunk<kVec>(staged + ((d - b.lo) * tile.groups + g) * kVec, v);
#pragma unroll
      for (int i = 0; i < kVec; ++i) {
        const V xv = softmax_value(v[i]);
        out[i] = register_output<T, kKind>(xv, softmax_exp_shifted<T>(xv, r[i].max), r[i]);
      }
      store_chunk<kVec>(y + at.offset + d * inner, out);
    }
  }
  leave_column_cluster(parts);
}

//! kColumnTileReread forward: kColumnTile's thread map on tiles too tall to stage (a long dim):
//! each thread folds its chunks (kUnroll 16-byte loads in flight) into an online (max, excess)
//! pair per column, the pairs combine per column (combine_columns; across the cluster's blocks
//! when `parts` of them share each tile's dim indices: combine_cluster_columns), then a second
//! read, kUnroll chunks at a time, writes the outputs.
template <class Split, class T, SoftmaxKind kKind>
__device__ __forceinline__ void forward_column_rereads(const T* x, T* y, int64_t outer, int64_t dim,
                                                       int64_t inner, bool safe, int parts) {
  using A = softmax_acc_t<T>;
  constexpr int kVec = Split::kVec, kUnroll = Split::kUnroll;
  static_assert(sizeof(MaxSum<A>) <= softmax_column_partial_bytes(sizeof(T), false),
                "column partials outgrow the planned shared memory");
  const ColumnTile tile = column_tile_for(dim, inner, kVec, sizeof(T));
  extern __shared__ __align__(16) unsigned char softmax_smem[];
  MaxSum<A>* partials = reinterpret_cast<MaxSum<A>*>(softmax_smem);
  unsigned char* exchange = softmax_smem + column_partials_smem(tile, sizeof(T), false);
  constexpr int kPartialBytes = softmax_column_partial_bytes(sizeof(T), false);
  const int rows = tile.rows();
  const int64_t tiles = outer * tile.tiles_across(inner);
  const ColumnTileBlock b = column_tile_block(dim, parts);
  int slot = 0;
  for (int64_t tile_id = b.first_tile; tile_id < tiles; tile_id += b.tile_step) {
    const ColumnTileThread at = column_tile_thread(tile, tile_id, dim, inner, threadIdx.x);
    MaxSum<A> pair[kVec];
#pragma unroll
    for (int i = 0; i < kVec; ++i)
      pair[i] = empty_max_sum<A>();
    for (int64_t d0 = at.live ? b.lo + at.first_dim : b.hi; d0 < b.hi;
         d0 += int64_t{rows} * kUnroll) {
      T v[kUnroll][kVec];
      load_column_round<kUnroll, kVec>(x + at.offset, d0, rows, b.hi, inner, v);
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        if (d0 + int64_t{u} * rows >= b.hi) continue;
#pragma unroll
        for (int i = 0; i < kVec; ++i)
          accumulate<T>(pair[i], static_cast<A>(to_compute(v[u][i])));
      }
    }
    combine_columns(pair, partials, tile, CombineMaxSum<T>{});
    if (parts > 1) {
      combine_cluster_columns(pair, exchange, kPartialBytes, slot, tile, CombineMaxSum<T>{});
    }
    if (!at.live) continue;
    RegisterScale<T> r[kVec];
#pragma unroll
    for (int i = 0; i < kVec; ++i)
      r[i] = RegisterScale<T>(finish<kKind>(pair[i], safe));
    for (int64_t d0 = b.lo + at.first_dim; d0 < b.hi; d0 += int64_t{rows} * kUnroll) {
      T v[kUnroll][kVec];
      load_column_round<kUnroll, kVec>(x + at.offset, d0, rows, b.hi, inner, v);
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t d = d0 + int64_t{u} * rows;
        if (d >= b.hi) continue;
        T out[kVec];
#pragma unroll
        for (int i = 0; i < kVec; ++i)
          out[i] = recomputed_output<T, kKind>(v[u][i], r[i]);
        store_chunk<kVec>(y + at.offset + d * inner, out);
      }
    }
  }
  leave_column_cluster(parts);
}

//! kThreads: block size; Split: WarpSplit (kWarpRow), BlockSplit (kBlockRegs), ChunkSplit (the
//! shared-memory, cluster, grid and two-read rows, and the column tiles), NoSplit (kColumn).
// At least two 256-thread blocks (512 threads) per SM: caps registers at 128 per thread.
template <int kThreads>
inline constexpr int kSoftmaxMinBlocks = kThreads <= 256 ? 2 : 1;

template <SoftmaxTier kTier, int kThreads, class Split, class T, SoftmaxKind kKind>
__global__ void __launch_bounds__(kThreads, kSoftmaxMinBlocks<kThreads>)
    softmax_forward_kernel(const T* x, T* y, int64_t outer, int64_t dim, int64_t inner, bool safe,
                           int parts) {
  if constexpr (kTier == SoftmaxTier::kWarpRow || kTier == SoftmaxTier::kBlockRegs) {
    static_assert(kThreads == Split::kBlockThreads, "the split's reduction storage is per block");
    forward_register_rows<Split, T, kKind>(x, y, outer, dim, safe);
  } else if constexpr (kTier == SoftmaxTier::kBlockRow) {
    forward_block_rows<kThreads, Split, T, kKind>(x, y, outer, dim, safe);
  } else if constexpr (kTier == SoftmaxTier::kSmemRow) {
    forward_smem_rows<kThreads, Split, T, kKind>(x, y, outer, dim, safe);
  } else if constexpr (kTier == SoftmaxTier::kColumnTile) {
    forward_column_tiles<Split, T, kKind>(x, y, outer, dim, inner, safe, parts);
  } else if constexpr (kTier == SoftmaxTier::kColumnTileReread) {
    forward_column_rereads<Split, T, kKind>(x, y, outer, dim, inner, safe, parts);
  } else if constexpr (kTier == SoftmaxTier::kClusterRow) {
    forward_cluster_rows<kThreads, Split, T, kKind>(x, y, outer, dim, safe);
  } else if constexpr (kTier == SoftmaxTier::kGridRow) {
    forward_grid_rows<kThreads, Split, T, kKind>(x, y, outer, dim, safe, parts);
  } else {
    forward_columns<T, kKind>(x, y, outer, dim, inner, safe);
  }
}

// ---- backward, per tier ---------------------------------------------------------------------

//! kWarpRow and kBlockRegs backward: y and dy of the row stay in registers (each read once),
//! split as in forward_register_rows; one row sum, then the outputs.
template <class Split, class T, SoftmaxKind kKind>
__device__ __forceinline__ void backward_register_rows(const T* y, const T* dy, T* dx, int64_t rows,
                                                       int64_t dim) {
  using A = softmax_acc_t<T>;
  constexpr int kLanes = Split::kLanes, kVec = Split::kVec, kChunks = Split::kChunks;
  using Row = RegisterRow<kLanes, kChunks, kVec, Split::kEdges>;
  constexpr int kSlots = Row::kSlots;
  using Reducer = RowReducer<Split, T>;
  __shared__ typename Reducer::Storage storage;
  Reducer reduce(storage);
  const int base = elements_past_16_bytes(y);  // y, dy and dx sit alike (the launcher checked)
  const int l = Split::lane_in_group();
  for (int64_t first = Split::first_row(); first < rows; first += Split::row_stride()) {
    const int64_t row = first + Split::group();
    const Row map(row * dim, dim, base, l, row < rows);
    const int64_t o = row * dim;
    T yv[kChunks][kVec], gv[kChunks][kVec], y_edge[Row::kSlotArray], g_edge[Row::kSlotArray];
    map.load(y + o, yv, y_edge);
    map.load(dy + o, gv, g_edge);
    A t = 0;
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
#pragma unroll
      for (int i = 0; i < kVec; ++i) {
        if (map.has(c)) t += backward_term<T, kKind>(yv[c][i], gv[c][i]);
      }
    }
#pragma unroll
    for (int s = 0; s < kSlots; ++s) {
      if (map.edge(s) >= 0) t += backward_term<T, kKind>(y_edge[s], g_edge[s]);
    }
    t = reduce.sum(t);
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      if (!map.has(c)) continue;
      T out[kVec];
#pragma unroll
      for (int i = 0; i < kVec; ++i)
        out[i] = backward_output<T, kKind>(yv[c][i], gv[c][i], t);
      store_chunk<kVec>(dx + o + map.at(c), out);
    }
#pragma unroll
    for (int s = 0; s < kSlots; ++s) {
      if (map.edge(s) >= 0)
        dx[o + map.edge(s)] = backward_output<T, kKind>(y_edge[s], g_edge[s], t);
    }
    reduce.end_row();
  }
}

//! kBlockRow backward: the sum pass and the output pass each read y and dy, kUnroll chunks of
//! kVec per thread in flight (one for 8-byte types and 1024-thread blocks: more spilled); rows
//! split by row_span as forward_block_rows.
template <int kThreads, class Split, class T, SoftmaxKind kKind>
__device__ __forceinline__ void backward_block_rows(const T* y, const T* dy, T* dx, int64_t rows,
                                                    int64_t dim) {
  using A = softmax_acc_t<T>;
  constexpr int kVec = Split::kVec;
  constexpr int kUnroll = kThreads < 1024 && sizeof(T) < 8 ? Split::kUnroll : 1;
  using BlockReduce = cub::BlockReduce<A, kThreads>;
  __shared__ typename BlockReduce::TempStorage temp;
  __shared__ A row_total;
  const int base = elements_past_16_bytes(y);  // y, dy and dx sit alike (the launcher checked)
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const RowSpan at = row_span(row, dim, base, kVec, threadIdx.x);
    const int64_t o = at.offset;
    const T edge_y = at.edge >= 0 ? y[row * dim + at.edge] : T{};
    const T edge_dy = at.edge >= 0 ? dy[row * dim + at.edge] : T{};
    A t = at.edge >= 0 ? backward_term<T, kKind>(edge_y, edge_dy) : A(0);
    for (int64_t first = threadIdx.x; first < at.count; first += int64_t{kThreads} * kUnroll) {
      T yv[kUnroll][kVec], gv[kUnroll][kVec];
      load_round<kThreads, kUnroll, kVec>(y + o, first, at.count, yv);
      load_round<kThreads, kUnroll, kVec>(dy + o, first, at.count, gv);
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        if (first + int64_t{u} * kThreads >= at.count) continue;
#pragma unroll
        for (int i = 0; i < kVec; ++i)
          t += backward_term<T, kKind>(yv[u][i], gv[u][i]);
      }
    }
    t = BlockReduce(temp).Sum(t);
    if (threadIdx.x == 0) row_total = t;
    __syncthreads();
    const A total = row_total;
    for (int64_t first = threadIdx.x; first < at.count; first += int64_t{kThreads} * kUnroll) {
      T yv[kUnroll][kVec], gv[kUnroll][kVec];
      load_round<kThreads, kUnroll, kVec>(y + o, first, at.count, yv);
      load_round<kThreads, kUnroll, kVec>(dy + o, first, at.count, gv);
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t c = first + int64_t{u} * kThreads;
        if (c >= at.count) continue;
        T out[kVec];
#pragma unroll
        for (int i = 0; i < kVec; ++i)
          out[i] = backward_output<T, kKind>(yv[u][i], gv[u][i], total);
        store_chunk<kVec>(dx + o + c * kVec, out);
      }
    }
    if (at.edge >= 0) dx[row * dim + at.edge] = backward_output<T, kKind>(edge_y, edge_dy, total);
    __syncthreads();
  }
}

//! kSmemRow backward: y and dy staged in shared memory on the first read (dy's row after y's,
//! 16-byte aligned), split by row_part as forward_smem_rows, kUnroll chunks per thread in
//! flight, so each is read from memory once.
template <int kThreads, class Split, class T, SoftmaxKind kKind>
__device__ __forceinline__ void backward_smem_rows(const T* y, const T* dy, T* dx, int64_t rows,
                                                   int64_t dim) {
  using A = softmax_acc_t<T>;
  // Two streams: float64 keeps one chunk (16 bytes) per stream in flight (more spilled under the 64
  // registers of a 1024-thread block).
  constexpr int kVec = Split::kVec, kUnroll = sizeof(T) == 8 ? 1 : Split::kUnroll;
  using BlockReduce = cub::BlockReduce<A, kThreads>;
  __shared__ typename BlockReduce::TempStorage temp;
  __shared__ A row_total;
  extern __shared__ __align__(16) unsigned char softmax_smem[];
  T* staged_y = reinterpret_cast<T*>(softmax_smem);
  T* staged_dy = reinterpret_cast<T*>(softmax_smem + smem_row_second_offset(dim, kVec, sizeof(T)));
  // Rows split as in forward_smem_rows (y, dy and dx sit alike past a 16-byte boundary).
  const int base = elements_past_16_bytes(y);
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const RowPart at = row_part(row, dim, base, kVec, 1, 0, threadIdx.x);
    const T edge_y = at.edge >= 0 ? y[row * dim + at.edge] : T{};
    const T edge_dy = at.edge >= 0 ? dy[row * dim + at.edge] : T{};
    A t = at.edge >= 0 ? backward_term<T, kKind>(edge_y, edge_dy) : A(0);
    t += stage_pair<kThreads, kUnroll, kVec, T, kKind>(y + at.offset, dy + at.offset, staged_y,
                                                       staged_dy, at.count);
    t = BlockReduce(temp).Sum(t);
    if (threadIdx.x == 0) row_total = t;
    __syncthreads();
    const A total = row_total;
    write_staged_pair<kThreads, kVec, T, kKind>(staged_y, staged_dy, at.count, dx + at.offset,
                                                total);
    if (at.edge >= 0) dx[row * dim + at.edge] = backward_output<T, kKind>(edge_y, edge_dy, total);
    __syncthreads();  // temp and row_total are reused by the next row
  }
}

template <class T, SoftmaxKind kKind>
__device__ __forceinline__ void backward_columns(const T* y, const T* dy, T* dx, int64_t outer,
                                                 int64_t dim, int64_t inner) {
  using A = softmax_acc_t<T>;
  const int64_t columns = outer * inner;
  for (int64_t c = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; c < columns;
       c += int64_t{gridDim.x} * blockDim.x) {
    const int64_t base = (c / inner) * dim * inner + c % inner;
    A t = 0;
    for (int64_t d = 0; d < dim; ++d)
      t += backward_term<T, kKind>(y[base + d * inner], dy[base + d * inner]);
    for (int64_t d = 0; d < dim; ++d) {
      const int64_t i = base + d * inner;
      dx[i] = backward_output<T, kKind>(y[i], dy[i], t);
    }
  }
}

//! kClusterRow backward: each block stages its slice of y and dy (as backward_smem_rows), the
//! row's sum combines every block's partial through distributed shared memory in rank order,
//! then each block writes its slice.
template <int kThreads, class Split, class T, SoftmaxKind kKind>
__device__ __forceinline__ void backward_cluster_rows(const T* y, const T* dy, T* dx, int64_t rows,
                                                      int64_t dim) {
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900) || defined(CUACT_SOFTMAX_EMULATION)
  namespace cg = cooperative_groups;
  using A = softmax_acc_t<T>;
  // Two chunks per stream in flight: four spilled under the 64 registers of a 1024-thread block
  // (float32, 16-byte loads), with the slice bounds held beside them.
  constexpr int kVec = Split::kVec, kUnroll = sizeof(T) == 8 ? 1 : 2;
  using BlockReduce = cub::BlockReduce<A, kThreads>;
  __shared__ typename BlockReduce::TempStorage temp;
  __shared__ A block_total[2];  // by row parity: one cluster barrier per row (forward_cluster_rows)
  const cg::cluster_group cluster = cg::this_cluster();
  const unsigned blocks = cluster.num_blocks(), rank = cluster.block_rank();
  // Rows split as in forward_cluster_rows (y, dy and dx sit alike past a 16-byte boundary).
  const int base = elements_past_16_bytes(y);
  // Every row's body slice fits the plan's ceil(floor(dim / kVec) / blocks) chunks.
  const int per = static_cast<int>((dim / kVec + blocks - 1) / blocks);
  extern __shared__ __align__(16) unsigned char softmax_smem[];
  T* staged_y = reinterpret_cast<T*>(softmax_smem);
  T* staged_dy = reinterpret_cast<T*>(softmax_smem + ((per * kVec * sizeof(T) + 15) / 16) * 16);
  int slot = 0;
  for (int64_t row = blockIdx.x / blocks; row < rows; row += gridDim.x / blocks, slot ^= 1) {
    const RowPart at = row_part(row, dim, base, kVec, static_cast<int>(blocks),
                                static_cast<int>(rank), threadIdx.x);
    const int count = at.count;
    const int64_t offset = at.offset, e = at.edge;
    const T edge_y = e >= 0 ? y[row * dim + e] : T{};
    const T edge_dy = e >= 0 ? dy[row * dim + e] : T{};
    A t = e >= 0 ? backward_term<T, kKind>(edge_y, edge_dy) : A(0);
    t += stage_pair<kThreads, kUnroll, kVec, T, kKind>(y + offset, dy + offset, staged_y, staged_dy,
                                                       count);
    t = BlockReduce(temp).Sum(t);
    if (threadIdx.x == 0) block_total[slot] = t;
    cluster.sync();
    A total = 0;
    for (unsigned r = 0; r < blocks; ++r)
      total += *cluster.map_shared_rank(&block_total[slot], r);
    write_staged_pair<kThreads, kVec, T, kKind>(staged_y, staged_dy, count, dx + offset, total);
    if (e >= 0) dx[row * dim + e] = backward_output<T, kKind>(edge_y, edge_dy, total);
  }
  cluster.sync();  // no block leaves while another may still read its partial
#else
  __trap();  // compiled for a GPU without clusters: never planned there (split_row_limits)
#endif
}

//! kGridRow backward: each block stages its slice of y and dy and sums its terms; the sums meet
//! through dx (put_partial) across a grid barrier, every block of a row adds the same partials
//! with the same cub::BlockReduce, a second barrier, then the outputs.
template <int kThreads, class Split, class T, SoftmaxKind kKind>
__device__ __forceinline__ void backward_grid_rows(const T* y, const T* dy, T* dx, int64_t rows,
                                                   int64_t dim, int parts) {
  namespace cg = cooperative_groups;
  using A = softmax_acc_t<T>;
  constexpr int kVec = Split::kVec, kUnroll = sizeof(T) == 8 ? 1 : 2;
  using BlockReduce = cub::BlockReduce<A, kThreads>;
  __shared__ typename BlockReduce::TempStorage temp;
  __shared__ A row_total;
  const cg::grid_group grid = cg::this_grid();
  // Rows split as in forward_grid_rows (y, dy and dx sit alike past a 16-byte boundary); every
  // row's body slice fits the plan's ceil(floor(dim / kVec) / parts) chunks.
  const int base = elements_past_16_bytes(y);
  const int part = static_cast<int>(blockIdx.x % parts);
  extern __shared__ __align__(16) unsigned char softmax_smem[];
  const int per = static_cast<int>((dim / kVec + parts - 1) / parts);
  T* staged_y = reinterpret_cast<T*>(softmax_smem);
  T* staged_dy = reinterpret_cast<T*>(softmax_smem + ((per * kVec * sizeof(T) + 15) / 16) * 16);
  const int64_t wave = gridDim.x / parts;
  for (int64_t wave_first = 0; wave_first < rows; wave_first += wave) {
    const int64_t row = wave_first + blockIdx.x / parts;
    const bool live = row < rows;
    const RowPart at = row_part(row, dim, base, kVec, parts, part, threadIdx.x);
    const int count = live ? at.count : 0;
    const int64_t offset = at.offset, e = live ? at.edge : -1;
    const T edge_y = e >= 0 ? y[row * dim + e] : T{};
    const T edge_dy = e >= 0 ? dy[row * dim + e] : T{};
    A t = e >= 0 ? backward_term<T, kKind>(edge_y, edge_dy) : A(0);
    t += stage_pair<kThreads, kUnroll, kVec, T, kKind>(y + offset, dy + offset, staged_y, staged_dy,
                                                       count);
    t = BlockReduce(temp).Sum(t);
    if (threadIdx.x == 0 && live) {
      put_partial(dx + offset, t);
      __threadfence();
    }
    grid.sync();
    A partial = 0;
    if (live && threadIdx.x < parts) {  // part threadIdx.x's sum, at its slice's start
      partial =
          get_partial<T, A>(dx + row_part(row, dim, base, kVec, parts, threadIdx.x, 0).offset);
    }
    partial = BlockReduce(temp).Sum(partial);
    if (threadIdx.x == 0) row_total = partial;
    grid.sync();  // every partial read before any slice is overwritten; row_total block-wide
    const A total = row_total;
    write_staged_pair<kThreads, kVec, T, kKind>(staged_y, staged_dy, count, dx + offset, total);
    if (e >= 0) dx[row * dim + e] = backward_output<T, kKind>(edge_y, edge_dy, total);
    __syncthreads();  // row_total and temp are rewritten by the next wave
  }
}

//! kColumnTile backward (kStaged) and kColumnTileReread backward: the column sums from one read of
//! y and dy (kUnroll chunks of each in flight), combined per column, then the outputs. kStaged:
//! the tiles were staged on that read (dy's after y's, partials after both) and the outputs come
//! from shared memory; else (tiles too tall to stage) from a second read. When `parts` blocks (a
//! cluster) share each tile, each takes its slice [lo, hi) of the dim indices (staged: the slice
//! is what it stages) and the sums combine across them first (combine_cluster_columns).
template <bool kStaged, class Split, class T, SoftmaxKind kKind>
__device__ __forceinline__ void backward_column_tiles(const T* y, const T* dy, T* dx, int64_t outer,
                                                      int64_t dim, int64_t inner, int parts) {
  using A = softmax_acc_t<T>;
  constexpr int kVec = Split::kVec, kUnroll = Split::kUnroll;
  constexpr int kPartialBytes = softmax_column_partial_bytes(sizeof(T), true);
  static_assert(sizeof(A) <= kPartialBytes, "column partials outgrow the planned shared memory");
  const ColumnTile tile = column_tile_for(dim, inner, kVec, sizeof(T));
  extern __shared__ __align__(16) unsigned char softmax_smem[];
  const int64_t tile_bytes =
      kStaged ? tile.tile_bytes(column_slice_rows(dim, parts), sizeof(T)) : 0;
  T* staged_y = reinterpret_cast<T*>(softmax_smem);
  T* staged_dy = reinterpret_cast<T*>(softmax_smem + tile_bytes);
  A* partials = reinterpret_cast<A*>(softmax_smem + 2 * tile_bytes);
  unsigned char* exchange =
      softmax_smem + 2 * tile_bytes + column_partials_smem(tile, sizeof(T), true);
  const int g = threadIdx.x % tile.groups, rows = tile.rows();
  const int64_t tiles = outer * tile.tiles_across(inner);
  const ColumnTileBlock b = column_tile_block(dim, parts);
  int slot = 0;
  for (int64_t tile_id = b.first_tile; tile_id < tiles; tile_id += b.tile_step) {
    const ColumnTileThread at = column_tile_thread(tile, tile_id, dim, inner, threadIdx.x);
    A total[kVec] = {};
    for (int64_t d0 = at.live ? b.lo + at.first_dim : b.hi; d0 < b.hi;
         d0 += int64_t{rows} * kUnroll) {
      T yv[kUnroll][kVec], gv[kUnroll][kVec];
      load_column_round<kUnroll, kVec>(y + at.offset, d0, rows, b.hi, inner, yv);
      load_column_round<kUnroll, kVec>(dy + at.offset, d0, rows, b.hi, inner, gv);
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t d = d0 + int64_t{u} * rows;
        if (d >= b.hi) continue;
        if constexpr (kStaged) {
          const int64_t q = ((d - b.lo) * tile.groups + g) * kVec;
          stage_chunk<kVec>(staged_y + q, yv[u]);
          stage_chunk<kVec>(staged_dy + q, gv[u]);
        }
#pragma unroll
        for (int i = 0; i < kVec; ++i)
          total[i] += backward_term<T, kKind>(yv[u][i], gv[u][i]);
      }
    }
    combine_columns(total, partials, tile, SumOf{});
    if (parts > 1) combine_cluster_columns(total, exchange, kPartialBytes, slot, tile, SumOf{});
    if (!at.live) continue;
    constexpr int kRound = kStaged ? 1 : kUnroll;  // shared memory: one chunk at a time
    for (int64_t d0 = b.lo + at.first_dim; d0 < b.hi; d0 += int64_t{rows} * kRound) {
      T yv[kRound][kVec], gv[kRound][kVec];
      if constexpr (kStaged) {
        load_chunk<kVec>(staged_y + ((d0 - b.lo) * tile.groups + g) * kVec, yv[0]);
        load_chunk<kVec>(staged_dy + ((d0 - b.lo) * tile.groups + g) * kVec, gv[0]);
      } else {
        load_column_round<kRound, kVec>(y + at.offset, d0, rows, b.hi, inner, yv);
        load_column_round<kRound, kVec>(dy + at.offset, d0, rows, b.hi, inner, gv);
      }
#pragma unroll
      for (int u = 0; u < kRound; ++u) {
        const int64_t d = d0 + int64_t{u} * rows;
        if (d >= b.hi) continue;
        T out[kVec];
#pragma unroll
        for (int i = 0; i < kVec; ++i)
          out[i] = backward_output<T, kKind>(yv[u][i], gv[u][i], total[i]);
        store_chunk<kVec>(dx + at.offset + d * inner, out);
      }
    }
  }
  leave_column_cluster(parts);
}

template <SoftmaxTier kTier, int kThreads, class Split, class T, SoftmaxKind kKind>
__global__ void __launch_bounds__(kThreads, kSoftmaxMinBlocks<kThreads>)
    softmax_backward_kernel(const T* y, const T* dy, T* dx, int64_t outer, int64_t dim,
                            int64_t inner, int parts) {
  if constexpr (kTier == SoftmaxTier::kWarpRow || kTier == SoftmaxTier::kBlockRegs) {
    static_assert(kThreads == Split::kBlockThreads, "the split's reduction storage is per block");
    backward_register_rows<Split, T, kKind>(y, dy, dx, outer, dim);
  } else if constexpr (kTier == SoftmaxTier::kBlockRow) {
    backward_block_rows<kThreads, Split, T, kKind>(y, dy, dx, outer, dim);
  } else if constexpr (kTier == SoftmaxTier::kSmemRow) {
    backward_smem_rows<kThreads, Split, T, kKind>(y, dy, dx, outer, dim);
  } else if constexpr (kTier == SoftmaxTier::kColumnTile ||
                       kTier == SoftmaxTier::kColumnTileReread) {
    backward_column_tiles<kTier == SoftmaxTier::kColumnTile, Split, T, kKind>(y, dy, dx, outer, dim,
                                                                              inner, parts);
  } else if constexpr (kTier == SoftmaxTier::kClusterRow) {
    backward_cluster_rows<kThreads, Split, T, kKind>(y, dy, dx, outer, dim);
  } else if constexpr (kTier == SoftmaxTier::kGridRow) {
    backward_grid_rows<kThreads, Split, T, kKind>(y, dy, dx, outer, dim, parts);
  } else {
    backward_columns<T, kKind>(y, dy, dx, outer, dim, inner);
  }
}

}  // namespace cuact::detail
