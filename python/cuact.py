# SPDX-License-Identifier: Apache-2.0
"""ctypes bindings for libcuact's C ABI (include/cuact/cuact.h).

Works with any framework that hands out device pointers and streams:

    import torch, cuact
    x = torch.randn(1 << 20, device="cuda", dtype=torch.bfloat16)
    y = cuact.forward_tensor(cuact.Op.GELU, x)                  # torch tensors
    cuact.forward(cuact.Op.GELU, cuact.DType.BFLOAT16,          # raw pointers (CuPy: .data.ptr)
                  x.data_ptr(), y.data_ptr(), x.numel(),
                  stream=torch.cuda.current_stream().cuda_stream)

Every call is asynchronous on the given stream; errors raise CuactError with the library's
message naming the bad argument.
"""
import ctypes
import enum
import os


class Op(enum.IntEnum):
    LINEAR = 0
    RELU = 1
    ELU = 2
    SELU = 3
    SOFTPLUS = 4
    SOFTSIGN = 5
    TANH = 6
    SIGMOID = 7
    HARD_SIGMOID = 8
    EXPONENTIAL = 9
    LEAKY_RELU = 10
    THRESHOLDED_RELU = 11
    RELU6 = 12
    GELU = 13
    GELU_TANH = 14
    SILU = 15
    MISH = 16
    HARD_SWISH = 17
    CELU = 18
    LOG_SIGMOID = 19
    HARD_SIGMOID_RELU6 = 20


class DType(enum.IntEnum):
    FLOAT32 = 0
    FLOAT16 = 1
    BFLOAT16 = 2
    FLOAT64 = 3


class Saved(enum.IntEnum):
    INPUT = 0
    OUTPUT = 1


class SoftmaxKind(enum.IntEnum):
    SOFTMAX = 0
    LOG_SOFTMAX = 1


class ActParams(ctypes.Structure):
    """Keras parameters; a default-constructed one has Keras's defaults (see defaults())."""

    _fields_ = [(name, ctypes.c_double) for name in (
        "relu_alpha", "relu_max_value", "relu_threshold", "elu_alpha", "leaky_alpha", "theta",
        "hard_sigmoid_slope", "hard_sigmoid_offset", "celu_alpha")]


class SoftmaxKernelInfo(ctypes.Structure):
    """cuactSoftmaxKernelInfo: which kernel a softmax call launches."""

    _fields_ = [("tier", ctypes.c_char_p), ("block_threads", ctypes.c_int),
                ("vector_elements", ctypes.c_int), ("cluster_blocks", ctypes.c_int),
                ("blocks_per_row", ctypes.c_int), ("grid_blocks", ctypes.c_int64),
                ("dynamic_smem_bytes", ctypes.c_int64), ("reserved", ctypes.c_int64 * 4)]


class CuactError(RuntimeError):
    def __init__(self, status, detail):
        super().__init__(f"cuact status {status}: {detail}")
        self.status = status


_lib = None


def load(path=None):
    """Loads libcuact (path, $CUACT_LIBRARY, or libcuact.so on the loader path) once."""
    global _lib
    if _lib is not None and path is None:
        return _lib
    lib = ctypes.CDLL(path or os.environ.get("CUACT_LIBRARY", "libcuact.so"))
    vp, i64 = ctypes.c_void_p, ctypes.c_int64
    lib.cuactForward.argtypes = [ctypes.c_int, ctypes.c_int, vp, vp, i64,
                                 ctypes.POINTER(ActParams), vp]
    lib.cuactBackward.argtypes = [ctypes.c_int, ctypes.c_int, vp, vp, ctypes.c_int, vp, i64,
                                  ctypes.POINTER(ActParams), vp]
    lib.cuactHasOutputDerivative.argtypes = [ctypes.c_int, ctypes.POINTER(ActParams)]
    lib.cuactDefaultActParams.argtypes = [ctypes.POINTER(ActParams)]
    for name in ("cuactGetStatusString", "cuactGetOpName"):
        getattr(lib, name).argtypes = [ctypes.c_int]
        getattr(lib, name).restype = ctypes.c_char_p
    lib.cuactSoftmaxForward.argtypes = [ctypes.c_int, ctypes.c_int, vp, vp, i64, i64, i64,
                                        ctypes.c_int, vp]
    lib.cuactSoftmaxBackward.argtypes = [ctypes.c_int, ctypes.c_int, vp, vp, vp, i64, i64, i64, vp]
    lib.cuactMakeSoftmaxShape.argtypes = [ctypes.POINTER(ctypes.c_int64), ctypes.c_int,
                                          ctypes.c_int, ctypes.POINTER(ctypes.c_int64)]
    lib.cuactGetSoftmaxKernelInfo.argtypes = [ctypes.c_int, ctypes.c_int, vp, vp, vp, i64, i64,
                                              i64, vp, ctypes.POINTER(SoftmaxKernelInfo)]
    lib.cuactGetLastErrorDetail.restype = ctypes.c_char_p
    lib.cuactGetOpCount.restype = ctypes.c_int
    _lib = lib
    return lib


