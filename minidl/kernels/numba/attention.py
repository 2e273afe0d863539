"""Attention's softmax, fused in Numba (same results as the NumPy twins in reference.py).

The two GEMMs (Q K^T and P V) stay in NumPy (BLAS). Numba fuses the row work
around them: scale, mask and maximum, then exp with the row sum, then normalisation,
each as one pass over an item's rows. float32 uses the vectorised exp of special.py;
float64 uses libm's exact exp. Backward's row dot and update are one pass.
"""
import numba
import numpy as np

from .special import exp_scalar

# error_model="numpy" drops the division-by-zero checks that block vectorisation.
# Reassociation lets LLVM vectorise the row sums and maxima (a serial float sum is
# latency-bound); no 'nnan'/'ninf': -inf marks masked scores.
_ROW_MATH = {"reassoc", "nsz", "contract"}
# Causal rows are cut at the diagonal but processed in whole blocks of this many
# columns (the extra ones masked): LLVM's vector loops step 32 floats at a time and
# run anything shorter scalar, which made cut rows slower than full ones.
_LANES = 32


@numba.njit(inline="always")
def _span(i, cols, causal):
    """The columns row i works on: all of them, or when causal up to its diagonal in whole
    blocks of _LANES (the extra ones masked)."""
    return min((i + _LANES) & -_LANES, cols) if causal else cols


# nogil: minidl.kernels.threads may run two halves of a batch at once
@numba.njit(cache=True, nogil=True, fastmath=_ROW_MATH, error_model="numpy")
def _softmax_backward(probs, dprobs, out, causal, scale):
    n, rows, cols = probs.shape
    zero = out.dtype.type(0.0)
    for a in range(n):
        for i in range(rows):
            span = _span(i, cols, causal)  # P is 0 past it, and so is the result
            p, d, o = probs[a, i], dprobs[a, i], out[a, i]
            dot = zero
            for j in range(span):
                dot += d[j] * p[j]
            for j in range(span):
                o[j] = p[j] * (d[j] - dot) * scale
            for j in range(span, cols):
                o[j] = zero


@numba.njit(cache=True, nogil=True, fastmath=_ROW_MATH, error_model="numpy")
def _softmax(scores, p, bias, scale, causal):
    """p = softmax(scores*scale + bias) by rows, keys j <= i only when `causal`;
    rows with nothing allowed become 0. Causal rows stop at the diagonal: half the
    exps of a square mask are never computed, and no bias is read.
    Three passes over each item's rows (scores and maximum; exp and sum; scaling), not
    one row at a time: a row's exps waited on its own maximum, and its scaling on its own
    sum, each a chain of a few dozen cycles at short rows; across rows the chains overlap."""
    n, rows, cols = p.shape
    per_item = bias is not None and bias.shape[0] == n
    zero, neg_inf = p.dtype.type(0.0), p.dtype.type(-np.inf)
    tops = np.empty(rows, dtype=p.dtype)
    totals = np.empty(rows, dtype=p.dtype)
    for a in range(n):
        for i in range(rows):
            valid = min(i + 1, cols) if causal else cols
            span = _span(i, cols, causal)
            s, pr = scores[a, i], p[a, i]
            for j in range(span):
                v = s[j] * scale
                if bias is not None:
                    v += bias[a if per_item else 0, i, j]
                pr[j] = v if j < valid else neg_inf
            top = neg_inf
            for j in range(span):  # a loop of its own: fused into the one above, the two ran slower
                v = pr[j]
                top = v if v > top else top
            tops[i] = top
            for j in range(span, cols):
                pr[j] = zero
        for i in range(rows):
            span = _span(i, cols, causal)
            pr, top = p[a, i], tops[i]
            if top == neg_inf:
                for j in range(span):
                    pr[j] = zero
                totals[i] = p.dtype.type(1.0)
                continue
            total = zero
            for j in range(span):
                e = exp_scalar(pr[j] - top)
                pr[j] = e
                total += e
            totals[i] = total
        for i in range(rows):
            span = _span(i, cols, causal)
            pr = p[a, i]
            inv = p.dtype.type(1.0) / totals[i]
            for j in range(span):
                pr[j] *= inv


def attention_softmax_forward(scores, bias, scale, causal=False, out=None):
    p = np.empty_like(scores) if out is None else out
    if bias is not None:
        bias = np.ascontiguousarray(bias, dtype=p.dtype)
    _softmax(np.ascontiguousarray(scores), p, bias, p.dtype.type(scale), bool(causal))
    return p


def attention_softmax_backward(probs, dprobs, causal=False, out=None, scale=1.0):
    out = np.empty_like(probs) if out is None else out
    _softmax_backward(np.ascontiguousarray(probs), np.ascontiguousarray(dprobs), out, bool(causal),
                      out.dtype.type(scale))
    return out
