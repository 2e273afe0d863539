"""The C loops of ReLU, batch normalisation, cross-entropy and the optimizers, at every
instruction set this CPU has, against their NumPy twins on odd sizes (vector tails, one
element, none); the float32 exp those loops use; and their errors on arrays that do not fit."""
import importlib

import numpy as np
import pytest

from minidl.kernels import reference
from tests.kernels import instruction_sets_of

MODULES = ["minidl.kernels._relu", "minidl.kernels._batch_norm", "minidl.kernels._cross_entropy",
           "minidl.kernels._optim"]


def _levels(module_name):
    return [(module_name, isa) for isa in instruction_sets_of(module_name)]


@pytest.fixture
def at_level(request):
    """The module, its kernels capped at one instruction set for the test."""
    module_name, isa = request.param
    module = importlib.import_module(module_name)
    previous = module.limit_instruction_set(isa)
    yield module
    module.limit_instruction_set(previous)


def _tol(dtype):
    return dict(rtol=3e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("at_level", _levels(MODULES[0]), indirect=True)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [0, 1, 7, 33, 1000])
def test_relu_at_each_level(at_level, dtype, size):
    x = np.random.default_rng(size).standard_normal(size).astype(dtype)
    if size > 3:
        x[:3] = [np.nan, -0.0, np.inf]
    out = at_level.relu_forward(x)
    np.testing.assert_array_equal(out, reference.relu_forward(x))
    grad = np.random.default_rng(1).standard_normal(size).astype(dtype)
    np.testing.assert_array_equal(at_level.relu_backward(grad, out), reference.relu_backward(grad, out))


@pytest.mark.filterwarnings("ignore:Mean of empty slice")  # the twin, on no positions
@pytest.mark.parametrize("at_level", _levels(MODULES[1]), indirect=True)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 5, 17), (2, 3, 0), (4, 2, 100)])
def test_batch_norm_at_each_level(at_level, dtype, shape):
    rng = np.random.default_rng(2)
    x = (3 + 2 * rng.standard_normal(shape)).astype(dtype)
    weight, bias = rng.standard_normal(shape[1]).astype(dtype), rng.standard_normal(shape[1]).astype(dtype)
    with np.errstate(invalid="ignore", divide="ignore"):  # no positions: 0 / 0, as the twin
        got, want = at_level.batch_norm_forward(x, weight, bias, 1e-5), reference.batch_norm_forward(x, weight, bias, 1e-5)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, w, **_tol(dtype) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-5))
    grad = rng.standard_normal(shape).astype(dtype)
    got = at_level.batch_norm_backward(grad, want[1], want[4], weight)
    with np.errstate(invalid="ignore", divide="ignore"):
        want = reference.batch_norm_backward(grad, want[1], want[4], weight)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, **_tol(dtype) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-5))


@pytest.mark.parametrize("at_level", _levels(MODULES[2]), indirect=True)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (3, 17), (5, 64), (2, 1001)])
def test_cross_entropy_at_each_level(at_level, dtype, shape):
    rng = np.random.default_rng(3)
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    x[0, -1] = -np.inf
    target = rng.integers(0, shape[1], shape[0])
    target[-1] = -100 if shape[0] > 1 else target[-1]
    weight = rng.random(shape[1]).astype(dtype)
    got = at_level.cross_entropy_forward(x, target, weight, -100)
    with np.errstate(invalid="ignore"):  # the twin, on the row that is all -inf when it has one column
        want = reference.cross_entropy_forward(x, target, weight, -100)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, **_tol(dtype))
    coef = rng.standard_normal(shape[0]).astype(dtype) * want[1]
    np.testing.assert_allclose(at_level.cross_entropy_backward(x, want[2], target, -100, coef),
                               reference.cross_entropy_backward(x, want[2], target, -100, coef), **_tol(dtype))


