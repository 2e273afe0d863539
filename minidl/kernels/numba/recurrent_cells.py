"""The fused gate math of one recurrent step.

Each step's recurrent product comes from the caller (a GEMM); these kernels do the rest
in one pass over (B, H): bias and input terms, tanh, sigmoid as (1 + tanh(x/2)) / 2,
gate products, the cell update (special.tanh_scalar: the vectorised rational tanh for
float32, libm's for float64; libm's tanh in a float32 loop is scalar, as llvmlite has
no SVML), and the whole backward gate block. Two threads split the batch
(recurrent_loops.py), so each call gets whole rows: a thread's rows of every array.
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
def rnn_step_backward(dz, dh, dhs_t, h_t, nonlinearity):
    """dz = (dhs_t + dh) * act'(z), act' from the output h_t; 0 tanh, 1 relu, 2 identity.
    Row by row over 1-D views, which LLVM vectorises."""
    one, zero = dz.dtype.type(1.0), dz.dtype.type(0.0)
    for b in range(dz.shape[0]):
        db, dhb, dtb, hb = dz[b], dh[b], dhs_t[b], h_t[b]
        for k in range(db.shape[0]):
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
def lstm_cell(z, gx_t, c_prev, acts_t, c_t, tc_t, h_t):
    """One LSTM step after the recurrent product: z (B, 4H) holds the gate pre-activations
    i | f | g | o. Gates i, f, o = sigmoid and g = tanh of z + gx_t; c_t = f * c_prev + i * g;
    h_t = o * tanh(c_t)."""
    n = c_t.shape[1]
    for b in range(z.shape[0]):
        zb, gb, ab = z[b], gx_t[b], acts_t[b]
        i, f, g, o = ab[:n], ab[n : 2 * n], ab[2 * n : 3 * n], ab[3 * n :]
        _sigmoid_into(i, zb[:n], gb[:n])
        _sigmoid_into(f, zb[n : 2 * n], gb[n : 2 * n])
        _tanh_into(g, zb[2 * n : 3 * n], gb[2 * n : 3 * n])
        _sigmoid_into(o, zb[3 * n :], gb[3 * n :])
        _lstm_update(i, f, g, o, c_prev[b], c_t[b], tc_t[b], h_t[b])


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
def lstm_step_backward(dgates_t, dc, dh, dhs_t, acts_t, tc_t, c_prev):
    """One step of LSTM backward: fills dgates_t (B, 4H) and carries dc back one step (in
    place). Row by row, in loops over 1-D views that each write one array and read few, so
    LLVM vectorises them."""
    n = dc.shape[1]
    for b in range(dc.shape[0]):
        ab, db = acts_t[b], dgates_t[b]
        i, f, g, o = ab[:n], ab[n : 2 * n], ab[2 * n : 3 * n], ab[3 * n :]
        di, df, dg, do = db[:n], db[n : 2 * n], db[2 * n : 3 * n], db[3 * n :]
        _add_rows(do, dhs_t[b], dh[b])  # dh_t, for now
        _lstm_output_gate_backward(do, dc[b], o, tc_t[b])
        _lstm_gates_backward(di, df, dg, dc[b], i, f, g, c_prev[b])


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
def gru_cell(hh, gx_t, b_hh, h_prev, acts_t, h_t, hn_t):
    """One GRU step after the recurrent product: hh (B, 3H) holds h_prev @ W_hh^T, columns
    r | z | n (bias added here). r, z = sigmoid, n = tanh(gx_n + r * (hh_n + b_hn));
    h_t = (1 - z) * n + z * h_prev."""
    n = h_t.shape[1]
    for b in range(hh.shape[0]):
        hb, gb, ab = hh[b], gx_t[b], acts_t[b]
        r, z, cand = ab[:n], ab[n : 2 * n], ab[2 * n :]
        _add_into_row(hb[:n], b_hh[:n])
        _add_into_row(hb[n : 2 * n], b_hh[n : 2 * n])
        _sigmoid_into(r, gb[:n], hb[:n])
        _sigmoid_into(z, gb[n : 2 * n], hb[n : 2 * n])
        _gru_candidate(cand, hn_t[b], gb[2 * n :], r, hb[2 * n :], b_hh[2 * n :])
        _gru_update(z, cand, h_prev[b], h_t[b])


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
def gru_step_backward(dgx_t, dhh_t, dh, dhs_t, acts_t, hn_t, h_prev):
    """Fills dgx_t and dhh_t (B, 3H); dh becomes the direct part z * dh_t (the product
    through W_hh is added after). Row by row, in loops over 1-D views that each write one
    array and read few, so LLVM vectorises them."""
    h = dh.shape[1]
    for b in range(dh.shape[0]):
        ab, gb, hb = acts_t[b], dgx_t[b], dhh_t[b]
        r, z, n = ab[:h], ab[h : 2 * h], ab[2 * h :]
        dr, dz, dn = gb[:h], gb[h : 2 * h], gb[2 * h :]
        _add_rows(dz, dhs_t[b], dh[b])  # dh_t, for now
        _gru_gates_backward(dr, dz, dn, dh[b], r, z, n, hn_t[b], h_prev[b])
        _gru_recurrent_grads(hb[:h], hb[h : 2 * h], hb[2 * h :], dr, dz, dn, r)


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def add_activate(out, a, nonlinearity):
    """out = act(out + a): 0 tanh, 1 relu, 2 identity."""
    zero = out.dtype.type(0.0)
    for b in range(out.shape[0]):
        ob, ab = out[b], a[b]
        for k in range(ob.shape[0]):
            v = ob[k] + ab[k]
            if nonlinearity == 0:
                v = tanh_scalar(v)
            elif nonlinearity == 1:
                v = v if v > zero else zero
            ob[k] = v
