"""Tests of the kernels; instruction_sets_of is shared by the compiled modules' tests."""
import importlib


def instruction_sets_of(module_name):
    """The SIMD levels a compiled kernel module can run here, for parametrizing its tests; none
    when it is not built (test_extensions_built fails the run then)."""
    try:
        return importlib.import_module(module_name).instruction_sets()
    except ImportError:
        return []
