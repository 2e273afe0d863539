"""Kernel dispatch: ndarray in, ndarray out, never a Tensor.

Each kernel has implementations by backend, fastest first. The default is the
fastest one that loads; `MINIDL_KERNELS=reference|numba|cython` forces a
backend wherever the kernel has one. Compiled modules are imported on first
use, so `import minidl` stays quick.

Registered kernels (signature shared with the twin in `reference.py`):
    im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, batch_in_columns=False) -> cols
    col2im(cols, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, batch_in_columns=False) -> x
    gemm_rows_to_batch(rows, N, bias=None) -> images (N, K, L) from rows (K, N*L), + bias
    batch_to_gemm_rows(images, with_sums=False) -> (rows (K, N*L), row sums or None)
    erf(x) -> erf(x), element-wise
    tanh(x, out=None) -> tanh(x), element-wise
    exp(x, out=None) -> exp(x), element-wise
    cross_entropy_forward(logits, target, weight, ignore_index) -> (losses, row_weight, exp, total)
    cross_entropy_backward(exp, total, target, ignore_index, coef) -> dlogits
    adam_step(value, grad, m, v, step, lr, b1, b2, eps, weight_decay, decoupled) -> (value, m, v)
    sgd_step(value, grad, buf, lr, momentum, dampening, weight_decay, nesterov, maximize) -> (value, buf)
    relu_forward(x) -> max(x, 0);  relu_backward(grad, out) -> grad * (out > 0)
    gelu_tanh_forward(x) -> (out, tanh(u));  gelu_tanh_backward(x, t, grad) -> dx
    scatter_add_rows(indices, rows, num_rows) -> out with out[indices[i]] += rows[i]
    layer_norm_forward(x, weight, bias, eps) -> (out, xhat, rstd)   (rows of a matrix)
    layer_norm_backward(grad, xhat, rstd, weight) -> (dx, dweight, dbias)
    attention_softmax_forward(scores, bias, scale, causal=False, out=None) -> probs
    attention_softmax_backward(probs, dprobs, causal=False, out=None, scale=1.0) -> dscores
    rnn_forward(gx, h0, w_hh, nonlinearity) -> hs
    rnn_backward(dhs, h0, w_hh, hs, nonlinearity) -> (dgx, dh0, dw_hh)
    lstm_forward(gx, h0, c0, w_hh) -> (hs, cs, acts, tcs)
    lstm_backward(dhs, dc_last, h0, c0, w_hh, hs, cs, acts, tcs) -> (dgx, dh0, dc0, dw_hh)
    gru_forward(gx, h0, w_hh, b_hh) -> (hs, acts, hns)
    gru_backward(dhs, h0, w_hh, hs, acts, hns) -> (dgx, dh0, dw_hh, db_hh)
    max_pool2d_forward(x, kh, kw, sh, sw, ph, pw, dh, dw) -> (out, flat indices)
    max_pool2d_backward(grad_out, indices, H, W) -> dx
    max_pool2d_2x2_forward(x) -> (out, uint8 codes 2*row+col)  (stride 2, no padding)
    max_pool2d_2x2_backward(grad_out, codes, H, W) -> dx
    avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw, count_include_pad) -> out
    avg_pool2d_backward(grad_out, H, W, kh, kw, sh, sw, ph, pw, count_include_pad) -> dx
"""
import importlib
import os
import warnings

BACKENDS = ("cython", "numba", "reference")

