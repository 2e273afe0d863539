"""One converter per primitive: the ONNX nodes that compute what the primitive computed.

A converter gets the graph, the primitive's node (ctx, with what its forward kept), the
input value names, the input arrays, the call's parameters and the output array(s), and
returns the output value name(s). Layer norm, attention and the rest keep their meaning;
only the recurrent primitives are missing here: the RNN layers are exported whole
(minidl/onnx/recurrent.py).
"""
import numpy as np

from .graph import DTYPES

CONVERTERS = {}


def converts(*names):
    def register(fn):
        for name in names:
            CONVERTERS[name] = fn
        return fn

    return register


def _same_op(op_type):
    return lambda g, ctx, ins, arrays, params, out: g.node(op_type, ins)


for _name, _onnx in {"Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div", "Pow": "Pow", "MatMul": "MatMul",
                     "Neg": "Neg", "Exp": "Exp", "Log": "Log", "Sqrt": "Sqrt", "Abs": "Abs", "Tanh": "Tanh",
                     "Sigmoid": "Sigmoid", "Relu": "Relu", "Erf": "Erf", "Clone": "Identity"}.items():
    CONVERTERS[_name] = _same_op(_onnx)


@converts("PowScalar")
def _pow_scalar(g, ctx, ins, arrays, params, out):
    return g.node("Pow", [ins[0], g.constant(params["exponent"], "exponent", arrays[0].dtype)])


@converts("GeluTanh")
def _gelu_tanh(g, ctx, ins, arrays, params, out):
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), spelled out (Gelu's tanh form needs opset 20)."""
    dtype = arrays[0].dtype
    x = ins[0]
    cube = g.node("Mul", [g.node("Mul", [x, x]), x])
    inner = g.node("Add", [x, g.node("Mul", [cube, g.constant(0.044715, "gelu_a", dtype)])])
    t = g.node("Tanh", [g.node("Mul", [inner, g.constant(np.sqrt(2 / np.pi), "gelu_c", dtype)])])
    half_x = g.node("Mul", [x, g.constant(0.5, "half", dtype)])
    return g.node("Mul", [half_x, g.node("Add", [t, g.constant(1.0, "one", dtype)])])


@converts("Clip")
def _clip(g, ctx, ins, arrays, params, out):
    dtype = arrays[0].dtype
    low, high = params.get("low"), params.get("high")
    bounds = [g.constant(v, "clip", dtype) if v is not None else "" for v in (low, high)]
    return g.node("Clip", [ins[0]] + bounds)


@converts("Where")
def _where(g, ctx, ins, arrays, params, out):
    return g.node("Where", [g.name(params["condition"])] + ins)


@converts("Cast")
def _cast(g, ctx, ins, arrays, params, out):
    return g.node("Cast", ins, to=DTYPES[np.dtype(params["dtype"])])


@converts("Sum", "Mean", "Max", "Min")
def _reduce(g, ctx, ins, arrays, params, out):
    axes, keep = list(params["axes"]), int(params["keepdims"])
    if not axes:
        return g.node("Identity", ins)
    op = {"Sum": "ReduceSum", "Mean": "ReduceMean", "Max": "ReduceMax", "Min": "ReduceMin"}[type(ctx).__name__]
    if op == "ReduceSum":  # axes became an input of ReduceSum at opset 13, of the others at 18
        return g.node(op, [ins[0], g.constant(axes, "axes", np.int64)], keepdims=keep)
    return g.node(op, ins, axes=axes, keepdims=keep)


@converts("Reshape")
def _reshape(g, ctx, ins, arrays, params, out):
    return g.node("Reshape", [ins[0], g.constant(g.reshape_target(arrays[0], out), "shape", np.int64)])


@converts("Permute")
def _permute(g, ctx, ins, arrays, params, out):
    return g.node("Transpose", ins, perm=list(params["dims"]))


@converts("Expand")
def _expand(g, ctx, ins, arrays, params, out):
    shape = [1 if axis in g.dynamic(out) else n for axis, n in enumerate(params["shape"])]
    return g.node("Expand", [ins[0], g.constant(shape, "shape", np.int64)])


@converts("Cat")
def _cat(g, ctx, ins, arrays, params, out):
    return g.node("Concat", ins, axis=params["axis"])


@converts("Unbind")
def _unbind(g, ctx, ins, arrays, params, out):
    dim, n = params["dim"], arrays[0].shape[params["dim"]]
    axes = g.constant([dim], "axes", np.int64)
    if n == 1:
        return [g.node("Squeeze", [ins[0], axes])]
    parts = g.node("Split", ins, n_outputs=n, axis=dim)
    return [g.node("Squeeze", [p, axes]) for p in parts]


@converts("EmbeddingLookup")
def _embedding(g, ctx, ins, arrays, params, out):
    return g.node("Gather", [ins[0], g.name(params["indices"])], axis=0)


@converts("TakeAlong")
def _take_along(g, ctx, ins, arrays, params, out):
    return g.node("GatherElements", [ins[0], g.name(params["indices"])], axis=params["axis"])


@converts("Pad")
def _pad(g, ctx, ins, arrays, params, out):
    mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}.get(params["mode"])
    if mode is None:
        raise NotImplementedError("Pad in 'circular' mode (ONNX's 'wrap' needs opset 19)")
    widths = params["widths"]
    pads = [b for b, _ in widths] + [a for _, a in widths]
    extra = [g.constant(params["value"], "pad_value", arrays[0].dtype)] if mode == "constant" else []
    return g.node("Pad", [ins[0], g.constant(pads, "pads", np.int64)] + extra, mode=mode)


