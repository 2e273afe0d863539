"""Collect each benchmark's median and print minidl/PyTorch ratios at the end of the run.

Fairness: PyTorch gets as many threads as NumPy's BLAS uses (all cores); see
minidl.benchmark.use_all_cores for why it is set only when its default differs.
"""
import pytest

import minidl

minidl.keep_freed_memory()  # as `minidl train` and `minidl bench` run (minidl/memory.py)

try:
    import torch

    from minidl.benchmark import use_all_cores

    use_all_cores(torch)
except ImportError:
    torch = None

_medians = {}  # (workload id, framework) -> seconds
_workloads = {}


@pytest.fixture
def record_median():
    def record(workload, framework, benchmark):
        if benchmark.stats is not None:  # None when benchmarks are disabled
            _medians[(workload.id, framework)] = benchmark.stats.stats.median
            _workloads[workload.id] = workload

    return record


def pytest_terminal_summary(terminalreporter):
    rows = [w for w in _workloads.values() if (w.id, "minidl") in _medians and (w.id, "torch") in _medians]
    if not rows:
        return
    terminalreporter.section("minidl / PyTorch (median times, same work, same run)")
    terminalreporter.write_line("(both libraries in one process: indicative; `minidl bench` times each in its own "
                                "process, alternating, which is how the documented ratios are measured)")
    for w in rows:
        mine, theirs = _medians[(w.id, "minidl")], _medians[(w.id, "torch")]
        verdict = "meets" if mine / theirs <= w.goal else "misses"
        terminalreporter.write_line(
            f"{w.id}  {w.title:58s} minidl {mine * 1e3:8.2f} ms  torch {theirs * 1e3:8.2f} ms  "
            f"ratio {mine / theirs:5.2f}  ({verdict} goal {w.goal})"
        )
