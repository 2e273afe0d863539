"""Recurrent layers over a whole sequence, in Numba. Same signatures and results as the
NumPy twins in `minidl/kernels/reference.py`.

The input projection of every step is one GEMM before these run (minidl.functional.rnn).
The loop over time runs compiled where each step's product is small enough
(recurrent_loops.py: minidl's own GEMM, one or two threads, no Python between steps);
larger layers loop here in Python around NumPy's matmul, whose BLAS blocking wins there.
Both use the same fused cells (recurrent_cells.py). Backward keeps every step's gate
gradients, so dW_hh is one GEMM after the loop.
"""
import numpy as np

from . import recurrent_cells as cells
from . import recurrent_loops

_NONLINEARITY = {"tanh": 0, "relu": 1, "identity": 2}


def _weight_grad(d, h0, hs):
    """dW_hh = sum over steps of d_t^T h_{t-1} (h_{-1} = h0), as two GEMMs on views:
    concatenating h0 and hs[:-1] first would copy every state.
    Shape: d (T, B, G*H), h0 (B, H), hs (T, B, H) -> (G*H, H)."""
    width, hidden = d.shape[2], hs.shape[2]
    if len(d) == 1:
        return d[0].T @ h0
    dw = d[1:].reshape(-1, width).T @ hs[:-1].reshape(-1, hidden)
    if h0.any():  # the default zero state adds nothing: skip its product
        dw += d[0].T @ h0
    return dw


class _BackThroughWeights:
    """d @ W_hh, the gradient carried one step back through a gated cell's weights, computed
    as (W_hh^T @ d^T)^T: with 3 or 4 gates, OpenBLAS runs that product about a fifth faster
    at a batch of 32 (an LSTM step's 32x512 @ 512x128: 28 against 36 us, transpose
    included), though not with one gate (11 against 8 us), so the plain RNN keeps the
    direct product. Shape: d (B, G*H), W_hh (G*H, H) -> (B, H)."""

    def __init__(self, w_hh, batch):
        self.w_t = np.ascontiguousarray(w_hh.T)
        self.result_t = np.empty((w_hh.shape[1], batch), dtype=w_hh.dtype)

    def into(self, d, out):
        np.matmul(self.w_t, d.T, out=self.result_t)
        out[...] = self.result_t.T

    def add_into(self, d, out):
        np.matmul(self.w_t, d.T, out=self.result_t)
        out += self.result_t.T


def rnn_forward(gx, h0, w_hh, nonlinearity):
    code = _NONLINEARITY[nonlinearity]
    hs = np.empty(gx.shape, dtype=gx.dtype)
    if recurrent_loops.applies(w_hh, gx.shape[1]):
        recurrent_loops.rnn_forward(gx, h0, w_hh, code, hs)
        return hs
    w_t = np.ascontiguousarray(w_hh.T)
    h = h0
    for t in range(gx.shape[0]):
        np.matmul(h, w_t, out=hs[t])
        cells.add_activate(hs[t], gx[t], code)
        h = hs[t]
    return hs


def rnn_backward(dhs, h0, w_hh, hs, nonlinearity):
    code = _NONLINEARITY[nonlinearity]
    dz = np.empty(dhs.shape, dtype=dhs.dtype)
    dh = np.zeros(h0.shape, dtype=dhs.dtype)
    if recurrent_loops.applies(w_hh, dhs.shape[1]):
        recurrent_loops.rnn_backward(dhs, w_hh, hs, code, dz, dh)
    else:
        for t in range(dhs.shape[0] - 1, -1, -1):
            cells.rnn_step_backward(dz[t], dh, dhs[t], hs[t], code)
            np.matmul(dz[t], w_hh, out=dh)  # square W_hh: the plain product is the faster one here
    return dz, dh, _weight_grad(dz, h0, hs)


