"""Every layer that PyTorch also has: a PyTorch state_dict (as ndarrays) loads into the minidl
layer, and both give the same outputs, input gradients and parameter gradients (float32)."""
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

import minidl as md
from minidl import nn



@dataclass
class LayerCase:
    name: str
    make: Callable  # make(lib) -> layer; lib is minidl.nn or torch.nn
    inputs: list  # shapes of float inputs, or ("int", shape, high) for index inputs
    call: Callable = lambda layer, *xs: layer(*xs)  # noqa: E731
    train: bool = True
    extra: dict = field(default_factory=dict)


def _mha_call(layer, q, k, v):
    mask = np.zeros((3, 4), dtype=bool)
    mask[0, 3] = True  # query 0 may not see key 3 (PyTorch MHA: True = masked)
    pad = np.array([[False, False, False, True], [False, False, False, False]])
    if isinstance(q, md.Tensor):
        return layer(q, k, v, key_padding_mask=pad, attn_mask=mask)
    return layer(q, k, v, key_padding_mask=_torch().tensor(pad), attn_mask=_torch().tensor(mask))


def _mha_causal_padding_call(layer, x):
    """Ours: is_causal with no mask (the kernel's causal rows) and key padding; PyTorch's MHA
    needs the causal mask itself (is_causal is only a hint there)."""
    pad = np.array([[False, False, False, False, True, True], [False] * 6])
    if isinstance(x, md.Tensor):
        return layer(x, x, x, key_padding_mask=pad, is_causal=True)[0]
    causal = _torch().tensor(np.triu(np.ones((6, 6), dtype=bool), 1))
    return layer(x, x, x, key_padding_mask=_torch().tensor(pad), attn_mask=causal, is_causal=True)[0]


def _causal_encoder_call(layer, x):
    mask = np.triu(np.ones((5, 5), dtype=bool), 1)
    return layer(x, src_mask=mask if isinstance(x, md.Tensor) else _torch().tensor(mask))


def _torch():
    import torch as t

    return t


def _weights(lib):
    """Class weights as the library's own tensor (a buffer of the loss in both)."""
    values = np.array([0.5, 1.0, 2.0, 1.5], dtype=np.float32)
    return _torch().tensor(values) if lib.__name__.startswith("torch") else md.tensor(values)


