# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""What the recurrent layers' compiled time loops call at every step: the small GEMM
(small_gemm.h).

The loops (minidl/kernels/numba/recurrent_loops.py) call the C function from inside Numba
code, by the address `addresses()` gives; `pack` lays the weights out once per sequence.
`gemm` is the same call from Python, for the tests; its NumPy twin is a @ w.
"""
import numpy as np

from window cimport real

include "isa.pxi"


cdef extern from "small_gemm.h" nogil:
    int SMALL_GEMM_PANEL_BYTES
    void small_gemm_float(const float* a, Py_ssize_t lda, Py_ssize_t rows, Py_ssize_t depth, const float* packed,
                          Py_ssize_t cols, float* z, Py_ssize_t ldz, int accumulate)
    void small_gemm_double(const double* a, Py_ssize_t lda, Py_ssize_t rows, Py_ssize_t depth, const double* packed,
                           Py_ssize_t cols, double* z, Py_ssize_t ldz, int accumulate)


def addresses():
    """{name: address} of the C functions: small_gemm_float32 and small_gemm_float64
    (a, lda, rows, depth, packed, cols, z, ldz, accumulate)."""
    return {
        "small_gemm_float32": <size_t>&small_gemm_float,
        "small_gemm_float64": <size_t>&small_gemm_double,
    }


def panel_width(dtype):
    """Columns per packed panel for `dtype`."""
    return SMALL_GEMM_PANEL_BYTES // np.dtype(dtype).itemsize


def _check_matrix(op, w):
    if w.ndim != 2 or w.dtype not in (np.float32, np.float64):
        raise TypeError(f"recurrent_steps.{op}: expected a 2-D float32 or float64 matrix; got {w.dtype} {w.shape}")


cdef void _pack(const real[:, :] w, real[::1] out, Py_ssize_t width) noexcept nogil:
    """w (depth, cols) into zeroed `out`: column j of row k at (j/width)*depth*width + k*width + j%width."""
    cdef Py_ssize_t depth = w.shape[0], cols = w.shape[1], panel, start, k, jj, run
    cdef real* dst
    for panel in range((cols + width - 1) // width):
        start = panel * width
        run = min(width, cols - start)
        for k in range(depth):
            dst = &out[start * depth + k * width]
            for jj in range(run):
                dst[jj] = w[k, start + jj]


def _packed_buffer(depth, cols, dtype):
    width = panel_width(dtype)
    return np.zeros(-(-cols // width) * depth * width, dtype=dtype), width


def pack(w):
    """w (depth, cols), any strides, as panels of panel_width columns, each panel's rows one
    after another, zero past the last column. Shape: (depth, cols) -> (panels * depth * panel_width,)."""
    _check_matrix("pack", w)
    out, width = _packed_buffer(w.shape[0], w.shape[1], w.dtype)
    if w.dtype == np.float32:
        _pack[float](w, out, width)
    else:
        _pack[double](w, out, width)
    return out


cdef void _gemm(const real[:, ::1] a, const real[::1] packed, real[:, ::1] z, bint accumulate) noexcept nogil:
    if real is float:
        small_gemm_float(&a[0, 0], a.shape[1], a.shape[0], a.shape[1], &packed[0], z.shape[1], &z[0, 0], z.shape[1],
                         accumulate)
    else:
        small_gemm_double(&a[0, 0], a.shape[1], a.shape[0], a.shape[1], &packed[0], z.shape[1], &z[0, 0], z.shape[1],
                          accumulate)


def gemm(a, packed, cols, out=None):
    """a @ w with w given as pack(w); with `out`, out += a @ w.
    Shape: a (rows, depth), packed from (depth, cols) -> (rows, cols)."""
    a = np.ascontiguousarray(a)
    rows, depth = a.shape
    width = panel_width(a.dtype)
    if packed.dtype != a.dtype or packed.shape != (-(-cols // width) * depth * width,):
        raise ValueError(f"recurrent_steps.gemm: packed {packed.dtype} {packed.shape} is not a ({depth}, {cols}) "
                         f"{a.dtype} matrix packed")
    if out is not None and (out.shape != (rows, cols) or out.dtype != a.dtype or not out.flags.c_contiguous):
        raise ValueError(f"recurrent_steps.gemm: out must be a C-contiguous ({rows}, {cols}) {a.dtype} array; "
                         f"got {out.dtype} {out.shape}")
    z = np.zeros((rows, cols), dtype=a.dtype) if out is None else out
    if rows and cols and depth:
        if a.dtype == np.float32:
            _gemm[float](a, packed, z, out is not None)
        else:
            _gemm[double](a, packed, z, out is not None)
    return z
