# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""Softmax cross-entropy by rows, fused (NumPy twins in minidl/kernels/reference.py).

The forward keeps one number per row, its log-sum-exp, and no (N, C) array: writing
exp(x - max) for the backward, then reading it back, was two extra passes over a buffer
the size of the logits (82 MB for a 10,000-word vocabulary at 2048 rows). The backward
is one pass from the logits: softmax = exp(x - lse), times c, minus c at the target, with
c each row's weight times the incoming gradient. The loops are in cross_entropy.h; both
split their rows over two threads when the logits are large (minidl.kernels.threads).
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport int64_t

from arrays cimport is_float32, item

from minidl.kernels.threads import run_halves

include "isa.pxi"

cnp.import_array()

cdef extern from "cross_entropy.h" nogil:
    ptrdiff_t cross_entropy_forward_float(const float* x, ptrdiff_t cols, const int64_t* target, const float* weight,
                                     int64_t ignore, float* lse, float* losses, float* row_weight,
                                     ptrdiff_t lo, ptrdiff_t hi)
    ptrdiff_t cross_entropy_forward_double(const double* x, ptrdiff_t cols, const int64_t* target, const double* weight,
                                      int64_t ignore, double* lse, double* losses, double* row_weight,
                                      ptrdiff_t lo, ptrdiff_t hi)
    ptrdiff_t cross_entropy_backward_float(const float* x, ptrdiff_t cols, const float* lse, const int64_t* target,
                                      int64_t ignore, const float* coef, float* out, ptrdiff_t lo, ptrdiff_t hi)
    ptrdiff_t cross_entropy_backward_double(const double* x, ptrdiff_t cols, const double* lse, const int64_t* target,
                                       int64_t ignore, const double* coef, double* out, ptrdiff_t lo, ptrdiff_t hi)


def _raise_if_bad(op, bad, target, ignore, cols):
    if bad >= 0:
        raise IndexError(f"{op}: target {target[bad]} of row {bad} is not a class in [0, {cols}) nor {ignore}")


# The ranges take C-contiguous arrays checked by the public functions (weight may be None).
def _forward_rows(cnp.ndarray x, cnp.ndarray target, weight, int64_t ignore, cnp.ndarray lse, cnp.ndarray losses,
                  cnp.ndarray row_weight, Py_ssize_t lo, Py_ssize_t hi):
    cdef Py_ssize_t cols = x.shape[1]
    cdef bint single = is_float32(x)
    cdef char* src = item(x, 0)
    cdef int64_t* t = <int64_t*>item(target, 0)
    cdef char* w = NULL if weight is None else item(weight, 0)
    cdef char* s = item(lse, 0)
    cdef char* loss = item(losses, 0)
    cdef char* rw = item(row_weight, 0)
    cdef ptrdiff_t bad
    with nogil:
        if single:
            bad = cross_entropy_forward_float(<float*>src, cols, t, <float*>w, ignore, <float*>s, <float*>loss,
                                              <float*>rw, lo, hi)
        else:
            bad = cross_entropy_forward_double(<double*>src, cols, t, <double*>w, ignore, <double*>s,
                                               <double*>loss, <double*>rw, lo, hi)
    _raise_if_bad("cross_entropy_forward", bad, target, ignore, cols)


def _backward_rows(cnp.ndarray x, cnp.ndarray lse, cnp.ndarray target, int64_t ignore, cnp.ndarray coef,
                   cnp.ndarray out, Py_ssize_t lo, Py_ssize_t hi):
    cdef Py_ssize_t cols = x.shape[1]
    cdef bint single = is_float32(x)
    cdef char* src = item(x, 0)
    cdef char* s = item(lse, 0)
    cdef int64_t* t = <int64_t*>item(target, 0)
    cdef char* c = item(coef, 0)
    cdef char* dst = item(out, 0)
    cdef ptrdiff_t bad
    with nogil:
        if single:
            bad = cross_entropy_backward_float(<float*>src, cols, <float*>s, t, ignore, <float*>c, <float*>dst, lo, hi)
        else:
            bad = cross_entropy_backward_double(<double*>src, cols, <double*>s, t, ignore, <double*>c, <double*>dst,
                                                lo, hi)
    _raise_if_bad("cross_entropy_backward", bad, target, ignore, cols)


def _fast(x):
    return x.dtype in (np.float32, np.float64) and x.ndim == 2 and x.shape[1] > 0


def _checked(op, x, target, **per_row):
    """target as int64, after checking the shapes the C loops rely on (they check its values)."""
    t = np.ascontiguousarray(target, dtype=np.int64)
    for name, a in {"target": t, **per_row}.items():
        if a.shape != (len(x),):
            raise ValueError(f"{op}: {name} shape {a.shape} does not fit logits {x.shape}")
    return t


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
        from minidl.kernels.reference import cross_entropy_forward as numpy_twin

        return numpy_twin(logits, target, weight, ignore_index)  # other dtypes, and NumPy's error for no classes
    x = np.ascontiguousarray(logits)
    n = len(x)
    t = _checked("cross_entropy_forward", x, target)
    w = None if weight is None else np.ascontiguousarray(weight, dtype=x.dtype)
    if w is not None and w.shape != (x.shape[1],):
        raise ValueError(f"cross_entropy_forward: weight shape {w.shape} does not fit logits {x.shape}")
    lse, losses, row_weight = (np.empty(n, x.dtype) for _ in range(3))
    ignore = int(ignore_index)
    run_halves(n, lambda lo, hi: _forward_rows(x, t, w, ignore, lse, losses, row_weight, lo, hi), _work(x))
    return losses, row_weight, lse


def cross_entropy_backward(logits, lse, target, ignore_index, coef):
    """d loss / d logits for per-row coefficients coef = row weight * incoming gradient:
    softmax(logits) * coef, minus coef at each row's target.

    Shape: logits (N, C), lse (N,), target (N,), coef (N,) -> (N, C).
    """
    if not _fast(logits):
        from minidl.kernels.reference import cross_entropy_backward as numpy_twin

        return numpy_twin(logits, lse, target, ignore_index, coef)
    x = np.ascontiguousarray(logits)
    s = np.ascontiguousarray(lse, dtype=x.dtype)
    c = np.ascontiguousarray(coef, dtype=x.dtype)
    t = _checked("cross_entropy_backward", x, target, lse=s, coef=c)
    out = np.empty_like(x)
    ignore = int(ignore_index)
    run_halves(len(x), lambda lo, hi: _backward_rows(x, s, t, ignore, c, out, lo, hi), _work(x))
    return out
