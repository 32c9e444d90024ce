// SPDX-License-Identifier: Apache-2.0
//! The activation kernels on a GPU against the long-double CPU reference. Skipped with a message
//! on machines without a device (CUACT_REQUIRE_GPU=1 makes that a failure).
//!
//! Sweep: every op (plus parameter variants) x dtype x direction x n in {1, 7, 65, 4097,
//! 2^20 + 3} x layouts (element offsets 0/1/3, same and different misalignment of input and
//! output, in place and out of place). Inputs at n = 2^20 + 3 are every 16-bit pattern (16-bit
//! dtypes) or every 4096th float32 pattern, so the exhaustive sweeps run through the real
//! kernels; dy = 1 on the first quarter makes that part an exact check of f'. Outputs and guard
//! regions are poisoned before each run; guards must come back untouched.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cuact/activation.hpp"
#include "cuact/op_table.hpp"
#include "cuact/precision.cuh"
#include "host/elementwise_by_loads.hpp"
#include "tests/common/gpu_env.hpp"
#include "tests/common/ulp.hpp"
#include "tests/reference/activation_reference.hpp"

namespace {

using cuact::ActParams;
using cuact::DType;
using cuact::Op;
using cuact::Saved;
using cuact::Status;
using cuact_test::kIs16Bit;
using cuact_test::to_ld;
using cuact_test::ulp_error;

#define CUDA_OK(expr) ASSERT_EQ((expr), cudaSuccess) << #expr << ": " << cudaGetErrorString(expr)

template <class T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>) return DType::kFloat32;
  if constexpr (std::is_same_v<T, __half>) return DType::kFloat16;
  if constexpr (std::is_same_v<T, __nv_bfloat16>) return DType::kBFloat16;
  return DType::kFloat64;
}

enum class Direction { kForward, kBackwardFromInput, kBackwardFromOutput };
const char* direction_name(Direction d) {
  return d == Direction::kForward             ? "forward"
         : d == Direction::kBackwardFromInput ? "backward(x)"
                                              : "backward(y)";
}

struct OpCase {
  Op op;
  ActParams params;
  std::string label;
};

std::vector<OpCase> op_cases() {
  std::vector<OpCase> cases;
  for (int i = 0; i < cuact::kNumOps; ++i) {
    cases.push_back({static_cast<Op>(i), ActParams{}, cuact::op_name(static_cast<Op>(i))});
  }
  ActParams p;
  p.relu_alpha = 0.1, p.relu_max_value = 6.0, p.relu_threshold = 0.5;
  cases.push_back({Op::kRelu, p, "relu(alpha=0.1,max=6,threshold=0.5)"});
  p = ActParams{};
  p.relu_alpha = 0.2, p.relu_max_value = 1.0, p.relu_threshold = -1.0;
  cases.push_back({Op::kRelu, p, "relu(alpha=0.2,max=1,threshold=-1)"});
  p = ActParams{};
  p.relu_alpha = 0.1, p.relu_max_value = 5.9;
  cases.push_back({Op::kRelu, p, "relu(alpha=0.1,max=5.9)"});
  p = ActParams{};
  p.elu_alpha = 0.5;
  cases.push_back({Op::kElu, p, "elu(alpha=0.5)"});
  p = ActParams{};
  p.leaky_alpha = 0.01;
  cases.push_back({Op::kLeakyRelu, p, "leaky_relu(alpha=0.01)"});
  p = ActParams{};
  p.celu_alpha = 2.0;
  cases.push_back({Op::kCelu, p, "celu(alpha=2)"});
  p = ActParams{};
  p.theta = 0.5;
  cases.push_back({Op::kThresholdedRelu, p, "thresholded_relu(theta=0.5)"});
  return cases;
}

// ---- inputs --------------------------------------------------------------------------------

constexpr int64_t kMaxN = (int64_t{1} << 20) + 3;

template <class T>
T from_ld(long double v) {
  return cuact_test::round_to<T>(v);
}

