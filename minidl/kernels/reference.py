"""NumPy reference twins of every compiled kernel: same signatures, plain and exact.

Tests compare each compiled kernel with its twin; `MINIDL_KERNELS=reference`
runs minidl on these alone.
"""
import math

import numpy as np

from .threads import check_threads
from .window import Window2d
from .winograd import (  # noqa: F401
    winograd_filter,
    winograd_filter_grad,
    winograd_fused,
    winograd_fused_weight_grad,
    winograd_input,
    winograd_input_grad,
    winograd_output,
    winograd_output_grad,
)

_erf_scalar = np.frompyfunc(math.erf, 1, 1)


def tanh(x, out=None):
    """tanh, element-wise (NumPy's)."""
    return np.tanh(x, out=out)


def exp(x, out=None):
    """exp, element-wise (NumPy's)."""
    return np.exp(x, out=out)


def erf(x):
    """The error function, element-wise (slow: one Python call per element)."""
    return _erf_scalar(x).astype(x.dtype)


def _taps(g):
    """For each kernel tap (i, j) of window g, the slices of the padded image it reads."""
    for i in range(g.kh):
        for j in range(g.kw):
            rows = slice(i * g.dh, i * g.dh + g.sh * (g.oh - 1) + 1, g.sh)
            cols = slice(j * g.dw, j * g.dw + g.sw * (g.ow - 1) + 1, g.sw)
            yield i, j, rows, cols


def _check(g, h, w, kernel):
    if (g.h, g.w) != (h, w):
        raise ValueError(f"{kernel}: window made for {g.h}x{g.w} inputs, used on {h}x{w}")


def im2col(x, window, batch_in_columns=False, out=None):
    """Unfold the image patches that `window` (a Window2d) reads into columns.

    Shape: x (N, C, H, W) -> cols (N, C*kh*kw, OH*OW), row (c*kh + i)*kw + j;
    with `batch_in_columns`, (C*kh*kw, N, OH*OW): the batch side by side in each row.
    Into `out` when given, e.g. the columns of one batch range of a larger array.
    """
    if out is not None:
        out[...] = im2col(x, window, batch_in_columns)
        return out
    g, (n, c, h, w) = window, x.shape
    _check(g, h, w, "im2col")
    padded = np.pad(x, ((0, 0), (0, 0), (g.ph, g.ph), (g.pw, g.pw)))
    cols = np.empty((n, c, g.kh, g.kw, g.oh, g.ow), dtype=x.dtype)
    for i, j, rows, cs in _taps(g):
        cols[:, :, i, j] = padded[:, :, rows, cs]
    cols = cols.reshape(n, c * g.taps, g.oh * g.ow)
    return np.ascontiguousarray(cols.transpose(1, 0, 2)) if batch_in_columns else cols


def col2im(cols, c, window, batch_in_columns=False, out=None):
    """Adjoint of im2col: add every column entry back onto its pixel.

    Shape: cols (N, C*kh*kw, OH*OW), or (C*kh*kw, N, OH*OW) with `batch_in_columns` -> x (N, C, H, W);
    into `out` (overwritten) when given.
    """
    if out is not None:
        out[...] = col2im(cols, c, window, batch_in_columns)
        return out
    g = window
    if batch_in_columns:
        cols = cols.transpose(1, 0, 2)
    n = cols.shape[0]
    cols = cols.reshape(n, c, g.kh, g.kw, g.oh, g.ow)
    padded = np.zeros((n, c, g.h + 2 * g.ph, g.w + 2 * g.pw), dtype=cols.dtype)
    for i, j, rows, cs in _taps(g):
        padded[:, :, rows, cs] += cols[:, :, i, j]
    return padded[:, :, g.ph : g.ph + g.h, g.pw : g.pw + g.w].copy()


def col2im_pixels(rows, c, window, out=None):
    """col2im for pixel-major columns: row (n, oy, ox) holds tap (i, j)'s c channels at (i*kw + j)*c.

    Shape: rows (N*OH*OW, kh*kw*C) -> x (N, C, H, W); into `out` (overwritten) when given.
    """
    g = window
    n = rows.shape[0] // (g.oh * g.ow)
    cols = rows.reshape(n, g.oh, g.ow, g.kh, g.kw, c).transpose(0, 5, 3, 4, 1, 2)  # (N, C, kh, kw, OH, OW)
    return col2im(cols.reshape(n, c * g.taps, g.oh * g.ow), c, window, out=out)


