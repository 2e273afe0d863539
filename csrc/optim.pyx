# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""Adam's and SGD's updates in one pass each (NumPy twins in minidl/kernels/reference.py).

Written with NumPy the update takes about a dozen full passes over each parameter
(m, v, their corrections, the square root, the quotient...), each into a fresh array;
here each element is read once and its new value, m and v are written once, still into
fresh arrays, so a failed step changes nothing. Large parameters are updated in two
halves on two threads (minidl.kernels.threads): the loops (optim.h) are bound by memory.
"""
import numpy as np
cimport numpy as cnp

from arrays cimport is_float32, item

from minidl.kernels.threads import SPLIT_AT_MACS, forced, run_halves, ways

include "isa.pxi"

cnp.import_array()

cdef extern from "optim.h" nogil:
    void sgd_float(const float* value, const float* grad, const float* buf, float* new_value, float* new_buf,
                   ptrdiff_t n, float lr, float momentum, float keep, float wd, int has_momentum, int first,
                   int nesterov, int maximize)
    void sgd_double(const double* value, const double* grad, const double* buf, double* new_value,
                    double* new_buf, ptrdiff_t n, double lr, double momentum, double keep, double wd,
                    int has_momentum, int first, int nesterov, int maximize)
    void adam_float(const float* value, const float* grad, const float* m, const float* v, float* new_value,
                    float* new_m, float* new_v, ptrdiff_t n, const float* constants, int decoupled)
    void adam_double(const double* value, const double* grad, const double* m, const double* v,
                     double* new_value, double* new_m, double* new_v, ptrdiff_t n, const double* constants,
                     int decoupled)

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _work(value):
    """For the two-thread rule: a few streams of memory per element."""
    return 4 * value.size


def _flat_like(a, value):
    """`a` as a flat contiguous array of value's shape and dtype (m and v start as the number 0)."""
    if type(a) is np.ndarray and a.shape == value.shape and a.dtype == value.dtype and a.flags.c_contiguous:
        return a.reshape(-1)  # the usual case, kept cheap: this runs for every parameter every step
    return np.ascontiguousarray(np.broadcast_to(np.asarray(a, value.dtype), value.shape)).reshape(-1)


# The ranges take flat C-contiguous arrays of one float dtype, made so by the public functions.
def _adam_range(cnp.ndarray value, cnp.ndarray grad, cnp.ndarray m, cnp.ndarray v, cnp.ndarray new_value,
                cnp.ndarray new_m, cnp.ndarray new_v, cnp.ndarray constants, bint decoupled,
                Py_ssize_t lo, Py_ssize_t hi):
    cdef bint single = is_float32(value)
    cdef char* p = item(value, lo)
    cdef char* g = item(grad, lo)
    cdef char* m0 = item(m, lo)
    cdef char* v0 = item(v, lo)
    cdef char* p1 = item(new_value, lo)
    cdef char* m1 = item(new_m, lo)
    cdef char* v1 = item(new_v, lo)
    cdef char* c = item(constants, 0)
    with nogil:
        if single:
            adam_float(<float*>p, <float*>g, <float*>m0, <float*>v0, <float*>p1, <float*>m1, <float*>v1, hi - lo,
                       <float*>c, decoupled)
        else:
            adam_double(<double*>p, <double*>g, <double*>m0, <double*>v0, <double*>p1, <double*>m1, <double*>v1,
                        hi - lo, <double*>c, decoupled)


def adam_step(value, grad, m, v, step, lr, b1, b2, eps, weight_decay, decoupled):
    """One Adam/AdamW step (no AMSGrad) -> (new value, new m, new v), all fresh arrays.

    Shape: value, grad, m, v all the parameter's shape (m, v are the number 0 at step 1).
    """
    if value.dtype not in _FLOATS or grad.dtype != value.dtype:
        from minidl.kernels.reference import adam_step as numpy_twin

        return numpy_twin(value, grad, m, v, step, lr, b1, b2, eps, weight_decay, decoupled)
    # constants are computed in double and rounded once to the parameter's precision, as
    # NumPy does with Python floats (1 - float32(0.999) would be off by 1.3e-5)
    constants = np.array([lr, b1, 1 - b1, b2, 1 - b2, eps, weight_decay, 1 - lr * weight_decay,
                          1 / (1 - b1**step), 1 / (1 - b2**step)], dtype=value.dtype)
    new = (np.empty_like(value), np.empty_like(value), np.empty_like(value))
    args = (_flat_like(value, value), _flat_like(grad, value), _flat_like(m, value), _flat_like(v, value),
            new[0].reshape(-1), new[1].reshape(-1), new[2].reshape(-1), constants, bool(decoupled))
    run_halves(value.size, lambda lo, hi: _adam_range(*args, lo, hi), _work(value))
    return new


