"""md.onnx.export: every layer and the task models, checked by onnx's checker and against
ONNX Runtime (float32, atol 1e-5, rtol 1e-4), also at a second batch size and length when
the axes are dynamic."""
import numpy as np
import pytest

import minidl as md
from minidl import nn
from minidl.models.char_transformer import CharTransformer
from minidl.models.fashion_cnn import FashionCNN
from minidl.models.language import RNNLanguageModel
from minidl.models.sentiment import SentimentClassifier


def _ids(batch, length, vocab, seed=0):
    return md.tensor(np.random.default_rng(seed).integers(0, vocab, (batch, length)))


def _floats(*shape, seed=0):
    return md.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def _compare(ort, model, path, inputs):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {f"input_{i}": x.numpy() for i, x in enumerate(inputs)})
    with md.no_grad():
        expected = model(*inputs)
    expected = [expected] if isinstance(expected, md.Tensor) else [t for e in expected for t in (e if isinstance(e, tuple) else (e,))]
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-4, atol=1e-5)


class _CellStep(nn.Module):
    """One LSTMCell step with its state as two inputs (the cell takes them as a pair)."""

    def __init__(self):
        super().__init__()
        self.cell = nn.LSTMCell(4, 5)

    def forward(self, x, h, c):
        return self.cell(x, (h, c))


# (name, model factory, example inputs, dynamic axes of every input, inputs at other sizes)
CASES = [
    ("Linear_ReLU", lambda: nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2)), [_floats(3, 5)], [0], [_floats(6, 5)]),
    ("Linear_3d", lambda: nn.Linear(5, 4), [_floats(2, 3, 5)], [0, 1], [_floats(4, 2, 5)]),
    ("Conv_BN_pools", lambda: nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                                            nn.Conv2d(4, 4, 3, groups=2, padding="same"), nn.AvgPool2d(2), nn.Flatten(),
                                            nn.Linear(16, 3)), [_floats(2, 3, 8, 8)], [0], [_floats(5, 3, 8, 8)]),
    ("Conv_stride_dilation_adaptive", lambda: nn.Sequential(nn.Conv2d(2, 3, 3, stride=2, dilation=2, padding=2), nn.ELU(),
                                                            nn.AdaptiveAvgPool2d(1), nn.Flatten()), [_floats(2, 2, 9, 9)], [0],
     [_floats(3, 2, 9, 9)]),
    ("ConvTranspose2d", lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1), [_floats(2, 3, 4, 4)], [0],
     [_floats(1, 3, 4, 4)]),
    ("Conv1d_pools1d", lambda: nn.Sequential(nn.Conv1d(3, 4, 3, padding=1), nn.MaxPool1d(2), nn.AvgPool1d(2)),
     [_floats(2, 3, 12)], [0], [_floats(3, 3, 12)]),
    ("BatchNorm1d_Dropout_eval", lambda: nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Dropout(0.3), nn.GELU()),
     [_floats(5, 4)], [0], [_floats(2, 4)]),
    ("LayerNorm_activations", lambda: nn.Sequential(nn.LayerNorm(6), nn.Tanh(), nn.Sigmoid(), nn.LeakyReLU(0.1),
                                                    nn.Softmax(dim=-1)), [_floats(2, 3, 6)], [0, 1], [_floats(4, 5, 6)]),
    ("Embedding", lambda: nn.Embedding(10, 4, padding_idx=0), [_ids(2, 5, 10)], [0, 1], [_ids(3, 7, 10, 1)]),
    ("RNN_relu_2layers_bidir", lambda: nn.RNN(4, 5, num_layers=2, nonlinearity="relu", bidirectional=True),
     [_floats(6, 2, 4)], [0, 1], [_floats(9, 3, 4)]),
    ("LSTM_batch_first_bidir", lambda: nn.LSTM(4, 5, num_layers=2, batch_first=True, bidirectional=True),
     [_floats(2, 6, 4)], [0, 1], [_floats(3, 8, 4)]),
    ("GRU_unbatched", lambda: nn.GRU(4, 5), [_floats(6, 4)], [0], [_floats(9, 4)]),
    ("MultiheadAttention", lambda: nn.MultiheadAttention(8, 2, batch_first=True), [_floats(2, 5, 8)] * 3, [], None),
    ("TransformerEncoderLayer", lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, activation="gelu"),
     [_floats(2, 5, 8)], [0, 1], [_floats(3, 7, 8)]),
    ("TransformerEncoder_norm_first", lambda: nn.TransformerEncoder(
        nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, norm_first=True), 2, norm=nn.LayerNorm(8)),
     [_floats(5, 2, 8)], [0, 1], [_floats(7, 3, 8)]),
    ("LSTMCell", lambda: _CellStep(), [_floats(3, 4), _floats(3, 5), _floats(3, 5)], [0], [_floats(2, 4), _floats(2, 5), _floats(2, 5)]),
    ("Identity_Dropout2d_GELU_tanh", lambda: nn.Sequential(nn.Identity(), nn.Dropout2d(0.5), nn.GELU(approximate="tanh")),
     [_floats(2, 3, 4, 4)], [0], [_floats(1, 3, 4, 4)]),
    ("MaxPool2d_ceil_mode", lambda: nn.MaxPool2d(3, stride=2, ceil_mode=True), [_floats(2, 3, 8, 7)], [0],
     [_floats(3, 3, 8, 7)]),
    ("BatchNorm1d_sequences", lambda: nn.BatchNorm1d(3), [_floats(2, 3, 5)], [0, 2], [_floats(4, 3, 7)]),
    ("PositionalEmbedding", lambda: nn.PositionalEmbedding(16, 6, batch_first=True), [_floats(2, 5, 6)], [0, 1],
     [_floats(3, 9, 6)]),
    ("SentimentClassifier_gru", lambda: SentimentClassifier(50, 8, 8, cell="gru"), [_ids(2, 7, 50)], [0, 1], [_ids(3, 10, 50, 1)]),
    ("SentimentClassifier_lstm", lambda: SentimentClassifier(50, 8, 8, cell="lstm"), [_ids(2, 7, 50)], [0, 1], [_ids(3, 10, 50, 1)]),
    ("RNNLanguageModel", lambda: RNNLanguageModel(20, 8, 8, cell="lstm"), [_ids(2, 7, 20)], [0, 1], [_ids(3, 10, 20, 1)]),
    ("CharTransformer", lambda: CharTransformer(30, d_model=16, n_layers=2, n_heads=2, context=12), [_ids(2, 7, 30)], [0, 1],
     [_ids(3, 10, 30, 1)]),
    ("FashionCNN", lambda: FashionCNN(), [_floats(2, 1, 28, 28)], [0], [_floats(3, 1, 28, 28)]),
]


