"""`minidl explain CASE`: run a worked exam problem through the framework and show every step.

Each case builds its model from minidl layers with the exam's weights and
prints the values the framework computed, captured with forward hooks or
kept by the model (hidden states, attention weights) — so a student can check
a hand computation against what the code really does.
"""
import numpy as np

from .. import functional as F
from .. import nn
from ..models import PromptedSentimentLM, RNNLanguageModel, SelfAttentionLM
from ..tensor import tensor

VOCAB = ["<START>", "Awful", "plot", "and", "actors.", "The", "movie", "is", "good", "bad"]
IDS = {w: i for i, w in enumerate(VOCAB)}
EMBEDDINGS = [[0, 0, 0], [0, -5, 0], [1, 0, 0], [0, 0, 0], [-1, 0, 0], [0, 0, 0], [-2, 0, 0], [0, 0, 0], [1, 2, 3], [-1, -2, -3]]
W_YH = [[0, 0], [1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14], [1, -1], [-1, 1]]
REVIEW = "Awful plot and actors."
SOBEL = [[1, 0, -1], [2, 0, -2], [1, 0, -1]]
FE_X1 = [[0, 0, 1, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0]]
FE_X2 = [[0, 0, 0, 1], [0, 0, 1, 0], [0, 0, 1, 0], [0, 0, 1, 0]]
HW_X = [[1, 0, -2, 3, 4, 1], [2, 9, 5, 6, 0, -1], [0, -3, 1, 3, 4, 4], [6, 5, 2, 0, 6, 8], [-5, 4, -3, 1, 3, -2], [4, 1, 2, 8, 9, 7]]
HW_F = [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]
HW_TOKENS = [[0, 1], [1, 0], [0.5, 0.5], [0.8, 0.2], [0.2, 0.8]]


def _f64(rows):
    return np.array(rows, dtype=np.float64)


def _matrix(array, indent="    "):
    text = np.array2string(np.asarray(array), precision=4, suppress_small=True, separator=" ")
    return "\n".join(indent + line for line in text.splitlines())


def _capture(module, store, key):
    """Forward hook that keeps a module's output under store[key]."""
    return module.register_forward_hook(lambda m, inputs, out: store.__setitem__(key, out))


# --------------------------------------------------------------- convolution
def _conv_case(image, kernel, bias, padding, pool, out, title):
    conv = nn.Conv2d(1, 1, 3, padding=padding).double()
    conv.load_state_dict({"weight": _f64(kernel)[None, None], "bias": _f64([bias])})
    relu, maxpool = nn.ReLU(), nn.MaxPool2d(2)
    seen = {}
    _capture(conv, seen, "z")
    _capture(relu, seen, "h")
    x = tensor(_f64(image)[None, None])
    h = relu(conv(x))
    out(title)
    out(f"  kernel (cross-correlation, not flipped), bias {bias}, stride 1, padding {padding}:\n{_matrix(kernel)}")
    padded = np.pad(_f64(image), padding)
    out(f"  input{' padded with zeros' if padding else ''} ({padded.shape[0]}x{padded.shape[1]}):\n{_matrix(padded)}")
    z = seen["z"].numpy()[0, 0]
    window = padded[0:3, 0:3]
    terms = " + ".join(f"{int(w)}*{int(k)}" for w, k in zip(window.ravel(), np.ravel(kernel)) if w and k) or "0"
    out(f"  z[0,0] = sum(window * kernel) + bias = {terms} + {bias} = {z[0, 0]:g}")
    out(f"  pre-activation z:\n{_matrix(z)}")
    out(f"  output h = ReLU(z):\n{_matrix(seen['h'].numpy()[0, 0])}")
    if pool:
        out(f"  2x2 max pooling, stride 2:\n{_matrix(maxpool(h).numpy()[0, 0])}")
    return seen


def fe_p1_1(out=print):
    _conv_case(FE_X1, SOBEL, 0, 1, False, out, "FE-P1.1  convolution + ReLU of x1")


def fe_p1_2(out=print):
    _conv_case(FE_X2, SOBEL, 0, 1, False, out, "FE-P1.2  the same layer on x2 = x1 shifted one column right (equivariance)")


def fe_p1_3(out=print):
    _conv_case(FE_X1, SOBEL, 0, 1, True, out, "FE-P1.3  FE-P1.1's layer, then 2x2 max pooling")


def fe_p1_4(out=print):
    _conv_case(FE_X2, SOBEL, 0, 1, True, out, "FE-P1.4  FE-P1.2's layer, then 2x2 max pooling (invariance to this shift)")


def hw_q1(out=print):
    _conv_case(HW_X, HW_F, 2, 0, False, out, "HW-Q1  convolution with bias 2, no padding, stride 1, ReLU")


def hw_q2(out=print):
    from .summary import conv2d_report

    out("HW-Q2  counting parameters and multiplications")
    out(conv2d_report(256, 27, 27, 384, 3)[0])


# ------------------------------------------------------------------ sentiment
def _rnn_lm():
    lm = RNNLanguageModel(10, 3, 2, cell="rnn", nonlinearity="relu", bias=False).double()
    lm.load_state_dict({"embedding.weight": _f64(EMBEDDINGS), "rnn.weight_ih_l0": _f64([[1, 1, 0], [0, -1, -1]]),
                        "rnn.weight_hh_l0": np.eye(2), "output.weight": _f64(W_YH)})
    return lm


