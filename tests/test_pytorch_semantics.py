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


# ----------------------------------------------------------- missing arguments
@pytest.mark.parametrize("args", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                  dict(kernel_size=3, stride=2, ceil_mode=True), dict(kernel_size=2, stride=1, dilation=2)])
def test_max_pool2d_return_indices_match_pytorch(torch_oracle, args):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 6))
    out, indices = F.max_pool2d(md.tensor(x), return_indices=True, **args)
    expected, expected_indices = torch_oracle.nn.functional.max_pool2d(torch_oracle.tensor(x), return_indices=True, **args)
    _same(out, expected)
    np.testing.assert_array_equal(indices.data, expected_indices.numpy())
    layer_out, layer_indices = md.nn.MaxPool2d(return_indices=True, **args)(md.tensor(x))
    np.testing.assert_array_equal(layer_indices.data, expected_indices.numpy())


def test_max_pool1d_return_indices_match_pytorch(torch_oracle):
    x = np.random.default_rng(0).standard_normal((2, 3, 9))
    out, indices = F.max_pool1d(md.tensor(x), 3, 2, return_indices=True, ceil_mode=True)
    expected, expected_indices = torch_oracle.nn.functional.max_pool1d(torch_oracle.tensor(x), 3, 2, return_indices=True,
                                                                       ceil_mode=True)
    _same(out, expected)
    np.testing.assert_array_equal(indices.data, expected_indices.numpy())


@pytest.mark.parametrize("correction", [0, 1, 2])
def test_var_and_std_with_correction(torch_oracle, correction):
    for name in ("var", "std"):
        x, tx = _pair(torch_oracle, np.random.default_rng(1).standard_normal((4, 5)))
        ours = getattr(x, name)(dim=1, correction=correction)
        theirs = getattr(tx, name)(dim=1, correction=correction)
        _same(ours, theirs)
        ours.sum().backward()
        theirs.sum().backward()
        _same(x.grad, tx.grad)


def test_std_of_equal_values_has_gradient_zero_not_nan(torch_oracle):
    x, tx = _pair(torch_oracle, [[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]])
    x.std(dim=1).sum().backward()
    tx.std(dim=1).sum().backward()
    _same(x.grad, tx.grad)
    assert not np.isnan(x.grad.data).any()


def test_batch_norm_with_momentum_none_keeps_the_cumulative_average(torch_oracle):
    ours, theirs = md.nn.BatchNorm1d(3, momentum=None), torch_oracle.nn.BatchNorm1d(3, momentum=None)
    rng = np.random.default_rng(0)
    for _ in range(4):
        batch = rng.standard_normal((6, 3)).astype(np.float32) * 3 + 1
        ours(md.tensor(batch))
        theirs(torch_oracle.tensor(batch))
    np.testing.assert_allclose(ours.running_mean.data, theirs.running_mean.numpy(), rtol=1e-5)
    np.testing.assert_allclose(ours.running_var.data, theirs.running_var.numpy(), rtol=1e-5)


# ----------------------------------------------------------------------- idioms
def test_tensor_idioms_match_pytorch(torch_oracle):
    a = np.random.default_rng(0).standard_normal((2, 3))
    x, tx = md.tensor(a), torch_oracle.tensor(a)
    for name in ("long", "int", "bool", "float", "double"):
        assert np.dtype(getattr(x, name)().dtype) == np.dtype(str(getattr(tx, name)().dtype).replace("torch.", ""))
        _same(getattr(x, name)().to(np.float64), getattr(tx, name)().double())
    assert x.device == "cpu" and str(tx.device) == "cpu"
    assert x.to("cpu") is x and x.cpu() is x and x.to(device="cpu") is x
    with pytest.raises(ValueError, match="CPU only"):
        x.to("cuda")
    assert x.type_as(md.tensor([1], dtype=np.int64)).dtype == np.int64
    _same(x.t(), tx.t())
    _same(md.tensor(np.ones(3)).t(), torch_oracle.ones(3, dtype=torch_oracle.float64).t())
    with pytest.raises(ValueError, match="at most 2 dims"):
        md.zeros(2, 2, 2).t()