CASES = [
    LayerCase("Linear", lambda lib: lib.Linear(5, 3), [(4, 5)]),
    LayerCase("Linear_no_bias_3d", lambda lib: lib.Linear(5, 3, bias=False), [(2, 4, 5)]),
    LayerCase("Conv2d_stride2_pad1", lambda lib: lib.Conv2d(3, 4, 3, stride=2, padding=1), [(2, 3, 7, 6)]),
    LayerCase("Conv2d_groups_dilation", lambda lib: lib.Conv2d(4, 6, (3, 2), padding=2, dilation=2, groups=2), [(1, 4, 6, 7)]),
    LayerCase("Conv1d", lambda lib: lib.Conv1d(3, 5, 3, padding=1, stride=2), [(2, 3, 9)]),
    LayerCase("MaxPool2d", lambda lib: lib.MaxPool2d(3, stride=2, padding=1), [(2, 3, 7, 6)]),
    LayerCase("AvgPool2d", lambda lib: lib.AvgPool2d(2), [(2, 3, 6, 4)]),
    LayerCase("AdaptiveAvgPool2d", lambda lib: lib.AdaptiveAvgPool2d((2, 3)), [(2, 3, 5, 7)]),
    LayerCase("Flatten", lambda lib: lib.Flatten(), [(2, 3, 4)]),
    LayerCase("ReLU", lambda lib: lib.ReLU(), [(3, 4)]),
    LayerCase("ELU", lambda lib: lib.ELU(0.5), [(3, 4)]),
    LayerCase("LeakyReLU", lambda lib: lib.LeakyReLU(0.2), [(3, 4)]),
    LayerCase("GELU", lambda lib: lib.GELU(), [(3, 4)]),
    LayerCase("Tanh", lambda lib: lib.Tanh(), [(3, 4)]),
    LayerCase("Sigmoid", lambda lib: lib.Sigmoid(), [(3, 4)]),
    LayerCase("Softmax", lambda lib: lib.Softmax(dim=1), [(3, 4)]),
    LayerCase("Dropout_eval", lambda lib: lib.Dropout(0.5), [(3, 4)], train=False),
    LayerCase("BatchNorm1d_train", lambda lib: lib.BatchNorm1d(4), [(8, 4)]),
    LayerCase("BatchNorm1d_3d_train", lambda lib: lib.BatchNorm1d(4, momentum=0.3), [(5, 4, 3)]),
    LayerCase("BatchNorm2d_train", lambda lib: lib.BatchNorm2d(3), [(4, 3, 5, 5)]),
    LayerCase("BatchNorm2d_eval", lambda lib: lib.BatchNorm2d(3), [(4, 3, 5, 5)], train=False),
    LayerCase("LayerNorm", lambda lib: lib.LayerNorm(5), [(2, 3, 5)]),
    LayerCase("LayerNorm_2d_shape", lambda lib: lib.LayerNorm((3, 5)), [(2, 3, 5)]),
    LayerCase("Embedding_padding_idx", lambda lib: lib.Embedding(10, 4, padding_idx=0), [("int", (3, 5), 10)]),
    LayerCase("RNN_tanh", lambda lib: lib.RNN(4, 6), [(5, 2, 4)]),
    LayerCase("RNN_relu_2layers_bidir_batch_first",
              lambda lib: lib.RNN(4, 6, num_layers=2, nonlinearity="relu", batch_first=True, bidirectional=True), [(2, 5, 4)]),
    LayerCase("LSTM_2layers_bidir", lambda lib: lib.LSTM(4, 6, num_layers=2, bidirectional=True), [(5, 2, 4)]),
    LayerCase("LSTM_with_state", lambda lib: lib.LSTM(4, 6, batch_first=True), [(2, 5, 4), (1, 2, 6), (1, 2, 6)],
              call=lambda layer, x, h, c: layer(x, (h, c))),
    LayerCase("LSTM_unbatched_length1", lambda lib: lib.LSTM(4, 3), [(1, 4)]),
    LayerCase("LSTMCell", lambda lib: lib.LSTMCell(4, 5), [(3, 4), (3, 5), (3, 5)], call=lambda layer, x, h, c: layer(x, (h, c))),
    LayerCase("GRU_2layers_batch_first", lambda lib: lib.GRU(4, 6, num_layers=2, batch_first=True), [(3, 5, 4)]),
    LayerCase("GRU_with_state_bidir", lambda lib: lib.GRU(4, 5, bidirectional=True), [(4, 2, 4), (2, 2, 5)]),
    LayerCase("MultiheadAttention_masks_weights", lambda lib: lib.MultiheadAttention(8, 2, batch_first=True),
              [(2, 3, 8), (2, 4, 8), (2, 4, 8)], call=_mha_call),
    LayerCase("MultiheadAttention_causal_with_key_padding", lambda lib: lib.MultiheadAttention(8, 2, batch_first=True),
              [(2, 6, 8)], call=_mha_causal_padding_call),
    LayerCase("MultiheadAttention_seq_first", lambda lib: lib.MultiheadAttention(6, 3), [(4, 2, 6)] * 3,
              call=lambda layer, q, k, v: layer(q, k, v)),
    LayerCase("MultiheadAttention_self_seq_first_packed", lambda lib: lib.MultiheadAttention(6, 3), [(4, 2, 6)],
              call=lambda layer, x: layer(x, x, x)),  # one tensor for q, k, v: the packed projection
    LayerCase("MultiheadAttention_self_unbatched", lambda lib: lib.MultiheadAttention(6, 2), [(5, 6)],
              call=lambda layer, x: layer(x, x, x, need_weights=False)[0]),
    LayerCase("TransformerEncoderLayer_post_norm", lambda lib: lib.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True),
              [(2, 5, 8)]),
    LayerCase("TransformerEncoderLayer_pre_norm_gelu_causal",
              lambda lib: lib.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu", norm_first=True, batch_first=True),
              [(2, 5, 8)], call=_causal_encoder_call),
    LayerCase("Sequential", lambda lib: lib.Sequential(lib.Linear(4, 6), lib.ReLU(), lib.Linear(6, 2)), [(3, 4)]),
    LayerCase("CrossEntropyLoss", lambda lib: lib.CrossEntropyLoss(ignore_index=1), [(6, 4), ("int", (6,), 4)]),
    LayerCase("CrossEntropyLoss_spatial_sum", lambda lib: lib.CrossEntropyLoss(reduction="sum"), [(2, 3, 5), ("int", (2, 5), 3)]),
    LayerCase("NLLLoss", lambda lib: lib.NLLLoss(), [(6, 4), ("int", (6,), 4)]),
    LayerCase("ConvTranspose2d_stride2", lambda lib: lib.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1),
              [(2, 3, 4, 5)]),
    LayerCase("ConvTranspose2d_groups_no_bias", lambda lib: lib.ConvTranspose2d(4, 6, (2, 3), groups=2, bias=False),
              [(1, 4, 3, 3)]),
    LayerCase("Dropout2d_eval", lambda lib: lib.Dropout2d(0.5), [(2, 3, 4, 4)], train=False),
    LayerCase("MaxPool2d_ceil_mode", lambda lib: lib.MaxPool2d(3, stride=2, ceil_mode=True), [(2, 3, 8, 7)]),
    LayerCase("MaxPool1d", lambda lib: lib.MaxPool1d(3, stride=2, padding=1), [(2, 3, 9)]),
    LayerCase("AvgPool1d", lambda lib: lib.AvgPool1d(2), [(2, 3, 9)]),
    LayerCase("BatchNorm1d_cumulative_momentum", lambda lib: lib.BatchNorm1d(4, momentum=None), [(8, 4)]),
    LayerCase("TransformerEncoderLayer_no_bias", lambda lib: lib.TransformerEncoderLayer(8, 2, 16, dropout=0.0, bias=False,
                                                                                         batch_first=True), [(2, 5, 8)]),
    LayerCase("TransformerEncoder_3_layers_final_norm",
              lambda lib: lib.TransformerEncoder(lib.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True), 3,
                                                 norm=lib.LayerNorm(8), enable_nested_tensor=False)
              if lib.__name__.startswith("torch") else lib.TransformerEncoder(
                  lib.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True), 3, norm=lib.LayerNorm(8)),
              [(2, 5, 8)]),
    LayerCase("CrossEntropyLoss_weight_label_smoothing",
              lambda lib: lib.CrossEntropyLoss(weight=_weights(lib), label_smoothing=0.1), [(6, 4), ("int", (6,), 4)]),
    LayerCase("NLLLoss_weight", lambda lib: lib.NLLLoss(weight=_weights(lib)), [(6, 4), ("int", (6,), 4)]),
    LayerCase("Sequential_of_new_layers", lambda lib: lib.Sequential(lib.Conv2d(2, 4, 2, padding="same"), lib.Dropout2d(0.0),
                                                                         lib.MaxPool2d(2, ceil_mode=True)), [(2, 2, 5, 5)]),
    LayerCase("MSELoss", lambda lib: lib.MSELoss(), [(3, 4), (3, 4)]),
    LayerCase("BCEWithLogitsLoss", lambda lib: lib.BCEWithLogitsLoss(), [(3, 4), (3, 4)]),
]


