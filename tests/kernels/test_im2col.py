"""im2col/col2im: every backend against the NumPy twin, PyTorch's unfold/fold, and the adjoint identity."""
import numpy as np
import pytest

from minidl import kernels
from minidl.kernels import reference
from minidl.kernels.window import Window2d

BACKENDS = kernels.available("im2col")

# (N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw): odd cases on purpose
CASES = [
    (2, 3, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1),  # "same" 3x3
    (1, 1, 7, 6, 3, 2, 2, 2, 0, 0, 1, 1),  # batch 1, one channel, non-square image and kernel, stride 2
    (2, 2, 8, 9, 3, 3, 3, 2, 2, 1, 1, 1),  # stride 3 and 2, padding 2 and 1
    (1, 3, 9, 9, 3, 3, 1, 1, 2, 2, 2, 2),  # dilation 2, padding 2
    (3, 4, 4, 4, 1, 1, 1, 1, 0, 0, 1, 1),  # 1x1 kernel
    (1, 2, 5, 7, 5, 7, 1, 1, 0, 0, 1, 1),  # kernel as large as the image
    (2, 1, 3, 3, 3, 3, 2, 2, 2, 2, 1, 1),  # padding larger than a third of the image
    (3, 2, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1),  # rows of exactly one block of 4 (B8's second conv)
    (2, 2, 9, 11, 3, 3, 1, 1, 1, 1, 1, 1),  # rows of two blocks of 4 and a remainder of 3
    (2, 3, 9, 8, 3, 3, 2, 1, 1, 1, 2, 1),  # rows of 8 at unit stride across, stride 2 and dilation 2 down
    # rows of 16+ outputs take the kernels' other path (short ones copy from a padded image)
    (1, 2, 6, 40, 3, 3, 1, 1, 1, 1, 1, 1),  # "same" 3x3 on a wide image
    (2, 1, 5, 50, 3, 2, 2, 3, 2, 1, 1, 2),  # wide, stride 3, dilation 2, padding 2 and 1
    (2, 9, 6, 10, 3, 3, 2, 2, 1, 1, 1, 1),  # channels and rows past 4x4 transpose blocks, stride 2
]
ids = ["same3x3", "stride2_nonsquare", "stride3_pad2", "dilation2", "1x1", "full_kernel", "big_padding", "rows_of_4",
       "rows_of_11", "rows_of_8_stride_2x1", "wide_same", "wide_strided", "channels_of_9"]


def _x(case, dtype, seed=0):
    n, c, h, w = case[:4]
    return np.random.default_rng(seed).standard_normal((n, c, h, w)).astype(dtype)


def _window(case):
    n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw = case
    return Window2d.over((h, w), (kh, kw), (sh, sw), (ph, pw), (dh, dw))


def _out_hw(case):
    return _window(case).oh, _window(case).ow


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=ids)
@pytest.mark.parametrize("batch_in_columns", [False, True], ids=["per_image", "batch_in_columns"])
def test_im2col_matches_reference_twin(backend, dtype, case, batch_in_columns):
    x = _x(case, dtype)
    cols = kernels.implementation("im2col", backend)(x, _window(case), batch_in_columns=batch_in_columns)
    expected = reference.im2col(x, _window(case))
    if batch_in_columns:  # the same columns with the batch moved inside each row
        expected = expected.transpose(1, 0, 2)
    assert cols.dtype == dtype and cols.shape == expected.shape and cols.flags.c_contiguous
    np.testing.assert_array_equal(cols, expected)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=ids)
@pytest.mark.parametrize("batch_in_columns", [False, True], ids=["per_image", "batch_in_columns"])
def test_col2im_matches_reference_twin(backend, dtype, case, batch_in_columns):
    n, c, h, w = case[:4]
    oh, ow = _out_hw(case)
    cols = np.random.default_rng(1).standard_normal((n, c * case[4] * case[5], oh * ow)).astype(dtype)
    given = np.ascontiguousarray(cols.transpose(1, 0, 2)) if batch_in_columns else cols
    got = kernels.implementation("col2im", backend)(given, c, _window(case), batch_in_columns=batch_in_columns)
    expected = reference.col2im(cols, c, _window(case))
    assert got.dtype == dtype and got.shape == (n, c, h, w)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", [CASES[0], CASES[2], CASES[9], CASES[10]], ids=["same3x3", "stride3_pad2", "wide_same", "wide_strided"])
