// SPDX-License-Identifier: Apache-2.0
// cuact-bench: bandwidth of every cuact activation and of softmax / log_softmax, forward and
// backward, against the copy roof measured in the same run, with cub::DeviceTransform running the
// same activation functors as a reference.
//
//   cuact-bench                      every case (a minute or two on an H100/H200)
//   cuact-bench --quick              smoke test: n = 2^24, fewer sizes, 10 iterations
//   cuact-bench --filter gelu/bfloat16 --json out.json
//   cuact-bench --softmax-only       softmax and log_softmax cases only
//   cuact-bench --list               case names (no GPU needed)
//
// Method (shared/research/perf-anchors.md, "How to measure fairly"):
//  - bytes are the compulsory ones: forward 2*n*size (read x, write y), backward 3*n*size (read
//    dy, read x or y, write dx; softmax: read y, read dy, write dx); GB are decimal.
//  - the roof is the better of cudaMemcpyAsync and a 16-byte-vector copy kernel over a tensor of
//    the same byte count, measured in this run on this card; a row's % is against that roof.
//  - each launch is timed alone with a pair of CUDA events after >= 5 warm-up launches; we report
//    the median (p10/p90 in the JSON). Main cases move >= 1 GiB per call, far above the 50 MB L2.
//  - inputs are values in [-8, 8) from a hash of the index (never zeros), so transcendental ops
//    take their real branches; dy is in [-1, 1); a saved y is a real forward output.
//  - few-row softmax cases are latency cases: besides the %, each has a target of
//    bytes / (copy roof of a 1 GiB tensor) + 5 us, the DRAM time plus a fixed allowance.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include "cuact/activation.hpp"
#include "cuact/softmax.hpp"
#include "cub_reference.cuh"
#include "host/elementwise_by_loads.hpp"
#include "host/softmax_by_plan.hpp"

#ifndef CUACT_GIT_COMMIT
#define CUACT_GIT_COMMIT "unknown"
#endif

using cuact::DType;
using cuact::Op;
using cuact::SoftmaxKind;
using cuact::SoftmaxShape;
using cuact::detail::ElementwiseLoads;

// ---------------------------------------------------------------------------------------------
// Error checking: every failure names the call and exits; a benchmark that keeps going after an
// error reports numbers for work that never ran.
// ---------------------------------------------------------------------------------------------

constexpr int kExitFailure = 1;
constexpr int kExitNoDevice = 2;
constexpr int kExitUsage = 64;  // sysexits.h EX_USAGE

static void cuda_check(cudaError_t err, const char* what, const char* file, int line) {
  if (err == cudaSuccess) return;
  std::fprintf(stderr, "cuact-bench: %s:%d: %s failed: %s (%s)\n", file, line, what,
               cudaGetErrorString(err), cudaGetErrorName(err));
  std::exit(kExitFailure);
}
#define CUDA_CHECK(call) cuda_check((call), #call, __FILE__, __LINE__)

static void cuact_check(cuact::Status s, const char* what, const std::string& case_name) {
  if (s == cuact::Status::kSuccess) return;
  std::fprintf(stderr, "cuact-bench: %s failed in case %s: %s (%s)\n", what, case_name.c_str(),
               cuact::status_string(s), cuact::last_error_detail());
  std::exit(kExitFailure);
}

[[noreturn]] static void usage_error(const std::string& msg) {
  std::fprintf(stderr, "cuact-bench: %s (try --help)\n", msg.c_str());
  std::exit(kExitUsage);
}

// ---------------------------------------------------------------------------------------------
// Dtypes
// ---------------------------------------------------------------------------------------------

constexpr DType kAllDTypes[] = {DType::kFloat32, DType::kFloat16, DType::kBFloat16,
                                DType::kFloat64};

static size_t dtype_size(DType d) {
  switch (d) {
    case DType::kFloat32: return 4;
    case DType::kFloat16: return 2;
    case DType::kBFloat16: return 2;
    case DType::kFloat64: return 8;
  }
  return 0;
}

static bool parse_dtype(const std::string& s, DType* out) {
  struct Alias {
    const char* name;
    DType d;
  };
  static const Alias kAliases[] = {
      {"float32", DType::kFloat32},   {"fp32", DType::kFloat32},  {"f32", DType::kFloat32},
      {"float16", DType::kFloat16},   {"fp16", DType::kFloat16},  {"half", DType::kFloat16},
      {"bfloat16", DType::kBFloat16}, {"bf16", DType::kBFloat16}, {"float64", DType::kFloat64},
      {"fp64", DType::kFloat64},      {"double", DType::kFloat64}};
  for (const Alias& a : kAliases) {
    if (s == a.name) {
      *out = a.d;
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Device kernels the bench needs besides the library: input fill, the copy roof, a spin.
// ---------------------------------------------------------------------------------------------

//! A 32-bit hash of (index, seed): murmur3's 64-bit finaliser, so neighbouring indices get
//! unrelated values and every branch of a piecewise op is taken within each warp.
__device__ __forceinline__ uint32_t hash_index(uint64_t i, uint32_t seed) {
  uint64_t h = i * 0x9E3779B97F4A7C15ull + seed;
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 33;
  return static_cast<uint32_t>(h);
}

__device__ __forceinline__ void store_value(float v, float* p) {
  *p = v;
}
__device__ __forceinline__ void store_value(float v, double* p) {
  *p = v;
}
__device__ __forceinline__ void store_value(float v, __half* p) {
  *p = __float2half_rn(v);
}
__device__ __forceinline__ void store_value(float v, __nv_bfloat16* p) {
  *p = __float2bfloat16_rn(v);
}

//! p[i] = lo + width * u(i), u uniform in [0, 1) with 24 bits (exact in float).
template <class T>
__global__ void fill_uniform(T* p, int64_t n, float lo, float width, uint32_t seed) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float u = float(hash_index(uint64_t(i), seed) >> 8) * (1.0f / 16777216.0f);
    store_value(fmaf(width, u, lo), p + i);
  }
}

// One pass, 4 x 16-byte vectors per thread, all loads issued before any store: the shape that
// ran closest to cudaMemcpy on an H200 (perf-anchors: a grid-stride loop lost ~5%).
constexpr int kCopyThreads = 256;
constexpr int kCopyVecsPerThread = 4;

__global__ void __launch_bounds__(kCopyThreads)
    copy_vec16(const uint4* __restrict__ src, uint4* __restrict__ dst, int64_t nvec) {
  const int64_t base = int64_t(blockIdx.x) * (kCopyThreads * kCopyVecsPerThread) + threadIdx.x;
  uint4 v[kCopyVecsPerThread];
#pragma unroll
  for (int k = 0; k < kCopyVecsPerThread; ++k) {
    const int64_t i = base + int64_t(k) * kCopyThreads;
    if (i < nvec) v[k] = src[i];
  }
#pragma unroll
  for (int k = 0; k < kCopyVecsPerThread; ++k) {
    const int64_t i = base + int64_t(k) * kCopyThreads;
    if (i < nvec) dst[i] = v[k];
  }
}

//! Holds the GPU for `ns` nanoseconds (see time_launches for why).
__global__ void spin(uint64_t ns) {
  uint64_t t0, t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  } while (t - t0 < ns);
}

// ---------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------

struct Timing {
  double median_us = 0, p10_us = 0, p90_us = 0;
};

//! Linear interpolation between order statistics of a sorted sample.
static double percentile(const std::vector<double>& sorted, double q) {
  const double pos = q * double(sorted.size() - 1);
  const size_t i = size_t(pos);
  if (i + 1 >= sorted.size()) return sorted.back();
  const double f = pos - double(i);
  return sorted[i] * (1.0 - f) + sorted[i + 1] * f;
}

struct Bench {
  cudaStream_t stream = nullptr;
  int warmup = 5;
  int iters = 30;
  int sm_count = 0;
  std::vector<cudaEvent_t> start, stop;  // one pair per timed launch, created once
};

//! Times `launch` alone, `b.iters` times, after `b.warmup` untimed launches.
//! A spin kernel holds the GPU first so the host queues every timed launch before the first
//! starts: the events then bracket the kernel on the device, not the host's launch gaps, which
//! would otherwise dominate the small sizes of the sweep.
template <class Launch>
static Timing time_launches(Bench& b, Launch&& launch) {
  for (int i = 0; i < b.warmup; ++i)
    launch();
  const uint64_t spin_ns = std::min<uint64_t>(500000 + 20000ull * b.iters, 50000000);
  spin<<<1, 1, 0, b.stream>>>(spin_ns);
  CUDA_CHECK(cudaGetLastError());
  for (int i = 0; i < b.iters; ++i) {
    CUDA_CHECK(cudaEventRecord(b.start[i], b.stream));
    launch();
    CUDA_CHECK(cudaEventRecord(b.stop[i], b.stream));
  }
  CUDA_CHECK(cudaStreamSynchronize(b.stream));
  CUDA_CHECK(cudaGetLastError());
  std::vector<double> us(b.iters);
  for (int i = 0; i < b.iters; ++i) {
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, b.start[i], b.stop[i]));
    us[i] = 1000.0 * ms;
  }
  std::sort(us.begin(), us.end());
  return {percentile(us, 0.5), percentile(us, 0.1), percentile(us, 0.9)};
}