def _flatten(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out if o is not None for t in _flatten(o)]
    return [out]


def _inputs(case, rng):
    arrays = []
    for spec in case.inputs:
        if spec[0] == "int":
            arrays.append(rng.integers(0, spec[2], size=spec[1]))
        else:
            arrays.append(rng.standard_normal(spec).astype(np.float32))
    return arrays


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_pytorch_state_dict_loads_and_gives_the_same_outputs_and_gradients(case, torch_oracle):
    torch_oracle.manual_seed(0)
    theirs = case.make(torch_oracle.nn)
    mine = case.make(nn)
    mine.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    theirs.train(case.train)
    mine.train(case.train)

    arrays = _inputs(case, np.random.default_rng(1))
    floats = [a.dtype.kind == "f" for a in arrays]
    x_mine = [md.tensor(a, requires_grad=f) for a, f in zip(arrays, floats)]
    x_theirs = [torch_oracle.tensor(a, requires_grad=f) for a, f in zip(arrays, floats)]
    out_mine, out_theirs = _flatten(case.call(mine, *x_mine)), _flatten(case.call(theirs, *x_theirs))
    assert len(out_mine) == len(out_theirs)

    rng = np.random.default_rng(2)
    loss_mine, loss_theirs = 0, 0
    for a, b in zip(out_mine, out_theirs):
        b_np = b.detach().numpy()
        assert a.shape == b_np.shape, f"{case.name}: output shape {a.shape} != {b_np.shape}"
        np.testing.assert_allclose(a.numpy(), b_np, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(b_np).max()))
        weights = rng.standard_normal(a.shape).astype(np.float32)
        loss_mine = loss_mine + (a * md.tensor(weights)).sum()
        loss_theirs = loss_theirs + (b * torch_oracle.tensor(weights)).sum()
    loss_mine.backward()
    loss_theirs.backward()

    grads_theirs = {n: p.grad for n, p in theirs.named_parameters()}
    for name, p in mine.named_parameters():
        expected = grads_theirs[name]
        if expected is None:
            assert p.grad is None or not np.any(p.grad.numpy()), f"{case.name}: {name} should get no gradient"
            continue
        scale = max(1.0, float(expected.abs().max()))
        np.testing.assert_allclose(p.grad.numpy(), expected.numpy(), rtol=1e-4, atol=1e-5 * scale, err_msg=f"{case.name}: {name}")
    for a, b, f in zip(x_mine, x_theirs, floats):
        if f:
            scale = max(1.0, float(b.grad.abs().max()))
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-5 * scale)

    # running statistics and every other buffer move the same way
    theirs_state = theirs.state_dict()
    for name, value in mine.state_dict().items():
        np.testing.assert_allclose(value, theirs_state[name].numpy(), rtol=1e-5, atol=1e-6, err_msg=f"{case.name}: {name}")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_parameter_names_and_shapes_match_pytorch(case, torch_oracle):
    theirs = {k: tuple(v.shape) for k, v in case.make(torch_oracle.nn).state_dict().items()}
    mine = {k: v.shape for k, v in case.make(nn).state_dict().items()}
    assert mine == theirs


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_minidl_state_dict_saved_with_md_save_loads_into_pytorch(case, torch_oracle, tmp_path):
    """The way out: md.save's file is plain safetensors, so PyTorch reads it and computes the same."""
    from safetensors.torch import load_file

    md.manual_seed(3)
    mine = case.make(nn)
    _perturb(mine)  # so that buffers and zero-initialised parameters carry real values too
    md.save(mine.state_dict(), tmp_path / "layer.safetensors")
    theirs = case.make(torch_oracle.nn)
    theirs.load_state_dict(load_file(str(tmp_path / "layer.safetensors")))
    mine.eval()
    theirs.eval()
    arrays = _inputs(case, np.random.default_rng(4))
    with md.no_grad(), torch_oracle.no_grad():
        out_mine = _flatten(case.call(mine, *[md.tensor(a) for a in arrays]))
        out_theirs = _flatten(case.call(theirs, *[torch_oracle.tensor(a) for a in arrays]))
    for a, b in zip(out_mine, out_theirs, strict=True):
        b_np = b.numpy()
        np.testing.assert_allclose(a.numpy(), b_np, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(b_np).max()), err_msg=case.name)


def _perturb(module):
    rng = np.random.default_rng(5)
    for name, value in module.state_dict().items():
        if value.dtype.kind == "f":
            noise = 0.1 * rng.standard_normal(value.shape).astype(value.dtype)
            fresh = np.abs(value + noise) + 0.5 if "running_var" in name else value + noise
            module.load_state_dict({name: fresh}, strict=False)