def _sgd_range(cnp.ndarray value, cnp.ndarray grad, cnp.ndarray buf, cnp.ndarray new_value, cnp.ndarray new_buf,
               double lr, double momentum, double keep, double wd, bint has_momentum, bint first, bint nesterov,
               bint maximize, Py_ssize_t lo, Py_ssize_t hi):
    cdef bint single = is_float32(value)
    cdef char* p = item(value, lo)
    cdef char* g = item(grad, lo)
    cdef char* b = item(buf, lo)
    cdef char* p1 = item(new_value, lo)
    cdef char* b1 = item(new_buf, lo if has_momentum else 0)  # no momentum: an empty buffer, never written
    with nogil:
        if single:  # the Python floats rounded once to float32, as NumPy rounds them
            sgd_float(<float*>p, <float*>g, <float*>b, <float*>p1, <float*>b1, hi - lo, <float>lr, <float>momentum,
                      <float>keep, <float>wd, has_momentum, first, nesterov, maximize)
        else:
            sgd_double(<double*>p, <double*>g, <double*>b, <double*>p1, <double*>b1, hi - lo, lr, momentum, keep, wd,
                       has_momentum, first, nesterov, maximize)


def sgd_step(value, grad, buf, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """One SGD step -> (new value, new momentum buffer or None), fresh arrays: one pass per
    parameter, where NumPy needs five or six (which dominate on small tensors).

    Shape: value, grad, buf (None before the first step) all the parameter's shape.
    """
    if value.dtype not in _FLOATS or grad.dtype != value.dtype:
        from minidl.kernels.reference import sgd_step as numpy_twin

        return numpy_twin(value, grad, buf, lr, momentum, dampening, weight_decay, nesterov, maximize)
    new_value = np.empty_like(value)
    new_buf = np.empty_like(value) if momentum else new_value[:0]  # no buffer: never written
    flat_value = _flat_like(value, value)
    args = (flat_value, _flat_like(grad, value), flat_value if buf is None else _flat_like(buf, value),
            new_value.reshape(-1), new_buf.reshape(-1), lr, momentum, 1 - dampening, weight_decay,
            bool(momentum), buf is None, bool(nesterov), bool(maximize))
    run_halves(value.size, lambda lo, hi: _sgd_range(*args, lo, hi), _work(value))
    return new_value, (new_buf if momentum else None)


cdef bint _plain(value, grad, buf, int dtype_num):
    """Whether one parameter's arrays can go straight to the loop: C-contiguous, of dtype_num, one shape."""
    if type(value) is not np.ndarray or type(grad) is not np.ndarray:
        return False
    if buf is not None and type(buf) is not np.ndarray:
        return False
    for a in (value, grad) if buf is None else (value, grad, buf):
        if cnp.PyArray_TYPE(a) != dtype_num or not cnp.PyArray_IS_C_CONTIGUOUS(a):
            return False
    return cnp.PyArray_SAMESHAPE(value, grad) and (buf is None or cnp.PyArray_SAMESHAPE(value, buf))


def sgd_steps(values, grads, bufs, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """sgd_step for each parameter of a group, in one call -> (new values, new buffers or Nones).

    A small network's step is mostly the per-parameter overhead of the Python calls; here a
    parameter that runs on one thread goes to the loop directly.
    Shape: values, grads, bufs: lists of arrays of each parameter's shape (bufs: None before the first step).
    """
    new_values, new_bufs = [], []
    cdef bint has_momentum = bool(momentum), first, single
    cdef int is_nesterov = bool(nesterov), is_maximize = bool(maximize)
    cdef double keep = 1 - dampening, lr_ = lr, momentum_ = momentum, wd = weight_decay
    cdef cnp.ndarray v, g, b, new_value, new_buf
    cdef Py_ssize_t n
    cdef bint always_split = forced() == 2  # read once: the threads rule is asked only where it may split
    for value, grad, buf in zip(values, grads, bufs, strict=True):
        single = type(value) is np.ndarray and cnp.PyArray_TYPE(value) == cnp.NPY_FLOAT32
        if not _plain(value, grad, buf, cnp.NPY_FLOAT32 if single else cnp.NPY_FLOAT64) or (
                (always_split or _work(value) >= SPLIT_AT_MACS) and ways(value.size, _work(value)) > 1):
            new_value, new_buf = sgd_step(value, grad, buf, lr, momentum, dampening, weight_decay, nesterov, maximize)
            new_values.append(new_value)
            new_bufs.append(new_buf)
            continue
        v, g, first = value, grad, buf is None
        b = v if first else buf
        n = cnp.PyArray_SIZE(v)
        new_value = np.empty_like(v)
        new_buf = np.empty_like(v) if has_momentum else new_value  # no momentum: never written
        with nogil:
            if single:  # the Python floats rounded once to float32, as NumPy rounds them
                sgd_float(<float*>cnp.PyArray_DATA(v), <float*>cnp.PyArray_DATA(g), <float*>cnp.PyArray_DATA(b),
                          <float*>cnp.PyArray_DATA(new_value), <float*>cnp.PyArray_DATA(new_buf), n, <float>lr_,
                          <float>momentum_, <float>keep, <float>wd, has_momentum, first, is_nesterov, is_maximize)
            else:
                sgd_double(<double*>cnp.PyArray_DATA(v), <double*>cnp.PyArray_DATA(g), <double*>cnp.PyArray_DATA(b),
                           <double*>cnp.PyArray_DATA(new_value), <double*>cnp.PyArray_DATA(new_buf), n, lr_,
                           momentum_, keep, wd, has_momentum, first, is_nesterov, is_maximize)
        new_values.append(new_value)
        new_bufs.append(new_buf if has_momentum else None)
    return new_values, new_bufs