@pytest.mark.parametrize("name, make, inputs, axes, others", CASES, ids=[c[0] for c in CASES])
def test_export_matches_onnx_runtime(ort, tmp_path, name, make, inputs, axes, others):
    import onnx

    md.manual_seed(0)
    model = make().eval()
    path = tmp_path / f"{name}.onnx"
    dynamic = {f"input_{i}": axes for i in range(len(inputs))} if axes else None
    proto = md.onnx.export(model, tuple(inputs), path, dynamic_axes=dynamic)
    onnx.checker.check_model(proto)
    assert proto.opset_import[0].version >= 17
    _compare(ort, model, path, inputs)
    if others is not None and axes:
        _compare(ort, model, path, others)


def test_weights_are_initializers_under_their_state_dict_names(ort, tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    proto = md.onnx.export(model, _floats(1, 3), tmp_path / "m.onnx")
    assert {i.name for i in proto.graph.initializer} == set(model.state_dict())


def test_an_op_with_no_mapping_names_the_primitive_and_the_layer(ort, tmp_path):
    class WithLoss(nn.Module):
        def __init__(self):
            super().__init__()
            self.head, self.loss = nn.Linear(3, 3), nn.CrossEntropyLoss()

        def forward(self, x):
            return self.loss(self.head(x), md.tensor([0, 1]))

    with pytest.raises(md.onnx.ExportError, match=r"primitive CrossEntropy, called by loss \(CrossEntropyLoss\)"):
        md.onnx.export(WithLoss(), _floats(2, 3), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_a_constant_that_depends_on_the_input_size_refuses_dynamic_axes(ort, tmp_path):
    class MaskedByLength(nn.Module):
        def forward(self, x):
            return x * md.tensor(np.ones(x.shape, np.float32))  # made from x's size, outside any op

    with pytest.raises(md.onnx.ExportError, match="depends on the input size"):
        md.onnx.export(MaskedByLength(), _floats(2, 3), tmp_path / "m.onnx", dynamic_axes={"input_0": [0]})
    md.onnx.export(MaskedByLength(), _floats(2, 3), tmp_path / "m.onnx")  # at one size it is fine


def test_names_and_named_dynamic_axes(ort, tmp_path):
    model = nn.Linear(3, 2)
    proto = md.onnx.export(model, _floats(4, 3), tmp_path / "m.onnx", input_names=["features"], output_names=["scores"],
                           dynamic_axes={"features": {0: "batch"}, "scores": {0: "batch"}})
    assert [i.name for i in proto.graph.input] == ["features"] and [o.name for o in proto.graph.output] == ["scores"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    x = np.ones((7, 3), np.float32)
    np.testing.assert_allclose(session.run(None, {"features": x})[0], model(md.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)
