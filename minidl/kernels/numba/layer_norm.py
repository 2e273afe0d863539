"""Layer normalisation over the rows of a matrix, forward and backward, fused in Numba.

Composed from primitives a layer norm is nine graph nodes and about fifteen
passes over the activations (forward and backward); here each row is read a
few times while it sits in L1. Row statistics accumulate in float64.
"""
import numba
import numpy as np


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
