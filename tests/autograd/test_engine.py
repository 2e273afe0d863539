"""The backward engine: order, accumulation, deep graphs, grad mode, errors."""
import weakref

import numpy as np
import pytest

import minidl as md
import minidl.functional as F
from minidl.autograd import engine


def test_deep_chain_of_100k_nodes_backpropagates_without_recursion():
    x = md.tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    assert x.grad.numpy().tolist() == [1.0]


def test_gradients_accumulate_across_backward_calls():
    x = md.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])


def test_shared_input_on_a_diamond_gets_both_paths():
    # y = a*b + a*c with b = c = a: dy/da = 4a
    a = md.tensor(np.array([1.5]), requires_grad=True)
    b = a * 1.0
    c = a + 0.0
    (a * b + a * c).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [6.0])


def test_backward_on_non_scalar_without_grad_names_the_shape():
    y = md.tensor(np.ones((3, 4)), requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"scalar output; got shape \(3, 4\)"):
        y.backward()


def test_backward_with_explicit_grad_of_wrong_shape_is_rejected():
    y = md.tensor(np.ones((3, 4)), requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"grad has shape \(4,\)"):
        y.backward(np.ones(4))


def test_backward_on_tensor_without_graph_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        md.tensor([1.0, 2.0]).sum().backward()


def test_no_grad_records_nothing_and_restores_mode():
    x = md.tensor([1.0], requires_grad=True)
    with md.no_grad():
        y = x * 2
        assert not md.is_grad_enabled()
    assert md.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf

    @md.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad


def test_enable_grad_inside_no_grad():
    x = md.tensor([1.0], requires_grad=True)
    with md.no_grad():
        with md.enable_grad():
            y = x * 2
    assert y.requires_grad


def test_detach_cuts_the_graph_and_shares_data():
    x = md.tensor(np.array([1.0, 2.0]), requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    (x * d).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_retain_grad_keeps_intermediate_gradient():
    x = md.tensor(np.array([1.0, -2.0]), requires_grad=True)
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.numpy())
    np.testing.assert_allclose(x.grad.numpy(), 18 * x.numpy())


def test_autograd_grad_returns_gradients_without_touching_dot_grad():
    x = md.tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = md.tensor(np.array([3.0, 4.0]), requires_grad=True)
    gx, gw = md.autograd.grad((x * w).sum(), [x, w])
    np.testing.assert_allclose(gx.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(gw.numpy(), [1.0, 2.0])
    assert x.grad is None and w.grad is None


def test_float32_leaves_get_float32_gradients_from_mixed_graphs():
    w = md.randn(3, 2, requires_grad=True)
    x = md.tensor(np.random.default_rng(0).standard_normal((4, 3)))  # float64 data
    (x @ w).sum().backward()
    assert w.grad.dtype == np.float32


def test_requires_grad_needs_floating_point():
    with pytest.raises(TypeError, match="int64"):
        md.tensor([1, 2], requires_grad=True)


def test_graph_only_on_inputs_that_require_grad():
    x = md.tensor(np.array([1.0, 2.0]), requires_grad=True)
    c = md.tensor(np.array([5.0, 6.0]))
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 6.0])


def test_integer_index_into_shared_rows_accumulates():
    w = md.tensor(np.zeros((3, 2)), requires_grad=True)
    F.embedding(np.array([0, 0, 2, 0]), w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [[3, 3], [0, 0], [1, 1]])


def test_count_flops_sees_every_primitive():
    a, b = md.randn(8, 16), md.randn(16, 4)
    with md.count_flops() as counter:
        (a @ b).relu().sum()
    assert counter.by_op == {"MatMul": 2 * 8 * 16 * 4, "Relu": 8 * 4, "Sum": 8 * 4}
    assert counter.total == sum(counter.by_op.values())


# The engine keeps a leaf's first gradient without copying it when nothing else
# references the array (as PyTorch's AccumulateGrad does); these check that it
# does so, and that it never lets two gradients, or a gradient and the graph, share memory.
class _ReturnsFresh(md.autograd.Function):
    """y = 2x; remembers (weakly) the gradient array it hands back."""

    def forward(self, x):
        return 2 * x

    def backward(self, grad):
        out = 2 * grad
        _ReturnsFresh.last = weakref.ref(out)
        return out


class _ReturnsKept(md.autograd.Function):
    """y = 2x; keeps the gradient array it hands back (so it must be copied)."""

    def forward(self, x):
        return 2 * x

    def backward(self, grad):
        self.kept = 2 * grad
        return self.kept


def test_an_unshared_first_gradient_is_kept_without_a_copy():
    x = md.randn(3, 4, requires_grad=True)
    _ReturnsFresh.apply(x).sum().backward()
    if engine._COUNTS_EVERY_REFERENCE:
        assert x.grad.data is _ReturnsFresh.last()
    np.testing.assert_array_equal(x.grad.data, np.full((3, 4), 2, np.float32))


