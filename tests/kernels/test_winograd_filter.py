"""F(2x2, 3x3)'s filter transform and its adjoint (csrc/winograd_filter.h) against their NumPy
twins at every instruction set, the twins against G g G^T written out, and out= as Conv2d uses
it: staggered planes, one range of output channels per thread."""
import numpy as np
import pytest

from minidl import kernels
from minidl.kernels import reference
from minidl.kernels.winograd import staggered
from tests.kernels import instruction_sets_of

# (K, C): one filter; counts around the kernel's block of 64 filters and its 4-wide transposes
FILTER_SHAPES = [(1, 1), (3, 5), (7, 11), (16, 4), (13, 10)]
G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def _compiled(name):
    return kernels.implementation(name, "compiled")


def test_twins_are_g_g_gt_and_its_adjoint():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 2, 3, 3))
    u = reference.winograd_filter(w)
    expected = np.einsum("ai,kcij,bj->abkc", G, w, G).reshape(16, 3, 2)
    np.testing.assert_allclose(u, expected, rtol=1e-12, atol=1e-12)
    du = rng.standard_normal((16, 3, 2))
    dw = reference.winograd_filter_grad(du)
    np.testing.assert_allclose(dw, np.einsum("ai,abkc,bj->kcij", G, du.reshape(4, 4, 3, 2), G), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("isa", instruction_sets_of("minidl.kernels._winograd"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", FILTER_SHAPES)
def test_compiled_transforms_match_twins_at_every_instruction_set(isa, dtype, shape):
    from minidl.kernels import _winograd

    k, c = shape
    rng = np.random.default_rng(k * c)
    w = rng.standard_normal((k, c, 3, 3)).astype(dtype)
    du = rng.standard_normal((16, k, c)).astype(dtype)
    previous = _winograd.limit_instruction_set(isa)
    try:
        u = _winograd.winograd_filter(w)
        dw = _winograd.winograd_filter_grad(du)
    finally:
        _winograd.limit_instruction_set(previous)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    assert u.dtype == dtype and u.shape == (16, k, c)
    np.testing.assert_allclose(u, reference.winograd_filter(w), rtol=tol, atol=tol)
    assert dw.dtype == dtype and dw.shape == (k, c, 3, 3)
    np.testing.assert_allclose(dw, reference.winograd_filter_grad(du), rtol=tol, atol=4 * tol)


def test_adjoint_is_the_transpose_of_the_transform():
    """<U(g), d> = <g, U^T(d)> for random g and d: the backward's defining property."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((5, 7, 3, 3))
    du = rng.standard_normal((16, 5, 7))
    lhs = np.sum(_compiled("winograd_filter")(w) * du)
    rhs = np.sum(w * _compiled("winograd_filter_grad")(du))
    assert lhs == pytest.approx(rhs, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_each_half_of_the_output_channels_into_a_staggered_array(dtype):
    """How Conv2d runs the transforms on two threads: U's planes lie apart, and each call fills
    its own output channels' rows of every plane and nothing else."""
    k, c, a = 9, 6, 4
    rng = np.random.default_rng(5)
    w = rng.standard_normal((k, c, 3, 3)).astype(dtype)
    u = staggered((k, c), dtype)
    u.base[...] = -7  # the gaps between planes too
    _compiled("winograd_filter")(w[:a], out=u[:, :a])
    _compiled("winograd_filter")(w[a:], out=u[:, a:])
    np.testing.assert_allclose(u, reference.winograd_filter(w), rtol=1e-6, atol=1e-6)
    gaps = np.ones(u.base.shape, dtype=bool)
    for p in range(16):
        gaps.reshape(-1)[p * (k * c + 16) : p * (k * c + 16) + k * c] = False
    assert np.all(u.base[gaps] == -7)
    dw = np.full((k, c, 3, 3), -7, dtype=dtype)
    _compiled("winograd_filter_grad")(u[:, :a], out=dw[:a])
    np.testing.assert_allclose(dw[:a], reference.winograd_filter_grad(np.array(u[:, :a])), rtol=1e-6, atol=1e-5)
    assert np.all(dw[a:] == -7)


@pytest.mark.parametrize("shape", [(0, 3), (4, 0)])
def test_no_filters_give_empty_results(shape):
    w = np.zeros(shape + (3, 3), np.float32)
    assert _compiled("winograd_filter")(w).shape == (16,) + shape
    assert _compiled("winograd_filter_grad")(np.zeros((16,) + shape, np.float32)).shape == shape + (3, 3)


def test_bad_input_is_a_clear_error():
    w = np.zeros((2, 3, 3, 3), np.float32)
    with pytest.raises(ValueError, match=r"winograd_filter: needs 3x3 filters, got weight \(2, 3, 5, 5\)"):
        _compiled("winograd_filter")(np.zeros((2, 3, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"winograd_filter: U must be \(16, 2, 3\)"):
        _compiled("winograd_filter")(w, out=np.zeros((16, 3, 2), np.float32))
    with pytest.raises(ValueError, match="winograd_filter: out must be float32"):
        _compiled("winograd_filter")(w, out=np.zeros((16, 2, 3), np.float64))
    with pytest.raises(ValueError, match="planes must be contiguous"):
        _compiled("winograd_filter")(w, out=np.zeros((16, 3, 2), np.float32).transpose(0, 2, 1))
    with pytest.raises(ValueError, match=r"winograd_filter_grad: out must be a contiguous \(2, 3, 3, 3\)"):
        _compiled("winograd_filter_grad")(np.zeros((16, 2, 3), np.float32), out=np.zeros((2, 3, 3, 3), np.float64))
    with pytest.raises(ValueError, match=r"winograd_filter_grad: U must be \(16, 2, 3\)"):
        _compiled("winograd_filter_grad")(np.zeros((15, 2, 3), np.float32))
