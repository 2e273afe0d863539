"""Regression tests for the places where minidl differed from PyTorch: silent traps, edge-case
inputs and errors. Each compares with PyTorch itself where PyTorch has an answer."""
import numpy as np
import pytest

import minidl as md
import minidl.functional as F


def _pair(torch, values, dtype=np.float64):
    """The same leaf in both libraries."""
    a = np.asarray(values, dtype=dtype)
    return md.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _same(ours, theirs, **tol):
    np.testing.assert_allclose(np.asarray(ours.data if hasattr(ours, "data") else ours),
                               theirs.detach().numpy(), **(tol or dict(rtol=1e-12, atol=1e-12)))


# ----------------------------------------------------------------- silent traps
@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_and_min_along_a_dim_give_values_and_indices(torch_oracle, name, keepdim):
    data = [[1.0, 5.0, 5.0], [7.0, 2.0, 7.0]]  # ties: the gradient goes to the picked index only
    x, tx = _pair(torch_oracle, data)
    values, indices = getattr(x, name)(dim=1, keepdim=keepdim)
    expected = getattr(tx, name)(dim=1, keepdim=keepdim)
    _same(values, expected.values)
    np.testing.assert_array_equal(indices.data, expected.indices.numpy())
    result = getattr(x, name)(dim=1, keepdim=keepdim)
    assert np.array_equal(result.indices.data, result[1].data) and result.values.shape == result[0].shape
    (values * md.tensor([[3.0], [4.0]] if keepdim else [3.0, 4.0], dtype=np.float64)).sum().backward()
    (expected.values * torch_oracle.tensor([[3.0], [4.0]] if keepdim else [3.0, 4.0], dtype=torch_oracle.float64)).sum().backward()
    _same(x.grad, tx.grad)


def test_max_without_dim_is_the_value_and_amax_shares_ties(torch_oracle):
    x, tx = _pair(torch_oracle, [[1.0, 5.0, 5.0]])
    assert x.max().shape == () and float(x.max()) == 5.0
    x.amax(dim=1).sum().backward()
    torch_oracle.amax(tx, dim=1).sum().backward()
    _same(x.grad, tx.grad)


def test_a_second_backward_raises_unless_the_graph_was_retained(torch_oracle):
    x = md.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])  # not doubled

    x.grad = None
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    tx = torch_oracle.tensor([1.0, 2.0], requires_grad=True)
    ty = (tx * tx).sum()
    ty.backward(retain_graph=True)
    ty.backward()
    _same(x.grad, tx.grad)


def test_autograd_grad_frees_the_graph_too():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    md.autograd.grad(y, x, retain_graph=True)
    (g,) = md.autograd.grad(y, x)
    np.testing.assert_array_equal(g.data, [2.0, 4.0])
    with pytest.raises(RuntimeError, match="second time"):
        md.autograd.grad(y, x)


def test_a_backward_frees_what_the_nodes_saved():
    x = md.randn(4, 4, requires_grad=True)
    y = x.exp()
    node = y._ctx
    y.sum().backward()
    assert node.freed and not hasattr(node, "out")


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_a_batch_of_only_ignored_targets_gives_gradient_zero(torch_oracle, loss, reduction):
    x, tx = _pair(torch_oracle, np.random.default_rng(0).standard_normal((3, 4)))
    target = np.full(3, -100)
    out = getattr(F, loss)(x, target, reduction=reduction)
    expected = getattr(torch_oracle.nn.functional, loss)(tx, torch_oracle.tensor(target), reduction=reduction)
    np.testing.assert_array_equal(np.isnan(out.data), np.isnan(expected.detach().numpy()))
    out.backward()
    expected.backward()
    _same(x.grad, tx.grad)
    assert not np.isnan(x.grad.data).any()


@pytest.mark.parametrize("fn", ["relu", "elu", "abs", "leaky_relu", "gelu", "sigmoid", "tanh"])
def test_activations_at_nan_zero_and_signed_zero_match_pytorch(torch_oracle, fn):
    values = [np.nan, 0.0, -0.0, 1.0, -1.0, np.inf, -np.inf]
    x, tx = _pair(torch_oracle, values)
    ours = x.abs() if fn == "abs" else getattr(F, fn)(x)
    theirs = tx.abs() if fn == "abs" else getattr(torch_oracle.nn.functional, fn)(tx)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12)
    ours.backward(md.ones(7, dtype=np.float64))
    theirs.backward(torch_oracle.ones(7, dtype=torch_oracle.float64))
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12)


# ------------------------------------------------------------------- 0-d tensors
ZERO_D_OPS = {
    "exp": lambda m, x: x.exp(), "tanh": lambda m, x: x.tanh(), "relu": lambda m, x: m.relu(x),
    "erf": lambda m, x: m.erf(x) if m is F else x.erf(), "gelu": lambda m, x: m.gelu(x),
    "gelu_tanh": lambda m, x: m.gelu(x, approximate="tanh"), "elu": lambda m, x: m.elu(x),
    "softmax": lambda m, x: m.softmax(x, dim=0), "log_softmax": lambda m, x: m.log_softmax(x, dim=-1),
    "sigmoid": lambda m, x: m.sigmoid(x),
}


@pytest.mark.parametrize("name", ZERO_D_OPS)
def test_zero_d_tensors_stay_zero_d_forward_and_backward(torch_oracle, name):
    x, tx = _pair(torch_oracle, 0.5)
    ours, theirs = ZERO_D_OPS[name](F, x), ZERO_D_OPS[name](torch_oracle.nn.functional, tx)
    assert ours.shape == tuple(theirs.shape) == ()
    _same(ours, theirs)
    ours.backward()
    theirs.backward()
    assert x.grad.shape == ()
    _same(x.grad, tx.grad)


