"""The compiled worker thread (csrc/handoff.pyx): Python halves handed to it, its spin settings,
and the kernels that hand it their own C halves, against one thread, their NumPy twins and the
Python pool that stands in where it is not built. (tests/kernels/test_threads.py runs the
batch-splitting rules on both workers.)"""
import os
import threading

import numpy as np
import pytest

from minidl import kernels
from minidl.kernels import threads
from minidl.kernels.window import Window2d

if os.name == "posix":
    from minidl.kernels import _handoff as handoff  # built wherever there are POSIX threads: missing fails the run
else:
    handoff = pytest.importorskip("minidl.kernels._handoff")


def test_the_worker_is_built_and_threaded_on_posix():
    assert os.name != "posix" or threads.compiled_worker() is handoff


def test_the_second_half_runs_on_another_thread():
    seen = {}
    handoff.run_pair(lambda i: seen.__setitem__(i, threading.get_ident()))
    assert seen[0] == threading.get_ident() and seen[1] != seen[0]


@pytest.mark.parametrize("spins", [(0, 0), (0, 10**6), (10**6, 0)], ids=["both_sleep", "worker_sleeps", "caller_sleeps"])
def test_every_way_of_waiting_hands_over_every_job(spins):
    """With no spin the worker sleeps between jobs and is woken, and the caller sleeps between
    looks: no job is lost, and each half runs exactly once."""
    old = handoff.set_spin_times(*spins)
    try:
        counts = np.zeros(2, dtype=int)
        for round_ in range(200):
            if round_ % 50 == 0:
                threading.Event().wait(0.002)  # long enough for a spinning worker to fall asleep
            handoff.run_pair(lambda i: counts.__setitem__(i, counts[i] + 1))
        np.testing.assert_array_equal(counts, [200, 200])
    finally:
        handoff.set_spin_times(*old)
    assert handoff.spin_times() == old


def test_spin_times_must_not_be_negative():
    with pytest.raises(ValueError, match="set_spin_times: spin times must be >= 0 ns, got -1 and 5"):
        handoff.set_spin_times(-1, 5)


def test_a_split_inside_a_half_runs_on_its_own_thread():
    """The worker is taken while a pair runs: a part that splits again runs both halves itself."""
    inner = []

    def part(i):
        handoff.run_pair(lambda j: inner.append((i, j)))

    handoff.run_pair(part)
    assert sorted(inner) == [(0, 0), (0, 1), (1, 0), (1, 1)]


@pytest.mark.parametrize("failing", [0, 1])
def test_the_error_of_either_half_comes_back_after_both_ran(failing):
    ran = []

    def part(i):
        if i == failing:
            raise KeyError(f"half {i}")
        threading.Event().wait(0.005)
        ran.append(i)

    with pytest.raises(KeyError, match=f"half {failing}"):
        handoff.run_pair(part)
    assert ran == [1 - failing]
    handoff.run_pair(lambda i: ran.append(i))  # and the worker is free again
    assert sorted(ran[1:]) == [0, 1]


# (kernel, weight-gradient kernel, x shape, K, padding): odd batches split unevenly, one image
# does not split, 1x1 images, channel counts that are not multiples of the tiles
SPLIT_CASES = [
    ("direct_conv", "direct_conv_weight_grad", (5, 3, 7, 9), 6, 1),
    ("direct_conv", "direct_conv_weight_grad", (1, 2, 4, 4), 3, 0),
    ("winograd_fused", "winograd_fused_weight_grad", (3, 5, 6, 7), 7, 1),
    ("winograd_fused", "winograd_fused_weight_grad", (4, 18, 1, 1), 9, 1),
]


@pytest.mark.parametrize("worker", ["compiled", "pool"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", SPLIT_CASES, ids=lambda c: f"{c[0]}-{c[2]}")
def test_kernels_split_over_two_threads_give_one_threads_results(worker, dtype, case):
    name, grad_name, shape, k, pad = case
    module = __import__(kernels.MODULE_OF[name], fromlist=[name])
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    weight = rng.standard_normal((k, shape[1], 3, 3)).astype(dtype)
    bias = rng.standard_normal(k).astype(dtype)
    window = Window2d.over(shape[2:], (3, 3), (1, 1), (pad, pad))
    grad = rng.standard_normal((shape[0], k, window.oh, window.ow)).astype(dtype)
    conv, weight_grad = getattr(module, name), getattr(module, grad_name)
    before = module._pairs_in_pool(worker == "pool")
    try:
        out = np.full(grad.shape, 7, dtype=dtype)
        sums = np.full(k, 7.0)
        conv(x, weight, window, bias, out=out, threads=2)
        dw = weight_grad(x, grad, window, bias_out=sums, threads=2)
    finally:
        module._pairs_in_pool(before)
    np.testing.assert_array_equal(out, conv(x, weight, window, bias))  # each image is one thread's
    one_sums = np.zeros(k)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw, weight_grad(x, grad, window, bias_out=one_sums), **tol)
    np.testing.assert_allclose(sums, one_sums, rtol=1e-12, atol=1e-12)
    twin_dw = kernels.implementation(grad_name, "reference")(x, grad, window, threads=2)
    np.testing.assert_allclose(dw, twin_dw, **tol)


@pytest.mark.parametrize("backend", ["compiled", "reference"])
@pytest.mark.parametrize("name", ["direct_conv", "winograd_fused", "direct_conv_weight_grad", "winograd_fused_weight_grad"])
def test_threads_is_one_or_two(backend, name):
    x, window = np.ones((2, 1, 4, 4)), Window2d.over((4, 4), (3, 3), (1, 1), (1, 1))
    second = np.ones((1, 1, 3, 3)) if not name.endswith("grad") else np.ones((2, 1, 4, 4))
    with pytest.raises(ValueError, match=f"{name}: threads must be 1 or 2, got 3"):
        kernels.implementation(name, backend)(x, second, window, threads=3)


@pytest.mark.parametrize("name", ["direct_conv", "winograd_fused"])
def test_an_out_of_another_shape_is_refused_before_any_thread_writes(name):
    x, window = np.ones((2, 1, 4, 4)), Window2d.over((4, 4), (3, 3), (1, 1), (1, 1))
    out = np.zeros((2, 3, 4, 5))
    with pytest.raises(ValueError, match=rf"{name}: out must be a contiguous \(2, 3, 4, 4\) array of x's dtype"):
        kernels.implementation(name, "compiled")(x, np.ones((3, 1, 3, 3)), window, out=out, threads=2)
    assert not out.any()
