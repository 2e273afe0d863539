"""B6-B8: one full training step (forward, loss, backward, optimizer) in minidl and PyTorch, float32."""
import pytest

from minidl.benchmark import TRAINING_WORKLOADS


@pytest.mark.parametrize("framework", ["minidl", "torch"])
@pytest.mark.parametrize("workload", TRAINING_WORKLOADS, ids=[w.id for w in TRAINING_WORKLOADS])
def test_training_step(benchmark, record_median, workload, framework):
    if framework == "torch":
        pytest.importorskip("torch")
    benchmark.group = f"{workload.id} {workload.title}"
    benchmark(workload.build(framework))
    record_median(workload, framework, benchmark)
