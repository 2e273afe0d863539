"""Dropout and Dropout2d: zero elements (or whole channels) with probability p, in training mode only."""
from .. import functional as F
from .module import Module


class Dropout(Module):
    """Shape: any -> same."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1]; got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Dropout2d(Dropout):
    """Zeroes whole channels: each (n, c) feature map is kept, scaled by 1/(1-p), or dropped.
    Shape: (N, C, H, W) or (C, H, W) -> same."""

    def forward(self, x):
        if x.ndim not in (3, 4):
            raise ValueError(f"Dropout2d: expected input (N, C, H, W) or (C, H, W); got shape {x.shape}")
        return F.dropout2d(x, self.p, self.training)
