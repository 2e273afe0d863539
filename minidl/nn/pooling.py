"""Pooling layers over images (N, C, H, W) and sequences (N, C, L)."""
from .. import functional as F
from .module import Module


class MaxPool2d(Module):
    """Shape: (N, C, H, W) -> (N, C, OH, OW) [and the indices, with return_indices=True]."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride or kernel_size, padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    pool = staticmethod(F.max_pool2d)

    def forward(self, x):
        return self.pool(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """Shape: (N, C, H, W) -> (N, C, OH, OW)."""

    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad=True):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding
        self.count_include_pad = count_include_pad

    pool = staticmethod(F.avg_pool2d)

    def forward(self, x):
        return self.pool(x, self.kernel_size, self.stride, self.padding, self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Shape: (N, C, H, W) -> (N, C, OH, OW); None in output_size keeps that input size."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"



class MaxPool1d(MaxPool2d):
    """Shape: (N, C, L) or (C, L) -> (N, C, OL) [and the indices, with return_indices=True]."""

    pool = staticmethod(F.max_pool1d)


class AvgPool1d(AvgPool2d):
    """Shape: (N, C, L) or (C, L) -> (N, C, OL)."""

    pool = staticmethod(F.avg_pool1d)
