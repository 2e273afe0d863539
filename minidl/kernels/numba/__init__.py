"""Numba kernels. Each module compiles on first import (lazily, via minidl.kernels.get) with cache=True."""
