"""ONNX's RNN, LSTM and GRU operators run on minidl's recurrent kernels (F.rnn, F.lstm, F.gru):
the weights go back to PyTorch's gate order, each direction runs as a layer would."""
import numpy as np

from .. import functional as F
from ..tensor import cat, stack
from .operators import operator
from .recurrent import GATE_ORDER


def _to_minidl_order(t, kind):
    """Undo GATE_ORDER: ONNX's gate blocks (along dim 0) back in PyTorch's and minidl's order."""
    order = GATE_ORDER[kind]
    size = t.shape[0] // len(order)
    return cat([t[size * j: size * (j + 1)] for j in np.argsort(order)], dim=0)


@operator("LSTM", "GRU", "RNN")
def _recurrent(ins, at):
    kind = at["_op"]
    x, w, r = ins[0], ins[1], ins[2]
    b = ins[3] if len(ins) > 3 else None
    lengths = ins[4] if len(ins) > 4 else None
    h0 = ins[5] if len(ins) > 5 else None
    c0 = ins[6] if len(ins) > 6 else None
    if lengths is not None and np.any(np.asarray(lengths.data) != x.shape[0]):
        raise NotImplementedError(f"{kind} with sequence_lens shorter than the sequence")
    if at.get("layout", 0):
        x = x.transpose(0, 1)
    if kind == "GRU" and not at.get("linear_before_reset", 0):
        raise NotImplementedError("GRU with linear_before_reset=0 (PyTorch's and minidl's GRU reset after the product)")
    activations = [a.decode() if isinstance(a, bytes) else a for a in at.get("activations", ["Tanh"] * 2)]
    if kind == "RNN" and any(a not in ("Tanh", "Relu") for a in activations):
        raise NotImplementedError(f"RNN with activations {activations}")
    directions = w.shape[0]
    ys, finals_h, finals_c = [], [], []
    for d in range(directions):
        weights = [_to_minidl_order(w[d], kind), _to_minidl_order(r[d], kind)]
        if b is not None:
            half = b.shape[1] // 2
            weights += [_to_minidl_order(b[d, :half], kind), _to_minidl_order(b[d, half:], kind)]
        seq = x if d == 0 else x[::-1]
        h = None if h0 is None else h0[d]
        if kind == "LSTM":
            out, (hn, cn) = F.lstm(seq, None if h is None else (h, c0[d] if c0 is not None else h * 0), *weights)
            finals_c.append(cn)
        elif kind == "GRU":
            out, hn = F.gru(seq, h, *weights)
        else:
            out, hn = F.rnn(seq, h, *weights, nonlinearity=activations[d].lower())
        ys.append(out if d == 0 else out[::-1])
        finals_h.append(hn)
    y = stack(ys, 1)  # (T, D, B, H)
    outputs = [y, stack(finals_h, 0)] + ([stack(finals_c, 0)] if kind == "LSTM" else [])
    if at.get("layout", 0):
        outputs = [y.permute(2, 0, 1, 3)] + [o.transpose(0, 1) for o in outputs[1:]]
    return outputs