static double gb_per_s(double bytes, double us) {
  return bytes / (us * 1e-6) / 1e9;
}

// ---------------------------------------------------------------------------------------------
// Copy roof: one per tensor byte count that the selected cases use.
// ---------------------------------------------------------------------------------------------

struct Roof {
  size_t tensor_bytes = 0;
  Timing memcpy_t, kernel_t;
  double memcpy_gbs = 0, kernel_gbs = 0;
  double gbs() const { return std::max(memcpy_gbs, kernel_gbs); }
  const char* source() const { return kernel_gbs > memcpy_gbs ? "kernel" : "memcpy"; }
};

static Roof measure_roof(Bench& b, const void* src, void* dst, size_t bytes) {
  Roof r;
  r.tensor_bytes = bytes;
  r.memcpy_t = time_launches(
      b, [&] { CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, b.stream)); });
  // The kernel copies whole 16-byte vectors only. Softmax shapes such as 5341 x 50257 leave a
  // tail of a few bytes; the kernel's GB/s counts only what it copied (a negligible change on
  // those 0.5-1 GiB tensors), which keeps the copy kernel free of a scalar tail.
  const int64_t nvec = int64_t(bytes / sizeof(uint4));
  const double kernel_bytes = double(nvec) * double(sizeof(uint4));
  const int64_t per_block = kCopyThreads * kCopyVecsPerThread;
  const unsigned blocks = unsigned((nvec + per_block - 1) / per_block);
  r.kernel_t = time_launches(b, [&] {
    copy_vec16<<<blocks, kCopyThreads, 0, b.stream>>>(static_cast<const uint4*>(src),
                                                      static_cast<uint4*>(dst), nvec);
    CUDA_CHECK(cudaGetLastError());
  });
  r.memcpy_gbs = gb_per_s(2.0 * double(bytes), r.memcpy_t.median_us);
  r.kernel_gbs = gb_per_s(2.0 * kernel_bytes, r.kernel_t.median_us);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

// kMisaligned: activation cases whose inputs sit one element past a 16-byte boundary while the
// output is aligned, so every load is realigned in registers (the kernels' slowest layout).
// kVector: the same kernels as kAct with the 16-byte vector loads forced (on sm_90 kAct stages
// its inputs by bulk copy; host/elementwise_by_loads.hpp), to compare the two ways in.
enum class Group { kAct, kVector, kCub, kSweep, kMisaligned, kSoftmax };
// Softmax backward always takes the saved output y, so it needs no x/y distinction.
enum class Dir { kForward, kBackwardX, kBackwardY, kBackward };
// Which softmax shapes a case stands for: rows over the last axis, a middle axis, or few long
// rows (latency cases).
enum class Layout { kNone, kLast, kMiddle, kFewRows };

static const char* group_name(Group g) {
  switch (g) {
    case Group::kAct: return "act";
    case Group::kVector: return "vec";
    case Group::kCub: return "cub";
    case Group::kSweep: return "sweep";
    case Group::kMisaligned: return "misaligned";
    case Group::kSoftmax: return "softmax";
  }
  return "?";
}
static const char* dir_name(Dir d) {
  switch (d) {
    case Dir::kForward: return "fwd";
    case Dir::kBackwardX: return "bwd_x";
    case Dir::kBackwardY: return "bwd_y";
    case Dir::kBackward: return "bwd";
  }
  return "?";
}
static const char* layout_name(Layout l) {
  switch (l) {
    case Layout::kNone: return "none";
    case Layout::kLast: return "last";
    case Layout::kMiddle: return "middle";
    case Layout::kFewRows: return "fewrows";
  }
  return "?";
}
static const char* kind_name(SoftmaxKind k) {
  return k == SoftmaxKind::kSoftmax ? "softmax" : "log_softmax";
}

struct Case {
  std::string name;  // what --filter and --list see; see make_case and make_softmax_case
  Group group;
  Op op;  // activation groups only
  DType dtype;
  Dir dir;
  int64_t n;
  SoftmaxKind kind = SoftmaxKind::kSoftmax;  // softmax group only, as are layout and shape
  Layout layout = Layout::kNone;
  SoftmaxShape shape{};
  int64_t input_offset = 0;  // elements; kMisaligned: x, dy and the saved tensor start 1 in
  size_t tensor_bytes() const { return size_t(n) * dtype_size(dtype); }
  double bytes_moved() const { return double(tensor_bytes()) * (dir == Dir::kForward ? 2.0 : 3.0); }
};

//! The op column of the table and the JSON: the activation, or softmax / log_softmax.
static const char* case_op_name(const Case& c) {
  return c.group == Group::kSoftmax ? kind_name(c.kind) : cuact::op_name(c.op);
}

// Few-row softmax cases get a latency target: bytes at the DRAM copy rate plus a fixed 5 us.
// The rate comes from a 1 GiB copy (far above L2), not from the same-size roof: a copy of a few
// MB is L2-resident and mostly launch latency, which the 5 us already allows for.
constexpr size_t kBandwidthRoofBytes = size_t(1) << 30;
constexpr double kLatencyAllowanceUs = 5.0;

static bool has_latency_target(const Case& c) {
  return c.group == Group::kSoftmax && c.layout == Layout::kFewRows;
}

static double latency_target_us(const Case& c, const Roof& bandwidth_roof) {
  return c.bytes_moved() / (bandwidth_roof.gbs() * 1e3) + kLatencyAllowanceUs;  // GB/s = 1e3 B/us
}

struct Options {
  std::vector<std::string> filters;  // a case runs if its name contains any of them
  std::vector<DType> dtypes;         // empty: all
  std::string json_path;
  int iters = 0;  // 0: the default for the mode
  bool quick = false, list = false, help = false, softmax_only = false;
  bool softmax_tuning = false;
};

static std::string pow2_name(int64_t n) {
  int k = 0;
  while ((int64_t(1) << k) < n)
    ++k;
  return (int64_t(1) << k) == n ? "2^" + std::to_string(k) : std::to_string(n);
}

static Case make_case(Group g, Op op, DType d, Dir dir, int64_t n) {
  std::string name = std::string(group_name(g)) + "/" + cuact::op_name(op) + "/" +
                     cuact::dtype_name(d) + "/" + dir_name(dir);
  if (g == Group::kSweep) name += "/" + pow2_name(n);
  Case c{name, g, op, d, dir, n};
  if (g == Group::kMisaligned) c.input_offset = 1;
  return c;
}

//! Softmax names: kind/layout/dtype/dir/size, where size is cols (last axis), rowsxcols (few
//! rows) or outerxdimxinner (middle axis), e.g. log_softmax/middle/float16/bwd/32x1000x1024.
static Case make_softmax_case(SoftmaxKind k, Layout l, DType d, Dir dir, const SoftmaxShape& s) {
  std::string size;
  switch (l) {
    case Layout::kLast: size = std::to_string(s.dim); break;
    case Layout::kFewRows: size = std::to_string(s.outer) + "x" + std::to_string(s.dim); break;
    default:
      size = std::to_string(s.outer) + "x" + std::to_string(s.dim) + "x" + std::to_string(s.inner);
      break;
  }
  const std::string name = std::string(kind_name(k)) + "/" + layout_name(l) + "/" +
                           cuact::dtype_name(d) + "/" + dir_name(dir) + "/" + size;
  Case c{name, Group::kSoftmax, Op::kLinear, d, dir, s.outer * s.dim * s.inner};
  c.kind = k;
  c.layout = l;
  c.shape = s;
  return c;
}

static bool selected(const Options& o, const Case& c) {
  if (o.softmax_only && c.group != Group::kSoftmax) return false;
  if (!o.dtypes.empty() && std::find(o.dtypes.begin(), o.dtypes.end(), c.dtype) == o.dtypes.end())
    return false;
  if (o.filters.empty()) return true;
  for (const std::string& f : o.filters) {
    if (c.name.find(f) != std::string::npos) return true;
  }
  return false;
}

constexpr SoftmaxKind kSoftmaxKinds[] = {SoftmaxKind::kSoftmax, SoftmaxKind::kLogSoftmax};

//! Every (kind, direction) of one softmax shape; `backward` false for forward-only groups.
static void add_softmax_kinds(Layout l, DType d, const SoftmaxShape& s, bool backward,
                              std::vector<Case>* out) {
  for (SoftmaxKind k : kSoftmaxKinds) {
    out->push_back(make_softmax_case(k, l, d, Dir::kForward, s));
    if (backward) out->push_back(make_softmax_case(k, l, d, Dir::kBackward, s));
  }
}