//! Saved tensor (x, or y for y-based) values: every 16-bit pattern, a float32 bit-pattern sweep,
//! or a float64 mix; the first 32 elements are specials.
template <class T>
std::vector<T> make_saved_values(int64_t n, uint64_t seed) {
  std::vector<T> v(n);
  const long double specials[] = {
      0.0L,   -0.0L,      1.0L,      -1.0L,  2.5L,     -2.5L,     3.0L,  -3.0L,
      6.0L,   -6.0L,      0.5L,      -1.5L,  1e-3L,    -1e-3L,    20.0L, -20.0L,
      88.0L,  -88.0L,     1e30L,     -1e30L, INFINITY, -INFINITY, NAN,   0.75L,
      -0.75L, 1.0000001L, -0.99999L, 7.0L,   1e-40L,   -1e-40L,   40.0L, -40.0L};
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (kIs16Bit<T>) {
      v[i] = cuact_test::from_bits16<T>(static_cast<uint16_t>(i));
    } else if constexpr (std::is_same_v<T, float>) {
      uint32_t b = static_cast<uint32_t>(i) * 4096u + static_cast<uint32_t>(i % 4093);
      std::memcpy(&v[i], &b, 4);
    } else {
      const double mag = std::ldexp(1.0, static_cast<int>(rng() % 200) - 100) *
                         std::uniform_real_distribution<double>(1.0, 2.0)(rng);
      v[i] = (i % 3 == 0) ? std::uniform_real_distribution<double>(-12.0, 12.0)(rng)
                          : ((rng() & 1) ? mag : -mag);
    }
  }
  for (int64_t i = 0; i < n && i < 32; ++i)
    v[i] = from_ld<T>(specials[i]);
  return v;
}

//! What backward gets as `saved`: x itself, or for Saved::kOutput a real forward output
//! y = f(x) (correctly rounded), since a y outside f's range never reaches a backward pass.
template <class T>
std::vector<T> saved_for(const OpCase& c, Direction dir, const std::vector<T>& x) {
  if (dir != Direction::kBackwardFromOutput) return x;
  std::vector<T> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    y[i] = cuact_test::round_to<T>(cuact_ref::forward(c.op, to_ld(x[i]), c.params));
  }
  return y;
}

//! Upstream gradient: exactly 1 on the first quarter (an exact check of f'), then values in
//! [-4, 4).
template <class T>
std::vector<T> make_dy(int64_t n, uint64_t seed) {
  std::vector<T> v(n);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(-4.0, 4.0);
  for (int64_t i = 0; i < n; ++i)
    v[i] = from_ld<T>(i < n / 4 ? 1.0L : dist(rng));
  return v;
}

// ---- expected values -----------------------------------------------------------------------

struct Expected {
  std::vector<long double> value;  //!< exact result
  std::vector<long double> scale;  //!< float64 f' near its zero: magnitude of the cancelling terms
  std::vector<long double> ulp;    //!< ulp of the storage type at the exact result
  std::vector<uint16_t> rounded;   //!< 16-bit: bits of the correctly rounded result
};

template <class T>
Expected expected_values(const OpCase& c, Direction dir, const std::vector<T>& saved,
                         const std::vector<T>& dy) {
  Expected e;
  e.value.resize(saved.size());
  const bool mixed =
      std::is_same_v<T, double> && dir == Direction::kBackwardFromInput &&
      (c.op == Op::kGelu || c.op == Op::kGeluTanh || c.op == Op::kSilu || c.op == Op::kMish);
  if (mixed) e.scale.resize(saved.size());
  e.ulp.resize(saved.size());
  for (size_t i = 0; i < saved.size(); ++i) {
    const long double s = to_ld(saved[i]);
    switch (dir) {
      case Direction::kForward: e.value[i] = cuact_ref::forward(c.op, s, c.params); break;
      case Direction::kBackwardFromInput:
        e.value[i] = to_ld(dy[i]) * cuact_ref::derivative(c.op, s, c.params);
        if (mixed) {
          e.scale[i] =
              std::fabs(to_ld(dy[i])) * cuact_ref::derivative_term_scale(c.op, s, c.params);
        }
        break;
      case Direction::kBackwardFromOutput:
        e.value[i] = to_ld(dy[i]) * cuact_ref::derivative_from_output(c.op, s, c.params);
        break;
    }
    e.ulp[i] = cuact_test::ulp_of<T>(e.value[i]);
    if constexpr (kIs16Bit<T>)
      e.rounded.push_back(cuact_test::bits16(cuact_test::round_to<T>(e.value[i])));
  }
  return e;
}

// ---- device buffers with poisoned guards ---------------------------------------------------

constexpr int64_t kGuard = 64;  // elements on each side
constexpr unsigned char kPoison = 0x5A;

