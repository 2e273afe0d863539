# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""Batch normalisation in training mode, forward and backward, fused (NumPy twins in
minidl/kernels/reference.py).

Statistics per channel over (N, L): each (image, channel) plane of L values is
contiguous, and one channel's N planes (128 KB for 32 images of 32x32 in float32) stay
in L2 across the passes (the loops are in batch_norm.h). Channels split over two
threads (minidl.kernels.threads).
"""
import numpy as np
cimport numpy as cnp

from arrays cimport is_float32, item

from minidl.kernels.threads import run_halves

include "isa.pxi"

cnp.import_array()

cdef extern from "batch_norm.h" nogil:
    void batch_norm_forward_float(const float* x, ptrdiff_t n, ptrdiff_t channels, ptrdiff_t length,
                                  const float* weight, const float* bias, double eps, float* out, float* xhat,
                                  double* mean, double* var, double* inv_std, ptrdiff_t lo, ptrdiff_t hi)
    void batch_norm_forward_double(const double* x, ptrdiff_t n, ptrdiff_t channels, ptrdiff_t length,
                                   const double* weight, const double* bias, double eps, double* out,
                                   double* xhat, double* mean, double* var, double* inv_std, ptrdiff_t lo,
                                   ptrdiff_t hi)
    void batch_norm_backward_float(const float* grad, const float* xhat, ptrdiff_t n, ptrdiff_t channels,
                                   ptrdiff_t length, const float* inv_std, const float* weight, float* dx,
                                   double* dweight, double* dbias, ptrdiff_t lo, ptrdiff_t hi)
    void batch_norm_backward_double(const double* grad, const double* xhat, ptrdiff_t n, ptrdiff_t channels,
                                    ptrdiff_t length, const double* inv_std, const double* weight, double* dx,
                                    double* dweight, double* dbias, ptrdiff_t lo, ptrdiff_t hi)


# The ranges take C-contiguous (N, C, L) arrays of one float dtype, made so by the public functions.
def _forward_channels(cnp.ndarray x, cnp.ndarray weight, cnp.ndarray bias, double eps, cnp.ndarray out,
                      cnp.ndarray xhat, cnp.ndarray mean, cnp.ndarray var, cnp.ndarray inv_std,
                      Py_ssize_t lo, Py_ssize_t hi):
    cdef Py_ssize_t n = x.shape[0], channels = x.shape[1], length = x.shape[2]
    cdef bint single = is_float32(x)
    cdef char* src = item(x, 0)
    cdef char* w = item(weight, 0)
    cdef char* b = item(bias, 0)
    cdef char* y = item(out, 0)
    cdef char* h = item(xhat, 0)
    cdef double* m = <double*>item(mean, 0)
    cdef double* v = <double*>item(var, 0)
    cdef double* r = <double*>item(inv_std, 0)
    with nogil:
        if single:
            batch_norm_forward_float(<float*>src, n, channels, length, <float*>w, <float*>b, eps, <float*>y,
                                     <float*>h, m, v, r, lo, hi)
        else:
            batch_norm_forward_double(<double*>src, n, channels, length, <double*>w, <double*>b, eps, <double*>y,
                                      <double*>h, m, v, r, lo, hi)


def _backward_channels(cnp.ndarray grad, cnp.ndarray xhat, cnp.ndarray inv_std, cnp.ndarray weight,
                       cnp.ndarray dx, cnp.ndarray dweight, cnp.ndarray dbias, Py_ssize_t lo, Py_ssize_t hi):
    cdef Py_ssize_t n = grad.shape[0], channels = grad.shape[1], length = grad.shape[2]
    cdef bint single = is_float32(grad)
    cdef char* g = item(grad, 0)
    cdef char* h = item(xhat, 0)
    cdef char* r = item(inv_std, 0)
    cdef char* w = item(weight, 0)
    cdef char* d = item(dx, 0)
    cdef double* dw = <double*>item(dweight, 0)
    cdef double* db = <double*>item(dbias, 0)
    with nogil:
        if single:
            batch_norm_backward_float(<float*>g, <float*>h, n, channels, length, <float*>r, <float*>w, <float*>d,
                                      dw, db, lo, hi)
        else:
            batch_norm_backward_double(<double*>g, <double*>h, n, channels, length, <double*>r, <double*>w,
                                       <double*>d, dw, db, lo, hi)


def _check(op, x, **per_channel):
    """With raw pointers, a wrong shape would read past an array: refuse it first."""
    if x.ndim != 3:
        raise ValueError(f"{op}: expected (N, C, L), got shape {x.shape}")
    for name, a in per_channel.items():
        if a.shape != (x.shape[1],):
            raise ValueError(f"{op}: {name} must have shape ({x.shape[1]},) for {x.shape}, got {a.shape}")


def _channels_work(x):
    return 4 * x.size  # a few passes over the activations; for the two-thread rule


def batch_norm_forward(x, weight, bias, eps):
    """Batch statistics per channel over the batch and the positions, then scale and shift
    (weight/bias None: 1 and 0). The biased variance, as PyTorch normalises with.

    Shape: x (N, C, L), weight and bias (C,) -> out (N, C, L), xhat (N, C, L), mean (C,), var (C,), inv_std (C,).
    """
    x = np.ascontiguousarray(x)
    if x.dtype not in (np.float32, np.float64):
        from minidl.kernels.reference import batch_norm_forward as numpy_twin

        return numpy_twin(x, weight, bias, eps)
    c = x.shape[1]
    weight = np.ones(c, x.dtype) if weight is None else np.ascontiguousarray(weight, x.dtype)
    bias = np.zeros(c, x.dtype) if bias is None else np.ascontiguousarray(bias, x.dtype)
    _check("batch_norm_forward", x, weight=weight, bias=bias)
    out, xhat = np.empty_like(x), np.empty_like(x)
    mean, var, inv_std = (np.empty(c, np.float64) for _ in range(3))
    run_halves(c, lambda lo, hi: _forward_channels(x, weight, bias, float(eps), out, xhat, mean, var, inv_std, lo, hi),
               _channels_work(x))
    return out, xhat, mean.astype(x.dtype), var.astype(x.dtype), inv_std.astype(x.dtype)


def batch_norm_backward(grad, xhat, inv_std, weight):
    """Gradients of batch_norm_forward. Shape: grad (N, C, L) -> dx (N, C, L), dweight (C,), dbias (C,)."""
    if xhat.dtype not in (np.float32, np.float64):
        from minidl.kernels.reference import batch_norm_backward as numpy_twin

        return numpy_twin(grad, xhat, inv_std, weight)
    grad = np.ascontiguousarray(grad, dtype=xhat.dtype)
    xhat = np.ascontiguousarray(xhat)
    if xhat.shape != grad.shape:
        raise ValueError(f"batch_norm_backward: grad {grad.shape} and xhat {xhat.shape} differ")
    c = grad.shape[1]
    weight = np.ones(c, grad.dtype) if weight is None else np.ascontiguousarray(weight, grad.dtype)
    inv_std = np.ascontiguousarray(inv_std, grad.dtype)
    _check("batch_norm_backward", grad, weight=weight, inv_std=inv_std)
    dx = np.empty_like(grad)
    dweight, dbias = np.empty(c, np.float64), np.empty(c, np.float64)
    run_halves(c, lambda lo, hi: _backward_channels(grad, xhat, inv_std, weight, dx, dweight, dbias, lo, hi),
               _channels_work(grad))
    return dx, dweight.astype(grad.dtype), dbias.astype(grad.dtype)
