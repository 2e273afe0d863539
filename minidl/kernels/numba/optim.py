"""Adam's and SGD's updates in one pass each (NumPy twins in reference.py).

Written with NumPy the update takes about a dozen full passes over each
parameter (m, v, their corrections, the square root, the quotient...), each
into a fresh array; here each element is read once and its new value, m and v
are written once, still into fresh arrays, so a failed step changes nothing.
Large parameters are updated in two halves on two threads (minidl.kernels.threads):
the loops are bound by memory, and one core does not saturate it.
"""
import numba
import numpy as np

from ..threads import run_halves


def _work(value):
    """For the two-thread rule: a few streams of memory per element."""
    return 4 * value.size


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _adam(value, grad, m, v, new_value, new_m, new_v, constants, decoupled, lo, hi):
    lr, b1, keep_g, b2, keep_g2, eps, wd, shrink, m_scale, v_scale = constants
    # sliced, with the loop from 0: an index from range(lo, hi) kept the loop scalar (see activation.py)
    value, grad, m, v, new_value, new_m, new_v = (value[lo:hi], grad[lo:hi], m[lo:hi], v[lo:hi],
                                                  new_value[lo:hi], new_m[lo:hi], new_v[lo:hi])
    for i in range(value.size):
        p, g = value[i], grad[i]
        if decoupled:
            p = p * shrink
        else:
            g = g + wd * p
        mi = b1 * m[i] + keep_g * g
        vi = b2 * v[i] + keep_g2 * g * g
        new_m[i], new_v[i] = mi, vi
        new_value[i] = p - lr * (mi * m_scale) / (np.sqrt(vi * v_scale) + eps)


def _flat_like(a, value):
    """`a` as a flat contiguous array of value's shape and dtype (m and v start as the number 0)."""
    if type(a) is np.ndarray and a.shape == value.shape and a.dtype == value.dtype and a.flags.c_contiguous:
        return a.reshape(-1)  # the usual case, kept cheap: this runs for every parameter every step
    return np.ascontiguousarray(np.broadcast_to(np.asarray(a, value.dtype), value.shape)).reshape(-1)


def adam_step(value, grad, m, v, step, lr, b1, b2, eps, weight_decay, decoupled):
    """One Adam/AdamW step (no AMSGrad) -> (new value, new m, new v), all fresh arrays.

    Shape: value, grad, m, v all the parameter's shape (m, v are the number 0 at step 1).
    """
    if value.dtype not in _FLOATS or grad.dtype != value.dtype:
        from ..reference import adam_step as numpy_twin

        return numpy_twin(value, grad, m, v, step, lr, b1, b2, eps, weight_decay, decoupled)
    # constants are computed in double and rounded once to the parameter's precision, as
    # NumPy does with Python floats (1 - float32(0.999) would be off by 1.3e-5)
    constants = np.array([lr, b1, 1 - b1, b2, 1 - b2, eps, weight_decay, 1 - lr * weight_decay,
                          1 / (1 - b1**step), 1 / (1 - b2**step)], dtype=value.dtype)
    new = (np.empty_like(value), np.empty_like(value), np.empty_like(value))
    args = (_flat_like(value, value), _flat_like(grad, value), _flat_like(m, value), _flat_like(v, value),
            new[0].reshape(-1), new[1].reshape(-1), new[2].reshape(-1), constants, bool(decoupled))
    run_halves(value.size, lambda lo, hi: _adam(*args, lo, hi), _work(value))
    return new


# No fastmath here: without contraction the result is the twin's to the bit (NumPy
# rounds each product and sum); the loop is bound by memory, not by arithmetic.
@numba.njit(cache=True, nogil=True)
def _sgd(value, grad, buf, new_value, new_buf, lr, momentum, keep, wd, has_momentum, first, nesterov, maximize, lo, hi):
    value, grad, buf, new_value, new_buf = value[lo:hi], grad[lo:hi], buf[lo:hi], new_value[lo:hi], new_buf[lo:hi]
    for i in range(value.size):
        p = value[i]
        g = -grad[i] if maximize else grad[i]
        if wd != 0:
            g = g + wd * p
        if has_momentum:
            b = g if first else momentum * buf[i] + keep * g
            new_buf[i] = b
            g = g + momentum * b if nesterov else b
        new_value[i] = p - lr * g


def sgd_step(value, grad, buf, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """One SGD step -> (new value, new momentum buffer or None), fresh arrays: one pass per
    parameter, where NumPy needs five or six (which dominate on small tensors).

    Shape: value, grad, buf (None before the first step) all the parameter's shape.
    """
    if value.dtype not in _FLOATS or grad.dtype != value.dtype:
        from ..reference import sgd_step as numpy_twin

        return numpy_twin(value, grad, buf, lr, momentum, dampening, weight_decay, nesterov, maximize)
    t = value.dtype.type  # Python floats rounded once to the parameter's precision, as NumPy does
    new_value = np.empty_like(value)
    new_buf = np.empty_like(value) if momentum else new_value[:0]  # no buffer: never written
    flat_value = _flat_like(value, value)
    args = (flat_value, _flat_like(grad, value), flat_value if buf is None else _flat_like(buf, value),
            new_value.reshape(-1), new_buf.reshape(-1), t(lr), t(momentum), t(1 - dampening), t(weight_decay),
            bool(momentum), buf is None, bool(nesterov), bool(maximize))
    run_halves(value.size, lambda lo, hi: _sgd(*args, lo, hi), _work(value))
    return new_value, (new_buf if momentum else None)


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