template <class T>
struct GuardedBuffer {
  T* base = nullptr;  // kGuard + 3 (max offset) + kMaxN + kGuard elements
  int64_t capacity = 0;
  explicit GuardedBuffer(int64_t n) : capacity(2 * kGuard + 3 + n) {
    if (cudaMalloc(&base, capacity * sizeof(T)) != cudaSuccess) base = nullptr;
  }
  ~GuardedBuffer() { cudaFree(base); }
  T* at(int offset) const { return base + kGuard + offset; }
  void poison() const { cudaMemset(base, kPoison, capacity * sizeof(T)); }
  //! Elements [0, kGuard + offset + n + kGuard): the tensor and both guards, nothing more.
  std::vector<T> download(int offset, int64_t n) const {
    std::vector<T> h(2 * kGuard + offset + n);
    cudaMemcpy(h.data(), base, h.size() * sizeof(T), cudaMemcpyDeviceToHost);
    return h;
  }
};

//! The guard bytes on both sides of [offset, offset + n) must be the poison pattern.
template <class T>
::testing::AssertionResult guards_intact(const std::vector<T>& host, int offset, int64_t n) {
  const unsigned char* bytes = reinterpret_cast<const unsigned char*>(host.data());
  const int64_t lo = (kGuard + offset) * sizeof(T);
  const int64_t hi = (kGuard + offset + n) * sizeof(T);
  for (int64_t b = 0; b < static_cast<int64_t>(host.size() * sizeof(T)); ++b) {
    if (b == lo) b = hi;  // skip the tensor itself
    if (b < static_cast<int64_t>(host.size() * sizeof(T)) && bytes[b] != kPoison) {
      return ::testing::AssertionFailure()
             << "guard byte " << b - lo << " relative to the output start was overwritten";
    }
  }
  return ::testing::AssertionSuccess();
}

struct Layout {
  int in_offset;
  int out_offset;
  bool in_place;
};
constexpr Layout kLayouts[] = {{0, 0, false}, {1, 1, false}, {3, 3, false},
                               {1, 0, false}, {0, 3, false}, {3, 1, false},
                               {0, 0, true},  {1, 1, true},  {3, 3, true}};

// ---- accuracy bookkeeping ------------------------------------------------------------------

template <class T>
struct Checker {
  long double max_error = 0;
  int64_t checked = 0;
  int64_t exact = 0;
  int64_t exact_region_checked = 0;  // dy == 1 part: the correctly-rounded statistic
  int64_t exact_region_exact = 0;
  std::ostringstream first_mismatches;
  int mismatches = 0;

  // 16-bit: within 1 ulp; float/double: within 2 ulp (float64 f' near its zero: mixed bound).
  static constexpr long double kBound = kIs16Bit<T> ? 1.0L : 2.0L;

  void check(int64_t i, T input, T got, long double ref, const Expected& e, bool exact_region) {
    long double err;
    const long double g = to_ld(got);
    if constexpr (!kIs16Bit<T>) {
      // Fast path for finite values: |got - ref| in ulps of T at ref (precomputed).
      err = (std::isfinite(g) && std::isfinite(ref)) ? std::fabs(g - ref) / e.ulp[i]
                                                     : ulp_error(got, ref);
    } else {
      // Fast path for finite values: distance to the precomputed correctly rounded pattern.
      const uint16_t want = e.rounded[i];
      err = (std::isfinite(g) && std::isfinite(to_ld(cuact_test::from_bits16<T>(want))))
                ? std::abs(cuact_test::ordinal16(cuact_test::bits16(got)) -
                           cuact_test::ordinal16(want))
                : ulp_error(got, ref);
    }
    if (!e.scale.empty() && err > kBound) {
      const long double mixed =
          std::fabs(to_ld(got) - ref) / cuact_test::ulp_of<T>(std::max(std::fabs(ref), e.scale[i]));
      err = std::min(err, mixed);
    }
    ++checked;
    if (err == 0) ++exact;
    if (exact_region && !std::isnan(ref)) {
      ++exact_region_checked;
      if (err == 0) ++exact_region_exact;
    }
    max_error = std::max(max_error, err);
    if (err > kBound && mismatches++ < 10) {
      char line[256];
      std::snprintf(line, sizeof line,
                    "  [%lld] input %.9Lg  got %.9Lg  expected %.9Lg  (%.3Lg ulp)\n",
                    static_cast<long long>(i), to_ld(input), to_ld(got), ref, err);
      first_mismatches << line;
    }
  }
};

