"""`minidl bench`: each library in its own process, a row per workload, the setup, the cold start."""
import os

import pytest

from minidl import benchmark
from minidl.cli import bench

TINY = [benchmark.Workload("T1", "a tiny workload", 1.0, None)]


def _fake_timer(calls):
    def time_one(workload_id, framework, min_time, kernels="compiled"):
        calls.append((workload_id, framework, kernels))
        return {"minidl": 0.002, "torch": 0.004}[framework] * (10 if kernels == "reference" else 1)

    return time_one


def test_report_alternates_the_libraries_and_quotes_medians(monkeypatch):
    monkeypatch.setattr(bench, "torch_available", lambda: True)
    calls, lines = [], []
    rows = bench.report(lines.append, workloads=TINY, pairs=3, time_one=_fake_timer(calls))
    assert calls == [("T1", "minidl", "compiled"), ("T1", "torch", "compiled")] * 3 + [("T1", "minidl", "reference")]
    assert rows == [{"id": "T1", "minidl_s": 0.002, "torch_s": 0.004, "ratio": 0.5, "reference_s": 0.02, "goal": 1.0}]
    assert any(line.startswith("T1 ") and " 0.50 " in line and "10.0x" in line for line in lines)
    assert any(line.startswith("cold start: import minidl") for line in lines)
    assert any(line.startswith("minidl ") and "NumPy" in line for line in lines)


def test_report_without_torch_leaves_the_torch_columns_empty(monkeypatch):
    monkeypatch.setattr(bench, "torch_available", lambda: False)
    calls, lines = [], []
    rows = bench.report(lines.append, workloads=TINY, pairs=2, time_one=_fake_timer(calls))
    assert rows[0]["torch_s"] is None and rows[0]["ratio"] is None and rows[0]["minidl_s"] == 0.002
    assert all(framework == "minidl" for _, framework, _ in calls)
    assert any("pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in line for line in lines)


def test_a_workload_with_a_memory_goal_gets_a_peak_memory_line(monkeypatch):
    monkeypatch.setattr(bench, "torch_available", lambda: True)
    monkeypatch.setattr(bench, "cold_start", lambda: (0.1, 0.5))
    asked, lines = [], []

    def peak_one(workload_id, framework):
        asked.append((workload_id, framework))
        return {"minidl": 300_000_000, "torch": 400_000_000}[framework]

    with_goal = [benchmark.Workload("T2", "a model", 1.0, None, memory_goal=1.0)]
    rows = bench.report(lines.append, workloads=TINY + with_goal, pairs=2, time_one=_fake_timer([]), peak_one=peak_one)
    assert asked == [("T2", "minidl"), ("T2", "torch")] * 2  # only the workload with a memory goal
    assert rows[1]["peak_ratio"] == 0.75 and "peak_ratio" not in rows[0]
    assert any(line.startswith("T2  peak memory") and "minidl 300 MB, PyTorch 400 MB, ratio 0.75" in line for line in lines)


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="resets the memory peak through /proc (Linux)")
def test_peak_memory_is_measured_in_a_process_of_its_own():
    peak = bench.peak_in_process("B8", "minidl")
    assert 0 < peak < 500_000_000  # the small CNN: its activations, gradients and a few libraries loaded


def test_a_workload_is_timed_in_a_process_of_its_own():
    assert 0 < bench.time_in_process("B2", "minidl", min_time=0.01) < 1.0


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads a process's CPU time from /proc (Linux)")
def test_pytest_benchmark_calls_a_step_that_runs_in_a_worker_process():
    with bench.StepInOwnProcess("B2", "minidl") as step:
        worker = step.process
        busy_before = _cpu_seconds(worker.pid)
        for _ in range(20):
            step()
        assert _cpu_seconds(worker.pid) > busy_before  # the work happened over there
        assert 0 < step.round_trip_seconds(rounds=5) < 0.05
    assert worker.returncode == 0


def test_a_worker_that_cannot_start_says_which_workload():
    with pytest.raises(RuntimeError, match=r"starting B99 \(minidl\) failed"):
        bench.StepInOwnProcess("B99", "minidl")


def _cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_pinned_openblas_is_named_with_the_command_that_unpins_it(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    assert any("OPENBLAS_CORETYPE=Haswell" in line and "env -u OPENBLAS_CORETYPE" in line for line in bench.setup_lines())
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    assert not any("OPENBLAS_CORETYPE" in line for line in bench.setup_lines())


def test_plot_draws_the_ratios_and_only_picks_workloads(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    from minidl import cli

    monkeypatch.setattr(bench, "time_in_process", _fake_timer([]))
    monkeypatch.setattr(bench, "torch_available", lambda: True)
    monkeypatch.setattr(bench, "cold_start", lambda: (0.1, 0.5))
    chart = tmp_path / "ratios.png"
    assert cli.main(["bench", "--only", "B2,B8", "--pairs", "1", "--plot", str(chart)]) == 0
    out = capsys.readouterr().out
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "B2 " in out and "B8 " in out and "B1 " not in out
    assert cli.main(["bench", "--only", "B9"]) == 2
    assert "unknown workload B9" in capsys.readouterr().err


def test_the_convolution_kernels_instruction_set_is_reported():
    direct_conv = pytest.importorskip("minidl.kernels._direct_conv")  # test_extensions_built fails CI without it
    instruction_set = direct_conv.instruction_set
    assert f"direct convolution micro-kernel: {instruction_set()}" in bench.setup_lines()


def test_the_openblas_idle_spin_is_reported(monkeypatch):
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "18")
    assert "OpenBLAS idle spin: 2^18 cycles (OPENBLAS_THREAD_TIMEOUT=18)" in bench.setup_lines()
    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT")
    assert any(line.startswith("OpenBLAS idle spin: its default") for line in bench.setup_lines())
