"""The compiled recurrent loops on two threads, each over half the batch: the same bits as one."""
import numpy as np
import pytest

from minidl.kernels.numba import recurrent, recurrent_loops


def _args(name, d):
    return {"rnn": (d["gx"], d["h0"], d["w_hh"], "tanh"), "lstm": (d["gx"], d["h0"], d["c0"], d["w_hh"]),
            "gru": (d["gx"], d["h0"], d["w_hh"], d["b_hh"])}[name]


def _backward(name, d, fwd):
    if name == "rnn":
        return recurrent.rnn_backward(d["dhs"], d["h0"], d["w_hh"], fwd[0], "tanh")
    if name == "lstm":
        return recurrent.lstm_backward(d["dhs"], d["dc"], d["h0"], d["c0"], d["w_hh"], *fwd)
    return recurrent.gru_backward(d["dhs"], d["h0"], d["w_hh"], *fwd)


@pytest.mark.parametrize("name, gates", [("rnn", 1), ("lstm", 4), ("gru", 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_two_threads_give_the_same_bits_as_one(name, gates, dtype, monkeypatch):
    """Each row's arithmetic is the same whichever thread runs it, so the split changes no bit."""
    if recurrent_loops.steps is None:
        pytest.fail("the recurrent step extension is not built (see test_extensions_built)")
    monkeypatch.setattr(recurrent_loops, "COMPILED_LOOP_MAX_MACS", 1 << 40)
    rng = np.random.default_rng(0)
    t, b, h = 6, 13, 40
    arr = lambda *s: (0.5 * rng.standard_normal(s)).astype(dtype)  # noqa: E731
    d = dict(gx=arr(t, b, gates * h), h0=arr(b, h), c0=arr(b, h), w_hh=arr(gates * h, h), b_hh=arr(gates * h),
             dhs=arr(t, b, h), dc=arr(b, h))
    results = []
    for count in ("1", "2"):
        monkeypatch.setenv("MINIDL_THREADS", count)
        assert len(recurrent_loops._halves(d["w_hh"], b)) == int(count)
        fwd = getattr(recurrent, f"{name}_forward")(*_args(name, d))
        fwd = fwd if isinstance(fwd, tuple) else (fwd,)
        results.append(list(fwd) + list(_backward(name, d, fwd)))
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)
