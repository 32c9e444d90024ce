// SPDX-License-Identifier: Apache-2.0
//! GPU availability for tests: skip with a clear message when the machine has no CUDA device or
//! driver; CUACT_REQUIRE_GPU=1 turns that skip into a failure; any other CUDA error fails.
#pragma once

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace cuact_test {

inline bool gpu_required() {
  const char* v = std::getenv("CUACT_REQUIRE_GPU");
  return v != nullptr && std::strcmp(v, "0") != 0 && v[0] != '\0';
}

//! Empty string when a device is usable; otherwise why not.
inline std::string gpu_unavailable_reason(cudaError_t* error_out = nullptr) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (error_out) *error_out = err;
  if (err == cudaSuccess && count > 0) return {};
  if (err == cudaSuccess) return "cudaGetDeviceCount reported 0 devices";
  return std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
}

inline bool no_device_error(cudaError_t err) {
  return err == cudaSuccess || err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver;
}

}  // namespace cuact_test

//! Use first in a test body or SetUp(): skips (or fails under CUACT_REQUIRE_GPU=1) without a GPU.
#define CUACT_SKIP_WITHOUT_GPU()                                                             \
  do {                                                                                       \
    cudaError_t cuact_err_ = cudaSuccess;                                                    \
    const std::string cuact_why_ = ::cuact_test::gpu_unavailable_reason(&cuact_err_);        \
    if (!cuact_why_.empty()) {                                                               \
      if (::cuact_test::gpu_required() || !::cuact_test::no_device_error(cuact_err_)) {      \
        FAIL() << "no usable CUDA device (" << cuact_why_ << ")"                             \
               << (::cuact_test::gpu_required() ? " and CUACT_REQUIRE_GPU is set" : "");     \
      }                                                                                      \
      GTEST_SKIP() << "no CUDA device on this machine (" << cuact_why_                       \
                   << "): GPU test skipped; set CUACT_REQUIRE_GPU=1 to make this a failure"; \
    }                                                                                        \
  } while (0)
