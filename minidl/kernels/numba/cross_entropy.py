"""Softmax cross-entropy by rows, fused in Numba (NumPy twins in reference.py).

Forward reads each row twice (its max, then exp and sum in one pass, with the
vectorised float32 exp of special.py; float64 rows use libm's exact exp), writes
exp(x - max) once for the backward, and picks the target logit, weight and loss
in the same loop. Backward is one pass: p * c - onehot * c, with c each row's
weight times the incoming gradient. One kernel call instead of ten small NumPy
ones also matters on small batches, where per-call cost dominates.
"""
import numba
import numpy as np

from .special import exp_scalar

# Reassociation lets LLVM vectorise the row sums; no 'nnan'/'ninf' (-inf logits are allowed).
_ROW_MATH = {"reassoc", "nsz", "contract"}


@numba.njit(cache=True, fastmath=_ROW_MATH, error_model="numpy")
def _forward(x, target, weight, ignore_index, e, total, losses, row_weight):
    rows, cols = x.shape
    zero, one = e.dtype.type(0.0), e.dtype.type(1.0)
    for i in range(rows):
        m = x[i, 0]
        for j in range(1, cols):
            v = x[i, j]
            m = v if v > m else m  # a NaN row keeps NaN (it reaches the sum below)
        s = zero
        for j in range(cols):
            v = exp_scalar(x[i, j] - m)
            e[i, j] = v
            s += v
        total[i] = s
        t = target[i]
        valid = t != ignore_index
        safe = t if valid else 0
        w = zero
        if valid:
            w = one if weight is None else weight[safe]
        row_weight[i] = w
        losses[i] = -((x[i, safe] - m) - np.log(s)) * w


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _backward(e, total, target, ignore_index, coef, out):
    rows, cols = e.shape
    for i in range(rows):
        c = coef[i] / total[i]
        for j in range(cols):
            out[i, j] = e[i, j] * c
        t = target[i]
        out[i, t if t != ignore_index else 0] -= coef[i]  # an ignored row's coef is 0


def _fast(x):
    return x.dtype in (np.float32, np.float64) and x.ndim == 2 and x.shape[1] > 0


def cross_entropy_forward(logits, target, weight, ignore_index):
    """Per-row losses (weighted; 0 where the target is ignore_index), the row weights,
    exp(logits - row max) and its row sums.

    Shape: logits (N, C), target (N,) int in [0, C) or ignore_index, weight (C,) or None
    -> losses (N,), row_weight (N,), exp (N, C), total (N,).
    """
    if not _fast(logits):
        from ..reference import cross_entropy_forward as numpy_twin

        return numpy_twin(logits, target, weight, ignore_index)  # other dtypes, and NumPy's error for no classes
    x = np.ascontiguousarray(logits)
    n = len(x)
    e, total = np.empty_like(x), np.empty(n, x.dtype)
    losses, row_weight = np.empty(n, x.dtype), np.empty(n, x.dtype)
    w = None if weight is None else np.ascontiguousarray(weight, dtype=x.dtype)
    _forward(x, np.ascontiguousarray(target, dtype=np.int64), w, int(ignore_index), e, total, losses, row_weight)
    return losses, row_weight, e, total


def cross_entropy_backward(exp, total, target, ignore_index, coef):
    """d loss / d logits for per-row coefficients coef = row weight * incoming gradient.

    Shape: exp (N, C), total (N,), target (N,), coef (N,) -> (N, C).
    """
    if not _fast(exp):
        from ..reference import cross_entropy_backward as numpy_twin

        return numpy_twin(exp, total, target, ignore_index, coef)
    out = np.empty_like(exp)
    _backward(exp, total, np.ascontiguousarray(target, dtype=np.int64), int(ignore_index),
              np.ascontiguousarray(coef, dtype=exp.dtype), out)
    return out
