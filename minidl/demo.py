"""`minidl demo`: two worked exam problems computed by the framework, step by step.

FE-P2.1 runs the prompted-sentiment RNN over "<START> Awful plot and actors.
The movie is" and HW-Q5(a) computes self-attention weights. Every number
printed comes out of minidl's tensor ops.
"""
import numpy as np

from . import functional as F
from .tensor import tensor, zeros

VOCAB = ["<START>", "Awful", "plot", "and", "actors.", "The", "movie", "is", "good", "bad"]
EMBEDDINGS = [[0, 0, 0], [0, -5, 0], [1, 0, 0], [0, 0, 0], [-1, 0, 0], [0, 0, 0], [-2, 0, 0], [0, 0, 0],
              [1, 2, 3], [-1, -2, -3]]
W_YH = [[0, 0], [1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14], [1, -1], [-1, 1]]


def rnn_prompt(out=print):
    """FE-P2.1: h_t = ReLU(W_hx x_t + W_hh h_{t-1}); logits = W_yh h_t."""
    emb = tensor(np.array(EMBEDDINGS, dtype=np.float64))
    w_hx = tensor(np.array([[1, 1, 0], [0, -1, -1]], dtype=np.float64))
    w_hh = tensor(np.eye(2))
    w_yh = tensor(np.array(W_YH, dtype=np.float64))
    words = VOCAB[:8]
    h = zeros(2, dtype=np.float64)
    out("FE-P2.1  RNN over the prompt, h_t = ReLU(W_hx x_t + W_hh h_(t-1))")
    for t, word in enumerate(words, start=1):
        x = F.embedding(np.array(VOCAB.index(word)), emb)
        h = F.relu(w_hx @ x + w_hh @ h)
        out(f"  t={t}  {word:8s} x={x.numpy().astype(int).tolist()}  h={h.numpy().astype(int).tolist()}")
    logits = w_yh @ h
    good, bad = logits[VOCAB.index("good")].item(), logits[VOCAB.index("bad")].item()
    out(f"  logits: good={good:g} bad={bad:g} -> prediction {'+1' if good >= bad else '-1'}")
    return h, good, bad


def attention_weights(out=print):
    """HW-Q5(a): softmax(Q K^T / sqrt(d)) with W_Q = W_K = W_V = I."""
    x = tensor(np.array([[0, 1], [1, 0], [0.5, 0.5], [0.8, 0.2], [0.2, 0.8]]))
    scores = (x @ x.T) / np.sqrt(2.0)
    weights = F.softmax(scores, dim=-1)
    z = weights @ x
    out("HW-Q5(a) self-attention, W_Q = W_K = W_V = I")
    for i in range(5):
        out(f"  row {i + 1}: weights {np.round(weights.numpy()[i], 4).tolist()}  z={np.round(z.numpy()[i], 4).tolist()}")
    return weights, z


def run(out=print):
    rnn_prompt(out)
    out("")
    attention_weights(out)
    return 0