@pytest.mark.parametrize("batch_in_columns", [False, True], ids=["per_image", "batch_in_columns"])
def test_both_kernels_fill_one_batch_range_of_larger_arrays(backend, case, batch_in_columns):
    """With out=, im2col writes images [a, b) of a whole batch's columns and col2im writes their
    pixels, touching nothing else: how Conv2d splits a batch over two threads."""
    case = (5,) + case[1:]  # five images: the range [2, 4) has neighbours on both sides
    x, window, a, b = _x(case, np.float32), _window(case), 2, 4
    im2col, col2im = (kernels.implementation(name, backend) for name in ("im2col", "col2im"))
    whole = reference.im2col(x, window, batch_in_columns=batch_in_columns)
    cols = np.full(whole.shape, 7, np.float32)
    im2col(x[a:b], window, batch_in_columns=batch_in_columns, out=cols[:, a:b] if batch_in_columns else cols[a:b])
    inside = (slice(None), slice(a, b)) if batch_in_columns else (slice(a, b),)
    np.testing.assert_array_equal(cols[inside], whole[inside])
    assert np.all(np.delete(cols, np.arange(a, b), axis=1 if batch_in_columns else 0) == 7)
    images = np.full(x.shape, 7, np.float32)
    col2im(whole[inside], case[1], window, batch_in_columns=batch_in_columns, out=images[a:b])
    np.testing.assert_allclose(images[a:b], reference.col2im(whole, case[1], window, batch_in_columns)[a:b], rtol=1e-6)
    assert np.all(np.delete(images, np.arange(a, b), axis=0) == 7)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_col2im_is_the_adjoint_of_im2col(case):
    """<im2col(x), c> == <x, col2im(c)>: the identity the convolution backward relies on."""
    n, c, h, w = case[:4]
    oh, ow = _out_hw(case)
    x = _x(case, np.float64)
    cols = np.random.default_rng(2).standard_normal((n, c * case[4] * case[5], oh * ow))
    lhs = np.sum(reference.im2col(x, _window(case)) * cols)
    rhs = np.sum(x * reference.col2im(cols, c, _window(case)))
    assert lhs == pytest.approx(rhs, rel=1e-12)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_reference_twin_matches_pytorch_unfold_and_fold(case, torch_oracle):
    n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw = case
    x = _x(case, np.float64)
    kwargs = dict(kernel_size=(kh, kw), dilation=(dh, dw), padding=(ph, pw), stride=(sh, sw))
    unfolded = torch_oracle.nn.functional.unfold(torch_oracle.tensor(x), **kwargs).numpy()
    np.testing.assert_array_equal(reference.im2col(x, _window(case)), unfolded)
    folded = torch_oracle.nn.functional.fold(torch_oracle.tensor(unfolded), output_size=(h, w), **kwargs).numpy()
    np.testing.assert_allclose(reference.col2im(unfolded, c, _window(case)), folded, atol=1e-12)


def _pixel_rows(case, dtype, seed=3):
    """Columns pixel by pixel, taps outermost: (N*OH*OW, kh*kw*C)."""
    n, c = case[:2]
    oh, ow = _out_hw(case)
    return np.random.default_rng(seed).standard_normal((n * oh * ow, case[4] * case[5] * c)).astype(dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=ids)
def test_col2im_pixels_matches_reference_twin(backend, dtype, case):
    n, c, h, w = case[:4]
    rows = _pixel_rows(case, dtype)
    got = kernels.implementation("col2im_pixels", backend)(rows, c, _window(case))
    expected = reference.col2im_pixels(rows, c, _window(case))
    assert got.dtype == dtype and got.shape == (n, c, h, w) and got.flags.c_contiguous
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def _by_pixel_by_hand(cols, case):
    """im2col's (N, C*kh*kw, L) columns moved to (N*L, kh*kw*C) rows one channel and tap at a time."""
    n, c, h, w, kh, kw = case[:6]
    oh, ow = _out_hw(case)
    cols = cols.reshape(n, c, kh, kw, oh, ow)
    by_pixel = np.empty((n, oh, ow, kh, kw, c), dtype=cols.dtype)
    for ci in range(c):
        for i in range(kh):
            for j in range(kw):
                by_pixel[:, :, :, i, j, ci] = cols[:, ci, i, j]
    return by_pixel.reshape(n * oh * ow, kh * kw * c)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=ids)
