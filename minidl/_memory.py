"""Keep freed memory for reuse instead of handing it back to the OS.

Convolution and recurrent layers allocate large temporaries (im2col columns,
per-step gates) on every call. By default glibc serves blocks over 128 KiB to
32 MiB with fresh mmap pages, which the kernel must zero on first touch: on
this project's 2-core reference machine that was 11 of the 25 ms of a conv2d
forward+backward (benchmark B1). Raising the mmap and trim thresholds makes
glibc recycle those blocks from the heap, as a caching allocator would; the
cost is that the process keeps its peak heap size.

Applied once at `import minidl`, on glibc only; `MINIDL_MALLOC_TUNING=0` opts out.
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
