"""Layer normalisation as one primitive (kernels: layer_norm_forward/backward).

Shape: x (*, D1..Dk) normalised over its last k dims; weight, bias (D1..Dk) or absent -> same as x.
FLOPs (the count of the composite it replaces): 5 per element (mean, centre, square,
mean, scale), 1 more each for weight and bias, and 2 per row (variance + eps, square root).
"""
import numpy as np

from .. import kernels
from ..autograd.function import Function


class LayerNorm(Function):
    def forward(self, x, *params, normalized_dims, eps, has_weight, has_bias):
        self.shape, self.has_weight, self.has_bias = x.shape, has_weight, has_bias
        width = int(np.prod(x.shape[x.ndim - normalized_dims :]))
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
