"""Recurrent layers over a whole sequence: Numba-fused gate math, BLAS for the recurrent product.

Same signatures and results as the NumPy twins in `minidl/kernels/reference.py`.
Per time step:
  * the recurrent product h @ W_hh^T is NumPy's matmul (BLAS); inside @njit it
    would need SciPy, which minidl does not depend on;
  * everything else is one fused Numba pass over (B, H): bias and input terms,
    tanh, sigmoid as (1 + tanh(x/2)) / 2, gate products, the cell update
    (special.tanh_scalar: the vectorised rational tanh for float32, libm's for
    float64; libm's tanh in a float32 loop is scalar, as llvmlite has no SVML);
    and the whole backward gate block, also one pass.
Backward keeps every step's gate gradients, so dW_hh is one GEMM after the loop.
"""
import numba
import numpy as np

from .special import _tanh32_scalar, tanh_scalar
from .special import tanh as _tanh

# ----------------------------------------------------------------- fused steps


@numba.njit(cache=True)
def _add_into_row(out, a):
    """out += a over one row."""
    for k in range(out.shape[0]):
        out[k] += a[k]


@numba.njit(cache=True)
def _add_into(out, a):
    """out += a, element-wise over (B, N)."""
    for b in range(out.shape[0]):
        _add_into_row(out[b], a[b])


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _add_tanh32(out, a):
    """out = tanh(out + a) in one pass (float32: the vectorised rational tanh)."""
    for b in range(out.shape[0]):
        for k in range(out.shape[1]):
            out[b, k] = _tanh32_scalar(out[b, k] + a[b, k])


# The backward steps write their constants in the arrays' dtype: a bare 1 or 0.0 would
# turn float32 arithmetic into float64 and keep LLVM from vectorising it.
@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _rnn_step_backward(dz, dh, dhs_t, h_t, nonlinearity):
    """dz = (dhs_t + dh) * act'(z), act' from the output h_t; 0 tanh, 1 relu, 2 identity."""
    one, zero = dz.dtype.type(1.0), dz.dtype.type(0.0)
    for b in range(dz.shape[0]):
        for k in range(dz.shape[1]):
            g = dhs_t[b, k] + dh[b, k]
            if nonlinearity == 0:
                g *= one - h_t[b, k] * h_t[b, k]
            elif nonlinearity == 1:
                g = g if h_t[b, k] > zero else zero
            dz[b, k] = g


# The cells loop over one row's gate blocks as separate 1-D views, each loop touching few
# arrays: a single loop over all gates and states needed so many runtime alias checks that
# LLVM kept it scalar. Views, not offsets: with an index such as start + k, Numba must
# allow for a negative index (wraparound), and that check kept the loop scalar too.
@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _sigmoid_into(out, a, b):
    """out = sigmoid(a + b), as (1 + tanh(x/2)) / 2."""
    half = out.dtype.type(0.5)
    for k in range(out.shape[0]):
        out[k] = half + half * tanh_scalar(half * (a[k] + b[k]))


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _tanh_into(out, a, b):
    """out = tanh(a + b)."""
    for k in range(out.shape[0]):
        out[k] = tanh_scalar(a[k] + b[k])


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _lstm_update(i, f, g, o, c_prev, c_t, tc_t, h_t):
    """c_t = f * c_prev + i * g; h_t = o * tanh(c_t), keeping tanh(c_t) for the backward."""
    for k in range(c_t.shape[0]):
        c = f[k] * c_prev[k] + i[k] * g[k]
        c_t[k] = c
        tc = tanh_scalar(c)
        tc_t[k] = tc
        h_t[k] = o[k] * tc


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _lstm_cell(z, gx_t, c_prev, acts_t, c_t, tc_t, h_t, hidden):
    """One LSTM step after the recurrent product z = h_prev @ W_hh^T (B, 4H): gates
    i, f, o = sigmoid and g = tanh of z + gx_t; c_t = f * c_prev + i * g; h_t = o * tanh(c_t)."""
    h2, h3 = 2 * hidden, 3 * hidden
    for b in range(z.shape[0]):
        zb, gb, ab = z[b], gx_t[b], acts_t[b]
        _sigmoid_into(ab[:h2], zb[:h2], gb[:h2])  # i, f
        _tanh_into(ab[h2:h3], zb[h2:h3], gb[h2:h3])  # g
        _sigmoid_into(ab[h3:], zb[h3:], gb[h3:])  # o
        _lstm_update(ab[:hidden], ab[hidden:h2], ab[h2:h3], ab[h3:], c_prev[b], c_t[b], tc_t[b], h_t[b])


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _lstm_step_backward(dgates_t, dc, dh, dhs_t, acts_t, tc_t, c_prev, hidden):
    """One step of LSTM backward: fills dgates_t (B, 4H) and carries dc back one step (in place).
    Row by row, over 1-D views: few arrays per loop, so LLVM vectorises it (see _lstm_cell)."""
    one = dc.dtype.type(1.0)
    for b in range(dc.shape[0]):
        ab, db, dcb, cp = acts_t[b], dgates_t[b], dc[b], c_prev[b]
        dht, dhb, tb = dhs_t[b], dh[b], tc_t[b]
        for k in range(hidden):
            i, f, g, o = ab[k], ab[hidden + k], ab[2 * hidden + k], ab[3 * hidden + k]
            tc = tb[k]
            dh_t = dht[k] + dhb[k]
            d_c = dcb[k] + dh_t * o * (one - tc * tc)
            db[k] = d_c * g * i * (one - i)
            db[hidden + k] = d_c * cp[k] * f * (one - f)
            db[2 * hidden + k] = d_c * i * (one - g * g)
            db[3 * hidden + k] = dh_t * tc * o * (one - o)
            dcb[k] = d_c * f


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _gru_candidate(n, hn, gx_n, r, hh_n, b_hn):
    """hn = hh_n + b_hn (kept for the backward); n = tanh(gx_n + r * hn)."""
    for k in range(n.shape[0]):
        v = hh_n[k] + b_hn[k]
        hn[k] = v
        n[k] = tanh_scalar(gx_n[k] + r[k] * v)


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _gru_update(z, n, h_prev, h_t):
    one = h_t.dtype.type(1.0)
    for k in range(h_t.shape[0]):
        h_t[k] = (one - z[k]) * n[k] + z[k] * h_prev[k]


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _gru_cell(hh, gx_t, b_hh, h_prev, acts_t, h_t, hn_t, hidden):
    """One GRU step after the recurrent product hh = h_prev @ W_hh^T (B, 3H): r, z = sigmoid,
    n = tanh(gx_n + r * (hh_n + b_hn)); h_t = (1 - z) * n + z * h_prev."""
    h2 = 2 * hidden
    for b in range(hh.shape[0]):
        hb, gb, ab = hh[b], gx_t[b], acts_t[b]
        _add_into_row(hb[:h2], b_hh[:h2])
        _sigmoid_into(ab[:h2], gb[:h2], hb[:h2])  # r, z
        _gru_candidate(ab[h2:], hn_t[b], gb[h2:], ab[:hidden], hb[h2:], b_hh[h2:])
        _gru_update(ab[hidden:h2], ab[h2:], h_prev[b], h_t[b])


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _gru_step_backward(dgx_t, dhh_t, dh, dhs_t, acts_t, hn_t, h_prev, hidden):
    """Fills dgx_t and dhh_t (B, 3H); dh becomes the direct part z * dh_t (the matmul part is added after).
    Row by row, over 1-D views, so LLVM vectorises it (see _lstm_cell)."""
    one = dh.dtype.type(1.0)
    for b in range(dh.shape[0]):
        ab, gb, hb, dhb = acts_t[b], dgx_t[b], dhh_t[b], dh[b]
        dht, nb, pb = dhs_t[b], hn_t[b], h_prev[b]
        for k in range(hidden):
            r, z, n = ab[k], ab[hidden + k], ab[2 * hidden + k]
            dh_t = dht[k] + dhb[k]
            dn = dh_t * (one - z) * (one - n * n)
            dr = dn * nb[k] * r * (one - r)
            dz = dh_t * (pb[k] - n) * z * (one - z)
            gb[k] = dr
            gb[hidden + k] = dz
            gb[2 * hidden + k] = dn
            hb[k] = dr
            hb[hidden + k] = dz
            hb[2 * hidden + k] = dn * r
            dhb[k] = dh_t * z


