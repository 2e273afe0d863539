# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""Winograd's F(2x2, 3x3) convolution: the four tile transforms of the BLAS path, one pass
each, and the fused kernels (winograd_fused.h) that run the whole forward or weight gradient
a block of tiles at a time, with direct_conv's signatures.

Same signatures and results as the NumPy twins in minidl/kernels/winograd.py, which say
what each computes; the transforms' layouts, with P = N*th*tw tiles (th x tw per image):
    V, dV  (16, C, N, th, tw)     M, dM  (16, K, N, th, tw)
Each (image, channel) plane goes through a zero-padded copy of its tiles' extent, so the
tile loops have no bounds logic; each tile reads 16 (or 4) values and writes 16 (or 4).
"""
import numpy as np
from libc.string cimport memset

from window cimport check_window, real

from minidl.kernels.winograd import staggered, tiles  # the twins' layout and tile counts

include "isa.pxi"
include "out_arrays.pxi"
include "pair.pxi"


def winograd_input(const real[:, :, :, ::1] x, window, out=None):
    """V = B^T d B for every 4x4 input tile. Shape: x (N, C, H, W) -> V (16, C, N*th*tw);
    into `out` (16, C, N, th, tw) when given, e.g. one batch range of a larger V."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t th, tw
    th, tw = tiles(window)
    cdef Py_ssize_t ph = window.ph, pw = window.pw, Hp = 2 * th + 2, Wp = 2 * tw + 2
    dtype = np.float32 if real is float else np.float64
    v_arr = staggered((C, N, th, tw), dtype) if out is None else out
    plane_arr = np.zeros((Hp, Wp), dtype=dtype)
    cdef real[:, :, :, :, :] v = v_arr  # strided: the 16 blocks are staggered
    cdef real[:, ::1] plane = plane_arr
    cdef Py_ssize_t n, c, y, ty, tx, i, j, k
    cdef Py_ssize_t step = v.strides[0] // sizeof(real)  # from one of the 16 positions to the next
    cdef real d[4][4]
    cdef real t[4][4]
    cdef real* dst
    cdef const real* src
    with nogil:
        # images innermost: each of the 16 positions is then written in order (V is (16, C, N, ...))
        for c in range(C):
            for n in range(N):
                for y in range(H):  # the padding stays zero: only the interior is rewritten
                    for i in range(W):
                        plane[ph + y, pw + i] = x[n, c, y, i]
                for ty in range(th):
                    dst = &v[0, c, n, ty, 0]
                    for tx in range(tw):
                        for i in range(4):
                            src = &plane[2 * ty + i, 2 * tx]
                            for j in range(4):
                                d[i][j] = src[j]
                        for j in range(4):  # B^T along rows
                            t[0][j] = d[0][j] - d[2][j]
                            t[1][j] = d[1][j] + d[2][j]
                            t[2][j] = d[2][j] - d[1][j]
                            t[3][j] = d[1][j] - d[3][j]
                        for i in range(4):  # and along columns
                            k = 4 * i * step + tx
                            dst[k] = t[i][0] - t[i][2]
                            dst[k + step] = t[i][1] + t[i][2]
                            dst[k + 2 * step] = t[i][2] - t[i][1]
                            dst[k + 3 * step] = t[i][1] - t[i][3]
    return v_arr.reshape(16, C, N * th * tw)  # a view: each block is contiguous


cdef extern from "winograd_filter.h" nogil:
    void winograd_filter_float(const float* weight, Py_ssize_t filters, float* u, Py_ssize_t plane)
    void winograd_filter_double(const double* weight, Py_ssize_t filters, double* u, Py_ssize_t plane)
    void winograd_filter_grad_float(const float* du, Py_ssize_t plane, Py_ssize_t filters, float* weight_grad)
    void winograd_filter_grad_double(const double* du, Py_ssize_t plane, Py_ssize_t filters, double* weight_grad)


