"""Final exam, problem 2: prompted generation for sentiment, "[X] The movie is [Z]"."""
import numpy as np

import minidl as md
from minidl import nn
from minidl.models import PromptedSentimentLM, RNNLanguageModel, SelfAttentionLM

VOCAB = ["<START>", "Awful", "plot", "and", "actors.", "The", "movie", "is", "good", "bad"]
EMBEDDINGS = [[0, 0, 0], [0, -5, 0], [1, 0, 0], [0, 0, 0], [-1, 0, 0], [0, 0, 0], [-2, 0, 0], [0, 0, 0], [1, 2, 3], [-1, -2, -3]]
W_YH = [[0, 0], [1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14], [1, -1], [-1, 1]]
IDS = {w: i for i, w in enumerate(VOCAB)}
PROMPT = "<START> Awful plot and actors. The movie is".split()


def _f64(rows):
    return np.array(rows, dtype=np.float64)


def _rnn_lm(nonlinearity="relu", w_hx=((1, 1, 0), (0, -1, -1)), w_hh=np.eye(2)):
    lm = RNNLanguageModel(10, 3, 2, cell="rnn", nonlinearity=nonlinearity, bias=False).double()
    lm.load_state_dict({
        "embedding.weight": _f64(EMBEDDINGS),
        "rnn.weight_ih_l0": _f64(w_hx),
        "rnn.weight_hh_l0": _f64(w_hh),
        "output.weight": _f64(W_YH),
    })
    return lm


def test_fe_p2_1_rnn_prompt():
    lm = _rnn_lm()
    logits = lm(md.tensor(np.array([[IDS[w] for w in PROMPT]])))
    hidden = lm.last_hidden.numpy()[0]
    np.testing.assert_array_equal(hidden, [[0, 0], [0, 5], [1, 5], [1, 5], [0, 5], [0, 5], [0, 5], [0, 5]])
    assert logits.numpy()[0, -1, IDS["good"]] == -5 and logits.numpy()[0, -1, IDS["bad"]] == 5
    classifier = PromptedSentimentLM(lm, IDS, template="{review} The movie is", start="<START>")
    assert classifier.encode("Awful plot and actors.") == [IDS[w] for w in PROMPT]
    assert classifier.predict("Awful plot and actors.") == -1


def test_fe_p2_2_linear_rnn_is_a_linear_classifier():
    rng = np.random.default_rng(0)
    for trial in range(5):
        w_hx, w_hh, w_yh = rng.standard_normal((2, 3)), 0.7 * rng.standard_normal((2, 2)), rng.standard_normal((10, 2))
        h0 = rng.standard_normal(2)
        xs = rng.standard_normal((6, 3))  # the input vectors x_1..x_t
        rnn = nn.RNN(3, 2, nonlinearity="identity", bias=False).double()
        rnn.load_state_dict({"weight_ih_l0": w_hx, "weight_hh_l0": w_hh})
        readout = nn.Linear(2, 10, bias=False).double()
        readout.load_state_dict({"weight": w_yh})
        out, _ = rnn(md.tensor(xs[:, None, :]), md.tensor(h0[None, None, :]))
        logits = readout(out[-1, 0]).numpy()
        rnn_prediction = 1 if logits[8] >= logits[9] else -1

        # the closed form: a_0 = (w_good - w_bad)^T W_hh^t h_0, a_j^T = (w_good - w_bad)^T W_hh^(t-j) W_hx
        diff = md.tensor(w_yh[8] - w_yh[9])
        W_hh, W_hx, t = md.tensor(w_hh), md.tensor(w_hx), len(xs)
        power = lambda n: md.tensor(np.linalg.matrix_power(w_hh, n))  # noqa: E731
        a0 = (diff @ power(t) @ md.tensor(h0)).item()
        total = a0 + sum((diff @ power(t - j) @ W_hx @ md.tensor(xs[j - 1])).item() for j in range(1, t + 1))
        np.testing.assert_allclose(total, logits[8] - logits[9], rtol=1e-10)
        assert rnn_prediction == (1 if total >= 0 else -1)


def _attention_lm(causal):
    lm = SelfAttentionLM(10, 3, 2, max_len=8, causal=causal).double()
    w = _f64([[0.1, 0], [0, -0.1], [0, 0.1]])  # Q = X W_Q, so the Linear weight is W_Q^T
    lm.load_state_dict({
        "embedding.weight": _f64(EMBEDDINGS),
        "position.weight": _f64([[0, 0, t] for t in range(8)]),  # p_t = [0, 0, t - 1]
        "query.weight": w.T, "key.weight": w.T, "value.weight": w.T,
        "output.weight": _f64(W_YH),
    })
    return lm


def test_fe_p2_3_transformer_prompt():
    for causal in (False, True):  # a causal mask gives the same last row
        lm = _attention_lm(causal)
        logits = lm(md.tensor(np.array([[IDS[w] for w in PROMPT]]))).numpy()[0, -1]
        last_row = lm.last_attention.numpy()[0, -1]
        np.testing.assert_array_equal(np.round(last_row, 3), [0.101, 0.136, 0.112, 0.118, 0.124, 0.130, 0.136, 0.143])
        np.testing.assert_array_equal(np.round(lm.last_output.numpy()[0, -1], 3), [-0.028, 0.436])
        assert round(logits[IDS["good"]], 3) == -0.464 and round(logits[IDS["bad"]], 3) == 0.464
        assert PromptedSentimentLM(lm, IDS, start="<START>").predict("Awful plot and actors.") == -1