def im2col_pixels(x, window, out=None):
    """im2col laid out pixel by pixel: row (n, oy, ox) holds tap (i, j)'s C channels at (i*kw + j)*C.

    Shape: x (N, C, H, W) -> rows (N*OH*OW, kh*kw*C); into `out` when given.
    """
    g, (n, c) = window, x.shape[:2]
    cols = im2col(x, window).reshape(n, c, g.taps, g.oh * g.ow)
    rows = np.ascontiguousarray(cols.transpose(0, 3, 2, 1)).reshape(n * g.oh * g.ow, g.taps * c)
    if out is None:
        return rows
    out[...] = rows
    return out


def _padded_at_stride_one(x, g, kernel):
    """x zero-padded by window g's padding, after checking g fits x and has stride 1."""
    _check(g, x.shape[2], x.shape[3], kernel)
    if (g.sh, g.sw) != (1, 1):
        raise ValueError(f"{kernel}: stride must be 1, got ({g.sh}, {g.sw})")
    return np.pad(x, ((0, 0), (0, 0), (g.ph, g.ph), (g.pw, g.pw)))


def _biased_into(result, bias, out):
    """result (N, K, OH, OW) plus bias[k] on channel k when given; copied into `out` when given."""
    if bias is not None:
        result += bias.reshape(-1, 1, 1)
    if out is None:
        return result
    out[...] = result
    return out


def direct_conv(x, weight, window, bias=None, out=None, threads=1):
    """Convolution at stride 1 as one accumulating product per window tap: tap (i, j) multiplies
    the weights' (K, C) slice by the padded input shifted by (i*dh, j*dw), read in place, so no
    column buffer is built. Into `out` when given; on this thread whatever `threads` says.

    Shape: x (N, C, H, W), weight (K, C, kh, kw), bias (K,) -> (N, K, OH, OW).
    """
    check_threads("direct_conv", threads)
    g, (n, c) = window, x.shape[:2]
    padded = _padded_at_stride_one(x, g, "direct_conv")
    if weight.shape[1:] != (c, g.kh, g.kw):
        raise ValueError(f"direct_conv: weight {weight.shape} does not fit {c} channels and a {g.kh}x{g.kw} window")
    result = np.zeros((n, weight.shape[0], max(g.oh, 0), max(g.ow, 0)), dtype=x.dtype)
    for i, j, rows, cols in _taps(g):
        result += np.tensordot(weight[:, :, i, j], padded[:, :, rows, cols], axes=([1], [1])).transpose(1, 0, 2, 3)
    return _biased_into(result, bias, out)


def implicit_conv(x, weight, window, bias=None, out=None):
    """Convolution at any stride, padding and dilation, one group, as the weights times im2col's
    columns in one product (the compiled kernel never stores those columns). Into `out` when given.

    Shape: x (N, C, H, W), weight (K, C, kh, kw), bias (K,) -> (N, K, OH, OW).
    """
    g, (n, c), k = window, x.shape[:2], weight.shape[0]
    if weight.shape[1:] != (c, g.kh, g.kw):
        raise ValueError(f"implicit_conv: weight {weight.shape} does not fit {c} channels and a {g.kh}x{g.kw} window")
    result = np.matmul(weight.reshape(k, -1), im2col(x, window)).reshape(n, k, g.oh, g.ow)
    return _biased_into(result, bias, out)


def implicit_conv_input_grad(grad, weight, window, out=None):
    """The input gradient of implicit_conv: the weights' transpose times the output gradient
    gives the columns' gradient, and col2im adds it back onto the pixels. Into `out` when given.

    Shape: grad (N, K, OH, OW), weight (K, C, kh, kw) -> (N, C, H, W).
    """
    g, (n, k), c = window, grad.shape[:2], weight.shape[1]
    if grad.shape[2:] != (g.oh, g.ow) or weight.shape != (k, c, g.kh, g.kw):
        raise ValueError(f"implicit_conv_input_grad: output gradient {grad.shape} and weight {weight.shape} do not fit {g}")
    cols = np.matmul(weight.reshape(k, c * g.taps).T, grad.reshape(n, k, g.oh * g.ow))
    return col2im(cols, c, window, out=out)