// ---- the fixture ---------------------------------------------------------------------------

using cuact::detail::ElementwiseLoads;

const char* loads_name(ElementwiseLoads l) {
  switch (l) {
    case ElementwiseLoads::kDevice: return "device";
    case ElementwiseLoads::kVector: return "vector";
    case ElementwiseLoads::kStaged: return "staged";
  }
  return "?";
}

template <class T>
class ActivationGpu : public ::testing::Test {
 protected:
  void SetUp() override { CUACT_SKIP_WITHOUT_GPU(); }

  // Runs one (op case, direction) through every size and layout.
  // `loads`: the kernels' way in (host/elementwise_by_loads.hpp); kDevice is cuact::forward's.
  void sweep(const OpCase& c, Direction dir, const std::vector<int64_t>& sizes,
             const Layout* layouts, int num_layouts,
             ElementwiseLoads loads = ElementwiseLoads::kDevice) {
    const int64_t max_n = *std::max_element(sizes.begin(), sizes.end());
    const std::vector<T> saved = saved_for(c, dir, make_saved_values<T>(max_n, 17));
    const std::vector<T> dy = make_dy<T>(max_n, 29);
    const Expected e = expected_values(c, dir, saved, dy);
    GuardedBuffer<T> a(max_n), s(max_n), out(max_n);
    ASSERT_TRUE(a.base && s.base && out.base) << "cudaMalloc failed";
    const std::vector<T>& first_input = dir == Direction::kForward ? saved : dy;
    Checker<T> checker;
    for (int64_t n : sizes) {
      for (int li = 0; li < num_layouts; ++li) {
        const Layout& l = layouts[li];
        a.poison();
        s.poison();
        out.poison();
        CUDA_OK(cudaMemcpy(a.at(l.in_offset), first_input.data(), n * sizeof(T),
                           cudaMemcpyHostToDevice));
        CUDA_OK(cudaMemcpy(s.at(l.in_offset), saved.data(), n * sizeof(T), cudaMemcpyHostToDevice));
        T* result = l.in_place ? a.at(l.in_offset) : out.at(l.out_offset);
        Status st;
        if (dir == Direction::kForward) {
          st = cuact::detail::forward_with_loads(loads, c.op, dtype_of<T>(), a.at(l.in_offset),
                                                 result, n, c.params, nullptr);
        } else {
          st = cuact::detail::backward_with_loads(
              loads, c.op, dtype_of<T>(), a.at(l.in_offset), s.at(l.in_offset),
              dir == Direction::kBackwardFromInput ? Saved::kInput : Saved::kOutput, result, n,
              c.params, nullptr);
        }
        ASSERT_EQ(st, Status::kSuccess) << cuact::last_error_detail();
        CUDA_OK(cudaDeviceSynchronize());
        const int result_offset = l.in_place ? l.in_offset : l.out_offset;
        const std::vector<T> host =
            l.in_place ? a.download(result_offset, n) : out.download(result_offset, n);
        ASSERT_TRUE(guards_intact(host, result_offset, n))
            << c.label << " " << direction_name(dir) << " n=" << n << " layout " << li;
        if (!l.in_place) {
          const std::vector<T> input_after = a.download(l.in_offset, n);
          ASSERT_EQ(std::memcmp(input_after.data() + kGuard + l.in_offset, first_input.data(),
                                n * sizeof(T)),
                    0)
              << "the input was modified by an out-of-place call";
        }
        for (int64_t i = 0; i < n; ++i) {
          checker.check(i, saved[i], host[kGuard + result_offset + i], e.value[i], e,
                        dir == Direction::kForward || i < max_n / 4);
        }
      }
    }
    const double exact_fraction =
        checker.exact_region_checked
            ? double(checker.exact_region_exact) / checker.exact_region_checked
            : 1.0;
    std::printf("  %-40s %-12s %-9s %-6s max %.3Lg ulp, correctly rounded %.4f%%\n",
                c.label.c_str(), direction_name(dir), cuact::dtype_name(dtype_of<T>()),
                loads_name(loads), checker.max_error, 100.0 * exact_fraction);
    EXPECT_LE(checker.max_error, Checker<T>::kBound)
        << c.label << " " << direction_name(dir) << " " << cuact::dtype_name(dtype_of<T>())
        << ": first mismatches\n"
        << checker.first_mismatches.str();
    if constexpr (kIs16Bit<T>) {
      EXPECT_GE(exact_fraction, 0.999)
          << c.label << " " << direction_name(dir) << ": fewer than 99.9% correctly rounded";
    }
  }

