"""conv_transpose2d: the gradient of conv2d with respect to its input, as a layer
(upsampling in decoders and segmentation nets)."""
from .. import ops
from ..kernels.window import Window2d
from ..tensor import Tensor
from ._checks import check_same_dtype
from .conv import _batched, _pair


def conv_transpose2d(x: Tensor, weight: Tensor, bias: Tensor = None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1) -> Tensor:
    """Transposed 2-D convolution, as `torch.nn.functional.conv_transpose2d`.

    Shape: x (N, Cin, H, W) or (Cin, H, W); weight (Cin, Cout/groups, kH, kW); bias (Cout,)
    -> (N, Cout, OH, OW), OH = (H - 1)*S - 2P + D*(kH - 1) + output_padding + 1.
    """
    op = "conv_transpose2d"
    x4, squeeze = _batched(x, op)
    if weight.ndim != 4:
        raise ValueError(f"{op}: weight must have shape (in_channels, out_channels/groups, kH, kW); got {weight.shape}")
    n, c, h, w = x4.shape
    if groups < 1 or c % groups or weight.shape[0] != c:
        raise ValueError(f"{op}: input has {c} channels (shape {x4.shape}) but weight {weight.shape} with groups={groups} "
                         f"expects {weight.shape[0]}, divisible by groups")
    c_out = weight.shape[1] * groups
    if bias is not None and bias.shape != (c_out,):
        raise ValueError(f"{op}: bias must have shape ({c_out},) for weight {weight.shape}; got {bias.shape}")
    check_same_dtype(op, x4, weight, bias)
    (kh, kw), stride, padding = weight.shape[2:], _pair(stride, "stride", op), _pair(padding, "padding", op)
    dilation, output_padding = _pair(dilation, "dilation", op), _pair(output_padding, "output_padding", op)
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: stride and dilation must be positive and padding non-negative; got "
                         f"{stride}, {dilation}, {padding}")
    if any(op_ >= max(s, d) for op_, s, d in zip(output_padding, stride, dilation)) or min(output_padding) < 0:
        raise ValueError(f"{op}: output_padding {output_padding} must be smaller than stride {stride} or dilation {dilation}")
    out_hw = tuple((size - 1) * s - 2 * p + d * (k - 1) + o + 1
                   for size, s, p, d, k, o in zip((h, w), stride, padding, dilation, (kh, kw), output_padding))
    if min(out_hw) < 1:
        raise ValueError(f"{op}: the output would be {out_hw[0]}x{out_hw[1]} for input {x4.shape} and padding {padding}")
    window = Window2d.over(out_hw, (kh, kw), stride, padding, dilation)
    inputs = (x4, weight) if bias is None else (x4, weight, bias)
    out = ops.ConvTranspose2d.apply(*inputs, window=window, groups=groups)
    return out.squeeze(0) if squeeze else out
