"""Recurrent time loops compiled whole: no Python between the steps.

Each step is minidl's small GEMM (csrc/small_gemm.h, with W_hh packed once per sequence)
followed by a fused cell (recurrent_cells.py). A BLAS would pack W_hh again and wake its
threads at every step; the packed weights here stay in cache from one step to the next.

Two threads split the batch: each runs the whole time loop over its own rows, which never
depend on the other's, so the threads do not meet until the loop ends. Each step takes its
rows as a[t][r0:r1], which keeps the arrays C-contiguous for Numba (a[:, r0:r1] would not,
and the cells would not vectorise). Numba reaches the C GEMM by name
(llvmlite.binding.add_symbol), so its cached machine code still links in a new process.
"""
import numba
import numpy as np
from numba import types

from .. import threads
from .recurrent_cells import (
    add_activate,
    gru_cell,
    gru_step_backward,
    lstm_cell,
    lstm_step_backward,
    rnn_step_backward,
)

# Up to this many multiply-adds per step the compiled loop beats a Python loop around
# OpenBLAS; above it, BLAS's own blocking wins. Two threads from SPLIT_AT_STEP_MACS
# (where NumPy's BLAS lets them, _halves). Tables in docs/performance.md.
COMPILED_LOOP_MAX_MACS = 1 << 21
SPLIT_AT_STEP_MACS = 1 << 18
# Rows of the GEMM's register tile: the first half gets a whole number of them.
TILE_ROWS = 4


def _link_steps():
    """The extension with the step functions, its entry points named for LLVM; None without it."""
    try:
        from .. import _recurrent_steps
    except ImportError:
        return None
    import llvmlite.binding as llvm

    for name, address in _recurrent_steps.addresses().items():
        llvm.add_symbol(f"minidl_{name}", address)
    return _recurrent_steps


steps = _link_steps()
_GEMM = types.void(types.voidptr, types.intp, types.intp, types.intp, types.voidptr, types.intp, types.voidptr,
                   types.intp, types.intc)
_gemm_float32 = types.ExternalFunction("minidl_small_gemm_float32", _GEMM)
_gemm_float64 = types.ExternalFunction("minidl_small_gemm_float64", _GEMM)


@numba.njit(cache=True)
def _step_gemm(a, packed, z, accumulate):
    """z = a @ W (accumulate 0) or z += a @ W (1), W given as pack(W).
    Shape: a (rows, depth), z (rows, cols); each with contiguous rows."""
    lda, ldz = a.strides[0] // a.itemsize, z.strides[0] // z.itemsize
    if z.itemsize == 4:
        _gemm_float32(a.ctypes, lda, a.shape[0], a.shape[1], packed.ctypes, z.shape[1], z.ctypes, ldz, accumulate)
    else:
        _gemm_float64(a.ctypes, lda, a.shape[0], a.shape[1], packed.ctypes, z.shape[1], z.ctypes, ldz, accumulate)


@numba.njit(cache=True, nogil=True)
def _rnn_forward(packed, gx, h0, hs, nonlinearity, r0, r1):
    for t in range(gx.shape[0]):
        _step_gemm(h0[r0:r1] if t == 0 else hs[t - 1][r0:r1], packed, hs[t][r0:r1], 0)
        add_activate(hs[t][r0:r1], gx[t][r0:r1], nonlinearity)


@numba.njit(cache=True, nogil=True)
def _rnn_backward(packed, dhs, hs, dz, dh, nonlinearity, r0, r1):
    for step in range(dhs.shape[0]):
        t = dhs.shape[0] - 1 - step
        rnn_step_backward(dz[t][r0:r1], dh[r0:r1], dhs[t][r0:r1], hs[t][r0:r1], nonlinearity)
        _step_gemm(dz[t][r0:r1], packed, dh[r0:r1], 0)


@numba.njit(cache=True, nogil=True)
def _lstm_forward(packed, z, gx, h0, c0, hs, cs, tcs, acts, r0, r1):
    for t in range(gx.shape[0]):
        _step_gemm(h0[r0:r1] if t == 0 else hs[t - 1][r0:r1], packed, z, 0)
        c_prev = c0[r0:r1] if t == 0 else cs[t - 1][r0:r1]
        lstm_cell(z, gx[t][r0:r1], c_prev, acts[t][r0:r1], cs[t][r0:r1], tcs[t][r0:r1], hs[t][r0:r1])


@numba.njit(cache=True, nogil=True)
def _lstm_backward(packed, dhs, c0, cs, acts, tcs, dgates, dc, dh, r0, r1):
    for step in range(dhs.shape[0]):
        t = dhs.shape[0] - 1 - step
        c_prev = c0[r0:r1] if t == 0 else cs[t - 1][r0:r1]
        lstm_step_backward(dgates[t][r0:r1], dc[r0:r1], dh[r0:r1], dhs[t][r0:r1], acts[t][r0:r1], tcs[t][r0:r1],
                           c_prev)
        _step_gemm(dgates[t][r0:r1], packed, dh[r0:r1], 0)


@numba.njit(cache=True, nogil=True)
def _gru_forward(packed, hh, gx, h0, b_hh, hs, acts, hns, r0, r1):
    for t in range(gx.shape[0]):
        h = h0[r0:r1] if t == 0 else hs[t - 1][r0:r1]
        _step_gemm(h, packed, hh, 0)
        gru_cell(hh, gx[t][r0:r1], b_hh, h, acts[t][r0:r1], hs[t][r0:r1], hns[t][r0:r1])