@pytest.mark.parametrize("at_level", _levels(MODULES[2]), indirect=True)
def test_float32_exp_across_its_range(at_level):
    """exp as the backward computes it: with lse 0 and coefficient 1 the gradient is exp(x),
    but for the 1 taken at column 0 (an ignored row's coefficient is 0 in use). Within 1e-7 of the exact value where it is a normal float; at the
    ends, denormals as NumPy rounds them, 0 below -104, inf above 88.73, NaN kept."""
    x = np.concatenate([np.float32([0]), np.linspace(-110, 90, 200_001, dtype=np.float32),
                        np.float32([-np.inf, np.inf, np.nan, 0, -0.0, 88.72, -87.3, -103.9])])[None, :]
    got = at_level.cross_entropy_backward(x, np.zeros(1, np.float32), np.array([-1]), -1, np.ones(1, np.float32))[0]
    assert got[0] == 0  # exp(0) - 1
    x, got = x[:, 1:], got[1:]
    exact = np.exp(x[0].astype(np.float64))
    normal = (exact > np.finfo(np.float32).tiny) & (exact < np.finfo(np.float32).max)
    np.testing.assert_allclose(got[normal], exact[normal], rtol=1e-7 * 2, atol=0)
    with np.errstate(over="ignore"):
        tiny = ~normal & np.isfinite(x[0]) & (x[0] < 0)
        np.testing.assert_allclose(got[tiny], exact[tiny].astype(np.float32), rtol=0, atol=2e-45)
        assert np.all(np.isinf(got[~normal & (x[0] > 0)]))
    assert got[-8 + 0] == 0 and np.isinf(got[-7]) and np.isnan(got[-6])


@pytest.mark.parametrize("at_level", _levels(MODULES[3]), indirect=True)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, 7, 33, 1001])
@pytest.mark.parametrize("momentum, first, nesterov, weight_decay", [
    (0.0, False, False, 0.0), (0.0, False, False, 1e-3), (0.9, True, False, 0.0), (0.9, False, True, 1e-4)])
def test_sgd_at_each_level_is_the_twin_to_the_bit(at_level, dtype, size, momentum, first, nesterov, weight_decay):
    rng = np.random.default_rng(size)
    value, grad, buf = (rng.standard_normal(size).astype(dtype) for _ in range(3))
    args = (value, grad, None if first else buf, 0.05, momentum, 0.1, weight_decay, nesterov, False)
    got, want = at_level.sgd_step(*args), reference.sgd_step(*args)
    np.testing.assert_array_equal(got[0], want[0])
    assert (got[1] is None) == (want[1] is None)
    if want[1] is not None:
        np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("at_level", _levels(MODULES[3]), indirect=True)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, 7, 33, 1001])
@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_at_each_level(at_level, dtype, size, decoupled):
    rng = np.random.default_rng(size)
    value, grad, m = (rng.standard_normal(size).astype(dtype) for _ in range(3))
    v = np.abs(rng.standard_normal(size)).astype(dtype)
    args = (value, grad, m, v, 3, 1e-3, 0.9, 0.999, 1e-8, 0.01, decoupled)
    for g, w in zip(at_level.adam_step(*args), reference.adam_step(*args), strict=True):
        np.testing.assert_allclose(g, w, **_tol(dtype))


def test_arrays_that_do_not_fit_are_refused_before_the_loops():
    from minidl.kernels import _batch_norm, _cross_entropy

    x = np.zeros((4, 3), np.float32)
    with pytest.raises(IndexError, match=r"cross_entropy_forward: target 3 of row 1 is not a class in \[0, 3\)"):
        _cross_entropy.cross_entropy_forward(x, np.array([0, 3, 1, 1]), None, -100)
    with pytest.raises(IndexError, match="cross_entropy_backward: target -2 of row 0"):
        _cross_entropy.cross_entropy_backward(x, np.zeros(4, np.float32), np.array([-2, 0, 0, 0]), -100,
                                              np.ones(4, np.float32))
    with pytest.raises(ValueError, match=r"cross_entropy_forward: target shape \(3,\) does not fit logits \(4, 3\)"):
        _cross_entropy.cross_entropy_forward(x, np.zeros(3, np.int64), None, -100)
    with pytest.raises(ValueError, match=r"cross_entropy_forward: weight shape \(2,\)"):
        _cross_entropy.cross_entropy_forward(x, np.zeros(4, np.int64), np.ones(2, np.float32), -100)
    with pytest.raises(ValueError, match=r"batch_norm_forward: expected \(N, C, L\), got shape \(4, 3\)"):
        _batch_norm.batch_norm_forward(x, None, None, 1e-5)
    with pytest.raises(ValueError, match=r"batch_norm_forward: weight must have shape \(3,\)"):
        _batch_norm.batch_norm_forward(x[:, :, None], np.ones(2, np.float32), None, 1e-5)
    with pytest.raises(ValueError, match="batch_norm_backward: grad .* and xhat .* differ"):
        _batch_norm.batch_norm_backward(np.zeros((4, 3, 2), np.float32), np.zeros((4, 3, 1), np.float32),
                                        np.ones(3, np.float32), None)