def defaults():
    p = ActParams()
    load().cuactDefaultActParams(ctypes.byref(p))
    return p


def _check(status):
    if status != 0:
        raise CuactError(status, load().cuactGetLastErrorDetail().decode())


def _params(params):
    return ctypes.byref(params) if params is not None else None


def forward(op, dtype, x, y, n, params=None, stream=0):
    """y = f(x) on device pointers x, y (ints) of n elements."""
    _check(load().cuactForward(int(op), int(dtype), x, y, n, _params(params), stream or None))


def backward(op, dtype, dy, saved, which, dx, n, params=None, stream=0):
    """dx = dy * f'(saved); which is Saved.INPUT (x) or Saved.OUTPUT (y)."""
    _check(load().cuactBackward(int(op), int(dtype), dy, saved, int(which), dx, n,
                                _params(params), stream or None))


def has_output_derivative(op, params=None):
    return bool(load().cuactHasOutputDerivative(int(op), _params(params)))


def softmax_shape(dims, axis=-1):
    """(outer, dim, inner) for a shape and an axis (negative counts from the end)."""
    arr = (ctypes.c_int64 * len(dims))(*dims)
    out = (ctypes.c_int64 * 3)()
    _check(load().cuactMakeSoftmaxShape(arr, len(dims), axis, out))
    return tuple(out)


def softmax_forward(kind, dtype, x, y, shape, safe=False, stream=0):
    """softmax / log_softmax over shape = (outer, dim, inner) on device pointers."""
    outer, dim, inner = shape
    _check(load().cuactSoftmaxForward(int(kind), int(dtype), x, y, outer, dim, inner,
                                      int(bool(safe)), stream or None))


def softmax_backward(kind, dtype, y, dy, dx, shape, stream=0):
    """dx from the saved output y and the upstream dy."""
    outer, dim, inner = shape
    _check(load().cuactSoftmaxBackward(int(kind), int(dtype), y, dy, dx, outer, dim, inner,
                                       stream or None))


def softmax_kernel_info(dtype, backward, a, b, c, shape, stream=0):
    """The kernel softmax_forward (a = x, b = y) or softmax_backward (a = y, b = dy, c = dx)
    would launch, as a dict; launches nothing."""
    outer, dim, inner = shape
    info = SoftmaxKernelInfo()
    _check(load().cuactGetSoftmaxKernelInfo(int(dtype), int(bool(backward)), a, b, c, outer, dim,
                                            inner, stream or None, ctypes.byref(info)))
    return {"tier": info.tier.decode(), "block_threads": info.block_threads,
            "vector_elements": info.vector_elements, "cluster_blocks": info.cluster_blocks,
            "blocks_per_row": info.blocks_per_row, "grid_blocks": info.grid_blocks,
            "dynamic_smem_bytes": info.dynamic_smem_bytes}


def softmax_tensor(x, axis=-1, log=False, out=None, safe=False):
    """Torch convenience: softmax (or log_softmax) of x over axis on the current stream."""
    import torch
    out = torch.empty_like(x) if out is None else out
    kind = SoftmaxKind.LOG_SOFTMAX if log else SoftmaxKind.SOFTMAX
    softmax_forward(kind, _torch_dtype(x), x.data_ptr(), out.data_ptr(),
                    softmax_shape(list(x.shape), axis), safe,
                    torch.cuda.current_stream().cuda_stream)
    return out


def _torch_dtype(t):
    import torch
    table = {torch.float32: DType.FLOAT32, torch.float16: DType.FLOAT16,
             torch.bfloat16: DType.BFLOAT16, torch.float64: DType.FLOAT64}
    if t.dtype not in table or not t.is_cuda or not t.is_contiguous():
        raise TypeError("cuact needs a contiguous CUDA tensor of float32/float16/bfloat16/float64")
    return table[t.dtype]


def forward_tensor(op, x, out=None, params=None):
    """Torch convenience: returns f(x) (in out if given) on the current stream."""
    import torch
    out = torch.empty_like(x) if out is None else out
    forward(op, _torch_dtype(x), x.data_ptr(), out.data_ptr(), x.numel(), params,
            torch.cuda.current_stream().cuda_stream)
    return out


def backward_tensor(op, dy, saved, which=Saved.INPUT, out=None, params=None):
    """Torch convenience: returns dy * f'(saved) (in out if given) on the current stream."""
    import torch
    out = torch.empty_like(dy) if out is None else out
    backward(op, _torch_dtype(dy), dy.data_ptr(), saved.data_ptr(), which, out.data_ptr(),
             dy.numel(), params, torch.cuda.current_stream().cuda_stream)
    return out