//! Last axis: rows = floor(total / cols), so every width moves about the same bytes (1 GiB of
//! float32 at 2^28) and the DRAM rate, not the launch, sets the time. The widths cover the
//! warp, block and multi-block tiers and the vocabularies of common models (GPT-2 50257,
//! Llama 32000, Qwen 151936), odd and non-power-of-two included.
static void add_softmax_last(const Options& o, DType d, std::vector<Case>* out) {
  const std::vector<int64_t> widths =
      o.quick ? std::vector<int64_t>{32, 1024, 32768, 1048576}
              : std::vector<int64_t>{32,    100,   128,    512,    1000,   1024,
                                     2048,  4096,  8192,   16384,  32000,  32768,
                                     50257, 65536, 131072, 151936, 262144, 1048576};
  const int64_t total = int64_t(1) << (o.quick ? 24 : 28);
  for (int64_t cols : widths)
    add_softmax_kinds(Layout::kLast, d, SoftmaxShape{total / cols, cols, 1}, true, out);
}

//! Middle axis (outer, dim, inner): a short axis over huge planes, a vocabulary-sized axis over
//! 1024 positions with many and with few planes, and a tiny axis (the issue's four); then an axis
//! too long for one block's column tile over many planes (64 x 4096 x 1024: staged over 4-block
//! clusters forward, 8 backward, on Hopper) and over few (8 x 10000 x 64: few tiles, 8 blocks).
//! --quick divides outer by 16 (at least 1), keeping dim and inner, which decide the kernel, at
//! about 2^24 elements.
static void add_softmax_middle(const Options& o, DType d, std::vector<Case>* out) {
  static const SoftmaxShape kShapes[] = {{64, 16, 262144}, {256, 1000, 1024}, {32, 1000, 1024},
                                         {16, 4, 4194304}, {64, 4096, 1024},  {8, 10000, 64}};
  for (SoftmaxShape s : kShapes) {
    if (o.quick) s.outer = std::max<int64_t>(1, s.outer / 16);
    add_softmax_kinds(Layout::kMiddle, d, s, true, out);
  }
}

//! Few long rows (decoding with a large vocabulary, one row per sequence): too few rows to fill
//! the SMs one row per block, so these measure latency. 132 is the H100 SXM's SM count.
static void add_softmax_fewrows(const Options& o, DType d, std::vector<Case>* out) {
  const std::vector<int64_t> rows =
      o.quick ? std::vector<int64_t>{1, 132} : std::vector<int64_t>{1, 4, 16, 64, 132};
  const std::vector<int64_t> widths = o.quick
                                          ? std::vector<int64_t>{32768, 1048576}
                                          : std::vector<int64_t>{32768, 151936, 262144, 1048576};
  for (int64_t cols : widths) {
    for (int64_t r : rows)
      add_softmax_kinds(Layout::kFewRows, d, SoftmaxShape{r, cols, 1}, false, out);
  }
}

//! Grouped by dtype so the inputs are refilled once per dtype, not once per case.
static void add_softmax_cases(const Options& o, std::vector<Case>* out) {
  for (DType d : {DType::kFloat32, DType::kBFloat16, DType::kFloat16}) {
    add_softmax_last(o, d, out);
    add_softmax_middle(o, d, out);
  }
  for (DType d : {DType::kFloat32, DType::kBFloat16})
    add_softmax_fewrows(o, d, out);
}

