"""GELU with the tanh approximation: forward and backward in one pass each.

gelu(x) = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3). As primitives
that is nine graph nodes per call (every transformer feed-forward block); here one pass
computes the output and keeps tanh(u) for the backward:
d gelu / dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2).
"""
import math

import numba
import numpy as np

from .special import tanh_scalar

_C = math.sqrt(2 / math.pi)
_A = 0.044715


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _forward(x, out, t):
    c, a, half, one = x.dtype.type(_C), x.dtype.type(_A), x.dtype.type(0.5), x.dtype.type(1.0)
    for i in range(x.size):
        v = x[i]
        th = tanh_scalar(c * (v + a * v * v * v))
        t[i] = th
        out[i] = half * v * (one + th)


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _backward(x, t, grad, dx):
    c, a3, half, one = x.dtype.type(_C), x.dtype.type(3 * _A), x.dtype.type(0.5), x.dtype.type(1.0)
    for i in range(x.size):
        v, th = x[i], t[i]
        dx[i] = grad[i] * (half * (one + th) + half * v * (one - th * th) * c * (one + a3 * v * v))


def gelu_tanh_forward(x):
    """Shape: x (any) -> out, t = tanh(u) (same shape)."""
    if x.dtype not in (np.float32, np.float64):
        from ..reference import gelu_tanh_forward as numpy_twin

        return numpy_twin(x)
    x = np.asarray(x, order="C")
    out, t = np.empty_like(x), np.empty_like(x)
    _forward(x.reshape(-1), out.reshape(-1), t.reshape(-1))
    return out, t


def gelu_tanh_backward(x, t, grad):
    """Shape: x, t, grad (same shape) -> dx."""
    if x.dtype not in (np.float32, np.float64):
        from ..reference import gelu_tanh_backward as numpy_twin

        return numpy_twin(x, t, grad)
    x, t, grad = (np.asarray(a, x.dtype, order="C") for a in (x, t, grad))
    dx = np.empty_like(x)
    _backward(x.reshape(-1), t.reshape(-1), grad.reshape(-1), dx.reshape(-1))
    return dx
