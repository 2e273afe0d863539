"""B1-B5: compiled kernels against PyTorch on the same work (float32). Run with
`pytest --benchmark-only` (plain `pytest` skips them); the ratios print at the end."""
import pytest

from minidl.benchmark import KERNEL_WORKLOADS


@pytest.mark.parametrize("framework", ["minidl", "torch"])
@pytest.mark.parametrize("workload", KERNEL_WORKLOADS, ids=[w.id for w in KERNEL_WORKLOADS])
def test_kernel_workload(benchmark, record_median, workload, framework):
    if framework == "torch":
        pytest.importorskip("torch")
    benchmark.group = f"{workload.id} {workload.title}"
    step = workload.build(framework)
    benchmark(step)
    record_median(workload, framework, benchmark)
