"""Pooling primitives on Cython kernels (NumPy twins in minidl/kernels/reference.py).

FLOPs: one per window element read (comparisons for max, additions for average).
"""
import numpy as np

from .. import kernels
from ..autograd.function import Function


class MaxPool2d(Function):
    """Shape: (N, C, H, W) -> (N, C, OH, OW) [, indices (N, C, OH, OW) int64 into each H*W plane];
    the gradient goes to each window's first maximum."""

    def forward(self, x, window, with_indices=False):
        self.window = window
        x = np.ascontiguousarray(x)
        # non-overlapping 2x2 windows have a kernel that keeps one byte per winner
        self.tiled_2x2 = window[:8] == (2, 2, 2, 2, 0, 0, 1, 1)
        if self.tiled_2x2:
            out, self.winners = kernels.max_pool2d_2x2_forward(x)
        else:
            out, self.winners = kernels.max_pool2d_forward(x, window)
        if not with_indices:
            return out
        return out, self._flat_indices()

    def _flat_indices(self):
        if not self.tiled_2x2:
            return self.winners.copy()
        oh, ow, w = self.window.oh, self.window.ow, self.window.w
        code = self.winners.astype(np.int64)  # 2 * row + column within each 2x2 window
        rows = 2 * np.arange(oh).reshape(oh, 1) + code // 2
        return rows * w + 2 * np.arange(ow) + code % 2

    def backward(self, grad, grad_indices=None):
        backward = kernels.max_pool2d_2x2_backward if self.tiled_2x2 else kernels.max_pool2d_backward
        return backward(np.ascontiguousarray(grad), self.winners, self.window.h, self.window.w)

    def flops(self, out, x):
        return out.size * self.window.taps


class AvgPool2d(Function):
    """Shape: (N, C, H, W) -> (N, C, OH, OW)."""

    def forward(self, x, window, count_include_pad):
        self.window, self.count_include_pad = window, count_include_pad
        return kernels.avg_pool2d_forward(np.ascontiguousarray(x), window, count_include_pad)

    def backward(self, grad):
        return kernels.avg_pool2d_backward(np.ascontiguousarray(grad), self.window, self.count_include_pad)

    def flops(self, out, x):
        return out.size * self.window.taps
