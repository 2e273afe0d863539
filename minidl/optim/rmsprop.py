"""RMSprop, with PyTorch's options (momentum, centered, weight decay) and state names."""
import numpy as np

from .optimizer import Optimizer


class RMSprop(Optimizer):
    """g = grad + weight_decay * p;  v = alpha * v + (1 - alpha) * g^2;
    centered: m = alpha * m + (1 - alpha) * g and the denominator is sqrt(v - m^2) + eps, else sqrt(v) + eps;
    with momentum, b = momentum * b + g / denominator and p = p - lr * b, else p = p - lr * g / denominator."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 maximize=False):
        if lr < 0 or eps < 0 or weight_decay < 0 or momentum < 0 or not 0 <= alpha <= 1:
            raise ValueError(f"RMSprop: lr, eps, weight_decay and momentum must be >= 0 and alpha in [0, 1]; got "
                             f"lr={lr}, eps={eps}, weight_decay={weight_decay}, momentum={momentum}, alpha={alpha}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _update(self, p, grad, state, group):
        alpha, eps, lr = group["alpha"], group["eps"], group["lr"]
        g = -grad if group["maximize"] else grad
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.data
        square_avg = state.get("square_avg", np.zeros_like(p.data)) * alpha + (1 - alpha) * g * g
        new = {"step": state.get("step", 0) + 1, "square_avg": square_avg}
        if group["centered"]:
            grad_avg = state.get("grad_avg", np.zeros_like(p.data)) * alpha + (1 - alpha) * g
            new["grad_avg"] = grad_avg
            denominator = np.sqrt(square_avg - grad_avg * grad_avg) + eps
        else:
            denominator = np.sqrt(square_avg) + eps
        if group["momentum"] > 0:
            buf = state.get("momentum_buffer", np.zeros_like(p.data)) * group["momentum"] + g / denominator
            new["momentum_buffer"] = buf
            return p.data - lr * buf, new
        return p.data - lr * g / denominator, new
