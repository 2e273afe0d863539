"""Loss layers: thin wrappers over the functional losses (same arguments as PyTorch)."""
from .. import functional as F
from .module import Module


class CrossEntropyLoss(Module):
    """Shape: logits (N, C) or (N, C, d...), target (N,) or (N, d...) of class indices -> scalar.

    `weight` (C,) is a buffer, as in PyTorch: it is in the state_dict and follows `to`.
    """

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__()
        self.register_buffer("weight", weight)
        self.ignore_index, self.reduction, self.label_smoothing = ignore_index, reduction, label_smoothing

    def forward(self, logits, target):
        return F.cross_entropy(logits, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)


class NLLLoss(Module):
    """Shape: log-probabilities (N, C), target (N,) -> scalar. `weight` is a buffer, as above."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__()
        self.register_buffer("weight", weight)
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, log_probs, target):
        return F.nll_loss(log_probs, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(Module):
    """Shape: prediction (*), target (*) -> scalar."""

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, prediction, target):
        return F.mse_loss(prediction, target, self.reduction)


class BCEWithLogitsLoss(Module):
    """Shape: logits (*), target (*) -> scalar."""

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__()
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)
        self.reduction = reduction

    def forward(self, logits, target):
        return F.binary_cross_entropy_with_logits(logits, target, self.weight, self.pos_weight, self.reduction)
