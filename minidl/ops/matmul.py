"""Batched matrix product (both operands at least 2-D; `minidl.tensor.matmul` handles 1-D)."""
import numpy as np

from ..autograd.function import Function


class MatMul(Function):
    """(..., n, k) @ (..., k, m) -> (..., n, m); batch dims broadcast. FLOPs: 2*n*k*m per matrix."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return np.matmul(a, b)

    def backward(self, grad):
        a, b = self.saved
        grad_a = np.matmul(grad, np.swapaxes(b, -1, -2)) if self.needs_input_grad[0] else None
        grad_b = np.matmul(np.swapaxes(a, -1, -2), grad) if self.needs_input_grad[1] else None
        return grad_a, grad_b

    def macs(self, out, a, b):
        return out.size * a.shape[-1]

    def flops(self, out, a, b):
        return 2 * self.macs(out, a, b)
