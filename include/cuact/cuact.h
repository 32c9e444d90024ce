/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cuact/cuact.h
 * Stable C ABI of cuact, for C callers and Python ctypes (PyTorch / CuPy device pointers).
 *
 * All integer enum values are stable. Streams are passed as `void*` (a `cudaStream_t`, e.g.
 * `torch.cuda.current_stream().cuda_stream` or `cupy.cuda.get_current_stream().ptr`; NULL is
 * the legacy default stream). Same contracts as cuact/activation.hpp: no synchronisation, no
 * allocation, in place allowed, partial overlap rejected, n == 0 is a no-op.
 *
 * Python:
 *   lib = ctypes.CDLL("libcuact.so")
 *   p = CuactActParams(); lib.cuactDefaultActParams(ctypes.byref(p))
 *   st = lib.cuactForward(CUACT_OP_GELU, CUACT_DTYPE_BFLOAT16, x.data_ptr(), y.data_ptr(),
 *                         ctypes.c_int64(x.numel()), ctypes.byref(p), stream_ptr)
 */
#ifndef CUACT_CUACT_H_
#define CUACT_CUACT_H_

#include <stdint.h>

#include "cuact/export.hpp"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cuactStatus_t {
  CUACT_STATUS_SUCCESS = 0,
  CUACT_STATUS_NULL_POINTER = 1,
  CUACT_STATUS_NEGATIVE_SIZE = 2,
  CUACT_STATUS_UNKNOWN_OP = 3,
  CUACT_STATUS_UNKNOWN_DTYPE = 4,
  CUACT_STATUS_INVALID_PARAMETER = 5,
  CUACT_STATUS_GRADIENT_NEEDS_INPUT = 6,
  CUACT_STATUS_UNKNOWN_SAVED = 7,
  CUACT_STATUS_PARTIAL_OVERLAP = 8,
  CUACT_STATUS_MISALIGNED_POINTER = 9,
  CUACT_STATUS_CUDA_LAUNCH = 10,
  CUACT_STATUS_NO_DEVICE = 11,
  CUACT_STATUS_INVALID_SHAPE = 12,
  CUACT_STATUS_INVALID_AXIS = 13
} cuactStatus_t;

typedef enum cuactDType_t {
  CUACT_DTYPE_FLOAT32 = 0,
  CUACT_DTYPE_FLOAT16 = 1,
  CUACT_DTYPE_BFLOAT16 = 2,
  CUACT_DTYPE_FLOAT64 = 3
} cuactDType_t;

typedef enum cuactOp_t {
  CUACT_OP_LINEAR = 0,
  CUACT_OP_RELU = 1,
  CUACT_OP_ELU = 2,
  CUACT_OP_SELU = 3,
  CUACT_OP_SOFTPLUS = 4,
  CUACT_OP_SOFTSIGN = 5,
  CUACT_OP_TANH = 6,
  CUACT_OP_SIGMOID = 7,
  CUACT_OP_HARD_SIGMOID = 8,
  CUACT_OP_EXPONENTIAL = 9,
  CUACT_OP_LEAKY_RELU = 10,
  CUACT_OP_THRESHOLDED_RELU = 11,
  CUACT_OP_RELU6 = 12,
  CUACT_OP_GELU = 13,
  CUACT_OP_GELU_TANH = 14,
  CUACT_OP_SILU = 15,
  CUACT_OP_MISH = 16,
  CUACT_OP_HARD_SWISH = 17,
  CUACT_OP_CELU = 18,
  CUACT_OP_LOG_SIGMOID = 19,
  CUACT_OP_HARD_SIGMOID_RELU6 = 20
} cuactOp_t;

typedef enum cuactSaved_t { CUACT_SAVED_INPUT = 0, CUACT_SAVED_OUTPUT = 1 } cuactSaved_t;

/** Same fields, order and defaults as cuact::ActParams (see cuact/types.hpp). */
typedef struct cuactActParams {
  double relu_alpha;
  double relu_max_value; /**< +inf means None */
  double relu_threshold;
  double elu_alpha;
  double leaky_alpha;
  double theta;
  double hard_sigmoid_slope;
  double hard_sigmoid_offset;
  double celu_alpha;
} cuactActParams;

/** Fills *params with the Keras defaults. */
CUACT_API void cuactDefaultActParams(cuactActParams* params);

/** y = f(x). params may be NULL (defaults). Returns a cuactStatus_t value. */
CUACT_API int cuactForward(int op, int dtype, const void* x, void* y, int64_t n,
                           const cuactActParams* params, void* stream);

/** dx = dy * f'(saved); saved_kind is a cuactSaved_t. params may be NULL (defaults). */
CUACT_API int cuactBackward(int op, int dtype, const void* dy, const void* saved, int saved_kind,
                            void* dx, int64_t n, const cuactActParams* params, void* stream);

/** 1 if op with params has a y-based derivative, else 0. */
CUACT_API int cuactHasOutputDerivative(int op, const cuactActParams* params);

typedef enum cuactSoftmaxKind_t { CUACT_SOFTMAX = 0, CUACT_LOG_SOFTMAX = 1 } cuactSoftmaxKind_t;

/** shape[0..ndim) and axis (negative counts from the end) to out3 = {outer, dim, inner}. */
CUACT_API int cuactMakeSoftmaxShape(const int64_t* dims, int ndim, int axis, int64_t* out3);

/** Softmax or log_softmax (kind) over dim of an (outer, dim, inner) tensor.
 *  all_masked_rows_give_zero != 0 turns all -inf rows into 0 (softmax) / -inf (log_softmax). */
CUACT_API int cuactSoftmaxForward(int kind, int dtype, const void* x, void* y, int64_t outer,
                                  int64_t dim, int64_t inner, int all_masked_rows_give_zero,
                                  void* stream);

/** Backward from the saved output y and upstream dy. */
CUACT_API int cuactSoftmaxBackward(int kind, int dtype, const void* y, const void* dy, void* dx,
                                   int64_t outer, int64_t dim, int64_t inner, void* stream);

/** Which kernel a softmax call launches (cuact::SoftmaxKernelInfo); tier is a static string. */
typedef struct cuactSoftmaxKernelInfo {
  const char* tier;
  int block_threads;
  int vector_elements;
  int cluster_blocks;
  int blocks_per_row;
  int64_t grid_blocks;
  int64_t dynamic_smem_bytes;
  int64_t reserved[4];
} cuactSoftmaxKernelInfo;

/** What cuactSoftmaxForward (backward = 0: a = x, b = y) or cuactSoftmaxBackward (backward != 0:
 *  a = y, b = dy, c = dx) would launch for these arguments on the current device; launches
 *  nothing. */
CUACT_API int cuactGetSoftmaxKernelInfo(int dtype, int backward, const void* a, const void* b,
                                        const void* c, int64_t outer, int64_t dim, int64_t inner,
                                        void* stream, cuactSoftmaxKernelInfo* info);

/** Static description of a status; never NULL. */
CUACT_API const char* cuactGetStatusString(int status);
/** Detail of this thread's last failed call, naming the argument; "" after a success. */
CUACT_API const char* cuactGetLastErrorDetail(void);
/** Name of an op ("gelu"), "unknown" outside the enum. */
CUACT_API const char* cuactGetOpName(int op);
/** Number of ops (they are numbered 0 .. count-1). */
CUACT_API int cuactGetOpCount(void);

#ifdef __cplusplus
}
#endif

#endif /* CUACT_CUACT_H_ */