  std::vector<Direction> directions(const OpCase& c) {
    std::vector<Direction> d = {Direction::kForward, Direction::kBackwardFromInput};
    if (cuact::has_output_derivative(c.op, c.params)) d.push_back(Direction::kBackwardFromOutput);
    return d;
  }
};

using DTypes = ::testing::Types<float, __half, __nv_bfloat16, double>;
struct DTypeNames {
  template <class T>
  static std::string GetName(int) {
    return cuact::dtype_name(dtype_of<T>());
  }
};
TYPED_TEST_SUITE(ActivationGpu, DTypes, DTypeNames);

TYPED_TEST(ActivationGpu, SweepAgainstReference) {
  const std::vector<int64_t> sizes = {1, 7, 65, 4097, kMaxN};
  for (const OpCase& c : op_cases()) {
    for (Direction d : this->directions(c)) {
      this->sweep(c, d, sizes, kLayouts, static_cast<int>(std::size(kLayouts)));
      if (this->HasFatalFailure()) return;
    }
  }
}

// The harness itself, on the CPU (runs everywhere): the same inputs, expected values and checker,
// applied to results computed on the host through the library's element path
// (cuact/precision.cuh). A harness bug then shows up in CI, not in a scarce GPU session.
template <class T>
class ActivationGpuHarness : public ::testing::Test {};
TYPED_TEST_SUITE(ActivationGpuHarness, DTypes, DTypeNames);

template <class F, class T>
T host_element(const F& f, Direction dir, T dy, T saved) {
  switch (dir) {
    case Direction::kForward: return cuact::apply_forward(f, saved);
    case Direction::kBackwardFromInput: return cuact::apply_backward<Saved::kInput>(f, dy, saved);
    case Direction::kBackwardFromOutput:
      if constexpr (F::kHasOutputDerivative) {
        return cuact::apply_backward<Saved::kOutput>(f, dy, saved);
      }
  }
  return saved;
}

template <class T>
T host_result(const OpCase& c, Direction dir, T dy, T saved) {
  switch (c.op) {
#define CUACT_HARNESS_CASE(e, F, name) \
  case Op::e: return host_element(F(c.params), dir, dy, saved);
    CUACT_FOR_EACH_OP(CUACT_HARNESS_CASE)
#undef CUACT_HARNESS_CASE
  }
  return saved;
}

TYPED_TEST(ActivationGpuHarness, AcceptsHostEmulatedResults) {
  using T = TypeParam;
  const int64_t n = 65536 + 3;  // every 16-bit pattern
  const std::vector<T> xs = make_saved_values<T>(n, 17);
  const std::vector<T> dy = make_dy<T>(n, 29);
  for (const OpCase& c : op_cases()) {
    std::vector<Direction> dirs = {Direction::kForward, Direction::kBackwardFromInput};
    if (cuact::has_output_derivative(c.op, c.params))
      dirs.push_back(Direction::kBackwardFromOutput);
    for (Direction d : dirs) {
      const std::vector<T> saved = saved_for(c, d, xs);
      const Expected e = expected_values(c, d, saved, dy);
      Checker<T> checker;
      for (int64_t i = 0; i < n; ++i) {
        checker.check(i, saved[i], host_result(c, d, dy[i], saved[i]), e.value[i], e,
                      d == Direction::kForward || i < n / 4);
      }
      EXPECT_LE(checker.max_error, Checker<T>::kBound)
          << c.label << " " << direction_name(d) << "\n"
          << checker.first_mismatches.str();
      if constexpr (kIs16Bit<T>) {
        const double exact = double(checker.exact_region_exact) / checker.exact_region_checked;
        EXPECT_GE(exact, 0.999) << c.label << " " << direction_name(d);
      }
    }
  }
}

