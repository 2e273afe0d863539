"""`md.profiler.profile()`: where the time goes, per primitive and per kernel.

    with md.profiler.profile() as prof:
        loss = F.cross_entropy(model(x), y)
        loss.backward()
    print(prof.table(sort_by="self_time"))

One row per primitive and pass (forward, backward) and one per kernel: calls, self time,
share of the total, and for forward rows the MACs and FLOPs (the same rules as
`md.summary`) with the achieved GFLOP/s. Kernel rows overlap the primitive rows that call
them (a kernel runs inside a primitive), so shares are of the primitives' total. The
anchor is `torch.profiler`'s `key_averages().table()`. Off, it costs nothing: primitives
check one empty list, and kernels are timed only while a profiler swaps in wrappers.
"""
import time
from dataclasses import dataclass

from .autograd import function as _function


@dataclass
class Row:
    name: str
    phase: str  # "forward", "backward" or "kernel"
    calls: int = 0
    seconds: float = 0.0
    macs: int = 0
    flops: int = 0


class profile:
    """Context manager that times every primitive (forward and backward) and kernel run inside it."""

    def __init__(self):
        self.rows = {}

    def __enter__(self):
        self._time_kernels()
        _function._profilers.append(self)
        return self

    def __exit__(self, *exc):
        _function._profilers.remove(self)
        self._restore_kernels()
        return False

    # called by Function.apply and the engine while active
    def record(self, ctx, phase, seconds, out=None, arrays=None):
        row = self._row(type(ctx).__name__, phase)
        row.calls += 1
        row.seconds += seconds
        if phase == "forward":
            row.macs += int(ctx.macs(out, *arrays))
            row.flops += int(ctx.flops(out, *arrays))

    def _row(self, name, phase):
        key = (name, phase)
        if key not in self.rows:
            self.rows[key] = Row(name, phase)
        return self.rows[key]

    def _time_kernels(self):
        from . import kernels

        self._saved_kernels = {}
        for name in kernels.NAMES:
            fn = kernels.resolve(name)  # loaded now: a stand-in would replace the wrapper on its first call
            self._saved_kernels[name] = fn
            setattr(kernels, name, self._timed_kernel(name, fn))

    def _timed_kernel(self, name, fn):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                row = self._row(name, "kernel")
                row.calls += 1
                row.seconds += time.perf_counter() - start

        return timed

    def _restore_kernels(self):
        from . import kernels

        for name, fn in self._saved_kernels.items():
            setattr(kernels, name, fn)

    # ------------------------------------------------------------ results
    def total_seconds(self):
        """Time in primitives (forward and backward); kernels run inside them."""
        return sum(r.seconds for r in self.rows.values() if r.phase != "kernel")

    def table(self, sort_by="self_time", row_limit=None):
        """The rows as text, like torch.profiler's key_averages().table()."""
        keys = {"self_time": lambda r: -r.seconds, "calls": lambda r: -r.calls, "name": lambda r: (r.name, r.phase),
                "macs": lambda r: -r.macs}
        if sort_by not in keys:
            raise ValueError(f"profile.table: sort_by must be one of {sorted(keys)}; got {sort_by!r}")
        rows = sorted(self.rows.values(), key=keys[sort_by])[:row_limit]
        total = self.total_seconds() or 1.0
        header = f"{'Name':30s} {'Pass':9s} {'Calls':>7s} {'Self ms':>10s} {'Share':>7s} {'MACs':>15s} {'GFLOP/s':>8s}"
        lines = [header, "-" * len(header)]
        for r in rows:
            rate = f"{r.flops / r.seconds / 1e9:8.1f}" if r.flops and r.seconds else f"{'-':>8s}"
            macs = f"{r.macs:>15,}" if r.phase == "forward" else f"{'-':>15s}"
            lines.append(f"{r.name[:30]:30s} {r.phase:9s} {r.calls:>7d} {r.seconds * 1e3:>10.3f} "
                         f"{r.seconds / total:>7.1%} {macs} {rate}")
        lines.append(f"primitives' total {total * 1e3:.3f} ms; kernel rows run inside the primitives' time")
        return "\n".join(lines)
