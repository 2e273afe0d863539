"""Each library's step in a process of its own, timed by pytest-benchmark from the pytest process.

With both libraries in the pytest process, each one's spinning BLAS/OpenMP threads would
slow the other, and the ratios would move with the order of the cases. The timed callable
sends one line to a worker that runs the step (minidl.cli.bench.StepInOwnProcess); the
worker sets PyTorch's threads as `minidl bench` does.
"""
import importlib.util

import pytest

from minidl.cli.bench import StepInOwnProcess

_medians = {}  # (workload id, framework) -> seconds
_workloads = {}
_round_trips = []


def time_in_own_process(benchmark, workload, framework):
    """pytest-benchmark's timing of one workload's step, run in a worker process."""
    if framework == "torch" and importlib.util.find_spec("torch") is None:
        pytest.skip("PyTorch is not installed")
    benchmark.group = f"{workload.id} {workload.title}"
    with StepInOwnProcess(workload.id, framework) as step:
        benchmark(step)
        if benchmark.stats is not None:  # None when benchmarks are disabled
            _medians[(workload.id, framework)] = benchmark.stats.stats.median
            _workloads[workload.id] = workload
            _round_trips.append(step.round_trip_seconds())
