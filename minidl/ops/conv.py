"""Convolution as im2col + one batched GEMM (NumPy's matmul, i.e. BLAS).

Shapes, with G groups, Cg = C/G input and Kg = K/G output channels per group:
    x (N, C, H, W) --im2col--> cols (N, G, Cg*kh*kw, L), L = OH*OW
    weight (K, Cg, kh, kw) viewed as (G, Kg, Cg*kh*kw)
    out = weight @ cols -> (N, G, Kg, L) -> (N, K, OH, OW)
Small images fold the batch into the GEMM instead: cols (G, Cg*kh*kw, N*L), out (G, Kg, N*L).
Backward: d weight = sum_n grad @ cols^T, d cols = weight^T @ grad, then
col2im (the adjoint of im2col) gives d x.
"""
import numpy as np

from .. import kernels
from ..autograd.function import Function


# Below this many multiply-adds per image and group, one GEMM per image is mostly BLAS
# call overhead or a poor shape (B8's 4x4 images: 64 calls of ~2 us for 0.07 MFLOP each;
# B1's 32 calls of (32, 144) @ (144, 1024)), so the batch is folded into the GEMM's columns:
# im2col lays it out that way, and only the (smaller) output and its gradient are transposed.
# Measured fwd+bwd: B1 30.1 -> 24.5 ms folded; an 8x64x56x56 layer (115 M MACs per image) 68 vs 72.
FOLD_BATCH_BELOW_MACS = 1 << 24


class Conv2d(Function):
    empty_batch = False

    def forward(self, x, weight, *bias, stride, padding, dilation, groups):
        n, c, h, w = x.shape
        k, cg, kh, kw = weight.shape
        (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
        self.geometry = (kh, kw, sh, sw, ph, pw, dh, dw)
        self.input_shape, self.groups = x.shape, groups
        oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        if n == 0:  # as PyTorch: an empty output, and zero gradients for weight and bias
            self.empty_batch, self.parameter_shapes = True, (weight.shape, k)
            return np.zeros((0, k, oh, ow), dtype=x.dtype)
        self.weight = weight.reshape(groups, k // groups, cg * kh * kw)
        self.folded = (k // groups) * cg * kh * kw * oh * ow < FOLD_BATCH_BELOW_MACS
        # folded: im2col lays the batch side by side in each row, (G, Cg*kh*kw, N*L), and
        # one GEMM per group covers the whole batch; else one GEMM per image and group
        cols = kernels.im2col(np.ascontiguousarray(x), *self.geometry, batch_in_columns=self.folded)
        if self.folded:
            self.cols = cols.reshape(groups, cg * kh * kw, n * oh * ow)
            out = np.matmul(self.weight, self.cols)  # (G, Kg, N*L)
            # (K, N*L) rows to (N, K, L) images and the bias, in one pass: the layers after a
            # conv get contiguous arrays
            b = np.ascontiguousarray(bias[0]) if bias else None
            return kernels.gemm_rows_to_batch(out.reshape(k, n * oh * ow), n, b).reshape(n, k, oh, ow)
        self.cols = cols.reshape(n, groups, cg * kh * kw, oh * ow)
        out = np.matmul(self.weight, self.cols).reshape(n, k, oh, ow)  # (N, G, Kg, L), contiguous
        if bias:
            out += bias[0].reshape(1, k, 1, 1)
        return out

    def backward(self, grad):
        n, c, h, w = self.input_shape
        g = self.groups
        if self.empty_batch:
            weight_shape, k = self.parameter_shapes
            return np.zeros(self.input_shape, grad.dtype), np.zeros(weight_shape, grad.dtype), np.zeros(k, grad.dtype)
        length = grad.shape[2] * grad.shape[3]
        want_grad_b = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        folded_grad_b = None
        if self.folded:  # (G, Kg, N*L) in one pass, summing each channel for the bias gradient on the way
            rows, folded_grad_b = kernels.batch_to_gemm_rows(
                np.ascontiguousarray(grad).reshape(n, -1, length), want_grad_b)
            grad_groups = rows.reshape(g, -1, n * length)
        else:  # e.g. a broadcast from sum(): copy once, not in both GEMMs
            grad_groups = np.ascontiguousarray(grad).reshape(n, g, -1, length)  # (N, G, Kg, L)
        grad_x = grad_w = grad_b = None
        if self.needs_input_grad[0]:
            grad_cols = np.matmul(self.weight.transpose(0, 2, 1), grad_groups)  # (N, G, CKK, L) or (G, CKK, N*L)
            grad_cols = grad_cols.reshape(-1, n, length) if self.folded else grad_cols.reshape(n, -1, length)
            grad_x = kernels.col2im(grad_cols, c, h, w, *self.geometry, batch_in_columns=self.folded)
        if self.needs_input_grad[1]:
            # cols read transposed in place (BLAS takes the flag); unfolded: one GEMM per image, then a sum over the batch
            grad_w = np.matmul(grad_groups, self.cols.swapaxes(-1, -2))
            grad_w = (grad_w if self.folded else grad_w.sum(axis=0)).reshape(-1, c // g, *self.geometry[:2])
        if want_grad_b:
            if self.folded:
                grad_b = folded_grad_b
            else:  # row sums as a GEMV with ones: 3-6x faster than grad.sum(axis=(0, 2, 3))
                rows = grad_groups.reshape(-1, length)
                grad_b = (rows @ np.ones(length, dtype=rows.dtype)).reshape(n, -1).sum(axis=0)
        return grad_x, grad_w, grad_b

    def macs(self, out, x, weight, *bias):
        return out.size * weight[0].size  # F*F*D1 per output element: the homework's count

    def flops(self, out, x, weight, *bias):
        return 2 * self.macs(out, x, weight) + (out.size if bias else 0)
