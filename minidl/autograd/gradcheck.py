"""Compare autograd's gradients with central finite differences."""
import numpy as np

from .engine import gradients


class GradcheckError(AssertionError):
    pass


def _as_output(fn, inputs):
    from ..tensor import Tensor

    out = fn(*inputs)
    if isinstance(out, (tuple, list)):  # several outputs: check them all at once
        out = [o for o in out if isinstance(o, Tensor)]
    else:
        out = [out]
    return out


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True) -> bool:
    """Check the gradients of `fn(*inputs)` against central differences, in float64.

    `fn` returns a tensor of any shape (or a tuple of tensors). The full
    Jacobian is compared: one backward pass per output element, two forward
    passes per input element, so keep the shapes small. Inputs that require
    grad must be float64.

    Returns True when every element agrees within `atol + rtol * |numeric|`.
    Otherwise raises `GradcheckError` (or returns False with
    `raise_exception=False`) naming the input, the index and both values of
    the worst element.
    """
    from ..tensor import Tensor

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} has dtype {inputs[i].dtype}; finite differences need float64")

    outputs = _as_output(fn, inputs)
    leaves = [inputs[i] for i in checked]
    analytic = [np.zeros((t.data.size, sum(o.data.size for o in outputs))) for t in leaves]
    column = 0
    for k, out in enumerate(outputs):
        for j in range(out.data.size):
            seeds = [np.zeros(o.shape, dtype=o.dtype) for o in outputs]
            seeds[k].reshape(-1)[j] = 1.0
            live = [(o, s) for o, s in zip(outputs, seeds) if o.requires_grad]
            grads = gradients([o for o, _ in live], [s for _, s in live], leaves=leaves, retain_graph=True) if live else [None] * len(leaves)
            for a, g in zip(analytic, grads):
                if g is not None:
                    a[:, column] = g.reshape(-1)
            column += 1

    worst = (0.0, None)
    for a, i in zip(analytic, checked):
        data = inputs[i].data
        flat = data.reshape(-1)
        for e in range(flat.size):
            original = flat[e]
            flat[e] = original + eps
            plus = np.concatenate([o.data.reshape(-1) for o in _as_output(fn, inputs)]).astype(np.float64)
            flat[e] = original - eps
            minus = np.concatenate([o.data.reshape(-1) for o in _as_output(fn, inputs)]).astype(np.float64)
            flat[e] = original
            numeric = (plus - minus) / (2 * eps)
            excess = np.abs(a[e] - numeric) - (atol + rtol * np.abs(numeric))
            bad = int(np.argmax(excess))
            if excess[bad] > worst[0]:
                index = np.unravel_index(e, data.shape)
                worst = (excess[bad], (i, index, bad, a[e, bad], numeric[bad]))
    if worst[1] is None:
        return True
    i, index, out_index, got, expected = worst[1]
    message = (
        f"gradcheck: gradient of input {i} at index {tuple(int(v) for v in index)} (output element {out_index}) "
        f"is {got:.10g} by autograd but {expected:.10g} by finite differences"
    )
    if raise_exception:
        raise GradcheckError(message)
    return False
