"""ONNX tests need the onnx package and ONNX Runtime (the oracle); CI installs both."""
import os

import pytest


def _need(module):
    try:
        return __import__(module)
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"{module} is not installed (pip install -e '.[test]')", allow_module_level=True)


@pytest.fixture
def ort():
    _need("onnx")
    runtime = _need("onnxruntime")
    runtime.set_default_logger_severity(3)  # no warnings about initializers it drops
    return runtime
