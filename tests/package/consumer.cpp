// SPDX-License-Identifier: Apache-2.0
//! A project of a user's that takes cuact from an installed package (find_package) or from its
//! source tree (add_subdirectory): it compiles against the public headers as plain C++, links
//! cuact::cuact and calls both APIs. Every call here succeeds without a GPU: an empty tensor is a
//! no-op, and names need no device.
#include <cuact/activation.hpp>
#include <cuact/cuact.h>
#include <cuact/softmax.hpp>

#include <cstdio>
#include <cstring>

int main() {
  const cuact::Status act = cuact::forward(cuact::Op::kGelu, cuact::DType::kBFloat16, nullptr,
                                           nullptr, 0, cuact::ActParams{}, nullptr);
  const cuact::Status soft =
      cuact::softmax_forward(cuact::SoftmaxKind::kLogSoftmax, cuact::DType::kFloat32, nullptr,
                             nullptr, cuact::SoftmaxShape{0, 10, 1}, {}, nullptr);
  const int c_abi =
      cuactForward(CUACT_OP_SILU, CUACT_DTYPE_FLOAT16, nullptr, nullptr, 0, nullptr, nullptr);
  const char* name = cuactGetOpName(CUACT_OP_GELU);
  if (act != cuact::Status::kSuccess || soft != cuact::Status::kSuccess ||
      c_abi != CUACT_STATUS_SUCCESS || std::strcmp(name, cuact::op_name(cuact::Op::kGelu)) != 0) {
    std::fprintf(stderr, "consumer: %s / %s / %d / %s\n", cuact::status_string(act),
                 cuact::status_string(soft), c_abi, name);
    return 1;
  }
  std::printf("consumer: linked cuact, %d ops (%s first)\n", cuactGetOpCount(), cuactGetOpName(0));
  return 0;
}