def lstm_forward(gx, h0, c0, w_hh):
    steps, batch, four_h = gx.shape
    hidden = four_h // 4
    hs, cs, tcs = (np.empty((steps, batch, hidden), dtype=gx.dtype) for _ in range(3))
    acts = np.empty(gx.shape, dtype=gx.dtype)
    if recurrent_loops.applies(w_hh, batch):
        recurrent_loops.lstm_forward(gx, h0, c0, w_hh, hs, cs, tcs, acts)
        return hs, cs, acts, tcs
    z = np.empty((batch, four_h), dtype=gx.dtype)
    w_t = np.ascontiguousarray(w_hh.T)
    h, c = h0, c0
    for t in range(steps):
        np.matmul(h, w_t, out=z)
        cells.lstm_cell(z, gx[t], c, acts[t], cs[t], tcs[t], hs[t])
        h, c = hs[t], cs[t]
    return hs, cs, acts, tcs


def lstm_backward(dhs, dc_last, h0, c0, w_hh, hs, cs, acts, tcs):
    steps, _, hidden = dhs.shape
    dgates = np.empty(dhs.shape[:2] + (4 * hidden,), dtype=dhs.dtype)
    dh = np.zeros(h0.shape, dtype=dhs.dtype)
    dc = np.array(dc_last, dtype=dhs.dtype, copy=True)
    if recurrent_loops.applies(w_hh, dhs.shape[1]):
        recurrent_loops.lstm_backward(dhs, c0, w_hh, cs, acts, tcs, dgates, dc, dh)
    else:
        back = _BackThroughWeights(w_hh, len(h0))
        for t in range(steps - 1, -1, -1):
            cells.lstm_step_backward(dgates[t], dc, dh, dhs[t], acts[t], tcs[t], cs[t - 1] if t > 0 else c0)
            back.into(dgates[t], dh)
    return dgates, dh, dc, _weight_grad(dgates, h0, hs)


def gru_forward(gx, h0, w_hh, b_hh):
    steps, batch, three_h = gx.shape
    hidden = three_h // 3
    hs = np.empty((steps, batch, hidden), dtype=gx.dtype)
    hns = np.empty_like(hs)
    acts = np.empty(gx.shape, dtype=gx.dtype)
    if recurrent_loops.applies(w_hh, batch):
        recurrent_loops.gru_forward(gx, h0, w_hh, b_hh, hs, acts, hns)
        return hs, acts, hns
    hh = np.empty((batch, three_h), dtype=gx.dtype)
    w_t = np.ascontiguousarray(w_hh.T)
    h = h0
    for t in range(steps):
        np.matmul(h, w_t, out=hh)
        cells.gru_cell(hh, gx[t], b_hh, h, acts[t], hs[t], hns[t])
        h = hs[t]
    return hs, acts, hns


def gru_backward(dhs, h0, w_hh, hs, acts, hns):
    steps, _, hidden = dhs.shape
    dgx = np.empty(dhs.shape[:2] + (3 * hidden,), dtype=dhs.dtype)
    dhh = np.empty_like(dgx)
    dh = np.zeros(h0.shape, dtype=dhs.dtype)
    if recurrent_loops.applies(w_hh, dhs.shape[1]):
        recurrent_loops.gru_backward(dhs, h0, w_hh, hs, acts, hns, dgx, dhh, dh)
    else:
        back = _BackThroughWeights(w_hh, len(h0))
        for t in range(steps - 1, -1, -1):
            cells.gru_step_backward(dgx[t], dhh[t], dh, dhs[t], acts[t], hns[t], hs[t - 1] if t > 0 else h0)
            back.add_into(dhh[t], dh)
    rows = dhh.reshape(-1, dhh.shape[2])
    db_hh = np.ones(len(rows), dtype=rows.dtype) @ rows  # column sums as a GEMV: faster than sum(axis=(0, 1))
    return dgx, dh, _weight_grad(dhh, h0, hs), db_hh
