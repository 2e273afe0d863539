"""Cross-entropy's row kernels, the fused Adam and SGD steps and row scatter-add against their NumPy twins."""
import numpy as np
import pytest

from minidl import kernels
from minidl.kernels import reference


def _logits(shape, dtype, seed=0, scale=3.0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)


@pytest.mark.parametrize("backend", kernels.available("cross_entropy_forward"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (4, 7), (3, 5000), (65, 65)])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_kernels_match_twin(backend, dtype, shape, weighted):
    rng = np.random.default_rng(1)
    x = _logits(shape, dtype)
    x[0, -1] = 1e4  # a dominant logit: the shift keeps everything finite
    if shape[1] > 2:
        x[-1, 1] = -np.inf  # a logit that can never win
    target = rng.integers(0, shape[1], shape[0])
    if shape[0] > 1:
        target[1] = -100  # ignored
    weight = rng.random(shape[1]).astype(dtype) if weighted else None
    got = kernels.implementation("cross_entropy_forward", backend)(x, target, weight, -100)
    want = reference.cross_entropy_forward(x, target, weight, -100)
    tol = dict(rtol=3e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-12)
    for g, w in zip(got, want):
        assert g.dtype == dtype and g.shape == shape[:1]
        np.testing.assert_allclose(g, w, **tol)
    losses, row_weight, lse = want
    assert np.all(np.isfinite(lse)) and np.all(lse >= x.max(axis=1))
    if shape[0] > 1:
        assert losses[1] == 0 and row_weight[1] == 0
    coef = rng.standard_normal(shape[0]).astype(dtype) * row_weight
    dx = kernels.implementation("cross_entropy_backward", backend)(x, lse, target, -100, coef)
    np.testing.assert_allclose(dx, reference.cross_entropy_backward(x, lse, target, -100, coef), **tol)
    # each row of the gradient sums to 0: softmax sums to 1, the target takes 1 away
    np.testing.assert_allclose(dx.sum(axis=1), 0, atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("backend", kernels.available("cross_entropy_forward"))
def test_cross_entropy_keeps_nan_rows_nan(backend):
    x = _logits((3, 6), np.float32)
    x[1, 2] = np.nan
    losses, _, lse = kernels.implementation("cross_entropy_forward", backend)(x, np.array([0, 1, 2]), None, -100)
    assert np.isnan(lse[1]) and np.isnan(losses[1]) and np.isfinite(losses[[0, 2]]).all()


@pytest.mark.parametrize("threads", ["1", "2"])
def test_cross_entropy_halves_match_one_thread(monkeypatch, threads):
    """The rows split over two threads give what one thread gives, on an odd row count."""
    monkeypatch.setenv("MINIDL_THREADS", threads)
    rng = np.random.default_rng(3)
    x = _logits((37, 301), np.float32)
    target = rng.integers(0, 301, 37)
    forward = kernels.implementation("cross_entropy_forward", "compiled")
    backward = kernels.implementation("cross_entropy_backward", "compiled")
    losses, row_weight, lse = forward(x, target, None, -100)
    want = reference.cross_entropy_forward(x, target, None, -100)
    np.testing.assert_allclose(losses, want[0], rtol=3e-6, atol=1e-6)
    coef = row_weight / 37
    np.testing.assert_allclose(backward(x, lse, target, -100, coef),
                               reference.cross_entropy_backward(x, lse, target, -100, coef), rtol=3e-6, atol=1e-8)


ADAM_CASES = [  # (shape, weight_decay, decoupled, step)
    ((5000, 64), 0.0, False, 1),
    ((7, 3), 0.1, False, 4),  # L2 penalty added to the gradient
    ((129,), 0.01, True, 9),  # AdamW's decoupled decay
    ((), 0.0, False, 2),  # a scalar parameter
]


@pytest.mark.parametrize("backend", kernels.available("adam_step"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ADAM_CASES, ids=["step1_big", "l2", "adamw", "scalar"])
def test_adam_step_matches_twin(backend, dtype, case):
    shape, wd, decoupled, step = case
    rng = np.random.default_rng(1)
    value, grad = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    if step == 1:
        m = v = 0  # no state yet
    else:
        m = (0.1 * rng.standard_normal(shape)).astype(dtype)
        v = (0.01 * rng.random(shape)).astype(dtype)
    args = (value, grad, m, v, step, 1e-3, 0.9, 0.999, 1e-8, wd, decoupled)
    before = [np.copy(a) for a in (value, grad, m, v)]
    got = kernels.implementation("adam_step", backend)(*args)
    expected = reference.adam_step(*args)
    tol = dict(rtol=2e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-15)
    for g, e in zip(got, expected):
        assert g.dtype == dtype and g.shape == shape
        np.testing.assert_allclose(g, e, **tol)
    for a, b in zip((value, grad, m, v), before):  # inputs untouched: the optimizer's step is all-or-nothing
        np.testing.assert_array_equal(a, b)


SGD_CASES = [  # (shape, momentum, dampening, weight_decay, nesterov, maximize, first step)
    ((5000, 64), 0.0, 0.0, 0.0, False, False, True),  # plain SGD: no buffer
    ((7, 3), 0.9, 0.0, 0.0, False, False, True),  # the buffer starts as the gradient
    ((7, 3), 0.9, 0.1, 0.01, False, False, False),
    ((129,), 0.9, 0.0, 0.1, True, False, False),  # Nesterov
    ((16, 1, 3, 3), 0.5, 0.0, 0.0, False, True, False),  # maximize
    ((), 0.9, 0.0, 0.0, False, False, False),  # a scalar parameter
]


@pytest.mark.parametrize("backend", kernels.available("sgd_step"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", SGD_CASES, ids=["plain", "first", "dampening_wd", "nesterov", "maximize", "scalar"])
def test_sgd_step_matches_twin_exactly(backend, dtype, case):
    shape, momentum, dampening, wd, nesterov, maximize, first = case
    rng = np.random.default_rng(2)
    value, grad = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    buf = None if first else rng.standard_normal(shape).astype(dtype)
    args = (value, grad, buf, 0.05, momentum, dampening, wd, nesterov, maximize)
    before = [None if a is None else np.copy(a) for a in (value, grad, buf)]
    got_value, got_buf = kernels.implementation("sgd_step", backend)(*args)
    want_value, want_buf = reference.sgd_step(*args)
    assert got_value.dtype == dtype and got_value.shape == shape
    np.testing.assert_array_equal(got_value, want_value)  # same roundings: bit for bit
    if momentum:
        np.testing.assert_array_equal(got_buf, want_buf)
        assert got_buf is not grad and not np.shares_memory(got_buf, grad)  # a buffer of its own
    else:
        assert got_buf is None and want_buf is None
    for a, b in zip((value, grad, buf), before):  # inputs untouched: the optimizer's step is all-or-nothing
        if a is not None:
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("backend", kernels.available("sgd_steps"))
@pytest.mark.parametrize("threads", ["1", "2", "auto"])
@pytest.mark.parametrize("case", SGD_CASES, ids=["plain", "first", "dampening_wd", "nesterov", "maximize", "scalar"])
def test_sgd_steps_update_a_group_as_sgd_step_does_each_parameter(backend, threads, case, monkeypatch):
    """Float32 and float64 parameters, a strided gradient and a large parameter (the paths that
    go through sgd_step's own checks and two-thread rule), each bit for bit as sgd_step."""
    monkeypatch.setenv("MINIDL_THREADS", threads)
    _, momentum, dampening, wd, nesterov, maximize, first = case
    rng = np.random.default_rng(3)
    shapes_and_dtypes = [((16, 1, 3, 3), np.float32), ((32,), np.float64), ((), np.float32), ((600, 1000), np.float32),
                         ((5, 4), np.float32)]
    values = [rng.standard_normal(shape).astype(dtype) for shape, dtype in shapes_and_dtypes]
    grads = [rng.standard_normal(v.shape).astype(v.dtype) for v in values]
    grads[-1] = np.asfortranarray(grads[-1])  # not C-contiguous
    bufs = [None if first else rng.standard_normal(v.shape).astype(v.dtype) for v in values]
    before = [np.copy(a) for a in values + grads + [b for b in bufs if b is not None]]
    args = (0.05, momentum, dampening, wd, nesterov, maximize)
    got_values, got_bufs = kernels.implementation("sgd_steps", backend)(values, grads, bufs, *args)
    for value, grad, buf, got_value, got_buf in zip(values, grads, bufs, got_values, got_bufs, strict=True):
        want_value, want_buf = reference.sgd_step(value, grad, buf, *args)
        assert got_value.dtype == value.dtype and got_value.shape == value.shape
        np.testing.assert_array_equal(got_value, want_value)
        if momentum:
            np.testing.assert_array_equal(got_buf, want_buf)
            assert not np.shares_memory(got_buf, grad) and not np.shares_memory(got_buf, got_value)
        else:
            assert got_buf is None
    for a, b in zip([a for a in values + grads + bufs if a is not None], before, strict=True):
        np.testing.assert_array_equal(a, b)  # inputs untouched: the optimizer's step is all-or-nothing


@pytest.mark.parametrize("backend", kernels.available("scatter_add_rows"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1, 3), (2048, 65, 64), (7, 5000, 2)], ids=["single", "many_repeats", "sparse"])
def test_scatter_add_rows_matches_twin(backend, dtype, shape):
    m, num_rows, d = shape
    rng = np.random.default_rng(0)
    indices = rng.integers(0, num_rows, size=m)
    indices[0] = num_rows - 1  # the last row
    rows = rng.standard_normal((m, d)).astype(dtype)
    got = kernels.implementation("scatter_add_rows", backend)(indices, rows, num_rows)
    assert got.dtype == dtype and got.shape == (num_rows, d)
    np.testing.assert_allclose(got, reference.scatter_add_rows(indices, rows, num_rows), rtol=1e-5 if dtype == np.float32 else 1e-12)
