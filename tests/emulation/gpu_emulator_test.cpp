// SPDX-License-Identifier: Apache-2.0
//! The CPU emulation's own checks (tests/emulation/gpu_emulator.hpp) against small kernels that
//! break one rule each, next to the same kernel keeping it: each check the emulation claims can
//! fail, and names what went wrong.
#include "tests/emulation/gpu_emulator.hpp"  // first: the built-ins and __shared__

#include <cooperative_groups.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <string>
#include <thread>

#include "cuda/softmax_kernels.cuh"

namespace {

using cuact_emu::Launch;

//! Runs `kernel` over `grid` blocks of 64 threads, `together` of them at once (a cluster when
//! `cluster`, else a cooperative grid), with `smem` bytes of dynamic shared memory.
template <class Kernel>
std::string run_kernel(Kernel kernel, unsigned grid = 1, unsigned together = 1,
                       bool cluster = false, size_t smem = 0) {
  Launch launch;
  launch.kernel = kernel;
  launch.grid = grid;
  launch.block = 64;
  launch.together = together;
  launch.cluster = cluster;
  launch.dynamic_smem = smem;
  return cuact_emu::run(launch);
}

void expect_fails_with(const std::string& error, const char* what) {
  EXPECT_NE(error.find(what), std::string::npos) << "got: \"" << error << "\"";
}

// A 16-byte load or store through the kernels' own load_chunk / store_chunk at an address that is
// not 16-byte aligned faults; the aligned one runs.
TEST(GpuEmulator, MisalignedSixteenByteAccessFaults) {
  alignas(16) float data[12] = {};
  auto load_at = [&data](int offset) {
    return [&data, offset] {
      float v[4];
      cuact::detail::load_chunk<4>(data + offset, v);
    };
  };
  auto store_at = [&data](int offset) {
    return [&data, offset] {
      const float v[4] = {1, 2, 3, 4};
      if (threadIdx.x == 0) cuact::detail::store_chunk<4>(data + offset, v);
    };
  };
  EXPECT_EQ(run_kernel(load_at(4)), "");
  EXPECT_EQ(run_kernel(store_at(4)), "");
  expect_fails_with(run_kernel(load_at(1)), "misaligned 16-byte load");
  expect_fails_with(run_kernel(store_at(2)), "misaligned 16-byte store");
}

// A write one byte past the launch's dynamic shared memory is reported after the block; the last
// byte inside it is fine.
TEST(GpuEmulator, WritePastDynamicSharedMemoryFails) {
  auto write_at = [](size_t byte) {
    return [byte] {
      if (threadIdx.x == 5) cuact_emu::dynamic_smem()[byte] = 1;
    };
  };
  EXPECT_EQ(run_kernel(write_at(1023), 1, 1, false, 1024), "");
  expect_fails_with(run_kernel(write_at(1024), 1, 1, false, 1024),
                    "shared memory written past the launch's 1024 dynamic bytes");
}

// Each block of a cluster reads its neighbour's shared memory after a cluster barrier: with a last
// barrier before leaving that is fine; without it the neighbour may have exited, and without the
// first one it may not have started.
void read_neighbour(bool final_barrier, bool first_barrier = true) {
  namespace cg = cooperative_groups;
  __shared__ unsigned value;
  const cg::cluster_group cluster = cg::this_cluster();
  if (threadIdx.x == 0) value = cluster.block_rank();
  if (first_barrier) cluster.sync();
  const unsigned next = (cluster.block_rank() + 1) % cluster.num_blocks();
  const unsigned seen = *cluster.map_shared_rank(&value, next);
  // Without the final barrier the neighbour may have ended and left poison: the check under test
  // is the report after the launch.
  if (final_barrier && seen != next) cuact_emu::fault("wrong neighbour value");
  if (final_barrier) cluster.sync();
}

TEST(GpuEmulator, ReadAfterTheOwnersLastClusterBarrierFails) {
  EXPECT_EQ(run_kernel([] { read_neighbour(true); }, 8, 4, true), "");
  expect_fails_with(run_kernel([] { read_neighbour(false); }, 8, 4, true),
                    "after that block's last cluster barrier");
  expect_fails_with(run_kernel([] { read_neighbour(true, false); }, 8, 4, true),
                    "before the first cluster barrier");
}

// A block that mapped its neighbour's shared memory before their last cluster barrier and reads it
// once the neighbour has ended (here: surely, after a pause) reads the poison the neighbour left,
// not its value; reading before the barrier is fine.
void read_neighbour_late(bool late) {
  namespace cg = cooperative_groups;
  __shared__ unsigned value;
  const cg::cluster_group cluster = cg::this_cluster();
  if (threadIdx.x == 0) value = cluster.block_rank();
  cluster.sync();
  const unsigned next = (cluster.block_rank() + 1) % cluster.num_blocks();
  const unsigned* remote = cluster.map_shared_rank(&value, next);
  const unsigned early = *remote;
  cluster.sync();
  if (!late || cluster.block_rank() != 0 || threadIdx.x != 0) return;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  if (*remote != early) cuact_emu::fault("neighbour's shared memory poisoned after it ended");
}

TEST(GpuEmulator, MappedReadAfterTheOwnerEndedReadsPoison) {
  EXPECT_EQ(run_kernel([] { read_neighbour_late(false); }, 2, 2, true), "");
  expect_fails_with(run_kernel([] { read_neighbour_late(true); }, 2, 2, true),
                    "neighbour's shared memory poisoned after it ended");
}

// Every block starts with its shared memory, static and dynamic, poisoned (NaN as a float): a
// value left by the previous block on the same OS thread would hide a read before the write.
TEST(GpuEmulator, SharedMemoryStartsPoisonedInEveryBlock) {
  float static_seen[3] = {};
  float dynamic_seen[3] = {};
  auto kernel = [&] {
    __shared__ float value;
    float* const dynamic = reinterpret_cast<float*>(cuact_emu::dynamic_smem());
    if (threadIdx.x == 0) {
      static_seen[blockIdx.x] = value;
      dynamic_seen[blockIdx.x] = dynamic[0];
      value = 1.0f;
      dynamic[0] = 2.0f;
    }
  };
  EXPECT_EQ(run_kernel(kernel, 3, 1, false, 16), "");
  for (int b = 0; b < 3; ++b) {
    EXPECT_TRUE(std::isnan(static_seen[b])) << "block " << b << ": " << static_seen[b];
    EXPECT_TRUE(std::isnan(dynamic_seen[b])) << "block " << b << ": " << dynamic_seen[b];
  }
}

// grid.sync() needs a cooperative launch and cluster operations a cluster launch.
TEST(GpuEmulator, GroupOperationOfTheOtherLaunchKindFails) {
  auto grid_sync = [] { cooperative_groups::this_grid().sync(); };
  auto cluster_sync = [] { cooperative_groups::this_cluster().sync(); };
  EXPECT_EQ(run_kernel(grid_sync, 4, 4, false), "");
  EXPECT_EQ(run_kernel(cluster_sync, 4, 4, true), "");
  expect_fails_with(run_kernel(grid_sync, 4, 4, true), "grid.sync() in a cluster launch");
  expect_fails_with(run_kernel(cluster_sync, 4, 4, false),
                    "cluster.sync() in a cooperative launch");
  expect_fails_with(run_kernel([] { read_neighbour(true); }, 4, 4, false),
                    "cluster.sync() in a cooperative launch");
}

// A value written before a barrier by one thread and read after it by every other passes; read
// without the barrier, it fails in some sweep order (here the reverse one: thread 63 first).
TEST(GpuEmulator, ReadWithoutTheBarrierFails) {
  auto broadcast = [](bool barrier) {
    return [barrier] {
      __shared__ int value;
      if (threadIdx.x == 0) value = 0;
      __syncthreads();
      if (threadIdx.x == 0) value = 42;
      if (barrier) __syncthreads();
      if (value != 42) cuact_emu::fault("read before the write");
      __syncthreads();
    };
  };
  EXPECT_EQ(run_kernel(broadcast(true)), "");
  expect_fails_with(run_kernel(broadcast(false)), "read before the write");
}

}  // namespace