@numba.njit(cache=True, nogil=True)
def _gru_backward(packed, dhs, h0, hs, acts, hns, dgx, dhh, dh, r0, r1):
    for step in range(dhs.shape[0]):
        t = dhs.shape[0] - 1 - step
        h_prev = h0[r0:r1] if t == 0 else hs[t - 1][r0:r1]
        gru_step_backward(dgx[t][r0:r1], dhh[t][r0:r1], dh[r0:r1], dhs[t][r0:r1], acts[t][r0:r1], hns[t][r0:r1],
                          h_prev)
        _step_gemm(dhh[t][r0:r1], packed, dh[r0:r1], 1)


# ------------------------------------------------------------------ the Python side


def applies(w_hh, batch):
    """Whether a layer with these weights and batch runs its time loop here."""
    return steps is not None and batch * w_hh.shape[0] * w_hh.shape[1] <= COMPILED_LOOP_MAX_MACS


def _halves(w_hh, batch):
    """[(r0, r1)] batch row ranges, one per thread. Two threads only where NumPy's BLAS
    threads stop spinning soon after a call: the loop starts right after a GEMM, and a
    spinning BLAS thread holds one of the two cores (docs/performance.md)."""
    split_at = SPLIT_AT_STEP_MACS if threads.blas_spin_is_short() else float("inf")
    if threads.ways(batch // TILE_ROWS, batch * w_hh.shape[0] * w_hh.shape[1], split_at) == 1:
        return [(0, batch)]
    half = (batch // 2 + TILE_ROWS - 1) // TILE_ROWS * TILE_ROWS
    return [(0, half), (half, batch)]


def _check(name, w_hh, batch, args):
    """The C GEMM reads memory by the weights' type and the layer's sizes, so every array must
    have both: (T, B, H or G*H), (B, H or G*H) or (G*H,), one T for all."""
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    lengths = sorted({a.shape[0] for a in arrays if a.ndim == 3})
    if len(lengths) > 1:
        raise ValueError(f"{name}: sequences of {lengths} steps in one call")
    for a in arrays:
        if a.dtype != w_hh.dtype:
            raise TypeError(f"{name}: a {a.dtype} array {a.shape} with {w_hh.dtype} weights")
        sized = a.ndim in (1, 2, 3) and a.shape[-1] in (w_hh.shape[1], w_hh.shape[0])
        if not sized or (a.ndim > 1 and a.shape[-2] != batch):
            raise ValueError(f"{name}: array {a.shape} does not fit weights {w_hh.shape} and batch {batch}")


def _run(loop, w_hh, batch, backward, args, gates=0, dtype=None):
    """loop(packed, [scratch,] *args, r0, r1) for each thread's rows of the batch. Forward
    multiplies by W_hh transposed, backward by W_hh. `gates` > 0 gives each thread a
    (its rows, gates * H) scratch for its gates."""
    _check(loop.py_func.__name__, w_hh, batch, args)
    halves = _halves(w_hh, batch)
    packed = steps.pack(w_hh if backward else w_hh.T)

    def part(me):
        r0, r1 = halves[me]
        scratch = (np.empty((r1 - r0, gates * w_hh.shape[1]), dtype=dtype),) if gates else ()
        loop(packed, *scratch, *args, r0, r1)

    if len(halves) == 1:
        part(0)
    else:
        threads.run_pair(part)


def _state(x, dtype):
    """A state the loops can hold in the same variable as a step of their outputs."""
    return np.ascontiguousarray(x, dtype=dtype)


def rnn_forward(gx, h0, w_hh, code, hs):
    _run(_rnn_forward, w_hh, gx.shape[1], False, (gx, _state(h0, gx.dtype), hs, code))


def rnn_backward(dhs, w_hh, hs, code, dz, dh):
    _run(_rnn_backward, w_hh, dhs.shape[1], True, (dhs, hs, dz, dh, code))


def lstm_forward(gx, h0, c0, w_hh, hs, cs, tcs, acts):
    args = (gx, _state(h0, gx.dtype), _state(c0, gx.dtype), hs, cs, tcs, acts)
    _run(_lstm_forward, w_hh, gx.shape[1], False, args, gates=4, dtype=gx.dtype)


def lstm_backward(dhs, c0, w_hh, cs, acts, tcs, dgates, dc, dh):
    _run(_lstm_backward, w_hh, dhs.shape[1], True, (dhs, _state(c0, dhs.dtype), cs, acts, tcs, dgates, dc, dh))


def gru_forward(gx, h0, w_hh, b_hh, hs, acts, hns):
    args = (gx, _state(h0, gx.dtype), _state(b_hh, gx.dtype), hs, acts, hns)
    _run(_gru_forward, w_hh, gx.shape[1], False, args, gates=3, dtype=gx.dtype)


def gru_backward(dhs, h0, w_hh, hs, acts, hns, dgx, dhh, dh):
    _run(_gru_backward, w_hh, dhs.shape[1], True, (dhs, _state(h0, dhs.dtype), hs, acts, hns, dgx, dhh, dh))
