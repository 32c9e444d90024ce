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

//! e^v for the row sums and outputs. float32 storage takes the float exponential (2 ulp) and
//! sums it in double: the sum of a 10^6-element row stays within a few float ulps.
template <class T>
CUACT_HD softmax_acc_t<T> softmax_exp(softmax_acc_t<T> v) {
  if constexpr (std::is_same_v<T, double>) {
    return ::exp(v);
  } else {
    return ::expf(static_cast<float>(v));
  }
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

//! Adds one element: a new maximum rescales the sum; -inf adds nothing; NaN poisons the row.
template <class T, class A>
CUACT_HD void accumulate(MaxSum<A>& p, A x) {
  if (x > p.max) {
    p.excess = (p.excess + A(1)) * softmax_exp<T>(p.max - x);  // old sum, rescaled; new max is 1
    p.max = x;
  } else if (x != x) {
    p.max = x;
    p.excess = x;
  } else if (x > -static_cast<A>(HUGE_VAL)) {
    p.excess += softmax_exp<T>(x - p.max);
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
               ? MaxSum<A>{a.max, a.excess + (b.excess + A(1)) * softmax_exp<T>(b.max - a.max)}
               : MaxSum<A>{b.max, b.excess + (a.excess + A(1)) * softmax_exp<T>(a.max - b.max)};
  }
};

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
  } else if (p.max == -inf && safe) {
    r.masked = true;
  }
  return r;
}

template <class T, SoftmaxKind kKind, class A>
CUACT_HD T softmax_output_value(A xv, const RowScale<A>& r) {
  if (r.masked)
    return to_storage<T>(kKind == SoftmaxKind::kSoftmax ? A(0) : -static_cast<A>(HUGE_VAL));
  const A shifted = xv - r.max;
  if constexpr (kKind == SoftmaxKind::kSoftmax) {
    return to_storage<T>(softmax_exp<T>(shifted) * r.inv_sum);
  } else {
    return to_storage<T>(shifted - r.log_sum);
  }
}

template <class T, SoftmaxKind kKind, class A>
CUACT_HD T softmax_output(T x, const RowScale<A>& r) {
  return softmax_output_value<T, kKind>(static_cast<A>(to_compute(x)), r);
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
    return to_storage<T>(g - softmax_exp<T>(yv) * total);
  }
}

// ---- forward, per tier ---------------------------------------------------------------------

//! kWarpRow: a warp per row (dim <= 32 kPerLane <= 1024), eight rows per block, grid-stride over
//! rows. The row stays in registers (kPerLane values per lane, in the storage type), so it is
//! read from memory once: loads, online (max, excess), a warp reduction, then the outputs.
template <int kPerLane, class T, SoftmaxKind kKind>
__device__ __forceinline__ void forward_warp_rows(const T* x, T* y, int64_t rows, int64_t dim,
                                                  bool safe) {
  using A = softmax_acc_t<T>;
  using WarpReduce = cub::WarpReduce<MaxSum<A>>;
  __shared__ typename WarpReduce::TempStorage temp[8];
  // Up to 128 bytes per lane stay in registers, in the storage type; a row of 1024 doubles would
  // spill, so its output pass reads the row again (from L1/L2: it was just read).
  constexpr bool kHold = kPerLane * sizeof(T) <= 128;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int64_t row = int64_t{blockIdx.x} * 8 + warp; row < rows; row += int64_t{gridDim.x} * 8) {
    const T* xr = x + row * dim;
    T v[kHold ? kPerLane : 1];
    MaxSum<A> p = empty_max_sum<A>();
    if constexpr (kHold) {
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) {  // all loads first: kPerLane in flight per lane
        if (lane + 32 * k < dim) v[k] = xr[lane + 32 * k];
      }
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) {
        if (lane + 32 * k < dim) accumulate<T>(p, static_cast<A>(to_compute(v[k])));
      }
    } else {
      for (int64_t j = lane; j < dim; j += 32)
        accumulate<T>(p, static_cast<A>(to_compute(xr[j])));
    }
    p = WarpReduce(temp[warp]).Reduce(p, CombineMaxSum<T>{});
    p.max = __shfl_sync(0xffffffffu, p.max, 0);  // the aggregate is valid in lane 0
    p.excess = __shfl_sync(0xffffffffu, p.excess, 0);
    const RowScale<A> r = finish<kKind>(p, safe);
    T* yr = y + row * dim;
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) {
      const int64_t j = lane + 32 * k;
      if (j >= dim) continue;
      if constexpr (kHold) {
        yr[j] = softmax_output<T, kKind>(v[k], r);
      } else {
        yr[j] = softmax_output<T, kKind>(xr[j], r);
      }
    }
  }
}

