# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""im2col / col2im for NCHW images: the data movement behind convolution as one GEMM.

Layout (shared with the NumPy twin in minidl/kernels/reference.py):
    x     (N, C, H, W)
    cols  (N, C*kh*kw, OH*OW)   row r = (c*kh + i)*kw + j holds x[n, c, oy*sh - ph + i*dh, ox*sw - pw + j*dw]

For each kernel tap the valid output columns [ox_lo, ox_hi) are computed once,
so the inner loop is a branch-free strided copy that gcc vectorises. The caller (minidl.kernels) validates
shapes and passes C-contiguous arrays, so bounds checks are off here.
"""
import numpy as np

ctypedef fused real:
    float
    double


cdef inline Py_ssize_t out_size(Py_ssize_t size, Py_ssize_t k, Py_ssize_t s, Py_ssize_t p, Py_ssize_t d) noexcept nogil:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


cdef inline Py_ssize_t first_valid(Py_ssize_t offset, Py_ssize_t stride, Py_ssize_t n_out) noexcept nogil:
    """Smallest o in [0, n_out] with o*stride + offset >= 0."""
    if offset >= 0:
        return 0
    cdef Py_ssize_t o = (-offset + stride - 1) // stride
    return o if o < n_out else n_out


cdef inline Py_ssize_t end_valid(Py_ssize_t offset, Py_ssize_t stride, Py_ssize_t size, Py_ssize_t n_out) noexcept nogil:
    """One past the largest o in [0, n_out) with o*stride + offset < size."""
    if offset >= size:
        return 0
    cdef Py_ssize_t o = (size - 1 - offset) // stride + 1
    return o if o < n_out else n_out


# Below this many output columns the per-row bookkeeping above (valid ranges, zero fill)
# costs more than the copy itself (B8's 4x4 images: 194 us for a 0.6 MB im2col), so short
# rows copy from a zero-padded image instead, with no bounds logic at all.
SHORT_ROW = 16


cdef void windows_and_columns(real* padded, real* cols, Py_ssize_t N, Py_ssize_t C, Py_ssize_t Hp,
                              Py_ssize_t Wp, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                              Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t OH, Py_ssize_t OW,
                              bint to_columns) noexcept nogil:
    """Between a zero-padded image (N, C, Hp, Wp) and its columns (N, C*kh*kw, OH*OW), both
    C-contiguous: copy windows into columns (im2col), or add columns back (col2im, its adjoint)."""
    cdef Py_ssize_t n, c, i, j, oy, ox
    cdef real* image
    cdef real* column
    for n in range(N):
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    column = cols + ((n * C + c) * kh * kw + i * kw + j) * OH * OW
                    for oy in range(OH):
                        image = padded + ((n * C + c) * Hp + oy * sh + i * dh) * Wp + j * dw
                        if to_columns:
                            for ox in range(OW):
                                column[oy * OW + ox] = image[ox * sw]
                        else:
                            for ox in range(OW):
                                image[ox * sw] += column[oy * OW + ox]


def _im2col_padded(const real[:, :, :, ::1] x, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                   Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t OH = out_size(H, kh, sh, ph, dh), OW = out_size(W, kw, sw, pw, dw)
    dtype = np.float32 if real is float else np.float64
    padded_arr = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=dtype)
    padded_arr[:, :, ph : ph + H, pw : pw + W] = x
    cols_arr = np.empty((N, C * kh * kw, OH * OW), dtype=dtype)
    if cols_arr.size == 0:
        return cols_arr
    cdef real[:, :, :, ::1] padded = padded_arr
    cdef real[:, :, ::1] cols = cols_arr
    with nogil:
        windows_and_columns(&padded[0, 0, 0, 0], &cols[0, 0, 0], N, C, H + 2 * ph, W + 2 * pw,
                            kh, kw, sh, sw, dh, dw, OH, OW, True)
    return cols_arr


def im2col(x, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
           Py_ssize_t dh, Py_ssize_t dw):
    if out_size(x.shape[3], kw, sw, pw, dw) < SHORT_ROW:
        return _im2col_padded(x, kh, kw, sh, sw, ph, pw, dh, dw)
    return _im2col_rows(x, kh, kw, sh, sw, ph, pw, dh, dw)


def _im2col_rows(const real[:, :, :, ::1] x, Py_ssize_t kh, Py_ssize_t kw,
                 Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                 Py_ssize_t dh, Py_ssize_t dw):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t OH = out_size(H, kh, sh, ph, dh), OW = out_size(W, kw, sw, pw, dw)
    dtype = np.float32 if real is float else np.float64
    cols_arr = np.empty((N, C * kh * kw, OH * OW), dtype=dtype)
    cdef real[:, :, ::1] cols = cols_arr
    cdef Py_ssize_t n, c, i, j, oy, ox, iy, row, x_off, lo, hi
    cdef const real* src
    cdef real* dst
    with nogil:
        for n in range(N):
            for c in range(C):
                for i in range(kh):
                    for j in range(kw):
                        row = (c * kh + i) * kw + j
                        x_off = j * dw - pw
                        lo = first_valid(x_off, sw, OW)
                        hi = end_valid(x_off, sw, W, OW)
                        if hi < lo:
                            hi = lo
                        for oy in range(OH):
                            iy = oy * sh - ph + i * dh
                            dst = &cols[n, row, oy * OW]
                            if iy < 0 or iy >= H:
                                for ox in range(OW):
                                    dst[ox] = 0
                                continue
                            # raw pointers, and a unit-stride loop of its own: written with
                            # memoryview indexing, gcc's code for this loop changed with
                            # unrelated functions in the module (im2col 1.9 -> 3.6 ms on B1)
                            src = &x[n, c, iy, 0]
                            for ox in range(lo):
                                dst[ox] = 0
                            if sw == 1:
                                for ox in range(lo, hi):
                                    dst[ox] = src[ox + x_off]
                            else:
                                for ox in range(lo, hi):
                                    dst[ox] = src[ox * sw + x_off]
                            for ox in range(hi, OW):
                                dst[ox] = 0
    return cols_arr


def _col2im_padded(const real[:, :, ::1] cols, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                   Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                   Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw):
    """col2im for short rows: add into a zero-padded image, then crop (see SHORT_ROW)."""
    cdef Py_ssize_t N = cols.shape[0]
    cdef Py_ssize_t OH = out_size(H, kh, sh, ph, dh), OW = out_size(W, kw, sw, pw, dw)
    dtype = np.float32 if real is float else np.float64
    padded_arr = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=dtype)
    if cols.size == 0:
        return np.zeros((N, C, H, W), dtype=dtype)
    cdef real[:, :, :, ::1] padded = padded_arr
    with nogil:  # the columns are only read: the cast drops const for the shared helper
        windows_and_columns(&padded[0, 0, 0, 0], <real*>&cols[0, 0, 0], N, C, H + 2 * ph, W + 2 * pw,
                            kh, kw, sh, sw, dh, dw, OH, OW, False)
    return np.ascontiguousarray(padded_arr[:, :, ph : ph + H, pw : pw + W])


def col2im(const real[:, :, ::1] cols, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
           Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
           Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw):
    """Adjoint of im2col: scatter-add every column entry back to its pixel."""
    cdef Py_ssize_t N = cols.shape[0]
    cdef Py_ssize_t OH = out_size(H, kh, sh, ph, dh), OW = out_size(W, kw, sw, pw, dw)
    if OW < SHORT_ROW:
        return _col2im_padded(cols, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw)
    dtype = np.float32 if real is float else np.float64
    x_arr = np.zeros((N, C, H, W), dtype=dtype)
    cdef real[:, :, :, ::1] x = x_arr
    cdef Py_ssize_t n, c, i, j, oy, ox, iy, row, x_off, lo, hi
    cdef const real* src
    cdef real* dst
    with nogil:
        for n in range(N):
            for c in range(C):
                for i in range(kh):
                    for j in range(kw):
                        row = (c * kh + i) * kw + j
                        x_off = j * dw - pw
                        lo = first_valid(x_off, sw, OW)
                        hi = end_valid(x_off, sw, W, OW)
                        for oy in range(OH):
                            iy = oy * sh - ph + i * dh
                            if iy < 0 or iy >= H:
                                continue
                            src = &cols[n, row, oy * OW]
                            dst = &x[n, c, iy, 0]  # raw pointers, as in im2col
                            if sw == 1:
                                for ox in range(lo, hi):
                                    dst[ox + x_off] += src[ox]
                            else:
                                for ox in range(lo, hi):
                                    dst[ox * sw + x_off] += src[ox]
    return x_arr
