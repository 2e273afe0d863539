# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""Convolution's forward and both gradients as implicit GEMMs (implicit_gemm.h): out = W @
cols and d W = d out @ cols^T with each column entry read from the (zero-padded) images as
the register tiles need it, and d cols^T = d out^T @ W added onto the pixels a tile at a
time; neither the columns nor their gradient is ever stored. Any stride, padding and
dilation; one group. The NumPy twins are implicit_conv, implicit_conv_input_grad and
implicit_conv_weight_grad in minidl/kernels/reference.py.
"""
import numpy as np

from window cimport check_window, real


include "isa.pxi"
include "out_arrays.pxi"


cdef extern from "implicit_gemm.h" nogil:
    enum: IMPLICIT_GEMM_CHUNK
    enum: IMPLICIT_GEMM_MAX_MP
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
    Py_ssize_t implicit_gemm_pixel_source(const implicit_gemm_geometry* g, Py_ssize_t image, Py_ssize_t pixel)
    void implicit_gemm_weight_grad_float(const float* images, const implicit_gemm_geometry* g, const Py_ssize_t* taps,
                                         const Py_ssize_t* pixels, Py_ssize_t n_pixels, const float* grad_packed,
                                         Py_ssize_t K, float* out)
    void implicit_gemm_weight_grad_double(const double* images, const implicit_gemm_geometry* g, const Py_ssize_t* taps,
                                          const Py_ssize_t* pixels, Py_ssize_t n_pixels, const double* grad_packed,
                                          Py_ssize_t K, double* out)
    void implicit_gemm_input_grad_float(const float* grad, Py_ssize_t n_images, const implicit_gemm_geometry* g,
                                        Py_ssize_t K, const Py_ssize_t* channel_rows, const float* w_packed,
                                        Py_ssize_t group, Py_ssize_t* pixels, Py_ssize_t* at, float* scratch, float* out)
    void implicit_gemm_input_grad_double(const double* grad, Py_ssize_t n_images, const implicit_gemm_geometry* g,
                                         Py_ssize_t K, const Py_ssize_t* channel_rows, const double* w_packed,
                                         Py_ssize_t group, Py_ssize_t* pixels, Py_ssize_t* at, double* scratch, double* out)
    void transpose_float(const float* src, Py_ssize_t src_step, float* dst, Py_ssize_t dst_step,
                         Py_ssize_t rows, Py_ssize_t cols)  # transpose.h
    void transpose_double(const double* src, Py_ssize_t src_step, double* dst, Py_ssize_t dst_step,
                          Py_ssize_t rows, Py_ssize_t cols)

# Rows of W (and of the columns) per block: a block of output channels' weights, KC x 2
# vectors, stays in L2 across a chunk of pixels (C5 and ResNet-18's stride-2 layers but the
# last take all their rows at once; more rows would add nothing but the cache's misses).
ROWS_PER_BLOCK = 1152


def pack_weight(weight, dtype):
    """weight (K, C, kh, kw) in the order the tiles read it: for each block of ROWS_PER_BLOCK
    rows of (C*kh*kw), each block of 2 vectors of output channels (at the instruction set in
    use), kc x 2 vectors, zero past the last channel."""
    return _pack_columns(np.asarray(weight, dtype=dtype).reshape(weight.shape[0], -1).T)


def _pack_columns(const real[:, :] columns):
    """Weights given as (R, K), one column per output channel of the tiles (any strides; the
    copy reads runs where K is contiguous), packed as pack_weight says."""
    cdef Py_ssize_t R = columns.shape[0], K = columns.shape[1]
    cdef Py_ssize_t nc = implicit_gemm_channel_block_float() if real is float else implicit_gemm_channel_block_double()
    cdef Py_ssize_t kp = (K + nc - 1) // nc * nc
    packed_arr = np.empty(kp * R, dtype=np.float32 if real is float else np.float64)
    cdef real[::1] packed = packed_arr
    cdef Py_ssize_t block = ROWS_PER_BLOCK, pc = 0, kc, j, j0, k, c, width, at = 0
    cdef Py_ssize_t step = columns.strides[1] // sizeof(real)
    cdef const real* src
    with nogil:
        while pc < R:
            kc = min(block, R - pc)
            for j in range(kp // nc):
                j0 = j * nc
                width = min(nc, K - j0)
                for k in range(kc):
                    src = &columns[pc + k, j0]
                    if step == 1:
                        for c in range(width):
                            packed[at + c] = src[c]
                    else:
                        for c in range(width):
                            packed[at + c] = src[c * step]
                    for c in range(width, nc):
                        packed[at + c] = 0
                    at += nc
            pc += block
    return packed_arr


cdef _tap_offsets(implicit_gemm_geometry* g):
    """Where each row of the columns starts in an image's source (implicit_gemm_tap)."""
    offsets_arr = np.empty(g.C * g.kh * g.kw, dtype=np.intp)
    cdef Py_ssize_t[::1] offsets = offsets_arr
    implicit_gemm_tap_offsets(g, &offsets[0])
    return offsets_arr


