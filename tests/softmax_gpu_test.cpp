// SPDX-License-Identifier: Apache-2.0
//! Softmax and log_softmax on a GPU against the long-double reference, forward and backward, for
//! column counts on both sides of every tier threshold, row counts from 1 to 10000, middle-axis
//! shapes, every dtype, in place and out of place, special rows (-inf entries, all -inf, NaN,
//! +inf, the dtype's largest values), the safe option, poisoned guard regions, and graph
//! capture. Skipped with a message without a GPU (CUACT_REQUIRE_GPU=1 makes that a failure).
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cuact/activation.hpp"
#include "cuact/softmax.hpp"
#include "cuda/softmax_plan.hpp"
#include "host/softmax_by_plan.hpp"
#include "tests/common/gpu_env.hpp"
#include "tests/common/softmax_harness.hpp"
#include "tests/common/softmax_check.hpp"
#include "tests/reference/softmax_reference.hpp"

namespace {

using cuact::DType;
using cuact::SoftmaxKind;
using cuact::SoftmaxShape;
using cuact::Status;
using cuact_test::dtype_of;
using cuact_test::flat;
using cuact_test::make_backward_input;
using cuact_test::make_input;
using cuact_test::round_to;
using cuact_test::to_ld;
using cuact_test::verify_backward;
using cuact_test::verify_forward;

#define CUDA_OK(expr) ASSERT_EQ((expr), cudaSuccess) << #expr

constexpr int64_t kGuard = 64;
constexpr unsigned char kPoison = 0x5A;

//! A device tensor with poisoned guards of kGuard elements on both sides, starting `shift`
//! elements past a 16-byte boundary (shift != 0: misaligned rows, a scalar head and tail around
//! 16-byte loads where every tensor sits alike, else scalar loads).
template <class T>
struct Guarded {
  T* base = nullptr;
  int64_t n;
  int64_t shift;
  explicit Guarded(int64_t n_, int64_t shift_ = 0) : n(n_), shift(shift_) {
    const int64_t total = n + 2 * kGuard + shift;
    if (cudaMalloc(&base, total * sizeof(T)) != cudaSuccess) base = nullptr;
    if (base) cudaMemset(base, kPoison, total * sizeof(T));
  }
  ~Guarded() { cudaFree(base); }
  T* data() const { return base + kGuard + shift; }
  void upload(const std::vector<T>& h) const {
    cudaMemcpy(data(), h.data(), n * sizeof(T), cudaMemcpyHostToDevice);
  }
  std::vector<T> download() const {
    std::vector<T> h(n);
    cudaMemcpy(h.data(), data(), n * sizeof(T), cudaMemcpyDeviceToHost);
    return h;
  }
  bool guards_intact() const {
    std::vector<unsigned char> g(kGuard * sizeof(T));
    for (const T* p : {base + shift, data() + n}) {
      cudaMemcpy(g.data(), p, g.size(), cudaMemcpyDeviceToHost);
      for (unsigned char b : g) {
        if (b != kPoison) return false;
      }
    }
    return true;
  }
};

template <class T>
class SoftmaxGpu : public ::testing::Test {
 protected:
  void SetUp() override { CUACT_SKIP_WITHOUT_GPU(); }

  void check_forward(const SoftmaxShape& s, SoftmaxKind kind, bool in_place, bool safe,
                     int64_t shift = 0) {
    SCOPED_TRACE(cuact_test::describe_forward(s, kind, in_place, safe, shift));
    const int64_t n = s.outer * s.dim * s.inner;
    const std::vector<T> x = make_input<T>(s, 7 + n);
    Guarded<T> dx_(n, shift), dy_(n, shift);
    ASSERT_TRUE(dx_.base && dy_.base);
    dx_.upload(x);
    T* out = in_place ? dx_.data() : dy_.data();
    cuact::SoftmaxOptions o;
    o.all_masked_rows_give_zero = safe;
    ASSERT_EQ(cuact::softmax_forward(kind, dtype_of<T>(), dx_.data(), out, s, o, nullptr),
              Status::kSuccess)
        << cuact::last_error_detail();
    CUDA_OK(cudaDeviceSynchronize());
    const std::vector<T> y = in_place ? dx_.download() : dy_.download();
    ASSERT_TRUE(dx_.guards_intact() && dy_.guards_intact()) << "a guard region was written";
    verify_forward(s, kind, safe, x, y);
  }

