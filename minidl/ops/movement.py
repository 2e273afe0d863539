"""Primitives that move data without arithmetic. FLOPs: zero."""
import numpy as np

from .. import kernels
from ..autograd.function import Function


class Movement(Function):
    def flops(self, out, *arrays):
        return 0


class Reshape(Movement):
    def forward(self, a, shape):
        self.input_shape = a.shape
        return a.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.input_shape)


class Permute(Movement):
    def forward(self, a, dims):
        self.inverse = tuple(np.argsort(dims))
        return a.transpose(dims)

    def backward(self, grad):
        return grad.transpose(self.inverse)


class Unbind(Movement):
    """The slices along `dim`, as views (one output each); the backward gathers their gradients
    into one array laid out in memory as the input was. For attention's packed q, k, v
    (a permuted view of one projection) the permute and reshape back are then views, where
    np.stack's (3, ...) order would make the reshape copy in short runs."""

    def forward(self, a, dim):
        self.dim, self.input = dim, a  # a view, kept for its memory order only
        return tuple(np.moveaxis(a, dim, 0))

    def backward(self, *grads):
        out = np.empty_like(self.input)  # order 'K': the input's memory order
        lead = (slice(None),) * self.dim
        for i, grad in enumerate(grads):
            out[lead + (i,)] = grad
        return out


class Expand(Movement):
    """Broadcast view; the engine sums the gradient back to the input's shape."""

    def forward(self, a, shape):
        return np.broadcast_to(a, shape)

    def backward(self, grad):
        return grad


def _is_basic(key):
    """True when `key` uses only ints, slices, None and Ellipsis (no repeated elements)."""
    items = key if isinstance(key, tuple) else (key,)
    return all(k is None or k is Ellipsis or isinstance(k, (int, np.integer, slice)) for k in items)


class Index(Movement):
    """`a[key]` with basic or integer/boolean-array indexing.

    Backward scatters with `np.add.at`, so repeated indices accumulate.
    """

    def forward(self, a, key):
        self.key, self.shape, self.dtype = key, a.shape, a.dtype
        try:
            return a[key]
        except IndexError as exc:
            raise IndexError(f"index: {exc} (tensor of shape {a.shape})") from None

    def backward(self, grad):
        out = np.zeros(self.shape, dtype=self.dtype)
        if _is_basic(self.key):
            out[self.key] = grad
        else:
            np.add.at(out, self.key, grad)
        return out


class Cat(Movement):
    def forward(self, *arrays, axis):
        self.axis = axis
        self.splits = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    def backward(self, grad):
        return tuple(np.split(grad, self.splits, axis=self.axis))


class EmbeddingLookup(Movement):
    """Rows of `weight` picked by integer `indices`; rows equal to `padding_idx` get no gradient.

    Shape: weight (V, D), indices (*) -> (*, D).
    """

    def forward(self, weight, indices, padding_idx=None):
        self.indices, self.padding_idx, self.shape = indices, padding_idx, weight.shape
        return weight[indices]

    def backward(self, grad):
        rows = grad.reshape(-1, self.shape[1])
        out = kernels.scatter_add_rows(self.indices.reshape(-1), rows, self.shape[0])
        if self.padding_idx is not None:
            out[self.padding_idx] = 0
        return out


class TakeAlong(Movement):
    """np.take_along_axis: the elements `indices` picks along `axis` (max(dim), gather).
    Backward scatters with np.add.at along the axis, so repeated indices accumulate.

    Shape: a (..., n, ...), indices (..., k, ...) int -> (..., k, ...).
    """

    def forward(self, a, indices, axis):
        self.indices, self.axis, self.shape, self.dtype = indices, axis, a.shape, a.dtype
        return np.take_along_axis(a, indices, axis=axis)

    def backward(self, grad):
        out = np.zeros(self.shape, dtype=self.dtype)
        grid = list(np.indices(self.indices.shape, sparse=True))
        grid[self.axis] = self.indices
        np.add.at(out, tuple(grid), grad)
        return out


_NUMPY_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


class Pad(Movement):
    """Padding by (before, after) per dim: a constant, or the input reflected, replicated or
    wrapped. Backward: the constant mode's gradient is the middle; the others also add the
    gradients of the copies back onto the elements they were copied from.

    Shape: (..., n_i, ...) -> (..., before_i + n_i + after_i, ...).
    """

    def forward(self, a, widths, mode, value):
        self.shape, self.widths, self.mode = a.shape, widths, mode
        if mode == "constant":
            return np.pad(a, widths, mode="constant", constant_values=value)
        return np.pad(a, widths, mode=_NUMPY_PAD_MODES[mode])

    def backward(self, grad):
        middle = tuple(slice(before, before + n) for n, (before, _) in zip(self.shape, self.widths))
        if self.mode == "constant":
            return grad[middle]
        for axis, (n, width) in enumerate(zip(self.shape, self.widths)):
            if width == (0, 0):
                continue
            source = np.pad(np.arange(n), width, mode=_NUMPY_PAD_MODES[self.mode])  # where each element came from
            summed = np.zeros(grad.shape[:axis] + (n,) + grad.shape[axis + 1 :], dtype=grad.dtype)
            np.add.at(summed, (slice(None),) * axis + (source,), grad)
            grad = summed
        return grad


class Clone(Movement):
    """A copy of the data; the gradient passes unchanged. Shape: any -> same."""

    def forward(self, a):
        return a.copy()

    def backward(self, grad):
        return grad