//! Main cases at 2^28 (2^27 for float64: the same 1 GiB per tensor as float32), with the CUB
//! reference right after each forward; then the size sweep.
static std::vector<Case> make_cases(const Options& o) {
  const cuact::ActParams params;
  const int main_log2 = o.quick ? 24 : 28;
  std::vector<Case> all;
  for (DType d : kAllDTypes) {
    const int64_t n = int64_t(1) << (d == DType::kFloat64 ? main_log2 - 1 : main_log2);
    for (int i = 0; i < cuact::kNumOps; ++i) {
      const Op op = static_cast<Op>(i);
      for (Group g : {Group::kAct, Group::kVector}) {
        all.push_back(make_case(g, op, d, Dir::kForward, n));
        if (g == Group::kAct) all.push_back(make_case(Group::kCub, op, d, Dir::kForward, n));
        all.push_back(make_case(g, op, d, Dir::kBackwardX, n));
        if (cuact::has_output_derivative(op, params))
          all.push_back(make_case(g, op, d, Dir::kBackwardY, n));
      }
    }
  }
  const Op sweep_ops[] = {Op::kRelu, Op::kGelu, Op::kSilu};
  for (DType d : {DType::kBFloat16, DType::kFloat32}) {
    std::vector<int> log2_sizes;
    for (int k = 10; k <= (o.quick ? 22 : 28); k += o.quick ? 4 : 2)
      log2_sizes.push_back(k);
    if (!o.quick && dtype_size(d) == 2) log2_sizes.push_back(29);  // 1 GiB per 16-bit tensor
    for (Op op : sweep_ops) {
      for (int k : log2_sizes)
        all.push_back(make_case(Group::kSweep, op, d, Dir::kForward, int64_t(1) << k));
    }
  }
  // Misaligned inputs, the same sizes as the main cases (the buffers have room for the shifted
  // views), to compare with act/<op>/<dtype>/<dir> of the same run.
  for (DType d : {DType::kBFloat16, DType::kFloat32}) {
    const int64_t n = int64_t(1) << main_log2;
    for (Op op : sweep_ops) {
      all.push_back(make_case(Group::kMisaligned, op, d, Dir::kForward, n));
      all.push_back(make_case(Group::kMisaligned, op, d, Dir::kBackwardX, n));
    }
  }
  add_softmax_cases(o, &all);
  std::vector<Case> out;
  for (const Case& c : all) {
    if (selected(o, c)) out.push_back(c);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Running a case
// ---------------------------------------------------------------------------------------------

//! Four device buffers, each big enough for the largest selected tensor (and for the 1 GiB
//! bandwidth roof when latency targets are printed).
struct Buffers {
  size_t bytes = 0;
  void* x = nullptr;    // forward input / saved input
  void* dy = nullptr;   // upstream gradient
  void* y = nullptr;    // forward output saved for bwd_y and softmax bwd
  void* out = nullptr;  // what the timed call writes
  DType filled = DType::kFloat32;
  bool has_fill = false;  // x and dy hold values of `filled` over the whole buffer
};

template <class T>
static void fill_typed(const Bench& b, void* p, int64_t n, float lo, float width, uint32_t seed) {
  fill_uniform<T><<<b.sm_count * 8, 256, 0, b.stream>>>(static_cast<T*>(p), n, lo, width, seed);
  CUDA_CHECK(cudaGetLastError());
}

static void fill(const Bench& b, DType d, void* p, int64_t n, float lo, float width,
                 uint32_t seed) {
  switch (d) {
    case DType::kFloat32: return fill_typed<float>(b, p, n, lo, width, seed);
    case DType::kFloat16: return fill_typed<__half>(b, p, n, lo, width, seed);
    case DType::kBFloat16: return fill_typed<__nv_bfloat16>(b, p, n, lo, width, seed);
    case DType::kFloat64: return fill_typed<double>(b, p, n, lo, width, seed);
  }
}

//! x in [-8, 8) (covers every branch and both tails of the smooth ops), dy in [-1, 1). Filled
//! once per dtype over the whole buffer; smaller cases use a prefix.
static void prepare_inputs(const Bench& b, Buffers& buf, DType d) {
  if (buf.has_fill && buf.filled == d) return;
  const int64_t n = int64_t(buf.bytes / dtype_size(d));
  fill(b, d, buf.x, n, -8.0f, 16.0f, 0x1234u);
  fill(b, d, buf.dy, n, -1.0f, 2.0f, 0xBEEFu);
  CUDA_CHECK(cudaStreamSynchronize(b.stream));
  buf.filled = d;
  buf.has_fill = true;
}

//! Softmax forward x -> out, or backward (y, dy) -> out.
static void launch_softmax(const Bench& b, const Buffers& buf, const Case& c) {
  if (c.dir == Dir::kForward) {
    cuact_check(cuact::softmax_forward(c.kind, c.dtype, buf.x, buf.out, c.shape, {}, b.stream),
                "cuact::softmax_forward", c.name);
  } else {
    cuact_check(cuact::softmax_backward(c.kind, c.dtype, buf.y, buf.dy, buf.out, c.shape, b.stream),
                "cuact::softmax_backward", c.name);
  }
}

//! Enqueues the call that `c` measures.
static void launch_case(const Bench& b, const Buffers& buf, const Case& c,
                        const cuact::ActParams& p) {
  switch (c.group) {
    case Group::kSoftmax: return launch_softmax(b, buf, c);
    case Group::kCub:
      CUDA_CHECK(bench::cub_forward(c.op, c.dtype, buf.x, buf.out, c.n, p, b.stream));
      return;
    case Group::kAct:
    case Group::kVector:
    case Group::kSweep:
    case Group::kMisaligned: {
      const size_t skip = size_t(c.input_offset) * dtype_size(c.dtype);
      const auto in = [skip](void* q) { return static_cast<const char*>(q) + skip; };
      // kAct and the others: exactly cuact::forward / backward (kDevice).
      const ElementwiseLoads loads =
          c.group == Group::kVector ? ElementwiseLoads::kVector : ElementwiseLoads::kDevice;
      if (c.dir == Dir::kForward) {
        cuact_check(cuact::detail::forward_with_loads(loads, c.op, c.dtype, in(buf.x), buf.out, c.n,
                                                      p, b.stream),
                    "cuact::forward", c.name);
      } else {
        const bool from_y = c.dir == Dir::kBackwardY;
        cuact_check(
            cuact::detail::backward_with_loads(
                loads, c.op, c.dtype, in(buf.dy), in(from_y ? buf.y : buf.x),
                from_y ? cuact::Saved::kOutput : cuact::Saved::kInput, buf.out, c.n, p, b.stream),
            "cuact::backward", c.name);
      }
      return;
    }
  }
}

struct Row {
  Case c;
  Timing t;
  double gbs = 0, roof_gbs = 0, pct_roof = 0;
  double target_us = 0;               // few-row softmax only (0: none); see latency_target_us
  cuact::SoftmaxKernelInfo kernel{};  // softmax only: what the library launched
};

//! The saved output a backward case reads must be a real forward output of the same op and
//! shape: y-based activation branches and softmax's sum(y dy) then see realistic values.
static void prepare_saved_output(const Bench& b, const Buffers& buf, const Case& c,
                                 const cuact::ActParams& params) {
  if (c.dir == Dir::kBackwardY) {
    cuact_check(cuact::forward(c.op, c.dtype, buf.x, buf.y, c.n, params, b.stream),
                "cuact::forward (saved y)", c.name);
  } else if (c.group == Group::kSoftmax && c.dir == Dir::kBackward) {
    cuact_check(cuact::softmax_forward(c.kind, c.dtype, buf.x, buf.y, c.shape, {}, b.stream),
                "cuact::softmax_forward (saved y)", c.name);
  }
}

static Row run_case(Bench& b, Buffers& buf, const Case& c, const Roof& roof) {
  const cuact::ActParams params;
  prepare_inputs(b, buf, c.dtype);
  prepare_saved_output(b, buf, c, params);
  Row r;
  r.c = c;
  r.t = time_launches(b, [&] { launch_case(b, buf, c, params); });
  if (c.group == Group::kSoftmax) {
    const bool backward = c.dir != Dir::kForward;
    cuact_check(cuact::softmax_kernel_info(c.dtype, backward, backward ? buf.y : buf.x,
                                           backward ? buf.dy : buf.out, buf.out, c.shape, b.stream,
                                           &r.kernel),
                "cuact::softmax_kernel_info", c.name);
  }
  r.gbs = gb_per_s(c.bytes_moved(), r.t.median_us);
  r.roof_gbs = roof.gbs();
  r.pct_roof = 100.0 * r.gbs / r.roof_gbs;
  return r;
}

// ---------------------------------------------------------------------------------------------
// Device and build description
// ---------------------------------------------------------------------------------------------

struct DeviceInfo {
  int index = 0;
  cudaDeviceProp prop{};
  int mem_clock_khz = 0, bus_width_bits = 0, sm_clock_khz = 0;
  int driver_version = 0, runtime_version = 0;
  char pci_bus_id[32] = "";
  double peak_gbs() const {  // double data rate: two transfers per memory clock
    return 2.0 * mem_clock_khz * 1e3 * (bus_width_bits / 8.0) / 1e9;
  }
};

static std::string version_string(int v) {  // 13000 -> "13.0"
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

static std::string toolkit_version() {
  return std::to_string(__CUDACC_VER_MAJOR__) + "." + std::to_string(__CUDACC_VER_MINOR__) + "." +
         std::to_string(__CUDACC_VER_BUILD__);
}

static std::string cccl_version() {
  return std::to_string(CCCL_MAJOR_VERSION) + "." + std::to_string(CCCL_MINOR_VERSION) + "." +
         std::to_string(CCCL_PATCH_VERSION);
}

static std::string git_commit() {
  const char* env = std::getenv("CUACT_GIT_COMMIT");
  return env && *env ? env : CUACT_GIT_COMMIT;
}

static std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

//! Exits with status 2 and a clear message when there is no usable device.
static DeviceInfo open_device() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    std::fprintf(stderr, "cuact-bench: no CUDA device available (%s)\n",
                 err != cudaSuccess ? cudaGetErrorString(err) : "device count is 0");
    std::exit(kExitNoDevice);
  }
  DeviceInfo d;
  CUDA_CHECK(cudaGetDevice(&d.index));
  CUDA_CHECK(cudaGetDeviceProperties(&d.prop, d.index));
  CUDA_CHECK(cudaDeviceGetAttribute(&d.mem_clock_khz, cudaDevAttrMemoryClockRate, d.index));
  CUDA_CHECK(cudaDeviceGetAttribute(&d.bus_width_bits, cudaDevAttrGlobalMemoryBusWidth, d.index));
  CUDA_CHECK(cudaDeviceGetAttribute(&d.sm_clock_khz, cudaDevAttrClockRate, d.index));
  CUDA_CHECK(cudaDriverGetVersion(&d.driver_version));
  CUDA_CHECK(cudaRuntimeGetVersion(&d.runtime_version));
  CUDA_CHECK(cudaDeviceGetPCIBusId(d.pci_bus_id, sizeof d.pci_bus_id, d.index));
  return d;
}

// ---------------------------------------------------------------------------------------------
// Text output
// ---------------------------------------------------------------------------------------------

static void print_header(const DeviceInfo& d, const Options& o, const Bench& b,
                         bool latency_targets) {
  std::printf("cuact-bench  commit %s  %s\n", git_commit().c_str(), utc_now().c_str());
  std::printf("device %d: %s (sm_%d%d, %d SMs, %.1f GiB, L2 %.0f MB, ECC %s, PCI %s)\n", d.index,
              d.prop.name, d.prop.major, d.prop.minor, d.prop.multiProcessorCount,
              double(d.prop.totalGlobalMem) / (1 << 30), d.prop.l2CacheSize / 1e6,
              d.prop.ECCEnabled ? "on" : "off", d.pci_bus_id);
  std::printf("memory: %d-bit bus at %.0f MHz (2 x clock x width = %.0f GB/s); SM clock %.0f MHz\n",
              d.bus_width_bits, d.mem_clock_khz / 1e3, d.peak_gbs(), d.sm_clock_khz / 1e3);
  std::printf("driver %s, runtime %s, toolkit %s, CCCL %s\n",
              version_string(d.driver_version).c_str(), version_string(d.runtime_version).c_str(),
              toolkit_version().c_str(), cccl_version().c_str());
  std::printf(
      "timing: %d warm-up + %d timed launches per case, median; bytes: fwd 2*n*size, "
      "bwd 3*n*size\n",
      b.warmup, b.iters);
  std::printf(
      "note: float64 main cases use n = 2^%d (same bytes per tensor as float32) to bound "
      "memory\n",
      o.quick ? 23 : 27);
  if (o.quick)
    std::printf(
        "note: --quick: 2^24 elements (~128 MiB working set, near the L2 size): a smoke "
        "test, not a measurement\n");
  std::printf("note: sweep sizes below ~2^23 fit in L2: read their time in us, not GB/s\n");
  if (latency_targets)
    std::printf(
        "note: softmax fewrows cases are latency cases: read time_us against target_us = bytes / "
        "(copy roof at %zu bytes) + %.0f us\n",
        kBandwidthRoofBytes, kLatencyAllowanceUs);
  std::printf("\n");
}

static void print_roofs(const std::map<size_t, Roof>& roofs) {
  std::printf("copy roof (GB/s = 2 * bytes / time; the better of the two is the roof)\n");
  std::printf("%14s %12s %10s %12s %10s %10s %8s\n", "tensor_bytes", "memcpy_us", "memcpy",
              "kernel_us", "kernel", "roof", "source");
  for (const auto& [bytes, r] : roofs) {
    std::printf("%14zu %12.2f %10.1f %12.2f %10.1f %10.1f %8s\n", bytes, r.memcpy_t.median_us,
                r.memcpy_gbs, r.kernel_t.median_us, r.kernel_gbs, r.gbs(), r.source());
  }
  std::printf("\n");
}

static void print_row_header() {
  std::printf("%-48s %-9s %-6s %10s %12s %9s %7s\n", "case", "dtype", "dir", "n", "time_us", "GB/s",
              "%roof");
}

//! Latency cases append their target, so the time can be read against it on the same line.
static void print_row(const Row& r) {
  std::printf("%-48s %-9s %-6s %10s %12.2f %9.1f %7.1f", r.c.name.c_str(),
              cuact::dtype_name(r.c.dtype), dir_name(r.c.dir), pow2_name(r.c.n).c_str(),
              r.t.median_us, r.gbs, r.pct_roof);
  if (r.target_us > 0) std::printf("   target_us %.2f", r.target_us);
  std::printf("\n");
  std::fflush(stdout);  // progress shows through a pipe (tee) while the run goes on
}

//! Few-row softmax: time first, against its target (time / target <= 1 meets it).
static void print_latency_summary(const std::vector<Row>& rows) {
  bool header = false;
  for (const Row& r : rows) {
    if (r.target_us <= 0) continue;
    if (!header) {
      std::printf("\nfew-row softmax, latency: target_us = bytes / 1 GiB copy roof + %.0f us\n",
                  kLatencyAllowanceUs);
      std::printf("%-48s %10s %10s %8s %10s %10s %7s\n", "case", "time_us", "target_us", "t/target",
                  "p10_us", "p90_us", "%roof");
      header = true;
    }
    std::printf("%-48s %10.2f %10.2f %8.2f %10.2f %10.2f %7.1f\n", r.c.name.c_str(), r.t.median_us,
                r.target_us, r.t.median_us / r.target_us, r.t.p10_us, r.t.p90_us, r.pct_roof);
  }
}

//! cuact's rows beside the same kernels with vector loads (vec) and, forward, CUB: one line per
//! (op, dtype, direction) of the act group.
static void print_cub_comparison(const std::vector<Row>& rows) {
  std::map<std::string, const Row*> other;
  const auto key = [](const char* group, const Case& c) {
    return std::string(group) + "/" + cuact::op_name(c.op) + "/" + cuact::dtype_name(c.dtype) +
           "/" + dir_name(c.dir);
  };
  for (const Row& r : rows) {
    if (r.c.group == Group::kCub || r.c.group == Group::kVector)
      other[key(group_name(r.c.group), r.c)] = &r;
  }
  if (other.empty()) return;
  std::printf(
      "\n%% of copy roof: cuact (act), its kernels with 16-byte vector loads (vec), and "
      "cub::DeviceTransform with the same functor (forward)\n");
  std::printf("%-20s %-9s %-6s %8s %8s %8s %8s\n", "op", "dtype", "dir", "act", "vec", "cub",
              "act/cub");
  for (const Row& r : rows) {
    if (r.c.group != Group::kAct) continue;
    const auto vec = other.find(key("vec", r.c));
    const auto cub = other.find(key("cub", r.c));
    if (vec == other.end() && cub == other.end()) continue;
    char vec_pct[16] = "-", cub_pct[16] = "-", ratio[16] = "-";
    if (vec != other.end()) std::snprintf(vec_pct, sizeof vec_pct, "%.1f", vec->second->pct_roof);
    if (cub != other.end()) {
      std::snprintf(cub_pct, sizeof cub_pct, "%.1f", cub->second->pct_roof);
      std::snprintf(ratio, sizeof ratio, "%.2f", r.pct_roof / cub->second->pct_roof);
    }
    std::printf("%-20s %-9s %-6s %8.1f %8s %8s %8s\n", cuact::op_name(r.c.op),
                cuact::dtype_name(r.c.dtype), dir_name(r.c.dir), r.pct_roof, vec_pct, cub_pct,
                ratio);
  }
}

// ---------------------------------------------------------------------------------------------
// JSON output (hand-written: the bench has no dependencies beyond the toolkit)
// ---------------------------------------------------------------------------------------------

static std::string json_str(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

static void json_timing(FILE* f, const char* key, const Timing& t, double gbs) {
  std::fprintf(f,
               "\"%s\": {\"median_us\": %.3f, \"p10_us\": %.3f, \"p90_us\": %.3f, \"gbs\": %.2f}",
               key, t.median_us, t.p10_us, t.p90_us, gbs);
}

static void json_device(FILE* f, const DeviceInfo& d) {
  std::fprintf(f,
               "  \"device\": {\"index\": %d, \"name\": %s, \"compute_capability\": \"%d.%d\", "
               "\"sm_count\": %d, \"total_global_mem_bytes\": %zu, \"l2_cache_bytes\": %d, "
               "\"memory_clock_khz\": %d, \"memory_bus_width_bits\": %d, "
               "\"peak_dram_gbs_from_attributes\": %.1f, \"sm_clock_khz\": %d, "
               "\"ecc_enabled\": %s, \"pci_bus_id\": %s},\n",
               d.index, json_str(d.prop.name).c_str(), d.prop.major, d.prop.minor,
               d.prop.multiProcessorCount, d.prop.totalGlobalMem, d.prop.l2CacheSize,
               d.mem_clock_khz, d.bus_width_bits, d.peak_gbs(), d.sm_clock_khz,
               d.prop.ECCEnabled ? "true" : "false", json_str(d.pci_bus_id).c_str());
  std::fprintf(f,
               "  \"driver_version\": \"%s\", \"runtime_version\": \"%s\", "
               "\"toolkit_version\": \"%s\", \"cccl_version\": \"%s\",\n",
               version_string(d.driver_version).c_str(), version_string(d.runtime_version).c_str(),
               toolkit_version().c_str(), cccl_version().c_str());
}

static void json_settings(FILE* f, const Options& o, const Bench& b) {
  std::fprintf(f,
               "  \"settings\": {\"warmup\": %d, \"iters\": %d, \"quick\": %s, "
               "\"softmax_only\": %s, \"filters\": [",
               b.warmup, b.iters, o.quick ? "true" : "false", o.softmax_only ? "true" : "false");
  for (size_t i = 0; i < o.filters.size(); ++i)
    std::fprintf(f, "%s%s", i ? ", " : "", json_str(o.filters[i]).c_str());
  std::fprintf(f, "], \"dtypes\": [");
  for (size_t i = 0; i < o.dtypes.size(); ++i)
    std::fprintf(f, "%s%s", i ? ", " : "", json_str(cuact::dtype_name(o.dtypes[i])).c_str());
  std::fprintf(f,
               "], \"bytes_forward\": \"2*n*size\", \"bytes_backward\": \"3*n*size\", "
               "\"gb\": \"1e9 bytes\", \"statistic\": \"median of individually timed launches\", "
               "\"latency_target\": \"bytes / roof_gbs(tensor_bytes %zu) + %.0f us\"},\n",
               kBandwidthRoofBytes, kLatencyAllowanceUs);
}

static void json_roofs(FILE* f, const std::map<size_t, Roof>& roofs) {
  std::fprintf(f, "  \"roofs\": [");
  bool first = true;
  for (const auto& [bytes, r] : roofs) {
    std::fprintf(f, "%s\n    {\"tensor_bytes\": %zu, ", first ? "" : ",", bytes);
    json_timing(f, "memcpy", r.memcpy_t, r.memcpy_gbs);
    std::fprintf(f, ", ");
    json_timing(f, "kernel", r.kernel_t, r.kernel_gbs);
    std::fprintf(f, ", \"roof_gbs\": %.2f, \"source\": \"%s\"}", r.gbs(), r.source());
    first = false;
  }
  std::fprintf(f, "\n  ],\n");
}

//! Softmax rows add their layout, (outer, dim, inner) and plan; latency cases their target.
static void json_softmax_fields(FILE* f, const Row& r) {
  if (r.c.group != Group::kSoftmax) return;
  std::fprintf(f, ", \"layout\": \"%s\", \"shape\": [%lld, %lld, %lld]", layout_name(r.c.layout),
               static_cast<long long>(r.c.shape.outer), static_cast<long long>(r.c.shape.dim),
               static_cast<long long>(r.c.shape.inner));
  const cuact::SoftmaxKernelInfo& k = r.kernel;  // as the library planned the measured call
  std::fprintf(f,
               ", \"plan\": {\"tier\": \"%s\", \"block\": %d, \"vec\": %d, \"cluster\": %d, "
               "\"parts\": %d, \"grid\": %lld, \"smem_bytes\": %lld}",
               k.tier, k.block_threads, k.vector_elements, k.cluster_blocks, k.blocks_per_row,
               static_cast<long long>(k.grid_blocks), static_cast<long long>(k.dynamic_smem_bytes));
  if (r.target_us > 0) std::fprintf(f, ", \"target_us\": %.3f", r.target_us);
}

static void json_rows(FILE* f, const std::vector<Row>& rows, const DeviceInfo& d) {
  std::fprintf(f, "  \"rows\": [");
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    std::fprintf(f,
                 "%s\n    {\"name\": %s, \"group\": \"%s\", \"op\": \"%s\", \"dtype\": \"%s\", "
                 "\"direction\": \"%s\", \"n\": %lld, \"bytes\": %.0f, \"median_us\": %.3f, "
                 "\"p10_us\": %.3f, \"p90_us\": %.3f, \"gbs\": %.2f, \"roof_gbs\": %.2f, "
                 "\"pct_roof\": %.2f",
                 i ? "," : "", json_str(r.c.name).c_str(), group_name(r.c.group), case_op_name(r.c),
                 cuact::dtype_name(r.c.dtype), dir_name(r.c.dir), static_cast<long long>(r.c.n),
                 r.c.bytes_moved(), r.t.median_us, r.t.p10_us, r.t.p90_us, r.gbs, r.roof_gbs,
                 r.pct_roof);
    json_softmax_fields(f, r);
    std::fprintf(f, "}");
  }
  std::fprintf(f, "\n  ]\n");
}

static void write_json(FILE* f, const DeviceInfo& d, const Options& o, const Bench& b,
                       const std::map<size_t, Roof>& roofs, const std::vector<Row>& rows,
                       const std::string& started) {
  std::fprintf(f, "{\n  \"tool\": \"cuact-bench\", \"schema\": 1,\n");
  std::fprintf(f, "  \"git_commit\": %s, \"date_utc\": %s,\n", json_str(git_commit()).c_str(),
               json_str(started).c_str());
  json_device(f, d);
  json_settings(f, o, b);
  json_roofs(f, roofs);
  json_rows(f, rows, d);
  std::fprintf(f, "}\n");
}

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

static void print_help() {
  std::printf(
      "usage: cuact-bench [options]\n"
      "Times every cuact activation (forward; backward from x; backward from y where the op has\n"
      "a y-based derivative) in float32/float16/bfloat16/float64 at 2^28 elements (float64:\n"
      "2^27), the same kernels with 16-byte vector loads in place of the sm_90 bulk-copy\n"
      "staging (vec), cub::DeviceTransform with the same functors (forward), a size sweep of "
      "relu,\n"
      "gelu, silu (2^10..2^28, 2^29 for 16-bit) and the same three at 2^28 with inputs one\n"
      "element past a 16-byte boundary (bfloat16/float32, forward and backward from x), then\n"
      "softmax and log_softmax in float32/\n"
      "bfloat16/float16: forward and backward over the last axis (rows x cols of about 2^28\n"
      "elements, 32..1048576 cols) and over a middle axis (outer x dim x inner), and forward\n"
      "over few long rows (1..132 rows, float32/bfloat16), which are latency cases with a\n"
      "target of bytes / (1 GiB copy roof) + 5 us. Each row is a %% of the copy roof measured\n"
      "in the same run for the same tensor bytes (the better of cudaMemcpyAsync and a\n"
      "16-byte-vector copy kernel).\n\n"
      "options:\n"
      "  --list             print the selected case names and exit (no GPU needed)\n"
      "  --filter SUBSTR    run cases whose name contains SUBSTR; repeatable or comma-separated\n"
      "                     (names: act|vec|cub|sweep|misaligned / op / dtype / fwd|bwd_x|bwd_y\n"
      "                     [/2^k], and\n"
      "                     softmax|log_softmax / last|middle|fewrows / dtype / fwd|bwd / size,\n"
      "                     size = cols, rowsxcols or outerxdimxinner)\n"
      "  --softmax-only     only the softmax and log_softmax cases (combines with --filter)\n"
      "  --softmax-tuning   instead of the cases: float32 and bfloat16 softmax shapes near the\n"
      "                     planner's thresholds, each plan a grid of other thresholds gives\n"
      "                     timed on the library's kernels and checked against its output, and\n"
      "                     per threshold value the total time over the shapes (--quick: fewer\n"
      "                     shapes; --dtype: other dtypes; --json writes the plans)\n"
      "  --dtype NAME       float32|float16|bfloat16|float64 (or fp32, fp16, bf16, fp64);\n"
      "                     repeatable or comma-separated\n"
      "  --quick            smoke test: n = 2^24, sweep 2^10..2^22 every 4, softmax cols\n"
      "                     32/1024/32768/1048576 and middle outer / 16, few rows 1 and 132\n"
      "                     at 32768 and 1048576 cols, 10 iterations\n"
      "  --iters N          timed launches per case (default 30; --quick 10)\n"
      "  --json FILE        also write device, versions, roofs and every row as JSON\n"
      "  --help             this text\n\n"
      "environment: CUACT_GIT_COMMIT overrides the commit recorded at build time.\n"
      "exit status: 0 ok, 1 a CUDA or cuact call failed, 2 no CUDA device, 64 bad usage.\n");
}

static std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t end = std::min(s.find(',', start), s.size());
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

static Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    const size_t eq = arg.find('=');
    const bool inline_value = arg.rfind("--", 0) == 0 && eq != std::string::npos;
    if (inline_value) {  // --flag=value
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    auto next = [&]() -> std::string {
      if (inline_value) return value;
      if (i + 1 >= argc) usage_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      o.help = true;
    } else if (arg == "--list") {
      o.list = true;
    } else if (arg == "--quick") {
      o.quick = true;
    } else if (arg == "--softmax-only") {
      o.softmax_only = true;
    } else if (arg == "--softmax-tuning") {
      o.softmax_tuning = true;
    } else if (arg == "--filter") {
      for (const std::string& f : split_commas(next()))
        o.filters.push_back(f);
    } else if (arg == "--dtype") {
      for (const std::string& name : split_commas(next())) {
        DType d;
        if (!parse_dtype(name, &d)) usage_error("unknown dtype '" + name + "'");
        o.dtypes.push_back(d);
      }
    } else if (arg == "--json") {
      o.json_path = next();
    } else if (arg == "--iters") {
      const std::string v = next();
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 1 || n > 100000) usage_error("bad --iters '" + v + "'");
      o.iters = int(n);
    } else {
      usage_error("unknown argument '" + arg + "'");
    }
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------------

static void alloc_buffers(Buffers& buf, size_t bytes) {
  buf.bytes = bytes;
  CUDA_CHECK(cudaMalloc(&buf.x, bytes));
  CUDA_CHECK(cudaMalloc(&buf.dy, bytes));
  CUDA_CHECK(cudaMalloc(&buf.y, bytes));
  CUDA_CHECK(cudaMalloc(&buf.out, bytes));
}

static void free_buffers(Buffers& buf) {
  CUDA_CHECK(cudaFree(buf.x));
  CUDA_CHECK(cudaFree(buf.dy));
  CUDA_CHECK(cudaFree(buf.y));
  CUDA_CHECK(cudaFree(buf.out));
}

static void init_bench(Bench& b, const Options& o, const DeviceInfo& d) {
  b.iters = o.iters ? o.iters : (o.quick ? 10 : 30);
  b.sm_count = d.prop.multiProcessorCount;
  CUDA_CHECK(cudaStreamCreateWithFlags(&b.stream, cudaStreamNonBlocking));
  b.start.resize(b.iters);
  b.stop.resize(b.iters);
  for (int i = 0; i < b.iters; ++i) {
    CUDA_CHECK(cudaEventCreate(&b.start[i]));
    CUDA_CHECK(cudaEventCreate(&b.stop[i]));
  }
}

static void destroy_bench(Bench& b) {
  for (int i = 0; i < b.iters; ++i) {
    CUDA_CHECK(cudaEventDestroy(b.start[i]));
    CUDA_CHECK(cudaEventDestroy(b.stop[i]));
  }
  CUDA_CHECK(cudaStreamDestroy(b.stream));
}

// ---------------------------------------------------------------------------------------------
// --softmax-tuning: what the planner's thresholds (cuact::detail::SoftmaxTuning, predictions until
// measured) would give on this device
// ---------------------------------------------------------------------------------------------

using cuact::detail::SoftmaxPlan;
using cuact::detail::SoftmaxTuning;

//! Shapes on both sides of the thresholds: middle axes whose tiles stage in one block or over a
//! cluster, few or many tiles; few long rows on a cluster or across the grid.
struct TuningShape {
  SoftmaxShape shape;
  bool quick;  // also in --quick
};
static const TuningShape kTuningShapes[] = {
    {{64, 4096, 1024}, true}, {{256, 1000, 1024}, false}, {{32, 1000, 1024}, true},
    {{8, 10000, 64}, true},   {{2, 20000, 3}, false},     {{1, 3000, 8}, true},
    {{16, 2048, 256}, false}, {{1, 1 << 20, 1}, true},    {{4, 1 << 18, 1}, false},
    {{16, 65536, 1}, true},   {{64, 65536, 1}, false},    {{132, 32768, 1}, false},
    {{1, 1 << 22, 1}, false}, {{8, 1 << 20, 1}, true},    {{3, 20000, 1}, false},
};

//! The values tried for each threshold (each list holds the library's default), in
//! SoftmaxTuning's member order (knob_value, set_knob).
struct Knob {
  const char* name;
  std::vector<int64_t> values;
};
static std::vector<Knob> tuning_knobs() {
  return {{"column_tile_blocks_per_sm", {1, 2, 3, 4}},
          {"min_column_slice_rounds", {2, 4, 8, 16, 32}},
          {"few_rows_max_cluster", {1, 2, 4, 8, 16}},
          {"min_cluster_slice_chunks", {128, 256, 512, 1024, 2048}},
          {"grid_over_cluster_factor", {1, 2, 4, 8, 1 << 20}}};
}
static int64_t knob_value(const SoftmaxTuning& t, size_t knob) {
  switch (knob) {
    case 0: return t.column_tile_blocks_per_sm;
    case 1: return t.min_column_slice_rounds;
    case 2: return t.few_rows_max_cluster;
    case 3: return t.min_cluster_slice_chunks;
    default: return t.grid_over_cluster_factor;
  }
}
static void set_knob(SoftmaxTuning& t, size_t knob, int64_t v) {
  switch (knob) {
    case 0: t.column_tile_blocks_per_sm = int(v); break;
    case 1: t.min_column_slice_rounds = int(v); break;
    case 2: t.few_rows_max_cluster = int(v); break;
    case 3: t.min_cluster_slice_chunks = v; break;
    default: t.grid_over_cluster_factor = int(v); break;
  }
}

static std::string plan_key(const SoftmaxPlan& p) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s block %d vec %d cluster %d parts %d grid %lld smem %lld",
                cuact::detail::softmax_tier_name(p.tier), p.block, p.vec, p.cluster, p.parts,
                static_cast<long long>(p.grid), static_cast<long long>(p.smem_bytes));
  return buf;
}

