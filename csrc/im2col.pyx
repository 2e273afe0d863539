# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, nonecheck=False
"""im2col / col2im for NCHW images: the data movement behind convolution as one GEMM.

Layout (shared with the NumPy twin in minidl/kernels/reference.py):
    x     (N, C, H, W)
    cols  (N, C*kh*kw, OH*OW)   row r = (c*kh + i)*kw + j holds x[n, c, oy*sh - ph + i*dh, ox*sw - pw + j*dw]
    or, with batch_in_columns, (C*kh*kw, N, OH*OW): the whole batch side by side in each
    row, ready for one GEMM over the batch (small images) without a transposing copy.

The geometry comes as one window record (minidl/kernels/window.py), checked against the
array on entry. For each kernel tap the valid output columns [ox_lo, ox_hi) are computed
once, so the inner loop is a branch-free strided copy that gcc vectorises. F checks the
arguments and passes C-contiguous arrays, so bounds checks are off here.
"""
import numpy as np
from libc.string cimport memset

from window cimport check_window, real

include "out_arrays.pxi"


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
# costs more than the copy itself, so short rows copy from a zero-padded image instead,
# with no bounds logic at all.
SHORT_ROW = 16


cdef inline void block_of_4(real* image, real* column, bint to_columns) noexcept nogil:
    """Copy 4 adjacent pixels to the columns, or add them back. All 4 are loaded before any
    is stored, so gcc may use one vector move without proving the two pointers apart (a
    loop of runtime length stayed scalar)."""
    cdef real a0, a1, a2, a3
    if to_columns:
        a0, a1, a2, a3 = image[0], image[1], image[2], image[3]
        column[0], column[1], column[2], column[3] = a0, a1, a2, a3
    else:
        a0, a1, a2, a3 = column[0], column[1], column[2], column[3]
        image[0] += a0
        image[1] += a1
        image[2] += a2
        image[3] += a3


cdef inline void unit_stride_rows(real* image, Py_ssize_t plane_step, real* column, Py_ssize_t image_step,
                                  Py_ssize_t N, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t row_step,
                                  bint to_columns) noexcept nogil:
    """One tap of one channel at unit stride across, in each of N images (planes plane_step
    apart, columns image_step apart): OH rows of OW, from `image` (the tap's first pixel in
    the zero-padded plane). All images in one call: with rows this short (4x4 and 8x8
    maps), a call and its loop set-up per image cost more than the copy itself."""
    cdef Py_ssize_t n, oy, ox, blocks = OW // 4
    cdef real* src
    cdef real* dst
    if OW == 4:  # 4x4 maps: the loop below with its bounds known
        for n in range(N):
            src = image + n * plane_step
            dst = column + n * image_step
            for oy in range(OH):
                block_of_4(src, dst, to_columns)
                src += row_step
                dst += 4
        return
    for n in range(N):
        src = image + n * plane_step
        dst = column + n * image_step
        for oy in range(OH):
            for ox in range(0, 4 * blocks, 4):
                block_of_4(src + ox, dst + ox, to_columns)
            for ox in range(4 * blocks, OW):
                if to_columns:
                    dst[ox] = src[ox]
                else:
                    src[ox] += dst[ox]
            src += row_step
            dst += OW


cdef inline void strided_rows(real* image, real* column, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t sh,
                              Py_ssize_t sw, Py_ssize_t Wp, bint to_columns) noexcept nogil:
    """One tap of one image plane at stride sw across: its OH*OW column entries, row by row
    from `image` (the tap's first pixel in the zero-padded plane)."""
    cdef Py_ssize_t oy, ox
    for oy in range(OH):
        if to_columns:
            for ox in range(OW):
                column[ox] = image[ox * sw]
        else:
            for ox in range(OW):
                image[ox * sw] += column[ox]
        column += OW
        image += sh * Wp


