// SPDX-License-Identifier: Apache-2.0
//! @file host/internal.hpp
//! Private host-side declarations shared by the library's translation units.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuact/softmax.hpp"
#include "cuact/types.hpp"
#include "cuda/softmax_plan.hpp"

namespace cuact::detail {

//! Thread-block clusters: up to kPortableClusterBlocks (cuda/softmax_plan.hpp) are portable;
//! Hopper schedules 16 with a per-kernel non-portable opt-in, where a GPC has 16 free SMs (the
//! occupancy API says; softmax asks it once per device before planning a cluster that large).
inline constexpr int kMaxClusterBlocks = 16;

//! Records the detail message returned by last_error_detail() (printf-style) and returns
//! `status`, so validation reads `return fail(Status::k..., "...", ...)`.
Status fail(Status status, const char* format, ...) noexcept
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

//! Clears the detail message (called on entry of every public function).
void clear_error_detail() noexcept;

//! What the launchers need to know about the current device, queried once per device and cached.
struct DeviceLimits {
  int device = 0;
  int multiprocessor_count = 0;
  int shared_memory_optin = 0;  //!< bytes of dynamic + static shared memory a block may opt into
  int max_cluster_blocks = 0;   //!< thread-block cluster size we launch up to (0: no clusters)
  bool cooperative_launch = false;  //!< grid-synchronising (cooperative) launches supported
  int compute_major = 0;            //!< compute capability, major
};
Status current_device_limits(DeviceLimits* limits) noexcept;

//! Size in bytes of one element; 0 for an unknown dtype.
int dtype_size(DType dtype) noexcept;

// Argument validation (no CUDA calls; sets the detail message). `fn` names the public function.
Status validate_op_dtype_params(const char* fn, Op op, DType dtype,
                                const ActParams& params) noexcept;
Status validate_tensor(const char* fn, const char* name, const void* p, int64_t n,
                       DType dtype) noexcept;
//! An output may equal an input or be disjoint from it; anything in between is an error.
Status validate_aliasing(const char* fn, const char* out_name, const void* out, const char* in_name,
                         const void* in, int64_t n, DType dtype) noexcept;

struct LaunchContext {
  int multiprocessor_count = 0;
  int shared_memory_optin = 0;
  int max_cluster_blocks = 0;
  bool cooperative_launch = false;
  //! Elementwise kernels get their inputs by bulk copy into shared memory (sm_90 and later; see
  //! cuda/act_kernels.cuh): the launchers pass the staging memory. False: 16-byte vector loads.
  bool staged_elementwise = false;
  int device = 0;
  cudaStream_t stream = nullptr;
};

//! The current device's cached limits and the caller's stream (kErrorNoDevice without a device).
Status make_launch_context(cudaStream_t stream, LaunchContext* ctx) noexcept;

//! Input x and output y of n elements for a forward call: non-null, aligned, y == x or disjoint.
Status validate_forward_tensors(const char* fn, const void* x, const void* y, int64_t n,
                                DType dtype) noexcept;

//! Two inputs and an output of n elements for a backward call: non-null, aligned, and the output
//! identical to or disjoint from each input.
Status validate_backward_tensors(const char* fn, const char* in0_name, const void* in0,
                                 const char* in1_name, const void* in1, const char* out_name,
                                 const void* out, int64_t n, DType dtype) noexcept;

//! Returns the status of `expr` from the enclosing function unless it is kSuccess.
#define CUACT_TRY(expr)                                                   \
  do {                                                                    \
    const ::cuact::Status cuact_status_ = (expr);                         \
    if (cuact_status_ != ::cuact::Status::kSuccess) return cuact_status_; \
  } while (0)

// Per-dtype launchers, one translation unit each (host/act_launch_<dtype>.cu).
#define CUACT_DECLARE_LAUNCHERS(suffix)                                                  \
  Status launch_forward_##suffix(Op op, const ActParams& params, const void* x, void* y, \
                                 int64_t n, const LaunchContext& ctx) noexcept;          \
  Status launch_backward_##suffix(Op op, const ActParams& params, const void* dy,        \
                                  const void* saved, Saved which, void* dx, int64_t n,   \
                                  const LaunchContext& ctx) noexcept;
CUACT_DECLARE_LAUNCHERS(float32)
CUACT_DECLARE_LAUNCHERS(float16)
CUACT_DECLARE_LAUNCHERS(bfloat16)
CUACT_DECLARE_LAUNCHERS(float64)
#undef CUACT_DECLARE_LAUNCHERS

#define CUACT_DECLARE_SOFTMAX_LAUNCHERS(suffix)                                              \
  Status launch_softmax_forward_##suffix(SoftmaxKind kind, const void* x, void* y,           \
                                         const SoftmaxShape& s, bool safe,                   \
                                         const LaunchContext& ctx) noexcept;                 \
  Status launch_softmax_backward_##suffix(SoftmaxKind kind, const void* y, const void* dy,   \
                                          void* dx, const SoftmaxShape& s,                   \
                                          const LaunchContext& ctx) noexcept;                \
  SoftmaxPlan softmax_plan_##suffix(const SoftmaxShape& s, bool backward, const void* a,     \
                                    const void* b, const void* c, const LaunchContext& ctx,  \
                                    const SoftmaxTuning* tuned) noexcept;                    \
  Status softmax_launch_plan_##suffix(SoftmaxKind kind, const SoftmaxPlan& p, bool backward, \
                                      const void* a, const void* b, void* out,               \
                                      const SoftmaxShape& s, const LaunchContext& ctx) noexcept;
CUACT_DECLARE_SOFTMAX_LAUNCHERS(float32)
CUACT_DECLARE_SOFTMAX_LAUNCHERS(float16)
CUACT_DECLARE_SOFTMAX_LAUNCHERS(bfloat16)
CUACT_DECLARE_SOFTMAX_LAUNCHERS(float64)
#undef CUACT_DECLARE_SOFTMAX_LAUNCHERS

}  // namespace cuact::detail
