"""Kernel dispatch rules, and the special-function kernels (erf, tanh, exp) against their twins and PyTorch."""
import math
import os

import numpy as np
import pytest

from minidl import kernels
from minidl.kernels import reference


def test_a_kernel_is_its_compiled_version_after_the_first_call():
    x = np.ones((1, 1, 3, 3), np.float32)
    with kernels.use("compiled"):
        kernels.relu_forward(x)
        assert kernels.relu_forward is kernels.implementation("relu_forward", "compiled")
        assert kernels.relu_forward is not reference.relu_forward


def test_use_reference_binds_every_kernel_to_its_twin_and_restores_after():
    with kernels.use("reference"):
        assert kernels.backend() == "reference"
        for name in kernels.NAMES:
            assert getattr(kernels, name) is getattr(reference, name)
    assert kernels.backend() == "compiled"
    for name in kernels.NAMES:  # the compiled kernel, or the stand-in that loads it on its first call
        assert getattr(kernels, name) is not getattr(reference, name)


def test_use_restores_the_backend_after_an_error():
    with pytest.raises(RuntimeError):
        with kernels.use("reference"):
            raise RuntimeError("inside")
    assert kernels.backend() == "compiled"


def test_the_environment_chooses_the_backend_at_import():
    import subprocess
    import sys

    code = "import minidl.kernels as k; print(k.backend(), k.im2col is k.reference.im2col)"
    env = {**os.environ, "MINIDL_KERNELS": "reference"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.split() == ["reference", "True"]


def test_every_kernel_has_a_twin_and_a_compiled_module():
    for name in kernels.NAMES:
        assert callable(getattr(reference, name)), name
        assert kernels.MODULE_OF[name].startswith("minidl.kernels."), name


def test_unknown_backend_and_kernel_names_are_rejected():
    with pytest.raises(ValueError, match="unknown backend 'gpu'"):
        kernels.implementation("im2col", "gpu")
    with pytest.raises(ValueError, match="unknown backend 'gpu'"):
        with kernels.use("gpu"):
            pass
    with pytest.raises(KeyError, match="no kernel named 'conv9d'"):
        kernels.implementation("conv9d", "reference")


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
    got = kernels.implementation("erf", backend)(x)
    expected = np.array([math.erf(v) for v in x.reshape(-1).astype(np.float64)]).reshape(x.shape)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=1e-6 if dtype == np.float32 else 1e-15, atol=1e-7 if dtype == np.float32 else 0)


def test_erf_reference_matches_pytorch(torch_oracle):
    x = np.linspace(-4, 4, 57)
    np.testing.assert_allclose(reference.erf(x), torch_oracle.erf(torch_oracle.tensor(x)).numpy(), rtol=1e-15, atol=1e-16)


FLOAT32_SWEEP = np.concatenate([np.linspace(-12, 12, 400_001), np.geomspace(1e-30, 20, 20_001), -np.geomspace(1e-30, 20, 20_001)])


@pytest.mark.parametrize("backend", kernels.available("tanh"))
def test_tanh_float32_is_within_a_few_ulp_everywhere(backend):
    x = FLOAT32_SWEEP.astype(np.float32)
    got = kernels.implementation("tanh", backend)(x).astype(np.float64)
    exact = np.tanh(x.astype(np.float64))
    assert np.max(np.abs(got - exact) / np.maximum(np.abs(exact), 1e-38)) < 5e-7


@pytest.mark.parametrize("backend", kernels.available("tanh"))
def test_tanh_special_values_and_float64_exactness(backend):
    f = kernels.implementation("tanh", backend)
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 10.0, -10.0, 50.0], dtype=np.float32)
    got = f(special)
    assert np.isnan(got[0]) and got[1:].tolist() == [1, -1, 0, 0, 1, -1, 1]
    assert np.signbit(got[4])
    x64 = np.linspace(-5, 5, 1001)
    np.testing.assert_array_equal(f(x64), np.tanh(x64))  # float64 stays exact (gradcheck, exam cases)


@pytest.mark.parametrize("name", ["tanh", "exp"])
def test_in_place_aliasing_and_strided_inputs(name):
    for backend in kernels.available(name):
        f = kernels.implementation(name, backend)
        x = np.random.default_rng(0).standard_normal((6, 8)).astype(np.float32)
        expected = f(x.copy())
        same = x.copy()
        assert f(same, out=same) is same
        np.testing.assert_array_equal(same, expected)
        overlapping = x.copy()
        f(overlapping[:, :4], out=overlapping[:, :4])  # strided view, in place
        np.testing.assert_allclose(overlapping[:, :4], expected[:, :4], rtol=5e-7)
        np.testing.assert_array_equal(overlapping[:, 4:], x[:, 4:])


# every float32 exponent the result can have, denormals and overflow included
EXP_SWEEP = np.concatenate([np.linspace(-110, 90, 2_000_001), np.linspace(-1, 1, 200_001), np.geomspace(1e-30, 1, 5_001)])


@pytest.mark.parametrize("backend", kernels.available("exp"))
def test_exp_float32_is_within_a_few_ulp_everywhere(backend):
    x = EXP_SWEEP.astype(np.float32)
    with np.errstate(over="ignore"):
        got = kernels.implementation("exp", backend)(x).astype(np.float64)
        exact = np.exp(x.astype(np.float64))
    normal = (exact >= np.finfo(np.float32).tiny) & (exact <= np.finfo(np.float32).max)
    assert np.max(np.abs(got[normal] - exact[normal]) / exact[normal]) < 2.5e-7
    denormal = exact < np.finfo(np.float32).tiny  # absolute error of a few denormal steps (1.4e-45 each)
    assert np.max(np.abs(got[denormal] - exact[denormal])) < 5e-45
    too_big = exact > np.finfo(np.float32).max
    assert too_big.any() and np.all(np.isposinf(got[too_big]))


@pytest.mark.parametrize("backend", kernels.available("exp"))
def test_exp_special_values_and_float64_exactness(backend):
    f = kernels.implementation("exp", backend)
    with np.errstate(over="ignore"):
        got = f(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 89.0, -200.0], dtype=np.float32))
    assert np.isnan(got[0]) and got[1:].tolist() == [np.inf, 0, 1, 1, np.inf, 0]
    x64 = np.linspace(-700, 700, 1001)
    np.testing.assert_array_equal(f(x64), np.exp(x64))  # float64 stays exact (gradcheck)
