"""Recurrent layers over a whole sequence: Numba-fused gate math, BLAS for the recurrent product.

Same signatures and results as the NumPy twins in `minidl/kernels/reference.py`.
Per time step:
  * the recurrent product h @ W_hh^T is NumPy's matmul (BLAS); inside @njit it
    would need SciPy, which minidl does not depend on;
  * tanh, and sigmoid as (1 + tanh(x/2)) / 2, run as one vectorised pass over
    the gates (special.tanh: a rational approximation for float32, np.tanh for
    float64); a scalar tanh in a Numba loop is ~30x slower (no SVML in llvmlite);
  * everything else (bias and input terms, gate products, the cell update and
    the whole backward gate block) is one fused Numba pass over (B, H).
Backward keeps every step's gate gradients, so dW_hh is one GEMM after the loop.
"""
import numba
import numpy as np

from .special import _tanh32_scalar
from .special import tanh as _tanh

# ----------------------------------------------------------------- fused steps


@numba.njit(cache=True)
def _add_into(out, a):
    """out += a, element-wise over (B, N)."""
    for b in range(out.shape[0]):
        for k in range(out.shape[1]):
            out[b, k] += a[b, k]


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _add_tanh32(out, a):
    """out = tanh(out + a) in one pass (float32: the vectorised rational tanh)."""
    for b in range(out.shape[0]):
        for k in range(out.shape[1]):
            out[b, k] = _tanh32_scalar(out[b, k] + a[b, k])


@numba.njit(cache=True)
def _rnn_step_backward(dz, dh, dhs_t, h_t, nonlinearity):
    """dz = (dhs_t + dh) * act'(z), act' from the output h_t; 0 tanh, 1 relu, 2 identity."""
    for b in range(dz.shape[0]):
        for k in range(dz.shape[1]):
            g = dhs_t[b, k] + dh[b, k]
            if nonlinearity == 0:
                g *= 1 - h_t[b, k] * h_t[b, k]
            elif nonlinearity == 1:
                g = g if h_t[b, k] > 0 else 0.0
            dz[b, k] = g


@numba.njit(cache=True)
def _lstm_pre(z, gx_t, hidden):
    """z = (z + gx_t) scaled by 1/2 on the sigmoid gates (i, f, o), ready for one tanh."""
    for b in range(z.shape[0]):
        for k in range(z.shape[1]):
            v = z[b, k] + gx_t[b, k]
            z[b, k] = v if hidden * 2 <= k < hidden * 3 else 0.5 * v


@numba.njit(cache=True)
def _lstm_post(t_z, c_prev, acts_t, c_t, hidden):
    """From tanh'd gates: i, f, o = (1 + t) / 2, g = t; c_t = f * c_prev + i * g."""
    for b in range(t_z.shape[0]):
        for k in range(hidden):
            i = 0.5 * (1 + t_z[b, k])
            f = 0.5 * (1 + t_z[b, hidden + k])
            g = t_z[b, 2 * hidden + k]
            o = 0.5 * (1 + t_z[b, 3 * hidden + k])
            acts_t[b, k] = i
            acts_t[b, hidden + k] = f
            acts_t[b, 2 * hidden + k] = g
            acts_t[b, 3 * hidden + k] = o
            c_t[b, k] = f * c_prev[b, k] + i * g


@numba.njit(cache=True)
def _lstm_output(h_t, acts_t, tc_t, hidden):
    for b in range(h_t.shape[0]):
        for k in range(hidden):
            h_t[b, k] = acts_t[b, 3 * hidden + k] * tc_t[b, k]


