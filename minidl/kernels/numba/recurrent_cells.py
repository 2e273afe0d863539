"""The fused gate math of one recurrent step, for a range of hidden units.

Each step's recurrent product comes from the caller (a GEMM); these kernels do the rest
in one pass over (B, H): bias and input terms, tanh, sigmoid as (1 + tanh(x/2)) / 2,
gate products, the cell update (special.tanh_scalar: the vectorised rational tanh for
float32, libm's for float64; libm's tanh in a float32 loop is scalar, as llvmlite has
no SVML), and the whole backward gate block.
The gated cells take hidden units [lo, hi) so that two threads can each own half of
them (recurrent_loops.py); the Python loop passes 0 and H.
"""
import numba

from .special import tanh_scalar


@numba.njit(cache=True)
def _add_into_row(out, a):
    """out += a over one row."""
    for k in range(out.shape[0]):
        out[k] += a[k]


@numba.njit(cache=True)
def _add_rows(out, a, b):
    """out = a + b over one row."""
    for k in range(out.shape[0]):
        out[k] = a[k] + b[k]


# The backward steps write their constants in the arrays' dtype: a bare 1 or 0.0 would
# turn float32 arithmetic into float64 and keep LLVM from vectorising it.
@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def rnn_step_backward(dz, dh, dhs_t, h_t, nonlinearity, lo, hi):
    """dz = (dhs_t + dh) * act'(z) for hidden units [lo, hi), act' from the output h_t;
    0 tanh, 1 relu, 2 identity. Row by row over 1-D views, which LLVM vectorises."""
    one, zero = dz.dtype.type(1.0), dz.dtype.type(0.0)
    for b in range(dz.shape[0]):
        db, dhb, dtb, hb = dz[b, lo:hi], dh[b, lo:hi], dhs_t[b, lo:hi], h_t[b, lo:hi]
        for k in range(hi - lo):
            g = dtb[k] + dhb[k]
            if nonlinearity == 0:
                g *= one - hb[k] * hb[k]
            elif nonlinearity == 1:
                g = g if hb[k] > zero else zero
            db[k] = g


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
def lstm_cell(z, gx_t, c_prev, acts_t, c_t, tc_t, h_t, lo, hi):
    """One LSTM step for hidden units [lo, hi), after the recurrent product: z (B, 4n),
    n = hi - lo, holds their gate pre-activations i | f | g | o. Gates i, f, o = sigmoid and
    g = tanh of z + gx_t; c_t = f * c_prev + i * g; h_t = o * tanh(c_t)."""
    hidden, n = c_t.shape[1], hi - lo
    for b in range(z.shape[0]):
        zb, gb, ab = z[b], gx_t[b], acts_t[b]
        i, f = ab[lo:hi], ab[hidden + lo : hidden + hi]
        g, o = ab[2 * hidden + lo : 2 * hidden + hi], ab[3 * hidden + lo : 3 * hidden + hi]
        _sigmoid_into(i, zb[:n], gb[lo:hi])
        _sigmoid_into(f, zb[n : 2 * n], gb[hidden + lo : hidden + hi])
        _tanh_into(g, zb[2 * n : 3 * n], gb[2 * hidden + lo : 2 * hidden + hi])
        _sigmoid_into(o, zb[3 * n : 4 * n], gb[3 * hidden + lo : 3 * hidden + hi])
        _lstm_update(i, f, g, o, c_prev[b, lo:hi], c_t[b, lo:hi], tc_t[b, lo:hi], h_t[b, lo:hi])


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _lstm_output_gate_backward(do, dc, o, tc):
    """Given dh_t in `do`: dc += dh_t * o * tanh'(c), do = dh_t * tanh(c) * sigmoid'(o)."""
    one = dc.dtype.type(1.0)
    for k in range(dc.shape[0]):
        dc[k] += do[k] * o[k] * (one - tc[k] * tc[k])
    for k in range(dc.shape[0]):
        do[k] *= tc[k] * o[k] * (one - o[k])


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _lstm_gates_backward(di, df, dg, dc, i, f, g, c_prev):
    """The input, forget and candidate gates' gradients from dc; then dc *= f, the carry."""
    one = dc.dtype.type(1.0)
    for k in range(dc.shape[0]):
        di[k] = dc[k] * g[k] * i[k] * (one - i[k])
    for k in range(dc.shape[0]):
        dg[k] = dc[k] * i[k] * (one - g[k] * g[k])
    for k in range(dc.shape[0]):
        df[k] = dc[k] * c_prev[k] * f[k] * (one - f[k])
    for k in range(dc.shape[0]):
        dc[k] *= f[k]


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def lstm_step_backward(dgates_t, dc, dh, dhs_t, acts_t, tc_t, c_prev, lo, hi):
    """One step of LSTM backward for hidden units [lo, hi): fills their columns of dgates_t
    (B, 4H) and carries their dc back one step (in place). Row by row, in loops over 1-D
    views that each write one array and read few, so LLVM vectorises them."""
    hidden = dc.shape[1]
    for b in range(dc.shape[0]):
        ab, db = acts_t[b], dgates_t[b]
        i, f = ab[lo:hi], ab[hidden + lo : hidden + hi]
        g, o = ab[2 * hidden + lo : 2 * hidden + hi], ab[3 * hidden + lo : 3 * hidden + hi]
        di, df = db[lo:hi], db[hidden + lo : hidden + hi]
        dg, do = db[2 * hidden + lo : 2 * hidden + hi], db[3 * hidden + lo : 3 * hidden + hi]
        _add_rows(do, dhs_t[b, lo:hi], dh[b, lo:hi])  # dh_t, for now
        _lstm_output_gate_backward(do, dc[b, lo:hi], o, tc_t[b, lo:hi])
        _lstm_gates_backward(di, df, dg, dc[b, lo:hi], i, f, g, c_prev[b, lo:hi])


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
def gru_cell(hh, gx_t, b_hh, h_prev, acts_t, h_t, hn_t, lo, hi):
    """One GRU step for hidden units [lo, hi), after the recurrent product: hh (B, 3n),
    n = hi - lo, holds their h_prev @ W_hh^T columns r | z | n (bias added here). r, z =
    sigmoid, n = tanh(gx_n + r * (hh_n + b_hn)); h_t = (1 - z) * n + z * h_prev."""
    hidden, n = h_t.shape[1], hi - lo
    for b in range(hh.shape[0]):
        hb, gb, ab = hh[b], gx_t[b], acts_t[b]
        r, z, cand = ab[lo:hi], ab[hidden + lo : hidden + hi], ab[2 * hidden + lo : 2 * hidden + hi]
        _add_into_row(hb[:n], b_hh[lo:hi])
        _add_into_row(hb[n : 2 * n], b_hh[hidden + lo : hidden + hi])
        _sigmoid_into(r, gb[lo:hi], hb[:n])
        _sigmoid_into(z, gb[hidden + lo : hidden + hi], hb[n : 2 * n])
        _gru_candidate(cand, hn_t[b, lo:hi], gb[2 * hidden + lo : 2 * hidden + hi], r, hb[2 * n : 3 * n],
                       b_hh[2 * hidden + lo : 2 * hidden + hi])
        _gru_update(z, cand, h_prev[b, lo:hi], h_t[b, lo:hi])


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _gru_gates_backward(dr, dz, dn, dh, r, z, n, hn, h_prev):
    """Given dh_t in `dz`: dn = dh_t * (1 - z) * tanh'(n), dr = dn * hn * sigmoid'(r),
    dh = dh_t * z (the direct part), dz = dh_t * (h_prev - n) * sigmoid'(z)."""
    one = dh.dtype.type(1.0)
    for k in range(dz.shape[0]):
        dn[k] = dz[k] * (one - z[k]) * (one - n[k] * n[k])
    for k in range(dz.shape[0]):
        dr[k] = dn[k] * hn[k] * r[k] * (one - r[k])
    for k in range(dz.shape[0]):
        dh[k] = dz[k] * z[k]
    for k in range(dz.shape[0]):
        dz[k] *= (h_prev[k] - n[k]) * z[k] * (one - z[k])


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _gru_recurrent_grads(hr, hz, hn, dr, dz, dn, r):
    """The gradients of the recurrent product's r | z | n columns: dr, dz and dn * r."""
    for k in range(hr.shape[0]):
        hr[k] = dr[k]
    for k in range(hr.shape[0]):
        hz[k] = dz[k]
    for k in range(hr.shape[0]):
        hn[k] = dn[k] * r[k]


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def gru_step_backward(dgx_t, dhh_t, dh, dhs_t, acts_t, hn_t, h_prev, lo, hi):
    """For hidden units [lo, hi): fills their columns of dgx_t and dhh_t (B, 3H); their dh
    becomes the direct part z * dh_t (the product through W_hh is added after). Row by row,
    in loops over 1-D views that each write one array and read few, so LLVM vectorises them."""
    hidden = dh.shape[1]
    for b in range(dh.shape[0]):
        ab, gb, hb = acts_t[b], dgx_t[b], dhh_t[b]
        r, z, n = ab[lo:hi], ab[hidden + lo : hidden + hi], ab[2 * hidden + lo : 2 * hidden + hi]
        dr, dz, dn = gb[lo:hi], gb[hidden + lo : hidden + hi], gb[2 * hidden + lo : 2 * hidden + hi]
        _add_rows(dz, dhs_t[b, lo:hi], dh[b, lo:hi])  # dh_t, for now
        _gru_gates_backward(dr, dz, dn, dh[b, lo:hi], r, z, n, hn_t[b, lo:hi], h_prev[b, lo:hi])
        hr, hz, hn = hb[lo:hi], hb[hidden + lo : hidden + hi], hb[2 * hidden + lo : 2 * hidden + hi]
        _gru_recurrent_grads(hr, hz, hn, dr, dz, dn, r)


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def add_activate(out, a, nonlinearity, lo, hi):
    """out = act(out + a) for hidden units [lo, hi): 0 tanh, 1 relu, 2 identity."""
    zero = out.dtype.type(0.0)
    for b in range(out.shape[0]):
        ob, ab = out[b, lo:hi], a[b, lo:hi]
        for k in range(hi - lo):
            v = ob[k] + ab[k]
            if nonlinearity == 0:
                v = tanh_scalar(v)
            elif nonlinearity == 1:
                v = v if v > zero else zero
            ob[k] = v
