"""Recurrent kernels: every backend against the NumPy twin (the twin itself is checked
against PyTorch's RNN/LSTM/GRU through F in tests/test_functional_rnn.py)."""
import numpy as np
import pytest

from minidl import kernels
from minidl.kernels import reference
from minidl.kernels.numba import recurrent, recurrent_loops

DEFAULT_LOOP_LIMIT = recurrent_loops.COMPILED_LOOP_MAX_MACS

# (T, B, H): length 1 and 200, batch 1, odd widths, a batch that is not a multiple of the
# small GEMM's 4-row tile with columns past a whole panel, and one that two threads split
# into halves of 8 and 5 rows
SHAPES = [(1, 3, 5), (7, 1, 4), (5, 4, 9), (200, 2, 3), (3, 6, 41), (3, 13, 17)]
ids = ["length1", "batch1", "odd_width", "length200", "rows_and_panel_edges", "uneven_halves"]


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


def test_two_threads_split_the_batch_in_whole_tiles(monkeypatch):
    monkeypatch.setenv("MINIDL_THREADS", "auto")
    monkeypatch.setattr(recurrent_loops.threads, "blas_spin_is_short", lambda: True)
    monkeypatch.setattr(recurrent_loops.threads, "_CORES", 2)
    w_hh = np.zeros((4 * 100, 100), dtype=np.float32)
    assert recurrent_loops._halves(w_hh, 32) == [(0, 16), (16, 32)]
    assert recurrent_loops._halves(w_hh, 1) == [(0, 1)]
    small = np.zeros((4 * 8, 8), dtype=np.float32)
    assert recurrent_loops._halves(small, 32) == [(0, 32)]  # under SPLIT_AT_STEP_MACS: one thread
    monkeypatch.setenv("MINIDL_THREADS", "2")
    assert recurrent_loops._halves(small, 13) == [(0, 8), (8, 13)]  # the first half in whole 4-row tiles
    assert recurrent_loops._halves(small, 7) == [(0, 7)]  # under two tiles: one thread


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
    """After a GEMM, a spinning BLAS thread would hold one of the two cores."""
    monkeypatch.setenv("MINIDL_THREADS", "auto")
    monkeypatch.setattr(recurrent_loops.threads, "blas_spin_is_short", lambda: False)
    w_hh = np.zeros((4 * 128, 128), dtype=np.float32)
    assert recurrent_loops._halves(w_hh, 32) == [(0, 32)]
    monkeypatch.setenv("MINIDL_THREADS", "2")  # forcing still splits
    assert len(recurrent_loops._halves(w_hh, 32)) == 2


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
