"""Module mechanics: registration, traversal, modes, dtype conversion, hooks, state dicts, repr."""
import numpy as np
import pytest

import minidl as md
from minidl import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.norm = nn.BatchNorm1d(3)
        self.scale = nn.Parameter(md.ones(3))
        self.not_a_parameter = md.ones(2)

    def forward(self, x):
        return self.norm(self.fc(x)) * self.scale


def test_attribute_assignment_registers_parameters_buffers_and_children():
    b = Block()
    assert [n for n, _ in b.named_parameters()] == ["scale", "fc.weight", "fc.bias", "norm.weight", "norm.bias"]
    assert [n for n, _ in b.named_buffers()] == ["norm.running_mean", "norm.running_var", "norm.num_batches_tracked"]
    assert [n for n, _ in b.named_children()] == ["fc", "norm"]
    assert [n for n, _ in b.named_modules()] == ["", "fc", "norm"]
    assert "not_a_parameter" not in dict(b.named_parameters())
    b.fc = nn.Linear(4, 3, bias=False)  # replacing a child replaces its parameters
    assert "fc.bias" not in dict(b.named_parameters())


def test_shared_parameters_are_listed_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, shared)
    assert len(list(model.parameters())) == 2


def test_parameters_and_modules_follow_their_named_lists(torch_oracle):
    """parameters() and modules() skip building names: same items, same order as the named
    lists, through nesting, a child set to None, a shared layer and recurse=False; and the
    same parameter order as PyTorch for the same structure."""
    shared = nn.Linear(3, 3)
    outer = nn.Sequential(Block(), nn.Sequential(shared, nn.ReLU(), shared), nn.Linear(3, 2))
    outer.gone = None
    outer.own = nn.Parameter(md.ones(1))
    assert [id(p) for p in outer.parameters()] == [id(p) for _, p in outer.named_parameters()]
    assert [id(p) for p in outer.parameters(recurse=False)] == [id(p) for _, p in outer.named_parameters(recurse=False)]
    assert [id(m) for m in outer.modules()] == [id(m) for _, m in outer.named_modules()]
    theirs = torch_oracle.nn.Sequential(torch_oracle.nn.Linear(3, 3), torch_oracle.nn.Linear(3, 2))
    mine = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2))
    assert [tuple(p.shape) for p in mine.parameters()] == [tuple(p.shape) for p in theirs.parameters()]


def test_train_eval_reach_every_submodule_and_change_behaviour():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    x = md.ones(64, 4)
    model.eval()
    assert all(not m.training for m in model.modules())
    np.testing.assert_array_equal(model(x).numpy(), model[0](x).numpy())
    model.train()
    assert all(m.training for m in model.modules())
    assert np.any(model(x).numpy() == 0)


def test_to_float64_converts_parameters_and_buffers_in_place():
    b = Block()
    weight = b.fc.weight
    b.to(np.float64)
    assert b.fc.weight is weight and weight.dtype == np.float64
    assert b.norm.running_mean.dtype == np.float64
    assert b.norm.num_batches_tracked.dtype == np.int64  # integer buffers keep their dtype
    assert b(md.tensor(np.ones((5, 4)))).dtype == np.float64


def test_zero_grad_and_apply():
    b = Block()
    b(md.randn(5, 4)).sum().backward()
    assert all(p.grad is not None for p in b.parameters())
    b.zero_grad()
    assert all(p.grad is None for p in b.parameters())
    seen = []
    b.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "BatchNorm1d", "Block"]


def test_forward_hooks_see_and_may_replace_outputs_and_can_be_removed():
    layer = nn.Linear(3, 2)
    calls = []
    handle = layer.register_forward_hook(lambda m, inputs, out: calls.append((inputs[0].shape, out.shape)))
    pre = layer.register_forward_pre_hook(lambda m, inputs: (inputs[0] * 0,))
    out = layer(md.ones(4, 3))
    assert calls == [((4, 3), (4, 2))]
    np.testing.assert_allclose(out.numpy(), np.broadcast_to(layer.bias.numpy(), (4, 2)))
    handle.remove()
    pre.remove()
    layer(md.ones(4, 3))
    assert len(calls) == 1


def test_state_dict_round_trip_restores_outputs():
    md.manual_seed(0)
    a, b = Block(), Block()
    x = md.randn(6, 4)
    a(x)  # moves a's running statistics
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())


