"""Pooling primitives on Cython kernels (NumPy twins in minidl/kernels/reference.py).

FLOPs: one per window element read (comparisons for max, additions for average).
"""
import numpy as np

from .. import kernels
from ..autograd.function import Function


class MaxPool2d(Function):
    """Shape: (N, C, H, W) -> (N, C, OH, OW); the gradient goes to each window's first maximum."""

    def forward(self, x, kernel, stride, padding, dilation):
        self.input_hw = x.shape[2:]
        self.window = kernel[0] * kernel[1]
        x = np.ascontiguousarray(x)
        # non-overlapping 2x2 windows have a kernel that keeps one byte per winner
        self.tiled_2x2 = kernel == stride == (2, 2) and padding == (0, 0) and dilation == (1, 1)
        if self.tiled_2x2:
            out, self.winners = kernels.max_pool2d_2x2_forward(x)
        else:
            out, self.winners = kernels.max_pool2d_forward(x, *kernel, *stride, *padding, *dilation)
        return out

    def backward(self, grad):
        backward = kernels.max_pool2d_2x2_backward if self.tiled_2x2 else kernels.max_pool2d_backward
        return backward(np.ascontiguousarray(grad), self.winners, *self.input_hw)

    def flops(self, out, x):
        return out.size * self.window


class AvgPool2d(Function):
    """Shape: (N, C, H, W) -> (N, C, OH, OW)."""

    def forward(self, x, kernel, stride, padding, count_include_pad):
        self.args = (*x.shape[2:], *kernel, *stride, *padding, count_include_pad)
        self.window = kernel[0] * kernel[1]
        return kernels.avg_pool2d_forward(np.ascontiguousarray(x), *kernel, *stride, *padding, count_include_pad)

    def backward(self, grad):
        return kernels.avg_pool2d_backward(np.ascontiguousarray(grad), *self.args)

    def flops(self, out, x):
        return out.size * self.window
