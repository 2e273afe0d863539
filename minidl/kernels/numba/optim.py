"""Adam's update in one pass (NumPy twin in reference.py).

Written with NumPy the update takes about a dozen full passes over each
parameter (m, v, their corrections, the square root, the quotient...), each
into a fresh array; here each element is read once and its new value, m and v
are written once, still into fresh arrays, so a failed step changes nothing.
"""
import numba
import numpy as np


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _adam(value, grad, m, v, new_value, new_m, new_v, lr, b1, keep_g, b2, keep_g2, eps, wd, shrink, decoupled,
          m_scale, v_scale):
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
    if isinstance(a, np.ndarray) and a.shape == value.shape and a.dtype == value.dtype and a.flags.c_contiguous:
        return a.reshape(-1)  # the usual case, kept cheap: this runs for every parameter every step
    return np.ascontiguousarray(np.broadcast_to(np.asarray(a, value.dtype), value.shape)).reshape(-1)


def adam_step(value, grad, m, v, step, lr, b1, b2, eps, weight_decay, decoupled):
    """One Adam/AdamW step (no AMSGrad) -> (new value, new m, new v), all fresh arrays.

    Shape: value, grad, m, v all the parameter's shape (m, v are the number 0 at step 1).
    """
    from .. import reference

    if value.dtype not in (np.float32, np.float64) or grad.dtype != value.dtype:
        return reference.adam_step(value, grad, m, v, step, lr, b1, b2, eps, weight_decay, decoupled)
    # constants are computed in double and rounded once to the parameter's precision, as
    # NumPy does with Python floats (1 - float32(0.999) would be off by 1.3e-5)
    t = value.dtype.type
    constants = (lr, b1, 1 - b1, b2, 1 - b2, eps, weight_decay, 1 - lr * weight_decay)
    flat = [_flat_like(a, value) for a in (value, grad, m, v)]
    new = [np.empty(value.shape, value.dtype) for _ in range(3)]
    _adam(*flat, *(a.reshape(-1) for a in new), *(t(c) for c in constants), bool(decoupled),
          t(1 / (1 - b1**step)), t(1 / (1 - b2**step)))
    return tuple(new)
