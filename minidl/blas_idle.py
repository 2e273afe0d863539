"""How long NumPy's OpenBLAS threads keep spinning after a call before they sleep.

After each threaded call, OpenBLAS's worker threads busy-wait for new work (2^28 CPU
cycles by default, a good fraction of a second) before they block. On a 2-core machine a
spinning worker holds the second core, so minidl's own second thread (the Winograd
transforms, cross-entropy rows, attention halves: passes between GEMMs) ran no faster than
one. 2^18 cycles, well under a millisecond, keeps the workers awake across a recurrent
layer's back-to-back per-step GEMMs and lets them sleep during those passes.

OpenBLAS reads OPENBLAS_THREAD_TIMEOUT once, when it loads, so this runs before minidl
imports NumPy. It changes nothing when NumPy was imported first, or when the variable is
already set (set it yourself to choose another value). docs/performance.md has the numbers.
"""
import os
import sys

SPIN_EXPONENT = "18"  # OpenBLAS spins for 2**SPIN_EXPONENT cycles


def shorten_openblas_spin():
    """Set OPENBLAS_THREAD_TIMEOUT for the OpenBLAS that NumPy is about to load; True if it was set."""
    if "numpy" in sys.modules or "OPENBLAS_THREAD_TIMEOUT" in os.environ:
        return False
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = SPIN_EXPONENT
    return True