cdef void windows_and_columns(real* padded, real* cols, Py_ssize_t N, Py_ssize_t C, Py_ssize_t Hp,
                              Py_ssize_t Wp, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                              Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t OH, Py_ssize_t OW,
                              Py_ssize_t image_step, Py_ssize_t row_step, bint to_columns) noexcept nogil:
    """Between a zero-padded image (N, C, Hp, Wp) and its columns, image n's row r starting at
    cols + n*image_step + r*row_step: copy windows into columns (im2col), or add columns back
    (col2im, its adjoint)."""
    cdef Py_ssize_t n, c, i, j, row
    cdef real* image
    cdef real* column
    # Taps column by column: in col2im, tap j+1 adds into the row tap j just stored one
    # element over, and a load that half-overlaps a recent store stalls; with the kernel
    # rows in between, stores are long done.
    if image_step < row_step:
        # batch side by side in each row: images innermost, so the columns are written (or
        # read) front to back; image-major, each store would land a whole row from the last
        for c in range(C):
            for j in range(kw):
                for i in range(kh):
                    row = (c * kh + i) * kw + j
                    if sw == 1:
                        unit_stride_rows(padded + (c * Hp + i * dh) * Wp + j * dw, C * Hp * Wp,
                                         cols + row * row_step, image_step, N, OH, OW, sh * Wp, to_columns)
                        continue
                    for n in range(N):
                        strided_rows(padded + ((n * C + c) * Hp + i * dh) * Wp + j * dw,
                                     cols + n * image_step + row * row_step, OH, OW, sh, sw, Wp, to_columns)
        return
    for n in range(N):
        for c in range(C):
            for j in range(kw):
                for i in range(kh):
                    row = (c * kh + i) * kw + j
                    image = padded + ((n * C + c) * Hp + i * dh) * Wp + j * dw
                    column = cols + n * image_step + row * row_step
                    if sw == 1:
                        unit_stride_rows(image, 0, column, 0, 1, OH, OW, sh * Wp, to_columns)
                    else:
                        strided_rows(image, column, OH, OW, sh, sw, Wp, to_columns)


cdef void between_padded(real* padded, real* image, Py_ssize_t planes, Py_ssize_t H, Py_ssize_t W,
                         Py_ssize_t ph, Py_ssize_t pw, bint into_padded) noexcept nogil:
    """Copy images (planes, H, W) into the interior of zero-padded ones (planes, H+2ph, W+2pw),
    or back out. (NumPy's strided copy is slow here: for small images its inner loop is a few long.)"""
    cdef Py_ssize_t p, y, x, Wp = W + 2 * pw
    cdef real* inner
    cdef real* flat
    for p in range(planes):
        for y in range(H):
            inner = padded + (p * (H + 2 * ph) + y + ph) * Wp + pw
            flat = image + (p * H + y) * W
            if into_padded:
                for x in range(W):
                    inner[x] = flat[x]
            else:
                for x in range(W):
                    flat[x] = inner[x]


def _im2col_padded(const real[:, :, :, ::1] x, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                   Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t OH, Py_ssize_t OW,
                   bint batch_in_columns, out):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    dtype = np.float32 if real is float else np.float64
    padded_arr = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=dtype)
    cols_arr = _columns_for(N, C * kh * kw, OH * OW, batch_in_columns, dtype, out)
    if cols_arr.size == 0:
        return cols_arr
    cdef real[:, :, :, ::1] padded = padded_arr
    with nogil:
        between_padded(&padded[0, 0, 0, 0], <real*>&x[0, 0, 0, 0], N * C, H, W, ph, pw, True)
    cdef real[:, :, :] cols = cols_arr  # strided: it may be one batch range of a larger array
    _check_rows_contiguous(cols.strides[2], sizeof(real))
    cdef Py_ssize_t image_step = _image_step(cols.strides, batch_in_columns) // sizeof(real)
    cdef Py_ssize_t row_step = _row_step(cols.strides, batch_in_columns) // sizeof(real)
    with nogil:
        windows_and_columns(&padded[0, 0, 0, 0], &cols[0, 0, 0], N, C, H + 2 * ph, W + 2 * pw,
                            kh, kw, sh, sw, dh, dw, OH, OW, image_step, row_step, True)
    return cols_arr


