"""Reverse-mode autograd: `Function` nodes, the backward engine, grad mode and gradcheck."""
from .engine import grad
from .function import Function, count_flops
from .gradcheck import GradcheckError, gradcheck
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled

__all__ = [
    "Function", "GradcheckError", "count_flops", "enable_grad", "grad", "gradcheck", "inference_mode", "is_grad_enabled",
    "no_grad", "set_grad_enabled",
]
