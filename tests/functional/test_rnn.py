"""F.rnn / F.lstm / F.gru beyond the registry: states default to zero, identity RNN, bad input."""
import numpy as np
import pytest

import minidl as md
import minidl.functional as F


def _p(*shape, seed=0):
    return md.tensor(0.5 * np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_missing_initial_state_means_zeros():
    x, wih, whh = _p(4, 2, 3), _p(20, 3, seed=1), _p(20, 5, seed=2)
    out, (h, c) = F.lstm(x, None, wih, whh)
    out0, (h0, c0) = F.lstm(x, (md.zeros(2, 5, dtype=np.float64), md.zeros(2, 5, dtype=np.float64)), wih, whh)
    np.testing.assert_array_equal(out.numpy(), out0.numpy())
    np.testing.assert_array_equal(c.numpy(), c0.numpy())
    np.testing.assert_array_equal(h.numpy(), out.numpy()[-1])


def test_identity_rnn_is_linear_in_its_input():
    x1, x2, wih, whh = _p(5, 2, 3), _p(5, 2, 3, seed=1), _p(4, 3, seed=2), _p(4, 4, seed=3)
    run = lambda x: F.rnn(x, None, wih, whh, nonlinearity="identity")[0].numpy()  # noqa: E731
    np.testing.assert_allclose(run(x1 + x2), run(x1) + run(x2), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(run(x1 * 3.0), 3 * run(x1), rtol=1e-12, atol=1e-12)
    assert md.gradcheck(lambda a, w: F.rnn(a, None, w, whh, nonlinearity="identity")[0], [x1, wih])


def test_float32_stays_float32():
    x = md.randn(6, 3, 4)
    wih, whh, b = md.randn(12, 4), md.randn(12, 4), md.randn(12)
    out, h = F.gru(x, None, wih, whh, b, b)
    assert out.dtype == np.float32 and h.dtype == np.float32


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: F.rnn(_p(4, 3), None, _p(5, 3), _p(5, 5)), ValueError, r"rnn: expected input of shape \(T, B, input_size\); got \(4, 3\)"),
        (lambda: F.rnn(_p(4, 2, 3), None, _p(5, 4), _p(5, 5)), ValueError, r"rnn: weight_ih must have shape \(5, 3\)"),
        (lambda: F.lstm(_p(4, 2, 3), None, _p(20, 3), _p(5, 5)), ValueError, r"lstm: weight_hh must have shape"),
        (lambda: F.gru(_p(4, 2, 3), _p(3, 5), _p(15, 3), _p(15, 5)), ValueError, r"gru: h0 must have shape \(2, 5\)"),
        (lambda: F.lstm(_p(4, 2, 3), (_p(2, 5), _p(1, 5)), _p(20, 3), _p(20, 5)), ValueError, r"lstm: c0 must have shape \(2, 5\)"),
        (lambda: F.rnn(_p(4, 2, 3), None, _p(5, 3), _p(5, 5), nonlinearity="gelu"), ValueError, r"nonlinearity must be one of"),
        (lambda: F.rnn(_p(4, 2, 3), None, md.randn(5, 3), md.randn(5, 5)), TypeError, r"input is float64 but weight_ih is float32"),
        (lambda: F.lstm(md.randn(4, 2, 3), (_p(2, 5), md.randn(2, 5)), md.randn(20, 3), md.randn(20, 5)), TypeError,
         r"lstm: input is float32 but h0 is float64"),
        (lambda: F.lstm(md.randn(4, 2, 3), (md.randn(2, 5), _p(2, 5)), md.randn(20, 3), md.randn(20, 5)), TypeError,
         r"lstm: input is float32 but c0 is float64"),
        (lambda: F.gru(md.randn(4, 2, 3), _p(2, 5), md.randn(15, 3), md.randn(15, 5)), TypeError,
         r"gru: input is float32 but h0 is float64"),
    ],
)
def test_bad_input_fails_before_the_kernels(call, error, message):
    with pytest.raises(error, match=message):
        call()
