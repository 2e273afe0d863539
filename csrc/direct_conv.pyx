# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""Direct convolution at stride 1, one image at a time: no column buffer.

Each image is copied into zero-padded channel planes; the micro-kernel in direct_conv.h
multiplies the weights by the planes read at one fixed offset per window tap, into a
(K, OH*Wp) scratch whose rows still hold the padding columns; those are dropped (and the
bias added) as the image is copied out. The NumPy twin is direct_conv in
minidl/kernels/reference.py.
"""
import numpy as np
from libc.string cimport memset

from window cimport check_window, real


include "isa.pxi"
include "out_arrays.pxi"
include "pair.pxi"


cdef extern from "direct_conv.h" nogil:
    Py_ssize_t direct_conv_tile_float()
    Py_ssize_t direct_conv_tile_double()
    double direct_conv_copy_rows_float(const float* src, Py_ssize_t rows, Py_ssize_t cols, float* dst, Py_ssize_t dst_stride)
    double direct_conv_copy_rows_double(const double* src, Py_ssize_t rows, Py_ssize_t cols, double* dst, Py_ssize_t dst_stride)
    void direct_conv_sum_lanes_float(const float* lanes, Py_ssize_t groups, Py_ssize_t taps, Py_ssize_t used,
                                     Py_ssize_t width, float* out)
    void direct_conv_sum_lanes_double(const double* lanes, Py_ssize_t groups, Py_ssize_t taps, Py_ssize_t used,
                                      Py_ssize_t width, double* out)
    void direct_conv_copy_out_float(const float* src, Py_ssize_t src_stride, Py_ssize_t rows, Py_ssize_t cols, float bias,
                                    float* dst)
    void direct_conv_copy_out_double(const double* src, Py_ssize_t src_stride, Py_ssize_t rows, Py_ssize_t cols,
                                     double bias, double* dst)
    void direct_conv_float(const float* planes, Py_ssize_t plane_stride, Py_ssize_t channels, const Py_ssize_t* shifts,
                           Py_ssize_t taps, const float* packed, Py_ssize_t out_channels, float* out, Py_ssize_t positions)
    void direct_conv_double(const double* planes, Py_ssize_t plane_stride, Py_ssize_t channels, const Py_ssize_t* shifts,
                            Py_ssize_t taps, const double* packed, Py_ssize_t out_channels, double* out, Py_ssize_t positions)
    void direct_conv_wgrad_float(const float* grads, Py_ssize_t positions, Py_ssize_t out_channels, const float* planes,
                                 Py_ssize_t plane_stride, Py_ssize_t channels, const Py_ssize_t* shifts, Py_ssize_t taps, float* lanes)
    void direct_conv_wgrad_double(const double* grads, Py_ssize_t positions, Py_ssize_t out_channels, const double* planes,
                                  Py_ssize_t plane_stride, Py_ssize_t channels, const Py_ssize_t* shifts, Py_ssize_t taps, double* lanes)


cdef inline void _fill_planes(const real* image, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, real* planes,
                              Py_ssize_t plane_stride, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t Wp) noexcept nogil:
    """An image (C, H, W) into the interiors of its zero-padded channel planes (rows Wp wide)."""
    cdef Py_ssize_t c, i, j
    cdef real* dst
    for c in range(C):
        for i in range(H):
            dst = planes + c * plane_stride + (ph + i) * Wp + pw
            for j in range(W):
                dst[j] = image[(c * H + i) * W + j]


def _packed(weight, dtype):
    """weight (K, C, kh, kw) as (K4/4, C*kh*kw, 4), K4 = K rounded up to 4 with zero filters:
    the 4 weights one kernel step broadcasts are adjacent."""
    k = weight.shape[0]
    k4 = (k + 3) // 4 * 4
    rows = np.zeros((k4, int(np.prod(weight.shape[1:]))), dtype=dtype)
    rows[:k] = weight.reshape(k, -1)
    return np.ascontiguousarray(rows.reshape(k4 // 4, 4, -1).transpose(0, 2, 1))


def _layout(window, Py_ssize_t tile, Py_ssize_t taps_multiple=1):
    """(Wp, P, shifts, plane_stride): the padded row width; the output positions rounded up to
    whole tiles; each tap's offset into a plane (padded with offset-0 taps to a multiple of
    taps_multiple); and the plane size, so that the last tile's reads stay inside its plane."""
    wp = window.w + 2 * window.pw
    positions = (window.oh * wp + tile - 1) // tile * tile
    shifts = [i * window.dh * wp + j * window.dw for i in range(window.kh) for j in range(window.kw)]
    shifts += [0] * ((taps_multiple - len(shifts) % taps_multiple) % taps_multiple)  # C division: no negative operands
    return wp, positions, np.array(shifts, dtype=np.intp), positions + max(shifts)  # >= (h + 2*ph) * wp


