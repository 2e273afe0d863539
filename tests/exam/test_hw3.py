"""Homework 3: convolution with bias, counting, normalisation, LSTM gates, self-attention, BERT inputs."""
import numpy as np
import pytest

import minidl as md
import minidl.functional as F
from minidl import nn

HW_X = [[1, 0, -2, 3, 4, 1], [2, 9, 5, 6, 0, -1], [0, -3, 1, 3, 4, 4], [6, 5, 2, 0, 6, 8], [-5, 4, -3, 1, 3, -2], [4, 1, 2, 8, 9, 7]]
HW_F = [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]
TOKENS = [[0, 1], [1, 0], [0.5, 0.5], [0.8, 0.2], [0.2, 0.8]]


def test_hw_q1_convolution_with_bias():
    conv = nn.Conv2d(1, 1, 3).double()  # no padding, stride 1
    conv.load_state_dict({"weight": np.array(HW_F, dtype=np.float64)[None, None], "bias": np.array([2.0])})
    y = F.relu(conv(md.tensor(np.array(HW_X, dtype=np.float64)[None, None]))).numpy()[0, 0]
    np.testing.assert_array_equal(y, [[70, 25, 32, 0], [0, 0, 2, 8], [40, 10, 0, 29], [22, 0, 0, 0]])
    assert (y[0, 0], y[0, 1], y[1, 0], y[1, 1]) == (70, 25, 0, 0)  # a, b, e, f


def test_hw_q2_counting():
    s = md.summary(nn.Conv2d(256, 384, 3, stride=1, padding=0), input_size=(1, 256, 27, 27))
    assert s.rows[0].output_shape == (1, 384, 25, 25)  # W2 = (27 - 3 + 0)/1 + 1 = 25
    assert s.totals["params"] == 885_120
    assert s.totals["macs"] == 552_960_000


def test_hw_q3_batch_norm_versus_layer_norm():
    rng = np.random.default_rng(0)
    x = md.tensor((3 + 2 * rng.standard_normal((8, 4))).astype(np.float32))
    bn, ln = nn.BatchNorm1d(4), nn.LayerNorm(4)
    out = bn(x).numpy()
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-5)  # each feature over the batch
    np.testing.assert_allclose(out.var(axis=0), 1, atol=1e-3)
    assert not np.allclose(bn.running_mean.numpy(), 0)  # running statistics for evaluation
    bn.eval()
    assert not np.allclose(bn(x).numpy(), out)  # evaluation uses them, not the batch
    bn.train()
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(md.randn(1, 4))  # one value per channel cannot train
    out = ln(x).numpy()
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-5)  # each example over its features
    np.testing.assert_allclose(out.var(axis=1), 1, atol=1e-3)
    one = ln(md.randn(1, 4)).numpy()
    np.testing.assert_allclose([one.mean(), one.var()], [0, 1], atol=1e-3)  # batch of one is fine
    for length in (1, 7):
        assert ln(md.randn(2, length, 4)).shape == (2, length, 4)  # any sequence length


def test_hw_q4_lstm_gates():
    md.manual_seed(0)
    cell = nn.LSTMCell(3, 4).double()
    x = md.tensor(np.random.default_rng(1).standard_normal((5, 3)) * 4)
    c_prev = md.tensor(np.random.default_rng(2).standard_normal((5, 4)))
    h_prev = md.tensor(np.random.default_rng(3).standard_normal((5, 4)))
    (h, c), gates = cell(x, (h_prev, c_prev), return_gates=True)
    for name in "ifo":
        g = gates[name].numpy()
        assert np.all((g > 0) & (g < 1)), name
    np.testing.assert_allclose(c.numpy(), (gates["f"] * c_prev + gates["i"] * gates["g"]).numpy())
    np.testing.assert_allclose(h.numpy(), (gates["o"] * c.tanh()).numpy())

    def with_gate_biases(forget, write):
        hidden = 4
        bias = cell.bias_ih.numpy().copy()
        bias[hidden : 2 * hidden] = forget
        bias[:hidden] = write
        saturated = nn.LSTMCell(3, 4).double()
        saturated.load_state_dict({**cell.state_dict(), "bias_ih": bias})
        return saturated

    forgets = with_gate_biases(-1e3, 0.0)  # forget gate 0: c_{t-1} is forgotten
    (_, c_a), _ = forgets(x, (h_prev, c_prev), return_gates=True)
    (_, c_b), _ = forgets(x, (h_prev, c_prev * 10), return_gates=True)
    np.testing.assert_allclose(c_a.numpy(), c_b.numpy())
    copies = with_gate_biases(1e3, -1e3)  # forget 1, input 0: c_{t-1} is copied
    (_, c_copy), _ = copies(x, (h_prev, c_prev), return_gates=True)
    np.testing.assert_allclose(c_copy.numpy(), c_prev.numpy())


