"""Convolution and pooling over images (NCHW) and sequences (NCL).

Every argument is normalised and checked here, once, before a kernel runs: a compiled
kernel never sees a bad shape. The result is one window record (kernels.window.Window2d),
which carries the output size down to the op and its kernels.
"""
import numpy as np

from .. import ops
from ..kernels.window import Window2d
from ..tensor import Tensor
from ._checks import check_float32_or_64, check_same_dtype
from .pad import pad


def ntuple(value, n, name="argument", op="conv"):
    """An int, or a sequence of n ints, as a tuple of n ints (what layers store and F takes)."""
    if type(value) is tuple and len(value) == n and all(type(v) is int for v in value):
        return value  # what layers pass on every call
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    values = tuple(int(v) for v in value)
    if len(values) != n:
        raise ValueError(f"{op}: {name} must be an int or {n} ints; got {value!r}")
    return values


def _pair(value, name, op):
    return ntuple(value, 2, name, op)


def _batched(x: Tensor, op: str):
    """(C, H, W) inputs get a batch dim of 1; returns (x4, squeeze_after). An array is taken as a tensor."""
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.ndim == 3:
        return x.unsqueeze(0), True
    if x.ndim != 4:
        raise ValueError(f"{op}: expected input of shape (N, C, H, W) or (C, H, W); got shape {x.shape}")
    return x, False


def _check_geometry(op, shape, kernel, stride, padding, dilation):
    for name, value, least in (("kernel_size", kernel, 1), ("stride", stride, 1), ("dilation", dilation, 1), ("padding", padding, 0)):
        if min(value) < least:
            rule = "positive" if least else "non-negative"
            raise ValueError(f"{op}: {name} must be {rule}; got {value} (input shape {shape})")
    for axis, size, k, p, d in zip("HW", shape[2:], kernel, padding, dilation):
        span = d * (k - 1) + 1
        if span > size + 2 * p:
            raise ValueError(
                f"{op}: kernel {kernel[0]}x{kernel[1]} (dilation {dilation}) spans {span} along {axis}, more than the "
                f"padded input's {size + 2 * p} (input shape {shape}, padding {padding})"
            )


