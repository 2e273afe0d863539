"""Adam and AdamW (decoupled weight decay), with bias correction and optional AMSGrad."""
import numpy as np

from .. import kernels
from .optimizer import Optimizer


class Adam(Optimizer):
    """m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= lr * m_hat / (sqrt(v_hat) + eps)."""

    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        if lr < 0 or eps < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"{type(self).__name__}: invalid lr {lr}, eps {eps} or betas {betas}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad))

    def _update(self, p, grad, state, group):
        (b1, b2), lr, wd = group["betas"], group["lr"], group["weight_decay"]
        step = state.get("step", 0) + 1
        if not group["amsgrad"]:  # the common case: one fused pass (minidl.kernels adam_step)
            value, m, v = kernels.adam_step(
                p.data, grad, state.get("exp_avg", 0), state.get("exp_avg_sq", 0), step,
                lr, b1, b2, group["eps"], wd, self.decoupled,
            )
            return value, {"step": step, "exp_avg": m, "exp_avg_sq": v}
        # AMSGrad divides by the running maximum of v: plain NumPy
        value = p.data
        if wd and self.decoupled:
            value = value * (1 - lr * wd)
        elif wd:
            grad = grad + wd * value
        m = b1 * state.get("exp_avg", 0) + (1 - b1) * grad
        v = b2 * state.get("exp_avg_sq", 0) + (1 - b2) * grad * grad
        v_max = np.maximum(state.get("max_exp_avg_sq", 0), v)
        m_hat = m / (1 - b1**step)
        denominator = np.sqrt(v_max / (1 - b2**step)) + group["eps"]
        new_state = {"step": step, "exp_avg": m, "exp_avg_sq": v, "max_exp_avg_sq": v_max}
        return value - lr * m_hat / denominator, new_state


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam step."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