def _attention(tokens, w_q):
    x = md.tensor(np.array(tokens, dtype=np.float64))
    q, k, v = x @ md.tensor(np.array(w_q, dtype=np.float64)), x, x  # W_K = W_V = I
    z, weights = F.scaled_dot_product_attention(q, k, v, return_weights=True)  # scores / sqrt(2)
    return np.round(weights.numpy(), 4), np.round(z.numpy(), 4)


def test_hw_q5_self_attention_weights():
    weights, z = _attention(TOKENS, np.eye(2))  # (a)
    np.testing.assert_array_equal(weights[0], [0.2754, 0.1358, 0.1934, 0.1564, 0.2391])
    np.testing.assert_array_equal(weights[2], [0.2] * 5)
    np.testing.assert_array_equal(weights[3], [0.1598, 0.2443, 0.1976, 0.2244, 0.1740])
    np.testing.assert_array_equal(z, [[0.4054, 0.5946], [0.5946, 0.4054], [0.5, 0.5], [0.5574, 0.4426], [0.4426, 0.5574]])
    weights_b, z_b = _attention(TOKENS, [[0, 1], [1, 0]])  # (b)
    np.testing.assert_array_equal(weights_b[0], [0.1358, 0.2754, 0.1934, 0.2391, 0.1564])
    np.testing.assert_array_equal(z_b, [[0.5946, 0.4054], [0.4054, 0.5946], [0.5, 0.5], [0.4426, 0.5574], [0.5574, 0.4426]])
    order = [3, 4, 0, 1, 2]  # (c): tokens reordered
    weights_c, _ = _attention([TOKENS[i] for i in order], np.eye(2))
    np.testing.assert_array_equal(weights_c[0], [0.2244, 0.1740, 0.1598, 0.2443, 0.1976])
    np.testing.assert_array_equal(weights_c[4], [0.2] * 5)
    np.testing.assert_array_equal(weights_c, weights[np.ix_(order, order)])  # (a)'s weights, permuted


def test_hw_q6_bert_input_needs_position_embeddings():
    md.manual_seed(0)
    token, segment, position = nn.Embedding(20, 8), nn.Embedding(2, 8), nn.Embedding(16, 8)
    attention = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    ids = np.array([[3, 7, 7, 11, 5]])
    segments = np.array([[0, 0, 0, 1, 1]])
    perm = np.array([4, 2, 0, 3, 1])

    def encode(token_ids, segment_ids, with_positions):
        x = token(token_ids) + segment(segment_ids)  # input = token + segment (+ position) embeddings
        if with_positions:
            x = x + position(np.arange(token_ids.shape[1])[None])
        return attention(x, x, x, need_weights=False)[0].numpy()[0]

    plain = encode(ids, segments, False)
    np.testing.assert_allclose(encode(ids[:, perm], segments[:, perm], False), plain[perm], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(plain[1], plain[2], rtol=1e-5)  # token 7 twice, same segment: identical without positions
    positioned = encode(ids, segments, True)
    assert not np.allclose(positioned[1], positioned[2])  # with positions the two 7s differ
    assert not np.allclose(encode(ids[:, perm], segments[:, perm], True), positioned[perm])