cdef Py_ssize_t _plane_step(str kernel, u, tuple shape):
    """Elements from one of U's 16 planes (K, C) to the next; each plane must be contiguous,
    the planes may lie apart (a staggered array, or one range of output channels of a larger U)."""
    if tuple(u.shape) != shape:
        raise ValueError(f"{kernel}: U must be {shape}, got {tuple(u.shape)}")
    if u.size == 0:
        return 0
    if u.shape[2] > 1 and u.strides[2] != u.itemsize or u.shape[1] > 1 and u.strides[1] != u.shape[2] * u.itemsize:
        raise ValueError(f"{kernel}: each of U's 16 planes must be contiguous, got strides {u.strides}")
    return u.strides[0] // u.itemsize


def winograd_filter(const real[:, :, :, ::1] weight, out=None):
    """U = G g G^T for every 3x3 filter g (winograd_filter.h), into `out` when given.
    Shape: weight (K, C, 3, 3) -> U (16, K, C), a staggered array when new."""
    cdef Py_ssize_t K = weight.shape[0], C = weight.shape[1]
    if weight.shape[2] != 3 or weight.shape[3] != 3:
        raise ValueError(f"winograd_filter: needs 3x3 filters, got weight {tuple(weight.shape)[:4]}")
    dtype = np.float32 if real is float else np.float64
    u_arr = staggered((K, C), dtype) if out is None else out
    if u_arr.dtype != dtype:
        raise ValueError(f"winograd_filter: out must be {np.dtype(dtype)} as the weight, got {u_arr.dtype}")
    cdef Py_ssize_t plane = _plane_step("winograd_filter", u_arr, (16, K, C))
    cdef real[:, :, :] u = u_arr  # strided: the planes may lie apart
    if K * C == 0:
        return u_arr
    with nogil:
        if real is float:
            winograd_filter_float(&weight[0, 0, 0, 0], K * C, &u[0, 0, 0], plane)
        else:
            winograd_filter_double(&weight[0, 0, 0, 0], K * C, &u[0, 0, 0], plane)
    return u_arr


def winograd_filter_grad(const real[:, :, :] du, out=None):
    """The adjoint of winograd_filter: G^T dU G, into `out` when given. dU's 16 planes may lie
    apart, each contiguous. Shape: dU (16, K, C) -> (K, C, 3, 3)."""
    cdef Py_ssize_t K = du.shape[1], C = du.shape[2]
    cdef Py_ssize_t plane = _plane_step("winograd_filter_grad", np.asarray(du), (16, K, C))
    dtype = np.float32 if real is float else np.float64
    out_arr = _out_or_new((K, C, 3, 3), dtype, out, "winograd_filter_grad", "dU's")
    cdef real[:, :, :, ::1] dw = out_arr
    if K * C == 0:
        return out_arr
    with nogil:
        if real is float:
            winograd_filter_grad_float(&du[0, 0, 0], plane, K * C, &dw[0, 0, 0, 0])
        else:
            winograd_filter_grad_double(&du[0, 0, 0], plane, K * C, &dw[0, 0, 0, 0])
    return out_arr


def winograd_output(m_flat, Py_ssize_t N, window, bias=None, out=None):
    """y = A^T m A per tile, cropped to the output, plus the bias.
    Shape: M (16, K, N*th*tw) -> (N, K, OH, OW), into `out` when given."""
    cdef Py_ssize_t th, tw
    th, tw = tiles(window)
    return _output(m_flat.reshape(16, m_flat.shape[1], N, th, tw), window.oh, window.ow, bias, out)


