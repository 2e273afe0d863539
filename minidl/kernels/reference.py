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
