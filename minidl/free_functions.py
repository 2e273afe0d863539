"""Free functions with PyTorch's names: `md.exp(x)` is `x.exp()`, `md.sum(x, dim)` is `x.sum(dim)`.

Each accepts a Tensor (or anything `md.tensor` takes) and calls the method, so the two
spellings can never differ.
"""
from .tensor import Tensor


def _method(name, doc):
    def function(input, *args, **kwargs):
        if not isinstance(input, Tensor):
            input = Tensor(input)
        return getattr(input, name)(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"`md.{name}(x, ...)` is `x.{name}(...)`: {doc}"
    return function


_METHODS = {
    "exp": "e to the x. Shape: any -> same.",
    "log": "natural logarithm. Shape: any -> same.",
    "sqrt": "square root. Shape: any -> same.",
    "abs": "absolute value. Shape: any -> same.",
    "tanh": "hyperbolic tangent. Shape: any -> same.",
    "sigmoid": "logistic function. Shape: any -> same.",
    "relu": "max(x, 0). Shape: any -> same.",
    "erf": "error function. Shape: any -> same.",
    "pow": "x ** exponent. Shape: any -> same.",
    "clamp": "clamp into [min, max]. Shape: any -> same.",
    "clip": "clamp into [min, max]. Shape: any -> same.",
    "sum": "sum over dims. Shape: reduced.",
    "mean": "mean over dims. Shape: reduced.",
    "var": "variance over dims. Shape: reduced.",
    "std": "standard deviation over dims. Shape: reduced.",
    "max": "the maximum, or (values, indices) along dim. Shape: reduced.",
    "min": "the minimum, or (values, indices) along dim. Shape: reduced.",
    "amax": "largest values over dims. Shape: reduced.",
    "amin": "smallest values over dims. Shape: reduced.",
    "argmax": "index of the maximum. Shape: reduced.",
    "argmin": "index of the minimum. Shape: reduced.",
    "softmax": "softmax along dim. Shape: any -> same.",
    "log_softmax": "log-softmax along dim. Shape: any -> same.",
    "reshape": "the same data in a new shape.",
    "flatten": "dims start_dim..end_dim merged.",
    "transpose": "two dims swapped.",
    "permute": "dims reordered.",
    "squeeze": "size-1 dims dropped.",
    "unsqueeze": "a size-1 dim inserted.",
    "unbind": "the slices along dim.",
    "clone": "a copy that stays in the graph.",
    "masked_fill": "value where mask is True.",
    "t": "the transpose of a matrix.",
}

globals().update({name: _method(name, doc) for name, doc in _METHODS.items()})

__all__ = sorted(_METHODS)