cdef void _set_geometry(implicit_gemm_geometry* g, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, window):
    g.C, g.H, g.W = C, H, W
    g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, _, _, g.OH, g.OW = window


cdef _sources(const real[:, :, :, ::1] x, implicit_gemm_geometry* g):
    """The images the tiles read: x itself without padding, else a zero-padded copy."""
    if implicit_gemm_reads_input(g):
        return np.asarray(x)
    cdef Py_ssize_t n, N = x.shape[0]
    padded_arr = np.empty((N, g.C, implicit_gemm_source_rows(g), implicit_gemm_source_cols(g)),
                          dtype=np.float32 if real is float else np.float64)
    cdef real[:, :, :, ::1] padded = padded_arr
    with nogil:
        for n in range(N):
            if real is float:
                implicit_gemm_padded_float(&x[n, 0, 0, 0], g, &padded[n, 0, 0, 0])
            else:
                implicit_gemm_padded_double(&x[n, 0, 0, 0], g, &padded[n, 0, 0, 0])
    return padded_arr


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
    _set_geometry(&g, C, x.shape[2], x.shape[3], window)
    dtype = np.float32 if real is float else np.float64
    out_arr = _out_or_new((N, K, g.OH, g.OW), dtype, out, "implicit_conv", "x's")
    if out_arr.size == 0:
        return out_arr
    if C == 0:
        out_arr[...] = 0 if bias is None else bias.reshape(K, 1, 1)
        return out_arr
    packed_arr = pack_weight(weight, dtype)
    if bias is not None:
        bias = np.ascontiguousarray(bias, dtype=dtype)
    cdef const real[:, :, :, ::1] images = _sources(x, &g)
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
        if real is float:
            implicit_gemm_forward_float(&images[0, 0, 0, 0], N, &g, &taps[0], &a[0], K, b_ptr, kc, &y[0, 0, 0, 0])
        else:
            implicit_gemm_forward_double(&images[0, 0, 0, 0], N, &g, &taps[0], &a[0], K, b_ptr, kc, &y[0, 0, 0, 0])
    return out_arr


