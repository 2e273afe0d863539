"""Reverse-mode differentiation over the graph of `Function` nodes.

The topological order is built with an explicit stack (no recursion), so a
chain of 100,000 nodes is fine. Gradients are summed back to each input's
shape here, in one place (`unbroadcast`), so primitives may return gradients
in the broadcast shape.
"""
import sys
import time

import numpy as np

from .function import Link, _profilers


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `grad` over the axes that broadcasting added or stretched to reach `shape`."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    if lead > 0:
        grad = grad.sum(axis=tuple(range(lead)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    if grad.shape != shape:
        raise RuntimeError(f"autograd: gradient of shape {grad.shape} does not fit input of shape {shape}")
    return grad


def _topological_order(root_ctx):
    """Nodes reachable from root_ctx, each after every node that consumes its outputs.

    Iterative depth-first post-order. A node is marked when it is expanded (not
    when pushed): marking on push would let a shared input finish before one
    of its consumers on a diamond such as softmax's exp -> (sum, div).
    """
    order, visited = [], set()
    stack = [(root_ctx, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node.parents:
            ctx = parent._ctx
            if ctx is not None and id(ctx) not in visited:
                stack.append((ctx, False))
    order.reverse()  # post-order reversed: consumers before producers
    return order


def _fit(grad, parent):
    """A gradient as an ndarray of its input's shape and dtype (parent: a leaf Tensor or a Link)."""
    shape, dtype = (parent.shape, parent.dtype) if type(parent) is Link else (parent.data.shape, parent.data.dtype)
    if type(grad) is not np.ndarray:
        grad = np.asarray(grad)
    if grad.shape != shape:
        grad = unbroadcast(grad, shape)
    return grad if grad.dtype == dtype else grad.astype(dtype)


def _accumulate_leaf(tensor, grads, i):
    """Add grads[i] into tensor.grad, taking it out of the engine's list.

    A tensor's first gradient is kept without a copy when nothing else holds the array
    (PyTorch's AccumulateGrad steals such a gradient too): taken out of the list, an
    array that backward made fresh has no other owner. One that backward also returned
    for another input, or that a primitive keeps, is copied.
    """
    grad, grads[i] = grads[i], None
    if tensor.grad is None:
        from ..tensor import Tensor

        refcount = sys.getrefcount(grad)  # on its own line: as an argument beside grad it would count twice
        owned = _sole_owner(grad, refcount)
        tensor.grad = Tensor._wrap(grad if owned and grad.dtype == tensor.dtype else np.array(grad, dtype=tensor.dtype))
    else:
        tensor.grad.data += grad


# Reference counts tell when a gradient array has no other owner. CPython up to 3.13
# counts every reference; 3.14 may skip counting borrowed stack references, which could
# make a shared array look unshared, so the check is off there.
_COUNTS_EVERY_REFERENCE = sys.implementation.name == "cpython" and sys.version_info < (3, 14)


def _sole_owner(array, refcount):
    """Only the caller holds `array` (`refcount`, its sys.getrefcount(array), counts the
    caller's local and the call's argument: 2), it can be written, and it owns its memory
    or is a whole-array view (e.g. a reshape of a fresh GEMM result) of a base nothing else holds."""
    if not (_COUNTS_EVERY_REFERENCE and refcount == 2 and array.flags.writeable):
        return False
    base = array.base
    if base is None:
        return True
    # the base's references: the view's, this local, getrefcount's argument
    return type(base) is np.ndarray and base.base is None and base.size == array.size and sys.getrefcount(base) == 3


def gradients(roots, root_grads, leaves=None, retain_graph=False):
    """Backpropagate `root_grads` from `roots`: visit the graph in topological order, and
    hand each node's output gradients to its backward, which gives its inputs' gradients.

    With `leaves=None`, gradients accumulate into `.grad` of every leaf that requires them
    (and of tensors that called `retain_grad()`); otherwise the gradients of the given
    tensors are returned and no `.grad` changes. Unless `retain_graph`, each node frees what
    it saved once its backward has run, as PyTorch does; a second backward through it raises.
    """
    wanted = None if leaves is None else {id(t): i for i, t in enumerate(leaves)}
    found = [None] * (0 if leaves is None else len(leaves))
    pending = {}  # id(node) -> [gradient of each of its outputs, summed over consumers]

    def send(tensor, grads, i):
        """Give grads[i] to `tensor` (a Tensor, or the Link to one): to the caller (wanted), its .grad
        (leaf or retained), its node. (No local names the array on the leaf's path, so
        _accumulate_leaf can tell if it is shared.)"""
        linked = type(tensor) is Link
        if wanted is not None:
            j = wanted.get(tensor.key if linked else id(tensor))
            if j is not None:
                found[j] = grads[i] if found[j] is None else found[j] + grads[i]
        elif tensor._ctx is None:
            _accumulate_leaf(tensor, grads, i)
            return
        else:
            held = tensor.tensor if linked else tensor
            if held is not None and held._retains_grad:
                _accumulate_leaf(held, [grads[i]], 0)  # the node below still needs it: never kept as is
        if tensor._ctx is not None:
            slots = pending.setdefault(id(tensor._ctx), [None] * tensor._ctx.n_outputs)
            k = tensor._out_index
            slots[k] = grads[i] if slots[k] is None else slots[k] + grads[i]

    for root, grad in zip(roots, root_grads):
        send(root, [grad], 0)

    for node in _topological_order(_Roots(roots))[1:]:  # [0] is the virtual root
        out_grads = pending.pop(id(node), None)
        if out_grads is None:
            continue  # no gradient flows through this node
        if node.freed:
            raise RuntimeError(
                f"backward: trying to backward through the graph a second time: {type(node).__name__}'s saved "
                "values were freed by the first backward. Pass retain_graph=True to the first backward "
                "(or autograd.grad) to keep them"
            )
        if node.n_outputs > 1:  # an output nobody used gets a zero gradient
            out_grads = [np.zeros(shape, dtype) if g is None else g for g, (shape, dtype) in zip(out_grads, node.output_meta)]
        if _profilers:
            in_grads = _timed_backward(node, out_grads)
        else:
            in_grads = node.backward(*out_grads)
        in_grads = list(in_grads) if isinstance(in_grads, tuple) else [in_grads]
        for i, parent in enumerate(node.parents[: len(in_grads)]):
            if node.needs_input_grad[i] and in_grads[i] is not None:
                in_grads[i] = _fit(in_grads[i], parent)
                send(parent, in_grads, i)
        if not retain_graph:
            _free(node)
    return found


def _free(node):
    """Drop what the node saved for its backward, and its links to its inputs (the walk stops there)."""
    node.__dict__.clear()
    node.freed = True


def _timed_backward(node, out_grads):
    start = time.perf_counter()
    in_grads = node.backward(*out_grads)
    for profiler in _profilers:
        profiler.record(node, "backward", time.perf_counter() - start)
    return in_grads


class _Roots:
    """A virtual node whose inputs are the roots, so several roots share one order."""

    def __init__(self, roots):
        self.parents = roots


def backward(tensor, grad=None, retain_graph=False):
    """`tensor.backward(grad)`: accumulate d(tensor)/d(leaf) into every leaf's `.grad`."""
    if not tensor.requires_grad:
        raise RuntimeError("backward: the tensor does not require grad and has no graph")
    if grad is None:
        if tensor.data.size != 1:
            raise RuntimeError(
                f"backward: grad can be implicitly created only for a scalar output; got shape {tensor.shape}. "
                "Pass a gradient of the same shape, e.g. y.backward(md.ones_like(y))"
            )
        grad = np.ones(tensor.shape, dtype=tensor.dtype)
    else:
        grad = np.asarray(getattr(grad, "data", grad), dtype=tensor.dtype)
        if grad.shape != tensor.shape:
            raise RuntimeError(f"backward: grad has shape {grad.shape} but the tensor has shape {tensor.shape}")
    gradients([tensor], [grad], retain_graph=retain_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=False):
    """Gradients of `outputs` with respect to `inputs`, returned without touching `.grad`.
    The graph is freed afterwards unless `retain_graph`.

    Shape: each returned gradient has its input's shape (None when unreachable).
    """
    from ..tensor import Tensor

    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    seeds = []
    for out, g in zip(outputs, grad_outputs):
        if g is None:
            if out.data.size != 1:
                raise RuntimeError(f"grad: grad_outputs needed for non-scalar output of shape {out.shape}")
            g = np.ones(out.shape, dtype=out.dtype)
        seeds.append(np.asarray(getattr(g, "data", g), dtype=out.dtype))
    found = gradients(outputs, seeds, leaves=inputs, retain_graph=retain_graph)
    return [None if g is None else Tensor._wrap(g) for g in found]
