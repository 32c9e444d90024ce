// SPDX-License-Identifier: Apache-2.0
// quickstart: a few activations forward and backward on a stream, checked against the CPU.
//
//   cmake -S . -B build && cmake --build build -j && ./build/examples/quickstart
//
// Without a GPU it says so and exits with status 2.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "cuact/activation.hpp"
#include "cuact/functors.cuh"

namespace {

#define CHECK_CUDA(expr)                                                        \
  do {                                                                          \
    const cudaError_t err_ = (expr);                                            \
    if (err_ != cudaSuccess) {                                                  \
      std::fprintf(stderr, "%s failed: %s\n", #expr, cudaGetErrorString(err_)); \
      return 1;                                                                 \
    }                                                                           \
  } while (0)

#define CHECK_CUACT(expr)                                                         \
  do {                                                                            \
    const cuact::Status st_ = (expr);                                             \
    if (st_ != cuact::Status::kSuccess) {                                         \
      std::fprintf(stderr, "%s failed: %s\n", #expr, cuact::last_error_detail()); \
      return 1;                                                                   \
    }                                                                             \
  } while (0)

// CPU check: the same functor on the host, in double (the library's float32 path computes in
// double and rounds once), so the GPU result should match to the last bit or one ulp.
template <class F>
double max_abs_diff(const F& f, const std::vector<float>& x, const std::vector<float>& got,
                    bool derivative, const std::vector<float>& dy) {
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double ref =
        derivative ? double(dy[i]) * f.derivative(double(x[i])) : f.forward(double(x[i]));
    worst = std::fmax(worst, std::fabs(double(got[i]) - double(float(ref))));
  }
  return worst;
}

template <class F>
int run_op(const char* name, cuact::Op op, const F& f, const float* d_x, const float* d_dy,
           float* d_y, float* d_dx, const std::vector<float>& x, const std::vector<float>& dy,
           cudaStream_t stream) {
  const int64_t n = static_cast<int64_t>(x.size());
  const cuact::ActParams params;
  CHECK_CUACT(cuact::forward(op, d_x, d_y, n, params, stream));
  CHECK_CUACT(cuact::backward(op, d_dy, d_x, cuact::Saved::kInput, d_dx, n, params, stream));
  std::vector<float> y(n), dx(n);
  CHECK_CUDA(cudaMemcpyAsync(y.data(), d_y, n * sizeof(float), cudaMemcpyDeviceToHost, stream));
  CHECK_CUDA(cudaMemcpyAsync(dx.data(), d_dx, n * sizeof(float), cudaMemcpyDeviceToHost, stream));
  CHECK_CUDA(cudaStreamSynchronize(stream));
  const double fwd_err = max_abs_diff(f, x, y, false, dy);
  const double bwd_err = max_abs_diff(f, x, dx, true, dy);
  std::printf("| %-12s | %10.6f | %10.6f | %9.2e | %9.2e |\n", name, y[n / 3], dx[n / 3], fwd_err,
              bwd_err);
  return (fwd_err <= 1e-6 && bwd_err <= 1e-6) ? 0 : 1;
}

}  // namespace

int main() {
  int devices = 0;
  const cudaError_t err = cudaGetDeviceCount(&devices);
  if (err != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "quickstart: no CUDA device available (%s); nothing to run.\n",
                 err != cudaSuccess ? cudaGetErrorString(err) : "0 devices");
    return 2;
  }
  const int64_t n = 1 << 20;
  std::vector<float> x(n), dy(n);
  for (int64_t i = 0; i < n; ++i) {
    x[i] = -8.0f + 16.0f * static_cast<float>(i) / static_cast<float>(n);
    dy[i] = 0.5f + 0.25f * std::sin(0.001f * static_cast<float>(i));
  }
  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  float *d_x, *d_dy, *d_y, *d_dx;
  CHECK_CUDA(cudaMalloc(&d_x, n * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&d_dy, n * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&d_y, n * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&d_dx, n * sizeof(float)));
  CHECK_CUDA(cudaMemcpyAsync(d_x, x.data(), n * sizeof(float), cudaMemcpyHostToDevice, stream));
  CHECK_CUDA(cudaMemcpyAsync(d_dy, dy.data(), n * sizeof(float), cudaMemcpyHostToDevice, stream));

  std::printf("float32, n = %lld, x in [-8, 8)\n", static_cast<long long>(n));
  std::printf("| op           | y[n/3]     | dx[n/3]    | max |dy| err | max |dx| err |\n");
  std::printf("|--------------|------------|------------|-----------|-----------|\n");
  int failures = 0;
  failures += run_op("relu", cuact::Op::kRelu, cuact::Relu{cuact::ActParams{}}, d_x, d_dy, d_y,
                     d_dx, x, dy, stream);
  failures += run_op("gelu", cuact::Op::kGelu, cuact::Gelu{}, d_x, d_dy, d_y, d_dx, x, dy, stream);
  failures += run_op("silu", cuact::Op::kSilu, cuact::Silu{}, d_x, d_dy, d_y, d_dx, x, dy, stream);
  failures += run_op("mish", cuact::Op::kMish, cuact::Mish{}, d_x, d_dy, d_y, d_dx, x, dy, stream);
  failures += run_op("softplus", cuact::Op::kSoftplus, cuact::Softplus{}, d_x, d_dy, d_y, d_dx, x,
                     dy, stream);
  failures += run_op("elu", cuact::Op::kElu, cuact::Elu{cuact::ActParams{}}, d_x, d_dy, d_y, d_dx,
                     x, dy, stream);

  cudaFree(d_x);
  cudaFree(d_dy);
  cudaFree(d_y);
  cudaFree(d_dx);
  cudaStreamDestroy(stream);
  std::printf(failures == 0 ? "all results match the CPU\n" : "%d ops differ from the CPU\n",
              failures);
  return failures == 0 ? 0 : 1;
}
