"""Shared fixtures. PyTorch is the oracle: optional on a laptop, required in CI."""
import os

import numpy as np
import pytest

try:
    import torch
except ImportError:  # the oracle tests skip locally; CI must have torch
    torch = None

if torch is None and os.environ.get("CI"):
    raise RuntimeError("CI must run the PyTorch comparisons: pip install torch==2.13.0")


_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SHARED_DATA = os.path.join(_REPO, "..", "shared", "data")
if not os.environ.get("MINIDL_DATA") and os.path.isdir(_SHARED_DATA):
    os.environ["MINIDL_DATA"] = os.path.abspath(_SHARED_DATA)  # the project's usual layout


@pytest.fixture
def real_data():
    """The real data sets; CI always has them (MINIDL_DATA=../shared/data), elsewhere the test skips."""
    from minidl.data import DataError, locate

    try:
        for name in ("rt-polarity", "tinyshakespeare", "fashion-mnist"):
            locate(name)
    except DataError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"real data sets not available: {exc}")


@pytest.fixture(autouse=True)
def no_download_leaves_this_machine(monkeypatch):
    """No test may reach an address outside this machine: data sets have no canonical URLs in tests
    (a download test serves its own mirror on 127.0.0.1)."""
    from minidl.data import download

    monkeypatch.setattr(download, "CANONICAL", {})


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def torch_oracle():
    if torch is None:
        pytest.skip("PyTorch not installed (CI installs it)")
    return torch
