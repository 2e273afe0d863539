"""Attention's softmax, fused in Numba (same results as the NumPy twins in reference.py).

The two GEMMs (Q K^T and P V) stay in NumPy (BLAS). Numba fuses the row work
around them: one kernel per row runs scale, mask and maximum, then exp with the
row sum, then normalisation. float32 uses the vectorised exp of special.py (B5's
forward softmax 0.60 -> 0.39 ms against NumPy's exp between fused passes);
float64 uses libm's exact exp. Backward's row dot and update are one pass.
"""
import numba
import numpy as np

from .special import exp_scalar

# error_model="numpy" drops the division-by-zero checks that block vectorisation.
# Reassociation lets LLVM vectorise the row sums and maxima (a serial float sum is
# latency-bound: 0.28 ms -> see benchmarks/ B5); no 'nnan'/'ninf': -inf marks masked scores.
_ROW_MATH = {"reassoc", "nsz", "contract"}


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
def _softmax(scores, p, bias, scale):
    """p = softmax(scores*scale + bias) by rows; rows with nothing allowed become 0."""
    n, rows, cols = p.shape
    per_item = bias is not None and bias.shape[0] == n
    zero = p.dtype.type(0.0)
    for a in range(n):
        for i in range(rows):
            top = p.dtype.type(-np.inf)
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
                e = exp_scalar(p[a, i, j] - top)
                p[a, i, j] = e
                total += e
            inv = p.dtype.type(1.0) / total
            for j in range(cols):
                p[a, i, j] *= inv


def attention_softmax_forward(scores, bias, scale):
    p = np.empty_like(scores)
    if bias is not None:
        bias = np.ascontiguousarray(bias, dtype=p.dtype)
    _softmax(np.ascontiguousarray(scores), p, bias, p.dtype.type(scale))
    return p


def attention_softmax_backward(probs, dprobs):
    out = np.empty_like(probs)
    _softmax_backward(probs, np.ascontiguousarray(dprobs), out)
    return out
