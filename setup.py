"""Build the Cython kernels in csrc/ (setuptools reads the rest from pyproject.toml).

Every extension is optional at build time: without a C compiler the package
still installs and minidl falls back to its Numba/NumPy kernels with a warning.
The test suite (tests/kernels/test_extensions_built.py) fails when an extension
is missing, so CI cannot pass on a build that silently skipped them.
"""
import os
import sys

import numpy as np
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

CYTHON_EXTENSIONS = ["im2col", "pool", "winograd", "direct_conv", "implicit_conv", "recurrent_steps", "small_matmul", "relu", "batch_norm", "optim", "cross_entropy", "handoff"]  # csrc/<name>.pyx -> minidl.kernels._<name>

# -O3 lets gcc vectorise the inner loops; bounds checks are off in the sources. Without
# errno a square root is one instruction that vectorises, and without trapping math a
# float select (x < a ? b : x) may run as a vector blend (minidl never reads FP flags). -fopenmp-simd reads the sources'
# `omp simd` hints (isa.h) and links no OpenMP runtime.
# No OpenMP on purpose: libgomp's spinning threads and OpenBLAS's fight over the
# cores (docs/performance.md); kernels split in two through handoff.pyx's worker, whose
# spin is short and yields the core.
COMPILE_ARGS = ["/O2"] if sys.platform == "win32" else ["-O3", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd"]
# SGD's update is the NumPy twin's to the bit only if no product and sum fuse into one.
EXTRA_ARGS = {} if sys.platform == "win32" else {"optim": ["-ffp-contract=off"]}


class OptionalBuildExt(build_ext):
    """Warn instead of failing when an extension cannot be compiled."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # no compiler at all
            self._warn(f"Cython kernels not built ({exc}); minidl will use slower fallbacks")

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._warn(f"{ext.name} not built ({exc}); minidl will use slower fallbacks")

    @staticmethod
    def _warn(message):
        print(f"WARNING: {message}", file=sys.stderr)


def extensions():
    from Cython.Build import cythonize

    modules = [
        Extension(
            f"minidl.kernels._{name}",
            [os.path.join("csrc", f"{name}.pyx")],
            include_dirs=[np.get_include(), "csrc"],  # csrc/*.h
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            extra_compile_args=COMPILE_ARGS + EXTRA_ARGS.get(name, []),
        )
        for name in CYTHON_EXTENSIONS
    ]
    return cythonize(modules, language_level=3, quiet=True, include_path=["csrc"])  # csrc/window.pxd


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
