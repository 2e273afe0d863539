"""md.onnx.load runs ONNX files that PyTorch exports, as ONNX Runtime does; md.summary and
`minidl summary --onnx` count them as md.summary counts minidl models."""
import warnings

import numpy as np
import pytest

import minidl as md
from minidl.models.vision import resnet18 as md_resnet18
from tests.onnx import torch_models

CASES = [
    ("resnet18", lambda t: torch_models.resnet18(t), lambda t: t.randn(1, 3, 64, 64)),
    ("mobile_net", torch_models.mobile_net, lambda t: t.randn(2, 3, 16, 16)),
    ("lstm_classifier", torch_models.lstm_classifier, lambda t: t.randint(0, 20, (2, 7))),
    ("encoder_layer", torch_models.encoder_layer, lambda t: t.randn(2, 6, 16)),
]


def _torch_export(torch, model, x, path, fold=False):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (x,), str(path), dynamo=False, do_constant_folding=fold, input_names=["x"])


@pytest.mark.parametrize("fold", [False, True], ids=["batchnorm_kept", "constants_folded"])
@pytest.mark.parametrize("name, make, example", CASES, ids=[c[0] for c in CASES])
def test_a_pytorch_export_runs_in_minidl_as_in_onnx_runtime(ort, torch_oracle, tmp_path, name, make, example, fold):
    torch_oracle.manual_seed(0)
    model, x = make(torch_oracle), example(torch_oracle)
    path = tmp_path / f"{name}.onnx"
    _torch_export(torch_oracle, model, x, path, fold)
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})[0]
    loaded = md.onnx.load(path)
    out = loaded(md.tensor(x.numpy()))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_a_loaded_model_can_be_fine_tuned(ort, torch_oracle, tmp_path):
    torch_oracle.manual_seed(0)
    model, x = torch_models.mobile_net(torch_oracle), torch_oracle.randn(2, 3, 16, 16)
    _torch_export(torch_oracle, model, x, tmp_path / "m.onnx")
    loaded = md.onnx.load(tmp_path / "m.onnx")
    loss = loaded(md.tensor(x.numpy())).sum()
    loss.backward()
    grads = [p.grad for p in loaded.parameters()]
    assert grads and all(g is not None for g in grads)


def test_a_graph_with_missing_operators_lists_them_all(ort, tmp_path):
    import onnx
    from onnx import helper

    nodes = [helper.make_node("HardSwish", ["x"], ["a"]), helper.make_node("Celu", ["a"], ["b"]),
             helper.make_node("Relu", ["b"], ["y"])]
    info = lambda name: helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [2])  # noqa: E731
    proto = helper.make_model(helper.make_graph(nodes, "g", [info("x")], [info("y")]))
    with pytest.raises(md.onnx.UnsupportedOperators, match="2 operator\\(s\\) in this graph: Celu, HardSwish"):
        md.onnx.load(proto)


def test_pytorchs_resnet18_counts_as_the_textbook_says(ort, torch_oracle, tmp_path):
    torch_oracle.manual_seed(0)
    path = tmp_path / "resnet18.onnx"
    _torch_export(torch_oracle, torch_models.resnet18(torch_oracle), torch_oracle.randn(1, 3, 224, 224), path)
    totals = md.summary(str(path)).totals
    assert totals["params"] == 11_689_512  # BatchNorm's running statistics are buffers
    assert round(totals["macs"] / 1e9, 2) == 1.81
    ours = md.summary(md_resnet18(), input_size=(1, 3, 224, 224)).totals
    assert totals == ours


def test_folded_batchnorm_counts_the_folded_model(ort, torch_oracle, tmp_path):
    torch_oracle.manual_seed(0)
    path = tmp_path / "folded.onnx"
    _torch_export(torch_oracle, torch_models.resnet18(torch_oracle), torch_oracle.randn(1, 3, 224, 224), path, fold=True)
    totals = md.summary(str(path)).totals
    # every conv gains a bias of its out channels; the BatchNorm scales and shifts are gone
    assert totals["params"] == 11_689_512 - 2 * 4_800 + 4_800  # 4,800 BatchNorm channels
    assert round(totals["macs"] / 1e9, 2) == 1.81


@pytest.mark.parametrize("name, make, size", [
    ("resnet18", lambda: md_resnet18(10), (2, 3, 32, 32)),
    ("lstm", lambda: md.models.sentiment.SentimentClassifier(40, 8, 8, cell="lstm"), ("int", 3, 9)),
    ("transformer", lambda: md.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True), (2, 6, 16)),
])
def test_an_exported_minidl_model_counts_as_md_summary_counts_it(ort, tmp_path, name, make, size):
    md.manual_seed(0)
    model = make().eval()
    x = md.tensor(np.ones(size[1:], np.int64)) if size[0] == "int" else md.zeros(*size)
    md.onnx.export(model, x, tmp_path / "m.onnx")
    counted = md.summary(str(tmp_path / "m.onnx")).totals
    expected = md.summary(model, input_data=x).totals
    assert counted["params"] == expected["params"]
    assert counted["macs"] == expected["macs"]
    if name == "resnet18":
        assert counted["flops"] == expected["flops"]


def test_a_dynamic_input_needs_its_size(ort, tmp_path):
    model = md.nn.Linear(3, 2)
    md.onnx.export(model, md.zeros(4, 3), tmp_path / "m.onnx", dynamic_axes={"input_0": [0]})
    with pytest.raises(ValueError, match="dynamic dims; give input_size"):
        md.summary(str(tmp_path / "m.onnx"))
    assert md.summary(str(tmp_path / "m.onnx"), input_size=(5, 3)).totals["macs"] == 5 * 3 * 2
