# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""2-D max and average pooling over NCHW images, forward and backward.

Max pooling returns, with the values, the index of each window's maximum as
a flat offset into its (H, W) plane (PyTorch's `return_indices` layout); the
first maximum in row-major window order wins ties, a NaN wins over numbers
(the last NaN, as PyTorch's `val > max || isnan(val)`), padding never wins.
Tap ranges inside the image are computed up front, so the inner loops
have no bounds tests. The geometry comes as one window record
(minidl/kernels/window.py), checked against the array on entry; F checks the
arguments and passes C-contiguous arrays.
"""
import numpy as np

from window cimport check_window, real

include "isa.pxi"

cdef extern from "pool_2x2.h" nogil:
    void pool_max_of_pairs_float(const float* x, float* h, unsigned char* column, Py_ssize_t n)
    void pool_max_of_pairs_double(const double* x, double* h, unsigned char* column, Py_ssize_t n)
    void pool_max_of_row_pairs_float(const float* h, const unsigned char* column, float* v, unsigned char* code,
                                     Py_ssize_t n, Py_ssize_t OW)
    void pool_max_of_row_pairs_double(const double* h, const unsigned char* column, double* v, unsigned char* code,
                                      Py_ssize_t n, Py_ssize_t OW)


cdef inline Py_ssize_t first_tap(Py_ssize_t start, Py_ssize_t d) noexcept nogil:
    """First tap i with start + i*d >= 0."""
    return 0 if start >= 0 else (-start + d - 1) // d


cdef inline Py_ssize_t end_tap(Py_ssize_t start, Py_ssize_t d, Py_ssize_t k, Py_ssize_t size) noexcept nogil:
    """One past the last tap i < k with start + i*d < size."""
    if start >= size:
        return 0
    cdef Py_ssize_t e = (size - 1 - start) // d + 1
    return e if e < k else k


def max_pool2d_forward(const real[:, :, :, ::1] x, window):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    check_window(window, H, W, "max_pool2d_forward")
    cdef Py_ssize_t kh, kw, sh, sw, ph, pw, dh, dw, OH, OW
    kh, kw, sh, sw, ph, pw, dh, dw, _, _, OH, OW = window
    dtype = np.float32 if real is float else np.float64
    out_arr = np.empty((N, C, OH, OW), dtype=dtype)
    idx_arr = np.empty((N, C, OH, OW), dtype=np.int64)
    cdef real[:, :, :, ::1] out = out_arr
    cdef long long[:, :, :, ::1] idx = idx_arr
    # For each kernel column j, the output columns whose tap stays inside the image.
    cols_valid = np.empty((kw, 2), dtype=np.intp)
    cdef Py_ssize_t[:, ::1] cv = cols_valid
    cdef Py_ssize_t n, c, oy, ox, i, j, y0, iy, x_off, start
    for j in range(kw):
        x_off = j * dw - pw
        cv[j, 0] = 0 if x_off >= 0 else min((-x_off + sw - 1) // sw, OW)
        cv[j, 1] = 0 if x_off >= W else min((W - 1 - x_off) // sw + 1, OW)
    # Index of the running maximum for one output row. The inner loop runs over output
    # columns and updates it with integer arithmetic (where += take * (pos - where)):
    # gcc keeps a float select as a branch, which mispredicts half the time on random data.
    where_arr = np.empty(OW, dtype=np.intp)
    cdef Py_ssize_t[::1] where = where_arr
    cdef const real* plane
    cdef real v
    cdef Py_ssize_t pos, take
    with nogil:
        for n in range(N):
            for c in range(C):
                plane = &x[n, c, 0, 0]
                for oy in range(OH):
                    y0 = oy * sh - ph
                    for ox in range(OW):  # each window starts at its first valid tap
                        where[ox] = (y0 + first_tap(y0, dh) * dh) * W + ox * sw - pw + first_tap(ox * sw - pw, dw) * dw
                    for i in range(first_tap(y0, dh), end_tap(y0, dh, kh, H)):
                        iy = y0 + i * dh
                        for j in range(kw):
                            start = iy * W + j * dw - pw
                            for ox in range(cv[j, 0], cv[j, 1]):
                                pos = start + ox * sw
                                v = plane[pos]
                                # strictly greater (first maximum wins ties) or NaN, as PyTorch
                                take = (v > plane[where[ox]]) | (v != v)
                                where[ox] = where[ox] + take * (pos - where[ox])
                    for ox in range(OW):
                        out[n, c, oy, ox] = plane[where[ox]]
                        idx[n, c, oy, ox] = where[ox]
    return out_arr, idx_arr


def max_pool2d_backward(const real[:, :, :, ::1] grad_out, const long long[:, :, :, ::1] idx,
                        Py_ssize_t H, Py_ssize_t W):
    cdef Py_ssize_t N = grad_out.shape[0], C = grad_out.shape[1], OH = grad_out.shape[2], OW = grad_out.shape[3]
    dtype = np.float32 if real is float else np.float64
    dx_arr = np.zeros((N, C, H, W), dtype=dtype)
    cdef real[:, :, ::1] dx = dx_arr.reshape(N, C, H * W)
    cdef Py_ssize_t n, c, oy, ox
    with nogil:
        for n in range(N):
            for c in range(C):
                for oy in range(OH):
                    for ox in range(OW):
                        dx[n, c, idx[n, c, oy, ox]] += grad_out[n, c, oy, ox]
    return dx_arr


# The 2x2, stride-2 case (no padding or dilation) is most CNNs' pooling.
# Windows do not overlap, so the winner is kept as a one-byte code k = 2*row + col
# (a quarter of the memory traffic of int64 indices), and the backward writes
# every input gradient once instead of zeroing and scattering.

cdef inline void max_2x2_row(const real* r0, const real* r1, real* out, unsigned char* code,
                             Py_ssize_t OW) noexcept nogil:
    """One output row from input rows r0, r1, for long rows (see SHORT_2X2_ROW): the window's
    four values in order, each taken when strictly greater (the first maximum wins ties) or
    NaN (the last NaN wins), as the general kernel and PyTorch. gcc vectorises this loop."""
    cdef Py_ssize_t ox
    cdef real m, v
    cdef unsigned char k
    cdef bint take
    for ox in range(OW):
        m = r0[2 * ox]
        k = 0
        v = r0[2 * ox + 1]
        take = (v > m) | (v != v)
        m = v if take else m
        k = 1 if take else k
        v = r1[2 * ox]
        take = (v > m) | (v != v)
        m = v if take else m
        k = 2 if take else k
        v = r1[2 * ox + 1]
        take = (v > m) | (v != v)
        m = v if take else m
        k = 3 if take else k
        out[ox] = m
        code[ox] = k


# Rows shorter than this many outputs take the three flat passes below: on short rows
# gcc's vector loop above never starts and its scalar tail branches on the data.
# On long rows the one pass above stays faster.
SHORT_2X2_ROW = 16


cdef void max_of_pairs(const real* x, real* h, unsigned char* column, Py_ssize_t rows,
                       Py_ssize_t W, Py_ssize_t OW) noexcept nogil:
    """Pass 1: each row's horizontal pairs, h[q*OW + ox] = the larger of x[q, 2ox] and
    x[q, 2ox+1] (the right one when strictly greater or NaN), column[...] which one won.
    With even W the pairs of all rows are one flat run that gcc vectorises."""
    cdef Py_ssize_t q, j, n = rows * OW
    cdef real a, b
    cdef bint take
    if W == 2 * OW:  # pool_2x2.h, at the CPU's vector width
        if real is float:
            pool_max_of_pairs_float(x, h, column, n)
        else:
            pool_max_of_pairs_double(x, h, column, n)
        return
    for q in range(rows):  # odd W: the last column belongs to no window
        for j in range(OW):
            a = x[q * W + 2 * j]
            b = x[q * W + 2 * j + 1]
            take = (b > a) | (b != b)
            h[q * OW + j] = b if take else a
            column[q * OW + j] = take


cdef void max_of_row_pairs(const real* h, const unsigned char* column, real* v, unsigned char* code,
                           Py_ssize_t n, Py_ssize_t OW) noexcept nogil:
    """Pass 2: every pass-1 entry against the one a row below, flat: v[u] = the lower one
    when strictly greater or NaN, with its window code 2*row + column. Rows that start no
    window (odd ones, across planes) are computed too and never read: twice the work of
    the windows alone, but a flat loop that gcc vectorises instead of loops of OW."""
    if real is float:  # pool_2x2.h, at the CPU's vector width
        pool_max_of_row_pairs_float(h, column, v, code, n, OW)
    else:
        pool_max_of_row_pairs_double(h, column, v, code, n, OW)


cdef void window_rows_out(const real* v, const unsigned char* code, real* out, unsigned char* out_code,
                          Py_ssize_t planes, Py_ssize_t H, Py_ssize_t OH, Py_ssize_t OW) noexcept nogil:
    """Pass 3: copy out the pass-2 rows that start a window (row 2*oy of each plane)."""
    cdef Py_ssize_t p, oy, ox, r, blocks = OW // 4
    cdef const real* src
    cdef const unsigned char* src_code
    cdef real a0, a1, a2, a3
    if H == 2 * OH and OW <= 4 and OW != 3:
        # even planes: the rows to keep are every other row of the whole buffer, one flat loop
        # of fixed-width copies (per-row loops of 1 to 4 values were most of this pass)
        if OW == 1:
            for r in range(planes * OH):
                out[r] = v[2 * r]
                out_code[r] = code[2 * r]
        elif OW == 2:
            for r in range(planes * OH):
                out[2 * r], out[2 * r + 1] = v[4 * r], v[4 * r + 1]
                out_code[2 * r], out_code[2 * r + 1] = code[4 * r], code[4 * r + 1]
        else:
            for r in range(planes * OH):
                a0, a1, a2, a3 = v[8 * r], v[8 * r + 1], v[8 * r + 2], v[8 * r + 3]
                out[4 * r], out[4 * r + 1], out[4 * r + 2], out[4 * r + 3] = a0, a1, a2, a3
                for ox in range(4):
                    out_code[4 * r + ox] = code[8 * r + ox]
        return
    for p in range(planes):
        for oy in range(OH):
            src = v + (p * H + 2 * oy) * OW
            src_code = code + (p * H + 2 * oy) * OW
            # blocks of 4 loaded before stored: one vector move each (see im2col.pyx)
            for ox in range(0, 4 * blocks, 4):
                a0, a1, a2, a3 = src[ox], src[ox + 1], src[ox + 2], src[ox + 3]
                out[ox], out[ox + 1], out[ox + 2], out[ox + 3] = a0, a1, a2, a3
            for ox in range(4 * blocks, OW):
                out[ox] = src[ox]
            for ox in range(OW):
                out_code[ox] = src_code[ox]
            out += OW
            out_code += OW


def max_pool2d_2x2_forward(const real[:, :, :, ::1] x):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t OH = H // 2, OW = W // 2
    dtype = np.float32 if real is float else np.float64
    out_arr = np.empty((N, C, OH, OW), dtype=dtype)
    code_arr = np.empty((N, C, OH, OW), dtype=np.uint8)
    if out_arr.size == 0:
        return out_arr, code_arr
    cdef real[:, :, :, ::1] out = out_arr
    cdef unsigned char[:, :, :, ::1] code = code_arr
    cdef Py_ssize_t n, c, oy
    cdef real[::1] pairs
    cdef unsigned char[::1] pair_code
    cdef Py_ssize_t n_pairs = N * C * H * OW
    if OW < SHORT_2X2_ROW:
        # one buffer for passes 1 and 2 (the winners of pairs, then of windows)
        pairs = np.empty(2 * n_pairs, dtype=dtype)
        pair_code = np.empty(2 * n_pairs, dtype=np.uint8)
        with nogil:
            max_of_pairs(&x[0, 0, 0, 0], &pairs[0], &pair_code[0], N * C * H, W, OW)
            max_of_row_pairs(&pairs[0], &pair_code[0], &pairs[n_pairs], &pair_code[n_pairs], n_pairs - OW, OW)
            window_rows_out(&pairs[n_pairs], &pair_code[n_pairs], &out[0, 0, 0, 0], &code[0, 0, 0, 0],
                            N * C, H, OH, OW)
        return out_arr, code_arr
    with nogil:
        for n in range(N):
            for c in range(C):
                for oy in range(OH):
                    max_2x2_row(&x[n, c, 2 * oy, 0], &x[n, c, 2 * oy + 1, 0], &out[n, c, oy, 0],
                                &code[n, c, oy, 0], OW)
    return out_arr, code_arr


cdef inline void max_2x2_row_backward(const real* grad, const unsigned char* code, real* r0,
                                      Py_ssize_t W, Py_ssize_t OW) noexcept nogil:
    """Input rows r0 and r0 + W from one output row: the winner gets the gradient, the rest 0."""
    cdef Py_ssize_t ox
    cdef unsigned char k
    for ox in range(OW):
        k = code[ox]
        r0[2 * ox] = 0
        r0[2 * ox + 1] = 0
        r0[W + 2 * ox] = 0
        r0[W + 2 * ox + 1] = 0
        # the address is computed, not chosen by a branch: random winners make a branch mispredict
        r0[(k >> 1) * W + 2 * ox + (k & 1)] = grad[ox]


# Below this many outputs a row, the backward zero-fills and then stores each winner; on
# longer rows the two ways cost the same.
SHORT_2X2_BACKWARD_ROW = 8


def max_pool2d_2x2_backward(const real[:, :, :, ::1] grad_out, const unsigned char[:, :, :, ::1] code,
                            Py_ssize_t H, Py_ssize_t W):
    cdef Py_ssize_t N = grad_out.shape[0], C = grad_out.shape[1], OH = grad_out.shape[2], OW = grad_out.shape[3]
    dtype = np.float32 if real is float else np.float64
    if OH == 0 or OW == 0:
        return np.zeros((N, C, H, W), dtype=dtype)
    cdef Py_ssize_t n, c, p, oy, ox, i, j
    cdef real[:, :, :, ::1] dx
    cdef real* row
    cdef const real* g
    cdef const unsigned char* k
    if OW < SHORT_2X2_BACKWARD_ROW:
        # short rows: zero everything in one vectorised fill, then one store per window at its winner
        dx_arr = np.zeros((N, C, H, W), dtype=dtype)
        dx = dx_arr
        with nogil:
            for p in range(N * C):
                g = &grad_out[0, 0, 0, 0] + p * OH * OW
                k = &code[0, 0, 0, 0] + p * OH * OW
                row = &dx[0, 0, 0, 0] + p * H * W
                for oy in range(OH):
                    for ox in range(OW):
                        row[(k[ox] >> 1) * W + 2 * ox + (k[ox] & 1)] = g[ox]
                    g += OW
                    k += OW
                    row += 2 * W
        return dx_arr
    dx_arr = np.empty((N, C, H, W), dtype=dtype)
    dx = dx_arr
    with nogil:
        for n in range(N):
            for c in range(C):
                for oy in range(OH):
                    max_2x2_row_backward(&grad_out[n, c, oy, 0], &code[n, c, oy, 0], &dx[n, c, 2 * oy, 0], W, OW)
                    if W > 2 * OW:  # an odd last column belongs to no window
                        dx[n, c, 2 * oy, W - 1] = 0
                        dx[n, c, 2 * oy + 1, W - 1] = 0
                if H > 2 * OH:  # an odd last row belongs to no window
                    for j in range(W):
                        dx[n, c, H - 1, j] = 0
    return dx_arr


cdef inline Py_ssize_t window_count(Py_ssize_t start, Py_ssize_t k, Py_ssize_t size) nogil:
    """How many of the k taps starting at `start` fall inside [0, size)."""
    cdef Py_ssize_t lo = start if start > 0 else 0
    cdef Py_ssize_t hi = start + k if start + k < size else size
    return hi - lo if hi > lo else 0


def avg_pool2d_forward(const real[:, :, :, ::1] x, window, bint count_include_pad):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    check_window(window, H, W, "avg_pool2d_forward")
    cdef Py_ssize_t kh, kw, sh, sw, ph, pw, OH, OW
    kh, kw, sh, sw, ph, pw, _, _, _, _, OH, OW = window
    dtype = np.float32 if real is float else np.float64
    out_arr = np.empty((N, C, OH, OW), dtype=dtype)
    cdef real[:, :, :, ::1] out = out_arr
    cdef Py_ssize_t n, c, oy, ox, iy, ix, y0, x0, y1, x1, count
    cdef real total
    with nogil:
        for n in range(N):
            for c in range(C):
                for oy in range(OH):
                    y0 = oy * sh - ph
                    for ox in range(OW):
                        x0 = ox * sw - pw
                        total = 0
                        for iy in range(max(y0, 0), min(y0 + kh, H)):
                            for ix in range(max(x0, 0), min(x0 + kw, W)):
                                total = total + x[n, c, iy, ix]
                        count = kh * kw if count_include_pad else window_count(y0, kh, H) * window_count(x0, kw, W)
                        out[n, c, oy, ox] = total / count
    return out_arr


def avg_pool2d_backward(const real[:, :, :, ::1] grad_out, window, bint count_include_pad):
    cdef Py_ssize_t N = grad_out.shape[0], C = grad_out.shape[1], OH = grad_out.shape[2], OW = grad_out.shape[3]
    cdef Py_ssize_t kh, kw, sh, sw, ph, pw, H, W
    kh, kw, sh, sw, ph, pw, _, _, H, W, _, _ = window
    check_window(window, H, W, "avg_pool2d_backward")
    if (OH, OW) != (window.oh, window.ow):
        raise ValueError(f"avg_pool2d_backward: gradient of {OH}x{OW} outputs for {window}")
    dtype = np.float32 if real is float else np.float64
    dx_arr = np.zeros((N, C, H, W), dtype=dtype)
    cdef real[:, :, :, ::1] dx = dx_arr
    cdef Py_ssize_t n, c, oy, ox, iy, ix, y0, x0, count
    cdef real share
    with nogil:
        for n in range(N):
            for c in range(C):
                for oy in range(OH):
                    y0 = oy * sh - ph
                    for ox in range(OW):
                        x0 = ox * sw - pw
                        count = kh * kw if count_include_pad else window_count(y0, kh, H) * window_count(x0, kw, W)
                        share = grad_out[n, c, oy, ox] / count
                        for iy in range(max(y0, 0), min(y0 + kh, H)):
                            for ix in range(max(x0, 0), min(x0 + kw, W)):
                                dx[n, c, iy, ix] += share
    return dx_arr