@numba.njit(cache=True)
def _lstm_step_backward(dgates_t, dc, dh, dhs_t, acts_t, tc_t, c_prev, hidden):
    """One step of LSTM backward: fills dgates_t (B, 4H) and carries dc back one step (in place)."""
    for b in range(dc.shape[0]):
        for k in range(hidden):
            i = acts_t[b, k]
            f = acts_t[b, hidden + k]
            g = acts_t[b, 2 * hidden + k]
            o = acts_t[b, 3 * hidden + k]
            tc = tc_t[b, k]
            dh_t = dhs_t[b, k] + dh[b, k]
            d_c = dc[b, k] + dh_t * o * (1 - tc * tc)
            dgates_t[b, k] = d_c * g * i * (1 - i)
            dgates_t[b, hidden + k] = d_c * c_prev[b, k] * f * (1 - f)
            dgates_t[b, 2 * hidden + k] = d_c * i * (1 - g * g)
            dgates_t[b, 3 * hidden + k] = dh_t * tc * o * (1 - o)
            dc[b, k] = d_c * f


@numba.njit(cache=True)
def _gru_pre(a, hh, gx_t, b_hh, hidden):
    """hh += b_hh; a[:, :2H] = (gx + hh) / 2 for r and z, ready for one tanh."""
    for b in range(hh.shape[0]):
        for k in range(3 * hidden):
            hh[b, k] += b_hh[k]
        for k in range(2 * hidden):
            a[b, k] = 0.5 * (gx_t[b, k] + hh[b, k])


@numba.njit(cache=True)
def _gru_mid(a, hh, gx_t, hidden):
    """r, z = (1 + t) / 2 in place; a[:, 2H:] = gx_n + r * hh_n, ready for tanh."""
    for b in range(a.shape[0]):
        for k in range(2 * hidden):
            a[b, k] = 0.5 * (1 + a[b, k])
        for k in range(hidden):
            a[b, 2 * hidden + k] = gx_t[b, 2 * hidden + k] + a[b, k] * hh[b, 2 * hidden + k]


@numba.njit(cache=True)
def _gru_post(h_t, hn_t, a, hh, h_prev, hidden):
    for b in range(h_t.shape[0]):
        for k in range(hidden):
            z = a[b, hidden + k]
            h_t[b, k] = (1 - z) * a[b, 2 * hidden + k] + z * h_prev[b, k]
            hn_t[b, k] = hh[b, 2 * hidden + k]


@numba.njit(cache=True)
def _gru_step_backward(dgx_t, dhh_t, dh, dhs_t, acts_t, hn_t, h_prev, hidden):
    """Fills dgx_t and dhh_t (B, 3H); dh becomes the direct part z * dh_t (the matmul part is added after)."""
    for b in range(dh.shape[0]):
        for k in range(hidden):
            r = acts_t[b, k]
            z = acts_t[b, hidden + k]
            n = acts_t[b, 2 * hidden + k]
            dh_t = dhs_t[b, k] + dh[b, k]
            dn = dh_t * (1 - z) * (1 - n * n)
            dr = dn * hn_t[b, k] * r * (1 - r)
            dz = dh_t * (h_prev[b, k] - n) * z * (1 - z)
            dgx_t[b, k] = dr
            dgx_t[b, hidden + k] = dz
            dgx_t[b, 2 * hidden + k] = dn
            dhh_t[b, k] = dr
            dhh_t[b, hidden + k] = dz
            dhh_t[b, 2 * hidden + k] = dn * r
            dh[b, k] = dh_t * z


# ------------------------------------------------------------ whole sequences
_NONLINEARITY = {"tanh": 0, "relu": 1, "identity": 2}


def _previous_states(h0, hs):
    """(T, B, H): the state each step started from."""
    return np.concatenate([h0[None], hs[:-1]])


def rnn_forward(gx, h0, w_hh, nonlinearity):
    hs = np.empty_like(gx)
    w_t = np.ascontiguousarray(w_hh.T)
    h = h0
    fused = nonlinearity == "tanh" and gx.dtype == np.float32
    for t in range(gx.shape[0]):
        np.matmul(h, w_t, out=hs[t])
        if fused:  # one pass instead of an add and a tanh (and their call overheads)
            _add_tanh32(hs[t], gx[t])
            h = hs[t]
            continue
        _add_into(hs[t], gx[t])
        if nonlinearity == "tanh":
            _tanh(hs[t], out=hs[t])
        elif nonlinearity == "relu":
            np.maximum(hs[t], 0, out=hs[t])
        h = hs[t]
    return hs


