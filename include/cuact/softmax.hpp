// SPDX-License-Identifier: Apache-2.0
//! @file cuact/softmax.hpp
//! Host API: softmax and log_softmax over any axis, forward and backward.
//!
//! The tensor is seen as (outer, dim, inner) in row-major order: the reduction runs over `dim`,
//! element (o, d, i) is at o * dim * inner + d * inner + i. The last axis is inner == 1; a middle
//! axis (inner > 1) is handled without a transpose. make_softmax_shape() turns a shape array and
//! an axis (negative counts from the end; Keras's default is -1) into this form.
//!
//! Same contracts as cuact/activation.hpp: the caller's stream, no synchronisation, no
//! allocation, specific statuses for bad arguments with nothing launched, n == 0 a no-op. In
//! place is allowed (y == x; dx == dy or dx == y); any other overlap is rejected.
//!
//! Semantics: max-subtracted, stable for any finite input; log_softmax is x - max - log(sum),
//! never log(softmax). Entries of -inf get probability 0. A row of all -inf gives NaN (as PyTorch,
//! TensorFlow and JAX do), or with SoftmaxOptions::all_masked_rows_give_zero a row of 0 (softmax)
//! and -inf (log_softmax). NaN or +inf anywhere in a row makes the whole row NaN. dim == 1 gives 1
//! (softmax) and 0 (log_softmax). Accumulation: float for 16-bit types, double for float32 and
//! float64; each output rounded once.
//!
//! Backward takes the saved output y: softmax dx = y (dy - sum(y dy)); log_softmax
//! dx = dy - exp(y) sum(dy). One kernel per call.
//!
//! @code
//!   cuact::SoftmaxShape s;
//!   const int64_t dims[] = {32, 1000, 1024};
//!   cuact::make_softmax_shape(dims, 3, 1, &s);   // softmax over the middle axis
//!   cuact::softmax_forward(cuact::SoftmaxKind::kSoftmax, cuact::DType::kBFloat16, d_x, d_y, s,
//!                          {}, stream);
//! @endcode
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuact/export.hpp"
#include "cuact/types.hpp"

namespace cuact {

enum class SoftmaxKind : int {
  kSoftmax = 0,
  kLogSoftmax = 1,
};

//! (outer, dim, inner): the reduction is over dim; see the file comment for the layout.
struct SoftmaxShape {
  int64_t outer = 0;
  int64_t dim = 0;
  int64_t inner = 1;
};

struct SoftmaxOptions {
  //! A row whose entries are all -inf gives 0 (softmax) / -inf (log_softmax) instead of NaN.
  bool all_masked_rows_give_zero = false;
};

//! dims[0..ndim) (each >= 0, ndim >= 1) and axis in [-ndim, ndim) to (outer, dim, inner).
//! kErrorInvalidShape for ndim < 1, a negative extent or an element count beyond int64;
//! kErrorInvalidAxis for an axis out of range; kErrorNullPointer for null dims or out.
CUACT_API Status make_softmax_shape(const int64_t* dims, int ndim, int axis,
                                    SoftmaxShape* out) noexcept;

//! y = softmax(x) or log_softmax(x) over shape.dim.
CUACT_API Status softmax_forward(SoftmaxKind kind, DType dtype, const void* x, void* y,
                                 const SoftmaxShape& shape, const SoftmaxOptions& options,
                                 cudaStream_t stream) noexcept;

//! dx from the saved output y and the upstream gradient dy.
CUACT_API Status softmax_backward(SoftmaxKind kind, DType dtype, const void* y, const void* dy,
                                  void* dx, const SoftmaxShape& shape,
                                  cudaStream_t stream) noexcept;

//! The kernel a softmax call launches, as softmax_kernel_info reports it.
struct SoftmaxKernelInfo {
  //! "warp_row", "block_regs", "smem_row", "cluster_row", "grid_row", "block_row",
  //! "column_tile", "column_tile_reread" or "column" (README, kernel choice); "none" for n == 0.
  const char* tier = "none";
  int block_threads = 0;
  int vector_elements = 0;  //!< elements per load: 16 bytes' worth, or 1 (scalar)
  int cluster_blocks = 0;   //!< blocks per thread-block cluster (1: no cluster)
  //! blocks sharing one row (grid tier) or one column tile's dim indices (column_tile or
  //! column_tile_reread over a cluster); 1 elsewhere
  int blocks_per_row = 0;
  int64_t grid_blocks = 0;
  int64_t dynamic_smem_bytes = 0;
  int64_t reserved[4] = {};  //!< room for later fields without changing the struct's size
};

//! What softmax_forward(kind, dtype, a, b, shape, ...) (backward == false; c unused) or
//! softmax_backward(kind, dtype, a = y, b = dy, c = dx, shape, ...) would launch on the current
//! device for these pointers (their alignment picks the load width) and this stream: the same
//! validation and the same plan, nothing launched, no stream work. For profiling and benchmarks.
//! The kind and options do not change the plan. info may not be null (even when n == 0); its
//! tier names are static strings of the library. The call itself may still fall back to a
//! smaller plan if the device refuses a cluster or cooperative launch (an SM partition the device
//! attributes do not show).
CUACT_API Status softmax_kernel_info(DType dtype, bool backward, const void* a, const void* b,
                                     const void* c, const SoftmaxShape& shape, cudaStream_t stream,
                                     SoftmaxKernelInfo* info) noexcept;

}  // namespace cuact