//! max |a - b| and max |a| over n elements into out[0], out[1] (as float bits: both are >= 0, so
//! their bit patterns order as the values do); a NaN on one side only counts as infinite.
template <class T>
__global__ void max_abs_diff(const T* a, const T* b, int64_t n, unsigned* out) {
  float diff = 0.0f, ref = 0.0f;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float x = float(cuact::to_compute(a[i])), y = float(cuact::to_compute(b[i]));
    const float d = isnan(x) != isnan(y) ? INFINITY : isnan(x) ? 0.0f : fabsf(x - y);
    diff = fmaxf(diff, d);
    ref = fmaxf(ref, isnan(x) ? 0.0f : fabsf(x));
  }
  atomicMax(out, __float_as_uint(diff));
  atomicMax(out + 1, __float_as_uint(ref));
}

//! max |ref - got| and max |ref| of two tensors of `dtype` (float32 or bfloat16).
static void tensor_difference(const Bench& b, DType dtype, const void* ref, const void* got,
                              int64_t n, unsigned* scratch, float* max_diff, float* max_ref) {
  CUDA_CHECK(cudaMemsetAsync(scratch, 0, 2 * sizeof(unsigned), b.stream));
  if (dtype == DType::kBFloat16) {
    max_abs_diff<<<b.sm_count * 4, 256, 0, b.stream>>>(
        static_cast<const __nv_bfloat16*>(ref), static_cast<const __nv_bfloat16*>(got), n, scratch);
  } else {
    max_abs_diff<<<b.sm_count * 4, 256, 0, b.stream>>>(static_cast<const float*>(ref),
                                                       static_cast<const float*>(got), n, scratch);
  }
  CUDA_CHECK(cudaGetLastError());
  unsigned bits[2];
  CUDA_CHECK(cudaMemcpyAsync(bits, scratch, sizeof bits, cudaMemcpyDeviceToHost, b.stream));
  CUDA_CHECK(cudaStreamSynchronize(b.stream));
  std::memcpy(max_diff, &bits[0], sizeof(float));
  std::memcpy(max_ref, &bits[1], sizeof(float));
}