//! kBlockRow: a block of kThreads per row, grid-stride over rows.
template <int kThreads, class T, SoftmaxKind kKind>
__device__ __forceinline__ void forward_block_rows(const T* x, T* y, int64_t rows, int64_t dim,
                                                   bool safe) {
  using A = softmax_acc_t<T>;
  using BlockReduce = cub::BlockReduce<MaxSum<A>, kThreads>;
  __shared__ typename BlockReduce::TempStorage temp;
  __shared__ MaxSum<A> row_total;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * dim;
    MaxSum<A> p = empty_max_sum<A>();
    for (int64_t j = threadIdx.x; j < dim; j += kThreads) {
      accumulate<T>(p, static_cast<A>(to_compute(xr[j])));
    }
    p = BlockReduce(temp).Reduce(p, CombineMaxSum<T>{});
    if (threadIdx.x == 0) row_total = p;  // the aggregate is valid in thread 0
    __syncthreads();
    const RowScale<A> r = finish<kKind>(row_total, safe);
    T* yr = y + row * dim;
    for (int64_t j = threadIdx.x; j < dim; j += kThreads)
      yr[j] = softmax_output<T, kKind>(xr[j], r);
    __syncthreads();  // temp and row_total are reused by the next row
  }
}

//! kSmemRow: a block of kThreads per row; the first pass copies the row into dynamic shared
//! memory (storage type: 16-bit rows take half the space) while accumulating, the output pass
//! reads it back, so the row is read from memory once. Each thread reads back only the elements
//! it wrote, so no barrier is needed between the copy and the read.
template <int kThreads, class T, SoftmaxKind kKind>
__device__ __forceinline__ void forward_smem_rows(const T* x, T* y, int64_t rows, int64_t dim,
                                                  bool safe) {
  using A = softmax_acc_t<T>;
  using BlockReduce = cub::BlockReduce<MaxSum<A>, kThreads>;
  __shared__ typename BlockReduce::TempStorage temp;
  __shared__ MaxSum<A> row_total;
  extern __shared__ __align__(16) unsigned char softmax_smem[];
  T* staged = reinterpret_cast<T*>(softmax_smem);
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * dim;
    MaxSum<A> p = empty_max_sum<A>();
    for (int64_t j = threadIdx.x; j < dim; j += kThreads) {
      const T v = xr[j];
      staged[j] = v;
      accumulate<T>(p, static_cast<A>(to_compute(v)));
    }
    p = BlockReduce(temp).Reduce(p, CombineMaxSum<T>{});
    if (threadIdx.x == 0) row_total = p;
    __syncthreads();
    const RowScale<A> r = finish<kKind>(row_total, safe);
    T* yr = y + row * dim;
    for (int64_t j = threadIdx.x; j < dim; j += kThreads) {
      yr[j] = softmax_output<T, kKind>(staged[j], r);
    }
    __syncthreads();  // temp and row_total are reused by the next row
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
    const RowScale<A> r = finish<kKind>(p, safe);
    for (int64_t d = 0; d < dim; ++d) {
      y[base + d * inner] = softmax_output<T, kKind>(x[base + d * inner], r);
    }
  }
}

//! kThreads: block size; kPerLane: row values per lane (kWarpRow only, else 0).
// At least two 256-thread blocks (512 threads) per SM: caps registers at 128 per thread.
template <int kThreads>
inline constexpr int kSoftmaxMinBlocks = kThreads <= 256 ? 2 : 1;

template <SoftmaxTier kTier, int kThreads, int kPerLane, class T, SoftmaxKind kKind>
__global__ void __launch_bounds__(kThreads, kSoftmaxMinBlocks<kThreads>)
    softmax_forward_kernel(const T* x, T* y, int64_t outer, int64_t dim, int64_t inner, bool safe) {
  if constexpr (kTier == SoftmaxTier::kWarpRow) {
    forward_warp_rows<kPerLane, T, kKind>(x, y, outer, dim, safe);
  } else if constexpr (kTier == SoftmaxTier::kBlockRow) {
    forward_block_rows<kThreads, T, kKind>(x, y, outer, dim, safe);
  } else if constexpr (kTier == SoftmaxTier::kSmemRow) {
    forward_smem_rows<kThreads, T, kKind>(x, y, outer, dim, safe);
  } else {
    forward_columns<T, kKind>(x, y, outer, dim, inner, safe);
  }
}

// ---- backward, per tier ---------------------------------------------------------------------