def _pack_gradient(const real[:, :, :, ::1] grad):
    """grad (N, K, OH, OW) as the weight gradient's tiles read it: for each block of 2 vectors
    of output channels, one row of that many values per output pixel, zero past K."""
    cdef Py_ssize_t N = grad.shape[0], K = grad.shape[1], L = grad.shape[2] * grad.shape[3]
    cdef Py_ssize_t nc = implicit_gemm_channel_block_float() if real is float else implicit_gemm_channel_block_double()
    cdef Py_ssize_t kp = (K + nc - 1) // nc * nc
    packed_arr = np.empty((kp // nc, N * L, nc), dtype=np.float32 if real is float else np.float64)
    packed_arr[-1, :, nc - (kp - K):] = 0  # the channels past K in the last block
    if N * L == 0:
        return packed_arr
    cdef real[:, :, ::1] packed = packed_arr
    cdef const real[:, :, ::1] g = np.asarray(grad).reshape(N, K, L)
    cdef Py_ssize_t n, b
    with nogil:
        for n in range(N):
            for b in range(kp // nc):  # the block's (channels, L) rows of image n -> (L, channels) rows
                if real is float:
                    transpose_float(&g[n, b * nc, 0], L, &packed[b, n * L, 0], nc, min(nc, K - b * nc), L)
                else:
                    transpose_double(&g[n, b * nc, 0], L, &packed[b, n * L, 0], nc, min(nc, K - b * nc), L)
    return packed_arr


def implicit_conv_weight_grad(const real[:, :, :, ::1] x, const real[:, :, :, ::1] grad, window, out=None):
    """The weight gradient of implicit_conv summed over the batch, d W = d out @ cols^T, with
    the columns' entries read from the (zero-padded) images as the tiles need them: no
    columns are stored. Into `out` when given.
    Shape: x (N, C, H, W), grad (N, K, OH, OW) -> (K, C, kh, kw)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], K = grad.shape[1]
    check_window(window, x.shape[2], x.shape[3], "implicit_conv_weight_grad")
    if grad.shape[0] != N or grad.shape[2] != window.oh or grad.shape[3] != window.ow:
        raise ValueError(f"implicit_conv_weight_grad: output gradient {tuple(grad.shape)[:4]} does not fit input "
                         f"{tuple(x.shape)[:4]} and {window}")
    cdef implicit_gemm_geometry g
    _set_geometry(&g, C, x.shape[2], x.shape[3], window)
    out_arr = _out_or_new((K, C, g.kh, g.kw), np.float32 if real is float else np.float64, out, "implicit_conv_weight_grad",
                          "x's")
    cdef Py_ssize_t L = g.OH * g.OW
    if out_arr.size == 0:
        return out_arr
    if N * L == 0:
        out_arr[...] = 0
        return out_arr
    cdef const real[:, :, :, ::1] images = _sources(x, &g)
    pixels_arr = np.empty(N * L, dtype=np.intp)
    cdef Py_ssize_t[::1] pixels = pixels_arr
    cdef Py_ssize_t[::1] taps = _tap_offsets(&g)
    cdef const real[:, :, ::1] grad_packed = _pack_gradient(grad)
    cdef real[:, :, :, ::1] dw = out_arr
    cdef Py_ssize_t n, l
    with nogil:
        for n in range(N):
            for l in range(L):
                pixels[n * L + l] = implicit_gemm_pixel_source(&g, n, l)
        if real is float:
            implicit_gemm_weight_grad_float(&images[0, 0, 0, 0], &g, &taps[0], &pixels[0], N * L, &grad_packed[0, 0, 0],
                                            K, &dw[0, 0, 0, 0])
        else:
            implicit_gemm_weight_grad_double(&images[0, 0, 0, 0], &g, &taps[0], &pixels[0], N * L, &grad_packed[0, 0, 0],
                                             K, &dw[0, 0, 0, 0])
    return out_arr


def implicit_conv_input_grad(const real[:, :, :, ::1] grad, weight, window, out=None):
    """The input gradient of implicit_conv: the columns' gradient d out^T @ W (the filter's taps
    outermost) from the same register tiles, each tile's rows added back onto the pixels as it
    is made (col2im in a channels-last scratch image): the columns' gradient is never stored.
    Into `out` when given.
    Shape: grad (N, K, OH, OW), weight (K, C, kh, kw) -> (N, C, H, W)."""
    kh, kw, sh, sw, ph, pw, dh, dw, h, w, oh, ow = window
    cdef Py_ssize_t N = grad.shape[0], K = grad.shape[1], C = weight.shape[1]
    if grad.shape[2] != oh or grad.shape[3] != ow or weight.shape != (K, C, kh, kw):
        raise ValueError(f"implicit_conv_input_grad: output gradient {tuple(grad.shape)[:4]} and weight "
                         f"{weight.shape} do not fit {window}")
    cdef implicit_gemm_geometry g
    _set_geometry(&g, C, h, w, window)
    dtype = np.float32 if real is float else np.float64
    out_arr = _out_or_new((N, C, h, w), dtype, out, "implicit_conv_input_grad", "the gradient's")
    if out_arr.size == 0:
        return out_arr
    if K * oh * ow == 0:
        out_arr[...] = 0
        return out_arr
    # the columns' gradient's columns, tap-major, are the tiles' channels: W as (K, kh*kw*C)
    taps_first = np.ascontiguousarray(np.asarray(weight, dtype=dtype).transpose(0, 2, 3, 1)).reshape(K, -1)
    cdef const real[::1] w_packed = _pack_columns(taps_first)
    cdef Py_ssize_t[::1] channel_rows = np.arange(K, dtype=np.intp) * (oh * ow)
    # images at a time: enough that each block of W serves IMPLICIT_GEMM_CHUNK pixels
    cdef Py_ssize_t group = min(N, max(1, -(-IMPLICIT_GEMM_CHUNK // (oh * ow))))
    cdef Py_ssize_t[::1] pixels = np.empty(group * oh * ow + IMPLICIT_GEMM_MAX_MP, dtype=np.intp)
    cdef Py_ssize_t[::1] at = np.empty(group * oh * ow + IMPLICIT_GEMM_MAX_MP, dtype=np.intp)
    cdef real[::1] scratch = np.empty(group * (h + 2 * ph) * (w + 2 * pw) * C, dtype=dtype)
    cdef real[:, :, :, ::1] dx = out_arr
    with nogil:
        if real is float:
            implicit_gemm_input_grad_float(&grad[0, 0, 0, 0], N, &g, K, &channel_rows[0], &w_packed[0], group, &pixels[0],
                                           &at[0], &scratch[0], &dx[0, 0, 0, 0])
        else:
            implicit_gemm_input_grad_double(&grad[0, 0, 0, 0], N, &g, K, &channel_rows[0], &w_packed[0], group, &pixels[0],
                                            &at[0], &scratch[0], &dx[0, 0, 0, 0])
    return out_arr