def _check_stride(window, kernel):
    if window.sh != 1 or window.sw != 1:
        raise ValueError(f"{kernel}: stride must be 1, got ({window.sh}, {window.sw})")


cdef struct ConvHalf:  # one thread's share of a direct_conv call
    bint single
    const void* x
    Py_ssize_t N, C, H, W, ph, pw, Wp, K, OH, OW, P
    void* planes
    Py_ssize_t plane_stride
    const Py_ssize_t* shifts
    Py_ssize_t taps
    const void* packed
    Py_ssize_t K4
    void* scratch
    const void* bias
    void* y


cdef void _conv_images(ConvHalf* a, real* typed) noexcept nogil:
    """Each image into planes, times the packed weights into scratch, out with the bias added
    (typed only picks real)."""
    cdef const real* x = <const real*>a.x
    cdef const real* bias = <const real*>a.bias
    cdef real* scratch = <real*>a.scratch
    cdef real* y = <real*>a.y
    cdef Py_ssize_t n, k
    for n in range(a.N):
        _fill_planes(x + n * a.C * a.H * a.W, a.C, a.H, a.W, <real*>a.planes, a.plane_stride, a.ph, a.pw, a.Wp)
        if real is float:
            direct_conv_float(<const float*>a.planes, a.plane_stride, a.C, a.shifts, a.taps, <const float*>a.packed,
                              a.K4, scratch, a.P)
        else:
            direct_conv_double(<const double*>a.planes, a.plane_stride, a.C, a.shifts, a.taps, <const double*>a.packed,
                               a.K4, scratch, a.P)
        for k in range(a.K):
            if real is float:
                direct_conv_copy_out_float(scratch + k * a.P, a.Wp, a.OH, a.OW, bias[k], y + (n * a.K + k) * a.OH * a.OW)
            else:
                direct_conv_copy_out_double(scratch + k * a.P, a.Wp, a.OH, a.OW, bias[k], y + (n * a.K + k) * a.OH * a.OW)


cdef void _conv_half(void* arg) noexcept nogil:
    cdef ConvHalf* a = <ConvHalf*>arg
    if a.single:
        _conv_images(a, <float*>NULL)
    else:
        _conv_images(a, <double*>NULL)