def fe_p2_1(out=print):
    lm = _rnn_lm()
    classifier = PromptedSentimentLM(lm, IDS, start="<START>")
    ids = classifier.encode(REVIEW)
    logits = classifier.logits(REVIEW)
    embedded = lm.embedding(np.array(ids)).numpy()
    out("FE-P2.1  RNN language model, h_t = ReLU(W_hx x_t + W_hh h_(t-1)), W_hx = [[1,1,0],[0,-1,-1]], W_hh = I")
    for t, (i, x, h) in enumerate(zip(ids, embedded, lm.last_hidden.numpy()[0]), start=1):
        out(f"  t={t}  {VOCAB[i]:8s} x_t={x.astype(int).tolist()!s:12s} h_t={h.astype(int).tolist()}")
    good, bad = logits[IDS["good"]], logits[IDS["bad"]]
    out(f"  logits W_yh h_8: good = {good:g}, bad = {bad:g}")
    out(f"  prediction: {'+1' if good >= bad else '-1'} (+1 when P(good) >= P(bad))")
    return lm


def fe_p2_3(out=print):
    lm = SelfAttentionLM(10, 3, 2, max_len=8).double()
    w = _f64([[0.1, 0], [0, -0.1], [0, 0.1]])
    lm.load_state_dict({"embedding.weight": _f64(EMBEDDINGS), "position.weight": _f64([[0, 0, t] for t in range(8)]),
                        "query.weight": w.T, "key.weight": w.T, "value.weight": w.T, "output.weight": _f64(W_YH)})
    seen = {}
    for name in ("position", "query", "key", "value"):
        _capture(getattr(lm, name), seen, name)
    classifier = PromptedSentimentLM(lm, IDS, start="<START>")
    logits = classifier.logits(REVIEW)
    x, q, k = seen["position"].numpy()[0], seen["query"], seen["key"]
    scores = (q @ k.transpose(1, 2) / np.sqrt(2.0)).numpy()[0]
    out("FE-P2.3  one self-attention layer, X = word + position embeddings (p_t = [0, 0, t-1]), Q = X W_Q, ...")
    out(f"  X (one row per token):\n{_matrix(x)}")
    out(f"  Q = K = V = X W (W = [[0.1,0],[0,-0.1],[0,0.1]]):\n{_matrix(q.numpy()[0])}")
    out(f"  scores of the last token, q_8 . k_j / sqrt(2):\n{_matrix(scores[-1])}")
    out(f"  attention probabilities (softmax):\n{_matrix(lm.last_attention.numpy()[0, -1])}")
    out(f"  z_8 = sum_j p_j v_j = {np.round(lm.last_output.numpy()[0, -1], 3).tolist()}")
    good, bad = logits[IDS["good"]], logits[IDS["bad"]]
    out(f"  logits: good = {good:.3f}, bad = {bad:.3f} -> prediction {'+1' if good >= bad else '-1'}")
    return lm


# ------------------------------------------------------------------ attention
def _hw_attention(tokens, w_q, title, out):
    x = tensor(_f64(tokens))
    z, weights = F.scaled_dot_product_attention(x @ tensor(_f64(w_q)), x, x, return_weights=True)
    out(title)
    out(f"  tokens:\n{_matrix(_f64(tokens))}")
    out(f"  attention matrix softmax(Q K^T / sqrt(2)):\n{_matrix(np.round(weights.numpy(), 4))}")
    out(f"  outputs (rows of A V):\n{_matrix(np.round(z.numpy(), 4))}")
    return weights, z


def hw_q5(out=print):
    _hw_attention(HW_TOKENS, np.eye(2), "HW-Q5(a)  self-attention, W_Q = W_K = W_V = I", out)
    out("")
    _hw_attention(HW_TOKENS, [[0, 1], [1, 0]], "HW-Q5(b)  W_Q = [[0,1],[1,0]], W_K = W_V = I", out)
    out("")
    reordered = [HW_TOKENS[i] for i in (3, 4, 0, 1, 2)]
    _hw_attention(reordered, np.eye(2), "HW-Q5(c)  W_Q = I, tokens reordered: (a)'s weights, permuted", out)


CASES = {
    "fe-p1.1": ("convolution and ReLU, worked", fe_p1_1),
    "fe-p1.2": ("the shifted input: equivariance", fe_p1_2),
    "fe-p1.3": ("max pooling after FE-P1.1", fe_p1_3),
    "fe-p1.4": ("max pooling after FE-P1.2: invariance", fe_p1_4),
    "fe-p2.1": ("prompted sentiment with an RNN: every hidden state", fe_p2_1),
    "fe-p2.3": ("prompted sentiment with one self-attention layer", fe_p2_3),
    "hw-q1": ("convolution with bias", hw_q1),
    "hw-q2": ("counting parameters and multiplications", hw_q2),
    "hw-q5": ("self-attention weights (a), (b), (c)", hw_q5),
}


def run(case, out=print):
    key = case.lower()
    if key not in CASES:
        from . import UsageError

        raise UsageError(f"unknown case {case!r}; `minidl explain --list` shows them")
    CASES[key][1](out)
    return 0


def list_cases(out=print):
    for name, (title, _) in CASES.items():
        out(f"  {name:8s} {title}")
    out("(every case in docs/exam.md is a test in tests/exam/)")
    return 0


def demo(out=print):
    """`minidl demo`: two worked problems computed by the framework."""
    fe_p2_1(out)
    out("")
    _hw_attention(HW_TOKENS, np.eye(2), "HW-Q5(a)  self-attention, W_Q = W_K = W_V = I", out)
    return 0