  //! in_place: 0 dx separate, 1 dx == dy, 2 dx == y.
  void check_backward(const SoftmaxShape& s, SoftmaxKind kind, int in_place, int64_t shift = 0) {
    SCOPED_TRACE(cuact_test::describe_backward(s, kind, in_place, shift));
    const int64_t n = s.outer * s.dim * s.inner;
    const auto [y, dy] = make_backward_input<T>(s, kind);
    Guarded<T> yb(n, shift), dyb(n, shift), dxb(n, shift);
    ASSERT_TRUE(yb.base && dyb.base && dxb.base);
    yb.upload(y);
    dyb.upload(dy);
    T* dx = in_place == 1 ? dyb.data() : in_place == 2 ? yb.data() : dxb.data();
    ASSERT_EQ(cuact::softmax_backward(kind, dtype_of<T>(), yb.data(), dyb.data(), dx, s, nullptr),
              Status::kSuccess)
        << cuact::last_error_detail();
    CUDA_OK(cudaDeviceSynchronize());
    const std::vector<T> got = in_place == 1   ? dyb.download()
                               : in_place == 2 ? yb.download()
                                               : dxb.download();
    ASSERT_TRUE(yb.guards_intact() && dyb.guards_intact() && dxb.guards_intact());
    verify_backward(s, kind, y, dy, got);
  }
};

using DTypes = ::testing::Types<float, __half, __nv_bfloat16, double>;
TYPED_TEST_SUITE(SoftmaxGpu, DTypes);

std::vector<SoftmaxShape> last_axis_shapes() {
  std::vector<SoftmaxShape> shapes;
  // Powers of two and multiples of 16 bytes reach the 16-byte warp splits (1 to 32 lanes per row).
  for (int64_t cols : {1,    2,    4,    7,    8,     16,    24,    31,    32,   33,   63,
                       64,   65,   100,  128,  200,   256,   512,   1000,  1023, 1024, 1025,
                       2048, 4097, 8192, 8193, 16384, 16385, 20000, 32769, 40000}) {
    for (int64_t rows : {1, 3, 132})
      shapes.push_back({rows, cols, 1});
  }
  for (int64_t cols : {7, 65, 1025})
    shapes.push_back({10000, cols, 1});
  // Clusters for more rows than SMs (float32: a row past one block's shared memory), and rows
  // past a cluster in several waves of the grid tier.
  shapes.push_back({134, 58000, 1});
  shapes.push_back({140, 16391, 1});  // odd rows on chip: scalar head and tail, 16-byte body
  shapes.push_back({5, 16391, 1});    // the same over a cluster
  shapes.push_back({8, 1048576, 1});
  shapes.push_back({17, 600000, 1});  // float32: a 16-block cluster where the GPU places one
  for (int64_t cols : {65536, 65537, 262145, 1048576, 1048579}) {
    for (int64_t rows : {1, 3})
      shapes.push_back({rows, cols, 1});
  }
  return shapes;
}

TYPED_TEST(SoftmaxGpu, ForwardLastAxis) {
  for (const SoftmaxShape& s : last_axis_shapes()) {
    for (SoftmaxKind k : {SoftmaxKind::kSoftmax, SoftmaxKind::kLogSoftmax}) {
      this->check_forward(s, k, false, false);
      if (this->HasFatalFailure()) return;
    }
  }
}

TYPED_TEST(SoftmaxGpu, ForwardMiddleAxisInPlaceAndSafe) {
  for (const SoftmaxShape& s : cuact_test::softmax_middle_axis_shapes()) {
    for (SoftmaxKind k : {SoftmaxKind::kSoftmax, SoftmaxKind::kLogSoftmax}) {
      this->check_forward(s, k, false, false);
      this->check_forward(s, k, true, false);
      this->check_forward(s, k, false, true);
      if (this->HasFatalFailure()) return;
    }
  }
  this->check_forward({132, 1025, 1}, SoftmaxKind::kSoftmax, true, true);
}

TYPED_TEST(SoftmaxGpu, Backward) {
  std::vector<SoftmaxShape> shapes = cuact_test::softmax_middle_axis_shapes();
  for (SoftmaxShape s :
       {SoftmaxShape{3, 1, 1}, SoftmaxShape{132, 33, 1}, SoftmaxShape{3, 1025, 1},
        SoftmaxShape{2, 40000, 1}, SoftmaxShape{2, 300000, 1}, SoftmaxShape{1000, 7, 1}}) {
    shapes.push_back(s);
  }
  for (const SoftmaxShape& s : shapes) {
    for (SoftmaxKind k : {SoftmaxKind::kSoftmax, SoftmaxKind::kLogSoftmax}) {
      this->check_backward(s, k, 0);
      this->check_backward(s, k, 1);
      this->check_backward(s, k, 2);
      if (this->HasFatalFailure()) return;
    }
  }
}

// Rows that do not start 16 bytes apart, or tensors that do not (every tensor one element past
// a boundary): a scalar head and tail around 16-byte loads in the register tiers for rows of at
// least four loads (which tier, warp or block, depends on the dtype and direction; shorter rows
// and the middle axis go scalar), kSmemRow (140 rows), kClusterRow (5 rows) and kGridRow (7 rows
// of 1M in waves, the last with idle blocks); backward also in place over y and over dy.
TYPED_TEST(SoftmaxGpu, MisalignedRowsAndTensors) {
  for (SoftmaxShape s :
       {SoftmaxShape{9, 8, 1}, SoftmaxShape{7, 32, 1}, SoftmaxShape{5, 33, 1},
        SoftmaxShape{5, 64, 1}, SoftmaxShape{7, 100, 1}, SoftmaxShape{3, 128, 1},
        SoftmaxShape{3, 1001, 1}, SoftmaxShape{4, 1024, 1}, SoftmaxShape{3, 3000, 1},
        SoftmaxShape{2, 4099, 1}, SoftmaxShape{2, 20000, 1}, SoftmaxShape{2, 70000, 1},
        SoftmaxShape{2, 100, 64}, SoftmaxShape{140, 16391, 1}, SoftmaxShape{5, 16391, 1},
        SoftmaxShape{7, 1048577, 1}}) {
    for (SoftmaxKind k : {SoftmaxKind::kSoftmax, SoftmaxKind::kLogSoftmax}) {
      this->check_forward(s, k, false, false, 1);
      this->check_forward(s, k, true, false, 1);
      this->check_backward(s, k, 0, 1);
      this->check_backward(s, k, 1, 1);  // in place over dy, misaligned
      this->check_backward(s, k, 2, 1);  // in place over y, misaligned
      if (this->HasFatalFailure()) return;
    }
  }
}

// A row past every SM's shared memory (about 7.6M float32 values on an H200): neither a cluster
// nor the grid tier holds it, so one block reads it twice (kBlockRow), with 16-byte loads on the
// aligned body whether or not the row starts on a 16-byte boundary.
TYPED_TEST(SoftmaxGpu, RowPastEverySmsSharedMemory) {
  using T = TypeParam;
  int device = 0, sms = 0, optin = 0;
  CUDA_OK(cudaGetDevice(&device));
  CUDA_OK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  CUDA_OK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  const SoftmaxShape s{1, int64_t{sms} * optin / static_cast<int64_t>(sizeof(T)) + 3, 1};
  T* t[3] = {};
  for (T*& p : t)
    CUDA_OK(cudaMalloc(&p, (s.dim + 1) * sizeof(T)));
  for (bool backward : {false, true}) {  // the plan for tensors one element past a boundary
    cuact::SoftmaxKernelInfo info;
    ASSERT_EQ(cuact::softmax_kernel_info(dtype_of<T>(), backward, t[0] + 1, t[1] + 1,
                                         backward ? t[2] + 1 : nullptr, s, nullptr, &info),
              Status::kSuccess)
        << cuact::last_error_detail();
    EXPECT_STREQ(info.tier, "block_row") << (backward ? "backward" : "forward");
    EXPECT_EQ(info.vector_elements, static_cast<int>(16 / sizeof(T)));
  }
  for (T* p : t)
    cudaFree(p);
  this->check_forward(s, SoftmaxKind::kSoftmax, false, false, 1);
  this->check_forward(s, SoftmaxKind::kLogSoftmax, true, false, 0);
  this->check_backward(s, SoftmaxKind::kSoftmax, 0, 1);
  this->check_backward(s, SoftmaxKind::kLogSoftmax, 1, 0);
}

// Reaches every softmax kernel quickly: what scripts/gpu-check.sh runs under compute-sanitizer.
TYPED_TEST(SoftmaxGpu, SmokeEveryTier) {
  // Warp rows, block registers, shared memory, clusters and the grid tier (where the GPU launches
  // them; else two reads), middle axis in column tiles (scalar, 16-byte; tall ones over clusters
  // where the GPU launches them), tiles read twice (past the shared memory: one block, or over a
  // cluster) and a thread per column (a tiny tile).
  for (SoftmaxShape s :
       {SoftmaxShape{9, 33, 1}, SoftmaxShape{3, 1500, 1}, SoftmaxShape{1, 20000, 1},
        SoftmaxShape{5, 16391, 1}, SoftmaxShape{2, 33000, 1}, SoftmaxShape{2, 70000, 1},
        SoftmaxShape{1, 65536, 1}, SoftmaxShape{3, 9, 5}, SoftmaxShape{2, 100, 7},
        SoftmaxShape{2, 9, 64}, SoftmaxShape{1, 40000, 3}, SoftmaxShape{2, 6000, 64},
        SoftmaxShape{1, 300000, 3}}) {
    for (SoftmaxKind k : {SoftmaxKind::kSoftmax, SoftmaxKind::kLogSoftmax}) {
      this->check_forward(s, k, false, false);
      this->check_backward(s, k, 0);
      this->check_forward(s, k, false, false, 1);  // misaligned: edges around 16-byte loads
      this->check_backward(s, k, 0, 1);
    }
  }
}

class SoftmaxGpuRuntime : public ::testing::Test {
 protected:
  void SetUp() override { CUACT_SKIP_WITHOUT_GPU(); }
};

//! Captures one forward call and replays it: the output matches the eager call bit for bit.
void check_graph_replay(const SoftmaxShape& s) {
  SCOPED_TRACE(::testing::Message() << "(" << s.outer << ", " << s.dim << ", " << s.inner << ")");
  const int64_t n = s.outer * s.dim * s.inner;
  std::vector<float> x = make_input<float>(s, 1);
  float *dx = nullptr, *dy = nullptr;
  CUDA_OK(cudaMalloc(&dx, n * sizeof(float)));
  CUDA_OK(cudaMalloc(&dy, n * sizeof(float)));
  CUDA_OK(cudaMemcpy(dx, x.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  cudaStream_t stream;
  CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  ASSERT_EQ(cuact::softmax_forward(SoftmaxKind::kSoftmax, DType::kFloat32, dx, dy, s, {}, stream),
            Status::kSuccess);
  CUDA_OK(cudaStreamSynchronize(stream));
  std::vector<float> eager(n), replay(n);
  CUDA_OK(cudaMemcpy(eager.data(), dy, n * sizeof(float), cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemset(dy, 0, n * sizeof(float)));
  cudaGraph_t graph;
  CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  const Status st =
      cuact::softmax_forward(SoftmaxKind::kSoftmax, DType::kFloat32, dx, dy, s, {}, stream);
  CUDA_OK(cudaStreamEndCapture(stream, &graph));
  ASSERT_EQ(st, Status::kSuccess);
  cudaGraphExec_t exec;
  CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
  CUDA_OK(cudaGraphLaunch(exec, stream));
  CUDA_OK(cudaStreamSynchronize(stream));
  CUDA_OK(cudaMemcpy(replay.data(), dy, n * sizeof(float), cudaMemcpyDeviceToHost));
  EXPECT_EQ(std::memcmp(eager.data(), replay.data(), n * sizeof(float)), 0);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
  cudaFree(dx);
  cudaFree(dy);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

// A warp-row launch, and the launches with attributes: a cluster (1 x 20000 spreads over eight
// blocks), a cooperative grid (1 x 1M), and a column tile with opted-in shared memory.
TEST_F(SoftmaxGpuRuntime, GraphCaptureReplayMatchesEager) {
  for (SoftmaxShape s : {SoftmaxShape{64, 1000, 1}, SoftmaxShape{1, 20000, 1},
                         SoftmaxShape{1, 1048576, 1}, SoftmaxShape{4, 3000, 64}}) {
    check_graph_replay(s);
    if (HasFatalFailure()) return;
  }
}

// softmax_kernel_info reports the tier each kind of shape takes (on any GPU for the tiers that
// need no clusters or cooperative launch, with their plan from the device's attributes), and for
// a few long rows a split over several blocks; nothing is launched.
TEST_F(SoftmaxGpuRuntime, KernelInfoReportsThePlan) {
  int device = 0, sms = 0, optin = 0;
  CUDA_OK(cudaGetDevice(&device));
  CUDA_OK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  CUDA_OK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  void *a = nullptr, *b = nullptr, *c = nullptr;
  constexpr size_t kBytes = size_t{8} << 20;
  CUDA_OK(cudaMalloc(&a, kBytes));
  CUDA_OK(cudaMalloc(&b, kBytes));
  CUDA_OK(cudaMalloc(&c, kBytes));
  struct Expect {
    DType dtype;
    bool backward;
    SoftmaxShape shape;
    const char* tier;
    int vec;
  };
  for (const Expect& e : {Expect{DType::kFloat32, false, {1000, 33, 1}, "warp_row", 4},
                          Expect{DType::kFloat16, false, {1000, 100, 1}, "warp_row", 8},
                          Expect{DType::kFloat16, true, {1000, 7, 1}, "warp_row", 1},
                          Expect{DType::kFloat32, false, {500, 1500, 1}, "block_regs", 4},
                          Expect{DType::kFloat32, true, {2, 6000, 64}, "column_tile_reread", 4},
                          Expect{DType::kBFloat16, false, {16, 100, 64}, "column_tile", 8},
                          Expect{DType::kFloat32, false, {65536, 4, 4}, "column", 1}}) {
    SCOPED_TRACE(::testing::Message() << e.tier << " (" << e.shape.outer << ", " << e.shape.dim
                                      << ", " << e.shape.inner << ")");
    cuact::SoftmaxKernelInfo info;
    ASSERT_EQ(cuact::softmax_kernel_info(e.dtype, e.backward, a, b, c, e.shape, nullptr, &info),
              Status::kSuccess)
        << cuact::last_error_detail();
    EXPECT_EQ(info.vector_elements, e.vec);
    const int elem = e.dtype == DType::kFloat32 ? 4 : 2;
    const auto p =
        cuact::detail::plan_softmax(e.shape.outer, e.shape.dim, e.shape.inner, sms, optin, elem,
                                    e.backward, 16 / elem, 0, false, 16 / elem);
    EXPECT_STREQ(cuact::detail::softmax_tier_name(p.tier), e.tier);
    EXPECT_EQ(info.block_threads, p.block);
    if (info.cluster_blocks > 1) {
      // Where clusters launch (Hopper), 2 x 6000 x 64 backward is staged over one, each block a
      // slice of the tile, instead of read twice.
      EXPECT_STREQ(e.tier, "column_tile_reread");
      EXPECT_STREQ(info.tier, "column_tile");
      EXPECT_EQ(info.blocks_per_row, info.cluster_blocks);
      EXPECT_EQ(info.grid_blocks, p.grid * info.cluster_blocks);
      EXPECT_GT(info.dynamic_smem_bytes, p.smem_bytes);
    } else {
      EXPECT_STREQ(info.tier, e.tier);
      EXPECT_EQ(info.grid_blocks, p.grid);
      EXPECT_EQ(info.dynamic_smem_bytes, p.smem_bytes);
    }
  }
  // One long row: spread over several blocks (a cluster or the grid tier) where the GPU launches
  // them, else one block reading twice.
  cuact::SoftmaxKernelInfo info;
  ASSERT_EQ(cuact::softmax_kernel_info(DType::kFloat32, false, a, b, nullptr,
                                       SoftmaxShape{1, 1048576, 1}, nullptr, &info),
            Status::kSuccess);
  const std::string tier = info.tier;
  EXPECT_TRUE(tier == "grid_row" || tier == "cluster_row" || tier == "block_row") << tier;
  if (tier == "grid_row") EXPECT_EQ(info.grid_blocks, info.blocks_per_row);
  cudaFree(a);
  cudaFree(b);
  cudaFree(c);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

//! The bench's path (host/softmax_by_plan.hpp) with the library's thresholds: the plan that
//! softmax_kernel_info reports, and launched by it, the library's output bit for bit.
template <class T>
void check_planned_launch(const SoftmaxShape& s, bool backward) {
  SCOPED_TRACE(::testing::Message()
               << cuact::dtype_name(dtype_of<T>()) << " (" << s.outer << ", " << s.dim << ", "
               << s.inner << ")" << (backward ? " backward" : " forward"));
  const int64_t n = s.outer * s.dim * s.inner;
  const size_t bytes = size_t(n) * sizeof(T);
  const std::vector<T> x = make_input<T>(s, 11);
  const std::vector<T> dy = make_input<T>(s, 12);
  T *dx = nullptr, *dy_dev = nullptr, *y = nullptr, *library = nullptr, *planned = nullptr;
  for (T** buffer : {&dx, &dy_dev, &y, &library, &planned})
    CUDA_OK(cudaMalloc(buffer, bytes));
  CUDA_OK(cudaMemcpy(dx, x.data(), bytes, cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemcpy(dy_dev, dy.data(), bytes, cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemset(planned, 0xFF, bytes));
  const DType dtype = dtype_of<T>();
  ASSERT_EQ(cuact::softmax_forward(SoftmaxKind::kSoftmax, dtype, dx, y, s, {}, nullptr),
            Status::kSuccess);
  const T* a = backward ? y : dx;
  const T* b = backward ? dy_dev : nullptr;
  if (backward) {
    ASSERT_EQ(cuact::softmax_backward(SoftmaxKind::kSoftmax, dtype, y, dy_dev, library, s, nullptr),
              Status::kSuccess);
  } else {
    ASSERT_EQ(cuact::softmax_forward(SoftmaxKind::kSoftmax, dtype, dx, library, s, {}, nullptr),
              Status::kSuccess);
  }
  cuact::SoftmaxKernelInfo info;
  ASSERT_EQ(cuact::softmax_kernel_info(dtype, backward, a, backward ? b : planned,
                                       backward ? planned : nullptr, s, nullptr, &info),
            Status::kSuccess);
  cuact::detail::SoftmaxPlan p;
  ASSERT_EQ(cuact::detail::softmax_plan_tuned(dtype, backward, a, backward ? b : planned,
                                              backward ? planned : nullptr, s, {}, nullptr, &p),
            Status::kSuccess)
      << cuact::last_error_detail();
  EXPECT_STREQ(cuact::detail::softmax_tier_name(p.tier), info.tier);
  EXPECT_EQ(p.grid, info.grid_blocks);
  EXPECT_EQ(p.cluster, info.cluster_blocks);
  EXPECT_EQ(p.smem_bytes, info.dynamic_smem_bytes);
  ASSERT_EQ(cuact::detail::softmax_launch_planned(SoftmaxKind::kSoftmax, dtype, backward, p, a, b,
                                                  planned, s, nullptr),
            Status::kSuccess)
      << cuact::last_error_detail();
  CUDA_OK(cudaDeviceSynchronize());
  std::vector<unsigned char> want(bytes), got(bytes);
  CUDA_OK(cudaMemcpy(want.data(), library, bytes, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(got.data(), planned, bytes, cudaMemcpyDeviceToHost));
  EXPECT_EQ(std::memcmp(want.data(), got.data(), bytes), 0) << info.tier;
  for (T* buffer : {dx, dy_dev, y, library, planned})
    cudaFree(buffer);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

// A register row, a block row, a cluster (Hopper) or shared-memory row, a grid row (where
// cooperative launches work), a staged column tile and a column-per-thread middle axis.
TEST_F(SoftmaxGpuRuntime, PlannedLaunchMatchesTheLibrary) {
  for (SoftmaxShape s :
       {SoftmaxShape{64, 1000, 1}, SoftmaxShape{300, 3000, 1}, SoftmaxShape{2, 20000, 1},
        SoftmaxShape{1, 1048576, 1}, SoftmaxShape{4, 3000, 64}, SoftmaxShape{65536, 4, 4}}) {
    for (bool backward : {false, true}) {
      check_planned_launch<float>(s, backward);
      check_planned_launch<__nv_bfloat16>(s, backward);
      if (HasFatalFailure()) return;
    }
  }
}

}  // namespace
