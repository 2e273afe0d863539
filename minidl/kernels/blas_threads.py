"""A stack of same-shaped GEMMs split over minidl's two threads, the BLAS on one thread in each.

NumPy's matmul over a stack, `np.matmul(a, b)` with a and b (S, ., .), calls the BLAS once
per product, and the BLAS splits each product over its own threads. For mid-sized products
(Winograd's 16 per pass, 64 to 512 channels) two minidl threads that each multiply half
the stack, the BLAS running single-threaded in both, are faster and steadier: no hand-off
inside each product and no idle worker between them (docs/performance.md has the table).

The BLAS's thread count is a process-wide setting, lowered to one for the call and put
back after. threadpoolctl finds the BLAS that NumPy loaded and sets it; without
threadpoolctl, or when NumPy's OpenBLAS spins long after a call (NumPy imported before
minidl, see minidl/blas_idle.py: its spinning worker would hold the core the second half
needs), the stack runs as one matmul. MINIDL_THREADS=1 keeps it on one thread too.
"""
import numpy as np

from .threads import blas_spin_is_short, run_pair, ways

_UNSET = object()
_blas = _UNSET  # threadpoolctl's controller of NumPy's BLAS, or None


def _numpy_blas():
    global _blas
    if _blas is _UNSET:
        _blas = None
        if blas_spin_is_short():
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError:
                return None
            found = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
            if len(found) > 1:  # another library's BLAS beside NumPy's: take NumPy's
                found = [c for c in found if "numpy" in c.filepath]
            _blas = found[0] if len(found) == 1 else None
    return _blas


def stacked_matmul(a, b, out):
    """out[i] = a[i] @ b[i] for every i, as np.matmul(a, b, out=out); each half of the stack
    on its own thread when that pays (minidl.kernels.threads.ways).
    Shape: a (S, M, K), b (S, K, N), out (S, M, N) -> out."""
    s, m, k = a.shape
    blas = _numpy_blas() if ways(s, s * m * k * b.shape[2]) == 2 else None
    if blas is None:
        return np.matmul(a, b, out=out)
    half = s // 2
    before = blas.get_num_threads()
    blas.set_num_threads(1)
    try:
        run_pair(lambda i: np.matmul(a[:half], b[:half], out=out[:half]) if i == 0
                 else np.matmul(a[half:], b[half:], out=out[half:]))
    finally:
        blas.set_num_threads(before)
    return out
