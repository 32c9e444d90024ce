// SPDX-License-Identifier: Apache-2.0
//! The softmax kernels and launchers themselves (cuda/softmax_kernels.cuh,
//! host/softmax_launch.cuh), built by the host compiler and run on the CPU emulation of the CUDA
//! execution model (tests/emulation/gpu_emulator.hpp): every tier, forward and backward, softmax
//! and log_softmax, every dtype, aligned and misaligned, in place, against the long-double
//! reference with the GPU test's harness and bounds, on three made-up devices (Hopper-like with
//! 16-block clusters and cooperative grids, Ampere-like without clusters, and one without opt-in
//! shared memory). Output buffers are poisoned, with guard regions checked after each launch; a
//! barrier that not every thread reaches, or a shuffle that not every lane of a warp reaches, fails
//! the launch.
//!
//! This runs in CI without a GPU. It does not replace the GPU test: the device math, the memory
//! model, timing and the real launch limits are not emulated.
#include "tests/emulation/gpu_emulator.hpp"  // first: the built-ins and __shared__

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cuda/softmax_plan.hpp"
#include "host/internal.hpp"

// Dynamic shared memory: the kernels' `extern __shared__ unsigned char softmax_smem[]`.
namespace cuact::detail {
alignas(16) thread_local unsigned char softmax_smem[cuact_emu::kMaxDynamicSmem];
}  // namespace cuact::detail

namespace cuact_emu {
unsigned char* dynamic_smem() {
  return cuact::detail::softmax_smem;
}

//! What went wrong in the last failed emulated launch.
std::string last_failure;  // NOLINT: test-global
inline cudaError_t emulate(const Launch& launch) {
  last_failure = run(launch);
  return last_failure.empty() ? cudaSuccess : cudaErrorLaunchFailure;
}
}  // namespace cuact_emu

// The launchers' two launch primitives, emulated (host/softmax_launch.cuh leaves them to us under
// CUACT_SOFTMAX_EMULATION): the same checks a device makes of the plan's shared memory, cluster
// size and cooperative grid, then the kernel on fibers.
namespace cuact::detail {

template <auto kKernel, class... Args>
cudaError_t launch_kernel(unsigned grid, int threads, cudaStream_t, Args... args) {
  cuact_emu::Launch launch;
  launch.kernel = [=] { kKernel(args...); };
  launch.grid = grid;
  launch.block = static_cast<unsigned>(threads);
  return cuact_emu::emulate(launch);
}

template <auto kKernel, int kThreads, class... Args>
cudaError_t launch_on_chip(const SoftmaxPlan& p, const LaunchContext& ctx,
                           const cudaLaunchAttribute* attribute, Args... args) {
  if (p.smem_bytes + kSoftmaxStaticSmemReserve > ctx.shared_memory_optin) {
    return cudaErrorInvalidValue;
  }
  cuact_emu::Launch launch;
  launch.kernel = [=] { kKernel(args...); };
  launch.grid = static_cast<unsigned>(p.grid);
  launch.block = kThreads;
  launch.dynamic_smem = static_cast<size_t>(p.smem_bytes);
  if (attribute && attribute->id == cudaLaunchAttributeCooperative) {
    // One 1024-thread block per SM at this shared memory: the whole grid must be resident.
    if (p.grid > ctx.multiprocessor_count) return cudaErrorCooperativeLaunchTooLarge;
    launch.together = launch.grid;
  } else if (attribute && attribute->id == cudaLaunchAttributeClusterDimension) {
    launch.together = attribute->val.clusterDim.x;
    launch.cluster = true;
    if (static_cast<int>(launch.together) > ctx.max_cluster_blocks) {
      return cudaErrorInvalidClusterSize;
    }
  }
  return cuact_emu::emulate(launch);
}

}  // namespace cuact::detail

#include "host/softmax_launch.cuh"
#include "tests/common/softmax_harness.hpp"

