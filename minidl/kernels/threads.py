"""Run work over a batch on one thread, or in two halves on two threads.

`run_halves(n, part, macs)` calls part(lo, hi) for [0, n): either once on this thread, or
[n//2, n) on a worker thread while this thread does [0, n//2). `run_pair(part)` always runs
part(0) here and part(1) on the worker: the compiled one of csrc/handoff.pyx, which kernels
also hand their C halves to, or a Python thread pool where that is not built. `part` must write disjoint
slices of its outputs and release the GIL in its heavy calls (NumPy's matmul does, and so
do minidl's Cython kernels and its nogil Numba kernels).

The rule is by size. Handing half a batch to another thread costs tens of microseconds,
so two threads are used only when the call does at least SPLIT_AT_MACS multiply-adds;
the threshold and the table behind it are in docs/performance.md.
MINIDL_THREADS=1 keeps everything on one thread; MINIDL_THREADS=2 always splits.
"""
import os

SPLIT_AT_MACS = 1 << 21

_CORES = os.cpu_count() or 1  # read once: os.cpu_count() reads /sys on every call
_pool = None


def _forget_pool():
    global _pool
    _pool = None


# a forked child inherits the pool object but not its thread: it makes its own
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


# os.environ.get encodes the name and decodes the value on every call, about a microsecond,
# and every kernel launch asks (a small training step, dozens of times). On POSIX the bytes
# mapping behind os.environ is read instead: os.environ's setters keep it current.
_POSIX_ENVIRON = getattr(os.environ, "_data", None) if os.name == "posix" else None


def environment(name, name_bytes):
    """os.environ.get(name), fast where the platform allows; name_bytes is name encoded."""
    if type(_POSIX_ENVIRON) is dict:
        value = _POSIX_ENVIRON.get(name_bytes)
        return None if value is None else os.fsdecode(value)
    return os.environ.get(name)


def forced():
    """1 or 2 when MINIDL_THREADS sets the number of threads, else None."""
    value = environment("MINIDL_THREADS", b"MINIDL_THREADS")
    if value in (None, "", "auto"):
        return None
    if value not in ("1", "2"):
        raise ValueError(f"MINIDL_THREADS must be 1, 2 or auto; got {value!r}")
    return int(value)


def check_threads(kernel, threads):
    """A kernel's `threads` argument is 1 or 2."""
    if threads not in (1, 2):
        raise ValueError(f"{kernel}: threads must be 1 or 2, got {threads}")


def ways(n, macs, split_at=SPLIT_AT_MACS):
    """1 or 2: how many threads to use for n items and `macs` multiply-adds in all, two from
    `split_at` (run_halves uses the default)."""
    forced_ways = forced()
    if n < 2 or _CORES < 2 or forced_ways == 1:
        return 1
    if forced_ways == 2:
        return 2
    return 2 if macs >= split_at else 1


def _numpy_uses_openblas():
    import numpy as np

    try:
        return "openblas" in np.__config__.CONFIG["Build Dependencies"]["blas"]["name"].lower()
    except (AttributeError, KeyError, TypeError):
        return False


def blas_spin_is_short():
    """Whether NumPy's BLAS threads go to sleep soon after a call (OpenBLAS, with
    OPENBLAS_THREAD_TIMEOUT of at most 2^20 cycles, as minidl/blas_idle.py sets it): only
    then do two threads that wait for each other at every step get both cores after a GEMM."""
    value = os.environ.get("OPENBLAS_THREAD_TIMEOUT", "")
    return value.isdigit() and int(value) <= 20 and _numpy_uses_openblas()


def _worker():
    global _pool
    if _pool is None:
        from concurrent.futures import ThreadPoolExecutor

        _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="minidl-worker")
    return _pool


def run_pair_in_pool(part):
    """run_pair on a Python thread pool: where the compiled worker (csrc/handoff.pyx) is not built."""
    other = _worker().submit(part, 1)
    try:
        part(0)
    finally:
        other.result()  # waits even when this half failed: the worker must not outlive the call


def compiled_worker():
    """The compiled worker's module (csrc/handoff.pyx), or None where it is not built or has
    no thread (Windows)."""
    global _compiled_worker
    if _compiled_worker is False:
        try:
            from . import _handoff
        except ImportError:
            _handoff = None
        _compiled_worker = _handoff if _handoff is not None and _handoff.threaded() else None
    return _compiled_worker


_compiled_worker = False  # not looked for yet


def run_pair(part):
    """part(0) on this thread and part(1) on the worker, at the same time."""
    worker = compiled_worker()
    (worker.run_pair if worker is not None else run_pair_in_pool)(part)


def run_halves(n, part, macs):
    """part(lo, hi) over [0, n), on one thread or two (see the module docstring)."""
    if ways(n, macs) == 1:
        part(0, n)
        return
    half = n // 2
    run_pair(lambda index: part(0, half) if index == 0 else part(half, n))