//! kWarpRow backward: y and dy of the row stay in registers (each read once) up to 64 bytes per
//! lane and stream; longer rows of 4- and 8-byte types read them again for the output pass.
template <int kPerLane, class T, SoftmaxKind kKind>
__device__ __forceinline__ void backward_warp_rows(const T* y, const T* dy, T* dx, int64_t rows,
                                                   int64_t dim) {
  using A = softmax_acc_t<T>;
  using WarpReduce = cub::WarpReduce<A>;
  __shared__ typename WarpReduce::TempStorage temp[8];
  constexpr bool kHold = kPerLane * sizeof(T) <= 64;
  constexpr int kHeld = kHold ? kPerLane : 1;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int64_t row = int64_t{blockIdx.x} * 8 + warp; row < rows; row += int64_t{gridDim.x} * 8) {
    const int64_t o = row * dim;
    T yv[kHeld], gv[kHeld];
    A t = 0;
    if constexpr (kHold) {
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) {
        const int64_t j = lane + 32 * k;
        if (j < dim) {
          yv[k] = y[o + j];
          gv[k] = dy[o + j];
        }
      }
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) {
        if (lane + 32 * k < dim) t += backward_term<T, kKind>(yv[k], gv[k]);
      }
    } else {
      for (int64_t j = lane; j < dim; j += 32)
        t += backward_term<T, kKind>(y[o + j], dy[o + j]);
    }
    t = __shfl_sync(0xffffffffu, WarpReduce(temp[warp]).Sum(t), 0);
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) {
      const int64_t j = lane + 32 * k;
      if (j >= dim) continue;
      if constexpr (kHold) {
        dx[o + j] = backward_output<T, kKind>(yv[k], gv[k], t);
      } else {
        dx[o + j] = backward_output<T, kKind>(y[o + j], dy[o + j], t);
      }
    }
  }
}

template <int kThreads, class T, SoftmaxKind kKind>
__device__ __forceinline__ void backward_block_rows(const T* y, const T* dy, T* dx, int64_t rows,
                                                    int64_t dim) {
  using A = softmax_acc_t<T>;
  using BlockReduce = cub::BlockReduce<A, kThreads>;
  __shared__ typename BlockReduce::TempStorage temp;
  __shared__ A row_total;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t o = row * dim;
    A t = 0;
    for (int64_t j = threadIdx.x; j < dim; j += kThreads)
      t += backward_term<T, kKind>(y[o + j], dy[o + j]);
    t = BlockReduce(temp).Sum(t);
    if (threadIdx.x == 0) row_total = t;
    __syncthreads();
    const A total = row_total;
    for (int64_t j = threadIdx.x; j < dim; j += kThreads) {
      dx[o + j] = backward_output<T, kKind>(y[o + j], dy[o + j], total);
    }
    __syncthreads();
  }
}

//! kSmemRow backward: y and dy staged in shared memory on the first read (dy after y, 16-byte
//! aligned), so each is read from memory once.
template <int kThreads, class T, SoftmaxKind kKind>
__device__ __forceinline__ void backward_smem_rows(const T* y, const T* dy, T* dx, int64_t rows,
                                                   int64_t dim) {
  using A = softmax_acc_t<T>;
  using BlockReduce = cub::BlockReduce<A, kThreads>;
  __shared__ typename BlockReduce::TempStorage temp;
  __shared__ A row_total;
  extern __shared__ __align__(16) unsigned char softmax_smem[];
  T* staged_y = reinterpret_cast<T*>(softmax_smem);
  T* staged_dy = reinterpret_cast<T*>(softmax_smem + ((dim * sizeof(T) + 15) / 16) * 16);
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t o = row * dim;
    A t = 0;
    for (int64_t j = threadIdx.x; j < dim; j += kThreads) {
      const T yv = y[o + j], gv = dy[o + j];
      staged_y[j] = yv;
      staged_dy[j] = gv;
      t += backward_term<T, kKind>(yv, gv);
    }
    t = BlockReduce(temp).Sum(t);
    if (threadIdx.x == 0) row_total = t;
    __syncthreads();
    const A total = row_total;
    for (int64_t j = threadIdx.x; j < dim; j += kThreads) {
      dx[o + j] = backward_output<T, kKind>(staged_y[j], staged_dy[j], total);
    }
    __syncthreads();
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

template <SoftmaxTier kTier, int kThreads, int kPerLane, class T, SoftmaxKind kKind>
__global__ void __launch_bounds__(kThreads, kSoftmaxMinBlocks<kThreads>)
    softmax_backward_kernel(const T* y, const T* dy, T* dx, int64_t outer, int64_t dim,
                            int64_t inner) {
  if constexpr (kTier == SoftmaxTier::kWarpRow) {
    backward_warp_rows<kPerLane, T, kKind>(y, dy, dx, outer, dim);
  } else if constexpr (kTier == SoftmaxTier::kBlockRow) {
    backward_block_rows<kThreads, T, kKind>(y, dy, dx, outer, dim);
  } else if constexpr (kTier == SoftmaxTier::kSmemRow) {
    backward_smem_rows<kThreads, T, kKind>(y, dy, dx, outer, dim);
  } else {
    backward_columns<T, kKind>(y, dy, dx, outer, dim, inner);
  }
}

}  // namespace cuact::detail