def implicit_conv_weight_grad(x, grad, window, out=None):
    """The weight gradient of implicit_conv summed over the batch: the output gradient times
    im2col's columns, transposed, in one product. Into `out` when given.

    Shape: x (N, C, H, W), grad (N, K, OH, OW) -> (K, C, kh, kw).
    """
    g, (n, c), k = window, x.shape[:2], grad.shape[1]
    if grad.shape[0] != n or grad.shape[2:] != (g.oh, g.ow):
        raise ValueError(f"implicit_conv_weight_grad: output gradient {grad.shape} does not fit input {x.shape} and {g}")
    pixels = n * g.oh * g.ow
    cols = im2col(x, window, batch_in_columns=True).reshape(c * g.taps, pixels)
    rows = grad.reshape(n, k, g.oh * g.ow).transpose(1, 0, 2).reshape(k, pixels)
    result = np.matmul(rows, cols.T).reshape(k, c, g.kh, g.kw)
    if out is None:
        return result
    out[...] = result
    return out


def direct_conv_weight_grad(x, grad, window, out=None, bias_out=None, threads=1):
    """The weight gradient of direct_conv summed over the batch: per tap (i, j), the output
    gradient times the shifted padded input, summed over images and pixels. Into `out` when
    given; with `bias_out` (K,), float64, also each output channel's gradient sum. On this
    thread whatever `threads` says.

    Shape: x (N, C, H, W), grad (N, K, OH, OW) -> (K, C, kh, kw).
    """
    check_threads("direct_conv_weight_grad", threads)
    g, (n, c) = window, x.shape[:2]
    padded = _padded_at_stride_one(x, g, "direct_conv_weight_grad")
    if grad.shape[0] != n or grad.shape[2:] != (g.oh, g.ow):
        raise ValueError(f"direct_conv_weight_grad: output gradient {grad.shape} does not fit input {x.shape} and {g}")
    result = np.zeros((grad.shape[1], c, g.kh, g.kw), dtype=x.dtype)
    if out is not None and out.shape != result.shape:
        raise ValueError(f"direct_conv_weight_grad: out {out.shape} is not the weight's {result.shape}")
    for i, j, rows, cols in _taps(g):
        result[:, :, i, j] = np.tensordot(grad, padded[:, :, rows, cols], axes=([0, 2, 3], [0, 2, 3]))
    if bias_out is not None:
        bias_out[...] = grad.sum(axis=(0, 2, 3), dtype=np.float64)
    if out is None:
        return result
    out[...] = result
    return out


def gemm_rows_to_batch(rows, n, bias=None):
    """A folded convolution's GEMM result as images, plus the bias.

    Shape: rows (K, N*L), bias (K,) or None -> (N, K, L).
    """
    k = rows.shape[0]
    if n <= 0 or rows.shape[1] % n:
        raise ValueError(f"gemm_rows_to_batch: rows of length {rows.shape[1]} are not {n} images of equal size")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != k):
        raise ValueError(f"gemm_rows_to_batch: bias of shape {bias.shape} for {k} channels")
    images = rows.reshape(k, n, -1).transpose(1, 0, 2)
    return np.ascontiguousarray(images if bias is None else images + bias[:, None])


def batch_to_gemm_rows(images, with_sums=False):
    """Images as a folded convolution's GEMM rows, and each row's sum (the bias gradient).

    Shape: images (N, K, L) -> (rows (K, N*L), sums (K,) or None).
    """
    rows = np.ascontiguousarray(images.transpose(1, 0, 2)).reshape(images.shape[1], -1)
    return rows, (rows.sum(axis=1, dtype=np.float64).astype(images.dtype) if with_sums else None)


def check_small_matmul(a, b, threads):
    """small_matmul's arguments: two matrices of one float dtype whose product is defined."""
    check_threads("small_matmul", threads)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"small_matmul: cannot multiply a {a.shape} by b {b.shape}; expected (M, K) and (K, N)")
    if a.dtype != b.dtype or a.dtype not in (np.float32, np.float64):
        raise TypeError(f"small_matmul: a and b must both be float32 or both float64; got {a.dtype} and {b.dtype}")


def small_matmul(a, b, out=None, threads=1):
    """a @ b, into `out` when given: the compiled kernel runs it without BLAS, for products too
    small for BLAS's threads.

    Shape: a (M, K), b (K, N) -> (M, N).
    """
    check_small_matmul(a, b, threads)
    if out is not None and (out.shape != (a.shape[0], b.shape[1]) or out.dtype != a.dtype or not out.flags.c_contiguous):
        raise ValueError(f"small_matmul: out must be a contiguous {(a.shape[0], b.shape[1])} array of a's dtype")
    return np.matmul(a, b, out=out)


