"""Transposed convolution: the adjoint of Conv2d's input gradient, so its forward is a GEMM
then col2im, and its backward an im2col then two GEMMs (the convolution's work turned round).

Shape: x (N, Cin, H, W), weight (Cin, Cout/groups, kh, kw), bias (Cout,) -> (N, Cout, OH, OW),
where `window` is the convolution window over the (OH, OW) output that has (H, W) outputs.
FLOPs: 2 * N * H * W * Cin * Cout/groups * kh * kw (the GEMMs), plus one per output for the bias.
"""
import numpy as np

from .. import kernels
from ..autograd.function import Function


class ConvTranspose2d(Function):
    def forward(self, x, weight, *bias, window, groups):
        self.window, self.groups = window, groups
        n, c_in, h, w = x.shape
        per_in, per_out = c_in // groups, weight.shape[1]
        self.save_for_backward(x, weight)
        x_rows = np.ascontiguousarray(x).reshape(n, c_in, h * w)
        w_rows = weight.reshape(c_in, per_out * window.taps)
        outs = []
        for g in range(groups):
            ins = slice(g * per_in, (g + 1) * per_in)
            cols = np.matmul(w_rows[ins].T, x_rows[:, ins])  # (N, per_out*kh*kw, H*W)
            outs.append(kernels.col2im(np.ascontiguousarray(cols), per_out, window))
        out = outs[0] if groups == 1 else np.concatenate(outs, axis=1)
        if bias:
            out += bias[0].reshape(1, -1, 1, 1)
        return out

    def backward(self, grad):
        x, weight = self.saved
        window, groups = self.window, self.groups
        n, c_in, h, w = x.shape
        per_in, per_out = c_in // groups, weight.shape[1]
        x_rows = np.ascontiguousarray(x).reshape(n, c_in, h * w)
        w_rows = weight.reshape(c_in, per_out * window.taps)
        grad = np.ascontiguousarray(grad)
        grad_x = np.empty_like(x_rows) if self.needs_input_grad[0] else None
        grad_w = np.empty_like(w_rows) if self.needs_input_grad[1] else None
        for g in range(groups):
            ins = slice(g * per_in, (g + 1) * per_in)
            cols = kernels.im2col(np.ascontiguousarray(grad[:, g * per_out : (g + 1) * per_out]), window)
            if grad_x is not None:
                grad_x[:, ins] = np.matmul(w_rows[ins], cols)
            if grad_w is not None:
                grad_w[ins] = np.matmul(x_rows[:, ins], cols.transpose(0, 2, 1)).sum(axis=0)
        grads = [None if grad_x is None else grad_x.reshape(x.shape), None if grad_w is None else grad_w.reshape(weight.shape)]
        if len(self.needs_input_grad) > 2:
            grads.append(grad.sum(axis=(0, 2, 3)) if self.needs_input_grad[2] else None)
        return tuple(grads)

    def macs(self, out, x, weight, *bias):
        return x.size * weight.shape[1] * self.window.taps

    def flops(self, out, x, weight, *bias):
        return 2 * self.macs(out, x, weight) + (out.size if bias else 0)
