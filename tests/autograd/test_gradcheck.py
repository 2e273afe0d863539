"""gradcheck itself: it must catch a wrong gradient and say where."""
import numpy as np
import pytest

import minidl as md
from minidl.autograd import Function, GradcheckError


class WrongSquare(Function):
    """x**2 whose backward is deliberately wrong at one element."""

    def forward(self, a):
        self.save_for_backward(a)
        return a * a

    def backward(self, grad):
        (a,) = self.saved
        g = 2 * a * grad
        g.reshape(-1)[3] += 0.5
        return g


def _x(shape=(2, 3)):
    return md.tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=True)


def test_gradcheck_accepts_a_correct_gradient_of_a_matrix_output():
    assert md.gradcheck(lambda x: (x @ x.T).tanh(), [_x()])


def test_gradcheck_reports_input_index_and_both_values():
    x = _x()
    with pytest.raises(GradcheckError) as err:
        md.gradcheck(WrongSquare.apply, [x])
    message = str(err.value)
    assert "input 0 at index (1, 0)" in message
    got = float(message.split(" is ")[1].split(" by autograd")[0])
    numeric = float(message.split(" but ")[1].split(" by finite")[0])
    assert got - numeric == pytest.approx(0.5, abs=1e-6)


def test_gradcheck_can_return_false_instead_of_raising():
    assert md.gradcheck(WrongSquare.apply, [_x()], raise_exception=False) is False


def test_gradcheck_checks_every_input_and_several_outputs():
    a, b = _x((3,)), _x((3,))
    assert md.gradcheck(lambda p, q: (p * q, p.exp() + q), [a, b])


def test_gradcheck_refuses_float32():
    with pytest.raises(TypeError, match="float64"):
        md.gradcheck(lambda x: x * 2, [md.randn(3, requires_grad=True)])


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="no input requires grad"):
        md.gradcheck(lambda x: x * 2, [md.tensor(np.ones(3))])