def test_im2col_pixels_matches_twin_and_im2col_rearranged(backend, dtype, case):
    x = _x(case, dtype)
    rows = kernels.implementation("im2col_pixels", backend)(x, _window(case))
    expected = _by_pixel_by_hand(reference.im2col(x, _window(case)), case)
    assert rows.dtype == dtype and rows.shape == expected.shape and rows.flags.c_contiguous
    np.testing.assert_array_equal(rows, expected)  # copies only: exact
    np.testing.assert_array_equal(rows, reference.im2col_pixels(x, _window(case)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_im2col_pixels_fills_one_batch_range_and_refuses_a_bad_out(backend):
    case = (5, 3, 6, 7, 3, 3, 2, 1, 1, 1, 1, 1)
    window, (oh, ow), (a, b) = _window(case), _out_hw(case), (2, 4)
    x = _x(case, np.float32)
    im2col_pixels = kernels.implementation("im2col_pixels", backend)
    rows = np.full((5 * oh * ow, 27), 7, np.float32)
    im2col_pixels(x[a:b], window, out=rows[a * oh * ow:b * oh * ow])
    expected = reference.im2col_pixels(x, window)
    np.testing.assert_array_equal(rows[a * oh * ow:b * oh * ow], expected[a * oh * ow:b * oh * ow])
    assert np.all(np.delete(rows, np.arange(a * oh * ow, b * oh * ow), axis=0) == 7)
    if backend == "compiled":  # the twin writes through NumPy's assignment, which raises its own errors
        with pytest.raises(ValueError, match="im2col_pixels: out must be a contiguous"):
            im2col_pixels(x, window, out=np.empty((5 * oh * ow, 26), np.float32))


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_col2im_pixels_is_the_adjoint_of_im2col_in_that_layout(case):
    """<im2col(x) laid out pixel by pixel, r> == <x, col2im_pixels(r)>, with im2col's rows
    (c, i, j) moved to (pixel, (i, j, c)) by hand: independent of the twin's own reshapes."""
    c = case[1]
    x, rows = _x(case, np.float64), _pixel_rows(case, np.float64)
    lhs = np.sum(_by_pixel_by_hand(reference.im2col(x, _window(case)), case) * rows)
    for backend in BACKENDS:
        rhs = np.sum(x * kernels.implementation("col2im_pixels", backend)(rows, c, _window(case)))
        assert lhs == pytest.approx(rhs, rel=1e-12), backend
        unfolded = kernels.implementation("im2col_pixels", backend)(x, _window(case))
        assert np.sum(unfolded * rows) == pytest.approx(rhs, rel=1e-12), backend


@pytest.mark.parametrize("backend", BACKENDS)
def test_col2im_pixels_fills_one_batch_range_and_refuses_bad_shapes(backend):
    case = (5, 3, 6, 7, 3, 3, 2, 1, 1, 1, 1, 1)
    window, (oh, ow), (a, b) = _window(case), _out_hw(case), (2, 4)
    rows = _pixel_rows(case, np.float32)
    col2im_pixels = kernels.implementation("col2im_pixels", backend)
    images = np.full((5, 3, 6, 7), 7, np.float32)
    col2im_pixels(rows[a * oh * ow:b * oh * ow], 3, window, out=images[a:b])
    np.testing.assert_allclose(images[a:b], reference.col2im_pixels(rows, 3, window)[a:b], rtol=1e-6, atol=1e-6)
    assert np.all(np.delete(images, np.arange(a, b), axis=0) == 7)
    with pytest.raises(ValueError, match="col2im_pixels|do not fit|cannot reshape"):
        col2im_pixels(np.ascontiguousarray(rows[:, 1:]), 3, window)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_window_made_for_another_input_is_refused(backend):
    window = Window2d.over((5, 5), (3, 3), (1, 1), (1, 1))
    with pytest.raises(ValueError, match="window made for 5x5 inputs, used on 6x5"):
        kernels.implementation("im2col", backend)(np.zeros((1, 1, 6, 5), np.float32), window)


def test_compiled_kernels_refuse_a_window_whose_output_does_not_fit():
    if "compiled" not in BACKENDS:
        pytest.skip("no compiled im2col on this machine")
    too_big = Window2d.over((5, 5), (3, 3), (1, 1), (1, 1))._replace(oh=9)
    with pytest.raises(ValueError, match="does not fit"):
        kernels.implementation("im2col", "compiled")(np.zeros((1, 1, 5, 5), np.float32), too_big)
    cols = np.zeros((1, 9, 25), np.float32)
    with pytest.raises(ValueError, match="do not fit 2 channels"):
        kernels.implementation("col2im", "compiled")(cols, 2, Window2d.over((5, 5), (3, 3), (1, 1), (1, 1)))


# (N, K, L): batch 1, one channel, one pixel, runs shorter than a block of 4 and with a remainder
# (the pixel-row kernels transpose in 4x4 blocks: (3, 7, 9) and (2, 8, 12) have whole blocks and remainders)
LAYOUT_CASES = [(64, 16, 64), (64, 32, 16), (1, 3, 5), (3, 1, 7), (2, 5, 1), (4, 2, 13), (3, 7, 9), (2, 8, 12)]


# each images kernel from rows, and the images by NumPy: from (K, N*L) GEMM rows or (N*L, K) pixel rows
TO_IMAGES = {"gemm_rows_to_batch": (lambda n, k, length: (k, n * length), lambda rows, n: rows.reshape(rows.shape[0], n, -1).transpose(1, 0, 2)),
             "pixel_rows_to_batch": (lambda n, k, length: (n * length, k), lambda rows, n: rows.reshape(n, -1, rows.shape[1]).transpose(0, 2, 1))}


@pytest.mark.parametrize("kernel", TO_IMAGES)
@pytest.mark.parametrize("backend", kernels.available("gemm_rows_to_batch"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("shape", LAYOUT_CASES)
def test_rows_to_batch_matches_twin_and_a_transpose(kernel, backend, dtype, with_bias, shape):
    n, k, length = shape
    rows_shape, as_images = TO_IMAGES[kernel]
    rng = np.random.default_rng(3)
    rows = rng.standard_normal(rows_shape(n, k, length)).astype(dtype)
    bias = rng.standard_normal(k).astype(dtype) if with_bias else None
    out = kernels.implementation(kernel, backend)(rows, n, bias)
    np.testing.assert_array_equal(out, getattr(reference, kernel)(rows, n, bias))
    expected = as_images(rows, n) + (0 if bias is None else bias[:, None])
    np.testing.assert_array_equal(out, expected)  # one add per entry: exact
    assert out.dtype == dtype and out.shape == (n, k, length) and out.flags.c_contiguous


# each layout kernel from images, and the same layout by NumPy: (K, N*L) GEMM rows or (N*L, K) pixel rows
TO_ROWS = {"batch_to_gemm_rows": lambda images: images.transpose(1, 0, 2).reshape(images.shape[1], -1),
           "batch_to_pixel_rows": lambda images: images.transpose(0, 2, 1).reshape(-1, images.shape[1])}


@pytest.mark.parametrize("kernel", TO_ROWS)
@pytest.mark.parametrize("backend", kernels.available("batch_to_gemm_rows"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", LAYOUT_CASES)
def test_batch_to_rows_matches_twin_and_sums_each_channel(kernel, backend, dtype, shape):
    n, k, length = shape
    images = np.random.default_rng(4).standard_normal(shape).astype(dtype)
    rows, sums = kernels.implementation(kernel, backend)(images, True)
    ref_rows, ref_sums = getattr(reference, kernel)(images, True)
    np.testing.assert_array_equal(rows, ref_rows)
    np.testing.assert_array_equal(rows, TO_ROWS[kernel](images))
    exact = images.astype(np.float64).sum(axis=(0, 2))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(sums, exact, rtol=tol, atol=tol * np.sqrt(n * length))
    np.testing.assert_allclose(ref_sums, exact, rtol=tol, atol=tol * np.sqrt(n * length))
    assert sums.dtype == dtype and rows.flags.c_contiguous
    no_rows, no_sums = kernels.implementation(kernel, backend)(images, False)
    assert no_sums is None
    np.testing.assert_array_equal(no_rows, rows)


@pytest.mark.parametrize("kernel, rows, counted", [("gemm_rows_to_batch", (3, 10), "rows of length 10"),
                                                   ("pixel_rows_to_batch", (10, 3), "10 rows")])
@pytest.mark.parametrize("backend", kernels.available("gemm_rows_to_batch"))
def test_rows_to_batch_names_bad_shapes(kernel, rows, counted, backend):
    run = kernels.implementation(kernel, backend)
    rows = np.zeros(rows, np.float32)
    with pytest.raises(ValueError, match=f"{counted} are not 3 images"):
        run(rows, 3)
    with pytest.raises(ValueError, match=f"{counted} are not 0 images"):
        run(rows, 0)
    with pytest.raises(ValueError, match=r"bias of shape \(2,\) for 3 channels"):
        run(rows, 2, np.zeros(2, np.float32))
