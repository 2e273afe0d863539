"""What the recurrent loops call at every step: the small GEMM (csrc/small_gemm.h) against
its NumPy twin, a @ w, at every instruction set this CPU has, and the packing it reads."""
import numpy as np
import pytest

steps = pytest.importorskip("minidl.kernels._recurrent_steps")  # test_extensions_built fails CI without it

# (rows, depth, cols): whole tiles, row and column edges, one of everything, no depth, no rows
SHAPES = [(32, 128, 512), (5, 7, 33), (1, 1, 1), (7, 13, 100), (4, 3, 64), (3, 0, 5), (0, 4, 6), (9, 65, 17)]


@pytest.fixture(params=steps.instruction_sets())
def isa(request):
    previous = steps.limit_instruction_set(request.param)
    assert steps.instruction_set() == request.param
    yield request.param
    steps.limit_instruction_set(previous)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_gemm_matches_numpy(isa, dtype, shape):
    rows, depth, cols = shape
    rng = np.random.default_rng(1)
    a = rng.standard_normal((rows, depth)).astype(dtype)
    w = rng.standard_normal((depth, cols)).astype(dtype)
    packed = steps.pack(w)
    tol = dict(rtol=1e-5, atol=1e-5 * max(depth, 1)) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    got = steps.gemm(a, packed, cols)
    assert got.dtype == dtype and got.shape == (rows, cols)
    np.testing.assert_allclose(got, a.astype(np.float64) @ w.astype(np.float64), **tol)
    out = rng.standard_normal((rows, cols)).astype(dtype)
    want = out.astype(np.float64) + a.astype(np.float64) @ w.astype(np.float64)
    assert steps.gemm(a, packed, cols, out=out) is out
    np.testing.assert_allclose(out, want, **tol)


def _pack_twin(w):
    """NumPy's version of pack: pad the columns to whole panels, then panel-major."""
    width = steps.panel_width(w.dtype)
    panels = -(-w.shape[1] // width)
    padded = np.zeros((w.shape[0], panels * width), dtype=w.dtype)
    padded[:, : w.shape[1]] = w
    return padded.reshape(w.shape[0], panels, width).transpose(1, 0, 2).reshape(-1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_packing_matches_its_twin_for_any_strides(dtype):
    w = np.random.default_rng(2).standard_normal((40, 70)).astype(dtype)
    for view in (w, w.T, w[:, 5:38], w[::2], w[:0], w[:, :0]):
        np.testing.assert_array_equal(steps.pack(view), _pack_twin(view))


def test_packing_pads_the_last_panel_with_zeros():
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    width = steps.panel_width(np.float32)
    packed = steps.pack(w).reshape(-1, 2, width)
    assert packed.shape == (1, 2, width)
    np.testing.assert_array_equal(packed[0, :, :3], w)
    assert not packed[0, :, 3:].any()
    assert steps.panel_width(np.float64) == width // 2


def test_bad_input_is_named():
    with pytest.raises(TypeError, match=r"recurrent_steps.pack: .*int64"):
        steps.pack(np.zeros((2, 2), dtype=np.int64))
    packed = steps.pack(np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"recurrent_steps.gemm: out must be a C-contiguous \(2, 4\) float32"):
        steps.gemm(np.zeros((2, 3), np.float32), packed, 4, out=np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"recurrent_steps.gemm: packed float32 .* not a \(5, 4\) float64"):
        steps.gemm(np.zeros((2, 5)), packed, 4)


def test_the_addresses_are_the_functions_numba_calls():
    from minidl.kernels.numba import recurrent_loops

    assert set(steps.addresses()) == {"small_gemm_float32", "small_gemm_float64"}
    assert all(address > 0 for address in steps.addresses().values())
    assert recurrent_loops.steps is steps
