"""`minidl bench`: minidl against PyTorch on the workloads of `minidl.benchmark`, and the cold start."""
import subprocess
import sys

from ..benchmark import KERNEL_WORKLOADS, TRAINING_WORKLOADS, time_step, use_all_cores


def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def cold_start():
    """Seconds for `import minidl` and for the first LSTM forward+backward in a new process (warm cache)."""
    code_import = "import time; t = time.perf_counter(); import minidl; print(time.perf_counter() - t)"
    code_lstm = (
        "import time; t0 = time.perf_counter(); import minidl as md, minidl.functional as F\n"
        "x = md.randn(5, 2, 8); w = [md.randn(16, 8, requires_grad=True), md.randn(16, 4, requires_grad=True)]\n"
        "t = time.perf_counter(); F.lstm(x, None, *w)[0].sum().backward(); print(time.perf_counter() - t)"
    )
    run = lambda code: float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)  # noqa: E731
    run(code_lstm)  # fills the Numba cache if it is cold
    return run(code_import), run(code_lstm)


def report(out=print, workloads=None, min_time=0.5):
    """Print the comparison table; returns the rows."""
    from .. import kernels

    workloads = KERNEL_WORKLOADS + TRAINING_WORKLOADS if workloads is None else workloads
    have_torch = torch_available()
    if have_torch:
        import torch

        torch.manual_seed(0)
        use_all_cores(torch)
    rows = []
    out(f"{'id':3s}  {'work':58s} {'minidl ms':>10s} {'torch ms':>9s} {'ratio':>6s} {'goal':>5s} {'vs twin':>8s}")
    for w in workloads:
        mine = time_step(w.build("minidl"), min_time)
        with kernels.use("reference"):
            twin = time_step(w.build("minidl"), min_time, min_rounds=3, max_rounds=10)
        theirs = time_step(w.build("torch"), min_time) if have_torch else None
        ratio = f"{mine / theirs:6.2f}" if theirs else "     -"
        theirs_text = f"{theirs * 1e3:9.2f}" if theirs else "        -"
        out(f"{w.id:3s}  {w.title:58s} {mine * 1e3:10.2f} {theirs_text} {ratio} {w.goal:5.2f} {twin / mine:7.1f}x")
        rows.append({"id": w.id, "minidl_s": mine, "torch_s": theirs, "reference_s": twin, "goal": w.goal})
    if not have_torch:
        out("(PyTorch is not installed: `pip install torch==2.13.0` to fill the torch and ratio columns)")
    imported, first_lstm = cold_start()
    out(f"cold start: import minidl {imported:.3f} s; first LSTM forward+backward with a warm Numba cache {first_lstm:.3f} s")
    out("'vs twin': speed-up of the default kernels over MINIDL_KERNELS=reference on the same workload")
    return rows
