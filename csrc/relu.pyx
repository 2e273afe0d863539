# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""ReLU forward and backward, one pass each (NumPy twins in minidl/kernels/reference.py).

NumPy's float32 maximum is not SIMD in the builds measured, and a gradient as a
float-times-bool product is a second pass; here each is one vectorised select (relu.h).
The backward reads the output (0 where out <= 0, as PyTorch), so no mask is kept.
Large arrays go in two halves on two threads (minidl.kernels.threads): the loops are
bound by memory, and one core does not saturate it.
"""
import numpy as np
cimport numpy as cnp

from arrays cimport is_float32, item

from minidl.kernels.threads import run_halves

include "isa.pxi"

cnp.import_array()

cdef extern from "relu.h" nogil:
    void relu_forward_float(const float* x, float* out, ptrdiff_t n)
    void relu_forward_double(const double* x, double* out, ptrdiff_t n)
    void relu_backward_float(const float* grad, const float* out, float* dx, ptrdiff_t n)
    void relu_backward_double(const double* grad, const double* out, double* dx, ptrdiff_t n)


# The ranges take arrays that the public functions made C-contiguous, of one float dtype.
def _forward_range(cnp.ndarray x, cnp.ndarray out, Py_ssize_t lo, Py_ssize_t hi):
    cdef bint single = is_float32(x)
    cdef char* src = item(x, lo)
    cdef char* dst = item(out, lo)
    with nogil:
        if single:
            relu_forward_float(<float*>src, <float*>dst, hi - lo)
        else:
            relu_forward_double(<double*>src, <double*>dst, hi - lo)


def _backward_range(cnp.ndarray grad, cnp.ndarray out, cnp.ndarray dx, Py_ssize_t lo, Py_ssize_t hi):
    cdef bint single = is_float32(dx)
    cdef char* g = item(grad, lo)
    cdef char* o = item(out, lo)
    cdef char* d = item(dx, lo)
    with nogil:
        if single:
            relu_backward_float(<float*>g, <float*>o, <float*>d, hi - lo)
        else:
            relu_backward_double(<double*>g, <double*>o, <double*>d, hi - lo)


def relu_forward(x):
    """Shape: x (any) -> max(x, 0), NaN kept."""
    if x.dtype not in (np.float32, np.float64):
        from minidl.kernels.reference import relu_forward as numpy_twin

        return numpy_twin(x)
    x = np.asarray(x, order="C")  # not ascontiguousarray: that makes a 0-d array 1-d
    out = np.empty_like(x)
    run_halves(x.size, lambda lo, hi: _forward_range(x, out, lo, hi), 2 * x.size)
    return out


def relu_backward(grad, out):
    """Shape: grad (out's shape, or broadcastable to it), out -> 0 where out <= 0, else grad."""
    if out.dtype not in (np.float32, np.float64):
        from minidl.kernels.reference import relu_backward as numpy_twin

        return numpy_twin(grad, out)
    # a strided or broadcast gradient costs one copy here, still cheaper than NumPy's where on it
    if grad.shape != out.shape:
        grad = np.broadcast_to(grad, out.shape)
    grad = np.asarray(grad, dtype=out.dtype, order="C")
    out = np.asarray(out, order="C")
    dx = np.empty_like(out)
    run_halves(dx.size, lambda lo, hi: _backward_range(grad, out, dx, lo, hi), 2 * dx.size)
    return dx
