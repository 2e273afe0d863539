# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""Convolution's forward as an implicit GEMM (implicit_gemm.h): out = W @ cols, with each
column entry read from the (zero-padded) images as the register tiles need it; the columns
are never stored. Any stride, padding and dilation; one group. The NumPy twin is implicit_conv
in minidl/kernels/reference.py.
"""
import numpy as np

from window cimport check_window, real


include "isa.pxi"


cdef extern from "implicit_gemm.h" nogil:
    ctypedef struct implicit_gemm_geometry:
        Py_ssize_t C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW
    bint implicit_gemm_reads_input(const implicit_gemm_geometry* g)
    Py_ssize_t implicit_gemm_source_rows(const implicit_gemm_geometry* g)
    Py_ssize_t implicit_gemm_source_cols(const implicit_gemm_geometry* g)
    void implicit_gemm_padded_float(const float* x, const implicit_gemm_geometry* g, float* padded)
    void implicit_gemm_padded_double(const double* x, const implicit_gemm_geometry* g, double* padded)
    Py_ssize_t implicit_gemm_channel_block_float()
    Py_ssize_t implicit_gemm_channel_block_double()
    void implicit_gemm_tap_offsets(const implicit_gemm_geometry* g, Py_ssize_t* offsets)
    void implicit_gemm_forward_float(const float* images, Py_ssize_t n_images, const implicit_gemm_geometry* g,
                                     const Py_ssize_t* taps, const float* w_packed, Py_ssize_t K, const float* bias, Py_ssize_t KC,
                                     float* out)
    void implicit_gemm_forward_double(const double* images, Py_ssize_t n_images, const implicit_gemm_geometry* g,
                                      const Py_ssize_t* taps, const double* w_packed, Py_ssize_t K, const double* bias, Py_ssize_t KC,
                                      double* out)

# Rows of W (and of the columns) per block: a block of output channels' weights, KC x 2
# vectors, stays in L2 across a chunk of pixels (C5 and ResNet-18's stride-2 layers but the
# last take all their rows at once; more rows would add nothing but the cache's misses).
ROWS_PER_BLOCK = 1152


def pack_weight(weight, dtype):
    """weight (K, C, kh, kw) in the order the tiles read it: for each block of ROWS_PER_BLOCK
    rows of (C*kh*kw), each block of 2 vectors of output channels (at the instruction set in
    use), kc x 2 vectors, zero past the last channel."""
    rows_arr = np.ascontiguousarray(weight.reshape(weight.shape[0], -1), dtype=dtype)
    return _pack_rows(rows_arr)


def _pack_rows(const real[:, ::1] rows):
    cdef Py_ssize_t K = rows.shape[0], R = rows.shape[1]
    cdef Py_ssize_t nc = implicit_gemm_channel_block_float() if real is float else implicit_gemm_channel_block_double()
    cdef Py_ssize_t kp = (K + nc - 1) // nc * nc
    packed_arr = np.empty(kp * R, dtype=np.float32 if real is float else np.float64)
    cdef real[::1] packed = packed_arr
    cdef Py_ssize_t block = ROWS_PER_BLOCK, pc = 0, kc, j, j0, k, c, at = 0
    with nogil:
        while pc < R:
            kc = min(block, R - pc)
            for j in range(kp // nc):
                j0 = j * nc
                for k in range(kc):
                    for c in range(nc):
                        packed[at + c] = rows[j0 + c, pc + k] if j0 + c < K else 0
                    at += nc
            pc += block
    return packed_arr


cdef _tap_offsets(implicit_gemm_geometry* g):
    """Where each row of the columns starts in an image's source (implicit_gemm_tap)."""
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
    cdef Py_ssize_t image_size = C * implicit_gemm_source_rows(&g) * implicit_gemm_source_cols(&g)
    cdef bint copy = not implicit_gemm_reads_input(&g)
    padded_arr = np.empty(N * image_size if copy else 1, dtype=dtype)
    cdef real[::1] padded = padded_arr
    cdef const real* images = &padded[0] if copy else &x[0, 0, 0, 0]
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
        for n in range(N if copy else 0):
            if real is float:
                implicit_gemm_padded_float(&x[n, 0, 0, 0], &g, &padded[n * image_size])
            else:
                implicit_gemm_padded_double(&x[n, 0, 0, 0], &g, &padded[n * image_size])
        if real is float:
            implicit_gemm_forward_float(images, N, &g, &taps[0], &a[0], K, b_ptr, kc, &y[0, 0, 0, 0])
        else:
            implicit_gemm_forward_double(images, N, &g, &taps[0], &a[0], K, b_ptr, kc, &y[0, 0, 0, 0])
    return out_arr