struct TunedRow {
  DType dtype = DType::kFloat32;
  SoftmaxShape shape;
  bool backward = false;
  SoftmaxPlan plan;
  SoftmaxTuning first;  // the first tuning (grid order) that gives the plan
  int tunings = 0;      // how many of the grid's give it
  bool is_default = false;
  std::string status = "ok";  // else why it was not timed, or "mismatch"
  Timing t;
  double gbs = 0, pct_roof = 0, max_diff = 0, max_ref = 0;
};

static std::string shape_name(const SoftmaxShape& s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lldx%lldx%lld", static_cast<long long>(s.outer),
                static_cast<long long>(s.dim), static_cast<long long>(s.inner));
  return buf;
}

//! The tensors of one tuning measurement: forward reads x and writes out (the library's own
//! output, the reference, in y); backward reads y (the library's forward output) and dy and
//! writes x (the library's backward output, the reference, in out).
struct TunedTensors {
  const void* a;
  const void* b;
  void* dst;
  const void* ref;
};
static TunedTensors tuned_tensors(const Buffers& buf, bool backward) {
  if (backward) return {buf.y, buf.dy, buf.x, buf.out};
  return {buf.x, buf.out, buf.out, buf.y};
}
static SoftmaxPlan tuned_plan(DType dtype, const SoftmaxShape& s, bool backward,
                              const TunedTensors& t, const SoftmaxTuning& tuning) {
  SoftmaxPlan p;
  cuact_check(cuact::detail::softmax_plan_tuned(dtype, backward, t.a, backward ? t.b : t.dst,
                                                backward ? t.dst : nullptr, s, tuning, nullptr, &p),
              "cuact::detail::softmax_plan_tuned", shape_name(s));
  return p;
}