@converts("Index")
def _index(g, ctx, ins, arrays, params, out):
    """Basic indexing (ints, slices, None, ...) as Slice, Squeeze and Unsqueeze; one integer
    array on one axis as Gather."""
    key = params["key"]
    items = list(key) if isinstance(key, tuple) else [key]
    arrays_in_key = [k for k in items if isinstance(k, (np.ndarray, list))]
    shape = arrays[0].shape
    if Ellipsis in items:
        at = items.index(Ellipsis)
        named = sum(1 for k in items if k is not None and k is not Ellipsis)
        items = items[:at] + [slice(None)] * (len(shape) - named) + items[at + 1:]
    if arrays_in_key:
        if len(arrays_in_key) != 1 or any(not (isinstance(k, slice) and k == slice(None)) for k in items
                                           if not isinstance(k, (np.ndarray, list))):
            raise NotImplementedError(f"Index with the key {key!r} (only basic indexing, or one integer array)")
        axis = next(i for i, k in enumerate(items) if isinstance(k, (np.ndarray, list)))
        indices = np.asarray(items[axis])
        if indices.dtype == np.bool_:
            raise NotImplementedError("Index with a boolean mask (its output size depends on the values)")
        return g.node("Gather", [ins[0], g.name(indices)], axis=axis)
    twin = g.twin["key"] if g.twin is not None else key
    twin_items = list(twin) if isinstance(twin, tuple) else [twin]
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    axis, out_axis = 0, 0
    for position, k in enumerate(items):
        if k is None:
            unsqueeze.append(out_axis)
            out_axis += 1
            continue
        if isinstance(k, (int, np.integer)):
            k = int(k) % shape[axis]
            starts.append(k), ends.append(k + 1), axes.append(axis), steps.append(1)
            squeeze.append(axis)
        elif k != slice(None):
            start, stop, step = k.indices(shape[axis])
            if step < 0 and stop < 0:
                stop = -(2**62)  # to the front, past index 0 (ONNX clamps)
            other = twin_items[position] if position < len(twin_items) else k
            if isinstance(other, slice) and other.stop != k.stop and k.stop is not None:
                # a slice whose end followed the input's size (x[:, :T] with T = len(ids)): read it from the input
                stop = g.size_value(k.stop, other.stop) or stop
            starts.append(start), ends.append(stop), axes.append(axis), steps.append(step)
            out_axis += 1
        else:
            out_axis += 1
        axis += 1
    value = ins[0]
    if axes:
        if any(isinstance(e, str) for e in ends):  # some ends are values of the graph
            ends = g.node("Concat", [e if isinstance(e, str) else g.constant([e], "end", np.int64) for e in ends], axis=0)
        else:
            ends = g.constant(ends, "ends", np.int64)
        value = g.node("Slice", [value, g.constant(starts, "starts", np.int64), ends,
                                 g.constant(axes, "axes", np.int64), g.constant(steps, "steps", np.int64)])
    if squeeze:
        value = g.node("Squeeze", [value, g.constant(squeeze, "axes", np.int64)])
    if unsqueeze:
        value = g.node("Unsqueeze", [value, g.constant(unsqueeze, "axes", np.int64)])
    return value if value is not ins[0] else g.node("Identity", ins)


