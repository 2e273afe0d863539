"""`Parameter`: a Tensor that a Module registers as learnable (requires_grad by default)."""
import numpy as np

from ..tensor import Tensor, as_array


class Parameter(Tensor):
    """A learnable tensor; assigning one to a Module attribute registers it.

    Example:
        >>> self.weight = nn.Parameter(md.zeros(3, 4))
    """

    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        super().__init__(as_array(data), requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def is_float(array) -> bool:
    return np.asarray(array).dtype.kind == "f"
