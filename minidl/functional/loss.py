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
    if reduction == "mean" and denominator is not None:
        if not denominator.item():  # every target ignored: NaN, with gradient 0 (not 0/0), as PyTorch
            return losses.sum() * 0 + Tensor._wrap(np.asarray(np.nan, dtype=losses.dtype))
        return losses.sum() / denominator
    if reduction == "mean":
        return losses.mean()
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


def cross_entropy(logits: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of class indices, as one fused primitive (same values as
    `nll_loss(log_softmax(logits, 1), target)`, stable for large logits).

    With `label_smoothing` e, the target is (1 - e) on its class plus e / C on every class,
    as in PyTorch: (1 - e) * cross-entropy + e / C * (the sum of -log p over classes).
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
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1]; got {label_smoothing}")
    if label_smoothing:
        return _smoothed_cross_entropy(logits, t, weight, ignore_index, reduction, label_smoothing)
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


def _smoothed_cross_entropy(logits, t, weight, ignore_index, reduction, smoothing):
    """(1 - e) * cross_entropy + e / C * smooth, with PyTorch's weighting and normalisation."""
    from .activation import log_softmax

    hard = cross_entropy(logits, t, weight, ignore_index, reduction)
    x = logits.unsqueeze(0) if logits.ndim == 1 else logits
    t = t.reshape(1) if logits.ndim == 1 else t
    n_classes = x.shape[1]
    log_p = log_softmax(x, dim=1)
    w = None if weight is None else as_array(weight, dtype=x.dtype)
    if w is not None:
        log_p = log_p * Tensor._wrap(w.reshape((1, n_classes) + (1,) * (x.ndim - 2)))
    kept = t != ignore_index
    smooth = -log_p.sum(dim=1) * Tensor._wrap(kept.astype(x.dtype))
    if reduction == "none":
        smooth = smooth.reshape(t.shape if logits.ndim > 1 else ())
    elif reduction == "sum":
        smooth = smooth.sum()
    else:
        total = w[t[kept]].sum() if w is not None else kept.sum()
        smooth = smooth.sum() / Tensor._wrap(np.asarray(total, dtype=x.dtype))
    return hard * (1 - smoothing) + smooth * (smoothing / n_classes)


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