def test_state_dict_returns_copies():
    b = Block()
    state = b.state_dict()
    state["fc.weight"][...] = 7
    assert not np.any(b.fc.weight.numpy() == 7)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s.pop("fc.bias"), r"missing keys: \['fc.bias'\]"),
        (lambda s: s.update(extra=np.ones(1)), r"unexpected keys: \['extra'\]"),
        (lambda s: s.update({"fc.weight": np.ones((4, 4))}), r"shape mismatch: fc.weight: expected \(3, 4\), got \(4, 4\)"),
    ],
)
def test_failed_load_names_the_keys_and_changes_nothing(edit, message):
    b = Block()
    before = b.state_dict()
    bad = Block().state_dict()
    edit(bad)
    with pytest.raises(RuntimeError, match=message):
        b.load_state_dict(bad)
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_non_strict_load_reports_instead_of_raising():
    b = Block()
    state = b.state_dict()
    state.pop("scale")
    state["extra"] = np.zeros(1)
    result = b.load_state_dict(state, strict=False)
    assert result.missing_keys == ["scale"] and result.unexpected_keys == ["extra"]


def test_load_keeps_the_parameter_dtype():
    layer = nn.Linear(2, 2)
    layer.load_state_dict({"weight": np.ones((2, 2)), "bias": np.zeros(2)})  # float64 values
    assert layer.weight.dtype == np.float32


def test_repr_is_nested_like_pytorch():
    text = repr(nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Dropout(0.1))))
    assert text == (
        "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): Sequential(\n"
        "    (0): ReLU()\n    (1): Dropout(p=0.1)\n  )\n)"
    )


def test_containers():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    d = nn.ModuleDict({"a": nn.Linear(2, 3)})
    d["b"] = nn.ReLU()
    assert list(d.keys()) == ["a", "b"] and "a" in d
    seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    assert isinstance(seq[0:2], nn.Sequential) and len(seq[0:2]) == 2


def test_missing_super_init_is_explained():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\)"):
        Broken()


def test_default_initialisation_follows_pytorch_bounds():
    md.manual_seed(0)
    layer = nn.Linear(100, 50)
    bound = 1 / np.sqrt(100)
    assert np.abs(layer.weight.numpy()).max() <= bound and np.abs(layer.weight.numpy()).max() > 0.9 * bound
    conv = nn.Conv2d(4, 8, 3)
    assert np.abs(conv.weight.numpy()).max() <= 1 / np.sqrt(4 * 9)
    lstm = nn.LSTM(5, 20)
    assert np.abs(lstm.weight_hh_l0.numpy()).max() <= 1 / np.sqrt(20)
    emb = nn.Embedding(1000, 8, padding_idx=3)
    assert np.all(emb.weight.numpy()[3] == 0) and 0.9 < emb.weight.numpy().std() < 1.1
    mha = nn.MultiheadAttention(8, 2)
    assert np.all(mha.in_proj_bias.numpy() == 0) and np.all(mha.out_proj.bias.numpy() == 0)


def test_batch_norm_refuses_one_value_per_channel_in_training_only():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"more than 1 value per channel when training, got input size \(1, 3\)"):
        bn(md.randn(1, 3))
    bn.eval()
    assert bn(md.randn(1, 3)).shape == (1, 3)


def test_positional_embeddings():
    sin = nn.PositionalEmbedding(16, 6, kind="sinusoidal")
    x = md.zeros(2, 5, 6)
    out = sin(x).numpy()
    np.testing.assert_allclose(out[0, 0], [0, 1, 0, 1, 0, 1], atol=1e-7)
    np.testing.assert_allclose(out[0, 3, 0], np.sin(3.0), rtol=1e-6)
    assert "weight" not in sin.state_dict() and not list(sin.parameters())
    learned = nn.PositionalEmbedding(16, 6)
    assert [n for n, _ in learned.named_parameters()] == ["weight"]
    learned(md.randn(2, 5, 6)).sum().backward()
    assert np.all(learned.weight.grad.numpy()[5:] == 0) and np.all(learned.weight.grad.numpy()[:5] == 2)
    with pytest.raises(ValueError, match="longer than max_len=16"):
        sin(md.zeros(1, 17, 6))