def pixel_rows_to_batch(rows, n, bias=None):
    """A folded convolution's GEMM result by pixel as images, plus the bias.

    Shape: rows (N*L, K), bias (K,) or None -> (N, K, L).
    """
    k = rows.shape[1]
    if n <= 0 or rows.shape[0] % n:
        raise ValueError(f"pixel_rows_to_batch: {rows.shape[0]} rows are not {n} images of equal size")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != k):
        raise ValueError(f"pixel_rows_to_batch: bias of shape {bias.shape} for {k} channels")
    images = rows.reshape(n, -1, k).transpose(0, 2, 1)
    return np.ascontiguousarray(images if bias is None else images + bias[:, None])


def batch_to_pixel_rows(images, with_sums=False):
    """Images as pixel rows, and each channel's sum (the bias gradient).

    Shape: images (N, K, L) -> (rows (N*L, K), sums (K,) or None).
    """
    rows = np.ascontiguousarray(images.transpose(0, 2, 1)).reshape(-1, images.shape[1])
    return rows, (rows.sum(axis=0, dtype=np.float64).astype(images.dtype) if with_sums else None)


def _pool_windows(x, g, fill):
    """All pooling windows of g side by side. Shape: (N, C, H, W) -> (N, C, kh*kw, OH, OW)."""
    n, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (g.ph, g.ph), (g.pw, g.pw)), constant_values=fill)
    windows = np.empty((n, c, g.taps, g.oh, g.ow), dtype=x.dtype)
    for i, j, rows, cs in _taps(g):
        windows[:, :, i * g.kw + j] = padded[:, :, rows, cs]
    return windows


def max_pool2d_forward(x, window):
    """Window maxima and their flat (H*W) indices; the first maximum wins ties,
    and a NaN beats numbers (the last NaN of a window, as in PyTorch).

    Shape: x (N, C, H, W) -> out (N, C, OH, OW), indices (N, C, OH, OW) int64.
    """
    g, (h, w) = window, x.shape[2:]
    _check(g, h, w, "max_pool2d_forward")
    windows = _pool_windows(x, g, fill=-np.inf)
    taps = windows.shape[2]
    is_nan = np.isnan(windows)
    last_nan = taps - 1 - np.argmax(is_nan[:, :, ::-1], axis=2)
    tap = np.where(is_nan.any(axis=2), last_nan, np.argmax(windows, axis=2))  # (N, C, OH, OW)
    out = np.take_along_axis(windows, tap[:, :, None], axis=2)[:, :, 0]
    iy = np.arange(g.oh)[:, None] * g.sh - g.ph + (tap // g.kw) * g.dh
    ix = np.arange(g.ow)[None, :] * g.sw - g.pw + (tap % g.kw) * g.dw
    return out, (iy * w + ix).astype(np.int64)


def max_pool2d_backward(grad_out, indices, h, w):
    """Scatter-add each output gradient onto the input pixel that won. Shape: -> (N, C, H, W)."""
    n, c = grad_out.shape[:2]
    dx = np.zeros((n, c, h * w), dtype=grad_out.dtype)
    planes = np.arange(n * c)[:, None]
    np.add.at(dx.reshape(n * c, h * w), (planes, indices.reshape(n * c, -1)), grad_out.reshape(n * c, -1))
    return dx.reshape(n, c, h, w)


def max_pool2d_2x2_forward(x):
    """2x2 windows at stride 2, no padding: maxima and each winner's code
    k = 2 * row + col inside its window (rules as max_pool2d_forward).

    Shape: x (N, C, H, W) -> out (N, C, H // 2, W // 2), codes (same) uint8.
    """
    w = x.shape[3]
    out, flat = max_pool2d_forward(x, Window2d.over(x.shape[2:], (2, 2), (2, 2), (0, 0)))
    oh, ow = out.shape[2:]
    row = flat // w - 2 * np.arange(oh)[:, None]
    col = flat % w - 2 * np.arange(ow)[None, :]
    return out, (2 * row + col).astype(np.uint8)


def max_pool2d_2x2_backward(grad_out, codes, h, w):
    """Each output gradient to its window's winner. Shape: -> (N, C, H, W)."""
    n, c, oh, ow = grad_out.shape
    dx = np.zeros((n, c, h, w), dtype=grad_out.dtype)
    for k in range(4):
        dx[:, :, k // 2 : 2 * oh : 2, k % 2 : 2 * ow : 2] = np.where(codes == k, grad_out, 0)
    return dx


def _avg_divisor(g, count_include_pad, dtype):
    if count_include_pad:
        return dtype.type(g.taps)
    ones = np.ones((1, 1, g.h, g.w), dtype=dtype)
    return _pool_windows(ones, g, fill=0).sum(axis=2)[0, 0]


def avg_pool2d_forward(x, window, count_include_pad):
    """Window means; padding counts in the divisor only with count_include_pad.

    Shape: x (N, C, H, W) -> (N, C, OH, OW).
    """
    _check(window, *x.shape[2:], "avg_pool2d_forward")
    total = _pool_windows(x, window, fill=0).sum(axis=2)
    return total / _avg_divisor(window, count_include_pad, x.dtype)


def avg_pool2d_backward(grad_out, window, count_include_pad):
    """Spread each output gradient evenly over its window. Shape: -> (N, C, H, W)."""
    g, (n, c) = window, grad_out.shape[:2]
    share = grad_out / _avg_divisor(g, count_include_pad, grad_out.dtype)
    padded = np.zeros((n, c, g.h + 2 * g.ph, g.w + 2 * g.pw), dtype=grad_out.dtype)
    for i, j, rows, cs in _taps(g):
        padded[:, :, rows, cs] += share
    return padded[:, :, g.ph : g.ph + g.h, g.pw : g.pw + g.w].copy()


# ---------------------------------------------------------------- recurrent
# Time-major throughout: gx (T, B, G*H) is the input projection x @ W_ih^T + b
# for all steps at once (one GEMM, done by the caller); these kernels run the
# recurrence. Gate order as PyTorch: LSTM i, f, g, o; GRU r, z, n.


def _sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))


