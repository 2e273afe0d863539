"""Softmax cross-entropy as one primitive.

Composed from primitives it takes about ten full passes over the logits
(max, shift, exp, sum, log, gather and their gradients); fused, the forward
keeps each row's log-sum-exp and the backward is one pass over the logits:
p * c - onehot * c, with p = exp(logits - lse) and c each row's weight times
the incoming gradient. On a language model's large vocabulary the loss is a
big share of the step, so the passes count.
Shape: logits (N, C), targets (N,) int -> scalar ('mean', 'sum') or (N,) ('none').
FLOPs: about 5 per logit.
"""
import numpy as np

from .. import kernels
from ..autograd.function import Function


class CrossEntropy(Function):
    def forward(self, logits, target, weight, ignore_index, reduction):
        losses, self.w, self.lse = kernels.cross_entropy_forward(logits, target, weight, ignore_index)
        self.logits = logits
        self.target, self.ignore_index, self.reduction = target, ignore_index, reduction
        if reduction == "none":
            return losses
        if reduction == "sum":
            return np.asarray(losses.sum(), dtype=logits.dtype)
        with np.errstate(invalid="ignore", divide="ignore"):  # every target ignored: NaN, as PyTorch
            self.denominator = self.w.sum()
            return np.asarray(losses.sum() / self.denominator, dtype=logits.dtype)

    def backward(self, grad):
        coef = self.w * grad  # grad is a scalar, or (N,) for 'none'
        if self.reduction == "mean" and self.denominator:  # every target ignored: gradient 0, as PyTorch
            coef = coef / self.denominator
        return kernels.cross_entropy_backward(self.logits, self.lse, self.target, self.ignore_index, coef)

    def flops(self, out, logits):
        return 5 * logits.size
