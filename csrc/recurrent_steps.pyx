# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""What the recurrent layers' compiled time loops call at every step: the small GEMM
(small_gemm.h) and the barrier between their two threads (step_barrier.h).

The loops (minidl/kernels/numba/recurrent_loops.py) call these C functions from inside Numba
code, by the addresses `addresses()` gives; `pack` and `pack_gate_rows` lay the weights
out once per sequence.
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
    done = np.zeros(parties * STEP_BARRIER_STRIDE, dtype=np.int64)
    done[::STEP_BARRIER_STRIDE] = -1
    return done


def barrier_long_waits(done):
    """At how many steps, summed over the threads that used `done`, a thread waited long
    (step_barrier.h): the other thread was not running."""
    return int(done[1::STEP_BARRIER_STRIDE].sum())


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


cdef void _pack_gate_rows(const real[:, :] w_hh, Py_ssize_t lo, Py_ssize_t hi, real[::1] out,
                          Py_ssize_t width) noexcept nogil:
    """The columns g*n + u of the packed (H, G*n) matrix are rows g*H + lo + u of w_hh, read along."""
    cdef Py_ssize_t hidden = w_hh.shape[1], n = hi - lo, gates = w_hh.shape[0] // hidden
    cdef Py_ssize_t g, u, k, j, base
    for g in range(gates):
        for u in range(n):
            j = g * n + u
            base = (j // width) * hidden * width + j % width
            for k in range(hidden):
                out[base + k * width] = w_hh[g * hidden + lo + u, k]


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


def pack_gate_rows(w_hh, lo, hi):
    """pack() of the (H, G*n) matrix whose column g*n + u is row g*H + lo + u of w_hh (G*H, H):
    the recurrent weights of hidden units [lo, hi), n = hi - lo, gate by gate, transposed."""
    _check_matrix("pack_gate_rows", w_hh)
    hidden = w_hh.shape[1]
    if not 0 <= lo <= hi <= hidden or w_hh.shape[0] % max(hidden, 1):
        raise ValueError(f"recurrent_steps.pack_gate_rows: units [{lo}, {hi}) of weights {w_hh.shape}")
    gates = w_hh.shape[0] // hidden if hidden else 0
    out, width = _packed_buffer(hidden, gates * (hi - lo), w_hh.dtype)
    if w_hh.dtype == np.float32:
        _pack_gate_rows[float](w_hh, lo, hi, out, width)
    else:
        _pack_gate_rows[double](w_hh, lo, hi, out, width)
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
