"""Tensor creation, dtypes, conversions and the non-differentiable helpers."""
import numpy as np
import pytest

import minidl as md


def test_default_dtypes_follow_pytorch():
    assert md.tensor([1.0, 2.0]).dtype == np.float32
    assert md.tensor([1, 2]).dtype == np.int64
    assert md.tensor(np.array([1.0, 2.0])).dtype == np.float64  # a float64 ndarray stays float64
    assert md.tensor(np.array([1.0], dtype=np.float32)).dtype == np.float32
    assert md.tensor([True, False]).dtype == np.bool_
    assert md.tensor([1, 2], dtype=md.float64).dtype == np.float64
    assert md.float32 is np.float32


def test_tensor_copies_but_numpy_shares():
    a = np.array([1.0, 2.0])
    t = md.tensor(a)
    a[0] = 9
    assert t.numpy()[0] == 1.0
    t.numpy()[1] = 7
    assert t.item() if t.numel() == 1 else t.tolist() == [1.0, 7.0]


def test_creation_functions():
    assert md.zeros(2, 3).shape == (2, 3) and md.zeros(2, 3).dtype == np.float32
    assert md.ones((4,)).numpy().tolist() == [1, 1, 1, 1]
    assert md.full((2, 2), 3.5).numpy().tolist() == [[3.5, 3.5], [3.5, 3.5]]
    assert md.arange(5).dtype == np.int64 and md.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert md.arange(0.0, 1.0, 0.25).dtype == np.float32
    assert md.zeros_like(md.tensor(np.ones(3))).dtype == np.float64
    assert md.ones(2, requires_grad=True).requires_grad


def test_manual_seed_makes_random_draws_repeatable():
    md.manual_seed(3)
    a, b = md.randn(4), md.rand(2, 2)
    md.manual_seed(3)
    np.testing.assert_array_equal(a.numpy(), md.randn(4).numpy())
    np.testing.assert_array_equal(b.numpy(), md.rand(2, 2).numpy())
    assert a.dtype == np.float32
    assert np.all((b.numpy() >= 0) & (b.numpy() < 1))


def test_conversions():
    t = md.tensor(np.array([[1.5, 2.0]]))
    assert np.asarray(t) is t.numpy()
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    assert md.tensor([2.5]).item() == 2.5 and float(md.tensor([2.5])) == 2.5
    with pytest.raises(ValueError, match="one-element"):
        t.item()
    assert t.size() == (1, 2) and t.size(1) == 2 and t.dim() == 2 and t.numel() == 2 and len(t) == 1


def test_numpy_array_on_the_left_gives_a_tensor():
    x = md.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = np.array([3.0, 4.0]) * x
    assert isinstance(y, md.Tensor)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])


def test_scalar_arithmetic_keeps_float32():
    x = md.tensor([1.0, 2.0])
    assert (x * 2.5).dtype == np.float32
    assert (1 / x).dtype == np.float32
    assert (md.tensor([1, 2]) * 2).dtype == np.int64
    assert (md.tensor([1, 2]) * 0.5).dtype == np.float32


def test_cast_is_differentiable():
    x = md.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x.float()
    assert y.dtype == np.float32
    (y * y).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    assert x.double() is x


def test_comparisons_and_argmax_are_not_differentiable():
    x = md.tensor(np.array([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]]), requires_grad=True)
    assert (x > 2.5).dtype == np.bool_ and not (x > 2.5).requires_grad
    assert (x == x).numpy().all()
    assert x.argmax().item() == 5
    assert x.argmax(dim=1).tolist() == [1, 2]
    assert x.argmin(dim=0, keepdim=True).tolist() == [[0, 1, 0]]


def test_tensors_stay_hashable():
    a, b = md.tensor([1.0]), md.tensor([1.0])
    assert len({a, b}) == 2


def test_setitem_on_constants_only():
    m = md.zeros(3)
    m[1] = 5.0
    assert m.tolist() == [0, 5, 0]
    with pytest.raises(RuntimeError, match="in-place"):
        md.zeros(3, requires_grad=True)[0] = 1.0


def test_repr_shows_grad_state():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    assert "requires_grad=True" in repr(x)
    assert "grad_fn=<Mul>" in repr(x * 2)
    assert "float64" in repr(md.tensor(np.ones(2)))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: md.randn(2, 3) @ md.randn(4, 5), r"matmul: shapes \(2, 3\) and \(4, 5\)"),
        (lambda: md.randn(2, 3).reshape(4, 2), r"reshape: cannot reshape tensor of shape \(2, 3\)"),
        (lambda: md.randn(2, 3).permute(0, 0), r"permute: dims \(0, 0\)"),
        (lambda: md.cat([md.randn(2, 3), md.randn(3, 2)]), r"cat: tensor 1 has shape \(3, 2\)"),
        (lambda: md.stack([md.randn(2), md.randn(3)]), r"stack: tensor 1 has shape \(3,\)"),
        (lambda: md.randn(2, 3).sum(dim=2), r"dim 2 is out of range"),
        (lambda: md.randn(2, 3)[5], r"index: .*shape \(2, 3\)"),
    ],
)
def test_bad_shapes_give_errors_naming_the_op_and_shapes(call, message):
    with pytest.raises((ValueError, IndexError), match=message):
        call()
