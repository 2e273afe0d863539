"""`Function`: one differentiable primitive, on ndarrays.

A primitive is a short class with three methods (see DESIGN.md):
    forward(*arrays, **params) -> ndarray (or a tuple of ndarrays)
    backward(*grads)           -> one gradient per input (None where not needed)
    flops(out, *arrays)        -> how many floating-point operations forward did
    macs(out, *arrays)         -> multiply-accumulates (matmul-like primitives; FLOPs = 2*MACs + the rest)
`apply` wraps the inputs and output in Tensors and links the graph. Gradients
may be returned in the broadcast shape: the engine sums them back to each
input's shape in one place.
"""
import time
import weakref

from .grad_mode import is_grad_enabled

# Callables notified of every primitive run: `count_flops` and the summary use it.
_observers = []
# Active minidl.profiler.profile objects; empty (one falsy check per call) unless profiling.
_profilers = []
# Callables given every primitive run with its parameters, (ctx, out, arrays, params):
# the ONNX exporter's trace. Empty unless exporting.
_tracers = []
_Tensor = None  # minidl.tensor.Tensor, bound on first use (tensor.py imports this module)


def _tensor_class():
    global _Tensor
    from ..tensor import Tensor

    _Tensor = Tensor
    return Tensor


class Link:
    """How a node refers to an input that another node made: that node and which of its outputs,
    and the input's shape and dtype, but not the Tensor, so the graph does not keep every
    intermediate array alive (PyTorch's edges do the same). The Tensor is reached through a
    weak reference for retain_grad() and autograd.grad with respect to an intermediate."""

    __slots__ = ("_ctx", "_out_index", "shape", "dtype", "key", "_tensor")

    def __init__(self, tensor):
        self._ctx, self._out_index = tensor._ctx, tensor._out_index
        self.shape, self.dtype = tensor.data.shape, tensor.data.dtype
        self.key = id(tensor)
        self._tensor = weakref.ref(tensor)

    @property
    def tensor(self):
        """The Tensor, while something else holds it (else None)."""
        return self._tensor()


class Function:
    """Base class of primitives. An instance is the graph node of one call."""

    # Filled by apply when the node is recorded.
    parents = ()
    needs_input_grad = ()
    n_outputs = 1
    output_meta = ()
    freed = False  # set when a backward without retain_graph has dropped what the node saved

    def forward(self, *arrays, **params):
        raise NotImplementedError

    def backward(self, *grads):
        raise NotImplementedError(f"{type(self).__name__} is not differentiable")

    def flops(self, out, *arrays) -> int:
        """Floating-point operations of one forward call (default: one per output element)."""
        outs = out if isinstance(out, tuple) else (out,)
        return int(sum(o.size for o in outs))

    def macs(self, out, *arrays) -> int:
        """Multiply-accumulates of one forward call: non-zero only for matmul-like primitives."""
        return 0

    def save_for_backward(self, *arrays):
        self.saved = arrays

    @classmethod
    def apply(cls, *inputs, **params):
        """Run forward on the inputs' arrays and record the node when a gradient is needed.
        (Every op pays for this method on every call, so it avoids generators and imports.)"""
        Tensor = _Tensor or _tensor_class()
        ctx = cls()
        arrays = [t.data for t in inputs]
        try:
            if _profilers:
                start = time.perf_counter()
                out = ctx.forward(*arrays, **params)
                for profiler in _profilers:
                    profiler.record(ctx, "forward", time.perf_counter() - start, out, arrays)
            else:
                out = ctx.forward(*arrays, **params)
        except ValueError as exc:
            if "broadcast" in str(exc) and "could not be broadcast" in str(exc):
                shapes = " and ".join(str(a.shape) for a in arrays + [v for v in params.values() if hasattr(v, "shape")])
                raise ValueError(f"{cls.__name__.lower()}: shapes {shapes} do not broadcast (NumPy's rules, as PyTorch's: "
                                 "trailing dims must be equal or 1)") from None
            raise
        needs = [t.requires_grad for t in inputs]
        requires_grad = True in needs and is_grad_enabled()
        if requires_grad:
            ctx.parents = tuple(t if t._ctx is None else Link(t) for t in inputs)
            ctx.needs_input_grad = tuple(needs)
        for observer in _observers:
            observer(ctx, out, arrays)
        if _tracers:
            for tracer in _tracers:
                tracer(ctx, out, arrays, params)
        if isinstance(out, tuple):
            ctx.n_outputs = len(out)
            ctx.output_meta = tuple((o.shape, o.dtype) for o in out)
            return tuple(Tensor._wrap(o, requires_grad, ctx if requires_grad else None, i) for i, o in enumerate(out))
        return Tensor._wrap(out, requires_grad, ctx if requires_grad else None, 0)


class count_flops:
    """Context manager that adds up the FLOPs of every primitive run inside it.

    Example:
        >>> with md.autograd.count_flops() as counter:
        ...     y = x @ w
        >>> counter.total          # 2 * M * N * K
    """

    def __enter__(self):
        self.total = 0
        self.macs = 0
        self.by_op = {}
        _observers.append(self._record)
        return self

    def __exit__(self, *exc):
        _observers.remove(self._record)
        return False

    def _record(self, ctx, out, arrays):
        n = int(ctx.flops(out, *arrays))
        name = type(ctx).__name__
        self.total += n
        self.macs += int(ctx.macs(out, *arrays))
        self.by_op[name] = self.by_op.get(name, 0) + n
