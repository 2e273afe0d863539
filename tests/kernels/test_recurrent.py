"""Recurrent kernels: every backend against the NumPy twin (the twin itself is checked
against PyTorch's RNN/LSTM/GRU through F in tests/test_functional_rnn.py)."""
import numpy as np
import pytest

from minidl import kernels
from minidl.kernels import reference
from minidl.kernels.numba import recurrent, recurrent_loops

DEFAULT_LOOP_LIMIT = recurrent_loops.COMPILED_LOOP_MAX_MACS

# (T, B, H): length 1 and 200, batch 1, odd widths, a batch that is not a multiple of the
# small GEMM's 4-row tile with columns past a whole panel (and, on two threads, halves of
# 24 and 17 units)
SHAPES = [(1, 3, 5), (7, 1, 4), (5, 4, 9), (200, 2, 3), (3, 6, 41)]
ids = ["length1", "batch1", "odd_width", "length200", "rows_and_panel_edges"]


@pytest.fixture(autouse=True, params=["compiled", "compiled_two_threads", "python"])
def time_loop(request, monkeypatch):
    """Run the Numba backend's compiled time loop, on one thread and on two, and its Python
    loop around BLAS."""
    if request.param.startswith("compiled"):
        if recurrent_loops.steps is None:
            pytest.fail("the recurrent step extension is not built (see test_extensions_built)")
        monkeypatch.setattr(recurrent_loops, "COMPILED_LOOP_MAX_MACS", 1 << 40)
        monkeypatch.setenv("MINIDL_THREADS", "2" if request.param.endswith("two_threads") else "1")
    else:
        monkeypatch.setattr(recurrent_loops, "COMPILED_LOOP_MAX_MACS", -1)
    return request.param


def _data(shape, gates, dtype, seed=0):
    t, b, h = shape
    rng = np.random.default_rng(seed)
    arr = lambda *s, scale=1.0: (scale * rng.standard_normal(s)).astype(dtype)  # noqa: E731
    return dict(gx=arr(t, b, gates * h), h0=arr(b, h), c0=arr(b, h), w_hh=arr(gates * h, h, scale=0.4),
                b_hh=arr(gates * h), dhs=arr(t, b, h), dc=arr(b, h))


def _tol(dtype):
    return dict(rtol=2e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)


def _assert_all_close(got, want, dtype):
    for g, w in zip(got, want):
        assert g.dtype == dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, **_tol(dtype))


@pytest.mark.parametrize("backend", kernels.available("lstm_forward"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "identity"])
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_rnn_matches_twin(backend, dtype, nonlinearity, shape):
    d = _data(shape, 1, dtype)
    hs = kernels.implementation("rnn_forward", backend)(d["gx"], d["h0"], d["w_hh"], nonlinearity)
    ref_hs = reference.rnn_forward(d["gx"], d["h0"], d["w_hh"], nonlinearity)
    _assert_all_close([hs], [ref_hs], dtype)
    got = kernels.implementation("rnn_backward", backend)(d["dhs"], d["h0"], d["w_hh"], hs, nonlinearity)
    _assert_all_close(got, reference.rnn_backward(d["dhs"], d["h0"], d["w_hh"], ref_hs, nonlinearity), dtype)


