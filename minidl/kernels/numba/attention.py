"""Attention's softmax, fused in Numba (same results as the NumPy twins in reference.py).

The two GEMMs (Q K^T and P V) stay in NumPy (BLAS). Numba fuses the row work
around them: one kernel per row runs scale, mask and maximum, then exp with the
row sum, then normalisation. float32 uses the vectorised exp of special.py;
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


# nogil: minidl.kernels.threads may run two halves of a batch at once
@numba.njit(cache=True, nogil=True, fastmath=_ROW_MATH, error_model="numpy")
def _softmax_backward(probs, dprobs, out, causal, scale):
    n, rows, cols = probs.shape
    zero = out.dtype.type(0.0)
    for a in range(n):
        for i in range(rows):
            # P is 0 past the diagonal, and so is the result (see _softmax for the span)
            span = min((i + _LANES) & -_LANES, cols) if causal else cols
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
    exps of a square mask are never computed, and no bias is read."""
    n, rows, cols = p.shape
    per_item = bias is not None and bias.shape[0] == n
    zero, neg_inf = p.dtype.type(0.0), p.dtype.type(-np.inf)
    for a in range(n):
        for i in range(rows):
            valid = min(i + 1, cols) if causal else cols
            span = min((valid + _LANES - 1) & -_LANES, cols)  # whole vector blocks: masked inside
            s, pr = scores[a, i], p[a, i]
            top = neg_inf
            for j in range(span):
                v = s[j] * scale
                if bias is not None:
                    v += bias[a if per_item else 0, i, j]
                v = v if j < valid else neg_inf
                pr[j] = v
                top = max(top, v)
            for j in range(span, cols):
                pr[j] = zero
            if top == neg_inf:
                for j in range(span):
                    pr[j] = zero
                continue
            total = zero
            for j in range(span):
                e = exp_scalar(pr[j] - top)
                pr[j] = e
                total += e
            inv = p.dtype.type(1.0) / total
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
