// SPDX-License-Identifier: Apache-2.0
//! @file host/softmax_launch.cuh
//! Softmax tier dispatch and launch for one dtype; included by one host/softmax_launch_<dtype>.cu.
#pragma once

#include <cstdint>

#include "cuda/softmax_kernels.cuh"
#include "host/internal.hpp"

namespace cuact::detail {

inline Status check_softmax_launch(const char* fn) {
  const cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess) return Status::kSuccess;
  return fail(Status::kErrorCudaLaunch, "%s: launch failed: %s", fn, cudaGetErrorString(err));
}

template <int kPerLane, class T, SoftmaxKind kKind>
void launch_forward_warp_rows(unsigned grid, const T* x, T* y, const SoftmaxShape& s, bool safe,
                              cudaStream_t stream) {
  softmax_forward_kernel<SoftmaxTier::kWarpRow, 256, kPerLane, T, kKind>
      <<<grid, 256, 0, stream>>>(x, y, s.outer, s.dim, s.inner, safe);
}

template <int kPerLane, class T, SoftmaxKind kKind>
void launch_backward_warp_rows(unsigned grid, const T* y, const T* dy, T* dx, const SoftmaxShape& s,
                               cudaStream_t stream) {
  softmax_backward_kernel<SoftmaxTier::kWarpRow, 256, kPerLane, T, kKind>
      <<<grid, 256, 0, stream>>>(y, dy, dx, s.outer, s.dim, s.inner);
}

// One instantiation per power of two of row values per lane (plan_softmax's per_lane).
#define CUACT_PER_LANE_SWITCH(per_lane, CALL) \
  switch (per_lane) {                         \
    case 1: CALL(1); break;                   \
    case 2: CALL(2); break;                   \
    case 4: CALL(4); break;                   \
    case 8: CALL(8); break;                   \
    case 16: CALL(16); break;                 \
    default: CALL(32); break;                 \
  }

template <class T, SoftmaxKind kKind>
void launch_softmax_forward_kind(const SoftmaxPlan& p, const T* x, T* y, const SoftmaxShape& s,
                                 bool safe, cudaStream_t stream) {
  const auto grid = static_cast<unsigned>(p.grid);
  switch (p.tier) {
    case SoftmaxTier::kWarpRow:
#define CUACT_FWD(k) launch_forward_warp_rows<k, T, kKind>(grid, x, y, s, safe, stream)
      CUACT_PER_LANE_SWITCH(p.per_lane, CUACT_FWD)
#undef CUACT_FWD
      return;
    case SoftmaxTier::kBlockRow:
      if (p.block == 1024) {
        softmax_forward_kernel<SoftmaxTier::kBlockRow, 1024, 0, T, kKind>
            <<<grid, 1024, 0, stream>>>(x, y, s.outer, s.dim, s.inner, safe);
      } else {
        softmax_forward_kernel<SoftmaxTier::kBlockRow, 256, 0, T, kKind>
            <<<grid, 256, 0, stream>>>(x, y, s.outer, s.dim, s.inner, safe);
      }
      return;
    case SoftmaxTier::kColumn:
      softmax_forward_kernel<SoftmaxTier::kColumn, 256, 0, T, kKind>
          <<<grid, 256, 0, stream>>>(x, y, s.outer, s.dim, s.inner, safe);
      return;
  }
}

template <class T, SoftmaxKind kKind>
void launch_softmax_backward_kind(const SoftmaxPlan& p, const T* y, const T* dy, T* dx,
                                  const SoftmaxShape& s, cudaStream_t stream) {
  const auto grid = static_cast<unsigned>(p.grid);
  switch (p.tier) {
    case SoftmaxTier::kWarpRow:
#define CUACT_BWD(k) launch_backward_warp_rows<k, T, kKind>(grid, y, dy, dx, s, stream)
      CUACT_PER_LANE_SWITCH(p.per_lane, CUACT_BWD)
#undef CUACT_BWD
      return;
    case SoftmaxTier::kBlockRow:
      if (p.block == 1024) {
        softmax_backward_kernel<SoftmaxTier::kBlockRow, 1024, 0, T, kKind>
            <<<grid, 1024, 0, stream>>>(y, dy, dx, s.outer, s.dim, s.inner);
      } else {
        softmax_backward_kernel<SoftmaxTier::kBlockRow, 256, 0, T, kKind>
            <<<grid, 256, 0, stream>>>(y, dy, dx, s.outer, s.dim, s.inner);
      }
      return;
    case SoftmaxTier::kColumn:
      softmax_backward_kernel<SoftmaxTier::kColumn, 256, 0, T, kKind>
          <<<grid, 256, 0, stream>>>(y, dy, dx, s.outer, s.dim, s.inner);
      return;
  }
}

template <class T>
Status launch_softmax_forward_typed(SoftmaxKind kind, const void* x, void* y, const SoftmaxShape& s,
                                    bool safe, const LaunchContext& ctx) {
  const SoftmaxPlan p = plan_softmax(s.outer, s.dim, s.inner, ctx.multiprocessor_count);
  const T* xt = static_cast<const T*>(x);
  T* yt = static_cast<T*>(y);
  if (kind == SoftmaxKind::kSoftmax) {
    launch_softmax_forward_kind<T, SoftmaxKind::kSoftmax>(p, xt, yt, s, safe, ctx.stream);
  } else {
    launch_softmax_forward_kind<T, SoftmaxKind::kLogSoftmax>(p, xt, yt, s, safe, ctx.stream);
  }
  return check_softmax_launch("cuact::softmax_forward");
}

template <class T>
Status launch_softmax_backward_typed(SoftmaxKind kind, const void* y, const void* dy, void* dx,
                                     const SoftmaxShape& s, const LaunchContext& ctx) {
  const SoftmaxPlan p = plan_softmax(s.outer, s.dim, s.inner, ctx.multiprocessor_count);
  const T* yt = static_cast<const T*>(y);
  const T* dyt = static_cast<const T*>(dy);
  T* dxt = static_cast<T*>(dx);
  if (kind == SoftmaxKind::kSoftmax) {
    launch_softmax_backward_kind<T, SoftmaxKind::kSoftmax>(p, yt, dyt, dxt, s, ctx.stream);
  } else {
    launch_softmax_backward_kind<T, SoftmaxKind::kLogSoftmax>(p, yt, dyt, dxt, s, ctx.stream);
  }
  return check_softmax_launch("cuact::softmax_backward");
}

}  // namespace cuact::detail

#define CUACT_DEFINE_SOFTMAX_LAUNCHERS(suffix, T)                                          \
  namespace cuact::detail {                                                                \
  Status launch_softmax_forward_##suffix(SoftmaxKind kind, const void* x, void* y,         \
                                         const SoftmaxShape& s, bool safe,                 \
                                         const LaunchContext& ctx) noexcept {              \
    return launch_softmax_forward_typed<T>(kind, x, y, s, safe, ctx);                      \
  }                                                                                        \
  Status launch_softmax_backward_##suffix(SoftmaxKind kind, const void* y, const void* dy, \
                                          void* dx, const SoftmaxShape& s,                 \
                                          const LaunchContext& ctx) noexcept {             \
    return launch_softmax_backward_typed<T>(kind, y, dy, dx, s, ctx);                      \
  }                                                                                        \
  }
