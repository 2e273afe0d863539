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


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def torch_oracle():
    if torch is None:
        pytest.skip("PyTorch not installed (CI installs it)")
    return torch
