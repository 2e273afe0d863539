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
