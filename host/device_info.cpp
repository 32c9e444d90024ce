// SPDX-License-Identifier: Apache-2.0
#include <atomic>

#include "host/internal.hpp"

namespace cuact::detail {
namespace {
constexpr int kMaxDevices = 64;
// 0 = not queried yet. Racing first calls both query and store the same value.
std::atomic<int> g_sm_count[kMaxDevices];
}  // namespace

Status current_multiprocessor_count(int* count) noexcept {
  int device = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err == cudaSuccess && device >= 0 && device < kMaxDevices) {
    int cached = g_sm_count[device].load(std::memory_order_relaxed);
    if (cached > 0) {
      *count = cached;
      return Status::kSuccess;
    }
    err = cudaDeviceGetAttribute(&cached, cudaDevAttrMultiProcessorCount, device);
    if (err == cudaSuccess && cached > 0) {
      g_sm_count[device].store(cached, std::memory_order_relaxed);
      *count = cached;
      return Status::kSuccess;
    }
  }
  (void)cudaGetLastError();  // leave the error state as we found it: the status carries it
  return fail(Status::kErrorNoDevice, "cuact: no usable CUDA device (%s)",
              err == cudaSuccess ? "device index out of range" : cudaGetErrorString(err));
}

}  // namespace cuact::detail
