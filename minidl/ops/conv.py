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


# Below this many multiply-adds per image and group, one GEMM per image is mostly BLAS
# call overhead (B8's 4x4 images: 64 calls of ~2 us for 0.07 MFLOP each), so the batch
# is folded into the GEMM's columns instead, at the price of two small transposed copies.
FOLD_BATCH_BELOW_MACS = 1 << 19


class Conv2d(Function):
    def forward(self, x, weight, *bias, stride, padding, dilation, groups):
        n, c, h, w = x.shape
        k, cg, kh, kw = weight.shape
        (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
        self.geometry = (kh, kw, sh, sw, ph, pw, dh, dw)
        self.input_shape, self.groups = x.shape, groups
        cols = kernels.get("im2col")(np.ascontiguousarray(x), *self.geometry)
        cols = cols.reshape(n, groups, cg * kh * kw, -1)  # (N, G, Cg*kh*kw, L)
        self.weight = weight.reshape(groups, k // groups, cg * kh * kw)
        length = cols.shape[-1]
        self.folded = (k // groups) * cg * kh * kw * length < FOLD_BATCH_BELOW_MACS
        if self.folded:  # (G, Cg*kh*kw, N*L): one GEMM per group for the whole batch
            self.cols = cols.transpose(1, 2, 0, 3).reshape(groups, cg * kh * kw, n * length)
            out = np.matmul(self.weight, self.cols).reshape(groups, k // groups, n, length).transpose(2, 0, 1, 3)
        else:
            self.cols = cols
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
        length = grad.shape[2] * grad.shape[3]
        grad_groups = grad.reshape(n, g, -1, length)  # (N, G, Kg, L)
        if self.folded:
            grad_groups = grad_groups.transpose(1, 2, 0, 3).reshape(g, -1, n * length)  # (G, Kg, N*L)
        grad_x = grad_w = grad_b = None
        if self.needs_input_grad[0]:
            grad_cols = np.matmul(self.weight.transpose(0, 2, 1), grad_groups)  # (N, G, CKK, L) or (G, CKK, N*L)
            if self.folded:
                grad_cols = grad_cols.reshape(g, -1, n, length).transpose(2, 0, 1, 3)
            grad_x = kernels.get("col2im")(np.ascontiguousarray(grad_cols).reshape(n, -1, length), c, h, w, *self.geometry)
        if self.needs_input_grad[1]:
            # unfolded: one GEMM per image with cols transposed in place (BLAS reads it as is), then a
            # cheap sum over the batch: 8x faster on B1 than building one big (K, N*L) @ (N*L, C*kk) product
            grad_w = np.matmul(grad_groups, self.cols.swapaxes(-1, -2))
            grad_w = (grad_w if self.folded else grad_w.sum(axis=0)).reshape(-1, c // g, *self.geometry[:2])
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            grad_b = grad.sum(axis=(0, 2, 3))
        return grad_x, grad_w, grad_b

    def macs(self, out, x, weight, *bias):
        return out.size * weight[0].size  # F*F*D1 per output element: the homework's count

    def flops(self, out, x, weight, *bias):
        return 2 * self.macs(out, x, weight) + (out.size if bias else 0)
