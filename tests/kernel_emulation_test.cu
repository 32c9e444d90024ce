// SPDX-License-Identifier: Apache-2.0
//! The kernels' own thread bodies (cuda/act_kernels.cuh), run on the CPU over every block and
//! thread of the launch the library would make: the vector path (forward_thread /
//! backward_thread) with plain host loads in place of __ldcs/__ldg, and the staged path (one
//! block per tile: stage_source, forward_staged_tile / backward_staged_tile) with a memcpy in place
//! of the bulk copy, checked to start 16-byte aligned and to stay inside the tensor. This checks
//! the plan, the scalar edges, the 16-byte realignment and the grid-stride loop end to end without
//! a GPU: every element written once, with the value of its own inputs, nothing outside the tensor
//! touched, for every dtype, size, misalignment of input and output, and in place.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "cuact/functors.cuh"
#include "cuda/act_kernels.cuh"

namespace {

using cuact::Saved;
using namespace cuact::detail;

struct HostLoads {
  static uint4 once(const uint4* p) {
    uint4 v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static uint4 twice(const uint4* p) { return once(p); }
};

constexpr int kGuard = 40;  // elements each side
constexpr unsigned char kPoison = 0xA5;

//! 16-byte-aligned host storage; tensor views start kGuard + offset elements in.
template <class T>
struct Buffer {
  std::vector<uint4> storage;
  explicit Buffer(int64_t n) : storage((2 * kGuard + 4 + n) * sizeof(T) / 16 + 2) {
    std::memset(storage.data(), kPoison, storage.size() * 16);
  }
  T* at(int offset) { return reinterpret_cast<T*>(storage.data()) + kGuard + offset; }
  const unsigned char* bytes() const {
    return reinterpret_cast<const unsigned char*>(storage.data());
  }
  size_t size_bytes() const { return storage.size() * 16; }
};

template <class T>
T value_from(double v) {
  return cuact::to_storage<T>(static_cast<cuact::compute_t<T>>(v));
}

template <class T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

//! Every byte outside [begin, begin + n) elements of `b` must still be poison.
template <class T>
::testing::AssertionResult untouched_outside(const Buffer<T>& b, const T* begin, int64_t n) {
  const auto* base = reinterpret_cast<const unsigned char*>(b.storage.data());
  const int64_t lo = reinterpret_cast<const unsigned char*>(begin) - base;
  const int64_t hi = lo + n * static_cast<int64_t>(sizeof(T));
  for (int64_t i = 0; i < static_cast<int64_t>(b.size_bytes()); ++i) {
    if (i == lo) i = hi;
    if (i < static_cast<int64_t>(b.size_bytes()) && b.bytes()[i] != kPoison) {
      return ::testing::AssertionFailure() << "byte " << i - lo << " from the tensor start written";
    }
  }
  return ::testing::AssertionSuccess();
}

template <class T>
void fill_distinct(T* p, int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(-3.0, 3.0);
  for (int64_t i = 0; i < n; ++i)
    p[i] = value_from<T>(dist(rng));
}

enum class Path { kVector, kStaged };

//! A stage as the bulk copy fills it: poisoned first, so a read past the copied chunks shows.
//! Checks the copy's source: 16-byte aligned, inside the n elements of the tensor.
template <class T>
void fill_stage(std::vector<Pack>& stage, const T* src, int64_t n, const VectorPlan& plan,
                int64_t tile, int s) {
  std::memset(stage.data(), kPoison, stage.size() * sizeof(Pack));
  const StageSource from = stage_source<T>(plan, tile, s);
  ASSERT_GT(from.chunks, 0);
  ASSERT_LE(from.chunks, kStageChunks);
  ASSERT_LE(from.chunks * 16, kStageBytes);
  ASSERT_GE(from.first_element, 0);
  ASSERT_LE(from.first_element + int64_t{from.chunks} * kPackSize<T>, n) << "copy past the end";
  ASSERT_EQ(reinterpret_cast<std::uintptr_t>(src + from.first_element) % 16, 0u);
  std::memcpy(stage.data(), src + from.first_element, from.chunks * sizeof(Pack));
}

//! One launch of the staged forward kernel: one block per tile, each block's edge elements, then
//! its tile (a block's threads run one after another, after the block's copy, as the mbarrier
//! orders them).
template <class Op, class T>
void emulate_staged_forward(const T* x, T* y, int64_t n, const VectorPlan& plan, const Op& op) {
  std::vector<Pack> stage(kStageChunks);
  for (int64_t block = 0; block < tile_count(plan); ++block) {
    for (int thread = 0; thread < kBlockThreads; ++thread)
      forward_edge(x, y, plan, op, block * kBlockThreads + thread);
    if (block * kTileVectors >= plan.num_vectors) continue;  // the edges-only block
    fill_stage(stage, x, n, plan, block, 0);
    for (int thread = 0; thread < kBlockThreads; ++thread)
      forward_staged_tile(stage.data(), y, plan, op, block, thread);
  }
}

template <Saved kSaved, class Op, class T>
void emulate_staged_backward(const T* dy, const T* saved, T* dx, int64_t n, const VectorPlan& plan,
                             const Op& op) {
  std::vector<Pack> dy_stage(kStageChunks), saved_stage(kStageChunks);
  for (int64_t block = 0; block < tile_count(plan); ++block) {
    for (int thread = 0; thread < kBlockThreads; ++thread)
      backward_edge<kSaved>(dy, saved, dx, plan, op, block * kBlockThreads + thread);
    if (block * kTileVectors >= plan.num_vectors) continue;
    fill_stage(dy_stage, dy, n, plan, block, 0);
    fill_stage(saved_stage, saved, n, plan, block, 1);
    for (int thread = 0; thread < kBlockThreads; ++thread) {
      backward_staged_tile<kSaved>(dy_stage.data(), saved_stage.data(), dx, plan, op, block,
                                   thread);
    }
  }
}

template <class T>
void run_forward_case(int64_t n, int x_off, int y_off, bool in_place, int64_t forced_grid,
                      Path path = Path::kVector) {
  SCOPED_TRACE(::testing::Message() << "forward n=" << n << " x+" << x_off << " y+" << y_off
                                    << (in_place ? " in place" : "") << " grid=" << forced_grid
                                    << (path == Path::kStaged ? " staged" : " vector"));
  Buffer<T> xb(n), yb(n);
  T* x = xb.at(x_off);
  T* y = in_place ? x : yb.at(y_off);
  fill_distinct(x, n, 11 + n);
  const std::vector<T> x_copy(x, x + n);
  const cuact::Exponential op;  // distinct outputs for distinct inputs: a misplaced load shows
  const std::uintptr_t in[1] = {reinterpret_cast<std::uintptr_t>(x)};
  const VectorPlan plan =
      make_vector_plan(n, sizeof(T), reinterpret_cast<std::uintptr_t>(y), in, 1);
  const int64_t grid = forced_grid > 0 ? forced_grid : elementwise_grid(plan, kTileVectors, 132);
  if (path == Path::kStaged) {
    emulate_staged_forward(static_cast<const T*>(x), y, n, plan, op);
    if (::testing::Test::HasFatalFailure()) return;
  } else {
    for (int64_t block = 0; block < grid; ++block) {
      for (int thread = 0; thread < kBlockThreads; ++thread) {
        forward_thread<HostLoads>(static_cast<const T*>(x), y, plan, op, block, thread, grid);
      }
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    const T want = cuact::apply_forward(op, x_copy[i]);
    ASSERT_TRUE(same_bits(y[i], want)) << "element " << i << " of " << n;
  }
  if (in_place) {
    ASSERT_TRUE(untouched_outside(xb, x, n));
  } else {
    ASSERT_TRUE(untouched_outside(yb, y, n));
    ASSERT_EQ(std::memcmp(x, x_copy.data(), n * sizeof(T)), 0) << "input modified";
  }
}

template <class T>
void run_backward_case(int64_t n, int dy_off, int s_off, int dx_off, bool in_place,
                       int64_t forced_grid, Path path = Path::kVector) {
  SCOPED_TRACE(::testing::Message()
               << "backward n=" << n << " dy+" << dy_off << " saved+" << s_off << " dx+" << dx_off
               << (in_place ? " in place" : "") << " grid=" << forced_grid
               << (path == Path::kStaged ? " staged" : " vector"));
  Buffer<T> gb(n), sb(n), db(n);
  T* dy = gb.at(dy_off);
  T* saved = sb.at(s_off);
  T* dx = in_place ? dy : db.at(dx_off);
  fill_distinct(dy, n, 5 + n);
  fill_distinct(saved, n, 7 + n);
  const std::vector<T> dy_copy(dy, dy + n), s_copy(saved, saved + n);
  const cuact::Exponential op;
  const std::uintptr_t in[2] = {reinterpret_cast<std::uintptr_t>(dy),
                                reinterpret_cast<std::uintptr_t>(saved)};
  const VectorPlan plan =
      make_vector_plan(n, sizeof(T), reinterpret_cast<std::uintptr_t>(dx), in, 2);
  const int64_t grid = forced_grid > 0 ? forced_grid : elementwise_grid(plan, kTileVectors, 132);
  if (path == Path::kStaged) {
    emulate_staged_backward<Saved::kInput>(static_cast<const T*>(dy), static_cast<const T*>(saved),
                                           dx, n, plan, op);
    if (::testing::Test::HasFatalFailure()) return;
  } else {
    for (int64_t block = 0; block < grid; ++block) {
      for (int thread = 0; thread < kBlockThreads; ++thread) {
        backward_thread<HostLoads, Saved::kInput>(static_cast<const T*>(dy),
                                                  static_cast<const T*>(saved), dx, plan, op, block,
                                                  thread, grid);
      }
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    const T want = cuact::apply_backward<Saved::kInput>(op, dy_copy[i], s_copy[i]);
    ASSERT_TRUE(same_bits(dx[i], want)) << "element " << i << " of " << n;
  }
  ASSERT_TRUE(untouched_outside(in_place ? gb : db, dx, n));
  ASSERT_EQ(std::memcmp(saved, s_copy.data(), n * sizeof(T)), 0) << "saved modified";
}

template <class T>
class KernelEmulation : public ::testing::Test {};
using Types = ::testing::Types<__half, __nv_bfloat16, float, double>;
TYPED_TEST_SUITE(KernelEmulation, Types);

const int64_t kSizes[] = {0, 1, 7, 8, 9, 31, 65, 4097, (1 << 20) + 3};

TYPED_TEST(KernelEmulation, ForwardEveryLayout) {
  for (int64_t n : kSizes) {
    for (int xo : {0, 1, 3}) {
      for (int yo : {0, 1, 3})
        run_forward_case<TypeParam>(n, xo, yo, false, 0);
      run_forward_case<TypeParam>(n, xo, xo, true, 0);
    }
  }
}

TYPED_TEST(KernelEmulation, BackwardEveryLayout) {
  for (int64_t n : kSizes) {
    for (int go : {0, 1, 3}) {
      for (int so : {0, 3}) {
        for (int xo : {0, 1})
          run_backward_case<TypeParam>(n, go, so, xo, false, 0);
        run_backward_case<TypeParam>(n, go, so, go, true, 0);
      }
    }
  }
}

TYPED_TEST(KernelEmulation, StagedForwardEveryLayout) {
  for (int64_t n : kSizes) {
    for (int xo : {0, 1, 3}) {
      for (int yo : {0, 1, 3})
        run_forward_case<TypeParam>(n, xo, yo, false, 0, Path::kStaged);
      run_forward_case<TypeParam>(n, xo, xo, true, 0, Path::kStaged);
    }
  }
}

TYPED_TEST(KernelEmulation, StagedBackwardEveryLayout) {
  for (int64_t n : kSizes) {
    for (int go : {0, 1, 3}) {
      for (int so : {0, 3}) {
        for (int xo : {0, 1})
          run_backward_case<TypeParam>(n, go, so, xo, false, 0, Path::kStaged);
        run_backward_case<TypeParam>(n, go, so, go, true, 0, Path::kStaged);
      }
    }
  }
}

TYPED_TEST(KernelEmulation, GridStrideWithFewBlocks) {
  // A grid smaller than the tile count: every block loops over several tiles.
  for (int64_t grid : {1, 3, 7}) {
    run_forward_case<TypeParam>(100003, 1, 0, false, grid);
    run_backward_case<TypeParam>(100003, 3, 1, 0, false, grid);
  }
}

}  // namespace
