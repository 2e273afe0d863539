"""Transformer-block kernels (layer norm, tanh-GELU) against their NumPy twins."""
import numpy as np
import pytest

from minidl import kernels
from minidl.kernels import reference


@pytest.mark.parametrize("backend", kernels.available("layer_norm_forward"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 7), (6, 1), (33, 64), (2048, 5)], ids=["one_row", "width1", "wide", "many_rows"])
@pytest.mark.parametrize("affine", ["both", "weight_only", "none"])
def test_layer_norm_kernels_match_twin(backend, dtype, shape, affine):
    rng = np.random.default_rng(0)
    x = (3 + 2 * rng.standard_normal(shape)).astype(dtype)  # an offset: centring must be exact enough
    weight = rng.standard_normal(shape[1]).astype(dtype) if affine != "none" else None
    bias = rng.standard_normal(shape[1]).astype(dtype) if affine == "both" else None
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)
    got = kernels.implementation("layer_norm_forward", backend)(x, weight, bias, 1e-5)
    expected = reference.layer_norm_forward(x, weight, bias, 1e-5)
    for g, e in zip(got, expected):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, e, **tol)
    grad = rng.standard_normal(shape).astype(dtype)
    got = kernels.implementation("layer_norm_backward", backend)(grad, expected[1], expected[2], weight)
    expected = reference.layer_norm_backward(grad, expected[1], expected[2], weight)
    for g, e in zip(got, expected):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, e, **tol)


@pytest.mark.parametrize("backend", kernels.available("gelu_tanh_forward"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1,), (3, 5), (32, 64, 256)])
def test_gelu_tanh_kernels_match_twin(backend, dtype, shape):
    rng = np.random.default_rng(0)
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    x.reshape(-1)[0] = 12.0  # tanh saturated
    tol = dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-14)
    out, t = kernels.implementation("gelu_tanh_forward", backend)(x)
    ref_out, ref_t = reference.gelu_tanh_forward(x)
    assert out.dtype == t.dtype == dtype
    np.testing.assert_allclose(out, ref_out, **tol)
    np.testing.assert_allclose(t, ref_t, **tol)
    grad = rng.standard_normal(shape).astype(dtype)
    dx = kernels.implementation("gelu_tanh_backward", backend)(x, ref_t, grad)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, reference.gelu_tanh_backward(x, ref_t, grad), **tol)
