"""More ways to make tensors, as PyTorch names them: from_numpy, eye, linspace, randint, empty."""
import numpy as np

from .random import generator
from .tensor import Tensor, _shape_args


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor that shares `array`'s memory and keeps its dtype (float64 stays float64)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a NumPy array; got {type(array).__name__}")
    return Tensor._wrap(array)


def eye(n, m=None, dtype=None, requires_grad=False) -> Tensor:
    """The n x m identity matrix (m defaults to n). Shape: (n, m)."""
    return Tensor(np.eye(n, m, dtype=np.dtype(dtype or np.float32)), requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False) -> Tensor:
    """`steps` evenly spaced values from start to end, both included. Shape: (steps,)."""
    if steps < 0:
        raise ValueError(f"linspace: steps must be non-negative; got {steps}")
    return Tensor(np.linspace(start, end, steps, dtype=np.dtype(dtype or np.float32)), requires_grad=requires_grad)


def randint(low, high=None, size=None, dtype=None) -> Tensor:
    """Integers drawn uniformly from [low, high) by minidl's generator; randint(high, size) starts at 0.
    Shape: `size`."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint: needs a size, e.g. md.randint(0, 10, (3, 4))")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    return Tensor(generator().integers(low, high, size=_shape_args((size,) if isinstance(size, int) else size),
                                       dtype=np.dtype(dtype or np.int64)))


def empty(*shape, dtype=None, requires_grad=False) -> Tensor:
    """Uninitialised values (here zeros, so a bug that reads them is repeatable). Shape: `shape`."""
    return Tensor(np.zeros(_shape_args(shape), dtype=np.dtype(dtype or np.float32)), requires_grad=requires_grad)


def full_like(t: Tensor, fill_value, dtype=None, requires_grad=False) -> Tensor:
    return Tensor(np.full(t.shape, fill_value, dtype=np.dtype(dtype or t.dtype)), requires_grad=requires_grad)


def randn_like(t: Tensor, dtype=None, requires_grad=False) -> Tensor:
    dtype = np.dtype(dtype or t.dtype)
    return Tensor(generator().standard_normal(t.shape).astype(dtype), requires_grad=requires_grad)
