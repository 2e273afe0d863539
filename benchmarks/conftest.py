"""Print the minidl/PyTorch ratios of the run's benchmarks at its end (see own_process.py for how they are timed)."""
from benchmarks.own_process import _medians, _round_trips, _workloads


def pytest_terminal_summary(terminalreporter):
    rows = [w for w in _workloads.values() if (w.id, "minidl") in _medians and (w.id, "torch") in _medians]
    if not rows:
        return
    terminalreporter.section("minidl / PyTorch (median times, same work, each library in its own process)")
    for w in rows:
        mine, theirs = _medians[(w.id, "minidl")], _medians[(w.id, "torch")]
        verdict = "meets" if mine / theirs <= w.goal else "misses"
        terminalreporter.write_line(
            f"{w.id}  {w.title:58s} minidl {mine * 1e3:8.2f} ms  torch {theirs * 1e3:8.2f} ms  "
            f"ratio {mine / theirs:5.2f}  ({verdict} goal {w.goal})"
        )
    round_trip = sorted(_round_trips)[len(_round_trips) // 2]
    terminalreporter.write_line(f"each time includes the pipe's round trip to the worker, {round_trip * 1e6:.0f} us (median)")
