// SPDX-License-Identifier: Apache-2.0
//! Public entry points: validate -> (n == 0: done) -> device info -> NVTX range -> per-dtype
//! launcher. Everything before the launcher is CUDA-free except the cached SM-count query.
#include "cuact/activation.hpp"
#include "host/elementwise_by_loads.hpp"
#include "host/internal.hpp"
#include "host/nvtx.hpp"
#include "cuact/op_table.hpp"

namespace cuact {
namespace {

// Range labels, built once: "cuact::forward gelu" etc.
#define CUACT_FWD_LABEL(e, F, name) "forward " name,
#define CUACT_BWD_LABEL(e, F, name) "backward " name,
constexpr const char* kForwardLabels[] = {CUACT_FOR_EACH_OP(CUACT_FWD_LABEL)};
constexpr const char* kBackwardLabels[] = {CUACT_FOR_EACH_OP(CUACT_BWD_LABEL)};
#undef CUACT_FWD_LABEL
#undef CUACT_BWD_LABEL
static_assert(sizeof(kForwardLabels) / sizeof(kForwardLabels[0]) == kNumOps);

Status check_size(const char* fn, int64_t n) {
  if (n < 0) {
    return detail::fail(Status::kErrorNegativeSize, "%s: n = %lld is negative", fn,
                        static_cast<long long>(n));
  }
  return Status::kSuccess;
}

}  // namespace

const char* op_name(Op op) noexcept {
  switch (op) {
#define CUACT_OP_NAME(e, F, name) \
  case Op::e: return name;
    CUACT_FOR_EACH_OP(CUACT_OP_NAME)
#undef CUACT_OP_NAME
  }
  return "unknown";
}

const char* dtype_name(DType dtype) noexcept {
  switch (dtype) {
    case DType::kFloat32: return "float32";
    case DType::kFloat16: return "float16";
    case DType::kBFloat16: return "bfloat16";
    case DType::kFloat64: return "float64";
  }
  return "unknown";
}

namespace {

using detail::ElementwiseLoads;

//! Staging for this launch: the device's choice unless `loads` overrides it.
void apply_loads(ElementwiseLoads loads, detail::LaunchContext* ctx) {
  if (loads == ElementwiseLoads::kVector) ctx->staged_elementwise = false;
  if (loads == ElementwiseLoads::kStaged) ctx->staged_elementwise = true;
}

Status forward_impl(const char* fn, ElementwiseLoads loads, Op op, DType dtype, const void* x,
                    void* y, int64_t n, const ActParams& params, cudaStream_t stream) {
  detail::clear_error_detail();
  CUACT_TRY(detail::validate_op_dtype_params(fn, op, dtype, params));
  CUACT_TRY(check_size(fn, n));
  if (n == 0) return Status::kSuccess;
  CUACT_TRY(detail::validate_forward_tensors(fn, x, y, n, dtype));

  detail::LaunchContext ctx;
  CUACT_TRY(detail::make_launch_context(stream, &ctx));
  apply_loads(loads, &ctx);
  detail::nvtx_range range{kForwardLabels[static_cast<int>(op)]};
  switch (dtype) {
    case DType::kFloat32: return detail::launch_forward_float32(op, params, x, y, n, ctx);
    case DType::kFloat16: return detail::launch_forward_float16(op, params, x, y, n, ctx);
    case DType::kBFloat16: return detail::launch_forward_bfloat16(op, params, x, y, n, ctx);
    case DType::kFloat64: return detail::launch_forward_float64(op, params, x, y, n, ctx);
  }
  return Status::kErrorUnknownDType;  // unreachable: validated above
}

Status backward_impl(const char* fn, ElementwiseLoads loads, Op op, DType dtype, const void* dy,
                     const void* saved, Saved which, void* dx, int64_t n, const ActParams& params,
                     cudaStream_t stream) {
  detail::clear_error_detail();
  CUACT_TRY(detail::validate_op_dtype_params(fn, op, dtype, params));
  if (which != Saved::kInput && which != Saved::kOutput) {
    return detail::fail(Status::kErrorUnknownSaved, "%s: which = %d is not a cuact::Saved", fn,
                        static_cast<int>(which));
  }
  if (which == Saved::kOutput && !has_output_derivative(op, params)) {
    return detail::fail(Status::kErrorGradientNeedsInput,
                        "%s: %s with these parameters has no derivative in terms of its output y; "
                        "save the input and pass Saved::kInput",
                        fn, op_name(op));
  }
  CUACT_TRY(check_size(fn, n));
  if (n == 0) return Status::kSuccess;
  CUACT_TRY(detail::validate_backward_tensors(fn, "dy", dy, "saved", saved, "dx", dx, n, dtype));

  detail::LaunchContext ctx;
  CUACT_TRY(detail::make_launch_context(stream, &ctx));
  apply_loads(loads, &ctx);
  detail::nvtx_range range{kBackwardLabels[static_cast<int>(op)]};
  switch (dtype) {
    case DType::kFloat32:
      return detail::launch_backward_float32(op, params, dy, saved, which, dx, n, ctx);
    case DType::kFloat16:
      return detail::launch_backward_float16(op, params, dy, saved, which, dx, n, ctx);
    case DType::kBFloat16:
      return detail::launch_backward_bfloat16(op, params, dy, saved, which, dx, n, ctx);
    case DType::kFloat64:
      return detail::launch_backward_float64(op, params, dy, saved, which, dx, n, ctx);
  }
  return Status::kErrorUnknownDType;
}

}  // namespace

Status forward(Op op, DType dtype, const void* x, void* y, int64_t n, const ActParams& params,
               cudaStream_t stream) noexcept {
  return forward_impl("cuact::forward", ElementwiseLoads::kDevice, op, dtype, x, y, n, params,
                      stream);
}

Status backward(Op op, DType dtype, const void* dy, const void* saved, Saved which, void* dx,
                int64_t n, const ActParams& params, cudaStream_t stream) noexcept {
  return backward_impl("cuact::backward", ElementwiseLoads::kDevice, op, dtype, dy, saved, which,
                       dx, n, params, stream);
}

namespace detail {
namespace {
Status check_loads(const char* fn, ElementwiseLoads loads) {
  if (loads == ElementwiseLoads::kDevice || loads == ElementwiseLoads::kVector ||
      loads == ElementwiseLoads::kStaged) {
    return Status::kSuccess;
  }
  clear_error_detail();
  return fail(Status::kErrorInvalidParameter, "%s: loads = %d is not an ElementwiseLoads", fn,
              static_cast<int>(loads));
}
}  // namespace

Status forward_with_loads(ElementwiseLoads loads, Op op, DType dtype, const void* x, void* y,
                          int64_t n, const ActParams& params, cudaStream_t stream) noexcept {
  CUACT_TRY(check_loads("cuact::detail::forward_with_loads", loads));
  return forward_impl("cuact::detail::forward_with_loads", loads, op, dtype, x, y, n, params,
                      stream);
}

Status backward_with_loads(ElementwiseLoads loads, Op op, DType dtype, const void* dy,
                           const void* saved, Saved which, void* dx, int64_t n,
                           const ActParams& params, cudaStream_t stream) noexcept {
  CUACT_TRY(check_loads("cuact::detail::backward_with_loads", loads));
  return backward_impl("cuact::detail::backward_with_loads", loads, op, dtype, dy, saved, which, dx,
                       n, params, stream);
}

}  // namespace detail

}  // namespace cuact
