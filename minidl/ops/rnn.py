"""Recurrences over a whole sequence (time-major). The input projection gx = x @ W_ih^T + b
for all steps is a GEMM done by the caller (minidl.functional.rnn), so these
primitives own only the loop over time, in the recurrent kernels.

FLOPs: the recurrent GEMMs (2*B*H*G*H per step, G gates) plus the gate math
(a few per gate element); every time step counts.
"""
import numpy as np

from .. import kernels
from ..autograd.function import Function


def _recurrent_macs(gx, gates):
    """h_{t-1} W_hh^T at every step: T * B * H * (G*H)."""
    steps, batch, width = gx.shape
    return steps * batch * (width // gates) * width


def _recurrent_flops(gx, gates, per_element):
    return 2 * _recurrent_macs(gx, gates) + per_element * gx.size


class ElmanRecurrence(Function):
    """h_t = act(gx_t + h_{t-1} W_hh^T). Shape: gx (T, B, H), h0 (B, H), w_hh (H, H) -> hs (T, B, H)."""

    def forward(self, gx, h0, w_hh, nonlinearity):
        self.nonlinearity = nonlinearity
        self.hs = kernels.rnn_forward(gx, h0, w_hh, nonlinearity)
        self.h0, self.w_hh = h0, w_hh
        return self.hs

    def backward(self, dhs):
        return kernels.rnn_backward(np.ascontiguousarray(dhs), self.h0, self.w_hh, self.hs, self.nonlinearity)

    def macs(self, out, gx, h0, w_hh):
        return _recurrent_macs(gx, 1)

    def flops(self, out, gx, h0, w_hh):
        return _recurrent_flops(gx, 1, 2)


class LSTMRecurrence(Function):
    """Shape: gx (T, B, 4H), h0 and c0 (B, H), w_hh (4H, H) -> hs (T, B, H), c_T (B, H)."""

    def forward(self, gx, h0, c0, w_hh):
        self.saved = kernels.lstm_forward(gx, h0, c0, w_hh)
        self.h0, self.c0, self.w_hh = h0, c0, w_hh
        hs, cs = self.saved[0], self.saved[1]
        return hs, cs[-1]

    def backward(self, dhs, dc_last):
        return kernels.lstm_backward(
            np.ascontiguousarray(dhs), dc_last, self.h0, self.c0, self.w_hh, *self.saved
        )

    def macs(self, out, gx, h0, c0, w_hh):
        return _recurrent_macs(gx, 4)

    def flops(self, out, gx, h0, c0, w_hh):
        return _recurrent_flops(gx, 4, 3)


class GRURecurrence(Function):
    """Shape: gx (T, B, 3H), h0 (B, H), w_hh (3H, H), b_hh (3H,) -> hs (T, B, H)."""

    def forward(self, gx, h0, w_hh, b_hh):
        hs, self.acts, self.hns = kernels.gru_forward(gx, h0, w_hh, b_hh)
        self.hs, self.h0, self.w_hh = hs, h0, w_hh
        return hs

    def backward(self, dhs):
        return kernels.gru_backward(np.ascontiguousarray(dhs), self.h0, self.w_hh, self.hs, self.acts, self.hns)

    def macs(self, out, gx, h0, w_hh, b_hh):
        return _recurrent_macs(gx, 3)

    def flops(self, out, gx, h0, w_hh, b_hh):
        return _recurrent_flops(gx, 3, 3)
