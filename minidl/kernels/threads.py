"""Run work over a batch on one thread or on two, whichever measured faster for that work.

`run_halves(key, n, part)` calls part(lo, hi) for [0, n): either once on this thread, or
[n//2, n) on a worker thread while this thread does [0, n//2). `part` must write disjoint
slices of its outputs and release the GIL in its heavy calls (NumPy's matmul does, and
so do minidl's nogil Numba kernels).

Why measure instead of always splitting: on this project's 2-core machine the second
core is only free when no GEMM ran just before. After a NumPy matmul, OpenBLAS's worker
thread spin-waits for more work for a while, and a thread of ours on that core fights it:
causal attention split in two ran 1.9x faster alone (benchmark B5), but after a projection
GEMM (as in every transformer layer) 1.3x slower in one measurement, 2-5 % in another. OpenBLAS reads its spin time only
from the environment when NumPy loads it, so minidl cannot shorten it. The cost depends on
where the call sits in a model, so each `key` (one call site and shape) is timed both ways
over its first calls, then keeps the faster: the way a planner such as FFTW's, or cuDNN's
benchmark mode, picks an algorithm. The first choice is provisional: after RECHECK_AFTER
calls the key is timed once more and that choice stays. A start can be untypical (in
`minidl bench`, B5's first calls came right after another workload's GEMMs and one thread
was kept, 1.6 ms instead of 1.0 for the rest of the run).

MINIDL_THREADS=1 keeps everything on one thread; MINIDL_THREADS=2 always splits.
"""
import os
import time

TRIALS = 5  # timed calls of each way, after one untimed warm-up call each
MARGIN = 0.9  # two threads are kept only when clearly faster: this machine is shared and noisy
RECHECK_AFTER = 100  # calls on the first choice before the key is timed once more, for good
_ONE, _TWO = 1, 2

_CORES = os.cpu_count() or 1  # os.cpu_count() reads /sys on every call: 17 us here
_pool = None
_timings = {}  # key -> {ways: [seconds, ...]}
_chosen = {}  # key -> _ONE or _TWO
_uses = {}  # key -> calls made on its provisional (first) choice
_settled = set()  # keys measured the second time: their choice stays


def _forget_pool():
    global _pool
    _pool = None


# a forked child inherits the pool object but not its thread: it makes its own
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _forced():
    value = os.environ.get("MINIDL_THREADS")
    if value in (None, "", "auto"):
        return None
    if value not in ("1", "2"):
        raise ValueError(f"MINIDL_THREADS must be 1, 2 or auto; got {value!r}")
    return int(value)


def _worker():
    global _pool
    if _pool is None:
        from concurrent.futures import ThreadPoolExecutor

        _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="minidl-worker")
    return _pool


def _run(ways, n, part):
    if ways == _ONE:
        part(0, n)
        return
    half = n // 2
    other = _worker().submit(part, half, n)
    try:
        part(0, half)
    finally:
        other.result()  # waits even when this half failed: the worker must not outlive the call


def run_halves(key, n, part):
    """part(lo, hi) over [0, n), on one thread or two (see the module docstring)."""
    forced = _forced()
    if n < 2 or _CORES < 2 or forced == 1:
        part(0, n)
        return
    if forced == 2:
        _run(_TWO, n, part)
        return
    ways = _chosen.get(key)
    if ways is not None:
        if key not in _settled:
            uses = _uses.get(key, 0) + 1
            _uses[key] = uses
            if uses >= RECHECK_AFTER:  # this call still runs the first choice; the next ones re-measure
                _settled.add(key)
                _uses.pop(key, None)
                _chosen.pop(key, None)
        _run(ways, n, part)
        return
    times = _timings.setdefault(key, {_ONE: [], _TWO: []})
    ways = _ONE if len(times[_ONE]) <= len(times[_TWO]) else _TWO
    start = time.perf_counter()
    _run(ways, n, part)
    times[ways].append(time.perf_counter() - start)
    if len(times[_TWO]) > TRIALS:
        best = {w: min(ts[1:]) for w, ts in times.items()}  # the first call of each way warms up
        _chosen[key] = _TWO if best[_TWO] < MARGIN * best[_ONE] else _ONE
        _timings.pop(key, None)  # pop: two user threads may finish the same key's trials at once


def chosen(key):
    """1 or 2 while `key` has a choice (after its first or second measurement), else None."""
    return _chosen.get(key)


def settled(key):
    """True once `key` has been measured the second time (its choice no longer changes)."""
    return key in _settled and key in _chosen


def choices():
    """{key: 1 or 2} for every key measured so far (`minidl bench` prints them)."""
    return dict(_chosen)
