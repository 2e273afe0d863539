"""Losses: negative log-likelihood, cross-entropy, binary cross-entropy with logits, MSE."""
import numpy as np

from .. import ops
from ..tensor import Tensor, as_array
from ._checks import check_indices


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
    check_indices("nll_loss", t, n_classes, f"classes (input shape {log_probs.shape})", ignore=ignore_index)
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
    """Softmax cross-entropy of class indices, as one fused primitive (same values as
    `nll_loss(log_softmax(logits, 1), target)`, stable for large logits).

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
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"cross_entropy: reduction must be 'mean', 'sum' or 'none'; got {reduction!r}")
    x = logits.unsqueeze(0) if logits.ndim == 1 else logits
    flat_t = t.reshape(1) if logits.ndim == 1 else t
    if flat_t.shape != x.shape[:1] + x.shape[2:]:
        raise ValueError(
            f"cross_entropy: target shape {t.shape} does not fit input shape {logits.shape} "
            "(expected the input's shape without its class dim 1)"
        )
    n_classes = x.shape[1]
    check_indices("cross_entropy", flat_t, n_classes, f"classes (input shape {logits.shape})", ignore=ignore_index)
    if x.ndim > 2:  # move the class dim last and flatten the rest
        x = x.permute(0, *range(2, x.ndim), 1).reshape(-1, n_classes)
    w = None if weight is None else as_array(weight, dtype=x.dtype)
    losses = ops.CrossEntropy.apply(x, target=flat_t.reshape(-1), weight=w, ignore_index=ignore_index, reduction=reduction)
    if reduction == "none":
        return losses.reshape(t.shape if logits.ndim > 1 else ())
    return losses


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