cdef _columns_for(Py_ssize_t N, Py_ssize_t rows, Py_ssize_t length, bint batch_in_columns, dtype, out):
    """A new columns array, or `out` when it has the layout's shape (it may be one batch range
    of a larger one: the steps below come from its strides)."""
    shape = (rows, N, length) if batch_in_columns else (N, rows, length)
    if out is None:
        return np.empty(shape, dtype=dtype)
    if tuple(out.shape) != shape:
        raise ValueError(f"im2col: out has shape {tuple(out.shape)}, the columns need {shape}")
    return out


cdef _check_rows_contiguous(Py_ssize_t stride, Py_ssize_t itemsize):
    """The kernels walk each row of columns with a pointer: its elements must be adjacent."""
    if stride != itemsize:
        raise ValueError(f"im2col/col2im: the columns' last axis must be contiguous (stride {stride} bytes)")


# How far apart, in bytes, two images' and two rows' columns start (from an array's strides,
# so a view of one batch range of a larger array works as well as a whole one).
cdef inline Py_ssize_t _image_step(Py_ssize_t* strides, bint batch_in_columns) noexcept:
    return strides[1] if batch_in_columns else strides[0]


cdef inline Py_ssize_t _row_step(Py_ssize_t* strides, bint batch_in_columns) noexcept:
    return strides[0] if batch_in_columns else strides[1]


def im2col(x, window, bint batch_in_columns=False, out=None):
    """Unfold the patches of x (N, C, H, W) that `window` reads into GEMM columns (layout above);
    into `out` when given, e.g. the columns of one batch range: cols[:, lo:hi] or cols[lo:hi]."""
    check_window(window, x.shape[2], x.shape[3], "im2col")
    kh, kw, sh, sw, ph, pw, dh, dw, _, _, oh, ow = window
    if ow < SHORT_ROW:
        return _im2col_padded(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, batch_in_columns, out)
    return _im2col_rows(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, batch_in_columns, out)


def _im2col_rows(const real[:, :, :, ::1] x, Py_ssize_t kh, Py_ssize_t kw,
                 Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                 Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t OH, Py_ssize_t OW, bint batch_in_columns, out):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    dtype = np.float32 if real is float else np.float64
    cols_arr = _columns_for(N, C * kh * kw, OH * OW, batch_in_columns, dtype, out)
    if cols_arr.size == 0:
        return cols_arr
    cdef real[:, :, :] cols = cols_arr  # strided: it may be one batch range of a larger array
    _check_rows_contiguous(cols.strides[2], sizeof(real))
    cdef real* base = &cols[0, 0, 0]
    cdef Py_ssize_t image_step = _image_step(cols.strides, batch_in_columns) // sizeof(real)
    cdef Py_ssize_t row_step = _row_step(cols.strides, batch_in_columns) // sizeof(real)
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
                            dst = base + n * image_step + row * row_step + oy * OW
                            if iy < 0 or iy >= H:
                                for ox in range(OW):
                                    dst[ox] = 0
                                continue
                            # raw pointers, and a unit-stride loop of its own: written with
                            # memoryview indexing, gcc's code for this loop changed with
                            # unrelated functions in the module, at up to 2x the time
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