namespace {

using cuact::SoftmaxKind;
using cuact::SoftmaxShape;
using cuact::detail::LaunchContext;
using cuact::detail::SoftmaxPlan;
using cuact::detail::SoftmaxTier;
using cuact::detail::SplitRowLimits;
using cuact_test::make_backward_input;
using cuact_test::make_input;

//! A made-up device: few SMs, so that the grid tier's blocks (one per SM, run together) stay few.
struct Device {
  const char* name;
  int sms;
  int smem_optin;
  int max_cluster;
  bool cooperative;
  LaunchContext context() const {
    LaunchContext c;
    c.multiprocessor_count = sms;
    c.shared_memory_optin = smem_optin;
    c.max_cluster_blocks = max_cluster;
    c.cooperative_launch = cooperative;
    return c;
  }
  SplitRowLimits limits() const { return SplitRowLimits{max_cluster, cooperative}; }
};
constexpr Device kHopper{"hopper-like", 8, 227 * 1024, 16, true};
constexpr Device kAmpere{"ampere-like", 8, 163 * 1024, 0, true};
constexpr Device kNoSmem{"no opt-in shared memory", 8, 0, 0, false};
//! Small clusters with little shared memory: column tiles too tall for a cluster (read twice) at
//! sizes the emulation runs quickly.
constexpr Device kSmallSmem{"4-block clusters, 16 KB shared memory", 8, 16 * 1024, 4, true};

constexpr int64_t kGuard = 48;  // elements each side
constexpr unsigned char kPoison = 0x5A;

//! Host memory standing in for a device tensor: 16-byte aligned storage, the tensor `shift`
//! elements past a boundary, poisoned guards of kGuard elements on both sides.
template <class T>
struct HostTensor {
  std::vector<uint4> storage;
  int64_t n, shift;
  HostTensor(int64_t n_, int64_t shift_) : n(n_), shift(shift_) {
    const int64_t bytes = (n + 2 * kGuard + shift) * static_cast<int64_t>(sizeof(T));
    storage.resize(static_cast<size_t>((bytes + 15) / 16));
    std::memset(storage.data(), kPoison, storage.size() * 16);
  }
  T* data() { return reinterpret_cast<T*>(storage.data()) + kGuard + shift; }
  void upload(const std::vector<T>& v) { std::memcpy(data(), v.data(), n * sizeof(T)); }
  std::vector<T> download() {
    std::vector<T> v(n);
    std::memcpy(v.data(), data(), n * sizeof(T));
    return v;
  }
  bool guards_intact() {
    const auto* bytes = reinterpret_cast<const unsigned char*>(storage.data());
    const size_t front = (kGuard + shift) * sizeof(T);
    const size_t back = front + n * sizeof(T);
    for (size_t i = 0; i < storage.size() * 16; ++i) {
      if ((i < front || i >= back) && bytes[i] != kPoison) return false;
    }
    return true;
  }
};

//! The planner thresholds the checks plan with: the library's (null), except in TunedThresholds.
const cuact::detail::SoftmaxTuning*& tuning() {
  static const cuact::detail::SoftmaxTuning* t = nullptr;
  return t;
}

//! The tiers (and edge variants) the runs reached, so the suite can insist on all of them.
std::set<std::string>& reached() {
  static std::set<std::string> tiers;
  return tiers;
}

void note(const SoftmaxPlan& p, bool backward) {
  std::string key = cuact::detail::softmax_tier_name(p.tier);
  key += backward ? " backward" : " forward";
  if (p.row_edges) key += " edges";
  if (p.cluster > 1 &&
      (p.tier == SoftmaxTier::kColumnTile || p.tier == SoftmaxTier::kColumnTileReread)) {
    key += " cluster";
  }
  reached().insert(key);
}

//! out_shift: the output's offset when it differs from the input's (tensors not alike past a
//! 16-byte boundary: scalar loads); -1: the same.
template <class T>
void check_forward(const Device& dev, const SoftmaxShape& s, SoftmaxKind kind, bool in_place,
                   bool safe, int64_t shift, int64_t out_shift = -1) {
  SCOPED_TRACE(::testing::Message()
               << dev.name << ": " << cuact_test::describe_forward(s, kind, in_place, safe, shift)
               << (out_shift >= 0 ? " output apart" : ""));
  const int64_t n = s.outer * s.dim * s.inner;
  const std::vector<T> x = make_input<T>(s, 7 + n);
  HostTensor<T> a(n, shift), b(n, out_shift >= 0 ? out_shift : shift);
  a.upload(x);
  T* out = in_place ? a.data() : b.data();
  const LaunchContext ctx = dev.context();
  const SoftmaxPlan p = cuact::detail::plan_softmax_call<T>(s, false, a.data(), out, nullptr,
                                                            dev.limits(), ctx, tuning());
  note(p, false);
  SCOPED_TRACE(cuact::detail::softmax_tier_name(p.tier));
  const cudaError_t err =
      kind == SoftmaxKind::kSoftmax
          ? cuact::detail::launch_softmax_forward_kind<T, SoftmaxKind::kSoftmax>(p, a.data(), out,
                                                                                 s, safe, ctx)
          : cuact::detail::launch_softmax_forward_kind<T, SoftmaxKind::kLogSoftmax>(
                p, a.data(), out, s, safe, ctx);
  ASSERT_EQ(err, cudaSuccess) << cuact_emu::last_failure;
  ASSERT_TRUE(a.guards_intact() && b.guards_intact()) << "a guard region was written";
  cuact_test::verify_forward(s, kind, safe, x, in_place ? a.download() : b.download());
}

//! in_place: 0 dx separate, 1 dx == dy, 2 dx == y.
template <class T>
void check_backward(const Device& dev, const SoftmaxShape& s, SoftmaxKind kind, int in_place,
                    int64_t shift) {
  SCOPED_TRACE(::testing::Message()
               << dev.name << ": " << cuact_test::describe_backward(s, kind, in_place, shift));
  const int64_t n = s.outer * s.dim * s.inner;
  const auto [y, dy] = make_backward_input<T>(s, kind);
  HostTensor<T> yb(n, shift), dyb(n, shift), dxb(n, shift);
  yb.upload(y);
  dyb.upload(dy);
  T* dx = in_place == 1 ? dyb.data() : in_place == 2 ? yb.data() : dxb.data();
  const LaunchContext ctx = dev.context();
  const SoftmaxPlan p = cuact::detail::plan_softmax_call<T>(s, true, yb.data(), dyb.data(), dx,
                                                            dev.limits(), ctx, tuning());
  note(p, true);
  SCOPED_TRACE(cuact::detail::softmax_tier_name(p.tier));
  const cudaError_t err =
      kind == SoftmaxKind::kSoftmax
          ? cuact::detail::launch_softmax_backward_kind<T, SoftmaxKind::kSoftmax>(
                p, yb.data(), dyb.data(), dx, s, ctx)
          : cuact::detail::launch_softmax_backward_kind<T, SoftmaxKind::kLogSoftmax>(
                p, yb.data(), dyb.data(), dx, s, ctx);
  ASSERT_EQ(err, cudaSuccess) << cuact_emu::last_failure;
  ASSERT_TRUE(yb.guards_intact() && dyb.guards_intact() && dxb.guards_intact())
      << "a guard region was written";
  const std::vector<T> got = in_place == 1   ? dyb.download()
                             : in_place == 2 ? yb.download()
                                             : dxb.download();
  cuact_test::verify_backward(s, kind, y, dy, got);
}

template <class T>
void check_all(const Device& dev, const std::vector<SoftmaxShape>& shapes) {
  for (const SoftmaxShape& s : shapes) {
    for (int64_t shift : {0, 1}) {
      for (SoftmaxKind k : {SoftmaxKind::kSoftmax, SoftmaxKind::kLogSoftmax}) {
        check_forward<T>(dev, s, k, false, false, shift);
        check_backward<T>(dev, s, k, 0, shift);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
    check_forward<T>(dev, s, SoftmaxKind::kSoftmax, true, true, 0);          // in place, safe
    check_forward<T>(dev, s, SoftmaxKind::kLogSoftmax, false, false, 1, 0);  // not alike
    check_backward<T>(dev, s, SoftmaxKind::kLogSoftmax, 1, 1);               // dx == dy, misaligned
    check_backward<T>(dev, s, SoftmaxKind::kSoftmax, 2, 0);                  // dx == y
    if (::testing::Test::HasFatalFailure()) return;
  }
}

//! Expects every tier named (forward and backward, either variant of the register tiers) among
//! those the test's runs planned.
void expect_reached(std::initializer_list<const char*> tiers) {
  for (const char* tier : tiers) {
    for (const char* dir : {" forward", " backward"}) {
      const std::string key = std::string(tier) + dir;
      EXPECT_TRUE(reached().count(key) || reached().count(key + " edges") ||
                  reached().count(key + " cluster"))
          << key << " not reached";
    }
  }
}

template <class T>
class SoftmaxEmulation : public ::testing::Test {
 protected:
  void SetUp() override { reached().clear(); }
};
using DTypes = ::testing::Types<float, __half, __nv_bfloat16, double>;
TYPED_TEST_SUITE(SoftmaxEmulation, DTypes);

// Warp rows of every lane count (16-byte loads around a scalar head and tail where misaligned
// rows are long enough), block registers, rows staged in one block's shared memory, clusters of
// 2 to 8 blocks (by dtype and direction), and middle axes in column tiles (tall or few ones
// staged over clusters of 2 to 16 blocks), tiles read twice, and a thread per column.
TYPED_TEST(SoftmaxEmulation, HopperLikeDevice) {
  check_all<TypeParam>(kHopper, {{5, 1, 1},
                                 {9, 7, 1},
                                 {9, 33, 1},
                                 {7, 100, 1},
                                 {4, 1024, 1},
                                 {3, 1500, 1},
                                 {2, 4099, 1},
                                 {20, 6000, 1},
                                 {20, 20000, 1},
                                 {3, 150001, 1},
                                 {3, 17, 2},
                                 {5, 100, 7},
                                 {2, 50, 1024},
                                 {2, 1500, 64},
                                 {1, 40000, 3},
                                 {2, 20000, 3},
                                 {2, 6000, 64},
                                 {600, 4, 4}});
  expect_reached({"warp_row", "block_regs", "smem_row", "cluster_row", "column_tile", "column"});
  for (const char* edges :
       {"warp_row forward edges", "warp_row backward edges", "block_regs forward edges",
        "block_regs backward edges", "column_tile forward", "column_tile backward",
        "column_tile forward cluster", "column_tile backward cluster"}) {
    EXPECT_TRUE(reached().count(edges)) << edges << " not reached";
  }
}

// Middle axes on a device whose clusters hold less: tiles too tall for any cluster read twice, in
// one block each (8 tiles for 8 SMs) or, few of them, split over a cluster (scalar and 16-byte
// loads).
TYPED_TEST(SoftmaxEmulation, ClustersWithLittleSharedMemory) {
  check_all<TypeParam>(kSmallSmem, {{8, 8000, 3}, {2, 8000, 3}, {2, 4000, 16}});
  for (const char* key :
       {"column_tile_reread forward", "column_tile_reread backward",
        "column_tile_reread forward cluster", "column_tile_reread backward cluster"}) {
    EXPECT_TRUE(reached().count(key)) << key << " not reached";
  }
}

// Column counts on both sides of the tier thresholds (the list up to 64K), one and three
// rows, aligned and misaligned.
TYPED_TEST(SoftmaxEmulation, ColumnCountsAroundEveryThreshold) {
  for (int64_t cols :
       {1, 2, 7, 31, 32, 33, 63, 64, 65, 1023, 1024, 1025, 4097, 16385, 32769, 65537}) {
    for (int64_t rows : {1, 3}) {
      for (int64_t shift : {0, 1}) {
        check_forward<TypeParam>(kHopper, {rows, cols, 1}, SoftmaxKind::kSoftmax, false, false,
                                 shift);
        check_backward<TypeParam>(kHopper, {rows, cols, 1}, SoftmaxKind::kLogSoftmax, 0, shift);
        if (this->HasFatalFailure()) return;
      }
    }
  }
}

// Rows 16 blocks' shared memory hold only (float32).
TEST(SoftmaxEmulationCluster, SixteenBlocks) {
  reached().clear();
  check_forward<float>(kHopper, {2, 600000, 1}, SoftmaxKind::kSoftmax, false, false, 1);
  check_backward<float>(kHopper, {1, 300000, 1}, SoftmaxKind::kLogSoftmax, 0, 1);
  for (bool backward : {false, true}) {
    const auto p =
        cuact::detail::plan_softmax(backward ? 1 : 2, backward ? 300000 : 600000, 1, kHopper.sms,
                                    kHopper.smem_optin, 4, backward, 1, 16, true, 4);
    EXPECT_EQ(p.tier, SoftmaxTier::kClusterRow);
    EXPECT_EQ(p.cluster, 16);
  }
}

// Planner thresholds other than the library's (what cuact-bench --softmax-tuning times): the
// plans they give still run right. Splitting as eagerly as allowed takes few long rows over the
// grid and few column tiles over clusters; splitting as little as allowed keeps each row and tile
// in one block, or in the fewest cluster blocks that hold it.
TYPED_TEST(SoftmaxEmulation, TunedThresholds) {
  using cuact::detail::SoftmaxTuning;
  for (const SoftmaxTuning& t :
       {SoftmaxTuning{1, 1, 16, 16, 1}, SoftmaxTuning{4, 64, 1, 1 << 20, 64}}) {
    tuning() = &t;
    check_all<TypeParam>(kHopper, {{1, 20000, 1}, {2, 200000, 1}, {1, 3000, 8}, {2, 9000, 3}});
    if (this->HasFatalFailure()) break;
  }
  tuning() = nullptr;
  expect_reached({"grid_row", "cluster_row", "column_tile"});
  EXPECT_TRUE(reached().count("column_tile forward cluster")) << "no split column tile";
}

// Without clusters: long rows over a cooperative grid (one row over every SM; 13 rows in waves of
// fewer parts, the last wave with idle blocks), and past it one block reading twice.
TYPED_TEST(SoftmaxEmulation, AmpereLikeDevice) {
  check_all<TypeParam>(kAmpere, {{1, 50003, 1}, {1, 100003, 1}, {13, 100003, 1}, {1, 1000003, 1}});
  expect_reached({"grid_row", "block_row"});
}

// No opt-in shared memory: register tiers, two reads of long rows, a thread per column.
TYPED_TEST(SoftmaxEmulation, DeviceWithoutSharedMemory) {
  check_all<TypeParam>(kNoSmem, {{9, 33, 1}, {3, 20001, 1}, {2, 100, 7}});
  expect_reached({"warp_row", "block_row", "column"});
}

// Random shapes (last and middle axes, one row to dozens), devices, alignments, aliasing and
// options: whatever tier the planner picks, the result matches the reference. A fixed seed per
// dtype; CUACT_EMULATION_FUZZ=N runs N cases instead, to search further than CI does.
TYPED_TEST(SoftmaxEmulation, RandomShapes) {
  using T = TypeParam;
  const char* asked = std::getenv("CUACT_EMULATION_FUZZ");
  const int cases = asked ? std::atoi(asked) : 48;
  std::mt19937_64 rng(0x5EED + sizeof(T));
  const Device* const devices[] = {&kHopper, &kAmpere, &kSmallSmem, &kNoSmem};
  auto log_uniform = [&rng](int64_t hi) {  // in [1, hi]
    std::uniform_real_distribution<double> u(0.0, std::log(static_cast<double>(hi) + 1.0));
    return std::clamp<int64_t>(static_cast<int64_t>(std::exp(u(rng))), 1, hi);
  };
  constexpr int64_t kMostElements = 200000;  // a few hundred ms each on the emulation
  const int64_t per_16_bytes = 16 / static_cast<int64_t>(sizeof(T));
  for (int c = 0; c < cases; ++c) {
    const Device& dev = *devices[rng() % 4];
    const bool middle = rng() % 3 == 0;
    const int64_t inner = middle ? 1 + log_uniform(96) : 1;
    const int64_t dim =
        log_uniform(std::min<int64_t>(middle ? 12000 : 160000, kMostElements / inner));
    const int64_t outer = log_uniform(std::clamp<int64_t>(kMostElements / (dim * inner), 1, 40));
    const SoftmaxShape s{outer, dim, inner};
    const SoftmaxKind kind = rng() % 2 ? SoftmaxKind::kSoftmax : SoftmaxKind::kLogSoftmax;
    const int64_t shift = static_cast<int64_t>(rng() % per_16_bytes);
    const bool backward = rng() % 2;
    const int aliasing = static_cast<int>(rng() % 3);
    const bool safe = rng() % 4 == 0;
    SCOPED_TRACE(::testing::Message() << "random case " << c);
    if (backward) {
      check_backward<T>(dev, s, kind, aliasing, shift);  // 0: apart, 1: dx == dy, 2: dx == y
    } else {
      // 0: apart, 1: in place, 2: the output another distance past a 16-byte boundary.
      check_forward<T>(dev, s, kind, aliasing == 1, safe, shift,
                       aliasing == 2 ? (shift + 1) % per_16_bytes : -1);
    }
    if (this->HasFatalFailure()) return;
  }
}

}  // namespace