def _activate(z, nonlinearity):
    if nonlinearity == "tanh":
        return np.tanh(z)
    if nonlinearity == "relu":
        return np.maximum(z, 0)
    return z  # identity


def _activation_slope(h, nonlinearity):
    """d act / d z, written in terms of the output h = act(z)."""
    if nonlinearity == "tanh":
        return 1 - h * h
    if nonlinearity == "relu":
        return (h > 0).astype(h.dtype)
    return np.ones_like(h)


def rnn_forward(gx, h0, w_hh, nonlinearity):
    """Elman RNN: h_t = act(gx_t + h_{t-1} @ W_hh^T). Shape: gx (T, B, H), h0 (B, H) -> hs (T, B, H)."""
    hs = np.empty_like(gx)
    h = h0
    for t in range(gx.shape[0]):
        h = _activate(gx[t] + h @ w_hh.T, nonlinearity)
        hs[t] = h
    return hs


def rnn_backward(dhs, h0, w_hh, hs, nonlinearity):
    """Backpropagation through time. Returns dgx (T, B, H), dh0 (B, H), dw_hh (H, H)."""
    dz = np.empty_like(dhs)
    dh = np.zeros_like(h0)
    for t in range(dhs.shape[0] - 1, -1, -1):
        dz[t] = (dhs[t] + dh) * _activation_slope(hs[t], nonlinearity)
        dh = dz[t] @ w_hh
    h_prev = np.concatenate([h0[None], hs[:-1]])
    dw_hh = dz.reshape(-1, dz.shape[2]).T @ h_prev.reshape(-1, h0.shape[1])
    return dz, dh, dw_hh


def lstm_forward(gx, h0, c0, w_hh):
    """LSTM over a sequence. Shape: gx (T, B, 4H), h0 and c0 (B, H), w_hh (4H, H).

    Returns hs (T, B, H), cs (T, B, H), acts (T, B, 4H) = activated i, f, g, o,
    and tcs = tanh(cs), all kept for backward.
    """
    steps, _, four_h = gx.shape
    hidden = four_h // 4
    hs, cs, tcs = (np.empty(gx.shape[:2] + (hidden,), dtype=gx.dtype) for _ in range(3))
    acts = np.empty_like(gx)
    h, c = h0, c0
    for t in range(steps):
        z = gx[t] + h @ w_hh.T
        i, f, g, o = (z[:, k * hidden : (k + 1) * hidden] for k in range(4))
        i, f, g, o = _sigmoid(i), _sigmoid(f), np.tanh(g), _sigmoid(o)
        c = f * c + i * g
        tc = np.tanh(c)
        h = o * tc
        hs[t], cs[t], tcs[t] = h, c, tc
        acts[t] = np.concatenate([i, f, g, o], axis=1)
    return hs, cs, acts, tcs