def _col2im_padded(const real[:, :, :] cols, Py_ssize_t N, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                   Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                   Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t OH, Py_ssize_t OW,
                   bint batch_in_columns, x_arr):
    """col2im for short rows: add into a zero-padded image, then crop (see SHORT_ROW)."""
    dtype = np.float32 if real is float else np.float64
    padded_arr = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=dtype)
    if cols.size == 0:
        x_arr[...] = 0
        return x_arr
    cdef real[:, :, :, ::1] padded = padded_arr
    cdef Py_ssize_t image_step = _image_step(cols.strides, batch_in_columns) // sizeof(real)
    cdef Py_ssize_t row_step = _row_step(cols.strides, batch_in_columns) // sizeof(real)
    with nogil:  # the columns are only read: the cast drops const for the shared helper
        windows_and_columns(&padded[0, 0, 0, 0], <real*>&cols[0, 0, 0], N, C, H + 2 * ph, W + 2 * pw,
                            kh, kw, sh, sw, dh, dw, OH, OW, image_step, row_step, False)
    cdef real[:, :, :, ::1] x = x_arr
    with nogil:
        between_padded(&padded[0, 0, 0, 0], &x[0, 0, 0, 0], N * C, H, W, ph, pw, False)
    return x_arr


def col2im(const real[:, :, :] cols, Py_ssize_t C, window, bint batch_in_columns=False, out=None):
    """Adjoint of im2col: scatter-add every column entry back to its pixel of a (N, C, H, W) image;
    into `out` when given (overwritten), e.g. one batch range of a larger image array."""
    cdef Py_ssize_t kh, kw, sh, sw, ph, pw, dh, dw, H, W, OH, OW
    kh, kw, sh, sw, ph, pw, dh, dw, H, W, OH, OW = window
    check_window(window, H, W, "col2im")
    cdef Py_ssize_t N = cols.shape[1] if batch_in_columns else cols.shape[0]
    cdef Py_ssize_t rows = cols.shape[0] if batch_in_columns else cols.shape[1]
    if rows != C * kh * kw or cols.shape[2] != OH * OW:
        raise ValueError(f"col2im: columns of shape {tuple(cols.shape)} do not fit {C} channels and {window}")
    if cols.size:
        _check_rows_contiguous(cols.strides[2], sizeof(real))
    dtype = np.float32 if real is float else np.float64
    x_arr = _out_or_new((N, C, H, W), dtype, out, "col2im", "the columns'")
    if OW < SHORT_ROW:
        return _col2im_padded(cols, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW, batch_in_columns, x_arr)
    x_arr[...] = 0
    if cols.size == 0:
        return x_arr
    cdef real[:, :, :, ::1] x = x_arr
    cdef const real* base = &cols[0, 0, 0]
    cdef Py_ssize_t image_step = _image_step(cols.strides, batch_in_columns) // sizeof(real)
    cdef Py_ssize_t row_step = _row_step(cols.strides, batch_in_columns) // sizeof(real)
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
                            src = base + n * image_step + row * row_step + oy * OW
                            dst = &x[n, c, iy, 0]  # raw pointers, as in im2col
                            if sw == 1:
                                for ox in range(lo, hi):
                                    dst[ox + x_off] += src[ox]
                            else:
                                for ox in range(lo, hi):
                                    dst[ox * sw + x_off] += src[ox]
    return x_arr


cdef extern from "transpose.h" nogil:
    void transpose_float(const float* src, Py_ssize_t src_step, float* dst, Py_ssize_t dst_step,
                         Py_ssize_t rows, Py_ssize_t cols)
    void transpose_double(const double* src, Py_ssize_t src_step, double* dst, Py_ssize_t dst_step,
                          Py_ssize_t rows, Py_ssize_t cols)


cdef inline void transpose(const real* src, Py_ssize_t src_step, real* dst, Py_ssize_t dst_step,
                           Py_ssize_t rows, Py_ssize_t cols) noexcept nogil:
    """dst[c*dst_step + r] = src[r*src_step + c] (csrc/transpose.h)."""
    if real is float:
        transpose_float(src, src_step, dst, dst_step, rows, cols)
    else:
        transpose_double(src, src_step, dst, dst_step, rows, cols)


