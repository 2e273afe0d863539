# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""2-D max and average pooling over NCHW images, forward and backward.

Max pooling returns, with the values, the index of each window's maximum as
a flat offset into its (H, W) plane (PyTorch's `return_indices` layout); the
first maximum in row-major window order wins ties, and padding never wins.
The caller (minidl.kernels) validates shapes and passes C-contiguous arrays.
"""
import numpy as np

ctypedef fused real:
    float
    double


cdef inline Py_ssize_t out_size(Py_ssize_t size, Py_ssize_t k, Py_ssize_t s, Py_ssize_t p, Py_ssize_t d) nogil:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def max_pool2d_forward(const real[:, :, :, ::1] x, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                       Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t OH = out_size(H, kh, sh, ph, dh), OW = out_size(W, kw, sw, pw, dw)
    dtype = np.float32 if real is float else np.float64
    out_arr = np.empty((N, C, OH, OW), dtype=dtype)
    idx_arr = np.empty((N, C, OH, OW), dtype=np.int64)
    cdef real[:, :, :, ::1] out = out_arr
    cdef long long[:, :, :, ::1] idx = idx_arr
    cdef Py_ssize_t n, c, oy, ox, i, j, iy, ix, best_index, y0, x0
    cdef real best, v
    with nogil:
        for n in range(N):
            for c in range(C):
                for oy in range(OH):
                    y0 = oy * sh - ph
                    for ox in range(OW):
                        x0 = ox * sw - pw
                        best_index = -1
                        best = 0
                        for i in range(kh):
                            iy = y0 + i * dh
                            if iy < 0 or iy >= H:
                                continue
                            for j in range(kw):
                                ix = x0 + j * dw
                                if ix < 0 or ix >= W:
                                    continue
                                v = x[n, c, iy, ix]
                                # strict '>' keeps the first maximum; 'v != v' lets NaN win, as PyTorch
                                if best_index < 0 or v > best or v != v:
                                    best = v
                                    best_index = iy * W + ix
                                    if v != v:
                                        break
                        out[n, c, oy, ox] = best
                        idx[n, c, oy, ox] = best_index
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


cdef inline Py_ssize_t window_count(Py_ssize_t start, Py_ssize_t k, Py_ssize_t size) nogil:
    """How many of the k taps starting at `start` fall inside [0, size)."""
    cdef Py_ssize_t lo = start if start > 0 else 0
    cdef Py_ssize_t hi = start + k if start + k < size else size
    return hi - lo if hi > lo else 0


def avg_pool2d_forward(const real[:, :, :, ::1] x, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                       Py_ssize_t ph, Py_ssize_t pw, bint count_include_pad):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t OH = out_size(H, kh, sh, ph, 1), OW = out_size(W, kw, sw, pw, 1)
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


def avg_pool2d_backward(const real[:, :, :, ::1] grad_out, Py_ssize_t H, Py_ssize_t W, Py_ssize_t kh,
                        Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                        bint count_include_pad):
    cdef Py_ssize_t N = grad_out.shape[0], C = grad_out.shape[1], OH = grad_out.shape[2], OW = grad_out.shape[3]
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
