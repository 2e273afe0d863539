"""linear, dropout and embedding: the functional cores of their layers."""
import numpy as np

from .. import ops
from ..random import generator
from ..tensor import Tensor, as_array
from ._checks import check_indices, check_same_dtype


def linear(x: Tensor, weight: Tensor, bias: Tensor = None) -> Tensor:
    """x @ weight.T + bias.

    Shape: x (*, in), weight (out, in), bias (out,) -> (*, out).
    A NumPy array is taken as a tensor; its dtype must be the weight's.
    """
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.shape[-1:] != weight.shape[1:2]:
        raise ValueError(
            f"linear: input has {x.shape[-1] if x.ndim else 0} features (shape {x.shape}) "
            f"but weight expects {weight.shape[1]} (shape {weight.shape})"
        )
    if bias is not None and bias.shape != weight.shape[:1]:
        raise ValueError(f"linear: bias of shape {bias.shape} does not match weight {weight.shape}")
    check_same_dtype("Linear", x, weight, bias)
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


def dropout2d(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each channel (the dim before the last two) with probability p, scaling the rest by 1/(1-p).

    Shape: (N, C, H, W) or (C, H, W) -> same.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout2d: p must be in [0, 1]; got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0
    keep = generator().random(x.shape[:-2] + (1, 1), dtype=np.float32) >= p
    return x * Tensor._wrap(np.where(keep, x.dtype.type(1.0 / (1.0 - p)), x.dtype.type(0)))


def embedding(indices, weight: Tensor, padding_idx: int = None) -> Tensor:
    """Rows of `weight` picked by integer `indices`; the `padding_idx` row gets no gradient.

    Shape: indices (*) int, weight (num_embeddings, dim) -> (*, dim).
    """
    idx = as_array(indices)
    check_indices("embedding", idx, weight.shape[0], f"embeddings (weight shape {weight.shape})")
    return ops.EmbeddingLookup.apply(weight, indices=idx, padding_idx=padding_idx)


def one_hot(indices, num_classes: int = -1) -> Tensor:
    """Class indices as rows of 0s with a 1 at the index, int64 as in PyTorch.

    `num_classes=-1` takes the largest index + 1. Shape: (*) int -> (*, num_classes).
    """
    idx = as_array(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: indices must have an integer dtype; got {idx.dtype} with shape {idx.shape}")
    if num_classes == -1:
        if idx.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from empty indices; pass num_classes")
        num_classes = int(idx.max()) + 1
    check_indices("one_hot", idx, num_classes, "classes")
    return Tensor._wrap((idx[..., None] == np.arange(num_classes)).astype(np.int64))
