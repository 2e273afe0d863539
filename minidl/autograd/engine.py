"""Reverse-mode differentiation over the graph of `Function` nodes.

The topological order is built with an explicit stack (no recursion), so a
chain of 100,000 nodes is fine. Gradients are summed back to each input's
shape here, in one place (`unbroadcast`), so primitives may return gradients
in the broadcast shape.
"""
import numpy as np


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


def _accumulate_leaf(tensor, grad):
    if tensor.grad is None:
        from ..tensor import Tensor

        tensor.grad = Tensor._wrap(np.array(grad, dtype=tensor.dtype, copy=True))
    else:
        tensor.grad.data += grad


def gradients(roots, root_grads, leaves=None):
    """Backpropagate `root_grads` from `roots`.

    With `leaves=None`, gradients accumulate into `.grad` of every leaf that
    requires them (and of tensors that called `retain_grad()`); otherwise the
    gradients of the given tensors are returned and no `.grad` changes.
    """
    wanted = None if leaves is None else {id(t): i for i, t in enumerate(leaves)}
    found = [None] * (0 if leaves is None else len(leaves))

    def deliver(tensor, grad):
        if wanted is not None:
            i = wanted.get(id(tensor))
            if i is not None:
                found[i] = grad if found[i] is None else found[i] + grad
            return
        if tensor._ctx is None or tensor._retains_grad:
            _accumulate_leaf(tensor, grad)

    pending = {}  # id(ctx) -> list of gradients, one per output

    def push(tensor, grad):
        deliver(tensor, grad)
        if tensor._ctx is not None:
            slots = pending.setdefault(id(tensor._ctx), [None] * tensor._ctx.n_outputs)
            i = tensor._out_index
            slots[i] = grad if slots[i] is None else slots[i] + grad

    for root, grad in zip(roots, root_grads):
        push(root, grad)

    order = _topological_order(_Roots(roots))[1:]  # [0] is the virtual root

    for ctx in order:
        out_grads = pending.pop(id(ctx), None)
        if out_grads is None:
            continue
        if ctx.n_outputs == 1:
            in_grads = ctx.backward(out_grads[0])
        else:
            out_grads = [
                np.zeros(shape, dtype) if g is None else g for g, (shape, dtype) in zip(out_grads, ctx.output_meta)
            ]
            in_grads = ctx.backward(*out_grads)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        for parent, grad, needed in zip(ctx.parents, in_grads, ctx.needs_input_grad):
            if not needed or grad is None:
                continue
            grad = unbroadcast(np.asarray(grad), parent.shape)
            if grad.dtype != parent.dtype:
                grad = grad.astype(parent.dtype)
            push(parent, grad)
    return found


class _Roots:
    """A virtual node whose inputs are the roots, so several roots share one order."""

    def __init__(self, roots):
        self.parents = roots


def backward(tensor, grad=None):
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
    gradients([tensor], [grad])


def grad(outputs, inputs, grad_outputs=None):
    """Gradients of `outputs` with respect to `inputs`, returned without touching `.grad`.

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
    found = gradients(outputs, seeds, leaves=inputs)
    return [None if g is None else Tensor._wrap(g) for g in found]
