"""md.summary: textbook counts exactly, attention and every RNN step included, and the CLI."""
import numpy as np
import pytest

import minidl as md
from minidl import cli, nn


def test_homework_conv_layer_counts_exactly():
    s = md.summary(nn.Conv2d(256, 384, 3), input_size=(1, 256, 27, 27))
    assert s.rows[0].output_shape == (1, 384, 25, 25)
    assert s.totals["params"] == (3 * 3 * 256 + 1) * 384 == 885_120
    assert s.totals["macs"] == (3 * 3 * 256) * (25 * 25 * 384) == 552_960_000
    assert s.totals["flops"] == 2 * 552_960_000 + 384 * 25 * 25  # 2 x MACs + bias additions


@pytest.mark.parametrize(
    "factory, size, params, macs_g",
    [
        (md.models.lenet5, (1, 1, 32, 32), 61_706, None),
        (md.models.resnet18, (1, 3, 224, 224), 11_689_512, "1.81"),
        (md.models.vgg16, (1, 3, 224, 224), 138_357_544, "15.47"),
    ],
    ids=["LeNet-5", "ResNet-18", "VGG-16"],
)
def test_classic_networks_match_published_totals(factory, size, params, macs_g):
    md.manual_seed(0)
    s = md.summary(factory(), input_size=size)
    assert s.totals["params"] == params
    if macs_g:
        assert f"{s.totals['macs'] / 1e9:.2f}" == macs_g
    assert s.rows[-1].output_shape[-1] in (10, 1000)


def test_cifar_resnet18_is_the_imagenet_one_with_a_3x3_stem_and_10_classes():
    """The CIFAR stem swaps the 7x7 stem conv for a 3x3 one (and drops the max pool, which has
    no parameters); the head maps 512 features to 10 classes instead of 1000."""
    md.manual_seed(0)
    imagenet = 11_689_512
    expected = imagenet - 64 * 3 * 7 * 7 + 64 * 3 * 3 * 3 - (512 * 1000 + 1000) + (512 * 10 + 10)
    s = md.summary(md.models.resnet18_cifar(), input_size=(1, 3, 32, 32))
    assert s.totals["params"] == expected == 11_173_962
    assert s.rows[-1].output_shape == (1, 10)


def test_batch_is_included_and_rows_nest():
    model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))
    one, four = md.summary(model, input_size=(1, 10)), md.summary(model, input_size=(4, 10))
    assert four.totals["macs"] == 4 * one.totals["macs"] == 4 * (10 * 20 + 20 * 5)
    assert [(r.name, r.depth) for r in one.rows] == [("Sequential", 0), ("0", 1), ("1", 1), ("2", 1)]
    assert one.row("0").params == 220 and one.row("1").flops == 20


def test_attention_counts_both_matmuls():
    batch, length, embed, heads = 2, 6, 8, 2
    s = md.summary(nn.MultiheadAttention(embed, heads, batch_first=True), input_data=[md.zeros(batch, length, embed)] * 3)
    projections = 4 * batch * length * embed * embed  # q, k, v and out
    scores_and_mix = 2 * batch * heads * length * length * (embed // heads)  # Q K^T and P V
    assert s.totals["macs"] == projections + scores_and_mix


@pytest.mark.parametrize("kind, gates", [("RNN", 1), ("LSTM", 4), ("GRU", 3)])
def test_recurrent_layers_count_every_time_step(kind, gates):
    steps, batch, inputs, hidden = 7, 3, 5, 4
    layer = getattr(nn, kind)(inputs, hidden)
    s = md.summary(layer, input_size=(steps, batch, inputs))
    assert s.totals["macs"] == steps * batch * gates * hidden * (inputs + hidden)
    twice = md.summary(layer, input_size=(2 * steps, batch, inputs))
    assert twice.totals["macs"] == 2 * s.totals["macs"]


def test_frozen_parameters_are_not_trainable():
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 1))
    model[0].requires_grad_(False)
    s = md.summary(model, input_size=(1, 3))
    assert s.totals["params"] == 16 and s.totals["trainable_params"] == 4


def test_printed_table_has_totals_and_conventions():
    text = str(md.summary(md.models.lenet5(), input_size=(1, 1, 32, 32)))
    assert "Total params: 61,706" in text and "W2 = (W1 - F + 2P)/S + 1" in text and "FLOPs = 2 x MACs" in text


def test_summary_leaves_the_model_as_it_was():
    model = nn.Sequential(nn.BatchNorm1d(3), nn.Dropout(0.5))
    before = model.state_dict()
    md.summary(model, input_size=(4, 3))
    assert model.training and not model[0]._forward_hooks
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_cli_conv2d_prints_the_formulas_with_numbers(capsys):
    assert cli.main(["summary", "conv2d", "--input", "256x27x27", "--out-channels", "384", "--kernel", "3"]) == 0
    out = capsys.readouterr().out
    assert "W2 = (W1 - F + 2P)/S + 1 = (27 - 3 + 2*0)/1 + 1 = 25" in out
    assert "output: 384x25x25" in out
    assert "(3*3*256 + 1) * 384 = 885,120" in out
    assert "(3*3*256) * (25*25*384) = 552,960,000" in out


def test_cli_summarises_a_model_from_user_code(capsys):
    assert cli.main(["summary", "--model", "minidl.models:lenet5", "--input-size", "1x1x32x32"]) == 0
    assert "Total params: 61,706" in capsys.readouterr().out