def rnn_backward(dhs, h0, w_hh, hs, nonlinearity):
    code = _NONLINEARITY[nonlinearity]
    dz = np.empty_like(dhs)
    dh = np.zeros_like(h0)
    for t in range(dhs.shape[0] - 1, -1, -1):
        _rnn_step_backward(dz[t], dh, dhs[t], hs[t], code)
        np.matmul(dz[t], w_hh, out=dh)
    hidden = h0.shape[1]
    dw_hh = dz.reshape(-1, hidden).T @ _previous_states(h0, hs).reshape(-1, hidden)
    return dz, dh, dw_hh


def lstm_forward(gx, h0, c0, w_hh):
    steps, batch, four_h = gx.shape
    hidden = four_h // 4
    hs, cs, tcs = (np.empty((steps, batch, hidden), dtype=gx.dtype) for _ in range(3))
    acts = np.empty_like(gx)
    z = np.empty((batch, four_h), dtype=gx.dtype)
    w_t = np.ascontiguousarray(w_hh.T)
    h, c = h0, c0
    for t in range(steps):
        np.matmul(h, w_t, out=z)
        _lstm_pre(z, gx[t], hidden)
        _tanh(z, out=z)
        _lstm_post(z, c, acts[t], cs[t], hidden)
        _tanh(cs[t], out=tcs[t])
        _lstm_output(hs[t], acts[t], tcs[t], hidden)
        h, c = hs[t], cs[t]
    return hs, cs, acts, tcs


def lstm_backward(dhs, dc_last, h0, c0, w_hh, hs, cs, acts, tcs):
    steps, _, hidden = dhs.shape
    dgates = np.empty(dhs.shape[:2] + (4 * hidden,), dtype=dhs.dtype)
    dh = np.zeros_like(h0)
    dc = np.array(dc_last, dtype=dhs.dtype, copy=True)
    for t in range(steps - 1, -1, -1):
        _lstm_step_backward(dgates[t], dc, dh, dhs[t], acts[t], tcs[t], cs[t - 1] if t > 0 else c0, hidden)
        np.matmul(dgates[t], w_hh, out=dh)
    dw_hh = dgates.reshape(-1, 4 * hidden).T @ _previous_states(h0, hs).reshape(-1, hidden)
    return dgates, dh, dc, dw_hh


def gru_forward(gx, h0, w_hh, b_hh):
    steps, batch, three_h = gx.shape
    hidden = three_h // 3
    hs = np.empty((steps, batch, hidden), dtype=gx.dtype)
    hns = np.empty_like(hs)
    acts = np.empty_like(gx)
    hh = np.empty((batch, three_h), dtype=gx.dtype)
    w_t = np.ascontiguousarray(w_hh.T)
    h = h0
    for t in range(steps):
        a = acts[t]
        np.matmul(h, w_t, out=hh)
        _gru_pre(a, hh, gx[t], b_hh, hidden)
        _tanh(a[:, : 2 * hidden], out=a[:, : 2 * hidden])
        _gru_mid(a, hh, gx[t], hidden)
        _tanh(a[:, 2 * hidden :], out=a[:, 2 * hidden :])
        _gru_post(hs[t], hns[t], a, hh, h, hidden)
        h = hs[t]
    return hs, acts, hns


def gru_backward(dhs, h0, w_hh, hs, acts, hns):
    steps, _, hidden = dhs.shape
    dgx = np.empty(dhs.shape[:2] + (3 * hidden,), dtype=dhs.dtype)
    dhh = np.empty_like(dgx)
    dh = np.zeros_like(h0)
    for t in range(steps - 1, -1, -1):
        _gru_step_backward(dgx[t], dhh[t], dh, dhs[t], acts[t], hns[t], hs[t - 1] if t > 0 else h0, hidden)
        dh += dhh[t] @ w_hh
    dw_hh = dhh.reshape(-1, 3 * hidden).T @ _previous_states(h0, hs).reshape(-1, hidden)
    return dgx, dh, dw_hh, dhh.sum(axis=(0, 1))
