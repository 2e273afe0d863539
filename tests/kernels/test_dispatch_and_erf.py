"""Kernel dispatch rules, and the erf kernel against its twin and PyTorch."""
import math

import numpy as np
import pytest

from minidl import kernels
from minidl.kernels import reference


def test_default_is_the_first_backend_that_loads():
    assert kernels.get("im2col") is kernels.get("im2col", kernels.available("im2col")[0])


def test_environment_forces_the_reference_twins(monkeypatch):
    monkeypatch.setenv("MINIDL_KERNELS", "reference")
    assert kernels.get("im2col") is reference.im2col
    assert kernels.get("erf") is reference.erf


def test_a_forced_backend_the_kernel_lacks_falls_back(monkeypatch):
    monkeypatch.setenv("MINIDL_KERNELS", "cython")
    assert kernels.get("erf") is kernels.get("erf", kernels.available("erf")[0])


def test_unknown_backend_and_kernel_names_are_rejected():
    with pytest.raises(ValueError, match="unknown backend 'gpu'"):
        kernels.get("im2col", "gpu")
    with pytest.raises(KeyError, match="no kernel named 'conv9d'"):
        kernels.get("conv9d")


def test_import_minidl_compiles_nothing():
    import subprocess
    import sys

    code = "import sys, minidl; print(any(m.startswith('numba') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False", "import minidl must not import numba (kernels compile on first use)"


@pytest.mark.parametrize("backend", kernels.available("erf"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_erf_backends_match_math_erf(backend, dtype):
    x = np.concatenate([np.linspace(-6, 6, 101), [0.0, -0.0, 1e-8, 30.0]]).astype(dtype).reshape(3, 35)
    got = kernels.get("erf", backend)(x)
    expected = np.array([math.erf(v) for v in x.reshape(-1).astype(np.float64)]).reshape(x.shape)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=1e-6 if dtype == np.float32 else 1e-15, atol=1e-7 if dtype == np.float32 else 0)


def test_erf_reference_matches_pytorch(torch_oracle):
    x = np.linspace(-4, 4, 57)
    np.testing.assert_allclose(reference.erf(x), torch_oracle.erf(torch_oracle.tensor(x)).numpy(), rtol=1e-15, atol=1e-16)