// The other way in than the device's default (on sm_90 the default is staged: this is the
// vector path; before sm_90 both are), over the same layouts and sizes up to 100003 (13 tiles of
// bfloat16, 25 of float32: the sweep's CPU reference for 2^20 + 3 would double the suite's time;
// ElementCountBeyond2To31 covers the vector path's grid-stride loop).
TYPED_TEST(ActivationGpu, SweepVectorLoadsAgainstReference) {
  const std::vector<int64_t> sizes = {1, 7, 65, 4097, 100003};
  for (const OpCase& c : op_cases()) {
    for (Direction d : this->directions(c)) {
      this->sweep(c, d, sizes, kLayouts, static_cast<int>(std::size(kLayouts)),
                  ElementwiseLoads::kVector);
      if (this->HasFatalFailure()) return;
    }
  }
}

// A fast subset that still reaches every kernel instantiation, both ways in, and the scalar-edge,
// aligned and realigned paths: what scripts/gpu-check.sh runs under compute-sanitizer.
TYPED_TEST(ActivationGpu, SmokeEveryKernel) {
  const std::vector<int64_t> sizes = {4097};
  const Layout layouts[] = {{1, 0, false}, {3, 3, true}};
  for (int i = 0; i < cuact::kNumOps; ++i) {
    const OpCase c{static_cast<Op>(i), ActParams{}, cuact::op_name(static_cast<Op>(i))};
    for (Direction d : this->directions(c)) {
      for (ElementwiseLoads loads : {ElementwiseLoads::kStaged, ElementwiseLoads::kVector}) {
        this->sweep(c, d, sizes, layouts, 2, loads);
        if (this->HasFatalFailure()) return;
      }
    }
  }
}

// ---- streams, graphs, errors, large n --------------------------------------------------------

class ActivationGpuRuntime : public ::testing::Test {
 protected:
  void SetUp() override { CUACT_SKIP_WITHOUT_GPU(); }
};

