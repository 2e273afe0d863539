"""`minidl bench`: a row per workload, the cold start, and a clear note without PyTorch."""
from minidl import benchmark
from minidl.cli import bench


def _tiny_pool(framework):
    leaves = benchmark._leaves(framework, benchmark._data(0, (1, 1, 4, 4)))
    pool = benchmark.F.max_pool2d if framework == "minidl" else benchmark._torch_f().max_pool2d
    return benchmark._step(framework, leaves, lambda x: pool(x, 2))


TINY = [benchmark.Workload("T1", "max_pool2d on a tiny input", 1.0, _tiny_pool)]


def test_report_prints_a_row_per_workload_and_the_cold_start(monkeypatch):
    lines = []
    rows = bench.report(lines.append, workloads=TINY, min_time=0.01)
    assert rows[0]["id"] == "T1" and rows[0]["minidl_s"] > 0
    assert any(line.startswith("T1 ") for line in lines)
    assert any(line.startswith("cold start: import minidl") for line in lines)


def test_report_without_torch_leaves_the_torch_columns_empty(monkeypatch):
    monkeypatch.setattr(bench, "torch_available", lambda: False)
    lines = []
    rows = bench.report(lines.append, workloads=TINY, min_time=0.01)
    assert rows[0]["torch_s"] is None and rows[0]["minidl_s"] > 0
    assert any("PyTorch is not installed" in line for line in lines)
