"""Recurrent kernels: every backend against the NumPy twin (the twin itself is checked
against PyTorch's RNN/LSTM/GRU through F in tests/test_functional_rnn.py)."""
import numpy as np
import pytest

from minidl import kernels
from minidl.kernels import reference

# (T, B, H): length 1 and 200, batch 1, odd widths
SHAPES = [(1, 3, 5), (7, 1, 4), (5, 4, 9), (200, 2, 3)]
ids = ["length1", "batch1", "odd_width", "length200"]


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
