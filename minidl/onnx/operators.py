"""ONNX operators as minidl ops: each takes the node's input Tensors (None for an empty
name) and its attributes, and returns its outputs. Shape arithmetic (Shape, Gather of a
shape, Concat of sizes) runs on small int64 tensors like any other value, so graphs that
PyTorch exports with dynamic sizes run as they are. Float work goes through minidl's
primitives, so gradients flow through a loaded model too.
"""
import numpy as np

from .. import functional as F
from ..tensor import Tensor, cat, where
from .graph import DTYPES

OPERATORS = {}
_NUMPY_DTYPES = {code: dtype for dtype, code in DTYPES.items()}


def operator(*names):
    def register(fn):
        for name in names:
            OPERATORS[name] = fn
        return fn

    return register


def _ints(t):
    return [int(v) for v in np.asarray(t.data).reshape(-1)]


def _axis(axis, ndim):
    return axis + ndim if axis < 0 else axis


for _name, _fn in {"Add": lambda a, b: a + b, "Sub": lambda a, b: a - b, "Mul": lambda a, b: a * b,
                   "Pow": lambda a, b: a ** b, "MatMul": lambda a, b: a @ b}.items():
    OPERATORS[_name] = (lambda fn: lambda ins, at: fn(*ins))(_fn)

for _name, _fn in {"Neg": lambda x: -x, "Exp": lambda x: x.exp(), "Log": lambda x: x.log(), "Sqrt": lambda x: x.sqrt(),
                   "Abs": lambda x: x.abs(), "Tanh": lambda x: x.tanh(), "Sigmoid": lambda x: x.sigmoid(),
                   "Relu": F.relu, "Erf": lambda x: x.erf(), "Identity": lambda x: x}.items():
    OPERATORS[_name] = (lambda fn: lambda ins, at: fn(ins[0]))(_fn)


