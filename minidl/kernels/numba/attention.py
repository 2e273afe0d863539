"""Attention's softmax, fused in Numba (same results as the NumPy twins in reference.py).

The two GEMMs (Q K^T and P V) stay in NumPy (BLAS). Numba fuses the row work
around them. float32 runs one kernel per row: scale, mask and maximum, then the
vectorised exp of special.py with the row sum, then normalisation (B5's forward
softmax 0.60 -> 0.2 ms). float64 keeps np.exp (exact) between two fused passes.
Backward's row dot and update are one pass.
"""
import numba
import numpy as np

from .special import _exp32_scalar

# error_model="numpy" drops the division-by-zero checks that block vectorisation.
# Reassociation lets LLVM vectorise the row sums and maxima (a serial float sum is
# latency-bound: 0.28 ms -> see benchmarks/ B5); no 'nnan'/'ninf': -inf marks masked scores.
_ROW_MATH = {"reassoc", "nsz", "contract"}


@numba.njit(cache=True, fastmath=_ROW_MATH, error_model="numpy")
def _scale_mask_shift(scores, s, bias, scale):
    """s = scores*scale + bias, minus each row's maximum; rows with nothing allowed become all -inf."""
    n, rows, cols = s.shape
    per_item = bias is not None and bias.shape[0] == n
    for a in range(n):
        for i in range(rows):
            top = -np.inf
            for j in range(cols):
                v = scores[a, i, j] * scale
                if bias is not None:
                    v += bias[a if per_item else 0, i, j]
                s[a, i, j] = v
                top = max(top, v)
            if top == -np.inf:
                for j in range(cols):
                    s[a, i, j] = -np.inf
            else:
                for j in range(cols):
                    s[a, i, j] -= top


@numba.njit(cache=True, fastmath=_ROW_MATH, error_model="numpy")
def _normalize(e):
    n, rows, cols = e.shape
    for a in range(n):
        for i in range(rows):
            total = 0.0
            for j in range(cols):
                total += e[a, i, j]
            if total > 0:
                inv = 1.0 / total
                for j in range(cols):
                    e[a, i, j] *= inv


@numba.njit(cache=True, fastmath=_ROW_MATH, error_model="numpy")
def _softmax_backward(probs, dprobs, out):
    n, rows, cols = probs.shape
    for a in range(n):
        for i in range(rows):
            dot = 0.0
            for j in range(cols):
                dot += dprobs[a, i, j] * probs[a, i, j]
            for j in range(cols):
                out[a, i, j] = probs[a, i, j] * (dprobs[a, i, j] - dot)


@numba.njit(cache=True, fastmath=_ROW_MATH, error_model="numpy")
def _softmax32(scores, p, bias, scale):
    """p = softmax(scores*scale + bias) by rows; rows with nothing allowed become 0."""
    n, rows, cols = p.shape
    per_item = bias is not None and bias.shape[0] == n
    zero = np.float32(0.0)
    for a in range(n):
        for i in range(rows):
            top = np.float32(-np.inf)
            for j in range(cols):
                v = scores[a, i, j] * scale
                if bias is not None:
                    v += bias[a if per_item else 0, i, j]
                p[a, i, j] = v
                top = max(top, v)
            if top == -np.inf:
                for j in range(cols):
                    p[a, i, j] = zero
                continue
            total = zero
            for j in range(cols):
                e = _exp32_scalar(p[a, i, j] - top)
                p[a, i, j] = e
                total += e
            inv = np.float32(1.0) / total
            for j in range(cols):
                p[a, i, j] *= inv


def attention_softmax_forward(scores, bias, scale):
    if scores.dtype == np.float32 and (bias is None or bias.dtype == np.float32):
        p = np.empty_like(scores)
        _softmax32(np.ascontiguousarray(scores), p, bias, np.float32(scale))
        return p
    s = np.empty_like(scores)
    _scale_mask_shift(scores, s, bias, s.dtype.type(scale))
    np.exp(s, out=s)
    _normalize(s)
    return s


def attention_softmax_backward(probs, dprobs):
    out = np.empty_like(probs)
    _softmax_backward(probs, np.ascontiguousarray(dprobs), out)
    return out