def lstm_backward(dhs, dc_last, h0, c0, w_hh, hs, cs, acts, tcs):
    """Returns dgx (T, B, 4H), dh0 (B, H), dc0 (B, H), dw_hh (4H, H)."""
    steps, _, hidden = dhs.shape
    dgates = np.empty(dhs.shape[:2] + (4 * hidden,), dtype=dhs.dtype)
    dh, dc = np.zeros_like(h0), dc_last.copy()
    for t in range(steps - 1, -1, -1):
        i, f, g, o = (acts[t][:, k * hidden : (k + 1) * hidden] for k in range(4))
        c_prev = cs[t - 1] if t > 0 else c0
        dh_t = dhs[t] + dh
        dc = dc + dh_t * o * (1 - tcs[t] ** 2)
        dgates[t] = np.concatenate(
            [dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g), dh_t * tcs[t] * o * (1 - o)], axis=1
        )
        dc = dc * f
        dh = dgates[t] @ w_hh
    h_prev = np.concatenate([h0[None], hs[:-1]])
    dw_hh = dgates.reshape(-1, 4 * hidden).T @ h_prev.reshape(-1, hidden)
    return dgates, dh, dc, dw_hh


def gru_forward(gx, h0, w_hh, b_hh):
    """GRU: r, z = sigmoid(gx + h W^T + b); n = tanh(gx_n + r * (h W_n^T + b_n)); h = (1-z) n + z h.

    Shape: gx (T, B, 3H), h0 (B, H), w_hh (3H, H), b_hh (3H,).
    Returns hs (T, B, H), acts (T, B, 3H) = r, z, n, and hn (T, B, H) = h W_n^T + b_n.
    """
    steps, _, three_h = gx.shape
    hidden = three_h // 3
    hs = np.empty(gx.shape[:2] + (hidden,), dtype=gx.dtype)
    hns = np.empty_like(hs)
    acts = np.empty_like(gx)
    h = h0
    for t in range(steps):
        hh = h @ w_hh.T + b_hh
        r = _sigmoid(gx[t][:, :hidden] + hh[:, :hidden])
        z = _sigmoid(gx[t][:, hidden : 2 * hidden] + hh[:, hidden : 2 * hidden])
        n = np.tanh(gx[t][:, 2 * hidden :] + r * hh[:, 2 * hidden :])
        h = (1 - z) * n + z * h
        hs[t], hns[t] = h, hh[:, 2 * hidden :]
        acts[t] = np.concatenate([r, z, n], axis=1)
    return hs, acts, hns


def gru_backward(dhs, h0, w_hh, hs, acts, hns):
    """Returns dgx (T, B, 3H), dh0 (B, H), dw_hh (3H, H), db_hh (3H,)."""
    steps, _, hidden = dhs.shape
    dgx = np.empty(dhs.shape[:2] + (3 * hidden,), dtype=dhs.dtype)
    dhh = np.empty_like(dgx)
    dh = np.zeros_like(h0)
    for t in range(steps - 1, -1, -1):
        r, z, n = (acts[t][:, k * hidden : (k + 1) * hidden] for k in range(3))
        h_prev = hs[t - 1] if t > 0 else h0
        dh_t = dhs[t] + dh
        dn = dh_t * (1 - z) * (1 - n * n)
        dr = dn * hns[t] * r * (1 - r)
        dz = dh_t * (h_prev - n) * z * (1 - z)
        dgx[t] = np.concatenate([dr, dz, dn], axis=1)
        dhh[t] = np.concatenate([dr, dz, dn * r], axis=1)
        dh = dh_t * z + dhh[t] @ w_hh
    h_prev_all = np.concatenate([h0[None], hs[:-1]])
    dw_hh = dhh.reshape(-1, 3 * hidden).T @ h_prev_all.reshape(-1, hidden)
    return dgx, dh, dw_hh, dhh.sum(axis=(0, 1))


