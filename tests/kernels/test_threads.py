"""minidl.kernels.threads: the batch is covered exactly once either way, and the faster way is kept."""
import threading
import time

import numpy as np
import pytest

from minidl.kernels import threads


@pytest.fixture(autouse=True)
def fresh_choices(monkeypatch):
    monkeypatch.delenv("MINIDL_THREADS", raising=False)
    monkeypatch.setattr(threads, "_timings", {})
    monkeypatch.setattr(threads, "_chosen", {})
    monkeypatch.setattr(threads, "_uses", {})
    monkeypatch.setattr(threads, "_settled", set())


def _recording_part(calls):
    def part(lo, hi):
        calls.append((lo, hi, threading.current_thread() is threading.main_thread()))

    return part


@pytest.mark.parametrize("forced, expected", [("1", [(0, 7, True)]), ("2", [(0, 3, True), (3, 7, False)])])
def test_forced_ways_cover_the_range_once(monkeypatch, forced, expected):
    monkeypatch.setenv("MINIDL_THREADS", forced)
    calls = []
    threads.run_halves("k", 7, _recording_part(calls))
    assert sorted(calls) == expected


def test_a_single_item_is_never_split(monkeypatch):
    monkeypatch.setenv("MINIDL_THREADS", "2")
    calls = []
    threads.run_halves("k", 1, _recording_part(calls))
    assert calls == [(0, 1, True)]


def test_bad_setting_is_named(monkeypatch):
    monkeypatch.setenv("MINIDL_THREADS", "4")
    with pytest.raises(ValueError, match="MINIDL_THREADS must be 1, 2 or auto; got '4'"):
        threads.run_halves("k", 4, lambda lo, hi: None)


@pytest.mark.parametrize("split_is_faster", [True, False])
def test_the_measured_faster_way_is_kept(split_is_faster):
    """A part whose cost depends on the way: sleeps release the GIL like BLAS calls do."""

    def part(lo, hi):
        whole = hi - lo == 8
        time.sleep(0.004 if whole else (0.001 if split_is_faster else 0.008))

    for _ in range(2 * (threads.TRIALS + 1)):
        threads.run_halves("site", 8, part)
    assert threads.chosen("site") == (2 if split_is_faster else 1)
    calls = []
    threads.run_halves("site", 8, _recording_part(calls))
    assert len(calls) == (2 if split_is_faster else 1)


def test_a_split_barely_faster_is_not_kept():
    """Within the margin the single thread wins: a noisy near-tie must not pick the split."""

    def part(lo, hi):
        time.sleep(0.004 if hi - lo == 8 else 0.004 * 0.97)  # the split would be 3 % faster

    for _ in range(2 * (threads.TRIALS + 1)):
        threads.run_halves("tie", 8, part)
    assert threads.chosen("tie") == 1


def test_the_first_choice_is_measured_again_once(monkeypatch):
    """A start in an untypical state (the split slow at first) does not fix the choice for good."""
    monkeypatch.setattr(threads, "RECHECK_AFTER", 3)
    state = {"split_slow": True}

    def part(lo, hi):
        whole = hi - lo == 8
        time.sleep(0.004 if whole else (0.008 if state["split_slow"] else 0.001))

    for _ in range(2 * (threads.TRIALS + 1)):
        threads.run_halves("site", 8, part)
    assert threads.chosen("site") == 1 and not threads.settled("site")
    state["split_slow"] = False
    for _ in range(threads.RECHECK_AFTER):  # calls on the provisional choice
        threads.run_halves("site", 8, part)
    assert threads.chosen("site") is None  # being measured again
    for _ in range(2 * (threads.TRIALS + 1)):
        threads.run_halves("site", 8, part)
    assert threads.chosen("site") == 2 and threads.settled("site")
    for _ in range(2 * threads.RECHECK_AFTER):  # settled: no third measurement
        threads.run_halves("site", 8, part)
    assert threads.chosen("site") == 2 and threads.settled("site")


def test_keys_are_measured_separately():
    for _ in range(2 * (threads.TRIALS + 1)):
        threads.run_halves("a", 4, lambda lo, hi: time.sleep(0.001))
    assert threads.chosen("a") is not None and threads.chosen("b") is None
    assert threads.choices() == {"a": threads.chosen("a")}


@pytest.mark.parametrize("failing_half", [0, 1])
def test_an_error_in_either_half_is_raised_after_both_finish(monkeypatch, failing_half):
    monkeypatch.setenv("MINIDL_THREADS", "2")
    finished = []

    def part(lo, hi):
        if (lo > 0) == bool(failing_half):
            raise RuntimeError(f"half {failing_half} failed")
        time.sleep(0.01)
        finished.append(lo)

    with pytest.raises(RuntimeError, match=f"half {failing_half} failed"):
        threads.run_halves("k", 4, part)
    assert len(finished) == 1  # the other half ran to its end before the error came back


def test_halves_write_disjoint_slices():
    out = np.zeros(9)

    def part(lo, hi):
        out[lo:hi] += np.arange(lo, hi)

    for _ in range(2 * (threads.TRIALS + 1) + 3):
        out[:] = 0
        threads.run_halves("fill", 9, part)
        np.testing.assert_array_equal(out, np.arange(9))


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_gets_a_worker_of_its_own(monkeypatch):
    import os

    monkeypatch.setenv("MINIDL_THREADS", "2")
    threads.run_halves("k", 2, lambda lo, hi: None)  # the parent's worker now exists
    pid = os.fork()
    if pid == 0:  # child: a split must finish (the inherited pool has no thread)
        import signal

        signal.alarm(10)  # a hang ends the child (non-zero status) instead of the test run
        try:
            done = []
            threads.run_halves("k", 2, lambda lo, hi: done.append(lo))
            os._exit(0 if sorted(done) == [0, 1] else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child status {status}"


def test_calls_from_several_user_threads_all_complete():
    """Two threads of the user's, each splitting (and timing) the same key at once."""
    import concurrent.futures

    def part(lo, hi):
        time.sleep(0.0005)

    def many():
        for _ in range(3 * (threads.TRIALS + 1)):
            threads.run_halves("shared", 4, part)
        return True

    with concurrent.futures.ThreadPoolExecutor(2) as users:
        assert all(f.result(timeout=30) for f in [users.submit(many) for _ in range(2)])
    assert threads.chosen("shared") in (1, 2)