def test_zero_d_movement_and_argmax_follow_pytorch(torch_oracle):
    x, tx = _pair(torch_oracle, 2.0)
    assert x.squeeze(0).shape == tuple(tx.squeeze(0).shape) == ()
    assert x.transpose(0, 0).shape == tuple(tx.transpose(0, 0).shape) == ()
    assert x.transpose(-1, 0).shape == ()
    assert x.unsqueeze(0).shape == (1,) and x.unsqueeze(-1).shape == (1,)
    assert x.argmax(0, keepdim=True).shape == tuple(tx.argmax(0, keepdim=True).shape) == ()
    assert x.argmax().shape == () and x.argmax(keepdim=True).shape == ()
    with pytest.raises(IndexError, match="squeeze: dim 1 is out of range"):
        x.squeeze(1)


def test_argmax_keepdim_without_dim_keeps_every_dim(torch_oracle):
    a = np.arange(6.0).reshape(2, 3)
    assert md.tensor(a).argmax(keepdim=True).shape == tuple(torch_oracle.tensor(a).argmax(keepdim=True).shape)


# --------------------------------------------------------- empty and degenerate
def test_unbind_of_a_one_d_tensor_backpropagates(torch_oracle):
    x, tx = _pair(torch_oracle, [1.0, 2.0, 3.0])
    a, b, c = x.unbind()
    (a * 2 + c * 5).backward()
    ta, tb, tc = tx.unbind()
    (ta * 2 + tc * 5).backward()
    assert a.shape == ()
    _same(x.grad, tx.grad)


@pytest.mark.parametrize("shapes", [((5, 5, 0), (0, 5)), ((0, 3), (3, 4)), ((2, 0, 3), (3, 2)), ((4, 0), (0,))])
def test_matmul_with_a_zero_size_dim(torch_oracle, shapes):
    a, ta = _pair(torch_oracle, np.ones(shapes[0]))
    b, tb = _pair(torch_oracle, np.ones(shapes[1]))
    out, expected = a @ b, ta @ tb
    assert out.shape == tuple(expected.shape)
    _same(out, expected)
    reflected = np.ones(shapes[0]) @ b
    assert reflected.shape == tuple(expected.shape)
    out.sum().backward()
    expected.sum().backward()
    _same(a.grad, ta.grad)
    _same(b.grad, tb.grad)


@pytest.mark.parametrize("shape,args", [((2, 0, 3), ()), ((0, 3, 4), (1,)), ((3, 0), (0, 1)), ((2, 3, 0, 5), (1, 2))])
def test_flatten_with_a_zero_size_dim(torch_oracle, shape, args):
    assert md.zeros(*shape).flatten(*args).shape == tuple(torch_oracle.zeros(*shape).flatten(*args).shape)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_over_an_empty_dim(torch_oracle, fn):
    x, tx = _pair(torch_oracle, np.zeros((3, 0)))
    out, expected = getattr(F, fn)(x, dim=1), getattr(torch_oracle, fn)(tx, dim=1)
    assert out.shape == tuple(expected.shape) == (3, 0)
    out.sum().backward()
    assert x.grad.shape == (3, 0)


def test_softmax_with_a_bad_dim_names_softmax():
    with pytest.raises(IndexError, match="softmax: dim 5 is out of range"):
        F.softmax(md.ones(2, 3), dim=5)


# --------------------------------------------------------------- state dicts
@pytest.mark.parametrize("name", ["CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss"])
def test_loss_weights_are_buffers_in_the_state_dict(torch_oracle, name):
    weight = np.array([0.2, 0.3, 0.5], dtype=np.float32)
    ours = getattr(md.nn, name)(weight=md.tensor(weight))
    theirs = getattr(torch_oracle.nn, name)(weight=torch_oracle.tensor(weight))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() * 2 for k, v in theirs.state_dict().items()})
    np.testing.assert_array_equal(ours.weight.data, weight * 2)


def test_cross_entropy_label_smoothing_matches_pytorch(torch_oracle):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((6, 4, 3))
    target = np.array([[0, 1, -100], [3, 2, 1], [1, 1, 0], [2, 0, 3], [3, 3, -100], [0, 2, 1]])
    weight = np.array([0.5, 1.0, 2.0, 1.5])
    for kwargs in [{}, {"weight": weight}]:
        for reduction in ["mean", "sum", "none"]:
            x, tx = _pair(torch_oracle, logits)
            w = {k: md.tensor(v) for k, v in kwargs.items()}
            tw = {k: torch_oracle.tensor(v) for k, v in kwargs.items()}
            out = F.cross_entropy(x, target, reduction=reduction, label_smoothing=0.1, **w)
            expected = torch_oracle.nn.functional.cross_entropy(tx, torch_oracle.tensor(target), reduction=reduction,
                                                                label_smoothing=0.1, **tw)
            _same(out, expected)
            out.sum().backward()
            expected.sum().backward()
            _same(x.grad, tx.grad)
    layer = md.nn.CrossEntropyLoss(label_smoothing=0.2)
    expected = torch_oracle.nn.CrossEntropyLoss(label_smoothing=0.2)(torch_oracle.tensor(logits), torch_oracle.tensor(target))
    _same(layer(md.tensor(logits), target), expected)
