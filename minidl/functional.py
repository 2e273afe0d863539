"""Public stateless ops: `import minidl.functional as F`.

Most are composites of primitives (their gradients come for free); each
documents its shapes. Names and arguments follow `torch.nn.functional`.
"""
import math

import numpy as np

from . import ops
from .random import generator
from .tensor import Tensor, as_array, where

__all__ = [
    "relu", "elu", "leaky_relu", "gelu", "sigmoid", "tanh", "erf", "softmax", "log_softmax", "linear",
    "dropout", "embedding", "nll_loss", "cross_entropy", "binary_cross_entropy_with_logits", "mse_loss",
]


# ------------------------------------------------------------- activations
def relu(x: Tensor) -> Tensor:
    """max(x, 0). Shape: any -> same. The gradient at 0 is 0, as PyTorch."""
    return ops.Relu.apply(x)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha * (exp(x) - 1) otherwise. Shape: any -> same.

    The exponential only sees min(x, 0), so large positive x cannot overflow
    and poison the gradient.
    """
    return where(x > 0, x, alpha * (x.clip(max=0).exp() - 1))


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
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
        return 0.5 * x * (1 + inner.tanh())
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh'; got {approximate!r}")


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), computed without overflow. Shape: any -> same."""
    return ops.Sigmoid.apply(x)