cdef void pixel_runs(real* padded, real* rows, Py_ssize_t C, Py_ssize_t Wp, Py_ssize_t kh, Py_ssize_t kw,
                     Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t OH, Py_ssize_t OW,
                     bint to_rows) noexcept nogil:
    """Between one image, channels-last and zero-padded (Hp, Wp, C), and its pixel rows
    (OH*OW, kh*kw*C): copy every window's taps into the rows (to_rows), or add them back."""
    # at dilation 1 a window row's taps are adjacent in the image: one run of kw*C values
    cdef Py_ssize_t taps_per_run = kw if dw == 1 else 1, run = taps_per_run * C
    cdef Py_ssize_t oy, ox, i, j, c
    cdef real* pixels
    for oy in range(OH):
        for ox in range(OW):
            for i in range(kh):
                for j in range(0, kw // taps_per_run):
                    pixels = padded + ((oy * sh + i * dh) * Wp + ox * sw + j * taps_per_run * dw) * C
                    if to_rows:
                        for c in range(run):
                            rows[c] = pixels[c]
                    else:
                        for c in range(run):
                            pixels[c] += rows[c]
                    rows += run


def im2col_pixels(const real[:, :, :, ::1] x, window, out=None):
    """im2col laid out pixel by pixel: x (N, C, H, W) -> rows (N*OH*OW, kh*kw*C), row
    (n, oy, ox) holding tap (i, j)'s C channels at (i*kw + j)*C; into `out` when given (one
    batch range of a larger array). The adjoint of col2im_pixels.

    With this layout a folded layer's three GEMMs take the shapes BLAS runs fastest
    (docs/performance.md). Each image is first copied channels-last into a zero-padded
    scratch image, so every tap copies C adjacent values."""
    cdef Py_ssize_t kh, kw, sh, sw, ph, pw, dh, dw, H, W, OH, OW
    kh, kw, sh, sw, ph, pw, dh, dw, H, W, OH, OW = window
    check_window(window, x.shape[2], x.shape[3], "im2col_pixels")
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], L = OH * OW, taps_c = kh * kw * C
    dtype = np.float32 if real is float else np.float64
    rows_arr = _out_or_new((N * L, taps_c), dtype, out, "im2col_pixels", "x's")
    if rows_arr.size == 0:
        return rows_arr
    cdef Py_ssize_t Hp = H + 2 * ph, Wp = W + 2 * pw
    scratch_arr = np.zeros(Hp * Wp * C, dtype=dtype)  # the border stays zero for every image
    cdef real[::1] scratch = scratch_arr
    cdef real[:, ::1] rows = rows_arr
    cdef real* padded = &scratch[0]
    cdef Py_ssize_t n, y
    with nogil:
        for n in range(N):
            for y in range(H):  # (C, W) rows of the image -> (W, C) rows of the scratch
                transpose(&x[n, 0, y, 0], H * W, padded + ((y + ph) * Wp + pw) * C, C, C, W)
            pixel_runs(padded, &rows[n * L, 0], C, Wp, kh, kw, sh, sw, dh, dw, OH, OW, True)
    return rows_arr


