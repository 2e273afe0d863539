"""`md.keep_freed_memory()`: an opt-in allocator setting for processes that train.

Convolution and recurrent layers allocate large temporaries (im2col columns, per-step
gates) on every call. By default glibc serves blocks over 128 KiB to 32 MiB with fresh
mmap pages, which the kernel must zero on first touch, on every call. Raising glibc's
mmap and trim thresholds makes it recycle those blocks from the heap instead, as a
caching allocator would; the cost is that the process keeps its peak heap size.

It changes the whole process, so `import minidl` never does it: `minidl train` and
`minidl bench` call it, and so may a user's training script. On glibc only (elsewhere it
does nothing); MINIDL_MALLOC_TUNING=0 turns it off. docs/performance.md has the numbers.
"""
import ctypes
import os

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_THRESHOLD = 256 * 1024 * 1024  # blocks under 256 MiB come from (and return to) the heap


def keep_freed_memory() -> bool:
    """Tune glibc's malloc as described above; True when it took effect."""
    if os.environ.get("MINIDL_MALLOC_TUNING", "1") == "0":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): leave the allocator alone
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, 2 * _THRESHOLD))
