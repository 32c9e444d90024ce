// SPDX-License-Identifier: Apache-2.0
#include <atomic>

#include "host/internal.hpp"

namespace cuact::detail {
namespace {
constexpr int kMaxDevices = 64;
// 0 = not queried yet. Racing first calls both query and store the same values.
std::atomic<int> g_sm_count[kMaxDevices];
std::atomic<int> g_smem_optin[kMaxDevices];
std::atomic<int> g_max_cluster[kMaxDevices];
std::atomic<bool> g_cooperative[kMaxDevices];
std::atomic<int> g_compute_major[kMaxDevices];

Status no_device(cudaError_t err) {
  (void)cudaGetLastError();  // leave the error state as we found it: the status carries it
  return fail(Status::kErrorNoDevice, "cuact: no usable CUDA device (%s)",
              err == cudaSuccess ? "device index out of range" : cudaGetErrorString(err));
}
}  // namespace

Status current_device_limits(DeviceLimits* limits) noexcept {
  int device = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err != cudaSuccess || device < 0 || device >= kMaxDevices) return no_device(err);
  limits->device = device;
  limits->multiprocessor_count = g_sm_count[device].load(std::memory_order_acquire);
  limits->shared_memory_optin = g_smem_optin[device].load(std::memory_order_relaxed);
  limits->max_cluster_blocks = g_max_cluster[device].load(std::memory_order_relaxed);
  limits->cooperative_launch = g_cooperative[device].load(std::memory_order_relaxed);
  limits->compute_major = g_compute_major[device].load(std::memory_order_relaxed);
  if (limits->multiprocessor_count > 0) return Status::kSuccess;
  int sms = 0, smem = 0, clusters = 0, cooperative = 0, major = 0;
  err = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  if (err == cudaSuccess) {
    err = cudaDeviceGetAttribute(&smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  }
  if (err == cudaSuccess) err = cudaDeviceGetAttribute(&clusters, cudaDevAttrClusterLaunch, device);
  if (err == cudaSuccess) {
    err = cudaDeviceGetAttribute(&cooperative, cudaDevAttrCooperativeLaunch, device);
  }
  if (err == cudaSuccess) {
    err = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  }
  if (err != cudaSuccess || sms <= 0) return no_device(err);
  const int max_cluster = clusters ? kMaxClusterBlocks : 0;
  g_smem_optin[device].store(smem, std::memory_order_relaxed);
  g_max_cluster[device].store(max_cluster, std::memory_order_relaxed);
  g_cooperative[device].store(cooperative != 0, std::memory_order_relaxed);
  g_compute_major[device].store(major, std::memory_order_relaxed);
  g_sm_count[device].store(sms, std::memory_order_release);  // last: marks the entry filled
  limits->multiprocessor_count = sms;
  limits->shared_memory_optin = smem;
  limits->max_cluster_blocks = max_cluster;
  limits->cooperative_launch = cooperative != 0;
  limits->compute_major = major;
  return Status::kSuccess;
}

Status make_launch_context(cudaStream_t stream, LaunchContext* ctx) noexcept {
  DeviceLimits limits;
  const Status s = current_device_limits(&limits);
  ctx->multiprocessor_count = limits.multiprocessor_count;
  ctx->shared_memory_optin = limits.shared_memory_optin;
  ctx->max_cluster_blocks = limits.max_cluster_blocks;
  ctx->cooperative_launch = limits.cooperative_launch;
  ctx->staged_elementwise = limits.compute_major >= 9;  // cp.async.bulk: sm_90 and later
  ctx->device = limits.device;
  ctx->stream = stream;
  return s;
}

}  // namespace cuact::detail