def _output(const real[:, :, :, :, :] m, Py_ssize_t OH, Py_ssize_t OW, bias, out_arr):
    cdef Py_ssize_t K = m.shape[1], N = m.shape[2], th = m.shape[3], tw = m.shape[4]
    dtype = np.float32 if real is float else np.float64
    if out_arr is None:
        out_arr = np.empty((N, K, OH, OW), dtype=dtype)
    bias_arr = np.zeros(K, dtype=dtype) if bias is None else np.ascontiguousarray(bias, dtype=dtype)
    cdef real[:, :, :, ::1] out = out_arr
    cdef const real[::1] b = bias_arr
    cdef Py_ssize_t n, k, ty, tx, i, j, oy, ox
    cdef Py_ssize_t step = m.strides[0] // sizeof(real)
    cdef real s[2][4]
    cdef real y[2][2]
    cdef const real* src
    with nogil:
        # images innermost: each of the 16 positions is then read in order (m is (16, K, N, ...)),
        # which matters when an image has few tiles
        for k in range(K):
            for n in range(N):
                for ty in range(th):
                    src = &m[0, k, n, ty, 0]
                    for tx in range(tw):
                        for j in range(4):  # A^T along rows
                            s[0][j] = src[j * step + tx] + src[(4 + j) * step + tx] + src[(8 + j) * step + tx]
                            s[1][j] = src[(4 + j) * step + tx] - src[(8 + j) * step + tx] - src[(12 + j) * step + tx]
                        for i in range(2):  # and along columns
                            y[i][0] = s[i][0] + s[i][1] + s[i][2] + b[k]
                            y[i][1] = s[i][1] - s[i][2] - s[i][3] + b[k]
                        for i in range(2):
                            oy = 2 * ty + i
                            if oy < OH:
                                for j in range(2):
                                    ox = 2 * tx + j
                                    if ox < OW:
                                        out[n, k, oy, ox] = y[i][j]
    return out_arr


def winograd_output_grad(const real[:, :, :, ::1] grad, window, out=None):
    """dM = A dy A^T, the adjoint of winograd_output. Shape: grad (N, K, OH, OW) -> dM (16, K, N*th*tw);
    into `out` (16, K, N, th, tw) when given."""
    cdef Py_ssize_t N = grad.shape[0], K = grad.shape[1], OH = grad.shape[2], OW = grad.shape[3]
    cdef Py_ssize_t th, tw
    th, tw = tiles(window)
    dtype = np.float32 if real is float else np.float64
    dm_arr = staggered((K, N, th, tw), dtype) if out is None else out
    cdef real[:, :, :, :, :] dm = dm_arr
    cdef Py_ssize_t n, k, ty, tx, i, j, oy, ox
    cdef Py_ssize_t step = dm.strides[0] // sizeof(real)
    cdef real g[2][2]
    cdef real r[4][2]
    cdef real* dst
    with nogil:
        for k in range(K):  # images innermost, as in winograd_input
            for n in range(N):
                for ty in range(th):
                    dst = &dm[0, k, n, ty, 0]
                    for tx in range(tw):
                        for i in range(2):
                            oy = 2 * ty + i
                            for j in range(2):
                                ox = 2 * tx + j
                                g[i][j] = grad[n, k, oy, ox] if oy < OH and ox < OW else 0
                        for j in range(2):  # A along rows
                            r[0][j] = g[0][j]
                            r[1][j] = g[0][j] + g[1][j]
                            r[2][j] = g[0][j] - g[1][j]
                            r[3][j] = -g[1][j]
                        for i in range(4):  # and along columns
                            j = 4 * i * step + tx
                            dst[j] = r[i][0]
                            dst[j + step] = r[i][0] + r[i][1]
                            dst[j + 2 * step] = r[i][0] - r[i][1]
                            dst[j + 3 * step] = -r[i][1]
    return dm_arr.reshape(16, K, N * th * tw)


def winograd_input_grad(dv_flat, input_shape, window, out=None):
    """d x = B dV B^T per tile, overlap-added, the adjoint of winograd_input.
    Shape: dV (16, C, N*th*tw) -> (N, C, H, W), into `out` when given."""
    cdef Py_ssize_t th, tw
    th, tw = tiles(window)
    n, c, h, w = input_shape
    return _input_grad(dv_flat.reshape(16, c, n, th, tw), h, w, window.ph, window.pw, out)


