"""`minidl bench`: minidl against PyTorch on the workloads of `minidl.benchmark`, and the cold start.

Each library is timed in a process of its own, the two alternating, and the table quotes
medians over the pairs: in one process, each framework's spinning BLAS/OpenMP threads
slow the other, and the ratios would move with the order of the cases.
"""
import os
import statistics
import subprocess
import sys
import time

from ..benchmark import KERNEL_WORKLOADS, TRAINING_WORKLOADS


TORCH_HINT = ("pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu "
              "(the CPU build of the version the goals were set against)")


def add_arguments(parser):
    from .arguments import positive_float, positive_int

    parser.add_argument("--pairs", type=positive_int, default=3, help="alternating minidl/PyTorch process pairs per workload")
    parser.add_argument("--min-time", type=positive_float, default=0.5, help="seconds each process times its workload")
    parser.add_argument("--only", help="comma-separated workload ids, e.g. B1,B4")
    parser.add_argument("--plot", metavar="FILE.png", help="also draw the ratios as a bar chart (needs matplotlib)")


def run(args):
    from . import UsageError

    workloads = KERNEL_WORKLOADS + TRAINING_WORKLOADS
    if args.only:
        wanted = [w.strip() for w in args.only.split(",")]
        unknown = sorted(set(wanted) - {w.id for w in workloads})
        if unknown:
            raise UsageError(f"--only: unknown workload {', '.join(unknown)}; known: {', '.join(w.id for w in workloads)}")
        workloads = [w for w in workloads if w.id in wanted]
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError("--plot needs matplotlib: pip install 'minidl[plot]'") from None
    rows = report(workloads=workloads, min_time=args.min_time, pairs=args.pairs)
    if args.plot:
        plot(rows, args.plot)
        print(f"bar chart written to {args.plot}")
    return 0


def plot(rows, path):
    """The ratios as bars, each with its goal; needs PyTorch's times."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [r for r in rows if r["ratio"]]
    fig, ax = plt.subplots(figsize=(1 + 0.8 * max(len(measured), 1), 4))
    ids = [r["id"] for r in measured]
    colours = ["tab:green" if r["ratio"] <= r["goal"] else "tab:red" for r in measured]
    ax.bar(ids, [r["ratio"] for r in measured], color=colours)
    ax.scatter(ids, [r["goal"] for r in measured], marker="_", s=600, color="black", label="goal", zorder=3)
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set(ylabel="minidl time / PyTorch time", title="minidl against PyTorch (lower is faster)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def time_in_process(workload_id, framework, min_time=0.5, kernels="compiled"):
    """Median seconds of one workload's step, timed in a new process."""
    return float(_worker_answer(["timing", workload_id, framework, str(min_time), kernels]))


def _worker_answer(arguments):
    """The last word a worker (`python -m minidl.cli.bench MODE ...`, run below) prints."""
    done = subprocess.run([sys.executable, "-m", "minidl.cli.bench", *arguments], capture_output=True, text=True)
    if done.returncode != 0:
        mode, workload_id, framework = arguments[:3]
        raise RuntimeError(f"minidl bench: {mode} {workload_id} ({framework}) failed: {done.stderr.strip()[-500:]}")
    return done.stdout.split()[-1]


MEMORY_STEPS = 4


def peak_in_process(workload_id, framework):
    """Peak resident memory (bytes) of MEMORY_STEPS steps of one workload, above what its
    process held once the model was built (Linux's VmHWM, reset after the build), measured
    in a new process; None where /proc cannot reset the peak."""
    answer = _worker_answer(["memory", workload_id, framework])
    return None if answer == "unmeasured" else int(answer)


