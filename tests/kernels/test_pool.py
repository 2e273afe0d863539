"""Pooling kernels: every backend against the NumPy twin and PyTorch, ties and NaN included."""
import numpy as np
import pytest

from minidl import kernels
from minidl.kernels import reference
from minidl.kernels.window import Window2d
from tests.kernels import instruction_sets_of

BACKENDS = kernels.available("max_pool2d_forward")

# (N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw)
CASES = [
    (2, 3, 8, 8, 2, 2, 2, 2, 0, 0, 1, 1),
    (1, 1, 7, 5, 3, 3, 2, 2, 1, 1, 1, 1),  # overlapping windows, padding, batch 1, one channel, non-square
    (2, 2, 9, 10, 3, 2, 3, 1, 1, 1, 1, 1),  # stride 3, non-square kernel
    (1, 2, 9, 9, 2, 2, 1, 1, 1, 1, 2, 2),  # dilation 2
    (3, 1, 1, 6, 1, 3, 1, 2, 0, 1, 1, 1),  # height 1
]
ids = ["2x2", "overlap_pad", "stride3", "dilation2", "height1"]
AVG_CASES = [c for c in CASES if c[10:] == (1, 1)]  # average pooling has no dilation, as in PyTorch
avg_ids = [i for i, c in zip(ids, CASES) if c[10:] == (1, 1)]


def _window(case):
    n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw = case
    return Window2d.over((h, w), (kh, kw), (sh, sw), (ph, pw), (dh, dw))


