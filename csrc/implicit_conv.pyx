# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""Convolution's forward as an implicit GEMM (implicit_gemm.h): out = W @ cols, with the
columns unfolded a cache-sized panel at a time, from the images' phase planes, and never
stored whole. Any stride, padding and dilation; one group. The NumPy twin is implicit_conv
in minidl/kernels/reference.py.
"""
import numpy as np

from window cimport check_window, real


include "isa.pxi"


cdef extern from "implicit_gemm.h" nogil:
    ctypedef struct implicit_gemm_geometry:
        Py_ssize_t C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW
    enum: IMPLICIT_GEMM_MR
    Py_ssize_t implicit_gemm_phase_rows(const implicit_gemm_geometry* g)
    Py_ssize_t implicit_gemm_phase_cols(const implicit_gemm_geometry* g)
    void implicit_gemm_phases_float(const float* x, const implicit_gemm_geometry* g, float* planes)
    void implicit_gemm_phases_double(const double* x, const implicit_gemm_geometry* g, double* planes)
    Py_ssize_t implicit_gemm_panel_width_float()
    Py_ssize_t implicit_gemm_panel_width_double()
    void implicit_gemm_tap_offsets(const implicit_gemm_geometry* g, Py_ssize_t* offsets)
    void implicit_gemm_forward_float(const float* planes, Py_ssize_t n_images, const implicit_gemm_geometry* g,
                                     const Py_ssize_t* taps, const float* a_packed, Py_ssize_t K, const float* bias, Py_ssize_t KC,
                                     float* panel, float* out)
    void implicit_gemm_forward_double(const double* planes, Py_ssize_t n_images, const implicit_gemm_geometry* g,
                                      const Py_ssize_t* taps, const double* a_packed, Py_ssize_t K, const double* bias, Py_ssize_t KC,
                                      double* panel, double* out)

# Rows of W (and of the columns) per block: the weights' block, 6 channels by KC, is read from
# L1 for every tile, and a panel of KC rows by 2 vectors stays in L1 across all the channels.
ROWS_PER_BLOCK = 384


def pack_weight(weight, dtype):
    """weight (K, C, kh, kw) in the order the tiles read it: for each block of ROWS_PER_BLOCK
    rows of (C*kh*kw), each panel of 6 output channels, kc x 6, zero past the last channel."""
    rows_arr = np.ascontiguousarray(weight.reshape(weight.shape[0], -1), dtype=dtype)
    return _pack_rows(rows_arr)


def _pack_rows(const real[:, ::1] rows):
    cdef Py_ssize_t K = rows.shape[0], R = rows.shape[1], mr = IMPLICIT_GEMM_MR
    cdef Py_ssize_t kp = (K + mr - 1) // mr * mr
    packed_arr = np.zeros(kp * R, dtype=np.float32 if real is float else np.float64)
    cdef real[::1] packed = packed_arr
    cdef Py_ssize_t block = ROWS_PER_BLOCK, pc = 0, kc, p, i0, k, i, at = 0
    with nogil:
        while pc < R:
            kc = min(block, R - pc)
            for p in range(kp // mr):
                i0 = p * mr
                for k in range(kc):
                    for i in range(mr):
                        if i0 + i < K:
                            packed[at] = rows[i0 + i, pc + k]
                        at += 1
            pc += block
    return packed_arr


cdef _tap_offsets(implicit_gemm_geometry* g):
    """Where each row of the columns starts in an image's phase planes (implicit_gemm_tap)."""
    offsets_arr = np.empty(g.C * g.kh * g.kw, dtype=np.intp)
    cdef Py_ssize_t[::1] offsets = offsets_arr
    implicit_gemm_tap_offsets(g, &offsets[0])
    return offsets_arr


def implicit_conv(const real[:, :, :, ::1] x, weight, window, bias=None, out=None):
    """Convolution, any stride, padding and dilation, one group; into `out` when given (e.g.
    one batch range of a larger output).
    Shape: x (N, C, H, W), weight (K, C, kh, kw), bias (K,) -> (N, K, OH, OW)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], K = weight.shape[0]
    check_window(window, x.shape[2], x.shape[3], "implicit_conv")
    if weight.shape[1:] != (C, window.kh, window.kw):
        raise ValueError(f"implicit_conv: weight {weight.shape} does not fit {C} channels and a {window.kh}x{window.kw} window")
    if bias is not None and bias.shape != (K,):
        raise ValueError(f"implicit_conv: bias of shape {bias.shape} for {K} channels")
    cdef implicit_gemm_geometry g
    g.C, g.H, g.W = C, x.shape[2], x.shape[3]
    g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, _, _, g.OH, g.OW = window
    dtype = np.float32 if real is float else np.float64
    cdef Py_ssize_t R = C * g.kh * g.kw
    shape = (N, K, g.OH, g.OW)
    if out is None:
        out_arr = np.empty(shape, dtype=dtype)
    elif tuple(out.shape) != shape or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"implicit_conv: out must be a contiguous {shape} array of x's dtype")
    else:
        out_arr = out
    if out_arr.size == 0:
        return out_arr
    if R == 0:
        out_arr[...] = 0 if bias is None else bias.reshape(K, 1, 1)
        return out_arr
    packed_arr = pack_weight(weight, dtype)
    if bias is not None:
        bias = np.ascontiguousarray(bias, dtype=dtype)
    cdef Py_ssize_t nr = implicit_gemm_panel_width_float() if real is float else implicit_gemm_panel_width_double()
    panel_arr = np.empty(ROWS_PER_BLOCK * nr, dtype=dtype)
    cdef real[::1] panel = panel_arr
    cdef Py_ssize_t image_size = C * g.sh * g.sw * implicit_gemm_phase_rows(&g) * implicit_gemm_phase_cols(&g)
    planes_arr = np.empty(N * image_size, dtype=dtype)
    cdef real[::1] planes = planes_arr
    cdef Py_ssize_t n
    cdef const real[::1] a = packed_arr
    cdef const real[::1] b
    cdef const real* b_ptr = NULL
    if bias is not None:
        b = bias
        b_ptr = &b[0]
    cdef real[:, :, :, ::1] y = out_arr
    cdef Py_ssize_t kc = ROWS_PER_BLOCK
    cdef Py_ssize_t[::1] taps = _tap_offsets(&g)
    with nogil:
        for n in range(N):
            if real is float:
                implicit_gemm_phases_float(&x[n, 0, 0, 0], &g, &planes[n * image_size])
            else:
                implicit_gemm_phases_double(&x[n, 0, 0, 0], &g, &planes[n * image_size])
        if real is float:
            implicit_gemm_forward_float(&planes[0], N, &g, &taps[0], &a[0], K, b_ptr, kc, &panel[0], &y[0, 0, 0, 0])
        else:
            implicit_gemm_forward_double(&planes[0], N, &g, &taps[0], &a[0], K, b_ptr, kc, &panel[0], &y[0, 0, 0, 0])
    return out_arr