def direct_conv(const real[:, :, :, ::1] x, weight, window, bias=None, out=None, Py_ssize_t threads=1):
    """Convolution at stride 1 (any window, padding and dilation), into `out` when given. With
    threads=2 the worker thread (pair.pxi) takes the second half of the images.
    Shape: x (N, C, H, W), weight (K, C, kh, kw), bias (K,) -> (N, K, OH, OW)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    check_window(window, H, W, "direct_conv")
    _check_stride(window, "direct_conv")
    check_threads("direct_conv", threads)
    if weight.shape[1:] != (C, window.kh, window.kw):
        raise ValueError(f"direct_conv: weight {weight.shape} does not fit {C} channels and a {window.kh}x{window.kw} window")
    dtype = np.float32 if real is float else np.float64
    cdef Py_ssize_t K = weight.shape[0], OH = window.oh, OW = window.ow
    out_arr = _out_or_new((N, K, OH, OW), dtype, out, "direct_conv", "x's")
    bias_arr = np.zeros(K, dtype=dtype) if bias is None else np.ascontiguousarray(bias, dtype=dtype)
    cdef real[:, :, :, ::1] y = out_arr
    cdef const real[::1] b = bias_arr
    if N == 0 or K == 0 or OH <= 0 or OW <= 0:
        return out_arr
    if C == 0:  # an empty sum: only the bias
        out_arr[...] = bias_arr.reshape(K, 1, 1)
        return out_arr
    cdef Py_ssize_t Wp, P, plane_stride
    Wp, P, shifts_arr, plane_stride = _layout(window, direct_conv_tile_float() if real is float else direct_conv_tile_double())
    cdef Py_ssize_t ways = 2 if threads == 2 and N >= 2 else 1, first = N // ways
    packed_arr = _packed(np.asarray(weight, dtype=dtype), dtype)
    cdef const real[:, :, ::1] packed = packed_arr
    cdef const Py_ssize_t[::1] shifts = shifts_arr
    cdef real[::1] planes, scratch
    cdef ConvHalf part[2]
    cdef Py_ssize_t i
    buffers = []  # each thread's, allocated apart (pair.pxi)
    for i in range(ways):
        planes = half_buffer(buffers, C * plane_stride, dtype, zero=True)  # the padding stays zero: only the interior is rewritten
        scratch = half_buffer(buffers, packed_arr.shape[0] * 4 * P, dtype)
        part[i] = ConvHalf(real is float, &x[i * first, 0, 0, 0], first if i == 0 else N - first, C, H, W, window.ph,
                           window.pw, Wp, K, OH, OW, P, &planes[0], plane_stride, &shifts[0],
                           window.kh * window.kw, &packed[0, 0, 0], packed_arr.shape[0] * 4, &scratch[0], &b[0],
                           &y[i * first, 0, 0, 0])
    with nogil:
        if ways == 2:
            pair(_conv_half, &part[0], &part[1])
        else:
            _conv_half(&part[0])
    return out_arr


# The weight gradient's lane vectors (16 per weight at AVX-512, float32) cover at most this
# many bytes; a layer with more weights goes over the batch once per block of output channels.
WGRAD_LANES_BYTES = 8 << 20


cdef struct WeightGradHalf:  # one thread's share of a direct_conv_weight_grad call, for one block of channels
    bint single
    const void* x
    Py_ssize_t N, C, H, W, ph, pw, Wp
    const void* grad
    Py_ssize_t K, OH, OW, k0, k1, P
    void* grads
    void* planes
    Py_ssize_t plane_stride
    const Py_ssize_t* shifts
    Py_ssize_t taps
    void* lanes
    Py_ssize_t lanes_size
    double* sums


cdef void _weight_grad_images(WeightGradHalf* a, real* typed) noexcept nogil:
    """Clear the lanes, then add every image's products into them (typed only picks real)."""
    cdef const real* x = <const real*>a.x
    cdef const real* grad = <const real*>a.grad
    cdef real* grads = <real*>a.grads
    cdef Py_ssize_t n, k
    memset(a.lanes, 0, a.lanes_size * sizeof(real))
    for n in range(a.N):
        _fill_planes(x + n * a.C * a.H * a.W, a.C, a.H, a.W, <real*>a.planes, a.plane_stride, a.ph, a.pw, a.Wp)
        for k in range(a.k0, a.k1):
            if real is float:
                a.sums[k] += direct_conv_copy_rows_float(grad + (n * a.K + k) * a.OH * a.OW, a.OH, a.OW,
                                                         grads + (k - a.k0) * a.P, a.Wp)
            else:
                a.sums[k] += direct_conv_copy_rows_double(grad + (n * a.K + k) * a.OH * a.OW, a.OH, a.OW,
                                                          grads + (k - a.k0) * a.P, a.Wp)
        if real is float:
            direct_conv_wgrad_float(grads, a.P, (a.k1 - a.k0 + 3) // 4 * 4, <const float*>a.planes, a.plane_stride, a.C,
                                    a.shifts, a.taps, <float*>a.lanes)
        else:
            direct_conv_wgrad_double(grads, a.P, (a.k1 - a.k0 + 3) // 4 * 4, <const double*>a.planes, a.plane_stride,
                                     a.C, a.shifts, a.taps, <double*>a.lanes)


cdef void _weight_grad_half(void* arg) noexcept nogil:
    cdef WeightGradHalf* a = <WeightGradHalf*>arg
    if a.single:
        _weight_grad_images(a, <float*>NULL)
    else:
        _weight_grad_images(a, <double*>NULL)


