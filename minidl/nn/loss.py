"""Loss layers: thin wrappers over the functional losses (same arguments as PyTorch)."""
from .. import functional as F
from .module import Module


class CrossEntropyLoss(Module):
    """Shape: logits (N, C) or (N, C, d...), target (N,) or (N, d...) of class indices -> scalar."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__()
        self.weight, self.ignore_index, self.reduction = weight, ignore_index, reduction

    def forward(self, logits, target):
        return F.cross_entropy(logits, target, self.weight, self.ignore_index, self.reduction)


class NLLLoss(CrossEntropyLoss):
    """Shape: log-probabilities (N, C), target (N,) -> scalar."""

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
        self.weight, self.reduction, self.pos_weight = weight, reduction, pos_weight

    def forward(self, logits, target):
        return F.binary_cross_entropy_with_logits(logits, target, self.weight, self.pos_weight, self.reduction)