def _input_grad(const real[:, :, :, :, :] dv, Py_ssize_t H, Py_ssize_t W, Py_ssize_t ph, Py_ssize_t pw, dx_arr):
    cdef Py_ssize_t C = dv.shape[1], N = dv.shape[2], th = dv.shape[3], tw = dv.shape[4]
    cdef Py_ssize_t Hp = 2 * th + 2, Wp = 2 * tw + 2
    dtype = np.float32 if real is float else np.float64
    if dx_arr is None:
        dx_arr = np.empty((N, C, H, W), dtype=dtype)
    plane_arr = np.empty((Hp, Wp), dtype=dtype)
    cdef real[:, :, :, ::1] dx = dx_arr
    cdef real[:, ::1] plane = plane_arr
    cdef Py_ssize_t n, c, y, ty, tx, i, j, k
    cdef Py_ssize_t step = dv.strides[0] // sizeof(real)
    cdef real a[4][4]
    cdef real e[4][4]
    cdef const real* src
    cdef real* row
    with nogil:
        for c in range(C):  # images innermost, as in _output
            for n in range(N):
                memset(&plane[0, 0], 0, Hp * Wp * sizeof(real))
                for ty in range(th):
                    src = &dv[0, c, n, ty, 0]
                    for tx in range(tw):
                        for i in range(4):
                            for j in range(4):
                                a[i][j] = src[(4 * i + j) * step + tx]
                        for j in range(4):  # B along rows
                            e[0][j] = a[0][j]
                            e[1][j] = a[1][j] - a[2][j] + a[3][j]
                            e[2][j] = a[1][j] + a[2][j] - a[0][j]
                            e[3][j] = -a[3][j]
                        for i in range(4):  # and along columns, added into the overlapping tiles
                            row = &plane[2 * ty + i, 2 * tx]
                            row[0] += e[i][0]
                            row[1] += e[i][1] - e[i][2] + e[i][3]
                            row[2] += e[i][1] + e[i][2] - e[i][0]
                            row[3] -= e[i][3]
                for y in range(H):
                    for i in range(W):
                        dx[n, c, y, i] = plane[ph + y, pw + i]
    return dx_arr


cdef extern from "winograd_fused.h" nogil:
    const int WINOGRAD_SLACK  # values the row transforms read past a row
    Py_ssize_t winograd_weight_grad_panel(Py_ssize_t C, Py_ssize_t size)  # the weight gradient's channels-last input is padded to whole panels
    Py_ssize_t direct_conv_tile_float()
    Py_ssize_t direct_conv_tile_double()
    void winograd_pack_filter_float(const float* weight, Py_ssize_t K, Py_ssize_t C, float* packed)
    void winograd_pack_filter_double(const double* weight, Py_ssize_t K, Py_ssize_t C, double* packed)
    void winograd_fused_float(const float* x, Py_ssize_t N, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, Py_ssize_t ph,
                              Py_ssize_t pw, const float* packed, Py_ssize_t K, const float* bias, float* out,
                              Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t rows, float* halves, float* row, float* v,
                              Py_ssize_t v_stride, float* m, Py_ssize_t m_stride, Py_ssize_t positions)
    void winograd_fused_double(const double* x, Py_ssize_t N, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, Py_ssize_t ph,
                               Py_ssize_t pw, const double* packed, Py_ssize_t K, const double* bias, double* out,
                               Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t rows, double* halves, double* row, double* v,
                               Py_ssize_t v_stride, double* m, Py_ssize_t m_stride, Py_ssize_t positions)
    void winograd_fused_weight_grad_float(const float* x, Py_ssize_t N, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                                          Py_ssize_t ph, Py_ssize_t pw, const float* grad, Py_ssize_t K, Py_ssize_t OH,
                                          Py_ssize_t OW, Py_ssize_t rows, float* hwc, float* vt, Py_ssize_t vt_stride,
                                          float* dm, Py_ssize_t dm_stride, Py_ssize_t depth, float* du, double* sums)
    void winograd_fused_weight_grad_double(const double* x, Py_ssize_t N, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                                           Py_ssize_t ph, Py_ssize_t pw, const double* grad, Py_ssize_t K, Py_ssize_t OH,
                                           Py_ssize_t OW, Py_ssize_t rows, double* hwc, double* vt, Py_ssize_t vt_stride,
                                           double* dm, Py_ssize_t dm_stride, Py_ssize_t depth, double* du, double* sums)