def test_a_gradient_the_function_still_holds_is_copied():
    x = md.randn(3, 4, requires_grad=True)
    y = _ReturnsKept.apply(x)
    y.sum().backward(retain_graph=True)  # so the node still holds its array afterwards
    ctx = y._ctx
    assert not np.shares_memory(x.grad.data, ctx.kept)
    x.grad.data += 1  # the user's in-place change must not reach the graph's array
    np.testing.assert_array_equal(ctx.kept, np.full((3, 4), 2, np.float32))


def test_one_array_returned_for_two_inputs_gives_two_independent_gradients():
    x = md.randn(3, 4, requires_grad=True)
    y = md.randn(3, 4, requires_grad=True)
    ((x + y) * 2).sum().backward()  # Add hands back one (fresh) array for both inputs
    assert not np.shares_memory(x.grad.data, y.grad.data)
    x.grad.data += 5
    np.testing.assert_array_equal(y.grad.data, np.full((3, 4), 2, np.float32))


def test_kept_gradients_accumulate_correctly_over_repeated_backward():
    x = md.randn(2, 5, requires_grad=True)
    for _ in range(3):
        (x * x).sum().backward()  # x appears twice: the second gradient adds into the first
    np.testing.assert_allclose(x.grad.data, 6 * x.data, rtol=1e-6)


def test_a_retained_intermediate_gradient_is_not_shared_with_the_rest_of_the_graph():
    x = md.randn(3, requires_grad=True)
    y = x * 3
    y.retain_grad()
    (y * 2 + y * 5).sum().backward()  # y gets two contributions before passing one on
    np.testing.assert_allclose(y.grad.data, np.full(3, 7.0), rtol=1e-6)
    np.testing.assert_allclose(x.grad.data, np.full(3, 21.0), rtol=1e-6)


class _ReturnsReshapedFresh(md.autograd.Function):
    """y = 2x; hands back a reshaped view of a fresh array (as Linear's backward does)."""

    def forward(self, x):
        return 2 * x

    def backward(self, grad):
        flat = 2 * grad.reshape(-1)
        _ReturnsReshapedFresh.last_base = weakref.ref(flat)
        return flat.reshape(grad.shape)


class _ReturnsViewOfKept(md.autograd.Function):
    """y = 2x; hands back a view of an array it keeps (must be copied)."""

    def forward(self, x):
        return 2 * x

    def backward(self, grad):
        self.kept = 2 * grad.reshape(-1)
        return self.kept.reshape(grad.shape)


def test_a_whole_view_of_an_unshared_array_is_kept_and_a_view_of_a_held_one_is_copied():
    x = md.randn(3, 4, requires_grad=True)
    _ReturnsReshapedFresh.apply(x).sum().backward()
    if engine._COUNTS_EVERY_REFERENCE:
        assert x.grad.data.base is _ReturnsReshapedFresh.last_base()
    y = md.randn(3, 4, requires_grad=True)
    out = _ReturnsViewOfKept.apply(y)
    out.sum().backward(retain_graph=True)
    assert not np.shares_memory(y.grad.data, out._ctx.kept)
    y.grad.data += 1
    np.testing.assert_array_equal(out._ctx.kept, np.full(12, 2, np.float32))


def test_grad_mode_is_per_thread_and_new_threads_start_enabled():
    import threading

    from minidl.autograd.grad_mode import is_grad_enabled

    seen = {}

    def other():
        seen["start"] = is_grad_enabled()
        with md.no_grad():
            seen["inside"] = is_grad_enabled()

    with md.no_grad():
        worker = threading.Thread(target=other)
        worker.start()
        worker.join()
        assert not is_grad_enabled()  # the other thread's no_grad did not leak here, nor ours there
    assert seen == {"start": True, "inside": False} and is_grad_enabled()


def test_the_graph_keeps_no_intermediate_array_alive():
    """Nodes link to the nodes that made their inputs, not to the tensors: an intermediate array
    lives only while an op saved it or the user holds it (as in PyTorch)."""
    import gc
    import weakref

    x = md.randn(1000, requires_grad=True)
    h = x * 2  # Mul keeps x (a leaf) and the constant 2, not its output
    dropped = weakref.ref(h.data)
    y = (h + 1).sum()  # Add keeps nothing
    del h
    gc.collect()
    assert dropped() is None
    y.backward()
    np.testing.assert_array_equal(x.grad.data, np.full(1000, 2, np.float32))


def test_retain_grad_and_autograd_grad_still_reach_an_intermediate_the_user_holds():
    x = md.randn(3, requires_grad=True)
    h = (x * 3).retain_grad()
    (h.exp()).sum().backward()
    np.testing.assert_allclose(h.grad.data, np.exp(h.data), rtol=1e-6)
    x2 = md.randn(3, requires_grad=True)
    h2 = x2 * 3
    (g,) = md.autograd.grad((h2 * h2).sum(), h2)
    np.testing.assert_allclose(g.data, 2 * h2.data, rtol=1e-6)
