"""Single-layer, single-direction recurrences over a whole sequence.

The input projection of every step is one GEMM here (x @ W_ih^T + b); the
loop over time runs in the recurrent kernels. Layers (nn.RNN/LSTM/GRU) stack
these for num_layers, directions and batch_first.
"""
import numpy as np

from .. import ops
from ..tensor import Tensor, zeros

NONLINEARITIES = ("tanh", "relu", "identity")


def _check(op, x, h0, weight_ih, weight_hh, gates, states=()):
    if x.ndim != 3:
        raise ValueError(f"{op}: expected input of shape (T, B, input_size); got {x.shape}")
    hidden = weight_hh.shape[1]
    if weight_ih.shape != (gates * hidden, x.shape[2]):
        raise ValueError(
            f"{op}: weight_ih must have shape ({gates * hidden}, {x.shape[2]}) for input {x.shape} and "
            f"hidden size {hidden}; got {weight_ih.shape}"
        )
    if weight_hh.shape != (gates * hidden, hidden):
        raise ValueError(f"{op}: weight_hh must have shape ({gates * hidden}, {hidden}); got {weight_hh.shape}")
    for name, state in (("h0", h0),) + tuple(states):
        if state is not None and state.shape != (x.shape[1], hidden):
            raise ValueError(f"{op}: {name} must have shape ({x.shape[1]}, {hidden}) (batch, hidden); got {state.shape}")
    named = (("weight_ih", weight_ih), ("weight_hh", weight_hh), ("h0", h0)) + tuple(states)
    for name, t in named:
        if t is not None and t.dtype != x.dtype:
            raise TypeError(f"{op}: input is {x.dtype} but {name} is {t.dtype}; convert one (e.g. model.to(md.float64))")
    return hidden


def _input_projection(x, weight_ih, bias):
    """gx = x @ W_ih^T + bias for every step at once. Shape: (T, B, I) -> (T, B, G*H)."""
    return ops.Linear.apply(x, weight_ih) if bias is None else ops.Linear.apply(x, weight_ih, bias)


def _state(h, batch, hidden, dtype):
    return zeros(batch, hidden, dtype=dtype) if h is None else h


def rnn(x: Tensor, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """Elman RNN: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act tanh, relu or identity.

    Shape: x (T, B, I), h0 (B, H) or None, weight_ih (H, I), weight_hh (H, H), biases (H,)
    -> (output (T, B, H), h_T (B, H)).
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"rnn: nonlinearity must be one of {NONLINEARITIES}; got {nonlinearity!r}")
    hidden = _check("rnn", x, h0, weight_ih, weight_hh, 1)
    bias = _sum_biases(bias_ih, bias_hh)
    gx = _input_projection(x, weight_ih, bias)
    hs = ops.ElmanRecurrence.apply(gx, _state(h0, x.shape[1], hidden, x.dtype), weight_hh, nonlinearity=nonlinearity)
    return hs, hs[-1]


def lstm(x: Tensor, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """LSTM with PyTorch's gate order (i, f, g, o): c_t = f*c + i*g, h_t = o*tanh(c_t).

    Shape: x (T, B, I), state (h0, c0) each (B, H), or None; weight_ih (4H, I),
    weight_hh (4H, H), biases (4H,) -> (output (T, B, H), (h_T, c_T)).
    """
    h0, c0 = (None, None) if state is None else state
    hidden = _check("lstm", x, h0, weight_ih, weight_hh, 4, states=(("c0", c0),))
    gx = _input_projection(x, weight_ih, _sum_biases(bias_ih, bias_hh))
    batch = x.shape[1]
    hs, c_last = ops.LSTMRecurrence.apply(
        gx, _state(h0, batch, hidden, x.dtype), _state(c0, batch, hidden, x.dtype), weight_hh
    )
    return hs, (hs[-1], c_last)


def gru(x: Tensor, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """GRU with PyTorch's gate order (r, z, n): n = tanh(W_in x + b_in + r*(W_hn h + b_hn)),
    h_t = (1 - z)*n + z*h.

    Shape: x (T, B, I), h0 (B, H) or None, weight_ih (3H, I), weight_hh (3H, H),
    biases (3H,) -> (output (T, B, H), h_T (B, H)).
    """
    hidden = _check("gru", x, h0, weight_ih, weight_hh, 3)
    gx = _input_projection(x, weight_ih, bias_ih)
    b_hh = bias_hh if bias_hh is not None else Tensor._wrap(np.zeros(3 * hidden, dtype=x.dtype))
    hs = ops.GRURecurrence.apply(gx, _state(h0, x.shape[1], hidden, x.dtype), weight_hh, b_hh)
    return hs, hs[-1]


def _sum_biases(bias_ih, bias_hh):
    if bias_ih is None:
        return bias_hh
    return bias_ih if bias_hh is None else bias_ih + bias_hh


def lstm_cell(x: Tensor, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None, return_gates=False):
    """One LSTM step, written out from primitives so that every gate can be inspected:
    i, f, o = sigmoid(.), g = tanh(.); c' = f*c + i*g; h' = o*tanh(c').

    Shape: x (B, I), state (h, c) each (B, H) or None -> (h', c') [, gates dict of (B, H)].
    """
    hidden = weight_hh.shape[1]
    h, c = (None, None) if state is None else state
    h = _state(h, x.shape[0], hidden, x.dtype)
    c = _state(c, x.shape[0], hidden, x.dtype)
    z = x @ weight_ih.T + h @ weight_hh.T
    bias = _sum_biases(bias_ih, bias_hh)
    if bias is not None:
        z = z + bias
    i, f, g, o = (z[:, k * hidden : (k + 1) * hidden] for k in range(4))
    gates = {"i": i.sigmoid(), "f": f.sigmoid(), "g": g.tanh(), "o": o.sigmoid()}
    c_next = gates["f"] * c + gates["i"] * gates["g"]
    h_next = gates["o"] * c_next.tanh()
    return ((h_next, c_next), gates) if return_gates else (h_next, c_next)
