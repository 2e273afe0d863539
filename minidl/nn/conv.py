"""Conv1d, Conv2d (cross-correlation, as PyTorch, on the im2col + GEMM kernels) and ConvTranspose2d."""
import numpy as np

from .. import functional as F
from ..functional.conv import ntuple
from . import init
from .module import Module
from .parameter import Parameter


class _ConvNd(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, dtype):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{type(self).__name__}: groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.weight = Parameter(np.zeros((out_channels, in_channels // groups, *kernel_size), dtype=dtype))
        self.bias = Parameter(np.zeros(out_channels, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        init.default_layer_init_(self.weight, self.bias)

    def extra_repr(self):
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding not in (0, (0,), (0, 0)):
            text += f", padding={self.padding}"
        if self.dilation not in (1, (1,), (1, 1)):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + ("" if self.bias is not None else ", bias=False")


class Conv2d(_ConvNd):
    """Shape: (N, C_in, H, W) -> (N, C_out, OH, OW); weight (C_out, C_in/groups, kH, kW).

    OH = (H + 2*padding - dilation*(kH - 1) - 1) // stride + 1.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 dtype=np.float32):
        padding = padding if isinstance(padding, str) else ntuple(padding, 2, "padding", "Conv2d")
        super().__init__(in_channels, out_channels, ntuple(kernel_size, 2, "kernel_size", "Conv2d"),
                         ntuple(stride, 2, "stride", "Conv2d"), padding, ntuple(dilation, 2, "dilation", "Conv2d"),
                         groups, bias, dtype)

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv1d(_ConvNd):
    """Shape: (N, C_in, L) -> (N, C_out, OL); weight (C_out, C_in/groups, k)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 dtype=np.float32):
        padding = padding if isinstance(padding, str) else ntuple(padding, 1, "padding", "Conv1d")
        super().__init__(in_channels, out_channels, ntuple(kernel_size, 1, "kernel_size", "Conv1d"),
                         ntuple(stride, 1, "stride", "Conv1d"), padding, ntuple(dilation, 1, "dilation", "Conv1d"),
                         groups, bias, dtype)

    def forward(self, x):
        return F.conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ConvTranspose2d(Module):
    """The transposed convolution (upsampling). Shape: (N, C_in, H, W) -> (N, C_out, OH, OW);
    weight (C_in, C_out/groups, kH, kW), as PyTorch.

    OH = (H - 1)*stride - 2*padding + dilation*(kH - 1) + output_padding + 1.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, dtype=np.float32):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"ConvTranspose2d: groups={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        pair = lambda value, name: ntuple(value, 2, name, "ConvTranspose2d")  # noqa: E731
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, pair(kernel_size, "kernel_size")
        self.stride, self.padding, self.output_padding = pair(stride, "stride"), pair(padding, "padding"), pair(output_padding, "output_padding")
        self.groups, self.dilation = groups, pair(dilation, "dilation")
        self.weight = Parameter(np.zeros((in_channels, out_channels // groups, *self.kernel_size), dtype=dtype))
        self.bias = Parameter(np.zeros(out_channels, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, x):
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, output_padding={self.output_padding}")
