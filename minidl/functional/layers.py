"""linear, dropout and embedding: the functional cores of their layers."""
import numpy as np

from .. import ops
from ..random import generator
from ..tensor import Tensor, as_array
from ._checks import check_indices


def linear(x: Tensor, weight: Tensor, bias: Tensor = None) -> Tensor:
    """x @ weight.T + bias.

    Shape: x (*, in), weight (out, in), bias (out,) -> (*, out).
    """
    if x.shape[-1:] != weight.shape[1:2]:
        raise ValueError(
            f"linear: input has {x.shape[-1] if x.ndim else 0} features (shape {x.shape}) "
            f"but weight expects {weight.shape[1]} (shape {weight.shape})"
        )
    if bias is not None and bias.shape != weight.shape[:1]:
        raise ValueError(f"linear: bias of shape {bias.shape} does not match weight {weight.shape}")
    return ops.Linear.apply(x, weight) if bias is None else ops.Linear.apply(x, weight, bias)


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
    keep = generator().random(x.shape, dtype=np.float32) >= p  # float32 draws: half the work of float64
    mask = np.where(keep, x.dtype.type(1.0 / (1.0 - p)), x.dtype.type(0))
    return x * Tensor._wrap(mask)


def embedding(indices, weight: Tensor, padding_idx: int = None) -> Tensor:
    """Rows of `weight` picked by integer `indices`; the `padding_idx` row gets no gradient.

    Shape: indices (*) int, weight (num_embeddings, dim) -> (*, dim).
    """
    idx = as_array(indices)
    check_indices("embedding", idx, weight.shape[0], f"embeddings (weight shape {weight.shape})")
    return ops.EmbeddingLookup.apply(weight, indices=idx, padding_idx=padding_idx)
