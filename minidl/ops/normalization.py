"""Layer normalisation (kernels: layer_norm_forward/backward) and batch normalisation in
training mode, each as one primitive.

Shape: x (*, D1..Dk) normalised over its last k dims; weight, bias (D1..Dk) or absent -> same as x.
FLOPs (the count of the composite it replaces): 5 per element (mean, centre, square,
mean, scale), 1 more each for weight and bias, and 2 per row (variance + eps, square root).
"""
import math

import numpy as np

from .. import kernels
from ..autograd.function import Function


class LayerNorm(Function):
    def forward(self, x, *params, normalized_dims, eps, has_weight, has_bias):
        self.shape, self.has_weight, self.has_bias = x.shape, has_weight, has_bias
        width = math.prod(x.shape[x.ndim - normalized_dims :])
        weight = params[0].reshape(-1) if has_weight else None
        bias = params[-1].reshape(-1) if has_bias else None
        out, self.xhat, self.rstd = kernels.layer_norm_forward(x.reshape(-1, width), weight, bias, eps)
        self.weight, self.param_shape = weight, x.shape[x.ndim - normalized_dims :]
        return out.reshape(x.shape)

    def backward(self, grad):
        dx, dweight, dbias = kernels.layer_norm_backward(
            grad.reshape(self.xhat.shape), self.xhat, self.rstd, self.weight
        )
        grads = [dx.reshape(self.shape)]
        if self.has_weight:
            grads.append(dweight.reshape(self.param_shape))
        if self.has_bias:
            grads.append(dbias.reshape(self.param_shape))
        return tuple(grads)

    def flops(self, out, x, *params):
        return (5 + self.has_weight + self.has_bias) * x.size + 2 * self.rstd.size


class BatchNorm(Function):
    """Batch statistics over every dim but the channel dim 1: out = (x - mean) / sqrt(var + eps)
    * weight + bias, the biased variance (kernels: batch_norm_forward/backward, a few passes
    over each channel while it sits in cache). One node that keeps only x_hat and 1/std:
    composed of primitives it kept two full-size arrays per layer, and a CNN holds one per
    layer until its backward.
    The batch mean and biased variance come back too, for the running statistics (they
    take no gradient). Shape: x (N, C, *) -> out (N, C, *), mean (C,), var (C,); weight,
    bias (C,) or absent. FLOPs: 5 per element (mean, centre, square, mean, scale) and 1
    more each for weight and bias, as LayerNorm counts.
    """

    def forward(self, x, *params, eps, has_weight, has_bias):
        self.shape, self.has_weight, self.has_bias = x.shape, has_weight, has_bias
        rows = x.reshape(x.shape[:2] + (math.prod(x.shape[2:]),))  # (N, C, L): the kernels' layout
        self.weight = params[0].reshape(-1) if has_weight else None
        bias = params[-1].reshape(-1) if has_bias else None
        out, self.xhat, mean, var, self.inv_std = kernels.batch_norm_forward(rows, self.weight, bias, eps)
        return out.reshape(x.shape), mean, var

    def backward(self, grad, grad_mean=None, grad_var=None):
        dx, dweight, dbias = kernels.batch_norm_backward(
            grad.reshape(self.xhat.shape), self.xhat, self.inv_std, self.weight)
        grads = [dx.reshape(self.shape) if self.needs_input_grad[0] else None]
        if self.has_weight:
            grads.append(dweight)
        if self.has_bias:
            grads.append(dbias)
        return tuple(grads)

    def flops(self, out, x, *params):
        return (5 + self.has_weight + self.has_bias) * x.size
