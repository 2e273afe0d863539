"""Layer normalisation and batch normalisation in training mode (one primitive each); batch
normalisation in evaluation mode is a scale and a shift, composed from primitives."""
import numpy as np

from .. import ops
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor


def layer_norm(x: Tensor, normalized_shape, weight=None, bias=None, eps=1e-5) -> Tensor:
    """Normalise each example over its last len(normalized_shape) dims (any batch size, any length).

    Shape: x (*, *normalized_shape) -> same; weight and bias normalized_shape.
    """
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if x.shape[x.ndim - len(normalized_shape):] != normalized_shape:
        raise ValueError(f"layer_norm: input shape {x.shape} does not end with normalized_shape {normalized_shape}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.shape != normalized_shape:
            raise ValueError(f"layer_norm: {name} of shape {p.shape} does not match normalized_shape {normalized_shape}")
    params = [p for p in (weight, bias) if p is not None]
    return ops.LayerNorm.apply(x, *params, normalized_dims=len(normalized_shape), eps=float(eps),
                               has_weight=weight is not None, has_bias=bias is not None)


def batch_norm(x: Tensor, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) over the batch and spatial dims.

    In training the batch statistics are used and the running statistics (if
    given) move towards them: running = (1 - momentum) * running + momentum * batch
    (the unbiased variance, as PyTorch). In evaluation the running statistics are used.
    Shape: x (N, C) or (N, C, *) -> same; running stats, weight, bias (C,).
    """
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input (N, C) or (N, C, *); got {x.shape}")
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if training:
        count = x.numel() // x.shape[1]
        if count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input size {x.shape}")
        params = [p for p in (weight, bias) if p is not None]
        out, mean, var = ops.BatchNorm.apply(x, *params, eps=float(eps), has_weight=weight is not None,
                                             has_bias=bias is not None)
        if running_mean is not None:
            with no_grad():
                batch_var = var.data * (count / (count - 1))
                running_mean.data[...] = (1 - momentum) * running_mean.data + momentum * mean.data
                running_var.data[...] = (1 - momentum) * running_var.data + momentum * batch_var
        return out
    if running_mean is None:
        raise ValueError("batch_norm: evaluation mode needs running statistics")
    mean = running_mean.data.reshape(shape).astype(x.dtype)
    inv = (1.0 / np.sqrt(running_var.data.reshape(shape) + eps)).astype(x.dtype)
    out = (x - Tensor._wrap(mean)) * Tensor._wrap(inv)
    if weight is not None:
        out = out * weight.reshape(shape)
    return out if bias is None else out + bias.reshape(shape)
