"""Whether new operations are recorded for backward (`no_grad`, `enable_grad`)."""
import functools
import threading


class _ThreadState(threading.local):
    enabled = True  # the class default: every new thread starts with gradients on


_state = _ThreadState()  # per thread, as PyTorch's grad mode


def is_grad_enabled() -> bool:
    return _state.enabled  # a plain attribute read: getattr(local, name, default) is several times slower


def set_grad_enabled(mode: bool) -> None:
    _state.enabled = bool(mode)


class _GradMode:
    """Context manager and decorator that sets grad mode and restores it on exit."""

    mode = True

    def __enter__(self):
        self._previous = is_grad_enabled()
        set_grad_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        set_grad_enabled(self._previous)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Do not record operations: outputs have no graph and `requires_grad=False`.

    Example:
        >>> with md.no_grad():
        ...     y = model(x)       # inference, no graph kept
    """

    mode = False


class enable_grad(_GradMode):
    """Record operations again inside a `no_grad` block."""

    mode = True


class inference_mode(_GradMode):
    """`torch.inference_mode`: here the same as `no_grad` (nothing is recorded); `mode=False`
    leaves grad mode as it is."""

    def __init__(self, mode=True):
        self.mode = not mode and is_grad_enabled()

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(not self.mode):
                return fn(*args, **kwargs)

        return wrapper