TEST_F(ActivationGpuRuntime, NonDefaultStreamAndGraphCaptureReplay) {
  const int64_t n = 100003;
  std::vector<__nv_bfloat16> x = make_saved_values<__nv_bfloat16>(n, 5);
  std::vector<__nv_bfloat16> dy = make_dy<__nv_bfloat16>(n, 7);
  __nv_bfloat16 *dx_ = nullptr, *ddy = nullptr, *dy_out = nullptr, *ddx = nullptr;
  CUDA_OK(cudaMalloc(&dx_, n * 2));
  CUDA_OK(cudaMalloc(&ddy, n * 2));
  CUDA_OK(cudaMalloc(&dy_out, n * 2));
  CUDA_OK(cudaMalloc(&ddx, n * 2));
  CUDA_OK(cudaMemcpy(dx_, x.data(), n * 2, cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemcpy(ddy, dy.data(), n * 2, cudaMemcpyHostToDevice));
  cudaStream_t stream;
  CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  const ActParams p;

  // Eager on the stream.
  ASSERT_EQ(cuact::forward(Op::kMish, dx_, dy_out, n, p, stream), Status::kSuccess);
  ASSERT_EQ(cuact::backward(Op::kMish, ddy, dx_, Saved::kInput, ddx, n, p, stream),
            Status::kSuccess);
  CUDA_OK(cudaStreamSynchronize(stream));
  std::vector<__nv_bfloat16> eager_y(n), eager_dx(n);
  CUDA_OK(cudaMemcpy(eager_y.data(), dy_out, n * 2, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(eager_dx.data(), ddx, n * 2, cudaMemcpyDeviceToHost));
  for (int64_t i = 0; i < n; i += 97) {
    ASSERT_LE(ulp_error(eager_y[i], cuact_ref::forward(Op::kMish, to_ld(x[i]), p)), 1) << i;
  }

  // Captured into a graph, replayed twice.
  CUDA_OK(cudaMemset(dy_out, 0, n * 2));
  CUDA_OK(cudaMemset(ddx, 0, n * 2));
  cudaGraph_t graph;
  CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  const Status f = cuact::forward(Op::kMish, dx_, dy_out, n, p, stream);
  const Status b = cuact::backward(Op::kMish, ddy, dx_, Saved::kInput, ddx, n, p, stream);
  CUDA_OK(cudaStreamEndCapture(stream, &graph));
  ASSERT_EQ(f, Status::kSuccess) << cuact::last_error_detail();
  ASSERT_EQ(b, Status::kSuccess) << cuact::last_error_detail();
  cudaGraphExec_t exec;
  CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
  for (int replay = 0; replay < 2; ++replay) {
    CUDA_OK(cudaGraphLaunch(exec, stream));
    CUDA_OK(cudaStreamSynchronize(stream));
    std::vector<__nv_bfloat16> gy(n), gdx(n);
    CUDA_OK(cudaMemcpy(gy.data(), dy_out, n * 2, cudaMemcpyDeviceToHost));
    CUDA_OK(cudaMemcpy(gdx.data(), ddx, n * 2, cudaMemcpyDeviceToHost));
    EXPECT_EQ(std::memcmp(gy.data(), eager_y.data(), n * 2), 0) << "replay " << replay;
    EXPECT_EQ(std::memcmp(gdx.data(), eager_dx.data(), n * 2), 0) << "replay " << replay;
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
  cudaFree(dx_);
  cudaFree(ddy);
  cudaFree(dy_out);
  cudaFree(ddx);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

TEST_F(ActivationGpuRuntime, InvalidArgumentsLeaveTheErrorStateClean) {
  float* d = nullptr;
  CUDA_OK(cudaMalloc(&d, 64 * sizeof(float)));
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  const ActParams p;
  EXPECT_EQ(cuact::forward(Op::kRelu, d, d + 1, 8, p, nullptr), Status::kErrorPartialOverlap);
  EXPECT_EQ(cuact::forward(Op::kRelu, static_cast<const float*>(nullptr), d, 8, p, nullptr),
            Status::kErrorNullPointer);
  EXPECT_EQ(cuact::backward(Op::kGelu, d, d, Saved::kOutput, d + 32, 8, p, nullptr),
            Status::kErrorGradientNeedsInput);
  EXPECT_EQ(cuact::forward(Op::kRelu, d, d + 32, -1, p, nullptr), Status::kErrorNegativeSize);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  cudaFree(d);
}

TEST_F(ActivationGpuRuntime, ElementCountBeyond2To31) {
  const int64_t n = (int64_t{1} << 31) + 37;  // 64-bit indexing; bf16: 4 GiB per tensor
  size_t free_bytes = 0, total = 0;
  CUDA_OK(cudaMemGetInfo(&free_bytes, &total));
  if (free_bytes < static_cast<size_t>(2 * n * 2 + (int64_t{1} << 30))) {
    GTEST_SKIP() << "needs 9 GiB of free device memory";
  }
  __nv_bfloat16 *x = nullptr, *y = nullptr;
  CUDA_OK(cudaMalloc(&x, n * 2));
  CUDA_OK(cudaMalloc(&y, n * 2));
  CUDA_OK(cudaMemset(x, 0xC0, n * 2));  // every element 0xC0C0 = -6.0234375
  CUDA_OK(cudaMemset(y, kPoison, n * 2));
  // 2^28 vectors: the staged path (the default on sm_90) launches 2^18 blocks; the vector path
  // has more tiles than its one-pass grid holds, so every block loops over several. Every
  // element is checked, both ways in.
  const __nv_bfloat16 expected = cuact_test::round_to<__nv_bfloat16>(
      0.3L * to_ld(cuact_test::from_bits16<__nv_bfloat16>(0xC0C0)));
  const uint16_t want = cuact_test::bits16(expected);
  std::vector<uint16_t> chunk(int64_t{1} << 27);
  for (ElementwiseLoads loads : {ElementwiseLoads::kDevice, ElementwiseLoads::kVector}) {
    CUDA_OK(cudaMemset(y, kPoison, n * 2));
    ASSERT_EQ(cuact::detail::forward_with_loads(loads, Op::kLeakyRelu, DType::kBFloat16, x, y, n,
                                                ActParams{}, nullptr),
              Status::kSuccess);
    CUDA_OK(cudaDeviceSynchronize());
    int64_t wrong = 0, first_wrong = -1;
    for (int64_t begin = 0; begin < n; begin += static_cast<int64_t>(chunk.size())) {
      const int64_t count = std::min<int64_t>(static_cast<int64_t>(chunk.size()), n - begin);
      CUDA_OK(cudaMemcpy(chunk.data(), y + begin, count * 2, cudaMemcpyDeviceToHost));
      for (int64_t i = 0; i < count; ++i) {
        if (chunk[i] != want && wrong++ == 0) first_wrong = begin + i;
      }
    }
    EXPECT_EQ(wrong, 0) << loads_name(loads) << ": elements wrong, the first at " << first_wrong;
  }
  cudaFree(x);
  cudaFree(y);
}

}  // namespace