def _x(case, dtype, seed=0, integers=False):
    rng = np.random.default_rng(seed)
    shape = case[:4]
    x = rng.integers(0, 3, size=shape) if integers else rng.standard_normal(shape)
    return x.astype(dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("integers", [False, True], ids=["distinct", "many_ties"])
@pytest.mark.parametrize("case", CASES, ids=ids)
def test_max_pool_forward_and_backward_match_twin(backend, dtype, integers, case):
    x = _x(case, dtype, integers=integers)
    out, idx = kernels.implementation("max_pool2d_forward", backend)(x, _window(case))
    ref_out, ref_idx = reference.max_pool2d_forward(x, _window(case))
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(idx, ref_idx)
    assert out.dtype == dtype and idx.dtype == np.int64
    grad = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    dx = kernels.implementation("max_pool2d_backward", backend)(grad, idx, *case[2:4])
    np.testing.assert_allclose(dx, reference.max_pool2d_backward(grad, ref_idx, *case[2:4]), rtol=1e-6)


@pytest.mark.parametrize("integers", [False, True], ids=["distinct", "many_ties"])
@pytest.mark.parametrize("case", CASES, ids=ids)
def test_max_pool_twin_matches_pytorch_indices(case, integers, torch_oracle):
    """Ties go to the first maximum in the window, exactly as PyTorch picks them."""
    x = _x(case, np.float64, integers=integers)
    kh, kw, sh, sw, ph, pw, dh, dw = case[4:]
    out, idx = reference.max_pool2d_forward(x, _window(case))
    t_out, t_idx = torch_oracle.nn.functional.max_pool2d(
        torch_oracle.tensor(x), (kh, kw), (sh, sw), (ph, pw), (dh, dw), return_indices=True
    )
    np.testing.assert_array_equal(out, t_out.numpy())
    np.testing.assert_array_equal(idx, t_idx.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_max_pool_lets_nan_win_like_pytorch(backend, torch_oracle):
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    x[0, 0, 1, 0] = np.nan
    out, _ = kernels.implementation("max_pool2d_forward", backend)(x, _window((1, 1, 4, 4, 2, 2, 2, 2, 0, 0, 1, 1)))
    expected = torch_oracle.nn.functional.max_pool2d(torch_oracle.tensor(x), 2).numpy()
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_array_equal(out[~np.isnan(out)], expected[~np.isnan(expected)])


# the kernel has a short-row (< 16 outputs) and a long-row loop: both are covered
TILED_SHAPES = [(2, 3, 8, 8), (1, 1, 7, 5), (2, 3, 5, 8), (3, 2, 2, 9), (1, 4, 1, 6), (2, 1, 33, 31), (2, 2, 5, 41),
                (2, 3, 4, 4), (3, 2, 6, 3), (2, 2, 4, 2), (2, 2, 6, 6)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("integers", [False, True], ids=["distinct", "many_ties"])
@pytest.mark.parametrize("shape", TILED_SHAPES, ids=["even", "odd_batch1", "odd_height", "height2", "height1", "odd_large", "long_rows",
                                             "rows_of_2", "rows_of_1_odd_width", "rows_of_1", "rows_of_3"])
def test_max_pool_2x2_matches_twin_and_general_kernel(backend, dtype, integers, shape):
    """The 2x2 stride-2 kernel: same maxima and winners as the general kernel, odd edges uncovered."""
    x = _x(shape, dtype, integers=integers)
    out, codes = kernels.implementation("max_pool2d_2x2_forward", backend)(x)
    ref_out, ref_codes = reference.max_pool2d_2x2_forward(x)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(codes, ref_codes)
    assert out.dtype == dtype and codes.dtype == np.uint8
    general_out, flat = reference.max_pool2d_forward(x, _window((*shape, 2, 2, 2, 2, 0, 0, 1, 1)))
    np.testing.assert_array_equal(out, general_out)
    grad = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    dx = kernels.implementation("max_pool2d_2x2_backward", backend)(grad, codes, *shape[2:])
    np.testing.assert_array_equal(dx, reference.max_pool2d_2x2_backward(grad, ref_codes, *shape[2:]))
    np.testing.assert_array_equal(dx, reference.max_pool2d_backward(grad, flat, *shape[2:]))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("width", [6, 40], ids=["short_rows", "long_rows"])
def test_max_pool_2x2_lets_the_last_nan_win_like_pytorch(backend, width, torch_oracle):
    x = np.arange(6 * width, dtype=np.float32).reshape(1, 1, 6, width)
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan  # two NaNs in the first window
    x[0, 0, 3, 3] = np.nan
    out, codes = kernels.implementation("max_pool2d_2x2_forward", backend)(x)
    t_out, t_idx = torch_oracle.nn.functional.max_pool2d(torch_oracle.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(out, t_out.numpy())  # NaNs compare equal in assert_array_equal
    ow = width // 2
    flat = (2 * np.arange(3)[:, None] + codes[0, 0] // 2) * width + 2 * np.arange(ow)[None, :] + codes[0, 0] % 2
    np.testing.assert_array_equal(flat, t_idx.numpy()[0, 0])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("include_pad", [True, False])
@pytest.mark.parametrize("case", AVG_CASES, ids=avg_ids)
def test_avg_pool_forward_and_backward_match_twin(backend, dtype, include_pad, case):
    x = _x(case, dtype)
    args = (_window(case), include_pad)
    out = kernels.implementation("avg_pool2d_forward", backend)(x, *args)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(out, reference.avg_pool2d_forward(x, *args), rtol=tol, atol=tol)
    grad = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    dx = kernels.implementation("avg_pool2d_backward", backend)(grad, *args)
    np.testing.assert_allclose(dx, reference.avg_pool2d_backward(grad, *args), rtol=tol, atol=tol)
    assert out.dtype == dtype and dx.dtype == dtype


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layout", [(27, 1, 3), (81, 1, 1), (1, 81, 1), (1, 1, 81)], ids=["3_a_row", "1_a_row", "channels", "long_row"])
def test_max_pool_2x2_every_window_of_ties_and_nans(backend, layout, torch_oracle):
    """All 81 windows over {0, 1, NaN}: the short-row path (pairs first, then rows) and the
    long-row path pick the same winner as scanning the window in order, and as PyTorch."""
    values = np.array([0.0, 1.0, np.nan], dtype=np.float32)
    windows = values[np.stack(np.meshgrid(*[np.arange(3)] * 4, indexing="ij"), -1).reshape(81, 4)]  # (81, 4) = a, b, c, d
    n, c, per_row = layout
    x = windows.reshape(n, c, per_row, 2, 2).transpose(0, 1, 3, 2, 4).reshape(n, c, 2, 2 * per_row)
    out, codes = kernels.implementation("max_pool2d_2x2_forward", backend)(x)
    ref_out, ref_codes = reference.max_pool2d_2x2_forward(x)
    np.testing.assert_array_equal(codes, ref_codes)
    np.testing.assert_array_equal(out, ref_out)
    _, t_idx = torch_oracle.nn.functional.max_pool2d(torch_oracle.tensor(x), 2, return_indices=True)
    k = codes[:, :, 0].astype(np.int64)
    flat = (k // 2) * (2 * per_row) + 2 * np.arange(per_row) + k % 2
    np.testing.assert_array_equal(flat, t_idx.numpy()[:, :, 0])


@pytest.mark.parametrize("isa", instruction_sets_of("minidl.kernels._pool"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_2x2_short_rows_at_every_instruction_set_match_twin(isa, dtype):
    """The short-row passes (pool_2x2.h) run at each SIMD level: the same maxima and winners
    as the twin, with ties, NaNs and lengths that leave a vector loop's remainder."""
    from minidl.kernels import _pool

    rng = np.random.default_rng(3)
    previous = _pool.limit_instruction_set(isa)
    try:
        assert _pool.instruction_set() == isa
        for shape in [s for s in TILED_SHAPES if s[3] // 2 < 16] + [(3, 5, 8, 8), (2, 7, 4, 4), (1, 3, 6, 30)]:
            x = rng.integers(-2, 3, shape).astype(dtype)
            x[rng.random(shape) < 0.05] = np.nan
            out, codes = _pool.max_pool2d_2x2_forward(x)
            ref_out, ref_codes = reference.max_pool2d_2x2_forward(x)
            np.testing.assert_array_equal(out, ref_out)
            np.testing.assert_array_equal(codes, ref_codes)
    finally:
        _pool.limit_instruction_set(previous)
