"""ReLU, and GELU with the tanh approximation: forward and backward in one pass each.

ReLU: NumPy's float32 maximum is not SIMD in the NumPy builds measured, and a gradient
as a float-times-bool product is a second pass. Here both are one vectorised select; the
backward reads the output (0 where out <= 0, as PyTorch), so no mask is kept.

gelu(x) = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3). As primitives
that is nine graph nodes per call (every transformer feed-forward block); here one pass
computes the output and keeps tanh(u) for the backward:
d gelu / dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2).
"""
import math

import numba
import numpy as np

from ..threads import run_halves
from .special import tanh_scalar

_C = math.sqrt(2 / math.pi)
_A = 0.044715


# N-d in, flattened inside (contiguous arrays reshape for free in Numba): two reshapes
# in Python cost more than the kernel on small batches. Elements [lo, hi): large arrays
# go in two halves on two threads (minidl.kernels.threads), as the loop is bound by memory.
# The range is sliced off first and the loop runs from 0: an index from range(lo, hi) could
# be negative as far as Numba knows, and its wraparound test kept the loop scalar (7x slower).
@numba.njit(cache=True, nogil=True)
def _relu_forward(x, out, lo, hi):
    x, out = x.reshape(x.size)[lo:hi], out.reshape(out.size)[lo:hi]
    zero = x.dtype.type(0.0)
    for i in range(x.size):
        v = x[i]
        out[i] = zero if v <= zero else v  # NaN is not <= 0: it passes through


@numba.njit(cache=True, nogil=True)
def _relu_backward(grad, out, dx, lo, hi):
    grad, out, dx = grad.reshape(grad.size)[lo:hi], out.reshape(out.size)[lo:hi], dx.reshape(dx.size)[lo:hi]
    zero = dx.dtype.type(0.0)
    for i in range(dx.size):
        g = grad[i]  # loaded before the test: a load inside the condition kept the loop scalar
        dx[i] = zero if out[i] <= zero else g  # NaN is not <= 0: its gradient passes, as PyTorch


def relu_forward(x):
    """Shape: x (any) -> max(x, 0), NaN kept."""
    if x.dtype not in (np.float32, np.float64):
        from ..reference import relu_forward as numpy_twin

        return numpy_twin(x)
    x = np.asarray(x, order="C")
    out = np.empty_like(x)
    run_halves(x.size, lambda lo, hi: _relu_forward(x, out, lo, hi), 2 * x.size)
    return out


def relu_backward(grad, out):
    """Shape: grad (out's shape, or broadcastable to it), out -> 0 where out <= 0, else grad."""
    if out.dtype not in (np.float32, np.float64):
        from ..reference import relu_backward as numpy_twin

        return numpy_twin(grad, out)
    # a strided or broadcast gradient costs one copy here, still cheaper than NumPy's where on it
    if grad.shape != out.shape:
        grad = np.broadcast_to(grad, out.shape)
    grad = np.asarray(grad, dtype=out.dtype, order="C")
    dx = np.empty_like(grad)
    out = np.asarray(out, order="C")
    run_halves(dx.size, lambda lo, hi: _relu_backward(grad, out, dx, lo, hi), 2 * dx.size)
    return dx


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
