"""minidl.kernels.threads: the batch is covered exactly once either way, and the rule is by size."""
import threading
import time

import numpy as np
import pytest

from minidl.kernels import threads

BIG, SMALL = threads.SPLIT_AT_MACS, threads.SPLIT_AT_MACS - 1


@pytest.fixture(autouse=True, params=["compiled", "pool"])
def two_cores_by_default(monkeypatch, request):
    """Every test on both workers: the compiled one (csrc/handoff.pyx) and the Python pool that
    stands in where it is not built."""
    monkeypatch.delenv("MINIDL_THREADS", raising=False)
    monkeypatch.setattr(threads, "_CORES", 2)
    if request.param == "pool":
        monkeypatch.setattr(threads, "_compiled_worker", None)


def _recording_part(calls):
    def part(lo, hi):
        calls.append((lo, hi, threading.get_ident() == threading.main_thread().ident))

    return part


@pytest.mark.parametrize("macs, expected", [(SMALL, [(0, 7, True)]), (BIG, [(0, 3, True), (3, 7, False)])])
def test_work_of_the_threshold_or_more_is_split(macs, expected):
    calls = []
    threads.run_halves(7, _recording_part(calls), macs)
    assert sorted(calls) == expected


@pytest.mark.parametrize("forced, macs, expected",
                         [("1", BIG, [(0, 7, True)]), ("2", SMALL, [(0, 3, True), (3, 7, False)])])
def test_the_environment_forces_a_way(monkeypatch, forced, macs, expected):
    monkeypatch.setenv("MINIDL_THREADS", forced)
    calls = []
    threads.run_halves(7, _recording_part(calls), macs)
    assert sorted(calls) == expected


@pytest.mark.parametrize("fast_path", [True, False], ids=["posix_mapping", "os_environ"])
def test_settings_are_read_as_os_environ_holds_them_now(monkeypatch, fast_path):
    """The fast read sees every change made through os.environ, as os.environ.get does."""
    import os

    if not fast_path:
        monkeypatch.setattr(threads, "_POSIX_ENVIRON", None)
    name, key = "MINIDL_TEST_SETTING", b"MINIDL_TEST_SETTING"
    monkeypatch.delenv(name, raising=False)
    assert threads.environment(name, key) is None
    for value in ("2", "", "auto", "caf\u00e9"):
        monkeypatch.setenv(name, value)
        assert threads.environment(name, key) == os.environ.get(name) == value
    os.environ[name] = "1"
    assert threads.environment(name, key) == "1"
    del os.environ[name]
    assert threads.environment(name, key) is None


def test_a_single_item_or_a_single_core_is_never_split(monkeypatch):
    calls = []
    threads.run_halves(1, _recording_part(calls), BIG)
    assert calls == [(0, 1, True)]
    monkeypatch.setattr(threads, "_CORES", 1)
    assert threads.ways(8, BIG) == 1


def test_bad_setting_is_named(monkeypatch):
    monkeypatch.setenv("MINIDL_THREADS", "many")
    with pytest.raises(ValueError, match="MINIDL_THREADS must be 1, 2 or auto; got 'many'"):
        threads.run_halves(4, lambda lo, hi: None, BIG)


@pytest.mark.parametrize("failing_half", [0, 1])
def test_an_error_in_either_half_is_raised_after_both_finish(failing_half):
    finished = []

    def part(lo, hi):
        if (lo > 0) == bool(failing_half):
            raise RuntimeError(f"half {failing_half} failed")
        time.sleep(0.01)
        finished.append(lo)

    with pytest.raises(RuntimeError, match=f"half {failing_half} failed"):
        threads.run_halves(4, part, BIG)
    assert len(finished) == 1  # the other half ran to its end before the error came back


@pytest.mark.parametrize("n", [2, 3, 9])
def test_halves_write_disjoint_slices(n):
    out = np.zeros(n)

    def part(lo, hi):
        out[lo:hi] += np.arange(lo, hi)

    threads.run_halves(n, part, BIG)
    np.testing.assert_array_equal(out, np.arange(n))


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_gets_a_worker_of_its_own():
    import os

    threads.run_halves(2, lambda lo, hi: None, BIG)  # the parent's worker now exists
    pid = os.fork()
    if pid == 0:  # child: a split must finish (the inherited pool has no thread)
        import signal

        signal.alarm(10)  # a hang ends the child (non-zero status) instead of the test run
        try:
            done = []
            threads.run_halves(2, lambda lo, hi: done.append(lo), BIG)
            os._exit(0 if sorted(done) == [0, 1] else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child status {status}"


def test_calls_from_several_user_threads_all_complete():
    import concurrent.futures

    covered = []

    def part(lo, hi):
        time.sleep(0.0005)
        covered.append(hi - lo)

    def many():
        for _ in range(20):
            threads.run_halves(4, part, BIG)
        return True

    with concurrent.futures.ThreadPoolExecutor(2) as users:
        assert all(f.result(timeout=30) for f in [users.submit(many) for _ in range(2)])
    assert sum(covered) == 2 * 20 * 4


def _element_wise_kernels(rng):
    """The element-wise kernels that split their elements, each as a call on an odd-sized array."""
    from minidl import kernels

    value, grad, m, v = (rng.standard_normal(1001).astype(np.float32) for _ in range(4))
    out = kernels.relu_forward(value)
    return {
        "adam": lambda: kernels.adam_step(value, grad, m, np.abs(v), 3, 1e-3, 0.9, 0.999, 1e-8, 0.01, True),
        "sgd": lambda: kernels.sgd_step(value, grad, m, 0.1, 0.9, 0.0, 1e-4, True, False),
        "relu_forward": lambda: [kernels.relu_forward(value)],
        "relu_backward": lambda: [kernels.relu_backward(grad, out)],
    }


@pytest.mark.parametrize("name", ["adam", "sgd", "relu_forward", "relu_backward"])
def test_element_wise_kernels_give_the_same_bits_in_halves(monkeypatch, name):
    rng = np.random.default_rng(0)
    monkeypatch.setenv("MINIDL_THREADS", "1")
    one = _element_wise_kernels(rng)[name]()
    monkeypatch.setenv("MINIDL_THREADS", "2")
    two = _element_wise_kernels(np.random.default_rng(0))[name]()
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)

