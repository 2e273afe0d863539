"""RNN, LSTM and GRU layers: stacks of the single-layer kernels in minidl.functional.rnn.

Parameter names and layouts are PyTorch's (weight_ih_l{k}[_reverse], ...; gate
order LSTM i, f, g, o and GRU r, z, n), so a PyTorch state_dict loads as is.
"""
import math

import numpy as np

from .. import functional as F
from ..functional.rnn import NONLINEARITIES
from ..tensor import cat, stack
from . import init
from .module import Module
from .parameter import Parameter

_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


class _RNNBase(Module):
    kind = "RNN"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=np.float32):
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout, self.bidirectional = bias, batch_first, dropout, bidirectional
        gates = _GATES[self.kind] * hidden_size
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                setattr(self, f"weight_ih_l{layer}{suffix}", Parameter(np.zeros((gates, layer_input), dtype=dtype)))
                setattr(self, f"weight_hh_l{layer}{suffix}", Parameter(np.zeros((gates, hidden_size), dtype=dtype)))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{suffix}", Parameter(np.zeros(gates, dtype=dtype)))
                    setattr(self, f"bias_hh_l{layer}{suffix}", Parameter(np.zeros(gates, dtype=dtype)))
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default: every weight and bias ~ U(-1/sqrt(hidden), 1/sqrt(hidden))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _weights(self, layer, suffix):
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh") if self.bias else ("weight_ih", "weight_hh")
        weights = [getattr(self, f"{n}_l{layer}{suffix}") for n in names]
        return weights + [None] * (4 - len(weights))

    def _run(self, x, state, weights):
        raise NotImplementedError

    def _split_state(self, hx, batch):
        """hx (L*D, B, H) -> one (B, H) state per layer and direction (None when hx is None)."""
        count = self.num_layers * (2 if self.bidirectional else 1)
        if hx is None:
            return [None] * count
        if hx.shape != (count, batch, self.hidden_size):
            raise ValueError(
                f"{type(self).__name__}: initial state must have shape ({count}, {batch}, {self.hidden_size}) "
                f"(num_layers * directions, batch, hidden); got {hx.shape}"
            )
        return [hx[i] for i in range(count)]

    def forward(self, x, hx=None):
        """Shape: x (T, B, I), or (B, T, I) with batch_first, or unbatched (T, I);
        hx (L*D, B, H) (LSTM: a pair) -> output (T, B, D*H) [or (B, T, D*H)], final state(s) (L*D, B, H)."""
        unbatched = x.ndim == 2
        if unbatched:
            x = x.unsqueeze(1)
            hx = None if hx is None else _map_state(hx, lambda h: h.unsqueeze(1))
        elif x.ndim != 3:
            raise ValueError(f"{type(self).__name__}: expected input of 2 or 3 dims; got shape {x.shape}")
        elif self.batch_first:
            x = x.transpose(0, 1)
        if x.shape[2] != self.input_size:
            raise ValueError(f"{type(self).__name__}: expected input_size {self.input_size}; got input shape {x.shape}")
        states = self._states(hx, x.shape[1])
        finals = []
        directions = 2 if self.bidirectional else 1
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for d, suffix in enumerate(("", "_reverse")[:directions]):
                seq = layer_input if d == 0 else layer_input[::-1]
                out, final = self._run(seq, states[layer * directions + d], self._weights(layer, suffix))
                outputs.append(out if d == 0 else out[::-1])
                finals.append(final)
            layer_input = outputs[0] if directions == 1 else cat(outputs, dim=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        output = layer_input
        final = self._stack_finals(finals)
        if unbatched:
            return output.squeeze(1), _map_state(final, lambda h: h.squeeze(1))
        return (output.transpose(0, 1) if self.batch_first else output), final

    def _states(self, hx, batch):
        return self._split_state(hx, batch)

    def _stack_finals(self, finals):
        return stack(finals)

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        for name, default in (("num_layers", 1), ("bias", True), ("batch_first", False), ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text


def _map_state(state, fn):
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)


class RNN(_RNNBase):
    """Elman RNN: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act 'tanh', 'relu' or 'identity'.

    Shape: see `forward`; weight_ih_l0 (H, I), weight_hh_l0 (H, H).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=np.float32):
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"RNN: nonlinearity must be one of {NONLINEARITIES}; got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype)
        self.nonlinearity = nonlinearity

    def _run(self, x, state, weights):
        return F.rnn(x, state, *weights, nonlinearity=self.nonlinearity)

    def extra_repr(self):
        return super().extra_repr() + (f", nonlinearity={self.nonlinearity!r}" if self.nonlinearity != "tanh" else "")


class GRU(_RNNBase):
    """GRU (gates r, z, n). Shape: see `forward`; weight_ih_l0 (3H, I), weight_hh_l0 (3H, H)."""

    kind = "GRU"

    def _run(self, x, state, weights):
        return F.gru(x, state, *weights)


class LSTM(_RNNBase):
    """LSTM (gates i, f, g, o). Shape: see `forward`; hx and the final state are pairs (h, c),
    each (L*D, B, H); weight_ih_l0 (4H, I), weight_hh_l0 (4H, H)."""

    kind = "LSTM"

    def _states(self, hx, batch):
        if hx is None:
            return [None] * (self.num_layers * (2 if self.bidirectional else 1))
        h, c = hx
        return list(zip(self._split_state(h, batch), self._split_state(c, batch)))

    def _run(self, x, state, weights):
        return F.lstm(x, state, *weights)

    def _stack_finals(self, finals):
        return stack([h for h, _ in finals]), stack([c for _, c in finals])


class LSTMCell(Module):
    """One LSTM step with PyTorch's parameters (weight_ih (4H, I), weight_hh (4H, H), biases (4H,)).

    Shape: x (B, I), state (h, c) each (B, H) or None -> (h', c'); `return_gates=True`
    also returns the activated gates i, f, g, o.
    """

    def __init__(self, input_size, hidden_size, bias=True, dtype=np.float32):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = Parameter(np.zeros((4 * hidden_size, input_size), dtype=dtype))
        self.weight_hh = Parameter(np.zeros((4 * hidden_size, hidden_size), dtype=dtype))
        self.bias_ih = Parameter(np.zeros(4 * hidden_size, dtype=dtype)) if bias else None
        self.bias_hh = Parameter(np.zeros(4 * hidden_size, dtype=dtype)) if bias else None
        bound = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def forward(self, x, state=None, return_gates=False):
        return F.lstm_cell(x, state, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, return_gates)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}"