# ------------------------------------------------------------ whole sequences
_NONLINEARITY = {"tanh": 0, "relu": 1, "identity": 2}


def _weight_grad(d, h0, hs):
    """dW_hh = sum over steps of d_t^T h_{t-1} (h_{-1} = h0), as two GEMMs on views:
    concatenating h0 and hs[:-1] first would copy every state.
    Shape: d (T, B, G*H), h0 (B, H), hs (T, B, H) -> (G*H, H)."""
    width, hidden = d.shape[2], hs.shape[2]
    dw = d[0].T @ h0
    if len(d) > 1:
        dw += d[1:].reshape(-1, width).T @ hs[:-1].reshape(-1, hidden)
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
        np.matmul(dz[t], w_hh, out=dh)  # square W_hh: the plain product is the faster one here
    dw_hh = _weight_grad(dz, h0, hs)
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
        _lstm_cell(z, gx[t], c, acts[t], cs[t], tcs[t], hs[t], hidden)
        h, c = hs[t], cs[t]
    return hs, cs, acts, tcs


def lstm_backward(dhs, dc_last, h0, c0, w_hh, hs, cs, acts, tcs):
    steps, _, hidden = dhs.shape
    dgates = np.empty(dhs.shape[:2] + (4 * hidden,), dtype=dhs.dtype)
    dh = np.zeros_like(h0)
    dc = np.array(dc_last, dtype=dhs.dtype, copy=True)
    back = _BackThroughWeights(w_hh, len(h0))
    for t in range(steps - 1, -1, -1):
        _lstm_step_backward(dgates[t], dc, dh, dhs[t], acts[t], tcs[t], cs[t - 1] if t > 0 else c0, hidden)
        back.into(dgates[t], dh)
    dw_hh = _weight_grad(dgates, h0, hs)
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
        np.matmul(h, w_t, out=hh)
        _gru_cell(hh, gx[t], b_hh, h, acts[t], hs[t], hns[t], hidden)
        h = hs[t]
    return hs, acts, hns


def gru_backward(dhs, h0, w_hh, hs, acts, hns):
    steps, _, hidden = dhs.shape
    dgx = np.empty(dhs.shape[:2] + (3 * hidden,), dtype=dhs.dtype)
    dhh = np.empty_like(dgx)
    dh = np.zeros_like(h0)
    back = _BackThroughWeights(w_hh, len(h0))
    for t in range(steps - 1, -1, -1):
        _gru_step_backward(dgx[t], dhh[t], dh, dhs[t], acts[t], hns[t], hs[t - 1] if t > 0 else h0, hidden)
        back.add_into(dhh[t], dh)
    dw_hh = _weight_grad(dhh, h0, hs)
    return dgx, dh, dw_hh, dhh.sum(axis=(0, 1))
