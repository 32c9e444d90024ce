// SPDX-License-Identifier: Apache-2.0
//! C ABI shims: translate integers to the C++ enums (validation of their range happens in the
//! C++ functions) and never let anything but a status cross the boundary.
#include "cuact/cuact.h"

#include <cstddef>
#include <type_traits>

#include "cuact/activation.hpp"
#include "cuact/softmax.hpp"

namespace {

cuact::ActParams to_cpp(const cuactActParams* p) {
  cuact::ActParams q;
  if (p == nullptr) return q;
  q.relu_alpha = p->relu_alpha;
  q.relu_max_value = p->relu_max_value;
  q.relu_threshold = p->relu_threshold;
  q.elu_alpha = p->elu_alpha;
  q.leaky_alpha = p->leaky_alpha;
  q.theta = p->theta;
  q.hard_sigmoid_slope = p->hard_sigmoid_slope;
  q.hard_sigmoid_offset = p->hard_sigmoid_offset;
  q.celu_alpha = p->celu_alpha;
  return q;
}

static_assert(sizeof(cuactActParams) == sizeof(cuact::ActParams), "C and C++ params diverged");
static_assert(std::is_standard_layout_v<cuact::ActParams>);
static_assert(sizeof(cuactSoftmaxKernelInfo) == sizeof(cuact::SoftmaxKernelInfo),
              "C and C++ kernel info diverged");
static_assert(offsetof(cuactSoftmaxKernelInfo, vector_elements) ==
                  offsetof(cuact::SoftmaxKernelInfo, vector_elements) &&
              offsetof(cuactSoftmaxKernelInfo, blocks_per_row) ==
                  offsetof(cuact::SoftmaxKernelInfo, blocks_per_row) &&
              offsetof(cuactSoftmaxKernelInfo, dynamic_smem_bytes) ==
                  offsetof(cuact::SoftmaxKernelInfo, dynamic_smem_bytes));
static_assert(static_cast<int>(cuact::Op::kHardSigmoidRelu6) == CUACT_OP_HARD_SIGMOID_RELU6);
static_assert(static_cast<int>(cuact::Status::kErrorInvalidAxis) == CUACT_STATUS_INVALID_AXIS);
static_assert(static_cast<int>(cuact::DType::kFloat64) == CUACT_DTYPE_FLOAT64);

}  // namespace

extern "C" {

void cuactDefaultActParams(cuactActParams* params) {
  if (params == nullptr) return;
  const cuact::ActParams d;
  params->relu_alpha = d.relu_alpha;
  params->relu_max_value = d.relu_max_value;
  params->relu_threshold = d.relu_threshold;
  params->elu_alpha = d.elu_alpha;
  params->leaky_alpha = d.leaky_alpha;
  params->theta = d.theta;
  params->hard_sigmoid_slope = d.hard_sigmoid_slope;
  params->hard_sigmoid_offset = d.hard_sigmoid_offset;
  params->celu_alpha = d.celu_alpha;
}

int cuactForward(int op, int dtype, const void* x, void* y, int64_t n, const cuactActParams* params,
                 void* stream) {
  return static_cast<int>(cuact::forward(static_cast<cuact::Op>(op),
                                         static_cast<cuact::DType>(dtype), x, y, n, to_cpp(params),
                                         static_cast<cudaStream_t>(stream)));
}

int cuactBackward(int op, int dtype, const void* dy, const void* saved, int saved_kind, void* dx,
                  int64_t n, const cuactActParams* params, void* stream) {
  return static_cast<int>(cuact::backward(static_cast<cuact::Op>(op),
                                          static_cast<cuact::DType>(dtype), dy, saved,
                                          static_cast<cuact::Saved>(saved_kind), dx, n,
                                          to_cpp(params), static_cast<cudaStream_t>(stream)));
}

int cuactHasOutputDerivative(int op, const cuactActParams* params) {
  return cuact::has_output_derivative(static_cast<cuact::Op>(op), to_cpp(params)) ? 1 : 0;
}

const char* cuactGetStatusString(int status) {
  return cuact::status_string(static_cast<cuact::Status>(status));
}

const char* cuactGetLastErrorDetail(void) {
  return cuact::last_error_detail();
}

const char* cuactGetOpName(int op) {
  return cuact::op_name(static_cast<cuact::Op>(op));
}

int cuactGetOpCount(void) {
  return cuact::kNumOps;
}

int cuactMakeSoftmaxShape(const int64_t* dims, int ndim, int axis, int64_t* out3) {
  cuact::SoftmaxShape s;
  const cuact::Status st = cuact::make_softmax_shape(dims, ndim, axis, out3 ? &s : nullptr);
  if (st == cuact::Status::kSuccess) {
    out3[0] = s.outer;
    out3[1] = s.dim;
    out3[2] = s.inner;
  }
  return static_cast<int>(st);
}

int cuactSoftmaxForward(int kind, int dtype, const void* x, void* y, int64_t outer, int64_t dim,
                        int64_t inner, int all_masked_rows_give_zero, void* stream) {
  cuact::SoftmaxOptions options;
  options.all_masked_rows_give_zero = all_masked_rows_give_zero != 0;
  return static_cast<int>(cuact::softmax_forward(
      static_cast<cuact::SoftmaxKind>(kind), static_cast<cuact::DType>(dtype), x, y,
      cuact::SoftmaxShape{outer, dim, inner}, options, static_cast<cudaStream_t>(stream)));
}

int cuactSoftmaxBackward(int kind, int dtype, const void* y, const void* dy, void* dx,
                         int64_t outer, int64_t dim, int64_t inner, void* stream) {
  return static_cast<int>(cuact::softmax_backward(
      static_cast<cuact::SoftmaxKind>(kind), static_cast<cuact::DType>(dtype), y, dy, dx,
      cuact::SoftmaxShape{outer, dim, inner}, static_cast<cudaStream_t>(stream)));
}

int cuactGetSoftmaxKernelInfo(int dtype, int backward, const void* a, const void* b, const void* c,
                              int64_t outer, int64_t dim, int64_t inner, void* stream,
                              cuactSoftmaxKernelInfo* info) {
  cuact::SoftmaxKernelInfo k;
  const cuact::Status s =
      cuact::softmax_kernel_info(static_cast<cuact::DType>(dtype), backward != 0, a, b, c,
                                 cuact::SoftmaxShape{outer, dim, inner},
                                 static_cast<cudaStream_t>(stream), info != nullptr ? &k : nullptr);
  if (info != nullptr) {
    *info = cuactSoftmaxKernelInfo{
        k.tier,           k.block_threads, k.vector_elements,    k.cluster_blocks,
        k.blocks_per_row, k.grid_blocks,   k.dynamic_smem_bytes, {}};
  }
  return static_cast<int>(s);
}

}  // extern "C"
