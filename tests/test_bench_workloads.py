"""The benchmark workloads compute the same thing in minidl and PyTorch (else the ratios mean nothing)."""
import numpy as np
import pytest

from minidl import bench


@pytest.mark.parametrize("workload", bench.KERNEL_WORKLOADS, ids=[w.id for w in bench.KERNEL_WORKLOADS])
def test_minidl_and_torch_steps_agree(workload, torch_oracle):
    mine, theirs = workload.build("minidl")(), workload.build("torch")()
    assert len(mine) == len(theirs)
    for i, (a, b) in enumerate(zip(mine, theirs)):
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4 * scale, err_msg=f"{workload.id} array {i}")


@pytest.mark.parametrize("workload", bench.TRAINING_WORKLOADS, ids=[w.id for w in bench.TRAINING_WORKLOADS])
def test_training_steps_agree_for_three_steps(workload, torch_oracle):
    mine, theirs = workload.build("minidl"), workload.build("torch")
    for _ in range(3):  # the same weights before and after each optimizer step
        a_all, b_all = mine(), theirs()
        for i, (a, b) in enumerate(zip(a_all, b_all)):
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4, err_msg=f"{workload.id} array {i}")


def test_report_prints_a_row_per_workload_and_the_cold_start(monkeypatch):
    lines = []
    tiny = [bench.Workload("T1", "max_pool2d on a tiny input", 1.0, lambda fw: _tiny_pool(fw))]
    rows = bench.report(lines.append, workloads=tiny, min_time=0.01)
    assert rows[0]["id"] == "T1" and rows[0]["minidl_s"] > 0
    assert any(line.startswith("T1 ") for line in lines)
    assert any(line.startswith("cold start: import minidl") for line in lines)


def _tiny_pool(framework):
    leaves = bench._leaves(framework, bench._data(0, (1, 1, 4, 4)))
    pool = bench.F.max_pool2d if framework == "minidl" else bench._torch_f().max_pool2d
    return bench._step(framework, leaves, lambda x: pool(x, 2))


def test_report_names_the_two_thread_choices(monkeypatch):
    from minidl.kernels import threads

    monkeypatch.setattr(threads, "_chosen", {("attention_forward", (16, 4, 64, 16)): 2})
    lines = []
    tiny = [bench.Workload("T1", "max_pool2d on a tiny input", 1.0, lambda fw: _tiny_pool(fw))]
    bench.report(lines.append, workloads=tiny, min_time=0.01)
    assert "threads: attention_forward (16, 4, 64, 16) -> 2 (measured at this call site; see minidl/kernels/threads.py)" in lines


def test_report_prints_the_blas_floor_of_a_workload_that_has_one(monkeypatch, torch_oracle):
    from minidl import bench_floor

    calls = []
    monkeypatch.setattr(bench_floor, "FLOORS", {"T1": lambda: (lambda: calls.append(1), 0)})
    lines = []
    tiny = [bench.Workload("T1", "max_pool2d on a tiny input", 1.0, lambda fw: _tiny_pool(fw))]
    bench.report(lines.append, workloads=tiny, min_time=0.01)
    floor = [line for line in lines if line.startswith("floor: T1's GEMMs alone")]
    assert len(floor) == 1 and "x PyTorch's whole op (goal 1.0" in floor[0] and calls


def test_report_without_torch_leaves_the_torch_columns_empty(monkeypatch):
    monkeypatch.setattr(bench, "torch_available", lambda: False)
    lines = []
    tiny = [bench.Workload("T1", "max_pool2d on a tiny input", 1.0, lambda fw: _tiny_pool(fw))]
    rows = bench.report(lines.append, workloads=tiny, min_time=0.01)
    assert rows[0]["torch_s"] is None and rows[0]["minidl_s"] > 0
    assert any("PyTorch is not installed" in line for line in lines)
    assert not any(line.startswith("floor:") for line in lines)
