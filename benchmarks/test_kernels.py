"""B1-B5, B4g and C1-C5: compiled kernels against PyTorch on the same work (float32). Run with
`pytest --benchmark-only` (plain `pytest` skips them); the ratios print at the end."""
import pytest

from minidl.benchmark import KERNEL_WORKLOADS

from benchmarks.own_process import time_in_own_process


@pytest.mark.parametrize("framework", ["minidl", "torch"])
@pytest.mark.parametrize("workload", KERNEL_WORKLOADS, ids=[w.id for w in KERNEL_WORKLOADS])
def test_kernel_workload(benchmark, workload, framework):
    time_in_own_process(benchmark, workload, framework)
