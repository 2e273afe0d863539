# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""a @ b without BLAS, for products so small that BLAS's hand-off to its threads costs about
what they do (NumPy twin: minidl/kernels/reference.py's small_matmul, np.matmul).

b is packed in panels for small_gemm.h's register tiles; a b that is already one panel
(32 float32 or 16 float64 columns, C-contiguous) is read in place. a is read in place through
both its strides, so a transposed view costs no copy. With threads=2, minidl's worker thread
(pair.pxi) computes the second half of a's rows. Each row of the result is the same sum in the
same order whichever thread computes it, so the result does not depend on the split.
"""
import numpy as np
cimport numpy as cnp

from minidl.kernels._recurrent_steps import pack, panel_width  # the packing small_gemm.h reads
from minidl.kernels.reference import check_small_matmul

include "isa.pxi"
include "pair.pxi"
include "out_arrays.pxi"

cnp.import_array()

cdef extern from "small_gemm.h" nogil:
    void small_gemm_strided_float(const float* a, Py_ssize_t lda, Py_ssize_t sk, Py_ssize_t rows, Py_ssize_t depth,
                                  const float* packed, Py_ssize_t cols, float* z, Py_ssize_t ldz, int accumulate)
    void small_gemm_strided_double(const double* a, Py_ssize_t lda, Py_ssize_t sk, Py_ssize_t rows, Py_ssize_t depth,
                                   const double* packed, Py_ssize_t cols, double* z, Py_ssize_t ldz, int accumulate)


cdef struct RowsPart:  # one thread's rows of the product
    bint single
    const char* a
    Py_ssize_t lda, sk, rows, depth
    const char* packed
    Py_ssize_t cols
    char* z
    Py_ssize_t ldz


cdef void _rows_part(void* arg) noexcept nogil:
    cdef RowsPart* p = <RowsPart*>arg
    if p.rows == 0:
        return
    if p.single:
        small_gemm_strided_float(<const float*>p.a, p.lda, p.sk, p.rows, p.depth, <const float*>p.packed, p.cols,
                                 <float*>p.z, p.ldz, 0)
    else:
        small_gemm_strided_double(<const double*>p.a, p.lda, p.sk, p.rows, p.depth, <const double*>p.packed, p.cols,
                                  <double*>p.z, p.ldz, 0)


def _panels(b, Py_ssize_t width):
    """b (depth, cols) packed for small_gemm.h (recurrent_steps.pack); b itself when it is one panel."""
    if b.shape[1] == width and b.flags.c_contiguous:
        return b
    return pack(b)


def small_matmul(a, b, out=None, Py_ssize_t threads=1):
    """a @ b, into `out` when given; a may be any strided view (a transposed one included).
    With threads=2 the worker thread computes the second half of the rows.
    Shape: a (M, K), b (K, N) -> (M, N)."""
    check_small_matmul(a, b, threads)
    cdef Py_ssize_t M = a.shape[0], K = a.shape[1], N = b.shape[1], size = a.itemsize
    result = _out_or_new((M, N), a.dtype, out, "small_matmul", "a's")
    if M == 0 or N == 0:
        return result
    if K == 0:
        result[...] = 0
        return result
    if a.strides[0] % size or a.strides[1] % size:  # not a whole number of values apart: NumPy allows it
        a = np.ascontiguousarray(a)
    packed = _panels(b, panel_width(a.dtype))
    cdef cnp.ndarray a_arr = a, packed_arr = packed, z_arr = result
    cdef Py_ssize_t ways = 2 if threads == 2 and M >= 8 else 1
    cdef Py_ssize_t first = (M // 2 + 3) // 4 * 4 if ways == 2 else M  # whole 4-row tiles on the first thread
    cdef Py_ssize_t row_bytes = a.strides[0], lda = row_bytes // size, sk = a.strides[1] // size
    cdef bint single = a.dtype == np.float32
    cdef const char* a_data = <const char*>cnp.PyArray_DATA(a_arr)
    cdef const char* packed_data = <const char*>cnp.PyArray_DATA(packed_arr)
    cdef char* z_data = <char*>cnp.PyArray_DATA(z_arr)
    cdef RowsPart part[2]
    cdef Py_ssize_t i, lo, hi
    for i in range(ways):
        lo = 0 if i == 0 else first
        hi = first if i == 0 else M
        part[i] = RowsPart(single, a_data + lo * row_bytes, lda, sk, hi - lo, K, packed_data, N, z_data + lo * N * size, N)
    with nogil:
        if ways == 2:
            pair(_rows_part, &part[0], &part[1])
        else:
            _rows_part(&part[0])
    return result
