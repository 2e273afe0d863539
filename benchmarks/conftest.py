"""Collect each benchmark's median and print minidl/PyTorch ratios at the end of the run.

Fairness: PyTorch gets as many threads as NumPy's BLAS uses (all cores), set
here explicitly so that nothing else in the session can change it.
"""
import os

import pytest

try:
    import torch

    torch.set_num_threads(os.cpu_count())
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
    for w in rows:
        mine, theirs = _medians[(w.id, "minidl")], _medians[(w.id, "torch")]
        verdict = "meets" if mine / theirs <= w.goal else "misses"
        terminalreporter.write_line(
            f"{w.id}  {w.title:58s} minidl {mine * 1e3:8.2f} ms  torch {theirs * 1e3:8.2f} ms  "
            f"ratio {mine / theirs:5.2f}  ({verdict} goal {w.goal})"
        )