def _status_bytes(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def _peak_here(workload_id, framework):
    """The worker of peak_in_process."""
    step = _build_here(workload_id, framework)
    try:
        held = _status_bytes("VmRSS")
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # resets VmHWM to the current resident size
    except OSError:
        print("unmeasured")
        return
    for _ in range(MEMORY_STEPS):
        step()
    print(_status_bytes("VmHWM") - held)


def _build_here(workload_id, framework):
    """One workload's step, set up as `minidl train` and a PyTorch user would run it."""
    from ..benchmark import use_all_cores
    from ..memory import keep_freed_memory

    keep_freed_memory()  # as `minidl train` runs
    if framework == "torch":
        import torch

        torch.manual_seed(0)
        use_all_cores(torch)
    return {w.id: w for w in KERNEL_WORKLOADS + TRAINING_WORKLOADS}[workload_id].build(framework)


def _time_here(workload_id, framework, min_time, kernels_name):
    """The worker: build one workload and print the median seconds of its step."""
    from .. import kernels
    from ..benchmark import time_step

    with kernels.use(kernels_name):
        step = _build_here(workload_id, framework)
        quick = kernels_name == "reference"  # the twins are slow: a few rounds tell the speed-up
        print(time_step(step, min_time, min_rounds=3 if quick else 5, max_rounds=10 if quick else 200))


class StepInOwnProcess:
    """One workload's step, run in a process of its own and called from this one.

    For pytest-benchmark, which times a callable in the calling process: each call
    sends one line down a pipe and waits for the worker's reply, so the library being
    timed is the only one in its process. The round trip (`round_trip_seconds`) is
    part of every timing, for both libraries alike.
    """

    def __init__(self, workload_id, framework, kernels="compiled"):
        command = [sys.executable, "-m", "minidl.cli.bench", "serve", workload_id, framework, kernels]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self._expect("ready", f"starting {workload_id} ({framework})")

    def _expect(self, word, doing):
        reply = self.process.stdout.readline().strip()
        if reply != word:
            self.close()
            raise RuntimeError(f"minidl bench: {doing} failed in the worker process (it answered {reply!r})")

    def _ask(self, command):
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        self._expect("done", command)

    def __call__(self):
        self._ask("step")

    def round_trip_seconds(self, rounds=200):
        """Median seconds of a call that runs no step: the pipe's share of each timing."""
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            self._ask("ping")
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=60)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _serve(workload_id, framework, kernels_name):
    """The worker of StepInOwnProcess: build the step, then run it once per "step" line read."""
    from .. import kernels

    with kernels.use(kernels_name):
        step = _build_here(workload_id, framework)
        step()  # the first call compiles or loads the kernels
        print("ready", flush=True)
        for line in sys.stdin:
            if line.strip() == "step":
                step()
            print("done", flush=True)


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


