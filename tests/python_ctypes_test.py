# SPDX-License-Identifier: Apache-2.0
"""The Python bindings against the real library, without a GPU: the enums match cuact.h, the
parameter struct matches the C layout and defaults, and statuses come back with their detail."""
import ctypes
import math
import pathlib
import re
import sys
import unittest

root = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(root / "python"))
import cuact  # noqa: E402


def header_enum(prefix):
    text = (root / "include/cuact/cuact.h").read_text()
    return {m.group(1): int(m.group(2))
            for m in re.finditer(rf"CUACT_{prefix}_([A-Z0-9_]+) = (\d+)", text)}


class Bindings(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cuact.load(sys.argv[1] if len(sys.argv) > 1 else None)

    def test_enums_match_the_header(self):
        self.assertEqual({e.name: e.value for e in cuact.Op}, header_enum("OP"))
        self.assertEqual({e.name: e.value for e in cuact.DType}, header_enum("DTYPE"))
        self.assertEqual(cuact.load().cuactGetOpCount(), len(cuact.Op))
        for op in cuact.Op:
            self.assertEqual(cuact.load().cuactGetOpName(op).decode(), op.name.lower())

    def test_params_layout_and_defaults(self):
        self.assertEqual(ctypes.sizeof(cuact.ActParams), 9 * 8)
        p = cuact.defaults()
        self.assertEqual((p.relu_alpha, p.elu_alpha, p.leaky_alpha, p.theta), (0.0, 1.0, 0.3, 1.0))
        self.assertTrue(math.isinf(p.relu_max_value))
        self.assertEqual((p.hard_sigmoid_slope, p.hard_sigmoid_offset, p.celu_alpha), (0.2, 0.5, 1.0))

    def test_errors_carry_status_and_detail(self):
        with self.assertRaises(cuact.CuactError) as cm:
            cuact.forward(cuact.Op.GELU, cuact.DType.BFLOAT16, None, 4096, 10)
        self.assertEqual(cm.exception.status, 1)
        self.assertIn("x is null", str(cm.exception))
        p = cuact.defaults()
        p.celu_alpha = 0.0
        with self.assertRaises(cuact.CuactError) as cm:
            cuact.forward(cuact.Op.CELU, cuact.DType.FLOAT32, 4096, 8192, 10, p)
        self.assertIn("celu_alpha", str(cm.exception))
        with self.assertRaises(cuact.CuactError) as cm:
            cuact.backward(cuact.Op.SILU, cuact.DType.FLOAT32, 4096, 4096, cuact.Saved.OUTPUT,
                           8192, 10)
        self.assertEqual(cm.exception.status, 6)

    def test_softmax_shape_and_errors(self):
        self.assertEqual(cuact.softmax_shape([2, 3, 5, 7], axis=1), (2, 3, 35))
        self.assertEqual(cuact.softmax_shape([9]), (1, 9, 1))
        with self.assertRaises(cuact.CuactError) as cm:
            cuact.softmax_shape([2, 3], axis=2)
        self.assertEqual(cm.exception.status, 13)
        with self.assertRaises(cuact.CuactError) as cm:
            cuact.softmax_forward(cuact.SoftmaxKind.SOFTMAX, cuact.DType.FLOAT32, None, 4096,
                                  (2, 3, 1))
        self.assertIn("x is null", str(cm.exception))
        cuact.softmax_backward(cuact.SoftmaxKind.LOG_SOFTMAX, cuact.DType.FLOAT16, None, None,
                               None, (0, 3, 1))

    def test_softmax_kernel_info(self):
        self.assertEqual(ctypes.sizeof(cuact.SoftmaxKernelInfo), 8 + 4 * 4 + 2 * 8 + 4 * 8)
        info = cuact.softmax_kernel_info(cuact.DType.FLOAT32, True, None, None, None, (3, 0, 1))
        self.assertEqual(info["tier"], "none")
        with self.assertRaises(cuact.CuactError) as cm:
            cuact.softmax_kernel_info(cuact.DType.FLOAT16, False, None, 4096, None, (2, 3, 1))
        self.assertIn("x is null", str(cm.exception))
        self.assertEqual(cuact.load().cuactGetSoftmaxKernelInfo(0, 0, 4096, 8192, None, 2, 3, 1,
                                                                 None, None), 1)
        self.assertIn("info is null", cuact.load().cuactGetLastErrorDetail().decode())

    def test_zero_size_is_a_no_op(self):
        cuact.forward(cuact.Op.RELU, cuact.DType.FLOAT64, None, None, 0)

    def test_output_derivative_query(self):
        self.assertTrue(cuact.has_output_derivative(cuact.Op.SIGMOID))
        self.assertFalse(cuact.has_output_derivative(cuact.Op.MISH))
        p = cuact.defaults()
        p.leaky_alpha = -0.1
        self.assertFalse(cuact.has_output_derivative(cuact.Op.LEAKY_RELU, p))


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
