"""`Module`: the base of every layer and model, as in PyTorch.

A Module holds state only: Parameters, buffers (non-learnable arrays such as
BatchNorm's running statistics) and child Modules, all registered by plain
attribute assignment. `forward` says what to compute; calling the module runs
the forward hooks around it.
"""
from collections import OrderedDict, namedtuple

import numpy as np

from ..tensor import Tensor
from .parameter import Parameter

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class RemovableHandle:
    def __init__(self, registry, key):
        self._registry, self._key = registry, key

    def remove(self):
        self._registry.pop(self._key, None)


class Module:
    """Base class of layers and models.

    Example:
        >>> class Net(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc = nn.Linear(4, 2)      # registered as a child
        ...     def forward(self, x):
        ...         return self.fc(x).relu()
    """

    _hook_ids = 0

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self.__dict__.get("_buffer_names", ()):
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        for registry in ("_parameters", "_buffers", "_modules"):
            values = self.__dict__.get(registry)
            if values is not None and name in values:
                return values[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def register_buffer(self, name, tensor, persistent=True):
        """A non-learnable array saved in the state_dict (unless persistent=False) and converted by `to`."""
        self.__dict__.setdefault("_buffer_names", set()).add(name)
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor if tensor is None or isinstance(tensor, Tensor) else Tensor(tensor)
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        setattr(self, name, module)

    # --------------------------------------------------------------- traversal
    def named_modules(self, prefix=""):
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        """The modules of named_modules, in the same order, without building their names."""
        yield self
        for child in self._modules.values():
            if child is not None:
                yield from child.modules()

    def named_children(self):
        return ((n, m) for n, m in self._modules.items() if m is not None)

    def children(self):
        return (m for _, m in self.named_children())

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, p in module._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{module_prefix}.{name}" if module_prefix else name), p

    def parameters(self, recurse=True):
        """The parameters of named_parameters, in the same order, without building their names."""
        seen = set()
        for module in self.modules() if recurse else (self,):
            for p in module._parameters.values():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield p

    def named_buffers(self, prefix=""):
        for module_prefix, module in self.named_modules(prefix):
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{module_prefix}.{name}" if module_prefix else name), b

    def buffers(self):
        return (b for _, b in self.named_buffers())

    def apply(self, fn):
        """Call fn on every submodule (children first) and on self; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def to(self, dtype):
        """Convert every floating-point parameter and buffer to `dtype`, in place; returns self."""
        dtype = np.dtype(dtype)
        for t in list(self.parameters()) + list(self.buffers()):
            if t.dtype.kind == "f":
                t.data = t.data.astype(dtype)
                if t.grad is not None:
                    t.grad.data = t.grad.data.astype(dtype)
        return self

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    # ------------------------------------------------------------- state dict
    def state_dict(self, prefix=""):
        """Name -> ndarray copy of every parameter and persistent buffer (PyTorch's names)."""
        out = OrderedDict()
        for module_prefix, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if p is not None:
                    out[f"{module_prefix}.{name}" if module_prefix else name] = p.data.copy()
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    out[f"{module_prefix}.{name}" if module_prefix else name] = b.data.copy()
        return out

    def _state_tensors(self):
        tensors = OrderedDict()
        for module_prefix, module in self.named_modules():
            for registry, skip in ((module._parameters, ()), (module._buffers, module._non_persistent)):
                for name, t in registry.items():
                    if t is not None and name not in skip:
                        tensors[f"{module_prefix}.{name}" if module_prefix else name] = t
        return tensors

    def load_state_dict(self, state_dict, strict=True):
        """Copy values into the existing parameters and buffers, keeping their dtypes.

        Everything is checked before anything is written: missing or unexpected
        keys (with strict=True) and wrong shapes raise an error that names them,
        and the module is left exactly as it was.
        """
        own = self._state_tensors()
        given = {k: np.asarray(getattr(v, "data", v) if isinstance(v, Tensor) else _to_numpy(v)) for k, v in state_dict.items()}
        missing = [k for k in own if k not in given]
        unexpected = [k for k in given if k not in own]
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {unexpected}")
        wrong = [f"{k}: expected {own[k].shape}, got {given[k].shape}" for k in own if k in given and given[k].shape != own[k].shape]
        if wrong:
            problems.append("shape mismatch: " + "; ".join(wrong))
        if problems:
            raise RuntimeError(f"load_state_dict for {type(self).__name__}: " + " | ".join(problems) + " (nothing was loaded)")
        converted = {k: given[k].astype(own[k].dtype) for k in own if k in given}  # may raise: still nothing written
        for k, value in converted.items():
            own[k].data = value
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ calls
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks):  # the usual case: no copies of empty hook lists
            return self.forward(*args, **kwargs)
        for hook in list(self._forward_pre_hooks.values()):
            replaced = hook(self, args)
            if replaced is not None:
                args = replaced if isinstance(replaced, tuple) else (replaced,)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            replaced = hook(self, args, out)
            if replaced is not None:
                out = replaced
        return out

    def _add_hook(self, registry, hook):
        Module._hook_ids += 1
        registry[Module._hook_ids] = hook
        return RemovableHandle(registry, Module._hook_ids)

    def register_forward_hook(self, hook):
        """hook(module, inputs, output) runs after forward; a non-None result replaces the output."""
        return self._add_hook(self._forward_hooks, hook)

    def register_forward_pre_hook(self, hook):
        """hook(module, inputs) runs before forward; a non-None result replaces the inputs."""
        return self._add_hook(self._forward_pre_hooks, hook)

    # ------------------------------------------------------------------- repr
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"({name}): " + _indent(repr(child)) for name, child in self.named_children()]
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        body = ([extra] if extra else []) + lines
        return f"{type(self).__name__}(\n  " + "\n  ".join(body) + "\n)"


def _indent(text):
    return text.replace("\n", "\n  ")


def _to_numpy(value):
    """ndarrays pass; torch tensors (a state_dict taken from PyTorch) become ndarrays."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value
