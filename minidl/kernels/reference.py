"""NumPy reference twins of every compiled kernel: same signatures, plain and exact.

Tests compare each compiled kernel with its twin; `MINIDL_KERNELS=reference`
runs minidl on these alone.
"""
import math

import numpy as np

_erf_scalar = np.frompyfunc(math.erf, 1, 1)


def erf(x):
    """The error function, element-wise (slow: one Python call per element)."""
    return _erf_scalar(x).astype(x.dtype)


def conv_output_size(size, kernel, stride, padding, dilation):
    """W2 = (W1 + 2P - D*(F-1) - 1) // S + 1 (with D=1: (W1 - F + 2P)/S + 1)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _windows(size_h, size_w, kh, kw, sh, sw, dh, dw, oh, ow):
    """For each kernel tap (i, j), the slices of the padded image it reads."""
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
            cols = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
            yield i, j, rows, cols


def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw):
    """Unfold image patches into columns.

    Shape: x (N, C, H, W) -> cols (N, C*kh*kw, OH*OW), row (c*kh + i)*kw + j.
    """
    n, c, h, w = x.shape
    oh = conv_output_size(h, kh, sh, ph, dh)
    ow = conv_output_size(w, kw, sw, pw, dw)
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i, j, rows, cs in _windows(h, w, kh, kw, sh, sw, dh, dw, oh, ow):
        cols[:, :, i, j] = padded[:, :, rows, cs]
    return cols.reshape(n, c * kh * kw, oh * ow)


def col2im(cols, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw):
    """Adjoint of im2col: add every column entry back onto its pixel.

    Shape: cols (N, C*kh*kw, OH*OW) -> x (N, C, H, W).
    """
    n = cols.shape[0]
    oh = conv_output_size(h, kh, sh, ph, dh)
    ow = conv_output_size(w, kw, sw, pw, dw)
    cols = cols.reshape(n, c, kh, kw, oh, ow)
    padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i, j, rows, cs in _windows(h, w, kh, kw, sh, sw, dh, dw, oh, ow):
        padded[:, :, rows, cs] += cols[:, :, i, j]
    return padded[:, :, ph : ph + h, pw : pw + w].copy()


def _pool_windows(x, kh, kw, sh, sw, ph, pw, dh, dw, fill):
    """All pooling windows side by side. Shape: (N, C, H, W) -> (N, C, kh*kw, OH, OW)."""
    n, c, h, w = x.shape
    oh = conv_output_size(h, kh, sh, ph, dh)
    ow = conv_output_size(w, kw, sw, pw, dw)
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    windows = np.empty((n, c, kh * kw, oh, ow), dtype=x.dtype)
    for i, j, rows, cs in _windows(h, w, kh, kw, sh, sw, dh, dw, oh, ow):
        windows[:, :, i * kw + j] = padded[:, :, rows, cs]
    return windows


def max_pool2d_forward(x, kh, kw, sh, sw, ph, pw, dh, dw):
    """Window maxima and their flat (H*W) indices; the first maximum wins ties,
    and a NaN beats numbers (the last NaN of a window, as in PyTorch).

    Shape: x (N, C, H, W) -> out (N, C, OH, OW), indices (N, C, OH, OW) int64.
    """
    h, w = x.shape[2:]
    windows = _pool_windows(x, kh, kw, sh, sw, ph, pw, dh, dw, fill=-np.inf)
    taps = windows.shape[2]
    is_nan = np.isnan(windows)
    last_nan = taps - 1 - np.argmax(is_nan[:, :, ::-1], axis=2)
    tap = np.where(is_nan.any(axis=2), last_nan, np.argmax(windows, axis=2))  # (N, C, OH, OW)
    out = np.take_along_axis(windows, tap[:, :, None], axis=2)[:, :, 0]
    oh, ow = tap.shape[2:]
    iy = np.arange(oh)[:, None] * sh - ph + (tap // kw) * dh
    ix = np.arange(ow)[None, :] * sw - pw + (tap % kw) * dw
    return out, (iy * w + ix).astype(np.int64)


def max_pool2d_backward(grad_out, indices, h, w):
    """Scatter-add each output gradient onto the input pixel that won. Shape: -> (N, C, H, W)."""
    n, c = grad_out.shape[:2]
    dx = np.zeros((n, c, h * w), dtype=grad_out.dtype)
    planes = np.arange(n * c)[:, None]
    np.add.at(dx.reshape(n * c, h * w), (planes, indices.reshape(n * c, -1)), grad_out.reshape(n * c, -1))
    return dx.reshape(n, c, h, w)


def _avg_divisor(h, w, kh, kw, sh, sw, ph, pw, count_include_pad, dtype):
    if count_include_pad:
        return dtype.type(kh * kw)
    ones = np.ones((1, 1, h, w), dtype=dtype)
    return _pool_windows(ones, kh, kw, sh, sw, ph, pw, 1, 1, fill=0).sum(axis=2)[0, 0]


def avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw, count_include_pad):
    """Window means; padding counts in the divisor only with count_include_pad.

    Shape: x (N, C, H, W) -> (N, C, OH, OW).
    """
    h, w = x.shape[2:]
    total = _pool_windows(x, kh, kw, sh, sw, ph, pw, 1, 1, fill=0).sum(axis=2)
    return total / _avg_divisor(h, w, kh, kw, sh, sw, ph, pw, count_include_pad, x.dtype)


def avg_pool2d_backward(grad_out, h, w, kh, kw, sh, sw, ph, pw, count_include_pad):
    """Spread each output gradient evenly over its window. Shape: -> (N, C, H, W)."""
    n, c, oh, ow = grad_out.shape
    share = grad_out / _avg_divisor(h, w, kh, kw, sh, sw, ph, pw, count_include_pad, grad_out.dtype)
    padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=grad_out.dtype)
    for i, j, rows, cs in _windows(h, w, kh, kw, sh, sw, 1, 1, oh, ow):
        padded[:, :, rows, cs] += share
    return padded[:, :, ph : ph + h, pw : pw + w].copy()
