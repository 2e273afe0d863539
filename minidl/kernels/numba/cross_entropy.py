"""Softmax cross-entropy by rows, fused in Numba (NumPy twins in reference.py).

The forward keeps one number per row, its log-sum-exp, and no (N, C) array: writing
exp(x - max) for the backward, then reading it back, was two extra passes over a
buffer the size of the logits (82 MB for a 10,000-word vocabulary at 2048 rows).
Forward reads each row twice (its max, then the sum of exp; the row is still in
cache, as rows go in blocks that fit L2), with the vectorised float32 exp of
special.py (float64 rows use libm's exact exp), and picks the target logit, weight
and loss in the same loop. Backward is one
pass from the logits: softmax = exp(x - lse), times c, minus c at the target, with c
each row's weight times the incoming gradient. Both split their rows over two
threads when the logits are large (minidl.kernels.threads).
"""
import numba
import numpy as np

from ..threads import run_halves
from .special import exp_scalar

# Reassociation lets LLVM vectorise the row sums; no 'nnan'/'ninf' (-inf logits are allowed).
_ROW_MATH = {"reassoc", "nsz", "contract"}
# Rows are reduced in blocks of about this many bytes, which stay in the core's L2 cache.
BLOCK_BYTES = 1 << 20


# nogil: minidl.kernels.threads runs two halves of the rows at once
@numba.njit(cache=True, nogil=True, fastmath=_ROW_MATH, error_model="numpy")
def _forward(x, top, target, weight, ignore_index, lse, losses, row_weight, lo, hi):
    cols = x.shape[1]
    zero, one = lse.dtype.type(0.0), lse.dtype.type(1.0)
    for i in range(lo, hi):
        row, m = x[i], top[i - lo]
        s = zero
        for j in range(cols):
            s += exp_scalar(row[j] - m)
        log_total = m + np.log(s)
        lse[i] = log_total
        t = target[i]
        valid = t != ignore_index
        safe = t if valid else 0
        w = zero
        if valid:
            w = one if weight is None else weight[safe]
        row_weight[i] = w
        losses[i] = (log_total - row[safe]) * w


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _backward(x, lse, target, ignore_index, coef, out, lo, hi):
    for i in range(lo, hi):
        row, dst, top, c = x[i], out[i], lse[i], coef[i]
        for j in range(x.shape[1]):
            dst[j] = exp_scalar(row[j] - top) * c
        t = target[i]
        dst[t if t != ignore_index else 0] -= c  # an ignored row's coef is 0


def _fast(x):
    return x.dtype in (np.float32, np.float64) and x.ndim == 2 and x.shape[1] > 0


def _row_blocks(x, lo, hi):
    """[lo, hi) in blocks of rows of about BLOCK_BYTES, at least one row each."""
    step = max(1, BLOCK_BYTES // max(1, x.shape[1] * x.itemsize))
    return ((b, min(b + step, hi)) for b in range(lo, hi, step))


def _forward_rows(x, target, weight, ignore_index, lse, losses, row_weight, lo, hi):
    """Block by block: the row maxima by NumPy's SIMD reduction (a max loop in Numba stays
    scalar: LLVM does not vectorise its NaN-aware comparisons), then the kernel, while
    the block is still in cache. A NaN anywhere in a row makes its sum, so its lse, NaN."""
    for b0, b1 in _row_blocks(x, lo, hi):
        _forward(x, x[b0:b1].max(axis=1), target, weight, ignore_index, lse, losses, row_weight, b0, b1)


def _work(x):
    """Roughly the multiply-adds an exp costs, per logit, for the two-thread rule."""
    return 8 * x.size


def cross_entropy_forward(logits, target, weight, ignore_index):
    """Per-row losses (weighted; 0 where the target is ignore_index), the row weights,
    and each row's log-sum-exp, log(sum(exp(logits))), which is all the backward needs.

    Shape: logits (N, C), target (N,) int in [0, C) or ignore_index, weight (C,) or None
    -> losses (N,), row_weight (N,), lse (N,).
    """
    if not _fast(logits):
        from ..reference import cross_entropy_forward as numpy_twin

        return numpy_twin(logits, target, weight, ignore_index)  # other dtypes, and NumPy's error for no classes
    x = np.ascontiguousarray(logits)
    n = len(x)
    lse, losses, row_weight = (np.empty(n, x.dtype) for _ in range(3))
    w = None if weight is None else np.ascontiguousarray(weight, dtype=x.dtype)
    t = np.ascontiguousarray(target, dtype=np.int64)
    ignore = int(ignore_index)
    run_halves(n, lambda lo, hi: _forward_rows(x, t, w, ignore, lse, losses, row_weight, lo, hi), _work(x))
    return losses, row_weight, lse


def cross_entropy_backward(logits, lse, target, ignore_index, coef):
    """d loss / d logits for per-row coefficients coef = row weight * incoming gradient:
    softmax(logits) * coef, minus coef at each row's target.

    Shape: logits (N, C), lse (N,), target (N,), coef (N,) -> (N, C).
    """
    if not _fast(logits):
        from ..reference import cross_entropy_backward as numpy_twin

        return numpy_twin(logits, lse, target, ignore_index, coef)
    x = np.ascontiguousarray(logits)
    out = np.empty_like(x)
    t = np.ascontiguousarray(target, dtype=np.int64)
    c = np.ascontiguousarray(coef, dtype=x.dtype)
    ignore = int(ignore_index)
    run_halves(len(x), lambda lo, hi: _backward(x, lse, t, ignore, c, out, lo, hi), _work(x))
    return out