static void run_softmax_tuning(const Options& o, const DeviceInfo& dev, Bench& b, FILE* json,
                               const std::string& started) {
  const std::vector<Knob> knobs = tuning_knobs();
  std::vector<SoftmaxTuning> grid(1);  // every combination of the knobs' values
  for (size_t k = 0; k < knobs.size(); ++k) {
    std::vector<SoftmaxTuning> next;
    for (const SoftmaxTuning& t : grid) {
      for (int64_t v : knobs[k].values) {
        SoftmaxTuning u = t;
        set_knob(u, k, v);
        next.push_back(u);
      }
    }
    grid.swap(next);
  }
  // float32 and bfloat16 unless asked: the planner's thresholds depend on the element size.
  const std::vector<DType> dtypes =
      o.dtypes.empty() ? std::vector<DType>{DType::kFloat32, DType::kBFloat16} : o.dtypes;
  size_t widest = 0;
  for (DType d : dtypes)
    widest = std::max(widest, size_t(dtype_size(d)));
  std::vector<SoftmaxShape> shapes;
  size_t most = 0;
  for (const TuningShape& s : kTuningShapes) {
    if (o.quick && !s.quick) continue;
    shapes.push_back(s.shape);
    most = std::max(most, size_t(s.shape.outer * s.shape.dim * s.shape.inner) * widest);
  }
  Buffers buf;
  alloc_buffers(buf, most);
  unsigned* scratch = nullptr;
  CUDA_CHECK(cudaMalloc(&scratch, 2 * sizeof(unsigned)));
  std::map<size_t, Roof> roofs;
  std::printf("softmax tuning: %zu threshold combinations, %zu shapes\n", grid.size(),
              shapes.size());
  std::printf("%-9s %-20s %-4s %-72s %4s %9s %8s %6s %9s\n", "dtype", "shape", "dir", "plan",
              "dflt", "time_us", "GB/s", "%roof", "max_diff");
  std::vector<TunedRow> rows;
  // Median time by "dtype/shape/dir/plan key", for the per-threshold totals below.
  std::map<std::string, double> time_of;
  auto time_key = [](DType d, const SoftmaxShape& s, bool backward, const SoftmaxPlan& p) {
    return std::string(cuact::dtype_name(d)) + "/" + shape_name(s) +
           (backward ? "/bwd/" : "/fwd/") + plan_key(p);
  };
  for (DType dtype : dtypes) {
    const SoftmaxTuning library = cuact::detail::softmax_default_tuning(int(dtype_size(dtype)));
    for (const SoftmaxShape& s : shapes) {
      prepare_inputs(b, buf, dtype);
      buf.has_fill = false;  // this shape's backward launches write x
      const int64_t n = s.outer * s.dim * s.inner;
      const size_t bytes = size_t(n) * dtype_size(dtype);
      if (!roofs.count(bytes)) roofs[bytes] = measure_roof(b, buf.x, buf.out, bytes);
      const Roof& roof = roofs.at(bytes);
      const std::string name = shape_name(s);
      for (bool backward : {false, true}) {
        cuact_check(
            cuact::softmax_forward(SoftmaxKind::kSoftmax, dtype, buf.x, buf.y, s, {}, b.stream),
            "cuact::softmax_forward", name);
        if (backward) {
          cuact_check(cuact::softmax_backward(SoftmaxKind::kSoftmax, dtype, buf.y, buf.dy, buf.out,
                                              s, b.stream),
                      "cuact::softmax_backward", name);
        }
        const TunedTensors t = tuned_tensors(buf, backward);
        std::map<std::string, size_t> index;  // plan key -> row
        const size_t first_row = rows.size();
        for (const SoftmaxTuning& tuning : grid) {
          const SoftmaxPlan p = tuned_plan(dtype, s, backward, t, tuning);
          const auto [it, added] = index.emplace(plan_key(p), rows.size());
          if (added) {
            TunedRow r;
            r.dtype = dtype;
            r.shape = s;
            r.backward = backward;
            r.plan = p;
            r.first = tuning;
            rows.push_back(r);
          }
          ++rows[it->second].tunings;
        }
        const std::string default_key = plan_key(tuned_plan(dtype, s, backward, t, library));
        for (size_t i = first_row; i < rows.size(); ++i) {
          TunedRow& r = rows[i];
          r.is_default = plan_key(r.plan) == default_key;
          auto launch = [&] {
            return cuact::detail::softmax_launch_planned(SoftmaxKind::kSoftmax, dtype, backward,
                                                         r.plan, t.a, t.b, t.dst, s, b.stream);
          };
          const cuact::Status first = launch();
          if (first != cuact::Status::kSuccess) {
            // A launch the device refused (the library would re-plan it): not timed.
            r.status = std::string("launch: ") + cuact::last_error_detail();
          } else {
            float d = 0, m = 0;
            tensor_difference(b, dtype, t.ref, t.dst, n, scratch, &d, &m);
            r.max_diff = d;
            r.max_ref = m;
            // Other tiers sum in another order: float32 results a few ulps of the largest value
            // apart, 16-bit ones an ulp of it (2^-8) at most.
            const double tolerance = dtype == DType::kFloat32 ? 1e-5 : 1.0 / 128;
            if (!(d <= tolerance * m)) r.status = "mismatch";
            r.t = time_launches(
                b, [&] { cuact_check(launch(), "cuact::detail::softmax_launch_planned", name); });
            const double moved = double(bytes) * (backward ? 3.0 : 2.0);
            r.gbs = gb_per_s(moved, r.t.median_us);
            r.pct_roof = 100.0 * r.gbs / roof.gbs();
            time_of[time_key(dtype, s, backward, r.plan)] = r.t.median_us;
          }
          std::printf("%-9s %-20s %-4s %-72s %4s %9.2f %8.1f %6.1f %9.2e %s\n",
                      cuact::dtype_name(dtype), name.c_str(), backward ? "bwd" : "fwd",
                      plan_key(r.plan).c_str(), r.is_default ? "*" : "", r.t.median_us, r.gbs,
                      r.pct_roof, r.max_diff, r.status == "ok" ? "" : r.status.c_str());
        }
      }
    }
  }
  // Per dtype and threshold value, the others at the library's: the total time over every shape
  // and direction of the plans it gives.
  std::printf("\nper threshold value (the others at the library's): total time over the shapes\n");
  std::printf("%-9s %-28s %10s %12s %10s\n", "dtype", "threshold", "value", "total_us",
              "vs_default");
  for (DType dtype : dtypes) {
    auto total_for = [&](const SoftmaxTuning& tuning, bool* complete) {
      double total = 0;
      for (const SoftmaxShape& s : shapes) {
        for (bool backward : {false, true}) {
          const SoftmaxPlan p =
              tuned_plan(dtype, s, backward, tuned_tensors(buf, backward), tuning);
          const auto it = time_of.find(time_key(dtype, s, backward, p));
          if (it == time_of.end()) {
            *complete = false;
          } else {
            total += it->second;
          }
        }
      }
      return total;
    };
    bool default_complete = true;
    const SoftmaxTuning library = cuact::detail::softmax_default_tuning(int(dtype_size(dtype)));
    const double default_total = total_for(library, &default_complete);
    for (size_t k = 0; k < knobs.size(); ++k) {
      for (int64_t v : knobs[k].values) {
        SoftmaxTuning t = library;
        set_knob(t, k, v);
        bool complete = true;
        const double total = total_for(t, &complete);
        std::printf("%-9s %-28s %10lld %12.1f %10.3f%s%s\n", cuact::dtype_name(dtype),
                    knobs[k].name, static_cast<long long>(v), total, total / default_total,
                    knob_value(library, k) == v ? "  (library)" : "",
                    complete && default_complete ? "" : "  (some plans not timed)");
      }
    }
  }
  if (json) {
    std::fprintf(json,
                 "{\n  \"tool\": \"cuact-bench\", \"mode\": \"softmax-tuning\", \"schema\": 1,\n");
    std::fprintf(json, "  \"git_commit\": %s, \"date_utc\": %s,\n", json_str(git_commit()).c_str(),
                 json_str(started).c_str());
    json_device(json, dev);
    std::fprintf(json, "  \"tuning_order\": [");
    for (size_t i = 0; i < knobs.size(); ++i)
      std::fprintf(json, "%s\"%s\"", i ? ", " : "", knobs[i].name);
    std::fprintf(json, "],\n  \"plans\": [");
    for (size_t i = 0; i < rows.size(); ++i) {
      const TunedRow& r = rows[i];
      const SoftmaxPlan& p = r.plan;
      std::fprintf(json,
                   "%s\n    {\"dtype\": \"%s\", \"shape\": [%lld, %lld, %lld], \"dir\": \"%s\", "
                   "\"tier\": \"%s\", \"block\": %d, \"vec\": %d, \"cluster\": %d, \"parts\": %d, "
                   "\"grid\": %lld, \"smem_bytes\": %lld, \"default\": %s, \"tunings\": %d, "
                   "\"first_tuning\": [%d, %d, %d, %lld, %d], \"status\": %s, \"median_us\": %.3f, "
                   "\"p10_us\": %.3f, \"p90_us\": %.3f, \"gbs\": %.2f, \"pct_roof\": %.2f, "
                   "\"max_diff\": %.3e, \"max_ref\": %.3e}",
                   i ? "," : "", cuact::dtype_name(r.dtype), static_cast<long long>(r.shape.outer),
                   static_cast<long long>(r.shape.dim), static_cast<long long>(r.shape.inner),
                   r.backward ? "bwd" : "fwd", cuact::detail::softmax_tier_name(p.tier), p.block,
                   p.vec, p.cluster, p.parts, static_cast<long long>(p.grid),
                   static_cast<long long>(p.smem_bytes), r.is_default ? "true" : "false", r.tunings,
                   r.first.column_tile_blocks_per_sm, r.first.min_column_slice_rounds,
                   r.first.few_rows_max_cluster,
                   static_cast<long long>(r.first.min_cluster_slice_chunks),
                   r.first.grid_over_cluster_factor, json_str(r.status).c_str(), r.t.median_us,
                   r.t.p10_us, r.t.p90_us, r.gbs, r.pct_roof, r.max_diff, r.max_ref);
    }
    std::fprintf(json, "\n  ]\n}\n");
  }
  CUDA_CHECK(cudaFree(scratch));
  free_buffers(buf);
}

