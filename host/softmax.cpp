// SPDX-License-Identifier: Apache-2.0
//! Softmax entry points: validate -> (empty: done) -> device info -> NVTX range -> per-dtype
//! launcher. Everything before the launcher is CUDA-free except the cached SM-count query.
#include <cstdint>

#include "cuact/activation.hpp"
#include "cuact/softmax.hpp"
#include "host/internal.hpp"
#include "host/nvtx.hpp"
#include "host/softmax_by_plan.hpp"

namespace cuact {
namespace {

const char* kind_name(SoftmaxKind kind) {
  return kind == SoftmaxKind::kSoftmax ? "softmax" : "log_softmax";
}

//! Kind, dtype and shape; sets *n to the element count (0: nothing to do).
Status validate_softmax(const char* fn, SoftmaxKind kind, DType dtype, const SoftmaxShape& s,
                        int64_t* n) {
  if (kind != SoftmaxKind::kSoftmax && kind != SoftmaxKind::kLogSoftmax) {
    return detail::fail(Status::kErrorUnknownOp, "%s: kind = %d is not a cuact::SoftmaxKind", fn,
                        static_cast<int>(kind));
  }
  if (detail::dtype_size(dtype) == 0) {
    return detail::fail(Status::kErrorUnknownDType, "%s: dtype = %d is not a cuact::DType", fn,
                        static_cast<int>(dtype));
  }
  if (s.outer < 0 || s.dim < 0 || s.inner < 0) {
    return detail::fail(Status::kErrorInvalidShape,
                        "%s: shape (outer %lld, dim %lld, inner %lld) has a negative extent", fn,
                        static_cast<long long>(s.outer), static_cast<long long>(s.dim),
                        static_cast<long long>(s.inner));
  }
  if (s.outer == 0 || s.dim == 0 || s.inner == 0) {
    *n = 0;
    return Status::kSuccess;
  }
  if (s.dim > INT64_MAX / s.inner || s.outer > INT64_MAX / (s.dim * s.inner)) {
    return detail::fail(Status::kErrorInvalidShape,
                        "%s: shape (outer %lld, dim %lld, inner %lld) has more than 2^63 elements",
                        fn, static_cast<long long>(s.outer), static_cast<long long>(s.dim),
                        static_cast<long long>(s.inner));
  }
  *n = s.outer * s.dim * s.inner;
  return Status::kSuccess;
}

//! The tensors of a forward (a = x, b = y) or backward (a = y, b = dy, c = dx) call.
Status validate_softmax_tensors(const char* fn, bool backward, const void* a, const void* b,
                                const void* c, int64_t n, DType dtype) {
  if (backward) return detail::validate_backward_tensors(fn, "dy", b, "y", a, "dx", c, n, dtype);
  return detail::validate_forward_tensors(fn, a, b, n, dtype);
}

detail::SoftmaxPlan plan_for(DType dtype, bool backward, const void* a, const void* b,
                             const void* c, const SoftmaxShape& shape,
                             const detail::LaunchContext& ctx, const detail::SoftmaxTuning* tuned) {
  switch (dtype) {
    case DType::kFloat32: return detail::softmax_plan_float32(shape, backward, a, b, c, ctx, tuned);
    case DType::kFloat16: return detail::softmax_plan_float16(shape, backward, a, b, c, ctx, tuned);
    case DType::kBFloat16:
      return detail::softmax_plan_bfloat16(shape, backward, a, b, c, ctx, tuned);
    case DType::kFloat64: return detail::softmax_plan_float64(shape, backward, a, b, c, ctx, tuned);
  }
  return {};
}

//! The first threshold outside the range within which every plan keeps the kernels' contracts
//! (SoftmaxTuning), or null.
const char* tuning_out_of_range(const detail::SoftmaxTuning& t) {
  const int cluster = t.few_rows_max_cluster;
  if (t.column_tile_blocks_per_sm < 1) return "column_tile_blocks_per_sm";
  if (t.min_column_slice_rounds < 1) return "min_column_slice_rounds";
  if (cluster < 1 || cluster > detail::kMaxClusterBlocks || (cluster & (cluster - 1)) != 0) {
    return "few_rows_max_cluster";
  }
  if (t.min_cluster_slice_chunks < 16) return "min_cluster_slice_chunks";
  if (t.grid_over_cluster_factor < 1) return "grid_over_cluster_factor";
  return nullptr;
}

}  // namespace

Status make_softmax_shape(const int64_t* dims, int ndim, int axis, SoftmaxShape* out) noexcept {
  constexpr const char* fn = "cuact::make_softmax_shape";
  detail::clear_error_detail();
  if (dims == nullptr || out == nullptr) {
    return detail::fail(Status::kErrorNullPointer, "%s: %s is null", fn,
                        dims == nullptr ? "dims" : "out");
  }
  if (ndim < 1) {
    return detail::fail(Status::kErrorInvalidShape, "%s: ndim = %d; softmax needs at least 1 axis",
                        fn, ndim);
  }
  if (axis < -ndim || axis >= ndim) {
    return detail::fail(Status::kErrorInvalidAxis, "%s: axis = %d is out of range for %d axes", fn,
                        axis, ndim);
  }
  const int a = axis < 0 ? axis + ndim : axis;
  SoftmaxShape s{1, 0, 1};
  bool empty = false;
  for (int i = 0; i < ndim; ++i) {
    if (dims[i] < 0) {
      return detail::fail(Status::kErrorInvalidShape, "%s: dims[%d] = %lld is negative", fn, i,
                          static_cast<long long>(dims[i]));
    }
    empty = empty || dims[i] == 0;
  }
  // Multiply with overflow checks, unless some extent is 0 (then the product is 0 anyway).
  int64_t total = 1;
  for (int i = 0; i < ndim && !empty; ++i) {
    if (dims[i] > INT64_MAX / total) {
      return detail::fail(Status::kErrorInvalidShape, "%s: more than 2^63 elements", fn);
    }
    total *= dims[i];
  }
  for (int i = 0; i < a; ++i)
    s.outer *= dims[i];
  s.dim = dims[a];
  for (int i = a + 1; i < ndim; ++i)
    s.inner *= dims[i];
  *out = s;
  return Status::kSuccess;
}

Status softmax_forward(SoftmaxKind kind, DType dtype, const void* x, void* y,
                       const SoftmaxShape& shape, const SoftmaxOptions& options,
                       cudaStream_t stream) noexcept {
  constexpr const char* fn = "cuact::softmax_forward";
  detail::clear_error_detail();
  int64_t n = 0;
  CUACT_TRY(validate_softmax(fn, kind, dtype, shape, &n));
  if (n == 0) return Status::kSuccess;
  CUACT_TRY(detail::validate_forward_tensors(fn, x, y, n, dtype));
  detail::LaunchContext ctx;
  CUACT_TRY(detail::make_launch_context(stream, &ctx));
  detail::nvtx_range range{kind_name(kind)};
  const bool safe = options.all_masked_rows_give_zero;
  switch (dtype) {
    case DType::kFloat32:
      return detail::launch_softmax_forward_float32(kind, x, y, shape, safe, ctx);
    case DType::kFloat16:
      return detail::launch_softmax_forward_float16(kind, x, y, shape, safe, ctx);
    case DType::kBFloat16:
      return detail::launch_softmax_forward_bfloat16(kind, x, y, shape, safe, ctx);
    case DType::kFloat64:
      return detail::launch_softmax_forward_float64(kind, x, y, shape, safe, ctx);
  }
  return Status::kErrorUnknownDType;
}

Status softmax_backward(SoftmaxKind kind, DType dtype, const void* y, const void* dy, void* dx,
                        const SoftmaxShape& shape, cudaStream_t stream) noexcept {
  constexpr const char* fn = "cuact::softmax_backward";
  detail::clear_error_detail();
  int64_t n = 0;
  CUACT_TRY(validate_softmax(fn, kind, dtype, shape, &n));
  if (n == 0) return Status::kSuccess;
  CUACT_TRY(detail::validate_backward_tensors(fn, "dy", dy, "y", y, "dx", dx, n, dtype));
  detail::LaunchContext ctx;
  CUACT_TRY(detail::make_launch_context(stream, &ctx));
  detail::nvtx_range range{kind == SoftmaxKind::kSoftmax ? "softmax backward"
                                                         : "log_softmax backward"};
  switch (dtype) {
    case DType::kFloat32:
      return detail::launch_softmax_backward_float32(kind, y, dy, dx, shape, ctx);
    case DType::kFloat16:
      return detail::launch_softmax_backward_float16(kind, y, dy, dx, shape, ctx);
    case DType::kBFloat16:
      return detail::launch_softmax_backward_bfloat16(kind, y, dy, dx, shape, ctx);
    case DType::kFloat64:
      return detail::launch_softmax_backward_float64(kind, y, dy, dx, shape, ctx);
  }
  return Status::kErrorUnknownDType;
}

Status softmax_kernel_info(DType dtype, bool backward, const void* a, const void* b, const void* c,
                           const SoftmaxShape& shape, cudaStream_t stream,
                           SoftmaxKernelInfo* info) noexcept {
  constexpr const char* fn = "cuact::softmax_kernel_info";
  detail::clear_error_detail();
  if (info == nullptr) return detail::fail(Status::kErrorNullPointer, "%s: info is null", fn);
  *info = SoftmaxKernelInfo{};
  int64_t n = 0;
  CUACT_TRY(validate_softmax(fn, SoftmaxKind::kSoftmax, dtype, shape, &n));
  if (n == 0) return Status::kSuccess;
  CUACT_TRY(validate_softmax_tensors(fn, backward, a, b, c, n, dtype));
  detail::LaunchContext ctx;
  CUACT_TRY(detail::make_launch_context(stream, &ctx));
  const detail::SoftmaxPlan p = plan_for(dtype, backward, a, b, c, shape, ctx, nullptr);
  info->tier = detail::softmax_tier_name(p.tier);
  info->block_threads = p.block;
  info->vector_elements = p.vec;
  info->cluster_blocks = p.cluster;
  info->blocks_per_row = p.parts;
  info->grid_blocks = p.grid;
  info->dynamic_smem_bytes = p.smem_bytes;
  return Status::kSuccess;
}

namespace detail {

Status softmax_plan_tuned(DType dtype, bool backward, const void* a, const void* b, const void* c,
                          const SoftmaxShape& shape, const SoftmaxTuning& tuning,
                          cudaStream_t stream, SoftmaxPlan* plan) noexcept {
  constexpr const char* fn = "cuact::detail::softmax_plan_tuned";
  clear_error_detail();
  if (plan == nullptr) return fail(Status::kErrorNullPointer, "%s: plan is null", fn);
  *plan = SoftmaxPlan{};
  if (const char* field = tuning_out_of_range(tuning)) {
    return fail(Status::kErrorInvalidParameter,
                "%s: tuning.%s is outside its range (SoftmaxTuning)", fn, field);
  }
  int64_t n = 0;
  CUACT_TRY(validate_softmax(fn, SoftmaxKind::kSoftmax, dtype, shape, &n));
  if (n == 0) return Status::kSuccess;
  CUACT_TRY(validate_softmax_tensors(fn, backward, a, b, c, n, dtype));
  LaunchContext ctx;
  CUACT_TRY(make_launch_context(stream, &ctx));
  *plan = plan_for(dtype, backward, a, b, c, shape, ctx, &tuning);
  return Status::kSuccess;
}

Status softmax_launch_planned(SoftmaxKind kind, DType dtype, bool backward, const SoftmaxPlan& plan,
                              const void* a, const void* b, void* out, const SoftmaxShape& shape,
                              cudaStream_t stream) noexcept {
  constexpr const char* fn = "cuact::detail::softmax_launch_planned";
  clear_error_detail();
  int64_t n = 0;
  CUACT_TRY(validate_softmax(fn, kind, dtype, shape, &n));
  if (n == 0) return Status::kSuccess;
  CUACT_TRY(validate_softmax_tensors(fn, backward, a, backward ? b : out, out, n, dtype));
  LaunchContext ctx;
  CUACT_TRY(make_launch_context(stream, &ctx));
  nvtx_range range{kind_name(kind)};
  switch (dtype) {
    case DType::kFloat32:
      return softmax_launch_plan_float32(kind, plan, backward, a, b, out, shape, ctx);
    case DType::kFloat16:
      return softmax_launch_plan_float16(kind, plan, backward, a, b, out, shape, ctx);
    case DType::kBFloat16:
      return softmax_launch_plan_bfloat16(kind, plan, backward, a, b, out, shape, ctx);
    case DType::kFloat64:
      return softmax_launch_plan_float64(kind, plan, backward, a, b, out, shape, ctx);
  }
  return Status::kErrorUnknownDType;
}

}  // namespace detail
}  // namespace cuact
