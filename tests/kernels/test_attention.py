"""Attention softmax kernels: every backend against the NumPy twin, on the hard rows."""
import numpy as np
import pytest

from minidl import kernels
from minidl.kernels import reference

BACKENDS = kernels.available("attention_softmax_forward")


def _bias(kind, n, lq, lk, dtype, rng):
    if kind == "none":
        return None
    if kind == "causal":
        return np.where(np.tril(np.ones((lq, lk), bool)), 0, -np.inf).astype(dtype)[None]
    if kind == "fully_masked_rows":
        allowed = rng.random((n, lq, lk)) > 0.5
        allowed[:, 0] = False  # the first query of every item may attend to nothing
        return np.where(allowed, 0, -np.inf).astype(dtype)
    return rng.standard_normal((n, lq, lk)).astype(dtype)  # float bias


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["none", "causal", "fully_masked_rows", "float_bias"])
@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 5, 7), (2, 64, 64)], ids=["1x1", "odd", "64"])
def test_softmax_forward_and_backward_match_twin(backend, dtype, kind, shape):
    rng = np.random.default_rng(0)
    scores = (3 * rng.standard_normal(shape)).astype(dtype)
    bias = _bias(kind, *shape, dtype, rng)
    probs = kernels.implementation("attention_softmax_forward", backend)(scores, bias, 0.5)
    expected = reference.attention_softmax_forward(scores, bias, 0.5)
    tol = dict(rtol=1e-5, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-15)
    assert probs.dtype == dtype
    np.testing.assert_allclose(probs, expected, **tol)
    sums = probs.sum(-1)
    assert np.all(np.isclose(sums, 1, atol=1e-5) | (sums == 0))
    dprobs = rng.standard_normal(shape).astype(dtype)
    got = kernels.implementation("attention_softmax_backward", backend)(probs, dprobs)
    np.testing.assert_allclose(got, reference.attention_softmax_backward(expected, dprobs), **tol)
    scaled = kernels.implementation("attention_softmax_backward", backend)(probs, dprobs, scale=0.5)  # the scale folded in
    np.testing.assert_allclose(scaled, 0.5 * reference.attention_softmax_backward(expected, dprobs), **tol)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["none", "fully_masked_rows", "float_bias"])
@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 5, 7), (2, 7, 3), (2, 70, 70), (1, 40, 100)],
                         ids=["1x1", "more_keys", "more_queries", "70", "40x100"])
def test_causal_flag_matches_the_causal_bias(backend, dtype, kind, shape):
    """causal=True (rows cut at the diagonal, in blocks of 32) is the twin with a -inf bias above it."""
    rng = np.random.default_rng(1)
    scores = (3 * rng.standard_normal(shape)).astype(dtype)
    bias = _bias(kind, *shape, dtype, rng)
    probs = kernels.implementation("attention_softmax_forward", backend)(scores, bias, 0.5, causal=True)
    causal = reference.causal_bias(*shape[1:], dtype)
    expected = reference.attention_softmax_forward(scores, causal if bias is None else bias + causal, 0.5)
    tol = dict(rtol=1e-5, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(probs, expected, **tol)
    assert np.all(probs[:, np.triu_indices(shape[1], 1, shape[2])[0], np.triu_indices(shape[1], 1, shape[2])[1]] == 0)
    dprobs = rng.standard_normal(shape).astype(dtype)
    got = kernels.implementation("attention_softmax_backward", backend)(probs, dprobs, causal=True)
    np.testing.assert_allclose(got, reference.attention_softmax_backward(expected, dprobs), **tol)


@pytest.mark.parametrize("backend", BACKENDS)
def test_scores_near_float32_overflow_stay_finite(backend):
    scores = np.array([[[3e38, -3e38, 1e38], [-3e38, -3e38, -3e38]]], dtype=np.float32)
    probs = kernels.implementation("attention_softmax_forward", backend)(scores, None, 1.0)
    assert np.all(np.isfinite(probs))
    np.testing.assert_allclose(probs, [[[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]]], atol=1e-7)
