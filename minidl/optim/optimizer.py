"""`Optimizer`: parameter groups, per-parameter state, and an all-or-nothing step.

A step first computes every new value (and new state) into fresh arrays, then
assigns them all; if anything fails on the way (a gradient of the wrong shape,
a non-finite value with check_finite=True), no parameter has changed.
"""
import copy

import numpy as np


class Optimizer:
    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = []
        for group in groups:
            filled = dict(self.defaults)
            filled.update(group)
            filled["params"] = list(group["params"])
            self.param_groups.append(filled)
        self.state = {}  # id(param) -> dict of arrays and counters

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    def _update(self, p, grad, state, group):
        """Return (new parameter array, new state dict) without changing anything."""
        raise NotImplementedError

    def _update_group(self, params, grads, states, group):
        """(new values, new states) of one group's parameters, without changing anything: one
        _update each, unless the optimizer updates a whole group in one kernel call."""
        updates = [self._update(p, grad, state, group) for p, grad, state in zip(params, grads, states)]
        return [value for value, _ in updates], [state for _, state in updates]

    def step(self):
        updates = []
        for group in self.param_groups:
            params, grads = [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.data
                if grad.shape != p.shape:
                    raise ValueError(f"{type(self).__name__}.step: gradient of shape {grad.shape} for a parameter of shape {p.shape}")
                params.append(p)
                grads.append(grad.astype(p.dtype, copy=False))
            states = [self.state.get(id(p), {}) for p in params]
            updates.extend(zip(params, *self._update_group(params, grads, states, group)))
        for p, value, state in updates:  # nothing above wrote; now write everything
            p.data = value.astype(p.dtype, copy=False)
            self.state[id(p)] = state

    # ------------------------------------------------------------ state dict
    def state_dict(self):
        """PyTorch's layout: {'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[pid]: copy.deepcopy(s) for pid, s in self.state.items() if pid in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(g["params"]) != len(own["params"]) for g, own in zip(groups, self.param_groups)
        ):
            raise ValueError(f"{type(self).__name__}.load_state_dict: parameter groups do not match this optimizer's")
        params = [p for group in self.param_groups for p in group["params"]]
        new_state = {}
        for key, s in state_dict["state"].items():
            p = params[int(key)]
            for name, value in s.items():
                if isinstance(value, np.ndarray) and value.shape not in ((), p.shape):
                    raise ValueError(f"{type(self).__name__}.load_state_dict: state '{name}' of parameter {key} has shape {value.shape}, expected {p.shape}")
            new_state[id(p)] = {k: (np.array(v) if isinstance(v, np.ndarray) else v) for k, v in s.items()}
        for own, given in zip(self.param_groups, groups):
            own.update({k: v for k, v in given.items() if k != "params"})
        self.state = new_state
