"""Batch normalisation's kernels against their NumPy twins, and the split over two threads."""
import numpy as np
import pytest

from minidl import kernels
from minidl.kernels import reference

SHAPES = [(1, 1, 1), (2, 3, 1), (5, 7, 13), (32, 4, 64), (3, 1, 200)]  # L = 1: BatchNorm1d on (N, C)


@pytest.mark.parametrize("backend", kernels.available("batch_norm_forward"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", ["both", "weight_only", "none"])
def test_batch_norm_kernels_match_twin(backend, dtype, shape, affine):
    rng = np.random.default_rng(0)
    x = (3 + 2 * rng.standard_normal(shape)).astype(dtype)  # an offset: centring must be exact enough
    c = shape[1]
    weight = rng.standard_normal(c).astype(dtype) if affine != "none" else None
    bias = rng.standard_normal(c).astype(dtype) if affine == "both" else None
    forward, backward = (kernels.implementation(f"batch_norm_{d}", backend) for d in ("forward", "backward"))
    want = reference.batch_norm_forward(x, weight, bias, 1e-5)
    _same(forward(x, weight, bias, 1e-5), want, dtype, (shape, shape, (c,), (c,), (c,)))
    grad = rng.standard_normal(shape).astype(dtype)
    _same(backward(grad, want[1], want[4], weight), reference.batch_norm_backward(grad, want[1], want[4], weight),
          dtype, (shape, (c,), (c,)))


def _same(got, want, dtype, shapes):
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)
    for g, e, shape in zip(got, want, shapes, strict=True):
        assert g.dtype == dtype and g.shape == shape
        np.testing.assert_allclose(g, e, **tol)


@pytest.mark.parametrize("threads", ["1", "2"])
def test_batch_norm_channel_halves_match_one_thread(monkeypatch, threads):
    monkeypatch.setenv("MINIDL_THREADS", threads)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 9, 25)).astype(np.float32)  # an odd channel count: unequal halves
    weight, bias = rng.standard_normal(9).astype(np.float32), rng.standard_normal(9).astype(np.float32)
    got = kernels.implementation("batch_norm_forward", "compiled")(x, weight, bias, 1e-5)
    want = reference.batch_norm_forward(x, weight, bias, 1e-5)
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e, rtol=2e-5, atol=2e-5)
    grad = rng.standard_normal(x.shape).astype(np.float32)
    got = kernels.implementation("batch_norm_backward", "compiled")(grad, want[1], want[4], weight)
    for g, e in zip(got, reference.batch_norm_backward(grad, want[1], want[4], weight)):
        np.testing.assert_allclose(g, e, rtol=2e-5, atol=2e-5)