def direct_conv_weight_grad(const real[:, :, :, ::1] x, const real[:, :, :, ::1] grad, window, out=None, bias_out=None,
                            Py_ssize_t threads=1):
    """d weight of direct_conv, summed over the batch, into `out` when given (overwritten);
    with `bias_out` (K,), float64, also each output channel's gradient sum (d bias) into it.
    With threads=2 the worker thread (pair.pxi) sums the second half of the images into lanes
    of its own.
    Shape: x (N, C, H, W), grad (N, K, OH, OW) -> (K, C, kh, kw)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3], K = grad.shape[1]
    check_window(window, H, W, "direct_conv_weight_grad")
    _check_stride(window, "direct_conv_weight_grad")
    check_threads("direct_conv_weight_grad", threads)
    if grad.shape[0] != N or grad.shape[2] != window.oh or grad.shape[3] != window.ow:
        raise ValueError(f"direct_conv_weight_grad: output gradient {tuple(grad.shape)[:4]} does not fit input "
                         f"{tuple(x.shape)[:4]} and {window}")
    dtype = np.float32 if real is float else np.float64
    cdef Py_ssize_t OH = window.oh, OW = window.ow
    cdef Py_ssize_t tile = direct_conv_tile_float() if real is float else direct_conv_tile_double()
    cdef Py_ssize_t Wp, P, plane_stride
    Wp, P, shifts_arr, plane_stride = _layout(window, tile, 3)
    cdef Py_ssize_t taps = len(shifts_arr), lanes_per_row = C * taps * (tile // 3)
    # output channels per pass over the batch: a multiple of 4, the kernel's tile
    cdef Py_ssize_t block = min((K + 3) // 4, max(1, WGRAD_LANES_BYTES // (4 * lanes_per_row * x.itemsize))) * 4
    out_arr = np.empty((K, C, window.kh, window.kw), dtype=dtype) if out is None else out
    if out_arr.shape != (K, C, window.kh, window.kw):
        raise ValueError(f"direct_conv_weight_grad: out {out_arr.shape} is not the weight's {(K, C, window.kh, window.kw)}")
    sums_arr = np.zeros(K, dtype=np.float64) if bias_out is None else bias_out
    sums_arr[...] = 0
    if N == 0 or K == 0 or C == 0 or OH <= 0 or OW <= 0:
        out_arr[...] = 0
        return out_arr
    cdef Py_ssize_t ways = 2 if threads == 2 and N >= 2 else 1, first = N // ways
    # the padding columns of each gradient row stay zero: they add nothing. Rows past a block's
    # last channel (when K is not a multiple of 4) add only into lanes that are not read.
    cdef real[::1] grads, planes, lanes
    cdef real[::1] lanes_0
    cdef real[:, :, :, ::1] result = out_arr
    cdef double[::1] sums
    cdef const Py_ssize_t[::1] shifts = shifts_arr
    cdef Py_ssize_t i, k0, k1, used = window.kh * window.kw, lanes_size = block * C * taps * (tile // 3)
    cdef WeightGradHalf part[2]
    buffers = []  # each thread's, allocated apart (pair.pxi)
    for i in range(ways):
        grads = half_buffer(buffers, block * P, dtype, zero=True)
        planes = half_buffer(buffers, C * plane_stride, dtype, zero=True)
        lanes = half_buffer(buffers, lanes_size, dtype)
        sums = sums_arr if i == 0 else half_buffer(buffers, K, np.float64, zero=True)  # the worker's bias sums apart
        if i == 0:
            lanes_0 = lanes
        part[i] = WeightGradHalf(real is float, &x[i * first, 0, 0, 0], first if i == 0 else N - first, C, H, W,
                                 window.ph, window.pw, Wp, &grad[i * first, 0, 0, 0], K, OH, OW, 0, 0, P,
                                 &grads[0], &planes[0], plane_stride, &shifts[0], taps, &lanes[0], lanes_size, &sums[0])
    for k0 in range(0, K, block):  # past the loop above, lanes and sums are the worker's when there are two
        k1 = min(K, k0 + block)
        part[0].k0 = part[1].k0 = k0
        part[0].k1 = part[1].k1 = k1
        with nogil:
            if ways == 2:
                pair(_weight_grad_half, &part[0], &part[1])
                for i in range(lanes_size):
                    lanes_0[i] += lanes[i]
            else:
                _weight_grad_half(&part[0])
            if real is float:
                direct_conv_sum_lanes_float(&lanes_0[0], (k1 - k0) * C, taps, used, tile // 3, &result[k0, 0, 0, 0])
            else:
                direct_conv_sum_lanes_double(&lanes_0[0], (k1 - k0) * C, taps, used, tile // 3, &result[k0, 0, 0, 0])
    if ways == 2:
        for i in range(K):
            part[0].sums[i] += sums[i]
    return out_arr
