"""Convolution as im2col + one batched GEMM (NumPy's matmul, i.e. BLAS).

Shapes, with G groups, Cg = C/G input and Kg = K/G output channels per group:
    x (N, C, H, W) --im2col--> cols (N, G, Cg*kh*kw, L), L = OH*OW
    weight (K, Cg, kh, kw) viewed as (G, Kg, Cg*kh*kw)
    out = weight @ cols -> (N, G, Kg, L) -> (N, K, OH, OW)
Backward: d weight = sum_n grad @ cols^T, d cols = weight^T @ grad, then
col2im (the adjoint of im2col) gives d x.
"""
import numpy as np

from .. import kernels
from ..autograd.function import Function


class Conv2d(Function):
    def forward(self, x, weight, *bias, stride, padding, dilation, groups):
        n, c, h, w = x.shape
        k, cg, kh, kw = weight.shape
        (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
        self.geometry = (kh, kw, sh, sw, ph, pw, dh, dw)
        self.input_shape, self.groups = x.shape, groups
        cols = kernels.get("im2col")(np.ascontiguousarray(x), *self.geometry)
        self.cols = cols.reshape(n, groups, cg * kh * kw, -1)
        self.weight = weight.reshape(groups, k // groups, cg * kh * kw)
        out = np.matmul(self.weight, self.cols)  # (N, G, Kg, L)
        oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        out = out.reshape(n, k, oh, -1)
        if bias:
            out += bias[0].reshape(1, k, 1, 1)
        return out

    def backward(self, grad):
        n, c, h, w = self.input_shape
        g = self.groups
        grad = np.ascontiguousarray(grad)  # e.g. a broadcast from sum(): copy once, not in both GEMMs
        grad_groups = grad.reshape(n, g, -1, grad.shape[2] * grad.shape[3])  # (N, G, Kg, L)
        grad_x = grad_w = grad_b = None
        if self.needs_input_grad[0]:
            grad_cols = np.matmul(self.weight.transpose(0, 2, 1), grad_groups)  # (N, G, Cg*kh*kw, L)
            grad_x = kernels.get("col2im")(grad_cols.reshape(n, -1, grad_cols.shape[-1]), c, h, w, *self.geometry)
        if self.needs_input_grad[1]:
            # one GEMM per image with cols transposed in place (BLAS reads it as is), then a cheap sum
            # over the batch: 8x faster here than building one big (K, N*L) @ (N*L, C*kk) product
            grad_w = np.matmul(grad_groups, self.cols.swapaxes(-1, -2)).sum(axis=0)
            grad_w = grad_w.reshape(-1, c // g, *self.geometry[:2])
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            grad_b = grad.sum(axis=(0, 2, 3))
        return grad_x, grad_w, grad_b

    def macs(self, out, x, weight, *bias):
        return out.size * weight[0].size  # F*F*D1 per output element: the homework's count

    def flops(self, out, x, weight, *bias):
        return 2 * self.macs(out, x, weight) + (out.size if bias else 0)
