"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (PyTorch's rules)."""
from .. import kernels
from .optimizer import Optimizer


class SGD(Optimizer):
    """g = grad + weight_decay * p;  b = momentum * b + (1 - dampening) * g (b = g at the first step);
    step = g + momentum * b with nesterov, else b;  p = p - lr * step."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: lr, momentum and weight_decay must be >= 0; got {lr}, {momentum}, {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _update(self, p, grad, state, group):
        values, states = self._update_group([p], [grad], [state], group)
        return values[0], states[0]

    def _update_group(self, params, grads, states, group):  # one fused pass each, one call: minidl.kernels sgd_steps
        values, bufs = kernels.sgd_steps(
            [p.data for p in params], grads, [state.get("momentum_buffer") for state in states], group["lr"],
            group["momentum"], group["dampening"], group["weight_decay"], group["nesterov"], group["maximize"],
        )
        return values, [{} if buf is None else {"momentum_buffer": buf} for buf in bufs]
