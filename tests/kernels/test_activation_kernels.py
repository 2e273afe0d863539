"""ReLU kernels against their NumPy twins: special values, odd shapes, both dtypes, and the
inputs the compiled path hands to the twin (non-contiguous, broadcast gradients, integers)."""
import numpy as np
import pytest

from minidl import kernels
from minidl.kernels import reference

BACKENDS = kernels.available("relu_forward")
SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 3e38, -3e38]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 5), (2, 3, 5, 7), (64, 16, 8, 8)])
def test_relu_matches_twin(backend, dtype, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    flat = x.reshape(-1)
    flat[: min(len(SPECIAL), flat.size)] = SPECIAL[: flat.size]
    out = kernels.implementation("relu_forward", backend)(x)
    expected = reference.relu_forward(x)
    assert out.dtype == dtype and out.shape == shape
    np.testing.assert_array_equal(out, expected)  # exact, NaN where NaN
    grad = rng.standard_normal(shape).astype(dtype)
    grad.reshape(-1)[-1] = np.inf
    dx = kernels.implementation("relu_backward", backend)(grad, out)
    assert dx.dtype == dtype
    np.testing.assert_array_equal(dx, reference.relu_backward(grad, expected))


@pytest.mark.parametrize("backend", BACKENDS)
def test_relu_gradient_is_zero_wherever_the_output_is_not_positive(backend):
    x = np.array([np.nan, -1.0, 0.0, 2.0], dtype=np.float32)
    out = kernels.implementation("relu_forward", backend)(x)
    dx = kernels.implementation("relu_backward", backend)(np.full(4, np.inf, np.float32), out)
    # as PyTorch: no NaN from inf * 0, and a NaN output (not <= 0) passes the gradient
    np.testing.assert_array_equal(dx, [np.inf, 0, 0, np.inf])


@pytest.mark.parametrize("backend", BACKENDS)
def test_relu_takes_what_the_fast_path_does_not(backend):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 8)).astype(np.float32)[:, ::2]  # strided (a folded conv's output was)
    out = kernels.implementation("relu_forward", backend)(x)
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    dx = kernels.implementation("relu_backward", backend)(np.float32(2.0), out)  # a broadcast scalar gradient
    np.testing.assert_array_equal(dx, np.where(out > 0, 2.0, 0.0).astype(np.float32))
    strided_grad = np.arange(24, dtype=np.float32).reshape(4, 6).T  # (6, 4), not contiguous
    np.testing.assert_array_equal(kernels.implementation("relu_backward", backend)(strided_grad, out),
                                  np.where(out > 0, strided_grad, 0))
    ints = np.array([-2, 0, 3])
    np.testing.assert_array_equal(kernels.implementation("relu_forward", backend)(ints), [0, 0, 3])
