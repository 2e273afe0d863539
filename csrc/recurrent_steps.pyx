# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""What the recurrent layers' compiled time loops call at every step: the small GEMM
(small_gemm.h) and the barrier between their two threads (step_barrier.h).

The loops (minidl/kernels/numba/recurrent.py) call these C functions from inside Numba
code, by the addresses `addresses()` gives; `pack` lays the weights out once per sequence.
`gemm` and `barrier_demo` are the same calls from Python, for the tests; the GEMM's NumPy
twin is a @ w.
"""
import numpy as np

from window cimport real

include "isa.pxi"


cdef extern from "step_barrier.h" nogil:
    ctypedef long long int64_t
    int STEP_BARRIER_STRIDE
    void step_barrier(int64_t* done, Py_ssize_t parties, Py_ssize_t me, int64_t step)


cdef extern from "small_gemm.h" nogil:
    int SMALL_GEMM_PANEL_BYTES
    void small_gemm_float(const float* a, Py_ssize_t lda, Py_ssize_t rows, Py_ssize_t depth, const float* packed,
                          Py_ssize_t cols, float* z, Py_ssize_t ldz, int accumulate)
    void small_gemm_double(const double* a, Py_ssize_t lda, Py_ssize_t rows, Py_ssize_t depth, const double* packed,
                           Py_ssize_t cols, double* z, Py_ssize_t ldz, int accumulate)


def addresses():
    """{name: address} of the C functions: small_gemm_float32 and small_gemm_float64
    (a, lda, rows, depth, packed, cols, z, ldz, accumulate), and step_barrier
    (done, parties, me, step)."""
    return {
        "small_gemm_float32": <size_t>&small_gemm_float,
        "small_gemm_float64": <size_t>&small_gemm_double,
        "step_barrier": <size_t>&step_barrier,
    }


def barrier_slots(parties):
    """The `done` array step_barrier takes for `parties` threads, before any step."""
    return np.full(parties * STEP_BARRIER_STRIDE, -1, dtype=np.int64)


def barrier_demo(long long[::1] done, Py_ssize_t parties, Py_ssize_t me, long long[::1] log, Py_ssize_t steps):
    """Thread `me` runs `steps` steps, meeting the others at the barrier after each; at step s
    it first records in log[me * steps + s] how many steps every thread had published.
    For the tests: a thread that ran ahead of the barrier shows up in the log."""
    cdef Py_ssize_t s, p
    cdef long long seen
    with nogil:
        for s in range(steps):
            seen = 0
            for p in range(parties):
                seen += done[p * STEP_BARRIER_STRIDE] + 1
            log[me * steps + s] = seen
            step_barrier(<int64_t*>&done[0], parties, me, s)


def panel_width(dtype):
    """Columns per packed panel for `dtype`."""
    return SMALL_GEMM_PANEL_BYTES // np.dtype(dtype).itemsize


def pack(w):
    """w (depth, cols) as panels of panel_width columns, each panel's rows one after another,
    zero past the last column. Shape: (depth, cols) -> (panels * depth * panel_width,)."""
    if w.ndim != 2 or w.dtype not in (np.float32, np.float64):
        raise TypeError(f"small_gemm.pack: expected a 2-D float32 or float64 matrix; got {w.dtype} {w.shape}")
    depth, cols = w.shape
    width = panel_width(w.dtype)
    panels = -(-cols // width)
    padded = np.zeros((depth, panels * width), dtype=w.dtype)
    padded[:, :cols] = w
    return np.ascontiguousarray(padded.reshape(depth, panels, width).transpose(1, 0, 2)).reshape(-1)


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
        raise ValueError(f"small_gemm.gemm: packed {packed.dtype} {packed.shape} is not a ({depth}, {cols}) "
                         f"{a.dtype} matrix packed")
    z = np.zeros((rows, cols), dtype=a.dtype) if out is None else out
    if rows and cols and depth:
        if a.dtype == np.float32:
            _gemm[float](a, packed, z, out is not None)
        else:
            _gemm[double](a, packed, z, out is not None)
    return z