@converts("Linear")
def _linear(g, ctx, ins, arrays, params, out):
    if arrays[0].ndim == 2:
        return g.node("Gemm", ins, transB=1)
    product = g.node("MatMul", [ins[0], g.node("Transpose", [ins[1]], perm=[1, 0])])
    return g.node("Add", [product, ins[2]]) if len(ins) > 2 else product


def _window_attributes(window):
    return dict(kernel_shape=[window.kh, window.kw], strides=[window.sh, window.sw],
                pads=[window.ph, window.pw, window.ph, window.pw], dilations=[window.dh, window.dw])


@converts("Conv2d")
def _conv(g, ctx, ins, arrays, params, out):
    return g.node("Conv", ins, group=params["groups"], **_window_attributes(params["window"]))


@converts("ConvTranspose2d")
def _conv_transpose(g, ctx, ins, arrays, params, out):
    w, (h, wd) = params["window"], arrays[0].shape[2:]
    extra = [w.h - ((h - 1) * w.sh - 2 * w.ph + w.dh * (w.kh - 1) + 1), w.w - ((wd - 1) * w.sw - 2 * w.pw + w.dw * (w.kw - 1) + 1)]
    return g.node("ConvTranspose", ins, group=params["groups"], output_padding=extra, **_window_attributes(w))


@converts("MaxPool2d")
def _max_pool(g, ctx, ins, arrays, params, out):
    if params.get("with_indices"):
        raise NotImplementedError("MaxPool2d with return_indices (ONNX's indices count across the batch and channels)")
    return g.node("MaxPool", ins, **_window_attributes(params["window"]))


@converts("AvgPool2d")
def _avg_pool(g, ctx, ins, arrays, params, out):
    attributes = _window_attributes(params["window"])
    if attributes.pop("dilations") != [1, 1]:
        raise NotImplementedError("AvgPool2d with dilation")
    return g.node("AveragePool", ins, count_include_pad=int(params["count_include_pad"]), **attributes)


@converts("LayerNorm")
def _layer_norm(g, ctx, ins, arrays, params, out):
    x, dims = arrays[0], params["normalized_dims"]
    shape = x.shape[x.ndim - dims:]
    scale = ins[1] if params["has_weight"] else g.constant(np.ones(shape, x.dtype), "ln_scale")
    bias = ins[-1] if params["has_bias"] else g.constant(np.zeros(shape, x.dtype), "ln_bias")
    return g.node("LayerNormalization", [ins[0], scale, bias], axis=-dims, epsilon=params["eps"])


@converts("ScaledDotProductAttention")
def _attention(g, ctx, ins, arrays, params, out):
    """softmax(q k^T * scale + bias) v, with the causal rule as a lower-triangular selection
    built from the scores' own shape (so it holds for any length)."""
    q = arrays[0]
    dtype = q.dtype
    k_t = g.node("Transpose", [ins[1]], perm=list(range(q.ndim - 2)) + [q.ndim - 1, q.ndim - 2])
    scores = g.node("Mul", [g.node("MatMul", [ins[0], k_t]), g.constant(params["scale"], "scale", dtype)])
    if params["bias"] is not None:
        lead, lq, lk = q.shape[:-2], q.shape[-2], arrays[1].shape[-2]
        bias = params["bias"]
        bias = bias.reshape(lq, lk) if bias.shape[0] == 1 else bias.reshape(lead + (lq, lk))
        scores = g.node("Add", [scores, g.name(bias) if g.known(params["bias"]) else g.constant(bias, "mask")])
    if params["causal"]:
        ones = g.node("ConstantOfShape", [g.node("Shape", [scores])],
                      value=g.onnx.numpy_helper.from_array(np.ones(1, np.int64)))
        below = g.node("Cast", [g.node("Trilu", [ones], upper=0)], to=DTYPES[np.dtype(np.bool_)])
        scores = g.node("Where", [below, scores, g.constant(-np.inf, "minus_inf", dtype)])
    probs = g.node("Softmax", [scores], axis=-1)
    result = g.node("MatMul", [probs, ins[2]])
    return [result, probs] if params["return_weights"] else result
