"""Layer normalisation over the rows of a matrix, and batch normalisation over each channel,
forward and backward, fused in Numba.

Composed from primitives a layer norm is nine graph nodes and about fifteen
passes over the activations (forward and backward); here each row is read a
few times while it sits in L1. Row statistics accumulate in float64.
"""
import numba
import numpy as np

from ..threads import run_halves

# Reassociation lets LLVM vectorise the row sums (a serial float64 sum is latency-bound).
_ROW_MATH = {"reassoc", "nsz", "contract"}


@numba.njit(cache=True, error_model="numpy", fastmath=_ROW_MATH)
def _forward(x, weight, bias, eps, out, xhat, rstd):
    rows, d = x.shape
    for i in range(rows):
        total = 0.0
        for j in range(d):
            total += x[i, j]
        mean = total / d
        square = 0.0
        for j in range(d):
            c = x[i, j] - mean
            square += c * c
        r = 1.0 / np.sqrt(square / d + eps)
        rstd[i] = r
        for j in range(d):
            h = (x[i, j] - mean) * r
            xhat[i, j] = h
            out[i, j] = h * weight[j] + bias[j]


@numba.njit(cache=True, error_model="numpy", fastmath=_ROW_MATH)
def _backward(grad, xhat, rstd, weight, dx, dweight, dbias):
    rows, d = grad.shape
    for i in range(rows):
        mean_g = 0.0
        mean_gh = 0.0
        for j in range(d):
            g = grad[i, j] * weight[j]
            mean_g += g
            mean_gh += g * xhat[i, j]
        mean_g /= d
        mean_gh /= d
        r = rstd[i]
        for j in range(d):
            dx[i, j] = r * (grad[i, j] * weight[j] - mean_g - xhat[i, j] * mean_gh)
            dweight[j] += grad[i, j] * xhat[i, j]
            dbias[j] += grad[i, j]


def layer_norm_forward(x, weight, bias, eps):
    """Normalise each row of x, then scale and shift (weight/bias None: 1 and 0).

    Shape: x (M, D), weight and bias (D,) -> out (M, D), xhat (M, D), rstd (M,).
    """
    x = np.ascontiguousarray(x)
    d = x.shape[1]
    weight = np.ones(d, x.dtype) if weight is None else np.ascontiguousarray(weight, x.dtype)
    bias = np.zeros(d, x.dtype) if bias is None else np.ascontiguousarray(bias, x.dtype)
    out, xhat, rstd = np.empty_like(x), np.empty_like(x), np.empty(len(x), x.dtype)
    _forward(x, weight, bias, float(eps), out, xhat, rstd)
    return out, xhat, rstd


def layer_norm_backward(grad, xhat, rstd, weight):
    """Gradients of layer_norm_forward. Shape: grad (M, D) -> dx (M, D), dweight (D,), dbias (D,)."""
    grad = np.ascontiguousarray(grad)
    d = grad.shape[1]
    weight = np.ones(d, grad.dtype) if weight is None else np.ascontiguousarray(weight, grad.dtype)
    dx = np.empty_like(grad)
    dweight, dbias = np.zeros(d, np.float64), np.zeros(d, np.float64)
    _backward(grad, xhat, rstd, weight, dx, dweight, dbias)
    return dx, dweight.astype(grad.dtype), dbias.astype(grad.dtype)


