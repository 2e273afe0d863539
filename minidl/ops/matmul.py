"""Batched matrix product (both operands at least 2-D; `minidl.tensor.matmul` handles 1-D)."""
import math

import numpy as np

from ..autograd.function import Function


def _rows(x):
    """(..., n, k) as one (N*n, k) matrix (a view when x is contiguous)."""
    return x.reshape(math.prod(x.shape[:-1]), x.shape[-1])  # explicit: -1 is ambiguous when k is 0


class MatMul(Function):
    """(..., n, k) @ (..., k, m) -> (..., n, m); batch dims broadcast. FLOPs: 2*n*k*m per matrix.

    When b is a plain matrix (every Linear layer on a batch of sequences), the
    leading dims of a are folded into one GEMM: NumPy would otherwise run one
    small GEMM per batch item, and backward would then sum B copies of d b.
    """

    def forward(self, a, b):
        self.save_for_backward(a, b)
        if b.ndim == 2 and a.ndim > 2:
            return (_rows(a) @ b).reshape(a.shape[:-1] + (b.shape[1],))
        return np.matmul(a, b)

    def backward(self, grad):
        a, b = self.saved
        if b.ndim == 2 and a.ndim > 2:
            rows = _rows(np.ascontiguousarray(grad))
            grad_a = (rows @ b.T).reshape(a.shape) if self.needs_input_grad[0] else None
            grad_b = _rows(a).T @ rows if self.needs_input_grad[1] else None
            return grad_a, grad_b
        grad_a = np.matmul(grad, np.swapaxes(b, -1, -2)) if self.needs_input_grad[0] else None
        grad_b = np.matmul(np.swapaxes(a, -1, -2), grad) if self.needs_input_grad[1] else None
        return grad_a, grad_b

    def macs(self, out, a, b):
        return out.size * a.shape[-1]

    def flops(self, out, a, b):
        return 2 * self.macs(out, a, b)