def col2im_pixels(const real[:, ::1] rows, Py_ssize_t C, window, out=None):
    """col2im for columns laid out pixel by pixel: rows (N*OH*OW, kh*kw*C), row (n, oy, ox)
    holding tap (i, j)'s C channels at (i*kw + j)*C; scatter-added back to x (N, C, H, W),
    into `out` when given (overwritten), e.g. one batch range of a larger image array.

    This is the layout of d out^T @ W with W's taps outermost, which BLAS computes faster
    than W^T @ d out for a folded layer. Each image's sums build up channels-last in a
    zero-padded scratch image, so every tap adds C adjacent values, then go to NCHW."""
    cdef Py_ssize_t kh, kw, sh, sw, ph, pw, dh, dw, H, W, OH, OW
    kh, kw, sh, sw, ph, pw, dh, dw, H, W, OH, OW = window
    check_window(window, H, W, "col2im_pixels")
    cdef Py_ssize_t L = OH * OW, taps_c = kh * kw * C
    cdef Py_ssize_t N = rows.shape[0] // L if L > 0 else 0
    if L == 0 or rows.shape[0] != N * L or rows.shape[1] != taps_c:
        raise ValueError(f"col2im_pixels: columns of shape {tuple(rows.shape)} do not fit {C} channels and {window}")
    dtype = np.float32 if real is float else np.float64
    x_arr = _out_or_new((N, C, H, W), dtype, out, "col2im_pixels", "the columns'")
    if x_arr.size == 0:
        return x_arr
    cdef Py_ssize_t Hp = H + 2 * ph, Wp = W + 2 * pw
    scratch_arr = np.empty(Hp * Wp * C, dtype=dtype)
    cdef real[::1] scratch = scratch_arr
    cdef real[:, :, :, ::1] x = x_arr
    cdef real* acc = &scratch[0]
    cdef Py_ssize_t n, y
    with nogil:
        for n in range(N):
            memset(acc, 0, Hp * Wp * C * sizeof(real))
            pixel_runs(acc, <real*>&rows[n * L, 0], C, Wp, kh, kw, sh, sw, dh, dw, OH, OW, False)
            for y in range(H):  # (W, C) rows of the scratch -> (C, W) rows of the image
                transpose(acc + ((y + ph) * Wp + pw) * C, C, &x[n, 0, y, 0], H * W, W, C)
    return x_arr


# Folded convolution (batch_in_columns) leaves its GEMM result as (K, N*L) rows, while the
# layers around it want (N, K, L) images. These two kernels move between the layouts in
# one pass each, doing the bias on the way, where NumPy needs a transposing copy plus a
# broadcast add forward, and a transposing copy plus a row sum backward.

def gemm_rows_to_batch(const real[:, ::1] rows, Py_ssize_t N, bias=None):
    """(K, N*L) GEMM rows -> (N, K, L) images, plus bias[k] on channel k when given."""
    return _rows_to_batch(rows, N, bias, False)


cdef _rows_to_batch(const real[:, ::1] rows, Py_ssize_t N, bias, bint by_pixel):
    """(K, N*L) GEMM rows, or (N*L, K) pixel rows by_pixel, -> (N, K, L) images plus the bias."""
    kernel = "pixel_rows_to_batch" if by_pixel else "gemm_rows_to_batch"
    cdef Py_ssize_t K = rows.shape[1] if by_pixel else rows.shape[0]
    cdef Py_ssize_t pixels = rows.shape[0] if by_pixel else rows.shape[1]
    if N <= 0 or pixels % N:
        counted = f"{pixels} rows" if by_pixel else f"rows of length {pixels}"
        raise ValueError(f"{kernel}: {counted} are not {N} images of equal size")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != K):
        raise ValueError(f"{kernel}: bias of shape {bias.shape} for {K} channels")
    cdef Py_ssize_t L = pixels // N
    out_arr = np.empty((N, K, L), dtype=np.float32 if real is float else np.float64)
    if out_arr.size == 0:
        return out_arr
    cdef real[:, :, ::1] out = out_arr
    cdef const real[::1] b
    cdef bint has_bias = bias is not None
    if has_bias:
        b = bias
    cdef Py_ssize_t n, k, l
    cdef const real* src
    cdef real* dst
    cdef real shift
    with nogil:
        if by_pixel:
            for n in range(N):
                transpose(&rows[n * L, 0], K, &out[n, 0, 0], L, L, K)
                if has_bias:
                    for k in range(K):
                        dst = &out[n, k, 0]
                        shift = b[k]
                        for l in range(L):
                            dst[l] += shift
        else:
            for k in range(K):
                shift = b[k] if has_bias else 0
                for n in range(N):
                    src = &rows[k, n * L]
                    dst = &out[n, k, 0]
                    for l in range(L):
                        dst[l] = src[l] + shift
    return out_arr