# ---------------------------------------------------------------- attention
def causal_bias(lq, lk, dtype):
    """The causal mask as an additive bias (1, Lq, Lk): query i may attend to keys j <= i
    (top-left aligned, as PyTorch's is_causal), -inf elsewhere."""
    return np.where(np.tril(np.ones((lq, lk), dtype=bool)), 0, -np.inf).astype(dtype)[None]


def attention_softmax_forward(scores, bias, scale, causal=False, out=None):
    """Row softmax of scores*scale + bias, with the causal mask too when `causal`; a row
    with no allowed entry (all -inf) becomes 0, as PyTorch's scaled_dot_product_attention does.
    Written into `out` when given (C-contiguous, scores' shape), as the compiled kernel.

    Shape: scores (N, Lq, Lk), bias (1 or N, Lq, Lk) or None -> probs (N, Lq, Lk).
    """
    s = scores * scores.dtype.type(scale)
    if bias is not None:
        s = s + bias
    if causal:
        s = s + causal_bias(*scores.shape[1:], scores.dtype)
    top = s.max(axis=-1, keepdims=True)
    dead = np.isneginf(top)
    with np.errstate(over="ignore"):  # -3e38 - 3e38 -> -inf is right here: exp gives 0
        e = np.exp(s - np.where(dead, 0, top))
    total = e.sum(axis=-1, keepdims=True)
    return _into(out, np.where(dead, 0, e / np.where(dead, 1, total)).astype(scores.dtype))


def _into(out, result):
    """result, copied into `out` when one is given (the kernels' optional output buffer)."""
    if out is None:
        return result
    out[...] = result
    return out


def attention_softmax_backward(probs, dprobs, causal=False, out=None, scale=1.0):
    """Gradient of the raw scores Q K^T when P = softmax(scores * scale):
    P * (dP - rowsum(dP * P)) * scale. `causal` only says that P is zero above the
    diagonal (the result is too). Into `out` when given.

    Shape: (N, Lq, Lk) -> (N, Lq, Lk).
    """
    d = probs * (dprobs - (dprobs * probs).sum(axis=-1, keepdims=True))
    return _into(out, d if scale == 1.0 else (d * probs.dtype.type(scale)).astype(probs.dtype, copy=False))


def cross_entropy_forward(logits, target, weight, ignore_index):
    """Per-row losses (weighted; 0 where the target is ignore_index), the row weights,
    and each row's log-sum-exp, computed after shifting by the row max so exp cannot overflow.

    Shape: logits (N, C), target (N,), weight (C,) or None -> losses (N,), row_weight (N,), lse (N,).
    """
    valid = target != ignore_index
    safe = np.where(valid, target, 0)
    w = valid.astype(logits.dtype)
    if weight is not None:
        w = w * weight[safe]
    top = logits.max(axis=1)
    lse = top + np.log(np.exp(logits - top[:, None]).sum(axis=1))
    return (lse - logits[np.arange(len(target)), safe]) * w, w, lse


def cross_entropy_backward(logits, lse, target, ignore_index, coef):
    """softmax(logits) * coef, minus coef at each row's target (ignored rows have coef 0).

    Shape: logits (N, C), lse (N,), target (N,), coef (N,) -> (N, C).
    """
    out = np.exp(logits - lse[:, None]) * coef[:, None]
    out[np.arange(len(target)), np.where(target != ignore_index, target, 0)] -= coef
    return out


