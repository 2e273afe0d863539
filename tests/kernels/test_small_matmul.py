"""minidl's own GEMM for small products (csrc/small_matmul.pyx, small_gemm.h) against a float64
product and its NumPy twin, at every instruction set this CPU has, on odd shapes and on views
of every kind it reads in place: transposed, reversed, strided."""
import numpy as np
import pytest

from minidl.kernels import reference
from tests.kernels import instruction_sets_of

MODULE = "minidl.kernels._small_matmul"
small = pytest.importorskip(MODULE)  # test_extensions_built fails CI without it

# (M, K, N): a convolution's three products, whole tiles, every edge, a 16-column last panel
SHAPES = [(1024, 144, 32), (1024, 32, 144), (144, 1024, 32), (5, 7, 33), (1, 1, 1), (9, 65, 17), (8, 3, 48),
          (13, 2, 64), (3, 300, 5)]


def _views(matrix):
    """The same values as a contiguous array, a transposed view, reversed rows, every other row."""
    rows, cols = matrix.shape
    spaced = np.empty((2 * rows, cols), dtype=matrix.dtype)
    spaced[::2] = matrix
    return {"contiguous": matrix, "transposed": np.asfortranarray(matrix), "reversed": matrix[::-1].copy()[::-1],
            "spaced": spaced[::2]}


def _tolerance(dtype, depth):
    return dict(rtol=1e-5, atol=1e-5 * max(depth, 1)) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12 * max(depth, 1))


@pytest.fixture(params=instruction_sets_of(MODULE))
def isa(request):
    previous = small.limit_instruction_set(request.param)
    assert small.instruction_set() == request.param
    yield request.param
    small.limit_instruction_set(previous)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_matches_a_float64_product_and_the_twin_for_every_view(isa, dtype, shape):
    m, k, n = shape
    rng = np.random.default_rng(m * 7 + k)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    want = a.astype(np.float64) @ b.astype(np.float64)
    for a_name, a_view in _views(a).items():
        for b_name, b_view in _views(b).items():
            for threads in (1, 2):
                got = small.small_matmul(a_view, b_view, threads=threads)
                assert got.dtype == dtype and got.shape == (m, n) and got.flags.c_contiguous
                np.testing.assert_allclose(got, want, **_tolerance(dtype, k), err_msg=f"a {a_name}, b {b_name}")
    np.testing.assert_allclose(small.small_matmul(a, b), reference.small_matmul(a, b), **_tolerance(dtype, k))


def test_the_result_does_not_depend_on_the_split_or_the_view():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((1023, 144)).astype(np.float32)
    b = rng.standard_normal((144, 32)).astype(np.float32)
    one = small.small_matmul(a, b, threads=1)
    np.testing.assert_array_equal(small.small_matmul(a, b, threads=2), one)
    np.testing.assert_array_equal(small.small_matmul(np.asfortranarray(a), b, threads=2), one)


def test_a_view_whose_strides_are_not_whole_values_is_copied_first():
    raw = np.random.default_rng(4).standard_normal(64).astype(np.float32).view(np.uint8)
    # rows 18 bytes apart: 4.5 values, a layout NumPy allows and the kernel cannot step through
    a = np.ndarray((5, 3), dtype=np.float32, buffer=raw, strides=(18, 4))
    b = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_allclose(small.small_matmul(a, b), np.array(a) @ b, rtol=1e-6)


def test_the_convolution_knows_the_panel_width():
    from minidl.ops import conv

    assert small.panel_width(np.float32) * 4 == small.panel_width(np.float64) * 8 == conv.SMALL_GEMM_PANEL_BYTES


def test_into_out_and_the_empty_cases():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((6, 4)), rng.standard_normal((4, 3))
    out = np.full((6, 3), np.nan)
    assert small.small_matmul(a, b, out=out) is out
    np.testing.assert_allclose(out, a @ b, rtol=1e-12)
    no_depth = small.small_matmul(np.ones((3, 0)), np.ones((0, 2)), out=np.full((3, 2), np.nan))
    np.testing.assert_array_equal(no_depth, np.zeros((3, 2)))
    assert small.small_matmul(np.ones((0, 4)), np.ones((4, 2)), threads=2).shape == (0, 2)
    assert small.small_matmul(np.ones((3, 4)), np.ones((4, 0))).shape == (3, 0)


@pytest.mark.parametrize("matmul", [small.small_matmul, reference.small_matmul], ids=["compiled", "twin"])
def test_bad_input_is_named(matmul):
    f32 = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"small_matmul: cannot multiply a \(2, 3\) by b \(2, 3\)"):
        matmul(f32, f32)
    with pytest.raises(TypeError, match="small_matmul: a and b must both be float32 or both float64; got float32 and float64"):
        matmul(f32, np.zeros((3, 2)))
    with pytest.raises(TypeError, match="got int64 and int64"):
        matmul(np.zeros((2, 3), np.int64), np.zeros((3, 2), np.int64))
    with pytest.raises(ValueError, match="small_matmul: threads must be 1 or 2, got 3"):
        matmul(f32, f32.T, threads=3)
    with pytest.raises(ValueError, match=r"small_matmul: out must be a contiguous \(2, 2\) array"):
        matmul(f32, f32.T.copy(), out=np.zeros((2, 2)))
