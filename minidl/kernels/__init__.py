"""Kernels: ndarray in, ndarray out, never a Tensor.

Ops call a kernel as an attribute, `kernels.im2col(x, geometry)`. Each name is first
bound to its NumPy twin in `reference.py`, which is where to read what the kernel
computes. Where a compiled version exists (Cython in `csrc/`, Numba in `numba/`), it
takes the name's place on the first call; the compiled module is imported only then,
so `import minidl` compiles and loads nothing.

The backend is resolved once, at import: `MINIDL_KERNELS=reference` runs the twins
everywhere (slow, exact, debuggable), and `with kernels.use("reference"):` does the same
for one block (tests, `minidl bench`'s twin column). The pattern is MiniTorch's
`TensorBackend`, switched like Chainer's `using_config`.
"""
import importlib
import os
import warnings
from contextlib import contextmanager

from . import reference
from .reference import (  # noqa: F401  every kernel's name, bound to its twin until a compiled one loads
    adam_step,
    attention_softmax_backward,
    attention_softmax_forward,
    avg_pool2d_backward,
    avg_pool2d_forward,
    batch_norm_backward,
    batch_norm_forward,
    batch_to_gemm_rows,
    batch_to_pixel_rows,
    col2im,
    col2im_pixels,
    cross_entropy_backward,
    cross_entropy_forward,
    direct_conv,
    direct_conv_weight_grad,
    erf,
    exp,
    gelu_tanh_backward,
    gelu_tanh_forward,
    gemm_rows_to_batch,
    gru_backward,
    gru_forward,
    im2col,
    im2col_pixels,
    implicit_conv,
    implicit_conv_input_grad,
    implicit_conv_weight_grad,
    layer_norm_backward,
    layer_norm_forward,
    lstm_backward,
    lstm_forward,
    max_pool2d_2x2_backward,
    max_pool2d_2x2_forward,
    max_pool2d_backward,
    max_pool2d_forward,
    pixel_rows_to_batch,
    relu_backward,
    relu_forward,
    rnn_backward,
    rnn_forward,
    scatter_add_rows,
    sgd_step,
    sgd_steps,
    small_matmul,
    tanh,
    winograd_filter,
    winograd_filter_grad,
    winograd_fused,
    winograd_fused_weight_grad,
    winograd_input,
    winograd_input_grad,
    winograd_output,
    winograd_output_grad,
)

# The module that holds each kernel's compiled version, under the same name.
COMPILED = {
    "minidl.kernels._im2col": (
        "im2col", "col2im", "im2col_pixels", "col2im_pixels", "gemm_rows_to_batch", "batch_to_gemm_rows",
        "pixel_rows_to_batch", "batch_to_pixel_rows",
    ),  # csrc/im2col.pyx
    "minidl.kernels._direct_conv": ("direct_conv", "direct_conv_weight_grad"),  # csrc/direct_conv.pyx and direct_conv.h
    "minidl.kernels._implicit_conv": ("implicit_conv", "implicit_conv_input_grad", "implicit_conv_weight_grad"),  # csrc/implicit_conv.pyx and implicit_gemm.h
    "minidl.kernels._winograd": (  # csrc/winograd.pyx
        "winograd_input", "winograd_output", "winograd_output_grad", "winograd_input_grad", "winograd_fused",
        "winograd_fused_weight_grad", "winograd_filter", "winograd_filter_grad",
    ),
    "minidl.kernels._pool": (  # csrc/pool.pyx
        "max_pool2d_forward", "max_pool2d_backward", "max_pool2d_2x2_forward", "max_pool2d_2x2_backward",
        "avg_pool2d_forward", "avg_pool2d_backward",
    ),
    "minidl.kernels._relu": ("relu_forward", "relu_backward"),  # csrc/relu.pyx
    "minidl.kernels._batch_norm": ("batch_norm_forward", "batch_norm_backward"),  # csrc/batch_norm.pyx
    "minidl.kernels._optim": ("adam_step", "sgd_step", "sgd_steps"),  # csrc/optim.pyx
    "minidl.kernels._cross_entropy": ("cross_entropy_forward", "cross_entropy_backward"),  # csrc/cross_entropy.pyx
    "minidl.kernels._small_matmul": ("small_matmul",),  # csrc/small_matmul.pyx and small_gemm.h
    "minidl.kernels._recurrent_steps": (),  # csrc/recurrent_steps.pyx: the GEMM the recurrent loops call
    "minidl.kernels.numba.recurrent": ("rnn_forward", "rnn_backward", "lstm_forward", "lstm_backward", "gru_forward", "gru_backward"),
    "minidl.kernels.numba.attention": ("attention_softmax_forward", "attention_softmax_backward"),
    "minidl.kernels.numba.special": ("erf", "tanh", "exp"),
    "minidl.kernels.numba.layer_norm": ("layer_norm_forward", "layer_norm_backward"),
    "minidl.kernels.numba.gelu": ("gelu_tanh_forward", "gelu_tanh_backward"),
    "minidl.kernels.numba.scatter": ("scatter_add_rows",),
}
MODULE_OF = {name: module for module, names in COMPILED.items() for name in names}
NAMES = tuple(MODULE_OF)
BACKENDS = ("compiled", "reference")