def _resolve_padding(padding, kernel, stride, dilation, op):
    """Padding on both sides, and what 'same' adds at the bottom and right for an even kernel
    (as PyTorch: the extra row and column go after)."""
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        if stride != (1, 1):
            raise ValueError(f"{op}: padding='same' needs stride 1; got stride {stride}")
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return (total[0] // 2, total[1] // 2), (total[0] % 2, total[1] % 2)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same'; got {padding!r}")
    return _pair(padding, "padding", op), (0, 0)


def _conv(op, x, weight, bias, stride, padding, dilation, groups):
    x4, squeeze = _batched(x, op)
    if weight.ndim != 4:
        raise ValueError(f"{op}: weight must have shape (out_channels, in_channels/groups, kH, kW); got {weight.shape}")
    n, c, h, w = x4.shape
    k, cg, kh, kw = weight.shape
    if groups < 1 or c % groups or k % groups:
        raise ValueError(f"{op}: groups={groups} must divide both input channels {c} and output channels {k}")
    if cg * groups != c:
        raise ValueError(
            f"{op}: input has {c} channels (shape {x.shape}) but weight expects {cg * groups} "
            f"(weight shape {weight.shape}, groups {groups})"
        )
    if bias is not None and bias.shape != (k,):
        raise ValueError(f"{op}: bias must have shape ({k},) for weight {weight.shape}; got {bias.shape}")
    check_same_dtype(op, x, weight, bias)
    check_float32_or_64(op, x4)
    stride, dilation = _pair(stride, "stride", op), _pair(dilation, "dilation", op)
    padding, (extra_h, extra_w) = _resolve_padding(padding, (kh, kw), stride, dilation, op)
    if extra_h or extra_w:
        x4 = pad(x4, (0, extra_w, 0, extra_h))
        h, w = x4.shape[2:]
    _check_geometry(op, x4.shape, (kh, kw), stride, padding, dilation)
    window = Window2d.over((h, w), (kh, kw), stride, padding, dilation)
    inputs = (x4, weight) if bias is None else (x4, weight, bias)
    out = ops.Conv2d.apply(*inputs, window=window, groups=groups)
    return out.squeeze(0) if squeeze else out


def conv2d(x: Tensor, weight: Tensor, bias: Tensor = None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D cross-correlation (the kernel is not flipped), as `torch.nn.functional.conv2d`.

    Shape: x (N, C, H, W) or (C, H, W); weight (K, C/groups, kH, kW); bias (K,)
    -> (N, K, OH, OW), OH = (H + 2P - D*(kH-1) - 1) // S + 1.
    `padding` is an int, a pair, 'valid' or 'same' (stride 1; an even kernel gets the extra
    row and column at the bottom and right, as PyTorch).
    Example:
        >>> F.conv2d(md.randn(1, 3, 32, 32), md.randn(16, 3, 3, 3), padding=1).shape
        (1, 16, 32, 32)
    """
    return _conv("conv2d", x, weight, bias, stride, padding, dilation, groups)


def conv1d(x: Tensor, weight: Tensor, bias: Tensor = None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """1-D cross-correlation over sequences, run as a conv2d of height 1.

    Shape: x (N, C, L) or (C, L); weight (K, C/groups, k); bias (K,) -> (N, K, OL).
    """
    if x.ndim not in (2, 3) or weight.ndim != 3:
        raise ValueError(f"conv1d: expected input (N, C, L) and weight (K, C/groups, k); got {x.shape} and {weight.shape}")
    single = lambda value, name: ntuple(value, 1, name, "conv1d")[0]  # noqa: E731
    padding = padding if isinstance(padding, str) else (0, single(padding, "padding"))
    out = _conv("conv1d", x.unsqueeze(-2), weight.unsqueeze(-2), bias, (1, single(stride, "stride")), padding,
                (1, single(dilation, "dilation")), groups)
    return out.squeeze(-2)


def _pool_window(op, x, kernel_size, stride, padding, dilation):
    kernel = _pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else _pair(stride, "stride", op)
    padding, dilation = _pair(padding, "padding", op), _pair(dilation, "dilation", op)
    _check_geometry(op, x.shape, kernel, stride, padding, dilation)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel {kernel}")
    return Window2d.over(x.shape[2:], kernel, stride, padding, dilation)


def max_pool2d(x: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Maximum over each window; padding never wins. The gradient goes to each window's
    first maximum (row-major), as in PyTorch.

    `ceil_mode` rounds the output size up, so a last, partial window is kept when it starts
    inside the input (or its left padding); `return_indices` also returns each maximum's
    index into its H*W plane (as `torch.nn.functional.max_pool2d`).
    Shape: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW) [and indices of that shape];
    stride defaults to kernel_size.
    """
    x4, squeeze = _batched(x, "max_pool2d")
    window = _pool_window("max_pool2d", x4, kernel_size, stride, padding, dilation)
    h, w = window.h, window.w
    extra_h, extra_w = _ceil_mode_extra(window) if ceil_mode else (0, 0)
    if extra_h or extra_w:  # the partial windows read -inf, which never wins
        x4 = pad(x4, (0, extra_w, 0, extra_h), value=-np.inf)
        g = window
        window = Window2d.over((h + extra_h, w + extra_w), (g.kh, g.kw), (g.sh, g.sw), (g.ph, g.pw), (g.dh, g.dw))
    if not return_indices:
        out = ops.MaxPool2d.apply(x4, window=window)
        return out.squeeze(0) if squeeze else out
    out, indices = ops.MaxPool2d.apply(x4, window=window, with_indices=True)
    flat = indices.data
    if extra_w:  # indices into the unpadded plane
        flat = flat // window.w * w + flat % window.w
    indices = Tensor._wrap(flat)
    return (out.squeeze(0), indices.squeeze(0)) if squeeze else (out, indices)


def _ceil_mode_extra(window):
    """Rows and columns to add at the bottom and right so that floor mode gives ceil mode's size."""
    extra = []
    for size, k, s, p, d in ((window.h, window.kh, window.sh, window.ph, window.dh),
                             (window.w, window.kw, window.sw, window.pw, window.dw)):
        span = size + 2 * p - d * (k - 1) - 1
        out = -(-span // s) + 1
        if (out - 1) * s >= size + p:  # the last window would start in the right padding
            out -= 1
        extra.append(max((out - 1) * s + d * (k - 1) + 1 - (size + 2 * p), 0))
    return tuple(extra)


def avg_pool2d(x: Tensor, kernel_size, stride=None, padding=0, count_include_pad=True) -> Tensor:
    """Mean over each window; with count_include_pad=False padded zeros do not count.

    Shape: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW); stride defaults to kernel_size.
    """
    x4, squeeze = _batched(x, "avg_pool2d")
    window = _pool_window("avg_pool2d", x4, kernel_size, stride, padding, 1)
    out = ops.AvgPool2d.apply(x4, window=window, count_include_pad=bool(count_include_pad))
    return out.squeeze(0) if squeeze else out


def _as_image(x, op):
    """(N, C, L) or (C, L) as an image of height 1, for the 1-D pools."""
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.ndim not in (2, 3):
        raise ValueError(f"{op}: expected input of shape (N, C, L) or (C, L); got shape {x.shape}")
    return x.unsqueeze(-2)


def _single(value, name, op):
    return ntuple(value, 1, name, op)[0]


def max_pool1d(x: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False) -> Tensor:
    """Maximum over each window of a sequence (max_pool2d on a height of 1).

    Shape: (N, C, L) or (C, L) -> (N, C, OL) [and indices into L].
    """
    op = "max_pool1d"
    k = _single(kernel_size, "kernel_size", op)
    s = k if stride is None else _single(stride, "stride", op)
    out = max_pool2d(_as_image(x, op), (1, k), (1, s), (0, _single(padding, "padding", op)),
                     (1, _single(dilation, "dilation", op)), ceil_mode, return_indices)
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


def avg_pool1d(x: Tensor, kernel_size, stride=None, padding=0, count_include_pad=True) -> Tensor:
    """Mean over each window of a sequence. Shape: (N, C, L) or (C, L) -> (N, C, OL)."""
    op = "avg_pool1d"
    k = _single(kernel_size, "kernel_size", op)
    s = k if stride is None else _single(stride, "stride", op)
    return avg_pool2d(_as_image(x, op), (1, k), (1, s), (0, _single(padding, "padding", op)),
                      count_include_pad).squeeze(-2)


def _adaptive_matrix(size, out_size, dtype):
    """(out_size, size) averaging matrix: row i averages [floor(i*size/out), ceil((i+1)*size/out))."""
    m = np.zeros((out_size, size), dtype=dtype)
    for i in range(out_size):
        start, end = (i * size) // out_size, -((-(i + 1) * size) // out_size)
        m[i, start:end] = 1.0 / (end - start)
    return m


def adaptive_avg_pool2d(x: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed output size, windows as in PyTorch.

    When the sizes divide evenly this is avg_pool2d; otherwise the windows are
    separable, so it is P_h @ x @ P_w^T with two small averaging matrices.
    Shape: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW); an int means OH = OW, and None
    keeps that input size.
    """
    x4, squeeze = _batched(x, "adaptive_avg_pool2d")
    sizes = (output_size, output_size) if output_size is None or isinstance(output_size, (int, np.integer)) else output_size
    if len(sizes) != 2:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be an int or 2 sizes; got {output_size!r}")
    oh, ow = (x4.shape[2 + i] if n is None else int(n) for i, n in enumerate(sizes))
    if oh < 1 or ow < 1:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be positive; got {(oh, ow)}")
    h, w = x4.shape[2:]
    if h % oh == 0 and w % ow == 0:  # equal windows: plain average pooling (and no MACs in the counters)
        out = avg_pool2d(x4, (h // oh, w // ow))
        return out.squeeze(0) if squeeze else out
    rows = Tensor._wrap(_adaptive_matrix(h, oh, x.dtype))
    cols = Tensor._wrap(_adaptive_matrix(w, ow, x.dtype).T.copy())
    out = rows @ x4 @ cols
    return out.squeeze(0) if squeeze else out