def adam_step(value, grad, m, v, step, lr, b1, b2, eps, weight_decay, decoupled):
    """One Adam/AdamW step (no AMSGrad) -> (new value, new m, new v).

    Shape: value, grad, m, v all the parameter's shape (m, v may be the scalar 0 at step 1).
    """
    if decoupled:
        value = value * (1 - lr * weight_decay)
    elif weight_decay:
        grad = grad + weight_decay * value
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    m_hat = m / (1 - b1**step)
    v_hat = v / (1 - b2**step)
    return value - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def sgd_step(value, grad, buf, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """One SGD step (PyTorch's rules: the momentum buffer starts as the first gradient)
    -> (new value, new buffer or None without momentum), fresh arrays.

    Shape: value, grad, buf (None before the first step) all the parameter's shape.
    """
    g = -grad if maximize else grad
    if weight_decay:
        g = g + weight_decay * value
    new_buf = None
    if momentum:
        new_buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
        g = g + momentum * new_buf if nesterov else new_buf
    return value - lr * g, new_buf


def sgd_steps(values, grads, bufs, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """sgd_step for each parameter of a group -> (new values, new buffers or Nones).

    Shape: values, grads, bufs: lists of arrays of each parameter's shape (bufs: None before the first step).
    """
    steps = [sgd_step(v, g, b, lr, momentum, dampening, weight_decay, nesterov, maximize)
             for v, g, b in zip(values, grads, bufs, strict=True)]
    return [value for value, _ in steps], [buf for _, buf in steps]


def layer_norm_forward(x, weight, bias, eps):
    """Normalise each row of x, then scale and shift (weight/bias None: 1 and 0).

    Shape: x (M, D), weight and bias (D,) -> out (M, D), xhat (M, D), rstd (M,).
    """
    centered = x - x.mean(axis=1, keepdims=True)
    rstd = 1 / np.sqrt((centered * centered).mean(axis=1) + eps)
    xhat = centered * rstd[:, None]
    out = xhat * (1 if weight is None else weight) + (0 if bias is None else bias)
    return out.astype(x.dtype, copy=False), xhat, rstd.astype(x.dtype, copy=False)


def layer_norm_backward(grad, xhat, rstd, weight):
    """Gradients of layer_norm_forward. Shape: grad (M, D) -> dx (M, D), dweight (D,), dbias (D,)."""
    g = grad if weight is None else grad * weight
    dx = rstd[:, None] * (g - g.mean(axis=1, keepdims=True) - xhat * (g * xhat).mean(axis=1, keepdims=True))
    return dx, (grad * xhat).sum(axis=0), grad.sum(axis=0)


def batch_norm_forward(x, weight, bias, eps):
    """Batch statistics per channel over the batch and the positions, then scale and shift
    (weight/bias None: 1 and 0). The biased variance, as PyTorch normalises with.

    Shape: x (N, C, L), weight and bias (C,) -> out (N, C, L), xhat (N, C, L), mean (C,), var (C,), inv_std (C,).
    """
    mean = x.mean(axis=(0, 2))
    centred = x - mean[:, None]
    var = (centred * centred).mean(axis=(0, 2))
    inv_std = (1 / np.sqrt(var + eps)).astype(x.dtype)
    xhat = centred * inv_std[:, None]
    out = xhat * (1 if weight is None else weight[:, None]) + (0 if bias is None else bias[:, None])
    return out.astype(x.dtype, copy=False), xhat, mean, var, inv_std


def batch_norm_backward(grad, xhat, inv_std, weight):
    """Gradients of batch_norm_forward. Shape: grad (N, C, L) -> dx (N, C, L), dweight (C,), dbias (C,)."""
    count = grad.size // grad.shape[1]
    sum_g, sum_gh = grad.sum(axis=(0, 2)), (grad * xhat).sum(axis=(0, 2))
    scale = inv_std if weight is None else weight * inv_std
    dx = (grad - (sum_g / count)[:, None] - xhat * (sum_gh / count)[:, None]) * scale[:, None]
    return dx.astype(grad.dtype, copy=False), sum_gh, sum_g


_GELU_C, _GELU_A = np.sqrt(2 / np.pi), 0.044715


def relu_forward(x):
    """max(x, 0), NaN kept. Shape: any -> same."""
    return np.maximum(x, x.dtype.type(0))


def relu_backward(grad, out):
    """0 where the output is <= 0, the gradient elsewhere (a NaN output passes it, as PyTorch).
    Shape: grad (out's shape, or broadcastable to it), out -> out's shape."""
    return np.where(out <= 0, 0, grad).astype(out.dtype, copy=False)


def gelu_tanh_forward(x):
    """0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3); also returns t = tanh(u).

    Shape: x (any) -> out, t (same shape).
    """
    t = np.tanh(_GELU_C * (x + _GELU_A * x**3)).astype(x.dtype, copy=False)
    return (0.5 * x * (1 + t)).astype(x.dtype, copy=False), t


def gelu_tanh_backward(x, t, grad):
    """Shape: x, t, grad (same shape) -> dx."""
    slope = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _GELU_C * (1 + 3 * _GELU_A * x * x)
    return (grad * slope).astype(x.dtype, copy=False)


def scatter_add_rows(indices, rows, num_rows):
    """out[indices[i]] += rows[i] for every i, into zeros. Shape: (M,), (M, D) -> (num_rows, D)."""
    out = np.zeros((num_rows, rows.shape[1]), dtype=rows.dtype)
    np.add.at(out, indices, rows)
    return out