_compiled = {}  # name -> the compiled function, or the ImportError its module raised


def _load_compiled(name):
    if name not in _compiled:
        try:
            _compiled[name] = getattr(importlib.import_module(MODULE_OF[name]), name)
        except ImportError as exc:
            _compiled[name] = exc
    return _compiled[name]


def available(name):
    """The backends of kernel `name` that load on this machine, compiled first."""
    _check_name(name)
    return [b for b in BACKENDS if b == "reference" or not isinstance(_load_compiled(name), Exception)]


def implementation(name, backend):
    """Kernel `name` of one backend, for tests that compare them; a compiled one that fails to load raises."""
    _check_name(name)
    if backend == "reference":
        return getattr(reference, name)
    if backend != "compiled":
        raise ValueError(f"kernels: unknown backend {backend!r}; choose one of {BACKENDS}")
    fn = _load_compiled(name)
    if isinstance(fn, Exception):
        raise ImportError(f"kernels: the compiled {name} does not load: {fn}") from fn
    return fn


def _check_name(name):
    if name not in MODULE_OF:
        raise KeyError(f"kernels: no kernel named {name!r}; known: {sorted(NAMES)}")


def resolve(name):
    """The function kernel `name` runs on the current backend, loaded and bound now (not on first call)."""
    _check_name(name)
    if _backend == "reference":
        return getattr(reference, name)
    fn = _load_compiled(name)
    if isinstance(fn, Exception):
        warnings.warn(f"minidl: compiled kernel {name} unavailable ({fn}); using its NumPy twin", stacklevel=3)
        fn = getattr(reference, name)
    globals()[name] = fn
    return fn


def _compiled_on_first_call(name):
    """A stand-in that loads the compiled kernel, takes it into the module, and calls it."""

    def first_call(*args, **kwargs):
        return resolve(name)(*args, **kwargs)

    first_call.__name__ = first_call.__qualname__ = name
    first_call.__doc__ = getattr(reference, name).__doc__
    return first_call


def _install(backend):
    global _backend
    if backend not in BACKENDS:
        raise ValueError(f"kernels: unknown backend {backend!r} (MINIDL_KERNELS or kernels.use); choose one of {BACKENDS}")
    _backend = backend
    for name in NAMES:
        if backend == "reference":
            globals()[name] = getattr(reference, name)
        else:
            fn = _compiled.get(name)
            globals()[name] = fn if fn is not None and not isinstance(fn, Exception) else _compiled_on_first_call(name)


def backend():
    """The backend in use: "compiled" (the default) or "reference"."""
    return _backend


@contextmanager
def use(backend_name):
    """Run a block on one backend: `with kernels.use("reference"): ...`."""
    previous = _backend
    _install(backend_name)
    try:
        yield
    finally:
        _install(previous)


_backend = "compiled"
_install(os.environ.get("MINIDL_KERNELS") or "compiled")
