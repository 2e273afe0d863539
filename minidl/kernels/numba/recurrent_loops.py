"""Recurrent time loops compiled whole: no Python between the steps.

Each step is minidl's small GEMM (csrc/small_gemm.h, with W_hh packed once per sequence)
followed by a fused cell (recurrent_cells.py). A BLAS would pack W_hh again and wake its
threads at every step; the packed weights here stay in cache from one step to the next.

Two threads split the hidden units: each packs the rows of W_hh for its own units, computes
their gates and states, and meets the other at a barrier (csrc/step_barrier.h) once per
step, because the next step's product needs every unit. Backward splits the columns of the
product through W_hh the same way. Numba reaches the C functions by name
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
# (where NumPy's BLAS lets them, _parts).
# Tables in docs/performance.md.
COMPILED_LOOP_MAX_MACS = 1 << 21
SPLIT_AT_STEP_MACS = 1 << 18
# After CONTENDED_CALLS calls in a row in which a thread waited long (csrc/step_barrier.h)
# at more than half the steps, the threads have been losing their cores to another process,
# and a split loop runs at its slower thread's pace: the next CONTENDED_BACKOFF calls run on
# one thread before two are tried again.
CONTENDED_SHARE = 0.5
CONTENDED_CALLS = 2
CONTENDED_BACKOFF = 16
_contended_in_a_row = 0
_one_thread_calls = 0


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
_barrier = types.ExternalFunction("minidl_step_barrier", types.void(types.voidptr, types.intp, types.intp, types.int64))


@numba.njit(cache=True)
def _step_gemm(a, packed, z, accumulate):
    """z = a @ W (accumulate 0) or z += a @ W (1), W given as pack(W).
    Shape: a (rows, depth), z (rows, cols); each with contiguous rows."""
    lda, ldz = a.strides[0] // a.itemsize, z.strides[0] // z.itemsize
    if z.itemsize == 4:
        _gemm_float32(a.ctypes, lda, a.shape[0], a.shape[1], packed.ctypes, z.shape[1], z.ctypes, ldz, accumulate)
    else:
        _gemm_float64(a.ctypes, lda, a.shape[0], a.shape[1], packed.ctypes, z.shape[1], z.ctypes, ldz, accumulate)


@numba.njit(cache=True)
def _meet(done, parties, me, step):
    if parties > 1:
        _barrier(done.ctypes, parties, me, step)


@numba.njit(cache=True, nogil=True)
def _rnn_forward(packed, gx, h0, hs, nonlinearity, lo, hi, done, me, parties):
    for t in range(gx.shape[0]):
        _step_gemm(h0 if t == 0 else hs[t - 1], packed, hs[t][:, lo:hi], 0)
        add_activate(hs[t], gx[t], nonlinearity, lo, hi)
        _meet(done, parties, me, t)


@numba.njit(cache=True, nogil=True)
def _rnn_backward(packed, dhs, hs, dz, dh, nonlinearity, lo, hi, done, me, parties):
    for step in range(dhs.shape[0]):
        t = dhs.shape[0] - 1 - step
        rnn_step_backward(dz[t], dh, dhs[t], hs[t], nonlinearity, lo, hi)
        _meet(done, parties, me, step)
        _step_gemm(dz[t], packed, dh[:, lo:hi], 0)


@numba.njit(cache=True, nogil=True)
def _lstm_forward(packed, z, gx, h0, c0, hs, cs, tcs, acts, lo, hi, done, me, parties):
    for t in range(gx.shape[0]):
        _step_gemm(h0 if t == 0 else hs[t - 1], packed, z, 0)
        lstm_cell(z, gx[t], c0 if t == 0 else cs[t - 1], acts[t], cs[t], tcs[t], hs[t], lo, hi)
        _meet(done, parties, me, t)


@numba.njit(cache=True, nogil=True)
def _lstm_backward(packed, dhs, c0, cs, acts, tcs, dgates, dc, dh, lo, hi, done, me, parties):
    for step in range(dhs.shape[0]):
        t = dhs.shape[0] - 1 - step
        lstm_step_backward(dgates[t], dc, dh, dhs[t], acts[t], tcs[t], c0 if t == 0 else cs[t - 1], lo, hi)
        _meet(done, parties, me, step)
        _step_gemm(dgates[t], packed, dh[:, lo:hi], 0)


@numba.njit(cache=True, nogil=True)
def _gru_forward(packed, hh, gx, h0, b_hh, hs, acts, hns, lo, hi, done, me, parties):
    for t in range(gx.shape[0]):
        h = h0 if t == 0 else hs[t - 1]
        _step_gemm(h, packed, hh, 0)
        gru_cell(hh, gx[t], b_hh, h, acts[t], hs[t], hns[t], lo, hi)
        _meet(done, parties, me, t)


@numba.njit(cache=True, nogil=True)
def _gru_backward(packed, dhs, h0, hs, acts, hns, dgx, dhh, dh, lo, hi, done, me, parties):
    for step in range(dhs.shape[0]):
        t = dhs.shape[0] - 1 - step
        gru_step_backward(dgx[t], dhh[t], dh, dhs[t], acts[t], hns[t], h0 if t == 0 else hs[t - 1], lo, hi)
        _meet(done, parties, me, step)
        _step_gemm(dhh[t], packed, dh[:, lo:hi], 1)


# ------------------------------------------------------------------ the Python side


def applies(w_hh, batch):
    """Whether a layer with these weights and batch runs its time loop here."""
    return steps is not None and batch * w_hh.shape[0] * w_hh.shape[1] <= COMPILED_LOOP_MAX_MACS


def _parts(w_hh, batch):
    """[(lo, hi)] hidden-unit ranges, one per thread. Two threads only where NumPy's BLAS
    threads stop spinning soon after a call: the loop starts right after a GEMM, and its
    threads wait for each other at every step, so a spinning BLAS thread on one core holds
    up both (B4's backward loop: 5 ms alone, 15 after a GEMM, in docs/performance.md)."""
    global _one_thread_calls
    hidden = w_hh.shape[1]
    split_at = SPLIT_AT_STEP_MACS if threads.blas_spin_is_short() else float("inf")
    if threads.ways(hidden // 8, batch * w_hh.shape[0] * hidden, split_at) == 1:
        return [(0, hidden)]
    if _one_thread_calls > 0 and threads.forced() != 2:
        _one_thread_calls -= 1
        return [(0, hidden)]
    split = (hidden // 2 + 7) // 8 * 8  # whole vectors in each thread's columns
    return [(0, split), (split, hidden)]


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
    """loop(packed, [scratch,] *args, lo, hi, done, me, parties) for each thread's hidden units.
    Forward multiplies by the thread's rows of W_hh, transposed; backward by its columns of
    W_hh. `gates` > 0 gives each thread a (batch, gates * its units) scratch for its gates."""
    global _one_thread_calls, _contended_in_a_row
    _check(loop.py_func.__name__, w_hh, batch, args)
    parts = _parts(w_hh, batch)
    packed = [steps.pack(w_hh[:, lo:hi]) if backward else steps.pack_gate_rows(w_hh, lo, hi) for lo, hi in parts]
    done = steps.barrier_slots(len(parts))

    def part(me):
        lo, hi = parts[me]
        scratch = (np.empty((batch, gates * (hi - lo)), dtype=dtype),) if gates else ()
        loop(packed[me], *scratch, *args, lo, hi, done, me, len(parts))

    if len(parts) == 1:
        part(0)
        return
    threads.run_pair(part)
    contended = steps.barrier_long_waits(done) > CONTENDED_SHARE * args[0].shape[0]  # args[0]: (T, B, .)
    _contended_in_a_row = _contended_in_a_row + 1 if contended else 0
    if _contended_in_a_row >= CONTENDED_CALLS:
        _one_thread_calls, _contended_in_a_row = CONTENDED_BACKOFF, 0


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