def batch_to_gemm_rows(const real[:, :, ::1] images, bint with_sums=False):
    """(N, K, L) images -> ((K, N*L) GEMM rows, each row's sum or None). The sums (the bias
    gradient) are accumulated per image in the working precision, then in double."""
    cdef Py_ssize_t N = images.shape[0], K = images.shape[1], L = images.shape[2]
    dtype = np.float32 if real is float else np.float64
    rows_arr = np.empty((K, N * L), dtype=dtype)
    sums_arr = np.zeros(K, dtype=dtype) if with_sums else None
    if rows_arr.size == 0:
        return rows_arr, sums_arr
    cdef real[:, ::1] rows = rows_arr
    cdef real[::1] sums
    if with_sums:
        sums = sums_arr
    cdef Py_ssize_t n, k, l, blocks = L // 4
    cdef const real* src
    cdef real* dst
    cdef double total
    cdef real a0, a1, a2, a3, s0, s1, s2, s3
    with nogil:
        for k in range(K):
            total = 0
            for n in range(N):
                src = &images[n, k, 0]
                dst = &rows[k, n * L]
                # four running sums in blocks of 4, loaded before stored: gcc packs them into
                # one vector (it never vectorises a single float sum, whose order it must keep)
                s0 = s1 = s2 = s3 = 0
                for l in range(0, 4 * blocks, 4):
                    a0, a1, a2, a3 = src[l], src[l + 1], src[l + 2], src[l + 3]
                    dst[l], dst[l + 1], dst[l + 2], dst[l + 3] = a0, a1, a2, a3
                    s0 = s0 + a0
                    s1 = s1 + a1
                    s2 = s2 + a2
                    s3 = s3 + a3
                for l in range(4 * blocks, L):
                    dst[l] = src[l]
                    s0 = s0 + src[l]
                total += (s0 + s1) + (s2 + s3)
            if with_sums:
                sums[k] = <real>total
    return rows_arr, sums_arr


# A folded layer whose columns are laid out by pixel (im2col_pixels) has its GEMM result and
# its output gradient as (N*L, K) pixel rows: these two move them to and from (N, K, L)
# images, with the bias on the way, as the pair above does for (K, N*L) rows.

def pixel_rows_to_batch(const real[:, ::1] rows, Py_ssize_t N, bias=None):
    """(N*L, K) pixel rows -> (N, K, L) images, plus bias[k] on channel k when given."""
    return _rows_to_batch(rows, N, bias, True)


def batch_to_pixel_rows(const real[:, :, ::1] images, bint with_sums=False):
    """(N, K, L) images -> ((N*L, K) pixel rows, each channel's sum or None). The sums (the
    bias gradient) are accumulated per image in the working precision, then in double."""
    cdef Py_ssize_t N = images.shape[0], K = images.shape[1], L = images.shape[2]
    dtype = np.float32 if real is float else np.float64
    rows_arr = np.empty((N * L, K), dtype=dtype)
    sums_arr = np.zeros(K, dtype=dtype) if with_sums else None
    if rows_arr.size == 0:
        return rows_arr, sums_arr
    totals_arr = np.zeros(K)
    cdef double[::1] totals = totals_arr
    cdef real[:, ::1] rows = rows_arr
    cdef Py_ssize_t n, k, l, blocks = L // 4
    cdef const real* src
    cdef real s0, s1, s2, s3
    with nogil:
        for n in range(N):
            transpose(&images[n, 0, 0], L, &rows[n * L, 0], K, K, L)
            if with_sums:
                for k in range(K):
                    src = &images[n, k, 0]
                    s0 = s1 = s2 = s3 = 0  # four running sums, as batch_to_gemm_rows
                    for l in range(0, 4 * blocks, 4):
                        s0 = s0 + src[l]
                        s1 = s1 + src[l + 1]
                        s2 = s2 + src[l + 2]
                        s3 = s3 + src[l + 3]
                    for l in range(4 * blocks, L):
                        s0 = s0 + src[l]
                    totals[k] += (s0 + s1) + (s2 + s3)
    if with_sums:
        sums_arr[...] = totals_arr
    return rows_arr, sums_arr
