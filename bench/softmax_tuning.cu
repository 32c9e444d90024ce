// SPDX-License-Identifier: Apache-2.0
// The kernels of cuact-bench --softmax-tuning: the library's softmax templates (float32 and
// bfloat16, softmax kind) for the tiers whose choice the tuned thresholds move, instantiated in
// the bench. A separate translation unit, so that they compile beside cuact_bench.cu.
#include "softmax_tuning.hpp"

#include "host/softmax_launch.cuh"

namespace bench {
namespace {

using cuact::SoftmaxKind;
using cuact::detail::LaunchContext;
using cuact::detail::SoftmaxPlan;
using cuact::detail::SoftmaxTier;

//! The current device as the library's launch context sees it (cuact::detail::
//! make_launch_context is internal to the library), looked up once.
LaunchContext context(cudaStream_t stream) {
  static const LaunchContext device = [] {
    LaunchContext c;
    int clusters = 0, cooperative = 0;
    (void)cudaGetDevice(&c.device);
    (void)cudaDeviceGetAttribute(&c.multiprocessor_count, cudaDevAttrMultiProcessorCount, c.device);
    (void)cudaDeviceGetAttribute(&c.shared_memory_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                                 c.device);
    (void)cudaDeviceGetAttribute(&clusters, cudaDevAttrClusterLaunch, c.device);
    (void)cudaDeviceGetAttribute(&cooperative, cudaDevAttrCooperativeLaunch, c.device);
    c.max_cluster_blocks = clusters ? cuact::detail::kMaxClusterBlocks : 0;
    c.cooperative_launch = cooperative != 0;
    return c;
  }();
  LaunchContext c = device;
  c.stream = stream;
  return c;
}

template <SoftmaxTier kTier, int kThreads, class T>
cudaError_t launch_block_row(const SoftmaxPlan& p, bool backward, const T* a, const T* b, T* out,
                             const cuact::SoftmaxShape& s, cudaStream_t stream) {
  using namespace cuact::detail;
  constexpr int kWide = static_cast<int>(16 / sizeof(T));
  if (backward) {
    return p.vec > 1 ? launch_backward_chunks<kTier, kThreads, kWide, T, SoftmaxKind::kSoftmax>(
                           p, a, b, out, s, stream)
                     : launch_backward_chunks<kTier, kThreads, 1, T, SoftmaxKind::kSoftmax>(
                           p, a, b, out, s, stream);
  }
  return p.vec > 1 ? launch_forward_chunks<kTier, kThreads, kWide, T, SoftmaxKind::kSoftmax>(
                         p, a, out, s, false, stream)
                   : launch_forward_chunks<kTier, kThreads, 1, T, SoftmaxKind::kSoftmax>(
                         p, a, out, s, false, stream);
}

template <SoftmaxTier kTier, class T>
cudaError_t launch_staged(const SoftmaxPlan& p, bool backward, const T* a, const T* b, T* out,
                          const cuact::SoftmaxShape& s, const LaunchContext& ctx) {
  using namespace cuact::detail;
  return backward
             ? launch_backward_on_chip_tier<kTier, T, SoftmaxKind::kSoftmax>(p, a, b, out, s, ctx)
             : launch_forward_on_chip_tier<kTier, T, SoftmaxKind::kSoftmax>(p, a, out, s, false,
                                                                            ctx);
}

template <class T>
cudaError_t launch_typed(const SoftmaxPlan& p, bool backward, const void* a_, const void* b_,
                         void* out_, const cuact::SoftmaxShape& s, cudaStream_t stream) {
  const T* a = static_cast<const T*>(a_);
  const T* b = static_cast<const T*>(b_);
  T* out = static_cast<T*>(out_);
  const LaunchContext ctx = context(stream);
  switch (p.tier) {
    case SoftmaxTier::kSmemRow:
      return launch_staged<SoftmaxTier::kSmemRow>(p, backward, a, b, out, s, ctx);
    case SoftmaxTier::kClusterRow:
      return launch_staged<SoftmaxTier::kClusterRow>(p, backward, a, b, out, s, ctx);
    case SoftmaxTier::kGridRow:
      return launch_staged<SoftmaxTier::kGridRow>(p, backward, a, b, out, s, ctx);
    case SoftmaxTier::kColumnTile:
      return launch_staged<SoftmaxTier::kColumnTile>(p, backward, a, b, out, s, ctx);
    case SoftmaxTier::kColumnTileReread:
      return launch_staged<SoftmaxTier::kColumnTileReread>(p, backward, a, b, out, s, ctx);
    case SoftmaxTier::kBlockRow:
      return p.block == 1024
                 ? launch_block_row<SoftmaxTier::kBlockRow, 1024>(p, backward, a, b, out, s, stream)
                 : launch_block_row<SoftmaxTier::kBlockRow, 256>(p, backward, a, b, out, s, stream);
    default: return cudaErrorNotSupported;
  }
}

}  // namespace

bool tuned_softmax_dtype(cuact::DType dtype) {
  return dtype == cuact::DType::kFloat32 || dtype == cuact::DType::kBFloat16;
}

SoftmaxPlan tuned_softmax_plan(cuact::DType dtype, const cuact::SoftmaxShape& s, bool backward,
                               const void* a, const void* b, const void* c,
                               const cuact::detail::SoftmaxTuning& tuning) {
  using cuact::detail::plan_softmax_call;
  using cuact::detail::split_row_limits;
  const LaunchContext ctx = context(nullptr);
  if (dtype == cuact::DType::kBFloat16) {
    return plan_softmax_call<__nv_bfloat16>(s, backward, a, b, c,
                                            split_row_limits<__nv_bfloat16>(ctx), ctx, tuning);
  }
  return plan_softmax_call<float>(s, backward, a, b, c, split_row_limits<float>(ctx), ctx, tuning);
}

cudaError_t launch_tuned_softmax(cuact::DType dtype, const SoftmaxPlan& p, bool backward,
                                 const void* a, const void* b, void* out,
                                 const cuact::SoftmaxShape& s, cudaStream_t stream) {
  switch (dtype) {
    case cuact::DType::kFloat32: return launch_typed<float>(p, backward, a, b, out, s, stream);
    case cuact::DType::kBFloat16:
      return launch_typed<__nv_bfloat16>(p, backward, a, b, out, s, stream);
    default: return cudaErrorNotSupported;
  }
}

}  // namespace bench
