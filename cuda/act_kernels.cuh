// SPDX-License-Identifier: Apache-2.0
//! @file cuda/act_kernels.cuh
//! The elementwise kernel family: act_forward_kernel<Op, T> and act_backward_kernel<Op, T, Saved>.
//!
//! Each thread owns kUnroll 16-byte output vectors of a 1024-vector tile, strided by the block
//! size so every warp-wide access is contiguous. All loads of a tile are issued before any math
//! (4 vectors x 16 B per stream in flight per thread: well above the ~32-48 KiB/SM Hopper needs
//! at full occupancy). Scalar head and tail elements (VectorPlan) go to the first threads of the
//! grid in the same launch.
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
// Minimum resident 256-thread blocks per SM, which caps registers per thread. 16-bit (float
// math): 4 blocks, <= 64 registers; 4 vectors x 16 B per stream per thread is then 64 KiB
// (forward) to 128 KiB (backward) of loads in flight per SM, above what HBM3e needs. float32 and
// float64 (double math, whose libm calls need more registers): 2 blocks, <= 128 registers, to
// avoid spills; 32-64 KiB in flight per SM.
template <class T>
inline constexpr int kMinBlocksPerSM = sizeof(T) == 2 ? 4 : 2;
inline constexpr int64_t kTileVectors = int64_t{kBlockThreads} * kUnroll;

using ::cuact::compute_t;
using ::cuact::from_compute;
using ::cuact::to_compute;

// ---- 16-byte packs and realignment --------------------------------------------------------
template <class T>
struct alignas(16) Pack {
  static constexpr int kSize = 16 / sizeof(T);
  T v[kSize];
};

template <class T>
__device__ __forceinline__ Pack<T> as_pack(uint4 raw) {
  Pack<T> p;
  __builtin_memcpy(&p, &raw, sizeof(p));
  return p;
}

//! Elements [K, K + V) of the concatenation lo:hi (register moves / byte permutes only).
template <int K, class T>
__device__ __forceinline__ Pack<T> realign(const Pack<T>& lo, const Pack<T>& hi) {
  constexpr int V = Pack<T>::kSize;
  Pack<T> r;
#pragma unroll
  for (int i = 0; i < V; ++i) r.v[i] = (i + K < V) ? lo.v[i + K] : hi.v[i + K - V];
  return r;
}

template <int K, class T>
__device__ __forceinline__ Pack<T> realign_runtime(int k, const Pack<T>& lo, const Pack<T>& hi) {
  if constexpr (K >= Pack<T>::kSize) {
    return lo;  // unreachable: k < V
  } else {
    return k == K ? realign<K>(lo, hi) : realign_runtime<K + 1>(k, lo, hi);
  }
}

//! The V input elements that line up with the output vector starting at element e, for an
//! input misaligned by `shift` elements against the output. shift is uniform across the grid,
//! so the branches never diverge. Aligned streams are read once: evict-first (.cs). Realigned
//! streams read each chunk twice (neighbouring threads), so they keep it in L1.
template <class T>
__device__ __forceinline__ Pack<T> load_lined_up(const T* in, int64_t e, int shift) {
  const uint4* chunk = reinterpret_cast<const uint4*>(in + (e - shift));
  if (shift == 0) return as_pack<T>(__ldcs(chunk));
  const Pack<T> lo = as_pack<T>(__ldg(chunk));
  const Pack<T> hi = as_pack<T>(__ldg(chunk + 1));
  return realign_runtime<1>(shift, lo, hi);
}

template <class T>
__device__ __forceinline__ void store_pack(T* out, int64_t e, const Pack<T>& p) {
  uint4 raw;
  __builtin_memcpy(&raw, &p, sizeof(raw));
  *reinterpret_cast<uint4*>(out + e) = raw;
}

__device__ __forceinline__ int64_t edge_count(const VectorPlan& plan) {
  return plan.head + (plan.n - plan.tail_begin);
}

//! Index of the scalar edge element handled by edge thread `t` (t < edge_count(plan)).
__device__ __forceinline__ int64_t edge_element(const VectorPlan& plan, int64_t t) {
  return t < plan.head ? t : plan.tail_begin + (t - plan.head);
}

// ---- the kernels --------------------------------------------------------------------------

template <class Op, class T>
__global__ void __launch_bounds__(kBlockThreads, kMinBlocksPerSM<T>)
    act_forward_kernel(const T* x, T* y, VectorPlan plan, Op op) {
  constexpr int V = Pack<T>::kSize;
  const int64_t tid = int64_t{blockIdx.x} * kBlockThreads + threadIdx.x;
  if (tid < edge_count(plan)) {
    const int64_t i = edge_element(plan, tid);
    y[i] = from_compute<T>(op.forward(to_compute(x[i])));
  }
  for (int64_t tile = blockIdx.x; tile * kTileVectors < plan.num_vectors; tile += gridDim.x) {
    const int64_t first = tile * kTileVectors + threadIdx.x;
    Pack<T> in[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t j = first + u * kBlockThreads;
      if (j < plan.num_vectors) in[u] = load_lined_up(x, plan.head + j * V, plan.shift[0]);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t j = first + u * kBlockThreads;
      if (j >= plan.num_vectors) break;
      Pack<T> out;
#pragma unroll
      for (int k = 0; k < V; ++k) out.v[k] = from_compute<T>(op.forward(to_compute(in[u].v[k])));
      store_pack(y, plan.head + j * V, out);
    }
  }
}

//! dx = dy * f'(saved), saved = x or y (kSaved). One pass over three streams.
template <class Op, class T, Saved kSaved>
__device__ __forceinline__ T backward_element(const Op& op, T dy, T saved) {
  const compute_t<T> s = to_compute(saved);
  if constexpr (kSaved == Saved::kInput) {
    return from_compute<T>(to_compute(dy) * op.derivative(s));
  } else {
    return from_compute<T>(to_compute(dy) * op.derivative_from_output(s));
  }
}

template <class Op, class T, Saved kSaved>
__global__ void __launch_bounds__(kBlockThreads, kMinBlocksPerSM<T>)
    act_backward_kernel(const T* dy, const T* saved, T* dx, VectorPlan plan, Op op) {
  constexpr int V = Pack<T>::kSize;
  const int64_t tid = int64_t{blockIdx.x} * kBlockThreads + threadIdx.x;
  if (tid < edge_count(plan)) {
    const int64_t i = edge_element(plan, tid);
    dx[i] = backward_element<Op, T, kSaved>(op, dy[i], saved[i]);
  }
  for (int64_t tile = blockIdx.x; tile * kTileVectors < plan.num_vectors; tile += gridDim.x) {
    const int64_t first = tile * kTileVectors + threadIdx.x;
    Pack<T> g[kUnroll], s[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t j = first + u * kBlockThreads;
      if (j < plan.num_vectors) {
        g[u] = load_lined_up(dy, plan.head + j * V, plan.shift[0]);
        s[u] = load_lined_up(saved, plan.head + j * V, plan.shift[1]);
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t j = first + u * kBlockThreads;
      if (j >= plan.num_vectors) break;
      Pack<T> out;
#pragma unroll
      for (int k = 0; k < V; ++k) out.v[k] = backward_element<Op, T, kSaved>(op, g[u].v[k], s[u].v[k]);
      store_pack(dx, plan.head + j * V, out);
    }
  }
}

}  // namespace cuact::detail
