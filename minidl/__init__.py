"""minidl: a small, fast, readable deep-learning framework.

    import minidl as md
    import minidl.functional as F

Tensors with reverse-mode autograd on NumPy, compiled kernels for the hot
loops, and a PyTorch-shaped API.
"""
__version__ = "0.1.0"

from .blas_idle import shorten_openblas_spin

shorten_openblas_spin()  # before NumPy loads OpenBLAS, which reads the setting once

from . import autograd, kernels  # noqa: E402
from .autograd import count_flops, enable_grad, gradcheck, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .memory import keep_freed_memory
from .random import manual_seed
from .tensor import (
    Tensor,
    arange,
    bool_,
    cat,
    float32,
    float64,
    full,
    int64,
    matmul,
    ones,
    ones_like,
    rand,
    randn,
    stack,
    tensor,
    where,
    zeros,
    zeros_like,
)
from .creation import empty, eye, from_numpy, full_like, linspace, randint, randn_like
from .free_functions import *  # noqa: F401,F403  (md.exp, md.sum, md.softmax, ...: the Tensor methods as functions)
from .free_functions import __all__ as _free_function_names
from . import functional  # noqa: E402  (needs Tensor)
from . import nn, optim  # noqa: E402
from .serialization import CheckpointError, load, save  # noqa: E402
from .summary import summary as _module_summary  # noqa: E402
from . import models  # noqa: E402

def summary(model, input_size=None, input_data=None, dtype=float32, print_summary=False):
    """Parameters, MACs and FLOPs per layer of a Module on one input (see minidl.summary), or per node
    of an ONNX model (an onnx.ModelProto or a path to a .onnx file; see minidl.onnx.count)."""
    if type(model).__name__ == "ModelProto" or str(model).endswith(".onnx"):
        from .onnx.count import summary as onnx_summary

        return onnx_summary(model, input_size, print_summary)
    return _module_summary(model, input_size, input_data, dtype, print_summary)


_ON_FIRST_USE = ("data", "train", "benchmark", "cli", "profiler", "onnx")  # imported when first used: `import minidl` stays quick


def __getattr__(name):
    if name in _ON_FIRST_USE:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'minidl' has no attribute {name!r}")


__all__ = [
    "CheckpointError", "Tensor", "arange", "autograd", "bool_", "cat", "count_flops", "enable_grad", "float32", "float64", "full",
    "functional", "gradcheck", "nn", "optim", "int64", "is_grad_enabled", "keep_freed_memory", "kernels", "load", "manual_seed", "matmul", "models", "no_grad", "ones",
    "ones_like", "rand", "randn", "save", "set_grad_enabled", "stack", "summary", "tensor", "where", "zeros", "zeros_like",
    "empty", "eye", "from_numpy", "full_like", "inference_mode", "linspace", "randint", "randn_like",
] + _free_function_names