@pytest.mark.parametrize("backend", kernels.available("lstm_forward"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_lstm_matches_twin(backend, dtype, shape):
    d = _data(shape, 4, dtype)
    fwd = kernels.implementation("lstm_forward", backend)(d["gx"], d["h0"], d["c0"], d["w_hh"])
    ref = reference.lstm_forward(d["gx"], d["h0"], d["c0"], d["w_hh"])
    _assert_all_close(fwd, ref, dtype)
    got = kernels.implementation("lstm_backward", backend)(d["dhs"], d["dc"], d["h0"], d["c0"], d["w_hh"], *fwd)
    _assert_all_close(got, reference.lstm_backward(d["dhs"], d["dc"], d["h0"], d["c0"], d["w_hh"], *ref), dtype)


@pytest.mark.parametrize("backend", kernels.available("gru_forward"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_gru_matches_twin(backend, dtype, shape):
    d = _data(shape, 3, dtype)
    fwd = kernels.implementation("gru_forward", backend)(d["gx"], d["h0"], d["w_hh"], d["b_hh"])
    ref = reference.gru_forward(d["gx"], d["h0"], d["w_hh"], d["b_hh"])
    _assert_all_close(fwd, ref, dtype)
    got = kernels.implementation("gru_backward", backend)(d["dhs"], d["h0"], d["w_hh"], *fwd)
    _assert_all_close(got, reference.gru_backward(d["dhs"], d["h0"], d["w_hh"], *ref), dtype)


def test_the_loop_is_chosen_by_the_size_of_each_step(monkeypatch):
    """Small per-step products run the compiled loop; large ones loop in Python around BLAS."""
    limit = DEFAULT_LOOP_LIMIT
    monkeypatch.setattr(recurrent_loops, "COMPILED_LOOP_MAX_MACS", limit)
    w_hh = np.zeros((4 * 128, 128), dtype=np.float32)
    assert recurrent_loops.applies(w_hh, limit // (4 * 128 * 128))
    assert not recurrent_loops.applies(w_hh, limit // (4 * 128 * 128) + 1)


def test_two_threads_split_the_hidden_units_in_whole_vectors(monkeypatch):
    monkeypatch.setenv("MINIDL_THREADS", "auto")
    monkeypatch.setattr(recurrent_loops.threads, "blas_spin_is_short", lambda: True)
    monkeypatch.setattr(recurrent_loops, "_one_thread_calls", 0)
    w_hh = np.zeros((4 * 100, 100), dtype=np.float32)
    big = recurrent_loops.SPLIT_AT_STEP_MACS // (4 * 100 * 100) + 1
    assert recurrent_loops._parts(w_hh, big) == ([(0, 56), (56, 100)] if recurrent_loops.threads._CORES > 1 else [(0, 100)])
    assert recurrent_loops._parts(w_hh, 1) == [(0, 100)]
    monkeypatch.setenv("MINIDL_THREADS", "2")
    assert recurrent_loops._parts(np.zeros((12, 12)), 1) == [(0, 12)]  # under 16 units: one thread


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lstm_states_in_any_layout(dtype):
    """Initial states that are transposed views, or of another dtype, give the twin's result."""
    d = _data((4, 5, 6), 4, dtype)
    h0, c0 = np.asfortranarray(d["h0"]), d["c0"].T.copy().T
    fwd = recurrent.lstm_forward(d["gx"], h0, c0, d["w_hh"])
    ref = reference.lstm_forward(d["gx"], d["h0"], d["c0"], d["w_hh"])
    _assert_all_close(fwd, ref, dtype)
    got = recurrent.lstm_backward(d["dhs"], d["dc"], h0, c0, d["w_hh"], *fwd)
    _assert_all_close(got, reference.lstm_backward(d["dhs"], d["dc"], d["h0"], d["c0"], d["w_hh"], *ref), dtype)


def test_one_thread_while_blas_threads_may_still_spin(monkeypatch):
    """After a GEMM, a spinning BLAS thread would hold up both halves of a split loop."""
    monkeypatch.setenv("MINIDL_THREADS", "auto")
    monkeypatch.setattr(recurrent_loops.threads, "blas_spin_is_short", lambda: False)
    monkeypatch.setattr(recurrent_loops, "_one_thread_calls", 0)
    w_hh = np.zeros((4 * 128, 128), dtype=np.float32)
    assert recurrent_loops._parts(w_hh, 32) == [(0, 128)]
    monkeypatch.setenv("MINIDL_THREADS", "2")  # forcing still splits
    assert len(recurrent_loops._parts(w_hh, 32)) == 2


def test_the_compiled_loop_refuses_arrays_that_do_not_fit():
    """The C GEMM reads memory by the weights' type and the sizes, so a mismatch must stop before it."""
    if recurrent_loops.steps is None:
        pytest.fail("the recurrent step extension is not built (see test_extensions_built)")
    d = _data((3, 2, 4), 4, np.float32)
    hs, cs, tcs = (np.empty((3, 2, 4), dtype=np.float32) for _ in range(3))
    acts = np.empty((3, 2, 16), dtype=np.float64)
    with pytest.raises(TypeError, match=r"_lstm_forward: a float64 array \(3, 2, 16\) with float32 weights"):
        recurrent_loops.lstm_forward(d["gx"], d["h0"], d["c0"], d["w_hh"], hs, cs, tcs, acts)
    with pytest.raises(ValueError, match=r"_lstm_forward: array \(2, 5\) does not fit weights \(16, 4\) and batch 2"):
        recurrent_loops.lstm_forward(d["gx"], np.zeros((2, 5), np.float32), d["c0"], d["w_hh"], hs, cs, tcs,
                                     acts.astype(np.float32))
    with pytest.raises(ValueError, match=r"_lstm_forward: sequences of \[3, 4\] steps"):  # a longer output
        recurrent_loops.lstm_forward(d["gx"], d["h0"], d["c0"], d["w_hh"], np.empty((4, 2, 4), np.float32), cs, tcs,
                                     acts.astype(np.float32))


def test_after_threads_kept_waiting_for_a_core_one_thread_runs_for_a_while(monkeypatch):
    """A split loop runs at its slower thread's pace: when the barrier says the threads kept
    yielding (another process busy) in a few calls in a row, the next calls run on one
    thread, then two again."""
    monkeypatch.setenv("MINIDL_THREADS", "auto")
    monkeypatch.setattr(recurrent_loops.threads, "blas_spin_is_short", lambda: True)
    monkeypatch.setattr(recurrent_loops.threads, "_CORES", 2)
    monkeypatch.setattr(recurrent_loops, "_one_thread_calls", 0)
    monkeypatch.setattr(recurrent_loops, "COMPILED_LOOP_MAX_MACS", 1 << 40)
    monkeypatch.setattr(recurrent_loops, "_contended_in_a_row", 0)
    # a quiet call in between starts the count again
    yields = iter([1000, 0] + [1000] * recurrent_loops.CONTENDED_CALLS)
    monkeypatch.setattr(recurrent_loops.steps, "barrier_long_waits", lambda done: next(yields))
    d = _data((6, 16, 64), 4, np.float32)  # 16 x 256 x 64 multiply-adds a step: two threads
    assert len(recurrent_loops._parts(d["w_hh"], 16)) == 2
    for _ in range(recurrent_loops.CONTENDED_CALLS + 1):  # the two, then all but the last contended call
        assert recurrent_loops._one_thread_calls == 0
        fwd = recurrent.lstm_forward(d["gx"], d["h0"], d["c0"], d["w_hh"])
        _assert_all_close(fwd, reference.lstm_forward(d["gx"], d["h0"], d["c0"], d["w_hh"]), np.float32)
    fwd = recurrent.lstm_forward(d["gx"], d["h0"], d["c0"], d["w_hh"])
    assert recurrent_loops._one_thread_calls == recurrent_loops.CONTENDED_BACKOFF
    for _ in range(recurrent_loops.CONTENDED_BACKOFF):
        assert recurrent_loops._parts(d["w_hh"], 16) == [(0, 64)]
    assert len(recurrent_loops._parts(d["w_hh"], 16)) == 2
    monkeypatch.setattr(recurrent_loops, "_one_thread_calls", 5)
    monkeypatch.setenv("MINIDL_THREADS", "2")  # forcing still splits
    assert len(recurrent_loops._parts(d["w_hh"], 16)) == 2
