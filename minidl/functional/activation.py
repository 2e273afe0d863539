"""Activations and (log-)softmax, composed from primitives. Shape: any -> same."""
import math

from .. import ops
from ..tensor import Tensor, where


def relu(x: Tensor) -> Tensor:
    """max(x, 0). Shape: any -> same. The gradient at 0 is 0, as PyTorch."""
    return ops.Relu.apply(x)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha * (exp(x) - 1) otherwise. Shape: any -> same.

    The exponential only sees min(x, 0), so large positive x cannot overflow
    and poison the gradient.
    """
    return where(x <= 0, alpha * (x.clip(max=0).exp() - 1), x)  # NaN takes the x branch, as PyTorch


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope * x otherwise. Shape: any -> same."""
    return where(x > 0, x, x * negative_slope)


def erf(x: Tensor) -> Tensor:
    """The error function. Shape: any -> same."""
    return ops.Erf.apply(x)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x), Phi the standard normal CDF; `approximate="tanh"` uses the tanh formula.

    Shape: any -> same.
    """
    if approximate == "none":
        return 0.5 * x * (1 + erf(x * (1 / math.sqrt(2))))
    if approximate == "tanh":  # one fused primitive: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        return ops.GeluTanh.apply(x)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh'; got {approximate!r}")


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), computed without overflow. Shape: any -> same."""
    return ops.Sigmoid.apply(x)


def tanh(x: Tensor) -> Tensor:
    """Shape: any -> same."""
    return ops.Tanh.apply(x)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim`, shifted by the maximum first so that large logits
    stay finite (Tensor.softmax). Shape: any -> same."""
    return x.softmax(dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """x - logsumexp(x) along `dim`, stable for large logits (Tensor.log_softmax). Shape: any -> same."""
    return x.log_softmax(dim)