//! Opens --json's file now, so that a bad path fails before minutes of measuring (null: no
//! --json); exits on failure.
static FILE* open_json(const Options& o) {
  if (o.json_path.empty()) return nullptr;
  FILE* f = std::fopen(o.json_path.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "cuact-bench: cannot write %s: %s\n", o.json_path.c_str(),
                 std::strerror(errno));
    std::exit(kExitFailure);
  }
  return f;
}

//! Closes what open_json opened; false (with a message) if the file could not be written.
static bool close_json(FILE* f, const Options& o) {
  if (f == nullptr) return true;
  if (std::fclose(f) != 0) {
    std::fprintf(stderr, "cuact-bench: error writing %s\n", o.json_path.c_str());
    return false;
  }
  std::printf("\njson: %s\n", o.json_path.c_str());
  return true;
}

int main(int argc, char** argv) {
  const Options o = parse_args(argc, argv);
  if (o.help) {
    print_help();
    return 0;
  }
  if (o.softmax_tuning) {
    const DeviceInfo dev = open_device();
    FILE* json = open_json(o);
    const std::string started = utc_now();
    Bench b;
    init_bench(b, o, dev);
    print_header(dev, o, b, false);
    run_softmax_tuning(o, dev, b, json, started);
    destroy_bench(b);
    return close_json(json, o) ? 0 : kExitFailure;
  }
  const std::vector<Case> cases = make_cases(o);
  if (o.list) {
    for (const Case& c : cases)
      std::printf("%s\n", c.name.c_str());
    return 0;
  }
  if (cases.empty()) usage_error("no case matches the filters");

  const DeviceInfo dev = open_device();
  FILE* json = open_json(o);
  const std::string started = utc_now();
  Bench b;
  init_bench(b, o, dev);
  const bool latency_targets = std::any_of(cases.begin(), cases.end(), has_latency_target);
  print_header(dev, o, b, latency_targets);

  // Every tensor size in play, plus the 1 GiB copy that latency targets are measured against.
  std::vector<size_t> roof_sizes;
  for (const Case& c : cases)
    roof_sizes.push_back(c.tensor_bytes());
  if (latency_targets) roof_sizes.push_back(kBandwidthRoofBytes);
  Buffers buf;
  // 16 bytes of room past the largest tensor for the misaligned cases' shifted inputs.
  alloc_buffers(buf, *std::max_element(roof_sizes.begin(), roof_sizes.end()) + 16);

  // Roofs first, for every tensor size in play, so each row compares with a copy of its own size.
  prepare_inputs(b, buf, DType::kFloat32);
  std::map<size_t, Roof> roofs;
  for (size_t bytes : roof_sizes) {
    if (!roofs.count(bytes)) roofs[bytes] = measure_roof(b, buf.x, buf.out, bytes);
  }
  print_roofs(roofs);

  print_row_header();
  std::vector<Row> rows;
  for (const Case& c : cases) {
    rows.push_back(run_case(b, buf, c, roofs.at(c.tensor_bytes())));
    if (has_latency_target(c))
      rows.back().target_us = latency_target_us(c, roofs.at(kBandwidthRoofBytes));
    print_row(rows.back());
  }
  print_cub_comparison(rows);
  print_latency_summary(rows);

  if (json) write_json(json, dev, o, b, roofs, rows, started);
  free_buffers(buf);
  destroy_bench(b);
  return close_json(json, o) ? 0 : kExitFailure;
}