# Tiles multiplied per block (whole rows of tiles, at least one): their transformed inputs and
# products, 16 x (C + K) values each, then stay in a core's cache (docs/performance.md).
FUSED_BLOCK_TILES = 48
# Gap between the 16 planes of a block's buffers, in elements (see STAGGER in winograd.py).
_PLANE_GAP = 16


cdef Py_ssize_t _block_rows(Py_ssize_t N, Py_ssize_t th, Py_ssize_t tw):
    """Tile rows per block: about FUSED_BLOCK_TILES tiles, at least one row, at most the batch's."""
    return max(1, min(N * th, FUSED_BLOCK_TILES // tw))


cdef _check_fused(str kernel, tuple x_shape, window):
    check_window(window, x_shape[2], x_shape[3], kernel)
    if (window.kh, window.kw, window.sh, window.sw, window.dh, window.dw) != (3, 3, 1, 1, 1, 1):
        raise ValueError(f"{kernel}: only 3x3 windows at stride 1 without dilation, got {window}")


cdef struct FusedHalf:  # one thread's share of a winograd_fused call
    bint single
    const void* x
    Py_ssize_t N, C, H, W, ph, pw
    const void* packed
    Py_ssize_t K
    const void* bias
    void* y
    Py_ssize_t OH, OW, rows
    void* halves
    void* row
    void* v
    Py_ssize_t v_stride
    void* m
    Py_ssize_t m_stride, positions


cdef void _fused_half(void* arg) noexcept nogil:
    cdef FusedHalf* a = <FusedHalf*>arg
    if a.N == 0:
        return
    if a.single:
        winograd_fused_float(<const float*>a.x, a.N, a.C, a.H, a.W, a.ph, a.pw, <const float*>a.packed, a.K,
                             <const float*>a.bias, <float*>a.y, a.OH, a.OW, a.rows, <float*>a.halves, <float*>a.row,
                             <float*>a.v, a.v_stride, <float*>a.m, a.m_stride, a.positions)
    else:
        winograd_fused_double(<const double*>a.x, a.N, a.C, a.H, a.W, a.ph, a.pw, <const double*>a.packed, a.K,
                              <const double*>a.bias, <double*>a.y, a.OH, a.OW, a.rows, <double*>a.halves,
                              <double*>a.row, <double*>a.v, a.v_stride, <double*>a.m, a.m_stride, a.positions)


def winograd_fused(const real[:, :, :, ::1] x, weight, window, bias=None, out=None, Py_ssize_t threads=1):
    """The convolution by F(2x2, 3x3), its transforms fused to the products block by block
    (winograd_fused.h), into `out` when given: direct_conv's signature and result. With
    threads=2 the worker thread (pair.pxi) takes the second half of the images.
    Shape: x (N, C, H, W), weight (K, C, 3, 3), bias (K,) -> (N, K, OH, OW)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    _check_fused("winograd_fused", (N, C, H, W), window)
    check_threads("winograd_fused", threads)
    if weight.shape[1:] != (C, 3, 3):
        raise ValueError(f"winograd_fused: weight {weight.shape} does not fit {C} channels and a 3x3 window")
    dtype = np.float32 if real is float else np.float64
    cdef Py_ssize_t K = weight.shape[0], OH = window.oh, OW = window.ow
    out_arr = _out_or_new((N, K, OH, OW), dtype, out, "winograd_fused", "x's")
    cdef real[:, :, :, ::1] y = out_arr
    if N == 0 or K == 0 or OH <= 0 or OW <= 0:
        return out_arr
    bias_arr = None if bias is None else np.ascontiguousarray(bias, dtype=dtype)
    if C == 0:  # an empty sum: only the bias
        out_arr[...] = 0 if bias_arr is None else bias_arr.reshape(K, 1, 1)
        return out_arr
    cdef Py_ssize_t th, tw
    th, tw = tiles(window)
    cdef Py_ssize_t K4 = (K + 3) // 4 * 4, tile = direct_conv_tile_float() if real is float else direct_conv_tile_double()
    cdef Py_ssize_t rows = _block_rows(N, th, tw)
    cdef Py_ssize_t positions = (rows * tw + tile - 1) // tile * tile
    cdef Py_ssize_t v_stride = C * positions + _PLANE_GAP, m_stride = K4 * positions + _PLANE_GAP
    cdef const real[:, :, :, ::1] w = np.ascontiguousarray(weight, dtype=dtype)
    cdef Py_ssize_t ways = 2 if threads == 2 and N >= 2 else 1, first = N // ways
    packed_arr = np.empty(16 * K4 * C, dtype=dtype)
    cdef const real[::1] b
    cdef const real* bias_ptr = NULL
    if bias_arr is not None:
        b = bias_arr
        bias_ptr = &b[0]
    cdef real[::1] packed = packed_arr
    cdef real[::1] halves, row, v, m
    cdef FusedHalf part[2]
    cdef Py_ssize_t i
    scratch = []  # each thread's buffers, allocated apart (pair.pxi)
    for i in range(ways):
        halves = half_buffer(scratch, C * (2 * th + 2) * 2 * (tw + 1) + WINOGRAD_SLACK, dtype)
        row = half_buffer(scratch, 2 * tw + 2, dtype)
        v = half_buffer(scratch, 16 * v_stride, dtype, zero=True)  # a block's columns past its last tile are multiplied too, then dropped
        m = half_buffer(scratch, 16 * m_stride, dtype)
        part[i] = FusedHalf(real is float, &x[i * first, 0, 0, 0], first if i == 0 else N - first, C, H, W,
                            window.ph, window.pw, &packed[0], K, bias_ptr, &y[i * first, 0, 0, 0], OH, OW, rows,
                            &halves[0], &row[0], &v[0], v_stride, &m[0], m_stride, positions)
    with nogil:
        if real is float:
            winograd_pack_filter_float(&w[0, 0, 0, 0], K, C, &packed[0])
        else:
            winograd_pack_filter_double(&w[0, 0, 0, 0], K, C, &packed[0])
        if ways == 2:
            pair(_fused_half, &part[0], &part[1])
        else:
            _fused_half(&part[0])
    return out_arr


cdef struct FusedGradHalf:  # one thread's share of a winograd_fused_weight_grad call
    bint single
    const void* x
    Py_ssize_t N, C, H, W, ph, pw
    const void* grad
    Py_ssize_t K, OH, OW, rows
    void* hwc
    void* vt
    Py_ssize_t vt_stride
    void* dm
    Py_ssize_t dm_stride, depth
    void* du
    double* sums


cdef void _fused_grad_half(void* arg) noexcept nogil:
    cdef FusedGradHalf* a = <FusedGradHalf*>arg
    if a.single:
        winograd_fused_weight_grad_float(<const float*>a.x, a.N, a.C, a.H, a.W, a.ph, a.pw, <const float*>a.grad, a.K,
                                         a.OH, a.OW, a.rows, <float*>a.hwc, <float*>a.vt, a.vt_stride, <float*>a.dm,
                                         a.dm_stride, a.depth, <float*>a.du, a.sums)
    else:
        winograd_fused_weight_grad_double(<const double*>a.x, a.N, a.C, a.H, a.W, a.ph, a.pw, <const double*>a.grad,
                                          a.K, a.OH, a.OW, a.rows, <double*>a.hwc, <double*>a.vt, a.vt_stride,
                                          <double*>a.dm, a.dm_stride, a.depth, <double*>a.du, a.sums)


def winograd_fused_weight_grad(const real[:, :, :, ::1] x, const real[:, :, :, ::1] grad, window, out=None, bias_out=None,
                               Py_ssize_t threads=1):
    """d weight of winograd_fused, summed over the batch, into `out` when given (overwritten);
    with `bias_out` (K,), float64, also each output channel's gradient sum (d bias) into it:
    direct_conv_weight_grad's signature and result. dU = dM V^T accumulates over blocks of
    tiles, and G^T dU G turns it into d weight once at the end. With threads=2 the worker
    thread (pair.pxi) sums the second half of the images into a dU of its own.
    Shape: x (N, C, H, W), grad (N, K, OH, OW) -> (K, C, 3, 3)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3], K = grad.shape[1]
    _check_fused("winograd_fused_weight_grad", (N, C, H, W), window)
    check_threads("winograd_fused_weight_grad", threads)
    if grad.shape[0] != N or grad.shape[2] != window.oh or grad.shape[3] != window.ow:
        raise ValueError(f"winograd_fused_weight_grad: output gradient {tuple(grad.shape)[:4]} does not fit input "
                         f"{tuple(x.shape)[:4]} and {window}")
    dtype = np.float32 if real is float else np.float64
    out_arr = np.empty((K, C, 3, 3), dtype=dtype) if out is None else out
    if out_arr.shape != (K, C, 3, 3):
        raise ValueError(f"winograd_fused_weight_grad: out {out_arr.shape} is not the weight's {(K, C, 3, 3)}")
    sums_arr = np.zeros(K, dtype=np.float64) if bias_out is None else bias_out
    sums_arr[...] = 0
    cdef Py_ssize_t OH = window.oh, OW = window.ow
    if N == 0 or K == 0 or C == 0 or OH <= 0 or OW <= 0:
        out_arr[...] = 0
        if C == 0 and N > 0 and K > 0:
            sums_arr[...] = np.asarray(grad).sum(axis=(0, 2, 3), dtype=np.float64)
        return out_arr
    cdef Py_ssize_t th, tw
    th, tw = tiles(window)
    cdef Py_ssize_t panel = winograd_weight_grad_panel(C, x.itemsize)
    cdef Py_ssize_t Cp = (C + panel - 1) // panel * panel
    cdef Py_ssize_t rows = _block_rows(N, th, tw)
    cdef Py_ssize_t depth = rows * tw
    cdef Py_ssize_t vt_stride = Cp * depth + _PLANE_GAP, dm_stride = K * depth + _PLANE_GAP
    cdef Py_ssize_t ways = 2 if threads == 2 and N >= 2 else 1, first = N // ways
    cdef real[::1] hwc, vt, dm, du
    cdef real[::1] du_0
    cdef real[:, :, :, ::1] dw = out_arr
    cdef double[::1] sums
    cdef FusedGradHalf part[2]
    cdef Py_ssize_t i
    scratch = []  # each thread's buffers, allocated apart (pair.pxi)
    for i in range(ways):
        hwc = half_buffer(scratch, (2 * th + 2) * (2 * tw + 2) * Cp, dtype)
        vt = half_buffer(scratch, 16 * vt_stride, dtype)
        dm = half_buffer(scratch, 16 * dm_stride, dtype)
        du = half_buffer(scratch, 16 * K * C, dtype, zero=True)
        sums = sums_arr if i == 0 else half_buffer(scratch, K, np.float64, zero=True)  # the worker's bias sums apart
        if i == 0:
            du_0 = du
        part[i] = FusedGradHalf(real is float, &x[i * first, 0, 0, 0], first if i == 0 else N - first, C, H, W,
                                window.ph, window.pw, &grad[i * first, 0, 0, 0], K, OH, OW, rows, &hwc[0], &vt[0],
                                vt_stride, &dm[0], dm_stride, depth, &du[0], &sums[0])
    with nogil:  # past the loop, du and sums are the last half's: the worker's when there are two
        if ways == 2:
            pair(_fused_grad_half, &part[0], &part[1])
            for i in range(16 * K * C):
                du_0[i] += du[i]
            for i in range(K):
                part[0].sums[i] += sums[i]
        else:
            _fused_grad_half(&part[0])
        if real is float:
            winograd_filter_grad_float(&du_0[0], K * C, K * C, &dw[0, 0, 0, 0])
        else:
            winograd_filter_grad_double(&du_0[0], K * C, K * C, &dw[0, 0, 0, 0])
    return out_arr