def test_clone_is_a_copy_in_the_graph():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    y = x.clone()
    assert not np.shares_memory(x.data, y.data)
    (y * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_creation_functions_match_pytorch(torch_oracle):
    _same(md.eye(3, 4), torch_oracle.eye(3, 4))
    _same(md.linspace(-1, 2, 7), torch_oracle.linspace(-1, 2, 7), rtol=1e-6)
    assert md.eye(2).dtype == np.float32 and md.linspace(0, 1, 3).dtype == np.float32
    array = np.arange(4.0)
    shared = md.from_numpy(array)
    array[0] = 7
    assert shared.dtype == np.float64 and shared.data[0] == 7  # shares memory, as torch.from_numpy
    md.manual_seed(0)
    r = md.randint(2, 5, (100,))
    assert r.dtype == np.int64 and r.shape == (100,) and set(r.data.tolist()) == {2, 3, 4}
    assert md.randint(3, (2, 2)).shape == (2, 2) and md.empty(2, 3).shape == (2, 3)


def test_inference_mode_records_nothing():
    x = md.tensor([1.0], requires_grad=True)
    with md.inference_mode():
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad

    @md.inference_mode()
    def predict(t):
        return t * 2

    assert not predict(x).requires_grad and md.is_grad_enabled()


@pytest.mark.parametrize("name,args", [("exp", ()), ("log", ()), ("sum", (1,)), ("mean", ()), ("softmax", (1,)),
                                       ("log_softmax", (0,)), ("sqrt", ()), ("tanh", ()), ("sigmoid", ()),
                                       ("abs", ()), ("amax", (1,)), ("transpose", (0, 1)), ("flatten", ())])
def test_free_functions_match_pytorch(torch_oracle, name, args):
    a = np.random.default_rng(0).uniform(0.5, 2.0, (2, 3))
    _same(getattr(md, name)(md.tensor(a), *args), getattr(torch_oracle, name)(torch_oracle.tensor(a), *args))


def test_free_max_min_and_matmul_match_pytorch(torch_oracle):
    a = np.random.default_rng(0).standard_normal((3, 4))
    values, indices = md.max(md.tensor(a), 1)
    expected = torch_oracle.max(torch_oracle.tensor(a), 1)
    _same(values, expected.values)
    np.testing.assert_array_equal(indices.data, expected.indices.numpy())
    _same(md.min(md.tensor(a)), torch_oracle.min(torch_oracle.tensor(a)))
    _same(md.matmul(md.tensor(a), md.tensor(a.T)), torch_oracle.matmul(torch_oracle.tensor(a), torch_oracle.tensor(a.T)))


def test_one_hot_matches_pytorch(torch_oracle):
    idx = np.array([[0, 3], [2, 1]])
    for classes in (-1, 5):
        ours, theirs = F.one_hot(md.tensor(idx), classes), torch_oracle.nn.functional.one_hot(torch_oracle.tensor(idx), classes)
        assert ours.dtype == np.int64
        np.testing.assert_array_equal(ours.data, theirs.numpy())
    with pytest.raises(IndexError, match="one_hot: index 3 is out of range for 3"):
        F.one_hot(md.tensor(idx), 3)


def test_nn_functional_is_an_alias_of_functional():
    import minidl.nn.functional as nn_f

    assert nn_f is F and nn_f.conv2d is F.conv2d


def test_dropout2d_drops_whole_channels_and_scales_the_rest():
    md.manual_seed(0)
    x = md.ones(8, 16, 3, 3)
    out = md.nn.Dropout2d(0.5)(x).data
    per_channel = out.reshape(8, 16, 9)
    assert set(np.unique(per_channel)) == {0.0, 2.0}
    assert (per_channel.min(axis=2) == per_channel.max(axis=2)).all()  # a channel is all kept or all dropped
    assert 0.3 < (per_channel[..., 0] == 0).mean() < 0.7
    md.nn.Dropout2d(0.5).eval()(x)  # eval: identity
    np.testing.assert_array_equal(md.nn.Dropout2d(0.5).eval()(x).data, x.data)


def test_a_transformer_encoder_has_independent_layers():
    layer = md.nn.TransformerEncoderLayer(8, 2, 16)
    encoder = md.nn.TransformerEncoder(layer, 2)
    first, second = encoder.layers[0].linear1.weight, encoder.layers[1].linear1.weight
    assert first is not second and first is not layer.linear1.weight
    np.testing.assert_array_equal(first.data, second.data)  # deep copies, as PyTorch


# -------------------------------------------------------------- loaders, errors
def test_data_loader_workers_give_the_same_batches_in_the_same_order():
    from minidl.data.dataset import DataLoader, TensorDataset

    data = TensorDataset(np.arange(200.0).reshape(100, 2), np.arange(100))
    plain = [[t.data.tolist() for t in batch] for batch in DataLoader(data, 7, shuffle=True, seed=3)]
    for workers in (1, 3):
        loaded = [[t.data.tolist() for t in batch] for batch in DataLoader(data, 7, shuffle=True, seed=3, num_workers=workers)]
        assert loaded == plain
    loader = DataLoader(data, 10, num_workers=2)
    for i, _ in enumerate(loader):  # leaving an epoch early stops cleanly
        if i == 2:
            break
    assert len(list(loader)) == 10


def test_a_broadcast_mismatch_names_the_op_and_the_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4, 3\) do not broadcast"):
        md.ones(2, 3) + md.ones(4, 3)
    with pytest.raises(ValueError, match=r"mul: shapes \(2,\) and \(3,\) do not broadcast"):
        md.ones(2) * md.ones(3)


@pytest.mark.parametrize("dtype", [np.float64, np.int64])
def test_a_linear_layer_refuses_another_dtype_and_names_both(dtype):
    layer = md.nn.Linear(2, 3)
    with pytest.raises(TypeError, match=f"Linear: input is {np.dtype(dtype)} .* the weight is float32"):
        layer(md.tensor(np.ones((1, 2), dtype=dtype)))


def test_a_numpy_array_into_a_linear_layer_is_taken_as_a_tensor(torch_oracle):
    layer = md.nn.Linear(2, 3)
    x = np.ones((4, 2), dtype=np.float32)
    np.testing.assert_array_equal(layer(x).data, layer(md.tensor(x)).data)