@operator("Div")
def _div(ins, at):
    a, b = ins
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":  # sizes: integer division, as ONNX
        return Tensor._wrap(a.data // b.data)
    return a / b


@operator("Dropout")
def _dropout(ins, at):
    return ins[0]  # inference


@operator("Constant")
def _constant(ins, at):
    from onnx import numpy_helper

    if "value" in at:
        return Tensor._wrap(numpy_helper.to_array(at["value"]).copy())
    for key, dtype in (("value_float", np.float32), ("value_int", np.int64)):
        if key in at:
            return Tensor._wrap(np.asarray(at[key], dtype=dtype))
    for key, dtype in (("value_floats", np.float32), ("value_ints", np.int64)):
        if key in at:
            return Tensor._wrap(np.asarray(at[key], dtype=dtype))
    raise NotImplementedError(f"Constant with attributes {sorted(at)}")


@operator("ConstantOfShape")
def _constant_of_shape(ins, at):
    from onnx import numpy_helper

    value = numpy_helper.to_array(at["value"]) if "value" in at else np.zeros(1, np.float32)
    return Tensor._wrap(np.full(_ints(ins[0]), value.reshape(-1)[0], dtype=value.dtype))


@operator("Shape")
def _shape(ins, at):
    shape = np.asarray(ins[0].shape, dtype=np.int64)
    return Tensor._wrap(shape[at.get("start", 0):at.get("end", len(shape))])


@operator("Cast")
def _cast(ins, at):
    return ins[0].to(_NUMPY_DTYPES[at["to"]])


@operator("Gather")
def _gather(ins, at):
    x, indices = ins
    axis = _axis(at.get("axis", 0), x.ndim)
    idx = np.asarray(indices.data).astype(np.int64)
    idx = np.where(idx < 0, idx + x.shape[axis], idx)
    if axis == 0 and x.ndim == 2 and x.dtype.kind == "f":
        return F.embedding(idx, x)  # an embedding table: one gather, gradient as Embedding's
    return x[(slice(None),) * axis + (idx,)]


@operator("GatherElements")
def _gather_elements(ins, at):
    from .. import ops

    x, indices = ins
    return ops.TakeAlong.apply(x, indices=np.asarray(indices.data), axis=_axis(at.get("axis", 0), x.ndim))


@operator("Unsqueeze")
def _unsqueeze(ins, at):
    x = ins[0]
    axes = sorted(_axis(a, x.ndim + len(_ints(ins[1]))) for a in _ints(ins[1]))
    for a in axes:
        x = x.unsqueeze(a)
    return x


@operator("Squeeze")
def _squeeze(ins, at):
    x = ins[0]
    return x.squeeze() if len(ins) < 2 or ins[1] is None else x.squeeze(tuple(_ints(ins[1])))


@operator("Concat")
def _concat(ins, at):
    tensors = [t for t in ins if t is not None]
    return cat(tensors, dim=_axis(at["axis"], tensors[0].ndim))


@operator("Reshape")
def _reshape(ins, at):
    x, shape = ins[0], _ints(ins[1])
    target = [x.shape[i] if n == 0 and not at.get("allowzero") else n for i, n in enumerate(shape)]
    return x.reshape(target)


@operator("Flatten")
def _flatten(ins, at):
    x = ins[0]
    axis = _axis(at.get("axis", 1), x.ndim)
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


@operator("Transpose")
def _transpose(ins, at):
    x = ins[0]
    return x.permute(*at.get("perm", list(reversed(range(x.ndim)))))


@operator("Expand")
def _expand(ins, at):
    x, shape = ins[0], _ints(ins[1])
    target = np.broadcast_shapes(x.shape, tuple(shape))
    return x.expand(target) if target != x.shape else x


@operator("Slice")
def _slice(ins, at):
    x = ins[0]
    starts, ends = _ints(ins[1]), _ints(ins[2])
    axes = _ints(ins[3]) if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
    steps = _ints(ins[4]) if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    key = [slice(None)] * x.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        key[_axis(axis, x.ndim)] = slice(start, None if (step < 0 and end < -x.shape[_axis(axis, x.ndim)]) else end, step)
    return x[tuple(key)]


@operator("Split")
def _split(ins, at):
    x = ins[0]
    axis = _axis(at.get("axis", 0), x.ndim)
    if len(ins) > 1 and ins[1] is not None:
        sizes = _ints(ins[1])
    elif "split" in at:
        sizes = list(at["split"])
    else:
        n = at["num_outputs"] if "num_outputs" in at else at["_outputs"]
        sizes = [-(-x.shape[axis] // n)] * (n - 1)
        sizes.append(x.shape[axis] - sum(sizes))
    bounds = np.cumsum([0] + sizes)
    return [x[(slice(None),) * axis + (slice(int(a), int(b)),)] for a, b in zip(bounds[:-1], bounds[1:])]


@operator("Where")
def _where(ins, at):
    return where(ins[0], ins[1], ins[2])


for _name, _fn in {"Equal": np.equal, "Less": np.less, "Greater": np.greater, "LessOrEqual": np.less_equal,
                   "GreaterOrEqual": np.greater_equal}.items():
    OPERATORS[_name] = (lambda fn: lambda ins, at: Tensor._wrap(fn(ins[0].data, ins[1].data)))(_fn)
OPERATORS["Not"] = lambda ins, at: Tensor._wrap(np.logical_not(ins[0].data))


@operator("Clip")
def _clip(ins, at):
    low = ins[1] if len(ins) > 1 and ins[1] is not None else at.get("min")
    high = ins[2] if len(ins) > 2 and ins[2] is not None else at.get("max")
    low = None if low is None else float(low.data) if isinstance(low, Tensor) else low
    high = None if high is None else float(high.data) if isinstance(high, Tensor) else high
    return ins[0].clamp(low, high)


@operator("LeakyRelu")
def _leaky_relu(ins, at):
    return F.leaky_relu(ins[0], at.get("alpha", 0.01))


@operator("Elu")
def _elu(ins, at):
    return F.elu(ins[0], at.get("alpha", 1.0))


@operator("Gelu")
def _gelu(ins, at):
    return F.gelu(ins[0], approximate=at.get("approximate", "none"))


@operator("Softmax", "LogSoftmax")
def _softmax(ins, at):
    x = ins[0]
    axis = at.get("axis", -1)
    return x.softmax(axis) if at["_op"] == "Softmax" else x.log_softmax(axis)


@operator("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin")
def _reduce(ins, at):
    x = ins[0]
    axes = _ints(ins[1]) if len(ins) > 1 and ins[1] is not None else at.get("axes")
    if axes is None or len(axes) == 0:
        if at.get("noop_with_empty_axes"):
            return x
        axes = list(range(x.ndim))
    dims = tuple(_axis(a, x.ndim) for a in axes)
    keep = bool(at.get("keepdims", 1))
    method = {"ReduceMean": "mean", "ReduceSum": "sum", "ReduceMax": "amax", "ReduceMin": "amin"}[at["_op"]]
    return getattr(x, method)(dim=dims, keepdim=keep)


@operator("Gemm")
def _gemm(ins, at):
    a, b = ins[0], ins[1]
    a = a.t() if at.get("transA") else a
    if at.get("transB") and at.get("alpha", 1.0) == 1.0 and len(ins) > 2 and ins[2] is not None and ins[2].ndim == 1 \
            and at.get("beta", 1.0) == 1.0:
        return F.linear(a, b, ins[2])  # the fused Linear primitive
    b = b.t() if at.get("transB") else b
    out = a @ b
    if at.get("alpha", 1.0) != 1.0:
        out = out * at["alpha"]
    if len(ins) > 2 and ins[2] is not None:
        out = out + (ins[2] * at["beta"] if at.get("beta", 1.0) != 1.0 else ins[2])
    return out


def _pads(at, dims=2):
    pads = at.get("pads", [0] * 2 * dims)
    if at.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise NotImplementedError(f"auto_pad={at['auto_pad']}")
    begin, end = pads[:dims], pads[dims:]
    return begin, end


def _symmetric(op, begin, end):
    if list(begin) != list(end):
        raise NotImplementedError(f"{op} with asymmetric pads {begin + end}")
    return tuple(begin)


@operator("Conv")
def _conv(ins, at):
    x, w = ins[0], ins[1]
    bias = ins[2] if len(ins) > 2 else None
    begin, end = _pads(at, w.ndim - 2)
    if w.ndim == 3:
        return F.conv1d(x, w, bias, at.get("strides", [1])[0], _symmetric("Conv", begin, end)[0],
                        at.get("dilations", [1])[0], at.get("group", 1))
    return F.conv2d(x, w, bias, tuple(at.get("strides", [1, 1])), _symmetric("Conv", begin, end),
                    tuple(at.get("dilations", [1, 1])), at.get("group", 1))


@operator("ConvTranspose")
def _conv_transpose(ins, at):
    x, w = ins[0], ins[1]
    bias = ins[2] if len(ins) > 2 else None
    begin, end = _pads(at)
    return F.conv_transpose2d(x, w, bias, tuple(at.get("strides", [1, 1])), _symmetric("ConvTranspose", begin, end),
                              tuple(at.get("output_padding", [0, 0])), at.get("group", 1), tuple(at.get("dilations", [1, 1])))


@operator("MaxPool", "AveragePool")
def _pool(ins, at):
    x = ins[0]
    if len(at.get("kernel_shape", [])) != 2:
        raise NotImplementedError(f"{at['_op']} over {len(at.get('kernel_shape', []))} dims")
    begin, end = _pads(at)
    padding = _symmetric(at["_op"], begin, end)
    strides = tuple(at.get("strides", [1, 1]))
    if at["_op"] == "MaxPool":
        return F.max_pool2d(x, tuple(at["kernel_shape"]), strides, padding, tuple(at.get("dilations", [1, 1])),
                            ceil_mode=bool(at.get("ceil_mode", 0)))
    if at.get("ceil_mode", 0):
        raise NotImplementedError("AveragePool with ceil_mode")
    return F.avg_pool2d(x, tuple(at["kernel_shape"]), strides, padding, bool(at.get("count_include_pad", 0)))


@operator("GlobalAveragePool")
def _global_average_pool(ins, at):
    x = ins[0]
    return x.mean(dim=tuple(range(2, x.ndim)), keepdim=True)


@operator("BatchNormalization")
def _batch_norm(ins, at):
    x, scale, bias, mean, var = ins[:5]
    return F.batch_norm(x, mean, var, scale, bias, training=False, eps=at.get("epsilon", 1e-5))


@operator("LayerNormalization")
def _layer_norm(ins, at):
    x = ins[0]
    axis = _axis(at.get("axis", -1), x.ndim)
    return F.layer_norm(x, x.shape[axis:], ins[1], ins[2] if len(ins) > 2 else None, at.get("epsilon", 1e-5))


@operator("Pad")
def _pad(ins, at):
    x = ins[0]
    pads = _ints(ins[1])
    if len(ins) > 3 and ins[3] is not None:
        raise NotImplementedError("Pad with axes")
    value = float(ins[2].data) if len(ins) > 2 and ins[2] is not None else 0.0
    n = x.ndim
    torch_style = []
    for axis in reversed(range(n)):
        torch_style += [pads[axis], pads[axis + n]]
    mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}[at.get("mode", "constant")]
    return F.pad(x, torch_style, mode=mode, value=value if mode == "constant" else None)


@operator("Trilu")
def _trilu(ins, at):
    x = ins[0]
    k = int(ins[1].data) if len(ins) > 1 and ins[1] is not None else 0
    rows, cols = x.shape[-2:]
    keep = np.triu(np.ones((rows, cols), bool), k) if at.get("upper", 1) else np.tril(np.ones((rows, cols), bool), k)
    return where(keep, x, x * 0) if x.dtype.kind == "f" else Tensor._wrap(np.where(keep, x.data, 0))


@operator("Range")
def _range(ins, at):
    start, limit, delta = (np.asarray(t.data).reshape(()) for t in ins)
    return Tensor._wrap(np.arange(start, limit, delta, dtype=np.result_type(start, limit, delta)))


@operator("Mod")
def _mod(ins, at):
    fn = np.fmod if at.get("fmod", 0) else np.mod
    return Tensor._wrap(fn(ins[0].data, ins[1].data))


@operator("Max", "Min")
def _max_min(ins, at):
    out = ins[0]
    for other in ins[1:]:
        pick = (out.data >= other.data) if at["_op"] == "Max" else (out.data <= other.data)
        out = where(pick, out, other)
    return out
