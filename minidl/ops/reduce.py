"""Reductions over a tuple of axes (already normalised by the caller).

FLOPs: one per input element.
"""
import math

import numpy as np

from ..autograd.function import Function


def _expand(grad, axes, keepdims, shape):
    """Broadcast a reduced gradient back over the reduced axes."""
    if not keepdims and axes:
        grad = np.expand_dims(grad, axes)
    return np.broadcast_to(grad, shape)


class Sum(Function):
    def forward(self, a, axes, keepdims):
        self.axes, self.keepdims, self.shape = axes, keepdims, a.shape
        return np.asarray(a.sum(axis=axes, keepdims=keepdims))

    def backward(self, grad):
        return _expand(grad, self.axes, self.keepdims, self.shape)

    def flops(self, out, a):
        return a.size


class Mean(Function):
    def forward(self, a, axes, keepdims):
        self.axes, self.keepdims, self.shape = axes, keepdims, a.shape
        self.count = math.prod(a.shape[i] for i in axes) if axes else 1
        return np.asarray(a.mean(axis=axes, keepdims=keepdims))

    def backward(self, grad):
        return _expand(grad / self.count, self.axes, self.keepdims, self.shape)

    def flops(self, out, a):
        return a.size


class Max(Function):
    """Largest value; tied maxima share the gradient equally (as `torch.amax`)."""

    pick = staticmethod(np.max)

    def forward(self, a, axes, keepdims):
        if a.size == 0:
            raise ValueError(f"{type(self).__name__.lower()}: cannot reduce an empty tensor of shape {a.shape}")
        self.axes, self.keepdims = axes, keepdims
        out = np.asarray(self.pick(a, axis=axes, keepdims=True))
        self.winners = a == out
        return out if keepdims or not axes else np.squeeze(out, axis=axes)

    def backward(self, grad):
        if not self.keepdims and self.axes:
            grad = np.expand_dims(grad, self.axes)
        count = self.winners.sum(axis=self.axes, keepdims=True)
        return np.where(self.winners, grad / count, grad.dtype.type(0))

    def flops(self, out, a):
        return a.size


class Min(Max):
    pick = staticmethod(np.min)
