// SPDX-License-Identifier: Apache-2.0
//! Softmax on the CPU: shape and axis normalisation, argument validation (specific statuses,
//! nothing launched, CUDA error state unchanged), the C ABI, and which tier runs for which shape.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "cuact/cuact.h"
#include "cuact/softmax.hpp"
#include "cuda/softmax_plan.hpp"
#include "host/softmax_by_plan.hpp"
#include "tests/common/gpu_env.hpp"

namespace {

using cuact::DType;
using cuact::SoftmaxKind;
using cuact::SoftmaxShape;
using cuact::Status;
using cuact::detail::plan_softmax;
using cuact::detail::SoftmaxTier;

alignas(16) double g_a[64];
alignas(16) double g_b[64];

template <class Call>
void expect_rejected(Status expected, const std::string& needle, Call call) {
  const cudaError_t before = cudaPeekAtLastError();
  const Status got = call();
  EXPECT_EQ(got, expected) << cuact::status_string(got) << ": " << cuact::last_error_detail();
  EXPECT_NE(std::string(cuact::last_error_detail()).find(needle), std::string::npos)
      << "detail '" << cuact::last_error_detail() << "' does not mention '" << needle << "'";
  EXPECT_EQ(cudaPeekAtLastError(), before);
}

TEST(SoftmaxShapeTest, AxisSplitsTheShape) {
  const int64_t dims[] = {2, 3, 5, 7};
  SoftmaxShape s;
  ASSERT_EQ(cuact::make_softmax_shape(dims, 4, -1, &s), Status::kSuccess);
  EXPECT_EQ(s.outer, 30);
  EXPECT_EQ(s.dim, 7);
  EXPECT_EQ(s.inner, 1);
  ASSERT_EQ(cuact::make_softmax_shape(dims, 4, 1, &s), Status::kSuccess);
  EXPECT_EQ(s.outer, 2);
  EXPECT_EQ(s.dim, 3);
  EXPECT_EQ(s.inner, 35);
  ASSERT_EQ(cuact::make_softmax_shape(dims, 4, -4, &s), Status::kSuccess);
  EXPECT_EQ(s.outer, 1);
  EXPECT_EQ(s.dim, 2);
  EXPECT_EQ(s.inner, 105);
  const int64_t one_d[] = {9};  // 1-D is accepted (Keras 3, PyTorch), unlike Keras 2
  ASSERT_EQ(cuact::make_softmax_shape(one_d, 1, 0, &s), Status::kSuccess);
  EXPECT_EQ(s.outer, 1);
  EXPECT_EQ(s.dim, 9);
  EXPECT_EQ(s.inner, 1);
}

TEST(SoftmaxShapeTest, BadShapesAndAxes) {
  const int64_t dims[] = {2, 3, 5};
  SoftmaxShape s;
  expect_rejected(Status::kErrorInvalidAxis, "axis = 3",
                  [&] { return cuact::make_softmax_shape(dims, 3, 3, &s); });
  expect_rejected(Status::kErrorInvalidAxis, "axis = -4",
                  [&] { return cuact::make_softmax_shape(dims, 3, -4, &s); });
  expect_rejected(Status::kErrorInvalidShape, "ndim = 0",
                  [&] { return cuact::make_softmax_shape(dims, 0, 0, &s); });
  const int64_t negative[] = {2, -3};
  expect_rejected(Status::kErrorInvalidShape, "dims[1] = -3",
                  [&] { return cuact::make_softmax_shape(negative, 2, 0, &s); });
  const int64_t huge[] = {int64_t{1} << 40, int64_t{1} << 40};
  expect_rejected(Status::kErrorInvalidShape, "2^63",
                  [&] { return cuact::make_softmax_shape(huge, 2, 0, &s); });
  expect_rejected(Status::kErrorNullPointer, "dims is null",
                  [&] { return cuact::make_softmax_shape(nullptr, 2, 0, &s); });
  int64_t out3[3];
  EXPECT_EQ(cuactMakeSoftmaxShape(dims, 3, -2, out3), CUACT_STATUS_SUCCESS);
  EXPECT_EQ(out3[0], 2);
  EXPECT_EQ(out3[1], 3);
  EXPECT_EQ(out3[2], 5);
}

TEST(SoftmaxValidation, Arguments) {
  const SoftmaxShape s{4, 8, 1};
  const cuact::SoftmaxOptions o;
  expect_rejected(Status::kErrorNullPointer, "x is null", [&] {
    return cuact::softmax_forward(SoftmaxKind::kSoftmax, DType::kFloat32, nullptr, g_b, s, o,
                                  nullptr);
  });
  expect_rejected(Status::kErrorNullPointer, "dx is null", [&] {
    return cuact::softmax_backward(SoftmaxKind::kLogSoftmax, DType::kBFloat16, g_a, g_b, nullptr, s,
                                   nullptr);
  });
  expect_rejected(Status::kErrorUnknownOp, "kind = 2", [&] {
    return cuact::softmax_forward(static_cast<SoftmaxKind>(2), DType::kFloat32, g_a, g_b, s, o,
                                  nullptr);
  });
  expect_rejected(Status::kErrorUnknownDType, "dtype = 7", [&] {
    return cuact::softmax_forward(SoftmaxKind::kSoftmax, static_cast<DType>(7), g_a, g_b, s, o,
                                  nullptr);
  });
  expect_rejected(Status::kErrorInvalidShape, "negative extent", [&] {
    return cuact::softmax_forward(SoftmaxKind::kSoftmax, DType::kFloat32, g_a, g_b,
                                  SoftmaxShape{4, -1, 1}, o, nullptr);
  });
  float* f = reinterpret_cast<float*>(g_a);
  expect_rejected(Status::kErrorPartialOverlap, "y and x overlap", [&] {
    return cuact::softmax_forward(SoftmaxKind::kSoftmax, DType::kFloat32, f, f + 3,
                                  SoftmaxShape{1, 8, 1}, o, nullptr);
  });
  expect_rejected(Status::kErrorPartialOverlap, "dx and y overlap", [&] {
    return cuact::softmax_backward(SoftmaxKind::kSoftmax, DType::kFloat32, f, f + 40, f + 1,
                                   SoftmaxShape{1, 8, 1}, nullptr);
  });
  expect_rejected(Status::kErrorMisalignedPointer, "x = ", [&] {
    return cuact::softmax_forward(SoftmaxKind::kSoftmax, DType::kFloat64, f + 1, g_b,
                                  SoftmaxShape{1, 2, 1}, o, nullptr);
  });
  EXPECT_EQ(
      cuactSoftmaxForward(CUACT_SOFTMAX, CUACT_DTYPE_FLOAT16, nullptr, g_b, 2, 3, 1, 0, nullptr),
      CUACT_STATUS_NULL_POINTER);
  EXPECT_EQ(cuactSoftmaxBackward(5, CUACT_DTYPE_FLOAT16, g_a, g_a, g_b, 2, 3, 1, nullptr),
            CUACT_STATUS_UNKNOWN_OP);
}

TEST(SoftmaxValidation, EmptyTensorsAreANoOp) {
  const cuact::SoftmaxOptions o;
  for (SoftmaxShape s : {SoftmaxShape{0, 5, 1}, SoftmaxShape{3, 0, 1}, SoftmaxShape{3, 5, 0}}) {
    EXPECT_EQ(cuact::softmax_forward(SoftmaxKind::kSoftmax, DType::kFloat32, nullptr, nullptr, s, o,
                                     nullptr),
              Status::kSuccess);
    EXPECT_EQ(cuact::softmax_backward(SoftmaxKind::kLogSoftmax, DType::kFloat16, nullptr, nullptr,
                                      nullptr, s, nullptr),
              Status::kSuccess);
  }
}

// softmax_kernel_info validates as the call it describes and launches nothing.
TEST(SoftmaxValidation, KernelInfoArguments) {
  const SoftmaxShape s{4, 8, 1};
  cuact::SoftmaxKernelInfo info;
  expect_rejected(Status::kErrorNullPointer, "info is null", [&] {
    return cuact::softmax_kernel_info(DType::kFloat32, false, g_a, g_b, nullptr, s, nullptr,
                                      nullptr);
  });
  expect_rejected(Status::kErrorNullPointer, "x is null", [&] {
    return cuact::softmax_kernel_info(DType::kFloat32, false, nullptr, g_b, nullptr, s, nullptr,
                                      &info);
  });
  expect_rejected(Status::kErrorNullPointer, "dx is null", [&] {
    return cuact::softmax_kernel_info(DType::kFloat16, true, g_a, g_b, nullptr, s, nullptr, &info);
  });
  expect_rejected(Status::kErrorUnknownDType, "dtype = 9", [&] {
    return cuact::softmax_kernel_info(static_cast<DType>(9), false, g_a, g_b, nullptr, s, nullptr,
                                      &info);
  });
  expect_rejected(Status::kErrorInvalidShape, "negative extent", [&] {
    return cuact::softmax_kernel_info(DType::kFloat32, false, g_a, g_b, nullptr,
                                      SoftmaxShape{-1, 8, 1}, nullptr, &info);
  });
  // Empty: no kernel, whatever the pointers.
  info.tier = "stale";
  EXPECT_EQ(cuact::softmax_kernel_info(DType::kFloat32, true, nullptr, nullptr, nullptr,
                                       SoftmaxShape{3, 0, 1}, nullptr, &info),
            Status::kSuccess);
  EXPECT_STREQ(info.tier, "none");
  EXPECT_EQ(info.grid_blocks, 0);
  if (cuact_test::gpu_unavailable_reason().empty()) return;
  EXPECT_EQ(
      cuact::softmax_kernel_info(DType::kFloat32, false, g_a, g_b, nullptr, s, nullptr, &info),
      Status::kErrorNoDevice);
}

// The bench's plan-and-launch pair (host/softmax_by_plan.hpp) validates as softmax_forward and
// softmax_backward do, and launches nothing.
TEST(SoftmaxValidation, PlannedLaunchArguments) {
  using cuact::detail::softmax_launch_planned;
  using cuact::detail::softmax_plan_tuned;
  using cuact::detail::SoftmaxPlan;
  const SoftmaxShape s{4, 8, 1};
  const cuact::detail::SoftmaxTuning tuning;
  SoftmaxPlan p;
  expect_rejected(Status::kErrorNullPointer, "plan is null", [&] {
    return softmax_plan_tuned(DType::kFloat32, false, g_a, g_b, nullptr, s, tuning, nullptr,
                              nullptr);
  });
  expect_rejected(Status::kErrorNullPointer, "dx is null", [&] {
    return softmax_plan_tuned(DType::kBFloat16, true, g_a, g_b, nullptr, s, tuning, nullptr, &p);
  });
  expect_rejected(Status::kErrorUnknownDType, "dtype = 7", [&] {
    return softmax_plan_tuned(static_cast<DType>(7), false, g_a, g_b, nullptr, s, tuning, nullptr,
                              &p);
  });
  expect_rejected(Status::kErrorInvalidShape, "negative extent", [&] {
    return softmax_plan_tuned(DType::kFloat32, false, g_a, g_b, nullptr, SoftmaxShape{2, -8, 1},
                              tuning, nullptr, &p);
  });
  for (int field = 0; field < 5; ++field) {
    cuact::detail::SoftmaxTuning bad = tuning;
    const char* name = field == 0   ? "column_tile_blocks_per_sm"
                       : field == 1 ? "min_column_slice_rounds"
                       : field == 2 ? "few_rows_max_cluster"
                       : field == 3 ? "min_cluster_slice_chunks"
                                    : "grid_over_cluster_factor";
    if (field == 0) bad.column_tile_blocks_per_sm = 0;
    if (field == 1) bad.min_column_slice_rounds = -1;
    if (field == 2) bad.few_rows_max_cluster = 3;
    if (field == 3) bad.min_cluster_slice_chunks = 8;
    if (field == 4) bad.grid_over_cluster_factor = 0;
    expect_rejected(Status::kErrorInvalidParameter, std::string("tuning.") + name, [&] {
      return softmax_plan_tuned(DType::kFloat32, false, g_a, g_b, nullptr, s, bad, nullptr, &p);
    });
  }
  expect_rejected(Status::kErrorUnknownOp, "kind = 5", [&] {
    return softmax_launch_planned(static_cast<SoftmaxKind>(5), DType::kFloat32, false, p, g_a,
                                  nullptr, g_b, s, nullptr);
  });
  expect_rejected(Status::kErrorNullPointer, "y is null", [&] {
    return softmax_launch_planned(SoftmaxKind::kSoftmax, DType::kFloat32, false, p, g_a, nullptr,
                                  nullptr, s, nullptr);
  });
  expect_rejected(Status::kErrorNullPointer, "dy is null", [&] {
    return softmax_launch_planned(SoftmaxKind::kLogSoftmax, DType::kFloat64, true, p, g_a, nullptr,
                                  g_b, s, nullptr);
  });
  // Empty: the default plan, and nothing to launch.
  p.tier = SoftmaxTier::kGridRow;
  EXPECT_EQ(softmax_plan_tuned(DType::kFloat16, false, nullptr, nullptr, nullptr,
                               SoftmaxShape{0, 8, 1}, tuning, nullptr, &p),
            Status::kSuccess);
  EXPECT_EQ(p.tier, SoftmaxPlan{}.tier);
  EXPECT_EQ(p.grid, SoftmaxPlan{}.grid);
  EXPECT_EQ(softmax_launch_planned(SoftmaxKind::kSoftmax, DType::kFloat16, true, p, nullptr,
                                   nullptr, nullptr, SoftmaxShape{3, 8, 0}, nullptr),
            Status::kSuccess);
  if (cuact_test::gpu_unavailable_reason().empty()) return;
  EXPECT_EQ(softmax_plan_tuned(DType::kFloat32, false, g_a, g_b, nullptr, s, tuning, nullptr, &p),
            Status::kErrorNoDevice);
  EXPECT_EQ(softmax_launch_planned(SoftmaxKind::kSoftmax, DType::kFloat32, false, p, g_a, nullptr,
                                   g_b, s, nullptr),
            Status::kErrorNoDevice);
}

TEST(SoftmaxValidation, ValidCallWithoutADeviceReportsNoDevice) {
  if (cuact_test::gpu_unavailable_reason().empty()) GTEST_SKIP() << "a GPU is present";
  float* f = reinterpret_cast<float*>(g_a);
  EXPECT_EQ(cuact::softmax_forward(SoftmaxKind::kSoftmax, DType::kFloat32, f, f,
                                   SoftmaxShape{2, 4, 1}, {}, nullptr),
            Status::kErrorNoDevice);
}

TEST(SoftmaxPlanTest, TiersOnBothSidesOfEachThreshold) {
  EXPECT_EQ(plan_softmax(100, 1, 1, 132).tier, SoftmaxTier::kWarpRow);
  EXPECT_EQ(plan_softmax(100, 1024, 1, 132).tier, SoftmaxTier::kWarpRow);
  EXPECT_EQ(plan_softmax(100, 1025, 1, 132).tier, SoftmaxTier::kBlockRegs);
  // Warp rows hold ceil(dim / 32) values per lane, rounded up to a power of two.
  EXPECT_EQ(plan_softmax(1, 1, 1, 132).per_lane, 1);
  EXPECT_EQ(plan_softmax(1, 32, 1, 132).per_lane, 1);
  EXPECT_EQ(plan_softmax(1, 33, 1, 132).per_lane, 2);
  EXPECT_EQ(plan_softmax(1, 100, 1, 132).per_lane, 4);
  EXPECT_EQ(plan_softmax(1, 513, 1, 132).per_lane, 32);
  EXPECT_EQ(plan_softmax(1, 1024, 1, 132).per_lane, 32);
  // Short rows share a warp: lanes * per_lane is the power of two >= dim, one load per lane.
  EXPECT_EQ(plan_softmax(1, 7, 1, 132).lanes, 8);
  EXPECT_EQ(plan_softmax(1, 7, 1, 132).per_lane, 1);
  EXPECT_EQ(plan_softmax(1, 100, 1, 132).lanes, 32);
  EXPECT_EQ(plan_softmax(1000, 7, 1, 132).grid, (1000 + 31) / 32);  // 8 warps x 4 rows a block
  // 16-byte loads (vec = 4 floats, 8 halves): whole vectors per lane.
  EXPECT_EQ(plan_softmax(1, 32, 1, 132, 0, 4, false, 4).vec, 4);
  EXPECT_EQ(plan_softmax(1, 32, 1, 132, 0, 4, false, 4).per_lane, 4);
  EXPECT_EQ(plan_softmax(1, 32, 1, 132, 0, 4, false, 4).lanes, 8);
  EXPECT_EQ(plan_softmax(1, 1024, 1, 132, 0, 2, false, 8).per_lane, 32);
  EXPECT_EQ(plan_softmax(1, 1024, 1, 132, 0, 2, false, 8).lanes, 32);
  EXPECT_EQ(plan_softmax(1, 8, 1, 132, 0, 2, false, 8).lanes, 1);
  EXPECT_EQ(plan_softmax(1, 12, 1, 132, 0, 4, false, 4).vec, 4);
  EXPECT_EQ(plan_softmax(1, 12, 1, 132, 0, 4, false, 4).lanes, 4);  // 16 slots, 3 lanes used
  EXPECT_EQ(plan_softmax(1, 10, 1, 132, 0, 4, false, 4).vec, 1);    // not whole vectors
  // Held bytes per lane: 8-byte rows leave the warp tier earlier, backward (two rows) earlier.
  EXPECT_EQ(plan_softmax(1, 512, 1, 132, 0, 8).tier, SoftmaxTier::kWarpRow);
  EXPECT_EQ(plan_softmax(1, 513, 1, 132, 0, 8).tier, SoftmaxTier::kBlockRegs);
  EXPECT_EQ(plan_softmax(1, 512, 1, 132, 0, 4, true).tier, SoftmaxTier::kWarpRow);
  EXPECT_EQ(plan_softmax(1, 513, 1, 132, 0, 4, true).tier, SoftmaxTier::kBlockRegs);
  EXPECT_EQ(plan_softmax(1, 1024, 1, 132, 0, 2, true).tier, SoftmaxTier::kWarpRow);
  EXPECT_EQ(plan_softmax(1, 256, 1, 132, 0, 8, true).tier, SoftmaxTier::kWarpRow);
  EXPECT_EQ(plan_softmax(1, 257, 1, 132, 0, 8, true).tier, SoftmaxTier::kBlockRegs);
  // Block registers: 256 threads with a 16-byte load each, up to 32 values per thread, then 512.
  EXPECT_EQ(plan_softmax(100, 1025, 1, 132).block, 256);
  EXPECT_EQ(plan_softmax(100, 1025, 1, 132).per_lane, 8);
  EXPECT_EQ(plan_softmax(100, 4096, 1, 132, 0, 4, false, 4).per_lane, 16);
  EXPECT_EQ(plan_softmax(100, 4096, 1, 132, 0, 4, false, 4).vec, 4);
  EXPECT_EQ(plan_softmax(100, 8192, 1, 132, 0, 4).block, 256);
  EXPECT_EQ(plan_softmax(100, 8192, 1, 132, 0, 4).per_lane, 32);
  EXPECT_EQ(plan_softmax(100, 16384, 1, 132, 0, 4).tier, SoftmaxTier::kBlockRegs);
  EXPECT_EQ(plan_softmax(100, 16384, 1, 132, 0, 4).block, 512);
  EXPECT_EQ(plan_softmax(100, 16385, 1, 132, 0, 4).tier, SoftmaxTier::kBlockRow);
  EXPECT_EQ(plan_softmax(100, 8192, 1, 132, 0, 4, true).tier, SoftmaxTier::kBlockRegs);
  EXPECT_EQ(plan_softmax(100, 8193, 1, 132, 0, 4, true).tier, SoftmaxTier::kBlockRow);
  EXPECT_EQ(plan_softmax(100, 32767, 1, 132).block, 256);
  EXPECT_EQ(plan_softmax(100, 32768, 1, 132).block, 1024);
  // Longer rows go on chip when they fit the opt-in shared memory (227 KB on Hopper), both rows
  // for backward; otherwise the two-read block tier.
  constexpr int64_t kHopperOptin = 227 * 1024;
  EXPECT_EQ(plan_softmax(100, 16385, 1, 132, kHopperOptin, 4).tier, SoftmaxTier::kSmemRow);
  EXPECT_EQ(plan_softmax(100, 16385, 1, 132, kHopperOptin, 4).smem_bytes, 16385 * 4 + 16);
  EXPECT_EQ(plan_softmax(100, 16385, 1, 132, kHopperOptin, 4).block, 1024);
  EXPECT_EQ(plan_softmax(100, 16385, 1, 132, kHopperOptin, 4, false, 4).vec, 1);
  EXPECT_EQ(plan_softmax(100, 20000, 1, 132, kHopperOptin, 4, false, 4).vec, 4);
  EXPECT_EQ(plan_softmax(100, 57000, 1, 132, kHopperOptin, 4).tier, SoftmaxTier::kSmemRow);
  EXPECT_EQ(plan_softmax(100, 60000, 1, 132, kHopperOptin, 4).tier, SoftmaxTier::kBlockRow);
  EXPECT_EQ(plan_softmax(100, 65536, 1, 132, kHopperOptin, 4, false, 4).vec, 4);
  EXPECT_EQ(plan_softmax(100, 65537, 1, 132, kHopperOptin, 4, false, 4).vec, 1);
  EXPECT_EQ(plan_softmax(100, 100000, 1, 132, kHopperOptin, 2).tier, SoftmaxTier::kSmemRow);
  EXPECT_EQ(plan_softmax(100, 57000, 1, 132, kHopperOptin, 4, true).tier, SoftmaxTier::kBlockRow);
  EXPECT_EQ(plan_softmax(100, 28000, 1, 132, kHopperOptin, 4, true).tier, SoftmaxTier::kSmemRow);
  EXPECT_EQ(plan_softmax(100, 16385, 1, 132, 0, 4).tier, SoftmaxTier::kBlockRow);
  EXPECT_EQ(plan_softmax(64, 16, 262144, 132).tier, SoftmaxTier::kColumn);
  EXPECT_EQ(plan_softmax(64, 16, 2, 132).tier, SoftmaxTier::kColumn);
  // Grids: eight rows per block for warp rows, a block per row, a thread per column; capped.
  EXPECT_EQ(plan_softmax(17, 100, 1, 132).grid, 3);
  EXPECT_EQ(plan_softmax(17, 5000, 1, 132).grid, 17);
  EXPECT_EQ(plan_softmax(2, 10, 300, 132).grid, 3);
  EXPECT_EQ(plan_softmax(int64_t{1} << 30, 32, 1, 132).grid, 132 * 8 * 64);
}

// Middle axis: a column tile staged in shared memory when it fits the opt-in limit (one block's,
// or where clusters launch a cluster's, and few tiles over clusters), else the same tile read
// twice (its partials on chip), else (tiny tiles, no shared memory) a thread per column; 16-byte
// loads when inner keeps every dim row aligned.
TEST(SoftmaxPlanTest, MiddleAxisTiles) {
  using cuact::detail::column_tile_for;
  using cuact::detail::column_tile_smem;
  constexpr int64_t kHopperOptin = 227 * 1024;
  // A short axis over big planes: two thread rows, 128 chunk columns (512 floats) per tile.
  auto p = plan_softmax(64, 16, 262144, 132, kHopperOptin, 4, false, 4);
  EXPECT_EQ(p.tier, SoftmaxTier::kColumnTile);
  EXPECT_EQ(p.vec, 4);
  EXPECT_EQ(p.block, 256);
  EXPECT_EQ(column_tile_for(16, 262144, 4, 4).groups, 128);
  EXPECT_EQ(p.grid, 64 * (262144 / 512));
  EXPECT_EQ(p.smem_bytes, 16 * 512 * 4 + 2 * 512 * 16);
  // A long axis: tiles 64 bytes wide (16 floats), 64 thread rows, eight slots per column.
  p = plan_softmax(32, 1000, 1024, 132, kHopperOptin, 4, false, 4);
  EXPECT_EQ(p.tier, SoftmaxTier::kColumnTile);
  EXPECT_EQ(column_tile_for(1000, 1024, 4, 4).groups, 4);
  EXPECT_EQ(p.smem_bytes, 1000 * 16 * 4 + 8 * 16 * 16);
  EXPECT_EQ(p.grid, 32 * 64);
  p = plan_softmax(32, 1000, 1024, 132, kHopperOptin, 4, true, 4);
  EXPECT_EQ(p.tier, SoftmaxTier::kColumnTile);
  EXPECT_EQ(p.smem_bytes, 2 * 1000 * 16 * 4 + 8 * 16 * 8);
  // Four values per column: one thread row holds whole columns, no partials.
  p = plan_softmax(16, 4, 4194304, 132, kHopperOptin, 2, false, 8);
  EXPECT_EQ(p.tier, SoftmaxTier::kColumnTile);
  EXPECT_EQ(column_tile_for(4, 4194304, 8, 2).groups, 256);
  EXPECT_EQ(p.smem_bytes, 4 * 2048 * 2);
  // No wider than inner: three columns take a tile of four, scalar loads.
  p = plan_softmax(4, 1000, 3, 132, kHopperOptin, 4, false, 1);
  EXPECT_EQ(p.tier, SoftmaxTier::kColumnTile);
  EXPECT_EQ(p.vec, 1);
  EXPECT_EQ(column_tile_for(1000, 3, 1, 4).groups, 4);
  EXPECT_EQ(p.grid, 4);
  // inner not a multiple of the vector: scalar loads.
  EXPECT_EQ(plan_softmax(64, 16, 262146, 132, kHopperOptin, 4, false, 4).vec, 1);
  // Too tall for the shared memory: the same tile read twice, only the partials on chip.
  p = plan_softmax(2, 20000, 3, 132, kHopperOptin, 4);
  EXPECT_EQ(p.tier, SoftmaxTier::kColumnTileReread);
  EXPECT_EQ(column_tile_for(20000, 3, 1, 4).groups, 4);  // 4 columns x 64 thread rows
  EXPECT_EQ(p.smem_bytes, 8 * 4 * 16);                   // eight slots of 4 (max, excess) pairs
  EXPECT_EQ(p.grid, 2);
  p = plan_softmax(2, 2000, 1024, 132, kHopperOptin, 4, true, 4);
  EXPECT_EQ(p.tier, SoftmaxTier::kColumnTileReread);
  EXPECT_EQ(p.vec, 4);
  EXPECT_EQ(p.smem_bytes, 8 * 16 * 8);
  EXPECT_EQ(p.grid, 2 * 64);
  EXPECT_EQ(plan_softmax(2, 1700, 1024, 132, kHopperOptin, 4, true, 4).tier,
            SoftmaxTier::kColumnTile);
  // A column-tile plan split over `cluster` blocks (parts: the same), its grid and shared memory.
  auto expect_split = [](const cuact::detail::SoftmaxPlan& q, SoftmaxTier tier, int cluster,
                         int64_t grid, int64_t smem) {
    EXPECT_EQ(q.tier, tier);
    EXPECT_EQ(q.cluster, cluster);
    EXPECT_EQ(q.parts, cluster);
    EXPECT_EQ(q.grid, grid);
    EXPECT_EQ(q.smem_bytes, smem);
  };
  constexpr SoftmaxTier kStaged = SoftmaxTier::kColumnTile;
  // Where clusters launch, a tile that would take more than half of one block's shared memory
  // stages over the smallest cluster (up to 8) whose blocks leave room for two per SM:
  // 200 x 20000 x 3 (320 KB a tile) over four blocks of 80 KB, 256 x 10000 x 64 (640 KB) over
  // eight, 32 x 1000 x 1024 backward (128 KB) over two; the slice (the most dim indices a block
  // takes), then the partials, then two exchange slots of 4 (16) columns.
  expect_split(plan_softmax(200, 20000, 3, 132, kHopperOptin, 4, false, 1, 8, true), kStaged, 4,
               800, 5000 * 4 * 4 + 8 * 4 * 16 + 2 * 4 * 16);
  expect_split(plan_softmax(256, 10000, 64, 132, kHopperOptin, 4, false, 4, 16, true), kStaged, 8,
               256 * 4 * 8, 1250 * 16 * 4 + 8 * 16 * 16 + 2 * 16 * 16);
  expect_split(plan_softmax(32, 1000, 1024, 132, kHopperOptin, 4, true, 4, 16, true), kStaged, 2,
               32 * 64 * 2, 2 * 500 * 16 * 4 + 8 * 16 * 8 + 2 * 16 * 8);
  // Past eight blocks' room for two each, the smallest cluster that holds it (16-bit 1 x 300000 x
  // 3: 300000 dim rows of 8 bytes over 16 blocks where the device places them).
  expect_split(plan_softmax(1, 300000, 3, 132, kHopperOptin, 2, false, 1, 16, true), kStaged, 16,
               16, 18750 * 4 * 2 + 8 * 4 * 8 + 2 * 4 * 8);
  // Few tiles that one block would stage spread over a cluster too (1 x 3000 x 8: 2 chunk
  // columns x 128 thread rows, 2 blocks).
  EXPECT_EQ(column_tile_for(3000, 8, 4, 4).groups, 2);
  expect_split(plan_softmax(1, 3000, 8, 132, kHopperOptin, 4, false, 4, 8, true), kStaged, 2, 2,
               1500 * 8 * 4 + 8 * 8 * 16 + 2 * 8 * 16);
  // Few tall tiles: over 8 blocks (at most 8 for few tiles), staged (2 x 20000 x 3: 2500 dim
  // rows a block) or, too tall for 16 blocks' shared memory (1 x 300000 x 3 float32), read twice,
  // the (max, excess) pairs exchanged through two slots of 4 columns.
  expect_split(plan_softmax(2, 20000, 3, 132, kHopperOptin, 4, false, 1, 16, true), kStaged, 8, 16,
               2500 * 4 * 4 + 8 * 4 * 16 + 2 * 4 * 16);
  expect_split(plan_softmax(1, 300000, 3, 132, kHopperOptin, 4, false, 1, 16, true),
               SoftmaxTier::kColumnTileReread, 8, 8, 8 * 4 * 16 + 2 * 4 * 16);
  // Spread further only while SMs stay idle (2 x 20000 x 3 above: 4 blocks give two per SM, 8
  // spread it; 40 tiles of 4 blocks, or 128 of 4, are enough) and each block keeps 8 rounds of
  // its 64 thread rows (1 x 3000 x 16 backward: 375 dim indices a block of 8 would be too few);
  // never past that with enough tiles, nor without clusters.
  EXPECT_EQ(plan_softmax(40, 20000, 3, 132, kHopperOptin, 4, false, 1, 8, true).cluster, 4);
  EXPECT_EQ(plan_softmax(2, 2100, 1024, 132, kHopperOptin, 4, true, 4, 8, true).cluster, 4);
  EXPECT_EQ(plan_softmax(1, 3000, 16, 132, kHopperOptin, 4, true, 4, 8, true).cluster, 4);
  EXPECT_EQ(plan_softmax(200, 1000, 3, 132, kHopperOptin, 4, false, 1, 8, true).cluster, 1);
  EXPECT_EQ(plan_softmax(32, 1000, 1024, 132, kHopperOptin, 4, false, 4, 8, true).cluster, 1);
  EXPECT_EQ(plan_softmax(32, 3000, 1024, 132, kHopperOptin, 4, false, 4, 8, true).cluster, 2);
  EXPECT_EQ(plan_softmax(2, 20000, 3, 132, kHopperOptin, 4, false, 1, 0, true).cluster, 1);
  EXPECT_EQ(plan_softmax(1, 3000, 8, 132, kHopperOptin, 4, false, 4, 0, true).cluster, 1);
  // Without shared memory: a thread per column.
  EXPECT_EQ(plan_softmax(64, 16, 262144, 132, 0, 4).tier, SoftmaxTier::kColumn);
  EXPECT_EQ(plan_softmax(2, 20000, 3, 132, 0, 4).tier, SoftmaxTier::kColumn);
  // Tiles with fewer than 128 busy threads: a thread per column.
  EXPECT_EQ(plan_softmax(65536, 4, 4, 132, kHopperOptin, 4, false, 4).tier, SoftmaxTier::kColumn);
  EXPECT_EQ(plan_softmax(3, 17, 2, 132, kHopperOptin, 4).tier, SoftmaxTier::kColumn);
  EXPECT_EQ(plan_softmax(2, 9, 64, 132, kHopperOptin, 4, false, 4).tier, SoftmaxTier::kColumnTile);
  // Whatever the shape and device, a planned tile fits what the launcher allows, and a tile split
  // over a cluster gives every block a slice that fills its thread rows (row_slice: floor or
  // ceil of dim / cluster indices; a short axis of wide tiles, 1 x 5 x 129 backward with 16 KB,
  // would otherwise leave blocks without any).
  for (int64_t dim : {5, 9, 25}) {
    const auto q = plan_softmax(1, dim, 129, 8, 16 * 1024, 4, true, 1, 8, true);
    EXPECT_TRUE(q.cluster == 1 || dim / q.cluster >= column_tile_for(dim, 129, 1, 4).rows());
  }
  for (int64_t optin : {int64_t{16} * 1024, kHopperOptin}) {
    for (int elem : {2, 4, 8}) {
      for (bool backward : {false, true}) {
        for (int64_t dim = 1; dim < 200000; dim = dim * 3 / 2 + 1) {
          for (int64_t inner : {2, 5, 64, 96, 1000, 1 << 20}) {
            for (int max_cluster : {0, 4, 8, 16}) {
              for (int vec : {1, 16 / elem}) {
                const auto q =
                    plan_softmax(3, dim, inner, 132, optin, elem, backward, vec, max_cluster, true);
                const auto tile = column_tile_for(dim, inner, q.vec, elem);
                SCOPED_TRACE(::testing::Message() << "dim " << dim << " inner " << inner << " elem "
                                                  << elem << " backward " << backward << " vec "
                                                  << vec << " max cluster " << max_cluster);
                if (q.tier == SoftmaxTier::kColumnTile) {
                  EXPECT_EQ(q.smem_bytes, column_tile_smem(tile, dim, elem, backward, q.cluster));
                  EXPECT_LE(q.cluster, std::max(max_cluster, 1));
                  if (q.cluster > 1) EXPECT_GE(dim / q.cluster, tile.rows());
                } else if (q.tier == SoftmaxTier::kColumnTileReread) {
                  // Too tall to stage over the largest cluster the device launches, or so short
                  // that the cluster which holds it would leave blocks' thread rows empty.
                  const int most = std::max(max_cluster, 1);
                  int holding = 1;
                  while (holding < most && column_tile_smem(tile, dim, elem, backward, holding) +
                                                   cuact::detail::kSoftmaxStaticSmemReserve >
                                               optin)
                    holding *= 2;
                  EXPECT_TRUE(column_tile_smem(tile, dim, elem, backward, holding) +
                                      cuact::detail::kSoftmaxStaticSmemReserve >
                                  optin ||
                              (holding > 1 && dim / holding < tile.rows()));
                  const int64_t exchange =
                      q.cluster > 1 ? cuact::detail::column_exchange_smem(tile, elem, backward) : 0;
                  EXPECT_EQ(q.smem_bytes,
                            cuact::detail::column_partials_smem(tile, elem, backward) + exchange);
                  EXPECT_LE(q.cluster, max_cluster > 8 ? 8 : most);
                } else {
                  continue;
                }
                EXPECT_EQ(q.parts, q.cluster);
                EXPECT_EQ(q.grid % q.cluster, 0);
                EXPECT_LE(q.smem_bytes + cuact::detail::kSoftmaxStaticSmemReserve, optin);
              }
            }
          }
        }
      }
    }
  }
}

// Rows split over a thread-block cluster (up to 16 blocks): when one block's shared memory cannot
// hold the row, and when rows are fewer than the SMs (up to 8 blocks); without clusters, one
// block per row.
TEST(SoftmaxPlanTest, ClusterRows) {
  constexpr int64_t kHopperOptin = 227 * 1024;
  // One 32K float32 row: eight blocks of 1024 chunks instead of one block.
  auto p = plan_softmax(1, 32768, 1, 132, kHopperOptin, 4, false, 4, 8);
  EXPECT_EQ(p.tier, SoftmaxTier::kClusterRow);
  EXPECT_EQ(p.cluster, 8);
  EXPECT_EQ(p.block, 1024);
  EXPECT_EQ(p.smem_bytes, 1024 * 4 * 4 + 16);
  EXPECT_EQ(p.grid, 8);
  // Enough rows and the row fits: one block per row.
  p = plan_softmax(132, 32768, 1, 132, kHopperOptin, 4, false, 4, 8);
  EXPECT_EQ(p.tier, SoftmaxTier::kSmemRow);
  EXPECT_EQ(p.cluster, 1);
  // A 1 MB row: the smallest cluster whose slices fit, eight blocks of 128 KB.
  p = plan_softmax(100, 262144, 1, 132, kHopperOptin, 4, false, 4, 8);
  EXPECT_EQ(p.tier, SoftmaxTier::kClusterRow);
  EXPECT_EQ(p.cluster, 8);
  EXPECT_EQ(p.smem_bytes, 8192 * 4 * 4 + 16);
  EXPECT_EQ(p.grid, 800);
  p = plan_softmax(134, 58000, 1, 132, kHopperOptin, 4, false, 4, 8);
  EXPECT_EQ(p.tier, SoftmaxTier::kClusterRow);
  EXPECT_EQ(p.cluster, 2);
  // Backward stages y and dy: 131072 float32 columns need eight blocks.
  p = plan_softmax(100, 131072, 1, 132, kHopperOptin, 4, true, 4, 8);
  EXPECT_EQ(p.tier, SoftmaxTier::kClusterRow);
  EXPECT_EQ(p.cluster, 8);
  EXPECT_EQ(p.smem_bytes, 2 * 4096 * 4 * 4 + 16);
  // 16-block clusters hold rows eight blocks cannot: 600000 float32 columns, 150 KB per block.
  p = plan_softmax(200, 600000, 1, 132, kHopperOptin, 4, false, 4, 16, true);
  EXPECT_EQ(p.tier, SoftmaxTier::kClusterRow);
  EXPECT_EQ(p.cluster, 16);
  EXPECT_EQ(p.smem_bytes, 9375 * 4 * 4 + 16);
  EXPECT_EQ(p.grid, 16 * 200);
  EXPECT_EQ(plan_softmax(200, 600000, 1, 132, kHopperOptin, 4, false, 4, 8, true).tier,
            SoftmaxTier::kGridRow);
  // Few such rows: the grid tier spreads them wider than 16-block clusters would.
  EXPECT_EQ(plan_softmax(3, 600000, 1, 132, kHopperOptin, 4, false, 4, 16, true).tier,
            SoftmaxTier::kGridRow);
  // ... and few rows that fit spread over at most 8 (one 32K float32 row, as with 8).
  p = plan_softmax(1, 32768, 1, 132, kHopperOptin, 4, false, 4, 16, true);
  EXPECT_EQ(p.tier, SoftmaxTier::kClusterRow);
  EXPECT_EQ(p.cluster, 8);
  // Past the clusters' shared memory, or without clusters: the two-read block tier.
  p = plan_softmax(100, 1048576, 1, 132, kHopperOptin, 4, false, 4, 8);
  EXPECT_EQ(p.tier, SoftmaxTier::kBlockRow);
  EXPECT_EQ(p.cluster, 1);
  EXPECT_EQ(p.smem_bytes, 0);
  EXPECT_EQ(plan_softmax(100, 262144, 1, 132, kHopperOptin, 4, false, 4, 0).tier,
            SoftmaxTier::kBlockRow);
  EXPECT_EQ(plan_softmax(1, 32768, 1, 132, kHopperOptin, 4, false, 4, 0).tier,
            SoftmaxTier::kSmemRow);
  // Few rows: more blocks per row while SMs stay idle and each keeps 512 chunks or more.
  EXPECT_EQ(plan_softmax(16, 65536, 1, 132, kHopperOptin, 4, false, 4, 8).cluster, 8);
  EXPECT_EQ(plan_softmax(1, 16385, 1, 132, kHopperOptin, 4, false, 1, 8).cluster, 8);
  EXPECT_EQ(plan_softmax(3, 20000, 1, 132, kHopperOptin, 2, false, 8, 8).cluster, 4);
  EXPECT_EQ(plan_softmax(3, 20000, 1, 132, kHopperOptin, 2, false, 8, 8).grid, 12);
  EXPECT_EQ(plan_softmax(40, 65536, 1, 132, kHopperOptin, 2, false, 8, 8).cluster, 4);
  // Every plan: whole clusters, slices that fit what the launcher opts into.
  for (int elem : {2, 4, 8}) {
    for (bool backward : {false, true}) {
      for (int64_t rows : {1, 3, 50, 131, 132, 1 << 20}) {
        for (int64_t dim = 4096; dim < 4000000; dim = dim * 5 / 4 + 3) {
          for (int max_cluster : {8, 16}) {
            const auto q =
                plan_softmax(rows, dim, 1, 132, kHopperOptin, elem, backward, 1, max_cluster);
            EXPECT_EQ(q.grid % q.cluster, 0);
            EXPECT_LE(q.cluster, max_cluster);
            if (q.tier != SoftmaxTier::kClusterRow && q.tier != SoftmaxTier::kSmemRow) continue;
            const int64_t per = (dim + q.cluster - 1) / q.cluster;
            EXPECT_EQ(q.smem_bytes, per * elem * (backward ? 2 : 1) + 16);
            EXPECT_LE(q.smem_bytes + cuact::detail::kSoftmaxStaticSmemReserve, kHopperOptin);
          }
        }
      }
    }
  }
}

// Rows split over any number of co-resident blocks (cooperative launch): rows too long for a
// cluster, and few long rows spread over the GPU.
TEST(SoftmaxPlanTest, GridRows) {
  using cuact::detail::row_slice;
  constexpr int64_t kHopperOptin = 227 * 1024;
  // One 1M float32 row: past eight blocks' shared memory; all 132 SMs take a slice.
  auto p = plan_softmax(1, 1048576, 1, 132, kHopperOptin, 4, false, 4, 8, true);
  EXPECT_EQ(p.tier, SoftmaxTier::kGridRow);
  EXPECT_EQ(p.parts, 132);
  EXPECT_EQ(p.grid, 132);
  EXPECT_EQ(p.block, 1024);
  EXPECT_EQ(p.smem_bytes, (262144 + 131) / 132 * 16 + 16);
  // Without cooperative launches: one block per row, two reads.
  EXPECT_EQ(plan_softmax(1, 1048576, 1, 132, kHopperOptin, 4, false, 4, 8, false).tier,
            SoftmaxTier::kBlockRow);
  // Many 1M rows: 19 parts (each slice fits), six rows per wave.
  p = plan_softmax(256, 1048576, 1, 132, kHopperOptin, 4, false, 4, 8, true);
  EXPECT_EQ(p.tier, SoftmaxTier::kGridRow);
  EXPECT_EQ(p.parts, 19);
  EXPECT_EQ(p.grid, 6 * 19);
  // Few rows that a cluster holds: the grid tier once it spreads a row four times as wide.
  EXPECT_EQ(plan_softmax(1, 262144, 1, 132, kHopperOptin, 4, false, 4, 8, true).tier,
            SoftmaxTier::kGridRow);
  EXPECT_EQ(plan_softmax(1, 262144, 1, 132, kHopperOptin, 4, false, 4, 8, true).parts, 128);
  EXPECT_EQ(plan_softmax(1, 32768, 1, 132, kHopperOptin, 4, false, 4, 8, true).tier,
            SoftmaxTier::kClusterRow);
  EXPECT_EQ(plan_softmax(16, 65536, 1, 132, kHopperOptin, 4, false, 4, 8, true).tier,
            SoftmaxTier::kClusterRow);
  // Enough rows that fit a block or a cluster: unchanged.
  EXPECT_EQ(plan_softmax(132, 32768, 1, 132, kHopperOptin, 4, false, 4, 8, true).tier,
            SoftmaxTier::kSmemRow);
  EXPECT_EQ(plan_softmax(200, 262144, 1, 132, kHopperOptin, 4, false, 4, 8, true).tier,
            SoftmaxTier::kClusterRow);
  // Every grid plan: all blocks resident at one per SM, slices that fit, and every part holding
  // at least one 16-byte partial, the slices covering the row once.
  int64_t grid_plans = 0;
  for (int elem : {2, 4, 8}) {
    for (bool backward : {false, true}) {
      for (int vec : {1, 16 / elem}) {
        for (int64_t rows : {1, 2, 3, 7, 50, 131, 132, 1000}) {
          for (int64_t dim = 8192; dim < 40000000; dim = dim * 3 / 2 + vec) {
            const int64_t d = dim / vec * vec;
            for (int max_cluster : {8, 16}) {
              const auto q = plan_softmax(rows, d, 1, 132, kHopperOptin, elem, backward, vec,
                                          max_cluster, true);
              if (q.tier != SoftmaxTier::kGridRow) continue;
              ++grid_plans;
              const int64_t chunks = d / q.vec;
              ASSERT_LE(q.grid, 132);
              ASSERT_EQ(q.grid % q.parts, 0);
              ASSERT_LE(q.parts, 1024);  // one partial per thread of the combining block
              EXPECT_LE(q.smem_bytes + cuact::detail::kSoftmaxStaticSmemReserve, kHopperOptin);
              int64_t next = 0;
              for (int part = 0; part < q.parts; ++part) {
                const auto slice = row_slice(chunks, q.parts, part);
                ASSERT_EQ(slice.first, next) << "dim " << d << " part " << part;
                ASSERT_GE(int64_t{slice.count} * q.vec * elem, 16)
                    << "dim " << d << " part " << part;
                ASSERT_LE(int64_t{slice.count} * q.vec * elem * (backward ? 2 : 1) + 16,
                          q.smem_bytes);
                next += slice.count;
              }
              ASSERT_EQ(next, chunks);
            }
          }
        }
      }
    }
  }
  EXPECT_GT(grid_plans, 100);
  // Misaligned rows of congruent tensors: every row's body (row_segment) sliced between the parts
  // still gives each part a partial's room and fits the planned shared memory.
  int64_t misaligned_plans = 0;
  for (int elem : {2, 4, 8}) {
    const int wide = 16 / elem;
    for (bool backward : {false, true}) {
      for (int64_t rows : {1, 3, 7, 50}) {
        for (int64_t dim = 100001; dim < 20000000; dim = dim * 2 + 1) {
          const auto q =
              plan_softmax(rows, dim, 1, 132, kHopperOptin, elem, backward, 1, 8, true, wide);
          if (q.tier != SoftmaxTier::kGridRow) continue;
          ++misaligned_plans;
          ASSERT_EQ(q.vec, wide);
          for (int base = 0; base < wide; ++base) {
            for (int64_t row = 0; row < 3; ++row) {
              const auto seg = cuact::detail::row_segment(row * dim, dim, base, q.vec);
              for (int part = 0; part < q.parts; ++part) {
                const auto slice = row_slice(seg.body, q.parts, part);
                ASSERT_GE(int64_t{slice.count} * q.vec * elem, 16) << "dim " << dim;
                ASSERT_LE(int64_t{slice.count} * q.vec * elem * (backward ? 2 : 1) + 16,
                          q.smem_bytes)
                    << "dim " << dim;
              }
            }
          }
        }
      }
    }
  }
  EXPECT_GT(misaligned_plans, 20);
}

// The thresholds cuact-bench --softmax-tuning plans with (SoftmaxTuning): at the ends of their
// ranges, every plan still keeps the kernels' contracts (whole clusters within the device's,
// shared memory that fits and holds each block's slice, grid parts resident with a 16-byte
// partial each, column tiles whose slices fill the thread rows).
TEST(SoftmaxPlanTest, TunedThresholdsKeepTheKernelContracts) {
  using cuact::detail::column_tile_for;
  using cuact::detail::column_tile_smem;
  using cuact::detail::row_slice;
  using cuact::detail::SoftmaxTuning;
  constexpr int64_t kReserve = cuact::detail::kSoftmaxStaticSmemReserve;
  const SoftmaxTuning tunings[] = {
      SoftmaxTuning{},                 // the library's
      SoftmaxTuning{1, 1, 16, 16, 1},  // split as eagerly as allowed
      SoftmaxTuning{4, 64, 1, 1 << 20, 64},
      SoftmaxTuning{3, 2, 2, 100, 3},
  };
  int64_t checked[10] = {};
  for (const SoftmaxTuning& tuning : tunings) {
    for (int64_t optin : {int64_t{16} * 1024, int64_t{227} * 1024}) {
      for (int elem : {2, 4, 8}) {
        for (bool backward : {false, true}) {
          for (int vec : {1, 16 / elem}) {
            for (int max_cluster : {0, 8, 16}) {
              auto expect_contracts = [&](const cuact::detail::SoftmaxPlan& q, int64_t outer,
                                          int64_t dim, int64_t inner) {
                SCOPED_TRACE(::testing::Message()
                             << "(" << outer << ", " << dim << ", " << inner << ") elem " << elem
                             << (backward ? " backward" : " forward") << " vec " << vec
                             << " max cluster " << max_cluster << " optin " << optin << " tuning {"
                             << tuning.column_tile_blocks_per_sm << ", "
                             << tuning.min_column_slice_rounds << ", "
                             << tuning.few_rows_max_cluster << ", "
                             << tuning.min_cluster_slice_chunks << ", "
                             << tuning.grid_over_cluster_factor << "}");
                ++checked[static_cast<int>(q.tier)];
                ASSERT_GE(q.cluster, 1);
                ASSERT_EQ(q.cluster & (q.cluster - 1), 0);
                ASSERT_LE(q.cluster, std::max(max_cluster, 1));
                ASSERT_EQ(q.grid % q.cluster, 0);
                ASSERT_LE(q.smem_bytes + (q.smem_bytes > 0 ? kReserve : 0), optin);
                const int stages = backward ? 2 : 1;
                const int64_t chunks = dim / q.vec;
                switch (q.tier) {
                  case SoftmaxTier::kColumnTile: {
                    const auto tile = column_tile_for(dim, inner, q.vec, elem);
                    EXPECT_EQ(q.smem_bytes, column_tile_smem(tile, dim, elem, backward, q.cluster));
                    if (q.cluster > 1) EXPECT_GE(dim / q.cluster, tile.rows());
                    EXPECT_EQ(q.parts, q.cluster);
                    break;
                  }
                  case SoftmaxTier::kColumnTileReread: {
                    const auto tile = column_tile_for(dim, inner, q.vec, elem);
                    const int64_t exchange =
                        q.cluster > 1 ? cuact::detail::column_exchange_smem(tile, elem, backward)
                                      : 0;
                    EXPECT_EQ(q.smem_bytes,
                              cuact::detail::column_partials_smem(tile, elem, backward) + exchange);
                    EXPECT_EQ(q.parts, q.cluster);
                    break;
                  }
                  case SoftmaxTier::kClusterRow:
                  case SoftmaxTier::kSmemRow:
                    EXPECT_EQ(q.tier == SoftmaxTier::kClusterRow, q.cluster > 1);
                    EXPECT_EQ(q.smem_bytes,
                              (chunks + q.cluster - 1) / q.cluster * q.vec * elem * stages + 16);
                    break;
                  case SoftmaxTier::kGridRow: {
                    ASSERT_LE(q.grid, 132);
                    ASSERT_EQ(q.grid % q.parts, 0);
                    ASSERT_LE(q.parts, 1024);
                    for (int part = 0; part < q.parts; ++part) {
                      const auto slice = row_slice(chunks, q.parts, part);
                      ASSERT_GE(int64_t{slice.count} * q.vec * elem, 16) << "part " << part;
                      ASSERT_LE(int64_t{slice.count} * q.vec * elem * stages + 16, q.smem_bytes);
                    }
                    break;
                  }
                  default: EXPECT_EQ(q.cluster, 1); break;
                }
              };
              // Rows past the register tiers, many and few.
              for (int64_t rows : {1, 3, 50, 132, 1000}) {
                for (int64_t dim = 16384; dim < 8000000; dim = dim * 2 + 3 * vec) {
                  const int64_t d = dim / vec * vec;
                  expect_contracts(plan_softmax(rows, d, 1, 132, optin, elem, backward, vec,
                                                max_cluster, true, 1, &tuning),
                                   rows, d, 1);
                  if (::testing::Test::HasFatalFailure()) return;
                }
              }
              // Middle axes: short to tall tiles, few and many of them.
              for (int64_t outer : {1, 3, 64}) {
                for (int64_t dim = 2; dim < 200000; dim = dim * 5 / 2 + 1) {
                  for (int64_t inner : {2, 64, 1000, 1 << 16}) {
                    if (vec > 1 && inner % vec != 0) continue;
                    expect_contracts(plan_softmax(outer, dim, inner, 132, optin, elem, backward,
                                                  vec, max_cluster, true, 1, &tuning),
                                     outer, dim, inner);
                    if (::testing::Test::HasFatalFailure()) return;
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  // Every tier these shapes can take was planned under some tuning.
  for (SoftmaxTier t : {SoftmaxTier::kBlockRow, SoftmaxTier::kSmemRow, SoftmaxTier::kClusterRow,
                        SoftmaxTier::kGridRow, SoftmaxTier::kColumnTile,
                        SoftmaxTier::kColumnTileReread, SoftmaxTier::kColumn}) {
    EXPECT_GT(checked[static_cast<int>(t)], 0) << cuact::detail::softmax_tier_name(t);
  }
}

// Rows that do not start 16 bytes apart (an odd column count, or tensors a few elements past a
// boundary) still take 16-byte loads in kSmemRow when every tensor sits alike: a scalar head up
// to the first boundary, aligned vectors, a scalar tail.
TEST(SoftmaxPlanTest, MisalignedRowsOnChip) {
  using cuact::detail::row_segment;
  constexpr int64_t kHopperOptin = 227 * 1024;
  auto p = plan_softmax(5341, 50257, 1, 132, kHopperOptin, 4, false, 1, 8, true, 4);
  EXPECT_EQ(p.tier, SoftmaxTier::kSmemRow);
  EXPECT_EQ(p.vec, 4);
  EXPECT_EQ(p.smem_bytes, (50261 * 4 + 15) / 16 * 16);
  p = plan_softmax(5341, 50257, 1, 132, kHopperOptin, 2, true, 1, 8, true, 8);
  EXPECT_EQ(p.vec, 8);
  EXPECT_EQ(p.smem_bytes, 2 * ((50265 * 2 + 15) / 16 * 16));
  // Clusters too: float32 backward of 50257 columns takes two blocks per row.
  p = plan_softmax(5341, 50257, 1, 132, kHopperOptin, 4, true, 1, 8, true, 4);
  EXPECT_EQ(p.tier, SoftmaxTier::kClusterRow);
  EXPECT_EQ(p.vec, 4);
  EXPECT_EQ(p.smem_bytes, (12564 + 1) / 2 * 4 * 4 * 2 + 16);
  // And the grid tier: one odd 1M-column row over every SM.
  p = plan_softmax(1, 1048579, 1, 132, kHopperOptin, 4, false, 1, 8, true, 4);
  EXPECT_EQ(p.tier, SoftmaxTier::kGridRow);
  EXPECT_EQ(p.vec, 4);
  EXPECT_EQ(p.smem_bytes, (262144 + 131) / 132 * 16 + 16);
  // And the two-read block tier (no cooperative launch, rows past the clusters).
  p = plan_softmax(3, 1048579, 1, 132, kHopperOptin, 2, true, 1, 8, false, 8);
  EXPECT_EQ(p.tier, SoftmaxTier::kBlockRow);
  EXPECT_EQ(p.vec, 8);
  EXPECT_EQ(p.smem_bytes, 0);
  // Not congruent: scalar loads.
  EXPECT_EQ(plan_softmax(5341, 50257, 1, 132, kHopperOptin, 4, false, 1, 8, true, 1).vec, 1);
  EXPECT_EQ(plan_softmax(3, 1048579, 1, 132, kHopperOptin, 2, true, 1, 8, false, 1).vec, 1);
  // Aligned rows keep their plan.
  p = plan_softmax(200, 20000, 1, 132, kHopperOptin, 4, false, 4, 8, true, 4);
  EXPECT_EQ(p.vec, 4);
  EXPECT_EQ(p.smem_bytes, 20000 * 4 + 16);
  // Every shared-memory row plan holds what backward_smem_rows indexes: dy's row at
  // smem_row_second_offset, shifted by up to vec - 1 elements when the rows are misaligned.
  for (int elem : {2, 4, 8}) {
    for (int64_t dim = 8000; dim < 120000; dim = dim * 9 / 8 + 1) {
      for (int aligned : {0, 1}) {
        const int wide = 16 / elem;
        const auto q = plan_softmax(1000, dim, 1, 132, kHopperOptin, elem, true,
                                    aligned && dim % wide == 0 ? wide : 1, 8, true, wide);
        if (q.tier != SoftmaxTier::kSmemRow) continue;
        const int64_t most_shift = aligned && dim % wide == 0 ? 0 : q.vec - 1;
        EXPECT_LE(
            cuact::detail::smem_row_second_offset(dim, q.vec, elem) + (dim + most_shift) * elem,
            q.smem_bytes)
            << "elem " << elem << " dim " << dim << " vec " << q.vec;
      }
    }
  }
  // The split tiers' parts (row_part): body slices and edge elements cover each row once, every
  // slice 16-byte aligned.
  for (int vec : {2, 4, 8}) {
    for (int base = 0; base < vec; ++base) {
      for (int parts : {2, 3, 8, 132}) {
        for (int64_t dim : {int64_t{5000}, int64_t{16391}, int64_t{100003}}) {
          for (int64_t row = 0; row < 3; ++row) {
            std::vector<int> seen(dim, 0);
            for (int part = 0; part < parts; ++part) {
              const auto at = cuact::detail::row_part(row, dim, base, vec, parts, part, 0);
              ASSERT_EQ((base + at.offset) % vec, 0) << "slice not 16-byte aligned";
              for (int64_t j = 0; j < int64_t{at.count} * vec; ++j)
                ++seen[at.offset - row * dim + j];
              for (int t = 0; t < 1024; ++t) {
                const auto edge = cuact::detail::row_part(row, dim, base, vec, parts, part, t).edge;
                if (edge >= 0) ++seen[edge];
              }
            }
            for (int64_t j = 0; j < dim; ++j)
              ASSERT_EQ(seen[j], 1) << "vec " << vec << " base " << base << " parts " << parts
                                    << " dim " << dim << " element " << j;
          }
        }
      }
    }
  }
  // kBlockRow's whole-row span is row_part with one part, its chunk count 64-bit.
  for (int vec : {1, 2, 4, 8}) {
    for (int base = 0; base < vec; ++base) {
      for (int64_t dim : {1, 2, 7, 9, 5000, 16391, 100003}) {
        for (int64_t row = 0; row < 3; ++row) {
          for (int t = 0; t < 1024; ++t) {
            const auto part = cuact::detail::row_part(row, dim, base, vec, 1, 0, t);
            const auto span = cuact::detail::row_span(row, dim, base, vec, t);
            ASSERT_EQ(span.offset, part.offset);
            ASSERT_EQ(span.count, part.count);
            ASSERT_EQ(span.edge, part.edge);
          }
        }
      }
    }
  }
  // A row of 2^33 + 6 elements one past a boundary: 3 head elements, 2^31 chunks of 4 (past an
  // int), 3 tail elements.
  const int64_t huge = (int64_t{1} << 33) + 6;
  EXPECT_EQ(cuact::detail::row_span(0, huge, 1, 4, 0).edge, 0);
  EXPECT_EQ(cuact::detail::row_span(0, huge, 1, 4, 3).edge, -1);
  const auto span = cuact::detail::row_span(0, huge, 1, 4, 34);
  EXPECT_EQ(span.offset, 3);
  EXPECT_EQ(span.count, int64_t{1} << 31);
  EXPECT_EQ(span.edge, 3 + (int64_t{1} << 33) + 2);
  // The split of every row covers it once, the body aligned in memory and in shared memory, and
  // a staged row stays within dim + vec - 1 elements.
  for (int vec : {2, 4, 8}) {
    for (int base = 0; base < vec; ++base) {
      for (int64_t dim : {1, 2, 3, 7, 8, 9, 15, 16, 17, 1000, 50257}) {
        for (int64_t row = 0; row < 20; ++row) {
          const auto g = row_segment(row * dim, dim, base, vec);
          ASSERT_EQ(g.head + g.body * vec + g.tail, dim);
          ASSERT_GE(g.head, 0);
          ASSERT_LT(g.head, vec);
          ASSERT_GE(g.tail, 0);
          ASSERT_LT(g.tail, vec);
          if (g.body > 0) {
            ASSERT_EQ((base + row * dim + g.head) % vec, 0) << "body not 16-byte aligned";
            ASSERT_EQ((g.shift + g.head) % vec, 0) << "staged body not 16-byte aligned";
          }
          ASSERT_LE(g.shift + dim, dim + vec - 1);
          ASSERT_LT(g.head + g.tail, 1024) << "edges: one thread each";
        }
      }
    }
  }
}

// Rows that do not start 16 bytes apart take 16-byte loads in the register tiers too, once they
// are at least kSoftmaxMisalignedRegisterMinVectors loads long: each lane's body chunks and edge
// slots (RegisterRowMap, as the kernels use it) cover every element of every row once, every
// body chunk 16-byte aligned in memory, within the split's chunks per lane; and such rows always
// get a split the launchers have an edge kernel for.
TEST(SoftmaxPlanTest, MisalignedRowsInRegisters) {
  using cuact::detail::kSoftmaxMisalignedRegisterMinVectors;
  using cuact::detail::register_row_edges_per_side;
  using cuact::detail::RegisterRowMap;
  using cuact::detail::row_segment;
  using cuact::detail::RowSegment;
  constexpr int64_t kHopperOptin = 227 * 1024;
  std::vector<int64_t> dims;
  for (int64_t d = 1; d <= 300; ++d)
    dims.push_back(d);
  for (int64_t d = 301; d <= 16384; d = d * 11 / 10 + 1)
    dims.push_back(d);
  for (int64_t d : {1000, 1001, 1023, 4097, 8191, 16383})
    dims.push_back(d);
  int64_t edge_plans = 0;
  for (int elem : {2, 4, 8}) {
    const int wide = 16 / elem;
    for (bool backward : {false, true}) {
      for (int base = 0; base < wide; ++base) {
        for (int64_t dim : dims) {
          const bool aligned = base == 0 && dim % wide == 0;  // softmax_vector_width
          const auto p = plan_softmax(1000, dim, 1, 132, kHopperOptin, elem, backward,
                                      aligned ? wide : 1, 8, true, wide);
          if (p.tier != SoftmaxTier::kWarpRow && p.tier != SoftmaxTier::kBlockRegs) continue;
          SCOPED_TRACE(::testing::Message() << "elem " << elem << (backward ? " backward" : "")
                                            << " base " << base << " dim " << dim);
          const int lanes = p.tier == SoftmaxTier::kWarpRow ? p.lanes : p.block;
          if (aligned) {
            ASSERT_FALSE(p.row_edges);
            ASSERT_EQ(p.vec, wide);
          } else if (dim >= int64_t{kSoftmaxMisalignedRegisterMinVectors} * wide) {
            ASSERT_TRUE(p.row_edges);
            ASSERT_EQ(p.vec, wide);
            ASSERT_GE(lanes, kSoftmaxMisalignedRegisterMinVectors) << "no edge kernel";
            ++edge_plans;
          } else {
            ASSERT_FALSE(p.row_edges);
            ASSERT_EQ(p.vec, 1);
          }
          const int chunks = p.per_lane / p.vec;
          const int slots = p.row_edges ? 2 * register_row_edges_per_side(lanes, p.vec) : 0;
          for (int64_t row = 0; row < 3; ++row) {
            const RowSegment seg = p.row_edges ? row_segment(row * dim, dim, base, p.vec)
                                               : RowSegment{0, 0, dim / p.vec, 0};
            std::vector<int> seen(dim, 0);
            for (int lane = 0; lane < lanes; ++lane) {
              const RegisterRowMap m(seg, lanes, p.vec, lane);
              for (int c = 0; c < chunks; ++c) {
                if (!m.has(c)) continue;
                ASSERT_EQ((base + row * dim + m.at(c)) % p.vec, 0) << "chunk not 16-byte aligned";
                ASSERT_GE(m.at(c), 0);
                ASSERT_LE(m.at(c) + p.vec, dim) << "chunk past the row";
                for (int i = 0; i < p.vec; ++i)
                  ++seen[m.at(c) + i];
              }
              for (int s = 0; s < slots; ++s) {
                if (m.edge(s) < 0) continue;
                ASSERT_LT(m.edge(s), dim) << "edge past the row";
                ++seen[m.edge(s)];
              }
            }
            for (int64_t j = 0; j < dim; ++j)
              ASSERT_EQ(seen[j], 1) << "row " << row << " element " << j;
          }
        }
      }
    }
  }
  EXPECT_GT(edge_plans, 1000);
  // Tensors not alike past a boundary: scalar loads, no edges.
  for (int64_t dim : {33, 100, 1001, 4099}) {
    const auto p = plan_softmax(1000, dim, 1, 132, kHopperOptin, 2, false, 1, 8, true, 1);
    EXPECT_FALSE(p.row_edges);
    EXPECT_EQ(p.vec, 1);
  }
}

}  // namespace
