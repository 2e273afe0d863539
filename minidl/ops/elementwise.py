"""Element-wise primitives. Inputs broadcast; the engine sums gradients back.

FLOPs: one per output element (transcendentals count as one).
"""
import numpy as np

from .. import kernels
from ..autograd.function import Function


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad, grad


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, grad):
        return grad, -grad


class Mul(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, grad):
        a, b = self.saved
        return grad * b, grad * a


class Div(Function):
    def forward(self, a, b):
        out = a / b
        self.save_for_backward(b, out)
        return out

    def backward(self, grad):
        b, out = self.saved
        grad_a = grad / b if self.needs_input_grad[0] else None
        # -grad * (a / b) / b, in that order, as PyTorch: with a = 0 and a tiny b, grad / b
        # overflows to inf and inf * 0 would give NaN where the answer is 0
        grad_b = -grad * (out / b) if self.needs_input_grad[1] else None
        return grad_a, grad_b


class Pow(Function):
    """a ** b with both tensors; d/db needs log(a), so it is only computed when asked for."""

    def forward(self, a, b):
        out = a**b
        self.save_for_backward(a, b, out)
        return out

    def backward(self, grad):
        a, b, out = self.saved
        grad_a = grad * b * a ** (b - 1) if self.needs_input_grad[0] else None
        grad_b = grad * out * np.log(a) if self.needs_input_grad[1] else None
        return grad_a, grad_b


def _power(a, exponent):
    """a ** exponent; small whole exponents as products (NumPy's general power is much slower)."""
    if exponent == 1:
        return a
    if exponent == 2:
        return a * a
    if exponent == 3:
        return a * a * a
    return a**exponent


class PowScalar(Function):
    def forward(self, a, exponent):
        self.exponent = exponent
        self.save_for_backward(a)
        return _power(a, exponent)

    def backward(self, grad):
        (a,) = self.saved
        if self.exponent == 0:
            return np.zeros_like(grad)
        return grad * self.exponent * _power(a, self.exponent - 1)


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, grad):
        return -grad


class Exp(Function):
    """Uses the `exp` kernel: vectorised in Numba for float32, exact np.exp for float64."""

    def forward(self, a):
        self.out = kernels.exp(np.asarray(a, order="C"))
        return self.out

    def backward(self, grad):
        return grad * self.out


class Log(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return np.log(a)

    def backward(self, grad):
        (a,) = self.saved
        return grad / a


class Sqrt(Function):
    def forward(self, a):
        self.out = np.sqrt(a)
        return self.out

    def backward(self, grad):
        return grad / (2 * self.out)


class Abs(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return np.abs(a)

    def backward(self, grad):
        (a,) = self.saved
        sign = np.subtract(a > 0, a < 0, dtype=a.dtype)  # 0 at 0 and at NaN, as PyTorch
        return grad * sign


class Tanh(Function):
    """Uses the `tanh` kernel: vectorised in Numba for float32, exact np.tanh for float64."""

    def forward(self, a):
        self.out = kernels.tanh(np.asarray(a, order="C"))
        return self.out

    def backward(self, grad):
        return grad * (1 - self.out * self.out)


class Sigmoid(Function):
    """1 / (1 + exp(-a)): exp overflows to inf for a < -88 (float32), which correctly gives 0,
    and unlike (1 + tanh(a/2)) / 2 it keeps full relative accuracy in the tails."""

    def forward(self, a):
        with np.errstate(over="ignore"):
            e = kernels.exp(np.negative(a))
            e += 1
            self.out = np.divide(1, e, out=e)
        return self.out

    def backward(self, grad):
        return grad * self.out * (1 - self.out)


class GeluTanh(Function):
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) on the gelu_tanh kernels.
    FLOPs: 8 per element (the count of the composite it replaces)."""

    def forward(self, a):
        out, self.t = kernels.gelu_tanh_forward(a)
        self.save_for_backward(a)
        return out

    def backward(self, grad):
        (a,) = self.saved
        return kernels.gelu_tanh_backward(a, self.t, grad)

    def flops(self, out, a):
        return 8 * a.size


class Relu(Function):
    """max(a, 0); a NaN stays NaN. The gradient is 0 where the output is <= 0 and passes
    elsewhere, at NaN too (as PyTorch; an infinite or NaN incoming gradient where a <= 0 gives 0). One compiled pass each
    way (csrc/relu.pyx)."""

    def forward(self, a):
        self.out = kernels.relu_forward(a)
        return self.out

    def backward(self, grad):
        return kernels.relu_backward(grad, self.out)


class Clip(Function):
    """Clamp to [low, high] (either may be None); gradient flows where low <= a <= high, as PyTorch."""

    def forward(self, a, low=None, high=None):
        self.mask = np.ones(a.shape, dtype=bool)
        if low is not None:
            self.mask &= a >= low
        if high is not None:
            self.mask &= a <= high
        return np.clip(a, low, high).astype(a.dtype, copy=False)

    def backward(self, grad):
        return np.where(self.mask, grad, grad.dtype.type(0))


class Where(Function):
    def forward(self, a, b, condition):
        self.condition = condition
        return np.where(condition, a, b)

    def backward(self, grad):
        zero = grad.dtype.type(0)
        grad_a = np.where(self.condition, grad, zero) if self.needs_input_grad[0] else None
        grad_b = np.where(self.condition, zero, grad) if self.needs_input_grad[1] else None
        return grad_a, grad_b


class Cast(Function):
    def forward(self, a, dtype):
        self.input_dtype = a.dtype
        return a.astype(dtype)

    def backward(self, grad):
        return grad.astype(self.input_dtype)

    def flops(self, out, a):
        return 0


class Erf(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return kernels.erf(a)

    def backward(self, grad):
        (a,) = self.saved
        return grad * (2 / np.sqrt(np.pi)) * np.exp(-a * a)
