"""B6-B8, R18 and L1: one full training step (forward, loss, backward, optimizer) in minidl and PyTorch, float32."""
import pytest

from minidl.benchmark import TRAINING_WORKLOADS

from benchmarks.own_process import time_in_own_process


@pytest.mark.parametrize("framework", ["minidl", "torch"])
@pytest.mark.parametrize("workload", TRAINING_WORKLOADS, ids=[w.id for w in TRAINING_WORKLOADS])
def test_training_step(benchmark, workload, framework):
    time_in_own_process(benchmark, workload, framework)
