// SPDX-License-Identifier: Apache-2.0
//! @file host/act_launch.cuh
//! Op dispatch and launch for one dtype; included by exactly one host/act_launch_<dtype>.cu each.
#pragma once

#include <cstdint>

#include "cuact/activation.hpp"
#include "cuda/act_kernels.cuh"
#include "host/internal.hpp"
#include "cuact/op_table.hpp"

namespace cuact::detail {

inline std::uintptr_t address(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p);
}

inline Status check_launch(const char* fn, Op op) {
  const cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess) return Status::kSuccess;
  return fail(Status::kErrorCudaLaunch, "%s: launching %s failed: %s", fn, op_name(op),
              cudaGetErrorString(err));
}

// Staged (sm_90 and later): one block per tile, with the stages (16.1 / 32.3 KiB, under the
// 48 KiB default: no opt-in). Vector: the capped one-pass grid.
template <class F, class T>
Status launch_forward_op(const F& f, const T* x, T* y, int64_t n, const LaunchContext& ctx) {
  const std::uintptr_t in[1] = {address(x)};
  const VectorPlan plan = make_vector_plan(n, sizeof(T), address(y), in, 1);
  if (ctx.staged_elementwise) {
    act_forward_kernel<F, T, StagedTiles><<<static_cast<unsigned>(tile_count(plan)), kBlockThreads,
                                            kStagedSmemBytes<false>, ctx.stream>>>(x, y, plan, f);
  } else {
    const int64_t grid = elementwise_grid(plan, kTileVectors, ctx.multiprocessor_count);
    act_forward_kernel<F, T, VectorTiles>
        <<<static_cast<unsigned>(grid), kBlockThreads, 0, ctx.stream>>>(x, y, plan, f);
  }
  return check_launch("cuact::forward", F::kOp);
}

template <class F, class T, Saved kSaved>
Status launch_backward_op(const F& f, const T* dy, const T* saved, T* dx, int64_t n,
                          const LaunchContext& ctx) {
  const std::uintptr_t in[2] = {address(dy), address(saved)};
  const VectorPlan plan = make_vector_plan(n, sizeof(T), address(dx), in, 2);
  if (ctx.staged_elementwise) {
    act_backward_kernel<F, T, kSaved, StagedTiles>
        <<<static_cast<unsigned>(tile_count(plan)), kBlockThreads, kStagedSmemBytes<true>,
           ctx.stream>>>(dy, saved, dx, plan, f);
  } else {
    const int64_t grid = elementwise_grid(plan, kTileVectors, ctx.multiprocessor_count);
    act_backward_kernel<F, T, kSaved, VectorTiles>
        <<<static_cast<unsigned>(grid), kBlockThreads, 0, ctx.stream>>>(dy, saved, dx, plan, f);
  }
  return check_launch("cuact::backward", F::kOp);
}

template <class T>
Status launch_forward_typed(Op op, const ActParams& p, const void* x, void* y, int64_t n,
                            const LaunchContext& ctx) {
  const T* xt = static_cast<const T*>(x);
  T* yt = static_cast<T*>(y);
  switch (op) {
#define CUACT_CASE(e, F, name) \
  case Op::e: return launch_forward_op(F(p), xt, yt, n, ctx);
    CUACT_FOR_EACH_OP(CUACT_CASE)
#undef CUACT_CASE
  }
  return fail(Status::kErrorUnknownOp, "cuact::forward: op = %d is not a cuact::Op",
              static_cast<int>(op));
}

template <class T>
Status launch_backward_typed(Op op, const ActParams& p, const void* dy, const void* saved,
                             Saved which, void* dx, int64_t n, const LaunchContext& ctx) {
  const T* g = static_cast<const T*>(dy);
  const T* s = static_cast<const T*>(saved);
  T* d = static_cast<T*>(dx);
  switch (op) {
#define CUACT_CASE(e, F, name)                                                  \
  case Op::e:                                                                   \
    if constexpr (F::kHasOutputDerivative) {                                    \
      if (which == Saved::kOutput)                                              \
        return launch_backward_op<F, T, Saved::kOutput>(F(p), g, s, d, n, ctx); \
    }                                                                           \
    return launch_backward_op<F, T, Saved::kInput>(F(p), g, s, d, n, ctx);
    CUACT_FOR_EACH_OP(CUACT_CASE)
#undef CUACT_CASE
  }
  return fail(Status::kErrorUnknownOp, "cuact::backward: op = %d is not a cuact::Op",
              static_cast<int>(op));
}

}  // namespace cuact::detail

//! Defines the two extern launchers of host/internal.hpp for one dtype.
#define CUACT_DEFINE_LAUNCHERS(suffix, T)                                                \
  namespace cuact::detail {                                                              \
  Status launch_forward_##suffix(Op op, const ActParams& params, const void* x, void* y, \
                                 int64_t n, const LaunchContext& ctx) noexcept {         \
    return launch_forward_typed<T>(op, params, x, y, n, ctx);                            \
  }                                                                                      \
  Status launch_backward_##suffix(Op op, const ActParams& params, const void* dy,        \
                                  const void* saved, Saved which, void* dx, int64_t n,   \
                                  const LaunchContext& ctx) noexcept {                   \
    return launch_backward_typed<T>(op, params, dy, saved, which, dx, n, ctx);           \
  }                                                                                      \
  }