def setup_lines():
    """What was measured: versions, the BLAS NumPy runs (via threadpoolctl when installed), the
    instruction set of minidl's own convolution kernel, a pinned BLAS."""
    import numpy as np

    from .. import __version__

    lines = [f"minidl {__version__}, NumPy {np.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} cores"]
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            if pool.get("user_api") == "blas":
                lines.append(f"BLAS: {pool.get('internal_api')} {pool.get('version')}, kernel {pool.get('architecture')}, "
                             f"{pool.get('num_threads')} threads")
    except ImportError:
        lines.append("BLAS: `pip install threadpoolctl` to show which BLAS and kernel NumPy runs")
    if torch_available():
        import torch

        lines.append(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    spin = os.environ.get("OPENBLAS_THREAD_TIMEOUT")  # minidl/blas_idle.py sets it before NumPy loads
    lines.append(f"OpenBLAS idle spin: 2^{spin} cycles (OPENBLAS_THREAD_TIMEOUT={spin})" if spin
                 else "OpenBLAS idle spin: its default (NumPy was loaded before minidl could set it)")
    try:
        from ..kernels._direct_conv import instruction_set

        lines.append(f"direct convolution micro-kernel: {instruction_set()}")
    except ImportError:
        lines.append("direct convolution micro-kernel: not built (the NumPy twin runs)")
    pinned = os.environ.get("OPENBLAS_CORETYPE")
    if pinned:
        lines.append(f"warning: OPENBLAS_CORETYPE={pinned} pins NumPy's OpenBLAS to that kernel; on a newer CPU "
                     "its GEMMs can run at half speed. For numbers a user would see: "
                     "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE minidl bench")
    return lines


def memory_rows(out, workloads, pairs, have_torch, peak_one, rows):
    """A line per workload with a memory goal: peak memory above the built model, each library
    in its own process, alternating; the medians go into that workload's row."""
    for w in workloads:
        mine, theirs = [], []
        for _ in range(pairs):
            mine.append(peak_one(w.id, "minidl"))
            if have_torch:
                theirs.append(peak_one(w.id, "torch"))
        if None in mine + theirs:
            out(f"{w.id}  peak memory: not measured (needs Linux's /proc/self/clear_refs)")
            continue
        row = next(r for r in rows if r["id"] == w.id)
        row["minidl_peak"] = statistics.median(mine)
        text = f"{w.id}  peak memory above the built model over {MEMORY_STEPS} steps: minidl {row['minidl_peak'] / 1e6:.0f} MB"
        if theirs:
            row["torch_peak"] = statistics.median(theirs)
            row["peak_ratio"] = statistics.median(a / b for a, b in zip(mine, theirs))
            text += f", PyTorch {row['torch_peak'] / 1e6:.0f} MB, ratio {row['peak_ratio']:.2f} (goal {w.memory_goal:.2f})"
        out(text)


def report(out=print, workloads=None, min_time=0.5, pairs=3, time_one=None, peak_one=None):
    """Print the comparison table; returns the rows (medians over `pairs` alternating runs)."""
    time_one = time_one or time_in_process
    peak_one = peak_one or peak_in_process
    workloads = KERNEL_WORKLOADS + TRAINING_WORKLOADS if workloads is None else workloads
    have_torch = torch_available()
    for line in setup_lines():
        out(line)
    rows = []
    width = max(len(w.title) for w in workloads)
    out(f"{'id':3s}  {'work':{width}s} {'minidl ms':>10s} {'torch ms':>9s} {'ratio':>6s} {'goal':>5s} {'vs twin':>8s}")
    for w in workloads:
        mine, theirs = [], []
        for _ in range(pairs):
            mine.append(time_one(w.id, "minidl", min_time))
            if have_torch:
                theirs.append(time_one(w.id, "torch", min_time))
        twin = time_one(w.id, "minidl", min_time, kernels="reference")
        mine_s = statistics.median(mine)
        theirs_s = statistics.median(theirs) if theirs else None
        ratio = statistics.median(a / b for a, b in zip(mine, theirs)) if theirs else None
        ratio_text = f"{ratio:6.2f}" if ratio else "     -"
        theirs_text = f"{theirs_s * 1e3:9.2f}" if theirs_s else "        -"
        out(f"{w.id:3s}  {w.title:{width}s} {mine_s * 1e3:10.2f} {theirs_text} {ratio_text} {w.goal:5.2f} {twin / mine_s:7.1f}x")
        rows.append({"id": w.id, "minidl_s": mine_s, "torch_s": theirs_s, "ratio": ratio, "reference_s": twin,
                     "goal": w.goal})
    memory_rows(out, [w for w in workloads if w.memory_goal is not None], pairs, have_torch, peak_one, rows)
    if not have_torch:
        out(f"(PyTorch is not installed: {TORCH_HINT} fills the torch and ratio columns)")
    imported, first_lstm = cold_start()
    out(f"cold start: import minidl {imported:.3f} s; first LSTM forward+backward with a warm Numba cache {first_lstm:.3f} s")
    out(f"each library in its own process, alternating, median of {pairs} pairs; "
        "'vs twin': speed-up of the default kernels over MINIDL_KERNELS=reference")
    return rows


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        _serve(*sys.argv[2:5])
    elif sys.argv[1] == "memory":
        _peak_here(*sys.argv[2:4])
    elif sys.argv[1] == "timing":
        _time_here(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5])