def tanh(x: Tensor) -> Tensor:
    """Shape: any -> same."""
    return ops.Tanh.apply(x)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim`. Shape: any -> same.

    The row maximum is subtracted first (softmax does not change under a
    shift), so logits of 1e4 stay finite.
    """
    shifted = x - x.max(dim=dim, keepdim=True).detach()
    e = shifted.exp()
    return e / e.sum(dim=dim, keepdim=True)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """x - logsumexp(x) along `dim`, stable for large logits. Shape: any -> same."""
    shifted = x - x.max(dim=dim, keepdim=True).detach()
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


# ---------------------------------------------------------------- layers
def linear(x: Tensor, weight: Tensor, bias: Tensor = None) -> Tensor:
    """x @ weight.T + bias.

    Shape: x (*, in), weight (out, in), bias (out,) -> (*, out).
    """
    if x.shape[-1:] != weight.shape[1:2]:
        raise ValueError(
            f"linear: input has {x.shape[-1] if x.ndim else 0} features (shape {x.shape}) "
            f"but weight expects {weight.shape[1]} (shape {weight.shape})"
        )
    out = x @ weight.T
    return out if bias is None else out + bias


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p), in training only.

    Shape: any -> same. Draws from minidl's generator (`md.manual_seed`).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1]; got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0
    keep = generator().random(x.shape) >= p
    scale = np.asarray(1.0 / (1.0 - p), dtype=x.dtype)
    return x * Tensor._wrap(keep.astype(x.dtype) * scale)


def _check_indices(op, indices, n_classes, shape_note, ignore=None):
    if indices.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: indices must have an integer dtype (class or token ids); got {indices.dtype} "
            f"with shape {indices.shape}"
        )
    valid = indices if ignore is None else indices[indices != ignore]
    if valid.size and (valid.min() < 0 or valid.max() >= n_classes):
        bad = valid.max() if valid.max() >= n_classes else valid.min()
        raise IndexError(f"{op}: index {int(bad)} is out of range for {n_classes} {shape_note}")


def embedding(indices, weight: Tensor, padding_idx: int = None) -> Tensor:
    """Rows of `weight` picked by integer `indices`; the `padding_idx` row gets no gradient.

    Shape: indices (*) int, weight (num_embeddings, dim) -> (*, dim).
    """
    idx = as_array(indices)
    _check_indices("embedding", idx, weight.shape[0], f"embeddings (weight shape {weight.shape})")
    return ops.EmbeddingLookup.apply(weight, indices=idx, padding_idx=padding_idx)


# ------------------------------------------------------------------ losses
def _reduce(losses: Tensor, reduction: str, op: str, denominator=None) -> Tensor:
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean":
        return losses.sum() / denominator if denominator is not None else losses.mean()
    raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none'; got {reduction!r}")


def nll_loss(log_probs: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices under log-probabilities.

    Shape: log_probs (N, C) or (N, C, d1, ...) or (C,); target (N,) or
    (N, d1, ...) or () of class indices; `weight` (C,) per-class weights.
    'mean' divides by the summed weights of the non-ignored targets, as PyTorch.
    """
    t = as_array(target)
    x = log_probs
    if x.ndim == 1:
        x, t = x.unsqueeze(0), t.reshape(1)
    if x.ndim < 1 or t.shape != x.shape[:1] + x.shape[2:]:
        raise ValueError(
            f"nll_loss: target shape {t.shape} does not fit input shape {log_probs.shape} "
            "(expected the input's shape without its class dim 1)"
        )
    n_classes = x.shape[1]
    _check_indices("nll_loss", t, n_classes, f"classes (input shape {log_probs.shape})", ignore=ignore_index)
    if x.ndim > 2:  # move the class dim last and flatten the rest
        x = x.permute(0, *range(2, x.ndim), 1).reshape(-1, n_classes)
    flat = t.reshape(-1)
    valid = flat != ignore_index
    safe = np.where(valid, flat, 0)
    w = valid.astype(x.dtype)
    if weight is not None:
        w = w * as_array(weight, dtype=x.dtype)[safe]
    picked = x[np.arange(flat.size), safe]
    losses = -picked * Tensor._wrap(w)
    if reduction == "none":
        return losses.reshape(t.shape if log_probs.ndim > 1 else ())
    return _reduce(losses, reduction, "nll_loss", denominator=Tensor._wrap(np.asarray(w.sum(), dtype=x.dtype)))


def cross_entropy(logits: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of class indices: `nll_loss(log_softmax(logits, 1), target)`.

    Shape: logits (N, C) or (N, C, d1, ...) or (C,); target (N,) or (N, d1, ...) or ().
    Example:
        >>> F.cross_entropy(md.randn(4, 3), md.tensor([0, 2, 1, 1]))
    """
    t = as_array(target)
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"cross_entropy: target must hold class indices (an integer dtype); got {t.dtype} with shape {t.shape} "
            f"for logits of shape {logits.shape}"
        )
    return nll_loss(log_softmax(logits, dim=1 if logits.ndim > 1 else 0), t, weight, ignore_index, reduction)


def binary_cross_entropy_with_logits(logits: Tensor, target, weight=None, pos_weight=None, reduction="mean") -> Tensor:
    """Sigmoid + binary cross-entropy in one stable formula.

    loss = (1 - y) * x + (1 + (pos_weight - 1) * y) * (log(1 + exp(-|x|)) + max(-x, 0))
    Shape: logits (*), target (*) of 0/1 (or probabilities), same shape.
    """
    y = target if isinstance(target, Tensor) else Tensor._wrap(as_array(target, dtype=logits.dtype))
    if y.shape != logits.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: target shape {y.shape} != logits shape {logits.shape}")
    softplus_neg = (1 + (-logits.abs()).exp()).log() + (-logits).relu()  # log(1 + exp(-x))
    if pos_weight is None:
        losses = (1 - y) * logits + softplus_neg
    else:
        pw = pos_weight if isinstance(pos_weight, Tensor) else Tensor._wrap(as_array(pos_weight, dtype=logits.dtype))
        losses = (1 - y) * logits + (1 + (pw - 1) * y) * softplus_neg
    if weight is not None:
        losses = losses * (weight if isinstance(weight, Tensor) else Tensor._wrap(as_array(weight, dtype=logits.dtype)))
    return _reduce(losses, reduction, "binary_cross_entropy_with_logits")


def mse_loss(prediction: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean squared error. Shape: prediction (*), target (*), the same shape."""
    y = target if isinstance(target, Tensor) else Tensor._wrap(as_array(target, dtype=prediction.dtype))
    if y.shape != prediction.shape:
        raise ValueError(f"mse_loss: target shape {y.shape} != prediction shape {prediction.shape}")
    diff = prediction - y
    return _reduce(diff * diff, reduction, "mse_loss")