# ---- batch normalisation (training mode) -------------------------------------------
# Statistics per channel over (N, L): each (image, channel) plane of L values is contiguous,
# and one channel's N planes (N*L*itemsize, 128 KB for 32 images of 32x32) stay in L2
# across the passes. Partial sums per plane run in the array's dtype (vectorised) and add up
# in float64. Channels split over two threads (minidl.kernels.threads); nogil for that.


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath=_ROW_MATH)
def _batch_forward(x, weight, bias, eps, out, xhat, mean, var, inv_std, lo, hi):
    n, _, length = x.shape
    count = n * length
    zero = x.dtype.type(0.0)
    for c in range(lo, hi):
        total = 0.0
        for i in range(n):
            plane, s = x[i, c], zero
            for j in range(length):
                s += plane[j]
            total += s
        m = total / count
        centre = x.dtype.type(m)
        square = 0.0
        for i in range(n):
            plane, s = x[i, c], zero
            for j in range(length):
                d = plane[j] - centre
                s += d * d
            square += s
        v = square / count
        r = 1.0 / np.sqrt(v + eps)
        mean[c], var[c], inv_std[c] = m, v, r
        scale, w, b = x.dtype.type(r), weight[c], bias[c]
        for i in range(n):
            plane, h_out, y_out = x[i, c], xhat[i, c], out[i, c]
            for j in range(length):
                h = (plane[j] - centre) * scale
                h_out[j] = h
                y_out[j] = h * w + b


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath=_ROW_MATH)
def _batch_backward(grad, xhat, inv_std, weight, dx, dweight, dbias, lo, hi):
    n, _, length = grad.shape
    count = n * length
    zero = grad.dtype.type(0.0)
    for c in range(lo, hi):
        sum_g, sum_gh = 0.0, 0.0
        for i in range(n):
            g, h = grad[i, c], xhat[i, c]
            a, b = zero, zero
            for j in range(length):
                a += g[j]
                b += g[j] * h[j]
            sum_g += a
            sum_gh += b
        dbias[c], dweight[c] = sum_g, sum_gh
        k = weight[c] * inv_std[c]
        mean_g, mean_gh = grad.dtype.type(sum_g / count), grad.dtype.type(sum_gh / count)
        for i in range(n):
            g, h, d = grad[i, c], xhat[i, c], dx[i, c]
            for j in range(length):
                d[j] = (g[j] - mean_g - h[j] * mean_gh) * k


def _channels_work(x):
    return 4 * x.size  # a few passes over the activations; for the two-thread rule


def batch_norm_forward(x, weight, bias, eps):
    """Batch statistics per channel over the batch and the positions, then scale and shift
    (weight/bias None: 1 and 0). The biased variance, as PyTorch normalises with.

    Shape: x (N, C, L), weight and bias (C,) -> out (N, C, L), xhat (N, C, L), mean (C,), var (C,), inv_std (C,).
    """
    x = np.ascontiguousarray(x)
    c = x.shape[1]
    weight = np.ones(c, x.dtype) if weight is None else np.ascontiguousarray(weight, x.dtype)
    bias = np.zeros(c, x.dtype) if bias is None else np.ascontiguousarray(bias, x.dtype)
    out, xhat = np.empty_like(x), np.empty_like(x)
    mean, var, inv_std = (np.empty(c, np.float64) for _ in range(3))
    run_halves(c, lambda lo, hi: _batch_forward(x, weight, bias, float(eps), out, xhat, mean, var, inv_std, lo, hi),
               _channels_work(x))
    return out, xhat, mean.astype(x.dtype), var.astype(x.dtype), inv_std.astype(x.dtype)


def batch_norm_backward(grad, xhat, inv_std, weight):
    """Gradients of batch_norm_forward. Shape: grad (N, C, L) -> dx (N, C, L), dweight (C,), dbias (C,)."""
    grad = np.ascontiguousarray(grad, dtype=xhat.dtype)
    c = grad.shape[1]
    weight = np.ones(c, grad.dtype) if weight is None else np.ascontiguousarray(weight, grad.dtype)
    inv_std = np.ascontiguousarray(inv_std, grad.dtype)
    dx = np.empty_like(grad)
    dweight, dbias = np.empty(c, np.float64), np.empty(c, np.float64)
    run_halves(c, lambda lo, hi: _batch_backward(grad, xhat, inv_std, weight, dx, dweight, dbias, lo, hi),
               _channels_work(grad))
    return dx, dweight.astype(grad.dtype), dbias.astype(grad.dtype)