# kernel -> {backend: "module:function"}, in order of preference
_REGISTRY = {
    "im2col": {"cython": "minidl.kernels._im2col:im2col", "reference": "minidl.kernels.reference:im2col"},
    "col2im": {"cython": "minidl.kernels._im2col:col2im", "reference": "minidl.kernels.reference:col2im"},
    **{
        name: {"cython": f"minidl.kernels._im2col:{name}", "reference": f"minidl.kernels.reference:{name}"}
        for name in ("gemm_rows_to_batch", "batch_to_gemm_rows")
    },
    **{
        name: {"cython": f"minidl.kernels._pool:{name}", "reference": f"minidl.kernels.reference:{name}"}
        for name in (
            "max_pool2d_forward",
            "max_pool2d_backward",
            "max_pool2d_2x2_forward",
            "max_pool2d_2x2_backward",
            "avg_pool2d_forward",
            "avg_pool2d_backward",
        )
    },
    **{
        name: {"numba": f"minidl.kernels.numba.recurrent:{name}", "reference": f"minidl.kernels.reference:{name}"}
        for cell in ("rnn", "lstm", "gru")
        for name in (f"{cell}_forward", f"{cell}_backward")
    },
    **{
        name: {"numba": f"minidl.kernels.numba.attention:{name}", "reference": f"minidl.kernels.reference:{name}"}
        for name in ("attention_softmax_forward", "attention_softmax_backward")
    },
    "erf": {"numba": "minidl.kernels.numba.special:erf", "reference": "minidl.kernels.reference:erf"},
    "tanh": {"numba": "minidl.kernels.numba.special:tanh", "reference": "minidl.kernels.reference:tanh"},
    "exp": {"numba": "minidl.kernels.numba.special:exp", "reference": "minidl.kernels.reference:exp"},
    **{
        name: {"numba": f"minidl.kernels.numba.cross_entropy:{name}", "reference": f"minidl.kernels.reference:{name}"}
        for name in ("cross_entropy_forward", "cross_entropy_backward")
    },
    **{
        name: {"numba": f"minidl.kernels.numba.normalization:{name}", "reference": f"minidl.kernels.reference:{name}"}
        for name in ("layer_norm_forward", "layer_norm_backward")
    },
    **{
        name: {"numba": f"minidl.kernels.numba.activation:{name}", "reference": f"minidl.kernels.reference:{name}"}
        for name in ("relu_forward", "relu_backward", "gelu_tanh_forward", "gelu_tanh_backward")
    },
    "scatter_add_rows": {
        "numba": "minidl.kernels.numba.scatter:scatter_add_rows",
        "reference": "minidl.kernels.reference:scatter_add_rows",
    },
    **{
        name: {"numba": f"minidl.kernels.numba.optim:{name}", "reference": f"minidl.kernels.reference:{name}"}
        for name in ("adam_step", "sgd_step")
    },
}

_loaded = {}  # "module:function" -> callable, or the ImportError it raised
_warned = set()


def _load(target):
    if target not in _loaded:
        module_name, function_name = target.split(":")
        try:
            _loaded[target] = getattr(importlib.import_module(module_name), function_name)
        except ImportError as exc:
            _loaded[target] = exc
    return _loaded[target]


def implementations(name):
    """{backend: "module:function"} for one kernel."""
    try:
        return dict(_REGISTRY[name])
    except KeyError:
        raise KeyError(f"kernels: no kernel named {name!r}; known: {sorted(_REGISTRY)}") from None


def available(name):
    """Backends of `name` that load on this machine, fastest first."""
    return [b for b, target in implementations(name).items() if not isinstance(_load(target), Exception)]


_resolved = {}  # (name, forced backend, explicitly asked) -> function; ops call get() on every use


def _environment_reader(name):
    """A function returning $name or None, read afresh on every call. Ops call get() on every
    use, and os.environ.get takes ~1 us (it encodes the key and decodes the value), most of
    get()'s cost: this reads os.environ's own dict with the key encoded once (~40 ns),
    falling back to os.environ.get where that dict is not there."""
    data, encode, decode = (getattr(os.environ, attr, None) for attr in ("_data", "encodekey", "decodevalue"))
    if not (isinstance(data, dict) and callable(encode) and callable(decode)):
        return lambda: os.environ.get(name)
    key = encode(name)

    def read():
        raw = data.get(key)
        return None if raw is None else decode(raw)

    return read


_forced_backend = _environment_reader("MINIDL_KERNELS")


def get(name, backend=None):
    """The implementation of kernel `name`: `backend`, else $MINIDL_KERNELS, else the fastest that loads."""
    forced = backend or _forced_backend() or None
    key = (name, forced, backend is not None)
    fn = _resolved.get(key)
    if fn is None:
        fn = _resolved[key] = _resolve(name, backend, forced)
    return fn


def _resolve(name, backend, forced):
    impls = implementations(name)
    if forced is not None:
        if forced not in BACKENDS:
            raise ValueError(f"kernels: unknown backend {forced!r}; choose one of {BACKENDS}")
        if forced in impls:
            fn = _load(impls[forced])
            if isinstance(fn, Exception):
                if backend is not None:  # asked for explicitly: do not hide the failure
                    raise ImportError(f"kernels: {name} has no working {forced} backend: {fn}") from fn
            else:
                return fn
    for b, target in impls.items():
        fn = _load(target)
        if not isinstance(fn, Exception):
            return fn
        if b != "reference" and target not in _warned:
            _warned.add(target)
            warnings.warn(f"minidl: compiled kernel {target} unavailable ({fn}); using a slower fallback", stacklevel=2)
    raise ImportError(f"kernels: no implementation of {name} loads")
