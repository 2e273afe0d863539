"""Affine map as one primitive: x @ W^T + b.

As MatMul + Add it took two graph nodes, a fresh array for the sum, and an
un-broadcast sum for d b; fused, the bias is added in place and the backward is
three BLAS/NumPy calls. Leading dims of x are folded into one GEMM.
Shape: x (*, in), weight (out, in), bias (out,) -> (*, out).
FLOPs: 2*in per output element for the product, plus 1 for the bias.
"""
import numpy as np

from ..autograd.function import Function


class Linear(Function):
    def forward(self, x, weight, *bias):
        self.save_for_backward(x, weight)
        out = x.reshape(-1, x.shape[-1]) @ weight.T  # (rows, out)
        if bias:
            if bias[0].dtype == out.dtype:
                out += bias[0]
            else:
                out = out + bias[0]
        return out.reshape(x.shape[:-1] + (weight.shape[0],))

    def backward(self, grad):
        x, weight = self.saved
        rows = np.ascontiguousarray(grad).reshape(-1, weight.shape[0])
        grad_x = (rows @ weight).reshape(x.shape) if self.needs_input_grad[0] else None
        grad_w = rows.T @ x.reshape(-1, x.shape[-1]) if self.needs_input_grad[1] else None
        grad_b = None
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            grad_b = np.ones(len(rows), rows.dtype) @ rows  # column sums as a GEMV: faster than a strided sum(axis=0)
        return grad_x, grad_w, grad_b

    def macs(self, out, x, weight, *bias):
        return out.size * weight.shape[1]

    def flops(self, out, x, weight, *bias):
        return 2 * self.macs(out, x, weight) + (out.size if bias else 0)
