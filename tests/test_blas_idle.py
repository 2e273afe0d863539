"""minidl shortens OpenBLAS's idle spin only for an OpenBLAS that has not loaded yet, and never overrides a user's value."""
import os
import subprocess
import sys

import pytest

SHOW = "import os; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"


def _run(code, **env):
    clean = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    return subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.parametrize("code, want", [
    ("import minidl; " + SHOW, "18"),  # minidl first: set before NumPy loads OpenBLAS
    ("import numpy, minidl; " + SHOW, "None"),  # NumPy first: too late, left alone
])
def test_spin_is_set_only_before_numpy_loads(code, want):
    assert _run(code) == want


def test_a_users_own_value_is_kept():
    assert _run("import minidl; " + SHOW, OPENBLAS_THREAD_TIMEOUT="12") == "12"


@pytest.mark.parametrize("code, env, want", [
    ("import minidl", {}, "True"),  # minidl shortened the spin
    ("import numpy, minidl", {}, "False"),  # NumPy first: OpenBLAS's long default spin
    ("import minidl", {"OPENBLAS_THREAD_TIMEOUT": "28"}, "False"),  # a user's long spin
])
def test_the_spin_is_known_short_only_when_it_is(code, env, want):
    import numpy as np

    if "openblas" not in str(np.__config__.CONFIG["Build Dependencies"]["blas"]["name"]).lower():
        want = "False"  # another BLAS: minidl cannot tell how it waits
    assert _run(code + "; from minidl.kernels import threads; print(threads.blas_spin_is_short())", **env) == want
